/*
 * machine.c: what the results were measured on (bench.h: mb_machine_*), from hwloc, /proc, the build and
 * OpenBLAS, and thread pinning with hwloc.
 * GB's own context keys first (num_cpus, mhz_per_cpu, caches, load_avg), then ours as extra pairs.
 */
#include "bench.h"

#include <cblas.h>
#include <hwloc.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MB_GIT_REV /* the Makefile passes both; a hand build says so */
#define MB_GIT_REV "unknown"
#endif
#ifndef MB_BUILD_FLAGS
#define MB_BUILD_FLAGS "unknown"
#endif

static hwloc_topology_t topology(void)
{
    static hwloc_topology_t t;
    if (!t) {
        if (hwloc_topology_init(&t) != 0 || hwloc_topology_load(t) != 0) {
            fprintf(stderr, "%s:%d: hwloc cannot load the topology\n", __FILE__, __LINE__);
            exit(EXIT_FAILURE);
        }
        /* Cores outside the affinity we were started with (taskset, numactl, a CI cpuset) are not ours:
         * drop them, so pinning, core counts and "all threads" stay inside it. Read once, before any
         * pinning narrows the calling thread's binding. */
        hwloc_bitmap_t own = hwloc_bitmap_alloc();
        if (own && hwloc_get_cpubind(t, own, HWLOC_CPUBIND_PROCESS) == 0 && !hwloc_bitmap_iszero(own) &&
            !hwloc_bitmap_isincluded(hwloc_topology_get_topology_cpuset(t), own))
            hwloc_topology_restrict(t, own, 0);
        hwloc_bitmap_free(own);
    }
    return t;
}

int mb_machine_cores(void)
{
    int n = hwloc_get_nbobjs_by_type(topology(), HWLOC_OBJ_CORE);
    return n > 0 ? n : 1;
}

static int64_t cache_size(hwloc_obj_type_t type)
{
    hwloc_obj_t o = hwloc_get_next_obj_by_type(topology(), type, NULL);
    return o ? (int64_t)o->attr->cache.size : 0;
}

void mb_machine_caches(int64_t *l1d, int64_t *l2, int64_t *l3)
{
    *l1d = cache_size(HWLOC_OBJ_L1CACHE);
    *l2 = cache_size(HWLOC_OBJ_L2CACHE);
    *l3 = cache_size(HWLOC_OBJ_L3CACHE);
}

/* OpenMP thread i -> one PU of core i (wrapping when oversubscribed). The calling thread is OpenMP's
 * thread 0, so it lands on core 0; workers keep their binding while idle between regions. */
void mb_machine_pin(int nthreads)
{
    hwloc_topology_t t = topology();
    int ncores = mb_machine_cores(), failed = 0;
#pragma omp parallel num_threads(nthreads > 0 ? nthreads : 1) reduction(+ : failed)
    {
        hwloc_obj_t core = hwloc_get_obj_by_type(t, HWLOC_OBJ_CORE, (unsigned)(omp_get_thread_num() % ncores));
        hwloc_bitmap_t set = core ? hwloc_bitmap_dup(core->cpuset) : NULL;
        if (set) {
            hwloc_bitmap_singlify(set); /* one PU: no migration between SMT siblings */
            failed += hwloc_set_cpubind(t, set, HWLOC_CPUBIND_THREAD) != 0;
            hwloc_bitmap_free(set);
        } else {
            failed++;
        }
    }
    if (failed) {
        fprintf(stderr, "%s:%d: hwloc cannot bind %d of %d threads to cores\n", __FILE__, __LINE__, failed, nthreads);
        exit(EXIT_FAILURE);
    }
}

static double cpu_mhz(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    double mhz = 0.0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "cpu MHz", 7) && strchr(line, ':')) {
            mhz = atof(strchr(line, ':') + 1);
            break;
        }
    if (f) fclose(f);
    return mhz;
}

/* GB's rule: scaling is on when cpu0 has a governor other than "performance" */
static bool cpu_scaling(void)
{
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "r");
    char gov[64] = "";
    if (!f) return false;
    bool on = fgets(gov, sizeof gov, f) && strncmp(gov, "performance", 11) != 0;
    fclose(f);
    return on;
}

/* The kernel's THP mode, e.g. "madvise" (the bracketed word), or "" when the file is absent */
static void thp_mode(char *out, size_t n)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char line[128] = "", *l, *r;
    out[0] = 0;
    if (!f) return;
    if (fgets(line, sizeof line, f) && (l = strchr(line, '[')) && (r = strchr(l, ']')))
        snprintf(out, n, "%.*s", (int)(r - l - 1), l + 1);
    fclose(f);
}

