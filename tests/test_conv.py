"""conv1d / conv2d / conv3d forward: every algorithm against the NumPy reference
over a grid of shapes and options, against PyTorch, across dtypes, thread counts
and SIMD paths."""
import contextlib
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field, replace

import numpy as np
import pytest

import fastconv
from conftest import algorithm_factor, refuses, winograd_applies
from reference import conv_nd_reference, padding_pairs, reference_output_size

PAD_MODES = ("zeros", "reflect", "replicate", "circular")
DTYPES = (np.float32, np.float64)
CONV = {1: fastconv.conv1d, 2: fastconv.conv2d, 3: fastconv.conv3d}


# ------------------------------------------------------------------ cases ----
@dataclass(frozen=True)
class Case:
    """One convolution call.  x: (n, c_in, *size); weight: (c_out, c_in/groups, *kernel)."""
    n: int
    c_in: int
    c_out: int
    size: tuple
    kernel: tuple
    stride: object = 1
    padding: object = 0
    dilation: object = 1
    groups: int = 1
    padding_mode: str = "zeros"
    bias: bool = True
    tags: tuple = field(default=(), compare=False)

    @property
    def nd(self):
        return len(self.size)

    def per_axis(self, value):
        return (value,) * self.nd if isinstance(value, int) else tuple(value)

    @property
    def pairs(self):
        return padding_pairs(self.padding, self.kernel, self.stride, self.dilation)

    @property
    def out_size(self):
        return reference_output_size(self.size, self.kernel, self.per_axis(self.stride),
                                     self.pairs, self.per_axis(self.dilation))

    @property
    def weight_shape(self):
        return (self.c_out, self.c_in // self.groups) + tuple(self.kernel)

    def valid(self):
        """Inputs fastconv must accept (reflect padding < input size, output >= 1)."""
        if self.padding_mode == "reflect" and any(
                max(p) >= s for p, s in zip(self.pairs, self.size)):
            return False
        return min(self.out_size) >= 1

    @property
    def id(self):
        def fmt(v):
            if isinstance(v, str):
                return v
            if isinstance(v, int):
                return str(v)
            return "x".join(fmt(e) if not isinstance(e, tuple) else "(" + "_".join(map(str, e)) + ")"
                            for e in v)
        return (f"n{self.n}-c{self.c_in}to{self.c_out}-g{self.groups}-in{fmt(self.size)}"
                f"-k{fmt(self.kernel)}-s{fmt(self.stride)}-p{fmt(self.padding)}"
                f"-d{fmt(self.dilation)}-{self.padding_mode}-{'bias' if self.bias else 'nobias'}")

    def arrays(self, rng, dtype):
        x = rng.uniform(-1, 1, (self.n, self.c_in) + tuple(self.size)).astype(dtype)
        w = rng.uniform(-1, 1, self.weight_shape).astype(dtype)
        b = rng.uniform(-1, 1, self.c_out).astype(dtype) if self.bias else None
        return x, w, b

    def kwargs(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    groups=self.groups, padding_mode=self.padding_mode)

    def reference(self, x, w, b):
        return conv_nd_reference(x, w, b, self.per_axis(self.stride), self.pairs,
                                 self.per_axis(self.dilation), self.groups, self.padding_mode)


def _expand(geometries, modes=PAD_MODES):
    """Each geometry under each padding mode (bias alternating, so every
    geometry and every mode is seen with and without bias); reflect cases whose
    padding reaches the input size are dropped."""
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


def C2(n, c_in, c_out, size, kernel, tags="", **kw):
    return Case(n, c_in, c_out, tuple(size), tuple(kernel), tags=tuple(tags.split()), **kw)


# Geometries for conv2d.  tags name what each row is there for (checked by
# test_conv2d_grid_covers_requirements).
GEOMETRIES_2D = [
    C2(2, 3, 4, (8, 8), (3, 3), "basic batch", padding=1),
    C2(3, 2, 3, (5, 6), (3, 3), "batch", padding=0),
    C2(2, 3, 4, (9, 8), (3, 3), "stride2", stride=2, padding=1),
    C2(1, 2, 3, (10, 11), (3, 2), "stride3 nonsquare", stride=3, padding=1),
    C2(1, 2, 3, (9, 10), (3, 3), "stride_tuple", stride=(1, 2), padding=(1, 0)),
    C2(1, 2, 2, (12, 13), (2, 2), "large_stride", stride=5, padding=1),
    C2(1, 2, 3, (11, 9), (1, 1), "large_stride k1x1", stride=(4, 7), padding=0),
    C2(2, 4, 6, (9, 33), (1, 1), "k1x1 stride2 groups", stride=2, groups=2),
    C2(1, 3, 5, (8, 40), (1, 1), "k1x1 stride(2,3) rows past a vector", stride=(2, 3)),
    C2(2, 3, 2, (7, 7), (3, 3), "large_stride stride3", stride=(3, 4), padding=(2, 1)),
    C2(1, 3, 4, (6, 7), (3, 3), "padding_int", padding=2),
    C2(1, 3, 4, (6, 7), (3, 5), "padding_tuple nonsquare", padding=(1, 2)),
    C2(2, 2, 3, (6, 7), (3, 2), "valid", padding="valid"),
    C2(1, 2, 3, (6, 7), (3, 3), "same", padding="same"),
    C2(1, 2, 3, (6, 7), (4, 2), "same same_even", padding="same"),
    C2(1, 2, 3, (7, 8), (3, 2), "same dilation same_even", padding="same", dilation=(2, 3)),
    C2(1, 3, 2, (6, 6), (3, 3), "asym", padding=((0, 2), (1, 0))),
    C2(2, 2, 3, (7, 8), (3, 3), "asym stride2", padding=((2, 1), (0, 2)), stride=2),
    C2(1, 2, 2, (6, 5), (2, 3), "asym mixed_pair", padding=((1, 2), 1)),
    C2(1, 2, 3, (9, 9), (3, 3), "dilation", dilation=2, padding=2),
    C2(1, 2, 3, (10, 9), (2, 3), "dilation nonsquare", dilation=(2, 3), padding=(1, 2)),
    C2(1, 4, 6, (8, 8), (3, 3), "dilation groups", groups=2, dilation=2, padding=1),
    C2(2, 4, 4, (9, 8), (3, 2), "dilation depthwise", groups=4, dilation=(3, 1), padding=(2, 1)),
    C2(2, 4, 6, (6, 6), (3, 3), "groups", groups=2, padding=1),
    C2(1, 6, 9, (5, 6), (2, 3), "groups3", groups=3, padding=(0, 1)),
    C2(2, 4, 4, (6, 7), (3, 3), "depthwise", groups=4, padding=1),
    C2(1, 3, 6, (6, 5), (3, 3), "depthwise multiplier", groups=3, padding=1, stride=2),
    C2(2, 3, 5, (5, 6), (1, 1), "k1x1"),
    C2(1, 4, 3, (6, 7), (1, 1), "k1x1 stride2", stride=2, padding=1),
    C2(1, 4, 4, (5, 5), (1, 1), "k1x1 groups", groups=2),
    C2(1, 2, 3, (5, 4), (7, 6), "full_kernel", padding=1),
    C2(2, 3, 2, (4, 6), (4, 6), "full_kernel valid", padding="valid"),
    C2(1, 2, 2, (3, 3), (6, 4), "full_kernel asym", padding=((1, 2), (0, 1))),
    C2(1, 2, 3, (3, 17), (1, 5), "nonsquare wide", padding=(0, 2)),
    C2(1, 2, 3, (16, 2), (4, 1), "nonsquare tall", stride=(3, 1), padding=(1, 0)),
    C2(0, 3, 4, (6, 6), (3, 3), "empty_batch", padding=1),
    C2(0, 4, 2, (5, 7), (2, 3), "empty_batch groups", groups=2, stride=2),
    C2(1, 3, 13, (6, 6), (3, 3), "many_out_channels", padding=1),
    C2(1, 1, 2, (2, 300), (1, 3), "long_row", padding=(0, 1)),
    C2(1, 1, 2, (3, 290), (2, 3), "long_row stride2", stride=(1, 2), dilation=(1, 3), padding=2),
    C2(1, 1, 2, (3, 3), (3, 3), "pad_gt_size", padding=4),
    C2(1, 2, 2, (4, 3), (3, 2), "stride_gt_size", stride=(5, 6), padding=1),
    C2(1, 1, 1, (1, 1), (1, 1), "tiny"),
    C2(1, 2, 3, (1, 9), (1, 3), "one_row", padding=(0, 1)),
    C2(2, 4, 6, (9, 10), (3, 2), "combo groups dilation asym stride2",
       stride=2, dilation=(2, 1), groups=2, padding=((2, 1), (0, 1))),
    C2(1, 5, 7, (8, 9), (3, 5), "combo primes", stride=(2, 3), dilation=(1, 2), padding=(2, 1)),
]

CASES_2D = _expand(GEOMETRIES_2D)
REQUIRED_2D = {"basic", "batch", "stride2", "stride3", "large_stride", "padding_int",
               "padding_tuple", "valid", "same", "same_even", "asym", "dilation", "groups",
               "depthwise", "k1x1", "full_kernel", "nonsquare", "empty_batch"}


def _applies(case, algorithm):
    return algorithm != "winograd" or winograd_applies(case.kernel, case.stride, case.dilation)


def _run_case(case, dtype, algorithm, rng, check):
    """Every algorithm on every case: results within tolerance where it applies,
    ValueError where it does not (only 'winograd' has a shape rule)."""
    x, w, b = case.arrays(rng, dtype)

    def call():
        return CONV[case.nd](x, w, b, **case.kwargs(), algorithm=algorithm)
    if refuses(algorithm, _applies(case, algorithm), call):
        return None
    expected = case.reference(x, w, b)
    check(call(), expected, dtype, case.weight_shape,
          params=f"{case} dtype={np.dtype(dtype).name} algorithm={algorithm!r}",
          factor=algorithm_factor(algorithm))


def test_conv2d_grid_size():
    n_configs = len(CASES_2D) * len(DTYPES)
    print(f"conv2d grid: {len(CASES_2D)} cases x {len(DTYPES)} dtypes = {n_configs} "
          f"configurations, each run with algorithms {fastconv.ALGORITHMS}")
    assert n_configs >= 200


def test_conv2d_grid_covers_requirements():
    tags = {t for c in CASES_2D for t in c.tags}
    assert REQUIRED_2D <= tags, REQUIRED_2D - tags
    assert {c.padding_mode for c in CASES_2D} == set(PAD_MODES)
    assert {c.bias for c in CASES_2D} == {True, False}
    strides = {s for c in CASES_2D for s in c.per_axis(c.stride)}
    assert {1, 2, 3} <= strides
    assert any(min(c.per_axis(c.stride)) > max(c.kernel) for c in CASES_2D)
    assert any(c.groups > 1 and max(c.per_axis(c.dilation)) > 1 for c in CASES_2D)
    assert any(c.groups == c.c_in > 1 for c in CASES_2D)
    assert any(c.out_size == (1, 1) for c in CASES_2D)
    for form in (int, str, "tuple", "pairs"):
        if form == "tuple":
            assert any(isinstance(c.padding, tuple) and all(isinstance(p, int) for p in c.padding)
                       for c in CASES_2D)
        elif form == "pairs":
            assert any(isinstance(c.padding, tuple) and any(isinstance(p, tuple) for p in c.padding)
                       and any(a != b for a, b in c.pairs) for c in CASES_2D)
        else:
            assert any(isinstance(c.padding, form) for c in CASES_2D)
    # every padding mode actually pads somewhere (else it would not be tested)
    for mode in PAD_MODES:
        assert any(c.padding_mode == mode and any(map(any, c.pairs)) for c in CASES_2D)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES_2D, ids=lambda c: c.id)
