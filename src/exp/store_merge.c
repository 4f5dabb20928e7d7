/*
 * store_merge.c - reading the store: scores, the only run of a run.db, merging run
 * databases into results.db, status counts, queries and CSV export.
 */
#include <csv.h>
#include <errno.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "exp/store.h"
#include "store_int.h"
#include "base/infile.h"

/* ---- single values ------------------------------------------------------------------------ */

int nsid_store_only_run(struct nsid_store *st, char id[NSID_STORE_ID_MAX], int *status, struct nsid_err *err)
{
    NSID__ERR_LOCAL(err);
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st, "SELECT id, status FROM runs LIMIT 2", &s, err);
    if (rc < 0) return rc;
    int n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n++ == 0) {
            snprintf(id, NSID_STORE_ID_MAX, "%s", (const char *)sqlite3_column_text(s, 0));
            *status = nsid_run_status_parse((const char *)sqlite3_column_text(s, 1));
        }
    }
    int out = 0;
    if (rc != SQLITE_DONE) out = nsid__store_fail(st, "runs", err);
    else if (n != 1)
        out = nsid_err_set(err, NSID_EFORMAT, st->path, 0, "runs", "a run database holds exactly one run, this one %s",
                           n == 0 ? "none" : "several");
    sqlite3_finalize(s);
    return out;
}

int nsid_store_score(struct nsid_store *st, const char *run_id, double *score, struct nsid_err *err)
{
    NSID__ERR_LOCAL(err);
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st,
                                 "SELECT value FROM metrics WHERE run_id = ?1 AND scan = 'all'"
                                 " AND split = 'validation' AND name = 'corr' AND value IS NOT NULL",
                                 &s, err);
    if (rc < 0) return rc;
    sqlite3_bind_text(s, 1, run_id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(s);
    int out = 0;
    if (rc == SQLITE_ROW) *score = sqlite3_column_double(s, 0);
    else if (rc == SQLITE_DONE)
        out = nsid_err_set(err, NSID_ENOTFOUND, st->path, 0, run_id,
                           "no validation score (metric scan 'all', split 'validation', name 'corr')");
    else out = nsid__store_fail(st, "metrics", err);
    sqlite3_finalize(s);
    return out;
}

int nsid_store_parent_of(const char *ckpt, char id[NSID_STORE_ID_MAX], struct nsid_err *err)
{
    NSID__ERR_LOCAL(err);
    id[0] = '\0';
    char dir[NSID_ERR_FILE_MAX], db[NSID_ERR_FILE_MAX + 16];
    snprintf(dir, sizeof dir, "%s", ckpt);
    snprintf(db, sizeof db, "%s/run.db", dirname(dir));
    struct stat sb;
    if (stat(db, &sb) != 0) return 0;
    struct nsid_store st;
    int rc = nsid_store_open_readonly(&st, db, err);
    int status = 0;
    if (rc == 0) rc = nsid_store_only_run(&st, id, &status, err);
    nsid_store_close(&st);
    if (rc < 0) id[0] = '\0';
    return rc;
}

/* ---- merge ---------------------------------------------------------------------------------- */

/* Status and ended time of run id in schema db ("main" or "src"); *found = false if absent. */
static int run_state(struct nsid_store *st, const char *schema, const char *id, int *status, char *ended,
                     size_t n_ended, bool *found, struct nsid_err *err)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT status, coalesce(ended, '') FROM %s.runs WHERE id = ?1", schema);
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st, sql, &s, err);
    if (rc < 0) return rc;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(s);
    *found = rc == SQLITE_ROW;
    if (*found) {
        *status = nsid_run_status_parse((const char *)sqlite3_column_text(s, 0));
        snprintf(ended, n_ended, "%s", (const char *)sqlite3_column_text(s, 1));
    }
    int out = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : nsid__store_fail(st, "runs", err);
    sqlite3_finalize(s);
    return out;
}

/* Run one statement with ?1 bound to id. */
static int exec_id(struct nsid_store *st, const char *sql, const char *id, const char *what, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st, sql, &s, err);
    if (rc < 0) return rc;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    rc = nsid__store_step_done(st, s, what, err);
    sqlite3_finalize(s);
    return rc;
}

