"""Memory layouts and call forms: non-contiguous, negative-stride, read-only and
list inputs, unbatched input, out=, and the conv2d doctest."""
import doctest

import numpy as np
import pytest

import fastconv
import fastconv.conv
from conftest import algorithm_factor, refuses, winograd_applies
from reference import conv_nd_reference

CONV = {1: fastconv.conv1d, 2: fastconv.conv2d, 3: fastconv.conv3d}
DTYPES = (np.float32, np.float64)
KW = dict(stride=(2, 1), padding=((1, 0), (2, 1)), dilation=(1, 2), groups=2,
          padding_mode="reflect")


def _refuses_kw(algorithm):
    """KW's (3, 2) kernel with stride (2, 1): 'winograd' must refuse it."""
    x, w, b = _inputs(np.random.default_rng(0), np.float64)
    return refuses(algorithm, False, lambda: fastconv.conv2d(x, w, b, **KW, algorithm=algorithm))


def _reference2d(x, w, b):
    return conv_nd_reference(x, w, b, (2, 1), ((1, 0), (2, 1)), (1, 2), 2, "reflect")


def _inputs(rng, dtype):
    x = rng.uniform(-1, 1, (2, 4, 7, 9)).astype(dtype)
    w = rng.uniform(-1, 1, (6, 2, 3, 2)).astype(dtype)
    b = rng.uniform(-1, 1, 6).astype(dtype)
    return x, w, b


def _views(a):
    """Non-C-contiguous views of array-like data equal to `a` (name, view)."""
    big = np.zeros(tuple(2 * s + 1 for s in a.shape), a.dtype)
    strided = big[tuple(slice(1, None, 2) for _ in a.shape)]
    strided[...] = a
    rev = np.ascontiguousarray(a[..., ::-1])[..., ::-1]          # negative last stride
    allrev = np.ascontiguousarray(a[tuple(slice(None, None, -1) for _ in a.shape)])[
        tuple(slice(None, None, -1) for _ in a.shape)]             # every stride negative
    fortran = np.asfortranarray(a)
    transposed = np.ascontiguousarray(np.swapaxes(a, -1, -2)).swapaxes(-1, -2)
    views = [("step_slices", strided), ("negative_last_stride", rev),
             ("all_negative", allrev), ("fortran", fortran), ("transposed", transposed)]
    if a.ndim == 4:
        # channel-last storage viewed channel-first, as from an NHWC buffer
        views.append(("nhwc", np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)))
    for name, v in views:
        assert np.array_equal(v, a)
    return views




@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("which", ["x", "weight", "bias", "all"])
def test_non_contiguous_inputs(which, dtype, algorithm, rng, check):
    if _refuses_kw(algorithm):
        return
    x, w, b = _inputs(rng, dtype)
    expected = _reference2d(x, w, b)
    contiguous = fastconv.conv2d(x, w, b, **KW, algorithm=algorithm)
    check(contiguous, expected, dtype, w.shape)
    xs = _views(x) if which in ("x", "all") else [("c", x)] * 6
    ws = _views(w) if which in ("weight", "all") else [("c", w)] * 6
    bs = [("step", np.repeat(b, 3)[::3]), ("neg", b[::-1].copy()[::-1])] * 3 \
        if which in ("bias", "all") else [("c", b)] * 6
    for (xn, xv), (wn, wv), (bn, bv) in zip(xs, ws, bs):
        assert not (xv.flags.c_contiguous and wv.flags.c_contiguous and bv.flags.c_contiguous)
        before = (xv.copy(), wv.copy(), bv.copy())
        got = fastconv.conv2d(xv, wv, bv, **KW, algorithm=algorithm)
        check(got, expected, dtype, w.shape, params=f"x={xn} weight={wn} bias={bn}")
        # same numbers as the contiguous call, bit for bit
        assert np.array_equal(got, contiguous), f"x={xn} weight={wn} bias={bn}"
        # inputs untouched
        for orig, v in zip(before, (xv, wv, bv)):
            assert np.array_equal(orig, v)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_non_contiguous_1d_3d(nd, algorithm, rng, check):
    x = rng.uniform(-1, 1, (2, 3) + (6,) * nd)
    w = rng.uniform(-1, 1, (4, 3) + (3,) * nd)
    expected = conv_nd_reference(x, w, None, (1,) * nd, ((1, 1),) * nd, (1,) * nd, 1,
                                 "circular")
    if refuses(algorithm, winograd_applies(w.shape[2:]),
               lambda: CONV[nd](x, w, padding=1, algorithm=algorithm)):
        return
    for name, xv in _views(x):
        got = CONV[nd](xv, w[..., ::-1].copy()[..., ::-1], padding=1, padding_mode="circular",
                       algorithm=algorithm)
        check(got, expected, np.float64, w.shape, params=f"nd={nd} x={name}",
              factor=algorithm_factor(algorithm))


