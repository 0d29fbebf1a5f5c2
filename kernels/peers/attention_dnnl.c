/*
 * attention_dnnl.c: the oneDNN peer ("onednn"): the unfused way done with the best library pieces.
 * Per batch item: S = scale * Q K^T with dnnl_sgemm, a vectorized row softmax (matbench's own fastest
 * available SOFTMAX variant from the registry, avx512 > avx2 > naive, i.e. the same vector exp as the
 * fused kernel, so the comparison isolates fusion and tiling), then O = P V with dnnl_sgemm.
 * O(Tq*Tk) memory: 2 * Tq * Tk floats of x->work (else MB_ENOMEM). Rows of Q, K, V, O must be unit-stride
 * in the feature dim (else MB_ENOTSUP). Threads: the heads over x->nthreads OpenMP threads, each head's calls
 * single-threaded, when peer.h's mb_peer_threads says so and each thread's share of x->work holds its S and P
 * (S 128: 1.0-1.2x at 2 threads with oneDNN threading each small GEMM); else the heads in turn with oneDNN
 * and the softmax on x->nthreads, or one for tiny work (this sets the calling thread's OpenMP thread count: a
 * process-visible side effect, documented).
 */
#include "mb.h"
#include "peers/peer.h"

#include <dnnl.h>
#include <omp.h>

static int64_t ld_of(int64_t rows, int64_t cols, int64_t rs, int64_t cs)
{
    int64_t minld = cols > 1 ? cols : 1;
    if (cols == 0) return minld; /* never accessed */
    if (cols > 1 && cs != 1) return -1;
    int64_t ld = rows <= 1 ? minld : rs;
    return ld >= minld ? ld : -1;
}

static const struct mb_kernel *best_softmax(void)
{
    static const char *const order[] = {"avx512", "avx2", "naive"};
    for (int i = 0; i < 3; i++) {
        const struct mb_kernel *k = mb_kernel_find(MB_KIND_SOFTMAX, order[i]);
        if (k && mb_kernel_available(k)) return k;
    }
    return NULL;
}

/* One head: S = scale Q K^T into s, the softmax into pm, O = P V; sx: the softmax's exec (threads, scratch). */
static enum mb_status head(const struct mb_attention *p, const struct mb_kernel *sm, int64_t b, float *s, float *pm,
                           const struct mb_exec *sx, int64_t ldq, int64_t ldk, int64_t ldv, int64_t ldo)
{
    const int64_t Tq = p->Tq, Tk = p->Tk, D = p->D, Dv = p->Dv;
    const float *q = p->q + mb_batch_offset(p->nbatch, p->batch, p->q_bs, b);
    const float *k = p->k + mb_batch_offset(p->nbatch, p->batch, p->k_bs, b);
    const float *v = p->v + mb_batch_offset(p->nbatch, p->batch, p->v_bs, b);
    float *o = p->o + mb_batch_offset(p->nbatch, p->batch, p->o_bs, b);
    if (Tk == 0) { /* the reference's empty sum */
        for (int64_t i = 0; i < Tq; i++)
            for (int64_t e = 0; e < Dv; e++) o[i * ldo + e] = 0.0f;
        return MB_OK;
    }
    if (D == 0) {
        for (int64_t i = 0; i < Tq * Tk; i++)
            s[i] = p->scale * 0.0f; /* scale * empty sum: NaN if scale is inf (d = 0), as the contract */
    } else if (dnnl_sgemm('N', 'T', Tq, Tk, D, p->scale, q, ldq, k, ldk, 0.0f, s, Tk) != dnnl_success) {
        return MB_EDEVICE;
    }
    struct mb_softmax r = {.ndim = 1,
                           .shape = {Tq},
                           .n = Tk,
                           .x = s,
                           .xs = {Tk},
                           .x_ns = 1,
                           .y = pm,
                           .ys = {Tk},
                           .y_ns = 1,
                           .scale = 1.0f,
                           .causal = p->causal};
    if (p->mask) {
        r.mask = p->mask + mb_batch_offset(p->nbatch, p->batch, p->m_bs, b);
        r.ms[0] = p->m_qs;
        r.m_ns = p->m_ks;
    }
    enum mb_status st = sm->fn.SOFTMAX(&r, sx);
    if (st != MB_OK) return st;
    if (p->w) {
        float *w = p->w + mb_batch_offset(p->nbatch, p->batch, p->w_bs, b);
        for (int64_t i = 0; i < Tq; i++)
            for (int64_t j = 0; j < Tk; j++) w[i * p->w_qs + j * p->w_ks] = pm[i * Tk + j];
    }
    if (Dv > 0 && dnnl_sgemm('N', 'N', Tq, Dv, Tk, 1.0f, pm, Tk, v, ldv, 0.0f, o, ldo) != dnnl_success)
        return MB_EDEVICE;
    return MB_OK;
}

