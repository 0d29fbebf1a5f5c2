/*
 * attention_simd.h: the body of mb_attention_avx2 / mb_attention_avx512 (fused, flash-style), written once
 * against vexp.h's vector names (include vexp.h first). See attention_avx512.c for the verdict.
 *
 * Layout: QUERIES IN THE VECTOR LANES. A work item is (batch b, block of NN_BQ = NN_QV vectors of query
 * rows: 64 for AVX-512, 16 for AVX2); items go round-robin to exactly x->nthreads threads (each item's
 * result depends only on the item: deterministic for any thread count). Per item, Q is packed once,
 * transposed (VW x VW register transposes), pre-multiplied by scale * log2 e and zero-padded: Qt[d][i]
 * (D x BQ), so every score below is in BASE 2. Then, per key tile of NN_BK keys, in this thread's slice
 * of x->work (~70 KB for D = Dv = 64, AVX-512):
 *   St[j][i] = sum_d K[j][d] Qt[d][i]             micro-kernel NN_MRK keys x NN_QV vectors: K[j][d] is a
 *                                                broadcast straight from K's rows (no K^T pack at all)
 *   mask / causal, tile max: per query = per LANE, so the max over keys is a vertical vf_max down the tile
 *   m_new = max(m, tile max), alpha = 2^(m - m_new), P = 2^(St - m_new) in place (nn_exp2: 9 vector ops
 *          instead of vf_exp's 15 + 1), l = l alpha + sum_j P:
 *          all whole vectors over the 64 queries, no horizontal reduction, no scalar per-row bookkeeping
 *   Ot[e][i] = alpha Ot[e][i] + sum_j V[j][e] P[j][i]   micro-kernel NN_MRE rows of Dv x NN_QV vectors:
 *                                                V[j][e] broadcast straight from V's rows (no V pack)
 * then O[i][e] = Ot[e][i] / l[i] is written out (one transpose per item, amortized over all of Tk).
 * Lazy max (AVX-512, no explicit mask, unit-stride K): after the first tile, the QK epilogue computes
 * P = 2^(St - m) in registers against the max m of the previous tiles and adds to l, as long as no score of
 * the 6-key block exceeds m + NN_LAZY (8: P <= 256); no tile max, no alpha, no second pass over St, no
 * rescale of Ot. A block that exceeds it switches the rest of the tile to raw scores and the path above
 * (the exact new max; the P rows already written are multiplied by alpha). O = Ot / l is unchanged by
 * which m is used (both carry the same factor).
 * Spread over its tiles, an item prefetches the next item's Q rows, its own O rows (for writing) and its share
 * of the next head's K and V rows, which otherwise come from L3 once BH * S * (D + Dv) outgrows L2.
 * Why this layout: the previous one (keys in the lanes) needed a K^T transpose-pack per item and a scalar
 * hmax/hsum/expf per query row per tile between the two products; here both products are GEMM-shaped with
 * operands broadcast from the inputs and the softmax is pure lane-wise vector code.
 * K (V) is used in place when its feature stride is 1, else the tile is packed row-major. Key rows past the
 * tile's end are never touched (the micro-kernels take the row count). Causal: keys past the item's last
 * query are skipped, and only rows j > i0 (the diagonal band) are masked, by a lane compare. A row with no
 * unmasked key ends with l = 0: NaN, like the reference (m stays -inf; the subtracted max is then taken
 * as 0 so that 2^(-inf - 0) = 0 instead of NaN); Tk = 0 gives O = 0 (the reference's empty sum). Every
 * score starts from 0 * scale: 0, or NaN for a non-finite scale (D = 0 with the default scale 1/sqrt(0):
 * NaN, as the reference's scale * empty sum).
 * Weights (w != NULL): a second pass recomputes St per tile and writes 2^(St - m) / l.
 * Extra memory: O(BQ*(D+Dv) + BK*(BQ+D+Dv)) per thread, independent of Tq and Tk.
 */
#include "tiled/nn_plan.h"

#include <math.h>
#if VW == 16
#define NN_QV 4  /* 64 queries per item */
#define NN_MRK 6 /* QK: 6 keys x 4 zmm = 24 accumulators + 4 Qt loads, of 32 registers */
#define NN_MRE 6 /* PV: 6 Dv rows x 4 zmm = 24 accumulators + 4 P loads */
#define NN_BK 48 /* keys per tile: Qt, St, K/V tiles, Ot = 16+12+12+16 KB per phase near L1; best of 24..96
                     * (36, 42, 60, 72, 96 rechecked after the base-2 exp: none better) */
