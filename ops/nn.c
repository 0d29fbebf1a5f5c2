/*
 * nn.c: softmax along any axis and scaled dot-product attention (SEMANTICS §10, §11).
 *
 * softmax   -> ONE mb_softmax: the axis is (n, x_ns), every other dim a strided row dim. No copies,
 *              whatever the axis or the input's strides.
 * attention -> ONE mb_attention: q (...,L,d), k (...,S,d), v (...,S,dv) with the leading dims broadcast
 *              as in matmul (stride 0), a 0/1 mask that broadcasts TO the scores shape (...,L,S), causal
 *              top-left (j > i dropped), scale 1/sqrt(d) unless given. The batch dims are collapsed to
 *              <= MB_MAX_BATCH; only when that is impossible (more than 4 batch dims no stride pattern can
 *              merge) are the inputs expanded into contiguous copies, after which one batch dim remains.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum mb_status mb_op_softmax(struct mb_opctx *c, const struct mb_tensor *x, int64_t axis, struct mb_tensor *out)
{
    memset(out, 0, sizeof *out);
    char sx[256];
    int ax;
    if (!mb_axis_norm(axis, x->ndim, &ax))
        return mb_op_error(c, "softmax: axis %lld is out of range for shape %s (rank %d)", (long long)axis,
                           mb_shape_str(x->ndim, x->shape, sx, sizeof sx), x->ndim);
    enum mb_status s = mb_out_alloc(c, "softmax", out, x->ndim, x->shape);
    if (s != MB_OK) return s;
    struct mb_softmax p = {.n = x->shape[ax], .x = x->data, .x_ns = x->strides[ax], .y = out->data,
                           .y_ns = out->strides[ax], .scale = 1.0f};
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i == ax) continue;
        p.shape[nd] = x->shape[i];
        p.xs[nd] = x->strides[i];
        p.ys[nd] = out->strides[i];
        nd++;
    }
    int64_t *const st[2] = {p.xs, p.ys};
    p.ndim = mb_collapse_dims(nd, p.shape, 2, st); /* no causal here, so the row dims may merge freely */
    if ((s = mb_run_softmax(c, &p)) != MB_OK) mb_tensor_free(out);
    return s;
}

// ---------------------------------------------------------------------------------------------------
// attention

/* the batch (leading) part of x viewed in the broadcast batch shape */
static void batch_strides(const struct mb_tensor *x, int nb, const int64_t *batch, int64_t *s)
{
    struct mb_tensor lead = *x;
    lead.ndim = x->ndim - 2;
    mb_broadcast_strides(&lead, nb, batch, s);
}

/* Fill p's batch dims from the operands; returns the collapsed batch rank (may exceed MB_MAX_BATCH). */
static int lower_batch(struct mb_attention *p, int nb, const int64_t *batch, const struct mb_tensor *q,
                       const struct mb_tensor *k, const struct mb_tensor *v, const struct mb_tensor *mask,
                       const int64_t *mask_bs, const struct mb_tensor *o, const struct mb_tensor *w)
{
    int64_t sh[MB_MAX_DIMS], qs[MB_MAX_DIMS], ks[MB_MAX_DIMS], vs[MB_MAX_DIMS], os[MB_MAX_DIMS],
        ms[MB_MAX_DIMS] = {0}, ws[MB_MAX_DIMS] = {0};
    memcpy(sh, batch, (size_t)nb * sizeof *sh);
    batch_strides(q, nb, batch, qs);
    batch_strides(k, nb, batch, ks);
    batch_strides(v, nb, batch, vs);
    memcpy(os, o->strides, (size_t)nb * sizeof *os);
    if (mask) memcpy(ms, mask_bs, (size_t)nb * sizeof *ms);
    if (w) memcpy(ws, w->strides, (size_t)nb * sizeof *ws);
    int64_t *const st[6] = {qs, ks, vs, os, ms, ws};
    int n = mb_collapse_dims(nb, sh, 6, st);
    if (n > MB_MAX_BATCH) return n;
    p->nbatch = n;
    for (int i = 0; i < n; i++) {
        p->batch[i] = sh[i];
        p->q_bs[i] = qs[i], p->k_bs[i] = ks[i], p->v_bs[i] = vs[i];
        p->o_bs[i] = os[i], p->m_bs[i] = ms[i], p->w_bs[i] = ws[i];
    }
    return n;
}

/* x expanded to (batch..., x's last two dims) as a fresh contiguous tensor (the rare fallback). */
static enum mb_status expand(struct mb_opctx *c, const struct mb_tensor *x, int nb, const int64_t *batch,
                             struct mb_tensor *y)
{
    int64_t shape[MB_MAX_DIMS];
    memcpy(shape, batch, (size_t)nb * sizeof *shape);
    shape[nb] = x->shape[x->ndim - 2];
    shape[nb + 1] = x->shape[x->ndim - 1];
    return mb_materialize(c, "attention", x, nb + 2, shape, y);
}

