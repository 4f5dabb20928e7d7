/* transform.c - NeuroNormalizer and statistics (see transform.h). */
#include "transform.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "data/scan_int.h"

/* ================================================================ statistics */

/* k-th smallest of v[0..n) (v is reordered). */
static float select_kth(float *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = v[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) {
                float t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return v[k];
    }
    return v[k];
}

/* numpy's median: the middle value, or the mean of the two middle values. */
static float median_of(float *v, size_t n)
{
    if (n == 0) return NAN;
    float hi = select_kth(v, n, n / 2);
    if (n % 2) return hi;
    float lo = v[0];
    for (size_t i = 1; i < n / 2; i++) /* the largest of the lower half */
        if (v[i] > lo) lo = v[i];
    return (lo + hi) / 2.0f;
}

struct colstats {
    float mean, std, min, max, median;
};

/* Statistics of v[i * stride], i < n (scratch holds n floats). */
static void stats_of(const float *v, size_t n, size_t stride, float *scratch, struct colstats *st)
{
    double sum = 0.0, ss = 0.0;
    float mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        float x = v[i * stride];
        sum += (double)x;
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
        scratch[i] = x;
    }
    double mean = n ? sum / (double)n : (double)NAN;
    for (size_t i = 0; i < n; i++) {
        double d = (double)v[i * stride] - mean;
        ss += d * d;
    }
    st->mean = (float)mean;
    st->std = n ? (float)sqrt(ss / (double)n) : NAN;
    st->min = mn;
    st->max = mx;
    st->median = median_of(scratch, n);
}

static const char *const stat_names[5] = {"mean", "std", "min", "max", "median"};

int nsid_transform_scan_compute_stats(const struct nsid_scan *s, const char *data, struct nsid_arrays *out,
                            struct nsid_err *err)
{
    const float *v;
    size_t cols, rows = (size_t)s->n_trials;
    bool scalar = false;
    if (strcmp(data, "images") == 0) {
        v = s->images;
        cols = 1;
        rows *= (size_t)s->channels * (size_t)s->height * (size_t)s->width;
        scalar = true;
    } else if (strcmp(data, "responses") == 0) {
        v = s->responses;
        cols = (size_t)s->n_neurons;
    } else if (strcmp(data, "behavior") == 0) {
        v = s->behavior;
        cols = 3;
    } else if (strcmp(data, "pupil_center") == 0) {
        v = s->pupil_center;
        cols = 2;
    } else {
        return nsid_err_set(err, NSID_EINVAL, nsid__scan_file(s), 0, data, "no statistics for this array");
    }
    if (!v) return nsid_err_set(err, NSID_ENOTFOUND, nsid__scan_file(s), 0, data, "the scan has no %s", data);
    /* Columns are gathered BLOCK at a time (row-major reads), then summarised contiguously. */
    enum { BLOCK = 64 };
    size_t nb = cols < BLOCK ? cols : BLOCK;
    float *scratch = NSID_ALLOC(nsid_alloc_mul_size(rows, sizeof(float), err), err);
    float *block = cols > 1 ? NSID_ALLOC(nsid_alloc_mul_size(rows, nb * sizeof(float), err), err) : NULL;
    float *res = NSID_ALLOC(5 * cols * sizeof(float), err);
    int rc = scratch && res && (block || cols == 1) ? 0 : NSID_ENOMEM;
    for (size_t c0 = 0; !rc && c0 < cols; c0 += nb) {
        size_t w = cols - c0 < nb ? cols - c0 : nb;
        if (block)
            for (size_t t = 0; t < rows; t++)
                for (size_t j = 0; j < w; j++) block[j * rows + t] = v[t * cols + c0 + j];
        for (size_t j = 0; j < w; j++) {
            struct colstats st;
            stats_of(block ? block + j * rows : v, rows, 1, scratch, &st);
            float vals[5] = {st.mean, st.std, st.min, st.max, st.median};
            for (int m = 0; m < 5; m++) res[(size_t)m * cols + c0 + j] = vals[m];
        }
    }
    nsid_alloc_free(block);
    for (int m = 0; !rc && m < 5; m++) {
        struct nsid_array a;
        memset(&a, 0, sizeof a);
        snprintf(a.name, sizeof a.name, "%s/all/%s", data, stat_names[m]);
        a.dtype = NSID_DT_F32;
        a.itemsize = 4;
        a.ndim = scalar ? 0 : 1;
        a.shape[0] = (int64_t)cols;
        a.data = res + (size_t)m * cols;
        rc = nsid_scan_arrays_add(out, &a, err);
    }
    nsid_alloc_free(scratch);
    nsid_alloc_free(res);
    return rc;
}

