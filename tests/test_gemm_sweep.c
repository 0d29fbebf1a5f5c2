/*
 * test_gemm_sweep.c: every registered GEMM variant this CPU can run (mb_kernels[] enumerated; the
 * others are skipped with a printed line) against an fp64 reference, with guard zones around C and A, B
 * and the bias ending at a PROT_NONE page (our kernels; the peers get copies with slack).
 *
 *   cube      all M, N, K in 1..40, row-major, beta = 0 over a NaN-filled C (must be ignored):
 *             the blocked variants (tiled, simd); naive and the peers get every 3rd size per dim.
 *   features  shapes crossing every register block and KC (primes up to 127, K = 600 > every KC),
 *             x transposed A / B (strides), C with row gap and column stride 2, batch 1 and 3 (and a
 *             2-D batch) with broadcast (stride 0) A or B, alpha / beta / bias, 1 and 2 threads.
 *   threads   the blocked variants give bitwise-identical results with 1 and 2 threads.
 *   edges     M, N, K or batch = 0; K = 0 with beta; workspace too small -> MB_ENOMEM, C untouched.
 *
 * Reference: an fp64 loop over the same strides (exact far below the fp32 bound, and it expresses
 * every stride pattern; OpenBLAS is one of the variants under test). Tolerance, elementwise
 * (DESIGN.md): |c - ref| <= g(K) |alpha| (|A||B|)_ij + 2u (|beta c_old| + |bias_j| + |ref|),
 * g(K) = 2 (K + 2) u, u = 2^-24. Guard zones: C lives in a sentinel-filled buffer with 64 floats
 * before and after and gaps between rows; every non-C float must still hold the sentinel.
 * MB_ENOTSUP from a peer is counted as a noted skip; tiled / simd variants must support everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "guarded.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function" /* only mb_gemm_rows_per_set is used here */
#include "gemm_driver.h"
#pragma GCC diagnostic pop

#define PAD      64
#define SENTINEL 1234.5f

/* blocked variants (everything but naive and the peers) must support every case */
static int is_blocked(const struct mb_kernel *k)
{
    return strcmp(k->variant, "naive") && !(k->needs & MB_FLAG_PEER);
}

struct cfg {
    int64_t M, N, K;
    int ta, tb;           /* A stored K x M (a_rs = 1), B stored N x K (b_cs = K) */
    int cgap, ccs;        /* C row stride N*ccs + cgap, column stride ccs */
    int nbatch;           /* 0, 1 or 2 batch dims */
    int64_t batch[2];     /* sizes */
    int bcast_a, bcast_b; /* stride 0 over the batch dims */
    float alpha, beta;
    int bias;
    int nthreads;
};

static float *slack_copy(const float *f, int64_t n)
{
    float *c = calloc((size_t)(n > 0 ? n : 0) + 1024, sizeof(float));
    if (!c) abort();
    if (n > 0) memcpy(c, f, sizeof(float) * (size_t)n);
    return c;
}

/* One problem instance: A, B and the bias end at a guard page (mb_guarded_alloc), C inside guard zones. */
struct inst {
    struct mb_gemm p;
    float *a, *b, *cbuf, *cinit, *bias;
    int64_t na, nbf, nbias;   /* floats in a, b, bias */
    float *pa, *pb, *pbias;   /* copies with slack for the peers: BLIS 0.9 reads past a transposed B (M 1, N 37, K 5) */
    unsigned char *is_c;
    size_t csize;
    int64_t nb;
};

