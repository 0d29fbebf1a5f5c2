/*
 * bench.h: the interface between the harness core (flags, runner, reporters: bench/main.c,
 * flags.c, runner.c, report_*.c) and what it measures (the suite: bench/suite.c, validation,
 * machine context, counters, peak).
 *
 * The suite expands the op table x the registry (kernels.def) into instances. The runner filters them
 * by name, then per instance: prepare (allocate, run once, validate against the reference) -> on error
 * an error row; else time run(iters) with Google Benchmark's iteration growth and repetitions;
 * counters are finished per GB rules and reported in every format.
 */
#pragma once
#include "mb.h"

#include <stdbool.h>
#include <stddef.h>

#define MB_NAME_MAX 256
#define MB_MSG_MAX  512

/* One benchmark instance (GB: one family x one argument tuple x one thread count). */
struct mb_instance {
    char name[MB_NAME_MAX];   /* e.g. "gemm/avx512/M:512/N:512/K:512/threads:1" */
    char family[MB_NAME_MAX]; /* name up to the arguments, e.g. "gemm/avx512" (GB family = base name) */
    const struct mb_kernel *kernel;
    int threads;
    double flops; /* per iteration (DESIGN: GEMM 2MNK/batch, attention 4*Tq*Tk*D/head, halved causal) */
    double bytes; /* compulsory traffic per iteration */
    char label[64];
    double peak_flops; /* FLOP/s ceiling for this kernel's ISA x threads (measured, --mb_peak); 0 = unknown */
    double peak_bw;    /* bytes/s ceiling (measured triad, x threads); 0 = unknown */
    /* The runner reports counters FLOPS (rate), bytes_per_second (rate), AI = flops/bytes, and
     * pct_peak = 100 * FLOPS / min(peak_flops, AI * peak_bw) (the roofline bound) when known. */
    void *state; /* suite-owned problem data */
    /* prepare: allocate, run once, validate. Returns false with msg set on failure (-> error row). */
    bool (*prepare)(struct mb_instance *, char *msg, size_t msgsz);
    /* run: execute the kernel `iters` times; false with msg on a kernel error. */
    bool (*run)(struct mb_instance *, long long iters, char *msg, size_t msgsz);
    void (*release)(struct mb_instance *);
};

/* The suite: all instances in registration order (families in order, args, then threads).
 * Returns the count; *out is owned by the suite. -1 (after a message on stderr): a bad --mb_shape. */
int mb_suite_instances(struct mb_instance **out);

/* Machine context (hwloc etc.): key/value pairs to add to the context, in order, after GB's keys.
 * GB's own keys (num_cpus, mhz_per_cpu, caches, load_avg, ...) are filled by mb_machine_info. */
struct mb_cache_info {
    const char *type; /* "Data", "Instruction", "Unified" */
    int level;
    long long size; /* bytes */
    int num_sharing;
};
struct mb_machine {
    char host_name[256];
    int num_cpus;
    double mhz_per_cpu;
    bool cpu_scaling_enabled;
    int ncaches;
    struct mb_cache_info caches[16];
    double load_avg[3];
    int nextra;
    char extra_key[48][64];
    char extra_val[48][512]; /* our keys: hwloc version, compiler, flags, git, openblas config/core, isa, ... */
};
void mb_machine_info(struct mb_machine *m);
/* Pin the calling thread (and OpenMP workers) to cores with hwloc; nthreads cores, one per core. */
void mb_machine_pin(int nthreads);
/* hwloc: physical cores (the default "all cores" thread count), and the data cache sizes passed to kernels
 * in mb_exec (bytes, 0 = unknown; per core for L1d/L2, the whole LLC for L3). */
int mb_machine_cores(void);
void mb_machine_caches(int64_t *l1d, int64_t *l2, int64_t *l3);

/* Hardware counters (PAPI). mb_counters_setup parses a comma list of event names; returns the
 * number usable (0 when the machine cannot count: status() says why, e.g. "unavailable: <reason>"). */
int mb_counters_setup(const char *events);
const char *mb_counters_status(void);
int mb_counters_count(void);
const char *mb_counters_name(int i);
void mb_counters_start(void);
void mb_counters_stop(long long *values); /* accumulates into values[count] */

/* Measured machine peaks (bench/peak.c): an FMA-throughput microkernel per ISA the CPU has and a
 * triad bandwidth test, 1 thread and all cores. Measured once per process (about 1 s), cached. */
struct mb_peak {
    int n;
    char isa[4][16];      /* "avx512", "avx2", "scalar", "neon" */
    double gflops[4][2];  /* [isa][0] = 1 thread, [1] = all cores (never below [0]: the ceiling) */
    double all_raw;       /* the widest ISA's all-cores rate as measured (gflops[0][1] before that floor) */
    int all_cores;        /* cores the all-cores measurements ran on: min(threads, hwloc cores) */
    double triad_gbs[2];  /* [0] = 1 thread, [1] = all cores */
    char triad_note[128]; /* array sizes vs the LLC */
};
const struct mb_peak *mb_peak_get(void);
/* NULL, or why this run's multi-thread figures are not representative: the all-cores FMA rate measured less
 * than 0.75 x all_cores x the 1-thread one (another load, or a vCPU the hypervisor did not schedule). Written to
 * buf (n bytes); the context says it (key "peak_all_cores"), `--mb_peak` prints it. */
const char *mb_peak_scaling_note(const struct mb_peak *p, char *buf, size_t n);
/* --mb_peak: print the peaks as a table on stdout */
void mb_peak_print(const struct mb_peak *p);
/* the microkernels (peak.c, peak_avx2.c, peak_avx512.c): `reps` rounds of independent FMA (scalar: mul+add)
 * chains; return the flops executed */
double mb_peak_fma_scalar(long long reps);
double mb_peak_fma_avx2(long long reps);
double mb_peak_fma_avx512(long long reps);

/* Our own flags (--mb_*), parsed by bench/flags.c, read by the suite. */
struct mb_options {
    int threads;      /* --mb_threads=N: the "all cores" count (default: hwloc cores) */
    bool peak;        /* --mb_peak: measure and print peaks, then exit */
    bool no_validate; /* --mb_no_validate: skip validation (not recommended; recorded in context) */
    bool quick;       /* --mb_quick: smaller default sizes (CI smoke runs) */
    bool sim;         /* --mb_sim: running under valgrind (bench-sim): callgrind toggles per benchmark */
    char shape[1024]; /* --mb_shape=<op>/<Arg>:<v>/...[,...]: these shapes instead of the default lists */
};
extern struct mb_options mb_opts;
