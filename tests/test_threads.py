"""Thread-count policy: set/get_num_threads, the environment variables,
threadpoolctl limits, and calls from several Python threads at once."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastconv
from fastconv import _threads
from fastconv._ext import _runtime


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
