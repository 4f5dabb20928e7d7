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
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "exp/store.h"
#include "store_int.h"
#include "base/infile.h"

#include <math.h>

/* ---- single values ------------------------------------------------------------------------ */

int nsid_store_only_run(struct nsid_store *st, char id[NSID_STORE_ID_MAX], int *status, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st, "SELECT id, status FROM runs LIMIT 2", &s, err);
    if (rc < 0) return rc;
    int n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n++ == 0) {
            snprintf(id, NSID_STORE_ID_MAX, "%s", (const char *)sqlite3_column_text(s, 0));
            *status = nsid_store_run_status_parse((const char *)sqlite3_column_text(s, 1));
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
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st,
                                 "SELECT value FROM metrics WHERE run_id = ?1 AND scan = 'all'"
                                 " AND split = 'validation' AND name = 'corr'",
                                 &s, err);
    if (rc < 0) return rc;
    sqlite3_bind_text(s, 1, run_id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(s);
    int out = 0;
    if (rc == SQLITE_ROW) /* NULL: recorded as undefined (docs/reliability.md "Undefined metrics") */
        *score = sqlite3_column_type(s, 0) == SQLITE_NULL ? (double)NAN : sqlite3_column_double(s, 0);
    else if (rc == SQLITE_DONE)
        out = nsid_err_set(err, NSID_ENOTFOUND, st->path, 0, run_id,
                           "no validation score (metric scan 'all', split 'validation', name 'corr')");
    else out = nsid__store_fail(st, "metrics", err);
    sqlite3_finalize(s);
    return out;
}

