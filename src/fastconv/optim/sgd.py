"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay."""
import numpy as np

from fastconv.optim.optimizer import Optimizer, _check_nonneg

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""torch.optim.SGD's update, per parameter at step t::

        g = grad + weight_decay * p                  (L2 penalty)
        b = g                            if t == 1   (momentum buffer)
        b = momentum * b + (1 - dampening) * g       otherwise
        g = g + momentum * b             if nesterov
        g = b                            otherwise (when momentum > 0)
        p = p - lr * g

    Parameters
    ----------
    params : iterable of parameters
    lr : float
    momentum, dampening, weight_decay : float, >= 0
    nesterov : bool
        Needs momentum > 0 and dampening == 0 (as in torch).
    """

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        super().__init__(params, lr)
        self.momentum = _check_nonneg("momentum", momentum)
        self.dampening = _check_nonneg("dampening", dampening)
        self.weight_decay = _check_nonneg("weight_decay", weight_decay)
        if nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError(f"nesterov=True needs momentum > 0 and dampening == 0, got "
                             f"momentum={self.momentum}, dampening={self.dampening}")
        self.nesterov = bool(nesterov)

    def update(self, data, grad, state):
        g = grad + self.weight_decay * data if self.weight_decay else grad
        if self.momentum:
            if state["step"] == 1:
                state["momentum_buffer"] = b = np.array(g, dtype=data.dtype)
            else:
                b = state["momentum_buffer"]
                b *= self.momentum
                b += (1 - self.dampening) * g
            g = g + self.momentum * b if self.nesterov else b
        data -= self.lr * g

    def _hyper(self):
        return (f"lr={self.lr:g}, momentum={self.momentum:g}, dampening={self.dampening:g}, "
                f"weight_decay={self.weight_decay:g}, nesterov={self.nesterov}")
