# Convolution kernels: arrays -> pointers, GIL released, status -> exception.
from cython cimport floating
from fastconv._ext.fc cimport *

include "_status.pxi"
include "_share_pool.pxi"
include "_params.pxi"


def conv_fwd(const floating[:, :, :, :, ::1] x, const floating[:, :, :, :, ::1] w,
             const floating[::1] bias, floating[:, :, :, :, ::1] out,
             spec, int num_threads, int isa, str algorithm="direct"):
    """Convolution forward into `out` (all arrays 5-D, C-contiguous) with the
    direct loop nest, the packed GEMM over column tiles ('gemm') or Winograd
    F(4x4, 3x3) ('winograd'; the caller checks that it applies)."""
    cdef fc_conv_params p = make_conv_params(spec, num_threads, isa)
    cdef const floating *bptr = NULL
    cdef int status
    cdef bint gemm = algorithm == "gemm", winograd = algorithm == "winograd"
    if bias is not None:
        bptr = &bias[0]
    with nogil:
        if floating is float:
            if winograd:
                status = fc_conv_fwd_winograd_f32(&p, &x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], bptr,
                                                  &out[0, 0, 0, 0, 0])
            elif gemm:
                status = fc_conv_fwd_gemm_f32(&p, &x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], bptr,
                                              &out[0, 0, 0, 0, 0])
            else:
                status = fc_conv_fwd_direct_f32(&p, &x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], bptr,
                                                &out[0, 0, 0, 0, 0])
        else:
            if winograd:
                status = fc_conv_fwd_winograd_f64(&p, &x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], bptr,
                                                  &out[0, 0, 0, 0, 0])
            elif gemm:
                status = fc_conv_fwd_gemm_f64(&p, &x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], bptr,
                                              &out[0, 0, 0, 0, 0])
            else:
                status = fc_conv_fwd_direct_f64(&p, &x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], bptr,
                                                &out[0, 0, 0, 0, 0])
    check_status(status, "conv")



def conv_bwd_input(const floating[:, :, :, :, ::1] gy, const floating[:, :, :, :, ::1] w,
                   floating[:, :, :, :, ::1] gx, spec, int num_threads, int isa):
    """Gradient of the convolution with respect to its input, into `gx`."""
    cdef fc_conv_params p = make_conv_params(spec, num_threads, isa)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_conv_bwd_input_f32(&p, &gy[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0],
                                           &gx[0, 0, 0, 0, 0])
        else:
            status = fc_conv_bwd_input_f64(&p, &gy[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0],
                                           &gx[0, 0, 0, 0, 0])
    check_status(status, "conv backward (input)")


def conv_bwd_weight(const floating[:, :, :, :, ::1] x, const floating[:, :, :, :, ::1] gy,
                    floating[:, :, :, :, ::1] gw, spec, int num_threads, int isa,
                    bint winograd=False):
    """Gradient of the convolution with respect to its weight, into `gw`: the
    direct kernel, or the adjoint of Winograd F(4x4, 3x3) (`winograd`; the
    caller checks that it applies)."""
    cdef fc_conv_params p = make_conv_params(spec, num_threads, isa)
    cdef int status
    with nogil:
        if floating is float:
            if winograd:
                status = fc_conv_bwd_weight_winograd_f32(&p, &x[0, 0, 0, 0, 0],
                                                         &gy[0, 0, 0, 0, 0], &gw[0, 0, 0, 0, 0])
            else:
                status = fc_conv_bwd_weight_f32(&p, &x[0, 0, 0, 0, 0], &gy[0, 0, 0, 0, 0],
                                                &gw[0, 0, 0, 0, 0])
        else:
            if winograd:
                status = fc_conv_bwd_weight_winograd_f64(&p, &x[0, 0, 0, 0, 0],
                                                         &gy[0, 0, 0, 0, 0], &gw[0, 0, 0, 0, 0])
            else:
                status = fc_conv_bwd_weight_f64(&p, &x[0, 0, 0, 0, 0], &gy[0, 0, 0, 0, 0],
                                                &gw[0, 0, 0, 0, 0])
    check_status(status, "conv backward (weight)")


def conv_bwd_bias(const floating[:, :, :, :, ::1] gy, floating[::1] gb, spec,
                  int num_threads, int isa):
    """Gradient of the convolution with respect to its bias, into `gb`."""
    cdef fc_conv_params p = make_conv_params(spec, num_threads, isa)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_conv_bwd_bias_f32(&p, &gy[0, 0, 0, 0, 0], &gb[0])
        else:
            status = fc_conv_bwd_bias_f64(&p, &gy[0, 0, 0, 0, 0], &gb[0])
    check_status(status, "conv backward (bias)")
