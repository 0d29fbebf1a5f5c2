/*
 * contract.c: matmul, mm, bmm, dot, tensordot, batch_dot (modern, Keras <= 2.2.4 `legacy`, `normalize`),
 * outer and linear with the exact shape rules and errors of SEMANTICS.md §2-§6, §8, §9.
 *
 * Each op only validates, infers the output shape and says which of its axes are batch, M, N and K
 * (struct mb_contraction, lower.h); ops/lower.c turns that into ONE strided-batched gemm. So a
 * transposed view, a broadcast batch (stride 0) or dot's "b's axis -2 moved" never copies while
 * the strides can express it: dot's (32,10,5)·(32,5,8) -> (32,10,32,8) is one gemm with M = 320,
 * N = 256 (b's (32,8) axes merge only if b's rows are adjacent, else b is copied once).
 */
#include "lower.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHP(t, buf) mb_shape_str((t)->ndim, (t)->shape, buf, sizeof buf)

static void add_dim(struct mb_contraction *k, int g, int64_t size, int64_t sa, int64_t sb, int64_t sc)
{
    k->d[g][k->n[g]++] = (struct mb_lower_dim){.size = size, .s = {sa, sb, sc}};
}

static enum mb_status dim_error(struct mb_opctx *c, const char *op, const char *an, int ax, int64_t sa, const char *bn,
                                int bx, int64_t sb, const struct mb_tensor *a, const struct mb_tensor *b)
{
    char s1[256], s2[256];
    return mb_op_error(c, "%s: dimension mismatch: %s.shape[%d]=%lld vs %s.shape[%d]=%lld (%s: %s, %s: %s)", op, an, ax,
                       (long long)sa, bn, bx, (long long)sb, an, SHP(a, s1), bn, SHP(b, s2));
}

/* Allocate the result; a rank above MB_MAX_DIMS or an overflowing size is an input error. */
static enum mb_status alloc_out(struct mb_opctx *c, const char *op, int ndim, const int64_t *shape,
                                const struct mb_tensor *a, const struct mb_tensor *b, struct mb_tensor *out)
{
    char s1[256], s2[256], m[512];
    memset(out, 0, sizeof *out);
    if (ndim > MB_MAX_DIMS)
        return mb_op_error(c, "%s: result rank %d exceeds the limit of %d dims (a: %s, b: %s)", op, ndim, MB_MAX_DIMS,
                           SHP(a, s1), SHP(b, s2));
    enum mb_status s = mb_tensor_alloc(out, ndim, shape, m, sizeof m);
    if (s != MB_OK) snprintf(c->msg, sizeof c->msg, "%s: %s (a: %s, b: %s)", op, m, SHP(a, s1), SHP(b, s2));
    return s;
}

static enum mb_status run(struct mb_opctx *c, struct mb_contraction *k, struct mb_tensor *out)
{
    k->c = out->data;
    enum mb_status s = mb_lower_run(c, k);
    if (s != MB_OK) mb_tensor_free(out);
    return s;
}

/* matmul core: a (..., [M,] K) @ b (..., K[, N]); a 1-D operand has no M / N dim. nbo batch dims
 * already broadcast to bo; the batch strides of an operand lacking or broadcasting a dim are 0. */
