/*
 * test_bench.c: the harness (bench/flags.c, runner.c, report_*.c) against Google Benchmark 1.7.1's rules
 * and its real output in tests/gbench/ (structure compared with the numbers masked).
 * The instances are fakes driven by a fake clock, so iteration counts and times are deterministic:
 * "fake/good" succeeds (flops and bytes set), "fake/fail" fails in prepare.
 */
#include "report.h"
#include "runner.h"

#include <dirent.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- fake clock and instances -------------------------------------------------------------------- */
static double fake_now;
static double fake_real(void)
{
    return fake_now;
}
static double fake_cpu(void)
{
    return fake_now * 0.5;
}

static double per_iter = 1e-3;   /* seconds per iteration of fake/good */
static int ncalls;               /* run() calls */
static long long call_iters[64]; /* iters of each call */
static int nprepare;
static const char *watch_path; /* run() records whether this file exists mid-run */
static bool watch_existed;

static double fake_peak = 1e9;
static bool prep_good(struct mb_instance *in, char *msg, size_t n)
{
    (void)msg, (void)n;
    nprepare++;
    in->peak_flops = fake_peak; /* as the suite: peaks known only once prepared */
    return true;
}

static bool prep_fail(struct mb_instance *in, char *msg, size_t n)
{
    (void)in;
    nprepare++;
    snprintf(msg, n, "validation: max_abs_err 3.1e-02 at [0,5] \"q\"");
    return false;
}

static bool run_fake(struct mb_instance *in, long long iters, char *msg, size_t n)
{
    (void)in, (void)msg, (void)n;
    if (ncalls < 64) call_iters[ncalls] = iters;
    /* later calls a little slower: repetitions differ, so aggregates have a spread */
    fake_now += (double)iters * per_iter * (1.0 + 0.1 * (ncalls % 3));
    ncalls++;
    if (watch_path) {
        struct stat sb;
        watch_existed |= stat(watch_path, &sb) == 0;
    }
    return true;
}

static struct mb_instance fakes[3];

static int fake_instances(struct mb_instance **out)
{
    static const char *const names[] = {"fake/good/M:8/threads:1", "fake/good/M:16/threads:1",
                                        "fake/fail/M:8/threads:1"};
    memset(fakes, 0, sizeof fakes);
    for (int i = 0; i < 3; i++) {
        snprintf(fakes[i].name, sizeof fakes[i].name, "%s", names[i]);
        snprintf(fakes[i].family, sizeof fakes[i].family, "%s", i < 2 ? "fake/good" : "fake/fail");
        fakes[i].threads = 1;
        fakes[i].flops = 1000.0 * (i + 1);
        fakes[i].bytes = 400.0;
        fakes[i].prepare = i < 2 ? prep_good : prep_fail;
        fakes[i].run = run_fake;
    }
    *out = fakes;
    return 3;
}

/* Runs the harness with the given arguments (NULL-terminated) on the fakes; *out / *err get the streams. */
static int run_main(char **out, char **err, ...)
{
    char *argv[32] = {"./test_bench"};
    int argc = 1;
    va_list ap;
    va_start(ap, err);
    for (const char *a; (a = va_arg(ap, const char *)) && argc < 31;) argv[argc++] = (char *)a;
    va_end(ap);
    size_t no, ne;
    FILE *fo = open_memstream(out, &no), *fe = open_memstream(err, &ne);
    assert_non_null(fo);
    assert_non_null(fe);
    fake_now = 1000.0;
    ncalls = nprepare = 0;
    mb_runner_set_clocks(fake_real, fake_cpu);
    int rc = mb_bench_main(argc, argv, fake_instances, fo, fe);
    fclose(fo);
    fclose(fe);
    return rc;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static bool matches(const char *pattern, const char *s)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    bool m = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return m;
}

/* next line of *p (in place, newline removed); NULL at the end */
static char *next_line(char **p)
{
    if (!*p || !**p) return NULL;
    char *line = *p, *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = line + strlen(line);
    }
    return line;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* ---- flags --------------------------------------------------------------------------------------- */
