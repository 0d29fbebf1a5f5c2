/*
 * test_ops_core.c: the non-contraction ops (ops/elementwise.c, ops/nn.c, ops/shape.c) and their lowering:
 * broadcasting rules and errors, the fewest-dims collapse of mb_binary, IEEE division, softmax and
 * attention edge cases against fp64 references (all -inf rows, +1000 offsets, mask broadcasting, causal
 * with L != S, weights, K/V shared across heads, the >4-batch-dim copy fallback), shape ops with negative
 * axes and every error word, and that error messages name the op and the shapes and leave no output.
 * Numeric tests run with every registry variant this CPU can run (their BINARY/SOFTMAX/ATTENTION kernels).
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

#include "internal.h"

static struct mb_exec g_exec;
static const char *g_variants[64];
static int g_nvar;

static struct mb_opctx ctx(const char *variant) { return (struct mb_opctx){.variant = variant, .exec = &g_exec}; }


static void assert_shape(const struct mb_tensor *t, int nd, const int64_t *shape)
{
    char a[256], b[256];
    if (t->ndim != nd || (nd && memcmp(t->shape, shape, (size_t)nd * sizeof *shape)))
        fail_msg("shape %s, expected %s", mb_shape_str(t->ndim, t->shape, a, sizeof a),
                 mb_shape_str(nd, shape, b, sizeof b));
}
#define ASSERT_SHAPE(t, ...) assert_shape(&(t), NSH(__VA_ARGS__), SH(__VA_ARGS__))

/* element of x at the index idx of a broadcast shape of rank nd (right-aligned, size-1 dims broadcast) */
static float at(const struct mb_tensor *x, int nd, const int64_t *idx)
{
    int64_t off = 0;
    for (int i = 0; i < x->ndim; i++) {
        int64_t j = idx[nd - x->ndim + i];
        off += (x->shape[i] == 1 ? 0 : j) * x->strides[i];
    }
    return x->data[off];
}

/* next multi-index in C order; false when done */
static bool next_index(int nd, const int64_t *shape, int64_t *idx)
{
    for (int i = nd - 1; i >= 0; i--) {
        if (++idx[i] < shape[i]) return true;
        idx[i] = 0;
    }
    return false;
}

/* the op must fail with MB_EINVAL, a message holding every given word (case-insensitive), and no output */
static void expect_error(enum mb_status s, const struct mb_opctx *c, const struct mb_tensor *out, int nwords,
                         const char *const *words)
{
    if (s != MB_EINVAL) fail_msg("expected MB_EINVAL, got %s (%s)", mb_status_str(s), c->msg);
    for (int i = 0; i < nwords; i++)
        if (!strcasestr(c->msg, words[i])) fail_msg("message lacks '%s': %s", words[i], c->msg);
    assert_null(out->data);
    assert_null(out->owned);
}
#define EXPECT_ERROR(s, c, out, ...)                                                                                   \
    expect_error(s, &(c), &(out), (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)),                     \
                 (const char *[]){__VA_ARGS__})

/* |got - want| <= tol*(1+|want|), NaN iff NaN, inf exact */
static void assert_close(float got, double want, double tol, const char *what, int64_t i)
{
    bool ok = isnan(want) ? isnan(got) : isinf(want) ? got == want : fabs(got - want) <= tol * (1 + fabs(want));
    if (!ok) fail_msg("%s[%lld]: got %.9g, expected %.9g", what, (long long)i, got, want);
}

// ---------------------------------------------------------------------------------------------------
// element-wise

static double ref_binop(enum mb_binop op, double a, double b)
{
    switch (op) {
    case MB_ADD: return (float)a + (float)b;
    case MB_SUB: return (float)a - (float)b;
    case MB_MUL: return (float)a * (float)b;
    case MB_DIV: return (float)a / (float)b;
    }
    return NAN;
}

/* z = a op b with every variant, against a per-element reference over the broadcast index space */
static void check_binary(const struct mb_tensor *a, const struct mb_tensor *b, int nd, const int64_t *want)
{
    for (int v = 0; v < g_nvar; v++)
        for (int op = MB_ADD; op <= MB_DIV; op++) {
            struct mb_opctx c = ctx(g_variants[v]);
            struct mb_tensor z;
            if (mb_op_binary(&c, (enum mb_binop)op, a, b, &z) != MB_OK) fail_msg("%s: %s", g_variants[v], c.msg);
            assert_shape(&z, nd, want);
            int64_t idx[MB_MAX_DIMS] = {0}, i = 0;
            if (mb_tensor_numel(&z))
                do {
                    assert_close(z.data[i], ref_binop((enum mb_binop)op, at(a, nd, idx), at(b, nd, idx)), 0, "z", i);
                    i++;
                } while (next_index(nd, z.shape, idx));
            assert_int_equal(i, mb_tensor_numel(&z));
            mb_tensor_free(&z);
        }
}

