/*
 * fc_rows.template.h - input-row helpers shared by the convolution and depthwise
 * templates (one copy per dtype and SIMD path: included with FC_REAL and FC_DT
 * defined; needs fc_common.h for fc_pad_index).
 */
#ifndef FC_REAL
#error "FC_REAL must be defined (float or double) before including this template"
#endif

/* Both phases of a stride-2 row: d0[j] = xpad[c0 + 2j], d1[j] = xpad[c0 + 2j + 1]
 * for j < fill, xpad being the row src (W wide) through padding `mode`.  The
 * interior is one even/odd split the compiler vectorises; a strided copy per
 * phase was a fifth of the ResNet stem's time and most of stride-2 depthwise
 * panels'. */
#define FC_SPLIT_S2 FC_CAT(fc_split_s2_, FC_DT)
static void FC_SPLIT_S2(const FC_REAL *FC_RESTRICT src, fc_index W, fc_index c0, fc_index fill,
                        int mode, FC_REAL *FC_RESTRICT d0, FC_REAL *FC_RESTRICT d1)
{
    /* interior: lo <= j < hi has 0 <= c0 + 2j and c0 + 2j + 1 < W */
    fc_index lo = c0 >= 0 ? 0 : (1 - c0) / 2;
    fc_index hi = W - c0 > 0 ? (W - c0) / 2 : 0;
    lo = lo < fill ? lo : fill;
    hi = hi < fill ? hi : fill;
    hi = hi > lo ? hi : lo;
    const FC_REAL *FC_RESTRICT s = src + c0;
    for (fc_index j = lo; j < hi; j++) {
        d0[j] = s[2 * j];
        d1[j] = s[2 * j + 1];
    }
    for (fc_index j = 0; j < fill; j++) {
        if (j == lo)
            j = hi; /* skip the interior */
        if (j == fill)
            break;
        const fc_index a = fc_pad_index(c0 + 2 * j, W, mode);
        const fc_index b = fc_pad_index(c0 + 2 * j + 1, W, mode);
        d0[j] = a < 0 ? (FC_REAL)0 : src[a];
        d1[j] = b < 0 ? (FC_REAL)0 : src[b];
    }
}
