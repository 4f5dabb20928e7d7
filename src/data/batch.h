/*
 * batch.h - feeding a model: a view of a scan (tiers, image and neuron
 * subsets, transforms), training batches in a new random order every epoch,
 * sequential validation/test batches, the test tier grouped by repeated
 * image, and the multi-scan round robin of docs/paper.md §4.3.
 *
 * Nothing here allocates after setup: batches are index lists into the view's
 * arrays, and nsid_batch_view_gather copies the images and the normalised responses
 * of a batch into buffers the caller sized once (batch_size x ...).
 *
 *     struct nsid_view v;
 *     struct nsid_view_opts vo = {.image_n = 500, .image_base_seed = 1};
 *     nsid_batch_view_init(&v, &scan, &vo, &err);
 *     struct nsid_train_iter it;
 *     nsid_batch_train_iter_init(&it, &v, 64, seed, NSID_STREAM_SHUFFLE, &err);
 *     float *img = NSID_ALLOC(64 * C * H * W * 4, &err), *resp = NSID_ALLOC(64 * v.n_neurons * 4, &err);
 *     for (epoch...) {
 *         nsid_batch_train_iter_restart(&it);                 // a new permutation
 *         for (int64_t b = 0; b < nsid_batch_train_iter_batches(&it); b++) {
 *             const int64_t *trials;
 *             int64_t n = nsid_batch_train_iter_next(&it, &trials);
 *             struct nsid_batch bt = {.images = img, .responses = resp};
 *             nsid_batch_view_gather(&v, trials, n, &bt);     // bt.n == n
 *             ... forward/backward on (bt.images, bt.responses) ...
 *         }
 *     }
 *
 * Several scans (docs/paper.md §4.3, LongCycler): one epoch is n_scans x the
 * largest number of training batches of any scan; the scans take turns
 * (0, 1, ..., n-1, 0, ...); a scan whose batches run out starts again with a
 * new permutation; every scan starts a new permutation at each epoch. The
 * optimiser steps after every round of n_scans batches (nsid_batch_cycler_next's
 * *round_done).
 */
#ifndef NSID_BATCH_H
#define NSID_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/rng.h"
#include "data/scan.h"
#include "data/transform.h"

struct nsid_view_opts {
    int64_t image_n;            /* train trials to keep (0: the whole train tier), docs/paper.md §5.5 */
    uint64_t image_base_seed;   /* seed base_seed * image_n (paper: 1) */
    const int64_t *neurons;     /* neuron indices to keep (file order), NULL: all */
    int64_t n_neurons;          /* length of neurons */
    struct nsid_norm_opts norm; /* transforms */
};

struct nsid_view {
    const struct nsid_scan *scan;          /* not owned; must outlive the view */
    struct nsid_norm norm;
    int64_t n_neurons;                     /* neurons the model sees (Nsel) */
    int64_t *neurons;                      /* (Nsel) indices into the scan's neurons, NULL: all */
    int64_t n_tier[NSID_TIER_COUNT];       /* trials per tier (train after image_n) */
    int64_t *tier[NSID_TIER_COUNT];        /* (n_tier[t]) trial indices, ascending */
    int64_t n_total;                       /* all trials of the scan: the loss's N_s (docs/paper.md §4.2) */
};

/* Set up a view; on error v is zeroed. */
int nsid_batch_view_init(struct nsid_view *v, const struct nsid_scan *s, const struct nsid_view_opts *o,
                   struct nsid_err *err);
void nsid_batch_view_free(struct nsid_view *v);

/* One batch, gathered into caller-owned buffers. */
struct nsid_batch {
    int scan;                  /* index of the view (multi-scan), 0 otherwise */
    int64_t n;                 /* B: trials in the batch */
    const int64_t *trials;     /* (B) trial indices into the scan */
    float *images;             /* (B, C, H, W), caller-provided, or NULL to skip */
    float *responses;          /* (B, Nsel) normalised, caller-provided, or NULL to skip */
    float *behavior;           /* (B, 3) normalised, or NULL to skip */
    float *pupil_center;       /* (B, 2) normalised, or NULL to skip */
};

/*
 * Copy the n trials into b's buffers (images transformed, responses
 * normalised and subset); sets b->n and b->trials. No allocation. A NULL
 * buffer is skipped (responses without images: the targets of a tier);
 * behavior / pupil_center are filled only if the scan has them too.
 */
void nsid_batch_view_gather(const struct nsid_view *v, const int64_t *trials, int64_t n, struct nsid_batch *b);

