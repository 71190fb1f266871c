"""All checking and normalisation of user input, in one place.

Every public function calls in here first; nothing else in fastconv raises for
bad user input.  Messages name the operation, the argument and the shapes.
Size products are computed with Python integers (which cannot overflow) and
checked against limits before anything is allocated or handed to C.
"""
import math as _math
import numbers
import types as _types
from typing import NamedTuple

import numpy as np

__all__ = []

# Largest element count / byte count fastconv will allocate or pass to C:
# C indexes with ptrdiff_t, and products of sizes must stay far from overflow.
MAX_ELEMENTS = 2**62 // 8
MAX_BYTES = 2**62
# Largest integer hyper-parameter (stride, padding, kernel_size, ...): no array
# fastconv addresses is longer, and sums of a few such values stay in int64.
MAX_INT_ARG = MAX_ELEMENTS

PAD_MODES = {"zeros": 0, "reflect": 1, "replicate": 2, "circular": 3}
SPATIAL_NAMES = {1: "L", 2: "H, W", 3: "D, H, W"}


class _Forward:
    def __repr__(self):
        return "FORWARD"


# The default grad_output of the check_* functions: the call being validated is a
# forward one.  (Not None: a backward call given grad_output=None is an error.)
FORWARD = _Forward()


# ---------------------------------------------------------------- dtypes ----
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)

def result_dtype(opname, **arrays):
    """The computation dtype for these arrays: float32, or float64 when any is
    float64 (mixed float32/float64 promotes).  Any other dtype -> TypeError."""
    dtype = _F32
    for name, a in arrays.items():
        if a is None:
            continue
        dt = a.dtype
        if dt is _F32:  # NumPy's native float dtypes are singletons: the fast checks
            continue
        if dt is _F64:
            dtype = _F64
            continue
        dt = dt if dt.isnative else dt.newbyteorder("=")  # copied to native
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


def grad_array(opname, grad_output):
    """grad_output as an array, or None when validating a forward call."""
    return None if grad_output is FORWARD else as_array(opname, "grad_output", grad_output)


def as_c_float(a, dtype):
    """A C-contiguous array of `dtype` with the values of `a` (no copy when it
    already is one; read-only inputs stay untouched)."""
    return np.ascontiguousarray(a, dtype=dtype)


# ------------------------------------------------------ hyper-parameters ----
def is_int(value):
    if type(value) is int:  # the common case, without the slow ABC check
        return True
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(opname, name, value, minimum=None, maximum=MAX_INT_ARG):
    """A Python int from an integer argument, refusing bools, floats and NaN."""
    if not is_int(value):
        raise TypeError(f"{opname}: {name} must be an int, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{opname}: {name} must be >= {minimum}, got {value}")
    if value > maximum:
        raise ValueError(f"{opname}: {name} must be <= {maximum}, got {value}")
    return value


