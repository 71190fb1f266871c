"""Bad input: a ValueError or TypeError whose message names the operation and
the argument (and the dtype, for unsupported dtypes); never a crash, a hang, a
wrong-shaped result or a silent clamp.  First conv1d/2d/3d in detail, then a
table of malformed calls of every public function, forward and backward (sizes
that would overflow or exhaust memory in a child process), then set_num_threads."""
import inspect
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import fastconv

CONV = {1: fastconv.conv1d, 2: fastconv.conv2d, 3: fastconv.conv3d}

X2 = np.zeros((2, 4, 6, 6), np.float32)          # (N, C, H, W)
W2 = np.zeros((6, 2, 3, 3), np.float32)          # groups=2 compatible


def _x(*shape, dtype=np.float32):
    return np.zeros(shape, dtype)


def _huge(shape, dtype=np.float32):
    """A huge-looking read-only array that costs no memory."""
    return np.broadcast_to(np.zeros((), dtype), shape)


# (id, nd, x, weight, kwargs, exception, regex the message must match)
BAD = [
    # ---- ranks
    ("x_rank_too_low_2d", 2, _x(6, 6), W2, {}, ValueError, r"x must have shape.*\(6, 6\)"),
    ("x_rank_too_high_2d", 2, _x(1, 2, 4, 6, 6), W2, {}, ValueError, r"x must have shape"),
    ("x_rank_1d", 1, _x(5), _x(1, 1, 2), {}, ValueError, r"x must have shape"),
    ("x_rank_3d", 3, _x(2, 5, 5), _x(1, 2, 2, 2, 2), {}, ValueError, r"x must have shape"),
    ("x_scalar", 2, np.float32(1), W2, {}, ValueError, r"x must have shape"),
    ("weight_rank_too_low", 2, X2, _x(6, 4, 3), {}, ValueError,
     r"weight must have shape.*\(6, 4, 3\)"),
    ("weight_rank_too_high", 2, X2, _x(6, 4, 3, 3, 1), {}, ValueError, r"weight must have shape"),
    ("weight_rank_1d", 1, _x(1, 2, 5), _x(1, 2), {}, ValueError, r"weight must have shape"),
    ("weight_rank_3d", 3, _x(1, 2, 4, 4, 4), _x(1, 2, 2, 2), {}, ValueError,
     r"weight must have shape"),
    ("weight_empty_c_out", 2, X2, _x(0, 4, 3, 3), {}, ValueError, r"weight of shape.*empty"),
    ("weight_empty_kernel", 2, X2, _x(6, 4, 0, 3), {}, ValueError, r"weight of shape.*empty"),
    ("x_no_channels", 2, _x(1, 0, 5, 5), _x(2, 0, 3, 3), {}, ValueError, r"(x|weight) of shape"),
    ("x_empty_spatial", 2, _x(1, 4, 0, 5), _x(2, 4, 1, 1), {}, ValueError, r"x of shape"),
    # ---- channels and groups
    ("channel_mismatch", 2, X2, _x(6, 3, 3, 3), {}, ValueError,
     r"weight of shape \(6, 3, 3, 3\).*x of shape \(2, 4, 6, 6\)"),
    ("channel_mismatch_groups", 2, X2, W2, {"groups": 1}, ValueError,
     r"weight of shape \(6, 2, 3, 3\).*x of shape"),
    ("groups_not_dividing_c_in", 2, _x(1, 3, 6, 6), _x(4, 1, 3, 3), {"groups": 2}, ValueError,
     r"groups=2.*input channels.*x has shape \(1, 3, 6, 6\)"),
    ("groups_not_dividing_c_out", 2, X2, _x(5, 2, 3, 3), {"groups": 2}, ValueError,
     r"groups=2.*output channels.*weight has shape \(5, 2, 3, 3\)"),
    ("groups_0", 2, X2, W2, {"groups": 0}, ValueError, r"groups must be >= 1"),
    ("groups_negative", 2, X2, W2, {"groups": -2}, ValueError, r"groups must be >= 1"),
    ("groups_float", 2, X2, W2, {"groups": 2.0}, TypeError, r"groups must be an int"),
    ("groups_bool", 2, X2, W2, {"groups": True}, TypeError, r"groups must be an int"),
    # ---- stride
    ("stride_0", 2, X2, W2, {"groups": 2, "stride": 0}, ValueError, r"stride must be >= 1"),
    ("stride_negative", 2, X2, W2, {"groups": 2, "stride": -1}, ValueError, r"stride must be >= 1"),
    ("stride_tuple_0", 2, X2, W2, {"groups": 2, "stride": (1, 0)}, ValueError,
     r"stride must be >= 1"),
    ("stride_float", 2, X2, W2, {"groups": 2, "stride": 2.0}, TypeError, r"stride must be an int"),
    ("stride_np_float", 2, X2, W2, {"groups": 2, "stride": np.float64(2)}, TypeError,
     r"stride must be an int"),
    ("stride_nan", 2, X2, W2, {"groups": 2, "stride": float("nan")}, TypeError,
     r"stride must be an int"),
    ("stride_inf_in_tuple", 2, X2, W2, {"groups": 2, "stride": (1, float("inf"))}, TypeError,
     r"stride must be an int"),
    ("stride_bool", 2, X2, W2, {"groups": 2, "stride": True}, TypeError, r"stride must be an int"),
    ("stride_bool_in_tuple", 2, X2, W2, {"groups": 2, "stride": (1, True)}, TypeError,
     r"stride must be an int"),
    ("stride_str", 2, X2, W2, {"groups": 2, "stride": "2"}, TypeError, r"stride must be an int"),
    ("stride_none", 2, X2, W2, {"groups": 2, "stride": None}, TypeError, r"stride must be an int"),
    ("stride_too_long", 2, X2, W2, {"groups": 2, "stride": (1, 1, 1)}, ValueError,
     r"stride must be an int or 2 ints"),
    ("stride_too_short", 2, X2, W2, {"groups": 2, "stride": (1,)}, ValueError,
     r"stride must be an int or 2 ints"),
    ("stride_too_long_1d", 1, _x(1, 2, 5), _x(1, 2, 2), {"stride": (1, 1)}, ValueError,
     r"stride must be an int or 1 ints"),
    ("stride_too_short_3d", 3, _x(1, 2, 4, 4, 4), _x(1, 2, 2, 2, 2), {"stride": (1, 1)},
     ValueError, r"stride must be an int or 3 ints"),
    # ---- dilation
    ("dilation_0", 2, X2, W2, {"groups": 2, "dilation": 0}, ValueError, r"dilation must be >= 1"),
    ("dilation_tuple_0", 2, X2, W2, {"groups": 2, "dilation": (0, 1)}, ValueError,
     r"dilation must be >= 1"),
    ("dilation_negative", 2, X2, W2, {"groups": 2, "dilation": -1}, ValueError,
     r"dilation must be >= 1"),
    ("dilation_float", 2, X2, W2, {"groups": 2, "dilation": 1.5}, TypeError,
     r"dilation must be an int"),
    ("dilation_too_long", 2, X2, W2, {"groups": 2, "dilation": (1, 1, 1)}, ValueError,
     r"dilation must be an int or 2 ints"),
    # ---- padding
    ("padding_negative", 2, X2, W2, {"groups": 2, "padding": -1}, ValueError,
     r"padding must be >= 0"),
    ("padding_tuple_negative", 2, X2, W2, {"groups": 2, "padding": (1, -1)}, ValueError,
     r"padding must be >= 0"),
    ("padding_pair_negative", 2, X2, W2, {"groups": 2, "padding": ((0, -1), (0, 0))}, ValueError,
     r"padding must be >= 0"),
    ("padding_too_long", 2, X2, W2, {"groups": 2, "padding": (1, 1, 1)}, ValueError,
     r"padding must be .*2"),
    ("padding_pairs_too_many", 2, X2, W2, {"groups": 2, "padding": ((1, 1),) * 3}, ValueError,
     r"padding must be .*2"),
    ("padding_pair_of_three", 2, X2, W2, {"groups": 2, "padding": ((1, 1, 1), (1, 1))},
     ValueError, r"padding pair"),
    ("padding_float", 2, X2, W2, {"groups": 2, "padding": 1.0}, (ValueError, TypeError),
     r"padding must be"),
    ("padding_float_in_tuple", 2, X2, W2, {"groups": 2, "padding": (1, 1.0)}, TypeError,
     r"padding"),
    ("padding_bool", 2, X2, W2, {"groups": 2, "padding": True}, (ValueError, TypeError),
     r"padding"),
    ("padding_none", 2, X2, W2, {"groups": 2, "padding": None}, (ValueError, TypeError),
     r"padding must be"),
    ("padding_bad_string", 2, X2, W2, {"groups": 2, "padding": "full"}, ValueError,
     r"padding must be 'valid', 'same'.*'full'"),
    ("padding_string_case", 2, X2, W2, {"groups": 2, "padding": "SAME"}, ValueError,
     r"padding must be"),
    ("padding_same_stride2", 2, X2, W2, {"groups": 2, "padding": "same", "stride": 2},
     ValueError, r"padding='same'.*stride"),
    ("padding_same_stride_tuple", 2, X2, W2, {"groups": 2, "padding": "same", "stride": (1, 2)},
     ValueError, r"padding='same'.*stride"),
    # ---- padding_mode
    ("padding_mode_unknown", 2, X2, W2, {"groups": 2, "padding_mode": "constant"}, ValueError,
     r"padding_mode must be one of.*'constant'"),
    ("padding_mode_case", 2, X2, W2, {"groups": 2, "padding_mode": "Zeros"}, ValueError,
     r"padding_mode"),
    ("padding_mode_none", 2, X2, W2, {"groups": 2, "padding_mode": None}, ValueError,
     r"padding_mode"),
    ("reflect_padding_eq_size", 2, _x(1, 1, 3, 8), _x(1, 1, 1, 1),
     {"padding": 3, "padding_mode": "reflect"}, ValueError,
     r"padding_mode='reflect'.*padding.*\(3, 8\)"),
    ("reflect_padding_gt_size", 2, _x(1, 1, 8, 2), _x(1, 1, 1, 1),
     {"padding": (0, 4), "padding_mode": "reflect"}, ValueError, r"padding_mode='reflect'"),
    ("reflect_asym_after", 2, _x(1, 1, 3, 8), _x(1, 1, 1, 1),
     {"padding": ((0, 3), (0, 0)), "padding_mode": "reflect"}, ValueError,
     r"padding_mode='reflect'"),
    ("reflect_same_big_kernel", 1, _x(1, 1, 3), _x(1, 1, 9), {"padding": "same",
     "padding_mode": "reflect"}, ValueError, r"padding_mode='reflect'"),
    ("reflect_size_1", 3, _x(1, 1, 1, 4, 4), _x(1, 1, 1, 1, 1),
     {"padding": 1, "padding_mode": "reflect"}, ValueError, r"padding_mode='reflect'"),
    # ---- output size
    ("output_empty_kernel_too_big", 2, _x(1, 1, 3, 3), _x(1, 1, 4, 3), {}, ValueError,
     r"output size.*\(3, 3\)"),
    ("output_empty_dilation", 2, _x(1, 1, 5, 5), _x(1, 1, 3, 3), {"dilation": (1, 3)},
     ValueError, r"output size"),
    ("output_empty_1d", 1, _x(1, 1, 2), _x(1, 1, 3), {}, ValueError, r"output size"),
    ("output_empty_3d", 3, _x(1, 1, 2, 5, 5), _x(1, 1, 3, 1, 1), {}, ValueError, r"output size"),
    # ---- bias
    ("bias_too_short", 2, X2, W2, {"groups": 2, "bias": _x(5)}, ValueError,
     r"bias must have shape \(6,\).*\(5,\)"),
    ("bias_2d", 2, X2, W2, {"groups": 2, "bias": _x(6, 1)}, ValueError, r"bias must have shape"),
    ("bias_scalar", 2, X2, W2, {"groups": 2, "bias": 1.0}, ValueError, r"bias must have shape"),
    ("bias_c_in", 2, X2, W2, {"groups": 2, "bias": _x(4)}, ValueError, r"bias must have shape"),
    # ---- dtypes
    ("x_int32", 2, X2.astype(np.int32), W2, {"groups": 2}, TypeError, r"x has dtype int32"),
    ("x_int_list", 1, [[[1, 2, 3]]], _x(1, 1, 2), {}, TypeError, r"x has dtype int"),
    ("x_bool", 2, X2.astype(bool), W2, {"groups": 2}, TypeError, r"x has dtype bool"),
    ("x_float16", 2, X2.astype(np.float16), W2, {"groups": 2}, TypeError,
     r"x has dtype float16"),
    ("x_complex64", 2, X2.astype(np.complex64), W2, {"groups": 2}, TypeError,
     r"x has dtype complex64"),
    ("x_object", 2, X2.astype(object), W2, {"groups": 2}, TypeError, r"x has dtype object"),
    ("x_str", 2, np.full((1, 4, 3, 3), "a"), W2, {"groups": 2}, TypeError, r"x has dtype <U1"),
    ("x_bytes", 2, np.full((1, 4, 3, 3), b"a"), W2, {"groups": 2}, TypeError, r"x has dtype \|S1"),
    ("x_datetime", 2, np.zeros((1, 4, 3, 3), "M8[s]"), W2, {"groups": 2}, TypeError,
     r"x has dtype datetime64"),
    ("x_ragged_list", 1, [[[1.0, 2.0], [1.0]]], _x(1, 2, 1), {}, TypeError, r"x"),
    ("weight_float16", 2, X2, W2.astype(np.float16), {"groups": 2}, TypeError,
     r"weight has dtype float16"),
    ("weight_int64", 2, X2, W2.astype(np.int64), {"groups": 2}, TypeError,
     r"weight has dtype int64"),
    ("weight_complex128", 2, X2, W2.astype(np.complex128), {"groups": 2}, TypeError,
     r"weight has dtype complex128"),
    ("weight_longdouble", 2, X2, W2.astype(np.longdouble), {"groups": 2}, TypeError,
     r"weight has dtype float128|weight has dtype longdouble"),
    ("bias_int32", 2, X2, W2, {"groups": 2, "bias": np.zeros(6, np.int32)}, TypeError,
     r"bias has dtype int32"),
    ("bias_object", 2, X2, W2, {"groups": 2, "bias": np.zeros(6, object)}, TypeError,
     r"bias has dtype object"),
    ("bias_str", 2, X2, W2, {"groups": 2, "bias": np.full(6, "b")}, TypeError,
     r"bias has dtype <U1"),
    # ---- algorithm
    ("algorithm_unknown", 2, X2, W2, {"groups": 2, "algorithm": "fft_nonexistent"}, ValueError,
     r"algorithm must be 'auto' or one of.*'fft_nonexistent'"),
    ("algorithm_case", 2, X2, W2, {"groups": 2, "algorithm": "Direct"}, ValueError,
     r"algorithm"),
    ("algorithm_none", 2, X2, W2, {"groups": 2, "algorithm": None}, ValueError, r"algorithm"),
    # ---- sizes whose byte count overflows: refused before anything is allocated
    ("huge_x", 2, _huge((1, 1, 2**30, 2**30)), _x(1, 1, 1, 1), {}, ValueError,
     r"(x|output) of shape \(1, 1, 1073741824, 1073741824\)"),
    ("huge_x_3d", 3, _huge((2**20, 1, 2**20, 2**10, 2**10)), _x(1, 1, 1, 1, 1), {}, ValueError,
     r"(x|output) of shape"),
    ("huge_output_from_padding", 2, _x(1, 1, 1, 1), _x(1, 1, 1, 1), {"padding": 2**31},
     ValueError, r"output of shape \(1, 1, 4294967297, 4294967297\)"),
    ("huge_output_from_channels", 1, _huge((2**20, 1, 2**20)), _huge((2**40, 1, 1)), {},
     ValueError, r"(output|weight) of shape"),
    ("huge_weight", 2, _x(1, 1, 1, 1), _huge((1, 1, 2**30, 2**30)),
     {"padding": ((2**29 - 1, 2**29), (2**29 - 1, 2**29))}, ValueError,
     r"weight of shape \(1, 1, 1073741824, 1073741824\)"),
]


