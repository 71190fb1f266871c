"""Shapes, parameter counts, multiply-adds and receptive fields of conv layers.

Pure integer arithmetic: nothing here touches an array.  The size formulas are
the ones the operations themselves use (``fastconv._validate``), so a shape
computed here is the shape the operation returns.
"""
import math

from fastconv._validate import (check_int, conv_out_size, conv_padding,
                                conv_transpose_out_size, is_int, ntuple, pool_out_size)

__all__ = [
    "conv_macs",
    "conv_output_shape",
    "conv_params",
    "conv_transpose_macs",
    "conv_transpose_output_shape",
    "depthwise_separable_macs",
    "pool_output_shape",
    "receptive_field",
    "receptive_field_per_layer",
]


# ---------------------------------------------------------------- helpers ----
def _shape(opname, input_shape, name="input_shape", min_len=1):
    """A tuple of ints >= 1 from an int or a sequence of ints."""
    what = "(C_in, *spatial)" if min_len > 1 else "an int or a tuple of spatial sizes"
    if is_int(input_shape) and min_len == 1:
        input_shape = (input_shape,)
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError(f"{opname}: {name} must be {what}, got {input_shape!r}")
    if len(input_shape) < min_len:
        raise ValueError(f"{opname}: {name} must be {what}, got {input_shape!r}")
    return ntuple(opname, name, input_shape, len(input_shape), minimum=1)


def _check_positive(opname, out, input_shape, detail):
    if min(out) < 1:
        raise ValueError(f"{opname}: output size {out} is < 1 for input shape "
                         f"{input_shape}: {detail}")
    return out


def _conv_shape(opname, input_shape, kernel_size, stride, padding, dilation, exact):
    """Validated (spatial output shape, kernel) of a convolution."""
    size = _shape(opname, input_shape)
    n = len(size)
    kernel = ntuple(opname, "kernel_size", kernel_size, n)
    stride = ntuple(opname, "stride", stride, n)
    dilation = ntuple(opname, "dilation", dilation, n)
    before, after = conv_padding(opname, padding, n, kernel, stride, dilation)
    out = tuple(conv_out_size(i, k, s, b, a, d) for i, k, s, b, a, d
                in zip(size, kernel, stride, before, after, dilation))
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    _check_positive(opname, out, size, f"with padding {tuple(zip(before, after))} it is "
                    f"smaller than the dilated kernel {span}")
    if exact:
        for ax, (i, b, a, k, s) in enumerate(zip(size, before, after, span, stride)):
            left = (i + b + a - k) % s
            if left:
                raise ValueError(
                    f"{opname}: the filter does not tile the input on axis {ax}: input "
                    f"{i} + padding {b} + {a} - dilated kernel {k} = {i + b + a - k} is not "
                    f"a multiple of stride {s} ({left} element(s) would be left unused); "
                    "pass exact=False to floor like PyTorch")
    return out, kernel


# ------------------------------------------------------------------ shapes ----
def conv_output_shape(input_shape, kernel_size, stride=1, padding=0, dilation=1, *,
                      exact=False):
    """Spatial output shape of a convolution (``conv1d/2d/3d``).

    Parameters
    ----------
    input_shape : int or tuple of ints
        Spatial sizes only (no N, C); an int is a 1-D input.
    kernel_size, stride, dilation : int or tuple of ints, >= 1
    padding : int, tuple of ints, tuple of (before, after) pairs, 'valid' or 'same'
        As for the convolutions ('same' needs stride 1).
    exact : bool, keyword-only
        If True, raise ValueError when the filter does not tile the input, i.e.
        ``i + padding - dilated_kernel`` is not a multiple of the stride, instead
        of flooring (dropping the last elements) as PyTorch does.

    Returns
    -------
    tuple of ints
        ``o = floor((i + before + after - dilation*(k - 1) - 1) / stride) + 1`` per axis.

    Examples
    --------
    >>> conv_output_shape((7, 7), 3)
    (5, 5)
    >>> conv_output_shape((7, 7), 3, stride=2)
    (3, 3)
    >>> conv_output_shape(32, 5, padding='same')
    (32,)
    >>> conv_output_shape((7, 7), 3, stride=3)
    (2, 2)
    >>> conv_output_shape((7, 7), 3, stride=3, exact=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: conv_output_shape: the filter does not tile the input on axis 0: ...
    """
    if not isinstance(exact, bool):
        raise TypeError(f"conv_output_shape: exact must be a bool, got {exact!r}")
    return _conv_shape("conv_output_shape", input_shape, kernel_size, stride, padding,
                       dilation, exact)[0]


