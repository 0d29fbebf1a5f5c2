/*
 * test_suite.c: the default suite (names, coverage of the registry, thread variants), validation (a correct
 * result passes, a corrupted one fails naming error and index, the bound sits where the formula says),
 * counters' status and the measured peaks.
 */
#include "bench.h"
#include "validate.h"

#include <math.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <valgrind/valgrind.h>

static float *randv(int64_t n, unsigned seed)
{
    float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
    assert_non_null(p);
    srand(seed);
    for (int64_t i = 0; i < n; i++) p[i] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
    return p;
}

static struct mb_exec exec1(void)
{
    static char work[1 << 20];
    return (struct mb_exec){.work = work, .work_size = sizeof work, .nthreads = 1};
}

/* ---- the suite ----------------------------------------------------------------------------------- */

static void test_names_unique_and_grammar(void **state)
{
    (void)state;
    struct mb_instance *in;
    int n = mb_suite_instances(&in);
    assert_true(n > 0);
    regex_t re;
    assert_int_equal(
        regcomp(&re, "^[a-z0-9_]+/[a-z0-9_]+(/[A-Za-z]+:[^/]+)+/threads:[0-9]+$", REG_EXTENDED | REG_NOSUB), 0);
    for (int i = 0; i < n; i++) {
        if (regexec(&re, in[i].name, 0, NULL, 0) != 0) fail_msg("bad name: %s", in[i].name);
        size_t fl = strlen(in[i].family);
        if (strncmp(in[i].name, in[i].family, fl) || in[i].name[fl] != '/')
            fail_msg("family %s is not the prefix of %s", in[i].family, in[i].name);
        char want[MB_NAME_MAX];
        snprintf(want, sizeof want, "/%s/", in[i].kernel->variant);
        assert_non_null(strstr(in[i].name, want));
        assert_true(in[i].flops >= 0 && in[i].bytes > 0);
        for (int j = 0; j < i; j++)
            if (!strcmp(in[i].name, in[j].name)) fail_msg("duplicate name %s", in[i].name);
    }
    regfree(&re);
}

static void test_every_variant_appears(void **state)
{
    (void)state;
    struct mb_instance *in;
    int n = mb_suite_instances(&in);
    for (int k = 0; k < mb_kernel_count; k++) {
        int found = 0;
        for (int i = 0; i < n; i++) found += in[i].kernel == &mb_kernels[k];
        if (!found) fail_msg("%s/%s is not in the suite", mb_kind_name(mb_kernels[k].kind), mb_kernels[k].variant);
    }
}

/* threaded variants: every threads:1 instance has a twin at all cores; the others only threads:1 */
static void test_thread_variants(void **state)
{
    (void)state;
    struct mb_instance *in;
    int n = mb_suite_instances(&in), all = mb_opts.threads > 0 ? mb_opts.threads : mb_machine_cores();
    for (int i = 0; i < n; i++) {
        bool threaded = in[i].kernel->needs & MB_FLAG_THREADED;
        if (in[i].threads != 1) {
            assert_true(threaded);
            assert_int_equal(in[i].threads, all);
            continue;
        }
        if (all == 1) continue; /* one core (or taskset -c N): no twins, and rows with threads != 1 failed above */
        char twin[MB_NAME_MAX];
        snprintf(twin, sizeof twin, "%.*s%d", (int)(strlen(in[i].name) - 1), in[i].name, all);
        int found = 0;
        for (int j = 0; j < n; j++) found += !strcmp(in[j].name, twin);
        assert_int_equal(found, threaded && all > 1 ? 1 : 0);
    }
}

