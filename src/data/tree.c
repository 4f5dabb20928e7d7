/* tree.c - FileTreeDataset reader and writer (see tree.h). */
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/json.h"
#include "data/npy.h"
#include "data/scan_int.h"
#include "base/infile.h"

#define MAX_LINKS 32

/* ================================================================ config.json */

struct links {
    int n;
    char from[MAX_LINKS][NSID_KEY_MAX]; /* data key */
    char to[MAX_LINKS][NSID_KEY_MAX];   /* folder under data/ */
};

/* Collect the "links" object (data name -> folder name) of a parsed config.json. */
static int read_links(const json_t *root, const char *path, struct links *lk, struct nsid_err *err)
{
    json_t *links = json_object_get(root, "links");
    if (!links) return 0;
    if (!json_is_object(links))
        return nsid_err_set(err, NSID_EFORMAT, path, 0, "links",
                            "invalid JSON: \"links\" maps data names to folder names (an object of strings)");
    const char *key;
    json_t *to;
    json_object_foreach(links, key, to) {
        if (!json_is_string(to))
            return nsid_err_set(err, NSID_EFORMAT, path, 0, key,
                                "invalid JSON: \"links\" maps data names to folder names (an object of strings)");
        if (lk->n >= MAX_LINKS)
            return nsid_err_set(err, NSID_EFORMAT, path, 0, key, "more than %d links", MAX_LINKS);
        snprintf(lk->from[lk->n], NSID_KEY_MAX, "%s", key);
        snprintf(lk->to[lk->n], NSID_KEY_MAX, "%s", json_string_value(to));
        lk->n++;
    }
    return 0;
}

/* Validate config.json text (jansson) and collect its "links". */
static int parse_config(const char *txt, const char *path, struct links *lk, struct nsid_err *err)
{
    memset(lk, 0, sizeof *lk);
    json_t *root = NULL;
    int rc = nsid_json_parse(txt, strlen(txt), path, &root, err);
    if (rc == 0 && !json_is_object(root))
        rc = nsid_err_set(err, NSID_EFORMAT, path, 0, NULL,
                          "invalid JSON: expected an object like {\"links\": {}} (\"links\" maps data names to "
                          "folder names)");
    if (rc == 0) rc = read_links(root, path, lk, err);
    json_decref(root);
    if (rc < 0) return rc;
    for (int i = 0; i < lk->n; i++)
        if (!lk->to[i][0] || strchr(lk->to[i], '/') || strcmp(lk->to[i], "..") == 0)
            return nsid_err_set(err, NSID_EFORMAT, path, 0, lk->from[i], "link target '%s' is not a folder name",
                                lk->to[i]);
    return 0;
}

static const char *link_folder(const struct links *lk, const char *kind)
{
    for (int i = 0; i < lk->n; i++)
        if (strcmp(lk->from[i], kind) == 0) return lk->to[i];
    return kind;
}

/* ================================================================ paths, folders */

