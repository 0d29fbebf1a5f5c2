/* copy_naive.c: strided N-D copy / gather; with accumulate, y += x (stride-0 y dims sum over x). */
#include "mb.h"

enum mb_status mb_copy_naive(const struct mb_copy *p, const struct mb_exec *x)
{
    (void)x;
    int64_t total = 1;
    for (int d = 0; d < p->ndim; d++) total *= p->shape[d];
    for (int64_t i = 0; i < total; i++) {
        int64_t r = i, xo = 0, yo = 0;
        for (int d = p->ndim - 1; d >= 0; d--) {
            int64_t c = r % p->shape[d];
            r /= p->shape[d];
            xo += c * p->xs[d];
            yo += c * p->ys[d];
        }
        if (p->accumulate) p->y[yo] += p->x[xo];
        else p->y[yo] = p->x[xo];
    }
    return MB_OK;
}
