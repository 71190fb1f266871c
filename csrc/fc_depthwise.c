/*
 * fc_depthwise.c - SIMD path selection for the depthwise / separable / pointwise
 * kernels (fc_depthwise_simd.c), and their dtype- and ISA-independent parts:
 * the row-block geometry and the separable tile size.
 */
#include <stdlib.h>

#include "fc_depthwise.h"
#include "fc_dispatch.h"

int fc_dw_geom_init(fc_dw_geom *g, const fc_conv_params *p, fc_index rows, fc_index chunk,
                    fc_index vl)
{
    const fc_index OH = p->out[1], OW = p->out[2];
    const fc_index KD = p->k[0], KH = p->k[1], KW = p->k[2];
    const fc_index sh = p->stride[1], dh = p->dil[1];
    const fc_index sw = p->stride[2], dw = p->dil[2];
    g->slot_of = g->slot_pr = g->slot_first = g->taps = NULL;
    g->phase_used = NULL;

    g->rows = rows < OH ? rows : OH;
    if (g->rows < 1)
        g->rows = 1;
    chunk = chunk < OW ? chunk : OW;
    g->chunk = (chunk + vl - 1) / vl * vl;
    /* loads reach element ceil(cw / vl) * vl - 1 + taps[kw] < chunk + reach */
    g->plen = g->chunk + ((KW - 1) * dw) / sw + vl;
    g->plen = (g->plen + vl - 1) / vl * vl; /* phases start vector-aligned */
    g->row_stride = sw * g->plen;

    /* padded rows of a block, relative to y0*sh: yl*sh + kh*dh */
    const fc_index span = (g->rows - 1) * sh + (KH - 1) * dh + 1;
    fc_index *map = fc_scratch_alloc((size_t)span * sizeof(fc_index));
    g->slot_of = fc_scratch_alloc((size_t)(g->rows * KH) * sizeof(fc_index));
    g->slot_pr = fc_scratch_alloc((size_t)(g->rows * KH) * sizeof(fc_index));
    g->slot_first = fc_scratch_alloc((size_t)(g->rows * KH) * sizeof(fc_index));
    g->taps = fc_scratch_alloc((size_t)KW * sizeof(fc_index));
    g->phase_used = fc_scratch_calloc((size_t)sw, 1);
    if (!map || !g->slot_of || !g->slot_pr || !g->slot_first || !g->taps || !g->phase_used) {
        fc_scratch_free(map);
        fc_dw_geom_free(g);
        return FC_ENOMEM;
    }
    for (fc_index i = 0; i < span; i++)
        map[i] = -1;
    g->nslots = 0;
    for (fc_index yl = 0; yl < g->rows; yl++)
        for (fc_index kh = 0; kh < KH; kh++) {
            fc_index pr = yl * sh + kh * dh;
            if (map[pr] < 0) {
                map[pr] = g->nslots;
                g->slot_pr[g->nslots] = pr;
                g->slot_first[g->nslots] = yl;
                g->nslots++;
            }
            g->slot_of[yl * KH + kh] = map[pr];
        }
    fc_scratch_free(map);
    for (fc_index t = 0; t < KW; t++) {
        g->phase_used[(t * dw) % sw] = 1;
        g->taps[t] = ((t * dw) % sw) * g->plen + (t * dw) / sw;
    }
    size_t elems;
    if (fc_mul_overflows(KD * g->nslots, g->row_stride, &elems)) {
        fc_dw_geom_free(g);
        return FC_ENOMEM;
    }
    g->panel_elems = (fc_index)elems;
    return FC_OK;
}

void fc_dw_geom_free(fc_dw_geom *g)
{
    fc_scratch_free(g->slot_of);
    fc_scratch_free(g->slot_pr);
    fc_scratch_free(g->slot_first);
    fc_scratch_free(g->taps);
    fc_scratch_free(g->phase_used);
    g->slot_of = g->slot_pr = g->slot_first = g->taps = NULL;
    g->phase_used = NULL;
}

/* Pointwise column blocks a tile of `positions` outputs costs: the pointwise
 * micro-kernel covers positions two vectors at a time (at most 128 bytes; a
 * ragged last block costs a whole one). */