def test_conv2d_matches_reference(case, dtype, algorithm, rng, check):
    _run_case(case, dtype, algorithm, rng, check)


# ---------------------------------------------------------- conv1d / conv3d ----
def C1(n, c_in, c_out, size, kernel, **kw):
    return Case(n, c_in, c_out, (size,), (kernel,), **kw)


GEOMETRIES_1D = [
    C1(2, 3, 4, 10, 3, padding=1),
    C1(1, 2, 3, 11, 3, stride=2, padding=1),
    C1(1, 2, 3, 13, 2, stride=5, padding=1),          # stride > kernel
    C1(1, 2, 2, 9, 3, stride=3),
    C1(1, 2, 3, 8, 4, padding="same"),                # odd total -> extra at end
    C1(1, 2, 3, 9, 3, padding="same", dilation=3),
    C1(1, 2, 3, 8, 3, padding="valid"),
    C1(1, 2, 3, 8, 3, padding=(2,)),
    C1(1, 2, 3, 7, 3, padding=((0, 2),)),
    C1(1, 2, 3, 7, 2, padding=((3, 1),), stride=2),
    C1(2, 4, 6, 12, 3, groups=2, dilation=2, padding=2),
    C1(1, 4, 8, 9, 3, groups=4, padding=1),
    C1(1, 3, 5, 7, 1),
    C1(2, 3, 5, 41, 1, stride=2),                     # strided 1x1: the subsample
    C1(1, 2, 2, 5, 7, padding=1),                     # kernel = padded input
    C1(0, 2, 3, 6, 3, padding=1),                     # empty batch
    C1(1, 1, 3, 300, 5, padding=2, stride=1),          # longer than a chunk
    C1(1, 1, 2, 3, 3, padding=5),                     # padding > size
    # 'direct' reads a stride-1 row's interior chunks in place, the padded
    # ends through its panel; rows cut into pieces across threads
    C1(2, 5, 7, 900, 3, padding=1),
    C1(1, 4, 6, 1000, 5, padding=4, dilation=2, groups=2),
    C1(1, 3, 4, 700, 3, padding="valid"),
]
GEOMETRIES_3D = [
    Case(2, 2, 3, (4, 5, 5), (2, 3, 3), padding=1),
    Case(1, 2, 3, (5, 6, 5), (3, 3, 2), stride=2, padding=(1, 1, 0)),
    Case(1, 2, 2, (7, 6, 6), (2, 2, 2), stride=(4, 3, 5), padding=1),
    Case(1, 2, 3, (4, 5, 6), (3, 2, 3), padding="same"),
    Case(1, 2, 3, (5, 5, 6), (2, 3, 2), padding="same", dilation=(2, 1, 2)),
    Case(1, 2, 2, (4, 4, 5), (2, 2, 3), padding="valid"),
    Case(1, 2, 3, (4, 4, 4), (2, 3, 2), padding=((0, 1), (2, 0), (1, 1))),
    Case(1, 4, 6, (5, 6, 6), (2, 3, 3), groups=2, dilation=(2, 1, 2), padding=1),
    Case(1, 3, 3, (4, 5, 5), (3, 3, 3), groups=3, padding=1),
    Case(1, 3, 4, (3, 4, 5), (1, 1, 1), stride=(1, 2, 2)),
    Case(2, 3, 4, (5, 4, 7), (1, 1, 1), stride=(2, 1, 3)),
    Case(1, 2, 2, (3, 3, 4), (5, 4, 6), padding=1),   # kernel = padded input
    Case(0, 2, 3, (4, 4, 4), (2, 2, 2), padding=1),   # empty batch
]
CASES_1D = _expand(GEOMETRIES_1D)
CASES_3D = _expand(GEOMETRIES_3D)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES_1D, ids=lambda c: c.id)
def test_conv1d_matches_reference(case, dtype, algorithm, rng, check):
    _run_case(case, dtype, algorithm, rng, check)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES_3D, ids=lambda c: c.id)
