/*
 * case.c: case directories in the vectors format (tests/vectors/README.md): parse case.txt, read the
 * inputs, evaluate the op with a context's variant, and compare with the expectations. matbench-check,
 * matbench-eval and tests/test_vectors.c all go through here, so they judge a case identically.
 */
#include "ops.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

// ---------------------------------------------------------------------------------------------------
// case.txt

/* Every op of the README; n_min..n_max inputs. */
static const struct {
    const char *name;
    int n_min, n_max;
} ops[] = {
    {"add", 2, 2},       {"sub", 2, 2},       {"mul", 2, 2},         {"div", 2, 2},         {"matmul", 2, 2},
    {"mm", 2, 2},        {"bmm", 2, 2},       {"dot", 2, 2},         {"tensordot", 2, 2},   {"batch_dot", 2, 2},
    {"einsum", 1, 8},    {"outer", 2, 2},     {"linear", 2, 3},      {"attention", 3, 4},   {"softmax", 1, 1},
    {"transpose", 1, 1}, {"concatenate", 1, 8}, {"stack", 1, 8},     {"expand_dims", 1, 1}, {"reshape", 1, 1},
};

static int op_index(const char *name)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(ops[i].name, name)) return (int)i;
    return -1;
}

struct line {
    const char *path;
    int no;
    char *tok[16];
    int n; /* tokens after the key */
    bool overflow;
};

static enum mb_status bad(const struct line *l, char *msg, size_t msgsz, const char *what)
{
    snprintf(msg, msgsz, "%s:%d: %s", l->path, l->no, what);
    return MB_EINVAL;
}

static bool parse_i64(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end) return false;
    *v = x;
    return true;
}

static bool parse_f64(const char *s, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno == EINVAL || end == s || *end) return false;
    *v = x;
    return true;
}

/* `key i0 i1 ...` with lo..hi integers */
static enum mb_status ints(const struct line *l, int lo, int hi, int *n, int64_t *v, char *msg, size_t msgsz)
{
    if (l->n < lo || l->n > hi) return bad(l, msg, msgsz, "wrong number of values");
    for (int i = 0; i < l->n; i++)
        if (!parse_i64(l->tok[i + 1], &v[i])) return bad(l, msg, msgsz, "expected an integer");
    *n = l->n;
    return MB_OK;
}

static enum mb_status flag(const struct line *l, bool *b, char *msg, size_t msgsz)
{
    if (l->n != 1 || (strcmp(l->tok[1], "0") && strcmp(l->tok[1], "1"))) return bad(l, msg, msgsz, "expected 0 or 1");
    *b = l->tok[1][0] == '1';
    return MB_OK;
}

static enum mb_status word(const struct line *l, char *out, size_t outsz, char *msg, size_t msgsz)
{
    if (l->n != 1) return bad(l, msg, msgsz, "expected exactly one value");
    if (strlen(l->tok[1]) >= outsz) return bad(l, msg, msgsz, "value too long");
    strcpy(out, l->tok[1]);
    return MB_OK;
}

static enum mb_status real(const struct line *l, double *v, char *msg, size_t msgsz)
{
    if (l->n != 1 || !parse_f64(l->tok[1], v)) return bad(l, msg, msgsz, "expected one number");
    return MB_OK;
}

