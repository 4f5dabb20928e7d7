/* scan.c - the in-memory scan: lifetime, metadata lists, checks (see scan.h). */
#include "scan.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "data/scan_int.h"

/* ---------------------------------------------------------------- lifetime */

void nsid_scan_init(struct nsid_scan *s)
{
    memset(s, 0, sizeof *s);
}

void nsid_scan_free(struct nsid_scan *s)
{
    if (!s) return;
    nsid_alloc_free(s->images);
    nsid_alloc_free(s->responses);
    nsid_alloc_free(s->behavior);
    nsid_alloc_free(s->pupil_center);
    nsid_alloc_free(s->tiers);
    nsid_alloc_free(s->frame_image_id);
    nsid_alloc_free(s->unit_ids);
    nsid_alloc_free(s->cell_motor_coordinates);
    nsid_alloc_free(s->multi_match_id);
    nsid_alloc_free(s->animal_ids);
    nsid_scan_arrays_free(&s->trials);
    nsid_scan_arrays_free(&s->neurons);
    nsid_scan_arrays_free(&s->stats);
    nsid_scan_arrays_free(&s->ground_truth);
    nsid_scan_arrays_free(&s->extra);
    nsid_alloc_free(s->config_json);
    memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------- names */

static void copy_str(char *dst, size_t n, const char *src, size_t len)
{
    if (!n) return;
    if (len >= n) len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Remove every occurrence of pat from s (in place). */
static void remove_all(char *s, const char *pat)
{
    size_t lp = strlen(pat);
    char *p;
    while ((p = strstr(s, pat)) != NULL) memmove(p, p + lp, strlen(p + lp) + 1);
}

void nsid_scan_data_key(const char *path, char *key, size_t n)
{
    char buf[NSID_PATH_MAX];
    copy_str(buf, sizeof buf, path, strlen(path));
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/') buf[--len] = '\0';
    const char *base = strrchr(buf, '/');
    base = base ? base + 1 : buf;
    /* The text after the last "static" (the authors split on it). */
    const char *start = base, *p = base;
    while ((p = strstr(p, "static")) != NULL) { start = p + 6; p += 6; }
    const char *dot = strchr(start, '.');
    size_t klen = dot ? (size_t)(dot - start) : strlen(start);
    char tmp[NSID_PATH_MAX];
    copy_str(tmp, sizeof tmp, start, klen);
    remove_all(tmp, "preproc");
    remove_all(tmp, "_nobehavior");
    copy_str(key, n, tmp, strlen(tmp));
}

static const char *const tier_names[NSID_TIER_COUNT] = {"train", "validation", "test"};

const char *nsid_scan_tier_name(int tier)
{
    if (tier < 0 || tier >= NSID_TIER_COUNT) return "?";
    return tier_names[tier];
}

int nsid_scan_tier_parse(const char *name)
{
    for (int t = 0; t < NSID_TIER_COUNT; t++)
        if (strcmp(name, tier_names[t]) == 0) return t;
    return -1;
}

/* ---------------------------------------------------------------- dtypes */

static const struct {
    const char *name;
    size_t size;
} dtype_info[NSID_DT_COUNT] = {
    [NSID_DT_F32] = {"float32", 4}, [NSID_DT_F64] = {"float64", 8},
    [NSID_DT_I8] = {"int8", 1},     [NSID_DT_I16] = {"int16", 2},
    [NSID_DT_I32] = {"int32", 4},   [NSID_DT_I64] = {"int64", 8},
    [NSID_DT_U8] = {"uint8", 1},    [NSID_DT_U16] = {"uint16", 2},
    [NSID_DT_U32] = {"uint32", 4},  [NSID_DT_U64] = {"uint64", 8},
    [NSID_DT_BOOL] = {"bool", 1},   [NSID_DT_STR] = {"str", 0},
};

size_t nsid_scan_dtype_size(int dtype)
{
    return dtype >= 0 && dtype < NSID_DT_COUNT ? dtype_info[dtype].size : 0;
}

const char *nsid_scan_dtype_name(int dtype)
{
    return dtype >= 0 && dtype < NSID_DT_COUNT ? dtype_info[dtype].name : "?";
}

bool nsid_scan_dtype_is_int(int dtype)
{
    return dtype >= NSID_DT_I8 && dtype <= NSID_DT_U64;
}

/* ---------------------------------------------------------------- arrays */

size_t nsid_scan_array_numel(const struct nsid_array *a)
{
    size_t n = 1;
    for (int d = 0; d < a->ndim; d++) n *= (size_t)a->shape[d];
    return n;
}

void nsid_scan_array_free(struct nsid_array *a)
{
    if (!a) return;
    nsid_alloc_free(a->data);
    memset(a, 0, sizeof *a);
}

void nsid_scan_arrays_free(struct nsid_arrays *l)
{
    if (!l) return;
    for (int i = 0; i < l->n; i++) nsid_alloc_free(l->a[i].data);
    nsid_alloc_free(l->a);
    memset(l, 0, sizeof *l);
}

struct nsid_array *nsid_scan_arrays_find(const struct nsid_arrays *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->a[i].name, name) == 0) return &l->a[i];
    return NULL;
}

