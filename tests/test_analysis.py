"""fastconv.analysis: shapes, counts and receptive fields.

Expected values are worked out by hand in the comments, not taken from the code.
"""
import doctest
import itertools
from fractions import Fraction

import numpy as np
import pytest

import fastconv
from fastconv import analysis
from fastconv.analysis import (conv_macs, conv_output_shape, conv_params,
                               conv_transpose_output_shape, depthwise_separable_macs,
                               pool_output_shape, receptive_field, receptive_field_per_layer)


def test_docstring_examples():
    assert doctest.testmod(analysis).failed == 0


# ------------------------------------------------------- conv output shape ----
def test_7x7_input_3x3_filter():
    # (7 - 3) / 1 + 1 = 5 and (7 - 3) / 2 + 1 = 3
    assert conv_output_shape((7, 7), 3) == (5, 5)
    assert conv_output_shape((7, 7), (3, 3), stride=2) == (3, 3)
    assert conv_output_shape((7, 7), 3, stride=2, exact=True) == (3, 3)


def test_stride_3_does_not_tile_7x7():
    # (7 - 3) / 3 = 1.33: PyTorch floors to 1 + 1 = 2, dropping the last column/row
    assert conv_output_shape((7, 7), 3, stride=3) == (2, 2)
    with pytest.raises(ValueError, match="does not tile the input"):
        conv_output_shape((7, 7), 3, stride=3, exact=True)
    with pytest.raises(ValueError, match="does not tile the input on axis 1"):
        conv_output_shape((7, 7), 3, stride=(2, 3), exact=True)
    # with padding 1 it tiles: (7 + 2 - 3) / 3 + 1 = 3
    assert conv_output_shape((7, 7), 3, stride=3, padding=1, exact=True) == (3, 3)


def test_32x32x3_ten_5x5_filters():
    # stride 1, padding 2 keeps 32x32: (32 + 4 - 5) / 1 + 1 = 32; 10 filters -> 32x32x10
    assert conv_output_shape((32, 32), 5, stride=1, padding=2) == (32, 32)
    # each filter 5*5*3 = 75 weights + 1 bias: 10 * 76 = 760
    assert conv_params(3, 10, (5, 5)) == 760
    assert conv_params(3, 10, 5) == 760          # an int kernel is 2-D by default
    assert conv_params(3, 10, (5, 5), bias=False) == 750


def test_conv_output_shape_padding_forms():
    assert conv_output_shape(10, 4, padding="same") == (10,)
    assert conv_output_shape((10, 9), 3, padding="valid") == (8, 7)
    # 'same' with dilation: total padding 2*(3-1) = 4
    assert conv_output_shape((10, 9), 3, dilation=2, padding="same") == (10, 9)
    # pairs: H = 7 + 1 + 0 - 3 + 1 = 6, W = 8 + 2 + 1 - 3 + 1 = 9
    assert conv_output_shape((7, 8), 3, padding=((1, 0), (2, 1))) == (6, 9)
    # dilation 2 on a 3-kernel spans 5: 9 - 5 + 1 = 5
    assert conv_output_shape((9,), 3, dilation=2) == (5,)
    # 3-D, per-axis everything: D=(8+2-3)//2+1=4, H=(6-1)//1+1=6, W=(5+0-5)//1+1=1
    assert conv_output_shape((8, 6, 5), (3, 1, 3), stride=(2, 1, 1), padding=(1, 0, 0),
                             dilation=(1, 1, 2)) == (4, 6, 1)


@pytest.mark.parametrize("kernel", [(3, 3), (2, 3)])
@pytest.mark.parametrize("stride", [1, 2, (1, 3)])
@pytest.mark.parametrize("padding", [0, 1, (0, 2), "valid", "same", ((1, 0), (2, 1))])
@pytest.mark.parametrize("dilation", [1, (2, 1)])
def test_conv_output_shape_matches_conv2d(kernel, stride, padding, dilation):
    x = np.zeros((1, 2, 7, 8), np.float32)
    w = np.zeros((3, 2) + kernel, np.float32)
    try:
        expected = fastconv.conv2d(x, w, stride=stride, padding=padding,
                                   dilation=dilation).shape[2:]
    except ValueError:       # e.g. 'same' with stride 2: both must refuse
        with pytest.raises(ValueError):
            conv_output_shape((7, 8), kernel, stride, padding, dilation)
        return
    assert conv_output_shape((7, 8), kernel, stride, padding, dilation) == expected


