/*
 * train.h - one training run exactly as docs/paper.md §4: nsid-train's library half.
 *
 *     struct nsid_config c;  nsid_config_load(&c, "run.yaml", sets, n_sets, &err);
 *     const char *data[] = {"data/static20457-5-9-preproc0.h5"};
 *     struct nsid_train_opts o = {.data = data, .n_data = 1, .out_dir = "results/runs/ab12",
 *                                 .stop = &stop_flag, .progress = isatty(2) ? stderr : NULL};
 *     struct nsid_train_result r;
 *     if (nsid_train_run(&c, &o, &r, &err) < 0) ...          // err names the key or file
 *     if (r.interrupted) exit(128 + r.signal);               // resumable: rerun the same command
 *
 * What a run does:
 *   1. loads the scans and selects neurons / images (rundata.h), builds the network
 *      (net.h) from train.seed and gives it its core (transfer from a checkpoint, VGG16
 *      weights, random, or trained from scratch);
 *   2. sets each readout's bias to the mean response of a first training batch (drawn with
 *      its own shuffle stream, §2.1);
 *   3. trains with the LongCycler round robin (§4.3: one epoch = n_scans x the largest
 *      number of batches, one Adam step per round of one batch from every scan, gradients
 *      accumulated), the Poisson objective of §4.2, and early stopping with
 *      ReduceLROnPlateau and restore-best rounds exactly as §4.4 (schedule.h), scored by the
 *      mean validation correlation over all neurons (eval.h);
 *   4. writes <out>/checkpoint.h5 (the restored best model, checkpoint.h layout; its
 *      "architecture" attribute holds {"format":"nsid-run","config":<canonical run
 *      config>,"model":<network architecture>} so nsid-eval can rebuild it), and records the
 *      run in the store (store.h): provenance, datasets, one row per epoch, the checkpoint
 *      as artifact, the training summary; the run stays 'running' until nsid-eval finishes
 *      it ('done' is only written in the final transaction of a finished run).
 *
 * Random streams, all from train.seed: initialisation NSID_STREAM_INIT, shuffling
 * NSID_STREAM_SHUFFLE + k * 2^32 for scan k, the bias batch NSID_TRAIN_STREAM_BIAS + k *
 * 2^32, Gaussian readout positions NSID_STREAM_SAMPLE; subsets use their own seeds (§5.5).
 * Same config, seed and thread count: bit-identical checkpoints.
 *
 * Interrupt and resume: the state needed to continue (weights, buffers, Adam moments and
 * step, the best state, the schedule, every RNG stream, the shuffle permutations and the
 * position in the epoch, the epoch's loss sums) is written atomically to
 * <out>/train_state.bin after every epoch. When *stop becomes non-zero the current round
 * finishes, the state is written mid-epoch, the run is recorded as failed ("interrupted")
 * and nsid_train_run returns with result.interrupted. Running the same command again
 * resumes from the state and ends bit-identical to an uninterrupted run; after a SIGKILL
 * the last epoch's state is the starting point. A finished run's state stays (marked
 * finished), so a rerun does nothing.
 *
 * Progress: with opts.progress, a live line per epoch (epoch, batch, loss, validation
 * correlation, lr, elapsed, ETA of the epoch); always one line per epoch in <out>/train.log:
 *
 *   epoch=3 round=0 lr=0.005 next_lr=0.005 loss=1234.5 val_corr=0.3123 best=0.3123 best_epoch=3
 *   bad=0 plateau_bad=0 action=snapshot seconds=12.3
 *
 * (one line; numbers of lr and correlations in round-trip precision).
 */
#ifndef NSID_TRAIN_H
#define NSID_TRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "base/sha256.h"
#include "exp/config.h"

#define NSID_TRAIN_STREAM_BIAS 7 /* RNG stream of the bias batch (+ k * 2^32 for scan k) */
#define NSID_TRAIN_STATE_FILE "train_state.bin"
#define NSID_TRAIN_CHECKPOINT "checkpoint.h5"
#define NSID_TRAIN_LOG "train.log"
#define NSID_TRAIN_CACHE_MB 4096 /* default VGG16 feature cache budget (a paper-sized scan needs 1.7 GiB) */

struct nsid_train_opts {
    const char *const *data;          /* (n_data) scan paths: HDF5 files or file-tree folders */
    int n_data;
    const char *out_dir;              /* created if missing */
    const char *db_path;              /* NULL: <out_dir>/run.db */
    const char *run_id;               /* NULL: nsid_train_default_id (configuration, core and data) */
    const char *experiment;           /* experiment name for the record, NULL if none */
    const char *parent;               /* run id of the transferred core, NULL: looked up beside the core */
    const volatile sig_atomic_t *stop; /* non-zero (a signal number): stop at the next round, NULL: never */
    FILE *progress;                   /* live progress line (a terminal), NULL: none */
    int threads;                      /* compute threads of the model (and BLAS), recorded with the run; 0: default */
    const char *isa;                  /* kernel set of the model (kern.h), NULL or "": auto; the mains pass
                                         env NSID_ISA */
    int64_t cache_mb;                 /* VGG16 core: keep conv features of every trial if they fit in
                                         this many MiB (0: NSID_TRAIN_CACHE_MB, < 0: never); results
                                         are identical either way */
};

struct nsid_train_result {
    char run_id[65];                  /* the run's id */
    int64_t epochs;                   /* epochs trained */
    int64_t adam_steps;               /* optimiser steps taken (rounds), including before a resume */
    int64_t best_epoch;               /* epoch of the restored best state (0: the initial model) */
    double best_score;                /* its mean validation correlation */
    bool resumed;                     /* continued from a saved state */
    bool interrupted;                 /* stopped by *stop; state saved, rerun to resume */
    int signal;                       /* the *stop value that interrupted */
    bool already_done;                /* the state said the run had finished: nothing done */
    char core[512];                   /* what the core is ("vgg16 RANDOM ...", "se2d from X, frozen", ...) */
};

/*
 * Run the training of configuration c (validated) as described at the top. Returns 0
 * (also when interrupted: see result) or < 0 with err naming the key, file or tensor; a
 * failure after the run was recorded marks it 'failed' with the message.
 */
int nsid_train_run(const struct nsid_config *c, const struct nsid_train_opts *o, struct nsid_train_result *res,
                   struct nsid_err *err);

/*
 * The run id of configuration c on the scans data (in this order) when no --run-id is given:
 * the id nsid-plan computes (nsid_identity_plan: the canonical configuration, the core as
 * "sha256:<content hash>" of model.core.checkpoint or "" without one, and each scan's
 * identity, data/scanid.h). So the same configuration on other scans, or on the same scans
 * in another order, is another run. data_sha (may be NULL) gets the scans' identities.
 */
int nsid_train_default_id(const struct nsid_config *c, const char *const *data, int n_data,
                          char id[NSID_SHA256_HEX], char (*data_sha)[NSID_SHA256_HEX], struct nsid_err *err);

/*
 * The architecture text of an nsid-train checkpoint:
 * {"format":"nsid-run","config":<canonical config>,"model":<model_json>}.
 * Returns the length needed, like snprintf.
 */
size_t nsid_train_arch(const char *canonical_config, const char *model_json, char *buf, size_t n);

/*
 * The configuration stored in a checkpoint written by nsid-train (its "architecture"
 * attribute): c is filled (defaults, then the stored values) and validated. NSID_EFORMAT
 * naming the file when the checkpoint was not written by nsid-train.
 */
int nsid_train_read_config(const char *checkpoint, struct nsid_config *c, struct nsid_err *err);

#endif
