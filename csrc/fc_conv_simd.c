/*
 * fc_conv_simd.c - the SIMD-width-dependent convolution kernels, compiled once
 * per SIMD path (see fc_simd.h and csrc/meson.build), for float and double.
 */
#include <stdlib.h>
#include <string.h>

#include "fc_common.h"
#include "fc_params.h"
#include "fc_simd.h"
#include "fc_parallel.h"

/* Most outputs of one row handled per panel fill: bounds the panel to
 * (c_in/groups * kd * kh) x stride x (FC_CHUNK + reach) elements per thread. */
#define FC_CHUNK 256
/* Target size of the 'gemm' algorithm's per-thread column tile: about half a
 * typical L2, so the tile stays cached while every channel tile reads it. */
#define FC_GEMM_COL_BYTES ((fc_index)256 << 10)

/* prototypes, so -Wmissing-prototypes is happy */
int FC_ISA_FN(fc_conv_fwd_direct_f32)(const fc_conv_params *, const float *, const float *,
                                      const float *, float *);
int FC_ISA_FN(fc_conv_fwd_direct_f64)(const fc_conv_params *, const double *, const double *,
                                      const double *, double *);
int FC_ISA_FN(fc_conv_fwd_gemm_f32)(const fc_conv_params *, const float *, const float *,
                                    const float *, float *);
int FC_ISA_FN(fc_conv_fwd_gemm_f64)(const fc_conv_params *, const double *, const double *,
                                    const double *, double *);
int FC_ISA_FN(fc_conv_bwd_input_f32)(const fc_conv_params *, const float *, const float *, float *);
int FC_ISA_FN(fc_conv_bwd_input_f64)(const fc_conv_params *, const double *, const double *, double *);
int FC_ISA_FN(fc_conv_bwd_weight_f32)(const fc_conv_params *, const float *, const float *, float *);
int FC_ISA_FN(fc_conv_bwd_weight_f64)(const fc_conv_params *, const double *, const double *, double *);
int FC_ISA_FN(fc_conv_bwd_bias_f32)(const fc_conv_params *, const float *, float *);
int FC_ISA_FN(fc_conv_bwd_bias_f64)(const fc_conv_params *, const double *, double *);

#define FC_REAL float
#define FC_DT f32
#include "fc_conv.template.c"
#undef FC_REAL
#undef FC_DT

#define FC_REAL double
#define FC_DT f64
#include "fc_conv.template.c"
#undef FC_REAL
#undef FC_DT
