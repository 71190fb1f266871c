/*
 * fc_conv.c - SIMD path selection for the convolution kernels.
 */
#include "fc_conv.h"
#include "fc_dispatch.h"

FC_DECLARE_VARIANTS(int, fc_conv_fwd_direct_f32,
                    (const fc_conv_params *, const float *, const float *, const float *, float *))
FC_DECLARE_VARIANTS(int, fc_conv_fwd_direct_f64,
                    (const fc_conv_params *, const double *, const double *, const double *,
                     double *))

FC_DECLARE_VARIANTS(int, fc_conv_fwd_gemm_f32,
                    (const fc_conv_params *, const float *, const float *, const float *, float *))
FC_DECLARE_VARIANTS(int, fc_conv_fwd_gemm_f64,
                    (const fc_conv_params *, const double *, const double *, const double *,
                     double *))

int fc_conv_fwd_gemm_f32(const fc_conv_params *p, const float *x, const float *w,
                         const float *bias, float *out)
{
    FC_DISPATCH(p->isa, fc_conv_fwd_gemm_f32, p, x, w, bias, out);
}

int fc_conv_fwd_gemm_f64(const fc_conv_params *p, const double *x, const double *w,
                         const double *bias, double *out)
{
    FC_DISPATCH(p->isa, fc_conv_fwd_gemm_f64, p, x, w, bias, out);
}

int fc_conv_fwd_direct_f32(const fc_conv_params *p, const float *x, const float *w,
                           const float *bias, float *out)
{
    FC_DISPATCH(p->isa, fc_conv_fwd_direct_f32, p, x, w, bias, out);
}

int fc_conv_fwd_direct_f64(const fc_conv_params *p, const double *x, const double *w,
                           const double *bias, double *out)
{
    FC_DISPATCH(p->isa, fc_conv_fwd_direct_f64, p, x, w, bias, out);
}

FC_DECLARE_VARIANTS(int, fc_conv_bwd_input_f32,
                    (const fc_conv_params *, const float *, const float *, float *))
FC_DECLARE_VARIANTS(int, fc_conv_bwd_input_f64,
                    (const fc_conv_params *, const double *, const double *, double *))
FC_DECLARE_VARIANTS(int, fc_conv_bwd_weight_f32,
                    (const fc_conv_params *, const float *, const float *, float *))
FC_DECLARE_VARIANTS(int, fc_conv_bwd_weight_f64,
                    (const fc_conv_params *, const double *, const double *, double *))
FC_DECLARE_VARIANTS(int, fc_conv_bwd_bias_f32, (const fc_conv_params *, const float *, float *))
FC_DECLARE_VARIANTS(int, fc_conv_bwd_bias_f64, (const fc_conv_params *, const double *, double *))

int fc_conv_bwd_input_f32(const fc_conv_params *p, const float *gy, const float *w, float *gx)
{
    FC_DISPATCH(p->isa, fc_conv_bwd_input_f32, p, gy, w, gx);
}

int fc_conv_bwd_input_f64(const fc_conv_params *p, const double *gy, const double *w, double *gx)
{
    FC_DISPATCH(p->isa, fc_conv_bwd_input_f64, p, gy, w, gx);
}

int fc_conv_bwd_weight_f32(const fc_conv_params *p, const float *x, const float *gy, float *gw)
{
    FC_DISPATCH(p->isa, fc_conv_bwd_weight_f32, p, x, gy, gw);
}

int fc_conv_bwd_weight_f64(const fc_conv_params *p, const double *x, const double *gy, double *gw)
{
    FC_DISPATCH(p->isa, fc_conv_bwd_weight_f64, p, x, gy, gw);
}

int fc_conv_bwd_bias_f32(const fc_conv_params *p, const float *gy, float *gb)
{
    FC_DISPATCH(p->isa, fc_conv_bwd_bias_f32, p, gy, gb);
}

int fc_conv_bwd_bias_f64(const fc_conv_params *p, const double *gy, double *gb)
{
    FC_DISPATCH(p->isa, fc_conv_bwd_bias_f64, p, gy, gb);
}