static void test_broadcast_values(void **state)
{
    (void)state;
    struct mb_tensor a = RND(32, 10), b = RND(10), c = RND(32, 20, 10), d = RND(20, 1), e = RND(3, 1), f = RND(1, 4),
                     g = RND(0, 3), h = RND(3), s = rnd(0, SH(0)), u = RND(2, 1, 4, 1, 3), w = RND(5, 1, 1, 1);
    check_binary(&a, &b, 2, SH(32, 10));
    check_binary(&c, &d, 3, SH(32, 20, 10));
    check_binary(&e, &f, 2, SH(3, 4));
    check_binary(&g, &h, 2, SH(0, 3)); /* size 1 broadcasts to 0 */
    check_binary(&s, &s, 0, SH(0));
    check_binary(&s, &c, 3, SH(32, 20, 10));
    check_binary(&u, &w, 5, SH(2, 5, 4, 1, 3));
    /* strided views: a transposed operand and a column slice */
    struct mb_tensor at_ = {.ndim = 2, .shape = {10, 32}, .strides = {1, 10}, .data = a.data};
    struct mb_tensor col = {.ndim = 2, .shape = {10, 1}, .strides = {1, 0}, .data = b.data};
    check_binary(&at_, &col, 2, SH(10, 32));
    struct mb_tensor *all[] = {&a, &b, &c, &d, &e, &f, &g, &h, &s, &u, &w};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) mb_tensor_free(all[i]);
}

static void test_broadcast_errors(void **state)
{
    (void)state;
    struct mb_tensor a = RND(32, 10), b = RND(32, 9), c = RND(2, 3), d = RND(3, 2), z;
    struct mb_opctx cx = ctx("naive");
    EXPECT_ERROR(mb_op_binary(&cx, MB_ADD, &a, &b, &z), cx, z, "add", "broadcast", "(32,10)", "(32,9)", "10", "9");
    EXPECT_ERROR(mb_op_binary(&cx, MB_DIV, &c, &d, &z), cx, z, "div", "broadcast", "(2,3)", "(3,2)");
    mb_tensor_free(&a), mb_tensor_free(&b), mb_tensor_free(&c), mb_tensor_free(&d);
}

/* the lowered mb_binary for a (shape_a) op b (shape_b), both contiguous */
static struct mb_binary lowered(int na, const int64_t *sa, int nb, const int64_t *sb)
{
    struct mb_tensor a = rnd(na, sa), b = rnd(nb, sb), z;
    int nd;
    int64_t shape[MB_MAX_DIMS];
    char msg[256];
    assert_int_equal(mb_broadcast_shapes("add", na, sa, nb, sb, &nd, shape, msg, sizeof msg), MB_OK);
    assert_int_equal(mb_tensor_alloc(&z, nd, shape, msg, sizeof msg), MB_OK);
    struct mb_binary p;
    mb_binary_lower(MB_ADD, &a, &b, &z, &p);
    mb_tensor_free(&a), mb_tensor_free(&b), mb_tensor_free(&z);
    return p;
}
#define LOWERED(A, B) lowered(NSH A, SH A, NSH B, SH B)

static void assert_dims(const struct mb_binary *p, int nd, const int64_t *shape, const int64_t *xs, const int64_t *ys)
{
    assert_int_equal(p->ndim, nd);
    for (int i = 0; i < nd; i++) {
        assert_int_equal(p->shape[i], shape[i]);
        assert_int_equal(p->xs[i], xs[i]);
        assert_int_equal(p->ys[i], ys[i]);
    }
}

static void test_binary_collapse(void **state)
{
    (void)state;
    struct mb_binary p;
    p = LOWERED((4, 5, 6), (4, 5, 6)); /* same shape: one row */
    assert_dims(&p, 1, SH(120), SH(1), SH(1));
    p = LOWERED((2, 3, 4, 5), (4, 5)); /* leading broadcast dims merge, trailing dims merge */
    assert_dims(&p, 2, SH(6, 20), SH(20, 1), SH(0, 1));
    p = LOWERED((32, 20, 10), (20, 1)); /* y strides (0,1,0): nothing merges, 3 is the minimum */
    assert_dims(&p, 3, SH(32, 20, 10), SH(200, 10, 1), SH(0, 1, 0));
    p = LOWERED((8, 4), (4,));
    assert_dims(&p, 2, SH(8, 4), SH(4, 1), SH(0, 1));
    p = LOWERED((2, 3, 4), (1, 1, 1)); /* a broadcast scalar: stride 0 over one row */
    assert_dims(&p, 1, SH(24), SH(1), SH(0));
    p = LOWERED((3, 1, 4), (3, 1, 4)); /* size-1 dims vanish */
    assert_dims(&p, 1, SH(12), SH(1), SH(1));
    p = LOWERED((0, 3), (3,)); /* empty: one dim of 0 */
    assert_int_equal(p.ndim, 1);
    assert_int_equal(p.shape[0], 0);
    p = LOWERED((1, 1), (1,)); /* one element: 0 dims */
    assert_int_equal(p.ndim, 0);
    /* the z strides stay consistent with the collapsed shape: contiguous */
    p = LOWERED((2, 3, 4, 5), (4, 5));
    assert_int_equal(p.zs[0], 20);
    assert_int_equal(p.zs[1], 1);
    /* a transposed x cannot merge with a contiguous z */
    struct mb_tensor a = RND(4, 3), b = RND(3, 4), z;
    struct mb_tensor at_ = {.ndim = 2, .shape = {3, 4}, .strides = {1, 3}, .data = a.data};
    char msg[64];
    assert_int_equal(mb_tensor_alloc(&z, 2, SH(3, 4), msg, sizeof msg), MB_OK);
    mb_binary_lower(MB_ADD, &at_, &b, &z, &p);
    assert_dims(&p, 2, SH(3, 4), SH(1, 3), SH(4, 1));
    mb_tensor_free(&a), mb_tensor_free(&b), mb_tensor_free(&z);
}

