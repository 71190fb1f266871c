/*
 * fc_conv_direct.template.c - direct convolution forward, one dtype.
 * Included by fc_conv_simd.c with FC_REAL (float/double) and FC_DT (f32/f64).
 *
 *   out[n, g*Cog + o, z, y, x] = bias[g*Cog + o]
 *       + sum_{c < Cig, kd, kh, kw} w[g*Cog + o, c, kd, kh, kw]
 *                                   * xpad[n, g*Cig + c, z*sd + kd*dd, y*sh + kh*dh, x*sw + kw*dw]
 * where xpad is the input read through the padding mode (fc_pad_index).
 *
 * Phases:
 *  1. pack the weights once per call as [g][oc tile][c, kd, kh][kw][mr] (zero-filled
 *     past the group's last output channel), so the micro-kernel reads them in order;
 *  2. split the output into tasks (n, g, z, y, channel range) run by the OpenMP
 *     team with dynamic scheduling; a task walks its output row in chunks of at
 *     most FC_CHUNK outputs;
 *  3. for a chunk, gather each input row it needs, (c, kd, kh), padded through
 *     the padding mode and split into `stride` phases, into the thread's own row
 *     panel: phase q, element j holds xpad[.., (x0 + j) * sw + q - pw], so that
 *     for every kw the inputs of consecutive outputs are consecutive in memory;
 *  4. the micro-kernel keeps an mr x (nv vectors) tile of outputs in registers,
 *     accumulates over (c, kd, kh, kw) and stores the tile once, bias included.
 * Only one output row's input rows are ever padded, never the whole input.
 */
#ifndef FC_REAL
#error "FC_REAL must be defined (float or double) before including this template"
#endif
#ifndef FC_DT
#error "FC_DT must be defined (f32 or f64) before including this template"
#endif

#define FC_VL (FC_VBYTES / (int)sizeof(FC_REAL))
#define VEC FC_CAT(fc_vec_, FC_DT)
typedef FC_REAL VEC __attribute__((vector_size(FC_VBYTES)));

#define LOADV FC_CAT(fc_loadv_, FC_DT)
FC_INLINE VEC LOADV(const FC_REAL *p)
{
    VEC v;
    memcpy(&v, p, sizeof v);
    return v;
}

#define BCAST FC_CAT(fc_bcast_, FC_DT)
/* s - 0 is exactly s (also for -0), so this folds to a plain broadcast. */
FC_INLINE VEC BCAST(FC_REAL s) { return s - (VEC){0}; }

/* mr x nv micro-kernel (mr output channels, nv vectors of outputs along the row;
 * called with constant mr, nv so the accumulators live in registers).
 * panel: `nrows` rows, `row_stride` apart; taps[t]: where kernel tap t of output
 * j0 starts in a row, less j0; wp: packed weights [nrows][kw][mr]; bias_tile: mr
 * biases.  Writes the
 * tile as mr rows of nv * FC_VL values. */
#define UKERNEL FC_CAT(fc_conv_direct_ukernel_, FC_DT)
FC_INLINE void UKERNEL(int mr, int nv, const FC_REAL *FC_RESTRICT panel, fc_index nrows,
                       fc_index row_stride, const fc_index *FC_RESTRICT taps, fc_index kw,
                       fc_index j0, const FC_REAL *FC_RESTRICT wp,
                       const FC_REAL *FC_RESTRICT bias_tile, FC_REAL *FC_RESTRICT tile)
{
    VEC acc[2 * FC_MR][2];
#pragma GCC unroll 16
    for (int m = 0; m < mr; m++) {
        VEC b = BCAST(bias_tile[m]);
        acc[m][0] = b;
        acc[m][1] = b;
    }
    for (fc_index r = 0; r < nrows; r++) {
        const FC_REAL *row = panel + r * row_stride + j0;
        for (fc_index t = 0; t < kw; t++) {
            const FC_REAL *src = row + taps[t];
            VEC v0 = LOADV(src);
            VEC v1 = nv > 1 ? LOADV(src + FC_VL) : v0;
#pragma GCC unroll 16
            for (int m = 0; m < mr; m++) {
                VEC wv = BCAST(wp[m]);
                acc[m][0] += wv * v0;
                if (nv > 1)
                    acc[m][1] += wv * v1;
            }
            wp += mr;
        }
    }
#pragma GCC unroll 16
    for (int m = 0; m < mr; m++) {
        memcpy(tile + m * nv * FC_VL, &acc[m][0], sizeof(VEC));
        if (nv > 1)
            memcpy(tile + m * nv * FC_VL + FC_VL, &acc[m][1], sizeof(VEC));
    }
}

