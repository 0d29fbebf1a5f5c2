/*
 * gemm_blas.c: the OpenBLAS peer. One cblas_sgemm per batch item; a stride pattern BLAS cannot
 * express (neither row nor column unit stride, or a non-unit C column stride) is MB_ENOTSUP.
 * Threads: peer.h's mb_peer_threads (OpenMP over the items, or OpenBLAS's own pool per call).
 */
#include "mb.h"
#include "peers/peer.h"

#include <cblas.h>

void openblas_set_num_threads(int);

struct blas_call {
    char ta, tb;
    int64_t lda, ldb, ldc;
};

static int call_blas(const struct mb_gemm *p, const struct mb_gemm_item *it, const void *ctx)
{
    const struct blas_call *c = ctx;
    cblas_sgemm(CblasRowMajor, c->ta == 'T' ? CblasTrans : CblasNoTrans, c->tb == 'T' ? CblasTrans : CblasNoTrans,
                (int)p->M, (int)p->N, (int)p->K, p->alpha, it->A, (int)c->lda, it->B, (int)c->ldb, p->beta, it->C,
                (int)c->ldc);
    return 0;
}

enum mb_status mb_gemm_blas(const struct mb_gemm *p, const struct mb_exec *x)
{
    struct blas_call c;
    c.ta = mb_peer_layout(p->M, p->K, p->a_rs, p->a_cs, &c.lda);
    c.tb = mb_peer_layout(p->K, p->N, p->b_rs, p->b_cs, &c.ldb);
    const char tc = mb_peer_layout(p->M, p->N, p->c_rs, p->c_cs, &c.ldc);
    if (!c.ta || !c.tb || tc != 'N') return MB_ENOTSUP;
    if (p->M > INT32_MAX || p->N > INT32_MAX || p->K > INT32_MAX || c.lda > INT32_MAX || c.ldb > INT32_MAX ||
        c.ldc > INT32_MAX)
        return MB_ENOTSUP;
    return mb_peer_gemm_batch(p, x, c.ldc, 1, openblas_set_num_threads, call_blas, &c);
}
