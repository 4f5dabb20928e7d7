/* npy.c - numpy .npy reader and writer (see npy.h). */
#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "data/scan_int.h"
#include "base/infile.h"

#define HOST_LE (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)

/* ================================================================ scratch */

void nsid_npy_scratch_free(struct nsid_npy_scratch *sc)
{
    if (!sc) return;
    nsid_alloc_free(sc->p);
    memset(sc, 0, sizeof *sc);
}

static int scratch_reserve(struct nsid_npy_scratch *sc, size_t n, struct nsid_err *err)
{
    if (n <= sc->cap) return 0;
    size_t cap = sc->cap ? sc->cap : 4096;
    while (cap < n) cap *= 2;
    unsigned char *p = NSID_ALLOC(cap, err);
    if (!p) return NSID_ENOMEM;
    nsid_alloc_free(sc->p);
    sc->p = p;
    sc->cap = cap;
    return 0;
}

/* ================================================================ header */

struct lex {
    const char *p, *end;
    const char *start;       /* the dict's first byte, for messages */
};

static void lex_ws(struct lex *x)
{
    while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r')) x->p++;
}

static bool lex_char(struct lex *x, char c)
{
    lex_ws(x);
    if (x->p < x->end && *x->p == c) {
        x->p++;
        return true;
    }
    return false;
}

/* A Python string literal '...' or "..." (no escapes needed for our keys). */
static bool lex_string(struct lex *x, char *out, size_t n)
{
    lex_ws(x);
    if (x->p >= x->end || (*x->p != '\'' && *x->p != '"')) return false;
    char q = *x->p++;
    size_t k = 0;
    while (x->p < x->end && *x->p != q) {
        if (k + 1 < n) out[k++] = *x->p;
        x->p++;
    }
    if (x->p >= x->end) return false;
    x->p++;
    out[k] = '\0';
    return true;
}

static bool lex_word(struct lex *x, const char *w)
{
    lex_ws(x);
    size_t n = strlen(w);
    if ((size_t)(x->end - x->p) >= n && memcmp(x->p, w, n) == 0) {
        x->p += n;
        return true;
    }
    return false;
}

/* (a, b, ...) of non-negative integers, Python 2 'L' suffixes allowed. */
static bool lex_shape(struct lex *x, int64_t *shape, int *ndim, int max)
{
    if (!lex_char(x, '(')) return false;
    int n = 0;
    for (;;) {
        if (lex_char(x, ')')) break;
        lex_ws(x);
        if (x->p >= x->end || *x->p < '0' || *x->p > '9') return false;
        int64_t v = 0;
        while (x->p < x->end && *x->p >= '0' && *x->p <= '9') {
            if (v > (INT64_MAX - 9) / 10) return false;
            v = v * 10 + (*x->p++ - '0');
        }
        if (x->p < x->end && (*x->p == 'L' || *x->p == 'l')) x->p++;
        if (n < max) shape[n] = v;
        n++;
        if (lex_char(x, ',')) continue;
        if (lex_char(x, ')')) break;
        return false;
    }
    *ndim = n;
    return true;
}

