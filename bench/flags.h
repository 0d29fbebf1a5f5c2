/*
 * flags.h: the Google Benchmark 1.7.1 command line (--benchmark_*, --v, --help, BENCHMARK_* env defaults)
 * plus our --mb_* flags (struct mb_options in bench.h). Parsing rules, messages and exit codes follow
 * GBENCH.md §1 and the 1.7.1 fixture flag_errors.txt.
 */
#pragma once
#include <stdbool.h>
#include <stdio.h>

enum mb_format { MB_FORMAT_CONSOLE, MB_FORMAT_JSON, MB_FORMAT_CSV };
enum mb_time_unit { MB_UNIT_NS, MB_UNIT_US, MB_UNIT_MS, MB_UNIT_S };
enum mb_color { MB_COLOR_AUTO, MB_COLOR_ON, MB_COLOR_OFF };

#define MB_MAX_CONTEXT 32

struct mb_flags {
    bool list_tests;
    char filter[1024];
    double min_time;          /* seconds */
    long long min_time_iters; /* > 0: "--benchmark_min_time=<n>x", exactly n iterations per run */
    double min_warmup_time;
    int repetitions;
    bool enable_random_interleaving;
    bool report_aggregates_only;
    bool display_aggregates_only;
    enum mb_format format;
    char out[1024];
    enum mb_format out_format;
    enum mb_color color;
    bool counters_tabular;
    int ncontext; /* --benchmark_context pairs in the order given; the first of a repeated key wins */
    char context_key[MB_MAX_CONTEXT][64];
    char context_val[MB_MAX_CONTEXT][256];
    bool time_unit_set;
    enum mb_time_unit time_unit;
    char perf_counters[512];
    bool dry_run;
    int v;
};

/* Parses and removes the flags it knows from argv (defaults from the BENCHMARK_* environment first).
 * Returns -1 to go on, or the exit status: 0 after --help or a bad format/colour/unit value (usage
 * printed to out, GB's quirk), 1 after unrecognized arguments (reported on err). */
int mb_flags_parse(struct mb_flags *f, int *argc, char **argv, FILE *out, FILE *err);

/* GB's truthiness: one char is true if alphanumeric and not 0 f F n N; longer is true unless
 * false/no/off (any case); empty is true. */
bool mb_flags_truthy(const char *v);

double mb_time_unit_multiplier(enum mb_time_unit u);
const char *mb_time_unit_name(enum mb_time_unit u);