@pytest.mark.parametrize("name, nd, x, weight, kwargs, exc, match", BAD,
                         ids=[row[0] for row in BAD])
def test_bad_input_raises_naming_argument(name, nd, x, weight, kwargs, exc, match):
    kwargs = dict(kwargs)
    bias = kwargs.pop("bias", None)
    with pytest.raises(exc, match=match):
        CONV[nd](x, weight, bias, **kwargs)


def test_bad_input_table_ids_unique():
    names = [row[0] for row in BAD]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("bad_algorithm", ["direct", "im2col", "auto"])
def test_every_algorithm_validates(bad_algorithm):
    """Validation does not depend on the algorithm chosen."""
    with pytest.raises(ValueError, match="stride must be >= 1"):
        fastconv.conv2d(X2, W2, groups=2, stride=0, algorithm=bad_algorithm)
    with pytest.raises(TypeError, match="x has dtype int32"):
        fastconv.conv2d(X2.astype(np.int32), W2, groups=2, algorithm=bad_algorithm)


def test_unknown_algorithm_not_offered():
    assert "fft_nonexistent" not in fastconv.ALGORITHMS
    assert isinstance(fastconv.ALGORITHMS, tuple) and "direct" in fastconv.ALGORITHMS


def test_good_neighbours_of_bad_inputs_pass():
    """The table's inputs are one change away from valid: the same calls with
    the offending argument fixed work (so the errors above are for the stated
    reason, not for some other mistake in the table)."""
    assert fastconv.conv2d(X2, W2, groups=2).shape == (2, 6, 4, 4)
    assert fastconv.conv2d(X2, W2, groups=2, stride=np.int64(2)).shape == (2, 6, 2, 2)
    assert fastconv.conv2d(_x(1, 1, 4, 8), _x(1, 1, 1, 1), padding=3,
                           padding_mode="reflect").shape == (1, 1, 10, 14)
    assert fastconv.conv2d(_x(1, 1, 3, 3), _x(1, 1, 3, 3)).shape == (1, 1, 1, 1)
    assert fastconv.conv2d(X2, W2, _x(6), groups=2, padding="same").shape == (2, 6, 6, 6)