/* Copies of a finished run from src into main (after its old records are deleted). */
static const struct {
    const char *what;
    const char *sql;
} COPY_DONE[] = {
    {"runs", "INSERT OR REPLACE INTO main.runs (" NSID__RUNS_COLUMNS ") SELECT " NSID__RUNS_COLUMNS
             " FROM src.runs WHERE id = ?1"},
    {"epochs", "INSERT INTO main.epochs SELECT * FROM src.epochs WHERE run_id = ?1"},
    {"metrics", "INSERT INTO main.metrics SELECT * FROM src.metrics WHERE run_id = ?1"},
    {"neuron_metrics", "INSERT INTO main.neuron_metrics SELECT * FROM src.neuron_metrics WHERE run_id = ?1"},
    {"artifacts", "INSERT INTO main.artifacts SELECT * FROM src.artifacts WHERE run_id = ?1"},
    {"run_datasets", "INSERT INTO main.run_datasets SELECT * FROM src.run_datasets WHERE run_id = ?1"},
    {"datasets",
     "INSERT INTO main.datasets SELECT * FROM src.datasets WHERE sha256 IN"
     " (SELECT dataset FROM src.run_datasets WHERE run_id = ?1) AND true"
     " ON CONFLICT (sha256) DO UPDATE SET data_key = coalesce(excluded.data_key, datasets.data_key),"
     " animal = coalesce(datasets.animal, excluded.animal), image_set = coalesce(datasets.image_set, excluded.image_set),"
     " bytes = coalesce(excluded.bytes, datasets.bytes), n_neurons = coalesce(excluded.n_neurons, datasets.n_neurons),"
     " n_trials = coalesce(excluded.n_trials, datasets.n_trials), n_train = coalesce(excluded.n_train, datasets.n_train),"
     " n_validation = coalesce(excluded.n_validation, datasets.n_validation),"
     " n_test = coalesce(excluded.n_test, datasets.n_test)"},
    {"experiment",
     "UPDATE main.runs SET experiment = coalesce((SELECT p.experiment FROM main.plan_runs p WHERE p.id = ?1"
     " ORDER BY p.experiment LIMIT 1), '') WHERE id = ?1 AND experiment = ''"},
};

static int copy_done(struct nsid_store *st, const char *id, struct nsid_err *err)
{
    static const char *const children[] = {"epochs", "metrics", "neuron_metrics", "artifacts", "run_datasets"};
    for (size_t i = 0; i < sizeof children / sizeof children[0]; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "DELETE FROM main.%s WHERE run_id = ?1", children[i]);
        int rc = exec_id(st, sql, id, children[i], err);
        if (rc < 0) return rc;
    }
    for (size_t i = 0; i < sizeof COPY_DONE / sizeof COPY_DONE[0]; i++) {
        int rc = exec_id(st, COPY_DONE[i].sql, id, COPY_DONE[i].what, err);
        if (rc < 0) return rc;
    }
    return 0;
}

/* A run that is not done: its runs row only, and never over a finished one. */
static int copy_unfinished(struct nsid_store *st, const char *id, struct nsid_err *err)
{
    int rc = exec_id(st,
                     "INSERT OR REPLACE INTO main.runs (" NSID__RUNS_COLUMNS ") SELECT " NSID__RUNS_COLUMNS
                     " FROM src.runs WHERE id = ?1",
                     id, "runs", err);
    if (rc == 0) rc = exec_id(st, COPY_DONE[sizeof COPY_DONE / sizeof COPY_DONE[0] - 1].sql, id, "experiment", err);
    return rc;
}

/* Is run id done in both src and main with the same end time? */
static int already_merged(struct nsid_store *st, const char *id, bool *same, struct nsid_err *err)
{
    int a = -1, b = -1;
    char ea[64] = "", eb[64] = "";
    bool fa = false, fb = false;
    int rc = run_state(st, "src", id, &a, ea, sizeof ea, &fa, err);
    if (rc == 0) rc = run_state(st, "main", id, &b, eb, sizeof eb, &fb, err);
    *same = rc == 0 && fa && fb && a == NSID_RUN_DONE && b == NSID_RUN_DONE && strcmp(ea, eb) == 0;
    return rc;
}

