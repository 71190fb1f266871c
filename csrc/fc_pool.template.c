/*
 * fc_pool.template.c - pooling forward and backward kernels, one dtype.
 * Included by fc_pool_simd.c with FC_REAL (float/double), FC_DT (f32/f64) and
 * FC_ILANE (the integer of the same width: lane masks and lane offsets).
 * Semantics of every kernel: fc_pool.h.
 *
 * Loop structure.  A plane is (D, H, W); forward work is split into output rows
 * (plane, z, y), gather backwards into input rows (plane, z, y), so the thread
 * pool has many equal tasks even when n * c is small.  Windowed forward rows
 * work in vector blocks of NL consecutive outputs whose taps all lie inside
 * the input row ("interior" outputs): a block keeps its NL results in
 * registers and walks the window's taps in (kd, kh, kw) order, each tap one
 * (strided) vector load, so every lane runs exactly the scalar loop over its
 * window: ties, NaN and rounding are as in a scalar loop, bit for bit, on
 * every SIMD path.  The few border outputs (a tap in the padding or past the
 * end) take the same scalar loop with bounds checks.  Max pooling without
 * indices, stride 2 along x and windows overlapping along y, runs by rows
 * instead (MAX_FWD_ROWS_CACHED): each input row's maxima along x once, kept in
 * a per-thread cache, then the max rule over the window's rows; the rule is
 * associative in the scan order, so the bits are the same.
 *
 * Max backward needs each window's argmax: phase 1 recomputes the indices for
 * all outputs in parallel over output rows into scratch, phase 2 routes the
 * gradients plane by plane (one thread per plane, increasing output order).
 * Avg backward is a gather into each input row: for every output row (z, y)
 * whose windows hold it, in increasing order, the row of grad_out / divisor is
 * added through the taps with kw decreasing, i.e. in increasing ox per cell.
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

#define FC_POOL_NAME(name) FC_CAT(FC_CAT(name, _), FC_DT)
#define FC_POOL_KERNEL(name) FC_ISA_FN(FC_POOL_NAME(name))

/* The max rule: does v replace the running maximum m? */
#define TAKES FC_POOL_NAME(fc_pool_takes)
FC_INLINE int TAKES(FC_REAL v, FC_REAL m) { return v > m || v != v; }

/* ------------------------------------------------------ vector blocks ---- */

/* Native vectors of NL lanes and their same-width integer lanes (GCC vector
 * extensions; one source for every SIMD path). */
#define LVEC FC_POOL_NAME(fc_pool_vec)
#define LMASK FC_POOL_NAME(fc_pool_vec_mask)
#define NL ((int)(FC_VBYTES / sizeof(FC_REAL)))
typedef FC_REAL LVEC __attribute__((vector_size(FC_VBYTES)));
typedef FC_ILANE LMASK __attribute__((vector_size(FC_VBYTES)));

/* The max rule on whole vectors, without indices (fc_pool_simd.c). */
#define VTAKE FC_CAT(fc_pool_vtake_, FC_DT)

/* The lane numbers 0, 1, ..., NL - 1 (from a constant table, so that the
 * shuffle masks built from them are constants too). */
