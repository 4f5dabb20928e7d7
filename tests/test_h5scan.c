/* test_h5scan.c - the HDF5 StaticImageSet reader and writer on fixtures written by h5py. */
#include <hdf5.h>
#include <math.h>

#include "base/alloc.h"
#include "check.h"
#include "data/h5scan.h"
#include "data_testutil.h"

static char tmp[4096];

static void test_read_fixed_strings(void)
{
    struct nsid_scan s;
    struct nsid_err err = {0};
    int rc = nsid_h5scan_load(&s, check_fixture("data/static11111-1-1-preproc0.h5"), NULL, &err);
    CHECK(rc == 0, "h5py fixture loads: %s", err.msg);
    if (rc) return;
    CHECK(s.n_trials == 24 && s.n_neurons == 7, "sizes 24 x 7, got %lld x %lld", (long long)s.n_trials,
          (long long)s.n_neurons);
    CHECK(s.channels == 1 && s.height == 6 && s.width == 8, "image shape 1x6x8");
    CHECK(strcmp(s.data_key, "11111-1-1-0") == 0, "data key from the file name: %s", s.data_key);
    int64_t c[3];
    nsid_scan_tier_counts(&s, c);
    CHECK(c[0] == 14 && c[1] == 4 && c[2] == 6, "tier counts 14/4/6, got %lld/%lld/%lld", (long long)c[0],
          (long long)c[1], (long long)c[2]);
    double want[8];
    const char *exp = check_fixture("data/expected.txt");
    char expbuf[4096];
    snprintf(expbuf, sizeof expbuf, "%s", exp);
    double sum = 0;
    for (int64_t i = 0; i < s.n_trials * s.n_neurons; i++) sum += (double)s.responses[i];
    CHECK(dt_expected(expbuf, "responses_sum", want, 1) == 1, "expected.txt has responses_sum");
    CHECK_CLOSE(sum, want[0], 1e-4, 1e-6, "sum of responses as numpy wrote them");
    sum = 0;
    for (int64_t i = 0; i < s.n_trials * 48; i++) sum += (double)s.images[i];
    dt_expected(expbuf, "images_sum", want, 1);
    CHECK_CLOSE(sum, want[0], 0, 0, "sum of images (0..255 kept raw)");
    const struct nsid_array *tiers = nsid_scan_arrays_find(&s.trials, "tiers");
    CHECK(tiers && tiers->dtype == NSID_DT_STR && !tiers->str_unicode && !tiers->str_vlen && tiers->itemsize == 10,
          "tiers kept as fixed byte strings S10");
    const struct nsid_array *cls = nsid_scan_arrays_find(&s.trials, "frame_image_class");
    char buf[64];
    if (cls) nsid_scan_array_get_str(cls, 3, buf, sizeof buf);
    CHECK(cls && strcmp(buf, "imagenet") == 0, "item_info/frame_image_class decoded");
    CHECK(s.unit_ids && s.unit_ids[0] == 10 && s.unit_ids[6] == 70, "unit_ids decoded");
    CHECK(s.animal_ids && s.animal_ids[2] == 11111, "animal_ids (uint16) decoded");
    CHECK(s.multi_match_id && s.multi_match_id[1] == -1 && s.multi_match_id[6] == 1, "multi_match_id decoded");
    CHECK(s.cell_motor_coordinates && s.cell_motor_coordinates[0] > 0, "coordinates decoded");
    const struct nsid_array *sc = nsid_scan_arrays_find(&s.neurons, "scan_idx");
    CHECK(sc && sc->dtype == NSID_DT_I8, "neurons/scan_idx kept as int8");
    const struct nsid_array *std = nsid_scan_arrays_find(&s.stats, "responses/all/std");
    dt_expected(expbuf, "responses_std", want, 7);
    CHECK(std && std->dtype == NSID_DT_F32 && std->ndim == 1 && std->shape[0] == 7, "statistics/responses/all/std (7,)");
    if (std) CHECK_CLOSE(((float *)std->data)[3], want[3], 1e-6, 1e-6, "responses std of neuron 3");
    const struct nsid_array *im = nsid_scan_arrays_find(&s.stats, "images/stimulus_frame/mean");
    CHECK(im && im->ndim == 0, "images statistics are scalars");
    CHECK(s.stats.n == 40, "4 data x 2 sources x 5 statistics, got %d", s.stats.n);
    CHECK(s.behavior && s.pupil_center, "behavior and pupil_center read");
    CHECK(s.frame_image_id && s.config_json == NULL && s.extra.n == 0, "no config, no extra arrays");
    nsid_scan_free(&s);
    CHECK(s.images == NULL && s.n_trials == 0, "free zeroes the scan");
}

