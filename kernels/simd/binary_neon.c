/*
 * binary_neon.c: z = x op y (add, sub, mul, div) with AArch64 Advanced SIMD, any strides, broadcasting.
 *
 * neon     first collapses the index space the way the ops layer does (size-1 dims dropped, neighbouring dims
 *          merged where all three operands are contiguous across them), so a broadcast bias add becomes
 *          rows x n with y's row stride 0, and a same-shape op becomes one flat run. The innermost run then
 *          takes one of three 4-lane (x4 unrolled, 16 floats per iteration) loops: both operands unit-stride,
 *          x unit-stride with y a broadcast scalar, or the mirror; any other stride pattern (a transposed
 *          operand, a strided z) runs a scalar loop. vdivq_f32 is IEEE division, so x/0 = +-inf and
 *          0/0 = NaN exactly as the naive kernel.
 *
 * Contract the whole of mb_binary: ndim 0..MB_MAX_DIMS, any shape (0-sized: nothing written), any strides,
 *          0 = broadcast on x or y. z never aliases x or y. No workspace. Threads: exactly x->nthreads
 *          (OpenMP) once there are at least 32768 elements, below that one thread (a fork costs more than
 *          the work). Every element is computed the same way on every thread count: bitwise reproducible.
 *
 * Verdict  matches naive bit for bit on every vector and the sweeps of tests/neon_main.c under qemu; speed
 *          unmeasured (no ARM hardware here).
 */
#include "mb.h"

#include <arm_neon.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define PAR_MIN 32768 /* elements below which the loop stays on one thread */
#define CHUNK 8192    /* a thread's unit of work along a long innermost run */

// ---------------------------------------------------------------------------------------------------------------------
// the innermost run. `op` is a compile-time constant in every call of run_op (see run()), so the switch in
// vop/sop disappears and each op gets its own loops.

static inline float32x4_t vop(enum mb_binop op, float32x4_t a, float32x4_t b)
{
    switch (op) {
    case MB_ADD: return vaddq_f32(a, b);
    case MB_SUB: return vsubq_f32(a, b);
    case MB_MUL: return vmulq_f32(a, b);
    case MB_DIV: return vdivq_f32(a, b);
    }
    return a;
}

static inline __attribute__((always_inline)) void run_op(enum mb_binop op, int64_t n, const float *restrict x,
                                                         int64_t sx, const float *restrict y, int64_t sy,
                                                         float *restrict z, int64_t sz)
{
    int64_t i = 0;
    if (sz == 1 && sx == 1 && sy == 1) {
        for (; i + 16 <= n; i += 16)
            for (int u = 0; u < 16; u += 4) vst1q_f32(z + i + u, vop(op, vld1q_f32(x + i + u), vld1q_f32(y + i + u)));
        for (; i + 4 <= n; i += 4) vst1q_f32(z + i, vop(op, vld1q_f32(x + i), vld1q_f32(y + i)));
    } else if (sz == 1 && sx == 1 && sy == 0) {
        const float32x4_t b = vdupq_n_f32(*y);
        for (; i + 16 <= n; i += 16)
            for (int u = 0; u < 16; u += 4) vst1q_f32(z + i + u, vop(op, vld1q_f32(x + i + u), b));
        for (; i + 4 <= n; i += 4) vst1q_f32(z + i, vop(op, vld1q_f32(x + i), b));
    } else if (sz == 1 && sx == 0 && sy == 1) {
        const float32x4_t a = vdupq_n_f32(*x);
        for (; i + 16 <= n; i += 16)
            for (int u = 0; u < 16; u += 4) vst1q_f32(z + i + u, vop(op, a, vld1q_f32(y + i + u)));
        for (; i + 4 <= n; i += 4) vst1q_f32(z + i, vop(op, a, vld1q_f32(y + i)));
    }
    for (; i < n; i++) z[i * sz] = mb_binop_apply(op, x[i * sx], y[i * sy]);
}

