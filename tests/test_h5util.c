/*
 * test_h5util.c - the shared HDF5 helpers: a quiet scope prints nothing and restores the
 * caller's handler, the reason names HDF5's innermost error, files written through
 * nsid_h5util_create/plist/parents/put carry no timestamps (the same content a second later is the
 * same bytes), parent groups are made once, and put's return codes.
 */
#include <string.h>
#include <time.h>

#include "base/h5util.h"
#include "check.h"
#include "data_testutil.h"

static char tmp[4096];
static int printed;

static herr_t count_cb(hid_t stack, void *data)
{
    (void)stack;
    (void)data;
    printed++;
    return 0;
}

static void test_quiet_and_reason(void)
{
    char path[4200], why[NSID_H5_REASON_MAX];
    snprintf(path, sizeof path, "%s/missing.h5", tmp);
    H5Eset_auto2(H5E_DEFAULT, count_cb, tmp);
    struct nsid_h5_quiet q;
    nsid_h5util_quiet_begin(&q);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f < 0 && printed == 0, "a failed open in a quiet scope prints nothing (%d)", printed);
    nsid_h5util_reason(why);
    CHECK(why[0] && strchr(why, '('), "the reason names the innermost error and its class: '%s'", why);
    nsid_h5util_quiet_end(&q);
    H5E_auto2_t fn = NULL;
    void *data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    CHECK(fn == count_cb && data == tmp, "the caller's handler is back after the scope");
    CHECK(nsid_h5util_reason(why)[0] == '\0', "the scope's end cleared the stack: '%s'", why);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* A small file: nested datasets (made groups), a scalar, a group, all without timestamps. */
static int write_small(const char *path)
{
    hid_t f = nsid_h5util_create(path, H5P_DEFAULT);
    hid_t dcpl = nsid_h5util_plist(H5P_DATASET_CREATE), gcpl = nsid_h5util_plist(H5P_GROUP_CREATE);
    if (f < 0 || dcpl < 0 || gcpl < 0) return -1;
    float x[6] = {1, 2, 3, 4, 5, 6};
    int64_t s = 7;
    hsize_t d[2] = {2, 3};
    int rc = nsid_h5util_parents(f, "/a/b/x", gcpl);
    rc |= nsid_h5util_put(f, "/a/b/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d, dcpl, x);
    rc |= nsid_h5util_parents(f, "a/b/c/y", gcpl); /* a and a/b exist: only a/b/c is new */
    rc |= nsid_h5util_put(f, "a/b/c/y", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, NULL, dcpl, &s);
    rc |= nsid_h5util_parents(f, "top", gcpl); /* no groups on the path */
    rc |= nsid_h5util_put(f, "top", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, NULL, dcpl, &s);
    H5Pclose(dcpl);
    H5Pclose(gcpl);
    return H5Fclose(f) < 0 ? -1 : rc;
}

static void test_writing(void)
{
    char p1[4200], p2[4200];
    snprintf(p1, sizeof p1, "%s/one.h5", tmp);
    snprintf(p2, sizeof p2, "%s/two.h5", tmp);
    CHECK(write_small(p1) == 0, "a file with nested groups and a scalar is written");
    struct timespec second = {1, 100000000};
    nanosleep(&second, NULL);
    CHECK(write_small(p2) == 0, "written again");
    FILE *a = fopen(p1, "rb"), *b = fopen(p2, "rb");
    int same = a && b, ca, cb;
    do {
        ca = a ? fgetc(a) : EOF;
        cb = b ? fgetc(b) : EOF;
        if (ca != cb) same = 0;
    } while (same && ca != EOF);
    if (a) fclose(a);
    if (b) fclose(b);
    CHECK(same, "the same content 1.1 s later is the same bytes (no object timestamps)");

    hid_t f = H5Fopen(p1, H5F_ACC_RDWR, H5P_DEFAULT);
    float x[6] = {0};
    int64_t s = 0;
    hid_t d = H5Dopen2(f, "a/b/x", H5P_DEFAULT);
    CHECK(d >= 0 && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0 && x[5] == 6.0f,
          "a/b/x reads back");
    if (d >= 0) H5Dclose(d);
    d = H5Dopen2(f, "a/b/c/y", H5P_DEFAULT);
    CHECK(d >= 0 && H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s) >= 0 && s == 7,
          "the scalar a/b/c/y reads back");
    if (d >= 0) H5Dclose(d);

    hid_t dcpl = nsid_h5util_plist(H5P_DATASET_CREATE), gcpl = nsid_h5util_plist(H5P_GROUP_CREATE);
    struct nsid_h5_quiet q;
    nsid_h5util_quiet_begin(&q);
    char why[NSID_H5_REASON_MAX];
    CHECK(nsid_h5util_put(f, "top", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, NULL, dcpl, &s) == -1,
          "put on an existing name: -1 (not created)");
    CHECK(nsid_h5util_reason(why)[0], "and HDF5's reason survives put's cleanup: '%s'", why);
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 4);
    CHECK(nsid_h5util_put(f, "w", H5T_IEEE_F32LE, str, 1, (hsize_t[]){1}, dcpl, "abc") == -2,
          "a write that fails (no string -> float conversion): -2");
    CHECK(nsid_h5util_reason(why)[0], "and its reason survives the dataset's close: '%s'", why);
    H5Tclose(str);
    char nodir[4300];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir.h5", tmp);
    CHECK(nsid_h5util_create(nodir, H5P_DEFAULT) < 0 && nsid_h5util_reason(why)[0],
          "a file that cannot be created: < 0, with HDF5's reason: '%s'", why);
    nsid_h5util_quiet_end(&q);
    CHECK(nsid_h5util_put(f, "no/such/group/z", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, NULL, dcpl, &s) == -1,
          "put under missing groups: -1");
    CHECK(nsid_h5util_parents(f, "top/z", gcpl) == 0 && nsid_h5util_parents(f, "top/g/z", gcpl) == -1,
          "parents: a dataset on the path is no group to create under: -1");
    static char longname[NSID_H5_NAME_MAX + 8];
    memset(longname, 'a', sizeof longname - 1);
    longname[5] = '/';
    CHECK(nsid_h5util_parents(f, longname, gcpl) == -1, "parents of a name too long: -1");
    H5Pclose(dcpl);
    H5Pclose(gcpl);
    H5Fclose(f);
    CHECK(nsid_h5util_plist(H5I_INVALID_HID) < 0, "a property list of no class: < 0");
}

int main(void)
{
    dt_tmpdir(tmp, sizeof tmp, "h5util");
    test_quiet_and_reason();
    test_writing();
    dt_rmtree(tmp);
    return check_summary("h5util");
}
