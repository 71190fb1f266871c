"""upsample / upsample_backward: against the NumPy reference (tests/ref_resample.py)
over every mode, align_corners both ways, size vs scale_factor (integer, non-integer,
per-axis, downscaling); against PyTorch; finite differences and the adjoint identity;
thread counts, SIMD paths, layouts, out=, empty batches and bad input."""
import math
import threading
from dataclasses import dataclass

import numpy as np
import pytest

import fastconv
from fastconv import _threads, _validate
from conftest import tolerance
from ref_resample import (upsample_backward_reference, upsample_output_size,
                          upsample_reference)

DTYPES = (np.float32, np.float64)
LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


@dataclass(frozen=True)
class Up:
    """One upsample call: x of shape (n, c, *size) resized by `kw`."""
    size: tuple
    kw: tuple                    # (('size', ...),) or (('scale_factor', ...),)
    mode: str = "nearest"
    align_corners: object = None
    n: int = 2
    c: int = 3

    @property
    def nd(self):
        return len(self.size)

    @property
    def kwargs(self):
        return dict(self.kw, mode=self.mode, align_corners=self.align_corners)

    @property
    def out_size(self):
        return upsample_output_size(self.size, **dict(self.kw))

    @property
    def shape(self):
        return (self.n, self.c) + tuple(self.size)

    @property
    def id(self):
        (key, val), = self.kw
        val = "x".join(map(str, val)) if isinstance(val, tuple) else str(val)
        ac = {None: "", True: "-ac", False: "-noac"}[self.align_corners]
        return (f"{self.mode}{ac}-in{'x'.join(map(str, self.size))}-"
                f"{'size' if key == 'size' else 'scale'}{val}")

    def reduction(self):
        """Most terms any output or input-gradient element sums (for the tolerance)."""
        k = 1
        for i, o in zip(self.size, self.out_size):
            k *= 2 * (math.ceil(o / i) + 1)
        return k


# geometries: (spatial size, size/scale_factor); every one under nearest and under
# the linear mode with align_corners None, False and True
GEOMETRIES = {
    1: [((5,), (("scale_factor", 2),)),
        ((5,), (("scale_factor", 1.7),)),          # non-integer
        ((8,), (("scale_factor", 0.5),)),          # downscaling
        ((7,), (("scale_factor", 0.6),)),          # downscaling, non-integer
        ((4,), (("scale_factor", 3.0),)),
        ((3,), (("scale_factor", 1.1),)),          # out == in with a scale factor
        ((4,), (("size", 11),)),
        ((9,), (("size", (4,)),)),                 # size as a tuple, downscaling
        ((3,), (("size", 1),)),                    # single output sample
        ((1,), (("scale_factor", 4),))],           # single input sample
    2: [((4, 5), (("scale_factor", 2),)),
        ((4, 5), (("scale_factor", 1.7),)),
        ((6, 8), (("scale_factor", 0.5),)),
        ((3, 5), (("scale_factor", (2.5, 0.8)),)),  # per axis, up and down
        ((3, 4), (("size", (7, 2)),)),
        ((5, 3), (("size", 5),)),                   # one axis keeps its size
        ((2, 3), (("scale_factor", (1.3, 2.04)),))],  # out == in / out == 2*in via odd scales
    3: [((2, 3, 4), (("scale_factor", 2),)),
        ((3, 4, 2), (("scale_factor", 1.7),)),
        ((4, 4, 6), (("scale_factor", 0.5),)),
        ((2, 3, 3), (("size", (3, 1, 5)),)),
        ((3, 2, 4), (("scale_factor", (1.5, 2.0, 0.75)),))],
}


def _cases():
    cases = []
    for nd, geos in GEOMETRIES.items():
        for size, kw in geos:
            cases.append(Up(size, kw))
            for ac in (None, False, True):
                cases.append(Up(size, kw, LINEAR[nd], ac))
    return cases


CASES = _cases()


def _arrays(case, dtype, rng):
    x = rng.uniform(-1, 1, case.shape).astype(dtype)
    g = rng.uniform(-1, 1, (case.n, case.c) + case.out_size).astype(dtype)
    return x, g


