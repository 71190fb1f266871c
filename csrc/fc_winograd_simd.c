/*
 * fc_winograd_simd.c - the Winograd F(4x4, 3x3) kernels, compiled once per SIMD
 * path (see fc_simd.h and csrc/meson.build), for float and double.
 */
#include <stdlib.h>
#include <string.h>

#include "fc_common.h"
#include "fc_params.h"
#include "fc_simd.h"
#include "fc_parallel.h"

/* Target size of a task's transformed input tiles (kept in L2 while every
 * output-channel tile reads them). */
#define FC_WG_V_BYTES ((fc_index)1 << 20)
/* Most tiles per task. */
#define FC_WG_MAX_TILES 128

int FC_ISA_FN(fc_conv_fwd_winograd_f32)(const fc_conv_params *, const float *, const float *,
                                        const float *, float *);
int FC_ISA_FN(fc_conv_fwd_winograd_f64)(const fc_conv_params *, const double *, const double *,
                                        const double *, double *);

#define FC_REAL float
#define FC_DT f32
#include "fc_winograd.template.c"
#undef FC_REAL
#undef FC_DT

#define FC_REAL double
#define FC_DT f64
#include "fc_winograd.template.c"
#undef FC_REAL
#undef FC_DT
