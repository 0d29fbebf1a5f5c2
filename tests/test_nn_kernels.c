/*
 * test_nn_kernels.c: every registered BINARY, SOFTMAX and ATTENTION variant this CPU can run (enumerated
 * from mb_kernels[], so a new variant is tested by registering it) against fp64 references, over edge
 * sweeps that cross every vector width (8, 16), micro-tile (6, 12 rows; 16, 32 keys) and tile (192 x 128)
 * remainder, with guard zones around every output. Plus a dense test of the vector exp (simd/vexp.h).
 *
 * Tolerances are derived, not guessed (u = 2^-24):
 * - BINARY: exact. One IEEE operation on floats, computed in double and rounded once, is the correctly
 *   rounded float result (53 >= 2*24 + 2 bits, so double rounding is innocuous); compared bit for bit
 *   (any NaN matches any NaN; the sign of zero and of infinity must match).
 * - SOFTMAX: scores s = fl(scale*x) are the same float in every variant; with m = max s, the reference is
 *   exact in double. Per element: (s - m) rounds by u|s - m|, exp adds <= 2 ulp (vexp) or 1 ulp (libm),
 *   the n-term sum adds n u relative, the final division/reciprocal 2u. So
 *   |y - y_ref| <= 2 * u * y_ref * (n + 8 + |s_j - m| + A), A = sum_k y_ref_k |s_k - m|   (x2 safety), plus
 *   FLT_MIN absolute for outputs that underflow.
 * - ATTENTION: the fp32 dot product errs by <= D u scale sum_d |q||k| (=: delta_ij); the softmax weights by
 *   2 max_k delta_ik + (Tk + 16) u relative; O by that times sum_j p_ij |v_je| plus Tk u sum_j p_ij |v_je|.
 *   Tolerance = 2x that bound, plus FLT_MIN absolute.
 * Fully masked rows must be NaN exactly where the reference is NaN, and only there.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guarded.h"

#include "mb.h"

#define U 0x1p-24
#define GUARD 64
static const uint32_t SENTINEL = 0x7fc0beefu; /* a quiet NaN no kernel produces by arithmetic */

/* ---- helpers ------------------------------------------------------------------------------------ */

static uint64_t rng = 88172645463325252ull;
static float frand(void) /* uniform in [-1, 1) */
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) * 0x1p-53 * 2.0 - 1.0);
}

/* n floats with GUARD sentinel floats on each side; returns the interior. */
static float *galloc(size_t n)
{
    float *b = malloc((n + 2 * GUARD) * sizeof(float));
    assert_non_null(b);
    for (size_t i = 0; i < n + 2 * GUARD; i++) memcpy(&b[i], &SENTINEL, 4);
    return b + GUARD;
}
static void gcheck(float *p, size_t n, const char *var, const char *what)
{
    for (size_t i = 0; i < GUARD; i++) {
        uint32_t a, b;
        memcpy(&a, p - GUARD + i, 4);
        memcpy(&b, p + n + i, 4);
        if (a != SENTINEL || b != SENTINEL) fail_msg("%s %s: write outside the output (guard zone %zu)", var, what, i);
    }
}
static void gfree(float *p) { free(p - GUARD); }
/* Re-arms the guard zone right after the first n elements of a (larger) galloc'd buffer. */
static void garm(float *p, size_t n)
{
    for (size_t i = 0; i < GUARD; i++) memcpy(&p[n + i], &SENTINEL, 4);
}

static struct mb_exec ex(int nthreads, size_t work)
{
    struct mb_exec x = {0};
    x.nthreads = nthreads;
    x.work_size = work;
    x.work = work ? aligned_alloc(64, (work + 63) & ~(size_t)63) : NULL;
    if (work) assert_non_null(x.work);
    return x;
}

/* Variants of a kind that this machine can run. */
static int variants(enum mb_kind kind, const struct mb_kernel **out)
{
    int n = 0;
    for (int i = 0; i < mb_kernel_count; i++)
        if (mb_kernels[i].kind == kind && mb_kernel_available(&mb_kernels[i])) out[n++] = &mb_kernels[i];
    return n;
}

/* ---- BINARY ------------------------------------------------------------------------------------- */

static double ref_op(enum mb_binop op, double a, double b)
{
    switch (op) {
    case MB_ADD: return a + b;
    case MB_SUB: return a - b;
    case MB_MUL: return a * b;
    case MB_DIV: return a / b;
    }
    return 0;
}

