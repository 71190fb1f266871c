/*
 * fc_pool_simd.c - the pooling kernels, compiled once per SIMD path (see
 * fc_simd.h and csrc/meson.build) for float and double.  The loops are plain C
 * written so the compiler vectorises them (one output row at a time, the window
 * taps outermost, the row innermost); compiling them per path gives each path
 * its vector width.  fc_pool.c picks the path at run time.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fc_common.h"
#include "fc_pool.h"
#include "fc_simd.h"
#include "fc_parallel.h"

/* Interleaved partial results of a global reduction: lane j sums elements
 * j, j + FC_POOL_LANES, ...  A multiple of every vector width in elements. */
#define FC_POOL_LANES 16

/* Rows a value-only max output row can read through the row cache, at most
 * (the cache has twice as many entries). */
#define FC_POOL_CACHED_ROWS 8
/* A cached row of n values, padded to whole vectors of nl lanes. */
#define FC_POOL_CACHE_ROW(n, nl) (((n) + (nl) - 1) / (nl) * (nl))

/* The max rule on whole vectors, without indices: each lane of m takes v's
 * when v > m or v is NaN.  x86 MAX returns its second operand when either is
 * NaN, so max(v, m) is the rule but for a NaN in v, which a masked move puts
 * back: three instructions where the generic select takes five or six. */
typedef float fc_pool_vf32 __attribute__((vector_size(FC_VBYTES)));
typedef double fc_pool_vf64 __attribute__((vector_size(FC_VBYTES)));
typedef int32_t fc_pool_vi32 __attribute__((vector_size(FC_VBYTES)));
typedef int64_t fc_pool_vi64 __attribute__((vector_size(FC_VBYTES)));
#if defined(FC_ISA_AVX512_BUILD)
#include <immintrin.h>
FC_INLINE fc_pool_vf32 fc_pool_vtake_f32(fc_pool_vf32 m, fc_pool_vf32 v)
{
    const __m512 mx = _mm512_max_ps((__m512)v, (__m512)m);
    return (fc_pool_vf32)_mm512_mask_mov_ps(
        mx, _mm512_cmp_ps_mask((__m512)v, (__m512)v, _CMP_UNORD_Q), (__m512)v);
}
FC_INLINE fc_pool_vf64 fc_pool_vtake_f64(fc_pool_vf64 m, fc_pool_vf64 v)
{
    const __m512d mx = _mm512_max_pd((__m512d)v, (__m512d)m);
    return (fc_pool_vf64)_mm512_mask_mov_pd(
        mx, _mm512_cmp_pd_mask((__m512d)v, (__m512d)v, _CMP_UNORD_Q), (__m512d)v);
}
#elif defined(FC_ISA_AVX2_BUILD)
#include <immintrin.h>
FC_INLINE fc_pool_vf32 fc_pool_vtake_f32(fc_pool_vf32 m, fc_pool_vf32 v)
{
    const __m256 mx = _mm256_max_ps((__m256)v, (__m256)m);
    return (fc_pool_vf32)_mm256_blendv_ps(mx, (__m256)v,
                                          _mm256_cmp_ps((__m256)v, (__m256)v, _CMP_UNORD_Q));
}
FC_INLINE fc_pool_vf64 fc_pool_vtake_f64(fc_pool_vf64 m, fc_pool_vf64 v)
{
    const __m256d mx = _mm256_max_pd((__m256d)v, (__m256d)m);
    return (fc_pool_vf64)_mm256_blendv_pd(mx, (__m256d)v,
                                          _mm256_cmp_pd((__m256d)v, (__m256d)v, _CMP_UNORD_Q));
}
#else
FC_INLINE fc_pool_vf32 fc_pool_vtake_f32(fc_pool_vf32 m, fc_pool_vf32 v)
{
    const fc_pool_vi32 t = (v > m) | (v != v);
    return (fc_pool_vf32)(((fc_pool_vi32)v & t) | ((fc_pool_vi32)m & ~t));
}
FC_INLINE fc_pool_vf64 fc_pool_vtake_f64(fc_pool_vf64 m, fc_pool_vf64 v)
{
    const fc_pool_vi64 t = (v > m) | (v != v);
    return (fc_pool_vf64)(((fc_pool_vi64)v & t) | ((fc_pool_vi64)m & ~t));
}
#endif

