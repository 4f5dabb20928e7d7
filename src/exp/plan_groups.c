/*
 * plan_groups.c - the data manifest (docs/data.md): groups.json as nsid-simulate writes it,
 * or a user's YAML or JSON file of the same structure:
 *
 *     groups:                                  # name -> [files] or {label, files}
 *       mine: [static1-1-1-preproc0, static2-1-1-preproc0.h5]
 *       eval: {label: "Evaluation scan", files: [static20457-5-9-preproc0]}
 *     scans:                                   # optional metadata for the store's datasets
 *       - {file: static20457-5-9-preproc0, animal: 20457, image_set: 0}
 *
 * "groups" may also be a list of {name, label, files}. Files are relative to the manifest's
 * folder (absolute as given): HDF5 files or file-tree folders. Unknown keys are errors
 * (nsid-simulate's own top-level keys generator, profile, seed, image_sets, format and config
 * are ignored); every message names the file and line. Also the small string builder and
 * file helpers of the plan.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "base/alloc.h"
#include "base/json.h"
#include "exp/plan.h"
#include "plan_int.h"
#include "base/infile.h"

/* ---- string builder ----------------------------------------------------------------------------- */

static bool sb_reserve(struct nsid__sb *b, size_t more)
{
    if (b->oom) return false;
    if (b->n + more + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more + 1) cap *= 2;
    struct nsid_err ignored = {0}; /* the caller reports the failure */
    char *s = NSID_ALLOC(cap, &ignored);
    if (!s) {
        b->oom = true;
        return false;
    }
    if (b->s) memcpy(s, b->s, b->n + 1);
    else s[0] = '\0';
    nsid_alloc_free(b->s);
    b->s = s;
    b->cap = cap;
    return true;
}

void nsid__plan_sb_add(struct nsid__sb *b, const char *s)
{
    size_t k = strlen(s);
    if (!sb_reserve(b, k)) return;
    memcpy(b->s + b->n, s, k + 1);
    b->n += k;
}

void nsid__plan_sb_addf(struct nsid__sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0 || !sb_reserve(b, (size_t)k)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

void nsid__plan_sb_json(struct nsid__sb *b, const char *s)
{
    size_t k = nsid_json_quote(s, NULL, 0);
    if (!sb_reserve(b, k)) return;
    nsid_json_quote(s, b->s + b->n, k + 1);
    b->n += k;
}

/* Is s a JSON number (as strtod reads it, finite, no hex, no leading '+' or '.')? */
static bool json_number(const char *s)
{
    if (!*s) return false;
    const char *p = s;
    if (*p == '-') p++;
    if (*p < '0' || *p > '9') return false;
    if (*p == '0' && p[1] >= '0' && p[1] <= '9') return false;
    while (*p >= '0' && *p <= '9') p++;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') return false;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (*p < '0' || *p > '9') return false;
        while (*p >= '0' && *p <= '9') p++;
    }
    return *p == '\0';
}

void nsid__plan_sb_json_scalar(struct nsid__sb *b, const char *s)
{
    if (json_number(s) || !strcmp(s, "true") || !strcmp(s, "false")) nsid__plan_sb_add(b, s);
    else nsid__plan_sb_json(b, s);
}

void nsid__plan_sb_free(struct nsid__sb *b)
{
    nsid_alloc_free(b->s);
    memset(b, 0, sizeof *b);
}

/* ---- files ------------------------------------------------------------------------------------- */

/* Does path hold exactly text? */
static bool same_content(const char *path, const char *text, size_t n)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size != n) return false;
    struct nsid_err ignored = {0}; /* unreadable: not the same, the write reports it */
    FILE *f = nsid_infile_fopen(path, NULL, &ignored);
    if (!f) return false;
    bool same = true;
    char buf[4096];
    size_t off = 0, got;
    while (same && (got = fread(buf, 1, sizeof buf, f)) > 0) {
        same = off + got <= n && memcmp(buf, text + off, got) == 0;
        off += got;
    }
    fclose(f);
    return same && off == n;
}

