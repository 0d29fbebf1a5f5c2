/*
 * validate.c: references and derived tolerances (validate.h).
 *
 * GEMM is checked against OpenBLAS cblas_sgemm run on contiguous copies of the same operands (so any
 * stride, transpose or broadcast of the problem is honoured); element-wise, softmax and attention against
 * fp64 (attention's products through cblas_dgemm, still fp64). Every bound is first order in u = 2^-24.
 */
#include "validate.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MB_DENORM 0x1p-149 /* smallest fp32 subnormal: absolute error floor of one rounding near 0 */

static void *xalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "%s:%d: cannot allocate %zu bytes\n", __FILE__, __LINE__, n);
        exit(EXIT_FAILURE);
    }
    return p;
}

double mb_gamma(double n)
{
    return n * MB_U / (1.0 - n * MB_U);
}

/* A dot product of length K computed in fp32 in ANY order (blocked, FMA or not) is within gamma(K)*|a|.|b|
 * of the exact one (Higham, Accuracy and Stability, 3.1); alpha scaling and the bias epilogue add one
 * rounding each. The reference is fp32 OpenBLAS, bound the same way, so the two may differ by twice that. */
double mb_tol_gemm(int64_t K)
{
    return 2.0 * mb_gamma((double)K + 2.0);
}

/* Softmax y_j = e_j / sum e, e_j = exp(s_j - m), s_j = scale*x_j, all in fp32, |s| <= smax:
 *   s_j and m each carry u*smax, so d_j = s_j - m carries <= 4u*smax absolute (incl. its own rounding,
 *   |d| <= 2 smax), which exp turns into 4u*smax relative, plus the exp's own MB_EXP_ULPS*u;
 *   the sum of n positive terms adds gamma(n) relative; the division u. The terms' error enters both
 *   numerator and denominator (factor 2). An online (one-pass) softmax rescales its partial sum by
 *   exp(m_old - m_new) each time the running max rises; each rescale costs another exp argument error and
 *   exp and multiply rounding. Blockwise maxima rise no more often than elementwise ones; +2 covers the
 *   merge of per-thread partial rows. */
double mb_tol_softmax(int64_t n, double smax, int64_t rises)
{
    double per_exp = 4.0 * smax + MB_EXP_ULPS;
    return (2.0 * per_exp + 1.0) * MB_U + mb_gamma((double)n) + (double)(rises + 2) * (per_exp + 2.0) * MB_U;
}

/* ---- element comparison -------------------------------------------------------------------------- */

static void check_init(struct mb_check *c, int ndim)
{
    memset(c, 0, sizeof *c);
    c->ndim = ndim;
    c->err = -1.0;
}

/* ratio err/bound of the worst element so far; an out-of-bound element with bound 0 is infinitely bad */
static double ratio(double err, double bound)
{
    if (err <= bound) return bound > 0 ? err / bound : 0.0;
    return bound > 0 ? err / bound : INFINITY;
}

static void check_elem(struct mb_check *c, double got, double ref, double bound, const int64_t *idx)
{
    double err;
    c->n++;
    if (isnan(ref) || isnan(got))
        err = isnan(ref) && isnan(got) ? 0.0 : INFINITY;
    else if ((double)(float)ref == got)
        err = 0.0; /* exact, incl. the same infinity (fp32 overflow) */
    else
        err = fabs(got - ref); /* inf when exactly one side is infinite */
    bool bad = !(err <= bound);
    if (bad) c->nbad++;
    if (c->err < 0 || ratio(err, bound) > ratio(c->err, c->bound)) {
        c->err = err;
        c->bound = bound;
        c->got = got;
        c->ref = ref;
        memcpy(c->index, idx, sizeof(int64_t) * (size_t)c->ndim);
    }
}