static enum mb_status parse_line(struct mb_case *cs, const struct line *l, char *msg, size_t msgsz)
{
    static const char *const known[] = {"op",        "inputs", "axes",   "axes_a", "axes_b",    "legacy",
                                        "normalize", "causal", "equation", "axis", "perm",      "shape",
                                        "scale",     "expect", "out_shape", "rtol", "atol", "expected_fill",
                                        "extra_output"};
    const char *k = l->tok[0];
    int n;
    double d;
    enum mb_status s = MB_OK;
    bool is_known = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0] && !is_known; i++) is_known = !strcmp(k, known[i]);
    if (!is_known) return MB_OK; /* desc and unknown keys: ignored, as the README asks */
    if (l->overflow) return bad(l, msg, msgsz, "too many values");
    if (!strcmp(k, "op")) {
        if ((s = word(l, cs->op, sizeof cs->op, msg, msgsz)) == MB_OK && op_index(cs->op) < 0)
            s = bad(l, msg, msgsz, "unknown op");
    } else if (!strcmp(k, "inputs")) {
        if (l->n < 1 || l->n > 8) return bad(l, msg, msgsz, "inputs needs 1 to 8 names");
        for (int i = 0; i < l->n; i++) {
            const char *name = l->tok[i + 1];
            if (strlen(name) >= sizeof cs->inputs[i] || strchr(name, '/') || name[0] == '.')
                return bad(l, msg, msgsz, "bad input name (a file stem in the case directory)");
            strcpy(cs->inputs[i], name);
        }
        cs->ninputs = l->n;
    } else if (!strcmp(k, "axes")) {
        cs->axes_none = l->n == 1 && !strcmp(l->tok[1], "none");
        if (cs->axes_none) cs->axes_n = 0;
        else s = ints(l, 1, 2, &cs->axes_n, cs->axes, msg, msgsz);
    } else if (!strcmp(k, "axes_a")) {
        s = ints(l, 0, 8, &cs->axes_a_n, cs->axes_a, msg, msgsz);
    } else if (!strcmp(k, "axes_b")) {
        s = ints(l, 0, 8, &cs->axes_b_n, cs->axes_b, msg, msgsz);
    } else if (!strcmp(k, "legacy")) {
        s = flag(l, &cs->legacy, msg, msgsz);
    } else if (!strcmp(k, "normalize")) {
        s = flag(l, &cs->normalize, msg, msgsz);
    } else if (!strcmp(k, "causal")) {
        s = flag(l, &cs->causal, msg, msgsz);
    } else if (!strcmp(k, "equation")) {
        s = word(l, cs->equation, sizeof cs->equation, msg, msgsz);
    } else if (!strcmp(k, "axis")) {
        s = ints(l, 1, 1, &n, &cs->axis, msg, msgsz);
        cs->has_axis = s == MB_OK;
    } else if (!strcmp(k, "perm")) {
        s = ints(l, 0, MB_MAX_DIMS, &cs->perm_n, cs->perm, msg, msgsz);
    } else if (!strcmp(k, "shape")) {
        s = ints(l, 0, MB_MAX_DIMS, &cs->shape_n, cs->shape, msg, msgsz);
    } else if (!strcmp(k, "scale")) {
        if ((s = real(l, &d, msg, msgsz)) == MB_OK) cs->has_scale = true, cs->scale = (float)d;
    } else if (!strcmp(k, "expect")) {
        if (l->n == 1 && !strcmp(l->tok[1], "ok")) {
            cs->expect_error = false;
        } else if (l->n == 2 && !strcmp(l->tok[1], "error") && strlen(l->tok[2]) < sizeof cs->error_word) {
            cs->expect_error = true;
            strcpy(cs->error_word, l->tok[2]);
        } else {
            s = bad(l, msg, msgsz, "expected `expect ok` or `expect error WORD`");
        }
    } else if (!strcmp(k, "out_shape")) {
        s = ints(l, 0, MB_MAX_DIMS, &cs->out_ndim, cs->out_shape, msg, msgsz);
        cs->has_out_shape = s == MB_OK;
    } else if (!strcmp(k, "rtol")) {
        s = real(l, &cs->rtol, msg, msgsz);
    } else if (!strcmp(k, "atol")) {
        s = real(l, &cs->atol, msg, msgsz);
    } else if (!strcmp(k, "expected_fill")) {
        if ((s = real(l, &d, msg, msgsz)) == MB_OK) cs->has_fill = true, cs->fill = (float)d;
    } else if (!strcmp(k, "extra_output")) {
        s = word(l, cs->extra_output, sizeof cs->extra_output, msg, msgsz);
        if (s == MB_OK && (strchr(cs->extra_output, '/') || cs->extra_output[0] == '.'))
            s = bad(l, msg, msgsz, "bad extra_output name");
    }
    return s;
}

