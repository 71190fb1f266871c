/*
 * fc_conv.template.c - direct convolution, forward and backward, one dtype.
 * Included by fc_conv_simd.c with FC_REAL (float/double) and FC_DT (f32/f64).
 *
 * FORWARD
 *   out[n, g*Cog + o, z, y, x] = bias[g*Cog + o]
 *       + sum_{c < Cig, kd, kh, kw} w[g*Cog + o, c, kd, kh, kw]
 *                                   * xpad[n, g*Cig + c, z*sd + kd*dd, y*sh + kh*dh, x*sw + kw*dw]
 * where xpad is the input read through the padding mode (fc_pad_index).
 *
 * Phases:
 *  1. pack the weights once per call as [g][oc tile][c, kd, kh][kw][mr] (zero-filled
 *     past the group's last output channel), so the micro-kernel reads them in order;
 *  2. split the output into tasks (n, g, z, y, channel range) claimed one at a
 *     time by the thread pool (fc_parallel_for); a task walks its output row in chunks of at
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

#include "fc_col.template.c"
#include "fc_rows.template.h"

#define FC_VL (FC_VBYTES / (int)sizeof(FC_REAL))

/* What a convolution task reads; each kernel fills the fields it uses.  Per-slot
 * scratch (row panels or column tiles): scratch_elems from scratch + slot * that. */
#define CONV_JOB FC_CAT(fc_conv_job_, FC_DT)
typedef struct {
    const fc_conv_params *p;
    const FC_REAL *x, *gy, *wpack, *bpack, *zeros;
    FC_REAL *out; /* out, gx, gw or gb */
    FC_REAL *scratch;
    size_t scratch_elems;
    const fc_index *taps;
    const unsigned char *phase_used;
    fc_index nsplit, ntile, chunk, plen, row_stride, nrows, ntap_pad, T, ptiles, mr, nv;
    fc_index nxs;  /* direct forward: pieces each output row's chunks are cut into */
    int in_place;  /* direct forward: 1x1 rows (kD = kH = 1), stride 1 along W */
    /* backward input: taps by phase per axis, packed-weight offsets, row geometry */
    const fc_index *zs, *zo, *ys, *yo, *xs, *woff;
    fc_index mx, JQ;
} CONV_JOB;

/* The row-panel geometry of the direct forward and weight-gradient tasks. */
#define CONV_PANEL(j)                                                                       \
    const fc_index *taps = (j)->taps;                                                       \
    const unsigned char *phase_used = (j)->phase_used;                                      \
    const fc_index nsplit = (j)->nsplit, ntile = (j)->ntile, chunk = (j)->chunk,            \
                   plen = (j)->plen, row_stride = (j)->row_stride, nrows = (j)->nrows,      \
                   ktot = nrows * KW

/* The sizes every convolution task derives from its parameters. */
#define CONV_SIZES(p)                                                                       \
    FC_MAYBE_UNUSED const fc_index G = (p)->groups, cig = (p)->c_in / G, cog = (p)->c_out / G, \
                                   KD = (p)->k[0], KH = (p)->k[1], KW = (p)->k[2],          \
                                   D = (p)->in[0], H = (p)->in[1], W = (p)->in[2],          \
                                   OD = (p)->out[0], OH = (p)->out[1], OW = (p)->out[2],    \
                                   in_plane = D * H * W, out_plane = OD * OH * OW
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
 * tile as mr rows of nv * FC_VL values, row m at tile + m*tstride (a scratch
 * tile, or the output itself when the whole tile is valid). */
#define UKERNEL FC_CAT(fc_conv_direct_ukernel_, FC_DT)
FC_INLINE void UKERNEL(int mr, int nv, const FC_REAL *FC_RESTRICT panel, fc_index nrows,
                       fc_index row_stride, const fc_index *FC_RESTRICT taps, fc_index kw,
                       fc_index j0, const FC_REAL *FC_RESTRICT wp,
                       const FC_REAL *FC_RESTRICT bias_tile, FC_REAL *FC_RESTRICT tile,
                       fc_index tstride)
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
        memcpy(tile + m * tstride, &acc[m][0], sizeof(VEC));
        if (nv > 1)
            memcpy(tile + m * tstride + FC_VL, &acc[m][1], sizeof(VEC));
    }
}

/* Weights [g][tile][k][mr] (zero past the group's last channel) and biases
 * [g][tile][mr] (bpack zero-initialised by the caller), in micro-kernel order. */
#define PACK_WEIGHTS FC_CAT(fc_conv_pack_weights_, FC_DT)
static void PACK_WEIGHTS(const FC_REAL *w, const FC_REAL *bias, fc_index G, fc_index cog,
                         fc_index ktot, int mr, fc_index ntile, FC_REAL *wpack, FC_REAL *bpack)
{
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
}

/* Fill the row panel for output row (z, y), outputs [x0, x0 + cw), of group g.
 * Each phase row holds plen elements; those past the last one an output in
 * [x0, x0 + cw) reads only feed the discarded lanes of a last tile: zeros (they
 * went through the padding rule one by one: a third of each ResNet stem row). */
#define FILL_PANEL FC_CAT(fc_conv_direct_fill_panel_, FC_DT)
static void FILL_PANEL(const fc_conv_params *p, const FC_REAL *FC_RESTRICT xn, fc_index g,
                       fc_index z, fc_index y, fc_index x0, fc_index cw, fc_index plen,
                       fc_index row_stride, const unsigned char *phase_used,
                       FC_REAL *FC_RESTRICT panel)
{
    const fc_index cig = p->c_in / p->groups;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index sw = p->stride[2], pw = p->pad[2];
    const int mode = p->pad_mode;
    const fc_index reach = cw + ((p->k[2] - 1) * p->dil[2]) / sw;
    const fc_index need = reach < plen ? reach : plen;
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
                if (sw == 2 && phase_used[0] && phase_used[1]) {
                    FC_SPLIT_S2(src, W, x0 * 2 - pw, need, mode, dst, dst + plen);
                    memset(dst + need, 0, (size_t)(plen - need) * sizeof(FC_REAL));
                    memset(dst + plen + need, 0, (size_t)(plen - need) * sizeof(FC_REAL));
                    continue;
                }
                for (fc_index q = 0; q < sw; q++) {
                    if (!phase_used[q])
                        continue; /* no kernel tap reads this phase */
                    FC_REAL *d = dst + q * plen;
                    fc_index ix = x0 * sw + q - pw; /* input index of d[0] */
                    fc_index j = 0;
                    /* left edge, interior (a strided copy), right edge */
                    for (; j < need && ix < 0; j++, ix += sw) {
                        fc_index s = fc_pad_index(ix, W, mode);
                        d[j] = s < 0 ? (FC_REAL)0 : src[s];
                    }
                    if (sw == 1) { /* the interior as one copy */
                        const fc_index n = W - ix < need - j ? W - ix : need - j;
                        if (n > 0) {
                            memcpy(d + j, src + ix, (size_t)n * sizeof(FC_REAL));
                            j += n;
                            ix += n;
                        }
                    }
                    for (; j < need && ix < W; j++, ix += sw)
                        d[j] = src[ix];
                    for (; j < need; j++, ix += sw) {
                        fc_index s = fc_pad_index(ix, W, mode);
                        d[j] = s < 0 ? (FC_REAL)0 : src[s];
                    }
                    memset(d + need, 0, (size_t)(plen - need) * sizeof(FC_REAL));
                }
            }
        }
    }
}

