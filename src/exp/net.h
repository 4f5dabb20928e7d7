/*
 * net.h - the network of a run, built from its configuration: the paper's model
 * (nsid_model: SE2d core + readouts) or the task-driven model of docs/paper.md §7.5 (a frozen
 * VGG16 core, src/nn/vgg16.h, + the same readouts). The trainer and the evaluator talk
 * to this one interface, so every core type trains, checkpoints and evaluates the same way.
 *
 *     struct nsid_net net;
 *     nsid_net_init(&net, &config, scans, n_scans, &err);   // initialised from train.seed
 *     nsid_net_prepare_core(&net, &config, &err);          // transfer / VGG16 weights / random
 *     nsid_net_alloc_state(&net, 64, &err);
 *     nsid_net_set_bias(&net, s, mean);                    // first training batch's mean
 *     nsid_net_zero_grad(&net);
 *     for each scan s: loss += nsid_net_train_batch(&net, &batch_s, &sample_rng);
 *     nsid_net_adam_step(&net, &adam);
 *     const float *pred = nsid_net_predict(&net, &batch);  // (B, N_s), evaluation mode
 *     nsid_net_save(&net, "checkpoint.h5", arch, false, &err);
 *     nsid_net_free(&net);
 *
 * Every tensor lives in one parameter table (nsid_net_params), core first: the core's
 * weights are [0, core_end). Buffers (BatchNorm running statistics) and the int64 entries
 * (num_batches_tracked, nsid_net_ints) make up the rest of the state; together with the
 * weights they are what a "best state" snapshot copies (nsid_net_snapshot).
 *
 * The task-driven model: core.features.TransferLearning.* and core.features.OutBatchNorm.*
 * (neuralpredictors' TransferLearningCore names), then readout.<data_key>.* as in the
 * paper's model; its output is ELU(readout) + 1 and its loss the paper's (§4.2) without a
 * core regulariser. The VGG16 core is always frozen. Feature sharing, shifters and
 * modulators are refused with it (the paper's VGG16 runs use none).
 */
#ifndef NSID_NET_H
#define NSID_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"
#include "exp/config.h"
#include "nn/adam.h"
#include "nn/checkpoint.h"
#include "nn/model.h"
#include "nn/vgg16.h"

enum nsid_net_kind {
    NSID_NET_SE2D = 0,  /* nsid_model */
    NSID_NET_VGG16 = 1, /* frozen VGG16 + readouts */
};

/* The task-driven model's own parts (the SE2d model keeps its in struct nsid_model). */
struct nsid_net_vgg {
    struct nsid_params ps;                /* every tensor; core first */
    struct nsid_vgg16 core;
    struct nsid_readout *ro;              /* (n_scans) */
    struct nsid_model_scan_rec *scan;     /* (n_scans) */
    struct nsid_checkpoint_ids *ck_ids;   /* (n_scans) each readout's neuron identity */
    int N_max;
    struct nsid_checkpoint_i64 ck_int;    /* OutBatchNorm.num_batches_tracked */
    char (*fixed_names)[NSID_PARAM_NAME_MAX]; /* readout source_grid names (checked on load) */
    const char **fixed;
    int n_fixed;
    struct nsid_arena arena;
    int B_max;
    float *act;                           /* (B_max, N_max) ELU(y) + 1: the output */
    float *dout, *dy;                     /* (B_max, N_max) gradients */
    int last_scan, last_B;
    struct nsid_model_loss_parts loss;
    /* conv2_2 outputs per trial (nsid_net_set_cache): the frozen convolutions of an image
       never change, so each is computed once; results are bit-identical to recomputing */
    float **cache;                        /* (n_scans) (n_trials, 128*H/2*W/2) or NULL */
    uint8_t **cached;                     /* (n_scans) (n_trials) 1 once computed */
    const int64_t *trials;                /* trial indices of the next forward (nsid_net_set_trials) */
};

struct nsid_net {
    int kind;                             /* enum nsid_net_kind */
    int n_scans;
    bool frozen_core;                     /* core weights never change (transfer, random, VGG16) */
    char core_desc[512];                  /* what the core is: "se2d trained", "vgg16 RANDOM", ... */
    struct nsid_model model;              /* NSID_NET_SE2D */
    struct nsid_net_vgg vgg;              /* NSID_NET_VGG16 */
};

