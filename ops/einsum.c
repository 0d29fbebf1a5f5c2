/*
 * einsum.c: np.einsum semantics (SEMANTICS.md §7) on the one lowering of lower.h.
 *
 * Labels [A-Za-z] (ids 0..51, upper case first, so id order is char-code order) and at most one `...` per
 * term, whose dims get ids 52.. right-aligned across operands so they broadcast like NumPy. Per operand:
 * a repeated label is the diagonal (one dim whose stride is the sum of the strides). Several operands are
 * contracted pairwise left to right: labels in both operands and still needed later are batch dims,
 * labels in both and not needed are K, the rest M (left) and N (right): one gemm per pair, every input
 * read through its strides. A label that only one side holds and nobody needs is summed before its gemm
 * by an accumulating COPY into a zeroed temporary. One operand: a single (accumulating) COPY into out.
 */
#include "lower.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EIN_LETTERS 52
#define EIN_NLAB (EIN_LETTERS + MB_MAX_DIMS)

struct ein_term {
    int n;                /* letters, in order */
    int lab[EIN_NLAB];
    bool ell;             /* has `...` */
    int ellpos;           /* letters before it */
};

/* An operand or intermediate: unique labels with their own size (1 where it broadcasts) and stride. */
struct ein_view {
    int n;
    int lab[EIN_NLAB];
    int64_t size[EIN_NLAB], st[EIN_NLAB];
    const float *data;
    float *owned;
};

static int label_id(char ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return 26 + ch - 'a';
    return -1;
}

static char label_char(int id) { return id < 26 ? (char)('A' + id) : id < EIN_LETTERS ? (char)('a' + id - 26) : '.'; }

static enum mb_status parse_term(struct mb_opctx *c, const char *eq, const char *s, size_t len, struct ein_term *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < len; i++) {
        int id = label_id(s[i]);
        if (s[i] == ' ') continue;
        if (id >= 0) {
            if (t->n == MB_MAX_DIMS)
                return mb_op_error(c, "einsum: subscript term '%.*s' has more than %d labels (equation '%s')", (int)len,
                                   s, MB_MAX_DIMS, eq);
            t->lab[t->n++] = id;
        } else if (s[i] == '.' && i + 2 < len && s[i + 1] == '.' && s[i + 2] == '.' && !t->ell) {
            t->ell = true;
            t->ellpos = t->n;
            i += 2;
        } else if (s[i] == '.') {
            return mb_op_error(c, "einsum: subscript term '%.*s' has a '.' that is not one '...' (equation '%s')",
                               (int)len, s, eq);
        } else {
            return mb_op_error(c, "einsum: invalid subscript character '%c' in equation '%s'", s[i], eq);
        }
    }
    return MB_OK;
}

static void view_free(struct ein_view *v)
{
    free(v->owned);
    v->owned = NULL;
}

/* Sum away the labels of v that keep[] does not hold: accumulate-copy into a zeroed contiguous
 * temporary. Without such labels r is a borrowing copy of v. */
static enum mb_status view_reduce(struct mb_opctx *c, const struct ein_view *v, const bool *keep, struct ein_view *r)
{
    *r = *v;
    r->owned = NULL;
    bool any = false;
    for (int i = 0; i < v->n; i++) any |= !keep[v->lab[i]];
    if (!any) return MB_OK;
    int64_t ys[EIN_NLAB], count = 1;
    r->n = 0;
    for (int i = v->n - 1; i >= 0; i--) ys[i] = keep[v->lab[i]] ? count : 0, count *= keep[v->lab[i]] ? v->size[i] : 1;
    for (int i = 0; i < v->n; i++)
        if (keep[v->lab[i]]) {
            r->lab[r->n] = v->lab[i], r->size[r->n] = v->size[i], r->st[r->n] = ys[i];
            r->n++;
        }
    r->owned = calloc((size_t)(count > 0 ? count : 1), sizeof(float));
    if (!r->owned) return mb_op_error(c, "einsum: cannot allocate a reduction temporary of %lld floats", (long long)count);
    r->data = r->owned;
    return mb_copy_strided(c, v->n, v->size, v->data, v->st, r->owned, ys, 1);
}

static int find(const struct ein_view *v, int id)
{
    for (int i = 0; i < v->n; i++)
        if (v->lab[i] == id) return i;
    return -1;
}

