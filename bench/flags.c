/*
 * flags.c: the Google Benchmark 1.7.1 command line, re-implemented in C with its exact rules
 * (GBENCH.md §1): only --name=value (bools may be bare), the last repeat wins, every default comes from
 * the upper-cased env var (BENCHMARK_FILTER, V, MB_THREADS, ...), a malformed number prints GB's message
 * and leaves the argument unconsumed so it is then reported as unrecognized (exit 1).
 * Extensions: --benchmark_min_time also takes the 1.8+ forms "<float>s" and "<int>x";
 * --benchmark_dry_run (1.9.1+) and --benchmark_perf_counters (PAPI event names).
 */
#include "flags.h"
#include "bench.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct mb_options mb_opts;

enum flag_kind { F_BOOL, F_INT32, F_DOUBLE, F_STRING, F_MIN_TIME, F_KV };

struct flag {
    const char *name;
    enum flag_kind kind;
    void *p;
    size_t size; /* F_STRING buffer size */
};

/* string-valued flags that are checked after parsing (GB prints the usage for bad values) */
struct raw_values {
    char format[64], out_format[64], color[64], time_unit[64];
};

static const char usage_text[] =
    /* GB 1.7.1's text verbatim (help.txt), then our extensions */
    "benchmark [--benchmark_list_tests={true|false}]\n"
    "          [--benchmark_filter=<regex>]\n"
    "          [--benchmark_min_time=<min_time>]\n"
    "          [--benchmark_min_warmup_time=<min_warmup_time>]\n"
    "          [--benchmark_repetitions=<num_repetitions>]\n"
    "          [--benchmark_enable_random_interleaving={true|false}]\n"
    "          [--benchmark_report_aggregates_only={true|false}]\n"
    "          [--benchmark_display_aggregates_only={true|false}]\n"
    "          [--benchmark_format=<console|json|csv>]\n"
    "          [--benchmark_out=<filename>]\n"
    "          [--benchmark_out_format=<json|console|csv>]\n"
    "          [--benchmark_color={auto|true|false}]\n"
    "          [--benchmark_counters_tabular={true|false}]\n"
    "          [--benchmark_context=<key>=<value>,...]\n"
    "          [--benchmark_time_unit={ns|us|ms|s}]\n"
    "          [--v=<verbosity>]\n"
    "          [--benchmark_dry_run={true|false}]\n"
    "          [--benchmark_perf_counters=<PAPI event>,...]\n"
    "  --benchmark_min_time also accepts <float>s (seconds) and <int>x (exact iterations).\n"
    "matbench options:\n"
    "          [--mb_threads=<n>]            the all-cores thread count (default: hwloc cores)\n"
    "          [--mb_peak]                   measure and print FMA and triad peaks, then exit\n"
    "          [--mb_no_validate]            skip validation before timing (recorded in the context)\n"
    "          [--mb_quick]                  smaller default sizes (CI smoke runs)\n"
    "          [--mb_sim]                    under valgrind: 1 iteration per benchmark, callgrind dump per name\n"
    "          [--mb_shape=<spec>,...]       your shapes instead of the default ones, each in the benchmark-name\n"
    "                                        form <op>/<Arg>:<value>/..., e.g. gemm/M:384/N:768/K:1024 or\n"
    "                                        add/shape:64x4096+4096 (every variant; no size caps)\n";

bool mb_flags_truthy(const char *v)
{
    size_t n = strlen(v);
    if (n == 1) return isalnum((unsigned char)v[0]) && !strchr("0fFnN", v[0]);
    if (n == 0) return true;
    return strcasecmp(v, "false") != 0 && strcasecmp(v, "no") != 0 && strcasecmp(v, "off") != 0;
}

/* "--name=value" -> "value"; a bool (optional value) also matches "--name" -> "". NULL: no match. */
static const char *flag_value(const char *arg, const char *name, bool optional)
{
    size_t n = strlen(name);
    if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, name, n) != 0) return NULL;
    const char *end = arg + 2 + n;
    if (optional && *end == '\0') return end;
    return *end == '=' ? end + 1 : NULL;
}

static bool parse_int32(const char *src, const char *s, int *out, FILE *err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10); /* like GB: an empty string reads as 0 */
    if (*end != '\0') {
        fprintf(err, "%s is expected to be a 32-bit integer, but actually has value \"%s\".\n", src, s);
        return false;
    }
    if (errno == ERANGE || v > INT_MAX || v < INT_MIN) {
        fprintf(err, "%s is expected to be a 32-bit integer, but actually has value \"%s\", which overflows.\n", src,
                s);
        return false;
    }
    *out = (int)v;
    return true;
}

