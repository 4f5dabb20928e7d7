/*
 * store_runs.c - runs at a glance (store_runs.h): the id resolver, `runs` (filters, the
 * configuration keys that differ, table / CSV / JSON), `compare`, tags and notes, and `gc`.
 *
 * Everything is read through one view-like common table expression (RUNS_V below: a run of the
 * store or of the plan, with its experiment, variant, status, scores and configuration), so the
 * columns `--where`, `--sort` and the outputs name are one list (docs/results.md). JSON is made by
 * SQLite's JSON functions (json_tree flattens a configuration, json_object writes a row).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "exp/store_runs.h"

#include <csv.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "base/alloc.h"
#include "exp/config.h"
#include "store_int.h"

/* ---- the runs, as one relation ---------------------------------------------------------------- */

/* Every run of the store or of the current plan (docs/results.md lists the columns). */
#define RUNS_V                                                                                          \
    "WITH v AS (SELECT i.id AS run_id, coalesce(NULLIF(r.experiment, ''), p.experiment, '') AS experiment," \
    " coalesce(p.variant, '') AS variant, coalesce(r.status, 'planned') AS status,"                    \
    " (SELECT max(e.epoch) FROM epochs e WHERE e.run_id = i.id) AS epochs,"                             \
    " (SELECT m.value FROM metrics m WHERE m.run_id = i.id AND m.scan = 'all' AND m.split = 'validation'" \
    " AND m.name = 'corr') AS val_corr,"                                                                \
    " (SELECT m.value FROM metrics m WHERE m.run_id = i.id AND m.scan = 'all' AND m.split = 'test'"     \
    " AND m.name = 'corr') AS test_corr,"                                                               \
    " r.wall_s, r.cpu_s, r.started, r.ended, r.parent, r.seed, r.host, r.git_commit,"                   \
    " coalesce(r.config, json_extract(p.identity, '$.config'), '{}') AS config,"                        \
    " p.id IS NOT NULL AS in_plan"                                                                      \
    " FROM (SELECT id FROM runs UNION SELECT id FROM plan_runs) i LEFT JOIN runs r ON r.id = i.id"      \
    " LEFT JOIN (SELECT id, min(experiment) AS experiment, min(variant) AS variant, min(identity) AS identity" \
    " FROM plan_runs GROUP BY id) p ON p.id = i.id)"

/* The columns of RUNS_V a --sort or --where may name (config is the configuration as JSON). */
static const char *const COLUMNS[] = {"run_id",  "experiment", "variant", "status", "epochs",     "val_corr",
                                      "test_corr", "wall_s",   "cpu_s",   "started", "ended",     "parent",
                                      "seed",    "host",       "git_commit", "config", "in_plan"};
#define N_COLUMNS (sizeof COLUMNS / sizeof COLUMNS[0])

/* A configuration value of v as text: strings bare, everything else as its JSON. */
#define CONFIG_TEXT(path) \
    "CASE json_type(v.config, " path ") WHEN 'text' THEN v.config ->> " path " ELSE v.config -> " path " END"

/* The SQL value differing keys are compared by: a leaf of json_tree (arrays whole). */
#define TREE_VALUE                                                                               \
    "CASE t.type WHEN 'array' THEN t.value WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'"    \
    " WHEN 'null' THEN 'null' ELSE t.atom END"

/* ---- small helpers ------------------------------------------------------------------------------ */

static int fail_key(const struct nsid_store *st, int code, const char *key, const char *msg, struct nsid_err *err)
{
    return nsid_err_set(err, code, st->path, 0, key, "%s", msg);
}

/* An array of sqlite3_mprintf strings, grown by doubling; owns them. */
struct strv {
    char **s;    /* (n) strings, NULL allowed */
    size_t n;    /* used */
    size_t cap;  /* allocated */
};

static void strv_free(struct strv *v)
{
    for (size_t i = 0; i < v->n; i++) sqlite3_free(v->s[i]);
    nsid_alloc_free(v->s);
    memset(v, 0, sizeof *v);
}

/* Append s (taking ownership; NULL is stored as NULL). */
static int strv_push(struct strv *v, char *s, struct nsid_err *err)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 16;
        char **grown = NSID_ALLOC(nsid_alloc_mul_size(cap, sizeof *grown, err), err);
        if (!grown) {
            sqlite3_free(s);
            return NSID_ENOMEM;
        }
        if (v->n) memcpy(grown, v->s, v->n * sizeof *grown);
        nsid_alloc_free(v->s);
        v->s = grown;
        v->cap = cap;
    }
    v->s[v->n++] = s;
    return 0;
}

/* A copy of column i of s (NULL for SQL NULL). */
static char *col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t && sqlite3_column_type(s, i) != SQLITE_NULL ? sqlite3_mprintf("%s", (const char *)t) : NULL;
}

/* Column i as a number printed with fmt, "" for NULL. */
static char *col_num(sqlite3_stmt *s, int i, const char *fmt)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL) return sqlite3_mprintf("%s", "");
    return sqlite3_mprintf(fmt, sqlite3_column_double(s, i));
}

/* Step s to the end, each row's column 0 appended to v. */
static int collect_col0(struct nsid_store *st, sqlite3_stmt *s, struct strv *v, const char *what, struct nsid_err *err)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (strv_push(v, col_text(s, 0), err) < 0) return NSID_ENOMEM;
    return rc == SQLITE_DONE ? 0 : nsid__store_fail(st, what, err);
}

/* The ids as a JSON array (ids are [0-9A-Za-z_.-], nothing to escape), a sqlite3_mprintf string. */
static char *ids_json(const char *const *ids, size_t n)
{
    sqlite3_str *b = sqlite3_str_new(NULL);
    sqlite3_str_appendchar(b, 1, '[');
    for (size_t i = 0; i < n; i++) sqlite3_str_appendf(b, "%s\"%s\"", i ? "," : "", ids[i]);
    sqlite3_str_appendchar(b, 1, ']');
    return sqlite3_str_finish(b);
}

/*
 * A store of schema < 6 opened read-only has no run_tags / run_notes: empty TEMP tables of the
 * same names stand in (a temporary table is the connection's own, so this writes nothing to the
 * store; an unqualified name finds it only where main has no such table).
 */
static int ensure_annotations(struct nsid_store *st, struct nsid_err *err)
{
    static const char *const DEFS[][2] = {
        {"run_tags", "CREATE TEMP TABLE IF NOT EXISTS run_tags (run_id TEXT, key TEXT, value TEXT, set_at TEXT)"},
        {"run_notes", "CREATE TEMP TABLE IF NOT EXISTS run_notes (run_id TEXT, created TEXT, text TEXT)"},
    };
    for (size_t i = 0; i < 2; i++) {
        sqlite3_stmt *s = NULL;
        int rc = nsid__store_prepare(st, "SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ?1", &s,
                                     err);
        if (rc < 0) return rc;
        sqlite3_bind_text(s, 1, DEFS[i][0], -1, SQLITE_STATIC);
        int step = sqlite3_step(s);
        sqlite3_finalize(s);
        if (step == SQLITE_DONE) rc = nsid__store_exec(st, DEFS[i][1], DEFS[i][0], err);
        else if (step != SQLITE_ROW) rc = nsid__store_fail(st, DEFS[i][0], err);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---- the id resolver ---------------------------------------------------------------------------- */

int nsid_store_resolve_id(struct nsid_store *st, const char *prefix, enum nsid_store_id_scope scope,
                          char id[NSID_STORE_ID_MAX], struct nsid_err *err)
{
    bool planned = scope == NSID_STORE_IDS_PLANNED;
    id[0] = '\0';
    if (!nsid_store_valid_id(prefix))
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, prefix ? prefix : "", "not a run id or id prefix"
                            " (1..64 characters of 0-9 A-Z a-z _ . -)");
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st,
                                 planned ? "SELECT DISTINCT id FROM plan_runs WHERE substr(id, 1, length(?1)) = ?1"
                                           " ORDER BY id"
                                         : "SELECT id FROM (SELECT id FROM runs UNION SELECT id FROM plan_runs)"
                                           " WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id",
                                 &s, err);
    if (rc < 0) return rc;
    sqlite3_bind_text(s, 1, prefix, -1, SQLITE_TRANSIENT);
    struct strv found = {0};
    rc = collect_col0(st, s, &found, "runs", err);
    sqlite3_finalize(s);
    if (rc == 0 && found.n == 0)
        rc = nsid_err_set(err, NSID_ENOTFOUND, st->path, 0, prefix, "no %s has this id or id prefix%s",
                          planned ? "planned run" : "run", planned ? " (run nsid-plan first)" : "");
    else if (rc == 0 && found.n > 1) {
        sqlite3_str *b = sqlite3_str_new(NULL);
        for (size_t i = 0; i < found.n && i < 12; i++) sqlite3_str_appendf(b, "%s%s", i ? ", " : "", found.s[i]);
        if (found.n > 12) sqlite3_str_appendf(b, " and %d more", (int)(found.n - 12));
        char *list = sqlite3_str_finish(b);
        rc = nsid_err_set(err, NSID_EINVAL, st->path, 0, prefix, "ambiguous run id prefix: %zu runs start with it: %s",
                          found.n, list ? list : "");
        sqlite3_free(list);
    } else if (rc == 0) snprintf(id, NSID_STORE_ID_MAX, "%s", found.s[0]);
    strv_free(&found);
    return rc;
}

