/*
 * test_npy.c: the .npy reader/writer (ops/npy.c). Round trips (0-d, 0-sized, rank 8, strided views),
 * numpy's exact NPY 1.0 layout, v2.0/v3.0 headers, a real vectors file, and every malformed file: each
 * must be MB_EINVAL with a message naming the file and the problem, and leave no tensor behind.
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
#include <unistd.h>

#include "internal.h"

static char g_dir[256]; /* a private temp dir per run */

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/mb_test_npy.XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(g_dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name), unlink(p);
        closedir(d);
    }
    rmdir(g_dir);
    return 0;
}

static const char *tmp_path(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    return p;
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* an NPY image: magic, version, header dict (padded to 64 with '\n'), then ndata bytes of data */
static size_t make_npy(unsigned char *buf, int major, const char *dict, size_t ndata)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64, hl = total - pre;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) buf[8 + i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', hl - dl - 1);
    buf[total - 1] = '\n';
    for (size_t i = 0; i < ndata; i++) buf[total + i] = (unsigned char)(i * 7);
    return total + ndata;
}

/* write the image to a file, read it back expecting an error whose message holds each of the words */
static void expect_bad_file(const char *name, const unsigned char *img, size_t n, const char *word)
{
    const char *p = tmp_path(name);
    write_bytes(p, img, n);
    struct mb_tensor t;
    char msg[512];
    assert_int_equal(mb_npy_read(p, &t, msg, sizeof msg), MB_EINVAL);
    if (!strstr(msg, p)) fail_msg("message does not name the file: %s", msg);
    if (!strstr(msg, word)) fail_msg("message lacks '%s': %s", word, msg);
    assert_null(t.data);
    assert_null(t.owned);
    /* the in-memory parser (the fuzz target's entry) agrees */
    assert_int_equal(mb_npy_read_mem(img, n, name, &t, msg, sizeof msg), MB_EINVAL);
    assert_null(t.data);
}

static void expect_bad_dict(const char *name, const char *dict, size_t ndata, const char *word)
{
    unsigned char buf[4096];
    expect_bad_file(name, buf, make_npy(buf, 1, dict, ndata), word);
}

// ---------------------------------------------------------------------------------------------------

static void roundtrip(int nd, const int64_t *shape)
{
    struct mb_tensor t, r;
    char msg[512], sb[128];
    assert_int_equal(mb_tensor_alloc(&t, nd, shape, msg, sizeof msg), MB_OK);
    int64_t n = mb_tensor_numel(&t);
    for (int64_t i = 0; i < n; i++) t.data[i] = (float)i * 0.5f - 3.0f;
    const char *p = tmp_path("rt.npy");
    assert_int_equal(mb_npy_write(p, &t, msg, sizeof msg), MB_OK);
    if (mb_npy_read(p, &r, msg, sizeof msg) != MB_OK) fail_msg("%s: %s", mb_shape_str(nd, shape, sb, 128), msg);
    assert_int_equal(r.ndim, nd);
    for (int i = 0; i < nd; i++) assert_int_equal(r.shape[i], shape[i]);
    for (int i = nd - 1, s = 1; i >= 0 && n; s *= (int)shape[i--]) assert_int_equal(r.strides[i], s);
    if (n) assert_memory_equal(r.data, t.data, (size_t)n * sizeof(float));
    mb_tensor_free(&t);
    mb_tensor_free(&r);
}

static void test_roundtrip(void **state)
{
    (void)state;
    roundtrip(2, (int64_t[]){3, 4});
    roundtrip(1, (int64_t[]){5});
    roundtrip(0, (int64_t[]){0});                /* 0-d: one element (the array is unused) */
    roundtrip(2, (int64_t[]){0, 3});             /* 0-sized: no data */
    roundtrip(3, (int64_t[]){2, 0, 4});
    roundtrip(8, (int64_t[]){2, 1, 3, 1, 2, 1, 2, 3}); /* the rank limit */
}