/*
 * Build the network of configuration c for n_scans scans (c validated; scans as
 * nsid_model_init wants them) and initialise every parameter from train.seed (stream
 * NSID_STREAM_INIT). The core is not yet loaded: see nsid_net_prepare_core. On failure
 * net is zeroed and err names the key or scan.
 */
int nsid_net_init(struct nsid_net *net, const struct nsid_config *c, const struct nsid_model_scan *scans,
                  int n_scans, struct nsid_err *err);

/*
 * Give the core what the configuration asks for: with model.core.checkpoint, the SE2d
 * core's "core." entries from an nsid checkpoint (transfer: weights and BN statistics,
 * strict within the prefix) or the VGG16 weights file; with model.core.random, nothing
 * (the initialisation stays). Sets the frozen flag from train.detach_core (VGG16: always)
 * and core_desc. Errors name the file and the tensor.
 */
int nsid_net_prepare_core(struct nsid_net *net, const struct nsid_config *c, struct nsid_err *err);

/* Parameter table, and the weight range of the core [0, *core_end). */
struct nsid_params *nsid_net_params(struct nsid_net *net);
size_t nsid_net_core_end(const struct nsid_net *net);

/* The int64 state entries (num_batches_tracked): *n receives their count. */
struct nsid_checkpoint_i64 *nsid_net_ints(struct nsid_net *net, int *n);

/* Readout of scan s; data key and neurons of scan s. */
struct nsid_readout *nsid_net_readout(struct nsid_net *net, int s);
const char *nsid_net_scan_key(const struct nsid_net *net, int s);
int nsid_net_scan_neurons(const struct nsid_net *net, int s);
int nsid_net_scan_index(const struct nsid_net *net, const char *data_key);

/* Activation state for batches up to B_max. */
int nsid_net_alloc_state(struct nsid_net *net, int B_max, struct nsid_err *err);

/*
 * Keep the frozen VGG16 convolutions' output of every trial once computed, if all scans'
 * trials fit in max_bytes (VGG16 networks only; others ignore it). *bytes receives what was
 * allocated (0: no cache). Results are bit-identical with and without the cache.
 */
int nsid_net_set_cache(struct nsid_net *net, size_t max_bytes, size_t *bytes, struct nsid_err *err);

/* The trial indices (in the scan's file) of the next forward's batch, or NULL (no caching). */
void nsid_net_set_trials(struct nsid_net *net, const int64_t *trials);
/* True when the prediction of a trial depends on more than its image (a shifter or modulator). */
bool nsid_net_per_trial(const struct nsid_net *net);

/* Readout bias of scan s = mean (N_s). */
void nsid_net_set_bias(struct nsid_net *net, int s, const float *mean);

void nsid_net_zero_grad(struct nsid_net *net);
/* forward (training) + loss + backward of one batch; returns the objective, parts in *parts (NULL ok). */
double nsid_net_train_batch(struct nsid_net *net, const struct nsid_model_batch *b, struct nsid_rng *rng,
                            struct nsid_model_loss_parts *parts);
/* One Adam step over the trainable weights (the readouts only when the core is frozen). */
void nsid_net_adam_step(struct nsid_net *net, const struct nsid_adam_config *c);
/* Evaluation-mode predictions (B, N_s) of batch b (valid until the next forward). */
const float *nsid_net_predict(struct nsid_net *net, const struct nsid_model_batch *b);

/*
 * The model's checkpoint description with arch as the architecture text; save / load
 * (opts as nsid_checkpoint_load: NULL for the whole state_dict).
 */
void nsid_net_checkpoint(struct nsid_net *net, struct nsid_checkpoint *ck, const char *arch);
int nsid_net_save(struct nsid_net *net, const char *path, const char *arch, bool with_optimizer,
                  struct nsid_err *err);
int nsid_net_load(struct nsid_net *net, const char *path, const struct nsid_checkpoint_load_opts *opts,
                  struct nsid_err *err);

/* The model-specific architecture JSON (nsid_model_arch_json, or the VGG16 model's) into buf. */
int nsid_net_arch_json(const struct nsid_net *net, char *buf, size_t n);

/* Trainable floats of the core and of one neuron's readout (for the records). */
size_t nsid_net_core_params(const struct nsid_net *net);
double nsid_net_readout_params_per_neuron(struct nsid_net *net);

void nsid_net_free(struct nsid_net *net);

#endif
