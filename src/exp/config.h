/*
 * config.h - the run configuration: one key table, YAML/JSON files, --set overrides,
 * a canonical JSON echo and its sha256 (the run id).
 *
 * Every number of training, model and data is a key with the paper's value as default
 * (`nsid_config_print_help` lists them; docs/config.md is that list). Keys are dotted
 * paths, "train.lr", "model.readout.gamma", "data.image_n". In a file, the key of a
 * value is the dot-joined path of the mapping keys leading to it, so these are the same:
 *
 *     model:                         model.readout:            model.readout.gamma: 2.5
 *       readout:                       gamma: 2.5
 *         gamma: 2.5
 *
 * and any mix is fine, but one path may be given only once per file (a duplicate is an
 * error, also across spellings). JSON is read by the same parser (YAML is a JSON superset).
 * Values: integers ([+-]digits), numbers (decimal or exponent notation, finite), true /
 * false, strings (plain or quoted), enum names. Quoted scalars are strings: "5" is not an
 * integer. Null values, lists, aliases and explicit tags are errors. On the command line
 * `--set key=value` takes the value as a plain scalar (an empty value is an empty string).
 *
 *     struct nsid_config c;
 *     nsid_config_init(&c);                                  // defaults
 *     if (nsid_config_parse_file(&c, "run.yaml", err) < 0 ||
 *         nsid_config_set(&c, "train.lr=0.001", err) < 0 ||
 *         nsid_config_validate(&c, err) < 0) { ... }          // "run.yaml:12: train.lr: ..."
 *     char id[NSID_SHA256_HEX];
 *     nsid_config_id(&c, id, err);                           // sha256 of the canonical JSON
 *
 * Defaults per readout type: a few keys take their default from model.readout.type, as the
 * authors' model builders have them (docs/config.md, "Defaults per readout type"): with
 * `--set model.readout.type=factorized` alone, model.core.gamma_input and model.readout.gamma
 * are the factorized model's. A key that was given (file, spec, --set) keeps its value
 * whatever the type and whenever it was given; the canonical form holds the resolved values.
 *
 * Errors are NSID_EINVAL (bad key or value; NSID_EFORMAT for YAML syntax, NSID_EIO for an
 * unreadable file) with err.file/err.line where the value came from ("--set" for
 * overrides) and err.key the full dotted key. On error the config may hold the keys
 * applied before the bad one: discard it.
 *
 * The canonical form: compact JSON, nested objects, keys sorted at every level, every key
 * present (defaults filled in), integers as digits, doubles in their shortest round-trip
 * decimal form (exponent notation below 1e-4 and from 1e16, no '+' or leading zeros in
 * exponents, -0 as 0), strings JSON-escaped. Reformatting a file, reordering keys or
 * spelling out a default leaves it unchanged; changing any value changes it.
 */
#ifndef NSID_CONFIG_H
#define NSID_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "base/keys.h"
#include "base/sha256.h"
#include "exp/schedule.h"

#define NSID_CONFIG_STR_MAX 1024 /* bytes of a string value, including the NUL */
#define NSID_CONFIG_MAX_KEYS 96  /* capacity of the provenance table (>= the key count) */

/* Enum values (the stored int is the index of the name in the key's name list). */
enum nsid_cfg_core_type { NSID_CFG_CORE_SE2D = 0, NSID_CFG_CORE_VGG16 = 1 };
enum nsid_cfg_readout_type {
    NSID_CFG_READOUT_GAUSSIAN = 0,
    NSID_CFG_READOUT_FACTORIZED = 1,
    NSID_CFG_READOUT_POINTPOOLED = 2,
};
enum nsid_cfg_grid_predictor { NSID_CFG_GRID_CORTEX = 0, NSID_CFG_GRID_NONE = 1 };

/* train.*: optimisation, early stopping, LR schedule (docs/paper.md §4). */
struct nsid_cfg_train {
    double lr;              /* Adam learning rate */
    int64_t batch_size;     /* trials per batch */
    double adam_beta1, adam_beta2, adam_eps;
    int64_t max_epochs;     /* epoch budget */
    int64_t patience;       /* epochs without improvement (early stopping and LR plateau) */
    double tolerance;       /* absolute improvement threshold of the validation correlation */
    double lr_decay_factor; /* LR multiplier on a plateau */
    double min_lr;          /* LR floor */
    int64_t lr_decay_steps; /* rounds of early stopping with best-state restore */
    int64_t lr_cooldown;    /* ReduceLROnPlateau cooldown, epochs */
    double lr_eps;          /* ReduceLROnPlateau: smaller LR changes are skipped */
    bool restore_best;      /* restore the best state after each round and at the end */
    bool scale_loss;        /* multiply the Poisson loss by sqrt(N_trials_in_file / B) */
    double loss_bias;       /* Poisson loss: log(rate + bias) */
    int64_t seed;           /* master seed: initialisation, shuffling, sampling streams */
    bool detach_core;       /* transfer: core frozen, only readouts train */
};

/* model.core.* */
struct nsid_cfg_core {
    int type;               /* enum nsid_cfg_core_type */
    bool random;            /* the core is random and frozen: no weights are loaded */
    char checkpoint[NSID_CONFIG_STR_MAX]; /* core weights: nsid checkpoint.h5 (se2d) or VGG16 HDF5; "" none */
    int64_t layers, hidden_channels, input_kern, hidden_kern;
    bool pad_input, depth_separable;
    double bn_momentum, bn_eps; /* SE2d BatchNorm (PyTorch momentum convention) */
    double gamma_input;     /* Laplace L2-norm penalty on the first layer */
    double vgg_bn_momentum; /* the BatchNorm after VGG16 conv2_2 */
};