def _close(got, expected, dtype, k, what):
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    assert got.dtype == np.dtype(dtype), f"{what}: dtype {got.dtype}"
    assert got.flags.c_contiguous
    t = tolerance(dtype, k)
    np.testing.assert_allclose(got, expected, rtol=t, atol=t, err_msg=what)


# ------------------------------------------------------------ reference ----
def test_grid_covers_every_option():
    modes = {(c.mode, c.align_corners) for c in CASES}
    assert modes >= {("nearest", None)} | {(m, a) for m in LINEAR.values()
                                           for a in (None, False, True)}
    kinds = {c.kw[0][0] for c in CASES}
    assert kinds == {"size", "scale_factor"}
    scales = [c.kw[0][1] for c in CASES if c.kw[0][0] == "scale_factor"]
    assert 1.7 in scales and 0.5 in scales
    assert any(o < i for c in CASES for i, o in zip(c.size, c.out_size)), "no downscaling"
    assert any(o == i for c in CASES for i, o in zip(c.size, c.out_size)), "no kept axis"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_forward_and_backward_match_reference(case, dtype, rng):
    x, g = _arrays(case, dtype, rng)
    y = fastconv.upsample(x, **case.kwargs)
    _close(y, upsample_reference(x, **case.kwargs), dtype, case.reduction(), case.id)
    gx = fastconv.upsample_backward(g, x, **case.kwargs)
    _close(gx, upsample_backward_reference(g, x, **case.kwargs), dtype, case.reduction(),
           case.id + " backward")


