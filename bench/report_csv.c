/*
 * report_csv.c: Google Benchmark's CSVReporter (GBENCH.md §6; fixtures out.csv, out_aggregates.csv):
 * the context header on the error stream (so at the top of a CSV file), ten fixed columns, then one
 * quoted column per counter. Two deliberate differences from 1.7.1, both toward 1.8.4+:
 * - the counter columns are the union over all selected instances (the runner knows them before the
 *   first row), so a later instance with a new counter never aborts the run (1.7.1 dies with exit 134);
 * - a cv row holds the raw ratio with an empty time_unit (1.7.1 printed ratio * unit / iterations).
 */
#include "report.h"

#include <string.h>

void mb_csv_write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static const char fixed_columns[] =
    "name,iterations,real_time,cpu_time,time_unit,bytes_per_second,items_per_second,label,error_occurred,"
    "error_message";

static bool is_fixed_counter(const char *name)
{
    return strcmp(name, "bytes_per_second") == 0 || strcmp(name, "items_per_second") == 0;
}

static const struct mb_counter *find(const struct mb_run *run, const char *name)
{
    for (int i = 0; i < run->ncounters; i++)
        if (strcmp(run->counters[i].name, name) == 0) return &run->counters[i];
    return NULL;
}

static void csv_context(struct mb_reporter *r, const struct mb_report_context *c)
{
    r->ctx = c;
    mb_report_basic_context(r->err, c);
    fflush(r->err);
}

static void optional_value(FILE *f, const struct mb_run *run, const char *name)
{
    const struct mb_counter *c = find(run, name);
    if (c) fprintf(f, "%g", c->value);
    fputc(',', f);
}

static void print_row(FILE *f, const struct mb_run *run, const struct mb_report_context *ctx)
{
    mb_csv_write_string(f, run->name);
    fputc(',', f);
    if (run->error) {
        fputs(",,,,,,,true,", f); /* short row: 10 fields, no counter columns (as GB) */
        mb_csv_write_string(f, run->error_message);
        fputc('\n', f);
        return;
    }
    const double mult = run->percentage ? 1.0 : mb_time_unit_multiplier(run->unit);
    fprintf(f, "%lld,%g,%g,%s,", run->iterations, run->real_time * mult, run->cpu_time * mult,
            run->percentage ? "" : mb_time_unit_name(run->unit));
    optional_value(f, run, "bytes_per_second");
    optional_value(f, run, "items_per_second");
    if (run->label[0]) mb_csv_write_string(f, run->label);
    fputs(",,", f);
    for (int i = 0; i < ctx->ncounter_names; i++) {
        if (is_fixed_counter(ctx->counter_names[i])) continue;
        const struct mb_counter *c = find(run, ctx->counter_names[i]);
        fputc(',', f);
        if (c) fprintf(f, "%g", c->value);
    }
    fputc('\n', f);
}

static void csv_runs(struct mb_reporter *r, const struct mb_run *runs, int n)
{
    const struct mb_report_context *ctx = r->ctx;
    if (!r->printed_header) {
        fputs(fixed_columns, r->out);
        /* quoted but not escaped, as GB; our counter names never contain quotes */
        for (int i = 0; i < ctx->ncounter_names; i++)
            if (!is_fixed_counter(ctx->counter_names[i])) fprintf(r->out, ",\"%s\"", ctx->counter_names[i]);
        fputc('\n', r->out);
        r->printed_header = true;
    }
    for (int i = 0; i < n; i++) print_row(r->out, &runs[i], ctx);
    fflush(r->out);
}

static void csv_finish(struct mb_reporter *r)
{
    fflush(r->out);
}

const struct mb_report_ops mb_report_csv = {csv_context, csv_runs, csv_finish};
