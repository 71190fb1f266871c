"""conv_transpose{1,2,3}d forward and backward against a plain-loop reference,
the adjoint identity with conv, finite differences and PyTorch."""
import numpy as np
import pytest

import fastconv
from conftest import refuses
from gradcheck import assert_grad_close, numerical_grad
from ref_conv_transpose import conv_transpose_reference

# (nd, N, C_in, C_out, size, kernel, stride, padding, output_padding, groups, dilation)
CASES = [
    (2, 2, 4, 6, (3, 4), (3, 3), 2, 1, 1, 2, 1),
    (2, 1, 3, 4, (4, 4), (2, 2), 2, 0, 0, 1, 1),          # U-Net up-sampling
    (2, 1, 2, 2, (5, 5), (4, 4), 2, 1, 0, 1, 1),          # k4 s2 p1
    (2, 1, 6, 3, (3, 5), (3, 2), (3, 1), (2, 0), (2, 0), 3, (1, 2)),
    (2, 0, 2, 2, (3, 3), (3, 3), 1, 0, 0, 1, 1),          # empty batch
    (2, 1, 2, 4, (3, 3), (1, 1), 1, 0, 0, 2, 1),          # 1x1
    (2, 1, 2, 2, (2, 3), (3, 3), 1, 1, 0, 1, 3),          # dilation > stride, padding
    (1, 2, 4, 6, (7,), (3,), 2, 1, 1, 2, 1),
    (1, 1, 2, 2, (5,), (5,), 3, 2, 2, 1, 1),
    (3, 1, 2, 4, (2, 3, 3), (2, 3, 2), (2, 1, 2), (0, 1, 0), (1, 0, 1), 2, 1),
    (3, 1, 4, 2, (3, 3, 2), (3, 3, 3), 1, 1, 0, 2, 2),
]


def _ids(case):
    return "nd{}-N{}-{}to{}-sz{}-k{}-s{}-p{}-op{}-g{}-d{}".format(*case).replace(" ", "")


def _tup(v, nd):
    return (v,) * nd if isinstance(v, int) else tuple(v)


