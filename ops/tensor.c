/* tensor.c: tensor allocation, shapes, broadcasting and overflow-checked size arithmetic. */
#include "ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool mb_mul_ok(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r) || r > MB_MAX_ELEMS) return false;
    *out = r;
    return true;
}

bool mb_numel_ok(int ndim, const int64_t *shape, int64_t *out)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (!mb_mul_ok(n, shape[i], &n)) return false;
    *out = n;
    return true;
}

int64_t mb_tensor_numel(const struct mb_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

void mb_tensor_contig_strides(struct mb_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->strides[i] = s;
        /* a 0-sized tensor may have huge other dims: saturate rather than overflow (no element is
         * ever addressed through these strides) */
        if (__builtin_mul_overflow(s, t->shape[i] > 0 ? t->shape[i] : 1, &s)) s = INT64_MAX;
    }
}

bool mb_tensor_is_contig(const struct mb_tensor *t)
{
    if (mb_tensor_numel(t) == 0) return true; /* no element to be out of place */
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->strides[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

enum mb_status mb_tensor_alloc(struct mb_tensor *t, int ndim, const int64_t *shape, char *msg, size_t msgsz)
{
    memset(t, 0, sizeof *t);
    int64_t n;
    if (ndim < 0 || ndim > MB_MAX_DIMS) {
        snprintf(msg, msgsz, "tensor: rank %d exceeds the limit of %d dims", ndim, MB_MAX_DIMS);
        return MB_EINVAL;
    }
    int64_t nz[MB_MAX_DIMS], dummy;
    for (int i = 0; i < ndim; i++) nz[i] = shape[i] > 0 ? shape[i] : 1;
    /* the dims must fit even when another dim is 0, since strides are built from them */
    if (!mb_numel_ok(ndim, shape, &n) || !mb_numel_ok(ndim, nz, &dummy)) {
        char b[256];
        snprintf(msg, msgsz, "tensor: size of shape %s overflows or exceeds %lld elements",
                 mb_shape_str(ndim, shape, b, sizeof b), (long long)MB_MAX_ELEMS);
        return MB_EINVAL;
    }
    t->ndim = ndim;
    if (ndim) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    mb_tensor_contig_strides(t);
    size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
    t->owned = aligned_alloc(64, bytes);
    if (!t->owned) {
        snprintf(msg, msgsz, "tensor: cannot allocate %zu bytes", bytes);
        return MB_ENOMEM;
    }
    t->data = t->owned;
    return MB_OK;
}

void mb_tensor_free(struct mb_tensor *t)
{
    if (t && t->owned) free(t->owned);
    if (t) memset(t, 0, sizeof *t);
}

const char *mb_shape_str(int ndim, const int64_t *shape, char *buf, size_t n)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "(");
    for (int i = 0; i < ndim; i++)
        o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "%s%lld", i ? "," : "", (long long)shape[i]);
    snprintf(buf + o, o < n ? n - o : 0, ndim == 1 ? ",)" : ")");
    return buf;
}

enum mb_status mb_broadcast_shapes(const char *op, int na, const int64_t *a, int nb, const int64_t *b, int *nout,
                                   int64_t *out, char *msg, size_t msgsz)
{
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) { /* i counts from the right */
        int64_t da = i < na ? a[na - 1 - i] : 1, db = i < nb ? b[nb - 1 - i] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[256], sb[256];
            snprintf(msg, msgsz, "%s: shapes cannot broadcast: axis %d from the right: %lld vs %lld (a: %s, b: %s)", op,
                     -(i + 1), (long long)da, (long long)db, mb_shape_str(na, a, sa, sizeof sa),
                     mb_shape_str(nb, b, sb, sizeof sb));
            return MB_EINVAL;
        }
        out[n - 1 - i] = da == 1 ? db : da;
    }
    *nout = n;
    return MB_OK;
}

bool mb_axis_norm(int64_t axis, int n, int *out)
{
    if (axis < -n || axis >= n) return false;
    *out = (int)(axis < 0 ? axis + n : axis);
    return true;
}

enum mb_status mb_op_error(struct mb_opctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    return MB_EINVAL;
}
