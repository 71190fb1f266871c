"""Layers: thin wrappers that call fastconv's public operations.

Each layer keeps its forward input and calls ``fastconv.<op>_backward`` in
``backward``.  Layers with parameters take ``dtype`` (default float32) and
``rng`` (Generator, int seed or None); parameters are created lazily (see
``Parameter.lazy``) from child generators spawned at construction, so a model
built twice from the same seed has the same weights whatever is read first.
"""
import math
from fractions import Fraction

import numpy as np

import fastconv
from fastconv import analysis
from fastconv.nn import init
from fastconv.nn.module import Module, Parameter

__all__ = [
    "Identity", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
    "ConvTranspose3d", "DepthwiseConv2d", "DepthwiseSeparableConv2d", "ChannelShuffle",
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "GlobalAvgPool", "GlobalMaxPool",
    "SpatialPyramidPool", "Upsample", "Pad", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
    "Dropout", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "Flatten", "Linear",
]


def _tuple(value, n):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


def _channels(layer, input_shape, expected):
    if len(input_shape) < 1 or input_shape[0] != expected:
        raise ValueError(f"{type(layer).__name__}: input shape {tuple(input_shape)} must "
                         f"start with {expected} channels")


def _check_int(layer, name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{layer}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _make_param(shape, dtype, fill, rng):
    """A lazy Parameter filled by ``fill(array, rng=child)``.

    The child's seed is spawned from ``rng`` now; the child generator itself is
    made at each call, so creating the values is repeatable (a deep copy of an
    unmaterialised model gets the same weights as the original)."""
    seed = rng.bit_generator.seed_seq.spawn(1)[0]
    return Parameter.lazy(shape, dtype, lambda: fill(np.empty(shape, dtype),
                                                     rng=np.random.default_rng(seed)))


def _weight_and_bias(layer, weight_shape, n_out, bias, dtype, rng, weight_init, bias_init):
    """Register ``weight`` and ``bias`` (``n_out`` values) with torch's default init
    unless given."""
    rng = init.as_generator(rng)
    fan_in = init.fan_in_and_fan_out(weight_shape)[0]
    layer.weight = _make_param(weight_shape, dtype, weight_init or init.default_weight_, rng)
    if bias:
        default_bias = (lambda a, rng: init.default_bias_(a, fan_in, rng))
        layer.bias = _make_param((n_out,), dtype, bias_init or default_bias, rng)
    else:
        layer.register_parameter("bias", None)


def _opt_data(p):
    return None if p is None else p.data


def _wants_grad(p):
    return p is not None and p.requires_grad


def _weight_backward(layer, backward, grad_output, need_input, **kw):
    """Run ``backward(grad_output, x, weight, **hyper)`` -> (gx, gw, gb), skipping what
    no one needs, and accumulate the parameter gradients."""
    need_bias = _wants_grad(layer.bias)
    if not (need_input or need_bias or layer.weight.requires_grad):
        return None
    gx, gw, gb = backward(grad_output, layer._x, layer.weight.data, **layer._hyper(),
                          need_input=need_input, need_bias=need_bias, **kw)
    layer.weight.accumulate_grad(gw)
    if need_bias:
        layer.bias.accumulate_grad(gb)
    return gx


class Identity(Module):
    """``y = x``."""

    def forward(self, x):
        return x

    def backward(self, grad_output, need_input=True):
        return grad_output if need_input else None


# ------------------------------------------------------------ convolutions ----
class _ConvNd(Module):
    transposed = False

    def __init__(self, nd, in_channels, out_channels, kernel_size, stride, padding,
                 dilation, groups, bias, padding_mode, output_padding=0, *, algorithm,
                 dtype, rng, weight_init, bias_init):
        super().__init__()
        name = type(self).__name__
        self.in_channels = _check_int(name, "in_channels", in_channels)
        self.out_channels = _check_int(name, "out_channels", out_channels)
        self.groups = _check_int(name, "groups", groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        self.nd = nd
        self.kernel_size = _tuple(kernel_size, nd)
        if len(self.kernel_size) != nd:
            raise ValueError(f"{name}: kernel_size must be an int or {nd} ints, got "
                             f"{kernel_size!r}")
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.output_padding, self.padding_mode, self.algorithm = (output_padding,
                                                                  padding_mode, algorithm)
        if self.transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        _weight_and_bias(self, shape, out_channels, bias, dtype, rng, weight_init, bias_init)

    def _hyper(self):
        if self.transposed:
            return dict(stride=self.stride, padding=self.padding,
                        output_padding=self.output_padding, groups=self.groups,
                        dilation=self.dilation)
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    groups=self.groups, padding_mode=self.padding_mode)

    def _op(self):
        return f"conv_transpose{self.nd}d" if self.transposed else f"conv{self.nd}d"

    def forward(self, x):
        self._x = x
        return getattr(fastconv, self._op())(x, self.weight.data, _opt_data(self.bias),
                                             **self._hyper(), algorithm=self.algorithm)

    def backward(self, grad_output, need_input=True):
        return _weight_backward(self, getattr(fastconv, self._op() + "_backward"), grad_output,
                                need_input, algorithm=self.algorithm)

    def output_shape(self, input_shape):
        _channels(self, input_shape, self.in_channels)
        spatial = tuple(input_shape[1:])
        if self.transposed:
            out = analysis.conv_transpose_output_shape(spatial, self.kernel_size, self.stride,
                                                       self.padding, self.output_padding,
                                                       self.dilation)
        else:
            out = analysis.conv_output_shape(spatial, self.kernel_size, self.stride,
                                             self.padding, self.dilation)
        return (self.out_channels,) + out

    def macs(self, input_shape):
        if self.transposed:   # every input element meets (C_out / groups) * prod(k) weights
            return (math.prod(input_shape) * (self.out_channels // self.groups)
                    * math.prod(self.kernel_size))
        return analysis.conv_macs(tuple(input_shape), self.out_channels, self.kernel_size,
                                  self.stride, self.padding, self.dilation, self.groups)

    def receptive_step(self, input_shape):
        steps = zip(self.kernel_size, _tuple(self.stride, self.nd),
                    _tuple(self.dilation, self.nd))
        if self.transposed:   # output o reads inputs i with i*s + j*d = o + p, 0 <= j < k
            return tuple(((k - 1) * d // s + 1, Fraction(1, s), 1) for k, s, d in steps)
        return tuple(steps)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding}")
        if self.transposed and self.output_padding != 0:
            s += f", output_padding={self.output_padding}"
        if self.dilation != 1:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if not self.transposed and self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s


def _conv_class(nd):
    class Conv(_ConvNd):
        __doc__ = f"""{nd}-D convolution, ``torch.nn.Conv{nd}d``'s arguments and key names.

        ``weight`` (out_channels, in_channels / groups, *kernel_size), ``bias``
        (out_channels,); forward is ``fastconv.conv{nd}d``.  ``weight_init`` and
        ``bias_init`` are ``f(array, rng=generator)`` (default: torch's default,
        U(+-1/sqrt(fan_in)) for both).
        """

        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                     dilation=1, groups=1, bias=True, padding_mode="zeros", *,
                     algorithm="auto", dtype=np.float32, rng=None, weight_init=None,
                     bias_init=None):
            super().__init__(nd, in_channels, out_channels, kernel_size, stride, padding,
                             dilation, groups, bias, padding_mode, algorithm=algorithm,
                             dtype=dtype, rng=rng, weight_init=weight_init,
                             bias_init=bias_init)

    Conv.__name__ = Conv.__qualname__ = f"Conv{nd}d"
    return Conv


def _conv_transpose_class(nd):
    class ConvTranspose(_ConvNd):
        __doc__ = f"""{nd}-D transposed convolution, ``torch.nn.ConvTranspose{nd}d``'s
        arguments (without padding_mode) and key names.

        ``weight`` (in_channels, out_channels / groups, *kernel_size); forward is
        ``fastconv.conv_transpose{nd}d``.
        """
        transposed = True

        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                     output_padding=0, groups=1, bias=True, dilation=1, *,
                     algorithm="auto", dtype=np.float32, rng=None, weight_init=None,
                     bias_init=None):
            super().__init__(nd, in_channels, out_channels, kernel_size, stride, padding,
                             dilation, groups, bias, "zeros", output_padding,
                             algorithm=algorithm, dtype=dtype, rng=rng,
                             weight_init=weight_init, bias_init=bias_init)

    ConvTranspose.__name__ = ConvTranspose.__qualname__ = f"ConvTranspose{nd}d"
    return ConvTranspose


Conv1d, Conv2d, Conv3d = (_conv_class(nd) for nd in (1, 2, 3))
ConvTranspose1d, ConvTranspose2d, ConvTranspose3d = (_conv_transpose_class(nd)
                                                     for nd in (1, 2, 3))


class DepthwiseConv2d(Module):
    """Depthwise 2-D convolution (``fastconv.depthwise_conv2d``): each of the
    ``in_channels`` channels convolved with its own ``depth_multiplier`` filters.

    Same keys and shapes as ``torch.nn.Conv2d(C, C * m, k, groups=C)``: ``weight``
    (C * m, 1, kH, kW), ``bias`` (C * m,).
    """

    def __init__(self, in_channels, kernel_size, stride=1, padding=0, dilation=1,
                 depth_multiplier=1, bias=True, padding_mode="zeros", *, dtype=np.float32,
                 rng=None, weight_init=None, bias_init=None):
        super().__init__()
        self.in_channels = _check_int("DepthwiseConv2d", "in_channels", in_channels)
        m = _check_int("DepthwiseConv2d", "depth_multiplier", depth_multiplier)
        self.out_channels = in_channels * m
        self.kernel_size = _tuple(kernel_size, 2)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.padding_mode = padding_mode
        _weight_and_bias(self, (self.out_channels, 1) + self.kernel_size, self.out_channels,
                         bias, dtype, rng, weight_init, bias_init)

    def _hyper(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    padding_mode=self.padding_mode)

    def forward(self, x):
        self._x = x
        return fastconv.depthwise_conv2d(x, self.weight.data, _opt_data(self.bias),
                                         **self._hyper())

    def backward(self, grad_output, need_input=True):
        return _weight_backward(self, fastconv.depthwise_conv2d_backward, grad_output,
                                need_input)

    def output_shape(self, input_shape):
        _channels(self, input_shape, self.in_channels)
        return (self.out_channels,) + analysis.conv_output_shape(
            tuple(input_shape[1:]), self.kernel_size, self.stride, self.padding, self.dilation)

    def macs(self, input_shape):
        return analysis.conv_macs(tuple(input_shape), self.out_channels, self.kernel_size,
                                  self.stride, self.padding, self.dilation, self.in_channels)

    def receptive_step(self, input_shape):
        return tuple(zip(self.kernel_size, _tuple(self.stride, 2), _tuple(self.dilation, 2)))

    def extra_repr(self):
        return (f"{self.in_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, depth_multiplier="
                f"{self.out_channels // self.in_channels}")


class DepthwiseSeparableConv2d(Module):
    """Depthwise then 1x1 convolution, fused (``fastconv.separable_conv2d``).

    Children ``depthwise`` (:class:`DepthwiseConv2d`) and ``pointwise``
    (1x1 :class:`Conv2d`) hold the parameters, so the keys are
    ``depthwise.weight``, ``depthwise.bias``, ``pointwise.weight``,
    ``pointwise.bias``.  stride, padding, dilation and padding_mode belong to the
    depthwise step.  There is no normalisation or activation between the two
    (MobileNet's blocks, which have them, use the two layers separately).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, depth_multiplier=1, bias=True, padding_mode="zeros", *,
                 dtype=np.float32, rng=None):
        super().__init__()
        rng = init.as_generator(rng)
        self.depthwise = DepthwiseConv2d(in_channels, kernel_size, stride, padding, dilation,
                                         depth_multiplier, bias, padding_mode, dtype=dtype,
                                         rng=rng)
        self.pointwise = Conv2d(self.depthwise.out_channels, out_channels, 1, bias=bias,
                                dtype=dtype, rng=rng)

    def forward(self, x):
        self._x = x
        dw, pw = self.depthwise, self.pointwise
        return fastconv.separable_conv2d(x, dw.weight.data, pw.weight.data, _opt_data(dw.bias),
                                         _opt_data(pw.bias), **dw._hyper())

    def backward(self, grad_output, need_input=True):
        dw, pw = self.depthwise, self.pointwise
        if not (need_input or self.has_trainable()):
            return None
        need_bias = _wants_grad(dw.bias) or _wants_grad(pw.bias)
        gx, gdw, gpw, gdb, gpb = fastconv.separable_conv2d_backward(
            grad_output, self._x, dw.weight.data, pw.weight.data, _opt_data(dw.bias),
            **dw._hyper(), need_input=need_input, need_bias=need_bias)
        dw.weight.accumulate_grad(gdw)
        pw.weight.accumulate_grad(gpw)
        for p, g in ((dw.bias, gdb), (pw.bias, gpb)):
            if _wants_grad(p):
                p.accumulate_grad(g)
        return gx

    def output_shape(self, input_shape):
        return self.pointwise.output_shape(self.depthwise.output_shape(input_shape))

    def macs(self, input_shape):
        dw = self.depthwise
        return sum(analysis.depthwise_separable_macs(
            tuple(input_shape), self.pointwise.out_channels, dw.kernel_size, dw.stride,
            dw.padding, dw.dilation, dw.out_channels // dw.in_channels))

    def receptive_step(self, input_shape):
        return self.depthwise.receptive_step(input_shape)


# ------------------------------------------------------- parameter-free ops ----
class _Functional(Module):
    """A parameter-free layer: ``fastconv.<op>(x, **kw)`` and its ``<op>_backward``."""
    op = None

    def __init__(self, **kw):
        super().__init__()
        self.kw = kw

    def forward(self, x):
        self._x = x
        return getattr(fastconv, self.op)(x, **self.kw)

    def backward(self, grad_output, need_input=True):
        if not need_input:
            return None
        return getattr(fastconv, self.op + "_backward")(grad_output, self._x, **self.kw)

    def extra_repr(self):
        return ", ".join(f"{k}={v!r}" for k, v in self.kw.items())


class ChannelShuffle(_Functional):
    """ShuffleNet's channel shuffle (``fastconv.channel_shuffle``), ``nn.ChannelShuffle``."""
    op = "channel_shuffle"

    def __init__(self, groups):
        super().__init__(groups=groups)

    def output_shape(self, input_shape):
        if input_shape[0] % self.kw["groups"]:
            raise ValueError(f"ChannelShuffle: groups={self.kw['groups']} must divide the "
                             f"channels of input shape {tuple(input_shape)}")
        return tuple(input_shape)


class _WindowPool(_Functional):
    def output_shape(self, input_shape):
        kw = self.kw
        return (input_shape[0],) + analysis.pool_output_shape(
            tuple(input_shape[1:]), kw["kernel_size"], kw["stride"], kw["padding"],
            kw.get("dilation", 1), kw["ceil_mode"])

    def receptive_step(self, input_shape):
        n = len(input_shape) - 1
        k = _tuple(self.kw["kernel_size"], n)
        s = k if self.kw["stride"] is None else _tuple(self.kw["stride"], n)
        return tuple(zip(k, s, _tuple(self.kw.get("dilation", 1), n)))


def _max_pool_class(nd):
    class MaxPool(_WindowPool):
        __doc__ = f"``torch.nn.MaxPool{nd}d`` (no return_indices) on ``fastconv.max_pool{nd}d``."
        op = f"max_pool{nd}d"

        def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
            super().__init__(kernel_size=kernel_size, stride=stride, padding=padding,
                             dilation=dilation, ceil_mode=ceil_mode)

    MaxPool.__name__ = MaxPool.__qualname__ = f"MaxPool{nd}d"
    return MaxPool


def _avg_pool_class(nd):
    class AvgPool(_WindowPool):
        __doc__ = f"``torch.nn.AvgPool{nd}d`` on ``fastconv.avg_pool{nd}d``."
        op = f"avg_pool{nd}d"

        def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                     count_include_pad=True):
            super().__init__(kernel_size=kernel_size, stride=stride, padding=padding,
                             ceil_mode=ceil_mode, count_include_pad=count_include_pad)

    AvgPool.__name__ = AvgPool.__qualname__ = f"AvgPool{nd}d"
    return AvgPool


