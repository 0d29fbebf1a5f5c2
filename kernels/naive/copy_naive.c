/* copy_naive.c: strided N-D copy / gather; with accumulate, y += x summed over the dims where y's stride
 * is 0 (einsum's summed labels, traces). */
#include "mb.h"

/* offset of flat index i over the dims dims[0..n) (row-major) with strides s */
static int64_t offset(int n, const int *dims, const int64_t *shape, const int64_t *s, int64_t i)
{
    int64_t off = 0;
    for (int k = n - 1; k >= 0; k--) {
        off += (i % shape[dims[k]]) * s[dims[k]];
        i /= shape[dims[k]];
    }
    return off;
}

enum mb_status mb_copy_naive(const struct mb_copy *p, const struct mb_exec *x)
{
    (void)x;
    /* kept dims (y stride != 0) outside, summed dims (y stride 0) inside: each output element's sum is
     * formed in double, so a long reduction doesn't stall at 2^24 as a float running sum would (numpy
     * sums pairwise for the same reason) */
    int kept[MB_MAX_DIMS], summed[MB_MAX_DIMS], nk = 0, ns = 0;
    int64_t nouter = 1, ninner = 1;
    for (int d = 0; d < p->ndim; d++) {
        if (p->accumulate && p->ys[d] == 0) summed[ns++] = d, ninner *= p->shape[d];
        else kept[nk++] = d, nouter *= p->shape[d];
    }
    for (int64_t o = 0; o < nouter; o++) {
        const int64_t xo = offset(nk, kept, p->shape, p->xs, o), yo = offset(nk, kept, p->shape, p->ys, o);
        if (!p->accumulate) {
            p->y[yo] = p->x[xo];
            continue;
        }
        double acc = 0.0;
        for (int64_t i = 0; i < ninner; i++) acc += p->x[xo + offset(ns, summed, p->shape, p->xs, i)];
        p->y[yo] += (float)acc;
    }
    return MB_OK;
}
