/*
 * attention_avx512.c: fused flash-style attention O = softmax(scale Q K^T, mask, causal) V, scores in base 2
 * with attention_simd.h's vector 2^x (nn_exp2, on vexp.h's vector operations); full mb_attention
 * contract (any strides, broadcast masks, Tq != Tk, any D/Dv >= 0, weights out, fully masked rows NaN).
 * Body shared with the other ISA: attention_simd.h (only the micro-tile shapes differ with the register
 * count). Threaded over (batch, 64-query blocks), x->nthreads.
 * Measured verdict (issue 4: causal 0 needs >= 4.5x "blas" and >= 1.1x "onednn"), BH 32 x S 1024 x d 64,
 * 1 thread, CPU time, peers in the same run, 9 runs of
 *   OPENBLAS_CORETYPE=Haswell taskset -c 1 build/attn/bin/matbench --benchmark_filter=
 *     '^attention/(avx512|blas|onednn)/BH:32/S:1024/D:64/causal:(0|1)/threads:1' --benchmark_min_time=0.3
 * on this 2-core VM while another engineer benchmarked GEMM on core 0 (all three variants drift by ~10 %
 * from run to run, not together):
 *   causal 0: 48.2 .. 54.3 ms, median 52.3 ms (165 GFLOP/s, 0.76 of the 217 GFLOP/s zmm FMA peak measured
 *             on core 1); 4.08 .. 4.62x "blas", median 4.37x: target 4.5x MISSED (met in 2 of 9 runs);
 *             1.21 .. 1.43x "onednn", median 1.30x: target 1.1x met
 *   causal 1: 27.6 .. 32.4 ms, median 30.2 ms; 7.1 .. 8.4x "blas" (median 7.5x), 2.2 .. 2.4x "onednn"
 *             (median 2.27x): both targets met
 * Before this round (same command, 3 runs, the previous binary): causal 0 57.3 .. 60.3 ms, 3.6 .. 4.0x
 * "blas", 1.09 .. 1.13x "onednn"; causal 1 39.1 .. 42.4 ms. What changed: scores in base 2 (Q packed
 * pre-multiplied by scale log2 e) and a cheaper exp (nn_exp2: vreduceps + 6 FMAs + vscalefps, 9 ops per 16
 * scores instead of 16), Q pack / O epilogue by register transposes, and prefetching of the next item's Q,
 * this item's O and the next head's K/V (at BH 32 they come from L3).
 * What limits it: per 48-key tile and 64 queries the two 512-bit ports get 24576 FMAs (both products),
 * 192 x 10 exp/sum ops and ~400 others: the FMAs are ~92 % of the vector-port work, the ceiling of this
 * design. A standalone driver measures 0.88 of FMA peak overall at BH 4 (L2-resident; QK and PV micro-kernels
 * alone 0.93) and ~0.80 at BH 32, where Q, K, V and O stream from L3 (the prefetches recovered about half of
 * that gap). 4.5x "blas" (~52 ms against blas's ~230 ms) needs ~0.76 of peak sustained: reached when the VM
 * runs at its usual speed, missed when it slows. Tried and dropped (no consistent win in interleaved A/B):
 * key tiles of 36/42/60/72/96, unroll 4 in the micro-kernels, interleaving the exp's 4 vectors step by step,
 * per-QK-call prefetch of the tile's V and the next tile's K; in the standalone driver only: fusing the exp
 * into the QK epilogue with a lazily updated max (FA-style threshold 2^8: ~2 %, within the noise; it saves
 * only the subtract and the St reload, the port work stays), non-temporal stores of O (noise).
 * 2 threads not re-measured.
 */
#include "mb.h"
#define MB_VEC_AVX512
#include "simd/vexp.h"
#include "simd/attention_simd.h"

enum mb_status mb_attention_avx512(const struct mb_attention *p, const struct mb_exec *x)
{
    return nn_attention_simd(p, x);
}

/* for tests/test_nn_kernels.c: out[i] = nn_exp2(in[i]) (this ISA's instance), n a multiple of 16 */
void mb_test_att_exp2_avx512(const float *in, float *out, size_t n);
void mb_test_att_exp2_avx512(const float *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i += VW) vf_store(out + i, nn_exp2(vf_load(in + i)));
}