/* numpy's layout byte for byte: header dict, padding to a multiple of 64, '\n' */
static void test_writer_layout(void **state)
{
    (void)state;
    struct mb_tensor t;
    char msg[256];
    assert_int_equal(mb_tensor_alloc(&t, 1, (int64_t[]){5}, msg, sizeof msg), MB_OK);
    for (int i = 0; i < 5; i++) t.data[i] = (float)i;
    assert_int_equal(mb_npy_write(tmp_path("l.npy"), &t, msg, sizeof msg), MB_OK);
    FILE *f = fopen(tmp_path("l.npy"), "rb");
    unsigned char b[256];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    const char *want = "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }";
    assert_int_equal(n, 128 + 20); /* 10 + 58 dict chars + '\n' rounds up to 128, as numpy writes it */
    assert_memory_equal(b, "\x93NUMPY\x01\x00", 8);
    assert_int_equal(b[8] | b[9] << 8, 128 - 10);
    assert_memory_equal(b + 10, want, strlen(want));
    assert_int_equal(b[127], '\n');
    assert_int_equal(b[126], ' ');
    float v[5];
    memcpy(v, b + 128, sizeof v);
    for (int i = 0; i < 5; i++) assert_true(v[i] == (float)i);
    mb_tensor_free(&t);
}

/* a strided (transposed) view is written in its C order, not in memory order */
static void test_write_strided_view(void **state)
{
    (void)state;
    struct mb_tensor t, r;
    char msg[256];
    assert_int_equal(mb_tensor_alloc(&t, 2, (int64_t[]){2, 3}, msg, sizeof msg), MB_OK);
    for (int i = 0; i < 6; i++) t.data[i] = (float)i;
    struct mb_tensor v = {.ndim = 2, .shape = {3, 2}, .strides = {1, 3}, .data = t.data};
    assert_int_equal(mb_npy_write(tmp_path("v.npy"), &v, msg, sizeof msg), MB_OK);
    assert_int_equal(mb_npy_read(tmp_path("v.npy"), &r, msg, sizeof msg), MB_OK);
    const float want[6] = {0, 3, 1, 4, 2, 5};
    assert_memory_equal(r.data, want, sizeof want);
    mb_tensor_free(&t);
    mb_tensor_free(&r);
}

/* no temporary files left behind, and a failed write leaves no target */
static void test_writer_atomic(void **state)
{
    (void)state;
    struct mb_tensor t;
    char msg[256];
    assert_int_equal(mb_tensor_alloc(&t, 1, (int64_t[]){3}, msg, sizeof msg), MB_OK);
    memset(t.data, 0, 3 * sizeof(float));
    assert_int_equal(mb_npy_write(tmp_path("a.npy"), &t, msg, sizeof msg), MB_OK);
    assert_int_equal(mb_npy_write(tmp_path("a.npy"), &t, msg, sizeof msg), MB_OK); /* overwrite */
    DIR *d = opendir(g_dir);
    struct dirent *e;
    while ((e = readdir(d))) assert_null(strstr(e->d_name, ".tmp"));
    closedir(d);
    assert_int_equal(mb_npy_write(tmp_path("nodir/x.npy"), &t, msg, sizeof msg), MB_EINVAL);
    assert_non_null(strstr(msg, "nodir/x.npy"));
    assert_int_equal(access(tmp_path("nodir/x.npy"), F_OK), -1);
    mb_tensor_free(&t);
}

static void test_versions(void **state)
{
    (void)state;
    unsigned char buf[512];
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    for (int major = 1; major <= 3; major++) {
        size_t n = make_npy(buf, major, dict, 24);
        const char *p = tmp_path("ver.npy");
        write_bytes(p, buf, n);
        struct mb_tensor t;
        char msg[256];
        if (mb_npy_read(p, &t, msg, sizeof msg) != MB_OK) fail_msg("v%d.0: %s", major, msg);
        assert_int_equal(t.ndim, 2);
        assert_int_equal(t.shape[0], 2);
        assert_int_equal(t.shape[1], 3);
        assert_memory_equal(t.data, buf + n - 24, 24);
        mb_tensor_free(&t);
    }
    /* keys in another order, double quotes, no trailing comma, no spaces: still valid Python */
    size_t n = make_npy(buf, 2, "{\"shape\":(4,),\"fortran_order\":False,\"descr\":\"<f4\"}", 16);
    struct mb_tensor t;
    char msg[256];
    assert_int_equal(mb_npy_read_mem(buf, n, "mem", &t, msg, sizeof msg), MB_OK);
    assert_int_equal(t.ndim, 1);
    assert_int_equal(t.shape[0], 4);
    mb_tensor_free(&t);
}

