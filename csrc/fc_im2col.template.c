/*
 * fc_im2col.template.c - im2col + BLAS GEMM convolution forward, one dtype.
 * Included by fc_im2col.c with FC_REAL, FC_DT and FC_GEMM_FN (the xGEMM pointer type).
 *
 * For image n and group g, with K = (c_in/groups)*kd*kh*kw and P = the number
 * of output positions, the convolution is the product
 *     out[g] (cog x P) = W[g] (cog x K) . col (K x P),
 *     col[(c, kd, kh, kw), (z, y, x)] = xpad[c, z*sd + kd*dd, y*sh + kh*dh, x*sw + kw*dw].
 * col is never built whole: the positions are processed in tiles of T columns,
 * T chosen so a tile's K x T workspace stays within FC_IM2COL_WORKSPACE bytes
 * (but at least FC_IM2COL_MIN_TILE columns).  A 1x1 kernel with stride 1 and no
 * padding needs no im2col: the input already is col.
 * BLAS is column-major; the row-major product above is computed as
 * out^T = col^T . W^T, i.e. gemm('N', 'N', m = T, n = cog, k = K, col, W, out).
 */
#ifndef FC_REAL
#error "FC_REAL must be defined before including this template"
#endif

#include "fc_col.template.c"

int FC_CAT(fc_conv_fwd_im2col_, FC_DT)(const fc_conv_params *p, const FC_REAL *x,
                                       const FC_REAL *w, const FC_REAL *bias, FC_REAL *out,
                                       FC_GEMM_FN gemm)
{
    const fc_index G = p->groups, cig = p->c_in / G, cog = p->c_out / G;
    const fc_index K = cig * p->k[0] * p->k[1] * p->k[2];
    const fc_index in_plane = p->in[0] * p->in[1] * p->in[2];
    const fc_index P = p->out[0] * p->out[1] * p->out[2];
    if (p->n == 0 || P == 0 || p->c_out == 0)
        return FC_OK;
    const fc_index T = fc_im2col_tile_columns(p, sizeof(FC_REAL));
    const int identity = fc_im2col_is_identity(p);
    FC_REAL *col = NULL;
    if (!identity) {
        size_t bytes;
        if (fc_mul_overflows(K * (fc_index)sizeof(FC_REAL), T, &bytes) || !(col = fc_scratch_alloc(bytes)))
            return FC_ENOMEM;
    }
    char no = 'N';
    FC_REAL one = 1;
    for (fc_index n = 0; n < p->n; n++) {
        const FC_REAL *xn = x + (size_t)n * p->c_in * in_plane;
        for (fc_index g = 0; g < G; g++) {
            FC_REAL *outg = out + ((size_t)n * p->c_out + g * cog) * P;
            FC_REAL beta = 0;
            if (bias) {
                for (fc_index o = 0; o < cog; o++)
                    for (fc_index q = 0; q < P; q++)
                        outg[o * P + q] = bias[g * cog + o];
                beta = 1;
            }
            for (fc_index p0 = 0; p0 < P; p0 += T) {
                fc_blas_int m = (fc_blas_int)(P - p0 < T ? P - p0 : T);
                fc_blas_int nn = (fc_blas_int)cog, kk = (fc_blas_int)K;
                fc_blas_int ldw = (fc_blas_int)K, ldc = (fc_blas_int)P, ldb;
                FC_REAL *b;
                if (identity) {
                    b = (FC_REAL *)(xn + g * cig * in_plane + p0);
                    ldb = (fc_blas_int)in_plane;
                } else {
                    IM2COL_TILE(p, xn, g, p0, m, col);
                    b = col;
                    ldb = m;
                }
                gemm(&no, &no, &m, &nn, &kk, &one, b, &ldb, (FC_REAL *)(w + g * cog * K), &ldw,
                     &beta, outg + p0, &ldc);
            }
        }
    }
    fc_scratch_free(col);
    return FC_OK;
}

