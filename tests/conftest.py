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


def tolerance(dtype, reduction_length, factor=TOL_FACTOR):
    """atol = rtol = factor * eps(dtype) * sqrt(K) for a reduction of length K
    (K = C_in/groups * prod(kernel), plus one for the bias)."""
    eps = np.finfo(np.dtype(dtype)).eps
    return factor * eps * math.sqrt(max(int(reduction_length), 1) + 1)


def reduction_length(weight_shape):
    """K = C_in/groups * prod(kernel) from a weight shape (C_out, C_in/groups, *kernel)."""
    return int(np.prod(weight_shape[1:]))


def assert_conv_close(got, expected, dtype, weight_shape, params=""):
    """got (fastconv's result) vs expected (float64 reference): same shape, the
    given dtype, C-contiguous, values within tolerance(dtype, K)."""
    msg = f"\nparameters: {params}"
    assert isinstance(got, np.ndarray), f"result is {type(got)}{msg}"
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}{msg}"
    assert got.dtype == np.dtype(dtype), f"dtype {got.dtype} != {np.dtype(dtype)}{msg}"
    assert got.flags.c_contiguous, f"result is not C-contiguous{msg}"
    t = tolerance(dtype, reduction_length(weight_shape))
    np.testing.assert_allclose(got, expected, rtol=t, atol=t, equal_nan=True,
                               err_msg=f"tolerance {t:.3g}{msg}")


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