/* ---- tags and notes ------------------------------------------------------------------------------- */

/* NSID_ENOTFOUND unless the store holds run_id (runs or plan). */
static int run_exists(struct nsid_store *st, const char *run_id, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st, "SELECT 1 FROM runs WHERE id = ?1 UNION ALL SELECT 1 FROM plan_runs WHERE id = ?1",
                                 &s, err);
    if (rc < 0) return rc;
    sqlite3_bind_text(s, 1, run_id ? run_id : "", -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s);
    sqlite3_finalize(s);
    if (step == SQLITE_ROW) return 0;
    if (step != SQLITE_DONE) return nsid__store_fail(st, "runs", err);
    return nsid_err_set(err, NSID_ENOTFOUND, st->path, 0, run_id ? run_id : "", "no such run in the store");
}

static bool valid_tag_key(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || strchr("_.-", c)))
            return false;
    }
    return true;
}

/* What a tag write does: value NULL removes the tag. */
struct tag_arg {
    const char *run_id, *key, *value;
};

/* Inside a transaction: set or remove the tag. */
static int tag_body(struct nsid_store *st, const void *arg, struct nsid_err *err)
{
    const struct tag_arg *t = arg;
    int rc = run_exists(st, t->run_id, err);
    if (rc < 0) return rc;
    if (t->value)
        return NSID__STORE_WRITE(st, "run_tags",
                                 "INSERT OR REPLACE INTO run_tags (run_id, key, value, set_at)"
                                 " VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                                 err, NSID__SV_T(t->run_id), NSID__SV_T(t->key), NSID__SV_T(t->value));
    rc = NSID__STORE_WRITE(st, "run_tags", "DELETE FROM run_tags WHERE run_id = ?1 AND key = ?2", err,
                           NSID__SV_T(t->run_id), NSID__SV_T(t->key));
    if (rc == 0 && sqlite3_changes(st->db) == 0)
        rc = nsid_err_set(err, NSID_ENOTFOUND, st->path, 0, t->key, "run %s has no tag '%s'", t->run_id, t->key);
    return rc;
}

int nsid_store_tag(struct nsid_store *st, const char *run_id, const char *key, const char *value,
                   struct nsid_err *err)
{
    if (!valid_tag_key(key))
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, key ? key : "",
                            "a tag key is 1..64 characters of A-Z a-z 0-9 _ . -");
    struct tag_arg t = {run_id, key, value};
    return nsid__store_tx(st, tag_body, &t, err);
}

/* Inside a transaction: add the note (t->value is its text). */
static int note_body(struct nsid_store *st, const void *arg, struct nsid_err *err)
{
    const struct tag_arg *t = arg;
    int rc = run_exists(st, t->run_id, err);
    if (rc < 0) return rc;
    return NSID__STORE_WRITE(st, "run_notes",
                             "INSERT OR IGNORE INTO run_notes (run_id, created, text)"
                             " VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?2)",
                             err, NSID__SV_T(t->run_id), NSID__SV_T(t->value));
}

int nsid_store_note(struct nsid_store *st, const char *run_id, const char *text, struct nsid_err *err)
{
    if (!text || !text[strspn(text, " \t\r\n")])
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, "note", "a note needs some text");
    struct tag_arg t = {run_id, NULL, text};
    return nsid__store_tx(st, note_body, &t, err);
}

/* ---- building the filter of `runs` ---------------------------------------------------------------- */

/* Parameters of a statement being built: ?1.. in order. */
enum { MAX_BINDS = 512 };
struct binds {
    const char *text[MAX_BINDS];  /* text value, or NULL when num is used */
    double num[MAX_BINDS];
    int n;
};

/* The next parameter number for text (or a number when text is NULL); -1 when full. */
static int bind_add(struct binds *b, const char *text, double num)
{
    if (b->n >= MAX_BINDS) return -1;
    b->text[b->n] = text;
    b->num[b->n] = num;
    return ++b->n;
}

static void bind_all(sqlite3_stmt *s, const struct binds *b)
{
    for (int i = 0; i < b->n; i++) {
        if (b->text[i]) sqlite3_bind_text(s, i + 1, b->text[i], -1, SQLITE_TRANSIENT);
        else sqlite3_bind_double(s, i + 1, b->num[i]);
    }
}

/* Does any run carry tag key (with value, unless NULL)? */
static int tag_known(struct nsid_store *st, const char *key, bool *known, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st, "SELECT 1 FROM run_tags WHERE key = ?1 LIMIT 1", &s, err);
    if (rc < 0) return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s);
    sqlite3_finalize(s);
    *known = step == SQLITE_ROW;
    return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : nsid__store_fail(st, "run_tags", err);
}

/* "$." + key for a configuration key, kept in paths (owned) so that binds can point at it. */
static const char *config_path(struct strv *paths, const char *key, struct nsid_err *err)
{
    char *p = sqlite3_mprintf("$.%s", key);
    if (!p || strv_push(paths, p, err) < 0) return NULL;
    return p;
}

/* A value that reads fully as a finite number. */
static bool as_number(const char *v, double *x)
{
    char *end = NULL;
    errno = 0;
    *x = strtod(v, &end);
    return v[0] && end && *end == '\0' && errno == 0 && isfinite(*x);
}

/* One KEY=VALUE filter (a configuration key, else a tag) appended to sql. */
static int add_match(struct nsid_store *st, const char *kv, sqlite3_str *sql, struct binds *b, struct strv *keep,
                     struct nsid_err *err)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return nsid_err_set(err, NSID_EINVAL, st->path, 0, kv, "a filter is KEY=VALUE");
    char *key = sqlite3_mprintf("%.*s", (int)(eq - kv), kv);
    if (!key || strv_push(keep, key, err) < 0) return NSID_ENOMEM;
    const char *value = eq + 1;
    if (nsid_config_find(key)) {
        const char *path = config_path(keep, key, err);
        if (!path) return NSID_ENOMEM;
        int p = bind_add(b, path, 0);
        double x = 0;
        int q = as_number(value, &x) ? bind_add(b, NULL, x) : bind_add(b, value, 0);
        if (p < 0 || q < 0) return fail_key(st, NSID_EINVAL, kv, "too many filters", err);
        if (as_number(value, &x))
            sqlite3_str_appendf(sql, " AND json_type(v.config, ?%d) IN ('integer', 'real')"
                                     " AND json_extract(v.config, ?%d) = ?%d", p, p, q);
        else if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
            sqlite3_str_appendf(sql, " AND json_type(v.config, ?%d) = ?%d", p, q);
        else sqlite3_str_appendf(sql, " AND json_type(v.config, ?%d) = 'text' AND json_extract(v.config, ?%d) = ?%d", p,
                                 p, q);
        return 0;
    }
    bool known = false;
    int rc = tag_known(st, key, &known, err);
    if (rc < 0) return rc;
    if (!known)
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, key,
                            "unknown key: neither a configuration key (nsid-train --help-config) nor a tag of any run");
    int p = bind_add(b, key, 0), q = bind_add(b, value, 0);
    if (p < 0 || q < 0) return fail_key(st, NSID_EINVAL, kv, "too many filters", err);
    sqlite3_str_appendf(sql, " AND EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = v.run_id AND t.key = ?%d"
                             " AND t.value = ?%d)", p, q);
    return 0;
}

/* One --tag KEY[=VALUE] filter. */
static int add_tag(struct nsid_store *st, const char *kv, sqlite3_str *sql, struct binds *b, struct strv *keep,
                   struct nsid_err *err)
{
    const char *eq = strchr(kv, '=');
    char *key = eq ? sqlite3_mprintf("%.*s", (int)(eq - kv), kv) : sqlite3_mprintf("%s", kv);
    if (!key || strv_push(keep, key, err) < 0) return NSID_ENOMEM;
    bool known = false;
    int rc = tag_known(st, key, &known, err);
    if (rc < 0) return rc;
    if (!known) return nsid_err_set(err, NSID_EINVAL, st->path, 0, "--tag", "no run has a tag '%s'", key);
    int p = bind_add(b, key, 0), q = eq ? bind_add(b, eq + 1, 0) : 0;
    if (p < 0 || q < 0) return fail_key(st, NSID_EINVAL, "--tag", "too many filters", err);
    sqlite3_str_appendf(sql, " AND EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = v.run_id AND t.key = ?%d", p);
    if (eq) sqlite3_str_appendf(sql, " AND t.value = ?%d", q);
    sqlite3_str_appendf(sql, ")");
    return 0;
}