# ---------------------------------------------------------- set_num_threads ----
@pytest.mark.parametrize("n, exc", [
    (0, ValueError), (-1, ValueError), ("2", TypeError), (2.0, TypeError), (True, TypeError),
    (float("nan"), TypeError), (2**31, ValueError), (2**70, ValueError),
], ids=["0", "-1", "str", "float", "bool", "nan", "beyond_c_int", "beyond_int64"])
def test_set_num_threads_bad(n, exc, restore_threads):
    before = fastconv.get_num_threads()
    with pytest.raises(exc, match=r"set_num_threads: n must be"):
        fastconv.set_num_threads(n)
    assert fastconv.get_num_threads() == before     # unchanged


# ===================================================== every public function ====
# A valid call of every operation (forward and backward); each row below changes
# one or two arguments of it by name.  Generic rows are generated from the
# parameter names (every hyper-parameter, flag, mode, array and out= gets the
# same kinds of bad value); the rows after them are each operation's own rules.
# Rows that, were validation missing, would crash or try to allocate absurd
# amounts of memory run in a child process with a capped address space
# (ISOLATED_ROWS).
def _z(*shape, dtype=np.float64):
    return np.zeros(shape, dtype)


def _sig(fn):
    return list(inspect.signature(fn).parameters)


X_ND = {1: _z(2, 4, 9), 2: _z(2, 4, 7, 6), 3: _z(2, 4, 5, 5, 4)}


