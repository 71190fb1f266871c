"""fastconv.nn: gradients of whole models against finite differences (float64),
layer logic against NumPy references, the Module API, state dicts, freezing and
initialisation."""
import copy
import math

import numpy as np
import pytest

import fastconv.nn as nn
from fastconv.nn import init
from gradcheck import assert_grad_close, numerical_grad
from ref_nn import (batchnorm_eval_ref, batchnorm_train_ref, cross_entropy_ref, linear_ref,
                    mse_ref)
from reference import conv_nd_reference


# ------------------------------------------------------- gradient checks ----
def model_2d():
    """Conv (reflect), BN, LeakyReLU, Residual (identity), Concat, depthwise, shuffle,
    max pool, separable conv, Residual with a conv shortcut around a transposed conv
    and avg pool, bilinear upsample, pad, adaptive avg pool, sigmoid, dropout,
    flatten, linear."""
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect", rng=1),
        nn.BatchNorm2d(4),
        nn.LeakyReLU(0.1),
        nn.Residual(nn.Sequential(nn.Conv2d(4, 4, 3, padding="same", rng=2), nn.ReLU())),
        nn.Concat(nn.Identity(), nn.Sequential(
            nn.DepthwiseConv2d(4, 3, padding=1, depth_multiplier=2, rng=3), nn.Tanh())),
        nn.ChannelShuffle(3),
        nn.MaxPool2d(2),
        nn.DepthwiseSeparableConv2d(12, 4, 3, padding=1, rng=4),
        nn.Residual(nn.Sequential(nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1,
                                                     output_padding=1, rng=5),
                                  nn.AvgPool2d(2)),
                    shortcut=nn.Conv2d(4, 4, 1, rng=6)),
        nn.Upsample(scale_factor=2, mode="bilinear"),
        nn.Pad(((1, 0), (0, 2)), mode="replicate"),
        nn.AdaptiveAvgPool2d(3),
        nn.Sigmoid(),
        nn.Dropout(0.3, rng=7),
        nn.Flatten(),
        nn.Linear(36, 5, rng=8))


def model_segmentation():
    """A one-level U-Net: Concat(Identity, pool -> conv -> nearest upsample)."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False, rng=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Concat(nn.Identity(), nn.Sequential(nn.MaxPool2d(2),
                                               nn.Conv2d(4, 4, 3, padding=1, rng=2),
                                               nn.Upsample(scale_factor=2))),
        nn.Conv2d(8, 3, 1, rng=3))


def model_global_pools():
    """Spatial pyramid, global avg/max and adaptive max pooling side by side."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2, padding=1, dilation=1, rng=1),
        nn.Concat(nn.SpatialPyramidPool((1, 2), mode="max"), nn.GlobalAvgPool(),
                  nn.GlobalMaxPool(), nn.Sequential(nn.AdaptiveMaxPool2d(2), nn.Flatten())),
        nn.Linear(44, 3, rng=2))


def model_1d():
    return nn.Sequential(
        nn.Conv1d(3, 4, 3, padding=1, padding_mode="circular", rng=1), nn.BatchNorm1d(4),
        nn.Tanh(), nn.ConvTranspose1d(4, 4, 2, stride=2, rng=2),
        nn.MaxPool1d(3, stride=2, padding=1), nn.Upsample(scale_factor=1.5, mode="linear"),
        nn.AvgPool1d(2), nn.AdaptiveAvgPool1d(4), nn.AdaptiveMaxPool1d(3), nn.Flatten(),
        nn.Linear(12, 6, rng=3), nn.BatchNorm1d(6), nn.Sigmoid())


def model_3d():
    return nn.Sequential(
        nn.Conv3d(2, 3, 3, padding=1, rng=1), nn.BatchNorm3d(3), nn.ReLU(),
        nn.ConvTranspose3d(3, 2, 2, stride=2, rng=2), nn.MaxPool3d(2),
        nn.AvgPool3d(2, stride=1), nn.Upsample(size=(4, 3, 3), mode="trilinear"),
        nn.AdaptiveAvgPool3d(2), nn.AdaptiveMaxPool3d((1, 2, 2)),
        nn.GlobalAvgPool(keepdims=True), nn.Flatten(), nn.Linear(2, 3, rng=3))


