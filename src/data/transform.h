/*
 * transform.h - what the model sees: the NeuroNormalizer of the authors'
 * loaders (docs/paper.md §5.4) and the statistics it needs.
 *
 *   responses   r * p_n with p_n = 1 / s_n, s = statistics responses/all/std
 *               (per neuron, over all trials); neurons with s_n <= 0.01 *
 *               mean(s) get p_n = 1 / (0.01 * mean(s)). No mean subtraction.
 *   images      raw 0..255 (the paper's Gaussian and factorized runs), or
 *               z-scored (x - mean) / std with statistics images/all (VGG runs)
 *   behavior    x * q_k, q = 1 / std (statistics behavior/all, same floor)
 *   pupil       (x - mean) / std (statistics pupil_center/all)
 *
 * Statistics a file lacks are computed from all its trials (ddof 0, as
 * numpy's std), with a warning; nsid_transform_scan_add_stats stores the whole block in
 * a scan so a converted file carries it. Neurons whose responses never vary
 * give a warning and the floor. All arithmetic is float32 like the
 * authors' numpy pipeline.
 *
 *     struct nsid_norm nm;
 *     struct nsid_norm_opts no = {0};              // paper: raw images
 *     if (nsid_transform_norm_init(&nm, &scan, &no, &err) < 0) ...
 *     nsid_transform_norm_responses(&nm, scan.responses + t * N, NULL, N, out);
 *     nsid_transform_norm_free(&nm);
 */
#ifndef NSID_TRANSFORM_H
#define NSID_TRANSFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "data/scan.h"

struct nsid_norm_opts {
    bool zscore_images;      /* images (x - mean) / std (VGG runs, exclude=[]); default raw */
    bool raw_responses;      /* leave responses as stored (default: divide by std) */
    bool raw_behavior;       /* leave behavior and pupil_center as stored */
    /* A stored statistic that is not a finite number (or a negative std) is an error; with this
     * set it is computed from the loaded trials instead, with a warning (data.drop_nan_trials:
     * statistics stored with the dropped trials' NaN in them describe other data). */
    bool recompute_nonfinite;
    /* Warnings (statistics computed, constant neurons); NULL: stderr. */
    void (*warn)(void *ctx, const char *msg);
    void *warn_ctx;
};

struct nsid_norm {
    int64_t n_neurons;        /* N of the scan */
    float *resp_scale;        /* (N) multiplier p_n (1 if raw_responses) */
    double resp_threshold;    /* 0.01 * mean(s): the floor */
    int64_t n_floored;        /* neurons with s_n <= threshold */
    int64_t n_constant;       /* neurons whose responses never vary (warned) */
    bool zscore_images;
    int64_t img_n;            /* 1 (scalar statistics) or C*H*W (per pixel); 0 if raw */
    float *img_mean;          /* (img_n) */
    float *img_std;           /* (img_n) */
    bool has_behavior;        /* behavior transform set up (scan has behavior) */
    float beh_scale[3];       /* behavior multiplier (1 if raw) */
    float pupil_mean[2], pupil_std[2]; /* (0, 1) if raw or absent */
    int stats_computed;       /* how many statistics were computed (file lacked them) */
};

/*
 * Set up the transforms for scan s (statistics from s->stats, computed if
 * absent). Errors: statistics of the wrong shape (key named), a std of zero
 * for images. On error nm is zeroed.
 */
int nsid_transform_norm_init(struct nsid_norm *nm, const struct nsid_scan *s, const struct nsid_norm_opts *o,
                   struct nsid_err *err);
void nsid_transform_norm_free(struct nsid_norm *nm);

/*
 * out[j] = raw[sel[j]] * p_sel[j] for j < n (sel NULL: the first n neurons).
 * raw is one trial's responses (N); out has n floats.
 */
void nsid_transform_norm_responses(const struct nsid_norm *nm, const float *raw, const int64_t *sel, int64_t n, float *out);
/* One image (C*H*W floats) -> out (copy if raw). out may equal raw. */
void nsid_transform_norm_image(const struct nsid_norm *nm, const float *raw, int64_t numel, float *out);
/* One trial's behavior (3) / pupil_center (2) -> out. */
void nsid_transform_norm_behavior(const struct nsid_norm *nm, const float *raw, float *out);
void nsid_transform_norm_pupil(const struct nsid_norm *nm, const float *raw, float *out);

/*
 * Statistics of one data array over all trials: out receives
 * "<data>/all/{mean,std,min,max,median}" as float32 (images: scalars over all
 * pixels; responses, behavior, pupil_center: one value per column), numpy's
 * conventions (std ddof 0, median of an even count = mean of the middle two).
 * data is "images", "responses", "behavior" or "pupil_center".
 */
int nsid_transform_scan_compute_stats(const struct nsid_scan *s, const char *data, struct nsid_arrays *out,
                            struct nsid_err *err);

/* Add every "<data>/all/<m>" statistic s lacks (for the arrays it has). */
int nsid_transform_scan_add_stats(struct nsid_scan *s, struct nsid_err *err);

#endif
