/*
 * gemm_dnnl.c: the oneDNN peer (oneDNN 2.6, Debian libdnnl-dev). One dnnl_sgemm (row-major, its JIT
 * AVX-512 GEMM on this CPU) per batch item. Threads: peer.h's mb_peer_threads; oneDNN is built on the OpenMP
 * runtime and threads a call over omp_get_max_threads(), so that is set to the per-call count.
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

struct dnnl_call {
    char ta, tb;
    int64_t lda, ldb, ldc;
};

static int call_dnnl(const struct mb_gemm *p, const struct mb_gemm_item *it, const void *ctx)
{
    const struct dnnl_call *c = ctx;
    return dnnl_sgemm(c->ta, c->tb, p->M, p->N, p->K, p->alpha, it->A, c->lda, it->B, c->ldb, p->beta, it->C, c->ldc) !=
           dnnl_success;
}

/* oneDNN threads a call over omp_get_max_threads() (inside the batch loop's region: one thread) */
static void dnnl_threads(int n)
{
    omp_set_num_threads(n);
}

enum mb_status mb_gemm_onednn(const struct mb_gemm *p, const struct mb_exec *x)
{
    struct dnnl_call c;
    c.ta = mb_peer_layout(p->M, p->K, p->a_rs, p->a_cs, &c.lda);
    c.tb = mb_peer_layout(p->K, p->N, p->b_rs, p->b_cs, &c.ldb);
    const char tc = mb_peer_layout(p->M, p->N, p->c_rs, p->c_cs, &c.ldc);
    if (!c.ta || !c.tb || tc != 'N') return MB_ENOTSUP;
    return mb_peer_gemm_batch(p, x, c.ldc, 1, dnnl_threads, call_dnnl, &c);
}
