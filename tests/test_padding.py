"""pad / pad_backward: against np.pad (tests/ref_resample.py) for every mode and pad
form in 1-3 spatial dims, against torch.nn.functional.pad (pairs reversed), the
identity pad-then-'valid'-conv == conv with padding_mode, finite differences and the
adjoint identity, thread counts, SIMD paths, layouts, out=, empty inputs and bad input."""
import threading
from dataclasses import dataclass

import numpy as np
import pytest

import fastconv
from conftest import tolerance
from ref_resample import pad_backward_reference, pad_reference

DTYPES = (np.float32, np.float64)
MODES = ("zeros", "constant", "reflect", "replicate", "circular")
CONV = {1: fastconv.conv1d, 2: fastconv.conv2d, 3: fastconv.conv3d}
CONV_BACKWARD = {1: fastconv.conv1d_backward, 2: fastconv.conv2d_backward,
                 3: fastconv.conv3d_backward}


@dataclass(frozen=True)
class P:
    """One pad call: x of shape (n, c, *size)."""
    size: tuple
    pad: object
    mode: str
    n: int = 2
    c: int = 3

    @property
    def nd(self):
        return len(self.size)

    @property
    def pairs(self):
        if isinstance(self.pad, int):
            return ((self.pad, self.pad),) * self.nd
        return tuple((e, e) if isinstance(e, int) else tuple(e) for e in self.pad)

    @property
    def shape(self):
        return (self.n, self.c) + tuple(self.size)

    @property
    def value(self):
        return -2.5 if self.mode == "constant" else 0.0

    @property
    def id(self):
        pads = "_".join(f"{b}-{a}" for b, a in self.pairs)
        kind = "int" if isinstance(self.pad, int) else "tuple"
        return f"{self.mode}-in{'x'.join(map(str, self.size))}-pad{kind}{pads}"

    def valid(self):
        return self.mode != "reflect" or all(max(p) < s for p, s in zip(self.pairs, self.size))

    def fold(self):
        """Most output cells any input cell collects (for the float32 tolerance)."""
        k = 1
        for (b, a), s in zip(self.pairs, self.size):
            k *= 1 + -(-(b + a) // s) + 1
        return k


GEOMETRIES = [
    ((7,), 2),
    ((6,), ((1, 3),)),
    ((4,), ((0, 0),)),                 # no padding
    ((3,), ((7, 5),)),                 # wider than the input (reflect excluded)
    ((1,), ((2, 3),)),                 # a single sample
    ((5, 6), 1),
    ((5, 6), ((2, 0), (1, 3))),
    ((4, 5), (2, (0, 4))),             # int and pair mixed
    ((3, 4), ((4, 9), (5, 1))),        # circular wraps more than once
    ((3, 4, 5), 1),
    ((3, 4, 5), ((1, 0), (0, 2), (2, 1))),
    ((2, 2, 3), ((3, 1), (2, 4), (0, 5))),
]

CASES = [c for size, pad in GEOMETRIES for mode in MODES
         for c in [P(size, pad, mode)] if c.valid()]


def _x(case, dtype, rng):
    return rng.uniform(-1, 1, case.shape).astype(dtype)


def _g(case, dtype, rng):
    out = tuple(s + b + a for s, (b, a) in zip(case.size, case.pairs))
    return rng.uniform(-1, 1, (case.n, case.c) + out).astype(dtype)


# ------------------------------------------------------------ reference ----
def test_grid_covers_every_mode_and_form():
    assert {c.mode for c in CASES} == set(MODES)
    assert {c.nd for c in CASES} == {1, 2, 3}
    assert any(c.mode == "circular" and any(max(p) > s for p, s in zip(c.pairs, c.size))
               for c in CASES), "no circular case wrapping more than once"
    assert any(c.mode == "reflect" and any(max(p) == s - 1 for p, s in zip(c.pairs, c.size))
               for c in CASES), "no reflect case at its limit pad = size - 1"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_forward_and_backward_match_reference(case, dtype, rng):
    x = _x(case, dtype, rng)
    y = fastconv.pad(x, case.pad, case.mode, value=case.value)
    expected = pad_reference(x, case.pad, case.mode, value=case.value).astype(dtype)
    assert y.dtype == np.dtype(dtype) and y.flags.c_contiguous
    np.testing.assert_array_equal(y, expected)   # a copy: exact
    g = _g(case, dtype, rng)
    gx = fastconv.pad_backward(g, x, case.pad, case.mode)
    assert gx.dtype == np.dtype(dtype) and gx.shape == x.shape
    t = tolerance(dtype, case.fold())
    np.testing.assert_allclose(gx, pad_backward_reference(g, x.shape, case.pad, case.mode),
                               rtol=t, atol=t)


@pytest.mark.parametrize("mode,expected", [
    ("zeros", [0, 0, 1, 2, 3, 4, 0, 0]),
    ("constant", [9, 9, 1, 2, 3, 4, 9, 9]),
    ("reflect", [3, 2, 1, 2, 3, 4, 3, 2]),
    ("replicate", [1, 1, 1, 2, 3, 4, 4, 4]),
    ("circular", [3, 4, 1, 2, 3, 4, 1, 2]),
])
def test_modes_by_hand(mode, expected):
    x = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    value = 9.0 if mode == "constant" else 0.0
    np.testing.assert_array_equal(fastconv.pad(x, 2, mode, value)[0, 0], expected)


def test_backward_by_hand():
    x = np.zeros((1, 1, 3))
    g = np.array([[[1.0, 10.0, 100.0, 1000.0, 1e4, 1e5]]])   # pad (2, 1)
    back = lambda mode: fastconv.pad_backward(g, x, ((2, 1),), mode)[0, 0]   # noqa: E731
    np.testing.assert_array_equal(back("zeros"), [100, 1000, 1e4])
    np.testing.assert_array_equal(back("replicate"), [111, 1000, 1e4 + 1e5])
    # reflect reads c b | a b c | b, circular b c | a b c | a
    np.testing.assert_array_equal(back("reflect"), [100, 10 + 1000 + 1e5, 1 + 1e4])
    np.testing.assert_array_equal(back("circular"), [100 + 1e5, 1000 + 1, 1e4 + 10])


def test_circular_wraps_more_than_once():
    x = np.array([[[1.0, 2.0]]])
    np.testing.assert_array_equal(fastconv.pad(x, ((5, 3),), "circular")[0, 0],
                                  [2, 1, 2, 1, 2, 1, 2, 1, 2, 1])


def test_first_spatial_axis_first():
    x = np.zeros((1, 1, 2, 3))
    assert fastconv.pad(x, ((1, 2), (3, 4))).shape == (1, 1, 5, 10)
    assert fastconv.pad(x, (1, 0)).shape == (1, 1, 4, 3)


def test_nan_and_inf_are_copied():
    x = np.array([[[np.nan, 1.0, np.inf]]])
    y = fastconv.pad(x, 2, "reflect")[0, 0]
    np.testing.assert_array_equal(y, [np.inf, 1, np.nan, 1, np.inf, 1, np.nan])
    assert np.isnan(fastconv.pad(np.ones((1, 1, 2)), 1, "constant", value=np.nan)[0, 0, 0])


# ---------------------------------------------------------------- torch ----
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
# torch's circular padding allows at most one wrap
@pytest.mark.parametrize("case", [c for c in CASES if c.mode != "circular" or all(
    max(p) <= s for p, s in zip(c.pairs, c.size))], ids=lambda c: c.id)
def test_matches_torch(case, dtype, rng):
    torch = pytest.importorskip("torch")
    x, g = _x(case, dtype, rng), _g(case, dtype, rng)
    flat = [v for pair in reversed(case.pairs) for v in pair]      # last axis first
    tmode = "constant" if case.mode in ("zeros", "constant") else case.mode
    tx = torch.from_numpy(x).requires_grad_()
    kw = {"value": case.value} if tmode == "constant" else {}
    ty = torch.nn.functional.pad(tx, flat, mode=tmode, **kw)
    tg, = torch.autograd.grad(ty, tx, torch.from_numpy(g))
    np.testing.assert_array_equal(fastconv.pad(x, case.pad, case.mode, case.value),
                                  ty.detach().numpy())
    t = tolerance(dtype, case.fold())
    np.testing.assert_allclose(fastconv.pad_backward(g, x, case.pad, case.mode), tg.numpy(),
                               rtol=t, atol=t)


# ----------------------------------------- identity with padded convolution ----
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_pad_then_valid_conv_equals_conv_with_padding_mode(nd, mode, rng):
    """pad(x, p, mode) then a 'valid' conv == conv(x, padding=p, padding_mode=mode),
    and likewise for the input gradient through pad_backward."""
    size = (6, 5, 4)[:nd]
    pairs = ((2, 1), (1, 2), (2, 0))[:nd]
    x = rng.uniform(-1, 1, (2, 3) + size)
    w = rng.uniform(-1, 1, (4, 3) + (3,) * nd)
    b = rng.uniform(-1, 1, 4)
    direct = CONV[nd](x, w, b, padding=pairs, padding_mode=mode)
    xp = fastconv.pad(x, pairs, mode)
    two_step = CONV[nd](xp, w, b, padding="valid")
    np.testing.assert_allclose(two_step, direct, rtol=1e-12, atol=1e-12)
    g = rng.uniform(-1, 1, direct.shape)
    gi_direct = CONV_BACKWARD[nd](g, x, w, padding=pairs, padding_mode=mode)[0]
    gi_padded = CONV_BACKWARD[nd](g, xp, w, padding=0)[0]
    np.testing.assert_allclose(fastconv.pad_backward(gi_padded, x, pairs, mode), gi_direct,
                               rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------- gradients ----
GRAD_CASES = [c for c in CASES if np.prod(c.size) <= 12]


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.id)
def test_backward_matches_finite_differences(case, rng):
    """Central differences of L(x) = <pad(x), g> in float64."""
    case = P(case.size, case.pad, case.mode, 1, 2)
    x, g = _x(case, np.float64, rng), _g(case, np.float64, rng)
    grad = fastconv.pad_backward(g, x, case.pad, case.mode)
    h = 1e-6
    numeric = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        numeric[idx] = (np.vdot(fastconv.pad(xp, case.pad, case.mode, case.value), g) -
                        np.vdot(fastconv.pad(xm, case.pad, case.mode, case.value), g)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", [c for c in CASES if c.mode != "constant"],
                         ids=lambda c: c.id)
def test_adjoint_identity(case, dtype, rng):
    """<pad(x), y> == <x, pad_backward(y)> (the linear modes)."""
    x, y = _x(case, dtype, rng), _g(case, dtype, rng)
    lhs = np.vdot(fastconv.pad(x, case.pad, case.mode).astype(np.float64), y)
    rhs = np.vdot(x.astype(np.float64), fastconv.pad_backward(y, x, case.pad, case.mode))
    t = tolerance(dtype, case.fold() * y.size)
    assert abs(lhs - rhs) <= t * (1 + abs(lhs)), (lhs, rhs)


# --------------------------------------------- threads, SIMD, layouts, out ----
BIG = [P((96, 100), ((3, 2), (1, 4)), mode, 2, 8) for mode in ("zeros", "reflect", "circular")]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", BIG, ids=lambda c: c.id)
def test_one_and_two_threads_bitwise_identical(case, dtype, rng, restore_threads):
    from fastconv import _threads
    x, g = _x(case, dtype, rng), _g(case, dtype, rng)
    results = []
    for n in (1, 2):
        fastconv.set_num_threads(n)
        assert _threads.team_size(x.size) == n, "case too small to use 2 threads"
        results.append((fastconv.pad(x, case.pad, case.mode),
                        fastconv.pad_backward(g, x, case.pad, case.mode)))
    (y1, g1), (y2, g2) = results
    assert y1.tobytes() == y2.tobytes() and g1.tobytes() == g2.tobytes()


def test_every_simd_path_matches_reference(simd_path, rng):
    case = BIG[1]
    x = _x(case, np.float32, rng)
    np.testing.assert_array_equal(fastconv.pad(x, case.pad, case.mode),
                                  pad_reference(x, case.pad, case.mode).astype(np.float32))


def test_concurrent_calls_from_python_threads(rng):
    case = BIG[2]
    x = _x(case, np.float64, rng)
    expected = fastconv.pad(x, case.pad, case.mode)
    results = [None] * 4

    def work(i):
        results[i] = fastconv.pad(x, case.pad, case.mode)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.tobytes() == expected.tobytes() for r in results)


