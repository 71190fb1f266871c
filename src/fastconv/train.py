"""Training loop for ``fastconv.nn`` models: fit, evaluate, predict, save and load.

``fit`` runs mini-batch gradient descent: per batch ``zero_grad``, forward,
loss, ``loss.backward()``, ``model.backward``, ``optimizer.step()``; per epoch
the validation pass, the schedule's step and early stopping.  It returns a
:class:`History` with the per-epoch losses and metrics, seconds per epoch, the
learning rate and the time spent in each layer.
"""
import math
import numbers
import os
import sys
import time
from collections import OrderedDict

import numpy as np

from fastconv.nn import Sequential

__all__ = ["fit", "evaluate", "predict", "save", "load", "History", "EarlyStopping",
           "ProgressBar"]


class EarlyStopping:
    """Stop ``fit`` when ``monitor`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    patience : int >= 1
        Epochs without improvement before stopping.
    monitor : str or None
        A key of the history, e.g. ``'val_loss'`` or ``'val_accuracy'``; None
        means ``'val_loss'`` when there is validation data, else ``'loss'``.
    mode : {'auto', 'min', 'max'}
        Whether lower or higher is better; ``'auto'`` is 'min' for names
        containing "loss" and 'max' otherwise.
    min_delta : float >= 0
        A change smaller than this is no improvement.
    restore_best_weights : bool
        At the end of ``fit`` (stopped early or not), load the weights of the
        best epoch.
    """

    def __init__(self, patience=5, monitor=None, mode="auto", min_delta=0.0,
                 restore_best_weights=True):
        self.patience = _check_int("patience", patience, 1)
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if not min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        self.monitor, self.mode, self.min_delta = monitor, mode, float(min_delta)
        self.restore_best_weights = bool(restore_best_weights)

    def _start(self, monitor):
        """Reset for a run of fit monitoring ``monitor``."""
        self.monitor = monitor
        minimize = self.mode == "min" or (self.mode == "auto" and "loss" in monitor)
        self._sign = 1.0 if minimize else -1.0
        self.best, self.best_epoch, self._waited = math.inf, None, 0

    def _update(self, epoch, value):
        """Record one epoch's value; True when the epoch is the best so far."""
        score = self._sign * value
        if score < self.best - self.min_delta:
            self.best, self.best_epoch, self._waited = score, epoch, 0
            return True
        self._waited += 1
        return False

    @property
    def should_stop(self):
        return self._waited >= self.patience


class History:
    """What ``fit`` measured.

    Attributes
    ----------
    history : dict of lists, one entry per epoch
        ``'loss'``, each metric, ``'val_loss'`` and ``'val_<metric>'`` (with
        validation data), ``'lr'`` (the rate the epoch used) and ``'seconds'``.
        ``history['loss']`` is also ``history_object['loss']``.
    epochs : int
        Epochs run.
    stopped_early : bool
    best_epoch : int or None
        0-based epoch with the best monitored value (with early stopping).
    layer_times : OrderedDict name -> {'forward': s, 'backward': s}
        Seconds spent in each top-level layer of a Sequential model (the
        whole model as one entry otherwise), summed over all training batches.
    """

    def __init__(self):
        self.history = OrderedDict()
        self.epochs = 0
        self.stopped_early = False
        self.best_epoch = None
        self.layer_times = OrderedDict()

    def __getitem__(self, key):
        return self.history[key]

    def _append(self, logs):
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        self.epochs += 1

    def __repr__(self):
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items())
        return f"History({self.epochs} epochs: {last})"


