/*
 * nn_expf.h: the portable exp of the tiled SOFTMAX and ATTENTION kernels (no intrinsics).
 */
#pragma once
#include <stdint.h>
#include <string.h>

static inline float nn_bits_f(int32_t i)
{
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}

/* exp in portable C, inlined so that the loops calling it vectorize (SSE2 at the x86-64 baseline; the files
 * that include it are compiled with -fno-trapping-math so that gcc if-converts the clamp, see Makefile): Cephes expf, the algorithm of
 * kernels/simd/vexp.h without FMAs. Clamp [-176, 89] (NaN passes: both compares are false; n is then taken as 0), n = round(x
 * log2 e) by the 1.5 * 2^23 trick, r = x - n ln2 in two parts, degree-5 polynomial, 2^n as two factors
 * (normal for n >= -150, both +0 at n = -254, so -inf gives 0 without an underflow). */
static inline float nn_expf(float x)
{
    x = x < -176.0f ? -176.0f : x > 89.0f ? 89.0f : x;
    const float n = (x * 1.44269504088896341f + 0x1.8p23f) - 0x1.8p23f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float q = 1.9875691500e-4f;
    q = q * r + 1.3981999507e-3f;
    q = q * r + 8.3334519073e-3f;
    q = q * r + 4.1665795894e-2f;
    q = q * r + 1.6666665459e-1f;
    q = q * r + 5.0000001201e-1f;
    const float y = (q * (r * r) + r) + 1.0f;
    const int32_t ni = (int32_t)(n == n ? n : 0.0f), n1 = ni >> 1; /* NaN: y is NaN; no NaN-to-int cast */
    return y * nn_bits_f((n1 + 127) * (1 << 23)) * nn_bits_f((ni - n1 + 127) * (1 << 23));
}
