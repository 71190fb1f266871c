"""Thread-count policy: set/get_num_threads, the environment variables,
threadpoolctl limits, and calls from several Python threads at once; for every
operation (tests/op_catalog.py), forward and backward: the same bits for 1, 2
and 3 OpenMP threads and from 4 Python threads at once."""
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fastconv
from fastconv import _threads
from fastconv._ext import _runtime
from op_catalog import CASES, FAMILIES, case_runs, run_case

DTYPES = (np.float32, np.float64)
RUNS, RUN_IDS = case_runs()


def _run(code, **env):
    full = dict(os.environ)
    for key in ("FASTCONV_NUM_THREADS", "OMP_NUM_THREADS"):
        full.pop(key, None)
    full.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture
def restore_threads():
    yield
    fastconv.set_num_threads(None)


def test_set_and_get(restore_threads):
    fastconv.set_num_threads(1)
    assert fastconv.get_num_threads() == 1
    if _runtime.have_openmp():
        fastconv.set_num_threads(3)
        assert fastconv.get_num_threads() == 3
    fastconv.set_num_threads(None)
    assert fastconv.get_num_threads() >= 1


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-2, ValueError), ("2", TypeError),
                                      (1.0, TypeError), (True, TypeError)])
def test_set_num_threads_rejects(bad, exc):
    with pytest.raises(exc, match="n"):
        fastconv.set_num_threads(bad)


def test_small_calls_use_one_thread(restore_threads):
    fastconv.set_num_threads(2)
    assert _threads.team_size(10) == 1
    assert _threads.team_size(1e12) == fastconv.get_num_threads()


@pytest.mark.skipif(not _runtime.have_openmp(), reason="serial build has one thread")
def test_environment_variables():
    code = "import fastconv; print(fastconv.get_num_threads())"
    assert _run(code, FASTCONV_NUM_THREADS="3") == "3"
    assert _run(code, OMP_NUM_THREADS="3") == "3"
    # FASTCONV_NUM_THREADS wins over OMP_NUM_THREADS
    assert _run(code, FASTCONV_NUM_THREADS="2", OMP_NUM_THREADS="1") == "2"


def test_bad_environment_variable_warns():
    code = ("import warnings, sys\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    import fastconv\n"
            "print(any('FASTCONV_NUM_THREADS' in str(x.message) for x in w))")
    assert _run(code, FASTCONV_NUM_THREADS="many") == "True"


@pytest.mark.skipif(not _runtime.have_openmp(), reason="serial build has one thread")
@pytest.mark.parametrize("user_api", [None, "openmp"])
def test_threadpoolctl_limit_applies_in_a_running_program(restore_threads, user_api):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    fastconv.set_num_threads(2)
    assert fastconv.get_num_threads() == 2
    with threadpoolctl.threadpool_limits(limits=1, user_api=user_api):
        assert fastconv.get_num_threads() == 1
        assert _threads.team_size(1e12) == 1
    assert fastconv.get_num_threads() == 2


def test_threadpoolctl_sees_fastconv_openmp():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not _runtime.have_openmp():
        pytest.skip("serial build")
    apis = {info["user_api"] for info in threadpoolctl.threadpool_info()}
    assert "openmp" in apis


