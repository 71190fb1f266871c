/*
 * fc_depthwise.template.c - depthwise / separable / pointwise kernels, one dtype.
 * Included by fc_depthwise_simd.c with FC_REAL (float/double), FC_REAL_BYTES
 * (its size, for the preprocessor), FC_DT (f32/f64) and FC_ILANE (the integer of
 * the same width, for lane masks).
 *
 * Depthwise forward (o = c*m + j reads input channel c only):
 *   out[n, o, z, y, x] = bias[o] + sum_{kd, kh, kw} w[o, kd, kh, kw]
 *                        * xpad[n, c, z*sd + kd*dd, y*sh + kh*dh, x*sw + kw*dw]
 * Phases of a task (n, c, z, block of output rows, row segment):
 *  1. gather the padded input rows the block reads into the thread's panel, each
 *     once (fc_dw_geom: slots), through the padding mode and split into `sw`
 *     stride phases, so that every tap's inputs of consecutive outputs are
 *     consecutive in memory (stride 1 is one phase: a padded row copy);
 *  2. for each of the m output channels, a micro-kernel keeps R rows x NV
 *     vectors of outputs in registers and, for each kernel row and tap,
 *     broadcasts the weight and FMAs it with contiguous vector loads of the
 *     panel; the tile is stored once, bias included.  For 2-D 3x3 and 5x5
 *     kernels (row stride 1 or 2, row dilation 1) the micro-kernel walks the
 *     tile's padded rows instead, loading each once per tap and vector for all
 *     the output rows that read it (DW_UKERNEL_2D).
 * Only a block's rows are ever padded, never the whole input.  2-D 3x3 kernels
 * with zero padding and equal strides 1 or 2 skip the panel on the AVX2 and
 * AVX-512 paths: DW_DIRECT_TASKS reads the input in place with masked loads.
 *
 * Backward (each output element owned by one thread, fixed summation order):
 *  - input, stride 1, zero padding, multiplier 1: the forward kernel on gy
 *    with flipped filters (DW_BWD_INPUT_AS_FWD);
 *  - input, otherwise: per (n, c) plane, for every padded row that some
 *    output reads, the gradient with respect to that padded row is gathered
 *    phase by phase from zero-extended output-gradient rows
 *    (gpad[sw*i + q] = sum over taps t with
 *    t*dw % sw == q of w[t] * gy[i - t*dw / sw], for every (j, kd, kh) that
 *    reads the row), then folded onto the input row it reads, padded cells
 *    through fc_pad_index, left to right; padded rows go top to bottom.  The
 *    zero-extended rows live in a small per-thread ring, each copied once.
 *  - weight and bias: per output channel, reduce over batch and positions:
 *    for groups of up to 8 taps, one vector accumulator per tap stays in
 *    registers over a block's rows (each gy vector loaded once, FMA'd with
 *    every tap's panel row); lanes summed in order at the end.  2-D 3x3
 *    kernels (row stride 1 or 2, row dilation 1) keep all 9 taps and the bias
 *    in registers and take gy rows in groups, each padded row loaded once per
 *    tap for all the group's gy rows that read it (DW_WGRAD_3X3).
 *
 * Separable forward: per task (n, z, tile of rows / row segment), the depthwise
 * block of every channel is written to the thread's tile (c_out x positions),
 * then out[q, p] = pb[q] + sum_o pw[q, o] * tile[o, p] by the pointwise
 * micro-kernel (MR channels x 2 vectors of positions, weights read in place).
 *
 * Pointwise kernels (the separable backward's other half): the forward copies
 * a tile of positions of every input channel and runs the same micro-kernel;
 * the weight gradient is register-tiled over output x input channels, each
 * element one vector accumulator over (n, p) in order.
 */
#ifndef FC_REAL
#error "FC_REAL must be defined (float or double) before including this template"
#endif
#ifndef FC_DT
#error "FC_DT must be defined (f32 or f64) before including this template"
#endif
#ifndef FC_ILANE
#error "FC_ILANE must be defined (int32_t or int64_t) before including this template"
#endif

#include "fc_rows.template.h"

#define FC_VL (FC_VBYTES / (int)sizeof(FC_REAL))
#define VEC FC_CAT(fc_dw_vec_, FC_DT)
#define IVEC FC_CAT(fc_dw_ivec_, FC_DT)
typedef FC_REAL VEC __attribute__((vector_size(FC_VBYTES)));
typedef FC_ILANE IVEC __attribute__((vector_size(FC_VBYTES)));

#define LOADV FC_CAT(fc_dw_loadv_, FC_DT)
FC_INLINE VEC LOADV(const FC_REAL *p)
{
    VEC v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The first n (< FC_VL) lanes from p, zeros after: never reads past p[n-1]. */
#define LOADV_PART FC_CAT(fc_dw_loadv_part_, FC_DT)
FC_INLINE VEC LOADV_PART(const FC_REAL *p, fc_index n)
{
    VEC v = {0};
    memcpy(&v, p, (size_t)n * sizeof(FC_REAL));
    return v;
}

/* Store the first n lanes (n >= FC_VL stores the whole vector). */
#define STOREV_PART FC_CAT(fc_dw_storev_part_, FC_DT)
FC_INLINE void STOREV_PART(FC_REAL *p, VEC v, fc_index n)
{
    if (n >= FC_VL)
        memcpy(p, &v, sizeof v);
    else
        for (fc_index l = 0; l < n; l++) /* a lane loop, not a libc call */
            p[l] = v[l];
}

/* Copy the first and the last B bytes of nb (B <= nb <= 2B, B constant), so
 * together all nb bytes: two fixed-size moves each way. */
#define FC_DW_COPY2(d, s, nb, B)                                                             \
    do {                                                                                     \
        unsigned char t1_[B], t2_[B];                                                        \
        memcpy(t1_, (s), B);                                                                 \
        memcpy(t2_, (const unsigned char *)(s) + (nb) - (B), B);                             \
        memcpy((d), t1_, B);                                                                 \
        memcpy((unsigned char *)(d) + (nb) - (B), t2_, B);                                   \
    } while (0)

/* d[0 .. n-1] = s[0 .. n-1] (no overlap) in whole vectors, the last one moved
 * back to end at n; shorter rows in two overlapping fixed-size moves.  Panel
 * rows are short, so a memcpy call (or a scalar loop) costs more. */
#define COPYN FC_CAT(fc_dw_copyn_, FC_DT)
FC_INLINE void COPYN(FC_REAL *FC_RESTRICT d, const FC_REAL *FC_RESTRICT s, fc_index n)
{
    if (n < FC_VL) {
        const size_t nb = (size_t)n * sizeof(FC_REAL);
        if (FC_VBYTES > 32 && nb >= 32)
            FC_DW_COPY2(d, s, nb, 32);
        else if (nb >= 16)
            FC_DW_COPY2(d, s, nb, 16);
        else if (nb >= 8)
            FC_DW_COPY2(d, s, nb, 8);
        else if (nb >= 4)
            FC_DW_COPY2(d, s, nb, 4);
        return;
    }
    for (fc_index i = 0;; i += FC_VL) {
        if (i + FC_VL > n)
            i = n - FC_VL;
        const VEC v = LOADV(s + i);
        memcpy(d + i, &v, sizeof v);
        if (i + FC_VL == n)
            break;
    }
}

/* Make v opaque to the compiler, so that a vector loaded once is not turned
 * back into a memory operand of each FMA that uses it (which would reload it). */
#ifndef FC_DW_OPAQUE
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define FC_DW_OPAQUE(v) __asm__("" : "+v"(v))
#elif defined(__GNUC__) && defined(__aarch64__)
#define FC_DW_OPAQUE(v) __asm__("" : "+w"(v))
#else
#define FC_DW_OPAQUE(v) ((void)0)
#endif
#endif

#define BCAST FC_CAT(fc_dw_bcast_, FC_DT)
/* s - 0 is exactly s (also for -0), so this folds to a plain broadcast. */
FC_INLINE VEC BCAST(FC_REAL s) { return s - (VEC){0}; }

/* Lanes summed in lane order (a fixed order, so results are reproducible). */
#define HSUM FC_CAT(fc_dw_hsum_, FC_DT)
FC_INLINE FC_REAL HSUM(VEC v)
{
    FC_REAL s = v[0];
    for (int l = 1; l < FC_VL; l++)
        s += v[l];
    return s;
}

/* v with lanes >= n set to +0 (also when they hold Inf or NaN). */
#define KEEP_LANES FC_CAT(fc_dw_keep_lanes_, FC_DT)
FC_INLINE VEC KEEP_LANES(VEC v, fc_index n)
{
    IVEC m;
    for (int l = 0; l < FC_VL; l++)
        m[l] = l < n ? (FC_ILANE)-1 : 0;
    return (VEC)((IVEC)v & m);
}

/* *bytes = nt * elems * sizeof(FC_REAL) (per-thread scratch); 1 on overflow. */
#define SCRATCH_BYTES FC_CAT(fc_dw_scratch_bytes_, FC_DT)
FC_INLINE int SCRATCH_BYTES(int nt, fc_index elems, size_t *bytes)
{
    size_t e;
    return fc_mul_overflows((fc_index)nt, elems, &e)
           || fc_mul_overflows((fc_index)e, (fc_index)sizeof(FC_REAL), bytes);
}

/* What a depthwise, separable or pointwise task reads; each kernel fills the
 * fields it uses.  Per-slot scratch: panels (g->panel_elems each), rowptrs
 * (g->rows * kd * kh each) and scratch (scratch_elems each). */
#define DW_JOB FC_CAT(fc_dw_job_, FC_DT)
typedef struct {
    const fc_conv_params *p;
    const fc_pointwise_params *q;
    const fc_dw_geom *g;
    const FC_REAL *x, *w, *bias, *gy, *pw, *pb; /* pb: pointwise bias or NULL */
    FC_REAL *out, *gw, *gb;
    FC_REAL *panels, *scratch;
    const FC_REAL **rowptrs;
    const fc_index *pairs; /* paired-taps transposed convolution: D, H, W, KD, KH */
    size_t scratch_elems;
    fc_index nblk, rows, cols, nyb, nxb, tstride, c_pw;
    int nv;
    int direct; /* separable: the depthwise part by DW_DIRECT_BLOCK */
} DW_JOB;

/* The sizes every depthwise task derives from its parameters. */
#define DW_SIZES(p)                                                                          \
    FC_MAYBE_UNUSED const fc_index OD = (p)->out[0], OH = (p)->out[1], OW = (p)->out[2],   \
                                   nq = (p)->k[0] * (p)->k[1], KW = (p)->k[2],             \
                                   m = (p)->c_out / (p)->c_in,                             \
                                   in_plane = (p)->in[0] * (p)->in[1] * (p)->in[2],         \
                                   out_plane = OD * OH * OW

/* --------------------------------------------------------------- panel ---- */

/* Gather the padded input rows that output rows [y0, y0 + ny), outputs
 * [x0, x0 + cw) of depth z read from the channel plane xc (D x H x W) into
 * the panel: slot s of kernel depth kd holds padded row (z*sd + kd*dd,
 * y0*sh + slot_pr[s]), phase q element j = xpad[.., (x0 + j)*sw + q] for the
 * j < cw + reach that some output reads.  Elements past those are only read
 * by vector lanes whose results are discarded or masked, so they are left as
 * they are (the panel is zeroed once when allocated).  Slots read only by rows
 * >= ny are skipped. */
#define DW_FILL FC_CAT(fc_dw_fill_, FC_DT)
static void DW_FILL(const fc_conv_params *p, const fc_dw_geom *g, const FC_REAL *xc,
                    fc_index z, fc_index y0, fc_index ny, fc_index x0, fc_index cw,
                    FC_REAL *FC_RESTRICT panel)
{
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index sw = p->stride[2], pw = p->pad[2];
    const fc_index reach = ((p->k[2] - 1) * p->dil[2]) / sw;
    const fc_index fill = cw + reach < g->plen ? cw + reach : g->plen;
    const int mode = p->pad_mode;
    for (fc_index kd = 0; kd < p->k[0]; kd++) {
        const fc_index iz = fc_pad_index(z * p->stride[0] - p->pad[0] + kd * p->dil[0], D, mode);
        for (fc_index s = 0; s < g->nslots; s++) {
            if (g->slot_first[s] >= ny)
                continue;
            FC_REAL *dst = panel + (kd * g->nslots + s) * g->row_stride;
            const fc_index iy = iz < 0 ? -1
                                       : fc_pad_index(y0 * p->stride[1] - p->pad[1] + g->slot_pr[s],
                                                      H, mode);
            if (iy < 0) {
                for (fc_index q = 0; q < sw; q++)
                    memset(dst + q * g->plen, 0, (size_t)fill * sizeof(FC_REAL));
                continue;
            }
            const FC_REAL *src = xc + (iz * H + iy) * W;
            if (sw == 2 && g->phase_used[0] && g->phase_used[1]) {
                FC_SPLIT_S2(src, W, x0 * 2 - pw, fill, mode, dst, dst + g->plen);
                continue;
            }
            for (fc_index q = 0; q < sw; q++) {
                if (!g->phase_used[q])
                    continue; /* no tap reads this phase */
                FC_REAL *d = dst + q * g->plen;
                fc_index ix = x0 * sw + q - pw; /* input column of d[0] */
                fc_index j = 0;
                /* left edge, interior, right edge */
                for (; j < fill && ix < 0; j++, ix += sw) {
                    fc_index s2 = fc_pad_index(ix, W, mode);
                    d[j] = s2 < 0 ? (FC_REAL)0 : src[s2];
                }
                if (sw == 1) {
                    fc_index cnt = fill - j < W - ix ? fill - j : W - ix;
                    if (cnt > 0) {
                        COPYN(d + j, src + ix, cnt);
                        j += cnt;
                        ix += cnt;
                    }
                } else {
                    for (; j < fill && ix < W; j++, ix += sw)
                        d[j] = src[ix];
                }
                for (; j < fill; j++, ix += sw) {
                    fc_index s2 = fc_pad_index(ix, W, mode);
                    d[j] = s2 < 0 ? (FC_REAL)0 : src[s2];
                }
            }
        }
    }
}

/* --------------------------------------------------- depthwise forward ---- */

/* Accumulators a depthwise tile keeps in registers (R*NV): half of the 32
 * vector registers with AVX-512, 8 of 16 otherwise. */
#define FC_DW_NACC (FC_VBYTES >= 64 ? 16 : 8)

/* Start of each of the NV output vectors of a tile (see DW_UKERNEL). */
#define DW_TILE_OFFS FC_CAT(fc_dw_tile_offs_, FC_DT)
FC_INLINE void DW_TILE_OFFS(int NV, fc_index j0, fc_index cw, fc_index *off)
{
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
        off[v] = j0 + v * FC_VL;
        if (cw >= FC_VL && off[v] + FC_VL > cw)
            off[v] = cw - FC_VL;
    }
}

