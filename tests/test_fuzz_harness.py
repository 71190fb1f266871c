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