def _setup(case, dtype=np.float64):
    nd, n, ci, co, size, k, s, p, op, g, d = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, ci) + size).astype(dtype)
    w = rng.standard_normal((ci, co // g) + k).astype(dtype)
    b = rng.standard_normal(co).astype(dtype)
    return x, w, b, dict(stride=s, padding=p, output_padding=op, groups=g, dilation=d)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", fastconv.ALGORITHMS)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_matches_reference(case, algorithm, dtype):
    nd = case[0]
    x, w, b, kw = _setup(case, dtype)
    fwd = getattr(fastconv, f"conv_transpose{nd}d")
    if refuses(algorithm, False, lambda: fwd(x, w, b, algorithm=algorithm, **kw)):
        return          # no Winograd kernel for transposed convolutions
    y = fwd(x, w, b, algorithm=algorithm, **kw)
    ref = conv_transpose_reference(x, w, b, _tup(kw["stride"], nd), _tup(kw["padding"], nd),
                                   _tup(kw["output_padding"], nd), kw["groups"],
                                   _tup(kw["dilation"], nd))
    assert y.shape == ref.shape and y.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(y, ref, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_adjoint_of_conv(case):
    """<conv(x), y> == <x, conv_transpose(y)> with the same weight and hyper-parameters."""
    nd, n, ci, co, size, k, s, p, op, g, d = case
    x, w, _, kw = _setup(case)        # x plays y's role: conv_transpose input
    ct = getattr(fastconv, f"conv_transpose{nd}d")(x, w, **kw)
    z = np.random.default_rng(1).standard_normal(ct.shape)
    conv = getattr(fastconv, f"conv{nd}d")(z, w, stride=kw["stride"], padding=kw["padding"],
                                            dilation=kw["dilation"], groups=g)
    # conv of the transposed output's shape gives back x's shape (output_padding lost)
    assert conv.shape == x.shape
    assert np.vdot(conv, x) == pytest.approx(np.vdot(z, ct), rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("algorithm", fastconv.ALGORITHMS)
@pytest.mark.parametrize("case", [c for c in CASES if c[1] > 0], ids=_ids)
def test_backward_finite_differences(case, algorithm):
    nd = case[0]
    x, w, b, kw = _setup(case)
    fwd = getattr(fastconv, f"conv_transpose{nd}d")
    bwd = getattr(fastconv, f"conv_transpose{nd}d_backward")
    probe = np.random.default_rng(2).standard_normal(fwd(x, w, b, **kw).shape)
    if refuses(algorithm, False, lambda: bwd(probe, x, w, algorithm=algorithm, **kw)):
        return

    def loss():
        return float(np.sum(fwd(x, w, b, algorithm=algorithm, **kw) * probe))

    gx, gw, gb = bwd(probe, x, w, algorithm=algorithm, **kw)
    assert_grad_close(gx, numerical_grad(loss, x), "grad_input")
    assert_grad_close(gw, numerical_grad(loss, w), "grad_weight")
    assert_grad_close(gb, numerical_grad(loss, b), "grad_bias")


@pytest.mark.parametrize("case", [c for c in CASES if c[1] > 0], ids=_ids)
def test_matches_torch(case):
    torch = pytest.importorskip("torch")
    nd = case[0]
    x, w, b, kw = _setup(case)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = getattr(torch.nn.functional, f"conv_transpose{nd}d")(
        xt, wt, bt, kw["stride"], kw["padding"], kw["output_padding"], kw["groups"],
        kw["dilation"])
    y = getattr(fastconv, f"conv_transpose{nd}d")(x, w, b, **kw)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    g = np.random.default_rng(3).standard_normal(y.shape)
    yt.backward(torch.tensor(g))
    grads = getattr(fastconv, f"conv_transpose{nd}d_backward")(g, x, w, **kw)
    for got, want in zip(grads, (xt.grad, wt.grad, bt.grad)):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-10)


def test_bitwise_identical_for_1_and_2_threads():
    x, w, b, kw = _setup((2, 2, 16, 8, (15, 13), (4, 4), 2, 1, 0, 1, 1), np.float32)
    g = np.random.default_rng(4).standard_normal((2, 8, 30, 26)).astype(np.float32)
    results = []
    for n in (1, 2):
        fastconv.set_num_threads(n)
        try:
            results.append((fastconv.conv_transpose2d(x, w, b, **kw),)
                           + fastconv.conv_transpose2d_backward(g, x, w, **kw))
        finally:
            fastconv.set_num_threads(None)
    for a, c in zip(*results):
        assert np.array_equal(a, c)


def test_unbatched_and_out():
    x, w, b, kw = _setup(CASES[0])
    y = fastconv.conv_transpose2d(x[0], w, b, **kw)
    np.testing.assert_allclose(y, fastconv.conv_transpose2d(x[:1], w, b, **kw)[0])
    out = np.empty_like(y)
    assert fastconv.conv_transpose2d(x[0], w, b, out=out, **kw) is out
    np.testing.assert_array_equal(out, y)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(output_padding=2), ValueError, "output_padding"),
    (dict(stride=0), ValueError, "stride"),
    (dict(padding="same"), ValueError, "padding"),
    (dict(padding=-1), ValueError, "padding"),
    (dict(groups=3), ValueError, "groups"),
    (dict(padding=5), ValueError, "output size"),
    (dict(dilation=1.5), TypeError, "dilation"),
])
def test_bad_input(kwargs, exc, match):
    x = np.ones((1, 4, 3, 3))
    w = np.ones((4, 2, 3, 3))
    base = dict(stride=2, padding=0, output_padding=0, groups=1, dilation=1)
    base.update(kwargs)
    with pytest.raises(exc, match=match):
        fastconv.conv_transpose2d(x, w, **base)


def test_weight_channel_mismatch():
    with pytest.raises(ValueError, match="weight"):
        fastconv.conv_transpose2d(np.ones((1, 4, 3, 3)), np.ones((3, 2, 3, 3)))
    with pytest.raises(ValueError, match="bias"):
        fastconv.conv_transpose2d(np.ones((1, 4, 3, 3)), np.ones((4, 2, 3, 3)), np.ones(3))


