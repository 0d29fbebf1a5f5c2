/*
 * softmax_simd.h: the body of mb_softmax_avx2 / mb_softmax_avx512, written once against vexp.h's vector
 * names (include vexp.h first). See softmax_avx512.c for the contract notes and measured verdict.
 *
 * Per row, three passes over a row that is in L1/L2 for all practical n: (1) max of the masked scores,
 * (2) e = vf_exp(s - max) into y and their sum, (3) y *= 1/sum. Scores are recomputed in pass 2 from x
 * (scale, mask) rather than stored, so x is read twice and y written twice, nothing else. Causal is a
 * shorter valid prefix (lim = i + 1); j >= lim get 0 * (1/sum), i.e. 0, or NaN when the sum is NaN,
 * exactly as the reference's exp(-inf - max) / sum. A row whose scores are all -inf is NaN everywhere.
 * Fast path: x and y rows contiguous, mask row contiguous or broadcast (m_ns 0 or 1) or absent. Any other
 * stride pattern gathers the scores of one row into this thread's slice of x->work (n floats), runs the
 * same passes there and scatters the result (MB_ENOMEM if the workspace is smaller than threads * n).
 */
#include "tiled/nn_plan.h"

#include <math.h>
/* Masked scaled scores of the full vector at j (mask contiguous or NULL). */
static inline vf nn_sm_score(const float *x, const float *mask, vf vscale, int64_t j)
{
    vf s = vf_mul(vscale, vf_load(x + j));
    if (mask) s = vf_sel(vf_cmpeq(vf_load(mask + j), vf_zero()), vf_set1(-INFINITY), s);
    return s;
}

/* The same for the r < VW lanes at j; lanes >= r are -inf. */
static inline vf nn_sm_score_n(const float *x, const float *mask, vf vscale, int64_t j, int64_t r)
{
    vf s = vf_mul(vscale, vf_load_n(x + j, r));
    if (mask) s = vf_sel(vf_cmpeq(vf_load_n(mask + j, r), vf_zero()), vf_set1(-INFINITY), s);
    return vf_sel(vi_cmpgt(vi_set1((int32_t)r), vi_iota()), s, vf_set1(-INFINITY));
}

/* y[0..n) = softmax of scale*x[0..lim) (mask applied), -inf at [lim, n). x, mask, y contiguous;
 * y may equal x (element-wise in place). xn: the next row's x (prefetched by pass 2), or NULL.
 * Why the prefetch: pass 1 of each row started cold, its first loads waiting on DRAM (perf: 27 % of the
 * row time on one load), since the hardware prefetchers stop at 4 KiB pages and start again per row;
 * pass 2 (exp-bound) has the issue slots to fetch the next row meanwhile. Zen 3, AVX2, 1 thread,
 * interleaved: 4096 x 1024 3.71-3.93 -> 2.79-2.86 ms, 2048 x 4000 7.2-7.6 -> 5.6 ms, 1024 x 1024 (in
 * L3) -5 %; rows under NN_SM_PF_MIN floats are left to the hardware (n = 64: +2 % with it).
 * Tried, not kept: PREFETCHW of the next row's y in pass 3 (+5-20 %); non-temporal y (exps in a stack
 * row, y streamed from its first aligned element: 4096 x 1024 level or slower, 4.17-4.80 against
 * 3.96-4.27 ms before the prefetch). */
