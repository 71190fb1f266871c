/*
 * fc_dispatch.c - which SIMD paths are compiled in and which this CPU runs.
 */
#include "fc_dispatch.h"

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