static void test_truthy(void **state)
{
    (void)state;
    const char *yes[] = {"", "1", "t", "y", "Y", "true", "yes", "on", "foo", "TRUE"};
    const char *no[] = {"0", "f", "F", "n", "N", "false", "No", "OFF", "-"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) assert_true(mb_flags_truthy(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) assert_false(mb_flags_truthy(no[i]));
}

static void expect_error(const char *arg, const char *expected_err, int expected_rc)
{
    char *out, *err;
    int rc = run_main(&out, &err, arg, NULL);
    assert_int_equal(rc, expected_rc);
    assert_string_equal(err, expected_err);
    assert_int_equal(nprepare, 0); /* nothing ran */
    free(out);
    free(err);
}

static void test_flag_errors(void **state)
{
    (void)state;
    /* wording and exit codes of tests/gbench/flag_errors.txt */
    expect_error("--benchmark_repetitions=abc",
                 "The value of flag --benchmark_repetitions is expected to be a 32-bit integer, but actually has value "
                 "\"abc\".\n./test_bench: error: unrecognized command-line flag: --benchmark_repetitions=abc\n",
                 1);
    expect_error("--benchmark_min_time=0.5q",
                 "The value of flag --benchmark_min_time is expected to be a double, but actually has value "
                 "\"0.5q\".\n./test_bench: error: unrecognized command-line flag: --benchmark_min_time=0.5q\n",
                 1);
    expect_error("-h", "./test_bench: error: unrecognized command-line flag: -h\n", 1);
    expect_error("positional_arg", "./test_bench: error: unrecognized command-line flag: positional_arg\n", 1);
    expect_error("--benchmark_context=novalue",
                 "./test_bench: error: unrecognized command-line flag: --benchmark_context=novalue\n", 1);
    expect_error("--benchmark_repetitions", /* an int flag needs a value */
                 "./test_bench: error: unrecognized command-line flag: --benchmark_repetitions\n", 1);
    expect_error("--benchmark_out=/nonexistent/dir/x.json", "invalid file name: '/nonexistent/dir/x.json'\n", 1);

    /* bad format / unit: usage on stdout, exit 0 (GB's quirk) */
    char *out, *err;
    assert_int_equal(run_main(&out, &err, "--benchmark_format=xml", NULL), 0);
    assert_true(strncmp(out, "benchmark [--benchmark_list_tests={true|false}]\n", 48) == 0);
    assert_int_equal(nprepare, 0);
    free(out), free(err);
    assert_int_equal(run_main(&out, &err, "--benchmark_time_unit=h", NULL), 0);
    assert_true(strncmp(out, "benchmark [", 11) == 0);
    free(out), free(err);
}

static void test_help_matches_fixture(void **state)
{
    (void)state;
    char *out, *err, *help = read_file("tests/gbench/help.txt");
    assert_non_null(help);
    assert_int_equal(run_main(&out, &err, "--benchmark_filter=x", "--help", NULL), 0);
    /* GB's usage text verbatim (the fixture's last line is the recorder's "exit=0"), then ours */
    char *end = strstr(help, "exit=");
    assert_non_null(end);
    *end = '\0';
    assert_true(strncmp(out, help, strlen(help)) == 0);
    assert_non_null(strstr(out + strlen(help), "--mb_threads"));
    assert_non_null(strstr(out + strlen(help), "--mb_peak"));
    free(out), free(err), free(help);
}

static void test_flag_values(void **state)
{
    (void)state;
    struct mb_flags f;
    char a0[] = "x", a1[] = "--benchmark_min_time=0.01s", a2[] = "--benchmark_repetitions=4",
         a3[] = "--benchmark_context=b=2,a=1", a4[] = "--benchmark_out_format=csv", a5[] = "--benchmark_out=o.json",
         a6[] = "--benchmark_list_tests", a7[] = "--mb_threads=3", a8[] = "--mb_quick";
    char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, NULL};
    int argc = 9;
    assert_int_equal(mb_flags_parse(&f, &argc, argv, stdout, stderr), -1);
    assert_int_equal(argc, 1);
    assert_true(f.min_time == 0.01 && f.min_time_iters == 0);
    assert_int_equal(f.repetitions, 4);
    assert_int_equal(f.ncontext, 2);
    assert_string_equal(f.context_key[0], "b");
    assert_string_equal(f.context_val[1], "1");
    assert_int_equal(f.out_format, MB_FORMAT_CSV);
    assert_string_equal(f.out, "o.json"); /* --benchmark_out does not swallow --benchmark_out_format */
    assert_true(f.list_tests);
    assert_int_equal(mb_opts.threads, 3);
    assert_true(mb_opts.quick);

    char b1[] = "--benchmark_min_time=10x", b2[] = "--benchmark_min_time=0.25", b3[] = "--benchmark_min_time=2x";
    char *argv2[] = {a0, b1, NULL};
    argc = 2;
    assert_int_equal(mb_flags_parse(&f, &argc, argv2, stdout, stderr), -1);
    assert_true(f.min_time_iters == 10);
    char *argv3[] = {a0, b3, b2, NULL}; /* the last one wins */
    argc = 3;
    assert_int_equal(mb_flags_parse(&f, &argc, argv3, stdout, stderr), -1);
    assert_true(f.min_time == 0.25 && f.min_time_iters == 0);
}

