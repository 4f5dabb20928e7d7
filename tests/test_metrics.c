/*
 * test_metrics.c - evaluation measures against numpy re-implementations of the
 * neuralpredictors / lurz2020 code (tests/gen_metric_fixtures.py -> fixtures/metrics_ref.txt),
 * plus hand-checked edge cases and bad input.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "check.h"
#include "exp/metrics.h"

#define MAX_ARRAYS 64

struct fixture {
    int n;
    char name[MAX_ARRAYS][48];
    int64_t len[MAX_ARRAYS];
    double *v[MAX_ARRAYS];
};

static int load_fixture(struct fixture *fx, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char tok[64];
    memset(fx, 0, sizeof *fx);
    while (fscanf(f, " %47s", tok) == 1) {
        if (tok[0] == '#') {
            int c;
            while ((c = fgetc(f)) != '\n' && c != EOF) {}
            continue;
        }
        long long len;
        if (fx->n == MAX_ARRAYS || fscanf(f, " %lld", &len) != 1 || len < 1) break;
        int k = fx->n++;
        strcpy(fx->name[k], tok);
        fx->len[k] = len;
        fx->v[k] = malloc((size_t)len * sizeof(double));
        for (long long i = 0; i < len; i++) {
            if (fscanf(f, " %63s", tok) != 1) { fclose(f); return -1; }
            fx->v[k][i] = strtod(tok, NULL);
        }
    }
    int ok = feof(f);
    fclose(f);
    return ok ? 0 : -1;
}

static const double *get(const struct fixture *fx, const char *name, int64_t want_len)
{
    for (int k = 0; k < fx->n; k++)
        if (strcmp(fx->name[k], name) == 0) {
            if (want_len >= 0 && fx->len[k] != want_len) return NULL;
            return fx->v[k];
        }
    return NULL;
}

/* Per-element |got - want| <= 1e-12 + 1e-10 |want|, NaN only where the reference has NaN. */
static void check_vec(const double *got, const double *want, int64_t n, const char *what)
{
    int bad = 0;
    int64_t worst = 0;
    for (int64_t i = 0; i < n; i++) {
        int ok = isnan(want[i]) ? isnan(got[i]) : fabs(got[i] - want[i]) <= 1e-12 + 1e-10 * fabs(want[i]);
        if (!ok && !bad++) worst = i;
    }
    CHECK(!bad, "%s: %d of %lld differ from the numpy reference; first [%lld] got %.17g want %.17g", what, bad,
          (long long)n, (long long)worst, got[worst], want[worst]);
}

/* Neuron n of a (T, N) matrix is constant or has a value that is not finite. */
static int column_degenerate(const float *m, int64_t T, int64_t N, int64_t n)
{
    int constant = 1;
    for (int64_t t = 0; t < T; t++) {
        if (!isfinite(m[t * N + n])) return 1;
        if (m[t * N + n] != m[n]) constant = 0;
    }
    return constant;
}

/* A correlation against neuralpredictors' reference, which reports an undefined correlation as 0:
 * nsid gives NaN exactly where a neuron's target (or, with pred, prediction) column is degenerate
 * (docs/reliability.md "Undefined metrics"), elsewhere the reference's value. */
static void check_corr(const double *got, const double *want, const float *target, const float *pred, int64_t T,
                       int64_t N, const char *what)
{
    double *w = malloc((size_t)N * sizeof *w);
    int64_t n_undef = 0;
    for (int64_t n = 0; n < N; n++) {
        int bad = column_degenerate(target, T, N, n) || (pred && column_degenerate(pred, T, N, n));
        w[n] = bad ? (double)NAN : want[n];
        n_undef += bad;
        if (bad) CHECK(want[n] == 0, "%s: the reference gives 0 for degenerate neuron %lld", what, (long long)n);
    }
    check_vec(got, w, N, what);
    free(w);
}

struct scan {
    int64_t T, N;
    float *target, *pred;
    int64_t *group;
    struct nsid_metric_data d;
};

