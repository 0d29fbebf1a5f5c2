/*
 * lower.c: every contraction becomes ONE strided-batched mb_gemm (contract in lower.h).
 *
 * Collapsing: within a group, size-1 dims are dropped and dim i merges into its outer neighbour p when
 * s[p] == s[i] * size[i] in every operand of the group, so a C-contiguous run, a transpose (a stride
 * swap) or a broadcast (stride 0 on both) costs nothing. An operand is copied only when its own dims of
 * M, N or K do not merge into one (then they are not a matrix any stride can describe) or when the batch
 * dims do not merge into MB_MAX_BATCH; the copy puts it in [batch, rows, cols] order, contiguous.
 */
#include "lower.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the groups each operand holds, outermost first: its contiguous temporary uses this order */
static const int layout_groups[3][3] = {
    {MB_LG_BATCH, MB_LG_M, MB_LG_K}, /* A[batch][m][k] */
    {MB_LG_BATCH, MB_LG_K, MB_LG_N}, /* B[batch][k][n] */
    {MB_LG_BATCH, MB_LG_M, MB_LG_N}, /* C[batch][m][n] */
};
static const unsigned group_ops[MB_LG_COUNT] = {
    [MB_LG_BATCH] = 7u,
    [MB_LG_M] = 1u << MB_LO_A | 1u << MB_LO_C,
    [MB_LG_N] = 1u << MB_LO_B | 1u << MB_LO_C,
    [MB_LG_K] = 1u << MB_LO_A | 1u << MB_LO_B,
};

/* Drop size-1 dims and merge neighbours whose strides agree in every operand of `ops`. A zero-sized
 * group becomes one dim of size 0. Returns the number of dims left. */
static int collapse(int n, const struct mb_lower_dim *d, unsigned ops, struct mb_lower_dim *out)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (d[i].size == 0) {
            out[0] = (struct mb_lower_dim){.size = 0};
            return 1;
        }
    for (int i = 0; i < n; i++) {
        if (d[i].size == 1) continue;
        bool merge = m > 0;
        for (int o = 0; o < 3 && merge; o++)
            if (ops >> o & 1) merge = out[m - 1].s[o] == d[i].s[o] * d[i].size;
        if (merge) {
            out[m - 1].size *= d[i].size;
            for (int o = 0; o < 3; o++) out[m - 1].s[o] = d[i].s[o];
        } else {
            out[m++] = d[i];
        }
    }
    return m;
}

static int collapsed_count(const struct mb_contraction *e, int g, unsigned ops)
{
    struct mb_lower_dim tmp[MB_LOWER_MAXD];
    return collapse(e->n[g], e->d[g], ops, tmp);
}

/* Give operand o contiguous strides in its layout order. Batch dims it broadcasts (stride 0) stay
 * broadcast unless `full`. Returns the element count of the temporary, or -1 on overflow. */
static int64_t temp_layout(struct mb_contraction *e, int o, bool full)
{
    int64_t s = 1;
    for (int gi = 2; gi >= 0; gi--) {
        int g = layout_groups[o][gi];
        for (int i = e->n[g] - 1; i >= 0; i--) {
            struct mb_lower_dim *d = &e->d[g][i];
            if (g == MB_LG_BATCH && !full && d->s[o] == 0 && d->size != 1) continue;
            d->s[o] = s;
            if (!mb_mul_ok(s, d->size, &s)) return -1;
        }
    }
    return s;
}

