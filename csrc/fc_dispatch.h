/*
 * fc_dispatch.h - run the variant of a kernel compiled for the requested SIMD path.
 *
 * A kernel `fc_foo_f32` with variants in a fc_*_simd.c file is dispatched with
 *     FC_DISPATCH(isa, fc_foo_f32, args...);
 * which returns fc_foo_f32_<path>(args...) for the path `isa` when it was compiled
 * and the CPU supports it, else the baseline variant.  Declare the variants with
 * FC_DECLARE_VARIANTS(ret, name, params).
 */
#ifndef FC_DISPATCH_H
#define FC_DISPATCH_H

#include "fc_common.h"

/* 1 if `isa` was compiled into this build / is supported by this CPU. */
int fc_isa_compiled(int isa);
int fc_isa_supported(int isa);
/* The best path that is both compiled and supported. */
int fc_isa_best(void);

#ifdef FC_HAVE_AVX512
#define FC_AVX512_CASE_(fn, ...) case FC_ISA_AVX512: return fn##_avx512(__VA_ARGS__);
#define FC_DECLARE_AVX512_(ret, name, params) ret name##_avx512 params;
#else
#define FC_AVX512_CASE_(fn, ...)
#define FC_DECLARE_AVX512_(ret, name, params)
#endif
#ifdef FC_HAVE_AVX2
#define FC_AVX2_CASE_(fn, ...) case FC_ISA_AVX2: return fn##_avx2(__VA_ARGS__);
#define FC_DECLARE_AVX2_(ret, name, params) ret name##_avx2 params;
#else
#define FC_AVX2_CASE_(fn, ...)
#define FC_DECLARE_AVX2_(ret, name, params)
#endif

#define FC_DECLARE_VARIANTS(ret, name, params) \
    ret name##_baseline params;                \
    FC_DECLARE_AVX2_(ret, name, params)        \
    FC_DECLARE_AVX512_(ret, name, params)

#define FC_DISPATCH(isa, fn, ...)                                   \
    do {                                                            \
        int isa_ = (isa);                                           \
        if (!fc_isa_compiled(isa_) || !fc_isa_supported(isa_))      \
            isa_ = FC_ISA_BASELINE;                                 \
        switch (isa_) {                                             \
        FC_AVX512_CASE_(fn, __VA_ARGS__)                            \
        FC_AVX2_CASE_(fn, __VA_ARGS__)                              \
        default:                                                    \
            return fn##_baseline(__VA_ARGS__);                      \
        }                                                           \
    } while (0)

#endif /* FC_DISPATCH_H */
