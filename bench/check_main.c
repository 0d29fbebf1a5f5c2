/*
 * check_main.c: matbench-check, the conformance runner.
 *
 *   matbench-check [--variant=NAME|all] CASE_DIR...
 *
 * Evaluates every case directory (vectors format, tests/vectors/README.md) with every variant of the
 * registry this machine can run, judges it with mb_case_check (the same judge as tests/test_vectors.c)
 * and prints one line per case and variant, then `N passed, N failed, N skipped`. Exit 0 if nothing
 * failed, 1 on a failure, 2 on bad usage or an unreadable case. Arguments that are plain files (the
 * README.md that globbing tests/vectors brings along) are skipped with a note on stderr.
 */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: matbench-check [--variant=NAME|all] CASE_DIR...\n"
               "\n"
               "Evaluates each case directory (case.txt + .npy inputs + expected outputs, the format of\n"
               "tests/vectors/README.md) with each kernel variant and compares with the expected result using\n"
               "the case's rtol/atol. Error cases must fail with their error word.\n"
               "\n"
               "  --variant=NAME  one variant of the registry (default: all); variants:");
    for (int i = 0; i < mb_kernel_count; i++) {
        bool first = true;
        for (int j = 0; j < i && first; j++) first = strcmp(mb_kernels[j].variant, mb_kernels[i].variant) != 0;
        if (first) fprintf(f, " %s", mb_kernels[i].variant);
    }
    fprintf(f, "\n"
               "\n"
               "Prints `PASS|FAIL|SKIP  <case>  <variant>  <max abs error | message>` per case and variant, a\n"
               "note when a variant lacks a kernel kind and naive ran instead, and finally\n"
               "`N passed, N failed, N skipped`. Exit status: 0 all passed, 1 a failure, 2 usage/unreadable case.\n");
}

/* Why variant v cannot run here, or NULL if it can: all of its kernels' needs must be met. */
static const char *unavailable(const char *v, char *buf, size_t n)
{
    unsigned missing = 0;
    for (int i = 0; i < mb_kernel_count; i++)
        if (!strcmp(mb_kernels[i].variant, v) && !mb_kernel_available(&mb_kernels[i]))
            missing |= mb_kernels[i].needs & MB_NEED_MASK;
    if (!missing) return NULL;
    snprintf(buf, n, "needs%s%s%s%s (this machine: %s)", missing & MB_NEED_AVX2 ? " AVX2+FMA" : "",
             missing & MB_NEED_AVX512 ? " AVX-512" : "", missing & MB_NEED_NEON ? " NEON" : "",
             missing & MB_NEED_GPU ? " a CUDA GPU" : "", mb_cpu_isa_string());
    return buf;
}

/* " (naive for copy, softmax)" from the kinds that fell back, or "" */
static const char *fallback_note(unsigned fell_back, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int k = 0; k < MB_KIND_COUNT; k++)
        if (fell_back & 1u << k)
            o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "%s%s", o ? ", " : " (naive for ", mb_kind_name(k));
    if (o) snprintf(buf + o, o < n ? n - o : 0, ")");
    return buf;
}

static const char *basename_of(const char *dir)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--; /* "tests/vectors/000_x/" names 000_x */
    const char *b = dir + len;
    while (b > dir && b[-1] != '/') b--;
    static char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(dir + len - b), b);
    return name;
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    int ndirs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strncmp(argv[i], "--variant=", 10)) {
            only = !strcmp(argv[i] + 10, "all") ? NULL : argv[i] + 10;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "matbench-check: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            argv[++ndirs] = argv[i]; /* compact the case dirs to argv[1..ndirs] */
        }
    }
    if (ndirs == 0) {
        fprintf(stderr, "matbench-check: no case directory given\n");
        usage(stderr);
        return 2;
    }
    /* the distinct variant names, in registry order */
    const char *variants[256];
    int nv = 0;
    for (int i = 0; i < mb_kernel_count && nv < 256; i++) {
        bool seen = false;
        for (int j = 0; j < nv && !seen; j++) seen = !strcmp(variants[j], mb_kernels[i].variant);
        if (!seen && (!only || !strcmp(only, mb_kernels[i].variant))) variants[nv++] = mb_kernels[i].variant;
    }
    if (only && nv == 0) {
        fprintf(stderr, "matbench-check: unknown variant '%s'\n", only);
        usage(stderr);
        return 2;
    }

    struct mb_exec exec;
    mb_exec_init(&exec, 0, 0);
    int passed = 0, failed = 0, skipped = 0, rc = 0;
    for (int d = 1; d <= ndirs && rc != 2; d++) {
        struct stat sb;
        if (stat(argv[d], &sb) == 0 && !S_ISDIR(sb.st_mode)) { /* e.g. tests/vectors/README.md from a glob */
            fprintf(stderr, "matbench-check: skipping %s: not a directory\n", argv[d]);
            continue;
        }
        struct mb_case cs;
        char msg[1024];
        if (mb_case_load(argv[d], &cs, msg, sizeof msg) != MB_OK) {
            fprintf(stderr, "matbench-check: %s\n", msg);
            rc = 2;
            break;
        }
        const char *name = basename_of(argv[d]);
        for (int v = 0; v < nv; v++) {
            char why[256], detail[1024], note[128];
            if (unavailable(variants[v], why, sizeof why)) {
                printf("SKIP  %-40s  %-8s  %s\n", name, variants[v], why);
                skipped++;
                continue;
            }
            struct mb_opctx ctx = {.variant = variants[v], .exec = &exec};
            struct mb_tensor out, extra;
            enum mb_status st = mb_case_eval(&ctx, &cs, &out, &extra);
            bool ok = mb_case_check(&cs, st, ctx.msg, &out, &extra, detail, sizeof detail);
            printf("%s  %-40s  %-8s  %s%s\n", ok ? "PASS" : "FAIL", name, variants[v], detail,
                   fallback_note(ctx.fell_back, note, sizeof note));
            ok ? passed++ : failed++;
            mb_tensor_free(&out);
            mb_tensor_free(&extra);
        }
        fflush(stdout);
        mb_case_free(&cs);
    }
    mb_exec_free(&exec);
    if (rc == 2) return 2;
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
