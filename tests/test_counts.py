"""Multiply-add counts of fastconv.analysis against the multiplications that plain
loops actually do, and against the formulas of the literature.

Each counting loop below computes its convolution (checked against fastconv, so
that what is counted is the real operation) and counts every product it forms,
taps on zero padding included, as a naive loop over the padded input does.
"""
import itertools
import math

import numpy as np
import pytest

import fastconv
from fastconv.analysis import conv_macs, conv_transpose_macs, depthwise_separable_macs


def _pairs(value, nd):
    return [value] * nd if isinstance(value, int) else list(value)


def counted_conv(x, w, stride=1, padding=0, dilation=1, groups=1):
    """(y, products) of a cross-correlation of x (C_in, *spatial) with
    w (C_out, C_in / groups, *kernel): for each group, output position and
    kernel tap, the (C_out/groups, C_in/groups) products of that tap."""
    c_in, *size = x.shape
    c_out, c_group, *kernel = w.shape
    nd = len(size)
    stride, dilation = _pairs(stride, nd), _pairs(dilation, nd)
    pads = [p if isinstance(p, tuple) else (p, p) for p in _pairs(padding, nd)]
    xp = np.pad(x, [(0, 0)] + pads)
    out = [(i + b + a - d * (k - 1) - 1) // s + 1
           for i, (b, a), k, s, d in zip(size, pads, kernel, stride, dilation)]
    y = np.zeros((c_out, *out))
    o_group = c_out // groups
    products = 0
    for g, pos, tap in itertools.product(range(groups), np.ndindex(*out), np.ndindex(*kernel)):
        src = tuple(p * s + t * d for p, s, t, d in zip(pos, stride, tap, dilation))
        taps = w[(slice(g * o_group, (g + 1) * o_group), slice(None), *tap)]
        prod = taps * xp[(slice(g * c_group, (g + 1) * c_group), *src)]
        y[(slice(g * o_group, (g + 1) * o_group), *pos)] += prod.sum(axis=1)
        products += prod.size
    return y, products


def counted_conv_transpose(x, w, stride=1, padding=0, output_padding=0, groups=1):
    """(y, products) of a transposed convolution of x (C_in, *spatial) with
    w (C_in, C_out / groups, *kernel): each input element scattered through
    every tap into an uncropped output, then cropped by `padding`."""
    c_in, *size = x.shape
    _, o_group, *kernel = w.shape
    nd = len(size)
    stride, padding = _pairs(stride, nd), _pairs(padding, nd)
    output_padding = _pairs(output_padding, nd)
    full = [(i - 1) * s + k + op for i, s, k, op in zip(size, stride, kernel, output_padding)]
    y = np.zeros((o_group * groups, *full))
    i_group = c_in // groups
    products = 0
    for g, pos, tap in itertools.product(range(groups), np.ndindex(*size), np.ndindex(*kernel)):
        dst = tuple(p * s + t for p, s, t in zip(pos, stride, tap))
        chans = slice(g * i_group, (g + 1) * i_group)
        prod = x[(chans, *pos)][:, None] * w[(chans, slice(None), *tap)]
        y[(slice(g * o_group, (g + 1) * o_group), *dst)] += prod.sum(axis=0)
        products += prod.size
    crop = tuple(slice(p, n - p) for p, n in zip(padding, full))
    return y[(slice(None), *crop)], products


def _rand(rng, *shape):
    return rng.standard_normal(shape)


