"""conv1d/2d/3d: layers of ResNet-18, VGG and C3D and a 1-D audio layer, per
algorithm and thread count, float32, batch 1."""
from fastconv._bench import cases_of

from .common import THREADS, _PeakMem, _TimedGflops, backends, pick

# The 1x1 MobileNet layer (also op conv2d) is timed with its family, bench_depthwise.
CASES = pick(["c2d_resnet_l1", "c2d_resnet_l3", "c2d_resnet_stem", "c2d_resnet_ds",
              "c1d_audio", "c3d_small"],
             [c for c in cases_of("conv1d", "conv2d", "conv3d") if c != "pw_mbv2"])


class Conv(_TimedGflops):
    params = [CASES, backends(CASES), THREADS]


class ConvPeakMem(_PeakMem):
    """VGG's 3x3 layer at 112x112x128: im2col's column buffer (9x the input)
    against the direct and gemm kernels, on one thread."""
    params = [["c2d_vgg_112"], backends(["c2d_vgg_112"]), [1]]