/* Decide the copies on e (its strides become the temporaries' for copied operands) and fill g. */
static unsigned plan(struct mb_contraction *e, struct mb_gemm *g, int64_t count[3])
{
    unsigned need = 0;
    for (int o = 0; o < 3; o++) {
        for (int gi = 1; gi < 3; gi++)
            if (collapsed_count(e, layout_groups[o][gi], 1u << o) > 1) need |= 1u << o;
        if (need >> o & 1) count[o] = temp_layout(e, o, false);
    }
    if (collapsed_count(e, MB_LG_BATCH, 7u) > MB_MAX_BATCH) /* rare: > 4 batch dims that don't merge */
        for (int o = 0; o < 3; o++)
            if (collapsed_count(e, MB_LG_BATCH, 1u << o) > 1) {
                need |= 1u << o;
                count[o] = temp_layout(e, o, true);
            }

    struct mb_lower_dim c[MB_LG_COUNT][MB_LOWER_MAXD];
    int n[MB_LG_COUNT];
    for (int gr = 0; gr < MB_LG_COUNT; gr++) n[gr] = collapse(e->n[gr], e->d[gr], group_ops[gr], c[gr]);
    memset(g, 0, sizeof *g);
    /* an empty group is one dim of size 1; its stride is never stepped */
    struct mb_lower_dim one = {.size = 1};
    const struct mb_lower_dim *m = n[MB_LG_M] ? &c[MB_LG_M][0] : &one, *nn = n[MB_LG_N] ? &c[MB_LG_N][0] : &one,
                              *k = n[MB_LG_K] ? &c[MB_LG_K][0] : &one;
    g->M = m->size, g->N = nn->size, g->K = k->size;
    g->a_rs = m->s[MB_LO_A], g->a_cs = k->s[MB_LO_A];
    g->b_rs = k->s[MB_LO_B], g->b_cs = nn->s[MB_LO_B];
    g->c_rs = m->s[MB_LO_C], g->c_cs = nn->s[MB_LO_C];
    g->nbatch = n[MB_LG_BATCH];
    for (int i = 0; i < g->nbatch; i++) {
        g->batch[i] = c[MB_LG_BATCH][i].size;
        g->a_bs[i] = c[MB_LG_BATCH][i].s[MB_LO_A];
        g->b_bs[i] = c[MB_LG_BATCH][i].s[MB_LO_B];
        g->c_bs[i] = c[MB_LG_BATCH][i].s[MB_LO_C];
    }
    g->alpha = 1.0f;
    g->beta = 0.0f;
    return need;
}

unsigned mb_lower_plan(const struct mb_contraction *k, struct mb_gemm *g)
{
    struct mb_contraction e = *k;
    struct mb_gemm tmp;
    int64_t count[3] = {0};
    return plan(&e, g ? g : &tmp, count);
}

/* The dims of operand o (all of its groups) with the strides of two descriptions, for a copy. */
static int operand_dims(const struct mb_contraction *from, const struct mb_contraction *to, int o, int64_t *shape,
                        int64_t *xs, int64_t *ys)
{
    int n = 0;
    for (int gi = 0; gi < 3; gi++) {
        int g = layout_groups[o][gi];
        for (int i = 0; i < from->n[g]; i++) {
            if (from->d[g][i].s[o] == 0 && to->d[g][i].s[o] == 0) continue; /* broadcast kept broadcast */
            shape[n] = from->d[g][i].size;
            xs[n] = from->d[g][i].s[o];
            ys[n] = to->d[g][i].s[o];
            n++;
        }
    }
    return n;
}