def _adaptive_class(kind, nd):
    class Adaptive(_Functional):
        __doc__ = (f"``torch.nn.Adaptive{kind.title()}Pool{nd}d`` on "
                   f"``fastconv.adaptive_{kind}_pool{nd}d`` (no return_indices).")
        op = f"adaptive_{kind}_pool{nd}d"

        def __init__(self, output_size):
            super().__init__(output_size=output_size)

        def backward(self, grad_output, need_input=True):
            if not need_input:
                return None
            return getattr(fastconv, self.op + "_backward")(grad_output, self._x)

        def output_shape(self, input_shape):
            size = _tuple(self.kw["output_size"], nd)
            return (input_shape[0],) + tuple(i if o is None else o
                                             for o, i in zip(size, input_shape[1:]))

        def receptive_step(self, input_shape):
            # bin o of n over i cells is [floor(o*i/n), ceil((o+1)*i/n)): the widest bin
            # is the kernel, i/n the (possibly fractional) stride
            out = self.output_shape(input_shape)[1:]
            return tuple((max(-(-(o + 1) * i // n) - o * i // n for o in range(n)),
                          Fraction(i, n), 1) for i, n in zip(input_shape[1:], out))

    Adaptive.__name__ = Adaptive.__qualname__ = f"Adaptive{kind.title()}Pool{nd}d"
    return Adaptive


MaxPool1d, MaxPool2d, MaxPool3d = (_max_pool_class(nd) for nd in (1, 2, 3))
AvgPool1d, AvgPool2d, AvgPool3d = (_avg_pool_class(nd) for nd in (1, 2, 3))
AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d = (_adaptive_class("avg", nd)
                                                           for nd in (1, 2, 3))
AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d = (_adaptive_class("max", nd)
                                                           for nd in (1, 2, 3))


def _whole_input(input_shape):
    return tuple((i, i, 1) for i in input_shape[1:])


class GlobalAvgPool(_Functional):
    """Mean over all spatial axes: (N, C, *spatial) -> (N, C), or (N, C, 1, ...) with
    ``keepdims`` (``fastconv.global_avg_pool``)."""
    op = "global_avg_pool"

    def __init__(self, keepdims=False):
        super().__init__(keepdims=keepdims)

    def output_shape(self, input_shape):
        return (input_shape[0],) + ((1,) * (len(input_shape) - 1) if self.kw["keepdims"]
                                    else ())

    receptive_step = staticmethod(_whole_input)


class GlobalMaxPool(GlobalAvgPool):
    """Maximum over all spatial axes (``fastconv.global_max_pool``)."""
    op = "global_max_pool"


class SpatialPyramidPool(_Functional):
    """``fastconv.spatial_pyramid_pool``: (N, C, H, W) -> (N, C * sum(l * l))."""
    op = "spatial_pyramid_pool"

    def __init__(self, levels=(1, 2, 4), mode="max"):
        super().__init__(levels=tuple(levels), mode=mode)

    def output_shape(self, input_shape):
        return (input_shape[0] * sum(lv * lv for lv in self.kw["levels"]),)

    receptive_step = staticmethod(_whole_input)


class Upsample(_Functional):
    """``torch.nn.Upsample`` on ``fastconv.upsample`` (modes nearest, linear,
    bilinear, trilinear)."""
    op = "upsample"

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        super().__init__(size=size, scale_factor=scale_factor, mode=mode,
                         align_corners=align_corners)

    def output_shape(self, input_shape):
        n = len(input_shape) - 1
        if self.kw["size"] is not None:
            return (input_shape[0],) + _tuple(self.kw["size"], n)
        return (input_shape[0],) + tuple(math.floor(i * f) for i, f in
                                         zip(input_shape[1:], _tuple(self.kw["scale_factor"],
                                                                     n)))

    def receptive_step(self, input_shape):
        kernel = 1 if self.kw["mode"] == "nearest" else 2   # linear modes read 2 neighbours
        out = self.output_shape(input_shape)[1:]
        return tuple((kernel, Fraction(i, o), 1) for i, o in zip(input_shape[1:], out))


class Pad(_Functional):
    """``fastconv.pad`` as a layer: ``pad`` is an int or one int or (before, after)
    pair per spatial axis, first axis first; modes zeros, constant, reflect,
    replicate, circular."""
    op = "pad"

    def __init__(self, pad, mode="zeros", value=0.0):
        super().__init__(pad=pad, mode=mode, value=value)

    def output_shape(self, input_shape):
        pairs = [_tuple(p, 2) for p in _tuple(self.kw["pad"], len(input_shape) - 1)]
        return (input_shape[0],) + tuple(i + b + a for i, (b, a) in
                                         zip(input_shape[1:], pairs))


# ------------------------------------------------------------- activations ----
class _Elementwise(Module):
    """Keeps what ``backward`` needs, computes ``grad * f'(x)``."""

    def backward(self, grad_output, need_input=True):
        return self._grad(grad_output) if need_input else None


class ReLU(_Elementwise):
    """``max(x, 0)``; the gradient at 0 is 0 (as torch)."""

    def forward(self, x):
        self._positive = x > 0
        return np.maximum(x, 0)

    def _grad(self, g):
        return g * self._positive


class LeakyReLU(_Elementwise):
    """``x`` for x > 0, ``negative_slope * x`` otherwise."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        self._positive = x > 0
        return np.where(self._positive, x, x * x.dtype.type(self.negative_slope))

    def _grad(self, g):
        return np.where(self._positive, g, g * g.dtype.type(self.negative_slope))

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(_Elementwise):
    """``1 / (1 + exp(-x))``, evaluated without overflow for any x."""

    def forward(self, x):
        e = np.exp(-np.abs(x))                       # in (0, 1]: never overflows
        self._y = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self._y

    def _grad(self, g):
        return g * self._y * (1 - self._y)


class Tanh(_Elementwise):

    def forward(self, x):
        self._y = np.tanh(x)
        return self._y

    def _grad(self, g):
        return g * (1 - self._y * self._y)


class Dropout(_Elementwise):
    """In training, zero each element with probability ``p`` and scale the rest by
    ``1 / (1 - p)``; identity in eval mode.

    The mask comes from ``self.rng``, a Generator seeded from ``rng`` at
    construction, so a model built from a seed drops the same elements every
    run; assign ``layer.rng = numpy.random.default_rng(s)`` to replay a mask.
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p!r}")
        self.p = float(p)
        self.rng = init.as_generator(rng).spawn(1)[0]

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self._scale = None
            return x
        keep = self.rng.random(np.shape(x)) >= self.p
        scale = 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)
        self._scale = keep * np.asarray(scale, dtype=x.dtype)
        return x * self._scale

    def _grad(self, g):
        return g if self._scale is None else g * self._scale

    def extra_repr(self):
        return f"p={self.p}"


