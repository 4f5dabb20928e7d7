/*
 * model.h - the whole model: a shared core, one readout per scan, optional
 * shifters and modulators, its loss, gradients, Adam step and checkpoints.
 *
 * neuralpredictors' Encoder (docs/paper.md §2.7) with the trainer's objective
 * (§4.2): for a batch of B trials of scan s
 *
 *     feat  = core(images)                                   (B, C, H, W)
 *             (handed to Gaussian readouts in the core's channel-blocked layout,
 *             and its gradient back, without transposition: model.blocked_feat)
 *     y     = readout_s(feat [, shift = shifter_s(pupil)])   (B, N_s)
 *     out   = ELU(y) + 1 [ * gain, gain = modulator_s(behavior) ]
 *     loss  = sqrt(N_total_s / B) * sum_{b,n} [out - r log(out + 1e-12)]
 *           + [core not frozen] gamma_input * LaplaceL2norm(W0)
 *           + readout_s regulariser (gamma_readout * L1 form of §2)
 *
 * N_total_s is the scan's number of trials in all tiers; B the actual batch
 * size (a last partial batch gets a larger factor). One Adam step follows the
 * gradients of one batch from every scan (LongCycler, §4.3): zero_grad, then
 * forward/loss/backward per scan (gradients accumulate), then nsid_model_adam_step.
 *
 * Every tensor lives in one parameter table m->ps, registered core first:
 * the core is the weight range [0, core_end), so a frozen core (transfer,
 * §4.6) is a range the backward never writes and Adam skips. A frozen core
 * still runs BatchNorm in training mode (batch statistics, running statistics
 * re-estimated) and drops its regulariser. Activations come from one arena
 * sized once by nsid_model_alloc_state(m, B_max); forward/loss/backward never
 * allocate and have no error paths.
 *
 *     struct nsid_model_config cfg; nsid_model_config_default(&cfg);   // the paper's model
 *     struct nsid_model_scan sc[2] = {                                  // from scan metadata
 *         {.data_key = "22564-2-12-0", .n_neurons = 3597, .n_trials = 5993, .channels = 1,
 *          .height = 36, .width = 64, .coords = xyz, .match_ids = ids}, ...};
 *     struct nsid_model m;
 *     if (nsid_model_init(&m, &cfg, sc, 2, &err) < 0) ...               // parameters initialised
 *     nsid_model_set_bias(&m, 0, mean_of_first_batch);
 *     nsid_model_alloc_state(&m, 64, &err);
 *     nsid_model_zero_grad(&m);
 *     for each scan s: struct nsid_model_batch b = {.scan = s, .B = 64, .images = x, .responses = r};
 *                      loss += nsid_model_train_batch(&m, &b, &sample_rng);
 *     nsid_model_adam_step(&m, &adam_cfg);
 *     nsid_model_predict(&m, &b);                                       // m.out (B, N_s), eval mode
 *     nsid_model_save(&m, "checkpoint.h5", true, &err);
 *     nsid_model_free(&m);
 *
 * Tensors have their neuralpredictors state_dict names: "core.features.…",
 * "readout.<data_key>.…", "shifter.<data_key>.mlp.…",
 * "modulator.<data_key>.modulator_networks.0.…"; a checkpoint (checkpoint.h)
 * holds them all plus BN's num_batches_tracked and, with feature sharing, the
 * owner's _features under every scan's name, exactly as PyTorch lists them.
 */
#ifndef NSID_MODEL_H
#define NSID_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/rng.h"
#include "nn/adam.h"
#include "nn/checkpoint.h"
#include "nn/core.h"
#include "nn/modulator.h"
#include "nn/params.h"
#include "nn/readout.h"
#include "nn/shifter.h"

#define NSID_MODEL_KEY_MAX 128

struct nsid_scan;

