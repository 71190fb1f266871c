"""Mobile-network layers of the shared case table (fastconv._bench.CASES):
depthwise, separable, pointwise and grouped conv + channel_shuffle, per backend
and thread count, float32.  Cases whose op this build lacks are absent."""
from fastconv._bench import cases_of

from . import common
from .common import backends

THREADS = [1, 2]
DW_CASES = cases_of("depthwise_conv2d", "separable_conv2d")
CONV_CASES = ["pw_mbv2", "grp_shufflenet"]


class DepthwiseBase(common._CaseBenchmark):
    params = [DW_CASES, backends(DW_CASES), THREADS]


class DepthwiseForward(common._GflopsMixin, DepthwiseBase):
    pass


class SeparablePeakMem(common._PeakMemMixin, DepthwiseBase):
    """Peak memory of separable_conv2d (its depthwise intermediate) on one thread."""
    params = [cases_of("separable_conv2d"), backends(DW_CASES), [1]]


class MobileConv(common._GflopsMixin, common._CaseBenchmark):
    """The 1x1 and grouped (+ shuffle) convolutions around the depthwise layers."""
    params = [CONV_CASES, backends(CONV_CASES), THREADS]
