# Channel-shuffle kernels: arrays -> pointers, GIL released.
# Arrays are 3-D (N, C, plane), C-contiguous, non-empty (the Python layer returns
# early for empty results); `spec` is a fastconv._validate.ShuffleSpec.
from cython cimport floating
from fastconv._ext.fc cimport *

include "_status.pxi"
include "_share_pool.pxi"


cdef fc_shuffle_params make_shuffle_params(object spec, int num_threads) except *:
    cdef fc_shuffle_params p
    p.n = spec.n
    p.c = spec.c
    p.groups = spec.groups
    p.plane = spec.plane
    p.num_threads = num_threads
    return p


def shuffle_fwd(const floating[:, :, ::1] x, floating[:, :, ::1] out, spec, int num_threads):
    """Channel shuffle of x into `out`."""
    cdef fc_shuffle_params p = make_shuffle_params(spec, num_threads)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_shuffle_fwd_f32(&p, &x[0, 0, 0], &out[0, 0, 0])
        else:
            status = fc_shuffle_fwd_f64(&p, &x[0, 0, 0], &out[0, 0, 0])
    check_status(status, "channel_shuffle")


def shuffle_bwd(const floating[:, :, ::1] grad_out, floating[:, :, ::1] grad_in, spec,
                int num_threads):
    """The inverse shuffle of grad_out, into `grad_in`."""
    cdef fc_shuffle_params p = make_shuffle_params(spec, num_threads)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_shuffle_bwd_f32(&p, &grad_out[0, 0, 0], &grad_in[0, 0, 0])
        else:
            status = fc_shuffle_bwd_f64(&p, &grad_out[0, 0, 0], &grad_in[0, 0, 0])
    check_status(status, "channel_shuffle_backward")
