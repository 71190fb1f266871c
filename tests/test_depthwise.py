"""depthwise_conv2d / separable_conv2d and their backward: against the NumPy
references (tests/reference.py with groups = C, tests/ref_depthwise.py) over a
grid of every option, against fastconv.conv2d(groups=C) and PyTorch, by finite
differences and the adjoint identity, across dtypes, thread counts, SIMD paths
and layouts, and with bad input."""
import threading
from dataclasses import dataclass, field, replace

import numpy as np
import pytest

import fastconv
from fastconv._ext import _depthwise
from ref_depthwise import (depthwise_backward_reference, depthwise_reference,
                           separable_backward_reference, separable_reference)
from reference import padding_pairs, reference_output_size

PAD_MODES = ("zeros", "reflect", "replicate", "circular")
DTYPES = (np.float32, np.float64)
DT_IDS = {np.float32: "float32", np.float64: "float64"}


# ------------------------------------------------------------------ cases ----
@dataclass(frozen=True)
class DW:
    """One call.  x: (n, c, *size); depthwise weight (c*m, 1, *kernel);
    pointwise weight (c_pw, c*m, 1, 1) for the separable convolution."""
    n: int
    c: int
    m: int
    size: tuple
    kernel: tuple
    stride: object = 1
    padding: object = 0
    dilation: object = 1
    padding_mode: str = "zeros"
    bias: bool = True
    c_pw: int = 3
    tags: tuple = field(default=(), compare=False)

    def per_axis(self, value):
        return (value,) * 2 if isinstance(value, int) else tuple(value)

    @property
    def pairs(self):
        return padding_pairs(self.padding, self.kernel, self.stride, self.dilation)

    @property
    def out_size(self):
        return reference_output_size(self.size, self.kernel, self.per_axis(self.stride),
                                     self.pairs, self.per_axis(self.dilation))

    @property
    def cm(self):
        return self.c * self.m

    def valid(self):
        if self.padding_mode == "reflect" and any(
                max(p) >= s for p, s in zip(self.pairs, self.size)):
            return False
        return min(self.out_size) >= 1

    @property
    def id(self):
        def fmt(v):
            if isinstance(v, (str, int)):
                return str(v)
            return "x".join("(" + "_".join(map(str, e)) + ")" if isinstance(e, tuple) else str(e)
                            for e in v)
        return (f"n{self.n}-c{self.c}m{self.m}-in{fmt(self.size)}-k{fmt(self.kernel)}"
                f"-s{fmt(self.stride)}-p{fmt(self.padding)}-d{fmt(self.dilation)}"
                f"-{self.padding_mode}-{'bias' if self.bias else 'nobias'}")

    def kwargs(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    padding_mode=self.padding_mode)

    def ref_args(self):
        return (self.per_axis(self.stride), self.pairs, self.per_axis(self.dilation),
                self.padding_mode)

    def arrays(self, rng, dtype):
        """x, depthwise weight, depthwise bias (or None)."""
        x = rng.uniform(-1, 1, (self.n, self.c) + tuple(self.size)).astype(dtype)
        w = rng.uniform(-1, 1, (self.cm, 1) + tuple(self.kernel)).astype(dtype)
        b = rng.uniform(-1, 1, self.cm).astype(dtype) if self.bias else None
        return x, w, b

    def pointwise(self, rng, dtype):
        pw = rng.uniform(-1, 1, (self.c_pw, self.cm, 1, 1)).astype(dtype)
        pb = rng.uniform(-1, 1, self.c_pw).astype(dtype) if self.bias else None
        return pw, pb

    def grad_output(self, rng, dtype, channels=None):
        shape = (self.n, self.cm if channels is None else channels) + self.out_size
        return rng.uniform(-1, 1, shape).astype(dtype)


def _expand(geometries, modes=PAD_MODES):
    """Each geometry under each padding mode, bias alternating; reflect cases
    whose padding reaches the input size are dropped."""
    cases = []
    for i, geo in enumerate(geometries):
        for j, mode in enumerate(modes):
            case = replace(geo, padding_mode=mode, bias=(i + j) % 2 == 0)
            if case.valid():
                cases.append(case)
            else:
                assert mode == "reflect", f"invalid geometry {case.id}"
    ids = [c.id for c in cases]
    assert len(set(ids)) == len(ids), "duplicate case ids"
    return cases


def G(n, c, m, size, kernel, tags="", **kw):
    return DW(n, c, m, tuple(size), tuple(kernel), tags=tuple(tags.split()), **kw)


GEOMETRIES = [
    G(2, 3, 1, (8, 8), (3, 3), "basic batch", padding=1),
    G(1, 4, 2, (9, 10), (3, 3), "multiplier2", padding=1),
    G(2, 3, 3, (7, 9), (3, 2), "multiplier3 nonsquare", padding=(1, 0)),
    G(1, 3, 1, (9, 8), (3, 3), "stride2", stride=2, padding=1),
    G(1, 2, 2, (10, 11), (3, 3), "stride3 multiplier2", stride=3, padding=1),
    G(1, 2, 1, (11, 13), (2, 3), "stride_tuple", stride=(2, 3), padding=(0, 1)),
    G(1, 2, 1, (12, 13), (2, 2), "large_stride", stride=5, padding=1),
    G(1, 3, 2, (9, 9), (3, 3), "dilation", dilation=2, padding=2),
    G(1, 2, 1, (10, 9), (2, 3), "dilation_tuple", dilation=(2, 3), padding=(1, 2)),
    G(1, 2, 3, (11, 12), (3, 3), "dilation stride2 multiplier3", dilation=2, stride=2,
      padding=2),
    G(1, 2, 1, (6, 7), (3, 3), "padding_int", padding=2),
    G(1, 2, 1, (6, 7), (3, 5), "padding_tuple", padding=(1, 2)),
    G(2, 2, 1, (6, 7), (3, 2), "valid", padding="valid"),
    G(1, 2, 2, (6, 7), (3, 3), "same", padding="same"),
    G(1, 2, 1, (6, 7), (4, 2), "same same_even", padding="same"),
    G(1, 2, 1, (7, 8), (3, 2), "same dilation", padding="same", dilation=(2, 3)),
    G(1, 3, 1, (6, 6), (3, 3), "asym", padding=((0, 2), (1, 0))),
    G(1, 2, 2, (7, 8), (3, 3), "asym stride2", padding=((2, 1), (0, 2)), stride=2),
    G(1, 2, 1, (6, 5), (2, 3), "asym mixed_pair", padding=((1, 2), 1)),
    G(1, 2, 1, (5, 4), (7, 6), "full_kernel", padding=1),
    G(1, 2, 2, (4, 6), (4, 6), "full_kernel valid", padding="valid"),
    G(1, 1, 2, (3, 3), (6, 4), "full_kernel asym", padding=((1, 2), (0, 1))),
    G(1, 2, 1, (5, 6), (1, 1), "k1x1"),
    G(1, 2, 1, (3, 3), (3, 3), "pad_gt_size", padding=4),
    G(0, 3, 2, (6, 6), (3, 3), "empty_batch", padding=1),
    G(1, 1, 1, (1, 1), (1, 1), "tiny"),
    G(1, 2, 1, (1, 9), (1, 3), "one_row", padding=(0, 1)),
    G(1, 1, 2, (3, 70), (3, 3), "wide", padding=1, stride=(1, 2)),
    G(1, 2, 1, (21, 5), (3, 3), "tall", padding=1),
    G(1, 1, 1, (2, 600), (1, 5), "long_row", padding=(0, 2)),
    G(1, 1, 1, (3, 1100), (2, 3), "long_row stride2", stride=(1, 2), dilation=(1, 3),
      padding=2),
    G(2, 3, 2, (13, 11), (5, 3), "combo primes odd", stride=(2, 3), dilation=(1, 2),
      padding=(2, 1)),
]
CASES = _expand(GEOMETRIES)
REQUIRED = {"basic", "batch", "multiplier2", "multiplier3", "stride2", "stride3",
            "large_stride", "dilation", "padding_int", "padding_tuple", "valid", "same",
            "same_even", "asym", "full_kernel", "k1x1", "empty_batch", "long_row", "tall",
            "odd"}
