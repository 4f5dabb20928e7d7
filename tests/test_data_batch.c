/* test_data_batch.c - transforms (docs/paper.md §5.4), views, batches, repeats and the multi-scan round robin (§4.3). */
#include <math.h>

#include "base/alloc.h"
#include "check.h"
#include "data/batch.h"
#include "data/subset.h"
#include "data_testutil.h"

static struct nsid_scan S; /* the h5py fixture */
static char EXP[4300];

/* ---------------------------------------------------------------- transforms */

static void test_stats_match_numpy(void)
{
    struct nsid_arrays mine = {0};
    struct nsid_err err = {0};
    const char *data[4] = {"images", "responses", "behavior", "pupil_center"};
    int worst_d = -1;
    double worst = 0;
    for (int d = 0; d < 4; d++) {
        CHECK(nsid_transform_scan_compute_stats(&S, data[d], &mine, &err) == 0, "compute %s statistics: %s", data[d], err.msg);
        for (int m = 0; m < mine.n; m++) {
            const struct nsid_array *a = &mine.a[m], *b = nsid_scan_arrays_find(&S.stats, a->name);
            CHECK(b && nsid_scan_array_numel(a) == nsid_scan_array_numel(b) && a->ndim == b->ndim, "%s shaped like numpy's", a->name);
            for (size_t i = 0; b && i < nsid_scan_array_numel(a); i++) {
                double x = nsid_scan_array_get_f64(a, i), y = nsid_scan_array_get_f64(b, i);
                double e = fabs(x - y) / (fabs(y) + 1e-6);
                if (e > worst) { worst = e; worst_d = d; }
            }
        }
        nsid_scan_arrays_free(&mine);
    }
    CHECK(worst < 2e-6, "mean/std/min/max/median equal numpy's (worst rel err %.2g in %s)", worst,
          worst_d >= 0 ? data[worst_d] : "-");
    /* odd count median, ties */
    struct nsid_scan t;
    nsid_scan_init(&t);
    t.n_trials = 5;
    t.n_neurons = 2;
    float r[10] = {3, 1, 1, 1, 2, 1, 5, 1, 4, 7};
    t.responses = r;
    CHECK(nsid_transform_scan_compute_stats(&t, "responses", &mine, &err) == 0, "stats of a 5x2 array");
    const float *med = nsid_scan_arrays_find(&mine, "responses/all/median")->data;
    const float *sd = nsid_scan_arrays_find(&mine, "responses/all/std")->data;
    CHECK(med[0] == 3 && med[1] == 1, "odd-count medians 3 and 1, got %g %g", (double)med[0], (double)med[1]);
    CHECK_CLOSE(sd[0], 1.4142135, 1e-6, 1e-6, "std ddof 0");
    nsid_scan_arrays_free(&mine);
    CHECK(nsid_transform_scan_compute_stats(&t, "behavior", &mine, &err) == NSID_ENOTFOUND, "no behavior, no statistics");
    nsid_err_clear(&err);
    CHECK(nsid_transform_scan_compute_stats(&t, "eye", &mine, &err) == NSID_EINVAL, "unknown array refused");
}

