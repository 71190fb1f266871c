"""``python -m fastconv bench``: time a suite of named layers on every backend.

Each case is run on fastconv with every algorithm and, when it is importable,
on ``torch.nn.functional``.  Every backend's output is first checked against a
float64 reference (torch in float64 if available, else fastconv's 'direct' in
float64); then all backends are timed interleaved in rounds (each round runs
every backend once), so slow drift of the machine's load hits them alike.
Each timed call comes after a short untimed spell of the same backend, so that
one library's idle, still-spinning threads do not slow down the next one.

The case table (CASES) and the helpers that turn a case into arrays and calls
(Workload) are shared with the asv suite in ``benchmarks/``.
"""
import math
import statistics
import sys
import time
from typing import NamedTuple

import numpy as np

import fastconv

__all__ = ["CASES", "Case", "Workload", "case_macs", "add_arguments", "run"]


class Case(NamedTuple):
    """One benchmark case: the operation (a key of FAMILIES), the sizes its
    arrays are built from, and the keyword arguments passed to the call."""
    op: str
    shape: dict
    kwargs: dict


# The suite.  Batch 1 everywhere; shapes are layers of real networks.  To add
# an operation family, add a family class below and cases naming its ops.
CASES = {
    "c2d_resnet_l1": Case("conv2d", dict(c_in=64, c_out=64, size=(56, 56), kernel_size=3),
                          dict(padding=1)),
    "c2d_resnet_l3": Case("conv2d", dict(c_in=256, c_out=256, size=(14, 14), kernel_size=3),
                          dict(padding=1)),
    "c2d_resnet_stem": Case("conv2d", dict(c_in=3, c_out=64, size=(224, 224), kernel_size=7),
                            dict(stride=2, padding=3)),
    "c2d_resnet_ds": Case("conv2d", dict(c_in=128, c_out=256, size=(28, 28), kernel_size=1),
                          dict(stride=2)),
    "c2d_vgg_112": Case("conv2d", dict(c_in=128, c_out=128, size=(112, 112), kernel_size=3),
                        dict(padding=1)),
    "c2d_dilated": Case("conv2d", dict(c_in=64, c_out=64, size=(56, 56), kernel_size=3),
                        dict(padding=2, dilation=2)),
    "c2d_reflect": Case("conv2d", dict(c_in=64, c_out=64, size=(56, 56), kernel_size=3),
                        dict(padding=1, padding_mode="reflect")),
    "c1d_audio": Case("conv1d", dict(c_in=64, c_out=64, size=(16384,), kernel_size=3),
                      dict(padding=1)),
    "c3d_small": Case("conv3d", dict(c_in=3, c_out=32, size=(16, 56, 56), kernel_size=3),
                      dict(padding=1)),
}

QUICK_REPEAT = 3


# ------------------------------------------------------------ families ----
def _ntuple(value, n):
    return (value,) * n if isinstance(value, int) else tuple(value)


