/*
 * plan_write.c - what nsid-plan writes (run.json files, plan.mk, the plan tables of the
 * store) and reads back (--explain, --diff).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/path.h"
#include "exp/plan.h"
#include "exp/store_plan.h"
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
        rc = nsid__plan_write_if_changed(path, text, n + 1, &w, err);
        nsid_alloc_free(text);
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
        if (*c < 0x20 || *c == 0x7f || *c == '\\') nsid__plan_sb_addf(b, "<%02x>", *c);
        else nsid__plan_sb_addf(b, "%c", *c);
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
    nsid__plan_sb_add(b, "\n# ");
    make_comment(b, r->exp->name);
    nsid__plan_sb_add(b, "/");
    make_comment(b, r->variant->name[0] ? r->variant->name : "-");
    nsid__plan_sb_add(b, " {");
    make_comment(b, r->point);
    nsid__plan_sb_add(b, "}\n");
    nsid__plan_sb_addf(b, "%s/runs/%s/done: %s/runs/%s/run.json", R, r->id, R, r->id);
    if (r->selection >= 0) nsid__plan_sb_addf(b, " %s/select/%s.ckpt", R, p->selections[r->selection].id);
    nsid__plan_sb_add(b, " | $(NSID_RUN_DEPS)");
    for (int d = 0; d < r->n_data; d++) nsid__plan_sb_addf(b, " %s", r->data[d]);
    nsid__plan_sb_addf(b, "\n\t$(NSID_RUN) %s ", r->id);
    if (r->selection >= 0) nsid__plan_sb_addf(b, "%s/select/%s.ckpt", R, p->selections[r->selection].id);
    else nsid__plan_sb_add(b, "-");
    for (int d = 0; d < r->n_data; d++) nsid__plan_sb_addf(b, " %s", r->data[d]);
    nsid__plan_sb_add(b, "\n");
}

static void make_selection_rule(struct nsid__sb *b, const struct nsid_plan *p, const struct nsid_plan_selection *s)
{
    const char *R = p->results;
    const struct nsid_plan_run *c0 = &p->runs[s->candidates[0]];
    nsid__plan_sb_add(b, "\n# core: ");
    make_comment(b, s->rule);
    nsid__plan_sb_addf(b, " of %d runs of ", s->n);
    make_comment(b, c0->exp->name);
    nsid__plan_sb_addf(b, "\n%s/select/%s.ckpt:", R, s->id);
    for (int i = 0; i < s->n; i++) nsid__plan_sb_addf(b, " %s/runs/%s/done", R, p->runs[s->candidates[i]].id);
    nsid__plan_sb_add(b, " | $(NSID_RUN_DEPS)\n\t@mkdir -p $(@D)\n\t$(NSID_DB) select --out $@");
    for (int i = 0; i < s->n; i++) nsid__plan_sb_addf(b, " %s/runs/%s/run.db", R, p->runs[s->candidates[i]].id);
    nsid__plan_sb_add(b, "\n");
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
    for (size_t i = 0; i < m; i++) nsid__plan_sb_addf(b, " \\\n  %s", refs[i].path);
    nsid_alloc_free(refs);
}

int nsid_plan_write_make(const struct nsid_plan *p, const char *path, const char *const *specs, int n_specs,
                         struct nsid_err *err)
{
    int rc = check_paths(p, err);
    if (rc < 0) return rc;
    struct nsid__sb b = {0};
    nsid__plan_sb_add(&b, "# ");
    make_comment(&b, path);
    nsid__plan_sb_addf(&b, ": generated by nsid-plan for profile %s from", p->profile);
    for (int i = 0; i < n_specs; i++) {
        nsid__plan_sb_add(&b, " ");
        make_comment(&b, specs[i]);
    }
    nsid__plan_sb_addf(&b, "; do not edit.\n# %d runs (%d distinct), %d core selections.\n", p->n_runs, p->n_unique,
                  p->n_selections);
    nsid__plan_sb_addf(&b, "NSID_PLAN_PROFILE := %s\nNSID_PLAN_RESULTS := %s\nNSID_PLAN_RUNS :=", p->profile, p->results);
    for (int i = 0; i < p->n_runs; i++)
        if (p->runs[i].first < 0) nsid__plan_sb_addf(&b, " \\\n  %s", p->runs[i].id);
    nsid__plan_sb_addf(&b, "\nNSID_PLAN_STAMPS := $(foreach r,$(NSID_PLAN_RUNS),%s/runs/$(r)/done)\n", p->results);
    nsid__plan_sb_addf(&b, "NSID_PLAN_DBS := $(foreach r,$(NSID_PLAN_RUNS),%s/runs/$(r)/run.db)\nNSID_PLAN_DATA :=",
                  p->results);
    make_data_list(&b, p);
    nsid__plan_sb_add(&b, "\n");
    for (int i = 0; i < p->n_runs; i++)
        if (p->runs[i].first < 0) make_run_rule(&b, p, &p->runs[i]);
    for (int i = 0; i < p->n_selections; i++) make_selection_rule(&b, p, &p->selections[i]);
    if (b.oom) {
        nsid__plan_sb_free(&b);
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
    nsid__plan_sb_free(&b);
    return rc;
}

/* ---- the store ---------------------------------------------------------------------------------------- */

