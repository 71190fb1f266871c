"""Shared fixtures and helpers for the convolution tests.

Fixtures
--------
rng        a seeded numpy Generator (same stream in every test: reproducible)
algorithm  parametrizes a test over every name in fastconv.ALGORITHMS
algorithms the tuple fastconv.ALGORITHMS
simd_path  parametrizes a test over every SIMD path this CPU can run, selecting
           it for the test and restoring the previous one afterwards
one_thread / thread-count tests restore fastconv.set_num_threads(None)
tol        the tolerance helper below, as a fixture
check      compare a fastconv result with a float64 reference (shape, dtype,
           C-contiguity, values to tol), printing every parameter on failure

winograd_applies / refuses: algorithm='winograd' applies to some shapes only;
tests parametrized over every algorithm check that it raises ValueError on the
others (refuses) and check its results on the rest.
"""
import math
import os

import numpy as np
import pytest

import fastconv
from fastconv import _config
from fastconv._ext import _runtime

# Hypothesis profiles (tests/test_properties.py): 'ci' (the default) keeps the
# property tests to a few seconds each and is deterministic, so CI never fails on
# an input it has not seen before; 'thorough' draws new inputs each run, many more.
# Pick one with FASTCONV_HYPOTHESIS_PROFILE=thorough.
try:
    from hypothesis import settings as _hypothesis_settings
except ImportError:  # hypothesis is a test extra; only test_properties.py needs it
    pass
else:
    _hypothesis_settings.register_profile("ci", max_examples=30, deadline=None,
                                          derandomize=True, print_blob=True)
    _hypothesis_settings.register_profile("thorough", max_examples=1000, deadline=None,
                                          print_blob=True)
    _hypothesis_settings.load_profile(os.environ.get("FASTCONV_HYPOTHESIS_PROFILE", "ci"))

SEED = 20240517
ALGORITHMS = tuple(fastconv.ALGORITHMS)
SIMD_PATHS = tuple(_runtime.isa_supported())

# Tolerance constant: error of a length-K float sum of O(1) terms grows like
# eps * sqrt(K) (random rounding) and at worst like eps * K.  A factor of 16 on
# the sqrt(K) estimate passes float32 comfortably while any wrong tap, wrong
# padding cell or wrong bias (errors of order 1e-2 .. 1) still fails.
TOL_FACTOR = 16.0


# Winograd F(4x4, 3x3) computes each output from transformed values up to ~10x
# larger than the inputs (entries of B^T and A^T reach 5 and 8) that cancel in
# the output transform, so float rounding errors are amplified.  Measured max
# error / (eps sqrt(K)) in float32 on uniform(-1, 1) data (tests/test_winograd.py
# prints it): 30 over the test grid, 97-125 on 64..512-channel layers (direct:
# 2 and 14-22).  16x the direct factor keeps a 2x margin over the worst layer,
# while a wrong tap or transform entry (errors of order 1e-2 .. 1, i.e. above
# 1e4 eps sqrt(K)) still fails.
WINOGRAD_TOL_FACTOR = 16 * TOL_FACTOR


def tolerance(dtype, reduction_length, factor=TOL_FACTOR):
    """atol = rtol = factor * eps(dtype) * sqrt(K) for a reduction of length K
    (K = C_in/groups * prod(kernel), plus one for the bias)."""
    eps = np.finfo(np.dtype(dtype)).eps
    return factor * eps * math.sqrt(max(int(reduction_length), 1) + 1)


def reduction_length(weight_shape):
    """K = C_in/groups * prod(kernel) from a weight shape (C_out, C_in/groups, *kernel)."""
    return int(np.prod(weight_shape[1:]))


def assert_conv_close(got, expected, dtype, weight_shape, params="", factor=TOL_FACTOR):
    """got (fastconv's result) vs expected (float64 reference): same shape, the
    given dtype, C-contiguous, values within tolerance(dtype, K, factor)."""
    msg = f"\nparameters: {params}"
    assert isinstance(got, np.ndarray), f"result is {type(got)}{msg}"
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}{msg}"
    assert got.dtype == np.dtype(dtype), f"dtype {got.dtype} != {np.dtype(dtype)}{msg}"
    assert got.flags.c_contiguous, f"result is not C-contiguous{msg}"
    t = tolerance(dtype, reduction_length(weight_shape), factor)
    np.testing.assert_allclose(got, expected, rtol=t, atol=t, equal_nan=True,
                               err_msg=f"tolerance {t:.3g}{msg}")


def winograd_applies(kernel, stride=1, dilation=1, transposed=False):
    """README's rule: a 2-D or 3-D (not transposed) convolution whose kernel is
    3x3 along the last two axes with stride 1 there (any dilation: a dilated
    one runs per polyphase component)."""
    nd = len(kernel)

    def per_axis(v):
        return (v,) * nd if isinstance(v, int) else tuple(v)
    return (not transposed and nd >= 2 and tuple(kernel[-2:]) == (3, 3)
            and per_axis(stride)[-2:] == (1, 1))


def refuses(algorithm, applies, call):
    """For an algorithm that does not apply to a call (only 'winograd' has a
    shape rule): check that call() raises the documented ValueError and return
    True, so the test stops there.  Otherwise return False (check the results)."""
    if algorithm != "winograd" or applies:
        return False
    with pytest.raises(ValueError, match="algorithm='winograd' does not apply"):
        call()
    return True


def algorithm_factor(algorithm):
    return WINOGRAD_TOL_FACTOR if algorithm == "winograd" else TOL_FACTOR


@pytest.fixture
def rng():
    return np.random.default_rng(SEED)


@pytest.fixture
def algorithms():
    return ALGORITHMS


@pytest.fixture(params=ALGORITHMS)
def algorithm(request):
    return request.param


@pytest.fixture
def tol():
    return tolerance


@pytest.fixture
def check():
    return assert_conv_close


@pytest.fixture(params=SIMD_PATHS)
def simd_path(request):
    """Run the test with each usable SIMD path; restore the original after."""
    original = _config.simd_path()
    _config.set_simd_path(request.param)
    try:
        yield request.param
    finally:
        _config.set_simd_path(original)
    assert _config.simd_path() == original


@pytest.fixture
def restore_threads():
    """Tests that change the thread count get the default back afterwards."""
    yield
    fastconv.set_num_threads(None)
