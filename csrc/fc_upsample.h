/*
 * fc_upsample.h - nearest and (bi/tri)linear resampling, forward and backward
 * (N-d: 1-D and 2-D calls use size-1 leading spatial dimensions).
 *
 * Resampling is separable: along each axis an output index o reads one input
 * index (nearest) or two with weights w0 + w1 = 1 (linear); the N-d weight of
 * an input cell is the product of its axis weights.  The rules are PyTorch's
 * (torch.nn.functional.interpolate, recompute_scale_factor=None):
 *
 *   nearest   out == in: src = o;  out == 2*in: src = o / 2;  otherwise
 *             src = min(floor(float(o) * s), in - 1) in float32 arithmetic,
 *             s = float(1 / scale) when a scale factor was given, else
 *             float(in) / float(out)
 *   linear    out == in: src = o (a copy);  otherwise, in the data's precision,
 *             align_corners:  src = o * (in - 1) / (out - 1)   (0 when out == 1)
 *             else:           src = max(s * (o + 0.5) - 0.5, 0), s as above
 *             i0 = min(floor(src), in - 1), w1 = clamp(src - i0, 0, 1),
 *             i1 = min(i0 + 1, in - 1), w0 = 1 - w1
 *
 * Arrays are C-contiguous:
 *   x         (planes, in[0], in[1], in[2])      planes = N * C
 *   out       (planes, out[0], out[1], out[2]), fully overwritten
 * The backward pass is the exact adjoint of the forward one: every input cell
 * gathers (weight * gradient) from the output cells that read it, in
 * increasing output order, so each element is computed by one thread in a
 * fixed order and results are the same bits for any thread count.
 * Kernels return FC_OK, or FC_ENOMEM when the per-call index tables cannot be
 * allocated.
 */
#ifndef FC_UPSAMPLE_H
#define FC_UPSAMPLE_H

#include "fc_common.h"

typedef enum {
    FC_UPSAMPLE_NEAREST = 0,
    FC_UPSAMPLE_LINEAR = 1, /* linear / bilinear / trilinear by the number of axes */
} fc_upsample_mode;

typedef struct {
    fc_index planes;     /* N * C, independent volumes (>= 0)                      */
    fc_index in[3];      /* input sizes (D, H, W), each >= 1                       */
    fc_index out[3];     /* output sizes (D, H, W), each >= 1                      */
    double scale[3];     /* the user's scale factor per axis, or 0 when the output
                            size was given (then in/out is used)                   */
    int mode;            /* fc_upsample_mode                                       */
    int align_corners;   /* linear only: 1 maps the corner samples onto each other */
    int num_threads;     /* threads for this call, >= 1                            */
} fc_upsample_params;

/* out = upsample(x).  Parallel over output rows (plane, z, y). */
int fc_upsample_fwd_f32(const fc_upsample_params *p, const float *x, float *out);
int fc_upsample_fwd_f64(const fc_upsample_params *p, const double *x, double *out);

/* grad_in (planes, in...) = adjoint of upsample applied to grad_out
 * (planes, out...); grad_in is fully overwritten.  Parallel over input rows. */
int fc_upsample_bwd_f32(const fc_upsample_params *p, const float *grad_out, float *grad_in);
int fc_upsample_bwd_f64(const fc_upsample_params *p, const double *grad_out,
                        double *grad_in);

#endif /* FC_UPSAMPLE_H */