def test_calls_from_several_python_threads_match_serial_results():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8, 20, 20)).astype(np.float32)
    w = rng.standard_normal((12, 8, 3, 3)).astype(np.float32)
    expected = {mode: fastconv.conv2d(x, w, padding=1, padding_mode=mode)
                for mode in ("zeros", "reflect", "replicate", "circular")}
    expected_bwd = fastconv.conv2d_backward(np.ones((2, 12, 20, 20), np.float32), x, w,
                                            padding=1)
    errors = []

    def worker(mode):
        try:
            for _ in range(20):
                if not np.array_equal(fastconv.conv2d(x, w, padding=1, padding_mode=mode),
                                      expected[mode]):
                    errors.append(f"forward {mode} differs")
                got = fastconv.conv2d_backward(np.ones((2, 12, 20, 20), np.float32), x, w,
                                               padding=1)
                if not all(np.array_equal(a, b) for a, b in zip(got, expected_bwd)):
                    errors.append("backward differs")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(m,)) for m in expected]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_kernels_run_in_a_forked_child():
    """The pool's workers do not survive fork(); the child starts a fresh pool."""
    code = ("import os, numpy as np, fastconv\n"
            "fastconv.set_num_threads(2)\n"
            "x = np.random.default_rng(0).standard_normal((4, 16, 64, 64))\n"
            "ref = fastconv.max_pool2d(x, 3, 2, 1)\n"   # starts the parent's workers
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    same = all(np.array_equal(fastconv.max_pool2d(x, 3, 2, 1), ref)\n"
            "               for _ in range(3))\n"
            "    os._exit(0 if same else 1)\n"
            "_, status = os.waitpid(pid, 0)\n"
            "print(os.waitstatus_to_exitcode(status))\n")
    assert _run(code) == "0"


@pytest.mark.skipif(not _runtime.have_openmp(), reason="serial build has one thread")
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_one_thread_pool_per_process():
    """Every extension module runs its tasks on _runtime's pool: calls of all
    families at 3 threads start 2 workers in all, not 2 per module."""
    code = textwrap.dedent("""
        import os, numpy as np, fastconv
        fastconv.set_num_threads(3)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2, 16, 64, 64)).astype(np.float32)
        before = len(os.listdir("/proc/self/task"))
        w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
        fastconv.conv2d(x, w, padding=1, algorithm="direct")
        fastconv.depthwise_conv2d(x, w[:, :1], padding=1)
        fastconv.max_pool2d(x, 3, 2, 1)
        fastconv.upsample(x, scale_factor=2, mode="bilinear")
        fastconv.pad(x, 2, "reflect")
        fastconv.channel_shuffle(x, 4)
        print(len(os.listdir("/proc/self/task")) - before)
    """)
    assert _run(code) == "2"


def _kernels_of_every_family(rng):
    """One call per kernel family, each big enough for a 3-thread team."""
    x = rng.standard_normal((2, 16, 40, 36)).astype(np.float32)
    w = rng.standard_normal((24, 16, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((2, 24, 20, 18)).astype(np.float32)
    conv = dict(stride=2, padding=1, padding_mode="reflect")
    out = [fastconv.conv2d(x, w, **conv, algorithm=a) for a in ("direct", "gemm")]
    out += fastconv.conv2d_backward(gy, x, w, **conv, algorithm="direct")
    wd = rng.standard_normal((16, 1, 3, 3)).astype(np.float32)
    out += [fastconv.depthwise_conv2d(x, wd, padding=1),
            *fastconv.depthwise_conv2d_backward(x, x, wd, padding=1)]
    xb = rng.standard_normal((2, 16, 96, 96)).astype(np.float32)
    out += [fastconv.max_pool2d(xb, 3, 2, 1), fastconv.avg_pool2d_backward(
        fastconv.avg_pool2d(xb, 3, 2, 1), xb, 3, 2, 1)]
    out += [fastconv.pad(xb, ((2, 1), (0, 3)), "reflect"), fastconv.channel_shuffle(xb, 4),
            fastconv.upsample(xb, scale_factor=2, mode="bilinear")]
    return out


@pytest.mark.skipif(not _runtime.have_openmp(), reason="serial build has one thread")
def test_every_family_bitwise_identical_for_1_2_and_3_threads(restore_threads):
    """Which participant of the pool runs a task must not change any bit; 3
    threads on a 2-core machine also exercise a worker that joins late."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    results = []
    with threadpoolctl.threadpool_limits(limits=3, user_api="openmp"):
        for n in (1, 2, 3):
            fastconv.set_num_threads(n)
            assert _threads.team_size(1e12) == n
            results.append(_kernels_of_every_family(np.random.default_rng(7)))
    for n, res in zip((2, 3), results[1:]):
        for i, (one, many) in enumerate(zip(results[0], res)):
            assert one.tobytes() == many.tobytes(), f"call {i}: 1 and {n} threads differ"


# ------------------------------------------- every operation, every family ----
@pytest.fixture
def thread_limits():
    """An OpenMP limit set elsewhere in the process (torch.set_num_threads(1) by
    another test) would win over set_num_threads(3): lift it for the test.  Hold
    BLAS ('im2col') to one thread: its own thread counts are test_conv's, and
    OpenBLAS's pool is slow to share with the OpenMP teams on a small machine."""
    try:
        import threadpoolctl
    except ImportError:
        yield
        return
    with threadpoolctl.threadpool_limits(limits=3, user_api="openmp"), \
            threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def team_sizes(monkeypatch):
    """The team sizes fastconv's Python layer hands to the kernels, recorded."""
    seen = []
    original = _threads.team_size

    def record(work):
        seen.append(original(work))
        return seen[-1]

    monkeypatch.setattr(_threads, "team_size", record)
    return seen


@pytest.mark.skipif(not _runtime.have_openmp(), reason="serial build has one thread")
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case, mode", RUNS, ids=RUN_IDS)
def test_bitwise_identical_for_1_2_3_threads(case, mode, dtype, thread_limits,
                                             team_sizes, restore_threads):
    """Every output element is reduced by one thread in a fixed order, so the
    team size never changes a bit, forward or backward."""
    arrays = case.make(np.random.default_rng(1), dtype, mode, True)
    results = {}
    for n in (1, 2, 3):
        fastconv.set_num_threads(n)
        team_sizes.clear()
        results[n] = run_case(case, dtype, mode, arrays=arrays)
        # the inputs are big enough for a team of n threads to be used
        assert max(team_sizes) == n, f"team sizes {team_sizes} with {n} threads"
    for n in (2, 3):
        for i, (a, b) in enumerate(zip(results[1], results[n])):
            assert a.dtype == b.dtype and a.shape == b.shape
            assert a.tobytes() == b.tobytes(), (
                f"result {i}: 1 and {n} threads differ by up to "
                f"{np.max(np.abs(a.astype(np.float64) - b))}")


@pytest.mark.parametrize("family", FAMILIES)
def test_four_python_threads_match_a_serial_run(family, thread_limits):
    """All of a family's calls (both dtypes, every padding mode, forward and
    backward) from 4 Python threads at once, each thread in its own order, give
    the bits of a serial run: kernels release the GIL and share no state."""
    runs = [(c, m, dt) for c, m in RUNS if c.family == family for dt in DTYPES]
    inputs = [c.make(np.random.default_rng(i), dt, m, True) for i, (c, m, dt) in
              enumerate(runs)]
    expected = [run_case(c, dt, m, arrays=a) for (c, m, dt), a in zip(runs, inputs)]
    errors = []
    start = threading.Barrier(4)

    def worker(k):
        try:
            start.wait()
            order = [(i + k * len(runs) // 4) % len(runs) for i in range(len(runs))]
            for _ in range(2):
                for i in order:
                    c, m, dt = runs[i]
                    got = run_case(c, dt, m, arrays=inputs[i])
                    if any(a.tobytes() != b.tobytes() for a, b in zip(got, expected[i])):
                        errors.append(f"thread {k}: {c.name} {m} {np.dtype(dt).name}")
        except Exception as exc:  # reported below
            errors.append(f"thread {k}: {exc!r}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a Python thread hung"
    assert not errors, errors[:5]


EXTENSIONS = ("_conv", "_depthwise", "_pool", "_upsample", "_pad", "_shuffle", "_blas")


@pytest.mark.skipif(not _runtime.have_openmp(), reason="serial build has one thread")
def test_limits_change_the_teams_of_a_running_program():
    """In one running process, threadpoolctl's OpenMP limit and set_num_threads
    decide how many OpenMP threads every operation really starts: counted as OS
    threads (libgomp keeps a team's threads alive, so the count only grows)."""
    pytest.importorskip("threadpoolctl")
    code = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import numpy as np, threadpoolctl, fastconv
        from op_catalog import CASES, run_case

        def os_threads():
            return len(os.listdir("/proc/self/task"))

        def run_all(big):
            for case in CASES:
                run_case(case, np.float32, case.modes[0], big=big)

        fastconv.set_num_threads(3)
        run_all(False)              # loads BLAS (and its threads); tiny: one thread
        base = os_threads()
        with threadpoolctl.threadpool_limits(1, user_api="openmp"):
            run_all(True)
            print(os_threads() - base)
        fastconv.set_num_threads(2)
        run_all(True)
        print(os_threads() - base)
        fastconv.set_num_threads(3)
        run_all(True)
        print(os_threads() - base)
    """)
    extra = [int(v) for v in _run(code, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="1").split()]
    # Each extension module links its own copy of the kernels and so has its own
    # pool (csrc/fc_parallel.h): a pool starts nt - 1 workers, so with k pools
    # in use the counts are 0, k and 2k.
    pools = extra[1]
    assert extra == [0, pools, 2 * pools] and 1 <= pools <= len(EXTENSIONS), (
        f"worker threads started under limit 1, then with 2 and 3 threads: {extra} "
        f"(expected 0, k, 2k for k pools, 1 <= k <= {len(EXTENSIONS)})")
