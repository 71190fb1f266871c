"""Memory: no growth over 10,000 calls of every operation family, scratch within
its documented bound on large inputs, and MemoryError (never a crash) when an
allocation fails.  Whatever could crash the interpreter runs in a subprocess."""
import os
import subprocess
import sys
import textwrap

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))


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
