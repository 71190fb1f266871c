"""Learning-rate schedules (torch.optim.lr_scheduler's names and closed forms).

A schedule sets ``optimizer.lr`` to ``initial_lr * factor(t)``, where t is the
number of ``step()`` calls so far (0 when it is made).  Call ``step()`` once
per epoch, after the epoch, as with torch (``fastconv.train.fit`` does).
Every factor is a closed form of t, so schedules compose:
``LinearWarmup(opt, 5, then=CosineAnnealingLR(opt, T_max=45))``.
"""
import math
import numbers

from fastconv.optim.optimizer import _check_nonneg

__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "PowerDecayLR", "CosineAnnealingLR",
           "LinearWarmup"]


class LRScheduler:
    """Base: subclasses define ``factor(t)``, the multiplier of the initial
    learning rate after t steps (factor(0) == 1 except during a warm-up)."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lr = optimizer.initial_lr
        self.last_step = 0
        optimizer.lr = self.lr_at(0)

    def factor(self, t):
        raise NotImplementedError

    def lr_at(self, t):
        """The learning rate after t calls of step()."""
        return self.base_lr * self.factor(t)

    def step(self):
        self.last_step += 1
        self.optimizer.lr = self.lr_at(self.last_step)

    def get_last_lr(self):
        return self.optimizer.lr


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (t // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size = _check_count("step_size", step_size)
        self.gamma = _check_nonneg("gamma", gamma)
        super().__init__(optimizer)

    def factor(self, t):
        return self.gamma ** (t // self.step_size)


class ExponentialLR(LRScheduler):
    """lr = initial_lr * gamma ** t."""

    def __init__(self, optimizer, gamma):
        self.gamma = _check_nonneg("gamma", gamma)
        super().__init__(optimizer)

    def factor(self, t):
        return self.gamma ** t


class PowerDecayLR(LRScheduler):
    """eta_t = eta_0 / t ** power for the t-th epoch, t = 1, 2, ...: after k
    calls of step() the rate is initial_lr / (k + 1) ** power."""

    def __init__(self, optimizer, power):
        self.power = _check_nonneg("power", power)
        super().__init__(optimizer)

    def factor(self, t):
        return (t + 1) ** -self.power


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2:
    from initial_lr down to eta_min in T_max steps (torch's closed form, which
    rises again after T_max)."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max = _check_count("T_max", T_max)
        self.eta_min = _check_nonneg("eta_min", eta_min)
        super().__init__(optimizer)

    def factor(self, t):
        floor = self.eta_min / self.base_lr
        return floor + (1 - floor) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class LinearWarmup(LRScheduler):
    """A linear ramp of the factor from start_factor to 1 over warmup_steps
    steps, then the schedule ``then`` (counting its own steps from 0 at the end
    of the warm-up), or the initial rate if ``then`` is None."""

    def __init__(self, optimizer, warmup_steps, then=None, start_factor=0.1):
        self.warmup_steps = _check_count("warmup_steps", warmup_steps)
        self.start_factor = _check_nonneg("start_factor", start_factor)
        if then is not None and then.optimizer is not optimizer:
            raise ValueError("LinearWarmup: `then` schedules a different optimizer")
        self.then = then
        super().__init__(optimizer)

    def factor(self, t):
        if t < self.warmup_steps:
            return self.start_factor + (1 - self.start_factor) * t / self.warmup_steps
        return 1.0 if self.then is None else self.then.factor(t - self.warmup_steps)


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)
