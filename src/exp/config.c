/* config.c - the run configuration: key table, YAML/JSON parsing, canonical form (see config.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/alloc.h"
#include "base/infile.h"
#include "base/json.h"

/* ---- the key table ------------------------------------------------------------------- */

/* offsetof(struct nsid_config, f), and a compile error unless the field has type T. */
#define FIELD(f, T) \
    (offsetof(struct nsid_config, f) + 0 * sizeof(char[_Generic(((struct nsid_config *)0)->f, T: 1, default: -1)]))

#define KINT(n, f, lo, hi, def, d)                                                                   \
    {.name = n, .type = NSID_KEY_INT, .imin = lo, .imax = hi, .idef = def, .offset = FIELD(f, int64_t), \
     .size = sizeof(int64_t), .doc = d}
#define KDBL(n, f, fl, lo, hi, def, d)                                                                   \
    {.name = n, .type = NSID_KEY_DOUBLE, .flags = fl, .dmin = lo, .dmax = hi, .ddef = def,               \
     .offset = FIELD(f, double), .size = sizeof(double), .doc = d}
#define KBOOL(n, f, def, d) \
    {.name = n, .type = NSID_KEY_BOOL, .idef = def, .offset = FIELD(f, bool), .size = sizeof(bool), .doc = d}
#define KSTR(n, f, def, d)                                                                               \
    {.name = n, .type = NSID_KEY_STRING, .sdef = def, .offset = FIELD(f, char *), .size = NSID_CONFIG_STR_MAX, \
     .doc = d}
#define KENUM(n, f, list, def, d) \
    {.name = n, .type = NSID_KEY_ENUM, .names = list, .sdef = def, .offset = FIELD(f, int), .size = sizeof(int), \
     .doc = d}

#define CLOSED 0
#define LO_OPEN NSID_KEY_LO_OPEN
#define HI_OPEN NSID_KEY_HI_OPEN
#define BIG 1000000000LL
#define SEED_MAX 4294967295LL /* 2^32 - 1: also a valid numpy seed */

static const char *const core_types[] = {"se2d", "vgg16", NULL};
static const char *const readout_types[] = {"gaussian", "factorized", "pointpooled", NULL};
static const char *const grid_predictors[] = {"cortex", "none", NULL};

