/*
 * runner.c: Google Benchmark 1.7.1's run loop in C (GBENCH.md §2-§3): filter by name, then per instance
 * pin -> prepare (allocate, run once, validate) -> time run(iters) with GB's iteration growth ->
 * repetitions with the first repetition's iteration count -> aggregates -> reporters.
 *
 * Time: the kernels are multi-threaded inside (OpenMP) and are timed from this one thread, so the CPU
 * time of the process is the sum over all kernel threads (plus spinning workers) and says nothing about
 * how long a call takes. The measured time that drives iteration growth and the rate counters is therefore
 * REAL time (CLOCK_MONOTONIC), as GB's UseRealTime(); cpu_time is still reported (process CPU clock).
 * Instance names stay as the suite gives them (no "/real_time" suffix: this holds for every instance).
 */
#include "runner.h"
#include "report.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- environment failures: file:line and exit (a failed benchmark is data, not this) ------------- */
__attribute__((noreturn, format(printf, 3, 4))) static void die(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(EXIT_FAILURE);
}
#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) die(__FILE__, __LINE__, __VA_ARGS__);                                                             \
    } while (0)

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    CHECK(p, "out of memory (%zu x %zu bytes)", n, size);
    return p;
}

/* ---- clocks ------------------------------------------------------------------------------------ */
static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    CHECK(clock_gettime(id, &ts) == 0, "clock_gettime failed");
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double real_clock(void)
{
    return clock_seconds(CLOCK_MONOTONIC);
}
static double cpu_clock(void)
{
    return clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
}

static double (*clock_real)(void) = real_clock;
static double (*clock_cpu)(void) = cpu_clock;

void mb_runner_set_clocks(double (*real)(void), double (*cpu)(void))
{
    clock_real = real ? real : real_clock;
    clock_cpu = cpu ? cpu : cpu_clock;
}

/* ---- iteration growth (GB's ShouldReportIterationResults / PredictNumItersNeeded) ----------------- */
bool mb_runner_significant(long long iters, double seconds, double real_seconds, double min_time)
{
    return iters >= MB_MAX_ITERS || seconds >= min_time || real_seconds >= 5.0 * min_time;
}

long long mb_runner_next_iters(long long iters, double seconds, double min_time)
{
    double mult = min_time * 1.4 / fmax(seconds, 1e-9);
    if (seconds / min_time <= 0.1) /* under 10% of min_time: grow at most 10x (the estimate is noise) */
        mult = 10.0;
    double next = fmax(mult * (double)iters, (double)iters + 1.0);
    return next >= (double)MB_MAX_ITERS ? MB_MAX_ITERS : llround(next);
}

