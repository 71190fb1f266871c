"""ShuffleNet channel shuffle (``torch.nn.functional.channel_shuffle``) and its
backward pass.

Validated by fastconv._validate.check_channel_shuffle; the C kernel copies
whole (n, channel) planes, planes in parallel.
"""
import numpy as np

from fastconv import _threads, _validate, _workspace
from fastconv._ext import _shuffle

__all__ = ["channel_shuffle", "channel_shuffle_backward"]


def channel_shuffle(x, groups, *, out=None):
    """Interleave the channels of `groups` groups (ShuffleNet).

    Parameters
    ----------
    x : array_like, shape (N, C, *spatial)
        float32 or float64, at least one spatial axis (any number); the batch
        axis is required.  Any strides; read-only arrays are fine.
    groups : int
        >= 1, divides C.
    out : ndarray, keyword-only, optional
        C-contiguous, writeable, of the shape and dtype of `x`, not
        overlapping it.

    Returns
    -------
    ndarray, the shape and dtype of `x`
        The channels viewed as a (groups, C/groups) matrix, transposed and
        flattened: output channel ``j * groups + i`` is input channel
        ``i * (C/groups) + j``.

    Notes
    -----
    A permutation of channels: ``channel_shuffle(channel_shuffle(x, g), C // g)``
    is `x` again.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(6.0).reshape(1, 6, 1)
    >>> fastconv.channel_shuffle(x, 2)[0, :, 0]
    array([0., 3., 1., 4., 2., 5.])
    """
    call = _validate.check_channel_shuffle("channel_shuffle", x, groups, out)
    result = call.out if call.out is not None else _workspace.result(call.result_shape, call.dtype)
    if result.size == 0:
        return result
    out3 = result.reshape(call.src.shape)
    _shuffle.shuffle_fwd(call.src, out3, call.spec, _threads.team_size(call.src.size))
    return result


def channel_shuffle_backward(grad_output, x, groups):
    """Gradient of :func:`channel_shuffle` with respect to `x`.

    Parameters
    ----------
    grad_output : array_like, shape of `x`
        Gradient of the loss with respect to ``channel_shuffle(x, groups)``.
    x : array_like, shape (N, C, *spatial)
        The forward input (only its shape and dtype are used; taken, like every
        fastconv ``*_backward``, so the forward arguments can be passed as they are).
    groups : int
        As given to :func:`channel_shuffle`.

    Returns
    -------
    ndarray, shape of `x`
        The inverse permutation of `grad_output`, i.e. a channel shuffle with
        ``C // groups`` groups.  float64 when either argument is float64, else
        float32.
    """
    call = _validate.check_channel_shuffle("channel_shuffle_backward", x, groups,
                                           grad_output=grad_output)
    grad_input = np.empty(call.result_shape, call.dtype)
    if grad_input.size == 0:
        return grad_input
    _shuffle.shuffle_bwd(call.src, grad_input.reshape(call.src.shape), call.spec,
                         _threads.team_size(call.src.size))
    return grad_input
