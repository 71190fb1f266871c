"""Float32 backward results agree with float64 ones, for every backward that
tests/test_conv_backward.py does not already cover (conv1d/2d/3d are there).

Each gradient element is a sum of at most K products of O(1) terms, whose
float32 rounding error grows like eps * sqrt(K) (random rounding); the
tolerance is 16 * eps32 * sqrt(K) * max|gradient|.  K is an upper bound taken
from the call (the output positions or taps that can reach one element), so
a wrong routing, count or weight (errors of order 1) still fails.
"""
import math

import numpy as np
import pytest

import fastconv


def _arrays(rng, *shapes):
    """Distinct-valued float64 arrays (a shuffled ramp plus noise), so that no
    max-pooling window has two maxima that float32 rounding could reorder."""
    out = []
    for shape in shapes:
        size = math.prod(shape)
        ramp = rng.permutation(size) / max(size, 1) * 4 - 2
        out.append((ramp + 1e-3 * rng.standard_normal(size)).reshape(shape))
    return out


def _plane(shape):
    return math.prod(shape[2:])


# name -> (input shapes, forward(*arrays), backward(grad_output, *arrays),
#          reduction bound K(x shape, output shape))
def _op(shapes, fwd, bwd, k=lambda xs, ys: max(_plane(ys) // _plane(xs), 1) * 9):
    return shapes, fwd, bwd, k


F = fastconv
CASES = {
    "conv_transpose1d": _op(
        [(2, 4, 9), (4, 3, 3), (3,)],
        lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
        lambda g, x, w, b: F.conv_transpose1d_backward(g, x, w, stride=2, padding=1,
                                                      output_padding=1),
        lambda xs, ys: ys[1] * 3 * math.prod(ys[2:]) * xs[0]),
    "conv_transpose2d": _op(
        [(2, 4, 5, 6), (4, 2, 3, 2), (4,)],
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(2, 1), groups=2, dilation=(1, 2)),
        lambda g, x, w, b: F.conv_transpose2d_backward(g, x, w, stride=(2, 1), groups=2,
                                                      dilation=(1, 2)),
        lambda xs, ys: ys[1] * 6 * math.prod(ys[2:]) * xs[0]),
    "conv_transpose3d": _op(
        [(1, 3, 3, 4, 4), (3, 2, 2, 2, 2), (2,)],
        lambda x, w, b: F.conv_transpose3d(x, w, b, stride=2),
        lambda g, x, w, b: F.conv_transpose3d_backward(g, x, w, stride=2),
        lambda xs, ys: ys[1] * 8 * math.prod(ys[2:]) * xs[0]),
    "depthwise_conv2d": _op(
        [(2, 3, 9, 8), (6, 1, 3, 3)],
        lambda x, w: F.depthwise_conv2d(x, w, padding=1, padding_mode="reflect"),
        lambda g, x, w: F.depthwise_conv2d_backward(g, x, w, padding=1,
                                                    padding_mode="reflect"),
        lambda xs, ys: math.prod(ys) // ys[1]),
    "separable_conv2d": _op(
        [(2, 3, 9, 8), (6, 1, 3, 3), (5, 6, 1, 1), (6,)],
        lambda x, w, pw, b: F.separable_conv2d(x, w, pw, b, stride=2, padding=1,
                                               padding_mode="circular"),
        lambda g, x, w, pw, b: F.separable_conv2d_backward(g, x, w, pw, b, stride=2,
                                                           padding=1,
                                                           padding_mode="circular"),
        lambda xs, ys: math.prod(ys) // ys[1] * 9 * 6),
    "max_pool1d": _op(
        [(2, 3, 17)],
        lambda x: F.max_pool1d(x, 3, 2, padding=1, dilation=2, ceil_mode=True),
        lambda g, x: F.max_pool1d_backward(g, x, 3, 2, padding=1, dilation=2,
                                           ceil_mode=True)),
    "max_pool2d": _op(
        [(2, 3, 11, 10)],
        lambda x: F.max_pool2d(x, 3, 2, padding=1),
        lambda g, x: F.max_pool2d_backward(g, x, 3, 2, padding=1)),
    "max_pool3d": _op(
        [(1, 2, 5, 6, 7)],
        lambda x: F.max_pool3d(x, 2, 1),
        lambda g, x: F.max_pool3d_backward(g, x, 2, 1)),
    "avg_pool1d": _op(
        [(2, 3, 17)],
        lambda x: F.avg_pool1d(x, 4, 3, padding=2, ceil_mode=True, count_include_pad=False),
        lambda g, x: F.avg_pool1d_backward(g, x, 4, 3, padding=2, ceil_mode=True,
                                           count_include_pad=False)),
    "avg_pool2d": _op(
        [(2, 3, 11, 10)],
        lambda x: F.avg_pool2d(x, 3, 1, padding=1),
        lambda g, x: F.avg_pool2d_backward(g, x, 3, 1, padding=1)),
    "avg_pool3d": _op(
        [(1, 2, 5, 6, 7)],
        lambda x: F.avg_pool3d(x, (2, 3, 3), (1, 2, 2), padding=1),
        lambda g, x: F.avg_pool3d_backward(g, x, (2, 3, 3), (1, 2, 2), padding=1)),
    "adaptive_avg_pool1d": _op(
        [(2, 3, 17)],
        lambda x: F.adaptive_avg_pool1d(x, 5),
        lambda g, x: F.adaptive_avg_pool1d_backward(g, x)),
    "adaptive_avg_pool2d": _op(
        [(2, 3, 11, 10)],
        lambda x: F.adaptive_avg_pool2d(x, (4, 3)),
        lambda g, x: F.adaptive_avg_pool2d_backward(g, x)),
    "adaptive_avg_pool3d": _op(
        [(1, 2, 5, 6, 7)],
        lambda x: F.adaptive_avg_pool3d(x, (2, 4, 3)),
        lambda g, x: F.adaptive_avg_pool3d_backward(g, x)),
    "adaptive_max_pool1d": _op(
        [(2, 3, 17)],
        lambda x: F.adaptive_max_pool1d(x, 5),
        lambda g, x: F.adaptive_max_pool1d_backward(g, x)),
    "adaptive_max_pool2d": _op(
        [(2, 3, 11, 10)],
        lambda x: F.adaptive_max_pool2d(x, (4, 3)),
        lambda g, x: F.adaptive_max_pool2d_backward(g, x)),
    "adaptive_max_pool3d": _op(
        [(1, 2, 5, 6, 7)],
        lambda x: F.adaptive_max_pool3d(x, (2, 4, 3)),
        lambda g, x: F.adaptive_max_pool3d_backward(g, x)),
    "global_avg_pool": _op(
        [(2, 5, 7, 6)],
        lambda x: F.global_avg_pool(x, keepdims=True),
        lambda g, x: F.global_avg_pool_backward(g, x, keepdims=True)),
    "global_max_pool": _op(
        [(2, 5, 7, 6)],
        lambda x: F.global_max_pool(x),
        lambda g, x: F.global_max_pool_backward(g, x)),
    "spatial_pyramid_pool_max": _op(
        [(2, 3, 13, 11)],
        lambda x: F.spatial_pyramid_pool(x, (1, 2, 4), mode="max"),
        lambda g, x: F.spatial_pyramid_pool_backward(g, x, (1, 2, 4), mode="max"),
        lambda xs, ys: 3),
    "spatial_pyramid_pool_avg": _op(
        [(2, 3, 13, 11)],
        lambda x: F.spatial_pyramid_pool(x, (1, 2, 4), mode="avg"),
        lambda g, x: F.spatial_pyramid_pool_backward(g, x, (1, 2, 4), mode="avg"),
        lambda xs, ys: 3),
    "upsample_nearest": _op(
        [(2, 3, 5, 6)],
        lambda x: F.upsample(x, scale_factor=2.5, mode="nearest"),
        lambda g, x: F.upsample_backward(g, x, scale_factor=2.5, mode="nearest")),
    "upsample_linear": _op(
        [(2, 3, 7)],
        lambda x: F.upsample(x, size=19, mode="linear", align_corners=True),
        lambda g, x: F.upsample_backward(g, x, size=19, mode="linear", align_corners=True)),
    "upsample_bilinear": _op(
        [(2, 3, 5, 6)],
        lambda x: F.upsample(x, scale_factor=(3, 2), mode="bilinear"),
        lambda g, x: F.upsample_backward(g, x, scale_factor=(3, 2), mode="bilinear")),
    "upsample_trilinear": _op(
        [(1, 2, 3, 4, 5)],
        lambda x: F.upsample(x, size=(5, 7, 9), mode="trilinear", align_corners=False),
        lambda g, x: F.upsample_backward(g, x, size=(5, 7, 9), mode="trilinear",
                                         align_corners=False)),
    "pad_reflect": _op(
        [(2, 3, 6, 7)],
        lambda x: F.pad(x, ((2, 3), (1, 4)), mode="reflect"),
        lambda g, x: F.pad_backward(g, x, ((2, 3), (1, 4)), mode="reflect")),
    "pad_replicate": _op(
        [(2, 3, 4, 5, 6)],
        lambda x: F.pad(x, ((2, 1), (0, 3), (1, 1)), mode="replicate"),
        lambda g, x: F.pad_backward(g, x, ((2, 1), (0, 3), (1, 1)), mode="replicate"),
        lambda xs, ys: 16),
    "pad_circular": _op(
        [(2, 3, 9)],
        lambda x: F.pad(x, ((4, 3),), mode="circular"),
        lambda g, x: F.pad_backward(g, x, ((4, 3),), mode="circular")),
    "channel_shuffle": _op(
        [(2, 6, 4, 3)],
        lambda x: F.channel_shuffle(x, 3),
        lambda g, x: F.channel_shuffle_backward(g, x, 3),
        lambda xs, ys: 1),
}


def _as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("name", sorted(CASES))
def test_float32_agrees_with_float64(name):
    shapes, fwd, bwd, bound = CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    args64 = _arrays(rng, *shapes)
    y = fwd(*args64)
    (g64,) = _arrays(rng, y.shape)
    ref = _as_tuple(bwd(g64, *args64))
    got = _as_tuple(bwd(g64.astype(np.float32), *(a.astype(np.float32) for a in args64)))
    k = bound(shapes[0], y.shape)
    assert len(got) == len(ref)
    for i, (a, r) in enumerate(zip(got, ref)):
        if r is None:
            assert a is None, f"{name} gradient {i}"
            continue
        assert a.dtype == np.float32, f"{name} gradient {i}: {a.dtype}"
        assert a.shape == r.shape, f"{name} gradient {i}: {a.shape} != {r.shape}"
        assert np.abs(r).max() > 0, f"{name} gradient {i} is all zero"
        atol = 16 * np.finfo(np.float32).eps * math.sqrt(k + 1) * np.abs(r).max()
        np.testing.assert_allclose(a, r, rtol=0, atol=atol,
                                   err_msg=f"{name} gradient {i}, K={k}")
