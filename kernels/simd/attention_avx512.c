/*
 * attention_avx512.c: fused flash-style attention O = softmax(scale Q K^T, mask, causal) V with the vector exp
 * of vexp.h; full mb_attention contract (any strides, broadcast masks, Tq != Tk, any D/Dv >= 0, weights
 * out, fully masked rows NaN). Body shared with the other ISA: attention_simd.h (only the micro-tile
 * shapes differ with the register count). Threaded over (batch, 64-query blocks), x->nthreads.
 * Measured verdict: matbench, BH 16 x S 1024 x d 64 (the harness has no BH 32 row; per-head work is the
 * same), 1 thread, median of 3 repetitions, CPU time, peers in the same run, two runs on this 2-core VM
 * while another engineer benchmarked GEMM (real ~= CPU time in both runs; spread between runs ~2 %):
 *   causal 0: 31.8 / 32.5 ms = 135 GFLOP/s (~0.69 of the 196 GFLOP/s measured FMA peak);
 *             1.09x / 1.10x "onednn" (target 1.1x: at the edge), 3.77x / 3.67x "blas" (target 4.5x: missed)
 *   causal 1: 21.4 / 22.0 ms; 1.70x / 1.66x "onednn", 5.6x / 5.4x "blas" (both targets met)
 * (before the queries-in-lanes rewrite, same harness: 40.4 / 28.9 ms, 0.93x / 1.28x onednn, 2.9x / 4.0x blas)
 * 2 threads not re-measured. Where the rest goes (ablations in a standalone driver, BH 4, best of 15): the
 * PV product runs at ~0.91 of peak, the QK product plus the softmax bookkeeping at ~0.77, and the exp pass
 * (~16 uops per 16 scores against 128 FMAs) costs ~9 %: 4.5x "blas" needs ~0.82 of peak overall, which
 * leaves ~0.14 for exp, masking, packing Q and the tile epilogues together: not reached.
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