#else
#define NN_QV 2  /* 16 queries per item; 24 (4 x 3 ymm tiles, Dv = 64 with no 4-row remainder, 7 loads per 12
                  * FMAs) measured level on the Zen 3 (best of 7 x 3 rounds: 13.8 / 13.9 ms, causal 7.1 / 6.9),
                  * 32 (3 x 4) 2x slower */
#define NN_MRK 6 /* QK: 6 x 2 ymm = 12 accumulators + 2 loads + 1 broadcast, of 16 registers */
#define NN_MRE 6
#define NN_BK 96 /* 32 / 48 / 64 / 128 on the Zen 3 (32 KiB L1d): level or slower (2 interleaved rounds) */
#endif
#define NN_BQ (NN_QV * VW)

#define NN_INLINE static inline __attribute__((always_inline))

static inline int64_t nn_up16(int64_t a) { return (a + 15) / 16 * 16; }

/* 2^x for the softmax: scores are kept in base 2 (Q is packed pre-multiplied by scale * log2 e), so the
 * exponent needs no multiply and no range reduction by ln 2. 2^x = 2^floor(x) * 2^r, r = x - floor(x) in
 * [0, 1), 2^r by a degree-6 polynomial (Chebyshev interpolant, approximation error 2^-28.6). Measured over
 * every float in [-150, 16] (standalone sweep): max relative error 1.50 u where the result is normal, so
 * vf_exp's documented bound MB_VEXP_MAX_REL = 2u holds; -inf -> +0, NaN -> NaN. Below FLT_MIN (x < -126):
 * AVX-512 <= 1 subnormal ulp beyond rounding, AVX2 flushes to +0 (error < 2^-126 absolute;
 * a P = 2^(s - m) <= 1 against l >= 1 moves O by less than 2^-126 |V|). tests/test_nn_kernels.c
 * (test_attention_exp2) asserts those bounds on a dense sweep of both ISA instances (mb_test_att_exp2_<isa>,
 * exported by attention_<isa>.c for the test).
 * AVX-512: r is one vreduceps and the scaling one vscalefps (floor(x) exactly as vreduceps takes it), no
 * clamp needed (reduce(-inf) = 0, scalef(p, -inf) = 0): 8 ops, 9 with the subtract of the max, where the
 * natural-base path took 16 (the subtract and vf_exp's 15, its multiply by log2 e included).
 * AVX2: clamp at -127, floor, subtract, and one factor 2^n built in the exponent field, +0 at n = -127 (so
 * -inf gives 0, not NaN): 5 ops fewer than vf_ldexp's two exact factors, attention BH 4 x S 1024 x d 64
 * 2-3 % faster on the Zen 3 (13.2-13.4 against 13.7-13.8 ms, 3 interleaved rounds). Inputs here are <= 0
 * (scores minus their running max) or NaN. */
NN_INLINE vf nn_exp2(vf x)
{
#if VW == 16
    const vf r = _mm512_reduce_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); /* x - floor(x) */
#else
    x = vf_max(vf_set1(-127.0f), x); /* x second: NaN stays NaN */
    const vf n = _mm256_round_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC), r = vf_sub(x, n);
#endif
    vf p = vf_set1(2.186578478e-4f);
    p = vf_fma(p, r, vf_set1(1.239133184e-3f));
    p = vf_fma(p, r, vf_set1(9.684186310e-3f));
    p = vf_fma(p, r, vf_set1(5.548063020e-2f));
    p = vf_fma(p, r, vf_set1(2.402304544e-1f));
    p = vf_fma(p, r, vf_set1(6.931469328e-1f));
    p = vf_fma(p, r, vf_set1(1.0f));
#if VW == 16
    return _mm512_scalef_ps(p, x); /* p * 2^floor(x), rounded once */
#else
    return vf_mul(p, vi_pow2(vf_cvt(n))); /* n = -127: the factor is +0 */
#endif
}

