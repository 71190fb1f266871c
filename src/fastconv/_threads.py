"""Thread-count policy, Python side: FASTCONV_NUM_THREADS at import,
set_num_threads / get_num_threads.  The rule itself lives in csrc/fc_threads.c."""
import os
import warnings

from fastconv._ext import _runtime

__all__ = ["set_num_threads", "get_num_threads"]


def _read_env():
    """The FASTCONV_NUM_THREADS limit, or 0 when it is unset or invalid."""
    value = os.environ.get("FASTCONV_NUM_THREADS", "").strip()
    if not value:
        return 0
    try:
        n = int(value)
        if n < 1:
            raise ValueError
    except ValueError:
        warnings.warn(f"FASTCONV_NUM_THREADS={value!r} is not a positive integer; ignored",
                      RuntimeWarning, stacklevel=3)
        return 0
    return n


def set_num_threads(n):
    """Set the number of threads fastconv's kernels use (process-wide).

    Parameters
    ----------
    n : int or None
        Threads per call, >= 1.  None goes back to the default: the
        ``FASTCONV_NUM_THREADS`` / ``OMP_NUM_THREADS`` / all-cores rule.

    Notes
    -----
    A ``threadpoolctl.threadpool_limits`` OpenMP limit that is lower still wins
    in the thread that set it.  The BLAS path (``algorithm='im2col'``) uses
    BLAS's own threads, limited with ``threadpool_limits(user_api='blas')``.
    """
    from fastconv._validate import check_int
    if n is None:
        _runtime.set_thread_limit(_env_limit)
        return
    _runtime.set_thread_limit(check_int("set_num_threads", "n", n, minimum=1, maximum=2**31 - 1))


def get_num_threads():
    """The number of threads a fastconv kernel called from this thread would use."""
    return _runtime.num_threads()


def team_size(macs):
    """Threads for a call of `macs` multiply-adds (fewer for tiny calls)."""
    return _runtime.team_size(float(macs))


_env_limit = _read_env()
_runtime.set_thread_limit(_env_limit)
