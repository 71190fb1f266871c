/*
 * fc_pool.c - SIMD path selection for the pooling kernels (fc_pool.h); the
 * kernels themselves are in fc_pool.template.c, compiled per path by
 * fc_pool_simd.c.
 */
#include "fc_dispatch.h"
#include "fc_pool.h"

/* One dispatcher per kernel and dtype: declare the per-path variants, then
 * forward to the one p->isa names. */
#define FC_POOL_DISPATCHER(name, params, ...)          \
    FC_DECLARE_VARIANTS(int, name, params)             \
    int name params { FC_DISPATCH(p->isa, name, __VA_ARGS__); }

#define FC_POOL_DISPATCHERS(DT, REAL)                                                          \
    FC_POOL_DISPATCHER(fc_max_pool_fwd_##DT,                                                  \
                       (const fc_pool_params *p, const REAL *x, REAL *out, int64_t *idx),     \
                       p, x, out, idx)                                                        \
    FC_POOL_DISPATCHER(fc_max_pool_bwd_##DT,                                                  \
                       (const fc_pool_params *p, const REAL *x, const REAL *grad_out,         \
                        REAL *grad_in),                                                       \
                       p, x, grad_out, grad_in)                                               \
    FC_POOL_DISPATCHER(fc_max_pool_route_##DT,                                                \
                       (const fc_pool_params *p, const int64_t *idx, const REAL *grad_out,    \
                        REAL *grad_in),                                                       \
                       p, idx, grad_out, grad_in)                                             \
    FC_POOL_DISPATCHER(fc_avg_pool_fwd_##DT,                                                  \
                       (const fc_pool_params *p, const REAL *x, REAL *out), p, x, out)        \
    FC_POOL_DISPATCHER(fc_avg_pool_bwd_##DT,                                                  \
                       (const fc_pool_params *p, const REAL *grad_out, REAL *grad_in),        \
                       p, grad_out, grad_in)                                                  \
    FC_POOL_DISPATCHER(fc_adaptive_avg_pool_fwd_##DT,                                         \
                       (const fc_pool_params *p, const REAL *x, REAL *out), p, x, out)        \
    FC_POOL_DISPATCHER(fc_adaptive_avg_pool_bwd_##DT,                                         \
                       (const fc_pool_params *p, const REAL *grad_out, REAL *grad_in),        \
                       p, grad_out, grad_in)                                                  \
    FC_POOL_DISPATCHER(fc_adaptive_max_pool_fwd_##DT,                                         \
                       (const fc_pool_params *p, const REAL *x, REAL *out, int64_t *idx),     \
                       p, x, out, idx)                                                        \
    FC_POOL_DISPATCHER(fc_adaptive_max_pool_bwd_##DT,                                         \
                       (const fc_pool_params *p, const REAL *x, const REAL *grad_out,         \
                        REAL *grad_in),                                                       \
                       p, x, grad_out, grad_in)                                               \
    FC_POOL_DISPATCHER(fc_global_avg_pool_fwd_##DT,                                           \
                       (const fc_pool_params *p, const REAL *x, REAL *out), p, x, out)        \
    FC_POOL_DISPATCHER(fc_global_avg_pool_bwd_##DT,                                           \
                       (const fc_pool_params *p, const REAL *grad_out, REAL *grad_in),        \
                       p, grad_out, grad_in)                                                  \
    FC_POOL_DISPATCHER(fc_global_max_pool_fwd_##DT,                                           \
                       (const fc_pool_params *p, const REAL *x, REAL *out), p, x, out)        \
    FC_POOL_DISPATCHER(fc_global_max_pool_bwd_##DT,                                           \
                       (const fc_pool_params *p, const REAL *x, const REAL *grad_out,         \
                        REAL *grad_in),                                                       \
                       p, x, grad_out, grad_in)

FC_POOL_DISPATCHERS(f32, float)
FC_POOL_DISPATCHERS(f64, double)
