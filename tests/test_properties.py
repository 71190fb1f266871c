"""Property-based tests (hypothesis): every public operation on random shapes and
hyper-parameters against the independent references in tests/ (reference.py,
ref_*.py), and every backward against finite differences (float64).

Drawn for each example: sizes from one pixel up (including kernels that span the
whole padded input and strides larger than the kernel), dilation, groups, every
padding form and mode, both dtypes, memory layouts (Fortran order, strided,
negative strides, read-only, non-native byte order), unbatched inputs where the
operation takes them, and empty batches (N = 0).  Example counts come from the hypothesis profile
(conftest.py: 'ci' by default, FASTCONV_HYPOTHESIS_PROFILE=thorough for more).
"""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402

import fastconv  # noqa: E402
from conftest import algorithm_factor, refuses, tolerance, winograd_applies  # noqa: E402
from gradcheck import assert_grad_close, numerical_grad  # noqa: E402
from ref_conv_transpose import conv_transpose_reference  # noqa: E402
from ref_depthwise import depthwise_reference, separable_reference  # noqa: E402
from ref_pool import (adaptive_pool_ref, avg_pool_ref, global_pool_ref, max_pool_ref,  # noqa: E402
                      pool_out_len, pyramid_ref, window_cells)
from ref_resample import (channel_shuffle_reference, pad_reference,  # noqa: E402
                          upsample_output_size, upsample_reference)
from reference import conv_nd_reference, padding_pairs  # noqa: E402

pytestmark = pytest.mark.sanitize   # part of the sanitizer subset (README, Contributing)

DTYPES = (np.float32, np.float64)
CONV_MODES = ("zeros", "reflect", "replicate", "circular")
LAYOUTS = ("c", "fortran", "strided", "reversed", "readonly", "big_endian")


# ------------------------------------------------------------ drawing ----
def relayout(a, layout):
    """An array with a's values in another memory layout."""
    a = np.asarray(a)
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "strided":                       # every other element of a bigger array
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype) if a.ndim else a.copy()
        if a.ndim:
            big[..., ::2] = a
            return big[..., ::2]
        return big
    if layout == "reversed":                      # negative strides on every axis
        flip = (slice(None, None, -1),) * a.ndim
        return a[flip].copy()[flip]
    if layout == "big_endian":                    # non-native byte order
        return a.astype(a.dtype.newbyteorder(">" if np.little_endian else "<"))
    b = a.copy()
    if layout == "readonly":
        b.setflags(write=False)
    return b


def draw_per_axis(data, nd, lo, hi, name):
    """(argument, per-axis tuple): an int when every axis agrees (sometimes), else
    a tuple or list of nd ints."""
    values = tuple(data.draw(st.integers(lo, hi), label=f"{name}[{i}]") for i in range(nd))
    form = data.draw(st.sampled_from(["int", "tuple", "list"]), label=f"{name} form")
    if form == "int" and len(set(values)) == 1:
        return values[0], values
    return (list(values) if form == "list" else values), values


def draw_conv_padding(data, nd, stride):
    """A convolution padding argument in any of its forms."""
    forms = ["valid", "int", "ints", "pairs"] + (["same"] if set(stride) == {1} else [])
    form = data.draw(st.sampled_from(forms), label="padding form")
    if form in ("valid", "same"):
        return form
    if form == "int":
        return data.draw(st.integers(0, 3), label="padding")
    if form == "ints":
        return tuple(data.draw(st.integers(0, 3), label="padding") for _ in range(nd))
    return tuple(data.draw(st.one_of(st.integers(0, 3),
                                      st.tuples(st.integers(0, 3), st.integers(0, 3))),
                           label="padding pair") for _ in range(nd))


def draw_sizes(data, nd, lo_per_axis, name="size"):
    """Input sizes from the smallest valid one (a kernel spanning the whole padded
    input, or one pixel) to a few more."""
    return tuple(max(lo, 1) + data.draw(st.integers(0, 3), label=f"{name}[{i}]")
                 for i, lo in enumerate(lo_per_axis))


def draw_batch(data, unbatched_ok=True):
    """(n, batched): n in 0..2; an unbatched call when allowed and n == 1."""
    n = data.draw(st.integers(0, 2), label="n")
    batched = n != 1 or not unbatched_ok or data.draw(st.booleans(), label="batched")
    return n, batched