#define IOTA FC_POOL_NAME(fc_pool_iota)
FC_INLINE LMASK IOTA(void)
{
    static const FC_ILANE lanes[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    LMASK v;
    _Static_assert(sizeof v <= sizeof lanes, "IOTA covers every lane");
    memcpy(&v, lanes, sizeof v);
    return v;
}

/* Lanes src[0], src[s], ..., src[(NL-1)*s] as a vector.  Stride 2 takes two
 * loads and one shuffle; the second load starts at lane NL - 1, so nothing
 * past the last lane's cell is read. */
#define LOAD_STRIDED FC_POOL_NAME(fc_pool_load_strided)
FC_INLINE LVEC LOAD_STRIDED(const FC_REAL *src, fc_index s)
{
    LVEC v;
    if (s == 1) {
        memcpy(&v, src, sizeof v);
    } else if (s == 2) {
        LVEC a, b;
        LMASK pick;
        memcpy(&a, src, sizeof a);
        memcpy(&b, src + NL - 1, sizeof b);
        for (int l = 0; l < NL; l++)
            pick[l] = l < NL / 2 ? 2 * l : 2 * l + 1;
        v = __builtin_shuffle(a, b, pick);
    } else {
        for (int l = 0; l < NL; l++)
            v[l] = src[l * s];
    }
    return v;
}

/* The taps of an output row that lie inside the input: rows kd in [kd0, kd1),
 * kh in [kh0, kh1) (cells z0 + kd*dil, y0 + kh*dil); along x, the outputs
 * [xa, xb) whose every tap kw is inside the row (the others are border
 * outputs, pooled one by one with bounds checks). */
#define ROW_TAPS FC_POOL_NAME(fc_pool_row_taps)
typedef struct {
    fc_index z0, y0, kd0, kd1, kh0, kh1, xa, xb;
} ROW_TAPS;

#define ROW_TAPS_OF FC_POOL_NAME(fc_pool_row_taps_of)
static ROW_TAPS ROW_TAPS_OF(const fc_pool_params *p, const fc_pool_tables *t, fc_index oz,
                            fc_index oy)
{
    ROW_TAPS r;
    r.z0 = oz * p->stride[0] - p->pad[0];
    r.y0 = oy * p->stride[1] - p->pad[1];
    r.kd0 = t->k0[0][oz];
    r.kd1 = t->k1[0][oz];
    r.kh0 = t->k0[1][oy];
    r.kh1 = t->k1[1][oy];
    /* tap 0 enters the row last and tap k-1 leaves it first */
    r.xa = t->lo[0];
    r.xb = t->hi[p->k[2] - 1] > r.xa ? t->hi[p->k[2] - 1] : r.xa;
    return r;
}

/* Offset of input row (kd, kh) of r in the plane. */
#define ROW_OFF(p, r, kd, kh)                                                            \
    ((((r)->z0 + (kd) * (p)->dil[0]) * (p)->in[1] + (r)->y0 + (kh) * (p)->dil[1])         \
     * (p)->in[2])

/* Window maxima of outputs ox0 .. ox0 + NL - 1 (all interior, stride S) kept in
 * registers over the taps in (kd, kh, kw) order, so each lane runs the scalar
 * max rule; with_idx also tracks the winners' offsets (lane integers, so the
 * caller checks that offsets fit). */
#define MAX_BLOCK FC_POOL_NAME(fc_pool_max_block)
FC_INLINE void MAX_BLOCK(const fc_pool_params *p, const ROW_TAPS *r,
                         const FC_REAL *FC_RESTRICT xp, fc_index ox0, fc_index S, int with_idx,
                         FC_REAL *FC_RESTRICT vals, int64_t *FC_RESTRICT idx)
{
    const fc_index c0 = ox0 * S - p->pad[2], dw = p->dil[2];
    LVEC m = (LVEC){0} - (FC_REAL)INFINITY;
    LMASK cell, best;
    for (int l = 0; l < NL; l++)
        cell[l] = (FC_ILANE)(c0 + l * S);
    best = cell + (FC_ILANE)ROW_OFF(p, r, r->kd0, r->kh0);
    for (fc_index kd = r->kd0; kd < r->kd1; kd++)
        for (fc_index kh = r->kh0; kh < r->kh1; kh++) {
            const fc_index rowoff = ROW_OFF(p, r, kd, kh);
            for (fc_index kw = 0; kw < p->k[2]; kw++) {
                const fc_index off = rowoff + kw * dw;
                const LVEC v = LOAD_STRIDED(xp + off + c0, S);
                if (with_idx) {
                    const LMASK t = (v > m) | (v != v);
                    m = (LVEC)(((LMASK)v & t) | ((LMASK)m & ~t));
                    best = ((cell + (FC_ILANE)off) & t) | (best & ~t);
                } else {
                    m = VTAKE(m, v);
                }
            }
        }
    memcpy(vals + ox0, &m, sizeof m);
    if (with_idx)
        for (int l = 0; l < NL; l++)
            idx[ox0 + l] = best[l];
}

/* MAX_BLOCK without indices for windows of 2 cells along x at stride 2, two
 * blocks (ox0, ox1) at once: each row's 2*NL cells of a block are loaded
 * once and split into even (tap 0) and odd (tap 1) cells, whose maxima are
 * folded into the block's m row by row (the scan order, as the rule is
 * associative); the two blocks' folds are independent chains. */
#define MAX_PAIR_BLOCKS2 FC_POOL_NAME(fc_pool_max_pair_blocks2)
FC_INLINE void MAX_PAIR_BLOCKS2(const fc_pool_params *p, const ROW_TAPS *r,
                                const FC_REAL *FC_RESTRICT xp, fc_index ox0, fc_index ox1,
                                FC_REAL *FC_RESTRICT vals)
{
    const fc_index c0 = 2 * ox0 - p->pad[2], c1 = 2 * ox1 - p->pad[2];
    const LMASK ev = IOTA() * 2, od = ev + 1;
    LVEC m0 = (LVEC){0} - (FC_REAL)INFINITY, m1 = m0;
    for (fc_index kd = r->kd0; kd < r->kd1; kd++)
        for (fc_index kh = r->kh0; kh < r->kh1; kh++) {
            const FC_REAL *row = xp + ROW_OFF(p, r, kd, kh);
            LVEC a0, b0, a1, b1;
            memcpy(&a0, row + c0, sizeof a0);
            memcpy(&b0, row + c0 + NL, sizeof b0);
            memcpy(&a1, row + c1, sizeof a1);
            memcpy(&b1, row + c1 + NL, sizeof b1);
            m0 = VTAKE(m0, VTAKE(__builtin_shuffle(a0, b0, ev), __builtin_shuffle(a0, b0, od)));
            m1 = VTAKE(m1, VTAKE(__builtin_shuffle(a1, b1, ev), __builtin_shuffle(a1, b1, od)));
        }
    memcpy(vals + ox0, &m0, sizeof m0);
    memcpy(vals + ox1, &m1, sizeof m1);
}

/* Window averages of outputs ox0 .. ox0 + NL - 1 (all interior, stride S): the
 * sums (real cells, (kd, kh, kw) order, from 0) times div[] when recip, else
 * divided by div[] (AVG_DIVISORS), into out. */
#define SUM_BLOCK FC_POOL_NAME(fc_pool_sum_block)
FC_INLINE void SUM_BLOCK(const fc_pool_params *p, const ROW_TAPS *r,
                         const FC_REAL *FC_RESTRICT xp, fc_index ox0, fc_index S,
                         const FC_REAL *FC_RESTRICT div, int recip, FC_REAL *FC_RESTRICT out)
{
    const fc_index c0 = ox0 * S - p->pad[2];
    LVEC s = {0}, d;
    for (fc_index kd = r->kd0; kd < r->kd1; kd++)
        for (fc_index kh = r->kh0; kh < r->kh1; kh++) {
            const FC_REAL *row = xp + ROW_OFF(p, r, kd, kh) + c0;
            for (fc_index kw = 0; kw < p->k[2]; kw++)
                s += LOAD_STRIDED(row + kw, S);
        }
    memcpy(&d, div + ox0, sizeof d);
    s = recip ? s * d : s / d;
    memcpy(out + ox0, &s, sizeof s);
}

/* SUM_BLOCK of two blocks at once (ox0 and ox1): the sums are chains of
 * dependent adds, so two independent chains keep the adder busy. */
#define SUM_BLOCK2 FC_POOL_NAME(fc_pool_sum_block2)
FC_INLINE void SUM_BLOCK2(const fc_pool_params *p, const ROW_TAPS *r,
                          const FC_REAL *FC_RESTRICT xp, fc_index ox0, fc_index ox1, fc_index S,
                          const FC_REAL *FC_RESTRICT div, int recip, FC_REAL *FC_RESTRICT out)
{
    const fc_index c0 = ox0 * S - p->pad[2], c1 = ox1 * S - p->pad[2];
    LVEC s0 = {0}, s1 = {0}, d0, d1;
    for (fc_index kd = r->kd0; kd < r->kd1; kd++)
        for (fc_index kh = r->kh0; kh < r->kh1; kh++) {
            const FC_REAL *row = xp + ROW_OFF(p, r, kd, kh);
            for (fc_index kw = 0; kw < p->k[2]; kw++) {
                s0 += LOAD_STRIDED(row + c0 + kw, S);
                s1 += LOAD_STRIDED(row + c1 + kw, S);
            }
        }
    memcpy(&d0, div + ox0, sizeof d0);
    memcpy(&d1, div + ox1, sizeof d1);
    s0 = recip ? s0 * d0 : s0 / d0;
    s1 = recip ? s1 * d1 : s1 / d1;
    memcpy(out + ox0, &s0, sizeof s0);
    memcpy(out + ox1, &s1, sizeof s1);
}

/* The vector blocks of the interior [xa, xb), the last one overlapping its
 * predecessor (blocks are recomputed from x, so the overlap rewrites the same
 * values).  Returns the first output left to scalar code: xb, or xa when the
 * interior is narrower than one vector. */
#define MAX_BLOCKS FC_POOL_NAME(fc_pool_max_blocks)
FC_INLINE fc_index MAX_BLOCKS(const fc_pool_params *p, const ROW_TAPS *r,
                              const FC_REAL *FC_RESTRICT xp, fc_index S, int with_idx,
                              FC_REAL *FC_RESTRICT vals, int64_t *FC_RESTRICT idx)
{
    if (r->xb - r->xa < NL)
        return r->xa;
    fc_index ox0 = r->xa;
    if (!with_idx && S == 2 && p->k[2] == 2 && p->dil[2] == 1) {
        /* blocks at xa, xa + NL, ... and xb - NL, two at a time (the lone
         * last one paired with itself) */
        for (; ox0 < r->xb; ox0 += 2 * NL) {
            const fc_index a = ox0 + NL <= r->xb ? ox0 : r->xb - NL;
            const fc_index b = a + 2 * NL <= r->xb ? a + NL : r->xb - NL;
            MAX_PAIR_BLOCKS2(p, r, xp, a, b, vals);
        }
        return r->xb;
    }
    for (; ox0 + NL <= r->xb; ox0 += NL)
        MAX_BLOCK(p, r, xp, ox0, S, with_idx, vals, idx);
    if (ox0 < r->xb)
        MAX_BLOCK(p, r, xp, r->xb - NL, S, with_idx, vals, idx);
    return r->xb;
}

#define SUM_BLOCKS FC_POOL_NAME(fc_pool_sum_blocks)
FC_INLINE fc_index SUM_BLOCKS(const fc_pool_params *p, const ROW_TAPS *r,
                              const FC_REAL *FC_RESTRICT xp, fc_index S,
                              const FC_REAL *FC_RESTRICT div, int recip, FC_REAL *FC_RESTRICT out)
{
    if (r->xb - r->xa < NL)
        return r->xa;
    /* blocks at xa, xa + NL, ... and xb - NL (overlapping), two at a time */
    fc_index ox0 = r->xa;
    for (; ox0 + 2 * NL <= r->xb; ox0 += 2 * NL)
        SUM_BLOCK2(p, r, xp, ox0, ox0 + NL, S, div, recip, out);
    if (ox0 + NL < r->xb)
        SUM_BLOCK2(p, r, xp, ox0, r->xb - NL, S, div, recip, out);
    else if (ox0 < r->xb)
        SUM_BLOCK(p, r, xp, r->xb - NL, S, div, recip, out);
    return r->xb;
}

/* One border output ox (some taps outside the row): the scalar rules. */
#define MAX_CELL FC_POOL_NAME(fc_pool_max_cell)
static void MAX_CELL(const fc_pool_params *p, const ROW_TAPS *r, const FC_REAL *xp, fc_index ox,
                     FC_REAL *vals, int64_t *idx)
{
    const fc_index W = p->in[2], dw = p->dil[2], c = ox * p->stride[2] - p->pad[2];
    FC_REAL m = -(FC_REAL)INFINITY;
    /* an all -inf window reports its first real cell, as PyTorch does */
    fc_index best = ROW_OFF(p, r, r->kd0, r->kh0) + fc_pool_first_cell(c, dw);
    for (fc_index kd = r->kd0; kd < r->kd1; kd++)
        for (fc_index kh = r->kh0; kh < r->kh1; kh++) {
            const fc_index rowoff = ROW_OFF(p, r, kd, kh);
            for (fc_index kw = 0; kw < p->k[2]; kw++) {
                const fc_index ix = c + kw * dw;
                if (ix >= 0 && ix < W && TAKES(xp[rowoff + ix], m)) {
                    m = xp[rowoff + ix];
                    best = rowoff + ix;
                }
            }
        }
    vals[ox] = m;
    if (idx)
        idx[ox] = best;
}

/* The average of one border output ox (see SUM_BLOCK). */
#define AVG_CELL FC_POOL_NAME(fc_pool_avg_cell)
static FC_REAL AVG_CELL(const fc_pool_params *p, const ROW_TAPS *r, const FC_REAL *xp,
                        fc_index ox, const FC_REAL *div, int recip)
{
    const fc_index W = p->in[2], c = ox * p->stride[2] - p->pad[2];
    FC_REAL s = 0;
    for (fc_index kd = r->kd0; kd < r->kd1; kd++)
        for (fc_index kh = r->kh0; kh < r->kh1; kh++) {
            const fc_index rowoff = ROW_OFF(p, r, kd, kh);
            for (fc_index kw = 0; kw < p->k[2]; kw++)
                if (c + kw >= 0 && c + kw < W)
                    s += xp[rowoff + c + kw];
        }
    return recip ? s * div[ox] : s / div[ox];
}

/* The transpose of a summing tap: dst[o*s] += q[o] (average backward). */
#define ADD_TAP FC_POOL_NAME(fc_pool_add_tap)
FC_INLINE void ADD_TAP(const FC_REAL *FC_RESTRICT q, fc_index s, FC_REAL *FC_RESTRICT dst,
                       fc_index n)
{
    for (fc_index o = 0; o < n; o++)
        dst[o * s] += q[o];
}

/* Call a tap loop with the stride as a compile-time constant when it is 1 or 2. */
#define FC_POOL_BY_STRIDE(s, call_with)   \
    do {                                  \
        if ((s) == 1)                     \
            call_with(1);                 \
        else if ((s) == 2)                \
            call_with(2);                 \
        else                              \
            call_with(s);                 \
    } while (0)

/* What a pooling task reads; each kernel fills the fields it uses.  Tasks are
 * runs of rows or planes (fc_parallel_range). */
#define POOL_JOB FC_POOL_NAME(fc_pool_job)
typedef struct {
    const fc_pool_params *p;
    const fc_pool_tables *t;
    const FC_REAL *x;         /* the input */
    const FC_REAL *g;         /* grad_out */
    FC_REAL *out;             /* the output or grad_in */
    int64_t *idx;             /* argmax offsets, full size or one row per slot */
    FC_REAL *rows;            /* scratch: one row of OW values per slot */
    const FC_REAL *div;       /* avg: the divisor of every output of a plane ... */
    int div_recip;            /* ... or, when 1, its reciprocal (AVG_DIVISORS) */
    size_t in_plane, out_plane;
    atomic_int *bad_index;    /* route: set when a saved index is out of range */
} POOL_JOB;

/* ------------------------------------------------------- max pooling ---- */

/* Output row (oz, oy) of plane xp: vals[ox] = window maxima and, when idx is not
 * NULL, idx[ox] = their offsets in the plane.  Interior outputs in vector
 * blocks (with indices only when every offset fits a lane integer), border
 * outputs one by one. */
#define MAX_ROW FC_POOL_NAME(fc_pool_max_row)
static void MAX_ROW(const fc_pool_params *p, const fc_pool_tables *t,
                    const FC_REAL *FC_RESTRICT xp, fc_index oz, fc_index oy,
                    FC_REAL *FC_RESTRICT vals, int64_t *FC_RESTRICT idx)
{
    const ROW_TAPS r = ROW_TAPS_OF(p, t, oz, oy);
    const fc_index sw = p->stride[2];
    const int lane_idx = sizeof(FC_REAL) == 8
                         || (size_t)p->in[0] * p->in[1] * p->in[2] <= (size_t)INT32_MAX;
    fc_index done = r.xa;
    if (!idx) {
#define CALL_(S) done = MAX_BLOCKS(p, &r, xp, S, 0, vals, NULL)
        FC_POOL_BY_STRIDE(sw, CALL_);
#undef CALL_
    } else if (lane_idx) {
#define CALL_(S) done = MAX_BLOCKS(p, &r, xp, S, 1, vals, idx)
        FC_POOL_BY_STRIDE(sw, CALL_);
#undef CALL_
    }
    for (fc_index ox = 0; ox < r.xa; ox++)
        MAX_CELL(p, &r, xp, ox, vals, idx);
    for (fc_index ox = done; ox < p->out[2]; ox++)
        MAX_CELL(p, &r, xp, ox, vals, idx);
}

#define MAX_FWD_ROWS FC_POOL_NAME(fc_max_pool_fwd_rows)
static void MAX_FWD_ROWS(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const POOL_JOB *j = ctx;
    const fc_index OD = j->p->out[0], OH = j->p->out[1], OW = j->p->out[2];
    fc_rowpos q = fc_rowpos_at(r0, OD, OH);
    for (fc_index r = r0; r < r1; r++, fc_rowpos_next(&q)) {
        const fc_index plane = q.plane, oz = q.z, oy = q.y;
        MAX_ROW(j->p, j->t, j->x + plane * j->in_plane, oz, oy, j->out + r * OW,
                j->idx ? j->idx + r * OW : NULL);
    }
}

/* Cells c0 .. c0 + NL - 1 (c0 >= 0) of a row of W cells; those past the row
 * read as -inf. */
#define LOAD_OR_NINF FC_POOL_NAME(fc_pool_load_or_ninf)
FC_INLINE void LOAD_OR_NINF(const FC_REAL *FC_RESTRICT row, fc_index W, fc_index c0, LVEC *v)
{
    if (c0 + NL <= W) {
        memcpy(v, row + c0, sizeof *v);
        return;
    }
    if (c0 >= W) {
        *v = (LVEC){0} - (FC_REAL)INFINITY;
        return;
    }
    FC_REAL tmp[NL]; /* a buffer, so that v stays in a register */
    for (fc_index l = 0; l < NL; l++)
        tmp[l] = l < W - c0 ? row[c0 + l] : -(FC_REAL)INFINITY;
    memcpy(v, tmp, sizeof tmp);
}

/* Cells 2*j0 .. 2*j0 + 2*NL - 1 of a row of W cells split into E (even cells)
 * and O (odd cells); cells past the row read as -inf. */
#define LOAD_EO FC_POOL_NAME(fc_pool_load_eo)
FC_INLINE void LOAD_EO(const FC_REAL *FC_RESTRICT row, fc_index W, fc_index j0, LVEC *e,
                       LVEC *o)
{
    LVEC a, b;
    const LMASK ev = IOTA() * 2, od = ev + 1;
    const fc_index c0 = 2 * j0;
    LOAD_OR_NINF(row, W, c0, &a);
    LOAD_OR_NINF(row, W, c0 + NL, &b);
    *e = __builtin_shuffle(a, b, ev);
    *o = __builtin_shuffle(a, b, od);
}

/* One input row's window maxima along x, h[ox] = the max rule over taps kw
 * increasing, for stride 2, dilation 1 and taps kw - pad in [-2, 3]: tap kw of
 * output ox reads cell 2*ox + c, c = kw - pad, which is E[ox + m] (c = 2m) or
 * O[ox + m] (c = 2m + 1), m in {-1, 0, 1}: the block's E or O vector, or it
 * shifted by one lane with the neighbouring block's.  Each input vector is
 * loaded once and split once.  Cells outside the row read as -inf, the max
 * rule's starting value, which never replaces anything, so they act as the
 * skipped padding.  h gets whole vectors (its row is padded to a multiple of
 * NL). */
#define MAX_HROW_S2 FC_POOL_NAME(fc_pool_max_hrow_s2)
FC_INLINE void MAX_HROW_S2(const fc_pool_params *p, const FC_REAL *FC_RESTRICT row,
                           fc_index K, fc_index pad, FC_REAL *FC_RESTRICT h)
{
    const fc_index W = p->in[2], OW = p->out[2];
    const LVEC ninf = (LVEC){0} - (FC_REAL)INFINITY;
    /* prev: lane l <- lane l - 1, lane 0 <- the previous block's last;
     * next: lane l <- lane l + 1, the last <- the next block's first */
    const LMASK prev = IOTA() + (NL - 1), next = IOTA() + 1;
    LVEC ep = ninf, op = ninf, ec, oc, en, on;
    LOAD_EO(row, W, 0, &ec, &oc);
    for (fc_index ox0 = 0; ox0 < OW; ox0 += NL) {
        LOAD_EO(row, W, ox0 + NL, &en, &on);
        LVEC m = ninf;
        for (fc_index kw = 0; kw < K; kw++) {
            const fc_index c = kw - pad;
            const int odd = (int)(c & 1);
            const fc_index sh = (c - odd) / 2;
            const LVEC pv = odd ? op : ep, cv = odd ? oc : ec, nv = odd ? on : en;
            const LVEC v = sh < 0   ? __builtin_shuffle(pv, cv, prev)
                           : sh > 0 ? __builtin_shuffle(cv, nv, next)
                                    : cv;
            m = kw == 0 ? v : VTAKE(m, v);
        }
        memcpy(h + ox0, &m, sizeof m);
        ep = ec;
        op = oc;
        ec = en;
        oc = on;
    }
}

/* MAX_HROW_S2 with the taps as compile-time constants for the common
 * windows (so its tap loop unrolls and picks its vectors statically). */
#define MAX_HROW_S2_BY_TAPS FC_POOL_NAME(fc_pool_max_hrow_s2_by_taps)
static void MAX_HROW_S2_BY_TAPS(const fc_pool_params *p, const FC_REAL *FC_RESTRICT row,
                                FC_REAL *FC_RESTRICT h)
{
    const fc_index K = p->k[2], pad = p->pad[2];
    if (K == 3 && pad == 1)
        MAX_HROW_S2(p, row, 3, 1, h);
    else if (K == 2 && pad == 0)
        MAX_HROW_S2(p, row, 2, 0, h);
    else if (K == 3 && pad == 0)
        MAX_HROW_S2(p, row, 3, 0, h);
    else
        MAX_HROW_S2(p, row, K, pad, h);
}

/* Value-only max pooling by rows, stride 2 along x (fc_pool_s2_rows_ok): the max
 * rule is associative in the scan order, so a window's maximum is the max
 * rule over its rows (kd, kh increasing) of each row's maximum along x (kw
 * increasing): the same bits as the scan over the window.  Each input row's
 * maxima along x (MAX_HROW_S2) are kept in the slot's cache, so windows
 * overlapping along y compute them once: the cache is one ring of R rows per
 * kd (R a power of two no smaller than the window's span along y), input row
 * y of tap kd in entry kd * R + y % R; the rows of one window never share an
 * entry. */
#define MAX_FWD_ROWS_CACHED FC_POOL_NAME(fc_max_pool_fwd_rows_cached)
static void MAX_FWD_ROWS_CACHED(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const POOL_JOB *j = ctx;
    const fc_pool_params *p = j->p;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index OWp = FC_POOL_CACHE_ROW(OW, NL), R = fc_pool_ring_rows(p);
    FC_REAL *cache = j->rows + (size_t)slot * 2 * FC_POOL_CACHED_ROWS * OWp;
    fc_index key[2 * FC_POOL_CACHED_ROWS];
    for (int s = 0; s < 2 * FC_POOL_CACHED_ROWS; s++)
        key[s] = -1;
    fc_rowpos q = fc_rowpos_at(r0, OD, OH);
    for (fc_index r = r0; r < r1; r++, fc_rowpos_next(&q)) {
        const ROW_TAPS rt = ROW_TAPS_OF(p, j->t, q.z, q.y);
        const FC_REAL *hs[FC_POOL_CACHED_ROWS];
        int nh = 0;
        for (fc_index kd = rt.kd0; kd < rt.kd1; kd++)
            for (fc_index kh = rt.kh0; kh < rt.kh1; kh++) {
                const fc_index y = rt.y0 + kh * p->dil[1];
                const fc_index want = (q.plane * D + rt.z0 + kd * p->dil[0]) * H + y;
                const fc_index at = kd * R + (y & (R - 1));
                FC_REAL *h = cache + (size_t)at * OWp;
                if (key[at] != want) {
                    MAX_HROW_S2_BY_TAPS(p, j->x + want * W, h);
                    key[at] = want;
                }
                hs[nh++] = h;
            }
        /* whole (padded) vectors of the rows, folded in registers */
        FC_REAL *FC_RESTRICT o = j->out + r * OW;
        for (fc_index ox0 = 0; ox0 < OW; ox0 += NL) {
            LVEC m, v;
            memcpy(&m, hs[0] + ox0, sizeof m);
            for (int i = 1; i < nh; i++) {
                memcpy(&v, hs[i] + ox0, sizeof v);
                m = VTAKE(m, v);
            }
            if (ox0 + NL <= OW || r * OW + ox0 + NL <= r1 * OW) {
                /* a whole vector; past the row it writes the start of this
                 * task's next rows, which their own stores rewrite later */
                memcpy(o + ox0, &m, sizeof m);
            } else { /* through a buffer, so that m stays in a register */
                FC_REAL tail[NL];
                memcpy(tail, &m, sizeof m);
                for (fc_index l = 0; l < OW - ox0; l++)
                    o[ox0 + l] = tail[l];
            }
        }
    }
}

/* Whether a value-only max pooling is the 2-D 3x3 / stride 2 / padding 1
 * window (ResNet's stem; floor mode, so every window's first row and column
 * lie in the input): MAX_FWD_3X3S2 computes it. */
#define MAX_IS_3X3S2 FC_POOL_NAME(fc_max_is_3x3s2)
FC_INLINE int MAX_IS_3X3S2(const fc_pool_params *p)
{
    return p->in[0] == 1 && p->k[0] == 1 && p->k[1] == 3 && p->k[2] == 3
           && p->stride[1] == 2 && p->stride[2] == 2 && p->pad[1] == 1 && p->pad[2] == 1
           && p->dil[1] == 1 && p->dil[2] == 1 && 2 * p->out[1] - 1 <= p->in[1]
           && 2 * p->out[2] - 1 <= p->in[2];
}

/* Output rows r0 .. r1 of a 3x3 / stride 2 / padding 1 max pooling
 * (MAX_IS_3X3S2).  Output row oy folds input rows 2oy-1, 2oy, 2oy+1, each
 * reduced along x first (taps 2ox-1, 2ox, 2ox+1: the odd cell of the block
 * before, then the even and odd cells of its own), in the scan order of
 * MAX_FWD_ROWS_CACHED, so the bits are the same.  Row 2oy+1's maxima are
 * kept in the slot's buffer as the next output row's first row; each block
 * of a row is reduced and folded in registers, with none of the cached path's
 * per-row bookkeeping. */
#define MAX_FWD_3X3S2 FC_POOL_NAME(fc_max_pool_fwd_3x3s2)
static void MAX_FWD_3X3S2(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const POOL_JOB *j = ctx;
    const fc_pool_params *p = j->p;
    const fc_index H = p->in[1], W = p->in[2], OH = p->out[1], OW = p->out[2];
    FC_REAL *kept = j->rows + (size_t)slot * FC_POOL_CACHE_ROW(OW, NL); /* row 2oy-1 */
    const LVEC ninf = (LVEC){0} - (FC_REAL)INFINITY;
    const LMASK prev = IOTA() + (NL - 1); /* lane l <- lane l - 1 of (a, b), lane 0 <- a's last */
    for (fc_index r = r0; r < r1; r++) {
        const fc_index plane = r / OH, oy = r % OH;
        const FC_REAL *x0 = j->x + plane * j->in_plane + 2 * oy * W; /* input row 2oy */
        const int top = oy > 0 && r > r0;     /* row 2oy-1 is in `kept` */
        const int fresh_top = oy > 0 && r == r0; /* ... or must be reduced here */
        const int bottom = 2 * oy + 1 < H;   /* row 2oy+1 exists */
        FC_REAL *FC_RESTRICT o = j->out + r * OW;
        LVEC opt = ninf, op0 = ninf, op1 = ninf; /* the previous blocks' odd cells */
        for (fc_index ox0 = 0; ox0 < OW; ox0 += NL) {
            LVEC e, od, m = ninf; /* oy == 0: replaced by row 2oy's maxima */
            if (top) {
                memcpy(&m, kept + ox0, sizeof m);
            } else if (fresh_top) {
                LOAD_EO(x0 - W, W, ox0, &e, &od);
                m = VTAKE(VTAKE(__builtin_shuffle(opt, od, prev), e), od);
                opt = od;
            }
            LOAD_EO(x0, W, ox0, &e, &od);
            const LVEC h0 = VTAKE(VTAKE(__builtin_shuffle(op0, od, prev), e), od);
            op0 = od;
            m = oy > 0 ? VTAKE(m, h0) : h0;
            if (bottom) {
                LOAD_EO(x0 + W, W, ox0, &e, &od);
                const LVEC h1 = VTAKE(VTAKE(__builtin_shuffle(op1, od, prev), e), od);
                op1 = od;
                m = VTAKE(m, h1);
                memcpy(kept + ox0, &h1, sizeof h1);
            }
            if (ox0 + NL <= OW || r * OW + ox0 + NL <= r1 * OW) {
                memcpy(o + ox0, &m, sizeof m); /* past the row: rewritten later */
            } else {
                FC_REAL tail[NL];
                memcpy(tail, &m, sizeof m);
                for (fc_index l = 0; l < OW - ox0; l++)
                    o[ox0 + l] = tail[l];
            }
        }
    }
}

/*
 * Max pooling forward: out[plane, oz, oy, ox] = max over the window's real
 * cells; idx (optional) gets the winners' offsets.  Tasks: output rows.
 */
int FC_POOL_KERNEL(fc_max_pool_fwd)(const fc_pool_params *p, const FC_REAL *x, FC_REAL *out,
                                    int64_t *idx)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    fc_pool_tables t;
    if (fc_pool_window_tables(p, 0, &t) != FC_OK)
        return FC_ENOMEM;
    POOL_JOB j = {.p = p, .t = &t, .x = x, .out = out, .idx = idx, .in_plane = in_plane};
    const fc_index rows = p->planes * p->out[0] * p->out[1];
    /* by rows when windows overlap along y (input rows are reused) */
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    size_t cache_bytes;
    if (!idx && MAX_IS_3X3S2(p)
        && !fc_mul_overflows((fc_index)nt * FC_POOL_CACHE_ROW(p->out[2], NL),
                             (fc_index)sizeof(FC_REAL), &cache_bytes)
        && (j.rows = fc_scratch_alloc(cache_bytes))) {
        fc_parallel_range(nt, rows, MAX_FWD_3X3S2, &j);
        fc_scratch_free(j.rows);
    } else if (!idx && fc_pool_s2_rows_ok(p)
        && !fc_mul_overflows((fc_index)nt * 2 * FC_POOL_CACHED_ROWS
                                 * FC_POOL_CACHE_ROW(p->out[2], NL),
                             (fc_index)sizeof(FC_REAL), &cache_bytes)
        && (j.rows = fc_scratch_alloc(cache_bytes))) {
        fc_parallel_range(nt, rows, MAX_FWD_ROWS_CACHED, &j);
        fc_scratch_free(j.rows);
    } else {
        fc_parallel_range(p->num_threads, rows, MAX_FWD_ROWS, &j);
    }
    fc_scratch_free(t.buf);
    return FC_OK;
}

