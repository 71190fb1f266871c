# Thread limit, OpenMP availability and SIMD paths of the compiled library.
from fastconv._ext.fc cimport *

from cpython.pycapsule cimport PyCapsule_New

fc_threads_init()

# The process's one thread pool: every other extension module runs its kernels'
# tasks there (_share_pool.pxi; why in csrc/fc_parallel.h).
POOL = PyCapsule_New(<void *>fc_parallel_own_pool(), "fastconv._ext._runtime.POOL", NULL)

ISA_NAMES = ("baseline", "avx2", "avx512")


def set_thread_limit(int n):
    """Set the process-wide thread limit (n >= 1), or clear it (n <= 0)."""
    fc_set_thread_limit(n)


def get_thread_limit():
    """The limit set by set_thread_limit, or 0 when none is set."""
    return fc_get_thread_limit()


def num_threads():
    """Team size a kernel called from this thread would use."""
    return fc_num_threads()


def team_size(double work):
    """Team size for a call of `work` multiply-adds made from this thread."""
    return fc_team_size(work)


def have_openmp():
    return bool(fc_have_openmp())


def isa_compiled():
    """Names of the SIMD paths compiled into this build."""
    return tuple(ISA_NAMES[i] for i in range(FC_ISA_COUNT) if fc_isa_compiled(i))


def isa_supported():
    """Names of the compiled SIMD paths this CPU can run."""
    return tuple(ISA_NAMES[i] for i in range(FC_ISA_COUNT)
                 if fc_isa_compiled(i) and fc_isa_supported(i))


def isa_best():
    return ISA_NAMES[fc_isa_best()]