/* Runs p (z must be galloc'd with zn elements) with every variant and thread count; checks bit-exactness. */
static void binary_case(struct mb_binary p, float *z, size_t zn, const char *what)
{
    const struct mb_kernel *v[64];
    const int nv = variants(MB_KIND_BINARY, v);
    int64_t total = mb_batch_count(p.ndim, p.shape);
    /* the inputs, exactly as far as they reach, end at a guard page: a read past them faults */
    const int64_t xn = mb_span(p.ndim, p.shape, p.xs), yn = mb_span(p.ndim, p.shape, p.ys);
    float *gx = mb_guarded_copy(p.x, xn), *gy = mb_guarded_copy(p.y, yn);
    p.x = gx, p.y = gy;
    for (int t = 1; t <= 2; t++)
        for (int i = 0; i < nv; i++) {
            for (size_t e = 0; e < zn; e++) z[e] = -777.0f;
            garm(z, zn);
            struct mb_exec x = ex(t, 1 << 12);
            p.z = z;
            enum mb_status s = v[i]->fn.BINARY(&p, &x);
            free(x.work);
            if (s != MB_OK) fail_msg("binary/%s %s: status %s", v[i]->variant, what, mb_status_str(s));
            gcheck(z, zn, v[i]->variant, what);
            for (int64_t f = 0; f < total; f++) {
                int64_t r = f, xo = 0, yo = 0, zo = 0;
                for (int d = p.ndim - 1; d >= 0; d--) {
                    int64_t c = r % p.shape[d];
                    r /= p.shape[d];
                    xo += c * p.xs[d], yo += c * p.ys[d], zo += c * p.zs[d];
                }
                float want = (float)ref_op(p.op, p.x[xo], p.y[yo]), got = z[zo];
                uint32_t a, b;
                memcpy(&a, &want, 4), memcpy(&b, &got, 4);
                if (!(isnan(want) && isnan(got)) && a != b)
                    fail_msg("binary/%s op %d %s threads %d: element %lld: got %a want %a", v[i]->variant, p.op, what,
                             t, (long long)f, got, want);
            }
        }
    mb_guarded_free(gx, xn), mb_guarded_free(gy, yn);
}

static void test_binary_sweep(void **state)
{
    (void)state;
    enum { NMAX = 70 };
    float *x = galloc(3 * NMAX * NMAX), *y = galloc(3 * NMAX * NMAX), *z = galloc(3 * NMAX * NMAX);
    for (int i = 0; i < 3 * NMAX * NMAX; i++) x[i] = frand() * 4, y[i] = frand() * 4 + 0.01f;
    char what[96];
    for (int op = MB_ADD; op <= MB_DIV; op++) {
        for (int64_t n = 1; n <= NMAX; n++) { /* 1-D: contiguous, and each operand broadcast */
            for (int pat = 0; pat < 4; pat++) {
                struct mb_binary p = {.op = op, .ndim = 1, .shape = {n}, .x = x, .xs = {pat & 1 ? 0 : 1}, .y = y,
                                      .ys = {pat & 2 ? 0 : 1}, .zs = {1}};
                snprintf(what, sizeof what, "1-D n=%lld pattern %d", (long long)n, pat);
                binary_case(p, z, (size_t)n, what);
            }
            struct mb_binary p = {.op = op, .ndim = 1, .shape = {n}, .x = x, .xs = {3}, .y = y, .ys = {2}, .zs = {2}};
            snprintf(what, sizeof what, "1-D strided n=%lld", (long long)n);
            binary_case(p, z, (size_t)(2 * n - 1), what);
        }
        for (int64_t r = 1; r <= 5; r += 2) /* 2-D: rows x n with every stride-0 pattern and transposes */
            for (int64_t n = 1; n <= NMAX; n += (n < 20 ? 1 : 7)) {
                const int64_t pats[][6] = {
                    {n, 1, 0, 1, n, 1}, /* (r,n) + (n,) */
                    {n, 1, 1, 0, n, 1}, /* (r,n) + (r,1) */
                    {0, 1, n, 1, n, 1}, /* (n,) + (r,n) */
                    {1, 0, n, 1, n, 1}, /* (r,1) + (r,n) */
                    {0, 1, 1, 0, n, 1}, /* outer: (n,) + (r,1) */
                    {1, r, n, 1, n, 1}, /* x transposed */
                    {n, 1, 1, r, 1, r}, /* y and z transposed: the tiled 2-D walk */
                    {0, 0, 0, 0, n, 1}, /* both scalars broadcast */
                };
                for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++) {
                    struct mb_binary p = {.op = op, .ndim = 2, .shape = {r, n}, .x = x, .xs = {pats[k][0], pats[k][1]},
                                          .y = y, .ys = {pats[k][2], pats[k][3]}, .zs = {pats[k][4], pats[k][5]}};
                    snprintf(what, sizeof what, "2-D %lldx%lld pattern %zu", (long long)r, (long long)n, k);
                    binary_case(p, z, (size_t)(r * n), what);
                }
            }
        /* the benchmark shapes: (32,10)+(10,), (32,20,10)+(20,1), rank 0, and a 0-sized dim */
        struct mb_binary a = {.op = op, .ndim = 2, .shape = {32, 10}, .x = x, .xs = {10, 1}, .y = y, .ys = {0, 1},
                              .zs = {10, 1}};
        binary_case(a, z, 320, "(32,10)+(10,)");
        struct mb_binary b = {.op = op, .ndim = 3, .shape = {32, 20, 10}, .x = x, .xs = {200, 10, 1}, .y = y,
                              .ys = {0, 1, 0}, .zs = {200, 10, 1}};
        binary_case(b, z, 6400, "(32,20,10)+(20,1)");
        struct mb_binary c = {.op = op, .ndim = 0, .x = x, .y = y};
        binary_case(c, z, 1, "rank 0");
        struct mb_binary d = {.op = op, .ndim = 2, .shape = {3, 0}, .x = x, .xs = {0, 1}, .y = y, .ys = {0, 1},
                              .zs = {0, 1}};
        binary_case(d, z, 0, "0-sized");
    }
    gfree(x), gfree(y), gfree(z);
}