static enum mb_status matmul_run(struct mb_opctx *c, const char *op, const struct mb_tensor *a,
                                 const struct mb_tensor *b, int nbo, const int64_t *bo, struct mb_tensor *out)
{
    int64_t shape[MB_MAX_DIMS + 2];
    int no = 0;
    for (int i = 0; i < nbo; i++) shape[no++] = bo[i];
    if (a->ndim >= 2) shape[no++] = a->shape[a->ndim - 2];
    if (b->ndim >= 2) shape[no++] = b->shape[b->ndim - 1];
    enum mb_status s = alloc_out(c, op, no, shape, a, b, out);
    if (s != MB_OK) return s;
    struct mb_contraction k = {.a = a->data, .b = b->data};
    int nba = a->ndim > 2 ? a->ndim - 2 : 0, nbb = b->ndim > 2 ? b->ndim - 2 : 0;
    for (int i = 0; i < nbo; i++) {
        int ia = i - (nbo - nba), ib = i - (nbo - nbb);
        add_dim(&k, MB_LG_BATCH, bo[i], ia >= 0 && a->shape[ia] != 1 ? a->strides[ia] : 0,
                ib >= 0 && b->shape[ib] != 1 ? b->strides[ib] : 0, out->strides[i]);
    }
    if (a->ndim >= 2) add_dim(&k, MB_LG_M, a->shape[a->ndim - 2], a->strides[a->ndim - 2], 0, out->strides[nbo]);
    if (b->ndim >= 2) add_dim(&k, MB_LG_N, b->shape[b->ndim - 1], 0, b->strides[b->ndim - 1], out->strides[no - 1]);
    int kb = b->ndim >= 2 ? b->ndim - 2 : 0;
    add_dim(&k, MB_LG_K, a->shape[a->ndim - 1], a->strides[a->ndim - 1], b->strides[kb], 0);
    return run(c, &k, out);
}

enum mb_status mb_op_matmul(struct mb_opctx *c, const struct mb_tensor *a, const struct mb_tensor *b,
                            struct mb_tensor *out)
{
    char s1[256], s2[256];
    memset(out, 0, sizeof *out);
    if (a->ndim == 0 || b->ndim == 0)
        return mb_op_error(c, "matmul: rank: 0-d operands are not allowed (a: %s, b: %s)", SHP(a, s1), SHP(b, s2));
    int kb = b->ndim >= 2 ? b->ndim - 2 : 0;
    if (a->shape[a->ndim - 1] != b->shape[kb])
        return dim_error(c, "matmul", "a", -1, a->shape[a->ndim - 1], "b", b->ndim >= 2 ? -2 : -1, b->shape[kb], a, b);
    int nba = a->ndim > 2 ? a->ndim - 2 : 0, nbb = b->ndim > 2 ? b->ndim - 2 : 0, nbo;
    int64_t bo[MB_MAX_DIMS];
    char m[512];
    if (mb_broadcast_shapes("matmul", nba, a->shape, nbb, b->shape, &nbo, bo, m, sizeof m) != MB_OK)
        return mb_op_error(c, "%s; batch dims of a: %s, b: %s", m, SHP(a, s1), SHP(b, s2));
    return matmul_run(c, "matmul", a, b, nbo, bo, out);
}

enum mb_status mb_op_mm(struct mb_opctx *c, const struct mb_tensor *a, const struct mb_tensor *b, struct mb_tensor *out)
{
    char s1[256], s2[256];
    memset(out, 0, sizeof *out);
    if (a->ndim != 2 || b->ndim != 2)
        return mb_op_error(c, "mm: rank: both operands must be 2-D, got rank %d and %d (a: %s, b: %s)", a->ndim,
                           b->ndim, SHP(a, s1), SHP(b, s2));
    if (a->shape[1] != b->shape[0]) return dim_error(c, "mm", "a", 1, a->shape[1], "b", 0, b->shape[0], a, b);
    return matmul_run(c, "mm", a, b, 0, NULL, out);
}

enum mb_status mb_op_bmm(struct mb_opctx *c, const struct mb_tensor *a, const struct mb_tensor *b, struct mb_tensor *out)
{
    char s1[256], s2[256];
    memset(out, 0, sizeof *out);
    if (a->ndim != 3 || b->ndim != 3)
        return mb_op_error(c, "bmm: rank: both operands must be 3-D, got rank %d and %d (a: %s, b: %s)", a->ndim,
                           b->ndim, SHP(a, s1), SHP(b, s2));
    if (a->shape[0] != b->shape[0])
        return mb_op_error(c, "bmm: batch size mismatch: a.shape[0]=%lld vs b.shape[0]=%lld, bmm does not broadcast "
                              "(a: %s, b: %s)",
                           (long long)a->shape[0], (long long)b->shape[0], SHP(a, s1), SHP(b, s2));
    if (a->shape[2] != b->shape[1]) return dim_error(c, "bmm", "a", 2, a->shape[2], "b", 1, b->shape[1], a, b);
    return matmul_run(c, "bmm", a, b, 1, a->shape, out);
}

