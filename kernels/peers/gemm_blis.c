/*
 * gemm_blis.c: the BLIS peer (BLIS 0.9, Debian libblis-dev). One bli_sgemm per batch item through the
 * typed API, which takes a row and a column stride per operand, so transposes and general strides
 * map directly. Threads: bli_thread_set_num_threads(x->nthreads) before the calls (1 for a tiny item).
 *
 * MB_ENOTSUP where BLIS's own stride check (bli_check_matrix_strides) would abort the process: zero or
 * negative strides on a dimension > 1, or general strides that overlap. Strides of size-1 dims are
 * rewritten to consistent values first (they are never used). K == 0 and the bias are done here
 * (BLIS is asked only for alpha*A@B + beta*C, beta == 0 not reading C).
 *
 * Link note: libblis also exports cblas_* symbols. The Makefile links -lopenblas before -lblis, so
 * cblas_sgemm keeps resolving to OpenBLAS (checked: LD_DEBUG=bindings shows cblas_sgemm bound to
 * libopenblas.so.0, and openblas_get_corename() answers "Haswell" in the linked test binary).
 */
#include "mb.h"
#include "peers/peer.h"

/* blis.h trips -Wextra (unused parameters / functions in its inline helpers): not ours to fix */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <blis.h>
#pragma GCC diagnostic pop

/* Give size-1 dims a consistent stride; return 0 if BLIS would reject (rs, cs) for an m x n matrix. */
static int blis_strides(int64_t m, int64_t n, int64_t *rs, int64_t *cs)
{
    if (m <= 1 && n <= 1)
        *rs = *cs = 1;
    else if (m <= 1)
        *rs = *cs == 1 ? n : n * *cs;
    else if (n <= 1)
        *cs = *rs == 1 ? m : m * *rs;
    int64_t r = *rs, c = *cs;
    if (r <= 0 || c <= 0) return 0;
    if (r == 1 && c == 1) return m == 1 || n == 1;
    if (r == 1) return c >= m;
    if (c == 1) return r >= n;
    if (r == c) return m == 1 || n == 1;
    return r < c ? m * r <= c : n * c <= r;
}

enum mb_status mb_gemm_blis(const struct mb_gemm *p, const struct mb_exec *x)
{
    int64_t ars = p->a_rs, acs = p->a_cs, brs = p->b_rs, bcs = p->b_cs, crs = p->c_rs, ccs = p->c_cs;
    if (!blis_strides(p->M, p->K, &ars, &acs) || !blis_strides(p->K, p->N, &brs, &bcs) ||
        !blis_strides(p->M, p->N, &crs, &ccs))
        return MB_ENOTSUP;
    /* one call per item: a tiny item on one thread (mb.h: MB_GEMM_MIN_PAR_MNK), as OpenBLAS and oneDNN decide
     * for themselves; BLIS 0.9 forks for any size (2 threads measured 2.0-2.4x slower than 1 on 10x5 @ 5x8) */
    const int tiny = (double)p->M * (double)p->N * (double)p->K < MB_GEMM_MIN_PAR_MNK;
    bli_thread_set_num_threads(x->nthreads > 0 && !tiny ? x->nthreads : 1);
    float alpha = p->alpha, beta = p->beta;
    const int64_t nb = mb_batch_count(p->nbatch, p->batch);
    for (int64_t b = 0; b < nb; b++) {
        const struct mb_gemm_item it = mb_gemm_item(p, b);
        const float *A = it.A, *B = it.B;
        float *C = it.C;
        if (p->M == 0 || p->N == 0) continue;
        if (p->K == 0) {
            mb_peer_scale_c(p, C, crs, ccs);
        } else {
            bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, p->M, p->N, p->K, &alpha, (float *)A, ars, acs, (float *)B,
                      brs, bcs, &beta, C, crs, ccs);
        }
        mb_peer_add_bias(p, C, crs, ccs);
    }
    return MB_OK;
}