/* ---- statistics ---------------------------------------------------------------------------------- */
double mb_stat_mean(const double *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    return n > 0 ? s / n : 0.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double mb_stat_median(const double *v, int n)
{
    if (n < 3) return mb_stat_mean(v, n);
    double *c = xcalloc((size_t)n, sizeof *c);
    memcpy(c, v, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2.0;
    free(c);
    return m;
}

double mb_stat_stddev(const double *v, int n)
{
    if (n < 2) return 0.0;
    /* two passes: GB's sum-of-squares form cancels badly when the spread is tiny against the mean */
    double mean = mb_stat_mean(v, n), ss = 0;
    for (int i = 0; i < n; i++) ss += (v[i] - mean) * (v[i] - mean);
    return sqrt(ss / (n - 1));
}

double mb_stat_cv(const double *v, int n)
{
    return n < 2 ? 0.0 : mb_stat_stddev(v, n) / mb_stat_mean(v, n);
}

/* ---- counters ------------------------------------------------------------------------------------ */
static int cmp_counter(const void *a, const void *b)
{
    return strcmp(((const struct mb_counter *)a)->name, ((const struct mb_counter *)b)->name);
}

static void add_counter(struct mb_counter *c, int *n, const char *name, double value, unsigned flags, double one_k)
{
    snprintf(c[*n].name, sizeof c[*n].name, "%s", name);
    c[*n].value = value;
    c[*n].flags = flags;
    c[*n].one_k = one_k;
    ++*n;
}

/* the roofline bound of pct_peak: min(peak_flops, AI * peak_bw) over the known ceilings; 0 = unknown */
static double roof(const struct mb_instance *in)
{
    double r = in->peak_flops > 0 ? in->peak_flops : INFINITY;
    if (in->peak_bw > 0 && in->bytes > 0) r = fmin(r, in->flops / in->bytes * in->peak_bw);
    return isinf(r) ? 0.0 : r;
}

/* The counters of an instance, unfinished (per-iteration amounts), sorted by byte order so uppercase
 * comes first, as GB's std::map. One function serves the runs and the CSV header, so they always agree;
 * for the header (perf == NULL, before any prepare) pct_peak is named whenever there are FLOPs, because
 * the suite may learn the peaks only in prepare. */
static int instance_counters(const struct mb_instance *in, int nperf, const long long *perf, struct mb_counter *c)
{
    int n = 0;
    if (in->flops > 0) add_counter(c, &n, "FLOPS", in->flops, MB_COUNTER_RATE | MB_COUNTER_ITER_INVARIANT, 1000);
    if (in->bytes > 0)
        add_counter(c, &n, "bytes_per_second", in->bytes, MB_COUNTER_RATE | MB_COUNTER_ITER_INVARIANT, 1024);
    if (in->flops > 0 && in->bytes > 0) add_counter(c, &n, "AI", in->flops / in->bytes, 0, 1000);
    if (in->flops > 0 && (roof(in) > 0 || !perf))
        add_counter(c, &n, "pct_peak", 0, 0, 1000); /* set from the finished FLOPS */
    for (int i = 0; i < nperf && n < MB_MAX_COUNTERS; i++)
        add_counter(c, &n, mb_counters_name(i), perf ? (double)perf[i] : 0, MB_COUNTER_AVG_ITERS, 1000);
    qsort(c, (size_t)n, sizeof *c, cmp_counter);
    return n;
}

static bool peak_warned; /* once per run (mb_bench_main) */
static FILE *run_err;    /* mb_bench_main's error stream */

/* GB's Finish(): rate / seconds, iteration-invariant * iters, average / iters */
static void finish_counters(struct mb_counter *c, int n, long long iters, double seconds, const struct mb_instance *in)
{
    double flops_rate = 0;
    for (int i = 0; i < n; i++) {
        if (c[i].flags & MB_COUNTER_RATE) c[i].value /= seconds;
        if (c[i].flags & MB_COUNTER_ITER_INVARIANT) c[i].value *= (double)iters;
        if (c[i].flags & MB_COUNTER_AVG_ITERS) c[i].value /= (double)iters;
        if (strcmp(c[i].name, "FLOPS") == 0) flops_rate = c[i].value;
    }
    for (int i = 0; i < n; i++)
        if (strcmp(c[i].name, "pct_peak") == 0) {
            const double r = roof(in);
            c[i].value = 100.0 * flops_rate / r;
            /* above the compute roof: the peak measured at the start was low (this VM's FMA rate dips for
             * ~0.1 s at times); the number stays as measured, the reader is told once */
            if (c[i].value > 100.0 && r >= in->peak_flops && !peak_warned) {
                peak_warned = true;
                fprintf(run_err ? run_err : stderr,
                        "matbench: warning: %s ran at %.0f%% of the FMA peak measured at the start (%.1f GFLOP/s): "
                        "that measurement was low; `matbench --mb_peak` a few times shows how much this machine's "
                        "peak varies\n",
                        in->name, c[i].value, in->peak_flops * 1e-9);
            }
        }
}

/* ---- the run ------------------------------------------------------------------------------------- */
struct selected {
    struct mb_instance *in;
    int family_index, per_family_instance_index;
};

struct inst_state {
    const struct selected *sel;
    long long iters;
    int reps_done;
    bool prepared, prepare_failed;
    char prepare_msg[MB_MSG_MAX];
    struct mb_run *runs; /* [repeats] */
};

struct bench {
    const struct mb_flags *f;
    FILE *err;
    int repeats;
    long long fixed_iters; /* > 0: no growth */
    double min_time, warmup;
    int nperf;
    enum mb_time_unit unit;
    struct mb_reporter display, file;
    bool has_file, progress;
};

static void vlog(const struct bench *b, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void vlog(const struct bench *b, int level, const char *fmt, ...)
{
    if (b->f->v < level) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(b->err, "-- LOG(%d): ", level);
    vfprintf(b->err, fmt, ap);
    va_end(ap);
}

struct sample {
    double real, cpu;
    long long perf[MB_MAX_COUNTERS];
};

/* One timed call of run(iters). PAPI counters are read just outside the timer boundaries, so they cover
 * the whole timed region and their own cost stays out of the time. */
static bool measure(const struct bench *b, struct mb_instance *in, long long iters, struct sample *s, char *msg)
{
    memset(s, 0, sizeof *s);
    vlog(b, 2, "Running %s for %lld\n", in->name, iters);
    if (b->nperf) mb_counters_start();
    double r0 = clock_real(), c0 = clock_cpu();
    bool ok = in->run(in, iters, msg, MB_MSG_MAX);
    double r1 = clock_real(), c1 = clock_cpu();
    if (b->nperf) mb_counters_stop(s->perf);
    s->real = r1 - r0;
    s->cpu = c1 - c0;
    return ok;
}

static void set_error(struct mb_run *run, const char *msg, long long iters)
{
    run->error = true;
    snprintf(run->error_message, sizeof run->error_message, "%s", msg[0] ? msg : "failed");
    run->iterations = iters;
    run->real_time = run->cpu_time = 0;
}

static void do_repetition(const struct bench *b, struct inst_state *st)
{
    struct mb_instance *in = st->sel->in;
    struct mb_run *run = &st->runs[st->reps_done];
    const bool first = st->reps_done == 0;
    char msg[MB_MSG_MAX] = "";

    memset(run, 0, sizeof *run);
    snprintf(run->name, sizeof run->name, "%s", in->name);
    run->run_name = in->name;
    run->family_index = st->sel->family_index;
    run->per_family_instance_index = st->sel->per_family_instance_index;
    run->type = MB_RUN_ITERATION;
    run->repetitions = b->repeats;
    run->repetition_index = st->reps_done;
    run->threads = in->threads;
    run->unit = b->unit;
    snprintf(run->label, sizeof run->label, "%s", in->label);
    st->reps_done++;

    if (st->prepare_failed) { /* as GB's SkipWithError before the loop: the first attempt's 1 iteration */
        set_error(run, st->prepare_msg, 1);
        return;
    }
    struct sample s;
    if (first && b->warmup > 0 && b->fixed_iters == 0) {
        /* warm-up: the same growth loop against min_warmup_time; its results are discarded */
        for (long long it = 1;; it = mb_runner_next_iters(it, s.real, b->warmup)) {
            if (!measure(b, in, it, &s, msg)) {
                set_error(run, msg, it);
                return;
            }
            if (mb_runner_significant(it, s.real, s.real, b->warmup)) break;
        }
    }
    if (first) st->iters = b->fixed_iters > 0 ? b->fixed_iters : 1;
    for (;;) {
        if (!measure(b, in, st->iters, &s, msg)) {
            set_error(run, msg, st->iters);
            return;
        }
        /* only the first repetition grows; the later ones reuse its count */
        if (!first || b->fixed_iters > 0 || mb_runner_significant(st->iters, s.real, s.real, b->min_time)) break;
        long long next = mb_runner_next_iters(st->iters, s.real, b->min_time);
        vlog(b, 3, "Next iters: %lld\n", next);
        st->iters = next;
    }
    run->iterations = st->iters;
    run->real_time = s.real / (double)st->iters;
    run->cpu_time = s.cpu / (double)st->iters;
    run->ncounters = instance_counters(in, b->nperf, s.perf, run->counters);
    finish_counters(run->counters, run->ncounters, st->iters, s.real, in);
}

/* mean, median, stddev, cv over the non-error runs (none when fewer than 2) */
static int aggregates(const struct mb_run *runs, int n, struct mb_run *agg)
{
    static const char *const stat_name[] = {"mean", "median", "stddev", "cv"};
    static double (*const stat_fn[])(const double *, int) = {mb_stat_mean, mb_stat_median, mb_stat_stddev, mb_stat_cv};
    const struct mb_run *ok[n > 0 ? n : 1];
    int nok = 0;
    for (int i = 0; i < n; i++)
        if (!runs[i].error) ok[nok++] = &runs[i];
    if (nok < 2) return 0;
    double v[nok];
    bool same_label = true;
    for (int i = 1; i < nok; i++) same_label &= strcmp(ok[i]->label, ok[0]->label) == 0;
    for (int s = 0; s < 4; s++) {
        struct mb_run *a = &agg[s];
        *a = *ok[0];
        a->type = MB_RUN_AGGREGATE;
        snprintf(a->name, sizeof a->name, "%s_%s", ok[0]->run_name, stat_name[s]);
        a->aggregate_name = stat_name[s];
        a->percentage = s == 3;
        a->iterations = n; /* GB: the number of runs */
        if (!same_label) a->label[0] = '\0';
        for (int i = 0; i < nok; i++) v[i] = ok[i]->real_time;
        a->real_time = stat_fn[s](v, nok);
        for (int i = 0; i < nok; i++) v[i] = ok[i]->cpu_time;
        a->cpu_time = stat_fn[s](v, nok);
        for (int c = 0; c < a->ncounters; c++) { /* every non-error run of an instance has the same counters */
            for (int i = 0; i < nok; i++) v[i] = ok[i]->counters[c].value;
            a->counters[c].value = stat_fn[s](v, nok);
        }
    }
    return 4;
}

static void progress_clear(const struct bench *b)
{
    if (b->progress) fputs("\r\033[K", b->err);
}

static void report(struct bench *b, const struct mb_run *runs, int n, const struct mb_run *agg, int nagg)
{
    const struct mb_flags *f = b->f;
    progress_clear(b);
    /* *_aggregates_only hides the runs only where there are aggregates */
    bool display_agg_only = (f->report_aggregates_only || f->display_aggregates_only) && nagg > 0;
    bool file_agg_only = f->report_aggregates_only && nagg > 0;
    if (!display_agg_only) b->display.ops->runs(&b->display, runs, n);
    b->display.ops->runs(&b->display, agg, nagg);
    if (b->has_file) {
        if (!file_agg_only) b->file.ops->runs(&b->file, runs, n);
        b->file.ops->runs(&b->file, agg, nagg);
    }
}

static void activate(const struct bench *b, struct inst_state *st)
{
    struct mb_instance *in = st->sel->in;
    (void)b;
    /* pin first, so prepare's first touch places the data where the timed threads run */
    mb_machine_pin(in->threads);
    st->prepare_msg[0] = '\0';
    st->prepare_failed = in->prepare && !in->prepare(in, st->prepare_msg, sizeof st->prepare_msg);
    if (st->prepare_failed && !st->prepare_msg[0]) snprintf(st->prepare_msg, sizeof st->prepare_msg, "prepare failed");
    st->prepared = true;
}

/* release pairs with a successful prepare (a failed prepare cleans up after itself) */
static void deactivate(struct inst_state *st)
{
    if (st->prepared && !st->prepare_failed && st->sel->in->release) st->sel->in->release(st->sel->in);
    st->prepared = false;
}

/* xorshift64: a fixed-seed shuffle for --benchmark_enable_random_interleaving (reproducible order) */
static unsigned long long next_random(unsigned long long *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void run_all(struct bench *b, const struct selected *sel, int nsel)
{
    const int total = nsel * b->repeats;
    const bool interleave = b->f->enable_random_interleaving;
    struct inst_state *st = xcalloc((size_t)nsel, sizeof *st);
    int *order = xcalloc((size_t)total, sizeof *order);
    for (int i = 0; i < nsel; i++) st[i].sel = &sel[i];
    for (int k = 0; k < total; k++) order[k] = k / b->repeats;
    if (interleave) { /* each repetition prepares and releases its instance: one instance's data at a time */
        unsigned long long seed = 0x9e3779b97f4a7c15ULL;
        for (int k = total - 1; k > 0; k--) {
            int j = (int)(next_random(&seed) % (unsigned long long)(k + 1)), t = order[k];
            order[k] = order[j];
            order[j] = t;
        }
    }
    for (int k = 0; k < total; k++) {
        struct inst_state *s = &st[order[k]];
        if (!s->runs) s->runs = xcalloc((size_t)b->repeats, sizeof *s->runs);
        if (b->progress) {
            fprintf(b->err, "\r\033[K[%d/%d] %s", k + 1, total, s->sel->in->name);
            fflush(b->err);
        }
        if (!s->prepared) activate(b, s);
        do_repetition(b, s);
        if (interleave || s->reps_done == b->repeats) deactivate(s);
        if (s->reps_done == b->repeats) {
            struct mb_run agg[4];
            int nagg = aggregates(s->runs, b->repeats, agg);
            report(b, s->runs, b->repeats, agg, nagg);
            free(s->runs);
            s->runs = NULL;
        }
    }
    progress_clear(b);
    free(order);
    free(st);
}

/* ---- setup --------------------------------------------------------------------------------------- */
static bool name_selected(const char *name, const regex_t *re, bool negate)
{
    if (strncmp(name, "DISABLED_", 9) == 0) return false;
    return (regexec(re, name, 0, NULL, 0) == 0) != negate;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int cmp_pair(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void local_date(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    char tz[8];
    localtime_r(&now, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(tz, sizeof tz, "%z", &tm); /* +hhmm -> +hh:mm */
    size_t n = strlen(buf);
    snprintf(buf + n, size - n, "%.3s:%.2s", tz, tz + 3);
}

static bool color_wanted(enum mb_color c, FILE *out)
{
    static const char *const terms[] = {
        "xterm",         "xterm-color",  "xterm-256color",        "screen", "screen-256color", "tmux",
        "tmux-256color", "rxvt-unicode", "rxvt-unicode-256color", "linux",  "cygwin"};
    if (c != MB_COLOR_AUTO) return c == MB_COLOR_ON;
    const char *term = getenv("TERM");
    if (fileno(out) < 0 || !isatty(fileno(out)) || !term) return false;
    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++)
        if (strcmp(term, terms[i]) == 0) return true;
    return false;
}

/* --benchmark_out: written to a temporary file in the same directory and renamed at the end, so the
 * file appears whole or not at all. */
static char pending_tmp[1100];
static void remove_pending(void)
{
    if (pending_tmp[0]) unlink(pending_tmp);
}

static FILE *open_out_file(const char *path)
{
    static bool registered;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return NULL;
    snprintf(pending_tmp, sizeof pending_tmp, "%s.tmpXXXXXX", path);
    int fd = mkstemp(pending_tmp);
    if (fd < 0) {
        pending_tmp[0] = '\0';
        return NULL;
    }
    if (!registered) registered = atexit(remove_pending) == 0;
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask); /* mkstemp makes 0600; the result is an ordinary file */
    FILE *f = fdopen(fd, "w");
    CHECK(f, "fdopen(%s) failed", pending_tmp);
    return f;
}

static void commit_out_file(FILE *f, const char *path)
{
    CHECK(fflush(f) == 0 && !ferror(f), "writing %s failed", pending_tmp);
    CHECK(fclose(f) == 0, "closing %s failed", pending_tmp);
    CHECK(rename(pending_tmp, path) == 0, "rename %s -> %s failed", pending_tmp, path);
    pending_tmp[0] = '\0';
}

static int run_benchmarks(const struct mb_flags *f, const char *argv0, struct mb_instance *inst, int n, FILE *out,
                          FILE *err, FILE *file)
{
    /* filter: "" and "all" mean everything; a leading '-' negates; POSIX ERE, searched (unanchored) */
    const char *spec = f->filter[0] == '\0' || strcmp(f->filter, "all") == 0 ? "." : f->filter;
    const bool negate = spec[0] == '-';
    regex_t re;
    int rc = regcomp(&re, spec + negate, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[256];
        regerror(rc, &re, msg, sizeof msg);
        fprintf(err, "Could not compile benchmark re: %s\n", msg);
        return 0;
    }
    struct selected *sel = xcalloc((size_t)n, sizeof *sel);
    const char **families = xcalloc((size_t)n, sizeof *families);
    int nsel = 0, nfam = 0;
    for (int i = 0; i < n; i++) {
        if (!name_selected(inst[i].name, &re, negate)) continue;
        /* family_index counts the families left after filtering (GB renumbers them) */
        int fam = 0, pfi = 0;
        while (fam < nfam && strcmp(families[fam], inst[i].family) != 0) fam++;
        if (fam == nfam) families[nfam++] = inst[i].family;
        for (int k = 0; k < nsel; k++) pfi += sel[k].family_index == fam;
        sel[nsel++] = (struct selected){&inst[i], fam, pfi};
    }
    regfree(&re);
    free(families);
    if (nsel == 0) {
        fprintf(err, "Failed to match any benchmarks against regex: %s\n", f->filter);
        free(sel);
        return 0;
    }
    if (f->list_tests) {
        for (int i = 0; i < nsel; i++) fprintf(out, "%s\n", sel[i].in->name);
        free(sel);
        return 0;
    }

    struct bench b = {.f = f,
                      .err = err,
                      .repeats = f->repetitions > 0 ? f->repetitions : 0,
                      .fixed_iters = f->min_time_iters,
                      .min_time = f->min_time,
                      .warmup = f->min_warmup_time,
                      .unit = f->time_unit_set ? f->time_unit : MB_UNIT_NS};
    /* one iteration, one repetition, no warm-up; under valgrind (--mb_sim) the suite's run() toggles
     * callgrind collection around the kernel calls, so one iteration gives the per-iteration counts */
    if (f->dry_run || mb_opts.sim) {
        b.fixed_iters = 1;
        b.repeats = b.repeats > 0 ? 1 : 0;
        b.warmup = 0;
    }

    struct mb_report_context ctx = {.executable = argv0};
    /* before the machine context, which records the counter status; where the machine cannot count,
     * mb_counters_setup prints the one stderr line and returns 0: no counter is reported at all */
    if (f->perf_counters[0]) {
        b.nperf = mb_counters_setup(f->perf_counters);
        if (b.nperf > MB_MAX_COUNTERS - 4) b.nperf = MB_MAX_COUNTERS - 4;
        ctx.perf_counters = mb_counters_status();
    }
    struct mb_machine machine;
    memset(&machine, 0, sizeof machine);
    mb_machine_info(&machine);
    ctx.machine = &machine;
    local_date(ctx.date, sizeof ctx.date);

    size_t width = 10;
    for (int i = 0; i < nsel; i++) width = strlen(sel[i].in->name) > width ? strlen(sel[i].in->name) : width;
    if (b.repeats > 1) width += 1 + strlen("stddev"); /* the longest statistic name */
    ctx.name_width = (int)width;

    /* context pairs sorted by key; dry_run as GB 1.9.1 adds it */
    const char *pairs[MB_MAX_CONTEXT + 1][2];
    int npairs = 0;
    bool has_dry = false;
    for (int i = 0; i < f->ncontext; i++) {
        pairs[npairs][0] = f->context_key[i];
        pairs[npairs++][1] = f->context_val[i];
        has_dry |= strcmp(f->context_key[i], "dry_run") == 0;
    }
    if (f->dry_run && !has_dry) {
        pairs[npairs][0] = "dry_run";
        pairs[npairs++][1] = "true";
    }
    qsort(pairs, (size_t)npairs, sizeof pairs[0], cmp_pair);
    const char *keys[MB_MAX_CONTEXT + 1], *vals[MB_MAX_CONTEXT + 1];
    for (int i = 0; i < npairs; i++) {
        keys[i] = pairs[i][0];
        vals[i] = pairs[i][1];
    }
    ctx.npairs = npairs;
    ctx.pair_key = keys;
    ctx.pair_val = vals;

    /* the union of all counter names (the CSV header) */
    char(*names)[MB_COUNTER_NAME_MAX] = xcalloc((size_t)nsel * MB_MAX_COUNTERS + 1, sizeof *names);
    int nnames = 0;
    for (int i = 0; i < nsel; i++) {
        struct mb_counter c[MB_MAX_COUNTERS];
        int nc = instance_counters(sel[i].in, b.nperf, NULL, c);
        for (int k = 0; k < nc; k++) {
            bool seen = false;
            for (int j = 0; j < nnames && !seen; j++) seen = strcmp(names[j], c[k].name) == 0;
            if (!seen) strcpy(names[nnames++], c[k].name);
        }
    }
    qsort(names, (size_t)nnames, sizeof names[0], cmp_name);
    ctx.ncounter_names = nnames;
    ctx.counter_names = (const char(*)[MB_COUNTER_NAME_MAX])names;

    mb_reporter_init(&b.display, f->format, out, err, color_wanted(f->color, out), f->counters_tabular);
    b.display.ops->context(&b.display, &ctx);
    if (file) {
        /* a console or CSV file gets its context header inside; never coloured or tabular */
        mb_reporter_init(&b.file, f->out_format, file, file, false, false);
        b.file.ops->context(&b.file, &ctx);
        b.has_file = true;
    }
    b.progress = fileno(err) >= 0 && isatty(fileno(err));

    run_all(&b, sel, nsel);

    b.display.ops->finish(&b.display);
    if (b.has_file) b.file.ops->finish(&b.file);
    free(names);
    free(sel);
    return 0;
}

int mb_bench_main(int argc, char **argv, int (*get_instances)(struct mb_instance **), FILE *out, FILE *err)
{
    struct mb_flags f;
    peak_warned = false, run_err = err;
    int rc = mb_flags_parse(&f, &argc, argv, out, err);
    if (rc >= 0) return rc;
    if (mb_opts.peak) {
        mb_peak_print(mb_peak_get());
        return 0;
    }
    struct mb_instance *inst = NULL;
    int n = get_instances(&inst);
    if (n < 0) return 1; /* a bad --mb_shape, reported */
    /* GB opens --benchmark_out before anything runs: a bad path ends the program here */
    FILE *file = NULL;
    if (f.out[0] && !(file = open_out_file(f.out))) {
        fprintf(err, "invalid file name: '%s'\n", f.out);
        return 1;
    }
    rc = run_benchmarks(&f, argv[0], inst, n, out, err, file);
    CHECK(fflush(out) == 0, "writing the output failed");
    if (file) commit_out_file(file, f.out); /* also when nothing ran: GB leaves the (empty) file too */
    return rc;
}