/* ------------------------------------------------ dtype-free helpers ---- */

/* Outputs o in [0, nout) whose tap at offset `off` (cell o*s + off) lies in
 * [0, n): the half-open range [*lo, *hi). */
static inline void fc_pool_tap_range(fc_index off, fc_index s, fc_index n, fc_index nout,
                                     fc_index *lo, fc_index *hi)
{
    fc_index a = off >= 0 ? 0 : (-off + s - 1) / s;
    fc_index b = n - 1 - off < 0 ? 0 : (n - 1 - off) / s + 1;
    if (b > nout)
        b = nout;
    if (a > b)
        a = b;
    *lo = a;
    *hi = b;
}

/* Outputs whose (undilated) window [o*s - pad, o*s - pad + k) holds cell i:
 * [*lo, *hi), clamped to [0, nout). */
static inline void fc_pool_windows_of(fc_index i, fc_index k, fc_index s, fc_index pad,
                                      fc_index nout, fc_index *lo, fc_index *hi)
{
    fc_index first = i + pad - k + 1; /* smallest o*s with i inside */
    fc_index a = first <= 0 ? 0 : (first + s - 1) / s;
    fc_index b = (i + pad) / s + 1;
    if (b > nout)
        b = nout;
    if (a > b)
        a = b;
    *lo = a;
    *hi = b;
}

/* Average-pooling divisor factor of window o along one axis (see fc_pool.h). */
static inline fc_index fc_pool_avg_count(fc_index o, fc_index k, fc_index s, fc_index pad,
                                         fc_index n, int include_pad)
{
    fc_index start = o * s - pad, end = start + k;
    if (include_pad)
        return (end < n + pad ? end : n + pad) - start;
    return (end < n ? end : n) - (start > 0 ? start : 0);
}

/* First real cell of a dilated window starting at `start` (where PyTorch starts
 * its scan; the window holds one, see fc_pool.h). */
static inline fc_index fc_pool_first_cell(fc_index start, fc_index dil)
{
    while (start < 0)
        start += dil;
    return start;
}

/* Rows of the value-only max cache's ring per window tap along z: a power of
 * two no smaller than the window's span along y. */
static inline fc_index fc_pool_ring_rows(const fc_pool_params *p)
{
    fc_index r = 1;
    while (r < (p->k[1] - 1) * p->dil[1] + 1)
        r *= 2;
    return r;
}

/* May value-only max pooling run by cached rows (MAX_FWD_ROWS_CACHED)?  Stride
 * 2 and dilation 1 along x with taps kw - pad in [-2, 3] (MAX_HROW_S2), windows
 * overlapping along y (so rows are reused), k[0] rings that fit the cache. */
static inline int fc_pool_s2_rows_ok(const fc_pool_params *p)
{
    return p->stride[2] == 2 && p->dil[2] == 1 && p->pad[2] <= 2
           && p->k[2] - 1 - p->pad[2] <= 3 && p->stride[1] < (p->k[1] - 1) * p->dil[1] + 1
           && p->k[1] <= 2 * FC_POOL_CACHED_ROWS
           && p->k[0] * fc_pool_ring_rows(p) <= 2 * FC_POOL_CACHED_ROWS
           && p->k[0] * p->k[1] <= FC_POOL_CACHED_ROWS;
}