/* Free axes of a (M, in order) against free axes of b (N, in order), contracting pairs ka[i] <-> kb[i]:
 * the shared tail of dot, tensordot and outer. Output = a's free axes then b's. */
static enum mb_status free_pairs_run(struct mb_opctx *c, const char *op, const struct mb_tensor *a,
                                     const struct mb_tensor *b, int nk, const int *ka, const int *kb,
                                     struct mb_tensor *out)
{
    bool ca[MB_MAX_DIMS] = {false}, cb[MB_MAX_DIMS] = {false};
    for (int i = 0; i < nk; i++) ca[ka[i]] = cb[kb[i]] = true;
    int64_t shape[2 * MB_MAX_DIMS];
    int no = 0;
    for (int i = 0; i < a->ndim; i++)
        if (!ca[i]) shape[no++] = a->shape[i];
    for (int i = 0; i < b->ndim; i++)
        if (!cb[i]) shape[no++] = b->shape[i];
    enum mb_status s = alloc_out(c, op, no, shape, a, b, out);
    if (s != MB_OK) return s;
    struct mb_contraction k = {.a = a->data, .b = b->data};
    int p = 0;
    for (int i = 0; i < a->ndim; i++)
        if (!ca[i]) add_dim(&k, MB_LG_M, a->shape[i], a->strides[i], 0, out->strides[p++]);
    for (int i = 0; i < b->ndim; i++)
        if (!cb[i]) add_dim(&k, MB_LG_N, b->shape[i], 0, b->strides[i], out->strides[p++]);
    for (int i = 0; i < nk; i++) add_dim(&k, MB_LG_K, a->shape[ka[i]], a->strides[ka[i]], b->strides[kb[i]], 0);
    return run(c, &k, out);
}

enum mb_status mb_op_dot(struct mb_opctx *c, const struct mb_tensor *a, const struct mb_tensor *b, struct mb_tensor *out)
{
    memset(out, 0, sizeof *out);
    if (a->ndim == 0 || b->ndim == 0) return free_pairs_run(c, "dot", a, b, 0, NULL, NULL, out); /* a*b */
    int ka = a->ndim - 1, kb = b->ndim >= 2 ? b->ndim - 2 : 0;
    if (a->shape[ka] != b->shape[kb])
        return dim_error(c, "dot", "a", -1, a->shape[ka], "b", b->ndim >= 2 ? -2 : -1, b->shape[kb], a, b);
    return free_pairs_run(c, "dot", a, b, 1, &ka, &kb, out);
}

