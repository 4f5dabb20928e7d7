/*
 * simulate.c - one simulated scan, built like a recorded one (see simulate.h).
 *
 * Generation of a scan (T trials, N neurons, U distinct images):
 *   1. plan: pool indices of the neurons (matched ones first in the pool,
 *      then the scan's own), shuffled into file order; trial order (train,
 *      validation, test x repeats, shuffled); behaviour and eye traces
 *   2. neurons' truth, in parallel over neurons
 *   3. calibration: the bank on the shared calibration images, every
 *      neuron's drive, then per neuron mean/std and the rate solving its
 *      target oracle (parallel over images, then over neurons)
 *   4. per distinct image, in parallel: the image, the bank, and for each
 *      trial showing it the noise-free rate and the noisy response of every
 *      neuron (noise from the trial's own stream)
 *   5. statistics and metadata
 * Every random number comes from a stream named by what it is for, so the
 * result is the same for any thread count.
 */
#include "sim_int.h"

#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/path.h"
#include "base/pool.h"

/* ---- the generation context --------------------------------------------------------- */

struct gen {
    const struct nsid_sim_config *cfg;
    const struct nsid_sim_scan_def *def;
    int scan;                        /* index in the scan table */
    int64_t image_set;
    struct nsid_sim_sizes sz;
    int64_t T, N, U;                 /* trials, neurons, distinct images */
    int threads;                     /* threads of tp */
    struct nsid_pool tp;             /* the worker threads (items claimed dynamically) */
    int hw;                          /* pixels per image */
    struct nsid_sim_bank bank;
    struct nsid__sim_animal animal;

    struct nsid_sim_bank_work *work; /* (threads) */
    float *scratch;                  /* (threads, image scratch) */
    size_t scratch_floats;           /* per thread */
    float *imgbuf;                   /* (threads, hw) */
    float *colbuf;                   /* (threads, max(T, calibration images)) */

    int64_t *pool;                   /* (N) pool index of each neuron in file order */
    struct nsid__sim_neuron *neurons;/* (N) in file order */
    struct nsid__sim_neuron *proc;   /* (N) the same, sorted by RF position (cache locality) */
    int64_t *file_of;                /* (N) file position of proc[j] */
    double *amp;                     /* (N) event amplitude in file order */
    double *lam;                     /* (threads, N) expected events of one trial, file order */
    float *calib;                    /* (calibration images, N) drives */

    int8_t *img_tier;                /* (U) */
    int64_t *img_key;                /* (U) tier * NSID__SIM_TIER_STRIDE + index */
    int64_t *img_first;              /* (U + 1) CSR start of each image's trials */
    int64_t *img_trials;             /* (T) trials grouped by image */
    int64_t *trial_img;              /* (T) image of each trial */

    float *behavior;                 /* (T, 3) pupil dilation, its derivative, running speed */
    float *pupil;                    /* (T, 2) pupil centre, camera px */
    double *shift;                   /* (T, 2) RF shift from eye position, px */
    double *bz;                      /* (T, 2) standardised running speed and pupil size */

    float *images;                   /* (T, hw) */
    float *responses;                /* (T, N) */
    float *rates;                    /* (T, N) noise-free expected response */
};

/* Release every buffer of the context (safe after a partial gen_alloc). */
static void gen_free(struct gen *g)
{
    if (g->work)
        for (int t = 0; t < g->threads; t++) nsid_sim_bank_work_free(&g->work[t]);
    void *bufs[] = {g->work, g->scratch, g->imgbuf, g->colbuf, g->pool, g->neurons, g->proc, g->file_of, g->amp, g->lam, g->calib,
                    g->img_tier, g->img_key, g->img_first, g->img_trials, g->trial_img, g->behavior,
                    g->pupil, g->shift, g->bz, g->images, g->responses, g->rates};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) nsid_alloc_free(bufs[i]);
    nsid_pool_free(&g->tp);
    memset(g, 0, sizeof *g);
}

/* n elements of size bytes, checked for overflow; NULL with err set on failure. */
static void *alloc_n(size_t n, size_t size, struct nsid_err *err)
{
    size_t bytes = nsid_alloc_mul_size(n, size, err);
    if (!bytes && n && size) return NULL;
    return NSID_CALLOC(bytes, err);
}

/* Allocate every buffer of the context, zeroed, and one bank work area per thread. */
static int gen_alloc(struct gen *g, struct nsid_err *err)
{
    size_t T = (size_t)g->T, N = (size_t)g->N, U = (size_t)g->U, th = (size_t)g->threads;
    size_t ncal = (size_t)g->cfg->calibration_images, col = T > ncal ? T : ncal;
    g->scratch_floats = nsid_sim_image_scratch(g->cfg->height, g->cfg->width);
    if (!(g->work = alloc_n(th, sizeof *g->work, err)) ||
        !(g->scratch = alloc_n(th, g->scratch_floats * sizeof(float), err)) ||
        !(g->imgbuf = alloc_n(th, (size_t)g->hw * sizeof(float), err)) ||
        !(g->colbuf = alloc_n(th, col * sizeof(float), err)) ||
        !(g->pool = alloc_n(N, sizeof(int64_t), err)) ||
        !(g->neurons = alloc_n(N, sizeof *g->neurons, err)) ||
        !(g->proc = alloc_n(N, sizeof *g->proc, err)) ||
        !(g->file_of = alloc_n(N, sizeof(int64_t), err)) ||
        !(g->amp = alloc_n(N, sizeof(double), err)) ||
        !(g->lam = alloc_n(th, N * sizeof(double), err)) ||
        !(g->calib = alloc_n(ncal, N * sizeof(float), err)) ||
        !(g->img_tier = alloc_n(U, 1, err)) ||
        !(g->img_key = alloc_n(U, sizeof(int64_t), err)) ||
        !(g->img_first = alloc_n(U + 1, sizeof(int64_t), err)) ||
        !(g->img_trials = alloc_n(T, sizeof(int64_t), err)) ||
        !(g->trial_img = alloc_n(T, sizeof(int64_t), err)) ||
        !(g->behavior = alloc_n(T, 3 * sizeof(float), err)) ||
        !(g->pupil = alloc_n(T, 2 * sizeof(float), err)) ||
        !(g->shift = alloc_n(T, 2 * sizeof(double), err)) ||
        !(g->bz = alloc_n(T, 2 * sizeof(double), err)) ||
        !(g->images = alloc_n(T, (size_t)g->hw * sizeof(float), err)) ||
        !(g->responses = alloc_n(T, N * sizeof(float), err)) ||
        !(g->rates = alloc_n(T, N * sizeof(float), err)))
        return err->code;
    for (int t = 0; t < g->threads; t++)
        if (nsid_sim_bank_work_init(&g->work[t], &g->bank, err) < 0) return err->code;
    return 0;
}