/* Fill the row panel for output row (z, y), outputs [x0, x0 + cw), of group g. */
#define FILL_PANEL FC_CAT(fc_conv_direct_fill_panel_, FC_DT)
static void FILL_PANEL(const fc_conv_params *p, const FC_REAL *FC_RESTRICT xn, fc_index g,
                       fc_index z, fc_index y, fc_index x0, fc_index plen,
                       fc_index row_stride, const unsigned char *phase_used,
                       FC_REAL *FC_RESTRICT panel)
{
    const fc_index cig = p->c_in / p->groups;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index sw = p->stride[2], pw = p->pad[2];
    const int mode = p->pad_mode;
    fc_index r = 0;
    for (fc_index c = 0; c < cig; c++) {
        const FC_REAL *xc = xn + (g * cig + c) * D * H * W;
        for (fc_index kd = 0; kd < p->k[0]; kd++) {
            fc_index iz = fc_pad_index(z * p->stride[0] - p->pad[0] + kd * p->dil[0], D, mode);
            for (fc_index kh = 0; kh < p->k[1]; kh++, r++) {
                fc_index iy = fc_pad_index(y * p->stride[1] - p->pad[1] + kh * p->dil[1], H, mode);
                FC_REAL *dst = panel + r * row_stride;
                if (iz < 0 || iy < 0) {
                    memset(dst, 0, (size_t)row_stride * sizeof(FC_REAL));
                    continue;
                }
                const FC_REAL *src = xc + (iz * H + iy) * W;
                for (fc_index q = 0; q < sw; q++) {
                    if (!phase_used[q])
                        continue; /* no kernel tap reads this phase */
                    FC_REAL *d = dst + q * plen;
                    fc_index ix = x0 * sw + q - pw; /* input index of d[0] */
                    fc_index j = 0;
                    /* left edge, interior (a strided copy), right edge */
                    for (; j < plen && ix < 0; j++, ix += sw) {
                        fc_index s = fc_pad_index(ix, W, mode);
                        d[j] = s < 0 ? (FC_REAL)0 : src[s];
                    }
                    for (; j < plen && ix < W; j++, ix += sw)
                        d[j] = src[ix];
                    for (; j < plen; j++, ix += sw) {
                        fc_index s = fc_pad_index(ix, W, mode);
                        d[j] = s < 0 ? (FC_REAL)0 : src[s];
                    }
                }
            }
        }
    }
}

