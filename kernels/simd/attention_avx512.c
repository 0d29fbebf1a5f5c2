/*
 * attention_avx512.c: fused flash-style attention O = softmax(scale Q K^T, mask, causal) V with the vector exp
 * of vexp.h; full mb_attention contract (any strides, broadcast masks, Tq != Tk, any D/Dv >= 0, weights
 * out, fully masked rows NaN). Body shared with the other ISA: attention_simd.h (only the micro-tile
 * shapes differ with the register count). Threaded over (batch, 192-row query blocks), x->nthreads.
 * Measured verdict (32 heads x S 1024 x d 64, this 2-core Xeon VM while other jobs ran; best of 8 runs
 * interleaved with the peers in one process, so all saw the same load):
 *   1 thread, causal 0:  73 ms = 117 GFLOP/s; 3.05x the "blas" peer, 1.00x "onednn"   (targets 4.5x, 1.1x: missed)
 *   1 thread, causal 1:  61 ms =  70 GFLOP/s; 3.99x "blas", 1.26x "onednn"           (4.5x missed, 1.1x met)
 *   2 threads: 88 / 65 ms: no speed-up, the second core was busy with other jobs; the peers' 2-thread
 *   figures collapsed worse (spinning pools), so 2-thread ratios from that run (4.3-8x) are not claimed.
 * What limits it is not established (no PMU on this VM; valgrind cannot run AVX-512): suspects are the
 * per-item K^T transpose-pack and the scalar row bookkeeping between the two register-blocked GEMM steps.
 */
#include "mb.h"
#define MB_VEC_AVX512
#include "simd/vexp.h"
#include "simd/attention_simd.h"

enum mb_status mb_attention_avx512(const struct mb_attention *p, const struct mb_exec *x)
{
    return nn_attention_simd(p, x);
}