/* Map a numpy type string onto our dtypes; 0 or an error naming the dtype. */
static int parse_descr(struct nsid_npy_header *h, const char *path, struct nsid_err *err)
{
    const char *d = h->descr;
    char order = '=';
    if (*d == '<' || *d == '>' || *d == '|' || *d == '=') order = *d++;
    char kind = *d++;
    char *endp;
    long size = strtol(d, &endp, 10);
    if (endp == d || *endp || size < 0 || size > INT32_MAX) size = -1; /* numpy's widths are C ints */
    bool nonnative = (order == '>' && HOST_LE) || (order == '<' && !HOST_LE);
    const char *why = NULL;
    switch (kind) {
    case 'f':
        if (size == 4) h->dtype = NSID_DT_F32;
        else if (size == 8) h->dtype = NSID_DT_F64;
        else why = size == 2 ? "float16 is not supported (save as float32)" : "unsupported float size";
        break;
    case 'i': case 'u': {
        static const int s_dt[9] = {-1, NSID_DT_I8, NSID_DT_I16, -1, NSID_DT_I32, -1, -1, -1, NSID_DT_I64};
        static const int u_dt[9] = {-1, NSID_DT_U8, NSID_DT_U16, -1, NSID_DT_U32, -1, -1, -1, NSID_DT_U64};
        h->dtype = size >= 1 && size <= 8 ? (kind == 'i' ? s_dt[size] : u_dt[size]) : -1;
        if (h->dtype < 0) why = "unsupported integer size";
        break;
    }
    case 'b':
        if (size == 1) h->dtype = NSID_DT_BOOL;
        else why = "unsupported bool size";
        break;
    case 'U':
        h->dtype = NSID_DT_STR;
        h->unicode = true;
        if (size < 0) why = "bad string width (a number of characters, at most 2147483647)";
        break;
    case 'S': case 'a':
        h->dtype = NSID_DT_STR;
        if (size < 0) why = "bad string width (a number of bytes, at most 2147483647)";
        break;
    case 'O':
        why = "object arrays (pickled Python objects) are not supported; save a plain numeric or string dtype";
        break;
    case 'c': why = "complex numbers are not supported"; break;
    case 'M': case 'm': why = "datetime/timedelta arrays are not supported"; break;
    case 'V': why = "void/structured dtypes are not supported"; break;
    default: why = "unknown dtype"; break;
    }
    if (why)
        return nsid_err_set(err, NSID_EFORMAT, path, 0, "descr", "dtype '%s': %s", h->descr, why);
    h->file_itemsize = (size_t)size * (h->unicode ? 4 : 1);
    h->swap = nonnative && (h->unicode || (h->dtype != NSID_DT_STR && h->file_itemsize > 1));
    return 0;
}

static int header_dict(struct lex *x, struct nsid_npy_header *h, const char *path, struct nsid_err *err)
{
    bool got_descr = false, got_order = false, got_shape = false;
    if (!lex_char(x, '{')) goto bad;
    while (!lex_char(x, '}')) {
        char key[64];
        if (!lex_string(x, key, sizeof key) || !lex_char(x, ':')) goto bad;
        if (strcmp(key, "descr") == 0) {
            lex_ws(x);
            if (x->p < x->end && *x->p == '[')
                return nsid_err_set(err, NSID_EFORMAT, path, 0, "descr",
                                    "structured dtype (a list of fields) is not supported; save plain arrays");
            if (!lex_string(x, h->descr, sizeof h->descr)) goto bad;
            got_descr = true;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (lex_word(x, "True")) h->fortran = true;
            else if (lex_word(x, "False")) h->fortran = false;
            else goto bad;
            got_order = true;
        } else if (strcmp(key, "shape") == 0) {
            int nd = 0;
            if (!lex_shape(x, h->shape, &nd, NSID_ARRAY_MAXDIM)) goto bad;
            if (nd > NSID_ARRAY_MAXDIM)
                return nsid_err_set(err, NSID_EFORMAT, path, 0, "shape", "rank %d, at most %d supported", nd,
                                    NSID_ARRAY_MAXDIM);
            h->ndim = nd;
            got_shape = true;
        } else {
            return nsid_err_set(err, NSID_EFORMAT, path, 0, key, "unexpected key in the .npy header");
        }
        if (!lex_char(x, ',')) {
            if (lex_char(x, '}')) break;
            goto bad;
        }
    }
    if (!got_descr || !got_order || !got_shape)
        return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL,
                            "corrupt .npy header: needs 'descr', 'fortran_order' and 'shape'");
    return 0;
bad:
    return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL, "corrupt .npy header near byte %ld: expected a "
                        "Python dict {'descr': ..., 'fortran_order': ..., 'shape': (...)}",
                        (long)(x->p - x->start));
}

/*
 * The shape must describe an array that can exist: its element count, times the larger of the
 * file's and memory's element size, fits in a size_t. A zero-width string dtype ('<U0', '|S0')
 * holds no bytes, so the file's length cannot bound its element count: such an array must be
 * empty. Without these checks a 40-byte header could claim 40 GB ('<U0', shape (4e10,)) or a
 * shape whose product wraps to a small number.
 */