/* Sorted by name (the canonical JSON and the tests rely on it). */
static const struct nsid_key KEYS[] = {
    KBOOL("data.drop_nan_trials", data.drop_nan_trials, 0,
          "drop trials holding NaN/Inf in images, responses or a trace the model reads, instead of failing (nsid; the paper's files have none)"),
    KINT("data.exclude_neuron_n", data.exclude_neuron_n, 0, BIG, 0,
         "drop the first k of the drawn neurons (docs/paper.md §5.5, static_loaders)"),
    KINT("data.image_base_seed", data.image_base_seed, 0, SEED_MAX, 1,
         "seed of the training-image subset, used as image_base_seed * image_n (docs/paper.md §5.5: 1)"),
    KINT("data.image_n", data.image_n, 0, BIG, 0,
         "training images drawn per scan without replacement; 0 = all (docs/paper.md §5.5)"),
    KINT("data.multi_match_base_seed", data.multi_match_base_seed, 0, SEED_MAX, 1,
         "seed of the matched-id subset, as multi_match_base_seed * multi_match_n (docs/paper.md §6.5: 1..5)"),
    KBOOL("data.multi_match_heldout", data.multi_match_heldout, 0,
          "draw the multi_match_n ids from the held-out ids instead of the core pool (Fig. 4's held-out neurons)"),
    KINT("data.multi_match_heldout_n", data.multi_match_heldout_n, 0, BIG, 0,
         "matched ids set aside as held out before any subset is drawn, a clean split (docs/paper.md §5.5 caveat; Fig. 4: 1000)"),
    KINT("data.multi_match_n", data.multi_match_n, 0, BIG, 0,
         "matched neuron ids drawn from the intersection over scans; 0 = no matched subset (docs/paper.md §5.5)"),
    KINT("data.neuron_base_seed", data.neuron_base_seed, 0, SEED_MAX, 1,
         "seed of the neuron subset, as neuron_base_seed * neuron_n (docs/paper.md §5.5)"),
    KINT("data.neuron_n", data.neuron_n, 0, BIG, 0, "neurons drawn per scan; 0 = all (docs/paper.md §5.5)"),
    KBOOL("data.normalize_images", data.normalize_images, 0,
          "z-score images with the file's image statistics; false = raw 0..255 (docs/paper.md §1.6; true for VGG16, §7.5)"),
    KDBL("model.core.bn_eps", model.core.bn_eps, LO_OPEN, 0, 1, 1e-5, "BatchNorm eps (PyTorch default, docs/paper.md §1.1)"),
    KDBL("model.core.bn_momentum", model.core.bn_momentum, CLOSED, 0, 1, 0.9,
         "SE2d BatchNorm momentum, PyTorch convention (docs/paper.md §1.1)"),
    KSTR("model.core.checkpoint", model.core.checkpoint, "",
         "core weights: an nsid checkpoint.h5 (se2d) or a VGG16 HDF5 (Keras or torchvision layout); \"\" = none"),
    KBOOL("model.core.depth_separable", model.core.depth_separable, 1,
          "hidden layers are 1x1 -> depthwise -> 1x1 (docs/paper.md §1.1)"),
    KDBL("model.core.gamma_input", model.core.gamma_input, CLOSED, 0, 1e9, 1.0,
         "weight of the Laplace L2-norm smoothness penalty on the first core layer's filters, for every readout "
         "(none on a frozen core); gaussian 1.0 = example.ipynb (docs/paper.md §1.1), the others their model "
         "builders' defaults"),
    KINT("model.core.hidden_channels", model.core.hidden_channels, 1, 4096, 64, "channels of every layer (docs/paper.md §1.1)"),
    KINT("model.core.hidden_kern", model.core.hidden_kern, 1, 63, 13,
         "hidden spatial kernel, 'same' padding (docs/paper.md §1.1: 13; function default 7)"),
    KINT("model.core.input_kern", model.core.input_kern, 1, 63, 15,
         "first-layer kernel (docs/paper.md §1.1: 15; function default 9)"),
    KINT("model.core.layers", model.core.layers, 1, 16, 4, "conv layers including the first (docs/paper.md §1.1)"),
    KBOOL("model.core.pad_input", model.core.pad_input, 0, "pad the first conv; false = 'valid' (docs/paper.md §1.1)"),
    KBOOL("model.core.random", model.core.random, 0,
          "the core is random and frozen (random SE2d or VGG16 baselines, docs/paper.md §7.5); no weights loaded"),
    KENUM("model.core.type", model.core.type, core_types, "se2d",
          "se2d (the paper's core, docs/paper.md §1) or vgg16 (up to conv2_2 + BN + ReLU, frozen, docs/paper.md §7.5)"),
    KDBL("model.core.vgg_bn_momentum", model.core.vgg_bn_momentum, CLOSED, 0, 1, 0.1,
         "momentum of the BatchNorm after VGG16 conv2_2 (docs/paper.md §7.5)"),
    KBOOL("model.modulator.enabled", model.modulator, 0,
          "behaviour modulator (not used in the paper, docs/paper.md §3)"),
    KDBL("model.readout.factorized_init_noise", model.readout.factorized_init_noise, CLOSED, 0, 10, 4.1232e-5,
         "std of the factorized readout's initial masks and features (docs/paper.md §2.4)"),
    KDBL("model.readout.gamma", model.readout.gamma, CLOSED, 0, 1e9, 2.439,
         "readout L1 weight (gamma_readout), per scan: gaussian, sum |features| (shared features: on the owning "
         "scan only, docs/paper.md §2.1); factorized, (sum |spatial masks|) x (sum |features|) over the scan's "
         "neurons, the product of two L1 norms the authors' code computes (shared features: sum |masks| on the "
         "other scans, §2.4); pointpooled, sum |features| (§2.5). gaussian 2.439 = example.ipynb, evaluation "
         "scan; the paper tuned it per data size"),
    KBOOL("model.readout.grid_final_tanh", model.readout.grid_final_tanh, 0,
          "tanh after the grid-mean predictor (docs/paper.md §2.2: false)"),
    KINT("model.readout.grid_hidden_features", model.readout.grid_hidden_features, 0, 4096, 0,
         "width of the predictor's hidden layers (docs/paper.md §2.2: 0, no hidden layer)"),
    KINT("model.readout.grid_hidden_layers", model.readout.grid_hidden_layers, 0, 7, 0,
         "hidden layers of the grid-mean predictor; 0 = one affine map (docs/paper.md §2.2)"),
    KENUM("model.readout.grid_mean_predictor", model.readout.grid_mean_predictor, grid_predictors, "cortex",
          "Gaussian mean from cortical coordinates (cortex) or a free mean per neuron (none) (docs/paper.md §2.2, §7.5)"),
    KDBL("model.readout.init_mu_range", model.readout.init_mu_range, LO_OPEN, 0, 1, 0.55,
         "free Gaussian means ~ U(-r, r) (docs/paper.md §2.1)"),
    KDBL("model.readout.init_noise", model.readout.init_noise, CLOSED, 0, 10, 1e-3,
         "std of the Gaussian readout's initial features (docs/paper.md §2.1)"),
    KDBL("model.readout.init_range", model.readout.init_range, LO_OPEN, 0, 1, 0.2,
         "point-pooled grid ~ U(-r, r) (docs/paper.md §2.5)"),
    KDBL("model.readout.init_sigma", model.readout.init_sigma, LO_OPEN, 0, 10, 0.4,
         "entries of the Gaussian's S ~ U(-s, s) (docs/paper.md §2.1)"),
    KDBL("model.readout.init_transform_scale", model.readout.init_transform_scale, CLOSED, 0, 100, 0.2,
         "affine grid predictor A = scale * random orthogonal (docs/paper.md §2.2)"),
    KBOOL("model.readout.normalize", model.readout.normalize, 0,
          "factorized readout: L2-normalise spatial masks (docs/paper.md §2.4: false)"),
    KINT("model.readout.pool_kern", model.readout.pool_kern, 1, 64, 3, "point-pooled average-pool kernel (docs/paper.md §2.5)"),
    KINT("model.readout.pool_steps", model.readout.pool_steps, 0, 8, 2, "point-pooled pooling steps (docs/paper.md §2.5)"),
    KBOOL("model.readout.share_features", model.readout.share_features, 0,
          "share readout features across scans by multi_match_id (docs/paper.md §2.3; Fig. 3 'w/ f-s')"),
    KENUM("model.readout.type", model.readout.type, readout_types, "gaussian",
          "gaussian (docs/paper.md §2.1), factorized (Klindt 2017, §2.4) or pointpooled (Sinz 2018, §2.5); sets the "
          "defaults of model.core.gamma_input and model.readout.gamma"),
    KBOOL("model.shifter.enabled", model.shifter, 0, "eye-position shifter (not used in the paper, docs/paper.md §3)"),
    KDBL("train.adam_beta1", train.adam_beta1, HI_OPEN, 0, 1, 0.9, "Adam beta1 (torch default, docs/paper.md §4.1)"),
    KDBL("train.adam_beta2", train.adam_beta2, HI_OPEN, 0, 1, 0.999, "Adam beta2 (torch default, docs/paper.md §4.1)"),
    KDBL("train.adam_eps", train.adam_eps, LO_OPEN, 0, 1, 1e-8, "Adam eps (torch default, docs/paper.md §4.1)"),
    KINT("train.batch_size", train.batch_size, 1, 1048576, 64, "trials per batch (docs/paper.md §4.1)"),
    KBOOL("train.detach_core", train.detach_core, 0,
          "transfer: freeze the core (BN statistics still update), train only readouts (docs/paper.md §4.6)"),
    KDBL("train.loss_bias", train.loss_bias, CLOSED, 0, 1, 1e-12, "Poisson loss log(rate + bias) (docs/paper.md §4.1)"),
    KDBL("train.lr", train.lr, LO_OPEN, 0, 10, 0.005, "Adam learning rate (docs/paper.md §4.1)"),
    KINT("train.lr_cooldown", train.lr_cooldown, 0, 1000000, 0, "ReduceLROnPlateau cooldown (torch default)"),
    KDBL("train.lr_decay_factor", train.lr_decay_factor, LO_OPEN | HI_OPEN, 0, 1, 0.3,
         "LR factor on a plateau (docs/paper.md §4.1)"),
    KINT("train.lr_decay_steps", train.lr_decay_steps, 1, 1000, 3,
         "rounds of early stopping with best-state restore (docs/paper.md §4.4)"),
    KDBL("train.lr_eps", train.lr_eps, CLOSED, 0, 1, 1e-8, "ReduceLROnPlateau skips smaller LR changes (torch default)"),
    KINT("train.max_epochs", train.max_epochs, 1, 1000000, 200, "epoch budget (docs/paper.md §4.1)"),
    KDBL("train.min_lr", train.min_lr, CLOSED, 0, 10, 1e-4, "LR floor (docs/paper.md §4.1)"),
    KINT("train.patience", train.patience, 1, 1000000, 5,
         "epochs without improvement, for early stopping and the LR plateau (docs/paper.md §4.1)"),
    KBOOL("train.restore_best", train.restore_best, 1, "restore the best state after each round (docs/paper.md §4.1)"),
    KBOOL("train.scale_loss", train.scale_loss, 1, "scale the loss by sqrt(trials in file / batch) (docs/paper.md §4.2)"),
    KINT("train.seed", train.seed, 0, SEED_MAX, 1,
         "master seed of initialisation, shuffling and sampling (docs/paper.md §4.5: 1..5 direct, 1 transfer)"),
    KDBL("train.tolerance", train.tolerance, CLOSED, 0, 1, 1e-6,
         "absolute improvement of the validation correlation that counts (docs/paper.md §4.1)"),
};

