/* eval.c - predictions and the measures of docs/paper.md §6 for a network on its scans (see eval.h). */
#include "eval.h"

#include <hdf5.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/h5util.h"
#include "exp/store.h"

#define DNAN ((double)NAN)

/* ---------------------------------------------------------------- setup */

/*
 * The test tier of view s grouped by repeated image (nsid_repeats), in position order (file order):
 *   test_group[i]  the repeat-group key of position i (the metrics' grouping);
 *   test_first[i]  the first position showing the image of position i: the same group and the same
 *                  pixels (a file may give two different images one frame_image_id); i itself if none;
 *   test_unique / test_upos: the scan trials and positions that are their own first, file order;
 *   test_n_groups: the distinct groups (images) of the tier.
 */
static int test_groups(struct nsid_evaluator *ev, int s, struct nsid_err *err)
{
    const struct nsid_view *v = &ev->views[s];
    const struct nsid_scan *sc = v->scan;
    int64_t T = v->n_tier[NSID_TIER_TEST], n1 = T ? T : 1;
    const int64_t *tr = v->tier[NSID_TIER_TEST];
    size_t P = (size_t)sc->channels * (size_t)sc->height * (size_t)sc->width;
    int64_t *group = ev->test_group[s] = NSID_ALLOC((size_t)n1 * sizeof(int64_t), err);
    int64_t *first = ev->test_first[s] = NSID_ALLOC((size_t)n1 * sizeof(int64_t), err);
    int64_t *uniq = ev->test_unique[s] = NSID_ALLOC((size_t)n1 * sizeof(int64_t), err);
    int64_t *upos = ev->test_upos[s] = NSID_ALLOC((size_t)n1 * sizeof(int64_t), err);
    int64_t *pos = NSID_ALLOC((size_t)sc->n_trials * sizeof(int64_t), err); /* scan trial -> position */
    int rc = group && first && uniq && upos && pos ? 0 : NSID_ENOMEM;
    struct nsid_repeats r = {0};
    if (!rc && T) rc = nsid_batch_repeats_init(&r, sc, NSID_TIER_TEST, err);
    if (rc < 0) {
        nsid_alloc_free(pos);
        return rc;
    }
    for (int64_t t = 0; t < sc->n_trials; t++) pos[t] = -1;
    for (int64_t i = 0; i < T; i++) {
        pos[tr[i]] = i;
        group[i] = -1;
        first[i] = i;
    }
    int64_t n_groups = 0;
    for (int64_t g = 0; g < r.n_groups; g++) {
        bool any = false;
        for (int64_t m = r.start[g]; m < r.start[g + 1]; m++) { /* members in file order */
            int64_t i = pos[r.trials[m]];
            if (i < 0) continue;
            any = true;
            group[i] = r.key[g];
            for (int64_t q = r.start[g]; q < m; q++) {
                int64_t j = pos[r.trials[q]];
                if (j >= 0 && first[j] == j &&
                    memcmp(sc->images + (size_t)tr[j] * P, sc->images + (size_t)tr[i] * P, P * sizeof(float)) == 0) {
                    first[i] = j;
                    break;
                }
            }
        }
        n_groups += any;
    }
    nsid_batch_repeats_free(&r);
    nsid_alloc_free(pos);
    int64_t u = 0;
    for (int64_t i = 0; i < T; i++)
        if (first[i] == i) {
            uniq[u] = tr[i];
            upos[u++] = i;
        }
    ev->test_n_unique[s] = u;
    ev->test_n_groups[s] = n_groups;
    return 0;
}

int nsid_evaluator_init(struct nsid_evaluator *ev, const struct nsid_view *views, int n_scans, int batch,
                        struct nsid_err *err)
{
    memset(ev, 0, sizeof *ev);
    ev->n_scans = n_scans;
    ev->views = views;
    ev->batch = batch;
    size_t tn = 1, nmax = 1, pix = 1;
    for (int s = 0; s < n_scans; s++) {
        const struct nsid_view *v = &views[s];
        for (int t = 0; t < NSID_TIER_COUNT; t++) {
            size_t x = (size_t)v->n_tier[t] * (size_t)v->n_neurons;
            if (t != NSID_TIER_TRAIN && x > tn) tn = x;
        }
        if ((size_t)v->n_neurons > nmax) nmax = (size_t)v->n_neurons;
        size_t p = (size_t)v->scan->channels * (size_t)v->scan->height * (size_t)v->scan->width;
        if (p > pix) pix = p;
    }
    ev->pred = NSID_ALLOC(tn * sizeof(float), err);
    ev->target = NSID_ALLOC(tn * sizeof(float), err);
    ev->img = NSID_ALLOC((size_t)batch * pix * sizeof(float), err);
    ev->resp = NSID_ALLOC((size_t)batch * nmax * sizeof(float), err);
    ev->beh = NSID_ALLOC((size_t)batch * 3 * sizeof(float), err);
    ev->pupil = NSID_ALLOC((size_t)batch * 2 * sizeof(float), err);
    ev->corr = NSID_ALLOC(nmax * sizeof(double), err);
    ev->test_group = NSID_CALLOC((size_t)n_scans * sizeof *ev->test_group, err);
    ev->test_first = NSID_CALLOC((size_t)n_scans * sizeof *ev->test_first, err);
    ev->test_unique = NSID_CALLOC((size_t)n_scans * sizeof *ev->test_unique, err);
    ev->test_upos = NSID_CALLOC((size_t)n_scans * sizeof *ev->test_upos, err);
    ev->test_n_unique = NSID_CALLOC((size_t)n_scans * sizeof *ev->test_n_unique, err);
    ev->test_n_groups = NSID_CALLOC((size_t)n_scans * sizeof *ev->test_n_groups, err);
    int rc = ev->pred && ev->target && ev->img && ev->resp && ev->beh && ev->pupil && ev->corr && ev->test_group &&
                     ev->test_first && ev->test_unique && ev->test_upos && ev->test_n_unique && ev->test_n_groups
                 ? 0
                 : NSID_ENOMEM;
    for (int s = 0; rc == 0 && s < n_scans; s++) rc = test_groups(ev, s, err);
    if (rc < 0) nsid_evaluator_free(ev);
    return rc;
}