def test_conv_output_shape_matches_conv1d_conv3d():
    y = fastconv.conv1d(np.zeros((1, 1, 11)), np.zeros((1, 1, 4)), stride=3, padding=2)
    # (11 + 4 - 4) // 3 + 1 = 4
    assert conv_output_shape(11, 4, stride=3, padding=2) == y.shape[2:] == (4,)
    y = fastconv.conv3d(np.zeros((1, 1, 5, 6, 7)), np.zeros((1, 1, 2, 3, 3)),
                        stride=(1, 2, 3), dilation=(2, 1, 1))
    assert conv_output_shape((5, 6, 7), (2, 3, 3), (1, 2, 3), 0, (2, 1, 1)) == y.shape[2:]


# --------------------------------------------------- transposed and pooling ----
@pytest.mark.parametrize("args, kwargs, expected", [
    # (i - 1)*s - 2p + d*(k - 1) + op + 1
    (((3, 3), 3), dict(stride=2), (7, 7)),                      # 4 + 2 + 1
    (((3, 3), 3), dict(stride=2, output_padding=1), (8, 8)),    # 4 + 2 + 1 + 1
    (((4, 4), 4), dict(stride=2, padding=1), (8, 8)),           # DCGAN: 6 - 2 + 3 + 1
    ((5, 3), dict(padding=1), (5,)),                            # 4 - 2 + 2 + 1
    ((3, 3), dict(dilation=2), (7,)),                           # 2 + 4 + 1
    ((3, 3), dict(dilation=2, output_padding=1), (8,)),         # op < dilation is allowed
    (((2, 5), (2, 3)), dict(stride=(3, 1), padding=(0, 1)), (5, 5)),  # 3+1+1, 4-2+2+1
])
def test_conv_transpose_output_shape(args, kwargs, expected):
    assert conv_transpose_output_shape(*args, **kwargs) == expected


@pytest.mark.parametrize("size", [7, 8, 9, 10])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv_transpose_inverts_conv(size, stride):
    # a transposed conv with the right output_padding restores the conv's input size
    out = conv_output_shape(size, 3, stride, padding=1)
    restored = conv_transpose_output_shape(out, 3, stride, padding=1,
                                           output_padding=(size + 2 - 3) % stride)
    assert restored == (size,)


@pytest.mark.parametrize("args, kwargs, expected", [
    # ResNet stem max pool: (112 + 2 - 3) // 2 + 1 = 56
    (((112, 112), 3), dict(stride=2, padding=1), (56, 56)),
    (((8, 9), 2), {}, (4, 4)),                         # stride defaults to kernel
    ((5, 2), {}, (2,)),                                # floor(3/2) + 1
    ((5, 2), dict(ceil_mode=True), (3,)),              # ceil(3/2) + 1: partial window
    ((4, 3), dict(stride=2), (1,)),                    # floor(1/2) + 1
    ((4, 3), dict(stride=2, ceil_mode=True), (2,)),    # window at 2 covers 2, 3
    # ceil would give ceil(5/2) + 1 = 4 windows starting at -1, 1, 3, 5; the one at 5
    # starts in the right padding (input is 0..4), so it is dropped -> 3
    ((5, 2), dict(stride=2, padding=1, ceil_mode=True), (3,)),
    # ceil(1/2) + 1 = 2, but the second window would start at 2, past the input -> 1
    ((2, 1), dict(stride=2, ceil_mode=True), (1,)),
    ((7, 2), dict(stride=1, dilation=3), (4,)),        # span 4: 7 - 4 + 1
])
def test_pool_output_shape(args, kwargs, expected):
    assert pool_output_shape(*args, **kwargs) == expected


# --------------------------------------------------------- MACs and params ----
def test_macs_literature_example():
    # 5x5 conv, 12x12x3 -> 8x8x256: 8*8*256 outputs, each 5*5*3 multiplies
    assert conv_macs((3, 12, 12), 256, 5) == 1_228_800
    # depthwise 8*8*3 outputs of 5*5 each = 4,800; pointwise 8*8*256 of 3 each = 49,152
    assert depthwise_separable_macs((3, 12, 12), 256, 5) == (4_800, 49_152)
    assert sum(depthwise_separable_macs((3, 12, 12), 256, 5)) == 53_952
    # the same two parts as plain convolutions
    assert conv_macs((3, 12, 12), 3, 5, groups=3) == 4_800
    assert conv_macs((3, 8, 8), 256, 1) == 49_152