static bool parse_double(const char *src, const char *s, double *out, FILE *err)
{
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0') {
        fprintf(err, "%s is expected to be a double, but actually has value \"%s\".\n", src, s);
        return false;
    }
    *out = v;
    return true;
}

/* 1.7.1 seconds ("0.5"), 1.8+ seconds ("0.5s") or an exact iteration count ("100x") */
static bool parse_min_time(const char *src, const char *s, struct mb_flags *f, FILE *err)
{
    size_t n = strlen(s);
    char *end;
    if (n > 1 && s[n - 1] == 'x') {
        errno = 0;
        long long it = strtoll(s, &end, 10);
        if (end == s + n - 1 && errno == 0 && it > 0) {
            f->min_time_iters = it;
            return true;
        }
    } else {
        double v = strtod(s, &end);
        if (*end == '\0' || (end != s && end[0] == 's' && end[1] == '\0')) {
            f->min_time = v;
            f->min_time_iters = 0;
            return true;
        }
    }
    fprintf(err, "%s is expected to be a double, but actually has value \"%s\".\n", src, s);
    return false;
}

/* "k=v,k=v": each item exactly one '='; on a bad item nothing is taken (GB leaves the flag unconsumed).
 * A key given twice keeps its first value (std::map::emplace). */
static bool parse_kv(const char *s, struct mb_flags *f)
{
    struct mb_flags tmp = *f;
    char buf[4096];
    if (strlen(s) >= sizeof buf) return false;
    strcpy(buf, s);
    if (buf[0] == '\0') return true;
    char *item = buf;
    for (char *next; item; item = next) {
        next = strchr(item, ',');
        if (next) *next++ = '\0';
        char *eq = strchr(item, '=');
        if (!eq || strchr(eq + 1, '=')) return false;
        *eq = '\0';
        bool seen = false;
        for (int i = 0; i < tmp.ncontext; i++) seen |= strcmp(tmp.context_key[i], item) == 0;
        if (seen) continue;
        if (tmp.ncontext == MB_MAX_CONTEXT || strlen(item) >= sizeof tmp.context_key[0] ||
            strlen(eq + 1) >= sizeof tmp.context_val[0])
            return false;
        strcpy(tmp.context_key[tmp.ncontext], item);
        strcpy(tmp.context_val[tmp.ncontext], eq + 1);
        tmp.ncontext++;
    }
    *f = tmp;
    return true;
}

static bool set_string(char *dst, size_t size, const char *s)
{
    if (strlen(s) >= size) return false;
    strcpy(dst, s);
    return true;
}

/* Applies one value; src names the origin for messages ("The value of flag --x" / "Environment variable X"). */
static bool apply(const struct flag *fl, const char *s, const char *src, bool env, struct mb_flags *f, FILE *err)
{
    switch (fl->kind) {
    case F_BOOL: *(bool *)fl->p = mb_flags_truthy(s); return true;
    case F_INT32: return parse_int32(src, s, fl->p, err);
    case F_DOUBLE: return parse_double(src, s, fl->p, err);
    case F_STRING: return set_string(fl->p, fl->size, s);
    case F_MIN_TIME: return parse_min_time(src, s, f, err);
    case F_KV:
        if (parse_kv(s, f)) return true;
        if (env) /* GB says so for the environment; a bad flag is just unrecognized */
            fprintf(err,
                    "%s is expected to be a comma-separated list of <key>=<value> strings, but actually has "
                    "value \"%s\".\n",
                    src, s);
        return false;
    }
    return false;
}

static bool parse_format(const char *s, enum mb_format *out)
{
    static const char *const names[] = {"console", "json", "csv"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum mb_format)i;
            return true;
        }
    return false;
}

static const char *const unit_names[] = {"ns", "us", "ms", "s"};

const char *mb_time_unit_name(enum mb_time_unit u)
{
    return unit_names[u];
}

double mb_time_unit_multiplier(enum mb_time_unit u)
{
    static const double mult[] = {1e9, 1e6, 1e3, 1.0};
    return mult[u];
}