/* Store the R x NV accumulators of a tile (see DW_UKERNEL). */
#define DW_TILE_STORE FC_CAT(fc_dw_tile_store_, FC_DT)
FC_INLINE void DW_TILE_STORE(int R, int NV, VEC (*acc)[4], const fc_index *off, fc_index cw,
                             FC_REAL *FC_RESTRICT dst, fc_index rstride, fc_index room)
{
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            STOREV_PART(dst + r * rstride + off[v], acc[r][v],
                        cw >= FC_VL ? FC_VL : room - r * rstride);
}

/* R output rows x NV vectors of outputs of one channel (R, NV constant,
 * R*NV <= FC_DW_NACC; KWC the kernel width when constant, else 0 and kw is used).
 * rows[r*nq + q]: panel row read by output row r for kernel row q = kd*KH + kh;
 * tap t of output j reads its element j + taps[t].  wk[q*kw + t]: the
 * channel's weights; b its bias.  Vector v covers outputs from
 * off_v = j0 + v*FC_VL, moved back to cw - FC_VL when it would pass the row's
 * cw outputs (its recomputed outputs get the same values), so rows of at least
 * one vector take full stores only.  Rows narrower than a vector (cw < FC_VL,
 * rows contiguous: rstride == cw) store whole vectors too while they stay
 * within the `room` elements from dst (later rows overwrite the excess), and
 * the first room - r*rstride lanes of the last ones.  Row r goes to
 * dst + r*rstride. */
#define DW_UKERNEL FC_CAT(fc_dw_ukernel_, FC_DT)
FC_INLINE void DW_UKERNEL(int R, int NV, int KWC, const FC_REAL *const *rows, fc_index nq,
                          const fc_index *FC_RESTRICT taps, fc_index kw, fc_index j0,
                          fc_index cw, const FC_REAL *FC_RESTRICT wk, FC_REAL b,
                          FC_REAL *FC_RESTRICT dst, fc_index rstride, fc_index room)
{
    VEC acc[16][4];
    fc_index off[4];
    const VEC bv = BCAST(b);
    if (KWC)
        kw = KWC;
    DW_TILE_OFFS(NV, j0, cw, off);
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[r][v] = bv;
    for (fc_index q = 0; q < nq; q++) {
        const FC_REAL *src[16];
#pragma GCC unroll 16
        for (int r = 0; r < R; r++)
            src[r] = rows[r * nq + q];
        const FC_REAL *wq = wk + q * kw;
#pragma GCC unroll 7
        for (fc_index t = 0; t < kw; t++) {
            const VEC wv = BCAST(wq[t]);
            const fc_index tap = taps[t];
#pragma GCC unroll 16
            for (int r = 0; r < R; r++)
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++)
                    acc[r][v] += wv * LOADV(src[r] + off[v] + tap);
        }
    }
    DW_TILE_STORE(R, NV, acc, off, cw, dst, rstride, room);
}

/* DW_UKERNEL for a 2-D K x K kernel (K constant; kernel depth 1, row dilation
 * 1) and row stride SH (constant): output row r reads padded rows r*SH + kh,
 * so the tile's (R-1)*SH + K distinct rows are each loaded once per tap and
 * vector and the value FMA'd into every output row that reads it (K*K FMAs
 * per output vector for about K*(1 + (K-1)/R) loads, instead of K*K).  Same
 * contract as DW_UKERNEL with nq = K. */
#define DW_UKERNEL_2D FC_CAT(fc_dw_ukernel_2d_, FC_DT)
FC_INLINE void DW_UKERNEL_2D(int R, int NV, int K, int SH, const FC_REAL *const *rows,
                             const fc_index *FC_RESTRICT taps, fc_index j0, fc_index cw,
                             const FC_REAL *FC_RESTRICT wk, FC_REAL b,
                             FC_REAL *FC_RESTRICT dst, fc_index rstride, fc_index room)
{
    VEC acc[16][4], wv[5][5];
    fc_index off[4], tp[5];
    const VEC bv = BCAST(b);
    DW_TILE_OFFS(NV, j0, cw, off);
#pragma GCC unroll 5
    for (int t = 0; t < K; t++)
        tp[t] = taps[t];
#pragma GCC unroll 5
    for (int kh = 0; kh < K; kh++)
#pragma GCC unroll 5
        for (int t = 0; t < K; t++)
            wv[kh][t] = BCAST(wk[kh * K + t]);
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[r][v] = bv;
#pragma GCC unroll 40
    for (int i = 0; i < (R - 1) * SH + K; i++) {
        /* any (r, kh) with r*SH + kh == i names the padded row */
        const int rs = i / SH < R - 1 ? i / SH : R - 1;
        const FC_REAL *src = rows[rs * K + i - rs * SH];
#pragma GCC unroll 5
        for (int t = 0; t < K; t++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                VEC xv = LOADV(src + off[v] + tp[t]);
                FC_DW_OPAQUE(xv);
#pragma GCC unroll 16
                for (int r = 0; r < R; r++) {
                    const int kh = i - r * SH;
                    if (kh >= 0 && kh < K)
                        acc[r][v] += wv[kh][t] * xv;
                }
            }
    }
    DW_TILE_STORE(R, NV, acc, off, cw, dst, rstride, room);
}

/* DW_UKERNEL with run-time (R, NV) from the set the block loop uses, and the
 * kernel width 3 (the common case) made constant.  k2d: 3 or 5 when the call
 * fits DW_UKERNEL_2D with that K (and row stride sh 1 or 2), else 0. */
#define DW_TILE FC_CAT(fc_dw_tile_, FC_DT)
static void DW_TILE(int R, int NV, int k2d, fc_index sh, const FC_REAL *const *rows,
                    fc_index nq, const fc_index *taps, fc_index kw, fc_index j0, fc_index cw,
                    const FC_REAL *wk, FC_REAL b, FC_REAL *dst, fc_index rstride,
                    fc_index room)
{
#define FC_DW_CASE2(r_, v_, k_)                                                              \
    case (r_) * 8 + (v_):                                                                    \
        if (sh == 1)                                                                         \
            DW_UKERNEL_2D(r_, v_, k_, 1, rows, taps, j0, cw, wk, b, dst, rstride, room);     \
        else                                                                                 \
            DW_UKERNEL_2D(r_, v_, k_, 2, rows, taps, j0, cw, wk, b, dst, rstride, room);     \
        break;
#if FC_DW_NACC >= 16
#define FC_DW_CASES2_WIDE(k_)                                                                \
    FC_DW_CASE2(4, 3, k_)                                                                    \
    FC_DW_CASE2(4, 4, k_)                                                                    \
    FC_DW_CASE2(8, 2, k_)
#else
#define FC_DW_CASES2_WIDE(k_)
#endif
#define FC_DW_CASES2(k_)                                                                     \
    switch (R * 8 + NV) {                                                                    \
        FC_DW_CASE2(1, 1, k_)                                                                \
        FC_DW_CASE2(1, 2, k_)                                                                \
        FC_DW_CASE2(1, 3, k_)                                                                \
        FC_DW_CASE2(1, 4, k_)                                                                \
        FC_DW_CASE2(2, 1, k_)                                                                \
        FC_DW_CASE2(2, 2, k_)                                                                \
        FC_DW_CASE2(2, 3, k_)                                                                \
        FC_DW_CASE2(2, 4, k_)                                                                \
        FC_DW_CASE2(4, 1, k_)                                                                \
        FC_DW_CASE2(4, 2, k_)                                                                \
        FC_DW_CASE2(8, 1, k_)                                                                \
        FC_DW_CASES2_WIDE(k_)                                                                \
    default:                                                                                 \
        break;                                                                               \
    }
#define FC_DW_CASE(r_, v_)                                                                   \
    case (r_) * 8 + (v_):                                                                    \
        if (kw == 3)                                                                         \
            DW_UKERNEL(r_, v_, 3, rows, nq, taps, kw, j0, cw, wk, b, dst, rstride, room);    \
        else                                                                                 \
            DW_UKERNEL(r_, v_, 0, rows, nq, taps, kw, j0, cw, wk, b, dst, rstride, room);    \
        break;
    if (k2d == 3) {
        FC_DW_CASES2(3)
        return;
    }
    if (k2d == 5) {
        FC_DW_CASES2(5)
        return;
    }
    switch (R * 8 + NV) {
        FC_DW_CASE(1, 1)
        FC_DW_CASE(1, 2)
        FC_DW_CASE(1, 3)
        FC_DW_CASE(1, 4)
        FC_DW_CASE(2, 1)
        FC_DW_CASE(2, 2)
        FC_DW_CASE(2, 3)
        FC_DW_CASE(2, 4)
        FC_DW_CASE(4, 1)
        FC_DW_CASE(4, 2)
        FC_DW_CASE(8, 1)
    default:
        break;
    }
#undef FC_DW_CASE
#undef FC_DW_CASE2
#undef FC_DW_CASES2
#undef FC_DW_CASES2_WIDE
}

/* rowptr[yl*nq + kd*KH + kh]: the panel row that block row yl reads for kernel
 * row (kd, kh); the same for every block, so filled once per task. */
#define DW_ROWPTRS FC_CAT(fc_dw_rowptrs_, FC_DT)
static void DW_ROWPTRS(const fc_conv_params *p, const fc_dw_geom *g, const FC_REAL *panel,
                       const FC_REAL **rowptr)
{
    const fc_index KD = p->k[0], KH = p->k[1], nq = KD * KH;
    for (fc_index yl = 0; yl < g->rows; yl++)
        for (fc_index kd = 0; kd < KD; kd++)
            for (fc_index kh = 0; kh < KH; kh++)
                rowptr[yl * nq + kd * KH + kh] =
                    panel + (kd * g->nslots + g->slot_of[yl * KH + kh]) * g->row_stride;
}

/* Output rows [y0, y0 + ny) x outputs [x0, x0 + cw) at depth z of the m output
 * channels of one input channel: plane xc, weights wc (m x nq x kw), biases bc
 * (m) or NULL.  Output channel j, row yl, output x goes to
 * dst[j*cstride + yl*rstride + x - x0]; when cw < FC_VL, rstride must be cw
 * (see DW_UKERNEL: whole-vector stores run into the block's later rows).
 * panel: the thread's scratch; rowptr: its DW_ROWPTRS table. */
#define DW_BLOCK FC_CAT(fc_dw_block_, FC_DT)
static void DW_BLOCK(const fc_conv_params *p, const fc_dw_geom *g, const FC_REAL *xc,
                     const FC_REAL *wc, const FC_REAL *bc, fc_index z, fc_index y0,
                     fc_index ny, fc_index x0, fc_index cw, FC_REAL *panel,
                     const FC_REAL **rowptr, FC_REAL *dst, fc_index cstride, fc_index rstride)
{
    const fc_index KD = p->k[0], KH = p->k[1], KW = p->k[2], nq = KD * KH;
    const fc_index m = p->c_out / p->c_in;
    DW_FILL(p, g, xc, z, y0, ny, x0, cw, panel);
    /* Up to 4 vectors per row; rows so that the tile keeps up to FC_DW_NACC
     * accumulators (at most 8 rows, a power of two), FC_DW_NACC / 2 for the
     * general kernel, which loads a vector per FMA. */
    const fc_index nvec = (cw + FC_VL - 1) / FC_VL;
    const int NV = nvec < 4 ? (int)nvec : 4;
    /* (not with 16-byte vectors: their 16 registers cannot also hold the weights) */
    const int k2d = FC_VBYTES >= 32 && KD == 1 && KH == KW && (KW == 3 || KW == 5)
                            && p->dil[1] == 1 && (p->stride[1] == 1 || p->stride[1] == 2)
                        ? (int)KW
                        : 0;
    const int nacc = k2d ? FC_DW_NACC : 8;
    int R = 8;
    while (R * NV > nacc)
        R /= 2;
    for (fc_index j = 0; j < m; j++) {
        const FC_REAL *wk = wc + j * nq * KW;
        const FC_REAL b = bc ? bc[j] : (FC_REAL)0;
        FC_REAL *d = dst + j * cstride;
        for (fc_index yl = 0; yl < ny;) {
            int r = R;
            while (r > ny - yl)
                r /= 2;
            for (fc_index j0 = 0; j0 < cw; j0 += (fc_index)NV * FC_VL) {
                const fc_index left = (cw - j0 + FC_VL - 1) / FC_VL;
                const int nv = left < NV ? (int)left : NV;
                DW_TILE(r, nv, k2d, p->stride[1], rowptr + yl * nq, nq, g->taps, KW, j0, cw,
                        wk, b, d + yl * rstride, rstride, (ny - yl) * rstride);
            }
            yl += r;
        }
    }
}