/*
 * A --where expression must be one expression: no statement separator and no comment (which
 * could hide the rest of the query) outside quotes. Everything else is SQLite's to judge, under
 * the read-only authorizer.
 */
static int check_where(const struct nsid_store *st, const char *w, struct nsid_err *err)
{
    char quote = 0;
    for (const char *c = w; *c; c++) {
        if (quote) {
            if (*c == quote) quote = 0;
            continue;
        }
        if (*c == '\'' || *c == '"' || *c == '`') quote = *c;
        else if (*c == '[') quote = ']';
        else if (*c == ';' || (c[0] == '-' && c[1] == '-') || (c[0] == '/' && c[1] == '*'))
            return fail_key(st, NSID_EINVAL, "--where", "one SQL expression: no ';' and no comments", err);
    }
    if (quote) return fail_key(st, NSID_EINVAL, "--where", "an unterminated quote", err);
    if (!w[strspn(w, " \t\r\n")]) return fail_key(st, NSID_EINVAL, "--where", "an empty expression", err);
    return 0;
}

/* One --sort piece: a column, a configuration key or a tag, '-' for descending. */
static int add_sort(struct nsid_store *st, const char *piece, size_t len, sqlite3_str *order, struct binds *b,
                    struct strv *keep, struct nsid_err *err)
{
    bool desc = len > 0 && piece[0] == '-';
    char *key = sqlite3_mprintf("%.*s", (int)(len - desc), piece + desc);
    if (!key || strv_push(keep, key, err) < 0) return NSID_ENOMEM;
    const char *dir = desc ? " DESC" : "";
    for (size_t i = 0; i < N_COLUMNS; i++)
        if (strcmp(key, COLUMNS[i]) == 0 && strcmp(key, "config") != 0) {
            sqlite3_str_appendf(order, "v.%s%s, ", key, dir);
            return 0;
        }
    if (nsid_config_find(key)) {
        const char *path = config_path(keep, key, err);
        int p = path ? bind_add(b, path, 0) : -1;
        if (p < 0) return fail_key(st, NSID_EINVAL, "--sort", "too many sort keys", err);
        sqlite3_str_appendf(order, "json_extract(v.config, ?%d)%s, ", p, dir);
        return 0;
    }
    bool known = false;
    int rc = tag_known(st, key, &known, err);
    if (rc < 0) return rc;
    if (!known)
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, "--sort",
                            "unknown sort key '%s': a column (docs/results.md), a configuration key or a tag", key);
    int p = bind_add(b, key, 0);
    if (p < 0) return fail_key(st, NSID_EINVAL, "--sort", "too many sort keys", err);
    sqlite3_str_appendf(order, "(SELECT t.value FROM run_tags t WHERE t.run_id = v.run_id AND t.key = ?%d)%s, ", p, dir);
    return 0;
}

/* The authorizer of --where: reading and functions only (no PRAGMA, no ATTACH, no writes). */
static int read_only_authorizer(void *ctx, int action, const char *a, const char *b, const char *db, const char *trig)
{
    (void)ctx, (void)a, (void)b, (void)db, (void)trig;
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE: return SQLITE_OK;
    default: return SQLITE_DENY;
    }
}

/* The SQL of the filtered, sorted ids; its parameters into b. */
static int filter_sql(struct nsid_store *st, const struct nsid_store_runs_query *q, struct binds *b, struct strv *keep,
                      char **out, struct nsid_err *err)
{
    *out = NULL;
    if (q->status && nsid_store_run_status_parse(q->status) < 0)
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, "--status",
                            "unknown status '%s': planned, running, done or failed", q->status);
    if (q->where && check_where(st, q->where, err) < 0) return err->code;
    sqlite3_str *sql = sqlite3_str_new(NULL), *order = sqlite3_str_new(NULL);
    sqlite3_str_appendf(sql, RUNS_V " SELECT v.run_id FROM v WHERE 1");
    int rc = 0;
    int p = 0;
    if (q->experiment && (p = bind_add(b, q->experiment, 0)) > 0) sqlite3_str_appendf(sql, " AND v.experiment = ?%d", p);
    if (q->status && (p = bind_add(b, q->status, 0)) > 0) sqlite3_str_appendf(sql, " AND v.status = ?%d", p);
    for (int i = 0; rc == 0 && i < q->n_match; i++) rc = add_match(st, q->match[i], sql, b, keep, err);
    for (int i = 0; rc == 0 && i < q->n_tags; i++) rc = add_tag(st, q->tags[i], sql, b, keep, err);
    if (rc == 0 && q->where) sqlite3_str_appendf(sql, " AND (\n%s\n)", q->where);
    const char *sort = q->sort && q->sort[0] ? q->sort : "experiment,variant";
    for (const char *c = sort; rc == 0 && *c;) {
        size_t len = strcspn(c, ",");
        if (len == 0 || (len == 1 && c[0] == '-')) rc = fail_key(st, NSID_EINVAL, "--sort", "an empty sort key", err);
        else rc = add_sort(st, c, len, order, b, keep, err);
        c += len + (c[len] == ',');
    }
    char *ord = sqlite3_str_finish(order);
    sqlite3_str_appendf(sql, " ORDER BY %sv.run_id", ord ? ord : "");
    sqlite3_free(ord);
    if (q->limit > 0) sqlite3_str_appendf(sql, " LIMIT %lld", (long long)q->limit);
    char *text = sqlite3_str_finish(sql);
    if (rc < 0 || !text) {
        sqlite3_free(text);
        return rc < 0 ? rc : nsid_alloc_oom(err, st->path, "runs", "query");
    }
    *out = text;
    return 0;
}

/* Prepare the filter under the read-only authorizer; a bad --where is one message naming it. */
static int filter_ids(struct nsid_store *st, const struct nsid_store_runs_query *q, struct strv *ids,
                      struct nsid_err *err)
{
    struct binds b = {.n = 0};
    struct strv keep = {0};
    char *sql = NULL;
    int rc = filter_sql(st, q, &b, &keep, &sql, err);
    sqlite3_stmt *s = NULL;
    if (rc == 0) {
        const char *tail = NULL;
        sqlite3_set_authorizer(st->db, read_only_authorizer, NULL);
        int prc = sqlite3_prepare_v2(st->db, sql, -1, &s, &tail);
        sqlite3_set_authorizer(st->db, NULL, NULL);
        if (prc != SQLITE_OK || (tail && tail[strspn(tail, " \t\r\n")]))
            rc = nsid_err_set(err, NSID_EINVAL, st->path, 0, q->where ? "--where" : "runs", "%s%s",
                              prc == SQLITE_AUTH ? "only reading is allowed: " : "",
                              prc != SQLITE_OK ? sqlite3_errmsg(st->db) : "one expression only");
        else if (!sqlite3_stmt_readonly(s)) rc = fail_key(st, NSID_EINVAL, "--where", "only reading is allowed", err);
    }
    if (rc == 0) {
        bind_all(s, &b);
        rc = collect_col0(st, s, ids, q->where ? "--where" : "runs", err);
        if (rc < 0 && q->where) snprintf(err->key, sizeof err->key, "--where");
    }
    sqlite3_finalize(s);
    sqlite3_free(sql);
    strv_free(&keep);
    return rc;
}

/* The configuration keys (dotted) whose values differ across the runs of ids_js (a JSON array). */
static int differing_keys(struct nsid_store *st, const char *ids_js, struct strv *keys, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st,
                                 RUNS_V ", ids(id) AS (SELECT value FROM json_each(?1)),"
                                 " kv AS (SELECT v.run_id, replace(substr(t.fullkey, 3), char(34), '') AS k, " TREE_VALUE " AS val"
                                 " FROM ids JOIN v ON v.run_id = ids.id, json_tree(v.config) t"
                                 " WHERE t.type <> 'object' AND instr(t.fullkey, '[') = 0)"
                                 " SELECT k FROM kv GROUP BY k HAVING count(DISTINCT val) > 1"
                                 " OR count(val) < (SELECT count(*) FROM ids) ORDER BY k",
                                 &s, err);
    if (rc < 0) return rc;
    sqlite3_bind_text(s, 1, ids_js, -1, SQLITE_TRANSIENT);
    rc = collect_col0(st, s, keys, "runs.config", err);
    sqlite3_finalize(s);
    return rc;
}

