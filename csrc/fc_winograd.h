/*
 * fc_winograd.h - Winograd F(4x4, 3x3) convolution forward and weight gradient.
 *
 * Applies when the kernel is 3x3 along the last two axes (H, W) with stride 1 and
 * dilation 1 there; the depth axis (3-D calls) may have any kernel size, stride,
 * dilation and padding (its taps are extra reduction channels).  Any groups, any
 * padding and padding mode, bias.  Layouts as in fc_conv.h; out is fully
 * overwritten.  Returns FC_OK, or FC_ENOMEM when a size overflows or scratch
 * cannot be allocated.  Each output element is computed by one task in a fixed
 * order, so results do not depend on p->num_threads.
 *
 * Scratch: the transformed weights, 36 x C_out x (C_in/groups * kD) elements
 * (C_out rounded up to the register tile MR), when the tiles make more than two
 * blocks; otherwise each task transforms its oc tiles' weights into its own
 * 36 x (C_in/groups * kD) x MR slot.  Per thread 36 x (C_in/groups * kD + MR) x
 * NT elements, NT (tiles per task, a multiple of the vector length VL, <= 128)
 * chosen so this is about 1 MiB: at most
 * max(1 MiB, 36 x (C_in/groups * kD + MR) x VL x itemsize) plus the weight slot.
 */
#ifndef FC_WINOGRAD_H
#define FC_WINOGRAD_H

#include "fc_common.h"
#include "fc_params.h"

int fc_conv_fwd_winograd_f32(const fc_conv_params *p, const float *x, const float *w,
                             const float *bias, float *out);
int fc_conv_fwd_winograd_f64(const fc_conv_params *p, const double *x, const double *w,
                             const double *bias, double *out);

/* Weight gradient by the adjoint of the same transforms (p, x and gy as for
 * fc_conv_bwd_weight; the same shapes as the forward above).  gw is fully
 * overwritten; results do not depend on p->num_threads.  Scratch: 36 x C_out x
 * (C_in/groups * kD) elements (both rounded up to the register tile), plus
 * about 2 MiB of transformed tiles; when the former would pass 64 MiB the
 * direct fc_conv_bwd_weight runs instead. */
int fc_conv_bwd_weight_winograd_f32(const fc_conv_params *p, const float *x, const float *gy,
                                    float *gw);
int fc_conv_bwd_weight_winograd_f64(const fc_conv_params *p, const double *x, const double *gy,
                                    double *gw);

#endif /* FC_WINOGRAD_H */