struct nsid_model_config {
    const struct nsid_core_ops *core_ops;   /* the core's implementation: nsid_core_se2d_ops (NULL
                                               means it; the paper's) or nsid_vgg16_core_ops */
    struct nsid_core_config core;           /* paper: nsid_core_config_default; a VGG16 core takes
                                               input_channels, bn_momentum and bn_eps from it */
    char isa[32];                           /* kernel set of core and readouts (kern.h: "auto",
                                               "avx2", "generic16", ...); "" = auto. The stage
                                               mains pass env NSID_ISA here. */
    struct nsid_readout_config readout;     /* one per scan, same config (paper: Gaussian, cortex) */
    bool shifter;                           /* an eye-position shifter per scan (paper: false) */
    struct nsid_shifter_config shifter_cfg;
    bool modulator;                         /* a behaviour modulator per scan (paper: false) */
    struct nsid_modulator_config modulator_cfg;
    uint64_t seed;                          /* initialisation seed (stream NSID_STREAM_INIT); 1 */
    int threads;                            /* compute threads of the model's pool; 0 (default):
                                               nsid_pool_default_threads() = the online CPUs
                                               (NSID_THREADS is the stage programs' to read).
                                               Results do not depend on it. */
};

/* What the model needs to know of a scan (nsid_model_scan_from fills it from a loaded scan). */
struct nsid_model_scan {
    const char *data_key;      /* readout name, e.g. "20457-5-9-0"; no '.' or '/' */
    int n_neurons;             /* N_s */
    int64_t n_trials;          /* all trials of the scan, every tier: the loss scale's N */
    int channels, height, width; /* image shape (1, 36, 64); the same for every scan */
    const double *coords;      /* (N,3) cell_motor_coordinates µm; needed by the grid-mean predictor */
    const int64_t *match_ids;  /* (N) multi_match_id; needed with feature sharing */
    /* The identity of the readout's neurons, recorded in checkpoints and checked at load:
       unit_ids (N) of the neurons in readout order; a scan without them: neuron_index (N), their
       indices in the scan's file (NULL: 0..N-1). */
    const int64_t *unit_ids;
    const int64_t *neuron_index;
};

/* One batch of one scan. Only the fields a call needs must be set. */
struct nsid_model_batch {
    int scan;                  /* scan index (order of nsid_model_init) */
    int B;                     /* trials, 1..B_max */
    const float *images;       /* (B, channels, height, width) */
    const float *responses;    /* (B, N_s) targets (loss, backward) */
    const float *pupil;        /* (B, 2) pupil centre, with a shifter */
    const float *behavior;     /* (B, 3) behaviour, with a modulator */
    const float *z;            /* (B, N_s, 2) Gaussian readout noise; NULL: drawn from the rng */
};

/* Parts of the latest nsid_model_loss. */
struct nsid_model_loss_parts {
    double poisson;            /* sum of out - r log(out + 1e-12), unscaled */
    double scale;              /* sqrt(N_total / B) */
    double core_reg;           /* gamma_input * LaplaceL2norm (0 when frozen) */
    double readout_reg;        /* the scan's readout regulariser */
    double total;              /* scale * poisson + core_reg + readout_reg */
};

struct nsid_model_scan_rec {
    char key[NSID_MODEL_KEY_MAX]; /* data key */
    int N;                        /* neurons */
    int64_t n_trials;             /* all trials (loss scale) */
    int64_t *ids;                 /* (N) owned: unit ids, or (ids_by_index) neuron indices in the file */
    bool ids_by_index;
};

/*
 * Fill r from sc (key, N, trials, and a copy of the neurons' identity); *ck the matching
 * checkpoint entry (pointing into r). Release with nsid_model_scan_rec_free.
 */
int nsid_model_scan_rec_init(struct nsid_model_scan_rec *r, const struct nsid_model_scan *sc,
                             struct nsid_checkpoint_ids *ck, struct nsid_err *err);
void nsid_model_scan_rec_free(struct nsid_model_scan_rec *r);

