/*
 * softmax_neon.c: row softmax with scale, 0/1 mask and causal mask on AArch64 Advanced SIMD.
 *
 * neon     three passes over a row, as the naive kernel: (1) s = scale*x with masked entries -inf, and the
 *          row max; (2) e = exp(s - max) and the sum; (3) y = e * (1/sum). Passes 1 and 2 run 4 lanes
 *          (x2 unrolled) when x and the mask are unit-stride (a mask stride of 0 is a per-row constant);
 *          other strides gather pass 1 with scalar loads. The scores live in y itself when y is unit-stride,
 *          else in a per-thread scratch row that pass 3 scatters. A causal row only touches j <= i: the
 *          rest is written 0 without computing exp(-inf).
 *
 *          exp is vexp_neon below: the same algorithm, constants and error bound as vf_exp in vexp.h (the
 *          x86 kernels), Cephes expf: clamp to [-104, 89] (NaN propagates: FMIN/FMAX return NaN), n =
 *          round(x log2 e), r = x - n ln2 (split ln2), 1 + r + r^2 P5(r), times 2^(n>>1) * 2^(n-(n>>1)).
 *          Max error <= 2 ulp (MB_VEXP_MAX_REL 2.4e-7) for normal results, +1 subnormal ulp below FLT_MIN;
 *          -inf -> +0, NaN -> NaN. tests/neon_main.c measures it on a dense sweep and asserts the bound.
 *          The sum is accumulated in 8 lanes then reduced, so it rounds differently from the naive left-to-
 *          right sum (both within n*u relative); dividing by a reciprocal adds <= 1 ulp.
 *
 * Contract the whole of mb_softmax: ndim 0..MB_MAX_DIMS-1 row dims of any strides, n >= 0 with any x_ns,
 *          y_ns, m_ns (0 broadcasts), mask NULL or 0/1 floats, scale, causal (i = index along the last row
 *          dim). A row whose scores are all -inf gives NaN (torch), as do rows holding NaN or +inf scores,
 *          exactly where the naive kernel gives NaN. Threads: exactly x->nthreads (OpenMP) over rows once
 *          there are >= 4096 elements; each row is computed by one thread in a fixed order, so results
 *          do not depend on the thread count. Workspace: only when y_ns != 1, nthreads * n floats
 *          (MB_ENOMEM if x->work is smaller).
 *
 * Verdict  within 4 ulp of the fp64 reference on the sweeps of tests/neon_main.c under qemu; speed unmeasured
 *          (no ARM hardware here).
 */
#include "mb.h"

#include <arm_neon.h>
#include <math.h>
#include <stdbool.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define PAR_MIN 4096 /* elements below which the rows stay on one thread */

// ---------------------------------------------------------------------------------------------------------------------
// vectorized exp: vf_exp of vexp.h in NEON

static inline float32x4_t vexp_neon(float32x4_t x)
{
    x = vmaxq_f32(vdupq_n_f32(-104.0f), vminq_f32(vdupq_n_f32(89.0f), x)); /* FMIN/FMAX: NaN stays NaN */
    const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f)); /* exact: n has <= 8 bits, ln2_hi 9 bits */
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t q = vdupq_n_f32(1.9875691500e-4f);
    q = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), q, r);
    q = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), q, r);
    q = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), q, r);
    q = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), q, r);
    q = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), q, r);
    const float32x4_t y = vaddq_f32(vfmaq_f32(r, q, vmulq_f32(r, r)), vdupq_n_f32(1.0f)); /* (q r^2 + r) + 1 */
    const int32x4_t ni = vcvtq_s32_f32(n); /* in [-150, 129] after the clamp (NaN: 0, y is NaN anyway) */
    const int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, vdupq_n_s32(127)), 23));
    const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, vdupq_n_s32(127)), 23));
    return vmulq_f32(vmulq_f32(y, s1), s2);
}

static inline float exp1(float v) { return vgetq_lane_f32(vexp_neon(vdupq_n_f32(v)), 0); }

// ---------------------------------------------------------------------------------------------------------------------
// one row

struct row {
    const float *x;
    int64_t x_ns;
    float *y;
    int64_t y_ns;
    const float *m; /* NULL = no mask */
    int64_t m_ns;
    int64_t n, lim; /* lim: entries j >= lim are causally masked */
};

