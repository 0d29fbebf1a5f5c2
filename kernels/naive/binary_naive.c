/* binary_naive.c: z = x op y over an N-D index space with broadcast (stride-0) operands. */
#include "mb.h"

enum mb_status mb_binary_naive(const struct mb_binary *p, const struct mb_exec *x)
{
    (void)x;
    if ((unsigned)p->op > MB_DIV) return MB_EINVAL;
    int64_t total = 1;
    for (int d = 0; d < p->ndim; d++) total *= p->shape[d];
    for (int64_t i = 0; i < total; i++) {
        int64_t r = i, xo = 0, yo = 0, zo = 0;
        for (int d = p->ndim - 1; d >= 0; d--) {
            int64_t c = r % p->shape[d];
            r /= p->shape[d];
            xo += c * p->xs[d];
            yo += c * p->ys[d];
            zo += c * p->zs[d];
        }
        p->z[zo] = mb_binop_apply(p->op, p->x[xo], p->y[yo]);
    }
    return MB_OK;
}
