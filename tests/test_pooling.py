"""Pooling forward and backward (max, avg, adaptive, global, spatial pyramid)
against the NumPy references in ref_pool.py over grids of options and both
dtypes, against PyTorch (values, indices, autograd gradients), by finite
differences and the adjoint identity, across thread counts and SIMD paths, and
with bad input."""
import contextlib
import functools
import threading
from dataclasses import dataclass

import numpy as np
import pytest

import fastconv
from fastconv import _config, _threads, analysis
from ref_pool import (adaptive_bins, adaptive_pool_backward_ref, adaptive_pool_ref,
                      avg_pool_backward_ref, avg_pool_ref, global_pool_backward_ref,
                      global_pool_ref, max_pool_backward_ref, max_pool_ref, pool_out_len,
                      pyramid_backward_ref, pyramid_ref)

DTYPES = (np.float32, np.float64)
DT_IDS = {np.float32: "float32", np.float64: "float64"}
MAX = {1: fastconv.max_pool1d, 2: fastconv.max_pool2d, 3: fastconv.max_pool3d}
MAX_BWD = {1: fastconv.max_pool1d_backward, 2: fastconv.max_pool2d_backward,
           3: fastconv.max_pool3d_backward}
AVG = {1: fastconv.avg_pool1d, 2: fastconv.avg_pool2d, 3: fastconv.avg_pool3d}
AVG_BWD = {1: fastconv.avg_pool1d_backward, 2: fastconv.avg_pool2d_backward,
           3: fastconv.avg_pool3d_backward}
ADAPTIVE = {("avg", 1): fastconv.adaptive_avg_pool1d, ("avg", 2): fastconv.adaptive_avg_pool2d,
            ("avg", 3): fastconv.adaptive_avg_pool3d, ("max", 1): fastconv.adaptive_max_pool1d,
            ("max", 2): fastconv.adaptive_max_pool2d, ("max", 3): fastconv.adaptive_max_pool3d}
ADAPTIVE_BWD = {("avg", 1): fastconv.adaptive_avg_pool1d_backward,
                ("avg", 2): fastconv.adaptive_avg_pool2d_backward,
                ("avg", 3): fastconv.adaptive_avg_pool3d_backward,
                ("max", 1): fastconv.adaptive_max_pool1d_backward,
                ("max", 2): fastconv.adaptive_max_pool2d_backward,
                ("max", 3): fastconv.adaptive_max_pool3d_backward}
GLOBAL = {"avg": fastconv.global_avg_pool, "max": fastconv.global_max_pool}
GLOBAL_BWD = {"avg": fastconv.global_avg_pool_backward, "max": fastconv.global_max_pool_backward}


def _fmt(v):
    return "x".join(map(str, v)) if isinstance(v, tuple) else str(v)


# ------------------------------------------------------------------ cases ----
@dataclass(frozen=True)
class Win:
    """A max/avg pooling call on x of shape (n, c, *size)."""
    size: tuple
    kernel: object
    stride: object = None
    padding: object = 0
    dilation: object = 1
    ceil_mode: bool = False
    n: int = 2
    c: int = 3

    @property
    def nd(self):
        return len(self.size)

    def axis(self, v):
        return (v,) * self.nd if isinstance(v, int) else tuple(v)

    @property
    def strides(self):
        return self.axis(self.kernel if self.stride is None else self.stride)

    @property
    def id(self):
        return (f"{self.nd}d-n{self.n}-in{_fmt(self.size)}-k{_fmt(self.kernel)}"
                f"-s{_fmt(self.stride)}-p{_fmt(self.padding)}-d{_fmt(self.dilation)}"
                f"{'-ceil' if self.ceil_mode else ''}")

    def x(self, rng, dtype):
        return rng.standard_normal((self.n, self.c) + self.size).astype(dtype)

    def max_kwargs(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    ceil_mode=self.ceil_mode)

    def avg_kwargs(self):
        return dict(stride=self.stride, padding=self.padding, ceil_mode=self.ceil_mode)

    def ref_args(self, dilation=True):
        return (self.axis(self.kernel), self.strides, self.axis(self.padding),
                self.axis(self.dilation) if dilation else (1,) * self.nd)


MAX_CASES = [
    Win((8, 8), 2),
    Win((9, 10), 3, 2, 1),                                   # ResNet stem shape
    Win((7, 8), 3, 1, 1),
    Win((9, 7), (3, 2), (2, 1), (1, 0)),
    Win((9, 9), 3, 1, 1, dilation=2),
    Win((10, 11), (3, 2), (1, 2), (1, 1), dilation=(2, 3)),
    Win((6, 6), 3, 2, 0, ceil_mode=True),                   # partial last window kept
    Win((5, 5), 2, 2, 1, ceil_mode=True),                   # last window dropped
    Win((9, 8), 3, 2, 1, dilation=2, ceil_mode=True),
    Win((8, 9), 2, 3),                                       # stride > kernel
    Win((4, 5), (4, 5)),                                     # kernel = input
    Win((5, 6), 1),
    Win((3, 67), (1, 3), 1, (0, 1), n=1, c=2),               # rows longer than a vector
    Win((3, 70), (2, 3), (1, 2), (1, 1), n=1, c=2),
    Win((6, 6), 2, n=0),
    Win((11,), 3, 2, 1),
    Win((12,), 4, 3, 2, dilation=2, ceil_mode=True),
    Win((40,), 5, 1, 2, n=1),
    Win((5, 6, 7), 2),
    Win((5, 6, 7), (3, 3, 2), (2, 1, 2), (1, 1, 1), dilation=(1, 2, 1), ceil_mode=True),
]
AVG_CASES = [
    Win((8, 8), 2),
    Win((9, 10), 3, 2, 1),
    Win((7, 8), 3, 1, 1),
    Win((9, 7), (3, 2), (2, 1), (1, 1)),
    Win((6, 7), 3, 2, 1, ceil_mode=True),                   # last window past padded end
    Win((5, 5), 2, 2, 1, ceil_mode=True),                   # last window dropped
    Win((8, 9), 2, 3),
    Win((4, 5), (4, 5), padding=(2, 1)),
    Win((3, 67), (1, 3), 1, (0, 1), n=1, c=2),
    Win((3, 70), (2, 4), (1, 2), (1, 2), n=1, c=2),
    Win((6, 6), 2, n=0),
    Win((11,), 3, 2, 1),
    Win((12,), 4, 3, 2, ceil_mode=True),
    Win((5, 6, 7), 2),
    Win((5, 6, 7), (3, 3, 2), (2, 1, 2), (1, 1, 1), ceil_mode=True),
]


