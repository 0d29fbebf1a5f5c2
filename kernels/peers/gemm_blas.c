/*
 * gemm_blas.c: the OpenBLAS peer. One cblas_sgemm per batch item; a stride pattern BLAS cannot
 * express (neither row nor column unit stride, or a non-unit C column stride) is MB_ENOTSUP.
 * Threads: OpenBLAS's own pool, set to x->nthreads per call.
 */
#include "mb.h"
#include "peers/peer.h"

#include <cblas.h>

void openblas_set_num_threads(int);

enum mb_status mb_gemm_blas(const struct mb_gemm *p, const struct mb_exec *x)
{
    int64_t lda = 0, ldb = 0, ldc = 0;
    char ta = mb_peer_layout(p->M, p->K, p->a_rs, p->a_cs, &lda);
    char tb = mb_peer_layout(p->K, p->N, p->b_rs, p->b_cs, &ldb);
    char tc = mb_peer_layout(p->M, p->N, p->c_rs, p->c_cs, &ldc);
    if (!ta || !tb || tc != 'N') return MB_ENOTSUP;
    if (p->M > INT32_MAX || p->N > INT32_MAX || p->K > INT32_MAX || lda > INT32_MAX || ldb > INT32_MAX ||
        ldc > INT32_MAX)
        return MB_ENOTSUP;
    openblas_set_num_threads(x->nthreads > 0 ? x->nthreads : 1);
    const int64_t nb = mb_batch_count(p->nbatch, p->batch);
    for (int64_t b = 0; b < nb; b++) {
        const struct mb_gemm_item it = mb_gemm_item(p, b);
        const float *A = it.A, *B = it.B;
        float *C = it.C;
        if (p->M == 0 || p->N == 0) continue;
        if (p->K == 0) {
            mb_peer_scale_c(p, C, ldc, 1);
        } else {
            cblas_sgemm(CblasRowMajor, ta == 'T' ? CblasTrans : CblasNoTrans,
                        tb == 'T' ? CblasTrans : CblasNoTrans, (int)p->M,
                        (int)p->N, (int)p->K, p->alpha, A, (int)lda, B, (int)ldb, p->beta, C, (int)ldc);
        }
        mb_peer_add_bias(p, C, ldc, 1);
    }
    return MB_OK;
}