/* The length of the shortest prefix of every id in ids that no other run of the store shares (>= 7). */
static int unique_prefix_len(struct nsid_store *st, const struct strv *ids, int *len, struct nsid_err *err)
{
    *len = 7;
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st, "SELECT id FROM runs UNION SELECT id FROM plan_runs", &s, err);
    if (rc < 0) return rc;
    struct strv all = {0};
    rc = collect_col0(st, s, &all, "runs", err);
    sqlite3_finalize(s);
    for (size_t i = 0; rc == 0 && i < ids->n; i++)
        for (size_t j = 0; j < all.n; j++) {
            const char *a = ids->s[i], *b = all.s[j];
            if (!a || !b || strcmp(a, b) == 0) continue;
            int k = 0;
            while (a[k] && a[k] == b[k]) k++;
            if (k + 1 > *len) *len = k + 1;
        }
    strv_free(&all);
    return rc;
}

/* ---- the table ---------------------------------------------------------------------------------------- */

/* A table of text cells: header + rows, column widths capped at cap (0: no cap). */
struct table {
    int nc;                 /* columns */
    struct strv head;       /* (nc) header texts */
    struct strv cell;       /* (rows * nc) cell texts, row-major, NULL = empty */
    int cap[256];           /* per column: longest text shown (longer ones elided with '~'); 0: any;
                               -1: any, and never shrunk to fit (ids) */
    int optional[256];      /* per column: 0 always shown; may be hidden to fit the width: 2 first, then 1 */
};

static int table_rows(const struct table *t)
{
    return t->nc ? (int)(t->cell.n / (size_t)t->nc) : 0;
}

static size_t shown_len(const char *s, int cap)
{
    size_t n = s ? strcspn(s, "\n\t") : 0;
    return cap > 0 && n > (size_t)cap ? (size_t)cap : n;
}

/* Print cell s padded to w, elided to cap with a trailing '~'. */
static void put_cell(FILE *out, const char *s, int cap, int w, bool last)
{
    size_t n = s ? strcspn(s, "\n\t") : 0;
    bool cut = cap > 0 && n > (size_t)cap;
    size_t k = cut ? (size_t)cap - 1 : n;
    if (k) fwrite(s, 1, k, out);
    if (cut) fputc('~', out);
    if (!last) fprintf(out, "%*s", w - (int)(k + cut) + 2, "");
}

/*
 * Print t in at most width columns: optional columns are hidden from the right until it fits
 * (then a line says which), and when it still does not fit the widest capped columns shrink.
 */
static void table_print(struct table *t, int width, FILE *out)
{
    int w[256];
    bool hide[256] = {false};
    int rows = table_rows(t);
    for (int c = 0; c < t->nc; c++) {
        w[c] = (int)shown_len(t->head.s[c], t->cap[c]);
        for (int r = 0; r < rows; r++) {
            int k = (int)shown_len(t->cell.s[(size_t)r * (size_t)t->nc + (size_t)c], t->cap[c]);
            if (k > w[c]) w[c] = k;
        }
    }
    int total = -2;
    for (int c = 0; c < t->nc; c++) total += w[c] + 2;
    /* hide the configuration keys from the right, shrink the widest columns, then hide the rest */
    for (int pass = 2; pass >= 1; pass--) {
        for (int c = t->nc - 1; c >= 0 && total > width && pass == 2; c--)
            if (t->optional[c] == 2) hide[c] = true, total -= w[c] + 2;
        while (total > width) { /* ids and numbers (<= 8 wide) stay whole */
            int widest = -1;
            for (int c = 0; c < t->nc; c++)
                if (!hide[c] && t->cap[c] >= 0 && w[c] > 8 && (widest < 0 || w[c] > w[widest])) widest = c;
            if (widest < 0) break;
            w[widest]--;
            t->cap[widest] = w[widest];
            total--;
        }
        for (int c = t->nc - 1; c >= 0 && total > width && pass == 1; c--)
            if (t->optional[c] == 1) hide[c] = true, total -= w[c] + 2;
    }
    int last = -1;
    for (int c = 0; c < t->nc; c++)
        if (!hide[c]) last = c;
    for (int r = -1; r < rows; r++) {
        for (int c = 0; c < t->nc; c++) {
            if (hide[c]) continue;
            const char *s = r < 0 ? t->head.s[c] : t->cell.s[(size_t)r * (size_t)t->nc + (size_t)c];
            put_cell(out, s, w[c] < t->cap[c] || !t->cap[c] ? w[c] : t->cap[c], w[c], c == last);
        }
        fputc('\n', out);
    }
    int n_hidden = 0;
    for (int c = 0; c < t->nc; c++) n_hidden += hide[c];
    if (n_hidden) { /* wrapped to the width too */
        int col = fprintf(out, "(%d column%s hidden to fit %d columns:", n_hidden, n_hidden > 1 ? "s" : "", width);
        for (int c = 0; c < t->nc; c++) {
            if (!hide[c]) continue;
            int k = (int)strlen(t->head.s[c]) + 1;
            if (col + k > width) col = fprintf(out, "\n") - 1;
            col += fprintf(out, " %s", t->head.s[c]);
        }
        fprintf(out, ";%s--format csv or json shows every column)\n", col + 40 > width ? "\n" : " ");
    }
}

static void table_free(struct table *t)
{
    strv_free(&t->head);
    strv_free(&t->cell);
}

/* Add a column header (taking ownership), with its cap and whether it may be hidden. */
static int table_col(struct table *t, char *head, int cap, int optional, struct nsid_err *err)
{
    if (t->nc >= 256) {
        sqlite3_free(head);
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "runs", "more than 256 columns");
    }
    t->cap[t->nc] = cap;
    t->optional[t->nc] = optional;
    t->nc++;
    return strv_push(&t->head, head, err);
}

/* The shortest dotted suffix of keys[i] no other key ends with (the whole key if none). */
static const char *short_key(const struct strv *keys, size_t i)
{
    const char *k = keys->s[i];
    const char *best = k;
    for (const char *p = strchr(k, '.'); p; p = strchr(p + 1, '.')) {
        const char *suffix = p + 1;
        size_t n = strlen(suffix);
        bool unique = true;
        for (size_t j = 0; j < keys->n && unique; j++) {
            size_t m = strlen(keys->s[j]);
            if (j != i && m >= n && strcmp(keys->s[j] + m - n, suffix) == 0 && (m == n || keys->s[j][m - n - 1] == '.'))
                unique = false;
        }
        if (!unique) break;
        best = suffix;
    }
    return best;
}

/* ---- runs ---------------------------------------------------------------------------------------------- */

/* The row query of `runs`: fixed columns, then one per differing key (?3.. = their paths). */
static char *rows_sql(size_t n_keys)
{
    sqlite3_str *b = sqlite3_str_new(NULL);
    sqlite3_str_appendf(b, RUNS_V ", ids(pos, id) AS (SELECT key, value FROM json_each(?1))"
                           " SELECT v.run_id, v.experiment, v.variant, v.status, v.epochs, v.val_corr, v.test_corr,"
                           " v.wall_s, (SELECT group_concat(key || '=' || value, ' ') FROM (SELECT key, value FROM"
                           " run_tags t WHERE t.run_id = v.run_id ORDER BY key)),"
                           " json_object('run_id', v.run_id, 'experiment', v.experiment, 'variant', v.variant,"
                           " 'status', v.status, 'epochs', v.epochs, 'val_corr', v.val_corr, 'test_corr', v.test_corr,"
                           " 'wall_s', v.wall_s, 'config', (SELECT json_group_object(k.value, v.config -> ('$.' ||"
                           " k.value)) FROM json_each(?2) k), 'tags', (SELECT json_group_object(key, value) FROM"
                           " (SELECT key, value FROM run_tags t WHERE t.run_id = v.run_id ORDER BY key)))");
    for (size_t i = 0; i < n_keys; i++) {
        int p = (int)i + 3;
        sqlite3_str_appendf(b, ", " CONFIG_TEXT("?%d"), p, p, p);
    }
    sqlite3_str_appendf(b, " FROM ids JOIN v ON v.run_id = ids.id ORDER BY ids.pos");
    return sqlite3_str_finish(b);
}

/* Fixed columns of a row of the rows query. */
enum { R_ID, R_EXP, R_VARIANT, R_STATUS, R_EPOCHS, R_VAL, R_TEST, R_WALL, R_TAGS, R_JSON, R_KEYS };

/* The keys as a JSON array (config keys are [a-z0-9_.]), a sqlite3_mprintf string. */
static char *keys_json(const struct strv *keys)
{
    return ids_json((const char *const *)keys->s, keys->n);
}

