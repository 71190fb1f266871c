# cdef extern blocks mirroring csrc/*.h.  All functions are noexcept nogil: C
# never touches Python objects and reports failure through a status code.

cdef extern from "fc_common.h" nogil:
    ctypedef Py_ssize_t fc_index
    enum:
        FC_OK
        FC_ENOMEM
        FC_EINVAL
        FC_ERANGE
    enum:
        FC_ISA_BASELINE
        FC_ISA_AVX2
        FC_ISA_AVX512
        FC_ISA_COUNT

cdef extern from "fc_params.h" nogil:
    ctypedef struct fc_conv_params:
        fc_index n, c_in, c_out, groups
        fc_index[3] in_ "in"
        fc_index[3] out
        fc_index[3] k
        fc_index[3] stride
        fc_index[3] dil
        fc_index[3] pad
        int pad_mode
        int num_threads
        int isa

cdef extern from "fc_threads.h" nogil:
    void fc_threads_init() noexcept
    void fc_set_thread_limit(int n) noexcept
    int fc_get_thread_limit() noexcept
    int fc_num_threads() noexcept
    int fc_team_size(double work) noexcept
    int fc_have_openmp() noexcept

cdef extern from "fc_parallel.h" nogil:
    ctypedef struct fc_pool:
        pass
    const fc_pool *fc_parallel_own_pool() noexcept
    void fc_parallel_share_pool(const fc_pool *pool) noexcept

cdef extern from "fc_dispatch.h" nogil:
    int fc_isa_compiled(int isa) noexcept
    int fc_isa_supported(int isa) noexcept
    int fc_isa_best() noexcept

cdef extern from "fc_conv.h" nogil:
    ctypedef int fc_blas_int
    ctypedef void (*fc_sgemm_fn)(char *, char *, fc_blas_int *, fc_blas_int *, fc_blas_int *,
                                 float *, float *, fc_blas_int *, float *, fc_blas_int *,
                                 float *, float *, fc_blas_int *) noexcept nogil
    ctypedef void (*fc_dgemm_fn)(char *, char *, fc_blas_int *, fc_blas_int *, fc_blas_int *,
                                 double *, double *, fc_blas_int *, double *, fc_blas_int *,
                                 double *, double *, fc_blas_int *) noexcept nogil
    int fc_conv_fwd_direct_f32(const fc_conv_params *p, const float *x, const float *w,
                               const float *bias, float *out) noexcept
    int fc_conv_fwd_direct_f64(const fc_conv_params *p, const double *x, const double *w,
                               const double *bias, double *out) noexcept
    int fc_conv_fwd_gemm_f32(const fc_conv_params *p, const float *x, const float *w,
                             const float *bias, float *out) noexcept
    int fc_conv_fwd_gemm_f64(const fc_conv_params *p, const double *x, const double *w,
                             const double *bias, double *out) noexcept
    int fc_conv_bwd_input_f32(const fc_conv_params *p, const float *gy, const float *w,
                              float *gx) noexcept
    int fc_conv_bwd_input_f64(const fc_conv_params *p, const double *gy, const double *w,
                              double *gx) noexcept
    int fc_conv_bwd_weight_f32(const fc_conv_params *p, const float *x, const float *gy,
                               float *gw) noexcept
    int fc_conv_bwd_weight_f64(const fc_conv_params *p, const double *x, const double *gy,
                               double *gw) noexcept
    int fc_conv_bwd_bias_f32(const fc_conv_params *p, const float *gy, float *gb) noexcept
    int fc_conv_bwd_bias_f64(const fc_conv_params *p, const double *gy, double *gb) noexcept
    int fc_conv_fwd_im2col_f32(const fc_conv_params *p, const float *x, const float *w,
                               const float *bias, float *out, fc_sgemm_fn gemm) noexcept
    int fc_conv_fwd_im2col_f64(const fc_conv_params *p, const double *x, const double *w,
                               const double *bias, double *out, fc_dgemm_fn gemm) noexcept
    int fc_conv_bwd_im2col_f32(const fc_conv_params *p, const float *x, const float *w,
                               const float *gy, float *gx, float *gw, fc_sgemm_fn gemm) noexcept
    int fc_conv_bwd_im2col_f64(const fc_conv_params *p, const double *x, const double *w,
                               const double *gy, double *gx, double *gw, fc_dgemm_fn gemm) noexcept
    size_t fc_conv_im2col_workspace_bytes(const fc_conv_params *p, size_t itemsize) noexcept

cdef extern from "fc_winograd.h" nogil:
    int fc_conv_fwd_winograd_f32(const fc_conv_params *p, const float *x, const float *w,
                                 const float *bias, float *out) noexcept
    int fc_conv_fwd_winograd_f64(const fc_conv_params *p, const double *x, const double *w,
                                 const double *bias, double *out) noexcept
    int fc_conv_bwd_weight_winograd_f32(const fc_conv_params *p, const float *x, const float *gy,
                                        float *gw) noexcept
    int fc_conv_bwd_weight_winograd_f64(const fc_conv_params *p, const double *x,
                                        const double *gy, double *gw) noexcept

