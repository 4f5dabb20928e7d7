/* test_npy.c - the .npy reader and writer on files written by numpy (tests/gen_data_fixtures.py). */
#include "base/alloc.h"
#include "check.h"
#include "data/npy.h"
#include "data_testutil.h"

static char tmp[4096];

static const char *npy(const char *name)
{
    static char buf[4200];
    snprintf(buf, sizeof buf, "%s", check_fixture("data/npy/"));
    size_t k = strlen(buf);
    snprintf(buf + k, sizeof buf - k, "%s.npy", name);
    return buf;
}

/* Every numeric dtype, both byte orders, C and Fortran order: values 0..23 in C order. */
static void test_numeric(void)
{
    static const struct { const char *name; int dtype; } cases[] = {
        {"f4_le", NSID_DT_F32}, {"f4_be", NSID_DT_F32}, {"f8_le", NSID_DT_F64}, {"f8_be", NSID_DT_F64},
        {"i1", NSID_DT_I8}, {"i2_le", NSID_DT_I16}, {"i2_be", NSID_DT_I16}, {"i4_le", NSID_DT_I32},
        {"i4_be", NSID_DT_I32}, {"i8_le", NSID_DT_I64}, {"i8_be", NSID_DT_I64}, {"u1", NSID_DT_U8},
        {"u2_le", NSID_DT_U16}, {"u2_be", NSID_DT_U16}, {"u4_le", NSID_DT_U32}, {"u8_be", NSID_DT_U64},
    };
    struct nsid_npy_scratch sc = {0};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        for (int f = 0; f < 2; f++) {
            char name[64];
            snprintf(name, sizeof name, "%s_%c", cases[c].name, f ? 'f' : 'c');
            struct nsid_array a = {0};
            struct nsid_err err = {0};
            int rc = nsid_npy_read(npy(name), &a, &err);
            CHECK(rc == 0, "%s reads: %s", name, err.msg);
            if (rc) continue;
            CHECK(a.dtype == cases[c].dtype && a.ndim == 3 && a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 4,
                  "%s: dtype %s shape (2,3,4)", name, nsid_scan_dtype_name(a.dtype));
            int bad = 0;
            for (size_t i = 0; i < 24; i++) bad += nsid_scan_array_get_f64(&a, i) != (double)i;
            CHECK(bad == 0, "%s: values 0..23 in C order (%d wrong)", name, bad);
            nsid_scan_array_free(&a);
            struct nsid_npy_header h;
            float v[24];
            rc = nsid_npy_load(npy(name), &sc, &h, &err);
            if (!rc) rc = nsid_npy_to_f32(&h, sc.p + h.data_offset, v, npy(name), &err);
            bad = 0;
            for (int i = 0; !rc && i < 24; i++) bad += v[i] != (float)i;
            CHECK(rc == 0 && bad == 0 && h.fortran == (f == 1), "%s: float32 fast path (%d wrong) %s", name, bad, err.msg);
        }
    }
    nsid_npy_scratch_free(&sc);
}

static void test_other_shapes(void)
{
    struct nsid_array a = {0};
    struct nsid_err err = {0};
    for (int f = 0; f < 2; f++) {
        CHECK(nsid_npy_read(npy(f ? "b1_f" : "b1"), &a, &err) == 0 && a.dtype == NSID_DT_BOOL, "bool array reads");
        int bad = 0;
        for (size_t i = 0; i < 24; i++) bad += ((uint8_t *)a.data)[i] != (i % 3 == 0);
        CHECK(bad == 0 && a.shape[0] == 4 && a.shape[1] == 6, "bool values in C order (fortran %d)", f);
        nsid_scan_array_free(&a);
    }
    CHECK(nsid_npy_read(npy("scalar_f8"), &a, &err) == 0 && a.ndim == 0 && ((double *)a.data)[0] == 2.5,
          "0-d float64 scalar");
    nsid_scan_array_free(&a);
    CHECK(nsid_npy_read(npy("empty_f4"), &a, &err) == 0 && a.ndim == 1 && a.shape[0] == 0, "empty (0,) array");
    nsid_scan_array_free(&a);
    CHECK(nsid_npy_read(npy("f4_4d"), &a, &err) == 0 && a.ndim == 4 && a.shape[3] == 4, "rank-4 array");
    nsid_scan_array_free(&a);
    const char *vers[] = {"v10", "v20", "v30"};
    for (int i = 0; i < 3; i++) {
        struct nsid_npy_scratch sc = {0};
        struct nsid_npy_header h;
        int rc = nsid_npy_load(npy(vers[i]), &sc, &h, &err);
        CHECK(rc == 0 && h.major == i + 1 && h.minor == 0 && nsid_npy_numel(&h) == 24,
              "format version %d.0 reads: %s", i + 1, err.msg);
        nsid_npy_scratch_free(&sc);
    }
}

