/*
 * attention_simd.h: the body of mb_attention_avx2 / mb_attention_avx512 (fused, flash-style), written once
 * against vexp.h's vector names (include vexp.h first). See attention_avx512.c for the verdict.
 *
 * Work item = (batch b, block of NN_BQ = 192 query rows); items go round-robin to exactly x->nthreads threads
 * (each item's result depends only on the item: deterministic for any thread count). Per item, per key
 * tile of NN_BK = 128 keys, all in this thread's slice of x->work (~250 KB for D = Dv = 64):
 *   pack   Qp (BQ x D, rows padded to the micro-tile with zeros), K^T tile (D x BK, keys padded to KC with
 *          zeros), V tile (BK x Dv_p, zero-padded; skipped when V rows are unit-stride and Dv a multiple of
 *          the PV chunk): any input strides are handled here, once per item.
 *   S      = scale * Qp K^T            register-blocked micro-kernel QK_MR rows x QK_NV vectors
 *   online row softmax on S: mask (scalar, any strides), causal (vector lane compare), tile max,
 *          m_new = max(m, tile max), alpha = exp(m - m_new), P = vf_exp(S - m_new) in place, l = l*alpha + sum P
 *   O      = alpha * O + P V          register-blocked micro-kernel PV_MR rows x PV_NV vectors
 * then O / l is written out. A row with no unmasked key ends with l = 0, m = -inf: NaN, like the
 * reference; Tk = 0 gives O = 0 (the reference's empty sum). Causal: key tiles past the block's last
 * query are never touched, and inside a tile each micro-row-block stops at its own last visible key.
 * Weights (w != NULL): a second pass recomputes S per tile and writes exp(S - m) / l.
 * Extra memory: O(BQ*(D+Dv) + BK*(D+Dv) + BQ*BK) per thread, independent of Tq and Tk.
 */
#include "tiled/nn_plan.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if VW == 16
#define NN_QK_MR 12 /* 12 x 2 zmm accumulators + 2 K^T loads, of 32 registers */
#define NN_QK_NV 2
#define NN_PV_MR 6 /* 6 x 4 zmm: a whole 64-wide O row block */
#define NN_PV_NV 4
#define NN_ROWPAD 12
#else
#define NN_QK_MR 6 /* 6 x 2 ymm accumulators + 2 loads + 1 broadcast, of 16 registers */
#define NN_QK_NV 2
#define NN_PV_MR 6
#define NN_PV_NV 2
#define NN_ROWPAD 6
#endif
#define NN_KC (NN_QK_NV * VW)
#define NN_DC (NN_PV_NV * VW)
#define NN_BQ 192 /* query rows per work item (a multiple of NN_ROWPAD): amortizes the K/V packing */
#define NN_BK 128 /* keys per tile (a multiple of NN_KC) */

static inline int64_t nn_up(int64_t a, int64_t m) { return (a + m - 1) / m * m; }

/* s[r][0..KC) = scale * sum_d q[r][d] * kt[d][0..KC) for r < QK_MR. */
static inline void nn_qk_tile(const float *q, int64_t D, const float *kt, int64_t ldk, float scale, float *s,
                              int64_t lds)
{
    vf acc[NN_QK_MR][NN_QK_NV];
#pragma GCC unroll 16
    for (int r = 0; r < NN_QK_MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NN_QK_NV; c++) acc[r][c] = vf_zero();
    for (int64_t d = 0; d < D; d++) {
        vf b[NN_QK_NV];
#pragma GCC unroll 4
        for (int c = 0; c < NN_QK_NV; c++) b[c] = vf_load(kt + d * ldk + c * VW);
#pragma GCC unroll 16
        for (int r = 0; r < NN_QK_MR; r++) {
            vf a = vf_set1(q[r * D + d]);
#pragma GCC unroll 4
            for (int c = 0; c < NN_QK_NV; c++) acc[r][c] = vf_fma(a, b[c], acc[r][c]);
        }
    }
    const vf vs = vf_set1(scale);
#pragma GCC unroll 16
    for (int r = 0; r < NN_QK_MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NN_QK_NV; c++) vf_store(s + r * lds + c * VW, vf_mul(vs, acc[r][c]));
}