static void test_env_defaults(void **state)
{
    (void)state;
    char *out, *err;
    setenv("BENCHMARK_FORMAT", "csv", 1);
    setenv("BENCHMARK_FILTER", "M:16", 1);
    setenv("BENCHMARK_MIN_TIME", "5x", 1);
    assert_int_equal(run_main(&out, &err, NULL), 0);
    assert_true(strncmp(out, "name,iterations,real_time,", 26) == 0);
    assert_int_equal(count_lines(out), 2); /* header + the one M:16 instance */
    assert_non_null(strstr(out, "\"fake/good/M:16/threads:1\",5,"));
    free(out), free(err);
    /* a flag overrides its variable */
    assert_int_equal(run_main(&out, &err, "--benchmark_format=json", NULL), 0);
    assert_true(out[0] == '{');
    free(out), free(err);
    /* a bad value in the environment is reported and the default kept */
    setenv("BENCHMARK_REPETITIONS", "abc", 1);
    assert_int_equal(run_main(&out, &err, NULL), 0);
    assert_non_null(strstr(err, "Environment variable BENCHMARK_REPETITIONS is expected to be a 32-bit integer, but "
                                "actually has value \"abc\".\n"));
    assert_int_equal(count_lines(out), 2);
    free(out), free(err);
    unsetenv("BENCHMARK_FORMAT");
    unsetenv("BENCHMARK_FILTER");
    unsetenv("BENCHMARK_MIN_TIME");
    unsetenv("BENCHMARK_REPETITIONS");
}

/* ---- names, filter, list ------------------------------------------------------------------------- */
static void expect_list(const char *filter, const char *expected_out, const char *expected_err)
{
    char *out, *err;
    assert_int_equal(run_main(&out, &err, "--benchmark_list_tests=true", filter, NULL), 0);
    assert_string_equal(out, expected_out);
    assert_string_equal(err, expected_err);
    assert_int_equal(nprepare, 0);
    free(out), free(err);
}

static void test_filter_and_list(void **state)
{
    (void)state;
    const char *all = "fake/good/M:8/threads:1\nfake/good/M:16/threads:1\nfake/fail/M:8/threads:1\n";
    expect_list("--benchmark_filter=", all, "");
    expect_list("--benchmark_filter=all", all, "");
    expect_list("--benchmark_filter=M:8/", "fake/good/M:8/threads:1\nfake/fail/M:8/threads:1\n", "");
    expect_list("--benchmark_filter=good/M:(8|16)/", "fake/good/M:8/threads:1\nfake/good/M:16/threads:1\n", "");
    expect_list("--benchmark_filter=-good", "fake/fail/M:8/threads:1\n", "");
    expect_list("--benchmark_filter=^threads", "", "Failed to match any benchmarks against regex: ^threads\n");
    char *out, *err;
    assert_int_equal(run_main(&out, &err, "--benchmark_filter=[", NULL), 0);
    assert_true(strncmp(err, "Could not compile benchmark re: ", 32) == 0);
    free(out), free(err);
}