/* Contract l and r. keep: labels needed afterwards. out == NULL: r_out is a fresh intermediate with
 * labels [batch, M, N]; else the result is written into out, whose dim p carries label out_lab[p]. */
static enum mb_status contract(struct mb_opctx *c, const struct ein_view *l0, const struct ein_view *r0, const bool *keep,
                               struct mb_tensor *out, const int *out_lab, struct ein_view *res)
{
    bool keep_l[EIN_NLAB], keep_r[EIN_NLAB];
    for (int i = 0; i < EIN_NLAB; i++) keep_l[i] = keep_r[i] = keep[i];
    for (int i = 0; i < r0->n; i++) keep_l[r0->lab[i]] = true;
    for (int i = 0; i < l0->n; i++) keep_r[l0->lab[i]] = true;
    struct ein_view l, r;
    memset(res, 0, sizeof *res);
    enum mb_status s = view_reduce(c, l0, keep_l, &l);
    if (s == MB_OK) s = view_reduce(c, r0, keep_r, &r);
    else r.owned = NULL;
    struct mb_contraction *k = s == MB_OK ? calloc(1, sizeof *k) : NULL;
    if (s == MB_OK && !k) s = mb_op_error(c, "einsum: cannot allocate the contraction");
    if (s != MB_OK) goto done;

    /* classify; dims keep the operands' order, C's order is [batch, M, N] for intermediates */
    int grp_lab[MB_LG_COUNT][EIN_NLAB];
    for (int i = 0; i < l.n; i++) {
        int id = l.lab[i], j = find(&r, id);
        int g = j < 0 ? MB_LG_M : keep[id] ? MB_LG_BATCH : MB_LG_K;
        /* NumPy broadcast of the two sizes: a size-1 side takes the other's size (which may be 0);
         * a label only l holds keeps l's size, 0 included */
        int64_t size = j >= 0 && l.size[i] == 1 ? r.size[j] : l.size[i];
        grp_lab[g][k->n[g]] = id;
        k->d[g][k->n[g]++] = (struct mb_lower_dim){
            .size = size, .s = {l.size[i] == 1 ? 0 : l.st[i], j < 0 || r.size[j] == 1 ? 0 : r.st[j], 0}};
    }
    for (int j = 0; j < r.n; j++)
        if (find(&l, r.lab[j]) < 0) {
            grp_lab[MB_LG_N][k->n[MB_LG_N]] = r.lab[j];
            k->d[MB_LG_N][k->n[MB_LG_N]++] =
                (struct mb_lower_dim){.size = r.size[j], .s = {0, r.size[j] == 1 ? 0 : r.st[j], 0}};
        }
    static const int c_order[3] = {MB_LG_BATCH, MB_LG_M, MB_LG_N};
    if (out) {
        for (int gi = 0; gi < 3; gi++) {
            int g = c_order[gi];
            for (int i = 0; i < k->n[g]; i++)
                for (int p = 0; p < out->ndim; p++)
                    if (out_lab[p] == grp_lab[g][i]) k->d[g][i].s[MB_LO_C] = out->strides[p];
        }
        k->c = out->data;
    } else {
        int64_t count = 1;
        for (int gi = 2; gi >= 0; gi--) {
            int g = c_order[gi];
            for (int i = k->n[g] - 1; i >= 0; i--) {
                k->d[g][i].s[MB_LO_C] = count;
                if (!mb_mul_ok(count, k->d[g][i].size, &count)) {
                    s = mb_op_error(c, "einsum: size of an intermediate result overflows");
                    goto done;
                }
            }
        }
        for (int gi = 0; gi < 3; gi++) {
            int g = c_order[gi];
            for (int i = 0; i < k->n[g]; i++) {
                res->lab[res->n] = grp_lab[g][i], res->size[res->n] = k->d[g][i].size;
                res->st[res->n++] = k->d[g][i].s[MB_LO_C];
            }
        }
        res->owned = malloc((size_t)(count > 0 ? count : 1) * sizeof(float));
        if (!res->owned) {
            s = mb_op_error(c, "einsum: cannot allocate an intermediate of %lld floats", (long long)count);
            goto done;
        }
        res->data = k->c = res->owned;
    }
    k->a = l.data;
    k->b = r.data;
    s = mb_lower_run(c, k);
done:
    free(k);
    view_free(&l);
    view_free(&r);
    if (s != MB_OK) view_free(res);
    return s;
}

