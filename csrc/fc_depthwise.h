/*
 * fc_depthwise.h - depthwise convolution (forward, backward) with a channel
 * multiplier, the fused separable convolution (depthwise, then 1x1), and the
 * pointwise (1x1) kernels the separable backward is composed of.
 *
 * A depthwise convolution is a grouped convolution with groups = c_in: output
 * channel o = c*m + j (multiplier m = c_out / c_in, j < m) reads input channel c
 * only.  It is described by an fc_conv_params with groups == c_in and c_out a
 * multiple of c_in, always in 3 spatial dims (2-D calls have D = 1).
 *
 * Arrays are C-contiguous:
 *   x          (n, c_in, in[0], in[1], in[2])
 *   w          (c_out, 1, k[0], k[1], k[2])          depthwise weights
 *   bias       (c_out,) or NULL
 *   out / gy   (n, c_out, out[0], out[1], out[2])
 *   pw         (c_pw, c_out)                          pointwise weights (1x1)
 *   pb         (c_pw,) or NULL                        pointwise bias
 * Every kernel fully overwrites its outputs, computes each output element in
 * one thread in a fixed order (results do not depend on p->num_threads), and
 * returns FC_OK, or FC_ENOMEM when scratch cannot be allocated.  p->isa picks
 * the SIMD path (baseline when that path was not compiled or is unsupported).
 */
#ifndef FC_DEPTHWISE_H
#define FC_DEPTHWISE_H

#include "fc_common.h"
#include "fc_params.h"

/* Output rows per depthwise task (row block), and outputs per row segment. */
#define FC_DW_BLOCK_ROWS 16
#define FC_DW_CHUNK 512

/* Per-thread budget for the separable convolution's depthwise tile, in bytes
 * (see fc_separable_tile). */
#define FC_SEP_TILE_BYTES ((fc_index)256 << 10)

/* Depthwise forward:
 *   out[n, o, z, y, x] = bias[o] + sum_{kd, kh, kw} w[o, 0, kd, kh, kw]
 *                        * xpad[n, o / m, z*sd + kd*dd, y*sh + kh*dh, x*sw + kw*dw]
 * p    the convolution (groups == c_in, c_out == m * c_in)
 * x    input; w depthwise weights; bias (c_out,) or NULL; out the result. */
int fc_depthwise_fwd_f32(const fc_conv_params *p, const float *x, const float *w,
                         const float *bias, float *out);
int fc_depthwise_fwd_f64(const fc_conv_params *p, const double *x, const double *w,
                         const double *bias, double *out);

/* Depthwise gradient with respect to the input (a gather over input cells;
 * for reflect / replicate / circular padding the gradient of every padded cell
 * is added to the input cell it reads):
 * p   the forward's parameters; gy the output gradient; w the weights;
 * gx  (n, c_in, in...) the input gradient. */
int fc_depthwise_bwd_input_f32(const fc_conv_params *p, const float *gy, const float *w,
                               float *gx);
int fc_depthwise_bwd_input_f64(const fc_conv_params *p, const double *gy, const double *w,
                               double *gx);

/* Depthwise gradients with respect to the weights and the bias:
 *   gw[o, 0, kd, kh, kw] = sum_{n, z, y, x} gy[n, o, z, y, x] * xpad[n, o / m, ...]
 *   gb[o] = sum_{n, z, y, x} gy[n, o, z, y, x]
 * p   the forward's parameters; gy the output gradient; x the forward's input;
 * gw  (c_out, 1, k...) weight gradient; gb (c_out,) bias gradient, or NULL to
 * skip it. */
int fc_depthwise_bwd_weight_f32(const fc_conv_params *p, const float *gy, const float *x,
                                float *gw, float *gb);
int fc_depthwise_bwd_weight_f64(const fc_conv_params *p, const double *gy, const double *x,
                                double *gw, double *gb);

/* Separable forward, depthwise then pointwise, fused:
 *   out[n, q, z, y, x] = pb[q] + sum_o pw[q, o] * dw(x)[n, o, z, y, x]
 * where dw(x) is fc_depthwise_fwd with weights w and bias.  The depthwise
 * result is never materialised: each task (image, depth, tile of output rows /
 * row segment, see fc_separable_tile) computes it for all c_out channels into a
 * per-thread tile and multiplies that tile by pw.
 * p     the depthwise convolution; c_pw the pointwise output channels (>= 1);
 * x, w, bias as for fc_depthwise_fwd; pw (c_pw, c_out); pb (c_pw,) or NULL;
 * out   (n, c_pw, out[0], out[1], out[2]). */
int fc_separable_fwd_f32(const fc_conv_params *p, fc_index c_pw, const float *x,
                         const float *w, const float *bias, const float *pw,
                         const float *pb, float *out);
int fc_separable_fwd_f64(const fc_conv_params *p, fc_index c_pw, const double *x,
                         const double *w, const double *bias, const double *pw,
                         const double *pb, double *out);

/* Tile of the fused separable kernel: output rows per tile (*rows) and outputs
 * per row (*cols).  Either *cols == out[2] (whole rows) or *rows == 1 (a row
 * segment), so a tile is a contiguous run of each output plane.  The tile holds
 * c_out * rows * cols depthwise values, at most max(FC_SEP_TILE_BYTES,
 * c_out * FC_DW_CHUNK * itemsize) bytes plus vector padding; rows is also
 * reduced until the call has at least 8 tiles (when there are rows to split),
 * independently of the thread count.  The kernel splits the out[1] rows
 * evenly into ceil(out[1] / rows) blocks of at most rows rows. */