/* ---- 1. plan ------------------------------------------------------------------------------ */

/*
 * Pool indices in file order: matched neurons are pool 0..M-1 in every scan
 * of the animal, the others the scan's own (from (scan + 1) * 10^7 on); the
 * file order is a per-scan permutation.
 */
static int plan_neurons(struct gen *g, struct nsid_err *err)
{
    int64_t M = g->sz.matched, base = (int64_t)(g->scan + 1) * 10000000;
    int64_t *perm = alloc_n((size_t)g->N, sizeof(int64_t), err);
    if (!perm) return err->code;
    struct nsid_rng r;
    nsid_rng_init(&r, g->cfg->seed, nsid__sim_stream(NSID__SIM_P_ORDER, (uint64_t)g->scan, 1));
    nsid_rng_permutation(&r, perm, (size_t)g->N);
    for (int64_t i = 0; i < g->N; i++) {
        int64_t k = perm[i];
        g->pool[i] = k < M ? k : base + (k - M);
    }
    nsid_alloc_free(perm);
    return 0;
}

/* Distinct images (test first, then validation, then train) and the shuffled trial order. */
static int plan_trials(struct gen *g, struct nsid_err *err)
{
    const struct nsid_sim_sizes *s = &g->sz;
    int64_t u = 0;
    struct { int tier; int64_t n; } tiers[3] = {
        {NSID_TIER_TEST, s->test_images}, {NSID_TIER_VALIDATION, s->validation_images},
        {NSID_TIER_TRAIN, s->train_images}};
    for (int k = 0; k < 3; k++)
        for (int64_t i = 0; i < tiers[k].n; i++, u++) {
            g->img_tier[u] = (int8_t)tiers[k].tier;
            g->img_key[u] = (int64_t)tiers[k].tier * NSID__SIM_TIER_STRIDE + i;
        }
    /* One trial slot per showing, shuffled into presentation order. */
    int64_t *slot = alloc_n((size_t)g->T, sizeof(int64_t), err);
    if (!slot) return err->code;
    int64_t t = 0;
    for (int64_t i = 0; i < g->U; i++) {
        int64_t reps = g->img_tier[i] == NSID_TIER_TEST ? s->test_repeats : 1;
        for (int64_t k = 0; k < reps; k++) slot[t++] = i;
    }
    struct nsid_rng r;
    nsid_rng_init(&r, g->cfg->seed, nsid__sim_stream(NSID__SIM_P_ORDER, (uint64_t)g->scan, 0));
    nsid_rng_shuffle(&r, slot, (size_t)g->T);
    memset(g->img_first, 0, sizeof(int64_t) * (size_t)(g->U + 1));
    for (t = 0; t < g->T; t++) {
        g->trial_img[t] = slot[t];
        g->img_first[slot[t] + 1]++;
    }
    for (int64_t i = 0; i < g->U; i++) g->img_first[i + 1] += g->img_first[i];
    int64_t *fill = slot; /* reuse: next free position per image */
    for (int64_t i = 0; i < g->U; i++) fill[i] = g->img_first[i];
    for (t = 0; t < g->T; t++) g->img_trials[fill[g->trial_img[t]]++] = t;
    nsid_alloc_free(slot);
    return 0;
}

/* Standardise column c of a (T, k) double array in place. */
static void standardise(double *x, int64_t T, int k, int c)
{
    double m = 0, v = 0;
    for (int64_t t = 0; t < T; t++) m += x[t * k + c];
    m /= (double)T;
    for (int64_t t = 0; t < T; t++) v += (x[t * k + c] - m) * (x[t * k + c] - m);
    double sd = sqrt(v / (double)T);
    for (int64_t t = 0; t < T; t++) x[t * k + c] = sd > 0 ? (x[t * k + c] - m) / sd : 0.0;
}

/*
 * Behaviour in presentation order: running is a two-state (still / running)
 * Markov chain, pupil size an AR(1) that grows when running, pupil position
 * an AR(1) around the camera centre. They shift RFs and modulate gains only
 * when enabled; otherwise they are recorded nuisance variables, as in data.
 */
static void plan_behavior(struct gen *g)
{
    struct nsid_rng r;
    nsid_rng_init(&r, g->cfg->seed, nsid__sim_stream(NSID__SIM_P_BEHAVIOR, (uint64_t)g->scan, 0));
    int running = 0;
    double ar = 0, ex = 0, ey = 0, prev_dil = 0;
    for (int64_t t = 0; t < g->T; t++) {
        if (nsid_rng_uniform(&r) < 0.08) running = !running;
        double speed = running ? fabs(8.0 + 4.0 * nsid_rng_normal(&r)) : fabs(0.3 * nsid_rng_normal(&r));
        ar = 0.9 * ar + sqrt(1 - 0.81) * nsid_rng_normal(&r);
        double dil = 25.0 * exp(0.2 * ar + (running ? 0.25 : 0.0));
        ex = 0.8 * ex + 0.6 * nsid_rng_normal(&r);
        ey = 0.8 * ey + 0.6 * nsid_rng_normal(&r);
        g->behavior[t * 3 + 0] = (float)dil;
        g->behavior[t * 3 + 1] = (float)(t ? dil - prev_dil : 0.0);
        g->behavior[t * 3 + 2] = (float)speed;
        g->pupil[t * 2 + 0] = (float)(160.0 + 6.0 * ex);
        g->pupil[t * 2 + 1] = (float)(120.0 + 4.0 * ey);
        prev_dil = dil;
        g->bz[t * 2 + 0] = speed;
        g->bz[t * 2 + 1] = dil;
        g->shift[t * 2 + 0] = (double)g->pupil[t * 2 + 0];
        g->shift[t * 2 + 1] = (double)g->pupil[t * 2 + 1];
    }
    standardise(g->bz, g->T, 2, 0);
    standardise(g->bz, g->T, 2, 1);
    standardise(g->shift, g->T, 2, 0);
    standardise(g->shift, g->T, 2, 1);
    double k = g->cfg->eye_movements ? g->cfg->eye_shift_px : 0.0;
    for (int64_t t = 0; t < 2 * g->T; t++) g->shift[t] *= k;
}

/* ---- 2./3. neurons and calibration ------------------------------------------------------- */

