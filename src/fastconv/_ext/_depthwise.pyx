# Depthwise / separable / pointwise kernels: arrays -> pointers, GIL released,
# status -> exception.  Depthwise arrays are 5-D (N, C, D, H, W) and C-contiguous,
# pointwise arrays 3-D (N, C, positions); `spec` is a fastconv._validate.ConvSpec
# with groups == c_in.  The Python layer returns early for empty batches.
from cython cimport floating
from fastconv._ext.fc cimport *

include "_status.pxi"
include "_share_pool.pxi"
include "_params.pxi"


def depthwise_fwd(const floating[:, :, :, :, ::1] x, const floating[:, :, :, :, ::1] w,
                  const floating[::1] bias, floating[:, :, :, :, ::1] out, spec,
                  int num_threads, int isa):
    """Depthwise convolution forward into `out`."""
    cdef fc_conv_params p = make_conv_params(spec, num_threads, isa)
    cdef const floating *bptr = NULL
    cdef int status
    if bias is not None:
        bptr = &bias[0]
    with nogil:
        if floating is float:
            status = fc_depthwise_fwd_f32(&p, &x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], bptr,
                                          &out[0, 0, 0, 0, 0])
        else:
            status = fc_depthwise_fwd_f64(&p, &x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], bptr,
                                          &out[0, 0, 0, 0, 0])
    check_status(status, "depthwise_conv2d")


def depthwise_bwd_input(const floating[:, :, :, :, ::1] gy, const floating[:, :, :, :, ::1] w,
                        floating[:, :, :, :, ::1] gx, spec, int num_threads, int isa,
                        str opname):
    """Depthwise gradient with respect to the input, into `gx`."""
    cdef fc_conv_params p = make_conv_params(spec, num_threads, isa)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_depthwise_bwd_input_f32(&p, &gy[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0],
                                                &gx[0, 0, 0, 0, 0])
        else:
            status = fc_depthwise_bwd_input_f64(&p, &gy[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0],
                                                &gx[0, 0, 0, 0, 0])
    check_status(status, opname)


def depthwise_bwd_weight(const floating[:, :, :, :, ::1] gy,
                         const floating[:, :, :, :, ::1] x, floating[:, :, :, :, ::1] gw,
                         floating[::1] gb, spec, int num_threads, int isa, str opname):
    """Depthwise gradients with respect to the weights (and the bias unless gb is None)."""
    cdef fc_conv_params p = make_conv_params(spec, num_threads, isa)
    cdef floating *gbptr = NULL
    cdef int status
    if gb is not None:
        gbptr = &gb[0]
    with nogil:
        if floating is float:
            status = fc_depthwise_bwd_weight_f32(&p, &gy[0, 0, 0, 0, 0], &x[0, 0, 0, 0, 0],
                                                 &gw[0, 0, 0, 0, 0], gbptr)
        else:
            status = fc_depthwise_bwd_weight_f64(&p, &gy[0, 0, 0, 0, 0], &x[0, 0, 0, 0, 0],
                                                 &gw[0, 0, 0, 0, 0], gbptr)
    check_status(status, opname)


def separable_fwd(const floating[:, :, :, :, ::1] x, const floating[:, :, :, :, ::1] w,
                  const floating[::1] bias, const floating[:, ::1] pw,
                  const floating[::1] pb, floating[:, :, :, :, ::1] out, spec,
                  int num_threads, int isa):
    """Fused separable convolution forward (depthwise, then pointwise) into `out`."""
    cdef fc_conv_params p = make_conv_params(spec, num_threads, isa)
    cdef fc_index c_pw = pw.shape[0]
    cdef const floating *bptr = NULL
    cdef const floating *pbptr = NULL
    cdef int status
    if bias is not None:
        bptr = &bias[0]
    if pb is not None:
        pbptr = &pb[0]
    with nogil:
        if floating is float:
            status = fc_separable_fwd_f32(&p, c_pw, &x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], bptr,
                                          &pw[0, 0], pbptr, &out[0, 0, 0, 0, 0])
        else:
            status = fc_separable_fwd_f64(&p, c_pw, &x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], bptr,
                                          &pw[0, 0], pbptr, &out[0, 0, 0, 0, 0])
    check_status(status, "separable_conv2d")


def separable_tile(spec, size_t itemsize):
    """(rows, cols) of the fused separable kernel's tile for this call."""
    cdef fc_conv_params p = make_conv_params(spec, 1, 0)
    cdef fc_index rows, cols
    fc_separable_tile(&p, itemsize, &rows, &cols)
    return rows, cols


cdef fc_pointwise_params _pw_params(fc_index n, fc_index c_in, fc_index c_out, fc_index size,
                                    int num_threads, int isa) noexcept:
    cdef fc_pointwise_params q
    q.n = n
    q.c_in = c_in
    q.c_out = c_out
    q.size = size
    q.num_threads = num_threads
    q.isa = isa
    q.w_kmajor = 0
    q.groups = 1
    return q


