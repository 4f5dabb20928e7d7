/*
 * store.h - the SQLite results store: one schema for a run's own run.db and for the
 * merged results/results.db.
 *
 * Every run writes its own small database (results/runs/<id>/run.db); `nsid-db merge`
 * folds finished runs into results/results.db, so parallel runs, on one machine or on a
 * cluster's shared filesystem, never contend for one file (SQLite's locking over NFS is
 * not reliable). Where one file is written by several processes anyway (merges, the
 * tests' parallel writers) the store uses WAL, a 30 s busy timeout and BEGIN IMMEDIATE
 * for every transaction, so writers queue instead of failing with SQLITE_BUSY.
 *
 * What a stage does (nsid-train, then nsid-eval on the same run.db):
 *
 *     struct nsid_store st;
 *     struct nsid_store_clock clk;
 *     nsid_store_clock_start(&clk);
 *     if (nsid_store_open(&st, "results/runs/ab12.../run.db", err) < 0) return -1;
 *     struct nsid_store_run run = {.id = id, .config_json = canonical, .threads = 2, .fresh = true};
 *     nsid_store_run_begin(&st, &run, err);                 // status 'running' + provenance
 *     nsid_store_run_dataset(&st, id, 0, &scan0, n_train_used, n_neurons_used, err);
 *     for (each epoch) nsid_store_epoch(&st, id, &ep, err);
 *     nsid_store_artifact(&st, id, "results/runs/ab12.../checkpoint.h5", "checkpoint", err);
 *     struct nsid_store_end end = {.status = NSID_RUN_RUNNING};   // train done, eval to come
 *     nsid_store_clock_read(&clk, &end.wall_s, &end.cpu_s);
 *     nsid_store_run_end(&st, id, &end, err);
 *     nsid_store_close(&st);
 *     ... nsid-eval:
 *     nsid_store_begin(&st, err);                            // one transaction: all or nothing
 *     nsid_store_metrics(&st, id, m, n, err);
 *     nsid_store_neurons(&st, id, &per_neuron, err);
 *     nsid_store_run_end(&st, id, &(struct nsid_store_end){.status = NSID_RUN_DONE, ...}, err);
 *     nsid_store_commit(&st, err);                           // 'done' only now
 *
 * A run is 'done' only in the last transaction of a finished run: after it, every write
 * to that run fails (NSID_EINVAL "run ... is done"), except nsid_store_run_begin with
 * fresh = true (an explicit rerun). A run killed mid-way stays 'running' (or 'failed' if
 * the stage caught the error) and `nsid-db merge` never makes it 'done'.
 *
 * Metric names (the contract between nsid-eval, the views and the figures), one row per
 * (run, scan, split, name); scan is a data key ("20457-5-9-0") or "all" (pooled over every
 * scan of the run, as the paper averages):
 *     split "validation" | "test" | "train":
 *         corr              mean single-trial correlation (§6.2)
 *         corr_avg          mean correlation with the repeat-averaged response (test)
 *         oracle            mean leave-one-out oracle correlation (test)
 *         fraction_oracle   least-squares slope through the origin of corr on oracle (test, §6.3)
 *         fev, feve         grand averages (test, §6.4)
 *         gt_corr           mean correlation of the prediction with the simulator's true rates
 *         n_neurons, n_trials, n_images
 *     split "model":
 *         readout_params_per_neuron, core_params, params
 *         rf_corr_x, rf_corr_y, rf_dist   Gaussian readout mean vs true RF centre after the affine fit
 * The best-by-validation selection (docs/paper.md §6.5) ranks runs by ("all", "validation", "corr").
 *
 * Errors: NSID_EIO (SQLite failed; err->msg is sqlite3_errmsg copied at once, err->file the
 * database, err->key the operation), NSID_EINVAL (bad argument, a write to a finished run),
 * NSID_ENOTFOUND (no such run), NSID_EFORMAT (a database of another or newer schema).
 * Schema, views and example queries: results/README.md.
 */
#ifndef NSID_STORE_H
#define NSID_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "base/err.h"
#include "base/sha256.h"

/* 5: every table STRICT (a value of the wrong type is refused, not stored) and run_sources
 * (where each merged run came from); a store of version 1..4 is migrated when opened
 * read-write (its tables rebuilt as STRICT: a stored value of the wrong type stops the
 * migration naming its table and column).
 * 6: run_tags and run_notes (nsid-db tag / note, src/exp/store_runs.h); a store of version 1..5
 * gains them (empty) when opened read-write. */
#define NSID_STORE_SCHEMA_VERSION 6
#define NSID_STORE_BUSY_MS 30000      /* busy timeout of every connection */
#define NSID_STORE_ID_MAX 65          /* run ids: 1..64 chars of [0-9A-Za-z_.-] + NUL */
#define NSID_STORE_ALL "all"          /* the scan name of metrics pooled over every scan */