# kernel == stride, no padding (U-Net's up-convolution): under 'gemm' and 'auto'
# one grouped pointwise GEMM for all kernel taps, interleaved into the output
# (strides 1 to 4 per axis, uneven ones, groups, 1-D and 3-D).
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("nd, n, c_in, c_out, size, kernel, groups, bias", [
    (2, 1, 24, 16, (10, 12), 2, 1, True),
    (2, 3, 6, 4, (5, 7), (2, 3), 2, True),
    (1, 2, 4, 6, (9,), 4, 1, False),
    (3, 2, 4, 6, (2, 3, 4), 2, 2, True),
    (3, 1, 8, 4, (3, 4, 2), (1, 2, 3), 1, False),
])
def test_tiling_kernel_path(nd, n, c_in, c_out, size, kernel, groups, bias, dtype):
    from conftest import tolerance
    rng = np.random.default_rng(21)
    k = (kernel,) * nd if isinstance(kernel, int) else kernel
    x = rng.standard_normal((n, c_in) + size).astype(dtype)
    w = rng.standard_normal((c_in, c_out // groups) + k).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if bias else None
    zeros, ones = (0,) * nd, (1,) * nd
    ref = conv_transpose_reference(x, w, b, k, zeros, zeros, groups, ones)
    fn = getattr(fastconv, f"conv_transpose{nd}d")
    t = tolerance(dtype, c_in // groups)
    for alg in ("gemm", "auto", "direct"):
        got = fn(x, w, b, stride=k, groups=groups, algorithm=alg)
        assert got.shape == ref.shape and got.dtype == dtype
        np.testing.assert_allclose(got, ref, rtol=t, atol=t, err_msg=alg)
    # output_padding breaks the tiling: the general path, still correct
    got = fn(x, w, b, stride=k, output_padding=tuple(s - 1 for s in k), groups=groups,
             algorithm="gemm")
    ref = conv_transpose_reference(x, w, b, k, zeros, tuple(s - 1 for s in k), groups, ones)
    np.testing.assert_allclose(got, ref, rtol=t, atol=t)


def tiling_reference(x, w, b, groups):
    """Kernel == stride, no padding: each input cell times the whole kernel is
    one output block, out[n, g*C + o, y*s1 + a, x*s2 + c] = sum_k x[n, g*K + k, y, x]
    * w[g*K + k, o, a, c] (2-D, by einsum)."""
    n, c_in, Y, X = x.shape
    _, c_o, s1, s2 = w.shape
    xg = x.reshape(n, groups, c_in // groups, Y, X).astype(np.float64)
    wg = w.reshape(groups, c_in // groups, c_o, s1, s2).astype(np.float64)
    blocks = np.einsum("ngkyx,gkoac->ngoyaxc", xg, wg)
    out = blocks.reshape(n, groups * c_o, Y * s1, X * s2)
    return out if b is None else out + b.reshape(-1, 1, 1)


def test_tiling_reference_agrees_with_the_scatter_reference():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 3, 5))
    w = rng.standard_normal((4, 3, 2, 3))
    b = rng.standard_normal(6)
    np.testing.assert_allclose(tiling_reference(x, w, b, 2),
                               conv_transpose_reference(x, w, b, (2, 3), (0, 0), (0, 0), 2, (1, 1)),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("n, c_in, c_out, size, kernel, groups", [
    (1, 8, 64, (40, 52), (2, 2), 1),   # position blocks ending inside rows
    (2, 3, 10, (33, 29), (2, 2), 1),   # ragged plane: output channels split across tasks
    (1, 4, 6, (20, 30), (3, 3), 1),
    (2, 16, 96, (12, 100), (2, 1), 2),
    (1, 128, 64, (28, 28), (2, 2), 1),    # U-Net: vectors of positions cross rows
    (2, 5, 6, (7, 3), (2, 2), 1),         # rows shorter than half a vector
    (1, 6, 10, (9, 13), (1, 2), 1),       # two taps along the rows only
    (3, 12, 5, (6, 21), (3, 2), 1),       # channel tiles not filled
], ids=["batches", "ragged", "stride3", "groups", "unet", "narrow", "row-taps", "tiles"])
def test_tiling_kernel_path_larger(n, c_in, c_out, size, kernel, groups, dtype):
    """Planes big enough for many position blocks per image, and output rows
    interleaved by several threads (two taps along the rows: the kernel that
    interleaves the tap pairs as it stores; other kernels: a tap buffer)."""
    from conftest import tolerance
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, c_in) + size).astype(dtype)
    w = rng.standard_normal((c_in, c_out // groups) + kernel).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    ref = tiling_reference(x, w, b, groups)
    t = tolerance(dtype, c_in // groups)
    try:
        for threads in (1, 2, 3):
            fastconv.set_num_threads(threads)
            got = fastconv.conv_transpose2d(x, w, b, stride=kernel, groups=groups,
                                            algorithm="gemm")
            assert got.shape == ref.shape and got.dtype == dtype
            np.testing.assert_allclose(got, ref, rtol=t, atol=t, err_msg=f"{threads} threads")
    finally:
        fastconv.set_num_threads(None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("nd, size", [(1, (45,)), (2, (11, 9)), (3, (3, 5, 6))])
def test_tap_pairs_every_simd_path(nd, size, dtype, simd_path):
    """Kernel == stride with two taps along the rows on every SIMD path (vector
    widths 2 to 16 lanes: the lane interleave and the runs split at row ends)."""
    from conftest import tolerance
    rng = np.random.default_rng(8)
    k = (2,) * nd
    x = rng.standard_normal((2, 6) + size).astype(dtype)
    w = rng.standard_normal((6, 5) + k).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    zeros, ones = (0,) * nd, (1,) * nd
    ref = conv_transpose_reference(x, w, b, k, zeros, zeros, 1, ones)
    got = getattr(fastconv, f"conv_transpose{nd}d")(x, w, b, stride=2, algorithm="gemm")
    t = tolerance(dtype, 6)
    np.testing.assert_allclose(got, ref, rtol=t, atol=t, err_msg=simd_path)
