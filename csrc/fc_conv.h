/*
 * fc_conv.h - convolution forward kernels (N-d: 1-D and 2-D calls use size-1
 * leading spatial dimensions).
 *
 * Arrays are C-contiguous:
 *   x    (n, c_in, in[0], in[1], in[2])
 *   w    (c_out, c_in / groups, k[0], k[1], k[2])
 *   bias (c_out,) or NULL
 *   out  (n, c_out, out[0], out[1], out[2]), fully overwritten
 * Returns FC_OK, or FC_ENOMEM when scratch cannot be allocated.
 */
#ifndef FC_CONV_H
#define FC_CONV_H

#include "fc_common.h"
#include "fc_params.h"

/* Direct convolution: an OpenMP loop nest over output rows with a register-tiled
 * SIMD inner kernel; p->isa picks the compiled SIMD path (falls back to baseline
 * when that path was not compiled). */
int fc_conv_fwd_direct_f32(const fc_conv_params *p, const float *x, const float *w,
                           const float *bias, float *out);
int fc_conv_fwd_direct_f64(const fc_conv_params *p, const double *x, const double *w,
                           const double *bias, double *out);

/* Packed GEMM over column tiles (im2col into a per-thread tile, then the same
 * register-tiled micro-kernel); fastconv's thread pool, no BLAS. */
int fc_conv_fwd_gemm_f32(const fc_conv_params *p, const float *x, const float *w,
                         const float *bias, float *out);
int fc_conv_fwd_gemm_f64(const fc_conv_params *p, const double *x, const double *w,
                         const double *bias, double *out);

/* Backward of the direct convolution (same parameters and layouts as forward;
 * gy has the output's shape).  All outputs are fully overwritten, and each of
 * their elements is reduced by one thread in a fixed order, so results do not
 * depend on p->num_threads.
 *   bwd_input:  gx (n, c_in, in...)  = d loss / d x, padded cells folded back
 *               onto the input cells they read (reflect/replicate/circular)
 *   bwd_weight: gw (c_out, c_in / groups, k...) = d loss / d w
 *   bwd_bias:   gb (c_out,) = sum of gy over batch and positions */
int fc_conv_bwd_input_f32(const fc_conv_params *p, const float *gy, const float *w, float *gx);
int fc_conv_bwd_input_f64(const fc_conv_params *p, const double *gy, const double *w, double *gx);
int fc_conv_bwd_weight_f32(const fc_conv_params *p, const float *x, const float *gy, float *gw);
int fc_conv_bwd_weight_f64(const fc_conv_params *p, const double *x, const double *gy, double *gw);
int fc_conv_bwd_bias_f32(const fc_conv_params *p, const float *gy, float *gb);
int fc_conv_bwd_bias_f64(const fc_conv_params *p, const double *gy, double *gb);

/* Fortran BLAS xGEMM, as scipy.linalg.cython_blas exposes it (LP64 or ILP64
 * integers, chosen at build time to match SciPy). */
#ifdef FC_BLAS_ILP64
typedef int64_t fc_blas_int;
#else
typedef int fc_blas_int;
#endif
typedef void (*fc_sgemm_fn)(char *transa, char *transb, fc_blas_int *m, fc_blas_int *n,
                            fc_blas_int *k, float *alpha, float *a, fc_blas_int *lda,
                            float *b, fc_blas_int *ldb, float *beta, float *c,
                            fc_blas_int *ldc);
typedef void (*fc_dgemm_fn)(char *transa, char *transb, fc_blas_int *m, fc_blas_int *n,
                            fc_blas_int *k, double *alpha, double *a, fc_blas_int *lda,
                            double *b, fc_blas_int *ldb, double *beta, double *c,
                            fc_blas_int *ldc);

/* im2col + GEMM: for each image and group, the output positions are processed in
 * tiles; a tile's columns (c, kd, kh, kw) x (positions) are gathered into a
 * workspace of at most fc_conv_im2col_workspace_bytes() and multiplied by the
 * group's weights with `gemm`.  Runs in the calling thread (no pool threads):
 * the GEMM's threads are BLAS's own (see fc_threads.h). */
int fc_conv_fwd_im2col_f32(const fc_conv_params *p, const float *x, const float *w,
                           const float *bias, float *out, fc_sgemm_fn gemm);
int fc_conv_fwd_im2col_f64(const fc_conv_params *p, const double *x, const double *w,
                           const double *bias, double *out, fc_dgemm_fn gemm);

/* Backward by im2col + GEMM with the same tiles: gw (always) and gx (unless NULL),
 * both fully overwritten.  Runs in the calling thread; BLAS threads only. */
int fc_conv_bwd_im2col_f32(const fc_conv_params *p, const float *x, const float *w,
                           const float *gy, float *gx, float *gw, fc_sgemm_fn gemm);
int fc_conv_bwd_im2col_f64(const fc_conv_params *p, const double *x, const double *w,
                           const double *gy, double *gx, double *gw, fc_dgemm_fn gemm);

/* Workspace the im2col path allocates for these parameters and item size. */
size_t fc_conv_im2col_workspace_bytes(const fc_conv_params *p, size_t itemsize);

#endif /* FC_CONV_H */