def test_broadcast_zero_stride_input(algorithm, rng, check):
    """A zero-stride (np.broadcast_to) input is read correctly."""
    row = rng.uniform(-1, 1, (1, 1, 1, 9))
    x = np.broadcast_to(row, (2, 2, 5, 9))
    w = rng.uniform(-1, 1, (3, 2, 2, 3))
    if refuses(algorithm, False, lambda: fastconv.conv2d(x, w, padding=1, algorithm=algorithm)):
        return
    got = fastconv.conv2d(x, w, padding=1, algorithm=algorithm)
    expected = conv_nd_reference(np.array(x), w, None, (1, 1), ((1, 1), (1, 1)), (1, 1), 1,
                                 "zeros")
    check(got, expected, np.float64, w.shape)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_read_only_inputs(dtype, algorithm, rng, check):
    if _refuses_kw(algorithm):
        return
    x, w, b = _inputs(rng, dtype)
    expected = _reference2d(x, w, b)
    for arr in (x, w, b):
        arr.flags.writeable = False
    got = fastconv.conv2d(x, w, b, **KW, algorithm=algorithm)
    check(got, expected, dtype, w.shape)
    assert got.flags.writeable
    # read-only and non-contiguous together
    xv = x[:, :, ::-1][:, :, ::-1]
    assert not xv.flags.writeable
    got = fastconv.conv2d(xv, w, b, **KW, algorithm=algorithm)
    check(got, expected, dtype, w.shape)


def test_python_lists(algorithm, rng, check):
    if _refuses_kw(algorithm):
        return
    x, w, b = _inputs(rng, np.float64)
    got = fastconv.conv2d(x.tolist(), w.tolist(), b.tolist(), **KW, algorithm=algorithm)
    check(got, _reference2d(x, w, b), np.float64, w.shape)
    # a tuple/list mix, unbatched, 1-D
    got = fastconv.conv1d(([1.0, 2.0, 3.0],), [[[1.0, -1.0]]], (0.5,), algorithm=algorithm)
    np.testing.assert_array_equal(got, [[-0.5, -0.5]])


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_unbatched(nd, algorithm, rng, check):
    x = rng.uniform(-1, 1, (4,) + (5,) * nd).astype(np.float32)
    w = rng.uniform(-1, 1, (6, 2) + (3,) * nd).astype(np.float32)
    b = rng.uniform(-1, 1, 6).astype(np.float32)
    kw = dict(stride=2, padding=1, groups=2, padding_mode="replicate", algorithm=algorithm)
    if refuses(algorithm, False, lambda: CONV[nd](x, w, b, **kw)):
        return
    got = CONV[nd](x, w, b, **kw)
    batched = CONV[nd](x[None], w, b, **kw)
    assert got.shape == batched.shape[1:]
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, batched[0])
    expected = conv_nd_reference(x[None], w, b, (2,) * nd, ((1, 1),) * nd, (1,) * nd, 2,
                                 "replicate")[0]
    check(got, expected, np.float32, w.shape)


# ---------------------------------------------------------------------- out= ----
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_out_is_filled_and_returned(dtype, algorithm, rng, check):
    if _refuses_kw(algorithm):
        return
    x, w, b = _inputs(rng, dtype)
    expected = _reference2d(x, w, b)
    out = np.full(expected.shape, np.nan, dtype)
    res = fastconv.conv2d(x, w, b, **KW, algorithm=algorithm, out=out)
    assert res is out
    check(out, expected, dtype, w.shape)
    # every element written, also when bias is None (no stale values)
    out[...] = 1e30
    res = fastconv.conv2d(x, w, None, **KW, algorithm=algorithm, out=out)
    assert res is out
    check(out, _reference2d(x, w, None), dtype, w.shape)