void nsid_evaluator_free(struct nsid_evaluator *ev)
{
    if (!ev) return;
    for (int s = 0; s < ev->n_scans; s++) {
        if (ev->test_group) nsid_alloc_free(ev->test_group[s]);
        if (ev->test_first) nsid_alloc_free(ev->test_first[s]);
        if (ev->test_unique) nsid_alloc_free(ev->test_unique[s]);
        if (ev->test_upos) nsid_alloc_free(ev->test_upos[s]);
    }
    nsid_alloc_free(ev->test_group);
    nsid_alloc_free(ev->test_first);
    nsid_alloc_free(ev->test_unique);
    nsid_alloc_free(ev->test_upos);
    nsid_alloc_free(ev->test_n_unique);
    nsid_alloc_free(ev->test_n_groups);
    nsid_alloc_free(ev->pred);
    nsid_alloc_free(ev->target);
    nsid_alloc_free(ev->img);
    nsid_alloc_free(ev->resp);
    nsid_alloc_free(ev->beh);
    nsid_alloc_free(ev->pupil);
    nsid_alloc_free(ev->corr);
    memset(ev, 0, sizeof *ev);
}

/* ---------------------------------------------------------------- predictions */

int64_t nsid_eval_predict_tier(struct nsid_evaluator *ev, struct nsid_model *net, int s, int tier)
{
    const struct nsid_view *v = &ev->views[s];
    size_t N = (size_t)v->n_neurons;
    int64_t nb = nsid_batch_view_batches(v, tier, ev->batch), row = 0;
    float *beh = v->scan->behavior ? ev->beh : NULL, *pupil = v->scan->pupil_center ? ev->pupil : NULL;
    /* an image-only model predicts each distinct test image once (below) */
    bool once = tier == NSID_TIER_TEST && !ev->every_trial && !nsid_model_per_trial(net) &&
                ev->test_n_unique[s] < v->n_tier[tier];
    for (int64_t b = 0; b < nb; b++) {
        const int64_t *trials;
        int64_t n = nsid_batch_view_one(v, tier, b, ev->batch, &trials);
        struct nsid_batch bt = {.scan = s, .images = once ? NULL : ev->img, .responses = ev->resp,
                                .behavior = once ? NULL : beh, .pupil_center = once ? NULL : pupil};
        nsid_batch_view_gather(v, trials, n, &bt); /* once: only the targets here */
        memcpy(ev->target + (size_t)row * N, ev->resp, (size_t)n * N * sizeof(float));
        if (!once) {
            nsid_model_set_trials(net, trials);
            struct nsid_model_batch mb = {.scan = s, .B = (int)n, .images = ev->img, .responses = ev->resp,
                                          .pupil = pupil, .behavior = beh};
            nsid_model_predict(net, &mb);
            memcpy(ev->pred + (size_t)row * N, net->out, (size_t)n * N * sizeof(float));
        }
        row += n;
    }
    if (!once) return row;
    const int64_t U = ev->test_n_unique[s], *upos = ev->test_upos[s], *first = ev->test_first[s];
    for (int64_t u0 = 0; u0 < U; u0 += ev->batch) {
        int64_t n = U - u0 < ev->batch ? U - u0 : ev->batch;
        const int64_t *trials = ev->test_unique[s] + u0;
        struct nsid_batch bt = {.scan = s, .images = ev->img};
        nsid_batch_view_gather(v, trials, n, &bt);
        nsid_model_set_trials(net, trials);
        struct nsid_model_batch mb = {.scan = s, .B = (int)n, .images = ev->img};
        nsid_model_predict(net, &mb);
        const float *out = net->out;
        for (int64_t j = 0; j < n; j++)
            memcpy(ev->pred + (size_t)upos[u0 + j] * N, out + (size_t)j * N, N * sizeof(float));
    }
    for (int64_t i = 0; i < row; i++) /* firsts come before their repeats */
        if (first[i] != i) memcpy(ev->pred + (size_t)i * N, ev->pred + (size_t)first[i] * N, N * sizeof(float));
    return row;
}

/* Mean of the defined (not NaN) values of x (n), NaN when there are none; *n_out (if not NULL)
 * gets the number of undefined values left out. */
static double mean(const double *x, int64_t n, int64_t *n_out)
{
    double m;
    int64_t c;
    nsid_metrics_mean_defined(&m, &c, x, n);
    if (n_out) *n_out = n - c;
    return m;
}

/* ---------------------------------------------------------------- undefined measures */

static const char *const EM_SPLIT[NSID_EM_COUNT] = {"validation", "test", "test", "test", "test", "test", "test", "test"};
static const char *const EM_NAME[NSID_EM_COUNT] = {"corr", "corr", "corr_avg", "oracle", "fraction_oracle",
                                                   "fev", "feve", "gt_corr"};
static const char *const EM_UNDEF[NSID_EM_COUNT] = {"corr_undefined", "corr_undefined", "corr_avg_undefined",
                                                    "oracle_undefined", "fraction_oracle_undefined",
                                                    "fev_undefined", "feve_undefined", "gt_corr_undefined"};
static const char *const EM_NOUT[NSID_EM_COUNT] = {"corr_n_undefined", "corr_n_undefined", "corr_avg_n_undefined",
                                                   "oracle_n_undefined", "fraction_oracle_n_undefined",
                                                   "fev_n_undefined", "feve_n_undefined", "gt_corr_n_undefined"};

const char *nsid_eval_measure_split(int m) { return m >= 0 && m < NSID_EM_COUNT ? EM_SPLIT[m] : ""; }
const char *nsid_eval_measure_name(int m) { return m >= 0 && m < NSID_EM_COUNT ? EM_NAME[m] : ""; }

