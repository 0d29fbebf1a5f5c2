/*
 * binary_avx512.c: z = x op y (add, sub, mul, div; IEEE, no fast-math) with AVX-512, full mb_binary
 * contract (any strides, stride-0 broadcast on any operand and dim). Body shared with AVX2: binary_simd.h.
 * Fast path: contiguous output rows with contiguous or broadcast inputs ((32,10)+(10,), (32,20,10)+(20,1),
 * 64 MiB operands); other rows take the scalar strided loop inside the same walk. Threaded (x->nthreads).
 * Measured verdict (this 2-core Xeon VM, other jobs running, best of 12 interleaved; throwaway driver):
 * (4096,4096) + (4096,) add, 64 MiB in + 64 MiB out: 18.7 GB/s 1 thread, 17.4 GB/s 2 threads, vs our own
 * STREAM-counted triad (a = b + s*c, 3 x 64 MiB, -O3 -mavx2) of 14.6 / 12.6 GB/s: 1.2-1.35x the triad figure
 * (>= the 0.9x target). Part of that is the counting: the triad's stores pay a read-for-ownership that
 * STREAM does not count, which streaming stores avoid. Same kernel with plain stores: 13.6 / 10.3 GB/s,
 * so non-temporal stores are worth 1.37x here, and are used only from 8 MiB of output up (below that the
 * output would still be in cache for its consumer).
 */
#include "mb.h"
#define MB_VEC_AVX512
#include "simd/vexp.h"
#include "simd/binary_simd.h"

enum mb_status mb_binary_avx512(const struct mb_binary *p, const struct mb_exec *x) { return nn_binary_simd(p, x); }
