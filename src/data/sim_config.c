/*
 * sim_config.c - the simulator's configuration: profiles, the key table that
 * parses, checks and prints overrides, and the declarative description of the
 * paper's scans and dataset groups (docs/paper.md §5.2).
 */
#include "sim_int.h"

#include "base/json.h"
#include "base/keys.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- the paper's scans and groups ------------------------------------------------ */

/*
 * 13 scans of 7 animals. paper_image_set follows the Fig. 1 schematic
 * (10 neuron sets x 8 image sets): 4-S on image sets 0-3, the other 11-S
 * scans on [3,3,4,5,6,7,7], the evaluation and 1-S scans on image set 0.
 */
static const struct nsid_sim_scan_def SCANS[] = {
    {22564, 2, 12, NSID_SIM_ROLE_MATCHED, 0},
    {22564, 2, 13, NSID_SIM_ROLE_MATCHED, 1},
    {22564, 3, 8, NSID_SIM_ROLE_MATCHED, 2},
    {22564, 3, 12, NSID_SIM_ROLE_MATCHED, 3},
    {22846, 2, 19, NSID_SIM_ROLE_OTHER, 3},
    {22846, 2, 21, NSID_SIM_ROLE_OTHER, 3},
    {22846, 10, 16, NSID_SIM_ROLE_OTHER, 4},
    {23343, 5, 17, NSID_SIM_ROLE_OTHER, 5},
    {23555, 4, 20, NSID_SIM_ROLE_OTHER, 6},
    {23555, 5, 12, NSID_SIM_ROLE_OTHER, 7},
    {23656, 14, 22, NSID_SIM_ROLE_OTHER, 7},
    {20505, 6, 1, NSID_SIM_ROLE_SINGLE, 0},
    {20457, 5, 9, NSID_SIM_ROLE_EVAL, 0},
};
#define N_SCANS ((int)(sizeof SCANS / sizeof SCANS[0]))

/*
 * "4-S: diff animals": one 22564 scan plus one scan of three other 11-S
 * animals, all on different image sets (the exact ids are not in the
 * authors' public code; docs/paper.md §5.2).
 */
static const struct nsid_sim_group_def GROUPS[] = {
    {"4s_matched", "4-S: matched", 4, {0, 1, 2, 3}},
    {"11s", "11-S", 11, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
    {"4s_diff_animals", "4-S: diff animals", 4, {0, 4, 7, 10}},
    {"1s", "1-S", 1, {11}},
    {"evaluation", "Evaluation", 1, {12}},
};
#define N_GROUPS ((int)(sizeof GROUPS / sizeof GROUPS[0]))

int nsid_sim_n_scans(void)
{
    return N_SCANS;
}

const struct nsid_sim_scan_def *nsid_sim_scan_def(int i)
{
    return i >= 0 && i < N_SCANS ? &SCANS[i] : NULL;
}

int nsid_sim_n_groups(void)
{
    return N_GROUPS;
}

const struct nsid_sim_group_def *nsid_sim_group_def(int i)
{
    return i >= 0 && i < N_GROUPS ? &GROUPS[i] : NULL;
}

int nsid_sim_group_find(const char *name)
{
    for (int i = 0; i < N_GROUPS; i++)
        if (strcmp(GROUPS[i].name, name) == 0) return i;
    return -1;
}

int nsid_sim_scan_find(const char *name)
{
    for (int i = 0; i < N_SCANS; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%lld-%lld-%lld", (long long)SCANS[i].animal,
                 (long long)SCANS[i].session, (long long)SCANS[i].scan);
        if (strcmp(buf, name) == 0) return i;
    }
    return -1;
}

void nsid_sim_scan_output_name(const struct nsid_sim_config *cfg, int i, char *buf, size_t n)
{
    nsid_sim_scan_filename(i, buf, n);
    if (cfg->format == NSID_SIM_FORMAT_TREE) {
        char *dot = strrchr(buf, '.');
        if (dot) *dot = '\0';
    }
}

void nsid_sim_scan_filename(int i, char *buf, size_t n)
{
    const struct nsid_sim_scan_def *d = nsid_sim_scan_def(i);
    if (!d) {
        snprintf(buf, n, "invalid");
        return;
    }
    snprintf(buf, n, "static%lld-%lld-%lld-preproc0.h5", (long long)d->animal,
             (long long)d->session, (long long)d->scan);
}