const char *nsid_eval_undef_reason(int why)
{
    switch (why) {
#define X(code, text) case code: return text;
        NSID_UNDEF_REASONS(X)
#undef X
    default: return "";
    }
}

/* Why each neuron of a tier (T, N) may have an undefined correlation, the first that applies: a
 * response that is not finite, constant responses, constant (or non-finite) predictions. */
static void classify(struct nsid_eval_undef *u, int tier, const float *target, const float *pred, int64_t T,
                     int64_t N)
{
    u->nonfinite[tier] = u->const_resp[tier] = u->const_pred[tier] = 0;
    for (int64_t n = 0; n < N; n++) {
        bool fin = true, cr = true, cp = true, pnf = false;
        for (int64_t t = 0; t < T; t++) {
            float y = target[t * N + n], p = pred[t * N + n];
            if (!isfinite(y)) fin = false;
            if (y != target[n]) cr = false;
            if (!isfinite(p)) pnf = true;
            if (p != pred[n]) cp = false;
        }
        if (!fin) u->nonfinite[tier]++;
        else if (cr) u->const_resp[tier]++;
        else if (cp || pnf) u->const_pred[tier]++;
    }
}

/* The reason code of a correlation summary over a tier of T samples that came out undefined. */
static int corr_why(double m, int64_t T)
{
    if (!isnan(m)) return 0;
    return T < 2 ? 2 : 3;
}

double nsid_eval_val_score(struct nsid_evaluator *ev, struct nsid_model *net, double *per_scan)
{
    double sum = 0.0;
    int64_t count = 0;
    for (int s = 0; s < ev->n_scans; s++) {
        int64_t T = nsid_eval_predict_tier(ev, net, s, NSID_TIER_VALIDATION);
        int64_t N = ev->views[s].n_neurons;
        struct nsid_metric_data d = {.target = ev->target, .pred = ev->pred, .n_trials = T, .n_neurons = N};
        struct nsid_err empty = {0};
        if (nsid_metrics_corr(ev->corr, &d, &empty) < 0) { /* only on an empty tier: score undefined */
            if (per_scan) per_scan[s] = DNAN;
            return DNAN;
        }
        double ssum = 0.0; /* undefined neurons (NaN) are left out, as in the recorded score */
        int64_t c = 0;
        for (int64_t n = 0; n < N; n++)
            if (!isnan(ev->corr[n])) {
                ssum += ev->corr[n];
                c++;
            }
        if (per_scan) per_scan[s] = c ? ssum / (double)c : DNAN;
        sum += ssum;
        count += c;
    }
    return count ? sum / (double)count : DNAN;
}

/* ---------------------------------------------------------------- full evaluation */

/* A ground-truth array of the scan, or NULL; a wrong shape is an error naming it. */
static int gt_array(const struct nsid_scan *sc, const char *name, int64_t rows, int64_t cols,
                    const struct nsid_array **out, struct nsid_err *err)
{
    *out = NULL;
    const struct nsid_array *a = nsid_scan_arrays_find(&sc->ground_truth, name);
    if (!a) return 0;
    bool num = a->dtype == NSID_DT_F32 || a->dtype == NSID_DT_F64;
    if (!num || a->ndim != 2 || a->shape[0] != rows || a->shape[1] != cols)
        return nsid_err_set(err, NSID_EFORMAT, sc->path, 0, name,
                            "ground truth of shape (%lld,%lld) %s expected, found %d dims (%lld,%lld) %s",
                            (long long)rows, (long long)cols, "float", a->ndim, (long long)a->shape[0],
                            (long long)(a->ndim > 1 ? a->shape[1] : 0), nsid_scan_dtype_name(a->dtype));
    *out = a;
    return 0;
}

/* Neuron j of the view -> neuron of the scan. */
static int64_t scan_neuron(const struct nsid_view *v, int64_t j)
{
    return v->neurons ? v->neurons[j] : j;
}

/* Correlation of the test predictions with the true rates (ground_truth/rates). */
static int eval_gt_rates(struct nsid_evaluator *ev, const struct nsid_view *v, struct nsid_eval_scan *r,
                         struct nsid_err *err)
{
    const struct nsid_scan *sc = v->scan;
    const struct nsid_array *a;
    int rc = gt_array(sc, "rates", sc->n_trials, sc->n_neurons, &a, err);
    if (rc < 0 || !a) return rc;
    int64_t T = r->n_test, N = r->n_neurons;
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < N; j++)
            ev->target[i * N + j] =
                (float)nsid_scan_array_get_f64(a, (size_t)(v->tier[NSID_TIER_TEST][i] * sc->n_neurons + scan_neuron(v, j)));
    struct nsid_metric_data d = {.target = ev->target, .pred = r->test_pred, .n_trials = T, .n_neurons = N};
    if (!(r->gt_corr = NSID_ALLOC((size_t)N * sizeof(double), err))) return NSID_ENOMEM;
    rc = nsid_metrics_corr(r->gt_corr, &d, err);
    if (rc == 0) {
        r->has_gt = true;
        r->mean_gt = mean(r->gt_corr, N, &r->undef.n_out[NSID_EM_GT]);
        r->undef.why[NSID_EM_GT] = corr_why(r->mean_gt, T);
    }
    return rc;
}

/* The readout positions against the true RF centres (ground_truth/rf_center_px): without a
 * fit on the image in pixels, the ceiling cortical coordinates allow, and after an affine fit. */
