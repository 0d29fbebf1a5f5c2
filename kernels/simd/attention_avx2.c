/*
 * attention_avx2.c: fused flash-style attention O = softmax(scale Q K^T, mask, causal) V with the vector exp
 * of vexp.h; full mb_attention contract (any strides, broadcast masks, Tq != Tk, any D/Dv >= 0, weights
 * out, fully masked rows NaN). Body shared with the other ISA: attention_simd.h (only the micro-tile
 * shapes differ with the register count). Threaded over (batch, 96-row query blocks), x->nthreads.
 * Measured verdict: VERDICT_AVX2
 */
#include "mb.h"
#define MB_VEC_AVX2
#include "simd/vexp.h"
#include "simd/attention_simd.h"

enum mb_status mb_attention_avx2(const struct mb_attention *p, const struct mb_exec *x)
{
    return nn_attention_simd(p, x);
}
