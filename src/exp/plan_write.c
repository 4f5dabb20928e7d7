/*
 * plan_write.c - what nsid-plan writes (run.json files, plan.mk, the plan tables of the
 * store) and reads back (--explain, --diff).
 */
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/path.h"
#include "exp/plan.h"
#include "plan_int.h"

/* ---- run.json ------------------------------------------------------------------------------------- */

int nsid_plan_write_configs(const struct nsid_plan *p, struct nsid_err *err)
{
    int written = 0;
    for (int i = 0; i < p->n_runs; i++) {
        const struct nsid_plan_run *r = &p->runs[i];
        if (r->first >= 0) continue;
        char dir[NSID_ERR_FILE_MAX], path[NSID_ERR_FILE_MAX + 16];
        snprintf(dir, sizeof dir, "%s/runs/%s", p->results, r->id);
        snprintf(path, sizeof path, "%s/run.json", dir);
        int rc = nsid_path_mkdirs(dir, NULL, err);
        if (rc < 0) return rc;
        size_t n = strlen(r->canonical);
        char *text = NSID_ALLOC(n + 2, err);
        if (!text) return NSID_ENOMEM;
        memcpy(text, r->canonical, n);
        memcpy(text + n, "\n", 2);
        bool w = false;
        rc = nsid__write_if_changed(path, text, n + 1, &w, err);
        nsid_free(text);
        if (rc < 0) return rc;
        written += w;
    }
    return written;
}

/* ---- plan.mk ---------------------------------------------------------------------------------------- */

/*
 * Everything nsid-plan writes into plan.mk passes one of two gates:
 *  - a word (a path or id in a target, a prerequisite or a recipe) must be made of bytes that
 *    make and sh both take literally: letters, digits, . _ / + , @ - and UTF-8 (bytes >= 0x80);
 *    anything else (blanks, newlines, $ ` ( ) ; # % : = * ? [ ] ~ quotes, backslash, ...) is
 *    refused at plan time, naming the path and where it came from, so nothing is ever quoted
 *    wrongly;
 *  - text in a comment (labels, grid points, spec names) is written with every control byte and
 *    backslash as <HH> (hex; no backslash at all), so it can neither end the comment line nor
 *    continue it onto the next.
 */
static bool make_word_ok(const char *w)
{
    if (!*w) return false;
    for (const unsigned char *c = (const unsigned char *)w; *c; c++)
        if (!(*c >= 0x80 || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr("._/+,@-", *c)))
            return false;
    return true;
}

static int make_word(const char *w, const char *what, const char *file, int line, struct nsid_err *err)
{
    if (make_word_ok(w)) return 0;
    return nsid_err_set(err, NSID_EINVAL, file, line, what,
                        "'%.200s': a path in the plan may hold only letters, digits, UTF-8 and . _ / + , @ - "
                        "(make and the shell would read other characters as syntax)", w);
}

static void make_comment(struct nsid__sb *b, const char *text)
{
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c < 0x20 || *c == 0x7f || *c == '\\') nsid__sb_addf(b, "<%02x>", *c);
        else nsid__sb_addf(b, "%c", *c);
    }
}

static int check_paths(const struct nsid_plan *p, struct nsid_err *err)
{
    int rc = make_word(p->results, "--results", NULL, 0, err);
    if (rc == 0 && !make_word_ok(p->profile))
        rc = nsid_err_set(err, NSID_EINVAL, NULL, 0, "--profile", "'%.80s' is not a profile name", p->profile);
    for (int i = 0; rc == 0 && i < p->n_runs; i++) {
        const struct nsid_plan_run *r = &p->runs[i];
        for (int d = 0; rc == 0 && d < r->n_data; d++)
            rc = make_word(r->data[d], "data", r->exp->file,
                           r->variant->data.line ? r->variant->data.line
                           : r->exp->data.line   ? r->exp->data.line
                                                 : r->exp->line,
                           err);
    }
    return rc;
}

