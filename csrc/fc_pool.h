/*
 * fc_pool.h - pooling kernels, forward and backward (N-d: 1-D and 2-D calls use
 * size-1 leading spatial dimensions).
 *
 * Every array is C-contiguous and made of `planes` = n * c independent (n, c)
 * planes, each a (D, H, W) block:
 *   x, grad_in          (planes, in[0], in[1], in[2])
 *   out, grad_out, idx  (planes, out[0], out[1], out[2])
 * Outputs are fully overwritten.  idx holds int64 flat offsets into the input
 * plane, (z * H + y) * W + x, as PyTorch returns them.
 *
 * Max windows compare with `v > m || isnan(v)` in (z, y, x) order, starting from
 * m = -inf and the window's first real cell, as PyTorch does: the first maximum
 * wins a tie, a NaN makes the result NaN (its index is the window's last NaN),
 * padded cells never win.  Max backward adds each gradient to the input cell its
 * window's maximum came from.
 *
 * Each output element (or input-gradient element, for the gather backwards) is
 * computed by one thread in a fixed order, so results are bitwise identical for
 * any p->num_threads.  Every kernel returns FC_OK, FC_ENOMEM when scratch cannot
 * be allocated, or FC_EINVAL for arguments the Python layer should have rejected.
 */
#ifndef FC_POOL_H
#define FC_POOL_H

#include <stdint.h>

#include "fc_common.h"

typedef struct {
    fc_index planes;        /* n * c, independent planes (>= 0)                    */
    fc_index in[3];         /* input sizes (D, H, W), each >= 1                    */
    fc_index out[3];        /* output sizes (D, H, W), each >= 1                   */
    fc_index k[3];          /* window sizes, >= 1 (max/avg pooling only)           */
    fc_index stride[3];     /* window strides, >= 1 (max/avg pooling only)         */
    fc_index dil[3];        /* window dilations, >= 1 (max pooling; 1 for avg)     */
    fc_index pad[3];        /* implicit padding before (and after) each axis,
                               0 <= pad <= k / 2 (max/avg pooling only)            */
    int count_include_pad;  /* avg pooling: padded cells count in the divisor      */
    int num_threads;        /* threads for this call, >= 1                         */
    int isa;                /* fc_isa to run                                       */
} fc_pool_params;

/*
 * Max pooling.  Window o along an axis covers cells o*stride - pad + j*dil,
 * j < k, of which only those inside the input take part (every window must hold
 * at least one).
 *   fwd: out = window maxima; idx = their offsets, or NULL when not wanted.
 *   bwd: grad_in = sum over windows of grad_out routed to the window's maximum
 *        (recomputed from x), added in increasing output order per plane.
 */
int fc_max_pool_fwd_f32(const fc_pool_params *p, const float *x, float *out, int64_t *idx);
int fc_max_pool_fwd_f64(const fc_pool_params *p, const double *x, double *out, int64_t *idx);
int fc_max_pool_bwd_f32(const fc_pool_params *p, const float *x, const float *grad_out,
                        float *grad_in);
int fc_max_pool_bwd_f64(const fc_pool_params *p, const double *x, const double *grad_out,
                        double *grad_in);

/*
 * Max backward from saved indices (max and adaptive max pooling alike; only
 * planes, in, out, num_threads, isa are read): grad_in = grad_out added at
 * idx, the offsets a forward call returned, in increasing output order per
 * plane, so the result is bitwise the recomputing backward's when idx came
 * from the same x.  Each offset is checked as it is read: one outside
 * [0, in plane size) stops its plane and the call returns FC_ERANGE (grad_in
 * is then partly written; the caller raises).  A separate pass over the
 * indices cost as much as a twentieth of the backward.
 */
int fc_max_pool_route_f32(const fc_pool_params *p, const int64_t *idx, const float *grad_out,
                          float *grad_in);
int fc_max_pool_route_f64(const fc_pool_params *p, const int64_t *idx, const double *grad_out,
                          double *grad_in);