/* Merge one run of the attached src in its own transaction. */
static int merge_run(struct nsid_store *st, const char *id, struct nsid_store_merge_stats *stats,
                     struct nsid_err *err)
{
    bool same = false;
    int rc = already_merged(st, id, &same, err); /* without the write lock: most re-merges stop here */
    if (rc < 0) return rc;
    if (same) {
        stats->unchanged++;
        return 0;
    }
    rc = nsid__store_exec(st, "BEGIN IMMEDIATE", "BEGIN IMMEDIATE", err);
    if (rc < 0) return rc;
    int src_status = -1, main_status = -1;
    char src_end[64] = "", main_end[64] = "";
    bool src_found = false, main_found = false;
    rc = run_state(st, "src", id, &src_status, src_end, sizeof src_end, &src_found, err);
    if (rc == 0) rc = run_state(st, "main", id, &main_status, main_end, sizeof main_end, &main_found, err);
    if (rc == 0 && src_found) {
        if (src_status == NSID_RUN_DONE) {
            if (main_found && main_status == NSID_RUN_DONE && strcmp(src_end, main_end) == 0) {
                stats->unchanged++;
            } else {
                rc = copy_done(st, id, err);
                stats->merged++;
            }
        } else {
            if (!(main_found && main_status == NSID_RUN_DONE)) rc = copy_unfinished(st, id, err);
            stats->unfinished++;
        }
    }
    return nsid__store_tx_end(st, true, rc, err);
}

/* The ids of src.runs into a new NSID_ALLOC array *ids of *n entries (NULL when 0). */
static int src_ids(struct nsid_store *st, const char *run_db, char (**ids)[NSID_STORE_ID_MAX], int64_t *n,
                   struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    *ids = NULL;
    *n = 0;
    int rc = nsid__store_prepare(st, "SELECT count(*) FROM src.runs", &s, err);
    if (rc < 0) return rc;
    int64_t total = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    if (total < 0) return nsid__store_fail(st, "runs", err);
    if (total == 0) return 0;
    size_t bytes = nsid_mul_size((size_t)total, NSID_STORE_ID_MAX, err);
    if (bytes == 0) return NSID_ENOMEM;
    if (!(*ids = NSID_ALLOC(bytes, err))) return NSID_ENOMEM;
    rc = nsid__store_prepare(st, "SELECT id FROM src.runs ORDER BY id", &s, err);
    if (rc < 0) return rc;
    while (*n < total && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        if (!nsid_store_valid_id(id)) { /* the message first: finalizing frees the column text */
            nsid_err_set(err, NSID_EFORMAT, run_db, 0, "runs", "bad run id '%.80s'", id ? id : "");
            sqlite3_finalize(s);
            return NSID_EFORMAT;
        }
        snprintf((*ids)[(*n)++], NSID_STORE_ID_MAX, "%s", id);
    }
    int out = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : nsid__store_fail(st, "runs", err);
    sqlite3_finalize(s);
    return out;
}

/* One integer of a query on the attached src (false if it cannot be read). */
static bool src_int(struct nsid_store *st, const char *sql, int *v)
{
    sqlite3_stmt *s = NULL;
    struct nsid_err ignore = {0};
    if (nsid__store_prepare(st, sql, &s, &ignore) < 0) return false;
    bool ok = sqlite3_step(s) == SQLITE_ROW;
    if (ok) *v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return ok;
}

/*
 * Check that the attached src is an nsid store of a known version. NSID_ENOTFOUND: src is
 * empty (a stage that has not committed its schema yet, or an empty file). Its
 * user_version is read with "PRAGMA src.user_version": "src.pragma_user_version" would
 * read the main database's.
 */
