"""Classification and segmentation metrics.

``output`` is either scores/logits with the class axis at 1 -- (N, K) or
(N, K, *spatial) -- or predicted labels of the target's shape; ``target``
holds class indices.  Elements whose target equals ``ignore_index`` (when
given) are left out.
"""
import numpy as np

__all__ = ["predictions", "accuracy", "top_k_accuracy", "confusion_matrix",
           "pixel_accuracy", "jaccard_index", "mean_iou"]


def predictions(output, target):
    """Predicted labels: the argmax over axis 1 of scores, or ``output`` itself if it
    already has the target's shape."""
    output, target = np.asarray(output), np.asarray(target)
    if output.shape == target.shape:
        return output
    if output.ndim == target.ndim + 1 and output.shape[:1] + output.shape[2:] == target.shape:
        return output.argmax(axis=1)
    raise ValueError(f"output shape {output.shape} must be the target's {target.shape} "
                     f"(labels) or (N, K, *spatial) scores for it")


def _valid(target, ignore_index):
    target = np.asarray(target)
    return np.ones(target.shape, bool) if ignore_index is None else target != ignore_index


def accuracy(output, target, ignore_index=None):
    """Fraction of (non-ignored) elements whose predicted label equals the target."""
    pred, valid = predictions(output, target), _valid(target, ignore_index)
    return float(np.mean((pred == np.asarray(target))[valid])) if valid.any() else float("nan")


def pixel_accuracy(output, target, ignore_index=None):
    """Segmentation pixel accuracy: :func:`accuracy` over all pixels of all images."""
    return accuracy(output, target, ignore_index)


def top_k_accuracy(scores, target, k=5):
    """Fraction of samples whose target is among the ``k`` highest scores ((N, K) scores;
    ties broken towards the lower class index)."""
    scores, target = np.asarray(scores), np.asarray(target)
    if scores.ndim != 2 or target.shape != scores.shape[:1]:
        raise ValueError(f"top_k_accuracy: scores must be (N, K) and target (N,), got "
                         f"{scores.shape} and {target.shape}")
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(f"top_k_accuracy: k must be in [1, {scores.shape[1]}], got {k}")
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean((top == target[:, None]).any(axis=1)))


def confusion_matrix(output, target, num_classes, ignore_index=None):
    """(K, K) int64 counts; row = true class, column = predicted class."""
    pred, target = predictions(output, target), np.asarray(target)
    valid = _valid(target, ignore_index)
    t, p = target[valid].astype(np.int64), pred[valid].astype(np.int64)
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= num_classes):
        raise ValueError(f"confusion_matrix: labels must be in [0, {num_classes})")
    return np.bincount(t * num_classes + p, minlength=num_classes ** 2).reshape(
        num_classes, num_classes)


def jaccard_index(output, target, num_classes, ignore_index=None):
    """Per-class IoU ``TP / (TP + FP + FN)``, shape (K,); NaN for a class absent from
    both prediction and target."""
    cm = confusion_matrix(output, target, num_classes, ignore_index)
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(axis=0) + cm.sum(axis=1) - np.diag(cm)
    iou = np.full(num_classes, np.nan)
    np.divide(tp, union, out=iou, where=union > 0)
    return iou


def mean_iou(output, target, num_classes, ignore_index=None):
    """Mean of :func:`jaccard_index` over the classes present (non-NaN)."""
    iou = jaccard_index(output, target, num_classes, ignore_index)
    present = ~np.isnan(iou)
    return float(iou[present].mean()) if present.any() else float("nan")