static int arrays_grow(struct nsid_arrays *l, struct nsid_err *err)
{
    return NSID_GROW(l->a, l->n, l->cap, 16, err);
}

int nsid_scan_arrays_take(struct nsid_arrays *l, struct nsid_array *a, struct nsid_err *err)
{
    if (nsid_scan_arrays_find(l, a->name)) {
        nsid_err_set(err, NSID_EINVAL, NULL, 0, a->name, "field is present twice");
        nsid_scan_array_free(a);
        return NSID_EINVAL;
    }
    if (a->ndim < 0 || a->ndim > NSID_ARRAY_MAXDIM) {
        nsid_err_set(err, NSID_EINVAL, NULL, 0, a->name, "rank %d, at most %d supported",
                     a->ndim, NSID_ARRAY_MAXDIM);
        nsid_scan_array_free(a);
        return NSID_EINVAL;
    }
    if (arrays_grow(l, err) < 0) {
        nsid_scan_array_free(a);
        return NSID_ENOMEM;
    }
    l->a[l->n++] = *a;
    a->data = NULL;
    return 0;
}

int nsid_scan_arrays_add(struct nsid_arrays *l, const struct nsid_array *a, struct nsid_err *err)
{
    struct nsid_array c = *a;
    size_t bytes = nsid_scan_array_numel(a) * a->itemsize;
    c.data = NSID_ALLOC(bytes, err);
    if (!c.data) return NSID_ENOMEM;
    if (bytes) memcpy(c.data, a->data, bytes);
    return nsid_scan_arrays_take(l, &c, err);
}

bool nsid_scan_arrays_remove(struct nsid_arrays *l, const char *name)
{
    struct nsid_array *a = nsid_scan_arrays_find(l, name);
    if (!a) return false;
    int i = (int)(a - l->a);
    nsid_alloc_free(a->data);
    memmove(&l->a[i], &l->a[i + 1], sizeof *a * (size_t)(l->n - i - 1));
    l->n--;
    return true;
}

int nsid_scan_arrays_copy(struct nsid_arrays *dst, const struct nsid_arrays *src, struct nsid_err *err)
{
    memset(dst, 0, sizeof *dst);
    for (int i = 0; i < src->n; i++) {
        if (nsid_scan_arrays_add(dst, &src->a[i], err) < 0) {
            nsid_scan_arrays_free(dst);
            return err->code;
        }
    }
    return 0;
}

static int add_numeric(struct nsid_arrays *l, const char *name, int dtype, const void *v,
                       int64_t rows, int64_t cols, struct nsid_err *err)
{
    struct nsid_array a;
    memset(&a, 0, sizeof a);
    copy_str(a.name, sizeof a.name, name, strlen(name));
    a.dtype = dtype;
    a.itemsize = nsid_scan_dtype_size(dtype);
    a.ndim = cols > 0 ? 2 : 1;
    a.shape[0] = rows;
    a.shape[1] = cols;
    a.data = (void *)(uintptr_t)v; /* nsid_scan_arrays_add copies; never written through */
    return nsid_scan_arrays_add(l, &a, err);
}

int nsid_scan_arrays_add_i64(struct nsid_arrays *l, const char *name, const int64_t *v, int64_t rows,
                        int64_t cols, struct nsid_err *err)
{
    return add_numeric(l, name, NSID_DT_I64, v, rows, cols, err);
}

int nsid_scan_arrays_add_f64(struct nsid_arrays *l, const char *name, const double *v, int64_t rows,
                        int64_t cols, struct nsid_err *err)
{
    return add_numeric(l, name, NSID_DT_F64, v, rows, cols, err);
}

int nsid_scan_arrays_add_f32(struct nsid_arrays *l, const char *name, const float *v, int64_t rows,
                        int64_t cols, struct nsid_err *err)
{
    return add_numeric(l, name, NSID_DT_F32, v, rows, cols, err);
}

