"""fastconv.nn: layers, containers, losses, metrics, initialisation and a model zoo.

A minimal PyTorch-like module system on fastconv's operations.  Forward and
backward are explicit: ``y = model(x)``; ``grad_x = model.backward(grad_y)``
accumulates parameter gradients into ``Parameter.grad`` (like torch) and
returns the input gradient.  Key names and shapes of ``state_dict`` follow
``torch.nn``, so weights move between the two.
"""
from fastconv.nn import init, metrics, zoo
from fastconv.nn.module import Module, Parameter, Sequential
from fastconv.nn.combinators import Concat, Residual
from fastconv.nn.layers import *  # noqa: F403  (the layer classes, listed in layers.__all__)
from fastconv.nn.layers import __all__ as _layers
from fastconv.nn.losses import CrossEntropyLoss, MSELoss, log_softmax, softmax
from fastconv.nn.summary import Row, Summary

__all__ = ["Module", "Parameter", "Sequential", "Residual", "Concat", *_layers,
           "CrossEntropyLoss", "MSELoss", "softmax", "log_softmax", "Summary", "Row", "init",
           "metrics", "zoo"]