static void test_norm(void)
{
    struct nsid_norm nm;
    struct nsid_err err = {0};
    struct dt_warnings w = {0};
    struct nsid_norm_opts o = {.warn = dt_warn_cb, .warn_ctx = &w};
    CHECK(nsid_transform_norm_init(&nm, &S, &o, &err) == 0 && w.n == 0, "normaliser from the file's statistics, no warning");
    double sd[7];
    dt_expected(EXP, "responses_std", sd, 7);
    double mean = 0;
    for (int i = 0; i < 7; i++) mean += sd[i] / 7;
    CHECK_CLOSE(nm.resp_threshold, 0.01 * mean, 1e-9, 1e-6, "threshold 0.01 x mean std");
    int bad = 0;
    for (int i = 0; i < 7; i++) bad += fabs((double)nm.resp_scale[i] - 1.0 / sd[i]) > 1e-6 / sd[i];
    CHECK(bad == 0 && nm.n_floored == 0, "p_n = 1 / std_n");
    float out[7], img[48];
    nsid_transform_norm_responses(&nm, S.responses + 3 * 7, NULL, 7, out);
    bad = 0;
    for (int i = 0; i < 7; i++) bad += out[i] != S.responses[3 * 7 + i] * nm.resp_scale[i];
    CHECK(bad == 0, "responses multiplied by p (float32, no mean subtraction)");
    nsid_transform_norm_image(&nm, S.images + 48, 48, img);
    CHECK(memcmp(img, S.images + 48, sizeof img) == 0, "images raw by default (the paper's runs)");
    float b[3], p[2];
    nsid_transform_norm_behavior(&nm, S.behavior + 3, b);
    double bsd[3];
    dt_expected(EXP, "behavior_std", bsd, 3);
    CHECK_CLOSE(b[2], (double)S.behavior[5] / bsd[2], 1e-6, 1e-5, "behavior divided by its std");
    nsid_transform_norm_pupil(&nm, S.pupil_center + 2, p);
    const float *pm = nsid_scan_arrays_find(&S.stats, "pupil_center/all/mean")->data;
    const float *ps = nsid_scan_arrays_find(&S.stats, "pupil_center/all/std")->data;
    CHECK_CLOSE(p[1], ((double)S.pupil_center[3] - (double)pm[1]) / (double)ps[1], 1e-6, 1e-5, "pupil z-scored");
    nsid_transform_norm_free(&nm);
    /* z-scored images (VGG runs): scalar statistics broadcast */
    o.zscore_images = true;
    CHECK(nsid_transform_norm_init(&nm, &S, &o, &err) == 0 && nm.img_n == 48, "z-scored images");
    double ims[3];
    dt_expected(EXP, "images_mean", ims, 1);
    FILE *f = fopen(EXP, "r");
    char line[256];
    double istd = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "images_mean %*g std %lg", &istd) == 1) break;
    if (f) fclose(f);
    nsid_transform_norm_image(&nm, S.images, 48, img);
    CHECK_CLOSE(img[7], ((double)S.images[7] - ims[0]) / istd, 1e-5, 1e-5, "(x - mean) / std with numpy's statistics");
    nsid_transform_norm_free(&nm);
    /* a floored neuron: std far below 1% of the mean std */
    struct nsid_scan t;
    struct nsid_arrays keep = S.stats;
    memset(&S.stats, 0, sizeof S.stats);
    nsid_scan_arrays_copy(&S.stats, &keep, &err);
    float *s = nsid_scan_arrays_find(&S.stats, "responses/all/std")->data;
    s[2] = 1e-5f;
    t = S;
    o.zscore_images = false;
    CHECK(nsid_transform_norm_init(&nm, &t, &o, &err) == 0 && nm.n_floored == 1, "neuron 2 floored");
    CHECK_CLOSE(nm.resp_scale[2], 1.0 / nm.resp_threshold, 0, 1e-6, "floored neuron divided by the threshold");
    nsid_transform_norm_free(&nm);
    /* statistics of the wrong shape */
    nsid_scan_arrays_remove(&S.stats, "responses/all/std");
    float six[6] = {1, 1, 1, 1, 1, 1};
    nsid_scan_arrays_add_f32(&S.stats, "responses/all/std", six, 6, 0, &err);
    t = S;
    CHECK(nsid_transform_norm_init(&nm, &t, &o, &err) == NSID_ESHAPE && strstr(err.key, "responses/all/std") && nm.resp_scale == NULL,
          "std of 6 values for 7 neurons refused: %s", err.msg);
    /* missing statistics are computed (with a warning) */
    nsid_scan_arrays_free(&S.stats);
    t = S;
    w.n = 0;
    CHECK(nsid_transform_norm_init(&nm, &t, &o, &err) == 0 && nm.stats_computed == 4 && w.n == 4,
          "responses std, behavior std, pupil mean/std computed: %d (%s)", nm.stats_computed, w.last);
    bad = 0;
    for (int i = 0; i < 7; i++) bad += fabs((double)nm.resp_scale[i] - 1.0 / sd[i]) > 2e-6 / sd[i];
    CHECK(bad == 0, "computed std matches numpy's");
    nsid_transform_norm_free(&nm);
    S.stats = keep;
    /* nsid_transform_scan_add_stats fills what is missing, keeps what is there */
    struct nsid_scan u = S;
    memset(&u.stats, 0, sizeof u.stats);
    CHECK(nsid_transform_scan_add_stats(&u, &err) == 0 && u.stats.n == 20, "add_stats: 4 arrays x 5 statistics (%d)", u.stats.n);
    nsid_scan_arrays_free(&u.stats);
}

