/*
 * test_contract.c: the contraction ops of ops/contract.c and ops/einsum.c and their lowering (ops/lower.c):
 * shape inference (incl. the SEMANTICS.md examples), every error word, einsum parsing, axes handling,
 * numbers against a brute-force fp64 einsum over strided views (transposed, stride-0, broadcast batch),
 * the no-copy property of the lowering, zero sizes, and the seed's error message. Each numeric test runs
 * with the variants "naive" and "blas".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lower.h"

static struct mb_exec g_exec;
static const char *const variants[] = {"naive", "blas"};
#define NVAR ((int)(sizeof variants / sizeof *variants))

static struct mb_opctx ctx(const char *variant) { return (struct mb_opctx){.variant = variant, .exec = &g_exec}; }

#define SCALAR() rnd(0, NULL)

/* a view of t with its axes permuted (no copy) */
static struct mb_tensor permuted(const struct mb_tensor *t, const int *perm)
{
    struct mb_tensor v = {.ndim = t->ndim, .data = t->data};
    for (int i = 0; i < t->ndim; i++) v.shape[i] = t->shape[perm[i]], v.strides[i] = t->strides[perm[i]];
    return v;
}

static void assert_shape(const struct mb_tensor *t, int nd, const int64_t *shape)
{
    char a[256], b[256];
    if (t->ndim != nd || memcmp(t->shape, shape, (size_t)nd * sizeof *shape))
        fail_msg("shape %s, expected %s", mb_shape_str(t->ndim, t->shape, a, sizeof a), mb_shape_str(nd, shape, b, sizeof b));
}
#define ASSERT_SHAPE(t, ...) assert_shape(t, NSH(__VA_ARGS__), SH(__VA_ARGS__))

/* ---- the fp64 reference: brute-force einsum over all label values, size-1 dims broadcast ---------- */
static void ref_einsum(int n, const struct mb_tensor *const *in, const char *const *labs, const char *olab, double *out,
                       double *abs_out)
{
    int64_t size[128] = {0};
    char all[64];
    int nall = 0;
    for (int i = 0; i < n; i++)
        for (int d = 0; labs[i][d]; d++) {
            unsigned char l = (unsigned char)labs[i][d];
            if (!memchr(all, l, (size_t)nall)) all[nall++] = (char)l;
            if (in[i]->shape[d] > size[l]) size[l] = in[i]->shape[d];
        }
    int64_t onum = 1, total = 1;
    for (int d = 0; olab[d]; d++) onum *= size[(unsigned char)olab[d]];
    for (int j = 0; j < nall; j++) total *= size[(unsigned char)all[j]];
    memset(out, 0, (size_t)onum * sizeof *out);
    memset(abs_out, 0, (size_t)onum * sizeof *abs_out);
    for (int64_t f = 0; f < total; f++) {
        int64_t val[128] = {0}, r = f;
        for (int j = nall - 1; j >= 0; j--) {
            unsigned char l = (unsigned char)all[j];
            val[l] = r % size[l], r /= size[l];
        }
        double p = 1;
        for (int i = 0; i < n; i++) {
            int64_t off = 0;
            for (int d = 0; labs[i][d]; d++)
                off += (in[i]->shape[d] == 1 ? 0 : val[(unsigned char)labs[i][d]]) * in[i]->strides[d];
            p *= in[i]->data[off];
        }
        int64_t o = 0;
        for (int d = 0; olab[d]; d++) o = o * size[(unsigned char)olab[d]] + val[(unsigned char)olab[d]];
        out[o] += p;
        abs_out[o] += fabs(p);
    }
}

/* got (C-contiguous, as every op returns) vs the reference of the same equation */
static void check_ref(const struct mb_tensor *got, int n, const struct mb_tensor *const *in, const char *const *labs,
                      const char *olab, const float *bias)
{
    int64_t m = mb_tensor_numel(got);
    double *ref = malloc((size_t)(m + 1) * sizeof *ref), *abs = malloc((size_t)(m + 1) * sizeof *abs);
    ref_einsum(n, in, labs, olab, ref, abs);
    assert_true(mb_tensor_is_contig(got));
    for (int64_t i = 0; i < m; i++) {
        double r = ref[i] + (bias ? bias[i % got->shape[got->ndim - 1]] : 0.0);
        double tol = 2e-5 * (abs[i] + (bias ? 1.0 : 0.0)) + 1e-7;
        if (!(fabs(got->data[i] - r) <= tol)) fail_msg("element %lld: %.9g vs reference %.9g", (long long)i, got->data[i], r);
    }
    free(ref);
    free(abs);
}
#define CHECK2(got, a, la, b, lb, lo)                                                                                  \
    check_ref(got, 2, (const struct mb_tensor *const[]){a, b}, (const char *const[]){la, lb}, lo, NULL)

static void expect_error(enum mb_status s, const struct mb_opctx *c, const struct mb_tensor *out, const char *word)
{
    assert_int_equal(s, MB_EINVAL);
    char low[sizeof c->msg];
    for (size_t i = 0; i < sizeof low; i++) low[i] = (char)((c->msg[i] >= 'A' && c->msg[i] <= 'Z') ? c->msg[i] + 32 : c->msg[i]);
    if (!strstr(low, word)) fail_msg("message \"%s\" lacks \"%s\"", c->msg, word);
    assert_null(out->data); /* nothing left allocated */
    assert_null(out->owned);
}

