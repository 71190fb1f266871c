"""What the asv suites share: grid sizes, thread limits, and the base class that
runs one case of fastconv's case table (``fastconv._bench.CASES``, the stable
layer names of ``python -m fastconv bench``).

Grids are small by default, so that every benchmark runs once in a few minutes
(``asv run --quick``, as CI does).  ``FASTCONV_ASV_FULL=1`` selects the full
grids: every case of each family, and torch as a further backend.  Compare
runs made with the same setting.
"""
import os
import statistics
import time

import numpy as np

import fastconv
from fastconv._bench import CASES, FAMILIES, Workload, case_macs

FULL = os.environ.get("FASTCONV_ASV_FULL", "0") not in ("", "0")
THREADS = [1, 2]


def pick(default, full):
    """The default grid, or the full one under FASTCONV_ASV_FULL=1."""
    return list(full if FULL else default)


def backends(cases):
    """fastconv's algorithms for ops that offer the choice, else 'fastconv';
    plus 'torch' in the full grid (skipped when torch is not installed)."""
    takes = {FAMILIES[CASES[name].op].takes_algorithm for name in cases}
    if len(takes) != 1:
        raise ValueError(f"cases {cases} mix ops with and without an algorithm choice")
    ours = list(fastconv.ALGORITHMS) if takes.pop() else ["fastconv"]
    return ours + pick([], ["torch"])


def _winograd_applies(case):
    """README's rule for algorithm='winograd' (fastconv._select.winograd_refusal):
    a 2-D or 3-D convolution, not transposed, 3x3 with stride 1 and dilation 1
    on the last two axes.  Checked before the call, because peakmem_call must
    not run the call in setup."""
    family = FAMILIES[case.op]
    op = case.op.replace("_backward", "")
    if not op.startswith(("conv2d", "conv3d")):
        return False
    fwd = family.forward if hasattr(family, "forward") else family
    kernel, stride, dilation, _ = fwd._geometry(case._replace(op=op))
    return kernel[-2:] == (3, 3) and stride[-2:] == (1, 1) and dilation[-2:] == (1, 1)


class ThreadLimit:
    """Run fastconv on `threads` threads, and BLAS too (algorithm='im2col' runs
    its GEMM on BLAS's own threads).  restore() undoes both."""

    def __init__(self, threads):
        fastconv.set_num_threads(threads)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # BLAS then keeps its default thread count
            self._blas = None
        else:
            self._blas = threadpool_limits(limits=threads, user_api="blas")

    def restore(self):
        fastconv.set_num_threads(None)
        if self._blas is not None:
            self._blas.restore_original_limits()


def _import_torch():
    try:
        import torch
    except ImportError:
        raise NotImplementedError("torch is not installed") from None
    return torch


class _CaseBenchmark:
    """One case on one backend (a fastconv algorithm, 'fastconv' or 'torch') and
    thread count, float32.  Subclasses of _Timed, _TimedGflops and _PeakMem
    (which add what is measured) set params = [cases, backends(cases), THREADS].

    setup builds the arrays (seeded) and the call, then calls it once: that
    warms caches and thread pools, and turns an algorithm that does not apply
    to the shape (ValueError) into a skip.
    """
    param_names = ["case", "backend", "threads"]
    timeout = 120
    call_in_setup = True

    def setup(self, case, backend, threads):
        work = Workload(case, np.float32)
        self._torch_threads = None
        if backend == "torch":
            torch = _import_torch()
            self._torch_threads = torch.get_num_threads()
            torch.set_num_threads(threads)
            self.call = work.torch(torch)
        else:
            self.call = work.fastconv(backend)
        self.threads = ThreadLimit(threads)
        if backend == "winograd" and not _winograd_applies(CASES[case]):
            self.teardown(case, backend, threads)
            raise NotImplementedError("winograd does not apply to this shape")
        if self.call_in_setup:
            try:
                self.call()
            except ValueError as exc:
                self.teardown(case, backend, threads)
                raise NotImplementedError(f"{backend} does not apply: {exc}") from None

    def teardown(self, case, backend, threads):
        self.threads.restore()
        if self._torch_threads is not None:
            _import_torch().set_num_threads(self._torch_threads)


class _Timed(_CaseBenchmark):
    def time_call(self, case, backend, threads):
        self.call()


def median_seconds(call, min_calls=3, min_seconds=0.1):
    """Median time of at least `min_calls` calls lasting `min_seconds` in all."""
    times = []
    while len(times) < min_calls or sum(times) < min_seconds:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class _TimedGflops(_Timed):
    """time_call, and track_gflops: achieved GFLOP/s, 2 flops per multiply-add
    (fastconv.analysis counts) over the median time of a short loop of calls:
    time_call on a scale comparable across layers and with the machine's peak."""

    def track_gflops(self, case, backend, threads):
        return 2 * case_macs(case)[0] / median_seconds(self.call) / 1e9

    track_gflops.unit = "GFLOP/s"


class _PeakMem(_CaseBenchmark):
    """peakmem_call, and peakmem_reference = setup alone (arrays, imports), to be
    subtracted, as memory already used by setup counts towards every peak."""
    call_in_setup = False  # the peak must come from the measured call

    def peakmem_call(self, case, backend, threads):
        self.call()

    def peakmem_reference(self, case, backend, threads):
        pass
