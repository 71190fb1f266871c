"""All checking and normalisation of user input, in one place.

Every public function calls in here first; nothing else in fastconv raises for
bad user input.  Messages name the operation, the argument and the shapes.
Size products are computed with Python integers (which cannot overflow) and
checked against limits before anything is allocated or handed to C.
"""
import numbers
from typing import NamedTuple

import numpy as np

__all__ = []

# Largest element count / byte count fastconv will allocate or pass to C:
# C indexes with ptrdiff_t, and products of sizes must stay far from overflow.
MAX_ELEMENTS = 2**62 // 8
MAX_BYTES = 2**62

PAD_MODES = {"zeros": 0, "reflect": 1, "replicate": 2, "circular": 3}
SPATIAL_NAMES = {1: "L", 2: "H, W", 3: "D, H, W"}


# ---------------------------------------------------------------- dtypes ----
def result_dtype(opname, **arrays):
    """The computation dtype for these arrays: float32, or float64 when any is
    float64 (mixed float32/float64 promotes).  Any other dtype -> TypeError."""
    dtype = np.dtype(np.float32)
    for name, a in arrays.items():
        if a is None:
            continue
        dt = a.dtype
        if dt == np.float64:
            dtype = np.dtype(np.float64)
        elif dt != np.float32:
            raise TypeError(
                f"{opname}: {name} has dtype {dt}; fastconv computes in float32 and "
                f"float64 only (convert with {name}.astype(np.float32) first)")
    return dtype


def as_array(opname, name, value):
    """np.asarray(value), refusing what cannot be a numeric array."""
    try:
        a = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{opname}: {name} cannot be converted to an array: {exc}") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{opname}: {name} has dtype {a.dtype}; fastconv computes in "
                        "float32 and float64 only")
    return a


def as_c_float(a, dtype):
    """A C-contiguous array of `dtype` with the values of `a` (no copy when it
    already is one; read-only inputs stay untouched)."""
    return np.ascontiguousarray(a, dtype=dtype)


# ------------------------------------------------------ hyper-parameters ----
def is_int(value):
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(opname, name, value, minimum=None):
    """A Python int from an integer argument, refusing bools, floats and NaN."""
    if not is_int(value):
        raise TypeError(f"{opname}: {name} must be an int, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{opname}: {name} must be >= {minimum}, got {value}")
    return value


