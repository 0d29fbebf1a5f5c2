/*
 * peer.h: what the library peers share. Libraries take a (trans, ld) pair per operand, not two strides,
 * and don't do two parts of the mb_gemm contract: K == 0 (C = beta*C, beta == 0 meaning write-only, where
 * a library either rejects the call or computes 0*NaN) and the bias epilogue. One copy of each, here.
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