enum mb_status mb_lower_run(struct mb_opctx *c, const struct mb_contraction *k)
{
    for (int g = 0; g < 3; g++) /* batch, M, N: C's dims; an empty C has nothing to compute */
        for (int i = 0; i < k->n[g]; i++)
            if (k->d[g][i].size == 0) return MB_OK;
    struct mb_contraction *e = malloc(sizeof *e);
    if (!e) return mb_op_error(c, "contraction: cannot allocate the lowering plan");
    *e = *k;
    struct mb_gemm g;
    int64_t count[3] = {0};
    unsigned need = plan(e, &g, count);
    float *tmp[3] = {NULL, NULL, NULL};
    enum mb_status s = MB_OK;
    for (int o = 0; o < 3 && s == MB_OK; o++) {
        if (!(need >> o & 1)) continue;
        if (count[o] < 0) {
            s = mb_op_error(c, "contraction: size of the contiguous copy of operand %c overflows", "ABC"[o]);
            break;
        }
        tmp[o] = malloc((size_t)(count[o] > 0 ? count[o] : 1) * sizeof(float));
        if (!tmp[o]) {
            snprintf(c->msg, sizeof c->msg, "contraction: cannot allocate %lld floats", (long long)count[o]);
            s = MB_ENOMEM;
            break;
        }
        if (o == MB_LO_C) continue; /* written by the gemm, copied back below */
        int64_t shape[3 * MB_LOWER_MAXD], xs[3 * MB_LOWER_MAXD], ys[3 * MB_LOWER_MAXD];
        int nd = operand_dims(k, e, o, shape, xs, ys);
        s = mb_copy_strided(c, nd, shape, o == MB_LO_A ? k->a : k->b, xs, tmp[o], ys, 0);
    }
    if (s == MB_OK) {
        g.A = tmp[MB_LO_A] ? tmp[MB_LO_A] : k->a;
        g.B = tmp[MB_LO_B] ? tmp[MB_LO_B] : k->b;
        g.C = tmp[MB_LO_C] ? tmp[MB_LO_C] : k->c;
        g.bias = k->bias; /* indexed by the flat N index, which merging and copying preserve */
        g.bias_s = k->bias_s;
        s = mb_run_gemm(c, &g);
    }
    if (s == MB_OK && tmp[MB_LO_C]) {
        int64_t shape[3 * MB_LOWER_MAXD], xs[3 * MB_LOWER_MAXD], ys[3 * MB_LOWER_MAXD];
        int nd = operand_dims(e, k, MB_LO_C, shape, xs, ys);
        s = mb_copy_strided(c, nd, shape, tmp[MB_LO_C], xs, k->c, ys, 0);
    }
    for (int o = 0; o < 3; o++) free(tmp[o]);
    free(e);
    return s;
}

/* One copy call of at most MB_MAX_DIMS dims; outer dims beyond that are looped here. */
static enum mb_status copy_rec(struct mb_opctx *c, int n, const int64_t *shape, const float *x, const int64_t *xs,
                               float *y, const int64_t *ys, int accumulate)
{
    if (n <= MB_MAX_DIMS) {
        struct mb_copy p = {.ndim = n, .x = x, .y = y, .accumulate = accumulate};
        memcpy(p.shape, shape, (size_t)n * sizeof *shape);
        memcpy(p.xs, xs, (size_t)n * sizeof *xs);
        memcpy(p.ys, ys, (size_t)n * sizeof *ys);
        return mb_run_copy(c, &p);
    }
    for (int64_t i = 0; i < shape[0]; i++) {
        enum mb_status s = copy_rec(c, n - 1, shape + 1, x + i * xs[0], xs + 1, y + i * ys[0], ys + 1, accumulate);
        if (s != MB_OK) return s;
    }
    return MB_OK;
}

enum mb_status mb_copy_strided(struct mb_opctx *c, int ndim, const int64_t *shape, const float *x, const int64_t *xs,
                               float *y, const int64_t *ys, int accumulate)
{
    int64_t sh[3 * MB_LOWER_MAXD], a[3 * MB_LOWER_MAXD], b[3 * MB_LOWER_MAXD];
    int n = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 0) return MB_OK;
        if (shape[i] == 1) continue;
        if (n > 0 && a[n - 1] == xs[i] * shape[i] && b[n - 1] == ys[i] * shape[i]) {
            sh[n - 1] *= shape[i];
            a[n - 1] = xs[i];
            b[n - 1] = ys[i];
        } else {
            sh[n] = shape[i], a[n] = xs[i], b[n] = ys[i];
            n++;
        }
    }
    return copy_rec(c, n, sh, x, a, y, b, accumulate);
}