static void inst_make(struct inst *t, const struct cfg *c)
{
    struct mb_gemm *p = &t->p;
    memset(t, 0, sizeof *t);
    p->M = c->M, p->N = c->N, p->K = c->K, p->nbatch = c->nbatch;
    t->nb = 1;
    for (int i = 0; i < c->nbatch; i++) p->batch[i] = c->batch[i], t->nb *= c->batch[i];
    int64_t amat = c->M * c->K, bmat = c->K * c->N;
    int64_t na = c->bcast_a ? 1 : t->nb, nbb = c->bcast_b ? 1 : t->nb;
    t->na = amat * na, t->nbf = bmat * nbb;
    t->a = mb_guarded_alloc(t->na);
    t->b = mb_guarded_alloc(t->nbf);
    for (int64_t i = 0; i < amat * na; i++) t->a[i] = frand();
    for (int64_t i = 0; i < bmat * nbb; i++) t->b[i] = frand();
    p->A = t->a, p->B = t->b;
    p->a_rs = c->ta ? 1 : c->K, p->a_cs = c->ta ? c->M : 1;
    p->b_rs = c->tb ? 1 : c->N, p->b_cs = c->tb ? c->K : 1;
    /* batch strides, row-major over the batch dims */
    int64_t sa = c->bcast_a ? 0 : amat, sb = c->bcast_b ? 0 : bmat;
    p->c_cs = c->ccs, p->c_rs = c->N * c->ccs + c->cgap;
    int64_t cmat = c->M * p->c_rs + 7; /* odd gap between batch items too */
    int64_t sc = cmat;
    for (int i = c->nbatch - 1; i >= 0; i--) {
        p->a_bs[i] = sa, p->b_bs[i] = sb, p->c_bs[i] = sc;
        sa *= c->batch[i], sb *= c->batch[i], sc *= c->batch[i];
    }
    t->csize = (size_t)(2 * PAD + cmat * t->nb);
    t->cbuf = malloc(sizeof(float) * t->csize);
    t->cinit = malloc(sizeof(float) * t->csize);
    t->is_c = calloc(t->csize, 1);
    for (size_t i = 0; i < t->csize; i++) t->cbuf[i] = SENTINEL;
    p->C = t->cbuf + PAD;
    for (int64_t b = 0; b < t->nb; b++)
        for (int64_t m = 0; m < c->M; m++)
            for (int64_t n = 0; n < c->N; n++) {
                size_t off =
                    (size_t)(PAD + mb_batch_offset(p->nbatch, p->batch, p->c_bs, b) + m * p->c_rs + n * p->c_cs);
                t->is_c[off] = 1;
                t->cbuf[off] = c->beta == 0.0f ? NAN : frand();
            }
    memcpy(t->cinit, t->cbuf, sizeof(float) * t->csize);
    t->pa = slack_copy(t->a, t->na), t->pb = slack_copy(t->b, t->nbf);
    p->alpha = c->alpha, p->beta = c->beta;
    if (c->bias) {
        t->nbias = 2 * c->N - 1; /* stride 2: the last entry used is the last float */
        t->bias = mb_guarded_alloc(t->nbias);
        for (int64_t i = 0; i < t->nbias; i++) t->bias[i] = frand();
        p->bias = t->bias, p->bias_s = 2; /* strided bias */
        t->pbias = slack_copy(t->bias, t->nbias);
    }
}

static void inst_reset(struct inst *t)
{
    memcpy(t->cbuf, t->cinit, sizeof(float) * t->csize);
}

static void inst_free(struct inst *t)
{
    mb_guarded_free(t->a, t->na), mb_guarded_free(t->b, t->nbf), mb_guarded_free(t->bias, t->nbias);
    free(t->cbuf), free(t->cinit), free(t->is_c), free(t->pa), free(t->pb), free(t->pbias);
}

