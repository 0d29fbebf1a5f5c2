/*
 * ops.h: the semantics layer. N-D float32 tensors with NumPy / Keras / PyTorch rules
 * (../design SEMANTICS, copied into README), lowered to the canonical kernels of kernels/mb.h.
 *
 * Every op: validates its inputs, infers the output shape, allocates the output (a fresh C-contiguous
 * tensor) and runs the chosen kernel variant. On invalid input it returns MB_EINVAL and writes a
 * message into ctx->msg naming the op, both shapes and the offending axis and sizes, containing the
 * error word of the vectors README (dimension, broadcast, batch, rank, axis, subscript, shape, size).
 * On failure no output is left allocated.
 */
#pragma once
#include "mb.h"

#include <stdbool.h>

/* A strided view or an owned tensor. shape[i] may be 0; ndim 0 is a scalar (1 element). */
struct mb_tensor {
    int ndim;
    int64_t shape[MB_MAX_DIMS];
    int64_t strides[MB_MAX_DIMS]; /* elements */
    float *data;
    void *owned; /* non-NULL: allocation to free with mb_tensor_free */
};

/* Which kernel variant runs each kind. The ops layer asks mb_kernel_find(kind, variant); when the
 * variant has no kernel of that kind (or it is unavailable on this CPU) it uses "naive" and records
 * the kind in fell_back (bit 1<<kind). A variant returning MB_ENOTSUP, or MB_ENOMEM (its scratch does not fit
 * the workspace, e.g. blas attention's Tq*Tk scores), also falls back to naive. */
struct mb_opctx {
    const char *variant;   /* e.g. "naive", "blas", "avx512"; NULL = "naive" */
    struct mb_exec *exec;  /* workspace and threads (mb_exec_init) */
    unsigned fell_back;    /* out: kinds that used naive instead of `variant` */
    unsigned used;         /* out: kinds that ran */
    char msg[1024];        /* out: error message */
};

/* ---- tensors (ops/tensor.c) ------------------------------------------------------------------- */
enum mb_status mb_tensor_alloc(struct mb_tensor *t, int ndim, const int64_t *shape, char *msg, size_t msgsz);
void mb_tensor_free(struct mb_tensor *t);
void mb_tensor_contig_strides(struct mb_tensor *t); /* C-order strides for t->shape */
int64_t mb_tensor_numel(const struct mb_tensor *t);
bool mb_tensor_is_contig(const struct mb_tensor *t);
/* "(3,4,5,2)"; "()" for 0-d; "(5,)" for 1-D, as Python prints tuples */
const char *mb_shape_str(int ndim, const int64_t *shape, char *buf, size_t n);
/* overflow-checked products: false on overflow or a result > MB_MAX_ELEMS */
#define MB_MAX_ELEMS ((int64_t)1 << 40)
bool mb_mul_ok(int64_t a, int64_t b, int64_t *out);
bool mb_numel_ok(int ndim, const int64_t *shape, int64_t *out);
/* NumPy broadcast of two shapes; on failure MB_EINVAL with a "broadcast" message naming op */
enum mb_status mb_broadcast_shapes(const char *op, int na, const int64_t *a, int nb, const int64_t *b, int *nout,
                                   int64_t *out, char *msg, size_t msgsz);
