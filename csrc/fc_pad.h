/*
 * fc_pad.h - explicit padding of the spatial axes, forward and backward
 * (N-d: 1-D and 2-D calls use size-1 leading spatial dimensions, padded by 0).
 *
 * Output cell o of an axis with `before` cells of padding copies input cell
 * fc_pad_index(o - before, in, mode) (fc_common.h), or is `value` when that is
 * -1 (FC_PAD_ZEROS, the constant mode).  For n = 4 (abcd), 2 cells per side:
 *   FC_PAD_ZEROS      vv|abcd|vv    v = value
 *   FC_PAD_REFLECT    cb|abcd|cb    (the Python layer requires pad < in)
 *   FC_PAD_REPLICATE  aa|abcd|dd
 *   FC_PAD_CIRCULAR   cd|abcd|ab    (wraps more than once when pad > in)
 *
 * Arrays are C-contiguous:
 *   x     (planes, in[0], in[1], in[2])           planes = N * C
 *   out   (planes, out[0], out[1], out[2]),  out[d] = before[d] + in[d] + after,
 *         fully overwritten
 * The backward pass folds the gradient of every output cell back onto the
 * input cell it copies, as a gather: each input cell sums its output cells in
 * increasing (z, y, x) order, so results are the same bits for any thread
 * count.  Kernels return FC_OK, or FC_ENOMEM when their per-call index maps
 * (forward) or lists (backward) cannot be allocated.
 */
#ifndef FC_PAD_H
#define FC_PAD_H

#include "fc_common.h"

typedef struct {
    fc_index planes;     /* N * C, independent volumes (>= 0)                  */
    fc_index in[3];      /* input sizes (D, H, W), >= 1 (>= 0 for FC_PAD_ZEROS) */
    fc_index out[3];     /* output sizes, in + before + after                  */
    fc_index before[3];  /* cells added before each axis (front/top/left), >= 0 */
    int mode;            /* fc_padmode                                         */
    int num_threads;     /* threads for this call, >= 1                        */
} fc_pad_params;

/* out = pad(x), padded cells of FC_PAD_ZEROS set to `value`.  Parallel over
 * output rows (plane, z, y). */
int fc_pad_fwd_f32(const fc_pad_params *p, const float *x, float value, float *out);
int fc_pad_fwd_f64(const fc_pad_params *p, const double *x, double value, double *out);

/* grad_in (planes, in...) = sum of grad_out (planes, out...) over the output
 * cells that copy each input cell; fully overwritten.  Parallel over input rows. */
int fc_pad_bwd_f32(const fc_pad_params *p, const float *grad_out, float *grad_in);
int fc_pad_bwd_f64(const fc_pad_params *p, const double *grad_out, double *grad_in);

#endif /* FC_PAD_H */
