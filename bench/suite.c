/*
 * suite.c: the default suite (bench.h: mb_suite_instances) = ONE op table x the registry.
 *
 * Each op row names its kernel kind, argument names, shape list, builder and FLOP/byte counts. Every
 * variant of that kind in mb_kernels[] (kernels.def) gets every shape, at threads:1 and, when the variant
 * is MB_FLAG_THREADED, also at all cores; so a new line in kernels.def is benchmarked with no edit here.
 * Names: <op>/<variant>/<Arg>:<value>/.../threads:<n>; family = <op>/<variant>.
 *
 * Problems are the canonical kernel structs built directly (not through ops/): inputs uniform in [-1, 1)
 * from a seed of the op and shape (every variant sees the same data), buffers 64-byte aligned, outputs
 * pre-filled with NaN so an element a kernel forgets to write fails validation.
 */
#include "bench.h"
#include "ops.h"
#include "validate.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <valgrind/callgrind.h>
#include <valgrind/valgrind.h>

#define MB_ARGS_MAX   6
#define MB_SHAPES_MAX 64

/* Bounds that keep `make bench` within its time budget: the slow portable variants skip the largest
 * problems (FLOPs per iteration; one iteration plus the validation run must stay around a second). */
#define MB_NAIVE_MAX_FLOPS  0x1p29 /* naive: GEMM <= 512^3, attention BH*S^2 <= 2^21 */
#define MB_SCALAR_MAX_FLOPS 0x1p32 /* other variants without SIMD (tiled): GEMM <= 1024^3 */
#define MB_QUICK_MAX_FLOPS  0x1p26 /* --mb_quick (CI smoke runs) */
#define MB_QUICK_MAX_BYTES  0x1p25

struct mb_problem {
    union {
        struct mb_gemm gemm;
        struct mb_binary binary;
        struct mb_softmax softmax;
        struct mb_attention attention;
        struct mb_copy copy;
    } p;
    struct mb_exec exec;
    int nbuf;
    float *buf[6];
    uint64_t rng;
};

struct mb_op {
    const char *name; /* first name component */
    enum mb_kind kind;
    enum mb_binop binop; /* BINARY only */
    int nargs;
    const char *argn[MB_ARGS_MAX];
    int (*shapes)(int64_t (*out)[MB_ARGS_MAX]); /* the argument tuples; returns their count */
    void (*build)(struct mb_problem *pb, const struct mb_op *op, const int64_t *a);
    double (*flops)(const struct mb_op *op, const int64_t *a); /* per iteration (DESIGN: measuring) */
    double (*bytes)(const struct mb_op *op, const int64_t *a); /* compulsory traffic per iteration */
};

/* suite-owned state of one instance: its op row and arguments; the problem exists between prepare and release */
struct mb_slot {
    const struct mb_op *op;
    int64_t a[MB_ARGS_MAX];
    struct mb_problem *pb;
    long long sim_iters;
};

/* ---- buffers ------------------------------------------------------------------------------------- */

