/*
 * train_int.h - internals of the trainer shared by train.c and train_state.c: the state a
 * run resumes from, and its file format. Not for other modules: use train.h.
 *
 * <out>/train_state.bin, written to a temporary name, fsync'ed and renamed (atomic):
 *
 *   "NSIDTRST" | u32 version | u32 0x01020304 (byte order) | run id (65 bytes)
 *   identity: config sha256 (65 bytes, hex of the canonical configuration JSON), core sha256
 *        (65 bytes, hex of model.core.checkpoint's bytes, "" without one), u64 n_data, then
 *        per --data scan in order: content sha256 (65 bytes, src/data/scanid.h), u64 path
 *        length, path bytes (for the message only)
 *   u64 sizes: n_weights, n_buffers, n_ints, n_scans, then n_train per scan
 *   i64: finished, epoch, step (batches of the current epoch done), adam_t, best_valid,
 *        loss_batches; f64: loss_sum, epoch_seconds
 *   schedule (NSID_SCHEDULE_PACKED_BYTES), sample rng (4 x u64)
 *   per scan: rng (4 x u64), pos, passes, perm (n_train x i64)
 *   f32 blocks: w, m, v, buf, best_w, best_buf; i64 blocks: ints, best_ints
 *   sha256 of everything before (32 bytes)
 *
 * Native byte order (the marker checks it): a state resumes on the machine type that
 * wrote it, which is what resuming is for.
 */
#ifndef NSID_TRAIN_INT_H
#define NSID_TRAIN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"
#include "data/batch.h"
#include "exp/schedule.h"
#include "nn/params.h"

#define NSID__TRAIN_STATE_VERSION 2 /* 2: the identity block (issue 17) */

/* The best-state snapshot of early stopping (weights, buffers, int64 entries). */
struct nsid__snapshot {
    float *w;        /* (n_weights) */
    float *buf;      /* (n_buffers) */
    int64_t *ints;   /* (n_ints) */
    bool valid;
};

/*
 * What the run was started on, beyond its id: a resume with another configuration, other
 * scan contents, --data in another order or another core checkpoint is refused (the run id
 * alone does not say, with --run-id given). Views owned by the trainer.
 */
struct nsid__train_identity {
    char config_sha[65];           /* sha256 hex of the canonical configuration JSON */
    char core_sha[65];             /* sha256 hex of model.core.checkpoint, "" if none */
    int n_data;
    const char (*data_sha)[65];    /* (n_data) content hash of each --data scan, in order */
    const char *const *data_path;  /* (n_data) the paths given (named in messages) */
};

/* Everything of a run that is not rebuilt from the configuration and the data. */
struct nsid__train_state {
    char run_id[65];
    struct nsid__train_identity id;
    bool finished;                 /* training ended (the checkpoint is written) */
    int64_t epoch;                 /* epochs completed */
    int64_t step;                  /* batches of the epoch in progress already trained (0 at a boundary) */
    double loss_sum;               /* objective summed over those batches */
    int64_t loss_batches;
    double epoch_seconds;          /* wall time spent in the epoch in progress (for the log only) */
    struct nsid_schedule sched;
    struct nsid_rng sample;        /* Gaussian readout position noise */
    struct nsid_params *ps;        /* the network's table (w, m, v, buf, adam_t) */
    int64_t **ints;                /* (n_ints) pointers to the int64 entries (num_batches_tracked) */
    int n_ints;
    struct nsid__snapshot *best;
    struct nsid_cycler *cycler;    /* shuffle streams, permutations, positions */
};

/* Write s to path atomically (temporary file, fsync, rename). */
int nsid__train_state_save(const struct nsid__train_state *s, const char *path, struct nsid_err *err);

/*
 * Read path into s, whose ps / ints / best / cycler are the live objects of a network and
 * data built like the saved run's: the run id and the identity (configuration, core, scans
 * and their order) must be s's, else NSID_EINVAL naming the saved and the current value;
 * every size must agree and the checksum hold, else NSID_EFORMAT naming the file and what
 * differs. Nothing changes on error.
 */
int nsid__train_state_load(struct nsid__train_state *s, const char *path, struct nsid_err *err);

/* Only the run id of a state file (to refuse another run's state), NSID_ENOTFOUND if absent. */
int nsid__train_state_peek(const char *path, char run_id[65], struct nsid_err *err);

#endif
