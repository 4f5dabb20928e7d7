/*
 * store.c - the results store: opening (schema, views), transactions and the writes a
 * stage makes to its run.db. Reading, merging and export are in store_merge.c.
 */
#include "exp/store.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/version.h"
#include "data/scanid.h"
#include "store_int.h"
#include "base/infile.h"

/* ---- status names -------------------------------------------------------------------- */

static const char *const STATUS_NAMES[NSID_RUN_N_STATUS] = {"planned", "running", "done", "failed"};

const char *nsid_store_run_status_name(int status)
{
    return status >= 0 && status < NSID_RUN_N_STATUS ? STATUS_NAMES[status] : "?";
}

int nsid_store_run_status_parse(const char *name)
{
    for (int i = 0; name && i < NSID_RUN_N_STATUS; i++)
        if (strcmp(name, STATUS_NAMES[i]) == 0) return i;
    return -1;
}

bool nsid_store_valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= NSID_STORE_ID_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

/* ---- shared helpers ------------------------------------------------------------------ */

/* The connection's last error, with sql (the statement at fault, NULL: none) after SQLite's message. */
static int fail_sql(const struct nsid_store *st, const char *what, const char *sql, struct nsid_err *err)
{
    int ec = st->db ? sqlite3_errcode(st->db) : SQLITE_ERROR;
    int code = (ec == SQLITE_NOTADB || ec == SQLITE_CORRUPT) ? NSID_EFORMAT : NSID_EIO;
    const char *msg = st->db ? sqlite3_errmsg(st->db) : "database is not open";
    /* SQLite's "disk I/O error" does not say why: add the system's reason (a full disk) */
    int sys = st->db && (ec == SQLITE_IOERR || ec == SQLITE_FULL || ec == SQLITE_CANTOPEN) ? sqlite3_system_errno(st->db)
                                                                                          : 0;
    char in[128] = "";
    if (sql) snprintf(in, sizeof in, " (in: %.80s%s)", sql, strlen(sql) > 80 ? "..." : "");
    if (sys) return nsid_err_set(err, code, st->path, 0, what, "%s (%s)%s", msg, strerror(sys), in);
    return nsid_err_set(err, code, st->path, 0, what, "%s%s", msg, in);
}

int nsid__store_fail(const struct nsid_store *st, const char *what, struct nsid_err *err)
{
    return fail_sql(st, what, NULL, err);
}

int nsid__store_exec(struct nsid_store *st, const char *sql, const char *what, struct nsid_err *err)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) return nsid__store_fail(st, what, err);
    return 0;
}

int nsid__store_prepare(struct nsid_store *st, const char *sql, sqlite3_stmt **s, struct nsid_err *err)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, s, NULL) != SQLITE_OK) {
        *s = NULL;
        return nsid__store_fail(st, "prepare", err);
    }
    return 0;
}

int nsid__store_tx_begin(struct nsid_store *st, bool *own, struct nsid_err *err)
{
    *own = false;
    if (!sqlite3_get_autocommit(st->db)) return 0;
    int rc = nsid__store_exec(st, "BEGIN IMMEDIATE", "BEGIN IMMEDIATE", err);
    if (rc < 0) return rc;
    *own = true;
    return 0;
}

int nsid__store_tx_end(struct nsid_store *st, bool own, int rc, struct nsid_err *err)
{
    if (!own) return rc;
    if (rc < 0) {
        nsid_store_rollback(st);
        return rc;
    }
    rc = nsid__store_exec(st, "COMMIT", "COMMIT", err);
    if (rc < 0) nsid_store_rollback(st);
    return rc;
}

struct nsid__store_val nsid__store_val_text_or_null(const char *v)
{
    return (struct nsid__store_val){.type = v && v[0] ? NSID__SV_TEXT : NSID__SV_NULL, .text = v};
}

struct nsid__store_val nsid__store_val_int_or_null(int64_t v)
{
    return (struct nsid__store_val){.type = v ? NSID__SV_INT : NSID__SV_NULL, .i = v};
}

