/*
 * fc_pad.template.c - padding forward and backward, one dtype.
 * Included by fc_pad.c with FC_REAL and FC_DT.
 *
 * Forward, per output row (plane, oz, oy): the source row is
 * (fc_pad_index(oz - bz), fc_pad_index(oy - by)); a row outside the input (zeros
 * mode) is all `value`; otherwise the row is [left padding | the input row,
 * copied whole | right padding], the padding read through fc_pad_index.  The
 * indices come from per-axis maps built once per call (fc_pad_map).
 * Backward, per input row (plane, iz, iy):
 *     gin[iz, iy, ix] = sum_{oz -> iz} sum_{oy -> iy} sum_{ox -> ix} g[oz, oy, ox]
 * over the inverted lists, each in increasing output index.
 */
#ifndef FC_REAL
#error "FC_REAL must be defined before including this template"
#endif

#define PAD_JOB FC_CAT(fc_pad_job_, FC_DT)
#define PAD_FWD_ROWS FC_CAT(fc_pad_fwd_rows_, FC_DT)
#define PAD_BWD_ROWS FC_CAT(fc_pad_bwd_rows_, FC_DT)

/* What a task reads: the forward's per-axis maps (fc_pad_map), the backward's
 * inverted lists. */
typedef struct {
    const fc_pad_params *p;
    const FC_REAL *src;
    FC_REAL *dst;
    FC_REAL value;
    const fc_index *mz, *my, *mx;
    const fc_pad_axis *az, *ay, *ax;
} PAD_JOB;

/* Output rows r0..r1 (plane, oz, oy). */
static void PAD_FWD_ROWS(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const PAD_JOB *j = ctx;
    const fc_pad_params *p = j->p;
    const FC_REAL *x = j->src, value = j->value;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index bx = p->before[2], ax = bx + W; /* the input row is [bx, ax) */
    const fc_index *mx = j->mx;
    fc_rowpos q = fc_rowpos_at(r0, OD, OH);
    for (fc_index r = r0; r < r1; r++, fc_rowpos_next(&q)) {
        const fc_index plane = q.plane, oz = q.z, oy = q.y;
        FC_REAL *FC_RESTRICT orow = j->dst + r * OW;
        const fc_index iz = j->mz[oz], iy = j->my[oy];
        if (iz < 0 || iy < 0 || W == 0) {
            for (fc_index ox = 0; ox < OW; ox++)
                orow[ox] = value;
        } else {
            const FC_REAL *src = x + ((plane * D + iz) * H + iy) * W;
            for (fc_index ox = 0; ox < bx; ox++)
                orow[ox] = mx[ox] < 0 ? value : src[mx[ox]];
            memcpy(orow + bx, src, (size_t)W * sizeof(FC_REAL));
            for (fc_index ox = ax; ox < OW; ox++)
                orow[ox] = mx[ox] < 0 ? value : src[mx[ox]];
        }
    }
}

int FC_CAT(fc_pad_fwd_, FC_DT)(const fc_pad_params *p, const FC_REAL *x, FC_REAL value,
                               FC_REAL *out)
{
    fc_index *mz = fc_pad_map(p->in[0], p->out[0], p->before[0], p->mode);
    fc_index *my = fc_pad_map(p->in[1], p->out[1], p->before[1], p->mode);
    fc_index *mx = fc_pad_map(p->in[2], p->out[2], p->before[2], p->mode);
    int status = FC_ENOMEM;
    if (mz && my && mx) {
        PAD_JOB j = {.p = p, .src = x, .dst = out, .value = value, .mz = mz, .my = my, .mx = mx};
        fc_parallel_range(p->num_threads, p->planes * p->out[0] * p->out[1], PAD_FWD_ROWS, &j);
        status = FC_OK;
    }
    fc_scratch_free(mz);
    fc_scratch_free(my);
    fc_scratch_free(mx);
    return status;
}

/* Input rows r0..r1 (plane, iz, iy). */
static void PAD_BWD_ROWS(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const PAD_JOB *j = ctx;
    const fc_pad_params *p = j->p;
    const fc_pad_axis az = *j->az, ay = *j->ay, ax = *j->ax;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    fc_rowpos q = fc_rowpos_at(r0, D, H);
    for (fc_index r = r0; r < r1; r++, fc_rowpos_next(&q)) {
        const fc_index plane = q.plane, iz = q.z, iy = q.y;
        const FC_REAL *gp = j->src + plane * OD * OH * OW;
        FC_REAL *FC_RESTRICT grow = j->dst + r * W;
        for (fc_index i = 0; i < W; i++)
            grow[i] = (FC_REAL)0;
        for (fc_index e = az.start[iz]; e < az.start[iz + 1]; e++) {
            for (fc_index f = ay.start[iy]; f < ay.start[iy + 1]; f++) {
                const FC_REAL *src = gp + (az.ent_o[e] * OH + ay.ent_o[f]) * OW;
                for (fc_index i = 0; i < W; i++)
                    for (fc_index k = ax.start[i]; k < ax.start[i + 1]; k++)
                        grow[i] += src[ax.ent_o[k]];
            }
        }
    }
}

int FC_CAT(fc_pad_bwd_, FC_DT)(const fc_pad_params *p, const FC_REAL *grad_out,
                               FC_REAL *grad_in)
{
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index rows = p->planes * D * H;
    fc_pad_axis az, ay, ax;
    if (rows == 0 || W == 0)
        return FC_OK;
    if (fc_pad_axis_build(&az, D, OD, p->before[0], p->mode))
        return FC_ENOMEM;
    if (fc_pad_axis_build(&ay, H, OH, p->before[1], p->mode)) {
        fc_pad_axis_free(&az);
        return FC_ENOMEM;
    }
    if (fc_pad_axis_build(&ax, W, OW, p->before[2], p->mode)) {
        fc_pad_axis_free(&az);
        fc_pad_axis_free(&ay);
        return FC_ENOMEM;
    }
    PAD_JOB j = {.p = p, .src = grad_out, .dst = grad_in, .az = &az, .ay = &ay, .ax = &ax};
    fc_parallel_range(p->num_threads, rows, PAD_BWD_ROWS, &j);
    fc_pad_axis_free(&az);
    fc_pad_axis_free(&ay);
    fc_pad_axis_free(&ax);
    return FC_OK;
}

#undef PAD_JOB
#undef PAD_FWD_ROWS
#undef PAD_BWD_ROWS
