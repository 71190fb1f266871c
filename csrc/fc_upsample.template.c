/*
 * fc_upsample.template.c - resampling forward and backward, one dtype.
 * Included by fc_upsample.c with FC_REAL, FC_DT and FC_FLOOR (floor for FC_REAL).
 *
 * Forward, per output row (plane, oz, oy), with axis taps (iz_a, wz_a),
 * (iy_b, wy_b), (ix_c, wx_c):
 *     out[oz, oy, ox] = sum_a sum_b (wz_a wy_b) * sum_c wx_c x[iz_a, iy_b, ix_c]
 * (nearest: a single tap per axis with weight 1, i.e. a copy: an output row
 * reading the same input row as the one above copies that row, and an integer
 * factor along x repeats each input cell, without the index table).  The sum
 * over c is computed once per input row and task (UPS_ROW's cache), not once
 * per output row reading it; on an x2 axis (UPS_X2_OF) from constant weights.
 * Backward, per input row (plane, iz, iy), over the inverted lists:
 *     gin[iz, iy, ix] = sum_{(oz, wz) -> iz} sum_{(oy, wy) -> iy}
 *                       (wz wy) * sum_{(ox, wx) -> ix} wx g[oz, oy, ox]
 * each list in increasing output index, so the order of every sum is fixed.
 */
#ifndef FC_REAL
#error "FC_REAL must be defined before including this template"
#endif

#define UPS_TABLES FC_CAT(fc_upsample_tables_, FC_DT)
#define UPS_TABLES_FREE FC_CAT(fc_upsample_tables_free_, FC_DT)
#define UPS_TABLES_BUILD FC_CAT(fc_upsample_tables_build_, FC_DT)
#define UPS_LINEAR_FILL FC_CAT(fc_upsample_linear_fill_, FC_DT)
#define UPS_JOB FC_CAT(fc_upsample_job_, FC_DT)
#define UPS_FWD_ROWS FC_CAT(fc_upsample_fwd_rows_, FC_DT)
#define UPS_BWD_ROWS FC_CAT(fc_upsample_bwd_rows_, FC_DT)
#define UPS_X2_OF FC_CAT(fc_upsample_x2_of_, FC_DT)
#define UPS_HROW FC_CAT(fc_upsample_hrow_, FC_DT)
#define UPS_CACHE FC_CAT(fc_upsample_cache_, FC_DT)
#define UPS_ROW FC_CAT(fc_upsample_row_, FC_DT)
#define UPS_NEAREST_ROWS FC_CAT(fc_upsample_nearest_rows_, FC_DT)

typedef struct {
    fc_upsample_axis ax[3];
    FC_REAL *w[3]; /* [out * taps] tap weights (linear only) */
} UPS_TABLES;

static void UPS_TABLES_FREE(UPS_TABLES *t)
{
    for (int d = 0; d < 3; d++) {
        fc_upsample_axis_free(&t->ax[d]);
        fc_scratch_free(t->w[d]);
        t->w[d] = NULL;
    }
}