static int check_src(struct nsid_store *st, const char *run_db, struct nsid_err *err)
{
    int tables = 0, objects = 0, version = 0;
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st, "SELECT count(*) FROM src.sqlite_master", &s, err);
    if (rc < 0) /* reading src's schema fails for a file that is not SQLite */
        return nsid_err_set(err, err->code, run_db, 0, "merge", "%s", err->msg);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) objects = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW || !src_int(st,
                                     "SELECT count(*) FROM src.sqlite_master WHERE type = 'table' AND name IN"
                                     " ('runs', 'epochs', 'metrics', 'neuron_metrics', 'artifacts', 'run_datasets',"
                                     " 'datasets')",
                                     &tables) ||
        !src_int(st, "PRAGMA src.user_version", &version)) {
        rc = nsid__store_fail(st, "merge", err);
        snprintf(err->file, sizeof err->file, "%s", run_db);
        return rc;
    }
    if (objects == 0 && version == 0) /* a run whose stage has not committed its schema yet */
        return nsid_err_set(err, NSID_ENOTFOUND, run_db, 0, "merge", "an empty database (a run not started yet?)");
    if (tables != 7 || version < 1)
        return nsid_err_set(err, NSID_EFORMAT, run_db, 0, "merge", "not an nsid run database (no nsid schema)");
    if (version > NSID_STORE_SCHEMA_VERSION)
        return nsid_err_set(err, NSID_EFORMAT, run_db, 0, "merge", "schema version %d is newer than this nsid's %d",
                            version, NSID_STORE_SCHEMA_VERSION);
    return 0;
}

int nsid_store_merge(struct nsid_store *into, const char *run_db, struct nsid_store_merge_stats *stats,
                     struct nsid_err *err)
{
    NSID__ERR_LOCAL(err);
    struct stat sb;
    if (stat(run_db, &sb) != 0) return nsid_err_set(err, NSID_ENOTFOUND, run_db, 0, "merge", "no such run database");
    if (nsid_infile_check(run_db, "merge", err) < 0) return err->code;
    if (!sqlite3_get_autocommit(into->db))
        return nsid_err_set(err, NSID_EINVAL, into->path, 0, "merge", "called inside a transaction");
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(into, "ATTACH DATABASE ?1 AS src", &s, err);
    if (rc < 0) return rc;
    sqlite3_bind_text(s, 1, run_db, -1, SQLITE_TRANSIENT);
    rc = nsid__store_step_done(into, s, "attach", err);
    sqlite3_finalize(s);
    if (rc < 0) {
        snprintf(err->file, sizeof err->file, "%s", run_db);
        return rc;
    }
    char (*list)[NSID_STORE_ID_MAX] = NULL;
    int64_t n = 0;
    rc = check_src(into, run_db, err);
    if (rc == 0) rc = src_ids(into, run_db, &list, &n, err);
    for (int64_t i = 0; rc == 0 && i < n; i++) rc = merge_run(into, list[i], stats, err);
    nsid_free(list);
    struct nsid_err ignore = {0};
    if (nsid__store_exec(into, "DETACH DATABASE src", "detach", &ignore) < 0 && rc == 0)
        rc = nsid_err_set(err, ignore.code, into->path, 0, "detach", "%s", ignore.msg);
    return rc;
}