/* In-register transpose of a VW x VW block: r[k] lane j -> r[j] lane k. */
NN_INLINE void nn_transpose(vf *r)
{
#if VW == 16
    __m512 t[16], u[16];
    for (int k = 0; k < 16; k += 2)
        t[k] = _mm512_unpacklo_ps(r[k], r[k + 1]), t[k + 1] = _mm512_unpackhi_ps(r[k], r[k + 1]);
    for (int k = 0; k < 16; k += 4) {
        u[k] = _mm512_shuffle_ps(t[k], t[k + 2], 0x44), u[k + 1] = _mm512_shuffle_ps(t[k], t[k + 2], 0xEE);
        u[k + 2] = _mm512_shuffle_ps(t[k + 1], t[k + 3], 0x44);
        u[k + 3] = _mm512_shuffle_ps(t[k + 1], t[k + 3], 0xEE);
    }
    /* u[4g + m] holds, in each 128-bit lane L, column 4L + m of rows 4g..4g+3 */
    for (int k = 0; k < 16; k += 8)
        for (int m = 0; m < 4; m++) {
            t[k + m] = _mm512_shuffle_f32x4(u[k + m], u[k + 4 + m], 0x88);
            t[k + 4 + m] = _mm512_shuffle_f32x4(u[k + m], u[k + 4 + m], 0xDD);
        }
    for (int m = 0; m < 8; m++) {
        r[m] = _mm512_shuffle_f32x4(t[m], t[8 + m], 0x88);
        r[8 + m] = _mm512_shuffle_f32x4(t[m], t[8 + m], 0xDD);
    }
#else
    __m256 t[8], u[8];
    for (int k = 0; k < 8; k += 2)
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]), t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    for (int k = 0; k < 8; k += 4) {
        u[k] = _mm256_shuffle_ps(t[k], t[k + 2], 0x44), u[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], 0xEE);
        u[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0x44);
        u[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0xEE);
    }
    for (int m = 0; m < 4; m++) {
        r[m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x20);
        r[4 + m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x31);
    }
#endif
}

/* st[r][0..BQ) = z0 + sum_d kr[r][d] * qt[d][0..BQ) for r < mr (a compile-time constant after inlining); Qt
 * carries the scale (and log2 e), z0 = 0 * scale is 0, or NaN for a non-finite scale (D = 0: NaN scores).
 * Epilogue, while the tile is in registers: causal (lane i drops row r when i < jq + r; jq = NN_NOCAUSAL:
 * none) and, when mx != NULL, the running per-query max mx[0..BQ) (so no separate pass over St). */
#define NN_NOCAUSAL INT64_MIN / 2
/* Lazy running max (fused path): P = 2^(S - m) is computed straight in the QK epilogue against the max m of
 * the previous tiles as long as no score exceeds m + NN_LAZY (P <= 2^NN_LAZY: no overflow, l <= 2^8 Tk). */
#define NN_LAZY 8.0f
NN_INLINE int nn_any_gt(vf a, vf b)
{
#if VW == 16
    return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ) != 0;
#else
    return _mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_GT_OQ)) != 0;
#endif
}
NN_INLINE int nn_qk_ukr(int mr, const float *const *kr, const float *qt, int64_t D, float z0, float *st,
                        int64_t jq, float *mx, const float *fm, float *fl)
{
    vf acc[NN_MRK][NN_QV];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NN_QV; c++) acc[r][c] = vf_set1(z0);
#pragma GCC unroll 2 /* halves the loop overhead competing for the vector ports: ~5 % measured */
    for (int64_t d = 0; d < D; d++) {
        vf b[NN_QV];
#pragma GCC unroll 4
        for (int c = 0; c < NN_QV; c++) b[c] = vf_load(qt + d * NN_BQ + c * VW);
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            const vf a = vf_set1(kr[r][d]);
#pragma GCC unroll 4
            for (int c = 0; c < NN_QV; c++) acc[r][c] = vf_fma(a, b[c], acc[r][c]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NN_QV; c++)
            if (jq + r > c * VW) /* the diagonal band only */
                acc[r][c] = vf_sel(vi_cmpgt(vi_set1((int32_t)(jq + r - c * VW)), vi_iota()), vf_set1(-INFINITY),
                                   acc[r][c]);
#if VW == 16 /* the fused path is AVX-512 only (nn_att_item); on AVX2 it measured level (BH 4 / 32, S 1024, 3 A/B) */
    if (fm) { /* fused softmax: P = 2^(S - fm) in registers, unless a score exceeds fm + NN_LAZY */
        int over = 0;
#pragma GCC unroll 4
        for (int c = 0; c < NN_QV; c++) {
            vf m = acc[0][c];
#pragma GCC unroll 8
            for (int r = 1; r < mr; r++) m = vf_max(m, acc[r][c]);
            over |= nn_any_gt(m, vf_add(vf_load(fm + c * VW), vf_set1(NN_LAZY)));
        }
        if (!over) {
#pragma GCC unroll 4
            for (int c = 0; c < NN_QV; c++) {
                const vf base = vf_load(fm + c * VW);
                vf sum = vf_load(fl + c * VW);
#pragma GCC unroll 8
                for (int r = 0; r < mr; r++) {
                    const vf e = nn_exp2(vf_sub(acc[r][c], base));
                    vf_store(st + r * NN_BQ + c * VW, e);
                    sum = vf_add(sum, e);
                }
                vf_store(fl + c * VW, sum);
            }
            return 0;
        }
    }
#else
    (void)fl;
#endif
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NN_QV; c++) vf_store(st + r * NN_BQ + c * VW, acc[r][c]);
    if (mx)