# ---- pooling (fc_pool.h)
from libc.stdint cimport int64_t

cdef extern from "fc_pool.h" nogil:
    ctypedef struct fc_pool_params:
        fc_index planes
        fc_index[3] in_ "in"
        fc_index[3] out
        fc_index[3] k
        fc_index[3] stride
        fc_index[3] dil
        fc_index[3] pad
        int count_include_pad
        int num_threads
        int isa
    int fc_max_pool_fwd_f32(const fc_pool_params *p, const float *x, float *out,
                            int64_t *idx) noexcept
    int fc_max_pool_fwd_f64(const fc_pool_params *p, const double *x, double *out,
                            int64_t *idx) noexcept
    int fc_max_pool_bwd_f32(const fc_pool_params *p, const float *x, const float *grad_out,
                            float *grad_in) noexcept
    int fc_max_pool_bwd_f64(const fc_pool_params *p, const double *x, const double *grad_out,
                            double *grad_in) noexcept
    int fc_max_pool_route_f32(const fc_pool_params *p, const int64_t *idx,
                              const float *grad_out, float *grad_in) noexcept
    int fc_max_pool_route_f64(const fc_pool_params *p, const int64_t *idx,
                              const double *grad_out, double *grad_in) noexcept
    int fc_avg_pool_fwd_f32(const fc_pool_params *p, const float *x, float *out) noexcept
    int fc_avg_pool_fwd_f64(const fc_pool_params *p, const double *x, double *out) noexcept
    int fc_avg_pool_bwd_f32(const fc_pool_params *p, const float *grad_out,
                            float *grad_in) noexcept
    int fc_avg_pool_bwd_f64(const fc_pool_params *p, const double *grad_out,
                            double *grad_in) noexcept
    int fc_adaptive_avg_pool_fwd_f32(const fc_pool_params *p, const float *x,
                                     float *out) noexcept
    int fc_adaptive_avg_pool_fwd_f64(const fc_pool_params *p, const double *x,
                                     double *out) noexcept
    int fc_adaptive_avg_pool_bwd_f32(const fc_pool_params *p, const float *grad_out,
                                     float *grad_in) noexcept
    int fc_adaptive_avg_pool_bwd_f64(const fc_pool_params *p, const double *grad_out,
                                     double *grad_in) noexcept
    int fc_adaptive_max_pool_fwd_f32(const fc_pool_params *p, const float *x, float *out,
                                     int64_t *idx) noexcept
    int fc_adaptive_max_pool_fwd_f64(const fc_pool_params *p, const double *x, double *out,
                                     int64_t *idx) noexcept
    int fc_adaptive_max_pool_bwd_f32(const fc_pool_params *p, const float *x,
                                     const float *grad_out, float *grad_in) noexcept
    int fc_adaptive_max_pool_bwd_f64(const fc_pool_params *p, const double *x,
                                     const double *grad_out, double *grad_in) noexcept
    int fc_global_avg_pool_fwd_f32(const fc_pool_params *p, const float *x,
                                   float *out) noexcept
    int fc_global_avg_pool_fwd_f64(const fc_pool_params *p, const double *x,
                                   double *out) noexcept
    int fc_global_avg_pool_bwd_f32(const fc_pool_params *p, const float *grad_out,
                                   float *grad_in) noexcept
    int fc_global_avg_pool_bwd_f64(const fc_pool_params *p, const double *grad_out,
                                   double *grad_in) noexcept
    int fc_global_max_pool_fwd_f32(const fc_pool_params *p, const float *x,
                                   float *out) noexcept
    int fc_global_max_pool_fwd_f64(const fc_pool_params *p, const double *x,
                                   double *out) noexcept
    int fc_global_max_pool_bwd_f32(const fc_pool_params *p, const float *x,
                                   const float *grad_out, float *grad_in) noexcept
    int fc_global_max_pool_bwd_f64(const fc_pool_params *p, const double *x,
                                   const double *grad_out, double *grad_in) noexcept

cdef extern from "fc_upsample.h" nogil:
    enum:
        FC_UPSAMPLE_NEAREST
        FC_UPSAMPLE_LINEAR
    ctypedef struct fc_upsample_params:
        fc_index planes
        fc_index[3] in_ "in"
        fc_index[3] out
        double[3] scale
        int mode
        int align_corners
        int num_threads
    int fc_upsample_fwd_f32(const fc_upsample_params *p, const float *x, float *out) noexcept
    int fc_upsample_fwd_f64(const fc_upsample_params *p, const double *x, double *out) noexcept
    int fc_upsample_bwd_f32(const fc_upsample_params *p, const float *grad_out,
                            float *grad_in) noexcept
    int fc_upsample_bwd_f64(const fc_upsample_params *p, const double *grad_out,
                            double *grad_in) noexcept