int nsid_transform_scan_add_stats(struct nsid_scan *s, struct nsid_err *err)
{
    static const char *const data[4] = {"images", "responses", "behavior", "pupil_center"};
    const void *have[4] = {s->images, s->responses, s->behavior, s->pupil_center};
    for (int d = 0; d < 4; d++) {
        if (!have[d]) continue;
        struct nsid_arrays tmp = {0};
        int rc = nsid_transform_scan_compute_stats(s, data[d], &tmp, err);
        for (int i = 0; !rc && i < tmp.n; i++)
            if (!nsid_scan_arrays_find(&s->stats, tmp.a[i].name)) rc = nsid_scan_arrays_take(&s->stats, &tmp.a[i], err);
        nsid_scan_arrays_free(&tmp);
        if (rc) return rc;
    }
    return 0;
}

/* ================================================================ normaliser */

static void norm_warn(const struct nsid_norm_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void norm_warn(const struct nsid_norm_opts *o, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct nsid_scan_opts so = {0};
    if (o) {
        so.warn = o->warn;
        so.warn_ctx = o->warn_ctx;
    }
    nsid_scan_warn(&so, "%s", msg);
}

/*
 * Statistic "<data>/all/<m>" into out[0..n): from the file if present (numel
 * must be n, or 1 when allow_scalar: broadcast), else computed.
 */
/* The first element of a that is no usable statistic (not finite, or a negative std), or -1. */
static int64_t bad_stat(const struct nsid_array *a, size_t k, bool is_std, double *x)
{
    for (size_t i = 0; i < k; i++) {
        *x = nsid_scan_array_get_f64(a, i);
        if (!isfinite(*x) || fabs(*x) > (double)FLT_MAX || (is_std && *x < 0.0)) return (int64_t)i;
    }
    return -1;
}

static int get_stat(struct nsid_norm *nm, const struct nsid_scan *s, const struct nsid_norm_opts *o,
                    const char *data, const char *m, size_t n, bool allow_scalar, float *out, size_t *got,
                    struct nsid_err *err)
{
    char key[NSID_KEY_MAX];
    snprintf(key, sizeof key, "%s/all/%s", data, m);
    const struct nsid_array *a = nsid_scan_arrays_find(&s->stats, key);
    struct nsid_arrays tmp = {0};
    bool is_std = strcmp(m, "std") == 0;
    double x = 0.0;
    int64_t bad = -1;
    /* Statistics scale the data: each one must be a finite float, and a std not negative (a
     * NaN, Inf or negative std made every loss NaN and every metric 0). */
    if (a && a->dtype != NSID_DT_STR && (bad = bad_stat(a, nsid_scan_array_numel(a), is_std, &x)) >= 0) {
        if (!o || !o->recompute_nonfinite)
            return nsid_err_set(err, NSID_EFORMAT, nsid__scan_file(s), 0, key,
                                "element %lld is %g: statistics must be finite numbers%s", (long long)bad, x,
                                is_std && x < 0.0 ? " and a standard deviation cannot be negative"
                                                  : " (data.drop_nan_trials recomputes them from the kept trials)");
        norm_warn(o, "%s: statistics/%s element %lld is %g: computed from the %lld trials kept instead",
                  nsid__scan_file(s), key, (long long)bad, x, (long long)s->n_trials);
        a = NULL;
    } else if (!a) {
        norm_warn(o, "%s: statistics/%s missing: computed from all %lld trials", nsid__scan_file(s), key,
                  (long long)s->n_trials);
    }
    if (!a) {
        int rc = nsid_transform_scan_compute_stats(s, data, &tmp, err);
        if (rc) return rc;
        a = nsid_scan_arrays_find(&tmp, key);
        nm->stats_computed++;
    }
    size_t k = nsid_scan_array_numel(a);
    int rc = 0;
    if (a->dtype == NSID_DT_STR || !(k == n || (allow_scalar && k == 1))) {
        rc = nsid_err_set(err, NSID_ESHAPE, nsid__scan_file(s), 0, key, "%zu values (%s), expected %zu%s",
                          k, nsid_scan_dtype_name(a->dtype), n, allow_scalar ? " or 1" : "");
    } else if ((bad = bad_stat(a, k, is_std, &x)) >= 0) { /* computed from data that is itself bad */
        rc = nsid_err_set(err, NSID_EFORMAT, nsid__scan_file(s), 0, key, "element %lld is %g: statistics must be "
                          "finite numbers", (long long)bad, x);
    } else {
        for (size_t i = 0; i < k; i++) out[i] = (float)nsid_scan_array_get_f64(a, i);
        if (got) *got = k;
    }
    nsid_scan_arrays_free(&tmp);
    return rc;
}

/* p = 1/s, floored at 0.01 * mean(s) (the NeuroNormalizer rule). */
static int64_t precision_floored(const float *sd, size_t n, float *p, double *threshold)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += (double)sd[i];
    double thr = 0.01 * (sum / (double)n);
    int64_t floored = 0;
    for (size_t i = 0; i < n; i++) {
        if ((double)sd[i] > thr) {
            p[i] = 1.0f / sd[i];
        } else {
            p[i] = 1.0f / (float)thr;
            floored++;
        }
    }
    *threshold = thr;
    return floored;
}

