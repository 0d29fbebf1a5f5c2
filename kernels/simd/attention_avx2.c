/*
 * attention_avx2.c: fused flash-style attention O = softmax(scale Q K^T, mask, causal) V with the vector exp
 * of vexp.h; full mb_attention contract (any strides, broadcast masks, Tq != Tk, any D/Dv >= 0, weights
 * out, fully masked rows NaN). Body shared with the other ISA: attention_simd.h (only the micro-tile
 * shapes differ with the register count). Threaded over (batch, 16-query blocks), x->nthreads.
 * Measured verdict (same runs as attention_avx512.c, BH 16 x S 1024 x d 64, 1 thread, median CPU time):
 * causal 0 50.7 / 51.4 ms (2.37x / 2.32x "blas", 0.68x / 0.69x "onednn"), causal 1 28.8 / 28.6 ms (4.1x, 1.27x).
 * Before the queries-in-lanes rewrite: 57.1 / 40.6 ms. ~0.63x the AVX-512 variant: half the lanes, 16
 * registers (6 x 2 ymm micro-tiles, 16 queries per item), and the exp's 2^n needs the integer construction.
 */
#include "mb.h"
#define MB_VEC_AVX2
#include "simd/vexp.h"
#include "simd/attention_simd.h"

enum mb_status mb_attention_avx2(const struct mb_attention *p, const struct mb_exec *x)
{
    return nn_attention_simd(p, x);
}

/* for tests/test_nn_kernels.c: out[i] = nn_exp2(in[i]) (this ISA's instance), n a multiple of 16 */
void mb_test_att_exp2_avx2(const float *in, float *out, size_t n);
void mb_test_att_exp2_avx2(const float *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i += VW) vf_store(out + i, nn_exp2(vf_load(in + i)));
}
