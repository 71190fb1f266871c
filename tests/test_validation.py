"""Bad input to conv1d/2d/3d and set_num_threads: a ValueError or TypeError
whose message names the argument (and the dtype, for unsupported dtypes);
never a crash, a wrong-shaped result or a silent clamp."""
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
    (float("nan"), TypeError),
], ids=["0", "-1", "str", "float", "bool", "nan"])
def test_set_num_threads_bad(n, exc, restore_threads):
    before = fastconv.get_num_threads()
    with pytest.raises(exc, match=r"set_num_threads: n must be"):
        fastconv.set_num_threads(n)
    assert fastconv.get_num_threads() == before     # unchanged
