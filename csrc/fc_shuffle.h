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
    int num_threads;     /* threads for this call, >= 1                */
} fc_shuffle_params;

/* out = channel_shuffle(x, groups); out fully overwritten.  Returns FC_OK. */
int fc_shuffle_fwd_f32(const fc_shuffle_params *p, const float *x, float *out);
int fc_shuffle_fwd_f64(const fc_shuffle_params *p, const double *x, double *out);

/* grad_in = the inverse shuffle of grad_out (same shape); fully overwritten. */
int fc_shuffle_bwd_f32(const fc_shuffle_params *p, const float *grad_out, float *grad_in);
int fc_shuffle_bwd_f64(const fc_shuffle_params *p, const double *grad_out, double *grad_in);

/* Strided subsample, the input a strided unpadded 1x1 convolution reads:
 *     dst[p, z, y, x] = src[p, z*s0, y*s1, x*s2]
 * over planes p (batch x channels); src (P, in...) and dst (P, out...),
 * C-contiguous, (out - 1) * s < in on each axis; output rows in parallel. */
typedef struct {
    fc_index planes;     /* batch x channels (>= 0)                    */
    fc_index in[3];      /* source (Z, Y, X)                           */
    fc_index out[3];     /* destination (Z, Y, X)                      */
    fc_index stride[3];  /* >= 1                                       */
    int num_threads;     /* threads for this call, >= 1                */
} fc_subsample_params;

int fc_subsample_f32(const fc_subsample_params *q, const float *src, float *dst);
int fc_subsample_f64(const fc_subsample_params *q, const double *src, double *dst);

/* Tap interleave (depth-to-space), the last step of a transposed convolution whose
 * kernel equals its stride (each output cell gets one tap):
 *     dst[b, c, z*s0 + a0, y*s1 + a1, x*s2 + a2] = src[b, c, (a0*s1 + a1)*s2 + a2, z, y, x]
 * src (B, C, s0*s1*s2, Z, Y, X) and dst (B, C, Z*s0, Y*s1, X*s2), C-contiguous;
 * output rows in parallel, each written by one task. */
typedef struct {
    fc_index b, c;       /* leading blocks (images x groups), channels per block */
    fc_index size[3];    /* Z, Y, X: the per-tap (input) size                      */
    fc_index stride[3];  /* s0, s1, s2 >= 1                                        */
    int num_threads;
} fc_taps_params;

int fc_interleave_taps_f32(const fc_taps_params *q, const float *src, float *dst);
int fc_interleave_taps_f64(const fc_taps_params *q, const double *src, double *dst);

#endif /* FC_SHUFFLE_H */