static int check_size(const struct nsid_npy_header *h, const char *path, struct nsid_err *err)
{
    size_t item = h->file_itemsize > 8 ? h->file_itemsize : 8, n = 1;
    bool empty = false;
    for (int d = 0; d < h->ndim; d++) empty |= h->shape[d] == 0;
    for (int d = 0; d < h->ndim && !empty; d++) {
        if ((uint64_t)h->shape[d] > SIZE_MAX / item / n)
            return nsid_err_set(err, NSID_EFORMAT, path, 0, "shape",
                                "shape dimension %d (%lld) makes the array larger than memory can address", d,
                                (long long)h->shape[d]);
        n *= (size_t)h->shape[d];
    }
    if (h->file_itemsize == 0 && !empty)
        return nsid_err_set(err, NSID_EFORMAT, path, 0, "descr",
                            "dtype '%s' has zero-width elements but the shape holds %zu of them", h->descr, n);
    return 0;
}

int nsid_npy_parse_header(const void *buf, size_t n, struct nsid_npy_header *h, const char *path,
                          struct nsid_err *err)
{
    const unsigned char *b = buf;
    memset(h, 0, sizeof *h);
    if (n < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL,
                            n < 10 ? "not a .npy file: %zu bytes, shorter than the magic and version"
                                   : "not a .npy file: the first 6 bytes are not \\x93NUMPY (%zu bytes)", n);
    h->major = b[6];
    h->minor = b[7];
    size_t hlen, off;
    if (h->major == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        off = 10;
    } else if (h->major == 2 || h->major == 3) {
        if (n < 12) return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL, "truncated .npy header (%zu bytes)", n);
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        off = 12;
    } else {
        return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL, "unsupported .npy format version %d.%d (1.0-3.0 read)",
                            h->major, h->minor);
    }
    if (off + hlen > n)
        return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL,
                            "truncated .npy header: %zu bytes, the header needs %zu", n, off + hlen);
    struct lex x = {(const char *)b + off, (const char *)b + off + hlen, (const char *)b + off};
    int rc = header_dict(&x, h, path, err);
    if (!rc) rc = parse_descr(h, path, err);
    if (!rc) rc = check_size(h, path, err);
    h->data_offset = off + hlen;
    return rc;
}

size_t nsid_npy_numel(const struct nsid_npy_header *h)
{
    size_t n = 1;
    for (int d = 0; d < h->ndim; d++) n *= (size_t)h->shape[d];
    return n;
}

/* ================================================================ loading */

static int read_all(int fd, unsigned char *p, size_t n, const char *path, struct nsid_err *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, p + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return nsid_err_set(err, NSID_EIO, path, 0, NULL, "read failed: %s", strerror(errno));
        if (k == 0) return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL, "file shrank while reading");
        got += (size_t)k;
    }
    return 0;
}

int nsid_npy_load(const char *path, struct nsid_npy_scratch *sc, struct nsid_npy_header *h,
                  struct nsid_err *err)
{
    int fd = nsid_infile_open(path, NULL, err);
    if (fd < 0) return fd;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) rc = nsid_err_set(err, NSID_EIO, path, 0, NULL, "cannot stat: %s", strerror(errno));
    else if (!S_ISREG(st.st_mode)) rc = nsid_err_set(err, NSID_EFORMAT, path, 0, NULL, "not a regular file");
    size_t n = rc ? 0 : (size_t)st.st_size;
    if (!rc) rc = scratch_reserve(sc, n + 1, err);
    if (!rc) rc = read_all(fd, sc->p, n, path, err);
    close(fd);
    if (rc) return rc;
    sc->len = n;
    rc = nsid_npy_parse_header(sc->p, n, h, path, err);
    if (rc) return rc;
    size_t need = nsid_npy_numel(h) * h->file_itemsize;
    if (n - h->data_offset < need)
        return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL,
                            "truncated: %zu data bytes, the header (dtype %s, %zu elements) needs %zu",
                            n - h->data_offset, h->descr, nsid_npy_numel(h), need);
    return 0;
}