/* ---- iteration growth and aggregates ------------------------------------------------------------- */
static void test_iteration_growth(void **state)
{
    (void)state;
    /* 1 ms per iteration, min_time 0.5 s: 1 -> 10 -> 100 (both under 10% of min_time: x10), then
     * 100 took 0.1 s, x(0.7/0.1) = 700, which reaches 0.5 s */
    assert_int_equal(mb_runner_next_iters(1, 0.001, 0.5), 10);
    assert_int_equal(mb_runner_next_iters(100, 0.1, 0.5), 700);
    assert_int_equal(mb_runner_next_iters(5, 0.0, 0.5), 50);
    assert_int_equal(mb_runner_next_iters(1, 0.45, 0.5), 2); /* at least one more */
    assert_int_equal(mb_runner_next_iters(600000000, 0.4, 0.5), MB_MAX_ITERS);
    assert_true(mb_runner_significant(MB_MAX_ITERS, 0, 0, 0.5));
    assert_false(mb_runner_significant(100, 0.1, 0.1, 0.5));
    assert_true(mb_runner_significant(100, 0.1, 2.5, 0.5));

    char *out, *err;
    per_iter = 1e-3;
    assert_int_equal(run_main(&out, &err, "--benchmark_filter=good/M:8/", "--benchmark_min_time=0.5",
                              "--benchmark_repetitions=3", "--benchmark_format=json", NULL),
                     0);
    /* fake times: call k costs iters * 1 ms * (1 + 0.1 (k mod 3)): 1, 10 (x1.1), 100 (x1.2: 0.12 s ->
     * x 0.7/0.12 = 583.33 -> 583), 583 reaches 0.5 s; repetitions 2 and 3 reuse 583 */
    assert_int_equal(ncalls, 6);
    long long expect[] = {1, 10, 100, 583, 583, 583};
    for (int i = 0; i < 6; i++) assert_int_equal(call_iters[i], expect[i]);
    assert_non_null(strstr(out, "\"iterations\": 583,"));
    assert_non_null(strstr(out, "\"aggregate_name\": \"cv\""));
    free(out), free(err);
}

static void test_statistics(void **state)
{
    (void)state;
    const double odd[] = {3, 1, 2}, even[] = {4, 1, 3, 2}, two[] = {1, 4}, one[] = {7};
    const double s8[] = {2, 4, 4, 4, 5, 5, 7, 9};
    assert_float_equal(mb_stat_median(odd, 3), 2.0, 1e-15);
    assert_float_equal(mb_stat_median(even, 4), 2.5, 1e-15);
    assert_float_equal(mb_stat_median(two, 2), 2.5, 1e-15); /* n < 3: the mean */
    assert_float_equal(mb_stat_mean(s8, 8), 5.0, 1e-15);
    assert_float_equal(mb_stat_stddev(s8, 8), 2.1380899352993950, 1e-12); /* sample: sqrt(32/7) */
    assert_float_equal(mb_stat_cv(s8, 8), 2.1380899352993950 / 5.0, 1e-12);
    assert_float_equal(mb_stat_stddev(one, 1), 0.0, 0);
    assert_float_equal(mb_stat_cv(one, 1), 0.0, 0);
}

/* ---- escaping ------------------------------------------------------------------------------------ */
static char *capture(void (*fn)(FILE *, const char *), const char *s)
{
    char *buf;
    size_t n;
    FILE *f = open_memstream(&buf, &n);
    fn(f, s);
    fclose(f);
    return buf;
}

static void test_escaping(void **state)
{
    (void)state;
    char *j = capture(mb_json_write_string, "a\"b\\c\n\t\r\b\f\x01\x1f/é");
    assert_string_equal(j, "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f/é\"");
    char *c = capture(mb_csv_write_string, "say \"hi\", ok\\");
    assert_string_equal(c, "\"say \"\"hi\"\", ok\\\"");
    free(j), free(c);
    char buf[64];
    mb_format_human(buf, sizeof buf, 5.28786e9, 1000);
    assert_string_equal(buf, "5.28786G");
    mb_format_human(buf, sizeof buf, 494.043 * 1024 * 1024, 1024); /* 1.7.1: SI letters for base 1024 too */
    assert_string_equal(buf, "494.043M");
    mb_format_human(buf, sizeof buf, 16, 1000);
    assert_string_equal(buf, "16");
    mb_format_human(buf, sizeof buf, 1100, 1000); /* up to 1.1k stays unscaled */
    assert_string_equal(buf, "1100");
    mb_format_human(buf, sizeof buf, 0.005, 1000);
    assert_string_equal(buf, "5m");
    mb_format_human(buf, sizeof buf, 0, 1000);
    assert_string_equal(buf, "0");
}

/* ---- console structure vs tests/gbench ----------------------------------------------------------- */
/* a normal row: name in W, times in 10 + unit in 4, iterations in 10 */
static bool console_row(const char *line, int w)
{
    char pat[256];
    snprintf(
        pat, sizeof pat,
        "^.{%d} [ 0-9.e+]{10} (ns|us|ms|s ) {2} [ 0-9.e+]{10} (ns|us|ms|s ) {2} [ 0-9]{10}( [^ ]+=[^ ]+)*( [^ =]+)?$",
        w);
    return matches(pat, line);
}

