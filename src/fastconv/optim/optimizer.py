"""The optimizer base: bookkeeping here, the arithmetic in each subclass's update()."""
import numbers

__all__ = ["Optimizer"]


class Optimizer:
    """Updates parameters in place from their gradients.

    A parameter is any object with ``.data`` (an ndarray, updated in place),
    ``.grad`` (an ndarray of the same shape, or None) and ``.requires_grad``;
    ``fastconv.nn.Parameter`` is one.  ``step()`` does the bookkeeping: it skips
    parameters that are frozen or have no gradient, counts steps per parameter
    and hands ``(data, grad, state)`` to ``update``, which subclasses implement
    as the per-parameter formula alone (it reads the hyper-parameters from
    ``self`` and writes only ``data`` and ``state``).

    Parameters
    ----------
    params : iterable of parameters
        E.g. ``model.parameters()``.  Duplicates are updated once.
    lr : float
        Learning rate, > 0.  ``optimizer.lr`` may be changed between steps
        (the learning-rate schedules do); ``optimizer.initial_lr`` keeps the
        value given here.
    """

    def __init__(self, params, lr):
        self.params = _unique(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        self.lr = _check_nonneg("lr", lr, positive=True)
        self.initial_lr = self.lr
        self.state = [{} for _ in self.params]  # per parameter; state["step"] counts its updates

    def step(self):
        """Apply one update to every parameter that requires and has a gradient."""
        for param, state in zip(self.params, self.state):
            if not param.requires_grad or param.grad is None:
                continue
            if param.grad.shape != param.data.shape:
                raise ValueError(f"{type(self).__name__}.step: a parameter of shape "
                                 f"{param.data.shape} has a gradient of shape {param.grad.shape}")
            state["step"] = state.get("step", 0) + 1
            self.update(param.data, param.grad, state)

    def update(self, data, grad, state):
        """Update ``data`` (and ``state``) in place from ``grad``; state["step"]
        is this parameter's step number, starting at 1."""
        raise NotImplementedError

    def zero_grad(self):
        """Forget all gradients (set them to None, as torch does by default)."""
        for param in self.params:
            param.grad = None

    def __repr__(self):
        return f"{type(self).__name__}({len(self.params)} parameters, {self._hyper()})"

    def _hyper(self):
        return f"lr={self.lr:g}"


def _unique(params):
    seen, unique = set(), []
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            unique.append(p)
    return unique


def _check_nonneg(name, value, positive=False, below_one=False):
    """A float hyper-parameter: >= 0 (> 0 if positive, < 1 if below_one)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not (value > 0 if positive else value >= 0) or (below_one and not value < 1):
        bounds = ("> 0" if positive else ">= 0") + (" and < 1" if below_one else "")
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return value