class _Conv:
    """conv1d/2d/3d: arrays (x, weight, bias), the 'algorithm' keyword, MACs.

    Written independently of fastconv's own argument parsing, so that the torch
    call (and hence the reference) does not share its mistakes.
    """
    takes_algorithm = True

    def __init__(self, nd):
        self.nd = nd

    def _geometry(self, case):
        """Kernel, stride, dilation and (before, after) padding per spatial axis."""
        kw, nd = case.kwargs, self.nd
        kernel = _ntuple(case.shape["kernel_size"], nd)
        stride = _ntuple(kw.get("stride", 1), nd)
        dilation = _ntuple(kw.get("dilation", 1), nd)
        padding = kw.get("padding", 0)
        if padding == "valid":
            pairs = [(0, 0)] * nd
        elif padding == "same":  # the odd extra element goes at the end
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            pairs = [(t // 2, t - t // 2) for t in total]
        else:
            pairs = [p if isinstance(p, (tuple, list)) else (p, p) for p in _ntuple(padding, nd)]
        return kernel, stride, dilation, pairs

    def out_shape(self, case):
        kernel, stride, dilation, pairs = self._geometry(case)
        sp = [(i + b + a - d * (k - 1) - 1) // s + 1
              for i, k, s, d, (b, a) in zip(case.shape["size"], kernel, stride, dilation, pairs)]
        return (1, case.shape["c_out"], *sp)

    def reduction_length(self, case):
        """Products summed into each output element (sets the check's tolerance)."""
        groups = case.kwargs.get("groups", 1)
        return case.shape["c_in"] // groups * math.prod(self._geometry(case)[0])

    def macs(self, case):
        """Multiply-adds: fastconv.analysis.conv_macs when it exists, else the
        output size times the reduction length."""
        counted = math.prod(self.out_shape(case)) * self.reduction_length(case)
        conv_macs = getattr(fastconv.analysis, "conv_macs", None)
        if conv_macs is None:
            return counted, None
        s, kw = case.shape, case.kwargs
        try:
            macs = conv_macs((s["c_in"], *s["size"]), s["c_out"], s["kernel_size"],
                             stride=kw.get("stride", 1), padding=kw.get("padding", 0),
                             dilation=kw.get("dilation", 1), groups=kw.get("groups", 1))
        except Exception as exc:  # analysis.py is young; the benchmark must still run
            return counted, f"analysis.conv_macs failed ({exc!r}); using the output-shape count"
        if macs != counted:
            return counted, (f"analysis.conv_macs gives {macs}, the output shape gives "
                             f"{counted}; using the latter")
        return macs, None

    def make_inputs(self, case, dtype, rng):
        s, groups = case.shape, case.kwargs.get("groups", 1)
        kernel = _ntuple(s["kernel_size"], self.nd)
        x = rng.standard_normal((1, s["c_in"], *s["size"])).astype(dtype)
        # Scale like a default init so sums stay O(1) whatever the fan-in.
        fan_in = s["c_in"] // groups * math.prod(kernel)
        w = (rng.standard_normal((s["c_out"], s["c_in"] // groups, *kernel))
             / math.sqrt(fan_in)).astype(dtype)
        b = rng.standard_normal(s["c_out"]).astype(dtype)
        return x, w, b

    def fastconv_call(self, case, arrays, algorithm):
        fn = getattr(fastconv, case.op)
        x, w, b = arrays
        return lambda: fn(x, w, b, **case.kwargs, algorithm=algorithm)

    def torch_call(self, case, tensors, torch):
        """torch.nn.functional.conv{n}d; it has no padding_mode, so non-zero modes
        (and asymmetric padding) go through F.pad first, as torch.nn.Conv{n}d does."""
        F = torch.nn.functional
        fn = getattr(F, case.op)
        x, w, b = tensors
        kw = {k: v for k, v in case.kwargs.items() if k != "padding_mode"}
        mode = case.kwargs.get("padding_mode", "zeros")
        pairs = self._geometry(case)[3]
        if mode == "zeros" and all(bf == af for bf, af in pairs):
            kw["padding"] = tuple(bf for bf, _ in pairs)
            return lambda: fn(x, w, b, **kw)
        kw["padding"] = 0
        # F.pad lists (before, after) from the last axis backwards.
        flat = [p for pair in reversed(pairs) for p in pair]
        tmode = "constant" if mode == "zeros" else mode
        return lambda: fn(F.pad(x, flat, mode=tmode), w, b, **kw)


FAMILIES = {"conv1d": _Conv(1), "conv2d": _Conv(2), "conv3d": _Conv(3)}


# ------------------------------------------------------------ workload ----
def case_macs(name):
    """(multiply-adds of the case, a note when the count had to be worked around)."""
    case = CASES[name]
    return FAMILIES[case.op].macs(case)


def _import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


class Workload:
    """A case's arrays, built once (seeded), and zero-argument calls on them."""

    def __init__(self, name, dtype=np.float32, seed=0):
        self.name = name
        self.case = CASES[name]
        self.family = FAMILIES[self.case.op]
        self.dtype = np.dtype(dtype)
        self.arrays = self.family.make_inputs(self.case, self.dtype, np.random.default_rng(seed))

    def macs(self):
        """(MACs, note or None)."""
        return case_macs(self.name)

    def fastconv(self, algorithm, dtype=None):
        arrays = self.arrays if dtype is None else [a.astype(dtype) for a in self.arrays]
        return self.family.fastconv_call(self.case, arrays, algorithm)

    def torch(self, torch, dtype=None):
        arrays = self.arrays if dtype is None else [a.astype(dtype) for a in self.arrays]
        tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]
        call = self.family.torch_call(self.case, tensors, torch)
        return lambda: call().numpy()

    def reference(self, torch):
        """The float64 result and what computed it."""
        if torch is not None:
            with torch.no_grad():
                return self.torch(torch, np.float64)(), "torch float64"
        return self.fastconv("direct", np.float64)(), "fastconv direct float64"

    def tolerance(self):
        """Bound on max|y - ref| / max|ref|: rounding grows like sqrt(K) for a
        sum of K products; the factor leaves room for blocked summation orders,
        while a wrong or missing term (error ~ 1/sqrt(K)) is still caught."""
        eps = np.finfo(self.dtype).eps
        return 16 * eps * math.sqrt(self.family.reduction_length(self.case))


def relative_error(y, ref):
    y = np.asarray(y, dtype=np.float64)
    scale = max(float(np.max(np.abs(ref))), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(y - ref))) / scale


# ------------------------------------------------------------- command ----
def _split(values):
    """Flatten repeatable, comma-separated option values."""
    return [v.strip() for value in values or () for v in value.split(",") if v.strip()]


def add_arguments(parser):
    parser.description = ("Time the layer suite on fastconv's algorithms and torch (if "
                          "installed), after checking every result against float64.")
    parser.add_argument("--filter", action="append", metavar="SUBSTR",
                        help="only cases whose name contains SUBSTR (repeatable, or "
                             "comma-separated); cases: " + ", ".join(CASES))
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for fastconv, BLAS and torch "
                             "(default: fastconv.get_num_threads())")
    parser.add_argument("--repeat", type=int, default=None,
                        help=f"timed rounds per case (default 11, {QUICK_REPEAT} with --quick)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--algorithms", action="append", metavar="ALG",
                        help="fastconv algorithms to time (repeatable, or comma-separated; "
                             f"default all of {', '.join(fastconv.ALGORITHMS)})")
    parser.add_argument("--settle", type=float, default=50.0, metavar="MS",
                        help="untimed calls of a backend for this long before each timed "
                             "call, so the previous backend's idle threads stop competing "
                             "for cores (default 50)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: the first selected case only, few rounds")


def _select_cases(filters):
    if not filters:
        return list(CASES)
    return [name for name in CASES if any(f in name for f in filters)]


def _fmt_count(n):
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def _blas_limits(threads):
    """A threadpoolctl BLAS limit (im2col's GEMM runs on BLAS's own threads),
    or None and a note when threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None, ("note: threadpoolctl is not installed, so BLAS (algorithm='im2col') "
                      "uses its default thread count, not --threads")
    return threadpool_limits(limits=threads, user_api="blas"), None


def _time_rounds(calls, repeat, settle):
    """Seconds per timed call, per backend.

    Round r runs every backend in turn; the starting backend rotates so none
    always follows the same neighbour.  Before its timed call, a backend runs
    untimed for `settle` seconds (at least once): the previous backend's
    thread pool is still spinning for a while after its call (OpenBLAS for
    ~0.1 s) and would otherwise steal cores from this one, so what we measure
    is each backend's steady state, not the cost of switching pools.
    """
    names = list(calls)
    times = {name: [] for name in names}
    for r in range(repeat):
        for i in range(len(names)):
            name = names[(r + i) % len(names)]
            call = calls[name]
            settled = time.perf_counter() + settle
            call()
            while time.perf_counter() < settled:
                call()
            t0 = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - t0)
    return times


def _run_case(name, dtype, algorithms, torch, repeat, settle):
    """Check, then time one case.  Returns (rows, summary, ok)."""
    work = Workload(name, dtype)
    ref, _ = work.reference(torch)
    tol = work.tolerance()
    macs, macs_note = work.macs()
    if macs_note:
        print(f"  {name}: {macs_note}")

    calls, status, ok = {}, {}, True
    candidates = {alg: work.fastconv(alg) for alg in algorithms}
    if torch is not None:
        candidates["torch"] = work.torch(torch)
    for backend, call in candidates.items():
        try:
            y = call()  # also the warm-up call
        except ValueError as exc:
            if backend in ("direct", "torch"):
                status[backend], ok = f"FAILED: {exc}", False
            else:  # an algorithm that does not apply to this shape says so
                status[backend] = f"n/a: {exc}"
            continue
        except Exception as exc:
            status[backend], ok = f"FAILED: {type(exc).__name__}: {exc}", False
            continue
        if y.shape != ref.shape:
            status[backend], ok = f"FAILED: shape {y.shape}, reference {ref.shape}", False
            continue
        err = relative_error(y, ref)
        if not err <= tol:  # also catches NaN
            status[backend], ok = f"FAILED: rel err {err:.1e} > tol {tol:.1e}", False
            continue
        status[backend] = f"ok {err:.1e}"
        calls[backend] = call

    times = _time_rounds(calls, repeat, settle)
    med = {b: statistics.median(t) for b, t in times.items()}
    rows = []
    for backend in candidates:
        if backend in med:
            rows.append((backend, f"{med[backend] * 1e3:.3f}", f"{min(times[backend]) * 1e3:.3f}",
                         f"{2 * macs / med[backend] / 1e9:.1f}", status[backend]))
        else:
            rows.append((backend, "-", "-", "-", status[backend]))

    fc = {b: m for b, m in med.items() if b != "torch"}
    best = min(fc, key=fc.get) if fc else None
    ratio = fc[best] / med["torch"] if best and "torch" in med else None
    summary = (name, _fmt_count(macs), best, fc.get(best), med.get("torch"), ratio, ok)
    return rows, summary, ok


# Table columns: (title, width); a negative width left-aligns.
_CASE_COLUMNS = (("case", -16), ("backend", -8), ("median ms", 10), ("min ms", 10),
                 ("GFLOP/s", 8), ("check (rel err)", -1))
_SUMMARY_COLUMNS = (("case", -16), ("MACs", 6), ("best", -8), ("best ms", 10),
                    ("torch ms", 10), ("best/torch", 10))


def _row(cells, columns):
    return "  ".join(f"{c:{'<' if w < 0 else '>'}{abs(w)}}"
                     for c, (_, w) in zip(cells, columns)).rstrip()


def run(args):
    filters = _split(args.filter)
    names = _select_cases(filters)
    if not names:
        print(f"bench: no case matches {filters}; cases are: {', '.join(CASES)}",
              file=sys.stderr)
        return 2
    algorithms = _split(args.algorithms) or list(fastconv.ALGORITHMS)
    unknown = [a for a in algorithms if a not in fastconv.ALGORITHMS]
    if unknown:
        print(f"bench: unknown algorithm(s) {unknown}; this build offers "
              f"{', '.join(fastconv.ALGORITHMS)}", file=sys.stderr)
        return 2
    repeat = args.repeat if args.repeat is not None else (QUICK_REPEAT if args.quick else 11)
    if args.quick:
        names = names[:1]
    threads = args.threads if args.threads is not None else fastconv.get_num_threads()
    if threads < 1 or repeat < 1:
        print("bench: --threads and --repeat must be >= 1", file=sys.stderr)
        return 2

    fastconv.set_num_threads(threads)
    torch = _import_torch()
    if torch is not None:
        torch.set_num_threads(threads)
    limiter, blas_note = _blas_limits(threads)

    fastconv.show_config()
    users = "fastconv" + (", BLAS" if limiter is not None else "") + (
        ", torch" if torch is not None else "")
    print(f"bench: {len(names)} case(s), batch 1, {args.dtype}, {threads} thread(s) "
          f"({users}), median of {repeat} interleaved rounds")
    print("  torch: " + (f"{torch.__version__}, reference = torch float64" if torch is not None
                         else "not installed, reference = fastconv direct float64"))
    if blas_note:
        print("  " + blas_note)
    print("  check: max|y - ref| / max|ref| <= 16 * eps * sqrt(reduction length)")
    print(f"  each timed call follows {args.settle:g} ms of untimed calls of the same backend")
    print()

    print(_row([title for title, _ in _CASE_COLUMNS], _CASE_COLUMNS))
    print("-" * 80)
    summaries, all_ok, t_start = [], True, time.perf_counter()
    try:
        for name in names:
            rows, summary, ok = _run_case(name, np.dtype(args.dtype), algorithms, torch,
                                          repeat, args.settle / 1e3)
            all_ok &= ok
            summaries.append(summary)
            for i, row in enumerate(rows):
                print(_row((name if i == 0 else "",) + row, _CASE_COLUMNS))
            sys.stdout.flush()  # progress, when piped
    finally:
        if limiter is not None:
            limiter.restore_original_limits()

    print()
    print("summary: fastconv's fastest algorithm"
          + (" vs torch (best/torch = ratio of median times; < 1: fastconv is faster)"
             if torch is not None else ""))
    print(_row([title for title, _ in _SUMMARY_COLUMNS], _SUMMARY_COLUMNS))
    def ms(seconds):
        return "-" if seconds is None else f"{seconds * 1e3:.3f}"

    for name, macs, best, best_s, torch_s, ratio, ok in summaries:
        cells = (name, macs, best or "-", ms(best_s), ms(torch_s),
                 "-" if ratio is None else f"{ratio:.2f}")
        print(_row(cells, _SUMMARY_COLUMNS) + ("" if ok else "  CHECK FAILED"))
    print(f"\n{time.perf_counter() - t_start:.1f} s"
          + ("" if all_ok else "; some results did not match the reference (see above)"))
    return 0 if all_ok else 1
