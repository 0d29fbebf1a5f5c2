/*
 * report.h: the run records the runner produces and the three reporters (console, JSON, CSV) that format
 * them exactly as Google Benchmark 1.7.1 does (GBENCH.md §4-§6). Reporters only format; every number is
 * final when it reaches them (times per iteration in seconds, counters finished).
 */
#pragma once
#include "bench.h"
#include "flags.h"

#include <stdbool.h>
#include <stdio.h>

#define MB_MAX_COUNTERS     24
#define MB_COUNTER_NAME_MAX 64

/* Counter flags (GB's Counter::Flags, the ones we use). */
enum {
    MB_COUNTER_RATE = 1,           /* divided by the measured seconds */
    MB_COUNTER_ITER_INVARIANT = 2, /* multiplied by the iterations */
    MB_COUNTER_AVG_ITERS = 4,      /* divided by the iterations */
};

struct mb_counter {
    char name[MB_COUNTER_NAME_MAX];
    double value;
    unsigned flags;
    double one_k; /* 1000 or 1024: the base of the console's k/M/G suffixes */
};

enum mb_run_type { MB_RUN_ITERATION, MB_RUN_AGGREGATE };

/* One row of output: a repetition (iteration row) or a statistic over repetitions (aggregate row). */
struct mb_run {
    char name[MB_NAME_MAX + 16]; /* run_name plus "_<stat>" for aggregates */
    const char *run_name;        /* the instance name */
    int family_index, per_family_instance_index;
    enum mb_run_type type;
    int repetitions, repetition_index, threads;
    const char *aggregate_name; /* "mean", "median", "stddev", "cv" */
    bool percentage;            /* cv: times and counters are ratios, not seconds / counter units */
    bool error;
    char error_message[MB_MSG_MAX];
    long long iterations;       /* aggregates: the number of runs */
    double real_time, cpu_time; /* seconds per iteration; the raw ratio when percentage */
    enum mb_time_unit unit;
    int ncounters;
    struct mb_counter counters[MB_MAX_COUNTERS]; /* sorted by name in byte order */
    char label[64];
};

/* What every reporter's context block needs. */
struct mb_report_context {
    const char *executable;
    char date[40]; /* local ISO-8601 with +hh:mm */
    const struct mb_machine *machine;
    int name_width; /* console name column (GBENCH.md §4.2) */
    /* --benchmark_context pairs (+ dry_run), sorted by key */
    int npairs;
    const char *const *pair_key;
    const char *const *pair_val;
    const char *perf_counters; /* counter status when --benchmark_perf_counters was given, else NULL */
    /* union of the counter names of all selected instances, byte order (the CSV header) */
    int ncounter_names;
    const char (*counter_names)[MB_COUNTER_NAME_MAX];
};

struct mb_reporter;
struct mb_report_ops {
    void (*context)(struct mb_reporter *r, const struct mb_report_context *c);
    void (*runs)(struct mb_reporter *r, const struct mb_run *runs, int n);
    void (*finish)(struct mb_reporter *r);
};

struct mb_reporter {
    const struct mb_report_ops *ops;
    FILE *out; /* the rows */
    FILE *err; /* console/CSV context header: stderr for the display reporter, the file for the file reporter */
    bool color, tabular;
    const struct mb_report_context *ctx;
    /* reporter state */
    bool printed_header, first_batch;
    int prev_ncounters;
    char prev_names[MB_MAX_COUNTERS][MB_COUNTER_NAME_MAX];
};

extern const struct mb_report_ops mb_report_console;
extern const struct mb_report_ops mb_report_json;
extern const struct mb_report_ops mb_report_csv;

void mb_reporter_init(struct mb_reporter *r, enum mb_format fmt, FILE *out, FILE *err, bool color, bool tabular);

/* Shared formatting (each defined once, next to its main user). */
/* report_console.c: the context header of the console and CSV reporters */
void mb_report_basic_context(FILE *f, const struct mb_report_context *c);
/* report_console.c: GB 1.7.1 HumanReadableNumber: "5.28786G", "16", "12.5m" */
void mb_format_human(char *buf, size_t size, double v, double one_k);
/* report_json.c: a JSON string with quotes; escapes " \ and every control character */
void mb_json_write_string(FILE *f, const char *s);
/* report_json.c: a double as GB writes it: %.16e, NaN, Infinity, -Infinity */
void mb_json_write_double(FILE *f, double v);
/* report_csv.c: a CSV field in quotes with " doubled */
void mb_csv_write_string(FILE *f, const char *s);
