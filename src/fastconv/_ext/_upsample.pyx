# Resampling kernels: arrays -> pointers, GIL released, status -> exception.
# Every array is 5-D (N, C, D, H, W), C-contiguous, non-empty (the Python layer
# returns early for empty results); `spec` is a fastconv._validate.UpsampleSpec.
from cython cimport floating
from fastconv._ext.fc cimport *

include "_status.pxi"
include "_share_pool.pxi"


cdef fc_upsample_params make_upsample_params(object spec, int num_threads) except *:
    cdef fc_upsample_params p
    cdef int a
    p.planes = spec.n * spec.c
    for a in range(3):
        p.in_[a] = spec.in_size[a]
        p.out[a] = spec.out_size[a]
        p.scale[a] = spec.scale[a]
    p.mode = spec.mode
    p.align_corners = spec.align_corners
    p.num_threads = num_threads
    return p


def upsample_fwd(const floating[:, :, :, :, ::1] x, floating[:, :, :, :, ::1] out, spec,
                 int num_threads):
    """Resample x into `out`."""
    cdef fc_upsample_params p = make_upsample_params(spec, num_threads)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_upsample_fwd_f32(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0])
        else:
            status = fc_upsample_fwd_f64(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0])
    check_status(status, "upsample")


def upsample_bwd(const floating[:, :, :, :, ::1] grad_out, floating[:, :, :, :, ::1] grad_in,
                 spec, int num_threads):
    """The adjoint of upsample_fwd applied to grad_out, into `grad_in`."""
    cdef fc_upsample_params p = make_upsample_params(spec, num_threads)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_upsample_bwd_f32(&p, &grad_out[0, 0, 0, 0, 0], &grad_in[0, 0, 0, 0, 0])
        else:
            status = fc_upsample_bwd_f64(&p, &grad_out[0, 0, 0, 0, 0], &grad_in[0, 0, 0, 0, 0])
    check_status(status, "upsample_backward")
