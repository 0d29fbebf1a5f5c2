/*
 * gemm_avx2.c: GEMM with an AVX2+FMA 6x16 micro-kernel in the shared BLIS-style driver
 * (kernels/gemm_driver.h: packing from any strides, cache blocking, OpenMP over batch / M / N).
 *
 * Micro-kernel: 6 rows x 2 ymm (16 columns) of C in 12 accumulators (BLIS haswell's shape); per k
 * step 2 loads of the packed B sliver, 6 broadcasts of packed A, 12 FMAs (2 ports x 4-5 cycles
 * latency need >= 10 chains; 12 + 2 + 1 = 15 of 16 ymm registers). Edges: zero-padded packed
 * panels, masked stores (vmaskmovps) when C has unit column stride, else mb_gemm_store_tile. The
 * same body, instantiated for 1..6 rows and 1..2 vectors, reads A and B in place for small problems
 * (no packing; always called with mr == R, so no row is clamped; masked loads of B).
 *
 * Contract: all of struct mb_gemm; never MB_ENOTSUP; MB_ENOMEM only when x->work cannot hold one
 * MR x KC + KC x NR panel pair.
 *
 * Macro loops (kernels/gemm_driver.h, asked for by this file's ukr flags): always jr outer (the B sliver,
 * KC x 16 = 24 KiB, stays in L1 while MC rows of packed A stream from L2), A always packed (the SIMD
 * 6-row transpose-pack beat reading A in place by ~10 % at n = 256 / 512), KC split into equal passes;
 * the packed kernel prefetches its C tile at entry (jr outer walks down C's columns: each tile is 6
 * fresh rows, 4-8 KiB apart, from L2 / L3), k unrolled by 4.
 *
 * Verdict on AMD Zen 5 (EPYC VM, 48 KiB L1d, 1 MiB L2; AVX2 peak 123-129 GFLOP/s as the clock drifts):
 *   the packed 6x16 kernel on L1-resident slivers runs at 0.97 of the AVX2 peak (kc 384); in the GEMM,
 *   perf (cpu-clock, n = 1024) gives the kernel 97 % of the time and packing ~3 %, the kernel there at
 *   ~0.91: the whole is 0.86-0.92 of the best peak seen, level with OpenBLAS's Haswell kernels (0.95-1.03x,
 *   same-process interleaved); with B packed inside each sliver's first tile (.packed_copy_b, +2-3 % at
 *   256 / 512) `MB_RUNS=3 make targets` at git ead02c8 reads 0.92 / 0.94 / 0.93 / 0.95 of the best peak
 *   at n = 256..2048 (ranges 0.91-0.96), 0.99-1.02x OpenBLAS. Tried here without a gain (interleaved, 2-3 rounds): KC 512 / 768, MC 120,
 *   the C tile into L2 instead of L1 (which AVX-512 takes); at n = 256 / 512, A read in place (0.92 / 0.98x
 *   OpenBLAS against 0.98 / 0.98x packed), A and B in place (0.96 / 0.98x), packed A with B read in place
 *   by the direct kernel (0.93 / 0.97x): packing A stays.
 *
 * Verdict on AMD Zen 3 (EPYC Milan-class VM, family 25 model 1: no AVX-512, 32 KiB L1d, 512 KiB L2, AVX2
 *   peak 93-103 GFLOP/s, VM noise 5-30 % between repetitions): `make targets` read 0.90-0.92 of the best
 *   AVX2 peak at n = 256..2048 in one run (0.98-1.02x OpenBLAS, 2 threads 1.96-2.03x), medians 0.84-0.90
 *   (0.94-1.09x OpenBLAS, 0.97-1.57x oneDNN) over two `MB_RUNS=3` in noisier phases. The direct loop
 *   now walks A through fixed row offsets (it is always called with mr == R, the old per-row clamped
 *   pointers cost one add per row per k): 27 % fewer instructions in ukr_direct (callgrind, 32 x 64^3,
 *   2.72 -> 1.98 per FMA), time level (64^3 batches 0.9-0.95x LIBXSMM before and after, interleaved): the
 *   loop was not issue-bound. Prefetching the next batch item (mb_gemm_hw_streams_batches off) read
 *   +0-30 % at 256 x 64^3 and -3-10 % at 64 x 64^3 in 4 noisy rounds: not changed. Blocking for the
 *   32 KiB L1 / 512 KiB L2 (KC 384, MC 84 here): KC 256 (B sliver half of L1) 3-7 % slower at n = 512 /
 *   1024, MC from half of L2 (168) level at 512 / 2048 (3 rounds each, against OpenBLAS in the same runs:
 *   ours 88-92 GFLOP/s, OpenBLAS 85-93, BLIS 82-85): the kernel, not the blocking, sets the level.
 *
 * Earlier verdict (Xeon SPR-class VM; 1 thread, core 0; matbench medians of 3 repetitions of per-thread CPU time,
 * peers in the same run; pct_peak against the avx2 peak matbench measures at start, 12-chain ymm FMA
 * loop, 114 GFLOP/s in that session, 113-130 in others; OPENBLAS_CORETYPE=Haswell):
 *     taskset -c 0 matbench --benchmark_filter='^gemm/(avx2|avx512|blas|onednn)/M:(256|512|1024|2048)/
 *       .*threads:1$' --benchmark_min_time=0.3 --benchmark_repetitions=3
 *     n       GFLOP/s  of AVX2 peak  x OpenBLAS Haswell   (previous verdict: GF, of peak, x OpenBLAS)
 *     256     105.5    0.93          1.01                 97.6, 0.82, 0.93
 *     512     103.5    0.91          0.95                 97.0, 0.82, 0.90
 *     1024    102.6    0.90          1.02                 91.4, 0.77, 0.87
 *     2048    106.9    0.94          1.04                 90.7, 0.76, 0.81
 *   Target >= 0.9 of the AVX2 peak: MET in that run, but only just: in noisier sessions the same binary
 *   reads 0.85-0.92 (the pct_peak denominator is measured once per run and moves with the machine).
 *   Interleaved A/B against the previous code (3-4 alternations): +4-19 % (1024: 96.5 -> 109.8-116,
 *   2048: 95.5 -> 114-118 GFLOP/s in quiet phases). What moved it: C prefetch + jr-outer order (1024 / 2048
 *   +8-10 %), the SIMD pack of A (+4 % at 1024, packing A then beating in-place A at 256 / 512 by 10 %),
 *   equal KC passes (+1-2 %). What is left (perf, n = 1024): the kernel ~95 % of the time at ~0.92 of
 *   peak (0.97 on L1-resident panels: A slivers from L2 and C from L3 cost the rest), packing ~3-5 %
 *   (pack_b now ~3 %, pack_a ~1 %). Tried without gain: KC 256 / 512 (384 best), MC 168 / 672 (336
 *   best), C prefetch in the in-place (direct) kernel.
 * Tiny batched 10x5 @ 5x8 (the driver's mb_gemm_tiny): batch 32 300 ns, batch 256 2.63 us, unchanged
 * by this round (A/B old 312 ns / 2.68 us); batched 64^3: batch 32 / 64 / 256 = 1.01x / 1.10x / 1.15x
 * OpenBLAS (direct 6x16 tiles, unchanged).
 */