@pytest.mark.parametrize("layout", ["transposed", "strided", "negative", "readonly", "list"])
def test_any_layout(layout, rng):
    base = rng.uniform(-1, 1, (3, 2, 5, 8))
    if layout == "transposed":
        x = np.ascontiguousarray(base.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    elif layout == "strided":
        x = rng.uniform(-1, 1, (3, 4, 10, 16))[:, ::2, ::2, ::2]
    elif layout == "negative":
        x = base[::-1, :, ::-1]
    elif layout == "readonly":
        x = base.copy()
        x.flags.writeable = False
    else:
        x = base.tolist()
    xc = np.array(x)
    np.testing.assert_array_equal(fastconv.pad(x, 2, "reflect"), fastconv.pad(xc, 2, "reflect"))
    g = rng.uniform(-1, 1, (3, 2, 9, 12))
    np.testing.assert_array_equal(fastconv.pad_backward(g[:, :, ::-1], x, 2, "reflect"),
                                  fastconv.pad_backward(g[:, :, ::-1].copy(), xc, 2, "reflect"))


def test_out_argument(rng):
    x = rng.uniform(-1, 1, (2, 3, 4, 5))
    out = np.full((2, 3, 6, 7), np.nan)
    assert fastconv.pad(x, 1, "replicate", out=out) is out
    np.testing.assert_array_equal(out, pad_reference(x, 1, "replicate"))


@pytest.mark.parametrize("shape", [(0, 3, 4, 5), (2, 0, 4, 5)], ids=["N0", "C0"])
def test_empty_batch_or_channels(shape):
    x = np.zeros(shape, np.float32)
    y = fastconv.pad(x, 1, "reflect")
    assert y.shape == shape[:2] + (6, 7) and y.dtype == np.float32
    assert fastconv.pad_backward(y, x, 1, "reflect").shape == shape


def test_empty_spatial_axis_in_constant_modes():
    x = np.zeros((1, 2, 0, 3), np.float32)
    y = fastconv.pad(x, ((1, 1), (0, 0)), "constant", value=4.0)
    assert y.shape == (1, 2, 2, 3)
    np.testing.assert_array_equal(y, 4.0)
    assert fastconv.pad_backward(y, x, ((1, 1), (0, 0)), "constant").shape == x.shape


@pytest.mark.parametrize("g_dt,x_dt,expected", [
    (np.float32, np.float32, np.float32), (np.float64, np.float32, np.float64),
    (np.float32, np.float64, np.float64)])
def test_backward_dtype(g_dt, x_dt, expected):
    x = np.ones((1, 1, 3), x_dt)
    assert fastconv.pad_backward(np.ones((1, 1, 5), g_dt), x, 1).dtype == expected
    assert fastconv.pad(x, 1).dtype == x_dt


def test_value_accepted_by_backward_for_symmetry():
    kw = dict(pad=1, mode="constant", value=3.0)
    x = np.ones((1, 1, 3))
    g = fastconv.pad(x, **kw)
    np.testing.assert_array_equal(fastconv.pad_backward(g, x, **kw), [[[1.0, 1.0, 1.0]]])


# ------------------------------------------------------------ bad input ----
X2 = np.zeros((1, 2, 4, 4), np.float32)


@pytest.mark.parametrize("args,kwargs,exc,match", [
    ((np.zeros((2, 4)), 1), {}, ValueError, r"x must have shape.*\(2, 4\)"),
    ((np.zeros((1, 1, 2, 2, 2, 2)), 1), {}, ValueError, "x must have shape"),
    ((X2, -1), {}, ValueError, "pad must be >= 0"),
    ((X2, ((1, -2), (0, 0))), {}, ValueError, "pad must be >= 0"),
    ((X2, (1, 2, 3, 4)), {}, ValueError, "pad must be an int or 2 .before, after. pairs"),
    ((X2, ((1, 2, 3), (0, 0))), {}, ValueError, "pad must be an int or 2"),
    ((X2, 1.5), {}, TypeError, "pad must be an int"),
    ((X2, ((1.0, 2), (0, 0))), {}, TypeError, "pad entries must be ints"),
    ((X2, 4), dict(mode="reflect"), ValueError, r"mode='reflect' needs pad < input size.*\(4, 4\)"),
    ((X2, ((0, 0), (1, 4))), dict(mode="reflect"), ValueError, "pad < input size"),
    ((X2, 1), dict(mode="wrap"), ValueError, "mode must be one of"),
    ((X2, 1), dict(mode="zeros", value=1.0), ValueError, "mode='zeros' pads with 0.*value=1.0"),
    ((X2, 1), dict(mode="constant", value="1"), TypeError, "value must be a real number"),
    ((X2, 1), dict(mode="constant", value=True), TypeError, "value must be a real number"),
    ((X2, 1), dict(mode="constant", value=1e300), ValueError,
     "value=1e.300 does not fit in float32"),
    ((np.zeros((1, 2, 0, 4)), 1), dict(mode="replicate"), ValueError,
     "mode='replicate' needs every spatial axis non-empty"),
    ((np.zeros((1, 2, 4), np.int64), 1), {}, TypeError, "x has dtype int64"),
    ((np.zeros((1, 2, 4), np.float16), 1), {}, TypeError, "x has dtype float16"),
])
def test_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fastconv.pad(*args, **kwargs)


def test_bad_out_and_backward_input():
    with pytest.raises(ValueError, match="out has shape"):
        fastconv.pad(X2, 1, out=np.zeros((1, 2, 4, 4), np.float32))
    with pytest.raises(ValueError, match="out must be C-contiguous"):
        fastconv.pad(X2, 1, out=np.zeros((1, 2, 6, 12), np.float32)[:, :, :, ::2])
    with pytest.raises(ValueError, match=r"grad_output has shape \(1, 2, 4, 4\).*\(1, 2, 6, 6\)"):
        fastconv.pad_backward(X2, X2, 1)
    with pytest.raises(ValueError, match="pad < input size"):
        fastconv.pad_backward(np.zeros((1, 2, 12, 12)), X2, 4, "reflect")
