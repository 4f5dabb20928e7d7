/*
 * test_simulate_truth.c - is the simulated V1 a meaningful target?
 *
 * On one evaluation scan (seed 1, 150 neurons, 1,200 training images, a
 * 50 x 10 test tier):
 *   - the single-trial leave-one-out oracle correlations spread over ~0.2-0.7;
 *   - the noise-free truth reaches the oracle ceiling (fraction oracle >= 1);
 *   - a linear-nonlinear model (ridge regression on the pixels of the RF
 *     patch, then a fitted piecewise-linear output nonlinearity) trained on
 *     the same single trials stays clearly below it, and so does one trained
 *     on the noise-free rates: the truth really is nonlinear in the image.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "data/simulate.h"
#include "exp/metrics.h"

#define G 10             /* LN input: G x G cells around the RF centre */
#define P (G * G)        /* features */
#define NLN 40           /* neurons given an LN model */
#define NBINS 12         /* output nonlinearity bins */

/* Trials of one tier. */
struct tier {
    int64_t n;
    int64_t *t;          /* (n) trial indices */
};

static struct tier tier_of(const struct nsid_scan *s, int tier)
{
    struct tier r = {0, malloc(sizeof(int64_t) * (size_t)s->n_trials)};
    for (int64_t t = 0; t < s->n_trials; t++)
        if (s->tiers[t] == tier) r.t[r.n++] = t;
    return r;
}

/* Cell size (px) so that G cells cover +-3 RF sd. */
static int cell_px(double sigma)
{
    int c = (int)ceil(0.6 * sigma);
    return c < 1 ? 1 : c;
}

/* Features of trial t for a neuron at (cx, cy): cell means of the contrast image. */
static void features(double *f, const struct nsid_scan *s, int64_t t, double cx, double cy, int c)
{
    const float *img = s->images + (size_t)t * 36 * 64;
    int x0 = (int)lround(cx) - G * c / 2, y0 = (int)lround(cy) - G * c / 2;
    for (int j = 0; j < G; j++)
        for (int i = 0; i < G; i++) {
            double sum = 0;
            for (int v = 0; v < c; v++)
                for (int u = 0; u < c; u++) {
                    int x = x0 + i * c + u, y = y0 + j * c + v;
                    if (x >= 0 && y >= 0 && x < 64 && y < 36) sum += ((double)img[y * 64 + x] - 113.0) / 64.0;
                }
            f[j * G + i] = sum / (c * c);
        }
}

/* Solve (A + lambda I) w = b by Cholesky (A symmetric positive semi-definite, p x p). */
static void ridge_solve(double *w, const double *A, const double *b, double lambda, int p)
{
    double *L = malloc(sizeof(double) * (size_t)(p * p));
    for (int i = 0; i < p; i++)
        for (int j = 0; j <= i; j++) {
            double v = A[i * p + j] + (i == j ? lambda : 0.0);
            for (int k = 0; k < j; k++) v -= L[i * p + k] * L[j * p + k];
            L[i * p + j] = i == j ? sqrt(v) : v / L[j * p + j];
        }
    for (int i = 0; i < p; i++) {
        double v = b[i];
        for (int k = 0; k < i; k++) v -= L[i * p + k] * w[k];
        w[i] = v / L[i * p + i];
    }
    for (int i = p - 1; i >= 0; i--) {
        double v = w[i];
        for (int k = i + 1; k < p; k++) v -= L[k * p + i] * w[k];
        w[i] = v / L[i * p + i];
    }
    free(L);
}