static uint64_t next_u64(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* realloc(p, n), zeroing what is new when p is NULL; dies on failure (an environment failure) */
static void *xrealloc(void *p, size_t n)
{
    void *q = p ? realloc(p, n) : calloc(1, n);
    if (!q) {
        fprintf(stderr, "%s:%d: cannot allocate %zu bytes\n", __FILE__, __LINE__, n);
        exit(EXIT_FAILURE);
    }
    return q;
}

/* n floats, 64-byte aligned, uniform in [-1, 1) (random) or NaN (an output) */
static float *fbuf(struct mb_problem *pb, int64_t n, bool random)
{
    size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (!p || pb->nbuf == (int)(sizeof pb->buf / sizeof pb->buf[0])) {
        fprintf(stderr, "%s:%d: cannot allocate %zu bytes\n", __FILE__, __LINE__, bytes);
        exit(EXIT_FAILURE);
    }
    pb->buf[pb->nbuf++] = p;
    for (int64_t i = 0; i < n; i++) p[i] = random ? (float)((double)(next_u64(&pb->rng) >> 40) * 0x1p-23 - 1.0) : NAN;
    return p;
}

/* ---- GEMM ops: gemm, bgemm, bmm, linear ---------------------------------------------------------- */

/* C[b] (MxN) = A[b] (MxK) @ B[b] (KxN) (+ bias); nb = 0: no batch dim; bcast: B shared by the batch
 * (stride 0); wt: B given as W (NxK, row-major) transposed by strides, as linear's weight */
static void gemm_setup(struct mb_problem *pb, int64_t nb, int64_t M, int64_t N, int64_t K, bool bcast, bool wt,
                       bool bias)
{
    struct mb_gemm *g = &pb->p.gemm;
    int64_t n = nb > 0 ? nb : 1;
    g->M = M, g->N = N, g->K = K, g->alpha = 1.0f, g->beta = 0.0f;
    if (nb > 0) g->nbatch = 1, g->batch[0] = nb;
    g->A = fbuf(pb, n * M * K, true), g->a_rs = K, g->a_cs = 1, g->a_bs[0] = M * K;
    g->B = fbuf(pb, (bcast ? 1 : n) * K * N, true), g->b_bs[0] = bcast ? 0 : K * N;
    g->b_rs = wt ? 1 : N, g->b_cs = wt ? K : 1;
    if (bias) g->bias = fbuf(pb, N, true), g->bias_s = 1;
    g->C = fbuf(pb, n * M * N, false), g->c_rs = N, g->c_cs = 1, g->c_bs[0] = M * N;
}

/* the GEMM ops' arguments: gemm M N K | bgemm B M N K bcast | bmm B M N K | linear M N K bias */
struct mb_gemm_dims {
    int64_t nb, M, N, K; /* nb = 0: no batch dim */
    bool bcast, wt, bias;
};
static struct mb_gemm_dims gemm_dims(const struct mb_op *op, const int64_t *a)
{
    bool batched = !strcmp(op->argn[0], "B"), linear = !strcmp(op->name, "linear");
    const int64_t *d = a + batched;
    return (struct mb_gemm_dims){batched ? a[0] : 0, d[0], d[1], d[2], op->nargs == 5 && a[4], linear, linear && a[3]};
}

static void build_gemm(struct mb_problem *pb, const struct mb_op *op, const int64_t *a)
{
    struct mb_gemm_dims g = gemm_dims(op, a);
    gemm_setup(pb, g.nb, g.M, g.N, g.K, g.bcast, g.wt, g.bias);
}

static double flops_gemm(const struct mb_op *op, const int64_t *a)
{
    struct mb_gemm_dims g = gemm_dims(op, a);
    return 2.0 * (double)(g.nb ? g.nb : 1) * (double)g.M * (double)g.N * (double)g.K;
}

static double bytes_gemm(const struct mb_op *op, const int64_t *a)
{
    struct mb_gemm_dims g = gemm_dims(op, a);
    double nb = (double)(g.nb ? g.nb : 1), M = (double)g.M, N = (double)g.N, K = (double)g.K;
    return 4.0 * (nb * M * K + (g.bcast ? 1.0 : nb) * K * N + nb * M * N + (g.bias ? N : 0.0));
}

static int shapes_gemm(int64_t (*out)[MB_ARGS_MAX])
{
    int n = 0;
    for (int64_t s = 64; s <= 2048; s *= 2) out[n][0] = out[n][1] = out[n][2] = s, n++;
    return n;
}

/* the seed shapes of batched GEMM: B x (10x5 @ 5x8); B x (20x10) @ (10x5) shared weight; B x 64^3;
 * B x (128x64 @ 64x128) -- each for B = 1, 2, 4, ..., 256 */
static int shapes_bgemm(int64_t (*out)[MB_ARGS_MAX])
{
    static const int64_t seeds[][4] = {{10, 8, 5, 0}, {20, 5, 10, 1}, {64, 64, 64, 0}, {128, 128, 64, 0}};
    int n = 0;
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++)
        for (int64_t b = 1; b <= 256; b *= 2, n++) {
            out[n][0] = b;
            memcpy(&out[n][1], seeds[s], sizeof seeds[s]);
        }
    return n;
}

static int shapes_bmm(int64_t (*out)[MB_ARGS_MAX]) /* torch.bmm (32,10,64) @ (32,64,20) */
{
    static const int64_t s[] = {32, 10, 20, 64};
    memcpy(out[0], s, sizeof s);
    return 1;
}

static int shapes_linear(int64_t (*out)[MB_ARGS_MAX]) /* x (256,512) @ W(1024,512)^T + b: 134M multiply-adds */
{
    static const int64_t s[] = {256, 1024, 512, 1};
    memcpy(out[0], s, sizeof s);
    return 1;
}

/* ---- BINARY ops: add, mul ------------------------------------------------------------------------ */

/* broadcast patterns as the ops layer lowers them (contiguous runs collapsed; y stride 0 = broadcast), then
 * any --mb_shape adds (uncollapsed: the kernels take any rank) */
