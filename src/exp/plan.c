/*
 * plan.c - expanding specs into runs: effective defaults, grids and searches of a profile,
 * variants, data groups and their content hashes, core references resolved into
 * selections, validation, identities and ids (see plan.h).
 */
#include "exp/plan.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/path.h"
#include "data/scan.h"
#include "data/scanid.h"
#include "plan_int.h"

/* ---- expansion context ---------------------------------------------------------------------- */

struct sha_memo {
    const char *path;             /* as the plan names it */
    const char *sha;
};

/* A data list checked once: a group of the manifest or a spec's data: {files: [...]} */
struct data_memo {
    const void *key;              /* the group or the nsid_spec_data */
    const char **files;           /* resolved paths */
    const char **sha;
    int n;
};

struct pctx {
    struct nsid_plan *p;
    const struct nsid_spec_set *specs;
    const struct nsid_plan_opts *o;
    struct nsid_err *err;
    struct nsid_scanid_cache cache;  /* content hashes by (absolute path, size, mtime) */
    struct sha_memo *memo;        /* hashes computed in this plan, by path */
    int n_memo, cap_memo;
    struct data_memo *dmemo;      /* data lists already resolved and checked */
    int n_dmemo, cap_dmemo;
    int *exp_first, *exp_end;     /* run index range per experiment */
    int *skipped;                 /* per experiment: runs skipped (optional variants) */
    int *latest;                  /* per index slot: the last run with that id (capacity index_cap) */
    long long counted;            /* runs counted before expansion (max_runs) */
};

static int perr(struct pctx *pc, const char *file, int line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int perr(struct pctx *pc, const char *file, int line, const char *key, const char *fmt, ...)
{
    char msg[NSID_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nsid_err_set(pc->err, NSID_EINVAL, file, line, key, "%s", msg);
}

static void *palloc(struct pctx *pc, size_t n)
{
    return nsid_spec_arena_alloc(&pc->p->pool, n, pc->err);
}

static char *pdup(struct pctx *pc, const char *s)
{
    return nsid_spec_arena_strdup(&pc->p->pool, s, pc->err);
}

/* ---- content hashes with a cache --------------------------------------------------------------- */

/*
 * The identity of a scan or input file (data/scanid.h: a file's sha256, a tree's listing hash),
 * computed once per plan and cached across plans by (path, size, mtime). NSID_ENOTFOUND if
 * missing; a core checkpoint (regular == true) must be a regular file.
 */
static int file_sha(struct pctx *pc, const char *path, bool regular, const char **sha)
{
    for (int i = 0; i < pc->n_memo; i++)
        if (strcmp(pc->memo[i].path, path) == 0) {
            *sha = pc->memo[i].sha;
            return 0;
        }
    struct stat sb;
    if (stat(path, &sb) != 0 || (regular && !S_ISREG(sb.st_mode)))
        return nsid_err_set(pc->err, NSID_ENOTFOUND, path, 0, NULL, "no such file");
    if (NSID_SPEC_ARENA_GROW(&pc->p->pool, pc->memo, pc->n_memo, pc->cap_memo, 64, pc->err) < 0) return NSID_ENOMEM;
    char hex[NSID_SHA256_HEX];
    int rc = nsid_scanid_id(path, &pc->cache, hex, NULL, pc->err);
    if (rc < 0) return rc;
    struct sha_memo *m = &pc->memo[pc->n_memo];
    m->path = pdup(pc, path);
    m->sha = pdup(pc, hex);
    if (!m->path || !m->sha) return NSID_ENOMEM;
    pc->n_memo++;
    *sha = m->sha;
    return 0;
}

/* ---- the run being built ------------------------------------------------------------------------ */

/* Everything about one grid point while it is expanded. */
struct point {
    const struct nsid_spec_experiment *e;
    const struct nsid_spec_variant *v;
    const struct nsid_spec_axis **axes;  /* grid axes of this variant */
    const int *gidx;                     /* chosen value per axis */
    int n_axes;
    const struct nsid_spec_axis **search;
    const int *sidx;
    int n_search;
    struct nsid_plan_run run;            /* filled as we go */
};

/* Put or replace a var.* value of the run. */
static void set_var(struct nsid_plan_run *r, const struct nsid_spec_value *v)
{
    for (int i = 0; i < r->n_vars; i++)
        if (strcmp(r->vars[i].key, v->key) == 0) {
            r->vars[i] = *v;
            return;
        }
    r->vars[r->n_vars++] = *v;
}

static int apply(struct pctx *pc, struct point *pt, const struct nsid_spec_value *v)
{
    if (strncmp(v->key, "var.", 4) == 0) {
        set_var(&pt->run, v);
        return 0;
    }
    return nsid_config_set_value(pt->run.config, v->key, v->text, v->quoted, pt->e->file, v->line, pc->err);
}

static int apply_list(struct pctx *pc, struct point *pt, const struct nsid_spec_value *v, int n)
{
    for (int i = 0; i < n; i++) {
        int rc = apply(pc, pt, &v[i]);
        if (rc < 0) return rc;
    }
    return 0;
}

static const struct nsid_spec_profile *find_profile(const struct nsid_spec_profile *ps, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ps[i].name, name) == 0) return &ps[i];
    return NULL;
}

/* Every setting of the point, in the documented order. */
static int apply_all(struct pctx *pc, struct point *pt)
{
    const struct nsid_spec_experiment *e = pt->e;
    const struct nsid_spec_profile *gp = find_profile(pc->specs->global, pc->specs->n_global, pc->o->profile);
    const struct nsid_spec_profile *ep = find_profile(e->profiles, e->n_profiles, pc->o->profile);
    int rc = apply_list(pc, pt, e->defaults, e->n_defaults);
    if (rc == 0 && gp) rc = apply_list(pc, pt, gp->defaults, gp->n_defaults);
    if (rc == 0 && ep) rc = apply_list(pc, pt, ep->defaults, ep->n_defaults);
    for (int i = 0; rc == 0 && i < pt->n_axes; i++) rc = apply(pc, pt, &pt->axes[i]->values[pt->gidx[i]]);
    if (rc == 0) rc = apply_list(pc, pt, pt->v->set, pt->v->n_set);
    for (int i = 0; rc == 0 && i < pt->n_search; i++) rc = apply(pc, pt, &pt->search[i]->values[pt->sidx[i]]);
    return rc;
}

