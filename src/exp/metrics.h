/*
 * metrics.h - the evaluation measures of docs/paper.md §6, on plain arrays.
 *
 * Inputs are one scan's tier as row-major float matrices (T trials x N neurons) plus,
 * for the repeat-based measures, one int64 repeat-group id per trial (frame_image_id, or
 * any id that is equal exactly for repeats of one image). Trials may come in any order
 * and repeats need not be adjacent. All sums are accumulated in double. Per-neuron
 * results are double arrays of N written by the caller-provided pointer.
 *
 *     struct nsid_metric_data d = {.target = resp, .pred = pred, .group = image_id,
 *                                  .n_trials = T, .n_neurons = N};
 *     nsid_metrics_corr(test_corr, &d, err);            // single-trial test correlation
 *     nsid_metrics_oracle(oracle, &d, err);             // leave-one-out oracle correlation
 *     // ... pool test_corr and oracle over all scans, then:
 *     nsid_metrics_fraction_oracle(&frac, oracle_all, corr_all, n_all, err);
 *
 * Definitions (neuralpredictors v0.0.x measures.corr, lurz2020 utility/measures.py):
 *   corr(a, b)   per neuron along trials: mean_t z(a)_t z(b)_t with z(y) = (y - mean y) /
 *                (std_ddof0(y) + 1e-8). Undefined (NaN) for a neuron whose a or b column is
 *                constant, has a value that is not finite, or has fewer than 2 samples;
 *                neuralpredictors gives 0 there, which would be averaged in as a real score
 *                (docs/reliability.md, "Undefined metrics").
 *   oracle       over the images with r >= 2 repeats: o_i = (sum_j x_j - x_i) / (r - 1),
 *                oracle_n = corr(x, o) over all those trials.
 *   fraction oracle = least-squares slope through the origin of test correlation on oracle
 *                correlation, over all neurons of all scans: sum o c / sum o^2.
 *   FEV, FEVE    (§6.4) over the images with r >= 2 repeats (see nsid_metrics_fev).
 * Every function returns 0 or <0 with err naming what was wrong (NSID_EINVAL for bad
 * sizes or missing inputs, NSID_ENOMEM); outputs are unspecified on error. Workspace of
 * a few N-sized double vectors is allocated per call (evaluation code, not a hot loop).
 */
#ifndef NSID_METRICS_H
#define NSID_METRICS_H

#include <stdint.h>

#include "base/err.h"

/* The z-score offset of neuralpredictors' corr(). */
#define NSID_CORR_EPS 1e-8

/* One tier of one scan. */
struct nsid_metric_data {
    const float *target;   /* (T, N) observed responses (or true rates), row-major */
    const float *pred;     /* (T, N) model predictions per trial, NULL for response-only measures */
    const int64_t *group;  /* (T) repeat-group id per trial (frame_image_id), NULL if not needed */
    int64_t n_trials;      /* T >= 1 */
    int64_t n_neurons;     /* N >= 1 */
};

/*
 * out[n] = corr(pred[:, n], target[:, n]) over all T trials (§6.1, §6.2). With the test
 * tier this is the single-trial test correlation; with target = a simulator's true rates
 * it is the correlation with the ground truth. Needs pred.
 */
int nsid_metrics_corr(double *out, const struct nsid_metric_data *d, struct nsid_err *err);

/*
 * out[n] = correlation, over images, of the prediction with the repeat-averaged response
 * (lurz2020 get_avg_correlations): every distinct group id is one sample, with the mean
 * of target over its trials and the mean of pred over its trials (equal to the single
 * prediction, since evaluation-mode predictions of one image are identical). Needs pred
 * and group, and at least one group.
 */
int nsid_metrics_corr_avg(double *out, const struct nsid_metric_data *d, struct nsid_err *err);

/*
 * out[n] = leave-one-out oracle correlation (§6.3) over the trials of images with at least
 * 2 repeats; images with one trial are skipped. Needs group (pred is ignored). Fails with
 * NSID_EINVAL when no image has 2 repeats.
 */
int nsid_metrics_oracle(double *out, const struct nsid_metric_data *d, struct nsid_err *err);

/*
 * Fraction oracle (§6.3): *slope = sum_n oracle_n corr_n / sum_n oracle_n^2 over n
 * neurons (pooled over scans by the caller), the least-squares fit through the origin
 * (np.linalg.lstsq), over the neurons whose oracle and correlation are both defined (not
 * NaN); NaN (undefined) when no such neuron has a non-zero oracle (lstsq would give 0).
 */
int nsid_metrics_fraction_oracle(double *slope, const double *oracle, const double *corr, int64_t n,
                                struct nsid_err *err);

/*
 * FEV and FEVE per neuron (§6.4, lurz2020 compute_FEV), over the images with >= 2 repeats
 * (compute_FEV itself would give NaN for a single-trial image: its ddof=1 variance):
 *   TotalVar  = var(all those trials, ddof=1)
 *   NoiseVar  = mean over images of var over the image's repeats (ddof=1)
 *   PredVar   = mean over those trials of (x - pred)^2
 *   fev[n]  = (TotalVar - NoiseVar) / TotalVar
 *   feve[n] = 1 - (PredVar - NoiseVar) / (TotalVar - NoiseVar)
 * A zero denominator gives NaN for that neuron (undefined, e.g. a silent neuron). Needs
 * pred and group; fev or feve may be NULL. Fails when no image has 2 repeats.
 */
int nsid_metrics_fev(double *fev, double *feve, const struct nsid_metric_data *d, struct nsid_err *err);

/* Mean of the defined (not NaN) values of x (n); *count gets their number (0 -> NaN). */
void nsid_metrics_mean_defined(double *mean, int64_t *count, const double *x, int64_t n);

/*
 * Grand-average FEVE: mean of feve over the neurons with fev > threshold (pass -INFINITY
 * to keep all), skipping NaNs; *count gets the number averaged (0 -> *mean is NaN).
 */
void nsid_metrics_feve_mean(double *mean, int64_t *count, const double *fev, const double *feve, int64_t n,
                           double threshold);

/* Receptive-field recovery on simulated data. */
struct nsid_rf_fit {
    double A[2][2];     /* affine map learned -> true: true ~ A learned + b */
    double b[2];
    double corr[2];     /* corr (§6.1) of mapped vs true, per coordinate (x, y) */
    double mean_dist;   /* mean Euclidean distance |A l_n + b - t_n|, in the units of the true centres */
};

/*
 * Fit the least-squares 2-D affine map from the learned readout positions (n x 2, e.g. the
 * Gaussian readout's mu in grid units) to the true receptive-field centres (n x 2, e.g.
 * pixels), then report per-coordinate correlation and distances after mapping; dist (n)
 * receives the per-neuron distances if not NULL. Needs n >= 3 and learned positions that
 * are not all on one line (NSID_EINVAL otherwise: the map is undetermined).
 */
int nsid_metrics_rf_fit(struct nsid_rf_fit *fit, double *dist, const double *learned, const double *truth,
                       int64_t n, struct nsid_err *err);

/*
 * The same comparison without any fit: learned positions already in the units of the true
 * centres (the readout's grid mapped onto image pixels). Per-coordinate correlation (x with x,
 * y with y: a swapped or mirrored axis shows as a low or negative value) and the mean
 * Euclidean distance. The affine fit above cannot fail this way: with the cortex predictor a
 * position is a function of the cortical position, and so is the truth up to scatter, so any
 * near-affine predictor fits well whatever it learned. Needs n >= 2.
 */
void nsid_metrics_rf_direct(double corr[2], double *mean_dist, const double *learned, const double *truth,
                           int64_t n);

#endif