def _as_sequence(value):
    """The entries of a per-axis argument given as a tuple, a list or a 1-D
    array, or None when it is none of those."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return tuple(value.tolist())
    return None


def ntuple(opname, name, value, n, minimum=1):
    """One int per spatial axis from an int or a length-n sequence of ints."""
    values = (value,) * n if is_int(value) else _as_sequence(value)
    if values is None:
        raise TypeError(f"{opname}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if len(values) != n:
        raise ValueError(f"{opname}: {name} must be an int or {n} ints (one per "
                         f"spatial axis), got {len(values)}: {value!r}")
    out = []
    for v in values:
        if not is_int(v):
            raise TypeError(f"{opname}: {name} must be an int or a tuple of {n} ints, got {value!r}")
        if v < minimum:
            raise ValueError(f"{opname}: {name} must be >= {minimum} on every axis, got {value!r}")
        if v > MAX_INT_ARG:
            raise ValueError(f"{opname}: {name} must be <= {MAX_INT_ARG} on every axis, got "
                             f"{value!r}")
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
    entries = _as_sequence(padding)
    if entries is None:
        raise TypeError(f"{opname}: padding must be 'valid', 'same', an int, {n} ints or {n} "
                        f"(before, after) pairs, got {padding!r}")
    if len(entries) != n:
        raise ValueError(f"{opname}: padding must be an int, {n} ints or {n} (before, after) "
                         f"pairs (one per spatial axis), got {padding!r}")
    before, after = [], []
    for entry in entries:
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
            if v > MAX_INT_ARG:
                raise ValueError(f"{opname}: padding must be <= {MAX_INT_ARG}, got {padding!r}")
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
    """Refuse an array whose element or byte count is beyond what can be allocated.
    Empty axes do not count: NumPy refuses an empty shape whose other axes overflow."""
    count = _math.prod(shape) if type(shape) is tuple else 0  # the usual case, at C speed
    if count <= 0:  # an empty axis, or not a tuple of ints
        count = 1
        for s in shape:
            count *= max(int(s), 1)
    if count > MAX_ELEMENTS or count * itemsize > MAX_BYTES:
        raise ValueError(f"{opname}: {name} of shape {tuple(shape)} would need "
                         f"{count * itemsize} bytes (its non-empty axes), more than fastconv "
                         "can address")


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


def _memoized(fn):
    """fn, remembering its results for up to 1024 argument tuples.  The key holds
    each argument's type too, so 1 and True (equal, same hash) stay apart and a
    call that should raise TypeError does; unhashable arguments (lists) are
    not remembered.  Only for pure functions of their arguments; exceptions are
    never remembered, so bad input always raises."""
    memo = {}

    def typed(a):  # elements of sequences too: (2, True) and (2, 1) are different keys
        if isinstance(a, (tuple, list)):
            return type(a), tuple(typed(e) for e in a)
        return type(a), a

    def key_of(args):
        # The usual arguments are scalars, strings and flat tuples (shapes),
        # whose types are listed without recursing; anything nested is typed
        # all the way down.  (Building the key is most of a cache hit's cost.)
        types = []
        for a in args:
            t = type(a)
            if t is tuple:
                t = tuple(map(type, a))
                if tuple in t or list in t:
                    return tuple(typed(a) for a in args)
            elif t is list:
                return tuple(typed(a) for a in args)
            types.append(t)
        return args, tuple(types)

    def wrapper(*args):
        try:
            key = key_of(args)
            return memo[key]
        except TypeError:
            return fn(*args)
        except KeyError:
            result = fn(*args)
            if len(memo) >= 1024:
                memo.clear()
            memo[key] = result
            return result
    return wrapper


_IMMUTABLE = (int, float, str, bool, type(None), np.dtype, _Forward)


def _address(a):
    return a.__array_interface__["data"][0], a.size, a.dtype


def _rebuild_plan(value, sources):
    """How to make `value` (a check's result) again from other arrays: a constant
    (an immutable value, or a tuple of them), a view (the n-th array argument,
    reshaped) or, for a NamedTuple holding arrays, (its type, its fields with
    None for the others, and (position, plan) of each other).  None if some part
    is neither."""
    if isinstance(value, np.ndarray):
        at = sources.get(_address(value))
        return None if at is None else ("view", at, value.shape)
    if isinstance(value, _IMMUTABLE):
        return ("const", value)
    if not isinstance(value, tuple):
        return None
    plans = [_rebuild_plan(v, sources) for v in value]
    if None in plans:
        return None
    if all(p[0] == "const" for p in plans):
        return ("const", value)
    if not hasattr(value, "_fields"):
        return None
    fields = [p[1] if p[0] == "const" else None for p in plans]
    return ("tuple", type(value), fields,
            tuple((i, p) for i, p in enumerate(plans) if p[0] != "const"))


def _rebuild(plan, arrays):
    kind = plan[0]
    if kind == "view":
        return arrays[plan[1]].reshape(plan[2])
    if kind == "const":
        return plan[1]
    fields = plan[2][:]
    for i, p in plan[3]:
        fields[i] = arrays[p[1]].reshape(p[2]) if p[0] == "view" else _rebuild(p, arrays)
    return tuple.__new__(plan[1], fields)  # the NamedTuple, without its __new__'s argument parsing


def _remembered(fn):
    """fn, a check_* function, answered from a memo when the call is plain:
    every array an exact, non-empty, C-contiguous float32 or float64 ndarray,
    every other argument an int, a flat tuple of ints, a str, a float, a bool,
    None or FORWARD, and no `out=` array (its check compares memory addresses).
    Such a call's checks depend on nothing but the arrays' shapes and dtypes and
    the other arguments' values, which the key holds.  The memo keeps, per key,
    how the result is made: each array in it a reshaped view of one of the array
    arguments, the rest constants.  (Validation took 5-10 us of a 14x14
    depthwise layer's ~30.)  Other calls, and results holding anything else (a
    copy), take fn's path every time; errors are never remembered, so bad input
    always raises."""
    names = fn.__code__.co_varnames[:fn.__code__.co_argcount]
    out_at = names.index("out") if "out" in names else len(names)
    memo = {}
    ndarray, f32, f64, forward = np.ndarray, _F32, _F64, FORWARD

    def wrapper(*args, **kwargs):
        if (args[out_at] if out_at < len(args) else kwargs.get("out")) is not None:
            return fn(*args, **kwargs)
        # keyword arguments: their names (in call order) start the key
        key, arrays = [tuple(kwargs)], []
        for a in (*args, *kwargs.values()) if kwargs else args:
            t = type(a)
            if t is int or t is str:
                key.append(a)
            elif t is ndarray:
                dt = a.dtype
                if (dt is not f32 and dt is not f64) or not a.size or not a.flags.c_contiguous:
                    return fn(*args, **kwargs)
                arrays.append(a)
                key.append((a.shape, dt))
            elif a is None or a is forward:
                key.append(t)
            elif t is tuple:
                for e in a:
                    if type(e) is not int:
                        return fn(*args, **kwargs)
                key.append(a)
            elif t is float:
                key.append((t, a.hex()))  # exact: -0.0 and 0.0 stay apart
            elif t is bool:
                key.append((t, a))
            else:
                return fn(*args, **kwargs)
        key = tuple(key)
        plan = memo.get(key)
        if plan is not None:
            return _rebuild(plan, arrays)
        result = fn(*args, **kwargs)
        sources = {}
        for i, a in enumerate(arrays):
            sources.setdefault(_address(a), i)
        if len(sources) == len(arrays):  # no two array arguments alias
            plan = _rebuild_plan(result, sources)
            if plan is not None:
                if len(memo) >= 1024:
                    memo.clear()
                memo[key] = plan
        return result

    wrapper.__name__, wrapper.__doc__, wrapper.__wrapped__ = fn.__name__, fn.__doc__, fn
    wrapper.memo = memo  # for the tests
    return wrapper


def _conv_arrays(opname, nd, x, weight, bias, grad_output, x_channels, weight_layout):
    """The checks every convolution-like call shares: arrays, dtype, ranks, empty
    axes.  Returns (x, weight, bias, grad_output, dtype, batched x, unbatched)."""
    x = as_array(opname, "x", x)
    weight = as_array(opname, "weight", weight)
    bias = None if bias is None else as_array(opname, "bias", bias)
    grad_output = grad_array(opname, grad_output)
    dtype = result_dtype(opname, x=x, weight=weight, bias=bias, grad_output=grad_output)
    spatial = SPATIAL_NAMES[nd]
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{opname}: x must have shape (N, {x_channels}, {spatial}) or, "
                         f"unbatched, ({x_channels}, {spatial}); got shape {x.shape}")
    unbatched = x.ndim == nd + 1
    xb = x[None] if unbatched else x
    if weight.ndim != nd + 2:
        raise ValueError(f"{opname}: weight must have shape ({weight_layout}, {spatial}); "
                         f"got shape {weight.shape}")
    if min(weight.shape) < 1:
        raise ValueError(f"{opname}: weight of shape {weight.shape} is empty; it needs at "
                         "least one output channel, input channel and kernel element")
    if min(xb.shape[1:]) < 1:
        raise ValueError(f"{opname}: x of shape {x.shape} has an empty channel or spatial axis")
    return x, weight, bias, grad_output, dtype, xb, unbatched


@_memoized
def _conv_geometry(opname, nd, x_shape, xb_shape, weight_shape, bias_shape, stride, padding,
                   dilation, groups, padding_mode, itemsize):
    """The checked hyper-parameters of a convolution on arrays of these shapes: its
    ConvSpec and full output shape (remembered: a small call, a 14x14 depthwise
    layer, spends a fifth of its time validating)."""
    groups = check_int(opname, "groups", groups, minimum=1)
    n, c_in = xb_shape[:2]
    in_size = xb_shape[2:]
    c_out, c_in_g = weight_shape[:2]
    kernel = weight_shape[2:]
    if c_out % groups:
        raise ValueError(f"{opname}: groups={groups} must divide the output channels, but "
                         f"weight has shape {weight_shape} ({c_out} output channels)")
    if c_in % groups:
        raise ValueError(f"{opname}: groups={groups} must divide the input channels, but "
                         f"x has shape {x_shape} ({c_in} channels)")
    if c_in_g * groups != c_in:
        raise ValueError(f"{opname}: weight of shape {weight_shape} expects "
                         f"{c_in_g * groups} input channels ({c_in_g} per group, "
                         f"groups={groups}) but x of shape {x_shape} has {c_in}")
    if bias_shape is not None and bias_shape != (c_out,):
        raise ValueError(f"{opname}: bias must have shape ({c_out},) to match weight "
                         f"{weight_shape}; got shape {bias_shape}")
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
    check_nbytes(opname, "the output", full_out, itemsize)
    check_nbytes(opname, "x", xb_shape, itemsize)
    check_nbytes(opname, "weight", weight_shape, itemsize)
    spec = ConvSpec(n, c_in, c_out, groups, _pad3(in_size, 1), _pad3(out_size, 1),
                    _pad3(kernel, 1), _pad3(stride, 1), _pad3(dilation, 1),
                    _pad3(before, 0), _pad3(after, 0), mode)
    return spec, full_out


@_remembered
def check_conv(opname, nd, x, weight, bias, stride, padding, dilation, groups,
               padding_mode, out, grad_output=FORWARD):
    """Validate a conv{1,2,3}d call (or, with grad_output, its backward); return a
    ConvCall."""
    x, weight, bias, grad_output, dtype, xb, unbatched = _conv_arrays(
        opname, nd, x, weight, bias, grad_output, "C", "C_out, C_in/groups")
    spec, full_out = _conv_geometry(opname, nd, x.shape, xb.shape, weight.shape,
                                    None if bias is None else bias.shape, stride, padding,
                                    dilation, groups, padding_mode, dtype.itemsize)
    n, c_in, c_out = spec.n, spec.c_in, spec.c_out
    c_in_g = c_in // spec.groups
    out_shape = full_out[1:] if unbatched else full_out
    if out is not None:
        check_out(opname, out, out_shape, dtype, {"x": x, "weight": weight, "bias": bias})
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


@_remembered
def check_conv_transpose(opname, nd, x, weight, bias, stride, padding, output_padding,
                         groups, dilation, out, grad_output=FORWARD):
    """Validate a conv_transpose{1,2,3}d call (or its backward); return a
    ConvTransposeCall.  O = (I - 1)*stride - 2*padding + dilation*(k - 1)
    + output_padding + 1 along each axis."""
    x, weight, bias, grad_output, dtype, xb, unbatched = _conv_arrays(
        opname, nd, x, weight, bias, grad_output, "C_in", "C_in, C_out/groups")
    groups = check_int(opname, "groups", groups, minimum=1)
    n, c_in = xb.shape[:2]
    in_size = xb.shape[2:]
    w_in, c_out_g = weight.shape[:2]
    kernel = weight.shape[2:]
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


# ================================================================ pooling ====
# Checks for fastconv.pooling: max/avg/adaptive/global pooling, the spatial
# pyramid and their backwards.  Every call becomes a PoolCall in 3 spatial dims.

class PoolSpec(NamedTuple):
    """A validated pooling call in 3 spatial dims (D, H, W); 1-D and 2-D calls
    have size-1 leading dims, global pooling sees each plane as (1, 1, size).
    Read by the Cython layer (_ext/_pool.pyx)."""
    n: int
    c: int
    in_size: tuple
    out_size: tuple
    kernel: tuple
    stride: tuple
    dilation: tuple
    padding: tuple
    count_include_pad: bool
    work: int  # input cells read, the measure the thread count is chosen from


class PoolCall(NamedTuple):
    """What a pooling kernel needs after validation.

    x, grad : 5-D C-contiguous arrays of the computation dtype (grad is the
        upstream gradient of a backward call, else None)
    out_shape : shape of the forward result the user sees
    in_shape : shape of x as the user gave it (that of grad_input)
    out : the user's ``out=`` array or None
    """
    x: np.ndarray
    grad: object
    spec: PoolSpec
    dtype: np.dtype
    out_shape: tuple
    in_shape: tuple
    out: object


def check_bool(opname, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{opname}: {name} must be True or False, got {value!r}")
    return bool(value)


def check_flags(opname, **flags):
    """The backward passes' need_input / need_bias flags as bools."""
    return [check_bool(opname, name, value) for name, value in flags.items()]


def _pool_input(opname, nd, x, grad_output, unbatched_ok):
    """x (and grad_output) as arrays, the dtype, and x with a batch axis.
    nd = None accepts any number (>= 1) of spatial axes."""
    x = as_array(opname, "x", x)
    grad = grad_array(opname, grad_output)
    dtype = result_dtype(opname, x=x, grad_output=grad)
    if nd is None:
        if x.ndim < 3:
            raise ValueError(f"{opname}: x must have shape (N, C, *spatial) with at least "
                             f"one spatial axis; got shape {x.shape}")
    else:
        spatial = SPATIAL_NAMES[nd]
        ranks = (nd + 1, nd + 2) if unbatched_ok else (nd + 2,)
        if x.ndim not in ranks:
            form = f" or, unbatched, (C, {spatial})" if unbatched_ok else ""
            raise ValueError(f"{opname}: x must have shape (N, C, {spatial}){form}; "
                             f"got shape {x.shape}")
    unbatched = nd is not None and x.ndim == nd + 1
    xb = x[None] if unbatched else x
    if xb.shape[1] < 1 or min(xb.shape[2:]) < 1:
        raise ValueError(f"{opname}: x of shape {x.shape} has an empty channel or spatial axis")
    check_nbytes(opname, "x", xb.shape, dtype.itemsize)
    return x, xb, grad, dtype, unbatched


def _pool_finish(opname, x, xb, grad, dtype, unbatched, out_spatial, spec_fields, out,
                 result_shape=None):
    """Check sizes, out= and grad_output against the forward result; build the PoolCall."""
    n, c = xb.shape[:2]
    full_out = (n, c) + tuple(out_spatial)
    check_nbytes(opname, "the output", full_out, dtype.itemsize)
    if result_shape is None:
        result_shape = full_out[1:] if unbatched else full_out
    if out is not None:
        check_out(opname, out, result_shape, dtype, {"x": x})
    spec = PoolSpec(n, c, **spec_fields)
    x5 = as_c_float(xb, dtype).reshape((n, c) + spec.in_size)
    g5 = None
    if grad is not None:
        if grad.shape != tuple(result_shape):
            raise ValueError(f"{opname}: grad_output has shape {grad.shape} but the forward "
                             f"result for x of shape {x.shape} has shape {tuple(result_shape)}")
        g5 = as_c_float(grad, dtype).reshape((n, c) + spec.out_size)
    return PoolCall(x5, g5, spec, dtype, tuple(result_shape), x.shape, out)


@_memoized
def _window_geometry(opname, nd, in_size, kernel_size, stride, padding, dilation, ceil_mode,
                     count_include_pad):
    """The output size of a max/avg pooling call and its PoolSpec fields (all but
    work), after checking its hyper-parameters (a small pooling call spends as long
    validating as computing: remembered)."""
    kernel = ntuple(opname, "kernel_size", kernel_size, nd)
    stride = kernel if stride is None else ntuple(opname, "stride", stride, nd)
    padding = ntuple(opname, "padding", padding, nd, minimum=0)
    dilation = ntuple(opname, "dilation", dilation, nd)
    ceil_mode = check_bool(opname, "ceil_mode", ceil_mode)
    count_include_pad = check_bool(opname, "count_include_pad", count_include_pad)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{opname}: padding must be at most half of kernel_size on every "
                         f"axis, got padding={padding}, kernel_size={kernel}")
    out_size = tuple(pool_out_size(i, k, s, p, d, ceil_mode) for i, k, s, p, d
                     in zip(in_size, kernel, stride, padding, dilation))
    if min(out_size) < 1:
        span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        raise ValueError(f"{opname}: output size {out_size} is < 1: x spatial shape "
                         f"{tuple(in_size)} with padding {padding} is smaller than the "
                         f"(dilated) kernel {span}")
    # A dilated window that starts in the left padding can jump over the whole
    # input (PyTorch then returns -inf and an index outside the plane); only
    # windows starting left of the input can do that.
    for ax in range(nd):
        k, s, p, d, size = kernel[ax], stride[ax], padding[ax], dilation[ax], in_size[ax]
        o = 0
        while o < out_size[ax] and o * s - p < 0:
            j = -(-(p - o * s) // d)  # first tap of window o at a cell >= 0
            if j >= k or o * s - p + j * d >= size:
                raise ValueError(
                    f"{opname}: window {o} along spatial axis {ax} covers only padding "
                    f"(kernel_size={kernel}, dilation={dilation}, padding={padding}, "
                    f"x spatial shape {tuple(in_size)})")
            o += 1
    # the PoolSpec fields, 3-D (remembered with the rest, so read-only)
    return out_size, _types.MappingProxyType(dict(
        in_size=_pad3(in_size, 1), out_size=_pad3(out_size, 1), kernel=_pad3(kernel, 1),
        stride=_pad3(stride, 1), dilation=_pad3(dilation, 1), padding=_pad3(padding, 0),
        count_include_pad=count_include_pad))


@_remembered
def check_window_pool(opname, nd, x, kernel_size, stride, padding, dilation, ceil_mode,
                      count_include_pad=True, out=None, grad_output=FORWARD):
    """Validate a max_pool / avg_pool call (avg passes dilation=1) or its backward."""
    x, xb, grad, dtype, unbatched = _pool_input(opname, nd, x, grad_output, True)
    in_size = xb.shape[2:]
    out_size, fields = _window_geometry(opname, nd, in_size, kernel_size, stride, padding,
                                        dilation, ceil_mode, count_include_pad)
    n, c = xb.shape[:2]
    fields = dict(fields, work=n * c * _math.prod(out_size) * _math.prod(fields["kernel"]))
    return _pool_finish(opname, x, xb, grad, dtype, unbatched, out_size, fields, out)


def check_pool_indices(opname, indices, call):
    """The int64 offsets a max pooling forward returned, for its backward
    (`call` from check_window_pool / check_adaptive_pool with grad_output):
    grad_output's shape.  Returns them 5-D and C-contiguous.  That every
    offset lies inside the input's (n, c) plane is checked by the routing
    kernel as it reads them (pool_indices_out_of_range makes the error)."""
    if not isinstance(indices, np.ndarray) or indices.dtype != np.int64:
        got = indices.dtype if isinstance(indices, np.ndarray) else type(indices).__name__
        raise TypeError(f"{opname}: indices must be an int64 ndarray (as the forward's "
                        f"return_indices=True gives), got {got}")
    if indices.shape != call.out_shape:
        raise ValueError(f"{opname}: indices has shape {indices.shape} but grad_output has "
                         f"shape {call.out_shape}")
    spec = call.spec
    return np.ascontiguousarray(indices).reshape((spec.n, spec.c) + spec.out_size)


def pool_indices_out_of_range(opname, indices, call):
    """The ValueError for saved max-pooling indices outside the input plane."""
    spec = call.spec
    plane = spec.in_size[0] * spec.in_size[1] * spec.in_size[2]
    return ValueError(f"{opname}: indices must lie in [0, {plane}) (offsets in an input "
                      f"plane of x of shape {call.in_shape}), got values in "
                      f"[{indices.min()}, {indices.max()}]")


def adaptive_output_size(opname, output_size, in_size):
    """One bin count per spatial axis from an int or a tuple of ints / None
    (None keeps that axis's input size), as torch's adaptive pooling takes it."""
    nd = len(in_size)
    if is_int(output_size):
        values = (output_size,) * nd
    elif isinstance(output_size, (tuple, list)):
        values = tuple(output_size)
        if len(values) != nd:
            raise ValueError(f"{opname}: output_size must be an int or {nd} entries (one per "
                             f"spatial axis), got {output_size!r}")
    else:
        raise TypeError(f"{opname}: output_size must be an int or a tuple of {nd} ints "
                        f"(or None), got {output_size!r}")
    sizes = []
    for v, i in zip(values, in_size):
        if v is None:
            v = i
        if not is_int(v):
            raise TypeError(f"{opname}: output_size entries must be ints or None, "
                            f"got {output_size!r}")
        if v < 1:
            raise ValueError(f"{opname}: output_size must be >= 1 on every axis, "
                             f"got {output_size!r}")
        if int(v) * i > MAX_ELEMENTS:
            raise ValueError(f"{opname}: output_size {output_size!r} is too large for x "
                             f"spatial shape {tuple(in_size)}")
        sizes.append(int(v))
    return tuple(sizes)


@_remembered
def check_adaptive_pool(opname, nd, x, output_size, out=None, grad_output=FORWARD):
    """Validate an adaptive_{avg,max}_pool call or its backward."""
    x, xb, grad, dtype, unbatched = _pool_input(opname, nd, x, grad_output, True)
    in_size = xb.shape[2:]
    out_size = adaptive_output_size(opname, output_size, in_size)
    n, c = xb.shape[:2]
    one = (1, 1, 1)
    fields = dict(in_size=_pad3(in_size, 1), out_size=_pad3(out_size, 1), kernel=one,
                  stride=one, dilation=one, padding=(0, 0, 0), count_include_pad=True,
                  work=n * c * (_math.prod(in_size) + _math.prod(out_size)))
    return _pool_finish(opname, x, xb, grad, dtype, unbatched, out_size, fields, out)


@_remembered
def check_global_pool(opname, x, keepdims, out=None, grad_output=FORWARD):
    """Validate a global_{avg,max}_pool call (x: (N, C, *spatial)) or its backward.
    Each plane is passed to C as (1, 1, size).  (Global pooling is the cheapest
    call a network makes, so all its shape checks are remembered per shape.)"""
    x = as_array(opname, "x", x)
    grad = grad_array(opname, grad_output)
    dtype = result_dtype(opname, x=x, grad_output=grad)
    result_shape, spec = _global_geometry(opname, x.shape, keepdims, dtype.itemsize)
    if out is not None:
        check_out(opname, out, result_shape, dtype, {"x": x})
    x5 = as_c_float(x, dtype).reshape((spec.n, spec.c) + spec.in_size)
    g5 = None
    if grad is not None:
        if grad.shape != result_shape:
            raise ValueError(f"{opname}: grad_output has shape {grad.shape} but the forward "
                             f"result for x of shape {x.shape} has shape {result_shape}")
        g5 = as_c_float(grad, dtype).reshape((spec.n, spec.c) + spec.out_size)
    return PoolCall(x5, g5, spec, dtype, result_shape, x.shape, out)


@_memoized
def _global_geometry(opname, shape, keepdims, itemsize):
    """(result shape, PoolSpec) of a global pooling of an x of `shape`, after the
    shape checks of _pool_input and _pool_finish, in their order."""
    if len(shape) < 3:
        raise ValueError(f"{opname}: x must have shape (N, C, *spatial) with at least "
                         f"one spatial axis; got shape {shape}")
    if shape[1] < 1 or min(shape[2:]) < 1:
        raise ValueError(f"{opname}: x of shape {shape} has an empty channel or spatial axis")
    check_nbytes(opname, "x", shape, itemsize)
    keepdims = check_bool(opname, "keepdims", keepdims)
    n, c = shape[:2]
    check_nbytes(opname, "the output", (n, c), itemsize)
    size = _math.prod(shape[2:])
    one = (1, 1, 1)
    spec = PoolSpec(n, c, in_size=(1, 1, size), out_size=one, kernel=one, stride=one,
                    dilation=one, padding=(0, 0, 0), count_include_pad=True, work=n * c * size)
    return (n, c) + ((1,) * (len(shape) - 2) if keepdims else ()), spec


POOL_MODES = ("max", "avg")


def check_pyramid_args(opname, x, levels, mode, grad_output=FORWARD):
    """Validate spatial_pyramid_pool's own arguments; return (x as an array,
    levels, mode, grad_output as an array or None).  x must be (N, C, H, W) (the
    adaptive pooling of each level checks the rest); grad_output, when given,
    (N, C * sum(l*l))."""
    x = as_array(opname, "x", x)
    if x.ndim != 4:
        raise ValueError(f"{opname}: x must have shape (N, C, H, W); got shape {x.shape}")
    if not isinstance(levels, (tuple, list)) or len(levels) == 0:
        raise ValueError(f"{opname}: levels must be a non-empty tuple of ints >= 1, "
                         f"got {levels!r}")
    for lv in levels:
        if not is_int(lv):
            raise TypeError(f"{opname}: levels must be ints >= 1, got {levels!r}")
        if not 1 <= lv <= MAX_INT_ARG:
            raise ValueError(f"{opname}: levels must be ints from 1 to {MAX_INT_ARG}, got "
                             f"{levels!r}")
    if not isinstance(mode, str) or mode not in POOL_MODES:
        raise ValueError(f"{opname}: mode must be one of {POOL_MODES}, got {mode!r}")
    levels = tuple(int(lv) for lv in levels)
    grad_output = grad_array(opname, grad_output)
    if grad_output is not None:
        shape = (x.shape[0], x.shape[1] * sum(lv * lv for lv in levels))
        if grad_output.shape != shape:
            raise ValueError(f"{opname}: grad_output has shape {grad_output.shape} but the "
                             f"forward result for x of shape {x.shape} and levels={levels} "
                             f"has shape {shape}")
    return x, levels, mode, grad_output


def adaptive_grad_output_size(opname, nd, grad_output, x):
    """The output_size of the adaptive pooling whose gradient grad_output is: its
    last nd sizes (grad_output must have x's rank; the full shape is checked
    against the forward result afterwards)."""
    grad_output = as_array(opname, "grad_output", grad_output)
    x = as_array(opname, "x", x)
    if grad_output.ndim != x.ndim or grad_output.ndim < nd + 1:
        raise ValueError(f"{opname}: grad_output has shape {grad_output.shape} but x has "
                         f"shape {x.shape}; they must have the same rank")
    size = grad_output.shape[grad_output.ndim - nd:]
    if min(size) < 1:
        raise ValueError(f"{opname}: grad_output of shape {grad_output.shape} has an empty "
                         "spatial axis")
    return grad_output, size


# =============================================== upsample / pad / shuffle ====
# Checks for fastconv.upsampling, fastconv.padding and fastconv.shuffle (forward
# and backward).  upsample and pad become 5-D (N, C, D, H, W) calls, channel
# shuffle an (N, C, plane) one; each returns a ResampleCall.

RESAMPLE_RANKS = "(N, C, L), (N, C, H, W) or (N, C, D, H, W)"
UPSAMPLE_MODES = {"nearest": 0, "linear": 1, "bilinear": 1, "trilinear": 1}
UPSAMPLE_LINEAR_ND = {"linear": 1, "bilinear": 2, "trilinear": 3}
PAD_OP_MODES = {"zeros": 0, "constant": 0, "reflect": 1, "replicate": 2, "circular": 3}


def _batched_spatial(opname, x, ranks=(3, 4, 5)):
    """x with the batch axis: (N, C, *spatial), 1-3 spatial axes."""
    if x.ndim not in ranks:
        raise ValueError(f"{opname}: x must have shape {RESAMPLE_RANKS} (the batch axis is "
                         f"required); got shape {x.shape}")
    return x.ndim - 2


def _check_grad_output(opname, grad_output, shape, x):
    if grad_output.shape != tuple(shape):
        raise ValueError(f"{opname}: grad_output has shape {grad_output.shape} but the forward "
                         f"output for x of shape {x.shape} has shape {tuple(shape)}")


class UpsampleSpec(NamedTuple):
    """A validated upsample call in 3 spatial dims (D, H, W); read by _upsample.pyx.
    scale holds the user's scale factor per axis, or 0.0 when size was given."""
    n: int
    c: int
    in_size: tuple
    out_size: tuple
    scale: tuple
    mode: int
    align_corners: bool
    nd: int

    @property
    def work(self):
        """Weighted reads of the whole call (2**nd per output for linear modes)."""
        taps = 2 ** self.nd if self.mode == UPSAMPLE_MODES["linear"] else 1
        return self.n * self.c * _math.prod(self.out_size) * taps


class ResampleCall(NamedTuple):
    """What upsample / pad / channel_shuffle (and their backward passes) need after
    validation: the C-contiguous input of the kernel (x forward, grad_output
    backward) reshaped for C, the spec, the dtype, the result's shape, and out."""
    src: np.ndarray
    spec: object
    dtype: np.dtype
    result_shape: tuple
    out: object


def _resampling_call(opname, spec, dtype, x, full_out, grad_output, out, backward):
    """The ResampleCall of an upsample or pad call whose spec has (n, c, in_size,
    out_size): forward reads x (into out, if given), backward reads grad_output
    (of the forward's shape) and produces x's shape."""
    n, c = spec.n, spec.c
    if backward:
        _check_grad_output(opname, grad_output, full_out, x)
        src = as_c_float(grad_output, dtype).reshape((n, c) + spec.out_size)
        return ResampleCall(src, spec, dtype, x.shape, None)
    if out is not None:
        check_out(opname, out, full_out, dtype, {"x": x})
    src = as_c_float(x, dtype).reshape((n, c) + spec.in_size)
    return ResampleCall(src, spec, dtype, full_out, out)


def _scale_factors(opname, scale_factor, nd):
    """One positive finite float per spatial axis from a number or nd numbers."""
    def bad():
        return TypeError(f"{opname}: scale_factor must be a number or a tuple of {nd} "
                         f"numbers, got {scale_factor!r}")
    values = _as_sequence(scale_factor)
    if values is not None:
        if len(values) != nd:
            raise ValueError(f"{opname}: scale_factor must be a number or {nd} numbers (one "
                             f"per spatial axis), got {len(values)}: {scale_factor!r}")
    elif isinstance(scale_factor, np.ndarray):
        raise bad()
    else:
        values = (scale_factor,) * nd
    out = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.floating,
                                                                  np.integer)):
            raise bad()
        v = float(v)
        if not _math.isfinite(v) or v <= 0:
            raise ValueError(f"{opname}: scale_factor must be finite and > 0 on every axis, "
                             f"got {scale_factor!r}")
        out.append(v)
    return tuple(out)


