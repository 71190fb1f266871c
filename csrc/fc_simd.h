/*
 * fc_simd.h - vector width and register tile per SIMD path.
 *
 * Kernels are written once with GCC/Clang vector extensions and compiled once per
 * path with that path's -m flags; FC_ISA_SUFFIX names the symbols of each build.
 *   path       vector bytes  MR (output channels per tile)  registers
 *   baseline   16            4                              16 (xmm)
 *   avx2       32            6                              16 (ymm)
 *   avx512     64            8                              32 (zmm)
 * A micro-tile is MR output channels x NV vectors along the output row, so it
 * keeps MR*NV accumulators, NV input vectors and one broadcast weight in registers.
 */
#ifndef FC_SIMD_H
#define FC_SIMD_H

#ifndef FC_ISA_SUFFIX
#error "compile with -DFC_ISA_SUFFIX=_baseline|_avx2|_avx512"
#endif

#if defined(FC_ISA_AVX512_BUILD)
#define FC_VBYTES 64
#define FC_MR 8
#define FC_WTB 4
#elif defined(FC_ISA_AVX2_BUILD)
#define FC_VBYTES 32
#define FC_MR 6
#define FC_WTB 2
#else
#define FC_VBYTES 16
#define FC_MR 4
#define FC_WTB 2
#endif
/* Weight-gradient tile: FC_WMR output channels x FC_WTB kernel taps. */
#define FC_WMR 4

#define FC_ISA_FN(name) FC_CAT(name, FC_ISA_SUFFIX)

#endif /* FC_SIMD_H */