static void make_run_rule(struct nsid__sb *b, const struct nsid_plan *p, const struct nsid_plan_run *r)
{
    const char *R = p->results;
    nsid__sb_add(b, "\n# ");
    make_comment(b, r->exp->name);
    nsid__sb_add(b, "/");
    make_comment(b, r->variant->name[0] ? r->variant->name : "-");
    nsid__sb_add(b, " {");
    make_comment(b, r->point);
    nsid__sb_add(b, "}\n");
    nsid__sb_addf(b, "%s/runs/%s/done: %s/runs/%s/run.json", R, r->id, R, r->id);
    if (r->selection >= 0) nsid__sb_addf(b, " %s/select/%s.ckpt", R, p->selections[r->selection].id);
    nsid__sb_add(b, " | $(NSID_RUN_DEPS)");
    for (int d = 0; d < r->n_data; d++) nsid__sb_addf(b, " %s", r->data[d]);
    nsid__sb_addf(b, "\n\t$(NSID_RUN) %s ", r->id);
    if (r->selection >= 0) nsid__sb_addf(b, "%s/select/%s.ckpt", R, p->selections[r->selection].id);
    else nsid__sb_add(b, "-");
    for (int d = 0; d < r->n_data; d++) nsid__sb_addf(b, " %s", r->data[d]);
    nsid__sb_add(b, "\n");
}

static void make_selection_rule(struct nsid__sb *b, const struct nsid_plan *p, const struct nsid_plan_selection *s)
{
    const char *R = p->results;
    const struct nsid_plan_run *c0 = &p->runs[s->candidates[0]];
    nsid__sb_add(b, "\n# core: ");
    make_comment(b, s->rule);
    nsid__sb_addf(b, " of %d runs of ", s->n);
    make_comment(b, c0->exp->name);
    nsid__sb_addf(b, "\n%s/select/%s.ckpt:", R, s->id);
    for (int i = 0; i < s->n; i++) nsid__sb_addf(b, " %s/runs/%s/done", R, p->runs[s->candidates[i]].id);
    nsid__sb_add(b, " | $(NSID_RUN_DEPS)\n\t@mkdir -p $(@D)\n\t$(NSID_DB) select --out $@");
    for (int i = 0; i < s->n; i++) nsid__sb_addf(b, " %s/runs/%s/run.db", R, p->runs[s->candidates[i]].id);
    nsid__sb_add(b, "\n");
}

/* The distinct data files of the plan, space-separated, in order of first appearance. */
struct data_ref {
    const char *path;
    size_t order;
};

static int by_path_then_order(const void *a, const void *b)
{
    const struct data_ref *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int by_order(const void *a, const void *b)
{
    const struct data_ref *x = a, *y = b;
    return (x->order > y->order) - (x->order < y->order);
}

/* Sorting, not comparing every pair: the plan's cost stays n log n in its runs. */
static void make_data_list(struct nsid__sb *b, const struct nsid_plan *p)
{
    size_t n = 0, k = 0;
    for (int i = 0; i < p->n_runs; i++) n += (size_t)p->runs[i].n_data;
    if (n == 0) return;
    struct nsid_err ignored = {0}; /* the caller reports the failure */
    struct data_ref *refs = NSID_ALLOC(n * sizeof *refs, &ignored);
    if (!refs) {
        b->oom = true;
        return;
    }
    for (int i = 0; i < p->n_runs; i++)
        for (int d = 0; d < p->runs[i].n_data; d++) refs[k] = (struct data_ref){p->runs[i].data[d], k}, k++;
    qsort(refs, n, sizeof *refs, by_path_then_order);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(refs[i].path, refs[i - 1].path) != 0) refs[m++] = refs[i];
    qsort(refs, m, sizeof *refs, by_order);
    for (size_t i = 0; i < m; i++) nsid__sb_addf(b, " \\\n  %s", refs[i].path);
    nsid_free(refs);
}