/* Row blocks small enough that n * c_in * D_out * blocks >= 4 * nt when possible. */
#define DW_BLOCK_ROWS FC_CAT(fc_dw_block_rows_, FC_DT)
static fc_index DW_BLOCK_ROWS(const fc_conv_params *p, int nt)
{
    const fc_index OH = p->out[1];
    const fc_index planes = p->n * p->c_in * p->out[0];
    fc_index rows = FC_DW_BLOCK_ROWS < OH ? FC_DW_BLOCK_ROWS : OH;
    while (rows > 1 && planes * ((OH + rows - 1) / rows) < 4 * (fc_index)nt)
        rows = (rows + 1) / 2;
    return rows;
}

/* Per-thread panels and (unless rowptrs is NULL) row-pointer tables for g. */
#define DW_SCRATCH FC_CAT(fc_dw_scratch_, FC_DT)
static int DW_SCRATCH(const fc_dw_geom *g, const fc_conv_params *p, int nt, FC_REAL **panels,
                      const FC_REAL ***rowptrs)
{
    size_t bytes;
    *panels = NULL;
    if (SCRATCH_BYTES(nt, g->panel_elems, &bytes))
        return FC_ENOMEM;
    /* vector-aligned, so that aligned phases of every slot's rows stay aligned;
     * zeroed, see DW_FILL: lanes past the filled part */
    bytes = (bytes + FC_VBYTES - 1) / FC_VBYTES * FC_VBYTES;
    *panels = aligned_alloc(FC_VBYTES, bytes);
    if (*panels)
        memset(*panels, 0, bytes);
    if (!rowptrs)
        return *panels ? FC_OK : FC_ENOMEM;
    *rowptrs = fc_scratch_alloc((size_t)nt * (size_t)(g->rows * p->k[0] * p->k[1]) * sizeof(FC_REAL *));
    if (!*panels || !*rowptrs) {
        fc_scratch_free(*panels);
        fc_scratch_free((void *)*rowptrs);
        return FC_ENOMEM;
    }
    return FC_OK;
}

#define DW_FWD_TASKS FC_CAT(fc_dw_fwd_tasks_, FC_DT)
/* Tasks task0 .. task1 of (n, c, z, row block), through the slot's panel. */
static void DW_FWD_TASKS(void *ctx, fc_index task0, fc_index task1, int slot)
{
    const DW_JOB *j = ctx;
    const fc_conv_params *p = j->p;
    DW_SIZES(p);
    const fc_dw_geom g = *j->g;
    const FC_REAL *x = j->x, *w = j->w, *bias = j->bias;
    FC_REAL *out = j->out;
    const fc_index nblk = j->nblk;
    FC_REAL *panel = j->panels + (size_t)slot * g.panel_elems;
    const FC_REAL **rowptr = j->rowptrs + (size_t)slot * g.rows * nq;
    DW_ROWPTRS(p, &g, panel, rowptr);
    for (fc_index task = task0; task < task1; task++) {
        fc_index rem = task;
        const fc_index blk = rem % nblk; rem /= nblk;
        const fc_index z = rem % OD; rem /= OD;
        const fc_index c = rem % p->c_in;
        const fc_index n = rem / p->c_in;
        const fc_index y0 = blk * g.rows;
        const fc_index ny = OH - y0 < g.rows ? OH - y0 : g.rows;
        const FC_REAL *xc = x + (n * p->c_in + c) * in_plane;
        for (fc_index x0 = 0; x0 < OW; x0 += g.chunk) {
            const fc_index cw = OW - x0 < g.chunk ? OW - x0 : g.chunk;
            FC_REAL *dst = out + (n * p->c_out + c * m) * out_plane + (z * OH + y0) * OW + x0;
            DW_BLOCK(p, &g, xc, w + c * m * nq * KW, bias ? bias + c * m : NULL, z, y0, ny,
                     x0, cw, panel, rowptr, dst, out_plane, OW);
        }
    }
}

/* ------------------------------------------- direct 3x3 depthwise forward ---- */

/* 2-D 3x3 kernels with zero padding, dilation 1 and the same stride S (1 or 2)
 * on both axes (MobileNet's and Xception's depthwise layers) read the input in
 * place instead of through a panel: a tap in the padding is a masked-off lane
 * of a fault-suppressing masked load, a padding row is skipped.  Stride 2 loads
 * two vectors of a row and splits them into even and odd columns in registers.
 * Filling the panel was half of these layers' time.  Needs masked loads and
 * stores (AVX2, AVX-512); the baseline path keeps the panel. */
#if FC_VBYTES >= 32
#define FC_DW_DIRECT 1
#define FC_DW_LANES (FC_VBYTES / FC_REAL_BYTES)
/* Output rows a tile keeps in registers, beside the 9 weights and the taps. */
#define FC_DW_DIRECT_ROWS (FC_VBYTES >= 64 ? 8 : 4)

/* A lane mask for LOADV_MASK: lanes [lo, hi), clamped to the vector. */
#if FC_VBYTES >= 64
#define DW_LANES unsigned
#else
#define DW_LANES IVEC
#endif
#define LANE_MASK FC_CAT(fc_dw_lane_mask_, FC_DT)
FC_INLINE DW_LANES LANE_MASK(fc_index lo, fc_index hi)
{
    lo = lo > 0 ? lo : 0;
    hi = hi < FC_VL ? hi : FC_VL;
#if FC_VBYTES >= 64
    return hi > lo ? ((1u << hi) - 1) & ~((1u << lo) - 1) : 0;
#else
    IVEC m;
    for (int l = 0; l < FC_VL; l++)
        m[l] = l >= lo && l < hi ? (FC_ILANE)-1 : 0;
    return m;
#endif
}

/* The lanes of p[0 .. FC_VL) that mask selects, zeros elsewhere.  Masked-off
 * lanes are never read, so p may point before or past the row. */
#define LOADV_MASK FC_CAT(fc_dw_loadv_mask_, FC_DT)
FC_INLINE VEC LOADV_MASK(const FC_REAL *p, DW_LANES mask)
{
#if FC_VBYTES >= 64 && FC_REAL_BYTES == 4
    return (VEC)_mm512_maskz_loadu_ps((__mmask16)mask, p);
#elif FC_VBYTES >= 64
    return (VEC)_mm512_maskz_loadu_pd((__mmask8)mask, p);
#elif FC_REAL_BYTES == 4
    return (VEC)_mm256_maskload_ps(p, (__m256i)mask);
#else
    return (VEC)_mm256_maskload_pd(p, (__m256i)mask);
#endif
}

/* Store the first n (< FC_VL) lanes of v; p[n ..] is not touched. */
#define STOREV_MASK FC_CAT(fc_dw_storev_mask_, FC_DT)
FC_INLINE void STOREV_MASK(FC_REAL *p, VEC v, fc_index n)
{
    const DW_LANES mask = LANE_MASK(0, n);
#if FC_VBYTES >= 64 && FC_REAL_BYTES == 4
    _mm512_mask_storeu_ps(p, (__mmask16)mask, (__m512)v);
#elif FC_VBYTES >= 64
    _mm512_mask_storeu_pd(p, (__mmask8)mask, (__m512d)v);
#elif FC_REAL_BYTES == 4
    _mm256_maskstore_ps(p, (__m256i)mask, (__m256)v);
#else
    _mm256_maskstore_pd(p, (__m256i)mask, (__m256d)v);
#endif
}

/* Lane permutations for __builtin_shuffle(a, b, .) (lanes of b numbered from
 * FC_VL): the even and the odd lanes of a:b, and a shifted down by one lane
 * with b's first lane last. */
#if FC_DW_LANES == 16
#define FC_DW_EVENS {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30}
#define FC_DW_ODDS {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31}
#define FC_DW_NEXT {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
#elif FC_DW_LANES == 8
#define FC_DW_EVENS {0, 2, 4, 6, 8, 10, 12, 14}
#define FC_DW_ODDS {1, 3, 5, 7, 9, 11, 13, 15}
#define FC_DW_NEXT {1, 2, 3, 4, 5, 6, 7, 8}
#else
#define FC_DW_EVENS {0, 2, 4, 6}
#define FC_DW_ODDS {1, 3, 5, 7}
#define FC_DW_NEXT {1, 2, 3, 4}
#endif

/* Output rows [y, y + R) x columns [x0, x0 + cw) of one channel, R and the
 * stride S constant: xc the H x W input plane, (ph, pw) the padding, wk the 9
 * weights, b the bias; row r goes to dst + r*rstride.  The weights are
 * broadcast into registers once for the whole sweep along the row (left as
 * memory operands, each FMA would reload its weight and the loads, not the
 * FMAs, would bound the loop).  Per vector of outputs, each of the
 * (R-1)*S + 3 input rows is loaded once per tap and FMA'd into every output
 * row that reads it, in kernel-row then tap order. */
#define DW_DIRECT_TILE FC_CAT(fc_dw_direct_tile_, FC_DT)
FC_INLINE void DW_DIRECT_TILE(int R, int S, const FC_REAL *xc, fc_index H, fc_index W,
                              fc_index ph, fc_index pw, fc_index y, fc_index x0, fc_index cw,
                              const FC_REAL *wk, FC_REAL b, FC_REAL *dst, fc_index rstride)
{
    VEC wv[9];
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) {
        wv[t] = BCAST(wk[t]);
        FC_DW_OPAQUE(wv[t]);
    }
    const VEC bv = BCAST(b);
    for (fc_index j0 = x0; j0 < x0 + cw; j0 += FC_VL) {
        const fc_index nout = x0 + cw - j0;
        VEC acc[FC_DW_DIRECT_ROWS];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            acc[r] = bv;
        const fc_index c0 = j0 * S - pw; /* column of lane 0's first tap */
        const fc_index c1 = c0 + (S == 1 ? 1 : FC_VL), c2 = c0 + (S == 1 ? 2 : 2 * FC_VL);
        /* the lanes of the three loads per row that fall in [0, W) */
        const DW_LANES m0 = LANE_MASK(-c0, W - c0), m1 = LANE_MASK(-c1, W - c1),
                       m2 = LANE_MASK(-c2, S == 1 || W - c2 < 1 ? W - c2 : 1);
#pragma GCC unroll 17
        for (int i = 0; i < (R - 1) * S + 3; i++) {
            const fc_index iy = y * S - ph + i;
            if (iy < 0 || iy >= H)
                continue; /* a padding row adds nothing */
            const FC_REAL *row = xc + iy * W;
            VEC t0 = LOADV_MASK(row + c0, m0), t1 = LOADV_MASK(row + c1, m1),
                t2 = LOADV_MASK(row + c2, m2);
            if (S == 2) { /* t0:t1 is the row from c0, t2 the element after it */
                const VEC a = t0, b2 = t1;
                t0 = __builtin_shuffle(a, b2, (IVEC)FC_DW_EVENS);
                t1 = __builtin_shuffle(a, b2, (IVEC)FC_DW_ODDS);
                t2 = __builtin_shuffle(t0, t2, (IVEC)FC_DW_NEXT);
            }
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                const int kh = i - r * S;
                if (kh >= 0 && kh < 3) {
                    acc[r] += wv[3 * kh] * t0;
                    acc[r] += wv[3 * kh + 1] * t1;
                    acc[r] += wv[3 * kh + 2] * t2;
                }
            }
        }
        FC_REAL *d = dst + (j0 - x0);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            if (nout >= FC_VL)
                memcpy(d + r * rstride, &acc[r], sizeof acc[r]);
            else
                STOREV_MASK(d + r * rstride, acc[r], nout);
        }
    }
}

/* DW_DIRECT_TILE with run-time R (1 .. FC_DW_DIRECT_ROWS) and S (1 or 2). */
#define DW_DIRECT_RUN FC_CAT(fc_dw_direct_run_, FC_DT)
static void DW_DIRECT_RUN(int R, int S, const FC_REAL *xc, fc_index H, fc_index W,
                          fc_index ph, fc_index pw, fc_index y, fc_index x0, fc_index cw,
                          const FC_REAL *wk, FC_REAL b, FC_REAL *dst, fc_index rstride)
{
#define FC_DW_DCASE(r_)                                                                      \
    case r_:                                                                                 \
        if (S == 1)                                                                          \
            DW_DIRECT_TILE(r_, 1, xc, H, W, ph, pw, y, x0, cw, wk, b, dst, rstride);         \
        else                                                                                 \
            DW_DIRECT_TILE(r_, 2, xc, H, W, ph, pw, y, x0, cw, wk, b, dst, rstride);         \
        break;
    switch (R) {
        FC_DW_DCASE(1)
        FC_DW_DCASE(2)
        FC_DW_DCASE(3)
        FC_DW_DCASE(4)
#if FC_DW_DIRECT_ROWS >= 8
        FC_DW_DCASE(5)
        FC_DW_DCASE(6)
        FC_DW_DCASE(7)
        FC_DW_DCASE(8)
#endif
    default:
        break;
    }
#undef FC_DW_DCASE
}

/* Output rows [y0, y0 + ny) x columns [x0, x0 + cw) of one output channel
 * (input plane xc, 3x3 weights wk, bias b) into dst[yl*rstride + x - x0]: the
 * rows cut into tiles of equal height (at most FC_DW_DIRECT_ROWS), each swept
 * along the row one vector at a time. */
#define DW_DIRECT_BLOCK FC_CAT(fc_dw_direct_block_, FC_DT)
static void DW_DIRECT_BLOCK(const fc_conv_params *p, const FC_REAL *xc, const FC_REAL *wk,
                            FC_REAL b, fc_index y0, fc_index ny, fc_index x0, fc_index cw,
                            FC_REAL *dst, fc_index rstride)
{
    const fc_index H = p->in[1], W = p->in[2];
    const int S = (int)p->stride[2];
    const fc_index tiles = (ny + FC_DW_DIRECT_ROWS - 1) / FC_DW_DIRECT_ROWS;
    for (fc_index t = 0, yl = 0; t < tiles; t++) {
        const int R = (int)((ny - yl + (tiles - t) - 1) / (tiles - t));
        DW_DIRECT_RUN(R, S, xc, H, W, p->pad[1], p->pad[2], y0 + yl, x0, cw, wk, b,
                      dst + yl * rstride, rstride);
        yl += R;
    }
}