# Small enough for the backward reference (loops over taps and output channels).
BWD_CASES = [c for c in CASES if c.n * c.c * np.prod(c.size) <= 400]


def _close(got, expected, dtype, tol, k, params):
    assert isinstance(got, np.ndarray), f"result is {type(got)}: {params}"
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}: {params}"
    assert got.dtype == np.dtype(dtype), f"dtype {got.dtype}: {params}"
    assert got.flags.c_contiguous, f"not C-contiguous: {params}"
    t = tol(dtype, k)
    np.testing.assert_allclose(got, expected, rtol=t, atol=t, equal_nan=True,
                               err_msg=f"tolerance {t:.3g}; parameters: {params}")


def _check_backward(case, gy, x, w, dtype, tol, params):
    """depthwise_conv2d_backward's three gradients against the NumPy reference."""
    gx, gw, gb = fastconv.depthwise_conv2d_backward(gy, x, w, **case.kwargs())
    rx, rw, rb = depthwise_backward_reference(gy, x, w, *case.ref_args())
    _close(gx, rx, dtype, tol, _k_gx(case), "grad_input " + params)
    _close(gw, rw, dtype, tol, _k_gw(case), "grad_weight " + params)
    _close(gb, rb, dtype, tol, _k_gw(case), "grad_bias " + params)


def _k_fwd(case):
    return int(np.prod(case.kernel))


def _k_sep(case):
    return int(np.prod(case.kernel)) * case.cm


def _k_gw(case):
    return max(case.n, 1) * int(np.prod(case.out_size))


def _k_gx(case):
    # every input cell collects m * taps contributions, possibly folded a few times
    return case.m * int(np.prod(case.kernel)) * 4


def test_grid_size_and_coverage():
    n_configs = len(CASES) * len(DTYPES)
    print(f"depthwise grid: {len(CASES)} cases x {len(DTYPES)} dtypes = {n_configs}; "
          f"backward grid {len(BWD_CASES)} cases")
    assert n_configs >= 200 and len(BWD_CASES) >= 80
    tags = {t for c in CASES for t in c.tags}
    assert REQUIRED <= tags, REQUIRED - tags
    assert {c.padding_mode for c in CASES} == set(PAD_MODES)
    assert {c.padding_mode for c in BWD_CASES} == set(PAD_MODES)
    assert {c.bias for c in CASES} == {True, False}
    assert {1, 2, 3} <= {c.m for c in CASES}
    assert {1, 2, 3} <= {s for c in CASES for s in c.per_axis(c.stride)}
    assert any(max(c.per_axis(c.dilation)) > 1 and max(c.per_axis(c.stride)) > 1 for c in CASES)
    assert any(c.out_size == (1, 1) and max(c.kernel) > 1 for c in CASES)
    assert any(c.out_size[1] > 512 for c in CASES)                  # several row segments
    assert any(c.out_size[0] > 8 for c in BWD_CASES)                # several row blocks
    for mode in PAD_MODES:
        assert any(c.padding_mode == mode and any(map(any, c.pairs)) for c in BWD_CASES)
    forms = {type(c.padding) for c in CASES}
    assert {int, str, tuple} <= forms
    assert any(isinstance(c.padding, tuple) and any(isinstance(p, tuple) for p in c.padding)
               for c in CASES)


# ------------------------------------------------------- forward vs reference ----
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_depthwise_matches_reference(case, dtype, rng, tol):
    x, w, b = case.arrays(rng, dtype)
    got = fastconv.depthwise_conv2d(x, w, b, **case.kwargs())
    expected = depthwise_reference(x, w, b, *case.ref_args())
    _close(got, expected, dtype, tol, _k_fwd(case), f"{case} {DT_IDS[dtype]}")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", CASES[::2], ids=lambda c: c.id)
def test_separable_matches_reference(case, dtype, rng, tol):
    x, w, b = case.arrays(rng, dtype)
    pw, pb = case.pointwise(rng, dtype)
    got = fastconv.separable_conv2d(x, w, pw, b, pb, **case.kwargs())
    expected = separable_reference(x, w, pw, b, pb, *case.ref_args())
    _close(got, expected, dtype, tol, _k_sep(case), f"{case} {DT_IDS[dtype]}")


def test_depthwise_by_hand():
    """Multiplier 2: output channel c*2 + j reads input channel c."""
    x = np.zeros((1, 2, 3, 3))
    x[0, 0] = 1.0
    x[0, 1] = 10.0
    w = np.ones((4, 1, 2, 2))
    w[1] *= 2
    w[3] *= 3
    got = fastconv.depthwise_conv2d(x, w, bias=[0.5, 0, 0, 0])
    np.testing.assert_array_equal(got[0, :, 0, 0], [4.5, 8, 40, 120])
    np.testing.assert_array_equal(got.shape, (1, 4, 2, 2))


@pytest.mark.parametrize("mode, expected", [
    ("zeros", [0, 0, 1, 2, 3, 4, 0, 0]),
    ("reflect", [3, 2, 1, 2, 3, 4, 3, 2]),
    ("replicate", [1, 1, 1, 2, 3, 4, 4, 4]),
    ("circular", [3, 4, 1, 2, 3, 4, 1, 2]),
])
def test_padding_modes_by_hand(mode, expected):
    """A 1-tap identity kernel returns the padded row itself."""
    x = np.array([[[[1.0, 2.0, 3.0, 4.0]]]])
    got = fastconv.depthwise_conv2d(x, np.ones((1, 1, 1, 1)), padding=((0, 0), (2, 2)),
                                    padding_mode=mode)
    np.testing.assert_array_equal(got[0, 0, 0], expected)


# ---------------------------------------------------------------- identities ----
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", CASES[::3], ids=lambda c: c.id)
def test_depthwise_equals_grouped_conv2d(case, dtype, rng, tol):
    """Against the grouped-convolution GEMM kernel (conv2d's 'direct' and 'auto'
    run the depthwise kernels themselves on these shapes, see below)."""
    x, w, b = case.arrays(rng, dtype)
    got = fastconv.depthwise_conv2d(x, w, b, **case.kwargs())
    grouped = fastconv.conv2d(x, w, b, groups=case.c, **case.kwargs(), algorithm="gemm")
    _close(got, grouped.astype(np.float64), dtype, tol, _k_fwd(case) * 2, str(case))