/* Normalise axis in [-n, n) to [0, n); false if out of range */
bool mb_axis_norm(int64_t axis, int n, int *out);
/* format into ctx->msg and return MB_EINVAL */
enum mb_status mb_op_error(struct mb_opctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- execution (ops/exec.c) ------------------------------------------------------------------- */
/* Allocate a workspace of work_bytes (0 = default 64 MiB), set threads (0 = all cores) and cache sizes
 * (from sysconf; the harness overrides them from hwloc). Dies on allocation failure. */
void mb_exec_init(struct mb_exec *x, size_t work_bytes, int nthreads);
void mb_exec_free(struct mb_exec *x);
/* Run one canonical problem with ctx's variant (fallback to naive as described above). */
enum mb_status mb_run_gemm(struct mb_opctx *c, const struct mb_gemm *p);
enum mb_status mb_run_binary(struct mb_opctx *c, const struct mb_binary *p);
enum mb_status mb_run_softmax(struct mb_opctx *c, const struct mb_softmax *p);
enum mb_status mb_run_attention(struct mb_opctx *c, const struct mb_attention *p);
enum mb_status mb_run_copy(struct mb_opctx *c, const struct mb_copy *p);

/* ---- ops --------------------------------------------------------------------------------------
 * All outputs are freshly allocated C-contiguous tensors (out is overwritten; free with
 * mb_tensor_free). Inputs may be any strided views. */
enum mb_status mb_op_binary(struct mb_opctx *c, enum mb_binop op, const struct mb_tensor *a, const struct mb_tensor *b,
                            struct mb_tensor *out); /* add/sub/mul/div */
enum mb_status mb_op_matmul(struct mb_opctx *c, const struct mb_tensor *a, const struct mb_tensor *b,
                            struct mb_tensor *out);
enum mb_status mb_op_mm(struct mb_opctx *c, const struct mb_tensor *a, const struct mb_tensor *b, struct mb_tensor *out);
enum mb_status mb_op_bmm(struct mb_opctx *c, const struct mb_tensor *a, const struct mb_tensor *b, struct mb_tensor *out);
enum mb_status mb_op_dot(struct mb_opctx *c, const struct mb_tensor *a, const struct mb_tensor *b, struct mb_tensor *out);
/* tensordot: naxes >= 0 with axes_a/axes_b NULL means "last naxes of a vs first naxes of b";
 * otherwise naxes pairs axes_a[i] <-> axes_b[i] (negative allowed). */
enum mb_status mb_op_tensordot(struct mb_opctx *c, const struct mb_tensor *a, const struct mb_tensor *b, int naxes,
                               const int64_t *axes_a, const int64_t *axes_b, struct mb_tensor *out);
/* batch_dot: axes_mode 0 = none (default), 1 = one int (ax0 used for both), 2 = pair (ax0, ax1) */
struct mb_batch_dot_opts {
    int axes_mode;
    int64_t ax0, ax1;
    bool legacy;    /* Keras <= 2.2.4 semantics */
    bool normalize; /* Dot(normalize=True): L2-normalise along the contracted axes first */
};
enum mb_status mb_op_batch_dot(struct mb_opctx *c, const struct mb_tensor *a, const struct mb_tensor *b,
                               const struct mb_batch_dot_opts *o, struct mb_tensor *out);
enum mb_status mb_op_einsum(struct mb_opctx *c, const char *equation, int n, const struct mb_tensor *const *in,
                            struct mb_tensor *out);
enum mb_status mb_op_outer(struct mb_opctx *c, const struct mb_tensor *a, const struct mb_tensor *b,
                           struct mb_tensor *out);
enum mb_status mb_op_linear(struct mb_opctx *c, const struct mb_tensor *x, const struct mb_tensor *w,
                            const struct mb_tensor *bias /* NULL = none */, struct mb_tensor *out);
enum mb_status mb_op_softmax(struct mb_opctx *c, const struct mb_tensor *x, int64_t axis, struct mb_tensor *out);
/* attention: mask NULL = none; has_scale false = 1/sqrt(d); weights NULL = not wanted */
enum mb_status mb_op_attention(struct mb_opctx *c, const struct mb_tensor *q, const struct mb_tensor *k,
                               const struct mb_tensor *v, const struct mb_tensor *mask, bool has_scale, float scale,
                               bool causal, struct mb_tensor *out, struct mb_tensor *weights);
enum mb_status mb_op_transpose(struct mb_opctx *c, const struct mb_tensor *x, int nperm /* 0 = reverse */,
                               const int64_t *perm, struct mb_tensor *out);
enum mb_status mb_op_concatenate(struct mb_opctx *c, int n, const struct mb_tensor *const *in, int64_t axis,
                                 struct mb_tensor *out);
enum mb_status mb_op_stack(struct mb_opctx *c, int n, const struct mb_tensor *const *in, int64_t axis,
                           struct mb_tensor *out);
enum mb_status mb_op_expand_dims(struct mb_opctx *c, const struct mb_tensor *x, int64_t axis, struct mb_tensor *out);
enum mb_status mb_op_reshape(struct mb_opctx *c, const struct mb_tensor *x, int nshape, const int64_t *shape,
                             struct mb_tensor *out);

/* Helper for contractions: lower a (possibly strided, broadcast) batched matrix product to ONE
 * mb_gemm. Each operand is given as batch dims (already broadcast to the common batch shape, stride 0
 * where broadcast) plus (rows, cols) strides; batch dims are collapsed to <= MB_MAX_BATCH where the
 * strides allow, else the operand is copied to contiguous first (ops/contract.c). */

/* ---- .npy files (ops/npy.c) --------------------------------------------------------------------
 * NPY 1.0/2.0/3.0, '<f4' only, C order. Anything else is MB_EINVAL with a message: other dtype,
 * fortran_order True, truncated data, malformed header, absurd shapes (overflow or > MB_MAX_ELEMS,
 * or more data claimed than the file holds). Never a huge allocation from a header alone. */
enum mb_status mb_npy_read(const char *path, struct mb_tensor *t, char *msg, size_t msgsz);
/* Writes C-order '<f4' NPY 1.0 atomically (temp file + rename). */
enum mb_status mb_npy_write(const char *path, const struct mb_tensor *t, char *msg, size_t msgsz);

/* ---- case directories (ops/case.c): the vectors format (case.txt + .npy inputs) ----------------- */
struct mb_case {
    char dir[4096];
    char op[32];
    int ninputs;
    char inputs[8][64];
    struct mb_tensor in[8];
    /* options, as parsed from case.txt (absent keys keep defaults) */
    int axes_n;           /* number of values after `axes` (-1 = absent); "none" -> 0 with axes_none */
    bool axes_none;
    int64_t axes[8];
    int axes_a_n, axes_b_n;
    int64_t axes_a[8], axes_b[8];
    bool legacy, normalize, causal;
    bool has_axis;
    int64_t axis;
    int perm_n; /* -1 = absent */
    int64_t perm[MB_MAX_DIMS];
    int shape_n; /* -1 = absent */
    int64_t shape[MB_MAX_DIMS];
    bool has_scale;
    float scale;
    char equation[256];
    /* expectations */
    bool expect_error;
    char error_word[32];
    bool has_out_shape;
    int out_ndim;
    int64_t out_shape[MB_MAX_DIMS];
    double rtol, atol;
    bool has_fill;
    float fill;
    char extra_output[64]; /* "" or e.g. "expected_weights" */
};
/* Parse case.txt and read the inputs. Returns MB_EINVAL with a message on malformed files. */
enum mb_status mb_case_load(const char *dir, struct mb_case *cs, char *msg, size_t msgsz);
void mb_case_free(struct mb_case *cs);
/* Evaluate the case's op on its inputs with ctx's variant: out (and extra for attention weights). */
enum mb_status mb_case_eval(struct mb_opctx *c, const struct mb_case *cs, struct mb_tensor *out,
                            struct mb_tensor *extra);
/* Judge one evaluation (status st, ctx message msg, out/extra from mb_case_eval) against the case:
 * error cases must fail with MB_EINVAL and a message containing the error word (case-insensitive) and
 * leave no output; ok cases must match out_shape and expected.npy / expected_fill / <extra_output>.npy
 * with |got-exp| <= atol + rtol*|exp| (NaN must be NaN, +-inf exact). detail gets "max abs err X",
 * the error message (passing error case) or the reason of the failure. Used by matbench-check and tests. */
bool mb_case_check(const struct mb_case *cs, enum mb_status st, const char *msg, const struct mb_tensor *out,
                   const struct mb_tensor *extra, char *detail, size_t n);
