"""Convolutions in 1, 2 and 3 spatial dimensions.

Every call is validated by fastconv._validate, reshaped to 5-D (N, C, D, H, W)
with size-1 leading spatial dims, and run by one N-d C kernel.
"""
import numpy as np

from fastconv import _config, _select, _threads, _validate, _workspace
from fastconv._ext import _conv, _depthwise, _shuffle

__all__ = ["conv1d", "conv2d", "conv3d", "conv1d_backward", "conv2d_backward",
           "conv3d_backward"]

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
    algorithm = _select.conv_algorithm(opname, spec, algorithm, call.dtype)
    result = call.out if call.out is not None else _workspace.result(call.out_shape, call.dtype)
    if result.size == 0:
        return result
    out5 = result.reshape((spec.n, spec.c_out) + spec.out_size)
    if algorithm == "im2col":
        _blas().conv_fwd_im2col(call.x, call.weight, call.bias, out5, spec)
    elif algorithm == "gemm" and _select.is_pointwise(spec):
        _pointwise_groups(opname, call, out5)
    elif algorithm == "direct" and _select.is_depthwise(spec):
        _depthwise.depthwise_fwd(call.x, call.weight, call.bias, out5, spec,
                                 _threads.team_size(spec.macs), _config.isa_code())
    else:
        _conv.conv_fwd(call.x, call.weight, call.bias, out5, spec,
                       _threads.team_size(spec.macs), _config.isa_code(), algorithm)
    return result


