/*
 * fc_winograd.template.c - Winograd F(4x4, 3x3) convolution forward, one dtype.
 * Included by fc_winograd_simd.c with FC_REAL (float/double), FC_REAL_BYTES and
 * FC_DT (f32/f64).
 *
 * Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (arXiv
 * 1509.09308, 2015; CVPR 2016): the 4x4 outputs of a 3x3 correlation over a 6x6
 * input tile d are
 *     Y = A^T [ (G g G^T) .* (B^T d B) ] A,
 * 36 multiplies instead of 144.  The matrices come from Toom-Cook interpolation
 * at the points p = 0, 1, -1, 2, -2 and infinity:
 *   A^T (4x6): column k is (1, p, p^2, p^3) for the finite points, (0, 0, 0, 1)
 *              for infinity (evaluate the product polynomial's 4 outputs);
 *   G   (6x3): row k is the kernel polynomial at p, (1, p, p^2) . g, divided by
 *              N_k = prod_{j != k} (p_k - p_j) = 4, -6, -6, 24, 24 (infinity: g2);
 *   B^T (6x6): row k holds the coefficients of prod_{j != k} (x - p_j), the
 *              Lagrange numerators (infinity: the monic degree-5 polynomial).
 *       B^T = [4  0 -5  0 1 0]     G = [ 1/4     0     0  ]   A^T = [1 1  1 1  1 0]
 *             [0 -4 -4  1 1 0]         [-1/6  -1/6  -1/6  ]         [0 1 -1 2 -2 0]
 *             [0  4 -4 -1 1 0]         [-1/6   1/6  -1/6  ]         [0 1  1 4  4 0]
 *             [0 -2 -1  2 1 0]         [ 1/24  1/12  1/6  ]         [0 1 -1 8 -8 1]
 *             [0  2 -1 -2 1 0]         [ 1/24 -1/12  1/6  ]
 *             [0  4  0 -5 0 1]         [ 0     0     1    ]
 *
 * Tiles: output tile (ty, tx) of plane (n, z) covers rows 4ty.., columns 4tx..;
 * its input tile is padded rows 4ty..4ty+5, columns 4tx..4tx+5, read through the
 * padding mode (fc_pad_index); cells past the padded input (last tiles of a
 * size that is not a multiple of 4) read 0 and their outputs are not stored.
 * Dilation (dh, dw) along H and W: the output cells whose rows and columns
 * leave remainders (ry, rx) mod (dh, dw) form a phase that reads only padded
 * cells with the same remainders, at consecutive steps of the phase; each
 * phase is an undilated 3x3 convolution of the padded input's phase.  A tile
 * is then a 4x4 block of one phase: output rows ry + dh*(4ty + a), padded
 * input rows ry + dh*(4ty + a) for a < 6 (and so for columns).  Phases are
 * the innermost index of the tile grid, so neighbouring tiles share the
 * input's and the output's cache lines; the grid has the longest phase's
 * tile counts, and a shorter phase's cells past its end are not stored.
 * The reduction runs over R = C_in/groups * kD "channels" r = (c, kd): a depth
 * tap is one more input plane, so 3-D kernels (kD, 3, 3) come for free.
 *
 * Steps:
 *  1. weights: U[g][oc tile][xi][r][MR] = (G g G^T)[xi] (zero past the group's
 *     last channel), one task per (g, oc tile);
 *  2. per block of NT tiles of the flattened (n, z, ty, tx, ry, rx) grid and group g:
 *     the input transform of every (r, tile) into V[xi][r][NT]; then per oc
 *     tile, 36 GEMMs M[xi] (MR x NT) = U[xi] (MR x R) . V[xi] (R x NT) with a
 *     register-tiled micro-kernel (MR channels x one or two vectors of tiles),
 *     and the output transform of the MR x NT tiles, bias added, stored.
 *     With at least 4 blocks per thread a task is a block (V in the slot);
 *     with fewer, two passes: tasks (block, channel chunk) fill a shared V,
 *     then tasks (block, oc-tile split) multiply, so small images still give
 *     every thread work and no input is transformed twice.
 */
#ifndef FC_REAL
#error "FC_REAL must be defined (float or double) before including this template"
#endif

#define WG_VL (FC_VBYTES / (int)sizeof(FC_REAL))
#define WVEC FC_CAT(fc_wg_vec_, FC_DT)
typedef FC_REAL WVEC __attribute__((vector_size(FC_VBYTES)));