static int bind_val(sqlite3_stmt *s, int i, const struct nsid__store_val *v)
{
    switch (v->type) {
    case NSID__SV_TEXT:
        return v->text ? sqlite3_bind_text(s, i, v->text, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
    case NSID__SV_INT: return sqlite3_bind_int64(s, i, (sqlite3_int64)v->i);
    case NSID__SV_REAL: return isnan(v->d) ? sqlite3_bind_null(s, i) : sqlite3_bind_double(s, i, v->d);
    default: return sqlite3_bind_null(s, i);
    }
}

/* Bind v[0..n-1] to ?1..?n; SQLite's error if a value does not fit (too many, no memory). */
static int bind_vals(sqlite3_stmt *s, const struct nsid__store_val *v, int n)
{
    for (int i = 0; i < n; i++) {
        int rc = bind_val(s, i + 1, &v[i]);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

static int stmt_fail(struct nsid_store *st, const char *table, const char *sql, struct nsid_err *err)
{
    return fail_sql(st, table, sql, err);
}

int nsid__store_stmt_init(struct nsid__store_stmt *w, struct nsid_store *st, const char *table, const char *sql,
                          struct nsid_err *err)
{
    *w = (struct nsid__store_stmt){.st = st, .table = table, .sql = sql};
    if (sqlite3_prepare_v2(st->db, sql, -1, &w->s, NULL) == SQLITE_OK) return 0;
    w->s = NULL;
    return stmt_fail(st, table, sql, err);
}

int nsid__store_stmt_run(struct nsid__store_stmt *w, const struct nsid__store_val *v, int n, struct nsid_err *err)
{
    int rc = bind_vals(w->s, v, n) == SQLITE_OK && sqlite3_step(w->s) == SQLITE_DONE
                 ? 0
                 : stmt_fail(w->st, w->table, w->sql, err);
    sqlite3_reset(w->s);
    sqlite3_clear_bindings(w->s);
    return rc;
}

void nsid__store_stmt_free(struct nsid__store_stmt *w)
{
    if (w->s) sqlite3_finalize(w->s);
    w->s = NULL;
}

int nsid__store_write(struct nsid_store *st, const char *table, const char *sql, const struct nsid__store_val *v,
                      int n, struct nsid_err *err)
{
    struct nsid__store_stmt w;
    int rc = nsid__store_stmt_init(&w, st, table, sql, err);
    if (rc == 0) rc = nsid__store_stmt_run(&w, v, n, err);
    nsid__store_stmt_free(&w);
    return rc;
}

int nsid__store_tx(struct nsid_store *st, nsid__store_body body, const void *arg, struct nsid_err *err)
{
    bool own = false;
    int rc = nsid__store_tx_begin(st, &own, err);
    if (rc < 0) return rc;
    return nsid__store_tx_end(st, own, body(st, arg, err), err);
}

int nsid__store_text(struct nsid_store *st, const char *what, const char *sql, const struct nsid__store_val *v, int n,
                     char **out, struct nsid_err *err)
{
    *out = NULL;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return stmt_fail(st, what, sql, err);
    int rc = bind_vals(s, v, n) == SQLITE_OK ? sqlite3_step(s) : SQLITE_ERROR;
    int ret = 0;
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        size_t len = t ? strlen(t) : 0;
        *out = t ? NSID_ALLOC(len + 1, err) : NULL;
        if (*out) memcpy(*out, t, len + 1);
        else ret = NSID_ENOMEM;
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = stmt_fail(st, what, sql, err);
    sqlite3_finalize(s);
    return ret;
}

int nsid__store_true(struct nsid_store *st, const char *what, const char *sql, const char *arg, bool *yes,
                     struct nsid_err *err)
{
    char *v = NULL;
    int rc = nsid__store_text(st, what, sql, NSID__STORE_VALS(NSID__SV_T(arg)), 1, &v, err);
    *yes = v && strcmp(v, "0") != 0;
    nsid_alloc_free(v);
    return rc;
}

int nsid__store_print(struct nsid_store *st, const char *what, const char *sql, const struct nsid__store_val *v, int n,
                      const char *prefix, FILE *out, int64_t *rows, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    if (rows) *rows = 0;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return stmt_fail(st, what, sql, err);
    int rc = bind_vals(s, v, n) == SQLITE_OK ? SQLITE_ROW : SQLITE_ERROR;
    int64_t k = 0;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        fputs(prefix, out);
        for (int i = 0; i < sqlite3_column_count(s); i++) {
            const char *t = (const char *)sqlite3_column_text(s, i);
            fprintf(out, "%s%s", i ? "  " : "", t ? t : "-");
        }
        fputc('\n', out);
        k++;
    }
    int ret = rc == SQLITE_DONE ? 0 : stmt_fail(st, what, sql, err);
    sqlite3_finalize(s);
    if (rows) *rows = k;
    return ret;
}

/* ---- opening --------------------------------------------------------------------------- */

/* A C sqrt for SQLite builds without the math functions (the views use it). */
static void sql_sqrt(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    double x = sqlite3_value_double(argv[0]);
    if (x < 0) sqlite3_result_null(ctx);
    else sqlite3_result_double(ctx, sqrt(x));
}

static int ensure_sqrt(struct nsid_store *st, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT sqrt(4.0)", -1, &s, NULL) == SQLITE_OK) {
        sqlite3_finalize(s);
        return 0;
    }
    if (sqlite3_create_function(st->db, "sqrt", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_sqrt, NULL,
                                NULL) != SQLITE_OK)
        return nsid__store_fail(st, "sqrt", err);
    return 0;
}

static int user_version(struct nsid_store *st, int *v, struct nsid_err *err)
{
    char *text = NULL;
    int rc = nsid__store_text(st, "user_version", "PRAGMA user_version", NULL, 0, &text, err);
    if (rc == 0) *v = text ? atoi(text) : 0;
    nsid_alloc_free(text);
    return rc;
}

static bool is_index(const struct nsid__store_sql *t)
{
    return strncmp(t->sql, "CREATE INDEX", 12) == 0;
}

/* Is table name of main STRICT? *exists = false if there is no such table. */
static int table_strict(struct nsid_store *st, const char *name, bool *exists, bool *strict, struct nsid_err *err)
{
    char *text = NULL;
    int rc = nsid__store_text(st, name,
                              "SELECT strict FROM pragma_table_list WHERE schema = 'main' AND name = ?1"
                              " AND type = 'table'",
                              NSID__STORE_VALS(NSID__SV_T(name)), 1, &text, err);
    *exists = text != NULL;
    *strict = text && atoi(text) != 0;
    nsid_alloc_free(text);
    return rc;
}

/*
 * Schema 5 made every table STRICT; SQLite cannot alter a table into one, so a table of an
 * older store is renamed to <name>__old, created anew and refilled column by column (a value
 * of the wrong type stops this with SQLite's "cannot store TEXT value in REAL column
 * metrics.value"), then the old one dropped. Inside create_schema's transaction, views
 * already dropped (a rename would rewrite them).
 */
static int migrate_strict(struct nsid_store *st, const struct nsid__store_sql *t, struct nsid_err *err)
{
    bool exists = false, strict = false;
    int rc = table_strict(st, t->name, &exists, &strict, err);
    if (rc < 0 || !exists || strict) return rc;
    char sql[512];
    snprintf(sql, sizeof sql, "ALTER TABLE \"%s\" RENAME TO \"%s__old\"", t->name, t->name);
    rc = nsid__store_exec(st, sql, t->name, err);
    if (rc == 0) rc = nsid__store_exec(st, t->sql, t->name, err);
    if (rc < 0) return rc;
    snprintf(sql, sizeof sql,
             "SELECT 'INSERT INTO \"%s\" (' || group_concat('\"' || name || '\"', ', ') || ') SELECT '"
             " || group_concat('\"' || name || '\"', ', ') || ' FROM \"%s__old\"'"
             " FROM pragma_table_info('%s')",
             t->name, t->name, t->name);
    char *copy = NULL;
    rc = nsid__store_text(st, t->name, sql, NULL, 0, &copy, err);
    if (rc < 0) return rc;
    if (!copy) return nsid__store_fail(st, t->name, err);
    /* SQLite's message inside ours: one nsid_err_set, the first error wins */
    if (sqlite3_exec(st->db, copy, NULL, NULL, NULL) != SQLITE_OK)
        rc = nsid_err_set(err, NSID_EIO, st->path, 0, t->name,
                          "migrating the store to schema %d (typed tables): %.600s; fix or delete that row",
                          NSID_STORE_SCHEMA_VERSION, sqlite3_errmsg(st->db));
    nsid_alloc_free(copy);
    if (rc < 0) return rc;
    snprintf(sql, sizeof sql, "DROP TABLE \"%s__old\"", t->name);
    return nsid__store_exec(st, sql, t->name, err);
}

/* Execute every statement of a schema part (tables, views, reference data) in order. */
static int exec_all(struct nsid_store *st, size_t n, const struct nsid__store_sql *(*part)(size_t),
                    struct nsid_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = nsid__store_exec(st, part(i)->sql, part(i)->name, err);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Create the tables (migrating older ones), (re)create the views and reference data; inside a
 * transaction. */
static int create_schema(struct nsid_store *st, struct nsid_err *err)
{
    int rc = 0;
    for (size_t i = nsid__store_n_views(); rc == 0 && i-- > 0;) {
        char drop[256];
        snprintf(drop, sizeof drop, "DROP VIEW IF EXISTS \"%s\"", nsid__store_view(i)->name);
        rc = nsid__store_exec(st, drop, nsid__store_view(i)->name, err);
    }
    for (size_t i = 0; rc == 0 && i < nsid__store_n_tables(); i++) { /* an index would follow its table's rename */
        const struct nsid__store_sql *t = nsid__store_table(i);
        char drop[256];
        snprintf(drop, sizeof drop, "DROP INDEX IF EXISTS \"%s\"", t->name);
        if (is_index(t)) rc = nsid__store_exec(st, drop, t->name, err);
    }
    for (size_t i = 0; rc == 0 && i < nsid__store_n_tables(); i++) {
        const struct nsid__store_sql *t = nsid__store_table(i);
        if (!is_index(t)) rc = migrate_strict(st, t, err);
        if (rc == 0) rc = nsid__store_exec(st, t->sql, t->name, err);
    }
    for (size_t i = 0; rc == 0 && i < nsid__store_n_views(); i++) {
        char *sql = nsid__store_view_sql(i, err);
        rc = sql ? nsid__store_exec(st, sql, nsid__store_view(i)->name, err) : NSID_ENOMEM;
        nsid_alloc_free(sql);
    }
    if (rc == 0) rc = exec_all(st, nsid__store_n_reference(), nsid__store_reference, err);
    if (rc < 0) return rc;
    char set[64];
    snprintf(set, sizeof set, "PRAGMA user_version = %d", NSID_STORE_SCHEMA_VERSION);
    return nsid__store_exec(st, set, "user_version", err);
}

/* Bring the schema to this version, or refuse a newer one. */
static int setup_schema(struct nsid_store *st, struct nsid_err *err)
{
    int v = 0;
    int rc = user_version(st, &v, err);
    if (rc < 0 || v == NSID_STORE_SCHEMA_VERSION) return rc;
    rc = nsid__store_exec(st, "BEGIN IMMEDIATE", "BEGIN IMMEDIATE", err);
    if (rc < 0) return rc;
    rc = user_version(st, &v, err); /* another process may have done it meanwhile */
    if (rc == 0 && v > NSID_STORE_SCHEMA_VERSION)
        rc = nsid_err_set(err, NSID_EFORMAT, st->path, 0, "user_version",
                          "schema version %d is newer than this nsid's %d: use a newer nsid-db", v,
                          NSID_STORE_SCHEMA_VERSION);
    if (rc == 0 && v < NSID_STORE_SCHEMA_VERSION) rc = create_schema(st, err);
    return nsid__store_tx_end(st, true, rc, err);
}

/* Open the store at file (a plain path) through uri (the SQLite URI naming it). */
static int open_common(struct nsid_store *st, const char *file, const char *uri, int flags, struct nsid_err *err)
{
    memset(st, 0, sizeof *st);
    snprintf(st->path, sizeof st->path, "%s", file);
    struct stat sb; /* an existing store must be a regular file: SQLite would block on a FIFO */
    if (stat(file, &sb) == 0) {
        int rc = nsid_infile_check(file, "run database", err);
        if (rc < 0) return rc;
    }
    int rc = 0;
    if (sqlite3_open_v2(uri, &st->db, flags, NULL) != SQLITE_OK) rc = nsid__store_fail(st, "open", err);
    if (rc == 0) sqlite3_extended_result_codes(st->db, 0);
    if (rc == 0 && sqlite3_busy_timeout(st->db, NSID_STORE_BUSY_MS) != SQLITE_OK)
        rc = nsid__store_fail(st, "busy_timeout", err);
    if (rc == 0) rc = ensure_sqrt(st, err);
    if (rc < 0) nsid_store_close(st);
    return rc;
}

/* PRAGMA journal_mode=WAL and check that it took (it cannot on some filesystems).
 * Switching the mode needs the database to itself for a moment, and while another connection
 * closes a WAL database (checkpoints and removes the -wal file) the pragma can answer
 * SQLITE_BUSY without calling the busy handler: seen once in 8 merges opening a new store at
 * once. So retry it here, backing off from 1 ms to 100 ms, for up to the busy timeout. */
static int set_wal(struct nsid_store *st, struct nsid_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=WAL", -1, &s, NULL) != SQLITE_OK)
        return stmt_fail(st, "journal_mode", "PRAGMA journal_mode=WAL", err);
    int rc = sqlite3_step(s);
    for (long waited_ms = 0, nap_ms = 1; (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) &&
                                         waited_ms < NSID_STORE_BUSY_MS;
         waited_ms += nap_ms, nap_ms = nap_ms < 100 ? 2 * nap_ms : 100) {
        sqlite3_reset(s);
        struct timespec ts = {0, nap_ms * 1000000L};
        nanosleep(&ts, NULL);
        rc = sqlite3_step(s);
    }
    int out = 0;
    if (rc != SQLITE_ROW) out = nsid__store_fail(st, "journal_mode", err);
    else if (strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0)
        out = nsid_err_set(err, NSID_EIO, st->path, 0, "journal_mode",
                           "WAL mode refused (journal_mode is '%s'): is this a network filesystem? "
                           "Give every run its own database and merge on one host",
                           (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (out == 0) out = nsid__store_exec(st, "PRAGMA synchronous=NORMAL", "synchronous", err);
    return out;
}

int nsid_store_open(struct nsid_store *st, const char *path, struct nsid_err *err)
{
    char uri[3 * NSID_ERR_FILE_MAX + 64];
    if (nsid__store_uri(path, NULL, uri, sizeof uri) < 0) {
        memset(st, 0, sizeof *st);
        return nsid_err_set(err, NSID_EINVAL, path, 0, NULL, "path too long");
    }
    /* a URI connection, so that merge can ATTACH a source on a read-only mount as immutable */
    int rc = open_common(st, path, uri, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, err);
    snprintf(st->path, sizeof st->path, "%s", path);
    if (rc < 0) {
        snprintf(err->file, sizeof err->file, "%s", path);
        return rc;
    }
    rc = set_wal(st, err);
    if (rc == 0) rc = setup_schema(st, err);
    if (rc < 0) nsid_store_close(st);
    return rc;
}

/* Can this process write path and its folder? (A read-only mount: no; EROFS even for root.) */
static bool writable(const char *path)
{
    char dir[NSID_ERR_FILE_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    return access(path, W_OK) == 0 && access(dir, W_OK) == 0;
}

int nsid__store_uri(const char *path, const char *query, char *uri, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = (size_t)snprintf(uri, n, "%s", path[0] == '/' ? "file://" : "file:");
    for (const unsigned char *c = (const unsigned char *)path; *c && k + 4 < n; c++) {
        bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                     strchr("/._-~", *c);
        if (plain) uri[k++] = (char)*c;
        else {
            uri[k++] = '%';
            uri[k++] = hex[*c >> 4];
            uri[k++] = hex[*c & 15];
        }
    }
    int m = snprintf(uri + k, n - k, "%s%s", query && query[0] ? "?" : "", query ? query : "");
    return m < 0 || (size_t)m >= n - k ? -1 : 0;
}

const char *nsid__store_ro_query(const char *path)
{
    if (writable(path)) return "mode=ro";
    char wal[NSID_ERR_FILE_MAX + 8];
    snprintf(wal, sizeof wal, "%s-wal", path);
    struct stat sb;
    bool pending = stat(wal, &sb) == 0 && sb.st_size > 0;
    return pending ? "mode=ro&readonly_shm=1" : "mode=ro&immutable=1";
}

int nsid_store_open_readonly(struct nsid_store *st, const char *path, struct nsid_err *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        memset(st, 0, sizeof *st);
        return nsid_err_set(err, NSID_ENOTFOUND, path, 0, NULL, "no such database: %s", strerror(errno));
    }
    char uri[3 * NSID_ERR_FILE_MAX + 64];
    if (nsid__store_uri(path, nsid__store_ro_query(path), uri, sizeof uri) < 0) {
        memset(st, 0, sizeof *st);
        return nsid_err_set(err, NSID_EINVAL, path, 0, NULL, "path too long");
    }
    int rc = open_common(st, path, uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, err);
    snprintf(st->path, sizeof st->path, "%s", path);
    if (rc < 0) {
        snprintf(err->file, sizeof err->file, "%s", path);
        return rc;
    }
    int v = 0;
    rc = user_version(st, &v, err);
    if (rc == 0 && v > NSID_STORE_SCHEMA_VERSION)
        rc = nsid_err_set(err, NSID_EFORMAT, path, 0, "user_version",
                          "schema version %d is newer than this nsid's %d", v, NSID_STORE_SCHEMA_VERSION);
    if (rc < 0) nsid_store_close(st);
    return rc;
}

void nsid_store_close(struct nsid_store *st)
{
    if (!st) return;
    if (st->db) sqlite3_close_v2(st->db);
    st->db = NULL;
}

int nsid_store_begin(struct nsid_store *st, struct nsid_err *err)
{
    return nsid__store_exec(st, "BEGIN IMMEDIATE", "BEGIN IMMEDIATE", err);
}

int nsid_store_commit(struct nsid_store *st, struct nsid_err *err)
{
    int rc = nsid__store_exec(st, "COMMIT", "COMMIT", err);
    if (rc < 0) nsid_store_rollback(st);
    return rc;
}

void nsid_store_rollback(struct nsid_store *st)
{
    if (st->db && !sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- provenance ------------------------------------------------------------------------ */

struct provenance {
    char git_commit[64];   /* 40 hex digits, "" unknown */
    int git_dirty;         /* 1 dirty, 0 clean, -1 unknown */
    char host[256];
    char blas[256];
};

/* The commit the binaries were built from (compiled in), not the working directory's. */
static void get_git(struct provenance *p)
{
    const char *c = nsid_version_commit();
    p->git_dirty = -1;
    if (strcmp(c, "unknown") == 0) return;
    snprintf(p->git_commit, sizeof p->git_commit, "%.63s", c);
    p->git_dirty = nsid_version_dirty();
}

static void get_provenance(struct provenance *p)
{
    memset(p, 0, sizeof *p);
    get_git(p);
    if (gethostname(p->host, sizeof p->host - 1) != 0) p->host[0] = '\0';
    const char *cfg = openblas_get_config();
    snprintf(p->blas, sizeof p->blas, "OpenBLAS %s; %d threads", cfg ? cfg : "?", openblas_get_num_threads());
}

static const char *compiler_name(void)
{
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown C compiler";
#endif
}

/* The build flags: NSID_BUILD_FLAGS if the build passes it, else what the macros reveal. */
static const char *build_flags(void)
{
#ifdef NSID_BUILD_FLAGS
    return NSID_BUILD_FLAGS;
#else
    return "predefined macros:"
#if defined(__OPTIMIZE_SIZE__)
           " -Os"
#elif defined(__OPTIMIZE__)
           " -O>=1"
#else
           " -O0"
#endif
#if defined(__FAST_MATH__)
           " -ffast-math"
#endif
#if defined(NDEBUG)
           " -DNDEBUG"
#endif
#if defined(__AVX512F__)
           " avx512f"
#endif
#if defined(__AVX2__)
           " avx2"
#endif
#if defined(__FMA__)
           " fma"
#endif
#if defined(__SANITIZE_ADDRESS__)
           " -fsanitize=address"
#endif
        ;
#endif
}

static void now_utc(char buf[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- run records --------------------------------------------------------------------------- */

/* Status of run_id into *status; NSID_ENOTFOUND if absent. */
static int get_status(struct nsid_store *st, const char *run_id, int *status, struct nsid_err *err)
{
    char *name = NULL;
    int rc = nsid__store_text(st, "runs", "SELECT status FROM runs WHERE id = ?1", NSID__STORE_VALS(NSID__SV_T(run_id)),
                              1, &name, err);
    if (rc < 0) return rc;
    if (!name) return nsid_err_set(err, NSID_ENOTFOUND, st->path, 0, run_id, "no such run in this database");
    *status = nsid_store_run_status_parse(name);
    nsid_alloc_free(name);
    return 0;
}

int nsid_store_run_status(struct nsid_store *st, const char *run_id, int *status, struct nsid_err *err)
{
    return get_status(st, run_id, status, err);
}

/* Refuse writes to a run that is absent or done (called inside the write's transaction). */
static int check_writable(struct nsid_store *st, const char *run_id, struct nsid_err *err)
{
    if (!nsid_store_valid_id(run_id))
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, "run id", "'%.80s' is not a run id",
                            run_id ? run_id : "(null)");
    int status = -1;
    int rc = get_status(st, run_id, &status, err);
    if (rc < 0) return rc;
    if (status == NSID_RUN_DONE)
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, run_id, "run is done: its records are final");
    return 0;
}

static const char *const CHILD_TABLES[] = {"epochs", "metrics", "neuron_metrics", "artifacts", "run_datasets"};

/* Delete every record of run_id outside the runs table. */
static int delete_children(struct nsid_store *st, const char *run_id, struct nsid_err *err)
{
    for (size_t i = 0; i < sizeof CHILD_TABLES / sizeof CHILD_TABLES[0]; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE run_id = ?1", CHILD_TABLES[i]);
        int rc = NSID__STORE_WRITE(st, CHILD_TABLES[i], sql, err, NSID__SV_T(run_id));
        if (rc < 0) return rc;
    }
    return 0;
}

static const char RUN_UPSERT[] =
    "INSERT INTO runs (id, experiment, config, seed, seeds, parent, status, started, ended, wall_s, cpu_s,"
    " exit_code, error, git_commit, git_dirty, compiler, flags, blas, threads, host)"
    " VALUES (?1, coalesce(?2, ''), ?3, json_extract(?3, '$.train.seed'),"
    " json_object('train', json_extract(?3, '$.train.seed'), 'image', json_extract(?3, '$.data.image_base_seed'),"
    " 'neuron', json_extract(?3, '$.data.neuron_base_seed'),"
    " 'multi_match', json_extract(?3, '$.data.multi_match_base_seed')),"
    " ?4, 'running', ?5, NULL, NULL, NULL, NULL, NULL, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    " ON CONFLICT (id) DO UPDATE SET experiment = CASE WHEN excluded.experiment <> '' THEN excluded.experiment"
    " ELSE runs.experiment END, config = excluded.config, seed = excluded.seed, seeds = excluded.seeds,"
    " parent = coalesce(excluded.parent, runs.parent), status = 'running', started = excluded.started,"
    " ended = NULL, exit_code = NULL, error = NULL,"
    " wall_s = CASE WHEN ?13 THEN NULL ELSE runs.wall_s END, cpu_s = CASE WHEN ?13 THEN NULL ELSE runs.cpu_s END,"
    " git_commit = excluded.git_commit, git_dirty = excluded.git_dirty, compiler = excluded.compiler,"
    " flags = excluded.flags, blas = excluded.blas, threads = excluded.threads, host = excluded.host";

/* Is json a JSON object? */
static int json_ok(struct nsid_store *st, const char *json, bool *ok, struct nsid_err *err)
{
    return nsid__store_true(st, "json_valid",
                            "SELECT CASE WHEN json_valid(?1) THEN json_type(?1) = 'object' ELSE 0 END", json, ok, err);
}

static int run_begin_tx(struct nsid_store *st, const void *arg, struct nsid_err *err)
{
    const struct nsid_store_run *run = arg;
    int status = -1;
    bool exists = true;
    char *name = NULL;
    int rc = nsid__store_text(st, "runs", "SELECT status FROM runs WHERE id = ?1",
                              NSID__STORE_VALS(NSID__SV_T(run->id)), 1, &name, err);
    if (rc < 0) return rc;
    if (name) status = nsid_store_run_status_parse(name);
    else exists = false;
    nsid_alloc_free(name);
    if (exists && status == NSID_RUN_DONE && !run->fresh)
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, run->id,
                            "run is done; a rerun must start fresh (its records would be mixed otherwise)");
    if (run->fresh && (rc = delete_children(st, run->id, err)) < 0) return rc;
    struct provenance p;
    get_provenance(&p);
    char started[32];
    now_utc(started);
    struct nsid__store_val dirty = p.git_dirty >= 0 ? NSID__SV_I(p.git_dirty) : (struct nsid__store_val){0};
    return NSID__STORE_WRITE(st, "runs", RUN_UPSERT, err, NSID__SV_T(run->id), NSID__SV_T(run->experiment),
                             NSID__SV_T(run->config_json), NSID__SV_TN(run->parent), NSID__SV_T(started),
                             NSID__SV_TN(p.git_commit), dirty, NSID__SV_T(compiler_name()), NSID__SV_T(build_flags()),
                             NSID__SV_T(p.blas), NSID__SV_IN(run->threads), NSID__SV_TN(p.host),
                             NSID__SV_I(run->fresh ? 1 : 0));
}

int nsid_store_run_begin(struct nsid_store *st, const struct nsid_store_run *run, struct nsid_err *err)
{
    if (!run || !nsid_store_valid_id(run->id))
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, "run id", "'%.80s' is not a run id (1..64 of [0-9A-Za-z_.-])",
                            run && run->id ? run->id : "(null)");
    if (!run->config_json) return nsid_err_set(err, NSID_EINVAL, st->path, 0, "config_json", "missing");
    bool ok = false;
    int rc = json_ok(st, run->config_json, &ok, err);
    if (rc < 0) return rc;
    if (!ok)
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, "config_json", "not a JSON object: '%.60s'",
                            run->config_json);
    return nsid__store_tx(st, run_begin_tx, run, err);
}

/* A write of some rows of one run: checked writable, then written, in one transaction. */
struct run_rows {
    const char *run_id;
    int (*write)(struct nsid_store *st, const struct run_rows *w, struct nsid_err *err);
    const void *rows;         /* what write writes */
    size_t n;                 /* how many (where it is an array) */
    const char *table, *sql;  /* a single row: write_run_row's statement ... */
    const struct nsid__store_val *vals; /* ... and its n values */
};

static int run_rows_tx(struct nsid_store *st, const void *arg, struct nsid_err *err)
{
    const struct run_rows *w = arg;
    int rc = check_writable(st, w->run_id, err);
    return rc < 0 ? rc : w->write(st, w, err);
}

/* Write rows of a run in one transaction (the caller's if open), refused for a done or absent run. */
static int write_run_rows(struct nsid_store *st, const struct run_rows *w, struct nsid_err *err)
{
    return nsid__store_tx(st, run_rows_tx, w, err);
}

static int one_row(struct nsid_store *st, const struct run_rows *w, struct nsid_err *err)
{
    return nsid__store_write(st, w->table, w->sql, w->vals, (int)w->n, err);
}

/* Write one row of a run: sql with v[0..n-1] into table, as write_run_rows. */
static int write_run_row(struct nsid_store *st, const char *run_id, const char *table, const char *sql,
                         const struct nsid__store_val *v, int n, struct nsid_err *err)
{
    struct run_rows w = {.run_id = run_id, .write = one_row, .n = (size_t)n, .table = table, .sql = sql, .vals = v};
    return write_run_rows(st, &w, err);
}

int nsid_store_epoch(struct nsid_store *st, const char *run_id, const struct nsid_store_epoch *e,
                     struct nsid_err *err)
{
    const struct nsid__store_val v[] = {NSID__SV_T(run_id),       NSID__SV_I(e->epoch),    NSID__SV_I(e->round),
                                        NSID__SV_R(e->lr),        NSID__SV_R(e->train_loss), NSID__SV_R(e->val_corr),
                                        NSID__SV_R(e->seconds)};
    return write_run_row(st, run_id, "epochs",
                         "INSERT OR REPLACE INTO epochs (run_id, epoch, round, lr, train_loss, val_corr, seconds)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                         v, 7, err);
}

static int check_text(struct nsid_store *st, const char *v, const char *what, struct nsid_err *err)
{
    if (v && v[0]) return 0;
    return nsid_err_set(err, NSID_EINVAL, st->path, 0, what, "must be a non-empty string");
}

static int metric_rows(struct nsid_store *st, const struct run_rows *w, struct nsid_err *err)
{
    const struct nsid_store_metric *m = w->rows;
    struct nsid__store_stmt s;
    int rc = nsid__store_stmt_init(&s, st, "metrics",
                                   "INSERT OR REPLACE INTO metrics (run_id, scan, split, name, value)"
                                   " VALUES (?1, ?2, ?3, ?4, ?5)",
                                   err);
    for (size_t i = 0; rc == 0 && i < w->n; i++)
        rc = nsid__store_stmt_run(&s,
                                  NSID__STORE_VALS(NSID__SV_T(w->run_id), NSID__SV_T(m[i].scan), NSID__SV_T(m[i].split),
                                                   NSID__SV_T(m[i].name), NSID__SV_R(m[i].value)),
                                  5, err);
    nsid__store_stmt_free(&s);
    return rc;
}

int nsid_store_metrics(struct nsid_store *st, const char *run_id, const struct nsid_store_metric *m, size_t n,
                       struct nsid_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = check_text(st, m[i].scan, "metric scan", err);
        if (rc == 0) rc = check_text(st, m[i].split, "metric split", err);
        if (rc == 0) rc = check_text(st, m[i].name, "metric name", err);
        if (rc < 0) return rc;
    }
    return write_run_rows(st, &(struct run_rows){.run_id = run_id, .write = metric_rows, .rows = m, .n = n}, err);
}

static double at(const double *a, int64_t i)
{
    return a ? a[i] : (double)NAN;
}

static const char NEURON_INSERT[] =
    "INSERT OR REPLACE INTO neuron_metrics (run_id, scan, neuron, unit_id, val_corr, test_corr, test_corr_avg,"
    " oracle, fev, feve, gt_corr, true_x, true_y, rf_x, rf_y, rf_dist)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

static int neuron_rows(struct nsid_store *st, const struct run_rows *w, struct nsid_err *err)
{
    const struct nsid_store_neurons *nm = w->rows;
    struct nsid__store_stmt s;
    int rc = nsid__store_stmt_init(&s, st, "neuron_metrics", NEURON_INSERT, err);
    for (int64_t i = 0; rc == 0 && i < nm->n; i++) {
        const double *t = nm->true_xy ? nm->true_xy + 2 * i : NULL, *r = nm->rf_xy ? nm->rf_xy + 2 * i : NULL;
        struct nsid__store_val unit = nm->unit_id ? NSID__SV_I(nm->unit_id[i]) : (struct nsid__store_val){0};
        rc = nsid__store_stmt_run(
            &s,
            NSID__STORE_VALS(NSID__SV_T(w->run_id), NSID__SV_T(nm->scan), NSID__SV_I(i), unit,
                             NSID__SV_R(at(nm->val_corr, i)), NSID__SV_R(at(nm->test_corr, i)),
                             NSID__SV_R(at(nm->test_corr_avg, i)), NSID__SV_R(at(nm->oracle, i)),
                             NSID__SV_R(at(nm->fev, i)), NSID__SV_R(at(nm->feve, i)), NSID__SV_R(at(nm->gt_corr, i)),
                             NSID__SV_R(at(t, 0)), NSID__SV_R(at(t, 1)), NSID__SV_R(at(r, 0)), NSID__SV_R(at(r, 1)),
                             NSID__SV_R(at(nm->rf_dist, i))),
            16, err);
    }
    nsid__store_stmt_free(&s);
    return rc;
}

int nsid_store_neurons(struct nsid_store *st, const char *run_id, const struct nsid_store_neurons *nm,
                       struct nsid_err *err)
{
    int rc = check_text(st, nm->scan, "neurons scan", err);
    if (rc < 0) return rc;
    if (nm->n < 0) return nsid_err_set(err, NSID_EINVAL, st->path, 0, nm->scan, "negative neuron count %lld",
                                       (long long)nm->n);
    return write_run_rows(st, &(struct run_rows){.run_id = run_id, .write = neuron_rows, .rows = nm, .n = 1}, err);
}

/* ---- files: hashes, datasets, artifacts -------------------------------------------------- */

int nsid_store_hash_file(const char *path, char hex[NSID_SHA256_HEX], int64_t *bytes, struct nsid_err *err)
{
    FILE *f = nsid_infile_fopen(path, NULL, err);
    if (!f) return err->code;
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = NSID_ALLOC(CHUNK, err);
    if (!buf) {
        fclose(f);
        return NSID_ENOMEM;
    }
    struct nsid_sha256 h;
    nsid_sha256_init(&h);
    int64_t total = 0;
    size_t got;
    while ((got = fread(buf, 1, CHUNK, f)) > 0) {
        nsid_sha256_update(&h, buf, got);
        total += (int64_t)got;
    }
    int bad = ferror(f);
    fclose(f);
    nsid_alloc_free(buf);
    if (bad) return nsid_err_set(err, NSID_EIO, path, 0, NULL, "read failed");
    unsigned char d[NSID_SHA256_BYTES];
    nsid_sha256_final(&h, d);
    nsid_sha256_to_hex(hex, d);
    if (bytes) *bytes = total;
    return 0;
}

static const char DATASET_UPSERT[] =
    "INSERT INTO datasets (sha256, path, data_key, animal, image_set, bytes, n_neurons, n_trials, n_train,"
    " n_validation, n_test) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    " ON CONFLICT (sha256) DO UPDATE SET path = excluded.path,"
    " data_key = coalesce(excluded.data_key, datasets.data_key), animal = coalesce(excluded.animal, datasets.animal),"
    " image_set = coalesce(excluded.image_set, datasets.image_set), bytes = coalesce(excluded.bytes, datasets.bytes),"
    " n_neurons = coalesce(excluded.n_neurons, datasets.n_neurons),"
    " n_trials = coalesce(excluded.n_trials, datasets.n_trials), n_train = coalesce(excluded.n_train, datasets.n_train),"
    " n_validation = coalesce(excluded.n_validation, datasets.n_validation),"
    " n_test = coalesce(excluded.n_test, datasets.n_test)";

/* Upsert d inside the caller's transaction; the hash (given or computed) into sha. */
static int dataset_upsert(struct nsid_store *st, const struct nsid_store_dataset *d, char sha[NSID_SHA256_HEX],
                          struct nsid_err *err)
{
    int rc = check_text(st, d->path, "dataset path", err);
    if (rc < 0) return rc;
    int64_t bytes = 0;
    struct stat sb;
    if (d->sha256 && d->sha256[0]) {
        snprintf(sha, NSID_SHA256_HEX, "%s", d->sha256);
        if (stat(d->path, &sb) == 0 && S_ISREG(sb.st_mode)) bytes = (int64_t)sb.st_size; /* a tree's: unknown */
    } else {
        rc = nsid_scanid_id(d->path, NULL, sha, &bytes, err); /* an HDF5 file or a file tree: data/scanid.h */
        if (rc < 0) return rc;
    }
    return NSID__STORE_WRITE(st, "datasets", DATASET_UPSERT, err, NSID__SV_T(sha), NSID__SV_T(d->path),
                             NSID__SV_TN(d->data_key), NSID__SV_TN(d->animal), NSID__SV_TN(d->image_set),
                             NSID__SV_IN(bytes), NSID__SV_IN(d->n_neurons), NSID__SV_IN(d->n_trials),
                             NSID__SV_IN(d->n_train), NSID__SV_IN(d->n_validation), NSID__SV_IN(d->n_test));
}

struct dataset_arg {
    const struct nsid_store_dataset *d;
    char *sha;                /* NSID_SHA256_HEX */
};

static int dataset_tx(struct nsid_store *st, const void *arg, struct nsid_err *err)
{
    const struct dataset_arg *a = arg;
    return dataset_upsert(st, a->d, a->sha, err);
}

int nsid_store_dataset(struct nsid_store *st, const struct nsid_store_dataset *d, char sha_out[NSID_SHA256_HEX],
                       struct nsid_err *err)
{
    char sha[NSID_SHA256_HEX];
    int rc = nsid__store_tx(st, dataset_tx, &(struct dataset_arg){d, sha}, err);
    if (rc == 0 && sha_out) memcpy(sha_out, sha, NSID_SHA256_HEX);
    return rc;
}

/* A run's scan: its position, the dataset and what the run used of it. */
struct run_scan {
    int64_t position;
    const struct nsid_store_dataset *d;
    int64_t n_train_used, n_neurons_used;
};

static int run_dataset_row(struct nsid_store *st, const struct run_rows *w, struct nsid_err *err)
{
    const struct run_scan *rs = w->rows;
    char sha[NSID_SHA256_HEX];
    int rc = dataset_upsert(st, rs->d, sha, err);
    if (rc < 0) return rc;
    return NSID__STORE_WRITE(st, "run_datasets",
                             "INSERT OR REPLACE INTO run_datasets (run_id, position, dataset, path, data_key,"
                             " n_train, n_neurons) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                             err, NSID__SV_T(w->run_id), NSID__SV_I(rs->position), NSID__SV_T(sha),
                             NSID__SV_T(rs->d->path), NSID__SV_TN(rs->d->data_key), NSID__SV_IN(rs->n_train_used),
                             NSID__SV_IN(rs->n_neurons_used));
}

int nsid_store_run_dataset(struct nsid_store *st, const char *run_id, int64_t position,
                           const struct nsid_store_dataset *d, int64_t n_train_used, int64_t n_neurons_used,
                           struct nsid_err *err)
{
    if (position < 0) return nsid_err_set(err, NSID_EINVAL, st->path, 0, "position", "negative: %lld",
                                          (long long)position);
    struct run_scan rs = {position, d, n_train_used, n_neurons_used};
    return write_run_rows(st, &(struct run_rows){.run_id = run_id, .write = run_dataset_row, .rows = &rs, .n = 1},
                          err);
}

int nsid_store_artifact(struct nsid_store *st, const char *run_id, const char *path, const char *role,
                        struct nsid_err *err)
{
    int rc = check_text(st, path, "artifact path", err);
    if (rc == 0) rc = check_text(st, role, "artifact role", err);
    if (rc < 0) return rc;
    char sha[NSID_SHA256_HEX];
    int64_t bytes = 0;
    rc = nsid_store_hash_file(path, sha, &bytes, err); /* outside the transaction: may be slow */
    if (rc < 0) return rc;
    const struct nsid__store_val v[] = {NSID__SV_T(run_id), NSID__SV_T(path), NSID__SV_T(role), NSID__SV_T(sha),
                                        NSID__SV_I(bytes)};
    return write_run_row(st, run_id, "artifacts",
                         "INSERT OR REPLACE INTO artifacts (run_id, path, role, sha256, bytes)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)",
                         v, 5, err);
}

/* ---- ending a stage ------------------------------------------------------------------------ */

static int run_end_tx(struct nsid_store *st, const void *arg, struct nsid_err *err)
{
    const struct run_rows *w = arg;
    const struct nsid_store_end *e = w->rows;
    int status = -1;
    int rc = get_status(st, w->run_id, &status, err);
    if (rc < 0) return rc;
    if (status != NSID_RUN_RUNNING)
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, w->run_id, "cannot end a run that is %s, not running",
                            nsid_store_run_status_name(status));
    char ended[32];
    now_utc(ended);
    bool final = e->status != NSID_RUN_RUNNING;
    return NSID__STORE_WRITE(st, "runs",
                             "UPDATE runs SET status = ?2, ended = CASE WHEN ?3 THEN ?4 ELSE ended END,"
                             " exit_code = ?5, error = ?6, wall_s = coalesce(wall_s, 0) + ?7,"
                             " cpu_s = coalesce(cpu_s, 0) + ?8 WHERE id = ?1",
                             err, NSID__SV_T(w->run_id), NSID__SV_T(nsid_store_run_status_name(e->status)),
                             NSID__SV_I(final), NSID__SV_T(ended), NSID__SV_I(e->exit_code), NSID__SV_TN(e->error),
                             NSID__SV_R(isfinite(e->wall_s) && e->wall_s > 0 ? e->wall_s : 0.0),
                             NSID__SV_R(isfinite(e->cpu_s) && e->cpu_s > 0 ? e->cpu_s : 0.0));
}

int nsid_store_run_end(struct nsid_store *st, const char *run_id, const struct nsid_store_end *e,
                       struct nsid_err *err)
{
    if (e->status != NSID_RUN_RUNNING && e->status != NSID_RUN_DONE && e->status != NSID_RUN_FAILED)
        return nsid_err_set(err, NSID_EINVAL, st->path, 0, "status", "a stage ends as running, done or failed, not %s",
                            nsid_store_run_status_name(e->status));
    return nsid__store_tx(st, run_end_tx, &(struct run_rows){.run_id = run_id, .rows = e}, err);
}

void nsid_store_clock_start(struct nsid_store_clock *c)
{
    clock_gettime(CLOCK_MONOTONIC, &c->wall0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c->cpu0);
}

static double since(const struct timespec *t0, clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

void nsid_store_clock_read(const struct nsid_store_clock *c, double *wall_s, double *cpu_s)
{
    if (wall_s) *wall_s = since(&c->wall0, CLOCK_MONOTONIC);
    if (cpu_s) *cpu_s = since(&c->cpu0, CLOCK_PROCESS_CPUTIME_ID);
}
