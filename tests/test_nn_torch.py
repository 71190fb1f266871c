"""Optional cross-checks of fastconv.nn against torch.nn: a torch state_dict
loads by key and gives torch's outputs, running statistics and gradients."""
from types import SimpleNamespace

import numpy as np
import pytest

import fastconv.nn as nn

torch = pytest.importorskip("torch")
tnn = torch.nn


class TorchResidual(tnn.Module):
    """The torch arrangement fastconv's Residual mirrors (same child names)."""

    def __init__(self, block, shortcut=None):
        super().__init__()
        self.block, self.shortcut = block, shortcut

    def forward(self, x):
        return self.block(x) + (x if self.shortcut is None else self.shortcut(x))


class TorchConcat(tnn.Module):
    def __init__(self, *branches):
        super().__init__()
        for i, b in enumerate(branches):
            self.add_module(str(i), b)

    def forward(self, x):
        return torch.cat([b(x) for b in self.children()], dim=1)


# torch.nn's names plus the arrangements above, so one builder makes both models
TORCH = SimpleNamespace(**{k: getattr(tnn, k) for k in dir(tnn) if not k.startswith("_")},
                        Residual=TorchResidual, Concat=TorchConcat,
                        DepthwiseConv2d=lambda c, k, padding: tnn.Conv2d(c, c, k, padding=padding,
                                                                         groups=c))


def model_2d(L):
    return L.Sequential(
        L.Conv2d(3, 8, 3, padding=1), L.BatchNorm2d(8), L.ReLU(), L.MaxPool2d(2),
        L.Residual(L.Sequential(L.Conv2d(8, 8, 3, padding=1, groups=2,
                                         padding_mode="reflect", bias=False),
                                L.BatchNorm2d(8), L.LeakyReLU(0.1)),
                   L.Sequential(L.Conv2d(8, 8, 1), L.BatchNorm2d(8))),
        L.Concat(L.Identity(), L.Sequential(L.DepthwiseConv2d(8, 3, padding=1), L.Tanh())),
        L.ChannelShuffle(4),
        L.ConvTranspose2d(16, 4, 2, stride=2), L.AvgPool2d(2),
        L.Upsample(scale_factor=2, mode="bilinear"), L.AdaptiveAvgPool2d(2),
        L.Flatten(), L.Dropout(0.5), L.Linear(16, 5), L.Sigmoid())


def model_1d_3d(L):
    return L.Sequential(
        L.Conv3d(2, 4, 3, padding=1), L.BatchNorm3d(4, momentum=None), L.ReLU(),
        L.MaxPool3d(2), L.ConvTranspose3d(4, 3, 2, stride=2), L.AvgPool3d(2),
        L.Flatten(2), L.Conv1d(3, 4, 3, padding=1, padding_mode="circular"),
        L.BatchNorm1d(4, momentum=0.3), L.Tanh(), L.MaxPool1d(2),
        L.Flatten(), L.Linear(16, 6), L.BatchNorm1d(6))


def pair_2d():
    return model_2d(TORCH), model_2d(nn), (4, 3, 8, 8)


def pair_1d_3d():
    return model_1d_3d(TORCH), model_1d_3d(nn), (3, 2, 4, 4, 4)


def numpy_state(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("make", [pair_2d, pair_1d_3d], ids=["2d", "1d-3d"])
def test_torch_state_dict_loads_and_matches_in_train_and_eval(make, rng):
    torch.manual_seed(0)
    t, f, shape = make()
    t = t.double().train()
    for m in t.modules():                  # disable dropout for the train-mode step
        if isinstance(m, tnn.Dropout):
            m.p = 0.0
    for _ in range(2):                     # non-trivial running statistics
        t(torch.randn(shape, dtype=torch.float64))
    assert list(numpy_state(t)) == list(f.state_dict())
    f.double().load_state_dict(numpy_state(t))
    for m in f.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0

    # train mode: outputs, updated running statistics and every gradient
    x = rng.standard_normal(shape)
    xt = torch.tensor(x, requires_grad=True)
    yt = t(xt)
    y = f(x)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(y.shape)
    yt.backward(torch.tensor(g))
    f.zero_grad()
    gx = f.backward(g)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    grads = {n: p.grad for n, p in t.named_parameters()}
    for name, p in f.named_parameters():
        np.testing.assert_allclose(p.grad, grads[name].numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)
    for name, value in numpy_state(t).items():
        np.testing.assert_allclose(f.state_dict()[name], value, rtol=1e-12, err_msg=name)

    # eval mode: running statistics, no dropout
    t.eval()
    f.eval()
    x = rng.standard_normal(shape)
    with torch.no_grad():
        expected = t(torch.tensor(x)).numpy()
    np.testing.assert_allclose(f(x), expected, rtol=1e-10, atol=1e-12)


def test_float32_torch_weights_give_torch_outputs(rng):
    torch.manual_seed(1)
    t, f, shape = pair_2d()
    t.eval()
    f.load_state_dict(numpy_state(t))
    f.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        expected = t(torch.tensor(x)).numpy()
    got = f(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3, 3)], ids=["classes", "per-pixel"])
def test_losses_match_torch(shape, rng):
    logits = rng.standard_normal(shape) * 3
    target = rng.integers(0, 4, shape[:1] + shape[2:])
    target.flat[::4] = 7
    lt = torch.tensor(logits, requires_grad=True)
    expected = tnn.CrossEntropyLoss(ignore_index=7)(lt, torch.tensor(target))
    expected.backward()
    loss = nn.CrossEntropyLoss(ignore_index=7)
    assert loss(logits, target) == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), lt.grad.numpy(), rtol=1e-10, atol=1e-15)

    out, goal = rng.standard_normal(shape), rng.standard_normal(shape)
    ot = torch.tensor(out, requires_grad=True)
    mse = tnn.MSELoss()(ot, torch.tensor(goal))
    mse.backward()
    ours = nn.MSELoss()
    assert ours(out, goal) == pytest.approx(mse.item(), rel=1e-12)
    np.testing.assert_allclose(ours.backward(), ot.grad.numpy(), rtol=1e-12)
