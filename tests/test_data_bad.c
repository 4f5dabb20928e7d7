/*
 * test_data_bad.c - every bad input of issue 3 gives one clear error (code,
 * file, key, expected vs found) and nothing half-loaded, in both layouts.
 * Bad files are made from copies of the fixtures in a temporary folder.
 */
#include <hdf5.h>
#include <math.h>

#include "base/alloc.h"
#include "check.h"
#include "data/h5scan.h"
#include "data/npy.h"
#include "data/transform.h"
#include "data/tree.h"
#include "data_testutil.h"
#include "proc_testutil.h"

static char tmp[4096];
static char TREE[4300], H5[4300];

/* Paths of the tree copy touched since the last reset (restored from the fixture). */
static char dirty[64][256];
static int n_dirty;
static bool tree_made;

static const char *in_tree(const char *rel)
{
    static char buf[2][4600];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", TREE, rel);
    bool known = false;
    for (int i = 0; i < n_dirty && !known; i++) known = strcmp(dirty[i], rel) == 0;
    if (!known && n_dirty < 64) snprintf(dirty[n_dirty++], sizeof dirty[0], "%s", rel);
    return buf[k];
}

/* Fresh copies of the good fixtures: the HDF5 file, and the tree paths touched. */
static void reset(void)
{
    char src[4300];
    snprintf(src, sizeof src, "%s", check_fixture("data/static11111-1-1-preproc0")); /* static buffer */
    unlink(H5);
    dt_sh("cp '%s.h5' '%s'", src, H5);
    if (!tree_made) {
        dt_sh("cp -r '%s' '%s'", src, TREE);
        tree_made = true;
        n_dirty = 0;
        return;
    }
    for (int i = 0; i < n_dirty; i++)
        dt_sh("rm -rf '%s/%s' && if [ -e '%s/%s' ]; then cp -r '%s/%s' '%s/%s'; fi", TREE, dirty[i], src, dirty[i], src,
              dirty[i], TREE, dirty[i]);
    n_dirty = 0;
}

/* Load; expect code, file and key fragments in the error, and a zeroed scan. */
static void expect_fail(const char *path, const struct nsid_scan_opts *o, int code, const char *file_part,
                        const char *key_part, const char *msg_part, const char *what)
{
    struct nsid_scan s;
    struct nsid_err err = {0};
    memset(&s, 0xAB, sizeof s); /* garbage in: must come back zeroed */
    int rc = nsid_scan_load(&s, path, o, &err);
    char line[2048];
    nsid_err_str(&err, line, sizeof line);
    bool ok = rc == code && (!file_part || strstr(err.file, file_part)) && (!key_part || strstr(err.key, key_part)) &&
              (!msg_part || strstr(err.msg, msg_part));
    CHECK(ok, "%s: got rc %d: %s", what, rc, line);
    CHECK(s.images == NULL && s.responses == NULL && s.n_trials == 0 && s.trials.n == 0, "%s: nothing half-loaded", what);
    if (rc == 0) nsid_scan_free(&s);
    if (getenv("NSID_TEST_VERBOSE")) printf("  %-40s -> %s\n", what, line);
}

/* ---------------------------------------------------------------- HDF5 editing helpers */

static hid_t h5_open_rw(void)
{
    hid_t f = H5Fopen(H5, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) { fprintf(stderr, "cannot open %s\n", H5); exit(2); }
    return f;
}