static int scan_from_fixture(struct scan *s, const struct fixture *fx, const char *prefix)
{
    char key[64];
    snprintf(key, sizeof key, "%s.shape", prefix);
    const double *shape = get(fx, key, 2);
    if (!shape) return -1;
    s->T = (int64_t)shape[0];
    s->N = (int64_t)shape[1];
    snprintf(key, sizeof key, "%s.target", prefix);
    const double *t = get(fx, key, s->T * s->N);
    snprintf(key, sizeof key, "%s.pred", prefix);
    const double *p = get(fx, key, s->T * s->N);
    snprintf(key, sizeof key, "%s.group", prefix);
    const double *g = get(fx, key, s->T);
    if (!t || !p || !g) return -1;
    s->target = malloc((size_t)(s->T * s->N) * sizeof(float));
    s->pred = malloc((size_t)(s->T * s->N) * sizeof(float));
    s->group = malloc((size_t)s->T * sizeof(int64_t));
    for (int64_t i = 0; i < s->T * s->N; i++) {
        s->target[i] = (float)t[i];
        s->pred[i] = (float)p[i];
    }
    for (int64_t i = 0; i < s->T; i++) s->group[i] = (int64_t)g[i];
    s->d = (struct nsid_metric_data){s->target, s->pred, s->group, s->T, s->N};
    return 0;
}

static void scan_free(struct scan *s)
{
    free(s->target);
    free(s->pred);
    free(s->group);
}

static void test_against_reference(void)
{
    static struct fixture fx;
    int rc = load_fixture(&fx, check_fixture("metrics_ref.txt"));
    CHECK(rc == 0, "fixture metrics_ref.txt loads");
    if (rc < 0) return;
    struct scan s[2];
    const char *names[2] = {"a", "b"};
    double oracle_all[64], corr_all[64], ref_oracle[64], ref_corr[64];
    int64_t pooled = 0;
    for (int k = 0; k < 2; k++) {
        CHECK(scan_from_fixture(&s[k], &fx, names[k]) == 0, "scan %s in fixture", names[k]);
        int64_t N = s[k].N;
        double got[64], got2[64];
        char what[64], key[64];
        struct nsid_err err = {0};

        CHECK(nsid_metrics_corr(got, &s[k].d, &err) == 0, "corr runs: %s", err.msg);
        snprintf(key, sizeof key, "%s.corr", names[k]);
        snprintf(what, sizeof what, "scan %s single-trial correlation", names[k]);
        check_corr(got, get(&fx, key, N), s[k].target, s[k].pred, s[k].T, N, what);
        memcpy(corr_all + pooled, got, (size_t)N * sizeof(double));
        memcpy(ref_corr + pooled, get(&fx, key, N), (size_t)N * sizeof(double));

        CHECK(nsid_metrics_corr_avg(got, &s[k].d, &err) == 0, "corr_avg runs: %s", err.msg);
        snprintf(key, sizeof key, "%s.corr_avg", names[k]);
        snprintf(what, sizeof what, "scan %s correlation to the repeat average", names[k]);
        check_corr(got, get(&fx, key, N), s[k].target, s[k].pred, s[k].T, N, what);

        CHECK(nsid_metrics_oracle(got, &s[k].d, &err) == 0, "oracle runs: %s", err.msg);
        snprintf(key, sizeof key, "%s.oracle", names[k]);
        snprintf(what, sizeof what, "scan %s leave-one-out oracle", names[k]);
        check_corr(got, get(&fx, key, N), s[k].target, NULL, s[k].T, N, what);
        memcpy(oracle_all + pooled, got, (size_t)N * sizeof(double));
        memcpy(ref_oracle + pooled, get(&fx, key, N), (size_t)N * sizeof(double));
        pooled += N;

        CHECK(nsid_metrics_fev(got, got2, &s[k].d, &err) == 0, "fev runs: %s", err.msg);
        snprintf(key, sizeof key, "%s.fev", names[k]);
        snprintf(what, sizeof what, "scan %s FEV", names[k]);
        check_vec(got, get(&fx, key, N), N, what);
        snprintf(key, sizeof key, "%s.feve", names[k]);
        snprintf(what, sizeof what, "scan %s FEVE", names[k]);
        check_vec(got2, get(&fx, key, N), N, what);
    }
    double slope;
    struct nsid_err err = {0};
    CHECK(nsid_metrics_fraction_oracle(&slope, oracle_all, corr_all, pooled, &err) == 0, "fraction oracle runs");
    /* lstsq over the neurons whose oracle and correlation are defined, from the reference's values */
    double oc = 0, oo = 0;
    int64_t left_out = 0;
    for (int64_t i = 0; i < pooled; i++) {
        if (isnan(oracle_all[i]) || isnan(corr_all[i])) { left_out++; continue; }
        oc += ref_oracle[i] * ref_corr[i];
        oo += ref_oracle[i] * ref_oracle[i];
    }
    double want_slope = oc / oo;
    CHECK(left_out > 0, "the reference has undefined neurons (%lld) that the fit leaves out", (long long)left_out);
    check_vec(&slope, &want_slope, 1, "fraction oracle pooled over two scans (lstsq over defined neurons)");

    /* Trial order does not matter: reverse scan a's trials. */
    struct scan *a = &s[0];
    struct scan r = *a;
    r.target = malloc((size_t)(a->T * a->N) * sizeof(float));
    r.pred = malloc((size_t)(a->T * a->N) * sizeof(float));
    r.group = malloc((size_t)a->T * sizeof(int64_t));
    for (int64_t t = 0; t < a->T; t++) {
        memcpy(r.target + t * a->N, a->target + (a->T - 1 - t) * a->N, (size_t)a->N * sizeof(float));
        memcpy(r.pred + t * a->N, a->pred + (a->T - 1 - t) * a->N, (size_t)a->N * sizeof(float));
        r.group[t] = a->group[a->T - 1 - t];
    }
    r.d = (struct nsid_metric_data){r.target, r.pred, r.group, r.T, r.N};
    double o1[64], o2[64];
    nsid_metrics_oracle(o1, &a->d, &err);
    nsid_metrics_oracle(o2, &r.d, &err);
    check_vec(o2, o1, a->N, "oracle is invariant to trial order");
    scan_free(&r);

    /* Receptive-field recovery. */
    const double *learned = get(&fx, "rf.learned", 80), *truth = get(&fx, "rf.truth", 80);
    CHECK(learned && truth, "rf arrays in fixture");
    if (learned && truth) {
        struct nsid_rf_fit fit;
        double dist[40];
        CHECK(nsid_metrics_rf_fit(&fit, dist, learned, truth, 40, &err) == 0, "rf fit runs: %s", err.msg);
        check_vec(&fit.A[0][0], get(&fx, "rf.A", 4), 4, "rf affine matrix");
        check_vec(fit.b, get(&fx, "rf.b", 2), 2, "rf affine offset");
        check_vec(fit.corr, get(&fx, "rf.corr", 2), 2, "rf per-coordinate correlation");
        check_vec(dist, get(&fx, "rf.dist", 40), 40, "rf per-neuron distance");
        check_vec(&fit.mean_dist, get(&fx, "rf.mean_dist", 1), 1, "rf mean distance");
    }
    for (int k = 0; k < 2; k++) scan_free(&s[k]);
    for (int k = 0; k < fx.n; k++) free(fx.v[k]);
}