static void test_binary_ieee_and_large(void **state)
{
    (void)state;
    const float sp[] = {0.0f, -0.0f, 1.0f, -2.0f, INFINITY, -INFINITY, NAN, 0x1p-149f, FLT_MAX, 3.0f, 2.0f};
    enum { NS = sizeof sp / sizeof sp[0] };
    float *z = galloc(NS * NS);
    for (int op = MB_ADD; op <= MB_DIV; op++) { /* every pair: x/0, 0/0, 2/-0, inf-inf, ... */
        struct mb_binary p = {.op = op, .ndim = 2, .shape = {NS, NS}, .x = sp, .xs = {1, 0}, .y = sp, .ys = {0, 1},
                              .zs = {NS, 1}};
        binary_case(p, z, NS * NS, "IEEE specials");
    }
    gfree(z);
    /* large enough for 2 threads and for the streaming-store path (>= 8 MiB output), odd length */
    const size_t n = ((size_t)1 << 21) + 13;
    float *x = galloc(n), *y = galloc(n), *w = galloc(n);
    for (size_t i = 0; i < n; i++) x[i] = frand(), y[i] = frand();
    struct mb_binary p = {.op = MB_ADD, .ndim = 2, .shape = {(int64_t)n / 1024, 1024}, .x = x + 1, .xs = {1024, 1},
                          .y = y, .ys = {0, 1}, .zs = {1024, 1}};
    binary_case(p, w + 3, n - 4, "large broadcast add (misaligned)");
    gfree(x), gfree(y), gfree(w);
}

/* ---- SOFTMAX ------------------------------------------------------------------------------------ */

/* Checks y of p (the output, galloc'd with yn elements) against the fp64 reference. */
static void softmax_check(const struct mb_softmax *p, const char *var, const char *what)
{
    const int64_t rows = mb_batch_count(p->ndim, p->shape), n = p->n;
    double *s = malloc((size_t)(n ? n : 1) * sizeof(double));
    for (int64_t r = 0; r < rows; r++) {
        int64_t rem = r, xo = 0, yo = 0, mo = 0, qi = 0;
        for (int d = p->ndim - 1; d >= 0; d--) {
            int64_t c = rem % p->shape[d];
            rem /= p->shape[d];
            if (d == p->ndim - 1) qi = c;
            xo += c * p->xs[d], yo += c * p->ys[d], mo += c * p->ms[d];
        }
        double m = -INFINITY, sum = 0, A = 0;
        for (int64_t j = 0; j < n; j++) {
            s[j] = (double)(p->scale * p->x[xo + j * p->x_ns]);
            if ((p->mask && p->mask[mo + j * p->m_ns] == 0.0f) || (p->causal && j > qi)) s[j] = -INFINITY;
            if (s[j] > m) m = s[j];
        }
        for (int64_t j = 0; j < n; j++) sum += exp(s[j] - m);
        for (int64_t j = 0; j < n; j++) A += exp(s[j] - m) / sum * (isinf(s[j]) ? 0 : fabs(s[j] - m));
        for (int64_t j = 0; j < n; j++) {
            const double want = exp(s[j] - m) / sum; /* NaN for an all -inf row */
            const float got = p->y[yo + j * p->y_ns];
            if (isnan(want) || isnan(got)) {
                if (isnan(want) != isnan(got))
                    fail_msg("softmax/%s %s: row %lld j %lld: got %g want %g", var, what, (long long)r, (long long)j,
                             got, want);
                continue;
            }
            const double tol = 2 * U * want * (double)(n + 8 + (isinf(s[j]) ? 0 : fabs(s[j] - m)) + A) + FLT_MIN;
            if (fabs(got - want) > tol)
                fail_msg("softmax/%s %s: row %lld j %lld: got %.9g want %.9g (tol %.3g)", var, what, (long long)r,
                         (long long)j, got, want, tol);
        }
    }
    free(s);
}

/* Runs p with every variant and thread count 1, 2; y must be galloc'd with yn elements. */
static void softmax_case(struct mb_softmax p, float *y, size_t yn, size_t work, const char *what)
{
    const struct mb_kernel *v[64];
    const int nv = variants(MB_KIND_SOFTMAX, v);
    /* x and the mask, exactly as far as they reach, end at a guard page */
    int64_t sh[MB_MAX_DIMS + 1], xst[MB_MAX_DIMS + 1], mst[MB_MAX_DIMS + 1];
    for (int d = 0; d < p.ndim; d++) sh[d] = p.shape[d], xst[d] = p.xs[d], mst[d] = p.ms[d];
    sh[p.ndim] = p.n, xst[p.ndim] = p.x_ns, mst[p.ndim] = p.m_ns;
    const int64_t xn = mb_span(p.ndim + 1, sh, xst), mn = p.mask ? mb_span(p.ndim + 1, sh, mst) : 0;
    float *gx = mb_guarded_copy(p.x, xn), *gm = p.mask ? mb_guarded_copy(p.mask, mn) : NULL;
    p.x = gx, p.mask = gm;
    for (int t = 1; t <= 2; t++)
        for (int i = 0; i < nv; i++) {
            for (size_t e = 0; e < yn; e++) y[e] = -777.0f;
            garm(y, yn);
            struct mb_exec x = ex(t, work);
            p.y = y;
            enum mb_status s = v[i]->fn.SOFTMAX(&p, &x);
            free(x.work);
            if (s != MB_OK) fail_msg("softmax/%s %s: status %s", v[i]->variant, what, mb_status_str(s));
            gcheck(y, yn, v[i]->variant, what);
            softmax_check(&p, v[i]->variant, what);
        }
    mb_guarded_free(gx, xn), mb_guarded_free(gm, mn);
}