static bool console_special_row(const char *line, int w)
{
    char err[64], cv[160];
    snprintf(err, sizeof err, "^.{%d} ERROR OCCURRED: '.*'$", w);
    snprintf(cv, sizeof cv, "^.{%d} [ 0-9.]{10} %%    [ 0-9.]{10} %%    [ 0-9]{10}( [^ ]+=[0-9.]+%%)*( [^ =]+)?$", w);
    return matches(err, line) || matches(cv, line);
}

/* checks the console table; returns the number of rows */
static int check_console(char *text, bool fixture)
{
    char *p = text, *dash1 = next_line(&p), *header = next_line(&p), *dash2 = next_line(&p);
    assert_non_null(dash2);
    assert_true(matches("^Benchmark +Time +CPU +Iterations( UserCounters\\.\\.\\.)?$", header));
    assert_true(matches("^-+$", dash1));
    assert_string_equal(dash1, dash2);
    assert_int_equal(strlen(dash1), strlen(header));
    const int w = (int)(strstr(header, "Time") - header) - 10; /* "%-*s %13s": W + 1 + 13 - 4 */
    int rows = 0;
    for (char *line; (line = next_line(&p)); rows++) {
        if (fixture && (strstr(line, "_BigO") || strstr(line, "_RMS"))) continue; /* complexity rows: we have none */
        if (!console_row(line, w) && !console_special_row(line, w))
            fail_msg("row does not have the 1.7.1 layout (W=%d): '%s'", w, line);
    }
    return rows;
}

static void check_context_header(char *text)
{
    static const char *const pats[] = {
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}$",
        "^Running .+$",
        "^Run on \\([0-9]+ X [0-9.]+ MHz CPU s?\\)$",
    };
    char *p = text;
    for (int i = 0; i < 3; i++) {
        char *line = next_line(&p);
        assert_non_null(line);
        if (!matches(pats[i], line)) fail_msg("context line %d: '%s'", i + 1, line);
    }
    bool load = false;
    for (char *line; (line = next_line(&p));) {
        if (strcmp(line, "CPU Caches:") == 0 ||
            matches("^  L[0-9] (Data|Instruction|Unified) [0-9]+ KiB( \\(x[0-9]+\\))?$", line))
            continue;
        if (matches("^Load Average: [0-9]+\\.[0-9]{2}, [0-9]+\\.[0-9]{2}, [0-9]+\\.[0-9]{2}$", line)) {
            load = true;
            continue;
        }
        if (!matches("^(\\*\\*\\*WARNING\\*\\*\\* .*|[^ :]+: .*)$", line))
            fail_msg("unexpected context line '%s'", line);
    }
    assert_true(load);
}

static void test_console_vs_fixture(void **state)
{
    (void)state;
    char *fix = read_file("tests/gbench/console.stdout.txt"), *fix_err = read_file("tests/gbench/console.stderr.txt");
    assert_non_null(fix);
    assert_non_null(fix_err);
    assert_int_equal(check_console(fix, true), 20);
    check_context_header(fix_err);

    char *out, *err;
    assert_int_equal(run_main(&out, &err, "--benchmark_min_time=0.01", "--benchmark_repetitions=2",
                              "--benchmark_context=compiler=gcc,build=O2", NULL),
                     0);
    assert_null(strchr(out, '\033'));
    assert_non_null(strstr(err, "\nbuild: O2\ncompiler: gcc\n")); /* pairs sorted */
    /* W = longest name (24) + 1 + strlen("stddev"): "Time" right-aligned in 13 after W + 1 */
    assert_int_equal(strstr(out, "Time") - strstr(out, "Benchmark"), 31 + 1 + 9);
    assert_int_equal(check_console(out, false), 2 * (2 + 4) + 2);
    check_context_header(err);
    free(out), free(err), free(fix), free(fix_err);
}

static void test_color_vs_fixture(void **state)
{
    (void)state;
    char *fix = read_file("tests/gbench/console_color.stdout.txt"), *out, *err;
    assert_non_null(fix);
    assert_int_equal(run_main(&out, &err, "--benchmark_min_time=0.01", "--benchmark_color=true", NULL), 0);
    /* the same escape sequence skeleton: a row is green name, yellow times, cyan iterations, resets;
     * every row after the first starts with the reset left by the previous newline; errors in red */
    const char *row = "^(\033\\[m)?\033\\[0;32m[^\033]+\033\\[m\033\\[0;33m[^\033]+\033\\[m\033\\[0;36m +[0-9]+\033\\[m"
                      "( [^\033]+\033\\[m)*$";
    const char *err_row = "^\033\\[m\033\\[0;32m[^\033]+\033\\[m\033\\[0;31mERROR OCCURRED: '[^\033]*'\033\\[m$";
    for (int k = 0; k < 2; k++) {
        char *p = k ? out : fix;
        int rows = 0, errors = 0;
        for (int i = 0; i < 3; i++) next_line(&p);
        for (char *line; (line = next_line(&p));) {
            if (strcmp(line, "\033[m") == 0) /* the reset after the last newline */
                continue;
            rows += matches(row, line);
            errors += matches(err_row, line);
            if (!matches(row, line) && !matches(err_row, line))
                fail_msg("%s colour row: '%s'", k ? "our" : "fixture", line);
        }
        assert_int_equal(errors, 1);
        assert_int_equal(rows, k ? 2 : 8);
    }
    free(fix), free(out), free(err);
}