/* The linear taps of one axis (see fc_upsample.h for the rule). */
static void UPS_LINEAR_FILL(fc_upsample_axis *a, FC_REAL *w, double scale, int align_corners)
{
    const fc_index n_in = a->n_in, n_out = a->n_out;
    if (a->taps == 1) { /* out == in: a copy */
        for (fc_index o = 0; o < n_out; o++) {
            a->idx[o] = o;
            w[o] = (FC_REAL)1;
        }
        return;
    }
    FC_REAL ratio;
    if (align_corners)
        ratio = n_out > 1 ? (FC_REAL)(n_in - 1) / (FC_REAL)(n_out - 1) : (FC_REAL)0;
    else
        ratio = scale > 0.0 ? (FC_REAL)(1.0 / scale) : (FC_REAL)n_in / (FC_REAL)n_out;
    for (fc_index o = 0; o < n_out; o++) {
        FC_REAL src;
        if (align_corners) {
            src = ratio * (FC_REAL)o;
        } else {
            src = ratio * ((FC_REAL)o + (FC_REAL)0.5) - (FC_REAL)0.5;
            if (src < (FC_REAL)0)
                src = (FC_REAL)0;
        }
        fc_index i0 = (fc_index)FC_FLOOR(src);
        if (i0 > n_in - 1)
            i0 = n_in - 1;
        FC_REAL w1 = src - (FC_REAL)i0;
        w1 = w1 < (FC_REAL)0 ? (FC_REAL)0 : (w1 > (FC_REAL)1 ? (FC_REAL)1 : w1);
        a->idx[2 * o] = i0;
        a->idx[2 * o + 1] = i0 < n_in - 1 ? i0 + 1 : i0;
        w[2 * o] = (FC_REAL)1 - w1;
        w[2 * o + 1] = w1;
    }
}

/* Index tables (and weights, and with `inverse` the per-input lists) of all
 * three axes.  Returns FC_OK or FC_ENOMEM (then nothing is left allocated). */
static int UPS_TABLES_BUILD(const fc_upsample_params *p, UPS_TABLES *t, int inverse)
{
    const int linear = p->mode == FC_UPSAMPLE_LINEAR;
    memset(t, 0, sizeof(*t));
    for (int d = 0; d < 3; d++) {
        const fc_index taps = linear && p->out[d] != p->in[d] ? 2 : 1;
        if (fc_upsample_axis_alloc(&t->ax[d], p->in[d], p->out[d], taps, inverse)) {
            UPS_TABLES_FREE(t);
            return FC_ENOMEM;
        }
        if (linear) {
            t->w[d] = fc_scratch_alloc((size_t)(p->out[d] * taps) * sizeof(FC_REAL));
            if (!t->w[d]) {
                UPS_TABLES_FREE(t);
                return FC_ENOMEM;
            }
            UPS_LINEAR_FILL(&t->ax[d], t->w[d], p->scale[d], p->align_corners);
        } else {
            fc_upsample_nearest_fill(&t->ax[d], p->scale[d]);
        }
        if (inverse)
            fc_upsample_build_inverse(&t->ax[d]);
    }
    return FC_OK;
}

/* What a task reads: the tables, the source and the destination; rep > 0 when
 * nearest output column ox reads input column ox / rep (an integer factor);
 * x2 when the x axis is a linear x2 (UPS_X2_OF); rows: the per-thread row
 * caches (linear forward). */
typedef struct {
    const fc_upsample_params *p;
    const UPS_TABLES *t;
    const FC_REAL *src;
    FC_REAL *dst;
    fc_index rep;
    int x2;
    FC_REAL *rows;
} UPS_JOB;

/* A linear axis is an "x2" axis when out == 2 * in >= 4 and every output but
 * the first and the last reads the pattern of align_corners=False with scale 2:
 *   o = 2i:      (w_a x[i-1] + w_b x[i])      w_a = 1/4, w_b = 3/4
 *   o = 2i + 1:  (w_b x[i]   + w_a x[i+1])
 * Checked on the tables themselves, so the fast loop computes the same
 * products and sums as the table-driven one, bit for bit. */
static int UPS_X2_OF(const fc_upsample_axis *a, const FC_REAL *w)
{
    const fc_index n = a->n_in;
    if (a->taps != 2 || n < 2 || a->n_out != 2 * n)
        return 0;
    const FC_REAL wa = w[4], wb = w[5];
    for (fc_index i = 1; i < n; i++) {
        const fc_index e = 2 * (2 * i), o = e + 2;
        if (a->idx[e] != i - 1 || a->idx[e + 1] != i || w[e] != wa || w[e + 1] != wb)
            return 0;
        if (i < n - 1 && (a->idx[o] != i || a->idx[o + 1] != i + 1 || w[o] != wb
                          || w[o + 1] != wa))
            return 0;
    }
    return 1;
}