def test_conv3d_matches_reference(case, dtype, algorithm, rng, check):
    _run_case(case, dtype, algorithm, rng, check)


def test_conv1d_conv3d_grids_cover_every_option():
    for cases in (CASES_1D, CASES_3D):
        assert {c.padding_mode for c in cases} == set(PAD_MODES)
        assert {c.bias for c in cases} == {True, False}
        assert {type(c.padding) for c in cases} >= {int, str, tuple}
        assert {"same", "valid"} <= {c.padding for c in cases if isinstance(c.padding, str)}
        assert any(c.groups > 1 and max(c.per_axis(c.dilation)) > 1 for c in cases)
        assert any(max(c.per_axis(c.stride)) > 1 for c in cases)
        assert any(c.n == 0 for c in cases)
        assert any(any(a != b for a, b in c.pairs) for c in cases)


# --------------------------------------------- the reference checks itself ----
@pytest.mark.parametrize("mode, expected", [
    ("zeros", [0, 0, 1, 2, 3, 4, 0, 0]),
    ("reflect", [3, 2, 1, 2, 3, 4, 3, 2]),
    ("replicate", [1, 1, 1, 2, 3, 4, 4, 4]),
    ("circular", [3, 4, 1, 2, 3, 4, 1, 2]),
])
def test_padding_modes_by_hand(mode, expected, algorithm):
    """A 1-tap identity kernel returns the padded input itself: the padding
    modes' meaning, written out (README: 'cb|abcd|cb', 'aa|abcd|dd', 'cd|abcd|ab')."""
    x = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    w = np.ones((1, 1, 1))
    ref = conv_nd_reference(x, w, None, (1,), ((2, 2),), (1,), 1, mode)
    np.testing.assert_array_equal(ref[0, 0], expected)
    if refuses(algorithm, False, lambda: fastconv.conv1d(x, w, padding=2, algorithm=algorithm)):
        return
    got = fastconv.conv1d(x, w, padding=2, padding_mode=mode, algorithm=algorithm)
    np.testing.assert_array_equal(got[0, 0], expected)


