/*
 * fc_pool.template.c - pooling forward and backward kernels, one dtype.
 * Included by fc_pool_simd.c with FC_REAL (float/double) and FC_DT (f32/f64).
 * Semantics of every kernel: fc_pool.h.
 *
 * Loop structure.  A plane is (D, H, W); forward work is split into output rows
 * (plane, z, y), gather backwards into input rows (plane, z, y), so the OpenMP
 * team has many equal tasks even when n * c is small.  Within a row, windowed
 * pooling walks the taps of the window, (kd, kh) then kw, and for each tap
 * updates the whole row of outputs it reaches:
 *
 *     out[ox] = op(out[ox], x[iz, iy, ox*sw + kw*dw - pw])   for ox in [lo, hi)
 *
 * which reads the input row with constant stride and vectorises; [lo, hi) are
 * the outputs whose tap falls inside the input (padding and cells past the end
 * that ceil_mode adds are simply not visited).  Per output, cells are still
 * visited in (z, y, x) order, so ties, NaN and rounding behave as a scalar loop
 * over the window would.  Strides 1 and 2 get their own constant-stride copy of
 * each tap loop.
 *
 * Max backward needs each window's argmax: phase 1 recomputes the indices for
 * all outputs in parallel over output rows into scratch, phase 2 routes the
 * gradients plane by plane (one thread per plane, increasing output order).
 * Avg backward is a gather into each input row: for every output row (z, y)
 * whose windows hold it, in increasing order, the row of grad_out / divisor is
 * added through the taps with kw decreasing, i.e. in increasing ox per cell.
 */
#ifndef FC_REAL
#error "FC_REAL must be defined (float or double) before including this template"
#endif
#ifndef FC_DT
#error "FC_DT must be defined (f32 or f64) before including this template"
#endif

#define FC_POOL_NAME(name) FC_CAT(FC_CAT(name, _), FC_DT)
#define FC_POOL_KERNEL(name) FC_ISA_FN(FC_POOL_NAME(name))

/* The max rule: does v replace the running maximum m? */
#define TAKES FC_POOL_NAME(fc_pool_takes)
FC_INLINE int TAKES(FC_REAL v, FC_REAL m) { return v > m || v != v; }

/* ---------------------------------------------------------- tap loops ---- */

/* Each tap loop updates n consecutive outputs o from input cells src[o*s]; the
 * callers point src and the outputs at the first output the tap reaches. */
#define MAX_TAP FC_POOL_NAME(fc_pool_max_tap)
FC_INLINE void MAX_TAP(const FC_REAL *FC_RESTRICT src, fc_index s, FC_REAL *FC_RESTRICT m,
                       fc_index n)
{
    for (fc_index o = 0; o < n; o++) {
        FC_REAL v = src[o * s], c = m[o];
        m[o] = TAKES(v, c) ? v : c;
    }
}

/* As MAX_TAP, also recording the winner's offset: src[o*s] is cell `base + o*s`. */
#define MAX_TAP_IDX FC_POOL_NAME(fc_pool_max_tap_idx)
FC_INLINE void MAX_TAP_IDX(const FC_REAL *FC_RESTRICT src, fc_index s, FC_REAL *FC_RESTRICT m,
                           int64_t *FC_RESTRICT idx, int64_t base, fc_index n)
{
    for (fc_index o = 0; o < n; o++) {
        FC_REAL v = src[o * s], c = m[o];
        int t = TAKES(v, c);
        m[o] = t ? v : c;
        idx[o] = t ? base + (int64_t)(o * s) : idx[o];
    }
}

#define SUM_TAP FC_POOL_NAME(fc_pool_sum_tap)
FC_INLINE void SUM_TAP(const FC_REAL *FC_RESTRICT src, fc_index s, FC_REAL *FC_RESTRICT acc,
                       fc_index n)
{
    for (fc_index o = 0; o < n; o++)
        acc[o] += src[o * s];
}

/* The transpose of SUM_TAP: dst[o*s] += q[o]. */
#define ADD_TAP FC_POOL_NAME(fc_pool_add_tap)
FC_INLINE void ADD_TAP(const FC_REAL *FC_RESTRICT q, fc_index s, FC_REAL *FC_RESTRICT dst,
                       fc_index n)
{
    for (fc_index o = 0; o < n; o++)
        dst[o * s] += q[o];
}

