/*
 * plan.h - expanding experiment specs into runs with content-hashed ids, and what
 * nsid-plan writes: results/plan.mk (the make DAG), results/runs/<id>/run.json (each run's
 * configuration for nsid-train) and the plan tables of results/results.db.
 *
 *     struct nsid_spec_set specs;  ... nsid_spec_load(&specs, "experiments/fig5.yaml", err) ...
 *     struct nsid_plan plan;
 *     struct nsid_plan_opts o = {.profile = "quick", .groups = "data/quick/groups.json",
 *                                .results = "results"};
 *     if (nsid_plan_build(&plan, &specs, &o, err) < 0) ...     // every error: file:line: key
 *     nsid_plan_write_configs(&plan, "results", err);            // run.json (rewritten only if changed)
 *     nsid_plan_write_make(&plan, "results/plan.mk", err);
 *     nsid_plan_record(&plan, &store, err);                      // plan_runs, datasets, 'planned' runs
 *     nsid_plan_free(&plan);
 *
 * A run's identity is a canonical JSON document
 *     {"config":<nsid_config_canonical with model.core.checkpoint replaced>,
 *      "data":["<identity of each scan, in --data order>"],"nsid_identity":1}
 * where a scan's identity is its content hash (data/scanid.h: the sha256 of an HDF5 file, the
 * hash of a file tree's sorted listing of names, sizes and file hashes), a core checkpoint given as a file becomes "sha256:<hex of its content>" and a core
 * chosen from other runs becomes "select:<selection id>", the sha256 of the rule and the
 * sorted ids of the candidate runs (so it changes exactly when a candidate changes). The run
 * id is the sha256 of the identity. Paths never enter it: moving the data or the results
 * changes no id; reformatting a spec, reordering keys or spelling out a default changes none;
 * changing any value of the configuration or any byte of an input changes it.
 *
 * The core of a transfer run is chosen at make time, when its candidates have finished: a
 * target results/select/<selection id>.ckpt runs `nsid-db select`, which writes the best
 * candidate's checkpoint path; the transfer run depends on it.
 */
#ifndef NSID_PLAN_H
#define NSID_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "base/sha256.h"
#include "exp/config.h"
#include "exp/identity.h"
#include "exp/spec.h"
#include "exp/store.h"

/* One scan of the manifest's optional scans: metadata. */
struct nsid_plan_scan {
    const char *file;         /* path (relative to the working directory) */
    const char *data_key;     /* "20457-5-9-0", NULL unknown */
    const char *animal;       /* NULL unknown */
    const char *image_set;    /* NULL unknown */
    int64_t n_neurons, n_train, n_validation, n_test, n_trials; /* 0 unknown */
};

/* One dataset group of the data manifest. */
struct nsid_plan_group {
    const char *name;         /* "4s_matched" */
    const char *label;        /* "4-S: matched" (the name if not given) */
    const char **files;       /* n paths (relative to the working directory) */
    const char **names;       /* the n entries as the manifest writes them (for messages) */
    int *lines;               /* the manifest line of each entry */
    int n;
    int line;                 /* the manifest line of the group */
    const char **sha;         /* content hashes (data/scanid.h), filled by nsid_plan_build */
};

/*
 * The data manifest (docs/data.md): groups.json as nsid-simulate writes it, or a user's
 * YAML or JSON file with the same structure.
 */
struct nsid_plan_groups {
    const char *path;         /* the manifest file, NULL if none */
    struct nsid_plan_group *groups;
    int n_groups;
    struct nsid_plan_scan *scans;
    int n_scans;
};

struct nsid_plan_opts {
    const char *profile;      /* "smoke", "quick" or "paper" */
    const char *groups;       /* data description, NULL: only data files named in specs */
    const char *results;      /* results folder (run.json, select/ and runs/ paths), "results" if NULL */
    const char *hash_cache;   /* file caching content hashes by (path, size, mtime), NULL: none */
    bool cache_readonly;      /* read hash_cache but do not update it (nsid-plan --check) */
    FILE *log;                /* notes (skipped optional variants, counts), NULL: quiet */
    long long max_runs;       /* refuse a plan of more runs, before expanding (0: NSID_PLAN_MAX_RUNS) */
};

/* Default largest plan (nsid-plan --max-runs): a grid multiplied out is counted before expansion. */
#define NSID_PLAN_MAX_RUNS 100000

