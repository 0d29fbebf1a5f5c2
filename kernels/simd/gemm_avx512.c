/*
 * gemm_avx512.c: GEMM with an AVX-512 14x32 micro-kernel in the shared BLIS-style driver
 * (kernels/gemm_driver.h: packing from any strides, cache blocking, OpenMP over batch / M / N).
 *
 * Micro-kernel: 14 rows x 2 zmm (32 columns) of C in 28 accumulators; per k step 2 loads of the
 * packed B sliver, 14 broadcasts of packed A, 28 FMAs (2 FMA ports x 4-cycle latency need >= 8
 * independent chains; 28 + 2 + 1 = 31 of 32 zmm registers). Edges: packed panels are zero-padded,
 * stores are masked (__mmask16 per vector) when C has unit column stride, else the tile goes
 * through mb_gemm_store_tile. The same body, instantiated for 1..14 rows and 1..2 vectors, reads
 * A and B in place for small problems ("direct": no packing; exactly mr rows of A, masked loads of
 * B): 64^3 batches and tiny items with N > 8 (N <= 8 goes to the driver's mb_gemm_tiny).
 *
 * Contract: all of struct mb_gemm (any strides, broadcast batch strides, alpha/beta/bias, zero sizes);
 * never MB_ENOTSUP; MB_ENOMEM only when x->work cannot hold one MR x KC + KC x NR panel pair.
 *
 * Verdict on this machine (Xeon SPR-class VM, 1 thread, best of 5, per-thread CPU time because
 * other sessions kept the 2 cores at load 3-8; peers in the same run; peak = 16-chain zmm FMA loop,
 * 222 GFLOP/s; OpenBLAS 0.3.21 with OPENBLAS_CORETYPE=Haswell, i.e. its AVX2 kernels):
 *     n       GFLOP/s  of peak  x OpenBLAS  x oneDNN 2.6  x BLIS 0.9
 *     256     162      0.73     1.64        0.91         1.60
 *     512     154      0.69     1.47        0.90         1.49
 *     1024    154      0.69     1.50        0.91         1.53
 *     2048    151      0.68     1.42        0.89         1.40
 *   (+-5 % between runs.) MISSES the targets (>= 0.93 of peak, >= 1.9x OpenBLAS, >= 1.0x oneDNN).
 *   The micro-kernel alone on L1-resident panels runs at 205-209 GFLOP/s (0.93 of peak), so the loss
 *   is in the macro loops: packing is ~8 % at n = 1024 (rdtsc around pack_a / pack_b; pack_a was
 *   10 % before its loop order was fixed); callgrind of the same driver with the AVX2 kernel shows
 *   5 % D1 misses on the kernel's loads, all of them the A sliver streaming from L2 as designed.
 *   Software prefetch of A (4 / 8 / 16 k-steps ahead) or of the next batch item, MC = L2/2 vs L2/4 and
 *   KC = 128..512 each moved the figure by less than the run-to-run noise; prefetching C (kept) ~3 %.
 *   Tiny batched 10x5 @ 5x8 (whole item in registers, batch loop inside this file): batch 32: 1.30 us
 *   (2.8x OpenBLAS looping cblas_sgemm, 0.96x LIBXSMM 1.17; broadcast B 1.20 us: 3.0x, 1.07x);
 *   batch 256: 6.5 us (4.1x OpenBLAS, 0.83x LIBXSMM). MISSES >= 8x OpenBLAS (its per-call cost
 *   measured 37-111 ns here, not the microseconds the target assumes) and >= LIBXSMM at batch 256
 *   (~200 instructions per item against LIBXSMM's JIT code for the exact shape).
 *   Batched 64^3 x 64: 132 GFLOP/s = 1.61x OpenBLAS (target 2.2x), 1.00x oneDNN, 0.78x LIBXSMM.
 *   2 threads vs 1: not measurable while other sessions load the second core (wall-clock runs gave
 *   less than 1x for OpenBLAS and oneDNN too). The split has no barriers or shared writes; the
 *   ceiling is the measured 2-core FMA peak ratio (438 / 222 = 1.97x).
 */
