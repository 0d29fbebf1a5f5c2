/* store_part.h: the first n (0 <= n < 8) floats of a ymm to memory without vmaskmovps. AMD Zen 1-3
 * microcode the masked store (uops.info: ~40 uops, one per ~12 cycles); these plain 16/8/4-byte stores
 * cost 1-3 instructions on every x86. n is the same for every row of a call, so the branches predict.
 * Zen 3 (AVX2 variants, medians of 3, interleaved runs): 16 / 256 x (20x10 @ 10x5) with broadcast weights
 * (mb_gemm_tiny, a 5-wide store per 10 FMAs) 17.5 -> 30 GFLOP/s (1.0-1.4x -> 1.75-2.4x LIBXSMM); add
 * (32,20,10) + (20,1) 9.2 -> 6.7 us; bmm 32 x (10x20 @ 20x64) 15.5 -> 14.1 us; softmax 32 x 10 -8 %. */
#pragma once
#include <immintrin.h>

static inline __attribute__((always_inline)) void mb_store_part(float *p, __m256 v, int n)
{
    __m128 x = _mm256_castps256_ps128(v);
    if (n >= 4) {
        _mm_storeu_ps(p, x);
        x = _mm256_extractf128_ps(v, 1);
        p += 4, n -= 4;
    }
    if (n >= 2) {
        _mm_storel_pi((__m64 *)p, x);
        x = _mm_movehl_ps(x, x);
        p += 2, n -= 2;
    }
    if (n) _mm_store_ss(p, x);
}