/* Check C against fp64 and the guards; print the first problem, return the number of bad floats. */
static int inst_check(const struct inst *t, const char *variant, const struct cfg *c)
{
    const struct mb_gemm *p = &t->p;
    const double u = 1.0 / (1 << 24), g = 2.0 * (double)(p->K + 2) * u;
    int bad = 0;
    for (size_t i = 0; i < t->csize; i++)
        if (!t->is_c[i] && memcmp(&t->cbuf[i], &(float){SENTINEL}, sizeof(float))) {
            if (!bad++)
                printf("  %s M=%ld N=%ld K=%ld: guard zone written at float %zu\n", variant, (long)p->M, (long)p->N,
                       (long)p->K, i);
        }
    for (int64_t b = 0; b < t->nb; b++) {
        const float *A = p->A + mb_batch_offset(p->nbatch, p->batch, p->a_bs, b);
        const float *B = p->B + mb_batch_offset(p->nbatch, p->batch, p->b_bs, b);
        int64_t co = PAD + mb_batch_offset(p->nbatch, p->batch, p->c_bs, b);
        for (int64_t m = 0; m < p->M; m++)
            for (int64_t n = 0; n < p->N; n++) {
                double s = 0, sa = 0;
                for (int64_t k = 0; k < p->K; k++) {
                    double x = (double)A[m * p->a_rs + k * p->a_cs] * B[k * p->b_rs + n * p->b_cs];
                    s += x, sa += fabs(x);
                }
                double cold = p->beta != 0.0f ? t->cinit[co + m * p->c_rs + n * p->c_cs] : 0.0;
                double bias = p->bias ? p->bias[n * p->bias_s] : 0.0;
                double ref = p->alpha * s + p->beta * cold + bias;
                double tol = g * fabs(p->alpha) * sa + 2 * u * (fabs(p->beta * cold) + fabs(bias) + fabs(ref)) + 1e-30;
                float got = t->cbuf[co + m * p->c_rs + n * p->c_cs];
                if (!(fabs(got - ref) <= tol)) {
                    if (!bad++)
                        printf("  %s M=%ld N=%ld K=%ld ta=%d tb=%d ccs=%d batch=%ld bcA=%d bcB=%d alpha=%g beta=%g "
                               "bias=%d "
                               "nt=%d: C[%ld][%ld][%ld] = %.9g, expected %.9g (tol %.3g)\n",
                               variant, (long)p->M, (long)p->N, (long)p->K, c->ta, c->tb, c->ccs, (long)t->nb,
                               c->bcast_a, c->bcast_b, c->alpha, c->beta, c->bias, c->nthreads, (long)b, (long)m,
                               (long)n, got, ref, tol);
                }
            }
    }
    return bad;
}

static struct mb_exec g_x[3]; /* [nthreads] */

static struct mb_exec *exec_for(int nt)
{
    if (!g_x[nt].work) mb_exec_init(&g_x[nt], 0, nt);
    return &g_x[nt];
}

/* run one config on one variant: 0 ok, 1 failed, -1 skipped (ENOTSUP from a peer / naive) */
static int run_one(const struct mb_kernel *k, struct inst *t, const struct cfg *c)
{
    inst_reset(t);
    struct mb_gemm q = t->p;
    if (k->needs & MB_FLAG_PEER) /* the guard pages hold our kernels to their operands, not the libraries */
        q.A = t->pa, q.B = t->pb, q.bias = t->p.bias ? t->pbias : NULL;
    enum mb_status s = k->fn.GEMM(&q, exec_for(c->nthreads));
    if (s == MB_ENOTSUP && !is_blocked(k)) {
        /* a declined case must leave C alone */
        return memcmp(t->cbuf, t->cinit, sizeof(float) * t->csize) ? 1 : -1;
    }
    if (s != MB_OK) {
        printf("  %s M=%ld N=%ld K=%ld: status %s\n", k->variant, (long)c->M, (long)c->N, (long)c->K, mb_status_str(s));
        return 1;
    }
    return inst_check(t, k->variant, c) ? 1 : 0;
}

static int usable(const struct mb_kernel *k)
{
    static unsigned char noted[512]; /* one SKIP line per unavailable variant */
    if (k->kind != MB_KIND_GEMM) return 0;
    if (!mb_kernel_available(k)) {
        size_t i = (size_t)(k - mb_kernels);
        if (i < sizeof noted && !noted[i]++)
            printf("  SKIP gemm/%s: %s\n", k->variant, k->needs & MB_NEED_GPU ? "no GPU" : "not available on this CPU");
        return 0;
    }
    return 1;
}

