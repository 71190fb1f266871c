/*
 * fc_im2col.c - im2col + BLAS GEMM convolution (float and double from one template).
 */
#include <stdlib.h>
#include <string.h>

#include "fc_conv.h"

/* Workspace budget for one im2col tile, and the narrowest tile allowed. */
#define FC_IM2COL_WORKSPACE ((fc_index)8 << 20)
#define FC_IM2COL_MIN_TILE 64

static int fc_im2col_is_identity(const fc_conv_params *p)
{
    for (int a = 0; a < 3; a++)
        if (p->k[a] != 1 || p->stride[a] != 1 || p->pad[a] != 0 || p->in[a] != p->out[a])
            return 0;
    return 1;
}

static fc_index fc_im2col_tile_columns(const fc_conv_params *p, size_t itemsize)
{
    const fc_index K = p->c_in / p->groups * p->k[0] * p->k[1] * p->k[2];
    const fc_index P = p->out[0] * p->out[1] * p->out[2];
    fc_index T = FC_IM2COL_WORKSPACE / (K * (fc_index)itemsize);
    if (T < FC_IM2COL_MIN_TILE)
        T = FC_IM2COL_MIN_TILE;
    return T < P ? T : (P > 0 ? P : 1);
}

size_t fc_conv_im2col_workspace_bytes(const fc_conv_params *p, size_t itemsize)
{
    if (fc_im2col_is_identity(p))
        return 0;
    const fc_index K = p->c_in / p->groups * p->k[0] * p->k[1] * p->k[2];
    size_t bytes;
    if (fc_mul_overflows(K * (fc_index)itemsize, fc_im2col_tile_columns(p, itemsize), &bytes))
        return (size_t)-1;
    return bytes;
}

#define FC_REAL float
#define FC_DT f32
#define FC_GEMM_FN fc_sgemm_fn
#include "fc_im2col.template.c"
#undef FC_REAL
#undef FC_DT
#undef FC_GEMM_FN

#define FC_REAL double
#define FC_DT f64
#define FC_GEMM_FN fc_dgemm_fn
#include "fc_im2col.template.c"
#undef FC_REAL
#undef FC_DT
#undef FC_GEMM_FN