static void test_strings(void)
{
    struct nsid_array a = {0};
    struct nsid_err err = {0};
    static const char *const words[] = {"train", "validation", "test", "gr\xc3\xbcn", ""};
    for (int be = 0; be < 2; be++) {
        int rc = nsid_npy_read(npy(be ? "U_be" : "U_le"), &a, &err);
        CHECK(rc == 0 && a.dtype == NSID_DT_STR && a.str_unicode && a.itemsize == 40 && a.shape[0] == 5,
              "'%cU10' reads as UTF-8 with itemsize 40: %s", be ? '>' : '<', err.msg);
        for (int i = 0; !rc && i < 5; i++) {
            char buf[64];
            nsid_scan_array_get_str(&a, (size_t)i, buf, sizeof buf);
            CHECK(strcmp(buf, words[i]) == 0, "string %d: '%s' want '%s'", i, buf, words[i]);
        }
        nsid_scan_array_free(&a);
    }
    int rc = nsid_npy_read(npy("U_f"), &a, &err);
    static const char *const fw[] = {"a", "bb", "ccc", "dddd", "\xc3\xa9", "ff"};
    for (int i = 0; !rc && i < 6; i++) {
        char buf[64];
        nsid_scan_array_get_str(&a, (size_t)i, buf, sizeof buf);
        CHECK(strcmp(buf, fw[i]) == 0, "Fortran-order strings in C order: %d '%s'", i, buf);
    }
    nsid_scan_array_free(&a);
    rc = nsid_npy_read(npy("S"), &a, &err);
    CHECK(rc == 0 && !a.str_unicode && a.itemsize == 10, "'|S10' byte strings");
    if (!rc) CHECK(memcmp((char *)a.data + 20, "x\0y", 3) == 0, "embedded NUL byte kept");
    nsid_scan_array_free(&a);
}