static void h5_replace(const char *name, hid_t type, int ndim, const hsize_t *dims, const void *data)
{
    hid_t f = h5_open_rw();
    if (H5Lexists(f, name, H5P_DEFAULT) > 0) H5Ldelete(f, name, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(ndim, dims, NULL);
    hid_t d = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (data) H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
}

static void h5_delete(const char *name)
{
    hid_t f = h5_open_rw();
    H5Ldelete(f, name, H5P_DEFAULT);
    H5Fclose(f);
}

/* Overwrite one float of a 2-d float dataset. */
static void h5_poke(const char *name, hsize_t row, hsize_t col, float v)
{
    hid_t f = h5_open_rw();
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t start[4] = {row, col, 0, 0}, count[4] = {1, 1, 1, 1};
    int nd = H5Sget_simple_extent_ndims(sp);
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(1, count, NULL);
    (void)nd;
    H5Dwrite(d, H5T_NATIVE_FLOAT, ms, sp, H5P_DEFAULT, &v);
    H5Sclose(ms);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
}

/* ---------------------------------------------------------------- tree editing helpers */

/* Rewrite a tree .npy through our reader/writer with one value changed. */
static void npy_poke_f32(const char *rel, size_t i, float v)
{
    struct nsid_array a = {0};
    struct nsid_err err = {0};
    if (nsid_npy_read(in_tree(rel), &a, &err)) { fprintf(stderr, "%s\n", err.msg); exit(2); }
    if (a.dtype == NSID_DT_F32) ((float *)a.data)[i] = v;
    else ((double *)a.data)[i] = (double)v;
    nsid_npy_write(in_tree(rel), &a, false, &err);
    nsid_scan_array_free(&a);
}

static void npy_write_i64(const char *rel, const int64_t *v, int64_t n)
{
    struct nsid_arrays l = {0};
    struct nsid_err err = {0};
    nsid_scan_arrays_add_i64(&l, "x", v, n, 0, &err);
    nsid_npy_write(in_tree(rel), &l.a[0], false, &err);
    nsid_scan_arrays_free(&l);
}

static void npy_write_str(const char *rel, const char *const *v, int64_t n)
{
    struct nsid_arrays l = {0};
    struct nsid_err err = {0};
    nsid_scan_arrays_add_str(&l, "x", v, n, true, &err);
    nsid_npy_write(in_tree(rel), &l.a[0], false, &err);
    nsid_scan_arrays_free(&l);
}

/* The fixture's tiers as C strings (24 trials). */
static void fixture_tiers(const char **t)
{
    struct nsid_array a = {0};
    struct nsid_err err = {0};
    static char buf[24][16];
    nsid_npy_read(check_fixture("data/static11111-1-1-preproc0/meta/trials/tiers.npy"), &a, &err);
    for (int i = 0; i < 24; i++) {
        nsid_scan_array_get_str(&a, (size_t)i, buf[i], sizeof buf[i]);
        t[i] = buf[i];
    }
    nsid_scan_array_free(&a);
}

/* ================================================================ missing */

static void test_missing(void)
{
    reset();
    char p[4400];
    snprintf(p, sizeof p, "%s/no_such_scan.h5", tmp);
    expect_fail(p, NULL, NSID_ENOTFOUND, "no_such_scan.h5", NULL, "no such file", "missing HDF5 file");
    snprintf(p, sizeof p, "%s/no_such_folder", tmp);
    expect_fail(p, NULL, NSID_ENOTFOUND, "no_such_folder", NULL, "no such file or folder", "missing folder");
    struct nsid_scan s;
    struct nsid_err err = {0};
    CHECK(nsid_h5scan_load(&s, p, NULL, &err) == NSID_ENOTFOUND && s.images == NULL, "h5 reader: missing file");
    CHECK(nsid_tree_load(&s, p, NULL, &err) == NSID_ENOTFOUND && s.images == NULL, "tree reader: missing folder");

    h5_delete("responses");
    expect_fail(H5, NULL, NSID_ENOTFOUND, "static11111", "responses", "dataset missing", "HDF5 without responses");
    reset();
    h5_delete("tiers");
    expect_fail(H5, NULL, NSID_ENOTFOUND, "static11111", "tiers", "missing", "HDF5 without tiers");
    reset();
    dt_rmtree(in_tree("data/images"));
    expect_fail(TREE, NULL, NSID_ENOTFOUND, "data/images", "images", "folder missing", "tree without data/images");
    reset();
    unlink(in_tree("meta/trials/tiers.npy"));
    expect_fail(TREE, NULL, NSID_ENOTFOUND, "static11111", "tiers", "missing", "tree without meta/trials/tiers.npy");
    reset();
    dt_rmtree(in_tree("meta"));
    expect_fail(TREE, NULL, NSID_ENOTFOUND, "meta", NULL, "folder missing", "tree without meta/");
    reset();
    unlink(in_tree("data/responses/7.npy"));
    expect_fail(TREE, NULL, NSID_ENOTFOUND, "data/responses", NULL, "7.npy is missing",
                "tree missing responses/7.npy");
}

/* ================================================================ truncated / corrupt */

static void test_corrupt(void)
{
    reset();
    struct stat st;
    stat(in_tree("data/responses/3.npy"), &st);
    dt_truncate(in_tree("data/responses/3.npy"), st.st_size - 6);
    expect_fail(TREE, NULL, NSID_EFORMAT, "responses/3.npy", NULL, "truncated", "truncated per-trial .npy");
    reset();
    dt_truncate(in_tree("meta/neurons/unit_ids.npy"), 30);
    expect_fail(TREE, NULL, NSID_EFORMAT, "unit_ids.npy", NULL, "truncated .npy header", "truncated meta .npy header");
    reset();
    dt_write_text(in_tree("data/images/0.npy"), "this is not numpy");
    expect_fail(TREE, NULL, NSID_EFORMAT, "images/0.npy", NULL, "not a .npy file", "garbage .npy");
    reset();
    stat(H5, &st);
    dt_truncate(H5, st.st_size / 2);
    expect_fail(H5, NULL, NSID_EFORMAT, "static11111", NULL, "truncated", "truncated HDF5 file");
    reset();
    dt_truncate(H5, 100);
    expect_fail(H5, NULL, NSID_EFORMAT, "static11111", NULL, NULL, "HDF5 cut inside its superblock");
    reset();
    dt_sh("printf 'XXXXXXXX' | dd of='%s' bs=1 seek=0 conv=notrunc 2>/dev/null", H5);
    expect_fail(H5, NULL, NSID_EFORMAT, "static11111", NULL, "not a scan", "HDF5 with a broken signature");
    struct nsid_scan s;
    struct nsid_err err = {0};
    CHECK(nsid_h5scan_load(&s, H5, NULL, &err) == NSID_EFORMAT && strstr(err.msg, "not an HDF5 file"),
          "the HDF5 reader names the missing signature: %s", err.msg);
}

/* ================================================================ shapes */

static void test_shapes(void)
{
    reset();
    int64_t ids[5] = {1, 2, 3, 4, 5};
    hsize_t d5[1] = {5};
    h5_replace("neurons/unit_ids", H5T_NATIVE_INT64, 1, d5, ids);
    expect_fail(H5, NULL, NSID_ESHAPE, "static11111", "neurons/unit_ids", "expected 7", "HDF5 neurons vs responses");
    reset();
    npy_write_i64("meta/neurons/unit_ids.npy", ids, 5);
    expect_fail(TREE, NULL, NSID_ESHAPE, "static11111", "neurons/unit_ids", "expected 7", "tree neurons vs responses");
    reset();
    npy_write_i64("meta/trials/trial_idx.npy", ids, 5);
    expect_fail(TREE, NULL, NSID_ESHAPE, "static11111", "trials/trial_idx", "expected 24", "tree trials meta vs trials");
    reset();
    float *img = NSID_CALLOC(23 * 48 * 4, &(struct nsid_err){0});
    hsize_t di[4] = {23, 1, 6, 8};
    h5_replace("images", H5T_NATIVE_FLOAT, 4, di, img);
    nsid_alloc_free(img);
    expect_fail(H5, NULL, NSID_ESHAPE, "static11111", "images", "23 trials, but responses has 24", "HDF5 images vs responses");
    reset();
    hsize_t db[2] = {24, 4};
    h5_replace("behavior", H5T_NATIVE_FLOAT, 2, db, NULL);
    expect_fail(H5, NULL, NSID_ESHAPE, "static11111", "behavior", "expected (trials, 3)", "HDF5 behavior (T, 4)");
    reset();
    dt_sh("cp '%s' '%s'", in_tree("data/images/0.npy"), in_tree("data/images/24.npy"));
    expect_fail(TREE, NULL, NSID_ESHAPE, "data/images", "images", "25 trial files, but data/responses has 24",
                "tree trial counts across folders");
    reset();
    struct nsid_arrays l = {0};
    struct nsid_err err = {0};
    float six[6] = {1, 2, 3, 4, 5, 6};
    nsid_scan_arrays_add_f32(&l, "r", six, 6, 0, &err);
    nsid_npy_write(in_tree("data/responses/9.npy"), &l.a[0], false, &err);
    nsid_scan_arrays_free(&l);
    expect_fail(TREE, NULL, NSID_ESHAPE, "responses/9.npy", "responses", "shape (6,), but 0.npy has (7,)",
                "tree responses file of another length");
    reset();
    double c2[14] = {0};
    nsid_scan_arrays_add_f64(&l, "c", c2, 7, 2, &err);
    nsid_npy_write(in_tree("meta/neurons/cell_motor_coordinates.npy"), &l.a[0], false, &err);
    nsid_scan_arrays_free(&l);
    expect_fail(TREE, NULL, NSID_ESHAPE, "static11111", "cell_motor_coordinates", "expected (7, 3", "coordinates (N, 2)");
}

/* ================================================================ dtypes */

static void test_dtypes(void)
{
    reset();
    dt_sh("cp '%s' '%s'", check_fixture("data/npy/bad_object.npy"), in_tree("meta/neurons/notes.npy"));
    expect_fail(TREE, NULL, NSID_EFORMAT, "notes.npy", "descr", "object arrays", "tree object array");
    reset();
    dt_sh("cp '%s' '%s'", check_fixture("data/npy/bad_c8.npy"), in_tree("data/responses/0.npy"));
    expect_fail(TREE, NULL, NSID_EFORMAT, "responses/0.npy", "descr", "complex", "tree complex responses");
    reset();
    dt_sh("cp '%s' '%s'", check_fixture("data/npy/bad_struct.npy"), in_tree("meta/trials/frame_trial_ts.npy"));
    expect_fail(TREE, NULL, NSID_EFORMAT, "frame_trial_ts.npy", "descr", "structured", "tree structured dtype");
    reset();
    hid_t ct = H5Tcreate(H5T_COMPOUND, 8);
    H5Tinsert(ct, "a", 0, H5T_NATIVE_FLOAT);
    H5Tinsert(ct, "b", 4, H5T_NATIVE_INT32);
    hsize_t d7[1] = {7};
    h5_replace("neurons/odd", ct, 1, d7, NULL);
    H5Tclose(ct);
    expect_fail(H5, NULL, NSID_EFORMAT, "static11111", "neurons/odd", "unsupported dtype: HDF5 compound", "HDF5 compound");
    reset();
    hsize_t dr[2] = {24, 7};
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 4);
    h5_replace("responses", st, 2, dr, NULL);
    H5Tclose(st);
    expect_fail(H5, NULL, NSID_EFORMAT, "static11111", "responses", "expected integers or float32/float64",
                "HDF5 string responses");
    reset();
    int64_t tiers_num[24] = {0};
    npy_write_i64("meta/trials/tiers.npy", tiers_num, 24);
    expect_fail(TREE, NULL, NSID_EFORMAT, "static11111", "tiers", "expected a 1-d string array", "numeric tiers");
}

