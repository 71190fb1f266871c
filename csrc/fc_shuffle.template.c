/*
 * fc_shuffle.template.c - channel shuffle forward and backward, one dtype.
 * Included by fc_shuffle.c with FC_REAL and FC_DT.
 *
 * Both directions are the same plane gather, dst[n, k] = src[n, perm(k)]:
 * forward with `groups` groups, backward with C/groups groups (the inverse).
 * Also the tap interleave and the strided subsample (fc_shuffle.h), other
 * pure data movements.
 */
#ifndef FC_REAL
#error "FC_REAL must be defined before including this template"
#endif

typedef struct {
    const fc_shuffle_params *p;
    fc_index groups;
    const FC_REAL *src;
    FC_REAL *dst;
} FC_CAT(fc_shuffle_job_, FC_DT);

static void FC_CAT(fc_shuffle_planes_, FC_DT)(void *ctx, fc_index k0, fc_index k1, int slot)
{
    const FC_CAT(fc_shuffle_job_, FC_DT) *j = ctx;
    const fc_index C = j->p->c, plane = j->p->plane;
    for (fc_index k = k0; k < k1; k++) {
        const fc_index n = k / C, c = k % C;
        memcpy(j->dst + k * plane, j->src + (n * C + fc_shuffle_src(c, C, j->groups)) * plane,
               (size_t)plane * sizeof(FC_REAL));
    }
}

static void FC_CAT(fc_shuffle_gather_, FC_DT)(const fc_shuffle_params *p, fc_index groups,
                                              const FC_REAL *src, FC_REAL *dst)
{
    FC_CAT(fc_shuffle_job_, FC_DT) j = {p, groups, src, dst};
    fc_parallel_range(p->num_threads, p->n * p->c, FC_CAT(fc_shuffle_planes_, FC_DT), &j);
}

int FC_CAT(fc_shuffle_fwd_, FC_DT)(const fc_shuffle_params *p, const FC_REAL *x, FC_REAL *out)
{
    FC_CAT(fc_shuffle_gather_, FC_DT)(p, p->groups, x, out);
    return FC_OK;
}

int FC_CAT(fc_shuffle_bwd_, FC_DT)(const fc_shuffle_params *p, const FC_REAL *grad_out,
                                   FC_REAL *grad_in)
{
    FC_CAT(fc_shuffle_gather_, FC_DT)(p, p->c / p->groups, grad_out, grad_in);
    return FC_OK;
}

typedef struct {
    const fc_taps_params *q;
    const FC_REAL *src;
    FC_REAL *dst;
} FC_CAT(fc_taps_job_, FC_DT);

/* dst rows [r0, r1) of the (b, c, zo, yo) rows: each is the s2 tap rows of its
 * (a0, a1) interleaved; s2 == 2 (U-Net) and 1 get their own loops. */
static void FC_CAT(fc_taps_rows_, FC_DT)(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const FC_CAT(fc_taps_job_, FC_DT) *j = ctx;
    const fc_taps_params *q = j->q;
    const fc_index Z = q->size[0], Y = q->size[1], X = q->size[2];
    const fc_index s0 = q->stride[0], s1 = q->stride[1], s2 = q->stride[2];
    const fc_index C = q->c, YO = Y * s1, ZO = Z * s0, tap_block = Z * Y * X;
    for (fc_index r = r0; r < r1; r++) {
        const fc_index yo = r % YO, zo = r / YO % ZO, c = r / (YO * ZO) % C, b = r / (YO * ZO * C);
        const fc_index first = (zo % s0 * s1 + yo % s1) * s2; /* tap (a0, a1, 0) */
        const FC_REAL *row = j->src + ((b * C + c) * s0 * s1 * s2 + first) * tap_block
                             + (zo / s0 * Y + yo / s1) * X;
        FC_REAL *FC_RESTRICT d = j->dst + r * X * s2;
        if (s2 == 1) {
            memcpy(d, row, (size_t)X * sizeof(FC_REAL));
        } else if (s2 == 2) {
            const FC_REAL *FC_RESTRICT t0 = row, *FC_RESTRICT t1 = row + tap_block;
            for (fc_index x = 0; x < X; x++) {
                d[2 * x] = t0[x];
                d[2 * x + 1] = t1[x];
            }
        } else {
            for (fc_index a2 = 0; a2 < s2; a2++) {
                const FC_REAL *FC_RESTRICT t = row + a2 * tap_block;
                for (fc_index x = 0; x < X; x++)
                    d[x * s2 + a2] = t[x];
            }
        }
    }
}

int FC_CAT(fc_interleave_taps_, FC_DT)(const fc_taps_params *q, const FC_REAL *src, FC_REAL *dst)
{
    FC_CAT(fc_taps_job_, FC_DT) j = {q, src, dst};
    fc_parallel_range(q->num_threads,
                      q->b * q->c * q->size[0] * q->stride[0] * q->size[1] * q->stride[1],
                      FC_CAT(fc_taps_rows_, FC_DT), &j);
    return FC_OK;
}

typedef struct {
    const fc_subsample_params *q;
    const FC_REAL *src;
    FC_REAL *dst;
} FC_CAT(fc_subsample_job_, FC_DT);

/* dst rows [r0, r1) of the (p, z, y) rows; x strides 1 and 2 get their own
 * loops (2, ResNet's downsampling, vectorises as an even-lane split). */
static void FC_CAT(fc_subsample_rows_, FC_DT)(void *ctx, fc_index r0, fc_index r1, int slot)
{
    const FC_CAT(fc_subsample_job_, FC_DT) *j = ctx;
    const fc_subsample_params *q = j->q;
    const fc_index OZ = q->out[0], OY = q->out[1], OX = q->out[2];
    const fc_index Z = q->in[0], Y = q->in[1], X = q->in[2];
    const fc_index s2 = q->stride[2];
    /* the row's (p, z, y), stepped rather than divided out per (short) row */
    fc_index y = r0 % OY, z = r0 / OY % OZ, p = r0 / (OY * OZ);
    for (fc_index r = r0; r < r1; r++) {
        const FC_REAL *FC_RESTRICT s = j->src + ((p * Z + z * q->stride[0]) * Y + y * q->stride[1]) * X;
        FC_REAL *FC_RESTRICT d = j->dst + r * OX;
        if (++y == OY) {
            y = 0;
            if (++z == OZ) {
                z = 0;
                p++;
            }
        }
        if (s2 == 1)
            memcpy(d, s, (size_t)OX * sizeof(FC_REAL));
        else if (s2 == 2)
            for (fc_index x = 0; x < OX; x++)
                d[x] = s[2 * x];
        else
            for (fc_index x = 0; x < OX; x++)
                d[x] = s[x * s2];
    }
}

int FC_CAT(fc_subsample_, FC_DT)(const fc_subsample_params *q, const FC_REAL *src, FC_REAL *dst)
{
    for (int a = 0; a < 3; a++)
        if (q->stride[a] < 1 || q->out[a] < 0 || (q->out[a] > 0 && (q->out[a] - 1) * q->stride[a] >= q->in[a]))
            return FC_EINVAL;
    FC_CAT(fc_subsample_job_, FC_DT) j = {q, src, dst};
    fc_parallel_range(q->num_threads, q->planes * q->out[0] * q->out[1],
                      FC_CAT(fc_subsample_rows_, FC_DT), &j);
    return FC_OK;
}