/* One planned run (one per experiment and grid point; the same id may recur across experiments). */
struct nsid_plan_run {
    char id[NSID_SHA256_HEX];
    const struct nsid_spec_experiment *exp;
    const struct nsid_spec_variant *variant;
    struct nsid_config *config;   /* resolved; model.core.checkpoint "" when a selection provides it */
    const char *canonical;        /* canonical JSON of config (what run.json holds) */
    const char *identity;         /* the JSON whose sha256 is id */
    const char *const *data;      /* n_data data paths, in --data order */
    const char **data_sha;        /* their sha256 */
    int n_data;
    const char *data_group;       /* group name, or "files" */
    int selection;                /* index into nsid_plan.selections of the core, -1 if none */
    const char *sel_group;        /* runs of exp with the same sel_group compete (best validation) */
    const char *figure;           /* plot fields: figure NULL if the run is in no figure */
    const char *panel, *curve, *style;  /* "" if unset */
    double x;                     /* NAN if unset */
    const char *y;                /* plot.y (a metric) as declared, NULL if not given */
    const char *x_key;            /* plot.x's $KEY (the axis label), NULL if a literal or unset */
    const char *plot_spec;        /* "file:line" of the plot declaration that set the figure */
    struct nsid_spec_value *vars; /* n_vars var.* values of the run */
    int n_vars;
    const char *vars_json;        /* {"NAME":value,...} */
    const char *point;            /* "key=value, ..." of the grid and search point (comments, errors) */
    int first;                    /* index of the first run with this id, or -1 if this is it */
};

/* A make-time choice of a core among finished runs. */
struct nsid_plan_selection {
    char id[NSID_SHA256_HEX];     /* sha256 of rule and sorted candidate ids */
    const char *rule;             /* "best_validation" */
    int *candidates;              /* n run indices (first occurrences), sorted by id */
    int n;
};

struct nsid_plan {
    const char *profile;
    const char *results;
    struct nsid_plan_groups groups;
    struct nsid_plan_run *runs;
    int n_runs, cap_runs;
    struct nsid_plan_selection *selections;
    int n_selections, cap_selections;
    int n_unique;                 /* distinct run ids */
    int *index;                   /* open-addressing table id -> first run index (capacity index_cap) */
    int index_cap;
    struct nsid_spec_arena pool;        /* owns every string and array above */
};

/*
 * Read a data manifest (groups.json, or YAML/JSON written by hand; docs/data.md); files
 * relative to its folder. Every error names the file and line.
 */
int nsid_plan_groups_load(struct nsid_plan_groups *g, const char *path, struct nsid_spec_arena *pool,
                          struct nsid_err *err);

/*
 * Expand every experiment of specs (nsid_spec_check must have passed) for opts->profile:
 * resolve data groups and content hashes, core references (dangling or ambiguous ones are
 * errors at the reference's line), validate every run's configuration, compute identities
 * and ids. On error the plan is freed.
 */
int nsid_plan_build(struct nsid_plan *p, const struct nsid_spec_set *specs, const struct nsid_plan_opts *opts,
                    struct nsid_err *err);

/* Write results/runs/<id>/run.json of every run whose file is missing or differs. */
int nsid_plan_write_configs(const struct nsid_plan *p, struct nsid_err *err);

/*
 * Write the make fragment (atomically): variables NSID_PLAN_RUNS (ids), NSID_PLAN_STAMPS,
 * NSID_PLAN_DBS, NSID_PLAN_DATA, and one rule per run and per selection. Recipes call
 * $(NSID_RUN) ID SELECTION_FILE|- DATA... and $(NSID_DB) select; order-only prerequisites
 * $(NSID_RUN_DEPS) (the binaries) and the data files.
 */
int nsid_plan_write_make(const struct nsid_plan *p, const char *path, const char *const *specs, int n_specs,
                         struct nsid_err *err);

/*
 * Record the plan in a store, in one transaction: plan_runs, plan_selections, plan_info,
 * the data description's datasets and dataset_groups, a 'planned' runs row for each new
 * run, and no 'planned' row of a run that left the plan.
 */
int nsid_plan_record(const struct nsid_plan *p, struct nsid_store *st, const char *const *specs, int n_specs,
                     struct nsid_err *err);

void nsid_plan_free(struct nsid_plan *p);

/* nsid_identity_plan: exp/identity.h */

/* ---- reading a recorded plan back (nsid-plan --explain / --diff) ---------------------------- */

/*
 * Print a run's id, experiments, variant, grid point, data, core selection, and its
 * configuration key by key with '*' on values that differ from the default. id may be a
 * unique prefix. NSID_ENOTFOUND if no planned run matches, NSID_EINVAL if several do.
 */
int nsid_plan_explain(struct nsid_store *st, const char *id, FILE *out, struct nsid_err *err);

/* Print why two runs' ids differ: configuration keys, data files, core selection. */
int nsid_plan_diff(struct nsid_store *st, const char *a, const char *b, FILE *out, struct nsid_err *err);

#endif
