"""A reusable buffer for one call's NumPy temporaries, kept per thread; and
`result(shape, dtype)`, the operations' result arrays (large ones on blocks kept
for reuse when the array dies, see fastconv/_ext/_runtime.pyx).

Why: a fresh temporary of a few hundred KiB next to a fresh result is given back
to the OS when freed and faulted back in by the next call, about 0.4 ms per MiB
on a virtual machine (README, "Memory"); the C kernels' scratch is kept the same
way (csrc/fc_scratch.h).  One buffer per thread: a call may hold one temporary
from here at a time, and must not return it.
"""
import math
import threading

import numpy as np

from fastconv._ext._runtime import result_array as result  # noqa: F401 (re-exported)

_local = threading.local()

# Temporaries start on a cache line, like the C scratch (csrc/fc_scratch.c): the
# kernels write them with 64-byte vector stores.
ALIGN = 64


def temporary(shape, dtype):
    """An uninitialised C-contiguous array of `shape` and `dtype`, starting on a
    cache line, valid until this thread's next call of temporary()."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    buf = getattr(_local, "buf", None)
    if buf is None or buf.nbytes < nbytes + ALIGN:
        buf = np.empty(nbytes + ALIGN, np.uint8)
        _local.buf = buf
    start = -buf.ctypes.data % ALIGN
    return buf[start:start + nbytes].view(dtype).reshape(shape)