/* Max backward, phase 2 (shared with adaptive max): per plane, zero grad_in and
 * add each gradient at its window's argmax, in increasing output order. */
#define MAX_ROUTE FC_POOL_NAME(fc_pool_max_route)
static void MAX_ROUTE(void *ctx, fc_index plane0, fc_index plane1, int slot)
{
    const POOL_JOB *j = ctx;
    for (fc_index plane = plane0; plane < plane1; plane++) {
        FC_REAL *gi = j->out + plane * j->in_plane;
        const FC_REAL *go = j->g + plane * j->out_plane;
        const int64_t *ip = j->idx + plane * j->out_plane;
        memset(gi, 0, j->in_plane * sizeof(FC_REAL));
        for (size_t o = 0; o < j->out_plane; o++) {
            /* as unsigned, a negative offset is huge: one compare checks both ends */
            if ((uint64_t)ip[o] >= (uint64_t)j->in_plane) {
                atomic_store_explicit(j->bad_index, 1, memory_order_relaxed);
                break;
            }
            gi[ip[o]] += go[o];
        }
    }
}

/* Per plane: each output row's argmaxes recomputed into the slot's rows, then
 * its gradients added at once. */
#define MAX_BWD_PLANES FC_POOL_NAME(fc_max_pool_bwd_planes)
static void MAX_BWD_PLANES(void *ctx, fc_index plane0, fc_index plane1, int slot)
{
    const POOL_JOB *j = ctx;
    const fc_pool_params *p = j->p;
    const fc_index OW = p->out[2], rows_per_plane = p->out[0] * p->out[1];
    int64_t *ix = j->idx + (size_t)slot * OW;
    FC_REAL *v = j->rows + (size_t)slot * OW;
    for (fc_index plane = plane0; plane < plane1; plane++) {
        const FC_REAL *xp = j->x + plane * j->in_plane;
        FC_REAL *gi = j->out + plane * j->in_plane;
        memset(gi, 0, j->in_plane * sizeof(FC_REAL));
        for (fc_index r = 0; r < rows_per_plane; r++) {
            const FC_REAL *go = j->g + plane * j->out_plane + r * OW;
            MAX_ROW(p, j->t, xp, r / p->out[1], r % p->out[1], v, ix);
            for (fc_index ox = 0; ox < OW; ox++)
                gi[ix[ox]] += go[ox];
        }
    }
}

