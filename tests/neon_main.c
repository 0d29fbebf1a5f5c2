/*
 * neon_main.c: framework-free edge sweeps of one SIMD variant's GEMM, BINARY and SOFTMAX kernels against
 * fp64 loop references (BINARY: the exact fp32 operation). Built as a plain program so that the aarch64 cross
 * build runs it under qemu-aarch64 (scripts/test-aarch64.sh) without cmocka.
 *
 *   neon [--variant=NAME] [-v]      (default variant: neon)
 *
 * GEMM: M x N over 1..40 (every remainder of the 8x12 register block, K cycling through 1..40 and primes),
 * K over 1..40, every layout of A, B, C (row-major, column-major, strided with gaps), batch with broadcast
 * operands over 1-4 batch dims, alpha/beta/bias (bias strides 1 and 3), beta == 0 over a C full of NaN,
 * K / M / N larger than the cache blocks, a workspace too small for the default blocks, K == 0, empty
 * problems, and 1, 2, 3 threads compared bit for bit. Every output buffer carries guard zones (and the gaps of
 * strided layouts) filled with a sentinel that must survive; GEMM and BINARY inputs end at a PROT_NONE page.
 * BINARY: every op over contiguous runs 0..40 and long threaded runs, 2-D / 3-D broadcast patterns, transposed
 * and strided operands, 0-d and 0-sized shapes, division by zero; compared bitwise (NaN == NaN).
 * SOFTMAX: n 1..40 and long rows, scale, 0/1 masks (unit-stride, strided, broadcast), causal, strided x / y
 * (the scratch path), rows of -inf / NaN / +inf (NaN like the naive kernel), thread counts bitwise, and the
 * vectorized exp's error measured on a dense sweep of [-103.9, -21] against exp() (where softmax returns exp
 * exactly) and asserted against the bound documented in vexp.h (2.4e-7 relative, +2^-149 on subnormals).
 *
 * Prints one FAIL line per failed check (the first 40), a summary per kind, and `N passed, N failed`; exits 1 on
 * any failure. A variant this build or CPU lacks prints a skip line and `0 passed, 0 failed`.
 */
#include "mb.h"

#include "guarded.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD 64 /* sentinel floats before and after every output */

struct run {
    const struct mb_kernel *gemm, *binary, *softmax;
    int pass, fail, verbose;
    uint64_t rng;
};