enum mb_status mb_op_tensordot(struct mb_opctx *c, const struct mb_tensor *a, const struct mb_tensor *b, int naxes,
                               const int64_t *axes_a, const int64_t *axes_b, struct mb_tensor *out)
{
    char s1[256], s2[256];
    memset(out, 0, sizeof *out);
    int ka[MB_MAX_DIMS], kb[MB_MAX_DIMS];
    if (naxes < 0 || naxes > a->ndim || naxes > b->ndim)
        return mb_op_error(c, "tensordot: axis: %d axes to contract but the ranks are %d and %d (a: %s, b: %s)", naxes,
                           a->ndim, b->ndim, SHP(a, s1), SHP(b, s2));
    for (int i = 0; i < naxes; i++) {
        if (!axes_a) {
            ka[i] = a->ndim - naxes + i, kb[i] = i;
        } else if (!mb_axis_norm(axes_a[i], a->ndim, &ka[i]) || !mb_axis_norm(axes_b[i], b->ndim, &kb[i])) {
            return mb_op_error(c, "tensordot: axis pair %lld, %lld out of range for ranks %d and %d (a: %s, b: %s)",
                               (long long)axes_a[i], (long long)axes_b[i], a->ndim, b->ndim, SHP(a, s1), SHP(b, s2));
        }
        for (int j = 0; j < i; j++)
            if (ka[j] == ka[i] || kb[j] == kb[i])
                return mb_op_error(c, "tensordot: repeated axis %d of %s (a: %s, b: %s)", ka[j] == ka[i] ? ka[i] : kb[i],
                                   ka[j] == ka[i] ? "a" : "b", SHP(a, s1), SHP(b, s2));
    }
    for (int i = 0; i < naxes; i++)
        if (a->shape[ka[i]] != b->shape[kb[i]])
            return dim_error(c, "tensordot", "a", ka[i], a->shape[ka[i]], "b", kb[i], b->shape[kb[i]], a, b);
    return free_pairs_run(c, "tensordot", a, b, naxes, ka, kb, out);
}

enum mb_status mb_op_outer(struct mb_opctx *c, const struct mb_tensor *a, const struct mb_tensor *b,
                           struct mb_tensor *out)
{
    /* np.outer ravels both: every dim of a is an M dim, every dim of b an N dim, K = 1 */
    int64_t shape[2] = {mb_tensor_numel(a), mb_tensor_numel(b)};
    enum mb_status s = alloc_out(c, "outer", 2, shape, a, b, out);
    if (s != MB_OK) return s;
    struct mb_contraction k = {.a = a->data, .b = b->data};
    int64_t sc = shape[1];
    for (int i = a->ndim - 1; i >= 0; i--) sc *= a->shape[i];
    for (int i = 0; i < a->ndim; i++) {
        sc = a->shape[i] ? sc / a->shape[i] : 0;
        add_dim(&k, MB_LG_M, a->shape[i], a->strides[i], 0, sc);
    }
    sc = shape[1];
    for (int i = 0; i < b->ndim; i++) {
        sc = b->shape[i] ? sc / b->shape[i] : 0;
        add_dim(&k, MB_LG_N, b->shape[i], 0, b->strides[i], sc);
    }
    return run(c, &k, out);
}

