"""Plain-loop reference for the transposed convolution (written from its
definition as a scatter, for clarity, not speed)."""
import numpy as np


def conv_transpose_reference(x, w, bias, stride, padding, output_padding, groups, dilation):
    """x (N, C_in, *I), w (C_in, C_out/groups, *k); per-axis tuples of ints.
    Every input cell i adds x[i] * w[k] to output position i*s + k*d - p."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd = x.ndim - 2
    n, c_in = x.shape[:2]
    c_out_g = w.shape[1]
    c_in_g = c_in // groups
    kernel = w.shape[2:]
    out_size = tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, k, s, p, op, d
                     in zip(x.shape[2:], kernel, stride, padding, output_padding, dilation))
    # scatter into an uncropped buffer, then crop `padding` from the front
    full = tuple(o + p for o, p in zip(out_size, padding))
    big = np.zeros((n, c_out_g * groups) + tuple(f + (k - 1) * d + s * 2 for f, k, d, s
                                                 in zip(full, kernel, dilation, stride)))
    for ci in range(c_in):
        g = ci // c_in_g
        for i in np.ndindex(*x.shape[2:]):
            for k in np.ndindex(*kernel):
                pos = tuple(ii * s + kk * d for ii, kk, s, d in zip(i, k, stride, dilation))
                for o in range(c_out_g):
                    big[(slice(None), g * c_out_g + o) + pos] += (
                        x[(slice(None), ci) + i] * w[(ci, o) + k])
    crop = tuple(slice(p, p + o) for p, o in zip(padding, out_size))
    y = big[(slice(None), slice(None)) + crop]
    if bias is not None:
        y = y + np.asarray(bias, np.float64).reshape((-1,) + (1,) * nd)
    return y