/* Per-call tables, one allocation each (read-only in the parallel loops).
 *   window pooling (fc_pool_window_tables):
 *     lo[kw], hi[kw]     the outputs of a row whose tap kw lies inside the row
 *                        (fc_pool_tap_range), so rows never divide
 *     k0[a][o], k1[a][o] the taps [k0, k1) of window o along axis a = 0, 1 (z, y)
 *                        that lie inside the input
 *     cnt[a][o]          avg divisor factor of window o along axis a (avg only)
 *   adaptive pooling (fc_pool_bin_tables):
 *     bs[a][o], be[a][o]    bin o along axis a is [bs, be)
 *     blo[a][i], bhi[a][i]  bins holding cell i: [blo, bhi) (with_inverse) */
typedef struct {
    fc_index *buf;
    fc_index *lo, *hi;
    fc_index *k0[2], *k1[2];
    fc_index *cnt[3];
    fc_index *bs[3], *be[3], *blo[3], *bhi[3];
} fc_pool_tables;

static int fc_pool_window_tables(const fc_pool_params *p, int with_counts, fc_pool_tables *t)
{
    const fc_index KW = p->k[2];
    const fc_index counts = with_counts ? p->out[0] + p->out[1] + p->out[2] : 0;
    const fc_index rows = 2 * (p->out[0] + p->out[1]);
    size_t bytes;
    /* kernel_size is bounded by no array's size, so the table's may overflow */
    if (KW > (PTRDIFF_MAX - counts - rows) / 2
        || fc_mul_overflows(2 * KW + rows + counts, (fc_index)sizeof(fc_index), &bytes)
        || !(t->buf = fc_scratch_alloc(bytes)))
        return FC_ENOMEM;
    t->lo = t->buf;
    t->hi = t->buf + KW;
    for (fc_index kw = 0; kw < KW; kw++)
        fc_pool_tap_range(kw * p->dil[2] - p->pad[2], p->stride[2], p->in[2], p->out[2],
                          &t->lo[kw], &t->hi[kw]);
    fc_index *q = t->buf + 2 * KW;
    for (int a = 0; a < 2; a++) {
        t->k0[a] = q;
        t->k1[a] = q + p->out[a];
        q += 2 * p->out[a];
        for (fc_index o = 0; o < p->out[a]; o++)
            fc_pool_tap_range(o * p->stride[a] - p->pad[a], p->dil[a], p->in[a], p->k[a],
                              &t->k0[a][o], &t->k1[a][o]);
    }
    if (!with_counts)
        return FC_OK;
    for (int a = 0; a < 3; a++) {
        t->cnt[a] = q;
        for (fc_index o = 0; o < p->out[a]; o++)
            q[o] = fc_pool_avg_count(o, p->k[a], p->stride[a], p->pad[a], p->in[a],
                                     p->count_include_pad);
        q += p->out[a];
    }
    return FC_OK;
}

static int fc_pool_bin_tables(const fc_pool_params *p, int with_inverse, fc_pool_tables *t)
{
    fc_index total = 0;
    for (int a = 0; a < 3; a++) {
        size_t prod;
        /* (o + 1) * in + out - 1 must fit */
        if (fc_mul_overflows(p->out[a], p->in[a], &prod) || prod > (size_t)PTRDIFF_MAX / 2)
            return FC_EINVAL;
        total += 2 * p->out[a] + (with_inverse ? 2 * p->in[a] : 0);
    }
    t->buf = fc_scratch_alloc((size_t)total * sizeof(fc_index));
    if (!t->buf)
        return FC_ENOMEM;
    fc_index *q = t->buf;
    for (int a = 0; a < 3; a++) {
        const fc_index n = p->in[a], m = p->out[a];
        t->bs[a] = q;
        t->be[a] = q + m;
        q += 2 * m;
        for (fc_index o = 0; o < m; o++) {
            t->bs[a][o] = o * n / m;
            t->be[a][o] = ((o + 1) * n + m - 1) / m;
        }
        if (!with_inverse)
            continue;
        t->blo[a] = q;
        t->bhi[a] = q + n;
        q += 2 * n;
        /* bin edges grow with o, so the bins holding a cell are consecutive */
        for (fc_index i = 0; i < n; i++)
            t->blo[a][i] = -1;
        for (fc_index o = 0; o < m; o++)
            for (fc_index i = t->bs[a][o]; i < t->be[a][o]; i++) {
                if (t->blo[a][i] < 0)
                    t->blo[a][i] = o;
                t->bhi[a][i] = o + 1;
            }
    }
    return FC_OK;
}