/* ---- shape inference ---------------------------------------------------------------------------- */
static void test_shapes(void **state)
{
    (void)state;
    struct mb_opctx c = ctx("naive");
    struct mb_tensor o;
#define MATMUL_SHAPE(A, B, ...)                                                                                        \
    do {                                                                                                               \
        struct mb_tensor a = A, b = B;                                                                                 \
        assert_int_equal(mb_op_matmul(&c, &a, &b, &o), MB_OK);                                                        \
        assert_shape(&o, NSH(__VA_ARGS__) - 1, SH(__VA_ARGS__) + 1);                                                   \
        mb_tensor_free(&o), mb_tensor_free(&a), mb_tensor_free(&b);                                                    \
    } while (0)
    /* the leading 0 of each expected list is a placeholder so () can be written */
    MATMUL_SHAPE(RND(2, 1, 3, 4), RND(5, 4, 6), 0, 2, 5, 3, 6);
    MATMUL_SHAPE(RND(32, 20, 10), RND(10, 5), 0, 32, 20, 5);
    MATMUL_SHAPE(RND(3, 5), RND(5), 0, 3);
    MATMUL_SHAPE(RND(4), RND(2, 4, 3), 0, 2, 3);
    MATMUL_SHAPE(RND(5), RND(5), 0);
    MATMUL_SHAPE(RND(2, 0), RND(0, 3), 0, 2, 3);

    struct mb_tensor a = RND(32, 10, 5), b = RND(32, 5, 8);
    assert_int_equal(mb_op_dot(&c, &a, &b, &o), MB_OK);
    ASSERT_SHAPE(&o, 32, 10, 32, 8);
    mb_tensor_free(&o), mb_tensor_free(&a), mb_tensor_free(&b);

    struct { int64_t xs[5], ys[5]; int xn, yn, mode; int64_t a0, a1; bool legacy; int on; int64_t os[6]; } bd[] = {
        {{32, 20, 1}, {32, 30, 20}, 3, 3, 2, 1, 2, false, 3, {32, 1, 30}},
        {{4, 3, 5}, {4, 5}, 3, 2, 0, 0, 0, false, 2, {4, 3}},
        {{4, 5}, {4, 5, 3}, 2, 3, 0, 0, 0, false, 2, {4, 3}},
        {{6, 5}, {6, 5}, 2, 2, 1, 1, 0, false, 2, {6, 1}},
        {{2, 3, 4}, {2, 5, 4}, 3, 3, 1, -1, 0, false, 3, {2, 3, 5}},
        {{10, 12, 4, 5}, {10, 12, 5, 8}, 4, 4, 0, 0, 0, false, 5, {10, 12, 4, 12, 8}},
        {{10, 12, 4, 5}, {10, 12, 5, 8}, 4, 4, 0, 0, 0, true, 4, {10, 12, 4, 8}},
        {{9, 8, 7, 4, 2}, {9, 8, 7, 2, 5}, 5, 5, 0, 0, 0, true, 5, {9, 8, 7, 4, 5}},
        {{4, 3, 5}, {4, 5}, 3, 2, 0, 0, 0, true, 2, {4, 3}},
    };
    for (size_t i = 0; i < sizeof bd / sizeof *bd; i++) {
        struct mb_tensor x = rnd(bd[i].xn, bd[i].xs), y = rnd(bd[i].yn, bd[i].ys);
        struct mb_batch_dot_opts opt = {.axes_mode = bd[i].mode, .ax0 = bd[i].a0, .ax1 = bd[i].a1, .legacy = bd[i].legacy};
        assert_int_equal(mb_op_batch_dot(&c, &x, &y, &opt, &o), MB_OK);
        assert_shape(&o, bd[i].on, bd[i].os);
        mb_tensor_free(&o), mb_tensor_free(&x), mb_tensor_free(&y);
    }

    a = RND(3, 4, 5), b = RND(4, 5, 6);
    assert_int_equal(mb_op_tensordot(&c, &a, &b, 2, NULL, NULL, &o), MB_OK);
    ASSERT_SHAPE(&o, 3, 6);
    mb_tensor_free(&o);
    assert_int_equal(mb_op_tensordot(&c, &a, &b, 0, NULL, NULL, &o), MB_OK);
    ASSERT_SHAPE(&o, 3, 4, 5, 4, 5, 6);
    mb_tensor_free(&o), mb_tensor_free(&a), mb_tensor_free(&b);

    struct { const char *eq; int n; int64_t s[3][4]; int nd[3]; int on; int64_t os[4]; } es[] = {
        {"cb,bA", 2, {{2, 3}, {3, 4}}, {2, 2}, 2, {4, 2}},
        {"ba", 1, {{2, 3}}, {2}, 2, {3, 2}},
        {"ij,jk", 2, {{2, 3}, {3, 4}}, {2, 2}, 2, {2, 4}},
        {"i,i", 2, {{3}, {3}}, {1, 1}, 0, {0}},
        {"...ij,...jk->...ik", 2, {{2, 1, 3, 4}, {5, 4, 2}}, {4, 3}, 4, {2, 5, 3, 2}},
        {"i...j->j...i", 1, {{2, 3, 4, 5}}, {4}, 4, {5, 3, 4, 2}},
        {"ii", 1, {{3, 3}}, {2}, 0, {0}},
        {"iji->j", 1, {{3, 4, 3}}, {3}, 1, {4}},
        {"Ba,aB", 2, {{2, 3}, {3, 2}}, {2, 2}, 0, {0}},
    };
    for (size_t i = 0; i < sizeof es / sizeof *es; i++) {
        struct mb_tensor in[3];
        const struct mb_tensor *ip[3];
        for (int j = 0; j < es[i].n; j++) in[j] = rnd(es[i].nd[j], es[i].s[j]), ip[j] = &in[j];
        if (mb_op_einsum(&c, es[i].eq, es[i].n, ip, &o) != MB_OK) fail_msg("%s: %s", es[i].eq, c.msg);
        assert_shape(&o, es[i].on, es[i].os);
        mb_tensor_free(&o);
        for (int j = 0; j < es[i].n; j++) mb_tensor_free(&in[j]);
    }

    a = RND(3, 2), b = RND(0);
    assert_int_equal(mb_op_outer(&c, &a, &b, &o), MB_OK);
    ASSERT_SHAPE(&o, 6, 0);
    mb_tensor_free(&o), mb_tensor_free(&a), mb_tensor_free(&b);

    struct mb_tensor x = RND(2, 3, 4), w = RND(5, 4), bias = RND(5);
    assert_int_equal(mb_op_linear(&c, &x, &w, &bias, &o), MB_OK);
    ASSERT_SHAPE(&o, 2, 3, 5);
    mb_tensor_free(&o), mb_tensor_free(&x);
    x = RND(4);
    assert_int_equal(mb_op_linear(&c, &x, &w, NULL, &o), MB_OK);
    ASSERT_SHAPE(&o, 5);
    mb_tensor_free(&o), mb_tensor_free(&x), mb_tensor_free(&w), mb_tensor_free(&bias);
}