/*
 * Max pooling backward, one plane per task: each output row's argmaxes are
 * recomputed from x into a per-thread row and its gradients added to grad_in
 * at once, in increasing output order (the order MAX_ROUTE uses), so no
 * full-size index array is written and read back.
 */
int FC_POOL_KERNEL(fc_max_pool_bwd)(const fc_pool_params *p, const FC_REAL *x,
                                    const FC_REAL *grad_out, FC_REAL *grad_in)
{
    size_t in_plane, out_plane, out_total, row_bytes;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    const fc_index OW = p->out[2];
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    /* per thread: OW values and OW int64 offsets */
    if (fc_mul_overflows((fc_index)nt * OW, (fc_index)(sizeof(FC_REAL) + sizeof(int64_t)),
                         &row_bytes))
        return FC_ENOMEM;
    fc_pool_tables t;
    if (fc_pool_window_tables(p, 0, &t) != FC_OK)
        return FC_ENOMEM;
    int64_t *idx = fc_scratch_alloc(row_bytes > 0 ? row_bytes : 1);
    if (!idx) {
        fc_scratch_free(t.buf);
        return FC_ENOMEM;
    }
    POOL_JOB j = {.p = p, .t = &t, .x = x, .g = grad_out, .out = grad_in, .idx = idx,
                  .rows = (FC_REAL *)(idx + (size_t)nt * OW), .in_plane = in_plane,
                  .out_plane = out_plane};
    fc_parallel_range(nt, p->planes, MAX_BWD_PLANES, &j);
    fc_scratch_free(idx);
    fc_scratch_free(t.buf);
    return FC_OK;
}