int nsid__plan_write_if_changed(const char *path, const char *text, size_t n, bool *written, struct nsid_err *err)
{
    if (written) *written = false;
    if (same_content(path, text, n)) return 0;
    char tmp[NSID_ERR_FILE_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return nsid_err_set(err, NSID_EIO, tmp, 0, NULL, "cannot create: %s", strerror(errno));
    bool ok = fwrite(text, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return nsid_err_set(err, NSID_EIO, path, 0, NULL, "cannot write: %s", strerror(e));
    }
    if (written) *written = true;
    return 0;
}

/* ---- the data manifest ---------------------------------------------------------------------- */

struct gctx {
    yaml_document_t *doc;
    const char *path;
    const char *dir;          /* folder of path, "" for the working directory */
    struct nsid_spec_arena *pool;
    struct nsid_err *err;
};

static yaml_node_t *gnode(const struct gctx *g, int i)
{
    return yaml_document_get_node(g->doc, i);
}

static const char *gtext(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *gget(const struct gctx *g, const yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const char *k = gtext(gnode(g, p->key));
        if (k && strcmp(k, key) == 0) return gnode(g, p->value);
    }
    return NULL;
}

static int gfail(const struct gctx *g, const yaml_node_t *n, const char *key, const char *msg)
{
    return nsid_err_set(g->err, NSID_EFORMAT, g->path, n ? (int)n->start_mark.line + 1 : 1, key, "%s", msg);
}

/* A file of the description, relative to its folder. */
static const char *gfile(const struct gctx *g, const char *f)
{
    if (f[0] == '/' || !g->dir[0]) return nsid_spec_arena_strdup(g->pool, f, g->err);
    return nsid_spec_arena_printf(g->pool, g->err, "%s/%s", g->dir, f);
}

static int node_line(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 1;
}

static int group_files(const struct gctx *g, const yaml_node_t *seq, const yaml_node_t *at, const char *name,
                       struct nsid_plan_group *out)
{
    if (!seq) return gfail(g, at, name, "a group lists its files: NAME: [FILE, ...] or NAME: {label: ..., files: [...]}");
    if (seq->type != YAML_SEQUENCE_NODE) return gfail(g, seq, name, "a group's files are a list");
    out->n = (int)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (out->n == 0) return gfail(g, seq, name, "a group without files");
    out->files = nsid_spec_arena_alloc(g->pool, (size_t)out->n * sizeof *out->files, g->err);
    out->names = nsid_spec_arena_alloc(g->pool, (size_t)out->n * sizeof *out->names, g->err);
    out->lines = nsid_spec_arena_alloc(g->pool, (size_t)out->n * sizeof *out->lines, g->err);
    if (!out->files || !out->names || !out->lines) return NSID_ENOMEM;
    for (int i = 0; i < out->n; i++) {
        const yaml_node_t *item = gnode(g, seq->data.sequence.items.start[i]);
        const char *f = gtext(item);
        if (!f || !f[0])
            return gfail(g, item, name, "a file is a non-empty string (a path relative to the manifest's folder)");
        out->lines[i] = node_line(item);
        if (!(out->names[i] = nsid_spec_arena_strdup(g->pool, f, g->err)) || !(out->files[i] = gfile(g, f)))
            return NSID_ENOMEM;
    }
    return 0;
}

static const char *const GROUP_KEYS[] = {"name", "label", "files", NULL};

/* One group: name -> [files] or {label, files}, or a list entry {name, label, files}. */
static int one_group(const struct gctx *g, const char *name, const yaml_node_t *at, const yaml_node_t *v,
                     bool listed, struct nsid_plan_group *out)
{
    if (!v || (v->type != YAML_SEQUENCE_NODE && v->type != YAML_MAPPING_NODE))
        return gfail(g, v ? v : at, name ? name : "groups",
                     "a group is a list of files or a mapping {label: TEXT, files: [...]}");
    if (!name || !name[0]) return gfail(g, at, "groups", "a group needs a name");
    if (v->type == YAML_MAPPING_NODE)
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
            const char *k = gtext(gnode(g, p->key));
            bool known = false;
            for (int i = 0; k && GROUP_KEYS[i]; i++) known = known || (strcmp(k, GROUP_KEYS[i]) == 0 && (i || listed));
            if (!known) {
                char msg[300];
                snprintf(msg, sizeof msg, "unknown key '%.100s' in a group (known: %s)", k ? k : "?",
                         listed ? "name, label, files" : "label, files");
                return gfail(g, gnode(g, p->key), name, msg);
            }
        }
    out->name = nsid_spec_arena_strdup(g->pool, name, g->err);
    const yaml_node_t *label = gget(g, v, "label");
    if (label && !gtext(label)) return gfail(g, label, name, "a label is text");
    out->label = nsid_spec_arena_strdup(g->pool, gtext(label) ? gtext(label) : name, g->err);
    if (!out->name || !out->label) return NSID_ENOMEM;
    out->line = node_line(at);
    return group_files(g, v->type == YAML_SEQUENCE_NODE ? v : gget(g, v, "files"), at, name, out);
}

