/*
 * spec.h - declarative experiment specs (experiments/<name>.yaml, read with libyaml).
 * docs/spec.md is the reference for users, with a complete example; this comment is the summary.
 *
 * A spec file holds one or more YAML documents; each document is one experiment, or a
 * "global profiles" document (only a `profiles:` key). An experiment:
 *
 *     experiment: fig5_direct            # required, unique over all files: [A-Za-z0-9_.-]+
 *     description: Direct training on the evaluation scan
 *     data: evaluation                   # a group of the data manifest (docs/data.md),
 *                                        #   or {group: NAME}, or {files: [a.h5, tree/]}
 *                                        #   (files relative to this spec file's folder)
 *     defaults:                          # run configuration keys (src/exp/config.h), nested
 *       train: {max_epochs: 200}         #   or dotted, as in a run config file
 *       model.readout.type: gaussian
 *     grid:                              # the cartesian product of these lists
 *       data.image_n: [50, 200, 500]
 *       train.seed: [1, 2, 3]
 *       var.core_images: [50, 200]       # var.NAME: a label of the run, not a config key
 *     variants:                          # each variant x each grid point (default: one variant "")
 *       - name: gaussian
 *         model.readout.type: gaussian   # a variant's value removes that key's grid axis
 *         var.curve: Gaussian
 *       - name: vgg16
 *         optional: true                 # skipped, with a note, when an input file is missing
 *         model.core.checkpoint: weights/vgg16.h5   # input files enter the run id by content hash
 *         data: {files: [my/scan.h5]}
 *         core: {...}                    # see below; also allowed at the experiment level
 *         plot: {curve: VGG16}
 *         search: {model.readout.gamma: {log: [1e-4, 0.5], n: 3}}   # replaces the experiment's
 *     search:                            # a hyperparameter search, chosen on validation score
 *       model.readout.gamma: {log: [0.1, 10], n: 3}  # or {values: [..]} or
 *                                        #   {random_log: [lo, hi], n: N, seed: S}
 *     select: [train.seed]               # axes whose runs compete: per group of runs that differ
 *                                        #   only in these (and the search keys), the best validation
 *                                        #   score is kept (docs/paper.md §6.5); none: every run counts
 *     core:                              # a transfer: the core comes from another experiment's run
 *       experiment: cores                #   the experiment
 *       where: {var.group: 11s, data.image_n: $data.image_n}   # filter; $KEY = this run's value
 *       rule: best_validation            #   the only rule: best validation over the selection group
 *     plot:                              # where the run lands in a figure (SQL views)
 *       figure: fig5                     #   fig3, fig3_ablation, fig4, fig5 or your own [A-Za-z0-9_.-]+
 *                                        #   (not fig1, sim_rf, sim_gt, training; docs/figures.md)
 *       curve: $var.curve                #   literal or $KEY: var.NAME, a config key, variant, data
 *       x: $data.image_n                 #   a number (images per scan)
 *       panel: ...                       #   style: ...
 *       y: test_corr                     #   the score drawn (a literal, one per figure): fraction_oracle
 *                                        #   (default), test_corr, val_corr, oracle, feve, gt_corr
 *     profiles:                          # per profile (smoke, quick, paper): what changes
 *       smoke:
 *         defaults: {train.max_epochs: 2}
 *         grid: {data.image_n: [50, 100]}   # replaces (or adds) axes
 *         search: {model.readout.gamma: {n: 1}}   # the same search with 1 value (or a new one)
 *         variants: [gaussian]          # only these variants
 *
 * A global profiles document gives defaults for every experiment of a profile:
 *
 *     profiles:
 *       smoke: {defaults: {train.max_epochs: 2}}
 *
 * Order of application for one run: config defaults, the experiment's defaults, the global
 * profile's defaults, the experiment profile's defaults, the grid point, the variant, the
 * search point, then the core reference.
 *
 * Every value is checked against the configuration's key table when the file is read, so
 * unknown keys, wrong types and values out of range are errors at the spec's line. Errors
 * are `file:line: key: reason` (NSID_EINVAL; NSID_EFORMAT for YAML syntax; NSID_EIO for an
 * unreadable file): unknown keys, wrong types, out of range, duplicate keys (also across
 * nested and dotted spellings), dangling or cyclic references, empty grids, duplicate
 * experiment or variant names.
 */
