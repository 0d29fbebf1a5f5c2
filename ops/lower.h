/*
 * lower.h: the one lowering of every contraction (matmul, mm, bmm, dot, tensordot, batch_dot, einsum,
 * outer, linear) to ONE canonical strided-batched mb_gemm (ops/lower.c). Internal to ops/ and tests.
 *
 * An op describes its contraction as four groups of logical dims, each dim with one size and a stride
 * per operand (A, B, C; a stride of 0 broadcasts):
 *
 *   batch: in A, B and C      M: in A and C      N: in B and C      K: in A and B (summed)
 *
 * The lowering drops size-1 dims and merges neighbours whose strides agree in every operand, so each of
 * M, N, K becomes one dim and batch at most MB_MAX_BATCH dims: transposes, permutations and broadcasts
 * stay stride changes. Only an operand whose dims of a group do not merge is copied (mb_run_copy) to a
 * contiguous temporary first; C is then computed in a temporary and copied back.
 */
#pragma once
#include "ops.h"

#define MB_LOWER_MAXD 64 /* dims per group: einsum labels (52 letters + 8 ellipsis dims) fit */

enum mb_lower_group { MB_LG_BATCH, MB_LG_M, MB_LG_N, MB_LG_K, MB_LG_COUNT };
enum mb_lower_operand { MB_LO_A, MB_LO_B, MB_LO_C };

struct mb_lower_dim {
    int64_t size;
    int64_t s[3]; /* element strides in A, B, C (entries of operands outside the group are ignored) */
};

struct mb_contraction {
    const float *a, *b;
    float *c; /* written (beta = 0): never aliases a or b */
    int n[MB_LG_COUNT];
    struct mb_lower_dim d[MB_LG_COUNT][MB_LOWER_MAXD];
    const float *bias; /* NULL = none; bias[n_flat * bias_s] over the collapsed N */
    int64_t bias_s;
};

/* Which operands need a contiguous copy (bits 1 << MB_LO_*); 0 = the gemm reads the inputs in place.
 * If g is non-NULL it receives the collapsed gemm for the no-copy strides (pointers unset). */
unsigned mb_lower_plan(const struct mb_contraction *k, struct mb_gemm *g);
/* Plan, copy what must be copied, run ctx's gemm variant, copy C back if needed, free temporaries. */
enum mb_status mb_lower_run(struct mb_opctx *c, const struct mb_contraction *k);

/* Strided N-D copy of any rank (size-1 dims dropped, mergeable dims merged, loops over dims beyond
 * MB_MAX_DIMS) through ctx's COPY variant. accumulate: y += x (y strides 0 sum over those dims). */
enum mb_status mb_copy_strided(struct mb_opctx *c, int ndim, const int64_t *shape, const float *x, const int64_t *xs,
                               float *y, const int64_t *ys, int accumulate);