/* ================================================================ NaN / Inf */

static void test_nonfinite(void)
{
    reset();
    npy_poke_f32("data/responses/5.npy", 2, NAN);
    expect_fail(TREE, NULL, NSID_EFORMAT, "static11111", "responses", "first: trial 5, neuron 2", "NaN in responses (tree)");
    struct dt_warnings w = {0};
    struct nsid_scan_opts drop = {.drop_nonfinite = true, .warn = dt_warn_cb, .warn_ctx = &w};
    npy_poke_f32("data/images/11.npy", 30, INFINITY);
    struct nsid_scan s, g;
    struct nsid_err err = {0};
    int rc = nsid_scan_load(&s, TREE, &drop, &err);
    CHECK(rc == 0 && s.n_trials == 22 && w.n == 1 && strstr(w.last, "dropped 2 of 24"),
          "drop_nonfinite drops trials 5 and 11 with a warning: %s / %s", err.msg, w.last);
    if (!rc) {
        nsid_scan_load(&g, check_fixture("data/static11111-1-1-preproc0"), NULL, &err);
        /* trial 12 of the original is trial 10 now, in every per-trial array */
        CHECK(memcmp(s.responses + 10 * 7, g.responses + 12 * 7, 28) == 0 && s.tiers[10] == g.tiers[12] &&
              s.frame_image_id[10] == g.frame_image_id[12] &&
              memcmp(s.images + 10 * 48, g.images + 12 * 48, 48 * 4) == 0 &&
              nsid_scan_arrays_find(&s.trials, "trial_idx")->shape[0] == 22 &&
              ((int64_t *)nsid_scan_arrays_find(&s.trials, "trial_idx")->data)[10] == 36,
              "the remaining trials keep all their fields aligned");
        nsid_scan_free(&g);
        nsid_scan_free(&s);
    }
    reset();
    h5_poke("responses", 3, 1, INFINITY);
    expect_fail(H5, NULL, NSID_EFORMAT, "static11111", "responses", "NaN or Inf", "Inf in responses (HDF5)");
    reset();
    h5_poke("images", 4, 0, NAN);
    expect_fail(H5, NULL, NSID_EFORMAT, "static11111", "images", "first: trial 4, pixel 0", "NaN in images (HDF5)");
    reset();
    npy_poke_f32("meta/neurons/cell_motor_coordinates.npy", 7, NAN);
    expect_fail(TREE, &drop, NSID_EFORMAT, "static11111", "cell_motor_coordinates", "neuron 2: coordinate 1",
                "NaN in coordinates (even with drop_nonfinite)");
    reset();
    w.n = 0;
    h5_poke("behavior", 2, 2, NAN);
    struct nsid_scan_opts wo = {.warn = dt_warn_cb, .warn_ctx = &w};
    rc = nsid_scan_load(&s, H5, &wo, &err);
    CHECK(rc == 0 && w.n == 1 && strstr(w.last, "behavior holds 1 NaN"), "NaN in behavior: a warning: %s", w.last);
    if (!rc) nsid_scan_free(&s);
}

