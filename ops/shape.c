/*
 * shape.c: transpose, concatenate, stack, expand_dims, reshape (SEMANTICS §12), all through mb_copy.
 *
 * transpose    one strided copy (the input read through permuted strides)
 * concatenate  one copy per input, into its slab of the output
 * stack        one copy per input, into its slice of the new axis
 * expand_dims  a fresh contiguous tensor: one copy (a no-op layout change when the input is contiguous)
 * reshape      likewise: the output's C order is the input's C order, so the copy walks the input shape
 * Every copy goes through mb_copy_strided (ops/lower.c), which collapses dims first, so contiguous inputs
 * become one long row.
 */
#include "internal.h"
#include "lower.h" /* mb_copy_strided: the one strided-copy lowering (dims collapsed, then mb_run_copy) */

#include <stdio.h>
#include <string.h>

enum mb_status mb_materialize(struct mb_opctx *c, const char *op, const struct mb_tensor *x, int ndim,
                              const int64_t *shape, struct mb_tensor *y)
{
    enum mb_status s = mb_out_alloc(c, op, y, ndim, shape);
    if (s != MB_OK) return s;
    int64_t xs[MB_MAX_DIMS];
    mb_broadcast_strides(x, ndim, shape, xs);
    if ((s = mb_copy_strided(c, ndim, shape, x->data, xs, y->data, y->strides, 0)) != MB_OK) mb_tensor_free(y);
    return s;
}

