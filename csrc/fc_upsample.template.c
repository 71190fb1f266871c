/*
 * fc_upsample.template.c - resampling forward and backward, one dtype.
 * Included by fc_upsample.c with FC_REAL, FC_DT and FC_FLOOR (floor for FC_REAL).
 *
 * Forward, per output row (plane, oz, oy), with axis taps (iz_a, wz_a),
 * (iy_b, wy_b), (ix_c, wx_c):
 *     out[oz, oy, ox] = sum_a sum_b (wz_a wy_b) * sum_c wx_c x[iz_a, iy_b, ix_c]
 * (nearest: a single tap per axis with weight 1, i.e. a copy: an output row
 * reading the same input row as the one above copies that row, and an integer
 * factor along x repeats each input cell, without the index table).
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

typedef struct {
    fc_upsample_axis ax[3];
    FC_REAL *w[3]; /* [out * taps] tap weights (linear only) */
} UPS_TABLES;

static void UPS_TABLES_FREE(UPS_TABLES *t)
{
    for (int d = 0; d < 3; d++) {
        fc_upsample_axis_free(&t->ax[d]);
        free(t->w[d]);
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
            t->w[d] = malloc((size_t)(p->out[d] * taps) * sizeof(FC_REAL));
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
 * nearest output column ox reads input column ox / rep (an integer factor). */
typedef struct {
    const fc_upsample_params *p;
    const UPS_TABLES *t;
    const FC_REAL *src;
    FC_REAL *dst;
    fc_index rep;
} UPS_JOB;

/* Output rows r0..r1 (plane, oz, oy). */
static void UPS_FWD_ROWS(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const UPS_JOB *j = ctx;
    const fc_upsample_params *p = j->p;
    const FC_REAL *x = j->src;
    FC_REAL *out = j->dst;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_upsample_axis *az = &j->t->ax[0], *ay = &j->t->ax[1], *ax = &j->t->ax[2];
    const FC_REAL *wz = j->t->w[0], *wy = j->t->w[1], *wx = j->t->w[2];
    const fc_index *ix = ax->idx;
    fc_rowpos q = fc_rowpos_at(r0, OD, OH);
    for (fc_index r = r0; r < r1; r++, fc_rowpos_next(&q)) {
        const fc_index plane = q.plane, oz = q.z, oy = q.y;
        const FC_REAL *xp = x + plane * D * H * W;
        FC_REAL *FC_RESTRICT orow = out + r * OW;
        if (!wx) { /* nearest: a copy of the row above when it reads the same row */
            if (r > r0 && oy > 0 && ay->idx[oy] == ay->idx[oy - 1]) {
                memcpy(orow, orow - OW, (size_t)OW * sizeof(FC_REAL));
                continue;
            }
            const FC_REAL *src = xp + (az->idx[oz] * H + ay->idx[oy]) * W;
            if (j->rep == 2) {
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
            continue;
        }
        int first = 1;
        for (fc_index a = 0; a < az->taps; a++) {
            const fc_index sz = oz * az->taps + a;
            for (fc_index b = 0; b < ay->taps; b++, first = 0) {
                const fc_index sy = oy * ay->taps + b;
                const FC_REAL wzy = wz[sz] * wy[sy];
                const FC_REAL *src = xp + (az->idx[sz] * H + ay->idx[sy]) * W;
                if (ax->taps == 2) {
                    for (fc_index ox = 0; ox < OW; ox++) {
                        const FC_REAL v = wx[2 * ox] * src[ix[2 * ox]] +
                                          wx[2 * ox + 1] * src[ix[2 * ox + 1]];
                        orow[ox] = first ? wzy * v : orow[ox] + wzy * v;
                    }
                } else {
                    for (fc_index ox = 0; ox < OW; ox++) {
                        const FC_REAL v = wx[ox] * src[ox];
                        orow[ox] = first ? wzy * v : orow[ox] + wzy * v;
                    }
                }
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
    UPS_JOB j = {p, &t, x, out, fc_upsample_replication(&t.ax[2])};
    fc_parallel_range(p->num_threads, rows, UPS_FWD_ROWS, &j);
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
    UPS_JOB j = {p, &t, grad_out, grad_in, 0};
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
