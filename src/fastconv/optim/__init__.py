"""Optimizers and learning-rate schedules for ``fastconv.nn`` models.

Optimizers follow torch.optim's update formulas and update ``param.data`` in
place; schedules follow torch.optim.lr_scheduler's closed forms.
"""
from fastconv.optim.optimizer import Optimizer
from fastconv.optim.sgd import SGD
from fastconv.optim.adam import Adam, AdamW
from fastconv.optim.lr_scheduler import (LRScheduler, StepLR, ExponentialLR, PowerDecayLR,
                                         CosineAnnealingLR, LinearWarmup)

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "LRScheduler", "StepLR", "ExponentialLR",
           "PowerDecayLR", "CosineAnnealingLR", "LinearWarmup"]