/* ---- values of keys (for references, where-filters and plot fields) ----------------------------- */

/* Undo the JSON quoting of a canonical string value (simple escapes only). */
static void unquote(char *s)
{
    size_t n = strlen(s);
    if (n < 2 || s[0] != '"') return;
    char *w = s;
    for (size_t i = 1; i + 1 < n; i++) {
        if (s[i] == '\\' && i + 2 < n) {
            i++;
            *w++ = s[i] == 'n' ? '\n' : s[i] == 't' ? '\t' : s[i];
        } else {
            *w++ = s[i];
        }
    }
    *w = '\0';
}

static const char *var_of(const struct nsid_plan_run *r, const char *key)
{
    for (int i = 0; i < r->n_vars; i++)
        if (strcmp(r->vars[i].key, key) == 0) return r->vars[i].text;
    return NULL;
}

/*
 * The value of key in run r as text (canonical for config keys when canonical is true, else
 * display text); false if the run has no such value (an unset var).
 */
static bool key_text(const struct nsid_plan_run *r, const char *key, bool canonical, char *buf, size_t n)
{
    const struct nsid_key *k = nsid_config_find(key);
    if (k) {
        nsid_config_format_value(r->config, k, buf, n);
        if (!canonical) unquote(buf);
        return true;
    }
    const char *t = strcmp(key, "variant") == 0 ? r->variant->name
                    : strcmp(key, "data") == 0   ? r->data_group
                                                 : var_of(r, key);
    if (!t) return false;
    snprintf(buf, n, "%s", t);
    return true;
}

/* Canonical text of a where value (literal or $ref of the current run) for key. */
static int where_want(struct pctx *pc, const struct point *pt, const struct nsid_spec_value *w, char *buf, size_t n)
{
    char raw[NSID_CONFIG_STR_MAX];
    if (w->ref) {
        if (!key_text(&pt->run, w->text, false, raw, sizeof raw))
            return perr(pc, pt->e->file, w->line, w->key, "$%s: this run has no such value", w->text);
    } else {
        snprintf(raw, sizeof raw, "%s", w->text);
    }
    const struct nsid_key *k = nsid_config_find(w->key);
    if (!k) {
        snprintf(buf, n, "%s", raw);
        return 0;
    }
    struct nsid_config scratch;
    nsid_config_init(&scratch);
    bool quoted = (k->type == NSID_KEY_STRING || k->type == NSID_KEY_ENUM) && (w->ref || w->quoted);
    int rc = nsid_config_set_value(&scratch, w->key, raw, quoted, pt->e->file, w->line, pc->err);
    if (rc < 0) return rc;
    nsid_config_format_value(&scratch, k, buf, n);
    return 0;
}

/* ---- core references ------------------------------------------------------------------------------- */

/* Insertion sort of run indices by id (qsort_r is not portable C11; candidate sets are small). */
static void sort_by_id(int *idx, int n, const struct nsid_plan_run *runs)
{
    for (int i = 1; i < n; i++) {
        int x = idx[i], j = i;
        while (j > 0 && strcmp(runs[idx[j - 1]].id, runs[x].id) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = x;
    }
}

/* Does candidate run r match every where filter? */
static int matches(struct pctx *pc, const struct point *pt, const struct nsid_spec_ref *ref,
                   const struct nsid_plan_run *r, bool *ok)
{
    *ok = true;
    for (int i = 0; *ok && i < ref->n_where; i++) {
        char want[NSID_CONFIG_STR_MAX + 8], have[NSID_CONFIG_STR_MAX + 8];
        int rc = where_want(pc, pt, &ref->where[i], want, sizeof want);
        if (rc < 0) return rc;
        *ok = key_text(r, ref->where[i].key, true, have, sizeof have) && strcmp(want, have) == 0;
    }
    return 0;
}

static void where_text(const struct nsid_spec_ref *ref, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < ref->n_where && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s: %s%s", i ? ", " : "", ref->where[i].key,
                              ref->where[i].ref ? "$" : "", ref->where[i].text);
}

/* The selection of ref for the point: find (or add) it; its index into *sel. */
static int resolve_ref(struct pctx *pc, const struct point *pt, const struct nsid_spec_ref *ref, int *sel)
{
    const struct nsid_spec_experiment *x = nsid_spec_find(pc->specs, ref->experiment);
    int xi = (int)(x - pc->specs->experiments);
    struct nsid_plan *p = pc->p;
    int *cand = palloc(pc, (size_t)(pc->exp_end[xi] - pc->exp_first[xi] + 1) * sizeof *cand);
    if (!cand) return NSID_ENOMEM;
    int n = 0;
    const char *group = NULL;
    for (int i = pc->exp_first[xi]; i < pc->exp_end[xi]; i++) {
        bool ok = false;
        int rc = matches(pc, pt, ref, &p->runs[i], &ok);
        if (rc < 0) return rc;
        if (!ok) continue;
        if (group && strcmp(group, p->runs[i].sel_group) != 0) {
            char w[512];
            where_text(ref, w, sizeof w);
            return perr(pc, pt->e->file, ref->n_where ? ref->where[0].line : ref->line, "core.where",
                        "ambiguous reference: {%s} matches runs of experiment '%s' that are not one selection group "
                        "('%s' and '%s'); pin the other axes in where", w, x->name, group, p->runs[i].sel_group);
        }
        group = p->runs[i].sel_group;
        cand[n++] = p->runs[i].first >= 0 ? p->runs[i].first : i;
    }
    int where_line = ref->n_where ? ref->where[0].line : ref->line;
    if (n == 0) {
        char w[512];
        where_text(ref, w, sizeof w);
        return perr(pc, pt->e->file, where_line, "core.where",
                    "dangling reference: no run of experiment '%s' matches {%s} (profile %s)", x->name, w,
                    pc->o->profile);
    }
    sort_by_id(cand, n, p->runs);
    struct nsid__sb b = {0};
    nsid__plan_sb_add(&b, ref->rule);
    for (int i = 0; i < n; i++) nsid__plan_sb_addf(&b, "\n%s", p->runs[cand[i]].id);
    if (b.oom) return nsid_err_set(pc->err, NSID_ENOMEM, NULL, 0, "selection", "out of memory");
    char id[NSID_SHA256_HEX];
    nsid_sha256_hex(id, b.s, b.n);
    nsid__plan_sb_free(&b);
    for (int i = 0; i < p->n_selections; i++)
        if (strcmp(p->selections[i].id, id) == 0) {
            *sel = i;
            return 0;
        }
    if (NSID_SPEC_ARENA_GROW(&p->pool, p->selections, p->n_selections, p->cap_selections, 16, pc->err) < 0)
        return NSID_ENOMEM;
    struct nsid_plan_selection *s = &p->selections[p->n_selections];
    memcpy(s->id, id, sizeof id);
    s->rule = ref->rule;
    s->candidates = cand;
    s->n = n;
    *sel = p->n_selections++;
    return 0;
}