/* ---- JSON structure vs tests/gbench ---------------------------------------------------------------- */
static const char *const fixed_keys[] = {"name",
                                         "family_index",
                                         "per_family_instance_index",
                                         "run_name",
                                         "run_type",
                                         "repetitions",
                                         "repetition_index",
                                         "threads",
                                         "aggregate_name",
                                         "aggregate_unit",
                                         "error_occurred",
                                         "error_message",
                                         "iterations",
                                         "real_time",
                                         "cpu_time",
                                         "time_unit"};

/* the kinds of entry and the order of their fixed keys, from one JSON text: kind -> "k1,k2,..." */
struct kinds {
    char iteration[512], aggregate[512], cv[512], error[512];
    int n;
};

static void json_kinds(const char *text, struct kinds *k)
{
    memset(k, 0, sizeof *k);
    const char *p = strstr(text, "\"benchmarks\": [");
    assert_non_null(p);
    char keys[512] = "";
    bool agg = false, cv = false, error = false;
    for (const char *line = strchr(p, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        if (strncmp(line, "    }", 5) == 0) {
            char *dst = error ? k->error : cv ? k->cv : agg ? k->aggregate : k->iteration;
            if (dst[0] && strcmp(dst, keys) != 0)
                fail_msg("entries of one kind with different keys: %s vs %s", dst, keys);
            strcpy(dst, keys);
            keys[0] = '\0';
            agg = cv = error = false;
            k->n++;
        } else if (strncmp(line, "      \"", 7) == 0) {
            char key[128];
            assert_int_equal(sscanf(line + 7, "%127[^\"]", key), 1);
            agg |= strcmp(key, "aggregate_name") == 0;
            cv |= strncmp(line, "      \"aggregate_name\": \"cv\"", 29) == 0;
            error |= strcmp(key, "error_occurred") == 0;
            for (size_t i = 0; i < sizeof fixed_keys / sizeof *fixed_keys; i++)
                if (strcmp(key, fixed_keys[i]) == 0) {
                    strcat(keys, key);
                    strcat(keys, ",");
                }
            if (strcmp(key, "real_time") == 0) {
                char copy[256];
                snprintf(copy, sizeof copy, "%.*s", (int)strcspn(line, "\n"), line);
                if (!matches("\": -?[0-9]\\.[0-9]{16}e[+-][0-9]{2,3},$", copy))
                    fail_msg("double not in GB's format: %s", copy);
            }
        }
        if (!strchr(line, '\n')) break;
    }
}

static void test_json_vs_fixture(void **state)
{
    (void)state;
    char *fix = read_file("tests/gbench/out_repetitions.json"), *out, *err;
    assert_non_null(fix);
    assert_int_equal(run_main(&out, &err, "--benchmark_min_time=0.01", "--benchmark_repetitions=3",
                              "--benchmark_format=json", "--benchmark_context=zz=1,aa=\"q\"", NULL),
                     0);
    assert_string_equal(err, ""); /* JSON display: nothing on stderr */
    struct kinds a, b;
    json_kinds(fix, &a);
    json_kinds(out, &b);
    assert_int_equal(b.n, 2 * (3 + 4) + 3);
    assert_string_equal(a.iteration, b.iteration);
    assert_string_equal(a.aggregate, b.aggregate);
    assert_string_equal(a.cv, b.cv);
    assert_string_equal(a.error, b.error);

    /* context keys: the fixture's in its order, plus library_version / json_schema_version, then pairs */
    const char *ctx_keys[] = {
        "date",   "host_name", "executable",      "num_cpus",           "mhz_per_cpu",         "cpu_scaling_enabled",
        "caches", "load_avg",  "library_version", "library_build_type", "json_schema_version", "aa",
        "zz"};
    const char *p = out;
    for (size_t i = 0; i < sizeof ctx_keys / sizeof *ctx_keys; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "\n    \"%s\": ", ctx_keys[i]);
        const char *q = strstr(p, needle);
        if (!q) fail_msg("context key %s missing or out of order", ctx_keys[i]);
        p = q + 1;
    }
    assert_non_null(strstr(out, "\"aa\": \"\\\"q\\\"\",\n"));
    assert_non_null(strstr(out, "\"error_message\": \"validation: max_abs_err 3.1e-02 at [0,5] \\\"q\\\"\",\n"));
    /* counters are top-level keys in byte order (uppercase first) */
    assert_non_null(strstr(out, "\"time_unit\": \"ns\",\n      \"AI\": "));
    assert_true(matches("\"AI\": [^\n]*\n      \"FLOPS\": [^\n]*\n      \"bytes_per_second\": [^\n]*\n      "
                        "\"pct_peak\": [^\n]*\n    }",
                        out));
    assert_true(strlen(out) > 4 && strcmp(out + strlen(out) - 7, "\n  ]\n}\n") == 0);
    free(fix), free(out), free(err);
}

