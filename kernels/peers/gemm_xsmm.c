/*
 * gemm_xsmm.c: the LIBXSMM peer (LIBXSMM 1.17, Debian libxsmm-dev). One JIT small-matrix kernel
 * (libxsmm_smmdispatch, cached by LIBXSMM) is dispatched per call and run per batch item: LIBXSMM's
 * own way to do batched small GEMMs. LIBXSMM is column-major, so row-major C = A @ B is computed as
 * C^T = B^T @ A^T: m = N, n = M, with B as the "A" operand (ld = b_rs) and A as "B" (ld = a_rs).
 * Threads: the batch loop is split over x->nthreads OpenMP threads (one below MB_GEMM_MIN_PAR_MNK of work).
 *
 * MB_ENOTSUP for what this kernel flavour does not take: transposed or strided operands (unit
 * column strides required in A, B and C), alpha != 1, beta other than 0 or 1, or no kernel for the
 * shape (dispatch returns NULL, e.g. when JIT is unavailable). The bias is added here.
 */
#include "mb.h"
#include "peers/peer.h"

#include <libxsmm.h>

enum mb_status mb_gemm_libxsmm(const struct mb_gemm *p, const struct mb_exec *x)
{
    const int64_t nb = mb_batch_count(p->nbatch, p->batch);
    if (nb == 0 || p->M == 0 || p->N == 0) return MB_OK;
    if ((p->a_cs != 1 && p->K > 1) || (p->b_cs != 1 && p->N > 1) || (p->c_cs != 1 && p->N > 1)) return MB_ENOTSUP;
    if (p->alpha != 1.0f || (p->beta != 0.0f && p->beta != 1.0f) || p->K == 0) return MB_ENOTSUP;
    if (p->M > INT32_MAX || p->N > INT32_MAX || p->K > INT32_MAX) return MB_ENOTSUP;
    libxsmm_blasint m = (libxsmm_blasint)p->N, n = (libxsmm_blasint)p->M, k = (libxsmm_blasint)p->K;
    libxsmm_blasint lda = (libxsmm_blasint)(p->K > 1 ? p->b_rs : p->N),
                    ldb = (libxsmm_blasint)(p->M > 1 ? p->a_rs : p->K);
    libxsmm_blasint ldc = (libxsmm_blasint)(p->M > 1 ? p->c_rs : p->N);
    if (lda < m || ldb < k || ldc < m) return MB_ENOTSUP;
    float alpha = 1.0f, beta = p->beta;
    int flags = LIBXSMM_GEMM_FLAGS('N', 'N');
    libxsmm_smmfunction kern = libxsmm_smmdispatch(m, n, k, &lda, &ldb, &ldc, &alpha, &beta, &flags, NULL);
    if (!kern) return MB_ENOTSUP;
    int nt = x->nthreads > 0 ? x->nthreads : 1;
    /* tiny batches on the calling thread, as our driver does (mb.h): with a fork/join there, LIBXSMM measured
     * 1.9-2.4x slower at 2 threads than at 1 on B x (10x5 @ 5x8) and the like */
    if (mb_gemm_tiny_work(p, nb)) nt = 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t b = 0; b < nb; b++) {
        const struct mb_gemm_item it = mb_gemm_item(p, b);
        const float *A = it.A, *B = it.B;
        float *C = it.C;
        kern(B, A, C);
        mb_peer_add_bias(p, C, ldc, 1);
    }
    return MB_OK;
}
