/*
 * vexp.h: the one vectorized exp of matbench, and the handful of vector operations the SIMD softmax,
 * attention and binary kernels are written in. Include it after defining exactly one of
 *
 *     MB_VEC_AVX2    vf = __m256 (8 lanes), masks are vector masks        (compile with -mavx2 -mfma)
 *     MB_VEC_AVX512  vf = __m512 (16 lanes), masks are __mmask16           (-mavx512f ... -mfma)
 *
 * The kernel bodies (binary_simd.h, softmax_simd.h, attention_simd.h) are written once against these
 * names; the per-ISA code is exactly as wide as the intrinsics need and no wider. Everything here is
 * static inline: each *_avx2.c / *_avx512.c translation unit gets its own copy, compiled with its flags.
 *
 * vf_exp(x): Cephes expf, vectorized.
 *   x is clamped to [-176, 89] (NaN passes through: min/max keep their SECOND operand when either is NaN),
 *   n = round(x log2 e), r = x - n ln2 (ln2 split in a 9-bit-exact high part and a low part, so n*ln2_hi
 *   is exact), exp(r) = 1 + r + r^2 P(r) with Cephes' degree-5 minimax P on |r| <= ln2/2, then the result
 *   is scaled by 2^n as two factors 2^(n>>1) * 2^(n - (n>>1)), each a normal float, so the result rounds
 *   correctly into the subnormal range and overflows to +inf only when the true value does.
 *   Special values: -inf -> +0 exactly, x < -103.98 -> 0, x > 88.7228 -> +inf, NaN -> NaN.
 *   Why -176 and not -104 (the lowest x whose exp is not 0): there n = -254 and both factors of 2^n are +0,
 *   so x <= -176 and -inf (softmax's masked and tail lanes) give 0 by multiplying by zero; clamped at -104 they
 *   gave n = -150 and a product that underflows, which Zen 3 runs through a microcode assist: a row
 *   softmax of 32 x 10 (6 -inf tail lanes per row) took 1.8 us, 0.9x the scalar libm variant; -176: 1.13 us
 *   (AVX2, interleaved runs; 4096 x 10: 234 -> 148 us; no change where no lane is below -104). Inputs in
 *   (-176, -87.3) still underflow (the subnormal results are kept exact), so rows whose scores spread over
 *   more than 87 below their max pay the assist on those vectors.
 *   Measured max error (tests/test_nn_kernels.c, dense sweep of [-180, 89] against exp() in double):
 *   max relative error 1.39 * 2^-24 measured, 2^-23 documented, where exp(x) >= FLT_MIN; on subnormal
 *   results <= 1 subnormal ulp (2^-149) absolute beyond the rounding of the result itself (measured 0.25).
 *   MB_VEXP_MAX_REL / MB_VEXP_MAX_ABS_SUB below are the documented bounds the test asserts.
 *   The final y * 2^n (vf_ldexp) is one vscalefps on AVX-512 and the two-factor integer construction on
 *   AVX2: both round y * 2^n exactly once, so the two instances give bit-identical results (checked over all
 *   2^32 inputs against the former AVX-512 form, NaN payloads aside; it saves 8 of ~24 uops per vector).
 *   Cost: 2 FMA-chain roundings + 6 FMAs + ~6 (AVX-512) / ~14 (AVX2) other ops per vector, no table.
 */
#pragma once
#include <immintrin.h>
#include <stdint.h>

#define MB_VEXP_MAX_REL 0x1p-23      /* documented max relative error, normal results (measured 1.39 * 2^-24) */
#define MB_VEXP_MAX_ABS_SUB 0x1p-149 /* documented max extra absolute error for subnormal results */

