"""Backward passes at training shapes (the train_* cases of
fastconv._bench.CASES): fastconv's *_backward call against
torch.autograd.grad of a forward graph built once (only the backward is
timed), per backend and thread count, float32."""
from fastconv._bench import cases_of

from . import common
from .common import backends

THREADS = [1, 2]
CONV_CASES = cases_of("conv2d_backward", "conv3d_backward")
OTHER_CASES = cases_of("depthwise_conv2d_backward", "max_pool2d_backward")


class _BackwardBase(common._CaseBenchmark):
    # Seconds per call: fewer repeats than asv's default.
    repeat = (1, 5, 20.0)


class ConvBackward(common._GflopsMixin, _BackwardBase):
    """conv2d/conv3d backward (input, weight and bias gradients)."""
    params = [CONV_CASES, backends(CONV_CASES), THREADS]


class OtherBackward(_BackwardBase):
    """depthwise_conv2d and max_pool2d backward."""
    params = [OTHER_CASES, backends(OTHER_CASES), THREADS]
