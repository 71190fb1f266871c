"""Explicit padding of the spatial axes (``torch.nn.functional.pad`` for
channels-first arrays, pairs given first spatial axis first) and its backward
pass.

Every call is validated by fastconv._validate.check_pad, reshaped to 5-D
(N, C, D, H, W) with size-1 leading spatial dims (padded by 0), and run by one
N-d C kernel.
"""
import numpy as np

from fastconv import _threads, _validate, _workspace
from fastconv._ext import _pad

__all__ = ["pad", "pad_backward"]


def pad(x, pad, mode="zeros", value=0.0, *, out=None):
    """Pad the spatial axes of `x`.

    Parameters
    ----------
    x : array_like, shape (N, C, L), (N, C, H, W) or (N, C, D, H, W)
        float32 or float64; the batch axis is required.  Any strides;
        read-only arrays are fine.
    pad : int or tuple
        An int (every side of every spatial axis), or one entry per spatial
        axis, **first spatial axis first**, each an int (both sides) or a
        ``(before, after)`` pair: ``pad=((1, 2), (0, 3))`` pads H by 1 above
        and 2 below, W by 0 left and 3 right.  (PyTorch's ``F.pad`` takes a
        flat list starting from the *last* axis: ``(0, 3, 1, 2)`` there.)
        Negative padding (cropping) is not supported.
    mode : {'zeros', 'constant', 'reflect', 'replicate', 'circular'}
        For a line ``abcd`` padded by 2 on each side::

            'zeros'      00|abcd|00
            'constant'   vv|abcd|vv     v = value
            'reflect'    cb|abcd|cb     mirror, edge not repeated; pad < size
            'replicate'  aa|abcd|dd     edge repeated
            'circular'   cd|abcd|ab     wrap; pad may exceed the size (wraps again)

    value : float
        The fill of mode 'constant'.  'zeros' pads with 0 and refuses any other
        value; the other modes ignore it.
    out : ndarray, keyword-only, optional
        C-contiguous, writeable, of the result's shape and dtype, not
        overlapping `x`.

    Returns
    -------
    ndarray, shape (N, C, *out_size), the dtype of `x`
        ``out_size = in_size + before + after`` per axis.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.array([[[1.0, 2.0, 3.0]]])
    >>> fastconv.pad(x, ((2, 1),), mode="reflect")
    array([[[3., 2., 1., 2., 3., 2.]]])
    >>> fastconv.pad(x, 1, mode="constant", value=-1.0)
    array([[[-1.,  1.,  2.,  3., -1.]]])
    """
    call = _validate.check_pad("pad", x, pad, mode, value, out)
    spec = call.spec
    result = call.out if call.out is not None else _workspace.result(call.result_shape, call.dtype)
    if result.size == 0:
        return result
    if call.src.size == 0:  # an empty spatial axis (constant modes only): all fill
        result.fill(spec.value)
        return result
    out5 = result.reshape((spec.n, spec.c) + spec.out_size)
    _pad.pad_fwd(call.src, out5, spec, _threads.team_size(out5.size))
    return result


def pad_backward(grad_output, x, pad, mode="zeros", value=0.0):
    """Gradient of :func:`pad` with respect to `x`.

    Parameters
    ----------
    grad_output : array_like, shape (N, C, *out_size)
        Gradient of the loss with respect to ``pad(x, ...)``.
    x : array_like, shape (N, C, *in_size)
        The forward input (only its shape and dtype are used).
    pad, mode, value
        As given to :func:`pad` (`value` is accepted so the same keyword
        arguments can be passed to both; the gradient does not depend on it).

    Returns
    -------
    ndarray, shape of `x`
        Each input cell's gradient plus that of every padded cell that copies
        it (reflect, replicate, circular); the constant cells' gradients are
        dropped.  Computed as a gather in a fixed order (the same bits for any
        thread count).  float64 when either argument is float64, else float32.
    """
    call = _validate.check_pad("pad_backward", x, pad, mode, value,
                               grad_output=grad_output)
    spec = call.spec
    grad_input = np.empty(call.result_shape, call.dtype)
    if grad_input.size == 0:
        return grad_input
    gin5 = grad_input.reshape((spec.n, spec.c) + spec.in_size)
    _pad.pad_bwd(call.src, gin5, spec, _threads.team_size(call.src.size))
    return grad_input

