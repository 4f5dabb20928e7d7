/*
 * train_testutil.h - tiny synthetic scans for the training and evaluation tests.
 *
 * A scan has smooth random 0..255 images, neurons with a Gabor-like receptive field whose
 * centre follows the neuron's cortical position through an affine "retinotopy", a softplus
 * rate and Poisson responses, tiers train / validation / test (test images repeated), the
 * statistics block, and a simulator-style ground_truth (rates (T,N), rf_center_px (N,2)).
 * Everything is drawn from the seed, so files are identical run to run.
 */
#ifndef NSID_TRAIN_TESTUTIL_H
#define NSID_TRAIN_TESTUTIL_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/rng.h"
#include "data/scan.h"
#include "data/transform.h"

struct tt_scan {
    int n_train, n_val, n_test_images, repeats; /* trials: n_train + n_val + n_test_images * repeats */
    int N, H, W;                                /* neurons, image height and width */
    uint64_t seed;                              /* images and noise */
    uint64_t animal_seed;                       /* neurons (the same for scans of one "animal") */
    bool match;                                 /* write multi_match_id = unit id */
    bool behavior;                              /* write behaviour and pupil traces; the pupil then
                                                   shifts every RF (2 px per unit) */
    int nan_trace_trial;                        /* k > 0: trial k-1's pupil and behaviour are NaN */
    /* if set: called on the finished scan (responses, tiers, ids, ground truth rates) before it is
       validated and its statistics computed: a test's pathology (constant neuron, NaN truth, ...) */
    void (*mutate)(struct nsid_scan *s, float *rates, void *ctx);
    void *mutate_ctx;
};

static inline void tt_default(struct tt_scan *o)
{
    *o = (struct tt_scan){.n_train = 192, .n_val = 48, .n_test_images = 8, .repeats = 5, .N = 24, .H = 20, .W = 28,
                          .seed = 1, .animal_seed = 11, .match = false};
}

/* A smooth random image: a few Gaussian blobs of random sign and size around grey. */
static inline void tt_image(float *img, int H, int W, struct nsid_rng *r)
{
    for (int i = 0; i < H * W; i++) img[i] = 128.0f;
    for (int k = 0; k < 12; k++) {
        double cx = nsid_rng_uniform(r) * W, cy = nsid_rng_uniform(r) * H, s = 1.0 + 3.0 * nsid_rng_uniform(r);
        double a = 90.0 * (2.0 * nsid_rng_uniform(r) - 1.0);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double d2 = ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * s * s);
                img[y * W + x] += (float)(a * exp(-d2));
            }
    }
    for (int i = 0; i < H * W; i++) img[i] = img[i] < 0 ? 0 : img[i] > 255 ? 255 : img[i];
}