enum mb_status mb_case_load(const char *dir, struct mb_case *cs, char *msg, size_t msgsz)
{
    memset(cs, 0, sizeof *cs);
    cs->axes_n = cs->axes_a_n = cs->axes_b_n = cs->perm_n = cs->shape_n = -1;
    if (strlen(dir) + 80 >= sizeof cs->dir) {
        snprintf(msg, msgsz, "%s: path too long", dir);
        return MB_EINVAL;
    }
    strcpy(cs->dir, dir);
    char path[sizeof cs->dir + 80];
    snprintf(path, sizeof path, "%s/case.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(msg, msgsz, "%s: cannot open: %s", path, strerror(errno));
        return MB_EINVAL;
    }
    char buf[1024];
    struct line l = {.path = path};
    enum mb_status s = MB_OK;
    while (s == MB_OK && fgets(buf, sizeof buf, f)) {
        l.no++;
        size_t len = strlen(buf);
        if (len == sizeof buf - 1 && buf[len - 1] != '\n' && !feof(f)) {
            s = bad(&l, msg, msgsz, "line too long");
            break;
        }
        l.n = -1;
        l.overflow = false;
        for (char *t = strtok(buf, " \t\r\n"); t; t = strtok(NULL, " \t\r\n")) {
            if (l.n + 1 < (int)(sizeof l.tok / sizeof l.tok[0])) l.tok[++l.n] = t;
            else l.overflow = true; /* fine for desc / unknown keys; an error for known ones */
        }
        if (l.n >= 0) s = parse_line(cs, &l, msg, msgsz);
    }
    if (s == MB_OK && ferror(f)) s = bad(&l, msg, msgsz, "read error");
    fclose(f);
    if (s == MB_OK && !cs->op[0]) snprintf(msg, msgsz, "%s: no `op` line", path), s = MB_EINVAL;
    if (s == MB_OK && cs->ninputs == 0) snprintf(msg, msgsz, "%s: no `inputs` line", path), s = MB_EINVAL;
    for (int i = 0; s == MB_OK && i < cs->ninputs; i++) {
        snprintf(path, sizeof path, "%s/%s.npy", dir, cs->inputs[i]);
        s = mb_npy_read(path, &cs->in[i], msg, msgsz);
    }
    if (s != MB_OK) mb_case_free(cs);
    return s;
}

void mb_case_free(struct mb_case *cs)
{
    for (int i = 0; i < 8; i++) mb_tensor_free(&cs->in[i]);
}

// ---------------------------------------------------------------------------------------------------
// evaluation

enum mb_status mb_case_eval(struct mb_opctx *c, const struct mb_case *cs, struct mb_tensor *out,
                            struct mb_tensor *extra)
{
    memset(out, 0, sizeof *out);
    if (extra) memset(extra, 0, sizeof *extra);
    c->msg[0] = 0;
    int oi = op_index(cs->op);
    if (oi < 0) return mb_op_error(c, "%s: unknown op '%s'", cs->dir, cs->op);
    if (cs->ninputs < ops[oi].n_min || cs->ninputs > ops[oi].n_max)
        return mb_op_error(c, "%s: takes %d to %d inputs, the case gives %d", cs->op, ops[oi].n_min, ops[oi].n_max,
                           cs->ninputs);
    const struct mb_tensor *a = &cs->in[0], *b = &cs->in[1];
    const struct mb_tensor *in[8];
    for (int i = 0; i < cs->ninputs; i++) in[i] = &cs->in[i];
    const char *op = cs->op;
    int64_t axis = cs->has_axis ? cs->axis : 0; /* Keras' default axis for concatenate/stack/expand_dims */