struct nsid_model {
    struct nsid_model_config cfg;
    int n_scans;
    struct nsid_model_scan_rec *scan;  /* (n_scans) */
    int in_c, in_h, in_w;              /* image shape */
    int N_max;                         /* largest N_s */
    struct nsid_params ps;             /* every tensor; core first */
    size_t core_end;                   /* weights [0, core_end) belong to the core */
    const struct nsid_core_ops *core_ops; /* the core's implementation (cfg.core_ops or SE2d) */
    void *core;                        /* owned: core_ops->size bytes, the implementation's struct */
    int feat_c, feat_h, feat_w;        /* the core's output shape */
    const float *feat;                 /* the latest forward's core output (the core's memory) */
    const int64_t *trials;             /* trial indices of the next forward (nsid_model_set_trials) */
    struct nsid_readout *ro;           /* (n_scans), ro[0] owns shared features */
    struct nsid_shifter *sh;           /* (n_scans) or NULL */
    struct nsid_modulator *mod;        /* (n_scans) or NULL */
    bool frozen_core;                  /* transfer, or a core that is not trainable: no core
                                          gradient, no core regulariser */
    struct nsid_pool pool;             /* the model's threads, lent to the core and the readouts */
    const struct nsid_kern *kern;      /* the kernel set of core and readouts (cfg.isa) */
    bool blocked_feat;                 /* core output / dfeat channel-blocked (all readouts Gaussian) */

    /* checkpoint description (entries the float table cannot hold) */
    struct nsid_checkpoint_i64 *ck_ints;      /* BN num_batches_tracked per core layer, and
                                                 feature_sharing_index per sharing scan */
    int n_ck_ints;
    struct nsid_checkpoint_alias *ck_aliases; /* shared _features under non-owner names */
    int n_ck_aliases;
    char (*ck_fixed_names)[NSID_PARAM_NAME_MAX]; /* readouts' source_grid */
    const char **ck_fixed;
    int n_ck_fixed;
    struct nsid_checkpoint_ids *ck_ids;       /* (n_scans) each readout's neuron identity */

    /* state for batches up to B_max (nsid_model_alloc_state) */
    struct nsid_arena arena;
    int B_max;                         /* 0 until alloc_state */
    float *act;                        /* (B_max, N_max) ELU(y) + 1 */
    float *out;                        /* (B_max, N_max) model output (act * gain, or = act) */
    float *dout;                       /* (B_max, N_max) loss gradient wrt out */
    float *dact;                       /* (B_max, N_max) wrt act (with a modulator) */
    float *dy;                         /* (B_max, N_max) wrt the readout output */
    float *dgain;                      /* (B_max, N_max) with a modulator */
    float *dfeat;                      /* (B_max, C, H, W) wrt the core output */
    float *dshift;                     /* (B_max, 2) with a shifter */
    double *row_loss;                  /* (B_max) Poisson sum per image of the latest loss */
    int last_scan, last_B;             /* the latest forward */
    bool last_training;
    struct nsid_model_loss_parts loss; /* of the latest nsid_model_loss */
};

/* The paper's model (docs/paper.md §1-§2): SE2d core, Gaussian readout with the cortex predictor. */
void nsid_model_config_default(struct nsid_model_config *cfg);

/*
 * Copy the scan's metadata into sc (pointers into s, which must outlive the
 * model's init): data key, neurons, trials, image shape, coordinates, match ids,
 * unit ids (the identity: all neurons in file order).
 */
void nsid_model_scan_from(struct nsid_model_scan *sc, const struct nsid_scan *s);

/*
 * Build the model for n_scans scans: validate (errors name the scan, key and
 * value), register core, readouts, shifters, modulators in that order,
 * allocate the table and initialise every parameter from cfg->seed
 * (nsid_model_reset_parameters). On failure everything is released and m is
 * zeroed. m must not move after init.
 */
int nsid_model_init(struct nsid_model *m, const struct nsid_model_config *cfg,
                    const struct nsid_model_scan *scans, int n_scans, struct nsid_err *err);

/*
 * Re-initialise every parameter as PyTorch would (each module's documented
 * rules) from seed, drawing in this order: core, readouts in scan order,
 * shifters, modulators; Adam state and BN counters are reset. Same seed, same
 * model, bit for bit.
 */
void nsid_model_reset_parameters(struct nsid_model *m, uint64_t seed);

/* Readout bias of scan s = mean (N_s) (the first training batch's mean response, §2.1). */
void nsid_model_set_bias(struct nsid_model *m, int scan, const float *mean);

/* Index of the scan with that data key, or -1. */
int nsid_model_scan_index(const struct nsid_model *m, const char *data_key);

