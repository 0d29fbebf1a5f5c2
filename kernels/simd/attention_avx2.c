/*
 * attention_avx2.c: fused flash-style attention O = softmax(scale Q K^T, mask, causal) V, scores in base 2
 * with attention_simd.h's vector 2^x (nn_exp2, on vexp.h's vector operations); full mb_attention
 * contract (any strides, broadcast masks, Tq != Tk, any D/Dv >= 0, weights out, fully masked rows NaN).
 * Body shared with the other ISA: attention_simd.h (only the micro-tile shapes differ with the register
 * count). Threaded over (batch, 16-query blocks), x->nthreads.
 * Measured verdict (same runs as attention_avx512.c, BH 32 x S 1024 x d 64, 1 thread, CPU time, 2 runs):
 * causal 0 84.6 / 84.7 ms (2.63x / 2.58x "blas", 0.82x / 0.81x "onednn"), causal 1 46.6 / 48.5 ms
 * (4.64x / 4.59x "blas", 1.43x / 1.39x "onednn"). The base-2 scores and nn_exp2 (floor + 6 FMAs + the
 * two-factor 2^n) and the register-transpose Q pack / O epilogue gave
 * -12 % / -8 % (BH 4, interleaved A/B, 3 x 5 repetitions, median) over the previous body. ~0.6x the
 * AVX-512 variant: half the lanes, 16 registers (6 x 2 ymm micro-tiles, 16 queries per item).
 * The lazy-max fused softmax of the AVX-512 variant is compiled out here (not measured on AVX2; the two-pass
 * tile path above is unchanged).
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
