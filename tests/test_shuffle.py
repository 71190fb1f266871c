"""channel_shuffle / channel_shuffle_backward: against the reshape/transpose reference
(tests/ref_resample.py), the g then C/g round trip, PyTorch, finite differences and the
adjoint identity, thread counts, SIMD paths, layouts, out=, empty inputs and bad input."""
import threading

import numpy as np
import pytest

import fastconv
from ref_resample import channel_shuffle_reference

DTYPES = (np.float32, np.float64)

# (shape, groups): 1-4 spatial axes, groups 1, C and in between, odd sizes
CASES = [
    ((2, 6, 5), 2),
    ((2, 6, 5), 3),
    ((1, 6, 4), 1),
    ((1, 6, 4), 6),
    ((2, 12, 3, 4), 4),
    ((3, 8, 2, 3), 2),
    ((1, 9, 1, 1), 3),
    ((2, 10, 2, 3, 2), 5),
    ((1, 4, 2, 1, 2, 3), 2),
]


def _id(case):
    shape, groups = case
    return f"x{'x'.join(map(str, shape))}-g{groups}"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_matches_reference_and_round_trips(case, dtype, rng):
    shape, groups = case
    x = rng.uniform(-1, 1, shape).astype(dtype)
    y = fastconv.channel_shuffle(x, groups)
    assert y.dtype == np.dtype(dtype) and y.flags.c_contiguous
    np.testing.assert_array_equal(y, channel_shuffle_reference(x, groups))
    c = shape[1]
    np.testing.assert_array_equal(fastconv.channel_shuffle(y, c // groups), x)
    np.testing.assert_array_equal(fastconv.channel_shuffle_backward(y, x, groups), x)


def test_by_hand():
    x = np.arange(6.0).reshape(1, 6, 1)
    np.testing.assert_array_equal(fastconv.channel_shuffle(x, 2)[0, :, 0], [0, 3, 1, 4, 2, 5])
    np.testing.assert_array_equal(fastconv.channel_shuffle(x, 3)[0, :, 0], [0, 2, 4, 1, 3, 5])
    g = np.arange(6.0).reshape(1, 6, 1)
    np.testing.assert_array_equal(fastconv.channel_shuffle_backward(g, x, 2)[0, :, 0],
                                  [0, 2, 4, 1, 3, 5])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_matches_torch(case, dtype, rng):
    torch = pytest.importorskip("torch")
    shape, groups = case
    x = rng.uniform(-1, 1, shape).astype(dtype)
    g = rng.uniform(-1, 1, shape).astype(dtype)
    tx = torch.from_numpy(x).requires_grad_()
    ty = torch.nn.ChannelShuffle(groups)(tx)
    tg, = torch.autograd.grad(ty, tx, torch.from_numpy(g))
    np.testing.assert_array_equal(fastconv.channel_shuffle(x, groups), ty.detach().numpy())
    np.testing.assert_array_equal(
        fastconv.channel_shuffle(x, groups),
        torch.nn.functional.channel_shuffle(torch.from_numpy(x), groups).numpy())
    np.testing.assert_array_equal(fastconv.channel_shuffle_backward(g, x, groups), tg.numpy())


@pytest.mark.parametrize("case", CASES[:6], ids=_id)
def test_backward_matches_finite_differences(case, rng):
    shape, groups = case
    x = rng.uniform(-1, 1, shape)
    g = rng.uniform(-1, 1, shape)
    grad = fastconv.channel_shuffle_backward(g, x, groups)
    h = 1e-6
    numeric = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        numeric[idx] = (np.vdot(fastconv.channel_shuffle(xp, groups), g) -
                        np.vdot(fastconv.channel_shuffle(xm, groups), g)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_adjoint_identity(case, dtype, rng):
    """<shuffle(x), y> == <x, shuffle_backward(y)> (exact: the same products, permuted)."""
    shape, groups = case
    x = rng.uniform(-1, 1, shape).astype(dtype)
    y = rng.uniform(-1, 1, shape).astype(dtype)
    lhs = np.sort((fastconv.channel_shuffle(x, groups).astype(np.float64) * y).ravel())
    rhs = np.sort((x.astype(np.float64) * fastconv.channel_shuffle_backward(y, x, groups)).ravel())
    np.testing.assert_array_equal(lhs, rhs)


# --------------------------------------------- threads, SIMD, layouts, out ----
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_one_and_two_threads_bitwise_identical(dtype, rng, restore_threads):
    from fastconv import _threads
    x = rng.uniform(-1, 1, (4, 24, 40, 40)).astype(dtype)
    results = []
    for n in (1, 2):
        fastconv.set_num_threads(n)
        assert _threads.team_size(x.size) == n, "case too small to use 2 threads"
        results.append((fastconv.channel_shuffle(x, 4),
                        fastconv.channel_shuffle_backward(x, x, 4)))
    assert results[0][0].tobytes() == results[1][0].tobytes()
    assert results[0][1].tobytes() == results[1][1].tobytes()
    np.testing.assert_array_equal(results[1][0], channel_shuffle_reference(x, 4))


def test_every_simd_path_matches_reference(simd_path, rng):
    x = rng.uniform(-1, 1, (2, 12, 5, 5)).astype(np.float32)
    np.testing.assert_array_equal(fastconv.channel_shuffle(x, 3),
                                  channel_shuffle_reference(x, 3))


def test_concurrent_calls_from_python_threads(rng):
    x = rng.uniform(-1, 1, (4, 24, 40, 40))
    expected = channel_shuffle_reference(x, 6)
    results = [None] * 4

    def work(i):
        results[i] = fastconv.channel_shuffle(x, 6)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expected)


@pytest.mark.parametrize("layout", ["transposed", "strided", "negative", "readonly", "list"])
def test_any_layout(layout, rng):
    base = rng.uniform(-1, 1, (3, 6, 5, 4))
    if layout == "transposed":
        x = np.ascontiguousarray(base.transpose(1, 0, 3, 2)).transpose(1, 0, 3, 2)
    elif layout == "strided":
        x = rng.uniform(-1, 1, (3, 12, 5, 8))[:, ::2, :, ::2]
    elif layout == "negative":
        x = base[:, ::-1, ::-1]
    elif layout == "readonly":
        x = base.copy()
        x.flags.writeable = False
    else:
        x = base.tolist()
    expected = channel_shuffle_reference(np.array(x), 3)
    np.testing.assert_array_equal(fastconv.channel_shuffle(x, 3), expected)
    np.testing.assert_array_equal(fastconv.channel_shuffle_backward(expected[:, :, ::-1], x, 3),
                                  np.array(x)[:, :, ::-1])


def test_out_argument(rng):
    x = rng.uniform(-1, 1, (2, 6, 3)).astype(np.float32)
    out = np.full(x.shape, np.nan, np.float32)
    assert fastconv.channel_shuffle(x, 2, out=out) is out
    np.testing.assert_array_equal(out, channel_shuffle_reference(x, 2))
    with pytest.raises(ValueError, match="out overlaps the memory of x"):
        fastconv.channel_shuffle(x, 2, out=x)
    with pytest.raises(TypeError, match="out has dtype float64"):
        fastconv.channel_shuffle(x, 2, out=np.zeros(x.shape))


@pytest.mark.parametrize("shape", [(0, 6, 4), (2, 0, 4), (2, 6, 0)], ids=["N0", "C0", "L0"])
def test_empty(shape):
    x = np.zeros(shape, np.float32)
    y = fastconv.channel_shuffle(x, 2 if shape[1] else 1)
    assert y.shape == shape and y.dtype == np.float32
    assert fastconv.channel_shuffle_backward(y, x, 2 if shape[1] else 1).shape == shape


@pytest.mark.parametrize("g_dt,x_dt,expected", [
    (np.float32, np.float32, np.float32), (np.float64, np.float32, np.float64),
    (np.float32, np.float64, np.float64)])
def test_backward_dtype(g_dt, x_dt, expected):
    x = np.ones((1, 4, 3), x_dt)
    assert fastconv.channel_shuffle_backward(np.ones((1, 4, 3), g_dt), x, 2).dtype == expected


# ------------------------------------------------------------ bad input ----
@pytest.mark.parametrize("x,groups,exc,match", [
    (np.zeros((2, 6)), 2, ValueError, r"x must have shape \(N, C, \*spatial\).*\(2, 6\)"),
    (np.zeros(6), 2, ValueError, "x must have shape"),
    (np.zeros((1, 6, 3)), 4, ValueError, r"groups=4 must divide the channels.*\(1, 6, 3\)"),
    (np.zeros((1, 6, 3)), 0, ValueError, "groups must be >= 1"),
    (np.zeros((1, 6, 3)), 2.0, TypeError, "groups must be an int"),
    (np.zeros((1, 6, 3)), True, TypeError, "groups must be an int"),
    (np.zeros((1, 6, 3), np.int32), 2, TypeError, "x has dtype int32"),
    (np.zeros((1, 6, 3), np.complex128), 2, TypeError, "x has dtype complex128"),
])
def test_bad_input(x, groups, exc, match):
    with pytest.raises(exc, match=match):
        fastconv.channel_shuffle(x, groups)


def test_bad_backward_input():
    x = np.zeros((1, 6, 3))
    with pytest.raises(ValueError, match=r"grad_output has shape \(1, 6, 4\).*\(1, 6, 3\)"):
        fastconv.channel_shuffle_backward(np.zeros((1, 6, 4)), x, 2)
    with pytest.raises(ValueError, match="groups=4 must divide"):
        fastconv.channel_shuffle_backward(x, x, 4)