void mb_check_message(const struct mb_check *c, char *msg, size_t msgsz)
{
    char ix[160] = "";
    size_t o = 0;
    for (int i = 0; i < c->ndim && o < sizeof ix; i++)
        o += (size_t)snprintf(ix + o, sizeof ix - o, "%s%lld", i ? "," : "", (long long)c->index[i]);
    snprintf(msg, msgsz, "validation failed: max error %.3g at [%s] (tol %.3g; got %.9g, ref %.9g; %lld of %lld out)",
             c->err, ix, c->bound, c->got, c->ref, (long long)c->nbad, (long long)c->n);
}

static bool check_done(const struct mb_check *c, char *msg, size_t msgsz)
{
    if (c->nbad == 0) return true;
    mb_check_message(c, msg, msgsz);
    return false;
}

/* flat batch index -> multi-index over sizes[0..n) (row-major, as mb_batch_offset) */
static void batch_index(int n, const int64_t *sizes, int64_t b, int64_t *idx)
{
    for (int i = n - 1; i >= 0; i--) {
        idx[i] = b % sizes[i];
        b /= sizes[i];
    }
}

/* row-major odometer over an index space */
static void next_index(int ndim, const int64_t *shape, int64_t *idx)
{
    for (int d = ndim - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) return;
        idx[d] = 0;
    }
}

/* ---- GEMM ---------------------------------------------------------------------------------------- */

/* rows x cols strided matrix -> contiguous copy and |copy| */
static void gather(const float *src, int64_t rows, int64_t cols, int64_t rs, int64_t cs, float *dst, float *dabs)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            float v = src[i * rs + j * cs];
            dst[i * cols + j] = v;
            dabs[i * cols + j] = fabsf(v);
        }
}

/* The reference runs on one OpenBLAS thread: with more, OpenBLAS's workers keep spinning (about 0.1 s,
 * its THREAD_TIMEOUT) after the call, into the timed loop that follows validation, where they steal the
 * second core from the kernel under test and inflate its CPU time. */
static void reference_threads(void) { openblas_set_num_threads(1); }

bool mb_validate_gemm(const struct mb_gemm *p, char *msg, size_t msgsz)
{
    reference_threads();
    if (p->beta != 0.0f) {
        snprintf(msg, msgsz, "validation: beta != 0 is not checkable after the run (C's old values are gone)");
        return false;
    }
    const int64_t M = p->M, N = p->N, K = p->K, nb = mb_batch_count(p->nbatch, p->batch);
    float *a = xalloc(sizeof(float) * (size_t)(M * K)), *aa = xalloc(sizeof(float) * (size_t)(M * K));
    float *b = xalloc(sizeof(float) * (size_t)(K * N)), *ba = xalloc(sizeof(float) * (size_t)(K * N));
    float *c = xalloc(sizeof(float) * (size_t)(M * N)), *mag = xalloc(sizeof(float) * (size_t)(M * N));
    const double tol = mb_tol_gemm(K), floor = 2.0 * ((double)K + 2.0) * MB_DENORM;
    struct mb_check chk;
    check_init(&chk, p->nbatch + 2);
    int64_t idx[MB_MAX_BATCH + 2];
    for (int64_t bi = 0; bi < nb; bi++) {
        gather(p->A + mb_batch_offset(p->nbatch, p->batch, p->a_bs, bi), M, K, p->a_rs, p->a_cs, a, aa);
        gather(p->B + mb_batch_offset(p->nbatch, p->batch, p->b_bs, bi), K, N, p->b_rs, p->b_cs, b, ba);
        if (M > 0 && N > 0 && K > 0) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, a, (int)K, b, (int)N,
                        0.0f, c, (int)N);
            /* fp32 |A|.|B| is itself within gamma(K) of exact: a (1 + 6e-8 K) factor on the bound, negligible */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, aa, (int)K, ba, (int)N,
                        0.0f, mag, (int)N);
        } else {
            memset(c, 0, sizeof(float) * (size_t)(M * N));
            memset(mag, 0, sizeof(float) * (size_t)(M * N));
        }
        const float *C = p->C + mb_batch_offset(p->nbatch, p->batch, p->c_bs, bi);
        batch_index(p->nbatch, p->batch, bi, idx);
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double bias = p->bias ? p->bias[n * p->bias_s] : 0.0;
                double ref = (double)p->alpha * c[m * N + n] + bias;
                double bound = tol * (fabs((double)p->alpha) * mag[m * N + n] + fabs(bias)) + floor;
                idx[p->nbatch] = m;
                idx[p->nbatch + 1] = n;
                check_elem(&chk, C[m * p->c_rs + n * p->c_cs], ref, bound, idx);
            }
    }
    free(a), free(aa), free(b), free(ba), free(c), free(mag);
    return check_done(&chk, msg, msgsz);
}