enum mb_status mb_op_einsum(struct mb_opctx *c, const char *eq, int n, const struct mb_tensor *const *in,
                            struct mb_tensor *out)
{
    memset(out, 0, sizeof *out);
    if (n < 1) return mb_op_error(c, "einsum: subscript: no operands given for equation '%s'", eq);
    const char *arrow = strstr(eq, "->");
    size_t in_len = arrow ? (size_t)(arrow - eq) : strlen(eq);
    struct ein_term *t = calloc((size_t)n + 1, sizeof *t);
    struct ein_view *v = calloc((size_t)n, sizeof *v);
    enum mb_status s = MB_OK;
    char sh[256];
    if (!t || !v) {
        s = mb_op_error(c, "einsum: cannot allocate %d operand descriptors", n);
        goto done;
    }

    /* terms */
    int nt = 0;
    for (size_t b = 0, e; b <= in_len; b = e + 1) {
        for (e = b; e < in_len && eq[e] != ','; e++) {}
        if (nt == n) {
            s = mb_op_error(c, "einsum: subscript: equation '%s' has more terms than the %d operands", eq, n);
            goto done;
        }
        if ((s = parse_term(c, eq, eq + b, e - b, &t[nt++])) != MB_OK) goto done;
    }
    if (nt != n) {
        s = mb_op_error(c, "einsum: subscript: equation '%s' has %d terms for %d operands", eq, nt, n);
        goto done;
    }
    struct ein_term *ot = &t[n];
    if (arrow && (s = parse_term(c, eq, arrow + 2, strlen(arrow + 2), ot)) != MB_OK) goto done;

    /* operand views: ellipsis dims right-aligned to ids 52.., repeated labels -> diagonal */
    int E = 0;
    for (int i = 0; i < n; i++) {
        if ((!t[i].ell && t[i].n != in[i]->ndim) || (t[i].ell && t[i].n > in[i]->ndim)) {
            s = mb_op_error(c, "einsum: subscript: operand %d has %d labels%s but rank %d (shape %s, equation '%s')", i,
                            t[i].n, t[i].ell ? " and '...'" : "", in[i]->ndim,
                            mb_shape_str(in[i]->ndim, in[i]->shape, sh, sizeof sh), eq);
            goto done;
        }
        int e = t[i].ell ? in[i]->ndim - t[i].n : 0;
        if (e > E) E = e;
    }
    int64_t gsize[EIN_NLAB];
    int gfrom[EIN_NLAB], count[EIN_NLAB] = {0};
    for (int id = 0; id < EIN_NLAB; id++) gsize[id] = -1, gfrom[id] = -1;
    for (int i = 0; i < n; i++) {
        const struct mb_tensor *x = in[i];
        int e = t[i].ell ? x->ndim - t[i].n : 0;
        v[i].data = x->data;
        for (int d = 0; d < x->ndim; d++) {
            int id;
            if (t[i].ell && d >= t[i].ellpos && d < t[i].ellpos + e) id = EIN_LETTERS + E - e + d - t[i].ellpos;
            else id = t[i].lab[d < t[i].ellpos || !t[i].ell ? d : d - e];
            if (id < EIN_LETTERS) count[id]++;
            int j = find(&v[i], id);
            if (j >= 0) {
                if (v[i].size[j] != x->shape[d]) {
                    s = mb_op_error(c, "einsum: dimension mismatch: repeated subscript '%c' of operand %d has sizes "
                                       "%lld and %lld (shape %s, equation '%s')",
                                    label_char(id), i, (long long)v[i].size[j], (long long)x->shape[d],
                                    mb_shape_str(x->ndim, x->shape, sh, sizeof sh), eq);
                    goto done;
                }
                v[i].st[j] += x->strides[d];
                continue;
            }
            v[i].lab[v[i].n] = id, v[i].size[v[i].n] = x->shape[d], v[i].st[v[i].n] = x->strides[d];
            v[i].n++;
            if (gsize[id] == -1 || gsize[id] == 1) {
                if (gsize[id] != x->shape[d]) gfrom[id] = i;
                gsize[id] = x->shape[d];
            } else if (x->shape[d] != 1 && x->shape[d] != gsize[id]) {
                char s2[256];
                const struct mb_tensor *y = in[gfrom[id]];
                if (id >= EIN_LETTERS)
                    s = mb_op_error(c, "einsum: ellipsis dims cannot broadcast: %lld vs %lld (operand %d: %s, operand "
                                       "%d: %s, equation '%s')",
                                    (long long)gsize[id], (long long)x->shape[d], gfrom[id],
                                    mb_shape_str(y->ndim, y->shape, s2, sizeof s2), i,
                                    mb_shape_str(x->ndim, x->shape, sh, sizeof sh), eq);
                else
                    s = mb_op_error(c, "einsum: dimension mismatch for subscript '%c': %lld vs %lld (operand %d: %s, "
                                       "operand %d: %s, equation '%s')",
                                    label_char(id), (long long)gsize[id], (long long)x->shape[d], gfrom[id],
                                    mb_shape_str(y->ndim, y->shape, s2, sizeof s2), i,
                                    mb_shape_str(x->ndim, x->shape, sh, sizeof sh), eq);
                goto done;
            }
        }
    }

