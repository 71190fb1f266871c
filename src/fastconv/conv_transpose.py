"""Transposed convolutions in 1, 2 and 3 spatial dimensions.

A transposed convolution is the adjoint (input gradient) of a convolution, so it
runs the convolution's own kernels with the roles swapped:

    conv_transpose(x)          = conv_bwd_input(gy=x)       (a gather, no zero-stuffing)
    conv_transpose_backward:
        grad_input             = conv_fwd(x=grad_output)
        grad_weight            = conv_bwd_weight(x=grad_output, gy=x)
        grad_bias              = sum of grad_output over batch and positions
with the spec from fastconv._validate.check_conv_transpose.
"""
import numpy as np

from fastconv import _config, _select, _threads, _validate, _workspace
from fastconv._ext import _conv, _depthwise, _shuffle
from fastconv.conv import _blas

__all__ = ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "conv_transpose1d_backward", "conv_transpose2d_backward",
           "conv_transpose3d_backward"]


def _transpose_by_taps(opname, call, out5):
    """Stride == kernel, no padding (U-Net's 2x2 stride-2 up-convolution): every
    output cell receives exactly one kernel tap, so one grouped GEMM gives every
    tap's result at once, tmp[(c, tap)] = w[:, c, tap]^T @ x over the input
    positions (the pointwise kernel, bias included: few channels per tap make
    small GEMMs, all taps together one of prod(kernel) times the rows; the
    weight as it lies is that product's transpose, which the kernel reads in
    place), then the taps are interleaved into the output (depth-to-space, a
    parallel C pass).  With two taps along the rows (2x2 stride 2 and kin) one
    kernel does both: it interleaves each register tile's tap pairs as it
    stores them into the output."""
    spec = call.spec
    groups, positions = spec.groups, int(np.prod(spec.out_size))
    c_x, c_y = spec.c_out // groups, spec.c_in // groups     # per group: x, result channels
    taps = list(np.ndindex(*spec.kernel))
    # weight (C_x, C_y/groups, *kernel): per group (c_x, c_y * taps), columns (c, tap)
    w_all = call.weight.reshape(groups * c_x, c_y * len(taps))
    bias = None if call.bias is None else np.repeat(call.bias, len(taps))
    if spec.kernel[2] == 2:
        # two taps along the rows: the kernel interleaves the tap pairs as it
        # stores, straight into the output (no tap buffer, no interleave pass)
        _depthwise.pointwise_pairs_fwd(call.x, w_all, bias, out5, spec.kernel,
                                       _threads.team_size(spec.macs), _config.isa_code(),
                                       opname, groups=groups)
        return
    x3 = call.x.reshape(spec.n, spec.c_out, positions)
    tmp = _workspace.temporary((spec.n, groups * c_y * len(taps), positions), call.dtype)
    _depthwise.pointwise_fwd(x3, w_all, bias, tmp, _threads.team_size(spec.macs),
                             _config.isa_code(), opname, w_kmajor=True, groups=groups)
    _shuffle.interleave_taps(tmp.reshape((spec.n * groups, c_y, len(taps)) + spec.out_size),
                             out5.reshape((spec.n * groups, c_y) + spec.in_size), spec.stride,
                             _threads.team_size(out5.size))


def _transpose(opname, nd, x, weight, bias, stride, padding, output_padding, groups,
               dilation, algorithm, out):
    call = _validate.check_conv_transpose(opname, nd, x, weight, bias, stride, padding,
                                          output_padding, groups, dilation, out)
    spec = call.spec
    algorithm = _select.conv_algorithm(opname, spec, algorithm, call.dtype)
    result = call.out if call.out is not None else _workspace.result(call.out_shape, call.dtype)
    if result.size == 0:
        return result
    out5 = result.reshape((spec.n, spec.c_in) + spec.in_size)
    if algorithm == "im2col":
        _blas().conv_bwd_im2col(call.weight, call.x, None, out5, None, spec)
    elif algorithm == "gemm" and _select.is_tiling_transpose(spec):
        _transpose_by_taps(opname, call, out5)
        return result
    else:
        _conv.conv_bwd_input(call.x, call.weight, out5, spec,
                             _threads.team_size(spec.macs), _config.isa_code())
    if call.bias is not None:
        out5 += call.bias.reshape(-1, 1, 1, 1)
    return result