static void test_softmax_sweep(void **state)
{
    (void)state;
    enum { NMAX = 70, R = 37 }; /* rows: 2 groups of 16 (AVX-512) / 4 of 8 (AVX2) lanes of the short-row path + 5 */
    float *x = galloc(R * NMAX * 2), *m = galloc(R * NMAX * 2), *y = galloc(R * NMAX * 2);
    char what[128];
    for (int64_t n = 1; n <= NMAX; n++) {
        for (int i = 0; i < R * NMAX * 2; i++) {
            x[i] = frand() * 8;
            m[i] = (float)(frand() > -0.6f); /* ~20% masked */
            if (i % 13 == 5) x[i] = -INFINITY;
            if (i % 29 == 7) x[i] += 1000.0f; /* +1000 offsets: max subtraction must matter */
        }
        for (int j = 0; j < n; j++) m[3 * n + j] = 0.0f; /* row 3 fully masked -> NaN */
        for (int c = 0; c < 2; c++)
            for (int mk = 0; mk < 4; mk++) {
                const float scale = mk == 1 ? 0.125f : mk == 2 ? 3.0f : 1.0f;
                /* contiguous rows (R, n), with mask: none / full / broadcast over rows / broadcast along n */
                struct mb_softmax p = {.ndim = 1, .shape = {R}, .n = n, .x = x, .xs = {n}, .x_ns = 1, .ys = {n},
                                       .y_ns = 1, .scale = scale, .causal = c};
                if (mk == 1) p.mask = m, p.ms[0] = n, p.m_ns = 1;
                if (mk == 2) p.mask = m + n, p.ms[0] = 0, p.m_ns = 1;
                if (mk == 3) p.mask = m, p.ms[0] = 1, p.m_ns = 0;
                snprintf(what, sizeof what, "rows %dx%lld causal %d mask %d", R, (long long)n, c, mk);
                softmax_case(p, y, (size_t)(R * n), 0, what); /* work 0: the contiguous path needs none */
                /* strided axis: softmax over axis 0 of an (n, R) array, output transposed too */
                struct mb_softmax q = {.ndim = 1, .shape = {R}, .n = n, .x = x, .xs = {1}, .x_ns = R, .ys = {1},
                                       .y_ns = R, .scale = scale, .causal = c};
                if (mk == 1) q.mask = m, q.ms[0] = 1, q.m_ns = R;
                if (mk == 3) q.mask = m, q.ms[0] = 0, q.m_ns = 2;
                snprintf(what, sizeof what, "axis-0 %lldx%d causal %d mask %d", (long long)n, R, c, mk);
                softmax_case(q, y, (size_t)(R * n), (size_t)1 << 20, what);
            }
    }
    /* rank 0 (one row), 3 row dims, 0-sized */
    struct mb_softmax a = {.ndim = 0, .n = 17, .x = x, .x_ns = 1, .y_ns = 1, .scale = 1.0f, .causal = 1};
    softmax_case(a, y, 17, 0, "rank 0 causal");
    struct mb_softmax b = {.ndim = 3, .shape = {2, 3, 4}, .n = 9, .x = x, .xs = {108, 36, 9}, .x_ns = 1, .y = y,
                           .ys = {108, 36, 9}, .y_ns = 1, .mask = m, .ms = {0, 0, 9}, .m_ns = 1, .scale = 0.5f,
                           .causal = 1};
    softmax_case(b, y, 216, 0, "3 row dims, mask broadcast over batch");
    struct mb_softmax c = {.ndim = 1, .shape = {0}, .n = 5, .x = x, .xs = {5}, .x_ns = 1, .ys = {5}, .y_ns = 1};
    softmax_case(c, y, 0, 0, "0 rows");
    gfree(x), gfree(m), gfree(y);
    /* big enough for two threads (the attention-score benchmark row shape) */
    const int64_t rows = 300, n = 1024;
    float *bx = galloc((size_t)(rows * n)), *by = galloc((size_t)(rows * n));
    for (int64_t i = 0; i < rows * n; i++) bx[i] = frand() * 10;
    struct mb_softmax d = {.ndim = 1, .shape = {rows}, .n = n, .x = bx, .xs = {n}, .x_ns = 1, .ys = {n}, .y_ns = 1,
                           .scale = 0.125f, .causal = 1};
    softmax_case(d, by, (size_t)(rows * n), 0, "300x1024 causal");
    gfree(bx), gfree(by);
}

