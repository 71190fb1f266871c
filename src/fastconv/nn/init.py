"""Weight initialisation, reproducible from a ``numpy.random.Generator``.

Every function fills ``array`` in place and returns it; ``rng`` is a
``numpy.random.Generator``, an int seed or None (fresh entropy).  Fans follow
``torch.nn.init``: for a weight of shape ``(d0, d1, *kernel)``,
``fan_in = d1 * prod(kernel)`` and ``fan_out = d0 * prod(kernel)``.

* He/Kaiming (He et al. 2015): ``std = gain / sqrt(fan)``; uniform bound
  ``sqrt(3) * std``.
* Xavier/Glorot (Glorot & Bengio 2010): ``std = gain * sqrt(2 / (fan_in + fan_out))``;
  uniform bound ``sqrt(3) * std``.
"""
import math

import numpy as np

__all__ = ["as_generator", "calculate_gain", "fan_in_and_fan_out", "kaiming_uniform_",
           "kaiming_normal_", "xavier_uniform_", "xavier_normal_", "uniform_", "normal_",
           "constant_", "zeros_", "ones_", "default_weight_", "default_bias_"]


def as_generator(rng):
    """A ``numpy.random.Generator`` from a Generator, an int seed or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got "
                    f"{type(rng).__name__}")


def calculate_gain(nonlinearity, param=None):
    """torch's recommended gain: 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for
    relu, ``sqrt(2 / (1 + slope**2))`` for leaky_relu (slope ``param``, default 0.01)."""
    linear = ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d",
              "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope ** 2))
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def fan_in_and_fan_out(shape):
    """``(fan_in, fan_out)`` of a weight of ``shape`` (at least 2-D)."""
    if len(shape) < 2:
        raise ValueError(f"fan_in_and_fan_out: a weight needs at least 2 dimensions, got "
                         f"shape {tuple(shape)}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fan(shape, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(shape)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(array, low=0.0, high=1.0, rng=None):
    """Fill with U(low, high)."""
    as_generator(rng).random(out=array, dtype=array.dtype)   # no temporary copy
    array *= high - low
    array += low
    return array


def normal_(array, mean=0.0, std=1.0, rng=None):
    """Fill with N(mean, std**2)."""
    as_generator(rng).standard_normal(out=array, dtype=array.dtype)
    array *= std
    array += mean
    return array


def constant_(array, value, rng=None):
    array[...] = value
    return array


def zeros_(array, rng=None):
    return constant_(array, 0.0)


def ones_(array, rng=None):
    return constant_(array, 1.0)


def kaiming_uniform_(array, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """He uniform: U(-b, b) with ``b = gain * sqrt(3 / fan)``, gain from ``nonlinearity``
    (``a`` is the leaky_relu slope)."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(array.shape, mode))
    return uniform_(array, -bound, bound, rng)


def kaiming_normal_(array, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """He normal: N(0, std**2) with ``std = gain / sqrt(fan)``."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(array.shape, mode))
    return normal_(array, 0.0, std, rng)


def xavier_uniform_(array, gain=1.0, rng=None):
    """Glorot uniform: U(-b, b) with ``b = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = fan_in_and_fan_out(array.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(array, -bound, bound, rng)


def xavier_normal_(array, gain=1.0, rng=None):
    """Glorot normal: N(0, std**2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = fan_in_and_fan_out(array.shape)
    return normal_(array, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def default_weight_(array, rng=None):
    """torch's default for Conv/Linear weights: ``kaiming_uniform_(a=sqrt(5))``,
    i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    return kaiming_uniform_(array, a=math.sqrt(5.0), rng=rng)


def default_bias_(array, fan_in, rng=None):
    """torch's default for biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return uniform_(array, -bound, bound, rng)
