"""Upsampling, padding and channel shuffling of the shared case table
(fastconv._bench.CASES), fastconv against torch, float32."""
from fastconv._bench import cases_of

from . import common
from .common import backends

THREADS = [1, 2]
CASES = cases_of("upsample", "pad", "channel_shuffle")


class ResampleBase(common._CaseBenchmark):
    params = [CASES, backends(CASES), THREADS]


class ResampleForward(ResampleBase):
    """time_call per case and backend (no MACs: memory-bound)."""