/*
 * Average pooling (p->dil must be 1).  Window o along an axis starts at
 * s = o*stride - pad and ends at e = s + k; the divisor is the product over axes
 * of  min(e, in + pad) - s      (count_include_pad: padding counts, cells past
 *                                the padded input that ceil_mode adds do not)
 * or  min(e, in) - max(s, 0)    (real cells only).
 *   fwd: out = (sum of the window's real cells, in (z, y, x) order) / divisor.
 *   bwd: grad_in[i] = sum over the windows holding cell i, in increasing output
 *        order, of grad_out / divisor (a gather: one thread per input row).
 */
int fc_avg_pool_fwd_f32(const fc_pool_params *p, const float *x, float *out);
int fc_avg_pool_fwd_f64(const fc_pool_params *p, const double *x, double *out);
int fc_avg_pool_bwd_f32(const fc_pool_params *p, const float *grad_out, float *grad_in);
int fc_avg_pool_bwd_f64(const fc_pool_params *p, const double *grad_out, double *grad_in);

/*
 * Adaptive pooling (only planes, in, out, num_threads, isa are read).  Bin o of
 * an axis of `in` cells split into `out` bins covers cells
 *   [floor(o * in / out), ceil((o + 1) * in / out))
 * (bins overlap when out does not divide in).
 *   avg fwd: out = sum of the bin / bin_d / bin_h / bin_w (divided in that order,
 *            as PyTorch does); bwd: the gather of grad_out / bin_d / bin_h / bin_w
 *            over the bins holding each cell, in increasing output order.
 *   max fwd/bwd: as max pooling, over bins instead of windows.
 */
int fc_adaptive_avg_pool_fwd_f32(const fc_pool_params *p, const float *x, float *out);
int fc_adaptive_avg_pool_fwd_f64(const fc_pool_params *p, const double *x, double *out);
int fc_adaptive_avg_pool_bwd_f32(const fc_pool_params *p, const float *grad_out,
                                 float *grad_in);
int fc_adaptive_avg_pool_bwd_f64(const fc_pool_params *p, const double *grad_out,
                                 double *grad_in);
int fc_adaptive_max_pool_fwd_f32(const fc_pool_params *p, const float *x, float *out,
                                 int64_t *idx);
int fc_adaptive_max_pool_fwd_f64(const fc_pool_params *p, const double *x, double *out,
                                 int64_t *idx);
int fc_adaptive_max_pool_bwd_f32(const fc_pool_params *p, const float *x,
                                 const float *grad_out, float *grad_in);
int fc_adaptive_max_pool_bwd_f64(const fc_pool_params *p, const double *x,
                                 const double *grad_out, double *grad_in);

/*
 * Global pooling: one value per plane of `size` = D*H*W cells (only planes,
 * in, num_threads, isa are read).  The reduction runs over FC_POOL_LANES
 * interleaved partial results combined in a fixed order, so it vectorises and
 * gives the same bits on every SIMD path.
 *   avg fwd: out[p] = sum(x[p]) / size;  bwd: grad_in[p, :] = grad_out[p] / size.
 *   max fwd: out[p] = max(x[p]) (NaN if the plane holds one);
 *   max bwd: grad_in[p] is zero but at the cell adaptive max pooling to size 1
 *            picks (the first maximum; the last NaN if there is one).
 */
int fc_global_avg_pool_fwd_f32(const fc_pool_params *p, const float *x, float *out);
int fc_global_avg_pool_fwd_f64(const fc_pool_params *p, const double *x, double *out);
int fc_global_avg_pool_bwd_f32(const fc_pool_params *p, const float *grad_out,
                               float *grad_in);
int fc_global_avg_pool_bwd_f64(const fc_pool_params *p, const double *grad_out,
                               double *grad_in);
int fc_global_max_pool_fwd_f32(const fc_pool_params *p, const float *x, float *out);
int fc_global_max_pool_fwd_f64(const fc_pool_params *p, const double *x, double *out);
int fc_global_max_pool_bwd_f32(const fc_pool_params *p, const float *x,
                               const float *grad_out, float *grad_in);
int fc_global_max_pool_bwd_f64(const fc_pool_params *p, const double *x,
                               const double *grad_out, double *grad_in);

#endif /* FC_POOL_H */