/* Max backward from the forward's indices: MAX_ROUTE over the planes. */
int FC_POOL_KERNEL(fc_max_pool_route)(const fc_pool_params *p, const int64_t *idx,
                                      const FC_REAL *grad_out, FC_REAL *grad_in)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    atomic_int bad_index = 0;
    POOL_JOB j = {.p = p, .g = grad_out, .out = grad_in, .idx = (int64_t *)idx,
                  .in_plane = in_plane, .out_plane = out_plane, .bad_index = &bad_index};
    fc_parallel_range(p->num_threads, p->planes, MAX_ROUTE, &j);
    return atomic_load(&bad_index) ? FC_ERANGE : FC_OK;
}

/* ------------------------------------------------------- avg pooling ---- */

/* The average divisors of one output plane, (FC_REAL)(product of the axis
 * factors), into div[out_plane] (computed once per call, not once per row).
 * When every one is a power of two, their reciprocals are stored instead and
 * 1 is returned: dividing by 2^k and multiplying by 2^-k give the same bits
 * (the exact results are equal, so is their rounding), and a multiply is
 * several times cheaper than a divide. */
#define AVG_DIVISORS FC_POOL_NAME(fc_pool_avg_divisors)
static int AVG_DIVISORS(const fc_pool_params *p, const fc_pool_tables *t, FC_REAL *div)
{
    const size_t n = (size_t)(p->out[0] * p->out[1] * p->out[2]);
    int pow2 = 1;
    FC_REAL *d = div;
    for (fc_index oz = 0; oz < p->out[0]; oz++)
        for (fc_index oy = 0; oy < p->out[1]; oy++) {
            const fc_index czy = t->cnt[0][oz] * t->cnt[1][oy];
            for (fc_index ox = 0; ox < p->out[2]; ox++) {
                const fc_index c = czy * t->cnt[2][ox];
                pow2 &= (c & (c - 1)) == 0;
                *d++ = (FC_REAL)c;
            }
        }
    if (pow2)
        for (size_t i = 0; i < n; i++)
            div[i] = (FC_REAL)1 / div[i];
    return pow2;
}

/* Whether every output of an average pooling is a full 2x2 window at stride
 * 2 of a 2-D plane (no padding): AVG_ROW_2X2 computes its rows. */
#define AVG_IS_2X2 FC_POOL_NAME(fc_avg_is_2x2)
FC_INLINE int AVG_IS_2X2(const fc_pool_params *p)
{
    return p->in[0] == 1 && p->k[0] == 1 && p->k[1] == 2 && p->k[2] == 2
           && p->stride[1] == 2 && p->stride[2] == 2 && p->pad[1] == 0 && p->pad[2] == 0
           && 2 * p->out[1] <= p->in[1] && 2 * p->out[2] <= p->in[2] && p->out[2] >= NL;
}

/* Output row oy of a 2x2 / stride 2 average (AVG_IS_2X2) from plane xp: each
 * block's two input rows are loaded as 2 vectors each and split into even and
 * odd cells in registers, summed in the (kh, kw) order of the general path and
 * scaled by the same divisors, so the bits are the same; the last block
 * overlaps its predecessor.  The general path's per-tap strided loads and
 * loop bookkeeping cost twice as much per output. */
#define AVG_ROW_2X2 FC_POOL_NAME(fc_avg_row_2x2)
static void AVG_ROW_2X2(const fc_pool_params *p, const FC_REAL *FC_RESTRICT xp, fc_index oy,
                        const FC_REAL *FC_RESTRICT div, int recip, FC_REAL *FC_RESTRICT o)
{
    const fc_index W = p->in[2], OW = p->out[2];
    const FC_REAL *r0 = xp + 2 * oy * W, *r1 = r0 + W;
    const LMASK ev = IOTA() * 2, od = ev + 1;
    for (fc_index ox = 0;; ox += NL) {
        if (ox + NL > OW)
            ox = OW - NL;
        LVEC a0, b0, a1, b1, d;
        memcpy(&a0, r0 + 2 * ox, sizeof a0);
        memcpy(&b0, r0 + 2 * ox + NL, sizeof b0);
        memcpy(&a1, r1 + 2 * ox, sizeof a1);
        memcpy(&b1, r1 + 2 * ox + NL, sizeof b1);
        LVEC s = __builtin_shuffle(a0, b0, ev);
        s += __builtin_shuffle(a0, b0, od);
        s += __builtin_shuffle(a1, b1, ev);
        s += __builtin_shuffle(a1, b1, od);
        memcpy(&d, div + ox, sizeof d);
        s = recip ? s * d : s / d;
        memcpy(o + ox, &s, sizeof s);
        if (ox + NL == OW)
            break;
    }
}