#define N_KEYS (sizeof KEYS / sizeof KEYS[0])
_Static_assert(N_KEYS <= NSID_CONFIG_MAX_KEYS, "raise NSID_CONFIG_MAX_KEYS");

/*
 * Defaults that depend on model.readout.type, as the authors' model builders have them
 * (sinzlab/Lurz_2020_code lurz2020/models/models.py): se2d_fullSXF (factorized) and
 * se2d_pointpooled keep their function defaults; the gaussian values are the paper's
 * config (example.ipynb), which overrode se2d_fullgaussian2d's function defaults (6.3831,
 * 0.0076). The gaussian row equals the key table's default (test_config checks it).
 */
struct readout_default {
    const char *key;
    double value[3];           /* per enum nsid_cfg_readout_type: gaussian, factorized, pointpooled */
};
static const struct readout_default READOUT_DEFAULTS[] = {
    {"model.core.gamma_input", {1.0, 6.3831, 46.402}},
    {"model.readout.gamma", {2.439, 0.0076, 0.0207}},
};
#define N_READOUT_DEFAULTS (sizeof READOUT_DEFAULTS / sizeof READOUT_DEFAULTS[0])

const struct nsid_key *nsid_config_keys(size_t *n)
{
    *n = N_KEYS;
    return KEYS;
}

const struct nsid_key *nsid_config_find(const char *name)
{
    return nsid_keys_find(KEYS, N_KEYS, name);
}

/* True if path is a proper prefix section of some key ("model", "model.readout"). */
static bool is_section(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < N_KEYS; i++)
        if (strncmp(KEYS[i].name, path, n) == 0 && KEYS[i].name[n] == '.') return true;
    return false;
}

static void *field_of(struct nsid_config *c, const struct nsid_key *k)
{
    return (char *)c + k->offset;
}

static const void *cfield_of(const struct nsid_config *c, const struct nsid_key *k)
{
    return (const char *)c + k->offset;
}

bool nsid_config_readout_default(const char *name, int readout_type, double *value)
{
    if (readout_type < NSID_CFG_READOUT_GAUSSIAN || readout_type > NSID_CFG_READOUT_POINTPOOLED) return false;
    for (size_t i = 0; i < N_READOUT_DEFAULTS; i++)
        if (strcmp(READOUT_DEFAULTS[i].key, name) == 0) {
            *value = READOUT_DEFAULTS[i].value[readout_type];
            return true;
        }
    return false;
}

