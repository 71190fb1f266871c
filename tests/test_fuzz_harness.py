"""The fuzzer's contract check (tools/fuzz.py), on stand-in functions."""
import importlib.util
import pathlib

import numpy as np
import pytest

FUZZ = pathlib.Path(__file__).resolve().parents[1] / "tools" / "fuzz.py"
pytestmark = pytest.mark.skipif(not FUZZ.exists(), reason="tools/fuzz.py is not in this tree")


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("fuzz", FUZZ)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_second_call_out_of_memory_counts_as_memory(fuzz):
    # Under the fuzzer's address-space cap the first result can take the room the
    # second call needs: that is the cap, not a contract violation.
    calls = []

    def pad(x):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("cannot allocate a result")
        return np.zeros_like(x)

    assert fuzz.call_and_check(pad, {"x": np.ones((1, 2, 3))}) == "memory"
    assert len(calls) == 2


def test_outcomes(fuzz):
    def pad(x):
        return np.zeros_like(x)

    def pad_rejects(x):
        raise ValueError("pad_rejects: x has shape (1, 2, 3)")

    assert fuzz.call_and_check(pad, {"x": np.ones((1, 2, 3))}) == "ok"
    assert fuzz.call_and_check(pad_rejects, {"x": np.ones((1, 2, 3))}) == "rejected"


def test_violations_are_caught(fuzz):
    rng = np.random.default_rng(0)

    def pad_unnamed(x):
        raise ValueError("x has the wrong shape")          # does not name the operation

    def pad_nondeterministic(x):
        return rng.standard_normal(x.shape)

    def pad_wrong_rank(x):
        return np.zeros(x.shape[:-1])

    for fn in (pad_unnamed, pad_nondeterministic, pad_wrong_rank):
        with pytest.raises(fuzz.ContractViolation):
            fuzz.call_and_check(fn, {"x": np.ones((1, 2, 3))})


def test_finite_check_reads_every_chunk(fuzz):
    a = np.zeros(2**20 * 3 + 5)
    assert fuzz._all_finite(a, chunk=2**20)
    for where in (0, 2**20, 2**20 * 3 + 4):
        a[where] = np.nan
        assert not fuzz._all_finite(a, chunk=2**20)
        a[where] = 0.0
    assert fuzz._all_finite(np.zeros((0, 3)))


def test_same_bits(fuzz):
    a = np.arange(3 * 2**20 + 7, dtype=np.float64)
    assert fuzz._same_bits(a, a.copy(), chunk=2**20)
    b = a.copy()
    b[-1] = np.nextafter(b[-1], np.inf)
    assert not fuzz._same_bits(a, b, chunk=2**20)
    assert not fuzz._same_bits(a, a.astype(np.float32), chunk=2**20)
    assert not fuzz._same_bits(a[:-1], a[1:], chunk=2**20)
    zero = np.zeros(4)
    assert not fuzz._same_bits(zero, -zero)            # -0.0 and 0.0 differ in bits
    assert fuzz._same_bits(np.full(3, np.nan), np.full(3, np.nan))
