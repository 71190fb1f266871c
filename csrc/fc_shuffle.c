/*
 * fc_shuffle.c - channel shuffle (float and double from one template).
 */
#include <string.h>

#include "fc_parallel.h"
#include "fc_shuffle.h"

/* The input channel that output channel co of a shuffle with `groups` groups
 * of C channels copies (see fc_shuffle.h). */
static inline fc_index fc_shuffle_src(fc_index co, fc_index c, fc_index groups)
{
    return (co % groups) * (c / groups) + co / groups;
}

#define FC_REAL float
#define FC_DT f32
#include "fc_shuffle.template.c"
#undef FC_REAL
#undef FC_DT

#define FC_REAL double
#define FC_DT f64
#include "fc_shuffle.template.c"
#undef FC_REAL
#undef FC_DT