int nsid_scan_arrays_add_str(struct nsid_arrays *l, const char *name, const char *const *v, int64_t n,
                        bool unicode, struct nsid_err *err)
{
    struct nsid_array a;
    memset(&a, 0, sizeof a);
    copy_str(a.name, sizeof a.name, name, strlen(name));
    a.dtype = NSID_DT_STR;
    a.ndim = 1;
    a.shape[0] = n;
    a.str_unicode = unicode;
    size_t w = 1;
    for (int64_t i = 0; i < n; i++)
        if (strlen(v[i]) > w) w = strlen(v[i]);
    a.itemsize = w;
    a.data = NSID_CALLOC(w * (size_t)(n ? n : 1), err);
    if (!a.data) return NSID_ENOMEM;
    for (int64_t i = 0; i < n; i++) memcpy((char *)a.data + (size_t)i * w, v[i], strlen(v[i]));
    return nsid_scan_arrays_take(l, &a, err);
}

double nsid_scan_array_get_f64(const struct nsid_array *a, size_t i)
{
    const void *p = (const char *)a->data + i * a->itemsize;
    switch (a->dtype) {
    case NSID_DT_F32: return (double)*(const float *)p;
    case NSID_DT_F64: return *(const double *)p;
    case NSID_DT_I8: return *(const int8_t *)p;
    case NSID_DT_I16: return *(const int16_t *)p;
    case NSID_DT_I32: return *(const int32_t *)p;
    case NSID_DT_I64: return (double)*(const int64_t *)p;
    case NSID_DT_U8: return *(const uint8_t *)p;
    case NSID_DT_U16: return *(const uint16_t *)p;
    case NSID_DT_U32: return *(const uint32_t *)p;
    case NSID_DT_U64: return (double)*(const uint64_t *)p;
    case NSID_DT_BOOL: return *(const uint8_t *)p ? 1.0 : 0.0;
    default: return NAN;
    }
}

/* A float as int64 without undefined behaviour: truncated; NaN 0; out of range saturated. */
static int64_t f64_to_i64(double d)
{
    if (isnan(d)) return 0;
    if (d >= 9223372036854775807.0) return INT64_MAX;
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}

int64_t nsid_scan_array_get_i64(const struct nsid_array *a, size_t i)
{
    const void *p = (const char *)a->data + i * a->itemsize;
    switch (a->dtype) {
    case NSID_DT_I8: return *(const int8_t *)p;
    case NSID_DT_I16: return *(const int16_t *)p;
    case NSID_DT_I32: return *(const int32_t *)p;
    case NSID_DT_I64: return *(const int64_t *)p;
    case NSID_DT_U8: return *(const uint8_t *)p;
    case NSID_DT_U16: return *(const uint16_t *)p;
    case NSID_DT_U32: return *(const uint32_t *)p;
    case NSID_DT_U64: return (int64_t)*(const uint64_t *)p;
    case NSID_DT_BOOL: return *(const uint8_t *)p ? 1 : 0;
    case NSID_DT_F32: return f64_to_i64(*(const float *)p);
    case NSID_DT_F64: return f64_to_i64(*(const double *)p);
    default: return 0;
    }
}

void nsid_scan_array_get_str(const struct nsid_array *a, size_t i, char *buf, size_t n)
{
    const char *p = (const char *)a->data + i * a->itemsize;
    size_t len = 0;
    while (len < a->itemsize && p[len]) len++;
    copy_str(buf, n, p, len);
}

/* ---------------------------------------------------------------- warnings */

void nsid_scan_warn(const struct nsid_scan_opts *opt, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (opt && opt->warn) opt->warn(opt->warn_ctx, msg);
    else fprintf(stderr, "warning: %s\n", msg);
}

/* ---------------------------------------------------------------- validation */

void nsid_scan_tier_counts(const struct nsid_scan *s, int64_t counts[NSID_TIER_COUNT])
{
    for (int t = 0; t < NSID_TIER_COUNT; t++) counts[t] = 0;
    if (!s->tiers) return;
    for (int64_t i = 0; i < s->n_trials; i++)
        if (s->tiers[i] >= 0 && s->tiers[i] < NSID_TIER_COUNT) counts[s->tiers[i]]++;
}

static const char *scan_file(const struct nsid_scan *s)
{
    return s->path[0] ? s->path : "(scan in memory)";
}

