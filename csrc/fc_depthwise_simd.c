/*
 * fc_depthwise_simd.c - depthwise, separable and pointwise kernels, compiled once
 * per SIMD path (see fc_simd.h and csrc/meson.build), for float and double.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fc_common.h"
#include "fc_depthwise.h"
#include "fc_params.h"
#include "fc_simd.h"
#include "fc_parallel.h"

#if defined(FC_ISA_AVX512_BUILD) || defined(FC_ISA_AVX2_BUILD)
#include <immintrin.h> /* masked loads and stores of the direct 3x3 kernel */
#endif

/* prototypes, so -Wmissing-prototypes is happy */
#define FC_DW_PROTOTYPES(R, DT)                                                              \
    int FC_ISA_FN(fc_depthwise_fwd_##DT)(const fc_conv_params *, const R *, const R *,      \
                                         const R *, R *);                                    \
    int FC_ISA_FN(fc_depthwise_bwd_input_##DT)(const fc_conv_params *, const R *, const R *, \
                                               R *);                                         \
    int FC_ISA_FN(fc_depthwise_bwd_weight_##DT)(const fc_conv_params *, const R *,          \
                                                const R *, R *, R *);                        \
    int FC_ISA_FN(fc_separable_fwd_##DT)(const fc_conv_params *, fc_index, const R *,       \
                                         const R *, const R *, const R *, const R *, R *);   \
    int FC_ISA_FN(fc_pointwise_fwd_##DT)(const fc_pointwise_params *, const R *, const R *, \
                                         const R *, R *);                                    \
    int FC_ISA_FN(fc_pointwise_pairs_fwd_##DT)(const fc_pointwise_params *, const fc_index *, \
                                               const R *, const R *, const R *, R *);        \
    int FC_ISA_FN(fc_pointwise_bwd_weight_##DT)(const fc_pointwise_params *, const R *,     \
                                                const R *, R *, R *);
FC_DW_PROTOTYPES(float, f32)
FC_DW_PROTOTYPES(double, f64)
#undef FC_DW_PROTOTYPES

#define FC_REAL float
#define FC_REAL_BYTES 4
#define FC_DT f32
#define FC_ILANE int32_t
#include "fc_depthwise.template.c"
#undef FC_REAL
#undef FC_REAL_BYTES
#undef FC_DT
#undef FC_ILANE

#define FC_REAL double
#define FC_REAL_BYTES 8
#define FC_DT f64
#define FC_ILANE int64_t
#include "fc_depthwise.template.c"
#undef FC_REAL
#undef FC_REAL_BYTES
#undef FC_DT
#undef FC_ILANE
