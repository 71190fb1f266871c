"""Convolutions in 1, 2 and 3 spatial dimensions.

Every call is validated by fastconv._validate, reshaped to 5-D (N, C, D, H, W)
with size-1 leading spatial dims, and run by one N-d C kernel.
"""
import numpy as np

from fastconv import _config, _select, _threads, _validate
from fastconv._ext import _conv

__all__ = ["conv1d", "conv2d", "conv3d"]

_blas_module = None


def _blas():
    """The BLAS-backed module, imported on first use (it loads SciPy's BLAS)."""
    global _blas_module
    if _blas_module is None:
        from fastconv._ext import _blas
        _blas_module = _blas
    return _blas_module


def _convolve(opname, nd, x, weight, bias, stride, padding, dilation, groups, padding_mode,
          algorithm, out):
    call = _validate.check_conv(opname, nd, x, weight, bias, stride, padding, dilation,
                                groups, padding_mode, out)
    spec = call.spec
    algorithm = _select.conv_algorithm(opname, spec, algorithm)
    result = call.out if call.out is not None else np.empty(call.out_shape, call.dtype)
    if result.size == 0:
        return result
    out5 = result.reshape((spec.n, spec.c_out) + spec.out_size)
    if algorithm == "im2col":
        _blas().conv_fwd_im2col(call.x, call.weight, call.bias, out5, spec)
    else:
        _conv.conv_fwd_direct(call.x, call.weight, call.bias, out5, spec,
                              _threads.team_size(spec.macs), _config.isa_code())
    return result


_DOC = """{n}-D convolution (cross-correlation, as ``torch.nn.functional.conv{n}d``).

    Parameters
    ----------
    x : array_like, shape (N, C_in, {sp}) or unbatched (C_in, {sp})
        Input, float32 or float64 (mixed float32/float64 promotes to float64).
        Any strides; read-only arrays are fine.
    weight : array_like, shape (C_out, C_in / groups, {ksp})
    bias : array_like, shape (C_out,), optional
    stride, dilation : int or tuple of {n} ints, >= 1
    padding : int, tuple of {n} ints, tuple of {n} (before, after) pairs, 'valid' or 'same'
        'same' needs stride 1; an odd total puts the extra element at the end.
    groups : int
        Divides C_in and C_out; each group of C_in/groups input channels makes
        C_out/groups output channels.
    padding_mode : {{'zeros', 'reflect', 'replicate', 'circular'}}
        How padded cells read the input (reflect needs padding < input size).
    algorithm : {{'auto', 'direct', 'im2col'}}, keyword-only
        'direct': fastconv's OpenMP + SIMD loop nest.  'im2col': im2col in tiles
        of bounded size, then BLAS GEMM (BLAS's own threads).  'auto': see README.
    out : ndarray, keyword-only, optional
        C-contiguous, writeable, of the result's shape and dtype, not
        overlapping the inputs.

    Returns
    -------
    ndarray, shape (N, C_out, {osp}) (unbatched: (C_out, {osp}))
        Along each axis, ``o = floor((i + before + after - dilation*(k - 1) - 1) / stride) + 1``.
    """


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", *, algorithm="auto", out=None):
    return _convolve("conv1d", 1, x, weight, bias, stride, padding, dilation, groups,
                 padding_mode, algorithm, out)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", *, algorithm="auto", out=None):
    return _convolve("conv2d", 2, x, weight, bias, stride, padding, dilation, groups,
                 padding_mode, algorithm, out)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", *, algorithm="auto", out=None):
    return _convolve("conv3d", 3, x, weight, bias, stride, padding, dilation, groups,
                 padding_mode, algorithm, out)


conv1d.__doc__ = _DOC.format(n=1, sp="L", ksp="kL", osp="L_out")
conv2d.__doc__ = _DOC.format(n=2, sp="H, W", ksp="kH, kW", osp="H_out, W_out") + """
    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.ones((1, 1, 4, 4), np.float32)
    >>> w = np.ones((1, 1, 3, 3), np.float32)
    >>> fastconv.conv2d(x, w, padding=1)[0, 0]
    array([[4., 6., 6., 4.],
           [6., 9., 9., 6.],
           [6., 9., 9., 6.],
           [4., 6., 6., 4.]], dtype=float32)
    """
conv3d.__doc__ = _DOC.format(n=3, sp="D, H, W", ksp="kD, kH, kW", osp="D_out, H_out, W_out")