def conv_transpose_output_shape(input_shape, kernel_size, stride=1, padding=0,
                                output_padding=0, dilation=1):
    """Spatial output shape of a transposed convolution (``conv_transpose1d/2d/3d``).

    Parameters
    ----------
    input_shape : int or tuple of ints
        Spatial sizes only (no N, C); an int is a 1-D input.
    kernel_size, stride, dilation : int or tuple of ints, >= 1
    padding, output_padding : int or tuple of ints, >= 0
        ``output_padding`` must be smaller than ``max(stride, dilation)`` on
        every axis (PyTorch's rule).

    Returns
    -------
    tuple of ints
        ``o = (i - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1``.

    Examples
    --------
    >>> conv_transpose_output_shape((3, 3), 3, stride=2)
    (7, 7)
    >>> conv_transpose_output_shape((3, 3), 3, stride=2, output_padding=1)
    (8, 8)
    """
    opname = "conv_transpose_output_shape"
    size = _shape(opname, input_shape)
    n = len(size)
    kernel = ntuple(opname, "kernel_size", kernel_size, n)
    stride = ntuple(opname, "stride", stride, n)
    padding = ntuple(opname, "padding", padding, n, minimum=0)
    output_padding = ntuple(opname, "output_padding", output_padding, n, minimum=0)
    dilation = ntuple(opname, "dilation", dilation, n)
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= max(s, d):
            raise ValueError(f"{opname}: output_padding must be smaller than stride or "
                             f"dilation on every axis, got output_padding={output_padding}, "
                             f"stride={stride}, dilation={dilation}")
    out = tuple(conv_transpose_out_size(i, k, s, p, op, d) for i, k, s, p, op, d
                in zip(size, kernel, stride, padding, output_padding, dilation))
    return _check_positive(opname, out, size, f"padding {padding} removes more than the "
                           "transposed convolution produces")


def pool_output_shape(input_shape, kernel_size, stride=None, padding=0, dilation=1,
                      ceil_mode=False):
    """Spatial output shape of max/avg pooling, by PyTorch's rules.

    Parameters
    ----------
    input_shape : int or tuple of ints
        Spatial sizes only (no N, C); an int is a 1-D input.
    kernel_size, dilation : int or tuple of ints, >= 1
    stride : int or tuple of ints, >= 1, optional
        Defaults to ``kernel_size``.
    padding : int or tuple of ints
        Between 0 and ``kernel_size // 2`` on every axis.
    ceil_mode : bool
        Round the output size up instead of down; a last window that would
        start in the right padding is dropped.

    Returns
    -------
    tuple of ints

    Examples
    --------
    >>> pool_output_shape((112, 112), 3, stride=2, padding=1)   # ResNet stem
    (56, 56)
    >>> pool_output_shape(5, 2), pool_output_shape(5, 2, ceil_mode=True)
    ((2,), (3,))
    """
    opname = "pool_output_shape"
    size = _shape(opname, input_shape)
    n = len(size)
    kernel = ntuple(opname, "kernel_size", kernel_size, n)
    stride = kernel if stride is None else ntuple(opname, "stride", stride, n)
    padding = ntuple(opname, "padding", padding, n, minimum=0)
    dilation = ntuple(opname, "dilation", dilation, n)
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"{opname}: ceil_mode must be a bool, got {ceil_mode!r}")
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{opname}: padding must be at most half of kernel_size, got "
                         f"padding={padding}, kernel_size={kernel}")
    out = tuple(pool_out_size(i, k, s, p, d, ceil_mode) for i, k, s, p, d
                in zip(size, kernel, stride, padding, dilation))
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    return _check_positive(opname, out, size, f"with padding {padding} it is smaller than "
                           f"the dilated kernel {span}")