def _forward_calls():
    """name -> (function, arguments by name): a valid call of every forward op."""
    calls = {}
    for nd, x in X_ND.items():
        k = (3,) * nd
        calls[f"conv{nd}d"] = dict(x=x, weight=_z(6, 2, *k), bias=_z(6), stride=2, padding=1,
                                   dilation=1, groups=2, padding_mode="reflect")
        calls[f"conv_transpose{nd}d"] = dict(x=x, weight=_z(4, 3, *k), bias=_z(6), stride=2,
                                             padding=1, output_padding=1, groups=2)
        calls[f"max_pool{nd}d"] = dict(x=x, kernel_size=3, stride=2, padding=1, dilation=1,
                                       ceil_mode=True)
        calls[f"avg_pool{nd}d"] = dict(x=x, kernel_size=3, stride=2, padding=1,
                                       count_include_pad=False)
        for kind in ("avg", "max"):
            calls[f"adaptive_{kind}_pool{nd}d"] = dict(x=x, output_size=2)
    calls["depthwise_conv2d"] = dict(x=X_ND[2], weight=_z(8, 1, 3, 3), bias=_z(8), stride=1,
                                     padding=1, dilation=1, padding_mode="replicate")
    calls["separable_conv2d"] = dict(x=X_ND[2], depthwise_weight=_z(8, 1, 3, 3),
                                     pointwise_weight=_z(5, 8, 1, 1), depthwise_bias=_z(8),
                                     pointwise_bias=_z(5), stride=1, padding=1,
                                     padding_mode="circular")
    calls["global_avg_pool"] = dict(x=X_ND[2], keepdims=False)
    calls["global_max_pool"] = dict(x=X_ND[2], keepdims=True)
    calls["spatial_pyramid_pool"] = dict(x=X_ND[2], levels=(1, 2), mode="max")
    calls["upsample"] = dict(x=X_ND[2], scale_factor=2, mode="bilinear", align_corners=True)
    calls["pad"] = dict(x=X_ND[2], pad=((1, 2), 1), mode="reflect")
    calls["channel_shuffle"] = dict(x=X_ND[2], groups=2)
    return calls


def _all_calls():
    """name -> (function, arguments by name, result shape) for every public
    operation; a backward call takes the forward's result shape as grad_output."""
    calls = {}
    for name, kw in _forward_calls().items():
        fn = getattr(fastconv, name)
        result = fn(**kw)
        shape = (result[0] if isinstance(result, tuple) else result).shape
        calls[name] = (fn, kw, shape)
        bwd = getattr(fastconv, name + "_backward")
        bkw = {k: v for k, v in kw.items() if k in _sig(bwd)}
        calls[name + "_backward"] = (bwd, dict(grad_output=_z(*shape), **bkw), None)
    return calls


CALLS = _all_calls()
HUGE_COUNT = 2**59 + 1   # elements: more than fastconv addresses (NumPy allows up to 2**63 bytes)
BIG_COUNT = 2**40        # elements: addressable, but far beyond any machine's memory


def _huge(n, shape):
    """A read-only broadcast view of shape (n, *shape[1:]): it costs no memory."""
    return np.broadcast_to(np.float32(0), (n,) + tuple(shape[1:]))


def _rank(a, change):
    """a with `change` more axes, or (change < 0) fewer (down to a scalar)."""
    if change < 0:
        return a[(0,) * min(-change, a.ndim)]
    return a.reshape((1,) * change + a.shape)


# bad values of integer hyper-parameters: (id, value, exception)
BAD_INT = [("negative", -1, ValueError), ("float", 2.0, TypeError),
           ("nan", float("nan"), TypeError), ("inf", float("inf"), TypeError),
           ("str", "2", TypeError), ("bool", True, TypeError), ("none", None, TypeError),
           ("beyond_int64", 2**70, ValueError), ("array_0d", np.array(2), TypeError)]
BAD_PER_AXIS = BAD_INT + [("too_many_axes", (1, 1, 1, 1), ValueError),
                          ("float_in_tuple", (1.5,), (ValueError, TypeError)),
                          ("array_2d", np.ones((1, 1), int), (ValueError, TypeError))]
ZERO = [("0", 0, ValueError)]
NOT_NONE = [row for row in BAD_PER_AXIS if row[0] != "none"]
INT_PARAMS = {"stride": ZERO + BAD_PER_AXIS, "dilation": ZERO + BAD_PER_AXIS,
              "kernel_size": ZERO + BAD_PER_AXIS, "groups": ZERO + BAD_INT,
              "output_size": ZERO + NOT_NONE, "output_padding": BAD_PER_AXIS,
              "padding": BAD_PER_AXIS}
FLAGS = ("ceil_mode", "count_include_pad", "return_indices", "keepdims", "need_input",
         "need_bias", "align_corners")