/* ---- cube: all M, N, K in 1..40 ---------------------------------------------------------------- */
static void test_cube(void **state)
{
    (void)state;
    int fails = 0, runs = 0;
    for (int64_t M = 1; M <= 40; M++)
        for (int64_t N = 1; N <= 40; N++)
            for (int64_t K = 1; K <= 40; K++) {
                struct cfg c = {M, N, K, 0, 0, 0, 1, 0, {1, 1}, 0, 0, 1.0f, 0.0f, 0, 1};
                int dense = M % 3 == 1 && N % 3 == 1 && K % 3 == 1;
                struct inst t;
                int made = 0;
                for (int i = 0; i < mb_kernel_count; i++) {
                    const struct mb_kernel *k = &mb_kernels[i];
                    if (k->kind != MB_KIND_GEMM || !mb_kernel_available(k)) continue;
                    if (!is_blocked(k) && !dense) continue;
                    if (!made) inst_make(&t, &c), made = 1;
                    int r = run_one(k, &t, &c);
                    fails += r > 0, runs++;
                }
                if (made) inst_free(&t);
            }
    printf("  cube: %d runs, %d failed\n", runs, fails);
    assert_int_equal(fails, 0);
}

/* ---- features: strides, batches, broadcast, alpha/beta/bias, threads ------------------------- */
static void test_features(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = {
        {1, 1, 1},    {1, 37, 5},   {37, 1, 5},   {13, 17, 3},  {14, 32, 8},   {15, 33, 9},   {28, 64, 16},
        {29, 65, 31}, {6, 16, 600}, {7, 17, 601}, {41, 43, 47}, {61, 59, 67},  {97, 83, 127}, {127, 127, 127},
        {10, 8, 5},   {64, 64, 64}, {3, 200, 2},  {200, 3, 2},  {33, 47, 300},
    };
    int fails = 0, runs = 0, skips = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        for (int v = 0; v < 16; v++) {
            struct cfg c = {shapes[si][0],
                            shapes[si][1],
                            shapes[si][2],
                            v & 1,
                            (v >> 1) & 1,
                            0,
                            1,
                            0,
                            {1, 1},
                            0,
                            0,
                            1.0f,
                            0.0f,
                            0,
                            1};
            switch (v >> 2) { /* 4 flavours of C / batch / scalars per transpose pattern */
            case 0: break;
            case 1: c.cgap = 3, c.ccs = 2, c.alpha = -0.5f, c.beta = 0.75f, c.bias = 1; break;
            case 2: c.nbatch = 1, c.batch[0] = 3, c.bcast_b = 1, c.beta = 0.0f, c.bias = 1, c.nthreads = 2; break;
            case 3:
                c.nbatch = (v & 1) ? 2 : 1, c.batch[0] = 3, c.batch[1] = 2, c.bcast_a = 1, c.cgap = 1;
                c.alpha = 2.0f, c.beta = 1.0f, c.nthreads = 2;
                break;
            }
            struct inst t;
            inst_make(&t, &c);
            for (int i = 0; i < mb_kernel_count; i++) {
                const struct mb_kernel *k = &mb_kernels[i];
                if (!usable(k)) continue;
                if (!is_blocked(k) && c.M * c.N * c.K > 200000) continue; /* keep naive's share short */
                int r = run_one(k, &t, &c);
                fails += r > 0, skips += r < 0, runs++;
                if (!is_blocked(k) || c.nthreads != 1) continue;
                c.nthreads = 2; /* and once more on 2 threads */
                r = run_one(k, &t, &c);
                c.nthreads = 1;
                fails += r > 0, runs++;
            }
            inst_free(&t);
        }
    printf("  features: %d runs, %d failed, %d ENOTSUP (noted skips, peers only)\n", runs, fails, skips);
    assert_int_equal(fails, 0);
}

/* Every blocked variant on each shape, three ways: plain C = A @ B; alpha / beta / bias on C with column
 * stride 2 and a row gap; 2 threads (with B transposed when tb2). */
