/*
 * store_runs.h - the results store's runs at a glance: listing, comparing, tagging, noting and
 * removing the runs a plan no longer holds (`nsid-db runs / compare / tag / note / gc`,
 * docs/results.md).
 *
 *     struct nsid_store st;
 *     nsid_store_open_readonly(&st, "results/results.db", err);
 *     char id[NSID_STORE_ID_MAX];
 *     nsid_store_resolve_id(&st, "7de3", NSID_STORE_IDS_ALL, id, err);   // a unique prefix -> the id
 *     struct nsid_store_runs_query q = {.experiment = "fig5", .sort = "-test_corr", .limit = 10};
 *     nsid_store_runs(&st, &q, NSID_STORE_TABLE, stdout, err);
 *
 * Every function reads or writes through the store's connection; a failure leaves the store as
 * it was (writes are one transaction) and fills err naming the store (file), the run, key or
 * option (key) and what was wrong.
 */
#ifndef NSID_STORE_RUNS_H
#define NSID_STORE_RUNS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "exp/store.h"

/* Width of the table `runs` and `compare` print (an 80-column terminal). */
#define NSID_STORE_TABLE_WIDTH 80

/* Output formats of nsid_store_runs. */
enum nsid_store_format {
    NSID_STORE_TABLE = 0,    /* fits NSID_STORE_TABLE_WIDTH columns: ids abbreviated, values elided */
    NSID_STORE_CSV = 1,      /* every column, full values (RFC 4180) */
    NSID_STORE_JSON = 2,     /* an array of objects, full values */
};

/* Which runs an id prefix is resolved among. */
enum nsid_store_id_scope {
    NSID_STORE_IDS_ALL = 0,       /* the store's runs and the plan's */
    NSID_STORE_IDS_PLANNED = 1,   /* the current plan's only (nsid-plan --explain, --diff) */
};

/*
 * The full id of the run whose id is, or starts with, prefix, among scope's runs: the one
 * resolver of every command that takes a run id. Several matches: NSID_EINVAL listing them
 * (up to 12); none: NSID_ENOTFOUND. err->key = the prefix.
 */
int nsid_store_resolve_id(struct nsid_store *st, const char *prefix, enum nsid_store_id_scope scope,
                          char id[NSID_STORE_ID_MAX], struct nsid_err *err);

/* Which runs `runs` shows, and in which order. Every field may be zero/NULL (no filter). */
struct nsid_store_runs_query {
    const char *experiment;         /* the run's experiment */
    const char *status;             /* planned, running, done or failed */
    const char *const *match;       /* KEY=VALUE: a configuration key (numbers compared as numbers) or a tag */
    int n_match;
    const char *const *tags;        /* KEY or KEY=VALUE: the run has that tag (with that value) */
    int n_tags;
    const char *where;              /* an SQL expression over the columns of docs/results.md, read-only */
    const char *sort;               /* KEY[,-KEY...]: a column, configuration key or tag; '-' descending;
                                       NULL: experiment, variant, run_id */
    int64_t limit;                  /* at most this many rows; 0: all */
};

/*
 * Print one row per run matching q: id, experiment, variant, the configuration keys whose values
 * differ across the rows shown (runs.config flattened to dotted keys), tags, status, epochs,
 * validation and test correlation, wall time. Bad filters (an unknown key, status or sort key, a
 * malformed or writing --where) are NSID_EINVAL with key naming the option.
 */
int nsid_store_runs(struct nsid_store *st, const struct nsid_store_runs_query *q, enum nsid_store_format format,
                    FILE *out, struct nsid_err *err);

/*
 * Compare runs ids[0..n) (full ids, n >= 2): the configuration keys that differ, the data that
 * differ (run_datasets), tags and notes, the summary scores side by side, and per-neuron
 * test_corr differences of each run against the first (neurons matched by scan and unit id):
 * mean, quantiles, how many improved and got worse.
 */
int nsid_store_compare(struct nsid_store *st, const char *const *ids, int n, FILE *out, struct nsid_err *err);

/*
 * Set tag key = value on run (value NULL: remove the tag, NSID_ENOTFOUND if it has none). key:
 * 1..64 chars of [A-Za-z0-9_.-]. A run the store does not hold (runs or plan) is NSID_ENOTFOUND.
 */
int nsid_store_tag(struct nsid_store *st, const char *run_id, const char *key, const char *value,
                   struct nsid_err *err);

/* Add a note (non-empty text) to run, stamped with the time (UTC); NSID_ENOTFOUND for a missing run. */
int nsid_store_note(struct nsid_store *st, const char *run_id, const char *text, struct nsid_err *err);

/*
 * Garbage-collect the runs the current plan (plan_runs) no longer holds: every run of the store's
 * runs table and every folder runs_dir/<id> (a valid run id) whose id the plan lacks, except a run
 * a kept run depends on, at any depth: its parent (runs.parent, a transferred core), a checkpoint
 * its configuration names (model.core.checkpoint = .../<id>/checkpoint.h5), the core a current
 * selection chose (dirname(runs_dir)/select/<selection>.ckpt) or another of its candidates. A
 * folder holding neither run.json nor run.db is no run's and is left alone. Lists them to out; with remove,
 * deletes their rows from every table in one transaction, then (after the commit) their folders.
 * A store without a plan is refused (NSID_EINVAL). remove needs a store opened read-write.
 */
int nsid_store_gc(struct nsid_store *st, const char *runs_dir, bool remove, FILE *out, struct nsid_err *err);

#endif