#define MB_BSHAPES_MAX (4 + MB_SHAPES_MAX)
static struct mb_bshape {
    char label[64];
    int ndim;
    int64_t shape[MB_MAX_DIMS], ys[MB_MAX_DIMS];
} bshapes[MB_BSHAPES_MAX] = {
    {"32x10+10", 2, {32, 10}, {0, 1}},
    {"32x20x10+20x1", 3, {32, 20, 10}, {0, 1, 0}},
    {"4096x4096+4096x4096", 1, {4096 * 4096}, {1}}, /* 64 MiB operands */
    {"4096x4096+4096", 2, {4096, 4096}, {0, 1}},
};
static const int nbshapes_default = 4;
static int nbshapes = 4;

static int shapes_binary(int64_t (*out)[MB_ARGS_MAX])
{
    for (int i = 0; i < nbshapes_default; i++) out[i][0] = i;
    return nbshapes_default;
}

static int64_t bshape_numel(const struct mb_bshape *s, bool y)
{
    int64_t n = 1;
    for (int d = 0; d < s->ndim; d++) n *= y && s->ys[d] == 0 ? 1 : s->shape[d];
    return n;
}

static void build_binary(struct mb_problem *pb, const struct mb_op *op, const int64_t *a)
{
    const struct mb_bshape *s = &bshapes[a[0]];
    struct mb_binary *b = &pb->p.binary;
    b->op = op->binop, b->ndim = s->ndim;
    memcpy(b->shape, s->shape, sizeof s->shape);
    memcpy(b->ys, s->ys, sizeof s->ys);
    for (int d = s->ndim - 1, st = 1; d >= 0; st *= (int)s->shape[d], d--) b->xs[d] = b->zs[d] = st;
    b->x = fbuf(pb, bshape_numel(s, false), true);
    b->y = fbuf(pb, bshape_numel(s, true), true);
    b->z = fbuf(pb, bshape_numel(s, false), false);
}

static double flops_binary(const struct mb_op *op, const int64_t *a)
{
    (void)op;
    return (double)bshape_numel(&bshapes[a[0]], false);
}
static double bytes_binary(const struct mb_op *op, const int64_t *a)
{
    (void)op;
    return 4.0 * (2.0 * (double)bshape_numel(&bshapes[a[0]], false) + (double)bshape_numel(&bshapes[a[0]], true));
}

/* ---- SOFTMAX: rows R x length N, last axis --------------------------------------------------------- */

static int shapes_softmax(int64_t (*out)[MB_ARGS_MAX])
{
    static const int64_t s[][2] = {{32, 10}, {4096, 1024}};
    memcpy(out, s, sizeof s[0]), memcpy(out[1], s[1], sizeof s[1]);
    return 2;
}

static void build_softmax(struct mb_problem *pb, const struct mb_op *op, const int64_t *a)
{
    (void)op;
    struct mb_softmax *s = &pb->p.softmax;
    s->ndim = 1, s->shape[0] = a[0], s->n = a[1], s->scale = 1.0f;
    s->x = fbuf(pb, a[0] * a[1], true), s->xs[0] = a[1], s->x_ns = 1;
    s->y = fbuf(pb, a[0] * a[1], false), s->ys[0] = a[1], s->y_ns = 1;
}

/* per element: scaled score and max compare, subtract, exp (counted as 1), sum, divide */
static double flops_softmax(const struct mb_op *op, const int64_t *a)
{
    (void)op;
    return 5.0 * (double)a[0] * (double)a[1];
}
static double bytes_softmax(const struct mb_op *op, const int64_t *a)
{
    (void)op;
    return 4.0 * 2.0 * (double)a[0] * (double)a[1];
}

/* ---- ATTENTION: BH heads x (S x D), self-attention, causal or not ---------------------------------- */

static int shapes_attention(int64_t (*out)[MB_ARGS_MAX])
{
    /* BH 32 x S 1024 x d 64 is the headline shape of the attention comparison (README) */
    static const int64_t bh[] = {1, 4, 16, 32, 64}, seq[] = {128, 512, 1024};
    int n = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++)
            for (int c = 0; c < 2; c++, n++) out[n][0] = bh[i], out[n][1] = seq[j], out[n][2] = 64, out[n][3] = c;
    return n;
}