static int join(char *out, size_t n, const char *a, const char *b, struct nsid_err *err)
{
    int k = snprintf(out, n, "%s/%s", a, b);
    if (k < 0 || (size_t)k >= n) return nsid_err_set(err, NSID_EINVAL, a, 0, b, "path longer than %zu bytes", n - 1);
    return 0;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

struct names {
    char **v;   /* (n) sorted */
    int n, cap;
};

static void names_free(struct names *l)
{
    for (int i = 0; i < l->n; i++) nsid_alloc_free(l->v[i]);
    nsid_alloc_free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entries of a folder (without . and ..). */
static int list_dir(const char *dir, struct names *l, struct nsid_err *err)
{
    memset(l, 0, sizeof *l);
    DIR *d = opendir(dir);
    if (!d)
        return nsid_err_set(err, errno == ENOENT ? NSID_ENOTFOUND : NSID_EIO, dir, 0, NULL, "cannot open folder: %s",
                            strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (NSID_GROW(l->v, l->n, l->cap, 64, err) < 0) { rc = NSID_ENOMEM; break; }
        size_t len = strlen(e->d_name);
        l->v[l->n] = NSID_ALLOC(len + 1, err);
        if (!l->v[l->n]) { rc = NSID_ENOMEM; break; }
        memcpy(l->v[l->n++], e->d_name, len + 1);
    }
    closedir(d);
    if (rc) names_free(l);
    else if (l->n) qsort(l->v, (size_t)l->n, sizeof *l->v, cmp_str);
    return rc;
}

/* Trial index of a data file name "<i>.npy", or -1. */
static int64_t trial_index(const char *name)
{
    const char *p = name;
    int64_t v = 0;
    if (*p < '0' || *p > '9') return -1;
    if (*p == '0' && p[1] != '.') return -1; /* no leading zeros: "07.npy" is not trial 7 */
    while (*p >= '0' && *p <= '9') {
        if (v > INT64_MAX / 10 - 1) return -1;
        v = v * 10 + (*p++ - '0');
    }
    return strcmp(p, ".npy") == 0 ? v : -1;
}

/* ================================================================ reading */

struct tree_reader {
    const char *root;
    const struct nsid_scan_opts *opt;
    struct nsid_err *err;
    struct nsid_npy_scratch sc;
    struct links links;
};

/* Count the trial files of data/<folder>: exactly 0..T-1. */
static int count_trials(struct tree_reader *r, const char *dir, int64_t *T)
{
    struct names l;
    int rc = list_dir(dir, &l, r->err);
    if (rc) return rc;
    int64_t n = 0, max = -1, skipped = 0;
    const char *first_skipped = NULL;
    for (int i = 0; i < l.n; i++) {
        int64_t k = trial_index(l.v[i]);
        if (k < 0) {
            if (!skipped++) first_skipped = l.v[i];
            continue;
        }
        n++;
        if (k > max) max = k;
    }
    if (skipped)
        nsid_scan_warn(r->opt, "%s: skipped %lld entries not named <trial>.npy (first: %s)", dir, (long long)skipped,
                       first_skipped);
    rc = 0;
    if (max != n - 1) {
        /* name the first index without a file */
        bool *have = max < (1 << 28) ? NSID_CALLOC((size_t)max + 1, r->err) : NULL;
        int64_t gap = 0;
        for (int i = 0; have && i < l.n; i++)
            if (trial_index(l.v[i]) >= 0) have[trial_index(l.v[i])] = true;
        while (have && gap <= max && have[gap]) gap++;
        char which[48] = "a file";
        if (have) snprintf(which, sizeof which, "%lld.npy", (long long)gap);
        nsid_alloc_free(have);
        rc = nsid_err_set(r->err, NSID_ENOTFOUND, dir, 0, NULL,
                          "%lld trial files but the largest index is %lld: %s is missing (expected 0.npy .. %lld.npy)",
                          (long long)n, (long long)max, which, (long long)max);
    }
    names_free(&l);
    if (!rc) *T = n;
    return rc;
}

/* Rank and dims of h equal (ndim, shape)? */
static bool same_shape(const struct nsid_npy_header *h, int ndim, const int64_t *shape)
{
    if (h->ndim != ndim) return false;
    for (int d = 0; d < ndim; d++)
        if (h->shape[d] != shape[d]) return false;
    return true;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (k < n) snprintf(buf + k, n - k, "%s)", ndim == 1 ? "," : "");
}

/*
 * Read data/<folder>/<i>.npy for i < T into float32 (T, shape...). The first
 * file fixes the shape, which must have rank in [min_rank, max_rank] and,
 * for rank 1 with want_len > 0, that length.
 */
struct kind_spec {
    const char *kind;
    int min_rank, max_rank;
    int64_t want_len;
};

static int read_kind_f32(struct tree_reader *r, const struct kind_spec *ks, const char *dir, int64_t T,
                         int *ndim, int64_t *shape, int *dtype, float **out)
{
    char path[NSID_PATH_MAX], s1[96], s2[96];
    struct nsid_npy_header h;
    size_t per = 0;
    for (int64_t i = 0; i < T; i++) {
        char name[32];
        snprintf(name, sizeof name, "%lld.npy", (long long)i);
        int rc = join(path, sizeof path, dir, name, r->err);
        if (!rc) rc = nsid_npy_load(path, &r->sc, &h, r->err);
        if (rc) return rc;
        if (i == 0) {
            bool ok = h.ndim >= ks->min_rank && h.ndim <= ks->max_rank && (!ks->want_len || h.shape[0] == ks->want_len);
            if (!ok || h.dtype == NSID_DT_STR || h.dtype == NSID_DT_BOOL) {
                shape_str(s1, sizeof s1, h.ndim, h.shape);
                return nsid_err_set(r->err, ok ? NSID_EFORMAT : NSID_ESHAPE, path, 0, ks->kind,
                                    "shape %s dtype '%s'; expected a numeric array of rank %d%s%s", s1, h.descr,
                                    ks->min_rank, ks->max_rank > ks->min_rank ? " or more" : "",
                                    ks->want_len == 3 ? " with 3 values" : ks->want_len == 2 ? " with 2 values" : "");
            }
            *ndim = h.ndim;
            memcpy(shape, h.shape, sizeof h.shape);
            *dtype = h.dtype;
            per = nsid_npy_numel(&h);
            *out = NSID_ALLOC(nsid_alloc_mul_size((size_t)T, nsid_alloc_mul_size(per ? per : 1, sizeof(float), r->err), r->err),
                              r->err);
            if (!*out) {
                char what[96];
                snprintf(what, sizeof what, "%lld trials of %zu values as float32", (long long)T, per);
                return nsid_alloc_oom(r->err, path, ks->kind, what);
            }
        } else if (!same_shape(&h, *ndim, shape)) {
            shape_str(s1, sizeof s1, h.ndim, h.shape);
            shape_str(s2, sizeof s2, *ndim, shape);
            return nsid_err_set(r->err, NSID_ESHAPE, path, 0, ks->kind, "shape %s, but 0.npy has %s", s1, s2);
        }
        rc = nsid_npy_to_f32(&h, r->sc.p + h.data_offset, *out + (size_t)i * per, path, r->err);
        if (rc) return rc;
    }
    return 0;
}

/* data/<folder> of kind, if present; T checked against the trial count. */
static int data_folder(struct tree_reader *r, const char *kind, char *dir, size_t n, bool *present)
{
    char data[NSID_PATH_MAX];
    int rc = join(data, sizeof data, r->root, "data", r->err);
    if (!rc) rc = join(dir, n, data, link_folder(&r->links, kind), r->err);
    *present = !rc && is_dir(dir);
    return rc;
}

static int read_main(struct tree_reader *r, struct nsid_scan *s)
{
    static const struct kind_spec resp = {"responses", 1, 1, 0}, img = {"images", 2, 3, 0},
                                  beh = {"behavior", 1, 1, 3}, pup = {"pupil_center", 1, 1, 2};
    char dir[NSID_PATH_MAX];
    bool present;
    int nd = 0, rc;
    int64_t sh[NSID_ARRAY_MAXDIM] = {0}, T = 0, T2 = 0;
    const struct kind_spec *specs[4] = {&resp, &img, &beh, &pup};
    float **dst[4] = {&s->responses, &s->images, &s->behavior, &s->pupil_center};
    int *dts[4] = {&s->responses_dtype, &s->images_dtype, &s->behavior_dtype, &s->pupil_center_dtype};
    for (int k = 0; k < 4; k++) {
        if (k >= 2 && r->opt && r->opt->skip_behavior) break;
        rc = data_folder(r, specs[k]->kind, dir, sizeof dir, &present);
        if (rc) return rc;
        if (!present && k < 2)
            return nsid_err_set(r->err, NSID_ENOTFOUND, dir, 0, specs[k]->kind,
                                "folder missing (a FileTreeDataset has data/images and data/responses)");
        if (!present) continue;
        rc = count_trials(r, dir, k == 0 ? &T : &T2);
        if (rc) return rc;
        if (k > 0 && T2 != T)
            return nsid_err_set(r->err, NSID_ESHAPE, dir, 0, specs[k]->kind,
                                "%lld trial files, but data/responses has %lld", (long long)T2, (long long)T);
        rc = read_kind_f32(r, specs[k], dir, T, &nd, sh, dts[k], dst[k]);
        if (rc) return rc;
        if (k == 0) {
            s->n_trials = T;
            s->n_neurons = sh[0];
        } else if (k == 1) {
            s->channels = nd == 3 ? (int)sh[0] : 1;
            s->height = (int)sh[nd - 2];
            s->width = (int)sh[nd - 1];
        }
    }
    return 0;
}

static bool is_used_folder(const struct tree_reader *r, const char *folder)
{
    static const char *const kinds[] = {"images", "responses", "behavior", "pupil_center"};
    for (int k = 0; k < 4; k++)
        if (strcmp(link_folder(&r->links, kinds[k]), folder) == 0) return true;
    return false;
}

/* Stack data/<name>/<i>.npy (numeric, equal shapes) into one (T, ...) array. */
static int read_extra_kind(struct tree_reader *r, struct nsid_scan *s, const char *dir, const char *name)
{
    int64_t T;
    int rc = count_trials(r, dir, &T);
    if (rc) return rc;
    if (T != s->n_trials)
        return nsid_err_set(r->err, NSID_ESHAPE, dir, 0, name, "%lld trial files, but data/responses has %lld",
                            (long long)T, (long long)s->n_trials);
    struct nsid_array a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "%s", name);
    char path[NSID_PATH_MAX], s1[96], s2[96];
    size_t per = 0;
    for (int64_t i = 0; !rc && i < T; i++) {
        struct nsid_npy_header h;
        char file[32];
        snprintf(file, sizeof file, "%lld.npy", (long long)i);
        rc = join(path, sizeof path, dir, file, r->err);
        if (!rc) rc = nsid_npy_load(path, &r->sc, &h, r->err);
        if (rc) break;
        if (i == 0) {
            if (h.dtype == NSID_DT_STR || h.ndim >= NSID_ARRAY_MAXDIM) {
                rc = nsid_err_set(r->err, NSID_EFORMAT, path, 0, name, "dtype '%s' rank %d; per-trial data must be "
                                  "numeric of rank < %d", h.descr, h.ndim, NSID_ARRAY_MAXDIM);
                break;
            }
            a.dtype = h.dtype;
            a.itemsize = nsid_scan_dtype_size(h.dtype);
            a.ndim = h.ndim + 1;
            a.shape[0] = T;
            for (int d = 0; d < h.ndim; d++) a.shape[d + 1] = h.shape[d];
            per = nsid_npy_numel(&h);
            a.data = NSID_ALLOC(nsid_alloc_mul_size((size_t)T, per * a.itemsize + 1, r->err), r->err);
            if (!a.data) { rc = NSID_ENOMEM; break; }
        } else if (!same_shape(&h, a.ndim - 1, a.shape + 1) || h.dtype != a.dtype) {
            shape_str(s1, sizeof s1, h.ndim, h.shape);
            shape_str(s2, sizeof s2, a.ndim - 1, a.shape + 1);
            rc = nsid_err_set(r->err, NSID_ESHAPE, path, 0, name, "shape %s dtype '%s', but 0.npy has %s %s", s1,
                              h.descr, s2, nsid_scan_dtype_name(a.dtype));
            break;
        }
        rc = nsid_npy_decode(&h, r->sc.p + h.data_offset, (char *)a.data + (size_t)i * per * a.itemsize, a.itemsize,
                             path, r->err);
    }
    if (rc) {
        nsid_scan_array_free(&a);
        return rc;
    }
    return nsid_scan_arrays_take(&s->extra, &a, r->err);
}

static int read_extra(struct tree_reader *r, struct nsid_scan *s)
{
    if (r->opt && r->opt->skip_extra) return 0;
    char data[NSID_PATH_MAX], dir[NSID_PATH_MAX];
    struct names l;
    int rc = join(data, sizeof data, r->root, "data", r->err);
    if (!rc) rc = list_dir(data, &l, r->err);
    if (rc) return rc;
    for (int i = 0; !rc && i < l.n; i++) {
        if (is_used_folder(r, l.v[i])) continue;
        rc = join(dir, sizeof dir, data, l.v[i], r->err);
        if (rc) break;
        if (!is_dir(dir)) {
            nsid_scan_warn(r->opt, "%s: skipped (a file in data/, expected folders)", dir);
            continue;
        }
        rc = read_extra_kind(r, s, dir, l.v[i]);
    }
    names_free(&l);
    return rc;
}

/* Read every <name>.npy below dir into l, names relative ("a/b" for dir/a/b.npy). */
static int read_meta_dir(struct tree_reader *r, const char *dir, const char *prefix, struct nsid_arrays *l)
{
    struct names ls;
    int rc = list_dir(dir, &ls, r->err);
    if (rc) return rc;
    for (int i = 0; !rc && i < ls.n; i++) {
        char path[NSID_PATH_MAX], name[NSID_KEY_MAX * 2];
        rc = join(path, sizeof path, dir, ls.v[i], r->err);
        if (rc) break;
        size_t len = strlen(ls.v[i]);
        if (is_dir(path)) {
            snprintf(name, sizeof name, "%s%s/", prefix, ls.v[i]);
            rc = read_meta_dir(r, path, name, l);
            continue;
        }
        if (len <= 4 || strcmp(ls.v[i] + len - 4, ".npy") != 0) {
            nsid_scan_warn(r->opt, "%s: skipped (not a .npy file)", path);
            continue;
        }
        int k = snprintf(name, sizeof name, "%s%.*s", prefix, (int)(len - 4), ls.v[i]);
        if (k >= NSID_KEY_MAX) {
            rc = nsid_err_set(r->err, NSID_EFORMAT, path, 0, NULL, "name longer than %d bytes", NSID_KEY_MAX - 1);
            break;
        }
        struct nsid_array a;
        memset(&a, 0, sizeof a);
        memcpy(a.name, name, (size_t)k + 1);
        rc = nsid_npy_read(path, &a, r->err);
        if (!rc) rc = nsid_scan_arrays_take(l, &a, r->err);
    }
    names_free(&ls);
    return rc;
}

static int read_meta(struct tree_reader *r, struct nsid_scan *s)
{
    char meta[NSID_PATH_MAX], dir[NSID_PATH_MAX];
    int rc = join(meta, sizeof meta, r->root, "meta", r->err);
    if (rc) return rc;
    if (!is_dir(meta))
        return nsid_err_set(r->err, NSID_ENOTFOUND, meta, 0, NULL,
                            "folder missing (a FileTreeDataset has meta/trials with tiers.npy)");
    static const char *const groups[] = {"trials", "neurons", "statistics", "ground_truth"};
    struct nsid_arrays *lists[] = {&s->trials, &s->neurons, &s->stats, &s->ground_truth};
    for (int g = 0; !rc && g < 4; g++) {
        rc = join(dir, sizeof dir, meta, groups[g], r->err);
        if (!rc && is_dir(dir)) rc = read_meta_dir(r, dir, "", lists[g]);
    }
    struct names l;
    if (!rc) rc = list_dir(meta, &l, r->err);
    if (rc) return rc;
    for (int i = 0; i < l.n; i++) {
        bool known = false;
        for (int g = 0; g < 4; g++) known |= strcmp(l.v[i], groups[g]) == 0;
        if (!known) nsid_scan_warn(r->opt, "%s/%s: skipped (not part of the FileTreeDataset layout)", meta, l.v[i]);
    }
    names_free(&l);
    return 0;
}

static int read_text(const char *path, char **out, struct nsid_err *err)
{
    FILE *f = nsid_infile_fopen(path, NULL, err);
    if (!f) return err->code < 0 ? err->code : NSID_EIO;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    int rc = 0;
    *out = n >= 0 ? NSID_ALLOC((size_t)n + 1, err) : NULL;
    if (!*out) rc = n < 0 ? nsid_err_set(err, NSID_EIO, path, 0, NULL, "cannot read") : NSID_ENOMEM;
    else if (fread(*out, 1, (size_t)n, f) != (size_t)n) rc = nsid_err_set(err, NSID_EIO, path, 0, NULL, "read failed");
    if (!rc) (*out)[n] = '\0';
    fclose(f);
    if (rc) {
        nsid_alloc_free(*out);
        *out = NULL;
    }
    return rc;
}

static int read_config(struct tree_reader *r, struct nsid_scan *s)
{
    char path[NSID_PATH_MAX];
    int rc = join(path, sizeof path, r->root, "config.json", r->err);
    if (rc || !is_file(path)) return rc;
    rc = read_text(path, &s->config_json, r->err);
    if (!rc) rc = parse_config(s->config_json, path, &r->links, r->err);
    return rc;
}

bool nsid_tree_detect(const char *dir)
{
    char p[NSID_PATH_MAX];
    return is_dir(dir) && snprintf(p, sizeof p, "%s/data", dir) < (int)sizeof p && is_dir(p);
}

int nsid_tree_load(struct nsid_scan *s, const char *dir, const struct nsid_scan_opts *opt,
                        struct nsid_err *err)
{
    nsid_scan_init(s);
    struct tree_reader r;
    memset(&r, 0, sizeof r);
    r.root = dir;
    r.opt = opt;
    r.err = err;
    int rc = 0;
    struct stat st;
    if (stat(dir, &st) != 0)
        rc = nsid_err_set(err, NSID_ENOTFOUND, dir, 0, NULL, "cannot open: %s", strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        rc = nsid_err_set(err, NSID_EFORMAT, dir, 0, NULL, "not a folder (a FileTreeDataset is a folder)");
    if (!rc) {
        snprintf(s->path, sizeof s->path, "%s", dir);
        nsid_scan_data_key(dir, s->data_key, sizeof s->data_key);
        rc = read_config(&r, s);
    }
    if (!rc) rc = read_main(&r, s);
    if (!rc) rc = read_extra(&r, s);
    if (!rc) rc = read_meta(&r, s);
    nsid_npy_scratch_free(&r.sc);
    if (!rc) rc = nsid_scan_validate(s, opt, err);
    if (rc) nsid_scan_free(s);
    return rc;
}

/* ================================================================ writing */

struct tree_writer {
    const char *root;          /* the temporary folder */
    const char *final;         /* the target, for messages */
    bool bytes_as_unicode;
    struct links links;
    struct nsid_npy_scratch sc;
    struct nsid_err *err;
};

static int make_dir(const char *p, struct nsid_err *err)
{
    if (mkdir(p, 0755) == 0 || (errno == EEXIST && is_dir(p))) return 0;
    return nsid_err_set(err, NSID_EIO, p, 0, NULL, "cannot create folder: %s", strerror(errno));
}

/* Create every folder of rel's directory part below base. */
static int make_parents(const char *base, const char *rel, struct nsid_err *err)
{
    char p[NSID_PATH_MAX];
    int rc = join(p, sizeof p, base, rel, err);
    if (rc) return rc;
    size_t b = strlen(base);
    for (char *q = p + b + 1; *q; q++) {
        if (*q != '/') continue;
        *q = '\0';
        rc = make_dir(p, err);
        *q = '/';
        if (rc) return rc;
    }
    return 0;
}

/* Names become paths: refuse empty, ".", ".." components. */
static int check_name(const char *name, const char *where, struct nsid_err *err)
{
    const char *p = name;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return nsid_err_set(err, NSID_EINVAL, where, 0, name, "not usable as a file name");
        if (!e) return 0;
        p = e + 1;
    }
}

/* The authors' converter: statistics names lower-cased, '.' -> '_'. */
static void stats_name(char *out, size_t n, const char *name)
{
    size_t k = 0;
    for (; name[k] && k + 1 < n; k++) {
        char c = name[k];
        out[k] = c == '.' ? '_' : (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[k] = '\0';
}

static int write_list(struct tree_writer *w, const char *group, const struct nsid_arrays *l, bool stats)
{
    char dir[NSID_PATH_MAX];
    int rc = join(dir, sizeof dir, w->root, group, w->err);
    for (int i = 0; !rc && l && i < l->n; i++) {
        char name[NSID_KEY_MAX], rel[NSID_KEY_MAX + 8], path[NSID_PATH_MAX];
        if (stats) stats_name(name, sizeof name, l->a[i].name);
        else snprintf(name, sizeof name, "%s", l->a[i].name);
        rc = check_name(name, group, w->err);
        if (!rc) {
            snprintf(rel, sizeof rel, "%s.npy", name);
            rc = make_parents(dir, rel, w->err);
        }
        if (!rc) rc = join(path, sizeof path, dir, rel, w->err);
        if (!rc) rc = nsid_npy_write(path, &l->a[i], w->bytes_as_unicode, w->err);
    }
    return rc;
}

/* data/<kind>/<i>.npy from float32 rows of shape (ndim, shape). */
static int write_kind(struct tree_writer *w, const char *kind, const float *v, int dtype, int ndim,
                      const int64_t *shape, int64_t T)
{
    char data[NSID_PATH_MAX], dir[NSID_PATH_MAX], path[NSID_PATH_MAX];
    int rc = join(data, sizeof data, w->root, "data", w->err);
    if (!rc) rc = make_dir(data, w->err);
    if (!rc) rc = join(dir, sizeof dir, data, link_folder(&w->links, kind), w->err);
    if (!rc) rc = make_dir(dir, w->err);
    size_t per = 1;
    for (int d = 0; d < ndim; d++) per *= (size_t)shape[d];
    for (int64_t i = 0; !rc && i < T; i++) {
        char name[32];
        snprintf(name, sizeof name, "%lld.npy", (long long)i);
        rc = join(path, sizeof path, dir, name, w->err);
        if (!rc) rc = nsid_npy_write_f32(path, v + (size_t)i * per, ndim, shape, dtype, &w->sc, w->err);
    }
    return rc;
}

/* An extra per-trial array, one file per trial with its stored dtype. */
static int write_extra(struct tree_writer *w, const struct nsid_array *a, int64_t T)
{
    char data[NSID_PATH_MAX], dir[NSID_PATH_MAX], path[NSID_PATH_MAX];
    int rc = check_name(a->name, "data", w->err);
    if (!rc && (strchr(a->name, '/') || is_used_folder(&(struct tree_reader){.links = w->links}, a->name)))
        rc = nsid_err_set(w->err, NSID_EINVAL, w->final, 0, a->name, "extra data name clashes with the layout");
    if (!rc) rc = join(data, sizeof data, w->root, "data", w->err);
    if (!rc) rc = join(dir, sizeof dir, data, a->name, w->err);
    if (!rc) rc = make_dir(dir, w->err);
    struct nsid_array row = *a;
    row.ndim = a->ndim - 1;
    memmove(row.shape, a->shape + 1, sizeof(int64_t) * (NSID_ARRAY_MAXDIM - 1));
    row.shape[NSID_ARRAY_MAXDIM - 1] = 0;
    size_t bytes = nsid_scan_array_numel(&row) * a->itemsize;
    for (int64_t i = 0; !rc && i < T; i++) {
        char name[32];
        snprintf(name, sizeof name, "%lld.npy", (long long)i);
        row.data = (char *)a->data + (size_t)i * bytes;
        rc = join(path, sizeof path, dir, name, w->err);
        if (!rc) rc = nsid_npy_write(path, &row, w->bytes_as_unicode, w->err);
    }
    return rc;
}

static int write_data(struct tree_writer *w, const struct nsid_scan *s)
{
    int64_t T = s->n_trials;
    int64_t ish[3] = {s->channels, s->height, s->width}, rsh[1] = {s->n_neurons}, bsh[1] = {3}, psh[1] = {2};
    int rc = write_kind(w, "images", s->images, s->images_dtype, 3, ish, T);
    if (!rc) rc = write_kind(w, "responses", s->responses, s->responses_dtype, 1, rsh, T);
    if (!rc && s->behavior) rc = write_kind(w, "behavior", s->behavior, s->behavior_dtype, 1, bsh, T);
    if (!rc && s->pupil_center) rc = write_kind(w, "pupil_center", s->pupil_center, s->pupil_center_dtype, 1, psh, T);
    for (int i = 0; !rc && i < s->extra.n; i++) rc = write_extra(w, &s->extra.a[i], T);
    return rc;
}

static int write_meta(struct tree_writer *w, const struct nsid_scan *s)
{
    struct nsid_arrays xt, xn;
    int rc = nsid__scan_meta_extra(s, &xt, &xn, w->err);
    if (rc) return rc;
    char meta[NSID_PATH_MAX], dir[NSID_PATH_MAX];
    rc = join(meta, sizeof meta, w->root, "meta", w->err);
    if (!rc) rc = make_dir(meta, w->err);
    static const char *const groups[] = {"trials", "neurons", "statistics", "ground_truth"};
    const struct nsid_arrays *lists[4][2] = {{&s->trials, &xt}, {&s->neurons, &xn}, {&s->stats, NULL},
                                             {&s->ground_truth, NULL}};
    for (int g = 0; !rc && g < 4; g++) {
        if (g == 3 && !s->ground_truth.n) break;
        rc = join(dir, sizeof dir, meta, groups[g], w->err);
        if (!rc) rc = make_dir(dir, w->err);
        char rel[NSID_KEY_MAX + 8];
        snprintf(rel, sizeof rel, "meta/%s", groups[g]);
        for (int j = 0; !rc && j < 2; j++) rc = write_list(w, rel, lists[g][j], g == 2);
    }
    nsid_scan_arrays_free(&xt);
    nsid_scan_arrays_free(&xn);
    return rc;
}

static int write_config(struct tree_writer *w, const struct nsid_scan *s)
{
    char path[NSID_PATH_MAX];
    int rc = join(path, sizeof path, w->root, "config.json", w->err);
    if (rc) return rc;
    FILE *f = fopen(path, "wb");
    if (!f) return nsid_err_set(w->err, NSID_EIO, path, 0, NULL, "cannot create: %s", strerror(errno));
    /* FileTreeDataset's default config, as json.dump writes it. */
    const char *txt = s->config_json ? s->config_json : "{\"links\": {}}";
    size_t n = strlen(txt);
    bool ok = fwrite(txt, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    return ok ? 0 : nsid_err_set(w->err, NSID_EIO, path, 0, NULL, "write failed (disk full?)");
}

/* rm -rf for a folder nsid created (no symlinks followed). */
static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[NSID_PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < (int)sizeof sub) remove_tree(sub);
    }
    if (d) closedir(d);
    rmdir(path);
}

/* Move the finished temporary folder to dir, replacing an old one if allowed. */
static int put_in_place(const char *tmp, const char *dir, bool overwrite, struct nsid_err *err)
{
    char old[NSID_PATH_MAX];
    bool had = is_dir(dir);
    if (had) {
        int rc = nsid__scan_tmp_path(dir, old, sizeof old, true, err);
        if (rc) return rc;
        rmdir(old);
        if (rename(dir, old) != 0)
            return nsid_err_set(err, NSID_EIO, dir, 0, NULL, "cannot move the old folder aside: %s", strerror(errno));
    }
    if (rename(tmp, dir) != 0) {
        int e = errno;
        if (had) rename(old, dir);
        return nsid_err_set(err, NSID_EIO, dir, 0, NULL, "cannot rename %s into place: %s", tmp, strerror(e));
    }
    (void)overwrite;
    if (had) remove_tree(old);
    return 0;
}

int nsid_tree_save(const struct nsid_scan *s, const char *dir, const struct nsid_tree_save_opts *opt,
                        struct nsid_err *err)
{
    if (!s->images || !s->responses || s->n_trials <= 0 || s->n_neurons <= 0)
        return nsid_err_set(err, NSID_EINVAL, dir, 0, NULL, "refusing to write a scan without trials");
    struct stat st;
    bool overwrite = opt && opt->overwrite;
    if (stat(dir, &st) == 0 && (!overwrite || !S_ISDIR(st.st_mode)))
        return nsid_err_set(err, NSID_EINVAL, dir, 0, NULL, S_ISDIR(st.st_mode)
                            ? "exists; refusing to overwrite it (use the overwrite option, nsid-convert --force)"
                            : "exists and is not a folder");
    struct tree_writer w;
    memset(&w, 0, sizeof w);
    w.final = dir;
    w.bytes_as_unicode = !(opt && opt->keep_bytes);
    w.err = err;
    int rc = 0;
    if (s->config_json) rc = parse_config(s->config_json, "config.json", &w.links, err);
    char tmp[NSID_PATH_MAX];
    if (!rc) rc = nsid__scan_tmp_path(dir, tmp, sizeof tmp, true, err);
    if (rc) return rc;
    w.root = tmp;
    rc = write_config(&w, s);
    if (!rc) rc = write_data(&w, s);
    if (!rc) rc = write_meta(&w, s);
    nsid_npy_scratch_free(&w.sc);
    if (!rc) rc = put_in_place(tmp, dir, overwrite, err);
    if (rc) remove_tree(tmp);
    return rc;
}
