"""Plain NumPy references for upsample, pad and channel_shuffle (and their
backward passes), written from the formulas for clarity, not speed, and
independently of fastconv's code (nothing from fastconv is imported here).

Upsampling is separable: along each spatial axis an output index o reads one
input index (nearest) or two with weights (linear), computed below by an
explicit loop over o.  Those per-axis rules are collected into a dense
(out x in) matrix per axis; the N-d result is the tensor product of the axis
matrices applied to x, and the backward pass applies the transposes.

The coordinate rules are PyTorch's (torch.nn.functional.interpolate with
recompute_scale_factor=None), in the input's precision ``dt``:

* nearest (PyTorch's ``nearest_idx``, in float32 for every dtype): out == in
  copies (src = o); out == 2 * in halves (src = o // 2); otherwise
  s = float32(1 / scale_factor) if a scale factor is given, else
  float32(in) / float32(out), and src = min(floor(float32(o) * s), in - 1).
* linear, out == in:  a copy (src = o), whatever the scale factor.
* linear, align_corners=True:  src = o * dt(in - 1) / dt(out - 1) (0 when out == 1).
* linear, align_corners=False:  s as for nearest, src = max(s * (o + 0.5) - 0.5, 0).
  Then i0 = min(floor(src), in - 1), w1 = clip(src - i0, 0, 1), w0 = 1 - w1,
  i1 = i0 + 1 if i0 < in - 1 else i0.
"""
import math

import numpy as np

__all__ = [
    "NP_PAD_MODE",
    "channel_shuffle_reference",
    "linear_axis_matrix",
    "nearest_axis_matrix",
    "pad_backward_reference",
    "pad_reference",
    "upsample_axis_matrix",
    "upsample_backward_reference",
    "upsample_output_size",
    "upsample_reference",
]


# -------------------------------------------------------------- upsample ----
def upsample_output_size(in_size, size=None, scale_factor=None):
    """Spatial output shape: `size` as given, or floor(in * scale_factor)."""
    nd = len(in_size)
    if size is not None:
        return (size,) * nd if isinstance(size, int) else tuple(size)
    scales = (scale_factor,) * nd if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    return tuple(int(math.floor(i * float(s))) for i, s in zip(in_size, scales))


def nearest_axis_matrix(n_in, n_out, scale):
    """(n_out, n_in) 0/1 matrix: row o has a 1 at the input index o reads.
    scale: the user's scale factor for this axis, or None when size was given."""
    f32 = np.float32
    s = f32(1.0 / scale) if scale is not None else f32(n_in) / f32(n_out)
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        if n_out == n_in:
            src = o
        elif n_out == 2 * n_in:
            src = o // 2
        else:
            src = min(math.floor(f32(o) * s), n_in - 1)
        m[o, src] = 1.0
    return m


def linear_axis_matrix(n_in, n_out, scale, align_corners, dt):
    """(n_out, n_in) matrix of linear-interpolation weights (two per row, or a
    single 1 when the axis keeps its size)."""
    dt = np.dtype(dt).type
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        if n_out == n_in:
            m[o, o] = 1.0
            continue
        if align_corners:
            ratio = dt(n_in - 1) / dt(n_out - 1) if n_out > 1 else dt(0)
            src = ratio * dt(o)
        else:
            s = dt(1.0 / scale) if scale is not None else dt(n_in) / dt(n_out)
            src = max(s * (dt(o) + dt(0.5)) - dt(0.5), dt(0))
        i0 = min(math.floor(src), n_in - 1)
        w1 = min(max(src - dt(i0), dt(0)), dt(1))
        i1 = i0 + 1 if i0 < n_in - 1 else i0
        m[o, i0] += 1.0 - float(w1)
        m[o, i1] += float(w1)
    return m


def upsample_axis_matrix(n_in, n_out, scale, mode, align_corners, dt):
    if mode == "nearest":
        return nearest_axis_matrix(n_in, n_out, scale)
    return linear_axis_matrix(n_in, n_out, scale, bool(align_corners), dt)