/* Call a tap loop with the stride as a compile-time constant when it is 1 or 2. */
#define FC_POOL_BY_STRIDE(s, call_with)   \
    do {                                  \
        if ((s) == 1)                     \
            call_with(1);                 \
        else if ((s) == 2)                \
            call_with(2);                 \
        else                              \
            call_with(s);                 \
    } while (0)

/* ------------------------------------------------------- max pooling ---- */

/* Output row (oz, oy) of plane xp: vals[ox] = window maxima and, when idx is not
 * NULL, idx[ox] = their offsets in the plane. */
#define MAX_ROW FC_POOL_NAME(fc_pool_max_row)
static void MAX_ROW(const fc_pool_params *p, const fc_pool_tables *t,
                    const FC_REAL *FC_RESTRICT xp, fc_index oz, fc_index oy,
                    FC_REAL *FC_RESTRICT vals, int64_t *FC_RESTRICT idx)
{
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2], OW = p->out[2];
    const fc_index sw = p->stride[2], dw = p->dil[2], pw = p->pad[2];
    const fc_index z0 = oz * p->stride[0] - p->pad[0], y0 = oy * p->stride[1] - p->pad[1];
    for (fc_index ox = 0; ox < OW; ox++)
        vals[ox] = -(FC_REAL)INFINITY;
    if (idx) {
        /* an all -inf window reports its first real cell, as PyTorch does */
        const int64_t rowoff = ((int64_t)fc_pool_first_cell(z0, p->dil[0]) * H
                                + fc_pool_first_cell(y0, p->dil[1])) * W;
        for (fc_index ox = 0; ox < OW; ox++)
            idx[ox] = rowoff + fc_pool_first_cell(ox * sw - pw, dw);
    }
    for (fc_index kd = 0; kd < p->k[0]; kd++) {
        const fc_index iz = z0 + kd * p->dil[0];
        if (iz < 0 || iz >= D)
            continue;
        for (fc_index kh = 0; kh < p->k[1]; kh++) {
            const fc_index iy = y0 + kh * p->dil[1];
            if (iy < 0 || iy >= H)
                continue;
            const fc_index rowoff = (iz * H + iy) * W;
            for (fc_index kw = 0; kw < p->k[2]; kw++) {
                const fc_index lo = t->lo[kw], n = t->hi[kw] - lo;
                if (n <= 0)
                    continue;
                const fc_index first = rowoff + lo * sw + kw * dw - pw; /* cell of output lo */
                const FC_REAL *src = xp + first;
                if (idx) {
#define CALL_(S) MAX_TAP_IDX(src, S, vals + lo, idx + lo, first, n)
                    FC_POOL_BY_STRIDE(sw, CALL_);
#undef CALL_
                } else {
#define CALL_(S) MAX_TAP(src, S, vals + lo, n)
                    FC_POOL_BY_STRIDE(sw, CALL_);
#undef CALL_
                }
            }
        }
    }
}

/*
 * Max pooling forward: out[plane, oz, oy, ox] = max over the window's real
 * cells; idx (optional) gets the winners' offsets.  Tasks: output rows.
 */
int FC_POOL_KERNEL(fc_max_pool_fwd)(const fc_pool_params *p, const FC_REAL *x, FC_REAL *out,
                                    int64_t *idx)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    fc_pool_tables t;
    if (fc_pool_window_tables(p, 0, &t) != FC_OK)
        return FC_ENOMEM;
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index rows = p->planes * OD * OH;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (fc_index r = 0; r < rows; r++) {
        const fc_index plane = r / (OD * OH), oz = r / OH % OD, oy = r % OH;
        MAX_ROW(p, &t, x + plane * in_plane, oz, oy, out + r * OW, idx ? idx + r * OW : NULL);
    }
    free(t.buf);
    return FC_OK;
}

/* Max backward, phase 2 (shared with adaptive max): per plane, zero grad_in and
 * add each gradient at its window's argmax, in increasing output order. */