/* Build the scan in memory and save it to path (HDF5 when the name ends in .h5). 0 ok. */
static inline int tt_make_scan(const char *path, const struct tt_scan *o)
{
    struct nsid_err err = {0};
    struct nsid_scan s;
    nsid_scan_init(&s);
    int T = o->n_train + o->n_val + o->n_test_images * o->repeats, N = o->N, P = o->H * o->W;
    s.n_trials = T;
    s.n_neurons = N;
    s.channels = 1;
    s.height = o->H;
    s.width = o->W;
    s.images = NSID_ALLOC((size_t)T * P * sizeof(float), &err);
    s.responses = NSID_ALLOC((size_t)T * N * sizeof(float), &err);
    s.tiers = NSID_ALLOC((size_t)T, &err);
    s.frame_image_id = NSID_ALLOC((size_t)T * 8, &err);
    s.unit_ids = NSID_ALLOC((size_t)N * 8, &err);
    s.cell_motor_coordinates = NSID_ALLOC((size_t)N * 3 * sizeof(double), &err);
    if (o->match) s.multi_match_id = NSID_ALLOC((size_t)N * 8, &err);
    if (o->behavior) {
        s.behavior = NSID_ALLOC((size_t)T * 3 * sizeof(float), &err);
        s.pupil_center = NSID_ALLOC((size_t)T * 2 * sizeof(float), &err);
    }
    float *rates = NSID_ALLOC((size_t)T * N * sizeof(float), &err);
    double *rf = NSID_ALLOC((size_t)N * 2 * sizeof(double), &err);
    double (*fw)[5][5] = NSID_ALLOC((size_t)N * sizeof *fw, &err);
    double *gain = NSID_ALLOC((size_t)N * sizeof(double), &err);
    struct nsid_rng an, r;
    nsid_rng_init(&an, o->animal_seed, 101);
    nsid_rng_init(&r, o->seed, 102);
    for (int n = 0; n < N; n++) { /* cortex (um) -> RF centre (px): an affine map */
        double ux = 400.0 * (2 * nsid_rng_uniform(&an) - 1), uy = 300.0 * (2 * nsid_rng_uniform(&an) - 1);
        s.cell_motor_coordinates[n * 3] = ux + 1000.0;
        s.cell_motor_coordinates[n * 3 + 1] = uy - 500.0;
        s.cell_motor_coordinates[n * 3 + 2] = 200.0;
        rf[n * 2] = (o->W - 1) / 2.0 + (o->W / 2.0 - 5) * (0.8 * ux / 400.0 + 0.2 * uy / 300.0);
        rf[n * 2 + 1] = (o->H - 1) / 2.0 + (o->H / 2.0 - 5) * (-0.2 * ux / 400.0 + 0.8 * uy / 300.0);
        rf[n * 2] += 2.0 * nsid_rng_uniform(&an) - 1.0; /* retinotopic scatter */
        rf[n * 2 + 1] += 2.0 * nsid_rng_uniform(&an) - 1.0;
        double th = 3.14159 * nsid_rng_uniform(&an), ph = 6.283 * nsid_rng_uniform(&an);
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 5; x++) {
                double dx = x - 2, dy = y - 2, u = dx * cos(th) + dy * sin(th);
                fw[n][y][x] = exp(-(dx * dx + dy * dy) / 4.0) * cos(1.6 * u + ph);
            }
        gain[n] = 1.5 + nsid_rng_uniform(&an);
        s.unit_ids[n] = 1000 + n;
        if (o->match) s.multi_match_id[n] = n;
    }
    for (int t = 0; t < T; t++) {
        int test_img = t >= o->n_train + o->n_val ? (t - o->n_train - o->n_val) % o->n_test_images : -1;
        s.tiers[t] = (int8_t)(t < o->n_train ? NSID_TIER_TRAIN : t < o->n_train + o->n_val ? NSID_TIER_VALIDATION
                                                                                             : NSID_TIER_TEST);
        s.frame_image_id[t] = test_img >= 0 ? 100000 + test_img : t;
        float *img = s.images + (size_t)t * P;
        double shift[2] = {0, 0};
        if (o->behavior) { /* its own stream: the scans without behaviour stay as they were */
            struct nsid_rng b;
            nsid_rng_init(&b, o->seed, 103 + (uint64_t)t);
            for (int k = 0; k < 2; k++) s.pupil_center[t * 2 + k] = (float)nsid_rng_normal(&b);
            for (int k = 0; k < 3; k++) s.behavior[t * 3 + k] = (float)(1.0 + nsid_rng_uniform(&b));
            for (int k = 0; k < 2; k++) shift[k] = 2.0 * (double)s.pupil_center[t * 2 + k];
        }
        if (test_img >= 0 && t - o->n_train - o->n_val >= o->n_test_images) /* a repeat */
            memcpy(img, s.images + (size_t)(o->n_train + o->n_val + test_img) * P, (size_t)P * sizeof(float));
        else
            tt_image(img, o->H, o->W, &r);
        for (int n = 0; n < N; n++) {
            int cx = (int)lround(rf[n * 2] + shift[0]), cy = (int)lround(rf[n * 2 + 1] + shift[1]);
            double drive = 0;
            for (int y = 0; y < 5; y++)
                for (int x = 0; x < 5; x++) {
                    int iy = cy + y - 2, ix = cx + x - 2;
                    if (iy >= 0 && iy < o->H && ix >= 0 && ix < o->W)
                        drive += fw[n][y][x] * ((double)img[iy * o->W + ix] - 128.0) / 64.0;
                }
            double rate = log1p(exp(gain[n] * drive - 0.5)) * 2.0;
            rates[(size_t)t * N + n] = (float)rate;
            s.responses[(size_t)t * N + n] = (float)nsid_rng_poisson(&r, rate);
        }
    }
    if (o->behavior && o->nan_trace_trial > 0 && o->nan_trace_trial <= T) {
        s.pupil_center[(size_t)(o->nan_trace_trial - 1) * 2] = NAN;
        s.behavior[(size_t)(o->nan_trace_trial - 1) * 3 + 1] = NAN;
    }
    if (o->mutate) o->mutate(&s, rates, o->mutate_ctx);
    nsid_scan_arrays_add_f32(&s.ground_truth, "rates", rates, T, N, &err);
    nsid_scan_arrays_add_f64(&s.ground_truth, "rf_center_px", rf, N, 2, &err);
    int rc = nsid_scan_validate(&s, NULL, &err);
    if (rc == 0) rc = nsid_transform_scan_add_stats(&s, &err);
    struct nsid_save_opts so = {.overwrite = true};
    if (rc == 0) rc = nsid_scan_save(&s, path, &so, &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    nsid_alloc_free(rates);
    nsid_alloc_free(rf);
    nsid_alloc_free(fw);
    nsid_alloc_free(gain);
    nsid_scan_free(&s);
    return rc;
}

#endif