def test_circular_wraps_more_than_once(algorithm):
    x = np.array([[[1.0, 2.0]]])

    def call():
        return fastconv.conv1d(x, np.ones((1, 1, 1)), padding=((3, 4),),
                               padding_mode="circular", algorithm=algorithm)
    if refuses(algorithm, False, call):
        return
    got = call()
    np.testing.assert_array_equal(got[0, 0], [2, 1, 2, 1, 2, 1, 2, 1, 2])


def test_reference_by_hand():
    """The doctest example, and a stride/dilation/bias example computed by hand."""
    ref = conv_nd_reference(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), None, (1, 1),
                            ((1, 1), (1, 1)), (1, 1), 1, "zeros")
    np.testing.assert_array_equal(ref[0, 0], [[4, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6],
                                              [4, 6, 6, 4]])
    x = np.arange(7.0).reshape(1, 1, 7)      # 0 1 2 3 4 5 6
    w = np.array([[[1.0, 10.0]]])            # taps at offsets 0 and 2 (dilation 2)
    ref = conv_nd_reference(x, w, [0.5], (3,), ((0, 0),), (2,), 1, "zeros")
    # windows start at 0, 3 -> 0 + 10*2 + .5, 3 + 10*5 + .5
    np.testing.assert_array_equal(ref[0, 0], [20.5, 53.5])