#define MAX_ROUTE FC_POOL_NAME(fc_pool_max_route)
static void MAX_ROUTE(fc_index planes, size_t in_plane, size_t out_plane, const int64_t *idx,
                      const FC_REAL *grad_out, FC_REAL *grad_in, int nt)
{
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (fc_index plane = 0; plane < planes; plane++) {
        FC_REAL *gi = grad_in + plane * in_plane;
        const FC_REAL *go = grad_out + plane * out_plane;
        const int64_t *ip = idx + plane * out_plane;
        memset(gi, 0, in_plane * sizeof(FC_REAL));
        for (size_t o = 0; o < out_plane; o++)
            gi[ip[o]] += go[o];
    }
}

/*
 * Max pooling backward, one plane per task: each output row's argmaxes are
 * recomputed from x into a per-thread row and its gradients added to grad_in
 * at once, in increasing output order (the order MAX_ROUTE uses), so no
 * full-size index array is written and read back.
 */
int FC_POOL_KERNEL(fc_max_pool_bwd)(const fc_pool_params *p, const FC_REAL *x,
                                    const FC_REAL *grad_out, FC_REAL *grad_in)
{
    size_t in_plane, out_plane, out_total, row_bytes;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    const fc_index OW = p->out[2], rows_per_plane = p->out[0] * p->out[1];
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    /* per thread: OW values and OW int64 offsets */
    if (fc_mul_overflows((fc_index)nt * OW, (fc_index)(sizeof(FC_REAL) + sizeof(int64_t)),
                         &row_bytes))
        return FC_ENOMEM;
    fc_pool_tables t;
    if (fc_pool_window_tables(p, 0, &t) != FC_OK)
        return FC_ENOMEM;
    int64_t *idx = malloc(row_bytes > 0 ? row_bytes : 1);
    if (!idx) {
        free(t.buf);
        return FC_ENOMEM;
    }
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int64_t *ix = idx + (size_t)fc_thread_num() * OW;
        FC_REAL *v = (FC_REAL *)(idx + (size_t)nt * OW) + (size_t)fc_thread_num() * OW;
#pragma omp for schedule(static)
        for (fc_index plane = 0; plane < p->planes; plane++) {
            const FC_REAL *xp = x + plane * in_plane;
            FC_REAL *gi = grad_in + plane * in_plane;
            memset(gi, 0, in_plane * sizeof(FC_REAL));
            for (fc_index r = 0; r < rows_per_plane; r++) {
                const FC_REAL *go = grad_out + plane * out_plane + r * OW;
                MAX_ROW(p, &t, xp, r / p->out[1], r % p->out[1], v, ix);
                for (fc_index ox = 0; ox < OW; ox++)
                    gi[ix[ox]] += go[ox];
            }
        }
    }
    free(idx);
    free(t.buf);
    return FC_OK;
}

/* ------------------------------------------------------- avg pooling ---- */

/*
 * Average pooling forward: out = window sum (real cells, (z, y, x) order) divided
 * by the product of the per-axis divisor factors.  Tasks: output rows.
 */
int FC_POOL_KERNEL(fc_avg_pool_fwd)(const fc_pool_params *p, const FC_REAL *x, FC_REAL *out)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    fc_pool_tables t;
    if (fc_pool_window_tables(p, 1, &t) != FC_OK)
        return FC_ENOMEM;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index sw = p->stride[2], pw = p->pad[2];
    const fc_index rows = p->planes * OD * OH;
    const fc_index *cx = t.cnt[2];
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (fc_index r = 0; r < rows; r++) {
        const fc_index plane = r / (OD * OH), oz = r / OH % OD, oy = r % OH;
        const FC_REAL *xp = x + plane * in_plane;
        FC_REAL *acc = out + r * OW;
        const fc_index z0 = oz * p->stride[0] - p->pad[0], y0 = oy * p->stride[1] - p->pad[1];
        for (fc_index ox = 0; ox < OW; ox++)
            acc[ox] = 0;
        for (fc_index iz = z0 > 0 ? z0 : 0; iz < z0 + p->k[0] && iz < D; iz++)
            for (fc_index iy = y0 > 0 ? y0 : 0; iy < y0 + p->k[1] && iy < H; iy++)
                for (fc_index kw = 0; kw < p->k[2]; kw++) {
                    const fc_index lo = t.lo[kw], n = t.hi[kw] - lo;
                    if (n <= 0)
                        continue;
                    const FC_REAL *src = xp + (iz * H + iy) * W + lo * sw + kw - pw;
#define CALL_(S) SUM_TAP(src, S, acc + lo, n)
                    FC_POOL_BY_STRIDE(sw, CALL_);
#undef CALL_
                }
        const fc_index czy = t.cnt[0][oz] * t.cnt[1][oy];
        for (fc_index ox = 0; ox < OW; ox++)
            acc[ox] = acc[ox] / (FC_REAL)(czy * cx[ox]);
    }
    free(t.buf);
    return FC_OK;
}

