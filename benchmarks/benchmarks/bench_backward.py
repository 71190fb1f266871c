"""Backward passes at training shapes (the train_* cases of fastconv._bench.CASES,
batch 2-8): the *_backward call of every operation family, float32."""
from fastconv._bench import cases_of

from .common import THREADS, _Timed, _TimedGflops, backends, pick

# Ops with an algorithm choice: the input and weight gradients of conv and
# transposed conv (grad_input, grad_weight, grad_bias).
WEIGHTED = pick(["train_c2d_l1", "train_ct2d_unet"],
                cases_of(*(f"conv{n}d_backward" for n in (1, 2, 3)),
                         *(f"conv_transpose{n}d_backward" for n in (1, 2, 3))))
MOBILE = cases_of("depthwise_conv2d_backward", "separable_conv2d_backward")
# Gradients of layers without weights (one kernel each).
OTHER = cases_of("max_pool2d_backward", "max_pool3d_backward", "avg_pool2d_backward",
                 "adaptive_avg_pool2d_backward", "global_avg_pool_backward",
                 "upsample_backward", "pad_backward", "channel_shuffle_backward")


class WeightedBackward(_TimedGflops):
    params = [WEIGHTED, backends(WEIGHTED), THREADS]


class MobileBackward(_TimedGflops):
    params = [MOBILE, backends(MOBILE), THREADS]


class OtherBackward(_Timed):
    params = [OTHER, backends(OTHER), THREADS]
