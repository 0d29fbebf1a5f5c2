/*
 * peak.c: the machine's measured ceilings (bench.h: mb_peak_get), the denominators of pct_peak.
 *
 * Compute: per ISA the CPU has, an FMA-throughput microkernel (peak_<isa>.c; the scalar one here) on
 * 1 thread and on all cores, best of 8 ~20 ms tries. The portable kernels (naive, tiled) are built for
 * the baseline ISA (x86-64: SSE2, no FMA), so their ceiling is mul+add at that width ("sse2"; "scalar"
 * on other architectures).
 * Memory: STREAM triad a[i] = b[i] + s*c[i] on double arrays far larger than the LLC, 3 streams counted
 * (24 bytes per element, write-allocate traffic not counted, as STREAM), best of 3.
 * Measured once per process, only when something is timed; not under valgrind (it would take minutes and
 * measure the simulator).
 */
#include "bench.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <valgrind/valgrind.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#define MB_PEAK_RUN_S 0.02                 /* one timed try */
#define MB_TRIAD_MAX  ((int64_t)256 << 20) /* bytes per array: bounds the time and memory of the test */
#define MB_TRIAD_MIN  ((int64_t)64 << 20)

static volatile float sink;

#if defined(__x86_64__)
/* x86-64: SSE2 is the baseline ISA, and GCC -O2 vectorises the portable kernels with it (tiled ran at 2.4x
 * a scalar mul+add ceiling), so their ceiling is 4-wide mul+add. 12 chains of mul->add (~8 cycles) keep
 * the ports busy; the empty asm keeps each accumulator in its own register. */
double mb_peak_fma_scalar(long long reps)
{
    const __m128 x = _mm_set1_ps(0.5f), y = _mm_set1_ps(0.5f); /* acc -> 1: no overflow, no denormals */
    __m128 a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x;
    for (long long r = 0; r < reps; r++) {
        a0 = _mm_add_ps(_mm_mul_ps(a0, x), y), a1 = _mm_add_ps(_mm_mul_ps(a1, x), y);
        a2 = _mm_add_ps(_mm_mul_ps(a2, x), y), a3 = _mm_add_ps(_mm_mul_ps(a3, x), y);
        a4 = _mm_add_ps(_mm_mul_ps(a4, x), y), a5 = _mm_add_ps(_mm_mul_ps(a5, x), y);
        a6 = _mm_add_ps(_mm_mul_ps(a6, x), y), a7 = _mm_add_ps(_mm_mul_ps(a7, x), y);
        a8 = _mm_add_ps(_mm_mul_ps(a8, x), y), a9 = _mm_add_ps(_mm_mul_ps(a9, x), y);
        a10 = _mm_add_ps(_mm_mul_ps(a10, x), y), a11 = _mm_add_ps(_mm_mul_ps(a11, x), y);
        __asm__ volatile(""
                         : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7), "+x"(a8),
                           "+x"(a9), "+x"(a10), "+x"(a11));
    }
    __m128 s = _mm_add_ps(_mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)),
                          _mm_add_ps(_mm_add_ps(a4, a5), _mm_add_ps(a6, a7)));
    s = _mm_add_ps(s, _mm_add_ps(_mm_add_ps(a8, a9), _mm_add_ps(a10, a11)));
    sink = _mm_cvtss_f32(s);
    return (double)reps * 12 * 4 * 2;
}
#define MB_BASE_ISA "sse2"
#else
/* elsewhere: scalar mul+add chains (a NEON build has its own ISA entry) */
double mb_peak_fma_scalar(long long reps)
{
    float x = 0.5f, y = 0.5f, a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x;
    for (long long r = 0; r < reps; r++) {
        a0 = a0 * x + y, a1 = a1 * x + y, a2 = a2 * x + y, a3 = a3 * x + y, a4 = a4 * x + y;
        a5 = a5 * x + y, a6 = a6 * x + y, a7 = a7 * x + y, a8 = a8 * x + y, a9 = a9 * x + y;
        __asm__ volatile(""
                         : "+w"(a0), "+w"(a1), "+w"(a2), "+w"(a3), "+w"(a4), "+w"(a5), "+w"(a6), "+w"(a7), "+w"(a8),
                           "+w"(a9));
    }
    sink = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9;
    return (double)reps * 10 * 2;
}
#define MB_BASE_ISA "scalar"
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double thread_cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Best GFLOP/s of fn on n threads. One thread: over its own CPU time, so a moment of preemption by another
 * process does not lower the ceiling (a too-low ceiling would put kernels above 100%). All cores: over the
 * wall time from a common start to the last finisher, as the threads must run at the same time (two vCPUs
 * may share one core's FMA units); more tries, as any preemption there costs the whole try. */
static double fma_gflops(double (*fn)(long long), int n)
{
    mb_machine_pin(n);
    long long reps = 1 << 14;
    double t0 = now(), f = fn(reps), t = now() - t0; /* calibrate (and wake the vector units) */
    while (t < 2e-3) {
        reps *= 4;
        t0 = now(), f = fn(reps), t = now() - t0;
    }
    reps = (long long)((double)reps * MB_PEAK_RUN_S / t) + 1;
    double best = 0.0;
    for (int rep = 0; rep < 8; rep++) { /* this VM's FMA rate dips for ~0.1 s at times: 4 tries once read 180 of ~225 */
        if (n == 1) {
            double c0 = thread_cpu();
            f = fn(reps);
            best = fmax(best, f / (thread_cpu() - c0) * 1e-9);
            continue;
        }
        double t1 = 0.0, t2 = 0.0;
#pragma omp parallel num_threads(n)
        {
#pragma omp barrier
#pragma omp master
            t1 = now();
            f = fn(reps); /* same value on every thread */
#pragma omp barrier
#pragma omp master
            t2 = now();
        }
        best = fmax(best, f * n / (t2 - t1) * 1e-9);
    }
    return best;
}

/* best triad GB/s on n threads over arrays of len doubles (first touched by the same threads) */
static double triad_gbs(double *a, const double *b, const double *c, int64_t len, int n)
{
    mb_machine_pin(n);
    double best = 0.0, s = 3.0;
    for (int rep = 0; rep < 3; rep++) {
        double (*clock)(void) = n == 1 ? thread_cpu : now; /* as fma_gflops */
        double t0 = clock();
#pragma omp parallel for num_threads(n) schedule(static)
        for (int64_t i = 0; i < len; i++) a[i] = b[i] + s * c[i];
        double t = clock() - t0;
        best = fmax(best, 3.0 * sizeof(double) * (double)len / t * 1e-9);
    }
    sink = (float)a[len / 2];
    return best;
}

static struct mb_peak peak;

static void measure(void)
{
    const int ncores = mb_machine_cores(), all = mb_opts.threads > 0 ? mb_opts.threads : ncores;
    peak.all_cores = all < ncores ? all : ncores;
    unsigned f = mb_cpu_features();
    struct {
        const char *isa;
        double (*fn)(long long);
        unsigned need;
    } isas[] = {
#if MB_HAVE_X86
        {"avx512", mb_peak_fma_avx512, MB_NEED_AVX512},
        {"avx2", mb_peak_fma_avx2, MB_NEED_AVX2},
#endif
        {MB_BASE_ISA, mb_peak_fma_scalar, 0},
    };
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        if ((isas[i].need & f) != isas[i].need) continue;
        snprintf(peak.isa[peak.n], sizeof peak.isa[0], "%s", isas[i].isa);
        peak.gflops[peak.n][0] = fma_gflops(isas[i].fn, 1);
        const double raw = fma_gflops(isas[i].fn, all);
        if (peak.n == 0) peak.all_raw = raw;
        /* all cores can always do what one does: a preempted all-cores try must not set a lower ceiling */
        peak.gflops[peak.n][1] = fmax(raw, peak.gflops[peak.n][0]);
        peak.n++;
    }
    int64_t l1d, l2, l3, bytes;
    mb_machine_caches(&l1d, &l2, &l3);
    bytes = 4 * l3 > MB_TRIAD_MIN ? 4 * l3 : MB_TRIAD_MIN;
    if (bytes > MB_TRIAD_MAX) bytes = MB_TRIAD_MAX;
    snprintf(peak.triad_note, sizeof peak.triad_note, "3 x %lld MiB arrays, LLC %lld MiB%s", (long long)(bytes >> 20),
             (long long)(l3 >> 20), bytes < 4 * l3 ? " (< 4x LLC: capped, may include cache hits)" : "");
    int64_t len = bytes / (int64_t)sizeof(double);
    double *a = aligned_alloc(64, (size_t)bytes), *b = aligned_alloc(64, (size_t)bytes);
    double *c = aligned_alloc(64, (size_t)bytes);
    if (!a || !b || !c) {
        fprintf(stderr, "%s:%d: cannot allocate 3 x %lld bytes for the triad\n", __FILE__, __LINE__, (long long)bytes);
        exit(EXIT_FAILURE);
    }
    mb_machine_pin(all);
#pragma omp parallel for num_threads(all) schedule(static)
    for (int64_t i = 0; i < len; i++) a[i] = 0.0, b[i] = 1.0, c[i] = 2.0;
    peak.triad_gbs[0] = triad_gbs(a, b, c, len, 1);
    peak.triad_gbs[1] = fmax(triad_gbs(a, b, c, len, all), peak.triad_gbs[0]);
    free(a), free(b), free(c);
}