static int eval_gt_rf(struct nsid_model *net, int s, const struct nsid_view *v, struct nsid_eval_scan *r,
                      struct nsid_err *err)
{
    const struct nsid_scan *sc = v->scan;
    const struct nsid_array *a;
    int rc = gt_array(sc, "rf_center_px", sc->n_neurons, 2, &a, err);
    struct nsid_readout *ro = &net->ro[s];
    if (rc < 0 || !a || ro->kind == NSID_READOUT_FACTORIZED) return rc;
    int64_t N = r->n_neurons;
    float *pos = NSID_ALLOC((size_t)N * 2 * sizeof *pos, err);
    double *learned = NSID_ALLOC((size_t)N * 2 * sizeof *learned, err);
    r->true_xy = NSID_ALLOC((size_t)N * 2 * sizeof(double), err);
    r->rf_xy = NSID_ALLOC((size_t)N * 2 * sizeof(double), err);
    r->rf_dist = NSID_ALLOC((size_t)N * sizeof(double), err);
    rc = pos && learned && r->true_xy && r->rf_xy && r->rf_dist ? 0 : NSID_ENOMEM;
    if (rc == 0) rc = nsid_readout_positions(ro, pos, err);
    for (int64_t j = 0; rc == 0 && j < N; j++)
        for (int k = 0; k < 2; k++) {
            learned[j * 2 + k] = pos[j * 2 + k];
            r->true_xy[j * 2 + k] = nsid_scan_array_get_f64(a, (size_t)(scan_neuron(v, j) * 2 + k));
        }
    /* Without a fit: a stride-1 core whose output is the input cropped by a valid first
     * convolution (SE2d: 36x64 -> 22x50) puts output column j over image column j + (64-50)/2,
     * and grid_sample (align_corners=True) puts -1 and 1 on the first and last columns. Other
     * cores (VGG16's pooled maps) have no such map: no direct measure for them. */
    int dx = sc->width - ro->W, dy = sc->height - ro->H;
    if (rc == 0 && N >= 2 && ro->W > 1 && ro->H > 1 && dx >= 0 && dx == dy && dx % 2 == 0) {
        double *px = NSID_ALLOC((size_t)N * 2 * sizeof *px, err);
        if (!px) rc = NSID_ENOMEM;
        for (int64_t j = 0; rc == 0 && j < N; j++) {
            px[j * 2] = 0.5 * dx + 0.5 * (learned[j * 2] + 1.0) * (ro->W - 1);
            px[j * 2 + 1] = 0.5 * dy + 0.5 * (learned[j * 2 + 1] + 1.0) * (ro->H - 1);
        }
        if (rc == 0) {
            nsid_metrics_rf_direct(r->rf_px_corr, &r->rf_px_dist, px, r->true_xy, N);
            r->has_rf_px = true;
        }
        nsid_alloc_free(px);
    }
    /* The ceiling: the true centres scatter around the retinotopic map, which no position
     * predicted from cortical coordinates can know; the affine fit of the truth from cortical
     * x, y says how close such a position can get (the simulator's retinotopy is affine). */
    if (rc == 0 && N >= 3 && sc->cell_motor_coordinates) {
        double *cx = NSID_ALLOC((size_t)N * 2 * sizeof *cx, err);
        if (!cx) rc = NSID_ENOMEM;
        for (int64_t j = 0; rc == 0 && j < N; j++)
            for (int k = 0; k < 2; k++) cx[j * 2 + k] = sc->cell_motor_coordinates[scan_neuron(v, j) * 3 + k];
        struct nsid_rf_fit best;
        struct nsid_err collinear = {0}; /* no ceiling where the coordinates are collinear */
        if (rc == 0 && nsid_metrics_rf_fit(&best, NULL, cx, r->true_xy, N, &collinear) == 0) {
            r->rf_ceil_corr[0] = best.corr[0];
            r->rf_ceil_corr[1] = best.corr[1];
            r->has_rf_ceil = true;
        }
        nsid_alloc_free(cx);
    }
    if (rc == 0 && N >= 3) {
        rc = nsid_metrics_rf_fit(&r->rf, r->rf_dist, learned, r->true_xy, N, err);
        if (rc == NSID_EINVAL) { /* positions on one line: the map is undetermined, no RF measure */
            nsid_err_clear(err);
            rc = 0;
        }
        else if (rc == 0) {
            for (int64_t j = 0; j < N; j++)
                for (int k = 0; k < 2; k++)
                    r->rf_xy[j * 2 + k] =
                        r->rf.A[k][0] * learned[j * 2] + r->rf.A[k][1] * learned[j * 2 + 1] + r->rf.b[k];
            r->has_rf = true;
        }
    }
    nsid_alloc_free(pos);
    nsid_alloc_free(learned);
    return rc;
}

/*
 * The grand-average FEVE keeps only neurons whose explainable variance is at
 * least 15 % of their total variance (the exclusion of Cadena et al. 2019):
 * FEVE divides by TotalVar - NoiseVar, so a neuron with almost no explainable
 * variance gives an arbitrarily large negative FEVE that would swamp the mean
 * (seen: -8e13 on a smoke scan). Per-neuron FEVE is still stored for all.
 */
#define FEVE_MIN_FEV 0.15