/* ---- errors ------------------------------------------------------------------------------------- */
static void test_seed_dot_message(void **state)
{
    (void)state;
    struct mb_opctx c = ctx("naive");
    struct mb_tensor a = RND(3, 4, 5, 2), b = RND(2, 5, 3, 7), o;
    assert_int_equal(mb_op_dot(&c, &a, &b, &o), MB_EINVAL);
    assert_string_equal(c.msg, "dot: dimension mismatch: a.shape[-1]=2 vs b.shape[-2]=3 (a: (3,4,5,2), b: (2,5,3,7))");
    assert_null(o.owned);
    mb_tensor_free(&a), mb_tensor_free(&b);
}

static void test_errors(void **state)
{
    (void)state;
    struct mb_opctx c = ctx("naive");
    struct mb_tensor o, s0 = SCALAR(), v3 = RND(3), v4 = RND(4), m34 = RND(3, 4), m45 = RND(4, 5), m35 = RND(3, 5);
    struct mb_tensor t234 = RND(2, 3, 4), t345 = RND(3, 4, 5), t245 = RND(2, 4, 5), t2x = RND(2, 3, 4, 5);
    /* matmul */
    expect_error(mb_op_matmul(&c, &s0, &m34, &o), &c, &o, "rank");
    expect_error(mb_op_matmul(&c, &m34, &m35, &o), &c, &o, "dimension");
    expect_error(mb_op_matmul(&c, &t234, &m35, &o), &c, &o, "dimension");
    struct mb_tensor t345b = RND(3, 4, 5);
    expect_error(mb_op_matmul(&c, &t234, &t345b, &o), &c, &o, "broadcast");
    expect_error(mb_op_matmul(&c, &v3, &m45, &o), &c, &o, "dimension");
    /* mm, bmm */
    expect_error(mb_op_mm(&c, &t234, &m45, &o), &c, &o, "rank");
    expect_error(mb_op_mm(&c, &m34, &m35, &o), &c, &o, "dimension");
    expect_error(mb_op_bmm(&c, &m34, &t245, &o), &c, &o, "rank");
    expect_error(mb_op_bmm(&c, &t345, &t245, &o), &c, &o, "batch");
    expect_error(mb_op_bmm(&c, &t234, &t234, &o), &c, &o, "dimension");
    /* dot */
    expect_error(mb_op_dot(&c, &v3, &v4, &o), &c, &o, "dimension");
    expect_error(mb_op_dot(&c, &m34, &v3, &o), &c, &o, "dimension");
    struct mb_tensor d5 = RND(1, 1, 1, 1, 5), d6 = RND(1, 1, 1, 1, 5, 6), w54 = RND(5, 4);
    expect_error(mb_op_dot(&c, &d5, &d6, &o), &c, &o, "rank"); /* 4 + 5 dims > 8 */
    /* tensordot */
    expect_error(mb_op_tensordot(&c, &m34, &m45, 3, NULL, NULL, &o), &c, &o, "axis");
    expect_error(mb_op_tensordot(&c, &m34, &m45, -1, NULL, NULL, &o), &c, &o, "axis");
    expect_error(mb_op_tensordot(&c, &m34, &m45, 1, SH(2), SH(0), &o), &c, &o, "axis");
    expect_error(mb_op_tensordot(&c, &m34, &m45, 2, SH(1, -1), SH(0, 1), &o), &c, &o, "axis");
    expect_error(mb_op_tensordot(&c, &m34, &m45, 1, SH(0), SH(0), &o), &c, &o, "dimension");
    expect_error(mb_op_tensordot(&c, &m34, &m45, 2, NULL, NULL, &o), &c, &o, "dimension");
    /* batch_dot */
    struct mb_batch_dot_opts none = {0}, ax0 = {.axes_mode = 1, .ax0 = 0}, axneg = {.axes_mode = 1, .ax0 = -3},
                             ax9 = {.axes_mode = 2, .ax0 = 1, .ax1 = 9}, ax2 = {.axes_mode = 1, .ax0 = 2};
    expect_error(mb_op_batch_dot(&c, &v3, &m34, &none, &o), &c, &o, "rank");
    expect_error(mb_op_batch_dot(&c, &t234, &t345, &none, &o), &c, &o, "batch");
    expect_error(mb_op_batch_dot(&c, &t234, &t245, &ax0, &o), &c, &o, "axis");
    expect_error(mb_op_batch_dot(&c, &t234, &t245, &axneg, &o), &c, &o, "axis"); /* -3 + 3 = 0 */
    expect_error(mb_op_batch_dot(&c, &t234, &t245, &ax9, &o), &c, &o, "axis");
    expect_error(mb_op_batch_dot(&c, &t234, &t245, &ax2, &o), &c, &o, "dimension");
    struct mb_batch_dot_opts leg = {.legacy = true};
    expect_error(mb_op_batch_dot(&c, &t234, &t345b, &leg, &o), &c, &o, "batch");
    expect_error(mb_op_batch_dot(&c, &t234, &t234, &leg, &o), &c, &o, "dimension");
    /* einsum */
    const struct mb_tensor *one[1] = {&m34}, *two[2] = {&m34, &m35};
    expect_error(mb_op_einsum(&c, "ij,jk->ik", 2, two, &o), &c, &o, "dimension");
    expect_error(mb_op_einsum(&c, "ii", 1, one, &o), &c, &o, "dimension");
    const struct mb_tensor *bc[2] = {&t234, &t345b};
    expect_error(mb_op_einsum(&c, "...ij,...jk", 2, bc, &o), &c, &o, "broadcast");
    struct mb_tensor big[9];
    const struct mb_tensor *bp[9];
    for (int i = 0; i < 9; i++) big[i] = RND(1), bp[i] = &big[i];
    expect_error(mb_op_einsum(&c, "a,b,c,d,e,f,g,h,i", 9, bp, &o), &c, &o, "rank");
    /* outer / linear */
    expect_error(mb_op_linear(&c, &m34, &t234, NULL, &o), &c, &o, "rank");
    expect_error(mb_op_linear(&c, &m35, &m34, NULL, &o), &c, &o, "dimension");
    expect_error(mb_op_linear(&c, &m34, &w54, &v4, &o), &c, &o, "dimension");
    /* sizes whose product overflows: stride-0 views, nothing is allocated */
    struct mb_tensor huge_a = {.ndim = 2, .shape = {(int64_t)1 << 32, 1}, .data = s0.data};
    struct mb_tensor huge_b = {.ndim = 2, .shape = {1, (int64_t)1 << 32}, .data = s0.data};
    expect_error(mb_op_matmul(&c, &huge_a, &huge_b, &o), &c, &o, "size");
    expect_error(mb_op_outer(&c, &huge_a, &huge_b, &o), &c, &o, "size");
    for (int i = 0; i < 9; i++) mb_tensor_free(&big[i]);
    struct mb_tensor *all[] = {&s0, &v3, &v4, &m34, &m45, &m35, &t234, &t345, &t245, &t2x, &t345b, &d5, &d6, &w54};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) mb_tensor_free(all[i]);
}