    if (!strcmp(op, "add")) return mb_op_binary(c, MB_ADD, a, b, out);
    if (!strcmp(op, "sub")) return mb_op_binary(c, MB_SUB, a, b, out);
    if (!strcmp(op, "mul")) return mb_op_binary(c, MB_MUL, a, b, out);
    if (!strcmp(op, "div")) return mb_op_binary(c, MB_DIV, a, b, out);
    if (!strcmp(op, "matmul")) return mb_op_matmul(c, a, b, out);
    if (!strcmp(op, "mm")) return mb_op_mm(c, a, b, out);
    if (!strcmp(op, "bmm")) return mb_op_bmm(c, a, b, out);
    if (!strcmp(op, "dot")) return mb_op_dot(c, a, b, out);
    if (!strcmp(op, "outer")) return mb_op_outer(c, a, b, out);
    if (!strcmp(op, "linear")) return mb_op_linear(c, a, b, cs->ninputs > 2 ? &cs->in[2] : NULL, out);
    if (!strcmp(op, "einsum")) return mb_op_einsum(c, cs->equation, cs->ninputs, in, out);
    if (!strcmp(op, "tensordot")) {
        if (cs->axes_a_n >= 0 || cs->axes_b_n >= 0) {
            if (cs->axes_a_n != cs->axes_b_n)
                return mb_op_error(c, "tensordot: axis lists differ in length: axes_a has %d entries, axes_b %d",
                                   cs->axes_a_n, cs->axes_b_n);
            return mb_op_tensordot(c, a, b, cs->axes_a_n, cs->axes_a, cs->axes_b, out);
        }
        if (cs->axes_n == 1) {
            if (cs->axes[0] < 0 || cs->axes[0] > MB_MAX_DIMS)
                return mb_op_error(c, "tensordot: axis count %lld is out of range", (long long)cs->axes[0]);
            return mb_op_tensordot(c, a, b, (int)cs->axes[0], NULL, NULL, out);
        }
        if (cs->axes_n == 2) return mb_op_tensordot(c, a, b, 1, &cs->axes[0], &cs->axes[1], out); /* one pair */
        return mb_op_tensordot(c, a, b, 2, NULL, NULL, out); /* np.tensordot's default axes=2 */
    }
    if (!strcmp(op, "batch_dot")) {
        struct mb_batch_dot_opts o = {.legacy = cs->legacy, .normalize = cs->normalize};
        if (cs->axes_n == 1) o.axes_mode = 1, o.ax0 = o.ax1 = cs->axes[0];
        else if (cs->axes_n == 2) o.axes_mode = 2, o.ax0 = cs->axes[0], o.ax1 = cs->axes[1];
        return mb_op_batch_dot(c, a, b, &o, out);
    }
    if (!strcmp(op, "softmax")) return mb_op_softmax(c, a, cs->has_axis ? cs->axis : -1, out);
    if (!strcmp(op, "attention"))
        return mb_op_attention(c, a, b, &cs->in[2], cs->ninputs > 3 ? &cs->in[3] : NULL, cs->has_scale, cs->scale,
                               cs->causal, out, cs->extra_output[0] ? extra : NULL);
    if (!strcmp(op, "transpose")) {
        if (cs->perm_n == 0 && a->ndim > 0) { /* an explicit empty perm is not "no perm" */
            char sa[256];
            return mb_op_error(c, "transpose: axis: perm () is not a permutation of the %d axes of %s", a->ndim,
                               mb_shape_str(a->ndim, a->shape, sa, sizeof sa));
        }
        return mb_op_transpose(c, a, cs->perm_n > 0 ? cs->perm_n : 0, cs->perm_n > 0 ? cs->perm : NULL, out);
    }
    if (!strcmp(op, "concatenate")) return mb_op_concatenate(c, cs->ninputs, in, axis, out);
    if (!strcmp(op, "stack")) return mb_op_stack(c, cs->ninputs, in, axis, out);
    if (!strcmp(op, "expand_dims")) return mb_op_expand_dims(c, a, axis, out);
    /* reshape: a missing `shape` line is a malformed case, not a reshape to () */
    if (cs->shape_n < 0) return mb_op_error(c, "reshape: the case gives no `shape`");
    return mb_op_reshape(c, a, cs->shape_n, cs->shape, out);
}

// ---------------------------------------------------------------------------------------------------
// comparison

/* "(1,2,3)" index of flat element i in shape */
static const char *index_str(int ndim, const int64_t *shape, int64_t i, char *buf, size_t n)
{
    int64_t idx[MB_MAX_DIMS];
    for (int d = ndim - 1; d >= 0; d--) {
        idx[d] = shape[d] ? i % shape[d] : 0;
        i = shape[d] ? i / shape[d] : 0;
    }
    return mb_shape_str(ndim, idx, buf, n);
}

static bool same_shape(int na, const int64_t *a, int nb, const int64_t *b)
{
    if (na != nb) return false;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i]) return false;
    return true;
}