def test_out_unbatched_and_mixed_dtype(algorithm, rng, check):
    x = rng.uniform(-1, 1, (3, 6, 6)).astype(np.float32)
    w = rng.uniform(-1, 1, (2, 3, 3, 3))                      # float64: result is float64
    out = np.empty((2, 4, 4), np.float64)
    assert fastconv.conv2d(x, w, out=out, algorithm=algorithm) is out
    check(out, conv_nd_reference(x[None], w, None, (1, 1), ((0, 0), (0, 0)), (1, 1), 1,
                                 "zeros")[0], np.float64, w.shape,
          factor=algorithm_factor(algorithm))
    with pytest.raises(TypeError, match="out"):
        fastconv.conv2d(x, w, out=np.empty((2, 4, 4), np.float32), algorithm=algorithm)


def test_out_empty_batch(algorithm):
    x = np.zeros((0, 2, 5, 5), np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    out = np.empty((0, 3, 3, 3), np.float32)
    assert fastconv.conv2d(x, w, out=out, algorithm=algorithm) is out
    res = fastconv.conv2d(x, w, algorithm=algorithm)
    assert res.shape == (0, 3, 3, 3) and res.dtype == np.float32


def _bad_outs():
    x = np.zeros((1, 2, 5, 5))
    w = np.zeros((3, 2, 3, 3))
    shape = (1, 3, 3, 3)
    ro = np.zeros(shape)
    ro.flags.writeable = False
    # x and out sharing memory: a 1x1 conv with as many outputs as inputs, out = x
    x_same = np.zeros((1, 2, 4, 4))
    w_1x1 = np.zeros((2, 2, 1, 1))
    # weight and out in one buffer
    buf = np.zeros(2 * 2 * 4 * 4 + 2 * 2)
    w_in_buf = buf[:4].reshape(2, 2, 1, 1)
    out_over_w = buf[:32].reshape(1, 2, 4, 4)
    return [
        ("wrong_shape", x, w, np.zeros((1, 3, 3, 4)), ValueError, "out.*shape"),
        ("wrong_batch", x, w, np.zeros((2, 3, 3, 3)), ValueError, "out.*shape"),
        ("unbatched_shape_for_batched", x, w, np.zeros((3, 3, 3)), ValueError, "out.*shape"),
        ("wrong_dtype", x, w, np.zeros(shape, np.float32), TypeError, "out.*dtype"),
        ("int_dtype", x, w, np.zeros(shape, np.int64), TypeError, "out.*dtype"),
        ("non_contiguous", x, w, np.zeros((1, 3, 3, 6))[..., ::2], ValueError,
         "out.*contiguous"),
        ("fortran", x, w, np.asfortranarray(np.zeros(shape)), ValueError, "out.*contiguous"),
        ("read_only", x, w, ro, ValueError, "out.*writeable"),
        ("not_an_array", x, w, np.zeros(shape).tolist(), TypeError, "out"),
        ("is_x", x_same, w_1x1, x_same, ValueError, "out.*overlap.*x"),
        ("overlaps_weight", np.zeros((1, 2, 4, 4)), w_in_buf, out_over_w, ValueError,
         "out.*overlap.*weight"),
    ]


@pytest.mark.parametrize("name, x, w, out, exc, match", _bad_outs(),
                         ids=[c[0] for c in _bad_outs()])
def test_out_rejected(name, x, w, out, exc, match, algorithm):
    before = np.array(out, copy=True)
    with pytest.raises(exc, match=match):
        fastconv.conv2d(x, w, out=out, algorithm=algorithm)
    np.testing.assert_array_equal(np.asarray(out), before)      # untouched


def test_out_overlapping_x_view(algorithm):
    """out a view into the same buffer as x (not x itself) is refused too."""
    buf = np.zeros(2 * 2 * 4 * 4 * 2)
    x = buf[:32].reshape(1, 2, 4, 4)
    out = buf[16:48].reshape(1, 2, 4, 4)
    with pytest.raises(ValueError, match="out.*overlap.*x"):
        fastconv.conv2d(x, np.ones((2, 2, 1, 1)), out=out, algorithm=algorithm)


# ------------------------------------------------------------------ doctest ----
def test_conv2d_doctest():
    finder = doctest.DocTestFinder()
    tests = [t for t in finder.find(fastconv.conv) if t.examples]
    names = {t.name.rsplit(".", 1)[-1] for t in tests}
    assert "conv2d" in names, names
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, result