    /* output labels */
    int out_lab[EIN_NLAB], on = 0;
    bool in_out[EIN_NLAB] = {false};
    if (arrow) {
        if (!ot->ell && E > 0) {
            s = mb_op_error(c, "einsum: subscript: the output has no '...' but the inputs' ellipsis covers %d dims "
                               "(equation '%s')",
                            E, eq);
            goto done;
        }
        for (int p = 0; p <= ot->n; p++) {
            if (ot->ell && p == ot->ellpos)
                for (int j = 0; j < E; j++) out_lab[on++] = EIN_LETTERS + j;
            if (p == ot->n) break;
            int id = ot->lab[p];
            if (count[id] == 0 || in_out[id]) {
                s = mb_op_error(c, "einsum: subscript: output label '%c' %s (equation '%s')", label_char(id),
                                count[id] ? "repeats" : "does not occur in any input", eq);
                goto done;
            }
            in_out[id] = true;
            out_lab[on++] = id;
        }
    } else {
        for (int j = 0; j < E; j++) out_lab[on++] = EIN_LETTERS + j;
        for (int id = 0; id < EIN_LETTERS; id++)
            if (count[id] == 1) out_lab[on++] = id;
    }
    if (on > MB_MAX_DIMS) {
        s = mb_op_error(c, "einsum: result rank %d exceeds the limit of %d dims (equation '%s')", on, MB_MAX_DIMS, eq);
        goto done;
    }
    int64_t oshape[MB_MAX_DIMS];
    for (int p = 0; p < on; p++) in_out[out_lab[p]] = true, oshape[p] = gsize[out_lab[p]];
    char msg[512];
    if ((s = mb_tensor_alloc(out, on, oshape, msg, sizeof msg)) != MB_OK) {
        mb_op_error(c, "einsum: %s", msg);
        goto done;
    }

    if (n == 1) { /* one accumulating copy: summed labels get output stride 0 */
        int64_t ys[EIN_NLAB];
        bool sum = false;
        for (int i = 0; i < v[0].n; i++) {
            ys[i] = 0;
            for (int p = 0; p < on; p++)
                if (out_lab[p] == v[0].lab[i]) ys[i] = out->strides[p];
            sum |= !in_out[v[0].lab[i]];
        }
        if (sum) memset(out->data, 0, (size_t)mb_tensor_numel(out) * sizeof(float));
        s = mb_copy_strided(c, v[0].n, v[0].size, v[0].data, v[0].st, out->data, ys, sum);
        goto done;
    }
    struct ein_view cur = v[0];
    for (int i = 1; i < n && s == MB_OK; i++) {
        bool keep[EIN_NLAB];
        memcpy(keep, in_out, sizeof keep);
        for (int j = i + 1; j < n; j++)
            for (int d = 0; d < v[j].n; d++) keep[v[j].lab[d]] = true;
        struct ein_view next;
        s = contract(c, &cur, &v[i], keep, i == n - 1 ? out : NULL, out_lab, &next);
        view_free(&cur);
        cur = next;
    }
    view_free(&cur);
done:
    if (s != MB_OK) mb_tensor_free(out);
    free(t);
    free(v);
    return s;
}