/* One input row resampled along x: h[ox] = sum_c wx_c src[ix_c].  On an x2
 * axis the interior outputs are written two at a time from constant weights
 * (a loop the compiler vectorises), the two end outputs from the tables. */
static void UPS_HROW(const UPS_JOB *j, const FC_REAL *FC_RESTRICT src, FC_REAL *FC_RESTRICT h)
{
    const fc_upsample_axis *ax = &j->t->ax[2];
    const FC_REAL *wx = j->t->w[2];
    const fc_index *ix = ax->idx, OW = ax->n_out, W = ax->n_in;
    if (ax->taps == 1) {
        for (fc_index ox = 0; ox < OW; ox++)
            h[ox] = wx[ox] * src[ox];
        return;
    }
    if (j->x2) {
        const FC_REAL wa = wx[4], wb = wx[5];
        for (fc_index i = 1; i < W - 1; i++) {
            h[2 * i] = wa * src[i - 1] + wb * src[i];
            h[2 * i + 1] = wb * src[i] + wa * src[i + 1];
        }
        const fc_index ends[4] = {0, 1, OW - 2, OW - 1};
        for (int e = 0; e < 4; e++) {
            const fc_index ox = ends[e];
            h[ox] = wx[2 * ox] * src[ix[2 * ox]] + wx[2 * ox + 1] * src[ix[2 * ox + 1]];
        }
        return;
    }
    for (fc_index ox = 0; ox < OW; ox++)
        h[ox] = wx[2 * ox] * src[ix[2 * ox]] + wx[2 * ox + 1] * src[ix[2 * ox + 1]];
}

/* A task's cache of resampled input rows (UPS_SLOTS rows of OW values in the
 * thread's scratch): an output row reads up to 4 input rows (2 along z times
 * 2 along y), and consecutive output rows mostly read the same ones, so each
 * is resampled along x once per task instead of once per output row reading
 * it.  A miss evicts the least recently used slot (never one the current
 * output row holds: there are twice as many slots as it reads). */
#define UPS_SLOTS 8
typedef struct {
    fc_index key[UPS_SLOTS]; /* flat input row index, -1 when empty */
    fc_index used[UPS_SLOTS];
    FC_REAL *rows;
} UPS_CACHE;

static const FC_REAL *UPS_ROW(const UPS_JOB *j, UPS_CACHE *c, fc_index key, fc_index now)
{
    int lru = 0;
    for (int s = 0; s < UPS_SLOTS; s++) {
        if (c->key[s] == key) {
            c->used[s] = now;
            return c->rows + s * j->p->out[2];
        }
        if (c->used[s] < c->used[lru])
            lru = s;
    }
    FC_REAL *h = c->rows + lru * j->p->out[2];
    UPS_HROW(j, j->src + key * j->p->in[2], h);
    c->key[lru] = key;
    c->used[lru] = now;
    return h;
}

/* Nearest output rows r0..r1 (plane, oz, oy): a row reading the same input row
 * as the one above copies it. */