const struct mb_peak *mb_peak_get(void)
{
    static bool done;
    if (!done) {
        done = true;
        if (!RUNNING_ON_VALGRIND) measure();
    }
    return &peak;
}

const char *mb_peak_scaling_note(const struct mb_peak *p, char *buf, size_t n)
{
    if (p->n == 0 || p->all_cores < 2 || p->all_raw >= 0.75 * p->all_cores * p->gflops[0][0]) return NULL;
    snprintf(buf, n,
             "%s FMA on %d cores measured %.1f GFLOP/s, %.2f x one thread's %.1f: the cores were not all "
             "available (another load, or a vCPU not scheduled); this run's multi-thread figures are not "
             "representative",
             p->isa[0], p->all_cores, p->all_raw, p->all_raw / p->gflops[0][0], p->gflops[0][0]);
    return buf;
}

void mb_peak_print(const struct mb_peak *p)
{
    int all = mb_opts.threads > 0 ? mb_opts.threads : mb_machine_cores();
    if (p->n == 0) {
        printf("peaks not measured%s\n", RUNNING_ON_VALGRIND ? " (running under valgrind)" : "");
        return;
    }
    char hdr[32];
    snprintf(hdr, sizeof hdr, "%d threads", all);
    printf("%-24s %12s %12s\n", "measured peak", "1 thread", hdr);
    for (int i = 0; i < p->n; i++)
        printf("%-6s GFLOP/s (fp32)   %12.1f %12.1f\n", p->isa[i], p->gflops[i][0], p->gflops[i][1]);
    printf("%-24s %12.1f %12.1f\n", "triad GB/s", p->triad_gbs[0], p->triad_gbs[1]);
    printf("triad: %s\n", p->triad_note);
    char note[256];
    if (mb_peak_scaling_note(p, note, sizeof note)) printf("warning: %s\n", note);
}
