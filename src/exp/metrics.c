/* metrics.c - evaluation measures of docs/paper.md §6 (see metrics.h). */
#include "metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

/* ---- repeat groups ----------------------------------------------------------------- */

struct id_idx {
    int64_t id, idx;
};

static int cmp_id_idx(const void *pa, const void *pb)
{
    const struct id_idx *a = pa, *b = pb;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Trials grouped by id (repeats of an image): order (T) holds the trial indices sorted by
 * (id, index), and group k is order[start[k] .. start[k + 1]), n groups. */
struct groups {
    int64_t n;
    int64_t *order;
    int64_t *start;  /* (n + 1) */
};

/* Group the T trials by id. */
static int groups_init(struct groups *g, const int64_t *id, int64_t T, struct nsid_err *err)
{
    memset(g, 0, sizeof *g);
    size_t T_ = (size_t)T;
    struct id_idx *tmp = NSID_ALLOC(nsid_alloc_mul_size(T_, sizeof *tmp, err), err);
    g->order = NSID_ALLOC(nsid_alloc_mul_size(T_, sizeof *g->order, err), err);
    g->start = NSID_ALLOC(nsid_alloc_mul_size(T_ + 1, sizeof *g->start, err), err);
    if (!tmp || !g->order || !g->start) {
        nsid_alloc_free(tmp);
        nsid_alloc_free(g->order);
        nsid_alloc_free(g->start);
        return NSID_ENOMEM;
    }
    for (int64_t t = 0; t < T; t++) tmp[t] = (struct id_idx){id[t], t};
    qsort(tmp, T_, sizeof *tmp, cmp_id_idx);
    for (int64_t t = 0; t < T; t++) {
        if (t == 0 || tmp[t].id != tmp[t - 1].id) g->start[g->n++] = t;
        g->order[t] = tmp[t].idx;
    }
    g->start[g->n] = T;
    nsid_alloc_free(tmp);
    return 0;
}

static void groups_free(struct groups *g)
{
    nsid_alloc_free(g->order);
    nsid_alloc_free(g->start);
}

static int64_t group_size(const struct groups *g, int64_t k)
{
    return g->start[k + 1] - g->start[k];
}

/* ---- per-neuron correlation accumulator (two passes: means, then centred sums) -------- */

struct acc {
    int64_t N;                   /* neurons */
    double count;                /* samples added in the current pass */
    double *m1, *m2;             /* (N) sums, then means */
    double *s11, *s22, *s12;     /* (N) centred sums of squares / products */
};

static void acc_add_mean(struct acc *a, const double *x, const double *y)
{
    for (int64_t n = 0; n < a->N; n++) {
        a->m1[n] += x[n];
        a->m2[n] += y[n];
    }
    a->count += 1;
}

/* End of the first pass: sums become means; the second pass counts again. */
static void acc_finish_means(struct acc *a)
{
    for (int64_t n = 0; n < a->N; n++) {
        a->m1[n] /= a->count;
        a->m2[n] /= a->count;
    }
    a->count = 0;
}

static void acc_add_centred(struct acc *a, const double *x, const double *y)
{
    for (int64_t n = 0; n < a->N; n++) {
        double d1 = x[n] - a->m1[n], d2 = y[n] - a->m2[n];
        a->s11[n] += d1 * d1;
        a->s22[n] += d2 * d2;
        a->s12[n] += d1 * d2;
    }
    a->count += 1;
}

/*
 * corr = mean(d1 d2) / ((std1 + eps)(std2 + eps)), std with ddof 0; NaN (undefined) when a
 * column is constant (its centred sum of squares is exactly 0: the mean of copies of one float
 * is that float in double, so only a constant column gets there), when there are fewer than
 * 2 samples, or when a value is not finite. neuralpredictors reports those as 0 (or as a
 * meaningless ratio of rounding errors); a 0 would be averaged in as a real correlation.
 */
static void acc_result(const struct acc *a, double *out)
{
    for (int64_t n = 0; n < a->N; n++) {
        double sd1 = sqrt(a->s11[n] / a->count), sd2 = sqrt(a->s22[n] / a->count);
        double c = (a->s12[n] / a->count) / ((sd1 + NSID_CORR_EPS) * (sd2 + NSID_CORR_EPS));
        bool undefined = a->count < 2 || !(a->s11[n] > 0) || !(a->s22[n] > 0) || !isfinite(c);
        out[n] = undefined ? (double)NAN : c;
    }
}

/* Workspace: k vectors of N doubles in one zeroed block. */
static double *work_alloc(int64_t N, int k, struct nsid_err *err)
{
    size_t n = nsid_alloc_mul_size((size_t)N, (size_t)k, err);
    if (!n) return NULL;
    return NSID_CALLOC(nsid_alloc_mul_size(n, sizeof(double), err), err);
}

static void acc_bind(struct acc *a, double *w, int64_t N)
{
    a->N = N;
    a->count = 0;
    a->m1 = w;
    a->m2 = w + N;
    a->s11 = w + 2 * N;
    a->s22 = w + 3 * N;
    a->s12 = w + 4 * N;
}

static void row_to_double(double *dst, const float *src, int64_t N)
{
    for (int64_t n = 0; n < N; n++) dst[n] = (double)src[n];
}

/* ---- argument checks --------------------------------------------------------------- */

static int check_data(const struct nsid_metric_data *d, int need_pred, int need_group, const char *what,
                      struct nsid_err *err)
{
    if (!d || !d->target)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, what, "no target responses given");
    if (need_pred && !d->pred)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, what, "no predictions given");
    if (need_group && !d->group)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, what, "no repeat-group ids (frame_image_id) given");
    if (d->n_trials < 1 || d->n_neurons < 1)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, what, "%lld trials x %lld neurons: need at least 1 x 1",
                            (long long)d->n_trials, (long long)d->n_neurons);
    if (!nsid_alloc_mul_size((size_t)d->n_trials, (size_t)d->n_neurons, err)) return NSID_EINVAL;
    return 0;
}

