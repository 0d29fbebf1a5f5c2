/*
 * gemm_naive.c: the GEMM contract as three loops, fp32 accumulation in k order.
 * The readable definition of mb_gemm; every other variant is validated against OpenBLAS, not this.
 */
#include "mb.h"

enum mb_status mb_gemm_naive(const struct mb_gemm *p, const struct mb_exec *x)
{
    (void)x;
    const int64_t nb = mb_batch_count(p->nbatch, p->batch);
    for (int64_t b = 0; b < nb; b++) {
        const struct mb_gemm_item it = mb_gemm_item(p, b);
        const float *A = it.A, *B = it.B;
        float *C = it.C;
        for (int64_t m = 0; m < p->M; m++)
            for (int64_t n = 0; n < p->N; n++) {
                float acc = 0.0f;
                for (int64_t k = 0; k < p->K; k++) acc += A[m * p->a_rs + k * p->a_cs] * B[k * p->b_rs + n * p->b_cs];
                float *c = &C[m * p->c_rs + n * p->c_cs];
                float r = p->alpha * acc;
                if (p->beta != 0.0f) r += p->beta * *c;
                if (p->bias) r += p->bias[n * p->bias_s];
                *c = r;
            }
    }
    return MB_OK;
}