/*
 * Average pooling backward, a gather: input row (plane, iz, iy) sums, over the
 * output rows (oz, oy) whose windows hold it (increasing), the row
 * q[ox] = grad_out[oz, oy, ox] / divisor scattered through the taps, kw
 * decreasing, so each cell adds its windows in increasing ox.
 */
int FC_POOL_KERNEL(fc_avg_pool_bwd)(const fc_pool_params *p, const FC_REAL *grad_out,
                                    FC_REAL *grad_in)
{
    size_t in_plane, out_plane, out_total, q_bytes;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index sw = p->stride[2], pw = p->pad[2], KW = p->k[2];
    const fc_index rows = p->planes * D * H;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    if (fc_mul_overflows((fc_index)nt * OW, (fc_index)sizeof(FC_REAL), &q_bytes))
        return FC_ENOMEM;
    fc_pool_tables t;
    if (fc_pool_window_tables(p, 1, &t) != FC_OK)
        return FC_ENOMEM;
    FC_REAL *qbuf = malloc(q_bytes);
    if (!qbuf) {
        free(t.buf);
        return FC_ENOMEM;
    }
    const fc_index *cx = t.cnt[2];
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        FC_REAL *q = qbuf + (size_t)fc_thread_num() * OW;
#pragma omp for schedule(static)
        for (fc_index r = 0; r < rows; r++) {
            const fc_index plane = r / (D * H), iz = r / H % D, iy = r % H;
            const FC_REAL *go = grad_out + plane * out_plane;
            FC_REAL *acc = grad_in + r * W;
            fc_index zlo, zhi, ylo, yhi;
            fc_pool_windows_of(iz, p->k[0], p->stride[0], p->pad[0], OD, &zlo, &zhi);
            fc_pool_windows_of(iy, p->k[1], p->stride[1], p->pad[1], OH, &ylo, &yhi);
            for (fc_index ix = 0; ix < W; ix++)
                acc[ix] = 0;
            for (fc_index oz = zlo; oz < zhi; oz++)
                for (fc_index oy = ylo; oy < yhi; oy++) {
                    const FC_REAL *g = go + (oz * OH + oy) * OW;
                    const fc_index czy = t.cnt[0][oz] * t.cnt[1][oy];
                    for (fc_index ox = 0; ox < OW; ox++)
                        q[ox] = g[ox] / (FC_REAL)(czy * cx[ox]);
                    for (fc_index kw = KW - 1; kw >= 0; kw--) {
                        const fc_index lo = t.lo[kw], n = t.hi[kw] - lo;
                        if (n <= 0)
                            continue;
                        FC_REAL *dst = acc + lo * sw + kw - pw;
#define CALL_(S) ADD_TAP(q + lo, S, dst, n)
                        FC_POOL_BY_STRIDE(sw, CALL_);
#undef CALL_
                    }
                }
        }
    }
    free(qbuf);
    free(t.buf);
    return FC_OK;
}

/* -------------------------------------------------- adaptive pooling ---- */

/*
 * Adaptive average forward: output row (plane, oz, oy) sums its bins' rows
 * (z, y increasing), each output over its bin's cells x increasing, then
 * divides by the bin sizes one axis at a time.
 */
