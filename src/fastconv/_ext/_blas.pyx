# The only module that touches BLAS: scipy.linalg.cython_blas's s/dgemm are handed
# to the C im2col driver as function pointers (C links no BLAS itself).
# Imported lazily, on the first algorithm='im2col' call.
from cython cimport floating
from scipy.linalg.cython_blas cimport sgemm, dgemm
from fastconv._ext.fc cimport *

include "_status.pxi"
include "_share_pool.pxi"
include "_params.pxi"
include "_blas_int.pxi"

if sizeof(blas_int) != sizeof(fc_blas_int):
    raise ImportError("fastconv was built for LP64 BLAS integers but SciPy's BLAS uses "
                      f"{8 * sizeof(blas_int)}-bit integers; algorithm='im2col' is unavailable")


def workspace_bytes(spec, Py_ssize_t itemsize):
    """Bytes of the im2col workspace one call with `spec` allocates."""
    cdef fc_conv_params p = make_conv_params(spec, 1, 0)
    return fc_conv_im2col_workspace_bytes(&p, itemsize)


def conv_fwd_im2col(const floating[:, :, :, :, ::1] x, const floating[:, :, :, :, ::1] w,
                    const floating[::1] bias, floating[:, :, :, :, ::1] out, spec):
    """im2col + GEMM convolution forward into `out` (all arrays 5-D, C-contiguous)."""
    cdef fc_conv_params p = make_conv_params(spec, 1, 0)
    cdef const floating *bptr = NULL
    cdef int status
    if bias is not None:
        bptr = &bias[0]
    with nogil:
        if floating is float:
            status = fc_conv_fwd_im2col_f32(&p, &x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], bptr,
                                            &out[0, 0, 0, 0, 0], <fc_sgemm_fn>sgemm)
        else:
            status = fc_conv_fwd_im2col_f64(&p, &x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], bptr,
                                            &out[0, 0, 0, 0, 0], <fc_dgemm_fn>dgemm)
    check_status(status, "conv")


def conv_bwd_im2col(const floating[:, :, :, :, ::1] w, const floating[:, :, :, :, ::1] gy,
                    const floating[:, :, :, :, ::1] x, floating[:, :, :, :, ::1] gx,
                    floating[:, :, :, :, ::1] gw, spec):
    """im2col + GEMM backward: weight gradient into `gw` (skipped when gw is None;
    x is then not read and may be None), input gradient into `gx` (skipped when
    gx is None).  `w` comes first: Cython picks the dtype from the first argument."""
    cdef fc_conv_params p = make_conv_params(spec, 1, 0)
    cdef floating *gxptr = NULL
    cdef floating *gwptr = NULL
    cdef const floating *xptr = NULL
    cdef int status
    if gx is not None:
        gxptr = &gx[0, 0, 0, 0, 0]
    if gw is not None:
        gwptr = &gw[0, 0, 0, 0, 0]
        xptr = &x[0, 0, 0, 0, 0]
    with nogil:
        if floating is float:
            status = fc_conv_bwd_im2col_f32(&p, xptr, &w[0, 0, 0, 0, 0], &gy[0, 0, 0, 0, 0],
                                            gxptr, gwptr, <fc_sgemm_fn>sgemm)
        else:
            status = fc_conv_bwd_im2col_f64(&p, xptr, &w[0, 0, 0, 0, 0], &gy[0, 0, 0, 0, 0],
                                            gxptr, gwptr, <fc_dgemm_fn>dgemm)
    check_status(status, "conv backward (im2col)")
