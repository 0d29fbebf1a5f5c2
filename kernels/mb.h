/*
 * mb.h: the kernel contract. Five canonical problem kinds (GEMM, BINARY, SOFTMAX, ATTENTION, COPY),
 * one parameter struct each, one signature each:
 *
 *     enum mb_status fn(const struct mb_<kind> *p, const struct mb_exec *x);
 *
 * Conventions (all kinds):
 * - float32 only; sizes, strides and indices are int64_t, strides in ELEMENTS (not bytes).
 * - Dimensions are listed outermost first (NumPy order). A stride of 0 broadcasts that dimension.
 * - Batch dimensions: up to MB_MAX_BATCH, each operand has its own batch strides; the flat batch
 *   index b is decomposed row-major over batch[] (see mb_batch_offset()).
 * - Kernels never allocate, print or exit. Scratch comes from x->work (x->work_size bytes, 64-byte
 *   aligned, owned by the caller); a kernel that needs more returns MB_ENOMEM. A case a variant does
 *   not handle returns MB_ENOTSUP (and writes nothing).
 * - Outputs never alias inputs (the ops layer guarantees it).
 *
 * kernels/ knows nothing of ops/ or bench/.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* The calling thread's number in an OpenMP region (0 in a build without OpenMP): the kernels' threads
 * pick their slice of the work and of x->work with it. */
static inline int mb_thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* GEMM work (M N K summed over the batch, i.e. half the FLOPs) below which a kernel runs on the calling thread
 * whatever x->nthreads says: under ~0.5 MFLOP (a few us on one core) an OpenMP fork/join costs more than the
 * work (measured 3-30 us for 2 threads on the shared VM). The GEMM driver and the peers' batch loops use it. */
#define MB_GEMM_MIN_PAR_MNK 2.5e5