def _check(y, expected):
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------ standard conv ----
@pytest.mark.parametrize("c_in, size, c_out, kernel, kwargs", [
    (3, (12, 12), 4, (5, 5), {}),
    (2, (7, 8), 3, (3, 2), dict(stride=(2, 1), padding=((1, 0), (2, 1)))),
    (4, (9, 9), 6, (3, 3), dict(dilation=2, padding=1, groups=2)),
    (6, (5, 6), 6, (3, 3), dict(padding=1, groups=6)),                 # depthwise
    (3, (11,), 5, (4,), dict(stride=3, padding=2)),                    # 1-D
    (2, (4, 5, 6), 3, (2, 3, 3), dict(stride=(1, 2, 1), padding=1)),   # 3-D
])
def test_conv_macs_counts_the_loops_products(rng, c_in, size, c_out, kernel, kwargs):
    groups = kwargs.get("groups", 1)
    x, w = _rand(rng, c_in, *size), _rand(rng, c_out, c_in // groups, *kernel)
    y, products = counted_conv(x, w, **kwargs)
    conv = getattr(fastconv, f"conv{len(size)}d")
    _check(y, conv(x[None], w, **kwargs)[0])
    assert conv_macs((c_in, *size), c_out, kernel, **kwargs) == products


@pytest.mark.parametrize("c_in, size, c_out, kernel, kwargs", [
    (3, (4, 5), 2, (3, 3), dict(stride=2)),
    (4, (3, 3), 6, (4, 4), dict(stride=2, padding=1, groups=2)),
    (2, (5,), 3, (3,), dict(stride=3, padding=1, output_padding=2)),
    (2, (2, 3, 3), 2, (2, 2, 2), dict(stride=2)),
])
def test_conv_transpose_macs_counts_the_loops_products(rng, c_in, size, c_out, kernel, kwargs):
    groups = kwargs.get("groups", 1)
    x, w = _rand(rng, c_in, *size), _rand(rng, c_in, c_out // groups, *kernel)
    y, products = counted_conv_transpose(x, w, **kwargs)
    conv_t = getattr(fastconv, f"conv_transpose{len(size)}d")
    _check(y, conv_t(x[None], w, **kwargs)[0])
    assert conv_transpose_macs((c_in, *size), c_out, kernel, groups=groups) == products


# -------------------------------------------------- the literature's formulas ----
def _same(k):
    # 'same' padding as (before, after) pairs, the odd element at the end
    return tuple((((kk - 1) // 2), kk - 1 - (kk - 1) // 2) for kk in k)


@pytest.mark.parametrize("c_i, h, w, k1, k2, c_o, padding", [
    (3, 12, 12, 5, 5, 256, 0),          # the textbook example, 12x12x3 -> 8x8x256
    (4, 6, 7, 3, 3, 5, "same"),
    (2, 5, 5, 1, 1, 3, "same"),
    (5, 6, 4, 2, 4, 3, "same"),         # even kernels: asymmetric 'same' padding
    (3, 9, 6, 3, 5, 2, "same"),
])
def test_standard_vs_depthwise_separable_formulas(rng, c_i, h, w, k1, k2, c_o, padding):
    x = _rand(rng, c_i, h, w)
    full_w = _rand(rng, c_o, c_i, k1, k2)
    dw_w, pw_w = _rand(rng, c_i, 1, k1, k2), _rand(rng, c_o, c_i, 1, 1)
    pad = _same((k1, k2)) if padding == "same" else padding

    y_full, n_full = counted_conv(x, full_w, padding=pad)
    y_dw, n_dw = counted_conv(x, dw_w, padding=pad, groups=c_i)
    y_sep, n_pw = counted_conv(y_dw, pw_w)
    _check(y_full, fastconv.conv2d(x[None], full_w, padding=padding)[0])
    _check(y_sep, fastconv.separable_conv2d(x[None], dw_w, pw_w, padding=padding)[0])

    out_h, out_w = y_full.shape[1:]         # W x H of the formulas: the output's
    assert n_full == k1 * k2 * c_i * out_w * out_h * c_o
    assert n_dw + n_pw == k1 * k2 * c_i * out_w * out_h + c_i * out_w * out_h * c_o
    assert conv_macs((c_i, h, w), c_o, (k1, k2), padding=padding) == n_full
    assert depthwise_separable_macs((c_i, h, w), c_o, (k1, k2), padding=padding) == (n_dw, n_pw)


def test_textbook_numbers():
    # 8*8*256 outputs of 5*5*3 products; depthwise 8*8*3 of 5*5, pointwise 8*8*256 of 3
    assert conv_macs((3, 12, 12), 256, 5) == 1_228_800
    assert depthwise_separable_macs((3, 12, 12), 256, 5) == (4_800, 49_152)
    assert sum(depthwise_separable_macs((3, 12, 12), 256, 5)) == 53_952
    # ratio 53,952 / 1,228,800 = 1/C_O + 1/(k1*k2) = 1/256 + 1/25
    assert math.isclose(53_952 / 1_228_800, 1 / 256 + 1 / 25)


@pytest.mark.parametrize("args, kwargs, exc, match", [
    (((3,), 4, 3), {}, ValueError, "input_shape"),
    (((3, 8, 8), 0, 3), {}, ValueError, "c_out"),
    (((3, 8, 8), 4, (3, 3, 3)), {}, ValueError, "kernel_size"),
    (((3, 8, 8), 4, 3), dict(groups=2), ValueError, "groups"),
    (((3, 8, 8), 4.0, 3), {}, TypeError, "c_out"),
])
def test_conv_transpose_macs_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        conv_transpose_macs(*args, **kwargs)