def _dropouts(model):
    return [m for m in model.modules() if isinstance(m, nn.Dropout)]


def _replay_dropout(model):
    for i, d in enumerate(_dropouts(model)):   # the same mask on every forward
        d.rng = np.random.default_rng(100 + i)


def _check_model_gradients(model, x, loss, target):
    model.double().train()
    x = x.astype(np.float64)

    def value():
        _replay_dropout(model)
        return loss(model(x), target)

    model.zero_grad()
    value()
    gx = model.backward(loss.backward())
    grads = {name: p.grad.copy() for name, p in model.named_parameters()}
    assert_grad_close(gx, numerical_grad(value, x), "input", atol=1e-6)
    for name, p in model.named_parameters():
        assert_grad_close(grads[name], numerical_grad(value, p.data), name, atol=1e-6)
    return model


GRAD_CASES = {
    "2d-every-layer": (model_2d, (2, 2, 8, 8), nn.CrossEntropyLoss(), np.array([1, 4])),
    "segmentation-ignore": (model_segmentation, (2, 3, 6, 6), nn.CrossEntropyLoss(
        ignore_index=-1), np.random.default_rng(0).integers(-1, 3, (2, 6, 6))),
    "global-pools-mse": (model_global_pools, (2, 3, 8, 8), nn.MSELoss(),
                         np.random.default_rng(1).standard_normal((2, 3))),
    "1d": (model_1d, (4, 3, 12), nn.MSELoss(reduction="sum"),
           np.random.default_rng(2).random((4, 6))),
    "3d": (model_3d, (2, 2, 4, 4, 4), nn.CrossEntropyLoss(reduction="sum"),
           np.array([0, 2])),
}


@pytest.mark.parametrize("case", GRAD_CASES, ids=str)
def test_model_gradients_match_finite_differences(case, rng):
    make, shape, loss, target = GRAD_CASES[case]
    model = _check_model_gradients(make(), rng.standard_normal(shape), loss, target)
    # the summary's shapes are the shapes the forward pass produces
    assert model.summary(shape[1:]).output_shape == model(rng.standard_normal(shape)).shape[1:]


def test_eval_mode_gradients_match_finite_differences(rng):
    """BatchNorm with running statistics (and Dropout off) in eval mode."""
    model = model_2d().double()
    model.train()
    model(rng.standard_normal((4, 2, 8, 8)))          # some running statistics
    model.eval()
    x = rng.standard_normal((2, 2, 8, 8))
    loss, target = nn.CrossEntropyLoss(), np.array([0, 3])
    model.zero_grad()
    loss(model(x), target)
    gx = model.backward(loss.backward())
    value = lambda: loss(model(x), target)              # noqa: E731
    assert_grad_close(gx, numerical_grad(value, x), "input", atol=1e-6)
    bn = model[1]
    assert_grad_close(bn.weight.grad, numerical_grad(value, bn.weight.data), "bn.weight")


def _grads(model, x, g, need_input=True):
    model.zero_grad()
    model(x)
    gx = model.backward(g, need_input=need_input)
    return gx, {n: None if p.grad is None else p.grad.copy()
                for n, p in model.named_parameters()}


def test_need_input_false_skips_only_the_input_gradient(rng):
    model = model_segmentation().double()
    x, g = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((2, 3, 6, 6))
    gx, full = _grads(model, x, g)
    assert gx.shape == x.shape
    none, partial = _grads(model, x, g, need_input=False)
    assert none is None
    for name in full:
        np.testing.assert_array_equal(partial[name], full[name], err_msg=name)