static void sweep_blocked(const int64_t (*shapes)[3], size_t n, int tb2, const char *what)
{
    int fails = 0, runs = 0;
    for (size_t si = 0; si < n; si++)
        for (int v = 0; v < 3; v++) {
            struct cfg c = {
                shapes[si][0], shapes[si][1], shapes[si][2], 0, tb2 && v == 2, 0, 1, 0, {1, 1}, 0, 0, 1.0f, 0.0f, 0,
                1 + (v == 2)};
            if (v == 1) c.cgap = 3, c.ccs = 2, c.alpha = -0.5f, c.beta = 0.75f, c.bias = 1;
            struct inst t;
            inst_make(&t, &c);
            for (int i = 0; i < mb_kernel_count; i++) {
                const struct mb_kernel *k = &mb_kernels[i];
                if (!usable(k) || !is_blocked(k)) continue;
                fails += run_one(k, &t, &c) > 0, runs++;
            }
            inst_free(&t);
        }
    printf("  %s: %d runs, %d failed\n", what, runs, fails);
    assert_int_equal(fails, 0);
}

/* ---- packed A: row-major A larger than half of L2, so the blocked path packs it (the SIMD transposes
 * of mb_gemm_pack_a): full and partial slivers, K tails that are and are not multiples of 8. Row-major B
 * is then packed by the first tile of each full sliver (.packed_copy_b, AVX-512 / AVX2): several full
 * slivers and a partial one (N = 100), an MC block shorter than MR (M = 13: A is 1.2 MiB through K);
 * A within half of L2 whose rows alias in L1 (K = 1024 / 2048: rows 4 / 8 KiB apart) is packed too --- */
static void test_packed_a(void **state)
{
    (void)state;
    /* the driver's aliasing rule: rows of a 14-row sliver sharing row 0's L1 set */
    assert_int_equal(mb_gemm_rows_per_set(4096, 14), 14);
    assert_int_equal(mb_gemm_rows_per_set(8192, 14), 14);
    assert_int_equal(mb_gemm_rows_per_set(2048, 14), 7);
    assert_int_equal(mb_gemm_rows_per_set(1024, 14), 4);
    assert_int_equal(mb_gemm_rows_per_set(2560, 14), 2);
    assert_int_equal(mb_gemm_rows_per_set(1028, 14), 4); /* every 4th row 16 bytes on: the same line's set */
    static const int64_t shapes[][3] = {{531, 37, 601}, {1008, 20, 400}, {518, 40, 768}, {700, 17, 389},
                                        {300, 100, 700}, {13, 70, 24000}, {120, 40, 1024}, {50, 33, 2048}};
    sweep_blocked(shapes, sizeof shapes / sizeof *shapes, 1, "packed A");
}

/* ---- A and B in place: row-major A within half of L2 and B within a quarter (AVX-512 .direct_b: no
 * packing at all, the direct micro-kernel on B's rows), full and partial tiles, K over one and two KC
 * passes, with and without the C epilogue (alpha / beta / bias, column stride 2), 1 and 2 threads ---- */
static void test_direct_b(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = {{256, 256, 256}, {251, 203, 300}, {100, 45, 1000}, {130, 97, 129}};
    sweep_blocked(shapes, sizeof shapes / sizeof *shapes, 0, "direct B");
}

/* ---- threads: bitwise identical for 1 and 2 threads (no split-K; see kernels/gemm_driver.h) --- */
static void test_thread_determinism(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = {{300, 200, 700}, {1, 500, 300}, {500, 1, 40}, {77, 1000, 3}};
    int fails = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        struct cfg c = {shapes[si][0], shapes[si][1], shapes[si][2], 0, 1, 0, 1, 0, {1, 1}, 0, 0, 1.0f, 0.0f, 1, 1};
        struct inst t;
        inst_make(&t, &c);
        float *one = malloc(sizeof(float) * t.csize);
        for (int i = 0; i < mb_kernel_count; i++) {
            const struct mb_kernel *k = &mb_kernels[i];
            if (k->kind != MB_KIND_GEMM || !mb_kernel_available(k) || !is_blocked(k)) continue;
            c.nthreads = 1;
            fails += run_one(k, &t, &c) != 0;
            memcpy(one, t.cbuf, sizeof(float) * t.csize);
            c.nthreads = 2;
            fails += run_one(k, &t, &c) != 0;
            if (memcmp(one, t.cbuf, sizeof(float) * t.csize)) {
                printf("  %s M=%ld N=%ld K=%ld: 1 and 2 threads differ\n", k->variant, (long)c.M, (long)c.N, (long)c.K);
                fails++;
            }
        }
        free(one);
        inst_free(&t);
    }
    assert_int_equal(fails, 0);
}