#include "gemm_driver.h"

#include <immintrin.h>

#define MR 14
#define NR 32

static inline __mmask16 tail_mask(int n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* broadcast of the float at base + {0, r, 2r, 3r, 4r}[q] (bytes); A is read-only here, so the asm
 * needs no memory operand to stay ordered */
static inline __attribute__((always_inline)) __m512 bcast_row(const char *base, int64_t r, int64_t r3, const int q)
{
    __m512 v;
    switch (q) {
    case 0: __asm__("vbroadcastss (%1), %0" : "=v"(v) : "r"(base)); break;
    case 1: __asm__("vbroadcastss (%1,%2,1), %0" : "=v"(v) : "r"(base), "r"(r)); break;
    case 2: __asm__("vbroadcastss (%1,%2,2), %0" : "=v"(v) : "r"(base), "r"(r)); break;
    case 3: __asm__("vbroadcastss (%1,%2,1), %0" : "=v"(v) : "r"(base), "r"(r3)); break;
    default: __asm__("vbroadcastss (%1,%2,4), %0" : "=v"(v) : "r"(base), "r"(r)); break;
    }
    return v;
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
    __m512 acc[MR][2];
    if (DIRECT) { /* R == mr at every call; k >= 1 always (K == 0 never reaches a micro-kernel) */
        const __mmask16 bm = tail_mask(nr - 16 * (NV - 1));
        /* row i of A at g[i / 5] + {0, r, 2r, 3r, 4r}[i % 5] (bytes): 3 bases + r + 3r in registers, each
         * row a (base, index, scale) address operand. Written as C, gcc kept 14 row pointers and reloaded
         * 6 of them from the stack every k step (alone no measurable change). Accumulators start at zero:
         * peeling k-step 0 as a multiply made gcc spill and reload all 28 of them around the loop
         * (14x32x64 tile in L1: ~178 -> ~190 GFLOP/s without the peel). */
        const int64_t r = a_rs * (int64_t)sizeof(float), r3 = 3 * r, cs = a_cs * (int64_t)sizeof(float);
        const char *g[3] = {(const char *)a, (const char *)a + 5 * r, (const char *)a + 10 * r};
#pragma GCC unroll 16
        for (int i = 0; i < R; i++)
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
        for (int64_t p = 0; p < k; p++) {
            __m512 bv[2];
#pragma GCC unroll 16
            for (int v = 0; v < NV - 1; v++) bv[v] = _mm512_loadu_ps(b + p * b_rs + 16 * v);
            bv[NV - 1] = _mm512_maskz_loadu_ps(bm, b + p * b_rs + 16 * (NV - 1));
#pragma GCC unroll 16
            for (int i = 0; i < R; i++) {
                __m512 av = bcast_row(g[i / 5], r, r3, i % 5);
#pragma GCC unroll 16
                for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
            }
#pragma GCC unroll 3
            for (int j = 0; j < 3; j++) g[j] += cs;
        }
    } else {
#pragma GCC unroll 16
        for (int i = 0; i < R; i++)
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
/* C comes from L2 / L3 when the matrix is large: start those misses now, under the k loop */
#pragma GCC unroll 16
        for (int i = 0; i < R; i++) {
            const float *ci = c + (i < mr ? i : 0) * c_rs;
            _mm_prefetch((const char *)ci, _MM_HINT_T0);
            _mm_prefetch((const char *)(ci + (nr - 1) * c_cs), _MM_HINT_T0);
        }
#pragma GCC unroll 2
        for (int64_t p = 0; p < k; p++, a += MR, b += NR) {
            __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 16
            for (int i = 0; i < R; i++) {
                __m512 av = _mm512_set1_ps(a[i]);
                acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
            }
        }
    }
    const float alpha = *alpha_p, beta = *beta_p;
    if (c_cs == 1) {
        const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
        for (int i = 0; i < R; i++) {
            if (i >= mr) break;
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) {
                __mmask16 m = tail_mask(nr - 16 * v);
                float *cp = c + i * c_rs + 16 * v;
                __m512 r = _mm512_mul_ps(va, acc[i][v]);
                if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, cp), r);
                if (bias) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, bias + 16 * v));
                _mm512_mask_storeu_ps(cp, m, r);
            }
        }
    } else {
        float t[MR * 32];
#pragma GCC unroll 16
        for (int i = 0; i < R; i++)
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) _mm512_storeu_ps(t + i * 32 + 16 * v, acc[i][v]);
        mb_gemm_store_tile(t, 32, c, c_rs, c_cs, mr, nr, alpha, beta, bias);
    }
}