static int read_groups(const struct gctx *g, const yaml_node_t *gs, struct nsid_plan_groups *out)
{
    if (!gs) return gfail(g, NULL, "groups", "missing: a data manifest lists its groups (groups: {NAME: [FILE, ...]})");
    bool map = gs->type == YAML_MAPPING_NODE;
    if (!map && gs->type != YAML_SEQUENCE_NODE) return gfail(g, gs, "groups", "expected a mapping or a list");
    int n = map ? (int)(gs->data.mapping.pairs.top - gs->data.mapping.pairs.start)
                : (int)(gs->data.sequence.items.top - gs->data.sequence.items.start);
    out->groups = nsid_spec_arena_alloc(g->pool, (size_t)(n ? n : 1) * sizeof *out->groups, g->err);
    if (!out->groups) return NSID_ENOMEM;
    out->n_groups = n;
    for (int i = 0; i < n; i++) {
        int rc;
        const yaml_node_t *at;
        if (map) {
            yaml_node_pair_t *p = gs->data.mapping.pairs.start + i;
            at = gnode(g, p->key);
            rc = one_group(g, gtext(at), at, gnode(g, p->value), false, &out->groups[i]);
        } else {
            at = gnode(g, gs->data.sequence.items.start[i]);
            rc = one_group(g, gtext(gget(g, at, "name")), at, at, true, &out->groups[i]);
        }
        if (rc < 0) return rc;
        for (int j = 0; j < i; j++)
            if (strcmp(out->groups[j].name, out->groups[i].name) == 0) {
                char msg[200];
                snprintf(msg, sizeof msg, "group listed twice (first at line %d)", out->groups[j].line);
                return gfail(g, at, out->groups[i].name, msg);
            }
    }
    return 0;
}

/* An integer field of a scan entry (first of the names given), 0 if absent; *bad set when not an integer. */
static int64_t gint(const struct gctx *g, const yaml_node_t *m, const char *a, const char *b, const yaml_node_t **bad)
{
    const yaml_node_t *n = gget(g, m, a);
    if (!n && b) n = gget(g, m, b);
    if (!n) return 0;
    const char *t = gtext(n);
    char *end = NULL;
    long long v = t ? strtoll(t, &end, 10) : 0;
    if (!t || end == t || *end || v < 0) {
        if (!*bad) *bad = n;
        return 0;
    }
    return v;
}

static const char *gstr(const struct gctx *g, const yaml_node_t *m, const char *key)
{
    const char *t = gtext(gget(g, m, key));
    return t ? nsid_spec_arena_strdup(g->pool, t, g->err) : NULL;
}

/* Keys of a scans: entry (nsid-simulate writes them all; the n_* spellings are accepted too). */
static const char *const SCAN_KEYS[] = {"file", "data_key", "animal", "image_set", "neurons", "n_neurons",
    "train_images", "n_train", "validation_images", "n_validation", "test_trials", "n_test", "test_images",
    "test_repeats", "trials", "n_trials", "session", "scan", "role", "matched", NULL};

static int check_scan_keys(const struct gctx *g, const yaml_node_t *m)
{
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const char *k = gtext(gnode(g, p->key));
        bool known = false;
        for (int i = 0; k && SCAN_KEYS[i]; i++) known = known || strcmp(k, SCAN_KEYS[i]) == 0;
        if (!known) {
            char msg[400];
            snprintf(msg, sizeof msg, "unknown key '%.100s' in a scan entry (known: file, data_key, animal, image_set, "
                     "neurons, train_images, validation_images, test_trials, trials)", k ? k : "?");
            return gfail(g, gnode(g, p->key), "scans", msg);
        }
        if (!gtext(gnode(g, p->value))) return gfail(g, gnode(g, p->value), k, "a scan's field is a single value");
    }
    return 0;
}