static void UPS_NEAREST_ROWS(const UPS_JOB *j, fc_index r0, fc_index r1)
{
    const fc_upsample_params *p = j->p;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_upsample_axis *az = &j->t->ax[0], *ay = &j->t->ax[1], *ax = &j->t->ax[2];
    const fc_index *ix = ax->idx;
    fc_rowpos q = fc_rowpos_at(r0, OD, OH);
    for (fc_index r = r0; r < r1; r++, fc_rowpos_next(&q)) {
        const fc_index plane = q.plane, oz = q.z, oy = q.y;
        FC_REAL *FC_RESTRICT orow = j->dst + r * OW;
        if (r > r0 && oy > 0 && ay->idx[oy] == ay->idx[oy - 1]) {
            memcpy(orow, orow - OW, (size_t)OW * sizeof(FC_REAL));
            continue;
        }
        const FC_REAL *src = j->src + ((plane * D + az->idx[oz]) * H + ay->idx[oy]) * W;
        /* the rows below reading the same input row, written in the same pass */
        FC_REAL *FC_RESTRICT orow2 = NULL;
        if (j->rep == 2 && r + 1 < r1 && oy + 1 < OH && ay->idx[oy + 1] == ay->idx[oy])
            orow2 = orow + OW;
        if (orow2) {
            for (fc_index i = 0; i < W; i++)
                orow[2 * i] = orow[2 * i + 1] = orow2[2 * i] = orow2[2 * i + 1] = src[i];
            r++;
            fc_rowpos_next(&q);
        } else if (j->rep == 2) {
            for (fc_index i = 0; i < W; i++)
                orow[2 * i] = orow[2 * i + 1] = src[i];
        } else if (j->rep > 0) {
            for (fc_index i = 0; i < W; i++)
                for (fc_index k = 0; k < j->rep; k++)
                    orow[i * j->rep + k] = src[i];
        } else {
            for (fc_index ox = 0; ox < OW; ox++)
                orow[ox] = src[ix[ox]];
        }
    }
}

/* Output rows r0..r1 (plane, oz, oy). */
static void UPS_FWD_ROWS(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const UPS_JOB *j = ctx;
    const fc_upsample_params *p = j->p;
    if (!j->t->w[2]) {
        UPS_NEAREST_ROWS(j, r0, r1);
        return;
    }
    const fc_index D = p->in[0], H = p->in[1];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_upsample_axis *az = &j->t->ax[0], *ay = &j->t->ax[1];
    const FC_REAL *wz = j->t->w[0], *wy = j->t->w[1];
    UPS_CACHE c = {.rows = j->rows + (size_t)slot * UPS_SLOTS * OW};
    for (int s = 0; s < UPS_SLOTS; s++) {
        c.key[s] = -1;
        c.used[s] = -1;
    }
    fc_rowpos q = fc_rowpos_at(r0, OD, OH);
    for (fc_index r = r0; r < r1; r++, fc_rowpos_next(&q)) {
        const fc_index plane = q.plane, oz = q.z, oy = q.y;
        FC_REAL *FC_RESTRICT orow = j->dst + r * OW;
        int first = 1;
        for (fc_index a = 0; a < az->taps; a++) {
            const fc_index sz = oz * az->taps + a;
            for (fc_index b = 0; b < ay->taps; b++, first = 0) {
                const fc_index sy = oy * ay->taps + b;
                const FC_REAL wzy = wz[sz] * wy[sy];
                const fc_index key = (plane * D + az->idx[sz]) * H + ay->idx[sy];
                const FC_REAL *FC_RESTRICT v = UPS_ROW(j, &c, key, r);
                if (first)
                    for (fc_index ox = 0; ox < OW; ox++)
                        orow[ox] = wzy * v[ox];
                else
                    for (fc_index ox = 0; ox < OW; ox++)
                        orow[ox] += wzy * v[ox];
            }
        }
    }
}

int FC_CAT(fc_upsample_fwd_, FC_DT)(const fc_upsample_params *p, const FC_REAL *x, FC_REAL *out)
{
    const fc_index rows = p->planes * p->out[0] * p->out[1];
    UPS_TABLES t;
    if (rows == 0 || p->out[2] == 0)
        return FC_OK;
    if (UPS_TABLES_BUILD(p, &t, 0) != FC_OK)
        return FC_ENOMEM;
    UPS_JOB j = {p, &t, x, out, fc_upsample_replication(&t.ax[2]), 0, NULL};
    if (p->mode == FC_UPSAMPLE_LINEAR) {
        const int nt = p->num_threads > 0 ? p->num_threads : 1;
        size_t bytes;
        if (fc_mul_overflows((fc_index)nt * UPS_SLOTS, p->out[2], &bytes)
            || fc_mul_overflows((fc_index)bytes, (fc_index)sizeof(FC_REAL), &bytes)
            || !(j.rows = fc_scratch_alloc(bytes))) {
            UPS_TABLES_FREE(&t);
            return FC_ENOMEM;
        }
        j.x2 = UPS_X2_OF(&t.ax[2], t.w[2]);
    }
    fc_parallel_range(p->num_threads, rows, UPS_FWD_ROWS, &j);
    fc_scratch_free(j.rows);
    UPS_TABLES_FREE(&t);
    return FC_OK;
}

