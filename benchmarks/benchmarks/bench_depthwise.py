"""Blocks of mobile networks: depthwise and separable convolutions (MobileNet v2,
Xception), and the 1x1 and grouped + channel-shuffle convolutions around them
(MobileNet v2, ShuffleNet), float32, batch 1."""
from fastconv._bench import cases_of

from .common import THREADS, _PeakMem, _TimedGflops, backends, pick

DEPTHWISE = pick(["dw_mbv2_56", "dw_mbv2_s2", "sep_xception"],
                 cases_of("depthwise_conv2d", "separable_conv2d"))
POINTWISE_GROUPED = ["pw_mbv2", "grp_shufflenet"]


class Depthwise(_TimedGflops):
    """depthwise_conv2d and separable_conv2d (one kernel each, no algorithm choice)."""
    params = [DEPTHWISE, backends(DEPTHWISE), THREADS]


class PointwiseGrouped(_TimedGflops):
    """1x1 conv2d, and grouped 1x1 conv2d + channel_shuffle timed as one."""
    params = [POINTWISE_GROUPED, backends(POINTWISE_GROUPED), THREADS]


class SeparablePeakMem(_PeakMem):
    """separable_conv2d's depthwise intermediate, on one thread."""
    params = [["sep_xception"], backends(["sep_xception"]), [1]]
