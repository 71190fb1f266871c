"""Pooling in 1, 2 and 3 spatial dimensions, forward and backward.

Max and average pooling over sliding windows, adaptive pooling to a fixed output
size, global pooling and the spatial pyramid, with the semantics of
``torch.nn.functional``.  Every call is validated by fastconv._validate,
reshaped to 5-D (N, C, D, H, W) with size-1 leading spatial dims (global pooling:
each (n, c) plane as one line) and run by one N-d C kernel.  The backwards return
what PyTorch autograd returns for the same forward call.
"""
import numpy as np

from fastconv import _config, _threads, _validate, _workspace
from fastconv._ext import _pool

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d",
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "global_avg_pool", "global_max_pool", "spatial_pyramid_pool",
    "max_pool1d_backward", "max_pool2d_backward", "max_pool3d_backward",
    "avg_pool1d_backward", "avg_pool2d_backward", "avg_pool3d_backward",
    "adaptive_avg_pool1d_backward", "adaptive_avg_pool2d_backward",
    "adaptive_avg_pool3d_backward",
    "adaptive_max_pool1d_backward", "adaptive_max_pool2d_backward",
    "adaptive_max_pool3d_backward",
    "global_avg_pool_backward", "global_max_pool_backward",
    "spatial_pyramid_pool_backward",
]


# ------------------------------------------------------------ the runners ----
def _forward(kernel, call, return_indices=False, takes_indices=False):
    """Run a forward kernel into a new array (or the user's out=); with
    return_indices also return the int64 index array."""
    spec = call.spec
    result = call.out if call.out is not None else _workspace.result(call.out_shape, call.dtype)
    indices = np.empty(call.out_shape, np.int64) if return_indices else None
    if result.size:
        shape5 = (spec.n, spec.c) + spec.out_size
        args = [call.x, result.reshape(shape5)]
        if takes_indices:
            args.append(None if indices is None else indices.reshape(shape5))
        kernel(*args, spec, _threads.team_size(spec.work), _config.isa_code())
    return (result, indices) if return_indices else result


def _backward(kernel, call, needs_x):
    """Run a backward kernel; grad_input has x's shape and the computation dtype."""
    spec = call.spec
    grad_in = np.empty(call.in_shape, call.dtype)
    if grad_in.size:
        args = [call.x] if needs_x else []
        args += [call.grad, grad_in.reshape((spec.n, spec.c) + spec.in_size)]
        kernel(*args, spec, _threads.team_size(spec.work), _config.isa_code())
    return grad_in


# ---------------------------------------------------------------- docs ----
_SHAPES = {1: ("L", "L_out"), 2: ("H, W", "H_out, W_out"), 3: ("D, H, W", "D_out, H_out, W_out")}

_DOC_X = """x : array_like, shape (N, C, {sp}) or unbatched (C, {sp})
        float32 or float64; any strides, read-only arrays are fine."""
_DOC_WINDOW = """kernel_size : int or tuple of {n} ints, >= 1
        Window size.
    stride : int or tuple of {n} ints, >= 1, optional
        Window step; defaults to ``kernel_size``.
    padding : int or tuple of {n} ints
        Implicit padding on both sides, between 0 and ``kernel_size // 2``."""
_DOC_CEIL = """ceil_mode : bool
        Round the output size up instead of down; a last window that would
        start in the right padding is dropped (PyTorch's rule)."""
_DOC_OUT = """out : ndarray, keyword-only, optional
        C-contiguous, writeable, of the result's shape and dtype, not
        overlapping x."""
_DOC_SIZE = """Along each axis, with ``p`` the padding and ``d`` the dilation,
    ``o = floor((i + 2p - d*(k - 1) - 1) / stride) + 1`` (``ceil`` with
    ``ceil_mode``, less one when that last window would start at or past
    ``i + p``)."""
_DOC_GRAD = """grad_output : array_like
        Gradient of the loss with respect to the forward result (its shape)."""
_DOC_INDICES = """indices : ndarray of int64, keyword-only, optional
        The indices ``{op}(x, ..., return_indices=True)`` returned (grad_output's
        shape, each an offset in the input's (n, c) plane).  Given, the
        gradients are routed through them (a scatter, as PyTorch autograd
        does) instead of through maxima recomputed from x: the same result
        when they came from this x, faster.  x is then only used for its shape
        and dtype."""