#ifndef NSID_SPEC_H
#define NSID_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* ---- an arena: every string and array of a spec set or plan, freed at once --------------- */

struct nsid_spec_arena_block;

struct nsid_spec_arena {
    struct nsid_spec_arena_block *head;  /* blocks, newest first */
};

/* n zeroed bytes (8-byte aligned) from the pool; NULL with err on allocation failure. */
void *nsid_spec_arena_alloc(struct nsid_spec_arena *p, size_t n, struct nsid_err *err);
/* A copy of s (NULL stays NULL). */
char *nsid_spec_arena_strdup(struct nsid_spec_arena *p, const char *s, struct nsid_err *err);
/* printf into a pool string. */
char *nsid_spec_arena_printf(struct nsid_spec_arena *p, struct nsid_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void nsid_spec_arena_free(struct nsid_spec_arena *p);
/*
 * NSID_GROW (base/alloc.h) for an array in the arena: room for one more item, the capacity doubling
 * from first; the old block stays in the arena (it never frees). 0, or NSID_ENOMEM with err set.
 */
#define NSID_SPEC_ARENA_GROW(p, arr, n, cap, first, err) \
    nsid_spec_arena_grow((p), &(arr), (n), &(cap), (first), sizeof *(arr), (err))
int nsid_spec_arena_grow(struct nsid_spec_arena *p, void *arrp, int n, int *cap, int first, size_t size,
                         struct nsid_err *err);

/* ---- the spec ------------------------------------------------------------------------------ */

/* One scalar setting: a config key, var.NAME, or a where/plot field. */
struct nsid_spec_value {
    const char *key;       /* dotted key */
    const char *text;      /* scalar text; a reference starts with '$' (ref = true) */
    bool quoted;           /* the scalar was quoted (a string) */
    bool ref;              /* text is "$KEY": the value of KEY in the current run */
    int line;              /* 1-based line in file */
};

/* How a search makes its values. */
enum nsid_spec_search_kind {
    NSID_SEARCH_VALUES = 0,     /* an explicit list (and every grid axis) */
    NSID_SEARCH_LOG = 1,        /* n values evenly spaced in log between lo and hi (n = 1: the geometric mean) */
    NSID_SEARCH_RANDOM_LOG = 2, /* n values log-uniform in [lo, hi] from a seeded stream */
    NSID_SEARCH_COUNT = 3,      /* a profile's {n: N}: the same search with N values */
};

/* A list of values for one key (a grid axis, a search). */
struct nsid_spec_axis {
    const char *key;
    struct nsid_spec_value *values;  /* n, each with .key = key (NULL for NSID_SEARCH_COUNT) */
    int n;
    int line;
    int kind;                        /* enum nsid_spec_search_kind */
    double lo, hi;                   /* log and random_log range */
    uint64_t seed;                   /* random_log stream seed */
};

/* data: a group of the data manifest, or files (HDF5 files or file-tree folders). */
struct nsid_spec_data {
    const char *group;     /* group name, NULL if files */
    const char **files;    /* n_files paths as written (nsid-plan: relative to the spec file's folder) */
    int n_files;
    int line;              /* 0: not given */
};

/* core: a reference to another experiment's runs. */
struct nsid_spec_ref {
    const char *experiment;        /* NULL: no reference */
    struct nsid_spec_value *where; /* n_where filters */
    int n_where;
    const char *rule;              /* "best_validation" */
    int line;
};

struct nsid_spec_variant {
    const char *name;              /* "" for the implicit single variant */
    struct nsid_spec_value *set;   /* config keys and var.* */
    int n_set;
    struct nsid_spec_data data;    /* line 0: inherit the experiment's */
    struct nsid_spec_ref core;     /* experiment NULL: inherit */
    struct nsid_spec_value *plot;  /* plot fields overriding the experiment's */
    int n_plot;
    struct nsid_spec_axis *search; /* searches replacing the experiment's (by key) */
    int n_search;
    bool optional;                 /* skip when an input file is missing */
    int line;
};

/* The overrides of one profile. */
struct nsid_spec_profile {
    const char *name;              /* "smoke", "quick" or "paper" */
    struct nsid_spec_value *defaults;
    int n_defaults;
    struct nsid_spec_axis *grid;   /* replaced or added axes */
    int n_grid;
    struct nsid_spec_axis *search; /* replaced searches, or {n: N} to resize one */
    int n_search;
    const char **variants;         /* only these variants; NULL: all */
    int n_variants;
    int line;
};

struct nsid_spec_experiment {
    const char *name;
    const char *description;
    const char *file;              /* spec file */
    int line;                      /* line of `experiment:` */
    struct nsid_spec_data data;
    struct nsid_spec_value *defaults;
    int n_defaults;
    struct nsid_spec_axis *grid;
    int n_grid;
    struct nsid_spec_variant *variants; /* at least one (the implicit "" variant) */
    int n_variants;
    bool explicit_variants;        /* variants: was given */
    struct nsid_spec_axis *search;
    int n_search;
    struct nsid_spec_value *select;    /* keys only (text unused) */
    int n_select;
    struct nsid_spec_value *plot;
    int n_plot;
    struct nsid_spec_ref core;
    struct nsid_spec_profile *profiles;
    int n_profiles;
};

/* The metrics a plot's y may name, for messages; nsid_spec_plot_metric_known checks one. */
#define NSID_SPEC_PLOT_METRICS "fraction_oracle, test_corr, val_corr, oracle, feve, gt_corr"
#define NSID_SPEC_PLOT_METRIC_DEFAULT "fraction_oracle"
bool nsid_spec_plot_metric_known(const char *name);

/* Everything read from a set of spec files. */
struct nsid_spec_set {
    struct nsid_spec_experiment *experiments;  /* in file order */
    int n_experiments;
    struct nsid_spec_profile *global;          /* global profile defaults */
    int n_global;
    int cap_experiments, cap_global;           /* allocated lengths (grown geometrically) */
    struct nsid_spec_arena pool;                     /* owns everything above */
};

/*
 * Read the events of an initialised libyaml parser (struct yaml_parser_s is yaml_parser_t) to the
 * end of the stream and refuse, at its line of file, a collection nested deeper than 64 levels or
 * an alias of a mapping or list, before anything is loaded (the loader builds the whole tree first).
 * Syntax errors are left to the caller's loader. Used for specs and data manifests.
 */
struct yaml_parser_s;
int nsid_spec_yaml_bound(struct yaml_parser_s *p, const char *file, struct nsid_err *err);

/* Known profile names. */
bool nsid_spec_profile_known(const char *name);

/* An empty set (nsid_spec_set_free works on it). */
void nsid_spec_set_init(struct nsid_spec_set *s);

/*
 * Read one spec file and append its experiments and global profiles to s. An empty file,
 * a file without an experiment or global profiles, a binary file or a missing file is an
 * error naming the file. On error s keeps what earlier files added, and may hold part of
 * this file: free it.
 */
int nsid_spec_load(struct nsid_spec_set *s, const char *path, struct nsid_err *err);

/* The same for text in memory (name is the file name in errors). */
int nsid_spec_load_string(struct nsid_spec_set *s, const char *text, size_t len, const char *name,
                          struct nsid_err *err);

/*
 * Checks across files and documents: unique experiment names, references to existing
 * experiments without cycles, known variants in profiles, select keys that are axes.
 */
int nsid_spec_check(const struct nsid_spec_set *s, struct nsid_err *err);

/*
 * The n values of a log or random_log search of key (kind, lo, hi, seed as in
 * struct nsid_spec_axis), formatted for the key's type, into *out from the pool.
 */
int nsid_spec_search_values(struct nsid_spec_arena *pool, const char *key, int kind, double lo, double hi, uint64_t seed,
                            int n, int line, struct nsid_spec_value **out, struct nsid_err *err);

/* The experiment named name, or NULL. */
const struct nsid_spec_experiment *nsid_spec_find(const struct nsid_spec_set *s, const char *name);

/* Free everything. */
void nsid_spec_set_free(struct nsid_spec_set *s);

#endif