static void check(struct run *r, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void check(struct run *r, bool ok, const char *fmt, ...)
{
    if (ok) {
        r->pass++;
        return;
    }
    if (r->fail++ < 40) {
        va_list ap;
        va_start(ap, fmt);
        printf("FAIL ");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
}

static void *xalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
    if (!p) {
        fprintf(stderr, "%s:%d: out of memory (%zu bytes)\n", __FILE__, __LINE__, n);
        exit(2);
    }
    return p;
}

static float frand(struct run *r) /* uniform in [-1, 1) */
{
    r->rng ^= r->rng << 13, r->rng ^= r->rng >> 7, r->rng ^= r->rng << 17;
    return (float)((double)(r->rng >> 11) * 0x1p-52 - 1.0);
}

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static bool same(float a, float b) { return (isnan(a) && isnan(b)) || bits(a) == bits(b); }

#define SENTINEL_BITS 0x7fa5a5a5u /* a signalling-NaN payload no kernel produces */

struct exec_buf {
    struct mb_exec x;
    void *mem;
};
static struct exec_buf exec_make(int nthreads, size_t work)
{
    struct exec_buf e;
    memset(&e, 0, sizeof e);
    e.mem = work ? xalloc(work) : NULL;
    e.x.work = e.mem;
    e.x.work_size = work;
    e.x.nthreads = nthreads;
    return e;
}

/* An output buffer of `extent` floats between guard zones; `valid` marks the elements the kernel may write. */
struct outbuf {
    float *mem, *p;
    unsigned char *valid;
    int64_t extent;
};
static struct outbuf out_make(int64_t extent)
{
    struct outbuf o;
    o.extent = extent;
    o.mem = xalloc((size_t)(extent + 2 * GUARD) * sizeof(float));
    o.p = o.mem + GUARD;
    o.valid = calloc((size_t)extent + 1, 1);
    for (int64_t i = 0; i < extent + 2 * GUARD; i++) o.mem[i] = from_bits(SENTINEL_BITS);
    return o;
}
static bool out_guards_ok(const struct outbuf *o)
{
    for (int64_t i = 0; i < o->extent + 2 * GUARD; i++) {
        int64_t j = i - GUARD;
        bool inside = j >= 0 && j < o->extent && o->valid[j];
        if (!inside && bits(o->mem[i]) != SENTINEL_BITS) return false;
    }
    return true;
}
static void out_free(struct outbuf *o)
{
    free(o->mem);
    free(o->valid);
}

// ---------------------------------------------------------------------------------------------------------------------
// GEMM

enum layout { ROW, COL, STRIDED }; /* STRIDED: column stride 2 and a padded row stride */

struct gcase {
    int64_t M, N, K;
    int nbatch;
    int64_t batch[MB_MAX_BATCH];
    unsigned bcast_a, bcast_b; /* bit i: operand broadcast along batch dim i (stride 0) */
    enum layout la, lb, lc;
    float alpha, beta;
    int bias_s; /* 0 = no bias */
    int nthreads;
    size_t work;     /* 0 = 64 MiB */
    int64_t l1d, l2, l3; /* cache sizes handed to the kernel (0 = kernel defaults) */
    bool nan_c;      /* fill C with NaN (beta must be 0) */
};

static void strides_for(enum layout l, int64_t rows, int64_t cols, int64_t *rs, int64_t *cs, int64_t *size)
{
    switch (l) {
    case ROW: *rs = cols + 1, *cs = 1; break;    /* a one-float gap after each row */
    case COL: *rs = 1, *cs = rows + 2; break;
    case STRIDED: *cs = 2, *rs = 2 * cols + 3; break;
    }
    *size = rows == 0 || cols == 0 ? 1 : (rows - 1) * *rs + (cols - 1) * *cs + 1;
}

/* row-major batch strides over the dims not broadcast */
static int64_t batch_strides(const struct gcase *c, unsigned bcast, int64_t mat, int64_t *bs)
{
    int64_t s = mat + 3; /* a gap between matrices */
    for (int i = c->nbatch - 1; i >= 0; i--) {
        bs[i] = bcast >> i & 1 ? 0 : s;
        if (!(bcast >> i & 1)) s *= c->batch[i];
    }
    return s; /* total extent */
}

static const char *lname(enum layout l) { return l == ROW ? "row" : l == COL ? "col" : "strided"; }

/* Returns the C buffer contents (caller frees) so that thread counts can be compared bit for bit. */
static float *gemm_case(struct run *r, const struct gcase *c)
{
    char name[256];
    snprintf(name, sizeof name, "gemm %lldx%lldx%lld batch%d[%lld,%lld,%lld,%lld] bc=%u/%u %s/%s/%s a=%g b=%g bias_s=%d "
             "nt=%d work=%zu",
             (long long)c->M, (long long)c->N, (long long)c->K, c->nbatch, (long long)c->batch[0],
             (long long)c->batch[1], (long long)c->batch[2], (long long)c->batch[3], c->bcast_a, c->bcast_b,
             lname(c->la), lname(c->lb), lname(c->lc), c->alpha, c->beta, c->bias_s, c->nthreads, c->work);
    struct mb_gemm p;
    memset(&p, 0, sizeof p);
    p.M = c->M, p.N = c->N, p.K = c->K, p.nbatch = c->nbatch;
    for (int i = 0; i < c->nbatch; i++) p.batch[i] = c->batch[i];
    int64_t ma, mb, mc;
    strides_for(c->la, c->M, c->K, &p.a_rs, &p.a_cs, &ma);
    strides_for(c->lb, c->K, c->N, &p.b_rs, &p.b_cs, &mb);
    strides_for(c->lc, c->M, c->N, &p.c_rs, &p.c_cs, &mc);
    const int64_t ea = batch_strides(c, c->bcast_a, ma, p.a_bs), eb = batch_strides(c, c->bcast_b, mb, p.b_bs);
    const int64_t ec = batch_strides(c, 0, mc, p.c_bs);
    /* A and B end at a guard page: a read past them faults */
    float *A = mb_guarded_alloc(ea), *B = mb_guarded_alloc(eb), *bias = xalloc((size_t)(3 * c->N + 1) * 4);
    for (int64_t i = 0; i < ea; i++) A[i] = frand(r);
    for (int64_t i = 0; i < eb; i++) B[i] = frand(r);
    for (int64_t i = 0; i < 3 * c->N + 1; i++) bias[i] = frand(r);
    struct outbuf C = out_make(ec);
    const int64_t nb = mb_batch_count(c->nbatch, c->batch);
    for (int64_t b = 0; b < nb; b++)
        for (int64_t m = 0; m < c->M; m++)
            for (int64_t n = 0; n < c->N; n++) {
                int64_t o = mb_batch_offset(c->nbatch, c->batch, p.c_bs, b) + m * p.c_rs + n * p.c_cs;
                C.valid[o] = 1;
                C.p[o] = c->nan_c ? NAN : frand(r);
            }
    float *C0 = xalloc((size_t)(ec + 2 * GUARD) * 4);
    memcpy(C0, C.mem, (size_t)(ec + 2 * GUARD) * 4);
    p.A = A, p.B = B, p.C = C.p, p.alpha = c->alpha, p.beta = c->beta;
    p.bias = c->bias_s ? bias : NULL, p.bias_s = c->bias_s;

    struct exec_buf e = exec_make(c->nthreads, c->work ? c->work : (size_t)64 << 20);
    e.x.l1d = c->l1d, e.x.l2 = c->l2, e.x.l3 = c->l3;
    enum mb_status st = r->gemm->fn.GEMM(&p, &e.x);
    check(r, st == MB_OK, "%s: status %s", name, mb_status_str(st));
    check(r, out_guards_ok(&C), "%s: wrote outside C (guard zone / gap)", name);

    int64_t bad = 0;
    double worst = 0;
    for (int64_t b = 0; b < nb && st == MB_OK; b++) {
        const float *Ab = A + mb_batch_offset(c->nbatch, c->batch, p.a_bs, b);
        const float *Bb = B + mb_batch_offset(c->nbatch, c->batch, p.b_bs, b);
        const int64_t oc = GUARD + mb_batch_offset(c->nbatch, c->batch, p.c_bs, b);
        for (int64_t m = 0; m < c->M; m++)
            for (int64_t n = 0; n < c->N; n++) {
                double acc = 0, mag = 0;
                for (int64_t k = 0; k < c->K; k++) {
                    double t = (double)Ab[m * p.a_rs + k * p.a_cs] * Bb[k * p.b_rs + n * p.b_cs];
                    acc += t, mag += fabs(t);
                }
                const double c0 = C0[oc + m * p.c_rs + n * p.c_cs];
                double ref = c->alpha * acc, scale = fabs(c->alpha) * mag;
                if (c->beta != 0.0f) ref += c->beta * c0, scale += fabs(c->beta * c0);
                if (c->bias_s) ref += bias[n * c->bias_s], scale += fabs(bias[n * c->bias_s]);
                const double got = C.p[oc - GUARD + m * p.c_rs + n * p.c_cs];
                /* fp32 forward error bound of a K-term dot product plus the epilogue's roundings */
                const double tol = 2.0 * (double)(c->K + 4) * 0x1p-24 * scale + 1e-30;
                const double err = fabs(got - ref);
                if (!(err <= tol)) {
                    if (!bad) printf("  %s: first bad C[b=%lld][%lld][%lld] = %.9g, want %.9g (tol %.3g)\n", name,
                                     (long long)b, (long long)m, (long long)n, got, ref, tol);
                    bad++;
                }
                if (isnan(err)) worst = INFINITY;
                else if (tol > 0 && err / tol > worst) worst = err / tol;
            }
    }
    check(r, bad == 0, "%s: %lld elements outside tolerance (worst err/tol %.3g)", name, (long long)bad, worst);
    if (r->verbose) printf("  ok %s (err/tol %.3g)\n", name, worst);
    float *res = xalloc((size_t)ec * 4 + 4);
    memcpy(res, C.p, (size_t)ec * 4);
    mb_guarded_free(A, ea), mb_guarded_free(B, eb), free(bias), free(C0), free(e.mem);
    out_free(&C);
    return res;
}

static void gemm_one(struct run *r, const struct gcase *c) { free(gemm_case(r, c)); }

/* the same case on 1, 2 and 3 threads: every bit equal */
static void gemm_threads(struct run *r, struct gcase c)
{
    c.nthreads = 1;
    uint64_t seed = r->rng;
    float *ref = gemm_case(r, &c);
    int64_t mc, rs, cs, bs[MB_MAX_BATCH];
    strides_for(c.lc, c.M, c.N, &rs, &cs, &mc);
    const int64_t ec = batch_strides(&c, 0, mc, bs);
    for (int nt = 2; nt <= 3; nt++) {
        r->rng = seed; /* same inputs */
        c.nthreads = nt;
        float *got = gemm_case(r, &c);
        int64_t diff = 0;
        for (int64_t i = 0; i < ec; i++) diff += !same(got[i], ref[i]);
        check(r, diff == 0, "gemm %lldx%lldx%lld: %lld elements differ between 1 and %d threads", (long long)c.M,
              (long long)c.N, (long long)c.K, (long long)diff, nt);
        free(got);
    }
    free(ref);
}

static void gemm_suite(struct run *r)
{
    static const int64_t ks[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 24, 31, 33, 40};
    const int nk = (int)(sizeof ks / sizeof ks[0]);
    const int p0 = r->pass, f0 = r->fail;
    struct gcase base = {.M = 1, .N = 1, .K = 1, .alpha = 1, .beta = 0, .nthreads = 1};

    /* every M x N remainder; beta == 0 over NaN C (must be ignored) */
    for (int64_t m = 1; m <= 40; m++)
        for (int64_t n = 1; n <= 40; n++) {
            struct gcase c = base;
            c.M = m, c.N = n, c.K = ks[(m * 41 + n) % nk], c.nan_c = true;
            gemm_one(r, &c);
        }
    /* every K, with alpha, beta and bias, on 2 threads */
    for (int64_t k = 1; k <= 40; k++) {
        struct gcase c = base;
        c.M = 13, c.N = 14, c.K = k, c.alpha = -0.75f, c.beta = 0.5f, c.bias_s = 1, c.nthreads = 2;
        gemm_one(r, &c);
    }
    /* every layout of A, B, C (a transposed operand is a stride swap) at several shapes */
    static const int64_t shapes[][3] = {{17, 29, 19}, {8, 12, 5}, {1, 1, 1}, {40, 3, 37}, {3, 40, 2}, {9, 13, 64}};
    for (int s = 0; s < 6; s++)
        for (int la = 0; la < 3; la++)
            for (int lb = 0; lb < 3; lb++)
                for (int lc = 0; lc < 3; lc++) {
                    struct gcase c = base;
                    c.M = shapes[s][0], c.N = shapes[s][1], c.K = shapes[s][2];
                    c.la = (enum layout)la, c.lb = (enum layout)lb, c.lc = (enum layout)lc;
                    c.alpha = 0.5f, c.beta = -1.5f, c.bias_s = 3, c.nthreads = 1 + (la + lb + lc) % 3;
                    gemm_one(r, &c);
                }
    /* batch with broadcast operands; each on 1, 2, 3 threads bit for bit */
    struct gcase bc = base;
    bc.M = 13, bc.N = 14, bc.K = 9, bc.nbatch = 1, bc.batch[0] = 3, bc.beta = 0.25f, bc.bias_s = 1;
    for (unsigned a = 0; a < 2; a++)
        for (unsigned b = 0; b < 2; b++) {
            bc.bcast_a = a, bc.bcast_b = b;
            gemm_threads(r, bc);
        }
    bc.nbatch = 2, bc.batch[0] = 2, bc.batch[1] = 3, bc.bcast_a = 1, bc.bcast_b = 2, bc.lb = COL;
    gemm_threads(r, bc);
    bc.nbatch = 4, bc.batch[0] = 2, bc.batch[1] = 1, bc.batch[2] = 3, bc.batch[3] = 2, bc.bcast_a = 5, bc.bcast_b = 8;
    bc.la = STRIDED, bc.lc = COL;
    gemm_threads(r, bc);
    /* tiny batched (the 32 x (10x5 @ 5x8) of the vectors), broadcast weights */
    struct gcase tb = base;
    tb.M = 10, tb.N = 8, tb.K = 5, tb.nbatch = 1, tb.batch[0] = 32;
    gemm_threads(r, tb);
    tb.bcast_b = 1;
    gemm_threads(r, tb);
    /* larger than the blocks: K > KC, M > MC and N > NC via small cache sizes, on 1-3 threads */
    struct gcase big = base;
    big.M = 70, big.N = 61, big.K = 300, big.l1d = 4096, big.l2 = 16384, big.l3 = 65536, big.beta = 1.0f;
    big.bias_s = 2;
    gemm_threads(r, big);
    big.M = 37, big.N = 150, big.K = 700, big.l1d = big.l2 = big.l3 = 0, big.la = COL, big.lb = COL;
    gemm_threads(r, big);
    big.M = 150, big.N = 37, big.K = 33, big.la = ROW, big.lb = STRIDED, big.lc = COL;
    gemm_threads(r, big);
    /* a workspace too small for the default blocks, big enough for one panel pair per thread (blocks shrink) */
    struct gcase ws = base;
    ws.M = 33, ws.N = 50, ws.K = 200, ws.work = 65536, ws.bias_s = 1;
    gemm_one(r, &ws);
    ws.nthreads = 2;
    gemm_one(r, &ws);
    {
        /* a workspace that cannot hold one panel pair: MB_ENOMEM, not garbage */
        struct mb_gemm p;
        memset(&p, 0, sizeof p);
        float a[16], b[16], cc[16];
        for (int i = 0; i < 16; i++) a[i] = b[i] = 1.0f, cc[i] = NAN;
        p.M = p.N = p.K = 4, p.A = a, p.B = b, p.C = cc, p.a_rs = p.b_rs = p.c_rs = 4, p.a_cs = p.b_cs = p.c_cs = 1;
        p.alpha = 1;
        struct exec_buf e = exec_make(1, 64);
        enum mb_status st = r->gemm->fn.GEMM(&p, &e.x);
        bool right = true;
        for (int i = 0; i < 16; i++) right = right && cc[i] == 4.0f;
        check(r, st == MB_ENOMEM || (st == MB_OK && right), "gemm 4x4x4 with a 64-byte workspace: status %s%s",
              mb_status_str(st), st == MB_OK && !right ? ", wrong result" : "");
        free(e.mem);
    }
    /* K == 0: C = beta*C + bias; empty problems write nothing */
    struct gcase k0 = base;
    k0.M = 5, k0.N = 7, k0.K = 0, k0.beta = 2.0f, k0.bias_s = 1;
    gemm_one(r, &k0);
    k0.beta = 0, k0.nan_c = true;
    gemm_one(r, &k0);
    k0.K = 3, k0.M = 0;
    gemm_one(r, &k0);
    k0.M = 5, k0.N = 0;
    gemm_one(r, &k0);
    k0.N = 7, k0.nbatch = 1, k0.batch[0] = 0;
    gemm_one(r, &k0);
    printf("gemm/%s: %d passed, %d failed\n", r->gemm->variant, r->pass - p0, r->fail - f0);
}

// ---------------------------------------------------------------------------------------------------------------------
// BINARY

static float apply(enum mb_binop op, float a, float b)
{
    switch (op) {
    case MB_ADD: return a + b;
    case MB_SUB: return a - b;
    case MB_MUL: return a * b;
    case MB_DIV: return a / b;
    }
    return 0;
}
static const char *opname(enum mb_binop op)
{
    static const char *const n[] = {"add", "sub", "mul", "div"};
    return n[op];
}

static int64_t extent_of(int nd, const int64_t *shape, const int64_t *st)
{
    const int64_t e = mb_span(nd, shape, st);
    return e ? e : 1; /* an empty operand still gets a one-float buffer */
}

/* shape / strides given; zeros: a quarter of the y values are 0 (division by zero) */
static void binary_case(struct run *r, enum mb_binop op, int nd, const int64_t *shape, const int64_t *xs,
                        const int64_t *ys, const int64_t *zs, int nthreads)
{
    struct mb_binary p;
    memset(&p, 0, sizeof p);
    p.op = op, p.ndim = nd;
    memcpy(p.shape, shape, sizeof(int64_t) * (size_t)nd);
    memcpy(p.xs, xs, sizeof(int64_t) * (size_t)nd);
    memcpy(p.ys, ys, sizeof(int64_t) * (size_t)nd);
    memcpy(p.zs, zs, sizeof(int64_t) * (size_t)nd);
    const int64_t ex = extent_of(nd, shape, xs), ey = extent_of(nd, shape, ys), ez = extent_of(nd, shape, zs);
    float *X = mb_guarded_alloc(ex), *Y = mb_guarded_alloc(ey); /* end at a guard page */
    for (int64_t i = 0; i < ex; i++) X[i] = i % 5 == 3 ? 0.0f : frand(r);
    for (int64_t i = 0; i < ey; i++) Y[i] = i % 4 == 1 ? 0.0f : frand(r);
    struct outbuf Z = out_make(ez);
    int64_t total = 1;
    for (int d = 0; d < nd; d++) total *= shape[d];
    for (int64_t i = 0; i < total; i++) {
        int64_t rem = i, zo = 0;
        for (int d = nd - 1; d >= 0; d--) zo += rem % shape[d] * zs[d], rem /= shape[d];
        Z.valid[zo] = 1;
    }
    p.x = X, p.y = Y, p.z = Z.p;
    struct exec_buf e = exec_make(nthreads, 0);
    char name[160];
    int len = snprintf(name, sizeof name, "binary %s nt=%d shape(", opname(op), nthreads);
    for (int d = 0; d < nd && len < 120; d++)
        len += snprintf(name + len, sizeof name - (size_t)len, "%lld/%lld/%lld/%lld ", (long long)shape[d],
                        (long long)xs[d], (long long)ys[d], (long long)zs[d]);
    snprintf(name + len, sizeof name - (size_t)len, ")");
    enum mb_status st = r->binary->fn.BINARY(&p, &e.x);
    check(r, st == MB_OK, "%s: status %s", name, mb_status_str(st));
    check(r, out_guards_ok(&Z), "%s: wrote outside z", name);
    int64_t bad = 0;
    for (int64_t i = 0; i < total && st == MB_OK; i++) {
        int64_t rem = i, xo = 0, yo = 0, zo = 0;
        for (int d = nd - 1; d >= 0; d--) {
            int64_t c = rem % shape[d];
            rem /= shape[d];
            xo += c * xs[d], yo += c * ys[d], zo += c * zs[d];
        }
        const float want = apply(op, X[xo], Y[yo]);
        if (!same(Z.p[zo], want)) {
            if (!bad) printf("  %s: first bad element %lld: %.9g, want %.9g\n", name, (long long)i, Z.p[zo], want);
            bad++;
        }
    }
    check(r, bad == 0, "%s: %lld elements differ from the fp32 operation", name, (long long)bad);
    mb_guarded_free(X, ex), mb_guarded_free(Y, ey);
    out_free(&Z);
}

static void binary_suite(struct run *r)
{
    const int p0 = r->pass, f0 = r->fail;
    for (int op = MB_ADD; op <= MB_DIV; op++) {
        const enum mb_binop o = (enum mb_binop)op;
        /* contiguous runs crossing every 4- and 16-lane remainder, and long threaded ones */
        for (int64_t n = 0; n <= 40; n++) {
            int64_t sh[1] = {n}, one[1] = {1};
            binary_case(r, o, 1, sh, one, one, one, 1);
        }
        static const int64_t longs[] = {1000, 32768, 100003};
        for (int i = 0; i < 3; i++)
            for (int nt = 1; nt <= 3; nt++) {
                int64_t sh[1] = {longs[i]}, one[1] = {1}, zero[1] = {0};
                binary_case(r, o, 1, sh, one, one, one, nt);
                binary_case(r, o, 1, sh, one, zero, one, nt); /* scalar y */
                binary_case(r, o, 1, sh, zero, one, one, nt); /* scalar x */
            }
        /* 2-D broadcast patterns and layouts */
        static const int64_t dims[] = {1, 2, 3, 7, 17, 33};
        for (int a = 0; a < 6; a++)
            for (int b = 0; b < 6; b++) {
                const int64_t R = dims[a], C = dims[b], sh[2] = {R, C};
                const int64_t c[2] = {C, 1}, t[2] = {1, R}, row[2] = {0, 1}, col[2] = {1, 0}, s0[2] = {0, 0};
                const int64_t pad[2] = {2 * C + 5, 2}, zpad[2] = {C + 3, 1};
                binary_case(r, o, 2, sh, c, c, c, 1);
                binary_case(r, o, 2, sh, c, row, c, 1);    /* bias row */
                binary_case(r, o, 2, sh, c, col, zpad, 2); /* column vector, padded z */
                binary_case(r, o, 2, sh, row, col, c, 1);  /* outer-product broadcast */
                binary_case(r, o, 2, sh, t, c, c, 2);      /* transposed x */
                binary_case(r, o, 2, sh, c, s0, t, 1);     /* scalar y, transposed z */
                binary_case(r, o, 2, sh, pad, c, c, 1);    /* strided x */
                binary_case(r, o, 2, sh, c, t, c, 1);      /* transposed y */
                binary_case(r, o, 2, sh, c, pad, c, 2);    /* strided y */
                binary_case(r, o, 2, sh, s0, pad, c, 1);   /* scalar x, strided y */
                binary_case(r, o, 2, sh, row, t, c, 1);    /* broadcast x row, transposed y */
            }
        /* 3-D: a broadcast middle dim that cannot merge, a size-1 dim, a 4-D mix */
        const int64_t sh3[3] = {3, 5, 7}, c3[3] = {35, 7, 1}, mid[3] = {7, 0, 1}, lead[3] = {0, 7, 1};
        binary_case(r, o, 3, sh3, c3, mid, c3, 1);
        binary_case(r, o, 3, sh3, lead, c3, c3, 2);
        const int64_t sh1[3] = {3, 1, 7}, c1[3] = {7, 7, 1}, y1[3] = {1, 99, 0};
        binary_case(r, o, 3, sh1, c1, y1, c1, 1);
        const int64_t sh4[4] = {2, 3, 4, 5}, c4[4] = {60, 20, 5, 1}, y4[4] = {0, 5, 0, 1}, x4[4] = {1, 2, 6, 24};
        binary_case(r, o, 4, sh4, x4, y4, c4, 3);
        /* long rows and many short rows, threaded (chunked runs / row split) */
        const int64_t shl[2] = {3, 40000}, cl[2] = {40000, 1}, rl[2] = {0, 1};
        binary_case(r, o, 2, shl, cl, rl, cl, 2);
        const int64_t shs[2] = {20000, 3}, cs[2] = {3, 1}, rs[2] = {1, 0}, zs[2] = {4, 1};
        binary_case(r, o, 2, shs, cs, rs, zs, 2);
        /* 0-d and 0-sized */
        binary_case(r, o, 0, NULL, NULL, NULL, NULL, 1);
        const int64_t sz[2] = {4, 0}, cz[2] = {0, 1};
        binary_case(r, o, 2, sz, cz, cz, cz, 2);
    }
    printf("binary/%s: %d passed, %d failed\n", r->binary->variant, r->pass - p0, r->fail - f0);
}

// ---------------------------------------------------------------------------------------------------------------------
// SOFTMAX

enum special { NONE, ALL_NEG_INF, SOME_NEG_INF, SOME_NAN, SOME_POS_INF };

struct scase {
    int64_t rows, T, n; /* row dims (rows, T): T is the query axis for causal */
    int64_t x_ns, y_ns, m_ns;
    bool transposed_x; /* x stored n-major: x_ns = rows*T, row strides 1 */
    int mask;          /* 0 none, 1 per element, 2 broadcast over rows (ms[0] = 0), 3 one value per row (m_ns 0) */
    bool causal;
    float scale;
    enum special special;
    int nthreads;
    size_t work;
};

static float *softmax_case(struct run *r, const struct scase *c)
{
    struct mb_softmax p;
    memset(&p, 0, sizeof p);
    p.ndim = 2, p.shape[0] = c->rows, p.shape[1] = c->T, p.n = c->n, p.scale = c->scale, p.causal = c->causal;
    const int64_t R = c->rows * c->T;
    if (c->transposed_x) {
        p.x_ns = R, p.xs[1] = 1, p.xs[0] = c->T;
    } else {
        p.x_ns = c->x_ns, p.xs[1] = c->n * c->x_ns + 1, p.xs[0] = c->T * p.xs[1];
    }
    p.y_ns = c->y_ns, p.ys[1] = c->n * c->y_ns + 2, p.ys[0] = c->T * p.ys[1];
    const int64_t ex = R * c->n * (c->transposed_x ? 1 : c->x_ns) + R + 1, ey = p.ys[0] * c->rows + 1;
    float *X = xalloc((size_t)ex * 4);
    for (int64_t i = 0; i < ex; i++) X[i] = 4.0f * frand(r);
    float *Mk = NULL;
    if (c->mask) {
        p.m_ns = c->mask == 3 ? 0 : c->m_ns;
        p.ms[1] = c->mask == 3 ? 1 : c->n * c->m_ns;
        p.ms[0] = c->mask == 2 ? 0 : c->T * p.ms[1];
        const int64_t em = c->rows * c->T * c->n * c->m_ns + 1;
        Mk = xalloc((size_t)em * 4);
        for (int64_t i = 0; i < em; i++) Mk[i] = frand(r) < -0.5f ? 0.0f : 1.0f;
        p.mask = Mk;
    }
    struct outbuf Y = out_make(ey);
    /* specials: row 0 (and every 3rd row) of each kind */
    for (int64_t row = 0; row < R; row++) {
        const int64_t xo = row / c->T * p.xs[0] + row % c->T * p.xs[1];
        for (int64_t j = 0; j < c->n; j++) {
            Y.valid[row / c->T * p.ys[0] + row % c->T * p.ys[1] + j * p.y_ns] = 1;
            if (row % 3) continue;
            float *xv = &X[xo + j * p.x_ns];
            switch (c->special) {
            case NONE: break;
            case ALL_NEG_INF: *xv = -INFINITY; break;
            case SOME_NEG_INF: if (j % 2) *xv = -INFINITY; break;
            case SOME_NAN: if (j == c->n / 2) *xv = NAN; break;
            case SOME_POS_INF: if (j == c->n - 1) *xv = INFINITY; break;
            }
        }
    }
    p.x = X, p.y = Y.p;
    struct exec_buf e = exec_make(c->nthreads, c->work ? c->work : (size_t)1 << 20);
    char name[200];
    snprintf(name, sizeof name, "softmax %lldx%lldx%lld x_ns=%lld%s y_ns=%lld mask=%d m_ns=%lld causal=%d scale=%g "
             "special=%d nt=%d", (long long)c->rows, (long long)c->T, (long long)c->n, (long long)p.x_ns,
             c->transposed_x ? "(T)" : "", (long long)c->y_ns, c->mask, (long long)p.m_ns, c->causal, c->scale,
             c->special, c->nthreads);
    enum mb_status st = r->softmax->fn.SOFTMAX(&p, &e.x);
    check(r, st == MB_OK, "%s: status %s", name, mb_status_str(st));
    check(r, out_guards_ok(&Y), "%s: wrote outside y", name);
    int64_t bad = 0;
    double *s = xalloc((size_t)c->n * 8 + 8);
    for (int64_t row = 0; row < R && st == MB_OK; row++) {
        const int64_t b = row / c->T, i = row % c->T;
        const float *xr = X + b * p.xs[0] + i * p.xs[1];
        const float *mr = Mk ? Mk + b * p.ms[0] + i * p.ms[1] : NULL;
        const float *yr = Y.p + b * p.ys[0] + i * p.ys[1];
        double mx = -INFINITY;
        bool nan_row = false;
        for (int64_t j = 0; j < c->n; j++) {
            float v = c->scale * xr[j * p.x_ns]; /* the fp32 product, as every kernel forms it */
            if ((mr && mr[j * p.m_ns] == 0.0f) || (c->causal && j > i)) v = -INFINITY;
            s[j] = v;
            if (isnan(v) || v == INFINITY) nan_row = true;
            if (v > mx) mx = v;
        }
        if (mx == -INFINITY) nan_row = true;
        double sum = 0;
        for (int64_t j = 0; j < c->n && !nan_row; j++) sum += exp(s[j] - mx);
        for (int64_t j = 0; j < c->n; j++) {
            const float got = yr[j * p.y_ns];
            bool ok;
            double want = NAN;
            if (nan_row) {
                ok = isnan(got);
            } else {
                want = exp(s[j] - mx) / sum;
                /* exp <= 2 ulp, s - max rounding amplified by |s - max|, the sum's n roundings, 1/sum and the
                 * product (1 ulp); 2^-148 for subnormal results */
                const double d = s[j] == -INFINITY ? 0 : fabs(s[j] - mx);
                const double tol = want * (4.8e-7 + (d + (double)c->n) * 0x1p-24) + 0x1p-148;
                ok = fabs(got - want) <= tol;
            }
            if (!ok) {
                if (!bad) printf("  %s: first bad y[%lld][%lld] = %.9g, want %.9g\n", name, (long long)row,
                                 (long long)j, got, want);
                bad++;
            }
        }
    }
    check(r, bad == 0, "%s: %lld elements outside tolerance", name, (long long)bad);
    if (r->verbose) printf("  ok %s\n", name);
    float *res = xalloc((size_t)ey * 4);
    memcpy(res, Y.p, (size_t)ey * 4);
    free(s), free(X), free(Mk), free(e.mem);
    out_free(&Y);
    return res;
}

static void softmax_one(struct run *r, const struct scase *c) { free(softmax_case(r, c)); }

/* the vectorized exp through softmax rows [0, d1..d15] with d <= -21: the sum rounds to exactly 1, so
 * y_j = exp(d_j) as the kernel computes it */
static void softmax_exp_sweep(struct run *r)
{
    const int64_t rows = 40000, n = 16;
    struct mb_softmax p;
    memset(&p, 0, sizeof p);
    p.ndim = 1, p.shape[0] = rows, p.n = n, p.xs[0] = n, p.x_ns = 1, p.ys[0] = n, p.y_ns = 1, p.scale = 1.0f;
    float *X = xalloc((size_t)(rows * n) * 4), *Y = xalloc((size_t)(rows * n) * 4);
    const double lo = -103.9, hi = -21.0;
    for (int64_t i = 0; i < rows; i++) {
        X[i * n] = 0.0f;
        for (int64_t j = 1; j < n; j++) X[i * n + j] = (float)(lo + (hi - lo) * (double)(i * (n - 1) + j - 1) /
                                                                     (double)(rows * (n - 1)));
    }
    p.x = X, p.y = Y;
    struct exec_buf e = exec_make(2, 0);
    enum mb_status st = r->softmax->fn.SOFTMAX(&p, &e.x);
    check(r, st == MB_OK, "softmax exp sweep: status %s", mb_status_str(st));
    double max_rel = 0, max_sub = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < rows && st == MB_OK; i++) {
        bad += Y[i * n] != 1.0f;
        for (int64_t j = 1; j < n; j++) {
            const double want = exp((double)X[i * n + j]), got = Y[i * n + j], err = fabs(got - want);
            if (want >= 0x1p-126) {
                if (err / want > max_rel) max_rel = err / want;
            } else if (err > max_sub) {
                max_sub = err;
            }
        }
    }
    check(r, bad == 0, "softmax exp sweep: %lld rows where exp(0) / sum != 1", (long long)bad);
    check(r, max_rel <= 2.4e-7, "softmax exp sweep: max relative error of exp %.3g > 2.4e-7 (vexp.h bound)", max_rel);
    check(r, max_sub <= 0x1p-149 + 0x1p-150, "softmax exp sweep: max subnormal error of exp %.3g > 2^-149 + rounding",
          max_sub);
    printf("softmax/%s: exp on [%.1f, %.1f]: max relative error %.3g (%.2f ulp), max subnormal error %.3g\n",
           r->softmax->variant, lo, hi, max_rel, max_rel / 0x1p-23, max_sub);
    free(X), free(Y), free(e.mem);
}