/* ---- ATTENTION ---------------------------------------------------------------------------------- */

struct att_case {
    int64_t B, H, Tq, Tk, D, Dv;
    int causal, mask, weights, bshd; /* mask: 0 none, 1 per (b,h), 2 broadcast over b,h, 3 over h, transposed */
    int ramp; /* K row j scaled by 1 + j/8: the running max keeps jumping (attention_simd.h's lazy-max fallback) */
    int64_t work_rows; /* > 0: workspace of work_rows x Tk floats per thread; variants needing more (MB_ENOMEM)
                        * are skipped, except the "blas" peer, which must split its heads into row blocks */
};

static void attention_case(const struct att_case *c)
{
    const int64_t B = c->B, H = c->H, Tq = c->Tq, Tk = c->Tk, D = c->D, Dv = c->Dv;
    char what[160];
    snprintf(what, sizeof what, "B%lld H%lld Tq%lld Tk%lld D%lld Dv%lld causal %d mask %d w %d bshd %d ramp %d",
             (long long)B, (long long)H, (long long)Tq, (long long)Tk, (long long)D, (long long)Dv, c->causal,
             c->mask, c->weights, c->bshd, c->ramp);
    const size_t nq = (size_t)(B * H * Tq * D), nk = (size_t)(B * H * Tk * D), nv = (size_t)(B * H * Tk * Dv);
    const size_t no = (size_t)(B * H * Tq * Dv), nw = (size_t)(B * H * Tq * Tk), nm = nw;
    /* inputs end at a guard page (a read past them faults), outputs sit between guard zones */
    float *q = mb_guarded_alloc((int64_t)nq), *k = mb_guarded_alloc((int64_t)nk), *v = mb_guarded_alloc((int64_t)nv);
    float *o = galloc(no), *w = galloc(nw), *m = mb_guarded_alloc((int64_t)nm);
    for (size_t i = 0; i < nq; i++) q[i] = frand();
    for (size_t i = 0; i < nk; i++) k[i] = frand();
    for (size_t i = 0; i < nv; i++) v[i] = frand();
    for (size_t i = 0; i < nm; i++) m[i] = (float)(frand() > -0.5f);
    if (c->mask && Tq > 1)
        for (int64_t j = 0; j < Tk; j++) m[1 * Tk + j] = 0.0f; /* query row 1 fully masked (also m_ks = Tq case) */
    struct mb_attention p = {.Tq = Tq, .Tk = Tk, .D = D, .Dv = Dv, .nbatch = 2, .batch = {B, H}, .q = q, .k = k,
                             .v = v, .scale = 1.0f / sqrtf((float)(D ? D : 1)), .causal = c->causal};
    if (c->bshd) { /* (B, S, H, D) storage: heads interleaved within each token row */
        p.q_bs[0] = Tq * H * D, p.q_bs[1] = D, p.q_ts = H * D, p.q_ds = 1;
        p.k_bs[0] = Tk * H * D, p.k_bs[1] = D, p.k_ts = H * D, p.k_ds = 1;
        p.v_bs[0] = Tk * H * Dv, p.v_bs[1] = Dv, p.v_ts = H * Dv, p.v_ds = 1;
        p.o_bs[0] = Tq * H * Dv, p.o_bs[1] = Dv, p.o_ts = H * Dv, p.o_ds = 1;
    } else {
        p.q_bs[0] = H * Tq * D, p.q_bs[1] = Tq * D, p.q_ts = D, p.q_ds = 1;
        p.k_bs[0] = H * Tk * D, p.k_bs[1] = Tk * D, p.k_ts = D, p.k_ds = 1;
        p.v_bs[0] = H * Tk * Dv, p.v_bs[1] = Tk * Dv, p.v_ts = Dv, p.v_ds = 1;
        p.o_bs[0] = H * Tq * Dv, p.o_bs[1] = Tq * Dv, p.o_ts = Dv, p.o_ds = 1;
    }
    if (c->ramp)
        for (int64_t b = 0; b < B * H; b++)
            for (int64_t j = 0; j < Tk; j++)
                for (int64_t d = 0; d < D; d++)
                    k[mb_batch_offset(2, p.batch, p.k_bs, b) + j * p.k_ts + d] *= 1.0f + (float)j / 8.0f;
    if (c->mask) {
        p.mask = m;
        if (c->mask == 1) p.m_bs[0] = H * Tq * Tk, p.m_bs[1] = Tq * Tk, p.m_qs = Tk, p.m_ks = 1;
        if (c->mask == 2) p.m_bs[0] = 0, p.m_bs[1] = 0, p.m_qs = Tk, p.m_ks = 1;
        if (c->mask == 3) p.m_bs[0] = Tq * Tk, p.m_bs[1] = 0, p.m_qs = 1, p.m_ks = Tq; /* transposed */
    }
    if (c->weights) p.w_bs[0] = H * Tq * Tk, p.w_bs[1] = Tq * Tk, p.w_qs = Tk, p.w_ks = 1;
    /* fp64 reference with per-element bounds */
    double *O = calloc(no + 1, sizeof(double)), *Ot = calloc(no + 1, sizeof(double));
    double *W = calloc(nw + 1, sizeof(double)), *Wt = calloc(nw + 1, sizeof(double));
    double *s = malloc((size_t)(Tk + 1) * sizeof(double)), *dl = malloc((size_t)(Tk + 1) * sizeof(double));
    for (int64_t b = 0; b < B * H; b++) {
        const float *qb = q + mb_batch_offset(2, p.batch, p.q_bs, b), *kb = k + mb_batch_offset(2, p.batch, p.k_bs, b);
        const float *vb = v + mb_batch_offset(2, p.batch, p.v_bs, b);
        const float *mb = p.mask ? m + mb_batch_offset(2, p.batch, p.m_bs, b) : NULL;
        for (int64_t i = 0; i < Tq; i++) {
            double mx = -INFINITY, sum = 0, dmax = 0;
            for (int64_t j = 0; j < Tk; j++) {
                double acc = 0, aabs = 0;
                for (int64_t d = 0; d < D; d++) {
                    acc += (double)qb[i * p.q_ts + d] * kb[j * p.k_ts + d];
                    aabs += fabs((double)qb[i * p.q_ts + d] * kb[j * p.k_ts + d]);
                }
                s[j] = p.scale * acc;
                dl[j] = (D + 2) * U * p.scale * aabs;
                if ((mb && mb[i * p.m_qs + j * p.m_ks] == 0.0f) || (p.causal && j > i)) s[j] = -INFINITY;
                else if (dl[j] > dmax) dmax = dl[j];
                if (s[j] > mx) mx = s[j];
            }
            for (int64_t j = 0; j < Tk; j++) sum += exp(s[j] - mx);
            const double rel = 2 * dmax + (Tk + 16) * U;
            const int64_t ob = b * Tq * Dv + i * Dv, wb = b * Tq * Tk + i * Tk; /* reference index (dense) */
            for (int64_t j = 0; j < Tk; j++) {
                const double pj = exp(s[j] - mx) / sum; /* NaN for a fully masked row */
                W[wb + j] = pj;
                Wt[wb + j] = 2 * pj * rel + FLT_MIN;
                for (int64_t e = 0; e < Dv; e++) {
                    O[ob + e] += pj * vb[j * p.v_ts + e];
                    Ot[ob + e] += 2 * pj * fabs(vb[j * p.v_ts + e]) * (rel + Tk * U);
                }
            }
            for (int64_t e = 0; e < Dv; e++) Ot[ob + e] += FLT_MIN;
        }
    }
    const struct mb_kernel *vr[64];
    const int nvar = variants(MB_KIND_ATTENTION, vr);
    for (int t = 1; t <= 2; t++)
        for (int iv = 0; iv < nvar; iv++) {
            for (size_t e = 0; e < no; e++) o[e] = -777.0f;
            for (size_t e = 0; e < nw; e++) w[e] = -777.0f;
            p.o = o;
            p.w = c->weights ? w : NULL;
            struct mb_exec x = ex(t, c->work_rows ? (size_t)(c->work_rows * Tk) * sizeof(float) * (size_t)t
                                                  : (size_t)16 << 20);
            enum mb_status st = vr[iv]->fn.ATTENTION(&p, &x);
            free(x.work);
            if (st == MB_ENOMEM && c->work_rows && strcmp(vr[iv]->variant, "blas")) continue;
            if (st != MB_OK) fail_msg("attention/%s %s: status %s", vr[iv]->variant, what, mb_status_str(st));
            gcheck(o, no, vr[iv]->variant, what);
            gcheck(w, nw, vr[iv]->variant, what);
            for (int64_t b = 0; b < B * H; b++)
                for (int64_t i = 0; i < Tq; i++) {
                    const float *orow = o + mb_batch_offset(2, p.batch, p.o_bs, b) + i * p.o_ts;
                    for (int64_t e = 0; e < Dv; e++) {
                        const double want = O[b * Tq * Dv + i * Dv + e], tol = Ot[b * Tq * Dv + i * Dv + e];
                        const float got = orow[e];
                        if (isnan(want) != isnan(got) || (!isnan(want) && !(fabs(got - want) <= tol)))
                            fail_msg("attention/%s %s threads %d: O[%lld][%lld][%lld] got %.9g want %.9g tol %.3g",
                                     vr[iv]->variant, what, t, (long long)b, (long long)i, (long long)e, got, want,
                                     tol);
                    }
                    if (!c->weights) continue;
                    for (int64_t j = 0; j < Tk; j++) {
                        const double want = W[b * Tq * Tk + i * Tk + j], tol = Wt[b * Tq * Tk + i * Tk + j];
                        const float got = w[b * Tq * Tk + i * Tk + j];
                        if (isnan(want) != isnan(got) || (!isnan(want) && !(fabs(got - want) <= tol)))
                            fail_msg("attention/%s %s threads %d: W[%lld][%lld][%lld] got %.9g want %.9g tol %.3g",
                                     vr[iv]->variant, what, t, (long long)b, (long long)i, (long long)j, got, want,
                                     tol);
                    }
                }
        }
    free(O), free(Ot), free(W), free(Wt), free(s), free(dl);
    mb_guarded_free(q, (int64_t)nq), mb_guarded_free(k, (int64_t)nk), mb_guarded_free(v, (int64_t)nv);
    mb_guarded_free(m, (int64_t)nm), gfree(o), gfree(w);
}