#pragma GCC unroll 4
        for (int c = 0; c < NN_QV; c++) {
            vf m = vf_load(mx + c * VW);
#pragma GCC unroll 8
            for (int r = 0; r < mr; r++) m = vf_max(m, acc[r][c]);
            vf_store(mx + c * VW, m);
        }
    return fm != NULL;
}

/* ot[r][0..BQ) = alpha * ot[r][0..BQ) + sum_{j<nk} vr[j*ldv + r] * pt[j][0..BQ) for r < mr; alpha NULL = 1. */
NN_INLINE void nn_pv_ukr(int mr, const float *pt, int64_t nk, const float *vr, int64_t ldv, const float *alpha,
                         float *ot)
{
    vf acc[NN_MRE][NN_QV];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NN_QV; c++) acc[r][c] = vf_load(ot + r * NN_BQ + c * VW);
    if (alpha)
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
            for (int c = 0; c < NN_QV; c++) acc[r][c] = vf_mul(acc[r][c], vf_load(alpha + c * VW));
#pragma GCC unroll 2
    for (int64_t j = 0; j < nk; j++) {
        vf b[NN_QV];
#pragma GCC unroll 4
        for (int c = 0; c < NN_QV; c++) b[c] = vf_load(pt + j * NN_BQ + c * VW);
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            const vf a = vf_set1(vr[j * ldv + r]);
#pragma GCC unroll 4
            for (int c = 0; c < NN_QV; c++) acc[r][c] = vf_fma(a, b[c], acc[r][c]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NN_QV; c++) vf_store(ot + r * NN_BQ + c * VW, acc[r][c]);
}

/* Out-of-line instances, one per row count: the full tile and the remainders (mr < NN_MR*). */
#define NN_QK_CASE(n)                                                                                              \
    case n: return nn_qk_ukr(n, kr, qt, D, z0, st, jq, mx, fm, fl);
static int nn_qk(int mr, const float *const *kr, const float *qt, int64_t D, float z0, float *st, int64_t jq,
                 float *mx, const float *fm, float *fl)
{
    switch (mr) {
        NN_QK_CASE(1) NN_QK_CASE(2) NN_QK_CASE(3) NN_QK_CASE(4) NN_QK_CASE(5) NN_QK_CASE(6)
    }
    return 0;
}
#define NN_PV_CASE(n)                                                                                              \
    case n: nn_pv_ukr(n, pt, nk, vr, ldv, alpha, ot); break;
static void nn_pv(int mr, const float *pt, int64_t nk, const float *vr, int64_t ldv, const float *alpha, float *ot)
{
    switch (mr) {
        NN_PV_CASE(1) NN_PV_CASE(2) NN_PV_CASE(3) NN_PV_CASE(4) NN_PV_CASE(5) NN_PV_CASE(6)
    }
}
#if NN_MRK > 6 || NN_MRE > 6
#error "nn_qk / nn_pv instantiate row counts up to 6"
#endif

/* Per-thread scratch layout, in floats, each part rounded to 16 floats (64 bytes). */
struct nn_att_ws {
    int64_t qt, kp, vp, st, ot, m, l, a, total;
};

static void nn_att_layout(const struct mb_attention *p, struct nn_att_ws *w)
{
    int64_t at = 0;
    w->qt = at, at += nn_up16(p->D * NN_BQ);
    w->kp = at, at += nn_up16(NN_BK * p->D);
    w->vp = at, at += nn_up16(NN_BK * p->Dv);
    at += 256; /* St and Ot off Qt's 4 KB alignment */
    w->st = at, at += NN_BK * NN_BQ;
    at += 256;
    w->ot = at, at += nn_up16(p->Dv * NN_BQ);
    w->m = at, at += NN_BQ;
    w->l = at, at += NN_BQ;
    w->a = at, at += NN_BQ;
    w->total = at;
}

/* St (nk x BQ) = K[j0, j0+nk) Qt (Qt pre-scaled: base-2 scores), masked (mask, causal); mx (NN_BQ floats)
 * gets the per-query max. */
