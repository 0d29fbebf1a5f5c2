/*
 * attention_tiled.c: flash-style attention in portable C (no intrinsics). Full mb_attention contract. Work
 * item = (batch, block of NN_TQ query rows), round-robin over x->nthreads OpenMP threads. Per item and key
 * tile of NN_TK keys, in this thread's slice of x->work:
 *   S = scale * Q K^T    the tiled GEMM (gemm_tiled.c, one thread) on Q's and K's rows in place, any
 *                        strides (it packs them); then the scale, the mask and causal
 *   online softmax: m_new = max(m, max_j S), alpha = exp(m - m_new), P = exp(S - m_new), l = l alpha + sum P
 *                        (tiled/nn_expf.h's portable exp, vectorized with the row loops by `omp simd`)
 *   O = alpha O + P V    the rows of O scaled by alpha, then the tiled GEMM with beta = 1 on V in place
 * O / l at the end; no O(Tq*Tk) memory. Fully masked rows: NaN; Tk = 0: O = 0 (the reference's empty sum).
 * Causal: key tiles past the block's last query are skipped. Weights: a second pass, exp(S - m) / l.
 * Measured verdict: the first version (own i-d-j loops over a packed K^T, libm expf) read 4.3 GFLOP/s at
 * BH 16 x S 1024 x d 64 (0.12x "blas") on an earlier VM; its loops were in fact scalar (gcc 12 -O2's cost
 * model does not pay for the run-time alias check: -fopt-info-vec "couldn't vectorize"). Zen 3, 1 thread,
 * BH 4 x S 512 x d 64, interleaved: 81-89 ms; `omp simd` on those loops 32 ms; both products by the tiled
 * GEMM (its 4 x 8 register tile instead of a row of S through memory per step) 21.8 ms; the portable exp
 * in place of expf 20.7-21.3 ms (12.6 GFLOP/s: ~0.25 of the SSE2 peak, packing ~20 % of the time). A
 * portable baseline, not a contender: the AVX2 variant runs at ~6x that.
 */
#include "mb.h"

#include <math.h>

#include "tiled/nn_expf.h"
#define NN_TQ 32
#define NN_TK 64

/* C (mq x n, row stride ldc) = A (mq x k: a[i*a_rs + kk*a_cs]) B (k x n: b[kk*b_rs + c*b_cs]) + beta C by the
 * tiled GEMM on this thread; g: workspace of gn floats (nn_att_gemm_ws: never MB_ENOMEM). */
static void nn_mm(int64_t mq, int64_t n, int64_t k, const float *a, int64_t a_rs, int64_t a_cs, const float *b,
                  int64_t b_rs, int64_t b_cs, float beta, float *c, int64_t ldc, float *g, int64_t gn,
                  const struct mb_exec *x)
{
    const struct mb_gemm m = {.M = mq, .N = n, .K = k, .A = a, .a_rs = a_rs, .a_cs = a_cs, .B = b, .b_rs = b_rs,
                              .b_cs = b_cs, .C = c, .c_rs = ldc, .c_cs = 1, .alpha = 1.0f, .beta = beta};
    const struct mb_exec e = {.work = g, .work_size = (size_t)gn * sizeof(float), .nthreads = 1, .l1d = x->l1d,
                              .l2 = x->l2, .l3 = x->l3};
    mb_gemm_tiled(&m, &e);
}

static int64_t nn_up8(int64_t a) { return (a + 7) / 8 * 8; }

/* the tiled GEMM's packing space for the two products (gemm_driver.h clamps MC / KC / NC to the problem):
 * S: 32 x D by D x 64, PV: 32 x 64 by 64 x Dv */
static int64_t nn_att_gemm_ws(const struct mb_attention *p)
{
    const int64_t gs = NN_TQ * nn_up8(p->D) + nn_up8(p->D) * NN_TK, gv = NN_TQ * NN_TK + NN_TK * nn_up8(p->Dv);
    return gs > gv ? gs : gv;
}

/* S[i][j] = scale * q_i . k_j (masked, causal) for i < mq, j < nk (the sum by the tiled GEMM, then the scale,
 * so that D = 0 gives 0 * scale as the reference). */
static void scores(const struct mb_attention *p, const float *q, const float *k, const float *mask, int64_t i0,
                   int64_t mq, int64_t j0, int64_t nk, float *s, float *g, int64_t gn, const struct mb_exec *x)
{
    nn_mm(mq, nk, p->D, q + i0 * p->q_ts, p->q_ts, p->q_ds, k + j0 * p->k_ts, p->k_ds, p->k_ts, 0.0f, s, NN_TK, g,
          gn, x);
    for (int64_t i = 0; i < mq; i++) {
        float *sr = s + i * NN_TK;
        for (int64_t j = 0; j < nk; j++) {
            sr[j] *= p->scale;
            if ((mask && mask[(i0 + i) * p->m_qs + (j0 + j) * p->m_ks] == 0.0f) || (p->causal && j0 + j > i0 + i))
                sr[j] = -INFINITY;
        }
    }
}

