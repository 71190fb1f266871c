"""Classic CNNs with random initial weights, built from fastconv.nn layers.

Every constructor takes ``rng`` (Generator, int seed or None) and ``dtype``;
the same seed gives the same weights.  Parameters are created lazily, so
building VGG-16 and calling ``summary`` allocates nothing; the weights appear
on the first forward (or stay uncreated if ``load_state_dict`` fills them).

VGG-11/16 and AlexNet use torchvision's module layout, so their
``state_dict`` keys (``features.0.weight``, ``classifier.6.bias``, ...) and
shapes are torchvision's.  ResNet-18, MobileNet v1, ShuffleNet v1 and the
U-Net are built from Sequential, Residual and Concat (their keys differ).
"""
from collections import OrderedDict
from functools import partial

import numpy as np

from fastconv.nn import init
from fastconv.nn.combinators import Concat, Residual
from fastconv.nn.layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, ChannelShuffle,
                                Conv2d, ConvTranspose2d, DepthwiseConv2d, Dropout, Flatten,
                                GlobalAvgPool, Identity, Linear, MaxPool2d, ReLU, Tanh)
from fastconv.nn.module import Sequential

__all__ = ["lenet5", "alexnet", "vgg11", "vgg16", "resnet18", "mobilenet_v1",
           "shufflenet_v1", "unet"]

# He initialisation for convolutions followed by ReLU (He et al. 2015, as torchvision)
_he_relu = partial(init.kaiming_normal_, mode="fan_out", nonlinearity="relu")


class _Builder:
    """Layer factories sharing one Generator, dtype and init policy."""

    def __init__(self, rng, dtype):
        self.rng, self.dtype = init.as_generator(rng), dtype

    def conv(self, cin, cout, k, stride=1, padding=0, groups=1, bias=False):
        return Conv2d(cin, cout, k, stride, padding, groups=groups, bias=bias,
                      dtype=self.dtype, rng=self.rng, weight_init=_he_relu,
                      bias_init=init.zeros_)

    def dwconv(self, c, k, stride=1, padding=1):
        return DepthwiseConv2d(c, k, stride, padding, bias=False, dtype=self.dtype,
                               rng=self.rng, weight_init=_he_relu)

    def bn(self, c):
        return BatchNorm2d(c, dtype=self.dtype)

    def linear(self, cin, cout, **kw):
        return Linear(cin, cout, dtype=self.dtype, rng=self.rng, **kw)

    def dropout(self, p=0.5):
        return Dropout(p, rng=self.rng)

    def conv_bn_relu(self, cin, cout, k, stride=1, padding=0, groups=1):
        return [self.conv(cin, cout, k, stride, padding, groups), self.bn(cout), ReLU()]


def lenet5(num_classes=10, *, rng=None, dtype=np.float32):
    """LeNet-5 (LeCun et al. 1998) for 1x32x32 inputs: tanh and average pooling,
    61,706 parameters with 10 classes."""
    b = _Builder(rng, dtype)
    conv = partial(Conv2d, dtype=dtype, rng=b.rng)
    return Sequential(conv(1, 6, 5), Tanh(), AvgPool2d(2), conv(6, 16, 5), Tanh(),
                      AvgPool2d(2), Flatten(), b.linear(400, 120), Tanh(),
                      b.linear(120, 84), Tanh(), b.linear(84, num_classes))


def alexnet(num_classes=1000, *, rng=None, dtype=np.float32):
    """AlexNet, torchvision's single-tower variant (61.1 M parameters)."""
    b = _Builder(rng, dtype)
    conv = partial(b.conv, bias=True)
    features = Sequential(
        conv(3, 64, 11, 4, 2), ReLU(), MaxPool2d(3, 2),
        conv(64, 192, 5, padding=2), ReLU(), MaxPool2d(3, 2),
        conv(192, 384, 3, padding=1), ReLU(), conv(384, 256, 3, padding=1), ReLU(),
        conv(256, 256, 3, padding=1), ReLU(), MaxPool2d(3, 2))
    classifier = Sequential(b.dropout(), b.linear(256 * 6 * 6, 4096), ReLU(), b.dropout(),
                            b.linear(4096, 4096), ReLU(), b.linear(4096, num_classes))
    return Sequential(OrderedDict(features=features, avgpool=AdaptiveAvgPool2d(6),
                                  flatten=Flatten(), classifier=classifier))


_VGG = {11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
        16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
             512, 512, 512, "M"]}


def _vgg(depth, num_classes, rng, dtype):
    b = _Builder(rng, dtype)
    layers, cin = [], 3
    for v in _VGG[depth]:
        if v == "M":
            layers.append(MaxPool2d(2, 2))
        else:
            layers += [b.conv(cin, v, 3, padding=1, bias=True), ReLU()]
            cin = v
    fc = partial(b.linear, weight_init=partial(init.normal_, std=0.01), bias_init=init.zeros_)
    classifier = Sequential(fc(512 * 7 * 7, 4096), ReLU(), b.dropout(), fc(4096, 4096),
                            ReLU(), b.dropout(), fc(4096, num_classes))
    return Sequential(OrderedDict(features=Sequential(*layers), avgpool=AdaptiveAvgPool2d(7),
                                  flatten=Flatten(), classifier=classifier))


def vgg11(num_classes=1000, *, rng=None, dtype=np.float32):
    """VGG-11 (Simonyan & Zisserman 2015, configuration A), torchvision layout."""
    return _vgg(11, num_classes, rng, dtype)


