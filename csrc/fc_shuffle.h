/*
 * fc_shuffle.h - ShuffleNet channel shuffle, forward and backward.
 *
 * The C channels are viewed as a (groups, C/groups) matrix, transposed and
 * flattened: with m = C / groups, output channel j*groups + i is input
 * channel i*m + j.  As a gather over output channels co:
 *     out[n, co] = x[n, (co % groups) * m + co / groups]
 * The backward pass is the inverse permutation (a shuffle with C/groups
 * groups):
 *     grad_in[n, ci] = grad_out[n, (ci % m) * groups + ci / m]
 *
 * Arrays are C-contiguous (n, c, plane), plane = the product of the spatial
 * sizes; each (n, channel) plane is copied whole, planes in parallel.
 */
#ifndef FC_SHUFFLE_H
#define FC_SHUFFLE_H

#include "fc_common.h"

typedef struct {
    fc_index n;          /* batch size (>= 0)                          */
    fc_index c;          /* channels, a multiple of groups             */
    fc_index groups;     /* >= 1                                       */
    fc_index plane;      /* elements per (n, channel) plane (>= 0)     */
    int num_threads;     /* OpenMP team size for this call, >= 1       */
} fc_shuffle_params;

/* out = channel_shuffle(x, groups); out fully overwritten.  Returns FC_OK. */
int fc_shuffle_fwd_f32(const fc_shuffle_params *p, const float *x, float *out);
int fc_shuffle_fwd_f64(const fc_shuffle_params *p, const double *x, double *out);

/* grad_in = the inverse shuffle of grad_out (same shape); fully overwritten. */
int fc_shuffle_bwd_f32(const fc_shuffle_params *p, const float *grad_out, float *grad_in);
int fc_shuffle_bwd_f64(const fc_shuffle_params *p, const double *grad_out, double *grad_in);

#endif /* FC_SHUFFLE_H */