_DOC_GRAD_RETURNS = """Returns
    -------
    grad_input : ndarray, x's shape
        Computed in float64 when grad_output or x is float64, else float32."""


def _fill(doc, n=None, **kw):
    sp, osp = _SHAPES.get(n, ("", ""))
    fields = dict(x=_DOC_X, window=_DOC_WINDOW, ceil=_DOC_CEIL, out=_DOC_OUT, size=_DOC_SIZE,
                  grad=_DOC_GRAD, grad_returns=_DOC_GRAD_RETURNS)
    fields = {k: v.format(n=n, sp=sp) for k, v in fields.items()}
    return doc.format(n=n, sp=sp, osp=osp, **fields, **kw)


# ------------------------------------------------------------ max pooling ----
def _max_pool(nd, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, out):
    opname = f"max_pool{nd}d"
    return_indices = _validate.check_bool(opname, "return_indices", return_indices)
    call = _validate.check_window_pool(opname, nd, x, kernel_size, stride, padding, dilation,
                                       ceil_mode, out=out)
    return _forward(_pool.max_pool_fwd, call, return_indices, takes_indices=True)


def _max_pool_backward(nd, grad_output, x, kernel_size, stride, padding, dilation, ceil_mode,
                       indices):
    opname = f"max_pool{nd}d_backward"
    call = _validate.check_window_pool(opname, nd, x, kernel_size, stride, padding, dilation,
                                       ceil_mode, grad_output=grad_output)
    return _max_backward(_pool.max_pool_bwd, opname, call, indices)


def _max_backward(recompute, opname, call, indices):
    """Max (or adaptive max) backward: routed through the saved indices when
    given, else through argmaxes recomputed from x."""
    if indices is None:
        return _backward(recompute, call, needs_x=True)
    indices = _validate.check_pool_indices(opname, indices, call)
    grad_in = np.empty(call.in_shape, call.dtype)
    if grad_in.size:
        spec = call.spec
        if not _pool.max_pool_route(indices, call.grad,
                                    grad_in.reshape((spec.n, spec.c) + spec.in_size),
                                    spec, _threads.team_size(spec.work), _config.isa_code()):
            raise _validate.pool_indices_out_of_range(opname, indices, call)
    return grad_in


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, out=None):
    return _max_pool(1, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     out)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, out=None):
    return _max_pool(2, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     out)


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, out=None):
    return _max_pool(3, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     out)


def max_pool1d_backward(grad_output, x, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, *, indices=None):
    return _max_pool_backward(1, grad_output, x, kernel_size, stride, padding, dilation,
                              ceil_mode, indices)


def max_pool2d_backward(grad_output, x, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, *, indices=None):
    return _max_pool_backward(2, grad_output, x, kernel_size, stride, padding, dilation,
                              ceil_mode, indices)


def max_pool3d_backward(grad_output, x, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, *, indices=None):
    return _max_pool_backward(3, grad_output, x, kernel_size, stride, padding, dilation,
                              ceil_mode, indices)


_MAX_DOC = """{n}-D max pooling (as ``torch.nn.functional.max_pool{n}d``).

    Each output is the maximum of its window's input cells; padded cells never
    win.  A tie goes to the first maximum in (depth, row, column) order; a NaN
    in the window makes the output NaN.

    Parameters
    ----------
    {x}
    {window}
    dilation : int or tuple of {n} ints, >= 1
        Spacing of the window's cells.
    {ceil}
    return_indices : bool
        Also return, for every output, the flat offset of its maximum in the
        input's (n, c) plane (int64, PyTorch's convention; a NaN window gives
        its last NaN).
    {out}
        With return_indices, ``out`` receives the values.

    Returns
    -------
    out : ndarray, shape (N, C, {osp}) (unbatched: (C, {osp}))
    indices : ndarray of int64, same shape (only with return_indices)

    Notes
    -----
    {size}
    Every window must hold at least one input cell: a dilated window that
    would cover only padding raises ValueError.
    """
_MAX_BWD_DOC = """Gradient of :func:`max_pool{n}d` with respect to x.

    Each window's gradient goes to the cell its maximum came from (the first
    maximum on ties, the last NaN when the window holds NaN, as PyTorch);
    gradients of windows sharing a cell add up.

    Parameters
    ----------
    {grad}
    x : array_like, the forward input
    kernel_size, stride, padding, dilation, ceil_mode
        As in the forward call.
    {indices}

    {grad_returns}
    """
