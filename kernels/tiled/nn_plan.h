/*
 * nn_plan.h: portable planning helpers shared by the tiled and SIMD BINARY / SOFTMAX / ATTENTION
 * kernels (no intrinsics): dimension collapsing, odometers over outer dims, and the static split of
 * work items over threads that makes results independent of scheduling.
 */
#pragma once
#include "mb.h"

/* A BINARY problem reduced to the fewest dims: size-1 dims dropped, adjacent dims merged when all three
 * operands step through them as one (s[d] == s[d+1] * shape[d+1]; broadcast 0,0 merges too). Always at
 * least one dim. Returns the element count. */
struct nn_binary_plan {
    int nd;
    int64_t shape[MB_MAX_DIMS], xs[MB_MAX_DIMS], ys[MB_MAX_DIMS], zs[MB_MAX_DIMS];
};

static inline int64_t nn_binary_collapse(const struct mb_binary *p, struct nn_binary_plan *q)
{
    int64_t total = 1;
    q->nd = 0;
    for (int d = 0; d < p->ndim; d++) {
        total *= p->shape[d];
        if (p->shape[d] == 1) continue;
        int k = q->nd;
        if (k > 0 && q->xs[k - 1] == p->xs[d] * p->shape[d] && q->ys[k - 1] == p->ys[d] * p->shape[d] &&
            q->zs[k - 1] == p->zs[d] * p->shape[d]) { /* merge the previous (outer) dim into this one */
            q->shape[k - 1] *= p->shape[d];
            q->xs[k - 1] = p->xs[d];
            q->ys[k - 1] = p->ys[d];
            q->zs[k - 1] = p->zs[d];
            continue;
        }
        q->shape[k] = p->shape[d];
        q->xs[k] = p->xs[d];
        q->ys[k] = p->ys[d];
        q->zs[k] = p->zs[d];
        q->nd++;
    }
    if (q->nd == 0) { /* a single element (or rank 0) */
        q->nd = 1;
        q->shape[0] = total;
        q->xs[0] = q->ys[0] = q->zs[0] = 1;
    }
    return total;
}

/* Item range [*lo, *hi) of thread t of nt over n items: contiguous, static, deterministic. */
static inline void nn_split(int64_t n, int nt, int t, int64_t *lo, int64_t *hi)
{
    *lo = n * t / nt;
    *hi = n * (t + 1) / nt;
}

/* Threads worth using for `work` units of about one element each: small problems stay serial. */
static inline int nn_threads(const struct mb_exec *x, int64_t work, int64_t min_per_thread)
{
    int nt = x->nthreads > 0 ? x->nthreads : 1;
    int64_t useful = work / (min_per_thread > 0 ? min_per_thread : 1);
    if (useful < nt) nt = useful > 1 ? (int)useful : 1;
    return nt;
}

/* Odometer over the dims [0, nd) of a row space: idx[] counts, off[k] are the offsets of up to 3 operands. */
static inline void nn_odo_set(int nd, const int64_t *shape, int64_t r, int64_t *idx, int nop,
                              const int64_t *const *strides, int64_t *off)
{
    for (int k = 0; k < nop; k++) off[k] = 0;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = r % shape[d];
        r /= shape[d];
        for (int k = 0; k < nop; k++) off[k] += idx[d] * strides[k][d];
    }
}

static inline void nn_odo_next(int nd, const int64_t *shape, int64_t *idx, int nop, const int64_t *const *strides,
                               int64_t *off)
{
    for (int d = nd - 1; d >= 0; d--) {
        idx[d]++;
        for (int k = 0; k < nop; k++) off[k] += strides[k][d];
        if (idx[d] < shape[d]) return;
        for (int k = 0; k < nop; k++) off[k] -= idx[d] * strides[k][d];
        idx[d] = 0;
    }
}