# ------------------------------------------------------------------ counts ----
def conv_params(c_in, c_out, kernel_size, groups=1, bias=True, *, ndim=None):
    """Number of learnable parameters of a convolution layer.

    Parameters
    ----------
    c_in, c_out : int, >= 1
        Input and output channels, both divisible by ``groups``.
    kernel_size : int or tuple of ints, >= 1
    groups : int, >= 1
    bias : bool
    ndim : int, keyword-only, optional
        Number of spatial axes an int ``kernel_size`` stands for; default 2
        (like ``nn.Conv2d(c_in, c_out, 5)``).  With a tuple, its length.

    Returns
    -------
    int
        ``c_out * (c_in / groups) * prod(kernel_size) + (c_out if bias else 0)``.

    Examples
    --------
    >>> conv_params(3, 10, 5)            # ten 5x5x3 filters plus biases
    760
    >>> conv_params(3, 10, (5,), bias=False)
    150
    """
    opname = "conv_params"
    c_in = check_int(opname, "c_in", c_in, minimum=1)
    c_out = check_int(opname, "c_out", c_out, minimum=1)
    groups = _check_groups(opname, groups, c_in, c_out)
    if not isinstance(bias, bool):
        raise TypeError(f"{opname}: bias must be a bool, got {bias!r}")
    if ndim is None:
        ndim = len(kernel_size) if isinstance(kernel_size, (tuple, list)) else 2
    ndim = check_int(opname, "ndim", ndim, minimum=1)
    kernel = ntuple(opname, "kernel_size", kernel_size, ndim)
    return c_out * (c_in // groups) * math.prod(kernel) + (c_out if bias else 0)


def _check_groups(opname, groups, c_in, c_out):
    groups = check_int(opname, "groups", groups, minimum=1)
    if c_in % groups or c_out % groups:
        raise ValueError(f"{opname}: groups={groups} must divide both the input channels "
                         f"({c_in}) and the output channels ({c_out})")
    return groups


def conv_macs(input_shape, c_out, kernel_size, stride=1, padding=0, dilation=1, groups=1):
    """Multiply-adds of one convolution on one sample.

    Parameters
    ----------
    input_shape : tuple of ints
        ``(C_in, *spatial)`` -- channels first, then the spatial sizes.
    c_out : int, >= 1
    kernel_size, stride, padding, dilation : as for :func:`conv_output_shape`
    groups : int, >= 1, dividing C_in and c_out

    Returns
    -------
    int
        ``c_out * prod(output_shape) * (C_in / groups) * prod(kernel_size)``.

    Examples
    --------
    >>> conv_macs((3, 12, 12), 256, 5)   # 5x5 conv, 12x12x3 -> 8x8x256
    1228800
    """
    opname = "conv_macs"
    c_in, *spatial = _shape(opname, input_shape, min_len=2)
    c_out = check_int(opname, "c_out", c_out, minimum=1)
    groups = _check_groups(opname, groups, c_in, c_out)
    out, kernel = _conv_shape(opname, tuple(spatial), kernel_size, stride, padding,
                              dilation, False)
    return c_out * math.prod(out) * (c_in // groups) * math.prod(kernel)


def depthwise_separable_macs(input_shape, c_out, kernel_size, stride=1, padding=0,
                             dilation=1, depth_multiplier=1):
    """Multiply-adds of a depthwise-separable convolution on one sample.

    A depthwise convolution (each of the C_in channels with its own
    ``depth_multiplier`` filters) followed by a 1x1 pointwise convolution to
    ``c_out`` channels, as ``separable_conv2d`` computes.

    Parameters
    ----------
    input_shape : tuple of ints
        ``(C_in, *spatial)``.
    c_out : int, >= 1
        Output channels of the pointwise convolution.
    kernel_size, stride, padding, dilation : as for :func:`conv_output_shape`
        Of the depthwise convolution.
    depth_multiplier : int, >= 1

    Returns
    -------
    (int, int)
        ``(depthwise_macs, pointwise_macs)``; their sum is the total.

    Examples
    --------
    >>> depthwise_separable_macs((3, 12, 12), 256, 5)   # vs 1228800 for the full conv
    (4800, 49152)
    """
    opname = "depthwise_separable_macs"
    c_in, *spatial = _shape(opname, input_shape, min_len=2)
    c_out = check_int(opname, "c_out", c_out, minimum=1)
    m = check_int(opname, "depth_multiplier", depth_multiplier, minimum=1)
    mid = c_in * m
    out, kernel = _conv_shape(opname, tuple(spatial), kernel_size, stride, padding,
                              dilation, False)
    depthwise = mid * math.prod(out) * math.prod(kernel)   # groups = C_in
    pointwise = c_out * math.prod(out) * mid               # 1x1 kernel
    return depthwise, pointwise


def conv_transpose_macs(input_shape, c_out, kernel_size, groups=1):
    """Multiply-adds of one transposed convolution on one sample.

    Every input element is multiplied by each of the ``c_out / groups`` filters
    of its group at every kernel position, so stride, padding, output_padding
    and dilation do not change the count (products that fall into the cropped
    padding are counted, as a plain scatter loop computes them).

    Parameters
    ----------
    input_shape : tuple of ints
        ``(C_in, *spatial)`` of the transposed convolution's input.
    c_out : int, >= 1
    kernel_size : int or tuple of ints, >= 1
    groups : int, >= 1, dividing C_in and c_out

    Returns
    -------
    int
        ``C_in * prod(spatial) * (c_out / groups) * prod(kernel_size)``.

    Examples
    --------
    >>> conv_transpose_macs((128, 28, 28), 64, 2)   # U-Net up-convolution, 28 -> 56
    25690112
    """
    opname = "conv_transpose_macs"
    c_in, *spatial = _shape(opname, input_shape, min_len=2)
    c_out = check_int(opname, "c_out", c_out, minimum=1)
    groups = _check_groups(opname, groups, c_in, c_out)
    kernel = ntuple(opname, "kernel_size", kernel_size, len(spatial))
    return c_in * math.prod(spatial) * (c_out // groups) * math.prod(kernel)


# -------------------------------------------------------- receptive field ----
def receptive_field_per_layer(layers):
    """Receptive field size and jump after each layer of a stack.

    Parameters
    ----------
    layers : sequence
        One entry per layer: ``(kernel, stride, dilation)``, ``(kernel, stride)``
        or a bare ``kernel`` int (stride and dilation default to 1).  Pooling
        layers count as layers with their kernel and stride.

    Returns
    -------
    list of (int, int)
        ``(size, jump)`` after each layer, starting from ``size = jump = 1``:
        ``size += (kernel - 1) * dilation * jump``, then ``jump *= stride``.
        ``size`` is in input elements along one axis; ``jump`` is the distance
        in input elements between neighbouring outputs.

    Examples
    --------
    >>> receptive_field_per_layer([3, 3, 3])
    [(3, 1), (5, 1), (7, 1)]
    >>> receptive_field_per_layer([(3, 1), (2, 2), (3, 1)])   # conv, pool, conv
    [(3, 1), (4, 2), (8, 2)]
    """
    return _receptive_fields("receptive_field_per_layer", layers)


def _receptive_fields(opname, layers):
    if not isinstance(layers, (tuple, list)):
        raise TypeError(f"{opname}: layers must be a list of (kernel, stride, dilation) "
                        f"tuples, got {layers!r}")
    size, jump, result = 1, 1, []
    for i, layer in enumerate(layers):
        name = f"layers[{i}]"
        if is_int(layer):
            layer = (layer,)
        if not isinstance(layer, (tuple, list)):
            raise TypeError(f"{opname}: {name} must be an int kernel or a (kernel, stride"
                            f"[, dilation]) tuple, got {layer!r}")
        if not 1 <= len(layer) <= 3:
            raise ValueError(f"{opname}: {name} must be kernel, (kernel, stride) or "
                             f"(kernel, stride, dilation), got {layer!r}")
        k, s, d = tuple(layer) + (1,) * (3 - len(layer))
        k = check_int(opname, f"{name} kernel", k, minimum=1)
        s = check_int(opname, f"{name} stride", s, minimum=1)
        d = check_int(opname, f"{name} dilation", d, minimum=1)
        size += (k - 1) * d * jump
        jump *= s
        result.append((size, jump))
    return result


def receptive_field(layers):
    """Receptive field ``(size, jump)`` of a whole stack of layers.

    Parameters
    ----------
    layers : sequence
        As for :func:`receptive_field_per_layer`.

    Returns
    -------
    (int, int)
        Of the last layer; ``(1, 1)`` for an empty stack.

    Examples
    --------
    >>> receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)])
    (15, 1)
    >>> receptive_field([5, 5, 5])
    (13, 1)
    """
    per_layer = _receptive_fields("receptive_field", layers)
    return per_layer[-1] if per_layer else (1, 1)
