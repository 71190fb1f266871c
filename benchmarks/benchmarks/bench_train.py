"""One training step (forward, cross-entropy, backward, SGD-momentum update) of
a whole model at batch 32: the digits demo CNN on 1x8x8 and a CIFAR-style
ResNet-8 on 3x32x32 (the train_step_* cases of fastconv._bench.CASES),
fastconv.nn against the same model in torch, per thread count, float32."""
from fastconv._bench import cases_of

from . import common
from .common import backends

THREADS = [1, 2]
STEP_CASES = cases_of("train_step")


class TrainStep(common._TimedGflops):
    """time_call, and track_gflops counting 3 x the forward's multiply-adds per step."""
    params = [STEP_CASES, backends(STEP_CASES), THREADS]
    repeat = (1, 5, 20.0)