/* Task: the truth of neuron i (file order) from its pool index. */
static void task_neuron(void *ctx, int64_t i, int thread)
{
    struct gen *g = ctx;
    (void)thread;
    nsid__sim_neuron_draw(&g->neurons[i], g->cfg, &g->animal, g->pool[i]);
}

/* Calibration image c: the same images for every animal and scan. */
static void task_calib_image(void *ctx, int64_t c, int thread)
{
    struct gen *g = ctx;
    struct nsid_rng r;
    nsid_rng_init(&r, g->cfg->seed, nsid__sim_stream(NSID__SIM_P_CALIB, 0, (uint64_t)c));
    float *img = g->imgbuf + (size_t)thread * (size_t)g->hw;
    nsid_sim_image(img, g->cfg->height, g->cfg->width, g->cfg->leaf_exponent, &r,
                   g->scratch + (size_t)thread * g->scratch_floats);
    nsid_sim_bank_forward(&g->work[thread], &g->bank, img);
    float *row = g->calib + (size_t)c * (size_t)g->N;
    for (int64_t n = 0; n < g->N; n++) {
        const struct nsid__sim_neuron *nr = &g->neurons[n];
        row[n] = (float)nsid__sim_neuron_drive(nr, &g->bank, &g->work[thread], nr->rf[0], nr->rf[1]);
    }
}

/* Task: standardisation and mean rate of neuron n from its calibration drives. */
static void task_calibrate(void *ctx, int64_t n, int thread)
{
    struct gen *g = ctx;
    int nc = g->cfg->calibration_images;
    float *col = g->colbuf + (size_t)thread * (size_t)(g->T > nc ? g->T : nc);
    for (int c = 0; c < nc; c++) col[c] = g->calib[(size_t)c * (size_t)g->N + (size_t)n];
    nsid__sim_neuron_calibrate(&g->neurons[n], g->cfg, col, nc, (int)g->sz.test_repeats);
}

/* ---- 4. images, rates and responses --------------------------------------------------------- */

/* Gain of neuron n on trial t from behaviour (mean 1 over trials), 1 when disabled. */
static double behavior_gain(const struct gen *g, const struct nsid__sim_neuron *n, int64_t t)
{
    if (!g->cfg->behavior) return 1.0;
    double a = n->beh_run, b = n->beh_pupil;
    return exp(a * g->bz[t * 2] + b * g->bz[t * 2 + 1] - 0.5 * (a * a + b * b));
}

/*
 * Task: distinct image u. Draws the image from its (image set, key) stream,
 * runs the bank, and for every trial showing it writes the pixels, the
 * noise-free rates and the noisy responses of every neuron.
 */
static void task_image(void *ctx, int64_t u, int thread)
{
    struct gen *g = ctx;
    const struct nsid_sim_config *cfg = g->cfg;
    struct nsid_rng r;
    nsid_rng_init(&r, cfg->seed, nsid__sim_stream(NSID__SIM_P_IMAGE, (uint64_t)g->image_set, (uint64_t)g->img_key[u]));
    float *img = g->imgbuf + (size_t)thread * (size_t)g->hw;
    nsid_sim_image(img, cfg->height, cfg->width, cfg->leaf_exponent, &r,
                   g->scratch + (size_t)thread * g->scratch_floats);
    struct nsid_sim_bank_work *w = &g->work[thread];
    nsid_sim_bank_forward(w, &g->bank, img);
    double *lam = g->lam + (size_t)thread * (size_t)g->N;
    for (int64_t k = g->img_first[u]; k < g->img_first[u + 1]; k++) {
        int64_t t = g->img_trials[k];
        memcpy(g->images + (size_t)t * (size_t)g->hw, img, sizeof(float) * (size_t)g->hw);
        float *rate = g->rates + (size_t)t * (size_t)g->N, *resp = g->responses + (size_t)t * (size_t)g->N;
        double dx = g->shift[t * 2], dy = g->shift[t * 2 + 1];
        /* Rates in RF order (neighbours share feature-map cache lines) ... */
        for (int64_t j = 0; j < g->N; j++) {
            const struct nsid__sim_neuron *nr = &g->proc[j];
            double z = nsid__sim_neuron_drive(nr, &g->bank, w, nr->rf[0] + dx, nr->rf[1] + dy);
            int64_t n = g->file_of[j];
            lam[n] = nsid__sim_neuron_rate(nr, z) * behavior_gain(g, nr, t);
            rate[n] = (float)(nr->amplitude * lam[n]);
        }
        /* ... then the noise in file order, from the trial's own stream. */
        struct nsid_rng noise;
        nsid_rng_init(&noise, cfg->seed, nsid__sim_stream(NSID__SIM_P_NOISE, (uint64_t)g->scan, (uint64_t)t));
        for (int64_t n = 0; n < g->N; n++)
            resp[n] = (float)nsid__sim_noise_draw(&noise, lam[n], g->amp[n], cfg->overdispersion,
                                                  cfg->amplitude_shape);
    }
}

struct rf_key {
    int64_t tile, n;
};

/* qsort order of rf_key: tile, then file position. */
static int cmp_rf_key(const void *a, const void *b)
{
    const struct rf_key *x = a, *y = b;
    if (x->tile != y->tile) return x->tile < y->tile ? -1 : 1;
    return (x->n > y->n) - (x->n < y->n);
}

/* The processing order: 4 x 4 px tiles row by row, ties by file position (a total order). */
static int plan_order(struct gen *g, struct nsid_err *err)
{
    struct rf_key *k = alloc_n((size_t)g->N, sizeof *k, err);
    if (!k) return err->code;
    for (int64_t n = 0; n < g->N; n++) {
        const struct nsid__sim_neuron *nr = &g->neurons[n];
        int64_t ty = (int64_t)floor(nr->rf[1] / 4.0), tx = (int64_t)floor(nr->rf[0] / 4.0);
        k[n] = (struct rf_key){ty * 100000 + tx, n};
        g->amp[n] = nr->amplitude;
    }
    qsort(k, (size_t)g->N, sizeof *k, cmp_rf_key);
    for (int64_t j = 0; j < g->N; j++) {
        g->file_of[j] = k[j].n;
        g->proc[j] = g->neurons[k[j].n];
    }
    nsid_alloc_free(k);
    return 0;
}

/* ---- 5. metadata, statistics and ground truth ---------------------------------------------- */

/* Add a copy of data as array `name` to list l. */
static int add_array(struct nsid_arrays *l, const char *name, int dtype, int ndim, const int64_t *shape,
                     size_t itemsize, void *data, struct nsid_err *err)
{
    struct nsid_array a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "%s", name);
    a.dtype = dtype;
    a.ndim = ndim;
    for (int i = 0; i < ndim; i++) a.shape[i] = shape[i];
    a.itemsize = itemsize;
    a.data = data;
    return nsid_scan_arrays_add(l, &a, err);
}