int nsid_plan_write_make(const struct nsid_plan *p, const char *path, const char *const *specs, int n_specs,
                         struct nsid_err *err)
{
    int rc = check_paths(p, err);
    if (rc < 0) return rc;
    struct nsid__sb b = {0};
    nsid__sb_add(&b, "# ");
    make_comment(&b, path);
    nsid__sb_addf(&b, ": generated by nsid-plan for profile %s from", p->profile);
    for (int i = 0; i < n_specs; i++) {
        nsid__sb_add(&b, " ");
        make_comment(&b, specs[i]);
    }
    nsid__sb_addf(&b, "; do not edit.\n# %d runs (%d distinct), %d core selections.\n", p->n_runs, p->n_unique,
                  p->n_selections);
    nsid__sb_addf(&b, "NSID_PLAN_PROFILE := %s\nNSID_PLAN_RESULTS := %s\nNSID_PLAN_RUNS :=", p->profile, p->results);
    for (int i = 0; i < p->n_runs; i++)
        if (p->runs[i].first < 0) nsid__sb_addf(&b, " \\\n  %s", p->runs[i].id);
    nsid__sb_addf(&b, "\nNSID_PLAN_STAMPS := $(foreach r,$(NSID_PLAN_RUNS),%s/runs/$(r)/done)\n", p->results);
    nsid__sb_addf(&b, "NSID_PLAN_DBS := $(foreach r,$(NSID_PLAN_RUNS),%s/runs/$(r)/run.db)\nNSID_PLAN_DATA :=",
                  p->results);
    make_data_list(&b, p);
    nsid__sb_add(&b, "\n");
    for (int i = 0; i < p->n_runs; i++)
        if (p->runs[i].first < 0) make_run_rule(&b, p, &p->runs[i]);
    for (int i = 0; i < p->n_selections; i++) make_selection_rule(&b, p, &p->selections[i]);
    if (b.oom) {
        nsid__sb_free(&b);
        return nsid_err_set(err, NSID_ENOMEM, path, 0, NULL, "out of memory");
    }
    /* always rewritten: make compares its time with the specs' */
    char tmp[NSID_ERR_FILE_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    rc = f ? 0 : nsid_err_set(err, NSID_EIO, tmp, 0, NULL, "cannot create");
    if (rc == 0 && fwrite(b.s, 1, b.n, f) != b.n) rc = nsid_err_set(err, NSID_EIO, tmp, 0, NULL, "write failed");
    if (f && fclose(f) != 0 && rc == 0) rc = nsid_err_set(err, NSID_EIO, tmp, 0, NULL, "write failed");
    if (rc == 0 && rename(tmp, path) != 0) rc = nsid_err_set(err, NSID_EIO, path, 0, NULL, "cannot rename %s", tmp);
    if (rc < 0) remove(tmp);
    nsid__sb_free(&b);
    return rc;
}

/* ---- the store ---------------------------------------------------------------------------------------- */

static int db_fail(struct nsid_store *st, const char *what, struct nsid_err *err)
{
    return nsid_err_set(err, NSID_EIO, st->path, 0, what, "%s", sqlite3_errmsg(st->db));
}

static int db_exec(struct nsid_store *st, const char *sql, struct nsid_err *err)
{
    return sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : db_fail(st, "plan", err);
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(s, i);
}

static int step(struct nsid_store *st, sqlite3_stmt *s, const char *what, struct nsid_err *err)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_fail(st, what, err);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

static const char PLAN_RUN_SQL[] =
    "INSERT INTO plan_runs (experiment, id, variant, sel_group, data_group, n_scans, figure, panel, curve, style,"
    " x, vars, identity, data_paths, core_selection, spec)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

static int record_run(struct nsid_store *st, sqlite3_stmt *s, const struct nsid_plan *p,
                      const struct nsid_plan_run *r, struct nsid_err *err)
{
    struct nsid__sb paths = {0}, spec = {0};
    nsid__sb_add(&paths, "[");
    for (int d = 0; d < r->n_data; d++) {
        if (d) nsid__sb_add(&paths, ",");
        nsid__sb_json(&paths, r->data[d]);
    }
    nsid__sb_add(&paths, "]");
    nsid__sb_addf(&spec, "%s:%d", r->exp->file, r->variant->line);
    bind_text(s, 1, r->exp->name);
    bind_text(s, 2, r->id);
    bind_text(s, 3, r->variant->name);
    bind_text(s, 4, r->sel_group);
    bind_text(s, 5, r->data_group);
    sqlite3_bind_int(s, 6, r->n_data);
    bind_text(s, 7, r->figure);
    bind_text(s, 8, r->panel);
    bind_text(s, 9, r->curve);
    bind_text(s, 10, r->style);
    if (!isnan(r->x)) sqlite3_bind_double(s, 11, r->x);
    bind_text(s, 12, r->vars_json);
    bind_text(s, 13, r->identity);
    bind_text(s, 14, paths.s);
    bind_text(s, 15, r->selection >= 0 ? p->selections[r->selection].id : NULL);
    bind_text(s, 16, spec.s);
    int rc = (paths.oom || spec.oom) ? nsid_err_set(err, NSID_ENOMEM, NULL, 0, "plan", "out of memory")
                                     : step(st, s, "plan_runs", err);
    nsid__sb_free(&paths);
    nsid__sb_free(&spec);
    return rc;
}

static int record_runs(struct nsid_store *st, const struct nsid_plan *p, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL, *planned = NULL;
    int rc = sqlite3_prepare_v2(st->db, PLAN_RUN_SQL, -1, &s, NULL) == SQLITE_OK ? 0 : db_fail(st, "plan_runs", err);
    if (rc == 0 && sqlite3_prepare_v2(st->db,
                                      "INSERT INTO runs (id, experiment, config, status) VALUES (?1, ?2, ?3, 'planned')"
                                      " ON CONFLICT (id) DO UPDATE SET config = excluded.config,"
                                      " experiment = excluded.experiment WHERE runs.status = 'planned'",
                                      -1, &planned, NULL) != SQLITE_OK)
        rc = db_fail(st, "runs", err);
    for (int i = 0; rc == 0 && i < p->n_runs; i++) {
        const struct nsid_plan_run *r = &p->runs[i];
        rc = record_run(st, s, p, r, err);
        if (rc == 0 && r->first < 0) {
            bind_text(planned, 1, r->id);
            bind_text(planned, 2, r->exp->name);
            bind_text(planned, 3, r->canonical);
            rc = step(st, planned, "runs", err);
        }
    }
    sqlite3_finalize(s);
    sqlite3_finalize(planned);
    return rc;
}

/* The plot declarations (plan_figures): which metric and x key each figure's runs declare, and where. */
static int record_figures(struct nsid_store *st, const struct nsid_plan *p, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR IGNORE INTO plan_figures (figure, experiment, metric, x_key, spec)"
                           " VALUES (?1, ?2, ?3, ?4, ?5)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, "plan_figures", err);
    int rc = 0;
    for (int i = 0; rc == 0 && i < p->n_runs; i++) {
        const struct nsid_plan_run *r = &p->runs[i];
        if (!r->figure || !r->figure[0]) continue;
        bind_text(s, 1, r->figure);
        bind_text(s, 2, r->exp->name);
        bind_text(s, 3, r->y ? r->y : "");
        bind_text(s, 4, r->x_key ? r->x_key : "");
        bind_text(s, 5, r->plot_spec ? r->plot_spec : r->exp->file);
        rc = step(st, s, "plan_figures", err);
    }
    sqlite3_finalize(s);
    return rc;
}

static int record_selections(struct nsid_store *st, const struct nsid_plan *p, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "INSERT INTO plan_selections (id, rule, candidate) VALUES (?1, ?2, ?3)", -1, &s,
                           NULL) != SQLITE_OK)
        return db_fail(st, "plan_selections", err);
    int rc = 0;
    for (int i = 0; rc == 0 && i < p->n_selections; i++)
        for (int c = 0; rc == 0 && c < p->selections[i].n; c++) {
            bind_text(s, 1, p->selections[i].id);
            bind_text(s, 2, p->selections[i].rule);
            bind_text(s, 3, p->runs[p->selections[i].candidates[c]].id);
            rc = step(st, s, "plan_selections", err);
        }
    sqlite3_finalize(s);
    return rc;
}

