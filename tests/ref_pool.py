"""Slow, obviously-correct NumPy references for pooling, forward and backward.

Written for clarity, not speed, and independently of fastconv (nothing from
fastconv is imported): every output is computed by listing its window's cells
explicitly, with Python loops over (n, c) and the output positions, in float64.

Conventions (PyTorch's), stated here in the form the references use them:

* a pooling window along one axis, for output o, covers the padded-input cells
  ``o*stride - padding + j*dilation`` for ``j < kernel``; only cells inside the
  input (``0 <= cell < size``) hold data;
* max: NaN if any cell is NaN, else the largest value; its index is the flat
  offset in the (n, c) plane of the first cell holding the maximum (the last
  NaN when the window holds NaN);
* avg: the sum of the real cells divided by the number of window cells that lie
  inside the padded input ``[-padding, size + padding)`` (count_include_pad) or
  inside the input (not count_include_pad), multiplied over axes;
* adaptive bin o of ``n`` bins over ``size`` cells: ``[floor(o*size/n),
  ceil((o+1)*size/n))``.
"""
import itertools

import numpy as np

__all__ = [
    "pool_out_len", "window_cells", "max_pool_ref", "max_pool_backward_ref",
    "avg_pool_ref", "avg_pool_backward_ref", "adaptive_bins", "adaptive_pool_ref",
    "adaptive_pool_backward_ref", "global_pool_ref", "global_pool_backward_ref",
    "pyramid_ref", "pyramid_backward_ref",
]


def pool_out_len(size, kernel, stride, padding, dilation, ceil_mode):
    """Number of windows along one axis, counted one window at a time.

    Floor mode: windows that fit entirely in the padded input.  Ceil mode: also
    the windows that run past its end, as long as some of the window's stride
    step is still inside (the next window start is below padded end + stride
    - span) and the window starts before the right padding (start < size)."""
    span = dilation * (kernel - 1) + 1
    padded = size + 2 * padding
    count = 0
    while True:
        start = count * stride                   # in padded coordinates
        if start + span <= padded:
            count += 1
        elif ceil_mode and start + span < padded + stride and start - padding < size:
            count += 1
        else:
            return count


def window_cells(out_pos, size, kernel, stride, padding, dilation):
    """Per axis, the input cells (inside the input) of window `out_pos`, in order."""
    cells = []
    for o, n, k, s, p, d in zip(out_pos, size, kernel, stride, padding, dilation):
        cells.append([o * s - p + j * d for j in range(k) if 0 <= o * s - p + j * d < n])
    return cells


def _plane_offset(cell, size):
    """Flat C-order offset of a spatial cell in a plane of shape `size`."""
    return int(np.ravel_multi_index(cell, size))


def _max_of(values, offsets):
    """(max value, index) by the rules in the module docstring."""
    values = np.asarray(values, dtype=np.float64)
    nan = np.isnan(values)
    if nan.any():
        return np.nan, offsets[np.flatnonzero(nan)[-1]]
    m = values.max()
    return m, offsets[int(np.flatnonzero(values == m)[0])]


def _out_shape(x_shape, out_size):
    return tuple(x_shape[:2]) + tuple(out_size)


def max_pool_ref(x, kernel, stride, padding, dilation, ceil_mode):
    """(values, indices) of max pooling x (N, C, *size); per-axis tuples."""
    x = np.asarray(x, dtype=np.float64)
    size = x.shape[2:]
    out_size = [pool_out_len(*a, ceil_mode) for a in zip(size, kernel, stride, padding, dilation)]
    vals = np.empty(_out_shape(x.shape, out_size))
    idx = np.empty(vals.shape, np.int64)
    for n, c in itertools.product(*map(range, x.shape[:2])):
        for o in itertools.product(*map(range, out_size)):
            cells = list(itertools.product(*window_cells(o, size, kernel, stride, padding,
                                                         dilation)))
            assert cells, "window without input cells"
            vals[(n, c) + o], idx[(n, c) + o] = _max_of(
                [x[(n, c) + cell] for cell in cells], [_plane_offset(cl, size) for cl in cells])
    return vals, idx


def _route(grad_output, indices, x_shape):
    """Scatter-add each gradient to the plane offset its index names."""
    grad_output = np.asarray(grad_output, dtype=np.float64)
    gi = np.zeros(x_shape)
    planes = gi.reshape(x_shape[0], x_shape[1], int(np.prod(x_shape[2:])))
    for n, c in itertools.product(*map(range, x_shape[:2])):
        np.add.at(planes[n, c], indices[n, c].ravel(), grad_output[n, c].ravel())
    return gi


def max_pool_backward_ref(grad_output, x, kernel, stride, padding, dilation, ceil_mode):
    _, idx = max_pool_ref(x, kernel, stride, padding, dilation, ceil_mode)
    return _route(grad_output, idx, np.shape(x))


def _avg_divisor(o, size, kernel, stride, padding, count_include_pad):
    div = 1
    for oo, n, k, s, p in zip(o, size, kernel, stride, padding):
        cells = range(oo * s - p, oo * s - p + k)
        lo, hi = (-p, n + p) if count_include_pad else (0, n)
        div *= sum(1 for cell in cells if lo <= cell < hi)
    return div


