"""Convolution layers of real networks (the case table of ``python -m fastconv
bench``, fastconv._bench.CASES) per algorithm and thread count, float32, batch 1."""
import statistics
import time

import numpy as np

import fastconv
from fastconv._bench import Workload, case_macs, cases_of

from .common import LimitedParamBenchmark, ThreadLimit

THREADS = [1, 2]
# The plain convolutions of the shared table (other families: bench_*.py).
CONV_CASES = cases_of("conv1d", "conv2d", "conv3d")


class ConvBase(LimitedParamBenchmark):
    """One layer, built in setup; subclasses add what is measured."""
    params = [CONV_CASES, list(fastconv.ALGORITHMS), THREADS]
    param_names = ["case", "algorithm", "threads"]
    # 11 cases x 3 algorithms x 2 thread counts: a seeded subset of 48 runs.
    max_combinations = 48
    # A first call in setup warms caches and thread pools, and turns an
    # algorithm that does not apply to the shape into a skip.
    call_in_setup = True

    def setup(self, case, algorithm, threads):
        super().setup(case, algorithm, threads)
        self.work = Workload(case, np.float32)
        self.conv = self.work.fastconv(algorithm)
        self.threads = ThreadLimit(threads)
        if self.call_in_setup:
            try:
                self.conv()
            except ValueError as exc:
                self.threads.restore()
                raise NotImplementedError(f"{algorithm} does not apply: {exc}") from None

    def teardown(self, case, algorithm, threads):
        self.threads.restore()


class ConvForward(ConvBase):
    def time_conv(self, case, algorithm, threads):
        self.conv()

    def track_gflops(self, case, algorithm, threads):
        """Achieved GFLOP/s (2 flops per multiply-add) over the median of a few
        calls; the same information as time_conv, on a scale comparable
        across layers."""
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            self.conv()
            times.append(time.perf_counter() - t0)
        return 2 * case_macs(case)[0] / statistics.median(times) / 1e9

    track_gflops.unit = "GFLOP/s"


class ConvPeakMem(ConvBase):
    """Peak memory of the largest layer: im2col's column buffer against the
    direct kernel.  peakmem_reference is setup alone (arrays, imports), to be
    subtracted, as memory already used by setup counts towards every peak."""
    params = [["c2d_vgg_112"], list(fastconv.ALGORITHMS), THREADS]
    call_in_setup = False  # the peak must come from the measured call

    def peakmem_conv(self, case, algorithm, threads):
        self.conv()

    def peakmem_reference(self, case, algorithm, threads):
        pass


class ConvMACs:
    """Multiply-adds per layer (fastconv.analysis.conv_macs when available):
    the yardstick behind track_gflops, tracked so that a change shows up."""
    params = [CONV_CASES]
    param_names = ["case"]

    def track_macs(self, case):
        return case_macs(case)[0]

    track_macs.unit = "MACs"