static void build_attention(struct mb_problem *pb, const struct mb_op *op, const int64_t *a)
{
    (void)op;
    struct mb_attention *t = &pb->p.attention;
    const int64_t BH = a[0], S = a[1], D = a[2];
    t->Tq = t->Tk = S, t->D = t->Dv = D, t->nbatch = 1, t->batch[0] = BH;
    t->scale = 1.0f / sqrtf((float)D), t->causal = (int)a[3];
    t->q = fbuf(pb, BH * S * D, true), t->q_bs[0] = S * D, t->q_ts = D, t->q_ds = 1;
    t->k = fbuf(pb, BH * S * D, true), t->k_bs[0] = S * D, t->k_ts = D, t->k_ds = 1;
    t->v = fbuf(pb, BH * S * D, true), t->v_bs[0] = S * D, t->v_ts = D, t->v_ds = 1;
    t->o = fbuf(pb, BH * S * D, false), t->o_bs[0] = S * D, t->o_ts = D, t->o_ds = 1;
}

/* DESIGN: 4 Tq Tk D per head (QK^T and PV), half when causal */
static double flops_attention(const struct mb_op *op, const int64_t *a)
{
    (void)op;
    return 4.0 * (double)a[0] * (double)a[1] * (double)a[1] * (double)a[2] * (a[3] ? 0.5 : 1.0);
}
static double bytes_attention(const struct mb_op *op, const int64_t *a)
{
    (void)op;
    return 4.0 * 4.0 * (double)a[0] * (double)a[1] * (double)a[2];
}

/* ---- COPY: transpose (what permute/einsum lower to) ---------------------------------------------- */

static int shapes_transpose(int64_t (*out)[MB_ARGS_MAX])
{
    out[0][0] = 32, out[0][1] = 10, out[1][0] = out[1][1] = 4096;
    return 2;
}

static void build_transpose(struct mb_problem *pb, const struct mb_op *op, const int64_t *a)
{
    (void)op;
    struct mb_copy *c = &pb->p.copy;
    c->ndim = 2, c->shape[0] = a[0], c->shape[1] = a[1];
    c->x = fbuf(pb, a[0] * a[1], true), c->xs[0] = a[1], c->xs[1] = 1;
    c->y = fbuf(pb, a[0] * a[1], false), c->ys[0] = 1, c->ys[1] = a[0];
}

static double flops_none(const struct mb_op *op, const int64_t *a)
{
    return (void)op, (void)a, 0.0;
}
static double bytes_transpose(const struct mb_op *op, const int64_t *a)
{
    (void)op;
    return 4.0 * 2.0 * (double)a[0] * (double)a[1];
}

/* ---- THE op table ------------------------------------------------------------------------------- */

/* clang-format off */
static const struct mb_op ops_table[] = {
    {"gemm", MB_KIND_GEMM, 0, 3, {"M", "N", "K"}, shapes_gemm, build_gemm, flops_gemm, bytes_gemm},
    {"bgemm", MB_KIND_GEMM, 0, 5, {"B", "M", "N", "K", "bcast"}, shapes_bgemm, build_gemm, flops_gemm, bytes_gemm},
    {"bmm", MB_KIND_GEMM, 0, 4, {"B", "M", "N", "K"}, shapes_bmm, build_gemm, flops_gemm, bytes_gemm},
    {"linear", MB_KIND_GEMM, 0, 4, {"M", "N", "K", "bias"}, shapes_linear, build_gemm, flops_gemm, bytes_gemm},
    {"add", MB_KIND_BINARY, MB_ADD, 1, {"shape"}, shapes_binary, build_binary, flops_binary, bytes_binary},
    {"mul", MB_KIND_BINARY, MB_MUL, 1, {"shape"}, shapes_binary, build_binary, flops_binary, bytes_binary},
    {"softmax", MB_KIND_SOFTMAX, 0, 2, {"R", "N"}, shapes_softmax, build_softmax, flops_softmax, bytes_softmax},
    {"attention", MB_KIND_ATTENTION, 0, 4, {"BH", "S", "D", "causal"}, shapes_attention, build_attention,
        flops_attention, bytes_attention},
    {"transpose", MB_KIND_COPY, 0, 2, {"M", "N"}, shapes_transpose, build_transpose, flops_none, bytes_transpose},
};
/* clang-format on */

/* ---- instances ------------------------------------------------------------------------------------ */

static enum mb_status call(const struct mb_kernel *k, struct mb_problem *pb)
{
    switch (k->kind) {
    case MB_KIND_GEMM: return k->fn.GEMM(&pb->p.gemm, &pb->exec);
    case MB_KIND_BINARY: return k->fn.BINARY(&pb->p.binary, &pb->exec);
    case MB_KIND_SOFTMAX: return k->fn.SOFTMAX(&pb->p.softmax, &pb->exec);
    case MB_KIND_ATTENTION: return k->fn.ATTENTION(&pb->p.attention, &pb->exec);
    case MB_KIND_COPY: return k->fn.COPY(&pb->p.copy, &pb->exec);
    case MB_KIND_COUNT: break;
    }
    return MB_EINVAL;
}