/* ================================================================ element access */

static void swap_bytes(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        unsigned char t = p[i];
        p[i] = p[n - 1 - i];
        p[n - 1 - i] = t;
    }
}

/*
 * Index in the file of the element at C-order position i: identity for C
 * order, the transposed offset for Fortran order. `it` walks the C index.
 */
struct walk {
    int ndim;
    int64_t shape[NSID_ARRAY_MAXDIM];
    int64_t fstride[NSID_ARRAY_MAXDIM];
    int64_t idx[NSID_ARRAY_MAXDIM];
    int64_t off;                  /* file element index of the current position */
    bool fortran;
};

static void walk_init(struct walk *w, const struct nsid_npy_header *h)
{
    memset(w, 0, sizeof *w);
    w->ndim = h->ndim;
    w->fortran = h->fortran && h->ndim > 1;
    int64_t s = 1;
    for (int d = 0; d < h->ndim; d++) {
        w->shape[d] = h->shape[d];
        w->fstride[d] = s;
        s *= h->shape[d];
    }
}

/* Advance to the next C-order position. */
static void walk_next(struct walk *w)
{
    if (!w->fortran) {
        w->off++;
        return;
    }
    for (int d = w->ndim - 1; d >= 0; d--) {
        w->idx[d]++;
        w->off += w->fstride[d];
        if (w->idx[d] < w->shape[d]) return;
        w->off -= w->fstride[d] * w->shape[d];
        w->idx[d] = 0;
    }
}

static double elem_f64(const unsigned char *src, int dtype, size_t size, bool swap)
{
    unsigned char b[8];
    memcpy(b, src, size);
    if (swap) swap_bytes(b, size);
    union { float f; double d; int8_t i8; int16_t i16; int32_t i32; int64_t i64;
            uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64; } u;
    memcpy(&u, b, size);
    switch (dtype) {
    case NSID_DT_F32: return (double)u.f;
    case NSID_DT_F64: return u.d;
    case NSID_DT_I8: return u.i8;
    case NSID_DT_I16: return u.i16;
    case NSID_DT_I32: return u.i32;
    case NSID_DT_I64: return (double)u.i64;
    case NSID_DT_U8: return u.u8;
    case NSID_DT_U16: return u.u16;
    case NSID_DT_U32: return u.u32;
    case NSID_DT_U64: return (double)u.u64;
    default: return NAN;
    }
}

int nsid_npy_to_f32(const struct nsid_npy_header *h, const void *data, float *dst, const char *path,
                    struct nsid_err *err)
{
    if (h->dtype == NSID_DT_STR || h->dtype == NSID_DT_BOOL)
        return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL, "dtype '%s', expected a numeric array", h->descr);
    size_t n = nsid_npy_numel(h);
    const unsigned char *src = data;
    if (h->dtype == NSID_DT_F32 && !h->swap && !(h->fortran && h->ndim > 1)) {
        memcpy(dst, src, n * sizeof(float));
        return 0;
    }
    struct walk w;
    walk_init(&w, h);
    size_t sz = h->file_itemsize;
    for (size_t i = 0; i < n; i++, walk_next(&w))
        dst[i] = (float)elem_f64(src + (size_t)w.off * sz, h->dtype, sz, h->swap);
    return 0;
}

/* ================================================================ strings */

/* Append code point c as UTF-8 at out[*k] (room checked by the caller). */
static void utf8_put(unsigned char *out, size_t *k, uint32_t c)
{
    if (c < 0x80) {
        out[(*k)++] = (unsigned char)c;
    } else if (c < 0x800) {
        out[(*k)++] = (unsigned char)(0xC0 | c >> 6);
        out[(*k)++] = (unsigned char)(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out[(*k)++] = (unsigned char)(0xE0 | c >> 12);
        out[(*k)++] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
        out[(*k)++] = (unsigned char)(0x80 | (c & 0x3F));
    } else {
        out[(*k)++] = (unsigned char)(0xF0 | c >> 18);
        out[(*k)++] = (unsigned char)(0x80 | (c >> 12 & 0x3F));
        out[(*k)++] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
        out[(*k)++] = (unsigned char)(0x80 | (c & 0x3F));
    }
}

/* Decode one UTF-8 sequence at s[0..n); returns its length, 0 if invalid. */
static size_t utf8_get(const unsigned char *s, size_t n, uint32_t *c)
{
    if (s[0] < 0x80) { *c = s[0]; return 1; }
    size_t len = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || len > n) return 0;
    uint32_t v = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *c = v;
    return len;
}