#define WG_LOAD FC_CAT(fc_wg_load_, FC_DT)
FC_INLINE WVEC WG_LOAD(const FC_REAL *p)
{
    WVEC v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* t[k*ts] = (B^T d)[k] from d[j*ds], k, j < 6; any arithmetic type, vectors too. */
#define WG_BT6(d, ds, t, ts)                                                             \
    do {                                                                                 \
        const __typeof__((d)[0]) d0_ = (d)[0], d1_ = (d)[1 * (ds)], d2_ = (d)[2 * (ds)],  \
                                 d3_ = (d)[3 * (ds)], d4_ = (d)[4 * (ds)],                \
                                 d5_ = (d)[5 * (ds)];                                     \
        const __typeof__((d)[0]) e_ = d4_ - d2_, f_ = d3_ - d1_;                         \
        (t)[0] = (FC_REAL)4 * d0_ - (FC_REAL)5 * d2_ + d4_;                              \
        (t)[1 * (ts)] = (d3_ + d4_) - (FC_REAL)4 * (d1_ + d2_);                          \
        (t)[2 * (ts)] = (d4_ - d3_) + (FC_REAL)4 * (d1_ - d2_);                          \
        (t)[3 * (ts)] = e_ + (FC_REAL)2 * f_;                                            \
        (t)[4 * (ts)] = e_ - (FC_REAL)2 * f_;                                            \
        (t)[5 * (ts)] = (FC_REAL)4 * d1_ - (FC_REAL)5 * d3_ + d5_;                       \
    } while (0)

/* y[k*ys] = (A^T m)[k] from m[j*ms], k < 4, j < 6. */
#define WG_AT6(m, ms, y, ys)                                                             \
    do {                                                                                 \
        const __typeof__((m)[0]) s12_ = (m)[1 * (ms)] + (m)[2 * (ms)],                    \
                                 d12_ = (m)[1 * (ms)] - (m)[2 * (ms)],                    \
                                 s34_ = (m)[3 * (ms)] + (m)[4 * (ms)],                    \
                                 d34_ = (m)[3 * (ms)] - (m)[4 * (ms)];                    \
        (y)[0] = (m)[0] + s12_ + s34_;                                                   \
        (y)[1 * (ys)] = d12_ + (FC_REAL)2 * d34_;                                        \
        (y)[2 * (ys)] = s12_ + (FC_REAL)4 * s34_;                                        \
        (y)[3 * (ys)] = d12_ + (FC_REAL)8 * d34_ + (m)[5 * (ms)];                        \
    } while (0)

/* t[k*ts] = (G g)[k] from g[j*gs], k < 6, j < 3 (multiplies by the rounded
 * constants: a division per entry would cost more than the whole transform). */
#define WG_G3(g, gs, t, ts)                                                              \
    do {                                                                                 \
        const __typeof__((g)[0]) g0_ = (g)[0], g1_ = (g)[gs], g2_ = (g)[2 * (gs)];       \
        const __typeof__((g)[0]) h_ = (FC_REAL)(1.0 / 24) * (g0_ + (FC_REAL)4 * g2_);    \
        (t)[0] = (FC_REAL)0.25 * g0_;                                                    \
        (t)[1 * (ts)] = (FC_REAL)(-1.0 / 6) * (g0_ + g1_ + g2_);                         \
        (t)[2 * (ts)] = (FC_REAL)(-1.0 / 6) * (g0_ - g1_ + g2_);                         \
        (t)[3 * (ts)] = h_ + (FC_REAL)(1.0 / 12) * g1_;                                  \
        (t)[4 * (ts)] = h_ - (FC_REAL)(1.0 / 12) * g1_;                                  \
        (t)[5 * (ts)] = g2_;                                                             \
    } while (0)

/* One tile of the flattened grid: image, output plane, tile row and column, phase. */
#define WG_TILE FC_CAT(fc_wg_tile_, FC_DT)
typedef struct {
    fc_index n, z, ty, tx, ry, rx; /* (ry, rx): the tile's phase (0, 0 undilated) */
} WG_TILE;

#define WG_JOB FC_CAT(fc_wg_job_, FC_DT)
typedef struct {
    const fc_conv_params *p;
    const FC_REAL *x, *w, *bias;
    FC_REAL *out, *u, *scratch, *v; /* v: the shared transformed input (two passes) */
    size_t per_slot, v_offset;      /* v_offset: a one-pass slot's V, after M (and U) */
    fc_index R, ntile, th, tw, ntiles, NT, nblk, nsplit, nchunk;
    fc_index phy, phx; /* phases along H and W (the dilations, at most OH and OW) */
    fc_index VS; /* elements from one V row xi to the next: R*NT and a vector (see below) */
    int fused; /* transform each oc tile's weights in the task that uses it */
} WG_JOB;

#define WG_WEIGHTS FC_CAT(fc_wg_weights_, FC_DT)
/* The MR output channels of a tile as the lanes of one vector (MR rounded up
 * to a power of two, the extra lanes unused): the scalar loops left to the
 * compiler took half the Winograd time of a 256-channel 14x14 layer. */
#define WG_MLANES (FC_MR <= 4 ? 4 : FC_MR <= 8 ? 8 : 16)
_Static_assert(FC_MR <= 16, "WG_MLANES covers MR <= 16");
/* Channels r per vector: two where two MR-lane halves fill a register (float
 * on AVX-512), so each transform instruction does twice the work; the halves
 * are consecutive r, which is u's layout, so a vector is stored whole. */
#if FC_MR == WG_MLANES && FC_VBYTES >= 2 * FC_MR * FC_REAL_BYTES
#define WG_RPV 2
#else
#define WG_RPV 1
#endif
#if WG_RPV == 2 && (defined(__clang__) || __GNUC__ >= 12)
#define WG_JOIN(kh, e) __builtin_shufflevector(kh[0][e], kh[1][e], WG_LANES16)
#define WG_LANES16 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
#elif WG_RPV == 2 /* GCC before 12: the halves copied (about 20 % slower here) */
#define WG_JOIN(kh, e)                                                                   \
    ({                                                                                   \
        mvec j_;                                                                         \
        memcpy(&j_, &kh[0][e], sizeof kh[0][e]);                                         \
        memcpy((char *)&j_ + sizeof kh[0][e], &kh[1][e], sizeof kh[1][e]);               \
        j_;                                                                              \
    })
#else
#define WG_JOIN(kh, e) kh[0][e]
#endif
/* Vector i of a block of nr channels into row dst: both channels, or the first
 * of a lone last one. */
#define WG_STORE_CHANNELS(dst, i, nr, v)                                                 \
    do {                                                                                 \
        if (((i) + 1) * WG_RPV <= (nr)) /* constant sizes: inline stores */              \
            memcpy((dst) + (i) * WG_RPV * FC_MR, &(v), WG_VALID * sizeof(FC_REAL));     \
        else                                                                             \
            memcpy((dst) + (i) * WG_RPV * FC_MR, &(v), FC_MR * sizeof(FC_REAL));        \
    } while (0)
/* Floats of u one vector holds: MR per channel, WG_RPV consecutive channels. */
#define WG_VALID ((WG_RPV - 1) * WG_MLANES + FC_MR)
/* u[xi*us + (r - r_lo)*MR + m] = transformed weights of oc tile ot of group g,
 * channels r in [r_lo, r_hi), in blocks of 16 channels.  A fused task's u is
 * its own slot (rows a few KiB apart, L1-resident): each vector is stored at
 * once.  The shared U's rows are R*MR apart (often a multiple of 4 KiB, so 36
 * scattered stores per channel thrash one cache set): a block's vectors are
 * collected and stored as 36 runs. */
static void WG_WEIGHTS(const WG_JOB *j, fc_index g, fc_index ot, fc_index r_lo, fc_index r_hi,
                       FC_REAL *u, fc_index us)
{
    typedef FC_REAL hvec __attribute__((vector_size(WG_MLANES * sizeof(FC_REAL))));
    typedef FC_REAL mvec __attribute__((vector_size(WG_RPV * WG_MLANES * sizeof(FC_REAL))));
    enum { RB = 16 / WG_RPV }; /* vectors per block */
    const fc_index cog = j->p->c_out / j->p->groups, R = j->R;
    /* lanes past the group's last channel repeat it (finite values whose
     * products are never stored): the loads below need no masks */
    const FC_REAL *wrow[FC_MR];
    for (int m = 0; m < FC_MR; m++) {
        const fc_index o = ot * FC_MR + m < cog ? ot * FC_MR + m : cog - 1;
        wrow[m] = j->w + (g * cog + o) * R * 9;
    }
    const int runs = !j->fused;
    mvec blk[36][RB];
    for (fc_index r0 = r_lo; r0 < r_hi; r0 += RB * WG_RPV) {
        const int nr = (int)(r_hi - r0 < RB * WG_RPV ? r_hi - r0 : RB * WG_RPV);
        const int nv = (nr + WG_RPV - 1) / WG_RPV;
        FC_REAL *dst = u + (r0 - r_lo) * FC_MR;
        for (int i = 0; i < nv; i++) {
            /* each channel's 9 taps as MR-lane vectors (the compiler turns
             * these loops into row loads and transposes), then joined */
            hvec kh[WG_RPV][9] = {{{0}}};
            for (int h = 0; h < WG_RPV; h++) {
                /* a lone last channel fills both halves (one is not stored) */
                const fc_index r = i * WG_RPV + h < nr ? r0 + i * WG_RPV + h : r_hi - 1;
                for (int e = 0; e < 9; e++)
                    for (int m = 0; m < FC_MR; m++)
                        kh[h][e][m] = wrow[m][r * 9 + e];
            }
            mvec k[9], t[18], uu[36];
            for (int e = 0; e < 9; e++)
                k[e] = WG_JOIN(kh, e);
            for (int c = 0; c < 3; c++) /* t = G k (6x3) */
                WG_G3(&k[c], 3, &t[c], 3);
            for (int a = 0; a < 6; a++) /* uu = t G^T (6x6) */
                WG_G3(&t[3 * a], 1, &uu[6 * a], 1);
            for (int xi = 0; xi < 36; xi++) {
                if (runs)
                    blk[xi][i] = uu[xi];
                else
                    WG_STORE_CHANNELS(dst + (size_t)xi * us, i, nr, uu[xi]);
            }
        }
        if (!runs)
            continue;
        /* whole blocks as RB fixed-size copies, unrolled: a copy of the block
         * at once became a libc memmove call or a rep movs per row xi (a third
         * of the weight transform in a 256-channel 14x14 layer) */
        for (int xi = 0; xi < 36; xi++) {
            if (nv == RB) {
#pragma GCC unroll 16
                for (int i = 0; i < RB; i++)
                    WG_STORE_CHANNELS(dst + (size_t)xi * us, i, nr, blk[xi][i]);
            } else {
                for (int i = 0; i < nv; i++)
                    WG_STORE_CHANNELS(dst + (size_t)xi * us, i, nr, blk[xi][i]);
            }
        }
    }
}

/* Channels a fused task transforms at a time (16 float32 or 8 float64 at MR = 8). */
#define WG_FUSED_ROWS (FC_WG_FUSED_BYTES / (36 * FC_MR * (fc_index)sizeof(FC_REAL)))

#define WG_WEIGHT_TASK FC_CAT(fc_wg_weight_task_, FC_DT)
/* U[g][ot] for task g * ntile + ot. */
static void WG_WEIGHT_TASK(void *ctx, fc_index task, int slot)
{
    const WG_JOB *j = ctx;
    WG_WEIGHTS(j, task / j->ntile, task % j->ntile, 0, j->R,
               j->u + (size_t)task * 36 * j->R * FC_MR, j->R * FC_MR);
}

#define WG_GATHER FC_CAT(fc_wg_gather_, FC_DT)
/* d[(a*6 + b) * ds] = padded input of plane xc (NULL: a zero plane) at padded
 * row ry + dh*(4ty + a), column rx + dw*(4tx + b); 0 past the padded input. */
FC_INLINE void WG_GATHER(const fc_conv_params *p, const FC_REAL *xc, const WG_TILE *t,
                         FC_REAL *d, fc_index ds)
{
    const fc_index H = p->in[1], W = p->in[2], dh = p->dil[1], dw = p->dil[2];
    /* the padded sizes the outputs read */
    const fc_index HP = p->out[1] + 2 * dh, WP = p->out[2] + 2 * dw;
    const fc_index py = t->ry + dh * 4 * t->ty, px = t->rx + dw * 4 * t->tx; /* padded */
    const fc_index y0 = py - p->pad[1], x0 = px - p->pad[2];
    if (xc && y0 >= 0 && y0 + 5 * dh < H && x0 >= 0 && x0 + 5 * dw < W && py + 5 * dh < HP
        && px + 5 * dw < WP) {
        for (int a = 0; a < 6; a++)
            for (int b = 0; b < 6; b++)
                d[(a * 6 + b) * ds] = xc[(y0 + a * dh) * W + x0 + b * dw];
        return;
    }
    /* a border tile: each row's and column's source once (-1: reads 0) */
    fc_index iy[6], ix[6];
    for (int a = 0; a < 6; a++)
        iy[a] = xc && py + a * dh < HP ? fc_pad_index(y0 + a * dh, H, p->pad_mode) : -1;
    for (int b = 0; b < 6; b++)
        ix[b] = px + b * dw < WP ? fc_pad_index(x0 + b * dw, W, p->pad_mode) : -1;
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++)
            d[(a * 6 + b) * ds] = iy[a] >= 0 && ix[b] >= 0 ? xc[iy[a] * W + ix[b]] : (FC_REAL)0;
}

