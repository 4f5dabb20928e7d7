/*
 * nsid-databench - how fast, and in how much memory, a paper-sized scan loads.
 *
 *     nsid-databench [--trials 6000] [--neurons 8000] [--repeat 3] [--dir DIR] [--keep]
 *
 * Builds a synthetic scan of the given size (36 x 64 images, the paper's
 * tiers and metadata, the statistics block), writes it once as HDF5 and as a
 * file tree under DIR, then loads each layout in a fresh child process (this
 * binary re-run with --load) and reports wall seconds and peak resident
 * memory (VmHWM) against the bytes of the arrays the scan keeps. Files are
 * read from a warm page cache (they were just written); dropping the cache
 * needs root and would disturb other jobs on the machine.
 *
 * Exit status: 0 ok, 1 failure, 2 bad usage. Not a test: numbers depend on
 * the machine.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/opt.h"
#include "base/path.h"
#include "base/rng.h"
#include "data/h5scan.h"
#include "data/transform.h"
#include "data/tree.h"
#include "stage.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A field of /proc/self/status in kB ("VmHWM:", "VmRSS:"), -1 if absent. */
static long proc_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0) v = strtol(line + n, NULL, 10);
    if (f) fclose(f);
    return v;
}

/* Bytes of the arrays a loaded scan keeps (data, typed fields, metadata lists). */
static double scan_bytes(const struct nsid_scan *s)
{
    double T = (double)s->n_trials, N = (double)s->n_neurons;
    double b = 4.0 * T * ((double)s->channels * s->height * s->width + N);
    b += s->behavior ? 12.0 * T : 0.0;
    b += s->pupil_center ? 8.0 * T : 0.0;
    b += T + (s->frame_image_id ? 8.0 * T : 0.0);
    b += (s->unit_ids ? 8.0 : 0.0) * N + (s->multi_match_id ? 8.0 : 0.0) * N + (s->animal_ids ? 8.0 : 0.0) * N;
    b += s->cell_motor_coordinates ? 24.0 * N : 0.0;
    const struct nsid_arrays *l[5] = {&s->trials, &s->neurons, &s->stats, &s->ground_truth, &s->extra};
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < l[k]->n; i++) b += (double)(nsid_scan_array_numel(&l[k]->a[i]) * l[k]->a[i].itemsize);
    return b;
}

/* Child mode: load path, print "seconds hwm_kb base_kb bytes". */
static int child_load(const char *path, bool skip_behavior)
{
    long base = proc_kb("VmHWM:");
    struct nsid_scan s;
    struct nsid_err err = {0};
    struct nsid_scan_opts o = {.skip_behavior = skip_behavior};
    double t0 = now();
    if (nsid_scan_load(&s, path, &o, &err) < 0) {
        nsid_err_print(&err, stderr);
        return 1;
    }
    double t = now() - t0;
    printf("%.6f %ld %ld %.0f\n", t, proc_kb("VmHWM:"), base, scan_bytes(&s));
    nsid_scan_free(&s);
    return 0;
}

/* ---------------------------------------------------------------- synthetic scan */

