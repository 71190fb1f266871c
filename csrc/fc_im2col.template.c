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

#define IM2COL_TILE FC_CAT(fc_im2col_tile_, FC_DT)
/* col[k * T + t] for positions [p0, p0 + T) of group g of image xn. */
static void IM2COL_TILE(const fc_conv_params *p, const FC_REAL *FC_RESTRICT xn, fc_index g,
                        fc_index p0, fc_index T, FC_REAL *FC_RESTRICT col)
{
    const fc_index cig = p->c_in / p->groups;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OH = p->out[1], OW = p->out[2];
    const int mode = p->pad_mode;
    FC_REAL *row = col;
    for (fc_index c = 0; c < cig; c++) {
        const FC_REAL *xc = xn + (g * cig + c) * D * H * W;
        for (fc_index kd = 0; kd < p->k[0]; kd++)
            for (fc_index kh = 0; kh < p->k[1]; kh++)
                for (fc_index kw = 0; kw < p->k[2]; kw++, row += T) {
                    fc_index xo = p0 % OW, y = (p0 / OW) % OH, z = p0 / (OW * OH);
                    for (fc_index t = 0; t < T;) {
                        const fc_index seg = OW - xo < T - t ? OW - xo : T - t;
                        const fc_index iz = fc_pad_index(z * p->stride[0] - p->pad[0] + kd * p->dil[0], D, mode);
                        const fc_index iy = fc_pad_index(y * p->stride[1] - p->pad[1] + kh * p->dil[1], H, mode);
                        FC_REAL *dst = row + t;
                        if (iz < 0 || iy < 0) {
                            memset(dst, 0, (size_t)seg * sizeof(FC_REAL));
                        } else {
                            const FC_REAL *src = xc + (iz * H + iy) * W;
                            const fc_index sw = p->stride[2];
                            fc_index ix = xo * sw - p->pad[2] + kw * p->dil[2];
                            for (fc_index j = 0; j < seg; j++, ix += sw) {
                                if (ix >= 0 && ix < W) {
                                    dst[j] = src[ix];
                                } else {
                                    fc_index s = fc_pad_index(ix, W, mode);
                                    dst[j] = s < 0 ? (FC_REAL)0 : src[s];
                                }
                            }
                        }
                        t += seg;
                        xo = 0;
                        if (++y == OH) {
                            y = 0;
                            z++;
                        }
                    }
                }
    }
}

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
        if (fc_mul_overflows(K * (fc_index)sizeof(FC_REAL), T, &bytes) || !(col = malloc(bytes)))
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
    free(col);
    return FC_OK;
}

#define COL2IM_TILE FC_CAT(fc_col2im_tile_, FC_DT)
/* The adjoint of IM2COL_TILE: gxn[c, i] += col[k * T + t] for every (k, t) that
 * read input cell i (through the padding mode), in a fixed order. */
static void COL2IM_TILE(const fc_conv_params *p, FC_REAL *FC_RESTRICT gxn, fc_index g,
                        fc_index p0, fc_index T, const FC_REAL *FC_RESTRICT col)
{
    const fc_index cig = p->c_in / p->groups;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OH = p->out[1], OW = p->out[2];
    const int mode = p->pad_mode;
    const FC_REAL *row = col;
    for (fc_index c = 0; c < cig; c++) {
        FC_REAL *gc = gxn + (g * cig + c) * D * H * W;
        for (fc_index kd = 0; kd < p->k[0]; kd++)
            for (fc_index kh = 0; kh < p->k[1]; kh++)
                for (fc_index kw = 0; kw < p->k[2]; kw++, row += T) {
                    fc_index xo = p0 % OW, y = (p0 / OW) % OH, z = p0 / (OW * OH);
                    for (fc_index t = 0; t < T;) {
                        const fc_index seg = OW - xo < T - t ? OW - xo : T - t;
                        const fc_index iz = fc_pad_index(z * p->stride[0] - p->pad[0] + kd * p->dil[0], D, mode);
                        const fc_index iy = fc_pad_index(y * p->stride[1] - p->pad[1] + kh * p->dil[1], H, mode);
                        if (iz >= 0 && iy >= 0) {
                            FC_REAL *dst = gc + (iz * H + iy) * W;
                            const fc_index sw = p->stride[2];
                            fc_index ix = xo * sw - p->pad[2] + kw * p->dil[2];
                            for (fc_index j = 0; j < seg; j++, ix += sw) {
                                fc_index s = ix >= 0 && ix < W ? ix : fc_pad_index(ix, W, mode);
                                if (s >= 0)
                                    dst[s] += row[t + j];
                            }
                        }
                        t += seg;
                        xo = 0;
                        if (++y == OH) {
                            y = 0;
                            z++;
                        }
                    }
                }
    }
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
    if (fc_mul_overflows(K * (fc_index)sizeof(FC_REAL), T, &bytes) || !(col = malloc(bytes)))
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
    free(col);
    return FC_OK;
}

#undef IM2COL_TILE
#undef COL2IM_TILE