/*
 * Call fn(name, len, ctx) for every comma-separated item of list; stops and
 * returns the first non-zero result.
 */
static int for_each_item(const char *list, int (*fn)(const char *, size_t, void *), void *ctx)
{
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int rc = fn(p, len, ctx);
        if (rc) return rc;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

struct select_ctx {
    int scan;     /* scan asked about */
    int found;    /* it is in a listed group */
    char bad[64]; /* first unknown group name */
};

/* for_each_item callback: note an unknown group, or whether the group holds the scan. */
static int select_item(const char *name, size_t len, void *vctx)
{
    struct select_ctx *c = vctx;
    char buf[64];
    if (len == 0 || len >= sizeof buf) {
        snprintf(c->bad, sizeof c->bad, "%.*s", (int)(len < 60 ? len : 60), name);
        return 1;
    }
    memcpy(buf, name, len);
    buf[len] = '\0';
    if (strcmp(buf, "all") == 0) {
        c->found = 1;
        return 0;
    }
    int g = nsid_sim_group_find(buf);
    if (g < 0) {
        snprintf(c->bad, sizeof c->bad, "%s", buf);
        return 1;
    }
    for (int k = 0; k < GROUPS[g].n; k++)
        if (GROUPS[g].scans[k] == c->scan) c->found = 1;
    return 0;
}

bool nsid_sim_scan_selected(const struct nsid_sim_config *cfg, int i)
{
    struct select_ctx c = {.scan = i};
    if (for_each_item(cfg->groups, select_item, &c)) return false;
    return c.found != 0;
}

int nsid_sim_scan_image_set(const struct nsid_sim_config *cfg, int i)
{
    return cfg->image_sets == NSID_SIM_IMAGES_PAPER ? SCANS[i].paper_image_set : i;
}

/* Error naming "groups" if the list has an unknown group or is empty. */
static int check_groups(const char *groups, struct nsid_err *err)
{
    struct select_ctx c = {.scan = -1};
    if (!groups[0] || for_each_item(groups, select_item, &c)) {
        char known[256] = "all";
        for (int g = 0; g < N_GROUPS; g++) {
            strncat(known, ", ", sizeof known - strlen(known) - 1);
            strncat(known, GROUPS[g].name, sizeof known - strlen(known) - 1);
        }
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "groups", "unknown group '%s' (known: %s)",
                            groups[0] ? c.bad : "", known);
    }
    return 0;
}

/* ---- profiles -------------------------------------------------------------------------- */

struct profile {
    const char *name;
    struct nsid_sim_sizes sizes[NSID_SIM_ROLE_COUNT];
    int calibration_images;
    double rf_scatter_px; /* sd of the RF centres around the retinotopic map */
    int width;            /* image width, px (height 36 in every profile) */
};

/*
 * paper: the paper's scan sizes (evaluation scan 5,335 neurons, 4,472 + 521 +
 * 100x10 = 5,993 trials; 4-S scans keep 3,597 + 1,000 matched neurons and
 * 4,399 training images). quick: the default reproduction, a few hundred
 * neurons and 1,500 training images per scan. smoke: CI, seconds.
 * RF scatter: 2 px, except quick's 1 px. The field RFs may use is 17 px tall, so
 * with 2 px the retinotopic map explains RF heights only to r = 0.93 (measured on
 * the quick evaluation scan): no readout whose positions are predicted from
 * cortical coordinates can do better, and issue 10 checks that learned positions
 * reach r >= 0.95. With 1 px that ceiling is about 0.98 (eval reports it as
 * rf_ceiling_corr_x/y).
 * The quick evaluation scan shows 500 test images (x 10), not 100: Fig. 5 compares cores whose
 * scores differ by a few percent, and on 100 test images such a difference came out with the
 * opposite sign of the validation set's in every seed (docs/reproduction.md).
 * It records 150 neurons, not 400: with 400, 1,000 images pinned down the 16-channel core quick
 * trained before issue 20 (direct training came within 0.012 of the 11-S transfer), while in the
 * paper one animal's data leaves the core far from what 11 scans teach it. With 150 the new animal
 * is again the data-poor one: the 11-S group has 25 times its neurons (the paper: 11).
 * Quick's images are 36 x 32 px, half the paper's width: the paper's 64-channel core then costs
 * 2.4 times less per image, which is what lets quick train the paper's model in 30 minutes on
 * 2 cores (docs/reproduction.md). A data size, not the model: every layer is the paper's.
 */