cdef extern from "fc_pad.h" nogil:
    ctypedef struct fc_pad_params:
        fc_index planes
        fc_index[3] in_ "in"
        fc_index[3] out
        fc_index[3] before
        int mode
        int num_threads
    int fc_pad_fwd_f32(const fc_pad_params *p, const float *x, float value, float *out) noexcept
    int fc_pad_fwd_f64(const fc_pad_params *p, const double *x, double value,
                       double *out) noexcept
    int fc_pad_bwd_f32(const fc_pad_params *p, const float *grad_out, float *grad_in) noexcept
    int fc_pad_bwd_f64(const fc_pad_params *p, const double *grad_out,
                       double *grad_in) noexcept

cdef extern from "fc_shuffle.h" nogil:
    ctypedef struct fc_subsample_params:
        fc_index planes
        fc_index[3] in_ "in"
        fc_index[3] out
        fc_index[3] stride
        int num_threads
    int fc_subsample_f32(const fc_subsample_params *q, const float *src, float *dst) noexcept
    int fc_subsample_f64(const fc_subsample_params *q, const double *src, double *dst) noexcept

cdef extern from "fc_shuffle.h" nogil:
    ctypedef struct fc_taps_params:
        fc_index b, c
        fc_index[3] size
        fc_index[3] stride
        int num_threads
    int fc_interleave_taps_f32(const fc_taps_params *q, const float *src, float *dst) noexcept
    int fc_interleave_taps_f64(const fc_taps_params *q, const double *src, double *dst) noexcept

cdef extern from "fc_shuffle.h" nogil:
    ctypedef struct fc_shuffle_params:
        fc_index n, c, groups, plane
        int num_threads
    int fc_shuffle_fwd_f32(const fc_shuffle_params *p, const float *x, float *out) noexcept
    int fc_shuffle_fwd_f64(const fc_shuffle_params *p, const double *x, double *out) noexcept
    int fc_shuffle_bwd_f32(const fc_shuffle_params *p, const float *grad_out,
                           float *grad_in) noexcept
    int fc_shuffle_bwd_f64(const fc_shuffle_params *p, const double *grad_out,
                           double *grad_in) noexcept

cdef extern from "fc_depthwise.h" nogil:
    ctypedef struct fc_pointwise_params:
        fc_index n, c_in, c_out, size
        int num_threads
        int isa
        int w_kmajor
        fc_index groups
    int fc_depthwise_fwd_f32(const fc_conv_params *p, const float *x, const float *w,
                             const float *bias, float *out) noexcept
    int fc_depthwise_fwd_f64(const fc_conv_params *p, const double *x, const double *w,
                             const double *bias, double *out) noexcept
    int fc_depthwise_bwd_input_f32(const fc_conv_params *p, const float *gy, const float *w,
                                   float *gx) noexcept
    int fc_depthwise_bwd_input_f64(const fc_conv_params *p, const double *gy,
                                   const double *w, double *gx) noexcept
    int fc_depthwise_bwd_weight_f32(const fc_conv_params *p, const float *gy, const float *x,
                                    float *gw, float *gb) noexcept
    int fc_depthwise_bwd_weight_f64(const fc_conv_params *p, const double *gy,
                                    const double *x, double *gw, double *gb) noexcept
    int fc_separable_fwd_f32(const fc_conv_params *p, fc_index c_pw, const float *x,
                             const float *w, const float *bias, const float *pw,
                             const float *pb, float *out) noexcept
    int fc_separable_fwd_f64(const fc_conv_params *p, fc_index c_pw, const double *x,
                             const double *w, const double *bias, const double *pw,
                             const double *pb, double *out) noexcept
    void fc_separable_tile(const fc_conv_params *p, size_t itemsize, fc_index *rows,
                           fc_index *cols) noexcept
    int fc_pointwise_fwd_f32(const fc_pointwise_params *q, const float *inp, const float *w,
                             const float *bias, float *out) noexcept
    int fc_pointwise_fwd_f64(const fc_pointwise_params *q, const double *inp,
                             const double *w, const double *bias, double *out) noexcept
    int fc_pointwise_pairs_fwd_f32(const fc_pointwise_params *q, const fc_index *geom,
                                   const float *inp, const float *w, const float *bias,
                                   float *out) noexcept
    int fc_pointwise_pairs_fwd_f64(const fc_pointwise_params *q, const fc_index *geom,
                                   const double *inp, const double *w, const double *bias,
                                   double *out) noexcept
    int fc_pointwise_bwd_weight_f32(const fc_pointwise_params *q, const float *gy,
                                    const float *inp, float *gw, float *gb) noexcept
    int fc_pointwise_bwd_weight_f64(const fc_pointwise_params *q, const double *gy,
                                    const double *inp, double *gw, double *gb) noexcept