static void test_refused(void)
{
    static const struct { const char *name; int code; const char *msg; } cases[] = {
        {"bad_object", NSID_EFORMAT, "object arrays"},
        {"bad_struct", NSID_EFORMAT, "structured"},
        {"v30_unicode_field", NSID_EFORMAT, "structured"},
        {"bad_f2", NSID_EFORMAT, "float16"},
        {"bad_c8", NSID_EFORMAT, "complex"},
        {"bad_datetime", NSID_EFORMAT, "datetime"},
        {"bad_rank5", NSID_EFORMAT, "rank 5"},
        {"bad_truncated_data", NSID_EFORMAT, "truncated"},
        {"bad_truncated_header", NSID_EFORMAT, "truncated .npy header"},
        {"bad_magic", NSID_EFORMAT, "not a .npy file"},
        {"bad_header", NSID_EFORMAT, "corrupt .npy header"},
        {"no_such_file", NSID_ENOTFOUND, "cannot open"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct nsid_array a = {0};
        struct nsid_err err = {0};
        int rc = nsid_npy_read(npy(cases[i].name), &a, &err);
        CHECK(rc == cases[i].code && strstr(err.msg, cases[i].msg) && strstr(err.file, cases[i].name) &&
              a.data == NULL, "%s refused (%d): %s", cases[i].name, rc, err.msg);
    }
}

/* Our writer reproduces numpy.save byte for byte. */
static void test_write_identical(void)
{
    const char *names[] = {"f4_le_c", "f8_le_c", "i1_c", "i8_le_c", "u1_c", "u2_le_c", "b1", "scalar_f8",
                           "empty_f4", "f4_4d", "U_le", "S", "v10"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        struct nsid_array a = {0};
        struct nsid_err err = {0};
        char out[4200];
        snprintf(out, sizeof out, "%s/%s.npy", tmp, names[i]);
        int rc = nsid_npy_read(npy(names[i]), &a, &err);
        if (!rc) rc = nsid_npy_write(out, &a, false, &err);
        CHECK(rc == 0, "%s rewritten: %s", names[i], err.msg);
        nsid_scan_array_free(&a);
        FILE *f1 = fopen(out, "rb"), *f2 = fopen(npy(names[i]), "rb");
        int same = f1 && f2;
        while (same) {
            int c1 = fgetc(f1), c2 = fgetc(f2);
            if (c1 != c2) same = 0;
            if (c1 == EOF || c2 == EOF) break;
        }
        if (f1) fclose(f1);
        if (f2) fclose(f2);
        CHECK(same, "%s: written file identical to numpy.save's", names[i]);
        unlink(out);
    }
    /* Byte strings as numpy str (the authors' converter): '|S10' -> '<U10'. */
    struct nsid_array a = {0}, b = {0};
    struct nsid_err err = {0};
    char out[4200];
    snprintf(out, sizeof out, "%s/s_as_u.npy", tmp);
    nsid_npy_read(npy("S"), &a, &err);
    int rc = nsid_npy_write(out, &a, true, &err);
    rc = rc ? rc : nsid_npy_read(out, &b, &err);
    CHECK(rc == 0 && b.str_unicode && b.itemsize == 40, "bytes written as '<U10'");
    char s1[32], s2[32];
    for (int i = 0; !rc && i < 4; i++) {
        nsid_scan_array_get_str(&a, (size_t)i, s1, sizeof s1);
        nsid_scan_array_get_str(&b, (size_t)i, s2, sizeof s2);
        CHECK(strcmp(s1, s2) == 0, "string %d unchanged: %s", i, s2);
    }
    nsid_scan_array_free(&a);
    nsid_scan_array_free(&b);
    /* Invalid UTF-8 cannot become numpy str. */
    const char *bytes[] = {"ok", "\xff\xfe"};
    struct nsid_arrays l = {0};
    nsid_scan_arrays_add_str(&l, "raw", bytes, 2, false, &err);
    rc = nsid_npy_write(out, &l.a[0], true, &err);
    CHECK(rc == NSID_EFORMAT && strstr(err.msg, "UTF-8"), "invalid UTF-8 refused: %s", err.msg);
    nsid_scan_arrays_free(&l);
    unlink(out);
    /* float32 -> uint8 needs integers. */
    struct nsid_npy_scratch sc = {0};
    float v[3] = {1, 2, 3.5f};
    int64_t shape[1] = {3};
    nsid_err_clear(&err);
    rc = nsid_npy_write_f32(out, v, 1, shape, NSID_DT_U8, &sc, &err);
    CHECK(rc == NSID_EINVAL && !dt_exists(out), "3.5 cannot be written as uint8: %s", err.msg);
    v[2] = 255;
    rc = nsid_npy_write_f32(out, v, 1, shape, NSID_DT_U8, &sc, &err);
    rc = rc ? rc : nsid_npy_read(out, &a, &err);
    CHECK(rc == 0 && a.dtype == NSID_DT_U8 && ((uint8_t *)a.data)[2] == 255, "uint8 written from float32");
    nsid_scan_array_free(&a);
    nsid_npy_scratch_free(&sc);
    unlink(out);
}

/* Corrupt headers built in memory: every parser branch gives an error, never a crash. */
static void test_header_fuzz(void)
{
    const char *heads[] = {
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
        "{'descr': '|u1', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", /* wraps to 0 */
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }",  /* 2^62 x 8 bytes */
        "{'descr': '<U0', 'fortran_order': False, 'shape': (40000000000,), }",          /* 0 bytes, 4e10 items */
        "{'descr': '|S0', 'fortran_order': False, 'shape': (), }",
        "{'descr': '>a0222222222222222222222', 'fortran_order': False, 'shape': (0, 8), }", /* width 2e22 */
        "{'descr': '<U2147483648', 'fortran_order': False, 'shape': (0,), }",
        "{'descr': '<x4', 'fortran_order': False, 'shape': (2,), }",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (2,), }",
        "[1, 2]",
        "",
    };
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        unsigned char buf[256];
        size_t hl = strlen(heads[i]);
        memcpy(buf, "\x93NUMPY\x01\x00", 8);
        buf[8] = (unsigned char)hl;
        buf[9] = 0;
        memcpy(buf + 10, heads[i], hl);
        struct nsid_npy_header h;
        struct nsid_err err = {0};
        int rc = nsid_npy_parse_header(buf, 10 + hl, &h, "mem.npy", &err);
        CHECK(rc == NSID_EFORMAT, "bad header %zu refused: %s", i, err.msg);
    }
    /* a zero-width dtype is fine while the array is empty */
    static const char u0[] = "{'descr': '<U0', 'fortran_order': False, 'shape': (3, 0), }";
    unsigned char b0[128];
    memcpy(b0, "\x93NUMPY\x01\x00", 8);
    b0[8] = (unsigned char)strlen(u0);
    b0[9] = 0;
    memcpy(b0 + 10, u0, strlen(u0));
    struct nsid_npy_header h0;
    struct nsid_err e0 = {0};
    CHECK(nsid_npy_parse_header(b0, 10 + strlen(u0), &h0, "mem.npy", &e0) == 0 && nsid_npy_numel(&h0) == 0,
          "empty '<U0' array accepted: %s", e0.msg);
    unsigned char v9[16] = "\x93NUMPY\x09\x00\x00\x00";
    struct nsid_npy_header h;
    struct nsid_err err = {0};
    CHECK(nsid_npy_parse_header(v9, 10, &h, "mem.npy", &err) == NSID_EFORMAT && strstr(err.msg, "version 9.0"),
          "format version 9.0 refused: %s", err.msg);
}

int main(void)
{
    dt_tmpdir(tmp, sizeof tmp, "npy");
    test_numeric();
    test_other_shapes();
    test_strings();
    test_refused();
    test_write_identical();
    test_header_fuzz();
    dt_rmtree(tmp);
    return check_summary("npy");
}