struct sqlite3;

/* An open database. */
struct nsid_store {
    struct sqlite3 *db;               /* the connection; NULL when closed */
    char path[NSID_ERR_FILE_MAX];     /* its file, for messages */
};

/* Run status, stored as the names "planned", "running", "done", "failed". */
enum nsid_run_status {
    NSID_RUN_PLANNED = 0,
    NSID_RUN_RUNNING = 1,
    NSID_RUN_DONE = 2,
    NSID_RUN_FAILED = 3,
    NSID_RUN_N_STATUS = 4,
};

/* The name of a status ("planned", ...), "?" if out of range. */
const char *nsid_store_run_status_name(int status);
/* The status of a name, or -1. */
int nsid_store_run_status_parse(const char *name);

/*
 * Open (creating if missing) a store at path: WAL, synchronous=NORMAL, busy timeout
 * NSID_STORE_BUSY_MS, and the schema and views of this version (created in one
 * BEGIN IMMEDIATE transaction, so concurrent first opens are safe). A database written
 * by a newer nsid, or a file that is not SQLite, is NSID_EFORMAT; st is closed on error.
 */
int nsid_store_open(struct nsid_store *st, const char *path, struct nsid_err *err);

/*
 * Open an existing store read-only (no schema changes, no file created); NSID_ENOTFOUND
 * if path does not exist. Where the file or its folder cannot be written (a read-only
 * mount, another user's files) a WAL database cannot create its -shm file, so it is
 * opened as immutable (SQLite's immutable=1: no locks, no -shm) when it has no pending
 * -wal content, else with a read-only -shm (readonly_shm=1). Nobody can write such a
 * store from here, which is what immutable assumes.
 */
int nsid_store_open_readonly(struct nsid_store *st, const char *path, struct nsid_err *err);

/* Close; a closed or zeroed store is a no-op. */
void nsid_store_close(struct nsid_store *st);

/*
 * Explicit transactions: BEGIN IMMEDIATE (waits for other writers up to the busy timeout),
 * COMMIT, ROLLBACK. Every write function below runs in its own transaction when none is
 * open, or inside the caller's.
 */
int nsid_store_begin(struct nsid_store *st, struct nsid_err *err);
int nsid_store_commit(struct nsid_store *st, struct nsid_err *err);
void nsid_store_rollback(struct nsid_store *st);

/* ---- writing a run ------------------------------------------------------------------ */

/* What a stage records when a run starts. */
struct nsid_store_run {
    const char *id;           /* run id (nsid-plan's sha256), required */
    const char *experiment;   /* experiment name; NULL or "" if unknown (merge fills it from the plan) */
    const char *config_json;  /* resolved configuration, canonical JSON (nsid_config_canonical), required */
    const char *parent;       /* id of the run whose core is transferred; NULL or "" if none */
    int threads;              /* worker threads of the stage (0 unknown) */
    bool fresh;               /* true: drop the run's earlier records (a restart from scratch);
                                 false: keep them (resume after an interrupt) */
};

/*
 * Insert or update the run as 'running', started now (UTC), with the provenance of this
 * process: the git commit and dirty flag compiled into the binary (base/version.h: the
 * checkout it was built from, whatever the working directory; NULL outside a git checkout),
 * compiler, build flags (NSID_BUILD_FLAGS if the build defines it, else the flags the
 * compiler's predefined macros reveal), BLAS (openblas_get_config), threads and host.
 * seed and seeds are taken from config_json (train.seed; the data seeds). A 'done' run
 * is refused unless fresh.
 */
int nsid_store_run_begin(struct nsid_store *st, const struct nsid_store_run *run, struct nsid_err *err);

/* One point of the training curve (NaN values are stored as NULL). */
struct nsid_store_epoch {
    int64_t epoch;            /* 0 = the score before training, then 1, 2, ... */
    int64_t round;            /* early-stopping round (0 .. train.lr_decay_steps - 1) */
    double lr;                /* learning rate used in this epoch */
    double train_loss;        /* mean training loss over the epoch's batches */
    double val_corr;          /* mean validation correlation after the epoch */
    double seconds;           /* wall time of the epoch, s */
};

/* Record (or replace, on resume) one epoch of a running run. */
int nsid_store_epoch(struct nsid_store *st, const char *run_id, const struct nsid_store_epoch *e,
                     struct nsid_err *err);

/* One summary metric (names: see the top of this file). */
struct nsid_store_metric {
    const char *scan;         /* data key or NSID_STORE_ALL */
    const char *split;        /* "train", "validation", "test" or "model" */
    const char *name;         /* metric name */
    double value;             /* NaN is stored as NULL */
};