int nsid_store_parent_of(const char *ckpt, char id[NSID_STORE_ID_MAX], struct nsid_err *err)
{
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
/*
 * What a merge does with a run id that both the source and the store hold (docs/experiments.md,
 * "Merging"): it is the same run when its identity (runs.config, parent, seed, seeds and
 * run_datasets: which scan, by content hash, at which position, with how many training images
 * and neurons used) is equal and every result row both hold (metrics, neuron_metrics, epochs
 * without their wall time) has equal values. Then rows the source adds (a later evaluation) are
 * inserted and nothing is replaced; anything else is refused naming both files.
 */

/* The tables a merge copies; key: the column that identifies a row's run (or dataset). */
static const struct {
    const char *table;
    const char *key;
} COPIED[] = {
    {"runs", "id"},          {"epochs", "run_id"},       {"metrics", "run_id"},   {"neuron_metrics", "run_id"},
    {"artifacts", "run_id"}, {"run_datasets", "run_id"}, {"datasets", "sha256"},
};
#define N_COPIED (sizeof COPIED / sizeof COPIED[0])

/* An error of a statement that reads the source: reported against the source file. */
static int src_fail(struct nsid_store *st, const char *run_db, const char *what, struct nsid_err *err)
{
    int rc = nsid__store_fail(st, what, err);
    snprintf(err->file, sizeof err->file, "%s", run_db);
    return rc;
}

/* Status of run id in schema db ("main" or "src"); *found = false if absent. */
static int run_state(struct nsid_store *st, const char *schema, const char *id, int *status, bool *found,
                     struct nsid_err *err)
{
    char sql[160], *name = NULL;
    snprintf(sql, sizeof sql, "SELECT status FROM %s.runs WHERE id = ?1", schema);
    int rc = nsid__store_text(st, "runs", sql, NSID__STORE_VALS(NSID__SV_T(id)), 1, &name, err);
    *found = name != NULL;
    if (name) *status = nsid_store_run_status_parse(name);
    nsid_alloc_free(name);
    return rc;
}

/* Run one statement with ?1 bound to id (and ?2 to text2 if not NULL). */
static int exec_id(struct nsid_store *st, const char *sql, const char *id, const char *text2, const char *what,
                   struct nsid_err *err)
{
    return nsid__store_write(st, what, sql, NSID__STORE_VALS(NSID__SV_T(id), NSID__SV_T(text2)), text2 ? 2 : 1, err);
}

/*
 * The first column of the first row of sql (?1 = id unless id is NULL) as text, into a new
 * sqlite3_mprintf string *out (NULL: no row, or a NULL value).
 */
static int first_text(struct nsid_store *st, const char *sql, const char *id, char **out, struct nsid_err *err)
{
    char *text = NULL;
    int rc = nsid__store_text(st, "merge", sql, NSID__STORE_VALS(NSID__SV_T(id)), id ? 1 : 0, &text, err);
    *out = text ? sqlite3_mprintf("%s", text) : NULL;
    nsid_alloc_free(text);
    return rc;
}

/*
 * SQL built from the store's own columns of table (main's schema; the source's may be in another
 * order): the SQL expression piece is evaluated per row of pragma_table_info(table) (name, type,
 * notnull, pk) filtered by where, and the results joined with sep. A sqlite3_mprintf string or NULL.
 */
static char *columns_sql(struct nsid_store *st, const char *table, const char *piece, const char *sep,
                         const char *where, struct nsid_err *err)
{
    char *sql = sqlite3_mprintf("SELECT group_concat(%s, '%q') FROM pragma_table_info('%q') %s", piece, sep, table,
                                where ? where : "");
    char *out = NULL;
    if (sql) first_text(st, sql, NULL, &out, err);
    sqlite3_free(sql);
    return out;
}

/* "a", "b", ... : every column of the store's table, quoted. */
static char *column_list(struct nsid_store *st, const char *table, struct nsid_err *err)
{
    return columns_sql(st, table, "'\"' || name || '\"'", ", ", NULL, err);
}

/* ---- checking a source ------------------------------------------------------------------------ */

/* One integer of a query on the attached src (false if it cannot be read: err says why). */
static bool src_int(struct nsid_store *st, const char *sql, int *v, struct nsid_err *err)
{
    char *text = NULL;
    bool ok = nsid__store_text(st, "merge", sql, NULL, 0, &text, err) == 0 && text;
    if (ok) *v = atoi(text);
    nsid_alloc_free(text);
    return ok;
}

/* Every column the store has in table must exist in the source's. */
static int check_src_columns(struct nsid_store *st, const char *run_db, const char *table, struct nsid_err *err)
{
    char *sql = sqlite3_mprintf("SELECT m.name FROM pragma_table_info('%q') m WHERE m.name NOT IN"
                                " (SELECT s.name FROM pragma_table_info('%q', 'src') s) ORDER BY m.cid LIMIT 1",
                                table, table);
    char *missing = NULL;
    int rc = sql ? first_text(st, sql, NULL, &missing, err) : nsid__store_fail(st, table, err);
    sqlite3_free(sql);
    if (rc < 0) return src_fail(st, run_db, table, err);
    if (missing) {
        char where[NSID_ERR_KEY_MAX];
        snprintf(where, sizeof where, "%.100s.%.100s", table, missing);
        rc = nsid_err_set(err, NSID_EFORMAT, run_db, 0, where,
                          "table %s has no column '%.100s' (not an nsid run database of a known schema)", table,
                          missing);
    }
    sqlite3_free(missing);
    return rc;
}

/*
 * The condition under which a value of column name (declared type, NOT NULL or not) of table
 * does not fit the store's schema, as a sqlite3_mprintf string.
 */
static char *bad_value_sql(const char *table, const char *name, const char *type, bool notnull)
{
    const char *allowed = strcmp(type, "INTEGER") == 0 ? "'integer', " : strcmp(type, "REAL") == 0 ? "'integer', 'real', "
                                                                                                      : "'text', ";
    char *nn = notnull ? sqlite3_mprintf("\"%w\" IS NULL OR ", name) : sqlite3_mprintf("%s", "");
    bool status = strcmp(table, "runs") == 0 && strcmp(name, "status") == 0;
    char *c = sqlite3_mprintf("%stypeof(\"%w\") NOT IN (%s'null')%s", nn ? nn : "", name, allowed,
                              status ? " OR \"status\" NOT IN ('planned', 'running', 'done', 'failed')" : "");
    sqlite3_free(nn);
    return c;
}

/*
 * The values of the source's table must have the store's types: INTEGER columns integers,
 * REAL columns numbers, TEXT columns text (NULL where allowed), status one of the four names.
 * A source of schema < 5 is not STRICT and may hold 'abc' in metrics.value; the store's STRICT
 * tables would refuse it too, but naming the store. The first bad value is reported with the
 * source file, table.column, the row's run (or dataset) and the value.
 */
static int check_src_types(struct nsid_store *st, const char *run_db, const char *table, const char *key,
                           struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(st, "SELECT name, upper(type), \"notnull\" FROM pragma_table_info(?1)", &s, err);
    if (rc < 0) return rc;
    sqlite3_bind_text(s, 1, table, -1, SQLITE_TRANSIENT);
    sqlite3_str *conds = sqlite3_str_new(st->db), *names = sqlite3_str_new(st->db);
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        char *c = bad_value_sql(table, name, (const char *)sqlite3_column_text(s, 1), sqlite3_column_int(s, 2) != 0);
        if (!c) break;
        sqlite3_str_appendf(conds, "%s(%s)", n++ ? " OR " : "", c);
        sqlite3_str_appendf(names, " WHEN %s THEN %Q || char(9) || typeof(\"%w\") || char(9) || coalesce(quote(\"%w\"), '')",
                            c, name, name, name);
        sqlite3_free(c);
    }
    sqlite3_finalize(s);
    char *cond = sqlite3_str_finish(conds), *name = sqlite3_str_finish(names);
    char *sql = cond && name && n ? sqlite3_mprintf("SELECT CASE%s END || char(9) || coalesce(\"%w\", 'NULL')"
                                                    " FROM src.\"%w\" WHERE %s LIMIT 1",
                                                    name, key, table, cond)
                                  : NULL;
    sqlite3_free(cond);
    sqlite3_free(name);
    char *found = NULL;
    rc = sql ? first_text(st, sql, NULL, &found, err) : nsid__store_fail(st, table, err);
    sqlite3_free(sql);
    if (rc < 0) return src_fail(st, run_db, table, err);
    if (!found) return 0;
    const char *f[4] = {found, "", "", ""};
    for (int i = 1; i < 4; i++) {
        char *tab = strchr(f[i - 1], '\t');
        if (!tab) break;
        *tab = '\0';
        f[i] = tab + 1;
    }
    char where[NSID_ERR_KEY_MAX];
    snprintf(where, sizeof where, "%.100s.%.100s", table, f[0]);
    if (strcmp(f[0], "status") == 0 && strcmp(f[1], "text") == 0)
        rc = nsid_err_set(err, NSID_EFORMAT, run_db, 0, where, "%s %.100s: status %.100s is not planned, running, done"
                          " or failed", key, f[3], f[2]);
    else if (strcmp(f[1], "null") == 0)
        rc = nsid_err_set(err, NSID_EFORMAT, run_db, 0, where, "%s %.100s: NULL where the store's column is NOT NULL",
                          key, f[3]);
    else
        rc = nsid_err_set(err, NSID_EFORMAT, run_db, 0, where, "%s %.100s: a %s value %.200s where the store's column"
                          " is typed (schema %d refuses it)", key, f[3], f[1], f[2], NSID_STORE_SCHEMA_VERSION);
    sqlite3_free(found);
    return rc;
}