static void test_einsum_subscripts(void **state)
{
    (void)state;
    struct mb_opctx c = ctx("naive");
    struct mb_tensor o, m = RND(2, 3), t = RND(2, 3, 4);
    const struct mb_tensor *one[1] = {&m}, *two[2] = {&m, &m}, *tt[1] = {&t};
    const char *bad1[] = {"ij->k", "ij->ii", "ijk", "i", "i.j", "...i...", "i1", "ij,jk", "ij->i->j", ".."};
    for (size_t i = 0; i < sizeof bad1 / sizeof *bad1; i++) {
        enum mb_status s = mb_op_einsum(&c, bad1[i], 1, one, &o);
        if (s != MB_EINVAL) fail_msg("'%s' accepted", bad1[i]);
        expect_error(s, &c, &o, "subscript");
    }
    expect_error(mb_op_einsum(&c, "ij", 2, two, &o), &c, &o, "subscript");
    expect_error(mb_op_einsum(&c, "...i->i", 1, tt, &o), &c, &o, "subscript"); /* numpy: needs '...' out */
    assert_int_equal(mb_op_einsum(&c, "ij...->i", 1, one, &o), MB_OK);       /* '...' covering nothing */
    ASSERT_SHAPE(&o, 2);
    mb_tensor_free(&o), mb_tensor_free(&m), mb_tensor_free(&t);
}

/* ---- numbers vs the fp64 reference -------------------------------------------------------------- */
static void test_matmul_numeric(void **state)
{
    (void)state;
    for (int v = 0; v < NVAR; v++) {
        struct mb_opctx c = ctx(variants[v]);
        struct mb_tensor o, a = RND(2, 1, 3, 4), b = RND(5, 4, 6);
        assert_int_equal(mb_op_matmul(&c, &a, &b, &o), MB_OK);
        CHECK2(&o, &a, "xyij", &b, "yjk", "xyik");
        mb_tensor_free(&o);
        /* transposed views of both: a as (5,4,3)->(3,4,...) etc. */
        struct mb_tensor at = RND(7, 6), bt = RND(9, 7), base3 = RND(4, 7, 6);
        struct mb_tensor av = permuted(&at, (int[]){1, 0}), bv = permuted(&bt, (int[]){1, 0});
        assert_int_equal(mb_op_matmul(&c, &av, &bv, &o), MB_OK);
        CHECK2(&o, &av, "ij", &bv, "jk", "ik");
        mb_tensor_free(&o);
        struct mb_tensor a3 = permuted(&base3, (int[]){0, 2, 1}); /* (4,6,7) with the last two swapped */
        assert_int_equal(mb_op_matmul(&c, &a3, &bv, &o), MB_OK);
        CHECK2(&o, &a3, "bij", &bv, "jk", "bik");
        mb_tensor_free(&o);
        /* 1-D operands */
        struct mb_tensor v7 = RND(7), v6 = RND(6);
        assert_int_equal(mb_op_matmul(&c, &v6, &av, &o), MB_OK);
        CHECK2(&o, &v6, "i", &av, "ij", "j");
        mb_tensor_free(&o);
        assert_int_equal(mb_op_matmul(&c, &v7, &bv, &o), MB_OK);
        CHECK2(&o, &v7, "j", &bv, "jk", "k");
        mb_tensor_free(&o);
        assert_int_equal(mb_op_matmul(&c, &a3, &v7, &o), MB_OK);
        CHECK2(&o, &a3, "bij", &v7, "j", "bi");
        mb_tensor_free(&o);
        /* stride-0 (expanded) batch view of b */
        struct mb_tensor bx = {.ndim = 3, .shape = {4, 7, 9}, .strides = {0, bv.strides[0], bv.strides[1]}, .data = bt.data};
        assert_int_equal(mb_op_mm(&c, &av, &bv, &o), MB_OK);
        mb_tensor_free(&o);
        assert_int_equal(mb_op_bmm(&c, &a3, &bx, &o), MB_OK);
        CHECK2(&o, &a3, "bij", &bx, "bjk", "bik");
        mb_tensor_free(&o);
        struct mb_tensor *all[] = {&a, &b, &at, &bt, &base3, &v7, &v6};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) mb_tensor_free(all[i]);
    }
}