MODES = ("padding_mode", "mode", "algorithm")
ARRAYS = ("x", "weight", "bias", "depthwise_weight", "pointwise_weight", "depthwise_bias",
          "pointwise_bias", "grad_output")
BAD_DTYPES = [("complex", np.complex128, "complex128"), ("object", object, "object"),
              ("str", "U1", "<U1"), ("int32", np.int32, "int32"), ("float16", np.float16,
                                                                   "float16")]


def _generic_rows(name, fn, kw, shape):
    params = _sig(fn)
    rows = []
    for p in params:
        if p in INT_PARAMS:
            for vid, value, exc in INT_PARAMS[p]:
                if value is None and p == "stride" and "pool" in name:
                    continue   # pooling's stride=None means kernel_size
                if vid == "str" and p == "padding":
                    exc = (ValueError, TypeError)   # strings are a padding form of convolutions
                rows.append((f"{name}-{p}-{vid}", {p: value}, exc, rf"\b{p}\b"))
        if p in FLAGS and not (p == "align_corners" and kw.get("mode") != "bilinear"):
            rows.append((f"{name}-{p}-str", {p: "yes"}, TypeError, rf"\b{p}\b"))
            rows.append((f"{name}-{p}-int", {p: 2}, TypeError, rf"\b{p}\b"))
        if p in MODES:
            for vid, value in (("unknown", "bogus"), ("none", None), ("int", 1)):
                rows.append((f"{name}-{p}-{vid}", {p: value}, ValueError, rf"\b{p}\b"))
        if p in ARRAYS and kw.get(p) is not None:
            a = kw[p]
            for vid, dt, shown in BAD_DTYPES:
                rows.append((f"{name}-{p}-{vid}", {p: a.astype(dt)}, TypeError,
                             rf"\b{p} has dtype {re.escape(shown)}"))
            rows.append((f"{name}-{p}-ragged", {p: [[0.0, 1.0], [0.0]]}, TypeError, rf"\b{p}\b"))
            rows.append((f"{name}-{p}-rank_low", {p: _rank(a, -2)}, ValueError, rf"\b{p}\b"))
            if not (p == "x" and ("global" in name or "shuffle" in name)):
                rows.append((f"{name}-{p}-rank_high", {p: _rank(a, 2)}, ValueError,
                             rf"\b{p}\b"))
    if "grad_output" in params:
        g = kw["grad_output"]
        wrong = g.shape[:1] + (g.shape[1] + 1,) + g.shape[2:]
        rows.append((f"{name}-grad_output-shape", {"grad_output": _z(*wrong)}, ValueError,
                     r"grad_output has shape"))
    if "out" in params:
        ro = _z(*shape)
        ro.setflags(write=False)
        for vid, out, exc, match in (
                ("shape", _z(*shape[:-1], shape[-1] + 1), ValueError, "out has shape"),
                ("dtype", _z(*shape, dtype=np.float32), TypeError, "out has dtype float32"),
                ("strided", _z(*shape[:-1], 2 * shape[-1])[..., ::2], ValueError,
                 "out must be C-contiguous"),
                ("readonly", ro, ValueError, "out must be writeable"),
                ("list", _z(*shape).tolist(), TypeError, "out must be a numpy.ndarray")):
            rows.append((f"{name}-out-{vid}", {"out": out}, exc, match))
        x = kw["x"]
        buf = _z(x.size + int(np.prod(shape)))
        overlap = {"x": buf[:x.size].reshape(x.shape),
                   "out": buf[x.size - 1:x.size - 1 + int(np.prod(shape))].reshape(shape)}
        rows.append((f"{name}-out-overlaps_x", overlap, ValueError, "out overlaps the memory of x"))
    return rows