static void test_div_ieee(void **state)
{
    (void)state;
    struct mb_tensor a = RND(4), b = RND(4), z;
    const float x[4] = {1.0f, -1.0f, 0.0f, 2.0f}, y[4] = {0.0f, 0.0f, 0.0f, -0.0f};
    memcpy(a.data, x, sizeof x), memcpy(b.data, y, sizeof y);
    for (int v = 0; v < g_nvar; v++) {
        struct mb_opctx c = ctx(g_variants[v]);
        assert_int_equal(mb_op_binary(&c, MB_DIV, &a, &b, &z), MB_OK);
        assert_true(isinf(z.data[0]) && z.data[0] > 0);
        assert_true(isinf(z.data[1]) && z.data[1] < 0);
        assert_true(isnan(z.data[2]));
        assert_true(isinf(z.data[3]) && z.data[3] < 0); /* 2 / -0 = -inf */
        mb_tensor_free(&z);
    }
    mb_tensor_free(&a), mb_tensor_free(&b);
}

// ---------------------------------------------------------------------------------------------------
// softmax

/* fp64 max-subtracted softmax of x along ax, compared with y (contiguous, x's shape) */
static void check_softmax(const struct mb_tensor *x, int ax, const struct mb_tensor *y, const char *variant)
{
    int64_t idx[MB_MAX_DIMS] = {0}, rows[MB_MAX_DIMS];
    memcpy(rows, x->shape, sizeof rows);
    rows[ax] = 1;
    if (!mb_tensor_numel(x)) return;
    do {
        double mx = -INFINITY, sum = 0;
        for (idx[ax] = 0; idx[ax] < x->shape[ax]; idx[ax]++) mx = fmax(mx, at(x, x->ndim, idx));
        for (idx[ax] = 0; idx[ax] < x->shape[ax]; idx[ax]++) sum += exp(at(x, x->ndim, idx) - mx);
        for (idx[ax] = 0; idx[ax] < x->shape[ax]; idx[ax]++) {
            double want = isinf(mx) && mx < 0 ? NAN : exp(at(x, x->ndim, idx) - mx) / sum;
            int64_t off = 0;
            for (int i = 0; i < x->ndim; i++) off += idx[i] * y->strides[i];
            assert_close(y->data[off], want, 1e-5, variant, off);
        }
        idx[ax] = 0;
    } while (next_index(x->ndim, rows, idx));
}

static void test_softmax_axes(void **state)
{
    (void)state;
    struct mb_tensor x = RND(3, 4, 5), y;
    struct mb_tensor xt = {.ndim = 3, .shape = {5, 4, 3}, .strides = {1, 5, 20}, .data = x.data}; /* transposed */
    for (int v = 0; v < g_nvar; v++)
        for (int64_t axis = -3; axis < 3; axis++) {
            struct mb_opctx c = ctx(g_variants[v]);
            if (mb_op_softmax(&c, &x, axis, &y) != MB_OK) fail_msg("%s", c.msg);
            ASSERT_SHAPE(y, 3, 4, 5);
            check_softmax(&x, (int)(axis < 0 ? axis + 3 : axis), &y, g_variants[v]);
            assert_true(c.used == 1u << MB_KIND_SOFTMAX); /* one softmax problem, no copies */
            mb_tensor_free(&y);
            assert_int_equal(mb_op_softmax(&c, &xt, axis, &y), MB_OK);
            check_softmax(&xt, (int)(axis < 0 ? axis + 3 : axis), &y, g_variants[v]);
            mb_tensor_free(&y);
        }
    mb_tensor_free(&x);
}