static const struct profile PROFILES[] = {
    {"smoke",
     {{40, 30, 160, 40, 10, 5}, {30, 0, 160, 40, 10, 5}, {30, 0, 160, 40, 10, 5}, {40, 0, 160, 40, 10, 5}},
     64, 2.0, 64},
    {"quick",
     {{400, 350, 1500, 200, 100, 10}, {300, 0, 1500, 200, 100, 10}, {300, 0, 1500, 200, 100, 10},
      {150, 0, 1500, 200, 500, 10}},
     256, 1.0, 32},
    {"paper",
     {{5500, 4700, 4399, 500, 100, 10}, {5000, 0, 4472, 521, 100, 10}, {5000, 0, 4472, 521, 100, 10},
      {5335, 0, 4472, 521, 100, 10}},
     512, 2.0, 64},
};
#define N_PROFILES ((int)(sizeof PROFILES / sizeof PROFILES[0]))

int nsid_sim_config_init(struct nsid_sim_config *cfg, const char *profile, struct nsid_err *err)
{
    memset(cfg, 0, sizeof *cfg);
    const struct profile *p = NULL;
    for (int i = 0; i < N_PROFILES; i++)
        if (profile && strcmp(PROFILES[i].name, profile) == 0) p = &PROFILES[i];
    if (!p)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "profile",
                            "unknown profile '%s' (known: smoke, quick, paper)", profile ? profile : "");
    snprintf(cfg->profile, sizeof cfg->profile, "%s", p->name);
    memcpy(cfg->sizes, p->sizes, sizeof cfg->sizes);
    cfg->calibration_images = p->calibration_images;
    cfg->seed = 1;
    cfg->threads = 0;
    cfg->height = 36;
    cfg->width = p->width;
    cfg->image_sets = NSID_SIM_IMAGES_OWN;
    snprintf(cfg->groups, sizeof cfg->groups, "all");
    cfg->oracle_min = 0.18;
    cfg->oracle_max = 0.78;
    cfg->overdispersion = 4.0;
    cfg->amplitude_shape = 2.0;
    cfg->rf_scatter_px = p->rf_scatter_px;
    cfg->rf_margin_px = 2.0;
    cfg->cortex_half_um = 1300.0;
    cfg->motor_jitter_um = 3.0;
    static const double types[NSID_SIM_CELL_COUNT] = {0.25, 0.35, 0.20, 0.10, 0.07, 0.03};
    memcpy(cfg->type_fraction, types, sizeof types);
    cfg->leaf_exponent = 3.0;
    cfg->eye_movements = false;
    cfg->eye_shift_px = 1.5;
    cfg->behavior = false;
    cfg->behavior_gain = 0.3;
    cfg->gzip = 0;
    cfg->format = NSID_SIM_FORMAT_H5;
    return 0;
}

/* ---- the key table ------------------------------------------------------------------------ */

/* Rows of base/keys.h: one setter and one set of value rules for every configuration. */
#define OFF(f) offsetof(struct nsid_sim_config, f)
#define FSIZE(f) sizeof(((struct nsid_sim_config *)0)->f)
#define SINT(n, f, lo, hi, d) \
    {.name = n, .type = NSID_KEY_INT, .imin = lo, .imax = hi, .offset = OFF(f), .size = FSIZE(f), .doc = d}
#define SDBL(n, f, lo, hi, d) \
    {.name = n, .type = NSID_KEY_DOUBLE, .dmin = lo, .dmax = hi, .offset = OFF(f), .size = FSIZE(f), .doc = d}
#define SBOOL(n, f, d) {.name = n, .type = NSID_KEY_BOOL, .offset = OFF(f), .size = FSIZE(f), .doc = d}
#define SENUM(n, f, list, d) {.name = n, .type = NSID_KEY_ENUM, .names = list, .offset = OFF(f), .size = FSIZE(f), .doc = d}