static void test_dot_tensordot_numeric(void **state)
{
    (void)state;
    for (int v = 0; v < NVAR; v++) {
        struct mb_opctx c = ctx(variants[v]);
        struct mb_tensor o, a = RND(3, 4, 2), b = RND(5, 2, 6), s = SCALAR(), v2 = RND(2);
        assert_int_equal(mb_op_dot(&c, &a, &b, &o), MB_OK); /* every leading axis pairs with every one */
        CHECK2(&o, &a, "ijk", &b, "lkm", "ijlm");
        mb_tensor_free(&o);
        assert_int_equal(mb_op_dot(&c, &a, &v2, &o), MB_OK);
        CHECK2(&o, &a, "ijk", &v2, "k", "ij");
        mb_tensor_free(&o);
        assert_int_equal(mb_op_dot(&c, &s, &a, &o), MB_OK); /* 0-d: a*b */
        CHECK2(&o, &s, "", &a, "ijk", "ijk");
        mb_tensor_free(&o);
        assert_int_equal(mb_op_dot(&c, &v2, &v2, &o), MB_OK);
        CHECK2(&o, &v2, "i", &v2, "i", "");
        mb_tensor_free(&o);
        /* b as a permuted view: (5,2,6) seen as (6,2,5)... contract a's 2 with its axis -2 */
        struct mb_tensor bp = permuted(&b, (int[]){2, 1, 0});
        assert_int_equal(mb_op_dot(&c, &a, &bp, &o), MB_OK);
        CHECK2(&o, &a, "ijk", &bp, "lkm", "ijlm");
        mb_tensor_free(&o);
        /* tensordot: explicit, negative, out-of-order axes */
        struct mb_tensor t1 = RND(3, 4, 5), t2 = RND(5, 6, 3);
        assert_int_equal(mb_op_tensordot(&c, &t1, &t2, 2, SH(-1, 0), SH(0, -1), &o), MB_OK);
        CHECK2(&o, &t1, "ijk", &t2, "kli", "jl");
        mb_tensor_free(&o);
        struct mb_tensor t3 = RND(4, 5, 2);
        assert_int_equal(mb_op_tensordot(&c, &t1, &t3, 2, NULL, NULL, &o), MB_OK);
        CHECK2(&o, &t1, "ijk", &t3, "jkl", "il");
        mb_tensor_free(&o);
        assert_int_equal(mb_op_tensordot(&c, &v2, &a, 0, NULL, NULL, &o), MB_OK);
        CHECK2(&o, &v2, "x", &a, "ijk", "xijk");
        mb_tensor_free(&o);
        struct mb_tensor *all[] = {&a, &b, &s, &v2, &t1, &t2, &t3};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) mb_tensor_free(all[i]);
    }
}

static void test_batch_dot_numeric(void **state)
{
    (void)state;
    for (int v = 0; v < NVAR; v++) {
        struct mb_opctx c = ctx(variants[v]);
        struct mb_tensor o, x = RND(2, 3, 4), y = RND(2, 5, 4), x2 = RND(4, 5), y3 = RND(4, 5, 3), y2 = RND(4, 5);
        struct mb_batch_dot_opts neg = {.axes_mode = 1, .ax0 = -1}, none = {0}, one = {.axes_mode = 1, .ax0 = 1};
        assert_int_equal(mb_op_batch_dot(&c, &x, &y, &neg, &o), MB_OK);
        CHECK2(&o, &x, "bik", &y, "bjk", "bij");
        mb_tensor_free(&o);
        assert_int_equal(mb_op_batch_dot(&c, &x2, &y3, &none, &o), MB_OK);
        CHECK2(&o, &x2, "bk", &y3, "bkj", "bj");
        mb_tensor_free(&o);
        assert_int_equal(mb_op_batch_dot(&c, &x2, &y2, &one, &o), MB_OK);
        ASSERT_SHAPE(&o, 4, 1);
        CHECK2(&o, &x2, "bk", &y2, "bk", "b");
        mb_tensor_free(&o);
        /* 4-D default axes: (B,3,4,5).(B,3,5,2) -> (B,3,4,3,2) */
        struct mb_tensor x4 = RND(2, 3, 4, 5), y4 = RND(2, 3, 5, 2);
        assert_int_equal(mb_op_batch_dot(&c, &x4, &y4, &none, &o), MB_OK);
        CHECK2(&o, &x4, "bijk", &y4, "blkm", "bijlm");
        mb_tensor_free(&o);
        /* legacy: equal ranks = matmul over all leading dims */
        struct mb_batch_dot_opts leg = {.legacy = true}, leg2 = {.legacy = true, .axes_mode = 2, .ax0 = 1, .ax1 = 1};
        assert_int_equal(mb_op_batch_dot(&c, &x4, &y4, &leg, &o), MB_OK);
        ASSERT_SHAPE(&o, 2, 3, 4, 2);
        CHECK2(&o, &x4, "bcik", &y4, "bckj", "bcij");
        mb_tensor_free(&o);
        /* legacy quirk: axes (1,1) on 3-D means x transposed (adjoint), y not: contract x's axis 1 with y's 1 */
        struct mb_tensor xl = RND(2, 5, 3), yl = RND(2, 5, 4);
        assert_int_equal(mb_op_batch_dot(&c, &xl, &yl, &leg2, &o), MB_OK);
        CHECK2(&o, &xl, "bki", &yl, "bkj", "bij");
        mb_tensor_free(&o);
        /* legacy 3-D . 2-D: y padded to (B,5,1), squeezed back */
        struct mb_tensor x35 = RND(4, 3, 5);
        assert_int_equal(mb_op_batch_dot(&c, &x35, &y2, &leg, &o), MB_OK);
        ASSERT_SHAPE(&o, 4, 3);
        CHECK2(&o, &x35, "bik", &y2, "bk", "bi");
        mb_tensor_free(&o);
        /* legacy 2-D . 2-D, axes equal: sum(x*y, 1) -> (B,1); axes (0,1): sum(x.T*y, 1) */
        struct mb_batch_dot_opts l11 = {.legacy = true, .axes_mode = 1, .ax0 = 1},
                                 l01 = {.legacy = true, .axes_mode = 2, .ax0 = 0, .ax1 = 1};
        assert_int_equal(mb_op_batch_dot(&c, &x2, &y2, &l11, &o), MB_OK);
        ASSERT_SHAPE(&o, 4, 1);
        CHECK2(&o, &x2, "bk", &y2, "bk", "b");
        mb_tensor_free(&o);
        struct mb_tensor sq = RND(4, 4), sq2 = RND(4, 4);
        assert_int_equal(mb_op_batch_dot(&c, &sq, &sq2, &l01, &o), MB_OK);
        ASSERT_SHAPE(&o, 4, 1);
        CHECK2(&o, &sq, "qp", &sq2, "pq", "p");
        mb_tensor_free(&o);
        /* normalize: cosine similarity along the contracted axes */
        struct mb_batch_dot_opts nrm = {.axes_mode = 1, .ax0 = 1, .normalize = true};
        assert_int_equal(mb_op_batch_dot(&c, &x2, &y2, &nrm, &o), MB_OK);
        for (int b = 0; b < 4; b++) {
            double d = 0, nx = 0, ny = 0;
            for (int k = 0; k < 5; k++) {
                d += (double)x2.data[b * 5 + k] * y2.data[b * 5 + k];
                nx += (double)x2.data[b * 5 + k] * x2.data[b * 5 + k];
                ny += (double)y2.data[b * 5 + k] * y2.data[b * 5 + k];
            }
            assert_true(fabs(o.data[b] - d / sqrt(nx * ny)) < 1e-5);
        }
        mb_tensor_free(&o);
        struct mb_tensor *all[] = {&x, &y, &x2, &y3, &y2, &x4, &y4, &xl, &yl, &x35, &sq, &sq2};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) mb_tensor_free(all[i]);
    }
}

