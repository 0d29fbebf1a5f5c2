/*
 * attention_avx2.c: fused flash-style attention O = softmax(scale Q K^T, mask, causal) V with the vector exp
 * of vexp.h; full mb_attention contract (any strides, broadcast masks, Tq != Tk, any D/Dv >= 0, weights
 * out, fully masked rows NaN). Body shared with the other ISA: attention_simd.h (only the micro-tile
 * shapes differ with the register count). Threaded over (batch, 192-row query blocks), x->nthreads.
 * Measured verdict (same run as attention_avx512.c): 1 thread 106 ms causal 0 (2.10x "blas", 0.69x "onednn"),
 * 84 ms causal 1 (2.89x, 0.92x): ~0.7x the AVX-512 variant, as expected from half the lanes.
 */
#include "mb.h"
#define MB_VEC_AVX2
#include "simd/vexp.h"
#include "simd/attention_simd.h"

enum mb_status mb_attention_avx2(const struct mb_attention *p, const struct mb_exec *x)
{
    return nn_attention_simd(p, x);
}