enum mb_status mb_op_linear(struct mb_opctx *c, const struct mb_tensor *x, const struct mb_tensor *w,
                            const struct mb_tensor *bias, struct mb_tensor *out)
{
    char s1[256], s2[256], s3[256];
    memset(out, 0, sizeof *out);
    if (w->ndim != 2 || x->ndim < 1)
        return mb_op_error(c, "linear: rank: x must be at least 1-D and w 2-D (x: %s, w: %s)", SHP(x, s1), SHP(w, s2));
    if (x->shape[x->ndim - 1] != w->shape[1])
        return dim_error(c, "linear", "x", -1, x->shape[x->ndim - 1], "w", 1, w->shape[1], x, w);
    if (bias && (bias->ndim != 1 || bias->shape[0] != w->shape[0]))
        return mb_op_error(c, "linear: dimension mismatch: bias.shape=%s vs w.shape[0]=%lld (x: %s, w: %s)",
                           SHP(bias, s3), (long long)w->shape[0], SHP(x, s1), SHP(w, s2));
    int64_t shape[MB_MAX_DIMS];
    for (int i = 0; i < x->ndim - 1; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = w->shape[0];
    enum mb_status s = alloc_out(c, "linear", x->ndim, shape, x, w, out);
    if (s != MB_OK) return s;
    /* B[k][n] = w[n][k]: w.T as a stride swap; bias as the gemm epilogue */
    struct mb_contraction k = {.a = x->data, .b = w->data, .bias = bias ? bias->data : NULL,
                               .bias_s = bias ? bias->strides[0] : 0};
    for (int i = 0; i < x->ndim - 1; i++) add_dim(&k, MB_LG_M, x->shape[i], x->strides[i], 0, out->strides[i]);
    add_dim(&k, MB_LG_N, w->shape[0], 0, w->strides[0], out->strides[x->ndim - 1]);
    add_dim(&k, MB_LG_K, w->shape[1], x->strides[x->ndim - 1], w->strides[1], 0);
    return run(c, &k, out);
}

/* ---- batch_dot ---------------------------------------------------------------------------------- */

/* Keras' ops.nn.normalize along `axis`: x * rsqrt(max(sum(x^2), eps^2)), eps = 1e-7. */
static enum mb_status l2_normalize(struct mb_opctx *c, const struct mb_tensor *x, int axis, struct mb_tensor *y)
{
    char m[512];
    enum mb_status s = mb_tensor_alloc(y, x->ndim, x->shape, m, sizeof m);
    if (s != MB_OK) {
        snprintf(c->msg, sizeof c->msg, "batch_dot: %s", m);
        return s;
    }
    int64_t n = x->shape[axis], rows = n ? mb_tensor_numel(x) / n : 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t xo = 0, yo = 0, rem = r;
        for (int d = x->ndim - 1; d >= 0; d--) {
            if (d == axis) continue;
            int64_t i = rem % x->shape[d];
            rem /= x->shape[d];
            xo += i * x->strides[d];
            yo += i * y->strides[d];
        }
        double ss = 0;
        for (int64_t j = 0; j < n; j++) ss += (double)x->data[xo + j * x->strides[axis]] * x->data[xo + j * x->strides[axis]];
        float scale = (float)(1.0 / sqrt(ss > 1e-14 ? ss : 1e-14));
        for (int64_t j = 0; j < n; j++) y->data[yo + j * y->strides[axis]] = x->data[xo + j * x->strides[axis]] * scale;
    }
    return MB_OK;
}

/* Keras <= 2.2.4 (TF backend) batch_dot, SEMANTICS.md §6 "legacy 1", quirks kept. x, y are the
 * (normalised) inputs; ax0, ax1 the raw axes. */