static void test_einsum_numeric(void **state)
{
    (void)state;
    struct {
        const char *eq, *la, *lb, *lc, *lo; /* reference labels: explicit, ellipsis spelled out */
        int n, nd[3];
        int64_t s[3][5];
    } cs[] = {
        {"bik,bjk->bij", "bik", "bjk", NULL, "bij", 2, {3, 3}, {{2, 3, 4}, {2, 5, 4}}},
        {"...ij,...jk->...ik", "xyij", "yjk", NULL, "xyik", 2, {4, 3}, {{2, 1, 3, 4}, {5, 4, 2}}},
        {"ij,jk,kl->il", "ij", "jk", "kl", "il", 3, {2, 2, 2}, {{2, 3}, {3, 4}, {4, 5}}},
        {"abcd->dbca", "abcd", NULL, NULL, "dbca", 1, {4}, {{2, 3, 4, 5}}},
        {"ii->i", "ii", NULL, NULL, "i", 1, {2}, {{4, 4}}},
        {"ii", "ii", NULL, NULL, "", 1, {2}, {{4, 4}}},
        {"iji->j", "iji", NULL, NULL, "j", 1, {3}, {{3, 4, 3}}},
        {"ij->i", "ij", NULL, NULL, "i", 1, {2}, {{3, 5}}},
        {"ij,ij->", "ij", "ij", NULL, "", 2, {2, 2}, {{3, 5}, {3, 5}}},
        {"ij,jk->ik", "ij", "jk", NULL, "ik", 2, {2, 2}, {{2, 1}, {3, 4}}}, /* size-1 label broadcasts */
        {"abc,cd->ad", "abc", "cd", NULL, "ad", 2, {3, 2}, {{2, 3, 4}, {4, 5}}}, /* b summed first */
        {"i,j->ij", "i", "j", NULL, "ij", 2, {1, 1}, {{3}, {4}}},
        {"cb,bA", "cb", "bA", NULL, "Ac", 2, {2, 2}, {{2, 3}, {3, 4}}},
        {"bij,bjk->kib", "bij", "bjk", NULL, "kib", 2, {3, 3}, {{2, 3, 4}, {2, 4, 5}}}, /* C copied back */
        {"i...j,j->...i", "ixyj", "j", NULL, "xyi", 2, {4, 1}, {{2, 3, 4, 5}, {5}}},
        {"abij,cj->bcai", "abij", "cj", NULL, "bcai", 2, {4, 2}, {{2, 3, 4, 5}, {3, 5}}},
    };
    for (int v = 0; v < NVAR; v++) {
        struct mb_opctx c = ctx(variants[v]);
        for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
            struct mb_tensor in[3], o;
            const struct mb_tensor *ip[3];
            for (int j = 0; j < cs[i].n; j++) in[j] = rnd(cs[i].nd[j], cs[i].s[j]), ip[j] = &in[j];
            if (mb_op_einsum(&c, cs[i].eq, cs[i].n, ip, &o) != MB_OK) fail_msg("%s: %s", cs[i].eq, c.msg);
            const char *labs[3] = {cs[i].la, cs[i].lb, cs[i].lc};
            check_ref(&o, cs[i].n, ip, labs, cs[i].lo, NULL);
            mb_tensor_free(&o);
            for (int j = 0; j < cs[i].n; j++) mb_tensor_free(&in[j]);
        }
        /* strided input view: einsum of a transposed operand */
        struct mb_tensor a = RND(4, 3), b = RND(4, 5), o;
        struct mb_tensor at = permuted(&a, (int[]){1, 0});
        const struct mb_tensor *ip[2] = {&at, &b};
        assert_int_equal(mb_op_einsum(&c, "ij,jk->ik", 2, ip, &o), MB_OK);
        CHECK2(&o, &at, "ij", &b, "jk", "ik");
        mb_tensor_free(&o), mb_tensor_free(&a), mb_tensor_free(&b);
    }
}