/* Total outputs / inputs of a call, overflow-checked. */
static int fc_pool_sizes(const fc_pool_params *p, size_t *in_plane, size_t *out_plane,
                         size_t *out_total)
{
    size_t a, b;
    if (fc_mul_overflows(p->in[0], p->in[1], &a)
        || fc_mul_overflows((fc_index)a, p->in[2], in_plane)
        || fc_mul_overflows(p->out[0], p->out[1], &b)
        || fc_mul_overflows((fc_index)b, p->out[2], out_plane)
        || fc_mul_overflows(p->planes, (fc_index)*out_plane, out_total))
        return FC_EINVAL;
    return FC_OK;
}

/* prototypes, so -Wmissing-prototypes is happy */
#define FC_POOL_PROTOTYPES(DT, REAL)                                                          \
    int FC_ISA_FN(fc_max_pool_fwd_##DT)(const fc_pool_params *, const REAL *, REAL *,        \
                                        int64_t *);                                           \
    int FC_ISA_FN(fc_max_pool_bwd_##DT)(const fc_pool_params *, const REAL *, const REAL *,  \
                                        REAL *);                                              \
    int FC_ISA_FN(fc_max_pool_route_##DT)(const fc_pool_params *, const int64_t *,           \
                                          const REAL *, REAL *);                              \
    int FC_ISA_FN(fc_avg_pool_fwd_##DT)(const fc_pool_params *, const REAL *, REAL *);       \
    int FC_ISA_FN(fc_avg_pool_bwd_##DT)(const fc_pool_params *, const REAL *, REAL *);       \
    int FC_ISA_FN(fc_adaptive_avg_pool_fwd_##DT)(const fc_pool_params *, const REAL *,       \
                                                 REAL *);                                     \
    int FC_ISA_FN(fc_adaptive_avg_pool_bwd_##DT)(const fc_pool_params *, const REAL *,       \
                                                 REAL *);                                     \
    int FC_ISA_FN(fc_adaptive_max_pool_fwd_##DT)(const fc_pool_params *, const REAL *,       \
                                                 REAL *, int64_t *);                          \
    int FC_ISA_FN(fc_adaptive_max_pool_bwd_##DT)(const fc_pool_params *, const REAL *,       \
                                                 const REAL *, REAL *);                       \
    int FC_ISA_FN(fc_global_avg_pool_fwd_##DT)(const fc_pool_params *, const REAL *, REAL *); \
    int FC_ISA_FN(fc_global_avg_pool_bwd_##DT)(const fc_pool_params *, const REAL *, REAL *); \
    int FC_ISA_FN(fc_global_max_pool_fwd_##DT)(const fc_pool_params *, const REAL *, REAL *); \
    int FC_ISA_FN(fc_global_max_pool_bwd_##DT)(const fc_pool_params *, const REAL *,         \
                                               const REAL *, REAL *);
FC_POOL_PROTOTYPES(f32, float)
FC_POOL_PROTOTYPES(f64, double)

#define FC_REAL float
#define FC_REAL_BYTES 4
#define FC_DT f32
#define FC_ILANE int32_t
#include "fc_pool.template.c"
#undef FC_REAL
#undef FC_REAL_BYTES
#undef FC_DT
#undef FC_ILANE

#define FC_REAL double
#define FC_REAL_BYTES 8
#define FC_DT f64
#define FC_ILANE int64_t
#include "fc_pool.template.c"
#undef FC_REAL
#undef FC_REAL_BYTES
#undef FC_DT
#undef FC_ILANE
