/*
 * store_int.h - internals shared by store.c (the API) and store_sql.c (schema and views).
 */
#ifndef NSID_STORE_INT_H
#define NSID_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exp/store.h"

struct sqlite3_stmt;

/* A named SQL object (table, view, index or data) of the schema. */
struct nsid__store_sql {
    const char *name;  /* object name ("runs", "fig5", ...) */
    const char *sql;   /* one statement, no trailing semicolon needed */
};

/* Tables and indexes, created with IF NOT EXISTS, in dependency order. */
size_t nsid__store_n_tables(void);
const struct nsid__store_sql *nsid__store_table(size_t i);

/* Views (dropped and recreated on a schema upgrade), in dependency order. */
size_t nsid__store_n_views(void);
const struct nsid__store_sql *nsid__store_view(size_t i);

/* Statements that (re)fill the reference tables paper_values and paper_headline. */
size_t nsid__store_n_reference(void);
const struct nsid__store_sql *nsid__store_reference(size_t i);

/* ---- helpers shared by store.c and store_merge.c ---------------------------------------- */

/* Fill err from the connection's last error (sqlite3_errmsg copied at once); returns the code. */
int nsid__store_fail(const struct nsid_store *st, const char *what, struct nsid_err *err);

/* Run SQL without results (sqlite3_exec); what names the operation in errors. */
int nsid__store_exec(struct nsid_store *st, const char *sql, const char *what, struct nsid_err *err);

/* Prepare one statement. */
int nsid__store_prepare(struct nsid_store *st, const char *sql, struct sqlite3_stmt **s, struct nsid_err *err);

/*
 * Open a transaction unless the caller holds one: *own says whether this call must end
 * it with nsid__store_tx_end (commit on rc >= 0, rollback otherwise; returns rc or the
 * commit's error).
 */
int nsid__store_tx_begin(struct nsid_store *st, bool *own, struct nsid_err *err);
int nsid__store_tx_end(struct nsid_store *st, bool own, int rc, struct nsid_err *err);

/* Bind text, or NULL for a NULL/empty pointer when empty_is_null. */
int nsid__store_bind_text(struct sqlite3_stmt *s, int i, const char *v, bool empty_is_null);
/* Bind a double, NULL for NaN. */
int nsid__store_bind_double(struct sqlite3_stmt *s, int i, double v);
/* Bind an int64, NULL for 0 when zero_is_null. */
int nsid__store_bind_int(struct sqlite3_stmt *s, int i, int64_t v, bool zero_is_null);

/* Step a statement that returns no rows (SQLITE_DONE expected), then reset it. */
int nsid__store_step_done(struct nsid_store *st, struct sqlite3_stmt *s, const char *what, struct nsid_err *err);

/*
 * The SQLite URI of a file path (file: + the path percent-encoded, so that '?', '#' and '%'
 * in a name stay part of it) with query appended ("" or NULL: none); -1 if n is too small.
 */
int nsid__store_uri(const char *path, const char *query, char *uri, size_t n);

/*
 * The URI query to open path read-only: "mode=ro" where this process can write the file and
 * its folder, else (a read-only mount) "mode=ro&immutable=1" (no -shm needed) or, if a -wal
 * file holds pending content that immutable would ignore, "mode=ro&readonly_shm=1".
 */
const char *nsid__store_ro_query(const char *path);

/* Let a public function dereference err even when the caller passed NULL. */
#define NSID__ERR_LOCAL(err)              \
    struct nsid_err err##_local_ = {0};   \
    if (!(err)) (err) = &err##_local_

/* Every column of runs, in schema order (for copies between databases). */
#define NSID__RUNS_COLUMNS                                                                           \
    "id, experiment, config, seed, seeds, parent, status, started, ended, wall_s, cpu_s, exit_code,"  \
    " error, git_commit, git_dirty, compiler, flags, blas, threads, host"

#endif
