/*
 * npy.c: the .npy format (NPY 1.0 / 2.0 / 3.0), float32 '<f4' in C order only.
 *
 * Reading trusts nothing in the file: the header is parsed by a small strict parser of the Python dict
 * literal numpy writes, the shape is overflow-checked and limited to MB_MAX_ELEMS, and the data size the
 * header claims must equal what the file holds before anything is allocated. Every error names the file.
 * Writing produces NPY 1.0 with the 64-byte aligned header numpy writes, into a temporary file in the
 * target's directory that is renamed over the target only when complete.
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAX_HEADER 65536 /* numpy itself refuses headers over 10000 bytes by default */

static enum mb_status fail(char *msg, size_t msgsz, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum mb_status fail(char *msg, size_t msgsz, const char *name, const char *fmt, ...)
{
    int o = snprintf(msg, msgsz, "npy: %s: ", name);
    if (o >= 0 && (size_t)o < msgsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg + o, msgsz - (size_t)o, fmt, ap);
        va_end(ap);
    }
    return MB_EINVAL;
}

// ---------------------------------------------------------------------------------------------------
// header

/* Magic, version and header length. The preamble is 10 bytes (v1: u16 length) or 12 (v2/v3: u32). */
static enum mb_status preamble(const unsigned char *b, size_t n, uint64_t filesize, const char *name, size_t *hoff,
                               size_t *hlen, char *msg, size_t msgsz)
{
    if (n < 8 || memcmp(b, NPY_MAGIC, 6) != 0) return fail(msg, msgsz, name, "not a .npy file (bad magic)");
    int major = b[6], minor = b[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        return fail(msg, msgsz, name, "unsupported NPY version %d.%d (1.0, 2.0, 3.0 are)", major, minor);
    size_t pre = major == 1 ? 10 : 12;
    if (n < pre) return fail(msg, msgsz, name, "truncated header (file has %zu bytes)", n);
    uint64_t len = major == 1 ? (uint64_t)b[8] | (uint64_t)b[9] << 8
                              : (uint64_t)b[8] | (uint64_t)b[9] << 8 | (uint64_t)b[10] << 16 | (uint64_t)b[11] << 24;
    if (len > NPY_MAX_HEADER) return fail(msg, msgsz, name, "header length %llu is absurd", (unsigned long long)len);
    if (pre + len > filesize)
        return fail(msg, msgsz, name, "truncated header: %llu header bytes claimed, file has %llu",
                    (unsigned long long)len, (unsigned long long)filesize);
    *hoff = pre;
    *hlen = (size_t)len;
    return MB_OK;
}

struct cursor {
    const char *p, *end;
};

static void skip_ws(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static bool eat(struct cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A Python string literal without escapes ('...' or "..."), copied to out. */
static bool parse_str(struct cursor *c, char *out, size_t outsz)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return false;
    char q = *c->p++;
    size_t k = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || k + 1 >= outsz) return false;
        out[k++] = *c->p++;
    }
    if (c->p >= c->end) return false;
    c->p++;
    out[k] = 0;
    return true;
}

static bool parse_word(struct cursor *c, const char *w)
{
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return false;
    const char *after = c->p + n;
    if (after < c->end && (*after == '_' || (*after >= 'a' && *after <= 'z') || (*after >= 'A' && *after <= 'Z') ||
                           (*after >= '0' && *after <= '9')))
        return false;
    c->p = after;
    return true;
}

/* A shape tuple: "()", "(5,)", "(3, 4)", "(3, 4,)". "(5)" is an int in Python, not a tuple: rejected. */
static enum mb_status parse_shape(struct cursor *c, int *ndim, int64_t *shape, const char *name, char *msg,
                                  size_t msgsz)
{
    if (!eat(c, '(')) return fail(msg, msgsz, name, "malformed header: 'shape' is not a tuple");
    int n = 0;
    bool comma = false;
    for (;;) {
        if (eat(c, ')')) break;
        skip_ws(c);
        bool neg = c->p < c->end && *c->p == '-';
        if (neg) c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return fail(msg, msgsz, name, "malformed header: bad shape entry");
        uint64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            v = v * 10 + (uint64_t)(*c->p++ - '0');
            if (v > (uint64_t)INT64_MAX / 10) return fail(msg, msgsz, name, "shape entry overflows");
        }
        if (neg && v) return fail(msg, msgsz, name, "negative dimension -%llu in shape", (unsigned long long)v);
        if (n == MB_MAX_DIMS) return fail(msg, msgsz, name, "rank exceeds the limit of %d dims", MB_MAX_DIMS);
        shape[n++] = (int64_t)v;
        comma = eat(c, ',');
        if (!comma) {
            if (!eat(c, ')')) return fail(msg, msgsz, name, "malformed header: bad shape tuple");
            break;
        }
    }
    if (n == 1 && !comma) return fail(msg, msgsz, name, "malformed header: 'shape' is not a tuple");
    *ndim = n;
    return MB_OK;
}

