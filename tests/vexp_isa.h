/* vexp_isa.h: each ISA instance of kernels/simd/vexp.h's vf_exp, compiled in its own translation unit with
 * its ISA flags (tests/vexp_avx2.c, tests/vexp_avx512.c), so test_nn_kernels checks every instance. */
#pragma once
#include <stddef.h>

/* out[i] = vf_exp(in[i]); n a multiple of 16 */
void mb_test_vexp_avx2(const float *in, float *out, size_t n);
void mb_test_vexp_avx512(const float *in, float *out, size_t n);
/* vexp.h's documented bounds (MB_VEXP_MAX_REL, MB_VEXP_MAX_ABS_SUB), which the test asserts */
extern const double mb_vexp_max_rel, mb_vexp_max_abs_sub;
