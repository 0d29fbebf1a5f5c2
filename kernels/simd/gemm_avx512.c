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
 * Wide path (ukr_wide, the driver's .wide hook): items with 32 < N <= 64 on the direct path (64^3
 * batches) run as tiles of 6 rows x the whole row of C (4 zmm, 24 accumulators; the full 6x64 tile's
 * k loop in inline asm, tails through body()): A's rows are read once, B (16 KiB at 64^3) from L1 by
 * each of the 11 row tiles, the next item's A and B prefetched into L2 while the batch outgrows L2
 * (Intel only: mb_gemm_hw_streams_batches in the driver).
 *
 * Verdict on AMD Zen 5 (EPYC VM, 2 cores, 48 KiB L1d, 1 MiB L2, 32 MiB L3; 1 thread, core 0; peak = the
 * 16-chain zmm FMA loop, 250-265 GFLOP/s as the VM's clock drifts; OpenBLAS 0.3.21 Haswell, oneDNN 2.6):
 *   The k loop is not the limit here: the 14x32 packed kernel on L1-resident slivers runs at 0.98-0.99 of
 *   peak (kc 256 / 512), and at 0.95-1.0 with the B panel streamed from L2 and C from L3 (a throwaway
 *   driver around ukr_packed). What the ir-outer order of the SPR rounds lost was packing: NC = half of
 *   L2 (512 here) repacks A N / 512 times, and perf (cpu-clock) put pack_a at 4.5 % and pack_b at 1 % of
 *   an n = 2048 run against ukr_packed's 91 %. Now jr outer with NC = N (driver: A and B packed once,
 *   perf: packing ~2 % at n = 2048; timed, 3-5 %: below), KC 512 (.kc_max: the B sliver 64 KiB, 4/3 of L1, partly from L2), the C tile prefetched
 *   into L2, not L1 (rows 8 KiB apart at n = 2048 fall in two L1 sets). Same-process interleaved ratios to oneDNN (8 repetitions, medians):
 *     n       before (ir outer)   jr outer, NC = N   + C into L2   + KC 384     + KC 512
 *     512     0.94-0.96           0.94-0.96          0.94-0.96     0.95-0.97    0.96-0.97
 *     1024    0.95-0.97           0.93-0.98          0.94-0.98     0.99-1.00    0.97-0.99
 *     2048    0.92-0.94           0.87-0.90          0.94-0.97     0.95-0.96    0.96-0.97
 *     2064    0.91-0.92           0.97-1.00          0.96-0.99     0.97-0.98    0.97-0.99
 *   (each column a separate pair of rounds; KC 384 and 512 also interleaved with each other: 512 ahead
 *   by 2 % at n = 512, level to +2 % elsewhere; KC 768 level).
 *   `MB_RUNS=3 make targets` (3 x 3 interleaved repetitions, medians), at git 3a55620 (B packed in a pass
 *   of its own): 1.01 / 0.95 / 0.96 / 0.98x oneDNN, 0.96 / 0.89 / 0.91 / 0.90 of the best peak seen,
 *   2.06 / 1.85 / 1.95 / 1.91x OpenBLAS at n = 256..2048; at git ead02c8 (the driver's .packed_copy_b: B
 *   packed inside each sliver's first tile): 0.99 / 0.98 / 0.98 / 0.97x oneDNN (ranges 0.98-1.00 /
 *   0.95-1.00 / 0.97-1.02 / 0.97-0.98), 0.95 / 0.92 / 0.93 / 0.91 of the best peak (oneDNN 0.96 / 0.94 /
 *   0.94 / 0.93), 2.04 / 1.97 / 1.93 / 1.99x OpenBLAS: >= 1.9x OpenBLAS met everywhere, >= 0.93 of peak
 *   short by 0.01 / 0.02 at 512 / 2048, >= 1.0x oneDNN short by 1-3 % (README table). What is left is
 *   mostly the kernel inside the loops (A slivers and part of the B sliver from L2, C from L3: 0.93-0.96
 *   there against 0.99 on L1 data), then A's packing (~2 %, below). Tried without a gain here: software
 *   prefetch of the B / A slivers 8 or 16 k steps ahead (level), prefetch of the next A block's rows
 *   into L2 under the current block (level), A read in place at n >= 1024 (0.75-0.85x: 14 rows 8 KiB
 *   apart alias in L1), packing each A sliver just before its jr loop (level), MC 336 / 378 / 504 (level),
 *   the next B sliver prefetched into L2 or L1 under a column of tiles (-2-4 %: the hardware prefetchers
 *   already stream it), MR 12 (12x32: C tiles within L1's 12 ways at n = 2048; level), packed kernels
 *   specialised on the last sliver's row count (level), prefetcht0 of B (and A) 16 / 32 k steps ahead
 *   inside the k loop with jr outer and KC 512 (level), M cut into equal MC blocks of whole slivers (512 =
 *   8 + 8 + 7 + 7 + 7 slivers instead of 4 x 9 + one 8-row block; level). perf annotate at n = 2048:
 *   samples spread evenly over the k loop's FMAs and broadcasts, none on the epilogue. After ead02c8
 *   (3 interleaved alternations, medians of 3, x oneDNN at n = 512 / 2048; noise +-2-3 %): tiles taken
 *   G slivers of B at a time so G consecutive tiles share C's rows, G = 1 / 2 / 4: 0.99-1.00 / 0.98-1.00
 *   / 0.97-1.01 and 0.98-1.01 / 0.97-0.99 / 0.97-1.00 (level); A copied row-major into a buffer with a
 *   skewed stride (kc + 16) and run by the direct kernel, no transpose: +1-2 % at 512 in two rounds of
 *   three, 0.78-0.86 at 2048 (0.86-0.91 with the C prefetch added: 14 broadcast streams); an upper
 *   bound with C neither loaded nor prefetched (wrong results): level at 512, 0.90-0.92 at 2048, so C's
 *   reads are free at 512 and its prefetch is what keeps 2048 at 0.97.
 *   Where the rest goes, timed (a throwaway harness running the driver's loops around ukr_packed, M = N = K = n,
 *   KC 512, MC 126, 1 thread; peak 265-272 in the same minutes): with panels packed beforehand 249-256 GFLOP/s at
 *   n = 512..2048 (0.93-0.96; the same kernel on L1-resident slivers 259-263); packing each block as the driver
 *   does costs pack_a 2.2 / 2.0 / 1.6 % and pack_b 3.1 / 2.5 / 1.5 % of the time at n = 512 / 1024 / 2048 (perf
 *   agrees: mb_gemm_run, where the packing is inlined, 5.5 % of the GEMM at n = 1024), so the whole lands at
 *   0.89-0.92. Tried on that: pack_b two slivers at a time (3x faster alone, slower in the loops: driver
 *   comment), packing each B sliver in the first MC block just before its tiles with its source rows
 *   prefetched into L2 between the previous sliver's tiles (pack_b 3.1 -> 1.6 % at n = 512, 1.5 -> 1.1 % at
 *   2048, the total level within the +-1 % noise), transparent huge pages for everything (both oneDNN and ours
 *   gained, the ratio stayed 0.96-0.98).
 *   Batched 64^3 (wide path): without the next-item prefetch on AMD (driver: mb_gemm_hw_streams_batches)
 *   0.92-0.95 -> 0.98-1.01x LIBXSMM and 2.2-2.8x OpenBLAS at 32..256 items; prefetching only the next
 *   item's B (into L2 or L1) was 2-4 % slower, the C tile's prefetch into L1 / L2 / for write or none level.
 *
 * Earlier verdict (Xeon SPR-class VM, 2 cores, 48 KiB L1d, 2 MiB L2; 1 thread, core 0; matbench
 * medians of 3 repetitions of per-thread CPU time, peers in the same run; peak = 16-chain zmm FMA loop,
 * 214-229 GFLOP/s; OpenBLAS 0.3.21 with OPENBLAS_CORETYPE=Haswell):
 *     taskset -c 0 matbench --benchmark_filter='^gemm/(avx512|blas|onednn)/M:(256|512|1024|2048)/
 *       .*threads:1$' --benchmark_min_time=0.3 --benchmark_repetitions=3   (4 runs; median of the runs)
 *     n       GFLOP/s  of peak  x OpenBLAS  x oneDNN 2.6   (range over the 4 runs)  (previous: GF, x oneDNN)
 *     256     173      0.79     1.68        0.98          0.84 - 1.04              168, 0.91
 *     512     162      0.74     1.55        0.93          0.81 - 0.96              166, 0.89
 *     1024    163      0.75     1.60        0.99          0.92 - 1.01              170, 0.96
 *     2048    162      0.74     1.57        0.98          0.91 - 1.05              160, 0.96
 *   (the VM swung 160 <-> 185 GFLOP/s within minutes for both libraries, so same-run ratios move
 *   +-5 %.) TARGET >= 1.0x oneDNN MISSED: reached in single runs at 256 / 1024 / 2048, not at 512
 *   (~0.93). What moved: the driver's .direct_b (n = 256, A and B both read in place, nothing packed),
 *   interleaved A/B, 4 alternations: 160-164 -> 171-181 GFLOP/s, 0.91-0.93 -> 0.97-0.99x oneDNN.
 *   Tried in this round without a consistent gain (interleaved A/B, 3-5 alternations): the packed
 *   14x32 k loop as one inline-asm block (k unrolled by 2, 2 prefetcht0 of the B sliver per k step
 *   512 / 1024 / 2048 bytes ahead; llvm-mca 30 cycles per 2 k steps, the same as gcc's): n = 1024
 *   0.91-0.97 vs 0.94-1.00 old, 2048 0.88-0.97 vs 0.94-1.04, i.e. neutral, not kept; jr outer (with
 *   and without packed A): 3-10 % slower at 512..2048; packed A at n = 256 / 512 (.pack_a = 1): -3 % /
 *   +2 %; B in place at n = 512 (B = half of L2): 0.89-0.97 vs 0.86-0.98; packing A only at n = 512:
 *   0.88-1.00 vs 0.91-1.05. What limits it: not the k loop (0.92 of peak on L1 data, 28-30 cycles per
 *   2 k steps either way) but the ~10 % lost in the macro loops to the B sliver streamed from L2 for
 *   every tile (ir outer, 32 KiB per 14x32 call) and C traffic; at n = 512 (A 1 MiB in place + B
 *   panel 512 KiB: L2 nearly full) that loss is largest.
 *   Where the time goes (n = 1024, perf cpu-clock + rdtsc around the packing): micro-kernel ~89 %,
 *   packing ~9 % before this round (pack_a now an 8x8 ymm transpose per 8 k steps). The mix itself
 *   caps the kernel: an asm loop of 2 loads + R broadcasts + 2R FMAs runs at ~200 of 216 GFLOP/s for
 *   every shape tried (14x32, 12x32, 8x48, 6x64, 10x48; embedded {1to16} broadcasts were slower, 175),
 *   so no register shape buys more than ~5 %; this kernel on L1-resident panels runs at 186-195,
 *   in the macro loops at ~177 (A slivers from L2, C from L3). Tried without effect (within noise):
 *   KC 128..512 (256 best), MC 112..1008, NC >= 1024 (smaller was worse), C prefetch into L2 instead
 *   of L1, prefetching the next B sliver 4 / 8 / 16 k-steps ahead, k unrolled by 4. C rows 4 KiB
 *   apart cost ~5 % at n = 1024 (ldc = n + 16 ran ~5 % faster, for oneDNN too); the ir-outer order
 *   (consecutive tiles share C's rows) gained 3-6 % at every n.
 *   Tiny batched 10x5 @ 5x8 (the driver's mb_gemm_tiny, unchanged; A/B old -> new 297 -> 286 ns at
 *   batch 32, 2.67 -> 2.61 us at 256, noise): ~10x OpenBLAS, 2-3x LIBXSMM.
 *   Batched 64^3 (the wide path), same command with --benchmark_filter='^bgemm/(avx512|avx2|blas|
 *   libxsmm|onednn)/B:(32|64|256)/M:64/N:64/K:64/bcast:0/threads:1$':
 *     batch   us      x OpenBLAS  x LIBXSMM 1.17  x oneDNN   (previous verdict: x OpenBLAS, x LIBXSMM)
 *     32      99.1    1.82        0.95            1.11       1.82, 0.92
 *     64      219     1.90        0.96            1.12       1.76, 0.87
 *     256     921     2.02        0.99            1.15       1.70, 0.91
 *   (LIBXSMM 1.91x / 1.98x / 2.03x OpenBLAS in that run.) Interleaved A/B against the previous code
 *   (14x32 direct tiles), 3 alternations: 157.9 -> 167.8, 142.5 -> 159.3, 122.8 -> 146.6 GFLOP/s.
 *   Target 2.2x OpenBLAS MISSED (met nowhere; LIBXSMM does not reach it either in these runs). What
 *   moved it: the 6x64 shape (+1 / +5 / +10 % at 32 / 64 / 256), the asm k loop (+0 / +4 / +3 %), no
 *   next-item prefetch while the batch fits L2 (+3-6 % at 32). What limits it: even hot in L1 (batch 1)
 *   an item runs at ~180 GFLOP/s = 0.82 of peak (per tile: 24 accumulators zeroed and stored, C
 *   prefetched, 64 k steps); batch 64 / 256 stream 64 KiB per item (A, B, C's RFO and write-back) from
 *   L3 at ~20 GB/s. Tried without gain: k unrolled 4 / 8 / 16 with constant offsets (gcc then shuffled
 *   registers), the next tile's A rows into L1, the next item's B into L1 instead of L2, the next
 *   item's C into L2 (-3-4 %), prefetching at every batch size (-12 % at batch 8); third round: streaming
 *   (non-temporal) stores of C when the batch outgrows L2 (no read for ownership): 3-9 % slower at B = 64 / 128
 *   / 256, the batch lives in this VM's 480 MiB L3 and streaming stores send C to DRAM.
 *   Third round (why the k loop stops at ~0.9): fully unrolled asm loops on L1-resident panels, 1 thread,
 *   core 0, 3 interleaved rounds, FMA peak loop 212-218 GFLOP/s in the same rounds: 14x32 with its 14
 *   broadcasts 183-186 (0.86); the same loop with the broadcasts replaced by register moves 214-218 (1.00),
 *   so the loads, not the FMAs, cap the mix; 9x48 (27 accumulators) 189-198 (0.89-0.91), 6x64 177-190,
 *   8x48 184, embedded {1to16} broadcasts 14x32 171-173, 28x16 172-178. The 9x48 shape in this file
 *   (KC 160 by the driver's L1 rule, A packed by the generic path) then ran 5-10 % slower than 14x32 at
 *   n = 512..2048 and level at 256 (interleaved A/B, 3 alternations): not kept. C rows padded to break the
 *   4 KiB aliasing (ldc = n + 16, standalone) at n = 1024: +1 %, noise. dnnl_sgemm is oneDNN's faster f32
 *   path here (peers/gemm_dnnl.c), so the oneDNN column is its best.
 *   2 threads (previous round, not re-measured: the second core is another engineer's now): n = 1024
 *   1.93x, n = 2048 1.95x the 1-thread time (target >= 1.8x met); oneDNN on 2 threads is 5-8 % faster.
 *   The split has no barriers or shared writes; the ceiling is the measured 2-core FMA peak ratio
 *   (448 / 220 = 2.0x).
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

/* R rows x NV vectors; DIRECT: unpacked A (a_rs, a_cs) and B (b_rs, masked last vector). Packed A with
 * bcopy set (the driver's .packed_copy_b; NV == 2, a full sliver): B read in place (row stride b_rs) and
 * each row copied into the packed sliver bcopy as it goes. R, NV and DIRECT are
 * constants at every call; the unroll pragmas make gcc -O2 unroll the row / vector loops fully, without
 * which acc[][] stays on the stack (gcc -O2 does not unroll them by itself). */
static inline __attribute__((always_inline)) void body(const int R, const int NV, const int DIRECT, int64_t k,
                                                       const float *a, int64_t a_rs, int64_t a_cs, const float *b,
                                                       int64_t b_rs, float *c, int64_t c_rs, int64_t c_cs, int mr,
                                                       int nr, const float *alpha_p, const float *beta_p,
                                                       const float *bias, float *bcopy)
{
    __m512 acc[MR][4]; /* NV <= 2, or 4 with R <= 6 (the wide path) */
    if (DIRECT) {      /* R == mr at every call; k >= 1 always (K == 0 never reaches a micro-kernel) */
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
            __m512 bv[4];
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
        mb_gemm_prefetch_c(c, c_rs, c_cs, R, mr, nr, 1);
        const int64_t pfd = MB_GEMM_COPY_B_PF * b_rs;
#pragma GCC unroll 2
        for (int64_t p = 0; p < k; p++, a += MR, b += b_rs) {
            __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
            if (bcopy) {
                _mm512_storeu_ps(bcopy + p * NR, b0);
                _mm512_storeu_ps(bcopy + p * NR + 16, b1);
                _mm_prefetch((const char *)(b + pfd), _MM_HINT_T0);
                _mm_prefetch((const char *)(b + pfd + 16), _MM_HINT_T0);
            }
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
        float t[MR * 64];
#pragma GCC unroll 16
        for (int i = 0; i < R; i++)
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) _mm512_storeu_ps(t + i * 64 + 16 * v, acc[i][v]);
        mb_gemm_store_tile(t, 64, c, c_rs, c_cs, mr, nr, alpha, beta, bias);
    }
}

#define DIRECT_CASE(R)                                                                                                 \
    case R:                                                                                                            \
        if (nr > 16)                                                                                                   \
            body(R, 2, 1, k, a, a_rs, a_cs, b, b_rs, c, c_rs, c_cs, mr, nr, alpha, beta, bias, NULL);                  \
        else                                                                                                           \
            body(R, 1, 1, k, a, a_rs, a_cs, b, b_rs, c, c_rs, c_cs, mr, nr, alpha, beta, bias, NULL);                  \
        break;

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
             (int)p->N, &p->alpha, &p->beta, bias, NULL); /* M == R here */
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

/* Wide path: items with 32 < N <= 64 read in place, tiles of WR rows x the whole row of C (3-4 zmm,
 * 24 accumulators): A's rows are read once, B (K x N, in L1) once per row tile. pf: prefetch the next
 * item's A and B under the current one's tiles (the driver's pf_next). */
#define WR 6
static inline __attribute__((always_inline)) void wide_tile(const int R, const int NV, const struct mb_gemm *p,
                                                            const float *a, const float *b, float *c, const float *bias)
{
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            _mm_prefetch((const char *)(c + i * p->c_rs + (16 * v < p->N ? 16 * v : 0) * p->c_cs), _MM_HINT_T0);
    body(R, NV, 1, p->K, a, p->a_rs, p->a_cs, b, p->b_rs, c, p->c_rs, p->c_cs, R, (int)p->N, &p->alpha, &p->beta, bias,
         NULL);
}

/* The full 6 x 64 tile (A unit column stride, k >= 1) in asm: zmm0-23 accumulate, zmm24-27 the row of B
 * (the last one masked by bm), zmm28 / 29 the broadcasts of A (alternating). Accumulators then go to
 * d (row stride dr bytes, last vector masked by sm): C itself when C = A @ B with unit column stride,
 * else a 6 x 64 scratch tile for the C epilogue. */
static inline __attribute__((always_inline)) void wide6x64_asm(int64_t k, const float *a, int64_t a_rs, const float *b,
                                                               int64_t b_rs, __mmask16 bm, float *d, int64_t dr,
                                                               __mmask16 sm)
{
    const int64_t r = a_rs * 4, r3 = 3 * r, br = b_rs * 4, dr3 = 3 * dr;
    const float *a5 = a + 5 * a_rs;
    float *d5 = (float *)((char *)d + 5 * dr);
    __asm__ volatile(
        "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"
        "vmovaps %%zmm0, %%zmm1\n\t vmovaps %%zmm0, %%zmm2\n\t vmovaps %%zmm0, %%zmm3\n\t"
        "vmovaps %%zmm0, %%zmm4\n\t vmovaps %%zmm0, %%zmm5\n\t vmovaps %%zmm0, %%zmm6\n\t vmovaps %%zmm0, %%zmm7\n\t"
        "vmovaps %%zmm0, %%zmm8\n\t vmovaps %%zmm0, %%zmm9\n\t vmovaps %%zmm0, %%zmm10\n\t vmovaps %%zmm0, %%zmm11\n\t"
        "vmovaps %%zmm0, %%zmm12\n\t vmovaps %%zmm0, %%zmm13\n\t vmovaps %%zmm0, %%zmm14\n\t vmovaps %%zmm0, "
        "%%zmm15\n\t"
        "vmovaps %%zmm0, %%zmm16\n\t vmovaps %%zmm0, %%zmm17\n\t vmovaps %%zmm0, %%zmm18\n\t vmovaps %%zmm0, "
        "%%zmm19\n\t"
        "vmovaps %%zmm0, %%zmm20\n\t vmovaps %%zmm0, %%zmm21\n\t vmovaps %%zmm0, %%zmm22\n\t vmovaps %%zmm0, "
        "%%zmm23\n\t"
        ".p2align 5\n"
        "1:\n\t"
        "vmovups (%[b]), %%zmm24\n\t"
        "vmovups 64(%[b]), %%zmm25\n\t"
        "vmovups 128(%[b]), %%zmm26\n\t"
        "vmovups 192(%[b]), %%zmm27%{%[bm]%}%{z%}\n\t"
        "vbroadcastss (%[a]), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm0\n\t vfmadd231ps %%zmm25, %%zmm28, %%zmm1\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm2\n\t vfmadd231ps %%zmm27, %%zmm28, %%zmm3\n\t"
        "vbroadcastss (%[a],%[r],1), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm4\n\t vfmadd231ps %%zmm25, %%zmm29, %%zmm5\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm6\n\t vfmadd231ps %%zmm27, %%zmm29, %%zmm7\n\t"
        "vbroadcastss (%[a],%[r],2), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm8\n\t vfmadd231ps %%zmm25, %%zmm28, %%zmm9\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm10\n\t vfmadd231ps %%zmm27, %%zmm28, %%zmm11\n\t"
        "vbroadcastss (%[a],%[r3],1), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm12\n\t vfmadd231ps %%zmm25, %%zmm29, %%zmm13\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm14\n\t vfmadd231ps %%zmm27, %%zmm29, %%zmm15\n\t"
        "vbroadcastss (%[a],%[r],4), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm16\n\t vfmadd231ps %%zmm25, %%zmm28, %%zmm17\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm18\n\t vfmadd231ps %%zmm27, %%zmm28, %%zmm19\n\t"
        "vbroadcastss (%[a5]), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm20\n\t vfmadd231ps %%zmm25, %%zmm29, %%zmm21\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm22\n\t vfmadd231ps %%zmm27, %%zmm29, %%zmm23\n\t"
        "add $4, %[a]\n\t add $4, %[a5]\n\t add %[br], %[b]\n\t"
        "dec %[k]\n\t jnz 1b\n\t"
        "vmovups %%zmm0, (%[d])\n\t vmovups %%zmm1, 64(%[d])\n\t vmovups %%zmm2, 128(%[d])\n\t"
        "vmovups %%zmm3, 192(%[d])%{%[sm]%}\n\t"
        "vmovups %%zmm4, (%[d],%[dr],1)\n\t vmovups %%zmm5, 64(%[d],%[dr],1)\n\t vmovups %%zmm6, 128(%[d],%[dr],1)\n\t"
        "vmovups %%zmm7, 192(%[d],%[dr],1)%{%[sm]%}\n\t"
        "vmovups %%zmm8, (%[d],%[dr],2)\n\t vmovups %%zmm9, 64(%[d],%[dr],2)\n\t vmovups %%zmm10, 128(%[d],%[dr],2)\n\t"
        "vmovups %%zmm11, 192(%[d],%[dr],2)%{%[sm]%}\n\t"
        "vmovups %%zmm12, (%[d],%[dr3],1)\n\t vmovups %%zmm13, 64(%[d],%[dr3],1)\n\t vmovups %%zmm14, "
        "128(%[d],%[dr3],1)\n\t"
        "vmovups %%zmm15, 192(%[d],%[dr3],1)%{%[sm]%}\n\t"
        "vmovups %%zmm16, (%[d],%[dr],4)\n\t vmovups %%zmm17, 64(%[d],%[dr],4)\n\t vmovups %%zmm18, "
        "128(%[d],%[dr],4)\n\t"
        "vmovups %%zmm19, 192(%[d],%[dr],4)%{%[sm]%}\n\t"
        "vmovups %%zmm20, (%[d5])\n\t vmovups %%zmm21, 64(%[d5])\n\t vmovups %%zmm22, 128(%[d5])\n\t"
        "vmovups %%zmm23, 192(%[d5])%{%[sm]%}\n\t"
        : [a] "+r"(a), [a5] "+r"(a5), [b] "+r"(b), [k] "+r"(k)
        : [r] "r"(r), [r3] "r"(r3), [br] "r"(br), [bm] "Yk"(bm), [d] "r"(d), [d5] "r"(d5), [dr] "r"(dr), [dr3] "r"(dr3),
          [sm] "Yk"(sm)
        : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",
          "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29");
}

static inline __attribute__((always_inline)) void wide6x64(const struct mb_gemm *p, const float *a, const float *b,
                                                           float *c, const float *bias)
{
    const int N = (int)p->N;
    const __mmask16 bm = tail_mask(N - 48);
#pragma GCC unroll 8
    for (int i = 0; i < WR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++)
            _mm_prefetch((const char *)(c + i * p->c_rs + (16 * v < N ? 16 * v : 0) * p->c_cs), _MM_HINT_T0);
    const float alpha = p->alpha, beta = p->beta;
    if (p->c_cs == 1 && alpha == 1.0f && beta == 0.0f && !bias) {
        wide6x64_asm(p->K, a, p->a_rs, b, p->b_rs, bm, c, p->c_rs * 4, bm);
        return;
    }
    float t[WR * 64] __attribute__((aligned(64)));
    wide6x64_asm(p->K, a, p->a_rs, b, p->b_rs, bm, t, 256, (__mmask16)0xffff);
    if (p->c_cs != 1) {
        mb_gemm_store_tile(t, 64, c, p->c_rs, p->c_cs, WR, N, alpha, beta, bias);
        return;
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 8
    for (int i = 0; i < WR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) {
            __mmask16 m = v == 3 ? bm : (__mmask16)0xffff;
            float *cp = c + i * p->c_rs + 16 * v;
            __m512 r = _mm512_mul_ps(va, _mm512_load_ps(t + i * 64 + 16 * v));
            if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, cp), r);
            if (bias) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, bias + 16 * v));
            _mm512_mask_storeu_ps(cp, m, r);
        }
}