/* o[r][0..DC) = alpha[r] * o[r][0..DC) + sum_{j<nk} p[r][j] * v[j][0..DC) for r < PV_MR. */
static inline void nn_pv_tile(const float *p, int64_t ldp, const float *v, int64_t ldv, int64_t nk,
                              const float *alpha, float *o, int64_t ldo)
{
    vf acc[NN_PV_MR][NN_PV_NV];
#pragma GCC unroll 16
    for (int r = 0; r < NN_PV_MR; r++) {
        vf a = vf_set1(alpha[r]);
#pragma GCC unroll 4
        for (int c = 0; c < NN_PV_NV; c++) acc[r][c] = vf_mul(a, vf_load(o + r * ldo + c * VW));
    }
    for (int64_t j = 0; j < nk; j++) {
        vf b[NN_PV_NV];
#pragma GCC unroll 4
        for (int c = 0; c < NN_PV_NV; c++) b[c] = vf_load(v + j * ldv + c * VW);
#pragma GCC unroll 16
        for (int r = 0; r < NN_PV_MR; r++) {
            vf a = vf_set1(p[r * ldp + j]);
#pragma GCC unroll 4
            for (int c = 0; c < NN_PV_NV; c++) acc[r][c] = vf_fma(a, b[c], acc[r][c]);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < NN_PV_MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NN_PV_NV; c++) vf_store(o + r * ldo + c * VW, acc[r][c]);
}

/* Visible keys of query row i in the tile starting at key j0 with nk keys (causal prefix). */
static inline int64_t nn_att_lim(const struct mb_attention *p, int64_t i, int64_t j0, int64_t nk)
{
    if (!p->causal) return nk;
    int64_t c = i - j0 + 1;
    return c < 0 ? 0 : c < nk ? c : nk;
}

/* Mask one score row in place: mask (scalar, any strides), then -inf at [lim, nkp). Returns its max. */
static inline float nn_att_mask_row(float *s, int64_t nkp, int64_t lim, const float *mrow, int64_t m_ks)
{
    if (mrow)
        for (int64_t j = 0; j < lim; j++)
            if (mrow[j * m_ks] == 0.0f) s[j] = -INFINITY;
    vf mx = vf_set1(-INFINITY);
    for (int64_t j = 0; j < nkp; j += VW) {
        vf x = vf_load(s + j);
        if (j + VW > lim) {
            x = vf_sel(vi_cmpgt(vi_set1((int32_t)(lim - j > 0 ? lim - j : 0)), vi_iota()), x, vf_set1(-INFINITY));
            vf_store(s + j, x);
        }
        mx = vf_max(mx, x);
    }
    return vf_hmax(mx);
}

/* Per-thread scratch layout, in floats, each part rounded to 16 floats (64 bytes). */
struct nn_att_ws {
    int64_t q, kt, v, s, o, m, l, a, total;
};

static void nn_att_layout(const struct mb_attention *p, struct nn_att_ws *w)
{
    const int64_t dvp = nn_up(p->Dv, NN_DC);
    int64_t at = 0;
    w->q = at, at += nn_up(NN_BQ * p->D, 16);
    w->kt = at, at += nn_up(p->D * NN_BK, 16);
    w->v = at, at += nn_up(NN_BK * dvp, 16);
    w->s = at, at += NN_BQ * NN_BK;
    w->o = at, at += nn_up(NN_BQ * dvp, 16);
    w->m = at, at += NN_BQ;
    w->l = at, at += NN_BQ;
    w->a = at, at += NN_BQ;
    w->total = at;
}

/* S (mqp x nkp) = scale * Qp K^T for the tile of keys [j0, j0 + nk); packs K^T first. Under causal each
 * micro-row-block stops at its last visible key (the rest of S is masked by nn_att_mask_row). */
static void nn_att_scores(const struct mb_attention *p, const float *k, int64_t i0, int64_t mqp, int64_t j0,
                          int64_t nk, int64_t nkp, const float *qp, float *kt, float *s)
{
    const int64_t D = p->D;
    for (int64_t j = 0; j < nkp; j++) {
        const float *kr = k + (j0 + j) * p->k_ts;
        if (j < nk)
            for (int64_t d = 0; d < D; d++) kt[d * nkp + j] = kr[d * p->k_ds];
        else
            for (int64_t d = 0; d < D; d++) kt[d * nkp + j] = 0.0f;
    }
    for (int64_t ib = 0; ib < mqp; ib += NN_QK_MR) {
        int64_t kend = nkp;
        if (p->causal) {
            int64_t c = nn_up(i0 + ib + NN_QK_MR - j0, NN_KC);
            kend = c < 0 ? 0 : c < nkp ? c : nkp;
        }
        for (int64_t jb = 0; jb < kend; jb += NN_KC)
            nn_qk_tile(qp + ib * D, D, kt + jb, nkp, p->scale, s + ib * NN_BK + jb, NN_BK);
    }
}

/* One work item: batch b, query rows [i0, i0 + mq). */
static void nn_att_item(const struct mb_attention *p, int64_t b, int64_t i0, int64_t mq, float *ws,
                        const struct nn_att_ws *L)
{
    const int64_t D = p->D, Dv = p->Dv, dvp = nn_up(Dv, NN_DC), mqp = nn_up(mq, NN_ROWPAD);
    const float *q = p->q + mb_batch_offset(p->nbatch, p->batch, p->q_bs, b);
    const float *k = p->k + mb_batch_offset(p->nbatch, p->batch, p->k_bs, b);
    const float *v = p->v + mb_batch_offset(p->nbatch, p->batch, p->v_bs, b);
    float *o = p->o + mb_batch_offset(p->nbatch, p->batch, p->o_bs, b);
    const float *mask = p->mask ? p->mask + mb_batch_offset(p->nbatch, p->batch, p->m_bs, b) : NULL;
    float *qp = ws + L->q, *kt = ws + L->kt, *vp = ws + L->v, *s = ws + L->s, *oa = ws + L->o;
    float *m = ws + L->m, *l = ws + L->l, *alpha = ws + L->a;

    if (p->Tk == 0) { /* empty sum: O = 0, as the reference */
        for (int64_t i = 0; i < mq; i++)
            for (int64_t e = 0; e < Dv; e++) o[(i0 + i) * p->o_ts + e * p->o_ds] = 0.0f;
        return;
    }
    for (int64_t i = 0; i < mqp; i++) {
        for (int64_t d = 0; d < D; d++) qp[i * D + d] = i < mq ? q[(i0 + i) * p->q_ts + d * p->q_ds] : 0.0f;
        for (int64_t e = 0; e < dvp; e++) oa[i * dvp + e] = 0.0f;
        m[i] = -INFINITY;
        l[i] = 0.0f;
    }
    const int64_t kend = p->causal && i0 + mq < p->Tk ? i0 + mq : p->Tk; /* later keys: masked for all rows */
    for (int64_t j0 = 0; j0 < kend; j0 += NN_BK) {
        const int64_t nk = kend - j0 < NN_BK ? kend - j0 : NN_BK, nkp = nn_up(nk, NN_KC);
        /* V rows are used in place when they are unit-stride and a whole number of DC-wide chunks (the
         * (B,H,S,D) benchmark layout, Dv = 64): the PV loop reads only rows j < nk. Else pack, zero-padded. */
        const int vdirect = p->v_ds == 1 && Dv == dvp;
        const float *vt = vdirect ? v + j0 * p->v_ts : vp;
        const int64_t ldv = vdirect ? p->v_ts : dvp;
        if (!vdirect)
            for (int64_t j = 0; j < nkp; j++)
                for (int64_t e = 0; e < dvp; e++)
                    vp[j * dvp + e] = j < nk && e < Dv ? v[(j0 + j) * p->v_ts + e * p->v_ds] : 0.0f;
        nn_att_scores(p, k, i0, mqp, j0, nk, nkp, qp, kt, s);
        for (int64_t i = 0; i < mqp; i++) { /* online softmax: P in place of S, alpha rescales O */
            float *sr = s + i * NN_BK;
            const int64_t lim = i < mq ? nn_att_lim(p, i0 + i, j0, nk) : 0;
            const float tmax = nn_att_mask_row(sr, nkp, lim, mask ? mask + (i0 + i) * p->m_qs + j0 * p->m_ks : NULL,
                                               p->m_ks);
            const float mnew = tmax > m[i] ? tmax : m[i];
            if (mnew == -INFINITY) { /* nothing visible yet (or a padding row): P = 0, O untouched */
                for (int64_t j = 0; j < nkp; j++) sr[j] = 0.0f;
                alpha[i] = 1.0f;
                continue;
            }
            const vf vm_ = vf_set1(mnew);
            vf sum = vf_zero();
            for (int64_t j = 0; j < nkp; j += VW) {
                vf e = vf_exp(vf_sub(vf_load(sr + j), vm_));
                vf_store(sr + j, e);
                sum = vf_add(sum, e);
            }
            alpha[i] = expf(m[i] - mnew);
            l[i] = l[i] * alpha[i] + vf_hsum(sum);
            m[i] = mnew;
        }
        for (int64_t ib = 0; ib < mqp; ib += NN_PV_MR) {
            int64_t jend = nk;
            if (p->causal) {
                int64_t c = i0 + ib + NN_PV_MR - j0;
                jend = c < 0 ? 0 : c < nk ? c : nk;
            }
            for (int64_t eb = 0; eb < dvp; eb += NN_DC)
                nn_pv_tile(s + ib * NN_BK, NN_BK, vt + eb, ldv, jend, alpha + ib, oa + ib * dvp + eb, dvp);
        }
    }
    for (int64_t i = 0; i < mq; i++) {
        const float inv = l[i] > 0.0f ? 1.0f / l[i] : NAN; /* l == 0: fully masked row; NaN l stays NaN */
        float *orow = o + (i0 + i) * p->o_ts;
        for (int64_t e = 0; e < Dv; e++) orow[e * p->o_ds] = oa[i * dvp + e] * inv;
    }
    if (!p->w) return;
    float *w = p->w + mb_batch_offset(p->nbatch, p->batch, p->w_bs, b);
    for (int64_t j0 = 0; j0 < p->Tk; j0 += NN_BK) { /* weights: recompute S, exp(S - m) / l */
        const int64_t nk = p->Tk - j0 < NN_BK ? p->Tk - j0 : NN_BK, nkp = nn_up(nk, NN_KC);
        nn_att_scores(p, k, i0, mqp, j0, nk, nkp, qp, kt, s);
        for (int64_t i = 0; i < mq; i++) {
            float *sr = s + i * NN_BK;
            const int64_t lim = nn_att_lim(p, i0 + i, j0, nk);
            nn_att_mask_row(sr, nkp, lim, mask ? mask + (i0 + i) * p->m_qs + j0 * p->m_ks : NULL, p->m_ks);
            const vf vm_ = vf_set1(m[i]), vinv = vf_set1(1.0f / l[i]);
            for (int64_t j = 0; j < nkp; j += VW) vf_store(sr + j, vf_mul(vf_exp(vf_sub(vf_load(sr + j), vm_)), vinv));
            float *wr = w + (i0 + i) * p->w_qs + j0 * p->w_ks;
            for (int64_t j = 0; j < nk; j++) wr[j * p->w_ks] = sr[j];
        }
    }
}

static enum mb_status nn_attention_simd(const struct mb_attention *p, const struct mb_exec *ex)
{
    if (p->nbatch < 0 || p->nbatch > MB_MAX_BATCH || p->Tq < 0 || p->Tk < 0 || p->D < 0 || p->Dv < 0)
        return MB_EINVAL;
    if (p->Tk > INT32_MAX) return MB_ENOTSUP; /* lane indices are int32 */
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
#ifdef _OPENMP
        const int t = omp_get_thread_num();
#else
        const int t = 0;
#endif
        float *ws = (float *)ex->work + (size_t)t * (size_t)L.total;
        for (int64_t it = t; it < items; it += nt) { /* round-robin: balances causal's uneven blocks */
            const int64_t b = it / nqb, i0 = it % nqb * NN_BQ;
            nn_att_item(p, b, i0, p->Tq - i0 < NN_BQ ? p->Tq - i0 : NN_BQ, ws, &L);
        }
    }
    return MB_OK;
}
