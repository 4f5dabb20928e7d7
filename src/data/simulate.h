/*
 * simulate.h - simulated mouse V1 animals with a known ground truth.
 *
 * The paper's recordings cannot ship with nsid, so the default reproduction
 * runs on simulated scans that have the same layout as a recorded
 * StaticImageSet (docs/paper.md §5.3) plus a ground_truth/ group. The model:
 *
 *   stimuli    grayscale 36x64 "dead leaves" images on the 0-255 scale
 *              (occluding textured shapes, radius density r^-3, so the power
 *              spectrum falls as ~1/f^2 like natural images)
 *   cortex     one fixed nonlinear feature bank, identical for every animal
 *              and seed: quadrature Gabor pairs (8 orientations x 3 scales of
 *              an image pyramid), simple (rectified, squared) and complex
 *              (energy) responses, divisive normalisation over orientations
 *              and space, then a second nonlinear stage (iso-orientation
 *              surround suppression, cross-orientation "corner" products) and
 *              ON/OFF centre-surround channels: 162 channels per position
 *   animals    a retinotopic map (affine, px per µm, with scatter) from
 *              cortical position to receptive-field (RF) centre
 *   neurons    a point readout of the bank at the RF centre with weights from
 *              six cell-type prototypes (simple, complex, surround-suppressed,
 *              cross-orientation, ON/OFF, suppressed-by-contrast) plus
 *              individual variation, standardised drive, a softplus output
 *              nonlinearity with baseline, and a mean rate tuned so that the
 *              single-trial oracle correlation hits a per-neuron target
 *              (spread over ~0.2-0.7)
 *   noise      gamma-Poisson events (overdispersed) with gamma amplitudes:
 *              non-negative, exact zeros, like deconvolved calcium
 *   scans      the paper's 13 scans of 7 animals (§5.2); scans of one animal
 *              share `matched` neurons (same truth, multi_match_id >= 0)
 *
 * RF centres lie where the paper's core has outputs: image px
 * [margin+7, W-8-margin] x [margin+7, H-8-margin] (22x50 output of a 15x15
 * valid convolution), and ground_truth/rf_center_grid gives them in the
 * readout's [-1, 1] grid (align_corners=True). The truth depends only on
 * (seed, configuration): bit-identical for any thread count.
 *
 * Worked example (what nsid-simulate does):
 *
 *     struct nsid_sim_config cfg;
 *     struct nsid_err err = {0};
 *     if (nsid_sim_config_init(&cfg, "quick", &err) < 0 ||
 *         nsid_sim_config_set(&cfg, "seed=7", &err) < 0 ||
 *         nsid_sim_config_check(&cfg, &err) < 0 ||
 *         nsid_simulate_write(&cfg, "data/sim", stderr, &err) < 0) {
 *         nsid_err_print(&err, stderr);
 *         return 1;
 *     }
 *     // data/sim/static22564-2-12-preproc0.h5 ... and data/sim/groups.json
 *
 * One scan in memory instead of a file:
 *
 *     struct nsid_scan s;
 *     int i = nsid_sim_scan_find("20457-5-9");
 *     if (nsid_simulate_scan_generate(&s, &cfg, i, &err) < 0) ...
 *     nsid_scan_free(&s);
 */
#ifndef NSID_SIMULATE_H
#define NSID_SIMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "base/rng.h"
#include "data/scan.h"

/* ---- configuration ------------------------------------------------------------ */

/* Which sizes a scan takes: the paper's scans play four roles. */
enum nsid_sim_role {
    NSID_SIM_ROLE_MATCHED = 0, /* the 4-S matched scans (one animal, matched neurons) */
    NSID_SIM_ROLE_OTHER = 1,   /* the 7 further scans of 11-S (4 more animals) */
    NSID_SIM_ROLE_SINGLE = 2,  /* the 1-S scan */
    NSID_SIM_ROLE_EVAL = 3,    /* the evaluation scan (a further animal) */
    NSID_SIM_ROLE_COUNT = 4,
};

