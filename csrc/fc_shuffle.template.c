/*
 * fc_shuffle.template.c - channel shuffle forward and backward, one dtype.
 * Included by fc_shuffle.c with FC_REAL and FC_DT.
 *
 * Both directions are the same plane gather, dst[n, k] = src[n, perm(k)]:
 * forward with `groups` groups, backward with C/groups groups (the inverse).
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