/* Add a copy of a 1-d array of n elements. */
static int add_1d(struct nsid_arrays *l, const char *name, int dtype, int64_t n, size_t itemsize,
                  void *data, struct nsid_err *err)
{
    return add_array(l, name, dtype, 1, &n, itemsize, data, err);
}

/* Add a copy of a 2-d (n0, n1) array. */
static int add_2d(struct nsid_arrays *l, const char *name, int dtype, int64_t n0, int64_t n1, size_t itemsize,
                  void *data, struct nsid_err *err)
{
    int64_t shape[2] = {n0, n1};
    return add_array(l, name, dtype, 2, shape, itemsize, data, err);
}

/* Add a float64 scalar (a 0-d array). */
static int add_scalar(struct nsid_arrays *l, const char *name, double v, struct nsid_err *err)
{
    return add_array(l, name, NSID_DT_F64, 0, NULL, sizeof(double), &v, err);
}

/* A string for element i (may use tmp, n bytes). */
typedef const char *(*str_fn)(const void *ctx, int64_t i, char *tmp, size_t n);

/* n fixed-width strings (NUL-padded, truncated to width) added as `name`. */
static int add_strings(struct nsid_arrays *l, const char *name, int64_t n, size_t width, str_fn str,
                       const void *ctx, struct nsid_err *err)
{
    char *buf = alloc_n((size_t)n, width, err);
    if (!buf) return err->code;
    char tmp[64];
    for (int64_t i = 0; i < n; i++) {
        const char *v = str(ctx, i, tmp, sizeof tmp);
        size_t len = strlen(v);
        memcpy(buf + (size_t)i * width, v, len < width ? len : width);
    }
    int rc = add_1d(l, name, NSID_DT_STR, n, width, buf, err);
    nsid_alloc_free(buf);
    return rc;
}

/* Tier name of trial t. */
static const char *tier_str(const void *ctx, int64_t t, char *tmp, size_t n)
{
    const struct gen *g = ctx;
    (void)tmp;
    (void)n;
    return nsid_scan_tier_name(g->img_tier[g->trial_img[t]]);
}

/* The string ctx for every element. */
static const char *const_str(const void *ctx, int64_t i, char *tmp, size_t n)
{
    (void)i;
    (void)tmp;
    (void)n;
    return ctx;
}

/* Cell-type name i (enum nsid_sim_cell_type). */
static const char *type_str(const void *ctx, int64_t i, char *tmp, size_t n)
{
    static const char *const names[NSID_SIM_CELL_COUNT] = {"simple", "complex", "surround", "cross",
                                                           "onoff", "sbc"};
    (void)ctx;
    (void)tmp;
    (void)n;
    return names[i];
}

/* Bank channel name i. */
static const char *channel_str(const void *ctx, int64_t i, char *tmp, size_t n)
{
    (void)ctx;
    nsid_sim_bank_channel_name((int)i, tmp, n);
    return tmp;
}

/* frame_image_id: equal ids are the same image, in every scan of the same image set. */
static int64_t image_id(const struct gen *g, int64_t u)
{
    return g->image_set * NSID__SIM_SET_STRIDE + g->img_key[u];
}

/* Per-trial fields: typed tiers and frame_image_id, and item_info (trial_idx, frame_image_id, frame_image_class, tiers). */
static int fill_trials(struct nsid_scan *s, struct gen *g, struct nsid_err *err)
{
    int64_t T = g->T;
    s->tiers = alloc_n((size_t)T, 1, err);
    s->frame_image_id = alloc_n((size_t)T, sizeof(int64_t), err);
    int64_t *idx = alloc_n((size_t)T, sizeof(int64_t), err);
    int rc = (!s->tiers || !s->frame_image_id || !idx) ? err->code : 0;
    if (rc == 0) {
        for (int64_t t = 0; t < T; t++) {
            s->tiers[t] = g->img_tier[g->trial_img[t]];
            s->frame_image_id[t] = image_id(g, g->trial_img[t]);
            idx[t] = t;
        }
        if ((rc = add_1d(&s->trials, "trial_idx", NSID_DT_I64, T, 8, idx, err)) == 0 &&
            (rc = add_1d(&s->trials, "frame_image_id", NSID_DT_I64, T, 8, s->frame_image_id, err)) == 0 &&
            (rc = add_strings(&s->trials, "frame_image_class", T, 11, const_str, "dead_leaves", err)) == 0)
            rc = add_strings(&s->trials, "tiers", T, 10, tier_str, g, err);
    }
    nsid_alloc_free(idx);
    return rc;
}

/* Per-scan coordinates: matched neurons move by a few µm between scans (re-registration). */
static void motor_coordinates(double *xyz, const struct gen *g)
{
    for (int64_t i = 0; i < g->N; i++) {
        const struct nsid__sim_neuron *n = &g->neurons[i];
        struct nsid_rng r;
        nsid_rng_init(&r, g->cfg->seed, nsid__sim_stream(NSID__SIM_P_JITTER, (uint64_t)g->scan, (uint64_t)n->pool));
        for (int k = 0; k < 3; k++)
            xyz[i * 3 + k] = n->cortex[k] + g->cfg->motor_jitter_um * nsid_rng_normal(&r);
    }
}

