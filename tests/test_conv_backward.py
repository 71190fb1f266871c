"""conv{1,2,3}d_backward: finite differences, the adjoint identity, PyTorch,
determinism across thread counts, need_input / need_bias, empty batches."""
import itertools

import numpy as np
import pytest

import fastconv
from conftest import refuses, winograd_applies
from gradcheck import assert_grad_close, numerical_grad

MODES = ("zeros", "reflect", "replicate", "circular")

# (nd, N, C_in, C_out, size, kernel, stride, padding, dilation, groups)
CASES = [
    (2, 2, 3, 4, (5, 6), (3, 3), 1, 1, 1, 1),
    (2, 1, 4, 6, (7, 5), (3, 2), 2, 1, 1, 2),
    (2, 1, 4, 4, (6, 7), (2, 3), (1, 2), ((1, 2), (0, 1)), (2, 1), 4),
    (2, 2, 2, 3, (4, 4), (1, 1), 3, 0, 1, 1),
    (2, 1, 2, 2, (3, 3), (3, 3), 1, 0, 1, 1),           # kernel = input
    (1, 2, 3, 2, (9,), (3,), 2, 2, 2, 1),
    (3, 1, 2, 2, (3, 4, 4), (2, 3, 2), (1, 2, 1), 1, 1, 2),
]


def _ids(case):
    return "nd{}-N{}-{}to{}-sz{}-k{}-s{}-p{}-d{}-g{}".format(*case).replace(" ", "")