def _resample_input(opname, x, grad_output):
    """What upsample and pad check first, forward or backward (grad_output is
    FORWARD for a forward call): x as an array, grad_output, whether this is a
    backward call, the computation dtype and the number of spatial axes."""
    x = as_array(opname, "x", x)
    grad_output = grad_array(opname, grad_output)
    backward = grad_output is not None
    if backward:
        dtype = result_dtype(opname, grad_output=grad_output, x=x)
    else:
        dtype = result_dtype(opname, x=x)
    nd = _batched_spatial(opname, x)
    return x, grad_output, backward, dtype, nd


@_memoized
def _upsample_geometry(opname, nd, shape, size, scale_factor, mode, align_corners):
    """The checked mode, align_corners, output size and scale factors of an
    upsample call on x of `shape` (remembered: small calls spend as long
    validating as computing)."""
    if not isinstance(mode, str) or mode not in UPSAMPLE_MODES:
        raise ValueError(f"{opname}: mode must be one of {tuple(UPSAMPLE_MODES)}, got {mode!r}")
    if mode != "nearest" and UPSAMPLE_LINEAR_ND[mode] != nd:
        want = UPSAMPLE_LINEAR_ND[mode]
        raise ValueError(f"{opname}: mode={mode!r} needs {want + 2}-D input "
                         f"(N, C, {SPATIAL_NAMES[want]}); got x of shape {shape}")
    if mode == "nearest":
        if align_corners is not None:
            raise ValueError(f"{opname}: align_corners can only be set with mode 'linear', "
                             f"'bilinear' or 'trilinear'; got align_corners={align_corners!r} "
                             "with mode='nearest' (leave it None)")
        align_corners = False
    elif align_corners is None:
        align_corners = False
    elif not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"{opname}: align_corners must be True, False or None, got "
                        f"{align_corners!r}")
    in_size = tuple(shape[2:])
    if min(in_size) < 1:
        raise ValueError(f"{opname}: x of shape {shape} has an empty spatial axis")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{opname}: give exactly one of size and scale_factor, got "
                         f"{'neither' if size is None else 'both'} (size={size!r}, "
                         f"scale_factor={scale_factor!r})")
    if size is not None:
        out_size = ntuple(opname, "size", size, nd, minimum=1)
        scale = (0.0,) * nd
    else:
        scale = _scale_factors(opname, scale_factor, nd)
        # PyTorch's rule: floor(in * scale) in double precision (a finite scale
        # can still overflow it)
        if not all(_math.isfinite(i * s) for i, s in zip(in_size, scale)):
            raise ValueError(f"{opname}: scale_factor={scale_factor!r} gives an output size "
                             f"beyond any float for x of spatial shape {in_size}")
        out_size = tuple(_math.floor(i * s) for i, s in zip(in_size, scale))
        if min(out_size) < 1:
            raise ValueError(f"{opname}: scale_factor={scale_factor!r} gives output size "
                             f"{out_size} (< 1) for x of spatial shape {in_size}")
    return mode, bool(align_corners), in_size, out_size, scale