static double corr(const double *a, const double *b, int64_t n)
{
    double ma = 0, mb = 0, ab = 0, aa = 0, bb = 0;
    for (int64_t i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= (double)n;
    mb /= (double)n;
    for (int64_t i = 0; i < n; i++) {
        ab += (a[i] - ma) * (b[i] - mb);
        aa += (a[i] - ma) * (a[i] - ma);
        bb += (b[i] - mb) * (b[i] - mb);
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Output nonlinearity: bin the train predictions into quantiles, interpolate the bin means. */
struct outnl {
    double x[NBINS], y[NBINS];
};

static void outnl_fit(struct outnl *o, const double *pred, const double *y, int64_t n)
{
    double *pair = malloc(sizeof(double) * 2 * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        pair[2 * i] = pred[i];
        pair[2 * i + 1] = y[i];
    }
    qsort(pair, (size_t)n, 2 * sizeof(double), cmp_double);
    for (int b = 0; b < NBINS; b++) {
        int64_t lo = n * b / NBINS, hi = n * (b + 1) / NBINS;
        double sx = 0, sy = 0;
        for (int64_t i = lo; i < hi; i++) {
            sx += pair[2 * i];
            sy += pair[2 * i + 1];
        }
        o->x[b] = sx / (double)(hi - lo);
        o->y[b] = sy / (double)(hi - lo);
    }
    free(pair);
}

static double outnl_apply(const struct outnl *o, double p)
{
    if (p <= o->x[0]) return o->y[0];
    for (int b = 1; b < NBINS; b++)
        if (p <= o->x[b]) {
            double a = o->x[b] > o->x[b - 1] ? (p - o->x[b - 1]) / (o->x[b] - o->x[b - 1]) : 1.0;
            return o->y[b - 1] + a * (o->y[b] - o->y[b - 1]);
        }
    return o->y[NBINS - 1];
}

struct data {
    const struct nsid_scan *s;
    const float *rates;           /* (T, N) ground truth */
    struct tier tr, va, te;
};

/* Design matrix rows for the trials of a tier (n x P), centred by the train means mu. */
static double *design(const struct data *d, const struct tier *t, double cx, double cy, int c)
{
    double *X = malloc(sizeof(double) * (size_t)(t->n * P));
    for (int64_t i = 0; i < t->n; i++) features(X + i * P, d->s, t->t[i], cx, cy, c);
    return X;
}

/*
 * Fit an LN model of neuron n on the train tier against `target` (responses
 * or rates), lambda chosen on validation responses; returns its test
 * predictions in pred (test n trials).
 */
static void fit_ln(double *pred, const struct data *d, int64_t n, const float *target, double cx, double cy,
                   double sigma)
{
    int64_t N = d->s->n_neurons;
    int c = cell_px(sigma);
    double *Xtr = design(d, &d->tr, cx, cy, c), *Xva = design(d, &d->va, cx, cy, c), *Xte = design(d, &d->te, cx, cy, c);
    double mu[P] = {0}, ym = 0;
    double *y = malloc(sizeof(double) * (size_t)d->tr.n), *yva = malloc(sizeof(double) * (size_t)d->va.n);
    for (int64_t i = 0; i < d->tr.n; i++) {
        y[i] = (double)target[d->tr.t[i] * N + n];
        ym += y[i];
        for (int k = 0; k < P; k++) mu[k] += Xtr[i * P + k];
    }
    ym /= (double)d->tr.n;
    for (int k = 0; k < P; k++) mu[k] /= (double)d->tr.n;
    static double A[P * P], b[P], w[P], wbest[P];
    memset(A, 0, sizeof A);
    memset(b, 0, sizeof b);
    for (int64_t i = 0; i < d->tr.n; i++) {
        double *x = Xtr + i * P;
        for (int k = 0; k < P; k++) x[k] -= mu[k];
        for (int k = 0; k < P; k++) {
            b[k] += x[k] * (y[i] - ym);
            for (int j = 0; j <= k; j++) A[k * P + j] += x[k] * x[j];
        }
    }
    double trace = 0;
    for (int k = 0; k < P; k++) {
        trace += A[k * P + k];
        for (int j = 0; j < k; j++) A[j * P + k] = A[k * P + j];
    }
    for (int64_t i = 0; i < d->va.n; i++) yva[i] = (double)d->s->responses[d->va.t[i] * N + n];
    double best = -2, *pva = malloc(sizeof(double) * (size_t)d->va.n);
    for (int e = -3; e <= 2; e++) {
        ridge_solve(w, A, b, trace / P * pow(10.0, e), P);
        for (int64_t i = 0; i < d->va.n; i++) {
            double v = 0;
            for (int k = 0; k < P; k++) v += (Xva[i * P + k] - mu[k]) * w[k];
            pva[i] = v;
        }
        double r = corr(pva, yva, d->va.n);
        if (r > best) {
            best = r;
            memcpy(wbest, w, sizeof w);
        }
    }
    double *ptr = malloc(sizeof(double) * (size_t)d->tr.n);
    for (int64_t i = 0; i < d->tr.n; i++) {
        double v = 0;
        for (int k = 0; k < P; k++) v += Xtr[i * P + k] * wbest[k];
        ptr[i] = v;
    }
    struct outnl o;
    outnl_fit(&o, ptr, y, d->tr.n);
    for (int64_t i = 0; i < d->te.n; i++) {
        double v = 0;
        for (int k = 0; k < P; k++) v += (Xte[i * P + k] - mu[k]) * wbest[k];
        pred[i] = outnl_apply(&o, v);
    }
    free(Xtr);
    free(Xva);
    free(Xte);
    free(y);
    free(yva);
    free(pva);
    free(ptr);
}

/* Test-tier matrices (test trials x N) of a (T, N) array. */
static float *test_rows(const struct data *d, const float *full)
{
    int64_t N = d->s->n_neurons;
    float *m = malloc(sizeof(float) * (size_t)(d->te.n * N));
    for (int64_t i = 0; i < d->te.n; i++) memcpy(m + i * N, full + d->te.t[i] * N, sizeof(float) * (size_t)N);
    return m;
}

int main(void)
{
    struct nsid_sim_config cfg;
    struct nsid_err err = {0};
    const char *sets[] = {"eval.neurons=150", "eval.train_images=1200", "eval.validation_images=200",
                          "eval.test_images=50", "eval.test_repeats=10", "calibration_images=128"};
    nsid_sim_config_init(&cfg, "smoke", &err);
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) nsid_sim_config_set(&cfg, sets[i], &err);
    struct nsid_scan s;
    printf("seed %llu\n", (unsigned long long)cfg.seed);
    if (nsid_simulate_scan_generate(&s, &cfg, nsid_sim_scan_find("20457-5-9"), &err) < 0) {
        nsid_err_print(&err, stderr);
        return 1;
    }
    int64_t N = s.n_neurons;
    struct data d = {&s, nsid_scan_arrays_find(&s.ground_truth, "rates")->data, tier_of(&s, NSID_TIER_TRAIN),
                     tier_of(&s, NSID_TIER_VALIDATION), tier_of(&s, NSID_TIER_TEST)};
    float *resp = test_rows(&d, s.responses), *rate = test_rows(&d, d.rates);
    int64_t *group = malloc(sizeof(int64_t) * (size_t)d.te.n);
    for (int64_t i = 0; i < d.te.n; i++) group[i] = s.frame_image_id[d.te.t[i]];

    /* oracle distribution */
    double *oracle = malloc(sizeof(double) * (size_t)N), *tc = malloc(sizeof(double) * (size_t)N);
    struct nsid_metric_data md = {.target = resp, .pred = rate, .group = group, .n_trials = d.te.n, .n_neurons = N};
    nsid_metrics_oracle(oracle, &md, &err);
    nsid_metrics_corr(tc, &md, &err);
    double *sorted = malloc(sizeof(double) * (size_t)N);
    memcpy(sorted, oracle, sizeof(double) * (size_t)N);
    qsort(sorted, (size_t)N, sizeof(double), cmp_double);
    double p10 = sorted[N / 10], p50 = sorted[N / 2], p90 = sorted[N * 9 / 10];
    printf("oracle correlation: p10 %.3f, median %.3f, p90 %.3f (min %.3f, max %.3f) over %lld neurons\n", p10, p50,
           p90, sorted[0], sorted[N - 1], (long long)N);
    CHECK(p10 > 0.12 && p10 < 0.32, "10th percentile oracle %.3f near 0.2", p10);
    CHECK(p90 > 0.55 && p90 < 0.8, "90th percentile oracle %.3f near 0.7", p90);
    CHECK(p50 > 0.3 && p50 < 0.6, "median oracle %.3f", p50);
    double fo_truth;
    nsid_metrics_fraction_oracle(&fo_truth, oracle, tc, N, &err);
    printf("noise-free truth: fraction oracle %.3f\n", fo_truth);
    CHECK(fo_truth > 1.0, "the noise-free truth reaches the oracle ceiling (fraction oracle %.3f)", fo_truth);

    /* LN models on the first NLN neurons */
    const double *px = nsid_scan_arrays_find(&s.ground_truth, "rf_center_px")->data;
    const double *sig = nsid_scan_arrays_find(&s.ground_truth, "rf_sigma_px")->data;
    const int32_t *type = nsid_scan_arrays_find(&s.ground_truth, "cell_type")->data;
    float *pln = calloc((size_t)(d.te.n * NLN), sizeof(float)), *pln_rate = calloc((size_t)(d.te.n * NLN), sizeof(float));
    float *resp_ln = malloc(sizeof(float) * (size_t)(d.te.n * NLN));
    double *pred = malloc(sizeof(double) * (size_t)d.te.n);
    for (int64_t n = 0; n < NLN; n++) {
        fit_ln(pred, &d, n, s.responses, px[2 * n], px[2 * n + 1], sig[n]);
        for (int64_t i = 0; i < d.te.n; i++) pln[i * NLN + n] = (float)pred[i];
        fit_ln(pred, &d, n, d.rates, px[2 * n], px[2 * n + 1], sig[n]);
        for (int64_t i = 0; i < d.te.n; i++) pln_rate[i * NLN + n] = (float)pred[i];
        for (int64_t i = 0; i < d.te.n; i++) resp_ln[i * NLN + n] = resp[i * N + n];
    }
    double c_ln[NLN], c_lnr[NLN], fo_ln, fo_lnr, fo_truth_sub;
    struct nsid_metric_data ml = {.target = resp_ln, .pred = pln, .n_trials = d.te.n, .n_neurons = NLN};
    nsid_metrics_corr(c_ln, &ml, &err);
    ml.pred = pln_rate;
    nsid_metrics_corr(c_lnr, &ml, &err);
    nsid_metrics_fraction_oracle(&fo_ln, oracle, c_ln, NLN, &err);
    nsid_metrics_fraction_oracle(&fo_lnr, oracle, c_lnr, NLN, &err);
    nsid_metrics_fraction_oracle(&fo_truth_sub, oracle, tc, NLN, &err);
    double by_type[NSID_SIM_CELL_COUNT] = {0}, cnt[NSID_SIM_CELL_COUNT] = {0};
    for (int n = 0; n < NLN; n++) {
        by_type[type[n]] += c_lnr[n] / (tc[n] > 0.05 ? tc[n] : 0.05);
        cnt[type[n]]++;
    }
    printf("fraction oracle over %d neurons: truth %.3f, LN on responses %.3f, LN on noise-free rates %.3f\n", NLN,
           fo_truth_sub, fo_ln, fo_lnr);
    printf("LN(rates) / truth test correlation by cell type:");
    for (int k = 0; k < NSID_SIM_CELL_COUNT; k++)
        if (cnt[k] > 0) printf(" %d:%.2f(n=%.0f)", k, by_type[k] / cnt[k], cnt[k]);
    printf("\n");
    CHECK(fo_ln < 0.7 * fo_truth_sub, "an LN model trained on the responses stays clearly below the truth (%.3f vs %.3f)",
          fo_ln, fo_truth_sub);
    CHECK(fo_lnr < 0.8 * fo_truth_sub, "even an LN model trained on the noise-free rates does (%.3f vs %.3f)", fo_lnr,
          fo_truth_sub);
    CHECK(fo_ln > 0.05, "the LN model is a working baseline (fraction oracle %.3f > 0)", fo_ln);

    free(d.tr.t);
    free(d.va.t);
    free(d.te.t);
    free(resp);
    free(rate);
    free(group);
    free(oracle);
    free(tc);
    free(sorted);
    free(pln);
    free(pln_rate);
    free(resp_ln);
    free(pred);
    nsid_scan_free(&s);
    return check_summary("simulate_truth");
}