static void test_softmax_edges(void **state)
{
    (void)state;
    struct mb_tensor x = RND(4, 6), y, y2, e = RND(0, 5), s = rnd(0, SH(0));
    for (int j = 0; j < 6; j++) x.data[0 * 6 + j] = -INFINITY; /* all -inf row -> NaN */
    x.data[1 * 6 + 2] = -INFINITY;                              /* one -inf entry -> weight 0 */
    for (int v = 0; v < g_nvar; v++) {
        struct mb_opctx c = ctx(g_variants[v]);
        assert_int_equal(mb_op_softmax(&c, &x, -1, &y), MB_OK);
        for (int j = 0; j < 6; j++) assert_true(isnan(y.data[j]));
        assert_true(y.data[6 + 2] == 0.0f);
        check_softmax(&x, 1, &y, g_variants[v]);
        /* +1000 offset: the same weights (overflows without max subtraction) */
        struct mb_tensor xo = RND(4, 6);
        memcpy(xo.data, x.data, 24 * sizeof(float));
        for (int i = 12; i < 24; i++) xo.data[i] += 1000.0f;
        assert_int_equal(mb_op_softmax(&c, &xo, 1, &y2), MB_OK);
        for (int i = 12; i < 24; i++) assert_close(y2.data[i], y.data[i], 1e-4, "offset", i);
        mb_tensor_free(&y2), mb_tensor_free(&xo), mb_tensor_free(&y);
        assert_int_equal(mb_op_softmax(&c, &e, 0, &y), MB_OK); /* 0-sized */
        ASSERT_SHAPE(y, 0, 5);
        mb_tensor_free(&y);
        assert_int_equal(mb_op_softmax(&c, &e, 1, &y), MB_OK);
        mb_tensor_free(&y);
    }
    struct mb_opctx c = ctx("naive");
    EXPECT_ERROR(mb_op_softmax(&c, &x, 2, &y), c, y, "softmax", "axis 2", "(4,6)");
    EXPECT_ERROR(mb_op_softmax(&c, &x, -3, &y), c, y, "softmax", "axis -3");
    EXPECT_ERROR(mb_op_softmax(&c, &s, -1, &y), c, y, "softmax", "axis", "()");
    mb_tensor_free(&x), mb_tensor_free(&e), mb_tensor_free(&s);
}

// ---------------------------------------------------------------------------------------------------
// attention

struct attn_ref {
    bool has_scale, causal;
    float scale;
    const struct mb_tensor *mask;
};

/* fp64 reference over the broadcast batch shape; checks o and (if given) w */
static void check_attention(const struct mb_tensor *q, const struct mb_tensor *k, const struct mb_tensor *v,
                            const struct attn_ref *r, const struct mb_tensor *o, const struct mb_tensor *w,
                            const char *variant)
{
    int nb = o->ndim - 2;
    int64_t L = q->shape[q->ndim - 2], S = k->shape[k->ndim - 2], D = q->shape[q->ndim - 1], Dv = o->shape[nb + 1];
    double scale = r->has_scale ? r->scale : 1.0 / sqrt((double)D);
    int64_t bidx[MB_MAX_DIMS + 2] = {0}, n = 0;
    double *p = calloc((size_t)S + 1, sizeof *p);
    if (mb_tensor_numel(o) == 0) goto done;
    do {
        for (int64_t i = 0; i < L; i++) {
            int64_t ix[MB_MAX_DIMS + 2];
            memcpy(ix, bidx, sizeof ix);
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < S; j++) {
                double s = 0;
                for (int64_t d = 0; d < D; d++) {
                    ix[nb] = i, ix[nb + 1] = d;
                    double qv = at(q, nb + 2, ix);
                    ix[nb] = j;
                    s += qv * at(k, nb + 2, ix);
                }
                s *= scale;
                ix[nb] = i, ix[nb + 1] = j;
                if ((r->mask && at(r->mask, nb + 2, ix) == 0.0f) || (r->causal && j > i)) s = -INFINITY;
                p[j] = s;
                mx = fmax(mx, s);
            }
            for (int64_t j = 0; j < S; j++) sum += p[j] = exp(p[j] - mx);
            for (int64_t j = 0; j < S; j++) p[j] = isinf(mx) && mx < 0 ? NAN : p[j] / sum;
            for (int64_t e = 0; e < Dv; e++) {
                double acc = 0;
                for (int64_t j = 0; j < S; j++) {
                    ix[nb] = j, ix[nb + 1] = e;
                    acc += p[j] * at(v, nb + 2, ix);
                }
                int64_t off = (n * L + i) * Dv + e;
                assert_close(o->data[off], acc, 2e-5, variant, off);
            }
            if (w)
                for (int64_t j = 0; j < S; j++) assert_close(w->data[(n * L + i) * S + j], p[j], 2e-5, "w", j);
        }
        n++;
    } while (next_index(nb, o->shape, bidx));
done:
    free(p);
}

static void run_attention(const struct mb_tensor *q, const struct mb_tensor *k, const struct mb_tensor *v,
                          const struct attn_ref *r, int nd, const int64_t *oshape)
{
    for (int var = 0; var < g_nvar; var++) {
        struct mb_opctx c = ctx(g_variants[var]);
        struct mb_tensor o, w;
        if (mb_op_attention(&c, q, k, v, r->mask, r->has_scale, r->scale, r->causal, &o, &w) != MB_OK)
            fail_msg("%s: %s", g_variants[var], c.msg);
        assert_shape(&o, nd, oshape);
        assert_int_equal(w.ndim, nd);
        assert_int_equal(w.shape[nd - 1], k->shape[k->ndim - 2]);
        check_attention(q, k, v, r, &o, &w, g_variants[var]);
        mb_tensor_free(&o), mb_tensor_free(&w);
        /* without weights */
        assert_int_equal(mb_op_attention(&c, q, k, v, r->mask, r->has_scale, r->scale, r->causal, &o, NULL), MB_OK);
        check_attention(q, k, v, r, &o, NULL, g_variants[var]);
        mb_tensor_free(&o);
    }
}