static bool validate(const struct mb_kernel *k, const struct mb_problem *pb, char *msg, size_t msgsz)
{
    switch (k->kind) {
    case MB_KIND_GEMM: return mb_validate_gemm(&pb->p.gemm, msg, msgsz);
    case MB_KIND_BINARY: return mb_validate_binary(&pb->p.binary, msg, msgsz);
    case MB_KIND_SOFTMAX: return mb_validate_softmax(&pb->p.softmax, msg, msgsz);
    case MB_KIND_ATTENTION: return mb_validate_attention(&pb->p.attention, msg, msgsz);
    case MB_KIND_COPY: return mb_validate_copy(&pb->p.copy, msg, msgsz);
    case MB_KIND_COUNT: break;
    }
    return false;
}

static void release(struct mb_instance *in)
{
    struct mb_slot *s = in->state;
    if (s->sim_iters) { /* bench-sim divides the collected counts by this */
        fprintf(stderr, "matbench-sim: %s collected_iterations=%lld\n", in->name, s->sim_iters);
        s->sim_iters = 0;
    }
    if (!s->pb) return;
    for (int i = 0; i < s->pb->nbuf; i++) free(s->pb->buf[i]);
    mb_exec_free(&s->pb->exec);
    free(s->pb);
    s->pb = NULL;
}

/* "skipped: CPU lacks avx512 (MB_NEED_AVX512)" for the first unmet need; with MB_ISA set, the cap may be
 * the reason rather than the CPU */
static void unmet_message(const struct mb_kernel *k, char *msg, size_t msgsz)
{
    static const struct {
        unsigned bit;
        const char *what, *flag;
    } needs[] = {{MB_NEED_AVX512, "avx512", "MB_NEED_AVX512"},
                 {MB_NEED_AVX2, "avx2+fma", "MB_NEED_AVX2"},
                 {MB_NEED_NEON, "neon", "MB_NEED_NEON"}};
    unsigned missing = k->needs & MB_NEED_MASK & ~mb_cpu_features();
    const char *cap = getenv("MB_ISA");
    for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++)
        if (missing & needs[i].bit) {
            bool capped = cap && *cap;
            snprintf(msg, msgsz, "skipped: %s %s (%s%s%s%s)", capped ? "ISA capped, no" : "CPU lacks", needs[i].what,
                     needs[i].flag, needs[i].bit == MB_NEED_AVX512 && RUNNING_ON_VALGRIND ? "; valgrind hides it" : "",
                     capped ? "; MB_ISA=" : "", capped ? cap : "");
            return;
        }
    if (missing & MB_NEED_GPU)
        snprintf(msg, msgsz, "skipped: no GPU (MB_NEED_GPU)");
    else
        snprintf(msg, msgsz, "skipped: this machine cannot run %s", k->variant);
}

/* the ceilings of pct_peak: the peak of the kernel's ISA (peers: the best the CPU has; portable kernels: the
 * baseline ISA they are compiled for) at its thread count */
static void set_peaks(struct mb_instance *in)
{
    const struct mb_peak *p = mb_peak_get();
    unsigned n = in->kernel->needs;
    const char *isa = n & MB_NEED_AVX512 ? "avx512"
                      : n & MB_NEED_AVX2 ? "avx2"
                      : n & MB_NEED_NEON ? "neon"
                      : n & MB_FLAG_PEER ? (p->n ? p->isa[0] : "")
                                         : (p->n ? p->isa[p->n - 1] : ""); /* the baseline ISA comes last */
    int t = in->threads > 1;
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->isa[i], isa)) in->peak_flops = p->gflops[i][t] * 1e9;
    /* the triad bounds traffic from memory; a problem that fits in a core's L2 streams from cache, whose
     * bandwidth is not measured: no memory roofline then (pct_peak against the compute peak alone) */
    int64_t l1d, l2, l3;
    mb_machine_caches(&l1d, &l2, &l3);
    in->peak_bw = in->bytes > (double)l2 ? p->triad_gbs[t] * 1e9 : 0.0;
}