def test_backward_accumulates_and_zero_grad_clears(rng):
    model = nn.Sequential(nn.Conv2d(2, 3, 3, rng=0), nn.ReLU(), nn.Flatten(),
                          nn.Linear(12, 2, rng=1)).double()
    x, g = rng.standard_normal((2, 2, 4, 4)), rng.standard_normal((2, 2))
    _, once = _grads(model, x, g)
    model(x)
    model.backward(g)                                  # second pass adds up
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * once[name], rtol=1e-12, err_msg=name)
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# ------------------------------------------------------------- freezing ----
def test_frozen_parameters_get_no_gradient_and_the_rest_are_unchanged(rng):
    model = model_2d().double()
    x, g = rng.standard_normal((2, 2, 8, 8)), rng.standard_normal((2, 5))
    _replay_dropout(model)
    _, full = _grads(model, x, g)
    model[0].freeze()                                  # the first conv
    model[8].shortcut.bias.requires_grad = False       # one bias deep inside
    _replay_dropout(model)
    gx, partial = _grads(model, x, g)
    frozen = {"0.weight", "0.bias", "8.shortcut.bias"}
    for name in full:
        if name in frozen:
            assert partial[name] is None, name
        else:
            np.testing.assert_array_equal(partial[name], full[name], err_msg=name)
    assert gx is not None


def test_frozen_leading_layers_are_not_run_backward(rng):
    model = nn.Sequential(nn.Conv2d(2, 3, 3, rng=0), nn.ReLU(), nn.Conv2d(3, 2, 3, rng=1))
    model[0].freeze()

    def fail(*args, **kw):
        raise AssertionError("backward of a frozen leading layer was called")

    model[0].backward = fail
    model[1].backward = fail
    model(rng.standard_normal((1, 2, 6, 6)).astype(np.float32))
    assert model.backward(np.ones((1, 2, 2, 2), np.float32), need_input=False) is None
    assert model[2].weight.grad is not None and model[0].weight.grad is None
    assert not model[0].has_trainable() and model.has_trainable()
    model.unfreeze()
    assert all(p.requires_grad for p in model.parameters())


# ---------------------------------------------- layers vs NumPy references ----
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 7), (3, 3, 4, 5), (2, 3, 2, 3, 4)],
                         ids=["1d-NC", "1d-NCL", "2d", "3d"])
def test_batchnorm_against_reference(shape, momentum, rng):
    cls = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}
    bn = cls[len(shape)](3, eps=1e-3, momentum=momentum, dtype=np.float64)
    bn.weight.data = rng.standard_normal(3)
    bn.bias.data = rng.standard_normal(3)
    mean, var = np.zeros(3), np.ones(3)
    for step in range(1, 4):
        x = rng.standard_normal(shape) * 3 + 1
        y = bn(x)
        f = 1 / step if momentum is None else momentum   # cumulative average when None
        ref, mean, var = batchnorm_train_ref(x, bn.weight.data, bn.bias.data, mean, var, f,
                                             1e-3)
        np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var, var, rtol=1e-12)
        assert bn.num_batches_tracked == step and bn.num_batches_tracked.dtype == np.int64
    bn.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(bn(x), batchnorm_eval_ref(x, bn.weight.data, bn.bias.data,
                                                         mean, var, 1e-3), rtol=1e-12)
    assert bn.num_batches_tracked == 3                  # eval leaves the statistics alone


def test_batchnorm_without_affine_or_running_stats(rng):
    bn = nn.BatchNorm2d(2, affine=False, track_running_stats=False, dtype=np.float64).eval()
    x = rng.standard_normal((3, 2, 4, 4))
    ref, _, _ = batchnorm_train_ref(x, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2),
                                    0.1, 1e-5)
    np.testing.assert_allclose(bn(x), ref, rtol=1e-10)   # no running stats: batch stats
    assert list(bn.state_dict()) == [] and list(bn.parameters()) == []


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_against_reference(shape, bias, rng):
    layer = nn.Linear(5, 3, bias=bias, rng=0, dtype=np.float64)
    x = rng.standard_normal(shape)
    b = layer.bias.data if bias else None
    np.testing.assert_allclose(layer(x), linear_ref(x, layer.weight.data, b), rtol=1e-12)


