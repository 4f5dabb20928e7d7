/* test_data_tree.c - the file-tree reader/writer, generic load, and round trips tree <-> HDF5. */
#include "base/alloc.h"
#include "check.h"
#include "data/h5scan.h"
#include "data/tree.h"
#include "data_testutil.h"

static char tmp[4096];

static const char *tmp_path(const char *name)
{
    static char buf[2][4300];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
    return buf[k];
}

/* Lists hold the same values (strings compared as text, whatever their storage). */
static bool same_values(const struct nsid_arrays *a, const struct nsid_arrays *b, char *why, size_t n)
{
    if (a->n != b->n) { snprintf(why, n, "%d vs %d arrays", a->n, b->n); return false; }
    for (int i = 0; i < a->n; i++) {
        const struct nsid_array *x = &a->a[i], *y = nsid_scan_arrays_find(b, x->name);
        if (!y || x->ndim != y->ndim || nsid_scan_array_numel(x) != nsid_scan_array_numel(y) || (x->dtype == NSID_DT_STR) !=
            (y->dtype == NSID_DT_STR)) { snprintf(why, n, "%s: missing or other shape", x->name); return false; }
        for (size_t e = 0; e < nsid_scan_array_numel(x); e++) {
            bool ok;
            if (x->dtype == NSID_DT_STR) {
                char s1[256], s2[256];
                nsid_scan_array_get_str(x, e, s1, sizeof s1);
                nsid_scan_array_get_str(y, e, s2, sizeof s2);
                ok = strcmp(s1, s2) == 0;
            } else {
                ok = nsid_scan_array_get_f64(x, e) == nsid_scan_array_get_f64(y, e) && x->dtype == y->dtype;
            }
            if (!ok) { snprintf(why, n, "%s[%zu] differs", x->name, e); return false; }
        }
    }
    return true;
}

static void test_tree_equals_h5(void)
{
    struct nsid_scan t, h;
    struct nsid_err err = {0};
    int rc = nsid_tree_load(&t, check_fixture("data/static11111-1-1-preproc0"), NULL, &err);
    CHECK(rc == 0, "file tree written like neuralpredictors' converter loads: %s", err.msg);
    if (rc) return;
    rc = nsid_h5scan_load(&h, check_fixture("data/static11111-1-1-preproc0.h5"), NULL, &err);
    CHECK(rc == 0, "HDF5 loads: %s", err.msg);
    if (rc) { nsid_scan_free(&t); return; }
    CHECK(strcmp(t.data_key, "11111-1-1-0") == 0, "tree data key: %s", t.data_key);
    size_t T = (size_t)t.n_trials, N = (size_t)t.n_neurons;
    CHECK(t.n_trials == 24 && t.n_neurons == 7 && t.channels == 1 && t.height == 6 && t.width == 8, "tree sizes");
    CHECK(memcmp(t.images, h.images, T * 48 * 4) == 0 && memcmp(t.responses, h.responses, T * N * 4) == 0 &&
          memcmp(t.behavior, h.behavior, T * 12) == 0 && memcmp(t.pupil_center, h.pupil_center, T * 8) == 0,
          "tree data arrays equal the HDF5 ones bit for bit");
    CHECK(memcmp(t.tiers, h.tiers, T) == 0 && memcmp(t.frame_image_id, h.frame_image_id, T * 8) == 0 &&
          memcmp(t.unit_ids, h.unit_ids, N * 8) == 0 && memcmp(t.multi_match_id, h.multi_match_id, N * 8) == 0 &&
          memcmp(t.cell_motor_coordinates, h.cell_motor_coordinates, N * 24) == 0, "typed fields equal");
    const struct nsid_array *ti = nsid_scan_arrays_find(&t.trials, "tiers");
    CHECK(ti && ti->str_unicode && ti->itemsize == 40, "tree tiers are numpy str '<U10'");
    char why[256] = "";
    CHECK(same_values(&t.trials, &h.trials, why, sizeof why), "trials metadata same values: %s", why);
    CHECK(same_values(&t.neurons, &h.neurons, why, sizeof why), "neurons metadata same values: %s", why);
    CHECK(same_values(&t.stats, &h.stats, why, sizeof why), "statistics same values: %s", why);
    CHECK(t.config_json && strcmp(t.config_json, "{\"links\": {}}") == 0, "config.json kept");
    nsid_scan_free(&t);
    nsid_scan_free(&h);
}