/* Length of string element p (itemsize bytes) without trailing NULs. */
static size_t str_len(const unsigned char *p, size_t itemsize)
{
    size_t n = itemsize;
    while (n > 0 && p[n - 1] == 0) n--;
    return n;
}

/* One UCS-4 element (w code units) -> UTF-8 into out (4w bytes, NUL-padded). */
static int ucs4_to_utf8(const unsigned char *src, size_t w, bool swap, unsigned char *out)
{
    size_t k = 0, end = w;
    uint32_t cps[1];
    while (end > 0) { /* numpy strips trailing NULs */
        memcpy(cps, src + (end - 1) * 4, 4);
        if (swap) swap_bytes((unsigned char *)cps, 4);
        if (cps[0]) break;
        end--;
    }
    for (size_t i = 0; i < end; i++) {
        uint32_t c;
        memcpy(&c, src + i * 4, 4);
        if (swap) swap_bytes((unsigned char *)&c, 4);
        if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return -1;
        utf8_put(out, &k, c);
    }
    return 0;
}

/* ================================================================ generic read */

int nsid_npy_decode(const struct nsid_npy_header *h, const void *data, void *dstv, size_t osz,
                    const char *path, struct nsid_err *err)
{
    size_t n = nsid_npy_numel(h), fsz = h->file_itemsize;
    const unsigned char *src = data;
    unsigned char *dst = dstv;
    if (h->unicode ? osz < fsz : osz != (fsz ? fsz : 1))
        return nsid_err_set(err, NSID_EINVAL, path, 0, NULL, "element size %zu does not fit dtype '%s'", osz, h->descr);
    struct walk w;
    walk_init(&w, h);
    for (size_t i = 0; i < n; i++, walk_next(&w)) {
        const unsigned char *e = src + (size_t)w.off * fsz;
        unsigned char *o = dst + i * osz;
        if (h->unicode) {
            memset(o, 0, osz);
            if (ucs4_to_utf8(e, fsz / 4, h->swap, o) < 0)
                return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL,
                                    "element %zu: invalid unicode code point in '%s' data", i, h->descr);
        } else {
            memcpy(o, e, fsz);
            if (h->swap && h->dtype != NSID_DT_STR) swap_bytes(o, fsz);
            if (h->dtype == NSID_DT_BOOL) *o = *o ? 1 : 0;
        }
    }
    return 0;
}

int nsid_npy_read(const char *path, struct nsid_array *a, struct nsid_err *err)
{
    struct nsid_npy_scratch sc = {0};
    struct nsid_npy_header h;
    a->data = NULL;
    int rc = nsid_npy_load(path, &sc, &h, err);
    if (!rc) {
        a->dtype = h.dtype;
        a->ndim = h.ndim;
        for (int d = 0; d < NSID_ARRAY_MAXDIM; d++) a->shape[d] = d < h.ndim ? h.shape[d] : 0;
        a->itemsize = h.dtype == NSID_DT_STR ? h.file_itemsize : nsid_scan_dtype_size(h.dtype);
        if (a->itemsize == 0) a->itemsize = 1; /* '<U0' / '|S0': keep one NUL byte per element */
        a->str_unicode = h.unicode;
        a->str_vlen = false;
        size_t n = nsid_npy_numel(&h);
        a->data = NSID_CALLOC(n ? nsid_alloc_mul_size(n, a->itemsize, err) : 1, err); /* empty: no element */
        if (!a->data) rc = NSID_ENOMEM;
    }
    if (!rc) rc = nsid_npy_decode(&h, sc.p + h.data_offset, a->data, a->itemsize, path, err);
    if (rc) {
        nsid_alloc_free(a->data);
        a->data = NULL;
    }
    nsid_npy_scratch_free(&sc);
    return rc;
}