static bool prepare(struct mb_instance *in, char *msg, size_t msgsz)
{
    struct mb_slot *s = in->state;
    const struct mb_kernel *k = in->kernel;
    if (!mb_kernel_available(k)) {
        unmet_message(k, msg, msgsz);
        return false;
    }
    set_peaks(in);
    release(in);
    /* bench-sim starts callgrind with --instr-atstart=no (start-up runs ~3x faster uninstrumented);
     * instrument from here so the run-once and validation warm the simulated caches as on hardware */
    if (mb_opts.sim) CALLGRIND_START_INSTRUMENTATION;
    struct mb_problem *pb = s->pb = xrealloc(NULL, sizeof *pb);
    pb->rng = 0x6d62u; /* seed: op and shape, not the variant, so every variant computes the same problem */
    for (const char *c = s->op->name; *c; c++) pb->rng = pb->rng * 31 + (unsigned char)*c;
    for (int i = 0; i < s->op->nargs; i++) pb->rng = pb->rng * 1000003u + (uint64_t)s->a[i];
    s->op->build(pb, s->op, s->a);
    mb_exec_init(&pb->exec, 0, in->threads);
    int64_t l1d, l2, l3;
    mb_machine_caches(&l1d, &l2, &l3); /* hwloc's view replaces sysconf's where it has one */
    if (l1d) pb->exec.l1d = l1d;
    if (l2) pb->exec.l2 = l2;
    if (l3) pb->exec.l3 = l3;
    mb_machine_pin(in->threads);
    enum mb_status st = call(k, pb);
    if (st != MB_OK) {
        snprintf(msg, msgsz, "%s", st == MB_ENOTSUP ? "not supported by this variant" : mb_status_str(st));
        release(in);
        return false;
    }
    if (!mb_opts.no_validate && !validate(k, pb, msg, msgsz)) {
        release(in);
        return false;
    }
    return true;
}

static bool run(struct mb_instance *in, long long iters, char *msg, size_t msgsz)
{
    struct mb_slot *s = in->state;
    enum mb_status st = MB_OK;
    /* bench-sim: callgrind's counts of exactly this loop, on every thread (collection toggles are per
     * thread; zeroing and dumping cover all), one dump per call */
    if (mb_opts.sim) CALLGRIND_ZERO_STATS;
    for (long long i = 0; i < iters && st == MB_OK; i++) st = call(in->kernel, s->pb);
    if (mb_opts.sim) {
        CALLGRIND_DUMP_STATS_AT(in->name);
        s->sim_iters += iters;
    }
    if (st != MB_OK) snprintf(msg, msgsz, "%s", mb_status_str(st));
    return st == MB_OK;
}

/* does this (variant, problem) fit the time budget of the default suite? */
static bool in_budget(const struct mb_kernel *k, double flops, double bytes)
{
    if (mb_opts.quick && (flops > MB_QUICK_MAX_FLOPS || bytes > MB_QUICK_MAX_BYTES)) return false;
    if (!strcmp(k->variant, "naive")) return flops <= MB_NAIVE_MAX_FLOPS;
    if (!(k->needs & (MB_NEED_MASK | MB_FLAG_PEER))) return flops <= MB_SCALAR_MAX_FLOPS;
    return true;
}

static void args_string(const struct mb_op *op, const int64_t *a, char *buf, size_t n)
{
    size_t o = 0;
    for (int i = 0; i < op->nargs && o < n; i++) {
        if (op->kind == MB_KIND_BINARY)
            o += (size_t)snprintf(buf + o, n - o, "/%s:%s", op->argn[i], bshapes[a[i]].label);
        else
            o += (size_t)snprintf(buf + o, n - o, "/%s:%lld", op->argn[i], (long long)a[i]);
    }
}

/* ---- --mb_shape: the user's shapes instead of the default lists ----------------------------------- */

/* "32x20x10+20x1": x's shape + y's (NumPy broadcasting, y right-aligned, each of its dims x's or 1; the
 * output is x's shape) -> a new bshapes[] entry; its index in *idx */
