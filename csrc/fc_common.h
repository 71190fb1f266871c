/*
 * fc_common.h - types, status codes, naming macros and the padding-mode index map
 * shared by every fastconv kernel.
 *
 * Kernels never see a Python object: they take pointers to C-contiguous arrays,
 * sizes as fc_index (ptrdiff_t) and a parameter struct, and return a status.
 * Arguments are validated (and all size products overflow-checked) in Python
 * before a kernel is called; C only asserts in debug builds.
 */
#ifndef FC_COMMON_H
#define FC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "fc_scratch.h" /* kernels allocate their per-call scratch through it */

typedef ptrdiff_t fc_index;

#if defined(__GNUC__) || defined(__clang__)
#define FC_RESTRICT __restrict__
#define FC_INLINE static inline __attribute__((always_inline))
#define FC_MAYBE_UNUSED __attribute__((unused))
#else
#define FC_RESTRICT
#define FC_INLINE static inline
#define FC_MAYBE_UNUSED
#endif

#define FC_CAT_(a, b) a##b
#define FC_CAT(a, b) FC_CAT_(a, b)

/* Status codes returned by every kernel. */
enum {
    FC_OK = 0,
    FC_ENOMEM = 1,  /* a scratch allocation failed -> MemoryError */
    FC_EINVAL = 2,  /* arguments the Python layer should have rejected (a bug) */
    FC_ERANGE = 3,  /* a saved max-pooling index outside its plane (user input) */
};

/*
 * Padding modes.  Reading index i of a line of n samples (edges shown for n = 4,
 * samples abcd, two cells of padding on each side):
 *   FC_PAD_ZEROS      00|abcd|00    outside reads as 0 (fc_pad_index returns -1)
 *   FC_PAD_REFLECT    cb|abcd|cb    mirror about the edge sample, edge not repeated
 *   FC_PAD_REPLICATE  aa|abcd|dd    edge sample repeated
 *   FC_PAD_CIRCULAR   cd|abcd|ab    wrap around
 */
typedef enum {
    FC_PAD_ZEROS = 0,
    FC_PAD_REFLECT = 1,
    FC_PAD_REPLICATE = 2,
    FC_PAD_CIRCULAR = 3,
} fc_padmode;

/* Map a possibly out-of-range index i of a line of length n (n >= 1) to the
 * index it reads under `mode`, or -1 when it reads a zero.  Reflect is treated
 * as periodic with period 2(n-1), so it is defined for any i. */
static inline fc_index fc_pad_index(fc_index i, fc_index n, int mode)
{
    if (i >= 0 && i < n)
        return i;
    switch (mode) {
    case FC_PAD_REFLECT: {
        if (n == 1)
            return 0;
        fc_index period = 2 * (n - 1);
        fc_index r = i % period;
        if (r < 0)
            r += period;
        return r < n ? r : period - r;
    }
    case FC_PAD_REPLICATE:
        return i < 0 ? 0 : n - 1;
    case FC_PAD_CIRCULAR: {
        fc_index r = i % n;
        return r < 0 ? r + n : r;
    }
    default:
        return -1;
    }
}

/* SIMD paths.  The kernels in fc_*_simd.c are compiled once per path; the
 * Python layer picks one at import (the best the CPU reports) and passes it in
 * every call, so tests can run each compiled path. */
typedef enum {
    FC_ISA_BASELINE = 0, /* the compiler's default for the target (SSE2 on x86-64) */
    FC_ISA_AVX2 = 1,     /* AVX2 + FMA */
    FC_ISA_AVX512 = 2,   /* AVX-512F */
    FC_ISA_COUNT = 3,
} fc_isa;

/* *r = a * b for non-negative a, b; returns 1 (and leaves *r unspecified) when
 * the product does not fit in fc_index. */
static inline int fc_mul_overflows(fc_index a, fc_index b, size_t *r)
{
    fc_index p;
    if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &p))
        return 1;
    *r = (size_t)p;
    return 0;
}

/* Position (plane, z, y) of row r in a stack of planes of nz x ny rows, for
 * kernels whose tasks are runs of rows: divided out once per run, then
 * stepped row by row (three integer divisions per row cost more than a short
 * row's work). */
typedef struct {
    fc_index plane, z, y, nz, ny;
} fc_rowpos;

static inline fc_rowpos fc_rowpos_at(fc_index r, fc_index nz, fc_index ny)
{
    fc_rowpos q = {r / (nz * ny), r / ny % nz, r % ny, nz, ny};
    return q;
}

static inline void fc_rowpos_next(fc_rowpos *q)
{
    if (++q->y == q->ny) {
        q->y = 0;
        if (++q->z == q->nz) {
            q->z = 0;
            q->plane++;
        }
    }
}

#endif /* FC_COMMON_H */