# --------------------------------------------------------- normalization ----
class _BatchNorm(Module):
    ranks = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, *, dtype=np.float32):
        super().__init__()
        self.num_features = _check_int(type(self).__name__, "num_features", num_features)
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype))
            self.bias = Parameter(np.zeros(num_features, dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype))
            self.register_buffer("num_batches_tracked", np.array(0, np.int64))

    def _check(self, x):
        if x.ndim not in self.ranks or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: input must have rank "
                             f"{' or '.join(map(str, self.ranks))} and {self.num_features} "
                             f"channels on axis 1, got shape {x.shape}")

    def forward(self, x):
        x = np.asarray(x)
        self._check(x)
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, -1) + (1,) * (x.ndim - 2)
        self._batch_stats = self.training or not self.track_running_stats
        if self._batch_stats:
            count = x.size // self.num_features
            if self.training and count <= 1:
                raise ValueError(f"{type(self).__name__}: training needs more than one value "
                                 f"per channel, got input shape {x.shape}")
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            if self.training and self.track_running_stats:
                self._update_running(mean, var * (count / (count - 1)))
        else:
            mean, var = self.running_mean, self.running_var
        self._invstd = (1 / np.sqrt(var + self.eps)).astype(x.dtype, copy=False)
        self._xhat = (x - mean.reshape(bshape)) * self._invstd.reshape(bshape)
        self._axes, self._bshape = axes, bshape
        if not self.affine:
            return self._xhat
        return self._xhat * self.weight.data.reshape(bshape) + self.bias.data.reshape(bshape)

    def _update_running(self, mean, unbiased_var):
        """torch's rule: ``running = (1 - f) * running + f * batch`` with f = momentum,
        or ``1 / num_batches_tracked`` (cumulative average) when momentum is None."""
        self.num_batches_tracked += 1
        f = (1.0 / self.num_batches_tracked if self.momentum is None else self.momentum)
        for running, batch in ((self.running_mean, mean), (self.running_var, unbiased_var)):
            running *= 1 - f
            running += f * batch

    def backward(self, grad_output, need_input=True):
        axes, bshape, xhat = self._axes, self._bshape, self._xhat
        if self.affine:
            self.weight.accumulate_grad((grad_output * xhat).sum(axis=axes))
            self.bias.accumulate_grad(grad_output.sum(axis=axes))
        if not need_input:
            return None
        g = grad_output * self.weight.data.reshape(bshape) if self.affine else grad_output
        if self._batch_stats:   # mean and variance depend on x too
            g = (g - g.mean(axis=axes).reshape(bshape)
                 - xhat * (g * xhat).mean(axis=axes).reshape(bshape))
        return g * self._invstd.reshape(bshape)

    def output_shape(self, input_shape):
        _channels(self, input_shape, self.num_features)
        return tuple(input_shape)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L), torch's semantics and keys."""
    ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W), torch's semantics and keys.

    Training normalises with the batch mean and biased variance and updates
    ``running_mean``/``running_var`` (unbiased variance) with ``momentum``;
    eval normalises with the running statistics.
    """
    ranks = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W), torch's semantics and keys."""
    ranks = (5,)