#define WG_UKERNEL FC_CAT(fc_wg_ukernel_, FC_DT)
/* m[i*ms + t] = sum_r u[r*MR + i] v[r*vs + t] for i < MR, t < nv vectors, or
 * m += that (add); called with a constant nv so the accumulators live in
 * registers. */
FC_INLINE void WG_UKERNEL(int nv, const FC_REAL *FC_RESTRICT u, const FC_REAL *FC_RESTRICT v,
                          fc_index R, fc_index vs, FC_REAL *FC_RESTRICT m, fc_index ms, int add)
{
    WVEC acc[FC_MR][2];
#pragma GCC unroll 16
    for (int i = 0; i < FC_MR; i++) {
        acc[i][0] = add ? WG_LOAD(m + i * ms) : (WVEC){0};
        acc[i][1] = add && nv > 1 ? WG_LOAD(m + i * ms + WG_VL) : (WVEC){0};
    }
    for (fc_index r = 0; r < R; r++) {
        const WVEC v0 = WG_LOAD(v + r * vs);
        const WVEC v1 = nv > 1 ? WG_LOAD(v + r * vs + WG_VL) : v0;
#pragma GCC unroll 16
        for (int i = 0; i < FC_MR; i++) {
            const WVEC ui = u[r * FC_MR + i] - (WVEC){0};
            acc[i][0] += ui * v0;
            if (nv > 1)
                acc[i][1] += ui * v1;
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < FC_MR; i++) {
        memcpy(m + i * ms, &acc[i][0], sizeof(WVEC));
        if (nv > 1)
            memcpy(m + i * ms + WG_VL, &acc[i][1], sizeof(WVEC));
    }
}

#define WG_TILES_FROM FC_CAT(fc_wg_tiles_from_, FC_DT)
/* Tiles [first, first + count) of the flattened grid (n, z, ty, tx, ry, rx). */
static void WG_TILES_FROM(const WG_JOB *j, fc_index first, fc_index count, WG_TILE *tiles)
{
    const fc_index OD = j->p->out[0];
    for (fc_index i = 0; i < count; i++) {
        fc_index rem = first + i;
        tiles[i].rx = rem % j->phx; rem /= j->phx;
        tiles[i].ry = rem % j->phy; rem /= j->phy;
        tiles[i].tx = rem % j->tw; rem /= j->tw;
        tiles[i].ty = rem % j->th; rem /= j->th;
        tiles[i].z = rem % OD;
        tiles[i].n = rem / OD;
    }
}

#define WG_BLOCK_TILES FC_CAT(fc_wg_block_tiles_, FC_DT)
/* The tiles of block b (tiles [b*NT, b*NT + NT) of the flattened grid); returns
 * how many exist. */
static fc_index WG_BLOCK_TILES(const WG_JOB *j, fc_index b, WG_TILE *tiles)
{
    const fc_index NT = j->NT, first = b * NT;
    const fc_index nvalid = j->ntiles - first < NT ? j->ntiles - first : NT;
    WG_TILES_FROM(j, first, nvalid, tiles);
    return nvalid;
}

#define WG_TRANSFORM FC_CAT(fc_wg_transform_, FC_DT)
/* dst[xi*ds + l] = (B^T d B)[xi] for the tile tl[l] of plane xc[l] (NULL: a
 * zero plane), l < WG_VL: the input transform, one tile per vector lane. */
FC_INLINE void WG_TRANSFORM(const fc_conv_params *p, const FC_REAL *const *xc,
                            const WG_TILE *const *tl, FC_REAL *dst, fc_index ds)
{
    FC_REAL d[36 * WG_VL];
    WVEC dv[36], t[36];
    for (fc_index l = 0; l < WG_VL; l++)
        WG_GATHER(p, xc[l], tl[l], d + l, WG_VL);
    for (int e = 0; e < 36; e++)
        dv[e] = WG_LOAD(d + e * WG_VL);
    for (int col = 0; col < 6; col++)
        WG_BT6(dv + col, 6, t + col, 6);
    for (int a = 0; a < 6; a++)
        WG_BT6(t + 6 * a, 1, dv + 6 * a, 1);
    for (int xi = 0; xi < 36; xi++)
        memcpy(dst + (size_t)xi * ds, &dv[xi], sizeof(WVEC));
}

#define WG_INPUT FC_CAT(fc_wg_input_, FC_DT)
/* Input transform of channels [r0, r1) of a block's tiles (group g) into V. */
static void WG_INPUT(const WG_JOB *j, fc_index g, const WG_TILE *tiles, fc_index nvalid,
                     fc_index r0, fc_index r1, FC_REAL *V)
{
    const fc_conv_params *p = j->p;
    const fc_index cig = p->c_in / p->groups;
    const fc_index D = p->in[0], H = p->in[1], W = p->in[2];
    const fc_index KD = p->k[0], NT = j->NT, VS = j->VS;
    /* input transform, WG_VL tiles at a time (one per vector lane):
     * V[xi][r][i] = (B^T d B)[xi] of tile i, channel r */
    for (fc_index r = r0; r < r1; r++) {
        const fc_index c = r / KD, kd = r % KD;
        for (fc_index i0 = 0; i0 < NT; i0 += WG_VL) {
            const FC_REAL *xc[WG_VL];
            const WG_TILE *tl[WG_VL];
            for (fc_index l = 0; l < WG_VL; l++) {
                const fc_index i = i0 + l;
                xc[l] = NULL;
                tl[l] = i < nvalid ? &tiles[i] : &tiles[0];
                if (i < nvalid) {
                    const fc_index iz = fc_pad_index(tiles[i].z * p->stride[0] - p->pad[0]
                                                     + kd * p->dil[0], D, p->pad_mode);
                    if (iz >= 0)
                        xc[l] = j->x + (((size_t)tiles[i].n * p->c_in + g * cig + c) * D + iz)
                                       * H * W;
                }
            }
            WG_TRANSFORM(p, xc, tl, V + r * NT + i0, VS);
        }
    }
}

/*
 * Depth-shared input transforms (3-D, depth stride 1; the weight gradient):
 * output plane z reads input planes z - pd + kd*dd, so with the depth taps as
 * extra channels every input plane would be transformed kD times.  Instead
 * each plane of the padded depth extent (Dp = OD + (kD - 1)*dd planes, read
 * through the padding mode) is transformed once into T: row
 * ((n*G + g)*cs + c)*36 + xi holds, for the tiles of planes 0 .. Dp-1 one
 * plane (PT tiles) after another, their transform point xi; channel slots
 * c >= C_in/groups are zero.  Tile t = z*PT + p of an image then reads, for
 * tap kd, element t + kd*dd*PT of its channel's rows: a run of consecutive
 * tiles is a run of T.  (The forward kernel keeps its per-block transforms:
 * its blocks are too narrow for T's scattered rows, measured 1.3x slower.)
 */
#define WG_DEPTH FC_CAT(fc_wg_depth_, FC_DT)
typedef struct {
    const fc_conv_params *p;
    const FC_REAL *x;
    const WG_TILE *plane; /* the PT tiles of a plane (n = z = 0) */
    FC_REAL *T;
    fc_index PT, Dp, TS, cs; /* tiles per plane, planes, row stride, channel slots */
} WG_DEPTH;


#define WG_DEPTH_TASK FC_CAT(fc_wg_depth_task_, FC_DT)
/* T rows of channel slot (n, g, c) for task (n*G + g)*cs + c. */
static void WG_DEPTH_TASK(void *ctx, fc_index task, int slot)
{
    const WG_DEPTH *dp = ctx;
    const fc_conv_params *p = dp->p;
    const fc_index G = p->groups, cig = p->c_in / G, D = p->in[0], HW = p->in[1] * p->in[2];
    const fc_index c = task % dp->cs, ng = task / dp->cs, g = ng % G, n = ng / G;
    const fc_index PT = dp->PT, nu = dp->Dp * PT;
    FC_REAL *rows = dp->T + (size_t)task * 36 * dp->TS;
    if (c >= cig) {
        memset(rows, 0, (size_t)36 * dp->TS * sizeof(FC_REAL));
        return;
    }
    const FC_REAL *xn = dp->x + ((size_t)n * p->c_in + g * cig + c) * D * HW;
    fc_index iu = 0, pu = 0; /* lane 0's plane and tile within it */
    for (fc_index u0 = 0; u0 < nu; u0 += WG_VL) {
        const FC_REAL *xc[WG_VL];
        const WG_TILE *tl[WG_VL];
        for (fc_index l = 0; l < WG_VL; l++) {
            const fc_index iz = fc_pad_index(iu - p->pad[0], D, p->pad_mode);
            xc[l] = u0 + l < nu && iz >= 0 ? xn + iz * HW : NULL;
            tl[l] = &dp->plane[pu];
            if (++pu == PT) {
                pu = 0;
                iu++;
            }
        }
        WG_TRANSFORM(p, xc, tl, rows + u0, dp->TS);
    }
}

/* Whether a call takes the depth-shared transforms: 3-D taps, depth stride 1. */
#define WG_DEPTH_SHARED(p) ((p)->k[0] > 1 && (p)->stride[0] == 1)

#define WG_PRODUCT FC_CAT(fc_wg_product_, FC_DT)
/* Output-channel tiles [t_lo, t_hi) of group g for a block whose transformed
 * input is V: 36 GEMMs into the slot's M, output transform, bias, store.
 * M is followed by room for one chunk of an oc tile's transformed weights
 * (fused). */
static void WG_PRODUCT(const WG_JOB *j, fc_index g, const WG_TILE *tiles, fc_index nvalid,
                       fc_index t_lo, fc_index t_hi, const FC_REAL *V, FC_REAL *M)
{
    const fc_conv_params *p = j->p;
    const fc_index cog = p->c_out / p->groups;
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index dh = p->dil[1], dw = p->dil[2];
    const fc_index R = j->R, NT = j->NT, ntile = j->ntile;
    for (fc_index ot = t_lo; ot < t_hi; ot++) {
        /* 36 GEMMs into M[xi][MR][NT], over channel chunks: fused, each
         * chunk's weights transformed into the slot right before (they stay in
         * L1, where a whole tile's 36 x R x MR transformed weights were written
         * to L2 and read back); else all R rows of the shared U at once */
        const fc_index rc = j->fused ? WG_FUSED_ROWS : R;
        FC_REAL *Us = M + (size_t)36 * FC_MR * NT;
        for (fc_index r0 = 0; r0 < R; r0 += rc) {
            const fc_index nr = R - r0 < rc ? R - r0 : rc;
            const FC_REAL *U;
            fc_index us;
            if (j->fused) {
                WG_WEIGHTS(j, g, ot, r0, r0 + nr, Us, nr * FC_MR);
                U = Us;
                us = nr * FC_MR;
            } else {
                U = j->u + ((size_t)g * ntile + ot) * 36 * R * FC_MR;
                us = R * FC_MR;
            }
            for (int xi = 0; xi < 36; xi++) {
                const FC_REAL *Ux = U + (size_t)xi * us;
                const FC_REAL *Vx = V + (size_t)xi * j->VS + r0 * NT;
                FC_REAL *Mx = M + (size_t)xi * FC_MR * NT;
                fc_index t0 = 0;
                for (; t0 + 2 * WG_VL <= NT; t0 += 2 * WG_VL)
                    WG_UKERNEL(2, Ux, Vx + t0, nr, NT, Mx + t0, NT, r0 > 0);
                for (; t0 < NT; t0 += WG_VL)
                    WG_UKERNEL(1, Ux, Vx + t0, nr, NT, Mx + t0, NT, r0 > 0);
            }
        }
        /* output transform of WG_VL tiles at a time, bias, store */
        for (int mi = 0; mi < FC_MR && ot * FC_MR + mi < cog; mi++) {
            const fc_index o = g * cog + ot * FC_MR + mi;
            const FC_REAL bias = j->bias ? j->bias[o] : (FC_REAL)0;
            for (fc_index i0 = 0; i0 < nvalid; i0 += WG_VL) {
                WVEC m[36], t[24], y[16];
                FC_REAL ys[16 * WG_VL];
                for (int xi = 0; xi < 36; xi++)
                    m[xi] = WG_LOAD(M + ((size_t)xi * FC_MR + mi) * NT + i0);
                for (int col = 0; col < 6; col++)
                    WG_AT6(m + col, 6, t + col, 6);
                for (int a = 0; a < 4; a++)
                    WG_AT6(t + 6 * a, 1, y + 4 * a, 1);
                for (int e = 0; e < 16; e++) {
                    y[e] += bias;
                    memcpy(ys + e * WG_VL, &y[e], sizeof(WVEC));
                }
                for (fc_index l = 0; l < WG_VL && i0 + l < nvalid; l++) {
                    const WG_TILE *tl = &tiles[i0 + l];
                    /* rows and columns of the tile inside its phase (<= 0: none) */
                    const fc_index prows = (OH - tl->ry + dh - 1) / dh - 4 * tl->ty;
                    const fc_index pcols = (OW - tl->rx + dw - 1) / dw - 4 * tl->tx;
                    if (prows <= 0 || pcols <= 0)
                        continue;
                    const int rows = prows < 4 ? (int)prows : 4, cols = pcols < 4 ? (int)pcols : 4;
                    FC_REAL *dst = j->out + (((size_t)tl->n * p->c_out + o) * OD + tl->z) * OH * OW
                                   + (tl->ry + dh * 4 * tl->ty) * OW + tl->rx + dw * 4 * tl->tx;
                    for (int a = 0; a < rows; a++)
                        for (int bb = 0; bb < cols; bb++)
                            dst[a * dh * OW + bb * dw] = ys[(4 * a + bb) * WG_VL + l];
                }
            }
        }
    }
}


#define WG_TASK FC_CAT(fc_wg_task_, FC_DT)
/* One pass (many blocks): block b of group g, every oc tile; the block's
 * transformed input lives in the slot, after M and the fused weights. */
static void WG_TASK(void *ctx, fc_index task, int slot)
{
    const WG_JOB *j = ctx;
    const fc_index g = task / j->nblk, b = task % j->nblk;
    FC_REAL *M = j->scratch + (size_t)slot * j->per_slot;
    FC_REAL *V = M + j->v_offset;
    WG_TILE tiles[FC_WG_MAX_TILES];
    const fc_index nvalid = WG_BLOCK_TILES(j, b, tiles);
    WG_INPUT(j, g, tiles, nvalid, 0, j->R, V);
    WG_PRODUCT(j, g, tiles, nvalid, 0, j->ntile, V, M);
}

#define WG_SHARED_V FC_CAT(fc_wg_shared_v_, FC_DT)
/* Two passes: block gb (= g * nblk + b)'s part of the shared transformed input. */
FC_INLINE FC_REAL *WG_SHARED_V(const WG_JOB *j, fc_index gb)
{
    return j->v + (size_t)gb * 36 * j->VS;
}

#define WG_INPUT_TASK FC_CAT(fc_wg_input_task_, FC_DT)
/* Two passes (few blocks), pass 1: channel chunk c of block b of group g into
 * the shared transformed input. */
static void WG_INPUT_TASK(void *ctx, fc_index task, int slot)
{
    const WG_JOB *j = ctx;
    const fc_index c = task % j->nchunk, gb = task / j->nchunk;
    WG_TILE tiles[FC_WG_MAX_TILES];
    const fc_index nvalid = WG_BLOCK_TILES(j, gb % j->nblk, tiles);
    WG_INPUT(j, gb / j->nblk, tiles, nvalid, c * j->R / j->nchunk, (c + 1) * j->R / j->nchunk,
             WG_SHARED_V(j, gb));
}

#define WG_PRODUCT_TASK FC_CAT(fc_wg_product_task_, FC_DT)
/* Pass 2: split s of the oc tiles of block b of group g. */
static void WG_PRODUCT_TASK(void *ctx, fc_index task, int slot)
{
    const WG_JOB *j = ctx;
    const fc_index s = task % j->nsplit, gb = task / j->nsplit;
    WG_TILE tiles[FC_WG_MAX_TILES];
    const fc_index nvalid = WG_BLOCK_TILES(j, gb % j->nblk, tiles);
    WG_PRODUCT(j, gb / j->nblk, tiles, nvalid, s * j->ntile / j->nsplit,
               (s + 1) * j->ntile / j->nsplit, WG_SHARED_V(j, gb),
               j->scratch + (size_t)slot * j->per_slot);
}

int FC_ISA_FN(FC_CAT(fc_conv_fwd_winograd_, FC_DT))(const fc_conv_params *p, const FC_REAL *x,
                                                    const FC_REAL *w, const FC_REAL *bias,
                                                    FC_REAL *out)
{
    const fc_index G = p->groups, cig = p->c_in / G, cog = p->c_out / G;
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    if (p->n == 0 || p->c_out == 0 || OD * OH * OW == 0)
        return FC_OK;
    const fc_index R = cig * p->k[0], ntile = (cog + FC_MR - 1) / FC_MR;
    if (R > (PTRDIFF_MAX >> 8)) /* 36 * (R + MR) below must not overflow */
        return FC_ENOMEM;
    /* phases along H and W, and the tile grid of the longest phase, (0, 0) */
    const fc_index phy = p->dil[1] < OH ? p->dil[1] : OH, phx = p->dil[2] < OW ? p->dil[2] : OW;
    const fc_index th = ((OH + phy - 1) / phy + 3) / 4, tw = ((OW + phx - 1) / phx + 3) / 4;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    size_t ntiles, u_elems, per_slot, scratch_bytes, tmp;
    if (fc_mul_overflows(p->n * OD, th * tw * phy * phx, &ntiles)
        || fc_mul_overflows(36 * R, G * ntile * FC_MR, &u_elems))
        return FC_ENOMEM;
    /* tiles per task: V about FC_WG_V_BYTES, a multiple of the vector length */
    fc_index NT = FC_WG_V_BYTES / (36 * R * (fc_index)sizeof(FC_REAL)) / WG_VL * WG_VL;
    const fc_index all = ((fc_index)ntiles + WG_VL - 1) / WG_VL * WG_VL;
    NT = NT < WG_VL ? WG_VL : NT > FC_WG_MAX_TILES ? FC_WG_MAX_TILES : NT;
    NT = NT < all ? NT : all;
    const fc_index nblk = ((fc_index)ntiles + NT - 1) / NT;
    /* Few tile blocks (small images): each task transforms the weights of its
     * oc tiles into its slot, so the 36 x C_out x R weights never round-trip
     * through memory; many blocks: transformed once, shared. */
    const int fused = nblk <= 2;
    /* Many blocks: one task per block (input transform and products in the
     * slot).  Fewer than 4 per thread: two passes over a shared transformed
     * input (2.25x the input's size), channel chunks then oc-tile splits, so
     * the team gets enough tasks without transforming any input twice. */
    const fc_index blocks = G * nblk;
    const int two_pass = nt > 1 && blocks < 4 * (fc_index)nt;
    fc_index nsplit = 1, nchunk = 1;
    if (two_pass) {
        while (nsplit < ntile && blocks * nsplit < 4 * (fc_index)nt)
            nsplit++;
        while (nchunk < R && blocks * nchunk < 4 * (fc_index)nt)
            nchunk++;
    }
    /* V's 36 rows one vector more than R*NT apart: R*NT is often a multiple of
     * 2 or 4 KiB, and a tile's 36 stores (one per row) then all fell into one
     * or two L1 cache sets (a third of a 3-D input transform's time). */
    size_t v_elems, m_elems, w_elems = 0, vshared_elems = 0, rnt;
    if (fc_mul_overflows(R, NT, &rnt))
        return FC_ENOMEM;
    const fc_index VS = (fc_index)rnt + WG_VL;
    if (fc_mul_overflows(36, VS, &v_elems) || fc_mul_overflows(36 * FC_MR, NT, &m_elems)
        || (fused && fc_mul_overflows(36 * (R < WG_FUSED_ROWS ? R : WG_FUSED_ROWS),
                                      FC_MR, &w_elems))
        || (two_pass && fc_mul_overflows((fc_index)v_elems, blocks, &vshared_elems)))
        return FC_ENOMEM;
    per_slot = m_elems + w_elems + (two_pass ? 0 : v_elems);
    if (fc_mul_overflows((fc_index)per_slot, (fc_index)sizeof(FC_REAL), &tmp)
        || fc_mul_overflows((fc_index)tmp, nt, &scratch_bytes))
        return FC_ENOMEM;
    FC_REAL *u = fused ? NULL : fc_scratch_alloc(u_elems * sizeof(FC_REAL));
    FC_REAL *scratch = fc_scratch_alloc(scratch_bytes);
    FC_REAL *v = two_pass ? fc_scratch_alloc(vshared_elems * sizeof(FC_REAL)) : NULL;
    if ((!fused && !u) || !scratch || (two_pass && !v)) {
        fc_scratch_free(u);
        fc_scratch_free(scratch);
        fc_scratch_free(v);
        return FC_ENOMEM;
    }
    WG_JOB j = {.p = p, .x = x, .w = w, .bias = bias, .out = out, .u = u, .scratch = scratch,
                .v = v, .per_slot = per_slot, .v_offset = m_elems + w_elems, .R = R,
                .ntile = ntile, .th = th, .tw = tw, .ntiles = (fc_index)ntiles, .NT = NT,
                .nblk = nblk, .nsplit = nsplit, .nchunk = nchunk, .VS = VS, .fused = fused,
                .phy = phy, .phx = phx};
    if (!fused)
        fc_parallel_for(nt, G * ntile, WG_WEIGHT_TASK, &j);
    if (two_pass) {
        fc_parallel_for(nt, blocks * nchunk, WG_INPUT_TASK, &j);
        fc_parallel_for(nt, blocks * nsplit, WG_PRODUCT_TASK, &j);
    } else {
        fc_parallel_for(nt, blocks, WG_TASK, &j);
    }
    fc_scratch_free(u);
    fc_scratch_free(scratch);
    fc_scratch_free(v);
    return FC_OK;
}

/* ------------------------------------------------------------------ backward */
/*
 * BACKWARD, WEIGHT (algorithm 'winograd')
 * The forward map w -> y_t = A^T [(G w G^T) .* V_t] A of each output tile t is
 * linear in w; its adjoint gives the weight gradient of one (o, r) pair as
 *     gw = G^T [ sum_t (A gy_t A^T) .* V_t ] G,
 * gy_t the 4x4 output-gradient tile (0 where the forward stores nothing) and
 * V_t = B^T d_t B the forward's transformed input tile.  So per transform point
 * xi the reduction over every tile of every image is one GEMM,
 *     P[xi][r][o] = sum_t V[xi][r][t] Q[xi][t][o],   Q = A gy A^T,
 * 36 x R x C_out/groups products per tile instead of 9 * 16: 4x fewer.
 * Rounding grows as in the forward pass (the same transforms, transposed).
 *
 * Steps, per super-block of SB tiles of the forward's tile grid (in order):
 *  A. tasks (group, channel chunk) transform the input (the forward's WG_INPUT)
 *     into V[g][xi][r][SB]; tasks (group, tile chunk) transform gy, VL output
 *     channels per vector, into Q[g][xi][t][cogp];
 *  B. tasks (g, xi) add the block's V . Q into P[g][xi] (R rounded up to WB_RALIGN
 *     rows x cogp), register-tiled (rows r x vectors of channels o).
 * Then tasks (g, channel chunk) apply G^T . G to P and store gw.  Each P entry is
 * summed by one task per super-block, in tile order, so gw does not depend on
 * the team size.  Scratch: P (36 x R x C_out elements, rounded up), plus V and Q
 * of one super-block (about FC_WG_BWD_BYTES).
 */
#if FC_VBYTES == 64
#define WB_NVMAX 4
#define WB_ROWS(nv) ((nv) <= 2 ? 12 : 6)
#else
#define WB_NVMAX 2
#define WB_ROWS(nv) ((nv) == 1 ? 12 : 6)
#endif
#define WB_RALIGN 12 /* every WB_ROWS divides it: V and P rows are padded to it */

#define WB_JOB FC_CAT(fc_wgb_job_, FC_DT)
typedef struct {
    WG_JOB wg; /* the forward's geometry; wg.NT = SB, wg.VS = V's xi stride */
    const FC_REAL *gy;
    FC_REAL *gw, *V, *Q, *P;
    const WG_TILE *tiles; /* the current super-block's tiles */
    fc_index nvalid, cog, cogp, Rp, QS, nvchunk, nqchunk, nfchunk;
    /* depth-shared (WG_DEPTH): rows r = kd*cs + c of P, the super-block's
     * image n and first tile t0 within it; T is not NULL */
    const WG_DEPTH *depth;
    fc_index n, t0;
} WB_JOB;

/* One tile row of A (6x4) applied: q[k*qs] = (A g)[k] from g[j*gs], j < 4. */
#define WB_A4(g, gs, q, qs)                                                              \
    do {                                                                                 \
        const __typeof__((g)[0]) g0_ = (g)[0], g1_ = (g)[gs], g2_ = (g)[2 * (gs)],       \
                                 g3_ = (g)[3 * (gs)];                                    \
        const __typeof__((g)[0]) s02_ = g0_ + g2_, s13_ = g1_ + g3_;                     \
        const __typeof__((g)[0]) t0_ = g0_ + (FC_REAL)4 * g2_,                           \
                                 t1_ = (FC_REAL)2 * g1_ + (FC_REAL)8 * g3_;              \
        (q)[0] = g0_;                                                                    \
        (q)[1 * (qs)] = s02_ + s13_;                                                     \
        (q)[2 * (qs)] = s02_ - s13_;                                                     \
        (q)[3 * (qs)] = t0_ + t1_;                                                       \
        (q)[4 * (qs)] = t0_ - t1_;                                                       \
        (q)[5 * (qs)] = g3_;                                                             \
    } while (0)

/* w[k*ws] = (G^T m)[k] from m[j*ms], k < 3, j < 6 (G as in WG_G3). */
#define WB_GT6(m, ms, w, ws)                                                             \
    do {                                                                                 \
        const __typeof__((m)[0]) s12_ = (m)[1 * (ms)] + (m)[2 * (ms)],                    \
                                 d12_ = (m)[1 * (ms)] - (m)[2 * (ms)],                    \
                                 s34_ = (m)[3 * (ms)] + (m)[4 * (ms)],                    \
                                 d34_ = (m)[3 * (ms)] - (m)[4 * (ms)];                    \
        (w)[0] = (FC_REAL)0.25 * (m)[0] - (FC_REAL)(1.0 / 6) * s12_                      \
                 + (FC_REAL)(1.0 / 24) * s34_;                                           \
        (w)[1 * (ws)] = (FC_REAL)(-1.0 / 6) * d12_ + (FC_REAL)(1.0 / 12) * d34_;         \
        (w)[2 * (ws)] = (FC_REAL)(1.0 / 6) * (s34_ - s12_) + (m)[5 * (ms)];              \
    } while (0)

#define WB_GY_TRANSFORM FC_CAT(fc_wgb_gy_transform_, FC_DT)
/* Q[xi][t][o0 .. o0 + VL) = (A gy_t A^T)[xi] for the tiles [t0, t1) of the
 * super-block and the channel vector at o0 of group g (channels past cog: 0). */
static void WB_GY_TRANSFORM(const WB_JOB *b, fc_index g, fc_index t0, fc_index t1,
                            fc_index o0, FC_REAL *Q)
{
    const fc_conv_params *p = b->wg.p;
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index dh = p->dil[1], dw = p->dil[2], plane = OD * OH * OW;
    const fc_index cog = b->cog, cogp = b->cogp;
    const fc_index lanes = cog - o0 < WG_VL ? cog - o0 : WG_VL;
    for (fc_index t = t0; t < t1; t++) {
        FC_REAL d[16 * WG_VL];
        WVEC gv[16], h[24], q[36];
        memset(d, 0, sizeof d);
        if (t < b->nvalid) {
            const WG_TILE *tl = &b->tiles[t];
            const fc_index prows = (OH - tl->ry + dh - 1) / dh - 4 * tl->ty;
            const fc_index pcols = (OW - tl->rx + dw - 1) / dw - 4 * tl->tx;
            const int rows = prows < 4 ? (int)prows : 4, cols = pcols < 4 ? (int)pcols : 4;
            const FC_REAL *src = b->gy + ((size_t)tl->n * p->c_out + g * cog + o0) * plane
                                 + (size_t)tl->z * OH * OW + (tl->ry + dh * 4 * tl->ty) * OW
                                 + tl->rx + dw * 4 * tl->tx;
            for (fc_index l = 0; l < lanes; l++)
                for (int a = 0; a < rows; a++)
                    for (int c = 0; c < cols; c++)
                        d[(4 * a + c) * WG_VL + l] = src[l * plane + a * dh * OW + c * dw];
        }
        for (int e = 0; e < 16; e++)
            gv[e] = WG_LOAD(d + e * WG_VL);
        for (int c = 0; c < 4; c++) /* h = A g (6x4), column by column */
            WB_A4(gv + c, 4, h + c, 4);
        for (int a = 0; a < 6; a++) /* q = h A^T (6x6) */
            WB_A4(h + 4 * a, 1, q + 6 * a, 1);
        for (int xi = 0; xi < 36; xi++)
            memcpy(Q + (size_t)xi * b->QS + t * cogp + o0, &q[xi], sizeof(WVEC));
    }
}

/* WB_UKERNEL_rows_nv: P[r0 + i][o0 + v*VL ..] += sum_{t < nt} V[r0 + i][t] Q[t][o0 + v*VL ..]
 * for i < rows, v < nv (V rows vs apart, Q rows cogp apart, P rows cogp apart).
 * The block's sum starts from 0 and is then added to P: summing in two levels
 * (tiles of a super-block, then super-blocks) keeps float32 rounding from
 * growing with the number of tiles of the whole batch.  One function per
 * shape so the accumulators stay in registers. */
#define WB_DEFINE(rows_, nv_)                                                                 \
    static void FC_CAT(fc_wgb_uk_##rows_##_##nv_##_, FC_DT)(                                 \
        const FC_REAL *FC_RESTRICT V, fc_index vs, const FC_REAL *FC_RESTRICT Q,              \
        fc_index cogp, fc_index nt, FC_REAL *FC_RESTRICT P)                                   \
    {                                                                                         \
        WVEC acc[rows_][nv_];                                                                 \
        _Pragma("GCC unroll 16") for (int i = 0; i < rows_; i++)                              \
            _Pragma("GCC unroll 4") for (int v = 0; v < nv_; v++)                             \
                acc[i][v] = (WVEC){0};                                                        \
        for (fc_index t = 0; t < nt; t++) {                                                   \
            WVEC q[nv_];                                                                      \
            _Pragma("GCC unroll 4") for (int v = 0; v < nv_; v++)                             \
                q[v] = WG_LOAD(Q + t * cogp + v * WG_VL);                                     \
            _Pragma("GCC unroll 16") for (int i = 0; i < rows_; i++) {                        \
                const WVEC vi = V[i * vs + t] - (WVEC){0};                                    \
                _Pragma("GCC unroll 4") for (int v = 0; v < nv_; v++)                         \
                    acc[i][v] += vi * q[v];                                                   \
            }                                                                                 \
        }                                                                                     \
        _Pragma("GCC unroll 16") for (int i = 0; i < rows_; i++)                              \
            _Pragma("GCC unroll 4") for (int v = 0; v < nv_; v++)                             \
            {                                                                                 \
                const WVEC sum = WG_LOAD(P + i * cogp + v * WG_VL) + acc[i][v];               \
                memcpy(P + i * cogp + v * WG_VL, &sum, sizeof(WVEC));                         \
            }                                                                                 \
    }
WB_DEFINE(12, 1)
#if WB_NVMAX == 4
WB_DEFINE(12, 2)
WB_DEFINE(6, 3)
WB_DEFINE(6, 4)
#else
WB_DEFINE(6, 2)
#endif
#undef WB_DEFINE

#define WB_PRODUCT FC_CAT(fc_wgb_product_, FC_DT)
/* P[g][xi] += V[g][xi] . Q[g][xi] over the super-block's valid tiles. */
static void WB_PRODUCT(const WB_JOB *b, fc_index g, int xi)
{
    const fc_index Rp = b->Rp, cogp = b->cogp, nt = b->nvalid;
    const WG_DEPTH *dp = b->depth;
    const fc_index vs = dp ? 36 * dp->TS : b->wg.NT;
    const FC_REAL *V = b->V + ((size_t)g * 36 + xi) * b->wg.VS;
    const FC_REAL *Q = b->Q + ((size_t)g * 36 + xi) * b->QS;
    FC_REAL *P = b->P + ((size_t)g * 36 + xi) * Rp * cogp;
    for (fc_index o0 = 0; o0 < cogp; o0 += WB_NVMAX * WG_VL) {
        const fc_index left = (cogp - o0) / WG_VL;
        const int nv = (int)(left < WB_NVMAX ? left : WB_NVMAX);
        const int rows = WB_ROWS(nv);
        for (fc_index r0 = 0; r0 < Rp; r0 += rows) {
            /* rows r0 .. r0 + rows: channel rows of V, or (one tap kd, channel
             * slots c0 ..) of T (cs is a multiple of every WB_ROWS) */
            const FC_REAL *Vr =
                dp ? dp->T + (((b->n * b->wg.p->groups + g) * dp->cs + r0 % dp->cs) * 36 + xi)
                                 * dp->TS
                         + r0 / dp->cs * b->wg.p->dil[0] * dp->PT + b->t0
                   : V + r0 * vs;
            FC_REAL *Pr = P + r0 * cogp + o0;
            switch (nv) {
            case 1:
                FC_CAT(fc_wgb_uk_12_1_, FC_DT)(Vr, vs, Q + o0, cogp, nt, Pr);
                break;
#if WB_NVMAX == 4
            case 2:
                FC_CAT(fc_wgb_uk_12_2_, FC_DT)(Vr, vs, Q + o0, cogp, nt, Pr);
                break;
            case 3:
                FC_CAT(fc_wgb_uk_6_3_, FC_DT)(Vr, vs, Q + o0, cogp, nt, Pr);
                break;
            default:
                FC_CAT(fc_wgb_uk_6_4_, FC_DT)(Vr, vs, Q + o0, cogp, nt, Pr);
                break;
#else
            default:
                FC_CAT(fc_wgb_uk_6_2_, FC_DT)(Vr, vs, Q + o0, cogp, nt, Pr);
                break;
#endif
            }
        }
    }
}

#define WB_TRANSFORM_TASK FC_CAT(fc_wgb_transform_task_, FC_DT)
/* Step A: tasks [0, G * nvchunk) transform input channel chunks, the rest gy
 * tile chunks (every channel vector). */
static void WB_TRANSFORM_TASK(void *ctx, fc_index task, int slot)
{
    const WB_JOB *b = ctx;
    const fc_index G = b->wg.p->groups, SB = b->wg.NT, R = b->wg.R;
    if (task < G * b->nvchunk) {
        const fc_index g = task / b->nvchunk, c = task % b->nvchunk;
        WG_INPUT(&b->wg, g, b->tiles, b->nvalid, c * R / b->nvchunk, (c + 1) * R / b->nvchunk,
                 b->V + (size_t)g * 36 * b->wg.VS);
        return;
    }
    task -= G * b->nvchunk;
    const fc_index g = task / b->nqchunk, c = task % b->nqchunk;
    const fc_index t0 = c * SB / b->nqchunk, t1 = (c + 1) * SB / b->nqchunk;
    for (fc_index o0 = 0; o0 < b->cog; o0 += WG_VL)
        WB_GY_TRANSFORM(b, g, t0, t1, o0, b->Q + (size_t)g * 36 * b->QS);
}

#define WB_PRODUCT_TASK FC_CAT(fc_wgb_product_task_, FC_DT)
/* Step B: task (g, xi). */
static void WB_PRODUCT_TASK(void *ctx, fc_index task, int slot)
{
    WB_PRODUCT(ctx, task / 36, (int)(task % 36));
}

#define WB_FINAL_TASK FC_CAT(fc_wgb_final_task_, FC_DT)
/* gw of channel chunk (g, c): G^T P G, VL output channels at a time. */
static void WB_FINAL_TASK(void *ctx, fc_index task, int slot)
{
    const WB_JOB *b = ctx;
    const fc_index R = b->wg.R, Rp = b->Rp, cog = b->cog, cogp = b->cogp;
    const fc_index g = task / b->nfchunk, c = task % b->nfchunk;
    const fc_index ktot = R * 9, KD = b->wg.p->k[0];
    const FC_REAL *P = b->P + (size_t)g * 36 * Rp * cogp;
    for (fc_index r = c * R / b->nfchunk; r < (c + 1) * R / b->nfchunk; r++)
        for (fc_index o0 = 0; o0 < cog; o0 += WG_VL) {
            WVEC m[36], h[18], w[9];
            FC_REAL ws[9 * WG_VL];
            /* gw row r = (channel, kd); its P row, (kd, channel slot) when depth-shared */
            const fc_index pr = b->depth ? r % KD * b->depth->cs + r / KD : r;
            for (int xi = 0; xi < 36; xi++)
                m[xi] = WG_LOAD(P + ((size_t)xi * Rp + pr) * cogp + o0);
            for (int col = 0; col < 6; col++) /* h = G^T m (3x6) */
                WB_GT6(m + col, 6, h + col, 6);
            for (int a = 0; a < 3; a++) /* w = h G (3x3) */
                WB_GT6(h + 6 * a, 1, w + 3 * a, 1);
            for (int e = 0; e < 9; e++)
                memcpy(ws + e * WG_VL, &w[e], sizeof(WVEC));
            for (fc_index l = 0; l < WG_VL && o0 + l < cog; l++) {
                FC_REAL *dst = b->gw + (g * cog + o0 + l) * ktot + r * 9;
                for (int e = 0; e < 9; e++)
                    dst[e] = ws[e * WG_VL + l];
            }
        }
}

int FC_ISA_FN(FC_CAT(fc_conv_bwd_weight_winograd_, FC_DT))(const fc_conv_params *p,
                                                           const FC_REAL *x, const FC_REAL *gy,
                                                           FC_REAL *gw)
{
    const fc_index G = p->groups, cig = p->c_in / G, cog = p->c_out / G;
    const fc_index OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const fc_index R = cig * p->k[0];
    if (p->n == 0 || OD * OH * OW == 0 || p->c_out == 0 || R == 0) {
        memset(gw, 0, (size_t)p->c_out * R * 9 * sizeof(FC_REAL));
        return FC_OK;
    }
    if (R > (PTRDIFF_MAX >> 12) || cog > (PTRDIFF_MAX >> 12))
        return FC_ENOMEM;
    const fc_index cogp = (cog + WG_VL - 1) / WG_VL * WG_VL;
    const fc_index phy = p->dil[1] < OH ? p->dil[1] : OH, phx = p->dil[2] < OW ? p->dil[2] : OW;
    const fc_index th = ((OH + phy - 1) / phy + 3) / 4, tw = ((OW + phx - 1) / phx + 3) / 4;
    const fc_index PT = th * tw * phy * phx, Dp = OD + (p->k[0] - 1) * p->dil[0];
    /* T rows: every padded-extent plane's tiles, a vector of slack (WG_DEPTH_TASK
     * stores whole vectors) and one more (see the forward's VS) */
    const fc_index TS = (Dp * PT + WG_VL - 1) / WG_VL * WG_VL + WG_VL;
    /* P rows: (channel, kd), or kd x channel slots when depth-shared */
    const fc_index cs = (cig + WB_RALIGN - 1) / WB_RALIGN * WB_RALIGN;
    size_t ntiles, p_elems, v_elems = 0, q_elems, t_elems = 0, tmp;
    const int depth = WG_DEPTH_SHARED(p) && !fc_mul_overflows(p->n * G * cs * 36, TS, &t_elems)
                      && t_elems <= FC_WG_DEPTH_MAX / sizeof(FC_REAL);
    if (!depth)
        t_elems = 0;
    const fc_index Rp = depth ? p->k[0] * cs : (R + WB_RALIGN - 1) / WB_RALIGN * WB_RALIGN;
    const int nt = p->num_threads > 0 ? p->num_threads : 1;
    if (fc_mul_overflows(p->n * OD, PT, &ntiles) || fc_mul_overflows(36 * G * Rp, cogp, &p_elems))
        return FC_ENOMEM;
    /* the sums P would outgrow a cache-friendly scratch (C_in x C_out beyond
     * about 680 x 680): the direct kernel, which needs no such buffer */
    if (p_elems > FC_WG_BWD_SUMS_MAX / sizeof(FC_REAL))
        return FC_CAT(fc_conv_bwd_weight_, FC_DT)(p, x, gy, gw);
    /* super-block: (V and) Q of every group about FC_WG_BWD_BYTES, whole vectors
     * of tiles; depth-shared ones stay within an image (T is per image) */
    fc_index SB = FC_WG_BWD_BYTES
                  / (36 * G * ((depth ? 0 : Rp) + cogp) * (fc_index)sizeof(FC_REAL));
    SB = SB / WG_VL * WG_VL;
    const fc_index per_image = OD * PT;
    const fc_index span = depth ? per_image : (fc_index)ntiles;
    const fc_index all = (span + WG_VL - 1) / WG_VL * WG_VL;
    SB = SB < WG_VL ? WG_VL : SB > FC_WG_MAX_TILES ? FC_WG_MAX_TILES : SB;
    SB = SB < all ? SB : all;
    const fc_index VS = Rp * SB + WG_VL, QS = SB * cogp + WG_VL; /* see the forward's VS */
    if ((!depth && fc_mul_overflows(36 * G, VS, &v_elems))
        || fc_mul_overflows(36 * G, QS, &q_elems)
        || fc_mul_overflows((fc_index)(p_elems + v_elems + q_elems + t_elems),
                            (fc_index)sizeof(FC_REAL), &tmp))
        return FC_ENOMEM;
    /* V's padding rows (r >= R) stay 0: the input transform writes rows < R only */
    FC_REAL *P = fc_scratch_calloc(p_elems, sizeof(FC_REAL));
    FC_REAL *V = depth ? NULL : fc_scratch_calloc(v_elems, sizeof(FC_REAL));
    FC_REAL *T = depth ? fc_scratch_alloc(t_elems * sizeof(FC_REAL)) : NULL;
    FC_REAL *Q = fc_scratch_alloc(q_elems * sizeof(FC_REAL));
    WG_TILE *tiles = fc_scratch_alloc((size_t)SB * sizeof(WG_TILE));
    if (!P || (!depth && !V) || (depth && !T) || !Q || !tiles) {
        fc_scratch_free(P);
        fc_scratch_free(V);
        fc_scratch_free(T);
        fc_scratch_free(Q);
        fc_scratch_free(tiles);
        return FC_ENOMEM;
    }
    /* chunks: about 4 tasks per thread in each step */
    const fc_index want = (4 * (fc_index)nt + G - 1) / G;
    WB_JOB b = {.wg = {.p = p, .x = x, .R = R, .th = th, .tw = tw, .ntiles = (fc_index)ntiles,
                       .NT = SB, .VS = VS, .phy = phy, .phx = phx},
                .gy = gy, .gw = gw, .V = V, .Q = Q, .P = P, .tiles = tiles, .cog = cog,
                .cogp = cogp, .Rp = Rp, .QS = QS,
                .nvchunk = depth ? 0 : R < want ? R : want,
                .nqchunk = SB / WG_VL < want ? SB / WG_VL : want,
                .nfchunk = R < want ? R : want};
    WG_DEPTH dp = {.p = p, .x = x, .T = T, .PT = PT, .Dp = Dp, .TS = TS, .cs = cs};
    if (depth) {
        WG_TILE *plane = fc_scratch_alloc((size_t)PT * sizeof(WG_TILE));
        if (!plane) {
            fc_scratch_free(P);
            fc_scratch_free(T);
            fc_scratch_free(Q);
            fc_scratch_free(tiles);
            return FC_ENOMEM;
        }
        WG_TILES_FROM(&b.wg, 0, PT, plane);
        dp.plane = plane;
        b.depth = &dp;
        fc_parallel_for(nt, p->n * G * cs, WG_DEPTH_TASK, &dp);
        fc_scratch_free(plane);
    }
    /* super-blocks in order: depth-shared, each image's tiles; else the grid's */
    const fc_index images = depth ? p->n : 1;
    for (fc_index n = 0; n < images; n++)
        for (fc_index t0 = 0; t0 < span; t0 += SB) {
            b.n = n;
            b.t0 = t0;
            b.nvalid = span - t0 < SB ? span - t0 : SB;
            WG_TILES_FROM(&b.wg, n * span + t0, b.nvalid, tiles);
            fc_parallel_for(nt, G * (b.nvchunk + b.nqchunk), WB_TRANSFORM_TASK, &b);
            fc_parallel_for(nt, G * 36, WB_PRODUCT_TASK, &b);
        }
    fc_parallel_for(nt, G * b.nfchunk, WB_FINAL_TASK, &b);
    fc_scratch_free(P);
    fc_scratch_free(V);
    fc_scratch_free(T);
    fc_scratch_free(Q);
    fc_scratch_free(tiles);
    return FC_OK;
}

#undef WB_NVMAX
#undef WB_ROWS
#undef WB_RALIGN
#undef WB_JOB
#undef WB_A4
#undef WB_GT6
#undef WB_GY_TRANSFORM
#undef WB_PRODUCT
#undef WB_TRANSFORM_TASK
#undef WB_PRODUCT_TASK
#undef WB_FINAL_TASK

#undef WG_VL
#undef WVEC
#undef WG_LOAD
#undef WG_BT6
#undef WG_AT6
#undef WG_G3
#undef WG_TILE
#undef WG_JOB
#undef WG_WEIGHT_TASK
#undef WG_WEIGHTS
#undef WG_MLANES
#undef WG_RPV
#undef WG_JOIN
#undef WG_LANES16
#undef WG_VALID
#undef WG_FUSED_ROWS
#undef WG_STORE_CHANNELS
#undef WG_GATHER
#undef WG_UKERNEL
#undef WG_TASK
#undef WG_BLOCK_TILES
#undef WG_INPUT
#undef WG_PRODUCT
#undef WG_INPUT_TASK
#undef WG_PRODUCT_TASK
#undef WG_SHARED_V
