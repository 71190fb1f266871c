"""Memory: no growth over 10,000 calls of every operation family, scratch within
its documented bound on large inputs, and MemoryError (never a crash) when an
allocation fails.  Whatever could crash the interpreter runs in a subprocess."""
import ctypes
import ctypes.util
import gc
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from op_catalog import CASES, FAMILIES, case_runs, run_case

TESTS = os.path.dirname(os.path.abspath(__file__))
DTYPES = (np.float32, np.float64)


def run_python(code, timeout=300, **env):
    """Run `code` in a fresh interpreter (tests/ importable); its stdout, after
    checking that it exited cleanly (a crash or a hang fails the test)."""
    full = dict(os.environ, PYTHONPATH=os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")]))
    full.update(env)
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full,
                         capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, (f"exit status {res.returncode}\nstdout:\n{res.stdout[-2000:]}"
                                 f"\nstderr:\n{res.stderr[-4000:]}")
    return res.stdout


# ------------------------------------------------------ failed allocations ----
def test_pool_window_tables_beyond_the_address_space_raise_memory_error():
    """The pooling kernels' per-call window tables grow with kernel_size; a
    window of 2**61 taps needs more bytes than size_t holds.  The kernels (here
    called directly, whatever the Python layer lets through) report that as an
    allocation failure, which the wrapper turns into MemoryError."""
    out = run_python("""
        import numpy as np
        from fastconv import _validate
        from fastconv._ext import _pool
        k = 2**61
        spec = _validate.PoolSpec(n=1, c=1, in_size=(1, 1, 5), out_size=(1, 1, 1),
                                  kernel=(1, 1, k), stride=(1, 1, k), dilation=(1, 1, 1),
                                  padding=(0, 0, k // 2), count_include_pad=True, work=5)
        x = np.zeros((1, 1, 1, 1, 5))
        g = np.ones((1, 1, 1, 1, 1))
        calls = {
            "max_pool_fwd": lambda: _pool.max_pool_fwd(x, np.empty_like(g), None, spec, 1, 0),
            "max_pool_bwd": lambda: _pool.max_pool_bwd(x, g, np.empty_like(x), spec, 1, 0),
            "avg_pool_fwd": lambda: _pool.avg_pool_fwd(x, np.empty_like(g), spec, 1, 0),
            "avg_pool_bwd": lambda: _pool.avg_pool_bwd(g, np.empty_like(x), spec, 1, 0),
        }
        for name, call in calls.items():
            try:
                call()
                print(name, "returned")
            except MemoryError as exc:
                print(name, "MemoryError", exc)
    """)
    lines = out.splitlines()
    assert len(lines) == 4 and all(" MemoryError " in line for line in lines), out


def test_failed_allocations_raise_memory_error_and_leave_no_damage():
    """Every operation, forward and backward, with the address space capped at
    what the process already uses (and 4 MiB more): each call returns or raises
    MemoryError, never crashes; the kernels' own allocation failures surface as
    MemoryError through their status code; and once the cap is lifted, every
    call gives its original bits again.  The malloc settings make blocks of
    128 KiB or more fresh mappings and give freed heap back at once, so under
    the cap most allocations, Python's and the kernels', really fail.  The
    kernels' scratch cache is off (FASTCONV_KEEP_SCRATCH=0), so their blocks are
    allocated afresh under the cap too."""
    if sys.platform != "linux":
        pytest.skip("RLIMIT_AS is the Linux address-space limit")
    out = run_python(f"""
        import json, resource, sys
        sys.path.insert(0, {TESTS!r})
        import numpy as np, fastconv
        from op_catalog import CASES, upstream_gradient
        fastconv.set_num_threads(2)
        calls = []
        for case in CASES:
            mode = case.modes[0]
            args, kw, fwd_kw = case.make(np.random.default_rng(0), np.float32, mode, True)
            fwd_kw.pop("return_indices", None)
            y = case.forward(*args, **kw, **fwd_kw)
            out, g = np.ones_like(y), upstream_gradient(y)
            calls.append(lambda c=case, a=args, k=kw, f=fwd_kw, o=out:
                         c.forward(*a, **k, **f, out=o))
            calls.append(lambda c=case, a=args, k=kw, g=g: c.backward(g, *a, **k))
        # a convolution whose im2col workspace (8 MiB) does not fit in 4 MiB
        x = np.ones((1, 32, 192, 192), np.float32)
        w, o = np.ones((32, 32, 3, 3), np.float32), np.empty_like(x)
        calls.append(lambda: fastconv.conv2d(x, w, padding=1, algorithm="im2col", out=o))

        def flat(result):
            items = result if isinstance(result, tuple) else (result,)
            return [a.copy() for a in items if a is not None]

        expected = [flat(call()) for call in calls]
        outcome = np.zeros((2, len(calls)), np.int64)  # 0 returned, 1 MemoryError (2 from a
        for row, headroom in enumerate((0, 4 * 2**20)):  # kernel's status), 3 anything else
            with open("/proc/self/status") as f:
                vm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize:"))
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            resource.setrlimit(resource.RLIMIT_AS, (vm + headroom, hard))
            for i, call in enumerate(calls):
                try:
                    call()
                except MemoryError as exc:
                    outcome[row, i] = 2 if "kernel's scratch" in exc.args[0] else 1
                except BaseException:
                    outcome[row, i] = 3
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        same = [all(np.array_equal(a, b) for a, b in zip(flat(call()), e))
                for call, e in zip(calls, expected)]
        print(json.dumps(dict(outcome=outcome.tolist(), same=same)))
    """, OPENBLAS_NUM_THREADS="1", MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="0",
                     MALLOC_TOP_PAD_="0", FASTCONV_KEEP_SCRATCH="0")
    r = json.loads(out.splitlines()[-1])
    outcome = np.array(r["outcome"])
    assert not (outcome == 3).any(), f"calls raising something else: {np.argwhere(outcome == 3)}"
    assert (outcome[0] == 2).sum() >= 5, outcome      # the kernels' status path is exercised
    assert outcome[1, -1] == 2, "im2col workspace beyond the cap: expected the kernel's MemoryError"
    assert all(r["same"]), "a call differs after failed allocations"


def test_scratch_is_reused_by_the_next_call():
    """csrc/fc_scratch.h: a kernel's large scratch blocks stay with the calling
    thread, so a repeated call needs no new memory: with the address space capped
    at what the process uses after one call plus 4 MiB, the same im2col convolution (8 MiB
    of workspace) runs again and gives the same bits; with the cache off it
    raises the kernel's MemoryError."""
    if sys.platform != "linux":
        pytest.skip("RLIMIT_AS is the Linux address-space limit")
    code = f"""
        import resource, numpy as np, fastconv
        x = np.ones((1, 32, 192, 192), np.float32)
        w, o = np.ones((32, 32, 3, 3), np.float32), np.empty_like(x)
        first = fastconv.conv2d(x, w, padding=1, algorithm="im2col", out=o).copy()
        with open("/proc/self/status") as f:
            vm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize:"))
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (vm + 4 * 2**20, hard))
        try:
            again = fastconv.conv2d(x, w, padding=1, algorithm="im2col", out=o)
            print("same" if np.array_equal(again, first) else "differs")
        except MemoryError as exc:
            print("MemoryError", "kernel's scratch" in exc.args[0])
    """
    env = dict(OPENBLAS_NUM_THREADS="1", MALLOC_MMAP_THRESHOLD_="131072",
               MALLOC_TRIM_THRESHOLD_="0", MALLOC_TOP_PAD_="0")
    assert run_python(code, **env).splitlines()[-1] == "same"
    assert run_python(code, **env, FASTCONV_KEEP_SCRATCH="0").splitlines()[-1] == \
        "MemoryError True"


# ------------------------------------------------------------------ leaks ----
# Over 10,000 calls (5,000 forward and 5,000 backward, cycling through every
# case of the family: padding modes, algorithms, dimensions, both dtypes) after
# 1,000 warm-up calls, the resident set may grow by at most RSS_TOLERANCE, and,
# where glibc reports it, the C heap in use by at most HEAP_TOLERANCE: a leak of
# 8 bytes per call (10,000 * 8 = 80 KB) is caught by the latter, one of the
# smallest result arrays (>= 208 bytes per call) by the former.
CALLS = 10_000
RSS_TOLERANCE = 2 * 2**20
HEAP_TOLERANCE = 64 * 2**10


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _mallinfo2():
    """glibc's mallinfo2 (all arenas), or None elsewhere."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _Mallinfo2
    return fn


MALLINFO2 = _mallinfo2()


def heap_in_use():
    """Bytes of C heap in use (malloc'ed and not freed, mmap'ed chunks included)."""
    info = MALLINFO2()
    return info.uordblks + info.hblkhd


def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def blas_one_thread():
    """OpenBLAS's pool ('im2col') is slow to share a loaded 2-core machine with
    OpenMP teams; held to one thread, the calls are the same."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        yield


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
@pytest.mark.parametrize("family", FAMILIES)
def test_no_growth_over_10000_calls(family, blas_one_thread):
    runs = [(c, m, dt) for c, m in case_runs()[0] if c.family == family for dt in DTYPES]
    inputs = [c.make(np.random.default_rng(i), dt, m, False) for i, (c, m, dt) in
              enumerate(runs)]

    def call(count):
        for i in range(count // 2):            # run_case: one forward, one backward call
            c, m, dt = runs[i % len(runs)]
            run_case(c, dt, m, arrays=inputs[i % len(runs)])

    call(1000)
    gc.collect()
    rss0, heap0 = resident(), MALLINFO2 and heap_in_use()
    call(CALLS)
    gc.collect()
    rss_growth = resident() - rss0
    assert rss_growth <= RSS_TOLERANCE, f"resident set grew by {rss_growth} bytes"
    if MALLINFO2:
        heap_growth = heap_in_use() - heap0
        assert heap_growth <= HEAP_TOLERANCE, f"C heap in use grew by {heap_growth} bytes"


# ---------------------------------------------------------------- scratch ----
# Peak memory of one call, measured in a child process: the peak resident set
# (VmHWM, reset through /proc/self/clear_refs) minus the resident set before the
# call.  Forward calls write into a touched out= array, so only scratch counts;
# for backward calls the results' bytes are subtracted.  Every call runs once
# before it is measured (BLAS buffers, thread stacks); MALLOC_MMAP_THRESHOLD_
# makes every block of 128 KiB or more a fresh mapping, returned when freed.
MEASURE = """
import gc, json, sys
import numpy as np, fastconv

def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key))

def peak(fn):
    fn()
    gc.collect()
    before = status("VmRSS:")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    result = fn()
    arrays = result if isinstance(result, tuple) else (result,)
    return status("VmHWM:") - before, sum(a.nbytes for a in arrays if a is not None)
"""
MIB = 2**20
SLACK = 1 * MIB       # Python objects, small tables, page granularity


def measure(code):
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("needs Linux /proc/self/clear_refs")
    out = run_python(MEASURE + textwrap.dedent(code), MALLOC_MMAP_THRESHOLD_="131072",
                     OPENBLAS_NUM_THREADS="1")
    return json.loads(out.splitlines()[-1])


def test_im2col_workspace_stays_within_8_mib():
    """README: im2col works in tiles whose workspace is at most 8 MiB, however
    large the full column matrix (here 42 MB)."""
    r = measure("""
        from fastconv import _validate
        from fastconv._ext import _blas
        x = np.random.default_rng(0).standard_normal((1, 32, 192, 192)).astype(np.float32)
        w = np.ones((32, 32, 3, 3), np.float32)
        out = np.ones((1, 32, 192, 192), np.float32)
        g = np.ones_like(out)
        fwd, _ = peak(lambda: fastconv.conv2d(x, w, padding=1, algorithm="im2col", out=out))
        bwd, results = peak(lambda: fastconv.conv2d_backward(g, x, w, padding=1,
                                                             algorithm="im2col"))
        spec = _validate.check_conv("conv2d", 2, x, w, None, 1, 1, 1, 1, "zeros", None).spec
        print(json.dumps(dict(fwd=fwd, bwd=bwd - results, workspace=_blas.workspace_bytes(spec, 4),
                              full=32 * 9 * 192 * 192 * 4)))
    """)
    assert r["full"] > 5 * 8 * MIB                       # tiling is needed at all
    assert r["workspace"] <= 8 * MIB
    assert r["fwd"] <= 8 * MIB + SLACK, r
    assert r["bwd"] <= 8 * MIB + SLACK, r


# Backward passes that store more than bounded scratch (README, Memory): each
# rule gives the bytes they may add when the batch grows, from the child's
# measurements of the small and the large call.
BACKWARD_STORAGE = {
    "max_pool": lambda d: 8 * (d["out"][1] - d["out"][0]),            # int64 argmax per output
    "pyramid": lambda d: 2 * (d["x"][1] - d["x"][0]),                  # per-level gradients
    "separable": lambda d: 2 * (d["mid"][1] - d["mid"][0]),            # depthwise output, its grad
}
BATCH_SCALE = 2


@pytest.fixture(scope="module")
def scratch_by_batch():
    """Peak scratch of every catalog case (first padding mode, float32) for its
    big input and for BATCH_SCALE times its batch."""
    return measure(f"""
        sys.path.insert(0, {TESTS!r})
        from op_catalog import CASES, upstream_gradient
        fastconv.set_num_threads(2)
        stats = {{}}
        for case in CASES:
            mode = case.modes[0]
            args, kw, fwd_kw = case.make(np.random.default_rng(0), np.float32, mode, True)
            fwd_kw.pop("return_indices", None)
            d = stats[case.name] = {{k: [] for k in ("fwd", "bwd", "x", "out", "mid")}}
            for scale in (1, {BATCH_SCALE}):
                a = (np.concatenate([args[0]] * scale),) + args[1:]
                y = case.forward(*a, **kw, **fwd_kw)
                out = np.ones_like(y)
                g = upstream_gradient(y)
                d["fwd"].append(peak(lambda: case.forward(*a, **kw, **fwd_kw, out=out))[0])
                used, results = peak(lambda: case.backward(g, *a, **kw))
                d["bwd"].append(used - results)
                d["x"].append(a[0].nbytes)
                d["out"].append(y.size)
                if case.family == "separable":     # bytes of the depthwise output
                    d["mid"].append(y.size // y.shape[1] * a[1].shape[0] * y.itemsize)
        print(json.dumps(stats))
    """)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_scratch_does_not_grow_with_the_batch(case, scratch_by_batch):
    """Forward scratch is bounded (tiles, per-thread panels, tables), so a batch
    twice as large needs no more of it; backward scratch neither, beyond the
    documented per-output storage of a few passes."""
    d = scratch_by_batch[case.name]
    assert d["fwd"][1] - d["fwd"][0] <= SLACK, d
    allowed = SLACK + BACKWARD_STORAGE.get(case.family, lambda d: 0)(d)
    assert d["bwd"][1] - d["bwd"][0] <= allowed, (d, allowed)


def test_python_temporaries_are_reused_per_thread():
    """fastconv._workspace: a call's NumPy temporary reuses this thread's buffer
    (no page faults for the next call) and never another thread's."""
    import threading
    from fastconv import _workspace
    a = _workspace.temporary((64, 100), np.float32)
    b = _workspace.temporary((10, 7), np.float64)
    assert a.shape == (64, 100) and a.dtype == np.float32 and a.flags.c_contiguous
    assert b.shape == (10, 7) and b.dtype == np.float64 and np.shares_memory(a, b)
    other = []
    t = threading.Thread(target=lambda: other.append(_workspace.temporary((64, 100), np.float32)))
    t.start()
    t.join()
    assert not np.shares_memory(a, other[0])
    big = _workspace.temporary((1000, 1000), np.float32)   # grows when asked for more
    assert big.nbytes == 4_000_000
    for t in (a, b, other[0], big, _workspace.temporary((3,), np.float32)):
        assert t.ctypes.data % _workspace.ALIGN == 0      # on a cache line


def test_large_results_reuse_blocks_of_dead_arrays():
    """A large result (>= 256 KiB) is built on a block that returns to a small
    free list when its last array dies, so the next result of that size does not
    fault fresh pages in; a live array's block (or a view's) is never handed out
    again, and small results stay plain np.empty."""
    import fastconv
    from fastconv._ext import _runtime
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 64, 112, 112)).astype(np.float32)
    expected = x.reshape(1, 64, 56, 2, 56, 2).max(axis=(3, 5))
    a = fastconv.max_pool2d(x, 2, 2)                   # 0.8 MB
    b = fastconv.max_pool2d(x, 2, 2)
    assert not np.shares_memory(a, b)                  # both alive: two blocks
    assert a.flags.writeable and a.flags.c_contiguous and a.ctypes.data % 64 == 0
    address = a.ctypes.data
    view = a[0, :4]
    del a
    gc.collect()
    c = fastconv.max_pool2d(x, 2, 2)
    assert c.ctypes.data != address                    # the view keeps a's block
    np.testing.assert_array_equal(view, expected[0, :4])
    del view
    gc.collect()
    kept = _runtime.kept_result_bytes()
    assert kept >= expected.nbytes
    d = fastconv.max_pool2d(x, 2, 2)
    assert d.ctypes.data == address                    # now reused
    assert _runtime.kept_result_bytes() < kept           # taken off the free list
    np.testing.assert_array_equal(d, expected)
    d[...] = 0                                         # writing one result leaves the others
    np.testing.assert_array_equal(b, expected)
    np.testing.assert_array_equal(c, expected)
    small = fastconv.max_pool2d(x[:, :4], 2, 2)
    assert small.flags.owndata


def test_results_are_not_kept_with_keep_scratch_off():
    code = textwrap.dedent("""
        import numpy as np, fastconv
        from fastconv._ext import _runtime
        x = np.ones((1, 64, 112, 112), np.float32)
        y = fastconv.max_pool2d(x, 2, 2)
        assert y.flags.owndata
        del y
        assert _runtime.kept_result_bytes() == 0
        print("ok")
    """)
    env = dict(os.environ, FASTCONV_KEEP_SCRATCH="0")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
