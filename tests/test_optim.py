"""fastconv.optim: optimizer steps against plain-NumPy re-implementations of the
documented torch.optim formulas (written here, step by step) and against
torch.optim when installed; schedules against their closed forms and torch."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

from fastconv import optim

STEPS = 6


def make_param(rng, shape=(3, 4), dtype=np.float64):
    return SimpleNamespace(data=rng.standard_normal(shape).astype(dtype), grad=None,
                           requires_grad=True)


def gradient(p, t):
    """A gradient that depends on the parameter (so a wrong earlier step
    changes every later one) and on the step."""
    return np.sin(3 * p + t) + 0.1 * t


# -- plain-NumPy references: the formulas of torch.optim's documentation ----
def sgd_reference(p, steps, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                  nesterov=False):
    p = p.copy()
    b = None
    for t in range(1, steps + 1):
        g = gradient(p, t)
        if weight_decay != 0:
            g = g + weight_decay * p
        if momentum != 0:
            if t > 1:
                b = momentum * b + (1 - dampening) * g
            else:
                b = g.copy()
            if nesterov:
                g = g + momentum * b
            else:
                g = b
        p = p - lr * g
    return p


def adam_reference(p, steps, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   decoupled=False):
    p = p.copy()
    beta1, beta2 = betas
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t in range(1, steps + 1):
        g = gradient(p, t)
        if decoupled:
            p = p - lr * weight_decay * p
        elif weight_decay != 0:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


SGD_VARIANTS = {
    "plain": dict(lr=0.1),
    "momentum": dict(lr=0.05, momentum=0.9),
    "dampening": dict(lr=0.05, momentum=0.8, dampening=0.3),
    "nesterov": dict(lr=0.05, momentum=0.9, nesterov=True),
    "weight_decay": dict(lr=0.1, weight_decay=0.05),
    "momentum_wd_nesterov": dict(lr=0.03, momentum=0.7, weight_decay=0.1, nesterov=True),
}
ADAM_VARIANTS = {
    "adam": (optim.Adam, dict(lr=0.01), False),
    "adam_betas_eps": (optim.Adam, dict(lr=0.02, betas=(0.5, 0.9), eps=1e-3), False),
    "adam_wd": (optim.Adam, dict(lr=0.01, weight_decay=0.2), False),
    "adamw_default_wd": (optim.AdamW, dict(lr=0.01), True),
    "adamw_wd": (optim.AdamW, dict(lr=0.05, weight_decay=0.3, betas=(0.8, 0.95)), True),
}


def run_fastconv(make_opt, p0, steps=STEPS):
    param = SimpleNamespace(data=p0.copy(), grad=None, requires_grad=True)
    opt = make_opt([param])
    for t in range(1, steps + 1):
        opt.zero_grad()
        param.grad = gradient(param.data, t)
        opt.step()
    return param.data


def run_torch(torch, make_opt, p0, steps=STEPS):
    param = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    opt = make_opt([param])
    for t in range(1, steps + 1):
        opt.zero_grad()
        param.grad = torch.from_numpy(gradient(param.detach().numpy(), t))
        opt.step()
    return param.detach().numpy()


@pytest.mark.parametrize("variant", SGD_VARIANTS)
def test_sgd_matches_reference(rng, variant):
    kw = SGD_VARIANTS[variant]
    p0 = make_param(rng).data
    got = run_fastconv(lambda ps: optim.SGD(ps, **kw), p0)
    np.testing.assert_allclose(got, sgd_reference(p0, STEPS, **kw), rtol=1e-13, atol=1e-13)
    assert not np.allclose(got, p0)


@pytest.mark.parametrize("variant", ADAM_VARIANTS)
def test_adam_matches_reference(rng, variant):
    cls, kw, decoupled = ADAM_VARIANTS[variant]
    p0 = make_param(rng).data
    got = run_fastconv(lambda ps: cls(ps, **kw), p0)
    ref_kw = dict(kw)
    if decoupled:
        ref_kw.setdefault("weight_decay", 0.01)  # torch's AdamW default
    np.testing.assert_allclose(got, adam_reference(p0, STEPS, decoupled=decoupled, **ref_kw),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("variant", SGD_VARIANTS)
def test_sgd_matches_torch(rng, variant):
    torch = pytest.importorskip("torch")
    kw = SGD_VARIANTS[variant]
    p0 = make_param(rng).data
    got = run_fastconv(lambda ps: optim.SGD(ps, **kw), p0)
    want = run_torch(torch, lambda ps: torch.optim.SGD(ps, **kw), p0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("variant", ADAM_VARIANTS)
def test_adam_matches_torch(rng, variant):
    torch = pytest.importorskip("torch")
    cls, kw, _ = ADAM_VARIANTS[variant]
    torch_cls = getattr(torch.optim, cls.__name__)
    p0 = make_param(rng).data
    got = run_fastconv(lambda ps: cls(ps, **kw), p0)
    want = run_torch(torch, lambda ps: torch_cls(ps, **kw), p0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.AdamW(ps, lr=0.1)], ids=["sgd", "adamw"])
def test_float32_stays_float32_in_place(rng, make):
    param = make_param(rng, dtype=np.float32)
    buffer = param.data
    opt = make([param])
    for t in range(1, 3):
        param.grad = gradient(param.data, t).astype(np.float32)
        opt.step()
    assert param.data is buffer and param.data.dtype == np.float32
    assert all(a.dtype == np.float32 for a in opt.state[0].values() if isinstance(a, np.ndarray))


def test_skips_frozen_and_gradless_parameters_and_counts_steps_per_parameter(rng):
    """A parameter without a gradient is left alone and its Adam step count
    does not advance (its bias correction starts when it first gets one), as
    in torch; a frozen parameter is never updated."""
    live, late, frozen = (make_param(rng) for _ in range(3))
    frozen.requires_grad = False
    late0, frozen0 = late.data.copy(), frozen.data.copy()
    opt = optim.Adam([live, late, frozen, live], lr=0.1)  # a duplicate is updated once
    assert len(opt.params) == 3
    for t in range(1, 4):
        opt.zero_grad()
        assert live.grad is None and late.grad is None
        live.grad = gradient(live.data, t)
        frozen.grad = gradient(frozen.data, t)
        if t == 3:
            late.grad = gradient(late.data, 1)
        else:
            np.testing.assert_array_equal(late.data, late0)
        opt.step()
    np.testing.assert_array_equal(frozen.data, frozen0)
    assert opt.state[0]["step"] == 3 and opt.state[1]["step"] == 1 and "step" not in opt.state[2]
    np.testing.assert_allclose(late.data, adam_reference(late0, 1, lr=0.1), rtol=1e-13)


def test_lr_change_takes_effect(rng):
    param = make_param(rng)
    opt = optim.SGD([param], lr=1.0)
    opt.lr = 0.25
    before = param.data.copy()
    param.grad = np.ones_like(before)
    opt.step()
    np.testing.assert_allclose(param.data, before - 0.25)
    assert opt.initial_lr == 1.0


@pytest.mark.parametrize("make, match", [
    (lambda ps: optim.SGD(ps, lr=-1), "lr"),
    (lambda ps: optim.SGD(ps, lr=0), "lr"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-0.5), "momentum"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), "nesterov"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (lambda ps: optim.Adam(ps, betas=(0.9, 1.0)), "betas"),
    (lambda ps: optim.Adam(ps, betas=0.9), "betas"),
    (lambda ps: optim.AdamW(ps, weight_decay=-0.1), "weight_decay"),
    (lambda ps: optim.SGD([], lr=0.1), "empty"),
])
def test_bad_hyper_parameters(rng, make, match):
    with pytest.raises(ValueError, match=match):
        make([make_param(rng)])


def test_bad_types_and_gradient_shape(rng):
    with pytest.raises(TypeError, match="lr"):
        optim.SGD([make_param(rng)], lr="0.1")
    param = make_param(rng)
    opt = optim.SGD([param], lr=0.1)
    param.grad = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(4, 3\)"):
        opt.step()


# -- schedules ----------------------------------------------------------------
def lrs_of(make_schedule, steps=12, lr=0.5):
    opt = optim.SGD([SimpleNamespace(data=np.zeros(1), grad=None, requires_grad=True)], lr=lr)
    sched = make_schedule(opt)
    lrs = [opt.lr]
    for _ in range(steps):
        sched.step()
        lrs.append(opt.lr)
    return lrs


SCHEDULES = {
    "step": (lambda o: optim.StepLR(o, step_size=3, gamma=0.5),
             lambda t: 0.5 * 0.5 ** math.floor(t / 3)),
    "exponential": (lambda o: optim.ExponentialLR(o, gamma=0.8), lambda t: 0.5 * 0.8 ** t),
    "power": (lambda o: optim.PowerDecayLR(o, power=0.5), lambda t: 0.5 / math.sqrt(t + 1)),
    "cosine": (lambda o: optim.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
               lambda t: 0.01 + (0.5 - 0.01) * (1 + math.cos(math.pi * t / 10)) / 2),
    "warmup": (lambda o: optim.LinearWarmup(o, 4, start_factor=0.2),
               lambda t: 0.5 * (0.2 + 0.8 * t / 4) if t < 4 else 0.5),
    "warmup_then_cosine": (
        lambda o: optim.LinearWarmup(o, 4, then=optim.CosineAnnealingLR(o, T_max=8)),
        lambda t: 0.5 * (0.1 + 0.9 * t / 4) if t < 4
        else 0.5 * (1 + math.cos(math.pi * (t - 4) / 8)) / 2),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_closed_form(name):
    make, formula = SCHEDULES[name]
    np.testing.assert_allclose(lrs_of(make), [formula(t) for t in range(13)], rtol=1e-14)


def test_schedules_match_torch():
    torch = pytest.importorskip("torch")
    S = torch.optim.lr_scheduler

    def torch_lrs(make, steps=12):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
        sched = make(opt)
        lrs = [opt.param_groups[0]["lr"]]
        for _ in range(steps):
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        return lrs

    pairs = {
        "step": lambda o: S.StepLR(o, step_size=3, gamma=0.5),
        "exponential": lambda o: S.ExponentialLR(o, gamma=0.8),
        "cosine": lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
        "warmup": lambda o: S.LinearLR(o, start_factor=0.2, total_iters=4),
        "warmup_then_cosine": lambda o: S.SequentialLR(
            o, [S.LinearLR(o, start_factor=0.1, total_iters=4),
                S.CosineAnnealingLR(o, T_max=8)], milestones=[4]),
    }
    for name, make_torch in pairs.items():
        np.testing.assert_allclose(lrs_of(SCHEDULES[name][0]), torch_lrs(make_torch),
                                   rtol=1e-10, atol=1e-12, err_msg=name)


def test_schedule_bad_input():
    opt = optim.SGD([SimpleNamespace(data=np.zeros(1), grad=None, requires_grad=True)], lr=0.1)
    other = optim.SGD([SimpleNamespace(data=np.zeros(1), grad=None, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="step_size"):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(TypeError, match="T_max"):
        optim.CosineAnnealingLR(opt, T_max=2.5)
    with pytest.raises(ValueError, match="different optimizer"):
        optim.LinearWarmup(opt, 3, then=optim.ExponentialLR(other, 0.9))