/* tree -> HDF5 -> tree: every field equal, strings keep their numpy kind and width. */
static void test_roundtrip_tree_h5_tree(void)
{
    struct nsid_scan a, b, c;
    struct nsid_err err = {0};
    if (nsid_scan_load(&a, check_fixture("data/static11111-1-1-preproc0"), NULL, &err)) {
        CHECK(0, "load tree: %s", err.msg);
        return;
    }
    const char *h5 = tmp_path("static11111-1-1-preproc0.h5"), *tree = tmp_path("static11111-1-1-preproc0");
    int rc = nsid_scan_save(&a, h5, NULL, &err);
    CHECK(rc == 0, "tree -> HDF5: %s", err.msg);
    rc = rc ? rc : nsid_scan_load(&b, h5, NULL, &err);
    CHECK(rc == 0, "HDF5 reloads: %s", err.msg);
    if (rc) { nsid_scan_free(&a); return; }
    rc = nsid_scan_save(&b, tree, NULL, &err);
    CHECK(rc == 0, "HDF5 -> tree: %s", err.msg);
    rc = rc ? rc : nsid_scan_load(&c, tree, NULL, &err);
    CHECK(rc == 0, "tree reloads: %s", err.msg);
    char why[256] = "";
    if (!rc) {
        CHECK(dt_scans_equal(&a, &b, false, why, sizeof why), "tree -> HDF5: every field equal: %s", why);
        CHECK(dt_scans_equal(&a, &c, true, why, sizeof why), "tree -> HDF5 -> tree: every field equal: %s", why);
        nsid_scan_free(&c);
    }
    /* the tree written by nsid has the same files as the one numpy wrote */
    CHECK(dt_sh("cd '%s' && find . -type f | sort > %s/a.txt && cd '%s' && find . -type f | sort > %s/b.txt && "
                "cmp -s %s/a.txt %s/b.txt", check_fixture("data/static11111-1-1-preproc0"), tmp, tree, tmp, tmp,
                tmp) == 0, "same file list as the authors' converter wrote");
    CHECK(dt_sh("cmp -s '%s/data/responses/5.npy' '%s/data/responses/5.npy' && cmp -s '%s/meta/trials/tiers.npy' "
                "'%s/meta/trials/tiers.npy'", check_fixture("data/static11111-1-1-preproc0"), tree,
                check_fixture("data/static11111-1-1-preproc0"), tree) == 0,
          "per-trial and tier files byte-identical to numpy's");
    nsid_scan_free(&a);
    nsid_scan_free(&b);
    dt_rmtree(tree);
    unlink(h5);
    unlink(tmp_path("a.txt"));
    unlink(tmp_path("b.txt"));
}

/* HDF5 -> tree -> HDF5: values equal (fixed byte strings become numpy str, as the authors' converter does). */
static void test_roundtrip_h5_tree_h5(void)
{
    const char *fx[] = {"data/static11111-1-1-preproc0.h5", "data/static22222-2-2-preproc0.h5"};
    for (int f = 0; f < 2; f++) {
        struct nsid_scan a, b, c;
        struct nsid_err err = {0};
        if (nsid_scan_load(&a, check_fixture(fx[f]), NULL, &err)) { CHECK(0, "%s", err.msg); continue; }
        const char *tree = tmp_path("t"), *h5 = tmp_path("t.h5");
        int rc = nsid_scan_save(&a, tree, NULL, &err);
        rc = rc ? rc : nsid_scan_load(&b, tree, NULL, &err);
        rc = rc ? rc : nsid_scan_save(&b, h5, NULL, &err);
        rc = rc ? rc : nsid_scan_load(&c, h5, NULL, &err);
        CHECK(rc == 0, "%s -> tree -> HDF5: %s", fx[f], err.msg);
        if (!rc) {
            char why[256] = "";
            CHECK(same_values(&a.trials, &c.trials, why, sizeof why) && same_values(&a.neurons, &c.neurons, why, sizeof why)
                  && same_values(&a.stats, &c.stats, why, sizeof why), "%s: metadata values kept: %s", fx[f], why);
            CHECK(memcmp(a.responses, c.responses, (size_t)(a.n_trials * a.n_neurons) * 4) == 0 &&
                  memcmp(a.images, c.images, (size_t)a.n_trials * 48 * 4) == 0, "%s: data kept", fx[f]);
            const struct nsid_array *bl = nsid_scan_arrays_find(&c.trials, "is_blank");
            CHECK(f == 0 || (bl && bl->dtype == NSID_DT_BOOL), "bool survives the tree");
            nsid_scan_free(&b);
            nsid_scan_free(&c);
        }
        nsid_scan_free(&a);
        dt_rmtree(tree);
        unlink(h5);
    }
}

