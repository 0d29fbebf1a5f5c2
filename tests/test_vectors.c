/*
 * test_vectors.c: every case of tests/vectors (or $MB_VECTORS_DIR) with every kernel variant of the
 * registry, through mb_case_eval and judged by mb_case_check, exactly as matbench-check does. One cmocka
 * test per case x variant, named <case>/<variant>; a variant whose ISA this CPU lacks is skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

struct job {
    char dir[1024];
    const char *variant;
};

static struct mb_exec g_exec;

static void run_case(void **state)
{
    const struct job *j = *state;
    for (int i = 0; i < mb_kernel_count; i++)
        if (!strcmp(mb_kernels[i].variant, j->variant) && !mb_kernel_available(&mb_kernels[i])) skip();
    struct mb_case cs;
    char msg[1024], detail[1024];
    if (mb_case_load(j->dir, &cs, msg, sizeof msg) != MB_OK) fail_msg("%s", msg);
    struct mb_opctx ctx = {.variant = j->variant, .exec = &g_exec};
    struct mb_tensor out, extra;
    enum mb_status st = mb_case_eval(&ctx, &cs, &out, &extra);
    bool ok = mb_case_check(&cs, st, ctx.msg, &out, &extra, detail, sizeof detail);
    mb_tensor_free(&out);
    mb_tensor_free(&extra);
    mb_case_free(&cs);
    if (!ok) fail_msg("%s [%s]: %s", j->dir, j->variant, detail);
}

static int is_case(const struct dirent *e) { return e->d_name[0] != '.' && strcmp(e->d_name, "README.md"); }

int main(void)
{
    const char *root = getenv("MB_VECTORS_DIR");
    if (!root || !*root) root = "tests/vectors";
    struct dirent **ents;
    int n = scandir(root, &ents, is_case, alphasort);
    if (n <= 0) {
        fprintf(stderr, "%s:%d: no cases in %s (run from the repository root or set MB_VECTORS_DIR)\n", __FILE__,
                __LINE__, root);
        return 1;
    }
    const char *variants[256];
    int nv = 0;
    for (int i = 0; i < mb_kernel_count && nv < 256; i++) {
        bool seen = false;
        for (int k = 0; k < nv && !seen; k++) seen = !strcmp(variants[k], mb_kernels[i].variant);
        if (!seen) variants[nv++] = mb_kernels[i].variant;
    }
    size_t ntests = (size_t)n * (size_t)nv;
    struct CMUnitTest *tests = calloc(ntests, sizeof *tests);
    struct job *jobs = calloc(ntests, sizeof *jobs);
    char (*names)[320] = calloc(ntests, sizeof *names);
    if (!tests || !jobs || !names) {
        fprintf(stderr, "%s:%d: out of memory\n", __FILE__, __LINE__);
        return 1;
    }
    for (int c = 0; c < n; c++)
        for (int v = 0; v < nv; v++) {
            size_t t = (size_t)c * (size_t)nv + (size_t)v;
            snprintf(jobs[t].dir, sizeof jobs[t].dir, "%s/%s", root, ents[c]->d_name);
            jobs[t].variant = variants[v];
            snprintf(names[t], sizeof names[t], "%s/%s", ents[c]->d_name, variants[v]);
            tests[t] = (struct CMUnitTest){.name = names[t], .test_func = run_case, .initial_state = &jobs[t]};
        }
    mb_exec_init(&g_exec, 0, 0);
    int rc = _cmocka_run_group_tests("vectors", tests, ntests, NULL, NULL);
    mb_exec_free(&g_exec);
    for (int c = 0; c < n; c++) free(ents[c]);
    free(ents);
    free(tests);
    free(jobs);
    free(names);
    return rc;
}