/* Give every key with a per-readout default that was not given the current type's default. */
static void apply_readout_defaults(struct nsid_config *c)
{
    for (size_t i = 0; i < N_READOUT_DEFAULTS; i++) {
        const struct nsid_key *k = nsid_config_find(READOUT_DEFAULTS[i].key);
        if (!k || c->given[k - KEYS]) continue;
        *(double *)field_of(c, k) = READOUT_DEFAULTS[i].value[c->model.readout.type];
    }
}

void nsid_config_init(struct nsid_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_KEYS; i++) nsid_keys_set_default(&KEYS[i], c);
}

/* ---- provenance and errors ----------------------------------------------------------- */

/* Record where key i was set; a new file forgets the lines of the previous one. */
static void note_origin(struct nsid_config *c, size_t i, const char *file, int line)
{
    if (line > 0 && file && strcmp(c->file, file) != 0) {
        for (size_t j = 0; j < N_KEYS; j++)
            if (c->line[j] > 0) c->line[j] = 0;
        snprintf(c->file, sizeof c->file, "%s", file);
    }
    c->line[i] = line;
}

/* Error at a value's origin: file:line for files, "--set" for overrides. */
static int value_error(struct nsid_err *err, const char *file, int line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int value_error(struct nsid_err *err, const char *file, int line, const char *key, const char *fmt, ...)
{
    char msg[NSID_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nsid_err_set(err, NSID_EINVAL, file, line > 0 ? line : 0, key, "%s", msg);
}

/* Levenshtein distance of two short strings (capped at 64 characters). */
static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 64) la = 64;
    if (lb > 64) lb = 64;
    int row[65];
    for (int j = 0; j <= lb; j++) row[j] = j;
    for (int i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *last_part(const char *s)
{
    const char *d = strrchr(s, '.');
    return d ? d + 1 : s;
}

static int depth_of(const char *s)
{
    int d = 1;
    for (; *s; s++) d += *s == '.';
    return d;
}

/* Length of the section part of s ("model.readout" of "model.readout.gamma"), 0 at the top. */
static size_t parent_len(const char *s)
{
    const char *d = strrchr(s, '.');
    return d ? (size_t)(d - s) : 0;
}

/*
 * The known key or section closest to an unknown path, or NULL: (a) a key or section at the
 * same depth within edit distance 3, else (b) a key with the same last part anywhere, else
 * (c) a key of the same section whose last part contains, or is contained in, the unknown one.
 */
static const char *suggest(const char *key, char *buf, size_t n)
{
    const char *best = NULL;
    int bd = 4, depth = depth_of(key);
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *name = KEYS[i].name;
        for (int d = 1; d <= depth_of(name); d++) {
            if (d != depth) continue;
            /* the first d parts of name */
            size_t len = 0;
            for (int parts = 0; name[len]; len++)
                if (name[len] == '.' && ++parts == d) break;
            snprintf(buf, n, "%.*s", (int)len, name);
            int e = edit_distance(key, buf);
            if (e < bd) { bd = e; best = name; }
        }
    }
    if (best) {
        size_t len = 0;
        for (int parts = 0; best[len]; len++)
            if (best[len] == '.' && ++parts == depth) break;
        snprintf(buf, n, "%.*s", (int)len, best);
        return buf;
    }
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(last_part(KEYS[i].name), last_part(key)) == 0) return KEYS[i].name;
    const char *lk = last_part(key);
    size_t pl = parent_len(key);
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *name = KEYS[i].name, *ln = last_part(name);
        if (parent_len(name) != pl || strncmp(name, key, pl) != 0) continue;
        if ((strlen(ln) >= 4 && strstr(lk, ln)) || (strlen(lk) >= 4 && strstr(ln, lk))) return name;
    }
    return NULL;
}

/* "unknown key", with the closest known key as a hint. */
static int unknown_key(struct nsid_err *err, const char *file, int line, const char *key)
{
    char buf[NSID_ERR_KEY_MAX];
    const char *best = suggest(key, buf, sizeof buf);
    if (best) return value_error(err, file, line, key, "unknown key (did you mean %s?)", best);
    return value_error(err, file, line, key, "unknown key (docs/config.md lists the keys)");
}

static const char *type_word(const struct nsid_key *k)
{
    switch (k->type) {
    case NSID_KEY_INT: return "an integer";
    case NSID_KEY_DOUBLE: return "a number";
    case NSID_KEY_BOOL: return "true or false";
    case NSID_KEY_ENUM: return "a name";
    default: return "a string";
    }
}

/* ---- setting values ------------------------------------------------------------------ */

int nsid_config_set_value(struct nsid_config *c, const char *key, const char *value, bool quoted,
                          const char *file, int line, struct nsid_err *err)
{
    const struct nsid_key *k = nsid_config_find(key);
    if (!k) return unknown_key(err, file, line, key);
    if (quoted && k->type != NSID_KEY_STRING && k->type != NSID_KEY_ENUM)
        return value_error(err, file, line, key, "expected %s, got the string \"%.64s\" (leave out the quotes)",
                           type_word(k), value);
    int rc = nsid_keys_set(k, c, value, file, line, err);
    if (rc < 0) return rc;
    note_origin(c, (size_t)(k - KEYS), file, line);
    c->given[k - KEYS] = true;
    /* the type decides the defaults of the keys not given, in whatever order keys come */
    if (k->offset == offsetof(struct nsid_config, model.readout.type)) apply_readout_defaults(c);
    return 0;
}