def pointwise_fwd(const floating[:, :, ::1] inp, const floating[:, ::1] w,
                  const floating[::1] bias, floating[:, :, ::1] out, int num_threads,
                  int isa, str opname, bint w_kmajor=False, fc_index groups=1):
    """Per group g: out[n, g*M + o, p] = bias[g*M + o] + sum_k w_g[o, k] * inp[n, g*K + k, p],
    w the groups' (M, K) weights stacked along its rows; with w_kmajor each is
    stored (K, M) (the product with its transpose, without copying it)."""
    if groups < 1 or w.shape[0] % groups:
        raise ValueError(f"{opname}: pointwise weight rows do not split into {groups} groups")
    cdef fc_index rows = w.shape[0] // groups
    cdef fc_index c_out = w.shape[1] if w_kmajor else rows
    cdef fc_index c_in = rows if w_kmajor else w.shape[1]
    if (inp.shape[1] != groups * c_in or out.shape[0] != inp.shape[0]
            or out.shape[1] != groups * c_out or out.shape[2] != inp.shape[2]
            or (bias is not None and bias.shape[0] != groups * c_out)):
        raise ValueError(f"{opname}: pointwise shapes do not agree")
    cdef fc_pointwise_params q = _pw_params(inp.shape[0], c_in, c_out, inp.shape[2],
                                            num_threads, isa)
    q.w_kmajor = w_kmajor
    q.groups = groups
    cdef const floating *bptr = NULL
    cdef int status
    if bias is not None:
        bptr = &bias[0]
    with nogil:
        if floating is float:
            status = fc_pointwise_fwd_f32(&q, &inp[0, 0, 0], &w[0, 0], bptr, &out[0, 0, 0])
        else:
            status = fc_pointwise_fwd_f64(&q, &inp[0, 0, 0], &w[0, 0], bptr, &out[0, 0, 0])
    check_status(status, opname)


def pointwise_pairs_fwd(const floating[:, :, :, :, ::1] inp, const floating[:, ::1] w,
                        const floating[::1] bias, floating[:, :, :, :, ::1] out, kernel,
                        int num_threads, int isa, str opname, fc_index groups=1):
    """A transposed convolution with kernel == stride, kernel (KD, KH, 2):
    out[n, g*cy + o, z*KD + kz, y*KH + ky, 2x + kx] = bias[g*M + m]
    + sum_c w[g*cx + c, m] inp[n, g*cx + c, z, y, x], m = ((o*KD + kz)*KH + ky)*2 + kx,
    w the transposed convolution's weight as (G*cx, M), bias per row m or None."""
    cdef fc_index geom[5]
    cdef fc_index kd = kernel[0], kh = kernel[1]
    if groups < 1 or w.shape[0] % groups or inp.shape[1] != w.shape[0] or kernel[2] != 2:
        raise ValueError(f"{opname}: paired-taps shapes do not agree")
    cdef fc_index cx = w.shape[0] // groups, m_rows = w.shape[1]
    if (m_rows % (2 * kd * kh) or out.shape[0] != inp.shape[0]
            or out.shape[1] != groups * (m_rows // (2 * kd * kh))
            or out.shape[2] != inp.shape[2] * kd or out.shape[3] != inp.shape[3] * kh
            or out.shape[4] != inp.shape[4] * 2
            or (bias is not None and bias.shape[0] != groups * m_rows)):
        raise ValueError(f"{opname}: paired-taps shapes do not agree")
    for a in range(3):
        geom[a] = inp.shape[2 + a]
    geom[3] = kd
    geom[4] = kh
    cdef fc_pointwise_params q = _pw_params(inp.shape[0], cx, m_rows,
                                            inp.shape[2] * inp.shape[3] * inp.shape[4],
                                            num_threads, isa)
    q.groups = groups
    cdef const floating *bptr = NULL
    cdef int status
    if bias is not None:
        bptr = &bias[0]
    with nogil:
        if floating is float:
            status = fc_pointwise_pairs_fwd_f32(&q, geom, &inp[0, 0, 0, 0, 0], &w[0, 0], bptr,
                                                &out[0, 0, 0, 0, 0])
        else:
            status = fc_pointwise_pairs_fwd_f64(&q, geom, &inp[0, 0, 0, 0, 0], &w[0, 0], bptr,
                                                &out[0, 0, 0, 0, 0])
    check_status(status, opname)


def pointwise_bwd_weight(const floating[:, :, ::1] gy, const floating[:, :, ::1] inp,
                         floating[:, ::1] gw, floating[::1] gb, int num_threads, int isa,
                         str opname):
    """gw[o, k] = sum_{n, p} gy[n, o, p] * inp[n, k, p]; gb[o] = sum gy[n, o, p]."""
    cdef fc_pointwise_params q = _pw_params(inp.shape[0], inp.shape[1], gy.shape[1],
                                            inp.shape[2], num_threads, isa)
    cdef floating *gbptr = NULL
    cdef int status
    if gb is not None:
        gbptr = &gb[0]
    with nogil:
        if floating is float:
            status = fc_pointwise_bwd_weight_f32(&q, &gy[0, 0, 0], &inp[0, 0, 0], &gw[0, 0],
                                                 gbptr)
        else:
            status = fc_pointwise_bwd_weight_f64(&q, &gy[0, 0, 0], &inp[0, 0, 0], &gw[0, 0],
                                                 gbptr)
    check_status(status, opname)