@_remembered
def check_upsample(opname, x, size, scale_factor, mode, align_corners, out=None,
                   grad_output=FORWARD):
    """Validate an upsample call (forward when grad_output is FORWARD, its default,
    else backward); return a ResampleCall whose src is x (forward) or grad_output
    (backward) as 5-D."""
    x, grad_output, backward, dtype, nd = _resample_input(opname, x, grad_output)
    mode, align_corners, in_size, out_size, scale = _upsample_geometry(
        opname, nd, x.shape, size, scale_factor, mode, align_corners)
    n, c = x.shape[:2]
    full_out = (n, c) + out_size
    check_nbytes(opname, "the output", full_out, dtype.itemsize)
    check_nbytes(opname, "x", x.shape, dtype.itemsize)
    spec = UpsampleSpec(n, c, _pad3(in_size, 1), _pad3(out_size, 1), _pad3(scale, 0.0),
                        UPSAMPLE_MODES[mode], align_corners, nd)
    return _resampling_call(opname, spec, dtype, x, full_out, grad_output, out, backward)


class PadSpec(NamedTuple):
    """A validated pad call in 3 spatial dims (D, H, W); read by _pad.pyx."""
    n: int
    c: int
    in_size: tuple
    out_size: tuple
    before: tuple
    after: tuple
    mode: int
    value: float