/* The header dict: exactly the keys descr, fortran_order, shape, in any order (numpy rejects others too). */
static enum mb_status parse_dict(const char *text, size_t len, const char *name, int *ndim, int64_t *shape, char *msg,
                                 size_t msgsz)
{
    struct cursor c = {text, text + len};
    bool seen_descr = false, seen_order = false, seen_shape = false;
    if (!eat(&c, '{')) return fail(msg, msgsz, name, "malformed header: no dict");
    for (;;) {
        if (eat(&c, '}')) break;
        char key[32], val[32];
        if (!parse_str(&c, key, sizeof key) || !eat(&c, ':'))
            return fail(msg, msgsz, name, "malformed header: bad key");
        if (!strcmp(key, "descr") && !seen_descr) {
            if (!parse_str(&c, val, sizeof val)) return fail(msg, msgsz, name, "malformed header: bad 'descr'");
            if (strcmp(val, "<f4"))
                return fail(msg, msgsz, name, "dtype '%s' is not supported (only little-endian float32 '<f4')", val);
            seen_descr = true;
        } else if (!strcmp(key, "fortran_order") && !seen_order) {
            if (parse_word(&c, "True"))
                return fail(msg, msgsz, name, "fortran_order True is not supported (only C order)");
            if (!parse_word(&c, "False")) return fail(msg, msgsz, name, "malformed header: bad 'fortran_order'");
            seen_order = true;
        } else if (!strcmp(key, "shape") && !seen_shape) {
            enum mb_status s = parse_shape(&c, ndim, shape, name, msg, msgsz);
            if (s != MB_OK) return s;
            seen_shape = true;
        } else {
            return fail(msg, msgsz, name, "malformed header: unexpected or repeated key '%s'", key);
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}')) return fail(msg, msgsz, name, "malformed header: expected ',' or '}'");
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end) return fail(msg, msgsz, name, "malformed header: trailing characters after the dict");
    if (!seen_descr || !seen_order || !seen_shape)
        return fail(msg, msgsz, name, "malformed header: missing '%s'",
                    !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape");
    return MB_OK;
}

/* Everything up to the data: version, header, shape; checks that the file holds exactly the data the
 * shape needs. head holds at least the preamble and header (or the whole file if shorter). */
static enum mb_status parse_head(const unsigned char *head, size_t nhead, uint64_t filesize, const char *name,
                                 int *ndim, int64_t *shape, size_t *data_off, int64_t *numel, char *msg, size_t msgsz)
{
    size_t hoff = 0, hlen = 0;
    enum mb_status s = preamble(head, nhead, filesize, name, &hoff, &hlen, msg, msgsz);
    if (s != MB_OK) return s;
    if (hoff + hlen > nhead) return fail(msg, msgsz, name, "truncated header");
    s = parse_dict((const char *)head + hoff, hlen, name, ndim, shape, msg, msgsz);
    if (s != MB_OK) return s;
    char sb[256];
    /* the product of the non-zero dims must fit too: a 0-sized (0, 2^62, 2^62) would overflow the strides */
    int64_t span = 1;
    bool fits = true;
    for (int i = 0; i < *ndim && fits; i++) fits = mb_mul_ok(span, shape[i] ? shape[i] : 1, &span);
    if (!fits || !mb_numel_ok(*ndim, shape, numel))
        return fail(msg, msgsz, name, "shape %s overflows or exceeds %lld elements", mb_shape_str(*ndim, shape, sb, 256),
                    (long long)MB_MAX_ELEMS);
    uint64_t want = (uint64_t)*numel * sizeof(float), have = filesize - (hoff + hlen);
    if (have < want)
        return fail(msg, msgsz, name, "truncated data: shape %s needs %llu bytes, file holds %llu",
                    mb_shape_str(*ndim, shape, sb, 256), (unsigned long long)want, (unsigned long long)have);
    if (have > want)
        return fail(msg, msgsz, name, "%llu bytes of trailing data after the %llu bytes of shape %s",
                    (unsigned long long)(have - want), (unsigned long long)want, mb_shape_str(*ndim, shape, sb, 256));
    *data_off = hoff + hlen;
    return MB_OK;
}

static void le_to_host(float *x, int64_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        u = __builtin_bswap32(u);
        memcpy(&x[i], &u, 4);
    }
#else
    (void)x, (void)n;
#endif
}

// ---------------------------------------------------------------------------------------------------
// reading

enum mb_status mb_npy_read_mem(const void *buf, size_t n, const char *name, struct mb_tensor *t, char *msg,
                               size_t msgsz)
{
    memset(t, 0, sizeof *t);
    int ndim;
    int64_t shape[MB_MAX_DIMS], numel;
    size_t off;
    enum mb_status s = parse_head(buf, n, n, name, &ndim, shape, &off, &numel, msg, msgsz);
    if (s != MB_OK) return s;
    if ((s = mb_tensor_alloc(t, ndim, shape, msg, msgsz)) != MB_OK) return s;
    memcpy(t->data, (const unsigned char *)buf + off, (size_t)numel * sizeof(float));
    le_to_host(t->data, numel);
    return MB_OK;
}