static void test_read_vlen_strings(void)
{
    struct nsid_scan s;
    struct nsid_err err = {0};
    int rc = nsid_h5scan_load(&s, check_fixture("data/static22222-2-2-preproc0.h5"), NULL, &err);
    CHECK(rc == 0, "vlen fixture loads: %s", err.msg);
    if (rc) return;
    const struct nsid_array *t = nsid_scan_arrays_find(&s.trials, "tiers");
    CHECK(t && t->str_vlen && t->str_unicode, "variable-length UTF-8 tiers");
    int64_t c[3];
    nsid_scan_tier_counts(&s, c);
    CHECK(c[0] == 14 && c[1] == 4 && c[2] == 6, "vlen tiers decoded");
    const struct nsid_array *lab = nsid_scan_arrays_find(&s.trials, "label");
    char buf[64] = "";
    if (lab) nsid_scan_array_get_str(lab, 0, buf, sizeof buf);
    CHECK(strcmp(buf, "gr\xc3\xbcn") == 0, "non-ASCII UTF-8 string read byte-exact: %s", buf);
    const struct nsid_array *b = nsid_scan_arrays_find(&s.trials, "is_blank");
    CHECK(b && b->dtype == NSID_DT_BOOL && ((uint8_t *)b->data)[0] == 1 && ((uint8_t *)b->data)[1] == 0,
          "h5py bool enum read as bool");
    nsid_scan_free(&s);
}

static void test_roundtrip(const char *fixture, int gzip)
{
    struct nsid_scan a, b;
    struct nsid_err err = {0};
    if (nsid_h5scan_load(&a, check_fixture(fixture), NULL, &err) != 0) {
        CHECK(0, "load %s: %s", fixture, err.msg);
        return;
    }
    char out[4200];
    snprintf(out, sizeof out, "%s/static11111-1-1-preproc0.h5", tmp);
    struct nsid_h5_save_opts so = {gzip};
    int rc = nsid_h5scan_save(&a, out, &so, &err);
    CHECK(rc == 0, "save %s (gzip %d): %s", fixture, gzip, err.msg);
    CHECK(dt_count_entries(tmp) == 1, "no temporary file left after saving");
    rc = rc ? rc : nsid_h5scan_load(&b, out, NULL, &err);
    CHECK(rc == 0, "reload: %s", err.msg);
    if (!rc) {
        char why[512] = "";
        /* the key comes from the file name, which differs for the vlen fixture */
        snprintf(b.data_key, sizeof b.data_key, "%s", a.data_key);
        CHECK(dt_scans_equal(&a, &b, true, why, sizeof why), "HDF5 -> HDF5 keeps every field (%s): %s", fixture, why);
        nsid_scan_free(&b);
    }
    nsid_scan_free(&a);
    unlink(out);
}

/* A scan built in memory with typed fields only (what a simulator does). */
static void build_scan(struct nsid_scan *s)
{
    nsid_scan_init(s);
    s->n_trials = 6;
    s->n_neurons = 2;
    s->channels = 1;
    s->height = 2;
    s->width = 3;
    s->images = NSID_CALLOC(6 * 6 * sizeof(float), &(struct nsid_err){0});
    s->responses = NSID_CALLOC(6 * 2 * sizeof(float), &(struct nsid_err){0});
    s->tiers = NSID_ALLOC(6, &(struct nsid_err){0});
    s->unit_ids = NSID_ALLOC(2 * 8, &(struct nsid_err){0});
    for (int i = 0; i < 36; i++) s->images[i] = (float)(i % 7);
    for (int i = 0; i < 12; i++) s->responses[i] = 0.5f * (float)i;
    for (int i = 0; i < 6; i++) s->tiers[i] = (int8_t)(i % 3);
    s->unit_ids[0] = 4;
    s->unit_ids[1] = 9;
}