int FC_POOL_KERNEL(fc_adaptive_avg_pool_fwd)(const fc_pool_params *p, const FC_REAL *x,
                                             FC_REAL *out)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    fc_pool_tables t;
    int status = fc_pool_bin_tables(p, 0, &t);
    if (status != FC_OK)
        return status;
    const fc_index H = p->in[1], W = p->in[2];
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index rows = p->planes * OD * OH;
    const fc_index *xs = t.bs[2], *xe = t.be[2];
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (fc_index r = 0; r < rows; r++) {
        const fc_index plane = r / (OD * OH), oz = r / OH % OD, oy = r % OH;
        const FC_REAL *xp = x + plane * in_plane;
        FC_REAL *acc = out + r * OW;
        const fc_index zs = t.bs[0][oz], ze = t.be[0][oz], ys = t.bs[1][oy], ye = t.be[1][oy];
        for (fc_index ox = 0; ox < OW; ox++)
            acc[ox] = 0;
        for (fc_index iz = zs; iz < ze; iz++)
            for (fc_index iy = ys; iy < ye; iy++) {
                const FC_REAL *row = xp + (iz * H + iy) * W;
                for (fc_index ox = 0; ox < OW; ox++) {
                    FC_REAL s = acc[ox];
                    for (fc_index ix = xs[ox]; ix < xe[ox]; ix++)
                        s += row[ix];
                    acc[ox] = s;
                }
            }
        for (fc_index ox = 0; ox < OW; ox++)
            acc[ox] = acc[ox] / (FC_REAL)(ze - zs) / (FC_REAL)(ye - ys)
                      / (FC_REAL)(xe[ox] - xs[ox]);
    }
    free(t.buf);
    return FC_OK;
}

/*
 * Adaptive average backward, a gather: input row (plane, iz, iy) adds, for the
 * bins (oz, oy) holding it (increasing) and every ox in order,
 * grad_out / bin_d / bin_h / bin_w to the cells of bin ox.
 */
int FC_POOL_KERNEL(fc_adaptive_avg_pool_bwd)(const fc_pool_params *p, const FC_REAL *grad_out,
                                             FC_REAL *grad_in)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    fc_pool_tables t;
    int status = fc_pool_bin_tables(p, 1, &t);
    if (status != FC_OK)
        return status;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index OH = p->out[1], OW = p->out[2];
    const fc_index rows = p->planes * D * H;
    const fc_index *xs = t.bs[2], *xe = t.be[2];
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (fc_index r = 0; r < rows; r++) {
        const fc_index plane = r / (D * H), iz = r / H % D, iy = r % H;
        const FC_REAL *go = grad_out + plane * out_plane;
        FC_REAL *acc = grad_in + r * W;
        for (fc_index ix = 0; ix < W; ix++)
            acc[ix] = 0;
        for (fc_index oz = t.blo[0][iz]; oz < t.bhi[0][iz]; oz++) {
            const FC_REAL kd = (FC_REAL)(t.be[0][oz] - t.bs[0][oz]);
            for (fc_index oy = t.blo[1][iy]; oy < t.bhi[1][iy]; oy++) {
                const FC_REAL kh = (FC_REAL)(t.be[1][oy] - t.bs[1][oy]);
                const FC_REAL *g = go + (oz * OH + oy) * OW;
                for (fc_index ox = 0; ox < OW; ox++) {
                    const FC_REAL q = g[ox] / kd / kh / (FC_REAL)(xe[ox] - xs[ox]);
                    for (fc_index ix = xs[ox]; ix < xe[ox]; ix++)
                        acc[ix] += q;
                }
            }
        }
    }
    free(t.buf);
    return FC_OK;
}

/* Adaptive max, output row (oz, oy) of plane xp: vals and (optional) idx. */
#define ADAPTIVE_MAX_ROW FC_POOL_NAME(fc_pool_adaptive_max_row)
static void ADAPTIVE_MAX_ROW(const fc_pool_params *p, const fc_pool_tables *t,
                             const FC_REAL *FC_RESTRICT xp, fc_index oz, fc_index oy,
                             FC_REAL *FC_RESTRICT vals, int64_t *FC_RESTRICT idx)
{
    const fc_index H = p->in[1], W = p->in[2], OW = p->out[2];
    const fc_index zs = t->bs[0][oz], ze = t->be[0][oz], ys = t->bs[1][oy], ye = t->be[1][oy];
    const fc_index *xs = t->bs[2], *xe = t->be[2];
    for (fc_index ox = 0; ox < OW; ox++)
        vals[ox] = -(FC_REAL)INFINITY;
    if (idx)
        for (fc_index ox = 0; ox < OW; ox++)
            idx[ox] = (zs * H + ys) * W + xs[ox];
    for (fc_index iz = zs; iz < ze; iz++)
        for (fc_index iy = ys; iy < ye; iy++) {
            const fc_index rowoff = (iz * H + iy) * W;
            const FC_REAL *row = xp + rowoff;
            for (fc_index ox = 0; ox < OW; ox++) {
                FC_REAL m = vals[ox];
                fc_index best = -1;
                for (fc_index ix = xs[ox]; ix < xe[ox]; ix++)
                    if (TAKES(row[ix], m)) {
                        m = row[ix];
                        best = ix;
                    }
                vals[ox] = m;
                if (idx && best >= 0)
                    idx[ox] = rowoff + best;
            }
        }
}