static void nn_att_scores(const struct mb_attention *p, const float *k, const float *mask, int64_t i0, int64_t mq,
                          int64_t j0, int64_t nk, const float *qt, float *kp, float *st, float *mx)
{
    const int64_t D = p->D;
    const float *kb = k + j0 * p->k_ts;
    int64_t ldk = p->k_ts;
    if (p->k_ds != 1 && D > 1) { /* pack the tile's rows unit-stride */
        for (int64_t j = 0; j < nk; j++)
            for (int64_t d = 0; d < D; d++) kp[j * D + d] = kb[j * p->k_ts + d * p->k_ds];
        kb = kp, ldk = D;
    }
    for (int c = 0; c < NN_QV; c++) vf_store(mx + c * VW, vf_set1(-INFINITY));
    for (int64_t jb = 0; jb < nk; jb += NN_MRK) {
        const float *kr[NN_MRK];
        const int mr = nk - jb < NN_MRK ? (int)(nk - jb) : NN_MRK;
        for (int r = 0; r < mr; r++) kr[r] = kb + (jb + r) * ldk;
        nn_qk(mr, kr, qt, D, 0.0f * p->scale, st + jb * NN_BQ, p->causal ? j0 + jb - i0 : NN_NOCAUSAL,
              mask ? NULL : mx, NULL, NULL);
    }
    if (!mask) return;
    vf vmx[NN_QV]; /* an explicit mask (any strides): scalar, then the max, in a pass of its own */
    for (int c = 0; c < NN_QV; c++) vmx[c] = vf_set1(-INFINITY);
    for (int64_t j = 0; j < nk; j++) {
        float *sr = st + j * NN_BQ;
        for (int64_t i = 0; i < mq; i++)
            if (mask[(i0 + i) * p->m_qs + (j0 + j) * p->m_ks] == 0.0f) sr[i] = -INFINITY;
        for (int c = 0; c < NN_QV; c++) vmx[c] = vf_max(vmx[c], vf_load(sr + c * VW));
    }
    for (int c = 0; c < NN_QV; c++) vf_store(mx + c * VW, vmx[c]);
}

/* Prefetch for writing (PREFETCHW: the line arrives owned, so the later store needs no read-for-ownership
 * round trip; a NOP on CPUs without it). Inline asm: the ISA flags of this file do not include -mprfchw. */
static inline void nn_prefetchw(const void *a) { __asm__ volatile("prefetchw %0" : : "m"(*(const char *)a)); }

/* The max actually subtracted: m, or 0 where m = -inf (nothing visible yet: exp(-inf - 0) = 0, not NaN). */
static inline vf nn_att_base(vf m) { return vf_sel(vf_cmpeq(m, vf_set1(-INFINITY)), vf_zero(), m); }

/* One work item: batch b, query rows [i0, i0 + mq), mq <= NN_BQ. */
/* What an item prefetches for the items after it (see nn_att_item's tile loop). */
struct nn_att_next {
    const float *q; /* the Q rows of this thread's next item (mq of them), or NULL */
    int64_t mq;
    const float *k, *v; /* K and V of the next batch item (head), rows [r0, r1) of them, or NULL */
    int64_t r0, r1;
};