static const char *const IMAGE_SET_NAMES[] = {"own", "paper", NULL};
static const char *const FORMAT_NAMES[] = {"h5", "tree", NULL};

#define SIZE_KEYS(prefix, role, what) \
    SINT(prefix ".neurons", sizes[role].neurons, 1, 1000000, "neurons per " what " scan"), \
    SINT(prefix ".matched", sizes[role].matched, 0, 1000000, \
         "of them shared by every scan of the animal (multi_match_id)"), \
    SINT(prefix ".train_images", sizes[role].train_images, 1, 99999, "train-tier images"), \
    SINT(prefix ".validation_images", sizes[role].validation_images, 1, 99999, "validation-tier images"), \
    SINT(prefix ".test_images", sizes[role].test_images, 1, 99999, "distinct test images"), \
    SINT(prefix ".test_repeats", sizes[role].test_repeats, 2, 1000, "repeats of each test image")

static const struct nsid_key KEYS[] = {
    {.name = "seed", .type = NSID_KEY_UINT, .offset = OFF(seed), .size = FSIZE(seed), .doc = "master seed"},
    SINT("threads", threads, 0, 64, "worker threads, 0 = online CPUs (output is identical)"),
    SINT("image.height", height, 16, NSID_SIM_IMAGE_MAX_HEIGHT, "image height, px (multiple of 4)"),
    SINT("image.width", width, 32, NSID_SIM_IMAGE_MAX_WIDTH, "image width, px (multiple of 32)"),
    SENUM("image_sets", image_sets, IMAGE_SET_NAMES,
          "own: every scan its own images; paper: the image sets of the paper's Fig. 1"),
    {.name = "groups", .type = NSID_KEY_STRING, .offset = OFF(groups), .size = FSIZE(groups),
     .doc = "comma-separated groups whose scans to write, or all"},
    SINT("calibration_images", calibration_images, 16, 100000, "images that standardise each neuron's drive"),
    SDBL("oracle.min", oracle_min, 0.01, 0.99, "lowest target oracle correlation"),
    SDBL("oracle.max", oracle_max, 0.01, 0.99, "highest target oracle correlation"),
    SDBL("noise.overdispersion", overdispersion, 0.1, 1e6,
         "gamma shape of the per-trial gain (smaller = more variable)"),
    SDBL("noise.amplitude_shape", amplitude_shape, 0.1, 1e6, "gamma shape of one event's amplitude"),
    SDBL("rf.scatter_px", rf_scatter_px, 0, 20, "RF scatter around the retinotopic map, px"),
    SDBL("rf.margin_px", rf_margin_px, 0, 20, "RF centres keep this far inside the core's output area, px"),
    SDBL("cortex.half_um", cortex_half_um, 100, 1e5, "half side of the cortical field, µm"),
    SDBL("cortex.motor_jitter_um", motor_jitter_um, 0, 1000, "sd of a matched neuron's coordinates between scans, µm"),
    SDBL("types.simple", type_fraction[NSID_SIM_CELL_SIMPLE], 0, 1e3, "relative frequency of simple cells"),
    SDBL("types.complex", type_fraction[NSID_SIM_CELL_COMPLEX], 0, 1e3, "... complex cells"),
    SDBL("types.surround", type_fraction[NSID_SIM_CELL_SURROUND], 0, 1e3, "... surround-suppressed complex cells"),
    SDBL("types.cross", type_fraction[NSID_SIM_CELL_CROSS], 0, 1e3, "... cross-orientation cells"),
    SDBL("types.onoff", type_fraction[NSID_SIM_CELL_ONOFF], 0, 1e3, "... untuned ON/OFF cells"),
    SDBL("types.sbc", type_fraction[NSID_SIM_CELL_SBC], 0, 1e3, "... suppressed-by-contrast cells"),
    SDBL("stimulus.leaf_exponent", leaf_exponent, 2.0, 5.0, "dead-leaves radius density exponent (3: ~1/f^2 spectrum)"),
    SBOOL("eye.enabled", eye_movements, "pupil position shifts the RFs"),
    SDBL("eye.shift_px", eye_shift_px, 0, 20, "RF shift per sd of pupil position, px"),
    SBOOL("behavior.enabled", behavior, "running and pupil size modulate gains"),
    SDBL("behavior.gain", behavior_gain, 0, 2, "sd over neurons of the log-gain per sd of behaviour"),
    SENUM("output.format", format, FORMAT_NAMES, "h5: one HDF5 file per scan; tree: one file-tree folder"),
    SINT("output.gzip", gzip, 0, 9, "HDF5 deflate level of the files (0 = none, fastest to read)"),
    SIZE_KEYS("4s", NSID_SIM_ROLE_MATCHED, "4-S matched"),
    SIZE_KEYS("11s", NSID_SIM_ROLE_OTHER, "further 11-S"),
    SIZE_KEYS("1s", NSID_SIM_ROLE_SINGLE, "1-S"),
    SIZE_KEYS("eval", NSID_SIM_ROLE_EVAL, "evaluation"),
};
#define N_KEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