/* Per-neuron fields: ids, sessions, scan, area, layer, motor and stack coordinates, multi_match_id. */
static int fill_neurons(struct nsid_scan *s, struct gen *g, struct nsid_err *err)
{
    int64_t N = g->N;
    s->unit_ids = alloc_n((size_t)N, 8, err);
    s->animal_ids = alloc_n((size_t)N, 8, err);
    s->multi_match_id = alloc_n((size_t)N, 8, err);
    s->cell_motor_coordinates = alloc_n((size_t)N, 3 * sizeof(double), err);
    int64_t *sess = alloc_n((size_t)N, 8, err), *scn = alloc_n((size_t)N, 8, err);
    double *stack = alloc_n((size_t)N, 3 * sizeof(double), err);
    int rc = (!s->unit_ids || !s->animal_ids || !s->multi_match_id || !s->cell_motor_coordinates || !sess ||
              !scn || !stack) ? err->code : 0;
    if (rc == 0) {
        for (int64_t i = 0; i < N; i++) {
            s->unit_ids[i] = i + 1;
            s->animal_ids[i] = g->def->animal;
            s->multi_match_id[i] = g->pool[i] < g->sz.matched ? g->pool[i] : -1;
            sess[i] = g->def->session;
            scn[i] = g->def->scan;
            for (int k = 0; k < 3; k++) stack[i * 3 + k] = g->neurons[i].cortex[k];
        }
        motor_coordinates(s->cell_motor_coordinates, g);
        if ((rc = add_1d(&s->neurons, "unit_ids", NSID_DT_I64, N, 8, s->unit_ids, err)) == 0 &&
            (rc = add_1d(&s->neurons, "animal_ids", NSID_DT_I64, N, 8, s->animal_ids, err)) == 0 &&
            (rc = add_1d(&s->neurons, "sessions", NSID_DT_I64, N, 8, sess, err)) == 0 &&
            (rc = add_1d(&s->neurons, "scan_idx", NSID_DT_I64, N, 8, scn, err)) == 0 &&
            (rc = add_strings(&s->neurons, "area", N, 2, const_str, "V1", err)) == 0 &&
            (rc = add_strings(&s->neurons, "layer", N, 4, const_str, "L2/3", err)) == 0 &&
            (rc = add_2d(&s->neurons, "cell_motor_coordinates", NSID_DT_F64, N, 3, 8, s->cell_motor_coordinates, err)) == 0 &&
            (rc = add_1d(&s->neurons, "multi_match_id", NSID_DT_I64, N, 8, s->multi_match_id, err)) == 0)
            rc = add_2d(&s->neurons, "multi_unit_stack_coordinates", NSID_DT_F64, N, 3, 8, stack, err);
    }
    nsid_alloc_free(sess);
    nsid_alloc_free(scn);
    nsid_alloc_free(stack);
    return rc;
}

/* Rearrange x so that x[k] is the k-th smallest (Hoare selection, median of three pivots). */
static void select_kth(float *x, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        float a = x[lo], b = x[mid], c = x[hi];
        float pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot) i++;
            while (x[j] > pivot) j--;
            if (i <= j) {
                float t = x[i];
                x[i++] = x[j];
                x[j--] = t;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return;
    }
}

/* mean, std (ddof 0), min, max, median (numpy's) of n values with stride; buf holds n floats. */
static void summarise(const float *x, int64_t n, int64_t stride, float *buf, double out[5])
{
    double m = 0, v = 0;
    float lo = x[0], hi = x[0];
    for (int64_t i = 0; i < n; i++) {
        float xi = x[i * stride];
        buf[i] = xi;
        m += (double)xi;
        lo = xi < lo ? xi : lo;
        hi = xi > hi ? xi : hi;
    }
    m /= (double)n;
    for (int64_t i = 0; i < n; i++) v += ((double)buf[i] - m) * ((double)buf[i] - m);
    out[0] = m;
    out[1] = sqrt(v / (double)n);
    out[2] = (double)lo;
    out[3] = (double)hi;
    select_kth(buf, n, n / 2);
    double med = (double)buf[n / 2];
    if (n % 2 == 0) {
        /* Even n: the mean of the two middle values; the lower one is the max of the lower part. */
        float below = buf[0];
        for (int64_t i = 1; i < n / 2; i++) below = buf[i] > below ? buf[i] : below;
        med = 0.5 * (med + (double)below);
    }
    out[4] = med;
}

struct stats_ctx {
    struct gen *g;
    double *out;   /* (N, 5) */
};

/* Task: statistics of neuron n's responses over all trials. */
static void task_stats(void *ctx, int64_t n, int thread)
{
    struct stats_ctx *c = ctx;
    struct gen *g = c->g;
    int nc = g->cfg->calibration_images;
    float *col = g->colbuf + (size_t)thread * (size_t)(g->T > nc ? g->T : nc);
    summarise(g->responses + n, g->T, g->N, col, c->out + n * 5);
}

/* Images are integers 0..255: their median from a histogram. */
static void image_stats(const struct gen *g, double out[5])
{
    int64_t hist[256] = {0};
    size_t n = (size_t)g->T * (size_t)g->hw;
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++) {
        int k = (int)g->images[i];
        hist[k < 0 ? 0 : k > 255 ? 255 : k]++;
        m += (double)g->images[i];
    }
    m /= (double)n;
    for (size_t i = 0; i < n; i++) v += ((double)g->images[i] - m) * ((double)g->images[i] - m);
    int lo = 0, hi = 255;
    while (lo < 255 && !hist[lo]) lo++;
    while (hi > 0 && !hist[hi]) hi--;
    double med[2];
    size_t want[2] = {(n - 1) / 2, n / 2}, acc = 0;
    for (int q = 0, k = 0; q < 2; q++) {
        while (acc + (size_t)hist[k] <= want[q]) acc += (size_t)hist[k++];
        med[q] = k;
    }
    out[0] = m;
    out[1] = sqrt(v / (double)n);
    out[2] = lo;
    out[3] = hi;
    out[4] = 0.5 * (med[0] + med[1]);
}

/* statistics/<data>/<all|stimulus_frame>/<mean|std|min|max|median> from (k, 5) values. */
static int add_stats(struct nsid_scan *s, const char *data, const double *v, int64_t k, int scalar,
                     struct nsid_err *err)
{
    static const char *const what[5] = {"mean", "std", "min", "max", "median"};
    static const char *const sel[2] = {"all", "stimulus_frame"};
    float *col = alloc_n((size_t)k, sizeof(float), err);
    if (!col) return err->code;
    int rc = 0;
    for (int a = 0; a < 2 && rc == 0; a++)
        for (int m = 0; m < 5 && rc == 0; m++) {
            char name[NSID_KEY_MAX];
            snprintf(name, sizeof name, "%s/%s/%s", data, sel[a], what[m]);
            for (int64_t i = 0; i < k; i++) col[i] = (float)v[i * 5 + m];
            rc = scalar ? add_array(&s->stats, name, NSID_DT_F32, 0, NULL, 4, col, err)
                        : add_1d(&s->stats, name, NSID_DT_F32, k, 4, col, err);
        }
    nsid_alloc_free(col);
    return rc;
}

