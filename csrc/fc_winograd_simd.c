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
#include "fc_conv.h"

/* Target size of a block's transformed input tiles, read once per output-channel
 * tile: 128 KiB stays in L2 beside the products and weights (measured on a
 * 1 MiB-L2 core: 1 MiB blocks ran 1.5-2x slower at 2 threads, 64 KiB slower too). */
#define FC_WG_V_BYTES ((fc_index)1 << 17)
/* Bytes of transformed weights a fused task makes at a time (36 rows of
 * channels x MR values), L1-resident beside the products while multiplied.
 * Sized in bytes, not channels: 32 float64 channels made 72 KiB with rows 2 KiB
 * apart, whose stores thrashed two L1 sets (the weight transform took 8x
 * float32's time).  18 KiB: float64 256-channel 14x14 at 1 thread 2.9 -> 2.5 ms
 * against 36 KiB, float32 the same. */
#define FC_WG_FUSED_BYTES ((fc_index)18 << 10)
/* Most tiles per task. */
#define FC_WG_MAX_TILES 128
/* Target size of the weight gradient's transformed input and output-gradient
 * tiles per super-block (every group): written by one parallel step, read by the
 * next while still in the cores' L2 or L3. */
#define FC_WG_BWD_BYTES ((fc_index)2 << 20)
/* Largest weight-gradient sums (36 x C_in/groups x kD x C_out, in bytes) taken
 * by the Winograd path; larger layers run the direct weight gradient. */
#define FC_WG_BWD_SUMS_MAX ((size_t)64 << 20)
/* Largest depth-shared transformed input (36/16 of the padded input, about),
 * in bytes; larger 3-D calls transform per depth tap instead. */
#define FC_WG_DEPTH_MAX ((size_t)256 << 20)

int FC_ISA_FN(fc_conv_fwd_winograd_f32)(const fc_conv_params *, const float *, const float *,
                                        const float *, float *);
int FC_ISA_FN(fc_conv_fwd_winograd_f64)(const fc_conv_params *, const double *, const double *,
                                        const double *, double *);
int FC_ISA_FN(fc_conv_bwd_weight_winograd_f32)(const fc_conv_params *, const float *,
                                               const float *, float *);
int FC_ISA_FN(fc_conv_bwd_weight_winograd_f64)(const fc_conv_params *, const double *,
                                               const double *, double *);

#define FC_REAL float
#define FC_REAL_BYTES 4
#define FC_DT f32
#include "fc_winograd.template.c"
#undef FC_REAL
#undef FC_REAL_BYTES
#undef FC_DT

#define FC_REAL double
#define FC_REAL_BYTES 8
#define FC_DT f64
#include "fc_winograd.template.c"
#undef FC_REAL
#undef FC_REAL_BYTES
#undef FC_DT
