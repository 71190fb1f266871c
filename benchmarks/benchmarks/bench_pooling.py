"""Pooling layers of the shared case table (fastconv._bench.CASES): max, avg,
adaptive and global average pooling, fastconv against torch, float32."""
from fastconv._bench import cases_of

from . import common
from .common import backends

THREADS = [1, 2]
CASES = cases_of("max_pool2d", "max_pool3d", "avg_pool2d", "adaptive_avg_pool2d",
                 "global_avg_pool")


class PoolBase(common._CaseBenchmark):
    params = [CASES, backends(CASES), THREADS]


class PoolForward(PoolBase):
    """time_call per case and backend (no MACs: memory-bound)."""