def pad_pairs(opname, pad, nd):
    """((before, after), ...) per spatial axis, first spatial axis first, from an
    int, or nd entries that are each an int (both sides) or a (before, after) pair."""
    hint = (f"pad must be an int or {nd} (before, after) pairs, one per spatial axis, first "
            "spatial axis first (not PyTorch's flat, last-axis-first list)")
    if is_int(pad):
        entries = [(pad, pad)] * nd
    elif isinstance(pad, (tuple, list)):
        if len(pad) != nd:
            raise ValueError(f"{opname}: {hint}; got {pad!r} for x with {nd} spatial "
                             f"{'axis' if nd == 1 else 'axes'}")
        entries = []
        for e in pad:
            if is_int(e):
                entries.append((e, e))
            elif isinstance(e, (tuple, list)) and len(e) == 2:
                entries.append(tuple(e))
            else:
                raise ValueError(f"{opname}: {hint}; got {pad!r}")
    else:
        raise TypeError(f"{opname}: {hint}; got {pad!r}")
    for b, a in entries:
        if not (is_int(b) and is_int(a)):
            raise TypeError(f"{opname}: pad entries must be ints, got {pad!r}")
        if b < 0 or a < 0:
            raise ValueError(f"{opname}: pad must be >= 0 (negative padding, i.e. cropping, "
                             f"is not supported), got {pad!r}")
        if max(b, a) > MAX_INT_ARG:
            raise ValueError(f"{opname}: pad must be <= {MAX_INT_ARG}, got {pad!r}")
    return tuple(int(b) for b, _ in entries), tuple(int(a) for _, a in entries)


