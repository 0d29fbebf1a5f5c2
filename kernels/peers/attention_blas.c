/*
 * attention_blas.c: the "naive-BLAS way" peer. Per batch item: S = scale * Q K^T with one OpenBLAS
 * cblas_sgemm (Tq x Tk scores in x->work: O(Tq*Tk) memory), a scalar libm softmax over each row (mask,
 * causal; the reference's algorithm: max, expf, sum, divide; rows split over x->nthreads OpenMP threads),
 * then O = P V with a second cblas_sgemm. This is what a user who reaches for BLAS writes; the fused
 * kernels (attention_avx512.c) are measured against it.
 * Contract: rows of Q, K, V, O must be unit-stride in the feature dim (else MB_ENOTSUP: the ops layer
 * falls back to naive); per thread at least one row of scores, Tk floats, of workspace (else MB_ENOMEM; one
 * thread with Tq*Tk floats computes a head as one pair of GEMMs). Fully masked rows give NaN.
 * Threads: x->nthreads OpenMP threads over (head, block of query rows), each calling OpenBLAS single-threaded
 * on its rows. Not OpenBLAS's own pool: Debian's libopenblas0-pthread pool spins between calls, and alternating
 * it with an OpenMP region (the threaded softmax, the earlier version) on this 2-core VM ran 2 threads ~30x
 * slower than 1 (BH 1, S 128, d 64: 3.8 ms vs 0.12 ms; BH 4: 18 ms vs 0.48 ms).
 */
#include "mb.h"

#include <cblas.h>
#include <math.h>

void openblas_set_num_threads(int);

/* Leading dimension of a rows x cols row-major operand with unit column stride, or -1. */
static int64_t ld_of(int64_t rows, int64_t cols, int64_t rs, int64_t cs)
{
    int64_t minld = cols > 1 ? cols : 1;
    if (cols == 0) return minld; /* never accessed */
    if (cols > 1 && cs != 1) return -1;
    int64_t ld = rows <= 1 ? minld : rs;
    return ld >= minld && ld <= INT32_MAX ? ld : -1;
}

/* Query rows [i0, i1) of one head: S = scale Q K^T into s (rows x Tk), the scalar softmax, O = P V. */
static void rows_blas(const struct mb_attention *p, const float *q, const float *k, const float *v, float *o,
                      const float *mask, float *w, int64_t i0, int64_t i1, float *s, int64_t ldq, int64_t ldk,
                      int64_t ldv, int64_t ldo)
{
    const int64_t Tk = p->Tk, D = p->D, Dv = p->Dv, rows = i1 - i0;
    if (D == 0)
        for (int64_t i = 0; i < rows * Tk; i++)
            s[i] = p->scale * 0.0f; /* scale * empty sum: NaN if scale is inf (d = 0), as the contract */
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)Tk, (int)D, p->scale, q + i0 * ldq,
                    (int)ldq, k, (int)ldk, 0.0f, s, (int)Tk);
    for (int64_t i = i0; i < i1; i++) {
        float *r = s + (i - i0) * Tk, mx = -INFINITY, sum = 0.0f;
        for (int64_t j = 0; j < Tk; j++) {
            if ((mask && mask[i * p->m_qs + j * p->m_ks] == 0.0f) || (p->causal && j > i)) r[j] = -INFINITY;
            if (r[j] > mx) mx = r[j];
        }
        for (int64_t j = 0; j < Tk; j++) {
            r[j] = expf(r[j] - mx); /* all -inf: NaN, as the reference */
            sum += r[j];
        }
        for (int64_t j = 0; j < Tk; j++) r[j] /= sum;
        if (w)
            for (int64_t j = 0; j < Tk; j++) w[i * p->w_qs + j * p->w_ks] = r[j];
    }
    if (Dv > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)Dv, (int)Tk, 1.0f, s, (int)Tk, v,
                    (int)ldv, 0.0f, o + i0 * ldo, (int)ldo);
}

enum mb_status mb_attention_blas(const struct mb_attention *p, const struct mb_exec *x)
{
    const int64_t Tq = p->Tq, Tk = p->Tk, D = p->D, Dv = p->Dv;
    const int64_t ldq = ld_of(Tq, D, p->q_ts, p->q_ds), ldk = ld_of(Tk, D, p->k_ts, p->k_ds);
    const int64_t ldv = ld_of(Tk, Dv, p->v_ts, p->v_ds), ldo = ld_of(Tq, Dv, p->o_ts, p->o_ds);
    if (ldq < 0 || ldk < 0 || ldv < 0 || ldo < 0 || Tq > INT32_MAX || Tk > INT32_MAX || D > INT32_MAX || Dv > INT32_MAX)
        return MB_ENOTSUP;
    const int64_t nb = mb_batch_count(p->nbatch, p->batch);
    if (nb == 0 || Tq == 0) return MB_OK;
    int nt = x->nthreads > 0 ? x->nthreads : 1;
    /* items: (head, block of query rows); a head is split only when there are fewer heads than threads, or
     * when a thread's share of the workspace cannot hold its rows' scores */
    const int64_t cap = Tk ? (int64_t)(x->work_size / sizeof(float) / (size_t)nt) / Tk : Tq;
    if (cap < 1) return MB_ENOMEM;
    int64_t rb = nb >= nt ? Tq : (Tq + (nt + nb - 1) / nb - 1) / ((nt + nb - 1) / nb);
    if (rb > cap) rb = cap;
    const int64_t nrb = (Tq + rb - 1) / rb, items = nb * nrb;
    if (nt > items) nt = (int)items;
    openblas_set_num_threads(1);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t it = 0; it < items; it++) {
        const int64_t b = it / nrb, i0 = it % nrb * rb, i1 = i0 + rb < Tq ? i0 + rb : Tq;
        float *o = p->o + mb_batch_offset(p->nbatch, p->batch, p->o_bs, b);
        if (Tk == 0) { /* the reference's empty sum */
            for (int64_t i = i0; i < i1; i++)
                for (int64_t e = 0; e < Dv; e++) o[i * ldo + e] = 0.0f;
            continue;
        }
        rows_blas(p, p->q + mb_batch_offset(p->nbatch, p->batch, p->q_bs, b),
                  p->k + mb_batch_offset(p->nbatch, p->batch, p->k_bs, b),
                  p->v + mb_batch_offset(p->nbatch, p->batch, p->v_bs, b), o,
                  p->mask ? p->mask + mb_batch_offset(p->nbatch, p->batch, p->m_bs, b) : NULL,
                  p->w ? p->w + mb_batch_offset(p->nbatch, p->batch, p->w_bs, b) : NULL, i0, i1,
                  (float *)x->work + (size_t)mb_thread_num() * (size_t)(rb * Tk), ldq, ldk, ldv, ldo);
    }
    return MB_OK;
}
