# Pooling kernels: arrays -> pointers, GIL released, status -> exception.
# Every array is 5-D (N, C, D, H, W), C-contiguous, non-empty (the Python layer
# returns early for empty results); `spec` is a fastconv._validate.PoolSpec.
from cython cimport floating
from libc.stdint cimport int64_t
from fastconv._ext.fc cimport *

include "_status.pxi"
include "_share_pool.pxi"


cdef fc_pool_params make_pool_params(object spec, int num_threads, int isa) except *:
    cdef fc_pool_params p
    cdef int a
    p.planes = spec.n * spec.c
    for a in range(3):
        p.in_[a] = spec.in_size[a]
        p.out[a] = spec.out_size[a]
        p.k[a] = spec.kernel[a]
        p.stride[a] = spec.stride[a]
        p.dil[a] = spec.dilation[a]
        p.pad[a] = spec.padding[a]
    p.count_include_pad = spec.count_include_pad
    p.num_threads = num_threads
    p.isa = isa
    return p


cdef inline int64_t *index_ptr(int64_t[:, :, :, :, ::1] indices):
    return NULL if indices is None else &indices[0, 0, 0, 0, 0]


# ------------------------------------------------------------ max pooling ----
def max_pool_fwd(const floating[:, :, :, :, ::1] x, floating[:, :, :, :, ::1] out,
                 int64_t[:, :, :, :, ::1] indices, spec, int num_threads, int isa):
    """Window maxima into `out` and, unless `indices` is None, their offsets."""
    cdef fc_pool_params p = make_pool_params(spec, num_threads, isa)
    cdef int64_t *iptr = index_ptr(indices)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_max_pool_fwd_f32(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0], iptr)
        else:
            status = fc_max_pool_fwd_f64(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0], iptr)
    check_status(status, "max_pool")


def max_pool_bwd(const floating[:, :, :, :, ::1] x, const floating[:, :, :, :, ::1] grad_out,
                 floating[:, :, :, :, ::1] grad_in, spec, int num_threads, int isa):
    """grad_out routed to each window's maximum, into `grad_in`."""
    cdef fc_pool_params p = make_pool_params(spec, num_threads, isa)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_max_pool_bwd_f32(&p, &x[0, 0, 0, 0, 0], &grad_out[0, 0, 0, 0, 0],
                                         &grad_in[0, 0, 0, 0, 0])
        else:
            status = fc_max_pool_bwd_f64(&p, &x[0, 0, 0, 0, 0], &grad_out[0, 0, 0, 0, 0],
                                         &grad_in[0, 0, 0, 0, 0])
    check_status(status, "max_pool_backward")


def max_pool_route(const int64_t[:, :, :, :, ::1] indices,
                   const floating[:, :, :, :, ::1] grad_out, floating[:, :, :, :, ::1] grad_in,
                   spec, int num_threads, int isa):
    """grad_out added at the saved `indices` (max and adaptive max), into `grad_in`.
    Returns False, with grad_in partly written, when an index is outside its plane."""
    cdef fc_pool_params p = make_pool_params(spec, num_threads, isa)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_max_pool_route_f32(&p, &indices[0, 0, 0, 0, 0], &grad_out[0, 0, 0, 0, 0],
                                           &grad_in[0, 0, 0, 0, 0])
        else:
            status = fc_max_pool_route_f64(&p, &indices[0, 0, 0, 0, 0], &grad_out[0, 0, 0, 0, 0],
                                           &grad_in[0, 0, 0, 0, 0])
    if status == FC_ERANGE:
        return False
    check_status(status, "max_pool_backward")
    return True


# ------------------------------------------------------------ avg pooling ----
def avg_pool_fwd(const floating[:, :, :, :, ::1] x, floating[:, :, :, :, ::1] out,
                 spec, int num_threads, int isa):
    cdef fc_pool_params p = make_pool_params(spec, num_threads, isa)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_avg_pool_fwd_f32(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0])
        else:
            status = fc_avg_pool_fwd_f64(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0])
    check_status(status, "avg_pool")


def avg_pool_bwd(const floating[:, :, :, :, ::1] grad_out, floating[:, :, :, :, ::1] grad_in,
                 spec, int num_threads, int isa):
    cdef fc_pool_params p = make_pool_params(spec, num_threads, isa)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_avg_pool_bwd_f32(&p, &grad_out[0, 0, 0, 0, 0], &grad_in[0, 0, 0, 0, 0])
        else:
            status = fc_avg_pool_bwd_f64(&p, &grad_out[0, 0, 0, 0, 0], &grad_in[0, 0, 0, 0, 0])
    check_status(status, "avg_pool_backward")