/* Leading-dims broadcast of the first nt tensors (each minus its last two dims) into batch[0..*n). */
static enum mb_status broadcast_batch(struct mb_opctx *c, int nt, const struct mb_tensor *const *t, int *n,
                                      int64_t *batch, const char *sq, const char *sk, const char *sv)
{
    *n = 0;
    for (int i = 0; i < nt; i++)
        if (t[i]->ndim - 2 > *n) *n = t[i]->ndim - 2;
    for (int i = 0; i < *n; i++) { /* i counts from the right of the batch part */
        int64_t d[3] = {1, 1, 1}, r = 1;
        for (int j = 0; j < nt; j++) {
            int lead = t[j]->ndim - 2;
            d[j] = i < lead ? t[j]->shape[lead - 1 - i] : 1;
            if (d[j] != 1) r = d[j];
        }
        for (int j = 0; j < nt; j++)
            if (d[j] != 1 && d[j] != r)
                return mb_op_error(c,
                                   "attention: batch dims cannot broadcast: batch axis %d from the right: q %lld, k "
                                   "%lld, v %lld (q: %s, k: %s, v: %s)",
                                   -(i + 1), (long long)d[0], (long long)d[1], (long long)d[2], sq, sk, sv);
        batch[*n - 1 - i] = r;
    }
    return MB_OK;
}

/* Shapes of attention (SEMANTICS §11, as torch computes it): the scores/weights are
 * broadcast(q, k batch) + (L, S) and the mask must broadcast to THAT; the output's batch also
 * broadcasts v's batch (weights @ v). full = output batch + (L, S), qk = scores batch + (L, S). */
static enum mb_status check_attention(struct mb_opctx *c, const struct mb_tensor *q, const struct mb_tensor *k,
                                      const struct mb_tensor *v, const struct mb_tensor *mask, int *nb,
                                      int64_t *full, int *nqk, int64_t *qk)
{
    char sq[256], sk[256], sv[256], sm[256], ss[256];
    mb_shape_str(q->ndim, q->shape, sq, sizeof sq);
    mb_shape_str(k->ndim, k->shape, sk, sizeof sk);
    mb_shape_str(v->ndim, v->shape, sv, sizeof sv);
    if (q->ndim < 2 || k->ndim < 2 || v->ndim < 2)
        return mb_op_error(c, "attention: rank: q, k and v need at least 2 dims (q: %s, k: %s, v: %s)", sq, sk, sv);
    if (q->shape[q->ndim - 1] != k->shape[k->ndim - 1])
        return mb_op_error(c, "attention: dimension mismatch: q.shape[-1]=%lld vs k.shape[-1]=%lld (q: %s, k: %s)",
                           (long long)q->shape[q->ndim - 1], (long long)k->shape[k->ndim - 1], sq, sk);
    if (k->shape[k->ndim - 2] != v->shape[v->ndim - 2])
        return mb_op_error(c, "attention: dimension mismatch: k.shape[-2]=%lld vs v.shape[-2]=%lld (k: %s, v: %s)",
                           (long long)k->shape[k->ndim - 2], (long long)v->shape[v->ndim - 2], sk, sv);
    const struct mb_tensor *t[3] = {q, k, v};
    enum mb_status s;
    if ((s = broadcast_batch(c, 3, t, nb, full, sq, sk, sv)) != MB_OK ||
        (s = broadcast_batch(c, 2, t, nqk, qk, sq, sk, sv)) != MB_OK)
        return s;
    full[*nb] = qk[*nqk] = q->shape[q->ndim - 2];
    full[*nb + 1] = qk[*nqk + 1] = k->shape[k->ndim - 2];
    if (!mask) return MB_OK;
    mb_shape_str(mask->ndim, mask->shape, sm, sizeof sm);
    mb_shape_str(*nqk + 2, qk, ss, sizeof ss);
    if (mask->ndim > *nqk + 2)
        return mb_op_error(c, "attention: mask %s has more dims than the scores %s: cannot broadcast", sm, ss);
    for (int i = 0; i < mask->ndim; i++) {
        int64_t dm = mask->shape[mask->ndim - 1 - i], dsc = qk[*nqk + 1 - i];
        if (dm != dsc && dm != 1)
            return mb_op_error(c, "attention: mask %s does not broadcast to the scores %s: axis %d: %lld vs %lld", sm,
                               ss, -(i + 1), (long long)dm, (long long)dsc);
    }
    return MB_OK;
}

/* One mb_attention over the batch shape scores[0..nb) (+ (L, S)); out/weights (either may be NULL)
 * are laid out in that batch shape. */