/* ---- correlations ------------------------------------------------------------------ */

int nsid_metrics_corr(double *out, const struct nsid_metric_data *d, struct nsid_err *err)
{
    if (check_data(d, 1, 0, "corr", err) < 0) return NSID_EINVAL;
    const int64_t T = d->n_trials, N = d->n_neurons;
    double *w = work_alloc(N, 7, err);
    if (!w) return NSID_ENOMEM;
    struct acc a;
    acc_bind(&a, w, N);
    double *x = w + 5 * N, *y = w + 6 * N;
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t t = 0; t < T; t++) {
            row_to_double(x, d->pred + t * N, N);
            row_to_double(y, d->target + t * N, N);
            if (pass == 0) acc_add_mean(&a, x, y);
            else acc_add_centred(&a, x, y);
        }
        if (pass == 0) acc_finish_means(&a);
    }
    acc_result(&a, out);
    nsid_alloc_free(w);
    return 0;
}

/* mean over the trials of group k of rows of m -> dst (N). */
static void group_mean(double *dst, const float *m, const struct groups *g, int64_t k, int64_t N)
{
    memset(dst, 0, (size_t)N * sizeof *dst);
    for (int64_t j = g->start[k]; j < g->start[k + 1]; j++) {
        const float *row = m + g->order[j] * N;
        for (int64_t n = 0; n < N; n++) dst[n] += (double)row[n];
    }
    double r = (double)group_size(g, k);
    for (int64_t n = 0; n < N; n++) dst[n] /= r;
}

int nsid_metrics_corr_avg(double *out, const struct nsid_metric_data *d, struct nsid_err *err)
{
    if (check_data(d, 1, 1, "corr_avg", err) < 0) return NSID_EINVAL;
    const int64_t N = d->n_neurons;
    struct groups g;
    if (groups_init(&g, d->group, d->n_trials, err) < 0) return NSID_ENOMEM;
    double *w = work_alloc(N, 7, err);
    if (!w) { groups_free(&g); return NSID_ENOMEM; }
    struct acc a;
    acc_bind(&a, w, N);
    double *x = w + 5 * N, *y = w + 6 * N;
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t k = 0; k < g.n; k++) {
            group_mean(x, d->pred, &g, k, N);
            group_mean(y, d->target, &g, k, N);
            if (pass == 0) acc_add_mean(&a, x, y);
            else acc_add_centred(&a, x, y);
        }
        if (pass == 0) acc_finish_means(&a);
    }
    acc_result(&a, out);
    nsid_alloc_free(w);
    groups_free(&g);
    return 0;
}

/* ---- oracle ------------------------------------------------------------------------ */

static int64_t count_repeated(const struct groups *g)
{
    int64_t k2 = 0;
    for (int64_t k = 0; k < g->n; k++) k2 += group_size(g, k) >= 2;
    return k2;
}

static int no_repeats(const char *what, int64_t n_groups, struct nsid_err *err)
{
    return nsid_err_set(err, NSID_EINVAL, NULL, 0, what,
                        "no image has 2 or more repeats (%lld distinct repeat-group ids): "
                        "this measure needs repeated test images", (long long)n_groups);
}