#define NN_SM_PF_MIN 256
static void nn_softmax_row(const float *x, float scale, const float *mask, int64_t n, int64_t lim, float *y,
                           const float *xn)
{
    const vf vscale = vf_set1(scale);
    vf m0 = vf_set1(-INFINITY), m1 = m0;
    int64_t j = 0;
    for (; j + 2 * VW <= lim; j += 2 * VW) {
        m0 = vf_max(m0, nn_sm_score(x, mask, vscale, j));
        m1 = vf_max(m1, nn_sm_score(x, mask, vscale, j + VW));
    }
    for (; j + VW <= lim; j += VW) m0 = vf_max(m0, nn_sm_score(x, mask, vscale, j));
    if (j < lim) m1 = vf_max(m1, nn_sm_score_n(x, mask, vscale, j, lim - j));
    const float mx = vf_hmax(vf_max(m0, m1));
    if (mx == -INFINITY) { /* all scores -inf (or none): NaN, as exp(-inf - -inf) in the reference */
        for (int64_t k = 0; k < n; k++) y[k] = NAN;
        return;
    }
    const vf vmx = vf_set1(mx);
    vf s0 = vf_zero(), s1 = vf_zero();
    for (j = 0; j + 2 * VW <= lim; j += 2 * VW) {
        if (xn) /* one line of the next row per 64 bytes of this one */
            for (int q = 0; q < 2 * VW; q += 16) _mm_prefetch((const char *)(xn + j + q), _MM_HINT_T0);
        vf e0 = vf_exp(vf_sub(nn_sm_score(x, mask, vscale, j), vmx));
        vf e1 = vf_exp(vf_sub(nn_sm_score(x, mask, vscale, j + VW), vmx));
        vf_store(y + j, e0);
        vf_store(y + j + VW, e1);
        s0 = vf_add(s0, e0);
        s1 = vf_add(s1, e1);
    }
    for (; j + VW <= lim; j += VW) {
        vf e = vf_exp(vf_sub(nn_sm_score(x, mask, vscale, j), vmx));
        vf_store(y + j, e);
        s0 = vf_add(s0, e);
    }
    vf et = vf_zero(); /* the partial last vector stays in a register: stored once, never reloaded */
    if (j < lim) {
        et = vf_exp(vf_sub(nn_sm_score_n(x, mask, vscale, j, lim - j), vmx)); /* -inf lanes -> 0 */
        s1 = vf_add(s1, et);
    }
    const float inv = 1.0f / vf_hsum(vf_add(s0, s1));
    const vf vinv = vf_set1(inv);
    for (j = 0; j + VW <= lim; j += VW) vf_store(y + j, vf_mul(vf_load(y + j), vinv));
    if (j < lim) vf_store_n(y + j, vf_mul(et, vinv), lim - j);
    for (j = lim; j < n; j++) y[j] = 0.0f * inv;
}

/* Short rows (n <= NN_SM_SHORT): VW rows at a time with the ROWS IN THE LANES. The masked scaled scores of
 * nr <= VW rows (any strides) are copied transposed into t[j][lane], so the max, the exps, the sum and
 * 1/sum are lane-wise over whole vectors: no horizontal reduction, no partial vector, and the rows' latency
 * chains (max -> exp -> sum -> 1/sum, ~100 cycles) run side by side instead of one after the other. Lanes
 * >= nr compute on zeros and are never written. A fully masked row: max -inf, s - max NaN, so NaN
 * everywhere, as the row path.
 * Measured (Zen 3, AVX2, interleaved, 256 rows, us per call, lanes / row path): n 6 4.8 / 7.3, 8 5.9 /
 * 6.7, 10 6.7 / 9.0, 12 7.7 / 8.9, 14 8.8 / 9.1, 15 9.3 / 9.2; n 16 / 24 / 32 (32 rows): 1.23 / 1.75 / 2.25
 * against 0.95 / 1.24 / 1.40 us: the scalar transpose (2 memory ops per element) then costs more than the
 * row path's reductions, so 1.5 VW. 32 x 10 (the benchmark row): 1.13 -> 0.87 us (4096 x 10: 148 -> 107 us).
 * The AVX-512 instance uses the same rule (n <= 24), not measured: no AVX-512 on the Zen 3. */
#define NN_SM_SHORT (3 * VW / 2)
static void nn_softmax_short(const struct mb_softmax *p, int nr, const float *const *xg, const float *const *mg,
                             const int64_t *lg, float *const *yg)
{
    float t[NN_SM_SHORT * VW] __attribute__((aligned(64)));
    const int64_t n = p->n;
    for (int r = 0; r < VW; r++)
        for (int64_t j = 0; j < n; j++) {
            float s = 0.0f;
            if (r < nr) {
                const int keep = j < lg[r] && !(mg[r] && mg[r][j * p->m_ns] == 0.0f);
                s = keep ? p->scale * xg[r][j * p->x_ns] : -INFINITY;
            }
            t[j * VW + r] = s;
        }
    vf m = vf_set1(-INFINITY), sum = vf_zero();
    for (int64_t j = 0; j < n; j++) m = vf_max(m, vf_load(t + j * VW));
    for (int64_t j = 0; j < n; j++) {
        const vf e = vf_exp(vf_sub(vf_load(t + j * VW), m));
        vf_store(t + j * VW, e);
        sum = vf_add(sum, e);
    }
    const vf inv = vf_div(vf_set1(1.0f), sum);
    for (int64_t j = 0; j < n; j++) vf_store(t + j * VW, vf_mul(vf_load(t + j * VW), inv));
    for (int r = 0; r < nr; r++)
        for (int64_t j = 0; j < n; j++) yg[r][j * p->y_ns] = t[j * VW + r];
}