static enum mb_status batch_dot_legacy(struct mb_opctx *c, const struct mb_tensor *x0, const struct mb_tensor *y0,
                                       int64_t ax0, int64_t ax1, struct mb_tensor *out)
{
    char s1[256], s2[256];
    int xn = x0->ndim, yn = y0->ndim, r = xn > yn ? xn : yn, diff = xn > yn ? xn - yn : yn - xn;
    if (r < 2) /* tf.matmul needs rank >= 2 even after the padding */
        return mb_op_error(c, "batch_dot (legacy): rank: inputs of rank %d and %d (x: %s, y: %s)", xn, yn, SHP(x0, s1),
                           SHP(y0, s2));
    if (xn < 1 || yn < 1)
        return mb_op_error(c, "batch_dot (legacy): rank: 0-d input (x: %s, y: %s)", SHP(x0, s1), SHP(y0, s2));
    struct mb_tensor x = *x0, y = *y0, res;
    for (struct mb_tensor *t = &x; t; t = t == &x ? &y : NULL) /* pad the lower rank with trailing 1s */
        while (t->ndim < r) t->shape[t->ndim] = 1, t->strides[t->ndim++] = 0;
    enum mb_status s;
    if (r == 2) {
        /* sum(x*y, axes[0]) or sum(transpose(x)*y, axes[1]); tf.multiply broadcasts like einsum does */
        int sum;
        if (!mb_axis_norm(ax0 == ax1 ? ax0 : ax1, 2, &sum))
            return mb_op_error(c, "batch_dot: axis %lld out of range for rank 2 (x: %s, y: %s)",
                               (long long)(ax0 == ax1 ? ax0 : ax1), SHP(x0, s1), SHP(y0, s2));
        char eq[16];
        snprintf(eq, sizeof eq, "%s,ab->%s", ax0 == ax1 ? "ab" : "ba", sum == 0 ? "b" : "a");
        const struct mb_tensor *in[2] = {&x, &y};
        if ((s = mb_op_einsum(c, eq, 2, in, &res)) != MB_OK) {
            char m[sizeof c->msg];
            memcpy(m, c->msg, sizeof m);
            snprintf(c->msg, sizeof c->msg, "batch_dot (legacy): %s (x: %s, y: %s)", m, SHP(x0, s1), SHP(y0, s2));
            return s;
        }
    } else {
        /* tf.matmul with adjoint flags decided by comparing the raw axes with the padded rank */
        bool adj_x = ax0 != r - 1, adj_y = ax1 == r - 1;
        for (int i = 0; i < r - 2; i++)
            if (x.shape[i] != y.shape[i])
                return mb_op_error(c, "batch_dot (legacy): batch dims differ at axis %d: %lld vs %lld (x: %s, y: %s)", i,
                                   (long long)x.shape[i], (long long)y.shape[i], SHP(x0, s1), SHP(y0, s2));
        int xk = adj_x ? r - 2 : r - 1, xm = adj_x ? r - 1 : r - 2, yk = adj_y ? r - 1 : r - 2, ynn = adj_y ? r - 2 : r - 1;
        if (x.shape[xk] != y.shape[yk])
            return dim_error(c, "batch_dot (legacy)", "x", xk, x.shape[xk], "y", yk, y.shape[yk], x0, y0);
        int64_t shape[MB_MAX_DIMS];
        for (int i = 0; i < r - 2; i++) shape[i] = x.shape[i];
        shape[r - 2] = x.shape[xm], shape[r - 1] = y.shape[ynn];
        if ((s = alloc_out(c, "batch_dot", r, shape, x0, y0, &res)) != MB_OK) return s;
        struct mb_contraction k = {.a = x.data, .b = y.data};
        for (int i = 0; i < r - 2; i++) add_dim(&k, MB_LG_BATCH, x.shape[i], x.strides[i], y.strides[i], res.strides[i]);
        add_dim(&k, MB_LG_M, x.shape[xm], x.strides[xm], 0, res.strides[r - 2]);
        add_dim(&k, MB_LG_N, y.shape[ynn], 0, y.strides[ynn], res.strides[r - 1]);
        add_dim(&k, MB_LG_K, x.shape[xk], x.strides[xk], y.strides[yk], 0);
        if ((s = run(c, &k, &res)) != MB_OK) return s;
    }
    if (diff) { /* tf.squeeze of the padded dims */
        int idx = xn > yn ? xn + yn - 3 : xn - 1;
        for (int d = idx; d < idx + diff; d++)
            if (d < 0 || d >= res.ndim || res.shape[d] != 1) {
                char s3[256];
                mb_op_error(c, "batch_dot (legacy): dimension %d of the result %s cannot be squeezed (x: %s, y: %s)", d,
                            SHP(&res, s3), SHP(x0, s1), SHP(y0, s2));
                mb_tensor_free(&res);
                return MB_EINVAL;
            }
        memmove(&res.shape[idx], &res.shape[idx + diff], (size_t)(res.ndim - idx - diff) * sizeof *res.shape);
        res.ndim -= diff;
    }
    if (res.ndim == 1) res.shape[res.ndim++] = 1;
    mb_tensor_contig_strides(&res);
    *out = res;
    return MB_OK;
}