static enum mb_status run_attention(struct mb_opctx *c, struct mb_attention p, int nb, const int64_t *scores,
                                    const struct mb_tensor *q, const struct mb_tensor *k, const struct mb_tensor *v,
                                    const struct mb_tensor *mask, const struct mb_tensor *out,
                                    const struct mb_tensor *weights)
{
    enum mb_status s;
    /* the mask in the scores' coordinates: batch strides, then (query, key) strides */
    int64_t mfull[MB_MAX_DIMS + 2] = {0};
    if (mask) mb_broadcast_strides(mask, nb + 2, scores, mfull);

    struct mb_tensor cq = {0}, ck = {0}, cv = {0}, cm = {0}; /* fallback copies */
    const struct mb_tensor *uq = q, *uk = k, *uv = v, *um = mask;
    if (lower_batch(&p, nb, scores, q, k, v, mask, mfull, out, weights) > MB_MAX_BATCH) {
        /* contiguous expanded copies merge into one batch dim */
        if ((s = expand(c, q, nb, scores, &cq)) != MB_OK || (s = expand(c, k, nb, scores, &ck)) != MB_OK ||
            (s = expand(c, v, nb, scores, &cv)) != MB_OK ||
            (mask && (s = mb_materialize(c, "attention", mask, nb + 2, scores, &cm)) != MB_OK))
            goto done;
        uq = &cq, uk = &ck, uv = &cv, um = mask ? &cm : NULL;
        if (um) memcpy(mfull, cm.strides, (size_t)(nb + 2) * sizeof *mfull);
        lower_batch(&p, nb, scores, uq, uk, uv, um, mfull, out, weights);
    }
    p.q = uq->data, p.q_ts = uq->strides[uq->ndim - 2], p.q_ds = uq->strides[uq->ndim - 1];
    p.k = uk->data, p.k_ts = uk->strides[uk->ndim - 2], p.k_ds = uk->strides[uk->ndim - 1];
    p.v = uv->data, p.v_ts = uv->strides[uv->ndim - 2], p.v_ds = uv->strides[uv->ndim - 1];
    p.o = out->data, p.o_ts = out->strides[nb], p.o_ds = out->strides[nb + 1];
    if (um) p.mask = um->data, p.m_qs = mfull[nb], p.m_ks = mfull[nb + 1];
    if (weights) p.w = weights->data, p.w_qs = weights->strides[nb], p.w_ks = weights->strides[nb + 1];
    s = mb_run_attention(c, &p);
done:
    mb_tensor_free(&cq);
    mb_tensor_free(&ck);
    mb_tensor_free(&cv);
    mb_tensor_free(&cm);
    return s;
}

enum mb_status mb_op_attention(struct mb_opctx *c, const struct mb_tensor *q, const struct mb_tensor *k,
                               const struct mb_tensor *v, const struct mb_tensor *mask, bool has_scale, float scale,
                               bool causal, struct mb_tensor *out, struct mb_tensor *weights)
{
    memset(out, 0, sizeof *out);
    if (weights) memset(weights, 0, sizeof *weights);
    int nb = 0, nqk = 0;
    int64_t full[MB_MAX_DIMS + 2], qk[MB_MAX_DIMS + 2], oshape[MB_MAX_DIMS];
    enum mb_status s = check_attention(c, q, k, v, mask, &nb, full, &nqk, qk);
    if (s != MB_OK) return s;
    const int64_t L = q->shape[q->ndim - 2], D = q->shape[q->ndim - 1], Dv = v->shape[v->ndim - 1];
    memcpy(oshape, full, (size_t)nb * sizeof *oshape);
    oshape[nb] = L;
    oshape[nb + 1] = Dv;
    if ((s = mb_out_alloc(c, "attention", out, nb + 2, oshape)) != MB_OK) return s;
    if (weights && (s = mb_out_alloc(c, "attention", weights, nqk + 2, qk)) != MB_OK) goto fail;

    const struct mb_attention p = {
        .Tq = L,
        .Tk = k->shape[k->ndim - 2],
        .D = D,
        .Dv = Dv,
        .scale = has_scale ? scale : (float)(1.0 / sqrt((double)D)),
        .causal = causal,
    };
    /* v widens the batch beyond the scores' (e.g. q, k (1,L,d), v (2,S,dv)): the weights have the
     * scores' shape, so they come from a second pass over the scores batch with v's batch broadcast
     * (the weights don't depend on v) instead of being written once per v batch. */
    bool same = nb == nqk && !memcmp(full, qk, (size_t)nb * sizeof *full);
    if ((s = run_attention(c, p, nb, full, q, k, v, mask, out, same ? weights : NULL)) != MB_OK) goto fail;
    if (weights && !same) {
        struct mb_tensor v0 = *v, tmp = {0};
        v0.ndim = 2; /* v's first (L, S) slice: batch strides all 0 */
        v0.shape[0] = v->shape[v->ndim - 2], v0.shape[1] = Dv;
        v0.strides[0] = v->strides[v->ndim - 2], v0.strides[1] = v->strides[v->ndim - 1];
        memcpy(oshape, qk, (size_t)nqk * sizeof *oshape);
        oshape[nqk] = L;
        oshape[nqk + 1] = Dv;
        if ((s = mb_out_alloc(c, "attention", &tmp, nqk + 2, oshape)) != MB_OK) goto fail;
        s = run_attention(c, p, nqk, qk, q, k, &v0, mask, &tmp, weights);
        mb_tensor_free(&tmp);
        if (s != MB_OK) goto fail;
    }
    return MB_OK;
fail:
    mb_tensor_free(out);
    if (weights) mb_tensor_free(weights);
    return s;
}