#include "gemm_driver.h"

#include <immintrin.h>

#define MR 6
#define NR 16

static inline __m256i tail_mask(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* R rows x NV vectors; DIRECT: unpacked A (a_rs, a_cs) and B (b_rs, masked last vector). Packed A with
 * bcopy set (the driver's .packed_copy_b; NV == 2, a full sliver): B read in place (row stride b_rs) and
 * each row copied into the packed sliver bcopy as it goes. R, NV and DIRECT are constants at every call;
 * the unroll pragmas make gcc -O2 unroll the row / vector loops fully, without which acc[][] stays on
 * the stack (gcc -O2 does not unroll them by itself). */
static inline __attribute__((always_inline)) void body(const int R, const int NV, const int DIRECT, int64_t k,
                                                       const float *a, int64_t a_rs, int64_t a_cs, const float *b,
                                                       int64_t b_rs, float *c, int64_t c_rs, int64_t c_cs, int mr,
                                                       int nr, const float *alpha_p, const float *beta_p,
                                                       const float *bias, float *bcopy)
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
        for (int i = 0; i < R; i++) ar[i] = a + i * a_rs;
#pragma GCC unroll 4
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
        mb_gemm_prefetch_c(c, c_rs, c_cs, R, mr, nr, 0);
        const int64_t pfd = MB_GEMM_COPY_B_PF * b_rs;
#pragma GCC unroll 4
        for (int64_t p = 0; p < k; p++, a += MR, b += b_rs) {
            __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
            if (bcopy) {
                _mm256_storeu_ps(bcopy + p * NR, b0);
                _mm256_storeu_ps(bcopy + p * NR + 8, b1);
                _mm_prefetch((const char *)(b + pfd), _MM_HINT_T0);
                _mm_prefetch((const char *)(b + pfd + 15), _MM_HINT_T0);
            }
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
                    mb_store_part(cp, r, w); /* not vmaskmovps: microcoded on Zen 1-3 */
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
    body(MR, 2, 0, k, a, 1, MR, b, NR, c, c_rs, c_cs, mr, nr, alpha, beta, bias, NULL);
}

/* packed A, a full sliver of B in place (unit column stride), copied into the packed sliver bp on the way */
static void ukr_packed_copy_b(int64_t k, const float *a, const float *b, int64_t b_rs, float *bp, float *c, int64_t c_rs,
                              int64_t c_cs, int mr, int nr, const float *alpha, const float *beta, const float *bias)
{
    body(MR, 2, 0, k, a, 1, MR, b, b_rs, c, c_rs, c_cs, mr, nr, alpha, beta, bias, bp);
}

#define DIRECT_CASE(R)                                                                                                 \
    case R:                                                                                                            \
        if (nr > 8)                                                                                                    \
            body(R, 2, 1, k, a, a_rs, a_cs, b, b_rs, c, c_rs, c_cs, mr, nr, alpha, beta, bias, NULL);                  \
        else                                                                                                           \
            body(R, 1, 1, k, a, a_rs, a_cs, b, b_rs, c, c_rs, c_cs, mr, nr, alpha, beta, bias, NULL);                  \
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
                 MR, (int)p->N, &p->alpha, &p->beta, bias, NULL);
        body(R, NV, 1, p->K, p->A + it.oa + ao, p->a_rs, p->a_cs, p->B + it.ob, p->b_rs, p->C + it.oc + co, p->c_rs,
             p->c_cs, R, (int)p->N, &p->alpha, &p->beta, bias, NULL);
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
    static const struct mb_gemm_ukr u = {MR, NR, ukr_packed, ukr_direct, ukr_batch, 2 * MR, 1, 1, NULL, 0, 0, 0, ukr_packed_copy_b};
    return mb_gemm_drive(p, x, &u);
}
