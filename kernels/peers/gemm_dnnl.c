/*
 * gemm_dnnl.c: the oneDNN peer (oneDNN 2.6, Debian libdnnl-dev). One dnnl_sgemm (row-major, its JIT
 * AVX-512 GEMM on this CPU) per batch item. Threads: oneDNN is built on the OpenMP runtime and uses
 * omp_get_max_threads(), so the calling thread's OpenMP thread count is set to x->nthreads.
 *
 * MB_ENOTSUP for strides a row-major (trans, ld) pair cannot express: neither unit row nor unit
 * column stride in A or B, a non-unit C column stride, or leading dimensions below the matrix width.
 * K == 0 and the bias are done here.
 */
#include "mb.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

/* (rs, cs) of a rows x cols matrix as a row-major BLAS operand: 'N' with ld = rs, 'T' with ld = cs,
 * or 0 when not expressible. Size-1 dims accept any stride. */
static char dnnl_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, int64_t *ld)
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

enum mb_status mb_gemm_onednn(const struct mb_gemm *p, const struct mb_exec *x)
{
    int64_t lda = 0, ldb = 0, ldc = 0;
    char ta = dnnl_layout(p->M, p->K, p->a_rs, p->a_cs, &lda);
    char tb = dnnl_layout(p->K, p->N, p->b_rs, p->b_cs, &ldb);
    char tc = dnnl_layout(p->M, p->N, p->c_rs, p->c_cs, &ldc);
    if (!ta || !tb || tc != 'N') return MB_ENOTSUP;
    omp_set_num_threads(x->nthreads > 0 ? x->nthreads : 1);
    const int64_t nb = mb_batch_count(p->nbatch, p->batch);
    for (int64_t b = 0; b < nb; b++) {
        const float *A = p->A + mb_batch_offset(p->nbatch, p->batch, p->a_bs, b);
        const float *B = p->B + mb_batch_offset(p->nbatch, p->batch, p->b_bs, b);
        float *C = p->C + mb_batch_offset(p->nbatch, p->batch, p->c_bs, b);
        if (p->M == 0 || p->N == 0) continue;
        if (p->K == 0) {
            for (int64_t m = 0; m < p->M; m++)
                for (int64_t n = 0; n < p->N; n++) C[m * ldc + n] = p->beta != 0.0f ? p->beta * C[m * ldc + n] : 0.0f;
        } else if (dnnl_sgemm(ta, tb, p->M, p->N, p->K, p->alpha, A, lda, B, ldb, p->beta, C, ldc) != dnnl_success) {
            return b == 0 ? MB_ENOTSUP : MB_EINVAL; /* nothing written yet only for the first item */
        }
        if (p->bias)
            for (int64_t m = 0; m < p->M; m++)
                for (int64_t n = 0; n < p->N; n++) C[m * ldc + n] += p->bias[n * p->bias_s];
    }
    return MB_OK;
}
