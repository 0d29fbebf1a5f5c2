/*
 * binary_simd.h: the body of mb_binary_avx2 / mb_binary_avx512, written once against vexp.h's vector
 * names (include vexp.h first). See binary_avx512.c for the contract notes and measured verdict.
 *
 * Plan: collapse dims (tiled/nn_plan.h), then walk the rows of the innermost dim with an odometer.
 * A row whose output is contiguous and whose inputs are contiguous or broadcast (stride 1 or 0) runs
 * the vector loop, instantiated for each op x {vector, broadcast}^2 so the loop holds no branches;
 * anything else runs the scalar strided loop of the same walk. Threads split the flat element range
 * statically (element-wise results do not depend on the split).
 * Large outputs (>= NN_STREAM_BYTES) use non-temporal stores: the output is not re-read by this kernel,
 * and streaming skips the read-for-ownership of every destination line (3 -> 2 memory streams' worth
 * of traffic per output line on the write side), which is what reaches the bandwidth target.
 */
#include "tiled/nn_plan.h"

#ifndef NN_STREAM_BYTES /* overridable for the measurement of the non-streaming alternative */
#define NN_STREAM_BYTES ((int64_t)8 << 20)
#endif

static inline __attribute__((always_inline)) vf nn_apply_v(enum mb_binop op, vf a, vf b)
{
    switch (op) {
    case MB_ADD: return vf_add(a, b);
    case MB_SUB: return vf_sub(a, b);
    case MB_MUL: return vf_mul(a, b);
    case MB_DIV: return vf_div(a, b);
    }
    return a;
}

/* z[0..n) = x op y with x, y contiguous (xv/yv = 1) or broadcast scalars (0); op, xv, yv are constants
 * after inlining. stream: non-temporal stores once z is vector-aligned. */
static inline __attribute__((always_inline)) void nn_row_vec(enum mb_binop op, int xv, int yv, const float *x,
                                                             const float *y, float *z, int64_t n, int stream)
{
    const vf xb = vf_set1(x[0]), yb = vf_set1(y[0]);
    int64_t j = 0;
    if (stream) {
        int64_t head = (int64_t)(((uintptr_t)-(uintptr_t)z % (VW * sizeof(float))) / sizeof(float));
        if (head > n) head = n;
        if (head > 0)
            vf_store_n(z, nn_apply_v(op, xv ? vf_load_n(x, head) : xb, yv ? vf_load_n(y, head) : yb), head);
        for (j = head; j + VW <= n; j += VW)
            vf_stream(z + j, nn_apply_v(op, xv ? vf_load(x + j) : xb, yv ? vf_load(y + j) : yb));
    } else {
        for (; j + 2 * VW <= n; j += 2 * VW) {
            vf a0 = xv ? vf_load(x + j) : xb, a1 = xv ? vf_load(x + j + VW) : xb;
            vf b0 = yv ? vf_load(y + j) : yb, b1 = yv ? vf_load(y + j + VW) : yb;
            vf_store(z + j, nn_apply_v(op, a0, b0));
            vf_store(z + j + VW, nn_apply_v(op, a1, b1));
        }
        for (; j + VW <= n; j += VW)
            vf_store(z + j, nn_apply_v(op, xv ? vf_load(x + j) : xb, yv ? vf_load(y + j) : yb));
    }
    if (j < n)
        vf_store_n(z + j, nn_apply_v(op, xv ? vf_load_n(x + j, n - j) : xb, yv ? vf_load_n(y + j, n - j) : yb),
                   n - j);
}

static inline __attribute__((always_inline)) void nn_row_op(enum mb_binop op, int64_t xs, int64_t ys, const float *x,
                                                            const float *y, float *z, int64_t n, int stream)
{
    if (xs == 1 && ys == 1) nn_row_vec(op, 1, 1, x, y, z, n, stream);
    else if (xs == 1) nn_row_vec(op, 1, 0, x, y, z, n, stream);
    else if (ys == 1) nn_row_vec(op, 0, 1, x, y, z, n, stream);
    else nn_row_vec(op, 0, 0, x, y, z, n, stream);
}

/* One row of n elements; the vector loop when z is contiguous and x, y are contiguous or broadcast. */
static void nn_row(enum mb_binop op, const float *x, int64_t xs, const float *y, int64_t ys, float *z, int64_t zs,
                   int64_t n, int stream)
{
    if (zs == 1 && (xs == 0 || xs == 1) && (ys == 0 || ys == 1)) {
        switch (op) {
        case MB_ADD: nn_row_op(MB_ADD, xs, ys, x, y, z, n, stream); break;
        case MB_SUB: nn_row_op(MB_SUB, xs, ys, x, y, z, n, stream); break;
        case MB_MUL: nn_row_op(MB_MUL, xs, ys, x, y, z, n, stream); break;
        case MB_DIV: nn_row_op(MB_DIV, xs, ys, x, y, z, n, stream); break;
        }
        return;
    }
    for (int64_t j = 0; j < n; j++) z[j * zs] = mb_binop_apply(op, x[j * xs], y[j * ys]);
}

/* thread t of nt: its contiguous share of the elements */
static void nn_binary_part(const struct mb_binary *p, const struct nn_binary_plan *q, int64_t total, int stream,
                           int nt, int t)
{
    const int od = q->nd - 1; /* outer dims [0, od), the row dim od */
    const int64_t n = q->shape[od];
    const int64_t *const st[3] = {q->xs, q->ys, q->zs};
    int64_t lo, hi, idx[MB_MAX_DIMS], off[3];
    nn_split(total, nt, t, &lo, &hi);
    if (lo < hi) {
        int64_t r = lo / n, c = lo % n;
        nn_odo_set(od, q->shape, r, idx, 3, st, off);
        for (int64_t e = lo; e < hi;) {
            int64_t len = n - c < hi - e ? n - c : hi - e;
            nn_row(p->op, p->x + off[0] + c * q->xs[od], q->xs[od], p->y + off[1] + c * q->ys[od], q->ys[od],
                   p->z + off[2] + c * q->zs[od], q->zs[od], len, stream);
            e += len;
            c = 0;
            nn_odo_next(od, q->shape, idx, 3, st, off);
        }
    }
    if (stream) _mm_sfence(); /* this thread's streaming stores are ordered before the join */
}

static enum mb_status nn_binary_simd(const struct mb_binary *p, const struct mb_exec *ex)
{
    if ((unsigned)p->op > MB_DIV || p->ndim < 0 || p->ndim > MB_MAX_DIMS) return MB_EINVAL;
    struct nn_binary_plan q;
    const int64_t total = nn_binary_collapse(p, &q);
    if (total == 0) return MB_OK;
    const int stream = total * (int64_t)sizeof(float) >= NN_STREAM_BYTES && q.zs[q.nd - 1] == 1;
    const int nt = nn_threads(ex, total, 1 << 16);
    /* one thread: no OpenMP region (libgomp builds a team even under if (0): ~0.6 us, twice a whole
     * 32 x 10 add on Zen 3) */
    if (nt == 1) {
        nn_binary_part(p, &q, total, stream, 1, 0);
        return MB_OK;
    }
#pragma omp parallel num_threads(nt)
    nn_binary_part(p, &q, total, stream, nt, mb_thread_num());
    return MB_OK;
}