/* No two rows of the source's table may share the store's primary key (a table without one). */
static int check_src_unique(struct nsid_store *st, const char *run_db, const char *table, struct nsid_err *err)
{
    char *cols = columns_sql(st, table, "'\"' || name || '\"'", ", ", "WHERE pk > 0", err);
    char *text =
        columns_sql(st, table, "'coalesce(\"' || name || '\", ''NULL'')'", " || '/' || ", "WHERE pk > 0", err);
    char *sql = cols && text ? sqlite3_mprintf("SELECT %s FROM src.\"%w\" GROUP BY %s HAVING count(*) > 1 LIMIT 1",
                                               text, table, cols)
                             : NULL;
    char *dup = NULL;
    int rc = sql ? first_text(st, sql, NULL, &dup, err) : nsid__store_fail(st, table, err);
    sqlite3_free(cols);
    sqlite3_free(text);
    sqlite3_free(sql);
    if (rc < 0) return src_fail(st, run_db, table, err);
    if (dup) rc = nsid_err_set(err, NSID_EFORMAT, run_db, 0, table, "two rows with the key %.200s", dup);
    sqlite3_free(dup);
    return rc;
}

/*
 * Check that the attached src is an nsid store of a known version whose copied tables have the
 * store's columns and types. Every failure names run_db (never the store). NSID_ENOTFOUND: src
 * is empty (a stage that has not committed its schema yet, or an empty file). Its user_version
 * is read with "PRAGMA src.user_version": "src.pragma_user_version" would read the main
 * database's.
 */
