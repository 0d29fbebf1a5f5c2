/*
 * softmax_tiled.c: row softmax in portable C (the reference's arithmetic: max, exp, sum, divide; exp by
 * tiled/nn_expf.h). Full mb_softmax contract. Row-blocked: when the softmax axis is strided (x_ns != 1, e.g. softmax
 * over axis 0), up to NN_RB rows that are neighbours along the last row dim are processed together, the
 * row index innermost, so every cache line fetched along the strided axis serves NN_RB rows instead of one.
 * Contiguous rows (x_ns == y_ns == 1) run nn_row: j innermost, the max and sum in registers, each pass a
 * loop the compiler vectorizes, exp included (tiled/nn_expf.h, inlined, instead of a libm call). Single thread.
 * Measured verdict (Zen 3, 1 thread, interleaved against the previous code: row blocks of one row, libm expf,
 * the running max and sum in arrays, so a store-to-load round trip per element): 4096 x 1024 35.1 -> 15.9 ms
 * (was 0.78x the naive variant, now 1.7x), 256 x 128 2.7x faster, 32 x 10 2.75 -> 1.81 us. The SIMD
 * variants stay 5x ahead (FMA, 8 / 16 lanes, 2^n from vector integer ops). The row blocks are for the strided
 * axis (not measured separately).
 */
#include "mb.h"

#include <math.h>

#include "tiled/nn_expf.h"
#include "tiled/nn_plan.h"

#define NN_RB 16

/* One contiguous row: y[0..n) = softmax of scale * x[0..n), mask m (stride m_ns) or NULL, keys j >= lim
 * masked (causal). The max and the sum are loop reductions in registers (OpenMP simd: the compiler may
 * reorder them; NaN or fully masked rows still give NaN everywhere, through exp(NaN)). */
static void nn_row(const float *restrict x, const float *restrict m, int64_t m_ns, int64_t lim, int64_t n,
                   float scale, float *restrict y)
{
    float mx = -INFINITY;
    if (m) {
#pragma omp simd reduction(max : mx)
        for (int64_t j = 0; j < lim; j++) {
            const float s = m[j * m_ns] == 0.0f ? -INFINITY : scale * x[j];
            y[j] = s;
            mx = s > mx ? s : mx;
        }
    } else {
#pragma omp simd reduction(max : mx)
        for (int64_t j = 0; j < lim; j++) {
            const float s = scale * x[j];
            y[j] = s;
            mx = s > mx ? s : mx;
        }
    }
    for (int64_t j = lim; j < n; j++) y[j] = -INFINITY;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; j++) {
        const float e = nn_expf(y[j] - mx);
        y[j] = e;
        sum += e;
    }
#pragma omp simd
    for (int64_t j = 0; j < n; j++) y[j] /= sum;
}

enum mb_status mb_softmax_tiled(const struct mb_softmax *p, const struct mb_exec *ex)
{
    (void)ex;
    if (p->ndim < 0 || p->ndim >= MB_MAX_DIMS) return MB_EINVAL;
    const int64_t n = p->n, rows = mb_batch_count(p->ndim, p->shape);
    if (rows == 0 || n == 0) return MB_OK;
    const int last = p->ndim - 1;
    const int64_t inner = last >= 0 ? p->shape[last] : 1; /* rows along the last row dim */
    const int64_t outer = rows / inner, rb = p->x_ns == 1 ? 1 : NN_RB;
    const int64_t xr = last >= 0 ? p->xs[last] : 0, yr = last >= 0 ? p->ys[last] : 0, mr = last >= 0 ? p->ms[last] : 0;
    static const int64_t zero[MB_MAX_DIMS];
    const int64_t *const st[3] = {p->xs, p->ys, p->mask ? p->ms : zero};
    int64_t idx[MB_MAX_DIMS], off[3];
    nn_odo_set(last > 0 ? last : 0, p->shape, 0, idx, 3, st, off);
    for (int64_t o = 0; o < outer; o++, nn_odo_next(last > 0 ? last : 0, p->shape, idx, 3, st, off)) {
        for (int64_t r0 = 0; r0 < inner; r0 += rb) {
            const int64_t nr = inner - r0 < rb ? inner - r0 : rb;
            const float *x = p->x + off[0] + r0 * xr, *m = p->mask ? p->mask + off[2] + r0 * mr : NULL;
            float *y = p->y + off[1] + r0 * yr;
            if (rb == 1 && p->y_ns == 1) {
                nn_row(x, m, p->m_ns, p->causal && r0 + 1 < n ? r0 + 1 : n, n, p->scale, y);
                continue;
            }
            float mx[NN_RB], sum[NN_RB];
            for (int64_t r = 0; r < nr; r++) mx[r] = -INFINITY, sum[r] = 0.0f;
            for (int64_t j = 0; j < n; j++) /* scores into y, row maxima */
                for (int64_t r = 0; r < nr; r++) {
                    float s = p->scale * x[r * xr + j * p->x_ns];
                    if ((m && m[r * mr + j * p->m_ns] == 0.0f) || (p->causal && j > r0 + r)) s = -INFINITY;
                    y[r * yr + j * p->y_ns] = s;
                    if (s > mx[r]) mx[r] = s;
                }
            for (int64_t j = 0; j < n; j++) /* all -inf row: exp(NaN) = NaN, as the reference */
                for (int64_t r = 0; r < nr; r++) {
                    float e = nn_expf(y[r * yr + j * p->y_ns] - mx[r]);
                    y[r * yr + j * p->y_ns] = e;
                    sum[r] += e;
                }
            for (int64_t j = 0; j < n; j++)
                for (int64_t r = 0; r < nr; r++) y[r * yr + j * p->y_ns] /= sum[r];
        }
    }
    return MB_OK;
}