/* ================================================================ writing */

static int write_all(int fd, const void *p, size_t n, const char *path, struct nsid_err *err)
{
    const unsigned char *b = p;
    while (n) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return nsid_err_set(err, NSID_EIO, path, 0, NULL, "write failed: %s", strerror(errno));
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Header bytes for descr/shape into buf; returns length (multiple of 64). */
static size_t make_header(unsigned char *buf, size_t cap, const char *descr, int ndim, const int64_t *shape)
{
    char dict[512], sh[256];
    size_t k = 0;
    k += (size_t)snprintf(sh + k, sizeof sh - k, "(");
    for (int d = 0; d < ndim; d++)
        k += (size_t)snprintf(sh + k, sizeof sh - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    snprintf(sh + k, sizeof sh - k, "%s)", ndim == 1 ? "," : "");
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, sh);
    size_t pre = 10, total = pre + (size_t)dl + 1;
    total = (total + 63) / 64 * 64;
    if (total - pre > 65535) { /* version 2.0: 4-byte header length */
        pre = 12;
        total = (pre + (size_t)dl + 1 + 63) / 64 * 64;
    }
    if (total > cap) return 0;
    size_t hlen = total - pre;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = pre == 10 ? 1 : 2;
    buf[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) buf[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + pre, dict, (size_t)dl);
    memset(buf + pre + dl, ' ', hlen - (size_t)dl - 1);
    buf[total - 1] = '\n';
    return total;
}

static const char *num_descr(int dtype)
{
    switch (dtype) {
    case NSID_DT_F32: return HOST_LE ? "<f4" : ">f4";
    case NSID_DT_F64: return HOST_LE ? "<f8" : ">f8";
    case NSID_DT_I8: return "|i1";
    case NSID_DT_I16: return HOST_LE ? "<i2" : ">i2";
    case NSID_DT_I32: return HOST_LE ? "<i4" : ">i4";
    case NSID_DT_I64: return HOST_LE ? "<i8" : ">i8";
    case NSID_DT_U8: return "|u1";
    case NSID_DT_U16: return HOST_LE ? "<u2" : ">u2";
    case NSID_DT_U32: return HOST_LE ? "<u4" : ">u4";
    case NSID_DT_U64: return HOST_LE ? "<u8" : ">u8";
    case NSID_DT_BOOL: return "|b1";
    default: return NULL;
    }
}

static int write_file(const char *path, const char *descr, int ndim, const int64_t *shape, const void *data,
                      size_t bytes, struct nsid_err *err)
{
    unsigned char head[1024];
    size_t hl = make_header(head, sizeof head, descr, ndim, shape);
    if (!hl) return nsid_err_set(err, NSID_EINVAL, path, 0, NULL, "header too long");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return nsid_err_set(err, NSID_EIO, path, 0, NULL, "cannot create: %s", strerror(errno));
    int rc = write_all(fd, head, hl, path, err);
    if (!rc && bytes) rc = write_all(fd, data, bytes, path, err);
    if (close(fd) != 0) rc = nsid_err_set(err, NSID_EIO, path, 0, NULL, "close failed: %s", strerror(errno));
    if (rc) unlink(path);
    return rc;
}

/* Strings -> UCS-4 '<Un' (n = max(itemsize/4, longest)); buffer allocated here. */
static int strings_to_ucs4(const struct nsid_array *a, uint32_t **out, size_t *width, const char *path,
                           struct nsid_err *err)
{
    size_t n = nsid_scan_array_numel(a), w = a->str_unicode ? a->itemsize / 4 : a->itemsize;
    const unsigned char *src = a->data;
    for (size_t i = 0; i < n; i++) { /* longest string in code points */
        const unsigned char *e = src + i * a->itemsize;
        size_t len = str_len(e, a->itemsize), cps = 0;
        for (size_t k = 0; k < len; cps++) {
            uint32_t c;
            size_t l = utf8_get(e + k, len - k, &c);
            if (!l)
                return nsid_err_set(err, NSID_EFORMAT, path, 0, a->name,
                                    "element %zu is not valid UTF-8; cannot store it as numpy str", i);
            k += l;
        }
        if (cps > w) w = cps;
    }
    if (w == 0) w = 1;
    *out = NSID_CALLOC(nsid_alloc_mul_size(n ? n : 1, w * 4, err), err);
    if (!*out) return NSID_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *e = src + i * a->itemsize;
        size_t len = str_len(e, a->itemsize), j = 0;
        for (size_t k = 0; k < len; j++) {
            uint32_t c = 0;
            k += utf8_get(e + k, len - k, &c);
            (*out)[i * w + j] = HOST_LE ? c : __builtin_bswap32(c);
        }
    }
    *width = w;
    return 0;
}