static void test_options_and_links(void)
{
    struct nsid_scan a, b;
    struct nsid_err err = {0};
    if (nsid_scan_load(&a, check_fixture("data/static11111-1-1-preproc0.h5"), NULL, &err)) return;
    const char *tree = tmp_path("opt");
    /* keep_bytes: '|S' stays bytes */
    struct nsid_save_opts so = {0, true, false};
    int rc = nsid_scan_save(&a, tree, &so, &err);
    rc = rc ? rc : nsid_scan_load(&b, tree, NULL, &err);
    if (!rc) {
        const struct nsid_array *t = nsid_scan_arrays_find(&b.trials, "tiers");
        CHECK(t && !t->str_unicode && t->itemsize == 10, "keep_bytes writes '|S10' tiers");
        nsid_scan_free(&b);
    }
    /* an existing folder is not overwritten unless asked */
    rc = nsid_scan_save(&a, tree, NULL, &err);
    CHECK(rc == NSID_EINVAL && strstr(err.msg, "refusing"), "existing folder not overwritten: %s", err.msg);
    so.overwrite = true;
    so.keep_bytes = false;
    rc = nsid_scan_save(&a, tree, &so, &err);
    CHECK(rc == 0, "overwrite replaces it: %s", err.msg);
    CHECK(dt_count_entries(tmp) == 1, "no temporary or old folder left behind (%d entries)", dt_count_entries(tmp));
    /* config.json links: responses live in data/targets */
    char p1[4400], p2[4400];
    snprintf(p1, sizeof p1, "%s/data/responses", tree);
    snprintf(p2, sizeof p2, "%s/data/targets", tree);
    rename(p1, p2);
    snprintf(p1, sizeof p1, "%s/config.json", tree);
    dt_write_text(p1, "{\"links\": {\"responses\": \"targets\"}, \"note\": [1, 2.5e3, true, null, \"x\\\"y\"]}\n");
    struct dt_warnings w = {0};
    struct nsid_scan_opts lo = {.warn = dt_warn_cb, .warn_ctx = &w};
    rc = nsid_scan_load(&b, tree, &lo, &err);
    CHECK(rc == 0 && memcmp(b.responses, a.responses, (size_t)(a.n_trials * a.n_neurons) * 4) == 0 && w.n == 0,
          "links redirect responses to data/targets: %s", err.msg);
    if (!rc) {
        const char *t2 = tmp_path("links2");
        rc = nsid_scan_save(&b, t2, NULL, &err);
        snprintf(p2, sizeof p2, "%s/data/targets/0.npy", t2);
        CHECK(rc == 0 && dt_exists(p2), "the writer follows the links too");
        dt_rmtree(t2);
        nsid_scan_free(&b);
    }
    dt_write_text(p1, "{\"links\": {\"responses\": 3}}");
    nsid_err_clear(&err);
    rc = nsid_scan_load(&b, tree, NULL, &err);
    CHECK(rc == NSID_EFORMAT && strstr(err.file, "config.json"), "bad links refused: %s", err.msg);
    dt_write_text(p1, "{\"links\": {}");
    nsid_err_clear(&err);
    rc = nsid_scan_load(&b, tree, NULL, &err);
    CHECK(rc == NSID_EFORMAT && strstr(err.msg, "invalid JSON"), "invalid config.json refused: %s", err.msg);
    dt_rmtree(tree);
    nsid_scan_free(&a);
}