def fit(model, loss, optimizer, x, y, epochs=1, batch_size=32, *, validation_data=None,
        scheduler=None, metrics=None, shuffle=True, seed=0, early_stopping=None,
        progress=None, on_epoch_end=None):
    """Train ``model`` on ``(x, y)`` by mini-batch gradient descent.

    Parameters
    ----------
    model : fastconv.nn.Module
        Put in training mode for the batches and in evaluation mode for the
        validation pass; left in training mode.
    loss : loss object
        ``loss.forward(output, target) -> float`` (mean over the batch) and
        ``loss.backward() -> grad_output``, e.g. ``nn.CrossEntropyLoss()``.
    optimizer : fastconv.optim.Optimizer
        Built on ``model.parameters()``.
    x, y : arrays with the same first dimension
        Inputs (in the model's dtype) and targets.
    epochs : int >= 0
    batch_size : int >= 1
        The last batch of an epoch may be smaller.
    validation_data : (x_val, y_val), optional
        Evaluated (loss and metrics) after every epoch, in batches of
        ``batch_size``, with the model in evaluation mode.
    scheduler : fastconv.optim.LRScheduler, optional
        Stepped once after every epoch.
    metrics : dict name -> fn(output, target) -> float, or a sequence of fns
        Reported per epoch for training (mean over the batches, weighted by
        their size) and validation (on all validation outputs at once).
        A function's name is its ``__name__``.
    shuffle : bool
        Visit the samples in a new random order every epoch.
    seed : int or None
        Seed of the shuffling; a fixed seed repeats the run exactly.
    early_stopping : EarlyStopping or int, optional
        An int is ``EarlyStopping(patience=that)``.
    progress : bool or None
        Show a progress bar on stderr: None (default) shows it only when
        stderr is a terminal, so logs and pipes stay quiet.
    on_epoch_end : callable(epoch, logs), optional
        Called after each epoch with its 0-based index and that epoch's
        entries of the history (a dict).

    Returns
    -------
    History
    """
    x, y = _check_data("x", x, "y", y)
    epochs = _check_int("epochs", epochs, 0)
    batch_size = _check_int("batch_size", batch_size, 1)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (x_val, y_val)")
        validation_data = _check_data("validation_data[0]", validation_data[0],
                                      "validation_data[1]", validation_data[1])
    metrics = _metric_table(metrics)
    if isinstance(early_stopping, numbers.Integral) and not isinstance(early_stopping, bool):
        early_stopping = EarlyStopping(patience=early_stopping)
    if early_stopping is not None:
        monitor = early_stopping.monitor or ("val_loss" if validation_data else "loss")
        if monitor.startswith("val_") and validation_data is None:
            raise ValueError(f"early_stopping monitors {monitor!r} but there is no "
                             "validation_data")
        early_stopping._start(monitor)

    history = History()
    rng = np.random.default_rng(seed)
    n = len(x)
    n_batches = -(-n // batch_size)
    best_state = None
    with _LayerTimer(model, history.layer_times):
        for epoch in range(epochs):
            t0 = time.perf_counter()
            lr = optimizer.lr
            order = rng.permutation(n) if shuffle else np.arange(n)
            sums = dict.fromkeys(["loss", *metrics], 0.0)
            bar = ProgressBar(n_batches, f"epoch {epoch + 1}/{epochs}", enabled=progress)
            model.train()
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                xb, yb = x[idx], y[idx]
                optimizer.zero_grad()
                out = model(xb)
                value = float(loss.forward(out, yb))
                model.backward(loss.backward(), need_input=False)
                optimizer.step()
                sums["loss"] += value * len(idx)
                for name, fn in metrics.items():
                    sums[name] += float(fn(out, yb)) * len(idx)
                bar.update(b + 1, loss=value)
            logs = {name: total / n for name, total in sums.items()}
            if validation_data is not None:
                val = evaluate(model, loss, *validation_data, batch_size=batch_size,
                               metrics=metrics, progress=False)
                logs.update((f"val_{name}", value) for name, value in val.items())
                model.train()
            if not all(math.isfinite(v) for k, v in logs.items() if k.endswith("loss")):
                bar.close(_format_logs(logs))
                raise FloatingPointError(f"fit: epoch {epoch + 1} gave a non-finite loss "
                                         f"({_format_logs(logs)}); lower the learning rate")
            logs["lr"] = lr
            logs["seconds"] = time.perf_counter() - t0
            bar.close(_format_logs(logs))
            history._append(logs)
            if scheduler is not None:
                scheduler.step()
            if early_stopping is not None:
                if early_stopping._update(epoch, logs[early_stopping.monitor]):
                    if early_stopping.restore_best_weights:
                        best_state = {k: np.array(v, copy=True)
                                      for k, v in model.state_dict().items()}
                history.best_epoch = early_stopping.best_epoch
            if on_epoch_end is not None:
                on_epoch_end(epoch, logs)
            if early_stopping is not None and early_stopping.should_stop:
                history.stopped_early = epoch + 1 < epochs
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def evaluate(model, loss, x, y, batch_size=256, metrics=None, progress=False):
    """Loss and metrics of ``model`` on ``(x, y)``, in evaluation mode.

    Returns a dict ``{'loss': float, <metric>: float, ...}``, computed on all
    outputs at once (so any metric is exact, not a mean over batches).
    """
    x, y = _check_data("x", x, "y", y)
    out = predict(model, x, batch_size, progress=progress)
    results = {"loss": float(loss.forward(out, y))}
    for name, fn in _metric_table(metrics).items():
        results[name] = float(fn(out, y))
    return results


def predict(model, x, batch_size=256, progress=False):
    """``model(x)`` computed ``batch_size`` samples at a time, in evaluation mode
    (the model's mode is restored afterwards); the outputs are concatenated."""
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("predict: x must have a batch axis, got a 0-d array")
    batch_size = _check_int("batch_size", batch_size, 1)
    was_training = model.training
    model.eval()
    try:
        if len(x) == 0:
            return model(x)
        n_batches = -(-len(x) // batch_size)
        bar = ProgressBar(n_batches, "predict", enabled=progress)
        outputs = []
        for b in range(n_batches):
            outputs.append(model(x[b * batch_size:(b + 1) * batch_size]))
            bar.update(b + 1)
        bar.close()
        return np.concatenate(outputs)
    finally:
        model.train(was_training)


def save(model, path):
    """Write ``model.state_dict()`` (torch key names) to an ``.npz`` file.

    ``.npz`` is appended to ``path`` when missing, as ``numpy.savez`` does.
    Returns the path written.
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    np.savez(path, **model.state_dict())
    return path


def load(model, path, strict=True):
    """Load weights written by :func:`save` (or any ``.npz`` of a state_dict)
    into ``model``; returns the model.  ``strict`` as in ``load_state_dict``."""
    with np.load(os.fspath(path), allow_pickle=False) as archive:
        model.load_state_dict({key: archive[key] for key in archive.files}, strict=strict)
    return model


class ProgressBar:
    """A one-line progress bar on a terminal stream, redrawn at most 10 times a
    second; ``close(text)`` leaves a final line.  Disabled (no output at all)
    when ``enabled`` is False, or when it is None and the stream is not a
    terminal."""

    width = 24

    def __init__(self, total, label, enabled=None, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.enabled = bool(enabled)
        self.total, self.label = total, label
        self.start = self._drawn = time.perf_counter()
        self._shown = False

    def update(self, done, **values):
        now = time.perf_counter()
        if not self.enabled or (now - self._drawn < 0.1 and done < self.total):
            return
        self._drawn = now
        filled = self.width * done // max(self.total, 1)
        elapsed = now - self.start
        eta = elapsed / done * (self.total - done) if done else 0.0
        extra = "".join(f" {k} {v:.4f}" for k, v in values.items())
        self._write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                    f"{done}/{self.total} {elapsed:.1f}s eta {eta:.1f}s{extra}\033[K")

    def close(self, text=None):
        if self.enabled:
            self._write(f"\r{self.label}: {text}\033[K\n" if text else "\r\033[K")

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()


class _LayerTimer:
    """While active, times ``forward`` and ``backward`` of each top-level layer
    of a Sequential model (or of the whole model) into ``times``, by wrapping
    the layers' bound methods on the instances; the wrappers are removed on exit."""

    def __init__(self, model, times):
        if isinstance(model, Sequential):
            self.layers = [(name, m) for name, m in model.named_modules()
                           if name and "." not in name]
        else:
            self.layers = [("model", model)]
        self.times = times

    def __enter__(self):
        for name, layer in self.layers:
            self.times[name] = {"forward": 0.0, "backward": 0.0}
            for method in ("forward", "backward"):
                object.__setattr__(layer, method, self._timed(getattr(layer, method),
                                                              self.times[name], method))
        return self

    def __exit__(self, *exc):
        for _, layer in self.layers:
            for method in ("forward", "backward"):
                layer.__dict__.pop(method, None)

    @staticmethod
    def _timed(fn, slot, key):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                slot[key] += time.perf_counter() - t0
        return timed


def _format_logs(logs):
    parts = []
    for key, value in logs.items():
        if key == "seconds":
            parts.append(f"{value:.1f}s")
        elif key == "lr":
            parts.append(f"lr {value:.3g}")
        else:
            parts.append(f"{key} {value:.4f}")
    return " - ".join(parts)


def _metric_table(metrics):
    if metrics is None:
        return {}
    if isinstance(metrics, dict):
        table = dict(metrics)
    elif callable(metrics):
        table = {metrics.__name__: metrics}
    else:
        table = {getattr(fn, "__name__", repr(fn)): fn for fn in metrics}
    for name, fn in table.items():
        if not callable(fn):
            raise TypeError(f"metrics: {name!r} is not callable ({type(fn).__name__})")
        if name in ("loss", "lr", "seconds") or name.startswith("val_"):
            raise ValueError(f"metrics: the name {name!r} is reserved for the history")
    return table


def _check_data(x_name, x, y_name, y):
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"{x_name} and {y_name} need a batch axis, got shapes {x.shape} "
                         f"and {y.shape}")
    if len(x) != len(y):
        raise ValueError(f"{x_name} has {len(x)} samples but {y_name} has {len(y)} "
                         f"(shapes {x.shape} and {y.shape})")
    return x, y


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)