static fc_index sep_column_blocks(fc_index positions, size_t itemsize)
{
    const fc_index block = (fc_index)(128 / itemsize);
    return (positions + block - 1) / block;
}

void fc_separable_tile(const fc_conv_params *p, size_t itemsize, fc_index *rows,
                       fc_index *cols)
{
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    fc_index c = OW < FC_DW_CHUNK ? OW : FC_DW_CHUNK;
    fc_index r = 1;
    if (c == OW && OH > 0) {
        /* whole rows: as many as fit the budget (c_out * OW values per row) */
        fc_index per_row = p->c_out * OW * (fc_index)itemsize;
        r = per_row > 0 ? FC_SEP_TILE_BYTES / per_row : OH;
        r = r < 1 ? 1 : (r > OH ? OH : r);
        /* At least 8 tiles to share out (when there are rows to split), and
         * OH split evenly into row blocks (sizes differ by at most a row), so
         * the threads' last tiles end together.  Of the block counts from
         * that minimum to twice it, the one whose tiles waste the fewest
         * pointwise column blocks on ragged ends wins (the fewest on a tie).
         * Depends on the shape only. */
        const fc_index planes = p->n * OD;
        fc_index min_blocks = (OH + r - 1) / r;
        if (planes < 8 && min_blocks < (8 + planes - 1) / planes)
            min_blocks = (8 + planes - 1) / planes;
        if (min_blocks > OH)
            min_blocks = OH;
        r = (OH + min_blocks - 1) / min_blocks;
        fc_index best_cost = -1;
        for (fc_index b = min_blocks; b <= 2 * min_blocks && b <= OH; b++) {
            const fc_index rb = (OH + b - 1) / b;
            if ((OH + rb - 1) / rb != b)
                continue; /* blocks of at most rb rows: fewer than b of them */
            const fc_index tall = OH - b * (rb - 1); /* blocks of rb rows; the rest rb - 1 */
            const fc_index cost = tall * sep_column_blocks(rb * OW, itemsize)
                                  + (b - tall) * sep_column_blocks((rb - 1) * OW, itemsize);
            if (best_cost < 0 || cost < best_cost) {
                best_cost = cost;
                r = rb;
            }
        }
    }
    *rows = r;
    *cols = c;
}

FC_DECLARE_VARIANTS(int, fc_depthwise_fwd_f32,
                    (const fc_conv_params *, const float *, const float *, const float *,
                     float *))
FC_DECLARE_VARIANTS(int, fc_depthwise_fwd_f64,
                    (const fc_conv_params *, const double *, const double *, const double *,
                     double *))
FC_DECLARE_VARIANTS(int, fc_depthwise_bwd_input_f32,
                    (const fc_conv_params *, const float *, const float *, float *))
FC_DECLARE_VARIANTS(int, fc_depthwise_bwd_input_f64,
                    (const fc_conv_params *, const double *, const double *, double *))
FC_DECLARE_VARIANTS(int, fc_depthwise_bwd_weight_f32,
                    (const fc_conv_params *, const float *, const float *, float *, float *))
FC_DECLARE_VARIANTS(int, fc_depthwise_bwd_weight_f64,
                    (const fc_conv_params *, const double *, const double *, double *,
                     double *))
FC_DECLARE_VARIANTS(int, fc_separable_fwd_f32,
                    (const fc_conv_params *, fc_index, const float *, const float *,
                     const float *, const float *, const float *, float *))
FC_DECLARE_VARIANTS(int, fc_separable_fwd_f64,
                    (const fc_conv_params *, fc_index, const double *, const double *,
                     const double *, const double *, const double *, double *))
FC_DECLARE_VARIANTS(int, fc_pointwise_fwd_f32,
                    (const fc_pointwise_params *, const float *, const float *, const float *,
                     float *))
FC_DECLARE_VARIANTS(int, fc_pointwise_fwd_f64,
                    (const fc_pointwise_params *, const double *, const double *,
                     const double *, double *))
FC_DECLARE_VARIANTS(int, fc_pointwise_pairs_fwd_f32,
                    (const fc_pointwise_params *, const fc_index *, const float *, const float *,
                     const float *, float *))
FC_DECLARE_VARIANTS(int, fc_pointwise_pairs_fwd_f64,
                    (const fc_pointwise_params *, const fc_index *, const double *,
                     const double *, const double *, double *))
