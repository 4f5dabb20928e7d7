/*
 * data_testutil.h - helpers shared by the data tests: temporary folders,
 * recursive removal, scan comparison, a warning counter.
 */
#ifndef NSID_DATA_TESTUTIL_H
#define NSID_DATA_TESTUTIL_H


#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/scan.h"

/* A fresh folder under $NSID_BIN (the build dir) or /tmp. */
static inline const char *dt_tmpdir(char *buf, size_t n, const char *tag)
{
    const char *bin = getenv("NSID_BIN");
    snprintf(buf, n, "%s/tmp-%s-XXXXXX", bin ? bin : "/tmp", tag);
    if (!mkdtemp(buf)) {
        perror(buf);
        exit(2);
    }
    char abs[4096];
    if (realpath(buf, abs)) snprintf(buf, n, "%s", abs); /* tests cd elsewhere */
    return buf;
}

/* rm -rf path (no symlinks followed). */
static inline void dt_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[8192];
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < (int)sizeof sub) dt_rmtree(sub);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static inline bool dt_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Number of entries in a folder (excluding . and ..), -1 if unreadable. */
static inline int dt_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Write a text file (tests only). */
static inline void dt_write_text(const char *path, const char *txt)
{
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    fputs(txt, f);
    fclose(f);
}

/* Truncate a file to n bytes. */
static inline void dt_truncate(const char *path, long n)
{
    if (truncate(path, n) != 0) { perror(path); exit(2); }
}

/* Run a shell command built from fmt (tests only); returns its exit status. */
static inline int dt_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

struct dt_warnings {
    int n;
    char last[1024];
};

static inline void dt_warn_cb(void *ctx, const char *msg)
{
    struct dt_warnings *w = ctx;
    w->n++;
    snprintf(w->last, sizeof w->last, "%s", msg);
}

static inline bool dt_mem_eq(const void *a, const void *b, size_t n)
{
    if (!a && !b) return true;
    if (!a || !b) return false;
    return memcmp(a, b, n) == 0;
}

/* Compare two metadata lists entry by entry (order may differ). */
static inline bool dt_lists_equal(const struct nsid_arrays *a, const struct nsid_arrays *b, bool str_kind,
                                  const char *what, char *why, size_t nwhy)
{
    if (a->n != b->n) {
        snprintf(why, nwhy, "%s: %d vs %d arrays", what, a->n, b->n);
        return false;
    }
    for (int i = 0; i < a->n; i++) {
        const struct nsid_array *x = &a->a[i], *y = nsid_scan_arrays_find(b, x->name);
        if (!y) { snprintf(why, nwhy, "%.30s/%.60s missing", what, x->name); return false; }
        bool ok = x->dtype == y->dtype && x->ndim == y->ndim && x->itemsize == y->itemsize;
        for (int d = 0; ok && d < x->ndim; d++) ok = x->shape[d] == y->shape[d];
        if (ok && x->dtype == NSID_DT_STR && str_kind)
            ok = x->str_unicode == y->str_unicode && x->str_vlen == y->str_vlen;
        if (ok) ok = dt_mem_eq(x->data, y->data, nsid_scan_array_numel(x) * x->itemsize);
        if (!ok) {
            snprintf(why, nwhy, "%.30s/%.60s differs (dtype %s/%s itemsize %zu/%zu)", what, x->name,
                     nsid_scan_dtype_name(x->dtype), nsid_scan_dtype_name(y->dtype), x->itemsize, y->itemsize);
            return false;
        }
    }
    return true;
}

/* Every field of two scans equal (float arrays bit for bit). */
static inline bool dt_scans_equal(const struct nsid_scan *a, const struct nsid_scan *b, bool str_kind,
                                  char *why, size_t nwhy)
{
    size_t T = (size_t)a->n_trials, N = (size_t)a->n_neurons;
    size_t img = (size_t)a->channels * (size_t)a->height * (size_t)a->width;
    if (a->n_trials != b->n_trials || a->n_neurons != b->n_neurons || a->channels != b->channels ||
        a->height != b->height || a->width != b->width) {
        snprintf(why, nwhy, "sizes differ");
        return false;
    }
    if (strcmp(a->data_key, b->data_key)) { snprintf(why, nwhy, "data key %.60s vs %.60s", a->data_key, b->data_key); return false; }
    struct { const void *x, *y; size_t n; const char *name; } f[] = {
        {a->images, b->images, T * img * 4, "images"},
        {a->responses, b->responses, T * N * 4, "responses"},
        {a->behavior, b->behavior, T * 3 * 4, "behavior"},
        {a->pupil_center, b->pupil_center, T * 2 * 4, "pupil_center"},
        {a->tiers, b->tiers, T, "tiers"},
        {a->frame_image_id, b->frame_image_id, T * 8, "frame_image_id"},
        {a->unit_ids, b->unit_ids, N * 8, "unit_ids"},
        {a->cell_motor_coordinates, b->cell_motor_coordinates, N * 24, "cell_motor_coordinates"},
        {a->multi_match_id, b->multi_match_id, N * 8, "multi_match_id"},
        {a->animal_ids, b->animal_ids, N * 8, "animal_ids"},
    };
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        if (!dt_mem_eq(f[i].x, f[i].y, f[i].n)) { snprintf(why, nwhy, "%s differs", f[i].name); return false; }
    if (a->images_dtype != b->images_dtype || a->responses_dtype != b->responses_dtype ||
        a->behavior_dtype != b->behavior_dtype || a->pupil_center_dtype != b->pupil_center_dtype) {
        snprintf(why, nwhy, "stored data dtypes differ");
        return false;
    }
    if (!dt_lists_equal(&a->trials, &b->trials, str_kind, "trials", why, nwhy)) return false;
    if (!dt_lists_equal(&a->neurons, &b->neurons, str_kind, "neurons", why, nwhy)) return false;
    if (!dt_lists_equal(&a->stats, &b->stats, str_kind, "stats", why, nwhy)) return false;
    if (!dt_lists_equal(&a->ground_truth, &b->ground_truth, str_kind, "ground_truth", why, nwhy)) return false;
    if (!dt_lists_equal(&a->extra, &b->extra, str_kind, "extra", why, nwhy)) return false;
    if ((a->config_json == NULL) != (b->config_json == NULL) ||
        (a->config_json && strcmp(a->config_json, b->config_json))) {
        snprintf(why, nwhy, "config_json differs");
        return false;
    }
    return true;
}

/* Read the "key v1 v2 ..." line of fixtures/data/expected.txt into v (returns count). */
static inline int dt_expected(const char *fixtures_file, const char *key, double *v, int max)
{
    FILE *f = fopen(fixtures_file, "r");
    if (!f) return -1;
    char line[4096];
    int n = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) || line[kl] != ' ') continue;
        n = 0;
        char *p = line + kl, *end;
        while (n < max) {
            double x = strtod(p, &end);
            if (end == p) break;
            v[n++] = x;
            p = end;
        }
        break;
    }
    fclose(f);
    return n;
}

#endif