static void softmax_suite(struct run *r)
{
    const int p0 = r->pass, f0 = r->fail;
    struct scase base = {.rows = 2, .T = 3, .n = 1, .x_ns = 1, .y_ns = 1, .m_ns = 1, .scale = 1.0f, .nthreads = 1};
    for (int64_t n = 1; n <= 40; n++) {
        struct scase c = base;
        c.n = n;
        softmax_one(r, &c);
        c.mask = 1, c.scale = 0.125f, c.causal = n % 2, c.T = 5;
        softmax_one(r, &c);
        c.x_ns = 2, c.y_ns = 3, c.m_ns = 2, c.nthreads = 2; /* strided: the scratch path */
        softmax_one(r, &c);
        c = base, c.n = n, c.transposed_x = true, c.causal = true, c.T = 7, c.mask = 2;
        softmax_one(r, &c);
        c = base, c.n = n, c.mask = 3, c.T = 4; /* one mask value per row: some rows fully masked -> NaN */
        softmax_one(r, &c);
        for (int sp = ALL_NEG_INF; sp <= SOME_POS_INF; sp++) {
            c = base, c.n = n, c.special = (enum special)sp;
            softmax_one(r, &c);
        }
    }
    /* long rows, threads bit for bit */
    static const int64_t longs[] = {100, 1000, 4099};
    for (int i = 0; i < 3; i++) {
        struct scase c = base;
        c.rows = 4, c.T = 8, c.n = longs[i], c.mask = 1, c.causal = i == 1, c.scale = 0.5f;
        const uint64_t seed = r->rng;
        float *ref = softmax_case(r, &c);
        for (int nt = 2; nt <= 3; nt++) {
            r->rng = seed;
            c.nthreads = nt;
            float *got = softmax_case(r, &c);
            const int64_t ey = (c.n + 2) * c.T * c.rows + 1;
            int64_t diff = 0;
            for (int64_t k = 0; k < ey; k++) diff += !same(got[k], ref[k]);
            check(r, diff == 0, "softmax n=%lld: %lld elements differ between 1 and %d threads", (long long)c.n,
                  (long long)diff, nt);
            free(got);
        }
        free(ref);
        c.y_ns = 2, c.nthreads = 2;
        softmax_one(r, &c);
    }
    /* a scratch row that does not fit: MB_ENOMEM (not garbage); n == 0 and no rows: nothing written */
    {
        struct mb_softmax p;
        memset(&p, 0, sizeof p);
        float xv[64] = {0}, yv[128] = {0};
        p.ndim = 1, p.shape[0] = 1, p.n = 64, p.x = xv, p.x_ns = 1, p.y = yv, p.y_ns = 2, p.scale = 1;
        struct exec_buf e = exec_make(1, 16);
        enum mb_status st = r->softmax->fn.SOFTMAX(&p, &e.x);
        bool right = true;
        for (int i = 0; i < 64; i++) right = right && fabsf(yv[2 * i] - 1.0f / 64) <= 1e-8f && yv[2 * i + 1] == 0.0f;
        check(r, st == MB_ENOMEM || (st == MB_OK && right), "softmax with a 16-byte workspace: status %s%s",
              mb_status_str(st), st == MB_OK && !right ? ", wrong result" : "");
        struct scase c;
        free(e.mem);
        c = base, c.n = 0;
        softmax_one(r, &c);
        c = base, c.rows = 0;
        softmax_one(r, &c);
    }
    softmax_exp_sweep(r);
    printf("softmax/%s: %d passed, %d failed\n", r->softmax->variant, r->pass - p0, r->fail - f0);
}