/* Record (or replace) n metrics in one transaction. */
int nsid_store_metrics(struct nsid_store *st, const char *run_id, const struct nsid_store_metric *m, size_t n,
                       struct nsid_err *err);

/* Per-neuron results of one scan; any array may be NULL (stored as NULL). */
struct nsid_store_neurons {
    const char *scan;         /* data key */
    int64_t n;                /* neurons, in file order */
    const int64_t *unit_id;   /* (n) unit ids, NULL: none */
    const double *val_corr;   /* (n) single-trial validation correlation */
    const double *test_corr;  /* (n) single-trial test correlation */
    const double *test_corr_avg; /* (n) correlation with the repeat average */
    const double *oracle;     /* (n) leave-one-out oracle correlation */
    const double *fev;        /* (n) fraction of explainable variance */
    const double *feve;       /* (n) fraction of explainable variance explained */
    const double *gt_corr;    /* (n) correlation with the simulator's true rates */
    const double *true_xy;    /* (n, 2) true RF centre (x, y), simulator units (px) */
    const double *rf_xy;      /* (n, 2) learned readout position mapped by the affine fit into true units */
    const double *rf_dist;    /* (n) |rf_xy - true_xy| */
};

/* Record (or replace) one scan's per-neuron metrics in one transaction. */
int nsid_store_neurons(struct nsid_store *st, const char *run_id, const struct nsid_store_neurons *nm,
                       struct nsid_err *err);

/* A dataset (a scan file). Unknown fields are NULL or 0 and keep what is stored. */
struct nsid_store_dataset {
    const char *path;         /* the file as the run was given it, required */
    const char *sha256;       /* the scan's identity (hex, data/scanid.h); NULL: computed from path (file or tree) */
    const char *data_key;     /* e.g. "20457-5-9-0" */
    const char *animal;       /* animal id, as text */
    const char *image_set;    /* image set (equal sets show identical images), as text */
    int64_t n_neurons, n_trials, n_train, n_validation, n_test; /* sizes in the file, 0 = unknown */
};

/*
 * Upsert the dataset (bytes from the file when it exists) and link it to the run as scan
 * number position (0-based, the order of --data) with the training images and neurons the
 * run actually used after subsetting (0 = unknown).
 */
int nsid_store_run_dataset(struct nsid_store *st, const char *run_id, int64_t position,
                           const struct nsid_store_dataset *d, int64_t n_train_used, int64_t n_neurons_used,
                           struct nsid_err *err);

/* Upsert a dataset without a run (nsid-plan records the simulator's description). */
int nsid_store_dataset(struct nsid_store *st, const struct nsid_store_dataset *d, char sha_out[NSID_SHA256_HEX],
                       struct nsid_err *err);

/*
 * Record a file of the run with its sha256 and size, read now. Roles: "checkpoint" (the
 * run's model), "core" (the transferred core it loaded), "predictions", "log", ...
 */
int nsid_store_artifact(struct nsid_store *st, const char *run_id, const char *path, const char *role,
                        struct nsid_err *err);

/* How a stage ends. */
struct nsid_store_end {
    int status;               /* NSID_RUN_RUNNING (this stage is done, another follows),
                                 NSID_RUN_DONE (the run is finished) or NSID_RUN_FAILED */
    int exit_code;            /* the stage's exit code */
    const char *error;        /* message of a failure, NULL if none */
    double wall_s, cpu_s;     /* this stage's wall and CPU seconds, added to the run's totals */
};

/*
 * Set the run's status, ended time (UTC), exit code, error, and add the times. Ending a
 * run that is not 'running' is NSID_EINVAL (so a killed and restarted stage cannot mark a
 * run done that it never began).
 */
int nsid_store_run_end(struct nsid_store *st, const char *run_id, const struct nsid_store_end *e,
                       struct nsid_err *err);

/* Wall and CPU clocks of a stage. */
struct nsid_store_clock {
    struct timespec wall0;    /* CLOCK_MONOTONIC at start */
    struct timespec cpu0;     /* CLOCK_PROCESS_CPUTIME_ID at start */
};
void nsid_store_clock_start(struct nsid_store_clock *c);
void nsid_store_clock_read(const struct nsid_store_clock *c, double *wall_s, double *cpu_s);

/* ---- reading ------------------------------------------------------------------------ */

/* Status of a run; NSID_ENOTFOUND if the store has no such run. */
int nsid_store_run_status(struct nsid_store *st, const char *run_id, int *status, struct nsid_err *err);

/*
 * The id and status of the only run of a run.db (NSID_EFORMAT if it holds none or
 * several): what `nsid-db select` and nsid-train's parent lookup read.
 */
int nsid_store_only_run(struct nsid_store *st, char id[NSID_STORE_ID_MAX], int *status, struct nsid_err *err);