#ifdef __cplusplus
extern "C" {
#endif

#define MB_MAX_DIMS 8  /* tensor rank limit of the ops layer */
#define MB_MAX_BATCH 4 /* batch dims of GEMM / ATTENTION after collapsing */

enum mb_status {
    MB_OK = 0,
    MB_EINVAL,  /* bad argument (ops layer: invalid input; message explains) */
    MB_ENOTSUP, /* this variant does not handle this case */
    MB_ENOMEM,  /* workspace too small / allocation failed */
    MB_EDEVICE, /* GPU/device error or no device */
};
const char *mb_status_str(enum mb_status s);

enum mb_kind { MB_KIND_GEMM, MB_KIND_BINARY, MB_KIND_SOFTMAX, MB_KIND_ATTENTION, MB_KIND_COPY, MB_KIND_COUNT };
const char *mb_kind_name(enum mb_kind k); /* "gemm", "binary", ... */

/* Execution context, filled by the caller (ops/exec.c: mb_exec_init). */
struct mb_exec {
    void *work;        /* scratch, 64-byte aligned */
    size_t work_size;  /* bytes */
    int nthreads;      /* >= 1; OpenMP variants use exactly this many threads */
    int64_t l1d, l2, l3; /* cache sizes in bytes (hwloc); 0 = unknown -> kernel defaults */
    void *stream;      /* cudaStream_t for CUDA variants, else NULL */
};

/* ------------------------------------------------------------------------------------------------
 * GEMM: C[b] = alpha * A[b] @ B[b] + beta * C[b]  (+ bias[n] broadcast over rows)
 *   A[b][m][k] = A + off_a(b) + m*a_rs + k*a_cs   (a transpose is a swap of a_rs/a_cs)
 *   B[b][k][n] = B + off_b(b) + k*b_rs + n*b_cs
 *   C[b][m][n] = C + off_c(b) + m*c_rs + n*c_cs
 * beta == 0 means C is write-only (its old contents, even NaN, are ignored), as in BLAS.
 * Any of M, N, K, batch[i] may be 0 (K == 0: C = beta*C (+bias)). C never aliases A or B, and C's
 * strides never make two (b,m,n) share an element. */
struct mb_gemm {
    int64_t M, N, K;
    int nbatch;                  /* 0..MB_MAX_BATCH */
    int64_t batch[MB_MAX_BATCH]; /* sizes of the batch dims */
    const float *A;
    int64_t a_bs[MB_MAX_BATCH], a_rs, a_cs;
    const float *B;
    int64_t b_bs[MB_MAX_BATCH], b_rs, b_cs;
    float *C;
    int64_t c_bs[MB_MAX_BATCH], c_rs, c_cs;
    float alpha, beta;
    const float *bias; /* NULL = none; else bias[n*bias_s] is added to every row */
    int64_t bias_s;
};

/* ------------------------------------------------------------------------------------------------
 * BINARY: z[i] = x[i] op y[i] over an ndim-D index space; strides 0 broadcast x or y.
 * The ops layer collapses dims first (contiguous runs merge), so ndim is usually 1..3.
 * IEEE semantics: x/0 = +-inf, 0/0 = NaN (no fast-math). */
enum mb_binop { MB_ADD, MB_SUB, MB_MUL, MB_DIV };
/* the scalar definition every BINARY variant uses for its scalar paths and tails */
static inline float mb_binop_apply(enum mb_binop op, float a, float b)
{
    switch (op) {
    case MB_ADD: return a + b;
    case MB_SUB: return a - b;
    case MB_MUL: return a * b;
    case MB_DIV: return a / b;
    }
    return a;
}
struct mb_binary {
    enum mb_binop op;
    int ndim; /* 0..MB_MAX_DIMS (0 = one element) */
    int64_t shape[MB_MAX_DIMS];
    const float *x;
    int64_t xs[MB_MAX_DIMS];
    const float *y;
    int64_t ys[MB_MAX_DIMS];
    float *z;
    int64_t zs[MB_MAX_DIMS];
};

/* ------------------------------------------------------------------------------------------------
 * SOFTMAX along one axis of length n, for every index of the ndim "row" dims:
 *   s[j] = scale * x[row, j]; s[j] = -inf where mask[row, j] == 0 or (causal && j > i)
 *   y[row, j] = exp(s[j] - max s) / sum exp(s - max s)
 * i = index along the LAST row dim (attention's query axis). A row whose s are all -inf gives NaN
 * (torch.softmax semantics). mask == NULL: no mask. */
struct mb_softmax {
    int ndim;                   /* row dims, 0..MB_MAX_DIMS-1 */
    int64_t shape[MB_MAX_DIMS]; /* row dims sizes */
    int64_t n;                  /* softmax axis length */
    const float *x;
    int64_t xs[MB_MAX_DIMS], x_ns;
    float *y;
    int64_t ys[MB_MAX_DIMS], y_ns;
    const float *mask;
    int64_t ms[MB_MAX_DIMS], m_ns;
    float scale;
    int causal;
};

/* ------------------------------------------------------------------------------------------------
 * ATTENTION: O[b] = softmax(scale * Q[b] @ K[b]^T, masked) @ V[b]
 *   Q[b][i][d] (Tq x D), K[b][j][d] (Tk x D), V[b][j][e] (Tk x Dv), O[b][i][e] (Tq x Dv)
 *   mask[b][i][j]: 0 = drop (score -> -inf); NULL = none. causal: drop j > i (top-left aligned).
 *   W[b][i][j]: optional softmax weights out (NULL = not wanted).
 * A fully masked row gives NaN in O (and W), as the reference softmax does. */
struct mb_attention {
    int64_t Tq, Tk, D, Dv;
    int nbatch;
    int64_t batch[MB_MAX_BATCH];
    const float *q;
    int64_t q_bs[MB_MAX_BATCH], q_ts, q_ds;
    const float *k;
    int64_t k_bs[MB_MAX_BATCH], k_ts, k_ds;
    const float *v;
    int64_t v_bs[MB_MAX_BATCH], v_ts, v_ds;
    float *o;
    int64_t o_bs[MB_MAX_BATCH], o_ts, o_ds;
    const float *mask;
    int64_t m_bs[MB_MAX_BATCH], m_qs, m_ks;
    float *w;
    int64_t w_bs[MB_MAX_BATCH], w_qs, w_ks;
    float scale;
    int causal;
};

/* ------------------------------------------------------------------------------------------------
 * COPY: strided N-D copy/gather, y[i] = x[i] (accumulate: y[i] += x[i]).
 * With accumulate, y strides may be 0 on some dims: that sums x over them (einsum reductions);
 * the caller zeroes y first. Without accumulate y's strides never overlap. */
struct mb_copy {
    int ndim;
    int64_t shape[MB_MAX_DIMS];
    const float *x;
    int64_t xs[MB_MAX_DIMS];
    float *y;
    int64_t ys[MB_MAX_DIMS];
    int accumulate;
};

/* Offset of flat batch index b over sizes[0..n) with the given strides (row-major decomposition). */
static inline int64_t mb_batch_offset(int n, const int64_t *sizes, const int64_t *strides, int64_t b)
{
    int64_t off = 0;
    for (int i = n - 1; i >= 0; i--) {
        off += (b % sizes[i]) * strides[i];
        b /= sizes[i];
    }
    return off;
}
static inline int64_t mb_batch_count(int n, const int64_t *sizes)
{
    int64_t c = 1;
    for (int i = 0; i < n; i++) c *= sizes[i];
    return c;
}

/* The matrices of batch item b of a GEMM (every per-item loop over mb_gemm starts here). */
struct mb_gemm_item {
    const float *A, *B;
    float *C;
};
static inline struct mb_gemm_item mb_gemm_item(const struct mb_gemm *p, int64_t b)
{
    return (struct mb_gemm_item){p->A + mb_batch_offset(p->nbatch, p->batch, p->a_bs, b),
                                 p->B + mb_batch_offset(p->nbatch, p->batch, p->b_bs, b),
                                 p->C + mb_batch_offset(p->nbatch, p->batch, p->c_bs, b)};
}

/* nb items of p are below MB_GEMM_MIN_PAR_MNK: not worth an OpenMP fork */
static inline int mb_gemm_tiny_work(const struct mb_gemm *p, int64_t nb)
{
    return (double)p->M * (double)p->N * (double)p->K * (double)nb < MB_GEMM_MIN_PAR_MNK;
}

/* ------------------------------------------------------------------------------------------------
 * The registry. kernels.def is included with MB_KERNEL defined as needed; here it declares the
 * prototypes (a kernel with the wrong signature fails to compile, an unregistered kernel trips
 * -Werror=missing-prototypes). */
#define MB_PARAMS_GEMM struct mb_gemm
#define MB_PARAMS_BINARY struct mb_binary
#define MB_PARAMS_SOFTMAX struct mb_softmax
#define MB_PARAMS_ATTENTION struct mb_attention
#define MB_PARAMS_COPY struct mb_copy

/* needs/flags bits (the 4th column of kernels.def) */
enum {
    MB_NEED_AVX2 = 1 << 0,   /* AVX2 + FMA */
    MB_NEED_AVX512 = 1 << 1, /* AVX-512 F, VL, BW, DQ */
    MB_NEED_NEON = 1 << 2,
    MB_NEED_GPU = 1 << 3,
    MB_FLAG_THREADED = 1 << 8, /* honours mb_exec.nthreads: benchmarked at 1 and all cores */
    MB_FLAG_PEER = 1 << 9,     /* a library baseline (BLAS, BLIS, oneDNN, LIBXSMM): dashed in plots */
    MB_NEED_MASK = 0xff,
};

typedef enum mb_status (*mb_gemm_fn)(const struct mb_gemm *, const struct mb_exec *);
typedef enum mb_status (*mb_binary_fn)(const struct mb_binary *, const struct mb_exec *);
typedef enum mb_status (*mb_softmax_fn)(const struct mb_softmax *, const struct mb_exec *);
typedef enum mb_status (*mb_attention_fn)(const struct mb_attention *, const struct mb_exec *);
typedef enum mb_status (*mb_copy_fn)(const struct mb_copy *, const struct mb_exec *);

struct mb_kernel {
    enum mb_kind kind;
    const char *variant; /* second component of benchmark names: gemm/<variant>/... */
    const char *fn_name;
    union {
        mb_gemm_fn GEMM;
        mb_binary_fn BINARY;
        mb_softmax_fn SOFTMAX;
        mb_attention_fn ATTENTION;
        mb_copy_fn COPY;
    } fn;
    unsigned needs; /* MB_NEED_* | MB_FLAG_* */
};

#define MB_KERNEL(kind, var, fn, needs) enum mb_status fn(const MB_PARAMS_##kind *p, const struct mb_exec *x);
#include "kernels.def"
#undef MB_KERNEL

extern const struct mb_kernel mb_kernels[];
extern const int mb_kernel_count;

/* Run-time CPU check: the needs bits this machine (and OS) support. Honors MB_ISA=scalar|avx2|avx512
 * in the environment as a cap (to test fallbacks); valgrind hides AVX-512 from CPUID, so it drops out. */
unsigned mb_cpu_features(void);
int mb_kernel_available(const struct mb_kernel *k); /* all needs met */
const struct mb_kernel *mb_kernel_find(enum mb_kind kind, const char *variant);
/* a short description of detected ISA, e.g. "avx512 avx2" */
const char *mb_cpu_isa_string(void);

#ifdef __cplusplus
}
#endif
