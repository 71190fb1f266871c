# Padding kernels: arrays -> pointers, GIL released, status -> exception.
# Every array is 5-D (N, C, D, H, W), C-contiguous, non-empty (the Python layer
# returns early for empty results); `spec` is a fastconv._validate.PadSpec.
from cython cimport floating
from fastconv._ext.fc cimport *

include "_status.pxi"
include "_share_pool.pxi"


cdef fc_pad_params make_pad_params(object spec, int num_threads) except *:
    cdef fc_pad_params p
    cdef int a
    p.planes = spec.n * spec.c
    for a in range(3):
        p.in_[a] = spec.in_size[a]
        p.out[a] = spec.out_size[a]
        p.before[a] = spec.before[a]
    p.mode = spec.mode
    p.num_threads = num_threads
    return p


def pad_fwd(const floating[:, :, :, :, ::1] x, floating[:, :, :, :, ::1] out, spec,
            int num_threads):
    """Pad x into `out` (constant cells get spec.value, already in range of the dtype)."""
    cdef fc_pad_params p = make_pad_params(spec, num_threads)
    cdef double value = spec.value
    cdef int status
    with nogil:
        if floating is float:
            status = fc_pad_fwd_f32(&p, &x[0, 0, 0, 0, 0], <float>value, &out[0, 0, 0, 0, 0])
        else:
            status = fc_pad_fwd_f64(&p, &x[0, 0, 0, 0, 0], value, &out[0, 0, 0, 0, 0])
    check_status(status, "pad")


def pad_bwd(const floating[:, :, :, :, ::1] grad_out, floating[:, :, :, :, ::1] grad_in,
            spec, int num_threads):
    """Fold grad_out back onto the input cells it was copied from, into `grad_in`."""
    cdef fc_pad_params p = make_pad_params(spec, num_threads)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_pad_bwd_f32(&p, &grad_out[0, 0, 0, 0, 0], &grad_in[0, 0, 0, 0, 0])
        else:
            status = fc_pad_bwd_f64(&p, &grad_out[0, 0, 0, 0, 0], &grad_in[0, 0, 0, 0, 0])
    check_status(status, "pad_backward")