/* Backward with the same tiles:
 *   gw[g] (cog x K) += gy[g] tile (cog x T) . col^T      (weight gradient)
 *   dcol (K x T)     = W[g]^T . gy[g] tile, then col2im   (input gradient)
 * gx or gw may be NULL (not needed; x is not read when gw is NULL).  Runs in the
 * calling thread. */
int FC_CAT(fc_conv_bwd_im2col_, FC_DT)(const fc_conv_params *p, const FC_REAL *x,
                                       const FC_REAL *w, const FC_REAL *gy, FC_REAL *gx,
                                       FC_REAL *gw, FC_GEMM_FN gemm)
{
    const fc_index G = p->groups, cig = p->c_in / G, cog = p->c_out / G;
    const fc_index K = cig * p->k[0] * p->k[1] * p->k[2];
    const fc_index in_plane = p->in[0] * p->in[1] * p->in[2];
    const fc_index P = p->out[0] * p->out[1] * p->out[2];
    if (gw)
        memset(gw, 0, (size_t)p->c_out * K * sizeof(FC_REAL));
    if (gx)
        memset(gx, 0, (size_t)p->n * p->c_in * in_plane * sizeof(FC_REAL));
    if (p->n == 0 || P == 0)
        return FC_OK;
    const fc_index T = fc_im2col_tile_columns(p, sizeof(FC_REAL));
    const int identity = fc_im2col_is_identity(p);
    FC_REAL *col = NULL;
    size_t bytes;
    if (fc_mul_overflows(K * (fc_index)sizeof(FC_REAL), T, &bytes) || !(col = fc_scratch_alloc(bytes)))
        return FC_ENOMEM;
    char no = 'N', tr = 'T';
    FC_REAL one = 1, zero = 0;
    for (fc_index n = 0; n < p->n; n++) {
        const FC_REAL *xn = gw ? x + (size_t)n * p->c_in * in_plane : NULL;
        FC_REAL *gxn = gx ? gx + (size_t)n * p->c_in * in_plane : NULL;
        for (fc_index g = 0; g < G; g++) {
            FC_REAL *gyg = (FC_REAL *)(gy + ((size_t)n * p->c_out + g * cog) * P);
            FC_REAL *wg = (FC_REAL *)(w + g * cog * K);
            FC_REAL *gwg = gw ? gw + g * cog * K : NULL;
            for (fc_index p0 = 0; p0 < P; p0 += T) {
                fc_blas_int m = (fc_blas_int)(P - p0 < T ? P - p0 : T);
                fc_blas_int kk = (fc_blas_int)K, nco = (fc_blas_int)cog, ldp = (fc_blas_int)P, ldb;
                if (gwg) {
                    FC_REAL *b;
                    if (identity) {
                        b = (FC_REAL *)(xn + g * cig * in_plane + p0);
                        ldb = (fc_blas_int)in_plane;
                    } else {
                        IM2COL_TILE(p, xn, g, p0, m, col);
                        b = col;
                        ldb = m;
                    }
                    /* gw^T (K x cog, col-major) += col (K x m) . gy^T (m x cog) */
                    gemm(&tr, &no, &kk, &nco, &m, &one, b, &ldb, gyg + p0, &ldp, &one, gwg, &kk);
                }
                if (!gxn)
                    continue;
                if (identity) {
                    /* gx^T (m x cig) = gy^T (m x cog) . W (cog x cig) */
                    fc_blas_int ldx = (fc_blas_int)in_plane;
                    gemm(&no, &tr, &m, &kk, &nco, &one, gyg + p0, &ldp, wg, &kk, &one,
                         gxn + g * cig * in_plane + p0, &ldx);
                } else {
                    /* dcol^T (m x K) = gy^T (m x cog) . W (cog x K) */
                    gemm(&no, &tr, &m, &kk, &nco, &one, gyg + p0, &ldp, wg, &kk, &zero, col, &m);
                    COL2IM_TILE(p, gxn, g, p0, m, col);
                }
            }
        }
    }
    fc_scratch_free(col);
    return FC_OK;
}

#undef IM2COL_TILE
#undef IM2COL_ROWS
#undef COL2IM_TILE
