/*
 * report_console.c: Google Benchmark 1.7.1's ConsoleReporter, byte for byte (GBENCH.md §4; fixtures
 * console*.stdout.txt): the context header on the error stream, a dashed header before the first row
 * (tabular mode: again whenever the counter names change), fixed-width time columns, counters with
 * 1.7.1's SI suffixes, and the ANSI colour scheme of --benchmark_color.
 */
#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

enum color { C_DEFAULT = 0, C_RED = 1, C_GREEN = 2, C_YELLOW = 3, C_CYAN = 6 };

/* GB's ColorPrintf: a start code unless default, the text, then a reset; plain printf without colour */
__attribute__((format(printf, 3, 4))) static void cprintf(struct mb_reporter *r, enum color c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (r->color && c != C_DEFAULT) fprintf(r->out, "\033[0;3%dm", (int)c);
    vfprintf(r->out, fmt, ap);
    if (r->color) fputs("\033[m", r->out);
    va_end(ap);
}

/* 13 columns per time: a space, up to 2 unit letters, 10 for the number (GB's FormatTime) */
static void format_time(char *buf, size_t size, double t)
{
    if (t < 1.0)
        snprintf(buf, size, "%10.3f", t);
    else if (t < 10.0)
        snprintf(buf, size, "%10.2f", t);
    else if (t < 100.0)
        snprintf(buf, size, "%10.1f", t);
    else if (t > 9999999999.0)
        snprintf(buf, size, "%1.4e", t);
    else
        snprintf(buf, size, "%10.0f", t);
}

void mb_format_human(char *buf, size_t size, double v, double one_k)
{
    /* 1.7.1 uses the SI letters for base 1024 too (1.8.3 switched to Ki/Mi); 1.1 is its edge softening */
    static const char big[] = "kMGTPEZY", small[] = "munpfazy";
    const double thresh = 1.1, big_thresh = thresh * one_k;
    const char *sign = "";
    if (v < 0) {
        sign = "-";
        v = -v;
    }
    if (v > big_thresh) {
        double s = v;
        for (int i = 0; i < 8; i++) {
            s /= one_k;
            if (s <= big_thresh) {
                snprintf(buf, size, "%s%g%c", sign, s, big[i]);
                return;
            }
        }
    } else if (v < thresh && v < 0.01) {
        double s = v;
        for (int i = 0; i < 8; i++) {
            s *= one_k;
            if (s >= thresh) {
                snprintf(buf, size, "%s%g%c", sign, s, small[i]);
                return;
            }
        }
    }
    snprintf(buf, size, "%s%g", sign, v);
}

void mb_report_basic_context(FILE *f, const struct mb_report_context *c)
{
    const struct mb_machine *m = c->machine;
    fprintf(f, "%s\n", c->date);
    fprintf(f, "Running %s\n", c->executable);
    fprintf(f, "Run on (%d X %g MHz CPU %s)\n", m->num_cpus, m->mhz_per_cpu, m->num_cpus > 1 ? "s" : "");
    if (m->ncaches > 0) {
        fputs("CPU Caches:\n", f);
        for (int i = 0; i < m->ncaches; i++) {
            const struct mb_cache_info *ci = &m->caches[i];
            fprintf(f, "  L%d %s %lld KiB", ci->level, ci->type, ci->size / 1024);
            if (ci->num_sharing != 0) fprintf(f, " (x%d)", m->num_cpus / ci->num_sharing);
            fputc('\n', f);
        }
    }
    fprintf(f, "Load Average: %.2f, %.2f, %.2f\n", m->load_avg[0], m->load_avg[1], m->load_avg[2]);
    for (int i = 0; i < c->npairs; i++) fprintf(f, "%s: %s\n", c->pair_key[i], c->pair_val[i]);
    if (c->perf_counters) fprintf(f, "perf_counters: %s\n", c->perf_counters);
    if (m->cpu_scaling_enabled)
        fputs("***WARNING*** CPU scaling is enabled, the benchmark real time measurements may be noisy and will "
              "incur extra overhead.\n",
              f);
#ifndef __OPTIMIZE__
    fputs("***WARNING*** Library was built as DEBUG. Timings may be affected.\n", f);
#endif
}

static void console_context(struct mb_reporter *r, const struct mb_report_context *c)
{
    r->ctx = c;
    r->printed_header = false;
    r->prev_ncounters = 0;
    mb_report_basic_context(r->err, c);
    fflush(r->err);
}