@_remembered
def check_pad(opname, x, pad, mode, value, out=None, grad_output=FORWARD):
    """Validate a pad call (forward when grad_output is FORWARD, its default, else
    backward); return a ResampleCall whose src is x (forward) or grad_output (backward) as 5-D."""
    x, grad_output, backward, dtype, nd = _resample_input(opname, x, grad_output)
    if not isinstance(mode, str) or mode not in PAD_OP_MODES:
        raise ValueError(f"{opname}: mode must be one of {tuple(PAD_OP_MODES)}, got {mode!r}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating,
                                                                      np.integer)):
        raise TypeError(f"{opname}: value must be a real number, got {value!r}")
    value = float(value)
    if mode == "zeros" and value != 0.0:
        raise ValueError(f"{opname}: mode='zeros' pads with 0, got value={value!r}; use "
                         "mode='constant' to pad with another value")
    if mode != "constant":
        value = 0.0
    with np.errstate(over="ignore"):
        if _math.isfinite(value) and not np.isfinite(dtype.type(value)):
            raise ValueError(f"{opname}: value={value!r} does not fit in {dtype.name}, the "
                             f"dtype of the result")
    before, after = pad_pairs(opname, pad, nd)
    n, c = x.shape[:2]
    in_size = tuple(x.shape[2:])
    if mode not in ("zeros", "constant") and min(in_size) < 1:
        raise ValueError(f"{opname}: mode={mode!r} needs every spatial axis non-empty; x has "
                         f"shape {x.shape}")
    if mode == "reflect":
        for ax in range(nd):
            if max(before[ax], after[ax]) >= in_size[ax]:
                raise ValueError(
                    f"{opname}: mode='reflect' needs pad < input size on every axis; pad "
                    f"(before, after) = {tuple(zip(before, after))} but x has spatial "
                    f"shape {in_size}")
    out_size = tuple(i + b + a for i, b, a in zip(in_size, before, after))
    full_out = (n, c) + out_size
    check_nbytes(opname, "the output", full_out, dtype.itemsize)
    check_nbytes(opname, "x", x.shape, dtype.itemsize)
    spec = PadSpec(n, c, _pad3(in_size, 1), _pad3(out_size, 1), _pad3(before, 0),
                   _pad3(after, 0), PAD_OP_MODES[mode], value)
    return _resampling_call(opname, spec, dtype, x, full_out, grad_output, out, backward)