/* Input rows r0..r1 (plane, iz, iy). */
static void UPS_BWD_ROWS(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const UPS_JOB *j = ctx;
    const fc_upsample_params *p = j->p;
    const FC_REAL *grad_out = j->src;
    FC_REAL *grad_in = j->dst;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_upsample_axis *az = &j->t->ax[0], *ay = &j->t->ax[1], *ax = &j->t->ax[2];
    const FC_REAL *wz = j->t->w[0], *wy = j->t->w[1], *wx = j->t->w[2];
    fc_rowpos q = fc_rowpos_at(r0, D, H);
    for (fc_index r = r0; r < r1; r++, fc_rowpos_next(&q)) {
        const fc_index plane = q.plane, iz = q.z, iy = q.y;
        const FC_REAL *gp = grad_out + plane * OD * OH * OW;
        FC_REAL *FC_RESTRICT grow = grad_in + r * W;
        for (fc_index i = 0; i < W; i++)
            grow[i] = (FC_REAL)0;
        for (fc_index e = az->start[iz]; e < az->start[iz + 1]; e++) {
            for (fc_index f = ay->start[iy]; f < ay->start[iy + 1]; f++) {
                const FC_REAL *src = gp + (az->ent_o[e] * OH + ay->ent_o[f]) * OW;
                if (!wx) { /* nearest: plain sums */
                    for (fc_index i = 0; i < W; i++) {
                        FC_REAL s = (FC_REAL)0;
                        for (fc_index k = ax->start[i]; k < ax->start[i + 1]; k++)
                            s += src[ax->ent_o[k]];
                        grow[i] += s;
                    }
                    continue;
                }
                const FC_REAL wzy = wz[az->ent_slot[e]] * wy[ay->ent_slot[f]];
                for (fc_index i = 0; i < W; i++) {
                    FC_REAL s = (FC_REAL)0;
                    for (fc_index k = ax->start[i]; k < ax->start[i + 1]; k++)
                        s += wx[ax->ent_slot[k]] * src[ax->ent_o[k]];
                    grow[i] += wzy * s;
                }
            }
        }
    }
}

int FC_CAT(fc_upsample_bwd_, FC_DT)(const fc_upsample_params *p, const FC_REAL *grad_out,
                                    FC_REAL *grad_in)
{
    const fc_index rows = p->planes * p->in[0] * p->in[1];
    UPS_TABLES t;
    if (rows == 0 || p->in[2] == 0)
        return FC_OK;
    if (UPS_TABLES_BUILD(p, &t, 1) != FC_OK)
        return FC_ENOMEM;
    UPS_JOB j = {p, &t, grad_out, grad_in, 0, 0, NULL};
    fc_parallel_range(p->num_threads, rows, UPS_BWD_ROWS, &j);
    UPS_TABLES_FREE(&t);
    return FC_OK;
}

#undef UPS_TABLES
#undef UPS_TABLES_FREE
#undef UPS_TABLES_BUILD
#undef UPS_LINEAR_FILL
#undef UPS_JOB
#undef UPS_FWD_ROWS
#undef UPS_BWD_ROWS
#undef UPS_X2_OF
#undef UPS_HROW
#undef UPS_CACHE
#undef UPS_ROW
#undef UPS_NEAREST_ROWS
#undef UPS_SLOTS
