/*
 * fc_col.template.c - im2col and col2im for one tile of output positions, one dtype.
 * Included (with FC_REAL and FC_DT defined) by every file that works on column
 * tiles: the BLAS path (fc_im2col.c) and the packed-GEMM path (fc_conv_simd.c).
 *
 *   col[(c, kd, kh, kw), t] = xpad[c, z*sd + kd*dd, y*sh + kh*dh, x*sw + kw*dw]
 * for the output positions p0 + t = (z, y, x) of one group, with xpad read through
 * the padding mode; col2im is its adjoint (a scatter-add in a fixed order).
 * The includer undefines IM2COL_ROWS, IM2COL_TILE and COL2IM_TILE after its own
 * template.
 */
#ifndef FC_REAL
#error "FC_REAL must be defined before including this template"
#endif

#define IM2COL_ROWS FC_CAT(fc_im2col_rows_, FC_DT)
/* Rows [k0, k1) of the column tile: col[(k - k0) * T + t] for positions
 * [p0, p0 + T) of group g of image xn (k = (c, kd, kh, kw) flattened). */
FC_MAYBE_UNUSED static void IM2COL_ROWS(const fc_conv_params *p, const FC_REAL *FC_RESTRICT xn,
                                        fc_index g, fc_index p0, fc_index T, fc_index k0,
                                        fc_index k1, FC_REAL *FC_RESTRICT col)
{
    const fc_index cig = p->c_in / p->groups;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OH = p->out[1], OW = p->out[2];
    const fc_index KD = p->k[0], KH = p->k[1], KW = p->k[2];
    const int mode = p->pad_mode;
    FC_REAL *row = col;
    for (fc_index k = k0; k < k1; k++, row += T) {
        const fc_index kw = k % KW, kh = k / KW % KH, kd = k / (KW * KH) % KD;
        const fc_index c = k / (KW * KH * KD);
        const FC_REAL *xc = xn + (g * cig + c) * D * H * W;
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
                const fc_index ix0 = xo * sw - p->pad[2] + kw * p->dil[2];
                /* outputs j in [ja, jb) read inside the row: ix0 + j*sw in [0, W) */
                fc_index ja = ix0 >= 0 ? 0 : (-ix0 + sw - 1) / sw;
                fc_index jb = ix0 >= W ? 0 : (W - 1 - ix0) / sw + 1;
                ja = ja < seg ? ja : seg;
                jb = jb < seg ? jb : seg;
                jb = jb > ja ? jb : ja;
                for (fc_index j = 0; j < ja; j++) {
                    const fc_index s = fc_pad_index(ix0 + j * sw, W, mode);
                    dst[j] = s < 0 ? (FC_REAL)0 : src[s];
                }
                if (sw == 1)
                    memcpy(dst + ja, src + ix0 + ja, (size_t)(jb - ja) * sizeof(FC_REAL));
                else
                    for (fc_index j = ja; j < jb; j++)
                        dst[j] = src[ix0 + j * sw];
                for (fc_index j = jb; j < seg; j++) {
                    const fc_index s = fc_pad_index(ix0 + j * sw, W, mode);
                    dst[j] = s < 0 ? (FC_REAL)0 : src[s];
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

#define IM2COL_TILE FC_CAT(fc_im2col_tile_, FC_DT)
/* col[k * T + t] for positions [p0, p0 + T) of group g of image xn. */
FC_MAYBE_UNUSED static void IM2COL_TILE(const fc_conv_params *p, const FC_REAL *FC_RESTRICT xn, fc_index g,
                        fc_index p0, fc_index T, FC_REAL *FC_RESTRICT col)
{
    const fc_index krows = p->c_in / p->groups * p->k[0] * p->k[1] * p->k[2];
    IM2COL_ROWS(p, xn, g, p0, T, 0, krows, col);
}

#define COL2IM_TILE FC_CAT(fc_col2im_tile_, FC_DT)
/* The adjoint of IM2COL_TILE: gxn[c, i] += col[k * T + t] for every (k, t) that
 * read input cell i (through the padding mode), in a fixed order. */
FC_MAYBE_UNUSED static void COL2IM_TILE(const fc_conv_params *p, FC_REAL *FC_RESTRICT gxn, fc_index g,
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