def test_residual_and_concat_against_reference(rng):
    conv = dict(stride=(1, 1), padding_pairs=((1, 1), (1, 1)), dilation=(1, 1), groups=1,
                padding_mode="zeros")
    x = rng.standard_normal((2, 3, 5, 5))
    c1 = nn.Conv2d(3, 3, 3, padding=1, rng=0, dtype=np.float64)
    c2 = nn.Conv2d(3, 2, 3, padding=1, rng=1, dtype=np.float64)
    sc = nn.Conv2d(3, 3, 3, padding=1, rng=2, dtype=np.float64)
    r1 = conv_nd_reference(x, c1.weight.data, c1.bias.data, **conv)
    r2 = conv_nd_reference(x, c2.weight.data, c2.bias.data, **conv)
    rs = conv_nd_reference(x, sc.weight.data, sc.bias.data, **conv)
    np.testing.assert_allclose(nn.Residual(c1)(x), r1 + x, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(nn.Residual(c1, sc)(x), r1 + rs, rtol=1e-10, atol=1e-12)
    got = nn.Concat(c1, nn.Identity(), c2)(x)
    np.testing.assert_allclose(got, np.concatenate([r1, x, r2], axis=1), rtol=1e-10,
                               atol=1e-12)
    # backward: Concat splits the gradient by channel, Residual adds both paths
    g = rng.standard_normal(got.shape)
    cat = nn.Concat(nn.Identity(), nn.Identity(), nn.Identity())
    cat(x)
    np.testing.assert_allclose(cat.backward(np.concatenate([g[:, :3]] * 3, axis=1)),
                               3 * g[:, :3])
    res = nn.Residual(nn.Identity())
    res(x)
    np.testing.assert_allclose(res.backward(g[:, :3]), 2 * g[:, :3])


def test_activations_against_reference(rng):
    x = np.concatenate([rng.standard_normal(50) * 4, [-800.0, 800.0, 0.0]])
    np.testing.assert_array_equal(nn.ReLU()(x), [max(v, 0.0) for v in x])
    np.testing.assert_allclose(nn.LeakyReLU(0.2)(x), [v if v > 0 else 0.2 * v for v in x])
    with np.errstate(over="raise"):                    # no overflow at +-800
        s = nn.Sigmoid()(x)
    np.testing.assert_allclose(s[:-3], [1 / (1 + math.exp(-v)) for v in x[:-3]], rtol=1e-14)
    np.testing.assert_array_equal(s[-3:], [0.0, 1.0, 0.5])
    np.testing.assert_allclose(nn.Tanh()(x), [math.tanh(v) for v in x], rtol=1e-14)


def test_dropout_masks_scales_and_replays(rng):
    x = rng.random((200, 500)) + 0.5
    d = nn.Dropout(0.3, rng=11)
    y = d(x)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.7, rtol=1e-15)
    n, p = x.size, 0.3
    assert abs((~kept).mean() - p) < 5 * math.sqrt(p * (1 - p) / n)   # binomial, 5 sigma
    g = rng.standard_normal(x.shape)
    np.testing.assert_allclose(d.backward(g), np.where(kept, g / 0.7, 0.0), rtol=1e-15)
    assert not np.array_equal(d(x) != 0, kept)          # a new mask each forward
    np.testing.assert_array_equal(nn.Dropout(0.3, rng=11)(x), y)   # same seed, same mask
    assert nn.Dropout(0.3, rng=11).eval()(x) is x        # identity in eval mode
    assert np.all(nn.Dropout(1.0)(x) == 0)
    with pytest.raises(ValueError, match="p must be in"):
        nn.Dropout(1.5)


