"""Every public operation of fastconv once, forward and backward, as ready-to-run
calls: the shared table of the thread, memory and sanitizer tests.

A Case builds its arrays from a seeded generator (`make(rng, dtype, mode, big)`
returns the positional arguments after the input gradient, the keyword arguments
forward and backward share, and forward-only keyword arguments), then
`run_case` calls the forward function and the backward function with a fixed
upstream gradient and returns every array either produced.  `big=True` gives
inputs with enough work for fastconv to open a team of 3 threads; `big=False`
tiny ones for loops of thousands of calls.  `modes` lists the padding modes a
case takes (each is a separate run); the hyper-parameters are deliberately
uneven (asymmetric padding, stride 2, dilation, groups, odd sizes) so edge
and tail code runs too.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

import fastconv

CONV_MODES = ("zeros", "reflect", "replicate", "circular")
PAD_MODES = ("zeros", "constant", "reflect", "replicate", "circular")
NO_MODE = (None,)


@dataclass(frozen=True)
class Case:
    name: str
    family: str
    forward: Callable
    backward: Callable
    make: Callable         # make(rng, dtype, mode, big) -> (args, kwargs, forward_kwargs)
    modes: tuple = NO_MODE


def _spatial(nd, big, wide=False):
    """nd spatial sizes (odd and uneven, so vector tails and edges are hit).  Big
    inputs are `wide` for operations with little work per element, so that they
    too get a team of 3 threads."""
    sizes = (7, 6, 5) if not big else (40001, 191, 35) if wide else (6001, 95, 17)
    if nd == 1:
        return (sizes[0],)
    if nd == 2:
        return (sizes[1], sizes[1] - 2)
    return (sizes[2], sizes[2] - 1, sizes[2] - 2)


def _x(rng, dtype, shape):
    return rng.standard_normal(shape).astype(dtype)


# ------------------------------------------------------------ convolutions ----
def _conv(nd, algorithm):
    def make(rng, dtype, mode, big):
        n = 2
        x = _x(rng, dtype, (n, 4) + _spatial(nd, big))
        w = _x(rng, dtype, (6, 2) + (3,) * nd)
        b = _x(rng, dtype, (6,))
        padding = ((2, 1),) * nd                       # asymmetric
        kw = dict(stride=2, padding=padding, dilation=(2,) + (1,) * (nd - 1), groups=2,
                  padding_mode=mode, algorithm=algorithm)
        return (x, w), kw, dict(bias=b)
    fwd = getattr(fastconv, f"conv{nd}d")
    bwd = getattr(fastconv, f"conv{nd}d_backward")
    return Case(f"conv{nd}d-{algorithm}", "conv", fwd, bwd, make, CONV_MODES)


def _conv_stride1(nd, algorithm):
    """Stride 1, 'same' padding: the kernels' contiguous-tap paths."""
    def make(rng, dtype, mode, big):
        x = _x(rng, dtype, (2, 3) + _spatial(nd, big))
        w = _x(rng, dtype, (5, 3) + (3,) * nd)
        kw = dict(padding="same", padding_mode=mode, algorithm=algorithm)
        return (x, w), kw, dict(bias=_x(rng, dtype, (5,)))
    fwd = getattr(fastconv, f"conv{nd}d")
    bwd = getattr(fastconv, f"conv{nd}d_backward")
    return Case(f"conv{nd}d-same-{algorithm}", "conv", fwd, bwd, make, CONV_MODES)


def _conv_dilated(nd, algorithm):
    """A 3x3 kernel at stride 1 dilated along H and W (Winograd's per-phase tile
    grid), asymmetric padding."""
    def make(rng, dtype, mode, big):
        x = _x(rng, dtype, (2, 3) + _spatial(nd, big))
        w = _x(rng, dtype, (5, 3) + (3,) * nd)
        dilation, padding = ((2, 3), ((2, 1), (3, 2))) if nd == 2 else \
            ((1, 2, 2), ((1, 1), (2, 1), (2, 2)))
        kw = dict(padding=padding, dilation=dilation, padding_mode=mode, algorithm=algorithm)
        return (x, w), kw, dict(bias=_x(rng, dtype, (5,)))
    fwd = getattr(fastconv, f"conv{nd}d")
    bwd = getattr(fastconv, f"conv{nd}d_backward")
    return Case(f"conv{nd}d-dilated-{algorithm}", "conv", fwd, bwd, make, CONV_MODES)