def arrays(data, dtype, *shapes):
    """Standard-normal arrays of the given shapes, from a drawn seed."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def drop_batch(a, batched):
    return a if batched else a[0]


def assert_close(got, expected, dtype, k, params, algorithm=None):
    """fastconv's result vs the float64 reference: shape, dtype, C order, values
    (Winograd's wider tolerance for algorithm='winograd', see conftest)."""
    assert isinstance(got, np.ndarray), params
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}: {params}"
    assert got.dtype == np.dtype(dtype), f"dtype {got.dtype}: {params}"
    assert got.flags.c_contiguous, params
    t = tolerance(dtype, k, algorithm_factor(algorithm))
    np.testing.assert_allclose(got, expected, rtol=t, atol=t, err_msg=str(params))


def check_gradients(loss_inputs, loss, analytic):
    """Finite differences of loss() (which reads the float64 arrays in
    loss_inputs, perturbed in place) against the analytic gradients."""
    for name, a in loss_inputs.items():
        assert_grad_close(analytic[name], numerical_grad(loss, a), name)


# ----------------------------------------------------------- convolution ----
def draw_conv(data, nd=None, depthwise=False):
    """A random convolution: dict of everything a call and its reference need."""
    nd = nd or data.draw(st.integers(1, 3), label="nd")
    if depthwise:
        groups = c_in = data.draw(st.integers(1, 3), label="C")
        c_out = c_in * data.draw(st.integers(1, 3), label="multiplier")
    else:
        groups = data.draw(st.integers(1, 3), label="groups")
        c_in = groups * data.draw(st.integers(1, 2), label="C_in/groups")
        c_out = groups * data.draw(st.integers(1, 2), label="C_out/groups")
    kernel = tuple(data.draw(st.integers(1, 4), label="kernel") for _ in range(nd))
    stride_arg, stride = draw_per_axis(data, nd, 1, 4, "stride")
    dilation_arg, dilation = draw_per_axis(data, nd, 1, 3, "dilation")
    padding = draw_conv_padding(data, nd, stride)
    pairs = padding_pairs(padding, kernel, stride, dilation)
    mode = data.draw(st.sampled_from(CONV_MODES), label="padding_mode")
    lo = [d * (k - 1) + 1 - b - a for k, d, (b, a) in zip(kernel, dilation, pairs)]
    if mode == "reflect":
        lo = [max(v, b + 1, a + 1) for v, (b, a) in zip(lo, pairs)]
    size = draw_sizes(data, nd, lo)
    n, batched = draw_batch(data)
    return dict(nd=nd, c_in=c_in, c_out=c_out, groups=groups, kernel=kernel, stride=stride,
                dilation=dilation, pairs=pairs, mode=mode, size=size, n=n, batched=batched,
                kw=dict(stride=stride_arg, padding=padding, dilation=dilation_arg,
                        padding_mode=mode))


