/*
 * gemm_blas.c: the OpenBLAS peer. One cblas_sgemm per batch item; a stride pattern BLAS cannot
 * express (neither row nor column unit stride, or a non-unit C column stride) is MB_ENOTSUP.
 * Threads: OpenBLAS's own pool, set to x->nthreads per call.
 */
#include "mb.h"

#include <cblas.h>

void openblas_set_num_threads(int);

/* Map (rs, cs) to a BLAS layout for a row-major call: returns 0 = NoTrans with ld=rs, 1 = Trans
 * with ld=cs, -1 = not expressible. Degenerate dims (size 1) accept any stride. */
static int layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, int64_t *ld)
{
    if (cs == 1 || cols <= 1) {
        *ld = rows <= 1 ? (cols > 1 ? cols : 1) : rs;
        if (*ld >= (cols > 1 ? cols : 1)) return 0;
    }
    if (rs == 1 || rows <= 1) {
        *ld = cols <= 1 ? (rows > 1 ? rows : 1) : cs;
        if (*ld >= (rows > 1 ? rows : 1)) return 1;
    }
    return -1;
}

enum mb_status mb_gemm_blas(const struct mb_gemm *p, const struct mb_exec *x)
{
    int64_t lda, ldb, ldc;
    int ta = layout(p->M, p->K, p->a_rs, p->a_cs, &lda);
    int tb = layout(p->K, p->N, p->b_rs, p->b_cs, &ldb);
    int tc = layout(p->M, p->N, p->c_rs, p->c_cs, &ldc);
    if (ta < 0 || tb < 0 || tc != 0) return MB_ENOTSUP;
    if (p->M > INT32_MAX || p->N > INT32_MAX || p->K > INT32_MAX || lda > INT32_MAX || ldb > INT32_MAX ||
        ldc > INT32_MAX)
        return MB_ENOTSUP;
    openblas_set_num_threads(x->nthreads > 0 ? x->nthreads : 1);
    const int64_t nb = mb_batch_count(p->nbatch, p->batch);
    for (int64_t b = 0; b < nb; b++) {
        const float *A = p->A + mb_batch_offset(p->nbatch, p->batch, p->a_bs, b);
        const float *B = p->B + mb_batch_offset(p->nbatch, p->batch, p->b_bs, b);
        float *C = p->C + mb_batch_offset(p->nbatch, p->batch, p->c_bs, b);
        if (p->M == 0 || p->N == 0) continue;
        if (p->K == 0) { /* BLAS would read C with beta; keep the contract's beta==0 meaning */
            for (int64_t m = 0; m < p->M; m++)
                for (int64_t n = 0; n < p->N; n++) C[m * ldc + n] = p->beta != 0.0f ? p->beta * C[m * ldc + n] : 0.0f;
        } else {
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)p->M,
                        (int)p->N, (int)p->K, p->alpha, A, (int)lda, B, (int)ldb, p->beta, C, (int)ldc);
        }
        if (p->bias)
            for (int64_t m = 0; m < p->M; m++)
                for (int64_t n = 0; n < p->N; n++) C[m * ldc + n] += p->bias[n * p->bias_s];
    }
    return MB_OK;
}