int FC_POOL_KERNEL(fc_adaptive_max_pool_fwd)(const fc_pool_params *p, const FC_REAL *x,
                                             FC_REAL *out, int64_t *idx)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    fc_pool_tables t;
    int status = fc_pool_bin_tables(p, 0, &t);
    if (status != FC_OK)
        return status;
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index rows = p->planes * OD * OH;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (fc_index r = 0; r < rows; r++) {
        const fc_index plane = r / (OD * OH), oz = r / OH % OD, oy = r % OH;
        ADAPTIVE_MAX_ROW(p, &t, x + plane * in_plane, oz, oy, out + r * OW,
                         idx ? idx + r * OW : NULL);
    }
    free(t.buf);
    return FC_OK;
}

int FC_POOL_KERNEL(fc_adaptive_max_pool_bwd)(const fc_pool_params *p, const FC_REAL *x,
                                             const FC_REAL *grad_out, FC_REAL *grad_in)
{
    size_t in_plane, out_plane, out_total, idx_bytes, row_bytes;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index rows = p->planes * OD * OH;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    if (fc_mul_overflows((fc_index)out_total, (fc_index)sizeof(int64_t), &idx_bytes)
        || fc_mul_overflows((fc_index)nt * OW, (fc_index)sizeof(FC_REAL), &row_bytes))
        return FC_ENOMEM;
    fc_pool_tables t;
    int status = fc_pool_bin_tables(p, 0, &t);
    if (status != FC_OK)
        return status;
    int64_t *idx = malloc(idx_bytes > 0 ? idx_bytes : 1);
    FC_REAL *vals = malloc(row_bytes);
    if (!idx || !vals) {
        free(idx);
        free(vals);
        free(t.buf);
        return FC_ENOMEM;
    }
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        FC_REAL *v = vals + (size_t)fc_thread_num() * OW;
#pragma omp for schedule(static)
        for (fc_index r = 0; r < rows; r++) {
            const fc_index plane = r / (OD * OH), oz = r / OH % OD, oy = r % OH;
            ADAPTIVE_MAX_ROW(p, &t, x + plane * in_plane, oz, oy, v, idx + r * OW);
        }
    }
    MAX_ROUTE(p->planes, in_plane, out_plane, idx, grad_out, grad_in, nt);
    free(vals);
    free(idx);
    free(t.buf);
    return FC_OK;
}

/* ---------------------------------------------------- global pooling ---- */

/* Sum of x[0..n): FC_POOL_LANES interleaved partial sums, halved pairwise, then
 * the tail in order. */
#define LANE_SUM FC_POOL_NAME(fc_pool_lane_sum)
static FC_REAL LANE_SUM(const FC_REAL *FC_RESTRICT x, size_t n)
{
    FC_REAL acc[FC_POOL_LANES] = {0};
    size_t i = 0;
    for (; i + FC_POOL_LANES <= n; i += FC_POOL_LANES)
        for (int j = 0; j < FC_POOL_LANES; j++)
            acc[j] += x[i + j];
    for (int w = FC_POOL_LANES / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; j++)
            acc[j] += acc[j + w];
    FC_REAL s = acc[0];
    for (; i < n; i++)
        s += x[i];
    return s;
}

/* Maximum of x[0..n) under the max rule (NaN if there is one).  The select does
 * not auto-vectorise, so the FC_POOL_LANES lanes are written as native vectors
 * (lane j still takes elements j, j + FC_POOL_LANES, ... on every path); lanes
 * are combined pairwise in a fixed order, then the tail in order. */