enum nsid_sim_cell_type {
    NSID_SIM_CELL_SIMPLE = 0,   /* phase-sensitive: rectified Gabor */
    NSID_SIM_CELL_COMPLEX = 1,  /* phase-invariant: normalised energy */
    NSID_SIM_CELL_SURROUND = 2, /* complex with iso-orientation surround suppression */
    NSID_SIM_CELL_CROSS = 3,    /* product of orthogonal complex cells (corners, plaids) */
    NSID_SIM_CELL_ONOFF = 4,    /* untuned centre-surround ON or OFF */
    NSID_SIM_CELL_SBC = 5,      /* suppressed by contrast */
    NSID_SIM_CELL_COUNT = 6,
};

/* Which images a scan shows. */
enum nsid_sim_image_sets {
    NSID_SIM_IMAGES_OWN = 0,   /* every scan its own image set */
    NSID_SIM_IMAGES_PAPER = 1, /* the image sets of the paper's Fig. 1 schematic (some shared) */
};

/* Sizes of one scan. */
struct nsid_sim_sizes {
    int64_t neurons;           /* N, neurons in the scan */
    int64_t matched;           /* of them, shared by every scan of the animal (<= neurons) */
    int64_t train_images;      /* train tier: one trial per image */
    int64_t validation_images; /* validation tier: one trial per image */
    int64_t test_images;       /* test tier: distinct images ... */
    int64_t test_repeats;      /* ... each shown this many times (>= 2, for the oracle) */
};

/* How nsid_simulate_write stores a scan. */
enum nsid_sim_format {
    NSID_SIM_FORMAT_H5 = 0,    /* static<...>-preproc0.h5, HDF5 StaticImageSet */
    NSID_SIM_FORMAT_TREE = 1,  /* static<...>-preproc0/, the authors' file tree */
};

#define NSID_SIM_GROUPS_MAX 256

struct nsid_sim_config {
    char profile[16];          /* "smoke", "quick" or "paper" */
    uint64_t seed;             /* master seed: every stream derives from it */
    int threads;               /* worker threads, 0 = online CPUs (output does not depend on it) */
    int height, width;         /* image size, px (36, 64); height % 4 == 0, width % 32 == 0 */
    struct nsid_sim_sizes sizes[NSID_SIM_ROLE_COUNT]; /* per role */
    int image_sets;            /* enum nsid_sim_image_sets */
    char groups[NSID_SIM_GROUPS_MAX]; /* comma-separated group names whose scans to write, or "all" */
    int calibration_images;    /* images used to standardise each neuron's drive */
    double oracle_min, oracle_max; /* target oracle correlations: min + (max-min) * Beta(2,2) */
    double overdispersion;     /* gamma shape of the trial gain (mean 1): smaller = noisier */
    double amplitude_shape;    /* gamma shape of one event's amplitude */
    double rf_scatter_px;      /* sd of RF centres around the retinotopic map, px */
    double rf_margin_px;       /* RF centres keep this far inside the core's output area, px */
    double cortex_half_um;     /* half side of the cortical field neurons are drawn from, µm */
    double motor_jitter_um;    /* sd of a matched neuron's coordinates between scans, µm */
    double type_fraction[NSID_SIM_CELL_COUNT]; /* relative frequency of each cell type */
    double leaf_exponent;      /* dead leaves: radius density r^-exponent */
    bool eye_movements;        /* pupil position shifts every RF on a trial */
    double eye_shift_px;       /* RF shift, px per sd of pupil position */
    bool behavior;             /* running and pupil size modulate gains */
    double behavior_gain;      /* sd over neurons of the log-gain per sd of behaviour */
    int gzip;                  /* HDF5 deflate level of the written files, 0 = none */
    int format;                /* enum nsid_sim_format */
};

/*
 * Fill cfg with the named profile's values ("smoke", "quick", "paper").
 * Returns NSID_EINVAL naming "profile" if it is unknown.
 */
int nsid_sim_config_init(struct nsid_sim_config *cfg, const char *profile, struct nsid_err *err);

/*
 * Apply one "key=value" override (keys: nsid_sim_config_print_keys). A size
 * key without its role prefix ("neurons=300") sets every role. Unknown key,
 * bad number or value out of range: NSID_EINVAL with err->key = the key.
 * Cross-key rules are checked by nsid_sim_config_check.
 */
int nsid_sim_config_set(struct nsid_sim_config *cfg, const char *assignment, struct nsid_err *err);

/*
 * Check the whole configuration: ranges, matched <= neurons, known groups,
 * image size divisibility, room for RF centres. Error names the key.
 */