static void test_attention_values(void **state)
{
    (void)state;
    /* padding mask (B,1,1,S) broadcast over heads and queries, K/V shared across heads (B,1,S,d) */
    struct mb_tensor q = RND(2, 3, 4, 8), k = RND(2, 1, 5, 8), v = RND(2, 1, 5, 6), m = RND(2, 1, 1, 5);
    for (int i = 0; i < 10; i++) m.data[i] = i % 5 < 3 ? 1.0f : 0.0f;
    run_attention(&q, &k, &v, &(struct attn_ref){.mask = &m}, 4, SH(2, 3, 4, 6));
    /* causal, L < S and L > S, explicit scale */
    struct mb_tensor q2 = RND(2, 3, 4), k2 = RND(2, 5, 4), v2 = RND(2, 5, 3), q3 = RND(6, 4), k3 = RND(2, 4),
                     v3 = RND(2, 2);
    run_attention(&q2, &k2, &v2, &(struct attn_ref){.causal = true}, 3, SH(2, 3, 3));
    run_attention(&q3, &k3, &v3, &(struct attn_ref){.causal = true, .has_scale = true, .scale = 0.125f}, 2, SH(6, 2));
    /* a fully masked query row: NaN output row and weights */
    struct mb_tensor m2 = RND(3, 5);
    for (int i = 0; i < 15; i++) m2.data[i] = i / 5 == 1 ? 0.0f : 1.0f;
    run_attention(&q2, &k2, &v2, &(struct attn_ref){.mask = &m2}, 3, SH(2, 3, 3));
    struct mb_opctx c = ctx("naive");
    struct mb_tensor o, w;
    assert_int_equal(mb_op_attention(&c, &q2, &k2, &v2, &m2, false, 0, false, &o, &w), MB_OK);
    for (int e = 0; e < 3; e++) assert_true(isnan(o.data[1 * 3 + e]));
    for (int j = 0; j < 5; j++) assert_true(isnan(w.data[1 * 5 + j]));
    mb_tensor_free(&o), mb_tensor_free(&w);
    /* five batch dims whose broadcast pattern cannot merge: the expanded-copy fallback */
    struct mb_tensor q5 = RND(2, 1, 2, 1, 2, 3, 4), k5 = RND(1, 2, 1, 2, 1, 2, 4), v5 = RND(1, 2, 1, 2, 1, 2, 3),
                     m5 = RND(2, 1, 1, 1, 1, 3, 2);
    for (int i = 0; i < 12; i++) m5.data[i] = (i % 3) ? 1.0f : 0.0f;
    run_attention(&q5, &k5, &v5, &(struct attn_ref){.mask = &m5}, 7, SH(2, 2, 2, 2, 2, 3, 3));
    struct mb_tensor *all[] = {&q, &k, &v, &m, &q2, &k2, &v2, &q3, &k3, &v3, &m2, &q5, &k5, &v5, &m5};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) mb_tensor_free(all[i]);
}

/* v may widen the batch (weights @ v broadcasts), but the weights keep the scores' shape
 * broadcast(q, k batch) + (L, S), and the mask must broadcast to that (SEMANTICS §11; torch). */
static void test_attention_v_widens_batch(void **state)
{
    (void)state;
    struct mb_tensor q = RND(1, 1, 5), k = RND(1, 2, 5), v = RND(2, 2, 3), m = RND(1, 2), o, w, o1, w1;
    m.data[0] = 1.0f, m.data[1] = 1.0f;
    struct mb_tensor v1 = v; /* v's first batch item as its own (1,2,3) tensor */
    v1.shape[0] = 1;
    for (int var = 0; var < g_nvar; var++) {
        struct mb_opctx c = ctx(g_variants[var]);
        assert_int_equal(mb_op_attention(&c, &q, &k, &v, &m, false, 0, false, &o, &w), MB_OK);
        assert_shape(&o, 3, SH(2, 1, 3));
        assert_shape(&w, 3, SH(1, 1, 2));
        assert_int_equal(mb_op_attention(&c, &q, &k, &v1, &m, false, 0, false, &o1, &w1), MB_OK);
        for (int j = 0; j < 2; j++) assert_float_equal(w.data[j], w1.data[j], 1e-7);
        for (int b = 0; b < 2; b++)
            for (int e = 0; e < 3; e++) {
                double want = 0;
                for (int j = 0; j < 2; j++) want += (double)w.data[j] * v.data[(b * 2 + j) * 3 + e];
                assert_close(o.data[b * 3 + e], want, 2e-5, g_variants[var], b * 3 + e);
            }
        mb_tensor_free(&o), mb_tensor_free(&w), mb_tensor_free(&o1), mb_tensor_free(&w1);
    }
    /* a mask shaped like the widened batch does not broadcast to the scores (1,2,3) */
    struct mb_tensor q2 = RND(1, 2, 4), k2 = RND(1, 3, 4), v2 = RND(3, 3, 2), m2 = RND(3, 2, 3);
    struct mb_opctx c = ctx("naive");
    EXPECT_ERROR(mb_op_attention(&c, &q2, &k2, &v2, &m2, false, 0, false, &o, &w), c, o, "attention", "broadcast",
                 "(3,2,3)", "(1,2,3)");
    struct mb_tensor *all[] = {&q, &k, &v, &m, &q2, &k2, &v2, &m2};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) mb_tensor_free(all[i]);
}