/* The plan's row of run r: its data files as a JSON array into paths, its variant's file:line into spec. */
static int record_run(struct nsid_store *st, const struct nsid_plan *p, const struct nsid_plan_run *r,
                      struct nsid_err *err)
{
    struct nsid__sb paths = {0}, spec = {0};
    nsid__plan_sb_add(&paths, "[");
    for (int d = 0; d < r->n_data; d++) {
        if (d) nsid__plan_sb_add(&paths, ",");
        nsid__plan_sb_json(&paths, r->data[d]);
    }
    nsid__plan_sb_add(&paths, "]");
    nsid__plan_sb_addf(&spec, "%s:%d", r->exp->file, r->variant->line);
    struct nsid_store_plan_run row = {
        .experiment = r->exp->name, .id = r->id, .variant = r->variant->name, .sel_group = r->sel_group,
        .data_group = r->data_group, .n_scans = r->n_data, .figure = r->figure, .panel = r->panel,
        .curve = r->curve, .style = r->style, .x = r->x, .vars_json = r->vars_json, .identity = r->identity,
        .data_paths_json = paths.s, .core_selection = r->selection >= 0 ? p->selections[r->selection].id : NULL,
        .spec = spec.s, .config_json = r->first < 0 ? r->canonical : NULL};
    int rc = (paths.oom || spec.oom) ? nsid_err_set(err, NSID_ENOMEM, NULL, 0, "plan", "out of memory")
                                     : nsid_store_plan_run(st, &row, err);
    nsid__plan_sb_free(&paths);
    nsid__plan_sb_free(&spec);
    return rc;
}

static int record_runs(struct nsid_store *st, const struct nsid_plan *p, struct nsid_err *err)
{
    for (int i = 0; i < p->n_runs; i++) {
        int rc = record_run(st, p, &p->runs[i], err);
        if (rc < 0) return rc;
    }
    return 0;
}

/* The plot declarations (plan_figures): which metric and x key each figure's runs declare, and where. */
static int record_figures(struct nsid_store *st, const struct nsid_plan *p, struct nsid_err *err)
{
    for (int i = 0; i < p->n_runs; i++) {
        const struct nsid_plan_run *r = &p->runs[i];
        if (!r->figure || !r->figure[0]) continue;
        int rc = nsid_store_plan_figure(st, r->figure, r->exp->name, r->y ? r->y : "", r->x_key ? r->x_key : "",
                                        r->plot_spec ? r->plot_spec : r->exp->file, err);
        if (rc < 0) return rc;
    }
    return 0;
}

static int record_selections(struct nsid_store *st, const struct nsid_plan *p, struct nsid_err *err)
{
    for (int i = 0; i < p->n_selections; i++)
        for (int c = 0; c < p->selections[i].n; c++) {
            int rc = nsid_store_plan_selection(st, p->selections[i].id, p->selections[i].rule,
                                               p->runs[p->selections[i].candidates[c]].id, err);
            if (rc < 0) return rc;
        }
    return 0;
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
    for (int g = 0; g < p->groups.n_groups; g++) {
        const struct nsid_plan_group *gr = &p->groups.groups[g];
        for (int i = 0; i < gr->n; i++) {
            char sha[NSID_SHA256_HEX];
            int rc = record_dataset(st, p, gr->files[i], sha, err);
            if (rc == 0) rc = nsid_store_plan_group(st, gr->name, gr->label, i, sha, gr->files[i], err);
            if (rc < 0) return rc;
        }
    }
    /* data files named directly in specs */
    for (int i = 0; i < p->n_runs; i++)
        if (strcmp(p->runs[i].data_group, "files") == 0)
            for (int d = 0; d < p->runs[i].n_data; d++) {
                char sha[NSID_SHA256_HEX];
                int rc = record_dataset(st, p, p->runs[i].data[d], sha, err);
                if (rc < 0) return rc;
            }
    return 0;
}

