/*
 * test_simulate.c - the simulated mouse V1 (src/data/simulate.h): configuration
 * errors, stimulus statistics, the feature bank, determinism across thread
 * counts, scan layout and tiers, matched neurons, and the noise level.
 * The slower statistical checks (oracle range, truth vs a linear-nonlinear
 * model) are in test_simulate_truth.c. Seed: every scan uses the profile's
 * seed 1 unless a test says otherwise.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "data/h5scan.h"
#include "data/sim_int.h" /* the feature bank: internal to the simulator */
#include "data/simulate.h"
#include "data_testutil.h"

/* ---- helpers ----------------------------------------------------------------------- */

/*
 * cfg = profile + overrides (NULL-terminated); fails the test run on a bad
 * override. The smoke profile is shrunk further (fewer images) so that the
 * tests stay fast even in sanitizer builds.
 */
static void config(struct nsid_sim_config *cfg, const char *profile, const char *const *sets)
{
    struct nsid_err err = {0};
    int rc = nsid_sim_config_init(cfg, profile, &err);
    static const char *const small[] = {"train_images=60", "validation_images=20", "test_images=8",
                                        "test_repeats=4", "calibration_images=24", NULL};
    for (int i = 0; rc == 0 && !strcmp(profile, "smoke") && small[i]; i++) rc = nsid_sim_config_set(cfg, small[i], &err);
    for (int i = 0; rc == 0 && sets && sets[i]; i++) rc = nsid_sim_config_set(cfg, sets[i], &err);
    if (rc < 0) {
        nsid_err_print(&err, stderr);
        exit(2);
    }
}