static void test_flop_counts(void **state)
{
    (void)state;
    struct mb_instance *in;
    int n = mb_suite_instances(&in), seen = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(in[i].name, "gemm/naive/M:64/N:64/K:64/threads:1")) {
            assert_true(in[i].flops == 2.0 * 64 * 64 * 64);
            assert_true(in[i].bytes == 4.0 * 3 * 64 * 64);
            seen++;
        }
        if (!strcmp(in[i].name, "attention/naive/BH:4/S:128/D:64/causal:1/threads:1")) {
            assert_true(in[i].flops == 4.0 * 4 * 128 * 128 * 64 / 2);
            seen++;
        }
        if (!strcmp(in[i].name, "bgemm/naive/B:32/M:20/N:5/K:10/bcast:1/threads:1")) { /* weight read once */
            assert_true(in[i].bytes == 4.0 * (32 * 20 * 10 + 10 * 5 + 32 * 20 * 5));
            seen++;
        }
    }
    assert_int_equal(seen, 3);
}

/* prepare (run once + validate), run, release through the instance interface */
static void test_instance_lifecycle(void **state)
{
    (void)state;
    struct mb_instance *in;
    int n = mb_suite_instances(&in), done = 0;
    char msg[MB_MSG_MAX] = "";
    for (int i = 0; i < n; i++) {
        if (strcmp(in[i].name, "bgemm/naive/B:4/M:10/N:8/K:5/bcast:0/threads:1") &&
            strcmp(in[i].name, "attention/naive/BH:1/S:128/D:64/causal:1/threads:1") &&
            strcmp(in[i].name, "add/naive/shape:32x20x10+20x1/threads:1") &&
            strcmp(in[i].name, "transpose/naive/M:32/N:10/threads:1") &&
            strcmp(in[i].name, "softmax/naive/R:4096/N:1024/threads:1"))
            continue;
        if (!in[i].prepare(&in[i], msg, sizeof msg)) fail_msg("%s: %s", in[i].name, msg);
        assert_true(in[i].run(&in[i], 3, msg, sizeof msg));
        if (!RUNNING_ON_VALGRIND) { /* no memory roofline for a problem that fits in L2 */
            int64_t l1d, l2, l3;
            mb_machine_caches(&l1d, &l2, &l3);
            assert_true(in[i].peak_flops > 0);
            assert_int_equal(in[i].peak_bw > 0, in[i].bytes > (double)l2);
        }
        in[i].release(&in[i]);
        in[i].release(&in[i]); /* idempotent */
        done++;
    }
    assert_int_equal(done, 5);
}

/* ---- validation ---------------------------------------------------------------------------------- */

static void test_tolerance_formula(void **state)
{
    (void)state;
    const double u = 0x1p-24;
    assert_true(fabs(mb_gamma(10) - 10 * u / (1 - 10 * u)) < 1e-20);
    assert_true(fabs(mb_tol_gemm(1000) - 2 * 1002 * u / (1 - 1002 * u)) < 1e-18);
    assert_true(mb_tol_gemm(2048) > mb_tol_gemm(64));
    /* softmax: (2 (4 smax + e) + 1) u + gamma(n) + (rises + 2)(4 smax + e + 2) u */
    double e = MB_EXP_ULPS, want = (2 * (4 * 1.5 + e) + 1) * u + mb_gamma(100) + (3 + 2) * (4 * 1.5 + e + 2) * u;
    assert_true(fabs(mb_tol_softmax(100, 1.5, 3) - want) < 1e-18);
}

static struct mb_gemm small_gemm(int64_t M, int64_t N, int64_t K, float *A, float *B, float *C, float *bias)
{
    /* B given transposed (N x K) as linear's weight, to exercise strides */
    return (struct mb_gemm){.M = M,
                            .N = N,
                            .K = K,
                            .A = A,
                            .a_rs = K,
                            .a_cs = 1,
                            .B = B,
                            .b_rs = 1,
                            .b_cs = K,
                            .C = C,
                            .c_rs = N,
                            .c_cs = 1,
                            .alpha = 1.0f,
                            .bias = bias,
                            .bias_s = 1};
}