/* Tasks task0 .. task1 of (n, c, row block of j->rows output rows). */
#define DW_DIRECT_TASKS FC_CAT(fc_dw_direct_tasks_, FC_DT)
static void DW_DIRECT_TASKS(void *ctx, fc_index task0, fc_index task1, int slot)
{
    (void)slot;
    const DW_JOB *j = ctx;
    const fc_conv_params *p = j->p;
    DW_SIZES(p);
    for (fc_index task = task0; task < task1; task++) {
        const fc_index blk = task % j->nblk;
        const fc_index c = task / j->nblk % p->c_in;
        const fc_index n = task / j->nblk / p->c_in;
        const fc_index y0 = blk * j->rows;
        const fc_index ny = OH - y0 < j->rows ? OH - y0 : j->rows;
        for (fc_index o = c * m; o < (c + 1) * m; o++)
            DW_DIRECT_BLOCK(p, j->x + (n * p->c_in + c) * in_plane, j->w + o * 9,
                            j->bias ? j->bias[o] : (FC_REAL)0, y0, ny, 0, OW,
                            j->out + (n * p->c_out + o) * out_plane + y0 * OW, OW);
    }
}
#else
#define FC_DW_DIRECT 0
#endif

/* Whether DW_DIRECT_TASKS computes this convolution (see above). */
#define DW_DIRECT_FITS FC_CAT(fc_dw_direct_fits_, FC_DT)
static int DW_DIRECT_FITS(const fc_conv_params *p)
{
    return FC_DW_DIRECT && p->pad_mode == FC_PAD_ZEROS && p->in[0] == 1 && p->out[0] == 1
           && p->k[0] == 1 && p->k[1] == 3 && p->k[2] == 3 && p->pad[0] == 0
           && p->dil[1] == 1 && p->dil[2] == 1 && p->stride[1] == p->stride[2]
           && (p->stride[2] == 1 || p->stride[2] == 2);
}

int FC_ISA_FN(FC_CAT(fc_depthwise_fwd_, FC_DT))(const fc_conv_params *p, const FC_REAL *x,
                                                const FC_REAL *w, const FC_REAL *bias,
                                                FC_REAL *out)
{
    DW_SIZES(p);
    if (p->n == 0 || out_plane == 0 || p->c_out == 0)
        return FC_OK;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    if (DW_DIRECT_FITS(p)) {
#if FC_DW_DIRECT
        const fc_index rows = DW_BLOCK_ROWS(p, nt);
        DW_JOB j = {.p = p, .x = x, .w = w, .bias = bias, .out = out, .rows = rows,
                    .nblk = (OH + rows - 1) / rows};
        fc_parallel_range(nt, p->n * p->c_in * j.nblk, DW_DIRECT_TASKS, &j);
#endif
        return FC_OK;
    }

    fc_dw_geom g;
    if (fc_dw_geom_init(&g, p, DW_BLOCK_ROWS(p, nt), FC_DW_CHUNK, FC_VL) != FC_OK)
        return FC_ENOMEM;
    FC_REAL *panels;
    const FC_REAL **rowptrs;
    if (DW_SCRATCH(&g, p, nt, &panels, &rowptrs) != FC_OK) {
        fc_dw_geom_free(&g);
        return FC_ENOMEM;
    }
    const fc_index nblk = (OH + g.rows - 1) / g.rows;

    DW_JOB j = {.p = p, .g = &g, .x = x, .w = w, .bias = bias, .out = out, .panels = panels,
                .rowptrs = rowptrs, .nblk = nblk};
    fc_parallel_range(nt, p->n * p->c_in * OD * nblk, DW_FWD_TASKS, &j);
    fc_scratch_free(panels);
    fc_scratch_free((void *)rowptrs);
    fc_dw_geom_free(&g);
    return FC_OK;
}

/* ------------------------------------------------ depthwise input grad ---- */

#define DW_BWD_INPUT_JOB FC_CAT(fc_dw_bwd_input_job_, FC_DT)
typedef struct {
    const fc_conv_params *p;
    const FC_REAL *gy, *w;
    FC_REAL *gx;
    fc_index Dr, Hr, Wr, lm, npad, rowlen, RZ, RY, nring;
    size_t rows_elems, phase_elems;
    FC_REAL *rows_all, *phase_all;
    const FC_REAL **cptr_all;
    FC_REAL *cw_all;
    fc_index *cq_all, *tag_all;
} DW_BWD_INPUT_JOB;

#define DW_BWD_INPUT_TASK FC_CAT(fc_dw_bwd_input_task_, FC_DT)
/* Plane (n, c) of gx, through the slot's ring of gy rows and phase rows (the
 * sizes are the kernel's, below). */
static void DW_BWD_INPUT_TASK(void *ctx, fc_index task, int slot)
{
    const DW_BWD_INPUT_JOB *j = ctx;
    const fc_conv_params *p = j->p;
    DW_SIZES(p);
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2], KD = p->k[0], KH = p->k[1];
    const fc_index sd = p->stride[0], sh = p->stride[1], sw = p->stride[2];
    const fc_index dd = p->dil[0], dh = p->dil[1], dw = p->dil[2];
    const int mode = p->pad_mode;
    const FC_REAL *gy = j->gy, *w = j->w;
    FC_REAL *gx = j->gx;
    const fc_index Dr = j->Dr, Hr = j->Hr, Wr = j->Wr, lm = j->lm, npad = j->npad;
    const fc_index rowlen = j->rowlen, ntap = nq * KW, RZ = j->RZ, RY = j->RY, nring = j->nring;
    const size_t phase_elems = j->phase_elems;
    FC_REAL *grows = j->rows_all + (size_t)slot * j->rows_elems;
    FC_REAL *phase = j->phase_all + (size_t)slot * phase_elems;
    /* contributions of one padded row: (row pointer, weight, phase) ... */
    const FC_REAL **cptr = j->cptr_all + (size_t)slot * 2 * ntap;
    FC_REAL *cwt = j->cw_all + (size_t)slot * 2 * ntap;
    fc_index *cq = j->cq_all + (size_t)slot * ntap;
    fc_index *tag = j->tag_all + (size_t)slot * nring;
    /* ... and those of one phase, in the same order */
    const FC_REAL **kptr = cptr + ntap;
    FC_REAL *kwt = cwt + ntap;
    const fc_index n = task / p->c_in, c = task % p->c_in;
    FC_REAL *gxc = gx + task * in_plane;
    memset(gxc, 0, (size_t)in_plane * sizeof(FC_REAL));
    for (fc_index r = 0; r < nring; r++)
        tag[r] = -1;
    for (fc_index pz = 0; pz < Dr; pz++) {
        const fc_index iz = fc_pad_index(pz - p->pad[0], D, mode);
        if (iz < 0)
            continue;
        for (fc_index py = 0; py < Hr; py++) {
            const fc_index iy = fc_pad_index(py - p->pad[1], H, mode);
            if (iy < 0)
                continue;
            int started = 0;
            for (fc_index j = 0; j < m; j++) {
                const fc_index o = c * m + j;
                fc_index nc = 0;
                for (fc_index kd = 0; kd < KD; kd++) {
                    const fc_index dz = pz - kd * dd;
                    if (dz < 0 || dz % sd || dz / sd >= OD)
                        continue;
                    for (fc_index kh = 0; kh < KH; kh++) {
                        const fc_index dy = py - kh * dh;
                        if (dy < 0 || dy % sh || dy / sh >= OH)
                            continue;
                        const fc_index z = dz / sd, y = dy / sh;
                        const fc_index slot = (j * RZ + z % RZ) * RY + y % RY;
                        FC_REAL *row = grows + slot * rowlen;
                        if (tag[slot] != z * OH + y) {
                            memcpy(row + lm,
                                   gy + (n * p->c_out + o) * out_plane + (z * OH + y) * OW,
                                   (size_t)OW * sizeof(FC_REAL));
                            tag[slot] = z * OH + y;
                        }
                        const FC_REAL *wr = w + (o * nq + kd * KH + kh) * KW;
                        for (fc_index t = 0; t < KW; t++, nc++) {
                            cptr[nc] = row + lm - (t * dw) / sw;
                            cwt[nc] = wr[t];
                            cq[nc] = (t * dw) % sw;
                        }
                    }
                }
                if (nc == 0)
                    continue;
                if (!started) {
                    memset(phase, 0, phase_elems * sizeof(FC_REAL));
                    started = 1;
                }
                for (fc_index q = 0; q < sw; q++) {
                    fc_index nk = 0;
                    for (fc_index k = 0; k < nc; k++)
                        if (cq[k] == q) {
                            kptr[nk] = cptr[k];
                            kwt[nk++] = cwt[k];
                        }
                    if (nk == 0)
                        continue;
                    FC_REAL *ph = phase + q * npad;
                    fc_index i = 0;
                    for (; i + 4 * FC_VL <= npad; i += 4 * FC_VL) {
                        VEC a0 = LOADV(ph + i), a1 = LOADV(ph + i + FC_VL);
                        VEC a2 = LOADV(ph + i + 2 * FC_VL), a3 = LOADV(ph + i + 3 * FC_VL);
                        for (fc_index k = 0; k < nk; k++) {
                            const VEC wv = BCAST(kwt[k]);
                            const FC_REAL *s = kptr[k] + i;
                            a0 += wv * LOADV(s);
                            a1 += wv * LOADV(s + FC_VL);
                            a2 += wv * LOADV(s + 2 * FC_VL);
                            a3 += wv * LOADV(s + 3 * FC_VL);
                        }
                        memcpy(ph + i, &a0, sizeof a0);
                        memcpy(ph + i + FC_VL, &a1, sizeof a1);
                        memcpy(ph + i + 2 * FC_VL, &a2, sizeof a2);
                        memcpy(ph + i + 3 * FC_VL, &a3, sizeof a3);
                    }
                    for (; i < npad; i += FC_VL) {
                        VEC a0 = LOADV(ph + i);
                        for (fc_index k = 0; k < nk; k++)
                            a0 += BCAST(kwt[k]) * LOADV(kptr[k] + i);
                        memcpy(ph + i, &a0, sizeof a0);
                    }
                }
            }
            if (!started)
                continue;
            /* fold padded columns 0 .. Wr-1 onto the input row, left to right */
            FC_REAL *gr = gxc + (iz * H + iy) * W;
            const fc_index pw = p->pad[2];
            const fc_index lim = Wr < pw + W ? Wr : pw + W;
            fc_index px = 0;
            for (; px < Wr && px < pw; px++) {
                const fc_index ix = fc_pad_index(px - pw, W, mode);
                if (ix >= 0)
                    gr[ix] += phase[(px % sw) * npad + px / sw];
            }
            if (sw == 1) {
                for (; px < lim; px++)
                    gr[px - pw] += phase[px];
            } else {
                for (; px < lim; px++)
                    gr[px - pw] += phase[(px % sw) * npad + px / sw];
            }
            for (; px < Wr; px++) {
                const fc_index ix = fc_pad_index(px - pw, W, mode);
                if (ix >= 0)
                    gr[ix] += phase[(px % sw) * npad + px / sw];
            }
        }
    }
}

#define DW_BWD_INPUT_AS_FWD FC_CAT(fc_dw_bwd_input_as_fwd_, FC_DT)
/* Input gradient of a stride-1, zero-padded, multiplier-1 call: the forward
 * kernel on gy with each filter flipped and padding (k - 1)*dil - pad before
 * each axis (negative when the forward padded more than it read):
 *   gx[c, i] = sum_k w[c, k] * gy[c, i + pad - k*dil]
 *            = sum_k' wflip[c, k'] * gy[c, i - ((k-1)*dil - pad) + k'*dil]
 * where out-of-range gy cells read as zero. */
static int DW_BWD_INPUT_AS_FWD(const fc_conv_params *p, const FC_REAL *gy, const FC_REAL *w,
                               FC_REAL *gx)
{
    const fc_index ntap = p->k[0] * p->k[1] * p->k[2];
    fc_conv_params q = *p;
    for (int a = 0; a < 3; a++) {
        q.in[a] = p->out[a];
        q.out[a] = p->in[a];
        q.pad[a] = (p->k[a] - 1) * p->dil[a] - p->pad[a];
    }
    size_t elems;
    if (fc_mul_overflows(p->c_out, ntap, &elems))
        return FC_ENOMEM;
    FC_REAL *wf = fc_scratch_alloc(elems * sizeof(FC_REAL));
    if (!wf)
        return FC_ENOMEM;
    /* tap order is (kd, kh, kw) row-major, so flipping all three reverses it */
    for (fc_index o = 0; o < p->c_out; o++)
        for (fc_index t = 0; t < ntap; t++)
            wf[o * ntap + t] = w[o * ntap + ntap - 1 - t];
    const int status = FC_ISA_FN(FC_CAT(fc_depthwise_fwd_, FC_DT))(&q, gy, wf, NULL, gx);
    fc_scratch_free(wf);
    return status;
}