/* ---------------------------------------------------------------- views and batches */

static void test_view_and_batches(void)
{
    struct nsid_view v;
    struct nsid_err err = {0};
    int64_t sel[3] = {1, 3, 6};
    struct nsid_view_opts vo = {.neurons = sel, .n_neurons = 3};
    CHECK(nsid_batch_view_init(&v, &S, &vo, &err) == 0, "view with 3 neurons: %s", err.msg);
    CHECK(v.n_tier[0] == 14 && v.n_tier[1] == 4 && v.n_tier[2] == 6 && v.n_total == 24, "tiers 14/4/6 of 24");
    float img[5 * 48], resp[5 * 3];
    struct nsid_batch b = {.images = img, .responses = resp};
    const int64_t *tr;
    int64_t n = nsid_batch_view_one(&v, NSID_TIER_TEST, 1, 5, &tr);
    CHECK(nsid_batch_view_batches(&v, NSID_TIER_TEST, 5) == 2 && n == 1 && tr == v.tier[2] + 5, "test batches 5 + 1");
    n = nsid_batch_view_one(&v, NSID_TIER_VALIDATION, 0, 5, &tr);
    nsid_batch_view_gather(&v, tr, n, &b);
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < 3; j++)
            bad += resp[i * 3 + j] != S.responses[tr[i] * 7 + sel[j]] * v.norm.resp_scale[sel[j]];
    CHECK(b.n == 4 && bad == 0 && memcmp(img + 48, S.images + tr[1] * 48, 48 * 4) == 0,
          "gather: images and normalised selected responses");
    nsid_batch_view_free(&v);
    int64_t dup[2] = {1, 1};
    vo.neurons = dup;
    vo.n_neurons = 2;
    CHECK(nsid_batch_view_init(&v, &S, &vo, &err) == NSID_EINVAL && strstr(err.msg, "twice"), "duplicate neuron refused");
    vo.neurons = NULL;
    vo.image_n = 5;
    vo.image_base_seed = 1;
    CHECK(nsid_batch_view_init(&v, &S, &vo, &err) == 0 && v.n_tier[0] == 5 && v.n_tier[1] == 4 && v.n_total == 24,
          "image_n 5 subsamples only the train tier; N_s stays all 24 trials");
    int64_t want[5];
    nsid_subset_images(&S, 5, 1, want, &err);
    CHECK(memcmp(want, v.tier[0], sizeof want) == 0, "the view's train trials are nsid_subset_images'");
    nsid_batch_view_free(&v);
}