def _conv_pointwise(algorithm):
    """A 1x1 kernel, stride 1, no padding: im2col's input already is its column matrix."""
    def make(rng, dtype, mode, big):
        x = _x(rng, dtype, (2, 5) + _spatial(2, big))
        kw = dict(algorithm=algorithm)
        return (x, _x(rng, dtype, (7, 5, 1, 1))), kw, dict(bias=_x(rng, dtype, (7,)))
    return Case(f"conv2d-1x1-{algorithm}", "conv", fastconv.conv2d, fastconv.conv2d_backward,
                make)


def _conv_transpose(nd, algorithm):
    def make(rng, dtype, mode, big):
        x = _x(rng, dtype, (2, 4) + _spatial(nd, big))
        w = _x(rng, dtype, (4, 3) + (3,) * nd)
        kw = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1,
                  algorithm=algorithm)
        return (x, w), kw, dict(bias=_x(rng, dtype, (6,)))
    fwd = getattr(fastconv, f"conv_transpose{nd}d")
    bwd = getattr(fastconv, f"conv_transpose{nd}d_backward")
    return Case(f"conv_transpose{nd}d-{algorithm}", "conv_transpose", fwd, bwd, make)


def _conv_transpose_tiling(nd):
    """Kernel == stride, no padding (U-Net's up-convolution): 'gemm' runs one
    pointwise product whose rows are laid out depth-to-space."""
    def make(rng, dtype, mode, big):
        x = _x(rng, dtype, (2, 4) + _spatial(nd, big))
        kernel = (2, 3, 2)[:nd] if nd < 3 else (1, 2, 3)
        w = _x(rng, dtype, (4, 3) + kernel)
        kw = dict(stride=kernel, groups=2, algorithm="gemm")
        return (x, w), kw, dict(bias=_x(rng, dtype, (6,)))
    fwd = getattr(fastconv, f"conv_transpose{nd}d")
    bwd = getattr(fastconv, f"conv_transpose{nd}d_backward")
    return Case(f"conv_transpose{nd}d-tiling-gemm", "conv_transpose", fwd, bwd, make)


def _depthwise(stride, multiplier=2):
    def make(rng, dtype, mode, big):
        x = _x(rng, dtype, (2, 3) + _spatial(2, big))
        w = _x(rng, dtype, (3 * multiplier, 1, 3, 3))
        if stride == 1:
            kw = dict(padding="same", dilation=(1, 2), padding_mode=mode)
        else:
            kw = dict(stride=stride, padding=((1, 2), (2, 1)), dilation=(2, 1),
                      padding_mode=mode)
        return (x, w), kw, dict(bias=_x(rng, dtype, (3 * multiplier,)))
    return Case(f"depthwise_conv2d-s{stride}-m{multiplier}", "depthwise",
                fastconv.depthwise_conv2d,
                fastconv.depthwise_conv2d_backward, make, CONV_MODES)


def _separable(stride):
    def make(rng, dtype, mode, big):
        x = _x(rng, dtype, (2, 3) + _spatial(2, big, wide=True))
        dw = _x(rng, dtype, (6, 1, 3, 3))
        pw = _x(rng, dtype, (5, 6, 1, 1))
        kw = dict(depthwise_bias=_x(rng, dtype, (6,)), stride=stride, padding=(1, 2),
                  padding_mode=mode)
        return (x, dw, pw), kw, dict(pointwise_bias=_x(rng, dtype, (5,)))
    return Case(f"separable_conv2d-s{stride}", "separable", fastconv.separable_conv2d,
                fastconv.separable_conv2d_backward, make, CONV_MODES)