/* Neurons whose responses are identical in every trial: warn, they get the floor. */
static int find_constant(struct nsid_norm *nm, const struct nsid_scan *s, const struct nsid_norm_opts *o,
                         struct nsid_err *err)
{
    size_t N = (size_t)s->n_neurons;
    float *mn = NSID_ALLOC(2 * N * sizeof(float), err);
    if (!mn) return NSID_ENOMEM;
    float *mx = mn + N;
    memcpy(mn, s->responses, N * sizeof(float));
    memcpy(mx, s->responses, N * sizeof(float));
    for (int64_t t = 1; t < s->n_trials; t++) {
        const float *r = s->responses + (size_t)t * N;
        for (size_t n = 0; n < N; n++) {
            mn[n] = r[n] < mn[n] ? r[n] : mn[n];
            mx[n] = r[n] > mx[n] ? r[n] : mx[n];
        }
    }
    int64_t first = -1;
    for (size_t n = 0; n < N; n++) {
        if (mn[n] != mx[n]) continue;
        if (first < 0) first = (int64_t)n;
        nm->n_constant++;
    }
    if (nm->n_constant)
        norm_warn(o, "%s: %lld neuron(s) never vary across the %lld trials (first: index %lld%s%lld, value %g); "
                  "their responses are scaled by the floor 1/(0.01 mean std)", nsid__scan_file(s),
                  (long long)nm->n_constant, (long long)s->n_trials, (long long)first,
                  s->unit_ids ? ", unit_id " : "", s->unit_ids ? (long long)s->unit_ids[first] : 0LL,
                  (double)mn[first]);
    nsid_alloc_free(mn);
    return 0;
}

static int init_responses(struct nsid_norm *nm, const struct nsid_scan *s, const struct nsid_norm_opts *o,
                          struct nsid_err *err)
{
    size_t N = (size_t)s->n_neurons;
    nm->resp_scale = NSID_ALLOC(N * sizeof(float), err);
    if (!nm->resp_scale) return NSID_ENOMEM;
    if (o && o->raw_responses) {
        for (size_t i = 0; i < N; i++) nm->resp_scale[i] = 1.0f;
        return 0;
    }
    float *sd = NSID_ALLOC(N * sizeof(float), err);
    if (!sd) return NSID_ENOMEM;
    int rc = get_stat(nm, s, o, "responses", "std", N, false, sd, NULL, err);
    if (!rc) nm->n_floored = precision_floored(sd, N, nm->resp_scale, &nm->resp_threshold);
    nsid_alloc_free(sd);
    /* The floor is 1% of the mean std: when every std is 0 (or the mean is denormal), there is
     * no scale to divide by. */
    if (!rc && !(nm->resp_threshold >= (double)FLT_MIN && 1.0 / nm->resp_threshold <= (double)FLT_MAX))
        rc = nsid_err_set(err, NSID_EFORMAT, nsid__scan_file(s), 0, "responses/all/std",
                          "the mean std over the neurons is %g: the responses cannot be scaled by it (all "
                          "neurons constant, or statistics of other data?)", nm->resp_threshold / 0.01);
    if (!rc) rc = find_constant(nm, s, o, err);
    return rc;
}