static void test_train_iter(void)
{
    struct nsid_view v;
    struct nsid_err err = {0};
    nsid_batch_view_init(&v, &S, NULL, &err);
    struct nsid_train_iter it, it2;
    CHECK(nsid_batch_train_iter_init(&it, &v, 4, 42, NSID_STREAM_SHUFFLE, &err) == 0, "iterator");
    CHECK(nsid_batch_train_iter_batches(&it) == 4, "ceil(14 / 4) = 4 batches (drop_last false)");
    int64_t order[3][14];
    for (int pass = 0; pass < 3; pass++) {
        nsid_batch_train_iter_restart(&it);
        int64_t k = 0, sizes[4];
        for (int64_t bi = 0; bi < 4; bi++) {
            const int64_t *tr;
            sizes[bi] = nsid_batch_train_iter_next(&it, &tr);
            memcpy(order[pass] + k, tr, (size_t)sizes[bi] * 8);
            k += sizes[bi];
        }
        CHECK(sizes[0] == 4 && sizes[3] == 2 && k == 14, "batch sizes 4,4,4,2");
        int seen[24] = {0}, bad = 0;
        for (int i = 0; i < 14; i++) seen[order[pass][i]]++;
        for (int i = 0; i < 24; i++) bad += seen[i] != (S.tiers[i] == NSID_TIER_TRAIN);
        CHECK(bad == 0, "pass %d visits every train trial once", pass);
    }
    CHECK(memcmp(order[0], order[1], sizeof order[0]) && memcmp(order[1], order[2], sizeof order[0]),
          "a new permutation every epoch");
    nsid_batch_train_iter_init(&it2, &v, 4, 42, NSID_STREAM_SHUFFLE, &err);
    int64_t again[14], k = 0;
    nsid_batch_train_iter_restart(&it2);
    for (int bi = 0; bi < 4; bi++) {
        const int64_t *tr;
        int64_t n = nsid_batch_train_iter_next(&it2, &tr);
        memcpy(again + k, tr, (size_t)n * 8);
        k += n;
    }
    CHECK(memcmp(again, order[0], sizeof again) == 0, "same seed, same order");
    nsid_batch_train_iter_free(&it2);
    nsid_batch_train_iter_init(&it2, &v, 4, 43, NSID_STREAM_SHUFFLE, &err);
    nsid_batch_train_iter_restart(&it2);
    const int64_t *tr;
    nsid_batch_train_iter_next(&it2, &tr);
    CHECK(memcmp(tr, order[0], 4 * 8) != 0, "another seed, another order");
    nsid_batch_train_iter_free(&it2);
    nsid_batch_train_iter_free(&it);
    CHECK(nsid_batch_train_iter_init(&it, &v, 0, 1, 1, &err) == NSID_EINVAL, "batch size 0 refused");
    nsid_batch_view_free(&v);
}

static void test_repeats(void)
{
    struct nsid_repeats r;
    struct nsid_err err = {0};
    CHECK(nsid_batch_repeats_init(&r, &S, NSID_TIER_TEST, &err) == 0, "repeats of the test tier: %s", err.msg);
    double ids[6];
    dt_expected(EXP, "test_frame_ids", ids, 6);
    CHECK(r.n_groups == 3 && r.n_trials == 6 && r.key[0] == 900 && r.key[2] == 902, "3 images x 2 repeats, keys 900..902");
    int bad = 0;
    for (int64_t g = 0; g < r.n_groups; g++) {
        CHECK(r.start[g + 1] - r.start[g] == 2, "group %lld has 2 trials", (long long)g);
        for (int64_t i = r.start[g]; i < r.start[g + 1]; i++) bad += S.frame_image_id[r.trials[i]] != r.key[g];
        bad += r.trials[r.start[g]] >= r.trials[r.start[g] + 1];
    }
    CHECK(bad == 0, "trials grouped by frame_image_id, in file order");
    nsid_batch_repeats_free(&r);
    /* image classes: the same id in two classes is two images; key = id + class_index * (max id + 1) */
    struct nsid_scan t = S;
    struct nsid_arrays tr = {0};
    nsid_scan_arrays_copy(&tr, &S.trials, &err);
    const char *cls[24];
    for (int i = 0; i < 24; i++) cls[i] = "imagenet";
    int64_t first_test = -1;
    for (int i = 0; i < 24 && first_test < 0; i++)
        if (S.tiers[i] == NSID_TIER_TEST) first_test = i;
    cls[first_test] = "gabor"; /* sorts before imagenet: class 0 */
    nsid_scan_arrays_remove(&tr, "frame_image_class");
    nsid_scan_arrays_add_str(&tr, "frame_image_class", cls, 24, true, &err);
    t.trials = tr;
    CHECK(nsid_batch_repeats_init(&r, &t, NSID_TIER_TEST, &err) == 0 && r.n_groups == 4, "4 groups with two classes");
    int64_t max_id = 0;
    for (int i = 0; i < 24; i++) max_id = S.frame_image_id[i] > max_id ? S.frame_image_id[i] : max_id;
    CHECK(r.key[0] == S.frame_image_id[first_test] && r.key[1] == 900 + max_id + 1, "keys %lld %lld: id + class * (max+1)",
          (long long)r.key[0], (long long)r.key[1]);
    nsid_batch_repeats_free(&r);
    nsid_scan_arrays_free(&tr);
    t = S;
    memset(&t.trials, 0, sizeof t.trials);
    t.frame_image_id = NULL;
    CHECK(nsid_batch_repeats_init(&r, &t, NSID_TIER_TEST, &err) == NSID_ENOTFOUND && strstr(err.msg, "missing"),
          "no image ids: %s", err.msg);
}

