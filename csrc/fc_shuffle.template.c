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

static void FC_CAT(fc_shuffle_gather_, FC_DT)(const fc_shuffle_params *p, fc_index groups,
                                              const FC_REAL *src, FC_REAL *dst)
{
    const fc_index C = p->c, plane = p->plane, planes = p->n * p->c;
    const int nt = p->num_threads;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (fc_index k = 0; k < planes; k++) {
        const fc_index n = k / C, c = k % C;
        memcpy(dst + k * plane, src + (n * C + fc_shuffle_src(c, C, groups)) * plane,
               (size_t)plane * sizeof(FC_REAL));
    }
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
