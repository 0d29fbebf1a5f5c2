/*
 * gemm_tiled.c: portable blocked GEMM (plain C, no intrinsics, built with the project's -O2 and no
 * -march): the shared BLIS-style driver (kernels/gemm_driver.h: packing from any strides, MC/KC/NC
 * from the cache sizes in mb_exec, OpenMP over batch / M / N) with a C micro-kernel.
 *
 * Micro-kernel: an MR x NR = 4 x 8 accumulator array updated by rank-1 steps over the packed
 * slivers. The j loop has a constant trip count of 8, so gcc's -O2 vectoriser ("very cheap" cost
 * model, gcc >= 12) turns each row into 2 SSE2 mulps + 2 addps and the fully unrolled accumulators
 * live in 8 xmm registers. No FMA exists in the baseline ISA, so "peak" here means the SSE2
 * mul+add throughput, not an FMA.
 *
 * Contract: all of struct mb_gemm; never MB_ENOTSUP; MB_ENOMEM only when x->work cannot hold one
 * MR x KC + KC x NR panel pair.
 *
 * Verdict on this machine (1 thread; matbench medians of 3 repetitions of per-thread CPU time, peers
 * in the same run; baseline peak = 12 independent SSE2 mulps+addps chains, 41.1 GFLOP/s in that
 * session): n = 256 / 512 / 1024: 29.4 / 31.1 / 31.2 GFLOP/s = 0.72 / 0.76 / 0.76 of that peak
 * (target >= 0.35: met; previous verdict 28.7 / 29.9 / 30.1), 0.28-0.30x OpenBLAS's AVX2+FMA
 * kernels, which is the price of the baseline ISA (4-wide, no FMA), not of the blocking. Batched
 * 64^3 x 64: 22 GFLOP/s. (The x86 tiny-item path of the driver needs AVX2, so not here.)
 */
#include "gemm_driver.h"

#define MR 4
#define NR 8

static void ukr_packed(int64_t k, const float *restrict a, const float *restrict b, float *c, int64_t c_rs,
                       int64_t c_cs, int mr, int nr, const float *alpha, const float *beta, const float *bias)
{
    /* one array per row and the row loop written out: gcc -O2 then vectorises each j loop and keeps
     * the 4 x 2 SSE2 accumulators in registers (a float acc[MR][NR] with an i loop stays on the stack) */
    float c0[NR] = {0}, c1[NR] = {0}, c2[NR] = {0}, c3[NR] = {0};
    for (int64_t p = 0; p < k; p++, a += MR, b += NR) {
        for (int j = 0; j < NR; j++) c0[j] += a[0] * b[j];
        for (int j = 0; j < NR; j++) c1[j] += a[1] * b[j];
        for (int j = 0; j < NR; j++) c2[j] += a[2] * b[j];
        for (int j = 0; j < NR; j++) c3[j] += a[3] * b[j];
    }
    float t[MR * NR];
    for (int j = 0; j < NR; j++) t[j] = c0[j], t[NR + j] = c1[j], t[2 * NR + j] = c2[j], t[3 * NR + j] = c3[j];
    mb_gemm_store_tile(t, NR, c, c_rs, c_cs, mr, nr, *alpha, *beta, bias);
}

enum mb_status mb_gemm_tiled(const struct mb_gemm *p, const struct mb_exec *x)
{
    static const struct mb_gemm_ukr u = {MR, NR, ukr_packed, NULL, NULL, 0, 0, 0, NULL, 0, 0, 0, NULL};
    return mb_gemm_drive(p, x, &u);
}