int FC_ISA_FN(FC_CAT(fc_conv_fwd_direct_, FC_DT))(const fc_conv_params *p,
                                                  const FC_REAL *x, const FC_REAL *w,
                                                  const FC_REAL *bias, FC_REAL *out)
{
    const fc_index G = p->groups, cig = p->c_in / G, cog = p->c_out / G;
    const fc_index KD = p->k[0], KH = p->k[1], KW = p->k[2];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index sw = p->stride[2], dw = p->dil[2];
    const fc_index nrows = cig * KD * KH;           /* input rows per output row */
    const fc_index ktot = nrows * KW;               /* reduction length */
    /* Rows of one or two vectors; a one-vector row gets twice the channels so the
     * tile keeps as many accumulators. */
    const int nv = OW > FC_VL ? 2 : 1;
    const int mr = nv == 2 ? FC_MR : 2 * FC_MR;
    const fc_index ntile = (cog + mr - 1) / mr; /* oc tiles per group */
    const fc_index in_plane = p->in[0] * p->in[1] * p->in[2];
    const fc_index out_plane = OD * OH * OW;
    if (p->n == 0 || out_plane == 0 || p->c_out == 0)
        return FC_OK;

    const fc_index nr = (fc_index)nv * FC_VL;
    fc_index chunk = OW < FC_CHUNK ? OW : FC_CHUNK;
    chunk = (chunk + nr - 1) / nr * nr;
    /* Each phase holds the chunk plus the reach of the kernel, plus slack so the
     * second vector of the last tile stays inside the panel. */
    const fc_index plen = chunk + ((KW - 1) * dw) / sw + 2 * FC_VL;
    const fc_index row_stride = sw * plen;
    size_t panel_elems, wpack_elems;
    if (fc_mul_overflows(nrows, row_stride, &panel_elems)
        || fc_mul_overflows(G * ntile * mr, ktot, &wpack_elems))
        return FC_ENOMEM;

    /* 1. packed weights [g][tile][r][kw][MR] and padded bias [g][tile][MR] */
    FC_REAL *wpack = malloc(wpack_elems * sizeof(FC_REAL));
    FC_REAL *bpack = calloc((size_t)G * ntile * mr, sizeof(FC_REAL));
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    size_t panels_bytes;
    FC_REAL *panels = NULL;
    unsigned char *phase_used = calloc((size_t)sw, 1);
    fc_index *taps = malloc((size_t)KW * sizeof(fc_index));
    if (!fc_mul_overflows((fc_index)nt * (fc_index)sizeof(FC_REAL), (fc_index)panel_elems, &panels_bytes))
        panels = malloc(panels_bytes);
    if (!wpack || !bpack || !panels || !phase_used || !taps) {
        free(taps);
        free(wpack);
        free(bpack);
        free(panels);
        free(phase_used);
        return FC_ENOMEM;
    }
    /* Tap t of output j reads phase (t*dw) % sw at element j + (t*dw) / sw. */
    for (fc_index t = 0; t < KW; t++) {
        phase_used[(t * dw) % sw] = 1;
        taps[t] = ((t * dw) % sw) * plen + (t * dw) / sw;
    }
    for (fc_index g = 0; g < G; g++)
        for (fc_index t = 0; t < ntile; t++) {
            FC_REAL *dst = wpack + ((size_t)g * ntile + t) * ktot * mr;
            for (fc_index k = 0; k < ktot; k++)
                for (int m = 0; m < mr; m++) {
                    fc_index o = t * mr + m;
                    dst[k * mr + m] = o < cog ? w[(g * cog + o) * ktot + k] : (FC_REAL)0;
                }
            if (bias)
                for (int m = 0; m < mr && t * mr + m < cog; m++)
                    bpack[(g * ntile + t) * mr + m] = bias[g * cog + t * mr + m];
        }

    /* 2. tasks: (n, g, z, y, channel split).  Split channels when there are too
     * few rows to keep the team busy. */
    const fc_index rows_total = p->n * G * OD * OH;
    fc_index nsplit = 1;
    while (nsplit < ntile && rows_total * nsplit < 4 * (fc_index)nt)
        nsplit++;
    const fc_index ntasks = rows_total * nsplit;

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        FC_REAL *panel = panels + (size_t)fc_thread_num() * panel_elems;
        FC_REAL tile[FC_MR * 2 * FC_VL];
#pragma omp for schedule(dynamic, 1)
        for (fc_index task = 0; task < ntasks; task++) {
            fc_index rem = task;
            const fc_index split = rem % nsplit; rem /= nsplit;
            const fc_index y = rem % OH; rem /= OH;
            const fc_index z = rem % OD; rem /= OD;
            const fc_index g = rem % G; rem /= G;
            const fc_index n = rem;
            const fc_index t_lo = split * ntile / nsplit, t_hi = (split + 1) * ntile / nsplit;
            const FC_REAL *xn = x + (size_t)n * p->c_in * in_plane;
            for (fc_index x0 = 0; x0 < OW; x0 += chunk) {
                const fc_index cw = OW - x0 < chunk ? OW - x0 : chunk;
                FILL_PANEL(p, xn, g, z, y, x0, plen, row_stride, phase_used, panel);
                for (fc_index t = t_lo; t < t_hi; t++) {
                    const FC_REAL *wp = wpack + ((size_t)g * ntile + t) * ktot * mr;
                    const FC_REAL *bp = bpack + (g * ntile + t) * mr;
                    const fc_index o0 = t * mr;
                    const int mvalid = (int)(cog - o0 < mr ? cog - o0 : mr);
                    for (fc_index j0 = 0; j0 < cw; j0 += nr) {
                        const fc_index nvalid = cw - j0 < nr ? cw - j0 : nr;
                        if (nv == 2)
                            UKERNEL(FC_MR, 2, panel, nrows, row_stride, taps, KW, j0, wp, bp, tile);
                        else
                            UKERNEL(2 * FC_MR, 1, panel, nrows, row_stride, taps, KW, j0, wp, bp, tile);
                        for (int m = 0; m < mvalid; m++) {
                            FC_REAL *dst = out + ((size_t)(n * p->c_out + g * cog + o0 + m) * OD + z) * OH * OW
                                           + y * OW + x0 + j0;
                            memcpy(dst, tile + m * nv * FC_VL, (size_t)nvalid * sizeof(FC_REAL));
                        }
                    }
                }
            }
        }
    }
    free(wpack);
    free(bpack);
    free(panels);
    free(phase_used);
    free(taps);
    return FC_OK;
}

#undef FC_VL
#undef VEC
#undef LOADV
#undef BCAST
#undef UKERNEL
#undef FILL_PANEL