/* the valid prefix of the row at odometer position idx: causal rows see keys [0, qi], qi its index along the
 * last row dim */
static inline int64_t nn_sm_lim(const struct mb_softmax *p, const int64_t *idx)
{
    const int64_t qi = p->ndim > 0 ? idx[p->ndim - 1] : 0;
    return p->causal && qi + 1 < p->n ? qi + 1 : p->n;
}

/* thread t of nt: its contiguous share of the rows (buf: its n floats of scratch) */
static void nn_softmax_part(const struct mb_softmax *p, int fast, int nt, int t, float *buf)
{
    const int64_t rows = mb_batch_count(p->ndim, p->shape), n = p->n;
    static const int64_t zero[MB_MAX_DIMS];
    const int64_t *const st[3] = {p->xs, p->ys, p->mask ? p->ms : zero};
    int64_t lo, hi, idx[MB_MAX_DIMS] = {0}, off[3];
    nn_split(rows, nt, t, &lo, &hi);
    if (lo < hi) nn_odo_set(p->ndim, p->shape, lo, idx, 3, st, off);
    if (n <= NN_SM_SHORT) { /* any strides */
        const float *xg[VW], *mg[VW];
        float *yg[VW];
        int64_t lg[VW];
        int g = 0;
        for (int64_t r = lo; r < hi; r++, nn_odo_next(p->ndim, p->shape, idx, 3, st, off)) {
            xg[g] = p->x + off[0], yg[g] = p->y + off[1], mg[g] = p->mask ? p->mask + off[2] : NULL;
            lg[g] = nn_sm_lim(p, idx);
            if (++g == VW) nn_softmax_short(p, g, xg, mg, lg, yg), g = 0;
        }
        if (g) nn_softmax_short(p, g, xg, mg, lg, yg);
        return;
    }
    for (int64_t r = lo; r < hi; r++) {
        const int64_t lim = nn_sm_lim(p, idx);
        const float *xr = p->x + off[0], *mr = p->mask ? p->mask + off[2] : NULL;
        float *yr = p->y + off[1];
        nn_odo_next(p->ndim, p->shape, idx, 3, st, off); /* now the next row's */
        const float *xn = r + 1 < hi && n >= NN_SM_PF_MIN ? p->x + off[0] : NULL;
        if (fast && (!mr || p->m_ns == 1)) {
            nn_softmax_row(xr, p->scale, mr, n, lim, yr, xn);
        } else if (fast) { /* mask broadcast along the row: all or nothing */
            nn_softmax_row(xr, p->scale, NULL, n, mr[0] == 0.0f ? 0 : lim, yr, xn);
        } else { /* gather the scores, softmax in place, scatter */
            for (int64_t j = 0; j < n; j++) {
                float s = p->scale * xr[j * p->x_ns];
                buf[j] = (mr && mr[j * p->m_ns] == 0.0f) || j >= lim ? -INFINITY : s;
            }
            nn_softmax_row(buf, 1.0f, NULL, n, n, buf, NULL);
            for (int64_t j = 0; j < n; j++) yr[j * p->y_ns] = buf[j];
        }
    }
}

static enum mb_status nn_softmax_simd(const struct mb_softmax *p, const struct mb_exec *ex)
{
    if (p->ndim < 0 || p->ndim >= MB_MAX_DIMS) return MB_EINVAL;
    const int64_t rows = mb_batch_count(p->ndim, p->shape), n = p->n;
    if (rows == 0 || n == 0) return MB_OK;
    const int fast = p->x_ns == 1 && p->y_ns == 1 && (!p->mask || p->m_ns == 0 || p->m_ns == 1);
    const int nt = nn_threads(ex, rows * n, 1 << 15);
    if (!fast && ex->work_size < (size_t)nt * (size_t)n * sizeof(float)) return MB_ENOMEM;
    float *work = (float *)ex->work;
    if (nt == 1) { /* no OpenMP region for one thread (see nn_binary_simd) */
        nn_softmax_part(p, fast, 1, 0, work);
        return MB_OK;
    }
#pragma omp parallel num_threads(nt)
    nn_softmax_part(p, fast, nt, mb_thread_num(), work ? work + (size_t)mb_thread_num() * (size_t)n : NULL);
    return MB_OK;
}