@pytest.mark.parametrize("padding, kernel, dilation, expected", [
    ("valid", (3, 2), 1, ((0, 0), (0, 0))),
    ("same", (3, 3), 1, ((1, 1), (1, 1))),
    ("same", (4, 2), 1, ((1, 2), (0, 1))),
    ("same", (2, 3), (3, 2), ((1, 2), (2, 2))),
    (2, (3, 3), 1, ((2, 2), (2, 2))),
    ((1, 0), (3, 3), 1, ((1, 1), (0, 0))),
    (((0, 2), (3, 1)), (3, 3), 1, ((0, 2), (3, 1))),
    (((0, 2), 1), (3, 3), 1, ((0, 2), (1, 1))),
])
def test_padding_pairs_helper(padding, kernel, dilation, expected):
    assert padding_pairs(padding, kernel, 1, dilation) == expected


# ----------------------------------------------------------- NaN and Inf ----
def test_nan_inf_propagate(algorithm, check):
    """NaN and Inf are data, not errors: exactly the outputs whose window reads
    them are NaN/Inf; outputs whose window skips them (stride 2) stay finite."""
    x = np.zeros((1, 1, 7, 7))
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 4, 5] = np.inf
    w = np.ones((1, 1, 2, 2))
    if refuses(algorithm, False, lambda: fastconv.conv2d(x, w, stride=2, algorithm=algorithm)):
        return
    got = fastconv.conv2d(x, w, stride=2, algorithm=algorithm)
    expected = conv_nd_reference(x, w, None, (2, 2), ((0, 0), (0, 0)), (1, 1), 1, "zeros")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(expected))
    assert np.isnan(got).sum() == 1 and np.isinf(got).sum() == 1
    check(got, expected, np.float64, w.shape)