__attribute__((format(printf, 3, 4))) static void extra(struct mb_machine *m, const char *key, const char *fmt, ...)
{
    if (m->nextra >= (int)(sizeof m->extra_key / sizeof m->extra_key[0])) {
        fprintf(stderr, "%s:%d: too many context keys (at %s)\n", __FILE__, __LINE__, key);
        exit(EXIT_FAILURE);
    }
    snprintf(m->extra_key[m->nextra], sizeof m->extra_key[0], "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->extra_val[m->nextra], sizeof m->extra_val[0], fmt, ap);
    va_end(ap);
    m->nextra++;
}

static void add_caches(struct mb_machine *m)
{
    static const hwloc_obj_type_t types[] = {HWLOC_OBJ_L1CACHE,  HWLOC_OBJ_L1ICACHE, HWLOC_OBJ_L2CACHE,
                                             HWLOC_OBJ_L2ICACHE, HWLOC_OBJ_L3CACHE,  HWLOC_OBJ_L4CACHE,
                                             HWLOC_OBJ_L5CACHE};
    for (size_t i = 0; i < sizeof types / sizeof types[0] && m->ncaches < 16; i++) {
        hwloc_obj_t o = hwloc_get_next_obj_by_type(topology(), types[i], NULL);
        if (!o) continue;
        struct mb_cache_info *c = &m->caches[m->ncaches++];
        c->type = o->attr->cache.type == HWLOC_OBJ_CACHE_DATA          ? "Data"
                  : o->attr->cache.type == HWLOC_OBJ_CACHE_INSTRUCTION ? "Instruction"
                                                                       : "Unified";
        c->level = (int)o->attr->cache.depth;
        c->size = (long long)o->attr->cache.size;
        c->num_sharing = hwloc_bitmap_weight(o->cpuset);
    }
}

void mb_machine_info(struct mb_machine *m)
{
    memset(m, 0, sizeof *m);
    if (gethostname(m->host_name, sizeof m->host_name - 1) != 0) snprintf(m->host_name, sizeof m->host_name, "?");
    m->num_cpus = hwloc_get_nbobjs_by_type(topology(), HWLOC_OBJ_PU);
    m->mhz_per_cpu = cpu_mhz();
    m->cpu_scaling_enabled = cpu_scaling();
    add_caches(m);
    if (getloadavg(m->load_avg, 3) < 0) m->load_avg[0] = m->load_avg[1] = m->load_avg[2] = 0.0;

    /* both VMs this suite was measured on are "vm": the CPU model tells the results apart */
    hwloc_obj_t pkg = hwloc_get_next_obj_by_type(topology(), HWLOC_OBJ_PACKAGE, NULL);
    const char *model = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUModel") : NULL,
               *fam = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUFamilyNumber") : NULL,
               *num = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUModelNumber") : NULL;
    extra(m, "cpu_model", "%s%s%s%s%s%s", model ? model : "unknown", fam ? " (family " : "", fam ? fam : "",
          fam && num ? ", model " : "", fam && num ? num : "", fam ? ")" : "");

    unsigned v = hwloc_get_api_version();
    extra(m, "hwloc_version", "%s (built against; library API %u.%u.%u)", HWLOC_VERSION, v >> 16, (v >> 8) & 0xff,
          v & 0xff);
#ifdef __clang__
    extra(m, "compiler", "clang %s", __VERSION__);
#else
    extra(m, "compiler", "gcc %s", __VERSION__);
#endif
    extra(m, "cflags", "%s", MB_BUILD_FLAGS);
    extra(m, "git_revision", "%s", MB_GIT_REV);
    extra(m, "openblas_config", "%s", openblas_get_config());
    extra(m, "openblas_core", "%s", openblas_get_corename());
    const char *ct = getenv("OPENBLAS_CORETYPE"), *cap = getenv("MB_ISA");
    extra(m, "OPENBLAS_CORETYPE", "%s", ct ? ct : "(unset)");
    extra(m, "isa", "%s%s%s%s", mb_cpu_isa_string(), cap && *cap ? " (capped by MB_ISA=" : "", cap && *cap ? cap : "",
          cap && *cap ? ")" : "");

    char peers[256] = "";
    for (int i = 0; i < mb_kernel_count; i++) {
        const char *var = mb_kernels[i].variant;
        if (!(mb_kernels[i].needs & MB_FLAG_PEER)) continue;
        bool seen = false;
        for (int j = 0; j < i; j++) seen |= (mb_kernels[j].needs & MB_FLAG_PEER) && !strcmp(mb_kernels[j].variant, var);
        size_t o = strlen(peers);
        if (!seen) snprintf(peers + o, sizeof peers - o, "%s%s", o ? " " : "", var);
    }
    extra(m, "peers", "%s", peers);

    int64_t l1d, l2, l3;
    mb_machine_caches(&l1d, &l2, &l3);
    extra(m, "kernel_caches",
          "l1d=%lld l2=%lld l3=%lld (bytes, hwloc; passed in mb_exec, tiled kernels block for them)", (long long)l1d,
          (long long)l2, (long long)l3);
    char thp[32];
    thp_mode(thp, sizeof thp);
    extra(m, "transparent_hugepage", "%s (the suite's workspace asks for huge pages with madvise; operands do not)",
          *thp ? thp : "unknown");
    int all = mb_opts.threads > 0 ? mb_opts.threads : mb_machine_cores();
    extra(m, "threads_all", "%d (one per core, pinned with hwloc)", all);
    extra(m, "perf_counters", "%s", mb_counters_status());
    extra(m, "validation", "%s",
          mb_opts.no_validate ? "off (--mb_no_validate)"
                              : "every instance before timing: GEMM vs OpenBLAS sgemm, element-wise, softmax and "
                                "attention vs fp64; elementwise forward-error-bound tolerance (bench/validate.c)");

    const struct mb_peak *p = mb_peak_get();
    if (p->n == 0) extra(m, "peak", "not measured (running under valgrind)");
    for (int i = 0; i < p->n; i++) {
        char key[64];
        snprintf(key, sizeof key, "peak_gflops_%s_1t", p->isa[i]);
        extra(m, key, "%.1f", p->gflops[i][0]);
        snprintf(key, sizeof key, "peak_gflops_%s_all", p->isa[i]);
        extra(m, key, "%.1f", p->gflops[i][1]);
    }
    char note[256]; /* in the context (JSON, REPORT.md), not on stderr: a loaded machine is not an error */
    if (mb_peak_scaling_note(p, note, sizeof note)) extra(m, "peak_all_cores", "%s", note);
    if (p->n) {
        extra(m, "triad_gbs_1t", "%.1f", p->triad_gbs[0]);
        extra(m, "triad_gbs_all", "%.1f", p->triad_gbs[1]);
        extra(m, "triad_arrays", "%s", p->triad_note);
    }
}