static void test_validate_gemm(void **state)
{
    (void)state;
    const int64_t M = 7, N = 9, K = 300;
    float *A = randv(M * K, 1), *B = randv(K * N, 2), *C = randv(M * N, 3), *bias = randv(N, 4);
    struct mb_gemm g = small_gemm(M, N, K, A, B, C, bias);
    struct mb_exec x = exec1();
    assert_int_equal(mb_gemm_naive(&g, &x), MB_OK);
    char msg[MB_MSG_MAX] = "";
    assert_true(mb_validate_gemm(&g, msg, sizeof msg));

    /* the bound of element [3,5]: tol(K) (|A|.|B|)_35 + |bias_5| (+ a denormal floor) */
    double mag = fabs(bias[5]);
    for (int64_t k = 0; k < K; k++) mag += fabs(A[3 * K + k]) * fabs(B[5 * K + k]);
    double bound = mb_tol_gemm(K) * mag, good = C[3 * N + 5];
    C[3 * N + 5] = (float)(good + 0.5 * bound); /* inside: passes */
    assert_true(mb_validate_gemm(&g, msg, sizeof msg));
    C[3 * N + 5] = (float)(good + 2.0 * bound); /* outside: fails and names it */
    assert_false(mb_validate_gemm(&g, msg, sizeof msg));
    assert_non_null(strstr(msg, "validation failed: max error"));
    assert_non_null(strstr(msg, "at [3,5]"));
    assert_non_null(strstr(msg, "(tol "));
    C[3 * N + 5] = NAN; /* an unwritten element */
    assert_false(mb_validate_gemm(&g, msg, sizeof msg));
    assert_non_null(strstr(msg, "at [3,5]"));
    free(A), free(B), free(C), free(bias);
}

static void test_validate_batched_index(void **state)
{
    (void)state;
    const int64_t nb = 3, M = 4, N = 5, K = 6;
    float *A = randv(nb * M * K, 5), *B = randv(K * N, 6), *C = randv(nb * M * N, 7);
    struct mb_gemm g = {.M = M,
                        .N = N,
                        .K = K,
                        .nbatch = 1,
                        .batch = {nb},
                        .A = A,
                        .a_bs = {M * K},
                        .a_rs = K,
                        .a_cs = 1,
                        .B = B,
                        .b_bs = {0},
                        .b_rs = N,
                        .b_cs = 1,
                        .C = C,
                        .c_bs = {M * N},
                        .c_rs = N,
                        .c_cs = 1,
                        .alpha = 1.0f};
    struct mb_exec x = exec1();
    assert_int_equal(mb_gemm_naive(&g, &x), MB_OK);
    char msg[MB_MSG_MAX];
    assert_true(mb_validate_gemm(&g, msg, sizeof msg));
    C[2 * M * N + 1 * N + 4] += 0.25f;
    assert_false(mb_validate_gemm(&g, msg, sizeof msg));
    assert_non_null(strstr(msg, "at [2,1,4]"));
    free(A), free(B), free(C);
}