static int generate(struct nsid_scan *s, const struct nsid_sim_config *cfg, const char *scan)
{
    struct nsid_err err = {0};
    int rc = nsid_simulate_scan_generate(s, cfg, nsid_sim_scan_find(scan), &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    return rc;
}

/* The error key of setting one assignment on a smoke config (or "" if it succeeded). */
static const char *set_error(const char *assignment, struct nsid_err *err)
{
    struct nsid_sim_config cfg;
    config(&cfg, "smoke", NULL);
    memset(err, 0, sizeof *err);
    if (nsid_sim_config_set(&cfg, assignment, err) == 0 && nsid_sim_config_check(&cfg, err) == 0) return "";
    return err->key;
}

static const struct nsid_array *truth(const struct nsid_scan *s, const char *name)
{
    const struct nsid_array *a = nsid_scan_arrays_find(&s->ground_truth, name);
    if (!a) fprintf(stderr, "ground_truth/%s missing\n", name);
    return a;
}

/* ---- configuration -------------------------------------------------------------------- */

static void test_config(void)
{
    struct nsid_sim_config cfg;
    struct nsid_err err = {0};
    CHECK(nsid_sim_config_init(&cfg, "warp", &err) < 0 && !strcmp(err.key, "profile"),
          "unknown profile names the key 'profile'");
    const char *profiles[] = {"smoke", "quick", "paper"};
    for (int i = 0; i < 3; i++) {
        CHECK(nsid_sim_config_init(&cfg, profiles[i], &err) == 0 && nsid_sim_config_check(&cfg, &err) == 0,
              "profile %s is valid", profiles[i]);
    }
    config(&cfg, "paper", NULL);
    const struct nsid_sim_sizes *ev = &cfg.sizes[NSID_SIM_ROLE_EVAL];
    CHECK(ev->neurons == 5335 && ev->train_images + ev->validation_images + ev->test_images * ev->test_repeats == 5993,
          "paper evaluation scan: 5,335 neurons, 5,993 trials");
    CHECK(cfg.sizes[NSID_SIM_ROLE_MATCHED].matched >= 3597 + 1000, "paper 4-S scans keep 3,597 + 1,000 matched neurons");

    struct { const char *set, *key; } bad[] = {
        {"4s.neurons=-5", "4s.neurons"},          /* negative size */
        {"eval.train_images=abc", "eval.train_images"}, /* not a number */
        {"eval.test_repeats=1", "eval.test_repeats"},   /* the oracle needs 2 */
        {"4s.matched=41", "4s.matched"},           /* smoke 4-S has 40 neurons */
        {"groups=4s_matched,nope", "groups"},      /* unknown group */
        {"groups=", "groups"},
        {"bogus.key=1", "bogus.key"},              /* unknown key */
        {"noise.overdispersion=0", "noise.overdispersion"},
        {"oracle.min=nan", "oracle.min"},
        {"image.height=38", "image.height"},
        {"image.width=80", "image.width"},
        {"eye.enabled=maybe", "eye.enabled"},
        {"image_sets=mine", "image_sets"},
        {"seed=-1", "seed"},
        {"neurons=0", "4s.neurons"},               /* a bare size key reports its first role */
        {"noequals", "noequals"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *key = set_error(bad[i].set, &err);
        CHECK(!strcmp(key, bad[i].key), "'%s' is an error naming '%s' (got '%s': %s)", bad[i].set, bad[i].key,
              key, err.msg);
    }
    struct nsid_sim_config c2;
    config(&c2, "smoke", (const char *const[]){"oracle.min=0.7", "oracle.max=0.3", NULL});
    nsid_err_clear(&err);
    CHECK(nsid_sim_config_check(&c2, &err) < 0 && !strcmp(err.key, "oracle.min"), "oracle.min > oracle.max is an error");
    config(&c2, "smoke", (const char *const[]){"neurons=77", "eye.enabled=true", "image_sets=paper", NULL});
    CHECK(c2.sizes[NSID_SIM_ROLE_OTHER].neurons == 77 && c2.sizes[NSID_SIM_ROLE_EVAL].neurons == 77 &&
              c2.eye_movements && c2.image_sets == NSID_SIM_IMAGES_PAPER,
          "a bare size key sets every role; bool and enum keys parse");
    c2.sizes[NSID_SIM_ROLE_SINGLE].train_images = -1; /* a struct filled by hand is checked too */
    nsid_err_clear(&err);
    CHECK(nsid_sim_config_check(&c2, &err) < 0 && !strcmp(err.key, "1s.train_images"),
          "check names a hand-set negative size");

    config(&cfg, "smoke", (const char *const[]){"groups=1s,evaluation", NULL});
    int sel = 0;
    for (int i = 0; i < nsid_sim_n_scans(); i++) sel += nsid_sim_scan_selected(&cfg, i);
    CHECK(sel == 2 && nsid_sim_scan_selected(&cfg, nsid_sim_scan_find("20457-5-9")), "groups select their scans");
    const struct nsid_sim_group_def *g11 = nsid_sim_group_def(nsid_sim_group_find("11s"));
    CHECK(g11 && g11->n == 11 && nsid_sim_n_scans() == 13, "11-S has 11 scans; 13 scans in all");
    char file[128];
    nsid_sim_scan_filename(nsid_sim_scan_find("20457-5-9"), file, sizeof file);
    CHECK(!strcmp(file, "static20457-5-9-preproc0.h5"), "file name %s", file);
}

/* ---- stimuli ------------------------------------------------------------------------------ */

/*
 * Slope of the radially averaged power spectrum (Hann-windowed DFT, mean
 * removed) in log-log over 0.03..0.3 cycles/px, pooled over n images.
 */
static double spectrum_slope(int n, double *mean_level, int *integral)
{
    enum { H = 36, W = 64, NB = 12 };
    static float img[H * W];
    static double re[H][W], im[H][W];
    float *scratch = malloc(sizeof(float) * nsid_sim_image_scratch(H, W));
    double pb[NB] = {0}, fmin = 1.0 / 64, fmax = 0.5, level = 0;
    int cb[NB] = {0};
    *integral = 1;
    for (int k = 0; k < n; k++) {
        struct nsid_rng r;
        nsid_rng_init(&r, 11, (uint64_t)k);
        nsid_sim_image(img, H, W, 3.0, &r, scratch);
        double m = 0;
        for (int i = 0; i < H * W; i++) {
            m += (double)img[i];
            *integral &= img[i] == floorf(img[i]) && img[i] >= 0.0f && img[i] <= 255.0f;
        }
        m /= H * W;
        level += m;
        for (int y = 0; y < H; y++)
            for (int kx = 0; kx < W; kx++) {
                double a = 0, b = 0;
                for (int x = 0; x < W; x++) {
                    double wv = (0.5 - 0.5 * cos(2 * M_PI * (x + 0.5) / W)) * (0.5 - 0.5 * cos(2 * M_PI * (y + 0.5) / H));
                    double v = ((double)img[y * W + x] - m) * wv, t = -2 * M_PI * kx * x / W;
                    a += v * cos(t);
                    b += v * sin(t);
                }
                re[y][kx] = a;
                im[y][kx] = b;
            }
        for (int kx = 0; kx < W; kx++)
            for (int ky = 0; ky < H; ky++) {
                double a = 0, b = 0;
                for (int y = 0; y < H; y++) {
                    double t = -2 * M_PI * ky * y / H;
                    a += re[y][kx] * cos(t) - im[y][kx] * sin(t);
                    b += re[y][kx] * sin(t) + im[y][kx] * cos(t);
                }
                double fx = (kx < W / 2 ? kx : kx - W) / (double)W, fy = (ky < H / 2 ? ky : ky - H) / (double)H;
                double f = sqrt(fx * fx + fy * fy);
                if (f < fmin || f >= fmax) continue;
                int bi = (int)(NB * log(f / fmin) / log(fmax / fmin));
                pb[bi] += a * a + b * b;
                cb[bi]++;
            }
    }
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int nn = 0;
    for (int b = 0; b < NB; b++) {
        double fc = fmin * pow(fmax / fmin, (b + 0.5) / NB);
        if (fc < 0.03 || fc > 0.3 || !cb[b]) continue;
        double x = log10(fc), y = log10(pb[b] / cb[b]);
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
        nn++;
    }
    free(scratch);
    *mean_level = level / n;
    return (nn * sxy - sx * sy) / (nn * sxx - sx * sx);
}

static void test_stimuli(void)
{
    double level;
    int integral;
    double slope = spectrum_slope(48, &level, &integral);
    printf("stimuli: power spectrum slope %.3f over 0.03-0.3 cycles/px, mean grey level %.1f\n", slope, level);
    CHECK(slope > -2.3 && slope < -1.7, "dead-leaves spectrum falls as ~1/f^2 (slope %.3f)", slope);
    CHECK(level > 95 && level < 135, "mean grey level %.1f near the paper's ~113", level);
    CHECK(integral, "images are integer grey levels in 0..255");
}

/* ---- feature bank -------------------------------------------------------------------------- */

/* A grating of contrast c, carrier direction theta (rad), wavelength lambda px, phase phi. */
static void grating(float *img, double c, double theta, double lambda, double phi)
{
    for (int y = 0; y < 36; y++)
        for (int x = 0; x < 64; x++)
            img[y * 64 + x] = (float)(113.0 + 100.0 * c * cos(2 * M_PI * (x * cos(theta) + y * sin(theta)) / lambda + phi));
}

static void test_bank(void)
{
    struct nsid_sim_bank b;
    struct nsid_sim_bank_work w;
    struct nsid_err err = {0};
    CHECK(nsid_sim_bank_init(&b, 36, 64, &err) == 0 && nsid_sim_bank_work_init(&w, &b, &err) == 0, "bank init");
    CHECK(nsid_sim_bank_init(&b, 36, 60, &err) < 0 && !strcmp(err.key, "image.height"), "bank refuses width 60");
    nsid_sim_bank_init(&b, 36, 64, &err);
    static float img[36 * 64];
    for (int i = 0; i < 36 * 64; i++) img[i] = 113.0f;
    nsid_sim_bank_forward(&w, &b, img);
    double mx = 0;
    for (int ch = 0; ch < NSID_SIM_CHANNELS; ch++) mx = fmax(mx, fabs(nsid_sim_bank_read(&b, &w, ch, 31, 17)));
    CHECK(mx == 0.0, "a grey screen gives zero in every channel (max %g)", mx);

    /* Scale 1 (wavelength 8 px), direction 0: complex is phase invariant, simple is not. */
    int s = 1, cx = NSID_SIM_CH_PER_SCALE * s + NSID_SIM_CH_COMPLEX(0), sx = NSID_SIM_CH_PER_SCALE * s + NSID_SIM_CH_SIMPLE(0, 0);
    double cmin = 1e9, cmax = 0, smin = 1e9, smax = 0;
    for (int k = 0; k < 8; k++) {
        grating(img, 0.5, 0.0, 8.0, 2 * M_PI * k / 8);
        nsid_sim_bank_forward(&w, &b, img);
        double c = nsid_sim_bank_read(&b, &w, cx, 31.5, 17.5), v = nsid_sim_bank_read(&b, &w, sx, 31.5, 17.5);
        cmin = fmin(cmin, c);
        cmax = fmax(cmax, c);
        smin = fmin(smin, v);
        smax = fmax(smax, v);
    }
    printf("bank: complex over phase %.3f..%.3f, simple %.3f..%.3f\n", cmin, cmax, smin, smax);
    CHECK(cmax > 0.5 && cmin > 0.7 * cmax, "complex channel is phase invariant (%.3f..%.3f)", cmin, cmax);
    CHECK(smax > 0.5 && smin < 0.1 * smax, "simple channel is phase sensitive (%.3f..%.3f)", smin, smax);
    grating(img, 0.5, M_PI / 2, 8.0, 0.0);
    nsid_sim_bank_forward(&w, &b, img);
    double orth = nsid_sim_bank_read(&b, &w, cx, 31.5, 17.5);
    CHECK(orth < 0.1 * cmax, "complex channel is orientation tuned (orthogonal %.3f vs %.3f)", orth, cmax);
    /* Normalisation saturates: 4x the contrast gives far less than 16x the energy. */
    grating(img, 0.125, 0.0, 8.0, 0.0);
    nsid_sim_bank_forward(&w, &b, img);
    double low = nsid_sim_bank_read(&b, &w, cx, 31.5, 17.5);
    printf("bank: complex at contrast 0.125 %.4f, at 0.5 %.4f\n", low, cmax);
    CHECK(cmax < 8.0 * low && cmax > 1.5 * low, "divisive normalisation compresses contrast (%.4f -> %.4f)", low, cmax);
    char name[64];
    nsid_sim_bank_channel_name(NSID_SIM_CH_PER_SCALE + NSID_SIM_CH_SIMPLE(2, 1), name, sizeof name);
    CHECK(!strcmp(name, "s1_simple_o45_odd+"), "channel name %s", name);
    nsid_sim_bank_work_free(&w);
    nsid_sim_bank_work_free(&w);
}

/* ---- scans ----------------------------------------------------------------------------------- */

static int same_bytes(const void *a, const void *b, size_t n)
{
    return a && b && memcmp(a, b, n) == 0;
}

static int same_arrays(const struct nsid_arrays *x, const struct nsid_arrays *y)
{
    if (x->n != y->n) return 0;
    for (int i = 0; i < x->n; i++) {
        const struct nsid_array *a = &x->a[i], *b = nsid_scan_arrays_find(y, a->name);
        if (!b || b->dtype != a->dtype || b->ndim != a->ndim ||
            !same_bytes(a->data, b->data, nsid_scan_array_numel(a) * a->itemsize))
            return 0;
    }
    return 1;
}

static void test_determinism(void)
{
    struct nsid_sim_config c1, c3, c7;
    config(&c1, "smoke", (const char *const[]){"threads=1", NULL});
    config(&c3, "smoke", (const char *const[]){"threads=3", NULL});
    config(&c7, "smoke", (const char *const[]){"threads=3", "seed=7", NULL});
    struct nsid_scan a, b, c;
    if (generate(&a, &c1, "20457-5-9") < 0 || generate(&b, &c3, "20457-5-9") < 0 || generate(&c, &c7, "20457-5-9") < 0) {
        CHECK(0, "generate smoke scans");
        return;
    }
    size_t T = (size_t)a.n_trials, N = (size_t)a.n_neurons;
    CHECK(same_bytes(a.images, b.images, T * 36 * 64 * sizeof(float)) &&
              same_bytes(a.responses, b.responses, T * N * sizeof(float)) &&
              same_bytes(a.behavior, b.behavior, T * 3 * sizeof(float)) &&
              same_arrays(&a.ground_truth, &b.ground_truth) && same_arrays(&a.neurons, &b.neurons) &&
              same_arrays(&a.trials, &b.trials) && same_arrays(&a.stats, &b.stats),
          "1 and 3 threads give bit-identical scans");
    CHECK(!same_bytes(a.responses, c.responses, T * N * sizeof(float)) &&
              !same_bytes(a.images, c.images, T * 36 * 64 * sizeof(float)),
          "another seed gives another scan");
    nsid_scan_free(&a);
    nsid_scan_free(&b);
    nsid_scan_free(&c);
}

/* Every test image is shown `repeats` times with identical pixels; train/validation once. */
static void check_tiers(const struct nsid_scan *s, const struct nsid_sim_sizes *z)
{
    int64_t counts[NSID_TIER_COUNT];
    nsid_scan_tier_counts(s, counts);
    CHECK(counts[NSID_TIER_TRAIN] == z->train_images && counts[NSID_TIER_VALIDATION] == z->validation_images &&
              counts[NSID_TIER_TEST] == z->test_images * z->test_repeats,
          "tier sizes %lld/%lld/%lld", (long long)counts[0], (long long)counts[1], (long long)counts[2]);
    int64_t T = s->n_trials, bad_repeat = 0, bad_count = 0, bad_tier = 0;
    size_t hw = (size_t)s->height * (size_t)s->width;
    for (int64_t t = 0; t < T; t++) {
        int64_t seen = 0;
        for (int64_t u = 0; u < T; u++) {
            if (s->frame_image_id[u] != s->frame_image_id[t]) continue;
            seen++;
            bad_tier += s->tiers[u] != s->tiers[t];
            bad_repeat += memcmp(s->images + (size_t)u * hw, s->images + (size_t)t * hw, hw * sizeof(float)) != 0;
        }
        bad_count += seen != (s->tiers[t] == NSID_TIER_TEST ? z->test_repeats : 1);
    }
    CHECK(bad_repeat == 0 && bad_tier == 0, "repeats of an image have identical pixels and tier (%lld, %lld bad)",
          (long long)bad_repeat, (long long)bad_tier);
    CHECK(bad_count == 0, "test images repeat %lld times, others once (%lld bad)", (long long)z->test_repeats,
          (long long)bad_count);
}

static void check_layout(const struct nsid_scan *s, const struct nsid_sim_config *cfg, const struct nsid_sim_sizes *z)
{
    int64_t T = s->n_trials, N = s->n_neurons;
    CHECK(!strcmp(s->data_key, "20457-5-9-0") && N == z->neurons && s->channels == 1 && s->height == 36 && s->width == 64,
          "data key %s and shape", s->data_key);
    int ok = 1;
    for (int64_t i = 0; i < T * N; i++) ok &= s->responses[i] >= 0.0f && isfinite(s->responses[i]);
    CHECK(ok, "responses are finite and non-negative");
    const char *trials[] = {"trial_idx", "frame_image_id", "frame_image_class", "tiers"};
    for (int i = 0; i < 4; i++) {
        const struct nsid_array *a = nsid_scan_arrays_find(&s->trials, trials[i]);
        CHECK(a && a->shape[0] == T, "item_info/%s has T rows", trials[i]);
    }
    const char *neurons[] = {"unit_ids", "animal_ids", "sessions", "scan_idx", "area", "layer", "cell_motor_coordinates",
                             "multi_match_id", "multi_unit_stack_coordinates"};
    for (int i = 0; i < 9; i++) {
        const struct nsid_array *a = nsid_scan_arrays_find(&s->neurons, neurons[i]);
        CHECK(a && a->shape[0] == N, "neurons/%s has N rows", neurons[i]);
    }
    const struct nsid_array *cmc = nsid_scan_arrays_find(&s->neurons, "cell_motor_coordinates");
    CHECK(cmc && cmc->ndim == 2 && cmc->shape[1] == 3 && s->cell_motor_coordinates, "cell_motor_coordinates (N, 3) µm");
    const char *stats[] = {"images/all/mean", "responses/all/std", "responses/stimulus_frame/median",
                           "behavior/all/max", "pupil_center/all/min"};
    int64_t want[] = {-1, N, N, 3, 2};
    for (int i = 0; i < 5; i++) {
        const struct nsid_array *a = nsid_scan_arrays_find(&s->stats, stats[i]);
        CHECK(a && (want[i] < 0 ? a->ndim == 0 : a->shape[0] == want[i]), "statistics/%s", stats[i]);
    }
    const struct nsid_array *sd = nsid_scan_arrays_find(&s->stats, "responses/all/std");
    double err_sd = 0;
    for (int64_t n = 0; sd && n < N; n++) {
        double m = 0, v = 0;
        for (int64_t t = 0; t < T; t++) m += (double)s->responses[t * N + n];
        m /= (double)T;
        for (int64_t t = 0; t < T; t++) v += ((double)s->responses[t * N + n] - m) * ((double)s->responses[t * N + n] - m);
        err_sd = fmax(err_sd, fabs(sqrt(v / (double)T) - nsid_scan_array_get_f64(sd, (size_t)n)));
    }
    CHECK(err_sd < 1e-4, "responses/all/std is the per-neuron std (max error %g)", err_sd);
    const struct nsid_array *px = truth(s, "rf_center_px"), *grid = truth(s, "rf_center_grid"),
                            *rates = truth(s, "rates"), *w = truth(s, "feature_weights");
    CHECK(px && grid && rates && w && rates->shape[0] == T && rates->shape[1] == N && w->shape[1] == NSID_SIM_CHANNELS,
          "ground truth arrays present with their shapes");
    if (!px || !grid) return;
    const double *p = px->data, *g = grid->data;
    int inside = 1, mapped = 1;
    for (int64_t n = 0; n < N; n++) {
        double m = 7.0 + cfg->rf_margin_px;
        inside &= p[2 * n] >= m && p[2 * n] <= 56.0 - cfg->rf_margin_px && p[2 * n + 1] >= m &&
                  p[2 * n + 1] <= 28.0 - cfg->rf_margin_px;
        /* grid x = -1 at image px 7 and +1 at px 56 (the 50 core outputs), y likewise over 22 rows */
        mapped &= fabs(7.0 + (g[2 * n] + 1.0) * 24.5 - p[2 * n]) < 1e-9 &&
                  fabs(7.0 + (g[2 * n + 1] + 1.0) * 10.5 - p[2 * n + 1]) < 1e-9;
    }
    CHECK(inside, "RF centres lie inside the core's 22x50 output area");
    CHECK(mapped, "rf_center_grid is the readout's align_corners grid of rf_center_px");
}

static void test_layout(void)
{
    struct nsid_sim_config cfg;
    config(&cfg, "smoke", NULL);
    struct nsid_scan s;
    if (generate(&s, &cfg, "20457-5-9") < 0) {
        CHECK(0, "generate the smoke evaluation scan");
        return;
    }
    check_tiers(&s, &cfg.sizes[NSID_SIM_ROLE_EVAL]);
    check_layout(&s, &cfg, &cfg.sizes[NSID_SIM_ROLE_EVAL]);
    nsid_scan_free(&s);
}

/* Row of matched id m in scan s, or -1. */
static int64_t row_of(const struct nsid_scan *s, int64_t m)
{
    for (int64_t n = 0; n < s->n_neurons; n++)
        if (s->multi_match_id[n] == m) return n;
    return -1;
}

static void test_matched(void)
{
    struct nsid_sim_config cfg;
    config(&cfg, "smoke", NULL);
    struct nsid_scan a, b;
    if (generate(&a, &cfg, "22564-2-12") < 0 || generate(&b, &cfg, "22564-3-8") < 0) {
        CHECK(0, "generate two 4-S scans");
        return;
    }
    const char *same[] = {"rf_center_px", "rf_sigma_px", "cell_type", "feature_weights", "mean_events",
                          "nonlinearity_threshold", "drive_std", "cortex_um"};
    int64_t matched = 0, bad = 0, far = 0;
    for (int64_t n = 0; n < a.n_neurons; n++) {
        int64_t m = a.multi_match_id[n];
        if (m < 0) continue;
        int64_t k = row_of(&b, m);
        if (k < 0) continue;
        matched++;
        for (size_t f = 0; f < sizeof same / sizeof same[0]; f++) {
            const struct nsid_array *x = truth(&a, same[f]), *y = truth(&b, same[f]);
            size_t row = x ? nsid_scan_array_numel(x) / (size_t)a.n_neurons * x->itemsize : 0;
            bad += !x || !y || memcmp((const char *)x->data + (size_t)n * row, (const char *)y->data + (size_t)k * row, row);
        }
        for (int d = 0; d < 3; d++)
            far += fabs(a.cell_motor_coordinates[n * 3 + d] - b.cell_motor_coordinates[k * 3 + d]) > 6 * cfg.motor_jitter_um;
    }
    CHECK(matched == cfg.sizes[NSID_SIM_ROLE_MATCHED].matched, "every matched id is in both scans (%lld)", (long long)matched);
    CHECK(bad == 0, "matched neurons share their truth (%lld differences)", (long long)bad);
    CHECK(far == 0, "matched neurons move only by the motor jitter between scans");
    const struct nsid_array *pa = truth(&a, "pool_index"), *pb = truth(&b, "pool_index");
    int64_t shared = 0;
    for (int64_t n = 0; pa && pb && n < a.n_neurons; n++)
        for (int64_t k = 0; k < b.n_neurons; k++)
            shared += ((int64_t *)pa->data)[n] == ((int64_t *)pb->data)[k];
    CHECK(shared == matched, "unmatched neurons are different cells");
    CHECK(a.frame_image_id[0] / 1000000 != b.frame_image_id[0] / 1000000, "scans show their own image sets");
    nsid_scan_free(&a);
    nsid_scan_free(&b);

    /* image_sets=paper: the evaluation scan shows 4-S scan 22564-2-12's images (image set 0). */
    config(&cfg, "smoke", (const char *const[]){"image_sets=paper", NULL});
    if (generate(&a, &cfg, "22564-2-12") < 0 || generate(&b, &cfg, "20457-5-9") < 0) {
        CHECK(0, "generate with paper image sets");
        return;
    }
    int64_t found = 0, equal = 0;
    size_t hw = 36 * 64;
    for (int64_t t = 0; t < b.n_trials; t++)
        for (int64_t u = 0; u < a.n_trials; u++)
            if (a.frame_image_id[u] == b.frame_image_id[t]) {
                found++;
                equal += !memcmp(a.images + (size_t)u * hw, b.images + (size_t)t * hw, hw * sizeof(float));
                break;
            }
    CHECK(found == b.n_trials && equal == found, "shared image set: same ids, same pixels (%lld of %lld)",
          (long long)equal, (long long)b.n_trials);
    nsid_scan_free(&a);
    nsid_scan_free(&b);
}

static void test_eye_behavior(void)
{
    struct nsid_sim_config off, on;
    config(&off, "smoke", NULL);
    config(&on, "smoke", (const char *const[]){"eye.enabled=true", "behavior.enabled=true", NULL});
    struct nsid_scan a, b;
    if (generate(&a, &off, "20457-5-9") < 0 || generate(&b, &on, "20457-5-9") < 0) {
        CHECK(0, "generate with eye movements and behaviour");
        return;
    }
    const struct nsid_array *sa = truth(&a, "eye_shift_px"), *sb = truth(&b, "eye_shift_px");
    double maxa = 0, maxb = 0;
    for (size_t i = 0; sa && sb && i < nsid_scan_array_numel(sa); i++) {
        maxa = fmax(maxa, fabs(((double *)sa->data)[i]));
        maxb = fmax(maxb, fabs(((double *)sb->data)[i]));
    }
    CHECK(maxa == 0.0 && maxb > 0.5, "eye shifts are off by default and on when enabled (max %.2f px)", maxb);
    CHECK(same_bytes(a.behavior, b.behavior, (size_t)a.n_trials * 3 * sizeof(float)) &&
              same_bytes(a.images, b.images, (size_t)a.n_trials * 36 * 64 * sizeof(float)),
          "behaviour traces and images do not depend on whether they act");
    CHECK(!same_bytes(truth(&a, "rates")->data, truth(&b, "rates")->data,
                      (size_t)a.n_trials * (size_t)a.n_neurons * sizeof(float)),
          "eye movements and behaviour change the rates");
    nsid_scan_free(&a);
    nsid_scan_free(&b);
}

/* nsid_simulate_write: HDF5 files that load back equal to the scan in memory, and groups.json. */
static void test_write(void)
{
    char dir[4096], path[4200];
    dt_tmpdir(dir, sizeof dir, "simulate");
    struct nsid_sim_config cfg;
    config(&cfg, "smoke", (const char *const[]){"groups=evaluation,1s", NULL});
    struct nsid_err err = {0};
    int rc = nsid_simulate_write(&cfg, dir, NULL, &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    CHECK(rc == 0 && dt_count_entries(dir) == 3, "writes 2 scans and groups.json (%d entries)", dt_count_entries(dir));
    snprintf(path, sizeof path, "%s/static20457-5-9-preproc0.h5", dir);
    struct nsid_scan disk, mem;
    rc = nsid_h5scan_load(&disk, path, NULL, &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    if (rc == 0 && generate(&mem, &cfg, "20457-5-9") == 0) {
        char why[512] = "";
        snprintf(mem.path, sizeof mem.path, "%s", disk.path);
        CHECK(dt_scans_equal(&disk, &mem, false, why, sizeof why), "the file loads back equal to the scan (%s)", why);
        CHECK(!strcmp(disk.data_key, "20457-5-9-0") && disk.images_dtype == NSID_DT_U8, "data key from the file name; uint8 images");
        nsid_scan_free(&mem);
    }
    nsid_scan_free(&disk);
    snprintf(path, sizeof path, "%s/groups.json", dir);
    FILE *f = fopen(path, "r");
    char text[16384] = "";
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = '\0';
    if (f) fclose(f);
    CHECK(strstr(text, "\"evaluation\": {\"label\": \"Evaluation\", \"files\": [\"static20457-5-9-preproc0.h5\"]}") &&
              strstr(text, "\"1s\": {") && !strstr(text, "\"11s\": {") && strstr(text, "\"profile\": \"smoke\"") &&
              strstr(text, "\"seed\": 1,") && strstr(text, "\"eval.neurons\": 40"),
          "groups.json lists the complete groups, profile, seed and keys");
    /* output.format=tree: a file-tree folder per scan, with the same data. */
    struct nsid_sim_config tcfg;
    config(&tcfg, "smoke", (const char *const[]){"groups=evaluation", "output.format=tree", NULL});
    snprintf(path, sizeof path, "%s/tree", dir);
    rc = nsid_simulate_write(&tcfg, path, NULL, &err);
    snprintf(path, sizeof path, "%s/tree/static20457-5-9-preproc0", dir);
    if (rc == 0) rc = nsid_scan_load(&disk, path, NULL, &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    if (rc == 0 && generate(&mem, &tcfg, "20457-5-9") == 0) {
        size_t T = (size_t)mem.n_trials, N = (size_t)mem.n_neurons;
        const struct nsid_array *ra = nsid_scan_arrays_find(&disk.ground_truth, "rates");
        CHECK(disk.n_trials == mem.n_trials && disk.n_neurons == mem.n_neurons &&
                  same_bytes(disk.images, mem.images, T * 36 * 64 * 4) && same_bytes(disk.responses, mem.responses, T * N * 4) &&
                  ra && same_bytes(ra->data, truth(&mem, "rates")->data, T * N * 4) && !strcmp(disk.data_key, "20457-5-9-0"),
              "output.format=tree writes a file tree with the same data");
        nsid_scan_free(&mem);
    }
    nsid_scan_free(&disk);
    cfg.sizes[NSID_SIM_ROLE_EVAL].matched = 99;
    CHECK(nsid_simulate_write(&cfg, dir, NULL, &err) < 0 && !strcmp(err.key, "eval.matched"),
          "nsid_simulate_write checks the configuration");
    dt_rmtree(dir);
}

int main(void)
{
    test_config();
    test_stimuli();
    test_bank();
    test_determinism();
    test_layout();
    test_matched();
    test_eye_behavior();
    test_write();
    return check_summary("simulate");
}