static void test_typed_fields_written(void)
{
    struct nsid_scan s, r;
    struct nsid_err err = {0};
    build_scan(&s);
    double gt[2] = {1.5, 2.5};
    nsid_scan_arrays_add_f64(&s.ground_truth, "rf/x", gt, 2, 0, &err);
    char out[4200];
    snprintf(out, sizeof out, "%s/sim.h5", tmp);
    int rc = nsid_h5scan_save(&s, out, NULL, &err);
    CHECK(rc == 0, "scan with typed fields only saves: %s", err.msg);
    rc = rc ? rc : nsid_h5scan_load(&r, out, NULL, &err);
    CHECK(rc == 0, "and loads: %s", err.msg);
    if (!rc) {
        CHECK(r.tiers[4] == 1 && r.unit_ids && r.unit_ids[1] == 9, "tiers and unit_ids written from typed fields");
        const struct nsid_array *t = nsid_scan_arrays_find(&r.trials, "tiers");
        CHECK(t && !t->str_unicode && !t->str_vlen, "synthesised tiers are byte strings like the authors' files");
        const struct nsid_array *g = nsid_scan_arrays_find(&r.ground_truth, "rf/x");
        CHECK(g && ((double *)g->data)[1] == 2.5, "ground_truth/rf/x written as a nested group");
        CHECK(strcmp(r.data_key, "sim") == 0, "data key without 'static': %s", r.data_key);
        nsid_scan_free(&r);
    }
    /* A typed field that disagrees with its stored array is refused, the old file stays. */
    nsid_scan_arrays_add_i64(&s.neurons, "unit_ids", (const int64_t[]){4, 8}, 2, 0, &err);
    rc = nsid_h5scan_save(&s, out, NULL, &err);
    CHECK(rc == NSID_EINVAL && strstr(err.key, "unit_ids"), "typed unit_ids vs stored differ: %s", err.msg);
    CHECK(dt_count_entries(tmp) == 1, "failed save leaves no temporary file");
    rc = nsid_h5scan_load(&r, out, NULL, &err);
    CHECK(rc == 0 && r.unit_ids[1] == 9, "failed save keeps the previous file intact");
    nsid_scan_free(&r);
    nsid_scan_arrays_remove(&s.neurons, "unit_ids");
    /* uint8 images that no longer hold integers cannot be stored as uint8. */
    s.images_dtype = NSID_DT_U8;
    s.images[5] = 0.5f;
    nsid_err_clear(&err);
    rc = nsid_h5scan_save(&s, out, NULL, &err);
    CHECK(rc == NSID_EINVAL && strcmp(err.key, "images") == 0, "non-integer image in a uint8 scan refused: %s", err.msg);
    s.images[5] = 3.0f;
    rc = nsid_h5scan_save(&s, out, NULL, &err);
    CHECK(rc == 0, "integer images saved as uint8");
    rc = rc ? rc : nsid_h5scan_load(&r, out, NULL, &err);
    if (!rc) {
        CHECK(r.images_dtype == NSID_DT_U8 && r.images[5] == 3.0f, "uint8 images round-trip");
        nsid_scan_free(&r);
    }
    /* Saving into a folder that does not exist fails cleanly. */
    char bad[4300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.h5", tmp);
    nsid_err_clear(&err);
    rc = nsid_h5scan_save(&s, bad, NULL, &err);
    CHECK(rc == NSID_EIO && !dt_exists(bad), "save into a missing folder: %s", err.msg);
    unlink(out);
    nsid_scan_free(&s);
}

/* A dataset may claim any dims without storing them (chunks never written read as the fill
 * value): a 2^93-element "images" in a few-KB file is refused, not allocated or wrapped. */
static void test_huge_dataspace(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/static33333-1-1-preproc0.h5", tmp);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[4] = {(hsize_t)1 << 31, 1, (hsize_t)1 << 31, (hsize_t)1 << 31}, chunk[4] = {1, 1, 8, 8};
    hid_t sp = H5Screate_simple(4, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 4, chunk);
    hid_t d = H5Dcreate2(f, "images", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(f >= 0 && d >= 0, "a file claiming 2^93 pixels written");
    H5Dclose(d);
    H5Sclose(sp);
    hsize_t rd[2] = {4, 2}, td[1] = {4};
    static const float resp[8] = {0};
    sp = H5Screate_simple(2, rd, NULL);
    d = H5Dcreate2(f, "responses", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, resp);
    H5Dclose(d);
    H5Sclose(sp);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 5);
    sp = H5Screate_simple(1, td, NULL);
    d = H5Dcreate2(f, "tiers", st, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    static const char tiers[4][5] = {"train", "test", "test", "test"};
    H5Dwrite(d, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, tiers);
    H5Dclose(d);
    H5Tclose(st);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Fclose(f);
    struct nsid_scan s;
    struct nsid_err err = {0};
    int rc = nsid_h5scan_load(&s, path, NULL, &err);
    CHECK(rc == NSID_EFORMAT && !strcmp(err.key, "images") && strstr(err.msg, "larger than memory"),
          "refused, naming the dataset: %s: %s", err.key, err.msg);
    if (rc == 0) nsid_scan_free(&s);
}

int main(void)
{
    dt_tmpdir(tmp, sizeof tmp, "h5scan");
    test_read_fixed_strings();
    test_read_vlen_strings();
    test_roundtrip("data/static11111-1-1-preproc0.h5", 0);
    test_roundtrip("data/static22222-2-2-preproc0.h5", 4);
    test_typed_fields_written();
    test_huge_dataspace();
    dt_rmtree(tmp);
    return check_summary("h5scan");
}