static void put_csv(FILE *out, const char *v, bool last)
{
    if (v && v[0]) {
        if (strpbrk(v, ",\"\r\n") || v[0] == ' ' || v[strlen(v) - 1] == ' ') csv_fwrite(out, v, strlen(v));
        else fputs(v, out);
    }
    fputc(last ? '\n' : ',', out);
}

/* The CSV of the rows: every column, full ids and values. */
static void runs_csv(sqlite3_stmt *s, const struct strv *keys, FILE *out, int *rc, struct nsid_store *st,
                     struct nsid_err *err)
{
    static const char *const HEAD[] = {"run_id", "experiment", "variant", "status", "epochs", "val_corr",
                                       "test_corr", "wall_s", "tags"};
    for (int i = 0; i <= R_TAGS; i++) put_csv(out, HEAD[i], i == R_TAGS && keys->n == 0);
    for (size_t i = 0; i < keys->n; i++) put_csv(out, keys->s[i], i + 1 == keys->n);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        for (int i = 0; i <= R_TAGS; i++)
            put_csv(out, (const char *)sqlite3_column_text(s, i), i == R_TAGS && keys->n == 0);
        for (size_t i = 0; i < keys->n; i++)
            put_csv(out, (const char *)sqlite3_column_text(s, R_KEYS + (int)i), i + 1 == keys->n);
    }
    if (step != SQLITE_DONE) *rc = nsid__store_fail(st, "runs", err);
}

static void runs_json(sqlite3_stmt *s, FILE *out, int *rc, struct nsid_store *st, struct nsid_err *err)
{
    int step, n = 0;
    fputs("[", out);
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        fprintf(out, "%s\n  %s", n++ ? "," : "", (const char *)sqlite3_column_text(s, R_JSON));
    fputs(n ? "\n]\n" : "]\n", out);
    if (step != SQLITE_DONE) *rc = nsid__store_fail(st, "runs", err);
}

/* The table of the rows, fitted to NSID_STORE_TABLE_WIDTH. */
static int runs_table(struct nsid_store *st, sqlite3_stmt *s, const struct strv *keys, const struct strv *ids,
                      FILE *out, struct nsid_err *err)
{
    int plen = 7;
    int rc = unique_prefix_len(st, ids, &plen, err);
    struct table t = {0};
    bool any_variant = false, any_tags = false;
    int step;
    struct strv rows = {0}; /* fixed columns, R_KEYS + keys per row */
    size_t per = (size_t)R_KEYS + keys->n;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        for (size_t i = 0; rc == 0 && i < per; i++) {
            char *v = NULL;
            if (i == R_VAL || i == R_TEST) v = col_num(s, (int)i, "%.4f");
            else if (i == R_WALL) v = col_num(s, (int)i, "%.1f");
            else if (i != R_JSON) v = col_text(s, (int)i);
            if (i == R_VARIANT && v && v[0]) any_variant = true;
            if (i == R_TAGS && v && v[0]) any_tags = true;
            rc = strv_push(&rows, v, err);
        }
    }
    if (rc == 0 && step != SQLITE_DONE) rc = nsid__store_fail(st, "runs", err);
    /* columns: id experiment [variant] keys... [tags] status epochs val test wall */
    int colsrc[256], nsrc = 0;
    if (rc == 0) rc = table_col(&t, sqlite3_mprintf("id"), -1, 0, err), colsrc[nsrc++] = R_ID;
    if (rc == 0) rc = table_col(&t, sqlite3_mprintf("experiment"), 14, 0, err), colsrc[nsrc++] = R_EXP;
    if (rc == 0 && any_variant) rc = table_col(&t, sqlite3_mprintf("variant"), 16, 1, err), colsrc[nsrc++] = R_VARIANT;
    for (size_t k = 0; rc == 0 && k < keys->n && nsrc < 240; k++) {
        rc = table_col(&t, sqlite3_mprintf("%s", short_key(keys, k)), 12, 2, err);
        colsrc[nsrc++] = R_KEYS + (int)k;
    }
    if (rc == 0 && any_tags) rc = table_col(&t, sqlite3_mprintf("tags"), 18, 1, err), colsrc[nsrc++] = R_TAGS;
    static const char *const TAIL[] = {"status", "epochs", "val_corr", "test_corr", "wall_s"};
    static const int TAIL_SRC[] = {R_STATUS, R_EPOCHS, R_VAL, R_TEST, R_WALL};
    for (int i = 0; rc == 0 && i < 5; i++) rc = table_col(&t, sqlite3_mprintf("%s", TAIL[i]), 0, 0, err),
                                            colsrc[nsrc++] = TAIL_SRC[i];
    size_t n_rows = per ? rows.n / per : 0;
    for (size_t r = 0; rc == 0 && r < n_rows; r++)
        for (int c = 0; rc == 0 && c < nsrc; c++) {
            const char *v = rows.s[r * per + (size_t)colsrc[c]];
            char *cell = colsrc[c] == R_ID && v ? sqlite3_mprintf("%.*s", plen, v) : sqlite3_mprintf("%s", v ? v : "");
            rc = strv_push(&t.cell, cell, err);
        }
    if (rc == 0) {
        if (n_rows == 0) fprintf(out, "(no runs)\n");
        else table_print(&t, NSID_STORE_TABLE_WIDTH, out);
    }
    table_free(&t);
    strv_free(&rows);
    return rc;
}

int nsid_store_runs(struct nsid_store *st, const struct nsid_store_runs_query *q, enum nsid_store_format format,
                    FILE *out, struct nsid_err *err)
{
    struct strv ids = {0}, keys = {0};
    int rc = ensure_annotations(st, err);
    if (rc == 0) rc = filter_ids(st, q, &ids, err);
    char *ids_js = NULL, *keys_js = NULL, *sql = NULL;
    for (size_t i = 0; rc == 0 && i < ids.n; i++)
        if (!nsid_store_valid_id(ids.s[i]))
            rc = nsid_err_set(err, NSID_EFORMAT, st->path, 0, "runs", "bad run id '%.80s'", ids.s[i] ? ids.s[i] : "");
    if (rc == 0) ids_js = ids_json((const char *const *)ids.s, ids.n);
    if (rc == 0) rc = differing_keys(st, ids_js, &keys, err);
    if (rc == 0) keys_js = keys_json(&keys), sql = rows_sql(keys.n);
    sqlite3_stmt *s = NULL;
    if (rc == 0) rc = nsid__store_prepare(st, sql, &s, err);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, ids_js, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, keys_js, -1, SQLITE_TRANSIENT);
        for (size_t i = 0; i < keys.n; i++)
            sqlite3_bind_text(s, (int)i + 3, sqlite3_mprintf("$.%s", keys.s[i]), -1, sqlite3_free);
        if (format == NSID_STORE_CSV) runs_csv(s, &keys, out, &rc, st, err);
        else if (format == NSID_STORE_JSON) runs_json(s, out, &rc, st, err);
        else rc = runs_table(st, s, &keys, &ids, out, err);
    }
    sqlite3_finalize(s);
    sqlite3_free(ids_js);
    sqlite3_free(keys_js);
    sqlite3_free(sql);
    strv_free(&ids);
    strv_free(&keys);
    return rc;
}

/* ---- compare ------------------------------------------------------------------------------------------- */

/* A compare table: a first column of names, then one column per run. */
static int compare_table(struct table *t, const struct strv *abbr, const char *first, struct nsid_err *err)
{
    int rc = table_col(t, sqlite3_mprintf("%s", first), 24, 0, err); /* the runs' columns shrink to fit */
    for (size_t i = 0; rc == 0 && i < abbr->n; i++) rc = table_col(t, sqlite3_mprintf("%s", abbr->s[i]), 0, 0, err);
    return rc;
}

/* Rows of sql (?1 = ids JSON): column 0 the row name, column 1 the run's position, column 2 the
 * value; one table row per name, values placed by position. only_diff: rows whose values differ. */
