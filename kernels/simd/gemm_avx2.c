/*
 * gemm_avx2.c: GEMM with an AVX2+FMA 6x16 micro-kernel in the shared BLIS-style driver
 * (kernels/gemm_driver.h: packing from any strides, cache blocking, OpenMP over batch / M / N).
 *
 * Micro-kernel: 6 rows x 2 ymm (16 columns) of C in 12 accumulators (BLIS haswell's shape); per k
 * step 2 loads of the packed B sliver, 6 broadcasts of packed A, 12 FMAs (2 ports x 4-5 cycles
 * latency need >= 10 chains; 12 + 2 + 1 = 15 of 16 ymm registers). Edges: zero-padded packed
 * panels, masked stores (vmaskmovps) when C has unit column stride, else mb_gemm_store_tile. The
 * same body, instantiated for 1..6 rows and 1..2 vectors, reads A and B in place for small problems
 * (no packing; A row pointers clamped to the last valid row, masked loads of B).
 *
 * Contract: all of struct mb_gemm; never MB_ENOTSUP; MB_ENOMEM only when x->work cannot hold one
 * MR x KC + KC x NR panel pair.
 *
 * Verdict on this machine (1 thread; matbench medians of 3 repetitions of per-thread CPU time, peers in
 * the same run, load ~1; AVX2 peak = 12-chain ymm FMA loop, 118.6 GFLOP/s in that session, 116-125 in
 * others; same command as in gemm_avx512.c): n = 256 / 512 / 1024 / 2048: 97.6 / 97.0 / 91.4 / 90.7
 * GFLOP/s = 0.82 / 0.82 / 0.77 / 0.76 of peak, 0.93 / 0.90 / 0.87 / 0.81x OpenBLAS (same ISA: its
 * Haswell kernels). Previous verdict 98 / 97 / 96 / 80 (another session): n = 2048 gained from the
 * ir-outer order the driver now picks when the B panel outgrows L2 (A/B runs: 207 -> 177 ms),
 * n = 1024 within +-3 %. MISSES >= 0.9 of peak; the kernel alone on L1-resident panels runs at
 * 113-125 GFLOP/s (0.97 of peak; it was 71 while gcc kept alpha and beta in two ymm registers across
 * the k loop and spilled an accumulator: hence alpha / beta by pointer in the micro-kernel contract),
 * so the loss is the macro loops: packing ~9 % at n = 1024 (perf), A slivers from L2, C from L3.
 * Tiny batched 10x5 @ 5x8 (the driver's mb_gemm_tiny): batch 32 326 ns, batch 256 2.93 us = 10.3x /
 * 9.1x OpenBLAS, 3.1x / 1.8x LIBXSMM (was 1.19 / 6.2 us, 3.0x / 4.3x, 1.05x / 0.87x); batched 64^3:
 * batch 64 384 us = 1.10x OpenBLAS (was 1.08x).
 */
#include "gemm_driver.h"

#include <immintrin.h>

#define MR 6
#define NR 16

static inline __m256i tail_mask(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* R rows x NV vectors; DIRECT: unpacked A (a_rs, a_cs) and B (b_rs, masked last vector). R, NV and
 * DIRECT are constants at every call; the unroll pragmas make gcc -O2 unroll the row / vector loops
 * fully, without which acc[][] stays on the stack (gcc -O2 does not unroll them by itself). */
static inline __attribute__((always_inline)) void body(const int R, const int NV, const int DIRECT, int64_t k,
                                                       const float *a, int64_t a_rs, int64_t a_cs, const float *b,
                                                       int64_t b_rs, float *c, int64_t c_rs, int64_t c_cs, int mr,
                                                       int nr, const float *alpha_p, const float *beta_p,
                                                       const float *bias)
{
    __m256 acc[MR][2];
#pragma GCC unroll 16
    for (int i = 0; i < R; i++)
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++) acc[i][v] = _mm256_setzero_ps();
    if (DIRECT) {
        const __m256i bm = tail_mask(nr - 8 * (NV - 1));
        const float *ar[MR];
#pragma GCC unroll 16
        for (int i = 0; i < R; i++) ar[i] = a + (i < mr ? i : mr - 1) * a_rs;
        for (int64_t p = 0; p < k; p++) {
            __m256 bv[2];
#pragma GCC unroll 16
            for (int v = 0; v < NV - 1; v++) bv[v] = _mm256_loadu_ps(b + p * b_rs + 8 * v);
            bv[NV - 1] = _mm256_maskload_ps(b + p * b_rs + 8 * (NV - 1), bm);
#pragma GCC unroll 16
            for (int i = 0; i < R; i++) {
                __m256 av = _mm256_broadcast_ss(&ar[i][p * a_cs]);
#pragma GCC unroll 16
                for (int v = 0; v < NV; v++) acc[i][v] = _mm256_fmadd_ps(av, bv[v], acc[i][v]);
            }
        }
    } else {
        /* C comes from L2 / L3 when the matrix is large: start those misses now, under the k loop */
#pragma GCC unroll 16
        for (int i = 0; i < R; i++) {
            const float *ci = c + (i < mr ? i : 0) * c_rs;
            _mm_prefetch((const char *)ci, _MM_HINT_T0);
            _mm_prefetch((const char *)(ci + (nr - 1) * c_cs), _MM_HINT_T0);
        }
#pragma GCC unroll 4
        for (int64_t p = 0; p < k; p++, a += MR, b += NR) {
            __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 16
            for (int i = 0; i < R; i++) {
                __m256 av = _mm256_broadcast_ss(&a[i]);
                acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
            }
        }
    }
    const float alpha = *alpha_p, beta = *beta_p;
    if (c_cs == 1) {
        const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++) {
            const int w = nr - 8 * v;
            const __m256i m = tail_mask(w);
#pragma GCC unroll 16
            for (int i = 0; i < R; i++) {
                if (i >= mr) break;
                float *cp = c + i * c_rs + 8 * v;
                __m256 r = _mm256_mul_ps(va, acc[i][v]);
                if (w >= 8) {
                    if (beta != 0.0f) r = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cp), r);
                    if (bias) r = _mm256_add_ps(r, _mm256_loadu_ps(bias + 8 * v));
                    _mm256_storeu_ps(cp, r);
                } else if (w > 0) {
                    if (beta != 0.0f) r = _mm256_fmadd_ps(vb, _mm256_maskload_ps(cp, m), r);
                    if (bias) r = _mm256_add_ps(r, _mm256_maskload_ps(bias + 8 * v, m));
                    _mm256_maskstore_ps(cp, m, r);
                }
            }
        }
    } else {
        float t[MR * 16];
#pragma GCC unroll 16
        for (int i = 0; i < R; i++)
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) _mm256_storeu_ps(t + i * 16 + 8 * v, acc[i][v]);
        mb_gemm_store_tile(t, 16, c, c_rs, c_cs, mr, nr, alpha, beta, bias);
    }
}