int nsid_store_merge_plan(struct nsid_store *into, const char *runs_dir, struct nsid_store_merge_stats *stats,
                          struct nsid_err *err)
{
    NSID__ERR_LOCAL(err);
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(into, "SELECT count(DISTINCT id) FROM plan_runs", &s, err);
    if (rc < 0) return rc;
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    if (n < 0) return nsid__store_fail(into, "plan_runs", err);
    if (n == 0) return 0;
    size_t bytes = nsid_mul_size((size_t)n, NSID_STORE_ID_MAX, err);
    char (*ids)[NSID_STORE_ID_MAX] = bytes ? NSID_ALLOC(bytes, err) : NULL;
    if (!ids) return NSID_ENOMEM;
    rc = nsid__store_prepare(into, "SELECT DISTINCT id FROM plan_runs ORDER BY id", &s, err);
    int64_t k = 0;
    while (rc == 0 && k < n && sqlite3_step(s) == SQLITE_ROW)
        snprintf(ids[k++], NSID_STORE_ID_MAX, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    for (int64_t i = 0; rc == 0 && i < k; i++) {
        char db[NSID_ERR_FILE_MAX + NSID_STORE_ID_MAX + 16];
        struct stat sb;
        snprintf(db, sizeof db, "%s/%s/run.db", runs_dir, ids[i]);
        if (nsid_store_valid_id(ids[i]) && stat(db, &sb) == 0) rc = nsid_store_merge(into, db, stats, err);
        if (rc == NSID_ENOTFOUND) { /* started meanwhile, or not started: a later merge brings it */
            rc = 0;
            if (stats) stats->unfinished++;
        }
    }
    nsid_free(ids);
    return rc;
}

/* ---- status --------------------------------------------------------------------------------- */

/* Status of id from runs_dir/<id>/run.db, or -1 if that file does not tell. */
static int live_status(const char *runs_dir, const char *id)
{
    char db[NSID_ERR_FILE_MAX + NSID_STORE_ID_MAX + 16];
    snprintf(db, sizeof db, "%s/%s/run.db", runs_dir, id);
    struct stat sb;
    if (stat(db, &sb) != 0) return -1;
    struct nsid_store st;
    struct nsid_err e = {0};
    int status = -1;
    if (nsid_store_open_readonly(&st, db, &e) == 0 && nsid_store_run_status(&st, id, &status, &e) < 0) status = -1;
    nsid_store_close(&st);
    return status;
}

int nsid_store_status(struct nsid_store *st, const char *runs_dir, int64_t counts[NSID_RUN_N_STATUS],
                      struct nsid_err *err)
{
    NSID__ERR_LOCAL(err);
    for (int i = 0; i < NSID_RUN_N_STATUS; i++) counts[i] = 0;
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st,
                                 "SELECT DISTINCT p.id, r.status FROM plan_runs p LEFT JOIN runs r ON r.id = p.id"
                                 " UNION ALL SELECT r.id, r.status FROM runs r WHERE NOT EXISTS"
                                 " (SELECT 1 FROM plan_runs) ORDER BY 1",
                                 &s, err);
    if (rc < 0) return rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        const char *stored = (const char *)sqlite3_column_text(s, 1);
        int status = runs_dir && nsid_store_valid_id(id) ? live_status(runs_dir, id) : -1;
        if (status < 0) status = stored ? nsid_run_status_parse(stored) : NSID_RUN_PLANNED;
        if (status < 0) status = NSID_RUN_PLANNED;
        counts[status]++;
    }
    int out = rc == SQLITE_DONE ? 0 : nsid__store_fail(st, "status", err);
    sqlite3_finalize(s);
    return out;
}

/* ---- query and export ------------------------------------------------------------------------ */

static bool needs_quotes(const char *v)
{
    size_t n = strlen(v);
    if (n == 0) return false;
    if (v[0] == ' ' || v[n - 1] == ' ') return true;
    return strpbrk(v, ",\"\r\n") != NULL;
}

/* Write one field (CSV quoting by libcsv where needed, or tab-separated text). */
static void put_field(FILE *out, sqlite3_stmt *s, int i, bool csv)
{
    int type = sqlite3_column_type(s, i);
    if (type == SQLITE_NULL) return;
    const char *v = (const char *)sqlite3_column_text(s, i);
    if (!v) return;
    if (csv && type == SQLITE_TEXT && needs_quotes(v)) csv_fwrite(out, v, strlen(v));
    else if (!csv) {
        for (const char *c = v; *c; c++) fputc(*c == '\t' || *c == '\n' ? ' ' : *c, out);
    } else fputs(v, out);
}

static void put_header(FILE *out, sqlite3_stmt *s, bool csv)
{
    int n = sqlite3_column_count(s);
    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_column_name(s, i);
        if (i) fputc(csv ? ',' : '\t', out);
        if (csv && needs_quotes(name)) csv_fwrite(out, name, strlen(name));
        else fputs(name, out);
    }
    fputc('\n', out);
}

/* Step s to the end, writing rows. */
static int put_rows(struct nsid_store *st, sqlite3_stmt *s, FILE *out, bool csv, int64_t *rows,
                    struct nsid_err *err)
{
    int n = sqlite3_column_count(s), rc;
    int64_t k = 0;
    put_header(out, s, csv);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        for (int i = 0; i < n; i++) {
            if (i) fputc(csv ? ',' : '\t', out);
            put_field(out, s, i, csv);
        }
        fputc('\n', out);
        k++;
    }
    if (rows) *rows = k;
    if (rc != SQLITE_DONE) return nsid__store_fail(st, "query", err);
    if (ferror(out)) return nsid_err_set(err, NSID_EIO, NULL, 0, "query", "write failed: %s", strerror(errno));
    return 0;
}