/* ---- CSV structure vs tests/gbench --------------------------------------------------------------- */
static int csv_fields(const char *line, char fields[][128], int max)
{
    int n = 0;
    size_t len = 0;
    bool quoted = false;
    fields[0][0] = '\0';
    for (const char *c = line;; c++) {
        if (quoted && *c == '"' && c[1] == '"') {
            c++;
        } else if (*c == '"') {
            quoted = !quoted;
            continue;
        } else if ((*c == ',' && !quoted) || *c == '\0') {
            fields[n][len] = '\0';
            if (++n == max || *c == '\0') return n;
            len = 0;
            continue;
        }
        if (len < 127) fields[n][len++] = *c;
    }
}

static void check_csv(char *text, const char *expected_header_prefix)
{
    char *p = text, *header = next_line(&p), fields[32][128];
    assert_true(strncmp(header, expected_header_prefix, strlen(expected_header_prefix)) == 0);
    int ncol = csv_fields(header, fields, 32), rows = 0;
    for (char *line; (line = next_line(&p)); rows++) {
        int n = csv_fields(line, fields, 32);
        if (strcmp(fields[8], "true") == 0)
            assert_int_equal(n, 10); /* error rows are short */
        else
            assert_int_equal(n, ncol);
    }
    assert_true(rows > 0);
}

static void test_csv_vs_fixture(void **state)
{
    (void)state;
    const char *fixed = "name,iterations,real_time,cpu_time,time_unit,bytes_per_second,items_per_second,label,"
                        "error_occurred,error_message";
    char *fix = read_file("tests/gbench/out.csv"), *out, *err;
    assert_non_null(fix);
    check_csv(fix, fixed);
    assert_int_equal(
        run_main(&out, &err, "--benchmark_min_time=0.01", "--benchmark_repetitions=2", "--benchmark_format=csv", NULL),
        0);
    const char *counters = ",\"AI\",\"FLOPS\",\"pct_peak\"\n"; /* bytes_per_second has its fixed column */
    assert_true(strncmp(out + strlen(fixed), counters, strlen(counters)) == 0);
    assert_non_null(strstr(out, "\n\"fake/fail/M:8/threads:1\",,,,,,,,true,\"validation: max_abs_err 3.1e-02 at [0,5] "
                                "\"\"q\"\"\"\n"));
    /* pct_peak (peaks set in prepare) has its column and its value */
    assert_true(matches("\n\"fake/good/M:16/threads:1\",[^\n]*,[0-9.]+,[0-9.e+]+,[0-9.]+\n", out));
    check_csv(out, fixed);
    check_context_header(err);
    free(fix), free(out), free(err);
}