def test_case_grids_cover_the_options():
    for cases in (MAX_CASES, AVG_CASES):
        assert {c.nd for c in cases} == {1, 2, 3}
        assert any(c.ceil_mode for c in cases) and any(c.n == 0 for c in cases)
        assert any(c.stride is None for c in cases)
        # a ceil_mode case whose last window is dropped by PyTorch's rule
        assert any(c.ceil_mode and any(
            pool_out_len(i, k, s, p, 1, True) < -(-(i + 2 * p - k) // s) + 1
            for i, k, s, p in zip(c.size, c.axis(c.kernel), c.strides, c.axis(c.padding)))
            for c in cases)
    assert any(max(c.axis(c.dilation)) > 1 for c in MAX_CASES)


def test_reference_window_count_matches_the_formula():
    """ref_pool counts windows one by one; fastconv uses the closed form."""
    from fastconv._validate import pool_out_size
    for size in range(1, 12):
        for k in range(1, 5):
            for s in range(1, 4):
                for p in range(0, k // 2 + 1):
                    for d in (1, 2):
                        for ceil in (False, True):
                            assert pool_out_len(size, k, s, p, d, ceil) == max(
                                pool_out_size(size, k, s, p, d, ceil), 0), (size, k, s, p, d, ceil)


# ------------------------------------------------------------ max pooling ----
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", MAX_CASES, ids=lambda c: c.id)
def test_max_pool_matches_reference(case, dtype, rng):
    x = case.x(rng, dtype)
    vals, idx = MAX[case.nd](x, case.kernel, **case.max_kwargs(), return_indices=True)
    ref_vals, ref_idx = max_pool_ref(x, *case.ref_args(), case.ceil_mode)
    assert vals.dtype == dtype and idx.dtype == np.int64 and vals.flags.c_contiguous
    assert vals.shape == ref_vals.shape == idx.shape, case
    np.testing.assert_array_equal(vals, ref_vals.astype(dtype), err_msg=case.id)
    np.testing.assert_array_equal(idx, ref_idx, err_msg=case.id)
    plain = MAX[case.nd](x, case.kernel, **case.max_kwargs())
    assert plain.tobytes() == vals.tobytes()
    assert vals.shape[2:] == analysis.pool_output_shape(case.size, case.kernel, case.stride,
                                                        case.padding, case.dilation,
                                                        case.ceil_mode)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", MAX_CASES, ids=lambda c: c.id)
def test_max_pool_backward_matches_reference(case, dtype, rng, tol):
    x = case.x(rng, dtype)
    out_shape = MAX[case.nd](x, case.kernel, **case.max_kwargs()).shape
    g = rng.standard_normal(out_shape).astype(dtype)
    got = MAX_BWD[case.nd](g, x, case.kernel, **case.max_kwargs())
    assert got.dtype == dtype and got.shape == x.shape
    ref = max_pool_backward_ref(g, x, *case.ref_args(), case.ceil_mode)
    # a cell collects up to prod(kernel) gradients, summed in the dtype
    t = tol(dtype, np.prod(case.axis(case.kernel)))
    np.testing.assert_allclose(got, ref, rtol=t, atol=t, err_msg=case.id)


def test_max_pool_ties_go_to_the_first_maximum(rng):
    x = rng.integers(0, 3, (2, 3, 9, 10)).astype(np.float64)   # many ties
    for kw in (dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=2),
               dict(kernel_size=3, stride=2, dilation=2, padding=1, ceil_mode=True)):
        vals, idx = fastconv.max_pool2d(x, **kw, return_indices=True)
        k = kw["kernel_size"]
        ref_vals, ref_idx = max_pool_ref(x, (k, k), (kw.get("stride", k),) * 2,
                                         (kw.get("padding", 0),) * 2, (kw.get("dilation", 1),) * 2,
                                         kw.get("ceil_mode", False))
        np.testing.assert_array_equal(vals, ref_vals)
        np.testing.assert_array_equal(idx, ref_idx)
    # by hand: [1, 3, 3, 2] -> the 3 at offset 1, and its gradient goes there
    x = np.array([[[1.0, 3.0, 3.0, 2.0]]])
    assert fastconv.max_pool1d(x, 4, return_indices=True)[1].item() == 1
    np.testing.assert_array_equal(fastconv.max_pool1d_backward(np.ones((1, 1, 1)), x, 4),
                                  [[[0, 1, 0, 0]]])
    # overlapping windows that pick the same cell add their gradients
    x = np.array([[[1.0, 5.0, 2.0, 0.0]]])
    np.testing.assert_array_equal(
        fastconv.max_pool1d_backward(np.array([[[10.0, 1.0]]]), x, 3, stride=1),
        [[[0, 11, 0, 0]]])


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
def test_max_pool_nan_and_inf(dtype, rng):
    """A NaN makes its windows NaN (index: the window's last NaN, as PyTorch);
    -inf never beats a real value; padded cells never win, also when all real
    cells are -inf (the index is then the window's first real cell)."""
    x = rng.standard_normal((1, 2, 7, 8)).astype(dtype)
    x[0, 0, 2, 3] = x[0, 0, 2, 5] = x[0, 1, 6, 7] = np.nan
    x[0, 1, :3, :3] = -np.inf
    vals, idx = fastconv.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    ref_vals, ref_idx = max_pool_ref(x, (3, 3), (2, 2), (1, 1), (1, 1), False)
    np.testing.assert_array_equal(np.isnan(vals), np.isnan(ref_vals))
    assert np.isnan(vals).sum() >= 3
    np.testing.assert_array_equal(vals, ref_vals.astype(dtype))
    np.testing.assert_array_equal(idx, ref_idx)
    assert vals[0, 1, 0, 0] == -np.inf and idx[0, 1, 0, 0] == 0
    g = fastconv.max_pool2d_backward(np.ones_like(vals), x, 3, stride=2, padding=1)
    np.testing.assert_array_equal(g, max_pool_backward_ref(np.ones_like(vals), x, (3, 3), (2, 2),
                                                           (1, 1), (1, 1), False))


# Value-only max pooling with stride 2 along x and windows overlapping along y
# runs by cached rows (each row's maxima along x, then the rule over rows), and
# with windows of 2 cells along x by even/odd splits of whole rows:
# widths below, at and above a vector (16 float32 lanes), odd widths, every
# padding the taps allow, ceil_mode, dilation along y, 3-D windows (one ring of
# rows per z tap).  Values must equal the indexed path's bit for bit.
S2_CASES = [
    Win((5, 3), 3, 2, 1), Win((7, 8), 3, 2, 1), Win((9, 31), 3, 2, 1),
    Win((9, 32), 3, 2, 1), Win((6, 33), 3, 2, 1), Win((5, 70), 3, 2, 0),
    Win((6, 40), 3, 2, 1, ceil_mode=True), Win((6, 41), 3, 2, 0, ceil_mode=True),
    Win((7, 35), 2, (1, 2)), Win((7, 36), (3, 2), (2, 2), (1, 1), ceil_mode=True),
    Win((9, 37), (3, 4), (1, 2), (1, 2)), Win((9, 38), 5, 2, 2),
    Win((9, 39), (5, 4), 2, (2, 1)), Win((9, 35), 3, 2, 1, dilation=(2, 1)),
    Win((4, 6, 34), (2, 3, 3), (1, 2, 2), (0, 1, 1)),
    Win((5, 7, 29), (3, 2, 3), (2, 1, 2), (1, 1, 1), ceil_mode=True),
    # windows of 2 cells along x at stride 2, not overlapping along y: two
    # vector blocks at a time (a lone last one, overlapping ones)
    Win((4, 33), 2), Win((4, 64), 2), Win((4, 81), 2), Win((3, 97), 2, padding=1),
    Win((4, 6, 57), 2), Win((3, 5, 45), (3, 2, 2), 2, (1, 1, 1), ceil_mode=True),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", S2_CASES, ids=lambda c: c.id)
def test_max_pool_by_rows_matches_reference(case, dtype, rng, simd_path):
    x = case.x(rng, dtype)
    x.reshape(-1)[::7] = 0.0
    x.reshape(-1)[3::7] = -0.0                     # ties of +0 and -0: the first wins
    x.reshape(-1)[::23] = -np.inf
    x[..., 0, 1] = np.nan
    vals = MAX[case.nd](x, case.kernel, **case.max_kwargs())
    with_idx, _ = MAX[case.nd](x, case.kernel, **case.max_kwargs(), return_indices=True)
    ref_vals, _ = max_pool_ref(x, *case.ref_args(), case.ceil_mode)
    np.testing.assert_array_equal(vals, ref_vals.astype(dtype), err_msg=case.id)
    assert vals.tobytes() == with_idx.tobytes(), case.id


def _scatter_ref(g, idx, x_shape, nd):
    """Gradients added at saved indices, in output order: np.add.at per plane."""
    planes = int(np.prod(x_shape[:-nd]))
    gi = np.zeros((planes, int(np.prod(x_shape[-nd:]))), g.dtype)
    rows = np.repeat(np.arange(planes), idx.size // planes).reshape(planes, -1)
    np.add.at(gi, (rows, idx.reshape(planes, -1)), g.reshape(planes, -1))
    return gi.reshape(x_shape)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", MAX_CASES[::3], ids=lambda c: c.id)
def test_max_pool_backward_through_saved_indices(case, dtype, rng):
    """indices= routes through the forward's indices: bitwise the recomputing
    backward (ties included), and a plain scatter of any valid indices."""
    x = np.round(case.x(rng, dtype) * 2)   # ties
    vals, idx = MAX[case.nd](x, case.kernel, **case.max_kwargs(), return_indices=True)
    g = rng.standard_normal(vals.shape).astype(dtype)
    got = MAX_BWD[case.nd](g, x, case.kernel, **case.max_kwargs(), indices=idx)
    assert got.dtype == dtype and got.shape == x.shape
    assert got.tobytes() == MAX_BWD[case.nd](g, x, case.kernel, **case.max_kwargs()).tobytes()
    other = rng.integers(0, np.prod(x.shape[-case.nd:]), idx.shape)
    np.testing.assert_allclose(
        MAX_BWD[case.nd](g, x, case.kernel, **case.max_kwargs(), indices=other),
        _scatter_ref(g, other, x.shape, case.nd), rtol=1e-6, atol=1e-6, err_msg=case.id)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_adaptive_max_backward_through_saved_indices(nd, rng):
    x = rng.integers(0, 3, (2, 3) + (7, 6, 5)[:nd]).astype(np.float64)
    x[0, 1].flat[4] = np.nan
    vals, idx = ADAPTIVE["max", nd](x, (3, 4, 2)[:nd], return_indices=True)
    g = rng.standard_normal(vals.shape)
    got = ADAPTIVE_BWD["max", nd](g, x, indices=idx)
    assert got.tobytes() == ADAPTIVE_BWD["max", nd](g, x).tobytes()
    np.testing.assert_allclose(got, _scatter_ref(g, idx, x.shape, nd), rtol=1e-12, atol=1e-12)


def test_saved_indices_are_checked(rng):
    x = rng.standard_normal((2, 3, 6, 7))
    vals, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    g = np.ones_like(vals)
    bwd = functools.partial(fastconv.max_pool2d_backward, g, x, 2)
    with pytest.raises(TypeError, match="indices must be an int64 ndarray.*int32"):
        bwd(indices=idx.astype(np.int32))
    with pytest.raises(TypeError, match="indices must be an int64 ndarray.*list"):
        bwd(indices=idx.tolist())
    with pytest.raises(ValueError, match=r"indices has shape \(2, 3, 3\) but grad_output has "
                                         r"shape \(2, 3, 3, 3\)"):
        bwd(indices=idx[..., 0])
    for bad in (-1, 42):
        wrong = idx.copy()
        wrong[1, 2, 0, 1] = bad
        with pytest.raises(ValueError, match=r"indices must lie in \[0, 42\)"):
            bwd(indices=wrong)
    with pytest.raises(ValueError, match="adaptive_max_pool2d_backward: indices must lie"):
        fastconv.adaptive_max_pool2d_backward(g, x, indices=idx + 40)
    # checked by the routing kernel as it reads them: also on a team of threads,
    # in the last plane, and for the most negative int64
    x = rng.standard_normal((4, 16, 40, 40))
    vals, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    for bad in (np.iinfo(np.int64).min, 1600):
        wrong = idx.copy()
        wrong[-1, -1, -1, -1] = bad
        with pytest.raises(ValueError, match=r"indices must lie in \[0, 1600\)"):
            fastconv.max_pool2d_backward(np.ones_like(vals), x, 2, indices=wrong)


# ------------------------------------------------------------ avg pooling ----
@pytest.mark.parametrize("count_include_pad", [True, False], ids=["incpad", "nopad"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", AVG_CASES, ids=lambda c: c.id)
def test_avg_pool_matches_reference(case, dtype, count_include_pad, rng, tol):
    x = case.x(rng, dtype)
    k, s, p, _ = case.ref_args(dilation=False)
    got = AVG[case.nd](x, case.kernel, **case.avg_kwargs(), count_include_pad=count_include_pad)
    ref = avg_pool_ref(x, k, s, p, case.ceil_mode, count_include_pad)
    assert got.dtype == dtype and got.shape == ref.shape and got.flags.c_contiguous
    t = tol(dtype, np.prod(k))
    np.testing.assert_allclose(got, ref, rtol=t, atol=t, err_msg=case.id)
    g = rng.standard_normal(got.shape).astype(dtype)
    gi = AVG_BWD[case.nd](g, x, case.kernel, **case.avg_kwargs(),
                          count_include_pad=count_include_pad)
    assert gi.dtype == dtype and gi.shape == x.shape
    ref_gi = avg_pool_backward_ref(g, x.shape, k, s, p, case.ceil_mode, count_include_pad)
    np.testing.assert_allclose(gi, ref_gi, rtol=t, atol=t, err_msg=case.id)


@pytest.mark.parametrize("count_include_pad, expected", [
    (True, [1.0, 3.0, 5.0, 3.0]),
    (False, [1.5, 3.0, 5.0, 6.0]),
])
def test_avg_pool_divisor_by_hand(count_include_pad, expected):
    """k3 s2 p1 ceil_mode on 6 cells: windows start at -1, 1, 3, 5.  The first
    holds one padded cell; the last reaches cell 7, past the padded input
    [-1, 7): with count_include_pad it divides by 2 (cells 5 and the pad cell 6),
    not 3; without, by its one real cell."""
    x = np.arange(1.0, 7.0).reshape(1, 1, 6)
    got = fastconv.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=count_include_pad)
    np.testing.assert_array_equal(got[0, 0], expected)
    ref = avg_pool_ref(x, (3,), (2,), (1,), True, count_include_pad)
    np.testing.assert_array_equal(ref[0, 0], expected)


def test_ceil_mode_drops_a_window_starting_in_the_right_padding():
    """5 cells, k2 s2 p1: ceil((5 + 2 - 2) / 2) + 1 = 4 windows, but the 4th
    would start at cell 5, in the right padding, so there are 3."""
    x = np.arange(5.0).reshape(1, 1, 5)
    assert fastconv.max_pool1d(x, 2, 2, 1, ceil_mode=True).shape == (1, 1, 3)
    assert fastconv.avg_pool1d(x, 2, 2, 1, ceil_mode=True).shape == (1, 1, 3)
    np.testing.assert_array_equal(fastconv.max_pool1d(x, 2, 2, 1, ceil_mode=True)[0, 0],
                                  [0, 2, 4])
    # windows [-1, 0], [1, 2], [3, 4] (the first holds the pad cell -1)
    np.testing.assert_array_equal(fastconv.avg_pool1d(x, 2, 2, 1, ceil_mode=True)[0, 0],
                                  [0, 1.5, 3.5])


# ------------------------------------------------------- adaptive pooling ----
ADAPTIVE_CASES = [
    ((10,), 3), ((7,), 4), ((3,), 5), ((6,), 6), ((9,), 1),
    ((10, 7), (3, 4)), ((6, 6), 1), ((5, 9), (None, 4)), ((4, 4), (7, 3)), ((13, 11), 5),
    ((5, 7, 4), (2, 3, 3)), ((3, 4, 5), (3, None, 2)),
]


def _adaptive_out(size, out):
    out = (out,) * len(size) if isinstance(out, int) else out
    return tuple(i if o is None else o for i, o in zip(size, out))


def test_adaptive_bins_by_hand():
    assert adaptive_bins(10, 3) == [(0, 4), (3, 7), (6, 10)]
    assert adaptive_bins(7, 4) == [(0, 2), (1, 4), (3, 6), (5, 7)]
    x = np.arange(10.0).reshape(1, 1, 10)
    np.testing.assert_allclose(fastconv.adaptive_avg_pool1d(x, 3)[0, 0], [1.5, 4.5, 7.5])
    vals, idx = fastconv.adaptive_max_pool1d(-x, 3, return_indices=True)
    np.testing.assert_array_equal(idx[0, 0], [0, 3, 6])


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("size, out", ADAPTIVE_CASES, ids=lambda v: _fmt(v))
def test_adaptive_pool_matches_reference(size, out, mode, dtype, rng, tol):
    nd = len(size)
    x = rng.standard_normal((2, 3) + size).astype(dtype)
    out_size = _adaptive_out(size, out)
    if mode == "max":
        vals, idx = ADAPTIVE[mode, nd](x, out, return_indices=True)
        ref_vals, ref_idx = adaptive_pool_ref(x, out_size, "max")
        np.testing.assert_array_equal(vals, ref_vals.astype(dtype))
        np.testing.assert_array_equal(idx, ref_idx)
        assert idx.dtype == np.int64
    else:
        vals = ADAPTIVE[mode, nd](x, out)
        ref_vals = adaptive_pool_ref(x, out_size, "avg")
        t = tol(dtype, np.prod(size))
        np.testing.assert_allclose(vals, ref_vals, rtol=t, atol=t)
    assert vals.shape == (2, 3) + out_size and vals.dtype == dtype
    g = rng.standard_normal(vals.shape).astype(dtype)
    gi = ADAPTIVE_BWD[mode, nd](g, x)
    assert gi.shape == x.shape and gi.dtype == dtype
    t = tol(dtype, np.prod(size))
    np.testing.assert_allclose(gi, adaptive_pool_backward_ref(g, x, mode), rtol=t, atol=t)


def test_adaptive_max_ties_and_nan(rng):
    x = rng.integers(0, 2, (2, 2, 7, 10)).astype(np.float32)
    x[0, 0, 3, 4] = x[0, 0, 3, 6] = np.nan
    vals, idx = fastconv.adaptive_max_pool2d(x, (4, 3), return_indices=True)
    ref_vals, ref_idx = adaptive_pool_ref(x, (4, 3), "max")
    np.testing.assert_array_equal(vals, ref_vals.astype(np.float32))
    np.testing.assert_array_equal(idx, ref_idx)
    assert np.isnan(vals).any()


# --------------------------------------------------------- global pooling ----
GLOBAL_SHAPES = [(2, 3, 5), (2, 3, 4, 5), (2, 3, 2, 3, 4), (1, 2, 37, 41), (3, 1, 16), (2, 2, 15)]


@pytest.mark.parametrize("keepdims", [False, True], ids=["flat", "keepdims"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("shape", GLOBAL_SHAPES, ids=_fmt)
def test_global_pool_matches_reference(shape, mode, dtype, keepdims, rng, tol):
    x = rng.standard_normal(shape).astype(dtype)
    got = GLOBAL[mode](x, keepdims=keepdims)
    expected_shape = shape[:2] + ((1,) * (len(shape) - 2) if keepdims else ())
    assert got.shape == expected_shape and got.dtype == dtype
    ref = global_pool_ref(x, mode).reshape(expected_shape)
    t = tol(dtype, np.prod(shape[2:]))
    if mode == "max":
        np.testing.assert_array_equal(got, ref.astype(dtype))
    else:
        np.testing.assert_allclose(got, ref, rtol=t, atol=t)
    g = rng.standard_normal(expected_shape).astype(dtype)
    gi = GLOBAL_BWD[mode](g, x, keepdims=keepdims)
    assert gi.shape == x.shape and gi.dtype == dtype
    np.testing.assert_allclose(gi, global_pool_backward_ref(g.reshape(shape[:2]), x, mode),
                               rtol=t, atol=t)


def test_global_max_ties_nan_and_inf():
    x = np.array([[[1.0, 4.0, 2.0, 4.0], [np.nan, 1.0, np.nan, 0.0], [-np.inf] * 4]])
    np.testing.assert_array_equal(fastconv.global_max_pool(x), [[4.0, np.nan, -np.inf]])
    g = fastconv.global_max_pool_backward(np.array([[1.0, 2.0, 3.0]]), x)
    np.testing.assert_array_equal(g, [[[0, 1, 0, 0], [0, 0, 2, 0], [3, 0, 0, 0]]])
    # the same cell adaptive max pooling to size 1 picks
    _, idx = fastconv.adaptive_max_pool1d(x, 1, return_indices=True)
    np.testing.assert_array_equal(idx[..., 0], [[1, 2, 0]])


# ------------------------------------------------------------ the pyramid ----
def test_pyramid_ordering_by_hand():
    """Levels in the given order; within a level each sample's (C, l, l) block
    flattened in C order."""
    x = np.arange(32.0).reshape(1, 2, 4, 4)          # channel 1 = channel 0 + 16
    got = fastconv.spatial_pyramid_pool(x, levels=(1, 2))
    np.testing.assert_array_equal(got, [[15, 31, 5, 7, 13, 15, 21, 23, 29, 31]])
    got = fastconv.spatial_pyramid_pool(x, levels=(2, 1), mode="avg")
    np.testing.assert_array_equal(got, [[2.5, 4.5, 10.5, 12.5, 18.5, 20.5, 26.5, 28.5, 7.5, 23.5]])


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("shape, levels", [((2, 3, 7, 9), (1, 2, 4)), ((1, 2, 5, 5), (3, 1)),
                                           ((2, 1, 3, 2), (4,))], ids=["default", "3-1", "up"])
def test_pyramid_matches_reference(shape, levels, mode, dtype, rng, tol):
    x = rng.standard_normal(shape).astype(dtype)
    got = fastconv.spatial_pyramid_pool(x, levels, mode)
    ref = pyramid_ref(x, levels, mode)
    assert got.shape == (shape[0], shape[1] * sum(lv * lv for lv in levels))
    assert got.dtype == dtype and got.flags.c_contiguous
    t = tol(dtype, np.prod(shape[2:]))
    np.testing.assert_allclose(got, ref, rtol=t, atol=t)
    g = rng.standard_normal(got.shape).astype(dtype)
    gi = fastconv.spatial_pyramid_pool_backward(g, x, levels, mode)
    assert gi.shape == x.shape and gi.dtype == dtype
    np.testing.assert_allclose(gi, pyramid_backward_ref(g, x, levels, mode), rtol=t, atol=t)
    assert fastconv.spatial_pyramid_pool(x).shape == (shape[0], shape[1] * 21)


# ------------------------------------------------ gradients: finite diffs ----
def _numerical_grad(f, x, g, eps=1e-6):
    """d <f(x), g> / dx by central differences (x float64, restored)."""
    num = np.zeros_like(x)
    flat, nflat = x.reshape(-1), num.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = np.vdot(f(x), g)
        flat[i] = old - eps
        down = np.vdot(f(x), g)
        flat[i] = old
        nflat[i] = (up - down) / (2 * eps)
    return num


def _distinct(rng, shape):
    """Values at least 0.01 apart (no ties, so max pooling is differentiable)."""
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01
            + rng.uniform(0, 1e-3, shape))


GRAD_CASES = [
    ("max1d", lambda x: fastconv.max_pool1d(x, 3, 2, 1, ceil_mode=True),
     lambda g, x: fastconv.max_pool1d_backward(g, x, 3, 2, 1, ceil_mode=True), (2, 2, 9)),
    ("max2d", lambda x: fastconv.max_pool2d(x, 3, 1, 1, dilation=(1, 2)),
     lambda g, x: fastconv.max_pool2d_backward(g, x, 3, 1, 1, dilation=(1, 2)), (1, 2, 5, 6)),
    ("max3d", lambda x: fastconv.max_pool3d(x, 2, 1),
     lambda g, x: fastconv.max_pool3d_backward(g, x, 2, 1), (1, 2, 3, 3, 4)),
    ("avg1d", lambda x: fastconv.avg_pool1d(x, 3, 2, 1, ceil_mode=True),
     lambda g, x: fastconv.avg_pool1d_backward(g, x, 3, 2, 1, ceil_mode=True), (2, 2, 8)),
    ("avg2d_nopad", lambda x: fastconv.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
     lambda g, x: fastconv.avg_pool2d_backward(g, x, 3, 2, 1, count_include_pad=False),
     (1, 2, 5, 6)),
    ("avg3d", lambda x: fastconv.avg_pool3d(x, 2, 1, 1),
     lambda g, x: fastconv.avg_pool3d_backward(g, x, 2, 1, 1), (1, 1, 3, 3, 4)),
    ("adaptive_avg2d", lambda x: fastconv.adaptive_avg_pool2d(x, (3, 4)),
     fastconv.adaptive_avg_pool2d_backward, (1, 2, 7, 5)),
    ("adaptive_max2d", lambda x: fastconv.adaptive_max_pool2d(x, (3, 4)),
     fastconv.adaptive_max_pool2d_backward, (1, 2, 7, 5)),
    ("adaptive_max3d", lambda x: fastconv.adaptive_max_pool3d(x, (2, 1, 3)),
     fastconv.adaptive_max_pool3d_backward, (1, 1, 3, 3, 4)),
    ("global_avg", fastconv.global_avg_pool, fastconv.global_avg_pool_backward, (2, 2, 3, 4)),
    ("global_max", lambda x: fastconv.global_max_pool(x, keepdims=True),
     lambda g, x: fastconv.global_max_pool_backward(g, x, keepdims=True), (2, 2, 3, 4)),
    ("pyramid_max", lambda x: fastconv.spatial_pyramid_pool(x, (1, 2)),
     lambda g, x: fastconv.spatial_pyramid_pool_backward(g, x, (1, 2)), (1, 2, 5, 4)),
    ("pyramid_avg", lambda x: fastconv.spatial_pyramid_pool(x, (1, 3), "avg"),
     lambda g, x: fastconv.spatial_pyramid_pool_backward(g, x, (1, 3), "avg"), (1, 2, 5, 4)),
]


@pytest.mark.parametrize("name, fwd, bwd, shape", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_backward_matches_finite_differences(name, fwd, bwd, shape, rng):
    x = _distinct(rng, shape)
    g = rng.standard_normal(fwd(x).shape)
    analytic = bwd(g, x)
    numeric = _numerical_grad(fwd, x, g)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8, err_msg=name)


LINEAR = [c for c in GRAD_CASES if "max" not in c[0]]


@pytest.mark.parametrize("name, fwd, bwd, shape", LINEAR, ids=[c[0] for c in LINEAR])
def test_adjoint_identity(name, fwd, bwd, shape, rng):
    """<f(x), y> == <x, f_backward(y)> for the linear poolings."""
    x = rng.standard_normal(shape)
    y = rng.standard_normal(fwd(x).shape)
    lhs, rhs = np.vdot(fwd(x), y), np.vdot(x, bwd(y, x))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs)), (name, lhs, rhs)


# ------------------------------------------------------------------ torch ----
def _torch():
    return pytest.importorskip("torch")


def _torch_check(fc_fwd, fc_bwd, t_fwd, x, rng, tol, *, indices=False):
    """Same forward through torch and fastconv (values, optionally indices),
    then grad_input from torch.autograd.grad vs fastconv's backward."""
    torch = _torch()
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    t_out = t_fwd(tx)
    if indices:
        t_out, t_idx = t_out
        got, idx = fc_fwd(x)
        np.testing.assert_array_equal(idx, t_idx.numpy())
    else:
        got = fc_fwd(x)
    t = tol(x.dtype, 64)
    assert got.shape == tuple(t_out.shape) and got.dtype == x.dtype
    np.testing.assert_allclose(got, t_out.detach().numpy(), rtol=t, atol=t)
    g = rng.standard_normal(got.shape).astype(x.dtype)
    (t_gi,) = torch.autograd.grad(t_out, tx, torch.from_numpy(g))
    np.testing.assert_allclose(fc_bwd(g, x), t_gi.numpy(), rtol=t, atol=t)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", [c for c in MAX_CASES if c.n > 0],  # torch: N >= 1
                         ids=lambda c: c.id)
def test_max_pool_matches_torch(case, dtype, rng, tol):
    torch = _torch()
    x = case.x(rng, dtype)
    x.reshape(-1)[::7] = np.round(x.reshape(-1)[::7])   # some ties
    nd, kw = case.nd, case.max_kwargs()
    t_fn = getattr(torch.nn.functional, f"max_pool{nd}d")
    _torch_check(lambda a: MAX[nd](a, case.kernel, **kw, return_indices=True),
                 lambda g, a: MAX_BWD[nd](g, a, case.kernel, **kw),
                 lambda t: t_fn(t, case.kernel, stride=case.stride, padding=case.padding,
                                dilation=case.dilation, ceil_mode=case.ceil_mode,
                                return_indices=True),
                 x, rng, tol, indices=True)


def test_max_pool_nan_matches_torch(rng, tol):
    torch = _torch()
    x = rng.standard_normal((2, 2, 8, 9))
    x[0, 0, 1:3, 2:5] = np.nan
    x[1, 1, 4, 4] = np.nan
    x[1, 0, :4, :4] = -np.inf
    for kw in (dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, stride=1)):
        tx = torch.from_numpy(x).requires_grad_(True)
        t_out, t_idx = torch.nn.functional.max_pool2d(tx, **kw, return_indices=True)
        vals, idx = fastconv.max_pool2d(x, **kw, return_indices=True)
        np.testing.assert_array_equal(vals, t_out.detach().numpy())
        np.testing.assert_array_equal(idx, t_idx.numpy())
        g = np.ones(vals.shape)
        (t_gi,) = torch.autograd.grad(t_out, tx, torch.from_numpy(g))
        np.testing.assert_array_equal(fastconv.max_pool2d_backward(g, x, **kw), t_gi.numpy())


@pytest.mark.parametrize("count_include_pad", [True, False], ids=["incpad", "nopad"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", [c for c in AVG_CASES if c.n > 0],  # torch: N >= 1
                         ids=lambda c: c.id)
def test_avg_pool_matches_torch(case, dtype, count_include_pad, rng, tol):
    torch = _torch()
    nd, kw = case.nd, case.avg_kwargs()
    t_fn = getattr(torch.nn.functional, f"avg_pool{nd}d")
    _torch_check(lambda a: AVG[nd](a, case.kernel, **kw, count_include_pad=count_include_pad),
                 lambda g, a: AVG_BWD[nd](g, a, case.kernel, **kw,
                                          count_include_pad=count_include_pad),
                 lambda t: t_fn(t, case.kernel, stride=case.stride, padding=case.padding,
                                ceil_mode=case.ceil_mode, count_include_pad=count_include_pad),
                 case.x(rng, dtype), rng, tol)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("size, out", ADAPTIVE_CASES, ids=lambda v: _fmt(v))
def test_adaptive_pool_matches_torch(size, out, mode, dtype, rng, tol):
    torch = _torch()
    nd = len(size)
    x = rng.standard_normal((2, 3) + size).astype(dtype)
    t_fn = getattr(torch.nn.functional, f"adaptive_{mode}_pool{nd}d")
    if mode == "max":
        _torch_check(lambda a: ADAPTIVE[mode, nd](a, out, return_indices=True),
                     ADAPTIVE_BWD[mode, nd], lambda t: t_fn(t, out, return_indices=True),
                     x, rng, tol, indices=True)
    else:
        _torch_check(lambda a: ADAPTIVE[mode, nd](a, out), ADAPTIVE_BWD[mode, nd],
                     lambda t: t_fn(t, out), x, rng, tol)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("shape", [(2, 3, 17), (2, 3, 6, 7), (1, 2, 3, 4, 5)], ids=_fmt)
def test_global_pool_matches_torch(shape, dtype, rng, tol):
    """global_avg_pool = x.mean over the spatial axes; global_max_pool =
    adaptive_max_pool{n}d(x, 1), gradient included (ties included)."""
    torch = _torch()
    nd = len(shape) - 2
    x = rng.integers(-3, 4, shape).astype(dtype)        # ties everywhere
    dims = tuple(range(2, len(shape)))
    _torch_check(fastconv.global_avg_pool, fastconv.global_avg_pool_backward,
                 lambda t: t.mean(dim=dims), x, rng, tol)
    t_max = getattr(torch.nn.functional, f"adaptive_max_pool{nd}d")
    _torch_check(lambda a: fastconv.global_max_pool(a, keepdims=True),
                 lambda g, a: fastconv.global_max_pool_backward(g, a, keepdims=True),
                 lambda t: t_max(t, 1), x, rng, tol)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pyramid_matches_torch(mode, rng, tol):
    torch = _torch()
    F = torch.nn.functional
    levels = (1, 2, 4)
    x = rng.standard_normal((2, 3, 9, 7))

    def t_spp(t):
        pool = F.adaptive_max_pool2d if mode == "max" else F.adaptive_avg_pool2d
        return torch.cat([pool(t, lv).reshape(t.shape[0], -1) for lv in levels], dim=1)

    _torch_check(lambda a: fastconv.spatial_pyramid_pool(a, levels, mode),
                 lambda g, a: fastconv.spatial_pyramid_pool_backward(g, a, levels, mode),
                 t_spp, x, rng, tol)


# ------------------------------------------------------- what users pass ----
UNBATCHED = [
    ("max", lambda x: fastconv.max_pool2d(x, 3, 2, 1),
     lambda g, x: fastconv.max_pool2d_backward(g, x, 3, 2, 1), (3, 7, 8)),
    ("max1d_idx", lambda x: fastconv.max_pool1d(x, 2, return_indices=True)[1],
     None, (3, 9)),
    ("avg3d", lambda x: fastconv.avg_pool3d(x, 2, 1, 1, count_include_pad=False),
     lambda g, x: fastconv.avg_pool3d_backward(g, x, 2, 1, 1, count_include_pad=False),
     (2, 3, 4, 5)),
    ("adaptive_avg", lambda x: fastconv.adaptive_avg_pool2d(x, (2, 3)),
     fastconv.adaptive_avg_pool2d_backward, (3, 5, 7)),
    ("adaptive_max", lambda x: fastconv.adaptive_max_pool1d(x, 4),
     fastconv.adaptive_max_pool1d_backward, (3, 9)),
]


@pytest.mark.parametrize("name, fwd, bwd, shape", UNBATCHED, ids=[u[0] for u in UNBATCHED])
def test_unbatched_equals_batch_of_one(name, fwd, bwd, shape, rng):
    x = rng.standard_normal(shape)
    got = fwd(x)
    np.testing.assert_array_equal(got, fwd(x[None])[0])
    assert got.ndim == x.ndim
    if bwd is not None:
        g = rng.standard_normal(got.shape)
        gi = bwd(g, x)
        assert gi.shape == x.shape
        np.testing.assert_array_equal(gi, bwd(g[None], x[None])[0])


FORWARDS = [
    ("max_pool2d", lambda x, **kw: fastconv.max_pool2d(x, 3, 2, 1, **kw)),
    ("max_pool3d", lambda x, **kw: fastconv.max_pool3d(x[:, :, None], (1, 2, 2), **kw)),
    ("avg_pool2d", lambda x, **kw: fastconv.avg_pool2d(x, 2, 1, 1, ceil_mode=True, **kw)),
    ("avg_pool1d", lambda x, **kw: fastconv.avg_pool1d(x[:, :, 0], 3, 2, **kw)),
    ("adaptive_avg_pool2d", lambda x, **kw: fastconv.adaptive_avg_pool2d(x, (3, 2), **kw)),
    ("adaptive_max_pool2d", lambda x, **kw: fastconv.adaptive_max_pool2d(x, 3, **kw)),
    ("global_avg_pool", lambda x, **kw: fastconv.global_avg_pool(x, **kw)),
    ("global_max_pool", lambda x, **kw: fastconv.global_max_pool(x, keepdims=True, **kw)),
    ("spatial_pyramid_pool", lambda x, **kw: fastconv.spatial_pyramid_pool(x, (1, 2), **kw)),
]


@pytest.mark.parametrize("name, fwd", FORWARDS, ids=[f[0] for f in FORWARDS])
def test_strided_read_only_and_out(name, fwd, rng):
    base = rng.standard_normal((3, 4, 9, 14))
    x = base[::2, ::-1, :, ::2]                 # non-contiguous, negative stride
    expected = fwd(np.ascontiguousarray(x))
    ro = x.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(fwd(x), expected)
    np.testing.assert_array_equal(fwd(ro), expected)
    out = np.full(expected.shape, np.nan)
    res = fwd(x, out=out)
    assert res is out
    np.testing.assert_array_equal(out, expected)
    with pytest.raises(ValueError, match="out"):
        fwd(x, out=np.empty(expected.shape + (1,)))
    with pytest.raises(TypeError, match="out"):
        fwd(x, out=np.empty(expected.shape, np.float32))
    with pytest.raises(ValueError, match="out"):
        fwd(x, out=np.empty(expected.shape[::-1]).T)
    buf = np.zeros(max(x.size, expected.size))           # out overlapping x
    xs = buf[:x.size].reshape(x.shape)
    xs[...] = x
    with pytest.raises(ValueError, match="out"):
        fwd(xs, out=buf[:expected.size].reshape(expected.shape))


def test_max_pool_out_with_indices(rng):
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    out = np.empty((2, 3, 3, 3), np.float32)
    vals, idx = fastconv.max_pool2d(x, 2, return_indices=True, out=out)
    assert vals is out
    np.testing.assert_array_equal(idx, fastconv.max_pool2d(x, 2, return_indices=True)[1])


def test_empty_batch(rng):
    x = np.zeros((0, 3, 6, 7), np.float32)
    assert fastconv.max_pool2d(x, 2).shape == (0, 3, 3, 3)
    v, i = fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)
    assert v.shape == i.shape == (0, 3, 3, 4) and i.dtype == np.int64
    assert fastconv.avg_pool2d(x, 2, ceil_mode=True).shape == (0, 3, 3, 4)
    assert fastconv.adaptive_avg_pool2d(x, (2, 5)).shape == (0, 3, 2, 5)
    assert fastconv.adaptive_max_pool2d(x, 4, return_indices=True)[1].shape == (0, 3, 4, 4)
    assert fastconv.global_avg_pool(x).shape == (0, 3)
    assert fastconv.global_max_pool(x, keepdims=True).shape == (0, 3, 1, 1)
    assert fastconv.spatial_pyramid_pool(x).shape == (0, 63)
    assert fastconv.max_pool2d_backward(np.zeros((0, 3, 3, 3)), x, 2).shape == x.shape
    assert fastconv.avg_pool2d_backward(np.zeros((0, 3, 3, 3)), x, 2).shape == x.shape
    assert fastconv.adaptive_max_pool2d_backward(np.zeros((0, 3, 2, 2)), x).shape == x.shape
    assert fastconv.global_max_pool_backward(np.zeros((0, 3)), x).shape == x.shape
    assert fastconv.spatial_pyramid_pool_backward(np.zeros((0, 63)), x).shape == x.shape


@pytest.mark.parametrize("x_dt, g_dt, out_dt", [
    (np.float32, np.float32, np.float32), (np.float64, np.float64, np.float64),
    (np.float32, np.float64, np.float64), (np.float64, np.float32, np.float64),
], ids=lambda d: np.dtype(d).name)
def test_dtype_in_dtype_out(x_dt, g_dt, out_dt, rng):
    x = rng.standard_normal((2, 3, 6, 6)).astype(x_dt)
    for fwd, bwd in ((lambda a: fastconv.max_pool2d(a, 2),
                      lambda g, a: fastconv.max_pool2d_backward(g, a, 2)),
                     (lambda a: fastconv.avg_pool2d(a, 3, 1, 1),
                      lambda g, a: fastconv.avg_pool2d_backward(g, a, 3, 1, 1)),
                     (lambda a: fastconv.adaptive_avg_pool2d(a, 4),
                      fastconv.adaptive_avg_pool2d_backward),
                     (fastconv.global_max_pool, fastconv.global_max_pool_backward)):
        y = fwd(x)
        assert y.dtype == x_dt
        assert bwd(rng.standard_normal(y.shape).astype(g_dt), x).dtype == out_dt


def test_from_python_threads_at_once(rng):
    """Kernels release the GIL and keep no shared state."""
    xs = [rng.standard_normal((2, 8, 33, 31)).astype(np.float32) for _ in range(4)]
    expected = [(fastconv.max_pool2d(x, 3, 2, 1), fastconv.avg_pool2d_backward(
        np.ones((2, 8, 16, 15), np.float32), x, 3, 2, 0)) for x in xs]
    results = [None] * 4

    def work(i):
        for _ in range(5):
            results[i] = (fastconv.max_pool2d(xs[i], 3, 2, 1), fastconv.avg_pool2d_backward(
                np.ones((2, 8, 16, 15), np.float32), xs[i], 3, 2, 0))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (e0, e1), (r0, r1) in zip(expected, results):
        assert e0.tobytes() == r0.tobytes() and e1.tobytes() == r1.tobytes()


# -------------------------------------------------- threads and SIMD paths ----
def _grad(y):
    """A fixed upstream gradient of y's shape and dtype."""
    return np.cos(np.arange(y.size) * 0.7).reshape(y.shape).astype(y.dtype)


def _with_backward(fwd, bwd, x):
    y = fwd(x)
    return [y, bwd(_grad(y), x)]


def _all_ops(x):
    """Every pooling kernel once, forward and backward (x big enough for a team
    of 2 threads)."""
    x1 = x.reshape(x.shape[0], x.shape[1], -1)
    return [
        *fastconv.max_pool2d(x, 3, 2, 1, return_indices=True),
        *_with_backward(lambda a: fastconv.max_pool2d(a, 3, 2, 1),
                        lambda g, a: fastconv.max_pool2d_backward(g, a, 3, 2, 1), x),
        *_with_backward(lambda a: fastconv.max_pool2d(a, 2),
                        lambda g, a: fastconv.max_pool2d_backward(g, a, 2), x),
        *_with_backward(lambda a: fastconv.max_pool2d(a, 3, 2, 1),
                        lambda g, a: fastconv.max_pool2d_backward(
                            g, a, 3, 2, 1,
                            indices=fastconv.max_pool2d(a, 3, 2, 1, return_indices=True)[1]),
                        x),
        *_with_backward(lambda a: fastconv.max_pool2d(a, (3, 2), (1, 3), (1, 1), (1, 2)),
                        lambda g, a: fastconv.max_pool2d_backward(g, a, (3, 2), (1, 3), (1, 1),
                                                                  (1, 2)), x),
        *_with_backward(lambda a: fastconv.avg_pool2d(a, 3, 2, 1, count_include_pad=False),
                        lambda g, a: fastconv.avg_pool2d_backward(g, a, 3, 2, 1,
                                                                  count_include_pad=False), x),
        *_with_backward(lambda a: fastconv.avg_pool2d(a, 3, 2, 1, ceil_mode=True),
                        lambda g, a: fastconv.avg_pool2d_backward(g, a, 3, 2, 1, ceil_mode=True),
                        x),
        *_with_backward(lambda a: fastconv.avg_pool2d(a, 3, 1, 1),
                        lambda g, a: fastconv.avg_pool2d_backward(g, a, 3, 1, 1), x),
        *_with_backward(lambda a: fastconv.avg_pool1d(a, 5, 3, 2),
                        lambda g, a: fastconv.avg_pool1d_backward(g, a, 5, 3, 2), x1),
        *_with_backward(lambda a: fastconv.adaptive_avg_pool2d(a, (7, 5)),
                        fastconv.adaptive_avg_pool2d_backward, x),
        *fastconv.adaptive_max_pool2d(x, (7, 5), return_indices=True),
        *_with_backward(lambda a: fastconv.adaptive_max_pool2d(a, (7, 5)),
                        fastconv.adaptive_max_pool2d_backward, x),
        *_with_backward(fastconv.global_avg_pool, fastconv.global_avg_pool_backward, x),
        *_with_backward(fastconv.global_max_pool, fastconv.global_max_pool_backward, x),
    ]


@pytest.fixture
def big_input(rng):
    x = rng.standard_normal((4, 16, 50, 40))
    x.reshape(-1)[::5] = 0.0                       # ties
    return x


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
def test_one_two_and_three_threads_bitwise_identical(dtype, big_input, restore_threads):
    x = big_input.astype(dtype)
    try:
        import threadpoolctl
        omp = threadpoolctl.threadpool_limits(limits=3, user_api="openmp")
    except ImportError:
        omp = contextlib.nullcontext()
    results = []
    with omp:
        for n in (1, 2, 3):
            fastconv.set_num_threads(n)
            assert fastconv.get_num_threads() == n
            results.append(_all_ops(x))
    for n, res in zip((2, 3), results[1:]):
        for i, (one, many) in enumerate(zip(results[0], res)):
            assert one.tobytes() == many.tobytes(), f"op {i}: 1 and {n} threads differ"


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
def test_every_simd_path_gives_the_same_bits(dtype, big_input, simd_path):
    """The tap loops and lane reductions keep the scalar order, so every SIMD
    path gives the bits of the baseline path."""
    x = big_input.astype(dtype)
    got = _all_ops(x)
    _config.set_simd_path("baseline")
    try:
        base = _all_ops(x)
    finally:
        _config.set_simd_path(simd_path)
    for i, (a, b) in enumerate(zip(got, base)):
        assert a.tobytes() == b.tobytes(), f"op {i} differs on {simd_path}"
    # and the path is right, not only consistent
    x = x[:1, :2, :9, :11]
    vals, idx = fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)
    ref_vals, ref_idx = max_pool_ref(x, (3, 3), (2, 2), (1, 1), (1, 1), False)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(fastconv.avg_pool2d(x, 3, 1, 1),
                               avg_pool_ref(x, (3, 3), (1, 1), (1, 1), False, True),
                               rtol=1e-5, atol=1e-6)