/* got vs exp (or vs fill when exp is NULL) elementwise; updates *maxerr over finite pairs. */
static bool compare(const char *what, const struct mb_tensor *got, const struct mb_tensor *exp, float fill,
                    double rtol, double atol, double *maxerr, char *detail, size_t n)
{
    char sg[256], se[256], si[256];
    if (!got->data) return snprintf(detail, n, "%s: no output", what), false;
    int64_t total = mb_tensor_numel(got), bad = 0, first = -1;
    if (total && (!mb_tensor_is_contig(got) || (exp && !mb_tensor_is_contig(exp))))
        return snprintf(detail, n, "%s: output is not C-contiguous", what), false;
    if (exp && !same_shape(got->ndim, got->shape, exp->ndim, exp->shape))
        return snprintf(detail, n, "%s: shape %s, expected %s", what, mb_shape_str(got->ndim, got->shape, sg, 256),
                        mb_shape_str(exp->ndim, exp->shape, se, 256)),
               false;
    double fg = 0, fe = 0;
    for (int64_t i = 0; i < total; i++) {
        double g = got->data[i], e = exp ? exp->data[i] : fill;
        bool ok;
        if (isnan(e)) ok = isnan(g);
        else if (isinf(e)) ok = g == e;
        else if (!isfinite(g)) ok = false;
        else {
            double err = fabs(g - e);
            ok = err <= atol + rtol * fabs(e);
            if (err > *maxerr) *maxerr = err;
        }
        if (!ok && bad++ == 0) first = i, fg = g, fe = e;
    }
    if (bad)
        return snprintf(detail, n, "%s: %lld of %lld elements differ; first at %s: got %.9g, expected %.9g (atol %g, rtol %g)",
                        what, (long long)bad, (long long)total, index_str(got->ndim, got->shape, first, si, 256), fg,
                        fe, atol, rtol),
               false;
    return true;
}

bool mb_case_check(const struct mb_case *cs, enum mb_status st, const char *msg, const struct mb_tensor *out,
                   const struct mb_tensor *extra, char *detail, size_t n)
{
    char s1[256], s2[256], path[sizeof cs->dir + 80];
    if (cs->expect_error) {
        if (st == MB_OK)
            return snprintf(detail, n, "expected error '%s', but the op succeeded with shape %s", cs->error_word,
                            mb_shape_str(out->ndim, out->shape, s1, sizeof s1)),
                   false;
        if (st != MB_EINVAL)
            return snprintf(detail, n, "expected error '%s', got status '%s': %s", cs->error_word, mb_status_str(st),
                            msg),
                   false;
        if (!strcasestr(msg, cs->error_word))
            return snprintf(detail, n, "error message lacks the word '%s': %s", cs->error_word, msg), false;
        if (out->data || (extra && extra->data))
            return snprintf(detail, n, "partial output left allocated after: %s", msg), false;
        snprintf(detail, n, "%s", msg);
        return true;
    }
    if (st != MB_OK) return snprintf(detail, n, "unexpected error (%s): %s", mb_status_str(st), msg), false;
    if (cs->has_out_shape && !same_shape(out->ndim, out->shape, cs->out_ndim, cs->out_shape))
        return snprintf(detail, n, "shape %s, expected out_shape %s", mb_shape_str(out->ndim, out->shape, s1, 256),
                        mb_shape_str(cs->out_ndim, cs->out_shape, s2, 256)),
               false;
    double maxerr = 0;
    bool ok;
    if (cs->has_fill) {
        ok = compare("out", out, NULL, cs->fill, cs->rtol, cs->atol, &maxerr, detail, n);
    } else {
        struct mb_tensor e;
        snprintf(path, sizeof path, "%s/expected.npy", cs->dir);
        if (mb_npy_read(path, &e, detail, n) != MB_OK) return false;
        ok = compare("out", out, &e, 0, cs->rtol, cs->atol, &maxerr, detail, n);
        mb_tensor_free(&e);
    }
    if (ok && cs->extra_output[0]) {
        if (!extra) return snprintf(detail, n, "%s: not computed", cs->extra_output), false;
        struct mb_tensor e;
        snprintf(path, sizeof path, "%s/%s.npy", cs->dir, cs->extra_output);
        if (mb_npy_read(path, &e, detail, n) != MB_OK) return false;
        ok = compare(cs->extra_output, extra, &e, 0, cs->rtol, cs->atol, &maxerr, detail, n);
        mb_tensor_free(&e);
    }
    if (ok) snprintf(detail, n, "max abs err %.3g", maxerr);
    return ok;
}