def vgg16(num_classes=1000, *, rng=None, dtype=np.float32):
    """VGG-16 (configuration D), torchvision layout: 138,357,544 parameters."""
    return _vgg(16, num_classes, rng, dtype)


def resnet18(num_classes=1000, *, rng=None, dtype=np.float32):
    """ResNet-18 (He et al. 2016): BasicBlocks ``relu(block(x) + shortcut(x))``, a
    1x1 convolution + BN shortcut where the shape changes; 11,689,512 parameters."""
    b = _Builder(rng, dtype)

    def basic_block(cin, cout, stride):
        block = Sequential(OrderedDict(
            conv1=b.conv(cin, cout, 3, stride, 1), bn1=b.bn(cout), relu=ReLU(),
            conv2=b.conv(cout, cout, 3, 1, 1), bn2=b.bn(cout)))
        shortcut = None
        if stride != 1 or cin != cout:
            shortcut = Sequential(b.conv(cin, cout, 1, stride), b.bn(cout))
        return Sequential(OrderedDict(residual=Residual(block, shortcut), relu=ReLU()))

    stages, cin = OrderedDict(), 64
    for i, (cout, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)], 1):
        stages[f"layer{i}"] = Sequential(basic_block(cin, cout, stride),
                                         basic_block(cout, cout, 1))
        cin = cout
    return Sequential(OrderedDict(
        conv1=b.conv(3, 64, 7, 2, 3), bn1=b.bn(64), relu=ReLU(),
        maxpool=MaxPool2d(3, 2, 1), **stages, avgpool=GlobalAvgPool(),
        fc=b.linear(512, num_classes)))


def mobilenet_v1(num_classes=1000, *, rng=None, dtype=np.float32):
    """MobileNet v1 1.0-224 (Howard et al. 2017): a 3x3 convolution, then 13
    depthwise (3x3) + pointwise (1x1) pairs, each followed by BN and ReLU."""
    b = _Builder(rng, dtype)
    layers = b.conv_bn_relu(3, 32, 3, 2, 1)
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [
        (1024, 2), (1024, 1)]
    cin = 32
    for cout, stride in plan:
        layers += [b.dwconv(cin, 3, stride), b.bn(cin), ReLU(), *b.conv_bn_relu(cin, cout, 1)]
        cin = cout
    return Sequential(*layers, GlobalAvgPool(), b.linear(1024, num_classes))


def shufflenet_v1(num_classes=1000, groups=3, *, rng=None, dtype=np.float32):
    """ShuffleNet v1 1x (Zhang et al. 2017) with ``groups`` in (1, 2, 3, 4, 8).

    Unit: 1x1 group conv to out/4 channels, BN, ReLU, channel shuffle, 3x3
    depthwise conv (stride 1 or 2), BN, 1x1 group conv, BN; stride 1 adds the
    input, stride 2 concatenates a 3x3 average-pooled input; then ReLU.  The
    first 1x1 conv of stage 2 is not grouped (its input has only 24 channels).
    """
    widths = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}
    if groups not in widths:
        raise ValueError(f"shufflenet_v1: groups must be one of {sorted(widths)}, got {groups}")
    b = _Builder(rng, dtype)

    def unit(cin, cout, stride, first_groups):
        mid = cout // 4
        branch_out = cout - cin if stride == 2 else cout
        branch = Sequential(*b.conv_bn_relu(cin, mid, 1, groups=first_groups),
                            ChannelShuffle(groups), b.dwconv(mid, 3, stride), b.bn(mid),
                            b.conv(mid, branch_out, 1, groups=groups), b.bn(branch_out))
        merge = Residual(branch) if stride == 1 else Concat(AvgPool2d(3, 2, 1), branch)
        return Sequential(merge, ReLU())

    layers = b.conv_bn_relu(3, 24, 3, 2, 1) + [MaxPool2d(3, 2, 1)]
    cin = 24
    for stage, repeats in enumerate((4, 8, 4)):
        cout = widths[groups] * 2 ** stage
        for i in range(repeats):
            layers.append(unit(cin, cout, 2 if i == 0 else 1,
                               1 if stage == 0 and i == 0 else groups))
            cin = cout
    return Sequential(*layers, GlobalAvgPool(), b.linear(cin, num_classes))


def unet(in_channels=1, num_classes=2, base_channels=16, depth=3, *, rng=None,
         dtype=np.float32):
    """A small U-Net (Ronneberger et al. 2015) with 'same' padding.

    Each level: two (3x3 conv, BN, ReLU), then ``Concat(Identity(), max pool ->
    next level -> 2x2 stride-2 transposed conv)`` (the skip connection), then two
    (3x3 conv, BN, ReLU); a final 1x1 conv gives per-pixel class logits
    (N, num_classes, H, W).  H and W must be multiples of ``2**depth``.
    """
    b = _Builder(rng, dtype)

    def double_conv(cin, cout):
        return Sequential(*b.conv_bn_relu(cin, cout, 3, padding=1),
                          *b.conv_bn_relu(cout, cout, 3, padding=1))

    def level(cin, c, d):
        if d == 0:
            return double_conv(cin, c)
        up = ConvTranspose2d(2 * c, c, 2, stride=2, dtype=dtype, rng=b.rng)
        inner = Sequential(MaxPool2d(2), level(c, 2 * c, d - 1), up)
        return Sequential(double_conv(cin, c), Concat(Identity(), inner),
                          double_conv(2 * c, c))

    return Sequential(level(in_channels, base_channels, depth),
                      Conv2d(base_channels, num_classes, 1, dtype=dtype, rng=b.rng))