/* ---- BINARY -------------------------------------------------------------------------------------- */

/* z = fl32(x op y) is correctly rounded (IEEE, the contract: no fast-math): within u|exact|; the fp64
 * reference is within 2^-53|exact|. Their distance relative to |ref|: u + 2^-52 covers both. */
bool mb_validate_binary(const struct mb_binary *p, char *msg, size_t msgsz)
{
    int64_t total = 1, idx[MB_MAX_DIMS] = {0};
    for (int d = 0; d < p->ndim; d++) total *= p->shape[d];
    struct mb_check chk;
    check_init(&chk, p->ndim);
    for (int64_t e = 0; e < total; e++) {
        int64_t xo = 0, yo = 0, zo = 0;
        for (int d = 0; d < p->ndim; d++) {
            xo += idx[d] * p->xs[d];
            yo += idx[d] * p->ys[d];
            zo += idx[d] * p->zs[d];
        }
        double x = p->x[xo], y = p->y[yo], ref = 0.0;
        switch (p->op) {
        case MB_ADD: ref = x + y; break;
        case MB_SUB: ref = x - y; break;
        case MB_MUL: ref = x * y; break;
        case MB_DIV: ref = x / y; break;
        }
        check_elem(&chk, p->z[zo], ref, (MB_U + 0x1p-52) * fabs(ref) + MB_DENORM, idx);
        next_index(p->ndim, p->shape, idx);
    }
    return check_done(&chk, msg, msgsz);
}

/* ---- COPY: moves values, so the result is exact ------------------------------------------------- */

bool mb_validate_copy(const struct mb_copy *p, char *msg, size_t msgsz)
{
    if (p->accumulate) {
        snprintf(msg, msgsz, "validation: accumulating copies are not checkable after the run (y's old values)");
        return false;
    }
    int64_t total = 1, idx[MB_MAX_DIMS] = {0};
    for (int d = 0; d < p->ndim; d++) total *= p->shape[d];
    struct mb_check chk;
    check_init(&chk, p->ndim);
    for (int64_t e = 0; e < total; e++) {
        int64_t xo = 0, yo = 0;
        for (int d = 0; d < p->ndim; d++) xo += idx[d] * p->xs[d], yo += idx[d] * p->ys[d];
        check_elem(&chk, p->y[yo], p->x[xo], 0.0, idx);
        next_index(p->ndim, p->shape, idx);
    }
    return check_done(&chk, msg, msgsz);
}

/* ---- SOFTMAX ------------------------------------------------------------------------------------- */

/* fp64 softmax of the masked scores s[0..n) (-inf = masked) into y; returns the running-max rises and
 * max |s| over unmasked entries. An all-masked row gives NaN, as the contract says. */
static int64_t softmax_ref(const double *s, int64_t n, double *y, double *smax)
{
    double m = -INFINITY, sum = 0.0, amax = 0.0;
    int64_t rises = 0;
    for (int64_t j = 0; j < n; j++) {
        if (s[j] > m) {
            if (m != -INFINITY) rises++;
            m = s[j];
        }
        if (s[j] != -INFINITY && fabs(s[j]) > amax) amax = fabs(s[j]);
    }
    for (int64_t j = 0; j < n; j++) sum += (y[j] = exp(s[j] - m));
    for (int64_t j = 0; j < n; j++) y[j] /= sum;
    *smax = amax;
    return rises;
}