# ------------------------------------------------------------ dtype in/out ----
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("x_dt, w_dt, b_dt, out_dt", [
    (np.float32, np.float32, np.float32, np.float32),
    (np.float32, np.float32, None, np.float32),
    (np.float64, np.float64, np.float64, np.float64),
    (np.float32, np.float64, None, np.float64),
    (np.float64, np.float32, None, np.float64),
    (np.float32, np.float32, np.float64, np.float64),
    (np.float64, np.float32, np.float32, np.float64),
], ids=lambda d: "none" if d is None else np.dtype(d).name)
def test_dtype_in_dtype_out(nd, x_dt, w_dt, b_dt, out_dt, algorithm, rng, check):
    x = rng.uniform(-1, 1, (2, 4) + (6,) * nd).astype(x_dt)
    w = rng.uniform(-1, 1, (4, 2) + (3,) * nd).astype(w_dt)
    b = None if b_dt is None else rng.uniform(-1, 1, 4).astype(b_dt)

    def call():
        return CONV[nd](x, w, b, padding=1, groups=2, algorithm=algorithm)
    if refuses(algorithm, winograd_applies(w.shape[2:]), call):
        return
    got = call()
    assert got.dtype == out_dt
    expected = conv_nd_reference(x, w, b, (1,) * nd, ((1, 1),) * nd, (1,) * nd, 2, "zeros")
    check(got, expected, out_dt, w.shape, params=f"nd={nd} {x_dt} {w_dt} {b_dt}",
          factor=algorithm_factor(algorithm))
    if out_dt == np.float64:
        # promoted inputs are computed in float64, not in float32 and cast
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ torch ----
def _torch_conv(case, x, w, b):
    """The same call through PyTorch: explicit F.pad with the padding mode, then
    an unpadded F.conv{n}d."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    tb = None if b is None else torch.from_numpy(b)
    pad = []
    for before, after in reversed(case.pairs):       # torch: last axis first
        pad += [before, after]
    tmode = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
             "circular": "circular"}[case.padding_mode]
    if any(pad):
        tx = F.pad(tx, pad, mode=tmode)
    conv = getattr(F, f"conv{case.nd}d")
    return conv(tx, tw, tb, stride=case.stride, padding=0, dilation=case.dilation,
                groups=case.groups).numpy()


def _torch_can(case):
    # torch's circular pad wraps at most once; N = 0 is not interesting here
    return case.n > 0 and not (case.padding_mode == "circular"
                               and any(max(p) > s for p, s in zip(case.pairs, case.size)))


TORCH_CASES = [c for c in CASES_1D + CASES_2D + CASES_3D if _torch_can(c)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: f"{c.nd}d-{c.id}")
def test_matches_torch(case, dtype, rng, check):
    pytest.importorskip("torch")
    x, w, b = case.arrays(rng, dtype)
    expected = _torch_conv(case, x, w, b)
    got = CONV[case.nd](x, w, b, **case.kwargs())
    check(got, expected.astype(np.float64), dtype, case.weight_shape,
          params=f"{case} dtype={np.dtype(dtype).name} vs torch")


@pytest.mark.parametrize("mode", PAD_MODES)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_matches_torch_module_padding_mode(nd, mode, rng, check):
    """torch.nn.ConvNd(padding_mode=...) itself, independent of our F.pad mapping."""
    torch = pytest.importorskip("torch")
    module = getattr(torch.nn, f"Conv{nd}d")(4, 6, 3, stride=2, padding=2, dilation=1,
                                             groups=2, bias=True, padding_mode=mode,
                                             dtype=torch.float64)
    x = rng.uniform(-1, 1, (2, 4) + (5,) * nd)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    w = module.weight.detach().numpy()
    b = module.bias.detach().numpy()
    got = CONV[nd](x, w, b, stride=2, padding=2, groups=2, padding_mode=mode)
    check(got, expected, np.float64, w.shape, params=f"nd={nd} mode={mode} vs torch module")


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("kernel, dilation", [((3, 3), 1), ((4, 2), 1), ((2, 5), (3, 1)),
                                              ((4, 4), 2)])
def test_same_padding_matches_torch(kernel, dilation, rng, check):
    """torch's own padding='same' (extra element at the end for an odd total)."""
    torch = pytest.importorskip("torch")
    x = rng.uniform(-1, 1, (1, 2, 7, 8))
    w = rng.uniform(-1, 1, (3, 2) + kernel)
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                          padding="same", dilation=dilation).numpy()
    got = fastconv.conv2d(x, w, padding="same", dilation=dilation)
    check(got, expected, np.float64, w.shape, params=f"kernel={kernel} dilation={dilation}")


