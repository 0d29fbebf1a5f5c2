/* guarded.h: inputs that end at a PROT_NONE page, for the kernel sweeps (test_gemm_sweep, test_nn_kernels). */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* n floats ending exactly at a PROT_NONE page, so a kernel reading past an input faults. ASan alone does
 * not see such reads: the kernels' broadcasts and masked loads are builtins it does not instrument.
 * Free with mb_guarded_free(f, n), the same n. n <= 0 gives one float. */
static inline size_t mb_guarded_len(int64_t n, size_t *bytes)
{
    const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    *bytes = sizeof(float) * (size_t)(n > 0 ? n : 1);
    return (*bytes + pg - 1) / pg * pg + pg;
}

static inline float *mb_guarded_alloc(int64_t n)
{
    size_t bytes, len = mb_guarded_len(n, &bytes);
    const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED || mprotect(base + len - pg, pg, PROT_NONE) != 0) {
        perror("mb_guarded_alloc");
        exit(EXIT_FAILURE);
    }
    return (float *)(base + len - pg - bytes);
}

static inline void mb_guarded_free(const float *f, int64_t n)
{
    if (!f) return;
    size_t bytes, len = mb_guarded_len(n, &bytes);
    const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    munmap((char *)f + bytes + pg - len, len);
}

/* the first n floats of src in a fresh guarded buffer */
static inline float *mb_guarded_copy(const float *src, int64_t n)
{
    float *f = mb_guarded_alloc(n);
    if (n > 0) memcpy(f, src, sizeof(float) * (size_t)n);
    return f;
}

/* floats a strided operand spans from its base: 1 + sum (shape[d] - 1) * |stride[d]|, 0 if empty */
static inline int64_t mb_span(int nd, const int64_t *shape, const int64_t *stride)
{
    int64_t e = 1;
    for (int d = 0; d < nd; d++) {
        if (shape[d] == 0) return 0;
        e += (shape[d] - 1) * (stride[d] < 0 ? -stride[d] : stride[d]);
    }
    return e;
}