int nsid_config_set(struct nsid_config *c, const char *assignment, struct nsid_err *err)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return value_error(err, "--set", 0, "", "expected key=value, got '%.64s'", assignment);
    char key[NSID_ERR_KEY_MAX];
    size_t n = (size_t)(eq - assignment);
    if (n >= sizeof key) return value_error(err, "--set", 0, "", "key of %zu bytes is too long", n);
    memcpy(key, assignment, n);
    key[n] = '\0';
    if (!nsid_config_find(key) && is_section(key))
        return value_error(err, "--set", 0, key, "is a section, not a key: name one of its keys");
    return nsid_config_set_value(c, key, eq + 1, false, "--set", -1, err);
}

/* ---- YAML ---------------------------------------------------------------------------- */

#define MAX_DEPTH 16

struct parse {
    struct nsid_config *c;
    const char *name;      /* file name for messages */
    yaml_parser_t p;
    char **seen;           /* full paths given in this document */
    size_t n_seen, cap_seen;
    struct nsid_err *err;
};

static int line_of(const yaml_event_t *ev)
{
    return (int)ev->start_mark.line + 1;
}

/* Next event; a YAML syntax error becomes "file:line: <problem> (<context>)". */
static int next_event(struct parse *ps, yaml_event_t *ev)
{
    if (yaml_parser_parse(&ps->p, ev)) return 0;
    const yaml_parser_t *p = &ps->p;
    int line = (int)p->problem_mark.line + 1;
    return nsid_err_set(ps->err, NSID_EFORMAT, ps->name, line, NULL, "YAML syntax error: %s%s%s",
                        p->problem ? p->problem : "unknown problem", p->context ? " " : "",
                        p->context ? p->context : "");
}

/* Record a path; a second occurrence in one document is an error. */
static int see_path(struct parse *ps, const char *path, int line)
{
    for (size_t i = 0; i < ps->n_seen; i++)
        if (strcmp(ps->seen[i], path) == 0)
            return value_error(ps->err, ps->name, line, path, "duplicate key (given twice in this file)");
    if (ps->n_seen == ps->cap_seen) {
        size_t cap = ps->cap_seen ? 2 * ps->cap_seen : 32;
        char **s = NSID_ALLOC(cap * sizeof *s, ps->err);
        if (!s) return NSID_ENOMEM;
        if (ps->n_seen) memcpy(s, ps->seen, ps->n_seen * sizeof *s);
        nsid_alloc_free(ps->seen);
        ps->seen = s;
        ps->cap_seen = cap;
    }
    size_t len = strlen(path) + 1;
    char *copy = NSID_ALLOC(len, ps->err);
    if (!copy) return NSID_ENOMEM;
    memcpy(copy, path, len);
    ps->seen[ps->n_seen++] = copy;
    return 0;
}

static bool is_null_scalar(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/* A key's text: non-empty, no empty parts ("a..b", ".a"), no explicit tag. */
static int check_key_text(struct parse *ps, const yaml_event_t *ev, const char *prefix)
{
    const char *k = (const char *)ev->data.scalar.value;
    size_t n = strlen(k);
    if (ev->data.scalar.tag)
        return value_error(ps->err, ps->name, line_of(ev), prefix, "explicit YAML tags are not supported");
    if (n != ev->data.scalar.length || n == 0 || k[0] == '.' || k[n - 1] == '.' || strstr(k, ".."))
        return value_error(ps->err, ps->name, line_of(ev), prefix, "malformed key '%.64s'", k);
    return 0;
}

static int parse_mapping(struct parse *ps, const char *prefix, int depth);

/* The value node of key `path` (its first event is ev). */
static int parse_value(struct parse *ps, yaml_event_t *ev, const char *path, int depth)
{
    int line = line_of(ev);
    const struct nsid_key *k = nsid_config_find(path);
    bool section = !k && is_section(path);
    if (!k && !section) return unknown_key(ps->err, ps->name, line, path);
    switch (ev->type) {
    case YAML_MAPPING_START_EVENT:
        if (k) return value_error(ps->err, ps->name, line, path, "expected %s, got a mapping", type_word(k));
        if (ev->data.mapping_start.tag)
            return value_error(ps->err, ps->name, line, path, "explicit YAML tags are not supported");
        if (depth >= MAX_DEPTH) return value_error(ps->err, ps->name, line, path, "nested too deeply");
        return parse_mapping(ps, path, depth + 1);
    case YAML_SCALAR_EVENT: {
        const char *v = (const char *)ev->data.scalar.value;
        if (section)
            return value_error(ps->err, ps->name, line, path, "is a section: expected a mapping of its keys, "
                               "got '%.64s'", v);
        if (ev->data.scalar.tag)
            return value_error(ps->err, ps->name, line, path, "explicit YAML tags are not supported");
        if (is_null_scalar(ev))
            return value_error(ps->err, ps->name, line, path,
                               "no value (null): give %s, or leave the key out for its default", type_word(k));
        if (strlen(v) != ev->data.scalar.length)
            return value_error(ps->err, ps->name, line, path, "value contains a NUL byte");
        bool quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        return nsid_config_set_value(ps->c, path, v, quoted, ps->name, line, ps->err);
    }
    case YAML_SEQUENCE_START_EVENT:
        return value_error(ps->err, ps->name, line, path, "expected %s, got a list",
                           k ? type_word(k) : "a mapping");
    case YAML_ALIAS_EVENT:
        return value_error(ps->err, ps->name, line, path, "YAML aliases are not supported");
    default:
        return value_error(ps->err, ps->name, line, path, "unexpected YAML event");
    }
}

/* Entries of a mapping whose start event was consumed, up to its end event. */
static int parse_mapping(struct parse *ps, const char *prefix, int depth)
{
    for (;;) {
        yaml_event_t key;
        if (next_event(ps, &key) < 0) return -1;
        if (key.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&key);
            return 0;
        }
        int rc;
        char path[NSID_ERR_KEY_MAX];
        if (key.type != YAML_SCALAR_EVENT) {
            rc = value_error(ps->err, ps->name, line_of(&key), prefix, "mapping keys must be plain names");
        } else if ((rc = check_key_text(ps, &key, prefix)) == 0) {
            const char *k = (const char *)key.data.scalar.value;
            int len = snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", k);
            if (len < 0 || (size_t)len >= sizeof path)
                rc = value_error(ps->err, ps->name, line_of(&key), prefix, "key '%.64s...' is too long", k);
            else if (!nsid_config_find(path) && !is_section(path))
                rc = unknown_key(ps->err, ps->name, line_of(&key), path);
            else
                rc = see_path(ps, path, line_of(&key));
        }
        yaml_event_delete(&key);
        if (rc < 0) return rc;
        yaml_event_t val;
        if (next_event(ps, &val) < 0) return -1;
        rc = parse_value(ps, &val, path, depth);
        yaml_event_delete(&val);
        if (rc < 0) return rc;
    }
}

