/*
 * attention_tiled.c: flash-style attention in portable C (no intrinsics, libm expf). Full mb_attention
 * contract. Work item = (batch, block of NN_TQ query rows), round-robin over x->nthreads OpenMP threads.
 * Per item and key tile of NN_TK keys (packed into this thread's slice of x->work, any input strides):
 *   S = scale * Qp K^T   (i, d, j loop order over a packed K^T: the j loop is unit-stride and needs no
 *                        reassociation; `omp simd` vectorizes it, as gcc 12's -O2 cost model would not
 *                        pay for the runtime alias check)
 *   online softmax: m_new = max(m, max_j S), alpha = exp(m - m_new), P = exp(S - m_new), l = l alpha + sum P
 *   O = alpha O + P V    (i, j, e order: the e loop is unit-stride, `omp simd` too)
 * O / l at the end; no O(Tq*Tk) memory. Fully masked rows: NaN; Tk = 0: O = 0 (the reference's empty sum).
 * Causal: key tiles past the block's last query are skipped. Weights: a second pass, exp(S - m) / l.
 * Measured verdict (matbench, BH 16 x S 1024 x d 64, 1 thread, median CPU time, same run as "blas"):
 * causal 0 1009 ms = 4.3 GFLOP/s (0.12x "blas" 121 ms, ~32x slower than attention_avx512), causal 1 529 ms:
 * a portable baseline (scalar libm expf, no intrinsics, -O2 without -march), not a contender. Those loops
 * were scalar then (-fopt-info-vec: "couldn't vectorize"); with `omp simd` (SSE2, 4 lanes): Zen 3, BH 4 x
 * S 512 x d 64, 1 thread, 81-89 -> 32 ms (2.6x, interleaved). softmax_tiled.c's inlined portable exp in
 * place of expf measured level here (34-42 ms either way): the two products dominate, not the exp.
 */
#include "mb.h"

#include <math.h>
#define NN_TQ 32
#define NN_TK 64

/* S[i][j] = scale * q_i . k_j (masked, causal) for i < mq, j < nk; K packed transposed into kt. */
static void scores(const struct mb_attention *p, const float *k, const float *mask, int64_t i0, int64_t mq,
                   int64_t j0, int64_t nk, const float *qp, float *kt, float *s)
{
    const int64_t D = p->D;
    for (int64_t j = 0; j < NN_TK; j++) /* keys padded with zeros: the j loops below have a constant count */
        for (int64_t d = 0; d < D; d++) kt[d * NN_TK + j] = j < nk ? k[(j0 + j) * p->k_ts + d * p->k_ds] : 0.0f;
    for (int64_t i = 0; i < mq; i++) {
        float *sr = s + i * NN_TK;
        for (int j = 0; j < NN_TK; j++) sr[j] = 0.0f;
        for (int64_t d = 0; d < D; d++) {
            const float a = qp[i * D + d], *kr = kt + d * NN_TK;
#pragma omp simd
            for (int j = 0; j < NN_TK; j++) sr[j] += a * kr[j];
        }
        for (int64_t j = 0; j < nk; j++) {
            sr[j] *= p->scale;
            if ((mask && mask[(i0 + i) * p->m_qs + (j0 + j) * p->m_ks] == 0.0f) || (p->causal && j0 + j > i0 + i))
                sr[j] = -INFINITY;
        }
    }
}