static void test_attention_sweep(void **state)
{
    (void)state;
    /* sizes crossing: 6/12-row micro-tiles, 32-row tiled blocks (192-row blocks: the benchmark-layout test),
     * 16/32-key micro-tiles, 64/128-key tiles,
     * 8/16-lane vectors and 16/64-wide Dv chunks; D and Dv odd; Tq != Tk both ways */
    const int64_t tq[] = {1, 5, 13, 97, 130};
    const int64_t tk[] = {1, 7, 33, 129, 200};
    const int64_t dd[][2] = {{1, 1}, {3, 5}, {13, 17}, {64, 64}, {8, 65}};
    int n = 0;
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 5; b++, n++) {
            const int64_t *d = dd[n % 5];
            struct att_case c = {1 + (int64_t)(n % 2), 1 + (int64_t)(n % 3), tq[a], tk[b], d[0], d[1],
                                 n % 2, n % 4, n % 3 == 0, n % 5 == 1, 0, 0};
            attention_case(&c);
        }
    /* 0-sized dims: Tk = 0 gives O = 0, Tq = 0 and Dv = 0 write nothing, D = 0 gives uniform weights */
    const struct att_case z[] = {{1, 2, 5, 0, 4, 4, 0, 0, 0, 0, 0, 0}, {1, 2, 0, 5, 4, 4, 1, 1, 1, 0, 0, 0},
                                 {2, 1, 5, 6, 4, 0, 1, 2, 1, 0, 0, 0}, {2, 1, 7, 6, 0, 3, 0, 1, 1, 0, 0, 0},
                                 {1, 1, 20, 20, 4, 4, 1, 3, 1, 1, 0, 0}};
    for (size_t i = 0; i < sizeof z / sizeof z[0]; i++) attention_case(&z[i]);
}

