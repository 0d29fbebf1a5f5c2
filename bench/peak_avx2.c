/*
 * peak_avx2.c: AVX2+FMA throughput microkernel for the measured peak (peak.c).
 * 12 independent vfmadd231ps chains: FMA latency 4-5 cycles x 2 ports needs >= 10 in flight.
 * The empty asm pins each accumulator in its own register every round, so the compiler can neither
 * merge nor drop the chains; the sum feeds a volatile sink.
 */
#include "bench.h"

#include <immintrin.h>

static volatile float sink;

double mb_peak_fma_avx2(long long reps)
{
    const __m256 x = _mm256_set1_ps(0.5f), y = _mm256_set1_ps(0.5f); /* acc -> 1: no overflow, no denormals */
    __m256 a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x;
    for (long long r = 0; r < reps; r++) {
        a0 = _mm256_fmadd_ps(a0, x, y), a1 = _mm256_fmadd_ps(a1, x, y), a2 = _mm256_fmadd_ps(a2, x, y);
        a3 = _mm256_fmadd_ps(a3, x, y), a4 = _mm256_fmadd_ps(a4, x, y), a5 = _mm256_fmadd_ps(a5, x, y);
        a6 = _mm256_fmadd_ps(a6, x, y), a7 = _mm256_fmadd_ps(a7, x, y), a8 = _mm256_fmadd_ps(a8, x, y);
        a9 = _mm256_fmadd_ps(a9, x, y), a10 = _mm256_fmadd_ps(a10, x, y), a11 = _mm256_fmadd_ps(a11, x, y);
        __asm__ volatile(""
                         : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7), "+x"(a8),
                           "+x"(a9), "+x"(a10), "+x"(a11));
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    sink = _mm256_cvtss_f32(s);
    return (double)reps * 12 * 8 * 2;
}