class ShuffleSpec(NamedTuple):
    """A validated channel shuffle; plane = product of the spatial sizes."""
    n: int
    c: int
    groups: int
    plane: int


@_remembered
def check_channel_shuffle(opname, x, groups, out=None, grad_output=FORWARD):
    """Validate a channel_shuffle call (forward when grad_output is FORWARD, else
    backward); return a ResampleCall whose src is x or grad_output as (N, C, plane)."""
    x = as_array(opname, "x", x)
    grad_output = grad_array(opname, grad_output)
    backward = grad_output is not None
    if backward:
        dtype = result_dtype(opname, grad_output=grad_output, x=x)
    else:
        dtype = result_dtype(opname, x=x)
    if x.ndim < 3:
        raise ValueError(f"{opname}: x must have shape (N, C, *spatial) with at least one "
                         f"spatial axis (the batch axis is required); got shape {x.shape}")
    groups = check_int(opname, "groups", groups, minimum=1)
    n, c = x.shape[:2]
    if c % groups:
        raise ValueError(f"{opname}: groups={groups} must divide the channels, but x has "
                         f"shape {x.shape} ({c} channels)")
    check_nbytes(opname, "x", x.shape, dtype.itemsize)
    spec = ShuffleSpec(n, c, groups, _math.prod(x.shape[2:]))
    if backward:
        _check_grad_output(opname, grad_output, x.shape, x)
        src = as_c_float(grad_output, dtype).reshape((n, c, spec.plane))
        return ResampleCall(src, spec, dtype, x.shape, None)
    if out is not None:
        check_out(opname, out, x.shape, dtype, {"x": x})
    src = as_c_float(x, dtype).reshape((n, c, spec.plane))
    return ResampleCall(src, spec, dtype, x.shape, out)