/* ---------------------------------------------------------------- multi-scan round robin */

static void test_cycler(void)
{
    struct nsid_view v[2];
    struct nsid_err err = {0};
    struct nsid_view_opts a = {0}, b = {.image_n = 5, .image_base_seed = 1};
    nsid_batch_view_init(&v[0], &S, &a, &err); /* 14 train trials: 4 batches of 4 */
    nsid_batch_view_init(&v[1], &S, &b, &err); /* 5 train trials: 2 batches of 4 */
    struct nsid_cycler c;
    CHECK(nsid_batch_cycler_init(&c, v, 2, 4, 9, &err) == 0 && nsid_batch_cycler_epoch_len(&c) == 8, "epoch = 2 scans x 4 batches");
    int scan, rounds = 0;
    const int64_t *tr;
    int64_t n, seen1[24] = {0}, steps = 0, first_epoch1[8];
    bool round, alternate = true;
    for (int epoch = 0; epoch < 2; epoch++) {
        nsid_batch_cycler_start_epoch(&c);
        int64_t k1 = 0;
        while (nsid_batch_cycler_next(&c, &scan, &tr, &n, &round)) {
            alternate &= scan == (int)(steps % 2);
            rounds += round;
            if (scan == 1) {
                for (int64_t i = 0; i < n; i++) seen1[tr[i]]++;
                if (epoch == 0) first_epoch1[k1] = tr[0];
                k1++;
            }
            steps++;
        }
        CHECK(k1 == 4, "the short scan gives 4 batches per epoch (cycled), got %lld", (long long)k1);
    }
    CHECK(steps == 16 && rounds == 8 && alternate, "scans alternate 0,1,0,1; an optimiser step every 2 batches");
    /* short scan: 5 trials, batches 4+1, cycled twice per epoch: every trial 2x per epoch, 4x over 2 epochs */
    int bad = 0;
    for (int i = 0; i < 24; i++) bad += seen1[i] != 0 && seen1[i] != 4;
    CHECK(bad == 0, "the short scan restarts after its pass: each of its trials twice per epoch");
    CHECK(first_epoch1[0] != first_epoch1[2] || first_epoch1[1] != first_epoch1[3], "restart draws a new permutation");
    /* scan 0 of a cycler shuffles like a lone iterator with the same seed */
    struct nsid_train_iter it;
    nsid_batch_train_iter_init(&it, &v[0], 4, 9, NSID_STREAM_SHUFFLE, &err);
    nsid_batch_train_iter_restart(&it);
    const int64_t *t1;
    nsid_batch_train_iter_next(&it, &t1);
    nsid_batch_cycler_free(&c);
    nsid_batch_cycler_init(&c, v, 2, 4, 9, &err);
    nsid_batch_cycler_start_epoch(&c);
    nsid_batch_cycler_next(&c, &scan, &tr, &n, NULL);
    CHECK(scan == 0 && memcmp(t1, tr, 4 * 8) == 0, "one scan through the cycler = plain shuffled batches");
    nsid_batch_train_iter_free(&it);
    nsid_batch_cycler_free(&c);
    nsid_batch_view_free(&v[0]);
    nsid_batch_view_free(&v[1]);
}

int main(void)
{
    struct nsid_err err = {0};
    snprintf(EXP, sizeof EXP, "%s", check_fixture("data/expected.txt"));
    if (nsid_scan_load(&S, check_fixture("data/static11111-1-1-preproc0.h5"), NULL, &err)) {
        nsid_err_print(&err, stderr);
        return 1;
    }
    test_stats_match_numpy();
    test_norm();
    test_view_and_batches();
    test_train_iter();
    test_repeats();
    test_cycler();
    nsid_scan_free(&S);
    return check_summary("data_batch");
}