def _transpose_backward(opname, nd, grad_output, x, weight, stride, padding, output_padding,
                        groups, dilation, need_input, need_bias, algorithm):
    need_input, need_bias = _validate.check_flags(opname, need_input=need_input,
                                                  need_bias=need_bias)
    call = _validate.check_conv_transpose(opname, nd, x, weight, None, stride, padding,
                                          output_padding, groups, dilation, None,
                                          grad_output=grad_output)
    spec = call.spec
    algorithm = _select.conv_algorithm(opname, spec, algorithm, call.dtype)
    dtype = call.dtype
    nt = _threads.team_size(spec.macs)
    isa = _config.isa_code()
    grad_weight = np.zeros(call.weight.shape, dtype)
    grad_input = np.zeros(call.x.shape, dtype) if need_input else None
    grad_bias = np.zeros(spec.c_in, dtype) if need_bias else None
    if spec.n:
        if algorithm == "im2col":
            if need_input:
                _blas().conv_fwd_im2col(call.grad_output, call.weight, None, grad_input, spec)
            _blas().conv_bwd_im2col(call.weight, call.x, call.grad_output, None, grad_weight,
                                    spec)
        else:
            if need_input:
                _conv.conv_fwd(call.grad_output, call.weight, None, grad_input, spec, nt, isa)
            _conv.conv_bwd_weight(call.grad_output, call.x, grad_weight, spec, nt, isa)
        if need_bias:
            # bias gradient over the transposed output: channels spec.c_in, size spec.in_size
            bias_spec = spec._replace(c_out=spec.c_in, out_size=spec.in_size)
            _conv.conv_bwd_bias(call.grad_output, grad_bias, bias_spec, nt, isa)
    grad_weight = grad_weight.reshape(np.shape(weight))
    if need_input:
        grad_input = grad_input.reshape(call.x_shape)
    return grad_input, grad_weight, grad_bias


_DOC = """{n}-D transposed convolution (as ``torch.nn.functional.conv_transpose{n}d``).

    Parameters
    ----------
    x : array_like, shape (N, C_in, {sp}) or unbatched (C_in, {sp})
    weight : array_like, shape (C_in, C_out / groups, {ksp})
    bias : array_like, shape (C_out,), optional
    stride, dilation : int or tuple of {n} ints, >= 1
    padding : int or tuple of {n} ints, >= 0
        Removed from both ends of each output axis.
    output_padding : int or tuple of {n} ints
        Extra size added to one end of each output axis; smaller than the
        stride or the dilation.
    groups : int
    algorithm : {{'auto', 'direct', 'im2col'}}, keyword-only
        'direct': the convolution's input-gradient gather kernel (OpenMP, SIMD).
        'im2col': GEMM then col2im in tiles (BLAS threads).
    out : ndarray, keyword-only, optional

    Returns
    -------
    ndarray, shape (N, C_out, {osp})
        ``o = (i - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1``.
    """

_BWD_DOC = """Gradients of :func:`conv_transpose{n}d` (as PyTorch autograd).

    Parameters
    ----------
    grad_output : array_like, shape of ``conv_transpose{n}d(x, weight, ...)``
    x, weight, stride, padding, output_padding, groups, dilation, algorithm
        As in :func:`conv_transpose{n}d`.
    need_input, need_bias : bool, keyword-only

    Returns
    -------
    (grad_input or None, grad_weight, grad_bias or None)
    """


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, algorithm="auto", out=None):
    return _transpose("conv_transpose1d", 1, x, weight, bias, stride, padding, output_padding,
                      groups, dilation, algorithm, out)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, algorithm="auto", out=None):
    return _transpose("conv_transpose2d", 2, x, weight, bias, stride, padding, output_padding,
                      groups, dilation, algorithm, out)


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, algorithm="auto", out=None):
    return _transpose("conv_transpose3d", 3, x, weight, bias, stride, padding, output_padding,
                      groups, dilation, algorithm, out)


def conv_transpose1d_backward(grad_output, x, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1, *, need_input=True, need_bias=True,
                              algorithm="auto"):
    return _transpose_backward("conv_transpose1d_backward", 1, grad_output, x, weight, stride,
                               padding, output_padding, groups, dilation, need_input,
                               need_bias, algorithm)


def conv_transpose2d_backward(grad_output, x, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1, *, need_input=True, need_bias=True,
                              algorithm="auto"):
    return _transpose_backward("conv_transpose2d_backward", 2, grad_output, x, weight, stride,
                               padding, output_padding, groups, dilation, need_input,
                               need_bias, algorithm)


def conv_transpose3d_backward(grad_output, x, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1, *, need_input=True, need_bias=True,
                              algorithm="auto"):
    return _transpose_backward("conv_transpose3d_backward", 3, grad_output, x, weight, stride,
                               padding, output_padding, groups, dilation, need_input,
                               need_bias, algorithm)


for _n, _sp, _ksp, _osp in ((1, "L", "kL", "L_out"), (2, "H, W", "kH, kW", "H_out, W_out"),
                            (3, "D, H, W", "kD, kH, kW", "D_out, H_out, W_out")):
    globals()[f"conv_transpose{_n}d"].__doc__ = _DOC.format(n=_n, sp=_sp, ksp=_ksp, osp=_osp)
    globals()[f"conv_transpose{_n}d_backward"].__doc__ = _BWD_DOC.format(n=_n)