# ---------------------------------------------------------------- pooling ----
def _max_pool(nd, indices):
    def make(rng, dtype, mode, big):
        x = _x(rng, dtype, (2, 3) + _spatial(nd, big, wide=True))
        x.reshape(-1)[::7] = 0.0                       # ties
        kw = dict(kernel_size=3, stride=2, padding=1, dilation=(2,) + (1,) * (nd - 1),
                  ceil_mode=True)
        return (x,), kw, dict(return_indices=indices)
    return Case(f"max_pool{nd}d{'-indices' if indices else ''}", "max_pool",
                getattr(fastconv, f"max_pool{nd}d"), getattr(fastconv, f"max_pool{nd}d_backward"),
                make)


def _avg_pool(nd, count_include_pad):
    def make(rng, dtype, mode, big):
        x = _x(rng, dtype, (2, 3) + _spatial(nd, big, wide=True))
        kw = dict(kernel_size=3, stride=(2,) + (1,) * (nd - 1), padding=1, ceil_mode=True,
                  count_include_pad=count_include_pad)
        return (x,), kw, {}
    return Case(f"avg_pool{nd}d-{'incl' if count_include_pad else 'excl'}", "avg_pool",
                getattr(fastconv, f"avg_pool{nd}d"),
                getattr(fastconv, f"avg_pool{nd}d_backward"), make)


def _adaptive(kind, nd, indices=False):
    def make(rng, dtype, mode, big):
        x = _x(rng, dtype, (2, 3) + _spatial(nd, big, wide=True))
        fwd_kw = dict(output_size=(5, 3, 2)[:nd])   # backward reads it from the gradient
        if indices:
            fwd_kw["return_indices"] = True
        return (x,), {}, fwd_kw
    return Case(f"adaptive_{kind}_pool{nd}d{'-indices' if indices else ''}", "adaptive",
                getattr(fastconv, f"adaptive_{kind}_pool{nd}d"),
                getattr(fastconv, f"adaptive_{kind}_pool{nd}d_backward"), make)


def _global(kind, nd, keepdims):
    def make(rng, dtype, mode, big):
        return (_x(rng, dtype, (2, 5) + _spatial(nd, big, wide=True)),), dict(keepdims=keepdims), {}
    return Case(f"global_{kind}_pool-{nd}d{'-keep' if keepdims else ''}", "global",
                getattr(fastconv, f"global_{kind}_pool"),
                getattr(fastconv, f"global_{kind}_pool_backward"), make)


def _pyramid(mode_name):
    def make(rng, dtype, mode, big):
        return (_x(rng, dtype, (2, 3) + _spatial(2, big, wide=True)),), dict(levels=(1, 2, 3),
                                                                 mode=mode_name), {}
    return Case(f"spatial_pyramid_pool-{mode_name}", "pyramid", fastconv.spatial_pyramid_pool,
                fastconv.spatial_pyramid_pool_backward, make)


# ------------------------------------------------------ resampling and more ----
def _upsample(nd, mode_name, size=None, **kw):
    """size: (small, big) output sizes, or None for scale_factor in kw."""
    def make(rng, dtype, mode, big):
        x = _x(rng, dtype, (2, 3) + _spatial(nd, big, wide=True))
        sized = {} if size is None else dict(size=size[big])
        return (x,), dict(mode=mode_name, **sized, **kw), {}
    opts = "-".join(f"{k}{v}" for k, v in kw.items()) or "size"
    return Case(f"upsample-{nd}d-{mode_name}-{opts}", "upsample", fastconv.upsample,
                fastconv.upsample_backward, make)