/*
 * Size the arena once for batches up to B_max (a measuring pass, then one
 * block) and bind every module's state. Call again to change B_max.
 */
int nsid_model_alloc_state(struct nsid_model *m, int B_max, struct nsid_err *err);

/*
 * Use n compute threads from now on (n <= 0: nsid_pool_default_threads()):
 * restarts the pool and, if state was allocated, reallocates it. Results are
 * bit-identical for every n. NSID_EINVAL for n > NSID_POOL_MAX_THREADS.
 */
int nsid_model_set_threads(struct nsid_model *m, int n, struct nsid_err *err);

/* Transfer mode on/off (docs/paper.md §1.5, §4.6); a core that is not trainable stays frozen. */
void nsid_model_set_frozen_core(struct nsid_model *m, bool frozen);

/*
 * Let a frozen core keep its features of every trial once computed (core_ops->set_cache; VGG16)
 * if all scans' trials fit in max_bytes. *bytes receives what was allocated (0: no cache).
 * Results are bit-identical with and without the cache.
 */
int nsid_model_set_cache(struct nsid_model *m, size_t max_bytes, size_t *bytes, struct nsid_err *err);

/* The trial indices (in the scan's file) of the next forward's batch, or NULL (no caching). */
void nsid_model_set_trials(struct nsid_model *m, const int64_t *trials);

/* True when the prediction of a trial depends on more than its image (a shifter or modulator). */
bool nsid_model_per_trial(const struct nsid_model *m);

/* Trainable floats of one neuron's readout, on average over the scans (for the records). */
double nsid_model_readout_params_per_neuron(const struct nsid_model *m);

/*
 * m->out (B, N_s) for batch b. training: BN batch statistics (running
 * statistics updated), Gaussian positions sampled (z from b->z or drawn from
 * rng); otherwise evaluation mode (rng unused, may be NULL).
 */
void nsid_model_forward(struct nsid_model *m, const struct nsid_model_batch *b, bool training,
                        struct nsid_rng *rng);

/* Evaluation-mode forward: m->out (B, N_s) are the predictions. */
void nsid_model_predict(struct nsid_model *m, const struct nsid_model_batch *b);

/* The objective of the latest forward against b->responses; parts in m->loss. */
double nsid_model_loss(struct nsid_model *m, const struct nsid_model_batch *b);

/*
 * Gradients of the latest forward's objective, accumulated (+=) into the
 * table's gradients, in exact reverse order of the forward; the core's only
 * when it is not frozen.
 */
void nsid_model_backward(struct nsid_model *m, const struct nsid_model_batch *b);

/* forward (training) + loss + backward; returns the loss. */
double nsid_model_train_batch(struct nsid_model *m, const struct nsid_model_batch *b,
                              struct nsid_rng *rng);

/* Zero every gradient. */
void nsid_model_zero_grad(struct nsid_model *m);

/* One Adam step (PyTorch's rule) over every weight, or over the readouts' only when frozen. */
void nsid_model_adam_step(struct nsid_model *m, const struct nsid_adam_config *c);

/*
 * The checkpoint description of the model (table, num_batches_tracked,
 * shared names, metadata-derived buffers); arch is the text stored as the
 * architecture attribute (NULL: none). Pointers into m.
 */
void nsid_model_checkpoint(struct nsid_model *m, struct nsid_checkpoint *ck, const char *arch);

/*
 * The architecture as JSON (config and scans) into buf (n bytes); returns the
 * length it needs (like snprintf).
 */
int nsid_model_arch_json(const struct nsid_model *m, char *buf, size_t n);

/* Save all tensors (and with_optimizer: Adam state) to path, atomically. */
int nsid_model_save(struct nsid_model *m, const char *path, bool with_optimizer, struct nsid_err *err);

/*
 * Load path into the model (opts NULL: the whole state_dict, strictly;
 * prefix "core.": transfer a core). All or nothing; errors name the tensor
 * with the expected and the actual shape.
 */
int nsid_model_load(struct nsid_model *m, const char *path, const struct nsid_checkpoint_load_opts *opts,
                    struct nsid_err *err);

/* Release everything; safe on a zeroed struct. */
void nsid_model_free(struct nsid_model *m);

#endif
