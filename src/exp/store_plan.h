/*
 * store_plan.h - the plan's part of the results store: what nsid-plan records (plan_runs,
 * plan_selections, plan_figures, dataset_groups, plan_info and a 'planned' row per new run)
 * and what `nsid-plan --explain` and `--diff` read back. The SQL is the store's
 * (store_plan.c); the planner (exp/plan_write.c) passes plain values.
 *
 * Recording a plan is one transaction, all or nothing:
 *
 *     if (nsid_store_plan_begin(&st, err) < 0) return err->code;   // BEGIN, the plan's tables emptied
 *     for (each run)       rc = nsid_store_plan_run(&st, &row, err);
 *     for (each candidate) rc = nsid_store_plan_selection(&st, sel_id, rule, run_id, err);
 *     ...                  nsid_store_plan_figure, nsid_store_plan_group, nsid_store_plan_info
 *     if (rc < 0) { nsid_store_rollback(&st); return rc; }
 *     return nsid_store_plan_commit(&st, err);                       // stale 'planned' runs dropped, COMMIT
 *
 * Errors as store.h's: NSID_EIO naming the database (err->file), the table (err->key) and
 * the statement; NSID_ENOTFOUND / NSID_EINVAL for a run id no planned run has, or several.
 */
#ifndef NSID_STORE_PLAN_H
#define NSID_STORE_PLAN_H

#include <stdio.h>

#include "exp/store.h"

/* One row of plan_runs (a run as one experiment plans it; a run shared by experiments has one per experiment). */
struct nsid_store_plan_run {
    const char *experiment;      /* experiment name */
    const char *id;              /* run id */
    const char *variant;         /* variant name ("" for none) */
    const char *sel_group;       /* runs competing in best-by-validation selection */
    const char *data_group;      /* the data group ("files": data named in the spec) */
    int n_scans;                 /* scans the run trains on */
    const char *figure, *panel, *curve, *style; /* plot coordinates; NULL: none */
    double x;                    /* plot x; NaN: none */
    const char *vars_json;       /* the spec's var.* values, JSON */
    const char *identity;        /* the JSON whose sha256 is id */
    const char *data_paths_json; /* the data files, a JSON array */
    const char *core_selection;  /* id of the core selection the run transfers from; NULL: none */
    const char *spec;            /* file:line of the variant */
    const char *config_json;     /* canonical configuration: also records the run as 'planned' in runs
                                    (a run not yet started takes the new configuration); NULL: no runs row */
};

/* BEGIN IMMEDIATE and empty the plan's tables (plan_runs, plan_selections, plan_info, dataset_groups, plan_figures). */
int nsid_store_plan_begin(struct nsid_store *st, struct nsid_err *err);

/* Insert a plan_runs row, and the 'planned' runs row when r->config_json is set. */
int nsid_store_plan_run(struct nsid_store *st, const struct nsid_store_plan_run *r, struct nsid_err *err);

/* One candidate run of core selection id (its rule: "best_val", ...). */
int nsid_store_plan_selection(struct nsid_store *st, const char *id, const char *rule, const char *candidate,
                              struct nsid_err *err);

/* A plot declaration: figure drawn from experiment, metric (plot.y, "" none), x key ("" a literal), spec file:line. */
int nsid_store_plan_figure(struct nsid_store *st, const char *figure, const char *experiment, const char *metric,
                           const char *x_key, const char *spec, struct nsid_err *err);

/* Scan number position of data group grp (label may be NULL): the dataset's sha256 and its path. */
int nsid_store_plan_group(struct nsid_store *st, const char *grp, const char *label, int position, const char *dataset,
                          const char *path, struct nsid_err *err);

/* One key of plan_info (profile, specs, groups, results, counts, planned_at). */
int nsid_store_plan_info(struct nsid_store *st, const char *key, const char *value, struct nsid_err *err);

/* Delete the 'planned' runs the plan no longer has, then COMMIT; on failure everything is rolled back. */
int nsid_store_plan_commit(struct nsid_store *st, struct nsid_err *err);

/* ---- reading ------------------------------------------------------------------------- */

/*
 * The full id of the planned run whose id starts with prefix: NSID_EINVAL if prefix is not
 * a run id or several planned runs match, NSID_ENOTFOUND if none does.
 */
int nsid_store_plan_find(struct nsid_store *st, const char *prefix, char id[NSID_STORE_ID_MAX], struct nsid_err *err);

/* The configuration inside run id's identity, JSON, into a new NSID_ALLOC string (NSID_EFORMAT if none). */
int nsid_store_plan_config(struct nsid_store *st, const char *id, char **json, struct nsid_err *err);

/* --explain's lines about run id (indented two spaces): experiment, variant, spec, status, data, core. */
int nsid_store_plan_explain(struct nsid_store *st, const char *id, FILE *out, struct nsid_err *err);

/* --diff's lines about runs a and b: where each is planned, then their data lists' differences (*n_data of them). */
int nsid_store_plan_diff_head(struct nsid_store *st, const char *a, const char *b, FILE *out, struct nsid_err *err);
int nsid_store_plan_diff_data(struct nsid_store *st, const char *a, const char *b, FILE *out, int *n_data,
                              struct nsid_err *err);

#endif