def test_flatten_and_identity_shapes(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    f = nn.Flatten()
    assert f(x).shape == (2, 60) and f.backward(np.ones((2, 60))).shape == x.shape
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    assert f.output_shape((3, 4, 5)) == (60,)
    assert nn.Identity()(x) is x


# --------------------------------------------------------------- losses ----
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", [(6, 4), (2, 4, 3, 5)], ids=["classes", "per-pixel"])
def test_cross_entropy_against_reference(shape, reduction, rng):
    logits = rng.standard_normal(shape) * 5
    target = rng.integers(0, 4, shape[:1] + shape[2:])
    target.flat[::3] = -100                             # ignored
    loss = nn.CrossEntropyLoss(reduction=reduction)
    value = loss(logits, target)
    assert value == pytest.approx(cross_entropy_ref(logits, target, -100, reduction),
                                  rel=1e-12)
    grad = loss.backward()
    work = logits.copy()
    numeric = numerical_grad(lambda: loss(work, target), work)
    assert_grad_close(grad, numeric, "logits")


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [-1e4, 1e4, 0.0]])
    loss = nn.CrossEntropyLoss()
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # underflow is fine
        value = loss(logits, np.array([0, 0]))
        grad = loss.backward()
    assert value == pytest.approx(1e4, rel=1e-12)       # (0 + 2e4) / 2
    np.testing.assert_allclose(grad, [[0, 0, 0], [-0.5, 0.5, 0]], atol=1e-300)
    np.testing.assert_allclose(nn.softmax(logits).sum(axis=1), 1.0)


def test_cross_entropy_keeps_float32_and_validates(rng):
    logits = rng.standard_normal((3, 4)).astype(np.float32)
    loss = nn.CrossEntropyLoss()
    loss(logits, np.array([0, 1, 2]))
    assert loss.backward().dtype == np.float32
    with pytest.raises(ValueError, match=r"logits \(3, 4\), target \(2,\)"):
        loss(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match="target values must be in"):
        loss(logits, np.array([0, 1, 4]))
    with pytest.raises(TypeError, match="integer class indices"):
        loss(logits, np.array([0.0, 1.0, 2.0]))
    assert math.isnan(loss(logits, np.full(3, -100)))    # all ignored: NaN, as torch


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_against_reference(reduction, rng):
    out, target = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2))
    loss = nn.MSELoss(reduction)
    assert loss(out, target) == pytest.approx(mse_ref(out, target, reduction), rel=1e-12)
    work = out.copy()
    assert_grad_close(loss.backward(), numerical_grad(lambda: loss(work, target), work), "out")
    with pytest.raises(ValueError, match=r"output shape \(3, 4, 2\) != target shape"):
        loss(out, target[:2])


# ---------------------------------------------------------- Module API ----
def test_parameter_names_follow_torch_and_sequential_indexing():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, rng=0), nn.BatchNorm2d(2), nn.ReLU(),
                          nn.Residual(nn.Conv2d(2, 2, 1, bias=False, rng=1),
                                      nn.Sequential(nn.Identity())),
                          nn.DepthwiseSeparableConv2d(2, 3, 3, rng=2))
    assert [n for n, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "1.weight", "1.bias", "3.block.weight",
        "4.depthwise.weight", "4.depthwise.bias", "4.pointwise.weight", "4.pointwise.bias"]
    assert list(model.state_dict())[4:7] == ["1.running_mean", "1.running_var",
                                             "1.num_batches_tracked"]
    assert len(model) == 5 and isinstance(model[2], nn.ReLU) and model[-1] is model[4]
    assert [type(m).__name__ for m in model[1:3]] == ["BatchNorm2d", "ReLU"]
    assert list(model[1:3].state_dict())[0] == "1.weight"   # a slice keeps names (torch)
    assert len(list(iter(model))) == 5
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    assert "(3): Residual(" in repr(model)


def test_lazy_parameters_and_dtype(rng):
    layer = nn.Conv2d(2, 3, 3, rng=0)
    assert not layer.weight.materialized and layer.weight.shape == (3, 2, 3, 3)
    assert layer.weight.size == 54 and layer.weight.dtype == np.float32
    layer.double()
    assert not layer.weight.materialized and layer.weight.dtype == np.float64
    assert layer.weight.data.dtype == np.float64 and layer.weight.materialized
    x = rng.standard_normal((1, 2, 5, 5))
    assert layer(x).dtype == np.float64
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(np.arange(3))