/* packed, zero-padded slivers: always the full tile */
static void ukr_packed(int64_t k, const float *a, const float *b, float *c, int64_t c_rs, int64_t c_cs, int mr, int nr,
                       const float *alpha, const float *beta, const float *bias)
{
    body(MR, 2, 0, k, a, 1, MR, b, NR, c, c_rs, c_cs, mr, nr, alpha, beta, bias);
}

#define DIRECT_CASE(R)                                                                                                 \
    case R:                                                                                                            \
        if (nr > 8)                                                                                                    \
            body(R, 2, 1, k, a, a_rs, a_cs, b, b_rs, c, c_rs, c_cs, mr, nr, alpha, beta, bias);                        \
        else                                                                                                           \
            body(R, 1, 1, k, a, a_rs, a_cs, b, b_rs, c, c_rs, c_cs, mr, nr, alpha, beta, bias);                        \
        break;

/* in place: specialised on the row count and on 1 or 2 vectors */
static void ukr_direct(int64_t k, const float *a, int64_t a_rs, int64_t a_cs, const float *b, int64_t b_rs, float *c,
                       int64_t c_rs, int64_t c_cs, int mr, int nr, const float *alpha, const float *beta,
                       const float *bias)
{
    switch (mr) {
        DIRECT_CASE(1)
        DIRECT_CASE(2)
        DIRECT_CASE(3)
        DIRECT_CASE(4)
        DIRECT_CASE(5)
    default: DIRECT_CASE(6)
    }
}

/* the whole item in registers (up to 2 x MR rows: a full 6-row tile, then R rows), loop over the batch */
static inline __attribute__((always_inline)) void
batch_loop(const int R, const int NV, const int TWO, const struct mb_gemm *p, int64_t b0, int64_t b1, const float *bias)
{
    struct mb_gemm_iter it;
    mb_gemm_iter_init(&it, p, b0);
    const int64_t ao = TWO ? MR * p->a_rs : 0, co = TWO ? MR * p->c_rs : 0;
    for (int64_t b = b0; b < b1; b++, mb_gemm_iter_next(&it, p)) {
        if (TWO)
            body(MR, NV, 1, p->K, p->A + it.oa, p->a_rs, p->a_cs, p->B + it.ob, p->b_rs, p->C + it.oc, p->c_rs, p->c_cs,
                 MR, (int)p->N, &p->alpha, &p->beta, bias);
        body(R, NV, 1, p->K, p->A + it.oa + ao, p->a_rs, p->a_cs, p->B + it.ob, p->b_rs, p->C + it.oc + co, p->c_rs,
             p->c_cs, R, (int)p->N, &p->alpha, &p->beta, bias);
    }
}

#define BATCH_CASE(R)                                                                                                  \
    case R:                                                                                                            \
        if (two) {                                                                                                     \
            if (p->N > 8)                                                                                              \
                batch_loop(R, 2, 1, p, b0, b1, bias);                                                                  \
            else                                                                                                       \
                batch_loop(R, 1, 1, p, b0, b1, bias);                                                                  \
        } else {                                                                                                       \
            if (p->N > 8)                                                                                              \
                batch_loop(R, 2, 0, p, b0, b1, bias);                                                                  \
            else                                                                                                       \
                batch_loop(R, 1, 0, p, b0, b1, bias);                                                                  \
        }                                                                                                              \
        break;

static void ukr_batch(const struct mb_gemm *p, int64_t b0, int64_t b1, const float *bias)
{
    const int two = p->M > MR;
    switch (two ? p->M - MR : p->M) {
        BATCH_CASE(1)
        BATCH_CASE(2)
        BATCH_CASE(3)
        BATCH_CASE(4)
        BATCH_CASE(5)
    default: BATCH_CASE(6)
    }
}

enum mb_status mb_gemm_avx2(const struct mb_gemm *p, const struct mb_exec *x)
{
    static const struct mb_gemm_ukr u = {MR, NR, ukr_packed, ukr_direct, ukr_batch, 2 * MR, -1, 1, NULL, 0};
    return mb_gemm_drive(p, x, &u);
}
