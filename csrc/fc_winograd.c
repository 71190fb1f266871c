/*
 * fc_winograd.c - SIMD path selection for the Winograd convolution.
 */
#include "fc_winograd.h"
#include "fc_dispatch.h"

FC_DECLARE_VARIANTS(int, fc_conv_fwd_winograd_f32,
                    (const fc_conv_params *, const float *, const float *, const float *, float *))
FC_DECLARE_VARIANTS(int, fc_conv_fwd_winograd_f64,
                    (const fc_conv_params *, const double *, const double *, const double *,
                     double *))

FC_DECLARE_VARIANTS(int, fc_conv_bwd_weight_winograd_f32,
                    (const fc_conv_params *, const float *, const float *, float *))
FC_DECLARE_VARIANTS(int, fc_conv_bwd_weight_winograd_f64,
                    (const fc_conv_params *, const double *, const double *, double *))

int fc_conv_fwd_winograd_f32(const fc_conv_params *p, const float *x, const float *w,
                             const float *bias, float *out)
{
    FC_DISPATCH(p->isa, fc_conv_fwd_winograd_f32, p, x, w, bias, out);
}

int fc_conv_fwd_winograd_f64(const fc_conv_params *p, const double *x, const double *w,
                             const double *bias, double *out)
{
    FC_DISPATCH(p->isa, fc_conv_fwd_winograd_f64, p, x, w, bias, out);
}

int fc_conv_bwd_weight_winograd_f32(const fc_conv_params *p, const float *x, const float *gy,
                                    float *gw)
{
    FC_DISPATCH(p->isa, fc_conv_bwd_weight_winograd_f32, p, x, gy, gw);
}

int fc_conv_bwd_weight_winograd_f64(const fc_conv_params *p, const double *x, const double *gy,
                                    double *gw)
{
    FC_DISPATCH(p->isa, fc_conv_bwd_weight_winograd_f64, p, x, gy, gw);
}