/* A variant whose scratch does not fit the workspace (blas/onednn attention keep all Tq*Tk scores, the
 * SIMD softmax a column per thread) used to fail a valid op with "out of memory / workspace too small";
 * it falls back to naive, which needs only a score row, like a variant that declines the case. */
static void test_small_workspace_falls_back(void **state)
{
    (void)state;
    struct mb_exec small;
    mb_exec_init(&small, 1024, 1); /* 256 floats: a 40-key row fits, 40x40 scores do not */
    struct mb_tensor q = RND(40, 4), k = RND(40, 4), v = RND(40, 3), x = RND(300, 2), o, w;
    for (int var = 0; var < g_nvar; var++) {
        struct mb_opctx c = {.variant = g_variants[var], .exec = &small};
        if (mb_op_attention(&c, &q, &k, &v, NULL, false, 0, false, &o, &w) != MB_OK)
            fail_msg("%s: %s", g_variants[var], c.msg);
        check_attention(&q, &k, &v, &(struct attn_ref){0}, &o, &w, g_variants[var]);
        mb_tensor_free(&o), mb_tensor_free(&w);
        if (mb_op_softmax(&c, &x, 0, &o) != MB_OK) fail_msg("%s: %s", g_variants[var], c.msg);
        check_softmax(&x, 0, &o, g_variants[var]);
        mb_tensor_free(&o);
    }
    mb_tensor_free(&q), mb_tensor_free(&k), mb_tensor_free(&v), mb_tensor_free(&x);
    mb_exec_free(&small);
}

/* d = 0: the scores are scale * (empty sum) = inf * 0 = NaN with the default scale 1/sqrt(0), on every variant */
static void test_attention_d0(void **state)
{
    (void)state;
    struct mb_tensor q = RND(3, 0), k = RND(4, 0), v = RND(4, 2), o;
    for (int var = 0; var < g_nvar; var++) {
        struct mb_opctx c = ctx(g_variants[var]);
        assert_int_equal(mb_op_attention(&c, &q, &k, &v, NULL, false, 0, false, &o, NULL), MB_OK);
        assert_shape(&o, 2, SH(3, 2));
        for (int i = 0; i < 6; i++)
            if (!isnan(o.data[i])) fail_msg("%s: o[%d] = %g, want NaN", g_variants[var], i, o.data[i]);
        mb_tensor_free(&o);
    }
    mb_tensor_free(&q), mb_tensor_free(&k), mb_tensor_free(&v);
}

static void test_attention_errors(void **state)
{
    (void)state;
    struct mb_tensor q = RND(2, 3, 4), k = RND(2, 5, 4), v = RND(2, 5, 6), kd = RND(2, 5, 7), vs = RND(2, 6, 6),
                     kb = RND(3, 5, 4), m_bad = RND(3, 4), m_big = RND(4, 2, 3, 5), r1 = RND(4), o, w;
    struct mb_opctx c = ctx("naive");
    EXPECT_ERROR(mb_op_attention(&c, &q, &kd, &v, NULL, false, 0, false, &o, &w), c, o, "attention", "dimension",
                 "q.shape[-1]=4", "k.shape[-1]=7", "(2,3,4)", "(2,5,7)");
    assert_null(w.data);
    EXPECT_ERROR(mb_op_attention(&c, &q, &k, &vs, NULL, false, 0, false, &o, &w), c, o, "attention", "dimension",
                 "k.shape[-2]=5", "v.shape[-2]=6");
    EXPECT_ERROR(mb_op_attention(&c, &q, &kb, &v, NULL, false, 0, false, &o, &w), c, o, "attention", "broadcast",
                 "(2,3,4)", "(3,5,4)");
    EXPECT_ERROR(mb_op_attention(&c, &q, &k, &v, &m_bad, false, 0, false, &o, &w), c, o, "attention", "broadcast",
                 "mask (3,4)", "(2,3,5)");
    /* a mask may not enlarge the scores: it must broadcast TO (2,3,5) */
    EXPECT_ERROR(mb_op_attention(&c, &q, &k, &v, &m_big, false, 0, false, &o, &w), c, o, "attention", "broadcast");
    EXPECT_ERROR(mb_op_attention(&c, &r1, &k, &v, NULL, false, 0, false, &o, &w), c, o, "attention", "rank", "(4,)");
    assert_null(w.data);
    struct mb_tensor *all[] = {&q, &k, &v, &kd, &vs, &kb, &m_bad, &m_big, &r1};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) mb_tensor_free(all[i]);
}

// ---------------------------------------------------------------------------------------------------
// shape ops