#define AVG_FWD_ROWS FC_POOL_NAME(fc_avg_pool_fwd_rows)
static void AVG_FWD_ROWS(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const POOL_JOB *j = ctx;
    const fc_pool_params *p = j->p;
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2], sw = p->stride[2];
    const int is_2x2 = AVG_IS_2X2(p);
    fc_rowpos q = fc_rowpos_at(r0, OD, OH);
    for (fc_index row = r0; row < r1; row++, fc_rowpos_next(&q)) {
        const fc_index plane = q.plane, oz = q.z, oy = q.y;
        const FC_REAL *xp = j->x + plane * j->in_plane;
        FC_REAL *o = j->out + row * OW;
        const FC_REAL *div = j->div + (oz * OH + oy) * OW;
        const int recip = j->div_recip;
        if (is_2x2) {
            AVG_ROW_2X2(p, xp, oy, div, recip, o);
            continue;
        }
        const ROW_TAPS r = ROW_TAPS_OF(p, j->t, oz, oy);
        fc_index done;
#define CALL_(S) done = SUM_BLOCKS(p, &r, xp, S, div, recip, o)
        FC_POOL_BY_STRIDE(sw, CALL_);
#undef CALL_
        for (fc_index ox = 0; ox < r.xa; ox++)
            o[ox] = AVG_CELL(p, &r, xp, ox, div, recip);
        for (fc_index ox = done; ox < OW; ox++)
            o[ox] = AVG_CELL(p, &r, xp, ox, div, recip);
    }
}

/*
 * Average pooling forward: out = window sum (real cells, (z, y, x) order) divided
 * by the product of the per-axis divisor factors.  Tasks: output rows.
 */
int FC_POOL_KERNEL(fc_avg_pool_fwd)(const fc_pool_params *p, const FC_REAL *x, FC_REAL *out)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    fc_pool_tables t;
    if (fc_pool_window_tables(p, 1, &t) != FC_OK)
        return FC_ENOMEM;
    FC_REAL *div = fc_scratch_alloc(out_plane * sizeof(FC_REAL));
    if (!div) {
        fc_scratch_free(t.buf);
        return FC_ENOMEM;
    }
    POOL_JOB j = {.p = p, .t = &t, .x = x, .out = out, .div = div,
                  .div_recip = AVG_DIVISORS(p, &t, div), .in_plane = in_plane};
    fc_parallel_range(p->num_threads, p->planes * p->out[0] * p->out[1], AVG_FWD_ROWS, &j);
    fc_scratch_free(div);
    fc_scratch_free(t.buf);
    return FC_OK;
}

/* Average pooling backward, input rows r0..r1 (see the kernel below). */
#define AVG_BWD_ROWS FC_POOL_NAME(fc_avg_pool_bwd_rows)
static void AVG_BWD_ROWS(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const POOL_JOB *j = ctx;
    const fc_pool_params *p = j->p;
    const fc_pool_tables t = *j->t;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index sw = p->stride[2], pw = p->pad[2], KW = p->k[2];
    FC_REAL *q = j->rows + (size_t)slot * OW;
    fc_rowpos at = fc_rowpos_at(r0, D, H);
    for (fc_index r = r0; r < r1; r++, fc_rowpos_next(&at)) {
        const fc_index plane = at.plane, iz = at.z, iy = at.y;
        const FC_REAL *go = j->g + plane * j->out_plane;
        FC_REAL *acc = j->out + r * W;
        fc_index zlo, zhi, ylo, yhi;
        fc_pool_windows_of(iz, p->k[0], p->stride[0], p->pad[0], OD, &zlo, &zhi);
        fc_pool_windows_of(iy, p->k[1], p->stride[1], p->pad[1], OH, &ylo, &yhi);
        for (fc_index ix = 0; ix < W; ix++)
            acc[ix] = 0;
        for (fc_index oz = zlo; oz < zhi; oz++)
            for (fc_index oy = ylo; oy < yhi; oy++) {
                const fc_index orow = (oz * OH + oy) * OW;
                const FC_REAL *g = go + orow, *div = j->div + orow;
                if (j->div_recip)
                    for (fc_index ox = 0; ox < OW; ox++)
                        q[ox] = g[ox] * div[ox];
                else
                    for (fc_index ox = 0; ox < OW; ox++)
                        q[ox] = g[ox] / div[ox];
                for (fc_index kw = KW - 1; kw >= 0; kw--) {
                    const fc_index lo = t.lo[kw], n = t.hi[kw] - lo;
                    if (n <= 0)
                        continue;
                    FC_REAL *dst = acc + lo * sw + kw - pw;
#define CALL_(S) ADD_TAP(q + lo, S, dst, n)
                    FC_POOL_BY_STRIDE(sw, CALL_);
#undef CALL_
                }
            }
    }
}

/*
 * Average pooling backward, a gather: input row (plane, iz, iy) sums, over the
 * output rows (oz, oy) whose windows hold it (increasing), the row
 * q[ox] = grad_out[oz, oy, ox] / divisor scattered through the taps, kw
 * decreasing, so each cell adds its windows in increasing ox.
 */
int FC_POOL_KERNEL(fc_avg_pool_bwd)(const fc_pool_params *p, const FC_REAL *grad_out,
                                    FC_REAL *grad_in)
{
    size_t in_plane, out_plane, out_total, q_bytes;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    /* per thread: one row of q; then the plane's divisors */
    if (fc_mul_overflows((fc_index)nt * p->out[2] + (fc_index)out_plane,
                         (fc_index)sizeof(FC_REAL), &q_bytes))
        return FC_ENOMEM;
    fc_pool_tables t;
    if (fc_pool_window_tables(p, 1, &t) != FC_OK)
        return FC_ENOMEM;
    FC_REAL *qbuf = fc_scratch_alloc(q_bytes > 0 ? q_bytes : 1);
    if (!qbuf) {
        fc_scratch_free(t.buf);
        return FC_ENOMEM;
    }
    FC_REAL *div = qbuf + (size_t)nt * p->out[2];
    POOL_JOB j = {.p = p, .t = &t, .g = grad_out, .out = grad_in, .rows = qbuf, .div = div,
                  .div_recip = AVG_DIVISORS(p, &t, div), .out_plane = out_plane};
    fc_parallel_range(nt, p->planes * p->in[0] * p->in[1], AVG_BWD_ROWS, &j);
    fc_scratch_free(qbuf);
    fc_scratch_free(t.buf);
    return FC_OK;
}

/* -------------------------------------------------- adaptive pooling ---- */

#define ADAPTIVE_AVG_FWD_ROWS FC_POOL_NAME(fc_adaptive_avg_pool_fwd_rows)
static void ADAPTIVE_AVG_FWD_ROWS(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const POOL_JOB *j = ctx;
    const fc_pool_params *p = j->p;
    const fc_pool_tables t = *j->t;
    const fc_index H = p->in[1], W = p->in[2];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index *xs = t.bs[2], *xe = t.be[2];
    fc_rowpos q = fc_rowpos_at(r0, OD, OH);
    for (fc_index r = r0; r < r1; r++, fc_rowpos_next(&q)) {
        const fc_index plane = q.plane, oz = q.z, oy = q.y;
        const FC_REAL *xp = j->x + plane * j->in_plane;
        FC_REAL *acc = j->out + r * OW;
        const fc_index zs = t.bs[0][oz], ze = t.be[0][oz], ys = t.bs[1][oy], ye = t.be[1][oy];
        for (fc_index ox = 0; ox < OW; ox++)
            acc[ox] = 0;
        for (fc_index iz = zs; iz < ze; iz++)
            for (fc_index iy = ys; iy < ye; iy++) {
                const FC_REAL *row = xp + (iz * H + iy) * W;
                for (fc_index ox = 0; ox < OW; ox++) {
                    FC_REAL s = acc[ox];
                    for (fc_index ix = xs[ox]; ix < xe[ox]; ix++)
                        s += row[ix];
                    acc[ox] = s;
                }
            }
        for (fc_index ox = 0; ox < OW; ox++)
            acc[ox] = acc[ox] / (FC_REAL)(ze - zs) / (FC_REAL)(ye - ys)
                      / (FC_REAL)(xe[ox] - xs[ox]);
    }
}

/*
 * Adaptive average forward: output row (plane, oz, oy) sums its bins' rows
 * (z, y increasing), each output over its bin's cells x increasing, then
 * divides by the bin sizes one axis at a time.
 */
int FC_POOL_KERNEL(fc_adaptive_avg_pool_fwd)(const fc_pool_params *p, const FC_REAL *x,
                                             FC_REAL *out)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    fc_pool_tables t;
    int status = fc_pool_bin_tables(p, 0, &t);
    if (status != FC_OK)
        return status;
    POOL_JOB j = {.p = p, .t = &t, .x = x, .out = out, .in_plane = in_plane};
    fc_parallel_range(p->num_threads, p->planes * p->out[0] * p->out[1], ADAPTIVE_AVG_FWD_ROWS,
                      &j);
    fc_scratch_free(t.buf);
    return FC_OK;
}

