"""algorithm='winograd' (F(4x4, 3x3)): its numerical error, measured and bounded,
on the grid and on realistic layers; where it applies and the ValueError
elsewhere; tails of every SIMD path; thread-count independence; non-finite
inputs; the backward pass (the weight gradient by the transforms' adjoint, the
input gradient by the forward kernel when zero-padded, the direct kernel otherwise)."""
import math

import numpy as np
import pytest

import fastconv
from conftest import TOL_FACTOR, WINOGRAD_TOL_FACTOR, restore_threads, tolerance  # noqa: F401
from reference import conv_nd_reference, conv_weight_grad_reference, padding_pairs
from test_conv import CASES_2D, CASES_3D, C2, Case, _applies

APPLICABLE = [c for c in CASES_2D + CASES_3D if _applies(c, "winograd") and c.n > 0]


def _normalised_error(got, expected, k):
    """max |got - expected| in units of eps(float32) * sqrt(K + 1), the scale of
    conftest.tolerance: the measured counterpart of its `factor`."""
    err = np.max(np.abs(got.astype(np.float64) - expected))
    return err / (np.finfo(np.float32).eps * math.sqrt(k + 1))


def test_grid_has_applicable_cases():
    assert len(APPLICABLE) >= 40
    assert any(c.groups > 1 for c in APPLICABLE)
    assert any(c.nd == 3 for c in APPLICABLE)
    assert {c.padding_mode for c in APPLICABLE} == {"zeros", "reflect", "replicate", "circular"}
    assert any(s % 4 != 0 for c in APPLICABLE for s in c.out_size)   # partial tiles


def test_float32_error_over_the_grid(rng):
    """The largest float32 error over every applicable grid configuration, in
    the units of conftest.tolerance, stays below WINOGRAD_TOL_FACTOR; the direct
    kernel's, for comparison, below TOL_FACTOR."""
    worst = {"winograd": 0.0, "direct": 0.0}
    for case in APPLICABLE:
        x, w, b = case.arrays(rng, np.float32)
        expected = case.reference(x.astype(np.float64), w.astype(np.float64),
                                  None if b is None else b.astype(np.float64))
        k = int(np.prod(case.weight_shape[1:]))
        for alg in worst:
            got = fastconv.conv3d(x, w, b, **case.kwargs(), algorithm=alg) if case.nd == 3 \
                else fastconv.conv2d(x, w, b, **case.kwargs(), algorithm=alg)
            worst[alg] = max(worst[alg], _normalised_error(got, expected, k))
    print(f"max error / (eps sqrt(K+1)) over {len(APPLICABLE)} cases: {worst}")
    assert worst["winograd"] <= WINOGRAD_TOL_FACTOR
    assert worst["direct"] <= TOL_FACTOR


# Realistic layers (batch 1, padding 1, uniform(-1, 1) data): README's table.
LAYERS = [(64, 56), (128, 28), (256, 14), (512, 7)]


@pytest.mark.parametrize("channels, size", LAYERS, ids=lambda v: str(v))
def test_float32_error_on_layers(channels, size):
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, (1, channels, size, size)).astype(np.float32)
    w = rng.uniform(-1, 1, (channels, channels, 3, 3)).astype(np.float32)
    expected = conv_nd_reference(x.astype(np.float64), w.astype(np.float64), None, (1, 1),
                                 ((1, 1), (1, 1)), (1, 1), 1, "zeros")
    k = channels * 9
    errs = {}
    for alg in ("winograd", "direct"):
        got = fastconv.conv2d(x, w, padding=1, algorithm=alg)
        errs[alg] = (_normalised_error(got, expected, k),
                     np.max(np.abs(got - expected)) / np.max(np.abs(expected)))
    print(f"{channels}ch {size}x{size}: error / (eps sqrt(K+1)), max |err| / max |y|: {errs}")
    assert errs["winograd"][0] <= WINOGRAD_TOL_FACTOR
    assert errs["winograd"][1] <= 3e-5      # README: measured 7.6e-6 .. 1.1e-5