/* Stream -> at most one document -> a root mapping (or an empty/null document). */
static int parse_stream(struct parse *ps)
{
    yaml_event_t ev;
    int rc = 0, docs = 0;
    if (next_event(ps, &ev) < 0) return -1; /* STREAM_START */
    yaml_event_delete(&ev);
    for (;;) {
        if (next_event(ps, &ev) < 0) return -1;
        yaml_event_type_t t = ev.type;
        int line = line_of(&ev);
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT) return 0;
        if (t != YAML_DOCUMENT_START_EVENT) return value_error(ps->err, ps->name, line, NULL, "unexpected YAML event");
        if (docs++)
            return value_error(ps->err, ps->name, line, NULL, "a second YAML document: one configuration per file");
        if (next_event(ps, &ev) < 0) return -1;
        if (ev.type == YAML_MAPPING_START_EVENT && !ev.data.mapping_start.tag) {
            rc = parse_mapping(ps, "", 0);
        } else if (!(ev.type == YAML_SCALAR_EVENT && is_null_scalar(&ev) && !ev.data.scalar.tag)) {
            rc = value_error(ps->err, ps->name, line_of(&ev), NULL,
                             "the top level must be a mapping of keys (train:, model:, data:)");
        }
        yaml_event_delete(&ev);
        if (rc < 0) return rc;
        if (next_event(ps, &ev) < 0) return -1; /* DOCUMENT_END */
        yaml_event_delete(&ev);
    }
}

int nsid_config_parse_string(struct nsid_config *c, const char *text, size_t len, const char *name,
                             struct nsid_err *err)
{
    struct parse ps = {.c = c, .name = name, .err = err};
    if (!yaml_parser_initialize(&ps.p)) return nsid_err_set(err, NSID_ENOMEM, name, 0, NULL, "out of memory");
    yaml_parser_set_input_string(&ps.p, (const unsigned char *)text, len);
    int rc = parse_stream(&ps);
    yaml_parser_delete(&ps.p);
    for (size_t i = 0; i < ps.n_seen; i++) nsid_alloc_free(ps.seen[i]);
    nsid_alloc_free(ps.seen);
    return rc < 0 ? (err->code < 0 ? err->code : NSID_EINVAL) : 0;
}

#define MAX_FILE_BYTES (16u << 20)

