"""Plain NumPy / Python references for fastconv.nn's own logic (written for
clarity, not speed): BatchNorm, Linear, losses, metrics."""
import math

import numpy as np


def batchnorm_train_ref(x, gamma, beta, running_mean, running_var, momentum, eps):
    """Channel by channel: normalise with the batch mean and biased variance;
    return (y, new_running_mean, new_running_var) with the unbiased variance."""
    y = np.empty(x.shape)
    new_mean, new_var = running_mean.astype(float).copy(), running_var.astype(float).copy()
    for c in range(x.shape[1]):
        values = x[:, c].astype(float).ravel()
        n = values.size
        mean = sum(values) / n
        var = sum((v - mean) ** 2 for v in values) / n
        y[:, c] = (x[:, c] - mean) / math.sqrt(var + eps) * gamma[c] + beta[c]
        new_mean[c] = (1 - momentum) * running_mean[c] + momentum * mean
        new_var[c] = (1 - momentum) * running_var[c] + momentum * var * n / (n - 1)
    return y, new_mean, new_var


def batchnorm_eval_ref(x, gamma, beta, running_mean, running_var, eps):
    y = np.empty(x.shape)
    for c in range(x.shape[1]):
        y[:, c] = ((x[:, c] - running_mean[c]) / math.sqrt(running_var[c] + eps) * gamma[c]
                   + beta[c])
    return y


def linear_ref(x, w, b):
    y = np.einsum("...i,oi->...o", x.astype(float), w.astype(float))
    return y if b is None else y + b


def cross_entropy_ref(logits, target, ignore_index=-100, reduction="mean"):
    """Loop over every (sample, position): -log(exp(z_t) / sum_k exp(z_k))."""
    k = logits.shape[1]
    z = np.moveaxis(logits, 1, -1).reshape(-1, k).astype(float)
    t = target.reshape(-1)
    losses = []
    for row, cls in zip(z, t):
        if cls == ignore_index:
            continue
        m = max(row)
        losses.append(-(row[cls] - m - math.log(sum(math.exp(v - m) for v in row))))
    total = sum(losses)
    return total if reduction == "sum" else total / len(losses)


def mse_ref(output, target, reduction="mean"):
    d = (np.asarray(output, float) - target).ravel()
    total = sum(v * v for v in d)
    return total if reduction == "sum" else total / d.size


def labels_of(output, target):
    output = np.asarray(output)
    return output if output.shape == np.shape(target) else output.argmax(axis=1)


def confusion_ref(pred, target, k, ignore_index=None):
    cm = np.zeros((k, k), np.int64)
    for p, t in zip(np.ravel(pred), np.ravel(target)):
        if t != ignore_index:
            cm[t, p] += 1
    return cm


def iou_ref(pred, target, k, ignore_index=None):
    """Per class |pred == c and target == c| / |pred == c or target == c| over the
    non-ignored elements (NaN when the union is empty)."""
    pred, target = np.ravel(pred), np.ravel(target)
    keep = [i for i in range(target.size) if target[i] != ignore_index]
    out = []
    for c in range(k):
        inter = sum(1 for i in keep if pred[i] == c and target[i] == c)
        union = sum(1 for i in keep if pred[i] == c or target[i] == c)
        out.append(inter / union if union else float("nan"))
    return np.array(out)


def top_k_ref(scores, target, k):
    hits = 0
    for row, t in zip(scores, target):
        order = sorted(range(len(row)), key=lambda j: (-row[j], j))
        hits += t in order[:k]
    return hits / len(target)
