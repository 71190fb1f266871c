"""Pooling layers: ResNet's stem max pool, C3D's 3-D max pool, average, AlexNet's
adaptive and global average pooling, float32 (no multiply-adds: memory-bound)."""
from fastconv._bench import cases_of

from .common import THREADS, _Timed, backends

CASES = cases_of("max_pool2d", "max_pool3d", "avg_pool2d", "adaptive_avg_pool2d",
                 "global_avg_pool")


class Pooling(_Timed):
    params = [CASES, backends(CASES), THREADS]