bool mb_validate_softmax(const struct mb_softmax *p, char *msg, size_t msgsz)
{
    int64_t rows = 1, idx[MB_MAX_DIMS + 1] = {0};
    for (int d = 0; d < p->ndim; d++) rows *= p->shape[d];
    double *s = xalloc(sizeof(double) * (size_t)(p->n + 1)), *y = xalloc(sizeof(double) * (size_t)(p->n + 1));
    struct mb_check chk;
    check_init(&chk, p->ndim + 1);
    for (int64_t r = 0; r < rows; r++) {
        int64_t xo = 0, yo = 0, mo = 0, qi = p->ndim ? idx[p->ndim - 1] : 0;
        for (int d = 0; d < p->ndim; d++) {
            xo += idx[d] * p->xs[d];
            yo += idx[d] * p->ys[d];
            mo += idx[d] * p->ms[d];
        }
        for (int64_t j = 0; j < p->n; j++) {
            bool drop = (p->mask && p->mask[mo + j * p->m_ns] == 0.0f) || (p->causal && j > qi);
            s[j] = drop ? -INFINITY : (double)p->scale * p->x[xo + j * p->x_ns];
        }
        double smax;
        int64_t rises = softmax_ref(s, p->n, y, &smax);
        double tol = mb_tol_softmax(p->n, smax, rises);
        for (int64_t j = 0; j < p->n; j++) {
            idx[p->ndim] = j;
            check_elem(&chk, p->y[yo + j * p->y_ns], y[j], tol * fabs(y[j]) + MB_DENORM, idx);
        }
        next_index(p->ndim, p->shape, idx);
    }
    free(s), free(y);
    return check_done(&chk, msg, msgsz);
}

/* ---- ATTENTION ----------------------------------------------------------------------------------- */

static void gather_d(const float *src, int64_t rows, int64_t cols, int64_t rs, int64_t cs, double *dst, double *dabs)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            double v = src[i * rs + j * cs];
            dst[i * cols + j] = v;
            dabs[i * cols + j] = fabs(v);
        }
}

/* C (m x n) = A (m x k) . B^T or B, in fp64; zero when k == 0 */
static void dgemm(bool bt, int64_t m, int64_t n, int64_t k, const double *A, const double *B, double *C)
{
    if (m == 0 || n == 0) return;
    if (k == 0) {
        memset(C, 0, sizeof(double) * (size_t)(m * n));
        return;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, bt ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0, A, (int)k, B,
                bt ? (int)k : (int)n, 0.0, C, (int)n);
}

/* Attention bound, per query row i, on top of the softmax one (mb_tol_softmax):
 *   each fp32 score scale*(q_i.k_j) carries |scale| gamma(D) (|q_i|.|k_j|) + u|s_ij| absolute (E_i: the max
 *   over j), which exp turns into relative error of e_ij: 2 E_i (the score and the max), doubled as it
 *   enters numerator and denominator, plus E_i per online rescale (rises + 2): (rises + 6) E_i;
 *   O_ie = sum_j p_ij v_je in fp32 (normalised before or after, flash style) adds gamma(Tk), and the
 *   relative error of the p_ij carries over: |O - O_ref| <= (r_p + gamma(Tk)) sum_j p_ij |v_je|. */