def _pad(nd):
    def make(rng, dtype, mode, big):
        x = _x(rng, dtype, (2, 3) + _spatial(nd, big, wide=True))
        value = 1.5 if mode == "constant" else 0.0
        return (x, ((2, 3), (1, 0), (0, 2))[:nd]), dict(mode=mode, value=value), {}
    return Case(f"pad-{nd}d", "pad", fastconv.pad, fastconv.pad_backward, make, PAD_MODES)


def _shuffle(nd):
    def make(rng, dtype, mode, big):
        return (_x(rng, dtype, (2, 6) + _spatial(nd, big, wide=True)), 3), {}, {}
    return Case(f"channel_shuffle-{nd}d", "shuffle", fastconv.channel_shuffle,
                fastconv.channel_shuffle_backward, make)


CASES = (
    # 'winograd' only where it applies: 3x3, stride 1, 2-D or 3-D
    [_conv(nd, a) for nd in (1, 2, 3) for a in fastconv.ALGORITHMS if a != "winograd"]
    + [_conv_stride1(nd, a) for nd in (1, 2, 3) for a in fastconv.ALGORITHMS
       if a != "winograd" or nd > 1]
    + [_conv_dilated(nd, a) for nd in (2, 3) for a in fastconv.ALGORITHMS]
    + [_conv_pointwise(a) for a in fastconv.ALGORITHMS if a != "winograd"]
    + [_conv_transpose(nd, a) for nd in (1, 2, 3) for a in ("direct", "im2col")]
    + [_conv_transpose_tiling(nd) for nd in (1, 2, 3)]
    + [_depthwise(1), _depthwise(1, multiplier=1), _depthwise(2), _separable(1), _separable(2)]
    + [_max_pool(nd, indices) for nd in (1, 2, 3) for indices in (True, False)]
    + [_avg_pool(nd, incl) for nd in (1, 2, 3) for incl in (True, False)]
    + [_adaptive(kind, nd) for kind in ("avg", "max") for nd in (1, 2, 3)]
    + [_adaptive("max", nd, indices=True) for nd in (1, 2, 3)]
    + [_global(kind, nd, keep) for kind in ("avg", "max") for nd, keep in ((1, False), (3, True))]
    + [_pyramid("max"), _pyramid("avg")]
    + [_upsample(1, "nearest", scale_factor=2), _upsample(2, "nearest", size=((9, 5), (261, 130))),
       _upsample(3, "nearest", scale_factor=1.7), _upsample(2, "nearest", scale_factor=(1, 2)),
       _upsample(1, "linear", size=(11, 70001)),
       _upsample(2, "bilinear", scale_factor=1.5, align_corners=True),
       _upsample(2, "bilinear", size=((4, 13), (120, 403))),
       _upsample(3, "trilinear", scale_factor=(2, 0.5, 1.3))]
    + [_pad(nd) for nd in (1, 2, 3)]
    + [_shuffle(1), _shuffle(2)]
)
FAMILIES = tuple(dict.fromkeys(c.family for c in CASES))


def case_runs(cases=CASES):
    """(case, padding mode) for every case and each mode it takes, with pytest ids."""
    runs = [(c, m) for c in cases for m in c.modes]
    ids = [c.name if m is None else f"{c.name}-{m}" for c, m in runs]
    return runs, ids


def upstream_gradient(y):
    """A fixed, uneven upstream gradient of y's shape and dtype."""
    return np.cos(np.arange(y.size) * 0.7).reshape(y.shape).astype(y.dtype)


def _arrays(result):
    items = result if isinstance(result, tuple) else (result,)
    return [a for a in items if a is not None]


def run_case(case, dtype, mode, big=False, seed=0, arrays=None):
    """Forward then backward once; every array produced, in order.  `arrays`
    (from case.make) reuses prepared inputs instead of drawing new ones."""
    if arrays is None:
        arrays = case.make(np.random.default_rng(seed), dtype, mode, big)
    args, kw, fwd_kw = arrays
    y = case.forward(*args, **kw, **fwd_kw)
    out = _arrays(y)
    grad = upstream_gradient(out[0])
    return out + _arrays(case.backward(grad, *args, **kw))
