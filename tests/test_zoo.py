"""fastconv.nn.zoo: published parameter and multiply-add counts, reproducible
initialisation, and small forward/backward passes."""
import numpy as np
import pytest

import fastconv.nn as nn
from fastconv.nn import zoo

IMAGENET = (3, 224, 224)

# (constructor, input shape, parameters, relative tolerance, MACs, relative tolerance)
# Sources: torchvision's model tables (VGG-16 138,357,544, ResNet-18 11,689,512,
# AlexNet 61,100,840 parameters); the papers' multiply-adds: VGG-16 15.5 G,
# ResNet-18 1.8 G (He et al. 2016, Table 1), MobileNet v1 569 M and 4.2 M
# parameters (Howard et al. 2017, Table 1 of the paper: 1.0 MobileNet-224),
# ShuffleNet 1x g=3 137 M (Zhang et al. 2017, Table 2); LeNet-5 ~60 k (LeCun 1998).
PUBLISHED = {
    "vgg16": (zoo.vgg16, IMAGENET, 138_357_544, 0, 15.5e9, 0.02),
    "resnet18": (zoo.resnet18, IMAGENET, 11_689_512, 0, 1.8e9, 0.02),
    "mobilenet_v1": (zoo.mobilenet_v1, IMAGENET, 4.2e6, 0.02, 569e6, 0.02),
    "alexnet": (zoo.alexnet, IMAGENET, 61_100_840, 0, 0.72e9, 0.02),
    "shufflenet_v1_g3": (zoo.shufflenet_v1, IMAGENET, 1.9e6, 0.02, 137e6, 0.02),
    "lenet5": (zoo.lenet5, (1, 32, 32), 60e3, 0.03, 0.42e6, 0.02),
}


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_counts_without_allocating(name):
    make, shape, params, params_tol, macs, macs_tol = PUBLISHED[name]
    model = make()
    s = model.summary(shape)
    if params_tol:
        assert s.total_params == pytest.approx(params, rel=params_tol)
    else:
        assert s.total_params == params
    assert s.total_macs == pytest.approx(macs, rel=macs_tol)
    assert s.output_shape == ((10,) if name == "lenet5" else (1000,))
    assert not any(p.materialized for p in model.parameters() if p.size > 10_000)


def test_published_receptive_fields():
    # well-known receptive fields of the last convolutional feature maps
    assert zoo.vgg16().summary(IMAGENET).rows[30].receptive_field == ((212, 32),) * 2
    assert zoo.alexnet().summary(IMAGENET).rows[12].receptive_field == ((195, 32),) * 2
    resnet = {r.name: r for r in zoo.resnet18().summary(IMAGENET).rows}
    assert resnet["layer4.1.relu"].receptive_field == ((435, 32),) * 2


def test_vgg_and_alexnet_use_torchvisions_keys():
    keys = [name for name, _ in zoo.vgg11().named_parameters()]   # VGG has no buffers
    assert keys[:2] == ["features.0.weight", "features.0.bias"]
    assert keys[-2:] == ["classifier.6.weight", "classifier.6.bias"]
    shapes = {k: p.shape for k, p in zoo.alexnet().named_parameters()}
    assert shapes["features.10.weight"] == (256, 256, 3, 3)
    assert shapes["classifier.1.weight"] == (4096, 9216)


def test_same_seed_same_model():
    a, b, c = zoo.shufflenet_v1(rng=3), zoo.shufflenet_v1(rng=3), zoo.shufflenet_v1(rng=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)
    assert not np.array_equal(sa["0.weight"], sc["0.weight"])


@pytest.mark.parametrize("make, shape", [
    (zoo.lenet5, (2, 1, 32, 32)),
    (zoo.resnet18, (2, 3, 32, 32)),
    (zoo.mobilenet_v1, (2, 3, 32, 32)),
    (lambda rng: zoo.shufflenet_v1(groups=3, rng=rng), (2, 3, 32, 32)),
], ids=["lenet5", "resnet18", "mobilenet_v1", "shufflenet_v1"])
def test_classifiers_run_forward_and_backward(make, shape, rng):
    model = make(rng=0)
    x = rng.standard_normal(shape).astype(np.float32)
    logits = model(x)
    assert logits.shape == (2,) + model.summary(shape[1:]).output_shape
    assert logits.dtype == np.float32 and np.all(np.isfinite(logits))
    loss = nn.CrossEntropyLoss()
    loss(logits, np.array([0, 1]))
    assert model.backward(loss.backward(), need_input=False) is None
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())


def test_unet_segments_and_trains_a_step(rng):
    model = zoo.unet(in_channels=1, num_classes=3, base_channels=4, depth=2, rng=0)
    x = rng.standard_normal((2, 1, 16, 16)).astype(np.float32)
    target = rng.integers(0, 3, (2, 16, 16))
    loss = nn.CrossEntropyLoss()
    before = loss(model(x), target)
    assert model.summary((1, 16, 16)).output_shape == (3, 16, 16)
    model.backward(loss.backward(), need_input=False)
    for p in model.parameters():
        p.data -= 0.1 * p.grad                          # one plain gradient step
    assert loss(model(x), target) < before


def test_shufflenet_rejects_unknown_groups():
    with pytest.raises(ValueError, match="groups must be one of"):
        zoo.shufflenet_v1(groups=5)
