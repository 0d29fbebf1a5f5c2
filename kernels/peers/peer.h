/*
 * peer.h: what the library peers share. Libraries take a (trans, ld) pair per operand, not two strides,
 * and don't do two parts of the mb_gemm contract: K == 0 (C = beta*C, beta == 0 meaning write-only, where
 * a library either rejects the call or computes 0*NaN) and the bias epilogue. One copy of each, here, and
 * how the per-item peers (OpenBLAS, oneDNN, BLIS) spread a batch over the threads.
 */
#pragma once
#include "mb.h"

/* (rs, cs) of a rows x cols matrix as a row-major BLAS operand: 'N' with ld = rs, 'T' with ld = cs, or 0
 * when no (trans, ld) pair expresses it. Size-1 dims accept any stride. */
static inline char mb_peer_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, int64_t *ld)
{
    int64_t r1 = rows > 1 ? rows : 1, c1 = cols > 1 ? cols : 1;
    if (cs == 1 || cols <= 1) {
        *ld = rows <= 1 ? c1 : rs;
        if (*ld >= c1) return 'N';
    }
    if (rs == 1 || rows <= 1) {
        *ld = cols <= 1 ? r1 : cs;
        if (*ld >= r1) return 'T';
    }
    return 0;
}

/* K == 0: C = beta*C, or zeros when beta == 0 (C's old contents, even NaN, ignored) */
static inline void mb_peer_scale_c(const struct mb_gemm *p, float *C, int64_t rs, int64_t cs)
{
    for (int64_t m = 0; m < p->M; m++)
        for (int64_t n = 0; n < p->N; n++) {
            float *c = &C[m * rs + n * cs];
            *c = p->beta != 0.0f ? p->beta * *c : 0.0f;
        }
}

/* C += bias[n] on every row */
static inline void mb_peer_add_bias(const struct mb_gemm *p, float *C, int64_t rs, int64_t cs)
{
    if (!p->bias) return;
    for (int64_t m = 0; m < p->M; m++)
        for (int64_t n = 0; n < p->N; n++) C[m * rs + n * cs] += p->bias[n * p->bias_s];
}

/* Threads of a per-item peer: .batch OpenMP threads over the batch items, each library call on .call threads.
 * A batch that divides well over x->nthreads is split by items with single-threaded calls, as one batches
 * small GEMMs with a library that threads each call (letting OpenBLAS / oneDNN thread each 64^3 item
 * measured no faster at 2 threads than at 1); otherwise the items run in turn, the library threading each
 * call that is not tiny. Tiny total work: one thread (mb.h: MB_GEMM_MIN_PAR_MNK, our driver's rule). */
struct mb_peer_threads {
    int batch, call;
};
static inline struct mb_peer_threads mb_peer_threads(double item, int64_t nb, int nthreads) /* item: M N K */
{
    struct mb_peer_threads t = {1, 1};
    if (nthreads <= 1 || item * (double)nb < MB_GEMM_MIN_PAR_MNK) return t;
    if (nb >= 2 * (int64_t)nthreads || (nb >= nthreads && nb % nthreads == 0))
        t.batch = nthreads;
    else if (item >= MB_GEMM_MIN_PAR_MNK)
        t.call = nthreads;
    return t;
}

/* One library call C = alpha A B + beta C on batch item it (M, N, K >= 1); nonzero if the library refused. */
typedef int (*mb_peer_call_fn)(const struct mb_gemm *p, const struct mb_gemm_item *it, const void *ctx);

static inline int mb_peer_item(const struct mb_gemm *p, int64_t b, int64_t c_rs, int64_t c_cs, mb_peer_call_fn call,
                               const void *ctx)
{
    const struct mb_gemm_item it = mb_gemm_item(p, b);
    int bad = 0;
    if (p->M == 0 || p->N == 0) return 0;
    if (p->K == 0)
        mb_peer_scale_c(p, it.C, c_rs, c_cs);
    else
        bad = call(p, &it, ctx);
    mb_peer_add_bias(p, it.C, c_rs, c_cs);
    return bad;
}

/* The per-item peers' whole batch: every item through call (K == 0 and the bias done here), threads as
 * mb_peer_threads says, set_threads(n) giving the library its per-call count. No OpenMP region at all when the
 * items run in turn: a library that threads a call from inside even an inactive region ran 1.1-5x slower
 * (BLIS, oneDNN, 1024^3 on 2 threads). MB_EINVAL when a call failed. */
static inline enum mb_status mb_peer_gemm_batch(const struct mb_gemm *p, const struct mb_exec *x, int64_t c_rs,
                                                int64_t c_cs, void (*set_threads)(int), mb_peer_call_fn call,
                                                const void *ctx)
{
    const int64_t nb = mb_batch_count(p->nbatch, p->batch);
    const struct mb_peer_threads t = mb_peer_threads((double)p->M * (double)p->N * (double)p->K, nb, x->nthreads);
    int bad = 0;
    set_threads(t.call);
    if (t.batch > 1) {
#pragma omp parallel for num_threads(t.batch) schedule(static) reduction(| : bad)
        for (int64_t b = 0; b < nb; b++) bad |= mb_peer_item(p, b, c_rs, c_cs, call, ctx);
    } else {
        for (int64_t b = 0; b < nb; b++) bad |= mb_peer_item(p, b, c_rs, c_cs, call, ctx);
    }
    return bad ? MB_EINVAL : MB_OK;
}