static bool parse_bshape(const char *v, int64_t *idx, char *msg, size_t msgsz)
{
    int64_t d[2][MB_MAX_DIMS];
    int nd[2] = {0, 0}, side = 0;
    const char *c = v;
    for (;;) {
        char *end;
        errno = 0;
        long long x = strtoll(c, &end, 10);
        if (end == c || *c == '-' || *c == '+' || errno || x < 1 || x > INT32_MAX || nd[side] == MB_MAX_DIMS) {
            snprintf(msg, msgsz, "shape:%s: expected <x dims>+<y dims>, e.g. 32x20x10+20x1 (sizes 1..%d, rank <= %d)",
                     v, INT32_MAX, MB_MAX_DIMS);
            return false;
        }
        d[side][nd[side]++] = x;
        if (*end == 'x') {
            c = end + 1;
        } else if (*end == '+' && side == 0) {
            c = end + 1, side = 1;
        } else if (*end == '\0' && side == 1) {
            break;
        } else {
            snprintf(msg, msgsz, "shape:%s: expected <x dims>+<y dims>, e.g. 32x20x10+20x1", v);
            return false;
        }
    }
    if (nd[1] > nd[0]) {
        snprintf(msg, msgsz, "shape:%s: y has rank %d > x's %d (y must broadcast to x's shape, the output's)", v, nd[1],
                 nd[0]);
        return false;
    }
    for (int i = 0; i < nbshapes; i++)
        if (!strcmp(bshapes[i].label, v)) return *idx = i, true;
    if (nbshapes == MB_BSHAPES_MAX || strlen(v) >= sizeof bshapes[0].label) {
        snprintf(msg, msgsz, "shape:%s: too many or too long binary shapes", v);
        return false;
    }
    struct mb_bshape *b = &bshapes[nbshapes];
    memset(b, 0, sizeof *b);
    b->ndim = nd[0];
    for (int i = 0; i < nd[0]; i++) {
        const int j = i - (nd[0] - nd[1]); /* y's dim aligned with x's dim i, or < 0: absent */
        const int64_t y = j >= 0 ? d[1][j] : 1;
        if (y != 1 && y != d[0][i]) {
            snprintf(msg, msgsz, "shape:%s: y's dim %d (size %lld) does not broadcast to x's dim %d (size %lld)", v, j,
                     (long long)y, i, (long long)d[0][i]);
            return false;
        }
        b->shape[i] = d[0][i], b->ys[i] = y == d[0][i] && j >= 0 ? 1 : 0;
    }
    snprintf(b->label, sizeof b->label, "%s", v);
    *idx = nbshapes++;
    return true;
}

/* one spec "<op>/<Arg>:<value>/..." (the benchmark-name form, without variant and threads): every argument
 * of the op once, in any order; sizes >= 1, bcast / causal / bias 0 or 1, binary shapes as parse_bshape */
static bool parse_shape(const char *spec, const struct mb_op **opp, int64_t *a, char *msg, size_t msgsz)
{
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf) return snprintf(msg, msgsz, "too long"), false;
    char *save = NULL, *tok = strtok_r(buf, "/", &save);
    const struct mb_op *op = NULL;
    const size_t nops = sizeof ops_table / sizeof ops_table[0];
    for (size_t o = 0; tok && o < nops; o++)
        if (!strcmp(tok, ops_table[o].name)) op = &ops_table[o];
    if (!op) {
        int w = snprintf(msg, msgsz, "unknown op '%s'; ops:", tok ? tok : "");
        for (size_t o = 0; o < nops && w > 0 && (size_t)w < msgsz; o++)
            w += snprintf(msg + w, msgsz - (size_t)w, " %s", ops_table[o].name);
        return false;
    }
    bool seen[MB_ARGS_MAX] = {false};
    while ((tok = strtok_r(NULL, "/", &save))) {
        char *colon = strchr(tok, ':');
        int i = 0;
        if (colon) *colon = '\0';
        while (i < op->nargs && strcmp(tok, op->argn[i])) i++;
        if (!colon || i == op->nargs || seen[i]) {
            int w = snprintf(msg, msgsz, "%s '%s'; %s takes",
                             !colon           ? "expected <Arg>:<value>, got"
                             : i == op->nargs ? "unknown argument"
                                              : "repeated argument",
                             tok, op->name);
            for (int j = 0; j < op->nargs && w > 0 && (size_t)w < msgsz; j++)
                w += snprintf(msg + w, msgsz - (size_t)w, " %s:<%s>", op->argn[j],
                              op->kind == MB_KIND_BINARY ? "x dims+y dims" : "n");
            return false;
        }
        seen[i] = true;
        const char *v = colon + 1;
        if (op->kind == MB_KIND_BINARY) {
            if (!parse_bshape(v, &a[i], msg, msgsz)) return false;
            continue;
        }
        const bool flag = !strcmp(tok, "bcast") || !strcmp(tok, "causal") || !strcmp(tok, "bias");
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (end == v || *end || *v == '-' || *v == '+' || errno || x < (flag ? 0 : 1) || x > (flag ? 1 : INT32_MAX)) {
            snprintf(msg, msgsz, "%s:%s: expected %s", tok, v, flag ? "0 or 1" : "an integer in 1..2147483647");
            return false;
        }
        a[i] = x;
    }
    for (int i = 0; i < op->nargs; i++)
        if (!seen[i]) return snprintf(msg, msgsz, "%s needs %s (missing)", op->name, op->argn[i]), false;
    /* every buffer is allocated and filled up front: refuse what cannot fit rather than die in the middle */
    const double bytes = op->bytes(op, a), ram = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    if (ram > 0 && bytes > ram / 2) {
        snprintf(msg, msgsz, "needs %.1f GiB of operands, more than half of this machine's %.1f GiB", bytes / 0x1p30,
                 ram / 0x1p30);
        return false;
    }
    *opp = op;
    return true;
}