/*
 * The selection score of a run: metric ("all", "validation", "corr"). NSID_ENOTFOUND if
 * the run has none; NaN if it was recorded as undefined (NULL): selection must skip it.
 */
int nsid_store_score(struct nsid_store *st, const char *run_id, double *score, struct nsid_err *err);

/*
 * The id of the run that produced checkpoint ckpt, read from the run.db beside it
 * (dirname(ckpt)/run.db); id is "" (and 0 returned) when there is none: a checkpoint from
 * elsewhere has no parent run.
 */
int nsid_store_parent_of(const char *ckpt, char id[NSID_STORE_ID_MAX], struct nsid_err *err);

/* ---- merging, status, export -------------------------------------------------------- */

/* What one merge did. */
struct nsid_store_merge_stats {
    int64_t merged;           /* finished runs copied in (over a running or failed copy) */
    int64_t unchanged;        /* finished runs already merged: the same run, nothing to add */
    int64_t unfinished;       /* running/failed runs: status recorded, no results */
    int64_t extended;         /* finished runs already merged, the same run, that gained rows
                                 (a later evaluation): the new rows inserted, nothing replaced */
};

/*
 * Fold the runs of run_db into the store, one run per BEGIN IMMEDIATE transaction (the
 * file is ATTACHed alone, then DETACHed; read-only, immutable where this process cannot
 * write it). Before any run is merged the source is checked: an nsid schema of a known
 * version, every column of the store's copied tables present (copies go by column name),
 * every value of the store's type (INTEGER, REAL, TEXT; NOT NULL; a known status) and no
 * duplicate keys; a failure is NSID_EFORMAT (NSID_ENOTFOUND for an empty database) with
 * err->file = run_db, err->key the table or table.column.
 * A finished run the store does not hold finished is copied whole (replacing a running or
 * failed row) and its source recorded in run_sources. A finished run the store holds
 * finished is compared: the same run (equal config, parent, seeds, run_datasets and equal
 * values in every metrics, neuron_metrics and epochs row both hold; times, host and build
 * are provenance, not content) is unchanged, or extended with the rows only the source has;
 * another run is NSID_EINVAL naming run_db (err->file), the store and where its copy came
 * from (err->msg) and the run id (err->key), and the store keeps its run. A run that is not
 * done only updates the status of a run not already done, and brings no results.
 * Experiment names missing in the run.db come from the plan (plan_runs). Killing a merge
 * leaves each run fully merged or as before.
 */
int nsid_store_merge(struct nsid_store *into, const char *run_db, struct nsid_store_merge_stats *stats,
                     struct nsid_err *err);

/*
 * Merge runs_dir/<id>/run.db of every run of the store's current plan (plan_runs) that has
 * one, as nsid_store_merge does for each. A run.db that is still empty (its stage is just
 * starting) counts as unfinished, so merging while runs are in flight is safe.
 */
int nsid_store_merge_plan(struct nsid_store *into, const char *runs_dir, struct nsid_store_merge_stats *stats,
                          struct nsid_err *err);

/*
 * Count the runs of the current plan (plan_runs) by status: a run's own
 * runs_dir/<id>/run.db if it exists (read-only), else its row in this store, else
 * 'planned'. Without a plan, the runs table of the store is counted. counts is indexed by
 * enum nsid_run_status.
 */
int nsid_store_status(struct nsid_store *st, const char *runs_dir, int64_t counts[NSID_RUN_N_STATUS],
                      struct nsid_err *err);

/*
 * Run one SQL statement (several are refused) and print its rows to out: a header line of
 * column names, then one line per row, fields tab-separated (NULL as empty), or CSV
 * (RFC 4180 quoting via libcsv) if csv. *rows gets the row count (may be NULL).
 */
int nsid_store_query(struct nsid_store *st, const char *sql, FILE *out, bool csv, int64_t *rows,
                     struct nsid_err *err);

/*
 * Write a view or table as CSV with a header row to path (written to path.tmp, then
 * renamed). name must be a view or table of the store (NSID_ENOTFOUND otherwise).
 */
int nsid_store_export_csv(struct nsid_store *st, const char *name, const char *path, int64_t *rows,
                          struct nsid_err *err);

/* The names of the store's views, in schema order, one per call: i = 0, 1, ...; NULL at the end. */
const char *nsid_store_view_name(size_t i);

/* sha256 (hex) and size in bytes of a file, read in 1 MiB pieces. */
int nsid_store_hash_file(const char *path, char hex[NSID_SHA256_HEX], int64_t *bytes, struct nsid_err *err);

/* True if s is a valid run id (1..64 chars of [0-9A-Za-z_.-]). */
bool nsid_store_valid_id(const char *s);

#endif