void fc_separable_tile(const fc_conv_params *p, size_t itemsize, fc_index *rows,
                       fc_index *cols);

/* Pointwise (1x1) kernels on flattened positions. */
typedef struct {
    fc_index n;          /* batch size (>= 0)                     */
    fc_index c_in;       /* input channels K (>= 1), per group    */
    fc_index c_out;      /* output channels M (>= 1), per group   */
    fc_index size;       /* positions per channel P (>= 1)        */
    int num_threads;     /* threads for this call, >= 1           */
    int isa;             /* fc_isa to run                         */
    int w_kmajor;        /* forward: w is stored (c_in, c_out)    */
    fc_index groups;     /* forward: G >= 1 independent products  */
} fc_pointwise_params;

/* Per group g < G:
 *     out[n, g*M + o, p] = bias[g*M + o] + sum_k w_g[o, k] * in[n, g*K + k, p]
 * in (n, G*K, size); w the G groups' weights one after another, each (M, K),
 * or (K, M) holding w_g[o, k] at [k, o] when q->w_kmajor (a transposed product,
 * without a transposed copy); bias (G*M,) or NULL; out (n, G*M, size).  One
 * call, one parallel region, for all groups and images. */
int fc_pointwise_fwd_f32(const fc_pointwise_params *q, const float *in, const float *w,
                         const float *bias, float *out);
int fc_pointwise_fwd_f64(const fc_pointwise_params *q, const double *in, const double *w,
                         const double *bias, double *out);

/* A transposed convolution whose kernel equals its stride, 2 along the last
 * axis: geom = (D, H, W, KD, KH), the input's spatial size and the kernel's
 * first two sizes; per group g
 *   out[n, g*cy + o, z*KD + kz, y*KH + ky, 2x + kx]
 *       = bias[g*M + m] + sum_k w_g[k, m] * in[n, g*K + k, z, y, x]
 * with m = ((o*KD + kz)*KH + ky)*2 + kx: q->c_in = K, q->c_out = M = cy*KD*KH*2,
 * q->size = D*H*W, w the groups' (K, M) weights (the transposed convolution's
 * weight as it lies), bias per row m (G*M,) or NULL (q->w_kmajor is ignored);
 * out (n, G*cy, D*KD, H*KH, 2W). */
int fc_pointwise_pairs_fwd_f32(const fc_pointwise_params *q, const fc_index *geom,
                               const float *in, const float *w, const float *bias, float *out);
int fc_pointwise_pairs_fwd_f64(const fc_pointwise_params *q, const fc_index *geom,
                               const double *in, const double *w, const double *bias,
                               double *out);

/* gw[o, k] = sum_{n, p} gy[n, o, p] * in[n, k, p];  gb[o] = sum_{n, p} gy[n, o, p]
 * gy (n, c_out, size); in (n, c_in, size); gw (c_out, c_in); gb (c_out,) or NULL. */
int fc_pointwise_bwd_weight_f32(const fc_pointwise_params *q, const float *gy,
                                const float *in, float *gw, float *gb);
int fc_pointwise_bwd_weight_f64(const fc_pointwise_params *q, const double *gy,
                                const double *in, double *gw, double *gb);

/* ---- internal: shared by the SIMD builds (fc_depthwise_simd.c) ---------- */

/* Row-block geometry of a depthwise call.  A task computes output rows
 * [y0, y0 + ny), ny <= rows, of one depth z, over a row segment of at most
 * `chunk` outputs.  The padded input rows it reads, for each kd, are gathered
 * once into "slots" of a per-thread panel: slot s holds padded row
 * y0*sh + slot_pr[s] (relative to the padded input), split into sw phases of
 * plen elements: phase q, element j = xpad[.., (x0 + j)*sw + q].  Output row yl,
 * kernel row kh reads slot slot_of[yl*KH + kh]; tap kw of output j reads
 * element j + taps[kw] of the slot's row. */
typedef struct {
    fc_index rows;          /* output rows per block                          */
    fc_index chunk;         /* outputs per row segment                        */
    fc_index plen;          /* elements per phase (chunk + reach + slack)     */
    fc_index row_stride;    /* sw * plen                                      */
    fc_index nslots;        /* padded rows per block and kd                   */
    fc_index panel_elems;   /* k[0] * nslots * row_stride                     */
    fc_index *slot_of;      /* [rows * k[1]]                                  */
    fc_index *slot_pr;      /* [nslots]                                       */
    fc_index *slot_first;   /* [nslots] first block row that reads the slot   */
    fc_index *taps;         /* [k[2]] (t*dw % sw) * plen + t*dw / sw          */
    unsigned char *phase_used; /* [sw] 1 when some tap reads the phase        */
} fc_dw_geom;

/* Fill *g for blocks of `rows` output rows and segments of `chunk` outputs,
 * vectors of `vl` elements.  Returns FC_OK or FC_ENOMEM (then *g needs no free). */
int fc_dw_geom_init(fc_dw_geom *g, const fc_conv_params *p, fc_index rows, fc_index chunk,
                    fc_index vl);
void fc_dw_geom_free(fc_dw_geom *g);

#endif /* FC_DEPTHWISE_H */