/* Test-tier measures of scan s: correlations, oracle, FEV/FEVE, fraction oracle. */
static int eval_test(struct nsid_evaluator *ev, struct nsid_model *net, int s, struct nsid_eval_scan *r,
                     struct nsid_err *err)
{
    const struct nsid_view *v = &ev->views[s];
    int64_t T = nsid_eval_predict_tier(ev, net, s, NSID_TIER_TEST), N = r->n_neurons;
    size_t tn = (size_t)T * (size_t)N;
    r->n_test = T;
    r->test_pred = NSID_ALLOC((tn ? tn : 1) * sizeof(float), err);
    r->test_resp = NSID_ALLOC((tn ? tn : 1) * sizeof(float), err);
    r->test_trials = NSID_ALLOC((size_t)(T ? T : 1) * sizeof(int64_t), err);
    r->test_corr = NSID_ALLOC((size_t)N * sizeof(double), err);
    r->test_corr_avg = NSID_ALLOC((size_t)N * sizeof(double), err);
    r->oracle = NSID_ALLOC((size_t)N * sizeof(double), err);
    r->fev = NSID_ALLOC((size_t)N * sizeof(double), err);
    r->feve = NSID_ALLOC((size_t)N * sizeof(double), err);
    if (!r->test_pred || !r->test_resp || !r->test_trials || !r->test_corr || !r->test_corr_avg || !r->oracle ||
        !r->fev || !r->feve)
        return NSID_ENOMEM;
    memcpy(r->test_pred, ev->pred, tn * sizeof(float));
    memcpy(r->test_resp, ev->target, tn * sizeof(float));
    memcpy(r->test_trials, v->tier[NSID_TIER_TEST], (size_t)T * sizeof(int64_t));
    r->n_images = ev->test_n_groups[s];
    struct nsid_metric_data d = {.target = r->test_resp, .pred = r->test_pred, .group = ev->test_group[s],
                                 .n_trials = T, .n_neurons = N};
    int rc = nsid_metrics_corr(r->test_corr, &d, err);
    if (rc == 0) rc = nsid_metrics_corr_avg(r->test_corr_avg, &d, err);
    if (rc < 0) return rc;
    struct nsid_eval_undef *u = &r->undef;
    classify(u, 1, r->test_resp, r->test_pred, T, N);
    r->mean_test = mean(r->test_corr, N, &u->n_out[NSID_EM_TEST]);
    r->mean_test_avg = mean(r->test_corr_avg, N, &u->n_out[NSID_EM_TEST_AVG]);
    u->why[NSID_EM_TEST] = corr_why(r->mean_test, T);
    u->why[NSID_EM_TEST_AVG] = corr_why(r->mean_test_avg, r->n_images);
    struct nsid_err e2 = {0};
    if (nsid_metrics_oracle(r->oracle, &d, &e2) == 0 && nsid_metrics_fev(r->fev, r->feve, &d, &e2) == 0) {
        r->mean_oracle = mean(r->oracle, N, &u->n_out[NSID_EM_ORACLE]);
        struct nsid_err ignored = {0};
        nsid_metrics_fraction_oracle(&r->fraction_oracle, r->oracle, r->test_corr, N, &ignored);
        int64_t cnt;
        nsid_metrics_feve_mean(&r->mean_feve, &cnt, r->fev, r->feve, N, FEVE_MIN_FEV);
        nsid_metrics_feve_mean(&r->mean_fev, &cnt, r->fev, r->fev, N, -INFINITY);
        u->n_out[NSID_EM_FEV] = N - cnt;
        (void)mean(r->feve, N, &u->n_out[NSID_EM_FEVE]);
        u->why[NSID_EM_ORACLE] = isnan(r->mean_oracle) ? 3 : 0;
        u->why[NSID_EM_FRACTION] = isnan(r->fraction_oracle) ? (isnan(r->mean_oracle) ? 3 : 5) : 0;
        u->why[NSID_EM_FEV] = isnan(r->mean_fev) ? 3 : 0;
        u->why[NSID_EM_FEVE] = isnan(r->mean_feve) ? (isnan(r->mean_fev) ? 3 : 4) : 0;
    } else { /* no image with 2 repeats: no oracle, FEV or FEVE */
        nsid_alloc_free(r->oracle);
        nsid_alloc_free(r->fev);
        nsid_alloc_free(r->feve);
        r->oracle = r->fev = r->feve = NULL;
        r->mean_oracle = r->fraction_oracle = r->mean_feve = r->mean_fev = DNAN;
        u->why[NSID_EM_ORACLE] = u->why[NSID_EM_FRACTION] = u->why[NSID_EM_FEV] = u->why[NSID_EM_FEVE] = 1;
    }
    return 0;
}

static int eval_scan(struct nsid_evaluator *ev, struct nsid_model *net, int s, struct nsid_eval_scan *r,
                     struct nsid_err *err)
{
    const struct nsid_view *v = &ev->views[s];
    snprintf(r->key, sizeof r->key, "%s", net->scan[s].key);
    int64_t N = v->n_neurons;
    r->n_neurons = N;
    r->mean_gt = DNAN;
    if (v->scan->unit_ids) {
        if (!(r->unit_id = NSID_ALLOC((size_t)N * sizeof(int64_t), err))) return NSID_ENOMEM;
        for (int64_t j = 0; j < N; j++) r->unit_id[j] = v->scan->unit_ids[scan_neuron(v, j)];
    }
    r->n_val = nsid_eval_predict_tier(ev, net, s, NSID_TIER_VALIDATION);
    struct nsid_metric_data d = {.target = ev->target, .pred = ev->pred, .n_trials = r->n_val, .n_neurons = N};
    if (!(r->val_corr = NSID_ALLOC((size_t)N * sizeof(double), err))) return NSID_ENOMEM;
    int rc = nsid_metrics_corr(r->val_corr, &d, err);
    if (rc < 0) return rc;
    classify(&r->undef, 0, ev->target, ev->pred, r->n_val, N);
    r->mean_val = mean(r->val_corr, N, &r->undef.n_out[NSID_EM_VAL]);
    r->undef.why[NSID_EM_VAL] = corr_why(r->mean_val, r->n_val);
    if ((rc = eval_test(ev, net, s, r, err)) < 0) return rc;
    if ((rc = eval_gt_rates(ev, v, r, err)) < 0) return rc;
    return eval_gt_rf(net, s, v, r, err);
}

