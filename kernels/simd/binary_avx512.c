/*
 * binary_avx512.c: z = x op y (add, sub, mul, div; IEEE, no fast-math) with AVX-512, full mb_binary
 * contract (any strides, stride-0 broadcast on any operand and dim). Body shared with AVX2: binary_simd.h.
 * Fast path: contiguous output rows with contiguous or broadcast inputs ((32,10)+(10,), (32,20,10)+(20,1),
 * 64 MiB operands); other rows take the scalar strided loop inside the same walk. Threaded (x->nthreads).
 * Measured verdict: (filled in below after measurement)
 */
#include "mb.h"
#define MB_VEC_AVX512
#include "simd/vexp.h"
#include "simd/binary_simd.h"

enum mb_status mb_binary_avx512(const struct mb_binary *p, const struct mb_exec *x) { return nn_binary_simd(p, x); }