static int make_scan(struct nsid_scan *s, int64_t T, int64_t N, struct nsid_err *err)
{
    nsid_scan_init(s);
    s->n_trials = T;
    s->n_neurons = N;
    s->channels = 1;
    s->height = 36;
    s->width = 64;
    size_t P = 36 * 64;
    s->images = NSID_ALLOC(nsid_alloc_mul_size((size_t)T * P, 4, err), err);
    s->responses = NSID_ALLOC(nsid_alloc_mul_size((size_t)T, (size_t)N * 4, err), err);
    s->behavior = NSID_ALLOC((size_t)T * 12, err);
    s->pupil_center = NSID_ALLOC((size_t)T * 8, err);
    s->tiers = NSID_ALLOC((size_t)T, err);
    s->frame_image_id = NSID_ALLOC((size_t)T * 8, err);
    s->unit_ids = NSID_ALLOC((size_t)N * 8, err);
    s->animal_ids = NSID_ALLOC((size_t)N * 8, err);
    s->multi_match_id = NSID_ALLOC((size_t)N * 8, err);
    s->cell_motor_coordinates = NSID_ALLOC((size_t)N * 24, err);
    if (!s->images || !s->responses || !s->behavior || !s->pupil_center || !s->tiers || !s->frame_image_id ||
        !s->unit_ids || !s->animal_ids || !s->multi_match_id || !s->cell_motor_coordinates)
        return NSID_ENOMEM;
    struct nsid_rng r;
    nsid_rng_init(&r, 2021, NSID_STREAM_SIMULATE);
    for (size_t i = 0; i < (size_t)T * P; i++) s->images[i] = (float)nsid_rng_below(&r, 256);
    for (size_t i = 0; i < (size_t)T * (size_t)N; i++) s->responses[i] = (float)(-log(1.0 - nsid_rng_uniform(&r)));
    for (int64_t i = 0; i < 3 * T; i++) s->behavior[i] = (float)nsid_rng_uniform(&r);
    for (int64_t i = 0; i < 2 * T; i++) s->pupil_center[i] = (float)nsid_rng_normal(&r);
    /* the paper's split: 1,000 test trials = 100 images x 10 repeats; 1/10 of the rest validation */
    int64_t test = T >= 2000 ? 1000 : T / 5, rest = T - test;
    for (int64_t i = 0; i < T; i++) {
        bool is_test = i >= rest;
        s->tiers[i] = (int8_t)(is_test ? NSID_TIER_TEST : i % 10 == 9 ? NSID_TIER_VALIDATION : NSID_TIER_TRAIN);
        s->frame_image_id[i] = is_test ? 100000 + (i - rest) % 100 : i;
    }
    for (int64_t n = 0; n < N; n++) {
        s->unit_ids[n] = n + 1;
        s->animal_ids[n] = 20457;
        s->multi_match_id[n] = n % 3 ? n : -1;
        for (int k = 0; k < 3; k++) s->cell_motor_coordinates[3 * n + k] = nsid_rng_uniform_range(&r, 0, 800);
    }
    return nsid_transform_scan_add_stats(s, err);
}

/* ---------------------------------------------------------------- parent */

struct result {
    double sec_min, sec_med, hwm_mb, base_mb, bytes;
};

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Run this binary with --load path in a child, repeat times. */
static int measure(const char *self, const char *path, bool skip, int repeat, struct result *res)
{
    double secs[64];
    memset(res, 0, sizeof *res);
    for (int k = 0; k < repeat && k < 64; k++) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "'%s' --load '%s'%s", self, path, skip ? " --skip-behavior" : "");
        FILE *p = popen(cmd, "r");
        double sec = 0, bytes = 0;
        long hwm = 0, base = 0;
        int got = p ? fscanf(p, "%lf %ld %ld %lf", &sec, &hwm, &base, &bytes) : 0;
        int st = p ? pclose(p) : -1;
        if (got != 4 || st != 0) {
            fprintf(stderr, "nsid-databench: loading %s failed\n", path);
            return 1;
        }
        secs[k] = sec;
        res->hwm_mb = fmax(res->hwm_mb, (double)hwm / 1024.0);
        res->base_mb = (double)base / 1024.0;
        res->bytes = bytes;
    }
    qsort(secs, (size_t)repeat, sizeof *secs, cmp_d);
    res->sec_min = secs[0];
    res->sec_med = secs[repeat / 2];
    return 0;
}

static void report(const char *what, const struct result *r)
{
    double mb = r->bytes / 1048576.0;
    printf("%-34s %8.3f %8.3f %9.1f %9.1f %7.2f %7.2f\n", what, r->sec_min, r->sec_med, mb, r->hwm_mb,
           r->hwm_mb / mb, (r->hwm_mb - r->base_mb) / mb);
}

struct args {
    long long trials, neurons, repeat;
    const char *dir, *load;
    bool keep, skip_behavior, help, version;
};

