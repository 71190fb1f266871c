"""Depthwise and depthwise-separable 2-D convolutions, forward and backward.

A depthwise convolution is the grouped convolution with groups = C: output
channel ``c*m + j`` (channel multiplier ``m``, ``j < m``) reads input channel
``c`` only, as ``torch.nn.functional.conv2d(x, weight, groups=C)``.  A separable
convolution is a depthwise convolution followed by a 1x1 (pointwise) one; its
forward is fused tile by tile in C, so the depthwise result is never stored
whole.  Calls are validated by fastconv._validate, reshaped to 5-D
(N, C, 1, H, W) and run by the kernels of csrc/fc_depthwise*.c.
"""
import numpy as np

from fastconv import _config, _threads, _validate, _workspace
from fastconv._ext import _depthwise

__all__ = ["depthwise_conv2d", "depthwise_conv2d_backward", "separable_conv2d",
           "separable_conv2d_backward"]

_SHARED = """stride, dilation : int or tuple of 2 ints, >= 1
    padding : int, tuple of 2 ints, tuple of 2 (before, after) pairs, 'valid' or 'same'
        'same' needs stride 1; an odd total puts the extra element at the end.
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
        How padded cells read the input (reflect needs padding < input size)."""

_SIZE_NOTE = ("Along each axis, "
              "``o = floor((i + before + after - dilation*(k - 1) - 1) / stride) + 1``.")


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1,
                     padding_mode="zeros", *, out=None):
    call = _validate.check_depthwise("depthwise_conv2d", x, weight, bias, stride, padding,
                                     dilation, padding_mode, out)
    spec = call.spec
    result = call.out if call.out is not None else _workspace.result(call.out_shape, call.dtype)
    if result.size == 0:
        return result
    out5 = result.reshape((spec.n, spec.c_out) + spec.out_size)
    _depthwise.depthwise_fwd(call.x, call.weight, call.bias, out5, spec,
                             _threads.team_size(spec.macs), _config.isa_code())
    return result


depthwise_conv2d.__doc__ = f"""Depthwise 2-D convolution (cross-correlation), channel multiplier m.

    The same as ``torch.nn.functional.conv2d(x, weight, bias, groups=C)`` (with the
    padding mode applied first): output channel ``c*m + j`` is input channel ``c``
    correlated with ``weight[c*m + j, 0]``.  Runs a dedicated SIMD kernel (not the
    grouped-convolution path).

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or unbatched (C, H, W)
        Input, float32 or float64 (mixed float32/float64 promotes to float64).
        Any strides; read-only arrays are fine.
    weight : array_like, shape (C*m, 1, kH, kW)
        One kH x kW filter per output channel; m >= 1 is the channel multiplier.
    bias : array_like, shape (C*m,), optional
    {_SHARED}
    out : ndarray, keyword-only, optional
        C-contiguous, writeable, of the result's shape and dtype, not
        overlapping the inputs.

    Returns
    -------
    ndarray, shape (N, C*m, H_out, W_out) (unbatched: (C*m, H_out, W_out))
        {_SIZE_NOTE}

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.stack([np.ones((3, 3)), 2 * np.ones((3, 3))])[None]   # (1, 2, 3, 3)
    >>> w = np.ones((4, 1, 2, 2))                                   # multiplier 2
    >>> fastconv.depthwise_conv2d(x, w, bias=[0.0, 1.0, 0.0, 1.0])[0, :, 0, 0]
    array([4., 5., 8., 9.])
    """


def depthwise_conv2d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1,
                              padding_mode="zeros", *, need_input=True, need_bias=True):
    opname = "depthwise_conv2d_backward"
    need_input, need_bias = _validate.check_flags(opname, need_input=need_input,
                                                  need_bias=need_bias)
    call = _validate.check_depthwise(opname, x, weight, None, stride, padding, dilation,
                                     padding_mode, None, grad_output=grad_output)
    spec = call.spec
    dtype = call.dtype
    nt = _threads.team_size(spec.macs)
    isa = _config.isa_code()
    grad_weight = np.empty(call.weight.shape, dtype)
    grad_bias = np.empty(spec.c_out, dtype) if need_bias else None
    grad_input = np.empty((spec.n, spec.c_in) + spec.in_size, dtype) if need_input else None
    if spec.n == 0:
        grad_weight[...] = 0
        if need_bias:
            grad_bias[...] = 0
    else:
        if need_input:
            _depthwise.depthwise_bwd_input(call.grad_output, call.weight, grad_input, spec, nt,
                                           isa, opname)
        _depthwise.depthwise_bwd_weight(call.grad_output, call.x, grad_weight, grad_bias, spec,
                                        nt, isa, opname)
    grad_weight = grad_weight.reshape(np.shape(weight))
    if need_input:
        grad_input = grad_input.reshape(call.x_shape)
    return grad_input, grad_weight, grad_bias