int FC_ISA_FN(FC_CAT(fc_depthwise_bwd_input_, FC_DT))(const fc_conv_params *p,
                                                      const FC_REAL *gy, const FC_REAL *w,
                                                      FC_REAL *gx)
{
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index KD = p->k[0], KH = p->k[1], KW = p->k[2], nq = KD * KH;
    const fc_index sd = p->stride[0], sh = p->stride[1], sw = p->stride[2];
    const fc_index dd = p->dil[0], dh = p->dil[1], dw = p->dil[2];
    const fc_index m = p->c_out / p->c_in;
    if (p->n == 0 || p->c_in == 0 || D * H * W == 0)
        return FC_OK;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    if (m == 1 && sd == 1 && sh == 1 && sw == 1 && p->pad_mode == FC_PAD_ZEROS)
        return DW_BWD_INPUT_AS_FWD(p, gy, w, gx);

    /* The padded extent some output reads; padded cells past it get no gradient. */
    const fc_index Dr = (OD - 1) * sd + (KD - 1) * dd + 1;
    const fc_index Hr = (OH - 1) * sh + (KH - 1) * dh + 1;
    const fc_index Wr = (OW - 1) * sw + (KW - 1) * dw + 1;
    /* Phase q of a padded row has np elements (i = 0 .. np-1 is column sw*i + q);
     * a zero-extended gy row has lm zeros, OW values, zeros: tap t of phase
     * element i reads its element lm + i - t*dw / sw. */
    const fc_index lm = ((KW - 1) * dw) / sw;
    const fc_index np = (Wr + sw - 1) / sw;
    const fc_index npad = (np + FC_VL - 1) / FC_VL * FC_VL;
    const fc_index rowlen = lm + npad;
    const fc_index ntap = nq * KW;
    /* The gy rows a padded row reads lie within RZ consecutive depths and RY
     * consecutive rows, so a ring of m * RZ * RY zero-extended rows (slot of
     * output (j, z, y): (j*RZ + z % RZ)*RY + y % RY) copies each gy row once per
     * plane; tag[slot] says which (z, y) a slot holds. */
    const fc_index RZ = ((KD - 1) * dd) / sd + 1, RY = ((KH - 1) * dh) / sh + 1;
    const fc_index nring = m * RZ * RY;
    size_t rows_elems, phase_elems, rows_bytes, phase_bytes;
    if (fc_mul_overflows(nring, rowlen, &rows_elems) || fc_mul_overflows(sw, npad, &phase_elems)
        || SCRATCH_BYTES(nt, rows_elems, &rows_bytes)
        || SCRATCH_BYTES(nt, phase_elems, &phase_bytes))
        return FC_ENOMEM;
    FC_REAL *rows_all = fc_scratch_calloc(1, rows_bytes); /* zero margins are never written */
    FC_REAL *phase_all = fc_scratch_alloc(phase_bytes);
    const FC_REAL **cptr_all = fc_scratch_alloc((size_t)nt * 2 * ntap * sizeof(FC_REAL *));
    FC_REAL *cw_all = fc_scratch_alloc((size_t)nt * 2 * ntap * sizeof(FC_REAL));
    fc_index *cq_all = fc_scratch_alloc((size_t)nt * ntap * sizeof(fc_index));
    fc_index *tag_all = fc_scratch_alloc((size_t)nt * (size_t)nring * sizeof(fc_index));
    if (!rows_all || !phase_all || !cptr_all || !cw_all || !cq_all || !tag_all) {
        fc_scratch_free(tag_all);
        fc_scratch_free(rows_all);
        fc_scratch_free(phase_all);
        fc_scratch_free((void *)cptr_all);
        fc_scratch_free(cw_all);
        fc_scratch_free(cq_all);
        return FC_ENOMEM;
    }

    DW_BWD_INPUT_JOB j = {p, gy, w, gx, Dr, Hr, Wr, lm, npad, rowlen, RZ, RY, nring,
                          rows_elems, phase_elems, rows_all, phase_all, cptr_all, cw_all,
                          cq_all, tag_all};
    fc_parallel_for(nt, p->n * p->c_in, DW_BWD_INPUT_TASK, &j);
    fc_scratch_free(rows_all);
    fc_scratch_free(phase_all);
    fc_scratch_free((void *)cptr_all);
    fc_scratch_free(cw_all);
    fc_scratch_free(cq_all);
    fc_scratch_free(tag_all);
    return FC_OK;
}

/* ---------------------------------------- depthwise weight / bias grad ---- */

/* Weight-gradient register tile: TG taps (constant, <= 8), one vector
 * accumulator each, kept in registers over the ny rows of a block:
 *   acc[i] += sum_{yl < ny, j < cw} gy_row(yl)[j] * panel_row(yl, tap0 + i)[j + off]
 * (acc: TG vectors, stored as FC_REAL).  Lanes past cw add +0, even where the
 * panel holds Inf or NaN there (it is not read by any output).  gr: first gy
 * row, gstride apart; the panel geometry g gives each tap's row and offset. */