/* The benchmark layout (B,H,S,D) at a size with several blocks and tiles per head: every variant must take
 * it (MB_OK, no ENOTSUP fallback), causal and not, threads 1 and 2. */
static void test_attention_benchmark_layout(void **state)
{
    (void)state;
    const struct att_case c0 = {2, 2, 300, 300, 64, 64, 0, 0, 0, 0, 0, 0}, c1 = {1, 3, 257, 257, 64, 64, 1, 0, 1, 0, 0, 0};
    attention_case(&c0);
    attention_case(&c1);
    /* growing scores along the keys: later key tiles exceed the running max by more than the lazy threshold */
    const struct att_case c2 = {2, 2, 300, 300, 64, 64, 0, 0, 1, 0, 1, 0}, c3 = {1, 2, 200, 300, 64, 64, 1, 0, 0, 1, 1, 0};
    attention_case(&c2);
    attention_case(&c3);
    /* the naive-BLAS peer with room for 7 rows of scores per thread: 43 query rows in blocks of 7 per head */
    const struct att_case c4 = {2, 1, 43, 50, 16, 16, 1, 1, 1, 0, 0, 7};
    attention_case(&c4);
}

/* ---- the vector exp ----------------------------------------------------------------------------- */
/* Each ISA instance of vexp.h is compiled with its own flags in tests/vexp_<isa>.c; both are checked. */
#if MB_HAVE_X86
#include "vexp_isa.h"

static void check_vexp(void (*vexp_n)(const float *, float *, size_t), const char *isa)
{
    enum { CH = 4096 };
    float in[CH], out[CH];
    double maxrel = 0, maxsub = 0, at = 0;
    const double lo = -180.0, hi = 89.0, step = (hi - lo) / (double)(1 << 23); /* below the clamp too */
    for (int64_t base = 0; base < (1 << 23); base += CH) {
        for (int i = 0; i < CH; i++) in[i] = (float)(lo + (double)(base + i) * step);
        vexp_n(in, out, CH);
        for (int i = 0; i < CH; i++) {
            const double want = exp((double)in[i]);
            if (want > FLT_MAX) { /* overflow: +inf, exactly when the rounded value would be */
                if (!(out[i] >= FLT_MAX)) /* +inf, or FLT_MAX within rounding */
                    fail_msg("%s vexp(%a) = %a, want +inf", isa, in[i], out[i]);
                continue;
            }
            if (want >= FLT_MIN) {
                const double rel = fabs(out[i] - want) / want;
                if (rel > maxrel) maxrel = rel, at = in[i];
            } else {
                const double abserr = fabs(out[i] - want) - 0x1p-150; /* beyond the rounding of the result */
                if (abserr > maxsub) maxsub = abserr;
            }
        }
    }
    print_message("%s vexp max rel error %.3g (%.2f ulp) at %a; subnormal excess abs %.3g\n", isa, maxrel,
                  maxrel / 0x1p-24, at, maxsub);
    assert_true(maxrel <= mb_vexp_max_rel);
    assert_true(maxsub <= mb_vexp_max_abs_sub);
    /* special values */
    float sp[16] = {-INFINITY, INFINITY, NAN, 0.0f, -0.0f, -200.0f, 200.0f, 88.72283f}, r[16];
    vexp_n(sp, r, 16);
    uint32_t bits;
    memcpy(&bits, &r[0], 4);
    assert_true(bits == 0u); /* -inf -> +0 exactly */
    assert_true(isinf(r[1]) && r[1] > 0);
    assert_true(isnan(r[2]));
    assert_true(r[3] == 1.0f && r[4] == 1.0f);
    memcpy(&bits, &r[5], 4);
    assert_true(bits == 0u);
    assert_true(isinf(r[6]));
    assert_true(isfinite(r[7]) && fabs(r[7] - exp((double)sp[7])) <= mb_vexp_max_rel * exp((double)sp[7]));
}