depthwise_conv2d_backward.__doc__ = """Gradients of :func:`depthwise_conv2d` (as PyTorch autograd).

    Parameters
    ----------
    grad_output : array_like, shape of ``depthwise_conv2d(x, weight, ...)``
        Gradient of the loss with respect to the output.
    x, weight, stride, padding, dilation, padding_mode
        As in :func:`depthwise_conv2d`.
    need_input : bool, keyword-only
        Compute ``grad_input`` (skip it for a network's first layer).
    need_bias : bool, keyword-only
        Compute ``grad_bias`` (the bias itself is not needed for it).

    Returns
    -------
    grad_input : ndarray of x's shape, or None
        For 'reflect', 'replicate' and 'circular' padding, the gradient of every
        padded cell is added to the input cell it reads.
    grad_weight : ndarray of weight's shape
    grad_bias : ndarray (C*m,), or None

    Notes
    -----
    grad_input is gathered per (n, c) plane and grad_weight / grad_bias are
    reduced per output channel over batch and positions, each by one thread in
    a fixed order, so results are bitwise identical for any number of threads.
    """


def separable_conv2d(x, depthwise_weight, pointwise_weight, depthwise_bias=None,
                     pointwise_bias=None, stride=1, padding=0, dilation=1,
                     padding_mode="zeros", *, out=None):
    call = _validate.check_separable("separable_conv2d", x, depthwise_weight, pointwise_weight,
                                     depthwise_bias, pointwise_bias, stride, padding, dilation,
                                     padding_mode, out)
    dw = call.dw
    spec = dw.spec
    result = call.out if call.out is not None else _workspace.result(call.out_shape, call.dtype)
    if result.size == 0:
        return result
    out5 = result.reshape((spec.n, call.pw.shape[0]) + spec.out_size)
    macs = spec.macs + spec.n * int(np.prod(spec.out_size)) * call.pw.size
    _depthwise.separable_fwd(dw.x, dw.weight, dw.bias, call.pw, call.pb, out5, spec,
                             _threads.team_size(macs), _config.isa_code())
    return result


separable_conv2d.__doc__ = f"""Depthwise-separable 2-D convolution: depthwise, then 1x1.

    ``separable_conv2d(x, dw, pw, db, pb, ...)`` equals
    ``conv2d(depthwise_conv2d(x, dw, db, ...), pw, pb)``.  It is computed tile by
    tile: for each image and tile of output rows (or row segment), the depthwise
    result of every channel is written to a per-thread tile, which is then
    multiplied by the pointwise weights.  A tile holds at most
    ``max(256 KiB, C*m * 512 * itemsize)`` (plus vector padding), so memory
    does not grow with the image; the full (N, C*m, H_out, W_out) depthwise
    intermediate is never stored.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or unbatched (C, H, W)
        Input, float32 or float64 (mixed float32/float64 promotes to float64).
    depthwise_weight : array_like, shape (C*m, 1, kH, kW)
        Depthwise filters; m >= 1 is the channel multiplier.
    pointwise_weight : array_like, shape (C_out, C*m, 1, 1)
    depthwise_bias : array_like, shape (C*m,), optional
    pointwise_bias : array_like, shape (C_out,), optional
    {_SHARED}
        These apply to the depthwise step; the pointwise step has none.
    out : ndarray, keyword-only, optional
        C-contiguous, writeable, of the result's shape and dtype, not
        overlapping the inputs.

    Returns
    -------
    ndarray, shape (N, C_out, H_out, W_out) (unbatched: (C_out, H_out, W_out))
        {_SIZE_NOTE}

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.ones((1, 2, 4, 4))
    >>> dw = np.ones((2, 1, 3, 3))
    >>> pw = np.array([[1.0, -1.0], [0.5, 0.5]]).reshape(2, 2, 1, 1)
    >>> fastconv.separable_conv2d(x, dw, pw, depthwise_bias=[1.0, 0.0])[0, :, 0, 0]
    array([1. , 9.5])
    """


# Largest depthwise intermediate the separable backward keeps at once, in bytes:
# images are processed in chunks of this size (at least one image per chunk).
SEPARABLE_BACKWARD_SCRATCH_BYTES = 8 << 20