static int compare_rows(struct nsid_store *st, const char *sql, const char *ids_js, size_t n, bool only_diff,
                        struct table *t, int *shown, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st, sql, &s, err);
    if (rc < 0) return rc;
    sqlite3_bind_text(s, 1, ids_js, -1, SQLITE_TRANSIENT);
    char **row = NSID_ALLOC(nsid_alloc_mul_size(n + 1, sizeof *row, err), err);
    if (!row) {
        sqlite3_finalize(s);
        return NSID_ENOMEM;
    }
    memset(row, 0, (n + 1) * sizeof *row);
    *shown = 0;
    int step = sqlite3_step(s);
    while (rc == 0 && step == SQLITE_ROW) {
        row[0] = col_text(s, 0);
        while (step == SQLITE_ROW && row[0] && sqlite3_column_text(s, 0) &&
               strcmp(row[0], (const char *)sqlite3_column_text(s, 0)) == 0) {
            int64_t pos = sqlite3_column_int64(s, 1);
            if (pos >= 0 && (size_t)pos < n && !row[pos + 1]) row[pos + 1] = col_text(s, 2);
            step = sqlite3_step(s);
        }
        bool differ = false;
        for (size_t i = 2; i <= n; i++) {
            const char *a = row[1] ? row[1] : "", *b = row[i] ? row[i] : "";
            if (strcmp(a, b) != 0) differ = true;
        }
        for (size_t i = 0; i <= n; i++) {
            if (rc == 0 && (differ || !only_diff)) rc = strv_push(&t->cell, row[i], err);
            else sqlite3_free(row[i]);
            row[i] = NULL;
        }
        if (differ || !only_diff) (*shown)++;
        if (!row[0] && step == SQLITE_ROW && !sqlite3_column_text(s, 0)) step = sqlite3_step(s);
    }
    if (rc == 0 && step != SQLITE_DONE) rc = nsid__store_fail(st, "compare", err);
    nsid_alloc_free(row);
    sqlite3_finalize(s);
    return rc;
}

/* Print one section: a title, then the table (or what it lacks). */
static int compare_section(struct nsid_store *st, const char *title, const char *first, const char *sql,
                           const char *ids_js, const struct strv *abbr, bool only_diff, const char *none, FILE *out,
                           struct nsid_err *err)
{
    struct table t = {0};
    int shown = 0;
    int rc = compare_table(&t, abbr, first, err);
    if (rc == 0) rc = compare_rows(st, sql, ids_js, abbr->n, only_diff, &t, &shown, err);
    if (rc == 0) {
        fprintf(out, "\n%s\n", title);
        if (shown) table_print(&t, NSID_STORE_TABLE_WIDTH, out);
        else fprintf(out, "  %s\n", none);
    }
    table_free(&t);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of sorted x[0..n) (linear interpolation). */
static double quantile(const double *x, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    return i + 1 < n ? x[i] + (pos - (double)i) * (x[i + 1] - x[i]) : x[n - 1];
}

/* Per-neuron test_corr of run b minus run a, neurons matched by scan and unit id (else index). */
static int neuron_diff(struct nsid_store *st, const char *a, const char *b, const char *abbr_a, const char *abbr_b,
                       FILE *out, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st,
                                 "SELECT y.test_corr - x.test_corr FROM neuron_metrics x JOIN neuron_metrics y"
                                 " ON y.scan = x.scan AND coalesce(y.unit_id, -1 - y.neuron) = coalesce(x.unit_id,"
                                 " -1 - x.neuron) WHERE x.run_id = ?1 AND y.run_id = ?2 AND x.test_corr IS NOT NULL"
                                 " AND y.test_corr IS NOT NULL ORDER BY 1",
                                 &s, err);
    if (rc < 0) return rc;
    sqlite3_bind_text(s, 1, a, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, b, -1, SQLITE_TRANSIENT);
    size_t n = 0, cap = 0;
    double *d = NULL;
    int step;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            double *g = NSID_ALLOC(nsid_alloc_mul_size(cap, sizeof *g, err), err);
            if (!g) rc = NSID_ENOMEM;
            else {
                if (n) memcpy(g, d, n * sizeof *g);
                nsid_alloc_free(d);
                d = g;
            }
        }
        if (rc == 0) d[n++] = sqlite3_column_double(s, 0);
    }
    if (rc == 0 && step != SQLITE_DONE) rc = nsid__store_fail(st, "neuron_metrics", err);
    sqlite3_finalize(s);
    if (rc == 0 && n == 0)
        fprintf(out, "  %s - %s: no neurons in common (per-neuron test_corr matched by scan and unit id)\n", abbr_b,
                abbr_a);
    else if (rc == 0) {
        qsort(d, n, sizeof *d, cmp_double);
        double sum = 0;
        size_t up = 0, down = 0;
        for (size_t i = 0; i < n; i++) {
            sum += d[i];
            up += d[i] > 0;
            down += d[i] < 0;
        }
        fprintf(out, "  %s - %s: %zu neurons: mean %+.4f; min %+.4f, q25 %+.4f, median %+.4f, q75 %+.4f, max %+.4f;"
                     " improved %zu, worse %zu, equal %zu\n",
                abbr_b, abbr_a, n, sum / (double)n, d[0], quantile(d, n, 0.25), quantile(d, n, 0.5),
                quantile(d, n, 0.75), d[n - 1], up, down, n - up - down);
    }
    nsid_alloc_free(d);
    return rc;
}

/* Notes of the runs, oldest first. */
static int compare_notes(struct nsid_store *st, const char *ids_js, const struct strv *abbr, FILE *out,
                         struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st,
                                 "SELECT i.key, n.created, n.text FROM json_each(?1) i JOIN run_notes n"
                                 " ON n.run_id = i.value ORDER BY n.created, i.key",
                                 &s, err);
    if (rc < 0) return rc;
    sqlite3_bind_text(s, 1, ids_js, -1, SQLITE_TRANSIENT);
    int step, n = 0;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t pos = sqlite3_column_int64(s, 0);
        if (n++ == 0) fprintf(out, "\nnotes\n");
        fprintf(out, "  %s %s: %s\n", pos >= 0 && (size_t)pos < abbr->n ? abbr->s[pos] : "?",
                (const char *)sqlite3_column_text(s, 1), (const char *)sqlite3_column_text(s, 2));
    }
    rc = step == SQLITE_DONE ? 0 : nsid__store_fail(st, "run_notes", err);
    sqlite3_finalize(s);
    return rc;
}

/* SQL of the sections of compare: (row name, position of the run, value) sorted by name. */
static const char CMP_RUN[] =
    RUNS_V ", ids(pos, id) AS (SELECT key, value FROM json_each(?1)),"
    " f(ord, name, pos, val) AS (SELECT 1, 'experiment', ids.pos, v.experiment FROM ids JOIN v ON v.run_id = ids.id"
    " UNION ALL SELECT 2, 'variant', ids.pos, v.variant FROM ids JOIN v ON v.run_id = ids.id"
    " UNION ALL SELECT 3, 'status', ids.pos, v.status FROM ids JOIN v ON v.run_id = ids.id"
    " UNION ALL SELECT 4, 'parent', ids.pos, substr(v.parent, 1, 12) FROM ids JOIN v ON v.run_id = ids.id"
    " UNION ALL SELECT 5, 'epochs', ids.pos, v.epochs FROM ids JOIN v ON v.run_id = ids.id"
    " UNION ALL SELECT 6, 'wall_s', ids.pos, printf('%.1f', v.wall_s) FROM ids JOIN v ON v.run_id = ids.id)"
    " SELECT name, pos, val FROM f ORDER BY ord, name, pos";
static const char CMP_CONFIG[] =
    RUNS_V ", ids(pos, id) AS (SELECT key, value FROM json_each(?1)),"
    " kv AS (SELECT replace(substr(t.fullkey, 3), char(34), '') AS k, ids.pos AS pos, " TREE_VALUE " AS val"
    " FROM ids JOIN v ON v.run_id = ids.id, json_tree(v.config) t WHERE t.type <> 'object'"
    " AND instr(t.fullkey, '[') = 0)"
    " SELECT k, pos, val FROM kv WHERE k IN (SELECT k FROM kv GROUP BY k HAVING count(DISTINCT val) > 1"
    " OR count(val) < (SELECT count(*) FROM ids)) ORDER BY k, pos";
static const char CMP_DATA[] =
    "WITH ids(pos, id) AS (SELECT key, value FROM json_each(?1))"
    " SELECT 'scan ' || d.position, ids.pos, coalesce(d.data_key, '?') || ' ' || substr(d.dataset, 1, 8) || ' '"
    " || coalesce(d.n_train, '?') || 'i/' || coalesce(d.n_neurons, '?') || 'n'"
    " FROM ids JOIN run_datasets d ON d.run_id = ids.id ORDER BY d.position, ids.pos";
static const char CMP_SCORES[] =
    "WITH ids(pos, id) AS (SELECT key, value FROM json_each(?1))"
    " SELECT m.split || ' ' || m.name, ids.pos, printf('%.4f', m.value) FROM ids JOIN metrics m ON m.run_id = ids.id"
    " WHERE m.scan = 'all' AND m.split IN ('validation', 'test') AND m.name NOT LIKE '%\\_undefined' ESCAPE '\\'"
    " AND m.name NOT IN ('n_neurons', 'n_trials', 'n_images') ORDER BY m.split DESC, m.name, ids.pos";