static void run(enum mb_binop op, int64_t n, const float *x, int64_t sx, const float *y, int64_t sy, float *z,
                int64_t sz)
{
    switch (op) {
    case MB_ADD: run_op(MB_ADD, n, x, sx, y, sy, z, sz); break;
    case MB_SUB: run_op(MB_SUB, n, x, sx, y, sy, z, sz); break;
    case MB_MUL: run_op(MB_MUL, n, x, sx, y, sy, z, sz); break;
    case MB_DIV: run_op(MB_DIV, n, x, sx, y, sy, z, sz); break;
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// index space

struct space {
    int nd;
    int64_t shape[MB_MAX_DIMS], xs[MB_MAX_DIMS], ys[MB_MAX_DIMS], zs[MB_MAX_DIMS];
};

/* Drop size-1 dims; merge dim d into d+1 when every operand steps across the boundary contiguously
 * (stride[d] == stride[d+1] * shape[d+1]; this also merges broadcast runs, 0 == 0 * n). */
static struct space collapse(const struct mb_binary *p)
{
    struct space s = {0};
    for (int d = 0; d < p->ndim; d++) {
        if (p->shape[d] == 1) continue;
        const int k = s.nd - 1;
        if (k >= 0 && s.xs[k] == p->xs[d] * p->shape[d] && s.ys[k] == p->ys[d] * p->shape[d] &&
            s.zs[k] == p->zs[d] * p->shape[d]) {
            s.shape[k] *= p->shape[d];
            s.xs[k] = p->xs[d], s.ys[k] = p->ys[d], s.zs[k] = p->zs[d];
            continue;
        }
        s.shape[s.nd] = p->shape[d], s.xs[s.nd] = p->xs[d], s.ys[s.nd] = p->ys[d], s.zs[s.nd] = p->zs[d];
        s.nd++;
    }
    if (s.nd == 0) { /* one element: a run of length 1 */
        s.nd = 1;
        s.shape[0] = 1;
    }
    return s;
}

/* Work items [w0, w1) of the (outer index, chunk of the innermost run) space, chunks of `chunk` elements.
 * The outer multi-index is decomposed once, then stepped like an odometer. */
static void run_items(enum mb_binop op, const struct mb_binary *p, const struct space *s, int64_t chunk,
                      int64_t nchunk, int64_t w0, int64_t w1)
{
    if (w0 >= w1) return;
    const int in = s->nd - 1;
    const int64_t n = s->shape[in];
    int64_t idx[MB_MAX_DIMS] = {0}, xo = 0, yo = 0, zo = 0;
    int64_t row = w0 / nchunk, c = w0 % nchunk;
    for (int d = in - 1; d >= 0; d--) {
        idx[d] = row % s->shape[d];
        row /= s->shape[d];
        xo += idx[d] * s->xs[d], yo += idx[d] * s->ys[d], zo += idx[d] * s->zs[d];
    }
    for (int64_t w = w0; w < w1; w++) {
        const int64_t j0 = c * chunk, len = n - j0 < chunk ? n - j0 : chunk;
        run(op, len, p->x + xo + j0 * s->xs[in], s->xs[in], p->y + yo + j0 * s->ys[in], s->ys[in],
            p->z + zo + j0 * s->zs[in], s->zs[in]);
        if (++c < nchunk) continue;
        c = 0;
        for (int d = in - 1; d >= 0; d--) { /* next outer index */
            xo += s->xs[d], yo += s->ys[d], zo += s->zs[d];
            if (++idx[d] < s->shape[d]) break;
            xo -= s->shape[d] * s->xs[d], yo -= s->shape[d] * s->ys[d], zo -= s->shape[d] * s->zs[d];
            idx[d] = 0;
        }
    }
}

enum mb_status mb_binary_neon(const struct mb_binary *p, const struct mb_exec *x)
{
    if ((unsigned)p->op > MB_DIV || p->ndim < 0 || p->ndim > MB_MAX_DIMS) return MB_EINVAL;
    int64_t total = 1;
    for (int d = 0; d < p->ndim; d++) total *= p->shape[d];
    if (total <= 0) return MB_OK;

    const struct space s = collapse(p);
    const int64_t n = s.shape[s.nd - 1], rows = total / n;
    const int nt = x->nthreads > 1 && total >= PAR_MIN ? x->nthreads : 1;
    /* split long runs so that a few long rows (or one flat run) still spread over the threads */
    const int64_t chunk = nt > 1 && rows < 4 * nt && n > CHUNK ? CHUNK : n;
    const int64_t nchunk = (n + chunk - 1) / chunk, items = rows * nchunk;
    if (nt == 1) {
        run_items(p->op, p, &s, chunk, nchunk, 0, items);
        return MB_OK;
    }
#pragma omp parallel num_threads(nt)
    {
        int id = 0, team = 1;
#ifdef _OPENMP
        id = omp_get_thread_num();
        team = omp_get_num_threads();
#endif
        run_items(p->op, p, &s, chunk, nchunk, items * id / team, items * (id + 1) / team);
    }
    return MB_OK;
}