/* Every array of a list must have `rows` rows (its first dimension). */
static int check_rows(const struct nsid_scan *s, const struct nsid_arrays *l, const char *group,
                      int64_t rows, const char *what, struct nsid_err *err)
{
    for (int i = 0; i < l->n; i++) {
        const struct nsid_array *a = &l->a[i];
        if (a->ndim >= 1 && a->shape[0] == rows) continue;
        char key[NSID_KEY_MAX * 2];
        snprintf(key, sizeof key, "%s/%s", group, a->name);
        return nsid_err_set(err, NSID_ESHAPE, scan_file(s), 0, key,
                            "%lld rows (rank %d), expected %lld (the number of %s)",
                            a->ndim ? (long long)a->shape[0] : 0LL, a->ndim, (long long)rows, what);
    }
    return 0;
}

static int decode_tiers(struct nsid_scan *s, struct nsid_err *err)
{
    const struct nsid_array *a = nsid_scan_arrays_find(&s->trials, "tiers");
    if (!a) {
        if (s->tiers) return 0;
        return nsid_err_set(err, NSID_ENOTFOUND, scan_file(s), 0, "tiers",
                            "missing: every trial needs a tier (train, validation or test)");
    }
    if (a->dtype != NSID_DT_STR || a->ndim != 1)
        return nsid_err_set(err, NSID_EFORMAT, scan_file(s), 0, "tiers",
                            "dtype %s rank %d, expected a 1-d string array", nsid_scan_dtype_name(a->dtype),
                            a->ndim);
    bool had = s->tiers != NULL;
    int8_t *t = had ? s->tiers : NSID_ALLOC((size_t)s->n_trials, err);
    if (!t) return NSID_ENOMEM;
    for (int64_t i = 0; i < s->n_trials; i++) {
        char name[256];
        nsid_scan_array_get_str(a, (size_t)i, name, sizeof name);
        int k = nsid_scan_tier_parse(name);
        if (k < 0 || (had && t[i] != k)) {
            if (!had) nsid_alloc_free(t);
            if (k < 0)
                return nsid_err_set(err, NSID_EFORMAT, scan_file(s), 0, "tiers",
                                    "trial %lld: unknown tier '%s' (expected train, validation or test)",
                                    (long long)i, name);
            return nsid_err_set(err, NSID_EINVAL, scan_file(s), 0, "tiers",
                                "trial %lld: typed tier %d disagrees with the stored '%s'",
                                (long long)i, t[i], name);
        }
        t[i] = (int8_t)k;
    }
    s->tiers = t;
    return 0;
}

/*
 * Decode list entry `name` into *dst as int64 (cols == 0) or double.
 * A typed field set before (scan built in memory) must agree with the list.
 */
static int decode_field(const struct nsid_scan *s, const struct nsid_arrays *l, const char *group,
                        const char *name, int64_t rows, int cols, bool as_double, void **dst,
                        struct nsid_err *err)
{
    const struct nsid_array *a = nsid_scan_arrays_find(l, name);
    if (!a) return 0;
    char key[NSID_KEY_MAX * 2];
    snprintf(key, sizeof key, "%s/%s", group, name);
    if (a->dtype == NSID_DT_STR)
        return nsid_err_set(err, NSID_EFORMAT, scan_file(s), 0, key,
                            "dtype str, expected a numeric array");
    bool shape_ok = cols ? (a->ndim == 2 && a->shape[1] == cols) : (a->ndim == 1);
    if (!shape_ok || a->shape[0] != rows)
        return nsid_err_set(err, NSID_ESHAPE, scan_file(s), 0, key, "rank %d (%lld x %lld), expected (%lld%s)",
                            a->ndim, (long long)a->shape[0], a->ndim > 1 ? (long long)a->shape[1] : 1LL,
                            (long long)rows, cols ? ", 3" : ",");
    size_t n = (size_t)rows * (size_t)(cols ? cols : 1);
    bool had = *dst != NULL;
    void *out = had ? *dst : NSID_ALLOC(n * 8, err);
    if (!out) return NSID_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        double v = nsid_scan_array_get_f64(a, i);
        if (as_double) {
            double *o = out;
            if (had && !(o[i] == v || (isnan(o[i]) && isnan(v)))) goto mismatch;
            o[i] = v;
        } else {
            int64_t *o = out;
            int64_t iv = nsid_scan_array_get_i64(a, i);
            if ((a->dtype == NSID_DT_F32 || a->dtype == NSID_DT_F64) &&
                (!(v > -9.2e18 && v < 9.2e18) || (double)iv != v)) { /* NaN, Inf, huge or fractional */
                if (!had) nsid_alloc_free(out);
                return nsid_err_set(err, NSID_EFORMAT, scan_file(s), 0, key,
                                    "element %zu is %g, expected an integer", i, v);
            }
            if (had && o[i] != iv) goto mismatch;
            o[i] = iv;
        }
    }
    *dst = out;
    return 0;