// ---------------------------------------------------------------------------------------------------------------------

static const struct mb_kernel *find(enum mb_kind kind, const char *variant)
{
    const struct mb_kernel *k = mb_kernel_find(kind, variant);
    if (!k) {
        printf("SKIP %s/%s: not in this build\n", mb_kind_name(kind), variant);
        return NULL;
    }
    if (!mb_kernel_available(k)) {
        printf("SKIP %s/%s: this CPU lacks what it needs (%s)\n", mb_kind_name(kind), variant, mb_cpu_isa_string());
        return NULL;
    }
    return k;
}

int main(int argc, char **argv)
{
    const char *variant = "neon";
    struct run r;
    memset(&r, 0, sizeof r);
    r.rng = 0x9e3779b97f4a7c15ull;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--variant=", 10)) variant = argv[i] + 10;
        else if (!strcmp(argv[i], "-v")) r.verbose = 1;
        else {
            fprintf(stderr, "usage: %s [--variant=NAME] [-v]\n", argv[0]);
            return 2;
        }
    }
    r.gemm = find(MB_KIND_GEMM, variant);
    r.binary = find(MB_KIND_BINARY, variant);
    r.softmax = find(MB_KIND_SOFTMAX, variant);
    if (r.gemm) gemm_suite(&r);
    if (r.binary) binary_suite(&r);
    if (r.softmax) softmax_suite(&r);
    printf("%d passed, %d failed\n", r.pass, r.fail);
    return r.fail ? 1 : 0;
}