/* ---- data ------------------------------------------------------------------------------------------ */

static struct nsid_plan_group *find_group(struct nsid_plan *p, const char *name)
{
    for (int i = 0; i < p->groups.n_groups; i++)
        if (strcmp(p->groups.groups[i].name, name) == 0) return &p->groups.groups[i];
    return NULL;
}

static int unknown_group(struct pctx *pc, const struct point *pt, const struct nsid_spec_data *d)
{
    if (!pc->p->groups.path)
        return perr(pc, pt->e->file, d->line, "data", "group '%s' needs a data manifest (nsid-plan --manifest FILE, "
                    "or --data DIR for DIR/groups.json), or list the files: data: {files: [...]}", d->group);
    char known[512] = "";
    for (int i = 0; i < pc->p->groups.n_groups && strlen(known) < 400; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                 pc->p->groups.groups[i].name);
    return perr(pc, pt->e->file, d->line, "data", "no group '%s' in %s (known: %s)", d->group, pc->p->groups.path,
                known);
}

/* Where a data list was written: for messages. */
struct data_src {
    const char *file;             /* the spec or the manifest */
    const int *lines;             /* line of each entry, NULL: all at line */
    int line;
    const char *const *names;     /* the entries as written */
};

static int src_line(const struct data_src *s, int i)
{
    return s->lines && s->lines[i] > 0 ? s->lines[i] : s->line;
}

/*
 * The cheap checks of one data list (a stat and a signature per scan, no reading): every
 * entry exists and is a scan, no path twice, no data key twice. Message at the entry's line.
 */
static int check_scans(struct pctx *pc, const char *const *files, int n, const struct data_src *src)
{
    char (*keys)[NSID_KEY_MAX] = palloc(pc, (size_t)(n ? n : 1) * sizeof *keys);
    char **real = palloc(pc, (size_t)(n ? n : 1) * sizeof *real);
    if (!keys || !real) return NSID_ENOMEM;
    for (int i = 0; i < n; i++) {
        int ln = src_line(src, i);
        const char *name = src->names[i];
        enum nsid_scan_kind kind;
        struct nsid_err e = {0};
        int rc = nsid_scanid_probe(files[i], &kind, &e);
        if (rc == NSID_ENOTFOUND) {
            bool moved = strcmp(name, files[i]) != 0;
            return nsid_err_set(pc->err, NSID_ENOTFOUND, src->file, ln, "data", "data file '%s' does not exist%s%s%s",
                                name, moved ? " (relative to the folder of this file: " : "",
                                moved ? files[i] : "", moved ? ")" : "");
        }
        if (rc < 0) return nsid_err_set(pc->err, rc, src->file, ln, "data", "'%s' is %s", name, e.msg);
        char buf[PATH_MAX];
        if (!realpath(files[i], buf))
            return nsid_err_set(pc->err, NSID_EIO, src->file, ln, "data", "'%s': cannot resolve the path: %s", name,
                                strerror(errno));
        if (!(real[i] = pdup(pc, buf))) return NSID_ENOMEM;
        nsid_scan_data_key(files[i], keys[i], sizeof keys[i]);
        for (int j = 0; j < i; j++) {
            if (strcmp(real[i], real[j]) == 0)
                return perr(pc, src->file, ln, "data", "'%s' is listed twice in one data list (also '%s' at line %d): "
                            "a run reads each scan once", name, src->names[j], src_line(src, j));
            if (strcmp(keys[i], keys[j]) == 0)
                return perr(pc, src->file, ln, "data", "'%s' and '%s' (line %d) have the same data key '%s': the "
                            "model has one readout per data key, taken from the scan's name (the text after "
                            "'static', without 'preproc'); rename one", name, src->names[j], src_line(src, j),
                            keys[i]);
        }
    }
    return 0;
}

/* Content hashes of a checked data list; the same content twice is an error at its line. */
static int hash_scans(struct pctx *pc, const char *const *files, int n, const struct data_src *src, const char **sha)
{
    for (int i = 0; i < n; i++) {
        int rc = file_sha(pc, files[i], false, &sha[i]);
        if (rc < 0) {
            char msg[NSID_ERR_MSG_MAX];
            nsid_err_str(pc->err, msg, sizeof msg);
            nsid_err_clear(pc->err); /* replaced: the spec's line, quoting the inner error */
            return nsid_err_set(pc->err, rc, src->file, src_line(src, i), "data", "'%s': %s", src->names[i], msg);
        }
        for (int j = 0; j < i; j++)
            if (strcmp(sha[i], sha[j]) == 0)
                return perr(pc, src->file, src_line(src, i), "data",
                            "'%s' and '%s' (line %d) are the same scan (identical content, sha256 %.12s): a run "
                            "reads each scan once", src->names[i], src->names[j], src_line(src, j), sha[i]);
    }
    return 0;
}

/* A spec's data file: relative to the spec's folder, absolute as given. */
static const char *spec_path(struct pctx *pc, const char *spec_file, const char *f)
{
    const char *slash = strrchr(spec_file, '/');
    if (f[0] == '/' || !slash) return f;
    return nsid_spec_arena_printf(&pc->p->pool, pc->err, "%.*s/%s", (int)(slash - spec_file), spec_file, f);
}

