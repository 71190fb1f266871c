"""Transposed convolutions (decoders, upsampling layers) of the shared case
table, fastconv._bench.CASES, per backend (fastconv algorithm or torch) and
thread count, float32."""
from fastconv._bench import cases_of

from . import common
from .common import backends

THREADS = [1, 2]
CASES = cases_of("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


class TransposedBase(common._CaseBenchmark):
    params = [CASES, backends(CASES), THREADS]


class TransposedForward(common._GflopsMixin, TransposedBase):
    pass


class TransposedPeakMem(common._PeakMemMixin, TransposedBase):
    """Peak memory (column buffers of the GEMM paths) on one thread."""
    params = [CASES, backends(CASES), [1]]