/* statistics/ of images, responses, behavior and pupil_center ("all" and "stimulus_frame" alike). */
static int fill_stats(struct nsid_scan *s, struct gen *g, struct nsid_err *err)
{
    int64_t N = g->N;
    double *v = alloc_n((size_t)N + 5, 5 * sizeof(double), err);
    if (!v) return err->code;
    double img[5];
    image_stats(g, img);
    int rc = add_stats(s, "images", img, 1, 1, err);
    if (rc == 0) {
        struct stats_ctx c = {g, v};
        nsid_pool_each(&g->tp, N, task_stats, &c);
        rc = add_stats(s, "responses", v, N, 0, err);
    }
    for (int k = 0; k < 3 && rc == 0; k++) summarise(g->behavior + k, g->T, 3, g->colbuf, v + k * 5);
    if (rc == 0) rc = add_stats(s, "behavior", v, 3, 0, err);
    for (int k = 0; k < 2 && rc == 0; k++) summarise(g->pupil + k, g->T, 2, g->colbuf, v + k * 5);
    if (rc == 0) rc = add_stats(s, "pupil_center", v, 2, 0, err);
    nsid_alloc_free(v);
    return rc;
}

/* Per-neuron double fields of the truth, by offset in struct nsid__sim_neuron. */
static const struct {
    const char *name;
    size_t offset;
} NEURON_FIELDS[] = {
    {"rf_sigma_px", offsetof(struct nsid__sim_neuron, rf_sigma)},
    {"preferred_orientation_deg", offsetof(struct nsid__sim_neuron, ori_deg)},
    {"preferred_phase_deg", offsetof(struct nsid__sim_neuron, phase_deg)},
    {"nonlinearity_slope", offsetof(struct nsid__sim_neuron, slope)},
    {"nonlinearity_threshold", offsetof(struct nsid__sim_neuron, threshold)},
    {"baseline_fraction", offsetof(struct nsid__sim_neuron, baseline)},
    {"mean_events", offsetof(struct nsid__sim_neuron, mean_rate)},
    {"event_amplitude", offsetof(struct nsid__sim_neuron, amplitude)},
    {"drive_mean", offsetof(struct nsid__sim_neuron, drive_mean)},
    {"drive_std", offsetof(struct nsid__sim_neuron, drive_std)},
    {"shape_mean", offsetof(struct nsid__sim_neuron, shape_mean)},
    {"target_oracle", offsetof(struct nsid__sim_neuron, target_oracle)},
    {"behavior_run_coef", offsetof(struct nsid__sim_neuron, beh_run)},
    {"behavior_pupil_coef", offsetof(struct nsid__sim_neuron, beh_pupil)},
};

/* Add the double field at `offset` of every neuron as ground_truth/name; buf holds N doubles. */
static int add_neuron_field(struct nsid_scan *s, const struct gen *g, const char *name, size_t offset, double *buf,
                            struct nsid_err *err)
{
    for (int64_t i = 0; i < g->N; i++) memcpy(&buf[i], (const char *)&g->neurons[i] + offset, sizeof(double));
    return add_1d(&s->ground_truth, name, NSID_DT_F64, g->N, 8, buf, err);
}

/* RF centres (px and readout grid), types, scale, pool, cortex and dense weights. */
static int fill_truth_neurons(struct nsid_scan *s, const struct gen *g, struct nsid_err *err)
{
    int64_t N = g->N;
    double *px = alloc_n((size_t)N, 3 * sizeof(double), err), *grid = alloc_n((size_t)N, 2 * sizeof(double), err);
    int32_t *type = alloc_n((size_t)N, 4, err), *scale = alloc_n((size_t)N, 4, err);
    int64_t *pool = alloc_n((size_t)N, 8, err);
    float *w = alloc_n((size_t)N, NSID_SIM_CHANNELS * sizeof(float), err);
    int rc = (!px || !grid || !type || !scale || !pool || !w) ? err->code : 0;
    if (rc == 0) {
        /* The core's 15x15 valid convolution leaves W - 14 by H - 14 outputs. */
        double gw = g->cfg->width - 14.0, gh = g->cfg->height - 14.0;
        for (int64_t i = 0; i < N; i++) {
            const struct nsid__sim_neuron *n = &g->neurons[i];
            px[i * 2] = n->rf[0];
            px[i * 2 + 1] = n->rf[1];
            /* Core output pixel j sees image pixels j..j+14 (centre j+7); align_corners=True. */
            grid[i * 2] = 2.0 * (n->rf[0] - 7.0) / (gw - 1.0) - 1.0;
            grid[i * 2 + 1] = 2.0 * (n->rf[1] - 7.0) / (gh - 1.0) - 1.0;
            type[i] = n->type;
            scale[i] = n->scale;
            pool[i] = n->pool;
            for (int k = 0; k < n->nw; k++) w[i * NSID_SIM_CHANNELS + nsid__sim_neuron_channel(n, k)] = n->w[k];
        }
        if ((rc = add_2d(&s->ground_truth, "rf_center_px", NSID_DT_F64, N, 2, 8, px, err)) == 0 &&
            (rc = add_2d(&s->ground_truth, "rf_center_grid", NSID_DT_F64, N, 2, 8, grid, err)) == 0 &&
            (rc = add_1d(&s->ground_truth, "cell_type", NSID_DT_I32, N, 4, type, err)) == 0 &&
            (rc = add_1d(&s->ground_truth, "preferred_scale", NSID_DT_I32, N, 4, scale, err)) == 0 &&
            (rc = add_1d(&s->ground_truth, "pool_index", NSID_DT_I64, N, 8, pool, err)) == 0 &&
            (rc = add_2d(&s->ground_truth, "feature_weights", NSID_DT_F32, N, NSID_SIM_CHANNELS, 4, w, err)) == 0) {
            for (int64_t i = 0; i < N; i++)
                for (int k = 0; k < 3; k++) px[i * 3 + k] = g->neurons[i].cortex[k];
            rc = add_2d(&s->ground_truth, "cortex_um", NSID_DT_F64, N, 3, 8, px, err);
        }
        for (size_t f = 0; f < sizeof NEURON_FIELDS / sizeof NEURON_FIELDS[0] && rc == 0; f++)
            rc = add_neuron_field(s, g, NEURON_FIELDS[f].name, NEURON_FIELDS[f].offset, px, err);
    }
    nsid_alloc_free(px);
    nsid_alloc_free(grid);
    nsid_alloc_free(type);
    nsid_alloc_free(scale);
    nsid_alloc_free(pool);
    nsid_alloc_free(w);
    return rc;
}