/* ================================================================ tiers */

static void test_tiers(void)
{
    const char *t[24];
    fixture_tiers(t);
    reset();
    t[13] = "trian";
    npy_write_str("meta/trials/tiers.npy", t, 24);
    expect_fail(TREE, NULL, NSID_EFORMAT, "static11111", "tiers", "trial 13: unknown tier 'trian'", "unknown tier (tree)");
    reset();
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 10);
    char buf[24][10];
    for (int i = 0; i < 24; i++) strncpy(buf[i], i == 2 ? "TEST" : t[i], 10);
    hsize_t d[1] = {24};
    h5_replace("tiers", st, 1, d, buf);
    H5Tclose(st);
    expect_fail(H5, NULL, NSID_EFORMAT, "static11111", "tiers", "trial 2: unknown tier 'TEST'", "unknown tier (HDF5)");
    fixture_tiers(t);
    static const char *const names[3] = {"train", "validation", "test"};
    for (int empty = 0; empty < 3; empty++) {
        reset();
        for (int i = 0; i < 24; i++)
            if (!strcmp(t[i], names[empty])) t[i] = names[(empty + 1) % 3];
        npy_write_str("meta/trials/tiers.npy", t, 24);
        char what[64];
        snprintf(what, sizeof what, "empty %s tier", names[empty]);
        char msg[64];
        snprintf(msg, sizeof msg, "the %s tier is empty", names[empty]);
        expect_fail(TREE, NULL, NSID_EFORMAT, "static11111", "tiers", msg, what);
        struct nsid_scan s;
        struct nsid_err err = {0};
        struct nsid_scan_opts ok = {.allow_empty_tier = true};
        int rc = nsid_scan_load(&s, TREE, &ok, &err);
        CHECK(rc == 0, "allow_empty_tier accepts the %s: %s", what, err.msg);
        if (!rc) nsid_scan_free(&s);
        fixture_tiers(t);
    }
}