mismatch:
    return nsid_err_set(err, NSID_EINVAL, scan_file(s), 0, key,
                        "the typed field disagrees with the stored array");
}

static int decode_typed(struct nsid_scan *s, struct nsid_err *err)
{
    int64_t T = s->n_trials, N = s->n_neurons;
    int rc = decode_tiers(s, err);
    if (!rc) rc = decode_field(s, &s->trials, "trials", "frame_image_id", T, 0, false,
                               (void **)&s->frame_image_id, err);
    if (!rc) rc = decode_field(s, &s->neurons, "neurons", "unit_ids", N, 0, false,
                               (void **)&s->unit_ids, err);
    if (!rc) rc = decode_field(s, &s->neurons, "neurons", "cell_motor_coordinates", N, 3, true,
                               (void **)&s->cell_motor_coordinates, err);
    if (!rc) rc = decode_field(s, &s->neurons, "neurons", "multi_match_id", N, 0, false,
                               (void **)&s->multi_match_id, err);
    if (!rc) rc = decode_field(s, &s->neurons, "neurons", "animal_ids", N, 0, false,
                               (void **)&s->animal_ids, err);
    return rc;
}

/* Index of the first non-finite value in v[0..n), or -1. */
static int64_t first_nonfinite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return (int64_t)i;
    return -1;
}

/* Keep the rows with keep[i] of a (rows x row_bytes) block, in place. */
static void compact_rows(void *base, size_t row_bytes, const bool *keep, int64_t rows)
{
    if (!base) return;
    char *p = base;
    int64_t k = 0;
    for (int64_t i = 0; i < rows; i++) {
        if (!keep[i]) continue;
        if (k != i) memmove(p + (size_t)k * row_bytes, p + (size_t)i * row_bytes, row_bytes);
        k++;
    }
}

static void compact_list(struct nsid_arrays *l, const bool *keep, int64_t rows, int64_t kept)
{
    for (int i = 0; i < l->n; i++) {
        struct nsid_array *a = &l->a[i];
        size_t row = nsid_scan_array_numel(a) / (size_t)rows * a->itemsize;
        compact_rows(a->data, row, keep, rows);
        a->shape[0] = kept;
    }
}

static void drop_trials(struct nsid_scan *s, const bool *keep, int64_t kept)
{
    int64_t T = s->n_trials;
    size_t img = (size_t)s->channels * (size_t)s->height * (size_t)s->width;
    compact_rows(s->images, img * sizeof(float), keep, T);
    compact_rows(s->responses, (size_t)s->n_neurons * sizeof(float), keep, T);
    compact_rows(s->behavior, 3 * sizeof(float), keep, T);
    compact_rows(s->pupil_center, 2 * sizeof(float), keep, T);
    compact_rows(s->tiers, 1, keep, T);
    compact_rows(s->frame_image_id, sizeof(int64_t), keep, T);
    compact_list(&s->trials, keep, T, kept);
    compact_list(&s->extra, keep, T, kept);
    s->n_trials = kept;
}

/* Mark trials with NaN/Inf in images or responses; error or drop them. */
static int check_nonfinite(struct nsid_scan *s, const struct nsid_scan_opts *opt, struct nsid_err *err)
{
    int64_t T = s->n_trials, bad = 0, first = -1;
    size_t img = (size_t)s->channels * (size_t)s->height * (size_t)s->width;
    size_t N = (size_t)s->n_neurons;
    const char *first_what = "";
    int64_t first_elem = 0;
    bool *keep = NSID_ALLOC((size_t)T, err);
    if (!keep) return NSID_ENOMEM;
    /* per-trial inputs checked: images, responses, and the traces the model reads */
    const struct { const float *v; size_t n; const char *what, *elem; } in[4] = {
        {s->responses, N, "responses", "neuron"},
        {s->images, img, "images", "pixel"},
        {opt && opt->need_pupil_center ? s->pupil_center : NULL, 2, "pupil_center", "coordinate"},
        {opt && opt->need_behavior ? s->behavior : NULL, 3, "behavior", "value"},
    };
    const char *first_elem_name = "";
    for (int64_t i = 0; i < T; i++) {
        keep[i] = true;
        for (int k = 0; k < 4 && keep[i]; k++) {
            if (!in[k].v) continue;
            int64_t e = first_nonfinite(in[k].v + (size_t)i * in[k].n, in[k].n);
            if (e < 0) continue;
            keep[i] = false;
            if (bad++ == 0) {
                first = i;
                first_what = in[k].what;
                first_elem_name = in[k].elem;
                first_elem = e;
            }
        }
    }
    int rc = 0;
    if (bad && !(opt && opt->drop_nonfinite)) {
        rc = nsid_err_set(err, NSID_EFORMAT, scan_file(s), 0, first_what,
                          "%lld trial(s) hold NaN or Inf (first: trial %lld, %s %lld); expected finite "
                          "values (the option drop_nonfinite / --drop-nonfinite drops such trials)",
                          (long long)bad, (long long)first, first_elem_name, (long long)first_elem);
    } else if (bad) {
        if (bad == T) {
            rc = nsid_err_set(err, NSID_EFORMAT, scan_file(s), 0, first_what,
                              "every trial holds NaN or Inf: nothing left after dropping them");
        } else {
            nsid_scan_warn(opt, "%s: dropped %lld of %lld trials holding NaN or Inf (first: trial %lld, %s)",
                           scan_file(s), (long long)bad, (long long)T, (long long)first, first_what);
            drop_trials(s, keep, T - bad);
        }
    }
    nsid_alloc_free(keep);
    return rc;
}