/* The hash of a data file the plan already computed, or NULL. */
static const char *known_sha(const struct nsid_plan *p, const char *path)
{
    for (int i = 0; i < p->n_runs; i++)
        for (int d = 0; d < p->runs[i].n_data; d++)
            if (strcmp(p->runs[i].data[d], path) == 0) return p->runs[i].data_sha[d];
    for (int g = 0; g < p->groups.n_groups; g++)
        for (int i = 0; p->groups.groups[g].sha && i < p->groups.groups[g].n; i++)
            if (strcmp(p->groups.groups[g].files[i], path) == 0) return p->groups.groups[g].sha[i];
    return NULL;
}

static const struct nsid_plan_scan *scan_of(const struct nsid_plan *p, const char *path)
{
    for (int i = 0; i < p->groups.n_scans; i++)
        if (strcmp(p->groups.scans[i].file, path) == 0) return &p->groups.scans[i];
    return NULL;
}

/* Upsert one data file as a dataset; its sha256 into sha. */
static int record_dataset(struct nsid_store *st, const struct nsid_plan *p, const char *path,
                          char sha[NSID_SHA256_HEX], struct nsid_err *err)
{
    const struct nsid_plan_scan *sc = scan_of(p, path);
    struct nsid_store_dataset d = {.path = path, .sha256 = known_sha(p, path)};
    if (sc) {
        d.data_key = sc->data_key;
        d.animal = sc->animal;
        d.image_set = sc->image_set;
        d.n_neurons = sc->n_neurons;
        d.n_train = sc->n_train;
        d.n_validation = sc->n_validation;
        d.n_test = sc->n_test;
        d.n_trials = sc->n_trials;
    }
    return nsid_store_dataset(st, &d, sha, err);
}