def _isolated_rows(name, fn, kw):
    """x (and a backward's grad_output, with the same batch) of a shape whose size
    overflows (ValueError) or exceeds any memory (MemoryError), though it costs
    nothing as a broadcast view; a backward's grad_output missing (None)."""
    rows = []
    if "grad_output" in kw:
        rows.append((f"{name}-grad_output-none", {"grad_output": None}, TypeError,
                     r"grad_output has dtype object"))
    for vid, count, exc, match in (("overflows", HUGE_COUNT, ValueError, r"would need"),
                                   ("exceeds_memory", BIG_COUNT, (MemoryError, ValueError), "")):
        arrays = [a for a in (kw["x"], kw.get("grad_output")) if a is not None]
        n = -(-count // max(a[0].size for a in arrays))      # the largest has `count` elements
        change = {"x": _huge(n, kw["x"].shape)}
        if "grad_output" in kw:
            change["grad_output"] = _huge(n, kw["grad_output"].shape)
        rows.append((f"{name}-x-{vid}", change, exc, match))
    return rows


def _specific_rows():
    """Each operation's own rules, beyond what the generic rows cover."""
    r = []
    for nd, x in X_ND.items():
        k = (3,) * nd
        for sfx in ("", "_backward"):
            c = f"conv{nd}d{sfx}"
            r += [(f"{c}-channel_mismatch", {"weight": _z(6, 3, *k)}, ValueError,
                   r"weight of shape .* x of shape"),
                  (f"{c}-groups_not_dividing", {"groups": 3}, ValueError, r"groups=3 must divide"),
                  (f"{c}-reflect_padding_ge_size", {"padding": 9}, ValueError,
                   r"padding_mode='reflect' needs padding < input size"),
                  (f"{c}-output_empty", {"weight": _z(6, 2, *(10,) * nd), "padding": 0},
                   ValueError, r"output size .* < 1"),
                  (f"{c}-same_with_stride", {"padding": "same"}, ValueError,
                   r"padding='same' needs stride 1"),
                  (f"{c}-huge_padding", {"padding": 2**58, "padding_mode": "zeros"}, ValueError,
                   r"output of shape")]
            t = f"conv_transpose{nd}d{sfx}"
            r += [(f"{t}-channel_mismatch", {"weight": _z(5, 3, *k)}, ValueError,
                   r"weight of shape .* x of shape"),
                  (f"{t}-groups_not_dividing", {"groups": 3}, ValueError, r"groups=3 must divide"),
                  (f"{t}-output_padding_ge_stride", {"output_padding": 2}, ValueError,
                   r"output_padding .* must be smaller than stride"),
                  (f"{t}-output_empty", {"padding": 20}, ValueError, r"output size .* < 1"),
                  (f"{t}-padding_str", {"padding": "same"}, ValueError, r"padding"),
                  (f"{t}-huge_stride", {"stride": 2**58, "output_padding": 0}, ValueError,
                   r"output of shape")]
            for pool in ("max", "avg"):
                p = f"{pool}_pool{nd}d{sfx}"
                r += [(f"{p}-padding_over_half", {"padding": 2}, ValueError,
                       r"padding must be at most half of kernel_size"),
                      (f"{p}-output_empty", {"kernel_size": 12, "padding": 0}, ValueError,
                       r"output size .* < 1")]
            # a dilated window from the left padding to the right one, over the input
            r += [(f"max_pool{nd}d{sfx}-window_in_padding",
                   {"kernel_size": 2, "padding": 1, "stride": 1,
                    "dilation": tuple(s + 1 for s in x.shape[2:])}, ValueError,
                   r"covers only padding")]
            for kind in ("avg", "max") if not sfx else ():   # backward: size from grad_output
                a = f"adaptive_{kind}_pool{nd}d"
                r += [(f"{a}-output_size_wrong_length", {"output_size": (2,) * (nd + 1)},
                       ValueError, r"output_size must be an int or"),
                      (f"{a}-huge_output_size", {"output_size": 2**58}, ValueError,
                       r"output_size|output of shape")]
    for sfx in ("", "_backward"):
        d = f"depthwise_conv2d{sfx}"
        r += [(f"{d}-weight_not_1_per_group", {"weight": _z(8, 2, 3, 3)}, ValueError,
               r"weight must have shape \(C\*multiplier, 1, kH, kW\)"),
              (f"{d}-weight_not_multiple", {"weight": _z(6, 1, 3, 3)}, ValueError,
               r"weight of shape \(6, 1, 3, 3\) has 6 output channels, not a multiple")]
        s = f"separable_conv2d{sfx}"
        r += [(f"{s}-pointwise_mismatch", {"pointwise_weight": _z(5, 7, 1, 1)}, ValueError,
               r"pointwise_weight must have shape \(C_out, 8, 1, 1\)"),
              (f"{s}-pointwise_not_1x1", {"pointwise_weight": _z(5, 8, 3, 3)}, ValueError,
               r"pointwise_weight must have shape"),
              (f"{s}-depthwise_bias_shape", {"depthwise_bias": _z(5)}, ValueError,
               r"depthwise_bias must have shape \(8,\)")]
        u = f"upsample{sfx}"
        r += [(f"{u}-size_and_scale", {"size": 8}, ValueError, r"exactly one of size and scale"),
              (f"{u}-neither", {"scale_factor": None}, ValueError, r"exactly one of size"),
              (f"{u}-mode_rank", {"mode": "trilinear"}, ValueError, r"mode='trilinear' needs 5-D"),
              (f"{u}-align_corners_nearest", {"mode": "nearest"}, ValueError, r"align_corners"),
              (f"{u}-scale_zero", {"scale_factor": 0.0}, ValueError, r"scale_factor"),
              (f"{u}-scale_nan", {"scale_factor": float("nan")}, ValueError, r"scale_factor"),
              (f"{u}-scale_inf", {"scale_factor": float("inf")}, ValueError, r"scale_factor"),
              (f"{u}-scale_str", {"scale_factor": "2"}, TypeError, r"scale_factor"),
              (f"{u}-scale_0d_array", {"scale_factor": np.array(2.0)}, TypeError, r"scale_factor"),
              (f"{u}-scale_too_many", {"scale_factor": (2, 2, 2)}, ValueError, r"scale_factor"),
              (f"{u}-output_zero", {"scale_factor": 0.1}, ValueError, r"scale_factor=0.1 gives"),
              (f"{u}-size_zero", {"scale_factor": None, "size": 0}, ValueError, r"\bsize\b"),
              (f"{u}-size_float", {"scale_factor": None, "size": 2.5}, TypeError, r"\bsize\b"),
              (f"{u}-size_huge", {"scale_factor": None, "size": 2**40}, ValueError,
               r"output of shape"),
              (f"{u}-size_beyond_int64", {"scale_factor": None, "size": 2**70}, ValueError,
               r"\bsize\b")]
        p = f"pad{sfx}"
        r += [(f"{p}-torch_flat_order", {"pad": (1, 1, 2, 2)}, ValueError,
               r"pad must be an int or 2 \(before, after\) pairs"),
              (f"{p}-negative", {"pad": -1}, ValueError, r"pad must be >= 0"),
              (f"{p}-float", {"pad": 1.5}, TypeError, r"\bpad\b"),
              (f"{p}-nan", {"pad": float("nan")}, TypeError, r"\bpad\b"),
              (f"{p}-pair_of_three", {"pad": ((1, 1, 1), 1)}, ValueError, r"\bpad\b"),
              (f"{p}-reflect_ge_size", {"pad": 6}, ValueError,
               r"mode='reflect' needs pad < input size"),
              (f"{p}-zeros_with_value", {"mode": "zeros", "value": 1.0}, ValueError,
               r"mode='zeros' pads with 0"),
              (f"{p}-value_str", {"mode": "constant", "value": "1"}, TypeError, r"\bvalue\b"),
              (f"{p}-huge", {"pad": 2**40, "mode": "zeros"}, ValueError, r"output of shape"),
              (f"{p}-beyond_int64", {"pad": 2**70, "mode": "zeros"}, ValueError, r"\bpad\b")]
        c = f"channel_shuffle{sfx}"
        r += [(f"{c}-groups_not_dividing", {"groups": 3}, ValueError, r"groups=3 must divide"),
              (f"{c}-groups_0", {"groups": 0}, ValueError, r"groups must be >= 1"),
              (f"{c}-groups_float", {"groups": 2.0}, TypeError, r"groups must be an int"),
              (f"{c}-groups_nan", {"groups": float("nan")}, TypeError, r"groups must be an int"),
              (f"{c}-groups_beyond_int64", {"groups": 2**70}, ValueError, r"\bgroups\b")]
        y = f"spatial_pyramid_pool{sfx}"
        r += [(f"{y}-levels_empty", {"levels": ()}, ValueError, r"levels must be"),
              (f"{y}-levels_zero", {"levels": (1, 0)}, ValueError, r"levels must be"),
              (f"{y}-levels_float", {"levels": (1, 2.0)}, TypeError, r"levels must be"),
              (f"{y}-levels_int", {"levels": 2}, (ValueError, TypeError), r"levels must be"),
              (f"{y}-levels_huge", {"levels": (2**40,)}, ValueError, r"levels|output of shape"),
              (f"{y}-levels_beyond_int64", {"levels": (2**70,)}, ValueError, r"\blevels\b")]
    # an empty batch, but the other axes of the result beyond what NumPy addresses
    empty = {2: _z(0, 4, 7, 6), 3: _z(0, 4, 5, 5, 4)}   # (1-D: (0, C, 2**31) is fine)
    big = 2**31 - 1
    for nd, x in empty.items():
        r += [(f"conv{nd}d-empty_batch_huge_output", {"x": x, "padding": big,
                                                      "padding_mode": "zeros"}, ValueError,
               r"output of shape"),
              (f"adaptive_avg_pool{nd}d-empty_batch_huge_output",
               {"x": x, "output_size": big}, ValueError, r"output_size|output of shape")]
    r += [("upsample-empty_batch_huge_output", {"x": empty[2], "scale_factor": None,
                                                "size": big}, ValueError, r"output of shape"),
          ("pad-empty_batch_huge_output", {"x": empty[2], "pad": big, "mode": "zeros"},
           ValueError, r"output of shape")]
    r += [("global_avg_pool-x_rank_2", {"x": _z(2, 4)}, ValueError, r"x must have shape"),
          ("global_max_pool_backward-x_rank_2", {"x": _z(2, 4)}, ValueError,
           r"x must have shape")]
    return r


def _rows():
    rows, isolated = [], []
    for name, (fn, kw, shape) in CALLS.items():
        rows += [(name,) + row for row in _generic_rows(name, fn, kw, shape)]
        isolated += [(name,) + row for row in _isolated_rows(name, fn, kw)]
    for row in _specific_rows():
        name = row[0].split("-")[0]
        (isolated if "huge" in row[0] else rows).append((name,) + row)
    return rows, isolated


ALL_ROWS, ISOLATED_ROWS = _rows()


def call_row(op, changes):
    fn, kw, _ = CALLS[op]
    return fn(**dict(kw, **changes))


@pytest.mark.parametrize("op, rid, changes, exc, match", ALL_ROWS,
                         ids=[row[1] for row in ALL_ROWS])
def test_every_operation_rejects_bad_input(op, rid, changes, exc, match):
    with pytest.raises(exc) as info:
        call_row(op, changes)
    message = str(info.value)
    assert message.startswith(f"{op}: "), f"message does not name the operation: {message}"
    assert re.search(match, message), f"{match!r} not in: {message}"


def test_every_public_operation_has_rows():
    ops = {name for name in fastconv.__all__ if name in CALLS}
    assert len(CALLS) == 52 and ops == set(CALLS)
    assert {row[0] for row in ALL_ROWS} == set(CALLS)
    ids = [row[1] for row in ALL_ROWS + ISOLATED_ROWS]
    assert len(ids) == len(set(ids))


def test_good_calls_pass():
    """Every base call is valid, so each row fails for the one change it makes."""
    for op in CALLS:
        call_row(op, {})


_ISOLATED_CHILD = """
import json, resource, sys
import numpy as np, fastconv
import test_validation as t
for op in t.CALLS:        # warm up (threads, BLAS) before capping the address space
    t.call_row(op, {})
with open("/proc/self/status") as f:
    vm = next(int(line.split()[1]) for line in f if line.startswith("VmSize:")) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 2**31, resource.RLIM_INFINITY))
outcomes = {}
for op, rid, changes, exc, match in t.ISOLATED_ROWS:
    try:
        t.call_row(op, changes)
        outcomes[rid] = ["returned", ""]
    except Exception as e:
        outcomes[rid] = [type(e).__name__, str(e)]
print(json.dumps(outcomes))
"""


@pytest.fixture(scope="module")
def isolated_outcomes():
    """Run every isolated row in one child process (address space capped at
    2 GiB more than after warm-up, so a missed check fails fast as MemoryError
    or a crash, never by swapping); exception type and message per row."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.abspath(__file__)), os.environ.get("PYTHONPATH", "")]))
    res = subprocess.run([sys.executable, "-c", _ISOLATED_CHILD], capture_output=True, text=True,
                         timeout=600, env=env)
    assert res.returncode == 0, f"child crashed ({res.returncode}):\n{res.stderr[-4000:]}"
    return json.loads(res.stdout.splitlines()[-1])


@pytest.mark.parametrize("op, rid, changes, exc, match", ISOLATED_ROWS,
                         ids=[row[1] for row in ISOLATED_ROWS])
def test_crash_prone_input_raises(op, rid, changes, exc, match, isolated_outcomes):
    """Huge sizes raise before allocating; a missing gradient is refused."""
    kind, message = isolated_outcomes[rid]
    allowed = exc if isinstance(exc, tuple) else (exc,)
    assert kind in {e.__name__ for e in allowed}, f"{kind}: {message}"
    if kind != "MemoryError":
        assert message.startswith(f"{op}: ") and re.search(match, message), message


# ---------------------------------------------------- remembered checks ----
# The check_* functions answer plain calls (C-contiguous float arrays, plain
# hyper-parameters, no out=) from a memo keyed by shapes, dtypes and values.
# The memo's answer must be the full check's answer, for the arrays of the call
# at hand, and everything the memo does not see must still be checked.
from fastconv import _validate as V  # noqa: E402


def _arr(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def _remembered_calls(rng):
    x4, x3 = _arr(rng, 2, 4, 9, 8), _arr(rng, 4, 9, 8)
    dw, pw = _arr(rng, 8, 1, 3, 3), _arr(rng, 5, 8, 1, 1)
    w = _arr(rng, 6, 2, 3, 3)
    g = _arr(rng, 2, 6, 5, 4)
    return [
        (V.check_conv, ("conv2d", 2, x4, w, _arr(rng, 6), 2, 1, 1, 2, "reflect", None), {}),
        (V.check_conv, ("conv2d", 2, x3, w, None, 1, (1, 2), 1, 2, "zeros", None), {}),
        (V.check_conv, ("conv2d_backward", 2, x4, w, None, 2, 1, 1, 2, "zeros", None),
         {"grad_output": g}),
        (V.check_conv_transpose, ("conv_transpose2d", 2, _arr(rng, 2, 6, 4, 4),
                                  _arr(rng, 6, 3, 2, 2), None, 2, 0, 0, 1, 1, None), {}),
        (V.check_depthwise, ("depthwise_conv2d", x4, dw, None, 1, 1, 1, "zeros", None), {}),
        (V.check_separable, ("separable_conv2d", x4, dw, pw, None, _arr(rng, 5), 1, 1, 1,
                             "zeros", None), {}),
        (V.check_window_pool, ("max_pool2d", 2, x4, 3, 2, 1, 1, False), {}),
        (V.check_window_pool, ("avg_pool2d", 2, x4, 2, 2, 0, 1, True, False), {}),
        (V.check_adaptive_pool, ("adaptive_avg_pool2d", 2, x4, (3, 2)), {}),
        (V.check_global_pool, ("global_avg_pool", x4, True), {}),
        (V.check_upsample, ("upsample", x4, None, 2.0, "bilinear", False), {}),
        (V.check_pad, ("pad", x4, (1, 2), "constant", -0.0), {}),
        (V.check_channel_shuffle, ("channel_shuffle", x4, 2), {}),
    ]


def _assert_same_answer(got, want, arrays):
    """got (from the memo) equals want (the full check's answer): the same type and
    constants, and each array a view of the same argument with the same shape."""
    assert type(got) is type(want)
    if isinstance(want, np.ndarray):
        assert got.shape == want.shape and got.dtype == want.dtype
        assert got.__array_interface__["data"] == want.__array_interface__["data"]
        assert any(np.shares_memory(got, a) for a in arrays)
    elif isinstance(want, tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _assert_same_answer(g, w, arrays)
    elif isinstance(want, float):
        assert got == want and np.copysign(1, got) == np.copysign(1, want)
    else:
        assert got == want


def test_remembered_check_answers_as_the_full_check():
    rng = np.random.default_rng(0)
    first = _remembered_calls(rng)
    for check, args, kwargs in first:
        check(*args, **kwargs)  # fills the memo
    # the same shapes and values, new arrays: answered from the memo
    for (check, args, kwargs), (_, args0, _) in zip(_remembered_calls(rng), first):
        size = len(check.memo)
        got = check(*args, **kwargs)
        assert len(check.memo) == size, f"{check.__name__}{args0[:1]}: not remembered"
        arrays = [a for a in (*args, *kwargs.values()) if isinstance(a, np.ndarray)]
        _assert_same_answer(got, check.__wrapped__(*args, **kwargs), arrays)
        assert not any(np.shares_memory(a, b) for a in arrays
                       for b in args0 if isinstance(b, np.ndarray))


def test_remembered_check_keeps_no_arrays_alive():
    import gc
    import weakref
    x = np.ones((1, 3, 5, 5), np.float32)
    ref = weakref.ref(x)
    V.check_global_pool("global_avg_pool", x, False)
    V.check_global_pool("global_avg_pool", x, False)
    del x
    gc.collect()
    assert ref() is None


def test_remembered_check_still_checks_what_its_key_does_not_hold():
    rng = np.random.default_rng(1)
    x, w = _arr(rng, 1, 4, 6, 6), _arr(rng, 4, 4, 3, 3)
    V.check_conv("conv2d", 2, x, w, None, 1, 1, 1, 1, "zeros", None)
    # a bool is not an int, though it hashes like one
    with pytest.raises(TypeError, match="stride"):
        V.check_conv("conv2d", 2, x, w, None, True, 1, 1, 1, "zeros", None)
    with pytest.raises(TypeError, match="stride"):
        V.check_conv("conv2d", 2, x, w, None, (1, True), 1, 1, 1, "zeros", None)
    # an integer array of the same shape
    with pytest.raises(TypeError, match="dtype"):
        V.check_conv("conv2d", 2, x.astype(np.int32), w, None, 1, 1, 1, 1, "zeros", None)
    # out= overlapping x, after the same call without out=
    out = np.empty((1, 4, 6, 6), np.float32)
    V.check_conv("conv2d", 2, x, w, None, 1, 1, 1, 1, "zeros", None)
    V.check_conv("conv2d", 2, x, w, None, 1, 1, 1, 1, "zeros", out)
    with pytest.raises(ValueError, match="overlaps"):
        V.check_conv("conv2d", 2, x, w, None, 1, 1, 1, 1, "zeros", x)
    # 0.0 and -0.0 are different pad values
    z = V.check_pad("pad", x, 1, "constant", 0.0).spec.value
    nz = V.check_pad("pad", x, 1, "constant", -0.0).spec.value
    assert np.copysign(1, z) == 1 and np.copysign(1, nz) == -1


def test_remembered_check_copies_what_is_not_plain():
    """Non-contiguous or aliased arrays take the full check, whose answer holds
    copies where it must; a later plain call with those shapes is not confused."""
    rng = np.random.default_rng(2)
    base = _arr(rng, 1, 4, 6, 12)
    x = base[..., ::2]  # not contiguous
    w = _arr(rng, 4, 4, 3, 3)
    for _ in range(2):
        call = V.check_conv("conv2d", 2, x, w, None, 1, 1, 1, 1, "zeros", None)
        assert not np.shares_memory(call.x, base)
        np.testing.assert_array_equal(call.x[:, :, 0], x)
    xc = np.ascontiguousarray(x)
    call = V.check_conv("conv2d", 2, xc, w, None, 1, 1, 1, 1, "zeros", None)
    assert np.shares_memory(call.x, xc)
    # the same array as x and weight (aliased): answered right, not remembered
    sq = _arr(rng, 3, 3, 1, 1)
    size = len(V.check_conv.memo)
    for _ in range(2):
        call = V.check_conv("conv2d", 2, sq, sq, None, 1, 0, 1, 1, "zeros", None)
        assert np.shares_memory(call.x, sq) and np.shares_memory(call.weight, sq)
    assert len(V.check_conv.memo) == size