# ================================================ depthwise / separable ====
# depthwise_conv2d, separable_conv2d and their backward.  The depthwise-specific
# shape rules (weight (C*m, 1, kH, kW), pointwise weight (C_out, C*m, 1, 1)) are
# checked here, with messages naming the user's arguments; everything else
# (rank, stride, padding, padding_mode, output size, byte counts, out=,
# grad_output) is check_conv's, called with groups = C, which the checks here
# guarantee it accepts as far as channels go.
class SeparableCall(NamedTuple):
    """A validated separable_conv2d (or backward) call: `dw` is the depthwise
    part as a ConvCall (5-D arrays in `dtype`, its spec, its grad_output unset),
    pw the pointwise weight as a C-contiguous (C_out, C*m) matrix, pb its bias,
    out_shape the shape the user sees, grad_output (N, C_out, 1, H_out, W_out)."""
    dw: ConvCall
    pw: np.ndarray
    pb: object
    dtype: np.dtype
    out_shape: tuple
    out: object
    grad_output: object
    unbatched: bool


def _depthwise_channels(opname, x, weight, weight_name, bias, bias_name):
    """C (channels of x) after checking that weight is (C*m, 1, kH, kW) with an
    integer multiplier m >= 1 and bias (C*m,)."""
    if x.ndim not in (3, 4):
        raise ValueError(f"{opname}: x must have shape (N, C, H, W) or, unbatched, "
                         f"(C, H, W); got shape {x.shape}")
    c = x.shape[-3]
    if c < 1:
        raise ValueError(f"{opname}: x of shape {x.shape} has no channels")
    if weight.ndim != 4 or weight.shape[1] != 1:
        raise ValueError(f"{opname}: {weight_name} must have shape (C*multiplier, 1, kH, kW); "
                         f"got shape {weight.shape}")
    if weight.shape[0] < 1 or min(weight.shape[2:]) < 1:
        raise ValueError(f"{opname}: {weight_name} of shape {weight.shape} is empty; it needs "
                         "at least one output channel and kernel element")
    if weight.shape[0] % c:
        raise ValueError(f"{opname}: {weight_name} of shape {weight.shape} has "
                         f"{weight.shape[0]} output channels, not a multiple of the {c} "
                         f"channels of x (shape {x.shape}); the channel multiplier must be "
                         "an integer >= 1")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{opname}: {bias_name} must have shape ({weight.shape[0]},) to "
                         f"match {weight_name} {weight.shape}; got shape {bias.shape}")
    return c


@_remembered
def check_depthwise(opname, x, weight, bias, stride, padding, dilation, padding_mode, out,
                    grad_output=FORWARD):
    """Validate a depthwise_conv2d call (or, with grad_output, its backward);
    return a ConvCall whose spec has groups = C."""
    x = as_array(opname, "x", x)
    weight = as_array(opname, "weight", weight)
    bias = None if bias is None else as_array(opname, "bias", bias)
    result_dtype(opname, x=x, weight=weight, bias=bias,
                 grad_output=grad_array(opname, grad_output))
    c = _depthwise_channels(opname, x, weight, "weight", bias, "bias")
    return check_conv(opname, 2, x, weight, bias, stride, padding, dilation, c, padding_mode,
                      out, grad_output=grad_output)


@_remembered
def check_separable(opname, x, depthwise_weight, pointwise_weight, depthwise_bias,
                    pointwise_bias, stride, padding, dilation, padding_mode, out,
                    grad_output=FORWARD):
    """Validate a separable_conv2d call (or, with grad_output, its backward);
    return a SeparableCall."""
    x = as_array(opname, "x", x)
    dw = as_array(opname, "depthwise_weight", depthwise_weight)
    pw = as_array(opname, "pointwise_weight", pointwise_weight)
    db = None if depthwise_bias is None else as_array(opname, "depthwise_bias", depthwise_bias)
    pb = None if pointwise_bias is None else as_array(opname, "pointwise_bias", pointwise_bias)
    grad_output = grad_array(opname, grad_output)
    dtype = result_dtype(opname, x=x, depthwise_weight=dw, pointwise_weight=pw,
                         depthwise_bias=db, pointwise_bias=pb, grad_output=grad_output)
    _depthwise_channels(opname, x, dw, "depthwise_weight", db, "depthwise_bias")
    cm = dw.shape[0]
    if pw.ndim != 4 or pw.shape[1:] != (cm, 1, 1) or pw.shape[0] < 1:
        raise ValueError(f"{opname}: pointwise_weight must have shape (C_out, {cm}, 1, 1) to "
                         f"follow depthwise_weight {dw.shape} ({cm} channels); got shape "
                         f"{pw.shape}")
    c_out = pw.shape[0]
    if pb is not None and pb.shape != (c_out,):
        raise ValueError(f"{opname}: pointwise_bias must have shape ({c_out},) to match "
                         f"pointwise_weight {pw.shape}; got shape {pb.shape}")
    call = check_conv(opname, 2, x, dw, db, stride, padding, dilation, x.shape[-3],
                      padding_mode, None)
    if call.dtype != dtype:  # promoted by the pointwise arrays or grad_output
        call = call._replace(x=call.x.astype(dtype), weight=call.weight.astype(dtype),
                             bias=None if db is None else call.bias.astype(dtype), dtype=dtype)
    spec = call.spec
    unbatched = x.ndim == 3
    full_out = (spec.n, c_out) + spec.out_size[1:]
    check_nbytes(opname, "the output", full_out, dtype.itemsize)
    out_shape = full_out[1:] if unbatched else full_out
    if out is not None:
        check_out(opname, out, out_shape, dtype,
                  {"x": x, "depthwise_weight": dw, "pointwise_weight": pw,
                   "depthwise_bias": db, "pointwise_bias": pb})
    g5 = None
    if grad_output is not None:
        if grad_output.shape != tuple(out_shape):
            raise ValueError(f"{opname}: grad_output has shape {grad_output.shape} but the "
                             f"forward output for x {x.shape}, depthwise_weight {dw.shape} and "
                             f"pointwise_weight {pw.shape} has shape {tuple(out_shape)}")
        # the backward materialises the depthwise output and its gradient
        check_nbytes(opname, "the depthwise output", (spec.n, cm) + spec.out_size,
                     dtype.itemsize)
        g5 = as_c_float(grad_output, dtype).reshape((spec.n, c_out) + spec.out_size)
    pw2 = as_c_float(pw, dtype).reshape(c_out, cm)
    pb1 = None if pb is None else as_c_float(pb, dtype)
    return SeparableCall(call, pw2, pb1, dtype, out_shape, out, g5, unbatched)