/* --mb_shape's specs, parsed once (each a distinct (op, arguments) pair, in the order given) */
static struct {
    const struct mb_op *op;
    int64_t a[MB_ARGS_MAX];
} user_shapes[MB_SHAPES_MAX];
static int nuser_shapes;

/* false after printing the first bad spec */
static bool parse_user_shapes(void)
{
    char list[sizeof mb_opts.shape], *save = NULL, msg[MB_MSG_MAX];
    snprintf(list, sizeof list, "%s", mb_opts.shape);
    nuser_shapes = 0;
    for (char *spec = strtok_r(list, ",", &save); spec; spec = strtok_r(NULL, ",", &save)) {
        const struct mb_op *op = NULL;
        int64_t a[MB_ARGS_MAX] = {0};
        if (!parse_shape(spec, &op, a, msg, sizeof msg)) {
            fprintf(stderr, "matbench: --mb_shape: %s: %s\n", spec, msg);
            return false;
        }
        bool dup = false;
        for (int i = 0; i < nuser_shapes; i++) dup |= user_shapes[i].op == op && !memcmp(user_shapes[i].a, a, sizeof a);
        if (!dup && nuser_shapes < MB_SHAPES_MAX) {
            user_shapes[nuser_shapes].op = op;
            memcpy(user_shapes[nuser_shapes++].a, a, sizeof a);
        }
    }
    return true;
}

/* the shapes of op: --mb_shape's for this op when given (then no size budget: the user asked for them), else
 * the default list */
static int op_shapes(const struct mb_op *op, int64_t (*shapes)[MB_ARGS_MAX], bool user)
{
    if (!user) return op->shapes(shapes);
    int n = 0;
    for (int i = 0; i < nuser_shapes; i++)
        if (user_shapes[i].op == op) memcpy(shapes[n++], user_shapes[i].a, sizeof user_shapes[i].a);
    return n;
}

int mb_suite_instances(struct mb_instance **out)
{
    static struct mb_instance *list;
    static int count;
    if (list) return *out = list, count;
    int all = mb_opts.threads > 0 ? mb_opts.threads : mb_machine_cores(), cap = 0;
    const bool user = mb_opts.shape[0] != '\0';
    if (user && !parse_user_shapes()) return -1;
    static int64_t shapes[MB_SHAPES_MAX][MB_ARGS_MAX];
    for (size_t o = 0; o < sizeof ops_table / sizeof ops_table[0]; o++) {
        const struct mb_op *op = &ops_table[o];
        int ns = op_shapes(op, shapes, user);
        for (int ki = 0; ki < mb_kernel_count; ki++) {
            const struct mb_kernel *k = &mb_kernels[ki];
            if (k->kind != op->kind) continue;
            for (int si = 0; si < ns; si++) {
                double flops = op->flops(op, shapes[si]), bytes = op->bytes(op, shapes[si]);
                if (!user && !in_budget(k, flops, bytes)) continue;
                char args[100];
                args_string(op, shapes[si], args, sizeof args);
                for (int t = 0; t < ((k->needs & MB_FLAG_THREADED) && all > 1 ? 2 : 1); t++) {
                    if (count == cap) list = xrealloc(list, sizeof *list * (size_t)(cap = cap ? 2 * cap : 256));
                    struct mb_instance *in = memset(&list[count++], 0, sizeof *list);
                    struct mb_slot *sl = xrealloc(NULL, sizeof *sl);
                    sl->op = op;
                    memcpy(sl->a, shapes[si], sizeof sl->a);
                    in->threads = t ? all : 1;
                    snprintf(in->family, sizeof in->family, "%.60s/%.60s", op->name, k->variant);
                    snprintf(in->name, sizeof in->name, "%.60s/%.60s%s/threads:%d", op->name, k->variant, args,
                             in->threads);
                    in->kernel = k;
                    in->flops = flops;
                    in->bytes = bytes;
                    in->state = sl;
                    in->prepare = prepare;
                    in->run = run;
                    in->release = release;
                }
            }
        }
    }
    *out = list;
    return count;
}