static int read_scans(const struct gctx *g, const yaml_node_t *ss, struct nsid_plan_groups *out)
{
    if (!ss) return 0;
    if (ss->type != YAML_SEQUENCE_NODE) return gfail(g, ss, "scans", "expected a list of {file: ..., data_key: ...}");
    int n = (int)(ss->data.sequence.items.top - ss->data.sequence.items.start);
    out->scans = nsid_spec_arena_alloc(g->pool, (size_t)(n ? n : 1) * sizeof *out->scans, g->err);
    if (!out->scans) return NSID_ENOMEM;
    out->n_scans = n;
    for (int i = 0; i < n; i++) {
        const yaml_node_t *m = gnode(g, ss->data.sequence.items.start[i]);
        if (!m || m->type != YAML_MAPPING_NODE) return gfail(g, m, "scans", "a scan entry is a mapping {file: ..., ...}");
        int rc = check_scan_keys(g, m);
        if (rc < 0) return rc;
        struct nsid_plan_scan *s = &out->scans[i];
        const char *f = gtext(gget(g, m, "file"));
        if (!f || !f[0]) return gfail(g, m, "scans", "every scan names its file");
        const yaml_node_t *bad = NULL;
        s->file = gfile(g, f);
        s->data_key = gstr(g, m, "data_key");
        s->animal = gstr(g, m, "animal");
        s->image_set = gstr(g, m, "image_set");
        s->n_neurons = gint(g, m, "neurons", "n_neurons", &bad);
        s->n_train = gint(g, m, "train_images", "n_train", &bad);
        s->n_validation = gint(g, m, "validation_images", "n_validation", &bad);
        s->n_test = gint(g, m, "test_trials", "n_test", &bad);
        int64_t ti = gint(g, m, "test_images", NULL, &bad), tr = gint(g, m, "test_repeats", NULL, &bad);
        if (!s->n_test) s->n_test = ti * tr;
        s->n_trials = gint(g, m, "trials", "n_trials", &bad);
        if (bad) return gfail(g, bad, "scans", "expected a non-negative integer");
        if (!s->file) return NSID_ENOMEM;
        for (int j = 0; j < i; j++)
            if (strcmp(out->scans[j].file, s->file) == 0) return gfail(g, m, "scans", "a scan described twice");
    }
    return 0;
}

/* Top-level keys: groups and scans, and what nsid-simulate also writes (ignored). */
static const char *const TOP_KEYS[] = {"groups", "scans", "generator", "profile", "seed", "image_sets", "format",
                                       "config", NULL};

static int check_top(const struct gctx *g, const yaml_node_t *root)
{
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = gnode(g, p->key);
        const char *t = gtext(k);
        bool known = false;
        for (int i = 0; t && TOP_KEYS[i]; i++) known = known || strcmp(t, TOP_KEYS[i]) == 0;
        for (yaml_node_pair_t *q = root->data.mapping.pairs.start; known && q < p; q++) {
            const char *u = gtext(gnode(g, q->key));
            if (u && strcmp(u, t) == 0) return gfail(g, k, t, "key given twice");
        }
        if (!known) {
            char msg[300];
            snprintf(msg, sizeof msg, "unknown key '%.100s' at the top of a data manifest (known: groups, scans)",
                     t ? t : "?");
            return gfail(g, k, t, msg);
        }
    }
    return 0;
}

int nsid_plan_groups_load(struct nsid_plan_groups *g, const char *path, struct nsid_spec_arena *pool,
                          struct nsid_err *err)
{
    memset(g, 0, sizeof *g);
    FILE *f = nsid_infile_fopen(path, NULL, err);
    if (!f && err->code == NSID_ENOTFOUND) {
        nsid_err_clear(err); /* the manifest's own words for a missing file */
        return nsid_err_set(err, NSID_ENOTFOUND, path, 0, NULL, "cannot open the data manifest: %s", strerror(ENOENT));
    }
    if (!f) return err->code < 0 ? err->code : NSID_EIO;
    struct gctx c = {.path = nsid_spec_arena_strdup(pool, path, err), .pool = pool, .err = err};
    char *dir = nsid_spec_arena_strdup(pool, path, err);
    if (!c.path || !dir) {
        fclose(f);
        return NSID_ENOMEM;
    }
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else dir[0] = '\0';
    c.dir = dir;
    g->path = c.path;
    yaml_parser_t p;
    yaml_document_t doc;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int rc = nsid_spec_yaml_bound(&p, path, err); /* depth and aliases, before the tree is built */
    yaml_parser_delete(&p);
    rewind(f);
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    if (rc < 0) {
        /* refused before loading */
    } else if (!yaml_parser_load(&p, &doc)) {
        rc = nsid_err_set(err, NSID_EFORMAT, path, (int)p.problem_mark.line + 1, NULL, "JSON/YAML syntax: %s",
                          p.problem ? p.problem : "malformed");
    } else {
        c.doc = &doc;
        const yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root || root->type != YAML_MAPPING_NODE) rc = gfail(&c, root, NULL, "expected a mapping at the top");
        if (rc == 0) rc = check_top(&c, root);
        if (rc == 0) rc = read_groups(&c, gget(&c, root, "groups"), g);
        if (rc == 0) rc = read_scans(&c, gget(&c, root, "scans"), g);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&p);
    fclose(f);
    return rc;
}
