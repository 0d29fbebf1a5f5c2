/*
 * eval_main.c: matbench-eval, evaluate one op on your own arrays.
 *
 *   matbench-eval CASE_DIR -o OUT.npy [--variant=NAME]
 *
 * CASE_DIR holds a case.txt (op, inputs and the op's options, as in tests/vectors/README.md; expect,
 * out_shape, rtol/atol lines are ignored) and the input .npy files. The result is written to OUT.npy;
 * for attention with `extra_output`, the softmax weights go to OUT_weights.npy next to it. Invalid
 * input prints the op's message and exits 1 without writing anything; bad usage exits 2.
 */
#include "ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: matbench-eval CASE_DIR -o OUT.npy [--variant=NAME]\n"
               "\n"
               "Evaluates the op described by CASE_DIR/case.txt on the .npy inputs in CASE_DIR and writes the\n"
               "result as a float32 NPY file. For attention with `extra_output`, the softmax weights are also\n"
               "written to OUT_weights.npy. Example case.txt:\n"
               "\n"
               "    op matmul\n"
               "    inputs a b\n"
               "\n"
               "  -o OUT.npy        output file (written atomically)\n"
               "  --variant=NAME    kernel variant to run (default naive; kinds it lacks run naive)\n");
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *outpath = NULL, *variant = "naive";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            outpath = argv[++i];
        } else if (!strncmp(argv[i], "-o", 2) && argv[i][2]) {
            outpath = argv[i] + 2;
        } else if (!strncmp(argv[i], "--variant=", 10)) {
            variant = argv[i] + 10;
        } else if (argv[i][0] == '-' || dir) {
            fprintf(stderr, "matbench-eval: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            dir = argv[i];
        }
    }
    if (!dir || !outpath) {
        fprintf(stderr, "matbench-eval: need CASE_DIR and -o OUT.npy\n");
        usage(stderr);
        return 2;
    }
    bool known = false;
    for (int i = 0; i < mb_kernel_count && !known; i++) known = !strcmp(mb_kernels[i].variant, variant);
    if (!known) {
        fprintf(stderr, "matbench-eval: unknown variant '%s'\n", variant);
        return 2;
    }

    char msg[1024];
    struct mb_case cs;
    if (mb_case_load(dir, &cs, msg, sizeof msg) != MB_OK) {
        fprintf(stderr, "matbench-eval: %s\n", msg);
        return 2;
    }
    struct mb_exec exec;
    mb_exec_init(&exec, 0, 0);
    struct mb_opctx ctx = {.variant = variant, .exec = &exec};
    struct mb_tensor out, extra;
    int rc = 0;
    if (mb_case_eval(&ctx, &cs, &out, &extra) != MB_OK) {
        fprintf(stderr, "matbench-eval: %s\n", ctx.msg);
        rc = 1;
    } else if (!extra.data) {
        if (mb_npy_write(outpath, &out, msg, sizeof msg) != MB_OK) { /* atomic: whole or not at all */
            fprintf(stderr, "matbench-eval: %s\n", msg);
            rc = 1;
        }
    } else {
        /* OUT.npy and OUT_weights.npy: both results or neither (old files kept on failure): the result goes to
         * a temporary name, the weights are written (atomically), then the result is renamed into place. */
        size_t len = strlen(outpath);
        if (len >= 4 && !strcmp(outpath + len - 4, ".npy")) len -= 4;
        char *wpath = malloc(len + 16), *tmp = malloc(strlen(outpath) + 16);
        if (!wpath || !tmp) {
            fprintf(stderr, "%s:%d: out of memory\n", __FILE__, __LINE__);
            exit(EXIT_FAILURE);
        }
        snprintf(wpath, len + 16, "%.*s_weights.npy", (int)len, outpath);
        snprintf(tmp, strlen(outpath) + 16, "%s.partial", outpath);
        if (mb_npy_write(tmp, &out, msg, sizeof msg) != MB_OK || mb_npy_write(wpath, &extra, msg, sizeof msg) != MB_OK) {
            fprintf(stderr, "matbench-eval: %s\n", msg);
            unlink(tmp);
            rc = 1;
        } else if (rename(tmp, outpath) != 0) {
            fprintf(stderr, "matbench-eval: cannot rename %s to %s: %s\n", tmp, outpath, strerror(errno));
            unlink(tmp);
            rc = 1;
        }
        free(wpath);
        free(tmp);
    }
    mb_tensor_free(&out);
    mb_tensor_free(&extra);
    mb_case_free(&cs);
    mb_exec_free(&exec);
    return rc;
}