/* Animal, bank, noise and per-trial truth (rates, eye shift, behaviour). */
static int fill_truth_scan(struct nsid_scan *s, struct gen *g, struct nsid_err *err)
{
    double bank[2][NSID_SIM_SCALES];
    for (int k = 0; k < NSID_SIM_SCALES; k++) {
        bank[0][k] = (double)g->bank.sigma_px[k];
        bank[1][k] = 4.0 * (double)(1 << k);
    }
    uint64_t seed = g->cfg->seed;
    int rc;
    if ((rc = add_2d(&s->ground_truth, "retinotopy_matrix", NSID_DT_F64, 2, 2, 8, g->animal.A, err)) == 0 &&
        (rc = add_1d(&s->ground_truth, "retinotopy_offset", NSID_DT_F64, 2, 8, g->animal.b, err)) == 0 &&
        (rc = add_scalar(&s->ground_truth, "retinotopy_scatter_px", g->animal.scatter_px, err)) == 0 &&
        (rc = add_scalar(&s->ground_truth, "noise_overdispersion", g->cfg->overdispersion, err)) == 0 &&
        (rc = add_scalar(&s->ground_truth, "noise_amplitude_shape", g->cfg->amplitude_shape, err)) == 0 &&
        (rc = add_array(&s->ground_truth, "seed", NSID_DT_U64, 0, NULL, 8, &seed, err)) == 0 &&
        (rc = add_scalar(&s->ground_truth, "image_set", (double)g->image_set, err)) == 0 &&
        (rc = add_1d(&s->ground_truth, "bank_sigma_px", NSID_DT_F64, NSID_SIM_SCALES, 8, bank[0], err)) == 0 &&
        (rc = add_1d(&s->ground_truth, "bank_wavelength_px", NSID_DT_F64, NSID_SIM_SCALES, 8, bank[1], err)) == 0 &&
        (rc = add_strings(&s->ground_truth, "feature_names", NSID_SIM_CHANNELS, 32, channel_str, NULL, err)) == 0 &&
        (rc = add_strings(&s->ground_truth, "cell_type_names", NSID_SIM_CELL_COUNT, 8, type_str, NULL, err)) == 0 &&
        (rc = add_2d(&s->ground_truth, "eye_shift_px", NSID_DT_F64, g->T, 2, 8, g->shift, err)) == 0 &&
        (rc = add_2d(&s->ground_truth, "behavior_z", NSID_DT_F64, g->T, 2, 8, g->bz, err)) == 0) {
        /* The biggest array: handed over, not copied. */
        struct nsid_array a;
        memset(&a, 0, sizeof a);
        snprintf(a.name, sizeof a.name, "rates");
        a.dtype = NSID_DT_F32;
        a.ndim = 2;
        a.shape[0] = g->T;
        a.shape[1] = g->N;
        a.itemsize = 4;
        a.data = g->rates;
        g->rates = NULL;
        rc = nsid_scan_arrays_take(&s->ground_truth, &a, err);
    }
    return rc;
}

/* Move the big arrays into the scan and fill every metadata list. */
static int fill_scan(struct nsid_scan *s, struct gen *g, struct nsid_err *err)
{
    char file[128];
    nsid_sim_scan_filename(g->scan, file, sizeof file);
    nsid_scan_data_key(file, s->data_key, sizeof s->data_key);
    s->n_trials = g->T;
    s->n_neurons = g->N;
    s->channels = 1;
    s->height = g->cfg->height;
    s->width = g->cfg->width;
    int rc;
    if ((rc = fill_trials(s, g, err)) < 0 || (rc = fill_neurons(s, g, err)) < 0 ||
        (rc = fill_stats(s, g, err)) < 0 || (rc = fill_truth_neurons(s, g, err)) < 0 ||
        (rc = fill_truth_scan(s, g, err)) < 0)
        return rc;
    s->images = g->images;
    s->responses = g->responses;
    s->behavior = g->behavior;
    s->pupil_center = g->pupil;
    g->images = g->responses = g->behavior = g->pupil = NULL;
    s->images_dtype = NSID_DT_U8; /* integer grey levels, stored as uint8 like the photographs */
    /* A self-check: the scan passes the loaders' validation (shapes, tiers, finiteness). */
    struct nsid_scan_opts opt;
    memset(&opt, 0, sizeof opt);
    return nsid_scan_validate(s, &opt, err);
}

/* ---- the scan ----------------------------------------------------------------------------- */

/* Resolve scan i's sizes and image set, set up the bank and the animal, allocate. */
static int gen_setup(struct gen *g, const struct nsid_sim_config *cfg, int i, struct nsid_err *err)
{
    memset(g, 0, sizeof *g);
    g->cfg = cfg;
    g->def = nsid_sim_scan_def(i);
    if (!g->def)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "scan", "scan index %d not in [0, %d)", i, nsid_sim_n_scans());
    g->scan = i;
    g->image_set = nsid_sim_scan_image_set(cfg, i);
    g->sz = cfg->sizes[g->def->role];
    g->U = g->sz.train_images + g->sz.validation_images + g->sz.test_images;
    g->T = g->sz.train_images + g->sz.validation_images + g->sz.test_images * g->sz.test_repeats;
    g->N = g->sz.neurons;
    g->hw = cfg->height * cfg->width;
    int rc = nsid_pool_init(&g->tp, cfg->threads > 0 ? cfg->threads : nsid_pool_default_threads(), err);
    if (rc < 0) return rc;
    g->threads = nsid_pool_threads(&g->tp);
    rc = nsid_sim_bank_init(&g->bank, cfg->height, cfg->width, err);
    if (rc < 0) return rc;
    nsid__sim_animal_draw(&g->animal, cfg, g->def->animal);
    return gen_alloc(g, err);
}

