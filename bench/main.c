/*
 * main.c: build/bin/matbench, a Google Benchmark 1.7.1-compatible binary over the suite's instances
 * (`matbench --help`; bench/runner.c does the work).
 */
#include "runner.h"

int main(int argc, char **argv)
{
    return mb_bench_main(argc, argv, mb_suite_instances, stdout, stderr);
}
