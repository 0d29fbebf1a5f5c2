/*
 * attention_naive.c: O = softmax(scale * Q K^T, masked) V, one query row at a time.
 * Needs Tk floats of workspace for the score row (MB_ENOMEM otherwise).
 */
#include "mb.h"

#include <math.h>

enum mb_status mb_attention_naive(const struct mb_attention *p, const struct mb_exec *x)
{
    if (x->work_size < (size_t)p->Tk * sizeof(float)) return MB_ENOMEM;
    float *s = x->work;
    const int64_t nb = mb_batch_count(p->nbatch, p->batch);
    for (int64_t b = 0; b < nb; b++) {
        const float *q = p->q + mb_batch_offset(p->nbatch, p->batch, p->q_bs, b);
        const float *k = p->k + mb_batch_offset(p->nbatch, p->batch, p->k_bs, b);
        const float *v = p->v + mb_batch_offset(p->nbatch, p->batch, p->v_bs, b);
        float *o = p->o + mb_batch_offset(p->nbatch, p->batch, p->o_bs, b);
        const float *mask = p->mask ? p->mask + mb_batch_offset(p->nbatch, p->batch, p->m_bs, b) : NULL;
        float *w = p->w ? p->w + mb_batch_offset(p->nbatch, p->batch, p->w_bs, b) : NULL;
        for (int64_t i = 0; i < p->Tq; i++) {
            float mx = -INFINITY;
            for (int64_t j = 0; j < p->Tk; j++) {
                float acc = 0.0f;
                for (int64_t d = 0; d < p->D; d++) acc += q[i * p->q_ts + d * p->q_ds] * k[j * p->k_ts + d * p->k_ds];
                acc *= p->scale;
                if ((mask && mask[i * p->m_qs + j * p->m_ks] == 0.0f) || (p->causal && j > i)) acc = -INFINITY;
                s[j] = acc;
                if (acc > mx) mx = acc;
            }
            float sum = 0.0f;
            for (int64_t j = 0; j < p->Tk; j++) {
                s[j] = expf(s[j] - mx); /* all -inf row: NaN, as the reference */
                sum += s[j];
            }
            for (int64_t j = 0; j < p->Tk; j++) {
                s[j] /= sum;
                if (w) w[i * p->w_qs + j * p->w_ks] = s[j];
            }
            for (int64_t e = 0; e < p->Dv; e++) {
                float acc = 0.0f;
                for (int64_t j = 0; j < p->Tk; j++) acc += s[j] * v[j * p->v_ts + e * p->v_ds];
                o[i * p->o_ts + e * p->o_ds] = acc;
            }
        }
    }
    return MB_OK;
}