static void test_outer_linear_numeric(void **state)
{
    (void)state;
    for (int v = 0; v < NVAR; v++) {
        struct mb_opctx c = ctx(variants[v]);
        struct mb_tensor o, a = RND(5), b = RND(7), w = RND(6, 4), x = RND(2, 3, 4), bias = RND(6), one = RND(1);
        assert_int_equal(mb_op_outer(&c, &a, &b, &o), MB_OK);
        CHECK2(&o, &a, "i", &b, "j", "ij");
        mb_tensor_free(&o);
        assert_int_equal(mb_op_outer(&c, &one, &b, &o), MB_OK);
        ASSERT_SHAPE(&o, 1, 7);
        mb_tensor_free(&o);
        assert_int_equal(mb_op_linear(&c, &x, &w, &bias, &o), MB_OK);
        check_ref(&o, 2, (const struct mb_tensor *const[]){&x, &w}, (const char *const[]){"abi", "oi"}, "abo",
                  bias.data);
        mb_tensor_free(&o);
        struct mb_tensor xt = permuted(&x, (int[]){1, 0, 2}); /* (3,2,4): leading dims not mergeable */
        assert_int_equal(mb_op_linear(&c, &xt, &w, NULL, &o), MB_OK);
        check_ref(&o, 2, (const struct mb_tensor *const[]){&xt, &w}, (const char *const[]){"abi", "oi"}, "abo", NULL);
        mb_tensor_free(&o);
        struct mb_tensor *all[] = {&a, &b, &w, &x, &bias, &one};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) mb_tensor_free(all[i]);
    }
}

/* ---- the lowering: strides, not copies --------------------------------------------------------- */
static void test_no_copy(void **state)
{
    (void)state;
    for (int v = 0; v < NVAR; v++) {
        struct mb_opctx c = ctx(variants[v]);
        /* a: (6,5,4) viewed as (6,4,5) (last two swapped); b: (5,3) broadcast over the batch */
        struct mb_tensor base = RND(6, 5, 4), b = RND(5, 3), o;
        struct mb_tensor a = permuted(&base, (int[]){0, 2, 1});
        assert_int_equal(mb_op_matmul(&c, &a, &b, &o), MB_OK);
        assert_false(c.used & 1u << MB_KIND_COPY);
        assert_false(c.fell_back & 1u << MB_KIND_GEMM); /* blas takes the transposed view as is */
        CHECK2(&o, &a, "bij", &b, "jk", "bik");
        mb_tensor_free(&o);
        /* matmul broadcasting a size-1 batch dim of a: (2,1,3,4)@(5,4,6) */
        struct mb_tensor a2 = RND(2, 1, 3, 4), b2 = RND(5, 4, 6);
        c.used = 0;
        assert_int_equal(mb_op_matmul(&c, &a2, &b2, &o), MB_OK);
        assert_false(c.used & 1u << MB_KIND_COPY);
        mb_tensor_free(&o);
        /* linear: w.T by strides */
        struct mb_tensor x = RND(8, 5), w = RND(3, 5);
        c.used = 0;
        assert_int_equal(mb_op_linear(&c, &x, &w, NULL, &o), MB_OK);
        assert_false(c.used & 1u << MB_KIND_COPY);
        mb_tensor_free(&o);
        struct mb_tensor *all[] = {&base, &b, &a2, &b2, &x, &w};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) mb_tensor_free(all[i]);
    }
}

static void test_lower_plan(void **state)
{
    (void)state;
    /* dot (32,10,5).(32,5,8): ONE gemm M = 320, N = 32*8, K = 5; b's N axes (32, 8) are not adjacent in
     * memory, so only b is copied */
    struct mb_contraction k = {0};
    k.n[MB_LG_M] = 2, k.n[MB_LG_N] = 2, k.n[MB_LG_K] = 1;
    k.d[MB_LG_M][0] = (struct mb_lower_dim){32, {50, 0, 2560}};
    k.d[MB_LG_M][1] = (struct mb_lower_dim){10, {5, 0, 256}};
    k.d[MB_LG_N][0] = (struct mb_lower_dim){32, {0, 40, 8}};
    k.d[MB_LG_N][1] = (struct mb_lower_dim){8, {0, 1, 1}};
    k.d[MB_LG_K][0] = (struct mb_lower_dim){5, {1, 8, 0}};
    struct mb_gemm g;
    assert_int_equal(mb_lower_plan(&k, &g), 1u << MB_LO_B);
    assert_int_equal(g.M, 320);
    assert_int_equal(g.N, 256);
    assert_int_equal(g.K, 5);
    assert_int_equal(g.nbatch, 0);
    /* five batch dims with a broadcast in the middle do not merge into 4: the operands are copied */
    struct mb_contraction kb = {0};
    int64_t sz[5] = {2, 3, 2, 3, 2};
    for (int i = 0; i < 5; i++) kb.d[MB_LG_BATCH][i] = (struct mb_lower_dim){sz[i], {i % 2 ? 0 : 1, 1, 1}};
    kb.n[MB_LG_BATCH] = 5;
    assert_int_not_equal(mb_lower_plan(&kb, &g), 0);
    assert_true(g.nbatch <= MB_MAX_BATCH);
    /* a transpose is a stride swap: no copy */
    struct mb_contraction kt = {0};
    kt.n[MB_LG_M] = kt.n[MB_LG_N] = kt.n[MB_LG_K] = 1;
    kt.d[MB_LG_M][0] = (struct mb_lower_dim){4, {1, 0, 3}};
    kt.d[MB_LG_N][0] = (struct mb_lower_dim){3, {0, 1, 1}};
    kt.d[MB_LG_K][0] = (struct mb_lower_dim){5, {4, 3, 0}};
    assert_int_equal(mb_lower_plan(&kt, &g), 0);
    assert_int_equal(g.a_rs, 1);
    assert_int_equal(g.a_cs, 4);
}

static void test_lower_many_batch_dims(void **state)
{
    (void)state;
    /* 6 batch dims, a broadcasting every other one: more than MB_MAX_BATCH after merging -> copies */
    for (int v = 0; v < NVAR; v++) {
        struct mb_opctx c = ctx(variants[v]);
        struct mb_tensor a = RND(2, 1, 2, 1, 2, 1, 3, 4), b = RND(1, 3, 1, 2, 1, 2, 4, 2), o;
        assert_int_equal(mb_op_matmul(&c, &a, &b, &o), MB_OK);
        ASSERT_SHAPE(&o, 2, 3, 2, 2, 2, 2, 3, 2);
        CHECK2(&o, &a, "abcdefij", &b, "abcdefjk", "abcdefik");
        mb_tensor_free(&o), mb_tensor_free(&a), mb_tensor_free(&b);
    }
}