@pytest.mark.parametrize("case", [c for c in CASES if c.c > 1][::4], ids=lambda c: c.id)
def test_conv2d_with_groups_c_runs_the_depthwise_kernels(case, rng):
    """conv2d(groups=C), C > 1, is a depthwise convolution: 'auto' takes 'direct',
    which runs depthwise_conv2d's kernels (the same bits), forward and backward.
    (C = 1 is groups=1, an ordinary convolution.)"""
    from fastconv import _select, _validate
    x, w, b = case.arrays(rng, np.float32)
    kw = case.kwargs()
    spec = _validate.check_conv("conv2d", 2, x, w, b, kw["stride"], kw["padding"],
                                kw["dilation"], case.c, kw["padding_mode"], None).spec
    pointwise = spec.kernel == (1, 1, 1)   # a per-channel scale: 'gemm' then
    assert _select.auto_algorithm(spec) == ("gemm" if pointwise else "direct")
    expected = fastconv.depthwise_conv2d(x, w, b, **kw)
    for algorithm in ("direct",) if pointwise else ("auto", "direct"):
        got = fastconv.conv2d(x, w, b, groups=case.c, **kw, algorithm=algorithm)
        assert got.tobytes() == expected.tobytes(), (case, algorithm)
    g = rng.standard_normal(expected.shape).astype(np.float32)
    want = fastconv.depthwise_conv2d_backward(g, x, w, **kw)
    got = fastconv.conv2d_backward(g, x, w, groups=case.c, **kw, algorithm="direct")
    for a, e in zip(got, want):
        assert a.tobytes() == e.tobytes(), case


def test_mobilenet_layer_through_conv2d_groups(rng):
    """A MobileNetV2 depthwise layer written the PyTorch way, with stride 2 and a
    channel multiplier, against the plain-loop reference."""
    from reference import conv_nd_reference
    x = rng.standard_normal((2, 24, 23, 21))
    w = rng.standard_normal((48, 1, 3, 3))
    b = rng.standard_normal(48)
    got = fastconv.conv2d(x, w, b, stride=2, padding=1, groups=24)
    want = conv_nd_reference(x, w, b, (2, 2), ((1, 1), (1, 1)), (1, 1), 24, "zeros")
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", CASES[1::3], ids=lambda c: c.id)
def test_separable_equals_depthwise_then_pointwise(case, dtype, rng, tol):
    x, w, b = case.arrays(rng, dtype)
    pw, pb = case.pointwise(rng, dtype)
    got = fastconv.separable_conv2d(x, w, pw, b, pb, **case.kwargs())
    two_steps = fastconv.conv2d(fastconv.depthwise_conv2d(x, w, b, **case.kwargs()), pw, pb)
    _close(got, two_steps.astype(np.float64), dtype, tol, _k_sep(case) * 2, str(case))


