"""Losses: ``loss(output, target)`` returns a float, ``loss.backward()`` the
gradient with respect to ``output`` of the most recent call."""
import numpy as np

__all__ = ["log_softmax", "softmax", "CrossEntropyLoss", "MSELoss"]


def log_softmax(x, axis=1):
    """``x - logsumexp(x)`` along ``axis``, shifted by the maximum so exp never overflows."""
    x = np.asarray(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(x, axis=1):
    """Numerically stable softmax along ``axis``."""
    return np.exp(log_softmax(x, axis))


def _reduction(name, reduction):
    if reduction not in ("mean", "sum"):
        raise ValueError(f"{name}: reduction must be 'mean' or 'sum', got {reduction!r}")
    return reduction


class CrossEntropyLoss:
    """Cross entropy of logits and class indices, ``torch.nn.CrossEntropyLoss``'s rules.

    ``logits`` (N, K) with ``target`` (N,), or per pixel (segmentation)
    ``logits`` (N, K, *spatial) with ``target`` (N, *spatial); targets are ints
    in ``[0, K)`` or ``ignore_index``.  The loss of one element is
    ``-log_softmax(logits)[target]``; 'mean' averages over the non-ignored
    elements (NaN when all are ignored, as torch), 'sum' adds them.
    """

    def __init__(self, ignore_index=-100, reduction="mean"):
        self.ignore_index = int(ignore_index)
        self.reduction = _reduction("CrossEntropyLoss", reduction)

    def __call__(self, logits, target):
        return self.forward(logits, target)

    def forward(self, logits, target):
        logits, target = np.asarray(logits), np.asarray(target)
        if logits.dtype.kind != "f":
            raise TypeError(f"CrossEntropyLoss: logits must be floating, got {logits.dtype}")
        if target.dtype.kind not in "iu":
            raise TypeError(f"CrossEntropyLoss: target must hold integer class indices, got "
                            f"{target.dtype}")
        if logits.ndim < 2 or target.shape != logits.shape[:1] + logits.shape[2:]:
            raise ValueError(f"CrossEntropyLoss: logits (N, K, *spatial) and target (N, "
                             f"*spatial) do not match: logits {logits.shape}, target "
                             f"{target.shape}")
        k = logits.shape[1]
        valid = target != self.ignore_index
        if np.any((target[valid] < 0) | (target[valid] >= k)):
            raise ValueError(f"CrossEntropyLoss: target values must be in [0, {k}) or "
                             f"ignore_index={self.ignore_index}")
        logp = log_softmax(logits, axis=1)
        safe = np.where(valid, target, 0)
        picked = np.take_along_axis(logp, np.expand_dims(safe, 1), axis=1)[:, 0]
        total = -picked[valid].sum(dtype=np.float64)
        count = int(valid.sum())
        self._cache = (logp, safe, valid, count)
        if self.reduction == "sum":
            return float(total)
        return float(total / count) if count else float("nan")

    def backward(self, grad_output=1.0):
        """Gradient w.r.t. the logits: ``(softmax - one_hot(target)) * scale``, zero on
        ignored elements; scale is ``grad_output / count`` for 'mean'."""
        logp, safe, valid, count = self._cache
        grad = np.exp(logp)
        np.put_along_axis(grad, np.expand_dims(safe, 1),
                          np.take_along_axis(grad, np.expand_dims(safe, 1), axis=1) - 1,
                          axis=1)
        grad *= np.expand_dims(valid, 1)
        scale = grad_output if self.reduction == "sum" else (
            grad_output / count if count else float("nan"))
        return grad * grad.dtype.type(scale)


class MSELoss:
    """Mean (or sum) of squared differences, ``torch.nn.MSELoss``."""

    def __init__(self, reduction="mean"):
        self.reduction = _reduction("MSELoss", reduction)

    def __call__(self, output, target):
        return self.forward(output, target)

    def forward(self, output, target):
        output, target = np.asarray(output), np.asarray(target)
        if output.shape != target.shape:
            raise ValueError(f"MSELoss: output shape {output.shape} != target shape "
                             f"{target.shape}")
        self._diff = output - target
        total = np.sum(self._diff * self._diff, dtype=np.float64)
        return float(total if self.reduction == "sum" else total / self._diff.size)

    def backward(self, grad_output=1.0):
        """``2 * (output - target) * grad_output`` (divided by the size for 'mean')."""
        scale = 2.0 * grad_output / (1 if self.reduction == "sum" else self._diff.size)
        return self._diff * self._diff.dtype.type(scale)