/*
 * The largest batch that can occur: batch_size, or the largest tier of any view if that is
 * smaller (a batch never holds more trials than its tier). Buffers and model state are sized by
 * this, so a train.batch_size far beyond the data costs no more memory than the data's size.
 */
int64_t nsid_batch_views_max_batch(const struct nsid_view *views, int n_views, int64_t batch_size);

/* Sequential batches of a tier (validation, test, or train in file order). */
int64_t nsid_batch_view_batches(const struct nsid_view *v, int tier, int64_t batch_size);
/* Batch b of tier: *trials points into the view, returns its size (the last may be short). */
int64_t nsid_batch_view_one(const struct nsid_view *v, int tier, int64_t b, int64_t batch_size, const int64_t **trials);

/* Shuffled training batches: a new permutation of the train trials per pass. */
struct nsid_train_iter {
    const struct nsid_view *v;
    struct nsid_rng rng;       /* the shuffle stream */
    int64_t batch_size;        /* B */
    int64_t *perm;             /* (n_tier[TRAIN]) current order */
    int64_t pos;               /* next position in perm; == n when exhausted */
    int64_t passes;            /* permutations drawn so far */
};

/* rng = nsid_rng_init(seed, stream). Errors: batch_size < 1, empty train tier. */
int nsid_batch_train_iter_init(struct nsid_train_iter *it, const struct nsid_view *v, int64_t batch_size, uint64_t seed,
                         uint64_t stream, struct nsid_err *err);
void nsid_batch_train_iter_free(struct nsid_train_iter *it);
/* Draw a new permutation and start from its beginning (each epoch). */
void nsid_batch_train_iter_restart(struct nsid_train_iter *it);
/* ceil(n_train / B): the batches of one pass (drop_last = false). */
int64_t nsid_batch_train_iter_batches(const struct nsid_train_iter *it);
/* The next batch (restarting with a new permutation when the pass is done). */
int64_t nsid_batch_train_iter_next(struct nsid_train_iter *it, const int64_t **trials);

/*
 * A tier grouped by repeated image (RepeatsBatchSampler, for oracle and
 * FEVE): the key of trial i is image_id[i] + class_index[i] * (max image id
 * + 1) where image_id is the first of item_info image_id,
 * colorframeprojector_image_id, frame_image_id the scan has, and class_index
 * the index of its *_image_class string among the sorted distinct classes (0
 * if the scan has none). Groups are in ascending key order, trials inside a
 * group in file order.
 */
struct nsid_repeats {
    int64_t n_groups;          /* distinct images in the tier */
    int64_t n_trials;          /* trials in the tier */
    int64_t *start;            /* (n_groups + 1): group g is trials[start[g] .. start[g+1]) */
    int64_t *trials;           /* (n_trials) trial indices, grouped */
    int64_t *key;              /* (n_groups) the identifier of each group */
};

int nsid_batch_repeats_init(struct nsid_repeats *r, const struct nsid_scan *s, int tier, struct nsid_err *err);
void nsid_batch_repeats_free(struct nsid_repeats *r);

/* Round robin over the training batches of several scans (docs/paper.md §4.3). */
struct nsid_cycler {
    int n_scans;
    struct nsid_train_iter *it;  /* (n_scans) */
    int64_t max_batches;         /* max over scans of nsid_batch_train_iter_batches */
    int64_t step;                /* batches handed out in this epoch */
};

/*
 * Scan k shuffles with nsid_rng_init(seed, NSID_STREAM_SHUFFLE + k * 2^32)
 * (scan 0 is the single-scan stream). views must outlive the cycler.
 */
int nsid_batch_cycler_init(struct nsid_cycler *c, const struct nsid_view *views, int n_scans, int64_t batch_size,
                     uint64_t seed, struct nsid_err *err);
void nsid_batch_cycler_free(struct nsid_cycler *c);
/* n_scans * max_batches. */
int64_t nsid_batch_cycler_epoch_len(const struct nsid_cycler *c);
/* Start an epoch: every scan draws a new permutation. */
void nsid_batch_cycler_start_epoch(struct nsid_cycler *c);
/*
 * The next batch of the epoch: *scan, *trials, *n. Returns false when the
 * epoch is over. *round_done (may be NULL) is true when this batch completes
 * a round of n_scans batches: time for the optimiser step.
 */
bool nsid_batch_cycler_next(struct nsid_cycler *c, int *scan, const int64_t **trials, int64_t *n, bool *round_done);

#endif