# ---------------------------------------------------------------- threads ----
# Big enough that the direct kernel uses a 2-thread team (>= 2 * 65536
# multiply-adds) and OpenBLAS's GEMM goes parallel, still a few ms.
THREAD_CASES = [
    C2(2, 8, 16, (32, 32), (3, 3), padding=1, bias=True),
    C2(1, 6, 10, (21, 37), (3, 2), stride=(1, 2), padding=((1, 0), (2, 1)), groups=2,
       dilation=(2, 1), padding_mode="reflect", bias=False),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", THREAD_CASES, ids=lambda c: c.id)
def test_one_and_two_threads_bitwise_identical(case, dtype, algorithm, rng, check,
                                               restore_threads):
    x, w, b = case.arrays(rng, dtype)
    if refuses(algorithm, _applies(case, algorithm),
               lambda: fastconv.conv2d(x, w, b, **case.kwargs(), algorithm=algorithm)):
        return
    results = []
    if algorithm == "im2col":
        threadpoolctl = pytest.importorskip("threadpoolctl")
        fastconv.conv2d(x, w, b, **case.kwargs(), algorithm="im2col")   # loads BLAS
        for n in (1, 2):
            with threadpoolctl.threadpool_limits(limits=n, user_api="blas"):
                results.append(fastconv.conv2d(x, w, b, **case.kwargs(), algorithm=algorithm))
    else:
        # An OpenMP limit set elsewhere in the process (e.g. torch.set_num_threads(1)
        # by another test) would win over set_num_threads(2): lift it for the test.
        try:
            import threadpoolctl
            omp = threadpoolctl.threadpool_limits(limits=2, user_api="openmp")
        except ImportError:
            omp = contextlib.nullcontext()
        with omp:
            for n in (1, 2):
                fastconv.set_num_threads(n)
                assert fastconv.get_num_threads() == n
                results.append(fastconv.conv2d(x, w, b, **case.kwargs(), algorithm=algorithm))
    one, two = results
    assert one.tobytes() == two.tobytes(), (
        f"{algorithm}: 1 and 2 threads differ (max |diff| "
        f"{np.max(np.abs(one.astype(np.float64) - two))}) for {case}")
    check(one, case.reference(x, w, b), dtype, case.weight_shape, params=str(case),
          factor=algorithm_factor(algorithm))


def test_set_num_threads_none_restores_env_default():
    """set_num_threads(None) goes back to the FASTCONV_NUM_THREADS default
    (set_num_threads docstring and API.md)."""
    code = textwrap.dedent("""
        import fastconv
        before = fastconv.get_num_threads()
        fastconv.set_num_threads(2)
        fastconv.set_num_threads(None)
        print(before, fastconv.get_num_threads())
    """)
    env = dict(os.environ, FASTCONV_NUM_THREADS="1", OMP_NUM_THREADS="2")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    before, after = res.stdout.split()
    assert before == "1"
    assert after == before, (f"with FASTCONV_NUM_THREADS=1: get_num_threads() was {before}, "
                             f"after set_num_threads(2); set_num_threads(None) it is {after}")


# -------------------------------------------------------------- SIMD paths ----
# Output widths around the vector lengths (4/8/16 float32, 2/4/8 float64, two
# vectors per tile) and output-channel counts around the register tiles
# (MR = 4/6/8), so every tail of every path is exercised.
SIMD_CASES = _expand([
    C2(1, 2, c_out, (3, w_out + 2), (3, 3), padding=(1, 0), stride=1)
    for c_out, w_out in [(1, 1), (3, 3), (5, 4), (7, 7), (9, 8), (13, 9), (17, 15),
                         (4, 16), (6, 17), (8, 31), (12, 32), (16, 33), (2, 65)]
] + [
    C2(2, 4, 8, (7, 40), (2, 3), stride=(1, 3), dilation=(2, 2), groups=2, padding=2),
    C2(1, 3, 7, (5, 70), (3, 4), stride=2, padding=((1, 2), (3, 0))),
    C2(1, 1, 3, (2, 600), (1, 5), stride=(1, 1), padding=(0, 2)),   # several chunks
], modes=("zeros", "reflect"))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", SIMD_CASES, ids=lambda c: c.id)
def test_every_simd_path_matches_reference(case, dtype, simd_path, rng, check):
    from fastconv import _config
    assert _config.simd_path() == simd_path
    x, w, b = case.arrays(rng, dtype)
    got = fastconv.conv2d(x, w, b, **case.kwargs(), algorithm="direct")
    check(got, case.reference(x, w, b), dtype, case.weight_shape,
          params=f"{case} dtype={np.dtype(dtype).name} simd={simd_path}")


# Unpadded 1x1 convolutions take the pointwise GEMM (no im2col) under 'gemm' and
# 'auto': per group, per image when there are several groups; strided ones on a
# subsampled copy.
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("nd, n, c_in, c_out, size, groups, bias, stride", [
    (2, 1, 240, 240, (28, 28), 3, True, 1),
    (2, 3, 12, 8, (5, 7), 4, True, 1),
    (2, 2, 144, 24, (9, 9), 1, False, 1),
    (1, 3, 6, 9, (17,), 3, False, 1),
    (3, 2, 4, 6, (2, 3, 5), 2, True, 1),
    (2, 2, 16, 32, (9, 8), 2, True, 2),
    (2, 1, 128, 256, (28, 28), 1, False, (2, 3)),
    (3, 2, 4, 6, (5, 3, 6), 1, True, (3, 1, 2)),
])
def test_pointwise_path(nd, n, c_in, c_out, size, groups, bias, stride, dtype, tol):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((n, c_in) + size).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups) + (1,) * nd).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if bias else None
    conv = getattr(fastconv, f"conv{nd}d")
    ref = conv_nd_reference(x, w, b, stride, [(0, 0)] * nd, 1, groups, "zeros")
    for alg in ("gemm", "auto"):
        got = conv(x, w, b, stride=stride, groups=groups, algorithm=alg)
        assert got.dtype == dtype and got.shape == ref.shape
        t = tol(dtype, c_in // groups)
        np.testing.assert_allclose(got, ref, rtol=t, atol=t, err_msg=alg)
    # unbatched too
    got = conv(x[0], w, b, stride=stride, groups=groups, algorithm="gemm")
    np.testing.assert_allclose(got, ref[0], rtol=t, atol=t)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_direct_rows_in_place_2d(dtype, rng, check):
    """A kernel of one row (1, k) with stride 1 along the rows: 'direct' reads
    the input rows in place (padding rows and the padded ends through its
    panel), also strided down the columns and dilated."""
    for case in (Case(2, 3, 5, (7, 600), (1, 5), padding=(1, 2), stride=(2, 1)),
                 Case(1, 4, 4, (3, 530), (1, 3), padding=(0, 3), dilation=(1, 3),
                      padding_mode="reflect")):
        x, w, b = case.arrays(rng, dtype)
        got = fastconv.conv2d(x, w, b, **case.kwargs(), algorithm="direct")
        check(got, case.reference(x, w, b), dtype, case.weight_shape)


def test_direct_long_rows_same_bits_for_1_2_3_threads(rng):
    """A long 1-D row cut into pieces across threads: every output is computed
    the same way whichever thread takes its piece."""
    x = rng.standard_normal((1, 16, 5000)).astype(np.float32)
    w = rng.standard_normal((24, 16, 3)).astype(np.float32)
    try:
        results = []
        for n in (1, 2, 3):
            fastconv.set_num_threads(n)
            results.append(fastconv.conv1d(x, w, padding=1, algorithm="direct").tobytes())
    finally:
        fastconv.set_num_threads(None)
    assert results[0] == results[1] == results[2]
