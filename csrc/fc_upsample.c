/*
 * fc_upsample.c - nearest and linear resampling (float and double from one
 * template).  This file holds the dtype-independent index tables; the
 * weights, forward and backward loops are in fc_upsample.template.c.
 *
 * Per axis, each output index o reads `taps` input indices (1 for nearest and
 * for an axis that keeps its size, else 2 for linear):
 *     idx[o * taps + t]                         forward: the input index of tap t
 * and the backward pass reads the same map inverted, as lists per input index:
 *     entries [start[i], start[i + 1]) of (ent_o, ent_slot)
 *                                               the outputs o reading input i, in
 *                                               increasing o, and the tap slot
 *                                               o * taps + t they read it through
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fc_parallel.h"
#include "fc_upsample.h"

typedef struct {
    fc_index n_in, n_out, taps;
    fc_index *idx;      /* [n_out * taps] */
    fc_index *start;    /* [n_in + 1], backward only */
    fc_index *ent_o;    /* [n_out * taps], backward only */
    fc_index *ent_slot; /* [n_out * taps], backward only */
} fc_upsample_axis;

static void fc_upsample_axis_free(fc_upsample_axis *a)
{
    fc_scratch_free(a->idx);
    fc_scratch_free(a->start);
    fc_scratch_free(a->ent_o);
    fc_scratch_free(a->ent_slot);
    memset(a, 0, sizeof(*a));
}

/* Allocate the tables of one axis; returns 0, or -1 (nothing left allocated). */
static int fc_upsample_axis_alloc(fc_upsample_axis *a, fc_index n_in, fc_index n_out,
                                  fc_index taps, int inverse)
{
    size_t slots, bytes, start_bytes;
    memset(a, 0, sizeof(*a));
    a->n_in = n_in;
    a->n_out = n_out;
    a->taps = taps;
    if (fc_mul_overflows(n_out, taps, &slots) ||
        fc_mul_overflows((fc_index)slots, (fc_index)sizeof(fc_index), &bytes) ||
        fc_mul_overflows(n_in + 1, (fc_index)sizeof(fc_index), &start_bytes))
        return -1;
    a->idx = fc_scratch_alloc(bytes);
    if (inverse) {
        a->start = fc_scratch_alloc(start_bytes);
        a->ent_o = fc_scratch_alloc(bytes);
        a->ent_slot = fc_scratch_alloc(bytes);
    }
    if (!a->idx || (inverse && (!a->start || !a->ent_o || !a->ent_slot))) {
        fc_upsample_axis_free(a);
        return -1;
    }
    return 0;
}

/* PyTorch's nearest rule (its nearest_idx), float32 arithmetic for every
 * dtype so that the same input cells are picked. */
static fc_index fc_upsample_nearest_src(fc_index o, fc_index n_in, fc_index n_out, double scale)
{
    if (n_out == n_in)
        return o;
    if (n_out == 2 * n_in)
        return o >> 1;
    const float s = scale > 0.0 ? (float)(1.0 / scale) : (float)n_in / (float)n_out;
    const fc_index src = (fc_index)floorf((float)o * s);
    return src < n_in - 1 ? src : n_in - 1;
}

static void fc_upsample_nearest_fill(fc_upsample_axis *a, double scale)
{
    for (fc_index o = 0; o < a->n_out; o++)
        a->idx[o] = fc_upsample_nearest_src(o, a->n_in, a->n_out, scale);
}

/* The integer factor f when a one-tap axis reads idx[o] == o / f for every o
 * (each input cell repeated f times), else 0. */
static fc_index fc_upsample_replication(const fc_upsample_axis *a)
{
    if (a->taps != 1 || a->n_out % a->n_in)
        return 0;
    const fc_index f = a->n_out / a->n_in;
    for (fc_index o = 0; o < a->n_out; o++)
        if (a->idx[o] != o / f)
            return 0;
    return f;
}

/* Invert idx into per-input lists (a counting sort, stable in the slot order,
 * so each list is in increasing output index). */
static void fc_upsample_build_inverse(fc_upsample_axis *a)
{
    const fc_index slots = a->n_out * a->taps;
    fc_index *start = a->start;
    memset(start, 0, (size_t)(a->n_in + 1) * sizeof(fc_index));
    for (fc_index k = 0; k < slots; k++)
        start[a->idx[k] + 1]++;
    for (fc_index i = 0; i < a->n_in; i++)
        start[i + 1] += start[i];
    /* start[i] serves as input i's fill cursor, ending at the next list's start ... */
    for (fc_index k = 0; k < slots; k++) {
        const fc_index e = start[a->idx[k]]++;
        a->ent_slot[e] = k;
        a->ent_o[e] = k / a->taps;
    }
    /* ... so shifting by one restores the starts */
    for (fc_index i = a->n_in; i > 0; i--)
        start[i] = start[i - 1];
    start[0] = 0;
}

#define FC_REAL float
#define FC_DT f32
#define FC_FLOOR floorf
#include "fc_upsample.template.c"
#undef FC_REAL
#undef FC_DT
#undef FC_FLOOR

#define FC_REAL double
#define FC_DT f64
#define FC_FLOOR floor
#include "fc_upsample.template.c"
#undef FC_REAL
#undef FC_DT
#undef FC_FLOOR
