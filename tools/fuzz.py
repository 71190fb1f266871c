"""Fuzz every public fastconv operation with arbitrary arguments.

    python tools/fuzz.py --minutes 10 [--seed 1] [--log fuzz-last-input.txt]

Hypothesis draws a call of a random public function, forward or backward: first
a consistent one (shapes, channels and hyper-parameters that fit together, so
the kernels run), then a few of its arguments replaced by raw values of any type
(arrays of any dtype, rank, layout or broadcast size; ints from -3 to 2**64,
floats including NaN and inf, bools, None, strings, nested sequences, 0-d
arrays).  Each call must either return a well-formed result (float32/float64,
C-contiguous, of the right rank, batch and channel count, with the input's
shape for an input gradient, finite for finite input, and the same bits when
called again) or raise ValueError / TypeError whose message names the operation,
or MemoryError.  Anything else fails, and hypothesis shrinks it to a minimal
call.  A crash or a call running longer than --call-timeout seconds cannot be
caught in-process: the fuzzing runs in a child process that writes each input
to --log before calling, and the parent reports the input that killed it.

The child caps its address space (--memory-gib above its size after import), so
a size that passed validation but cannot be allocated fails fast as MemoryError.
Run it on one core so others can work: taskset -c 0 nice python tools/fuzz.py ...
With the sanitizer build (README, Contributing), preload libasan as for the tests
and pass --memory-gib 0 with ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:
max_allocation_size_mb=4096 (ASan reserves more address space than any cap allows).
"""
import argparse
import faulthandler
import inspect
import os
import re
import resource
import subprocess
import sys
import time

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)
ODD_DTYPES = (np.float16, np.int32, np.int64, np.uint8, np.bool_, np.complex64, object, "U1",
              ">f8", ">f4", np.longdouble)


# ------------------------------------------------------------ the contract ----
class ContractViolation(AssertionError):
    pass


def _expect(cond, what):
    if not cond:
        raise ContractViolation(what)


def _arrays_of(result):
    return [a for a in (result if isinstance(result, tuple) else (result,)) if a is not None]


def _finite(value):
    if isinstance(value, np.ndarray):
        return value.dtype.kind != "f" or value.size > 10**7 or np.isfinite(value).all()
    if isinstance(value, (float, np.floating)):
        return bool(np.isfinite(value))
    if isinstance(value, (tuple, list)):
        return all(_finite(v) for v in value)
    return True


def _all_finite(a, chunk=2**20):
    """np.isfinite(a).all() a chunk at a time: a boolean copy of a result of
    gigabytes would not fit under the child's address-space cap."""
    flat = a.reshape(-1)
    return all(np.isfinite(flat[i:i + chunk]).all() for i in range(0, flat.size, chunk))