bool mb_validate_attention(const struct mb_attention *p, char *msg, size_t msgsz)
{
    reference_threads();
    const int64_t Tq = p->Tq, Tk = p->Tk, D = p->D, Dv = p->Dv, nb = mb_batch_count(p->nbatch, p->batch);
    double *q = xalloc(sizeof(double) * (size_t)(Tq * D)), *qa = xalloc(sizeof(double) * (size_t)(Tq * D));
    double *k = xalloc(sizeof(double) * (size_t)(Tk * D)), *ka = xalloc(sizeof(double) * (size_t)(Tk * D));
    double *v = xalloc(sizeof(double) * (size_t)(Tk * Dv)), *va = xalloc(sizeof(double) * (size_t)(Tk * Dv));
    double *s = xalloc(sizeof(double) * (size_t)(Tq * Tk)), *sa = xalloc(sizeof(double) * (size_t)(Tq * Tk));
    double *o = xalloc(sizeof(double) * (size_t)(Tq * Dv)), *oa = xalloc(sizeof(double) * (size_t)(Tq * Dv));
    double *rel = xalloc(sizeof(double) * (size_t)(Tq + 1)), *row = xalloc(sizeof(double) * (size_t)(Tk + 1));
    const double gD = mb_gamma((double)D), gT = mb_gamma((double)Tk), sc = p->scale;
    struct mb_check chk, wchk;
    check_init(&chk, p->nbatch + 2);
    check_init(&wchk, p->nbatch + 2);
    int64_t idx[MB_MAX_BATCH + 2];
    for (int64_t bi = 0; bi < nb; bi++) {
        gather_d(p->q + mb_batch_offset(p->nbatch, p->batch, p->q_bs, bi), Tq, D, p->q_ts, p->q_ds, q, qa);
        gather_d(p->k + mb_batch_offset(p->nbatch, p->batch, p->k_bs, bi), Tk, D, p->k_ts, p->k_ds, k, ka);
        gather_d(p->v + mb_batch_offset(p->nbatch, p->batch, p->v_bs, bi), Tk, Dv, p->v_ts, p->v_ds, v, va);
        dgemm(true, Tq, Tk, D, q, k, s);
        dgemm(true, Tq, Tk, D, qa, ka, sa);
        const float *mask = p->mask ? p->mask + mb_batch_offset(p->nbatch, p->batch, p->m_bs, bi) : NULL;
        const float *W = p->w ? p->w + mb_batch_offset(p->nbatch, p->batch, p->w_bs, bi) : NULL;
        batch_index(p->nbatch, p->batch, bi, idx);
        for (int64_t i = 0; i < Tq; i++) {
            double E = 0.0;
            for (int64_t j = 0; j < Tk; j++) {
                bool drop = (mask && mask[i * p->m_qs + j * p->m_ks] == 0.0f) || (p->causal && j > i);
                row[j] = drop ? -INFINITY : sc * s[i * Tk + j];
                if (!drop) E = fmax(E, fabs(sc) * gD * sa[i * Tk + j] + MB_U * fabs(row[j]));
            }
            double smax;
            int64_t rises = softmax_ref(row, Tk, s + i * Tk, &smax); /* s row i now holds p_ij */
            rel[i] = mb_tol_softmax(Tk, smax, rises) + (double)(rises + 6) * E;
            if (W)
                for (int64_t j = 0; j < Tk; j++) {
                    idx[p->nbatch] = i;
                    idx[p->nbatch + 1] = j;
                    double pij = s[i * Tk + j];
                    check_elem(&wchk, W[i * p->w_qs + j * p->w_ks], pij, rel[i] * fabs(pij) + MB_DENORM, idx);
                }
        }
        dgemm(false, Tq, Dv, Tk, s, v, o);
        dgemm(false, Tq, Dv, Tk, s, va, oa);
        const float *O = p->o + mb_batch_offset(p->nbatch, p->batch, p->o_bs, bi);
        for (int64_t i = 0; i < Tq; i++)
            for (int64_t e = 0; e < Dv; e++) {
                idx[p->nbatch] = i;
                idx[p->nbatch + 1] = e;
                double bound = (rel[i] + gT) * oa[i * Dv + e] + (double)(Tk + 1) * MB_DENORM;
                check_elem(&chk, O[i * p->o_ts + e * p->o_ds], o[i * Dv + e], bound, idx);
            }
    }
    free(q), free(qa), free(k), free(ka), free(v), free(va), free(s), free(sa), free(o), free(oa), free(rel), free(row);
    if (!check_done(&chk, msg, msgsz)) return false;
    if (!check_done(&wchk, msg, msgsz)) {
        size_t len = strlen(msg);
        snprintf(msg + len, msgsz - len, " in the weights");
        return false;
    }
    return true;
}
