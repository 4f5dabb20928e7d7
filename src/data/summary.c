/* summary.c - a human-readable summary of a scan (see summary.h). */
#include "summary.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "data/batch.h"

static void range_of(const float *v, size_t n, float *lo, float *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        *lo = v[i] < *lo ? v[i] : *lo;
        *hi = v[i] > *hi ? v[i] : *hi;
    }
}

static void print_shape(FILE *f, const struct nsid_array *a)
{
    fputc('(', f);
    for (int d = 0; d < a->ndim; d++) fprintf(f, "%s%lld", d ? ", " : "", (long long)a->shape[d]);
    fputs(a->ndim == 1 ? ",)" : ")", f);
}

static void print_list(FILE *f, const char *label, const struct nsid_arrays *l)
{
    fprintf(f, "%-14s%d field%s\n", label, l->n, l->n == 1 ? "" : "s");
    for (int i = 0; i < l->n; i++) {
        const struct nsid_array *a = &l->a[i];
        fprintf(f, "    %-34s ", a->name);
        if (a->dtype == NSID_DT_STR)
            fprintf(f, "%s%s strings, %s%zu bytes ", a->str_vlen ? "variable-length " : "",
                    a->str_unicode ? "unicode" : "byte", a->str_unicode ? "up to " : "", a->itemsize);
        else
            fprintf(f, "%s ", nsid_scan_dtype_name(a->dtype));
        print_shape(f, a);
        fputc('\n', f);
    }
}

static void print_repeats(const struct nsid_scan *s, FILE *f)
{
    struct nsid_repeats r;
    struct nsid_err e = {0};
    if (nsid_batch_repeats_init(&r, s, NSID_TIER_TEST, &e) < 0) {
        fprintf(f, "%-14sunknown (%s)\n", "test repeats", e.msg);
        return;
    }
    int64_t lo = INT64_MAX, hi = 0, single = 0;
    for (int64_t g = 0; g < r.n_groups; g++) {
        int64_t k = r.start[g + 1] - r.start[g];
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
        single += k < 2;
    }
    if (r.n_groups == 0)
        fprintf(f, "%-14snone (empty test tier)\n", "test repeats");
    else
        fprintf(f, "%-14s%lld images, %.2f repeats per image (min %lld, max %lld)%s\n", "test repeats",
                (long long)r.n_groups, (double)r.n_trials / (double)r.n_groups, (long long)lo, (long long)hi,
                single ? "; some images shown once (no oracle for them)" : "");
    nsid_batch_repeats_free(&r);
}

static void print_data(FILE *f, const char *label, const float *v, size_t n, int dtype, const char *shape)
{
    if (!v) {
        fprintf(f, "%-14sabsent\n", label);
        return;
    }
    float lo, hi;
    range_of(v, n, &lo, &hi);
    fprintf(f, "%-14s%s stored %s, values %g .. %g\n", label, shape, nsid_scan_dtype_name(dtype), (double)lo, (double)hi);
}

int nsid_summary_scan(const struct nsid_scan *s, FILE *f, struct nsid_err *err)
{
    (void)err;
    struct stat st;
    bool tree = s->path[0] && stat(s->path, &st) == 0 && S_ISDIR(st.st_mode);
    size_t T = (size_t)s->n_trials, N = (size_t)s->n_neurons;
    size_t P = (size_t)s->channels * (size_t)s->height * (size_t)s->width;
    int64_t c[NSID_TIER_COUNT];
    nsid_scan_tier_counts(s, c);
    char shp[96];
    fprintf(f, "%-14s%s (%s)\n", "scan", s->path[0] ? s->path : "(in memory)",
            !s->path[0] ? "not from a file" : tree ? "file tree" : "HDF5");
    fprintf(f, "%-14s%s\n", "data key", s->data_key);
    fprintf(f, "%-14s%lld: train %lld, validation %lld, test %lld\n", "trials", (long long)T, (long long)c[0],
            (long long)c[1], (long long)c[2]);
    print_repeats(s, f);
    fprintf(f, "%-14s%lld\n", "neurons", (long long)N);
    snprintf(shp, sizeof shp, "%d x %d x %d,", s->channels, s->height, s->width);
    print_data(f, "images", s->images, T * P, s->images_dtype, shp);
    snprintf(shp, sizeof shp, "%lld x %lld,", (long long)T, (long long)N);
    print_data(f, "responses", s->responses, T * N, s->responses_dtype, shp);
    print_data(f, "behavior", s->behavior, T * 3, s->behavior_dtype, "3 per trial,");
    print_data(f, "pupil_center", s->pupil_center, T * 2, s->pupil_center_dtype, "2 per trial,");
    int64_t matched = 0;
    for (size_t i = 0; s->multi_match_id && i < N; i++) matched += s->multi_match_id[i] != -1;
    fprintf(f, "%-14sframe_image_id %s, unit_ids %s, cell_motor_coordinates %s, multi_match_id ", "fields",
            s->frame_image_id ? "yes" : "no", s->unit_ids ? "yes" : "no", s->cell_motor_coordinates ? "yes" : "no");
    if (s->multi_match_id) fprintf(f, "yes (%lld matched)", (long long)matched);
    else fputs("no", f);
    fprintf(f, ", animal_ids %s\n", s->animal_ids ? "yes" : "no");
    print_list(f, "trial meta", &s->trials);
    print_list(f, "neuron meta", &s->neurons);
    fprintf(f, "%-14s%d arrays; responses/all/std %s\n", "statistics", s->stats.n,
            nsid_scan_arrays_find(&s->stats, "responses/all/std") ? "present" : "MISSING (computed when normalising)");
    if (s->extra.n) print_list(f, "extra data", &s->extra);
    if (s->ground_truth.n) print_list(f, "ground truth", &s->ground_truth);
    if (s->config_json) fprintf(f, "%-14s%s\n", "config.json", s->config_json);
    return ferror(f) ? nsid_err_set(err, NSID_EIO, "stdout", 0, NULL, "write failed") : 0;
}