static int record_groups(struct nsid_store *st, const struct nsid_plan *p, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO dataset_groups (grp, label, position, dataset, path) VALUES (?1, ?2, ?3, ?4, ?5)",
                           -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, "dataset_groups", err);
    int rc = 0;
    for (int g = 0; rc == 0 && g < p->groups.n_groups; g++) {
        const struct nsid_plan_group *gr = &p->groups.groups[g];
        for (int i = 0; rc == 0 && i < gr->n; i++) {
            char sha[NSID_SHA256_HEX];
            rc = record_dataset(st, p, gr->files[i], sha, err);
            if (rc < 0) break;
            bind_text(s, 1, gr->name);
            bind_text(s, 2, gr->label);
            sqlite3_bind_int(s, 3, i);
            bind_text(s, 4, sha);
            bind_text(s, 5, gr->files[i]);
            rc = step(st, s, "dataset_groups", err);
        }
    }
    sqlite3_finalize(s);
    /* data files named directly in specs */
    for (int i = 0; rc == 0 && i < p->n_runs; i++)
        if (strcmp(p->runs[i].data_group, "files") == 0)
            for (int d = 0; rc == 0 && d < p->runs[i].n_data; d++) {
                char sha[NSID_SHA256_HEX];
                rc = record_dataset(st, p, p->runs[i].data[d], sha, err);
            }
    return rc;
}

static int record_info(struct nsid_store *st, const struct nsid_plan *p, const char *const *specs, int n_specs,
                       struct nsid_err *err)
{
    struct nsid__sb sp = {0};
    nsid__sb_add(&sp, "[");
    for (int i = 0; i < n_specs; i++) {
        if (i) nsid__sb_add(&sp, ",");
        nsid__sb_json(&sp, specs[i]);
    }
    nsid__sb_add(&sp, "]");
    char counts[128], when[32];
    snprintf(counts, sizeof counts, "{\"runs\":%d,\"distinct\":%d,\"selections\":%d}", p->n_runs, p->n_unique,
             p->n_selections);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *kv[][2] = {{"profile", p->profile}, {"specs", sp.s},          {"groups", p->groups.path},
                           {"results", p->results}, {"counts", counts},       {"planned_at", when}};
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "INSERT INTO plan_info (key, value) VALUES (?1, ?2)", -1, &s, NULL) == SQLITE_OK
                 ? 0
                 : db_fail(st, "plan_info", err);
    for (size_t i = 0; rc == 0 && i < sizeof kv / sizeof kv[0]; i++) {
        bind_text(s, 1, kv[i][0]);
        bind_text(s, 2, kv[i][1]);
        rc = step(st, s, "plan_info", err);
    }
    sqlite3_finalize(s);
    nsid__sb_free(&sp);
    return rc;
}

int nsid_plan_record(const struct nsid_plan *p, struct nsid_store *st, const char *const *specs, int n_specs,
                     struct nsid_err *err)
{
    struct nsid_err local = {0};
    if (!err) err = &local;
    int rc = nsid_store_begin(st, err);
    if (rc < 0) return rc;
    rc = db_exec(st,
                 "DELETE FROM plan_runs; DELETE FROM plan_selections; DELETE FROM plan_info;"
                 " DELETE FROM dataset_groups; DELETE FROM plan_figures;",
                 err);
    if (rc == 0) rc = record_runs(st, p, err);
    if (rc == 0) rc = record_selections(st, p, err);
    if (rc == 0) rc = record_figures(st, p, err);
    if (rc == 0) rc = record_groups(st, p, err);
    if (rc == 0) rc = record_info(st, p, specs, n_specs, err);
    if (rc == 0)
        rc = db_exec(st, "DELETE FROM runs WHERE status = 'planned' AND id NOT IN (SELECT id FROM plan_runs)", err);
    if (rc < 0) {
        nsid_store_rollback(st);
        return rc;
    }
    return nsid_store_commit(st, err);
}