def test_float64_is_accurate(rng, check):
    """float64 keeps ~1e-14: the float32 factor is not an excuse for a wrong kernel."""
    case = C2(2, 16, 24, (13, 18), (3, 3), padding=1, padding_mode="reflect")
    x, w, b = case.arrays(rng, np.float64)
    got = fastconv.conv2d(x, w, b, **case.kwargs(), algorithm="winograd")
    np.testing.assert_allclose(got, case.reference(x, w, b), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------- where it applies ----
X1, X2, X3 = np.ones((1, 3, 9)), np.ones((1, 3, 9, 9)), np.ones((1, 3, 5, 9, 9))


@pytest.mark.parametrize("fn, args, kwargs, reason", [
    ("conv2d", (X2, np.ones((2, 3, 3, 2))), {}, "kernel"),
    ("conv2d", (X2, np.ones((2, 3, 5, 5))), {}, "kernel"),
    ("conv2d", (X2, np.ones((2, 3, 3, 3))), {"stride": (1, 2)}, "stride"),
    ("conv3d", (X3, np.ones((2, 3, 3, 3, 3))), {"stride": (1, 1, 2)}, "stride"),
    ("conv1d", (X1, np.ones((2, 3, 3))), {}, "2-D or 3-D"),
    ("conv_transpose2d", (X2, np.ones((3, 2, 3, 3))), {}, "transposed"),
    ("conv2d_backward", (np.ones((1, 2, 4, 4)), X2, np.ones((2, 3, 3, 3))), {"stride": 2},
     "stride"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_refuses_other_shapes(fn, args, kwargs, reason):
    with pytest.raises(ValueError, match=f"algorithm='winograd' does not apply.*{reason}"):
        getattr(fastconv, fn)(*args, **kwargs, algorithm="winograd")


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("nd, size, kernel, kw", [
    (2, (13, 11), (3, 3), dict(padding=2, dilation=2)),                       # DeepLab-like
    (2, (17, 12), (3, 3), dict(padding=((1, 3), (0, 2)), dilation=(3, 2), groups=2)),
    (2, (9, 10), (3, 3), dict(padding=0, dilation=(1, 3))),                   # one axis only
    (2, (9, 8), (3, 3), dict(padding=1, dilation=(4, 2))),          # fewer rows than phases
    (3, (4, 10, 9), (2, 3, 3), dict(padding=(1, 2, 2), dilation=(2, 2, 2), stride=(2, 1, 1))),
    (2, (38, 29), (3, 3), dict(padding=2, dilation=2)),                 # interior tiles too
    (2, (31, 44), (3, 3), dict(padding=((3, 2), 1), dilation=(3, 1))),
], ids=["d2", "asymmetric-groups", "one-axis", "short", "3d", "d2-large", "d3-large"])
def test_dilated_runs_per_phase(nd, size, kernel, kw, mode, rng, check):
    """Dilation along H/W: an undilated Winograd convolution per polyphase
    component of the padded input, read and written at stride (dh, dw) in the
    tile grid; every padding mode."""
    case = Case(2, 4, 6, size, kernel, padding_mode=mode, **kw)
    assert case.valid()
    x, w, b = case.arrays(rng, np.float64)
    fn = fastconv.conv3d if nd == 3 else fastconv.conv2d
    got = fn(x, w, b, **case.kwargs(), algorithm="winograd")
    check(got, case.reference(x, w, b), np.float64, case.weight_shape,
          factor=WINOGRAD_TOL_FACTOR)


def test_depth_axis_is_free(rng, check):
    """3-D: any depth kernel, stride, dilation and padding (extra reduction channels)."""
    case = Case(2, 4, 6, (7, 9, 10), (2, 3, 3), stride=(2, 1, 1), dilation=(3, 1, 1),
                padding=((2, 1), (1, 1), (0, 2)), groups=2, padding_mode="circular")
    x, w, b = case.arrays(rng, np.float64)
    got = fastconv.conv3d(x, w, b, **case.kwargs(), algorithm="winograd")
    check(got, case.reference(x, w, b), np.float64, case.weight_shape,
          factor=WINOGRAD_TOL_FACTOR)


# ------------------------------------------------------------ SIMD tails ----
# Output channels around the register tile (MR = 4/6/8 per path) and tile counts
# around the vector lengths (2..16 tiles per vector), several tile blocks.
TAIL_CASES = [C2(n, c_in, c_out, size, (3, 3), padding=1, padding_mode=mode)
              for n, c_in, c_out, size, mode in [
                  (1, 1, 1, (1, 1), "zeros"), (1, 3, 5, (4, 4), "replicate"),
                  (2, 2, 7, (5, 9), "reflect"), (1, 5, 9, (17, 15), "circular"),
                  (3, 4, 13, (8, 31), "zeros"), (1, 2, 17, (33, 34), "reflect"),
                  (1, 300, 3, (30, 30), "zeros"),
                  # weights transformed once for many tile blocks (shared U), odd
                  # channel counts (a lone last channel in a two-channel vector)
                  (1, 3, 11, (70, 66), "reflect"), (1, 17, 9, (72, 72), "zeros"),
                  # few blocks (each task transforms its own): 16-channel float32 and
                  # 8-channel float64 chunks, then one lone channel
                  (1, 33, 10, (12, 12), "zeros")]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", TAIL_CASES, ids=lambda c: c.id)
def test_every_simd_path(case, dtype, simd_path, rng, check):
    x, w, b = case.arrays(rng, dtype)
    got = fastconv.conv2d(x, w, b, **case.kwargs(), algorithm="winograd")
    check(got, case.reference(x, w, b), dtype, case.weight_shape, factor=WINOGRAD_TOL_FACTOR,
          params=f"{case} simd={simd_path}")


# --------------------------------------------------------------- threads ----
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", [
    C2(3, 8, 20, (30, 29), (3, 3), padding=1),
    C2(1, 6, 12, (11, 40), (3, 3), padding=((2, 0), (1, 3)), groups=3,
       padding_mode="reflect"),
    Case(2, 4, 10, (5, 12, 13), (3, 3, 3), padding=1, padding_mode="replicate"),
    C2(1, 64, 64, (14, 14), (3, 3), padding=1),      # one tile block: channel split
], ids=lambda c: c.id)
def test_1_2_3_threads_bitwise_identical(case, dtype, rng, restore_threads):
    x, w, b = case.arrays(rng, dtype)
    conv = fastconv.conv3d if case.nd == 3 else fastconv.conv2d
    results = []
    for n in (1, 2, 3):
        fastconv.set_num_threads(n)
        results.append(conv(x, w, b, **case.kwargs(), algorithm="winograd"))
    assert results[0].tobytes() == results[1].tobytes() == results[2].tobytes()


# ------------------------------------------------------------ non-finite ----
def test_nan_spreads_to_its_tiles_only():
    """README: a NaN/Inf input spreads to the 4x4 output tiles whose 6x6 input
    window holds it (the transforms mix the whole window), no further."""
    x = np.zeros((1, 1, 16, 16))
    x[0, 0, 9, 2] = np.inf
    w = np.ones((1, 1, 3, 3))
    got = fastconv.conv2d(x, w, padding=1, algorithm="winograd")[0, 0]
    bad = ~np.isfinite(got)
    # padded row 10, column 3: tiles whose rows 4ty..4ty+5 / cols 4tx..4tx+5 hold it
    rows = [ty for ty in range(4) if 4 * ty <= 10 <= 4 * ty + 5]
    cols = [tx for tx in range(4) if 4 * tx <= 3 <= 4 * tx + 5]
    allowed = np.zeros_like(bad)
    for ty in rows:
        for tx in cols:
            allowed[4 * ty:4 * ty + 4, 4 * tx:4 * tx + 4] = True
    assert bad[8:11, 1:4].all()                       # the direct result's Inf cells
    assert not (bad & ~allowed).any()
    np.testing.assert_array_equal(got[~allowed], 0.0)


# -------------------------------------------------------------- backward ----
def _weight_grad_reference(case, gy, x):
    pairs = padding_pairs(case.padding, case.kernel, case.stride, case.dilation)
    return conv_weight_grad_reference(gy, x, case.kernel, case.stride, pairs, case.dilation,
                                      case.groups, case.padding_mode)


# Where the forward Winograd kernel applies: groups, every padding mode,
# dilation (per phase), 3-D with depth taps and strides, partial tiles, and
# sizes that make several super-blocks of tiles (and channel counts around the
# register tiles: 12 rows of r, 1-4 vectors of output channels).
WGRAD_CASES = [
    C2(2, 6, 8, (9, 11), (3, 3), padding=1, groups=2),
    C2(1, 5, 7, (13, 6), (3, 3), padding=((0, 2), (1, 0))),
    C2(3, 4, 4, (8, 8), (3, 3), padding=0),
    C2(2, 4, 20, (17, 19), (3, 3), padding=2, dilation=2),
    C2(2, 3, 5, (12, 13), (3, 3), padding=1, padding_mode="reflect"),
    C2(1, 6, 9, (11, 10), (3, 3), padding=((2, 0), (1, 2)), groups=3,
       padding_mode="replicate"),
    C2(2, 3, 5, (12, 13), (3, 3), padding=1, padding_mode="circular", dilation=(1, 2)),
    C2(2, 13, 70, (23, 21), (3, 3), padding=1),                # several super-blocks
    C2(1, 25, 33, (10, 10), (3, 3), padding=1),
    Case(1, 4, 5, (5, 7, 6), (3, 3, 3), padding=1),
    Case(2, 4, 6, (5, 7, 6), (2, 3, 3), padding=(0, 1, 2), groups=2),
    Case(2, 4, 6, (9, 7, 6), (3, 3, 3), padding=1, stride=(2, 1, 1), padding_mode="reflect"),
    # depth stride 1: every input plane transformed once (depth-shared), read
    # per tap; depth dilation and padding modes, channel slots past 12,
    # several super-blocks per image and images
    Case(2, 13, 7, (6, 9, 10), (3, 3, 3), padding=(2, 1, 1), dilation=(2, 1, 1),
         padding_mode="replicate"),
    Case(2, 5, 9, (7, 21, 19), (2, 3, 3), padding=(1, 1, 1), padding_mode="reflect"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", WGRAD_CASES, ids=lambda c: c.id)
def test_weight_gradient_by_winograd(case, dtype, rng):
    """grad_weight with algorithm='winograd' (the adjoint of the forward's
    transforms) against the einsum reference, within the Winograd tolerance of
    a reduction over every output position; in float64 it is accurate."""
    x, w, _ = case.arrays(rng, dtype)
    bwd = fastconv.conv3d_backward if case.nd == 3 else fastconv.conv2d_backward
    fwd = fastconv.conv3d if case.nd == 3 else fastconv.conv2d
    gy = rng.uniform(-1, 1, fwd(x, w, **case.kwargs()).shape).astype(dtype)
    _, gw, gb = bwd(gy, x, w, **case.kwargs(), algorithm="winograd")
    _, dw, db = bwd(gy, x, w, **case.kwargs(), algorithm="direct")
    ref = _weight_grad_reference(case, gy, x)
    k = gy.shape[0] * int(np.prod(gy.shape[2:]))          # terms per gw element
    scale = np.abs(ref).max()
    assert gw.dtype == dtype and gw.shape == w.shape
    np.testing.assert_allclose(gw, ref, rtol=0,
                               atol=scale * tolerance(dtype, k, WINOGRAD_TOL_FACTOR))
    assert not np.array_equal(gw, dw)     # the Winograd kernel ran: its rounding differs
    assert np.array_equal(gb, db)
    if dtype == np.float64:
        np.testing.assert_allclose(gw, ref, rtol=0, atol=scale * 1e-12)


def test_weight_gradient_error_is_bounded_like_the_forward():
    """A ResNet-like layer in float32: the weight gradient's error relative to
    the largest entry (README: Choosing an algorithm) stays within 16x the
    direct kernel's, the ratio WINOGRAD_TOL_FACTOR / TOL_FACTOR allows."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, (4, 32, 28, 28)).astype(np.float32)
    w = rng.uniform(-1, 1, (32, 32, 3, 3)).astype(np.float32)
    gy = rng.uniform(-1, 1, (4, 32, 28, 28)).astype(np.float32)
    ref = _weight_grad_reference(C2(4, 32, 32, (28, 28), (3, 3), padding=1), gy, x)
    errs = {}
    for alg in ("winograd", "direct"):
        gw = fastconv.conv2d_backward(gy, x, w, padding=1, algorithm=alg)[1]
        errs[alg] = np.abs(gw - ref).max() / np.abs(ref).max()
    print(f"relative error of grad_weight: {errs}")
    assert errs["winograd"] <= WINOGRAD_TOL_FACTOR / TOL_FACTOR * errs["direct"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_weight_gradient_every_simd_path(dtype, simd_path, rng):
    case = C2(2, 13, 21, (9, 14), (3, 3), padding=1, groups=1)
    x, w, _ = case.arrays(rng, dtype)
    gy = rng.uniform(-1, 1, (2, 21, 9, 14)).astype(dtype)
    gw = fastconv.conv2d_backward(gy, x, w, padding=1, algorithm="winograd")[1]
    ref = _weight_grad_reference(case, gy, x)
    np.testing.assert_allclose(gw, ref, rtol=0, atol=np.abs(ref).max()
                               * tolerance(dtype, 2 * 9 * 14, WINOGRAD_TOL_FACTOR))


@pytest.mark.parametrize("case", [
    C2(3, 8, 20, (30, 29), (3, 3), padding=1),
    Case(2, 4, 10, (5, 12, 13), (3, 3, 3), padding=1, padding_mode="replicate"),
    C2(2, 13, 70, (23, 21), (3, 3), padding=1, groups=1),
], ids=lambda c: c.id)
def test_weight_gradient_1_2_3_threads_bitwise_identical(case, rng, restore_threads):
    x, w, _ = case.arrays(rng, np.float32)
    bwd = fastconv.conv3d_backward if case.nd == 3 else fastconv.conv2d_backward
    fwd = fastconv.conv3d if case.nd == 3 else fastconv.conv2d
    gy = rng.uniform(-1, 1, fwd(x, w, **case.kwargs()).shape).astype(np.float32)
    results = []
    for n in (1, 2, 3):
        fastconv.set_num_threads(n)
        results.append(bwd(gy, x, w, **case.kwargs(), algorithm="winograd")[1])
    assert results[0].tobytes() == results[1].tobytes() == results[2].tobytes()


def test_weight_gradient_of_very_wide_layers_is_the_direct_kernels(rng):
    """Beyond 64 MiB of sums (36 x C_in x C_out) the direct weight gradient runs."""
    x = rng.uniform(-1, 1, (1, 700, 4, 4)).astype(np.float32)
    w = rng.uniform(-1, 1, (700, 700, 3, 3)).astype(np.float32)
    gy = rng.uniform(-1, 1, (1, 700, 4, 4)).astype(np.float32)
    kw = dict(padding=1, need_input=False)
    got = fastconv.conv2d_backward(gy, x, w, **kw, algorithm="winograd")[1]
    assert np.array_equal(got, fastconv.conv2d_backward(gy, x, w, **kw, algorithm="direct")[1])


def test_backward_other_padding_modes_use_direct_input_gradient(rng):
    """With a padding mode other than zeros, conv2d_backward(algorithm='winograd')
    takes grad_input (and grad_bias) from the direct kernels, bit for bit."""
    x = rng.uniform(-1, 1, (2, 4, 9, 11))
    w = rng.uniform(-1, 1, (6, 2, 3, 3))
    gy = rng.uniform(-1, 1, (2, 6, 9, 11))
    kw = dict(padding=1, groups=2, padding_mode="reflect")
    gx, _, gb = fastconv.conv2d_backward(gy, x, w, **kw, algorithm="winograd")
    dx, _, db = fastconv.conv2d_backward(gy, x, w, **kw, algorithm="direct")
    assert np.array_equal(gx, dx) and np.array_equal(gb, db)


@pytest.mark.parametrize("nd, x_shape, w_shape, kw", [
    (2, (2, 6, 9, 11), (8, 3, 3, 3), dict(padding=1, groups=2)),
    (2, (1, 5, 13, 6), (7, 5, 3, 3), dict(padding=((0, 2), (1, 0)))),   # asymmetric
    (2, (3, 4, 8, 8), (4, 4, 3, 3), dict(padding=0)),                   # 'valid'
    (3, (1, 4, 5, 7, 6), (5, 4, 3, 3, 3), dict(padding=1)),
    (3, (2, 4, 5, 7, 6), (6, 2, 2, 3, 3), dict(padding=(0, 1, 2), groups=2)),
], ids=["groups", "asymmetric", "valid", "3d", "3d-kd2-groups"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_input_gradient_by_winograd(nd, x_shape, w_shape, kw, dtype):
    """Zero padding, stride 1: grad_input comes from the Winograd kernel (within its
    tolerance of the float64 direct result); grad_bias is the direct kernel's
    bit for bit."""
    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, x_shape).astype(dtype)
    w = rng.uniform(-1, 1, w_shape).astype(dtype)
    fwd = fastconv.conv3d if nd == 3 else fastconv.conv2d
    bwd = fastconv.conv3d_backward if nd == 3 else fastconv.conv2d_backward
    gy = rng.uniform(-1, 1, fwd(x, w, **kw).shape).astype(dtype)
    gx, gw, gb = bwd(gy, x, w, **kw, algorithm="winograd")
    dx, dw, db = bwd(gy, x, w, **kw, algorithm="direct")
    ref = bwd(gy.astype(np.float64), x.astype(np.float64), w.astype(np.float64), **kw,
              algorithm="direct")[0]
    k = w_shape[0] // kw.get("groups", 1) * int(np.prod(w_shape[2:]))  # terms per gx cell
    tol = tolerance(dtype, k, WINOGRAD_TOL_FACTOR)
    assert gx.dtype == dtype and gx.shape == x.shape
    np.testing.assert_allclose(gx, ref, rtol=tol, atol=tol)
    assert not np.array_equal(gx, dx)  # the Winograd kernel ran: its rounding differs
    assert np.array_equal(gb, db)