/* Read a whole file (at most MAX_FILE_BYTES) into a NUL-terminated NSID_ALLOC buffer. */
static int read_file(const char *path, char **out, size_t *len, struct nsid_err *err)
{
    FILE *f = nsid_infile_fopen(path, NULL, err);
    if (!f && err->code == NSID_ENOTFOUND) err->code = NSID_EIO; /* the documented code of an unreadable file */
    if (!f) return err->code < 0 ? err->code : NSID_EIO;
    size_t cap = 4096, n = 0;
    char *buf = NSID_ALLOC(cap, err);
    int rc = buf ? 0 : NSID_ENOMEM;
    while (rc == 0) {
        if (n + 1 == cap) {
            if (cap > MAX_FILE_BYTES) {
                rc = nsid_err_set(err, NSID_EINVAL, path, 0, NULL, "larger than %u bytes: not a configuration",
                                  MAX_FILE_BYTES);
                break;
            }
            char *bigger = NSID_ALLOC(2 * cap, err);
            if (!bigger) { rc = NSID_ENOMEM; break; }
            memcpy(bigger, buf, n);
            nsid_alloc_free(buf);
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) rc = nsid_err_set(err, NSID_EIO, path, 0, NULL, "read failed");
            break;
        }
    }
    fclose(f);
    if (rc < 0) {
        nsid_alloc_free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int nsid_config_parse_file(struct nsid_config *c, const char *path, struct nsid_err *err)
{
    char *buf = NULL;
    size_t n = 0;
    int rc = read_file(path, &buf, &n, err);
    if (rc < 0) return rc;
    rc = nsid_config_parse_string(c, buf, n, path, err);
    nsid_alloc_free(buf);
    return rc;
}

/* ---- cross-key checks ---------------------------------------------------------------- */

/* An error located where key `name` was set. */
static int key_error(const struct nsid_config *c, const char *name, struct nsid_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int key_error(const struct nsid_config *c, const char *name, struct nsid_err *err, const char *fmt, ...)
{
    char msg[NSID_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const struct nsid_key *k = nsid_config_find(name);
    int line = k ? c->line[k - KEYS] : 0;
    const char *file = line > 0 ? c->file : line < 0 ? "--set" : NULL;
    return nsid_err_set(err, NSID_EINVAL, file, line > 0 ? line : 0, name, "%s", msg);
}

int nsid_config_validate(const struct nsid_config *c, struct nsid_err *err)
{
    const struct nsid_cfg_core *core = &c->model.core;
    const struct nsid_cfg_readout *ro = &c->model.readout;
    bool has_ckpt = core->checkpoint[0] != '\0';
    if (core->random && has_ckpt)
        return key_error(c, "model.core.random", err, "a random core loads no weights, but model.core.checkpoint "
                         "is '%.200s'", core->checkpoint);
    if (core->random && !c->train.detach_core)
        return key_error(c, "model.core.random", err, "random cores are frozen: set train.detach_core: true "
                         "(a core trained from scratch is the default se2d core, not random)");
    if (core->type == NSID_CFG_CORE_VGG16 && !c->train.detach_core)
        return key_error(c, "model.core.type", err, "the vgg16 core is frozen: set train.detach_core: true");
    if (core->type == NSID_CFG_CORE_VGG16 && !core->random && !has_ckpt)
        return key_error(c, "model.core.type", err, "vgg16 needs its weights in model.core.checkpoint "
                         "(or model.core.random: true for a random VGG16)");
    if (c->train.detach_core && !core->random && !has_ckpt)
        return key_error(c, "train.detach_core", err, "a frozen core needs weights: set model.core.checkpoint, "
                         "or model.core.random: true for a random core");
    if (ro->grid_hidden_layers > 0 && ro->grid_hidden_features == 0)
        return key_error(c, "model.readout.grid_hidden_features", err,
                         "is 0 but model.readout.grid_hidden_layers is %lld: hidden layers need a width",
                         (long long)ro->grid_hidden_layers);
    const struct nsid_cfg_data *d = &c->data;
    if (d->multi_match_heldout && d->multi_match_heldout_n == 0)
        return key_error(c, "data.multi_match_heldout", err, "needs data.multi_match_heldout_n > 0 (the held-out ids)");
    if (d->multi_match_heldout && d->multi_match_n > d->multi_match_heldout_n)
        return key_error(c, "data.multi_match_n", err, "%lld held-out ids asked for, but data.multi_match_heldout_n "
                         "is %lld", (long long)d->multi_match_n, (long long)d->multi_match_heldout_n);
    if ((d->multi_match_heldout_n > 0 || d->multi_match_heldout) && d->multi_match_n == 0)
        return key_error(c, "data.multi_match_heldout_n", err, "a held-out split needs data.multi_match_n > 0");
    if (d->neuron_n > 0 && d->multi_match_n > 0)
        return key_error(c, "data.neuron_n", err, "choose neurons by data.neuron_n or by data.multi_match_n, not both");
    if (ro->share_features && ro->type == NSID_CFG_READOUT_POINTPOOLED)
        return key_error(c, "model.readout.share_features", err,
                         "feature sharing exists for the gaussian and factorized readouts, not pointpooled");
    return 0;
}

int nsid_config_load(struct nsid_config *c, const char *path, const char *const *sets, int n_sets,
                     struct nsid_err *err)
{
    nsid_config_init(c);
    if (path && nsid_config_parse_file(c, path, err) < 0) return err->code < 0 ? err->code : NSID_EINVAL;
    for (int i = 0; i < n_sets; i++)
        if (nsid_config_set(c, sets[i], err) < 0) return NSID_EINVAL;
    return nsid_config_validate(c, err);
}

/* ---- canonical JSON ------------------------------------------------------------------ */

struct out {
    char *buf;   /* destination, may be NULL when n is 0 */
    size_t n;    /* capacity including the NUL */
    size_t len;  /* length of the full output so far */
};

static void out_mem(struct out *o, const char *s, size_t k)
{
    for (size_t i = 0; i < k; i++, o->len++)
        if (o->len + 1 < o->n) o->buf[o->len] = s[i];
}

static void out_str(struct out *o, const char *s)
{
    out_mem(o, s, strlen(s));
}

/* A JSON string: base/json's escaper, whose bytes the canonical form (and so every run id) has. */
static void out_json_string(struct out *o, const char *s)
{
    size_t room = o->len < o->n ? o->n - o->len : 0;
    o->len += nsid_json_quote(s, room ? o->buf + o->len : NULL, room);
}

static void out_value(struct out *o, const struct nsid_config *c, const struct nsid_key *k)
{
    const void *f = cfield_of(c, k);
    char b[64];
    switch (k->type) {
    case NSID_KEY_INT:
        snprintf(b, sizeof b, "%lld", (long long)*(const int64_t *)f);
        out_str(o, b);
        break;
    case NSID_KEY_DOUBLE:
        nsid_keys_format_double(*(const double *)f, b, sizeof b);
        out_str(o, b);
        break;
    case NSID_KEY_BOOL: out_str(o, *(const bool *)f ? "true" : "false"); break;
    case NSID_KEY_STRING: out_json_string(o, f); break;
    case NSID_KEY_ENUM: out_json_string(o, k->names[*(const int *)f]); break;
    }
}

size_t nsid_config_format_value(const struct nsid_config *c, const struct nsid_key *k, char *buf,
                                size_t n)
{
    struct out o = {buf, n, 0};
    out_value(&o, c, k);
    if (n) buf[o.len < n ? o.len : n - 1] = '\0';
    return o.len;
}

/* Split a dotted name into its parts (pointers into buf). */
static int split(const char *name, char *buf, size_t n, const char **parts, int max)
{
    snprintf(buf, n, "%s", name);
    int k = 0;
    parts[k++] = buf;
    for (char *p = buf; *p && k < max; p++)
        if (*p == '.') {
            *p = '\0';
            parts[k++] = p + 1;
        }
    return k;
}

size_t nsid_config_canonical(const struct nsid_config *c, char *buf, size_t n)
{
    struct out o = {buf, n, 0};
    char pb[NSID_ERR_KEY_MAX], qb[NSID_ERR_KEY_MAX];
    const char *p[MAX_DEPTH], *q[MAX_DEPTH];
    int np = 1; /* previous key's parts; its sections are p[0..np-1) */
    bool comma = false;
    p[0] = "";
    out_str(&o, "{");
    for (size_t i = 0; i < N_KEYS; i++) {
        int nq = split(KEYS[i].name, qb, sizeof qb, q, MAX_DEPTH);
        int common = 0;
        while (common < np - 1 && common < nq - 1 && strcmp(p[common], q[common]) == 0) common++;
        for (int j = common; j < np - 1; j++) {
            out_str(&o, "}");
            comma = true;
        }
        for (int j = common; j < nq - 1; j++) {
            if (comma) out_str(&o, ",");
            out_json_string(&o, q[j]);
            out_str(&o, ":{");
            comma = false;
        }
        if (comma) out_str(&o, ",");
        out_json_string(&o, q[nq - 1]);
        out_str(&o, ":");
        out_value(&o, c, &KEYS[i]);
        comma = true;
        np = split(KEYS[i].name, pb, sizeof pb, p, MAX_DEPTH);
    }
    for (int j = 0; j < np - 1; j++) out_str(&o, "}");
    out_str(&o, "}");
    if (n) buf[o.len < n ? o.len : n - 1] = '\0';
    return o.len;
}

int nsid_config_id(const struct nsid_config *c, char hex[NSID_SHA256_HEX], struct nsid_err *err)
{
    size_t len = nsid_config_canonical(c, NULL, 0);
    char *buf = NSID_ALLOC(len + 1, err);
    if (!buf) return NSID_ENOMEM;
    nsid_config_canonical(c, buf, len + 1);
    nsid_sha256_hex(hex, buf, len);
    nsid_alloc_free(buf);
    return 0;
}

int nsid_config_diff(const struct nsid_config *a, const struct nsid_config *b, FILE *f)
{
    int n = 0;
    for (size_t i = 0; i < N_KEYS; i++) {
        char va[NSID_CONFIG_STR_MAX + 64], vb[NSID_CONFIG_STR_MAX + 64];
        nsid_config_format_value(a, &KEYS[i], va, sizeof va);
        nsid_config_format_value(b, &KEYS[i], vb, sizeof vb);
        if (strcmp(va, vb) != 0) {
            if (f) fprintf(f, "%s: %s -> %s\n", KEYS[i].name, va, vb);
            n++;
        }
    }
    return n;
}

void nsid_config_print_help(FILE *f)
{
    static const char *const tn[] = {"int", "number", "bool", "string", "enum"};
    struct nsid_config c;
    nsid_config_init(&c);
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct nsid_key *k = &KEYS[i];
        char def[NSID_CONFIG_STR_MAX + 64], range[256] = "";
        nsid_config_format_value(&c, k, def, sizeof def);
        if (k->type == NSID_KEY_INT || k->type == NSID_KEY_DOUBLE) nsid_keys_format_bounds(k, range, sizeof range);
        if (k->type == NSID_KEY_ENUM)
            for (int j = 0; k->names[j]; j++) {
                size_t len = strlen(range);
                snprintf(range + len, sizeof range - len, "%s%s", j ? "|" : "", k->names[j]);
            }
        char by_type[256] = "";
        double v[3];
        if (nsid_config_readout_default(k->name, NSID_CFG_READOUT_GAUSSIAN, &v[0]) &&
            nsid_config_readout_default(k->name, NSID_CFG_READOUT_FACTORIZED, &v[1]) &&
            nsid_config_readout_default(k->name, NSID_CFG_READOUT_POINTPOOLED, &v[2])) {
            char a[40], b[40], d[40];
            nsid_keys_format_double(v[0], a, sizeof a);
            nsid_keys_format_double(v[1], b, sizeof b);
            nsid_keys_format_double(v[2], d, sizeof d);
            snprintf(by_type, sizeof by_type, " [default by model.readout.type: gaussian %s, factorized %s, "
                     "pointpooled %s]", a, b, d);
        }
        fprintf(f, "%-38s %-6s %-10s %-22s %s%s\n", k->name, tn[k->type], def, range, k->doc, by_type);
    }
}

void nsid_config_schedule_opts(const struct nsid_config *c, struct nsid_schedule_opts *o)
{
    o->lr = c->train.lr;
    o->max_epochs = c->train.max_epochs;
    o->patience = c->train.patience;
    o->tolerance = c->train.tolerance;
    o->lr_decay_steps = c->train.lr_decay_steps;
    o->factor = c->train.lr_decay_factor;
    o->min_lr = c->train.min_lr;
    o->cooldown = c->train.lr_cooldown;
    o->eps = c->train.lr_eps;
    o->restore_best = c->train.restore_best;
}
