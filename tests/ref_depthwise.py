"""Slow, obviously-correct NumPy references for the depthwise and separable
convolutions and their gradients.

Independent of fastconv's code (nothing from fastconv is imported):

* the forward is tests/reference.py's convolution with groups = C (the
  definition of a depthwise convolution), followed for the separable one by a
  1x1 convolution written as an einsum over channels;
* the backward follows the same steps in reverse: the gradient with respect to
  the explicitly padded input is accumulated tap by tap, then every padded cell's
  gradient is added (np.add.at) to the input cell it was copied from, found by
  padding an array of cell numbers with the same np.pad mode.
"""
import numpy as np

from reference import NP_PAD_MODES, conv_nd_reference, reference_output_size

__all__ = ["depthwise_reference", "depthwise_backward_reference", "separable_reference",
           "separable_backward_reference"]


def depthwise_reference(x, w, b, stride, pairs, dilation, padding_mode):
    """Depthwise convolution of x (N, C, H, W) with w (C*m, 1, kH, kW), float64:
    the grouped convolution with groups = C."""
    return conv_nd_reference(x, w, b, stride, pairs, dilation, np.shape(x)[1], padding_mode)


def _windows(out_size, stride, dilation, kernel):
    """For each kernel tap, the slices of the padded input it reads for all outputs."""
    for tap in np.ndindex(*kernel):
        yield tap, tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                         for t, d, o, s in zip(tap, dilation, out_size, stride))


def _source_cells(in_size, pairs, padding_mode):
    """For each cell of the padded plane, the flat index of the input cell it
    copies, or -1 for a zero (padding_mode='zeros')."""
    cells = np.arange(int(np.prod(in_size))).reshape(in_size)
    if padding_mode == "zeros":
        return np.pad(cells, pairs, mode="constant", constant_values=-1)
    return np.pad(cells, pairs, mode=NP_PAD_MODES[padding_mode])


def depthwise_backward_reference(gy, x, w, stride, pairs, dilation, padding_mode):
    """(grad_input, grad_weight, grad_bias) of the depthwise convolution for the
    output gradient gy, all float64."""
    gy = np.asarray(gy, np.float64)
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    n, c = x.shape[:2]
    m = w.shape[0] // c
    kernel = w.shape[2:]
    in_size = x.shape[2:]
    out_size = reference_output_size(in_size, kernel, stride, pairs, dilation)
    assert gy.shape == (n, c * m) + out_size
    xpad = np.pad(x, [(0, 0), (0, 0)] + [list(p) for p in pairs],
                  mode=NP_PAD_MODES[padding_mode])
    gpad = np.zeros_like(xpad)
    gw = np.zeros_like(w)
    for tap, win in _windows(out_size, stride, dilation, kernel):
        for o in range(c * m):
            ci = o // m                          # the input channel output o reads
            gpad[(slice(None), ci) + win] += gy[:, o] * w[o, 0][tap]
            gw[(o, 0) + tap] = np.sum(gy[:, o] * xpad[(slice(None), ci) + win])
    # fold: each padded cell's gradient goes to the input cell it copies
    src = _source_cells(in_size, pairs, padding_mode).ravel()
    keep = src >= 0
    gx = np.zeros((n, c, int(np.prod(in_size))))
    for i in range(n):
        for ci in range(c):
            np.add.at(gx[i, ci], src[keep], gpad[i, ci].ravel()[keep])
    return gx.reshape(x.shape), gw, gy.sum(axis=(0, 2, 3))


def separable_reference(x, dw, pw, db, pb, stride, pairs, dilation, padding_mode):
    """Depthwise convolution, then out[n, q] = pb[q] + sum_k pw[q, k] * mid[n, k]."""
    mid = depthwise_reference(x, dw, db, stride, pairs, dilation, padding_mode)
    out = np.einsum("qk,nkhw->nqhw", np.asarray(pw, np.float64)[:, :, 0, 0], mid)
    if pb is not None:
        out += np.asarray(pb, np.float64)[None, :, None, None]
    return out


def separable_backward_reference(gy, x, dw, pw, db, stride, pairs, dilation, padding_mode):
    """(grad_input, grad_dw, grad_pw, grad_db, grad_pb) of the separable
    convolution by the chain rule, all float64."""
    gy = np.asarray(gy, np.float64)
    pw2 = np.asarray(pw, np.float64)[:, :, 0, 0]
    mid = depthwise_reference(x, dw, db, stride, pairs, dilation, padding_mode)
    grad_pw = np.einsum("nqhw,nkhw->qk", gy, mid)[:, :, None, None]
    grad_mid = np.einsum("qk,nqhw->nkhw", pw2, gy)
    gx, gdw, gdb = depthwise_backward_reference(grad_mid, x, dw, stride, pairs, dilation,
                                                padding_mode)
    return gx, gdw, grad_pw, gdb, gy.sum(axis=(0, 2, 3))