# -------------------------------------------------------------- bad input ----
X2 = np.zeros((1, 2, 6, 6))
BAD = [
    ("kernel0", lambda: fastconv.max_pool2d(X2, 0), ValueError, "kernel_size"),
    ("kernel_len", lambda: fastconv.max_pool2d(X2, (2, 2, 2)), ValueError, "kernel_size"),
    ("kernel_float", lambda: fastconv.avg_pool2d(X2, 2.0), TypeError, "kernel_size"),
    ("stride0", lambda: fastconv.max_pool2d(X2, 2, 0), ValueError, "stride"),
    ("stride_neg", lambda: fastconv.avg_pool1d(X2[0], 2, -1), ValueError, "stride"),
    ("dilation0", lambda: fastconv.max_pool2d(X2, 2, dilation=0), ValueError, "dilation"),
    ("pad_gt_half", lambda: fastconv.max_pool2d(X2, 3, padding=2), ValueError, "padding"),
    ("pad_gt_half_avg", lambda: fastconv.avg_pool2d(X2, (4, 2), padding=(2, 2)), ValueError,
     "padding"),
    ("pad_neg", lambda: fastconv.avg_pool2d(X2, 3, padding=-1), ValueError, "padding"),
    ("out_lt_1", lambda: fastconv.max_pool2d(X2, 7), ValueError, "output size"),
    ("out_lt_1_dil", lambda: fastconv.max_pool1d(X2[0], 3, dilation=3), ValueError,
     "output size"),
    ("window_only_padding", lambda: fastconv.max_pool1d(np.zeros((1, 1, 1)), 2, 1, 1, dilation=2),
     ValueError, "padding"),
    ("ceil_not_bool", lambda: fastconv.max_pool2d(X2, 2, ceil_mode=1), TypeError, "ceil_mode"),
    ("indices_not_bool", lambda: fastconv.max_pool2d(X2, 2, return_indices="yes"), TypeError,
     "return_indices"),
    ("cip_not_bool", lambda: fastconv.avg_pool2d(X2, 2, count_include_pad=None), TypeError,
     "count_include_pad"),
    ("rank_low", lambda: fastconv.max_pool2d(X2[0, 0], 2), ValueError, "x must have shape"),
    ("rank_high", lambda: fastconv.avg_pool1d(X2, 2), ValueError, "x must have shape"),
    ("rank_3d", lambda: fastconv.max_pool3d(X2[0], 2), ValueError, "x must have shape"),
    ("empty_channel", lambda: fastconv.max_pool2d(np.zeros((1, 0, 4, 4)), 2), ValueError, "empty"),
    ("int_dtype", lambda: fastconv.max_pool2d(X2.astype(np.int64), 2), TypeError, "dtype"),
    ("complex_dtype", lambda: fastconv.avg_pool2d(X2.astype(complex), 2), TypeError, "dtype"),
    ("f16_dtype", lambda: fastconv.global_avg_pool(X2.astype(np.float16)), TypeError, "dtype"),
    ("adaptive_0", lambda: fastconv.adaptive_avg_pool2d(X2, 0), ValueError, "output_size"),
    ("adaptive_len", lambda: fastconv.adaptive_max_pool2d(X2, (2, 2, 2)), ValueError,
     "output_size"),
    ("adaptive_type", lambda: fastconv.adaptive_avg_pool1d(X2[0], "3"), TypeError,
     "output_size"),
    ("adaptive_float", lambda: fastconv.adaptive_avg_pool2d(X2, (2, 1.5)), TypeError,
     "output_size"),
    ("adaptive_rank", lambda: fastconv.adaptive_avg_pool3d(X2[0], 2), ValueError,
     "x must have shape"),
    ("global_rank", lambda: fastconv.global_avg_pool(X2[0, 0]), ValueError, "x must have shape"),
    ("global_keepdims", lambda: fastconv.global_max_pool(X2, keepdims="no"), TypeError,
     "keepdims"),
    ("pyramid_rank", lambda: fastconv.spatial_pyramid_pool(X2[0]), ValueError,
     "x must have shape"),
    ("pyramid_levels_empty", lambda: fastconv.spatial_pyramid_pool(X2, ()), ValueError, "levels"),
    ("pyramid_levels_0", lambda: fastconv.spatial_pyramid_pool(X2, (1, 0)), ValueError, "levels"),
    ("pyramid_levels_int", lambda: fastconv.spatial_pyramid_pool(X2, 2), ValueError, "levels"),
    ("pyramid_levels_float", lambda: fastconv.spatial_pyramid_pool(X2, (1, 2.0)), TypeError,
     "levels"),
    ("pyramid_mode", lambda: fastconv.spatial_pyramid_pool(X2, mode="sum"), ValueError, "mode"),
    ("bwd_grad_shape", lambda: fastconv.max_pool2d_backward(np.zeros((1, 2, 2, 2)), X2, 2),
     ValueError, "grad_output"),
    ("bwd_grad_dtype", lambda: fastconv.avg_pool2d_backward(np.zeros((1, 2, 3, 3), int), X2, 2),
     TypeError, "dtype"),
    ("bwd_adaptive_rank", lambda: fastconv.adaptive_avg_pool2d_backward(np.zeros((2, 3, 3)), X2),
     ValueError, "grad_output"),
    ("bwd_adaptive_nc", lambda: fastconv.adaptive_max_pool2d_backward(np.zeros((1, 3, 3, 3)), X2),
     ValueError, "grad_output"),
    ("bwd_global_shape", lambda: fastconv.global_avg_pool_backward(np.zeros((1, 2, 1, 1)), X2),
     ValueError, "grad_output"),
    ("bwd_pyramid_shape",
     lambda: fastconv.spatial_pyramid_pool_backward(np.zeros((1, 40)), X2), ValueError,
     "grad_output"),
    ("bwd_pyramid_mode",
     lambda: fastconv.spatial_pyramid_pool_backward(np.zeros((1, 42)), X2, mode="min"),
     ValueError, "mode"),
]


