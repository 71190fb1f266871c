# Included by every extension module but _runtime: run this module's kernel tasks
# on _runtime's thread pool, so the process has one (csrc/fc_parallel.h says why).
from cpython.pycapsule cimport PyCapsule_GetPointer
from fastconv._ext import _runtime as _pool_owner

fc_parallel_share_pool(<const fc_pool *>PyCapsule_GetPointer(_pool_owner.POOL,
                                                              "fastconv._ext._runtime.POOL"))