enum mb_status mb_op_transpose(struct mb_opctx *c, const struct mb_tensor *x, int nperm, const int64_t *perm,
                               struct mb_tensor *out)
{
    memset(out, 0, sizeof *out);
    char sx[256];
    mb_shape_str(x->ndim, x->shape, sx, sizeof sx);
    int p[MB_MAX_DIMS];
    bool seen[MB_MAX_DIMS] = {false};
    if (nperm == 0) {
        for (int i = 0; i < x->ndim; i++) p[i] = x->ndim - 1 - i;
    } else {
        if (nperm != x->ndim)
            return mb_op_error(c, "transpose: axis: perm has %d entries for the %d axes of shape %s", nperm, x->ndim,
                               sx);
        for (int i = 0; i < nperm; i++) {
            if (!mb_axis_norm(perm[i], x->ndim, &p[i]))
                return mb_op_error(c, "transpose: axis %lld (perm[%d]) is out of range for shape %s (rank %d)",
                                   (long long)perm[i], i, sx, x->ndim);
            if (seen[p[i]])
                return mb_op_error(c, "transpose: axis %d repeated in perm (perm[%d]=%lld) for shape %s", p[i], i,
                                   (long long)perm[i], sx);
            seen[p[i]] = true;
        }
    }
    int64_t shape[MB_MAX_DIMS], xs[MB_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[p[i]], xs[i] = x->strides[p[i]];
    enum mb_status s = mb_out_alloc(c, "transpose", out, x->ndim, shape);
    if (s != MB_OK) return s;
    if ((s = mb_copy_strided(c, x->ndim, shape, x->data, xs, out->data, out->strides, 0)) != MB_OK) mb_tensor_free(out);
    return s;
}

enum mb_status mb_op_concatenate(struct mb_opctx *c, int n, const struct mb_tensor *const *in, int64_t axis,
                                 struct mb_tensor *out)
{
    memset(out, 0, sizeof *out);
    if (n < 1) return mb_op_error(c, "concatenate: need at least one input, got %d", n);
    char s0[256], si[256];
    const struct mb_tensor *a = in[0];
    mb_shape_str(a->ndim, a->shape, s0, sizeof s0);
    int ax;
    if (!mb_axis_norm(axis, a->ndim, &ax))
        return mb_op_error(c, "concatenate: axis %lld is out of range for input 0 of shape %s (rank %d)",
                           (long long)axis, s0, a->ndim);
    int64_t shape[MB_MAX_DIMS];
    memcpy(shape, a->shape, (size_t)a->ndim * sizeof *shape);
    for (int i = 1; i < n; i++) {
        const struct mb_tensor *b = in[i];
        mb_shape_str(b->ndim, b->shape, si, sizeof si);
        if (b->ndim != a->ndim)
            return mb_op_error(c,
                               "concatenate: rank mismatch: input 0 has %d dimensions, input %d has %d (shapes %s "
                               "and %s)",
                               a->ndim, i, b->ndim, s0, si);
        for (int d = 0; d < a->ndim; d++)
            if (d != ax && b->shape[d] != a->shape[d])
                return mb_op_error(c,
                                   "concatenate: dimension mismatch at axis %d: input 0 has %lld, input %d has %lld "
                                   "(shapes %s and %s, concatenating on axis %d)",
                                   d, (long long)a->shape[d], i, (long long)b->shape[d], s0, si, ax);
        if (!mb_mul_ok(1, shape[ax] + b->shape[ax], &shape[ax])) /* range check of the sum */
            return mb_op_error(c, "concatenate: size along axis %d overflows", ax);
    }
    enum mb_status s = mb_out_alloc(c, "concatenate", out, a->ndim, shape);
    if (s != MB_OK) return s;
    int64_t off = 0;
    for (int i = 0; i < n && s == MB_OK; i++) {
        s = mb_copy_strided(c, in[i]->ndim, in[i]->shape, in[i]->data, in[i]->strides, out->data + off * out->strides[ax],
                            out->strides, 0);
        off += in[i]->shape[ax];
    }
    if (s != MB_OK) mb_tensor_free(out);
    return s;
}

/* shape with a 1 (or n) inserted at ax; false if the rank would exceed MB_MAX_DIMS */
static bool insert_axis(const struct mb_tensor *x, int ax, int64_t size, int64_t *shape)
{
    if (x->ndim + 1 > MB_MAX_DIMS) return false;
    for (int i = 0, j = 0; i <= x->ndim; i++) shape[i] = i == ax ? size : x->shape[j++];
    return true;
}

enum mb_status mb_op_stack(struct mb_opctx *c, int n, const struct mb_tensor *const *in, int64_t axis,
                           struct mb_tensor *out)
{
    memset(out, 0, sizeof *out);
    if (n < 1) return mb_op_error(c, "stack: need at least one input, got %d", n);
    char s0[256], si[256];
    const struct mb_tensor *a = in[0];
    mb_shape_str(a->ndim, a->shape, s0, sizeof s0);
    for (int i = 1; i < n; i++) {
        bool same = in[i]->ndim == a->ndim;
        for (int d = 0; same && d < a->ndim; d++) same = in[i]->shape[d] == a->shape[d];
        if (!same)
            return mb_op_error(c, "stack: all inputs must have the same shape: input 0 is %s, input %d is %s", s0, i,
                               mb_shape_str(in[i]->ndim, in[i]->shape, si, sizeof si));
    }
    int ax;
    if (!mb_axis_norm(axis, a->ndim + 1, &ax))
        return mb_op_error(c, "stack: axis %lld is out of range [%d, %d] for inputs of shape %s", (long long)axis,
                           -(a->ndim + 1), a->ndim, s0);
    int64_t shape[MB_MAX_DIMS];
    if (!insert_axis(a, ax, n, shape))
        return mb_op_error(c, "stack: rank: inputs of shape %s would give %d dims (limit %d)", s0, a->ndim + 1,
                           MB_MAX_DIMS);
    enum mb_status s = mb_out_alloc(c, "stack", out, a->ndim + 1, shape);
    if (s != MB_OK) return s;
    int64_t ys[MB_MAX_DIMS];
    for (int i = 0, j = 0; i <= a->ndim; i++)
        if (i != ax) ys[j++] = out->strides[i];
    for (int i = 0; i < n && s == MB_OK; i++)
        s = mb_copy_strided(c, a->ndim, a->shape, in[i]->data, in[i]->strides, out->data + i * out->strides[ax], ys, 0);
    if (s != MB_OK) mb_tensor_free(out);
    return s;
}

/* out = a fresh contiguous tensor of `shape` holding x's elements in C order */
static enum mb_status relayout(struct mb_opctx *c, const char *op, const struct mb_tensor *x, int ndim,
                               const int64_t *shape, struct mb_tensor *out)
{
    enum mb_status s = mb_out_alloc(c, op, out, ndim, shape);
    if (s != MB_OK) return s;
    struct mb_tensor dst = *x; /* x's shape, contiguous strides: the same C-order positions as out */
    mb_tensor_contig_strides(&dst);
    if ((s = mb_copy_strided(c, x->ndim, x->shape, x->data, x->strides, out->data, dst.strides, 0)) != MB_OK)
        mb_tensor_free(out);
    return s;
}

enum mb_status mb_op_expand_dims(struct mb_opctx *c, const struct mb_tensor *x, int64_t axis, struct mb_tensor *out)
{
    memset(out, 0, sizeof *out);
    char sx[256];
    mb_shape_str(x->ndim, x->shape, sx, sizeof sx);
    int ax;
    if (!mb_axis_norm(axis, x->ndim + 1, &ax))
        return mb_op_error(c, "expand_dims: axis %lld is out of range [%d, %d] for shape %s", (long long)axis,
                           -(x->ndim + 1), x->ndim, sx);
    int64_t shape[MB_MAX_DIMS];
    if (!insert_axis(x, ax, 1, shape))
        return mb_op_error(c, "expand_dims: rank: shape %s would get %d dims (limit %d)", sx, x->ndim + 1,
                           MB_MAX_DIMS);
    return relayout(c, "expand_dims", x, x->ndim + 1, shape, out);
}

enum mb_status mb_op_reshape(struct mb_opctx *c, const struct mb_tensor *x, int nshape, const int64_t *shape,
                             struct mb_tensor *out)
{
    memset(out, 0, sizeof *out);
    char sx[256], ss[256];
    mb_shape_str(x->ndim, x->shape, sx, sizeof sx);
    if (nshape < 0 || nshape > MB_MAX_DIMS)
        return mb_op_error(c, "reshape: rank: %d dims requested (limit %d) for input %s", nshape, MB_MAX_DIMS, sx);
    mb_shape_str(nshape, shape, ss, sizeof ss);
    int64_t ns[MB_MAX_DIMS], known = 1, numel = mb_tensor_numel(x);
    int unknown = -1;
    for (int i = 0; i < nshape; i++) {
        ns[i] = shape[i];
        if (shape[i] == -1) {
            if (unknown >= 0)
                return mb_op_error(c, "reshape: size: only one -1 allowed in shape %s (axes %d and %d) for input %s",
                                   ss, unknown, i, sx);
            unknown = i;
        } else if (shape[i] < 0) {
            return mb_op_error(c, "reshape: size: negative dimension %lld at axis %d in shape %s", (long long)shape[i], i,
                               ss);
        } else if (!mb_mul_ok(known, shape[i], &known)) {
            return mb_op_error(c, "reshape: size of shape %s overflows (input %s has %lld elements)", ss, sx,
                               (long long)numel);
        }
    }
    if (unknown >= 0) { /* as NumPy: the -1 must be inferable (known product non-zero, divides) */
        if (known == 0 || numel % known != 0)
            return mb_op_error(c, "reshape: cannot infer the -1 at axis %d: size %lld of input %s is not a multiple "
                                  "of %lld (shape %s)",
                               unknown, (long long)numel, sx, (long long)known, ss);
        ns[unknown] = numel / known;
        known = numel;
    }
    if (known != numel)
        return mb_op_error(c, "reshape: size mismatch: input %s has %lld elements, shape %s has %lld", sx,
                           (long long)numel, ss, (long long)known);
    return relayout(c, "reshape", x, nshape, ns, out);
}