/* Set key k from value (base/keys.h's rules); groups must also name known groups. */
static int key_store(struct nsid_sim_config *cfg, const struct nsid_key *k, const char *value, struct nsid_err *err)
{
    if (k->offset == OFF(groups) && strlen(value) < k->size && check_groups(value, err) < 0) return err->code;
    return nsid_keys_set(k, cfg, value, NULL, 0, err);
}

int nsid_sim_config_set(struct nsid_sim_config *cfg, const char *assignment, struct nsid_err *err)
{
    const char *eq = strchr(assignment, '=');
    char name[96];
    size_t len = eq ? (size_t)(eq - assignment) : strlen(assignment);
    if (len >= sizeof name) len = sizeof name - 1;
    memcpy(name, assignment, len);
    name[len] = '\0';
    if (!eq || len == 0)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, name, "expected key=value, got '%s'", assignment);
    const char *value = eq + 1;
    const struct nsid_key *k = nsid_keys_find(KEYS, N_KEYS, name);
    if (k) return key_store(cfg, k, value, err);
    /* A bare size key ("neurons=300") sets it for every role. */
    static const char *const roles[NSID_SIM_ROLE_COUNT] = {"4s", "11s", "1s", "eval"};
    int found = 0;
    for (int r = 0; r < NSID_SIM_ROLE_COUNT; r++) {
        char full[128];
        snprintf(full, sizeof full, "%s.%s", roles[r], name);
        const struct nsid_key *rk = nsid_keys_find(KEYS, N_KEYS, full);
        if (!rk) continue;
        int rc = key_store(cfg, rk, value, err);
        if (rc < 0) return rc;
        found = 1;
    }
    if (!found)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, name,
                            "unknown key (nsid-simulate --keys lists them)");
    return 0;
}

static void key_value(const struct nsid_sim_config *cfg, const struct nsid_key *k, char *buf, size_t n);

/* Every number within its key's range (a struct filled by hand may not be). */
static int check_ranges(const struct nsid_sim_config *cfg, struct nsid_err *err)
{
    for (int i = 0; i < N_KEYS; i++) {
        const struct nsid_key *k = &KEYS[i];
        if (nsid_keys_in_bounds(k, cfg)) continue;
        char v[64], b[100];
        key_value(cfg, k, v, sizeof v);
        nsid_keys_format_bounds(k, b, sizeof b);
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, k->name, "%s not in %s", v, b);
    }
    return 0;
}

int nsid_sim_config_check(const struct nsid_sim_config *cfg, struct nsid_err *err)
{
    static const char *const roles[NSID_SIM_ROLE_COUNT] = {"4s", "11s", "1s", "eval"};
    int rc = check_ranges(cfg, err);
    if (rc < 0) return rc;
    char key[64];
    for (int r = 0; r < NSID_SIM_ROLE_COUNT; r++) {
        const struct nsid_sim_sizes *s = &cfg->sizes[r];
        snprintf(key, sizeof key, "%s.matched", roles[r]);
        if (s->matched > s->neurons)
            return nsid_err_set(err, NSID_EINVAL, NULL, 0, key, "%lld matched neurons but only %lld neurons (%s.neurons)",
                                (long long)s->matched, (long long)s->neurons, roles[r]);
    }
    if (cfg->height % 4 != 0)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "image.height", "%d is not a multiple of 4", cfg->height);
    if (cfg->width % 32 != 0)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "image.width", "%d is not a multiple of 32", cfg->width);
    if (cfg->height - 15 - 2 * cfg->rf_margin_px < 1 || cfg->width - 15 - 2 * cfg->rf_margin_px < 1)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "rf.margin_px",
                            "%g px leaves no room for RF centres in a %d x %d image", cfg->rf_margin_px,
                            cfg->height, cfg->width);
    if (cfg->oracle_min > cfg->oracle_max)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "oracle.min", "%g > oracle.max %g", cfg->oracle_min,
                            cfg->oracle_max);
    double t = 0;
    for (int i = 0; i < NSID_SIM_CELL_COUNT; i++) t += cfg->type_fraction[i];
    if (!(t > 0))
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "types.simple", "all cell-type fractions are zero");
    return check_groups(cfg->groups, err);
}