enum mb_status mb_op_batch_dot(struct mb_opctx *c, const struct mb_tensor *x, const struct mb_tensor *y,
                               const struct mb_batch_dot_opts *o, struct mb_tensor *out)
{
    char s1[256], s2[256];
    memset(out, 0, sizeof *out);
    const struct mb_batch_dot_opts none = {0};
    if (!o) o = &none;
    int xn = x->ndim, yn = y->ndim;
    int64_t ax0, ax1;
    if (o->axes_mode == 0) ax0 = xn - 1, ax1 = o->legacy || yn != 2 ? yn - 2 : yn - 1;
    else if (o->axes_mode == 1) ax0 = ax1 = o->ax0;
    else ax0 = o->ax0, ax1 = o->ax1;
    if (!o->legacy) {
        if (xn < 2 || yn < 2)
            return mb_op_error(c, "batch_dot: rank: cannot do batch_dot on inputs with rank < 2, got %d and %d (x: %s, "
                                  "y: %s)",
                               xn, yn, SHP(x, s1), SHP(y, s2));
        if (x->shape[0] != y->shape[0])
            return mb_op_error(c, "batch_dot: batch size mismatch: x.shape[0]=%lld vs y.shape[0]=%lld (x: %s, y: %s)",
                               (long long)x->shape[0], (long long)y->shape[0], SHP(x, s1), SHP(y, s2));
    }
    /* each negative axis gets its own input's rank added; 0 (the batch) and out-of-range are errors */
    int64_t a0 = ax0 < 0 ? ax0 + xn : ax0, a1 = ax1 < 0 ? ax1 + yn : ax1;
    if (!o->legacy && (a0 == 0 || a1 == 0))
        return mb_op_error(c, "batch_dot: cannot perform batch_dot over axis 0 (axes %lld, %lld; x: %s, y: %s)",
                           (long long)ax0, (long long)ax1, SHP(x, s1), SHP(y, s2));
    if ((!o->legacy || o->normalize) && (a0 < 0 || a0 >= xn || a1 < 0 || a1 >= yn))
        return mb_op_error(c, "batch_dot: axis out of range: axes %lld, %lld for ranks %d and %d (x: %s, y: %s)",
                           (long long)ax0, (long long)ax1, xn, yn, SHP(x, s1), SHP(y, s2));
    if (!o->legacy && x->shape[a0] != y->shape[a1])
        return dim_error(c, "batch_dot", "x", (int)a0, x->shape[a0], "y", (int)a1, y->shape[a1], x, y);

    struct mb_tensor xt = {0}, yt = {0};
    enum mb_status s = MB_OK;
    if (o->normalize) {
        if ((s = l2_normalize(c, x, (int)a0, &xt)) != MB_OK || (s = l2_normalize(c, y, (int)a1, &yt)) != MB_OK) {
            mb_tensor_free(&xt);
            return s;
        }
        x = &xt, y = &yt;
    }
    if (o->legacy) {
        s = batch_dot_legacy(c, x, y, ax0, ax1, out);
    } else {
        /* (B,) + x's other axes + y's other axes; 2-D . 2-D gives (B, 1) */
        int64_t shape[2 * MB_MAX_DIMS];
        int no = 0;
        shape[no++] = x->shape[0];
        for (int i = 1; i < xn; i++)
            if (i != a0) shape[no++] = x->shape[i];
        for (int i = 1; i < yn; i++)
            if (i != a1) shape[no++] = y->shape[i];
        if (no == 1) shape[no++] = 1;
        if ((s = alloc_out(c, "batch_dot", no, shape, x, y, out)) == MB_OK) {
            struct mb_contraction k = {.a = x->data, .b = y->data};
            int p = 1;
            add_dim(&k, MB_LG_BATCH, x->shape[0], x->strides[0], y->strides[0], out->strides[0]);
            for (int i = 1; i < xn; i++)
                if (i != a0) add_dim(&k, MB_LG_M, x->shape[i], x->strides[i], 0, out->strides[p++]);
            for (int i = 1; i < yn; i++)
                if (i != a1) add_dim(&k, MB_LG_N, y->shape[i], 0, y->strides[i], out->strides[p++]);
            add_dim(&k, MB_LG_K, x->shape[a0], x->strides[a0], y->strides[a1], 0);
            s = run(c, &k, out);
        }
    }
    mb_tensor_free(&xt);
    mb_tensor_free(&yt);
    return s;
}