#define FWD_DIRECT_TASK FC_CAT(fc_conv_fwd_direct_task_, FC_DT)
/* Output row (n, g, z, y), its split of channel tiles, through the slot's panel. */
static void FWD_DIRECT_TASK(void *ctx, fc_index task, int slot)
{
    const CONV_JOB *j = ctx;
    const fc_conv_params *p = j->p;
    CONV_SIZES(p);
    const FC_REAL *x = j->x, *wpack = j->wpack, *bpack = j->bpack;
    FC_REAL *out = j->out;
    CONV_PANEL(j);
    const fc_index mr = j->mr, nv = j->nv, nr = (fc_index)nv * FC_VL;
    FC_REAL *panel = j->scratch + (size_t)slot * j->scratch_elems;
    FC_REAL tile[FC_MR * 2 * FC_VL];
    fc_index rem = task;
    const fc_index split = rem % nsplit; rem /= nsplit;
    const fc_index xs = rem % j->nxs; rem /= j->nxs;
    const fc_index y = rem % OH; rem /= OH;
    const fc_index z = rem % OD; rem /= OD;
    const fc_index g = rem % G; rem /= G;
    const fc_index n = rem;
    const fc_index t_lo = split * ntile / nsplit, t_hi = (split + 1) * ntile / nsplit;
    const fc_index nch = (OW + chunk - 1) / chunk;
    const FC_REAL *xn = x + (size_t)n * p->c_in * in_plane;
    /* 1x1 rows: the one input row an output row reads, when it is not padding */
    const fc_index iz = z * p->stride[0] - p->pad[0], iy = y * p->stride[1] - p->pad[1];
    const FC_REAL *xrow = j->in_place && iz >= 0 && iz < D && iy >= 0 && iy < H
                              ? xn + (size_t)g * nrows * in_plane + (iz * H + iy) * W : NULL;
    for (fc_index ci = xs * nch / j->nxs; ci < (xs + 1) * nch / j->nxs; ci++) {
        const fc_index x0 = ci * chunk;
        const fc_index cw = OW - x0 < chunk ? OW - x0 : chunk;
        /* in place when every load (whole tiles) stays inside the row: the
         * channels' rows are then the panel's, in_plane apart */
        const fc_index ix0 = x0 - p->pad[2];
        const fc_index reach = (cw + nr - 1) / nr * nr + (KW - 1) * p->dil[2];
        const FC_REAL *src = panel;
        fc_index rstride = row_stride;
        if (xrow && ix0 >= 0 && ix0 + reach <= W) {
            src = xrow + ix0;
            rstride = in_plane;
        } else {
            FILL_PANEL(p, xn, g, z, y, x0, cw, plen, row_stride, phase_used, panel);
        }
        for (fc_index t = t_lo; t < t_hi; t++) {
            const FC_REAL *wp = wpack + ((size_t)g * ntile + t) * ktot * mr;
            const FC_REAL *bp = bpack + (g * ntile + t) * mr;
            const fc_index o0 = t * mr;
            const int mvalid = (int)(cog - o0 < mr ? cog - o0 : mr);
            FC_REAL *dst0 = out + ((size_t)(n * p->c_out + g * cog + o0) * OD + z) * OH * OW
                            + y * OW + x0;
            for (fc_index j0 = 0; j0 < cw; j0 += nr) {
                const fc_index nvalid = cw - j0 < nr ? cw - j0 : nr;
                /* a whole tile goes straight to the output */
                const int whole = nvalid == nr && mvalid == mr;
                FC_REAL *dst = whole ? dst0 + j0 : tile;
                const fc_index dstride = whole ? out_plane : nr;
                if (nv == 2 && nvalid <= FC_VL) /* a last half tile: one vector */
                    UKERNEL(FC_MR, 1, src, nrows, rstride, taps, KW, j0, wp, bp, dst, dstride);
                else if (nv == 2)
                    UKERNEL(FC_MR, 2, src, nrows, rstride, taps, KW, j0, wp, bp, dst, dstride);
                else
                    UKERNEL(2 * FC_MR, 1, src, nrows, rstride, taps, KW, j0, wp, bp, dst,
                            dstride);
                if (!whole)
                    for (int m = 0; m < mvalid; m++)
                        memcpy(dst0 + m * out_plane + j0, tile + m * nr,
                               (size_t)nvalid * sizeof(FC_REAL));
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
    FC_REAL *wpack = fc_scratch_alloc(wpack_elems * sizeof(FC_REAL));
    FC_REAL *bpack = fc_scratch_calloc((size_t)G * ntile * mr, sizeof(FC_REAL));
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    size_t panels_bytes;
    FC_REAL *panels = NULL;
    unsigned char *phase_used = fc_scratch_calloc((size_t)sw, 1);
    fc_index *taps = fc_scratch_alloc((size_t)KW * sizeof(fc_index));
    if (!fc_mul_overflows((fc_index)nt * (fc_index)sizeof(FC_REAL), (fc_index)panel_elems, &panels_bytes))
        panels = fc_scratch_alloc(panels_bytes);
    if (!wpack || !bpack || !panels || !phase_used || !taps) {
        fc_scratch_free(taps);
        fc_scratch_free(wpack);
        fc_scratch_free(bpack);
        fc_scratch_free(panels);
        fc_scratch_free(phase_used);
        return FC_ENOMEM;
    }
    /* Tap t of output j reads phase (t*dw) % sw at element j + (t*dw) / sw. */
    for (fc_index t = 0; t < KW; t++) {
        phase_used[(t * dw) % sw] = 1;
        taps[t] = ((t * dw) % sw) * plen + (t * dw) / sw;
    }
    PACK_WEIGHTS(w, bias, G, cog, ktot, mr, ntile, wpack, bpack);

    /* 2. tasks: (n, g, z, y, piece of the row's chunks, channel split).  With too
     * few rows to keep the team busy, cut long rows into pieces first (each
     * piece's panel serves all its channels), then split the channels. */
    const fc_index rows_total = p->n * G * OD * OH, nch = (OW + chunk - 1) / chunk;
    fc_index nxs = 1, nsplit = 1;
    while (nxs < nch && rows_total * nxs < 4 * (fc_index)nt)
        nxs++;
    while (nsplit < ntile && rows_total * nxs * nsplit < 4 * (fc_index)nt)
        nsplit++;

    CONV_JOB j = {.p = p, .x = x, .wpack = wpack, .bpack = bpack, .out = out,
                  .scratch = panels, .scratch_elems = panel_elems, .taps = taps,
                  .phase_used = phase_used, .nsplit = nsplit, .ntile = ntile, .chunk = chunk,
                  .plen = plen, .row_stride = row_stride, .nrows = nrows, .mr = mr, .nv = nv,
                  .nxs = nxs, .in_place = KD == 1 && KH == 1 && sw == 1};
    fc_parallel_for(nt, rows_total * nxs * nsplit, FWD_DIRECT_TASK, &j);
    fc_scratch_free(wpack);
    fc_scratch_free(bpack);
    fc_scratch_free(panels);
    fc_scratch_free(phase_used);
    fc_scratch_free(taps);
    return FC_OK;
}



#define FWD_GEMM_TASK FC_CAT(fc_conv_fwd_gemm_task_, FC_DT)
/* Position tile (n, g, pt), its split of channel tiles, through the slot's col. */
static void FWD_GEMM_TASK(void *ctx, fc_index task, int slot)
{
    const CONV_JOB *j = ctx;
    const fc_conv_params *p = j->p;
    CONV_SIZES(p);
    const FC_REAL *x = j->x, *wpack = j->wpack, *bpack = j->bpack;
    FC_REAL *out = j->out;
    const fc_index P = out_plane, K = cig * KD * KH * KW, T = j->T, ptiles = j->ptiles;
    const fc_index nsplit = j->nsplit, ntile = j->ntile, mr = j->mr, nr = 2 * FC_VL;
    const fc_index zero_tap = 0;
    FC_REAL *col = j->scratch + (size_t)slot * j->scratch_elems;
    FC_REAL tile[FC_MR * 2 * FC_VL];
    fc_index rem = task;
    const fc_index split = rem % nsplit; rem /= nsplit;
    const fc_index pt = rem % ptiles; rem /= ptiles;
    const fc_index g = rem % G; rem /= G;
    const fc_index n = rem;
    const fc_index p0 = pt * T, tn = P - p0 < T ? P - p0 : T;
    const fc_index t_lo = split * ntile / nsplit, t_hi = (split + 1) * ntile / nsplit;
    IM2COL_TILE(p, x + (size_t)n * p->c_in * in_plane, g, p0, tn, col);
    for (fc_index t = t_lo; t < t_hi; t++) {
        const FC_REAL *wp = wpack + ((size_t)g * ntile + t) * K * mr;
        const FC_REAL *bp = bpack + (g * ntile + t) * mr;
        const fc_index o0 = t * mr;
        const int mvalid = (int)(cog - o0 < mr ? cog - o0 : mr);
        for (fc_index j0 = 0; j0 < tn; j0 += nr) {
            const fc_index nvalid = tn - j0 < nr ? tn - j0 : nr;
            UKERNEL(FC_MR, 2, col, K, tn, &zero_tap, 1, j0, wp, bp, tile, nr);
            for (int m = 0; m < mvalid; m++)
                memcpy(out + ((size_t)n * p->c_out + g * cog + o0 + m) * P + p0 + j0,
                       tile + m * nr, (size_t)nvalid * sizeof(FC_REAL));
        }
    }
}

/*
 * FORWARD, PACKED GEMM (algorithm 'gemm')
 *   out[n, g] (cog x P) = W[g] (cog x K) . col (K x P),   K = (c_in/groups) kd kh kw,
 * with col gathered tile by tile (fc_col.template.c: padding through the index
 * map) into the thread's own K x T buffer, T output positions of the flattened
 * (z, y, x) plane, so short rows waste no vector lanes.  The micro-kernel is the
 * direct pass's with a single tap per row.  Tasks: (n, g, position tile, channel
 * split); each output element is computed by one task.
 */
int FC_ISA_FN(FC_CAT(fc_conv_fwd_gemm_, FC_DT))(const fc_conv_params *p, const FC_REAL *x,
                                               const FC_REAL *w, const FC_REAL *bias,
                                               FC_REAL *out)
{
    const fc_index G = p->groups, cig = p->c_in / G, cog = p->c_out / G;
    const fc_index K = cig * p->k[0] * p->k[1] * p->k[2];
    const fc_index P = p->out[0] * p->out[1] * p->out[2];
    if (p->n == 0 || P == 0 || p->c_out == 0)
        return FC_OK;
    const int mr = FC_MR;
    const fc_index nr = 2 * FC_VL;
    const fc_index ntile = (cog + mr - 1) / mr;
    /* column tile: about FC_GEMM_COL_BYTES, a multiple of nr, no wider than the plane */
    fc_index T = FC_GEMM_COL_BYTES / (K * (fc_index)sizeof(FC_REAL)) / nr * nr;
    const fc_index Pr = (P + nr - 1) / nr * nr;
    if (T < nr)
        T = nr;
    if (T > Pr)
        T = Pr;
    const fc_index ptiles = (P + T - 1) / T;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    size_t wpack_elems, col_elems, cols_bytes;
    if (fc_mul_overflows(G * ntile * mr, K, &wpack_elems) || fc_mul_overflows(K, T, &col_elems)
        || fc_mul_overflows((fc_index)nt * (fc_index)sizeof(FC_REAL), (fc_index)col_elems + 2 * FC_VL,
                            &cols_bytes))
        return FC_ENOMEM;
    col_elems += 2 * FC_VL; /* the last row's last vector may read past T */
    FC_REAL *wpack = fc_scratch_alloc(wpack_elems * sizeof(FC_REAL));
    FC_REAL *bpack = fc_scratch_calloc((size_t)G * ntile * mr, sizeof(FC_REAL));
    FC_REAL *cols = fc_scratch_calloc(1, cols_bytes);
    if (!wpack || !bpack || !cols) {
        fc_scratch_free(wpack);
        fc_scratch_free(bpack);
        fc_scratch_free(cols);
        return FC_ENOMEM;
    }
    PACK_WEIGHTS(w, bias, G, cog, K, mr, ntile, wpack, bpack);
    const fc_index tasks_base = p->n * G * ptiles;
    fc_index nsplit = 1;
    while (nsplit < ntile && tasks_base * nsplit < 4 * (fc_index)nt)
        nsplit++;

    CONV_JOB j = {.p = p, .x = x, .wpack = wpack, .bpack = bpack, .out = out, .scratch = cols,
                  .scratch_elems = col_elems, .nsplit = nsplit, .ntile = ntile, .mr = mr,
                  .T = T, .ptiles = ptiles};
    fc_parallel_for(nt, tasks_base * nsplit, FWD_GEMM_TASK, &j);
    fc_scratch_free(wpack);
    fc_scratch_free(bpack);
    fc_scratch_free(cols);
    return FC_OK;
}

/* ------------------------------------------------------------------ backward */
/*
 * BACKWARD, INPUT (a gather: each gx element is written by one task only)
 *   gxpad[c, P] = sum over (o, kd, kh, kw) with P = o*s + k*d of w[o, c, k] * gy[o, o_pos]
 *   gx[c, i]    = sum over the padded positions P that read input cell i
 *                 (fc_pad_index(P - pad) == i) of gxpad[c, P]
 * For a padded row (pz, py) only the taps with kd*dd = pz (mod sd) and kh*dh = py
 * (mod sh) contribute, and along the row the padded positions split into sw phases
 * qx, each read by the taps with kw*dw = qx (mod sw): phase qx, element j (position
 * P = j*sw + qx) is sum over those taps of w * gy[j - (kw*dw - qx)/sw].  So per
 * phase combination this is again a register-tiled row kernel (the forward one),
 * over rows (o, kd, kh) of gy and shifted taps, with the weights packed per
 * combination.  Tasks own output rows (n, g, iz, iy, channel range); a task
 * computes every padded row that folds onto its input row, in a fixed order.
 */
#define PHASE_TAPS FC_CAT(fc_conv_phase_taps_, FC_DT)
/* For one axis: list the taps k (in order) by phase q = (k*d) % s.
 * start[q]..start[q+1] index into order[]. */
static void PHASE_TAPS(fc_index K, fc_index d, fc_index s, fc_index *start, fc_index *order)
{
    fc_index n = 0;
    for (fc_index q = 0; q < s; q++) {
        start[q] = n;
        for (fc_index k = 0; k < K; k++)
            if ((k * d) % s == q)
                order[n++] = k;
    }
    start[s] = n;
}

#define BWD_INPUT_TASK FC_CAT(fc_conv_bwd_input_task_, FC_DT)
/* Input row (n, g, iz, iy), its split of channel tiles (see above). */
static void BWD_INPUT_TASK(void *ctx, fc_index task, int slot)
{
    const CONV_JOB *j = ctx;
    const fc_conv_params *p = j->p;
    CONV_SIZES(p);
    const fc_index sd = p->stride[0], sh = p->stride[1], sw = p->stride[2];
    const fc_index dd = p->dil[0], dh = p->dil[1];
    const fc_index ktot = KD * KH * KW;
    const int mode = p->pad_mode;
    const FC_REAL *gy = j->gy, *wq = j->wpack;
    FC_REAL *gx = j->out;
    const fc_index *taps = j->taps, *woff = j->woff;
    const fc_index *zs = j->zs, *zo = j->zo, *ys = j->ys, *yo = j->yo, *xs = j->xs;
    const fc_index nsplit = j->nsplit, ntile = j->ntile, chunk = j->chunk, plen = j->plen;
    const fc_index mr = j->mr, nv = j->nv, nr = (fc_index)nv * FC_VL, mx = j->mx, JQ = j->JQ;
    /* last padded position any output reads, per axis */
    const fc_index PZ = (OD - 1) * sd + (KD - 1) * dd, PY = (OH - 1) * sh + (KH - 1) * dh;
    const fc_index PX = (OW - 1) * sw + (KW - 1) * p->dil[2];
    const FC_REAL zero_bias[2 * FC_MR] = {0};
    FC_REAL *panel = j->scratch + (size_t)slot * j->scratch_elems;
    FC_REAL tile[FC_MR * 2 * FC_VL];
    fc_index rem = task;
    const fc_index split = rem % nsplit; rem /= nsplit;
    const fc_index iy = rem % H; rem /= H;
    const fc_index iz = rem % D; rem /= D;
    const fc_index g = rem % G; rem /= G;
    const fc_index n = rem;
    const fc_index t_lo = split * ntile / nsplit, t_hi = (split + 1) * ntile / nsplit;
    const fc_index c_lo = t_lo * mr, c_hi = t_hi * mr < cig ? t_hi * mr : cig;
    FC_REAL *gxn = gx + ((size_t)n * p->c_in + g * cig) * in_plane;
    const FC_REAL *gyn = gy + ((size_t)n * p->c_out + g * cog) * out_plane;
    for (fc_index c = c_lo; c < c_hi; c++)
        memset(gxn + c * in_plane + (iz * H + iy) * W, 0, (size_t)W * sizeof(FC_REAL));
    for (fc_index pz = 0; pz <= PZ; pz++) {
        if (fc_pad_index(pz - p->pad[0], D, mode) != iz)
            continue;
        const fc_index qz = pz % sd;
        for (fc_index py = 0; py <= PY; py++) {
            if (fc_pad_index(py - p->pad[1], H, mode) != iy)
                continue;
            const fc_index qy = py % sh;
            const fc_index nz = zs[qz + 1] - zs[qz], ny = ys[qy + 1] - ys[qy];
            const fc_index nrows = cog * nz * ny;
            if (nrows == 0)
                continue;
            for (fc_index j0c = 0; j0c < JQ; j0c += chunk) {
                /* panel rows (o, kd, kh): gy[o, oz, oy, j0c - mx + u] or zeros */
                FC_REAL *row = panel;
                for (fc_index o = 0; o < cog; o++)
                    for (fc_index a = zs[qz]; a < zs[qz + 1]; a++) {
                        const fc_index oz = (pz - zo[a] * dd) / sd;
                        const int zok = pz - zo[a] * dd >= 0 && oz < OD;
                        for (fc_index b = ys[qy]; b < ys[qy + 1]; b++, row += plen) {
                            const fc_index oy = (py - yo[b] * dh) / sh;
                            if (!zok || py - yo[b] * dh < 0 || oy >= OH) {
                                memset(row, 0, (size_t)plen * sizeof(FC_REAL));
                                continue;
                            }
                            const FC_REAL *src = gyn + o * out_plane + (oz * OH + oy) * OW;
                            for (fc_index u = 0; u < plen; u++) {
                                const fc_index x = j0c - mx + u;
                                row[u] = x >= 0 && x < OW ? src[x] : (FC_REAL)0;
                            }
                        }
                    }
                for (fc_index qx = 0; qx < sw; qx++) {
                    const fc_index ntap = xs[qx + 1] - xs[qx];
                    const fc_index jq = qx <= PX ? (PX - qx) / sw + 1 : 0;
                    if (ntap == 0 || j0c >= jq)
                        continue;
                    const fc_index cw = jq - j0c < chunk ? jq - j0c : chunk;
                    for (fc_index t = t_lo; t < t_hi; t++) {
                        const FC_REAL *wp = wq + ((size_t)g * ntile + t) * cog * ktot * mr
                                            + woff[(qz * sh + qy) * sw + qx];
                        const fc_index c0 = t * mr;
                        const int mvalid = (int)(cig - c0 < mr ? cig - c0 : mr);
                        for (fc_index j0 = 0; j0 < cw; j0 += nr) {
                            const fc_index nvalid = cw - j0 < nr ? cw - j0 : nr;
                            if (nv == 2)
                                UKERNEL(FC_MR, 2, panel, nrows, plen, taps + xs[qx], ntap, j0, wp,
                                        zero_bias, tile, nr);
                            else
                                UKERNEL(2 * FC_MR, 1, panel, nrows, plen, taps + xs[qx], ntap, j0,
                                        wp, zero_bias, tile, nr);
                            /* fold phase positions P = j*sw + qx onto input cells */
                            for (int m = 0; m < mvalid; m++) {
                                FC_REAL *dst = gxn + (c0 + m) * in_plane + (iz * H + iy) * W;
                                const FC_REAL *v = tile + m * nv * FC_VL;
                                for (fc_index jj = 0; jj < nvalid; jj++) {
                                    const fc_index ix = fc_pad_index((j0c + j0 + jj) * sw + qx - p->pad[2],
                                                                     W, mode);
                                    if (ix >= 0)
                                        dst[ix] += v[jj];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

int FC_ISA_FN(FC_CAT(fc_conv_bwd_input_, FC_DT))(const fc_conv_params *p, const FC_REAL *gy,
                                                 const FC_REAL *w, FC_REAL *gx)
{
    const fc_index G = p->groups, cig = p->c_in / G, cog = p->c_out / G;
    const fc_index KD = p->k[0], KH = p->k[1], KW = p->k[2];
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OW = p->out[2];
    const fc_index sd = p->stride[0], sh = p->stride[1], sw = p->stride[2];
    const fc_index dd = p->dil[0], dh = p->dil[1], dw = p->dil[2];
    const fc_index ktot = KD * KH * KW;
    const fc_index in_plane = D * H * W;
    if (p->n == 0 || in_plane == 0 || p->c_in == 0)
        return FC_OK;

    /* The last padded x any output reads (z, y: BWD_INPUT_TASK). */
    const fc_index PX = (OW - 1) * sw + (KW - 1) * dw;
    const fc_index JQ = PX / sw + 1;        /* positions of phase 0 (the longest) */
    const fc_index mx = ((KW - 1) * dw) / sw; /* the largest tap shift */

    const int nv = JQ > FC_VL ? 2 : 1;
    const int mr = nv == 2 ? FC_MR : 2 * FC_MR;
    const fc_index nr = (fc_index)nv * FC_VL;
    const fc_index ntile = (cig + mr - 1) / mr;
    fc_index chunk = JQ < FC_CHUNK ? JQ : FC_CHUNK;
    chunk = (chunk + nr - 1) / nr * nr;
    const fc_index plen = chunk + mx + 2 * FC_VL; /* gy[j0 - mx .. j0 + chunk + slack) */
    const fc_index maxrows = cog * KD * KH;

    /* Taps by phase on each axis. */
    fc_index *zs = fc_scratch_alloc((size_t)(sd + 1 + KD + sh + 1 + KH + sw + 1 + KW) * sizeof(fc_index));
    if (!zs)
        return FC_ENOMEM;
    fc_index *zo = zs + sd + 1, *ys = zo + KD, *yo = ys + sh + 1, *xs = yo + KH, *xo = xs + sw + 1;
    PHASE_TAPS(KD, dd, sd, zs, zo);
    PHASE_TAPS(KH, dh, sh, ys, yo);
    PHASE_TAPS(KW, dw, sw, xs, xo);

    /* Weights packed per (g, tile, qz, qy, qx): [o][kd in qz][kh in qy][kw in qx][mr]. */
    size_t wq_elems, panel_elems, panels_bytes;
    if (fc_mul_overflows(G * ntile * mr, cog * ktot, &wq_elems)
        || fc_mul_overflows(maxrows, plen, &panel_elems)
        || fc_mul_overflows((fc_index)p->num_threads * (fc_index)sizeof(FC_REAL), (fc_index)panel_elems,
                            &panels_bytes)) {
        fc_scratch_free(zs);
        return FC_ENOMEM;
    }
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    FC_REAL *wq = fc_scratch_alloc(wq_elems * sizeof(FC_REAL));
    FC_REAL *panels = fc_scratch_alloc(panels_bytes);
    fc_index *woff = fc_scratch_alloc((size_t)(sd * sh * sw) * sizeof(fc_index));
    fc_index *taps = fc_scratch_alloc((size_t)KW * sizeof(fc_index));
    if (!wq || !panels || !woff || !taps) {
        fc_scratch_free(zs);
        fc_scratch_free(wq);
        fc_scratch_free(panels);
        fc_scratch_free(woff);
        fc_scratch_free(taps);
        return FC_ENOMEM;
    }
    /* woff[combo]: offset of a combination's block inside one (g, tile) pack. */
    {
        fc_index off = 0;
        for (fc_index qz = 0; qz < sd; qz++)
            for (fc_index qy = 0; qy < sh; qy++)
                for (fc_index qx = 0; qx < sw; qx++) {
                    woff[(qz * sh + qy) * sw + qx] = off;
                    off += cog * (zs[qz + 1] - zs[qz]) * (ys[qy + 1] - ys[qy])
                           * (xs[qx + 1] - xs[qx]) * mr;
                }
    }
    for (fc_index g = 0; g < G; g++)
        for (fc_index t = 0; t < ntile; t++) {
            FC_REAL *base = wq + ((size_t)g * ntile + t) * cog * ktot * mr;
            for (fc_index qz = 0; qz < sd; qz++)
                for (fc_index qy = 0; qy < sh; qy++)
                    for (fc_index qx = 0; qx < sw; qx++) {
                        FC_REAL *dst = base + woff[(qz * sh + qy) * sw + qx];
                        for (fc_index o = 0; o < cog; o++)
                            for (fc_index a = zs[qz]; a < zs[qz + 1]; a++)
                                for (fc_index b = ys[qy]; b < ys[qy + 1]; b++)
                                    for (fc_index c = xs[qx]; c < xs[qx + 1]; c++)
                                        for (int m = 0; m < mr; m++, dst++) {
                                            fc_index ci = t * mr + m;
                                            *dst = ci < cig
                                                       ? w[(((g * cog + o) * cig + ci) * KD + zo[a]) * KH * KW
                                                           + yo[b] * KW + xo[c]]
                                                       : (FC_REAL)0;
                                        }
                    }
        }
    /* Tap t of phase qx reads gy[j - (kw*dw - qx)/sw], at panel offset mx - that. */
    for (fc_index qx = 0; qx < sw; qx++)
        for (fc_index c = xs[qx]; c < xs[qx + 1]; c++)
            taps[c] = mx - (xo[c] * dw - qx) / sw;

    const fc_index rows_total = p->n * G * D * H;
    fc_index nsplit = 1;
    while (nsplit < ntile && rows_total * nsplit < 4 * (fc_index)nt)
        nsplit++;

    CONV_JOB j = {.p = p, .gy = gy, .wpack = wq, .out = gx, .scratch = panels,
                  .scratch_elems = panel_elems, .taps = taps, .woff = woff, .zs = zs, .zo = zo,
                  .ys = ys, .yo = yo, .xs = xs, .nsplit = nsplit, .ntile = ntile,
                  .chunk = chunk, .plen = plen, .mr = mr, .nv = nv, .mx = mx, .JQ = JQ};
    fc_parallel_for(nt, rows_total * nsplit, BWD_INPUT_TASK, &j);
    fc_scratch_free(zs);
    fc_scratch_free(wq);
    fc_scratch_free(panels);
    fc_scratch_free(woff);
    fc_scratch_free(taps);
    return FC_OK;
}

/*
 * BACKWARD, WEIGHT
 *   gw[o, c, kd, kh, kw] = sum_{n, z, y, x} gy[n, o, z, y, x] * xpad[n, c, z*sd + kd*dd, y*sh + kh*dh, x*sw + kw*dw]
 * Tasks own a range of output channels of one group (each gw element is reduced by
 * one thread, over n, z, y in order and x in vector lanes then a fixed horizontal
 * sum), so results do not depend on the team size.  Per output row the input rows
 * are gathered into the same padded, phase-split panel as the forward pass; a
 * WMR x WTB register tile (channels x taps) accumulates products along the row.
 */
#define HSUM FC_CAT(fc_hsum_, FC_DT)
FC_INLINE FC_REAL HSUM(VEC v)
{
    FC_REAL s = 0;
    for (int i = 0; i < FC_VL; i++)
        s += v[i];
    return s;
}

/*
 * Weight gradient as a GEMM over output positions, for groups with at least
 * half a vector of output channels:
 *   gw[g*cog + o, k] = sum_{n, p} gy[n, g*cog + o, p] * xpad[n, k, p]
 * with k = (c, kd, kh, kw) and xpad[n, k, (z, y, x)] the padded input cell that
 * tap k of output (z, y, x) reads.  Two parallel pre-passes lay the operands
 * out: the input padded once (through the padding mode; skipped when nothing
 * is padded), so that every tap's inputs along an output row are the cells
 * base + x*sw of one padded row; and gy transposed per image and group to
 * positions x channels (channels padded to whole vectors).  No im2col: an
 * r x nv register tile (rows k x vectors of channels, r * nv <= WG_ACC
 * accumulators, r <= WG_R) walks output rows, broadcasting each row's padded
 * inputs straight from the padded input and FMA-ing them with contiguous
 * vectors of gy^T, so the reduction is a sequence of FMAs without horizontal
 * sums.  A task owns a block of rows k of one group and reduces them over
 * every image and chunk of output rows in order, so each gw element is summed
 * by one thread in an order that depends on the sizes only.
 */
#if FC_VBYTES == 64
#define WG_ACC 24
#define WG_NV 4
#else
#define WG_ACC 8
#define WG_NV 2
#endif
#define WG_R 12

/* What the weight-gradient tasks read: the call, the padded input (dims
 * xd x xh x xw per channel plane, the original x when nothing is padded), gy
 * transposed ([n][g][P][cogp]) and the tiling. */
#define WG_JOB FC_CAT(fc_conv_wgrad_job_, FC_DT)
typedef struct {
    const fc_conv_params *p;
    const FC_REAL *x, *gy, *xp;
    FC_REAL *gw, *xpad, *gyt;
    fc_index xd, xh, xw, ktot, P, cog, cogp, rows_per_chunk, kb, nkb;
    int r_max, nv_max;
} WG_JOB;

/* WG_UKERNEL_r_nv: for rows i < r (tap offsets kofs[i] into a padded row) and
 * nv vectors of channels from o0, accumulate over the output rows of a chunk
 * (row q starts at padded offset rofs[q]; its gy^T rows follow each other)
 *   gw[o * ktot + i] += sum_{q, x} xp[rofs[q] + kofs[i] + x*sw] * gyt[(q*OW + x) * cogp + o]
 * (channels >= cog dropped).  One function per (r, nv), so the accumulator
 * array has its exact size and lives in registers. */
#define WG_DEFINE(r_, v_)                                                                     \
    static void FC_CAT(FC_CAT(fc_conv_wgrad_uk_##r_##_##v_, _), FC_DT)(                       \
        const FC_REAL *FC_RESTRICT xp, const fc_index *rofs, fc_index nrows,                  \
        const fc_index *kofs, fc_index OW, fc_index sw, const FC_REAL *FC_RESTRICT gyt,      \
        fc_index cogp, fc_index o0, fc_index cog, FC_REAL *FC_RESTRICT gw, fc_index ktot)    \
    {                                                                                         \
        VEC acc[r_][v_];                                                                      \
        _Pragma("GCC unroll 16") for (int i = 0; i < r_; i++)                                 \
            _Pragma("GCC unroll 16") for (int j = 0; j < v_; j++)                             \
                acc[i][j] = BCAST((FC_REAL)0);                                                \
        for (fc_index q = 0; q < nrows; q++) {                                                \
            const FC_REAL *src[r_];                                                           \
            _Pragma("GCC unroll 16") for (int i = 0; i < r_; i++)                             \
                src[i] = xp + rofs[q] + kofs[i];                                              \
            const FC_REAL *g = gyt + q * OW * cogp + o0;                                      \
            for (fc_index x = 0; x < OW; x++, g += cogp) {                                    \
                VEC gv[v_];                                                                   \
                _Pragma("GCC unroll 16") for (int j = 0; j < v_; j++)                         \
                    gv[j] = LOADV(g + j * FC_VL);                                             \
                _Pragma("GCC unroll 16") for (int i = 0; i < r_; i++) {                       \
                    const VEC c = BCAST(src[i][x * sw]);                                      \
                    _Pragma("GCC unroll 16") for (int j = 0; j < v_; j++)                     \
                        acc[i][j] += c * gv[j];                                               \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        for (int i = 0; i < r_; i++)                                                          \
            for (int j = 0; j < v_; j++)                                                      \
                for (int l = 0; l < FC_VL; l++) {                                             \
                    const fc_index o = o0 + j * FC_VL + l;                                    \
                    if (o < cog)                                                              \
                        gw[o * ktot + i] += acc[i][j][l];                                     \
                }                                                                             \
    }
#define WG_DEFINE_R(r_) WG_DEFINE(r_, 1) WG_DEFINE(r_, 2) WG_DEFINE(r_, 3) WG_DEFINE(r_, 4)
WG_DEFINE_R(1) WG_DEFINE_R(2) WG_DEFINE_R(3) WG_DEFINE_R(4) WG_DEFINE_R(5) WG_DEFINE_R(6)
WG_DEFINE_R(7) WG_DEFINE_R(8) WG_DEFINE_R(9) WG_DEFINE_R(10) WG_DEFINE_R(11) WG_DEFINE_R(12)
#undef WG_DEFINE_R
#undef WG_DEFINE

#define WG_CASE(r_, v_)                                                                       \
    case (r_) * 8 + (v_):                                                                     \
        FC_CAT(FC_CAT(fc_conv_wgrad_uk_##r_##_##v_, _), FC_DT)(xp, rofs, nrows, kofs, OW, sw, \
                                                               gyt, cogp, o0, cog, gw, ktot); \
        break;
#define WG_CASES_R(r_) WG_CASE(r_, 1) WG_CASE(r_, 2) WG_CASE(r_, 3) WG_CASE(r_, 4)
#define WG_TILE FC_CAT(fc_conv_wgrad_tile_, FC_DT)
static void WG_TILE(int R, int NV, const FC_REAL *xp, const fc_index *rofs, fc_index nrows,
                    const fc_index *kofs, fc_index OW, fc_index sw, const FC_REAL *gyt,
                    fc_index cogp, fc_index o0, fc_index cog, FC_REAL *gw, fc_index ktot)
{
    switch (R * 8 + NV) {
        WG_CASES_R(1) WG_CASES_R(2) WG_CASES_R(3) WG_CASES_R(4) WG_CASES_R(5) WG_CASES_R(6)
        WG_CASES_R(7) WG_CASES_R(8) WG_CASES_R(9) WG_CASES_R(10) WG_CASES_R(11) WG_CASES_R(12)
    default:
        break;
    }
}
#undef WG_CASES_R
#undef WG_CASE

#define WG_PAD_TASK FC_CAT(fc_conv_wgrad_pad_task_, FC_DT)
/* Padded rows [r0, r1) of the (n, c, zp, yp) rows of the padded input. */
static void WG_PAD_TASK(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const WG_JOB *j = ctx;
    const fc_conv_params *p = j->p;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index xd = j->xd, xh = j->xh, xw = j->xw;
    const int mode = p->pad_mode;
    for (fc_index r = r0; r < r1; r++) {
        const fc_index yp = r % xh, zp = r / xh % xd, nc = r / (xh * xd);
        FC_REAL *dst = j->xpad + r * xw;
        const fc_index iz = fc_pad_index(zp - p->pad[0], D, mode);
        const fc_index iy = fc_pad_index(yp - p->pad[1], H, mode);
        if (iz < 0 || iy < 0) {
            memset(dst, 0, (size_t)xw * sizeof(FC_REAL));
            continue;
        }
        const FC_REAL *src = j->x + ((nc * D + iz) * H + iy) * W;
        /* padded cells xp in [a, b) are the row's own cells xp - pad: one copy */
        const fc_index pw = p->pad[2];
        const fc_index a = pw < xw ? pw : xw, b = pw + W < xw ? pw + W : xw;
        for (fc_index xp = 0; xp < a; xp++) {
            const fc_index ix = fc_pad_index(xp - pw, W, mode);
            dst[xp] = ix < 0 ? (FC_REAL)0 : src[ix];
        }
        if (b > a)
            memcpy(dst + a, src + (a - pw), (size_t)(b - a) * sizeof(FC_REAL));
        for (fc_index xp = b > a ? b : a; xp < xw; xp++) {
            const fc_index ix = fc_pad_index(xp - pw, W, mode);
            dst[xp] = ix < 0 ? (FC_REAL)0 : src[ix];
        }
    }
}

#define WG_TRANSPOSE_TASK FC_CAT(fc_conv_wgrad_transpose_task_, FC_DT)
/* gyt[n][g][t][o] = gy[n][g*cog + o][t] (0 for o >= cog) for the positions of
 * blocks [b0, b1) of 64, every (n, g). */
#define WG_TBLOCK 64
static void WG_TRANSPOSE_TASK(void *ctx, fc_index b0, fc_index b1, int slot)
{
    const WG_JOB *j = ctx;
    const fc_index P = j->P, cog = j->cog, cogp = j->cogp;
    const fc_index nblk = (P + WG_TBLOCK - 1) / WG_TBLOCK;
    for (fc_index b = b0; b < b1; b++) {
        const fc_index ng = b / nblk, t0 = b % nblk * WG_TBLOCK;
        const fc_index t1 = t0 + WG_TBLOCK < P ? t0 + WG_TBLOCK : P;
        const FC_REAL *src = j->gy + ng * cog * P;
        FC_REAL *dst = j->gyt + ng * P * cogp;
        for (fc_index t = t0; t < t1; t++)
            for (fc_index o = cog; o < cogp; o++)
                dst[t * cogp + o] = 0;
        for (fc_index o = 0; o < cog; o++)
            for (fc_index t = t0; t < t1; t++)
                dst[t * cogp + o] = src[o * P + t];
    }
}

#define WGRAD_TASK FC_CAT(fc_conv_wgrad_task_, FC_DT)
/* Rows [k0, k1) of group g: every image and chunk of output rows, in order. */
static void WGRAD_TASK(void *ctx, fc_index task, int slot)
{
    const WG_JOB *j = ctx;
    const fc_conv_params *p = j->p;
    const fc_index ktot = j->ktot, P = j->P, cog = j->cog, cogp = j->cogp;
    const fc_index OH = p->out[1], OW = p->out[2], out_rows = p->out[0] * OH;
    const fc_index KD = p->k[0], KH = p->k[1], KW = p->k[2];
    const fc_index xd = j->xd, xh = j->xh, xw = j->xw, xplane = xd * xh * xw;
    const fc_index G = p->groups, cig = p->c_in / G, sw = p->stride[2];
    const int r_max = j->r_max, nv_max = j->nv_max;
    const fc_index g = task / j->nkb, k0 = task % j->nkb * j->kb;
    const fc_index k1 = k0 + j->kb < ktot ? k0 + j->kb : ktot;
    FC_REAL *gwg = j->gw + g * cog * ktot;
    fc_index kofs[WG_R], rofs[256];
    for (fc_index n = 0; n < p->n; n++) {
        const FC_REAL *xn = j->xp + (n * p->c_in + g * cig) * xplane;
        const FC_REAL *gytn = j->gyt + (n * G + g) * P * cogp;
        for (fc_index q0 = 0; q0 < out_rows; q0 += j->rows_per_chunk) {
            const fc_index nrows = out_rows - q0 < j->rows_per_chunk ? out_rows - q0
                                                                      : j->rows_per_chunk;
            for (fc_index q = 0; q < nrows; q++) { /* output row (z, y) -> padded offset */
                const fc_index z = (q0 + q) / OH, y = (q0 + q) % OH;
                rofs[q] = (z * p->stride[0] * xh + y * p->stride[1]) * xw;
            }
            const FC_REAL *gyt = gytn + q0 * OW * cogp;
            for (fc_index k = k0; k < k1; k += r_max) {
                const int R = (int)(k1 - k < r_max ? k1 - k : r_max);
                for (int i = 0; i < R; i++) { /* tap (c, kd, kh, kw) -> padded offset */
                    const fc_index kk = k + i, kw = kk % KW, kh = kk / KW % KH;
                    const fc_index kd = kk / (KW * KH) % KD, c = kk / (KW * KH * KD);
                    kofs[i] = c * xplane + (kd * p->dil[0] * xh + kh * p->dil[1]) * xw
                              + kw * p->dil[2];
                }
                for (fc_index o0 = 0; o0 < cog; o0 += nv_max * FC_VL) {
                    const fc_index left = (cog - o0 + FC_VL - 1) / FC_VL;
                    const int NV = (int)(left < nv_max ? left : nv_max);
                    WG_TILE(R, NV, xn, rofs, nrows, kofs, OW, sw, gyt, cogp, o0, cog,
                            gwg + k, ktot);
                }
            }
        }
    }
}

#define WGRAD_GEMM FC_CAT(fc_conv_wgrad_gemm_, FC_DT)
/* Called with gw zeroed and p->n >= 1. */
static int WGRAD_GEMM(const fc_conv_params *p, const FC_REAL *x, const FC_REAL *gy, FC_REAL *gw)
{
    const fc_index G = p->groups, cig = p->c_in / G, cog = p->c_out / G;
    const fc_index ktot = cig * p->k[0] * p->k[1] * p->k[2];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2], P = OD * OH * OW;
    const fc_index cogp = (cog + FC_VL - 1) / FC_VL * FC_VL;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    /* the padded extent every output reads, per axis */
    fc_index ext[3];
    int padded = 0;
    for (int a = 0; a < 3; a++) {
        ext[a] = (p->out[a] - 1) * p->stride[a] + (p->k[a] - 1) * p->dil[a] + 1;
        padded |= p->pad[a] != 0 || ext[a] > p->in[a];
    }
    /* chunks of whole output rows, about 512 positions (gy^T of a chunk stays in L2) */
    fc_index rows_per_chunk = 512 / OW;
    rows_per_chunk = rows_per_chunk < 1 ? 1 : rows_per_chunk > 256 ? 256 : rows_per_chunk;
    /* register tile: nv vectors of channels, r rows */
    const fc_index nvec = cogp / FC_VL;
    const int nv_max = (int)(nvec < WG_NV ? nvec : WG_NV);
    const int r_max = WG_ACC / nv_max < WG_R ? WG_ACC / nv_max : WG_R;
    /* rows per task: a multiple of r_max, at most 256, about 4 tasks per thread */
    const fc_index want = (4 * (fc_index)nt + G - 1) / G;
    fc_index kb = (ktot + want - 1) / want;
    kb = (kb + r_max - 1) / r_max * r_max;
    kb = kb > 256 / r_max * r_max ? 256 / r_max * r_max : kb;
    const fc_index nkb = (ktot + kb - 1) / kb;
    size_t xpad_elems = 0, gyt_elems, plane;
    if ((padded && (fc_mul_overflows(ext[0], ext[1], &plane)
                    || fc_mul_overflows((fc_index)plane, ext[2], &plane)
                    || fc_mul_overflows(p->n * p->c_in, (fc_index)plane, &xpad_elems)
                    || xpad_elems > (size_t)PTRDIFF_MAX / sizeof(FC_REAL)))
        || fc_mul_overflows(p->n * G * P, cogp, &gyt_elems)
        || gyt_elems > (size_t)PTRDIFF_MAX / sizeof(FC_REAL))
        return FC_ENOMEM;
    FC_REAL *xpad = padded ? fc_scratch_alloc(xpad_elems * sizeof(FC_REAL)) : NULL;
    FC_REAL *gyt = fc_scratch_alloc(gyt_elems * sizeof(FC_REAL));
    if ((padded && !xpad) || !gyt) {
        fc_scratch_free(xpad);
        fc_scratch_free(gyt);
        return FC_ENOMEM;
    }
    WG_JOB j = {.p = p, .x = x, .gy = gy, .xp = padded ? xpad : x, .gw = gw, .xpad = xpad,
                .gyt = gyt, .xd = padded ? ext[0] : p->in[0], .xh = padded ? ext[1] : p->in[1],
                .xw = padded ? ext[2] : p->in[2], .ktot = ktot, .P = P, .cog = cog,
                .cogp = cogp, .rows_per_chunk = rows_per_chunk, .kb = kb, .nkb = nkb,
                .r_max = r_max, .nv_max = nv_max};
    if (padded)
        fc_parallel_range(nt, p->n * p->c_in * ext[0] * ext[1], WG_PAD_TASK, &j);
    fc_parallel_range(nt, p->n * G * ((P + WG_TBLOCK - 1) / WG_TBLOCK), WG_TRANSPOSE_TASK, &j);
    fc_parallel_for(nt, G * nkb, WGRAD_TASK, &j);
    fc_scratch_free(xpad);
    fc_scratch_free(gyt);
    return FC_OK;
}

#define BWD_WEIGHT_TASK FC_CAT(fc_conv_bwd_weight_task_, FC_DT)
/* Group g = task / nsplit, its split of channel tiles: every gw element of it. */
static void BWD_WEIGHT_TASK(void *ctx, fc_index task, int slot)
{
    const CONV_JOB *j = ctx;
    const fc_conv_params *p = j->p;
    CONV_SIZES(p);
    const FC_REAL *x = j->x, *gy = j->gy, *zeros = j->zeros;
    FC_REAL *gw = j->out;
    CONV_PANEL(j);
    const fc_index ntap_pad = j->ntap_pad;
    FC_REAL *panel = j->scratch + (size_t)slot * j->scratch_elems;
    const fc_index g = task / nsplit, split = task % nsplit;
    const fc_index t_lo = split * ntile / nsplit, t_hi = (split + 1) * ntile / nsplit;
    for (fc_index n = 0; n < p->n; n++) {
        const FC_REAL *xn = x + (size_t)n * p->c_in * in_plane;
        for (fc_index z = 0; z < OD; z++)
            for (fc_index y = 0; y < OH; y++)
                for (fc_index x0 = 0; x0 < OW; x0 += chunk) {
                    const fc_index cw = OW - x0 < chunk ? OW - x0 : chunk;
                    const fc_index cfull = cw / FC_VL * FC_VL;
                    FILL_PANEL(p, xn, g, z, y, x0, cw, plen, row_stride, phase_used, panel);
                    for (fc_index t = t_lo; t < t_hi; t++) {
                        const FC_REAL *gyr[FC_WMR];
                        for (int i = 0; i < FC_WMR; i++) {
                            fc_index o = t * FC_WMR + i;
                            gyr[i] = o < cog ? gy + ((size_t)n * p->c_out + g * cog + o) * out_plane
                                                   + (z * OH + y) * OW + x0
                                             : zeros;
                        }
                        for (fc_index r = 0; r < nrows; r++) {
                            const FC_REAL *prow = panel + r * row_stride;
                            for (fc_index tb = 0; tb < ntap_pad; tb += FC_WTB) {
                                VEC acc[FC_WMR][FC_WTB];
#pragma GCC unroll 16
                                for (int i = 0; i < FC_WMR; i++)
#pragma GCC unroll 16
                                    for (int k = 0; k < FC_WTB; k++)
                                        acc[i][k] = BCAST((FC_REAL)0);
                                for (fc_index xv = 0; xv < cfull; xv += FC_VL) {
                                    VEC gv[FC_WMR];
#pragma GCC unroll 16
                                    for (int i = 0; i < FC_WMR; i++)
                                        gv[i] = LOADV(gyr[i] + xv);
#pragma GCC unroll 16
                                    for (int k = 0; k < FC_WTB; k++) {
                                        VEC pv = LOADV(prow + taps[tb + k] + xv);
#pragma GCC unroll 16
                                        for (int i = 0; i < FC_WMR; i++)
                                            acc[i][k] += gv[i] * pv;
                                    }
                                }
                                for (int i = 0; i < FC_WMR; i++) {
                                    const fc_index o = t * FC_WMR + i;
                                    if (o >= cog)
                                        break;
                                    FC_REAL *gwo = gw + (g * cog + o) * ktot + r * KW;
                                    for (int k = 0; k < FC_WTB && tb + k < KW; k++) {
                                        FC_REAL sum = HSUM(acc[i][k]);
                                        for (fc_index xs = cfull; xs < cw; xs++)
                                            sum += gyr[i][xs] * prow[taps[tb + k] + xs];
                                        gwo[tb + k] += sum;
                                    }
                                }
                            }
                        }
                    }
                }
    }
}

int FC_ISA_FN(FC_CAT(fc_conv_bwd_weight_, FC_DT))(const fc_conv_params *p, const FC_REAL *x,
                                                  const FC_REAL *gy, FC_REAL *gw)
{
    const fc_index G = p->groups, cig = p->c_in / G, cog = p->c_out / G;
    const fc_index KD = p->k[0], KH = p->k[1], KW = p->k[2];
    const fc_index OW = p->out[2];
    const fc_index sw = p->stride[2], dw = p->dil[2];
    const fc_index nrows = cig * KD * KH, ktot = nrows * KW;
    memset(gw, 0, (size_t)p->c_out * ktot * sizeof(FC_REAL));
    if (p->n == 0)
        return FC_OK;
    if (2 * cog >= FC_VL)
        return WGRAD_GEMM(p, x, gy, gw);
    fc_index chunk = OW < FC_CHUNK ? OW : FC_CHUNK;
    chunk = (chunk + FC_VL - 1) / FC_VL * FC_VL;
    const fc_index plen = chunk + ((KW - 1) * dw) / sw + 2 * FC_VL;
    const fc_index row_stride = sw * plen;
    size_t panel_elems, panels_bytes;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    if (fc_mul_overflows(nrows, row_stride, &panel_elems)
        || fc_mul_overflows((fc_index)nt * (fc_index)sizeof(FC_REAL), (fc_index)panel_elems, &panels_bytes))
        return FC_ENOMEM;
    /* taps padded to a multiple of FC_WTB (extra taps reread tap 0 and are dropped) */
    const fc_index ntap_pad = (KW + FC_WTB - 1) / FC_WTB * FC_WTB;
    FC_REAL *panels = fc_scratch_alloc(panels_bytes);
    unsigned char *phase_used = fc_scratch_calloc((size_t)sw, 1);
    fc_index *taps = fc_scratch_alloc((size_t)ntap_pad * sizeof(fc_index));
    FC_REAL *zeros = fc_scratch_calloc((size_t)chunk + FC_VL, sizeof(FC_REAL));
    if (!panels || !phase_used || !taps || !zeros) {
        fc_scratch_free(panels);
        fc_scratch_free(phase_used);
        fc_scratch_free(taps);
        fc_scratch_free(zeros);
        return FC_ENOMEM;
    }
    for (fc_index t = 0; t < ntap_pad; t++) {
        fc_index tt = t < KW ? t : 0;
        phase_used[(tt * dw) % sw] = 1;
        taps[t] = ((tt * dw) % sw) * plen + (tt * dw) / sw;
    }
    const fc_index ntile = (cog + FC_WMR - 1) / FC_WMR;
    fc_index nsplit = 1;
    while (nsplit < ntile && G * nsplit < (fc_index)nt)
        nsplit++;

    CONV_JOB j = {.p = p, .x = x, .gy = gy, .zeros = zeros, .out = gw, .scratch = panels,
                  .scratch_elems = panel_elems, .taps = taps, .phase_used = phase_used,
                  .nsplit = nsplit, .ntile = ntile, .chunk = chunk, .plen = plen,
                  .row_stride = row_stride, .nrows = nrows, .ntap_pad = ntap_pad};
    fc_parallel_for(nt, G * nsplit, BWD_WEIGHT_TASK, &j);
    fc_scratch_free(panels);
    fc_scratch_free(phase_used);
    fc_scratch_free(taps);
    fc_scratch_free(zeros);
    return FC_OK;
}

/* gb[o] = sum_{n, positions} gy[n, o, ...]: one thread per channel, fixed order. */
#define BWD_BIAS_CHANNELS FC_CAT(fc_conv_bwd_bias_channels_, FC_DT)
static void BWD_BIAS_CHANNELS(void *ctx, fc_index o0, fc_index o1, int slot)
{
    const CONV_JOB *j = ctx;
    const fc_conv_params *p = j->p;
    CONV_SIZES(p);
    const FC_REAL *gy = j->gy;
    FC_REAL *gb = j->out;
    const fc_index P = out_plane, pfull = P / FC_VL * FC_VL;
    for (fc_index o = o0; o < o1; o++) {
        FC_REAL total = 0;
        for (fc_index n = 0; n < p->n; n++) {
            const FC_REAL *src = gy + ((size_t)n * p->c_out + o) * P;
            VEC acc = BCAST((FC_REAL)0);
            for (fc_index i = 0; i < pfull; i += FC_VL)
                acc += LOADV(src + i);
            FC_REAL s = HSUM(acc);
            for (fc_index i = pfull; i < P; i++)
                s += src[i];
            total += s;
        }
        gb[o] = total;
    }
}

int FC_ISA_FN(FC_CAT(fc_conv_bwd_bias_, FC_DT))(const fc_conv_params *p, const FC_REAL *gy, FC_REAL *gb)
{
    CONV_JOB j = {.p = p, .gy = gy, .out = gb};
    fc_parallel_range(p->num_threads, p->c_out, BWD_BIAS_CHANNELS, &j);
    return FC_OK;
}

#undef FC_VL
#undef VEC
#undef LOADV
#undef BCAST
#undef PACK_WEIGHTS
#undef IM2COL_TILE
#undef IM2COL_ROWS
#undef COL2IM_TILE
#undef HSUM
#undef WG_R
#undef WG_NV
#undef WG_ACC
#undef WG_TILE
#undef WGRAD_GEMM
#undef WG_PAD_TASK
#undef WG_TRANSPOSE_TASK
#undef WG_TBLOCK
#undef WGRAD_TASK
#undef WG_JOB
#undef PHASE_TAPS
#undef UKERNEL
#undef FC_SPLIT_S2
#undef FILL_PANEL
#undef CONV_JOB
#undef CONV_SIZES
#undef CONV_PANEL
#undef FWD_DIRECT_TASK
#undef FWD_GEMM_TASK
#undef BWD_INPUT_TASK
#undef BWD_WEIGHT_TASK
#undef BWD_BIAS_CHANNELS