/* attention_simd.h's base-2 exp (nn_exp2, one instance per ISA, exported by attention_<isa>.c for this test):
 * the same documented bounds as vf_exp, on its domain (scores minus their max: <= 0, -inf, NaN), except that
 * the AVX2 instance flushes results below FLT_MIN to +0. */
void mb_test_att_exp2_avx2(const float *in, float *out, size_t n);
void mb_test_att_exp2_avx512(const float *in, float *out, size_t n);

/* ftz: results below FLT_MIN may be +0 (the AVX2 instance, see attention_simd.h), else subnormal-accurate */
static void check_att_exp2(void (*f)(const float *, float *, size_t), const char *isa, int ftz)
{
    enum { CH = 4096 };
    float in[CH], out[CH];
    double maxrel = 0, maxsub = 0, at = 0;
    for (int part = 0; part < 2; part++) { /* 2^23 points on [-150, 0], then 2^22 on [-1, 0] */
        const double lo = part ? -1.0 : -150.0;
        const int64_t npts = part ? (1 << 22) : (1 << 23);
        const double step = -lo / (double)npts;
        for (int64_t base = 0; base < npts; base += CH) {
            for (int i = 0; i < CH; i++) in[i] = (float)(lo + (double)(base + i) * step);
            f(in, out, CH);
            for (int i = 0; i < CH; i++) {
                const double want = exp2((double)in[i]);
                if (want >= FLT_MIN) {
                    const double rel = fabs(out[i] - want) / want;
                    if (rel > maxrel) maxrel = rel, at = in[i];
                } else if (ftz) { /* +0, or within the relative bound (flushing at or above FLT_MIN fails above) */
                    if (out[i] != 0.0f && fabs(out[i] - want) / want > mb_vexp_max_rel) maxsub = INFINITY;
                } else {
                    const double abserr = fabs(out[i] - want) - 0x1p-150;
                    if (abserr > maxsub) maxsub = abserr;
                }
            }
        }
    }
    print_message("%s attention exp2 max rel error %.3g (%.2f ulp) at %a; subnormal excess abs %.3g\n", isa,
                  maxrel, maxrel / 0x1p-24, at, maxsub);
    assert_true(maxrel <= mb_vexp_max_rel);
    assert_true(maxsub <= mb_vexp_max_abs_sub);
    float sp[16] = {-INFINITY, NAN, 0.0f, -0.0f, -200.0f, -1e30f, -149.0f, -126.0f}, r[16];
    f(sp, r, 16);
    uint32_t bits;
    memcpy(&bits, &r[0], 4);
    assert_true(bits == 0u); /* -inf -> +0 exactly */
    assert_true(isnan(r[1]));
    assert_true(r[2] == 1.0f && r[3] == 1.0f);
    memcpy(&bits, &r[4], 4);
    assert_true(bits == 0u);
    memcpy(&bits, &r[5], 4);
    assert_true(bits == 0u);
    assert_true(r[6] == (ftz ? 0.0f : 0x1p-149f) && r[7] == 0x1p-126f);
}

static void test_attention_exp2(void **state)
{
    (void)state;
    unsigned f = mb_cpu_features();
    if (!(f & MB_NEED_AVX2)) skip();
    check_att_exp2(mb_test_att_exp2_avx2, "avx2", 1);
    if (f & MB_NEED_AVX512) check_att_exp2(mb_test_att_exp2_avx512, "avx512", 0);
    else print_message("avx512 attention exp2 not checked: CPU lacks AVX-512\n");
}

static void test_vexp(void **state)
{
    (void)state;
    unsigned f = mb_cpu_features();
    if (!(f & MB_NEED_AVX2)) skip();
    check_vexp(mb_test_vexp_avx2, "avx2");
    if (f & MB_NEED_AVX512) check_vexp(mb_test_vexp_avx512, "avx512");
    else print_message("avx512 vexp not checked: CPU lacks AVX-512\n");
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_sweep),         cmocka_unit_test(test_binary_ieee_and_large),
        cmocka_unit_test(test_softmax_sweep),        cmocka_unit_test(test_attention_sweep),
        cmocka_unit_test(test_attention_benchmark_layout),
#if MB_HAVE_X86
        cmocka_unit_test(test_vexp),                 cmocka_unit_test(test_attention_exp2),
#endif
    };
    return cmocka_run_group_tests_name("nn_kernels", tests, NULL, NULL);
}