/* ---- --benchmark_out ------------------------------------------------------------------------------ */
static int count_dir(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_out_file_whole_or_nothing(void **state)
{
    (void)state;
    char dir[] = "/tmp/mb_test_bench_XXXXXX", path[64], arg[96], *out, *err;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/r.json", dir);
    snprintf(arg, sizeof arg, "--benchmark_out=%s", path);
    watch_path = path;
    watch_existed = false;
    assert_int_equal(run_main(&out, &err, "--benchmark_min_time=0.01", arg, NULL), 0);
    watch_path = NULL;
    assert_false(watch_existed); /* not there while benchmarks ran */
    char *file = read_file(path);
    assert_non_null(file);
    assert_true(file[0] == '{' && strcmp(file + strlen(file) - 7, "\n  ]\n}\n") == 0);
    assert_int_equal(count_dir(dir), 1);        /* no temporary left behind */
    assert_true(strncmp(out, "-----", 5) == 0); /* the display stays console */
    struct stat sb;
    mode_t mask = umask(0);
    umask(mask);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0666 & ~mask); /* an ordinary file, not mkstemp's 0600 */
    free(file), free(out), free(err);

    /* an existing directory is not a file name */
    snprintf(arg, sizeof arg, "--benchmark_out=%s", dir);
    assert_int_equal(run_main(&out, &err, arg, NULL), 1);
    assert_int_equal(nprepare, 0);
    free(out), free(err);
    unlink(path);
    rmdir(dir);
}

static void test_perf_counters_honest(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run_main(&out, &err, "--benchmark_min_time=0.01", "--benchmark_format=json",
                              "--benchmark_filter=good/M:8/", "--benchmark_perf_counters=PAPI_TOT_CYC", NULL),
                     0);
    const char *status = mb_counters_status();
    assert_non_null(strstr(out, "\n    \"perf_counters\": \""));
    if (mb_counters_count() == 0) { /* a machine without a PMU: said once, never zeros */
        assert_true(strncmp(status, "unavailable", 11) == 0);
        assert_null(strstr(out, "\"PAPI_TOT_CYC\":"));
        assert_int_equal(count_lines(err), 0); /* the one line comes from mb_counters_setup, on stderr */
    } else {
        assert_non_null(strstr(out, "\"PAPI_TOT_CYC\":"));
    }
    free(out), free(err);
}

static void test_aggregates_only(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run_main(&out, &err, "--benchmark_min_time=0.01", "--benchmark_repetitions=3",
                              "--benchmark_report_aggregates_only=true", "--benchmark_format=csv", NULL),
                     0);
    /* header, 2 x 4 aggregates, 3 error rows (no aggregates for them: fewer than 2 good runs) */
    assert_int_equal(count_lines(out), 1 + 8 + 3);
    assert_null(strstr(out, "\"fake/good/M:8/threads:1\",")); /* no plain iteration row of a good instance */
    free(out), free(err);
    assert_int_equal(run_main(&out, &err, "--benchmark_repetitions=0", NULL), 0);
    assert_string_equal(out, ""); /* nothing ran: the context only */
    assert_int_equal(ncalls, 0);
    free(out), free(err);
}

/* a rate above the measured FMA peak: the numbers stay as measured, and stderr says once that the peak was low */
static void test_above_peak_warned(void **state)
{
    (void)state;
    char *out, *err;
    fake_peak = 1e6; /* fake/good runs at >= 2 MFLOP/s (>= 1000 FLOP per 0.5 ms of CPU time) */
    assert_int_equal(run_main(&out, &err, "--benchmark_min_time=0.01", "--benchmark_format=csv", NULL), 0);
    fake_peak = 1e9;
    assert_non_null(strstr(out, "\"fake/good/M:8/threads:1\","));
    const char *w = strstr(err, "matbench: warning: fake/good/M:");
    assert_non_null(w);
    assert_non_null(strstr(w, "% of the FMA peak measured at the start (0.0 GFLOP/s): that measurement was low"));
    assert_null(strstr(w + 1, "matbench: warning")); /* once, though both fake/good instances are above it */
    free(out), free(err);
    assert_int_equal(run_main(&out, &err, "--benchmark_min_time=0.01", "--benchmark_format=csv", NULL), 0);
    assert_null(strstr(err, "warning")); /* at the real peak: nothing to say */
    free(out), free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truthy),
        cmocka_unit_test(test_flag_errors),
        cmocka_unit_test(test_help_matches_fixture),
        cmocka_unit_test(test_flag_values),
        cmocka_unit_test(test_env_defaults),
        cmocka_unit_test(test_filter_and_list),
        cmocka_unit_test(test_iteration_growth),
        cmocka_unit_test(test_statistics),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_console_vs_fixture),
        cmocka_unit_test(test_color_vs_fixture),
        cmocka_unit_test(test_json_vs_fixture),
        cmocka_unit_test(test_csv_vs_fixture),
        cmocka_unit_test(test_out_file_whole_or_nothing),
        cmocka_unit_test(test_perf_counters_honest),
        cmocka_unit_test(test_aggregates_only),
        cmocka_unit_test(test_above_peak_warned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