static int record_info(struct nsid_store *st, const struct nsid_plan *p, const char *const *specs, int n_specs,
                       struct nsid_err *err)
{
    struct nsid__sb sp = {0};
    nsid__plan_sb_add(&sp, "[");
    for (int i = 0; i < n_specs; i++) {
        if (i) nsid__plan_sb_add(&sp, ",");
        nsid__plan_sb_json(&sp, specs[i]);
    }
    nsid__plan_sb_add(&sp, "]");
    char counts[128], when[32];
    snprintf(counts, sizeof counts, "{\"runs\":%d,\"distinct\":%d,\"selections\":%d}", p->n_runs, p->n_unique,
             p->n_selections);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *kv[][2] = {{"profile", p->profile}, {"specs", sp.s},          {"groups", p->groups.path},
                           {"results", p->results}, {"counts", counts},       {"planned_at", when}};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof kv / sizeof kv[0]; i++)
        rc = nsid_store_plan_info(st, kv[i][0], kv[i][1], err);
    nsid__plan_sb_free(&sp);
    return rc;
}

/* Every table of the plan, inside nsid_store_plan_begin's transaction. */
static int record_all(const struct nsid_plan *p, struct nsid_store *st, const char *const *specs, int n_specs,
                      struct nsid_err *err)
{
    int rc = record_runs(st, p, err);
    if (rc == 0) rc = record_selections(st, p, err);
    if (rc == 0) rc = record_figures(st, p, err);
    if (rc == 0) rc = record_groups(st, p, err);
    if (rc == 0) rc = record_info(st, p, specs, n_specs, err);
    return rc;
}

int nsid_plan_record(const struct nsid_plan *p, struct nsid_store *st, const char *const *specs, int n_specs,
                     struct nsid_err *err)
{
    int rc = nsid_store_plan_begin(st, err);
    if (rc < 0) return rc;
    rc = record_all(p, st, specs, n_specs, err);
    if (rc < 0) {
        nsid_store_rollback(st);
        return rc;
    }
    return nsid_store_plan_commit(st, err);
}

/* ---- explain and diff ------------------------------------------------------------------------------- */

/* The configuration inside a run's identity. */
static int identity_config(struct nsid_store *st, const char *id, struct nsid_config *c, struct nsid_err *err)
{
    char *json = NULL;
    int rc = nsid_store_plan_config(st, id, &json, err);
    if (rc < 0) return rc;
    nsid_config_init(c);
    rc = nsid_config_parse_string(c, json, strlen(json), "identity", err);
    nsid_alloc_free(json);
    return rc;
}

int nsid_plan_explain(struct nsid_store *st, const char *prefix, FILE *out, struct nsid_err *err)
{
    char id[NSID_STORE_ID_MAX];
    int rc = nsid_store_plan_find(st, prefix, id, err);
    struct nsid_config c, def;
    if (rc == 0) rc = identity_config(st, id, &c, err);
    if (rc < 0) return rc;
    fprintf(out, "run %s\n", id);
    rc = nsid_store_plan_explain(st, id, out, err);
    if (rc < 0) return rc;
    fprintf(out, "  configuration (* = differs from the default of its readout type):\n");
    nsid_config_init(&def);
    size_t nk = 0;
    const struct nsid_key *keys = nsid_config_keys(&nk);
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

int nsid_plan_diff(struct nsid_store *st, const char *pa, const char *pb, FILE *out, struct nsid_err *err)
{
    char a[NSID_STORE_ID_MAX], b[NSID_STORE_ID_MAX];
    struct nsid_config ca, cb;
    int rc = nsid_store_plan_find(st, pa, a, err);
    if (rc == 0) rc = nsid_store_plan_find(st, pb, b, err);
    if (rc == 0) rc = identity_config(st, a, &ca, err);
    if (rc == 0) rc = identity_config(st, b, &cb, err);
    if (rc < 0) return rc;
    fprintf(out, "--- %s\n+++ %s\n", a, b);
    rc = nsid_store_plan_diff_head(st, a, b, out, err);
    if (rc < 0) return rc;
    int n = nsid_config_diff(&ca, &cb, out), n_data = 0;
    rc = nsid_store_plan_diff_data(st, a, b, out, &n_data, err);
    if (rc < 0) return rc;
    n += n_data;
    if (n == 0) fprintf(out, "same identity: %s\n", strcmp(a, b) == 0 ? "the same run" : "(different ids: a bug)");
    return 0;
}
