/*
 * gemm_dnnl.c: the oneDNN peer (oneDNN 2.6, Debian libdnnl-dev). One dnnl_sgemm (row-major, its JIT
 * AVX-512 GEMM on this CPU) per batch item. Threads: oneDNN is built on the OpenMP runtime and uses
 * omp_get_max_threads(), so the calling thread's OpenMP thread count is set to x->nthreads.
 *
 * MB_ENOTSUP for strides a row-major (trans, ld) pair cannot express: neither unit row nor unit
 * column stride in A or B, a non-unit C column stride, or leading dimensions below the matrix width.
 * K == 0 and the bias are done here.
 *
 * Why dnnl_sgemm and not the matmul primitive: the primitive is oneDNN's other f32 path (brg:avx512_core, its
 * brgemm kernels), and on this machine it is the slower one. Standalone, 1 thread on core 1, primitive created
 * once and executed repeatedly (0.5 s tries) vs dnnl_sgemm on the same row-major arrays, GFLOP/s:
 *     n        256        512        1024       2048
 *     matmul   172-178    160-161    147-150    143-146
 *     sgemm    166-175    162-169    157-164    159-166
 * so the peer is oneDNN at its faster f32 GEMM (level at n <= 512, 7-15 % ahead at 1024 / 2048).
 */
#include "mb.h"
#include "peers/peer.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

enum mb_status mb_gemm_onednn(const struct mb_gemm *p, const struct mb_exec *x)
{
    int64_t lda = 0, ldb = 0, ldc = 0;
    char ta = mb_peer_layout(p->M, p->K, p->a_rs, p->a_cs, &lda);
    char tb = mb_peer_layout(p->K, p->N, p->b_rs, p->b_cs, &ldb);
    char tc = mb_peer_layout(p->M, p->N, p->c_rs, p->c_cs, &ldc);
    if (!ta || !tb || tc != 'N') return MB_ENOTSUP;
    omp_set_num_threads(x->nthreads > 0 ? x->nthreads : 1);
    const int64_t nb = mb_batch_count(p->nbatch, p->batch);
    for (int64_t b = 0; b < nb; b++) {
        const struct mb_gemm_item it = mb_gemm_item(p, b);
        const float *A = it.A, *B = it.B;
        float *C = it.C;
        if (p->M == 0 || p->N == 0) continue;
        if (p->K == 0) {
            mb_peer_scale_c(p, C, ldc, 1);
        } else if (dnnl_sgemm(ta, tb, p->M, p->N, p->K, p->alpha, A, lda, B, ldb, p->beta, C, ldc) != dnnl_success) {
            return b == 0 ? MB_ENOTSUP : MB_EINVAL; /* nothing written yet only for the first item */
        }
        mb_peer_add_bias(p, C, ldc, 1);
    }
    return MB_OK;
}