def avg_pool_ref(x, kernel, stride, padding, ceil_mode, count_include_pad):
    x = np.asarray(x, dtype=np.float64)
    size = x.shape[2:]
    ones = (1,) * len(size)
    out_size = [pool_out_len(*a, ceil_mode) for a in zip(size, kernel, stride, padding, ones)]
    out = np.empty(_out_shape(x.shape, out_size))
    for n, c in itertools.product(*map(range, x.shape[:2])):
        for o in itertools.product(*map(range, out_size)):
            cells = itertools.product(*window_cells(o, size, kernel, stride, padding, ones))
            total = sum(x[(n, c) + cell] for cell in cells)
            out[(n, c) + o] = total / _avg_divisor(o, size, kernel, stride, padding,
                                                   count_include_pad)
    return out


def avg_pool_backward_ref(grad_output, x_shape, kernel, stride, padding, ceil_mode,
                          count_include_pad):
    grad_output = np.asarray(grad_output, dtype=np.float64)
    size = tuple(x_shape[2:])
    ones = (1,) * len(size)
    gi = np.zeros(x_shape)
    for n, c in itertools.product(*map(range, x_shape[:2])):
        for o in itertools.product(*map(range, grad_output.shape[2:])):
            g = grad_output[(n, c) + o] / _avg_divisor(o, size, kernel, stride, padding,
                                                       count_include_pad)
            for cell in itertools.product(*window_cells(o, size, kernel, stride, padding, ones)):
                gi[(n, c) + cell] += g
    return gi


def adaptive_bins(size, n_out):
    """[(start, end), ...] of the n_out adaptive bins over `size` cells."""
    return [((o * size) // n_out, -(-((o + 1) * size) // n_out)) for o in range(n_out)]


def adaptive_pool_ref(x, out_size, mode):
    """Adaptive 'avg' -> values; 'max' -> (values, indices)."""
    x = np.asarray(x, dtype=np.float64)
    size = x.shape[2:]
    bins = [adaptive_bins(i, o) for i, o in zip(size, out_size)]
    vals = np.empty(_out_shape(x.shape, out_size))
    idx = np.empty(vals.shape, np.int64)
    for n, c in itertools.product(*map(range, x.shape[:2])):
        for o in itertools.product(*map(range, out_size)):
            ranges = [range(*bins[a][o[a]]) for a in range(len(size))]
            cells = list(itertools.product(*ranges))
            values = [x[(n, c) + cell] for cell in cells]
            if mode == "avg":
                vals[(n, c) + o] = sum(values) / len(cells)
            else:
                vals[(n, c) + o], idx[(n, c) + o] = _max_of(
                    values, [_plane_offset(cl, size) for cl in cells])
    return vals if mode == "avg" else (vals, idx)


def adaptive_pool_backward_ref(grad_output, x, mode):
    grad_output = np.asarray(grad_output, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    out_size = grad_output.shape[2:]
    if mode == "max":
        _, idx = adaptive_pool_ref(x, out_size, "max")
        return _route(grad_output, idx, x.shape)
    size = x.shape[2:]
    bins = [adaptive_bins(i, o) for i, o in zip(size, out_size)]
    gi = np.zeros(x.shape)
    for n, c in itertools.product(*map(range, x.shape[:2])):
        for o in itertools.product(*map(range, out_size)):
            ranges = [range(*bins[a][o[a]]) for a in range(len(size))]
            cells = list(itertools.product(*ranges))
            for cell in cells:
                gi[(n, c) + cell] += grad_output[(n, c) + o] / len(cells)
    return gi


def global_pool_ref(x, mode):
    """(N, C) global average / maximum (NaN propagates)."""
    x = np.asarray(x, dtype=np.float64)
    flat = x.reshape(x.shape[:2] + (int(np.prod(x.shape[2:])),))
    if mode == "avg":
        return flat.mean(axis=2)
    return adaptive_pool_ref(flat, (1,), "max")[0][..., 0]


def global_pool_backward_ref(grad_output, x, mode):
    """grad_output (N, C) -> x's shape."""
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(grad_output, dtype=np.float64).reshape(x.shape[0], x.shape[1], 1)
    flat = x.reshape(x.shape[:2] + (int(np.prod(x.shape[2:])),))
    if mode == "avg":
        return np.broadcast_to(g / flat.shape[2], flat.shape).reshape(x.shape).copy()
    return adaptive_pool_backward_ref(g, flat, "max").reshape(x.shape)


def pyramid_ref(x, levels, mode):
    parts = []
    for lv in levels:
        r = adaptive_pool_ref(x, (lv, lv), mode)
        r = r if mode == "avg" else r[0]
        parts.append(r.reshape(x.shape[0], x.shape[1] * lv * lv))
    return np.concatenate(parts, axis=1)


def pyramid_backward_ref(grad_output, x, levels, mode):
    x = np.asarray(x, dtype=np.float64)
    grad_output = np.asarray(grad_output, dtype=np.float64)
    n, c = x.shape[:2]
    gi = np.zeros(x.shape)
    start = 0
    for lv in levels:
        g = grad_output[:, start:start + c * lv * lv].reshape(n, c, lv, lv)
        gi += adaptive_pool_backward_ref(g, x, mode)
        start += c * lv * lv
    return gi
