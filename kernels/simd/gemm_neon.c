/*
 * gemm_neon.c: GEMM with an AArch64 Advanced SIMD (NEON) 8x12 micro-kernel in the shared BLIS-style driver
 * (kernels/gemm_driver.h: packing from any strides, cache blocking, K blocks, batch with broadcast strides,
 * OpenMP over batch / M / N with exactly x->nthreads, bitwise identical results for any thread count).
 *
 * Micro-kernel: 8 rows x 3 q-registers (12 columns) of C in 24 accumulators; per k step 2 loads of the packed
 * A sliver (8 floats), 3 of the packed B sliver (12 floats) and 24 vfmaq_laneq_f32, the A value taken from a
 * vector lane so no broadcasts are needed (29 of the 32 vector registers; 24 independent FMA chains cover a
 * 4-cycle FMA latency on two pipes with room to spare). The shape of OpenBLAS's and BLIS's Cortex-A57 /
 * Neoverse sgemm kernels. Edges: the driver zero-pads the packed slivers, so the k loop always computes a full
 * tile; a full tile with unit column stride is stored 4 lanes at a time, any other tile (mr < 8, nr < 12, or
 * a strided / transposed C) through mb_gemm_store_tile, which writes only the mr x nr valid part.
 *
 * Contract: all of struct mb_gemm (through the driver); never MB_ENOTSUP; MB_ENOMEM only when x->work cannot
 * hold one 8 x KC + KC x 12 panel pair (and the bias row). No direct (unpacked) micro-kernel yet: small
 * problems are packed too.
 *
 * Verdict: correct on every vector and on the sweeps of tests/neon_main.c (sizes 1..40, every layout, batch
 * broadcast, K/M/N blocks, 1-3 threads bitwise equal) under qemu-aarch64. Speed unmeasured: no ARM hardware
 * here, and qemu timings say nothing about a real core.
 */
#include "gemm_driver.h"

#include <arm_neon.h>

#define MR 8
#define NR 12

/* Performance: the 24 accumulators are named variables, not an array: GCC keeps an array that is indexed by a
 * loop variable anywhere in the function in memory, and then stores all 24 to the stack on every k step. */
#define FMA_ROW(c0, c1, c2, a, lane)                                                                                   \
    do {                                                                                                               \
        c0 = vfmaq_laneq_f32(c0, b0, a, lane);                                                                         \
        c1 = vfmaq_laneq_f32(c1, b1, a, lane);                                                                         \
        c2 = vfmaq_laneq_f32(c2, b2, a, lane);                                                                         \
    } while (0)
#define STORE_ROW(r, c0, c1, c2)                                                                                       \
    do {                                                                                                               \
        vst1q_f32(&t[r][0], c0);                                                                                       \
        vst1q_f32(&t[r][4], c1);                                                                                       \
        vst1q_f32(&t[r][8], c2);                                                                                       \
    } while (0)

/* The driver's packed micro-kernel: C[i][j] = alpha * (A B)[i][j] + beta * C[i][j] (+ bias[j]), i < mr, j < nr;
 * A(i,p) = a[p*MR + i], B(p,j) = b[p*NR + j]; beta == 0: C not read; bias NULL or nr contiguous floats. */
static void ukr_packed(int64_t kc, const float *restrict a, const float *restrict b, float *restrict C, int64_t c_rs,
                       int64_t c_cs, int mr, int nr, const float *alpha_p, const float *beta_p,
                       const float *restrict bias)
{
    float32x4_t c00 = vdupq_n_f32(0.0f), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
    float32x4_t c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    float32x4_t c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00;
    float32x4_t c60 = c00, c61 = c00, c62 = c00, c70 = c00, c71 = c00, c72 = c00;
    for (int64_t p = 0; p < kc; p++, a += MR, b += NR) {
        const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
        const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
        FMA_ROW(c00, c01, c02, a0, 0);
        FMA_ROW(c10, c11, c12, a0, 1);
        FMA_ROW(c20, c21, c22, a0, 2);
        FMA_ROW(c30, c31, c32, a0, 3);
        FMA_ROW(c40, c41, c42, a1, 0);
        FMA_ROW(c50, c51, c52, a1, 1);
        FMA_ROW(c60, c61, c62, a1, 2);
        FMA_ROW(c70, c71, c72, a1, 3);
    }
    const float alpha = *alpha_p, beta = *beta_p; /* by pointer in the driver contract: read after the k loop */
    float t[MR][NR]; /* the finished tile, once per KC block: 24 stores against kc * 29 instructions */
    STORE_ROW(0, c00, c01, c02);
    STORE_ROW(1, c10, c11, c12);
    STORE_ROW(2, c20, c21, c22);
    STORE_ROW(3, c30, c31, c32);
    STORE_ROW(4, c40, c41, c42);
    STORE_ROW(5, c50, c51, c52);
    STORE_ROW(6, c60, c61, c62);
    STORE_ROW(7, c70, c71, c72);

    if (mr == MR && nr == NR && c_cs == 1) { /* full tile, unit column stride: 4-lane epilogue */
        const float32x4_t va = vdupq_n_f32(alpha), vb = vdupq_n_f32(beta);
        for (int r = 0; r < MR; r++) {
            float *cr = C + r * c_rs;
            for (int v = 0; v < NR; v += 4) {
                float32x4_t s = vmulq_f32(vld1q_f32(&t[r][v]), va);
                if (beta != 0.0f) s = vfmaq_f32(s, vld1q_f32(cr + v), vb);
                if (bias) s = vaddq_f32(s, vld1q_f32(bias + v));
                vst1q_f32(cr + v, s);
            }
        }
        return;
    }
    mb_gemm_store_tile(&t[0][0], NR, C, c_rs, c_cs, mr, nr, alpha, beta, bias);
}

enum mb_status mb_gemm_neon(const struct mb_gemm *p, const struct mb_exec *x)
{
    static const struct mb_gemm_ukr u = {MR, NR, ukr_packed, NULL, NULL, 0, 0, 0, NULL, 0, 0, 0, NULL};
    return mb_gemm_drive(p, x, &u);
}
