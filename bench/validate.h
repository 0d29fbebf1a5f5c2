/*
 * validate.h: check a kernel's output against a reference with a derived (not guessed) tolerance.
 *
 * Every check is elementwise: |got - ref| <= bound, where bound = tol * mag + floor and mag is the sum of
 * the magnitudes the floating-point error is proportional to (e.g. (|A|.|B|)_ij for a dot product).
 * A NaN where the reference is finite (or the reverse) fails; NaN where the reference is NaN passes.
 * The tolerance functions below are the formulas; validate.c derives each in a comment.
 */
#pragma once
#include "mb.h"

#include <stdbool.h>
#include <stddef.h>

#define MB_U 0x1p-24 /* unit roundoff of fp32, round to nearest */

/* The worst element of one comparison (largest error / bound). */
struct mb_check {
    int64_t n;    /* elements compared */
    int64_t nbad; /* elements outside their bound */
    double err;   /* |got - ref| at the worst element */
    double bound; /* its bound */
    double got, ref;
    int ndim;
    int64_t index[MB_MAX_DIMS + 2]; /* multi-index of the worst element */
};

/* gamma(n) = n*u / (1 - n*u): Higham's bound for n successive fp32 roundings */
double mb_gamma(double n);
/* GEMM: relative to |alpha|(|A|.|B|)_ij + |bias_j|: 2 * gamma(K + 2) (kernel and fp32 reference each) */
double mb_tol_gemm(int64_t K);
/* softmax over n elements whose scaled scores are at most smax in magnitude and whose running maximum
 * rises `rises` times in index order (bounds the rescalings of an online softmax): relative to y_ref */
double mb_tol_softmax(int64_t n, double smax, int64_t rises);
/* the exp implementation a kernel may use is assumed accurate to this many ulps (SIMD polynomials) */
#define MB_EXP_ULPS 8

/* The checks. Each computes its own reference from the problem's inputs (which kernels never modify) and
 * compares the problem's output. True when every element is within bound; else false with msg set to
 * "validation failed: max error E at [i,j,...] (tol T)". GEMM needs beta == 0 (C is then write-only). */
bool mb_validate_gemm(const struct mb_gemm *p, char *msg, size_t msgsz);
bool mb_validate_binary(const struct mb_binary *p, char *msg, size_t msgsz);
bool mb_validate_softmax(const struct mb_softmax *p, char *msg, size_t msgsz);
bool mb_validate_attention(const struct mb_attention *p, char *msg, size_t msgsz);
bool mb_validate_copy(const struct mb_copy *p, char *msg, size_t msgsz); /* exact (tol 0); no accumulate */

/* The message of a failed check (the format above, plus how many elements failed). */
void mb_check_message(const struct mb_check *c, char *msg, size_t msgsz);
