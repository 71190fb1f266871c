"""Slow, obviously-correct NumPy references the fast kernels are tested against.

Written for clarity, not speed, and independently of fastconv's own code (nothing
from fastconv is imported here):

* the input is padded explicitly with ``np.pad``;
* the convolution (a cross-correlation, as in PyTorch) is a sum over kernel
  offsets and groups of strided slices of the padded input times one weight tap,
  accumulated with ``np.einsum`` in float64.
"""
import numpy as np

__all__ = ["NP_PAD_MODES", "conv_nd_reference", "padding_pairs", "reference_output_size"]

# fastconv / PyTorch padding_mode -> np.pad mode
NP_PAD_MODES = {
    "zeros": "constant",    # 00|abcd|00
    "reflect": "reflect",   # cb|abcd|cb  (mirror, edge not repeated)
    "replicate": "edge",    # aa|abcd|dd
    "circular": "wrap",     # cd|abcd|ab  (np.pad wraps more than once if needed)
}


def _per_axis(value, nd):
    """An int -> nd copies; a sequence -> tuple of its entries (length unchecked)."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * nd
    return tuple(value)


def padding_pairs(padding, kernel, stride=1, dilation=1):
    """The ((before, after), ...) pairs, one per spatial axis, that a fastconv
    ``padding`` argument means, for a kernel of spatial shape ``kernel``.

    Forms: ``'valid'`` (no padding); ``'same'`` (total ``dilation*(k-1)`` per axis,
    the odd extra element at the end; only meaningful with stride 1); an int (same
    on both sides of every axis); a tuple of ints (one per axis, both sides); a
    tuple of (before, after) pairs (one per axis; ints and pairs may be mixed).
    """
    kernel = tuple(kernel)
    nd = len(kernel)
    dilation = _per_axis(dilation, nd)
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, 0) for _ in range(nd))
        if padding == "same":
            assert all(s == 1 for s in _per_axis(stride, nd)), "'same' needs stride 1"
            pairs = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                before = total // 2          # the odd element goes at the end
                pairs.append((before, total - before))
            return tuple(pairs)
        raise ValueError(f"unknown padding string {padding!r}")
    if isinstance(padding, (int, np.integer)):
        return tuple((int(padding), int(padding)) for _ in range(nd))
    assert len(padding) == nd, (padding, nd)
    pairs = []
    for entry in padding:
        if isinstance(entry, (tuple, list)):
            before, after = entry
        else:
            before = after = entry
        pairs.append((int(before), int(after)))
    return tuple(pairs)


def reference_output_size(in_size, kernel, stride, pairs, dilation):
    """Spatial output shape: the number of window positions that fit in the
    padded input, counted directly (no closed-form formula)."""
    out = []
    for i, k, s, (b, a), d in zip(in_size, kernel, stride, pairs, dilation):
        padded = i + b + a
        span = d * (k - 1) + 1            # extent of the dilated kernel
        count = 0
        while count * s + span <= padded:  # window starting at count*s fits
            count += 1
        out.append(count)
    return tuple(out)


def conv_nd_reference(x, w, bias, stride, padding_pairs, dilation, groups, padding_mode):
    """N-d convolution (cross-correlation) of x (N, C_in, *spatial) with
    w (C_out, C_in/groups, *kernel), in float64.

    stride, dilation: one int per spatial axis (or an int); padding_pairs: one
    (before, after) pair per spatial axis; padding_mode: 'zeros', 'reflect',
    'replicate' or 'circular'.  Returns a float64 array (N, C_out, *out_spatial).
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    nd = x.ndim - 2
    assert w.ndim == nd + 2
    stride = _per_axis(stride, nd)
    dilation = _per_axis(dilation, nd)
    pairs = tuple(tuple(p) for p in padding_pairs)
    assert len(stride) == len(dilation) == len(pairs) == nd

    n, c_in = x.shape[:2]
    c_out, c_in_per_group = w.shape[:2]
    kernel = w.shape[2:]
    assert c_in == c_in_per_group * groups and c_out % groups == 0
    c_out_per_group = c_out // groups

    # 1. pad explicitly (batch and channel axes untouched)
    xpad = np.pad(x, [(0, 0), (0, 0)] + [list(p) for p in pairs],
                  mode=NP_PAD_MODES[padding_mode])

    # 2. output size: window positions that fit in the padded input
    out_size = reference_output_size(x.shape[2:], kernel, stride, pairs, dilation)
    assert min(out_size) >= 1, "output would be empty"
    out = np.zeros((n, c_out) + out_size, dtype=np.float64)

    # 3. one kernel tap at a time: out[n, o, p] += w[o, c, tap] * xpad[n, c, p*s + tap*d]
    for g in range(groups):
        x_g = xpad[:, g * c_in_per_group:(g + 1) * c_in_per_group]
        w_g = w[g * c_out_per_group:(g + 1) * c_out_per_group]
        for tap in np.ndindex(*kernel):
            window = tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                           for t, d, o, s in zip(tap, dilation, out_size, stride))
            patch = x_g[(slice(None), slice(None)) + window]      # (N, C_in/g, *out)
            assert patch.shape[2:] == out_size
            w_tap = w_g[(slice(None), slice(None)) + tap]           # (C_out/g, C_in/g)
            out[:, g * c_out_per_group:(g + 1) * c_out_per_group] += np.einsum(
                "nc...,oc->no...", patch, w_tap)

    # 4. bias, one value per output channel
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float64)
        out += bias.reshape((1, c_out) + (1,) * nd)
    return out


def conv_weight_grad_reference(grad_output, x, kernel, stride, padding_pairs, dilation, groups,
                               padding_mode):
    """d loss / d w of conv_nd_reference for an upstream gradient grad_output
    (N, C_out, *out): gw[o, c, tap] = sum_{n, p} grad_output[n, o, p] *
    xpad[n, c, p*s + tap*d], group by group, in float64."""
    g_out = np.asarray(grad_output, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    nd = x.ndim - 2
    stride, dilation = _per_axis(stride, nd), _per_axis(dilation, nd)
    kernel = tuple(kernel)
    xpad = np.pad(x, [(0, 0), (0, 0)] + [list(p) for p in padding_pairs],
                  mode=NP_PAD_MODES[padding_mode])
    out_size = g_out.shape[2:]
    c_in_g, c_out_g = x.shape[1] // groups, g_out.shape[1] // groups
    gw = np.zeros((g_out.shape[1], c_in_g) + kernel)
    for g in range(groups):
        x_g = xpad[:, g * c_in_g:(g + 1) * c_in_g]
        gy_g = g_out[:, g * c_out_g:(g + 1) * c_out_g]
        for tap in np.ndindex(*kernel):
            window = tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                           for t, d, o, s in zip(tap, dilation, out_size, stride))
            patch = x_g[(slice(None), slice(None)) + window]
            gw[(slice(g * c_out_g, (g + 1) * c_out_g), slice(None)) + tap] = np.einsum(
                "nop,ncp->oc", gy_g.reshape(gy_g.shape[:2] + (-1,)),
                patch.reshape(patch.shape[:2] + (-1,)))
    return gw