static void warn_nonfinite(const struct nsid_scan *s, const struct nsid_scan_opts *opt, const float *v,
                           size_t n, const char *what)
{
    if (!v) return;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += !isfinite(v[i]);
    if (bad)
        nsid_scan_warn(opt, "%s: %s holds %zu NaN/Inf value(s); models that use it will see them",
                       scan_file(s), what, bad);
}

static int check_coordinates(const struct nsid_scan *s, struct nsid_err *err)
{
    if (!s->cell_motor_coordinates) return 0;
    for (int64_t i = 0; i < 3 * s->n_neurons; i++)
        if (!isfinite(s->cell_motor_coordinates[i]))
            return nsid_err_set(err, NSID_EFORMAT, scan_file(s), 0, "neurons/cell_motor_coordinates",
                                "neuron %lld: coordinate %lld is %g, expected a finite value (um)",
                                (long long)(i / 3), (long long)(i % 3), s->cell_motor_coordinates[i]);
    return 0;
}

static int check_sizes(const struct nsid_scan *s, struct nsid_err *err)
{
    if (s->n_trials <= 0 || s->n_neurons <= 0)
        return nsid_err_set(err, NSID_EFORMAT, scan_file(s), 0, "responses",
                            "%lld trials x %lld neurons, expected both > 0", (long long)s->n_trials,
                            (long long)s->n_neurons);
    if (s->channels <= 0 || s->height <= 0 || s->width <= 0)
        return nsid_err_set(err, NSID_EFORMAT, scan_file(s), 0, "images",
                            "image shape %d x %d x %d, expected all > 0", s->channels, s->height, s->width);
    if (!s->images || !s->responses)
        return nsid_err_set(err, NSID_ENOTFOUND, scan_file(s), 0, s->images ? "responses" : "images",
                            "missing: a scan needs images and responses");
    return 0;
}

static int check_tiers_nonempty(const struct nsid_scan *s, const struct nsid_scan_opts *opt,
                                struct nsid_err *err)
{
    if (opt && opt->allow_empty_tier) return 0;
    int64_t c[NSID_TIER_COUNT];
    nsid_scan_tier_counts(s, c);
    for (int t = 0; t < NSID_TIER_COUNT; t++)
        if (c[t] == 0)
            return nsid_err_set(err, NSID_EFORMAT, scan_file(s), 0, "tiers",
                                "the %s tier is empty (train %lld, validation %lld, test %lld trials); "
                                "expected trials in every tier", nsid_scan_tier_name(t), (long long)c[0],
                                (long long)c[1], (long long)c[2]);
    return 0;
}

int nsid_scan_validate(struct nsid_scan *s, const struct nsid_scan_opts *opt, struct nsid_err *err)
{
    int rc = check_sizes(s, err);
    if (!rc) rc = check_rows(s, &s->trials, "trials", s->n_trials, "trials", err);
    if (!rc) rc = check_rows(s, &s->extra, "data", s->n_trials, "trials", err);
    if (!rc) rc = check_rows(s, &s->neurons, "neurons", s->n_neurons, "neurons in responses", err);
    if (!rc) rc = decode_typed(s, err);
    if (!rc) rc = check_coordinates(s, err);
    if (!rc) rc = check_nonfinite(s, opt, err);
    if (rc) return rc;
    if (!(opt && opt->need_behavior)) warn_nonfinite(s, opt, s->behavior, (size_t)s->n_trials * 3, "behavior");
    if (!(opt && opt->need_pupil_center))
        warn_nonfinite(s, opt, s->pupil_center, (size_t)s->n_trials * 2, "pupil_center");
    return check_tiers_nonempty(s, opt, err);
}