/* ================================================================ statistics */

/* Scan statistics that are not numbers, negative or denormal stds: refused by nsid_transform_norm_init,
 * naming the file and the dataset (before, training ran with loss=-nan and recorded 0). */
static void test_bad_statistics(void)
{
    static const struct {
        const char *what, *dset, *msg;
        int elt;        /* -1: every element */
        float value;
        bool zscore;
    } cases[] = {
        {"NaN response std", "statistics/responses/all/std", "element 3 is nan", 3, NAN, false},
        {"Inf response std", "statistics/responses/all/std", "element 0 is inf", 0, INFINITY, false},
        {"negative response std", "statistics/responses/all/std", "cannot be negative", 2, -1.0f, false},
        {"every response std 0", "statistics/responses/all/std", "mean std over the neurons is 0", -1, 0.0f, false},
        {"denormal response stds", "statistics/responses/all/std", "cannot be scaled", -1, 1e-40f, false},
        {"NaN image mean", "statistics/images/all/mean", "element 0 is nan", -1, NAN, true},
        {"-Inf image std", "statistics/images/all/std", "element 0 is -inf", -1, -INFINITY, true},
    };
    int wrong = 0, n_cases = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int failed = check_failed_;
        n_cases++;
        reset();
        hid_t f = h5_open_rw();
        hid_t d = H5Dopen2(f, cases[c].dset, H5P_DEFAULT);
        hid_t sp = H5Dget_space(d);
        hssize_t n = H5Sget_simple_extent_npoints(sp);
        float *v = calloc((size_t)(n > 0 ? n : 1), sizeof *v);
        H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        for (hssize_t i = 0; i < n; i++)
            if (cases[c].elt < 0 || i == cases[c].elt) v[i] = cases[c].value;
        H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        free(v);
        H5Sclose(sp), H5Dclose(d), H5Fclose(f);
        struct nsid_scan s;
        struct nsid_err err = {0};
        int rc = nsid_scan_load(&s, H5, NULL, &err);
        CHECK(rc == 0, "%s: the scan itself loads: %s", cases[c].what, err.msg);
        if (rc) continue;
        struct nsid_norm nm;
        struct nsid_norm_opts no = {.zscore_images = cases[c].zscore};
        rc = nsid_transform_norm_init(&nm, &s, &no, &err);
        const char *key = cases[c].dset + strlen("statistics/");
        CHECK(rc == NSID_EFORMAT && strstr(err.file, "static11111") && strcmp(err.key, key) == 0 &&
                  strstr(err.msg, cases[c].msg),
              "%s: refused naming the file, %s and '%s': rc %d %s: %s: %s", cases[c].what, key, cases[c].msg, rc,
              err.file, err.key, err.msg);
        if (rc == 0) nsid_transform_norm_free(&nm);
        /* with recompute_nonfinite (data.drop_nan_trials) a bad stored statistic is computed from
         * the trials instead, with a warning; the fixture's own data is finite */
        if (isfinite(cases[c].value) && cases[c].value >= 0.0f) { /* legal values, refused as a whole */
            nsid_scan_free(&s);
            wrong += check_failed_ != failed;
            continue;
        }
        struct dt_warnings w = {0};
        no = (struct nsid_norm_opts){.zscore_images = cases[c].zscore, .recompute_nonfinite = true,
                                     .warn = dt_warn_cb, .warn_ctx = &w};
        rc = nsid_transform_norm_init(&nm, &s, &no, &err);
        CHECK(rc == 0 && nm.stats_computed == 1 && strstr(w.last, key) && strstr(w.last, "computed from the 24 trials"),
              "%s: recomputed from the trials with a warning: %s / %s", cases[c].what, err.msg, w.last);
        if (rc == 0) nsid_transform_norm_free(&nm);
        nsid_scan_free(&s);
        wrong += check_failed_ != failed;
    }
    pt_figures_reset("nonfinite_statistics");
    pt_figure("nonfinite_statistics", "cases", "%d", n_cases);
    pt_figure("nonfinite_statistics", "wrong", "%d", wrong);
}