def _same_bits(a, b, chunk=2**22):
    """a and b hold the same bytes, compared a chunk at a time (no copies)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    a = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    b = np.ascontiguousarray(b).reshape(-1).view(np.uint8)
    return all(np.array_equal(a[i:i + chunk], b[i:i + chunk]) for i in range(0, a.size, chunk))


WEIGHTS = ("weight", "depthwise_weight", "pointwise_weight")


def check_result(name, kwargs, result):
    """A returned result must be well formed for the call that produced it."""
    x = np.asarray(kwargs["x"])
    items = result if isinstance(result, tuple) else (result,)
    arrays = _arrays_of(result)
    _expect(arrays, "no array returned")
    for a in arrays:
        _expect(isinstance(a, np.ndarray), f"returned {type(a).__name__}")
        _expect(a.flags.c_contiguous, "result not C-contiguous")
    values = [a for a in arrays if a.dtype != np.int64]        # max-pool indices are int64
    for a in values:
        _expect(a.dtype in FLOAT_DTYPES, f"result dtype {a.dtype}")
    if all(_finite(v) for v in kwargs.values()):
        _expect(all(_all_finite(a) for a in values), "non-finite result from finite input")
    if name.endswith("_backward"):
        if items[0] is not None:
            _expect(items[0].shape == x.shape, f"grad_input shape {items[0].shape} != {x.shape}")
        for grad, arg in zip(items[1:], [w for w in WEIGHTS if w in kwargs]):
            _expect(grad.shape == np.shape(kwargs[arg]), f"{arg} gradient shape {grad.shape}")
        return
    y = values[0]
    if "global" in name or "pyramid" in name:
        _expect(y.shape[0] == x.shape[0] and y.ndim >= 2, f"result shape {y.shape}")
    else:
        _expect(y.ndim == x.ndim, f"result rank {y.ndim} != x rank {x.ndim}")


def call_and_check(fn, kwargs):
    """Call; on success check the result and that a second call gives the same bits."""
    name = fn.__name__
    try:
        result = fn(**kwargs)
    except (ValueError, TypeError) as exc:
        _expect(str(exc).startswith(f"{name}: "), f"{type(exc).__name__} not naming {name}: {exc}")
        return "rejected"
    except MemoryError:
        return "memory"
    check_result(name, kwargs, result)
    try:
        again = fn(**kwargs)
    except MemoryError:     # the first result still holds its memory under the cap
        return "memory"
    for a, b in zip(_arrays_of(result), _arrays_of(again)):
        _expect(_same_bits(a, b), "two identical calls differ")
    return "ok"


# -------------------------------------------------------------- strategies ----
def strategies():
    """The hypothesis strategy of (function, keyword arguments)."""
    from hypothesis import strategies as st
    import fastconv

    functions = [getattr(fastconv, n) for n in fastconv.__all__
                 if callable(getattr(fastconv, n)) and n not in (
                     "get_num_threads", "set_num_threads", "show_config",
                     # they take a function, not arrays (tests/test_autotune.py)
                     "autotune", "autotune_choices", "clear_autotune")]
    small = st.integers(0, 4)
    ints = st.one_of(st.integers(-3, 10), st.sampled_from([2**31 - 1, 2**31, 2**62, 2**63, 2**64,
                                                           -2**63]))
    scalars = st.one_of(ints, st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                        st.none(), st.text(max_size=3), st.sampled_from(
                            [np.int64(2), np.float32(1.5), np.array(2), np.uint64(2**64 - 1)]))
    raw = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.lists(inner, max_size=4).map(tuple)),
                       max_leaves=6)

    @st.composite
    def arrays(draw, shape=None, dtype=None):
        """An array of the given (or any) shape and dtype, in any layout."""
        if shape is None:
            shape = tuple(draw(st.lists(st.one_of(small, st.sampled_from([7, 2**20, 2**31])),
                                        max_size=6)))
        if dtype is None:
            dtype = draw(st.sampled_from(FLOAT_DTYPES + ODD_DTYPES))
        if int(np.prod([max(s, 1) for s in shape], dtype=object)) > 10**6:   # a broadcast
            try:                                                             # view: no memory
                return np.broadcast_to(np.zeros((), dtype), shape)
            except ValueError:
                return np.zeros((), dtype)
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        a = rng.standard_normal(shape).astype(dtype)
        layout = draw(st.sampled_from(["c", "reversed", "strided", "fortran", "readonly"]))
        if layout == "reversed" and a.ndim:
            a = a[::-1].copy()[::-1]
        elif layout == "strided" and a.ndim:
            a = np.repeat(a, 2, axis=-1)[..., ::2]
        elif layout == "fortran":
            a = np.asfortranarray(a)
        elif layout == "readonly":
            a.setflags(write=False)
        return a

    def per_axis(nd, lo, hi):
        v = st.integers(lo, hi)
        return st.one_of(v, st.tuples(*[v] * nd))

    @st.composite
    def consistent(draw, fn):
        """Arguments that fit together (most are valid; some are not, by chance)."""
        name = fn.__name__
        params = inspect.signature(fn).parameters
        fixed = re.search(r"(\d)d", name)
        nd = 2 if any(s in name for s in ("depthwise", "separable", "pyramid")) else \
            int(fixed.group(1)) if fixed else draw(st.integers(1, 3))
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        n, c = draw(st.integers(0, 3)), draw(st.integers(1, 6))
        sizes = tuple(draw(st.integers(1, 9)) for _ in range(nd))
        groups = draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0]))
        kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
        kw = {"x": draw(arrays((n, c) + sizes, dtype))}
        if "conv_transpose" in name:
            kw["weight"] = draw(arrays((c, draw(st.integers(1, 3))) + kernel, dtype))
        elif name.startswith("conv"):
            kw["weight"] = draw(arrays((groups * draw(st.integers(1, 2)), c // groups) + kernel,
                                       dtype))
        elif "depthwise" in name:
            kw["weight"] = draw(arrays((c * draw(st.integers(1, 2)), 1) + kernel, dtype))
        elif "separable" in name:
            m = c * draw(st.integers(1, 2))
            kw["depthwise_weight"] = draw(arrays((m, 1) + kernel, dtype))
            kw["pointwise_weight"] = draw(arrays((draw(st.integers(1, 4)), m, 1, 1), dtype))
        values = {
            "groups": st.just(groups), "stride": per_axis(nd, 1, 4),
            "dilation": per_axis(nd, 1, 3), "kernel_size": per_axis(nd, 1, 4),
            "output_padding": per_axis(nd, 0, 1), "output_size": per_axis(nd, 1, 10),
            "padding": st.one_of(per_axis(nd, 0, 2), st.sampled_from(["same", "valid"]),
                                 st.tuples(*[st.tuples(small, small)] * nd)),
            "padding_mode": st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
            "algorithm": st.sampled_from(["auto", "direct", "gemm", "im2col"]),
            "levels": st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple),
            "size": per_axis(nd, 1, 12), "scale_factor": st.floats(0.3, 3.5) | st.none(),
            "pad": st.one_of(small, st.tuples(*[st.tuples(small, small)] * nd)),
            "value": st.floats(-2, 2), "keepdims": st.booleans(), "ceil_mode": st.booleans(),
            "count_include_pad": st.booleans(), "return_indices": st.booleans(),
            "need_input": st.booleans(), "need_bias": st.booleans(),
            "align_corners": st.sampled_from([None, True, False]),
        }
        modes = {"upsample": ["nearest", ("linear", "bilinear", "trilinear")[nd - 1]],
                 "pad": ["zeros", "constant", "reflect", "replicate", "circular"],
                 "spatial_pyramid_pool": ["max", "avg"]}
        for p, param in params.items():
            required = param.default is inspect.Parameter.empty
            if p in values and (required or draw(st.booleans())):
                kw[p] = draw(values[p])
            elif p == "mode":
                kw[p] = draw(st.sampled_from(modes[name.replace("_backward", "")]))
        if "scale_factor" in params and kw.get("scale_factor") is None and "size" not in kw:
            kw["scale_factor"] = 2
        if kw.get("mode") == "nearest" or "upsample" not in name:
            kw.pop("align_corners", None)
        for p in ("bias", "depthwise_bias", "pointwise_bias"):
            if p in params and draw(st.booleans()):
                w = kw.get("weight" if p == "bias" else p.replace("bias", "weight"))
                c_out = None if w is None else w.shape[0] if "transpose" not in name \
                    else w.shape[1] * groups
                kw[p] = draw(arrays((c_out or 1,), dtype))
        if name.endswith("_backward"):
            forward = getattr(fastconv, name[:-len("_backward")])
            fparams = inspect.signature(forward).parameters
            try:
                y = forward(**{k: v for k, v in kw.items() if k in fparams})
                shape = _arrays_of(y)[0].shape
            except (ValueError, TypeError, MemoryError):
                shape = draw(arrays()).shape
            kw["grad_output"] = draw(arrays(shape, draw(st.sampled_from(FLOAT_DTYPES))))
        kw = {k: v for k, v in kw.items() if k in params}
        # then replace a few arguments by raw values of any type
        for p in draw(st.lists(st.sampled_from(list(params)), max_size=3, unique=True)):
            kw[p] = draw(st.one_of(raw, arrays()))
        if "x" not in kw:
            kw["x"] = draw(arrays())
        return kw

    return st.sampled_from(functions).flatmap(
        lambda fn: st.tuples(st.just(fn), consistent(fn)))


# ------------------------------------------------------------------ driver ----
def child(args):
    """Fuzz until the time is up; print the counts of each outcome."""
    from hypothesis import HealthCheck, given, seed, settings

    import fastconv  # noqa: F401  (imported before the address space is capped)
    if args.memory_gib > 0:
        with open("/proc/self/status") as f:
            vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + int(args.memory_gib * 2**30),
                                                resource.RLIM_INFINITY))
    counts = {"ok": 0, "rejected": 0, "memory": 0}
    log = open(args.log, "w")
    deadline = time.monotonic() + 60 * args.minutes

    @settings(max_examples=500, deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(strategies())
    def fuzz_one(call):
        fn, kwargs = call
        log.seek(0)
        log.write(f"{fn.__name__}(**{kwargs!r})\n")
        log.truncate()
        log.flush()
        faulthandler.dump_traceback_later(args.call_timeout, exit=True)
        try:
            counts[call_and_check(fn, kwargs)] += 1
        finally:
            faulthandler.cancel_dump_traceback_later()

    batch = 0
    while time.monotonic() < deadline:
        seed(args.seed * 1_000_003 + batch)(fuzz_one)()
        batch += 1
        print(f"{sum(counts.values())} inputs: {counts}", flush=True)
    print(f"done: {sum(counts.values())} inputs tried: {counts}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--log", default="fuzz-last-input.txt",
                        help="file holding the input being tried (left behind on a crash)")
    parser.add_argument("--call-timeout", type=int, default=120,
                        help="seconds one call may take before it counts as a hang")
    parser.add_argument("--memory-gib", type=float, default=4.0,
                        help="address space the child may add to its size after import "
                             "(0: no cap; under ASan, cap with ASAN_OPTIONS="
                             "allocator_may_return_null=1:max_allocation_size_mb=4096)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    print(f"fuzzing for {args.minutes} min, seed {args.seed}", flush=True)
    faulthandler.enable()
    res = subprocess.run([sys.executable, os.path.abspath(__file__), "--child",
                          *(argv if argv is not None else sys.argv[1:])])
    if res.returncode != 0:
        with open(args.log) as f:
            print(f"FAILED (exit status {res.returncode}); the input being tried:\n{f.read()}")
        return 1
    os.remove(args.log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