#define ADAPTIVE_AVG_BWD_ROWS FC_POOL_NAME(fc_adaptive_avg_pool_bwd_rows)
static void ADAPTIVE_AVG_BWD_ROWS(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const POOL_JOB *j = ctx;
    const fc_pool_params *p = j->p;
    const fc_pool_tables t = *j->t;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OH = p->out[1], OW = p->out[2];
    const fc_index *xs = t.bs[2], *xe = t.be[2];
    fc_rowpos q = fc_rowpos_at(r0, D, H);
    for (fc_index r = r0; r < r1; r++, fc_rowpos_next(&q)) {
        const fc_index plane = q.plane, iz = q.z, iy = q.y;
        const FC_REAL *go = j->g + plane * j->out_plane;
        FC_REAL *acc = j->out + r * W;
        for (fc_index ix = 0; ix < W; ix++)
            acc[ix] = 0;
        for (fc_index oz = t.blo[0][iz]; oz < t.bhi[0][iz]; oz++) {
            const FC_REAL kd = (FC_REAL)(t.be[0][oz] - t.bs[0][oz]);
            for (fc_index oy = t.blo[1][iy]; oy < t.bhi[1][iy]; oy++) {
                const FC_REAL kh = (FC_REAL)(t.be[1][oy] - t.bs[1][oy]);
                const FC_REAL *g = go + (oz * OH + oy) * OW;
                for (fc_index ox = 0; ox < OW; ox++) {
                    const FC_REAL q = g[ox] / kd / kh / (FC_REAL)(xe[ox] - xs[ox]);
                    for (fc_index ix = xs[ox]; ix < xe[ox]; ix++)
                        acc[ix] += q;
                }
            }
        }
    }
}

/*
 * Adaptive average backward, a gather: input row (plane, iz, iy) adds, for the
 * bins (oz, oy) holding it (increasing) and every ox in order,
 * grad_out / bin_d / bin_h / bin_w to the cells of bin ox.
 */
int FC_POOL_KERNEL(fc_adaptive_avg_pool_bwd)(const fc_pool_params *p, const FC_REAL *grad_out,
                                             FC_REAL *grad_in)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    fc_pool_tables t;
    int status = fc_pool_bin_tables(p, 1, &t);
    if (status != FC_OK)
        return status;
    POOL_JOB j = {.p = p, .t = &t, .g = grad_out, .out = grad_in, .out_plane = out_plane};
    fc_parallel_range(p->num_threads, p->planes * p->in[0] * p->in[1], ADAPTIVE_AVG_BWD_ROWS,
                      &j);
    fc_scratch_free(t.buf);
    return FC_OK;
}

/* Adaptive max, output row (oz, oy) of plane xp: vals and (optional) idx. */
#define ADAPTIVE_MAX_ROW FC_POOL_NAME(fc_pool_adaptive_max_row)
static void ADAPTIVE_MAX_ROW(const fc_pool_params *p, const fc_pool_tables *t,
                             const FC_REAL *FC_RESTRICT xp, fc_index oz, fc_index oy,
                             FC_REAL *FC_RESTRICT vals, int64_t *FC_RESTRICT idx)
{
    const fc_index H = p->in[1], W = p->in[2], OW = p->out[2];
    const fc_index zs = t->bs[0][oz], ze = t->be[0][oz], ys = t->bs[1][oy], ye = t->be[1][oy];
    const fc_index *xs = t->bs[2], *xe = t->be[2];
    for (fc_index ox = 0; ox < OW; ox++)
        vals[ox] = -(FC_REAL)INFINITY;
    if (idx)
        for (fc_index ox = 0; ox < OW; ox++)
            idx[ox] = (zs * H + ys) * W + xs[ox];
    for (fc_index iz = zs; iz < ze; iz++)
        for (fc_index iy = ys; iy < ye; iy++) {
            const fc_index rowoff = (iz * H + iy) * W;
            const FC_REAL *row = xp + rowoff;
            for (fc_index ox = 0; ox < OW; ox++) {
                FC_REAL m = vals[ox];
                fc_index best = -1;
                for (fc_index ix = xs[ox]; ix < xe[ox]; ix++)
                    if (TAKES(row[ix], m)) {
                        m = row[ix];
                        best = ix;
                    }
                vals[ox] = m;
                if (idx && best >= 0)
                    idx[ox] = rowoff + best;
            }
        }
}

/* Output rows r0..r1: values into out (or, when out is NULL, the slot's row) and
 * indices into idx when it is not NULL. */
#define ADAPTIVE_MAX_ROWS FC_POOL_NAME(fc_adaptive_max_pool_rows)
static void ADAPTIVE_MAX_ROWS(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const POOL_JOB *j = ctx;
    const fc_index OD = j->p->out[0], OH = j->p->out[1], OW = j->p->out[2];
    fc_rowpos q = fc_rowpos_at(r0, OD, OH);
    for (fc_index r = r0; r < r1; r++, fc_rowpos_next(&q)) {
        const fc_index plane = q.plane, oz = q.z, oy = q.y;
        ADAPTIVE_MAX_ROW(j->p, j->t, j->x + plane * j->in_plane, oz, oy,
                         j->out ? j->out + r * OW : j->rows + (size_t)slot * OW,
                         j->idx ? j->idx + r * OW : NULL);
    }
}

int FC_POOL_KERNEL(fc_adaptive_max_pool_fwd)(const fc_pool_params *p, const FC_REAL *x,
                                             FC_REAL *out, int64_t *idx)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    fc_pool_tables t;
    int status = fc_pool_bin_tables(p, 0, &t);
    if (status != FC_OK)
        return status;
    POOL_JOB j = {.p = p, .t = &t, .x = x, .out = out, .idx = idx, .in_plane = in_plane};
    fc_parallel_range(p->num_threads, p->planes * p->out[0] * p->out[1], ADAPTIVE_MAX_ROWS, &j);
    fc_scratch_free(t.buf);
    return FC_OK;
}

int FC_POOL_KERNEL(fc_adaptive_max_pool_bwd)(const fc_pool_params *p, const FC_REAL *x,
                                             const FC_REAL *grad_out, FC_REAL *grad_in)
{
    size_t in_plane, out_plane, out_total, idx_bytes, row_bytes;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    if (fc_mul_overflows((fc_index)out_total, (fc_index)sizeof(int64_t), &idx_bytes)
        || fc_mul_overflows((fc_index)nt * p->out[2], (fc_index)sizeof(FC_REAL), &row_bytes))
        return FC_ENOMEM;
    fc_pool_tables t;
    int status = fc_pool_bin_tables(p, 0, &t);
    if (status != FC_OK)
        return status;
    int64_t *idx = fc_scratch_alloc(idx_bytes > 0 ? idx_bytes : 1);
    FC_REAL *vals = fc_scratch_alloc(row_bytes > 0 ? row_bytes : 1);
    if (!idx || !vals) {
        fc_scratch_free(idx);
        fc_scratch_free(vals);
        fc_scratch_free(t.buf);
        return FC_ENOMEM;
    }
    POOL_JOB j = {.p = p, .t = &t, .x = x, .g = grad_out, .idx = idx, .rows = vals,
                  .in_plane = in_plane, .out_plane = out_plane};
    fc_parallel_range(nt, p->planes * p->out[0] * p->out[1], ADAPTIVE_MAX_ROWS, &j);
    j.out = grad_in;
    fc_parallel_range(nt, p->planes, MAX_ROUTE, &j);
    fc_scratch_free(vals);
    fc_scratch_free(idx);
    fc_scratch_free(t.buf);
    return FC_OK;
}

/* ---------------------------------------------------- global pooling ---- */

/* Sum of x[0..n): FC_POOL_LANES = 16 interleaved partial sums, halved pairwise
 * (lane j += lane j + w for w = 8, 4, 2, 1), then the tail in order, so every
 * SIMD path adds in the same order.  The sums stay in the path's native
 * vectors and are split with shuffles: splitting through memory (memcpy) made
 * GCC keep the running sum on the stack, a store and reload per step. */
#define LANE_SUM FC_POOL_NAME(fc_pool_lane_sum)
#define LV(n) FC_CAT(FC_POOL_NAME(fc_pool_lanes), n)
typedef FC_REAL LV(8) __attribute__((vector_size(8 * FC_REAL_BYTES)));
typedef FC_REAL LV(4) __attribute__((vector_size(4 * FC_REAL_BYTES)));
typedef FC_REAL LV(2) __attribute__((vector_size(2 * FC_REAL_BYTES)));
_Static_assert(FC_POOL_LANES == 16, "LANE_SUM halves 16 lanes");
#define LANE_NV (FC_POOL_LANES / NL)
#define LANES_PER_VECTOR (FC_VBYTES / FC_REAL_BYTES) /* NL, for #if */
/* the lower half of v plus its upper half, for v of 16, 8 and 4 lanes */
#define HALVE16(v) (__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) + \
                    __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15))
#define HALVE8(v) (__builtin_shufflevector(v, v, 0, 1, 2, 3) + \
                   __builtin_shufflevector(v, v, 4, 5, 6, 7))
