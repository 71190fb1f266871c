"""fastconv: fast CPU convolution, pooling and friends for NumPy arrays.

The functions mirror ``torch.nn.functional`` (names, argument order and
semantics) on plain NumPy arrays, computed by OpenMP-parallel SIMD C kernels.
"""
__version__ = "0.1.0"

from fastconv._threads import get_num_threads, set_num_threads
from fastconv._config import show_config
from fastconv._select import ALGORITHMS
from fastconv._autotune import autotune, autotune_choices, clear_autotune
from fastconv.conv import (conv1d, conv1d_backward, conv2d, conv2d_backward, conv3d,
                           conv3d_backward)
from fastconv.conv_transpose import (conv_transpose1d, conv_transpose1d_backward,
                                     conv_transpose2d, conv_transpose2d_backward,
                                     conv_transpose3d, conv_transpose3d_backward)
from fastconv.upsampling import upsample, upsample_backward
from fastconv.padding import pad, pad_backward
from fastconv.shuffle import channel_shuffle, channel_shuffle_backward
from fastconv.pooling import (max_pool1d, max_pool2d, max_pool3d, avg_pool1d, avg_pool2d,
                              avg_pool3d, adaptive_avg_pool1d, adaptive_avg_pool2d,
                              adaptive_avg_pool3d, adaptive_max_pool1d,
                              adaptive_max_pool2d, adaptive_max_pool3d, global_avg_pool,
                              global_max_pool, spatial_pyramid_pool, max_pool1d_backward,
                              max_pool2d_backward, max_pool3d_backward,
                              avg_pool1d_backward, avg_pool2d_backward,
                              avg_pool3d_backward, adaptive_avg_pool1d_backward,
                              adaptive_avg_pool2d_backward, adaptive_avg_pool3d_backward,
                              adaptive_max_pool1d_backward, adaptive_max_pool2d_backward,
                              adaptive_max_pool3d_backward, global_avg_pool_backward,
                              global_max_pool_backward, spatial_pyramid_pool_backward)
from fastconv.depthwise import (depthwise_conv2d, depthwise_conv2d_backward,
                                separable_conv2d, separable_conv2d_backward)
from fastconv import analysis

__all__ = [
    "ALGORITHMS",
    "analysis",
    "autotune",
    "autotune_choices",
    "clear_autotune",
    "conv1d",
    "conv1d_backward",
    "conv2d",
    "conv2d_backward",
    "conv3d",
    "conv3d_backward",
    "conv_transpose1d",
    "conv_transpose1d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "conv_transpose3d",
    "conv_transpose3d_backward",
    "get_num_threads",
    "set_num_threads",
    "show_config",
    "upsample",
    "upsample_backward",
    "pad",
    "pad_backward",
    "channel_shuffle",
    "channel_shuffle_backward",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "global_avg_pool",
    "global_max_pool",
    "spatial_pyramid_pool",
    "max_pool1d_backward",
    "max_pool2d_backward",
    "max_pool3d_backward",
    "avg_pool1d_backward",
    "avg_pool2d_backward",
    "avg_pool3d_backward",
    "adaptive_avg_pool1d_backward",
    "adaptive_avg_pool2d_backward",
    "adaptive_avg_pool3d_backward",
    "adaptive_max_pool1d_backward",
    "adaptive_max_pool2d_backward",
    "adaptive_max_pool3d_backward",
    "global_avg_pool_backward",
    "global_max_pool_backward",
    "spatial_pyramid_pool_backward",
    "depthwise_conv2d",
    "depthwise_conv2d_backward",
    "separable_conv2d",
    "separable_conv2d_backward",
]