/* ---------------------------------------------------------------- writer support */

const char *nsid__scan_file(const struct nsid_scan *s)
{
    return scan_file(s);
}

/* Typed int64 field vs its list entry: equal, or an error. */
static int same_i64(const struct nsid_scan *s, const struct nsid_array *a, const char *key,
                    const int64_t *v, size_t n, struct nsid_err *err)
{
    if (a->dtype == NSID_DT_STR || nsid_scan_array_numel(a) != n)
        return nsid_err_set(err, NSID_EINVAL, scan_file(s), 0, key,
                            "the typed field (%zu values) disagrees with the stored array (%s, %zu values)",
                            n, nsid_scan_dtype_name(a->dtype), nsid_scan_array_numel(a));
    for (size_t i = 0; i < n; i++)
        if (nsid_scan_array_get_i64(a, i) != v[i] || nsid_scan_array_get_f64(a, i) != (double)v[i])
            return nsid_err_set(err, NSID_EINVAL, scan_file(s), 0, key,
                                "element %zu: typed field %lld, stored array %g; change or remove one",
                                i, (long long)v[i], nsid_scan_array_get_f64(a, i));
    return 0;
}

static int same_f64(const struct nsid_scan *s, const struct nsid_array *a, const char *key,
                    const double *v, size_t n, struct nsid_err *err)
{
    if (a->dtype == NSID_DT_STR || nsid_scan_array_numel(a) != n)
        return nsid_err_set(err, NSID_EINVAL, scan_file(s), 0, key,
                            "the typed field (%zu values) disagrees with the stored array (%zu values)",
                            n, nsid_scan_array_numel(a));
    for (size_t i = 0; i < n; i++) {
        double w = nsid_scan_array_get_f64(a, i);
        if (!(w == v[i] || (isnan(w) && isnan(v[i]))))
            return nsid_err_set(err, NSID_EINVAL, scan_file(s), 0, key,
                                "element %zu: typed field %g, stored array %g; change or remove one",
                                i, v[i], w);
    }
    return 0;
}

static int extra_i64(const struct nsid_scan *s, const struct nsid_arrays *l, struct nsid_arrays *out,
                     const char *group, const char *name, const int64_t *v, int64_t n, struct nsid_err *err)
{
    if (!v) return 0;
    const struct nsid_array *a = nsid_scan_arrays_find(l, name);
    char key[NSID_KEY_MAX * 2];
    snprintf(key, sizeof key, "%s/%s", group, name);
    if (a) return same_i64(s, a, key, v, (size_t)n, err);
    return nsid_scan_arrays_add_i64(out, name, v, n, 0, err);
}

static int extra_tiers(const struct nsid_scan *s, struct nsid_arrays *out, struct nsid_err *err)
{
    const struct nsid_array *a = nsid_scan_arrays_find(&s->trials, "tiers");
    if (!s->tiers && !a)
        return nsid_err_set(err, NSID_ENOTFOUND, scan_file(s), 0, "tiers", "missing: cannot write a scan without tiers");
    if (a) {
        if (!s->tiers) return 0;
        for (int64_t i = 0; i < s->n_trials; i++) {
            char name[64];
            nsid_scan_array_get_str(a, (size_t)i, name, sizeof name);
            if (nsid_scan_tier_parse(name) != s->tiers[i])
                return nsid_err_set(err, NSID_EINVAL, scan_file(s), 0, "tiers",
                                    "trial %lld: typed tier '%s' disagrees with the stored '%s'",
                                    (long long)i, nsid_scan_tier_name(s->tiers[i]), name);
        }
        return 0;
    }
    const char **names = NSID_ALLOC(sizeof *names * (size_t)s->n_trials, err);
    if (!names) return NSID_ENOMEM;
    for (int64_t i = 0; i < s->n_trials; i++) names[i] = nsid_scan_tier_name(s->tiers[i]);
    int rc = nsid_scan_arrays_add_str(out, "tiers", names, s->n_trials, false, err);
    nsid_alloc_free(names);
    return rc;
}