FC_DECLARE_VARIANTS(int, fc_pointwise_bwd_weight_f32,
                    (const fc_pointwise_params *, const float *, const float *, float *,
                     float *))
FC_DECLARE_VARIANTS(int, fc_pointwise_bwd_weight_f64,
                    (const fc_pointwise_params *, const double *, const double *, double *,
                     double *))

int fc_depthwise_fwd_f32(const fc_conv_params *p, const float *x, const float *w,
                         const float *bias, float *out)
{
    FC_DISPATCH(p->isa, fc_depthwise_fwd_f32, p, x, w, bias, out);
}

int fc_depthwise_fwd_f64(const fc_conv_params *p, const double *x, const double *w,
                         const double *bias, double *out)
{
    FC_DISPATCH(p->isa, fc_depthwise_fwd_f64, p, x, w, bias, out);
}

int fc_depthwise_bwd_input_f32(const fc_conv_params *p, const float *gy, const float *w,
                               float *gx)
{
    FC_DISPATCH(p->isa, fc_depthwise_bwd_input_f32, p, gy, w, gx);
}

int fc_depthwise_bwd_input_f64(const fc_conv_params *p, const double *gy, const double *w,
                               double *gx)
{
    FC_DISPATCH(p->isa, fc_depthwise_bwd_input_f64, p, gy, w, gx);
}

int fc_depthwise_bwd_weight_f32(const fc_conv_params *p, const float *gy, const float *x,
                                float *gw, float *gb)
{
    FC_DISPATCH(p->isa, fc_depthwise_bwd_weight_f32, p, gy, x, gw, gb);
}

int fc_depthwise_bwd_weight_f64(const fc_conv_params *p, const double *gy, const double *x,
                                double *gw, double *gb)
{
    FC_DISPATCH(p->isa, fc_depthwise_bwd_weight_f64, p, gy, x, gw, gb);
}

int fc_separable_fwd_f32(const fc_conv_params *p, fc_index c_pw, const float *x,
                         const float *w, const float *bias, const float *pw,
                         const float *pb, float *out)
{
    FC_DISPATCH(p->isa, fc_separable_fwd_f32, p, c_pw, x, w, bias, pw, pb, out);
}

int fc_separable_fwd_f64(const fc_conv_params *p, fc_index c_pw, const double *x,
                         const double *w, const double *bias, const double *pw,
                         const double *pb, double *out)
{
    FC_DISPATCH(p->isa, fc_separable_fwd_f64, p, c_pw, x, w, bias, pw, pb, out);
}

int fc_pointwise_fwd_f32(const fc_pointwise_params *q, const float *in, const float *w,
                         const float *bias, float *out)
{
    FC_DISPATCH(q->isa, fc_pointwise_fwd_f32, q, in, w, bias, out);
}

int fc_pointwise_pairs_fwd_f32(const fc_pointwise_params *q, const fc_index *geom,
                               const float *in, const float *w, const float *bias, float *out)
{
    FC_DISPATCH(q->isa, fc_pointwise_pairs_fwd_f32, q, geom, in, w, bias, out);
}

int fc_pointwise_pairs_fwd_f64(const fc_pointwise_params *q, const fc_index *geom,
                               const double *in, const double *w, const double *bias,
                               double *out)
{
    FC_DISPATCH(q->isa, fc_pointwise_pairs_fwd_f64, q, geom, in, w, bias, out);
}

int fc_pointwise_fwd_f64(const fc_pointwise_params *q, const double *in, const double *w,
                         const double *bias, double *out)
{
    FC_DISPATCH(q->isa, fc_pointwise_fwd_f64, q, in, w, bias, out);
}

int fc_pointwise_bwd_weight_f32(const fc_pointwise_params *q, const float *gy,
                                const float *in, float *gw, float *gb)
{
    FC_DISPATCH(q->isa, fc_pointwise_bwd_weight_f32, q, gy, in, gw, gb);
}

int fc_pointwise_bwd_weight_f64(const fc_pointwise_params *q, const double *gy,
                                const double *in, double *gw, double *gb)
{
    FC_DISPATCH(q->isa, fc_pointwise_bwd_weight_f64, q, gy, in, gw, gb);
}