enum mb_status mb_npy_read(const char *path, struct mb_tensor *t, char *msg, size_t msgsz)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) return fail(msg, msgsz, path, "cannot open: %s", strerror(errno));
    enum mb_status s = MB_EINVAL;
    unsigned char *head = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fail(msg, msgsz, path, "not a regular file");
        goto out;
    }
    /* the header is small: read at most preamble + NPY_MAX_HEADER bytes, never the claimed size */
    size_t want = (size_t)st.st_size < 12 + NPY_MAX_HEADER ? (size_t)st.st_size : 12 + NPY_MAX_HEADER;
    head = malloc(want ? want : 1);
    if (!head) {
        fail(msg, msgsz, path, "cannot allocate %zu bytes", want);
        s = MB_ENOMEM;
        goto out;
    }
    size_t got = fread(head, 1, want, f);
    int ndim;
    int64_t shape[MB_MAX_DIMS], numel;
    size_t off;
    s = parse_head(head, got, (uint64_t)st.st_size, path, &ndim, shape, &off, &numel, msg, msgsz);
    if (s != MB_OK) goto out;
    if ((s = mb_tensor_alloc(t, ndim, shape, msg, msgsz)) != MB_OK) goto out;
    size_t bytes = (size_t)numel * sizeof(float);
    if (fseek(f, (long)off, SEEK_SET) != 0 || fread(t->data, 1, bytes, f) != bytes) {
        mb_tensor_free(t);
        s = fail(msg, msgsz, path, "read error or file changed while reading");
        goto out;
    }
    le_to_host(t->data, numel);
out:
    free(head);
    fclose(f);
    return s;
}

// ---------------------------------------------------------------------------------------------------
// writing

/* numpy's NPY 1.0 layout: preamble + dict + spaces + '\n', total a multiple of 64 bytes. */
static size_t format_header(const struct mb_tensor *t, char *h, size_t hsz)
{
    char shape[MB_MAX_DIMS * 22 + 4];
    size_t o = 0;
    o += (size_t)snprintf(shape + o, sizeof shape - o, "(");
    for (int i = 0; i < t->ndim; i++)
        o += (size_t)snprintf(shape + o, sizeof shape - o, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    snprintf(shape + o, sizeof shape - o, t->ndim == 1 ? ",)" : ")");
    int n = snprintf(h + 10, hsz - 10, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape);
    size_t total = (10 + (size_t)n + 1 + 63) & ~(size_t)63;
    memset(h + 10 + n, ' ', total - 10 - (size_t)n - 1);
    h[total - 1] = '\n';
    memcpy(h, NPY_MAGIC "\x01\x00", 8);
    size_t hl = total - 10;
    h[8] = (char)(hl & 0xff);
    h[9] = (char)(hl >> 8);
    return total;
}

/* Write t's elements in C order (t may be any strided view), little-endian. */
static bool write_data(FILE *f, const struct mb_tensor *t)
{
    int64_t n = mb_tensor_numel(t);
    if (mb_tensor_is_contig(t)) {
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
        return fwrite(t->data, sizeof(float), (size_t)n, f) == (size_t)n;
#endif
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t r = i, off = 0;
        for (int d = t->ndim - 1; d >= 0; d--) {
            off += (r % t->shape[d]) * t->strides[d];
            r /= t->shape[d];
        }
        float v = t->data[off];
        le_to_host(&v, 1); /* a byte swap is its own inverse */
        if (fwrite(&v, sizeof v, 1, f) != 1) return false;
    }
    return true;
}

enum mb_status mb_npy_write(const char *path, const struct mb_tensor *t, char *msg, size_t msgsz)
{
    if (t->ndim < 0 || t->ndim > MB_MAX_DIMS) return fail(msg, msgsz, path, "rank %d not writable", t->ndim);
    char h[512];
    size_t hn = format_header(t, h, sizeof h);

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) return fail(msg, msgsz, path, "out of memory");
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fail(msg, msgsz, path, "cannot create a temporary file next to it: %s", strerror(errno));
        free(tmp);
        return MB_EINVAL;
    }
    /* mkstemp creates 0600; give the result the usual umask-filtered 0666 */
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    FILE *f = fdopen(fd, "wb");
    bool ok = f && fwrite(h, 1, hn, f) == hn && write_data(f, t);
    if (f) {
        if (fflush(f) != 0) ok = false;
        if (fclose(f) != 0) ok = false;
    } else {
        close(fd);
    }
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return fail(msg, msgsz, path, "write failed: %s", strerror(e));
    }
    free(tmp);
    return MB_OK;
}