static void test_reads_vectors_file(void **state)
{
    (void)state;
    struct mb_tensor t;
    char msg[512];
    const char *p = "tests/vectors/000_s000_add_32x10/a.npy";
    if (access(p, R_OK) != 0) skip();
    assert_int_equal(mb_npy_read(p, &t, msg, sizeof msg), MB_OK);
    assert_int_equal(t.ndim, 2);
    assert_int_equal(t.shape[0], 32);
    assert_int_equal(t.shape[1], 10);
    mb_tensor_free(&t);
}

static void test_malformed(void **state)
{
    (void)state;
    unsigned char buf[4096];
    size_t n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
    buf[1] = 'X';
    expect_bad_file("magic.npy", buf, n, "magic");
    expect_bad_file("empty.npy", buf, 0, "magic");
    n = make_npy(buf, 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
    expect_bad_file("v4.npy", buf, n, "version");
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
    expect_bad_file("trunc_preamble.npy", buf, 9, "truncated");
    expect_bad_file("trunc_header.npy", buf, 40, "truncated header");
    expect_bad_file("trunc_data.npy", buf, n - 1, "truncated data");
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12);
    expect_bad_file("trailing.npy", buf, n, "trailing");
    /* a v2 header length of 4 GiB: refused from the preamble, never allocated */
    n = make_npy(buf, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
    buf[8] = buf[9] = buf[10] = buf[11] = 0xff;
    expect_bad_file("hlen.npy", buf, n, "header length");

    expect_bad_dict("f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16, "dtype '<f8'");
    expect_bad_dict("bigend.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, "dtype '>f4'");
    expect_bad_dict("u1.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", 2, "dtype");
    expect_bad_dict("fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, "fortran_order");
    expect_bad_dict("neg.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", 0, "negative");
    expect_bad_dict("huge.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627777,), }", 0,
                    "exceeds");
    expect_bad_dict("overflow.npy",
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", 0,
                    "overflows");
    expect_bad_dict("empty_huge.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1000000000000000, 100000), }",
                    0, "exceeds"); /* 0 elements, but strides would overflow (found by fuzz_npy) */
    expect_bad_dict("bigint.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
                    0, "overflows");
    /* a plausible shape whose data the file does not hold: refused before allocating 4 GB */
    expect_bad_dict("claims.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000,), }", 8,
                    "truncated data");
    expect_bad_dict("rank9.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4,
                    "rank");
    expect_bad_dict("garbage.npy", "hello, world", 0, "malformed");
    expect_bad_dict("nodict.npy", "", 0, "malformed");
    expect_bad_dict("missing.npy", "{'descr': '<f4', 'shape': (2,), }", 8, "missing 'fortran_order'");
    expect_bad_dict("extra.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1, }", 8, "key 'x'");
    expect_bad_dict("dup.npy", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8,
                    "repeated key");
    expect_bad_dict("intshape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", 8, "not a tuple");
    expect_bad_dict("listshape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", 8, "not a tuple");
    expect_bad_dict("unterminated.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,", 0, "malformed");
    expect_bad_dict("unterminated_str.npy", "{'descr': '<f4", 0, "malformed");
    expect_bad_dict("trailchars.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", 8, "trailing");
    expect_bad_dict("falsy.npy", "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,), }", 8, "fortran_order");
}

static void test_not_a_file(void **state)
{
    (void)state;
    struct mb_tensor t;
    char msg[512];
    assert_int_equal(mb_npy_read(tmp_path("does-not-exist.npy"), &t, msg, sizeof msg), MB_EINVAL);
    assert_non_null(strstr(msg, "does-not-exist.npy"));
    assert_int_equal(mb_npy_read(g_dir, &t, msg, sizeof msg), MB_EINVAL);
    assert_non_null(strstr(msg, "not a regular file"));
    assert_null(t.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),      cmocka_unit_test(test_writer_layout),
        cmocka_unit_test(test_write_strided_view), cmocka_unit_test(test_writer_atomic),
        cmocka_unit_test(test_versions),       cmocka_unit_test(test_reads_vectors_file),
        cmocka_unit_test(test_malformed),      cmocka_unit_test(test_not_a_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