/* ================================================================ constant neuron */

static void test_constant_neuron(void)
{
    reset();
    for (int i = 0; i < 24; i++) h5_poke("responses", (hsize_t)i, 4, 0.5f);
    h5_delete("statistics/responses/all/std"); /* the std is computed from the data */
    struct nsid_scan s;
    struct nsid_err err = {0};
    struct dt_warnings w = {0};
    struct nsid_scan_opts o = {.warn = dt_warn_cb, .warn_ctx = &w};
    int rc = nsid_scan_load(&s, H5, &o, &err);
    CHECK(rc == 0, "a constant neuron loads: %s", err.msg);
    if (rc) return;
    struct nsid_norm nm;
    struct nsid_norm_opts no = {.warn = dt_warn_cb, .warn_ctx = &w};
    rc = nsid_transform_norm_init(&nm, &s, &no, &err);
    CHECK(rc == 0 && nm.n_constant == 1 && nm.stats_computed == 1 && w.n == 2 && strstr(w.last, "never vary") &&
          strstr(w.last, "index 4, unit_id 50"), "warning names the constant neuron: %s", w.last);
    if (!rc) {
        CHECK(nm.n_floored == 1, "its std 0 is below the floor");
        CHECK_CLOSE(nm.resp_scale[4], 1.0 / nm.resp_threshold, 0, 1e-6, "floor 1 / (0.01 mean std) applied");
        float out[7];
        nsid_transform_norm_responses(&nm, s.responses, NULL, 7, out);
        CHECK(isfinite(out[4]) && out[4] > 0, "normalised constant neuron is finite: %g", (double)out[4]);
        nsid_transform_norm_free(&nm);
    }
    nsid_scan_free(&s);
}

int main(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the helpers poke files; their HDF5 errors would be noise */
    dt_tmpdir(tmp, sizeof tmp, "bad");
    snprintf(TREE, sizeof TREE, "%s/static11111-1-1-preproc0", tmp);
    snprintf(H5, sizeof H5, "%s/static11111-1-1-preproc0.h5", tmp);
    test_missing();
    test_corrupt();
    test_shapes();
    test_dtypes();
    test_nonfinite();
    test_tiers();
    test_bad_statistics();
    test_constant_neuron();
    dt_rmtree(tmp);
    return check_summary("data_bad");
}