static int resolve_data(struct pctx *pc, struct point *pt)
{
    const struct nsid_spec_data *d = pt->v->data.line ? &pt->v->data : &pt->e->data;
    if (!d->line)
        return perr(pc, pt->e->file, pt->e->line, "data",
                    "missing: name a data group (data: NAME) or files (data: {files: [...]})");
    struct nsid_plan_run *r = &pt->run;
    struct nsid_plan_group *g = NULL;
    if (d->group && !(g = find_group(pc->p, d->group))) return unknown_group(pc, pt, d);
    r->data_group = g ? g->name : "files";
    const void *key = g ? (const void *)g : (const void *)d;
    for (int i = 0; i < pc->n_dmemo; i++)
        if (pc->dmemo[i].key == key) {
            r->data = pc->dmemo[i].files;
            r->data_sha = pc->dmemo[i].sha;
            r->n_data = pc->dmemo[i].n;
            return 0;
        }
    if (NSID_SPEC_ARENA_GROW(&pc->p->pool, pc->dmemo, pc->n_dmemo, pc->cap_dmemo, 16, pc->err) < 0) return NSID_ENOMEM;
    int n = g ? g->n : d->n_files;
    const char **files = palloc(pc, (size_t)(n ? n : 1) * sizeof *files);
    const char **sha = palloc(pc, (size_t)(n ? n : 1) * sizeof *sha);
    if (!files || !sha) return NSID_ENOMEM;
    struct data_src src = {.file = pt->e->file, .line = d->line, .names = d->files};
    if (g) {
        src = (struct data_src){.file = pc->p->groups.path, .lines = g->lines, .line = g->line, .names = g->names};
        for (int i = 0; i < n; i++) files[i] = g->files[i];
    } else {
        for (int i = 0; i < n; i++)
            if (!(files[i] = spec_path(pc, pt->e->file, d->files[i]))) return NSID_ENOMEM;
    }
    int rc = g ? 0 : check_scans(pc, files, n, &src); /* a group was checked when the plan began */
    if (rc == 0) rc = hash_scans(pc, files, n, &src, sha);
    if (rc < 0) return rc;
    if (g) g->sha = sha;
    pc->dmemo[pc->n_dmemo++] = (struct data_memo){.key = key, .files = files, .sha = sha, .n = n};
    r->data = files;
    r->data_sha = sha;
    r->n_data = n;
    return 0;
}

/* Hashes of the groups no run uses (the store records every group's datasets). */
static int hash_groups(struct pctx *pc)
{
    struct nsid_plan_groups *gs = &pc->p->groups;
    for (int i = 0; i < gs->n_groups; i++) {
        struct nsid_plan_group *g = &gs->groups[i];
        if (g->sha) continue;
        const char **sha = palloc(pc, (size_t)g->n * sizeof *sha);
        if (!sha) return NSID_ENOMEM;
        struct data_src src = {.file = gs->path, .lines = g->lines, .line = g->line, .names = g->names};
        int rc = hash_scans(pc, g->files, g->n, &src, sha);
        if (rc < 0) return rc;
        g->sha = sha;
    }
    return 0;
}

/* Save the hash cache (best effort), creating its folder: the plan is good, its results follow. */
static void save_cache(struct pctx *pc)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", pc->o->hash_cache);
    char *slash = strrchr(dir, '/');
    struct nsid_err ignore = {0};
    if (slash && slash != dir) {
        *slash = '\0';
        nsid_path_mkdirs(dir, NULL, &ignore);
    }
    nsid_scanid_cache_save(&pc->cache, pc->o->hash_cache);
}