# ------------------------------------------------------- adaptive pooling ----
def adaptive_avg_pool_fwd(const floating[:, :, :, :, ::1] x, floating[:, :, :, :, ::1] out,
                          spec, int num_threads, int isa):
    cdef fc_pool_params p = make_pool_params(spec, num_threads, isa)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_adaptive_avg_pool_fwd_f32(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0])
        else:
            status = fc_adaptive_avg_pool_fwd_f64(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0])
    check_status(status, "adaptive_avg_pool")


def adaptive_avg_pool_bwd(const floating[:, :, :, :, ::1] grad_out,
                          floating[:, :, :, :, ::1] grad_in, spec, int num_threads, int isa):
    cdef fc_pool_params p = make_pool_params(spec, num_threads, isa)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_adaptive_avg_pool_bwd_f32(&p, &grad_out[0, 0, 0, 0, 0],
                                                  &grad_in[0, 0, 0, 0, 0])
        else:
            status = fc_adaptive_avg_pool_bwd_f64(&p, &grad_out[0, 0, 0, 0, 0],
                                                  &grad_in[0, 0, 0, 0, 0])
    check_status(status, "adaptive_avg_pool_backward")


def adaptive_max_pool_fwd(const floating[:, :, :, :, ::1] x, floating[:, :, :, :, ::1] out,
                          int64_t[:, :, :, :, ::1] indices, spec, int num_threads, int isa):
    cdef fc_pool_params p = make_pool_params(spec, num_threads, isa)
    cdef int64_t *iptr = index_ptr(indices)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_adaptive_max_pool_fwd_f32(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0],
                                                  iptr)
        else:
            status = fc_adaptive_max_pool_fwd_f64(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0],
                                                  iptr)
    check_status(status, "adaptive_max_pool")


def adaptive_max_pool_bwd(const floating[:, :, :, :, ::1] x,
                          const floating[:, :, :, :, ::1] grad_out,
                          floating[:, :, :, :, ::1] grad_in, spec, int num_threads, int isa):
    cdef fc_pool_params p = make_pool_params(spec, num_threads, isa)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_adaptive_max_pool_bwd_f32(&p, &x[0, 0, 0, 0, 0],
                                                  &grad_out[0, 0, 0, 0, 0],
                                                  &grad_in[0, 0, 0, 0, 0])
        else:
            status = fc_adaptive_max_pool_bwd_f64(&p, &x[0, 0, 0, 0, 0],
                                                  &grad_out[0, 0, 0, 0, 0],
                                                  &grad_in[0, 0, 0, 0, 0])
    check_status(status, "adaptive_max_pool_backward")


# --------------------------------------------------------- global pooling ----
def global_avg_pool_fwd(const floating[:, :, :, :, ::1] x, floating[:, :, :, :, ::1] out,
                        spec, int num_threads, int isa):
    cdef fc_pool_params p = make_pool_params(spec, num_threads, isa)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_global_avg_pool_fwd_f32(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0])
        else:
            status = fc_global_avg_pool_fwd_f64(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0])
    check_status(status, "global_avg_pool")


def global_avg_pool_bwd(const floating[:, :, :, :, ::1] grad_out,
                        floating[:, :, :, :, ::1] grad_in, spec, int num_threads, int isa):
    cdef fc_pool_params p = make_pool_params(spec, num_threads, isa)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_global_avg_pool_bwd_f32(&p, &grad_out[0, 0, 0, 0, 0],
                                                &grad_in[0, 0, 0, 0, 0])
        else:
            status = fc_global_avg_pool_bwd_f64(&p, &grad_out[0, 0, 0, 0, 0],
                                                &grad_in[0, 0, 0, 0, 0])
    check_status(status, "global_avg_pool_backward")


def global_max_pool_fwd(const floating[:, :, :, :, ::1] x, floating[:, :, :, :, ::1] out,
                        spec, int num_threads, int isa):
    cdef fc_pool_params p = make_pool_params(spec, num_threads, isa)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_global_max_pool_fwd_f32(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0])
        else:
            status = fc_global_max_pool_fwd_f64(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0])
    check_status(status, "global_max_pool")


def global_max_pool_bwd(const floating[:, :, :, :, ::1] x,
                        const floating[:, :, :, :, ::1] grad_out,
                        floating[:, :, :, :, ::1] grad_in, spec, int num_threads, int isa):
    cdef fc_pool_params p = make_pool_params(spec, num_threads, isa)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_global_max_pool_bwd_f32(&p, &x[0, 0, 0, 0, 0], &grad_out[0, 0, 0, 0, 0],
                                                &grad_in[0, 0, 0, 0, 0])
        else:
            status = fc_global_max_pool_bwd_f64(&p, &x[0, 0, 0, 0, 0], &grad_out[0, 0, 0, 0, 0],
                                                &grad_in[0, 0, 0, 0, 0])
    check_status(status, "global_max_pool_backward")
