"""Helpers shared by the asv suites: seeded subsets of large grids, thread limits."""
import itertools
import random

import fastconv


class LimitedParamBenchmark:
    """Base for benchmarks whose parameter grid may grow large.

    At most `max_combinations` points of the grid run: all of them while the
    grid is that small, else a subset drawn with a fixed seed, so that every
    run and machine measures the same points.  The others are skipped (asv
    shows them as skipped) by raising NotImplementedError from setup().
    """
    max_combinations = None
    subset_seed = 20240601

    @classmethod
    def _subset(cls):
        # Cached per class: subclasses with other params get their own subset.
        if cls.__dict__.get("_subset_cache") is None:
            grid = list(itertools.product(*cls.params))
            if cls.max_combinations is not None and len(grid) > cls.max_combinations:
                grid = random.Random(cls.subset_seed).sample(grid, cls.max_combinations)
            cls._subset_cache = frozenset(grid)
        return cls._subset_cache

    def setup(self, *params):
        if params not in self._subset():
            raise NotImplementedError("not in the seeded subset of this grid")


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


def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


def backends(cases):
    """The backends of a group of cases: fastconv's algorithms when the op has
    the choice (else 'fastconv'), then 'torch' (skipped when not installed)."""
    from fastconv._bench import CASES, FAMILIES
    algo = any(FAMILIES[CASES[c].op].takes_algorithm for c in cases)
    return (list(fastconv.ALGORITHMS) if algo else ["fastconv"]) + ["torch"]


class _CaseBenchmark(LimitedParamBenchmark):
    """Base of the per-family suites: one case of ``fastconv._bench.CASES`` on
    one backend (a fastconv algorithm, 'fastconv', or 'torch') and thread count,
    float32.  Subclasses set params = [cases, backends(cases), THREADS].

    setup builds the arrays and the call; a first call warms caches and thread
    pools, and turns an algorithm that does not apply (ValueError) or a missing
    torch into a skip.
    """
    param_names = ["case", "backend", "threads"]
    max_combinations = 48
    call_in_setup = True

    def setup(self, case, backend, threads):
        super().setup(case, backend, threads)
        from fastconv._bench import Workload
        import numpy as np
        self.work = Workload(case, np.float32)
        if backend == "torch":
            torch = torch_or_none()
            if torch is None:
                raise NotImplementedError("torch is not installed")
            self._torch_threads = torch.get_num_threads()
            torch.set_num_threads(threads)
            self.call = self.work.torch(torch)
        else:
            if backend not in self.work.backends(fastconv.ALGORITHMS) and backend != "fastconv":
                raise NotImplementedError(f"{case} has no algorithm choice")
            self.call = self.work.fastconv(backend)
        self.threads = ThreadLimit(threads)
        if self.call_in_setup:
            try:
                self.call()
            except ValueError as exc:
                self.teardown(case, backend, threads)
                raise NotImplementedError(f"{backend} does not apply: {exc}") from None

    def teardown(self, case, backend, threads):
        self.threads.restore()
        if backend == "torch":
            torch_or_none().set_num_threads(self._torch_threads)

    def time_call(self, case, backend, threads):
        self.call()


class _GflopsMixin:
    """track_gflops: achieved GFLOP/s (2 flops per multiply-add) over the median
    of a few calls; time_call on a scale comparable across layers."""

    def track_gflops(self, case, backend, threads):
        import statistics
        import time
        from fastconv._bench import case_macs
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            self.call()
            times.append(time.perf_counter() - t0)
        return 2 * case_macs(case)[0] / statistics.median(times) / 1e9

    track_gflops.unit = "GFLOP/s"


class _PeakMemMixin:
    """peakmem_call, and peakmem_reference = setup alone (arrays, imports), to be
    subtracted, as memory already used by setup counts towards every peak."""
    call_in_setup = False  # the peak must come from the measured call

    def peakmem_call(self, case, backend, threads):
        self.call()

    def peakmem_reference(self, case, backend, threads):
        pass
