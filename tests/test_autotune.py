"""fastconv.autotune: measures every algorithm on a call, records the fastest,
and algorithm='auto' then uses it for calls of that signature only."""
import threading

import numpy as np
import pytest

import fastconv
from fastconv import _select


@pytest.fixture(autouse=True)
def forget_choices():
    fastconv.clear_autotune()
    yield
    fastconv.clear_autotune()


def _arrays(rng, n=2, c=4, size=(9, 10), k=3):
    x = rng.standard_normal((n, c) + size)
    w = rng.standard_normal((5, c) + (k,) * len(size))
    return x, w


def _chosen(fn, *args, **kwargs):
    """The algorithm 'auto' resolves to for this call."""
    _select._local.probe = probe = []
    try:
        fn(*args, **kwargs)
    finally:
        _select._local.probe = None
    key = probe[-1]
    return _select._tuned.get(key) or _select.auto_algorithm(key[1])


def test_choice_is_the_fastest_measured_and_auto_uses_it(rng):
    x, w = _arrays(rng)
    result = fastconv.autotune(fastconv.conv2d, x, w, padding=1, repeat=3)
    assert set(result.times) == set(fastconv.ALGORITHMS)
    assert result.choice == min(result.times, key=result.times.get)
    assert result.op == "conv2d" and result.rule in fastconv.ALGORITHMS
    assert _chosen(fastconv.conv2d, x, w, padding=1) == result.choice
    assert fastconv.autotune_choices()[0][-1] == result.choice
    assert result.choice in str(result)


def test_forced_choice_is_used_and_result_is_unchanged(rng, monkeypatch):
    """Make one algorithm look fastest (a fake clock) and check that 'auto'
    dispatches to it and still computes the same convolution."""
    x, w = _arrays(rng)
    rule = _select.auto_algorithm(fastconv._validate.check_conv(
        "conv2d", 2, x, w, None, 1, 1, 1, 1, "zeros", None).spec)
    target = next(a for a in fastconv.ALGORITHMS if a != rule)
    clock = iter(range(10_000))
    current = {}
    real = fastconv.conv2d

    def spy(*args, algorithm="auto", **kwargs):
        current["alg"] = algorithm
        return real(*args, algorithm=algorithm, **kwargs)

    def fake_perf_counter():
        # every call but the target's takes 10 "seconds"
        tick = next(clock)
        return tick * (1 if current.get("alg") == target else 10)

    monkeypatch.setattr(fastconv._autotune.time, "perf_counter", fake_perf_counter)
    result = fastconv.autotune(spy, x, w, padding=1, repeat=3)
    assert result.choice == target
    assert _chosen(fastconv.conv2d, x, w, padding=1) == target
    np.testing.assert_allclose(fastconv.conv2d(x, w, padding=1),
                               fastconv.conv2d(x, w, padding=1, algorithm="direct"),
                               rtol=1e-12, atol=1e-12)


def test_choice_is_per_signature(rng):
    x, w = _arrays(rng)
    fastconv.autotune(fastconv.conv2d, x, w, padding=1, algorithms=("gemm",), repeat=1)
    assert _chosen(fastconv.conv2d, x, w, padding=1) == "gemm"
    # another batch size, padding, dtype, operation or thread count: the rule again
    others = [
        (fastconv.conv2d, (x[:1], w), dict(padding=1)),
        (fastconv.conv2d, (x, w), dict(padding=0)),
        (fastconv.conv2d, (x.astype(np.float32), w.astype(np.float32)), dict(padding=1)),
    ]
    for fn, args, kwargs in others:
        spec = fastconv._validate.check_conv("conv2d", 2, *args, None, 1, kwargs["padding"],
                                             1, 1, "zeros", None).spec
        assert _chosen(fn, *args, **kwargs) == _select.auto_algorithm(spec)
    g = np.ones((2, 5, 9, 10))
    assert _chosen(fastconv.conv2d_backward, g, x, w, padding=1) == _select.auto_algorithm(
        fastconv._validate.check_conv("conv2d", 2, x, w, None, 1, 1, 1, 1, "zeros",
                                      None).spec)
    threads = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(threads + 1)
        assert len(fastconv.autotune_choices()) == 1
        spec = fastconv._validate.check_conv("conv2d", 2, x, w, None, 1, 1, 1, 1, "zeros",
                                             None).spec
        assert _chosen(fastconv.conv2d, x, w, padding=1) == _select.auto_algorithm(spec)
    finally:
        fastconv.set_num_threads(None)


@pytest.mark.parametrize("fn, make", [
    (fastconv.conv1d_backward, lambda rng: (rng.standard_normal((2, 5, 7)),
                                            rng.standard_normal((2, 4, 9)),
                                            rng.standard_normal((5, 4, 3)))),
    (fastconv.conv_transpose3d, lambda rng: (rng.standard_normal((1, 4, 3, 4, 5)),
                                             rng.standard_normal((4, 2, 2, 2, 2)))),
])
def test_other_operations(fn, make, rng):
    args = make(rng)
    result = fastconv.autotune(fn, *args, repeat=1)
    assert result.op == fn.__name__
    assert _chosen(fn, *args) == result.choice


def test_clear(rng):
    x, w = _arrays(rng)
    fastconv.autotune(fastconv.conv2d, x, w, algorithms=["gemm"], repeat=1)
    fastconv.clear_autotune()
    assert fastconv.autotune_choices() == []


def test_bad_calls(rng):
    x, w = _arrays(rng)
    with pytest.raises(TypeError, match="algorithm="):
        fastconv.autotune(fastconv.conv2d, x, w, algorithm="direct")
    with pytest.raises(TypeError, match="max_pool2d has no algorithm choice"):
        fastconv.autotune(fastconv.max_pool2d, x, 2)
    with pytest.raises(ValueError, match="algorithms"):
        fastconv.autotune(fastconv.conv2d, x, w, algorithms=("fft",))
    with pytest.raises(ValueError, match="repeat"):
        fastconv.autotune(fastconv.conv2d, x, w, repeat=0)
    with pytest.raises(ValueError, match="weight"):   # the call's own validation
        fastconv.autotune(fastconv.conv2d, x, w[:, :2])
    assert fastconv.autotune_choices() == []


def test_probe_is_per_python_thread(rng):
    """A probe set in one thread (autotune running) is not filled by 'auto'
    calls of another thread."""
    x, w = _arrays(rng)
    _select._local.probe = probe = []
    try:
        t = threading.Thread(target=lambda: fastconv.conv2d(x, w))
        t.start()
        t.join()
    finally:
        _select._local.probe = None
    assert probe == []