static const char CMP_TAGS[] =
    "WITH ids(pos, id) AS (SELECT key, value FROM json_each(?1))"
    " SELECT t.key, ids.pos, t.value FROM ids JOIN run_tags t ON t.run_id = ids.id ORDER BY t.key, ids.pos";

int nsid_store_compare(struct nsid_store *st, const char *const *ids, int n, FILE *out, struct nsid_err *err)
{
    if (n < 2) return fail_key(st, NSID_EINVAL, "compare", "needs at least two runs", err);
    if (ensure_annotations(st, err) < 0) return err->code;
    for (int i = 0; i < n; i++) {
        if (!nsid_store_valid_id(ids[i]))
            return nsid_err_set(err, NSID_EINVAL, st->path, 0, ids[i] ? ids[i] : "", "not a run id");
        int rc = run_exists(st, ids[i], err);
        if (rc < 0) return rc;
    }
    struct strv list = {0}, abbr = {0};
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++) rc = strv_push(&list, sqlite3_mprintf("%s", ids[i]), err);
    int plen = 7;
    if (rc == 0) rc = unique_prefix_len(st, &list, &plen, err);
    for (int i = 0; rc == 0 && i < n; i++) rc = strv_push(&abbr, sqlite3_mprintf("%.*s", plen, ids[i]), err);
    char *js = rc == 0 ? ids_json(ids, (size_t)n) : NULL;
    if (rc == 0) {
        fprintf(out, "runs:");
        for (int i = 0; i < n; i++) fprintf(out, " %s", ids[i]);
        fputc('\n', out);
    }
    if (rc == 0) rc = compare_section(st, "run", "", CMP_RUN, js, &abbr, false, "", out, err);
    if (rc == 0)
        rc = compare_section(st, "configuration (the keys that differ)", "key", CMP_CONFIG, js, &abbr, true,
                             "the same configuration", out, err);
    if (rc == 0)
        rc = compare_section(st, "data (the scans that differ: data key, content hash, images/neurons used)", "",
                             CMP_DATA, js, &abbr, true, "the same data", out, err);
    if (rc == 0) rc = compare_section(st, "scores (all scans)", "", CMP_SCORES, js, &abbr, false, "none recorded", out, err);
    if (rc == 0) rc = compare_section(st, "tags", "tag", CMP_TAGS, js, &abbr, false, "none", out, err);
    if (rc == 0) rc = compare_notes(st, js, &abbr, out, err);
    if (rc == 0) fprintf(out, "\nper-neuron test_corr differences (neurons matched by scan and unit id)\n");
    for (int i = 1; rc == 0 && i < n; i++) rc = neuron_diff(st, ids[0], ids[i], abbr.s[0], abbr.s[i], out, err);
    sqlite3_free(js);
    strv_free(&list);
    strv_free(&abbr);
    return rc;
}

/* ---- gc ---------------------------------------------------------------------------------------------- */

/* A run gc may remove, or keeps because a kept run depends on it. */
struct gc_run {
    char id[NSID_STORE_ID_MAX];
    bool in_store;            /* a row in runs */
    bool folder;              /* runs_dir/<id> exists */
    char why[160];            /* "" removable; else why it is kept */
};

struct gc_list {
    struct gc_run *r;         /* (n) */
    size_t n, cap;
};

static struct gc_run *gc_find(struct gc_list *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->r[i].id, id) == 0) return &l->r[i];
    return NULL;
}

static struct gc_run *gc_add(struct gc_list *l, const char *id, struct nsid_err *err)
{
    struct gc_run *r = gc_find(l, id);
    if (r) return r;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        struct gc_run *g = NSID_ALLOC(nsid_alloc_mul_size(cap, sizeof *g, err), err);
        if (!g) return NULL;
        if (l->n) memcpy(g, l->r, l->n * sizeof *g);
        nsid_alloc_free(l->r);
        l->r = g;
        l->cap = cap;
    }
    r = &l->r[l->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", id);
    return r;
}

/* Is id a run of the current plan? */
static int in_plan(struct nsid_store *st, const char *id, bool *yes, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st, "SELECT 1 FROM plan_runs WHERE id = ?1", &s, err);
    if (rc < 0) return rc;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s);
    sqlite3_finalize(s);
    *yes = step == SQLITE_ROW;
    return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : nsid__store_fail(st, "plan_runs", err);
}

/* Does folder hold what nsid-plan or a stage writes into a run's folder (run.json, run.db)? */
static bool is_run_folder(const char *folder)
{
    static const char *const FILES[] = {"run.json", "run.db"};
    for (size_t i = 0; i < 2; i++) {
        char path[NSID_ERR_FILE_MAX + NSID_STORE_ID_MAX + 16];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", folder, FILES[i]);
        if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) return true;
    }
    return false;
}

/* The store's runs outside the plan, and the folders runs_dir/<id> of runs outside it (a folder
 * that holds neither run.json nor run.db is no run's, and is left alone). */
static int gc_candidates(struct nsid_store *st, const char *runs_dir, struct gc_list *l, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st, "SELECT id FROM runs WHERE id NOT IN (SELECT id FROM plan_runs) ORDER BY id", &s,
                                 err);
    if (rc < 0) return rc;
    struct strv ids = {0};
    rc = collect_col0(st, s, &ids, "runs", err);
    sqlite3_finalize(s);
    for (size_t i = 0; rc == 0 && i < ids.n; i++) {
        struct gc_run *r = ids.s[i] && nsid_store_valid_id(ids.s[i]) ? gc_add(l, ids.s[i], err) : NULL;
        if (r) r->in_store = true;
        else if (ids.s[i] && nsid_store_valid_id(ids.s[i])) rc = NSID_ENOMEM;
    }
    strv_free(&ids);
    DIR *d = rc == 0 && runs_dir ? opendir(runs_dir) : NULL;
    for (struct dirent *e; rc == 0 && d && (e = readdir(d));) {
        bool planned = false;
        char path[NSID_ERR_FILE_MAX + NSID_STORE_ID_MAX + 2];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", runs_dir, e->d_name);
        if (!nsid_store_valid_id(e->d_name) || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode) || !is_run_folder(path))
            continue;
        rc = in_plan(st, e->d_name, &planned, err);
        struct gc_run *r = rc == 0 && !planned ? gc_add(l, e->d_name, err) : NULL;
        if (rc == 0 && !planned && !r) rc = NSID_ENOMEM;
        if (r) r->folder = true;
    }
    if (d) closedir(d);
    for (size_t i = 0; rc == 0 && i < l->n; i++) { /* a store row's folder */
        char path[NSID_ERR_FILE_MAX + NSID_STORE_ID_MAX + 2];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", runs_dir ? runs_dir : "", l->r[i].id);
        if (runs_dir && lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && is_run_folder(path)) l->r[i].folder = true;
    }
    return rc;
}

/* The kept runs (the plan's and those kept so far) as a JSON array of ids, a sqlite3_mprintf string. */
static char *gc_kept_json(const struct gc_list *l)
{
    sqlite3_str *b = sqlite3_str_new(NULL);
    sqlite3_str_appendchar(b, 1, '[');
    int k = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->r[i].why[0]) sqlite3_str_appendf(b, "%s\"%s\"", k++ ? "," : "", l->r[i].id);
    sqlite3_str_appendchar(b, 1, ']');
    return sqlite3_str_finish(b);
}

/*
 * Keep every candidate a kept run depends on: its parent (runs.parent) or the checkpoint its
 * configuration names (model.core.checkpoint). Repeated until nothing changes (a chain of cores).
 */
static int gc_dependencies(struct nsid_store *st, struct gc_list *l, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st,
                                 RUNS_V " SELECT v.run_id, CASE WHEN v.parent = ?1 THEN 'parent' ELSE 'checkpoint' END"
                                 " FROM v WHERE (v.in_plan OR v.run_id IN (SELECT value FROM json_each(?2)))"
                                 " AND (v.parent = ?1 OR instr('/' || coalesce(json_extract(v.config,"
                                 " '$.model.core.checkpoint'), ''), '/' || ?1 || '/checkpoint.h5') > 0)"
                                 " ORDER BY v.run_id LIMIT 1",
                                 &s, err);
    if (rc < 0) return rc;
    for (bool changed = true; rc == 0 && changed;) {
        changed = false;
        char *kept = gc_kept_json(l);
        for (size_t i = 0; rc == 0 && i < l->n; i++) {
            if (l->r[i].why[0]) continue;
            sqlite3_bind_text(s, 1, l->r[i].id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 2, kept ? kept : "[]", -1, SQLITE_TRANSIENT);
            int step = sqlite3_step(s);
            if (step == SQLITE_ROW) {
                snprintf(l->r[i].why, sizeof l->r[i].why, "the %s of kept run %.12s",
                         strcmp((const char *)sqlite3_column_text(s, 1), "parent") == 0 ? "transferred core (parent)"
                                                                                        : "core checkpoint",
                         (const char *)sqlite3_column_text(s, 0));
                changed = true;
            } else if (step != SQLITE_DONE) rc = nsid__store_fail(st, "runs", err);
            sqlite3_reset(s);
        }
        sqlite3_free(kept);
    }
    sqlite3_finalize(s);
    return rc;
}

