"""Upsampling (bilinear, nearest), reflection padding and channel shuffling,
float32 (no multiply-adds: memory-bound)."""
from fastconv._bench import cases_of

from .common import THREADS, _Timed, backends

CASES = cases_of("upsample", "pad", "channel_shuffle")


class Resample(_Timed):
    params = [CASES, backends(CASES), THREADS]