def _setup(case, dtype=np.float64, seed=0):
    nd, n, ci, co, size, k, s, p, d, g = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, ci) + size).astype(dtype)
    w = rng.standard_normal((co, ci // g) + k).astype(dtype)
    b = rng.standard_normal(co).astype(dtype)
    return x, w, b, dict(stride=s, padding=p, dilation=d, groups=g)


def _refuses(case, algorithm):
    """'winograd' runs the backward pass (its input gradient with the Winograd
    kernel when zero-padded) where its forward applies and raises ValueError
    elsewhere (README)."""
    x, w, _, kw = _setup(case)
    _, bwd = _fns(case[0])
    gy = np.zeros_like(_fns(case[0])[0](x, w, **kw))
    return refuses(algorithm, winograd_applies(case[5], case[6], case[8]),
                   lambda: bwd(gy, x, w, algorithm=algorithm, **kw))


def _fns(nd):
    return getattr(fastconv, f"conv{nd}d"), getattr(fastconv, f"conv{nd}d_backward")


def _mode_ok(case, mode):
    """reflect needs padding < size on every axis."""
    nd, size, p = case[0], case[4], case[7]
    if mode != "reflect":
        return True
    pads = [p] * nd if isinstance(p, int) else p
    pads = [pp if isinstance(pp, tuple) else (pp, pp) for pp in pads]
    return all(max(pp) < s for pp, s in zip(pads, size))


# reflect needs padding < size: those combinations are invalid by contract
CASE_MODES = [pytest.param(c, m, id=f"{_ids(c)}-{m}") for c in CASES for m in MODES
              if _mode_ok(c, m)]


@pytest.mark.parametrize("algorithm", fastconv.ALGORITHMS)
@pytest.mark.parametrize("case, mode", CASE_MODES)
def test_finite_differences(case, mode, algorithm):
    if _refuses(case, algorithm):
        return
    x, w, b, kw = _setup(case)
    fwd, bwd = _fns(case[0])
    probe = np.random.default_rng(1).standard_normal(fwd(x, w, b, padding_mode=mode, **kw).shape)

    def loss():
        return float(np.sum(fwd(x, w, b, padding_mode=mode, algorithm=algorithm, **kw) * probe))

    gx, gw, gb = bwd(probe, x, w, padding_mode=mode, algorithm=algorithm, **kw)
    assert_grad_close(gx, numerical_grad(loss, x), "grad_input")
    assert_grad_close(gw, numerical_grad(loss, w), "grad_weight")
    assert_grad_close(gb, numerical_grad(loss, b), "grad_bias")


@pytest.mark.parametrize("algorithm", fastconv.ALGORITHMS)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_adjoint_identity(case, algorithm):
    """<conv(x), y> == <x, conv_backward_input(y)> (zero padding: conv is linear in x)."""
    if _refuses(case, algorithm):
        return
    x, w, _, kw = _setup(case)
    fwd, bwd = _fns(case[0])
    y = np.random.default_rng(2).standard_normal(fwd(x, w, **kw).shape)
    gx, _, _ = bwd(y, x, w, algorithm=algorithm, **kw)
    lhs = np.vdot(fwd(x, w, algorithm=algorithm, **kw), y)
    assert lhs == pytest.approx(np.vdot(x, gx), rel=1e-10)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_float32_agrees_with_float64(case):
    x, w, b, kw = _setup(case)
    fwd, bwd = _fns(case[0])
    g = np.random.default_rng(3).standard_normal(fwd(x, w, **kw).shape)
    ref = bwd(g, x, w, padding_mode="replicate", **kw)
    got = bwd(g.astype(np.float32), x.astype(np.float32), w.astype(np.float32),
              padding_mode="replicate", **kw)
    # each gradient is a sum of products: tolerance grows with the reduction length
    reduction = max(g.size // g.shape[1], np.prod(w.shape[1:]) * w.shape[0])
    for a, r, name in zip(got, ref, ("grad_input", "grad_weight", "grad_bias")):
        assert a.dtype == np.float32, name
        scale = np.abs(r).max() + 1
        np.testing.assert_allclose(a, r, rtol=0, atol=8 * np.finfo(np.float32).eps
                                   * np.sqrt(reduction) * scale, err_msg=name)


@pytest.mark.parametrize("algorithm", fastconv.ALGORITHMS)
@pytest.mark.parametrize("mode", MODES)
def test_bitwise_identical_for_1_and_2_threads(mode, algorithm):
    case = (2, 3, 16, 24, (23, 19), (3, 3), 1, 1, 1, 1)
    x, w, _, kw = _setup(case, np.float32)
    g = np.random.default_rng(4).standard_normal((3, 24, 23, 19)).astype(np.float32)
    results = []
    threadpoolctl = pytest.importorskip("threadpoolctl") if algorithm == "im2col" else None
    for n in (1, 2):
        fastconv.set_num_threads(n)
        try:
            if threadpoolctl is not None:
                with threadpoolctl.threadpool_limits(n, user_api="blas"):
                    results.append(fastconv.conv2d_backward(g, x, w, padding_mode=mode,
                                                             algorithm=algorithm, **kw))
            else:
                results.append(fastconv.conv2d_backward(g, x, w, padding_mode=mode,
                                                         algorithm=algorithm, **kw))
        finally:
            fastconv.set_num_threads(None)
    for a, b in zip(*results):
        assert np.array_equal(a, b)


# Weight gradients with many output channels per group (the position-GEMM
# kernel): tiles of positions that cross rows and images, more than 256 rows
# (c, kd, kh, kw) per group, channel counts that are not whole vectors.
WGRAD_CASES = [
    # (nd, N, C_in, C_out, size, kernel, stride, pairs, dilation, groups, mode)
    (2, 3, 8, 24, (23, 19), (3, 3), 1, ((1, 1), (1, 1)), 1, 1, "zeros"),
    (2, 2, 36, 20, (9, 11), (3, 3), (2, 1), ((1, 2), (0, 1)), (1, 2), 2, "reflect"),
    (2, 1, 5, 33, (40, 31), (5, 4), 1, ((2, 2), (1, 2)), 1, 1, "circular"),
    (3, 2, 12, 16, (4, 6, 7), (3, 3, 3), (1, 2, 1), ((1, 1), (1, 1), (1, 1)), 1, 1,
     "replicate"),
    (1, 3, 16, 48, (600,), (3,), 1, ((1, 1),), 2, 4, "zeros"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", WGRAD_CASES, ids=lambda c: f"nd{c[0]}-{c[2]}to{c[3]}-g{c[9]}-{c[10]}")
def test_weight_gradient_many_channels(case, dtype):
    from reference import conv_weight_grad_reference
    from conftest import tolerance
    nd, n, ci, co, size, k, s, pairs, d, g, mode = case
    rng = np.random.default_rng(11)
    x = rng.standard_normal((n, ci) + size).astype(dtype)
    w = rng.standard_normal((co, ci // g) + k).astype(dtype)
    fwd, bwd = _fns(nd)
    kw = dict(stride=s, padding=pairs, dilation=d, groups=g, padding_mode=mode)
    gy = rng.standard_normal(fwd(x, w, **kw).shape).astype(dtype)
    ref = conv_weight_grad_reference(gy, x, k, s, pairs, d, g, mode)
    reduction = n * int(np.prod(gy.shape[2:]))
    for alg in ("direct", "gemm"):
        _, gw, _ = bwd(gy, x, w, **kw, algorithm=alg, need_input=False, need_bias=False)
        t = tolerance(dtype, reduction)
        np.testing.assert_allclose(gw, ref, rtol=t, atol=t * np.abs(ref).max(),
                                   err_msg=f"{alg} {case}")
        results = []
        for threads in (1, 2, 3):
            fastconv.set_num_threads(threads)
            try:
                results.append(bwd(gy, x, w, **kw, algorithm=alg, need_input=False)[1])
            finally:
                fastconv.set_num_threads(None)
        assert all(np.array_equal(results[0], r) for r in results[1:]), f"{alg} {case}"


def test_need_input_and_bias_flags():
    x, w, _, kw = _setup(CASES[0])
    g = np.ones((2, 4, 5, 6))
    gx, gw, gb = fastconv.conv2d_backward(g, x, w, need_input=False, need_bias=False, **kw)
    assert gx is None and gb is None
    _, gw_full, _ = fastconv.conv2d_backward(g, x, w, **kw)
    assert np.array_equal(gw, gw_full)


def test_unbatched_and_empty_batch():
    x, w, _, kw = _setup(CASES[0])
    g = np.random.default_rng(5).standard_normal((2, 4, 5, 6))
    gx, gw, gb = fastconv.conv2d_backward(g[0], x[0], w, **kw)
    gx1, gw1, gb1 = fastconv.conv2d_backward(g[:1], x[:1], w, **kw)
    assert gx.shape == x[0].shape
    np.testing.assert_allclose(gx, gx1[0], rtol=1e-12)
    np.testing.assert_allclose(gw, gw1, rtol=1e-12)
    gx, gw, gb = fastconv.conv2d_backward(g[:0], x[:0], w, **kw)
    assert gx.shape == (0,) + x.shape[1:] and not gw.any() and not gb.any()


def test_grad_output_shape_checked():
    x, w, _, kw = _setup(CASES[0])
    with pytest.raises(ValueError, match="grad_output"):
        fastconv.conv2d_backward(np.ones((2, 4, 5, 5)), x, w, **kw)
    with pytest.raises(TypeError, match="grad_output"):
        fastconv.conv2d_backward(np.ones((2, 4, 5, 6), np.int32), x, w, **kw)


@pytest.mark.parametrize("case, mode", CASE_MODES)
def test_matches_torch_autograd(case, mode):
    torch = pytest.importorskip("torch")
    nd = case[0]
    x, w, b, kw = _setup(case)
    fwd, bwd = _fns(nd)
    y = fwd(x, w, b, padding_mode=mode, **kw)
    g = np.random.default_rng(6).standard_normal(y.shape)
    # torch: pad explicitly (its F.pad takes pairs last axis first), then a valid conv
    p = kw["padding"]
    pads = [p] * nd if isinstance(p, int) else list(p)
    pads = [pp if isinstance(pp, tuple) else (pp, pp) for pp in pads]
    flat = [v for pair in reversed(pads) for v in pair]
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    tmode = {"zeros": "constant"}.get(mode, mode)
    xp = torch.nn.functional.pad(xt, flat, mode=tmode)
    yt = getattr(torch.nn.functional, f"conv{nd}d")(xp, wt, bt, kw["stride"], 0,
                                                     kw["dilation"], kw["groups"])
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    yt.backward(torch.tensor(g))
    gx, gw, gb = bwd(g, x, w, padding_mode=mode, **kw)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gb, bt.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_every_simd_path_gives_the_same_gradients():
    from fastconv import _config
    from fastconv._ext import _runtime
    x, w, _, kw = _setup(CASES[1])
    g = np.random.default_rng(7).standard_normal(fastconv.conv2d(x, w, **kw).shape)
    original = _config.simd_path()
    results = {}
    try:
        for name in _runtime.isa_supported():
            _config.set_simd_path(name)
            results[name] = fastconv.conv2d_backward(g, x, w, padding_mode="circular", **kw)
    finally:
        _config.set_simd_path(original)
    base = results["baseline"]
    for name, res in results.items():
        for a, b in zip(res, base):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=name)