@given(st.data())
def test_conv_forward(data):
    p = draw_conv(data)
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    algorithm = data.draw(st.sampled_from(fastconv.ALGORITHMS + ("auto",)), label="algorithm")
    has_bias = data.draw(st.booleans(), label="bias")
    x, w, b = arrays(data, dtype, (p["n"], p["c_in"]) + p["size"],
                     (p["c_out"], p["c_in"] // p["groups"]) + p["kernel"], (p["c_out"],))
    b = b if has_bias else None
    expected = conv_nd_reference(x, w, b, p["stride"], p["pairs"], p["dilation"], p["groups"],
                                 p["mode"])
    conv = getattr(fastconv, f"conv{p['nd']}d")

    def call():
        return conv(relayout(drop_batch(x, p["batched"]), data.draw(st.sampled_from(LAYOUTS))),
                    relayout(w, data.draw(st.sampled_from(LAYOUTS))), b, groups=p["groups"],
                    algorithm=algorithm, **p["kw"])
    if refuses(algorithm, winograd_applies(p["kernel"], p["stride"], p["dilation"]), call):
        return
    assert_close(call(), drop_batch(expected, p["batched"]), dtype, w[0].size, p, algorithm)


@given(st.data())
def test_conv_backward_finite_differences(data):
    p = draw_conv(data)
    algorithm = data.draw(st.sampled_from(fastconv.ALGORITHMS + ("auto",)), label="algorithm")
    shape_w = (p["c_out"], p["c_in"] // p["groups"]) + p["kernel"]
    x, w, b = arrays(data, np.float64, (p["n"], p["c_in"]) + p["size"], shape_w, (p["c_out"],))
    conv = getattr(fastconv, f"conv{p['nd']}d")
    kw = dict(groups=p["groups"], **p["kw"])
    g = arrays(data, np.float64, conv(x, w, **kw).shape)[0]

    def call():
        return getattr(fastconv, f"conv{p['nd']}d_backward")(
            relayout(drop_batch(g, p["batched"]), data.draw(st.sampled_from(LAYOUTS))),
            relayout(drop_batch(x, p["batched"]), "reversed"), w, algorithm=algorithm, **kw)
    if refuses(algorithm, winograd_applies(p["kernel"], p["stride"], p["dilation"]), call):
        return
    gx, gw, gbias = call()
    inputs = dict(x=x, w=w, b=b)
    check_gradients(inputs, lambda: float(np.sum(conv(x, w, b, **kw) * g)),
                    dict(x=gx if p["batched"] else gx[None], w=gw, b=gbias))


@given(st.data())
def test_depthwise_forward_and_backward(data):
    p = draw_conv(data, nd=2, depthwise=True)
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    x, w, b = arrays(data, dtype, (p["n"], p["c_in"]) + p["size"], (p["c_out"], 1) + p["kernel"],
                     (p["c_out"],))
    expected = depthwise_reference(x, w, b, p["stride"], p["pairs"], p["dilation"], p["mode"])
    got = fastconv.depthwise_conv2d(
        relayout(drop_batch(x, p["batched"]), data.draw(st.sampled_from(LAYOUTS))),
        relayout(w, data.draw(st.sampled_from(LAYOUTS))), b, **p["kw"])
    assert_close(got, drop_batch(expected, p["batched"]), dtype, w[0].size, p)

    x, w, b = (a.astype(np.float64) for a in (x, w, b))
    g = arrays(data, np.float64, expected.shape)[0]
    gx, gw, gb = fastconv.depthwise_conv2d_backward(
        relayout(drop_batch(g, p["batched"]), data.draw(st.sampled_from(LAYOUTS))),
        drop_batch(x, p["batched"]), w, **p["kw"])
    check_gradients(dict(x=x, w=w, b=b),
                    lambda: float(np.sum(fastconv.depthwise_conv2d(x, w, b, **p["kw"]) * g)),
                    dict(x=gx if p["batched"] else gx[None], w=gw, b=gb))


@given(st.data())
def test_separable_forward_and_backward(data):
    p = draw_conv(data, nd=2, depthwise=True)
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    c_final = data.draw(st.integers(1, 3), label="C_out")
    x, dw, pw, db, pb = arrays(data, dtype, (p["n"], p["c_in"]) + p["size"],
                               (p["c_out"], 1) + p["kernel"], (c_final, p["c_out"], 1, 1),
                               (p["c_out"],), (c_final,))
    expected = separable_reference(x, dw, pw, db, pb, p["stride"], p["pairs"], p["dilation"],
                                   p["mode"])
    got = fastconv.separable_conv2d(
        relayout(drop_batch(x, p["batched"]), data.draw(st.sampled_from(LAYOUTS))), dw,
        relayout(pw, data.draw(st.sampled_from(LAYOUTS))), db, pb, **p["kw"])
    assert_close(got, drop_batch(expected, p["batched"]), dtype, dw[0].size * p["c_out"], p)

    x, dw, pw, db, pb = (a.astype(np.float64) for a in (x, dw, pw, db, pb))
    g = arrays(data, np.float64, expected.shape)[0]
    gx, gdw, gpw, gdb, gpb = fastconv.separable_conv2d_backward(
        drop_batch(g, p["batched"]), relayout(drop_batch(x, p["batched"]), "strided"), dw, pw,
        db, **p["kw"])
    check_gradients(dict(x=x, dw=dw, pw=pw, db=db, pb=pb),
                    lambda: float(np.sum(fastconv.separable_conv2d(x, dw, pw, db, pb, **p["kw"])
                                         * g)),
                    dict(x=gx if p["batched"] else gx[None], dw=gdw, pw=gpw, db=gdb, pb=gpb))


# -------------------------------------------------- transposed convolution ----
def draw_conv_transpose(data):
    nd = data.draw(st.integers(1, 3), label="nd")
    groups = data.draw(st.integers(1, 3), label="groups")
    c_in = groups * data.draw(st.integers(1, 2), label="C_in/groups")
    c_out_g = data.draw(st.integers(1, 2), label="C_out/groups")
    kernel = tuple(data.draw(st.integers(1, 4), label="kernel") for _ in range(nd))
    stride_arg, stride = draw_per_axis(data, nd, 1, 3, "stride")
    dilation_arg, dilation = draw_per_axis(data, nd, 1, 3, "dilation")
    size = draw_sizes(data, nd, (1,) * nd)
    out_pad = tuple(data.draw(st.integers(0, max(s, d) - 1), label="output_padding")
                    for s, d in zip(stride, dilation))
    # padding up to the largest that leaves an output of at least one cell
    padding = tuple(data.draw(st.integers(0, ((i - 1) * s + d * (k - 1) + op) // 2),
                              label="padding")
                    for i, s, d, k, op in zip(size, stride, dilation, kernel, out_pad))
    n, batched = draw_batch(data)
    return dict(nd=nd, groups=groups, c_in=c_in, c_out_g=c_out_g, kernel=kernel, size=size,
                n=n, batched=batched, ref=(stride, padding, out_pad, groups, dilation),
                kw=dict(stride=stride_arg, padding=padding, output_padding=out_pad,
                        groups=groups, dilation=dilation_arg))


@given(st.data())
def test_conv_transpose_forward_and_backward(data):
    p = draw_conv_transpose(data)
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    algorithm = data.draw(st.sampled_from(fastconv.ALGORITHMS + ("auto",)), label="algorithm")
    x, w, b = arrays(data, dtype, (p["n"], p["c_in"]) + p["size"],
                     (p["c_in"], p["c_out_g"]) + p["kernel"], (p["c_out_g"] * p["groups"],))
    stride, padding, out_pad, groups, dilation = p["ref"]
    expected = conv_transpose_reference(x, w, b, stride, padding, out_pad, groups, dilation)
    f = getattr(fastconv, f"conv_transpose{p['nd']}d")

    def call():
        return f(relayout(drop_batch(x, p["batched"]), data.draw(st.sampled_from(LAYOUTS))),
                 relayout(w, data.draw(st.sampled_from(LAYOUTS))), b, algorithm=algorithm,
                 **p["kw"])
    if refuses(algorithm, False, call):  # transposed convolutions have no Winograd kernel
        return
    got = call()
    assert_close(got, drop_batch(expected, p["batched"]), dtype,
                 p["c_in"] // groups * int(np.prod(p["kernel"])), p)

    x, w, b = (a.astype(np.float64) for a in (x, w, b))
    g = arrays(data, np.float64, expected.shape)[0]
    gx, gw, gb = getattr(fastconv, f"conv_transpose{p['nd']}d_backward")(
        relayout(drop_batch(g, p["batched"]), data.draw(st.sampled_from(LAYOUTS))),
        drop_batch(x, p["batched"]), w, algorithm=algorithm, **p["kw"])
    check_gradients(dict(x=x, w=w, b=b), lambda: float(np.sum(f(x, w, b, **p["kw"]) * g)),
                    dict(x=gx if p["batched"] else gx[None], w=gw, b=gb))


# ---------------------------------------------------------------- pooling ----
def draw_window_pool(data, dilated):
    nd = data.draw(st.integers(1, 3), label="nd")
    kernel_arg, kernel = draw_per_axis(data, nd, 1, 4, "kernel_size")
    if data.draw(st.booleans(), label="stride=None"):
        stride_arg, stride = None, kernel
    else:
        stride_arg, stride = draw_per_axis(data, nd, 1, 5, "stride")
    padding = tuple(data.draw(st.integers(0, k // 2), label="padding") for k in kernel)
    dilation_arg, dilation = (draw_per_axis(data, nd, 1, 3, "dilation") if dilated
                              else (1, (1,) * nd))
    ceil_mode = data.draw(st.booleans(), label="ceil_mode")
    lo = [d * (k - 1) + 1 - 2 * p for k, d, p in zip(kernel, dilation, padding)]
    size = draw_sizes(data, nd, lo)
    n, batched = draw_batch(data)
    kw = dict(kernel_size=kernel_arg, stride=stride_arg, padding=padding, ceil_mode=ceil_mode)
    if dilated:
        kw["dilation"] = dilation_arg
    # a window that holds no input cell is an error (PyTorch returns -inf there)
    out = [pool_out_len(*a, ceil_mode) for a in zip(size, kernel, stride, padding, dilation)]
    empty = any(not window_cells((o,), (i,), (k,), (s,), (pp,), (d,))[0]
                for i, k, s, pp, d, n_out in zip(size, kernel, stride, padding, dilation, out)
                for o in range(n_out))
    return dict(nd=nd, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                ceil_mode=ceil_mode, size=size, n=n, batched=batched, kw=kw, empty=empty)


@given(st.data())
def test_max_pool_forward_and_backward(data):
    p = draw_window_pool(data, dilated=True)
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    (x,) = arrays(data, dtype, (p["n"], 2) + p["size"])
    f = getattr(fastconv, f"max_pool{p['nd']}d")
    xa = relayout(drop_batch(x, p["batched"]), data.draw(st.sampled_from(LAYOUTS)))
    if p["empty"]:
        with pytest.raises(ValueError, match="covers only padding"):
            f(xa, **p["kw"])
        return
    vals, idx = max_pool_ref(x, p["kernel"], p["stride"], p["padding"], p["dilation"],
                             p["ceil_mode"])
    got, got_idx = f(xa, return_indices=True, **p["kw"])
    np.testing.assert_array_equal(got, drop_batch(vals, p["batched"]).astype(dtype),
                                  err_msg=str(p))
    np.testing.assert_array_equal(got_idx, drop_batch(idx, p["batched"]), err_msg=str(p))

    x = x.astype(np.float64)
    g = arrays(data, np.float64, vals.shape)[0]
    gx = getattr(fastconv, f"max_pool{p['nd']}d_backward")(
        relayout(drop_batch(g, p["batched"]), data.draw(st.sampled_from(LAYOUTS))),
        drop_batch(x, p["batched"]), **p["kw"])
    check_gradients(dict(x=x), lambda: float(np.sum(f(x, **p["kw"]) * g)),
                    dict(x=gx if p["batched"] else gx[None]))


@given(st.data())
def test_avg_pool_forward_and_backward(data):
    p = draw_window_pool(data, dilated=False)
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    include = data.draw(st.booleans(), label="count_include_pad")
    (x,) = arrays(data, dtype, (p["n"], 2) + p["size"])
    f = getattr(fastconv, f"avg_pool{p['nd']}d")
    kw = dict(p["kw"], count_include_pad=include)
    xa = relayout(drop_batch(x, p["batched"]), data.draw(st.sampled_from(LAYOUTS)))
    if p["empty"]:
        with pytest.raises(ValueError, match="covers only padding"):
            f(xa, **kw)
        return
    expected = avg_pool_ref(x, p["kernel"], p["stride"], p["padding"], p["ceil_mode"], include)
    assert_close(f(xa, **kw), drop_batch(expected, p["batched"]), dtype,
                 int(np.prod(p["kernel"])), p)

    x = x.astype(np.float64)
    g = arrays(data, np.float64, expected.shape)[0]
    gx = getattr(fastconv, f"avg_pool{p['nd']}d_backward")(drop_batch(g, p["batched"]),
                                                           drop_batch(x, p["batched"]), **kw)
    check_gradients(dict(x=x), lambda: float(np.sum(f(x, **kw) * g)),
                    dict(x=gx if p["batched"] else gx[None]))


@given(st.data())
def test_adaptive_pool_forward_and_backward(data):
    nd = data.draw(st.integers(1, 3), label="nd")
    kind = data.draw(st.sampled_from(["avg", "max"]), label="kind")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    size = draw_sizes(data, nd, (1,) * nd)
    out_arg = tuple(data.draw(st.one_of(st.none(), st.integers(1, i + 2)), label="output_size")
                    for i in size)
    out_size = tuple(i if o is None else o for i, o in zip(size, out_arg))
    if nd == 1 or data.draw(st.booleans(), label="int output_size"):
        out_arg = out_size[0] if len(set(out_size)) == 1 else out_arg
    n, batched = draw_batch(data)
    (x,) = arrays(data, dtype, (n, 2) + size)
    f = getattr(fastconv, f"adaptive_{kind}_pool{nd}d")
    xa = relayout(drop_batch(x, batched), data.draw(st.sampled_from(LAYOUTS)))
    ref = adaptive_pool_ref(x, out_size, kind)
    if kind == "max":
        got, idx = f(xa, out_arg, return_indices=True)
        np.testing.assert_array_equal(idx, drop_batch(ref[1], batched))
        np.testing.assert_array_equal(got, drop_batch(ref[0], batched).astype(dtype))
        ref = ref[0]
    else:
        assert_close(f(xa, out_arg), drop_batch(ref, batched), dtype, int(np.prod(size)),
                     (size, out_arg))

    x = x.astype(np.float64)
    g = arrays(data, np.float64, ref.shape)[0]
    gx = getattr(fastconv, f"adaptive_{kind}_pool{nd}d_backward")(drop_batch(g, batched),
                                                                  drop_batch(x, batched))
    check_gradients(dict(x=x), lambda: float(np.sum(f(x, out_arg) * g)),
                    dict(x=gx if batched else gx[None]))


@given(st.data())
def test_global_pool_forward_and_backward(data):
    nd = data.draw(st.integers(1, 4), label="spatial axes")
    kind = data.draw(st.sampled_from(["avg", "max"]), label="kind")
    keepdims = data.draw(st.booleans(), label="keepdims")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    size = draw_sizes(data, nd, (1,) * nd)
    n = data.draw(st.integers(0, 2), label="n")
    (x,) = arrays(data, dtype, (n, 3) + size)
    f = getattr(fastconv, f"global_{kind}_pool")
    expected = global_pool_ref(x, kind)
    if keepdims:
        expected = expected.reshape(expected.shape + (1,) * nd)
    assert_close(f(relayout(x, data.draw(st.sampled_from(LAYOUTS))), keepdims), expected,
                 dtype, int(np.prod(size)), (size, keepdims))

    x = x.astype(np.float64)
    g = arrays(data, np.float64, expected.shape)[0]
    gx = getattr(fastconv, f"global_{kind}_pool_backward")(g, x, keepdims)
    check_gradients(dict(x=x), lambda: float(np.sum(f(x, keepdims) * g)), dict(x=gx))


@given(st.data())
def test_spatial_pyramid_pool_forward_and_backward(data):
    mode = data.draw(st.sampled_from(["avg", "max"]), label="mode")
    levels = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3),
                             label="levels"))
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    size = draw_sizes(data, 2, (1, 1))
    n = data.draw(st.integers(0, 2), label="n")
    (x,) = arrays(data, dtype, (n, 2) + size)
    expected = pyramid_ref(x, levels, mode)
    got = fastconv.spatial_pyramid_pool(relayout(x, data.draw(st.sampled_from(LAYOUTS))),
                                        levels, mode)
    assert_close(got, expected, dtype, int(np.prod(size)), (size, levels, mode))

    x = x.astype(np.float64)
    g = arrays(data, np.float64, expected.shape)[0]
    gx = fastconv.spatial_pyramid_pool_backward(g, x, levels, mode)
    check_gradients(dict(x=x),
                    lambda: float(np.sum(fastconv.spatial_pyramid_pool(x, levels, mode) * g)),
                    dict(x=gx))


# ---------------------------------------------- upsample, pad, shuffle ----
UPSAMPLE_MODES = {1: ("nearest", "linear"), 2: ("nearest", "bilinear"),
                  3: ("nearest", "trilinear")}


@given(st.data())
def test_upsample_forward_and_backward(data):
    nd = data.draw(st.integers(1, 3), label="nd")
    mode = data.draw(st.sampled_from(UPSAMPLE_MODES[nd]), label="mode")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    size_in = draw_sizes(data, nd, (1,) * nd)
    align = None if mode == "nearest" else data.draw(st.sampled_from([None, False, True]),
                                                     label="align_corners")
    size = scale = None
    if data.draw(st.booleans(), label="by size"):
        size = data.draw(st.integers(1, 9), label="size") if nd == 1 else tuple(
            data.draw(st.integers(1, 9), label="size") for _ in range(nd))
    else:
        factor = st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0]) | st.floats(0.25, 3.5)
        scale = data.draw(factor, label="scale_factor") if data.draw(st.booleans()) else tuple(
            data.draw(factor, label="scale_factor") for _ in range(nd))
    n = data.draw(st.integers(0, 2), label="n")
    (x,) = arrays(data, dtype, (n, 2) + size_in)
    kw = dict(size=size, scale_factor=scale, mode=mode, align_corners=align)
    xa = relayout(x, data.draw(st.sampled_from(LAYOUTS)))
    if min(upsample_output_size(size_in, size, scale)) < 1:
        with pytest.raises(ValueError, match="scale_factor"):
            fastconv.upsample(xa, **kw)
        return
    expected = upsample_reference(x, **kw)
    assert_close(fastconv.upsample(xa, **kw), expected, dtype, 2 ** nd, (size_in, kw))

    x = x.astype(np.float64)
    g = arrays(data, np.float64, expected.shape)[0]
    gx = fastconv.upsample_backward(relayout(g, data.draw(st.sampled_from(LAYOUTS))), x, **kw)
    check_gradients(dict(x=x), lambda: float(np.sum(fastconv.upsample(x, **kw) * g)),
                    dict(x=gx))


@given(st.data())
def test_pad_forward_and_backward(data):
    nd = data.draw(st.integers(1, 3), label="nd")
    mode = data.draw(st.sampled_from(["zeros", "constant", "reflect", "replicate", "circular"]),
                     label="mode")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    form = data.draw(st.sampled_from(["pairs", "ints", "int"]), label="pad form")
    if form == "int":
        pad = data.draw(st.integers(0, 5), label="pad")
        pairs = [(pad, pad)] * nd
    elif form == "ints":
        pad = tuple(data.draw(st.integers(0, 5), label="pad") for _ in range(nd))
        pairs = [(b, b) for b in pad]
    else:
        pairs = [(data.draw(st.integers(0, 5), label="before"),
                  data.draw(st.integers(0, 5), label="after")) for _ in range(nd)]
        pad = tuple(pairs)
    size = draw_sizes(data, nd, [max(b, a) + 1 if mode == "reflect" else 1 for b, a in pairs])
    value = data.draw(st.floats(-3, 3), label="value") if mode == "constant" else 0.0
    n = data.draw(st.integers(0, 2), label="n")
    (x,) = arrays(data, dtype, (n, 2) + size)
    expected = pad_reference(x, tuple(pairs), mode, value)
    got = fastconv.pad(relayout(x, data.draw(st.sampled_from(LAYOUTS))), pad, mode, value)
    np.testing.assert_array_equal(got, expected.astype(dtype), err_msg=str((pad, mode)))
    assert got.dtype == dtype and got.flags.c_contiguous

    x = x.astype(np.float64)
    g = arrays(data, np.float64, expected.shape)[0]
    gx = fastconv.pad_backward(relayout(g, data.draw(st.sampled_from(LAYOUTS))), x, pad, mode,
                               value)
    check_gradients(dict(x=x), lambda: float(np.sum(fastconv.pad(x, pad, mode, value) * g)),
                    dict(x=gx))


@given(st.data())
def test_channel_shuffle_forward_and_backward(data):
    nd = data.draw(st.integers(1, 3), label="spatial axes")
    groups = data.draw(st.integers(1, 4), label="groups")
    c = groups * data.draw(st.integers(1, 3), label="C/groups")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    n = data.draw(st.integers(0, 2), label="n")
    (x,) = arrays(data, dtype, (n, c) + draw_sizes(data, nd, (1,) * nd))
    got = fastconv.channel_shuffle(relayout(x, data.draw(st.sampled_from(LAYOUTS))), groups)
    np.testing.assert_array_equal(got, channel_shuffle_reference(x, groups))
    assert got.dtype == dtype and got.flags.c_contiguous

    x = x.astype(np.float64)
    g = arrays(data, np.float64, x.shape)[0]
    gx = fastconv.channel_shuffle_backward(relayout(g, "reversed"), x, groups)
    check_gradients(dict(x=x),
                    lambda: float(np.sum(fastconv.channel_shuffle(x, groups) * g)), dict(x=gx))
