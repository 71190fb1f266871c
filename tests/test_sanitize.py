"""The sanitizer subset's own test (`pytest -m sanitize`, run by .ci/run under
AddressSanitizer and UndefinedBehaviorSanitizer; README, Contributing): every
kernel (tests/op_catalog.py: every operation, algorithm, dimensionality and
padding mode), both dtypes, forward and backward, on every SIMD path the CPU
runs, with tiny inputs and with inputs big enough for teams of threads.  The
results must also agree with the baseline path's.  test_properties.py is part
of the subset too (its random shapes reach the edge cases).
"""
import numpy as np
import pytest

import fastconv
from fastconv import _config
from fastconv._ext import _runtime
from op_catalog import case_runs, run_case

pytestmark = pytest.mark.sanitize

RUNS, RUN_IDS = case_runs()
SIMD_PATHS = tuple(_runtime.isa_supported())


@pytest.fixture(scope="module", autouse=True)
def three_threads():
    fastconv.set_num_threads(3)
    yield
    fastconv.set_num_threads(None)


@pytest.fixture
def on_path():
    """Run on a SIMD path, then go back to the one chosen at import."""
    original = _config.simd_path()

    def select(path):
        _config.set_simd_path(path)

    yield select
    _config.set_simd_path(original)


@pytest.mark.parametrize("case, mode", RUNS, ids=RUN_IDS)
def test_every_kernel_on_every_simd_path(case, mode, on_path):
    for dtype in (np.float32, np.float64):
        rtol = 1e-4 if dtype == np.float32 else 1e-10
        for big in (False, True):
            results = {}
            for path in SIMD_PATHS if not big else SIMD_PATHS[:1] + SIMD_PATHS[-1:]:
                on_path(path)
                results[path] = run_case(case, dtype, mode, big=big)
            base = results[SIMD_PATHS[0]]
            for path, got in results.items():
                for a, b in zip(got, base):
                    assert a.shape == b.shape and a.dtype == b.dtype
                    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * (1 + np.abs(b).max()),
                                               err_msg=f"{path} vs baseline, big={big}")