static void test_transpose(void **state)
{
    (void)state;
    struct mb_tensor x = RND(2, 3, 4), y;
    struct mb_opctx c = ctx("naive");
    assert_int_equal(mb_op_transpose(&c, &x, 0, NULL, &y), MB_OK); /* default: reversed */
    ASSERT_SHAPE(y, 4, 3, 2);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) assert_true(y.data[(k * 3 + j) * 2 + i] == x.data[(i * 3 + j) * 4 + k]);
    mb_tensor_free(&y);
    assert_int_equal(mb_op_transpose(&c, &x, 3, SH(0, -1, -2), &y), MB_OK); /* negative axes */
    ASSERT_SHAPE(y, 2, 4, 3);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) assert_true(y.data[(i * 4 + k) * 3 + j] == x.data[(i * 3 + j) * 4 + k]);
    mb_tensor_free(&y);
    EXPECT_ERROR(mb_op_transpose(&c, &x, 3, SH(0, 1, 1), &y), c, y, "transpose", "axis", "repeated", "(2,3,4)");
    EXPECT_ERROR(mb_op_transpose(&c, &x, 3, SH(0, 1, 3), &y), c, y, "transpose", "axis 3", "(2,3,4)");
    EXPECT_ERROR(mb_op_transpose(&c, &x, 3, SH(0, 1, -4), &y), c, y, "transpose", "axis -4");
    EXPECT_ERROR(mb_op_transpose(&c, &x, 2, SH(1, 0), &y), c, y, "transpose", "axis", "2 entries", "3 axes");
    mb_tensor_free(&x);
}

static void test_concatenate_stack(void **state)
{
    (void)state;
    struct mb_tensor a = RND(2, 3), b = RND(2, 5), d = RND(4, 3), e = RND(2, 3, 1), y;
    const struct mb_tensor *ab[] = {&a, &b}, *aa[] = {&a, &a}, *ad[] = {&a, &d}, *ae[] = {&a, &e};
    struct mb_opctx c = ctx("naive");
    assert_int_equal(mb_op_concatenate(&c, 2, ab, -1, &y), MB_OK);
    ASSERT_SHAPE(y, 2, 8);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 8; j++)
            assert_true(y.data[i * 8 + j] == (j < 3 ? a.data[i * 3 + j] : b.data[i * 5 + j - 3]));
    mb_tensor_free(&y);
    assert_int_equal(mb_op_concatenate(&c, 2, ad, 0, &y), MB_OK);
    ASSERT_SHAPE(y, 6, 3);
    assert_memory_equal(y.data + 6, d.data, 12 * sizeof(float));
    mb_tensor_free(&y);
    EXPECT_ERROR(mb_op_concatenate(&c, 2, ab, 0, &y), c, y, "concatenate", "dimension", "axis 1", "(2,3)", "(2,5)");
    EXPECT_ERROR(mb_op_concatenate(&c, 2, ae, 0, &y), c, y, "concatenate", "dimension", "(2,3)", "(2,3,1)");
    EXPECT_ERROR(mb_op_concatenate(&c, 2, ab, 2, &y), c, y, "concatenate", "axis 2", "(2,3)");

    for (int64_t axis = -3; axis <= 2; axis++) {
        assert_int_equal(mb_op_stack(&c, 2, aa, axis, &y), MB_OK);
        int ax = (int)(axis < 0 ? axis + 3 : axis);
        int64_t want[3] = {2, 3, 3};
        want[ax] = 2;
        for (int i = 0, j = 0; i < 3; i++)
            if (i != ax) want[i] = a.shape[j++];
        assert_shape(&y, 3, want);
        mb_tensor_free(&y);
    }
    EXPECT_ERROR(mb_op_stack(&c, 2, ad, 0, &y), c, y, "stack", "shape", "(2,3)", "(4,3)");
    EXPECT_ERROR(mb_op_stack(&c, 2, aa, 3, &y), c, y, "stack", "axis 3", "(2,3)");
    EXPECT_ERROR(mb_op_stack(&c, 2, aa, -4, &y), c, y, "stack", "axis -4");
    /* values: stack (a, a2) on axis 1 gives y[i][s][j] = in[s][i][j] */
    struct mb_tensor a2 = RND(2, 3);
    const struct mb_tensor *pair[] = {&a, &a2};
    assert_int_equal(mb_op_stack(&c, 2, pair, 1, &y), MB_OK);
    for (int i = 0; i < 2; i++)
        for (int s2 = 0; s2 < 2; s2++)
            for (int j = 0; j < 3; j++) assert_true(y.data[(i * 2 + s2) * 3 + j] == pair[s2]->data[i * 3 + j]);
    mb_tensor_free(&y), mb_tensor_free(&a2);
    const struct mb_tensor *ad2[] = {&a, &e};
    EXPECT_ERROR(mb_op_stack(&c, 2, ad2, 0, &y), c, y, "stack", "shape");
    struct mb_tensor *all[] = {&a, &b, &d, &e};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) mb_tensor_free(all[i]);
}