static int check_src(struct nsid_store *st, const char *run_db, struct nsid_err *err)
{
    int tables = 0, objects = 0, version = 0;
    if (!src_int(st, "SELECT count(*) FROM src.sqlite_master", &objects, err) ||
        !src_int(st,
                 "SELECT count(*) FROM src.sqlite_master WHERE type = 'table' AND name IN"
                 " ('runs', 'epochs', 'metrics', 'neuron_metrics', 'artifacts', 'run_datasets', 'datasets')",
                 &tables, err) ||
        !src_int(st, "PRAGMA src.user_version", &version, err))
        return src_fail(st, run_db, "merge", err); /* a file that is not SQLite, or a damaged one */
    if (objects == 0 && version == 0) /* a run whose stage has not committed its schema yet */
        return nsid_err_set(err, NSID_ENOTFOUND, run_db, 0, "merge", "an empty database (a run not started yet?)");
    if (tables != (int)N_COPIED || version < 1)
        return nsid_err_set(err, NSID_EFORMAT, run_db, 0, "merge", "not an nsid run database (no nsid schema)");
    if (version > NSID_STORE_SCHEMA_VERSION)
        return nsid_err_set(err, NSID_EFORMAT, run_db, 0, "merge", "schema version %d is newer than this nsid's %d",
                            version, NSID_STORE_SCHEMA_VERSION);
    for (size_t i = 0; i < N_COPIED; i++) {
        int rc = check_src_columns(st, run_db, COPIED[i].table, err);
        if (rc == 0) rc = check_src_types(st, run_db, COPIED[i].table, COPIED[i].key, err);
        if (rc == 0) rc = check_src_unique(st, run_db, COPIED[i].table, err);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---- comparing a run of the source with the store's --------------------------------------------- */

/* Result tables compared row by row; skip: a column that is not content (wall time). */
static const struct {
    const char *table;
    const char *skip;
} RESULTS[] = {{"metrics", ""}, {"neuron_metrics", ""}, {"epochs", "seconds"}};

enum same_run { SAME_RUN, SAME_RUN_MORE_ROWS, OTHER_RUN };

/* The first difference of identity of run id between src and main, a sqlite3_mprintf string or NULL. */
static int identity_difference(struct nsid_store *st, const char *id, char **diff, struct nsid_err *err)
{
    int rc = first_text(st,
                        "SELECT CASE WHEN s.config IS NOT m.config THEN 'its configuration (runs.config)'"
                        " WHEN s.parent IS NOT m.parent THEN 'its parent run: ' || coalesce(s.parent, 'none')"
                        " || ' here, ' || coalesce(m.parent, 'none') || ' in the store'"
                        " WHEN s.seed IS NOT m.seed OR s.seeds IS NOT m.seeds THEN 'its seeds: '"
                        " || coalesce(s.seeds, 'none') || ' here, ' || coalesce(m.seeds, 'none') || ' in the store' END"
                        " FROM src.runs s, main.runs m WHERE s.id = ?1 AND m.id = ?1",
                        id, diff, err);
    if (rc < 0 || *diff) return rc;
    return first_text(st,
                      "WITH a AS (SELECT position, dataset, n_train, n_neurons FROM src.run_datasets WHERE run_id = ?1),"
                      " b AS (SELECT position, dataset, n_train, n_neurons FROM main.run_datasets WHERE run_id = ?1),"
                      " d AS (SELECT position FROM (SELECT * FROM a EXCEPT SELECT * FROM b)"
                      " UNION SELECT position FROM (SELECT * FROM b EXCEPT SELECT * FROM a))"
                      " SELECT 'its data at scan position ' || d.position || ': '"
                      " || coalesce((SELECT dataset || ' (' || coalesce(n_train, '?') || ' images, '"
                      " || coalesce(n_neurons, '?') || ' neurons)' FROM a WHERE a.position = d.position), 'none')"
                      " || ' here, ' || coalesce((SELECT dataset || ' (' || coalesce(n_train, '?') || ' images, '"
                      " || coalesce(n_neurons, '?') || ' neurons)' FROM b WHERE b.position = d.position), 'none')"
                      " || ' in the store' FROM d ORDER BY d.position LIMIT 1",
                      id, diff, err);
}

/* The first row of table both hold for run id with other values (a sqlite3_mprintf string or NULL). */
static int result_difference(struct nsid_store *st, const char *id, const char *table, const char *skip,
                             char **diff, struct nsid_err *err)
{
    char *others = sqlite3_mprintf("WHERE pk = 0 AND name <> '%q'", skip);
    char *keys = columns_sql(st, table, "'s.\"' || name || '\" = m.\"' || name || '\"'", " AND ",
                             "WHERE pk > 0 AND name <> 'run_id'", err);
    char *keytext = columns_sql(st, table, "'coalesce(s.\"' || name || '\", '''')'", " || '/' || ",
                                "WHERE pk > 0 AND name <> 'run_id'", err);
    char *cmp = others ? columns_sql(st, table, "'s.\"' || name || '\" IS NOT m.\"' || name || '\"'", " OR ",
                                     others, err)
                       : NULL;
    char *show = others ? columns_sql(st, table,
                                      "'CASE WHEN s.\"' || name || '\" IS NOT m.\"' || name || '\" THEN ''' || name"
                                      " || ' '' || quote(s.\"' || name || '\") || '' here, '' || quote(m.\"' || name"
                                      " || '\") || '' in the store'' END'",
                                      ", ", others, err)
                        : NULL;
    char *sql = keys && keytext && cmp && show
                    ? sqlite3_mprintf("SELECT '%q ' || %s || ': ' || coalesce(%s, '') FROM src.\"%w\" s"
                                      " JOIN main.\"%w\" m ON %s WHERE s.run_id = ?1 AND m.run_id = ?1 AND (%s) LIMIT 1",
                                      table, keytext, show, table, table, keys, cmp)
                    : NULL;
    int rc = sql ? first_text(st, sql, id, diff, err) : nsid__store_fail(st, table, err);
    sqlite3_free(others);
    sqlite3_free(keys);
    sqlite3_free(keytext);
    sqlite3_free(cmp);
    sqlite3_free(show);
    sqlite3_free(sql);
    return rc;
}

/* Tables whose rows of a finished run a later stage may add to (an evaluation). */
static const char *const ADDABLE[] = {"metrics", "neuron_metrics", "epochs", "artifacts"};

/* The number of rows of run id that src has and main lacks, in the ADDABLE tables. */
static int rows_to_add(struct nsid_store *st, const char *id, int64_t *n, struct nsid_err *err)
{
    *n = 0;
    for (size_t i = 0; i < sizeof ADDABLE / sizeof ADDABLE[0]; i++) {
        const char *t = ADDABLE[i];
        char *keys = columns_sql(st, t, "'s.\"' || name || '\" = m.\"' || name || '\"'", " AND ",
                                 "WHERE pk > 0 AND name <> 'run_id'", err);
        char *sql = keys ? sqlite3_mprintf("SELECT count(*) FROM src.\"%w\" s WHERE s.run_id = ?1 AND NOT EXISTS"
                                           " (SELECT 1 FROM main.\"%w\" m WHERE m.run_id = ?1 AND %s)",
                                           t, t, keys)
                         : NULL;
        sqlite3_free(keys);
        char *count = NULL;
        int rc = sql ? first_text(st, sql, id, &count, err) : nsid__store_fail(st, t, err);
        sqlite3_free(sql);
        if (count) *n += atoll(count);
        sqlite3_free(count);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Where the store's copy of run id came from, "SOURCE (merged TIME)", or that it is not recorded. */
static void origin(struct nsid_store *st, const char *id, char *buf, size_t n)
{
    char *o = NULL;
    struct nsid_err ignore = {0};
    first_text(st, "SELECT path || ' at ' || merged FROM main.run_sources WHERE run_id = ?1", id, &o, &ignore);
    snprintf(buf, n, "%s", o ? o : "a source it does not record");
    sqlite3_free(o);
}

/* Is run id, done in src and main, the store's run (with more rows or not), or another run (an error)? */
static int compare_run(struct nsid_store *st, const char *run_db, const char *id, enum same_run *same,
                       struct nsid_err *err)
{
    char *diff = NULL;
    *same = OTHER_RUN;
    int rc = identity_difference(st, id, &diff, err);
    for (size_t i = 0; rc == 0 && !diff && i < sizeof RESULTS / sizeof RESULTS[0]; i++)
        rc = result_difference(st, id, RESULTS[i].table, RESULTS[i].skip, &diff, err);
    if (rc < 0) {
        size_t k = strlen(err->msg);
        snprintf(err->msg + k, sizeof err->msg - k, " (comparing run %s of %s)", id, run_db);
        return rc;
    }
    if (diff) {
        char from[NSID_ERR_FILE_MAX + 64];
        origin(st, id, from, sizeof from);
        rc = nsid_err_set(err, NSID_EINVAL, run_db, 0, id,
                          "run %s is done here and in the store %s (merged from %s) with other content: %.300s;"
                          " a merge never replaces a finished run (give the runs distinct ids, or delete the"
                          " store's copy first)",
                          id, st->path, from, diff);
        sqlite3_free(diff);
        return rc;
    }
    int64_t more = 0;
    rc = rows_to_add(st, id, &more, err);
    *same = more > 0 ? SAME_RUN_MORE_ROWS : SAME_RUN;
    return rc;
}

/* ---- copying ------------------------------------------------------------------------------------ */

/* verb INTO main.table (columns) SELECT columns FROM src.table WHERE where (?1 = id). */
static int copy_rows(struct nsid_store *st, const char *table, const char *verb, const char *where, const char *id,
                     struct nsid_err *err)
{
    char *cols = column_list(st, table, err);
    char *sql = cols ? sqlite3_mprintf("%s INTO main.\"%w\" (%s) SELECT %s FROM src.\"%w\" WHERE %s", verb, table,
                                       cols, cols, table, where)
                     : NULL;
    int rc = sql ? exec_id(st, sql, id, NULL, table, err) : nsid__store_fail(st, table, err);
    sqlite3_free(cols);
    sqlite3_free(sql);
    return rc;
}

static const char DATASETS_WHERE[] =
    "sha256 IN (SELECT dataset FROM src.run_datasets WHERE run_id = ?1) AND true"
    " ON CONFLICT (sha256) DO UPDATE SET data_key = coalesce(excluded.data_key, datasets.data_key),"
    " animal = coalesce(datasets.animal, excluded.animal), image_set = coalesce(datasets.image_set, excluded.image_set),"
    " bytes = coalesce(excluded.bytes, datasets.bytes), n_neurons = coalesce(excluded.n_neurons, datasets.n_neurons),"
    " n_trials = coalesce(excluded.n_trials, datasets.n_trials), n_train = coalesce(excluded.n_train, datasets.n_train),"
    " n_validation = coalesce(excluded.n_validation, datasets.n_validation),"
    " n_test = coalesce(excluded.n_test, datasets.n_test)";

static const char EXPERIMENT_FROM_PLAN[] =
    "UPDATE main.runs SET experiment = coalesce((SELECT p.experiment FROM main.plan_runs p WHERE p.id = ?1"
    " ORDER BY p.experiment LIMIT 1), '') WHERE id = ?1 AND experiment = ''";

static const char *const CHILDREN[] = {"epochs", "metrics", "neuron_metrics", "artifacts", "run_datasets"};

/* A finished run the store does not hold finished: every record copied, its source recorded. */
static int copy_done(struct nsid_store *st, const char *run_db, const char *id, struct nsid_err *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof CHILDREN / sizeof CHILDREN[0]; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "DELETE FROM main.%s WHERE run_id = ?1", CHILDREN[i]);
        rc = exec_id(st, sql, id, NULL, CHILDREN[i], err);
    }
    if (rc == 0) rc = copy_rows(st, "runs", "INSERT OR REPLACE", "id = ?1", id, err);
    for (size_t i = 0; rc == 0 && i < sizeof CHILDREN / sizeof CHILDREN[0]; i++)
        rc = copy_rows(st, CHILDREN[i], "INSERT", "run_id = ?1", id, err);
    if (rc == 0) rc = copy_rows(st, "datasets", "INSERT", DATASETS_WHERE, id, err);
    if (rc == 0) rc = exec_id(st, EXPERIMENT_FROM_PLAN, id, NULL, "experiment", err);
    char abs[PATH_MAX];
    const char *from = realpath(run_db, abs) ? abs : run_db;
    if (rc == 0)
        rc = exec_id(st,
                     "INSERT OR REPLACE INTO main.run_sources (run_id, path, merged)"
                     " VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                     id, from, "run_sources", err);
    return rc;
}

/* The store's finished run gains the rows a later stage of the same run added. */
static int copy_more_rows(struct nsid_store *st, const char *id, struct nsid_err *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof ADDABLE / sizeof ADDABLE[0]; i++)
        rc = copy_rows(st, ADDABLE[i], "INSERT OR IGNORE", "run_id = ?1", id, err);
    if (rc == 0) rc = copy_rows(st, "datasets", "INSERT", DATASETS_WHERE, id, err);
    return rc;
}

/* A run that is not done: its runs row only, and never over a finished one. */
static int copy_unfinished(struct nsid_store *st, const char *id, struct nsid_err *err)
{
    int rc = copy_rows(st, "runs", "INSERT OR REPLACE", "id = ?1", id, err);
    if (rc == 0) rc = exec_id(st, EXPERIMENT_FROM_PLAN, id, NULL, "experiment", err);
    return rc;
}

/* Is run id done in both src and main, the same run with nothing to add? (Without the write lock.) */
static int already_merged(struct nsid_store *st, const char *run_db, const char *id, bool *same,
                          struct nsid_err *err)
{
    int a = -1, b = -1;
    bool fa = false, fb = false;
    *same = false;
    int rc = run_state(st, "src", id, &a, &fa, err);
    if (rc < 0) return src_fail(st, run_db, "runs", err);
    rc = run_state(st, "main", id, &b, &fb, err);
    if (rc < 0 || !(fa && fb && a == NSID_RUN_DONE && b == NSID_RUN_DONE)) return rc;
    enum same_run verdict = OTHER_RUN;
    struct nsid_err ignore = {0}; /* a difference is reported under the write lock */
    if (compare_run(st, run_db, id, &verdict, &ignore) == 0) *same = verdict == SAME_RUN;
    return 0;
}

/*
 * Carry the tags and notes src holds for run id over (schema 6: run_tags, run_notes; an older
 * source has none): rows the store lacks are added, the store's own are never replaced or
 * dropped. *pending (if not NULL) only counts them, without writing.
 */
static int carry_annotations(struct nsid_store *st, const char *id, int64_t *pending, struct nsid_err *err)
{
    static const char *const TABLES[][2] = {
        {"run_tags", "src.run_tags s WHERE s.run_id = ?1 AND NOT EXISTS (SELECT 1 FROM main.run_tags m"
                     " WHERE m.run_id = ?1 AND m.key = s.key)"},
        {"run_notes", "src.run_notes s WHERE s.run_id = ?1 AND NOT EXISTS (SELECT 1 FROM main.run_notes m"
                      " WHERE m.run_id = ?1 AND m.created = s.created AND m.text = s.text)"},
    };
    int rc = 0;
    if (pending) *pending = 0;
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        int has = 0;
        char *probe = sqlite3_mprintf("SELECT count(*) FROM src.sqlite_master WHERE type = 'table' AND name = '%q'",
                                      TABLES[i][0]);
        if (!probe) rc = nsid__store_fail(st, TABLES[i][0], err);
        else if (!src_int(st, probe, &has, err)) rc = err->code < 0 ? err->code : NSID_EINTERNAL;
        sqlite3_free(probe);
        if (rc < 0 || !has) continue;
        char *sql = pending ? sqlite3_mprintf("SELECT count(*) FROM %s", TABLES[i][1])
                            : sqlite3_mprintf("INSERT INTO main.%s SELECT s.* FROM %s", TABLES[i][0], TABLES[i][1]);
        char *count = NULL;
        if (!sql) rc = nsid__store_fail(st, TABLES[i][0], err);
        else if (pending) rc = first_text(st, sql, id, &count, err);
        else rc = exec_id(st, sql, id, NULL, TABLES[i][0], err);
        if (count) *pending += atoll(count);
        sqlite3_free(count);
        sqlite3_free(sql);
    }
    return rc;
}

/* Merge one run of the attached src in its own transaction. */
static int merge_run(struct nsid_store *st, const char *run_db, const char *id, struct nsid_store_merge_stats *stats,
                     struct nsid_err *err)
{
    bool same = false;
    int rc = already_merged(st, run_db, id, &same, err); /* most re-merges stop here */
    if (rc < 0) return rc;
    int64_t pending = 0;
    if (same && (rc = carry_annotations(st, id, &pending, err)) == 0 && pending == 0) {
        stats->unchanged++;
        return 0;
    }
    if (rc < 0) return rc;
    rc = nsid__store_exec(st, "BEGIN IMMEDIATE", "BEGIN IMMEDIATE", err);
    if (rc < 0) return rc;
    int src_status = -1, main_status = -1;
    bool src_found = false, main_found = false;
    rc = run_state(st, "src", id, &src_status, &src_found, err);
    if (rc < 0) src_fail(st, run_db, "runs", err);
    if (rc == 0) rc = run_state(st, "main", id, &main_status, &main_found, err);
    bool main_done = main_found && main_status == NSID_RUN_DONE;
    if (rc == 0 && src_found) {
        if (src_status == NSID_RUN_DONE && main_done) {
            enum same_run verdict = OTHER_RUN;
            rc = compare_run(st, run_db, id, &verdict, err);
            if (rc == 0 && verdict == SAME_RUN) stats->unchanged++;
            if (rc == 0 && verdict == SAME_RUN_MORE_ROWS && (rc = copy_more_rows(st, id, err)) == 0)
                stats->extended++;
        } else if (src_status == NSID_RUN_DONE) {
            rc = copy_done(st, run_db, id, err);
            stats->merged++;
        } else {
            if (!main_done) rc = copy_unfinished(st, id, err);
            stats->unfinished++;
        }
    }
    if (rc == 0 && src_found) rc = carry_annotations(st, id, NULL, err);
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
    if (rc < 0) return src_fail(st, run_db, "runs", err);
    int64_t total = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    if (total < 0) return src_fail(st, run_db, "runs", err);
    if (total == 0) return 0;
    size_t bytes = nsid_alloc_mul_size((size_t)total, NSID_STORE_ID_MAX, err);
    if (bytes == 0) return NSID_ENOMEM;
    if (!(*ids = NSID_ALLOC(bytes, err))) return NSID_ENOMEM;
    rc = nsid__store_prepare(st, "SELECT id FROM src.runs ORDER BY id", &s, err);
    if (rc < 0) return src_fail(st, run_db, "runs", err);
    while (*n < total && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        if (!nsid_store_valid_id(id)) { /* the message first: finalizing frees the column text */
            nsid_err_set(err, NSID_EFORMAT, run_db, 0, "runs", "bad run id '%.80s'", id ? id : "");
            sqlite3_finalize(s);
            return NSID_EFORMAT;
        }
        snprintf((*ids)[(*n)++], NSID_STORE_ID_MAX, "%s", id);
    }
    int out = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : src_fail(st, run_db, "runs", err);
    sqlite3_finalize(s);
    return out;
}

int nsid_store_merge(struct nsid_store *into, const char *run_db, struct nsid_store_merge_stats *stats,
                     struct nsid_err *err)
{
    struct nsid_store_merge_stats ignore_stats = {0};
    if (!stats) stats = &ignore_stats;
    struct stat sb;
    if (stat(run_db, &sb) != 0) return nsid_err_set(err, NSID_ENOTFOUND, run_db, 0, "merge", "no such run database");
    if (nsid_infile_check(run_db, "merge", err) < 0) return err->code;
    if (!sqlite3_get_autocommit(into->db))
        return nsid_err_set(err, NSID_EINVAL, into->path, 0, "merge", "called inside a transaction");
    /* a source this process cannot write (a read-only mount) is attached read-only, immutable if it can be */
    char uri[3 * NSID_ERR_FILE_MAX + 64];
    const char *query = access(run_db, W_OK) == 0 ? NULL : nsid__store_ro_query(run_db);
    if (nsid__store_uri(run_db, query, uri, sizeof uri) < 0)
        return nsid_err_set(err, NSID_EINVAL, run_db, 0, "merge", "path too long");
    int rc = NSID__STORE_WRITE(into, "attach", "ATTACH DATABASE ?1 AS src", err, NSID__SV_T(uri));
    if (rc < 0) {
        snprintf(err->file, sizeof err->file, "%s", run_db);
        return rc;
    }
    char (*list)[NSID_STORE_ID_MAX] = NULL;
    int64_t n = 0;
    rc = check_src(into, run_db, err);
    if (rc == 0) rc = src_ids(into, run_db, &list, &n, err);
    for (int64_t i = 0; rc == 0 && i < n; i++) rc = merge_run(into, run_db, list[i], stats, err);
    nsid_alloc_free(list);
    int detached = nsid__store_exec(into, "DETACH DATABASE src", "detach", err); /* the first error wins */
    return rc < 0 ? rc : detached;
}

int nsid_store_merge_plan(struct nsid_store *into, const char *runs_dir, struct nsid_store_merge_stats *stats,
                          struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = nsid__store_prepare(into, "SELECT count(DISTINCT id) FROM plan_runs", &s, err);
    if (rc < 0) return rc;
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    if (n < 0) return nsid__store_fail(into, "plan_runs", err);
    if (n == 0) return 0;
    size_t bytes = nsid_alloc_mul_size((size_t)n, NSID_STORE_ID_MAX, err);
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
            nsid_err_clear(err);
            rc = 0;
            if (stats) stats->unfinished++;
        }
    }
    nsid_alloc_free(ids);
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
        if (status < 0) status = stored ? nsid_store_run_status_parse(stored) : NSID_RUN_PLANNED;
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
    return nsid__store_true(st, "sqlite_master",
                            "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?1", name, exists,
                            err);
}

int nsid_store_export_csv(struct nsid_store *st, const char *name, const char *path, int64_t *rows,
                          struct nsid_err *err)
{
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