static void test_zero_sizes(void **state)
{
    (void)state;
    for (int v = 0; v < NVAR; v++) {
        struct mb_opctx c = ctx(variants[v]);
        struct mb_tensor a = RND(2, 0), b = RND(0, 3), e = RND(0), o;
        assert_int_equal(mb_op_matmul(&c, &a, &b, &o), MB_OK); /* zero-length contraction: zeros */
        ASSERT_SHAPE(&o, 2, 3);
        for (int i = 0; i < 6; i++) assert_true(o.data[i] == 0.0f);
        mb_tensor_free(&o);
        struct mb_tensor b2 = RND(3, 0);
        assert_int_equal(mb_op_matmul(&c, &b, &b2, &o), MB_OK); /* (0,3)@(3,0) -> (0,0) */
        ASSERT_SHAPE(&o, 0, 0);
        mb_tensor_free(&o), mb_tensor_free(&b2);
        const struct mb_tensor *ip[1] = {&e};
        assert_int_equal(mb_op_einsum(&c, "i->", 1, ip, &o), MB_OK); /* empty sum: 0-d zero */
        assert_int_equal(o.ndim, 0);
        assert_true(o.data[0] == 0.0f);
        mb_tensor_free(&o);
        mb_tensor_free(&a), mb_tensor_free(&b), mb_tensor_free(&e);
    }
}

/* Regression (QA, gen_cases.py seeds 1/3/9): a size-0 label held by only the left operand of a pairwise
 * einsum contraction got size max(0, 1) = 1, so the gemm read and wrote one element of zero-sized
 * operands (garbage results, heap overruns). The zero-sized views here point at real data of ones, so
 * the old code computed 2 instead of the empty sum 0. */
static void test_einsum_zero_label_left_only(void **state)
{
    (void)state;
    static float ones[64];
    for (int i = 0; i < 64; i++) ones[i] = 1.0f;
    for (int v = 0; v < NVAR; v++) {
        struct mb_opctx c = ctx(variants[v]);
        struct mb_tensor h0 = {.ndim = 1, .shape = {0}, .strides = {1}, .data = ones};
        struct mb_tensor two = SCALAR(), o;
        two.data[0] = 2.0f;
        const struct mb_tensor *ip3[3] = {&h0, &two, &h0};
        assert_int_equal(mb_op_einsum(&c, "h,,h->", 3, ip3, &o), MB_OK); /* (0,),(),(0,): empty sum */
        assert_int_equal(o.ndim, 0);
        assert_true(o.data[0] == 0.0f);
        mb_tensor_free(&o);
        assert_int_equal(mb_op_einsum(&c, "...hh,...,h...", 3,
                                      (const struct mb_tensor *const[]){
                                          &(struct mb_tensor){.ndim = 2, .shape = {0, 0}, .strides = {1, 1}, .data = ones},
                                          &two, &h0},
                                      &o),
                         MB_OK);
        assert_int_equal(o.ndim, 0);
        assert_true(o.data[0] == 0.0f);
        mb_tensor_free(&o);
        /* 'a' (size 0) only in the left operand and kept: the result is empty, nothing is written */
        struct mb_tensor a = {.ndim = 2, .shape = {0, 3}, .strides = {3, 1}, .data = ones}, b = RND(4);
        const struct mb_tensor *ip2[2] = {&a, &b};
        assert_int_equal(mb_op_einsum(&c, "ab,c->abc", 2, ip2, &o), MB_OK);
        ASSERT_SHAPE(&o, 0, 3, 4);
        mb_tensor_free(&o);
        /* the same label broadcasting 1 -> 0 across operands (NumPy: size 0) */
        struct mb_tensor x1 = RND(1, 3), y0 = {.ndim = 2, .shape = {0, 3}, .strides = {3, 1}, .data = ones};
        const struct mb_tensor *ip4[2] = {&x1, &y0};
        assert_int_equal(mb_op_einsum(&c, "ij,ij->i", 2, ip4, &o), MB_OK);
        ASSERT_SHAPE(&o, 0);
        mb_tensor_free(&o);
        mb_tensor_free(&b), mb_tensor_free(&x1), mb_tensor_free(&two);
    }
}

static int setup(void **state)
{
    (void)state;
    mb_exec_init(&g_exec, 0, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mb_exec_free(&g_exec);
    return 0;
}

/* a long einsum reduction is summed in double: a float running sum stalls at 2^24 (16777216) */
static void test_einsum_long_sum(void **state)
{
    (void)state;
    struct mb_tensor x, out;
    char msg[256];
    assert_int_equal(mb_tensor_alloc(&x, 2, SH(4200, 4200), msg, sizeof msg), MB_OK);
    for (int64_t i = 0; i < 4200 * 4200; i++) x.data[i] = 1.0f;
    const struct mb_tensor *in[1] = {&x};
    struct mb_opctx c = ctx("naive");
    assert_int_equal(mb_op_einsum(&c, "ij->", 1, in, &out), MB_OK);
    assert_int_equal(out.ndim, 0);
    assert_float_equal(out.data[0], 17640000.0f, 0.0f);
    mb_tensor_free(&out);
    mb_tensor_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_seed_dot_message),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_einsum_subscripts),
        cmocka_unit_test(test_matmul_numeric),
        cmocka_unit_test(test_dot_tensordot_numeric),
        cmocka_unit_test(test_batch_dot_numeric),
        cmocka_unit_test(test_einsum_numeric),
        cmocka_unit_test(test_outer_linear_numeric),
        cmocka_unit_test(test_no_copy),
        cmocka_unit_test(test_lower_plan),
        cmocka_unit_test(test_lower_many_batch_dims),
        cmocka_unit_test(test_zero_sizes),
        cmocka_unit_test(test_einsum_zero_label_left_only), cmocka_unit_test(test_einsum_long_sum),
    };
    return cmocka_run_group_tests_name("contract", tests, setup, teardown);
}