#define HALVE4(v) (__builtin_shufflevector(v, v, 0, 1) + __builtin_shufflevector(v, v, 2, 3))
static FC_REAL LANE_SUM(const FC_REAL *FC_RESTRICT x, size_t n)
{
    LVEC acc[LANE_NV];
    for (int k = 0; k < LANE_NV; k++)
        acc[k] = (LVEC){0};
    size_t i = 0;
    for (; i + FC_POOL_LANES <= n; i += FC_POOL_LANES)
        for (int k = 0; k < LANE_NV; k++) {
            LVEC v;
            memcpy(&v, x + i + (size_t)k * NL, sizeof v);
            acc[k] += v;
        }
    /* the halvings with w >= NL add whole vectors; the rest split acc[0] */
    for (int w = LANE_NV / 2; w >= 1; w /= 2)
        for (int k = 0; k < w; k++)
            acc[k] += acc[k + w];
#if LANES_PER_VECTOR == 16
    const LV(8) a8 = HALVE16(acc[0]);
#elif LANES_PER_VECTOR == 8
    const LV(8) a8 = acc[0];
#endif
#if LANES_PER_VECTOR >= 8
    const LV(4) a4 = HALVE8(a8);
#elif LANES_PER_VECTOR == 4
    const LV(4) a4 = acc[0];
#endif
#if LANES_PER_VECTOR >= 4
    const LV(2) a2 = HALVE4(a4);
#else
    const LV(2) a2 = acc[0];
#endif
    FC_REAL s = a2[0] + a2[1];
    for (; i < n; i++)
        s += x[i];
    return s;
}
#undef HALVE16
#undef HALVE8
#undef HALVE4
#undef LANES_PER_VECTOR

/* Maximum of x[0..n) under the max rule (NaN if there is one).  The select does
 * not auto-vectorise, so the FC_POOL_LANES lanes are written as native vectors
 * (lane j still takes elements j, j + FC_POOL_LANES, ... on every path); lanes
 * are combined pairwise in a fixed order, then the tail in order. */
#define LANE_MAX FC_POOL_NAME(fc_pool_lane_max)
static FC_REAL LANE_MAX(const FC_REAL *FC_RESTRICT x, size_t n)
{
    LVEC acc[LANE_NV];
    for (int k = 0; k < LANE_NV; k++)
        acc[k] = (LVEC){0} - (FC_REAL)INFINITY;
    size_t i = 0;
    for (; i + FC_POOL_LANES <= n; i += FC_POOL_LANES)
        for (int k = 0; k < LANE_NV; k++) {
            LVEC v;
            memcpy(&v, x + i + (size_t)k * NL, sizeof v);
            LMASK t = (v > acc[k]) | (v != v);
            acc[k] = (LVEC)(((LMASK)v & t) | ((LMASK)acc[k] & ~t));
        }
    FC_REAL lanes[FC_POOL_LANES];
    memcpy(lanes, acc, sizeof lanes);
    for (int w = FC_POOL_LANES / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; j++)
            lanes[j] = TAKES(lanes[j + w], lanes[j]) ? lanes[j + w] : lanes[j];
    FC_REAL m = lanes[0];
    for (; i < n; i++)
        m = TAKES(x[i], m) ? x[i] : m;
    return m;
}

#define GLOBAL_AVG_FWD_PLANES FC_POOL_NAME(fc_global_avg_pool_fwd_planes)
static void GLOBAL_AVG_FWD_PLANES(void *ctx, fc_index plane0, fc_index plane1, int slot)
{
    const POOL_JOB *j = ctx;
    for (fc_index plane = plane0; plane < plane1; plane++)
        j->out[plane] = LANE_SUM(j->x + plane * j->in_plane, j->in_plane) / (FC_REAL)j->in_plane;
}

#define GLOBAL_AVG_BWD_PLANES FC_POOL_NAME(fc_global_avg_pool_bwd_planes)
static void GLOBAL_AVG_BWD_PLANES(void *ctx, fc_index plane0, fc_index plane1, int slot)
{
    const POOL_JOB *j = ctx;
    for (fc_index plane = plane0; plane < plane1; plane++) {
        const FC_REAL g = j->g[plane] / (FC_REAL)j->in_plane;
        FC_REAL *gi = j->out + plane * j->in_plane;
        for (size_t i = 0; i < j->in_plane; i++)
            gi[i] = g;
    }
}

#define GLOBAL_MAX_FWD_PLANES FC_POOL_NAME(fc_global_max_pool_fwd_planes)
static void GLOBAL_MAX_FWD_PLANES(void *ctx, fc_index plane0, fc_index plane1, int slot)
{
    const POOL_JOB *j = ctx;
    for (fc_index plane = plane0; plane < plane1; plane++)
        j->out[plane] = LANE_MAX(j->x + plane * j->in_plane, j->in_plane);
}

/*
 * Global max backward: the cell adaptive max pooling to size 1 would pick is
 * the last NaN when the plane holds one, else the first cell equal to the
 * maximum (cell 0 when every cell is -inf, which is also PyTorch's choice).
 */
#define GLOBAL_MAX_BWD_PLANES FC_POOL_NAME(fc_global_max_pool_bwd_planes)
static void GLOBAL_MAX_BWD_PLANES(void *ctx, fc_index plane0, fc_index plane1, int slot)
{
    const POOL_JOB *j = ctx;
    const size_t in_plane = j->in_plane;
    for (fc_index plane = plane0; plane < plane1; plane++) {
        const FC_REAL *xp = j->x + plane * in_plane;
        FC_REAL *gi = j->out + plane * in_plane;
        const FC_REAL m = LANE_MAX(xp, in_plane);
        size_t at = 0;
        if (m != m) {
            for (at = in_plane; at-- > 0;)
                if (xp[at] != xp[at])
                    break;
        } else {
            while (at < in_plane && xp[at] != m)
                at++;
        }
        memset(gi, 0, in_plane * sizeof(FC_REAL));
        gi[at] = j->g[plane];
    }
}

/* A global pooling kernel: fn over the planes. */
#define GLOBAL_RUN FC_POOL_NAME(fc_global_pool_run)
static int GLOBAL_RUN(const fc_pool_params *p, const FC_REAL *x, const FC_REAL *g, FC_REAL *out,
                      fc_range_fn fn)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    POOL_JOB j = {.p = p, .x = x, .g = g, .out = out, .in_plane = in_plane};
    fc_parallel_range(p->num_threads, p->planes, fn, &j);
    return FC_OK;
}

int FC_POOL_KERNEL(fc_global_avg_pool_fwd)(const fc_pool_params *p, const FC_REAL *x,
                                           FC_REAL *out)
{
    return GLOBAL_RUN(p, x, NULL, out, GLOBAL_AVG_FWD_PLANES);
}

int FC_POOL_KERNEL(fc_global_avg_pool_bwd)(const fc_pool_params *p, const FC_REAL *grad_out,
                                           FC_REAL *grad_in)
{
    return GLOBAL_RUN(p, NULL, grad_out, grad_in, GLOBAL_AVG_BWD_PLANES);
}

int FC_POOL_KERNEL(fc_global_max_pool_fwd)(const fc_pool_params *p, const FC_REAL *x,
                                           FC_REAL *out)
{
    return GLOBAL_RUN(p, x, NULL, out, GLOBAL_MAX_FWD_PLANES);
}

int FC_POOL_KERNEL(fc_global_max_pool_bwd)(const fc_pool_params *p, const FC_REAL *x,
                                           const FC_REAL *grad_out, FC_REAL *grad_in)
{
    return GLOBAL_RUN(p, x, grad_out, grad_in, GLOBAL_MAX_BWD_PLANES);
}

#undef POOL_JOB
#undef MAX_FWD_ROWS
#undef MAX_FWD_ROWS_CACHED
#undef MAX_HROW_S2
#undef MAX_HROW_S2_BY_TAPS
#undef LOAD_EO
#undef LOAD_OR_NINF
#undef IOTA
#undef VTAKE
#undef MAX_BWD_PLANES
#undef AVG_FWD_ROWS
#undef AVG_DIVISORS
#undef AVG_BWD_ROWS
#undef ADAPTIVE_AVG_FWD_ROWS
#undef ADAPTIVE_AVG_BWD_ROWS
#undef ADAPTIVE_MAX_ROWS
#undef GLOBAL_AVG_FWD_PLANES
#undef GLOBAL_AVG_BWD_PLANES
#undef GLOBAL_MAX_FWD_PLANES
#undef GLOBAL_MAX_BWD_PLANES
#undef GLOBAL_RUN
#undef FC_POOL_NAME
#undef FC_POOL_KERNEL
#undef TAKES
#undef NL
#undef LOAD_STRIDED
#undef ROW_TAPS
#undef ROW_TAPS_OF
#undef ROW_OFF
#undef MAX_BLOCK
#undef SUM_BLOCK
#undef MAX_BLOCKS
#undef MAX_PAIR_BLOCKS2
#undef SUM_BLOCKS
#undef SUM_BLOCK2
#undef MAX_CELL
#undef AVG_CELL
#undef ADD_TAP
#undef MAX_ROW
#undef MAX_ROUTE
#undef ADAPTIVE_MAX_ROW
#undef LANE_SUM
#undef LV
#undef LANE_MAX
#undef LVEC
#undef LMASK
#undef LANE_NV
#undef FC_POOL_BY_STRIDE