int nsid_metrics_oracle(double *out, const struct nsid_metric_data *d, struct nsid_err *err)
{
    if (check_data(d, 0, 1, "oracle", err) < 0) return NSID_EINVAL;
    const int64_t N = d->n_neurons;
    struct groups g;
    if (groups_init(&g, d->group, d->n_trials, err) < 0) return NSID_ENOMEM;
    if (count_repeated(&g) == 0) {
        groups_free(&g);
        return no_repeats("oracle", g.n, err);
    }
    double *w = work_alloc(N, 8, err);
    if (!w) { groups_free(&g); return NSID_ENOMEM; }
    struct acc a;
    acc_bind(&a, w, N);
    double *x = w + 5 * N, *o = w + 6 * N, *sum = w + 7 * N;
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t k = 0; k < g.n; k++) {
            int64_t r = group_size(&g, k);
            if (r < 2) continue;
            memset(sum, 0, (size_t)N * sizeof *sum);
            for (int64_t j = g.start[k]; j < g.start[k + 1]; j++) {
                const float *row = d->target + g.order[j] * N;
                for (int64_t n = 0; n < N; n++) sum[n] += (double)row[n];
            }
            for (int64_t j = g.start[k]; j < g.start[k + 1]; j++) {
                row_to_double(x, d->target + g.order[j] * N, N);
                for (int64_t n = 0; n < N; n++) o[n] = (sum[n] - x[n]) / (double)(r - 1);
                if (pass == 0) acc_add_mean(&a, x, o);
                else acc_add_centred(&a, x, o);
            }
        }
        if (pass == 0) acc_finish_means(&a);
    }
    acc_result(&a, out);
    nsid_alloc_free(w);
    groups_free(&g);
    return 0;
}

int nsid_metrics_fraction_oracle(double *slope, const double *oracle, const double *corr, int64_t n,
                                struct nsid_err *err)
{
    if (!oracle || !corr || n < 1)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "fraction_oracle",
                            "need oracle and test correlations of at least one neuron (got %lld)", (long long)n);
    double oc = 0, oo = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(oracle[i]) || isnan(corr[i])) continue; /* an undefined neuron: not in the fit */
        oc += oracle[i] * corr[i];
        oo += oracle[i] * oracle[i];
    }
    *slope = oo > 0 ? oc / oo : (double)NAN;
    return 0;
}

/* ---- FEV / FEVE -------------------------------------------------------------------- */

int nsid_metrics_fev(double *fev, double *feve, const struct nsid_metric_data *d, struct nsid_err *err)
{
    if (check_data(d, 1, 1, "fev", err) < 0) return NSID_EINVAL;
    const int64_t N = d->n_neurons;
    struct groups g;
    if (groups_init(&g, d->group, d->n_trials, err) < 0) return NSID_ENOMEM;
    int64_t n_img = count_repeated(&g);
    if (n_img == 0) {
        groups_free(&g);
        return no_repeats("fev", g.n, err);
    }
    double *w = work_alloc(N, 6, err);
    if (!w) { groups_free(&g); return NSID_ENOMEM; }
    double *mean = w, *total = w + N, *noise = w + 2 * N, *pred = w + 3 * N, *gmean = w + 4 * N,
           *gss = w + 5 * N;
    int64_t M = 0; /* trials of repeated images */
    for (int64_t k = 0; k < g.n; k++) {
        if (group_size(&g, k) < 2) continue;
        for (int64_t j = g.start[k]; j < g.start[k + 1]; j++) {
            const float *x = d->target + g.order[j] * N;
            for (int64_t n = 0; n < N; n++) mean[n] += (double)x[n];
            M++;
        }
    }
    for (int64_t n = 0; n < N; n++) mean[n] /= (double)M;
    for (int64_t k = 0; k < g.n; k++) {
        int64_t r = group_size(&g, k);
        if (r < 2) continue;
        group_mean(gmean, d->target, &g, k, N);
        memset(gss, 0, (size_t)N * sizeof *gss);
        for (int64_t j = g.start[k]; j < g.start[k + 1]; j++) {
            const float *x = d->target + g.order[j] * N, *p = d->pred + g.order[j] * N;
            for (int64_t n = 0; n < N; n++) {
                double dt = (double)x[n] - mean[n], dg = (double)x[n] - gmean[n], dp = (double)x[n] - (double)p[n];
                total[n] += dt * dt;
                gss[n] += dg * dg;
                pred[n] += dp * dp;
            }
        }
        for (int64_t n = 0; n < N; n++) noise[n] += gss[n] / (double)(r - 1);
    }
    for (int64_t n = 0; n < N; n++) {
        double tv = total[n] / (double)(M - 1), nv = noise[n] / (double)n_img, pv = pred[n] / (double)M;
        if (fev) fev[n] = tv != 0 ? (tv - nv) / tv : (double)NAN;
        if (feve) feve[n] = tv - nv != 0 ? 1.0 - (pv - nv) / (tv - nv) : (double)NAN;
    }
    nsid_alloc_free(w);
    groups_free(&g);
    return 0;
}