def test_by_hand():
    x = np.array([[[0.0, 1.0, 2.0, 3.0]]])
    np.testing.assert_array_equal(fastconv.upsample(x, scale_factor=2)[0, 0],
                                  [0, 0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(fastconv.upsample(x, scale_factor=0.5)[0, 0], [0, 2])
    # (o + 0.5) / 2 - 0.5 = -0.25 (clamped), 0.25, 0.75, ..., 3.25 (clamped at the end)
    np.testing.assert_allclose(fastconv.upsample(x, scale_factor=2, mode="linear")[0, 0],
                               [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])
    np.testing.assert_allclose(
        fastconv.upsample(x, size=7, mode="linear", align_corners=True)[0, 0],
        [0, 0.5, 1, 1.5, 2, 2.5, 3])
    # scale_factor, not in/out, sets the coordinates: 1.7 -> out 6, s = 1/1.7
    got = fastconv.upsample(x, scale_factor=1.7, mode="linear")[0, 0]
    src = [max((o + 0.5) / 1.7 - 0.5, 0) for o in range(6)]
    np.testing.assert_allclose(got, np.minimum(src, 3), rtol=1e-12)
    # size given: s = in/out = 4/6
    got = fastconv.upsample(x, size=6, mode="linear")[0, 0]
    np.testing.assert_allclose(got, np.minimum([max((o + 0.5) * 4 / 6 - 0.5, 0)
                                                for o in range(6)], 3))
    # bilinear of a 2x2 block, align_corners=True: the centre is the mean
    x2 = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    y2 = fastconv.upsample(x2, size=3, mode="bilinear", align_corners=True)[0, 0]
    np.testing.assert_allclose(y2, [[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]])


def test_output_size_rule():
    x = np.zeros((1, 1, 7, 10, 3))
    assert fastconv.upsample(x, scale_factor=1.5).shape == (1, 1, 10, 15, 4)
    assert fastconv.upsample(x, scale_factor=(0.3, 0.25, 1)).shape == (1, 1, 2, 2, 3)
    assert fastconv.upsample(x, size=(2, 3, 4)).shape == (1, 1, 2, 3, 4)
    assert fastconv.upsample(x, size=5).shape == (1, 1, 5, 5, 5)


def test_nearest_copies_when_size_is_kept_or_doubled():
    """out == in copies and out == 2*in reads o // 2, whatever the scale factor
    (PyTorch's nearest_idx rule; see upsample_backward's Notes)."""
    x = np.array([[[5.0, 7.0]]])
    np.testing.assert_array_equal(fastconv.upsample(x, scale_factor=1.3)[0, 0], [5, 7])
    np.testing.assert_array_equal(fastconv.upsample(x, scale_factor=2.04)[0, 0], [5, 5, 7, 7])


def test_nan_and_inf_propagate():
    """IEEE arithmetic on w0*x[i0] + w1*x[i1]: a zero weight times NaN or Inf is
    NaN (as in PyTorch); an axis that keeps its size is copied exactly."""
    nan, inf = np.nan, np.inf
    x = np.array([[[1.0, nan, 3.0, inf, 5.0]]])
    np.testing.assert_array_equal(fastconv.upsample(x, scale_factor=2)[0, 0],
                                  np.repeat(x[0, 0], 2))
    y = fastconv.upsample(x, size=9, mode="linear", align_corners=True)[0, 0]
    np.testing.assert_array_equal(y, [nan, nan, nan, nan, nan, inf, inf, inf, 5])
    np.testing.assert_array_equal(fastconv.upsample(x, size=5, mode="linear")[0, 0], x[0, 0])
    g = fastconv.upsample_backward(np.array([[[1.0, inf, 1.0]]]), np.zeros((1, 1, 2)),
                                   size=3, mode="linear", align_corners=True)[0, 0]
    np.testing.assert_array_equal(g, [inf, inf])


# The x2 fast paths (linear x2 along x with align_corners=False, nearest x2
# writing two output rows per pass) and their ends: widths 1 (no x2 path), 2
# (only end outputs), odd, below and above a vector; size given instead of a
# scale; rows cached across an output row's taps (trilinear reads 4 rows).
X2_CASES = [Up(size, kw, mode, ac, 1, 2)
            for size, kw in [((1, 1), (("scale_factor", 2),)),
                             ((3, 2), (("scale_factor", 2),)),
                             ((2, 3), (("scale_factor", 2),)),
                             ((5, 17), (("scale_factor", 2),)),
                             ((3, 40), (("size", (6, 80)),)),
                             ((4, 9), (("scale_factor", (1.5, 2)),)),
                             ((2, 3, 21), (("scale_factor", 2),)),
                             ((3, 2, 5), (("scale_factor", (2, 3, 2)),))]
            for mode, ac in [("nearest", None), ("linear", False), ("linear", True)]]
for _c in X2_CASES:
    object.__setattr__(_c, "mode", "nearest" if _c.mode == "nearest" else LINEAR[_c.nd])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", X2_CASES, ids=lambda c: c.id)
def test_x2_paths_match_reference(case, dtype, rng):
    x, _ = _arrays(case, dtype, rng)
    _close(fastconv.upsample(x, **case.kwargs), upsample_reference(x, **case.kwargs), dtype,
           case.reduction(), case.id)


def test_x2_path_nan_and_inf_at_the_ends():
    """The x2 loop's end outputs come from the tables: output 0 is
    1 * x[0] + 0 * x[1], NaN when x[1] is Inf, as in the generic path."""
    inf = np.inf
    x = np.array([[[1.0, inf, 3.0, 4.0, 5.0, 6.0, 7.0]]])
    lin = [0.75 * a + 0.25 * b for a, b in zip(x[0, 0, :-1], x[0, 0, 1:])]
    rev = [0.25 * a + 0.75 * b for a, b in zip(x[0, 0, :-1], x[0, 0, 1:])]
    expected = [np.nan] + [v for pair in zip(lin, rev) for v in pair] + [7.0]
    np.testing.assert_array_equal(fastconv.upsample(x, scale_factor=2, mode="linear")[0, 0],
                                  expected)
    np.testing.assert_array_equal(fastconv.upsample(x, scale_factor=2)[0, 0],
                                  np.repeat(x[0, 0], 2))


# ---------------------------------------------------------------- torch ----
def _torch_nearest_forward_differs(case):
    """PyTorch's 1-D and 3-D nearest forward kernels skip the out == in and
    out == 2*in rules that its backward (and its 2-D forward, and fastconv) use;
    those calls are compared by gradient only (documented in upsample_backward)."""
    (key, val), = case.kw
    if case.mode != "nearest" or key != "scale_factor" or case.nd == 2:
        return False
    scales = val if isinstance(val, tuple) else (val,) * case.nd
    return any((o == i and s != 1) or (o == 2 * i and s != 2)
               for i, o, s in zip(case.size, case.out_size, scales))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_matches_torch(case, dtype, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, g = _arrays(case, dtype, rng)
    tx = torch.from_numpy(x).requires_grad_()
    ac = case.align_corners
    if case.mode != "nearest" and ac is None:
        ac = False
    ty = F.interpolate(tx, **dict(case.kw), mode=case.mode, align_corners=ac)
    tg, = torch.autograd.grad(ty, tx, torch.from_numpy(g))
    y = fastconv.upsample(x, **case.kwargs)
    assert y.shape == tuple(ty.shape)
    if not _torch_nearest_forward_differs(case):
        _close(y, ty.detach().numpy(), dtype, case.reduction(), case.id)
    _close(fastconv.upsample_backward(g, x, **case.kwargs), tg.numpy(), dtype,
           case.reduction(), case.id + " backward")


def test_torch_nearest_forward_deviation_is_the_documented_one():
    """The one known difference: 1-D nearest, in=2, scale 1.3 (out == in).  fastconv
    copies, as PyTorch's 2-D forward and its backward do; its 1-D forward does not."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = np.array([[[5.0, 7.0]]])
    ours = fastconv.upsample(x, scale_factor=1.3)
    t2d = F.interpolate(torch.from_numpy(x[:, :, None]), scale_factor=(1.0, 1.3))
    np.testing.assert_array_equal(ours, t2d.numpy()[:, :, 0])
    tx = torch.from_numpy(x).requires_grad_()
    tg, = torch.autograd.grad(F.interpolate(tx, scale_factor=1.3), tx,
                              torch.tensor([[[1.0, 10.0]]], dtype=torch.float64))
    np.testing.assert_array_equal(fastconv.upsample_backward([[[1.0, 10.0]]], x,
                                                             scale_factor=1.3), tg.numpy())
    assert _torch_nearest_forward_differs(Up((2,), (("scale_factor", 1.3),), n=1, c=1))


# ------------------------------------------------------------- gradients ----
GRAD_CASES = [c for c in CASES if np.prod(c.size) <= 12 and c.nd < 3] + [
    Up((2, 2, 3), (("scale_factor", 1.5),), "nearest", None, 1, 2),
    Up((2, 2, 3), (("scale_factor", 1.5),), "trilinear", False, 1, 2),
    Up((2, 2, 3), (("size", (3, 1, 4)),), "trilinear", True, 1, 2),
]


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.id)
def test_backward_matches_finite_differences(case, rng):
    """Central differences of L(x) = <upsample(x), g> in float64."""
    x, g = _arrays(Up(case.size, case.kw, case.mode, case.align_corners, 1, 2), np.float64, rng)
    grad = fastconv.upsample_backward(g, x, **case.kwargs)
    h = 1e-6
    numeric = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        numeric[idx] = (np.vdot(fastconv.upsample(xp, **case.kwargs), g) -
                        np.vdot(fastconv.upsample(xm, **case.kwargs), g)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_adjoint_identity(case, dtype, rng):
    """<upsample(x), y> == <x, upsample_backward(y)>."""
    x, y = _arrays(case, dtype, rng)
    lhs = np.vdot(fastconv.upsample(x, **case.kwargs).astype(np.float64), y)
    rhs = np.vdot(x.astype(np.float64), fastconv.upsample_backward(y, x, **case.kwargs))
    t = tolerance(dtype, case.reduction() * y.size)
    assert abs(lhs - rhs) <= t * (1 + abs(lhs)), (lhs, rhs)


# --------------------------------------------- threads, SIMD, layouts, out ----
BIG = [Up((64, 64), (("scale_factor", 2),), "nearest", None, 2, 4),
       Up((48, 48), (("scale_factor", 1.7),), "bilinear", False, 2, 4),
       Up((9, 10, 11), (("scale_factor", 1.5),), "trilinear", True, 2, 3),
       Up((80, 96), (("scale_factor", 0.5),), "bilinear", False, 3, 8)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", BIG, ids=lambda c: c.id)
def test_one_and_two_threads_bitwise_identical(case, dtype, rng, restore_threads):
    x, g = _arrays(case, dtype, rng)
    results = []
    for n in (1, 2):
        fastconv.set_num_threads(n)
        spec = _validate.check_upsample("t", x, *_split(case)).spec
        assert _threads.team_size(spec.work) == n, "case too small to use 2 threads"
        results.append((fastconv.upsample(x, **case.kwargs),
                        fastconv.upsample_backward(g, x, **case.kwargs)))
    (y1, g1), (y2, g2) = results
    assert np.array_equal(y1, y2) and y1.tobytes() == y2.tobytes()
    assert g1.tobytes() == g2.tobytes()
    _close(y1, upsample_reference(x, **case.kwargs), dtype, case.reduction(), case.id)


def _split(case):
    d = dict(case.kw)
    return d.get("size"), d.get("scale_factor"), case.mode, case.align_corners


def test_every_simd_path_matches_reference(simd_path, rng):
    case = BIG[1]
    x, g = _arrays(case, np.float32, rng)
    y = fastconv.upsample(x, **case.kwargs)
    _close(y, upsample_reference(x, **case.kwargs), np.float32, case.reduction(), simd_path)
    assert fastconv.upsample_backward(g, x, **case.kwargs).shape == x.shape


def test_concurrent_calls_from_python_threads(rng):
    case = BIG[1]
    x, _ = _arrays(case, np.float64, rng)
    expected = fastconv.upsample(x, **case.kwargs)
    results = [None] * 4

    def work(i):
        results[i] = fastconv.upsample(x, **case.kwargs)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert r.tobytes() == expected.tobytes()


@pytest.mark.parametrize("layout", ["transposed", "strided", "negative", "readonly", "list"])
def test_any_layout(layout, rng):
    base = rng.uniform(-1, 1, (3, 2, 5, 8))
    if layout == "transposed":
        x = np.ascontiguousarray(base.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    elif layout == "strided":
        x = rng.uniform(-1, 1, (3, 2, 10, 16))[:, :, ::2, ::2]
    elif layout == "negative":
        x = base[:, :, ::-1, ::-1]
    elif layout == "readonly":
        x = base.copy()
        x.flags.writeable = False
    else:
        x = base.tolist()
    xc = np.array(x)
    kw = dict(scale_factor=1.5, mode="bilinear")
    np.testing.assert_array_equal(fastconv.upsample(x, **kw), fastconv.upsample(xc, **kw))
    g = rng.uniform(-1, 1, (3, 2, 7, 12))
    np.testing.assert_array_equal(fastconv.upsample_backward(g[:, :, ::-1], x, **kw),
                                  fastconv.upsample_backward(g[:, :, ::-1].copy(), xc, **kw))


def test_out_argument(rng):
    x = rng.uniform(-1, 1, (2, 3, 4, 5)).astype(np.float32)
    out = np.full((2, 3, 8, 10), np.nan, np.float32)
    r = fastconv.upsample(x, scale_factor=2, mode="bilinear", out=out)
    assert r is out
    np.testing.assert_array_equal(out, fastconv.upsample(x, scale_factor=2, mode="bilinear"))


@pytest.mark.parametrize("shape", [(0, 3, 4, 5), (2, 0, 4, 5)], ids=["N0", "C0"])
def test_empty_batch_or_channels(shape):
    x = np.zeros(shape, np.float32)
    y = fastconv.upsample(x, scale_factor=2, mode="bilinear")
    assert y.shape == shape[:2] + (8, 10) and y.dtype == np.float32
    g = fastconv.upsample_backward(y, x, scale_factor=2, mode="bilinear")
    assert g.shape == shape


@pytest.mark.parametrize("g_dt,x_dt,expected", [
    (np.float32, np.float32, np.float32), (np.float64, np.float32, np.float64),
    (np.float32, np.float64, np.float64)])
def test_backward_dtype(g_dt, x_dt, expected):
    x = np.ones((1, 1, 3), x_dt)
    g = np.ones((1, 1, 6), g_dt)
    assert fastconv.upsample_backward(g, x, scale_factor=2).dtype == expected
    assert fastconv.upsample(x, scale_factor=2).dtype == x_dt


# ------------------------------------------------------------ bad input ----
X2 = np.zeros((1, 2, 4, 4), np.float32)


@pytest.mark.parametrize("args,kwargs,exc,match", [
    ((np.zeros((2, 4)),), dict(scale_factor=2), ValueError, r"x must have shape.*\(2, 4\)"),
    ((np.zeros((2, 4, 4, 4, 4, 4)),), dict(scale_factor=2), ValueError, "x must have shape"),
    ((X2,), dict(), ValueError, "exactly one of size and scale_factor.*neither"),
    ((X2,), dict(size=8, scale_factor=2), ValueError, "exactly one of size and scale_factor.*both"),
    ((X2,), dict(scale_factor=2, mode="bicubic"), ValueError, "mode must be one of"),
    ((X2,), dict(scale_factor=2, mode="linear"), ValueError,
     r"mode='linear' needs 3-D.*\(1, 2, 4, 4\)"),
    ((X2,), dict(scale_factor=2, mode="trilinear"), ValueError, "mode='trilinear' needs 5-D"),
    ((X2,), dict(scale_factor=2, align_corners=True), ValueError, "align_corners"),
    ((X2,), dict(scale_factor=2, align_corners=False), ValueError, "align_corners"),
    ((X2,), dict(scale_factor=2, mode="bilinear", align_corners="yes"), TypeError, "align_corners"),
    ((X2,), dict(size=(8, 8, 8)), ValueError, "size must be an int or 2 ints"),
    ((X2,), dict(size=0), ValueError, "size must be >= 1"),
    ((X2,), dict(size=2.5), TypeError, "size"),
    ((X2,), dict(scale_factor=0), ValueError, "scale_factor must be finite and > 0"),
    ((X2,), dict(scale_factor=-2.0), ValueError, "scale_factor must be finite and > 0"),
    ((X2,), dict(scale_factor=float("nan")), ValueError, "scale_factor"),
    ((X2,), dict(scale_factor=(2, 2, 2)), ValueError, "scale_factor must be a number or 2"),
    ((X2,), dict(scale_factor="2"), TypeError, "scale_factor"),
    ((X2,), dict(scale_factor=0.1), ValueError, r"scale_factor=0.1 gives output size \(0, 0\)"),
    # finite, but in * scale overflows a double (found by tools/fuzz.py)
    ((X2,), dict(scale_factor=1e308), ValueError,
     r"gives an output size beyond any float for x of spatial shape \(4, 4\)"),
    ((X2,), dict(scale_factor=(2, 1e308)), ValueError, "beyond any float"),
    ((np.zeros((1, 2, 0, 4)),), dict(scale_factor=2), ValueError, "x .* empty spatial axis"),
    ((np.zeros((1, 2, 4, 4), np.int32),), dict(scale_factor=2), TypeError, "x has dtype int32"),
    ((np.zeros((1, 2, 4, 4), np.float16),), dict(scale_factor=2), TypeError, "x has dtype float16"),
    ((np.zeros((1, 2, 4, 4), np.complex64),), dict(scale_factor=2), TypeError,
     "x has dtype complex64"),
])
def test_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fastconv.upsample(*args, **kwargs)


def test_bad_out():
    with pytest.raises(ValueError, match="out has shape"):
        fastconv.upsample(X2, scale_factor=2, out=np.zeros((1, 2, 4, 4), np.float32))
    with pytest.raises(TypeError, match="out has dtype"):
        fastconv.upsample(X2, scale_factor=2, out=np.zeros((1, 2, 8, 8)))
    with pytest.raises(ValueError, match="out overlaps the memory of x"):
        buf = np.zeros((1, 2, 8, 8), np.float32)
        fastconv.upsample(buf[:, :, :4, :4], size=(8, 8), out=buf)


def test_bad_backward_input():
    with pytest.raises(ValueError, match=r"grad_output has shape \(1, 2, 4, 4\).*\(1, 2, 8, 8\)"):
        fastconv.upsample_backward(X2, X2, scale_factor=2)
    with pytest.raises(TypeError, match="grad_output has dtype int64"):
        fastconv.upsample_backward(np.zeros((1, 2, 8, 8), np.int64), X2, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners"):
        fastconv.upsample_backward(np.zeros((1, 2, 8, 8)), X2, scale_factor=2,
                                   align_corners=False)
    # the fuzzer's case: an empty batch, a scale whose output size overflows
    with pytest.raises(ValueError, match="scale_factor=.* beyond any float"):
        fastconv.upsample_backward(np.zeros((0, 1, 18), np.float32),
                                   np.zeros((0, 1, 9), np.float32),
                                   scale_factor=1.9974368165136842e+307)