for _n, _f, _b in ((1, max_pool1d, max_pool1d_backward), (2, max_pool2d, max_pool2d_backward),
                   (3, max_pool3d, max_pool3d_backward)):
    _f.__doc__ = _fill(_MAX_DOC, _n)
    _b.__doc__ = _fill(_MAX_BWD_DOC, _n, indices=_DOC_INDICES.format(op=f"max_pool{_n}d"))
max_pool2d.__doc__ += """
    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> fastconv.max_pool2d(x, 2)[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    >>> fastconv.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)[1][0, 0]
    array([[ 5,  7],
           [13, 15]])
    """


# ------------------------------------------------------------ avg pooling ----
def _avg_pool(nd, x, kernel_size, stride, padding, ceil_mode, count_include_pad, out):
    call = _validate.check_window_pool(f"avg_pool{nd}d", nd, x, kernel_size, stride, padding,
                                       1, ceil_mode, count_include_pad, out=out)
    return _forward(_pool.avg_pool_fwd, call)


def _avg_pool_backward(nd, grad_output, x, kernel_size, stride, padding, ceil_mode,
                       count_include_pad):
    call = _validate.check_window_pool(f"avg_pool{nd}d_backward", nd, x, kernel_size, stride,
                                       padding, 1, ceil_mode, count_include_pad,
                                       grad_output=grad_output)
    return _backward(_pool.avg_pool_bwd, call, needs_x=False)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, *, out=None):
    return _avg_pool(1, x, kernel_size, stride, padding, ceil_mode, count_include_pad, out)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, *, out=None):
    return _avg_pool(2, x, kernel_size, stride, padding, ceil_mode, count_include_pad, out)


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, *, out=None):
    return _avg_pool(3, x, kernel_size, stride, padding, ceil_mode, count_include_pad, out)