# Tiles of the fused separable kernel: several row tiles per image, row
# segments (W_out > 512), one tile holding the whole image, a C*m too large
# for a multi-row tile.
TILE_CASES = [
    G(1, 8, 2, (40, 30), (3, 3), padding=1, c_pw=5),
    G(2, 3, 1, (5, 600), (3, 5), padding=(1, 2), stride=(1, 1), c_pw=4),
    G(1, 2, 1, (3, 1300), (1, 3), stride=(1, 2), padding=(0, 1), c_pw=17),
    G(3, 4, 3, (5, 6), (3, 3), padding="same", c_pw=2),
    G(1, 700, 1, (4, 100), (1, 3), padding=(0, 1), c_pw=3),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", TILE_CASES, ids=lambda c: c.id)
def test_separable_tiles(case, dtype, rng, tol):
    x, w, b = case.arrays(rng, dtype)
    pw, pb = case.pointwise(rng, dtype)
    got = fastconv.separable_conv2d(x, w, pw, b, pb, **case.kwargs())
    expected = separable_reference(x, w, pw, b, pb, *case.ref_args())
    _close(got, expected, dtype, tol, _k_sep(case), str(case))


def test_separable_tile_bound():
    """The per-thread tile stays within the documented bound and splits large
    images (so the (N, C*m, H_out, W_out) intermediate is never stored)."""
    from fastconv import _validate
    for (n, cm, oh, ow), item in [((1, 144, 56, 56), 4), ((4, 32, 224, 224), 4),
                                  ((1, 8, 3, 2000), 8), ((1, 5000, 7, 7), 4),
                                  ((1, 3, 2, 2), 8)]:
        spec = _validate.ConvSpec(n=n, c_in=cm, c_out=cm, groups=cm, in_size=(1, oh, ow),
                                  out_size=(1, oh, ow), kernel=(1, 1, 1), stride=(1, 1, 1),
                                  dilation=(1, 1, 1), pad_before=(0, 0, 0),
                                  pad_after=(0, 0, 0), pad_mode=0)
        rows, cols = _depthwise.separable_tile(spec, item)
        assert 1 <= rows <= oh and 1 <= cols <= ow
        assert cols == ow or rows == 1
        assert cm * rows * cols * item <= max(256 << 10, cm * 512 * item)
        if n * oh >= 8:
            assert n * -(-oh // rows) * -(-ow // cols) >= 8


# ------------------------------------------------ dedicated kernel paths ----
# Shapes for the 2-D K x K micro-kernels (K = 3, 5; row stride 1, 2) with every
# tile width (1 .. 4 vectors and narrower than one vector, in float32 and
# float64 at every SIMD width), row counts that are not a multiple of the tile
# rows, and the stride-1 input gradient computed by the forward kernel
# (padding beyond what the kernel reads, dilation); larger than BWD_CASES.
FAST_GEOMETRIES = [
    G(1, 2, 1, (19, 56), (3, 3), "k3 w56", padding=1),
    G(1, 2, 2, (13, 40), (3, 3), "k3 w40 multiplier2", padding=1),
    G(2, 1, 1, (17, 29), (3, 3), "k3 w29", padding=(1, 2)),
    G(1, 3, 1, (14, 14), (3, 3), "k3 w14", padding=1),
    G(1, 2, 1, (9, 7), (3, 3), "k3 w7", padding=1),
    G(1, 2, 1, (23, 45), (3, 3), "k3 stride2", stride=2, padding=1),
    G(1, 2, 1, (12, 33), (3, 3), "k3 stride_rows2", stride=(2, 1), padding=(1, 0)),
    G(1, 2, 1, (15, 37), (5, 5), "k5", padding=2),
    G(1, 2, 1, (16, 31), (5, 5), "k5 stride2", stride=2, padding=2),
    G(1, 2, 1, (11, 21), (3, 3), "k3 dilation_cols", dilation=(1, 2), padding=(1, 3)),
    G(1, 2, 1, (11, 21), (3, 3), "k3 dilation_rows", dilation=(2, 1), padding=2),
    G(1, 2, 1, (10, 18), (3, 3), "k3 overpadded", padding=(3, 4)),
    # the direct 3x3 kernel (zero padding, equal strides 1 or 2): padding 0
    # and 2, odd and even widths, one-sided padding, a multiplier
    G(1, 2, 2, (20, 71), (3, 3), "k3 stride2 pad0 multiplier2", stride=2),
    G(1, 2, 1, (15, 36), (3, 3), "k3 stride2 pad2", stride=2, padding=2),
    G(1, 1, 1, (12, 35), (3, 3), "k3 stride2 one-sided", stride=2,
      padding=((2, 0), (0, 2))),
    G(1, 2, 1, (13, 34), (3, 3), "k3 one-sided", padding=((0, 2), (2, 1))),
]
FAST_CASES = _expand(FAST_GEOMETRIES)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", FAST_CASES, ids=lambda c: c.id)
def test_depthwise_fast_paths(case, dtype, rng, tol):
    x, w, b = case.arrays(rng, dtype)
    params = f"{case} {DT_IDS[dtype]}"
    _close(fastconv.depthwise_conv2d(x, w, b, **case.kwargs()),
           depthwise_reference(x, w, b, *case.ref_args()), dtype, tol, _k_fwd(case), params)
    gy = case.grad_output(rng, dtype)
    _check_backward(case, gy, x, w, dtype, tol, params)


# -------------------------------------------------------- backward vs reference ----
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", BWD_CASES, ids=lambda c: c.id)
def test_depthwise_backward_matches_reference(case, dtype, rng, tol):
    x, w, _ = case.arrays(rng, dtype)
    gy = case.grad_output(rng, dtype)
    gx, gw, gb = fastconv.depthwise_conv2d_backward(gy, x, w, **case.kwargs())
    rx, rw, rb = depthwise_backward_reference(gy, x, w, *case.ref_args())
    params = f"{case} {DT_IDS[dtype]}"
    _close(gx, rx, dtype, tol, _k_gx(case), "grad_input " + params)
    _close(gw, rw, dtype, tol, _k_gw(case), "grad_weight " + params)
    _close(gb, rb, dtype, tol, _k_gw(case), "grad_bias " + params)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", BWD_CASES[::3], ids=lambda c: c.id)
def test_separable_backward_matches_reference(case, dtype, rng, tol):
    x, w, b = case.arrays(rng, dtype)
    pw, _ = case.pointwise(rng, dtype)
    gy = case.grad_output(rng, dtype, channels=case.c_pw)
    got = fastconv.separable_conv2d_backward(gy, x, w, pw, b, **case.kwargs())
    ref = separable_backward_reference(gy, x, w, pw, b, *case.ref_args())
    names = ("grad_input", "grad_depthwise_weight", "grad_pointwise_weight",
             "grad_depthwise_bias", "grad_pointwise_bias")
    ks = (_k_gx(case) * case.c_pw, _k_gw(case) * case.c_pw, _k_gw(case) * _k_fwd(case),
          _k_gw(case) * case.c_pw, _k_gw(case))
    for g, r, name, k in zip(got, ref, names, ks):
        _close(g, r, dtype, tol, k, f"{name} {case} {DT_IDS[dtype]}")


def test_backward_need_flags(rng):
    case = G(2, 3, 2, (6, 7), (3, 3), padding=1)
    x, w, _ = case.arrays(rng, np.float64)
    gy = case.grad_output(rng, np.float64)
    full = fastconv.depthwise_conv2d_backward(gy, x, w, padding=1)
    gx, gw, gb = fastconv.depthwise_conv2d_backward(gy, x, w, padding=1, need_input=False,
                                                    need_bias=False)
    assert gx is None and gb is None
    np.testing.assert_array_equal(gw, full[1])
    pw, _ = case.pointwise(rng, np.float64)
    gy2 = case.grad_output(rng, np.float64, channels=case.c_pw)
    res = fastconv.separable_conv2d_backward(gy2, x, w, pw, padding=1, need_bias=False)
    assert res[3] is None and res[4] is None
    assert [r.shape for r in res[:3]] == [x.shape, w.shape, pw.shape]
    sep_full = fastconv.separable_conv2d_backward(gy2, x, w, pw, padding=1)
    no_input = fastconv.separable_conv2d_backward(gy2, x, w, pw, padding=1, need_input=False)
    assert no_input[0] is None
    for got, ref in zip(no_input[1:], sep_full[1:]):
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
def test_separable_backward_in_batch_chunks(dtype, rng, tol, monkeypatch):
    """With a scratch budget of about one and a half images, the backward runs
    over chunks of one image; gradients still match the reference."""
    case = G(5, 3, 2, (9, 8), (3, 3), stride=(2, 1), padding=1, padding_mode="reflect")
    x, w, b = case.arrays(rng, dtype)
    pw, _ = case.pointwise(rng, dtype)
    gy = case.grad_output(rng, dtype, channels=case.c_pw)
    image_bytes = w.shape[0] * gy[0, 0].size * np.dtype(dtype).itemsize
    monkeypatch.setattr(fastconv.depthwise, "SEPARABLE_BACKWARD_SCRATCH_BYTES",
                        image_bytes * 3 // 2)
    got = fastconv.separable_conv2d_backward(gy, x, w, pw, b, **case.kwargs())
    ref = separable_backward_reference(gy, x, w, pw, b, *case.ref_args())
    ks = (_k_gx(case) * case.c_pw, _k_gw(case) * case.c_pw, _k_gw(case) * _k_fwd(case),
          _k_gw(case) * case.c_pw, _k_gw(case))
    for g, r, k in zip(got, ref, ks):
        _close(g, r, dtype, tol, k, f"{case} {DT_IDS[dtype]}")


# ---------------------------------------------- finite differences / adjoint ----
def _numeric_grads(loss, arrays, h=1e-3):
    """Central differences of loss() with respect to every element of each array
    (modified in place and restored).  The losses here are affine in each single
    element, so the differences are exact up to rounding."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + h
            up = loss()
            a[i] = old - h
            down = loss()
            a[i] = old
            g[i] = (up - down) / (2 * h)
        grads.append(g)
    return grads


FD_CASES = [
    G(2, 2, 2, (5, 6), (3, 3), stride=2, dilation=(1, 2), padding=((1, 2), (2, 1))),
    G(1, 2, 1, (4, 5), (2, 3), stride=1, padding=(1, 2)),
    G(1, 1, 3, (3, 4), (3, 3), stride=(1, 3), padding=2),
]


def _with_modes(geos, **kw):
    """Each geometry with each padding mode it admits (reflect needs padding
    smaller than the input)."""
    cases = [replace(geo, padding_mode=mode, **kw) for geo in geos for mode in PAD_MODES]
    return [c for c in cases if c.valid()]


@pytest.mark.parametrize("case", _with_modes(FD_CASES), ids=lambda c: c.id)
def test_depthwise_backward_finite_differences(case, rng):
    x, w, b = case.arrays(rng, np.float64)
    gy = case.grad_output(rng, np.float64)

    def loss():
        return float(np.sum(fastconv.depthwise_conv2d(x, w, b, **case.kwargs()) * gy))

    nx, nw, nb = _numeric_grads(loss, [x, w, b])
    gx, gw, gb = fastconv.depthwise_conv2d_backward(gy, x, w, **case.kwargs())
    for got, num, name in ((gx, nx, "grad_input"), (gw, nw, "grad_weight"), (gb, nb, "grad_bias")):
        np.testing.assert_allclose(got, num, rtol=1e-8, atol=1e-8, err_msg=f"{name} {case}")


@pytest.mark.parametrize("mode", PAD_MODES)
def test_separable_backward_finite_differences(mode, rng):
    case = G(1, 2, 2, (5, 6), (3, 3), stride=(2, 1), dilation=(1, 2), padding=((1, 2), (2, 1)),
             padding_mode=mode, c_pw=3)
    x, w, b = case.arrays(rng, np.float64)
    pw, pb = case.pointwise(rng, np.float64)
    gy = case.grad_output(rng, np.float64, channels=case.c_pw)

    def loss():
        return float(np.sum(fastconv.separable_conv2d(x, w, pw, b, pb, **case.kwargs()) * gy))

    numeric = _numeric_grads(loss, [x, w, pw, b, pb])
    got = fastconv.separable_conv2d_backward(gy, x, w, pw, b, **case.kwargs())
    names = ("grad_input", "grad_depthwise_weight", "grad_pointwise_weight",
             "grad_depthwise_bias", "grad_pointwise_bias")
    for g, num, name in zip(got, numeric, names):
        np.testing.assert_allclose(g, num, rtol=1e-8, atol=1e-8, err_msg=f"{name} {case}")


@pytest.mark.parametrize("case", _with_modes([
    G(2, 3, 2, (9, 8), (3, 3), stride=2, padding=1),
    G(1, 2, 3, (7, 40), (2, 5), stride=(1, 3), dilation=(2, 1), padding=((1, 0), (2, 3))),
    G(1, 1, 1, (4, 700), (3, 3), padding=(1, 2)),
], bias=False), ids=lambda c: c.id)
def test_adjoint_identity(case, rng):
    """<f(x), y> == <x, f^T(y)> for the input gradient, and likewise for the
    weights (the depthwise convolution without bias is linear in each)."""
    x, w, _ = case.arrays(rng, np.float64)
    y = case.grad_output(rng, np.float64)
    fx = fastconv.depthwise_conv2d(x, w, **case.kwargs())
    gx, gw, _ = fastconv.depthwise_conv2d_backward(y, x, w, **case.kwargs())
    lhs = np.vdot(fx, y)
    np.testing.assert_allclose(np.vdot(x, gx), lhs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.vdot(w, gw), lhs, rtol=1e-12, atol=1e-12)


# -------------------------------------------------------------------- torch ----
def _torch_forward(torch, case, tx, tw, tb):
    F = torch.nn.functional
    pad = []
    for before, after in reversed(case.pairs):       # torch: last axis first
        pad += [before, after]
    tmode = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
             "circular": "circular"}[case.padding_mode]
    if any(pad):
        tx = F.pad(tx, pad, mode=tmode)
    return F.conv2d(tx, tw, tb, stride=case.stride, dilation=case.dilation, groups=case.c)


def _torch_can(case):
    # torch's circular pad wraps at most once; N = 0 is not interesting here
    return case.n > 0 and not (case.padding_mode == "circular"
                               and any(max(p) > s for p, s in zip(case.pairs, case.size)))


TORCH_CASES = [c for c in BWD_CASES if _torch_can(c)]
# subsets, to keep the runtime small (the NumPy references cover every case)
TORCH_DW = [c for i, c in enumerate(TORCH_CASES) if i % 3 != 1]
TORCH_SEP = TORCH_CASES[1::5]


def test_torch_subsets_cover_every_mode():
    for subset in (TORCH_DW, TORCH_SEP):
        assert {c.padding_mode for c in subset} == set(PAD_MODES)
        assert {1, 2, 3} <= {c.m for c in subset}


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", TORCH_DW, ids=lambda c: c.id)
def test_depthwise_matches_torch_autograd(case, dtype, rng, tol):
    torch = pytest.importorskip("torch")
    x, w, b = case.arrays(rng, dtype)
    b = rng.uniform(-1, 1, case.cm).astype(dtype)
    gy = case.grad_output(rng, dtype)
    tx, tw, tb = (torch.from_numpy(a.copy()).requires_grad_(True) for a in (x, w, b))
    ty = _torch_forward(torch, case, tx, tw, tb)
    ty.backward(torch.from_numpy(gy))
    params = f"{case} {DT_IDS[dtype]} vs torch"
    got = fastconv.depthwise_conv2d(x, w, b, **case.kwargs())
    _close(got, ty.detach().numpy().astype(np.float64), dtype, tol, _k_fwd(case), params)
    gx, gw, gb = fastconv.depthwise_conv2d_backward(gy, x, w, **case.kwargs())
    _close(gx, tx.grad.numpy().astype(np.float64), dtype, tol, _k_gx(case), "grad_input " + params)
    _close(gw, tw.grad.numpy().astype(np.float64), dtype, tol, _k_gw(case), "grad_weight " + params)
    _close(gb, tb.grad.numpy().astype(np.float64), dtype, tol, _k_gw(case), "grad_bias " + params)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", TORCH_SEP, ids=lambda c: c.id)
def test_separable_matches_torch_autograd(case, dtype, rng, tol):
    torch = pytest.importorskip("torch")
    x, w, b = case.arrays(rng, dtype)
    b = rng.uniform(-1, 1, case.cm).astype(dtype)
    pw, _ = case.pointwise(rng, dtype)
    pb = rng.uniform(-1, 1, case.c_pw).astype(dtype)
    gy = case.grad_output(rng, dtype, channels=case.c_pw)
    tens = [torch.from_numpy(a.copy()).requires_grad_(True) for a in (x, w, pw, b, pb)]
    tx, tw, tpw, tb, tpb = tens
    ty = torch.nn.functional.conv2d(_torch_forward(torch, case, tx, tw, tb), tpw, tpb)
    ty.backward(torch.from_numpy(gy))
    params = f"{case} {DT_IDS[dtype]} vs torch"
    got = fastconv.separable_conv2d(x, w, pw, b, pb, **case.kwargs())
    _close(got, ty.detach().numpy().astype(np.float64), dtype, tol, _k_sep(case), params)
    grads = fastconv.separable_conv2d_backward(gy, x, w, pw, b, **case.kwargs())
    order = (tx, tw, tpw, tb, tpb)
    ks = (_k_gx(case) * case.c_pw, _k_gw(case) * case.c_pw, _k_gw(case) * _k_fwd(case),
          _k_gw(case) * case.c_pw, _k_gw(case))
    for g, t, k in zip(grads, order, ks):
        _close(g, t.grad.numpy().astype(np.float64), dtype, tol, k, params)


@pytest.mark.parametrize("mode", PAD_MODES)
def test_matches_torch_module(mode, rng, tol):
    """torch.nn.Conv2d(groups=C, padding_mode=...) itself, multiplier 2."""
    torch = pytest.importorskip("torch")
    module = torch.nn.Conv2d(3, 6, (3, 2), stride=(2, 1), padding=(2, 1), dilation=(1, 2),
                             groups=3, bias=True, padding_mode=mode, dtype=torch.float64)
    x = rng.uniform(-1, 1, (2, 3, 7, 6))
    tx = torch.from_numpy(x).requires_grad_(True)
    ty = module(tx)
    gy = rng.uniform(-1, 1, tuple(ty.shape))
    ty.backward(torch.from_numpy(gy))
    w = module.weight.detach().numpy()
    b = module.bias.detach().numpy()
    kw = dict(stride=(2, 1), padding=(2, 1), dilation=(1, 2), padding_mode=mode)
    got = fastconv.depthwise_conv2d(x, w, b, **kw)
    np.testing.assert_allclose(got, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    gx, gw, gb = fastconv.depthwise_conv2d_backward(gy, x, w, **kw)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gw, module.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gb, module.bias.grad.numpy(), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------- NaN and Inf ----
def test_inf_in_unread_lanes_does_not_leak():
    """An Inf in the last input column is read only by the last tap of the last
    output: the other taps' weight gradients, and the outputs that do not read
    it, stay finite (vector tails must not multiply it by zero)."""
    for width in (5, 20, 37):
        x = np.ones((1, 1, 3, width), np.float32)
        x[..., -1] = np.inf
        w = np.ones((1, 1, 1, 3), np.float32)
        out = fastconv.depthwise_conv2d(x, w)
        assert np.isinf(out[..., -1]).all() and np.isfinite(out[..., :-1]).all()
        gy = np.ones(out.shape, np.float32)
        _, gw, gb = fastconv.depthwise_conv2d_backward(gy, x, w)
        assert np.isfinite(gw[..., :2]).all(), (width, gw)
        assert np.isinf(gw[..., 2]).all()
        np.testing.assert_array_equal(gw[..., :2], 3 * (width - 2))
        assert gb[0] == 3 * (width - 2)


def test_nan_propagates():
    x = np.zeros((1, 2, 7, 7))
    x[0, 1, 1, 1] = np.nan
    w = np.ones((4, 1, 2, 2))
    got = fastconv.depthwise_conv2d(x, w, stride=2)
    assert np.isnan(got[0, 2:]).sum() == 2 and not np.isnan(got[0, :2]).any()


# -------------------------------------------------- dtypes, layouts, out=, N=0 ----
@pytest.mark.parametrize("x_dt, w_dt, out_dt", [
    (np.float32, np.float32, np.float32), (np.float64, np.float64, np.float64),
    (np.float32, np.float64, np.float64), (np.float64, np.float32, np.float64),
], ids=lambda d: np.dtype(d).name)
def test_dtype_in_dtype_out(x_dt, w_dt, out_dt, rng):
    x = rng.uniform(-1, 1, (2, 3, 6, 7)).astype(x_dt)
    w = rng.uniform(-1, 1, (6, 1, 3, 3)).astype(w_dt)
    pw = rng.uniform(-1, 1, (4, 6, 1, 1)).astype(w_dt)
    assert fastconv.depthwise_conv2d(x, w, padding=1).dtype == out_dt
    assert fastconv.separable_conv2d(x, w, pw, padding=1).dtype == out_dt
    gy = rng.uniform(-1, 1, (2, 6, 6, 7)).astype(x_dt)
    assert all(g.dtype == out_dt for g in fastconv.depthwise_conv2d_backward(gy, x, w, padding=1))
    # promotion by the pointwise weight alone
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    got = fastconv.separable_conv2d(x32, w32, pw.astype(np.float64), padding=1)
    assert got.dtype == np.float64
    ref = separable_reference(x32, w32, pw.astype(np.float64), None, None, (1, 1),
                              ((1, 1), (1, 1)), (1, 1), "zeros")
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_unbatched(rng):
    x = rng.uniform(-1, 1, (3, 8, 9))
    w = rng.uniform(-1, 1, (6, 1, 3, 3))
    pw = rng.uniform(-1, 1, (2, 6, 1, 1))
    kw = dict(stride=2, padding=1, padding_mode="reflect")
    got = fastconv.depthwise_conv2d(x, w, **kw)
    np.testing.assert_array_equal(got, fastconv.depthwise_conv2d(x[None], w, **kw)[0])
    sep = fastconv.separable_conv2d(x, w, pw, **kw)
    np.testing.assert_array_equal(sep, fastconv.separable_conv2d(x[None], w, pw, **kw)[0])
    gy = rng.uniform(-1, 1, got.shape)
    gx, gw, gb = fastconv.depthwise_conv2d_backward(gy, x, w, **kw)
    bx, bw, bb = fastconv.depthwise_conv2d_backward(gy[None], x[None], w, **kw)
    assert gx.shape == x.shape
    np.testing.assert_array_equal(gx, bx[0])
    np.testing.assert_array_equal(gw, bw)
    gy2 = rng.uniform(-1, 1, sep.shape)
    res = fastconv.separable_conv2d_backward(gy2, x, w, pw, **kw)
    assert res[0].shape == x.shape
    ref = fastconv.separable_conv2d_backward(gy2[None], x[None], w, pw, **kw)
    np.testing.assert_array_equal(res[0], ref[0][0])


def test_non_contiguous_and_read_only(rng):
    base = rng.uniform(-1, 1, (2, 8, 10, 14))
    x = base[:, ::2, :, ::-2]                     # strided, negative strides
    w = np.asfortranarray(rng.uniform(-1, 1, (8, 1, 3, 3)))
    pw = rng.uniform(-1, 1, (3, 8, 1, 1))
    x.flags.writeable = False
    w.flags.writeable = False
    pw.flags.writeable = False
    kw = dict(padding=1, padding_mode="circular")
    xc, wc = np.ascontiguousarray(x), np.ascontiguousarray(w)
    np.testing.assert_array_equal(fastconv.depthwise_conv2d(x, w, **kw),
                                  fastconv.depthwise_conv2d(xc, wc, **kw))
    np.testing.assert_array_equal(fastconv.separable_conv2d(x, w, pw, **kw),
                                  fastconv.separable_conv2d(xc, wc, pw.copy(), **kw))
    gy = rng.uniform(-1, 1, (2, 8, 10, 7))[:, :, :, ::-1]
    got = fastconv.depthwise_conv2d_backward(gy, x, w, **kw)
    exp = fastconv.depthwise_conv2d_backward(np.ascontiguousarray(gy), xc, wc, **kw)
    for g, e in zip(got, exp):
        np.testing.assert_array_equal(g, e)
    # python lists are arrays too
    lst = fastconv.depthwise_conv2d(xc.tolist(), wc.tolist(), **kw)
    np.testing.assert_array_equal(lst, fastconv.depthwise_conv2d(xc, wc, **kw))


def test_out(rng):
    x = rng.uniform(-1, 1, (2, 3, 6, 7)).astype(np.float32)
    w = rng.uniform(-1, 1, (6, 1, 3, 3)).astype(np.float32)
    pw = rng.uniform(-1, 1, (4, 6, 1, 1)).astype(np.float32)
    out = np.full((2, 6, 6, 7), np.nan, np.float32)
    res = fastconv.depthwise_conv2d(x, w, padding=1, out=out)
    assert res is out
    np.testing.assert_array_equal(out, fastconv.depthwise_conv2d(x, w, padding=1))
    out2 = np.full((2, 4, 6, 7), np.nan, np.float32)
    res = fastconv.separable_conv2d(x, w, pw, padding=1, out=out2)
    assert res is out2
    np.testing.assert_array_equal(out2, fastconv.separable_conv2d(x, w, pw, padding=1))


def test_empty_batch(rng):
    x = np.zeros((0, 3, 6, 6))
    w = rng.uniform(-1, 1, (6, 1, 3, 3))
    pw = rng.uniform(-1, 1, (2, 6, 1, 1))
    assert fastconv.depthwise_conv2d(x, w, stride=2).shape == (0, 6, 2, 2)
    assert fastconv.separable_conv2d(x, w, pw, padding=1).shape == (0, 2, 6, 6)
    gx, gw, gb = fastconv.depthwise_conv2d_backward(np.zeros((0, 6, 4, 4)), x, w)
    assert gx.shape == x.shape and not gw.any() and not gb.any() and gw.shape == w.shape
    res = fastconv.separable_conv2d_backward(np.zeros((0, 2, 4, 4)), x, w, pw)
    assert [r.shape for r in res] == [x.shape, w.shape, pw.shape, (6,), (2,)]
    assert not any(r.any() for r in res)


def test_concurrent_python_threads(rng):
    """Scratch is per call: calls from several Python threads at once agree with
    serial calls bitwise."""
    x = rng.uniform(-1, 1, (2, 8, 33, 31)).astype(np.float32)
    w = rng.uniform(-1, 1, (16, 1, 3, 3)).astype(np.float32)
    pw = rng.uniform(-1, 1, (5, 16, 1, 1)).astype(np.float32)
    kw = dict(padding=1, padding_mode="reflect")
    expected = (fastconv.depthwise_conv2d(x, w, **kw), fastconv.separable_conv2d(x, w, pw, **kw))
    results, errors = [], []

    def work():
        try:
            for _ in range(3):
                results.append((fastconv.depthwise_conv2d(x, w, **kw),
                                fastconv.separable_conv2d(x, w, pw, **kw)))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 12
    for a, b in results:
        assert a.tobytes() == expected[0].tobytes() and b.tobytes() == expected[1].tobytes()


# ---------------------------------------------------------------- threads ----
THREAD_CASES = [
    G(2, 8, 2, (40, 40), (3, 3), padding=1, c_pw=12),
    G(1, 6, 1, (45, 70), (3, 5), stride=(1, 2), dilation=(2, 1), padding=((1, 2), (3, 0)),
      padding_mode="reflect", bias=False, c_pw=7),
    G(1, 3, 3, (30, 600), (2, 3), padding=(1, 1), padding_mode="circular", c_pw=4),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", THREAD_CASES, ids=lambda c: c.id)
def test_one_two_and_three_threads_bitwise_identical(case, dtype, rng, restore_threads):
    x, w, b = case.arrays(rng, dtype)
    pw, pb = case.pointwise(rng, dtype)
    gy = case.grad_output(rng, dtype)
    gy2 = case.grad_output(rng, dtype, channels=case.c_pw)
    kw = case.kwargs()
    runs = []
    for n in (1, 2, 3):
        fastconv.set_num_threads(n)
        assert fastconv.get_num_threads() == n
        runs.append([fastconv.depthwise_conv2d(x, w, b, **kw),
                     *fastconv.depthwise_conv2d_backward(gy, x, w, **kw),
                     fastconv.separable_conv2d(x, w, pw, b, pb, **kw),
                     *fastconv.separable_conv2d_backward(gy2, x, w, pw, b, **kw)])
    names = ["depthwise", "grad_input", "grad_weight", "grad_bias", "separable",
             "sep grad_input", "sep grad_dw", "sep grad_pw", "sep grad_db", "sep grad_pb"]
    for n, run in zip((2, 3), runs[1:]):
        for name, one, many in zip(names, runs[0], run):
            assert one.tobytes() == many.tobytes(), (
                f"{name}: 1 and {n} threads differ (max |diff| "
                f"{np.max(np.abs(one.astype(np.float64) - many))}) for {case}")


def test_thread_cases_use_two_threads(restore_threads):
    """The thread cases are big enough for a 2-thread team (else the test
    above would compare 1 thread with 1 thread)."""
    fastconv.set_num_threads(2)
    from fastconv import _threads
    for case in THREAD_CASES:
        macs = case.n * case.cm * int(np.prod(case.out_size)) * int(np.prod(case.kernel))
        assert _threads.team_size(macs) == 2, case


# -------------------------------------------------------------- SIMD paths ----
# Output widths around the vector lengths (4/8/16 float32, 2/4/8 float64, up to
# 4 vectors per micro-tile) and output heights around the row tiles (8/4/2/1).
SIMD_CASES = _expand([
    G(1, 2, m, (h_out + 2, w_out + 2), (3, 3), c_pw=c_pw)
    for m, h_out, w_out, c_pw in [(1, 1, 1, 1), (2, 3, 3, 3), (1, 9, 4, 5), (3, 2, 7, 7),
                                  (1, 5, 8, 9), (2, 8, 9, 13), (1, 11, 15, 17),
                                  (1, 3, 16, 4), (2, 4, 17, 6), (1, 7, 31, 8),
                                  (1, 2, 32, 12), (1, 9, 33, 16), (2, 3, 63, 2),
                                  (1, 2, 64, 3), (1, 5, 65, 20)]
] + [
    G(2, 3, 2, (9, 40), (2, 3), stride=(1, 3), dilation=(2, 2), padding=2),
    G(1, 3, 1, (7, 70), (3, 4), stride=2, padding=((1, 2), (3, 0))),
    G(1, 1, 1, (2, 600), (1, 5), padding=(0, 2)),
    G(1, 2, 1, (19, 58), (3, 3), padding=1),
    G(1, 1, 1, (21, 45), (3, 3), stride=2, padding=1),
    G(1, 2, 2, (17, 67), (3, 3), stride=2),
    G(1, 1, 1, (8, 9), (3, 3), stride=2, padding=2),
    G(1, 2, 1, (16, 31), (5, 5), stride=2, padding=2),
    G(1, 2, 1, (13, 37), (5, 5), padding=3),
], modes=("zeros", "circular"))


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS.get)
@pytest.mark.parametrize("case", SIMD_CASES, ids=lambda c: c.id)
def test_every_simd_path(case, dtype, simd_path, rng, tol):
    from fastconv import _config
    assert _config.simd_path() == simd_path
    x, w, b = case.arrays(rng, dtype)
    pw, pb = case.pointwise(rng, dtype)
    params = f"{case} {DT_IDS[dtype]} simd={simd_path}"
    got = fastconv.depthwise_conv2d(x, w, b, **case.kwargs())
    _close(got, depthwise_reference(x, w, b, *case.ref_args()), dtype, tol, _k_fwd(case),
           params)
    got = fastconv.separable_conv2d(x, w, pw, b, pb, **case.kwargs())
    _close(got, separable_reference(x, w, pw, b, pb, *case.ref_args()), dtype, tol,
           _k_sep(case), "separable " + params)
    gy = case.grad_output(rng, dtype)
    _check_backward(case, gy, x, w, dtype, tol, params)
    gy2 = case.grad_output(rng, dtype, channels=case.c_pw)
    got = fastconv.separable_conv2d_backward(gy2, x, w, pw, b, **case.kwargs())
    ref = separable_backward_reference(gy2, x, w, pw, b, *case.ref_args())
    ks = (_k_gx(case) * case.c_pw, _k_gw(case) * case.c_pw, _k_gw(case) * _k_fwd(case),
          _k_gw(case) * case.c_pw, _k_gw(case))
    for g, r, k in zip(got, ref, ks):
        _close(g, r, dtype, tol, k, "separable backward " + params)


# --------------------------------------------------------------- bad input ----
X = np.zeros((2, 3, 8, 8))
W = np.zeros((6, 1, 3, 3))
PW = np.zeros((4, 6, 1, 1))


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(x=np.zeros((3, 8))), ValueError, r"x must have shape \(N, C, H, W\)"),
    (dict(x=np.zeros((1, 2, 3, 8, 8))), ValueError, "x must have shape"),
    (dict(x=np.zeros((2, 0, 8, 8)), weight=np.zeros((0, 1, 3, 3))), ValueError, "x of shape"),
    (dict(weight=np.zeros((6, 2, 3, 3))), ValueError,
     r"weight must have shape \(C\*multiplier, 1, kH, kW\)"),
    (dict(weight=np.zeros((6, 3, 3))), ValueError, "weight must have shape"),
    (dict(weight=np.zeros((7, 1, 3, 3))), ValueError, r"weight of shape \(7, 1, 3, 3\).*multiple"),
    (dict(weight=np.zeros((6, 1, 0, 3))), ValueError, "weight of shape .* is empty"),
    (dict(bias=np.zeros(3)), ValueError, r"bias must have shape \(6,\)"),
    (dict(stride=0), ValueError, "stride"),
    (dict(stride=(1, 2, 3)), ValueError, "stride"),
    (dict(dilation=1.5), TypeError, "dilation"),
    (dict(padding="full"), ValueError, "padding"),
    (dict(padding=-1), ValueError, "padding"),
    (dict(padding="same", stride=2), ValueError, "same"),
    (dict(padding_mode="mirror"), ValueError, "padding_mode"),
    (dict(padding=8, padding_mode="reflect"), ValueError, "reflect"),
    (dict(weight=np.zeros((3, 1, 11, 3))), ValueError, "output size"),
    (dict(x=X.astype(np.int64)), TypeError, "x has dtype int64"),
    (dict(weight=W.astype(np.complex128)), TypeError, "weight has dtype complex128"),
    (dict(out=np.zeros((2, 6, 6, 6), np.float32)), TypeError, "out has dtype"),
    (dict(out=np.zeros((2, 6, 5, 6))), ValueError, "out has shape"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_depthwise_bad_input(kwargs, exc, match):
    args = dict(x=X, weight=W, bias=None, stride=1, padding=0, dilation=1,
                padding_mode="zeros", out=None)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        fastconv.depthwise_conv2d(**args)


def test_out_overlapping_input_is_refused():
    x = np.zeros((1, 2, 5, 5))
    with pytest.raises(ValueError, match="out overlaps the memory of x"):
        fastconv.depthwise_conv2d(x, np.zeros((2, 1, 1, 1)), out=x)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(grad_output=np.zeros((2, 6, 6, 5))), ValueError, "grad_output has shape"),
    (dict(grad_output=np.zeros((2, 3, 6, 6))), ValueError, "grad_output has shape"),
    (dict(weight=np.zeros((6, 1, 3))), ValueError, "weight must have shape"),
    (dict(weight=np.zeros((4, 1, 3, 3))), ValueError, "multiple"),
    (dict(grad_output=np.zeros((2, 6, 6, 6), np.int32)), TypeError, "grad_output has dtype"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_depthwise_backward_bad_input(kwargs, exc, match):
    args = dict(grad_output=np.zeros((2, 6, 6, 6)), x=X, weight=W)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        fastconv.depthwise_conv2d_backward(**args)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(depthwise_weight=np.zeros((6, 2, 3, 3))), ValueError,
     r"depthwise_weight must have shape \(C\*multiplier, 1, kH, kW\)"),
    (dict(depthwise_weight=np.zeros((5, 1, 3, 3))), ValueError, "depthwise_weight.*multiple"),
    (dict(pointwise_weight=np.zeros((4, 3, 1, 1))), ValueError,
     r"pointwise_weight must have shape \(C_out, 6, 1, 1\)"),
    (dict(pointwise_weight=np.zeros((4, 6, 3, 3))), ValueError, "pointwise_weight must have shape"),
    (dict(pointwise_weight=np.zeros((4, 6))), ValueError, "pointwise_weight must have shape"),
    (dict(pointwise_weight=np.zeros((0, 6, 1, 1))), ValueError, "pointwise_weight must have"),
    (dict(depthwise_bias=np.zeros(4)), ValueError, r"depthwise_bias must have shape \(6,\)"),
    (dict(pointwise_bias=np.zeros(6)), ValueError, r"pointwise_bias must have shape \(4,\)"),
    (dict(pointwise_weight=PW.astype(np.int8)), TypeError, "pointwise_weight has dtype int8"),
    (dict(x=np.zeros((3, 8))), ValueError, "x must have shape"),
    (dict(padding_mode="wrap"), ValueError, "padding_mode"),
    (dict(stride=(1, 0)), ValueError, "stride"),
    (dict(out=np.zeros((2, 6, 6, 6))), ValueError, "out has shape"),
    (dict(out=np.zeros((2, 4, 6, 6), np.float32)), TypeError, "out has dtype"),
    (dict(out=np.zeros((2, 4, 6, 6))[:, :, :, ::-1]), ValueError, "C-contiguous"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_separable_bad_input(kwargs, exc, match):
    args = dict(x=X, depthwise_weight=W, pointwise_weight=PW, depthwise_bias=None,
                pointwise_bias=None, stride=1, padding=0, dilation=1, padding_mode="zeros",
                out=None)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        fastconv.separable_conv2d(**args)


@pytest.mark.parametrize("kwargs, match", [
    (dict(grad_output=np.zeros((2, 6, 6, 6))), "grad_output has shape"),
    (dict(pointwise_weight=np.zeros((4, 5, 1, 1))), "pointwise_weight must have shape"),
    (dict(depthwise_bias=np.zeros(5)), "depthwise_bias must have shape"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_separable_backward_bad_input(kwargs, match):
    args = dict(grad_output=np.zeros((2, 4, 6, 6)), x=X, depthwise_weight=W,
                pointwise_weight=PW)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fastconv.separable_conv2d_backward(**args)
