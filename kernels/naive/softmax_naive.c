/* softmax_naive.c: max-subtracted softmax along one axis, with scale, 0/1 mask and causal mask. */
#include "mb.h"

#include <math.h>

enum mb_status mb_softmax_naive(const struct mb_softmax *p, const struct mb_exec *x)
{
    (void)x;
    int64_t rows = 1;
    for (int d = 0; d < p->ndim; d++) rows *= p->shape[d];
    for (int64_t r = 0; r < rows; r++) {
        int64_t rem = r, xo = 0, yo = 0, mo = 0, qi = 0;
        for (int d = p->ndim - 1; d >= 0; d--) {
            int64_t c = rem % p->shape[d];
            rem /= p->shape[d];
            if (d == p->ndim - 1) qi = c;
            xo += c * p->xs[d];
            yo += c * p->ys[d];
            mo += c * p->ms[d];
        }
        const float *xr = p->x + xo;
        float *yr = p->y + yo;
        /* pass 1: masked scores into y, and their max */
        float mx = -INFINITY;
        for (int64_t j = 0; j < p->n; j++) {
            float s = p->scale * xr[j * p->x_ns];
            if ((p->mask && p->mask[mo + j * p->m_ns] == 0.0f) || (p->causal && j > qi)) s = -INFINITY;
            yr[j * p->y_ns] = s;
            if (s > mx) mx = s;
        }
        /* pass 2: exp and sum; an all -inf row gives exp(NaN) = NaN everywhere, as torch does */
        float sum = 0.0f;
        for (int64_t j = 0; j < p->n; j++) {
            float e = expf(yr[j * p->y_ns] - mx);
            yr[j * p->y_ns] = e;
            sum += e;
        }
        for (int64_t j = 0; j < p->n; j++) yr[j * p->y_ns] /= sum;
    }
    return MB_OK;
}