#if defined(MB_VEC_AVX512)
typedef __m512 vf;
typedef __m512i vi;
typedef __mmask16 vm;
#define VW 16
static inline vf vf_set1(float a) { return _mm512_set1_ps(a); }
static inline vf vf_zero(void) { return _mm512_setzero_ps(); }
static inline vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
static inline void vf_stream(float *p, vf v) { _mm512_stream_ps(p, v); } /* p 64-byte aligned */
static inline vm vm_first(int64_t n) { return (vm)((1u << n) - 1u); }  /* lanes [0, n), 0 <= n < VW */
static inline vf vf_load_n(const float *p, int64_t n) { return _mm512_maskz_loadu_ps(vm_first(n), p); }
static inline void vf_store_n(float *p, vf v, int64_t n) { _mm512_mask_storeu_ps(p, vm_first(n), v); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }   /* a*b + c */
static inline vf vf_fnma(vf a, vf b, vf c) { return _mm512_fnmadd_ps(a, b, c); } /* c - a*b */
static inline vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf vf_round(vf a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
static inline float vf_hmax(vf a) { return _mm512_reduce_max_ps(a); }
static inline float vf_hsum(vf a) { return _mm512_reduce_add_ps(a); }
static inline vm vf_cmpeq(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
static inline vf vf_sel(vm m, vf a, vf b) { return _mm512_mask_blend_ps(m, b, a); } /* m ? a : b */
static inline vi vi_set1(int32_t a) { return _mm512_set1_epi32(a); }
static inline vi vi_iota(void) { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
static inline vi vi_add(vi a, vi b) { return _mm512_add_epi32(a, b); }
static inline vi vi_sub(vi a, vi b) { return _mm512_sub_epi32(a, b); }
static inline vm vi_cmpgt(vi a, vi b) { return _mm512_cmpgt_epi32_mask(a, b); }
static inline vi vi_srai1(vi a) { return _mm512_srai_epi32(a, 1); }
static inline vf vi_pow2(vi n) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n, vi_set1(127)), 23)); }
static inline vi vf_cvt(vf a) { return _mm512_cvtps_epi32(a); }
/* y * 2^n, n integral in [-254, 129], rounded once (into subnormals, or to +inf) */
static inline vf vf_ldexp(vf y, vf n) { return _mm512_scalef_ps(y, n); }
#elif defined(MB_VEC_AVX2)
#include "simd/store_part.h"
typedef __m256 vf;
typedef __m256i vi;
typedef __m256 vm;
#define VW 8
static inline vf vf_set1(float a) { return _mm256_set1_ps(a); }
static inline vf vf_zero(void) { return _mm256_setzero_ps(); }
static inline vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
static inline void vf_stream(float *p, vf v) { _mm256_stream_ps(p, v); } /* p 32-byte aligned */
static inline __m256i vm_first(int64_t n) /* lanes [0, n), 0 <= n < VW */
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline vf vf_load_n(const float *p, int64_t n) { return _mm256_maskload_ps(p, vm_first(n)); }
static inline void vf_store_n(float *p, vf v, int64_t n) { mb_store_part(p, v, (int)n); } /* store_part.h */
static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vf_fnma(vf a, vf b, vf c) { return _mm256_fnmadd_ps(a, b, c); }
static inline vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf vf_round(vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
static inline float vf_hmax(vf a)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}
static inline float vf_hsum(vf a)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline vm vf_cmpeq(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
static inline vf vf_sel(vm m, vf a, vf b) { return _mm256_blendv_ps(b, a, m); }
static inline vi vi_set1(int32_t a) { return _mm256_set1_epi32(a); }
static inline vi vi_iota(void) { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
static inline vi vi_add(vi a, vi b) { return _mm256_add_epi32(a, b); }
static inline vi vi_sub(vi a, vi b) { return _mm256_sub_epi32(a, b); }
static inline vm vi_cmpgt(vi a, vi b) { return _mm256_castsi256_ps(_mm256_cmpgt_epi32(a, b)); }
static inline vi vi_srai1(vi a) { return _mm256_srai_epi32(a, 1); }
static inline vf vi_pow2(vi n) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, vi_set1(127)), 23)); }
static inline vi vf_cvt(vf a) { return _mm256_cvtps_epi32(a); }
/* y * 2^n, n integral in [-254, 129], rounded once: as two factors 2^(n>>1) 2^(n - (n>>1)), normal for
 * n >= -150, the first product then exact (y in [0.7, 1.42]), so only the second rounds; at n = -254 (vf_exp's
 * clamp, -inf) both factors are +0 (exponent field 0), so the result is 0 without an underflowing multiply
 * (NaN n: garbage exponent, y is NaN then) */
static inline vf vf_ldexp(vf y, vf n)
{
    vi ni = vf_cvt(n), n1 = vi_srai1(ni);
    return vf_mul(vf_mul(y, vi_pow2(n1)), vi_pow2(vi_sub(ni, n1)));
}
#else
#error "define MB_VEC_AVX2 or MB_VEC_AVX512 before including vexp.h"
#endif

static inline vf vf_exp(vf x)
{
    x = vf_max(vf_set1(-176.0f), vf_min(vf_set1(89.0f), x)); /* x second: NaN stays NaN */
    vf n = vf_round(vf_mul(x, vf_set1(1.44269504088896341f)));
    vf r = vf_fnma(n, vf_set1(0.693359375f), x); /* exact: n has <= 8 bits, ln2_hi 9 bits */
    r = vf_fnma(n, vf_set1(-2.12194440e-4f), r);
    vf p = vf_set1(1.9875691500e-4f);
    p = vf_fma(p, r, vf_set1(1.3981999507e-3f));
    p = vf_fma(p, r, vf_set1(8.3334519073e-3f));
    p = vf_fma(p, r, vf_set1(4.1665795894e-2f));
    p = vf_fma(p, r, vf_set1(1.6666665459e-1f));
    p = vf_fma(p, r, vf_set1(5.0000001201e-1f));
    vf y = vf_add(vf_fma(p, vf_mul(r, r), r), vf_set1(1.0f)); /* Cephes order: (p r^2 + r) + 1 */
    return vf_ldexp(y, n); /* n in [-254, 129] after the clamp */
}