def test_module_attribute_registration():
    m = nn.Module()
    m.weight = nn.Parameter(np.zeros(2))
    m.child = nn.Linear(2, 2, rng=0)
    m.register_buffer("stat", np.ones(2))
    m.note = "plain"
    assert list(m.state_dict()) == ["weight", "stat", "child.weight", "child.bias"]
    m.stat = np.full(2, 3.0)                            # a buffer stays a buffer
    np.testing.assert_array_equal(m.state_dict()["stat"], [3.0, 3.0])
    with pytest.raises(TypeError, match="is a parameter"):
        m.weight = np.ones(2)
    m.weight = None
    assert [n for n, _ in m.named_parameters()] == ["child.weight", "child.bias"]
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        m.missing


# ----------------------------------------------------------- state dicts ----
def test_state_dict_round_trip(rng):
    a, b = model_2d(), model_2d()
    for p in b.parameters():
        p.data = p.data + 1.0                           # different weights
    a.train()
    a(rng.standard_normal((4, 2, 8, 8)).astype(np.float32))   # running stats move
    state = {k: v.copy() for k, v in a.state_dict().items()}
    assert b.load_state_dict(state) == ([], [])
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, state[k], err_msg=k)
        assert v.dtype == state[k].dtype
    x = rng.standard_normal((2, 2, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(a.eval()(x), b.eval()(x))


def test_state_dict_is_live_and_load_copies():
    layer = nn.Linear(2, 2, rng=0)
    sd = layer.state_dict()
    layer.weight.data -= 1.0                            # an optimizer step in place
    assert sd["weight"] is layer.weight.data
    source = {"weight": np.zeros((2, 2)), "bias": np.zeros(2)}
    held = layer.weight.data                            # e.g. by an optimizer
    layer.load_state_dict(source)
    assert layer.weight.data is held and np.all(held == 0)   # copied in place
    source["weight"][0, 0] = 5.0
    assert layer.weight.data[0, 0] == 0 and layer.weight.dtype == np.float32
    fresh = nn.Linear(2, 2, rng=0)
    fresh.load_state_dict(source)                       # a lazy parameter is just set
    assert fresh.weight.data[0, 0] == 5.0 and fresh.weight.dtype == np.float32


def test_load_state_dict_rejects_bad_keys_and_shapes():
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.BatchNorm1d(3))
    good = {k: np.zeros(v.shape) for k, v in model.state_dict().items()}
    with pytest.raises(KeyError, match=r"missing keys \['1.running_var'\]"):
        model.load_state_dict({k: v for k, v in good.items() if k != "1.running_var"})
    with pytest.raises(KeyError, match=r"unexpected keys \['2.weight'\]"):
        model.load_state_dict({**good, "2.weight": np.zeros(3)})
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(2, 3\), the module "
                                         r"expects \(3, 2\)"):
        model.load_state_dict({**good, "0.weight": np.zeros((2, 3))})
    missing, unexpected = model.load_state_dict({"0.bias": np.ones(3), "x": np.ones(1)},
                                                strict=False)
    assert "0.weight" in missing and unexpected == ["x"]
    np.testing.assert_array_equal(model[0].bias.data, np.ones(3))


# ----------------------------------------------------------- bad inputs ----
def test_layers_name_bad_shapes():
    with pytest.raises(ValueError, match=r"Linear: input shape \(2, 4\) must end with "
                                         "in_features=3"):
        nn.Linear(3, 2, rng=0)(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"BatchNorm2d: .*4 channels on axis 1, got shape "
                                         r"\(2, 3, 4, 4\)"):
        nn.BatchNorm2d(4)(np.zeros((2, 3, 4, 4)))
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm1d(3)(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="groups=2 must divide"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Concat: branch outputs \[\(1, 2, 4, 4\), "
                                         r"\(1, 2, 2, 2\)\] differ"):
        nn.Concat(nn.Identity(), nn.MaxPool2d(2))(np.zeros((1, 2, 4, 4)))
    with pytest.raises(ValueError, match="Residual: block output shape"):
        nn.Residual(nn.MaxPool2d(2))(np.zeros((1, 2, 4, 4)))
    with pytest.raises(ValueError, match=r"Conv2d: input shape \(2, 8, 8\) must start "
                                         "with 3 channels"):
        nn.Conv2d(3, 4, 3).summary((2, 8, 8))
    with pytest.raises(TypeError, match="rng must be"):
        nn.Linear(2, 2, rng="seed")


# -------------------------------------------------------- initialisation ----
def test_same_seed_same_weights_whatever_is_read_first():
    a, b, c = model_2d(), model_2d(), nn.Sequential(nn.Conv2d(2, 4, 3, rng=99))
    for p in reversed(list(b.parameters())):            # materialise in another order
        p.data
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data, err_msg=name)
    assert not np.array_equal(a[0].weight.data, c[0].weight.data)
    assert not np.array_equal(a[0].weight.data, a[3].block[0].weight.data[:, :2])