static void test_expand_reshape(void **state)
{
    (void)state;
    struct mb_tensor x = RND(32, 20, 1), y, r8 = RND(1, 1, 1, 1, 1, 1, 1, 2);
    struct mb_opctx c = ctx("naive");
    assert_int_equal(mb_op_expand_dims(&c, &x, -1, &y), MB_OK);
    ASSERT_SHAPE(y, 32, 20, 1, 1);
    assert_memory_equal(y.data, x.data, 640 * sizeof(float));
    mb_tensor_free(&y);
    assert_int_equal(mb_op_expand_dims(&c, &x, 0, &y), MB_OK);
    ASSERT_SHAPE(y, 1, 32, 20, 1);
    mb_tensor_free(&y);
    assert_int_equal(mb_op_expand_dims(&c, &x, -4, &y), MB_OK);
    ASSERT_SHAPE(y, 1, 32, 20, 1);
    mb_tensor_free(&y);
    EXPECT_ERROR(mb_op_expand_dims(&c, &x, 4, &y), c, y, "expand_dims", "axis 4", "(32,20,1)");
    EXPECT_ERROR(mb_op_expand_dims(&c, &x, -5, &y), c, y, "expand_dims", "axis -5");
    EXPECT_ERROR(mb_op_expand_dims(&c, &r8, 0, &y), c, y, "expand_dims", "rank");

    assert_int_equal(mb_op_reshape(&c, &x, 2, SH(32, -1), &y), MB_OK);
    ASSERT_SHAPE(y, 32, 20);
    mb_tensor_free(&y);
    assert_int_equal(mb_op_reshape(&c, &x, 1, SH(-1), &y), MB_OK);
    ASSERT_SHAPE(y, 640);
    mb_tensor_free(&y);
    /* a transposed view reshapes in its own C order */
    struct mb_tensor m = RND(2, 3);
    struct mb_tensor mt = {.ndim = 2, .shape = {3, 2}, .strides = {1, 3}, .data = m.data};
    assert_int_equal(mb_op_reshape(&c, &mt, 1, SH(6), &y), MB_OK);
    for (int i = 0; i < 6; i++) assert_true(y.data[i] == m.data[(i % 2) * 3 + i / 2]);
    mb_tensor_free(&y);
    EXPECT_ERROR(mb_op_reshape(&c, &x, 2, SH(7, -1), &y), c, y, "reshape", "size", "(32,20,1)", "(7,-1)");
    EXPECT_ERROR(mb_op_reshape(&c, &x, 2, SH(30, 20), &y), c, y, "reshape", "size", "640", "600");
    EXPECT_ERROR(mb_op_reshape(&c, &x, 2, SH(-1, -1), &y), c, y, "reshape", "-1");
    EXPECT_ERROR(mb_op_reshape(&c, &x, 2, SH(-2, -320), &y), c, y, "reshape", "negative");
    struct mb_tensor z = RND(0, 3);
    EXPECT_ERROR(mb_op_reshape(&c, &z, 2, SH(0, -1), &y), c, y, "reshape", "infer"); /* as NumPy */
    assert_int_equal(mb_op_reshape(&c, &z, 3, SH(3, 0, 5), &y), MB_OK);
    ASSERT_SHAPE(y, 3, 0, 5);
    mb_tensor_free(&y);
    mb_tensor_free(&x), mb_tensor_free(&r8), mb_tensor_free(&m), mb_tensor_free(&z);
}

/* the collapse helper on its own: merging needs every operand to agree */
static void test_collapse_dims(void **state)
{
    (void)state;
    int64_t shape[4] = {2, 3, 4, 5}, a[4] = {60, 20, 5, 1}, b[4] = {20, 0, 5, 1};
    int64_t *const st[2] = {a, b};
    int n = mb_collapse_dims(4, shape, 2, st);
    assert_int_equal(n, 3); /* (2),(3),(4*5): a alone would merge to 1 dim, b's broadcast dim blocks it */
    assert_int_equal(shape[0], 2), assert_int_equal(shape[1], 3), assert_int_equal(shape[2], 20);
    assert_int_equal(b[1], 0), assert_int_equal(a[2], 1);
}

int main(void)
{
    for (int i = 0; i < mb_kernel_count && g_nvar < 64; i++) {
        bool seen = false, ok = true;
        for (int k = 0; k < g_nvar && !seen; k++) seen = !strcmp(g_variants[k], mb_kernels[i].variant);
        for (int k = 0; k < mb_kernel_count; k++)
            if (!strcmp(mb_kernels[k].variant, mb_kernels[i].variant)) ok &= mb_kernel_available(&mb_kernels[k]) != 0;
        if (!seen && ok) g_variants[g_nvar++] = mb_kernels[i].variant;
    }
    mb_exec_init(&g_exec, 0, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broadcast_values), cmocka_unit_test(test_broadcast_errors),
        cmocka_unit_test(test_binary_collapse),  cmocka_unit_test(test_collapse_dims),
        cmocka_unit_test(test_div_ieee),         cmocka_unit_test(test_softmax_axes),
        cmocka_unit_test(test_softmax_edges),    cmocka_unit_test(test_attention_values),
        cmocka_unit_test(test_attention_errors), cmocka_unit_test(test_small_workspace_falls_back), cmocka_unit_test(test_attention_v_widens_batch), cmocka_unit_test(test_attention_d0), cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_concatenate_stack), cmocka_unit_test(test_expand_reshape),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mb_exec_free(&g_exec);
    return rc;
}