/* 0 ok, 1 help printed, 2 usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
    const struct nsid_opt opts[] = {
        {"trials", 0, NSID_OPT_INT, &a->trials, "T", .min = 10, .max = LLONG_MAX, .help = "trials (default 6000)"},
        {"neurons", 0, NSID_OPT_INT, &a->neurons, "N", .min = 1, .max = LLONG_MAX, .help = "neurons (default 8000)"},
        {"repeat", 0, NSID_OPT_INT, &a->repeat, "R", .min = 1, .max = 64, .help = "loads per layout (default 3)"},
        {"dir", 0, NSID_OPT_STRING, &a->dir, "DIR",
         .help = "where the scan is written (created; default $TMPDIR/nsid-databench-PID)"},
        {"keep", 0, NSID_OPT_FLAG, &a->keep, NULL, .help = "keep the scan (default: removed at the end)"},
        {"load", 0, NSID_OPT_STRING, &a->load, "PATH", .flags = NSID_OPT_HIDDEN, .help = "a child: load PATH once"},
        {"skip-behavior", 0, NSID_OPT_FLAG, &a->skip_behavior, NULL, .flags = NSID_OPT_HIDDEN,
         .help = "a child: images and responses only"},
        NSID_STAGE_OPTS_END(&a->version, &a->help)};
    struct nsid_opt_cmd cmd = {"nsid-databench", opts, NULL, 0, nsid_stage_env};
    struct nsid_err err = {0};
    int rc = nsid_opt_parse(&cmd, argc - 1, argv + 1, &err);
    if (rc < 0) return nsid_opt_usage_error(&cmd, &err);
    if (a->help) {
        fputs("usage: nsid-databench [--trials T] [--neurons N] [--repeat R] [--dir DIR] [--keep]\n"
              "  loads a synthetic T x N scan (36x64 images; default 6000 x 8000, the paper's size)\n"
              "  from HDF5 and from a file tree and reports seconds and peak RSS vs array bytes\n\n",
              stdout);
        nsid_opt_help(opts, stdout);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (nsid_stage_begin("nsid-databench", argc, argv)) return 0;
    struct args a = {.trials = 6000, .neurons = 8000, .repeat = 3};
    int prc = parse_args(argc, argv, &a);
    if (prc) return prc == 1 ? 0 : prc;
    if (a.load) return child_load(a.load, a.skip_behavior);
    int64_t T = a.trials, N = a.neurons;
    int repeat = (int)a.repeat;
    bool keep = a.keep;
    char dir[4096];
    const char *tmp = nsid_stage_env("TMPDIR");
    if (a.dir) snprintf(dir, sizeof dir, "%s", a.dir);
    else snprintf(dir, sizeof dir, "%s/nsid-databench-%ld", tmp ? tmp : "/tmp", (long)getpid());
    char self[4096], h5[4200], tree[4200];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) return 1;
    self[k] = '\0';
    struct nsid_err err = {0};
    if (nsid_path_mkdirs(dir, "--dir", &err) < 0) {
        fputs("nsid-databench: ", stderr);
        nsid_err_print(&err, stderr);
        return 1;
    }
    snprintf(h5, sizeof h5, "%s/static00000-0-0-preproc0.h5", dir);
    snprintf(tree, sizeof tree, "%s/static00000-0-0-preproc0", dir);
    struct stat st;
    if (stat(h5, &st) != 0 || stat(tree, &st) != 0) {
        struct nsid_scan s;
        double t0 = now();
        int rc = make_scan(&s, T, N, &err);
        double t1 = now();
        if (!rc) rc = nsid_h5scan_save(&s, h5, NULL, &err);
        double t2 = now();
        if (!rc) rc = nsid_tree_save(&s, tree, NULL, &err);
        double t3 = now();
        nsid_scan_free(&s);
        if (rc) {
            nsid_err_print(&err, stderr);
            return 1;
        }
        printf("synthetic %lld x %lld scan: built in %.2f s, HDF5 written in %.2f s, file tree in %.2f s\n",
               (long long)T, (long long)N, t1 - t0, t2 - t1, t3 - t2);
    }
    printf("%-34s %8s %8s %9s %9s %7s %7s\n", "layout", "min s", "median s", "array MB", "peak MB", "peak/", "(peak-");
    printf("%-34s %8s %8s %9s %9s %7s %7s\n", "", "", "", "", "(VmHWM)", "arrays", "base)/a");
    struct result r;
    char what[128];
    int rc = measure(self, h5, false, repeat, &r);
    snprintf(what, sizeof what, "HDF5 (%lld trials)", (long long)T);
    if (!rc) report(what, &r);
    if (!rc) rc = measure(self, tree, false, repeat, &r);
    snprintf(what, sizeof what, "file tree (%lld files)", (long long)T * 4);
    if (!rc) report(what, &r);
    if (!rc) rc = measure(self, tree, true, repeat, &r);
    snprintf(what, sizeof what, "file tree, images+responses (%lld)", (long long)T * 2);
    if (!rc) report(what, &r);
    printf("(peak-base)/a excludes the %.1f MB a process has before loading (libraries)\n", r.base_mb);
    if (!keep) {
        char cmd[8400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "nsid-databench: could not remove %s\n", dir);
    }
    return rc;
}