/* ---- explain and diff ------------------------------------------------------------------------------- */

/* The full id of the planned run matching prefix. */
static int find_id(struct nsid_store *st, const char *prefix, char id[NSID_STORE_ID_MAX], struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    if (!nsid_store_valid_id(prefix))
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "id", "'%.80s' is not a run id", prefix);
    if (sqlite3_prepare_v2(st->db, "SELECT DISTINCT id FROM plan_runs WHERE substr(id, 1, length(?1)) = ?1 LIMIT 2",
                           -1, &s, NULL) != SQLITE_OK)
        return db_fail(st, "plan_runs", err);
    sqlite3_bind_text(s, 1, prefix, -1, SQLITE_TRANSIENT);
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW)
        if (n++ == 0) snprintf(id, NSID_STORE_ID_MAX, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (n == 0)
        return nsid_err_set(err, NSID_ENOTFOUND, st->path, 0, prefix, "no planned run has this id (run nsid-plan first)");
    if (n > 1) return nsid_err_set(err, NSID_EINVAL, st->path, 0, prefix, "ambiguous id prefix: give more digits");
    return 0;
}

/* A text column of the first row of sql (bound ?1 = id) into a new NSID_ALLOC string. */
static char *text_of(struct nsid_store *st, const char *sql, const char *id)
{
    sqlite3_stmt *s = NULL;
    char *out = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return NULL;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        size_t n = strlen(t);
        struct nsid_err ignored = {0}; /* the caller reports the failure */
        out = NSID_ALLOC(n + 1, &ignored);
        if (out) memcpy(out, t, n + 1);
    }
    sqlite3_finalize(s);
    return out;
}

/* The configuration inside a run's identity. */
static int identity_config(struct nsid_store *st, const char *id, struct nsid_config *c, struct nsid_err *err)
{
    char *json = text_of(st, "SELECT json_extract(identity, '$.config') FROM plan_runs WHERE id = ?1", id);
    if (!json) return nsid_err_set(err, NSID_EFORMAT, st->path, 0, id, "no identity recorded for this run");
    nsid_config_init(c);
    int rc = nsid_config_parse_string(c, json, strlen(json), "identity", err);
    nsid_free(json);
    return rc;
}

/* Print rows of sql (?1 = id), each column joined by sep, every line prefixed. */
static void print_rows(struct nsid_store *st, const char *sql, const char *id, const char *prefix, FILE *out)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(s) == SQLITE_ROW) {
        fputs(prefix, out);
        for (int i = 0; i < sqlite3_column_count(s); i++) {
            const char *t = (const char *)sqlite3_column_text(s, i);
            fprintf(out, "%s%s", i ? "  " : "", t ? t : "-");
        }
        fputc('\n', out);
    }
    sqlite3_finalize(s);
}