static inline __attribute__((always_inline)) void wide_loop(const int NV, const struct mb_gemm *p, int64_t b0,
                                                            int64_t b1, const float *bias, int pf)
{
    const int64_t M = p->M, K = p->K, N = p->N, tiles = mb_gemm_cdiv(M, WR);
    const int64_t ra = mb_gemm_cdiv(M, tiles), rk = mb_gemm_cdiv(K, tiles); /* next A rows, B rows per tile */
    const int tail = (int)(M % WR);
    struct mb_gemm_iter it, nx;
    mb_gemm_iter_init(&it, p, b0);
    for (int64_t bi = b0; bi < b1; bi++, mb_gemm_iter_next(&it, p)) {
        const float *A = p->A + it.oa, *B = p->B + it.ob;
        float *C = p->C + it.oc;
        const float *nA = NULL, *nB = NULL;
        if (pf && bi + 1 < b1) {
            nx = it;
            mb_gemm_iter_next(&nx, p);
            nA = p->A + nx.oa, nB = p->B + nx.ob;
        }
        int64_t pr = 0, pk = 0;
        for (int64_t i = 0; i < M; i += WR) {
            const float *a = A + i * p->a_rs;
            float *c = C + i * p->c_rs;
            if (M - i >= WR) {
                if (NV == 4 && p->a_cs == 1)
                    wide6x64(p, a, B, c, bias);
                else
                    wide_tile(WR, NV, p, a, B, c, bias);
            } else
                switch (tail) {
                case 1: wide_tile(1, NV, p, a, B, c, bias); break;
                case 2: wide_tile(2, NV, p, a, B, c, bias); break;
                case 3: wide_tile(3, NV, p, a, B, c, bias); break;
                case 4: wide_tile(4, NV, p, a, B, c, bias); break;
                default: wide_tile(5, NV, p, a, B, c, bias); break;
                }
            if (!nB) continue;
            for (int64_t e = pr + ra < M ? pr + ra : M; pr < e; pr++)
                if (p->a_cs == 1)
                    for (int64_t q = 0; q < K; q += 16)
                        _mm_prefetch((const char *)(nA + pr * p->a_rs + q), _MM_HINT_T1);
            for (int64_t e = pk + rk < K ? pk + rk : K; pk < e; pk++)
                for (int64_t q = 0; q < N; q += 16) _mm_prefetch((const char *)(nB + pk * p->b_rs + q), _MM_HINT_T1);
        }
    }
}

static void ukr_wide(const struct mb_gemm *p, int64_t b0, int64_t b1, const float *bias, int pf)
{
    if (p->N > 48)
        wide_loop(4, p, b0, b1, bias, pf);
    else
        wide_loop(3, p, b0, b1, bias, pf);
}

enum mb_status mb_gemm_avx512(const struct mb_gemm *p, const struct mb_exec *x)
{
    static const struct mb_gemm_ukr u = {MR, NR, ukr_packed, ukr_direct, ukr_batch, MR, 1, 0, ukr_wide, 64, 1, 512, ukr_packed_copy_b};
    return mb_gemm_drive(p, x, &u);
}