int nsid_simulate_scan_generate(struct nsid_scan *out, const struct nsid_sim_config *cfg, int i,
                           struct nsid_err *err)
{
    nsid_scan_init(out);
    int rc = nsid_sim_config_check(cfg, err);
    if (rc < 0) return rc;
    struct gen g;
    rc = gen_setup(&g, cfg, i, err);
    if (rc == 0) rc = plan_neurons(&g, err);
    if (rc == 0) rc = plan_trials(&g, err);
    if (rc == 0) {
        plan_behavior(&g);
        nsid_pool_each(&g.tp, g.N, task_neuron, &g);
        nsid_pool_each(&g.tp, cfg->calibration_images, task_calib_image, &g);
        nsid_pool_each(&g.tp, g.N, task_calibrate, &g);
        rc = plan_order(&g, err);
    }
    if (rc == 0) {
        nsid_pool_each(&g.tp, g.U, task_image, &g);
        rc = fill_scan(out, &g, err);
    }
    gen_free(&g);
    if (rc < 0) nsid_scan_free(out);
    return rc;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* Monotonic clock, s. */
static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int nsid_simulate_write(const struct nsid_sim_config *cfg, const char *dir, FILE *log, struct nsid_err *err)
{
    int rc = nsid_sim_config_check(cfg, err);
    if (rc < 0 || (rc = nsid_path_mkdirs(dir, NULL, err)) < 0) return rc;
    struct nsid_save_opts opt = {.gzip = cfg->gzip, .overwrite = true};
    for (int i = 0; i < nsid_sim_n_scans(); i++) {
        if (!nsid_sim_scan_selected(cfg, i)) continue;
        char file[128], path[NSID_PATH_MAX];
        nsid_sim_scan_output_name(cfg, i, file, sizeof file);
        if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
            return nsid_err_set(err, NSID_EINVAL, dir, 0, NULL, "path too long");
        struct nsid_scan s;
        double t0 = seconds();
        if ((rc = nsid_simulate_scan_generate(&s, cfg, i, err)) < 0) return rc;
        double t1 = seconds();
        rc = nsid_scan_save(&s, path, &opt, err);
        double t2 = seconds();
        if (log && rc == 0)
            fprintf(log, "%s: %lld trials x %lld neurons, generated in %.2f s, written in %.2f s\n", path,
                    (long long)s.n_trials, (long long)s.n_neurons, t1 - t0, t2 - t1);
        nsid_scan_free(&s);
        if (rc < 0) return rc;
    }
    char path[NSID_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/groups.json", dir) >= (int)sizeof path)
        return nsid_err_set(err, NSID_EINVAL, dir, 0, NULL, "path too long");
    return nsid_simulate_write_groups(cfg, path, err);
}

/* True if every scan of group g is selected (written). */
static bool group_complete(const struct nsid_sim_config *cfg, int g)
{
    const struct nsid_sim_group_def *d = nsid_sim_group_def(g);
    for (int k = 0; k < d->n; k++)
        if (!nsid_sim_scan_selected(cfg, d->scans[k])) return false;
    return true;
}

/* s as a JSON string (base/json's escaper); every string of groups.json is a name or label under 128 bytes. */
static void json_str(FILE *f, const char *s)
{
    char q[6 * NSID_KEY_MAX + 3];
    size_t k = nsid_json_quote(s, q, sizeof q);
    fwrite(q, 1, k < sizeof q ? k : sizeof q - 1, f);
}

/* The "scans" list of groups.json: every written scan with its sizes. */
static void json_scans(const struct nsid_sim_config *cfg, FILE *f)
{
    static const char *const roles[NSID_SIM_ROLE_COUNT] = {"4s", "11s", "1s", "eval"};
    int first = 1;
    fprintf(f, "  \"scans\": [");
    for (int i = 0; i < nsid_sim_n_scans(); i++) {
        if (!nsid_sim_scan_selected(cfg, i)) continue;
        const struct nsid_sim_scan_def *d = nsid_sim_scan_def(i);
        const struct nsid_sim_sizes *z = &cfg->sizes[d->role];
        char file[128], key[NSID_KEY_MAX];
        nsid_sim_scan_output_name(cfg, i, file, sizeof file);
        nsid_scan_data_key(file, key, sizeof key);
        long long trials = (long long)(z->train_images + z->validation_images + z->test_images * z->test_repeats);
        fprintf(f, "%s\n    {\"file\": ", first ? "" : ",");
        json_str(f, file);
        fprintf(f, ", \"data_key\": ");
        json_str(f, key);
        fprintf(f, ", \"animal\": %lld, \"session\": %lld, \"scan\": %lld, \"role\": ", (long long)d->animal,
                (long long)d->session, (long long)d->scan);
        json_str(f, roles[d->role]);
        fprintf(f, ", \"image_set\": %d, \"neurons\": %lld, \"matched\": %lld, "
                "\"train_images\": %lld, \"validation_images\": %lld, \"test_images\": %lld, "
                "\"test_repeats\": %lld, \"trials\": %lld}",
                nsid_sim_scan_image_set(cfg, i), (long long)z->neurons, (long long)z->matched,
                (long long)z->train_images, (long long)z->validation_images, (long long)z->test_images,
                (long long)z->test_repeats, trials);
        first = 0;
    }
    fprintf(f, "\n  ],\n");
}

/* The "groups" object of groups.json: every complete group -> its files. */
static void json_groups(const struct nsid_sim_config *cfg, FILE *f)
{
    int first = 1;
    fprintf(f, "  \"groups\": {");
    for (int g = 0; g < nsid_sim_n_groups(); g++) {
        if (!group_complete(cfg, g)) continue;
        const struct nsid_sim_group_def *d = nsid_sim_group_def(g);
        fprintf(f, "%s\n    ", first ? "" : ",");
        json_str(f, d->name);
        fprintf(f, ": {\"label\": ");
        json_str(f, d->label);
        fprintf(f, ", \"files\": [");
        for (int k = 0; k < d->n; k++) {
            char file[128];
            nsid_sim_scan_output_name(cfg, d->scans[k], file, sizeof file);
            fprintf(f, "%s", k ? ", " : "");
            json_str(f, file);
        }
        fprintf(f, "]}");
        first = 0;
    }
    fprintf(f, "\n  },\n");
}

int nsid_simulate_write_groups(const struct nsid_sim_config *cfg, const char *path, struct nsid_err *err)
{
    char tmp[NSID_PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return nsid_err_set(err, NSID_EINVAL, path, 0, NULL, "path too long");
    FILE *f = fopen(tmp, "w");
    if (!f) return nsid_err_set(err, NSID_EIO, tmp, 0, NULL, "cannot open for writing: %s", strerror(errno));
    fprintf(f, "{\n  \"generator\": \"nsid-simulate\",\n  \"profile\": ");
    json_str(f, cfg->profile);
    fprintf(f, ",\n  \"seed\": %llu,\n  \"image_sets\": \"%s\",\n  \"format\": \"%s\",\n", (unsigned long long)cfg->seed,
            cfg->image_sets == NSID_SIM_IMAGES_PAPER ? "paper" : "own", cfg->format == NSID_SIM_FORMAT_TREE ? "tree" : "h5");
    json_scans(cfg, f);
    json_groups(cfg, f);
    fprintf(f, "  \"config\": ");
    nsid__sim_config_json(cfg, f, "  ");
    fprintf(f, "\n}\n");
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        remove(tmp);
        return nsid_err_set(err, NSID_EIO, tmp, 0, NULL, "write failed");
    }
    if (rename(tmp, path) < 0) {
        remove(tmp);
        return nsid_err_set(err, NSID_EIO, path, 0, NULL, "cannot rename %s: %s", tmp, strerror(errno));
    }
    return 0;
}
