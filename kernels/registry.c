/* registry.c: the kernel table built from kernels.def, and run-time CPU feature checks. */
#include "mb.h"

#include <stdlib.h>
#include <string.h>

const struct mb_kernel mb_kernels[] = {
#define MB_KERNEL(kind, var, fn, needs) {MB_KIND_##kind, #var, #fn, {.kind = fn}, (needs)},
#include "kernels.def"
#undef MB_KERNEL
};
const int mb_kernel_count = (int)(sizeof mb_kernels / sizeof mb_kernels[0]);

const char *mb_status_str(enum mb_status s)
{
    switch (s) {
    case MB_OK: return "ok";
    case MB_EINVAL: return "invalid argument";
    case MB_ENOTSUP: return "not supported by this variant";
    case MB_ENOMEM: return "out of memory / workspace too small";
    case MB_EDEVICE: return "device error";
    }
    return "unknown status";
}

const char *mb_kind_name(enum mb_kind k)
{
    static const char *const names[MB_KIND_COUNT] = {"gemm", "binary", "softmax", "attention", "copy"};
    return (unsigned)k < MB_KIND_COUNT ? names[k] : "?";
}

static unsigned detect(void)
{
    unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    /* libgcc checks OSXSAVE/XCR0 too, so an OS without AVX state support reports false here. */
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) f |= MB_NEED_AVX2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        f |= MB_NEED_AVX512;
#elif defined(__aarch64__)
    f |= MB_NEED_NEON; /* Advanced SIMD is mandatory on AArch64 */
#endif
    /* MB_ISA caps what is used: lets tests and users exercise the fallbacks. */
    const char *cap = getenv("MB_ISA");
    if (cap && *cap) {
        if (!strcmp(cap, "scalar")) f &= ~(unsigned)(MB_NEED_AVX2 | MB_NEED_AVX512 | MB_NEED_NEON);
        else if (!strcmp(cap, "avx2")) f &= ~(unsigned)MB_NEED_AVX512;
    }
    /* MB_NEED_GPU is answered by the CUDA side (mb_cuda_available), not CPUID. */
    return f;
}

unsigned mb_cpu_features(void)
{
    static int done;
    static unsigned f;
    if (!done) { /* idempotent: a race only recomputes the same value */
        f = detect();
        done = 1;
    }
    return f;
}

#if MB_HAVE_CUDA
int mb_cuda_available(void);
#endif

int mb_kernel_available(const struct mb_kernel *k)
{
    unsigned have = mb_cpu_features();
#if MB_HAVE_CUDA
    if (k->needs & MB_NEED_GPU && mb_cuda_available()) have |= MB_NEED_GPU;
#endif
    unsigned need = k->needs & MB_NEED_MASK;
    return (need & have) == need;
}

const struct mb_kernel *mb_kernel_find(enum mb_kind kind, const char *variant)
{
    for (int i = 0; i < mb_kernel_count; i++)
        if (mb_kernels[i].kind == kind && !strcmp(mb_kernels[i].variant, variant)) return &mb_kernels[i];
    return NULL;
}

const char *mb_cpu_isa_string(void)
{
    unsigned f = mb_cpu_features();
    if (f & MB_NEED_AVX512) return "avx512 avx2 scalar";
    if (f & MB_NEED_AVX2) return "avx2 scalar";
    if (f & MB_NEED_NEON) return "neon scalar";
    return "scalar";
}
