# Channel-shuffle and other data-movement kernels: arrays -> pointers, GIL released.
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


def interleave_taps(const floating[:, :, :, :, :, ::1] src, floating[:, :, :, :, ::1] dst,
                    stride, int num_threads):
    """dst[b, c, z*s0 + a0, y*s1 + a1, x*s2 + a2] = src[b, c, tap (a0, a1, a2), z, y, x]
    (fc_shuffle.h); src (B, C, taps, Z, Y, X), dst (B, C, Z*s0, Y*s1, X*s2)."""
    cdef fc_taps_params q
    q.b = src.shape[0]
    q.c = src.shape[1]
    for a in range(3):
        q.size[a] = src.shape[3 + a]
        q.stride[a] = stride[a]
        if dst.shape[2 + a] != q.size[a] * q.stride[a]:
            raise ValueError("interleave_taps: dst does not match src and stride")
    if (src.shape[2] != q.stride[0] * q.stride[1] * q.stride[2] or dst.shape[0] != q.b
            or dst.shape[1] != q.c):
        raise ValueError("interleave_taps: dst does not match src and stride")
    q.num_threads = num_threads
    cdef int status
    with nogil:
        if floating is float:
            status = fc_interleave_taps_f32(&q, &src[0, 0, 0, 0, 0, 0], &dst[0, 0, 0, 0, 0])
        else:
            status = fc_interleave_taps_f64(&q, &src[0, 0, 0, 0, 0, 0], &dst[0, 0, 0, 0, 0])
    check_status(status, "conv_transpose")


def subsample(const floating[:, :, :, :, ::1] src, floating[:, :, :, :, ::1] dst, stride,
              int num_threads, str opname):
    """dst[n, c, z, y, x] = src[n, c, z*s0, y*s1, x*s2] (fc_shuffle.h)."""
    cdef fc_subsample_params q
    if src.shape[0] != dst.shape[0] or src.shape[1] != dst.shape[1]:
        raise ValueError("subsample: dst does not match src")
    q.planes = src.shape[0] * src.shape[1]
    for a in range(3):
        q.in_[a] = src.shape[2 + a]
        q.out[a] = dst.shape[2 + a]
        q.stride[a] = stride[a]
    q.num_threads = num_threads
    cdef int status
    with nogil:
        if floating is float:
            status = fc_subsample_f32(&q, &src[0, 0, 0, 0, 0], &dst[0, 0, 0, 0, 0])
        else:
            status = fc_subsample_f64(&q, &src[0, 0, 0, 0, 0], &dst[0, 0, 0, 0, 0])
    check_status(status, opname)
