"""Finite-difference gradient checks (float64), shared by the backward tests."""
import numpy as np


def numerical_grad(f, x, eps=1e-6):
    """d sum(f(x) * probe) / dx by central differences, where f returns the
    scalar loss.  x is modified in place and restored."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def assert_grad_close(analytic, numeric, name, rtol=1e-5, atol=1e-7):
    analytic = np.asarray(analytic, dtype=np.float64)
    err = np.abs(analytic - numeric)
    tol = atol + rtol * np.abs(numeric)
    if not np.all(err <= tol):
        i = np.unravel_index(np.argmax(err - tol), err.shape)
        raise AssertionError(f"{name}: analytic {analytic[i]!r} vs finite difference "
                             f"{numeric[i]!r} at {i} (max abs err {err.max():.3g})")