/* Format the current value of key k (the --keys listing and groups.json: %g for numbers). */
static void key_value(const struct nsid_sim_config *cfg, const struct nsid_key *k, char *buf, size_t n)
{
    const char *base = (const char *)cfg + k->offset;
    switch (k->type) {
    case NSID_KEY_INT:
        if (k->size == sizeof(int)) snprintf(buf, n, "%d", *(const int *)(const void *)base);
        else snprintf(buf, n, "%lld", (long long)*(const int64_t *)(const void *)base);
        break;
    case NSID_KEY_UINT: snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)(const void *)base); break;
    case NSID_KEY_DOUBLE: snprintf(buf, n, "%g", *(const double *)(const void *)base); break;
    case NSID_KEY_BOOL: snprintf(buf, n, "%s", *(const bool *)(const void *)base ? "true" : "false"); break;
    case NSID_KEY_ENUM: snprintf(buf, n, "%s", k->names[*(const int *)(const void *)base]); break;
    default: snprintf(buf, n, "%s", base); break;
    }
}

void nsid_sim_config_print_keys(const struct nsid_sim_config *cfg, FILE *f)
{
    fprintf(f, "%-28s %-6s %-18s %-12s %s\n", "key", "type", "range", "value", "meaning");
    for (int i = 0; i < N_KEYS; i++) {
        const struct nsid_key *k = &KEYS[i];
        static const char *const tn[] = {[NSID_KEY_INT] = "int", [NSID_KEY_DOUBLE] = "real", [NSID_KEY_BOOL] = "bool",
                                         [NSID_KEY_STRING] = "string", [NSID_KEY_ENUM] = "enum",
                                         [NSID_KEY_UINT] = "uint"};
        char range[48] = "", val[NSID_SIM_GROUPS_MAX];
        if (k->type == NSID_KEY_INT) snprintf(range, sizeof range, "[%g, %g]", (double)k->imin, (double)k->imax);
        else if (k->type == NSID_KEY_DOUBLE) snprintf(range, sizeof range, "[%g, %g]", k->dmin, k->dmax);
        else if (k->type == NSID_KEY_ENUM)
            for (int j = 0; k->names[j]; j++)
                snprintf(range + strlen(range), sizeof range - strlen(range), "%s%s", j ? "|" : "", k->names[j]);
        key_value(cfg, k, val, sizeof val);
        fprintf(f, "%-28s %-6s %-18s %-12s %s\n", k->name, tn[k->type], range, val, k->doc);
    }
    fprintf(f, "A size key without its prefix (e.g. neurons=300) sets all four roles.\n");
}

void nsid__sim_config_json(const struct nsid_sim_config *cfg, FILE *f, const char *indent)
{
    fprintf(f, "{");
    for (int i = 0; i < N_KEYS; i++) {
        const struct nsid_key *k = &KEYS[i];
        char val[NSID_SIM_GROUPS_MAX];
        key_value(cfg, k, val, sizeof val);
        char q[6 * NSID_SIM_GROUPS_MAX + 3]; /* a control byte is 6 bytes quoted */
        if (k->type == NSID_KEY_ENUM || k->type == NSID_KEY_STRING) nsid_json_quote(val, q, sizeof q);
        fprintf(f, "%s\n%s  \"%s\": %s", i ? "," : "", indent, k->name,
                k->type == NSID_KEY_ENUM || k->type == NSID_KEY_STRING ? q : val);
    }
    fprintf(f, "\n%s}", indent);
}
