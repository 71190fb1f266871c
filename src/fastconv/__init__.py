"""fastconv: fast CPU convolution, pooling and friends for NumPy arrays.

The functions mirror ``torch.nn.functional`` (names, argument order and
semantics) on plain NumPy arrays, computed by OpenMP-parallel SIMD C kernels.
"""
__version__ = "0.1.0"

from fastconv._threads import get_num_threads, set_num_threads
from fastconv._config import show_config
from fastconv._select import ALGORITHMS
from fastconv.conv import (conv1d, conv1d_backward, conv2d, conv2d_backward, conv3d,
                           conv3d_backward)
from fastconv.conv_transpose import (conv_transpose1d, conv_transpose1d_backward,
                                     conv_transpose2d, conv_transpose2d_backward,
                                     conv_transpose3d, conv_transpose3d_backward)
from fastconv import analysis

__all__ = [
    "ALGORITHMS",
    "analysis",
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
]
