/*
 * internal.h: ops-layer internals shared between the ops/ sources and exposed to the unit tests and the
 * .npy fuzz target. Not API: programs use ops.h.
 */
#pragma once
#include "ops.h"

/* Collapse an N-D index space shared by nops strided operands to the fewest dims: size-1 dims are
 * dropped and adjacent dims i, i+1 merge when, for EVERY operand, stride[i] == stride[i+1] * shape[i+1]
 * (stride-0 broadcast runs merge too). A space with a 0-sized dim becomes one dim of size 0.
 * shape and each strides[k] are rewritten in place; returns the new ndim (0 = a single element). */
int mb_collapse_dims(int ndim, int64_t *shape, int nops, int64_t *const *strides);

/* Lower z = a op b (z a fresh contiguous tensor already shaped as broadcast(a, b)) to one mb_binary
 * with collapsed dims. */
void mb_binary_lower(enum mb_binop op, const struct mb_tensor *a, const struct mb_tensor *b, struct mb_tensor *z,
                     struct mb_binary *p);

/* mb_tensor_alloc with the failure message prefixed by the op name (into c->msg). */
enum mb_status mb_out_alloc(struct mb_opctx *c, const char *op, struct mb_tensor *t, int ndim, const int64_t *shape);

/* Strides of x viewed in the broadcast shape (ndim, shape): right-aligned, 0 where x has size 1 or no dim. */
void mb_broadcast_strides(const struct mb_tensor *x, int ndim, const int64_t *shape, int64_t *strides);

/* y = x broadcast to (ndim, shape), as a fresh contiguous tensor (one copy); failure messages name op. */
enum mb_status mb_materialize(struct mb_opctx *c, const char *op, const struct mb_tensor *x, int ndim,
                              const int64_t *shape, struct mb_tensor *y);

/* Parse an in-memory .npy image (what mb_npy_read does after reading the file); name is used in messages.
 * The fuzz target drives this directly. */
enum mb_status mb_npy_read_mem(const void *buf, size_t n, const char *name, struct mb_tensor *t, char *msg,
                               size_t msgsz);