@pytest.mark.parametrize("name, call, exc, match", BAD, ids=[b[0] for b in BAD])
def test_bad_input(name, call, exc, match):
    with pytest.raises(exc, match=match) as info:
        call()
    assert "pool" in str(info.value)       # the message names the operation


# 2x2 windows at stride 2 without padding run by whole-row even/odd splits
# (AVG_ROW_2X2): widths around the vector blocks (the last block overlapping),
# odd input sizes (the last cell unread), float32 and float64 on every SIMD
# path.  The sum is taken in the (kh, kw) scan order, then scaled by 1/4, so
# the bits equal this NumPy formula.
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("shape", [(2, 3, 4, 32), (1, 2, 5, 33), (1, 1, 6, 35), (1, 2, 3, 64),
                                   (2, 1, 7, 81), (1, 1, 4, 97)], ids=str)
def test_avg_pool_2x2_by_rows_bitwise(shape, dtype, rng, simd_path):
    x = rng.standard_normal(shape).astype(dtype)
    h, w = shape[2] // 2 * 2, shape[3] // 2 * 2
    a, b = x[..., 0:h:2, 0:w:2], x[..., 0:h:2, 1:w:2]
    c, d = x[..., 1:h:2, 0:w:2], x[..., 1:h:2, 1:w:2]
    expected = (((a + b) + c) + d) * dtype(0.25)
    got = fastconv.avg_pool2d(x, 2, 2)
    assert got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()
    np.testing.assert_allclose(got, avg_pool_ref(x, (2, 2), (2, 2), (0, 0), False, True),
                               atol=1e-6 if dtype == np.float32 else 1e-14)


# Value-only rows by cached row maxima store whole vectors, spilling into the
# task's next rows (rewritten by their own stores) but never past the task:
# rows narrower than a vector, many planes, teams of 2 and 3 threads.
@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("width", [3, 7, 15, 17])
def test_max_pool_row_spill_stays_in_task(width, threads, rng, restore_threads):
    x = rng.standard_normal((8, 64, 41, width)).astype(np.float32)
    fastconv.set_num_threads(threads)
    work = x.shape[0] * x.shape[1] * 21 * ((width - 1) // 2 + 1) * 9
    assert _threads.team_size(work) >= 2  # the rows are shared out
    # the 9 taps of each window as strided views of the -inf padded input
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    oh, ow = 21, (width - 1) // 2 + 1
    ref = np.max([xp[..., a:a + 2 * oh:2, b:b + 2 * ow:2] for a in range(3) for b in range(3)],
                 axis=0)
    for _ in range(3):
        np.testing.assert_array_equal(fastconv.max_pool2d(x, 3, 2, 1), ref)