def ntuple(opname, name, value, n, minimum=1):
    """One int per spatial axis from an int or a length-n sequence of ints."""
    if is_int(value):
        values = (value,) * n
    elif isinstance(value, (tuple, list, np.ndarray)):
        values = tuple(value)
        if len(values) != n:
            raise ValueError(f"{opname}: {name} must be an int or {n} ints (one per "
                             f"spatial axis), got {len(values)}: {value!r}")
    else:
        raise TypeError(f"{opname}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    out = []
    for v in values:
        if not is_int(v):
            raise TypeError(f"{opname}: {name} must be an int or a tuple of {n} ints, got {value!r}")
        if v < minimum:
            raise ValueError(f"{opname}: {name} must be >= {minimum} on every axis, got {value!r}")
        out.append(int(v))
    return tuple(out)


def conv_padding(opname, padding, n, kernel, stride, dilation):
    """(before, after) per axis from 'valid', 'same', an int, n ints, or n
    (before, after) pairs.  'same' puts an odd extra element at the end."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * n, (0,) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{opname}: padding='same' needs stride 1 on every axis, "
                                 f"got stride={stride}")
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            before = tuple(t // 2 for t in total)
            return before, tuple(t - b for t, b in zip(total, before))
        raise ValueError(f"{opname}: padding must be 'valid', 'same', an int or a tuple, "
                         f"got {padding!r}")
    if is_int(padding):
        p = ntuple(opname, "padding", padding, n, minimum=0)
        return p, p
    if isinstance(padding, np.ndarray):
        padding = padding.tolist()
    if not isinstance(padding, (tuple, list)) or len(padding) != n:
        raise ValueError(f"{opname}: padding must be an int, {n} ints or {n} (before, after) "
                         f"pairs (one per spatial axis), got {padding!r}")
    before, after = [], []
    for entry in padding:
        if isinstance(entry, (tuple, list)):
            if len(entry) != 2:
                raise ValueError(f"{opname}: each padding pair must be (before, after), "
                                 f"got {entry!r} in padding={padding!r}")
            b, a = entry
        else:
            b = a = entry
        for v in (b, a):
            if not is_int(v):
                raise TypeError(f"{opname}: padding entries must be ints, got {padding!r}")
            if v < 0:
                raise ValueError(f"{opname}: padding must be >= 0, got {padding!r}")
        before.append(int(b))
        after.append(int(a))
    return tuple(before), tuple(after)


def padding_mode_code(opname, padding_mode):
    if not isinstance(padding_mode, str) or padding_mode not in PAD_MODES:
        raise ValueError(f"{opname}: padding_mode must be one of {tuple(PAD_MODES)}, "
                         f"got {padding_mode!r}")
    return PAD_MODES[padding_mode]


# ---------------------------------------------------------- size formulas ----
def conv_out_size(size, kernel, stride, before, after, dilation):
    """Output length of a convolution along one axis (may be < 1 for bad input):
    floor((size + before + after - dilation*(kernel-1) - 1) / stride) + 1."""
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_out_size(size, kernel, stride, padding, output_padding, dilation):
    """(size - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def pool_out_size(size, kernel, stride, padding, dilation, ceil_mode):
    """PyTorch's pooling output length; with ceil_mode the last window must
    start inside the input or the left padding."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + padding:
            out -= 1
    else:
        out = span // stride + 1
    return out


def check_nbytes(opname, name, shape, itemsize):
    """Refuse an array whose element or byte count is beyond what can be allocated."""
    count = 1
    for s in shape:
        count *= int(s)
    if count > MAX_ELEMENTS or count * itemsize > MAX_BYTES:
        raise ValueError(f"{opname}: {name} of shape {tuple(shape)} would need "
                         f"{count * itemsize} bytes, more than fastconv can address")
    return count


# ------------------------------------------------------------------- out= ----
def check_out(opname, out, shape, dtype, inputs):
    """Check a user `out=` array: ndarray, right shape and dtype, C-contiguous,
    writeable, sharing no memory with any input."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{opname}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{opname}: out has shape {out.shape} but the result has shape "
                         f"{tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"{opname}: out has dtype {out.dtype} but the result has dtype {dtype}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{opname}: out must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError(f"{opname}: out must be writeable")
    for name, a in inputs.items():
        if a is not None and np.may_share_memory(out, a):
            raise ValueError(f"{opname}: out overlaps the memory of {name}")
    return out


# ------------------------------------------------------------ convolution ----
class ConvSpec(NamedTuple):
    """A validated convolution, always in 3 spatial dims (D, H, W); 1-D and 2-D
    calls have size-1 leading dims.  Read by the Cython layer (_params.pxi)."""
    n: int
    c_in: int
    c_out: int
    groups: int
    in_size: tuple
    out_size: tuple
    kernel: tuple
    stride: tuple
    dilation: tuple
    pad_before: tuple
    pad_after: tuple
    pad_mode: int

    @property
    def macs(self):
        """Multiply-adds of the whole call."""
        k = self.kernel[0] * self.kernel[1] * self.kernel[2]
        o = self.out_size[0] * self.out_size[1] * self.out_size[2]
        return self.n * self.c_out * o * (self.c_in // self.groups) * k


class ConvCall(NamedTuple):
    """What a convolution needs after validation: 5-D C-contiguous arrays of the
    computation dtype, the spec, and the shape of the result the user sees."""
    x: np.ndarray
    weight: np.ndarray
    bias: object
    spec: ConvSpec
    dtype: np.dtype
    out_shape: tuple
    out: object
    grad_output: object = None  # 5-D, for the backward pass
    x_shape: tuple = ()         # the user's x shape (batched or not)


def _pad3(values, fill):
    return (fill,) * (3 - len(values)) + tuple(values)


def check_conv(opname, nd, x, weight, bias, stride, padding, dilation, groups,
               padding_mode, out, grad_output=None):
    """Validate a conv{1,2,3}d call (or, with grad_output, its backward); return a
    ConvCall."""
    x = as_array(opname, "x", x)
    weight = as_array(opname, "weight", weight)
    bias = None if bias is None else as_array(opname, "bias", bias)
    if grad_output is not None:
        grad_output = as_array(opname, "grad_output", grad_output)
    dtype = result_dtype(opname, x=x, weight=weight, bias=bias, grad_output=grad_output)
    spatial = SPATIAL_NAMES[nd]
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{opname}: x must have shape (N, C, {spatial}) or, unbatched, "
                         f"(C, {spatial}); got shape {x.shape}")
    unbatched = x.ndim == nd + 1
    xb = x[None] if unbatched else x
    if weight.ndim != nd + 2:
        raise ValueError(f"{opname}: weight must have shape (C_out, C_in/groups, {spatial}); "
                         f"got shape {weight.shape}")
    groups = check_int(opname, "groups", groups, minimum=1)
    n, c_in = xb.shape[:2]
    in_size = xb.shape[2:]
    c_out, c_in_g = weight.shape[:2]
    kernel = weight.shape[2:]
    if c_out < 1 or c_in_g < 1 or min(kernel) < 1:
        raise ValueError(f"{opname}: weight of shape {weight.shape} is empty; it needs at "
                         "least one output channel, input channel and kernel element")
    if c_in < 1 or min(in_size) < 1:
        raise ValueError(f"{opname}: x of shape {x.shape} has an empty channel or spatial axis")
    if c_out % groups:
        raise ValueError(f"{opname}: groups={groups} must divide the output channels, but "
                         f"weight has shape {weight.shape} ({c_out} output channels)")
    if c_in % groups:
        raise ValueError(f"{opname}: groups={groups} must divide the input channels, but "
                         f"x has shape {x.shape} ({c_in} channels)")
    if c_in_g * groups != c_in:
        raise ValueError(f"{opname}: weight of shape {weight.shape} expects "
                         f"{c_in_g * groups} input channels ({c_in_g} per group, "
                         f"groups={groups}) but x of shape {x.shape} has {c_in}")
    if bias is not None and bias.shape != (c_out,):
        raise ValueError(f"{opname}: bias must have shape ({c_out},) to match weight "
                         f"{weight.shape}; got shape {bias.shape}")
    stride = ntuple(opname, "stride", stride, nd)
    dilation = ntuple(opname, "dilation", dilation, nd)
    mode = padding_mode_code(opname, padding_mode)
    before, after = conv_padding(opname, padding, nd, kernel, stride, dilation)
    if mode == PAD_MODES["reflect"]:
        for ax in range(nd):
            if max(before[ax], after[ax]) >= in_size[ax]:
                raise ValueError(
                    f"{opname}: padding_mode='reflect' needs padding < input size on every "
                    f"axis; padding (before, after) = {tuple(zip(before, after))} but x "
                    f"has spatial shape {tuple(in_size)}")
    out_size = tuple(conv_out_size(i, k, s, b, a, d) for i, k, s, b, a, d
                     in zip(in_size, kernel, stride, before, after, dilation))
    if min(out_size) < 1:
        raise ValueError(
            f"{opname}: output size {out_size} is < 1: x spatial shape {tuple(in_size)} with "
            f"padding {tuple(zip(before, after))} is smaller than the dilated kernel "
            f"{tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))}")
    full_out = (n, c_out) + out_size
    check_nbytes(opname, "the output", full_out, dtype.itemsize)
    check_nbytes(opname, "x", xb.shape, dtype.itemsize)
    check_nbytes(opname, "weight", weight.shape, dtype.itemsize)
    out_shape = full_out[1:] if unbatched else full_out
    if out is not None:
        check_out(opname, out, out_shape, dtype, {"x": x, "weight": weight, "bias": bias})
    spec = ConvSpec(n, c_in, c_out, groups, _pad3(in_size, 1), _pad3(out_size, 1),
                    _pad3(kernel, 1), _pad3(stride, 1), _pad3(dilation, 1),
                    _pad3(before, 0), _pad3(after, 0), mode)
    g5 = None
    if grad_output is not None:
        if grad_output.shape != tuple(out_shape):
            raise ValueError(f"{opname}: grad_output has shape {grad_output.shape} but the "
                             f"forward output for x {x.shape} and weight {weight.shape} has "
                             f"shape {tuple(out_shape)}")
        g5 = as_c_float(grad_output, dtype).reshape((n, c_out) + spec.out_size)
    x5 = as_c_float(xb, dtype).reshape((n, c_in) + spec.in_size)
    w5 = as_c_float(weight, dtype).reshape((c_out, c_in_g) + spec.kernel)
    b = None if bias is None else as_c_float(bias, dtype)
    return ConvCall(x5, w5, b, spec, dtype, out_shape, out, g5, x.shape)


# -------------------------------------------------- transposed convolution ----
class ConvTransposeCall(NamedTuple):
    """A validated transposed convolution.  `spec` describes the convolution whose
    input gradient this is: its input is the transposed output (C_out channels,
    size O) and its output is the transposed input (C_in channels, size I), with
    the transposed weight (C_in, C_out/groups, k) as its weight."""
    x: np.ndarray            # 5-D (N, C_in, I...)
    weight: np.ndarray       # 5-D (C_in, C_out/groups, k...)
    bias: object
    spec: ConvSpec
    dtype: np.dtype
    out_shape: tuple         # the user's result shape
    out: object
    grad_output: object = None  # 5-D (N, C_out, O...), for the backward pass
    x_shape: tuple = ()


def check_conv_transpose(opname, nd, x, weight, bias, stride, padding, output_padding,
                         groups, dilation, out, grad_output=None):
    """Validate a conv_transpose{1,2,3}d call (or its backward); return a
    ConvTransposeCall.  O = (I - 1)*stride - 2*padding + dilation*(k - 1)
    + output_padding + 1 along each axis."""
    x = as_array(opname, "x", x)
    weight = as_array(opname, "weight", weight)
    bias = None if bias is None else as_array(opname, "bias", bias)
    if grad_output is not None:
        grad_output = as_array(opname, "grad_output", grad_output)
    dtype = result_dtype(opname, x=x, weight=weight, bias=bias, grad_output=grad_output)
    spatial = SPATIAL_NAMES[nd]
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{opname}: x must have shape (N, C_in, {spatial}) or, unbatched, "
                         f"(C_in, {spatial}); got shape {x.shape}")
    unbatched = x.ndim == nd + 1
    xb = x[None] if unbatched else x
    if weight.ndim != nd + 2:
        raise ValueError(f"{opname}: weight must have shape (C_in, C_out/groups, {spatial}); "
                         f"got shape {weight.shape}")
    groups = check_int(opname, "groups", groups, minimum=1)
    n, c_in = xb.shape[:2]
    in_size = xb.shape[2:]
    w_in, c_out_g = weight.shape[:2]
    kernel = weight.shape[2:]
    if w_in < 1 or c_out_g < 1 or min(kernel) < 1:
        raise ValueError(f"{opname}: weight of shape {weight.shape} is empty")
    if c_in < 1 or min(in_size) < 1:
        raise ValueError(f"{opname}: x of shape {x.shape} has an empty channel or spatial axis")
    if c_in % groups:
        raise ValueError(f"{opname}: groups={groups} must divide the input channels, but "
                         f"x has shape {x.shape} ({c_in} channels)")
    if w_in != c_in:
        raise ValueError(f"{opname}: weight of shape {weight.shape} expects {w_in} input "
                         f"channels but x of shape {x.shape} has {c_in}")
    c_out = c_out_g * groups
    if bias is not None and bias.shape != (c_out,):
        raise ValueError(f"{opname}: bias must have shape ({c_out},) for weight "
                         f"{weight.shape} and groups={groups}; got shape {bias.shape}")
    stride = ntuple(opname, "stride", stride, nd)
    dilation = ntuple(opname, "dilation", dilation, nd)
    if isinstance(padding, str):
        raise ValueError(f"{opname}: padding must be an int or {nd} ints, got {padding!r}")
    padding = ntuple(opname, "padding", padding, nd, minimum=0)
    output_padding = ntuple(opname, "output_padding", output_padding, nd, minimum=0)
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= max(s, d):
            raise ValueError(f"{opname}: output_padding {output_padding} must be smaller than "
                             f"stride {stride} or dilation {dilation} on every axis")
    out_size = tuple(conv_transpose_out_size(i, k, s, p, op, d) for i, k, s, p, op, d
                     in zip(in_size, kernel, stride, padding, output_padding, dilation))
    if min(out_size) < 1:
        raise ValueError(f"{opname}: output size {out_size} is < 1 for x spatial shape "
                         f"{tuple(in_size)}, kernel {tuple(kernel)}, stride {stride}, "
                         f"padding {padding}, dilation {dilation}")
    full_out = (n, c_out) + out_size
    check_nbytes(opname, "the output", full_out, dtype.itemsize)
    check_nbytes(opname, "x", xb.shape, dtype.itemsize)
    check_nbytes(opname, "weight", weight.shape, dtype.itemsize)
    out_shape = full_out[1:] if unbatched else full_out
    if out is not None:
        check_out(opname, out, out_shape, dtype, {"x": x, "weight": weight, "bias": bias})
    # the convolution this is the input gradient of
    spec = ConvSpec(n, c_out, c_in, groups, _pad3(out_size, 1), _pad3(in_size, 1),
                    _pad3(kernel, 1), _pad3(stride, 1), _pad3(dilation, 1),
                    _pad3(padding, 0), _pad3(padding, 0), PAD_MODES["zeros"])
    g5 = None
    if grad_output is not None:
        if grad_output.shape != tuple(out_shape):
            raise ValueError(f"{opname}: grad_output has shape {grad_output.shape} but the "
                             f"forward output for x {x.shape} and weight {weight.shape} has "
                             f"shape {tuple(out_shape)}")
        g5 = as_c_float(grad_output, dtype).reshape((n, c_out) + spec.in_size)
    x5 = as_c_float(xb, dtype).reshape((n, c_in) + spec.out_size)
    w5 = as_c_float(weight, dtype).reshape((c_in, c_out_g) + spec.kernel)
    b = None if bias is None else as_c_float(bias, dtype)
    return ConvTransposeCall(x5, w5, b, spec, dtype, out_shape, out, g5, x.shape)