#define LANE_MAX FC_POOL_NAME(fc_pool_lane_max)
#define LVEC FC_POOL_NAME(fc_pool_vec)
#define LMASK FC_POOL_NAME(fc_pool_vec_mask)
#define LANE_NV (FC_POOL_LANES * (int)sizeof(FC_REAL) / FC_VBYTES)
typedef FC_REAL LVEC __attribute__((vector_size(FC_VBYTES)));
typedef __typeof__((LVEC){0} > (LVEC){0}) LMASK; /* same-width integer lanes */
static FC_REAL LANE_MAX(const FC_REAL *FC_RESTRICT x, size_t n)
{
    LVEC acc[LANE_NV];
    for (int k = 0; k < LANE_NV; k++)
        acc[k] = (LVEC){0} - (FC_REAL)INFINITY;
    size_t i = 0;
    for (; i + FC_POOL_LANES <= n; i += FC_POOL_LANES)
        for (int k = 0; k < LANE_NV; k++) {
            LVEC v;
            memcpy(&v, x + i + (size_t)k * (FC_VBYTES / sizeof(FC_REAL)), sizeof v);
            LMASK t = (v > acc[k]) | (v != v);
            acc[k] = (LVEC)(((LMASK)v & t) | ((LMASK)acc[k] & ~t));
        }
    FC_REAL lanes[FC_POOL_LANES];
    memcpy(lanes, acc, sizeof lanes);
    for (int w = FC_POOL_LANES / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; j++)
            lanes[j] = TAKES(lanes[j + w], lanes[j]) ? lanes[j + w] : lanes[j];
    FC_REAL m = lanes[0];
    for (; i < n; i++)
        m = TAKES(x[i], m) ? x[i] : m;
    return m;
}

int FC_POOL_KERNEL(fc_global_avg_pool_fwd)(const fc_pool_params *p, const FC_REAL *x,
                                           FC_REAL *out)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (fc_index plane = 0; plane < p->planes; plane++)
        out[plane] = LANE_SUM(x + plane * in_plane, in_plane) / (FC_REAL)in_plane;
    return FC_OK;
}

int FC_POOL_KERNEL(fc_global_avg_pool_bwd)(const fc_pool_params *p, const FC_REAL *grad_out,
                                           FC_REAL *grad_in)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (fc_index plane = 0; plane < p->planes; plane++) {
        const FC_REAL g = grad_out[plane] / (FC_REAL)in_plane;
        FC_REAL *gi = grad_in + plane * in_plane;
        for (size_t i = 0; i < in_plane; i++)
            gi[i] = g;
    }
    return FC_OK;
}

int FC_POOL_KERNEL(fc_global_max_pool_fwd)(const fc_pool_params *p, const FC_REAL *x,
                                           FC_REAL *out)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (fc_index plane = 0; plane < p->planes; plane++)
        out[plane] = LANE_MAX(x + plane * in_plane, in_plane);
    return FC_OK;
}

/*
 * Global max backward: the cell adaptive max pooling to size 1 would pick is
 * the last NaN when the plane holds one, else the first cell equal to the
 * maximum (cell 0 when every cell is -inf, which is also PyTorch's choice).
 */
int FC_POOL_KERNEL(fc_global_max_pool_bwd)(const fc_pool_params *p, const FC_REAL *x,
                                           const FC_REAL *grad_out, FC_REAL *grad_in)
{
    size_t in_plane, out_plane, out_total;
    if (fc_pool_sizes(p, &in_plane, &out_plane, &out_total) != FC_OK)
        return FC_EINVAL;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (fc_index plane = 0; plane < p->planes; plane++) {
        const FC_REAL *xp = x + plane * in_plane;
        FC_REAL *gi = grad_in + plane * in_plane;
        const FC_REAL m = LANE_MAX(xp, in_plane);
        size_t at = 0;
        if (m != m) {
            for (at = in_plane; at-- > 0;)
                if (xp[at] != xp[at])
                    break;
        } else {
            while (at < in_plane && xp[at] != m)
                at++;
        }
        memset(gi, 0, in_plane * sizeof(FC_REAL));
        gi[at] = grad_out[plane];
    }
    return FC_OK;
}

#undef FC_POOL_NAME
#undef FC_POOL_KERNEL
#undef TAKES
#undef MAX_TAP
#undef MAX_TAP_IDX
#undef SUM_TAP
#undef ADD_TAP
#undef MAX_ROW
#undef MAX_ROUTE
#undef ADAPTIVE_MAX_ROW
#undef LANE_SUM
#undef LANE_MAX
#undef LVEC
#undef LMASK
#undef LANE_NV
#undef FC_POOL_BY_STRIDE
