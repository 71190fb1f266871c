"""Upsampling (resampling) by nearest-neighbour and (bi/tri)linear interpolation,
as ``torch.nn.functional.interpolate``, and its backward pass.

Every call is validated by fastconv._validate.check_upsample, reshaped to 5-D
(N, C, D, H, W) with size-1 leading spatial dims, and run by one N-d C kernel.
(The module is not called ``upsample`` so that ``fastconv.upsample`` is always
the function.)
"""
import numpy as np

from fastconv import _threads, _validate, _workspace
from fastconv._ext import _upsample

__all__ = ["upsample", "upsample_backward"]


def upsample(x, size=None, scale_factor=None, mode="nearest", align_corners=None, *,
             out=None):
    """Resize the spatial axes of `x` (``torch.nn.functional.interpolate``).

    Parameters
    ----------
    x : array_like, shape (N, C, L), (N, C, H, W) or (N, C, D, H, W)
        float32 or float64; the batch axis is required.  Any strides;
        read-only arrays are fine.
    size : int or tuple of ints, optional
        Output spatial size (one int for all axes, or one per axis).
    scale_factor : float or tuple of floats, optional
        Multiplier of the spatial sizes (> 0).  Exactly one of `size` and
        `scale_factor` must be given.
    mode : {'nearest', 'linear', 'bilinear', 'trilinear'}
        'linear' needs 3-D input, 'bilinear' 4-D, 'trilinear' 5-D; 'nearest'
        takes any of them.
    align_corners : bool, optional
        Linear modes only (None means False; setting it with 'nearest' is an
        error, as in PyTorch).  True maps the centres of the corner samples of
        input and output onto each other and ignores `scale_factor` for the
        coordinates.
    out : ndarray, keyword-only, optional
        C-contiguous, writeable, of the result's shape and dtype, not
        overlapping `x`.

    Returns
    -------
    ndarray, shape (N, C, *out_size), the dtype of `x`
        ``out_size = size``, or ``floor(in_size * scale_factor)`` per axis.

    Notes
    -----
    Along each axis, output index ``o`` reads (PyTorch's rules, with
    ``recompute_scale_factor=None``; ``s = 1 / scale_factor`` when a scale
    factor is given, else ``in / out``):

    - nearest: ``min(floor(o * s), in - 1)``, computed in float32 as PyTorch
      does; an axis whose output size is the input size is copied, and one
      whose output is exactly twice the input reads ``o // 2``.
    - linear, ``align_corners=False``: ``src = max((o + 0.5) * s - 0.5, 0)``;
      ``align_corners=True``: ``src = o * (in - 1) / (out - 1)``.  The output
      interpolates between ``floor(src)`` and the next sample (clamped at the
      last).  An axis whose output size is the input size is copied.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.array([[[0.0, 1.0, 2.0]]])
    >>> fastconv.upsample(x, scale_factor=2)
    array([[[0., 0., 1., 1., 2., 2.]]])
    >>> fastconv.upsample(x, size=5, mode="linear", align_corners=True)
    array([[[0. , 0.5, 1. , 1.5, 2. ]]])
    """
    call = _validate.check_upsample("upsample", x, size, scale_factor, mode, align_corners,
                                    out)
    spec = call.spec
    result = call.out if call.out is not None else _workspace.result(call.result_shape, call.dtype)
    if result.size == 0:
        return result
    out5 = result.reshape((spec.n, spec.c) + spec.out_size)
    _upsample.upsample_fwd(call.src, out5, spec, _threads.team_size(spec.work))
    return result


def upsample_backward(grad_output, x, size=None, scale_factor=None, mode="nearest",
                      align_corners=None):
    """Gradient of :func:`upsample` with respect to `x`.

    Parameters
    ----------
    grad_output : array_like, shape (N, C, *out_size)
        Gradient of the loss with respect to ``upsample(x, ...)``.
    x : array_like, shape (N, C, *in_size)
        The forward input (only its shape and dtype are used).
    size, scale_factor, mode, align_corners
        As given to :func:`upsample`.

    Returns
    -------
    ndarray, shape of `x`
        The exact adjoint of the forward map: each input cell sums
        ``weight * grad_output`` over the output cells that read it, in a fixed
        order (the same bits for any thread count).  float64 when either
        argument is float64, else float32.

    Notes
    -----
    For 'nearest' with a `scale_factor` that is not exactly 1 or 2 but gives
    an output size equal to (or twice) the input size, PyTorch's 1-D and 3-D
    forward kernels pick different cells than its own backward pass; fastconv
    follows the backward rule (a copy, or ``o // 2``) in both directions, so
    its gradient is always the adjoint of its forward output.
    """
    call = _validate.check_upsample("upsample_backward", x, size, scale_factor, mode,
                                    align_corners, grad_output=grad_output)
    spec = call.spec
    grad_input = np.empty(call.result_shape, call.dtype)
    if grad_input.size == 0:
        return grad_input
    gin5 = grad_input.reshape((spec.n, spec.c) + spec.in_size)
    _upsample.upsample_bwd(call.src, gin5, spec, _threads.team_size(spec.work))
    return grad_input