def test_deep_copy_of_an_unmaterialised_model_has_the_same_weights(rng):
    a = model_2d()
    b = copy.deepcopy(a)
    x = rng.standard_normal((2, 2, 8, 8)).astype(np.float32)
    a.eval()
    b.eval()
    np.testing.assert_array_equal(a(x), b(x))
    assert a[0].weight.data is not b[0].weight.data


def test_one_generator_builds_a_reproducible_model():
    def build(seed):
        g = np.random.default_rng(seed)
        return nn.Sequential(nn.Conv2d(2, 3, 3, rng=g), nn.Linear(3, 3, rng=g),
                             nn.Dropout(rng=g))
    a, b, c = build(1), build(1), build(2)
    for (name, v), w in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(v, w, err_msg=name)
    assert not np.array_equal(a[0].weight.data, c[0].weight.data)
    assert not np.array_equal(a[0].weight.data.ravel()[:9], a[1].weight.data.ravel())
    x = np.ones((50, 50))
    np.testing.assert_array_equal(a[2](x), b[2](x))


SHAPE = (128, 64, 3, 3)            # fan_in 576, fan_out 1152; 73,728 samples
FAN_IN, FAN_OUT = 64 * 9, 128 * 9


@pytest.mark.parametrize("name, fill, std", [
    ("kaiming_normal relu fan_in",
     lambda a, r: init.kaiming_normal_(a, nonlinearity="relu", rng=r),
     math.sqrt(2 / FAN_IN)),
    ("kaiming_normal relu fan_out",
     lambda a, r: init.kaiming_normal_(a, mode="fan_out", nonlinearity="relu", rng=r),
     math.sqrt(2 / FAN_OUT)),
    ("kaiming_uniform leaky 0.2",
     lambda a, r: init.kaiming_uniform_(a, a=0.2, rng=r), math.sqrt(2 / 1.04 / FAN_IN)),
    ("xavier_uniform", lambda a, r: init.xavier_uniform_(a, rng=r),
     math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("xavier_normal gain tanh",
     lambda a, r: init.xavier_normal_(a, gain=init.calculate_gain("tanh"), rng=r),
     5 / 3 * math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("torch default", lambda a, r: init.default_weight_(a, rng=r), 1 / math.sqrt(3 * FAN_IN)),
])
def test_init_variance_follows_the_formula(name, fill, std):
    """Sample std within 2% of the formula: the sampling error of 73,728 values is
    ~0.3% (uniform) to 0.26% (normal), while a wrong gain (sqrt 2) or fan (x2)
    is off by >= 29%."""
    a = fill(np.empty(SHAPE, np.float64), np.random.default_rng(0))
    assert abs(a.mean()) < 5 * std / math.sqrt(a.size)
    assert a.std() == pytest.approx(std, rel=0.02), name
    if "uniform" in name or "default" in name:          # U(-b, b): b = sqrt(3) * std
        bound = math.sqrt(3) * std
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.999 * bound


def test_default_layer_init_is_torchs():
    layer = nn.Conv2d(16, 8, 3, rng=0)
    bound = 1 / math.sqrt(16 * 9)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.9 * bound
    assert layer.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.1)


def test_init_errors_and_gains():
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert init.fan_in_and_fan_out((4, 3, 2, 5)) == (30, 40)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(np.empty(3))
    with pytest.raises(ValueError, match="mode must be"):
        init.kaiming_normal_(np.empty((2, 2)), mode="fan")