static void test_validate_softmax_attention_binary(void **state)
{
    (void)state;
    struct mb_exec x = exec1();
    char msg[MB_MSG_MAX];
    /* softmax 6 x 50, causal */
    float *sx = randv(300, 8), *sy = randv(300, 9);
    struct mb_softmax s = {.ndim = 1,
                           .shape = {6},
                           .n = 50,
                           .x = sx,
                           .xs = {50},
                           .x_ns = 1,
                           .y = sy,
                           .ys = {50},
                           .y_ns = 1,
                           .scale = 2.0f,
                           .causal = 1};
    assert_int_equal(mb_softmax_naive(&s, &x), MB_OK);
    assert_true(mb_validate_softmax(&s, msg, sizeof msg));
    sy[4 * 50 + 2] *= 1.001f;
    assert_false(mb_validate_softmax(&s, msg, sizeof msg));
    assert_non_null(strstr(msg, "at [4,2]"));

    /* attention 2 heads x 33 x 16, causal, with weights out */
    const int64_t H = 2, T = 33, D = 16;
    float *q = randv(H * T * D, 10), *k = randv(H * T * D, 11), *v = randv(H * T * D, 12);
    float *o = randv(H * T * D, 13), *w = randv(H * T * T, 14);
    struct mb_attention a = {.Tq = T,
                             .Tk = T,
                             .D = D,
                             .Dv = D,
                             .nbatch = 1,
                             .batch = {H},
                             .q = q,
                             .q_bs = {T * D},
                             .q_ts = D,
                             .q_ds = 1,
                             .k = k,
                             .k_bs = {T * D},
                             .k_ts = D,
                             .k_ds = 1,
                             .v = v,
                             .v_bs = {T * D},
                             .v_ts = D,
                             .v_ds = 1,
                             .o = o,
                             .o_bs = {T * D},
                             .o_ts = D,
                             .o_ds = 1,
                             .w = w,
                             .w_bs = {T * T},
                             .w_qs = T,
                             .w_ks = 1,
                             .scale = 0.25f,
                             .causal = 1};
    assert_int_equal(mb_attention_naive(&a, &x), MB_OK);
    assert_true(mb_validate_attention(&a, msg, sizeof msg));
    o[1 * T * D + 20 * D + 3] += 1e-3f;
    assert_false(mb_validate_attention(&a, msg, sizeof msg));
    assert_non_null(strstr(msg, "at [1,20,3]"));
    o[1 * T * D + 20 * D + 3] -= 1e-3f;
    w[0 * T * T + 5 * T + 9] = 0.1f; /* above the diagonal: must be 0 */
    assert_false(mb_validate_attention(&a, msg, sizeof msg));
    assert_non_null(strstr(msg, "at [0,5,9]"));
    assert_non_null(strstr(msg, "weights"));

    /* add with a broadcast row: one ulp off is outside (IEEE: exactly rounded) */
    float *bx = randv(32 * 10, 15), *by = randv(10, 16), *bz = randv(32 * 10, 17);
    struct mb_binary b = {.op = MB_ADD,
                          .ndim = 2,
                          .shape = {32, 10},
                          .x = bx,
                          .xs = {10, 1},
                          .y = by,
                          .ys = {0, 1},
                          .z = bz,
                          .zs = {10, 1}};
    assert_int_equal(mb_binary_naive(&b, &x), MB_OK);
    assert_true(mb_validate_binary(&b, msg, sizeof msg));
    bz[31 * 10 + 9] = nextafterf(bz[31 * 10 + 9], INFINITY);
    bz[31 * 10 + 9] = nextafterf(bz[31 * 10 + 9], INFINITY);
    assert_false(mb_validate_binary(&b, msg, sizeof msg));
    assert_non_null(strstr(msg, "at [31,9]"));
    free(sx), free(sy), free(q), free(k), free(v), free(o), free(w), free(bx), free(by), free(bz);
}

/* ---- counters and peaks -------------------------------------------------------------------------- */

static void test_counters_status(void **state)
{
    (void)state;
    assert_int_equal(mb_counters_setup(NULL), 0);
    assert_true(!strncmp(mb_counters_status(), "not requested", 13));
    int n = mb_counters_setup("PAPI_TOT_CYC");
    if (n == 0) { /* this VM: no PMU; the status must say so, in PAPI's words */
        assert_true(!strncmp(mb_counters_status(), "unavailable: ", 13));
        assert_int_equal(mb_counters_count(), 0);
        /* ... and the context must not claim countable presets either (libpfm lists Zen 3's on a VM) */
        mb_counters_setup(NULL);
        const char *st = mb_counters_status();
        if (!strstr(st, ": 0 hardware counters") && !strstr(st, "unavailable") && !strstr(st, "without PAPI"))
            fail_msg("context says %s", st);
    } else { /* bare metal: cycles of a busy loop are counted */
        assert_true(!strncmp(mb_counters_status(), "ok: ", 4));
        long long v[8] = {0};
        volatile double s = 0;
        mb_counters_start();
        for (int i = 0; i < 1000000; i++) s += i;
        mb_counters_stop(v);
        assert_true(v[0] > 0);
    }
#if MB_HAVE_PAPI
    /* a software event exercises setup -> start -> stop even without a PMU */
    if (mb_counters_setup("perf::TASK-CLOCK") == 1) {
        assert_string_equal(mb_counters_name(0), "perf::TASK-CLOCK");
        long long v[8] = {0};
        volatile double x = 0;
        struct timespec c0, c1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        mb_counters_start();
        for (int i = 0; i < 20000000; i++) x += i;
        mb_counters_stop(v);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        double ns = 1e9 * (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec);
        /* the task clock counts this thread's CPU nanoseconds: what the thread's CPU clock says */
        if (!(v[0] > 0.8 * ns && v[0] <= 1.01 * ns + 1e5))
            fail_msg("TASK-CLOCK %lld ns vs thread CPU %.0f ns", v[0], ns);
    }
#endif
    assert_int_equal(mb_counters_setup("NO_SUCH_EVENT_XYZ"), 0);
    assert_true(!strncmp(mb_counters_status(), "unavailable: NO_SUCH_EVENT_XYZ", 30));
}