static void test_extra_and_ground_truth(void)
{
    struct nsid_scan a, b, c;
    struct nsid_err err = {0};
    if (nsid_scan_load(&a, check_fixture("data/static11111-1-1-preproc0"), NULL, &err)) return;
    int64_t T = a.n_trials;
    struct nsid_array e = {0};
    snprintf(e.name, sizeof e.name, "eye_position");
    e.dtype = NSID_DT_F64;
    e.itemsize = 8;
    e.ndim = 2;
    e.shape[0] = T;
    e.shape[1] = 2;
    e.data = NSID_ALLOC((size_t)T * 16, &(struct nsid_err){0});
    for (int64_t i = 0; i < 2 * T; i++) ((double *)e.data)[i] = 0.25 * (double)i;
    nsid_scan_arrays_take(&a.extra, &e, &err);
    double rf[14];
    for (int i = 0; i < 14; i++) rf[i] = i;
    nsid_scan_arrays_add_f64(&a.ground_truth, "rf_position", rf, 7, 2, &err);
    nsid_scan_arrays_add_f64(&a.ground_truth, "core/weights", rf, 14, 0, &err);
    const char *tree = tmp_path("extra"), *h5 = tmp_path("extra.h5");
    int rc = nsid_scan_save(&a, tree, NULL, &err);
    rc = rc ? rc : nsid_scan_load(&b, tree, NULL, &err);
    rc = rc ? rc : nsid_scan_save(&b, h5, NULL, &err);
    rc = rc ? rc : nsid_scan_load(&c, h5, NULL, &err);
    CHECK(rc == 0, "extra data and ground truth through tree and HDF5: %s", err.msg);
    if (!rc) {
        char why[256] = "";
        CHECK(dt_lists_equal(&a.extra, &c.extra, true, "extra", why, sizeof why), "extra per-trial array kept: %s", why);
        CHECK(dt_lists_equal(&a.ground_truth, &c.ground_truth, true, "gt", why, sizeof why), "ground truth kept: %s", why);
        CHECK(dt_lists_equal(&a.extra, &b.extra, true, "extra", why, sizeof why), "extra via tree: %s", why);
        nsid_scan_free(&b);
        nsid_scan_free(&c);
    }
    struct nsid_scan_opts so = {.skip_extra = true, .skip_behavior = true};
    rc = nsid_scan_load(&b, tree, &so, &err);
    CHECK(rc == 0 && b.extra.n == 0 && !b.behavior && !b.pupil_center, "skip_extra / skip_behavior honoured");
    if (!rc) nsid_scan_free(&b);
    rc = nsid_scan_load(&b, h5, &so, &err);
    CHECK(rc == 0 && b.extra.n == 0 && !b.behavior, "skip options in HDF5 too");
    if (!rc) nsid_scan_free(&b);
    dt_rmtree(tree);
    unlink(h5);
    nsid_scan_free(&a);
}

static void test_generic_load(void)
{
    struct nsid_scan s;
    struct nsid_err err = {0};
    struct dt_warnings w = {0};
    struct nsid_scan_opts o = {.warn = dt_warn_cb, .warn_ctx = &w};
    /* .zip: the unzipped folder beside it is used, else a clear error */
    char zip[4400];
    snprintf(zip, sizeof zip, "%s.zip", check_fixture("data/static11111-1-1-preproc0"));
    int rc = nsid_scan_load(&s, zip, &o, &err);
    CHECK(rc == 0 && w.n == 1 && strstr(w.last, "unzipped folder"), "x.zip reads the unzipped folder x: %s", w.last);
    if (!rc) nsid_scan_free(&s);
    rc = nsid_scan_load(&s, tmp_path("nothing.zip"), &o, &err);
    CHECK(rc == NSID_EFORMAT && strstr(err.msg, "unzip"), "x.zip without x says to unzip: %s", err.msg);
    dt_write_text(tmp_path("plain.txt"), "hello");
    nsid_err_clear(&err);
    rc = nsid_scan_load(&s, tmp_path("plain.txt"), &o, &err);
    CHECK(rc == NSID_EFORMAT && strstr(err.msg, "not a scan") && s.images == NULL, "a text file is not a scan: %s", err.msg);
    unlink(tmp_path("plain.txt"));
    CHECK(nsid_scan_path_is_h5_name("a/b.h5") && nsid_scan_path_is_h5_name("x.hdf5") && !nsid_scan_path_is_h5_name("x"),
          "HDF5 names by extension");
    char key[128];
    nsid_scan_data_key("/d/static20457-5-9-preproc0/", key, sizeof key);
    CHECK(strcmp(key, "20457-5-9-0") == 0, "data key of a folder with a trailing slash: %s", key);
    nsid_scan_data_key("/data/static_scans/static22564-2-12-preproc0.h5", key, sizeof key);
    CHECK(strcmp(key, "22564-2-12-0") == 0, "data key uses the last 'static' of the file name: %s", key);
    nsid_scan_data_key("static22846-10-16-preproc0_nobehavior.zip", key, sizeof key);
    CHECK(strcmp(key, "22846-10-16-0") == 0, "'_nobehavior' dropped: %s", key);
}

int main(void)
{
    dt_tmpdir(tmp, sizeof tmp, "tree");
    test_tree_equals_h5();
    test_roundtrip_tree_h5_tree();
    test_roundtrip_h5_tree_h5();
    test_options_and_links();
    test_extra_and_ground_truth();
    test_generic_load();
    dt_rmtree(tmp);
    return check_summary("data_tree");
}
