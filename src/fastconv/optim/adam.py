"""Adam and AdamW."""
import numpy as np

from fastconv.optim.optimizer import Optimizer, _check_nonneg

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""torch.optim.Adam's update, per parameter at step t::

        g = grad + weight_decay * p                  (L2 penalty; Adam only)
        m = beta1 * m + (1 - beta1) * g              (m, v start at 0)
        v = beta2 * v + (1 - beta2) * g**2
        p = p - lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)

    Parameters
    ----------
    params : iterable of parameters
    lr : float
    betas : (float, float), each in [0, 1)
    eps : float, >= 0
    weight_decay : float, >= 0
    """
    decoupled = False  # AdamW decays the weights directly instead of the gradient

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair of floats, got {betas!r}") from None
        self.betas = (_check_nonneg("betas[0]", beta1, below_one=True),
                      _check_nonneg("betas[1]", beta2, below_one=True))
        self.eps = _check_nonneg("eps", eps)
        self.weight_decay = _check_nonneg("weight_decay", weight_decay)

    def update(self, data, grad, state):
        beta1, beta2 = self.betas
        t = state["step"]
        g = grad
        if self.weight_decay:
            if self.decoupled:
                data *= 1 - self.lr * self.weight_decay
            else:
                g = grad + self.weight_decay * data
        if t == 1:
            state["exp_avg"] = np.zeros_like(data)
            state["exp_avg_sq"] = np.zeros_like(data)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * np.square(g)
        denom = np.sqrt(v / (1 - beta2 ** t))
        denom += self.eps
        data -= (self.lr / (1 - beta1 ** t)) * m / denom

    def _hyper(self):
        return (f"lr={self.lr:g}, betas={self.betas}, eps={self.eps:g}, "
                f"weight_decay={self.weight_decay:g}")


class AdamW(Adam):
    r"""torch.optim.AdamW: Adam with decoupled weight decay.  Before the Adam
    step (which then uses the plain gradient)::

        p = p * (1 - lr * weight_decay)

    The default weight_decay is 0.01, as in torch.
    """
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)