/* Pool the per-neuron results of all scans. */
static int pool(struct nsid_eval_result *res, struct nsid_err *err)
{
    int64_t n = 0;
    for (int s = 0; s < res->n_scans; s++) n += res->scan[s].n_neurons;
    res->n_neurons = n;
    double *buf[7];
    for (int k = 0; k < 7; k++)
        if (!(buf[k] = NSID_ALLOC((size_t)n * sizeof(double), err))) {
            for (int j = 0; j < k; j++) nsid_alloc_free(buf[j]);
            return NSID_ENOMEM;
        }
    double *val = buf[0], *test = buf[1], *avg = buf[2], *orc = buf[3], *fev = buf[4], *feve = buf[5], *gt = buf[6];
    int64_t k = 0, ngt = 0, norc = 0;
    double dsum = 0.0;
    int64_t dn = 0;
    for (int s = 0; s < res->n_scans; s++) {
        const struct nsid_eval_scan *r = &res->scan[s];
        for (int64_t j = 0; j < r->n_neurons; j++, k++) {
            val[k] = r->val_corr[j];
            test[k] = r->test_corr[j];
            avg[k] = r->test_corr_avg[j];
            if (r->oracle) {
                orc[norc] = r->oracle[j];
                fev[norc] = r->fev[j];
                feve[norc] = r->feve[j];
                norc++;
            }
            if (r->has_gt) gt[ngt++] = r->gt_corr[j];
            if (r->has_rf) {
                dsum += r->rf_dist[j];
                dn++;
            }
        }
    }
    struct nsid_eval_undef *u = &res->undef;
    for (int s = 0; s < res->n_scans; s++) { /* counts: sums over the scans */
        const struct nsid_eval_undef *su = &res->scan[s].undef;
        for (int m = 0; m < NSID_EM_COUNT; m++) u->n_out[m] += su->n_out[m];
        for (int t = 0; t < 2; t++) {
            u->nonfinite[t] += su->nonfinite[t];
            u->const_resp[t] += su->const_resp[t];
            u->const_pred[t] += su->const_pred[t];
        }
    }
    res->mean_val = mean(val, n, NULL);
    res->mean_test = mean(test, n, NULL);
    res->mean_test_avg = mean(avg, n, NULL);
    res->mean_gt = ngt ? mean(gt, ngt, NULL) : DNAN;
    res->has_gt = ngt > 0;
    res->rf_dist = dn ? dsum / (double)dn : DNAN;
    res->mean_oracle = res->fraction_oracle = res->mean_fev = res->mean_feve = DNAN;
    if (norc) { /* the fraction oracle over the neurons of the scans that have an oracle */
        double *c = avg; /* reuse: test correlations of exactly those neurons */
        int64_t m = 0;
        for (int s = 0; s < res->n_scans; s++)
            for (int64_t j = 0; res->scan[s].oracle && j < res->scan[s].n_neurons; j++) c[m++] = res->scan[s].test_corr[j];
        res->mean_oracle = mean(orc, norc, NULL);
        struct nsid_err ignored = {0};
        nsid_metrics_fraction_oracle(&res->fraction_oracle, orc, c, norc, &ignored);
        int64_t cnt;
        nsid_metrics_feve_mean(&res->mean_feve, &cnt, fev, feve, norc, FEVE_MIN_FEV);
        nsid_metrics_feve_mean(&res->mean_fev, &cnt, fev, fev, norc, -INFINITY);
    }
    /* The pooled reasons: a pooled summary is undefined only when every scan's is (or, for the
     * oracle family, when no scan has repeats); the reason is the first such scan's. */
    double pooled[NSID_EM_COUNT] = {res->mean_val, res->mean_test, res->mean_test_avg, res->mean_oracle,
                                    res->fraction_oracle, res->mean_fev, res->mean_feve, res->mean_gt};
    for (int m = 0; m < NSID_EM_COUNT; m++) {
        if (!isnan(pooled[m]) || (m == NSID_EM_GT && !res->has_gt)) continue;
        bool oracle_family = m == NSID_EM_ORACLE || m == NSID_EM_FRACTION || m == NSID_EM_FEV || m == NSID_EM_FEVE;
        u->why[m] = oracle_family && !norc ? 1 : 0;
        for (int s = 0; u->why[m] == 0 && s < res->n_scans; s++) u->why[m] = res->scan[s].undef.why[m];
        if (u->why[m] == 0) u->why[m] = m == NSID_EM_FRACTION ? 5 : m == NSID_EM_FEVE && !isnan(res->mean_fev) ? 4 : 3;
    }
    for (int j = 0; j < 7; j++) nsid_alloc_free(buf[j]);
    return 0;
}

int nsid_eval_full(struct nsid_evaluator *ev, struct nsid_model *net, struct nsid_eval_result *res,
                   struct nsid_err *err)
{
    memset(res, 0, sizeof *res);
    res->scan = NSID_CALLOC((size_t)ev->n_scans * sizeof *res->scan, err);
    if (!res->scan) return NSID_ENOMEM;
    res->n_scans = ev->n_scans;
    int rc = 0;
    for (int s = 0; rc == 0 && s < ev->n_scans; s++) rc = eval_scan(ev, net, s, &res->scan[s], err);
    if (rc == 0) rc = pool(res, err);
    if (rc < 0) nsid_eval_result_free(res);
    return rc;
}

void nsid_eval_result_free(struct nsid_eval_result *res)
{
    if (!res) return;
    for (int s = 0; res->scan && s < res->n_scans; s++) {
        struct nsid_eval_scan *r = &res->scan[s];
        void *p[] = {r->unit_id, r->val_corr, r->test_corr, r->test_corr_avg, r->oracle, r->fev, r->feve,
                     r->gt_corr, r->true_xy, r->rf_xy, r->rf_dist, r->test_pred, r->test_resp, r->test_trials};
        for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) nsid_alloc_free(p[i]);
    }
    nsid_alloc_free(res->scan);
    memset(res, 0, sizeof *res);
}

/* ---------------------------------------------------------------- records */