/* pass 1: s[j] = scale*x[j] (-inf where masked) for j < lim; returns max s (NaN if some s is NaN). */
static float scores(const struct row *w, float scale, float *restrict s)
{
    const float ninf = -INFINITY;
    int64_t j = 0;
    float mx = ninf;
    if (w->x_ns == 1 && (!w->m || w->m_ns == 1 || w->m_ns == 0)) {
        const float32x4_t vs = vdupq_n_f32(scale), vninf = vdupq_n_f32(ninf), zero = vdupq_n_f32(0.0f);
        float32x4_t m0 = vninf, m1 = vninf;
        if (w->m && w->m_ns == 0 && w->m[0] == 0.0f) { /* a broadcast 0: the whole row is masked */
            for (; j < w->lim; j++) s[j] = ninf;
            return ninf;
        }
        const bool vm = w->m && w->m_ns == 1;
        for (; j + 8 <= w->lim; j += 8) {
            float32x4_t a = vmulq_f32(vs, vld1q_f32(w->x + j)), b = vmulq_f32(vs, vld1q_f32(w->x + j + 4));
            if (vm) {
                a = vbslq_f32(vceqq_f32(vld1q_f32(w->m + j), zero), vninf, a);
                b = vbslq_f32(vceqq_f32(vld1q_f32(w->m + j + 4), zero), vninf, b);
            }
            vst1q_f32(s + j, a);
            vst1q_f32(s + j + 4, b);
            m0 = vmaxq_f32(m0, a); /* FMAX: a NaN score makes the max NaN, and the whole row NaN below */
            m1 = vmaxq_f32(m1, b);
        }
        mx = vmaxvq_f32(vmaxq_f32(m0, m1));
    }
    for (; j < w->lim; j++) {
        float v = scale * w->x[j * w->x_ns];
        if (w->m && w->m[j * w->m_ns] == 0.0f) v = ninf;
        s[j] = v;
        if (v > mx || v != v) mx = v; /* once NaN, stays NaN (v > NaN is false), as FMAX does */
    }
    return mx;
}

/* pass 2: s[j] = exp(s[j] - mx) for j < lim; returns the sum. */
static float exps(float *restrict s, int64_t lim, float mx)
{
    const float32x4_t vmx = vdupq_n_f32(mx);
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
    int64_t j = 0;
    for (; j + 8 <= lim; j += 8) {
        const float32x4_t e0 = vexp_neon(vsubq_f32(vld1q_f32(s + j), vmx));
        const float32x4_t e1 = vexp_neon(vsubq_f32(vld1q_f32(s + j + 4), vmx));
        vst1q_f32(s + j, e0);
        vst1q_f32(s + j + 4, e1);
        a0 = vaddq_f32(a0, e0);
        a1 = vaddq_f32(a1, e1);
    }
    float sum = vaddvq_f32(vaddq_f32(a0, a1));
    for (; j < lim; j++) {
        s[j] = exp1(s[j] - mx);
        sum += s[j];
    }
    return sum;
}

static void softmax_row(const struct row *w, float scale, float *scratch)
{
    float *s = w->y_ns == 1 ? w->y : scratch;
    const float mx = w->lim > 0 ? scores(w, scale, s) : -INFINITY;
    int64_t j = 0;
    if (mx == -INFINITY || mx != mx || mx == INFINITY) {
        /* all scores -inf, or a NaN / +inf score: naive gets exp(NaN) or inf - inf, and NaN everywhere */
        for (; j < w->n; j++) w->y[j * w->y_ns] = NAN;
        return;
    }
    const float inv = 1.0f / exps(s, w->lim, mx);
    if (s == w->y) {
        const float32x4_t vi = vdupq_n_f32(inv);
        for (; j + 4 <= w->lim; j += 4) vst1q_f32(s + j, vmulq_f32(vld1q_f32(s + j), vi));
        for (; j < w->lim; j++) s[j] *= inv;
    } else {
        for (; j < w->lim; j++) w->y[j * w->y_ns] = s[j] * inv;
    }
    for (; j < w->n; j++) w->y[j * w->y_ns] = 0.0f; /* causally masked: exp(-inf - max) = 0 */
}

enum mb_status mb_softmax_neon(const struct mb_softmax *p, const struct mb_exec *x)
{
    if (p->ndim < 0 || p->ndim >= MB_MAX_DIMS || p->n < 0) return MB_EINVAL;
    int64_t rows = 1;
    for (int d = 0; d < p->ndim; d++) rows *= p->shape[d];
    if (rows <= 0 || p->n == 0) return MB_OK;
    const int nt = x->nthreads > 1 && rows > 1 && rows * p->n >= PAR_MIN ? x->nthreads : 1;
    const int64_t pitch = (p->n + 15) / 16 * 16; /* scratch row per thread, 64-byte aligned */
    if (p->y_ns != 1 && (size_t)(nt * pitch) * sizeof(float) > x->work_size) return MB_ENOMEM;

#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t r = 0; r < rows; r++) {
        int id = 0;
#ifdef _OPENMP
        id = omp_get_thread_num();
#endif
        int64_t rem = r, xo = 0, yo = 0, mo = 0, qi = 0;
        for (int d = p->ndim - 1; d >= 0; d--) {
            const int64_t c = rem % p->shape[d];
            rem /= p->shape[d];
            if (d == p->ndim - 1) qi = c;
            xo += c * p->xs[d], yo += c * p->ys[d];
            if (p->mask) mo += c * p->ms[d];
        }
        const struct row w = {p->x + xo, p->x_ns, p->y + yo, p->y_ns, p->mask ? p->mask + mo : NULL, p->m_ns, p->n,
                              p->causal ? (qi + 1 < p->n ? qi + 1 : p->n) : p->n};
        softmax_row(&w, p->scale, p->y_ns != 1 ? (float *)x->work + id * pitch : NULL);
    }
    return MB_OK;
}