int mb_flags_parse(struct mb_flags *f, int *argc, char **argv, FILE *out, FILE *err)
{
    struct raw_values raw = {"console", "json", "auto", ""};
    memset(f, 0, sizeof *f);
    memset(&mb_opts, 0, sizeof mb_opts);
    f->min_time = 0.5;
    f->repetitions = 1;

    const struct flag flags[] = {
        {"benchmark_list_tests", F_BOOL, &f->list_tests, 0},
        {"benchmark_filter", F_STRING, f->filter, sizeof f->filter},
        {"benchmark_min_time", F_MIN_TIME, NULL, 0},
        {"benchmark_min_warmup_time", F_DOUBLE, &f->min_warmup_time, 0},
        {"benchmark_repetitions", F_INT32, &f->repetitions, 0},
        {"benchmark_enable_random_interleaving", F_BOOL, &f->enable_random_interleaving, 0},
        {"benchmark_report_aggregates_only", F_BOOL, &f->report_aggregates_only, 0},
        {"benchmark_display_aggregates_only", F_BOOL, &f->display_aggregates_only, 0},
        {"benchmark_format", F_STRING, raw.format, sizeof raw.format},
        {"benchmark_out_format", F_STRING, raw.out_format, sizeof raw.out_format},
        {"benchmark_out", F_STRING, f->out, sizeof f->out},
        {"benchmark_color", F_STRING, raw.color, sizeof raw.color},
        {"benchmark_counters_tabular", F_BOOL, &f->counters_tabular, 0},
        {"benchmark_context", F_KV, NULL, 0},
        {"benchmark_time_unit", F_STRING, raw.time_unit, sizeof raw.time_unit},
        {"benchmark_perf_counters", F_STRING, f->perf_counters, sizeof f->perf_counters},
        {"benchmark_dry_run", F_BOOL, &f->dry_run, 0},
        {"v", F_INT32, &f->v, 0},
        {"mb_threads", F_INT32, &mb_opts.threads, 0},
        {"mb_peak", F_BOOL, &mb_opts.peak, 0},
        {"mb_no_validate", F_BOOL, &mb_opts.no_validate, 0},
        {"mb_quick", F_BOOL, &mb_opts.quick, 0},
        {"mb_sim", F_BOOL, &mb_opts.sim, 0},
        {"mb_shape", F_STRING, mb_opts.shape, sizeof mb_opts.shape},
    };
    const int nflags = (int)(sizeof flags / sizeof flags[0]);

    /* defaults from the environment: a bad value there is reported and the built-in default kept */
    for (int k = 0; k < nflags; k++) {
        char var[64], src[96];
        size_t i = 0;
        for (; flags[k].name[i] && i < sizeof var - 1; i++) var[i] = (char)toupper((unsigned char)flags[k].name[i]);
        var[i] = '\0';
        const char *s = getenv(var);
        if (!s) continue;
        snprintf(src, sizeof src, "Environment variable %s", var);
        apply(&flags[k], s, src, true, f, err);
    }

    for (int i = 1; i < *argc; i++) {
        bool consumed = false;
        for (int k = 0; k < nflags && !consumed; k++) {
            const char *s = flag_value(argv[i], flags[k].name, flags[k].kind == F_BOOL);
            if (!s) continue;
            char src[96];
            snprintf(src, sizeof src, "The value of flag --%s", flags[k].name);
            /* a malformed value stops the search: the argument stays, to be reported as unrecognized */
            consumed = apply(&flags[k], s, src, false, f, err);
            break;
        }
        if (consumed) {
            memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof argv[0]);
            --*argc;
            --i;
        } else if (flag_value(argv[i], "help", true)) {
            fputs(usage_text, out);
            return 0;
        }
    }

    /* GB quirk kept: a bad format, colour or unit prints the usage and exits 0 */
    bool ok =
        parse_format(raw.format, &f->format) && parse_format(raw.out_format, &f->out_format) && raw.color[0] != '\0';
    if (ok && raw.time_unit[0]) {
        ok = false;
        for (int u = 0; u < 4; u++)
            if (strcmp(raw.time_unit, unit_names[u]) == 0) {
                f->time_unit = (enum mb_time_unit)u;
                f->time_unit_set = ok = true;
            }
    }
    if (!ok) {
        fputs(usage_text, out);
        return 0;
    }
    f->color = strcmp(raw.color, "auto") == 0 ? MB_COLOR_AUTO : mb_flags_truthy(raw.color) ? MB_COLOR_ON : MB_COLOR_OFF;

    if (*argc > 1) {
        for (int i = 1; i < *argc; i++)
            fprintf(err, "%s: error: unrecognized command-line flag: %s\n", argv[0], argv[i]);
        return 1;
    }
    return -1;
}
