"""Transposed convolutions of decoders (U-Net, a 4x4 stride-2 upsampling layer, a
3-D one), per algorithm and thread count, float32, batch 1."""
from fastconv._bench import cases_of

from .common import THREADS, _PeakMem, _TimedGflops, backends

CASES = cases_of("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


class Transposed(_TimedGflops):
    params = [CASES, backends(CASES), THREADS]


class TransposedPeakMem(_PeakMem):
    """The column buffers of the GEMM paths against the direct scatter, one thread."""
    params = [CASES, backends(CASES), [1]]
