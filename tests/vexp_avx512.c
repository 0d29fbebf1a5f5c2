/* vexp_avx512.c: the AVX512 instance of vf_exp for test_nn_kernels (see vexp_isa.h). */
#include "vexp_isa.h"
#define MB_VEC_AVX512
#include "simd/vexp.h"

void mb_test_vexp_avx512(const float *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i += VW) vf_store(out + i, vf_exp(vf_load(in + i)));
}