static void nn_att_item(const struct mb_attention *p, int64_t b, int64_t i0, int64_t mq, float *ws,
                        const struct nn_att_ws *L, const struct nn_att_next *nx)
{
    const int64_t D = p->D, Dv = p->Dv;
    const float *q = p->q + mb_batch_offset(p->nbatch, p->batch, p->q_bs, b);
    const float *k = p->k + mb_batch_offset(p->nbatch, p->batch, p->k_bs, b);
    const float *v = p->v + mb_batch_offset(p->nbatch, p->batch, p->v_bs, b);
    float *o = p->o + mb_batch_offset(p->nbatch, p->batch, p->o_bs, b);
    const float *mask = p->mask ? p->mask + mb_batch_offset(p->nbatch, p->batch, p->m_bs, b) : NULL;
    float *qt = ws + L->qt, *kp = ws + L->kp, *vp = ws + L->vp, *st = ws + L->st, *ot = ws + L->ot;
    float *m = ws + L->m, *l = ws + L->l, *alpha = ws + L->a;

    if (p->Tk == 0) { /* empty sum: O = 0, as the reference */
        for (int64_t i = 0; i < mq; i++)
            for (int64_t e = 0; e < Dv; e++) o[(i0 + i) * p->o_ts + e * p->o_ds] = 0.0f;
        return;
    }
    /* Qt[d][i] = c q[i][d], c = scale log2 e rounded once: the scores come out in base 2 (one more rounding
     * per product, inside the D u scale sum |q||k| bound). Padding lanes (i >= mq) compute on zeros and are
     * never written. */
    const float c2 = (float)((double)p->scale * 1.4426950408889634);
    const int64_t q_ts = p->q_ts, q_ds = p->q_ds;
    int64_t ifull = 0; /* queries [0, ifull) packed by VW x VW transposes */
    if (q_ds == 1) {
        const vf vc = vf_set1(c2);
        for (; ifull + VW <= mq; ifull += VW) {
            int64_t d0 = 0;
            for (; d0 + VW <= D; d0 += VW) {
                vf r[VW];
                for (int kk = 0; kk < VW; kk++) r[kk] = vf_mul(vc, vf_load(q + (i0 + ifull + kk) * q_ts + d0));
                nn_transpose(r);
                for (int kk = 0; kk < VW; kk++) vf_store(qt + (d0 + kk) * NN_BQ + ifull, r[kk]);
            }
            for (int64_t i = ifull; i < ifull + VW; i++)
                for (int64_t d = d0; d < D; d++) qt[d * NN_BQ + i] = c2 * q[(i0 + i) * q_ts + d];
        }
    }
    for (int64_t i = ifull; i < NN_BQ; i++) {
        const float *qr = q + (i0 + i) * q_ts;
        if (i >= mq)
            for (int64_t d = 0; d < D; d++) qt[d * NN_BQ + i] = 0.0f;
        else if (q_ds == 1)
            for (int64_t d = 0; d < D; d++) qt[d * NN_BQ + i] = c2 * qr[d];
        else
            for (int64_t d = 0; d < D; d++) qt[d * NN_BQ + i] = c2 * qr[d * q_ds];
    }
    for (int64_t i = 0; i < Dv * NN_BQ; i++) ot[i] = 0.0f;
    for (int64_t i = 0; i < NN_BQ; i++) m[i] = -INFINITY, l[i] = 0.0f;

    const int64_t kend = p->causal && i0 + mq < p->Tk ? i0 + mq : p->Tk; /* later keys: masked for all rows */
    const int64_t ntile = (kend + NN_BK - 1) / NN_BK;
    int mfin = 0; /* every lane of m finite: the fused path applies */
    for (int64_t j0 = 0; j0 < kend; j0 += NN_BK) {
        const int64_t nk = kend - j0 < NN_BK ? kend - j0 : NN_BK;
        { /* spread over the tiles: the next item's Q rows towards L2 (its pack then does not wait on L3/DRAM)
           * and this item's O rows owned (the epilogue's stores then do not wait for ownership): -3..5 %
           * at BH 32, where Q and O come from L3; and this item's share of the next head's K and V rows
           * towards L2, so that the head's first item does not stream them from L3 (it took ~1.65x as long
           * as the others) */
            const int64_t t = j0 / NN_BK, r0 = t * NN_BQ / ntile, r1 = (t + 1) * NN_BQ / ntile;
            for (int64_t r = r0; r < r1; r++) {
                if (r < nx->mq && p->q_ds == 1)
                    for (int64_t d = 0; d < D; d += 16)
                        _mm_prefetch((const char *)(nx->q + r * p->q_ts + d), _MM_HINT_T1);
                if (r < mq && p->o_ds == 1)
                    for (int64_t e = 0; e < Dv; e += 16) nn_prefetchw(o + (i0 + r) * p->o_ts + e);
            }
            if (nx->k) {
                const int64_t n = nx->r1 - nx->r0, k0 = nx->r0 + t * n / ntile, k1 = nx->r0 + (t + 1) * n / ntile;
                for (int64_t r = k0; r < k1; r++) {
                    for (int64_t d = 0; d < D; d += 16)
                        _mm_prefetch((const char *)(nx->k + r * p->k_ts + d), _MM_HINT_T1);
                    for (int64_t e = 0; e < Dv; e += 16)
                        _mm_prefetch((const char *)(nx->v + r * p->v_ts + e), _MM_HINT_T1);
                }
            }
        }
        /* Fused path (AVX-512, no explicit mask, K rows in place, every lane of m finite, i.e. after the first
         * tile): the QK epilogue writes P = 2^(S - m) against the max m of the previous tiles and adds to l
         * directly (no tile max, no alpha, no second pass over St, no rescale of Ot), as long as no score
         * exceeds m + NN_LAZY; from the first block that does, the blocks store raw scores (jf), and the tile
         * finishes as below with the exact new max: P rows [0, jf) are rescaled by alpha. */
        int64_t jf = 0; /* rows [0, jf): P against base m already; rows [jf, nk): raw scores */
        if (VW == 16 && mfin && !mask && (p->k_ds == 1 || D <= 1)) {
            const float *kb = k + j0 * p->k_ts;
            for (int c = 0; c < NN_QV; c++) vf_store(alpha + c * VW, vf_set1(-INFINITY));
            jf = nk;
            for (int64_t jb = 0; jb < nk; jb += NN_MRK) {
                const float *kr[NN_MRK];
                const int mr = nk - jb < NN_MRK ? (int)(nk - jb) : NN_MRK;
                for (int r = 0; r < mr; r++) kr[r] = kb + (jb + r) * p->k_ts;
                if (nn_qk(mr, kr, qt, D, 0.0f * p->scale, st + jb * NN_BQ, p->causal ? j0 + jb - i0 : NN_NOCAUSAL,
                          alpha, jf == nk ? m : NULL, l))
                    jf = jb; /* this block and the next ones: raw, their max in alpha */
            }
        } else
            nn_att_scores(p, k, mask, i0, mq, j0, nk, qt, kp, st, alpha); /* alpha holds the tile max for now */
        int rescale = 0;
        if (jf < nk) { /* online softmax, lane-wise over the queries */
            vf base[NN_QV], sum[NN_QV];
            for (int c = 0; c < NN_QV; c++) {
                const vf mo = vf_load(m + c * VW), mn = vf_max(vf_load(alpha + c * VW), mo);
                base[c] = nn_att_base(mn);
                const vf a = nn_exp2(vf_sub(mo, base[c])); /* mo = -inf: 0 (O and l are 0 then anyway) */
                vf_store(alpha + c * VW, a);
                vf_store(m + c * VW, mn);
                sum[c] = vf_zero();
            }
            for (int64_t i = 0; i < NN_BQ; i++) rescale |= alpha[i] != 1.0f;
            if (rescale)
                for (int64_t j = 0; j < jf; j++)
                    for (int c = 0; c < NN_QV; c++)
                        vf_store(st + j * NN_BQ + c * VW,
                                 vf_mul(vf_load(st + j * NN_BQ + c * VW), vf_load(alpha + c * VW)));
            for (int64_t j = jf; j < nk; j++) {
                float *sr = st + j * NN_BQ;
#pragma GCC unroll 4
                for (int c = 0; c < NN_QV; c++) {
                    const vf e = nn_exp2(vf_sub(vf_load(sr + c * VW), base[c]));
                    vf_store(sr + c * VW, e);
                    sum[c] = vf_add(sum[c], e);
                }
            }
            for (int c = 0; c < NN_QV; c++)
                vf_store(l + c * VW, vf_fma(vf_load(l + c * VW), vf_load(alpha + c * VW), sum[c]));
            mfin = 1;
            for (int64_t i = 0; i < NN_BQ; i++) mfin &= m[i] > -INFINITY && m[i] < INFINITY;
        }
        /* Ot = alpha Ot + V^T P: V rows in place when unit-stride, else packed */
        const float *vb = v + j0 * p->v_ts;
        int64_t ldv = p->v_ts;
        if (p->v_ds != 1 && Dv > 1) {
            for (int64_t j = 0; j < nk; j++)
                for (int64_t e = 0; e < Dv; e++) vp[j * Dv + e] = vb[j * p->v_ts + e * p->v_ds];
            vb = vp, ldv = Dv;
        }
        for (int64_t e0 = 0; e0 < Dv; e0 += NN_MRE)
            nn_pv(Dv - e0 < NN_MRE ? (int)(Dv - e0) : NN_MRE, st, nk, vb + e0, ldv, rescale ? alpha : NULL,
                  ot + e0 * NN_BQ);
    }
    for (int64_t i = 0; i < mq; i++) /* l == 0: fully masked row (NaN); NaN l stays NaN */
        l[i] = l[i] > 0.0f ? 1.0f / l[i] : NAN;
    const int64_t o_ts = p->o_ts, o_ds = p->o_ds;
    int64_t iout = 0; /* queries [0, iout) written by VW x VW transposes */
    if (o_ds == 1)
        for (; iout + VW <= mq; iout += VW) {
            const vf li = vf_load(l + iout);
            int64_t e0 = 0;
            for (; e0 + VW <= Dv; e0 += VW) {
                vf r[VW];
                for (int kk = 0; kk < VW; kk++) r[kk] = vf_mul(vf_load(ot + (e0 + kk) * NN_BQ + iout), li);
                nn_transpose(r);
                for (int kk = 0; kk < VW; kk++) vf_store(o + (i0 + iout + kk) * o_ts + e0, r[kk]);
            }
            for (int64_t i = iout; i < iout + VW; i++)
                for (int64_t e = e0; e < Dv; e++) o[(i0 + i) * o_ts + e] = ot[e * NN_BQ + i] * l[i];
        }
    for (int64_t i = iout; i < mq; i++) {
        float *orow = o + (i0 + i) * o_ts;
        const float li = l[i];
        if (o_ds == 1)
            for (int64_t e = 0; e < Dv; e++) orow[e] = ot[e * NN_BQ + i] * li;
        else
            for (int64_t e = 0; e < Dv; e++) orow[e * o_ds] = ot[e * NN_BQ + i] * li;
    }
    if (!p->w) return;
    float *w = p->w + mb_batch_offset(p->nbatch, p->batch, p->w_bs, b);
    vf base[NN_QV];
    for (int c = 0; c < NN_QV; c++) base[c] = nn_att_base(vf_load(m + c * VW));
    for (int64_t j0 = 0; j0 < p->Tk; j0 += NN_BK) { /* weights: recompute St, exp(St - m) / l */
        const int64_t nk = p->Tk - j0 < NN_BK ? p->Tk - j0 : NN_BK;
        nn_att_scores(p, k, mask, i0, mq, j0, nk, qt, kp, st, alpha);
        for (int64_t j = 0; j < nk; j++) {
            float *sr = st + j * NN_BQ;
            for (int c = 0; c < NN_QV; c++)
                vf_store(sr + c * VW, vf_mul(nn_exp2(vf_sub(vf_load(sr + c * VW), base[c])), vf_load(l + c * VW)));
        }
        for (int64_t i = 0; i < mq; i++) {
            float *wr = w + (i0 + i) * p->w_qs + j0 * p->w_ks;
            for (int64_t j = 0; j < nk; j++) wr[j * p->w_ks] = st[j * NN_BQ + i];
        }
    }
}