int nsid_npy_write(const char *path, const struct nsid_array *a, bool bytes_as_unicode, struct nsid_err *err)
{
    size_t n = nsid_scan_array_numel(a);
    char descr[32];
    if (a->dtype != NSID_DT_STR) {
        const char *d = num_descr(a->dtype);
        if (!d) return nsid_err_set(err, NSID_EINVAL, path, 0, a->name, "unknown dtype %d", a->dtype);
        return write_file(path, d, a->ndim, a->shape, a->data, n * a->itemsize, err);
    }
    if (!a->str_unicode && !bytes_as_unicode) {
        snprintf(descr, sizeof descr, "|S%zu", a->itemsize);
        return write_file(path, descr, a->ndim, a->shape, a->data, n * a->itemsize, err);
    }
    uint32_t *ucs = NULL;
    size_t w = 0;
    int rc = strings_to_ucs4(a, &ucs, &w, path, err);
    if (rc) return rc;
    snprintf(descr, sizeof descr, "%cU%zu", HOST_LE ? '<' : '>', w);
    rc = write_file(path, descr, a->ndim, a->shape, ucs, n * w * 4, err);
    nsid_alloc_free(ucs);
    return rc;
}

/* Store one float as dtype at p (values checked storable by the caller). */
static void put_elem(unsigned char *p, int dtype, float v)
{
    double x = (double)v;
    switch (dtype) {
    case NSID_DT_F64: memcpy(p, &x, 8); break;
    case NSID_DT_I8: { int8_t t = (int8_t)x; memcpy(p, &t, 1); break; }
    case NSID_DT_I16: { int16_t t = (int16_t)x; memcpy(p, &t, 2); break; }
    case NSID_DT_I32: { int32_t t = (int32_t)x; memcpy(p, &t, 4); break; }
    case NSID_DT_I64: { int64_t t = (int64_t)x; memcpy(p, &t, 8); break; }
    case NSID_DT_U8: case NSID_DT_BOOL: { uint8_t t = (uint8_t)x; memcpy(p, &t, 1); break; }
    case NSID_DT_U16: { uint16_t t = (uint16_t)x; memcpy(p, &t, 2); break; }
    case NSID_DT_U32: { uint32_t t = (uint32_t)x; memcpy(p, &t, 4); break; }
    case NSID_DT_U64: { uint64_t t = (uint64_t)x; memcpy(p, &t, 8); break; }
    default: memcpy(p, &v, 4); break;
    }
}

int nsid_npy_write_f32(const char *path, const float *v, int ndim, const int64_t *shape, int dtype,
                       struct nsid_npy_scratch *sc, struct nsid_err *err)
{
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
    if (dtype == NSID_DT_STR) dtype = NSID_DT_F32;
    const char *descr = num_descr(dtype);
    if (!descr) return nsid_err_set(err, NSID_EINVAL, path, 0, NULL, "unknown dtype %d", dtype);
    if (dtype == NSID_DT_F32) return write_file(path, descr, ndim, shape, v, n * sizeof(float), err);
    int rc = nsid__scan_check_storable(v, n, dtype, path, NULL, err);
    size_t sz = nsid_scan_dtype_size(dtype);
    if (!rc) rc = scratch_reserve(sc, n * sz + 1, err);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) put_elem(sc->p + i * sz, dtype, v[i]);
    return write_file(path, descr, ndim, shape, sc->p, n * sz, err);
}