static void item(const struct mb_attention *p, int64_t b, int64_t i0, int64_t mq, float *ws, int64_t gn,
                 const struct mb_exec *x)
{
    const int64_t Dv = p->Dv;
    const float *q = p->q + mb_batch_offset(p->nbatch, p->batch, p->q_bs, b);
    const float *k = p->k + mb_batch_offset(p->nbatch, p->batch, p->k_bs, b);
    const float *v = p->v + mb_batch_offset(p->nbatch, p->batch, p->v_bs, b);
    float *o = p->o + mb_batch_offset(p->nbatch, p->batch, p->o_bs, b);
    const float *mask = p->mask ? p->mask + mb_batch_offset(p->nbatch, p->batch, p->m_bs, b) : NULL;
    float *s = ws, *oa = s + NN_TQ * NN_TK, *m = oa + NN_TQ * Dv, *l = m + NN_TQ, *g = l + NN_TQ;
    for (int64_t i = 0; i < mq; i++) {
        for (int64_t e = 0; e < Dv; e++) oa[i * Dv + e] = 0.0f;
        m[i] = -INFINITY;
        l[i] = 0.0f;
    }
    const int64_t kend = p->causal && i0 + mq < p->Tk ? i0 + mq : p->Tk;
    for (int64_t j0 = 0; j0 < kend; j0 += NN_TK) {
        const int64_t nk = kend - j0 < NN_TK ? kend - j0 : NN_TK;
        scores(p, q, k, mask, i0, mq, j0, nk, s, g, gn, x);
        for (int64_t i = 0; i < mq; i++) {
            float *sr = s + i * NN_TK, mx = m[i], sum = 0.0f;
#pragma omp simd reduction(max : mx)
            for (int64_t j = 0; j < nk; j++) mx = sr[j] > mx ? sr[j] : mx;
            if (mx == -INFINITY) { /* nothing visible yet: O, l, m unchanged (a zero row of P) */
                for (int64_t j = 0; j < nk; j++) sr[j] = 0.0f;
                continue;
            }
#pragma omp simd reduction(+ : sum)
            for (int64_t j = 0; j < nk; j++) {
                sr[j] = nn_expf(sr[j] - mx);
                sum += sr[j];
            }
            const float alpha = nn_expf(m[i] - mx);
            float *orow = oa + i * Dv;
#pragma omp simd
            for (int64_t e = 0; e < Dv; e++) orow[e] *= alpha;
            l[i] = l[i] * alpha + sum;
            m[i] = mx;
        }
        nn_mm(mq, Dv, nk, s, NN_TK, 1, v + j0 * p->v_ts, p->v_ts, p->v_ds, 1.0f, oa, Dv, g, gn, x); /* O += P V */
    }
    for (int64_t i = 0; i < mq; i++) {
        const float inv = l[i] > 0.0f ? 1.0f / l[i] : NAN; /* 0: fully masked row (NaN); NaN stays NaN */
        for (int64_t e = 0; e < Dv; e++) o[(i0 + i) * p->o_ts + e * p->o_ds] = p->Tk ? oa[i * Dv + e] * inv : 0.0f;
    }
    if (!p->w) return;
    float *w = p->w + mb_batch_offset(p->nbatch, p->batch, p->w_bs, b);
    for (int64_t j0 = 0; j0 < p->Tk; j0 += NN_TK) {
        const int64_t nk = p->Tk - j0 < NN_TK ? p->Tk - j0 : NN_TK;
        scores(p, q, k, mask, i0, mq, j0, nk, s, g, gn, x);
        for (int64_t i = 0; i < mq; i++)
            for (int64_t j = 0; j < nk; j++)
                w[(i0 + i) * p->w_qs + (j0 + j) * p->w_ks] = nn_expf(s[i * NN_TK + j] - m[i]) / l[i];
    }
}

enum mb_status mb_attention_tiled(const struct mb_attention *p, const struct mb_exec *x)
{
    if (p->nbatch < 0 || p->nbatch > MB_MAX_BATCH) return MB_EINVAL;
    const int64_t nqb = (p->Tq + NN_TQ - 1) / NN_TQ, items = mb_batch_count(p->nbatch, p->batch) * nqb;
    if (items == 0) return MB_OK;
    const int64_t gn = nn_att_gemm_ws(p), per = NN_TQ * NN_TK + NN_TQ * p->Dv + 2 * NN_TQ + gn;
    const int64_t per16 = (per + 15) / 16 * 16; /* 64-byte aligned slices */
    int nt = x->nthreads > 0 ? x->nthreads : 1;
    if (nt > items) nt = (int)items;
    if (x->work_size / sizeof(float) / (size_t)nt < (size_t)per16) return MB_ENOMEM;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = mb_thread_num();
        for (int64_t it = t; it < items; it += nt) {
            const int64_t b = it / nqb, i0 = it % nqb * NN_TQ;
            item(p, b, i0, p->Tq - i0 < NN_TQ ? p->Tq - i0 : NN_TQ, (float *)x->work + (size_t)t * (size_t)per16, gn,
                 x);
        }
    }
    return MB_OK;
}