@pytest.mark.parametrize("c_i, h, w, k1, k2, c_o, full, depthwise, pointwise", [
    # 'same' padding, so W x H is both input and output size.
    # full k1*k2*C_I*W*H*C_O; separable k1*k2*C_I*W*H + C_I*W*H*C_O
    (16, 10, 10, 3, 3, 32, 460_800, 14_400, 51_200),
    (32, 14, 7, 3, 5, 64, 3_010_560, 47_040, 200_704),
])
def test_macs_general_formulas(c_i, h, w, k1, k2, c_o, full, depthwise, pointwise):
    shape = (c_i, h, w)
    assert conv_macs(shape, c_o, (k1, k2), padding="same") == full
    dw, pw = depthwise_separable_macs(shape, c_o, (k1, k2), padding="same")
    assert (dw, pw) == (depthwise, pointwise)
    # the well-known cost ratio 1/C_O + 1/(k1*k2)
    assert Fraction(dw + pw, full) == Fraction(1, c_o) + Fraction(1, k1 * k2)


def test_macs_stride_groups_multiplier():
    # stride 2, padding 1: (12 + 2 - 3) // 2 + 1 = 6 -> 6*6*8 outputs of 3*3*(4/2) each
    assert conv_macs((4, 12, 12), 8, 3, stride=2, padding=1, groups=2) == 6 * 6 * 8 * 18
    # depth multiplier 2: 6 depthwise channels of 8*8 outputs * 25, then 6 -> 256
    assert depthwise_separable_macs((3, 12, 12), 256, 5, depth_multiplier=2) == (
        9_600, 98_304)
    assert conv_macs((5, 20), 7, 3) == 18 * 7 * 15     # 1-D: 18 outputs x 7 ch x 3*5


def test_conv_params_groups_and_ndim():
    assert conv_params(8, 16, 3, groups=4) == 16 * 2 * 9 + 16      # 304
    assert conv_params(32, 32, (3, 3), groups=32, bias=False) == 288  # depthwise 3x3
    assert conv_params(4, 6, 3, ndim=3) == 6 * 4 * 27 + 6
    assert conv_params(4, 6, (3,)) == 6 * 4 * 3 + 6


# ------------------------------------------------------- receptive field ----
def test_stacked_convolutions():
    # each 3x3 adds 2: 3, 5, 7;  each 5x5 adds 4: 5, 9, 13
    assert receptive_field([3, 3, 3]) == (7, 1)
    assert receptive_field([(5, 1, 1)] * 3) == (13, 1)


def test_dilated_context_module():
    # Yu & Koltun's context module: r grows by 2*d for each 3x3 with dilation d
    layers = [(3, 1, d) for d in (1, 1, 2, 4, 8, 16, 1)] + [(1, 1, 1)]
    assert [r for r, _ in receptive_field_per_layer(layers)] == [3, 5, 9, 17, 33, 65, 67, 67]
    assert receptive_field(layers) == (67, 1)


def test_receptive_field_with_strides():
    # conv3 s1: 3; pool2 s2: 3 + 1 = 4, jump 2; conv3: 4 + 2*2 = 8; conv3 s2: 12, jump 4
    assert receptive_field_per_layer([(3, 1), (2, 2), 3, (3, 2, 1)]) == [
        (3, 1), (4, 2), (8, 2), (12, 4)]
    # AlexNet conv1 (11, s4) then pool (3, s2): 11 + 2*4 = 19, jump 8
    assert receptive_field([(11, 4), (3, 2)]) == (19, 8)
    assert receptive_field([]) == (1, 1)
    assert receptive_field_per_layer([]) == []