#define DW_WGRAD FC_CAT(fc_dw_wgrad_, FC_DT)
FC_INLINE void DW_WGRAD(int TG, FC_REAL *acc, fc_index tap0, const fc_conv_params *p,
                        const fc_dw_geom *g, const FC_REAL *panel, const FC_REAL *gr,
                        fc_index gstride, fc_index ny, fc_index cw)
{
    const fc_index KH = p->k[1], KW = p->k[2];
    VEC a[8];
    const FC_REAL *xp[8];
#pragma GCC unroll 8
    for (int i = 0; i < TG; i++)
        a[i] = LOADV(acc + i * FC_VL);
    for (fc_index yl = 0; yl < ny; yl++, gr += gstride) {
#pragma GCC unroll 8
        for (int i = 0; i < TG; i++) {
            const fc_index k = tap0 + i, q = k / KW, t = k % KW;
            const fc_index kd = q / KH, kh = q % KH;
            xp[i] = panel + (kd * g->nslots + g->slot_of[yl * KH + kh]) * g->row_stride
                    + g->taps[t];
        }
        fc_index j = 0;
        for (; j + FC_VL <= cw; j += FC_VL) {
            const VEC gv = LOADV(gr + j);
#pragma GCC unroll 8
            for (int i = 0; i < TG; i++)
                a[i] += gv * LOADV(xp[i] + j);
        }
        if (j < cw) {
            const VEC gv = LOADV_PART(gr + j, cw - j);
#pragma GCC unroll 8
            for (int i = 0; i < TG; i++)
                a[i] += gv * KEEP_LANES(LOADV(xp[i] + j), cw - j);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < TG; i++)
        memcpy(acc + i * FC_VL, &a[i], sizeof(VEC));
}

/* DW_WGRAD for run-time tg in 1 .. 8. */
#define DW_WGRAD_ANY FC_CAT(fc_dw_wgrad_any_, FC_DT)
static void DW_WGRAD_ANY(int tg, FC_REAL *acc, fc_index tap0, const fc_conv_params *p,
                         const fc_dw_geom *g, const FC_REAL *panel, const FC_REAL *gr,
                         fc_index gstride, fc_index ny, fc_index cw)
{
    switch (tg) {
#define FC_WG_CASE(n_)                                                                       \
    case n_:                                                                                 \
        DW_WGRAD(n_, acc, tap0, p, g, panel, gr, gstride, ny, cw);                           \
        break;
        FC_WG_CASE(1)
        FC_WG_CASE(2)
        FC_WG_CASE(3)
        FC_WG_CASE(4)
        FC_WG_CASE(5)
        FC_WG_CASE(6)
        FC_WG_CASE(7)
        FC_WG_CASE(8)
#undef FC_WG_CASE
    default:
        break;
    }
}

/* One vector column j of RB output rows for DW_WGRAD_3X3 (TAIL: the last,
 * partial one, nl < FC_VL lanes valid): the rows' gy vectors are loaded once,
 * each of the (RB-1)*SH + 3 padded rows they read is loaded once per tap and
 * FMA'd with every gy row that reads it (xr[i]: padded row i of the group). */
#define DW_WGRAD_3X3_COL FC_CAT(fc_dw_wgrad_3x3_col_, FC_DT)
FC_INLINE void DW_WGRAD_3X3_COL(int RB, int SH, int TAIL, VEC (*a)[3], VEC *ab,
                                const FC_REAL *const *xr, const FC_REAL *gr,
                                fc_index gstride, const fc_index *tp, fc_index j, fc_index nl)
{
    VEC gv[8];
#pragma GCC unroll 8
    for (int r = 0; r < RB; r++) {
        gv[r] = TAIL ? LOADV_PART(gr + r * gstride + j, nl) : LOADV(gr + r * gstride + j);
        *ab += gv[r];
    }
#pragma GCC unroll 24
    for (int i = 0; i < (RB - 1) * SH + 3; i++)
#pragma GCC unroll 3
        for (int t = 0; t < 3; t++) {
            VEC xv = LOADV(xr[i] + j + tp[t]);
            if (TAIL)
                xv = KEEP_LANES(xv, nl); /* +0 past the row, even for Inf / NaN */
            FC_DW_OPAQUE(xv);
#pragma GCC unroll 8
            for (int r = 0; r < RB; r++) {
                const int kh = i - r * SH;
                if (kh >= 0 && kh < 3)
                    a[kh][t] += gv[r] * xv;
            }
        }
}

/* DW_WGRAD over output rows [yl, yl + RB) of a block for a 2-D 3x3 kernel
 * with row dilation 1 and row stride SH (constants): all 9 taps and the bias
 * (ab += gy) in registers. */
#define DW_WGRAD_3X3_ROWS FC_CAT(fc_dw_wgrad_3x3_rows_, FC_DT)
FC_INLINE void DW_WGRAD_3X3_ROWS(int RB, int SH, VEC (*a)[3], VEC *ab, const fc_dw_geom *g,
                                 const FC_REAL *panel, fc_index yl, const FC_REAL *gr,
                                 fc_index gstride, fc_index cw)
{
    const FC_REAL *xr[24];
    const fc_index tp[3] = {g->taps[0], g->taps[1], g->taps[2]};
#pragma GCC unroll 24
    for (int i = 0; i < (RB - 1) * SH + 3; i++) {
        /* any (r, kh) with r*SH + kh == i names the padded row */
        const int rs = i / SH < RB - 1 ? i / SH : RB - 1;
        xr[i] = panel + g->slot_of[(yl + rs) * 3 + i - rs * SH] * g->row_stride;
    }
    fc_index j = 0;
    for (; j + FC_VL <= cw; j += FC_VL)
        DW_WGRAD_3X3_COL(RB, SH, 0, a, ab, xr, gr, gstride, tp, j, FC_VL);
    if (j < cw)
        DW_WGRAD_3X3_COL(RB, SH, 1, a, ab, xr, gr, gstride, tp, j, cw - j);
}

/* Weight-gradient rows of a block for 2-D 3x3 kernels (row dilation 1, row
 * stride sh 1 or 2): acc holds the 9 tap accumulators and the bias one
 * (DW_WGRAD's layout plus acc[9]); groups of FC_DW_NACC / 2 rows, the rest one
 * by one.  gr: first gy row, gstride apart. */
#define DW_WGRAD_3X3 FC_CAT(fc_dw_wgrad_3x3_, FC_DT)
static void DW_WGRAD_3X3(fc_index sh, FC_REAL *acc, const fc_dw_geom *g, const FC_REAL *panel,
                         const FC_REAL *gr, fc_index gstride, fc_index ny, fc_index cw)
{
    enum { RB = FC_DW_NACC / 2 };
    VEC a[3][3], ab;
    for (int k = 0; k < 9; k++)
        a[k / 3][k % 3] = LOADV(acc + k * FC_VL);
    ab = LOADV(acc + 9 * FC_VL);
    fc_index yl = 0;
    if (sh == 1) {
        for (; yl + RB <= ny; yl += RB)
            DW_WGRAD_3X3_ROWS(RB, 1, a, &ab, g, panel, yl, gr + yl * gstride, gstride, cw);
        for (; yl < ny; yl++)
            DW_WGRAD_3X3_ROWS(1, 1, a, &ab, g, panel, yl, gr + yl * gstride, gstride, cw);
    } else {
        for (; yl + RB <= ny; yl += RB)
            DW_WGRAD_3X3_ROWS(RB, 2, a, &ab, g, panel, yl, gr + yl * gstride, gstride, cw);
        for (; yl < ny; yl++)
            DW_WGRAD_3X3_ROWS(1, 2, a, &ab, g, panel, yl, gr + yl * gstride, gstride, cw);
    }
    for (int k = 0; k < 9; k++)
        memcpy(acc + k * FC_VL, &a[k / 3][k % 3], sizeof(VEC));
    memcpy(acc + 9 * FC_VL, &ab, sizeof(VEC));
}

/* sum_j a[j] for j < len, as a vector of partial sums; reads only a[0 .. len-1]. */
#define SUMV FC_CAT(fc_dw_sumv_, FC_DT)
FC_INLINE VEC SUMV(const FC_REAL *a, fc_index len)
{
    VEC s0 = {0}, s1 = {0};
    fc_index j = 0;
    for (; j + 2 * FC_VL <= len; j += 2 * FC_VL) {
        s0 += LOADV(a + j);
        s1 += LOADV(a + j + FC_VL);
    }
    for (; j + FC_VL <= len; j += FC_VL)
        s0 += LOADV(a + j);
    if (j < len)
        s1 += LOADV_PART(a + j, len - j);
    return s0 + s1;
}

#define DW_BWD_WEIGHT_TASK FC_CAT(fc_dw_bwd_weight_task_, FC_DT)
/* Output channel o: its weight (and bias) gradient, through the slot's panel. */
static void DW_BWD_WEIGHT_TASK(void *ctx, fc_index o, int slot)
{
    const DW_JOB *j = ctx;
    const fc_conv_params *p = j->p;
    DW_SIZES(p);
    const fc_dw_geom g = *j->g;
    const FC_REAL *x = j->x, *gy = j->gy;
    FC_REAL *gw = j->gw, *gb = j->gb;
    const fc_index ntap = nq * KW, ng = (ntap + 7) / 8, nblk = j->nblk;
    FC_REAL *panel = j->panels + (size_t)slot * g.panel_elems;
    FC_REAL *acc = j->scratch + (size_t)slot * j->scratch_elems;
    const fc_index c = o / m;
    /* 2-D 3x3 with row dilation 1 and row stride 1 or 2 (the bias comes along) */
    const int k3 = nq == 3 && p->k[0] == 1 && KW == 3 && p->dil[1] == 1
                   && (p->stride[1] == 1 || p->stride[1] == 2);
    memset(acc, 0, (size_t)(ntap + 1) * FC_VL * sizeof(FC_REAL));
    for (fc_index n = 0; n < p->n; n++) {
        const FC_REAL *xc = x + (n * p->c_in + c) * in_plane;
        const FC_REAL *gyo = gy + (n * p->c_out + o) * out_plane;
        for (fc_index z = 0; z < OD; z++)
            for (fc_index blk = 0; blk < nblk; blk++) {
                const fc_index y0 = blk * g.rows;
                const fc_index ny = OH - y0 < g.rows ? OH - y0 : g.rows;
                for (fc_index x0 = 0; x0 < OW; x0 += g.chunk) {
                    const fc_index cw = OW - x0 < g.chunk ? OW - x0 : g.chunk;
                    DW_FILL(p, &g, xc, z, y0, ny, x0, cw, panel);
                    const FC_REAL *gr = gyo + (z * OH + y0) * OW + x0;
                    if (k3) {
                        DW_WGRAD_3X3(p->stride[1], acc, &g, panel, gr, OW, ny, cw);
                        continue;
                    }
                    /* taps in ng near-equal groups of at most 8 */
                    for (fc_index gi = 0; gi < ng; gi++) {
                        const fc_index t0 = gi * ntap / ng, t1 = (gi + 1) * ntap / ng;
                        DW_WGRAD_ANY((int)(t1 - t0), acc + t0 * FC_VL, t0, p, &g, panel,
                                     gr, OW, ny, cw);
                    }
                    if (gb) {
                        VEC sb = LOADV(acc + ntap * FC_VL);
                        for (fc_index yl = 0; yl < ny; yl++)
                            sb += SUMV(gr + yl * OW, cw);
                        memcpy(acc + ntap * FC_VL, &sb, sizeof sb);
                    }
                }
            }
    }
    for (fc_index k = 0; k < ntap; k++)
        gw[o * ntap + k] = HSUM(LOADV(acc + k * FC_VL));
    if (gb)
        gb[o] = HSUM(LOADV(acc + ntap * FC_VL));
}

int FC_ISA_FN(FC_CAT(fc_depthwise_bwd_weight_, FC_DT))(const fc_conv_params *p,
                                                       const FC_REAL *gy, const FC_REAL *x,
                                                       FC_REAL *gw, FC_REAL *gb)
{
    DW_SIZES(p);
    const fc_index ntap = nq * KW;
    if (p->n == 0 || out_plane == 0) {
        memset(gw, 0, (size_t)(p->c_out * ntap) * sizeof(FC_REAL));
        if (gb)
            memset(gb, 0, (size_t)p->c_out * sizeof(FC_REAL));
        return FC_OK;
    }
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    fc_dw_geom g;
    if (fc_dw_geom_init(&g, p, FC_DW_BLOCK_ROWS, FC_DW_CHUNK, FC_VL) != FC_OK)
        return FC_ENOMEM;
    FC_REAL *panels;
    if (DW_SCRATCH(&g, p, nt, &panels, NULL) != FC_OK) {
        fc_dw_geom_free(&g);
        return FC_ENOMEM;
    }
    /* per thread: ntap + 1 vector accumulators (the last one for the bias) */
    FC_REAL *accs = fc_scratch_alloc((size_t)nt * (size_t)(ntap + 1) * FC_VL * sizeof(FC_REAL));
    if (!accs) {
        fc_scratch_free(panels);
        fc_dw_geom_free(&g);
        return FC_ENOMEM;
    }
    const fc_index nblk = (OH + g.rows - 1) / g.rows;

    DW_JOB j = {.p = p, .g = &g, .x = x, .gy = gy, .gw = gw, .gb = gb, .panels = panels,
                .scratch = accs, .scratch_elems = (size_t)(ntap + 1) * FC_VL, .nblk = nblk};
    fc_parallel_for(nt, p->c_out, DW_BWD_WEIGHT_TASK, &j);
    fc_scratch_free(accs);
    fc_scratch_free(panels);
    fc_dw_geom_free(&g);
    return FC_OK;
}

/* ------------------------------------------------------------ pointwise ---- */

/* mr output channels x nv vectors of positions (mr, nv constant):
 *   out[m*ocstride + j] = b[m] + sum_k w[k*wk + m*wm] * in[k*istride + j]
 * (PW_ACCUM leaves the sums in acc, PW_UKERNEL stores them)
 * for j < nvalid (<= nv * FC_VL) and m < mvalid; b NULL: no bias.  The
 * weights are read where they are, (M, K) rows (wk = 1, wm = K) or (K, M)
 * (wk = M, wm = 1), through one pointer per row: no packed copy per call (as
 * fast, measured, with less code and no scratch).  Rows past mvalid read row 0
 * (never stored).  in must be readable for nv * FC_VL elements of each of its
 * K rows. */
#define PW_ACCUM FC_CAT(fc_pw_accum_, FC_DT)
FC_INLINE void PW_ACCUM(int mr, int nv, const FC_REAL *FC_RESTRICT in, fc_index istride,
                        fc_index K, const FC_REAL *FC_RESTRICT w, fc_index wk, fc_index wm,
                        const FC_REAL *FC_RESTRICT b, fc_index mvalid, VEC acc[][2])
{
    const FC_REAL *wrow[2 * FC_MR];
#pragma GCC unroll 16
    for (int m = 0; m < mr; m++) {
        wrow[m] = w + (m < mvalid ? m : 0) * wm;
        const VEC bv = BCAST(b && m < mvalid ? b[m] : (FC_REAL)0);
        acc[m][0] = bv;
        acc[m][1] = bv;
    }
    fc_index wi = 0;
    for (fc_index k = 0; k < K; k++, wi += wk) {
        const FC_REAL *src = in + k * istride;
        const VEC v0 = LOADV(src);
        const VEC v1 = nv > 1 ? LOADV(src + FC_VL) : v0;
#pragma GCC unroll 16
        for (int m = 0; m < mr; m++) {
            const VEC wv = BCAST(wrow[m][wi]);
            acc[m][0] += wv * v0;
            if (nv > 1)
                acc[m][1] += wv * v1;
        }
    }
}

#define PW_UKERNEL FC_CAT(fc_pw_ukernel_, FC_DT)
FC_INLINE void PW_UKERNEL(int mr, int nv, const FC_REAL *FC_RESTRICT in, fc_index istride,
                          fc_index K, const FC_REAL *FC_RESTRICT w, fc_index wk, fc_index wm,
                          const FC_REAL *FC_RESTRICT b, FC_REAL *FC_RESTRICT out,
                          fc_index ocstride, fc_index mvalid, fc_index nvalid)
{
    VEC acc[2 * FC_MR][2];
    PW_ACCUM(mr, nv, in, istride, K, w, wk, wm, b, mvalid, acc);
#pragma GCC unroll 16
    for (int m = 0; m < mr; m++) {
        if (m < mvalid) {
            STOREV_PART(out + m * ocstride, acc[m][0], nvalid);
            if (nv > 1)
                STOREV_PART(out + m * ocstride + FC_VL, acc[m][1], nvalid - FC_VL);
        }
    }
}

/* out[o*ocstride + j] = bias[o] + sum_k w[k*wk + o*wm] * tile[k*tstride + j],
 * j < P, for all M channels (bias NULL: none; wk, wm as for PW_UKERNEL).
 * nv = 2 (mr = FC_MR) or 1 (mr = 2*FC_MR); tile rows readable for P rounded up
 * to nv vectors. */
#define PW_GEMM FC_CAT(fc_pw_gemm_, FC_DT)
static void PW_GEMM(const FC_REAL *tile, fc_index K, fc_index tstride, fc_index P,
                    const FC_REAL *w, fc_index wk, fc_index wm, const FC_REAL *bias, fc_index M,
                    int nv, FC_REAL *out, fc_index ocstride)
{
    const int mr = nv == 2 ? FC_MR : 2 * FC_MR;
    const fc_index ntile = (M + mr - 1) / mr;
    const fc_index step = (fc_index)nv * FC_VL;
    for (fc_index p0 = 0; p0 < P; p0 += step) {
        fc_index nvalid = P - p0 < step ? P - p0 : step;
        /* a ragged last tile is moved back to end at P (see DW_BLOCK; it ends
         * the loop), as one vector when one vector covers what is left */
        int half = 0;
        if (nvalid < step && nv == 2 && nvalid <= FC_VL && P >= FC_VL) {
            p0 = P - FC_VL;
            nvalid = FC_VL;
            half = 1;
        } else if (nvalid < step && P >= step) {
            p0 = P - step;
            nvalid = step;
        }
        for (fc_index t = 0; t < ntile; t++) {
            const fc_index mvalid = M - t * mr < mr ? M - t * mr : mr;
            const FC_REAL *wt = w + t * mr * wm;
            const FC_REAL *bt = bias ? bias + t * mr : NULL;
            FC_REAL *o = out + t * mr * ocstride + p0;
            if (half)
                PW_UKERNEL(FC_MR, 1, tile + p0, tstride, K, wt, wk, wm, bt, o, ocstride, mvalid,
                           nvalid);
            else if (nv == 2)
                PW_UKERNEL(FC_MR, 2, tile + p0, tstride, K, wt, wk, wm, bt, o, ocstride, mvalid,
                           nvalid);
            else
                PW_UKERNEL(2 * FC_MR, 1, tile + p0, tstride, K, wt, wk, wm, bt, o, ocstride,
                           mvalid, nvalid);
        }
    }
}

#define SEP_FWD_TASK FC_CAT(fc_separable_fwd_task_, FC_DT)
/* One (n, z, row block, column block) tile: depthwise of every channel into
 * the slot's tile, then the pointwise product out of it. */
static void SEP_FWD_TASK(void *ctx, fc_index task, int slot)
{
    const DW_JOB *j = ctx;
    const fc_conv_params *p = j->p;
    DW_SIZES(p);
    const FC_REAL *x = j->x, *w = j->w, *bias = j->bias;
    FC_REAL *out = j->out;
    const fc_index cols = j->cols, nyb = j->nyb, nxb = j->nxb;
    const fc_index tstride = j->tstride, K = p->c_out, c_pw = j->c_pw;
    const int nv = j->nv;
    FC_REAL *tile = j->scratch + (size_t)slot * j->scratch_elems;
    fc_index rem = task;
    const fc_index xb = rem % nxb; rem /= nxb;
    const fc_index yb = rem % nyb; rem /= nyb;
    const fc_index z = rem % OD;
    const fc_index n = rem / OD;
    /* row blocks share OH out evenly (sizes differ by at most one row), so
     * the threads' last tiles finish together */
    const fc_index y0 = yb * OH / nyb, x0 = xb * cols;
    const fc_index ny = (yb + 1) * OH / nyb - y0;
    const fc_index cw = OW - x0 < cols ? OW - x0 : cols;
    /* depthwise of every channel into the tile: row yl of channel o at
     * tile[o*tstride + yl*cw] (ny == 1 or cw == OW, so a tile row is a
     * contiguous run of each output plane) */
#if FC_DW_DIRECT
    if (j->direct) {
        for (fc_index o = 0; o < p->c_out; o++)
            DW_DIRECT_BLOCK(p, x + (n * p->c_in + o / m) * in_plane, w + o * 9,
                            bias ? bias[o] : (FC_REAL)0, y0, ny, x0, cw, tile + o * tstride,
                            cw);
    } else
#endif
    {
        const fc_dw_geom g = *j->g;
        FC_REAL *panel = j->panels + (size_t)slot * g.panel_elems;
        const FC_REAL **rowptr = j->rowptrs + (size_t)slot * g.rows * nq;
        DW_ROWPTRS(p, &g, panel, rowptr);
        for (fc_index c = 0; c < p->c_in; c++)
            DW_BLOCK(p, &g, x + (n * p->c_in + c) * in_plane, w + c * m * nq * KW,
                     bias ? bias + c * m : NULL, z, y0, ny, x0, cw, panel, rowptr,
                     tile + c * m * tstride, tstride, cw);
    }
    PW_GEMM(tile, K, tstride, ny * cw, j->pw, 1, K, j->pb, c_pw, nv,
            out + n * c_pw * out_plane + (z * OH + y0) * OW + x0, out_plane);
}

int FC_ISA_FN(FC_CAT(fc_separable_fwd_, FC_DT))(const fc_conv_params *p, fc_index c_pw,
                                                const FC_REAL *x, const FC_REAL *w,
                                                const FC_REAL *bias, const FC_REAL *pw,
                                                const FC_REAL *pb, FC_REAL *out)
{
    DW_SIZES(p);
    const fc_index K = p->c_out;
    if (p->n == 0 || out_plane == 0 || c_pw == 0)
        return FC_OK;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;

    fc_index rows, cols;
    fc_separable_tile(p, sizeof(FC_REAL), &rows, &cols);
    const int nv = rows * cols > FC_VL ? 2 : 1;
    const fc_index tstride = (rows * cols + 2 * FC_VL - 1) / (2 * FC_VL) * (2 * FC_VL);
    /* the panel geometry and scratch, unless the direct kernel (which reads the
     * input in place) does the depthwise part */
    const int direct = DW_DIRECT_FITS(p);
    fc_dw_geom g = {0};
    FC_REAL *panels = NULL, *tiles = NULL;
    const FC_REAL **rowptrs = NULL;
    if (!direct && fc_dw_geom_init(&g, p, rows, cols, FC_VL) != FC_OK)
        return FC_ENOMEM;
    if (!direct && DW_SCRATCH(&g, p, nt, &panels, &rowptrs) != FC_OK) {
        fc_dw_geom_free(&g);
        return FC_ENOMEM;
    }
    size_t tile_elems, tiles_bytes;
    if (fc_mul_overflows(K, tstride, &tile_elems) || SCRATCH_BYTES(nt, tile_elems, &tiles_bytes)
        || !(tiles = fc_scratch_calloc(1, tiles_bytes))) {
        fc_scratch_free(panels);
        fc_scratch_free((void *)rowptrs);
        fc_dw_geom_free(&g);
        return FC_ENOMEM;
    }
    const fc_index nyb = (OH + rows - 1) / rows, nxb = (OW + cols - 1) / cols;

    DW_JOB j = {.p = p, .g = &g, .x = x, .w = w, .bias = bias, .out = out, .panels = panels,
                .rowptrs = rowptrs, .scratch = tiles, .scratch_elems = tile_elems,
                .pw = pw, .pb = pb, .rows = rows, .cols = cols, .nyb = nyb,
                .nxb = nxb, .tstride = tstride, .c_pw = c_pw, .nv = nv, .direct = direct};
    fc_parallel_for(nt, p->n * OD * nyb * nxb, SEP_FWD_TASK, &j);
    fc_scratch_free(tiles);
    fc_scratch_free(panels);
    fc_scratch_free((void *)rowptrs);
    fc_dw_geom_free(&g);
    return FC_OK;
}

/* Whether positions [p0, p0 + len) of rows of P can be read in place: PW_GEMM
 * reads whole steps, a ragged last one moved back to end at len, so a block
 * shorter than a step needs a step's room in the row (else a tile). */
FC_INLINE int FC_CAT(fc_pw_in_place_, FC_DT)(fc_index p0, fc_index len, fc_index P, fc_index step)
{
    return len >= step || p0 + step <= P;
}

#define PW_FWD_TASK FC_CAT(fc_pw_fwd_task_, FC_DT)
/* Positions p0 .. p0 + pb of one image, read in place (or through the slot's tile). */
static void PW_FWD_TASK(void *ctx, fc_index task, int slot)
{
    const DW_JOB *j = ctx;
    const fc_index K = j->q->c_in, M = j->q->c_out, P = j->q->size;
    const fc_index pb = j->cols, nblk = j->nblk, tstride = j->tstride;
    const FC_REAL *in = j->x;
    FC_REAL *out = j->out;
    const int nv = j->nv, mr = nv == 2 ? FC_MR : 2 * FC_MR;
    const fc_index msplit = j->nyb, ntile = (M + mr - 1) / mr, G = j->q->groups;
    /* task = ((n * G + g) * nblk + block) * msplit + ms */
    const fc_index ms = task % msplit, p0 = task / msplit % nblk * pb;
    const fc_index ng = task / msplit / nblk; /* n * G + g */
    const fc_index g = ng % G;
    const fc_index len = P - p0 < pb ? P - p0 : pb;
    /* this task's output channels: whole mr tiles [t0, t1) */
    const fc_index t0 = ms * ntile / msplit, t1 = (ms + 1) * ntile / msplit;
    const fc_index m0 = t0 * mr, m1 = t1 * mr < M ? t1 * mr : M;
    if (m1 <= m0)
        return;
    const fc_index step = (fc_index)nv * FC_VL;
    const FC_REAL *src = in + ng * K * P + p0;
    fc_index sstride = P;
    /* in place when it can (no copy per task, which split channels repeated) */
    if (!FC_CAT(fc_pw_in_place_, FC_DT)(p0, len, P, step)) {
        FC_REAL *tile = j->scratch + (size_t)slot * j->scratch_elems;
        for (fc_index k = 0; k < K; k++)
            memcpy(tile + k * tstride, in + (ng * K + k) * P + p0,
                   (size_t)len * sizeof(FC_REAL));
        src = tile;
        sstride = tstride;
    }
    /* group g's weights: (M, K) rows, or (K, M) when w_kmajor */
    const int kmajor = j->q->w_kmajor;
    const FC_REAL *wg = j->pw + g * M * K + (kmajor ? m0 : m0 * K);
    PW_GEMM(src, K, sstride, len, wg, kmajor ? M : 1, kmajor ? 1 : K,
            j->pb ? j->pb + g * M + m0 : NULL, m1 - m0, nv, out + (ng * M + m0) * P + p0, P);
}

int FC_ISA_FN(FC_CAT(fc_pointwise_fwd_, FC_DT))(const fc_pointwise_params *q,
                                                const FC_REAL *in, const FC_REAL *w,
                                                const FC_REAL *bias, FC_REAL *out)
{
    const fc_index K = q->c_in, M = q->c_out, P = q->size, G = q->groups;
    if (q->n == 0 || P == 0 || M == 0 || G == 0)
        return FC_OK;
    const int nt = q->num_threads > 0 ? q->num_threads : 1;
    const fc_index images = q->n * G; /* independent (image, group) products */
    /* positions per tile: K x pb values within the separable tile budget */
    fc_index pb = FC_SEP_TILE_BYTES / (K * (fc_index)sizeof(FC_REAL));
    /* With whole-vector rows (P a multiple of the vector, so of a cache line) a
     * task's segments of the output rows share no cache line with another's:
     * then cut the positions finer, for about 4 tasks per thread. */
    if (P % FC_VL == 0) {
        const fc_index per_task = (images * P + 4 * nt - 1) / (4 * nt);
        pb = pb < per_task ? pb : per_task;
    }
    pb = pb < 2 * FC_VL ? 2 * FC_VL : pb / (2 * FC_VL) * (2 * FC_VL);
    if (pb > P)
        pb = P;
    const int nv = pb > FC_VL ? 2 : 1, mr = nv == 2 ? FC_MR : 2 * FC_MR;
    const fc_index tstride = (pb + 2 * FC_VL - 1) / (2 * FC_VL) * (2 * FC_VL);
    size_t tile_elems, tiles_bytes;
    FC_REAL *tiles = NULL;
    const fc_index nblk = (P + pb - 1) / pb;
    /* tasks read their rows in place but perhaps the last block: only then a
     * tile per thread (every block before it is pb >= a step long) */
    const fc_index last0 = (nblk - 1) * pb;
    const int need_tiles = !FC_CAT(fc_pw_in_place_, FC_DT)(last0, P - last0, P,
                                                           (fc_index)nv * FC_VL);
    if (fc_mul_overflows(K, tstride, &tile_elems)
        || SCRATCH_BYTES(nt, tile_elems, &tiles_bytes)
        || (need_tiles && !(tiles = fc_scratch_calloc(1, tiles_bytes))))
        return FC_ENOMEM;
    /* Still too few position tiles for about 4 tasks per thread (small planes
     * of ragged width: ResNet's 14x14 downsampling): split the output channels
     * too, in whole mr tiles (each such task reads the input block again).  Not
     * the positions: tasks writing neighbouring segments of every output row
     * would share a cache line at each segment's end. */
    const fc_index ntile = (M + mr - 1) / mr;
    fc_index msplit = 1;
    while (msplit < ntile && images * nblk * msplit < 4 * (fc_index)nt)
        msplit++;

    DW_JOB j = {.q = q, .x = in, .out = out, .scratch = tiles, .scratch_elems = tile_elems,
                .pw = w, .pb = bias, .nblk = nblk, .nyb = msplit, .cols = pb,
                .tstride = tstride, .nv = nv};
    fc_parallel_for(nt, images * nblk * msplit, PW_FWD_TASK, &j);
    fc_scratch_free(tiles);
    return FC_OK;
}

/* ----------------------------------------- transposed, kernel == stride ---- */
/*
 * A transposed convolution whose kernel equals its stride with 2 along the last
 * axis (U-Net's 2x2 stride-2 up-convolution, and its 1-D and 3-D kin):
 *   out[n, g*cy + o, z*KD + kz, y*KH + ky, 2x + kx]
 *       = b[o] + sum_c w[g*cx + c, o, kz, ky, kx] * in[n, g*cx + c, z, y, x].
 * As a pointwise product its rows are m = (o, kz, ky, kx), the weight as it
 * lies (k-major, (cx, M)).  The register tile's row pairs (kx = 0, 1) are
 * interleaved lane by lane as they are stored, so a block of an input row
 * writes whole runs of two output rows: no tap buffer and no depth-to-space
 * pass.  Tasks: input rows (n, g, z, y) x splits of the channel tiles.
 */
#define PW_LANES (FC_VBYTES / FC_REAL_BYTES)
#if PW_LANES == 16
#define PW_ZIP_LO 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23
#define PW_ZIP_HI 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31
#elif PW_LANES == 8
#define PW_ZIP_LO 0, 8, 1, 9, 2, 10, 3, 11
#define PW_ZIP_HI 4, 12, 5, 13, 6, 14, 7, 15
#elif PW_LANES == 4
#define PW_ZIP_LO 0, 4, 1, 5
#define PW_ZIP_HI 2, 6, 3, 7
#else
#define PW_ZIP_LO 0, 2
#define PW_ZIP_HI 1, 3
#endif

#define PW_PAIRS_OFF FC_CAT(fc_pw_pairs_off_, FC_DT)
/* Where input position q's output pair starts in its channel's output (for
 * kz = ky = 0): ((z*KD)*OH + y*KH)*OW + 2x for q = (z*H + y)*W + x. */
FC_INLINE fc_index PW_PAIRS_OFF(fc_index q, const fc_index *geom)
{
    const fc_index H = geom[1], W = geom[2], KD = geom[3], KH = geom[4];
    return ((q / (W * H) * KD) * H * KH + q / W % H * KH) * 2 * W + 2 * (q % W);
}

#define PW_STORE_N FC_CAT(fc_pw_store_n_, FC_DT)
/* Store the first n lanes of v (masked where the ISA has masked stores). */
FC_INLINE void PW_STORE_N(FC_REAL *p, VEC v, fc_index n)
{
#if FC_DW_DIRECT
    if (n < FC_VL) {
        STOREV_MASK(p, v, n);
        return;
    }
#endif
    STOREV_PART(p, v, n);
}

/* Where a half-vector of input positions goes: its first `first` positions'
 * pairs from out_a, the rest (crossing an input row) from out_b; first < 0:
 * several rows (W < VL/2), one pair at a time. */
typedef struct {
    fc_index out_a, out_b, first, n;
} FC_CAT(fc_pw_half_, FC_DT);
#define PW_HALF FC_CAT(fc_pw_half_, FC_DT)

#define PW_PAIRS_TILE FC_CAT(fc_pw_pairs_tile_, FC_DT)
/* Rows [m0, m0 + mr) of the product for the input positions from flat position
 * q0 (in: their K rows; w: the tile's packed K x mr weights; b: bias rows
 * b[m0 ..], read for the valid rows only), the pairs interleaved into the
 * output of image and group ng (dst0); half[h] places half-vector h. */
FC_INLINE void PW_PAIRS_TILE(int mr, int nv, const FC_REAL *in, fc_index istride, fc_index K,
                             const FC_REAL *w, fc_index M, const FC_REAL *b, fc_index m0,
                             fc_index q0, const fc_index *geom, const PW_HALF *half,
                             FC_REAL *dst0)
{
    const fc_index D = geom[0], KD = geom[3], KH = geom[4];
    const fc_index OH = geom[1] * KH, OW = 2 * geom[2];
    const fc_index mvalid = M - m0 < mr ? M - m0 : mr;
    VEC acc[2 * FC_MR][2];
    /* packed weights: mr rows, zero past M (rows past mvalid read row 0 and
     * get no bias: never stored) */
    PW_ACCUM(mr, nv, in, istride, K, w, mr, 1, b ? b + m0 : NULL, mvalid, acc);
#pragma GCC unroll 8
    for (int i = 0; i < mr / 2 && 2 * i < mvalid; i++) {
        const fc_index m = (m0 + 2 * i) / 2; /* (o, kz, ky) */
        const fc_index ky = m % KH, kz = m / KH % KD, o = m / (KH * KD);
        FC_REAL *dst = dst0 + (o * D * KD + kz) * OH * OW + ky * OW;
#pragma GCC unroll 4
        for (int h = 0; h < 2 * nv; h++) {
            const PW_HALF *hf = &half[h];
            if (hf->n <= 0)
                break;
            const VEC a0 = acc[2 * i][h / 2], a1 = acc[2 * i + 1][h / 2];
            const VEC v = h % 2 ? __builtin_shufflevector(a0, a1, PW_ZIP_HI)
                                : __builtin_shufflevector(a0, a1, PW_ZIP_LO);
            if (hf->first == hf->n) {
                PW_STORE_N(dst + hf->out_a, v, 2 * hf->n);
            } else if (hf->first >= 0) { /* one row boundary: two runs */
                PW_STORE_N(dst + hf->out_a, v, 2 * hf->first);
                IVEC shift;
                for (int l = 0; l < FC_VL; l++)
                    shift[l] = (FC_ILANE)((l + 2 * hf->first) % FC_VL);
                PW_STORE_N(dst + hf->out_b, __builtin_shuffle(v, shift),
                           2 * (hf->n - hf->first));
            } else {
                for (fc_index l = 0; l < hf->n; l++) {
                    FC_REAL *d = dst + PW_PAIRS_OFF(q0 + h * (FC_VL / 2) + l, geom);
                    d[0] = v[2 * l];
                    d[1] = v[2 * l + 1];
                }
            }
        }
    }
}

#define PW_PAIRS_TASK FC_CAT(fc_pw_pairs_task_, FC_DT)
/* Input positions [p0, p0 + len) of image and group ng, channel-tile split ms
 * (task = (ng * nblk + block) * msplit + ms), read in place when they can. */
static void PW_PAIRS_TASK(void *ctx, fc_index task, int slot)
{
    const DW_JOB *j = ctx;
    const fc_pointwise_params *q = j->q;
    const fc_index *geom = j->pairs;
    const fc_index K = q->c_in, M = q->c_out, G = q->groups, P = q->size, W = geom[2];
    const fc_index cy = M / (2 * geom[3] * geom[4]), oplane = 2 * P * geom[3] * geom[4];
    const int nv = j->nv, mr = nv == 2 ? FC_MR : 2 * FC_MR;
    const fc_index step = (fc_index)nv * FC_VL, msplit = j->nyb, ntile = (M + mr - 1) / mr;
    const fc_index pb = j->cols, nblk = j->nblk;
    const fc_index ms = task % msplit, p0 = task / msplit % nblk * pb;
    const fc_index ng = task / msplit / nblk, g = ng % G;
    const fc_index len = P - p0 < pb ? P - p0 : pb;
    const fc_index t0 = ms * ntile / msplit, t1 = (ms + 1) * ntile / msplit;
    const FC_REAL *wg = j->w + g * ntile * mr * K, *bg = j->pb ? j->pb + g * M : NULL;
    FC_REAL *dst0 = j->out + ng * cy * oplane;
    const FC_REAL *src = j->x + ng * K * P + p0;
    fc_index sstride = P;
    if (!FC_CAT(fc_pw_in_place_, FC_DT)(p0, len, P, step)) {
        FC_REAL *tile = j->scratch + (size_t)slot * j->scratch_elems;
        for (fc_index k = 0; k < K; k++)
            memcpy(tile + k * j->tstride, src + k * P, (size_t)len * sizeof(FC_REAL));
        src = tile;
        sstride = j->tstride;
    }
    /* steps of whole vectors; a ragged last one moved back to end at len (it
     * rewrites a few outputs with the same values), as PW_GEMM does */
    for (fc_index s0 = 0; s0 < len; s0 += step) {
        fc_index start = s0, nvalid = len - s0 < step ? len - s0 : step;
        if (nvalid < step && len >= step) {
            start = len - step;
            nvalid = step;
        }
        PW_HALF half[4];
        for (int h = 0; h < 2 * nv; h++) {
            const fc_index q = p0 + start + h * (FC_VL / 2);
            const fc_index left = nvalid - h * (FC_VL / 2);
            PW_HALF *hf = &half[h];
            hf->n = left < FC_VL / 2 ? left : FC_VL / 2;
            if (hf->n <= 0)
                continue;
            hf->out_a = PW_PAIRS_OFF(q, geom);
            hf->first = W - q % W < hf->n ? W - q % W : hf->n;
            if (hf->first < hf->n) {
                hf->out_b = PW_PAIRS_OFF(q + hf->first, geom);
                if (hf->n - hf->first > W)
                    hf->first = -1; /* more than one boundary */
            }
        }
        for (fc_index t = t0; t < t1; t++) {
            if (nv == 2)
                PW_PAIRS_TILE(FC_MR, 2, src + start, sstride, K, wg + t * mr * K, M, bg, t * mr,
                              p0 + start, geom, half, dst0);
            else
                PW_PAIRS_TILE(2 * FC_MR, 1, src + start, sstride, K, wg + t * mr * K, M, bg,
                              t * mr, p0 + start, geom, half, dst0);
        }
    }
}

#define PW_PACK_TASK FC_CAT(fc_pw_pack_task_, FC_DT)
/* Weight tiles [t0, t1) of the G groups' (K, M) weights packed as
 * [group][tile][k][mr], zero past M: the micro-kernel's broadcasts then read
 * one contiguous run (in place, a k-major tile's rows are M apart and each
 * needs a pointer of its own; 15% slower measured). */
static void PW_PACK_TASK(void *ctx, fc_index t0, fc_index t1, int slot)
{
    const DW_JOB *j = ctx;
    const fc_index K = j->q->c_in, M = j->q->c_out, mr = j->nv == 2 ? FC_MR : 2 * FC_MR;
    const fc_index ntile = (M + mr - 1) / mr;
    for (fc_index gt = t0; gt < t1; gt++) {
        const fc_index g = gt / ntile, m0 = gt % ntile * mr;
        const FC_REAL *src = j->pw + g * M * K + m0;
        FC_REAL *dst = (FC_REAL *)j->w + gt * mr * K;
        for (fc_index k = 0; k < K; k++)
            for (fc_index m = 0; m < mr; m++)
                dst[k * mr + m] = m0 + m < M ? src[k * M + m] : (FC_REAL)0;
    }
}

int FC_ISA_FN(FC_CAT(fc_pointwise_pairs_fwd_, FC_DT))(const fc_pointwise_params *q,
                                                      const fc_index *geom, const FC_REAL *in,
                                                      const FC_REAL *w, const FC_REAL *bias,
                                                      FC_REAL *out)
{
    const fc_index K = q->c_in, M = q->c_out, P = q->size, G = q->groups;
    if (q->n == 0 || P == 0 || M == 0 || G == 0)
        return FC_OK;
    const int nt = q->num_threads > 0 ? q->num_threads : 1;
    const fc_index images = q->n * G;
    /* position blocks as the pointwise forward cuts them */
    fc_index pb = FC_SEP_TILE_BYTES / (K * (fc_index)sizeof(FC_REAL));
    const fc_index per_task = (images * P + 4 * nt - 1) / (4 * nt);
    pb = pb < per_task ? pb : per_task;
    pb = pb < 2 * FC_VL ? 2 * FC_VL : pb / (2 * FC_VL) * (2 * FC_VL);
    if (pb > P)
        pb = P;
    const int nv = pb > FC_VL ? 2 : 1, mr = nv == 2 ? FC_MR : 2 * FC_MR;
    const fc_index tstride = (pb + 2 * FC_VL - 1) / (2 * FC_VL) * (2 * FC_VL);
    const fc_index nblk = (P + pb - 1) / pb, last0 = (nblk - 1) * pb;
    size_t tile_elems, tiles_bytes;
    FC_REAL *tiles = NULL;
    const int need_tiles = !FC_CAT(fc_pw_in_place_, FC_DT)(last0, P - last0, P,
                                                           (fc_index)nv * FC_VL);
    if (fc_mul_overflows(K, tstride, &tile_elems)
        || SCRATCH_BYTES(nt, tile_elems, &tiles_bytes)
        || (need_tiles && !(tiles = fc_scratch_calloc(1, tiles_bytes))))
        return FC_ENOMEM;
    const fc_index ntile = (M + mr - 1) / mr;
    size_t wpack_elems;
    FC_REAL *wpack = NULL;
    if (fc_mul_overflows(G * ntile * mr, K, &wpack_elems)
        || !(wpack = fc_scratch_alloc(wpack_elems * sizeof(FC_REAL)))) {
        fc_scratch_free(tiles);
        return FC_ENOMEM;
    }
    fc_index msplit = 1;
    while (msplit < ntile && images * nblk * msplit < 4 * (fc_index)nt)
        msplit++;
    DW_JOB j = {.q = q, .pairs = geom, .x = in, .w = wpack, .out = out, .scratch = tiles,
                .scratch_elems = tile_elems, .pw = w, .pb = bias, .nblk = nblk, .nyb = msplit,
                .cols = pb, .tstride = tstride, .nv = nv};
    fc_parallel_range(nt, G * ntile, PW_PACK_TASK, &j);
    fc_parallel_for(nt, images * nblk * msplit, PW_PAIRS_TASK, &j);
    fc_scratch_free(wpack);
    fc_scratch_free(tiles);
    return FC_OK;
}

/* Register tile of the pointwise weight gradient: OB output channels x KB
 * input channels (constants), each a single vector accumulator over (n, p):
 *   gw[o, k] = sum_{n, p} gy[n, o, p] * in[n, k, p]   for o0 <= o < o0 + OB,
 *                                                      k0 <= k < k0 + KB,
 * lanes summed in order at the end.  Partial last vectors are zero-filled, so
 * nothing past a row is read.  Each element's sum runs in the same order for
 * any tile, so the tiling does not change results. */
#if FC_VBYTES >= 64
#define FC_PWB_OB 4 /* 20 of the 32 vector registers hold accumulators */
#define FC_PWB_KB 5
#else
#define FC_PWB_OB 2 /* 12 of 16 */
#define FC_PWB_KB 6
#endif
#define PW_BWD_TILE FC_CAT(fc_pw_bwd_tile_, FC_DT)
FC_INLINE void PW_BWD_TILE(int OB, int KB, const fc_pointwise_params *q, const FC_REAL *gy,
                           const FC_REAL *in, fc_index o0, fc_index k0, FC_REAL *gw)
{
    const fc_index K = q->c_in, M = q->c_out, P = q->size;
    VEC acc[FC_PWB_OB][FC_PWB_KB];
#pragma GCC unroll 4
    for (int a = 0; a < OB; a++)
#pragma GCC unroll 8
        for (int i = 0; i < KB; i++)
            acc[a][i] = (VEC){0};
    for (fc_index n = 0; n < q->n; n++) {
        const FC_REAL *g = gy + (n * M + o0) * P;
        const FC_REAL *xi = in + (n * K + k0) * P;
        fc_index j = 0;
        for (; j + FC_VL <= P; j += FC_VL) {
            VEC gv[FC_PWB_OB];
#pragma GCC unroll 4
            for (int a = 0; a < OB; a++)
                gv[a] = LOADV(g + a * P + j);
#pragma GCC unroll 8
            for (int i = 0; i < KB; i++) {
                const VEC xv = LOADV(xi + i * P + j);
#pragma GCC unroll 4
                for (int a = 0; a < OB; a++)
                    acc[a][i] += gv[a] * xv;
            }
        }
        if (j < P) {
            VEC gv[FC_PWB_OB];
#pragma GCC unroll 4
            for (int a = 0; a < OB; a++)
                gv[a] = LOADV_PART(g + a * P + j, P - j);
#pragma GCC unroll 8
            for (int i = 0; i < KB; i++) {
                const VEC xv = LOADV_PART(xi + i * P + j, P - j);
#pragma GCC unroll 4
                for (int a = 0; a < OB; a++)
                    acc[a][i] += gv[a] * xv;
            }
        }
    }
#pragma GCC unroll 4
    for (int a = 0; a < OB; a++)
#pragma GCC unroll 8
        for (int i = 0; i < KB; i++)
            gw[(o0 + a) * K + k0 + i] = HSUM(acc[a][i]);
}

#define PW_BWD_TASK FC_CAT(fc_pw_bwd_weight_task_, FC_DT)
/* One block of FC_PWB_OB output channels. */
static void PW_BWD_TASK(void *ctx, fc_index blk, int slot)
{
    const DW_JOB *j = ctx;
    const fc_pointwise_params *q = j->q;
    const FC_REAL *gy = j->gy, *in = j->x;
    FC_REAL *gw = j->gw, *gb = j->gb;
    const fc_index K = q->c_in, M = q->c_out, P = q->size;
    const fc_index o0 = blk * FC_PWB_OB;
    if (o0 + FC_PWB_OB <= M) {
        fc_index k0 = 0;
        for (; k0 + FC_PWB_KB <= K; k0 += FC_PWB_KB)
            PW_BWD_TILE(FC_PWB_OB, FC_PWB_KB, q, gy, in, o0, k0, gw);
        for (; k0 < K; k0++)
            PW_BWD_TILE(FC_PWB_OB, 1, q, gy, in, o0, k0, gw);
    } else {
        for (fc_index o = o0; o < M; o++) {
            fc_index k0 = 0;
            for (; k0 + FC_PWB_KB <= K; k0 += FC_PWB_KB)
                PW_BWD_TILE(1, FC_PWB_KB, q, gy, in, o, k0, gw);
            for (; k0 < K; k0++)
                PW_BWD_TILE(1, 1, q, gy, in, o, k0, gw);
        }
    }
    if (gb)
        for (fc_index o = o0; o < M && o < o0 + FC_PWB_OB; o++) {
            VEC s = {0};
            for (fc_index n = 0; n < q->n; n++)
                s += SUMV(gy + (n * M + o) * P, P);
            gb[o] = HSUM(s);
        }
}

int FC_ISA_FN(FC_CAT(fc_pointwise_bwd_weight_, FC_DT))(const fc_pointwise_params *q,
                                                       const FC_REAL *gy, const FC_REAL *in,
                                                       FC_REAL *gw, FC_REAL *gb)
{
    /* one task per block of FC_PWB_OB output channels */
    DW_JOB j = {.q = q, .gy = gy, .x = in, .gw = gw, .gb = gb};
    fc_parallel_for(q->num_threads, (q->c_out + FC_PWB_OB - 1) / FC_PWB_OB, PW_BWD_TASK, &j);
    return FC_OK;
}

#undef FC_VL
#undef VEC
#undef IVEC
#undef LOADV
#undef LOADV_PART
#undef STOREV_PART
#undef COPYN
#undef FC_DW_COPY2
#undef BCAST
#undef HSUM
#undef KEEP_LANES
#undef SCRATCH_BYTES
#undef DW_FILL
#undef FC_SPLIT_S2
#undef FC_DW_DIRECT
#undef FC_DW_LANES
#undef FC_DW_DIRECT_ROWS
#undef FC_DW_EVENS
#undef FC_DW_ODDS
#undef FC_DW_NEXT
#undef DW_LANES
#undef LANE_MASK
#undef LOADV_MASK
#undef STOREV_MASK
#undef DW_DIRECT_TILE
#undef DW_DIRECT_RUN
#undef DW_DIRECT_BLOCK
#undef DW_DIRECT_TASKS
#undef DW_DIRECT_FITS
#undef DW_UKERNEL
#undef DW_TILE
#undef DW_TILE_OFFS
#undef DW_TILE_STORE
#undef DW_UKERNEL_2D
#undef FC_DW_NACC
#undef DW_BLOCK
#undef DW_ROWPTRS
#undef DW_BLOCK_ROWS
#undef DW_SCRATCH
#undef DW_WGRAD
#undef DW_WGRAD_ANY
#undef DW_WGRAD_3X3
#undef DW_WGRAD_3X3_ROWS
#undef DW_WGRAD_3X3_COL
#undef DW_JOB
#undef DW_SIZES
#undef DW_FWD_TASKS
#undef DW_BWD_INPUT_JOB
#undef DW_BWD_INPUT_TASK
#undef DW_BWD_INPUT_AS_FWD
#undef DW_BWD_WEIGHT_TASK
#undef SEP_FWD_TASK
#undef PW_FWD_TASK
#undef PW_BWD_TASK
#undef SUMV
#undef PW_UKERNEL
#undef PW_ACCUM
#undef PW_LANES
#undef PW_ZIP_LO
#undef PW_ZIP_HI
#undef PW_PAIRS_TILE
#undef PW_PAIRS_OFF
#undef PW_STORE_N
#undef PW_HALF
#undef PW_PAIRS_TASK
#undef PW_PACK_TASK
#undef PW_GEMM
#undef PW_BWD_TILE
#undef FC_PWB_OB
#undef FC_PWB_KB
