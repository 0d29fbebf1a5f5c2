/*
 * attention_blas.c: the "naive-BLAS way" peer. Per batch item: S = scale * Q K^T with one OpenBLAS
 * cblas_sgemm (Tq x Tk scores in x->work: O(Tq*Tk) memory), a scalar libm softmax over each row (mask,
 * causal; the reference's algorithm: max, expf, sum, divide; rows split over x->nthreads OpenMP threads),
 * then O = P V with a second cblas_sgemm. This is what a user who reaches for BLAS writes; the fused
 * kernels (attention_avx512.c) are measured against it.
 * Contract: rows of Q, K, V, O must be unit-stride in the feature dim (else MB_ENOTSUP: the ops layer
 * falls back to naive); Tq*Tk floats of workspace (else MB_ENOMEM). Fully masked rows give NaN.
 * Threads: OpenBLAS's pool set to x->nthreads per call.
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

enum mb_status mb_attention_blas(const struct mb_attention *p, const struct mb_exec *x)
{
    const int64_t Tq = p->Tq, Tk = p->Tk, D = p->D, Dv = p->Dv;
    const int64_t ldq = ld_of(Tq, D, p->q_ts, p->q_ds), ldk = ld_of(Tk, D, p->k_ts, p->k_ds);
    const int64_t ldv = ld_of(Tk, Dv, p->v_ts, p->v_ds), ldo = ld_of(Tq, Dv, p->o_ts, p->o_ds);
    if (ldq < 0 || ldk < 0 || ldv < 0 || ldo < 0 || Tq > INT32_MAX || Tk > INT32_MAX || D > INT32_MAX ||
        Dv > INT32_MAX)
        return MB_ENOTSUP;
    if (x->work_size < (size_t)(Tq * Tk) * sizeof(float)) return MB_ENOMEM;
    float *s = x->work;
    const int nt = x->nthreads > 0 ? x->nthreads : 1;
    openblas_set_num_threads(nt);
    const int64_t nb = mb_batch_count(p->nbatch, p->batch);
    for (int64_t b = 0; b < nb; b++) {
        const float *q = p->q + mb_batch_offset(p->nbatch, p->batch, p->q_bs, b);
        const float *k = p->k + mb_batch_offset(p->nbatch, p->batch, p->k_bs, b);
        const float *v = p->v + mb_batch_offset(p->nbatch, p->batch, p->v_bs, b);
        float *o = p->o + mb_batch_offset(p->nbatch, p->batch, p->o_bs, b);
        const float *mask = p->mask ? p->mask + mb_batch_offset(p->nbatch, p->batch, p->m_bs, b) : NULL;
        float *w = p->w ? p->w + mb_batch_offset(p->nbatch, p->batch, p->w_bs, b) : NULL;
        if (Tq == 0) continue;
        if (Tk == 0) { /* the reference's empty sum */
            for (int64_t i = 0; i < Tq; i++)
                for (int64_t e = 0; e < Dv; e++) o[i * ldo + e] = 0.0f;
            continue;
        }
        if (D == 0)
            for (int64_t i = 0; i < Tq * Tk; i++) s[i] = p->scale * 0.0f; /* scale * empty sum: NaN if scale is inf (d = 0), as the contract */
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Tq, (int)Tk, (int)D, p->scale, q, (int)ldq, k,
                        (int)ldk, 0.0f, s, (int)Tk);
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t i = 0; i < Tq; i++) {
            float *r = s + i * Tk, mx = -INFINITY, sum = 0.0f;
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
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Tq, (int)Dv, (int)Tk, 1.0f, s, (int)Tk, v,
                        (int)ldv, 0.0f, o, (int)ldo);
    }
    return MB_OK;
}