/* Every group of the manifest passes the cheap checks, used by a run or not. */
static int check_groups(struct pctx *pc)
{
    const struct nsid_plan_groups *gs = &pc->p->groups;
    for (int i = 0; i < gs->n_groups; i++) {
        const struct nsid_plan_group *g = &gs->groups[i];
        struct data_src src = {.file = gs->path, .lines = g->lines, .line = g->line, .names = g->names};
        int rc = check_scans(pc, g->files, g->n, &src);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---- the core: a file or a selection --------------------------------------------------------------- */

/* Line where the run's model.core.checkpoint was set (for messages). */
static int checkpoint_line(const struct nsid_config *c)
{
    size_t nk = 0;
    const struct nsid_key *keys = nsid_config_keys(&nk);
    const struct nsid_key *k = nsid_config_find("model.core.checkpoint");
    return c->line[k - keys] > 0 ? c->line[k - keys] : 0;
}

/* *core gets the identity of the core ("" none); *skip is set for a missing optional input. */
static int resolve_core(struct pctx *pc, struct point *pt, const char **core, bool *skip)
{
    const struct nsid_spec_ref *ref = pt->v->core.experiment ? &pt->v->core : &pt->e->core;
    struct nsid_plan_run *r = &pt->run;
    char *ckpt = r->config->model.core.checkpoint;
    r->selection = -1;
    *core = "";
    if (ref->experiment) {
        if (ckpt[0])
            return perr(pc, pt->e->file, ref->line, "core", "this run also sets model.core.checkpoint ('%.100s'): "
                        "give one or the other", ckpt);
        int rc = resolve_ref(pc, pt, ref, &r->selection);
        if (rc < 0) return rc;
        *core = nsid_spec_arena_printf(&pc->p->pool, pc->err, "select:%s", pc->p->selections[r->selection].id);
        return *core ? 0 : NSID_ENOMEM;
    }
    if (!ckpt[0]) return 0;
    const char *sha = NULL;
    int rc = file_sha(pc, ckpt, true, &sha);
    if (rc == NSID_ENOTFOUND) nsid_err_clear(pc->err); /* an optional variant's skip, or the spec's line */
    if (rc == NSID_ENOTFOUND && pt->v->optional) {
        *skip = true;
        return 0;
    }
    if (rc == NSID_ENOTFOUND)
        return nsid_err_set(pc->err, NSID_ENOTFOUND, pt->e->file, checkpoint_line(r->config), "model.core.checkpoint",
                            "input file '%.200s' does not exist%s", ckpt,
                            pt->v->name[0] ? " (mark the variant optional: true to skip it when absent)" : "");
    if (rc < 0) return rc;
    *core = nsid_spec_arena_printf(&pc->p->pool, pc->err, "sha256:%s", sha);
    return *core ? 0 : NSID_ENOMEM;
}

/* Validate with the core's identity standing in for a checkpoint chosen at make time. */
static int validate(struct pctx *pc, struct point *pt, const char *core)
{
    struct nsid_config *c = pt->run.config;
    bool placeholder = pt->run.selection >= 0;
    if (placeholder) snprintf(c->model.core.checkpoint, sizeof c->model.core.checkpoint, "%s", core);
    int rc = nsid_config_validate(c, pc->err);
    if (placeholder) c->model.core.checkpoint[0] = '\0';
    if (rc < 0) nsid_err_context(pc->err, pt->e->file, pt->v->line, NULL, NULL);
    return rc;
}

/* ---- plot fields, selection groups, descriptions ----------------------------------------------------- */

static const struct nsid_spec_value *plot_field(const struct point *pt, const char *name)
{
    for (int i = 0; i < pt->v->n_plot; i++)
        if (strcmp(pt->v->plot[i].key, name) == 0) return &pt->v->plot[i];
    for (int i = 0; i < pt->e->n_plot; i++)
        if (strcmp(pt->e->plot[i].key, name) == 0) return &pt->e->plot[i];
    return NULL;
}

static int plot_text(struct pctx *pc, const struct point *pt, const char *name, const char **out)
{
    const struct nsid_spec_value *f = plot_field(pt, name);
    *out = NULL;
    if (!f) return 0;
    if (!f->ref) {
        *out = f->text;
        return 0;
    }
    char buf[NSID_CONFIG_STR_MAX];
    if (!key_text(&pt->run, f->text, false, buf, sizeof buf))
        return perr(pc, pt->e->file, f->line, name, "$%s: this run has no such value", f->text);
    *out = pdup(pc, buf);
    return *out ? 0 : NSID_ENOMEM;
}

/* The paper's figures, drawn by their own scripts (plots/gp/NAME.gp) from the fraction oracle. */
static bool paper_figure(const char *f)
{
    return strcmp(f, "fig3") == 0 || strcmp(f, "fig3_ablation") == 0 || strcmp(f, "fig4") == 0 ||
           strcmp(f, "fig5") == 0;
}

/* A figure's name is a file name of plots/spec-figures.sh: [A-Za-z0-9_.-]+, not one of the
 * reproduction's other figures (plots/figures.sh), whose files it would overwrite. */
static int check_figure_name(struct pctx *pc, const struct point *pt, const struct nsid_spec_value *ff)
{
    static const char *const RESERVED[] = {"fig1", "sim_rf", "sim_gt", "training", NULL};
    const char *f = pt->run.figure;
    int line = ff ? ff->line : pt->e->line;
    bool ok = true;
    for (const char *s = f; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-' || *s == '.'))
            ok = false;
    if (!ok) return perr(pc, pt->e->file, line, "plot.figure", "'%.60s' is not a figure name: use [A-Za-z0-9_.-]", f);
    for (int i = 0; RESERVED[i]; i++)
        if (strcmp(f, RESERVED[i]) == 0)
            return perr(pc, pt->e->file, line, "plot.figure",
                        "%s is a figure of the reproduction's own (plots/figures.sh): choose another name", f);
    return 0;
}

/*
 * A figure draws one metric: plot.y declarations of the runs in one figure must agree (those
 * that leave y out take the figure's), and a paper figure draws the fraction oracle.
 */
static int check_metric(struct pctx *pc, const struct point *pt, const struct nsid_spec_value *fy)
{
    const struct nsid_plan_run *r = &pt->run;
    if (!fy) return 0;
    if (paper_figure(r->figure) && strcmp(fy->text, NSID_SPEC_PLOT_METRIC_DEFAULT) != 0)
        return perr(pc, pt->e->file, fy->line, "plot.y",
                    "%s is a paper figure drawn by its own script, of %s: name your figure differently to "
                    "draw %s", r->figure, NSID_SPEC_PLOT_METRIC_DEFAULT, fy->text);
    for (int i = 0; i < pc->p->n_runs; i++) {
        const struct nsid_plan_run *o = &pc->p->runs[i];
        if (!o->figure || !o->y || strcmp(o->figure, r->figure) != 0) continue;
        if (strcmp(o->y, r->y) == 0) return 0;
        return perr(pc, pt->e->file, fy->line, "plot.y", "figure %s draws %s (%s): one metric per figure, not %s",
                    r->figure, o->y, o->plot_spec, r->y);
    }
    return 0;
}

static int resolve_plot(struct pctx *pc, struct point *pt)
{
    struct nsid_plan_run *r = &pt->run;
    const char *x = NULL;
    int rc = plot_text(pc, pt, "figure", &r->figure);
    if (rc == 0) rc = plot_text(pc, pt, "panel", &r->panel);
    if (rc == 0) rc = plot_text(pc, pt, "curve", &r->curve);
    if (rc == 0) rc = plot_text(pc, pt, "style", &r->style);
    if (rc == 0) rc = plot_text(pc, pt, "x", &x);
    if (rc < 0) return rc;
    if (!r->panel) r->panel = "";
    if (!r->curve) r->curve = "";
    if (!r->style) r->style = "";
    r->x = NAN;
    if (x) {
        char *end = NULL;
        r->x = strtod(x, &end);
        if (end == x || *end || !isfinite(r->x))
            return perr(pc, pt->e->file, plot_field(pt, "x")->line, "x", "'%.60s' is not a number", x);
    }
    const struct nsid_spec_value *fx = plot_field(pt, "x"), *fy = plot_field(pt, "y"), *ff = plot_field(pt, "figure");
    r->x_key = fx && fx->ref ? fx->text : NULL;
    r->y = fy ? fy->text : NULL;
    r->plot_spec = NULL;
    if (!r->figure || !r->figure[0]) return 0; /* figure: '' places the run in no figure */
    rc = check_figure_name(pc, pt, ff);
    if (rc < 0) return rc;
    r->plot_spec = nsid_spec_arena_printf(&pc->p->pool, pc->err, "%s:%d", pt->e->file, ff ? ff->line : pt->e->line);
    if (!r->plot_spec) return NSID_ENOMEM;
    return check_metric(pc, pt, fy);
}

static bool is_select_key(const struct nsid_spec_experiment *e, const char *key)
{
    for (int i = 0; i < e->n_select; i++)
        if (strcmp(e->select[i].key, key) == 0) return true;
    return false;
}

/* sel_group ("variant|data=G|k=v|...": the non-selection axes) and point ("k=v, ..."). */
static int describe(struct pctx *pc, struct point *pt)
{
    struct nsid__sb g = {0}, d = {0}, vj = {0};
    nsid__plan_sb_addf(&g, "%s|data=%s", pt->v->name, pt->run.data_group);
    for (int i = 0; i < pt->n_axes; i++) {
        const struct nsid_spec_value *v = &pt->axes[i]->values[pt->gidx[i]];
        if (!is_select_key(pt->e, v->key)) nsid__plan_sb_addf(&g, "|%s=%s", v->key, v->text);
        nsid__plan_sb_addf(&d, "%s%s=%s", d.n ? ", " : "", v->key, v->text);
    }
    for (int i = 0; i < pt->n_search; i++) {
        const struct nsid_spec_value *v = &pt->search[i]->values[pt->sidx[i]];
        nsid__plan_sb_addf(&d, "%s%s=%s", d.n ? ", " : "", v->key, v->text);
    }
    nsid__plan_sb_add(&vj, "{");
    for (int i = 0; i < pt->run.n_vars; i++) {
        if (i) nsid__plan_sb_add(&vj, ",");
        nsid__plan_sb_json(&vj, pt->run.vars[i].key + 4);
        nsid__plan_sb_add(&vj, ":");
        if (pt->run.vars[i].quoted) nsid__plan_sb_json(&vj, pt->run.vars[i].text);
        else nsid__plan_sb_json_scalar(&vj, pt->run.vars[i].text);
    }
    nsid__plan_sb_add(&vj, "}");
    int rc = (g.oom || vj.oom || d.oom) ? nsid_err_set(pc->err, NSID_ENOMEM, NULL, 0, "plan", "out of memory") : 0;
    if (rc == 0) {
        pt->run.sel_group = pdup(pc, g.s);
        pt->run.point = pdup(pc, d.s ? d.s : "");
        pt->run.vars_json = pdup(pc, vj.s);
        if (!pt->run.sel_group || !pt->run.point || !pt->run.vars_json) rc = NSID_ENOMEM;
    }
    nsid__plan_sb_free(&g);
    nsid__plan_sb_free(&d);
    nsid__plan_sb_free(&vj);
    return rc;
}

/* ---- the run table ---------------------------------------------------------------------------------- */

static uint64_t id_hash(const char *id)
{
    uint64_t h = 0;
    for (int i = 0; i < 16 && id[i]; i++) h = h * 16 + (uint64_t)(id[i] <= '9' ? id[i] - '0' : (id[i] | 32) - 'a' + 10);
    return h;
}

/* Slot of id in the index (its run, or the empty slot where it belongs). */
static int *index_slot(struct nsid_plan *p, const char *id)
{
    int mask = p->index_cap - 1;
    for (int s = (int)(id_hash(id) & (uint64_t)mask);; s = (s + 1) & mask)
        if (p->index[s] < 0 || strcmp(p->runs[p->index[s]].id, id) == 0) return &p->index[s];
}

static int index_grow(struct pctx *pc)
{
    struct nsid_plan *p = pc->p;
    int cap = p->index_cap ? 2 * p->index_cap : 1024;
    int *idx = palloc(pc, (size_t)cap * sizeof *idx);
    if (!idx) return NSID_ENOMEM;
    int *latest = palloc(pc, (size_t)cap * sizeof *latest);
    if (!latest) return NSID_ENOMEM;
    for (int i = 0; i < cap; i++) idx[i] = -1;
    p->index = idx;
    p->index_cap = cap;
    pc->latest = latest;
    for (int i = 0; i < p->n_runs; i++)
        if (p->runs[i].first < 0) *index_slot(p, p->runs[i].id) = i;
    for (int i = 0; i < p->n_runs; i++) latest[index_slot(p, p->runs[i].id) - p->index] = i;
    return 0;
}

static int add_run(struct pctx *pc, const struct point *pt)
{
    struct nsid_plan *p = pc->p;
    if (NSID_SPEC_ARENA_GROW(&p->pool, p->runs, p->n_runs, p->cap_runs, 256, pc->err) < 0) return NSID_ENOMEM;
    if (2 * (p->n_unique + 1) > p->index_cap) {
        int rc = index_grow(pc);
        if (rc < 0) return rc;
    }
    int *slot = index_slot(p, pt->run.id);
    struct nsid_plan_run r = pt->run;
    r.first = *slot;
    /* a run of this experiment with this id: the last run with the id, if it is this experiment's
       (runs of one experiment are contiguous; a scan of them would make the plan quadratic) */
    int *last = &pc->latest[slot - p->index];
    const struct nsid_plan_run *o = *slot >= 0 && *last >= pc->exp_first[pt->e - pc->specs->experiments]
                                        ? &p->runs[*last] : NULL;
    if (o) {
        return perr(pc, pt->e->file, pt->v->line, pt->e->name,
                    "two runs of this experiment have the same configuration (id %.12s): variant '%s' {%s} and "
                    "variant '%s' {%s}; an axis or variant changes nothing", r.id, o->variant->name, o->point,
                    pt->v->name, r.point);
    }
    if (*slot < 0) {
        *slot = p->n_runs;
        p->n_unique++;
    }
    *last = p->n_runs;
    p->runs[p->n_runs++] = r;
    return 0;
}

/* ---- one point --------------------------------------------------------------------------------------- */

static int expand_point(struct pctx *pc, struct point *pt)
{
    struct nsid_plan_run *r = &pt->run;
    memset(r, 0, sizeof *r);
    r->exp = pt->e;
    r->variant = pt->v;
    r->config = palloc(pc, sizeof *r->config);
    int max_vars = pt->e->n_defaults + pt->v->n_set + pt->n_axes + 8;
    const struct nsid_spec_profile *gp = find_profile(pc->specs->global, pc->specs->n_global, pc->o->profile);
    const struct nsid_spec_profile *ep = find_profile(pt->e->profiles, pt->e->n_profiles, pc->o->profile);
    max_vars += (gp ? gp->n_defaults : 0) + (ep ? ep->n_defaults : 0);
    r->vars = palloc(pc, (size_t)max_vars * sizeof *r->vars);
    if (!r->config || !r->vars) return NSID_ENOMEM;
    nsid_config_init(r->config);
    int rc = apply_all(pc, pt);
    if (rc == 0) rc = resolve_data(pc, pt);
    const char *core = "";
    bool skip = false;
    if (rc == 0) rc = resolve_core(pc, pt, &core, &skip);
    if (rc < 0) return rc;
    if (skip) {
        pc->skipped[pt->e - pc->specs->experiments]++;
        return 0;
    }
    rc = validate(pc, pt, core);
    if (rc == 0) rc = resolve_plot(pc, pt);
    if (rc == 0) rc = describe(pc, pt);
    if (rc < 0) return rc;
    size_t len = nsid_identity_plan(r->config, core, r->data_sha, r->n_data, NULL, 0, NULL);
    char *ident = palloc(pc, len + 1);
    size_t clen = nsid_config_canonical(r->config, NULL, 0);
    char *canon = palloc(pc, clen + 1);
    if (!ident || !canon || len == 0) return NSID_ENOMEM;
    nsid_identity_plan(r->config, core, r->data_sha, r->n_data, ident, len + 1, r->id);
    nsid_config_canonical(r->config, canon, clen + 1);
    r->identity = ident;
    r->canonical = canon;
    return add_run(pc, pt);
}

/* ---- one experiment ----------------------------------------------------------------------------------- */

/* Effective axes: base with profile axes replacing (by key) or appended; minus keys the variant sets. */
static int effective(struct pctx *pc, const struct nsid_spec_axis *base, int nb, const struct nsid_spec_axis *prof,
                     int np, const struct nsid_spec_variant *v, const struct nsid_spec_axis ***out, int *n)
{
    const struct nsid_spec_axis **a = palloc(pc, (size_t)(nb + np + 1) * sizeof *a);
    if (!a) return NSID_ENOMEM;
    int k = 0;
    for (int i = 0; i < nb; i++) a[k++] = &base[i];
    for (int j = 0; j < np; j++) {
        int i = 0;
        while (i < k && strcmp(a[i]->key, prof[j].key) != 0) i++;
        a[i] = &prof[j];
        if (i == k) k++;
    }
    int m = 0;
    for (int i = 0; i < k; i++) {
        bool set = false;
        for (int s = 0; s < v->n_set; s++) set = set || strcmp(v->set[s].key, a[i]->key) == 0;
        if (!set) a[m++] = a[i];
    }
    *out = a;
    *n = m;
    return 0;
}

/* An axis like a with n values: a log search regenerated, a list cut to its first n. */
static int resize_search(struct pctx *pc, const struct nsid_spec_axis *a, int n, const struct nsid_spec_axis **out)
{
    struct nsid_spec_axis *r = palloc(pc, sizeof *r);
    if (!r) return NSID_ENOMEM;
    *r = *a;
    if (a->kind == NSID_SEARCH_LOG || a->kind == NSID_SEARCH_RANDOM_LOG) {
        int rc = nsid_spec_search_values(&pc->p->pool, a->key, a->kind, a->lo, a->hi, a->seed, n, a->line, &r->values,
                                         pc->err);
        if (rc < 0) return rc;
        r->n = n;
    } else if (n < r->n) {
        r->n = n;
    }
    *out = r;
    return 0;
}

/* Searches of a variant: the experiment's, replaced by the variant's, then the profile's (or resized). */
static int effective_search(struct pctx *pc, const struct nsid_spec_experiment *e, const struct nsid_spec_variant *v,
                            const struct nsid_spec_profile *ep, const struct nsid_spec_axis ***out, int *n)
{
    int np = ep ? ep->n_search : 0;
    const struct nsid_spec_axis **a = palloc(pc, (size_t)(e->n_search + v->n_search + np + 1) * sizeof *a);
    if (!a) return NSID_ENOMEM;
    int k = 0;
    for (int i = 0; i < e->n_search; i++) a[k++] = &e->search[i];
    for (int pass = 0; pass < 2; pass++) {
        const struct nsid_spec_axis *src = pass == 0 ? v->search : ep ? ep->search : NULL;
        int ns = pass == 0 ? v->n_search : np;
        for (int j = 0; j < ns; j++) {
            int i = 0;
            while (i < k && strcmp(a[i]->key, src[j].key) != 0) i++;
            if (src[j].kind == NSID_SEARCH_COUNT) {
                if (i == k) continue; /* resizes another variant's search */
                int rc = resize_search(pc, a[i], src[j].n, &a[i]);
                if (rc < 0) return rc;
                continue;
            }
            a[i] = &src[j];
            if (i == k) k++;
        }
    }
    int m = 0;
    for (int i = 0; i < k; i++) {
        bool set = false;
        for (int s = 0; s < v->n_set; s++) set = set || strcmp(v->set[s].key, a[i]->key) == 0;
        if (!set) a[m++] = a[i];
    }
    *out = a;
    *n = m;
    return 0;
}

static bool variant_selected(const struct nsid_spec_profile *ep, const struct nsid_spec_variant *v)
{
    if (!ep || !ep->variants) return true;
    for (int i = 0; i < ep->n_variants; i++)
        if (strcmp(ep->variants[i], v->name) == 0) return true;
    return false;
}

/* Advance a mixed-radix counter; false when it wrapped. */
static bool next_index(int *idx, const struct nsid_spec_axis **axes, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        if (++idx[i] < axes[i]->n) return true;
        idx[i] = 0;
    }
    return false;
}

static int expand_variant(struct pctx *pc, const struct nsid_spec_experiment *e, const struct nsid_spec_variant *v,
                          const struct nsid_spec_profile *ep)
{
    struct point pt = {.e = e, .v = v};
    int rc = effective(pc, e->grid, e->n_grid, ep ? ep->grid : NULL, ep ? ep->n_grid : 0, v, &pt.axes, &pt.n_axes);
    if (rc == 0) rc = effective_search(pc, e, v, ep, &pt.search, &pt.n_search);
    if (rc < 0) return rc;
    /* count before expanding: a grid multiplied out may be far more runs than memory holds */
    long long max = pc->o->max_runs > 0 ? pc->o->max_runs : NSID_PLAN_MAX_RUNS;
    double runs = 1;
    char prod[300] = "";
    size_t k = 0;
    for (int i = 0; i < pt.n_axes + pt.n_search; i++) {
        const struct nsid_spec_axis *a = i < pt.n_axes ? pt.axes[i] : pt.search[i - pt.n_axes];
        runs *= a->n;
        if (k < sizeof prod - 1)
            k += (size_t)snprintf(prod + k, sizeof prod - k, "%s%.60s: %d", i ? " x " : "", a->key, a->n);
    }
    if (runs + (double)pc->counted > (double)max) {
        const struct nsid_spec_axis *a0 = pt.n_axes ? pt.axes[0] : pt.n_search ? pt.search[0] : NULL;
        return perr(pc, e->file, a0 && a0->line > 0 ? a0->line : v->line > 0 ? v->line : e->line,
                    pt.n_axes ? "grid" : "search",
                    "experiment %s%s%s: %.0f runs (%s)%s, more than the limit of %lld runs (nsid-plan --max-runs)",
                    e->name, v->name[0] ? ", variant " : "", v->name, runs, prod[0] ? prod : "one point",
                    pc->counted ? " after the plan's other runs" : "", max);
    }
    pc->counted += (long long)runs;
    int *gidx = palloc(pc, (size_t)(pt.n_axes + 1) * sizeof *gidx);
    int *sidx = palloc(pc, (size_t)(pt.n_search + 1) * sizeof *sidx);
    if (!gidx || !sidx) return NSID_ENOMEM;
    pt.gidx = gidx;
    pt.sidx = sidx;
    do {
        for (int i = 0; i < pt.n_search; i++) sidx[i] = 0;
        do {
            rc = expand_point(pc, &pt);
            if (rc < 0) return rc;
        } while (next_index(sidx, pt.search, pt.n_search));
    } while (next_index(gidx, pt.axes, pt.n_axes));
    return 0;
}

static int expand_experiment(struct pctx *pc, int ei)
{
    const struct nsid_spec_experiment *e = &pc->specs->experiments[ei];
    const struct nsid_spec_profile *ep = find_profile(e->profiles, e->n_profiles, pc->o->profile);
    pc->exp_first[ei] = pc->p->n_runs;
    for (int v = 0; v < e->n_variants; v++) {
        if (!variant_selected(ep, &e->variants[v])) continue;
        int rc = expand_variant(pc, e, &e->variants[v], ep);
        if (rc < 0) return rc;
    }
    pc->exp_end[ei] = pc->p->n_runs;
    if (pc->o->log && pc->skipped[ei])
        fprintf(pc->o->log, "nsid-plan: %s:%d: experiment %s: %d runs skipped (optional variants with missing inputs)\n",
                e->file, e->line, e->name, pc->skipped[ei]);
    return 0;
}

/* Experiments in an order where every referenced experiment comes first (no cycles: spec_check). */
static int order(struct pctx *pc, int *out)
{
    int n = pc->specs->n_experiments, k = 0;
    bool *done = palloc(pc, (size_t)n * sizeof *done);
    if (!done) return NSID_ENOMEM;
    while (k < n) {
        int before = k;
        for (int i = 0; i < n; i++) {
            if (done[i]) continue;
            const struct nsid_spec_experiment *e = &pc->specs->experiments[i];
            bool ready = true;
            for (int v = -1; v < e->n_variants && ready; v++) {
                const struct nsid_spec_ref *r = v < 0 ? &e->core : &e->variants[v].core;
                const struct nsid_spec_experiment *t = r->experiment ? nsid_spec_find(pc->specs, r->experiment) : NULL;
                ready = !t || done[t - pc->specs->experiments];
            }
            if (ready) {
                done[i] = true;
                out[k++] = i;
            }
        }
        if (k == before) return nsid_err_set(pc->err, NSID_EINVAL, NULL, 0, "core", "cyclic references between experiments");
    }
    return 0;
}

int nsid_plan_build(struct nsid_plan *p, const struct nsid_spec_set *specs, const struct nsid_plan_opts *opts,
                    struct nsid_err *err)
{
    memset(p, 0, sizeof *p);
    if (!nsid_spec_profile_known(opts->profile))
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "profile", "unknown profile '%s' (known: smoke, quick, paper)",
                            opts->profile ? opts->profile : "");
    struct pctx pc = {.p = p, .specs = specs, .o = opts, .err = err};
    p->profile = nsid_spec_arena_strdup(&p->pool, opts->profile, err);
    p->results = nsid_spec_arena_strdup(&p->pool, opts->results ? opts->results : "results", err);
    int n = specs->n_experiments;
    int *ord = palloc(&pc, (size_t)(n + 1) * sizeof *ord);
    pc.exp_first = palloc(&pc, (size_t)(n + 1) * sizeof *pc.exp_first);
    pc.exp_end = palloc(&pc, (size_t)(n + 1) * sizeof *pc.exp_end);
    pc.skipped = palloc(&pc, (size_t)(n + 1) * sizeof *pc.skipped);
    int rc = (!p->profile || !p->results || !ord || !pc.exp_first || !pc.exp_end || !pc.skipped) ? NSID_ENOMEM : 0;
    if (rc == 0 && opts->groups) rc = nsid_plan_groups_load(&p->groups, opts->groups, &p->pool, err);
    if (rc == 0) rc = order(&pc, ord);
    nsid_scanid_cache_init(&pc.cache);
    if (rc == 0 && opts->hash_cache) nsid_scanid_cache_load(&pc.cache, opts->hash_cache);
    if (rc == 0) rc = check_groups(&pc);
    for (int i = 0; rc == 0 && i < n; i++) rc = expand_experiment(&pc, ord[i]);
    if (rc == 0 && p->n_runs == 0)
        rc = nsid_err_set(err, NSID_EINVAL, n ? specs->experiments[0].file : NULL, 0, "experiment",
                          "the plan is empty: no experiment has a run for profile %s", opts->profile);
    if (rc == 0) rc = hash_groups(&pc);
    if (rc == 0 && opts->hash_cache && !opts->cache_readonly) save_cache(&pc);
    nsid_scanid_cache_free(&pc.cache);
    if (rc < 0) nsid_plan_free(p);
    return rc;
}

void nsid_plan_free(struct nsid_plan *p)
{
    if (!p) return;
    nsid_spec_arena_free(&p->pool);
    memset(p, 0, sizeof *p);
}