def separable_conv2d_backward(grad_output, x, depthwise_weight, pointwise_weight,
                              depthwise_bias=None, stride=1, padding=0, dilation=1,
                              padding_mode="zeros", *, need_input=True, need_bias=True):
    opname = "separable_conv2d_backward"
    need_input, need_bias = _validate.check_flags(opname, need_input=need_input,
                                                  need_bias=need_bias)
    call = _validate.check_separable(opname, x, depthwise_weight, pointwise_weight,
                                     depthwise_bias, None, stride, padding, dilation,
                                     padding_mode, None, grad_output=grad_output)
    dw = call.dw
    spec = dw.spec
    dtype = call.dtype
    c_out, cm = call.pw.shape
    positions = int(np.prod(spec.out_size))
    isa = _config.isa_code()
    grad_pw = np.zeros((c_out, cm), dtype)
    grad_pb = np.zeros(c_out, dtype) if need_bias else None
    grad_dw = np.zeros(dw.weight.shape, dtype)
    grad_db = np.zeros(cm, dtype) if need_bias else None
    grad_x = np.empty((spec.n, spec.c_in) + spec.in_size, dtype) if need_input else None
    go3 = call.grad_output.reshape(spec.n, c_out, positions)
    # Chunks of whole images bound the scratch (the depthwise output of the chunk,
    # later overwritten by the gradient with respect to it) and the partial sums;
    # the chunking depends on sizes only, so results stay thread-count independent.
    image_bytes = cm * positions * dtype.itemsize
    chunk = max(1, SEPARABLE_BACKWARD_SCRATCH_BYTES // image_bytes)
    part_pw = np.empty_like(grad_pw)
    part_pb = np.empty_like(grad_pb) if need_bias else None
    part_dw = np.empty_like(grad_dw)
    part_db = np.empty_like(grad_db) if need_bias else None
    for n0 in range(0, spec.n, chunk):
        n1 = min(spec.n, n0 + chunk)
        sub = spec._replace(n=n1 - n0)
        nt_dw = _threads.team_size(sub.macs)
        nt_pw = _threads.team_size(sub.n * positions * call.pw.size)
        mid = np.empty((sub.n, cm) + spec.out_size, dtype)
        mid3 = mid.reshape(sub.n, cm, positions)
        # the depthwise output, bias included (the pointwise weight's gradient reads it)
        _depthwise.depthwise_fwd(dw.x[n0:n1], dw.weight, dw.bias, mid, sub, nt_dw, isa)
        _depthwise.pointwise_bwd_weight(go3[n0:n1], mid3, part_pw, part_pb, nt_pw, isa,
                                        opname)
        # gradient with respect to the depthwise output: pointwise weights transposed
        _depthwise.pointwise_fwd(go3[n0:n1], call.pw, None, mid3, nt_pw, isa, opname,
                                 w_kmajor=True)
        if need_input:
            _depthwise.depthwise_bwd_input(mid, dw.weight, grad_x[n0:n1], sub, nt_dw, isa,
                                           opname)
        _depthwise.depthwise_bwd_weight(mid, dw.x[n0:n1], part_dw, part_db, sub, nt_dw, isa,
                                        opname)
        for total, part in ((grad_pw, part_pw), (grad_pb, part_pb), (grad_dw, part_dw),
                            (grad_db, part_db)):
            if total is not None:
                total += part
    if need_input:
        grad_x = grad_x.reshape(np.shape(x))
    return (grad_x, grad_dw.reshape(np.shape(depthwise_weight)),
            grad_pw.reshape(np.shape(pointwise_weight)), grad_db, grad_pb)


separable_conv2d_backward.__doc__ = """Gradients of :func:`separable_conv2d` (as PyTorch autograd).

    Parameters
    ----------
    grad_output : array_like, shape of ``separable_conv2d(x, ...)``
        Gradient of the loss with respect to the output.
    x, depthwise_weight, pointwise_weight, stride, padding, dilation, padding_mode
        As in :func:`separable_conv2d`.
    depthwise_bias : array_like, shape (C*m,), optional
        Needed because the pointwise weight's gradient depends on the depthwise
        output, bias included.  (The pointwise bias does not enter any gradient.)
    need_input : bool, keyword-only
        Compute ``grad_input`` (skip it for a network's first layer).
    need_bias : bool, keyword-only
        Compute both bias gradients (they do not depend on whether the forward
        call had biases).

    Returns
    -------
    grad_input : ndarray of x's shape, or None
    grad_depthwise_weight : ndarray of depthwise_weight's shape
    grad_pointwise_weight : ndarray of pointwise_weight's shape
    grad_depthwise_bias : ndarray (C*m,), or None
    grad_pointwise_bias : ndarray (C_out,), or None

    Notes
    -----
    Computed as the composition of the two steps' gradients: the depthwise
    output is recomputed, the pointwise gradients are reduced from it, the
    gradient with respect to it (``pointwise_weight^T @ grad_output``) is formed,
    and the depthwise backward runs on that.  This runs over chunks of whole
    images whose depthwise output takes at most
    ``SEPARABLE_BACKWARD_SCRATCH_BYTES`` (8 MiB; one image when a single image
    is larger), so the scratch does not grow with the batch; the weight and
    bias gradients are the chunks' partial sums added in batch order.  Bitwise
    identical for any number of threads.
    """