int nsid_sim_config_check(const struct nsid_sim_config *cfg, struct nsid_err *err);

/* Print every key with its type, range, current value and help. */
void nsid_sim_config_print_keys(const struct nsid_sim_config *cfg, FILE *f);

/* ---- the paper's scans and dataset groups (docs/paper.md §5.2) ---------------------- */

struct nsid_sim_scan_def {
    int64_t animal, session, scan; /* file stem static<animal>-<session>-<scan>-preproc0 */
    int role;                  /* enum nsid_sim_role */
    int paper_image_set;       /* image set in the paper's Fig. 1 schematic */
};

#define NSID_SIM_GROUP_SCANS_MAX 16

struct nsid_sim_group_def {
    const char *name;          /* "4s_matched", "11s", "4s_diff_animals", "1s", "evaluation" */
    const char *label;         /* the paper's name, e.g. "4-S: matched" */
    int n;                     /* scans in the group */
    int scans[NSID_SIM_GROUP_SCANS_MAX]; /* indices into the scan table */
};

int nsid_sim_n_scans(void);
const struct nsid_sim_scan_def *nsid_sim_scan_def(int i);
int nsid_sim_n_groups(void);
const struct nsid_sim_group_def *nsid_sim_group_def(int i);
/* Group index by name, or -1. */
int nsid_sim_group_find(const char *name);
/* Scan index by "animal-session-scan" (e.g. "20457-5-9"), or -1. */
int nsid_sim_scan_find(const char *name);
/* "static<animal>-<session>-<scan>-preproc0.h5" */
void nsid_sim_scan_filename(int i, char *buf, size_t n);
/* The name nsid_simulate_write gives scan i: the file name, without ".h5" for a file tree. */
void nsid_sim_scan_output_name(const struct nsid_sim_config *cfg, int i, char *buf, size_t n);
/* True if scan i belongs to one of the configured groups. */
bool nsid_sim_scan_selected(const struct nsid_sim_config *cfg, int i);
/* The image set scan i shows (equal sets show identical images). */
int nsid_sim_scan_image_set(const struct nsid_sim_config *cfg, int i);

/* ---- stimuli ---------------------------------------------------------------------- */

#define NSID_SIM_IMAGE_MAX_HEIGHT 1024 /* px */
#define NSID_SIM_IMAGE_MAX_WIDTH 1024  /* px */

/* Floats of scratch nsid_sim_image needs for an image of height x width. */
size_t nsid_sim_image_scratch(int height, int width);

/*
 * Draw one dead-leaves image (height x width <= NSID_SIM_IMAGE_MAX_*, integer
 * values 0..255) from the stream r into img. leaf_exponent is the radius
 * density exponent (3 gives ~1/f^2). scratch holds
 * nsid_sim_image_scratch(height, width) floats.
 */
void nsid_sim_image(float *img, int height, int width, double leaf_exponent,
                    struct nsid_rng *r, float *scratch);

/* ---- scans --------------------------------------------------------------------------- */

/*
 * Generate scan i of the table (nsid_sim_scan_def) in memory, filled like a
 * recorded scan (images, responses, behavior, pupil_center, tiers,
 * item_info, neurons, statistics) plus the ground_truth fields. out is
 * initialised here; on error it is freed again. cfg must pass
 * nsid_sim_config_check.
 */
int nsid_simulate_scan_generate(struct nsid_scan *out, const struct nsid_sim_config *cfg, int i,
                           struct nsid_err *err);

/*
 * Write the scans of the configured groups into dir (created if missing) as
 * static<animal>-<session>-<scan>-preproc0.h5 (or file-tree folders of that
 * name without .h5, output.format=tree; existing ones are replaced), then
 * dir/groups.json. log (may be NULL) gets one line per scan with its
 * generation time.
 */
int nsid_simulate_write(const struct nsid_sim_config *cfg, const char *dir, FILE *log,
                   struct nsid_err *err);

/*
 * Write the description of the groups: profile, seed, image sets, every
 * selected scan (file, data key, animal, sizes) and group name -> files.
 * JSON, which YAML readers also accept.
 */
int nsid_simulate_write_groups(const struct nsid_sim_config *cfg, const char *path, struct nsid_err *err);

#endif