static void item(const struct mb_attention *p, int64_t b, int64_t i0, int64_t mq, float *ws)
{
    const int64_t D = p->D, Dv = p->Dv;
    const float *q = p->q + mb_batch_offset(p->nbatch, p->batch, p->q_bs, b);
    const float *k = p->k + mb_batch_offset(p->nbatch, p->batch, p->k_bs, b);
    const float *v = p->v + mb_batch_offset(p->nbatch, p->batch, p->v_bs, b);
    float *o = p->o + mb_batch_offset(p->nbatch, p->batch, p->o_bs, b);
    const float *mask = p->mask ? p->mask + mb_batch_offset(p->nbatch, p->batch, p->m_bs, b) : NULL;
    float *qp = ws, *kt = qp + NN_TQ * D, *vp = kt + D * NN_TK, *s = vp + NN_TK * Dv, *oa = s + NN_TQ * NN_TK;
    float *m = oa + NN_TQ * Dv, *l = m + NN_TQ;
    for (int64_t i = 0; i < mq; i++) {
        for (int64_t d = 0; d < D; d++) qp[i * D + d] = q[(i0 + i) * p->q_ts + d * p->q_ds];
        for (int64_t e = 0; e < Dv; e++) oa[i * Dv + e] = 0.0f;
        m[i] = -INFINITY;
        l[i] = 0.0f;
    }
    const int64_t kend = p->causal && i0 + mq < p->Tk ? i0 + mq : p->Tk;
    for (int64_t j0 = 0; j0 < kend; j0 += NN_TK) {
        const int64_t nk = kend - j0 < NN_TK ? kend - j0 : NN_TK;
        for (int64_t j = 0; j < nk; j++)
            for (int64_t e = 0; e < Dv; e++) vp[j * Dv + e] = v[(j0 + j) * p->v_ts + e * p->v_ds];
        scores(p, k, mask, i0, mq, j0, nk, qp, kt, s);
        for (int64_t i = 0; i < mq; i++) {
            float *sr = s + i * NN_TK, mx = m[i], sum = 0.0f;
            for (int64_t j = 0; j < nk; j++) mx = sr[j] > mx ? sr[j] : mx;
            if (mx == -INFINITY) continue; /* nothing visible yet: O, l, m unchanged */
            for (int64_t j = 0; j < nk; j++) {
                sr[j] = expf(sr[j] - mx);
                sum += sr[j];
            }
            const float alpha = expf(m[i] - mx);
            float *orow = oa + i * Dv;
#pragma omp simd
            for (int64_t e = 0; e < Dv; e++) orow[e] *= alpha;
            for (int64_t j = 0; j < nk; j++) {
                const float pj = sr[j];
                const float *vr = vp + j * Dv;
#pragma omp simd
                for (int64_t e = 0; e < Dv; e++) orow[e] += pj * vr[e];
            }
            l[i] = l[i] * alpha + sum;
            m[i] = mx;
        }
    }
    for (int64_t i = 0; i < mq; i++) {
        const float inv = l[i] > 0.0f ? 1.0f / l[i] : NAN; /* 0: fully masked row (NaN); NaN stays NaN */
        for (int64_t e = 0; e < Dv; e++) o[(i0 + i) * p->o_ts + e * p->o_ds] = p->Tk ? oa[i * Dv + e] * inv : 0.0f;
    }
    if (!p->w) return;
    float *w = p->w + mb_batch_offset(p->nbatch, p->batch, p->w_bs, b);
    for (int64_t j0 = 0; j0 < p->Tk; j0 += NN_TK) {
        const int64_t nk = p->Tk - j0 < NN_TK ? p->Tk - j0 : NN_TK;
        scores(p, k, mask, i0, mq, j0, nk, qp, kt, s);
        for (int64_t i = 0; i < mq; i++)
            for (int64_t j = 0; j < nk; j++)
                w[(i0 + i) * p->w_qs + (j0 + j) * p->w_ks] = expf(s[i * NN_TK + j] - m[i]) / l[i];
    }
}

enum mb_status mb_attention_tiled(const struct mb_attention *p, const struct mb_exec *x)
{
    if (p->nbatch < 0 || p->nbatch > MB_MAX_BATCH) return MB_EINVAL;
    const int64_t nqb = (p->Tq + NN_TQ - 1) / NN_TQ, items = mb_batch_count(p->nbatch, p->batch) * nqb;
    if (items == 0) return MB_OK;
    const int64_t per = NN_TQ * p->D + p->D * NN_TK + NN_TK * p->Dv + NN_TQ * NN_TK + NN_TQ * p->Dv + 2 * NN_TQ;
    const int64_t per16 = (per + 15) / 16 * 16; /* 64-byte aligned slices */
    int nt = x->nthreads > 0 ? x->nthreads : 1;
    if (nt > items) nt = (int)items;
    if (x->work_size / sizeof(float) / (size_t)nt < (size_t)per16) return MB_ENOMEM;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = mb_thread_num();
        for (int64_t it = t; it < items; it += nt) {
            const int64_t b = it / nqb, i0 = it % nqb * NN_TQ;
            item(p, b, i0, p->Tq - i0 < NN_TQ ? p->Tq - i0 : NN_TQ, (float *)x->work + (size_t)t * (size_t)per16);
        }
    }
    return MB_OK;
}
