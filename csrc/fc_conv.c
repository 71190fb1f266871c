/*
 * fc_conv.c - SIMD path selection for the convolution kernels.
 */
#include "fc_conv.h"

#define DECLARE_DIRECT(sfx)                                                               \
    int fc_conv_fwd_direct_f32##sfx(const fc_conv_params *, const float *, const float *, \
                                    const float *, float *);                              \
    int fc_conv_fwd_direct_f64##sfx(const fc_conv_params *, const double *, const double *, \
                                    const double *, double *);

DECLARE_DIRECT(_baseline)
#ifdef FC_HAVE_AVX2
DECLARE_DIRECT(_avx2)
#endif
#ifdef FC_HAVE_AVX512
DECLARE_DIRECT(_avx512)
#endif

int fc_isa_compiled(int isa)
{
    switch (isa) {
    case FC_ISA_BASELINE:
        return 1;
#ifdef FC_HAVE_AVX2
    case FC_ISA_AVX2:
        return 1;
#endif
#ifdef FC_HAVE_AVX512
    case FC_ISA_AVX512:
        return 1;
#endif
    default:
        return 0;
    }
}

int fc_isa_supported(int isa)
{
    switch (isa) {
    case FC_ISA_BASELINE:
        return 1;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    case FC_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case FC_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2")
               && __builtin_cpu_supports("fma");
#endif
    default:
        return 0;
    }
}

int fc_isa_best(void)
{
    for (int isa = FC_ISA_COUNT - 1; isa > 0; isa--)
        if (fc_isa_compiled(isa) && fc_isa_supported(isa))
            return isa;
    return FC_ISA_BASELINE;
}

/* Run the variant for p->isa, or the baseline when that one is unavailable. */
#define DISPATCH(fn, ...)                                                   \
    do {                                                                    \
        int isa_ = p->isa;                                                  \
        if (!fc_isa_compiled(isa_) || !fc_isa_supported(isa_))              \
            isa_ = FC_ISA_BASELINE;                                         \
        switch (isa_) {                                                     \
        AVX512_CASE(fn, __VA_ARGS__)                                        \
        AVX2_CASE(fn, __VA_ARGS__)                                          \
        default:                                                            \
            return fn##_baseline(__VA_ARGS__);                              \
        }                                                                   \
    } while (0)
#ifdef FC_HAVE_AVX512
#define AVX512_CASE(fn, ...) case FC_ISA_AVX512: return fn##_avx512(__VA_ARGS__);
#else
#define AVX512_CASE(fn, ...)
#endif
#ifdef FC_HAVE_AVX2
#define AVX2_CASE(fn, ...) case FC_ISA_AVX2: return fn##_avx2(__VA_ARGS__);
#else
#define AVX2_CASE(fn, ...)
#endif

int fc_conv_fwd_direct_f32(const fc_conv_params *p, const float *x, const float *w,
                           const float *bias, float *out)
{
    DISPATCH(fc_conv_fwd_direct_f32, p, x, w, bias, out);
}

int fc_conv_fwd_direct_f64(const fc_conv_params *p, const double *x, const double *w,
                           const double *bias, double *out)
{
    DISPATCH(fc_conv_fwd_direct_f64, p, x, w, bias, out);
}
