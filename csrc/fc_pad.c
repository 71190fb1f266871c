/*
 * fc_pad.c - explicit padding (float and double from one template).  This file
 * holds the dtype-independent inverted index map used by the backward pass.
 *
 * For one axis, the output cells that copy input cell i are the o with
 * fc_pad_index(o - before, in, mode) == i; they are listed, in increasing o,
 * as ent_o[start[i] .. start[i + 1]).
 */
#include <stdlib.h>
#include <string.h>

#include "fc_parallel.h"
#include "fc_pad.h"

typedef struct {
    fc_index *start; /* [in + 1] */
    fc_index *ent_o; /* [out]    */
} fc_pad_axis;

static void fc_pad_axis_free(fc_pad_axis *a)
{
    fc_scratch_free(a->start);
    fc_scratch_free(a->ent_o);
    a->start = a->ent_o = NULL;
}

/* Build the inverted map of one axis (a counting sort over o, so each list is
 * increasing).  Returns 0, or -1 on allocation failure (nothing allocated). */
static int fc_pad_axis_build(fc_pad_axis *a, fc_index n_in, fc_index n_out, fc_index before,
                             int mode)
{
    size_t start_bytes, ent_bytes;
    a->start = a->ent_o = NULL;
    if (fc_mul_overflows(n_in + 1, (fc_index)sizeof(fc_index), &start_bytes) ||
        fc_mul_overflows(n_out > 0 ? n_out : 1, (fc_index)sizeof(fc_index), &ent_bytes))
        return -1;
    a->start = fc_scratch_calloc(1, start_bytes);
    a->ent_o = fc_scratch_alloc(ent_bytes);
    if (!a->start || !a->ent_o) {
        fc_pad_axis_free(a);
        return -1;
    }
    fc_index *start = a->start;
    for (fc_index o = 0; o < n_out; o++) {
        const fc_index i = fc_pad_index(o - before, n_in, mode);
        if (i >= 0)
            start[i + 1]++;
    }
    for (fc_index i = 0; i < n_in; i++)
        start[i + 1] += start[i];
    /* start[i] is input i's fill cursor, ending at the next list's start ... */
    for (fc_index o = 0; o < n_out; o++) {
        const fc_index i = fc_pad_index(o - before, n_in, mode);
        if (i >= 0)
            a->ent_o[start[i]++] = o;
    }
    /* ... so shifting by one restores the starts */
    for (fc_index i = n_in; i > 0; i--)
        start[i] = start[i - 1];
    start[0] = 0;
    return 0;
}

/* The cell each output index of an axis reads (fc_pad_index, -1 for the
 * constant), for the forward pass: one allocation per axis and call instead of
 * a modulo per border cell.  NULL when it cannot be allocated. */
static fc_index *fc_pad_map(fc_index n_in, fc_index n_out, fc_index before, int mode)
{
    fc_index *map = fc_scratch_alloc((size_t)(n_out > 0 ? n_out : 1) * sizeof(fc_index));
    if (map)
        for (fc_index o = 0; o < n_out; o++)
            map[o] = n_in > 0 ? fc_pad_index(o - before, n_in, mode) : -1;
    return map;
}

#define FC_REAL float
#define FC_DT f32
#include "fc_pad.template.c"
#undef FC_REAL
#undef FC_DT

#define FC_REAL double
#define FC_DT f64
#include "fc_pad.template.c"
#undef FC_REAL
#undef FC_DT