# ------------------------------------------------------------------ dense ----
class Flatten(Module):
    """Flatten axes ``start_dim`` .. ``end_dim`` (torch's ``nn.Flatten``)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def _flat_shape(self, shape):
        start = self.start_dim % len(shape)
        end = self.end_dim % len(shape)
        return shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]

    def forward(self, x):
        self._shape = np.shape(x)
        return np.reshape(x, self._flat_shape(self._shape))

    def backward(self, grad_output, need_input=True):
        return np.reshape(grad_output, self._shape) if need_input else None

    def output_shape(self, input_shape):
        return self._flat_shape((1,) + tuple(input_shape))[1:]


class Linear(Module):
    """``y = x @ weight.T + bias`` on the last axis; ``weight`` (out_features,
    in_features), torch's default init and keys."""

    def __init__(self, in_features, out_features, bias=True, *, dtype=np.float32, rng=None,
                 weight_init=None, bias_init=None):
        super().__init__()
        self.in_features = _check_int("Linear", "in_features", in_features)
        self.out_features = _check_int("Linear", "out_features", out_features)
        _weight_and_bias(self, (out_features, in_features), out_features, bias, dtype, rng,
                         weight_init, bias_init)

    def forward(self, x):
        x = np.asarray(x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: input shape {x.shape} must end with in_features="
                             f"{self.in_features}")
        self._x = x
        y = x @ self.weight.data.T
        return y if self.bias is None else y + self.bias.data

    def backward(self, grad_output, need_input=True):
        x2 = self._x.reshape(-1, self.in_features)
        g2 = grad_output.reshape(-1, self.out_features)
        if self.weight.requires_grad:
            self.weight.accumulate_grad(g2.T @ x2)
        if _wants_grad(self.bias):
            self.bias.accumulate_grad(g2.sum(axis=0))
        return grad_output @ self.weight.data if need_input else None

    def output_shape(self, input_shape):
        if input_shape[-1] != self.in_features:
            raise ValueError(f"Linear: input shape {tuple(input_shape)} must end with "
                             f"in_features={self.in_features}")
        return tuple(input_shape[:-1]) + (self.out_features,)

    def macs(self, input_shape):
        return math.prod(input_shape[:-1]) * self.in_features * self.out_features

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