/* Hand-checked values on tiny inputs. */
static void test_edge_cases(void)
{
    struct nsid_err err = {0};
    /* 4 trials x 3 neurons: neuron 0 perfect, neuron 1 anti-correlated, neuron 2 has a NaN. */
    float y[12] = {1, 4, 0, 2, 3, 1, 3, 2, NAN, 4, 1, 2};
    float p[12] = {2, -4, 5, 4, -3, 5, 6, -2, 5, 8, -1, 5};
    struct nsid_metric_data d = {y, p, NULL, 4, 3};
    double c[3];
    CHECK(nsid_metrics_corr(c, &d, &err) == 0, "tiny corr runs");
    double sd0 = sqrt(1.25), sdp0 = sqrt(5.0); /* std of 1..4 and of 2,4,6,8 */
    CHECK_CLOSE(c[0], 1.25 * 2 / ((sd0 + 1e-8) * (sdp0 + 1e-8)), 1e-15, 0, "perfect correlation shrinks by eps");
    CHECK(c[1] < -0.999999 && c[1] > -1, "anti-correlation (%.17g)", c[1]);
    CHECK(isnan(c[2]), "a NaN in the column makes the correlation undefined (NaN), not 0 (%g)", c[2]);

    struct nsid_metric_data one = {y, p, NULL, 1, 3};
    CHECK(nsid_metrics_corr(c, &one, &err) == 0 && isnan(c[0]) && isnan(c[1]), "one trial: undefined (NaN), not 0");

    /* Constant columns (responses or predictions) are undefined; 0.1 is not exact in binary, yet the
     * mean of its copies is, so no rounding residue makes a constant column look defined. */
    float yc[8] = {0.1f, 1, 0.1f, 2, 0.1f, 3, 0.1f, 4}, pc[8] = {1, 7, 2, 7, 3, 7, 4, 7};
    struct nsid_metric_data dc = {yc, pc, NULL, 4, 2};
    CHECK(nsid_metrics_corr(c, &dc, &err) == 0 && isnan(c[0]) && isnan(c[1]),
          "constant response (neuron 0) and constant prediction (neuron 1) are undefined (%g, %g)", c[0], c[1]);

    /* Oracle by hand: one image with 3 repeats x = 1, 2, 6 -> o = 4, 3.5, 1.5. */
    float x3[3] = {1, 2, 6};
    int64_t g3[3] = {7, 7, 7};
    struct nsid_metric_data od = {x3, NULL, g3, 3, 1};
    double o;
    CHECK(nsid_metrics_oracle(&o, &od, &err) == 0, "oracle of one image");
    double sxo = (-2) * 1 + (-1) * 0.5 + 3 * (-1.5), sxx = 4 + 1 + 9, soo = 1 + 0.25 + 2.25;
    CHECK_CLOSE(o, (sxo / 3) / ((sqrt(sxx / 3) + 1e-8) * (sqrt(soo / 3) + 1e-8)), 1e-15, 0,
                "oracle o_i = (sum - x_i)/(r - 1) by hand (%.17g)", o);

    /* No repeated image: oracle and FEV fail with a message, not NaN. */
    int64_t distinct[4] = {1, 2, 3, 4};
    struct nsid_metric_data nr = {y, p, distinct, 4, 3};
    double out3[3];
    CHECK(nsid_metrics_oracle(out3, &nr, &err) == NSID_EINVAL && strstr(err.msg, "repeats"),
          "oracle without repeats is an error: %s", err.msg);
    nsid_err_clear(&err);
    CHECK(nsid_metrics_fev(out3, out3, &nr, &err) == NSID_EINVAL && strcmp(err.key, "fev") == 0,
          "FEV without repeats is an error: %s", err.msg);
    struct nsid_metric_data nopred = {y, NULL, distinct, 4, 3};
    nsid_err_clear(&err);
    CHECK(nsid_metrics_corr(out3, &nopred, &err) == NSID_EINVAL && strstr(err.msg, "predictions"),
          "corr without predictions is an error: %s", err.msg);
    struct nsid_metric_data nogroup = {y, p, NULL, 4, 3};
    nsid_err_clear(&err);
    CHECK(nsid_metrics_corr_avg(out3, &nogroup, &err) == NSID_EINVAL && strstr(err.msg, "frame_image_id"),
          "corr_avg without group ids is an error: %s", err.msg);
    struct nsid_metric_data empty = {y, p, distinct, 0, 3};
    nsid_err_clear(&err);
    CHECK(nsid_metrics_corr(out3, &empty, &err) == NSID_EINVAL, "zero trials is an error: %s", err.msg);

    /* FEV by hand: two images x two repeats, one neuron: x = (1,3 | 5,7), pred = (2,2 | 6,6). */
    float fx[4] = {1, 3, 5, 7}, fp[4] = {2, 2, 6, 6};
    int64_t fg[4] = {0, 0, 1, 1};
    struct nsid_metric_data fd = {fx, fp, fg, 4, 1};
    double fev, feve;
    CHECK(nsid_metrics_fev(&fev, &feve, &fd, &err) == 0, "tiny FEV runs");
    /* TotalVar = var(1,3,5,7; ddof 1) = 20/3; NoiseVar = 2; PredVar = 1. */
    CHECK_CLOSE(fev, (20.0 / 3 - 2) / (20.0 / 3), 1e-15, 0, "FEV by hand");
    CHECK_CLOSE(feve, 1 - (1 - 2) / (20.0 / 3 - 2), 1e-15, 0, "FEVE by hand");

    double fevs[4] = {0.5, 0.05, (double)NAN, 0.3}, feves[4] = {0.8, 0.1, 0.7, (double)NAN};
    double m;
    int64_t cnt;
    nsid_metrics_feve_mean(&m, &cnt, fevs, feves, 4, 0.1);
    CHECK(cnt == 1 && m == 0.8, "FEVE mean keeps FEV > threshold and skips NaN (%lld, %g)", (long long)cnt, m);
    nsid_metrics_feve_mean(&m, &cnt, fevs, feves, 4, -INFINITY);
    CHECK(cnt == 2 && fabs(m - 0.45) < 1e-15, "FEVE mean without threshold (%lld, %g)", (long long)cnt, m);

    double zeros[3] = {0, 0, 0}, cs[3] = {0.1, 0.2, 0.3}, slope = -1;
    CHECK(nsid_metrics_fraction_oracle(&slope, zeros, cs, 3, &err) == 0 && isnan(slope),
          "fraction oracle with all-zero oracles is undefined (NaN), not lstsq's 0");
    double os[3] = {0.5, (double)NAN, 0.25}, cn[3] = {0.25, 0.9, (double)NAN};
    CHECK(nsid_metrics_fraction_oracle(&slope, os, cn, 3, &err) == 0 && slope == 0.5,
          "fraction oracle leaves out neurons with an undefined oracle or correlation (%g)", slope);
    double mm;
    int64_t mc;
    nsid_metrics_mean_defined(&mm, &mc, os, 3);
    CHECK(mc == 2 && mm == 0.375, "mean of the defined values (%lld, %g)", (long long)mc, mm);
    nsid_metrics_mean_defined(&mm, &mc, os + 1, 1);
    CHECK(mc == 0 && isnan(mm), "mean of none is undefined");

    /* RF: an exact affine relation is recovered with zero distance; collinear input fails. */
    double l[10] = {0, 0, 1, 0, 0, 1, 1, 1, 0.5, 0.2}, t[10];
    for (int i = 0; i < 5; i++) {
        t[2 * i] = 3 * l[2 * i] - l[2 * i + 1] + 10;
        t[2 * i + 1] = 0.5 * l[2 * i] + 2 * l[2 * i + 1] - 4;
    }
    struct nsid_rf_fit fit;
    CHECK(nsid_metrics_rf_fit(&fit, NULL, l, t, 5, &err) == 0, "exact RF fit runs");
    CHECK(fabs(fit.A[0][0] - 3) < 1e-12 && fabs(fit.A[0][1] + 1) < 1e-12 && fabs(fit.A[1][0] - 0.5) < 1e-12 &&
          fabs(fit.A[1][1] - 2) < 1e-12 && fabs(fit.b[0] - 10) < 1e-12 && fabs(fit.b[1] + 4) < 1e-12 &&
          fit.mean_dist < 1e-12, "exact affine map recovered (mean distance %g)", fit.mean_dist);
    double line[8] = {0, 0, 1, 1, 2, 2, 3, 3};
    nsid_err_clear(&err);
    CHECK(nsid_metrics_rf_fit(&fit, NULL, line, t, 4, &err) == NSID_EINVAL && strstr(err.msg, "line"),
          "collinear learned positions are an error: %s", err.msg);
    nsid_err_clear(&err);
    CHECK(nsid_metrics_rf_fit(&fit, NULL, l, t, 2, &err) == NSID_EINVAL, "two neurons are too few");

    /* Without a fit: a shift by (3, 4) keeps both correlations at 1 and is 5 apart; swapped
     * axes are what the affine fit would hide and this measure shows. */
    double shifted[10], swapped[10], corr[2], dist;
    for (int i = 0; i < 5; i++) {
        shifted[2 * i] = t[2 * i] + 3;
        shifted[2 * i + 1] = t[2 * i + 1] + 4;
        swapped[2 * i] = t[2 * i + 1];
        swapped[2 * i + 1] = t[2 * i];
    }
    nsid_metrics_rf_direct(corr, &dist, shifted, t, 5);
    CHECK(fabs(corr[0] - 1) < 1e-6 && fabs(corr[1] - 1) < 1e-6 && fabs(dist - 5) < 1e-12, /* corr has an eps */
          "fit-free RF: a shift keeps r = 1 and is 5 px (r %g %g, %g px)", corr[0], corr[1], dist);
    nsid_metrics_rf_direct(corr, &dist, swapped, t, 5);
    CHECK(fit.corr[0] > 0.999 && corr[0] < 0.9 && corr[1] < 0.9,
          "fit-free RF: swapped axes show (r %g %g; after a fit %g)", corr[0], corr[1], fit.corr[0]);
    CHECK(nsid_metrics_rf_fit(&fit, NULL, swapped, t, 5, &err) == 0 && fit.corr[0] > 0.999 && fit.corr[1] > 0.999,
          "... which the affine fit hides (r %g %g)", fit.corr[0], fit.corr[1]);
}

int main(void)
{
    test_against_reference();
    test_edge_cases();
    return check_summary("metrics");
}