int nsid__scan_meta_extra(const struct nsid_scan *s, struct nsid_arrays *trials,
                          struct nsid_arrays *neurons, struct nsid_err *err)
{
    int64_t N = s->n_neurons;
    memset(trials, 0, sizeof *trials);
    memset(neurons, 0, sizeof *neurons);
    int rc = check_rows(s, &s->trials, "trials", s->n_trials, "trials", err);
    if (!rc) rc = check_rows(s, &s->extra, "data", s->n_trials, "trials", err);
    if (!rc) rc = check_rows(s, &s->neurons, "neurons", N, "neurons in responses", err);
    if (rc) return rc;
    rc = extra_tiers(s, trials, err);
    if (!rc) rc = extra_i64(s, &s->trials, trials, "trials", "frame_image_id", s->frame_image_id, s->n_trials, err);
    if (!rc) rc = extra_i64(s, &s->neurons, neurons, "neurons", "unit_ids", s->unit_ids, N, err);
    if (!rc) rc = extra_i64(s, &s->neurons, neurons, "neurons", "animal_ids", s->animal_ids, N, err);
    if (!rc) rc = extra_i64(s, &s->neurons, neurons, "neurons", "multi_match_id", s->multi_match_id, N, err);
    if (!rc && s->cell_motor_coordinates) {
        const struct nsid_array *a = nsid_scan_arrays_find(&s->neurons, "cell_motor_coordinates");
        if (a) rc = same_f64(s, a, "neurons/cell_motor_coordinates", s->cell_motor_coordinates,
                             (size_t)N * 3, err);
        else rc = nsid_scan_arrays_add_f64(neurons, "cell_motor_coordinates", s->cell_motor_coordinates, N, 3, err);
    }
    if (rc) {
        nsid_scan_arrays_free(trials);
        nsid_scan_arrays_free(neurons);
    }
    return rc;
}

int nsid__scan_check_storable(const float *v, size_t n, int dtype, const char *file, const char *name,
                         struct nsid_err *err)
{
    if (dtype == NSID_DT_F32 || dtype == NSID_DT_F64) return 0;
    double lo, hi;
    switch (dtype) {
    case NSID_DT_I8: lo = -128.0; hi = 127.0; break;
    case NSID_DT_I16: lo = -32768.0; hi = 32767.0; break;
    case NSID_DT_I32: lo = -2147483648.0; hi = 2147483647.0; break;
    case NSID_DT_I64: lo = -9.2e18; hi = 9.2e18; break;
    case NSID_DT_U8: lo = 0.0; hi = 255.0; break;
    case NSID_DT_U16: lo = 0.0; hi = 65535.0; break;
    case NSID_DT_U32: lo = 0.0; hi = 4294967295.0; break;
    case NSID_DT_U64: lo = 0.0; hi = 1.8e19; break;
    case NSID_DT_BOOL: lo = 0.0; hi = 1.0; break;
    default:
        return nsid_err_set(err, NSID_EINVAL, file, 0, name, "recorded dtype %s cannot hold numbers",
                            nsid_scan_dtype_name(dtype));
    }
    for (size_t i = 0; i < n; i++) {
        double x = (double)v[i];
        if (!(x >= lo && x <= hi && x == floor(x)))
            return nsid_err_set(err, NSID_EINVAL, file, 0, name,
                                "element %zu is %g, which dtype %s (as read) cannot store exactly; "
                                "set the scan's dtype field to NSID_DT_F32", i, x, nsid_scan_dtype_name(dtype));
    }
    return 0;
}

int nsid__scan_tmp_path(const char *path, char *tmp, size_t n, bool dir, struct nsid_err *err)
{
    char buf[NSID_PATH_MAX];
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--;
    copy_str(buf, sizeof buf, path, len);
    const char *slash = strrchr(buf, '/');
    int k;
    if (slash)
        k = snprintf(tmp, n, "%.*s/.%s.tmp.XXXXXX", (int)(slash - buf), buf, slash + 1);
    else
        k = snprintf(tmp, n, ".%s.tmp.XXXXXX", buf);
    if (k < 0 || (size_t)k >= n)
        return nsid_err_set(err, NSID_EINVAL, path, 0, NULL, "path too long");
    if (dir) {
        if (!mkdtemp(tmp))
            return nsid_err_set(err, NSID_EIO, tmp, 0, NULL, "cannot create a temporary folder: %s",
                                strerror(errno));
        chmod(tmp, 0755); /* mkdtemp makes it private; the result is an ordinary folder */
        return 0;
    }
    int fd = mkstemp(tmp);
    if (fd < 0)
        return nsid_err_set(err, NSID_EIO, tmp, 0, NULL, "cannot create a temporary file: %s", strerror(errno));
    fchmod(fd, 0644); /* mkstemp makes it private; the result is an ordinary file */
    close(fd);
    return 0;
}