int nsid_eval_record(struct nsid_store *st, const char *run_id, struct nsid_model *net,
                     const struct nsid_eval_result *res, struct nsid_err *err)
{
    struct nsid_store_metric m[64];
    int rc = 0;
    for (int s = -1; rc == 0 && s < res->n_scans; s++) {
        const struct nsid_eval_scan *r = s >= 0 ? &res->scan[s] : NULL;
        const char *scan = r ? r->key : NSID_STORE_ALL;
        size_t k = 0;
#define M(split, name, val) m[k++] = (struct nsid_store_metric){scan, split, name, (double)(val)}
        M("validation", "corr", r ? r->mean_val : res->mean_val);
        M("test", "corr", r ? r->mean_test : res->mean_test);
        M("test", "corr_avg", r ? r->mean_test_avg : res->mean_test_avg);
        M("test", "oracle", r ? r->mean_oracle : res->mean_oracle);
        M("test", "fraction_oracle", r ? r->fraction_oracle : res->fraction_oracle);
        M("test", "fev", r ? r->mean_fev : res->mean_fev);
        M("test", "feve", r ? r->mean_feve : res->mean_feve);
        M("test", "n_neurons", r ? r->n_neurons : res->n_neurons);
        const struct nsid_eval_undef *u = r ? &r->undef : &res->undef;
        for (int e = 0; e < NSID_EM_COUNT; e++) { /* docs/reliability.md, "Undefined metrics" */
            if (u->why[e]) M(EM_SPLIT[e], EM_UNDEF[e], u->why[e]);
            if (u->n_out[e] > 0) M(EM_SPLIT[e], EM_NOUT[e], u->n_out[e]);
        }
        if (r) {
            M("validation", "n_neurons", r->n_neurons);
            M("validation", "n_trials", r->n_val);
            M("test", "n_trials", r->n_test);
            M("test", "n_images", r->n_images);
            if (r->has_gt) M("test", "gt_corr", r->mean_gt);
            if (r->has_rf) {
                M("model", "rf_corr_x", r->rf.corr[0]);
                M("model", "rf_corr_y", r->rf.corr[1]);
                M("model", "rf_dist", r->rf.mean_dist);
            }
            if (r->has_rf_px) {
                M("model", "rf_px_corr_x", r->rf_px_corr[0]);
                M("model", "rf_px_corr_y", r->rf_px_corr[1]);
                M("model", "rf_px_dist", r->rf_px_dist);
            }
            if (r->has_rf_ceil) {
                M("model", "rf_ceiling_corr_x", r->rf_ceil_corr[0]);
                M("model", "rf_ceiling_corr_y", r->rf_ceil_corr[1]);
            }
        } else {
            if (res->has_gt) M("test", "gt_corr", res->mean_gt);
            if (!isnan(res->rf_dist)) M("model", "rf_dist", res->rf_dist);
            M("model", "readout_params_per_neuron", nsid_model_readout_params_per_neuron(net));
            M("model", "core_params", net->core_end);
            M("model", "params", net->ps.n_weights);
        }
#undef M
        rc = nsid_store_metrics(st, run_id, m, k, err);
    }
    for (int s = 0; rc == 0 && s < res->n_scans; s++) {
        const struct nsid_eval_scan *r = &res->scan[s];
        struct nsid_store_neurons nm = {.scan = r->key, .n = r->n_neurons, .unit_id = r->unit_id,
                                        .val_corr = r->val_corr, .test_corr = r->test_corr,
                                        .test_corr_avg = r->test_corr_avg, .oracle = r->oracle, .fev = r->fev,
                                        .feve = r->feve, .gt_corr = r->has_gt ? r->gt_corr : NULL,
                                        .true_xy = r->has_rf ? r->true_xy : NULL, .rf_xy = r->has_rf ? r->rf_xy : NULL,
                                        .rf_dist = r->has_rf ? r->rf_dist : NULL};
        rc = nsid_store_neurons(st, run_id, &nm, err);
    }
    return rc;
}

/* ---------------------------------------------------------------- predictions file */

/* Datasets and groups without object timestamps (like checkpoints and simulated scans): the same
 * evaluation writes the same bytes on any day. Memory types are the file types. */
static int h5_d(hid_t g, hid_t dcpl, const char *name, const double *x, int64_t n)
{
    if (!x) return 0;
    hsize_t d[1] = {(hsize_t)n};
    return nsid_h5util_put(g, name, H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, 1, d, dcpl, x);
}

