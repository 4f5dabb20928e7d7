/*
 * store_int.h - internals shared by the store's files (store.c, store_merge.c, store_plan.c, store_sql.c):
 * the schema's statements, the one write helper, transactions and small reads.
 */
#ifndef NSID_STORE_INT_H
#define NSID_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "exp/store.h"

struct sqlite3_stmt;

/* A named SQL object (table, view, index or data) of the schema. */
struct nsid__store_sql {
    const char *name;  /* object name ("runs", "fig5", ...) */
    const char *sql;   /* one statement, no trailing semicolon needed */
};

/*
 * The statements of src/exp/sql/<part>.sql, embedded at build time (cmake/embed_sql.cmake
 * generates these arrays); the accessors below hand them out (store_sql.c).
 */
extern const struct nsid__store_sql nsid__store_sql_tables[], nsid__store_sql_views[], nsid__store_sql_reference[];
extern const size_t nsid__store_sql_n_tables, nsid__store_sql_n_views, nsid__store_sql_n_reference;

/* Tables and indexes (tables.sql), created with IF NOT EXISTS, in dependency order. */
size_t nsid__store_n_tables(void);
const struct nsid__store_sql *nsid__store_table(size_t i);

/* Views (views.sql; dropped and recreated on a schema upgrade), in dependency order. */
size_t nsid__store_n_views(void);
const struct nsid__store_sql *nsid__store_view(size_t i);
/* The SQL that creates view i < nsid__store_n_views(), its placeholders put in: a new NSID_ALLOC string. */
char *nsid__store_view_sql(size_t i, struct nsid_err *err);

/* Statements that (re)fill the reference tables paper_values and paper_headline (reference.sql). */
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

/* ---- the one write helper: prepare, bind, step, reset, finalize ------------------------------ */

/* The type of a bound value. */
enum nsid__store_vtype {
    NSID__SV_NULL = 0,        /* NULL */
    NSID__SV_TEXT,            /* text; a NULL pointer binds NULL */
    NSID__SV_INT,             /* int64 */
    NSID__SV_REAL,            /* double; NaN binds NULL */
};

/* One value bound to a statement parameter (?1, ?2, ... in the order given). */
struct nsid__store_val {
    enum nsid__store_vtype type;
    const char *text;         /* NSID__SV_TEXT; copied by SQLite when bound */
    int64_t i;                /* NSID__SV_INT */
    double d;                 /* NSID__SV_REAL */
};

/* Values: text (NULL pointer: NULL), text with "" also NULL, int, int with 0 as NULL, real (NaN: NULL). */
#define NSID__SV_T(v) ((struct nsid__store_val){.type = NSID__SV_TEXT, .text = (v)})
#define NSID__SV_TN(v) nsid__store_val_text_or_null(v)
#define NSID__SV_I(v) ((struct nsid__store_val){.type = NSID__SV_INT, .i = (int64_t)(v)})
#define NSID__SV_IN(v) nsid__store_val_int_or_null((int64_t)(v))
#define NSID__SV_R(v) ((struct nsid__store_val){.type = NSID__SV_REAL, .d = (v)})
struct nsid__store_val nsid__store_val_text_or_null(const char *v);
struct nsid__store_val nsid__store_val_int_or_null(int64_t v);

/*
 * A prepared write of one table, run once per row. Errors name the database file
 * (err->file), the table (err->key) and the statement (the start of its SQL, in err->msg
 * after SQLite's message).
 */
struct nsid__store_stmt {
    struct nsid_store *st;    /* the store; not owned */
    struct sqlite3_stmt *s;   /* owned; NULL after _free */
    const char *table;        /* the table written, for messages; not owned */
    const char *sql;          /* the statement, for messages; not owned */
};

/* Prepare sql writing table. On failure w->s is NULL and _free is still safe. */
int nsid__store_stmt_init(struct nsid__store_stmt *w, struct nsid_store *st, const char *table, const char *sql,
                          struct nsid_err *err);
/* Bind v[0..n-1] to ?1..?n, step to its end (SQLITE_DONE), reset and clear the bindings. */
int nsid__store_stmt_run(struct nsid__store_stmt *w, const struct nsid__store_val *v, int n, struct nsid_err *err);
/* Finalize; a zeroed or freed w is a no-op. */
void nsid__store_stmt_free(struct nsid__store_stmt *w);

/* One statement, one row: _init, _run, _free. */
int nsid__store_write(struct nsid_store *st, const char *table, const char *sql, const struct nsid__store_val *v,
                      int n, struct nsid_err *err);

/* nsid__store_write with the values as arguments: NSID__STORE_WRITE(st, "epochs", SQL, err, NSID__SV_T(id), ...). */
#define NSID__STORE_VALS(...) ((const struct nsid__store_val[]){__VA_ARGS__})
#define NSID__STORE_NVALS(...) ((int)(sizeof NSID__STORE_VALS(__VA_ARGS__) / sizeof(struct nsid__store_val)))
#define NSID__STORE_WRITE(st, table, sql, err, ...) \
    nsid__store_write((st), (table), (sql), NSID__STORE_VALS(__VA_ARGS__), NSID__STORE_NVALS(__VA_ARGS__), (err))

/*
 * Run body(st, arg, err) inside a transaction: the caller's if one is open, else its own
 * BEGIN IMMEDIATE, committed when body returns 0 and rolled back otherwise. Returns body's
 * code or the commit's error.
 */
typedef int (*nsid__store_body)(struct nsid_store *st, const void *arg, struct nsid_err *err);
int nsid__store_tx(struct nsid_store *st, nsid__store_body body, const void *arg, struct nsid_err *err);

/*
 * The first column of the first row of sql as text, ?1..?n bound to v, into a new
 * NSID_ALLOC string *out (NULL: no row, or a NULL value). Errors name the file and what.
 */
int nsid__store_text(struct nsid_store *st, const char *what, const char *sql, const struct nsid__store_val *v, int n,
                     char **out, struct nsid_err *err);

/* Whether the first value of sql (?1 = arg) is true: a row, not NULL, not 0. */
int nsid__store_true(struct nsid_store *st, const char *what, const char *sql, const char *arg, bool *yes,
                     struct nsid_err *err);

/*
 * Print the rows of sql (?1..?n bound to v) to out, one line each: prefix, then the columns
 * joined by two spaces (NULL as "-"). *rows (may be NULL) gets the count.
 */
int nsid__store_print(struct nsid_store *st, const char *what, const char *sql, const struct nsid__store_val *v, int n,
                      const char *prefix, FILE *out, int64_t *rows, struct nsid_err *err);

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

/* Every column of runs, in schema order (for copies between databases). */
#define NSID__RUNS_COLUMNS                                                                           \
    "id, experiment, config, seed, seeds, parent, status, started, ended, wall_s, cpu_s, exit_code,"  \
    " error, git_commit, git_dirty, compiler, flags, blas, threads, host"

#endif
