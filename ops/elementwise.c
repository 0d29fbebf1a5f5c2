/*
 * elementwise.c: add, sub, mul, div with NumPy broadcasting, lowered to ONE mb_binary.
 *
 * Broadcasting is strides, never copies: an input dim of size 1 (or missing on the left) gets stride 0.
 * The index space is then collapsed to the fewest dims (mb_collapse_dims), so (32,20,10)+(20,1) runs as
 * a 2-D problem and same-shape contiguous operands as a 1-D one: kernels see long unit-stride rows.
 * Also home of the helpers the other lowerings share (dim collapsing, output allocation).
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

int mb_collapse_dims(int ndim, int64_t *shape, int nops, int64_t *const *strides)
{
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) { /* nothing to index: one empty dim, strides irrelevant */
            shape[0] = 0;
            for (int k = 0; k < nops; k++) strides[k][0] = 0;
            return 1;
        }
    int m = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 1) continue; /* its stride never multiplies a non-zero index */
        bool merge = m > 0;
        for (int k = 0; k < nops && merge; k++) merge = strides[k][m - 1] == strides[k][i] * shape[i];
        if (merge) {
            shape[m - 1] *= shape[i];
            for (int k = 0; k < nops; k++) strides[k][m - 1] = strides[k][i];
            continue;
        }
        shape[m] = shape[i];
        for (int k = 0; k < nops; k++) strides[k][m] = strides[k][i];
        m++;
    }
    return m;
}

enum mb_status mb_out_alloc(struct mb_opctx *c, const char *op, struct mb_tensor *t, int ndim, const int64_t *shape)
{
    char why[512];
    enum mb_status s = mb_tensor_alloc(t, ndim, shape, why, sizeof why);
    if (s != MB_OK) snprintf(c->msg, sizeof c->msg, "%s: output %s", op, why);
    return s;
}

void mb_broadcast_strides(const struct mb_tensor *x, int ndim, const int64_t *shape, int64_t *strides)
{
    for (int i = 0; i < ndim; i++) {
        int j = i - (ndim - x->ndim); /* x's dim aligned from the right, or < 0 if missing */
        strides[i] = j >= 0 && x->shape[j] == shape[i] && x->shape[j] != 1 ? x->strides[j] : 0;
    }
}

void mb_binary_lower(enum mb_binop op, const struct mb_tensor *a, const struct mb_tensor *b, struct mb_tensor *z,
                     struct mb_binary *p)
{
    memset(p, 0, sizeof *p);
    p->op = op;
    p->x = a->data;
    p->y = b->data;
    p->z = z->data;
    memcpy(p->shape, z->shape, (size_t)z->ndim * sizeof *p->shape);
    mb_broadcast_strides(a, z->ndim, z->shape, p->xs);
    mb_broadcast_strides(b, z->ndim, z->shape, p->ys);
    memcpy(p->zs, z->strides, (size_t)z->ndim * sizeof *p->zs);
    int64_t *const st[3] = {p->xs, p->ys, p->zs};
    p->ndim = mb_collapse_dims(z->ndim, p->shape, 3, st);
}

enum mb_status mb_op_binary(struct mb_opctx *c, enum mb_binop op, const struct mb_tensor *a, const struct mb_tensor *b,
                            struct mb_tensor *out)
{
    static const char *const names[] = {"add", "sub", "mul", "div"};
    memset(out, 0, sizeof *out);
    if ((unsigned)op > MB_DIV) return mb_op_error(c, "binary: unknown operator %d", (int)op);
    int n;
    int64_t shape[MB_MAX_DIMS];
    enum mb_status s =
        mb_broadcast_shapes(names[op], a->ndim, a->shape, b->ndim, b->shape, &n, shape, c->msg, sizeof c->msg);
    if (s != MB_OK) return s;
    if ((s = mb_out_alloc(c, names[op], out, n, shape)) != MB_OK) return s;
    struct mb_binary p;
    mb_binary_lower(op, a, b, out, &p);
    if ((s = mb_run_binary(c, &p)) != MB_OK) mb_tensor_free(out);
    return s;
}