static enum mb_status nn_attention_simd(const struct mb_attention *p, const struct mb_exec *ex)
{
    if (p->nbatch < 0 || p->nbatch > MB_MAX_BATCH || p->Tq < 0 || p->Tk < 0 || p->D < 0 || p->Dv < 0)
        return MB_EINVAL;
    if (p->Tk > INT32_MAX) return MB_ENOTSUP; /* lane compares are int32 */
    const int64_t nb = mb_batch_count(p->nbatch, p->batch), nqb = (p->Tq + NN_BQ - 1) / NN_BQ;
    const int64_t items = nb * nqb;
    if (items == 0) return MB_OK;
    struct nn_att_ws L;
    nn_att_layout(p, &L);
    int nt = ex->nthreads > 0 ? ex->nthreads : 1;
    if (nt > items) nt = (int)items;
    if (ex->work_size / sizeof(float) / (size_t)nt < (size_t)L.total) return MB_ENOMEM;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = mb_thread_num();
        float *ws = (float *)ex->work + (size_t)t * (size_t)L.total;
        for (int64_t it = t; it < items; it += nt) { /* round-robin: balances causal's uneven blocks */
            const int64_t b = it / nqb, i0 = it % nqb * NN_BQ;
            struct nn_att_next nx = {0}; /* for prefetching */
            if (it + nt < items) {
                const int64_t bn = (it + nt) / nqb, in0 = (it + nt) % nqb * NN_BQ;
                nx.q = p->q + mb_batch_offset(p->nbatch, p->batch, p->q_bs, bn) + in0 * p->q_ts;
                nx.mq = p->Tq - in0 < NN_BQ ? p->Tq - in0 : NN_BQ;
            }
            /* the next head's K and V, when unit-stride and small enough to sit in L2 next to this head's:
             * every thread prefetches all of it (L2 is per core), each item a share */
            if (b + 1 < nb && (p->k_ds == 1 || p->D <= 1) && (p->v_ds == 1 || p->Dv <= 1) &&
                p->Tk * (p->D + p->Dv) * (int64_t)sizeof(float) <= ((int64_t)1 << 20)) {
                const int64_t qi = it % nqb, qe = qi + nt < nqb ? qi + nt : nqb;
                nx.k = p->k + mb_batch_offset(p->nbatch, p->batch, p->k_bs, b + 1);
                nx.v = p->v + mb_batch_offset(p->nbatch, p->batch, p->v_bs, b + 1);
                nx.r0 = p->Tk * qi / nqb, nx.r1 = p->Tk * qe / nqb;
            }
            nn_att_item(p, b, i0, p->Tq - i0 < NN_BQ ? p->Tq - i0 : NN_BQ, ws, &L, &nx);
        }
    }
    return MB_OK;
}