static int init_images(struct nsid_norm *nm, const struct nsid_scan *s, const struct nsid_norm_opts *o,
                       struct nsid_err *err)
{
    if (!o || !o->zscore_images) return 0;
    size_t P = (size_t)s->channels * (size_t)s->height * (size_t)s->width, k1 = 0, k2 = 0;
    nm->zscore_images = true;
    nm->img_mean = NSID_ALLOC(2 * P * sizeof(float), err);
    if (!nm->img_mean) return NSID_ENOMEM;
    nm->img_std = nm->img_mean + P;
    int rc = get_stat(nm, s, o, "images", "mean", P, true, nm->img_mean, &k1, err);
    if (!rc) rc = get_stat(nm, s, o, "images", "std", P, true, nm->img_std, &k2, err);
    if (rc) return rc;
    /* broadcast a scalar mean or std to every pixel */
    for (size_t i = 1; i < P; i++) {
        if (k1 == 1) nm->img_mean[i] = nm->img_mean[0];
        if (k2 == 1) nm->img_std[i] = nm->img_std[0];
    }
    for (size_t i = 0; i < P; i++)
        if (!(nm->img_std[i] > 0.0f))
            return nsid_err_set(err, NSID_EFORMAT, nsid__scan_file(s), 0, "images/all/std",
                                "pixel %zu: std %g, expected > 0 to z-score the images", i, (double)nm->img_std[i]);
    nm->img_n = (int64_t)P;
    return 0;
}

static int init_behavior(struct nsid_norm *nm, const struct nsid_scan *s, const struct nsid_norm_opts *o,
                         struct nsid_err *err)
{
    for (int k = 0; k < 3; k++) nm->beh_scale[k] = 1.0f;
    for (int k = 0; k < 2; k++) {
        nm->pupil_mean[k] = 0.0f;
        nm->pupil_std[k] = 1.0f;
    }
    if (o && o->raw_behavior) return 0;
    int rc = 0;
    if (s->behavior) {
        float sd[3];
        double thr;
        rc = get_stat(nm, s, o, "behavior", "std", 3, false, sd, NULL, err);
        if (!rc) precision_floored(sd, 3, nm->beh_scale, &thr);
        nm->has_behavior = true;
    }
    if (!rc && s->pupil_center) {
        rc = get_stat(nm, s, o, "pupil_center", "mean", 2, false, nm->pupil_mean, NULL, err);
        if (!rc) rc = get_stat(nm, s, o, "pupil_center", "std", 2, false, nm->pupil_std, NULL, err);
        for (int k = 0; !rc && k < 2; k++) {
            if (nm->pupil_std[k] > 0.0f) continue;
            norm_warn(o, "%s: pupil_center std %d is %g: left unscaled", nsid__scan_file(s), k,
                      (double)nm->pupil_std[k]);
            nm->pupil_std[k] = 1.0f;
        }
    }
    return rc;
}

int nsid_transform_norm_init(struct nsid_norm *nm, const struct nsid_scan *s, const struct nsid_norm_opts *o,
                   struct nsid_err *err)
{
    memset(nm, 0, sizeof *nm);
    nm->n_neurons = s->n_neurons;
    int rc = init_responses(nm, s, o, err);
    if (!rc) rc = init_images(nm, s, o, err);
    if (!rc) rc = init_behavior(nm, s, o, err);
    if (rc) nsid_transform_norm_free(nm);
    return rc;
}

void nsid_transform_norm_free(struct nsid_norm *nm)
{
    if (!nm) return;
    nsid_alloc_free(nm->resp_scale);
    nsid_alloc_free(nm->img_mean); /* img_std lives in the same block */
    memset(nm, 0, sizeof *nm);
}

void nsid_transform_norm_responses(const struct nsid_norm *nm, const float *raw, const int64_t *sel, int64_t n, float *out)
{
    const float *p = nm->resp_scale;
    if (!sel) {
        for (int64_t j = 0; j < n; j++) out[j] = raw[j] * p[j];
        return;
    }
    for (int64_t j = 0; j < n; j++) out[j] = raw[sel[j]] * p[sel[j]];
}

void nsid_transform_norm_image(const struct nsid_norm *nm, const float *raw, int64_t numel, float *out)
{
    if (!nm->zscore_images) {
        if (out != raw) memcpy(out, raw, (size_t)numel * sizeof(float));
        return;
    }
    for (int64_t i = 0; i < numel; i++) out[i] = (raw[i] - nm->img_mean[i]) / nm->img_std[i];
}

void nsid_transform_norm_behavior(const struct nsid_norm *nm, const float *raw, float *out)
{
    for (int k = 0; k < 3; k++) out[k] = raw[k] * nm->beh_scale[k];
}

void nsid_transform_norm_pupil(const struct nsid_norm *nm, const float *raw, float *out)
{
    for (int k = 0; k < 2; k++) out[k] = (raw[k] - nm->pupil_mean[k]) / nm->pupil_std[k];
}