/*
 * The authorizer of a query: reading only. ATTACH (which opens or creates another file),
 * DETACH and every write are denied while the statement is prepared; VACUUM INTO, which
 * writes a copy of the store elsewhere, is a write to SQLite's statement check below.
 */
static int query_authorizer(void *ctx, int action, const char *a, const char *b, const char *db, const char *trig)
{
    (void)ctx, (void)a, (void)db, (void)trig;
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE: return SQLITE_OK;
    case SQLITE_PRAGMA: return b ? SQLITE_DENY : SQLITE_OK; /* PRAGMA x = v sets, PRAGMA x reads */
    default: return SQLITE_DENY;
    }
}

int nsid_store_query(struct nsid_store *st, const char *sql, FILE *out, bool csv, int64_t *rows,
                     struct nsid_err *err)
{
    NSID__ERR_LOCAL(err);
    sqlite3_stmt *s = NULL;
    const char *tail = NULL;
    sqlite3_set_authorizer(st->db, query_authorizer, NULL);
    int prc = sqlite3_prepare_v2(st->db, sql, -1, &s, &tail);
    sqlite3_set_authorizer(st->db, NULL, NULL);
    if (prc == SQLITE_AUTH)
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, "query",
                            "queries only read (SELECT, read-only PRAGMA): %s", sqlite3_errmsg(st->db));
    if (prc != SQLITE_OK) return nsid__store_fail(st, "query", err);
    if (!s) return nsid_err_set(err, NSID_EINVAL, st->path, 0, "query", "no SQL statement given");
    if (!sqlite3_stmt_readonly(s)) {
        sqlite3_finalize(s);
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, "query",
                            "queries only read (SELECT, read-only PRAGMA); this statement writes");
    }
    while (tail && (*tail == ' ' || *tail == '\t' || *tail == '\n' || *tail == '\r' || *tail == ';')) tail++;
    if (tail && *tail) {
        sqlite3_finalize(s);
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, "query", "one statement at a time; extra text: '%.60s'",
                            tail);
    }
    int rc = put_rows(st, s, out, csv, rows, err);
    sqlite3_finalize(s);
    return rc;
}

/* Is name a table or view of the store? */
static int object_exists(struct nsid_store *st, const char *name, bool *exists, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st,
                                 "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?1", &s,
                                 err);
    if (rc < 0) return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(s);
    *exists = rc == SQLITE_ROW;
    int out = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : nsid__store_fail(st, "sqlite_master", err);
    sqlite3_finalize(s);
    return out;
}

int nsid_store_export_csv(struct nsid_store *st, const char *name, const char *path, int64_t *rows,
                          struct nsid_err *err)
{
    NSID__ERR_LOCAL(err);
    bool exists = false;
    int rc = object_exists(st, name, &exists, err);
    if (rc < 0) return rc;
    if (!exists || strchr(name, '"'))
        return nsid_err_set(err, NSID_ENOTFOUND, st->path, 0, name, "no such view or table (nsid-db views lists them)");
    char sql[NSID_ERR_KEY_MAX + 32];
    snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", name);
    char tmp[NSID_ERR_FILE_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return nsid_err_set(err, NSID_EIO, tmp, 0, NULL, "cannot create: %s", strerror(errno));
    sqlite3_stmt *s = NULL;
    rc = nsid__store_prepare(st, sql, &s, err);
    if (rc == 0) rc = put_rows(st, s, f, true, rows, err);
    sqlite3_finalize(s);
    if (fclose(f) != 0 && rc == 0) rc = nsid_err_set(err, NSID_EIO, tmp, 0, NULL, "write failed: %s", strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = nsid_err_set(err, NSID_EIO, path, 0, NULL, "cannot rename %s: %s", tmp, strerror(errno));
    if (rc < 0) remove(tmp);
    return rc;
}

const char *nsid_store_view_name(size_t i)
{
    const struct nsid__store_sql *v = nsid__store_view(i);
    return v ? v->name : NULL;
}