def _axis_matrices(shape, size, scale_factor, mode, align_corners, dt):
    in_size = tuple(shape[2:])
    nd = len(in_size)
    out_size = upsample_output_size(in_size, size, scale_factor)
    if scale_factor is None:
        scales = (None,) * nd
    elif isinstance(scale_factor, (int, float)):
        scales = (float(scale_factor),) * nd
    else:
        scales = tuple(float(s) for s in scale_factor)
    return [upsample_axis_matrix(i, o, s, mode, align_corners, dt)
            for i, o, s in zip(in_size, out_size, scales)]


_LETTERS = "dhw"


def upsample_reference(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """y[n, c, o...] = sum_i prod_axes M_axis[o_axis, i_axis] x[n, c, i...], float64."""
    x = np.asarray(x)
    mats = _axis_matrices(x.shape, size, scale_factor, mode, align_corners, x.dtype)
    y = x.astype(np.float64)
    for axis, m in enumerate(mats):
        y = np.moveaxis(np.tensordot(m, y, axes=([1], [axis + 2])), 0, axis + 2)
    return y


def upsample_backward_reference(grad_output, x, size=None, scale_factor=None,
                                mode="nearest", align_corners=None):
    """The adjoint: grad_x = (prod_axes M_axis)^T grad_output, float64."""
    x = np.asarray(x)
    mats = _axis_matrices(x.shape, size, scale_factor, mode, align_corners, x.dtype)
    g = np.asarray(grad_output, np.float64)
    for axis, m in enumerate(mats):
        g = np.moveaxis(np.tensordot(m.T, g, axes=([1], [axis + 2])), 0, axis + 2)
    return g


# ------------------------------------------------------------------- pad ----
# fastconv mode -> np.pad mode
NP_PAD_MODE = {
    "zeros": "constant",
    "constant": "constant",
    "reflect": "reflect",      # cb|abcd|cb
    "replicate": "edge",       # aa|abcd|dd
    "circular": "wrap",        # cd|abcd|ab (wraps more than once if needed)
}


def _pairs(pad, nd):
    if isinstance(pad, int):
        return [(pad, pad)] * nd
    return [(p, p) if isinstance(p, int) else tuple(p) for p in pad]


def pad_reference(x, pad, mode="zeros", value=0.0):
    """np.pad of the spatial axes (first spatial axis first), float64."""
    x = np.asarray(x, np.float64)
    widths = [(0, 0), (0, 0)] + _pairs(pad, x.ndim - 2)
    kw = {"constant_values": value} if mode == "constant" else {}
    return np.pad(x, widths, mode=NP_PAD_MODE[mode], **kw)


def pad_backward_reference(grad_output, x_shape, pad, mode="zeros"):
    """Each padded cell's gradient added onto the input cell it copies: found
    by padding an array of flat input indices the same way."""
    nd = len(x_shape) - 2
    plane = tuple(x_shape[2:])
    ids = np.arange(int(np.prod(plane))).reshape(plane)
    widths = _pairs(pad, nd)
    if mode in ("zeros", "constant"):
        src = np.pad(ids, widths, mode="constant", constant_values=-1)
    else:
        src = np.pad(ids, widths, mode=NP_PAD_MODE[mode])
    g = np.asarray(grad_output, np.float64)
    out = np.zeros(tuple(x_shape[:2]) + (ids.size,))
    for flat_out, i in np.ndenumerate(src):
        if i >= 0:
            out[:, :, i] += g[(slice(None), slice(None)) + flat_out]
    return out.reshape(x_shape)


# -------------------------------------------------------- channel shuffle ----
def channel_shuffle_reference(x, groups):
    """(N, C, ...) -> channels viewed as (groups, C/groups), transposed, flattened."""
    x = np.asarray(x)
    n, c = x.shape[:2]
    rest = x.shape[2:]
    return x.reshape((n, groups, c // groups) + rest).swapaxes(1, 2).reshape(x.shape)
