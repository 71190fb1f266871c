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