static int write_scan(hid_t f, hid_t gcpl, hid_t dcpl, const struct nsid_eval_scan *r)
{
    hid_t g = H5Gcreate2(f, r->key, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (g < 0) return -1;
    hsize_t d2[2] = {(hsize_t)r->n_test, (hsize_t)r->n_neurons}, d1[1] = {(hsize_t)r->n_test};
    hsize_t dn[1] = {(hsize_t)r->n_neurons};
    hid_t f32 = H5T_NATIVE_FLOAT, i64 = H5T_NATIVE_INT64;
    int bad = nsid_h5util_put(g, "predictions", f32, f32, 2, d2, dcpl, r->test_pred) < 0;
    bad |= nsid_h5util_put(g, "responses", f32, f32, 2, d2, dcpl, r->test_resp) < 0;
    bad |= nsid_h5util_put(g, "trials", i64, i64, 1, d1, dcpl, r->test_trials) < 0;
    if (r->unit_id) bad |= nsid_h5util_put(g, "unit_ids", i64, i64, 1, dn, dcpl, r->unit_id) < 0;
    bad |= h5_d(g, dcpl, "val_corr", r->val_corr, r->n_neurons) < 0;
    bad |= h5_d(g, dcpl, "test_corr", r->test_corr, r->n_neurons) < 0;
    bad |= h5_d(g, dcpl, "test_corr_avg", r->test_corr_avg, r->n_neurons) < 0;
    bad |= h5_d(g, dcpl, "oracle", r->oracle, r->n_neurons) < 0;
    bad |= h5_d(g, dcpl, "fev", r->fev, r->n_neurons) < 0;
    bad |= h5_d(g, dcpl, "feve", r->feve, r->n_neurons) < 0;
    if (r->has_gt) bad |= h5_d(g, dcpl, "gt_corr", r->gt_corr, r->n_neurons) < 0;
    if (r->has_rf) bad |= h5_d(g, dcpl, "rf_dist", r->rf_dist, r->n_neurons) < 0;
    H5Gclose(g);
    return bad ? -1 : 0;
}

int nsid_eval_write_predictions(struct nsid_evaluator *ev, const struct nsid_eval_result *res, const char *path,
                                struct nsid_err *err)
{
    (void)ev;
    char tmp[NSID_ERR_FILE_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    struct nsid_h5_quiet q;
    nsid_h5util_quiet_begin(&q);
    int rc = 0;
    errno = 0;
    hid_t dcpl = nsid_h5util_plist(H5P_DATASET_CREATE), gcpl = nsid_h5util_plist(H5P_GROUP_CREATE);
    hid_t f = dcpl < 0 || gcpl < 0 ? -1 : nsid_h5util_create(tmp, H5P_DEFAULT);
    if (f < 0) {
        rc = nsid_err_set(err, NSID_EIO, path, 0, "--predictions", "cannot create the file%s%s",
                          errno ? ": " : "", errno ? strerror(errno) : "");
        unlink(tmp); /* H5Fcreate may fail after creating it (a full disk) */
    } else {
        for (int s = 0; rc == 0 && s < res->n_scans; s++)
            if (write_scan(f, gcpl, dcpl, &res->scan[s]) < 0)
                rc = nsid_err_set(err, NSID_EIO, path, 0, res->scan[s].key, "writing the predictions failed%s%s",
                                  errno ? ": " : "", errno ? strerror(errno) : "");
        if (H5Fclose(f) < 0 && rc == 0)
            rc = nsid_err_set(err, NSID_EIO, path, 0, "--predictions", "close failed%s%s", errno ? ": " : "",
                              errno ? strerror(errno) : "");
        if (rc == 0 && rename(tmp, path) != 0)
            rc = nsid_err_set(err, NSID_EIO, path, 0, "--predictions", "rename from %s failed", tmp);
        if (rc < 0) unlink(tmp);
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (gcpl >= 0) H5Pclose(gcpl);
    nsid_h5util_quiet_end(&q);
    return rc;
}

/* "%.4f" of v, or "undefined". */
static const char *num4(char buf[32], double v)
{
    if (isnan(v)) return "undefined";
    snprintf(buf, 32, "%.4f", v);
    return buf;
}

void nsid_eval_print(const struct nsid_eval_result *res, FILE *f)
{
    char b[5][32];
    for (int s = 0; s < res->n_scans; s++) {
        const struct nsid_eval_scan *r = &res->scan[s];
        fprintf(f, "%s: %lld neurons  val corr %s  test corr %s  oracle %s  fraction oracle %s  FEVE %s",
                r->key, (long long)r->n_neurons, num4(b[0], r->mean_val), num4(b[1], r->mean_test),
                num4(b[2], r->mean_oracle), num4(b[3], r->fraction_oracle), num4(b[4], r->mean_feve));
        if (r->has_gt) fprintf(f, "  true-rate corr %s", num4(b[0], r->mean_gt));
        if (r->has_rf) fprintf(f, "  RF distance %.2f px", r->rf.mean_dist);
        fputc('\n', f);
    }
    fprintf(f, "all: %lld neurons  val corr %s  test corr %s  oracle %s  fraction oracle %s  FEVE %s\n",
            (long long)res->n_neurons, num4(b[0], res->mean_val), num4(b[1], res->mean_test),
            num4(b[2], res->mean_oracle), num4(b[3], res->fraction_oracle), num4(b[4], res->mean_feve));
}

static int print_undef(const char *scan, const struct nsid_eval_undef *u, int64_t N, int64_t n_val, int64_t n_test,
                       int64_t n_images, FILE *f)
{
    int lines = 0;
    for (int m = 0; m < NSID_EM_COUNT; m++) {
        int tier = m == NSID_EM_VAL ? 0 : 1;
        if (u->why[m]) {
            fprintf(f, "nsid-eval: undefined: %s %s %s: %s", scan, EM_SPLIT[m], EM_NAME[m], nsid_eval_undef_reason(u->why[m]));
            if (u->why[m] == 1 && n_test >= 0)
                fprintf(f, " [%lld test trials, %lld distinct images]", (long long)n_test, (long long)n_images);
            else if (u->why[m] == 2 && n_test >= 0)
                fprintf(f, " [%lld trials]", (long long)(tier == 0 ? n_val : m == NSID_EM_TEST_AVG ? n_images : n_test));
            else if (u->why[m] == 3)
                fprintf(f, " [%lld neurons: %lld non-finite response, %lld constant response, %lld constant or non-finite prediction]",
                        (long long)N, (long long)u->nonfinite[tier], (long long)u->const_resp[tier],
                        (long long)u->const_pred[tier]);
            fputs(" -> NULL\n", f);
            lines++;
        } else if (u->n_out[m] > 0) {
            fprintf(f, "nsid-eval: excluded: %s %s %s: %lld of %lld neurons undefined (%lld non-finite response, "
                       "%lld constant response, %lld constant or non-finite prediction), not averaged\n",
                    scan, EM_SPLIT[m], EM_NAME[m], (long long)u->n_out[m], (long long)N, (long long)u->nonfinite[tier],
                    (long long)u->const_resp[tier], (long long)u->const_pred[tier]);
            lines++;
        }
    }
    return lines;
}

int nsid_eval_print_undefined(const struct nsid_eval_result *res, FILE *f)
{
    int lines = 0;
    for (int s = 0; s < res->n_scans; s++) {
        const struct nsid_eval_scan *r = &res->scan[s];
        lines += print_undef(r->key, &r->undef, r->n_neurons, r->n_val, r->n_test, r->n_images, f);
    }
    if (res->n_scans > 1) lines += print_undef(NSID_STORE_ALL, &res->undef, res->n_neurons, -1, -1, -1, f);
    return lines;
}