def avg_pool1d_backward(grad_output, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    return _avg_pool_backward(1, grad_output, x, kernel_size, stride, padding, ceil_mode,
                              count_include_pad)


def avg_pool2d_backward(grad_output, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    return _avg_pool_backward(2, grad_output, x, kernel_size, stride, padding, ceil_mode,
                              count_include_pad)


def avg_pool3d_backward(grad_output, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    return _avg_pool_backward(3, grad_output, x, kernel_size, stride, padding, ceil_mode,
                              count_include_pad)


_AVG_DOC = """{n}-D average pooling (as ``torch.nn.functional.avg_pool{n}d``).

    Each output is the sum of its window's input cells divided by the window's
    size (see Notes).

    Parameters
    ----------
    {x}
    {window}
    {ceil}
    count_include_pad : bool
        True: padded cells count in the divisor; False: only input cells do.
    {out}

    Returns
    -------
    ndarray, shape (N, C, {osp}) (unbatched: (C, {osp}))

    Notes
    -----
    {size}
    Along each axis a window starts at ``s = o*stride - p`` and ends at
    ``e = s + k``; the divisor is the product over axes of ``min(e, i + p) - s``
    with count_include_pad (cells past the padded input, which only ceil_mode
    creates, never count) and of ``min(e, i) - max(s, 0)`` without.
    """
_AVG_BWD_DOC = """Gradient of :func:`avg_pool{n}d` with respect to x.

    Each input cell receives, from every window holding it, that window's
    gradient divided by the window's divisor.

    Parameters
    ----------
    {grad}
    x : array_like, the forward input (only its shape and dtype are used)
    kernel_size, stride, padding, ceil_mode, count_include_pad
        As in the forward call.

    {grad_returns}
    """
for _n, _f, _b in ((1, avg_pool1d, avg_pool1d_backward), (2, avg_pool2d, avg_pool2d_backward),
                   (3, avg_pool3d, avg_pool3d_backward)):
    _f.__doc__ = _fill(_AVG_DOC, _n)
    _b.__doc__ = _fill(_AVG_BWD_DOC, _n)
avg_pool2d.__doc__ += """
    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.ones((1, 1, 3, 3))
    >>> fastconv.avg_pool2d(x, 2, padding=1)[0, 0]
    array([[0.25, 0.5 ],
           [0.5 , 1.  ]])
    >>> fastconv.avg_pool2d(x, 2, padding=1, count_include_pad=False)[0, 0]
    array([[1., 1.],
           [1., 1.]])
    """


# ------------------------------------------------------- adaptive pooling ----
def _adaptive(kind, nd, x, output_size, return_indices, out):
    opname = f"adaptive_{kind}_pool{nd}d"
    if kind == "max":
        return_indices = _validate.check_bool(opname, "return_indices", return_indices)
    call = _validate.check_adaptive_pool(opname, nd, x, output_size, out=out)
    if kind == "avg":
        return _forward(_pool.adaptive_avg_pool_fwd, call)
    return _forward(_pool.adaptive_max_pool_fwd, call, return_indices, takes_indices=True)


def _adaptive_backward(kind, nd, grad_output, x, indices=None):
    opname = f"adaptive_{kind}_pool{nd}d_backward"
    grad_output, size = _validate.adaptive_grad_output_size(opname, nd, grad_output, x)
    call = _validate.check_adaptive_pool(opname, nd, x, size, grad_output=grad_output)
    if kind == "avg":
        return _backward(_pool.adaptive_avg_pool_bwd, call, needs_x=False)
    return _max_backward(_pool.adaptive_max_pool_bwd, opname, call, indices)


def adaptive_avg_pool1d(x, output_size, *, out=None):
    return _adaptive("avg", 1, x, output_size, False, out)


def adaptive_avg_pool2d(x, output_size, *, out=None):
    return _adaptive("avg", 2, x, output_size, False, out)


def adaptive_avg_pool3d(x, output_size, *, out=None):
    return _adaptive("avg", 3, x, output_size, False, out)


def adaptive_max_pool1d(x, output_size, return_indices=False, *, out=None):
    return _adaptive("max", 1, x, output_size, return_indices, out)


def adaptive_max_pool2d(x, output_size, return_indices=False, *, out=None):
    return _adaptive("max", 2, x, output_size, return_indices, out)


def adaptive_max_pool3d(x, output_size, return_indices=False, *, out=None):
    return _adaptive("max", 3, x, output_size, return_indices, out)


def adaptive_avg_pool1d_backward(grad_output, x):
    return _adaptive_backward("avg", 1, grad_output, x)


def adaptive_avg_pool2d_backward(grad_output, x):
    return _adaptive_backward("avg", 2, grad_output, x)


def adaptive_avg_pool3d_backward(grad_output, x):
    return _adaptive_backward("avg", 3, grad_output, x)


def adaptive_max_pool1d_backward(grad_output, x, *, indices=None):
    return _adaptive_backward("max", 1, grad_output, x, indices)


def adaptive_max_pool2d_backward(grad_output, x, *, indices=None):
    return _adaptive_backward("max", 2, grad_output, x, indices)


def adaptive_max_pool3d_backward(grad_output, x, *, indices=None):
    return _adaptive_backward("max", 3, grad_output, x, indices)


_ADAPTIVE_DOC = """{n}-D adaptive {what} pooling (as ``torch.nn.functional.adaptive_{kind}_pool{n}d``
    with the same arguments).

    The input is split into ``output_size`` bins per axis and each output is
    the {what} of its bin.

    Parameters
    ----------
    {x}
    output_size : int or tuple of {n} ints (or None), >= 1
        Bins per axis; None keeps that axis's input size.{extra}
    {out}

    Returns
    -------
    ndarray, shape (N, C, {osp}) (unbatched: (C, {osp})){extra_returns}

    Notes
    -----
    Bin ``o`` of an axis of ``i`` cells split into ``n`` bins covers cells
    ``floor(o*i/n)`` to ``ceil((o+1)*i/n) - 1`` (PyTorch's rule): when ``n``
    does not divide ``i``, neighbouring bins overlap or differ in size.
    """
_ADAPTIVE_MAX_EXTRA = """
    return_indices : bool
        Also return the flat offset of each maximum in the input's (n, c) plane
        (int64; the first maximum on ties, the last NaN in a bin holding NaN)."""
_ADAPTIVE_BWD_DOC = """Gradient of :func:`adaptive_{kind}_pool{n}d` with respect to x.

    The output size is read from grad_output's shape.  {how}

    Parameters
    ----------
    {grad}
    x : array_like, the forward input{extra}

    {grad_returns}
    """
_HOW = {"avg": "Each input cell receives, from every bin holding it, the bin's gradient "
               "divided by the bin's size.",
        "max": "Each bin's gradient goes to the cell its maximum came from."}
for _n, _fa, _fm, _ba, _bm in (
        (1, adaptive_avg_pool1d, adaptive_max_pool1d, adaptive_avg_pool1d_backward,
         adaptive_max_pool1d_backward),
        (2, adaptive_avg_pool2d, adaptive_max_pool2d, adaptive_avg_pool2d_backward,
         adaptive_max_pool2d_backward),
        (3, adaptive_avg_pool3d, adaptive_max_pool3d, adaptive_avg_pool3d_backward,
         adaptive_max_pool3d_backward)):
    _fa.__doc__ = _fill(_ADAPTIVE_DOC, _n, what="average", kind="avg", extra="",
                        extra_returns="")
    _fm.__doc__ = _fill(_ADAPTIVE_DOC, _n, what="maximum", kind="max",
                        extra=_ADAPTIVE_MAX_EXTRA,
                        extra_returns="\n    indices : ndarray of int64 (only with "
                                      "return_indices)")
    _ba.__doc__ = _fill(_ADAPTIVE_BWD_DOC, _n, kind="avg", how=_HOW["avg"], extra="")
    _bm.__doc__ = _fill(_ADAPTIVE_BWD_DOC, _n, kind="max", how=_HOW["max"],
                        extra="\n    " + _DOC_INDICES.format(op=f"adaptive_max_pool{_n}d"))
adaptive_avg_pool1d.__doc__ += """
    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(5.0).reshape(1, 1, 5)      # bins [0, 2), [1, 4), [3, 5)
    >>> fastconv.adaptive_avg_pool1d(x, 3)[0, 0]
    array([0.5, 2. , 3.5])
    """


# --------------------------------------------------------- global pooling ----
def global_avg_pool(x, keepdims=False, *, out=None):
    call = _validate.check_global_pool("global_avg_pool", x, keepdims, out=out)
    return _forward(_pool.global_avg_pool_fwd, call)


def global_max_pool(x, keepdims=False, *, out=None):
    call = _validate.check_global_pool("global_max_pool", x, keepdims, out=out)
    return _forward(_pool.global_max_pool_fwd, call)


def global_avg_pool_backward(grad_output, x, keepdims=False):
    call = _validate.check_global_pool("global_avg_pool_backward", x, keepdims,
                                       grad_output=grad_output)
    return _backward(_pool.global_avg_pool_bwd, call, needs_x=False)


def global_max_pool_backward(grad_output, x, keepdims=False):
    call = _validate.check_global_pool("global_max_pool_backward", x, keepdims,
                                       grad_output=grad_output)
    return _backward(_pool.global_max_pool_bwd, call, needs_x=True)


_GLOBAL_DOC = """Global {what} pooling: the {what} of each (n, c) plane.

    {equiv}

    Parameters
    ----------
    x : array_like, shape (N, C, *spatial), one or more spatial axes
        float32 or float64 (the batch axis is required).
    keepdims : bool
        Keep the spatial axes as size 1: (N, C, 1, ...) instead of (N, C).
    {out}

    Returns
    -------
    ndarray, shape (N, C) or, with keepdims, (N, C, 1, ...)
    """
_GLOBAL_BWD_DOC = """Gradient of :func:`global_{kind}_pool` with respect to x.

    {how}

    Parameters
    ----------
    grad_output : array_like, shape (N, C) or, with keepdims, (N, C, 1, ...)
    x : array_like, shape (N, C, *spatial), the forward input
    keepdims : bool
        As in the forward call.

    {grad_returns}
    """
global_avg_pool.__doc__ = _fill(
    _GLOBAL_DOC, what="average",
    equiv="The mean over the spatial axes (``x.mean(axis=(2, ...))``), summed in a\n"
          "    fixed order whatever the thread count.") + """
    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.global_avg_pool(np.arange(8.0).reshape(1, 2, 2, 2))
    array([[1.5, 5.5]])
    """
global_max_pool.__doc__ = _fill(
    _GLOBAL_DOC, what="maximum",
    equiv="Equal to ``adaptive_max_pool2d(x, 1)`` (or its 1-D / 3-D form): a NaN in a\n"
          "    plane makes its result NaN, and the gradient goes to one cell, see\n"
          "    :func:`global_max_pool_backward`.")
global_avg_pool_backward.__doc__ = _fill(
    _GLOBAL_BWD_DOC, kind="avg", how="Every cell of plane (n, c) gets grad_output[n, c] / "
                                     "(number of cells).")
global_max_pool_backward.__doc__ = _fill(
    _GLOBAL_BWD_DOC, kind="max",
    how="All of grad_output[n, c] goes to one cell, the one adaptive max pooling to\n"
        "    size 1 picks: the first maximum of the plane (in C order), or its last NaN\n"
        "    if it holds one.  (``torch.amax`` would instead share it among tied maxima.)")


# ------------------------------------------------------------ the pyramid ----
def _pyramid_slices(n, c, levels):
    """(level, start, stop) of each level's block in the (N, C * sum(l*l)) result."""
    start = 0
    for lv in levels:
        yield lv, start, start + c * lv * lv
        start += c * lv * lv


def spatial_pyramid_pool(x, levels=(1, 2, 4), mode="max", *, out=None):
    opname = "spatial_pyramid_pool"
    x, levels, mode, _ = _validate.check_pyramid_args(opname, x, levels, mode)
    calls = [_validate.check_adaptive_pool(opname, 2, x, lv) for lv in levels]
    n, c = x.shape[:2]
    shape = (n, c * sum(lv * lv for lv in levels))
    if out is not None:
        _validate.check_out(opname, out, shape, calls[0].dtype, {"x": x})
    result = out if out is not None else np.empty(shape, calls[0].dtype)
    kernel = _pool.adaptive_max_pool_fwd if mode == "max" else _pool.adaptive_avg_pool_fwd
    for call, (lv, start, stop) in zip(calls, _pyramid_slices(n, c, levels)):
        part = _forward(kernel, call, takes_indices=mode == "max")
        result[:, start:stop] = part.reshape(n, stop - start)
    return result


def spatial_pyramid_pool_backward(grad_output, x, levels=(1, 2, 4), mode="max"):
    opname = "spatial_pyramid_pool_backward"
    x, levels, mode, grad = _validate.check_pyramid_args(opname, x, levels, mode, grad_output)
    n, c = x.shape[:2]
    grad_in = None
    for lv, start, stop in _pyramid_slices(n, c, levels):
        g = grad[:, start:stop].reshape(n, c, lv, lv)
        call = _validate.check_adaptive_pool(opname, 2, x, lv, grad_output=g)
        if mode == "max":
            part = _backward(_pool.adaptive_max_pool_bwd, call, needs_x=True)
        else:
            part = _backward(_pool.adaptive_avg_pool_bwd, call, needs_x=False)
        if grad_in is None:
            grad_in = part
        else:
            grad_in += part  # levels added in order: the same bits for any thread count
    return grad_in


spatial_pyramid_pool.__doc__ = """Spatial pyramid pooling (He et al., SPP-net), 2-D.

    For each level ``l``, adaptive pooling of x to (l, l) bins; each sample's
    (C, l, l) block is flattened in C order and the levels are concatenated in
    the given order.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W)
        float32 or float64 (the batch axis is required).
    levels : tuple of ints >= 1
        Bins per side of each level.
    mode : {'max', 'avg'}
        :func:`adaptive_max_pool2d` or :func:`adaptive_avg_pool2d` per level.
    out : ndarray, keyword-only, optional
        C-contiguous, writeable, of the result's shape and dtype, not
        overlapping x.

    Returns
    -------
    ndarray, shape (N, C * sum(l*l for l in levels))

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> fastconv.spatial_pyramid_pool(x, levels=(1, 2))
    array([[15.,  5.,  7., 13., 15.]])
    """
spatial_pyramid_pool_backward.__doc__ = """Gradient of :func:`spatial_pyramid_pool` with
    respect to x: the sum, level by level in order, of the adaptive pooling
    gradients of grad_output's blocks.

    Parameters
    ----------
    grad_output : array_like, shape (N, C * sum(l*l for l in levels))
    x : array_like, shape (N, C, H, W), the forward input
    levels, mode
        As in the forward call.

    Returns
    -------
    grad_input : ndarray, x's shape
        Computed in float64 when grad_output or x is float64, else float32.
    """
