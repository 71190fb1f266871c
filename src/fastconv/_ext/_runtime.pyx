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


# ------------------------------------------------------------- result blocks ----
# Large results are built on blocks that go back to a small free list when their
# array dies, instead of to glibc, which hands a freed block at the heap top back
# to the OS and the next call faults every page in again (about 0.4 ms per MiB
# on a virtual machine; README, "Memory").  The list is touched only with the
# GIL held (by result_array and by a block's deallocation), so it needs no lock.
from libc.stdlib cimport free
from cpython.buffer cimport PyBuffer_FillInfo

import numpy as _np

cdef extern from "<stdlib.h>" nogil:
    void *aligned_alloc(size_t alignment, size_t size)

cdef extern from "fc_scratch.h" nogil:
    int fc_scratch_keeping()

cdef size_t RESULT_MIN_BYTES = 256 << 10   # smaller results: np.empty
cdef size_t RESULT_KEEP_BYTES = 64 << 20   # the most the free list holds
cdef enum:
    RESULT_SLOTS = 8
cdef void *_free_ptr[RESULT_SLOTS]
cdef size_t _free_cap[RESULT_SLOTS]
cdef int _nfree = 0
cdef size_t _kept = 0
cdef bint _keep = fc_scratch_keeping()   # the C scratch cache's rule


cdef void _give_back(void *ptr, size_t cap) noexcept:
    global _nfree, _kept
    if _keep and _nfree < RESULT_SLOTS and _kept + cap <= RESULT_KEEP_BYTES:
        _free_ptr[_nfree] = ptr
        _free_cap[_nfree] = cap
        _nfree += 1
        _kept += cap
    else:
        free(ptr)


cdef class ResultBlock:
    """Writable bytes an array is built on (np.frombuffer); back to the free
    list when the last array on it dies."""
    cdef void *ptr
    cdef size_t nbytes
    cdef size_t cap

    def __getbuffer__(self, Py_buffer *buffer, int flags):
        PyBuffer_FillInfo(buffer, self, self.ptr, <Py_ssize_t>self.nbytes, 0, flags)

    def __releasebuffer__(self, Py_buffer *buffer):
        pass

    def __dealloc__(self):
        if self.ptr != NULL:
            _give_back(self.ptr, self.cap)
            self.ptr = NULL


cdef ResultBlock _take_block(size_t nbytes):
    """The smallest kept block of nbytes .. 2*nbytes, or a new one (64-byte
    aligned, a whole number of pages)."""
    global _nfree, _kept
    cdef int best = -1, i
    for i in range(_nfree):
        if _free_cap[i] >= nbytes and _free_cap[i] <= 2 * nbytes and (
                best < 0 or _free_cap[i] < _free_cap[best]):
            best = i
    cdef ResultBlock blk = ResultBlock.__new__(ResultBlock)
    if best >= 0:
        blk.ptr = _free_ptr[best]
        blk.cap = _free_cap[best]
        _kept -= blk.cap
        _nfree -= 1
        _free_ptr[best] = _free_ptr[_nfree]
        _free_cap[best] = _free_cap[_nfree]
    else:
        blk.cap = (nbytes + 4095) // 4096 * 4096
        blk.ptr = aligned_alloc(64, blk.cap)
        if blk.ptr == NULL:
            raise MemoryError(f"cannot allocate a result of {nbytes} bytes")
    blk.nbytes = nbytes
    return blk


def result_array(shape, dtype):
    """An uninitialised C-contiguous result array of `shape` and `dtype` (the
    caller has checked that its byte count does not overflow).  Small ones are
    np.empty; large ones are built on a ResultBlock, reused after the array dies
    (FASTCONV_KEEP_SCRATCH=0: never kept)."""
    dtype = _np.dtype(dtype)
    cdef Py_ssize_t count = 1
    for s in shape:
        count *= s
    cdef size_t nbytes = <size_t>count * dtype.itemsize
    if nbytes < RESULT_MIN_BYTES or not _keep:
        return _np.empty(shape, dtype)
    return _np.frombuffer(_take_block(nbytes), dtype, count).reshape(shape)


def kept_result_bytes():
    """Bytes the result free list holds (for tests)."""
    return _kept
