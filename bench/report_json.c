/*
 * report_json.c: Google Benchmark's JSONReporter (GBENCH.md §5; fixtures out*.json): the same context keys
 * and entry keys in the same order, 2-space indentation, doubles as %.16e. Additions that keep 1.7.1 and
 * newer tools happy: library_version, json_schema_version 1 (1.8.4+), our machine keys after the
 * --benchmark_context pairs, and strict JSON strings (control characters as \u00XX, which GB passes raw).
 */
#include "report.h"

#include <math.h>
#include <string.h>

#ifndef MB_VERSION
#define MB_VERSION "0.1.0"
#endif

void mb_json_write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void mb_json_write_double(FILE *f, double v)
{
    if (isnan(v))
        fputs("NaN", f);
    else if (isinf(v))
        fputs(v < 0 ? "-Infinity" : "Infinity", f);
    else
        fprintf(f, "%.16e", v); /* max_digits10 - 1 fractional digits: round-trips a double */
}

/* One JSON object being written: keys separated by ",\n", each on its own indented line. */
struct obj {
    FILE *f;
    const char *indent;
    int nkeys;
};

static void key(struct obj *o, const char *k)
{
    fputs(o->nkeys++ ? ",\n" : "", o->f);
    fputs(o->indent, o->f);
    mb_json_write_string(o->f, k);
    fputs(": ", o->f);
}

static void kv_str(struct obj *o, const char *k, const char *v)
{
    key(o, k);
    mb_json_write_string(o->f, v);
}

static void kv_int(struct obj *o, const char *k, long long v)
{
    key(o, k);
    fprintf(o->f, "%lld", v);
}

static void kv_double(struct obj *o, const char *k, double v)
{
    key(o, k);
    mb_json_write_double(o->f, v);
}

static void json_context(struct mb_reporter *r, const struct mb_report_context *c)
{
    const struct mb_machine *m = c->machine;
    FILE *f = r->out;
    struct obj o = {f, "    ", 0};
    r->ctx = c;
    fputs("{\n  \"context\": {\n", f);
    kv_str(&o, "date", c->date);
    kv_str(&o, "host_name", m->host_name);
    kv_str(&o, "executable", c->executable);
    kv_int(&o, "num_cpus", m->num_cpus);
    kv_int(&o, "mhz_per_cpu", llround(m->mhz_per_cpu));
    key(&o, "cpu_scaling_enabled");
    fputs(m->cpu_scaling_enabled ? "true" : "false", f);
    key(&o, "caches");
    fputs("[\n", f);
    for (int i = 0; i < m->ncaches; i++) {
        struct obj ci = {f, "        ", 0};
        fputs("      {\n", f);
        kv_str(&ci, "type", m->caches[i].type);
        kv_int(&ci, "level", m->caches[i].level);
        kv_int(&ci, "size", m->caches[i].size);
        kv_int(&ci, "num_sharing", m->caches[i].num_sharing);
        fputs(i + 1 < m->ncaches ? "\n      },\n" : "\n      }\n", f);
    }
    fputs("    ]", f);
    key(&o, "load_avg");
    fprintf(f, "[%g,%g,%g]", m->load_avg[0], m->load_avg[1], m->load_avg[2]);
    kv_str(&o, "library_version", "matbench-" MB_VERSION);
    /* GB means "built with assertions"; ours is debug when built without optimisation */
#ifdef __OPTIMIZE__
    kv_str(&o, "library_build_type", "release");
#else
    kv_str(&o, "library_build_type", "debug");
#endif
    kv_int(&o, "json_schema_version", 1);
    for (int i = 0; i < c->npairs; i++) kv_str(&o, c->pair_key[i], c->pair_val[i]);
    if (c->perf_counters) kv_str(&o, "perf_counters", c->perf_counters);
    /* the machine's extra keys, minus any a context pair already set (a duplicate key is invalid JSON) */
    for (int i = 0; i < m->nextra; i++) {
        bool dup = c->perf_counters && strcmp(m->extra_key[i], "perf_counters") == 0;
        for (int k = 0; k < c->npairs && !dup; k++) dup = strcmp(m->extra_key[i], c->pair_key[k]) == 0;
        if (!dup) kv_str(&o, m->extra_key[i], m->extra_val[i]);
    }
    fputs("\n  },\n  \"benchmarks\": [\n", f);
}

static void print_entry(FILE *f, const struct mb_run *run)
{
    struct obj o = {f, "      ", 0};
    const bool agg = run->type == MB_RUN_AGGREGATE;
    fputs("    {\n", f);
    kv_str(&o, "name", run->name);
    kv_int(&o, "family_index", run->family_index);
    kv_int(&o, "per_family_instance_index", run->per_family_instance_index);
    kv_str(&o, "run_name", run->run_name);
    kv_str(&o, "run_type", agg ? "aggregate" : "iteration");
    kv_int(&o, "repetitions", run->repetitions);
    if (!agg) kv_int(&o, "repetition_index", run->repetition_index);
    kv_int(&o, "threads", run->threads);
    if (agg) {
        kv_str(&o, "aggregate_name", run->aggregate_name);
        kv_str(&o, "aggregate_unit", run->percentage ? "percentage" : "time");
    }
    if (run->error) {
        key(&o, "error_occurred");
        fputs("true", f);
        kv_str(&o, "error_message", run->error_message);
    }
    kv_int(&o, "iterations", run->iterations);
    const double mult = run->percentage ? 1.0 : mb_time_unit_multiplier(run->unit);
    kv_double(&o, "real_time", run->real_time * mult);
    kv_double(&o, "cpu_time", run->cpu_time * mult);
    kv_str(&o, "time_unit", mb_time_unit_name(run->unit));
    for (int i = 0; i < run->ncounters; i++) kv_double(&o, run->counters[i].name, run->counters[i].value);
    if (run->label[0]) kv_str(&o, "label", run->label);
    fputs("\n    }", f);
}

static void json_runs(struct mb_reporter *r, const struct mb_run *runs, int n)
{
    if (n == 0) return;
    if (!r->first_batch) fputs(",\n", r->out);
    r->first_batch = false;
    for (int i = 0; i < n; i++) {
        print_entry(r->out, &runs[i]);
        if (i + 1 < n) fputs(",\n", r->out);
    }
    fflush(r->out);
}

static void json_finish(struct mb_reporter *r)
{
    fputs("\n  ]\n}\n", r->out);
    fflush(r->out);
}

const struct mb_report_ops mb_report_json = {json_context, json_runs, json_finish};
