/*
 * runner.h: the harness core. mb_bench_main is the whole program behind build/bin/matbench: flags,
 * filter, iteration growth, repetitions, aggregates, counters, reporters, the --benchmark_out file.
 * Tests call it with their own instances, streams and a fake clock.
 */
#pragma once
#include "bench.h"
#include "flags.h"

#include <stdbool.h>
#include <stdio.h>

/* Parses argv (GB flags + --mb_*), then, unless the flags end the program (--help, errors, --mb_peak),
 * gets the instances from get_instances (called after parsing, so the suite can read mb_opts), filters,
 * runs and reports them. Rows go to out, the context header and messages to err. Returns the exit status. */
int mb_bench_main(int argc, char **argv, int (*get_instances)(struct mb_instance **), FILE *out, FILE *err);

/* Clocks in seconds; NULL restores CLOCK_MONOTONIC (real) and CLOCK_PROCESS_CPUTIME_ID (cpu). */
void mb_runner_set_clocks(double (*real)(void), double (*cpu)(void));

/* Google Benchmark's iteration growth (GBENCH.md §3.1). */
#define MB_MAX_ITERS 1000000000LL
bool mb_runner_significant(long long iters, double seconds, double real_seconds, double min_time);
long long mb_runner_next_iters(long long iters, double seconds, double min_time);

/* GB's statistics over repetitions: median = mean of the middle two when n is even (mean when n < 3),
 * stddev = sample (n-1) standard deviation (0 when n < 2), cv = stddev / mean (0 when n < 2). */
double mb_stat_mean(const double *v, int n);
double mb_stat_median(const double *v, int n);
double mb_stat_stddev(const double *v, int n);
double mb_stat_cv(const double *v, int n);
