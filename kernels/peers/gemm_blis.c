/*
 * gemm_blis.c: the BLIS peer (BLIS 0.9, Debian libblis-dev). One bli_sgemm per batch item through the
 * typed API, which takes a row and a column stride per operand, so transposes and general strides
 * map directly. Threads: peer.h's mb_peer_threads (OpenMP over the items, or BLIS's threads per call).
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

struct blis_call {
    int64_t ars, acs, brs, bcs, crs, ccs;
};

static int call_blis(const struct mb_gemm *p, const struct mb_gemm_item *it, const void *ctx)
{
    const struct blis_call *c = ctx;
    float alpha = p->alpha, beta = p->beta;
    bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, p->M, p->N, p->K, &alpha, (float *)it->A, c->ars, c->acs,
              (float *)it->B, c->brs, c->bcs, &beta, it->C, c->crs, c->ccs);
    return 0;
}

/* without peer.h's rule BLIS 0.9 forked for every tiny item (2 threads 2.0-2.4x slower than 1 on B x (10x5 @ 5x8)) */
static void blis_threads(int n)
{
    bli_thread_set_num_threads(n);
}

enum mb_status mb_gemm_blis(const struct mb_gemm *p, const struct mb_exec *x)
{
    struct blis_call c = {p->a_rs, p->a_cs, p->b_rs, p->b_cs, p->c_rs, p->c_cs};
    if (!blis_strides(p->M, p->K, &c.ars, &c.acs) || !blis_strides(p->K, p->N, &c.brs, &c.bcs) ||
        !blis_strides(p->M, p->N, &c.crs, &c.ccs))
        return MB_ENOTSUP;
    return mb_peer_gemm_batch(p, x, c.crs, c.ccs, blis_threads, call_blis, &c);
}
