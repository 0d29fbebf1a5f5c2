/* vexp_avx2.c: the AVX2 instance of vf_exp for test_nn_kernels (see vexp_isa.h). */
#include "vexp_isa.h"
#define MB_VEC_AVX2
#include "simd/vexp.h"

void mb_test_vexp_avx2(const float *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i += VW) vf_store(out + i, vf_exp(vf_load(in + i)));
}

const double mb_vexp_max_rel = MB_VEXP_MAX_REL, mb_vexp_max_abs_sub = MB_VEXP_MAX_ABS_SUB;