static bool same_names(const struct mb_reporter *r, const struct mb_run *run)
{
    if (run->ncounters != r->prev_ncounters) return false;
    for (int i = 0; i < run->ncounters; i++)
        if (strcmp(run->counters[i].name, r->prev_names[i]) != 0) return false;
    return true;
}

static void print_header(struct mb_reporter *r, const struct mb_run *run)
{
    char line[4096];
    int n = snprintf(line, sizeof line, "%-*s %13s %15s %12s", r->ctx->name_width, "Benchmark", "Time", "CPU",
                     "Iterations");
    if (run->ncounters > 0 && r->tabular) {
        for (int i = 0; i < run->ncounters && n < (int)sizeof line; i++)
            n += snprintf(line + n, sizeof line - (size_t)n, " %10s", run->counters[i].name);
    } else if (run->ncounters > 0) {
        n += snprintf(line + n, sizeof line - (size_t)n, " UserCounters...");
    }
    n = (int)strlen(line);
    for (int k = 0; k < 3; k++) {
        if (k == 1)
            fputs(line, r->out);
        else
            for (int i = 0; i < n; i++) fputc('-', r->out);
        fputc('\n', r->out);
    }
}

static void print_row(struct mb_reporter *r, const struct mb_run *run)
{
    cprintf(r, C_GREEN, "%-*s ", r->ctx->name_width, run->name);
    if (run->error) {
        cprintf(r, C_RED, "ERROR OCCURRED: '%s'", run->error_message);
        cprintf(r, C_DEFAULT, "\n");
        return;
    }
    if (run->percentage) {
        cprintf(r, C_YELLOW, "%10.2f %-4s %10.2f %-4s ", 100.0 * run->real_time, "%", 100.0 * run->cpu_time, "%");
    } else {
        char rt[64], ct[64];
        const double mult = mb_time_unit_multiplier(run->unit);
        const char *u = mb_time_unit_name(run->unit);
        format_time(rt, sizeof rt, run->real_time * mult);
        format_time(ct, sizeof ct, run->cpu_time * mult);
        cprintf(r, C_YELLOW, "%s %-4s %s %-4s ", rt, u, ct, u);
    }
    cprintf(r, C_CYAN, "%10lld", run->iterations);
    for (int i = 0; i < run->ncounters; i++) {
        const struct mb_counter *c = &run->counters[i];
        char s[64];
        const char *unit = "";
        if (run->percentage) {
            snprintf(s, sizeof s, "%.2f", c->value * 100.0);
            unit = "%";
        } else {
            mb_format_human(s, sizeof s, c->value, c->one_k);
            if (c->flags & MB_COUNTER_RATE) unit = "/s";
        }
        if (r->tabular) {
            int w = (int)(strlen(c->name) > 10 ? strlen(c->name) : 10) - (int)strlen(unit);
            cprintf(r, C_DEFAULT, " %*s%s", w, s, unit);
        } else {
            cprintf(r, C_DEFAULT, " %s=%s%s", c->name, s, unit);
        }
    }
    if (run->label[0]) cprintf(r, C_DEFAULT, " %s", run->label);
    cprintf(r, C_DEFAULT, "\n");
}

static void console_runs(struct mb_reporter *r, const struct mb_run *runs, int n)
{
    for (int i = 0; i < n; i++) {
        const struct mb_run *run = &runs[i];
        if (!r->printed_header || (r->tabular && !same_names(r, run))) {
            r->printed_header = true;
            r->prev_ncounters = run->ncounters;
            for (int k = 0; k < run->ncounters; k++) strcpy(r->prev_names[k], run->counters[k].name);
            print_header(r, run);
        }
        print_row(r, run);
    }
    fflush(r->out);
}

static void console_finish(struct mb_reporter *r)
{
    fflush(r->out);
}

const struct mb_report_ops mb_report_console = {console_context, console_runs, console_finish};

void mb_reporter_init(struct mb_reporter *r, enum mb_format fmt, FILE *out, FILE *err, bool color, bool tabular)
{
    static const struct mb_report_ops *const ops[] = {&mb_report_console, &mb_report_json, &mb_report_csv};
    memset(r, 0, sizeof *r);
    r->ops = ops[fmt];
    r->out = out;
    r->err = err;
    r->color = color && fmt == MB_FORMAT_CONSOLE;
    r->tabular = tabular && fmt == MB_FORMAT_CONSOLE;
    r->first_batch = true;
}