/* ---- edges: zero sizes, K = 0, small workspace ------------------------------------------------ */
static void test_edges(void **state)
{
    (void)state;
    int fails = 0;
    for (int i = 0; i < mb_kernel_count; i++) {
        const struct mb_kernel *k = &mb_kernels[i];
        if (k->kind != MB_KIND_GEMM || !mb_kernel_available(k)) continue;
        /* K = 0: C = beta C + bias; beta = 0 over NaN gives exactly the bias */
        for (int beta = 0; beta < 2; beta++) {
            struct cfg c = {5, 7, 0, 0, 0, 2, 1, 0, {1, 1}, 0, 0, 1.0f, beta ? 0.5f : 0.0f, 1, 1};
            struct inst t;
            inst_make(&t, &c);
            fails += run_one(k, &t, &c) > 0;
            inst_free(&t);
        }
        /* M, N or batch = 0: nothing written (guards only) */
        static const int64_t zs[][4] = {{0, 5, 5, 1}, {5, 0, 5, 1}, {5, 5, 5, 0}};
        for (int z = 0; z < 3; z++) {
            struct cfg c = {zs[z][0], zs[z][1], zs[z][2], 0, 0, 1, 1, 1, {zs[z][3], 1}, 0, 0, 1.0f, 0.0f, 0, 1};
            struct inst t;
            inst_make(&t, &c);
            fails += run_one(k, &t, &c) > 0;
            inst_free(&t);
        }
        /* a workspace too small for one panel pair: MB_ENOMEM (blocked variants), C untouched; 140 x 100 x 160
         * is past every direct (unpacked) threshold (128^3); 300 x 100 x 700: A packed; 128 KiB holds a few
         * slivers, not the whole panel (several jc blocks) */
        for (int w = 0; w < 2 && is_blocked(k); w++) {
            struct cfg c = {w ? 300 : 140, 100, w ? 700 : 160, 0, 0, 0, 1, 0, {1, 1}, 0, 0, 1.0f, 0.0f, 0, 1};
            struct inst t;
            inst_make(&t, &c);
            struct mb_exec x = *exec_for(1);
            x.work_size = 256;
            enum mb_status s = k->fn.GEMM(&t.p, &x);
            if (s != MB_ENOMEM || memcmp(t.cbuf, t.cinit, sizeof(float) * t.csize)) {
                printf("  %s: 256-byte workspace gave %s%s\n", k->variant, mb_status_str(s),
                       s == MB_ENOMEM ? " but wrote C" : "");
                fails++;
            }
            /* a workspace just big enough for a few panels still gives the right answer */
            x.work_size = (size_t)(w ? 128 : 64) << 10;
            inst_reset(&t);
            s = k->fn.GEMM(&t.p, &x);
            if (s != MB_OK) printf("  %s: %zu-byte workspace gave %s\n", k->variant, x.work_size, mb_status_str(s));
            fails += s != MB_OK || inst_check(&t, k->variant, &c);
            inst_free(&t);
        }
    }
    assert_int_equal(fails, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packed_a), cmocka_unit_test(test_direct_b),           cmocka_unit_test(test_features),
        cmocka_unit_test(test_cube),     cmocka_unit_test(test_thread_determinism), cmocka_unit_test(test_edges),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    for (int i = 1; i < 3; i++) mb_exec_free(&g_x[i]);
    return r;
}