int nsid_plan_explain(struct nsid_store *st, const char *prefix, FILE *out, struct nsid_err *err)
{
    struct nsid_err local = {0};
    if (!err) err = &local;
    char id[NSID_STORE_ID_MAX];
    int rc = find_id(st, prefix, id, err);
    struct nsid_config c, def;
    if (rc == 0) rc = identity_config(st, id, &c, err);
    if (rc < 0) return rc;
    fprintf(out, "run %s\n", id);
    print_rows(st, "SELECT 'experiment ' || experiment, 'variant ' || quote(variant), 'at ' || spec,"
                   " 'grid point {' || sel_group || '}' FROM plan_runs WHERE id = ?1 ORDER BY experiment", id, "  ", out);
    print_rows(st, "SELECT 'status ' || status FROM runs WHERE id = ?1", id, "  ", out);
    print_rows(st, "SELECT 'data ' || p.value, 'sha256 ' || json_extract(r.identity, '$.data[' || p.key || ']')"
                   " FROM plan_runs r, json_each(r.data_paths) p WHERE r.id = ?1 AND r.rowid ="
                   " (SELECT min(rowid) FROM plan_runs WHERE id = ?1)", id, "  ", out);
    print_rows(st, "SELECT DISTINCT 'core: ' || s.rule || ' of run ' || s.candidate || coalesce(' (' || r.status || ')',"
                   " '') FROM plan_runs p JOIN plan_selections s ON s.id = p.core_selection LEFT JOIN runs r"
                   " ON r.id = s.candidate WHERE p.id = ?1", id, "  ", out);
    fprintf(out, "  configuration (* = differs from the default of its readout type):\n");
    nsid_config_init(&def);
    size_t nk = 0;
    const struct nsid_config_key *keys = nsid_config_keys(&nk);
    /* some defaults depend on the readout type: compare with the defaults of the run's type */
    for (size_t i = 0; i < nk; i++) {
        if (strcmp(keys[i].name, "model.readout.type") != 0) continue;
        char type[NSID_CONFIG_STR_MAX + 8];
        nsid_config_format_value(&c, &keys[i], type, sizeof type);
        size_t n = strlen(type);
        if (n >= 2 && type[0] == '"' && type[n - 1] == '"') { /* formatted as a JSON string */
            memmove(type, type + 1, n - 2);
            type[n - 2] = '\0';
        }
        struct nsid_err ignore = {0};
        nsid_config_set_value(&def, keys[i].name, type, false, NULL, 0, &ignore);
    }
    struct nsid_config plain;
    nsid_config_init(&plain);
    for (size_t i = 0; i < nk; i++) {
        char a[NSID_CONFIG_STR_MAX + 8], b[NSID_CONFIG_STR_MAX + 8];
        bool is_type = strcmp(keys[i].name, "model.readout.type") == 0; /* the type: against the default type */
        nsid_config_format_value(&c, &keys[i], a, sizeof a);
        nsid_config_format_value(is_type ? &plain : &def, &keys[i], b, sizeof b);
        fprintf(out, "  %s %s: %s\n", strcmp(a, b) ? "*" : " ", keys[i].name, a);
    }
    return 0;
}

/* Print the differences of the data lists of a and b; returns how many. */
static int diff_data(struct nsid_store *st, const char *a, const char *b, FILE *out)
{
    sqlite3_stmt *s = NULL;
    int n = 0;
    const char *sql =
        "WITH da AS (SELECT key, value FROM json_each((SELECT json_extract(identity, '$.data') FROM plan_runs"
        " WHERE id = ?1 LIMIT 1))), db AS (SELECT key, value FROM json_each((SELECT json_extract(identity,"
        " '$.data') FROM plan_runs WHERE id = ?2 LIMIT 1)))"
        " SELECT coalesce(da.key, db.key), da.value, db.value FROM da FULL JOIN db ON da.key = db.key"
        " WHERE da.value IS NOT db.value ORDER BY 1";
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return 0;
    sqlite3_bind_text(s, 1, a, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, b, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *x = (const char *)sqlite3_column_text(s, 1), *y = (const char *)sqlite3_column_text(s, 2);
        fprintf(out, "data[%d]: %s -> %s\n", sqlite3_column_int(s, 0), x ? x : "(none)", y ? y : "(none)");
        n++;
    }
    sqlite3_finalize(s);
    return n;
}

int nsid_plan_diff(struct nsid_store *st, const char *pa, const char *pb, FILE *out, struct nsid_err *err)
{
    struct nsid_err local = {0};
    if (!err) err = &local;
    char a[NSID_STORE_ID_MAX], b[NSID_STORE_ID_MAX];
    struct nsid_config ca, cb;
    int rc = find_id(st, pa, a, err);
    if (rc == 0) rc = find_id(st, pb, b, err);
    if (rc == 0) rc = identity_config(st, a, &ca, err);
    if (rc == 0) rc = identity_config(st, b, &cb, err);
    if (rc < 0) return rc;
    fprintf(out, "--- %s\n+++ %s\n", a, b);
    print_rows(st, "SELECT '--- ' || experiment || '/' || variant || ' {' || sel_group || '}' FROM plan_runs"
                   " WHERE id = ?1", a, "", out);
    print_rows(st, "SELECT '+++ ' || experiment || '/' || variant || ' {' || sel_group || '}' FROM plan_runs"
                   " WHERE id = ?1", b, "", out);
    int n = nsid_config_diff(&ca, &cb, out);
    n += diff_data(st, a, b, out);
    if (n == 0) fprintf(out, "same identity: %s\n", strcmp(a, b) == 0 ? "the same run" : "(different ids: a bug)");
    return 0;
}