static void test_peaks(void **state)
{
    (void)state;
    const struct mb_peak *p = mb_peak_get();
    if (RUNNING_ON_VALGRIND) { /* not measured under the simulator */
        assert_int_equal(p->n, 0);
        return;
    }
    assert_true(p->n >= 1);
    for (int i = 0; i < p->n; i++) {
        assert_true(p->gflops[i][0] > 0 && p->gflops[i][1] > 0);
        if (i > 0) assert_true(p->gflops[i - 1][0] > p->gflops[i][0]); /* wider ISA, higher peak */
    }
    assert_true(p->triad_gbs[0] > 0 && p->triad_gbs[1] > 0);
    assert_true(mb_peak_get() == p); /* measured once */
    assert_true(p->all_cores >= 1 && p->all_raw > 0);
    /* the scaling note: on a hand-made record, not this machine's (whose second core may come and go) */
    struct mb_peak q = {.n = 1, .isa = {"avx2"}, .gflops = {{100.0, 190.0}}, .all_raw = 190.0, .all_cores = 2};
    char note[256];
    assert_null(mb_peak_scaling_note(&q, note, sizeof note)); /* 1.9x on 2 cores: fine */
    q.all_raw = 102.0, q.gflops[0][1] = 102.0;
    assert_non_null(mb_peak_scaling_note(&q, note, sizeof note)); /* one core's worth on 2 cores */
    assert_non_null(strstr(note, "avx2 FMA on 2 cores measured 102.0 GFLOP/s, 1.02 x one thread's 100.0"));
    q.all_cores = 1, q.all_raw = 100.0;
    assert_null(mb_peak_scaling_note(&q, note, sizeof note)); /* one core: nothing to compare */
    q.n = 0;
    assert_null(mb_peak_scaling_note(&q, note, sizeof note)); /* not measured (valgrind) */
}

static void test_machine_info(void **state)
{
    (void)state;
    static struct mb_machine m;
    mb_machine_info(&m);
    assert_true(m.num_cpus >= 1 && m.ncaches >= 1 && m.caches[0].size > 0 && m.caches[0].num_sharing >= 1);
    const char *want[] = {"hwloc_version", "compiler",          "cflags", "git_revision", "openblas_config",
                          "openblas_core", "OPENBLAS_CORETYPE", "isa",    "peers",        "perf_counters", "transparent_hugepage", "cpu_model"};
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        int found = 0;
        for (int i = 0; i < m.nextra; i++) found += !strcmp(m.extra_key[i], want[w]) && m.extra_val[i][0];
        if (found != 1) fail_msg("context key %s missing or empty", want[w]);
    }
    mb_machine_pin(mb_machine_cores());
    mb_machine_pin(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_unique_and_grammar),
        cmocka_unit_test(test_every_variant_appears),
        cmocka_unit_test(test_thread_variants),
        cmocka_unit_test(test_flop_counts),
        cmocka_unit_test(test_instance_lifecycle),
        cmocka_unit_test(test_tolerance_formula),
        cmocka_unit_test(test_validate_gemm),
        cmocka_unit_test(test_validate_batched_index),
        cmocka_unit_test(test_validate_softmax_attention_binary),
        cmocka_unit_test(test_counters_status),
        cmocka_unit_test(test_peaks),
        cmocka_unit_test(test_machine_info),
    };
    return cmocka_run_group_tests_name("suite", tests, NULL, NULL);
}
