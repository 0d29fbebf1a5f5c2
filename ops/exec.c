/* exec.c: workspace / thread setup and dispatch of canonical problems to the chosen variant. */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

void mb_exec_init(struct mb_exec *x, size_t work_bytes, int nthreads)
{
    memset(x, 0, sizeof *x);
    x->work_size = work_bytes ? work_bytes : (size_t)64 << 20;
    /* Workspaces of 2 MiB and more are backed by transparent huge pages (the packed GEMM panels
     * span megabytes). Measured on the Zen 5 VM (THP "madvise"; 1 thread, 7 / 4 interleaved
     * alternations, medians): AVX-512 SGEMM 0.990 -> 0.997x oneDNN at n = 512, 0.993 -> 1.001 at
     * 256, 0.989 -> 0.993 at 1024, level at 2048 (0.986 / 0.985): within the +-2 % noise but never
     * behind. The harness's operands stay on ordinary pages, the same for every variant and peer. */
    size_t huge = (size_t)2 << 20, align = x->work_size >= huge ? huge : 64;
    size_t bytes = (x->work_size + align - 1) & ~(align - 1);
    x->work = aligned_alloc(align, bytes);
#ifdef MADV_HUGEPAGE
    if (x->work && align == huge) (void)madvise(x->work, bytes, MADV_HUGEPAGE); /* a hint: failure is harmless */
#endif
    if (!x->work) {
        fprintf(stderr, "%s:%d: cannot allocate %zu bytes of workspace\n", __FILE__, __LINE__, x->work_size);
        exit(EXIT_FAILURE);
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    x->nthreads = nthreads > 0 ? nthreads : (int)(ncpu > 0 ? ncpu : 1);
#ifdef _SC_LEVEL1_DCACHE_SIZE
    long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE), l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    x->l1d = l1 > 0 ? l1 : 0;
    x->l2 = l2 > 0 ? l2 : 0;
    x->l3 = l3 > 0 ? l3 : 0;
#endif
}

void mb_exec_free(struct mb_exec *x)
{
    free(x->work);
    memset(x, 0, sizeof *x);
}

/* Pick ctx's variant for `kind`, or naive (noting the fallback). */
static const struct mb_kernel *pick(struct mb_opctx *c, enum mb_kind kind)
{
    const char *v = c->variant ? c->variant : "naive";
    const struct mb_kernel *k = mb_kernel_find(kind, v);
    c->used |= 1u << kind;
    if (k && mb_kernel_available(k)) return k;
    c->fell_back |= 1u << kind;
    return mb_kernel_find(kind, "naive");
}

#define MB_RUN(KIND, kind)                                                                                          \
    enum mb_status mb_run_##kind(struct mb_opctx *c, const struct mb_##kind *p)                                     \
    {                                                                                                               \
        const struct mb_kernel *k = pick(c, MB_KIND_##KIND);                                                        \
        enum mb_status s = k->fn.KIND(p, c->exec);                                                                  \
        /* the variant declines this case, or needs more workspace than c->exec has: naive handles all */          \
        if ((s == MB_ENOTSUP || s == MB_ENOMEM) && strcmp(k->variant, "naive")) {                                   \
            c->fell_back |= 1u << MB_KIND_##KIND;                                                                   \
            s = mb_kernel_find(MB_KIND_##KIND, "naive")->fn.KIND(p, c->exec);                                       \
        }                                                                                                           \
        if (s != MB_OK) snprintf(c->msg, sizeof c->msg, "%s/%s: %s", mb_kind_name(MB_KIND_##KIND), k->variant,     \
                                 mb_status_str(s));                                                                 \
        return s;                                                                                                   \
    }
MB_RUN(GEMM, gemm)
MB_RUN(BINARY, binary)
MB_RUN(SOFTMAX, softmax)
MB_RUN(ATTENTION, attention)
MB_RUN(COPY, copy)