/* Keep the candidates of every current selection (plan_selections) that gc would otherwise remove. */
static int gc_candidates_of_selections(struct nsid_store *st, struct gc_list *l, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st, "SELECT candidate, id FROM plan_selections ORDER BY id, candidate", &s, err);
    if (rc < 0) return rc;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *cand = (const char *)sqlite3_column_text(s, 0), *sel = (const char *)sqlite3_column_text(s, 1);
        struct gc_run *r = cand ? gc_find(l, cand) : NULL;
        if (r && !r->why[0]) snprintf(r->why, sizeof r->why, "a candidate of core selection %.12s", sel ? sel : "?");
    }
    rc = step == SQLITE_DONE ? 0 : nsid__store_fail(st, "plan_selections", err);
    sqlite3_finalize(s);
    return rc;
}

/* Keep the core each current selection chose (dirname(runs_dir)/select/<selection>.ckpt names it)
 * and the selection's other candidates. */
static int gc_selections(struct nsid_store *st, const char *runs_dir, struct gc_list *l, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st, "SELECT DISTINCT id FROM plan_selections ORDER BY id", &s, err);
    if (rc < 0) return rc;
    struct strv sel = {0};
    rc = collect_col0(st, s, &sel, "plan_selections", err);
    sqlite3_finalize(s);
    char dir[NSID_ERR_FILE_MAX];
    snprintf(dir, sizeof dir, "%s", runs_dir ? runs_dir : ".");
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    for (size_t i = 0; rc == 0 && i < sel.n; i++) {
        char path[2 * NSID_ERR_FILE_MAX], text[4096] = "";
        snprintf(path, sizeof path, "%s/select/%s.ckpt", dir, sel.s[i] ? sel.s[i] : "");
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (!fgets(text, sizeof text, f)) text[0] = '\0';
        fclose(f);
        for (size_t j = 0; j < l->n; j++) {
            char needle[NSID_STORE_ID_MAX + 32];
            snprintf(needle, sizeof needle, "/%s/checkpoint.h5", l->r[j].id);
            if (!l->r[j].why[0] && (strstr(text, needle) || strncmp(text, needle + 1, strlen(needle) - 1) == 0))
                snprintf(l->r[j].why, sizeof l->r[j].why, "the core selection %.12s chose (results/select)", sel.s[i]);
        }
    }
    strv_free(&sel);
    return rc == 0 ? gc_candidates_of_selections(st, l, err) : rc;
}

/* Delete the removable runs' rows from every table (inside the caller's transaction). */
static int gc_delete(struct nsid_store *st, const struct gc_list *l, struct nsid_err *err)
{
    static const char *const DELETES[][2] = {
        {"epochs", "DELETE FROM epochs WHERE run_id IN (SELECT value FROM json_each(?1))"},
        {"metrics", "DELETE FROM metrics WHERE run_id IN (SELECT value FROM json_each(?1))"},
        {"neuron_metrics", "DELETE FROM neuron_metrics WHERE run_id IN (SELECT value FROM json_each(?1))"},
        {"artifacts", "DELETE FROM artifacts WHERE run_id IN (SELECT value FROM json_each(?1))"},
        {"run_datasets", "DELETE FROM run_datasets WHERE run_id IN (SELECT value FROM json_each(?1))"},
        {"run_sources", "DELETE FROM run_sources WHERE run_id IN (SELECT value FROM json_each(?1))"},
        {"run_tags", "DELETE FROM run_tags WHERE run_id IN (SELECT value FROM json_each(?1))"},
        {"run_notes", "DELETE FROM run_notes WHERE run_id IN (SELECT value FROM json_each(?1))"},
        {"runs", "DELETE FROM runs WHERE id IN (SELECT value FROM json_each(?1))"},
    };
    struct strv ids = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < l->n; i++)
        if (!l->r[i].why[0] && l->r[i].in_store) rc = strv_push(&ids, sqlite3_mprintf("%s", l->r[i].id), err);
    char *js = rc == 0 ? ids_json((const char *const *)ids.s, ids.n) : NULL;
    for (size_t t = 0; rc == 0 && t < sizeof DELETES / sizeof DELETES[0]; t++)
        rc = NSID__STORE_WRITE(st, DELETES[t][0], DELETES[t][1], err, NSID__SV_T(js));
    sqlite3_free(js);
    strv_free(&ids);
    return rc;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

/* Remove the removable runs' folders (after the commit); the first failure named. */
static int gc_folders(const char *runs_dir, const struct gc_list *l, size_t *removed, struct nsid_err *err)
{
    *removed = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->r[i].why[0] || !l->r[i].folder) continue;
        char path[NSID_ERR_FILE_MAX + NSID_STORE_ID_MAX + 2];
        snprintf(path, sizeof path, "%s/%s", runs_dir, l->r[i].id);
        if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
            return nsid_err_set(err, NSID_EIO, path, 0, "gc", "cannot remove the run's folder: %s", strerror(errno));
        (*removed)++;
    }
    return 0;
}

static void gc_print(const struct gc_list *l, const char *runs_dir, FILE *out)
{
    fprintf(out, "gc: %zu run%s outside the current plan", l->n, l->n == 1 ? "" : "s");
    fprintf(out, l->n ? ":\n" : "\n");
    for (size_t i = 0; i < l->n; i++) {
        const struct gc_run *r = &l->r[i];
        if (r->why[0]) fprintf(out, "  keep    %s  %s\n", r->id, r->why);
        else
            fprintf(out, "  remove  %s %s%s%s%s\n", r->id, r->in_store ? " store rows" : "",
                    r->in_store && r->folder ? "," : "", r->folder ? " folder " : "", r->folder ? runs_dir : "");
    }
}

/* What gc does: collect and print (and with remove, delete the store rows). */
struct gc_arg {
    const char *runs_dir;
    bool remove;
    FILE *out;
    struct gc_list *l;        /* filled */
};

/* The store's part of gc: inside one transaction when removing (the plan cannot change meanwhile). */
static int gc_body(struct nsid_store *st, const void *arg, struct nsid_err *err)
{
    const struct gc_arg *g = arg;
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st, "SELECT count(*) FROM plan_runs", &s, err);
    int64_t planned = rc == 0 && sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    if (rc == 0 && planned < 0) rc = nsid__store_fail(st, "plan_runs", err);
    if (rc == 0 && planned == 0)
        rc = fail_key(st, NSID_EINVAL, "gc",
                      "the store has no plan (plan_runs is empty): gc removes the runs a plan no longer holds;"
                      " run nsid-plan (make ... plan) first",
                      err);
    if (rc == 0) rc = gc_candidates(st, g->runs_dir, g->l, err);
    if (rc == 0) rc = gc_selections(st, g->runs_dir, g->l, err);
    if (rc == 0) rc = gc_dependencies(st, g->l, err);
    if (rc == 0) gc_print(g->l, g->runs_dir, g->out);
    if (rc == 0 && g->remove) rc = gc_delete(st, g->l, err);
    return rc;
}

int nsid_store_gc(struct nsid_store *st, const char *runs_dir, bool remove, FILE *out, struct nsid_err *err)
{
    struct gc_list l = {0};
    struct gc_arg g = {runs_dir, remove, out, &l};
    int rc = remove ? nsid__store_tx(st, gc_body, &g, err) : gc_body(st, &g, err);
    size_t n_store = 0, n_remove = 0, n_folders = 0;
    for (size_t i = 0; i < l.n; i++) {
        n_store += !l.r[i].why[0] && l.r[i].in_store;
        n_remove += !l.r[i].why[0];
    }
    if (rc == 0 && remove) { /* folders only after the commit: a failed commit leaves them all */
        rc = gc_folders(runs_dir, &l, &n_folders, err);
        fprintf(out, "gc: removed %zu run%s from %s and %zu folder%s from %s\n", n_store, n_store == 1 ? "" : "s",
                st->path, n_folders, n_folders == 1 ? "" : "s", runs_dir);
    } else if (rc == 0)
        fprintf(out, "gc: dry run, nothing removed (nsid-db gc --yes removes the %zu run%s marked remove)\n",
                n_remove, n_remove == 1 ? "" : "s");
    nsid_alloc_free(l.r);
    return rc;
}