# ------------------------------------------------------------ bad input ----
@pytest.mark.parametrize("func, args, kwargs, exc, match", [
    (conv_output_shape, ((7, 7), 0), {}, ValueError, "kernel_size"),
    (conv_output_shape, ((7, 7), (3, 3, 3)), {}, ValueError, "kernel_size"),
    (conv_output_shape, ((7, 7), 3), dict(stride=0), ValueError, "stride"),
    (conv_output_shape, ((7, 7), 3), dict(stride=1.5), TypeError, "stride"),
    (conv_output_shape, ((7, 7), 3), dict(dilation=(1, 0)), ValueError, "dilation"),
    (conv_output_shape, ((7, 7), 3), dict(padding=-1), ValueError, "padding"),
    (conv_output_shape, ((7, 7), 3), dict(padding="full"), ValueError, "padding"),
    (conv_output_shape, ((7, 7), 3), dict(stride=2, padding="same"), ValueError,
     "padding='same'"),
    (conv_output_shape, ((2, 9), 3), {}, ValueError, r"output size .* input shape \(2, 9\)"),
    (conv_output_shape, ((), 3), {}, ValueError, "input_shape"),
    (conv_output_shape, ((7, 0), 3), {}, ValueError, "input_shape"),
    (conv_output_shape, ("7x7", 3), {}, TypeError, "input_shape"),
    (conv_output_shape, (True, 3), {}, TypeError, "input_shape"),
    (conv_output_shape, ((7, 7), 3), dict(exact="yes"), TypeError, "exact"),
    (conv_transpose_output_shape, (3, 3), dict(stride=2, output_padding=2), ValueError,
     "output_padding"),
    (conv_transpose_output_shape, (3, 3), dict(padding=-1), ValueError, "padding"),
    (conv_transpose_output_shape, (3, 3), dict(padding="same"), TypeError, "padding"),
    (conv_transpose_output_shape, (1, 1), dict(padding=1), ValueError, "output size"),
    (pool_output_shape, (7, 3), dict(padding=2), ValueError, "padding"),
    (pool_output_shape, (7, 3), dict(stride=0), ValueError, "stride"),
    (pool_output_shape, (7, 3), dict(ceil_mode=1), TypeError, "ceil_mode"),
    (pool_output_shape, (2, 3), {}, ValueError, "output size"),
    (conv_params, (0, 4, 3), {}, ValueError, "c_in"),
    (conv_params, (3, 2.5, 3), {}, TypeError, "c_out"),
    (conv_params, (3, 4, 3), dict(groups=2), ValueError, "groups"),
    (conv_params, (3, 4, (3, 0)), {}, ValueError, "kernel_size"),
    (conv_params, (3, 4, (3, 3)), dict(ndim=3), ValueError, "kernel_size"),
    (conv_params, (3, 4, 3), dict(bias=None), TypeError, "bias"),
    (conv_macs, ((3,), 4, 3), {}, ValueError, "input_shape"),
    (conv_macs, ((3, 8, 8), 0, 3), {}, ValueError, "c_out"),
    (conv_macs, ((3, 8, 8), 4, 3), dict(groups=4), ValueError, "groups"),
    (depthwise_separable_macs, ((3, 8, 8), 4, 3), dict(depth_multiplier=0), ValueError,
     "depth_multiplier"),
    (receptive_field, ("abc",), {}, TypeError, "layers"),
    (receptive_field, ([(3, 0)],), {}, ValueError, r"layers\[0\] stride"),
    (receptive_field, ([3, 0],), {}, ValueError, r"layers\[1\] kernel"),
    (receptive_field, ([(3, 1, 1, 1)],), {}, ValueError, r"layers\[0\]"),
    (receptive_field_per_layer, ([3.0],), {}, TypeError, r"layers\[0\]"),
])
def test_bad_input_names_the_argument(func, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        func(*args, **kwargs)


# ----------------------------------------------------- against PyTorch ----
@pytest.fixture(scope="module")
def torch():
    # torch shares the OpenMP runtime: changing its thread count would also lower
    # fastconv's in this thread, so leave it alone (only shapes are compared here).
    return pytest.importorskip("torch")


def _torch_shape(fn):
    """The spatial output shape, or None when torch refuses the call."""
    try:
        return tuple(fn().shape[2:])
    except RuntimeError:
        return None


def _our_shape(fn):
    try:
        return fn()
    except ValueError:
        return None


def test_pool_output_shape_matches_torch(torch):
    F = torch.nn.functional
    x = {i: torch.zeros(1, 1, i) for i in range(1, 10)}
    for i, k, s, p, d, ceil in itertools.product(range(1, 10), range(1, 5), range(1, 4),
                                                 range(3), (1, 2), (False, True)):
        expected = _torch_shape(lambda: F.max_pool1d(x[i], k, s, p, d, ceil_mode=ceil))
        got = _our_shape(lambda: pool_output_shape(i, k, s, p, d, ceil_mode=ceil))
        assert got == expected, (i, k, s, p, d, ceil)
    x2 = torch.zeros(1, 1, 7, 10)
    for k, s, p in [((3, 2), (2, 3), (1, 0)), ((2, 4), (2, 3), (1, 2)), (3, 2, 1)]:
        for ceil in (False, True):
            assert pool_output_shape((7, 10), k, s, p, ceil_mode=ceil) == tuple(
                F.avg_pool2d(x2, k, s, p, ceil_mode=ceil).shape[2:])


def test_conv_transpose_output_shape_matches_torch(torch):
    F = torch.nn.functional
    for i, k, s, p, op, d in itertools.product(range(1, 6), range(1, 4), range(1, 4),
                                               range(3), range(3), (1, 2)):
        expected = _torch_shape(lambda: F.conv_transpose1d(
            torch.zeros(1, 1, i), torch.zeros(1, 1, k), stride=s, padding=p,
            output_padding=op, dilation=d))
        got = _our_shape(lambda: conv_transpose_output_shape(i, k, s, p, op, d))
        assert got == expected, (i, k, s, p, op, d)