#define DIRECT_CASE(R)                                                                                                 \
    case R:                                                                                                            \
        if (nr > 16)                                                                                                   \
            body(R, 2, 1, k, a, a_rs, a_cs, b, b_rs, c, c_rs, c_cs, mr, nr, alpha, beta, bias);                        \
        else                                                                                                           \
            body(R, 1, 1, k, a, a_rs, a_cs, b, b_rs, c, c_rs, c_cs, mr, nr, alpha, beta, bias);                        \
        break;

/* packed, zero-padded slivers: always the full tile */
static void ukr_packed(int64_t k, const float *a, const float *b, float *c, int64_t c_rs, int64_t c_cs, int mr, int nr,
                       const float *alpha, const float *beta, const float *bias)
{
    body(MR, 2, 0, k, a, 1, MR, b, NR, c, c_rs, c_cs, mr, nr, alpha, beta, bias);
}

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
        DIRECT_CASE(6)
        DIRECT_CASE(7)
        DIRECT_CASE(8)
        DIRECT_CASE(9)
        DIRECT_CASE(10)
        DIRECT_CASE(11)
        DIRECT_CASE(12)
        DIRECT_CASE(13)
    default: DIRECT_CASE(14)
    }
}

/* the whole item in registers, loop over the batch (broadcast operands simply stay in L1) */
static inline __attribute__((always_inline)) void batch_loop(const int R, const int NV, const struct mb_gemm *p,
                                                             int64_t b0, int64_t b1, const float *bias)
{
    struct mb_gemm_iter it;
    mb_gemm_iter_init(&it, p, b0);
    for (int64_t b = b0; b < b1; b++, mb_gemm_iter_next(&it, p))
        body(R, NV, 1, p->K, p->A + it.oa, p->a_rs, p->a_cs, p->B + it.ob, p->b_rs, p->C + it.oc, p->c_rs, p->c_cs, R,
             (int)p->N, &p->alpha, &p->beta, bias); /* M == R here */
}

#define BATCH_CASE(R)                                                                                                  \
    case R:                                                                                                            \
        if (p->N > 16)                                                                                                 \
            batch_loop(R, 2, p, b0, b1, bias);                                                                         \
        else                                                                                                           \
            batch_loop(R, 1, p, b0, b1, bias);                                                                         \
        break;

static void ukr_batch(const struct mb_gemm *p, int64_t b0, int64_t b1, const float *bias)
{
    switch (p->M) {
        BATCH_CASE(1)
        BATCH_CASE(2)
        BATCH_CASE(3)
        BATCH_CASE(4)
        BATCH_CASE(5)
        BATCH_CASE(6)
        BATCH_CASE(7)
        BATCH_CASE(8)
        BATCH_CASE(9)
        BATCH_CASE(10)
        BATCH_CASE(11)
        BATCH_CASE(12)
        BATCH_CASE(13)
    default: BATCH_CASE(14)
    }
}

enum mb_status mb_gemm_avx512(const struct mb_gemm *p, const struct mb_exec *x)
{
    static const struct mb_gemm_ukr u = {MR, NR, ukr_packed, ukr_direct, ukr_batch, MR, 1};
    return mb_gemm_drive(p, x, &u);
}