void nsid_metrics_mean_defined(double *mean, int64_t *count, const double *x, int64_t n)
{
    double s = 0;
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(x[i])) continue;
        s += x[i];
        c++;
    }
    *count = c;
    *mean = c > 0 ? s / (double)c : (double)NAN;
}

void nsid_metrics_feve_mean(double *mean, int64_t *count, const double *fev, const double *feve, int64_t n,
                           double threshold)
{
    double s = 0;
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!(fev[i] > threshold) || isnan(feve[i])) continue;
        s += feve[i];
        c++;
    }
    *count = c;
    *mean = c > 0 ? s / (double)c : (double)NAN;
}

/* ---- receptive-field recovery ------------------------------------------------------ */

/* corr (§6.1) of two strided double sequences of length n. */
static double corr_strided(const double *x, const double *y, int64_t stride, int64_t n)
{
    double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
    for (int64_t i = 0; i < n; i++) {
        mx += x[i * stride];
        my += y[i * stride];
    }
    mx /= (double)n;
    my /= (double)n;
    for (int64_t i = 0; i < n; i++) {
        double dx = x[i * stride] - mx, dy = y[i * stride] - my;
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    double c = (sxy / (double)n) /
               ((sqrt(sxx / (double)n) + NSID_CORR_EPS) * (sqrt(syy / (double)n) + NSID_CORR_EPS));
    return isnan(c) ? 0.0 : c;
}

int nsid_metrics_rf_fit(struct nsid_rf_fit *fit, double *dist, const double *learned, const double *truth,
                       int64_t n, struct nsid_err *err)
{
    if (!learned || !truth || n < 3)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "rf_fit",
                            "need learned and true positions of at least 3 neurons (got %lld)", (long long)n);
    double ml[2] = {0, 0}, mt[2] = {0, 0};
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < 2; c++) {
            ml[c] += learned[2 * i + c];
            mt[c] += truth[2 * i + c];
        }
    for (int c = 0; c < 2; c++) {
        ml[c] /= (double)n;
        mt[c] /= (double)n;
    }
    /* Centred normal equations: Cll X = Clt, then A = X^T, b = mean_t - A mean_l. */
    double cll[2][2] = {{0, 0}, {0, 0}}, clt[2][2] = {{0, 0}, {0, 0}};
    for (int64_t i = 0; i < n; i++) {
        double dl[2] = {learned[2 * i] - ml[0], learned[2 * i + 1] - ml[1]};
        double dt[2] = {truth[2 * i] - mt[0], truth[2 * i + 1] - mt[1]};
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 2; c++) {
                cll[r][c] += dl[r] * dl[c];
                clt[r][c] += dl[r] * dt[c];
            }
    }
    double det = cll[0][0] * cll[1][1] - cll[0][1] * cll[1][0];
    double tr = cll[0][0] + cll[1][1];
    if (!(isfinite(det) && det > 1e-12 * tr * tr))
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "rf_fit",
                            "the %lld learned positions lie on a line or a point (or are not finite): "
                            "the affine map to the true centres is undetermined", (long long)n);
    double inv[2][2] = {{cll[1][1] / det, -cll[0][1] / det}, {-cll[1][0] / det, cll[0][0] / det}};
    for (int out = 0; out < 2; out++) {
        for (int in = 0; in < 2; in++)
            fit->A[out][in] = inv[in][0] * clt[0][out] + inv[in][1] * clt[1][out];
        fit->b[out] = mt[out] - fit->A[out][0] * ml[0] - fit->A[out][1] * ml[1];
    }
    double *mapped = NSID_ALLOC(nsid_alloc_mul_size((size_t)n, 2 * sizeof(double), err), err);
    if (!mapped) return NSID_ENOMEM;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double e2 = 0;
        for (int c = 0; c < 2; c++) {
            mapped[2 * i + c] = fit->A[c][0] * learned[2 * i] + fit->A[c][1] * learned[2 * i + 1] + fit->b[c];
            double e = mapped[2 * i + c] - truth[2 * i + c];
            e2 += e * e;
        }
        if (dist) dist[i] = sqrt(e2);
        sum += sqrt(e2);
    }
    fit->mean_dist = sum / (double)n;
    for (int c = 0; c < 2; c++) fit->corr[c] = corr_strided(mapped + c, truth + c, 2, n);
    nsid_alloc_free(mapped);
    return 0;
}

void nsid_metrics_rf_direct(double corr[2], double *mean_dist, const double *learned, const double *truth,
                           int64_t n)
{
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += hypot(learned[2 * i] - truth[2 * i], learned[2 * i + 1] - truth[2 * i + 1]);
    *mean_dist = n > 0 ? sum / (double)n : (double)NAN;
    for (int c = 0; c < 2; c++) corr[c] = corr_strided(learned + c, truth + c, 2, n);
}