enum mb_status mb_attention_onednn(const struct mb_attention *p, const struct mb_exec *x)
{
    const int64_t Tq = p->Tq, Tk = p->Tk, D = p->D, Dv = p->Dv;
    const int64_t ldq = ld_of(Tq, D, p->q_ts, p->q_ds), ldk = ld_of(Tk, D, p->k_ts, p->k_ds);
    const int64_t ldv = ld_of(Tk, Dv, p->v_ts, p->v_ds), ldo = ld_of(Tq, Dv, p->o_ts, p->o_ds);
    if (ldq < 0 || ldk < 0 || ldv < 0 || ldo < 0) return MB_ENOTSUP;
    const size_t tile = ((size_t)(Tq * Tk) * sizeof(float) + 63) & ~(size_t)63;
    const struct mb_kernel *sm = best_softmax();
    if (!sm) return MB_ENOTSUP;
    const int64_t nb = mb_batch_count(p->nbatch, p->batch);
    if (nb == 0 || Tq == 0) return MB_OK;
    const int nt = x->nthreads > 0 ? x->nthreads : 1;
    /* heads over the threads (each call single-threaded) as peer.h decides for GEMM batches, when each thread's
     * share of the workspace holds S and P; else the heads in turn, oneDNN and the softmax on ct threads each */
    const size_t slice = x->work_size / (size_t)nt & ~(size_t)63;
    const struct mb_peer_threads pt = mb_peer_threads((double)Tq * (double)Tk * (double)(D + Dv), nb, nt);
    const int bt = slice >= 2 * tile ? pt.batch : 1, ct = pt.batch > 1 ? nt : pt.call; /* ct: threads per call */
    if (bt > 1) {
        enum mb_status st = MB_OK;
#pragma omp parallel for num_threads(bt) schedule(static)
        for (int64_t b = 0; b < nb; b++) {
            char *w = (char *)x->work + (size_t)mb_thread_num() * slice;
            const struct mb_exec sx = {.work = w + 2 * tile,
                                       .work_size = slice - 2 * tile,
                                       .nthreads = 1,
                                       .l1d = x->l1d,
                                       .l2 = x->l2,
                                       .l3 = x->l3};
            const enum mb_status r = head(p, sm, b, (float *)w, (float *)(w + tile), &sx, ldq, ldk, ldv, ldo);
            if (r != MB_OK)
#pragma omp critical(mb_attention_onednn)
                st = r;
        }
        return st;
    }
    if (x->work_size < 2 * tile) return MB_ENOMEM;
    struct mb_exec sx = *x; /* the softmax gets what is left of the workspace, and the calls' threads */
    sx.work = (char *)x->work + 2 * tile;
    sx.work_size = x->work_size - 2 * tile;
    sx.nthreads = ct;
    omp_set_num_threads(ct);
    for (int64_t b = 0; b < nb; b++) {
        const enum mb_status r = head(p, sm, b, x->work, (float *)((char *)x->work + tile), &sx, ldq, ldk, ldv, ldo);
        if (r != MB_OK) return r;
    }
    return MB_OK;
}