/* model.readout.* */
struct nsid_cfg_readout {
    int type;               /* enum nsid_cfg_readout_type */
    double gamma;           /* L1 weight of the readout features (gamma_readout) */
    bool share_features;    /* share features across scans by multi_match_id */
    double init_mu_range, init_sigma, init_noise; /* Gaussian initialisation */
    int grid_mean_predictor;      /* enum nsid_cfg_grid_predictor */
    int64_t grid_hidden_layers, grid_hidden_features;
    bool grid_final_tanh;
    double init_transform_scale;  /* affine grid predictor: scale * random orthogonal */
    double factorized_init_noise; /* factorized readout initialisation std */
    bool normalize;               /* factorized: L2-normalise spatial masks */
    int64_t pool_steps, pool_kern; /* point-pooled readout */
    double init_range;            /* point-pooled grid ~ U(-r, r) */
};

struct nsid_cfg_model {
    struct nsid_cfg_core core;
    struct nsid_cfg_readout readout;
    bool shifter;           /* model.shifter.enabled */
    bool modulator;         /* model.modulator.enabled */
};

/* data.*: subsets and preprocessing (docs/paper.md §5.4-5.5); 0 counts mean "all". */
struct nsid_cfg_data {
    int64_t image_n, image_base_seed;
    int64_t neuron_n, neuron_base_seed, exclude_neuron_n;
    int64_t multi_match_n, multi_match_base_seed, multi_match_heldout_n;
    bool multi_match_heldout; /* draw from the held-out ids */
    bool normalize_images;  /* z-score images with the file's statistics (VGG16 runs) */
    bool drop_nan_trials;   /* drop trials with NaN responses instead of failing */
};

struct nsid_config {
    struct nsid_cfg_train train;
    struct nsid_cfg_model model;
    struct nsid_cfg_data data;
    /* provenance of each key (table order), for error messages; not part of the canonical form */
    char file[NSID_ERR_FILE_MAX];            /* the file parsed last, "" if none */
    int line[NSID_CONFIG_MAX_KEYS];          /* > 0: line in file; -1: --set; 0: default */
    bool given[NSID_CONFIG_MAX_KEYS];        /* set by a file, a spec or --set (not a default) */
};

/* The table (sorted by name; rows are base/keys.h's, set by nsid_keys_set's rules) and its length. */
const struct nsid_key *nsid_config_keys(size_t *n);
/* The entry of a full key name, or NULL. */
const struct nsid_key *nsid_config_find(const char *name);

/* Fill every key with its default (and clear provenance). */
void nsid_config_init(struct nsid_config *c);

/* Parse a YAML or JSON file into c (keys not in the file keep their value). */
int nsid_config_parse_file(struct nsid_config *c, const char *path, struct nsid_err *err);
/* The same for text in memory; name is used in error messages. */
int nsid_config_parse_string(struct nsid_config *c, const char *text, size_t len, const char *name,
                             struct nsid_err *err);

/* Apply one "key=value" override (file "--set" in errors). */
int nsid_config_set(struct nsid_config *c, const char *assignment, struct nsid_err *err);

/*
 * Set one key from its text (the building block of the parsers, and of experiment specs):
 * quoted says the scalar was quoted (only string and enum keys accept it); file/line are
 * recorded as provenance and used in errors (line -1 for --set).
 */
int nsid_config_set_value(struct nsid_config *c, const char *key, const char *value, bool quoted,
                          const char *file, int line, struct nsid_err *err);

/*
 * What a stage's main does: defaults, then the file (if path is not NULL), then each
 * "key=value" of sets in order, then nsid_config_validate. Stops at the first error.
 */
int nsid_config_load(struct nsid_config *c, const char *path, const char *const *sets, int n_sets,
                     struct nsid_err *err);

/* Cross-key checks (a frozen core needs weights or random: true, ...); see config.c. */
int nsid_config_validate(const struct nsid_config *c, struct nsid_err *err);

/*
 * Write the canonical JSON (see top) into buf (n bytes incl. NUL, truncated if short;
 * buf may be NULL when n is 0). Returns its length without the NUL, like snprintf.
 */
size_t nsid_config_canonical(const struct nsid_config *c, char *buf, size_t n);

/* sha256 hex of the canonical JSON: the run id. Fails only on allocation failure. */
int nsid_config_id(const struct nsid_config *c, char hex[NSID_SHA256_HEX], struct nsid_err *err);

/* Canonical text of one key's value (as in the JSON); returns its length like snprintf. */
size_t nsid_config_format_value(const struct nsid_config *c, const struct nsid_key *k, char *buf,
                                size_t n);

/* Print "key: a -> b" for every key whose canonical value differs; returns how many. */
int nsid_config_diff(const struct nsid_config *a, const struct nsid_config *b, FILE *f);

/*
 * Print the key table (name, type, default, bounds, doc), one key per line; a key whose
 * default depends on model.readout.type shows the gaussian one and lists the others in its doc.
 */
void nsid_config_print_help(FILE *f);

/*
 * The default of key `name` for readout type `readout_type` (enum nsid_cfg_readout_type) into
 * *value; false if that key's default does not depend on the readout type.
 */
bool nsid_config_readout_default(const char *name, int readout_type, double *value);

/* The early-stopping / LR-schedule options of c (train.*). */
void nsid_config_schedule_opts(const struct nsid_config *c, struct nsid_schedule_opts *o);


#endif