def _pointwise_groups(opname, call, out5):
    """A 1x1 unpadded convolution is a GEMM per group on the input as it lies:
    out[n, group] = w[group] @ x[n, group] over flattened positions, run by the
    pointwise kernel with no im2col (a strided one first gathers the input
    positions it reads, 1/stride^d of the input, in C).  One call, one parallel
    region, covers every image and group."""
    spec, positions = call.spec, out5[0, 0].size
    cig = spec.c_in // spec.groups
    x = call.x
    if spec.stride != (1, 1, 1):
        sub = _workspace.temporary((spec.n, spec.c_in) + spec.out_size, x.dtype)
        _shuffle.subsample(x, sub, spec.stride, _threads.team_size(spec.macs), opname)
        x = sub
    x3 = x.reshape(spec.n, spec.c_in, positions)
    w2 = call.weight.reshape(spec.c_out, cig)
    y3 = out5.reshape(spec.n, spec.c_out, positions)
    _depthwise.pointwise_fwd(x3, w2, call.bias, y3, _threads.team_size(spec.macs),
                             _config.isa_code(), opname, groups=spec.groups)


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
    algorithm : {{'auto', 'direct', 'gemm', 'im2col', 'winograd'}}, keyword-only
        'direct': fastconv's OpenMP + SIMD loop nest over output rows.  'gemm':
        im2col into per-thread column tiles and fastconv's own packed GEMM
        micro-kernel (OpenMP).  'im2col': im2col in tiles of bounded size, then
        BLAS GEMM (BLAS's own threads).  'winograd': F(4x4, 3x3), only for a
        3x3 kernel with stride 1 and dilation 1 along the last two axes (else
        ValueError); float32 error ~5-7x the others' (README).  'auto': see README.
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


# ------------------------------------------------------------------ backward ----
def _convolve_backward(opname, nd, grad_output, x, weight, stride, padding, dilation, groups,
                       padding_mode, need_input, need_bias, algorithm):
    need_input, need_bias = _validate.check_flags(opname, need_input=need_input,
                                                  need_bias=need_bias)
    call = _validate.check_conv(opname, nd, x, weight, None, stride, padding, dilation,
                                groups, padding_mode, None, grad_output=grad_output)
    spec = call.spec
    algorithm = _select.conv_algorithm(opname, spec, algorithm, call.dtype)
    dtype = call.dtype
    grad_weight = np.empty(call.weight.shape, dtype)
    grad_input = np.empty((spec.n, spec.c_in) + spec.in_size, dtype) if need_input else None
    grad_bias = np.empty(spec.c_out, dtype) if need_bias else None
    nt = _threads.team_size(spec.macs)
    isa = _config.isa_code()
    if spec.n == 0:
        grad_weight[...] = 0
        if need_bias:
            grad_bias[...] = 0
    elif algorithm == "im2col":
        _blas().conv_bwd_im2col(call.weight, call.grad_output, call.x, grad_input,
                                grad_weight, spec)
    elif algorithm == "direct" and _select.is_depthwise(spec):
        if need_input:
            _depthwise.depthwise_bwd_input(call.grad_output, call.weight, grad_input, spec, nt,
                                           isa, opname)
        _depthwise.depthwise_bwd_weight(call.grad_output, call.x, grad_weight, grad_bias, spec,
                                        nt, isa, opname)
        return _backward_results(weight, call, grad_input, grad_weight, grad_bias, need_input)
    else:
        if need_input and not (algorithm == "winograd"
                               and _winograd_input_gradient(opname, nd, call, grad_input)):
            _conv.conv_bwd_input(call.grad_output, call.weight, grad_input, spec, nt, isa)
        _conv.conv_bwd_weight(call.x, call.grad_output, grad_weight, spec, nt, isa,
                              algorithm == "winograd")
    if need_bias and spec.n:
        _conv.conv_bwd_bias(call.grad_output, grad_bias, spec, nt, isa)
    return _backward_results(weight, call, grad_input, grad_weight, grad_bias, need_input)


def _backward_results(weight, call, grad_input, grad_weight, grad_bias, need_input):
    """The gradients in the caller's shapes (weight's, x's: unbatched stays so)."""
    grad_weight = grad_weight.reshape(np.shape(weight))
    if need_input:
        grad_input = grad_input.reshape(call.x_shape)
    return grad_input, grad_weight, grad_bias


def _winograd_input_gradient(opname, nd, call, grad_input):
    """Write grad_input with the Winograd kernel when it applies; False otherwise.

    With stride 1, dilation 1 and zero padding, the input gradient is itself a
    convolution: of grad_output with the weights flipped on every spatial axis
    and transposed per group (C_in x C_out/groups), padded by k - 1 - p on each
    side.  For a 3x3 kernel that is the forward Winograd kernel's case."""
    spec = call.spec
    k = spec.kernel
    pads = tuple((k[a] - 1 - spec.pad_before[a], k[a] - 1 - spec.pad_after[a]) for a in range(3))
    if (spec.pad_mode != _validate.PAD_MODES["zeros"] or spec.stride != (1, 1, 1)
            or spec.dilation != (1, 1, 1) or min(min(p) for p in pads) < 0
            or _select.winograd_refusal(opname, spec)):
        return False
    g, cig, cog = spec.groups, spec.c_in // spec.groups, spec.c_out // spec.groups
    flipped = call.weight[:, :, ::-1, ::-1, ::-1].reshape((g, cog, cig) + k)
    wt = np.ascontiguousarray(flipped.transpose(0, 2, 1, 3, 4, 5)).reshape((spec.c_in, cog) + k)
    lead = (slice(None), slice(None)) + (0,) * (3 - nd)  # drop the size-1 leading axes
    conv = conv3d if nd == 3 else conv2d
    conv(call.grad_output[lead], wt[lead], None, 1, pads[3 - nd:], 1, g, algorithm="winograd",
         out=grad_input[lead])
    return True


_BWD_DOC = """Gradients of :func:`conv{n}d` (what PyTorch autograd returns for the same call).

    Parameters
    ----------
    grad_output : array_like, shape of ``conv{n}d(x, weight, ...)``
        Gradient of the loss with respect to the convolution's output.
    x, weight, stride, padding, dilation, groups, padding_mode, algorithm
        As in :func:`conv{n}d`.
    need_input : bool, keyword-only
        Compute ``grad_input`` (skip it for a network's first layer).
    need_bias : bool, keyword-only
        Compute ``grad_bias``.

    Returns
    -------
    grad_input : ndarray of x's shape, or None
        Padded cells' gradients are folded back onto the input cells they read.
    grad_weight : ndarray of weight's shape
    grad_bias : ndarray (C_out,), or None

    Notes
    -----
    Every element is reduced by one thread in a fixed order, so results are
    bitwise identical for any number of threads.
    """


def conv1d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    padding_mode="zeros", *, need_input=True, need_bias=True, algorithm="auto"):
    return _convolve_backward("conv1d_backward", 1, grad_output, x, weight, stride, padding,
                              dilation, groups, padding_mode, need_input, need_bias, algorithm)


def conv2d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    padding_mode="zeros", *, need_input=True, need_bias=True, algorithm="auto"):
    return _convolve_backward("conv2d_backward", 2, grad_output, x, weight, stride, padding,
                              dilation, groups, padding_mode, need_input, need_bias, algorithm)


def conv3d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    padding_mode="zeros", *, need_input=True, need_bias=True, algorithm="auto"):
    return _convolve_backward("conv3d_backward", 3, grad_output, x, weight, stride, padding,
                              dilation, groups, padding_mode, need_input, need_bias, algorithm)


for _n, _f in ((1, conv1d_backward), (2, conv2d_backward), (3, conv3d_backward)):
    _f.__doc__ = _BWD_DOC.format(n=_n)
