/*
 * eval.h - predictions and the evaluation of docs/paper.md §6 for a network on its scans.
 *
 * The evaluator owns the buffers evaluation needs (sized once for the largest tier), so
 * the per-epoch validation score of training allocates nothing:
 *
 *     struct nsid_evaluator ev;
 *     nsid_evaluator_init(&ev, views, n_scans, 64, &err);    // views[s] feeds readout s
 *     double score = nsid_eval_val_score(&ev, &net, per_scan); // mean validation corr (§6.2)
 *     struct nsid_eval_result res;
 *     nsid_eval_full(&ev, &net, &res, &err);                   // everything of §6
 *     nsid_eval_record(&store, run_id, &net, &ev, &res, &err); // metrics + neuron_metrics rows
 *     nsid_eval_write_predictions(&ev, &res, "pred.h5", &err);
 *     nsid_eval_result_free(&res);
 *     nsid_evaluator_free(&ev);
 *
 * Predictions are made in evaluation mode (BN running statistics, Gaussian means), one
 * sequential batch at a time, for every trial of a tier in file order. Measures, per
 * neuron and scan (metrics.h has the definitions):
 *   validation   single-trial correlation (the early-stopping score: the mean over the
 *                neurons of all scans pooled)
 *   test         single-trial correlation; correlation with the repeat average; leave-one-
 *                out oracle correlation; FEV and FEVE; fraction oracle (slope through the
 *                origin over all neurons, per scan and pooled)
 *   ground truth (a simulator's scan: ground_truth/rates (T, N) and ground_truth/rf_center_px
 *                (N, 2)): the test-tier correlation of the prediction with the true rates,
 *                and for readouts with positions (Gaussian, point-pooled) the affine fit of
 *                the evaluation positions to the true receptive-field centres with the
 *                distance of each neuron after the map (pixels).
 * Repeats of an image are grouped by nsid_repeats (frame_image_id and image class).
 */
#ifndef NSID_EVAL_H
#define NSID_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "data/batch.h"
#include "exp/metrics.h"
#include "exp/net.h"

struct nsid_store;

/*
 * Undefined measures (docs/reliability.md, "Undefined metrics"). A per-neuron correlation is
 * undefined (NaN, NULL in the store) for a neuron whose responses or predictions are constant
 * or not finite in the tier; it is left out of the mean, and the count of neurons left out is
 * recorded ("<name>_n_undefined" rows) and printed. A summary measure is undefined when no
 * neuron is left; its metric row is NULL, and a row "<name>_undefined" holds the reason code
 * below (the store's undefined_metrics view gives the text). NSID_UNDEF_REASONS(X) lists them:
 */
#define NSID_UNDEF_REASONS(X)                                                                         \
    X(1, "no repeated test images (oracle, FEV, FEVE and fraction oracle need an image shown twice)") \
    X(2, "fewer than 2 trials in the tier (a correlation needs 2)")                                  \
    X(3, "the responses or predictions of every neuron are constant or not finite")                \
    X(4, "no neuron has an explainable variance (FEV) above the threshold 0.15")                     \
    X(5, "no neuron has a defined oracle and a non-zero oracle correlation")

/* The measures that can be undefined, in the order of struct nsid_eval_undef's arrays. */
enum nsid_eval_measure {
    NSID_EM_VAL, NSID_EM_TEST, NSID_EM_TEST_AVG, NSID_EM_ORACLE, NSID_EM_FRACTION, NSID_EM_FEV, NSID_EM_FEVE,
    NSID_EM_GT, NSID_EM_COUNT
};

/* Per measure: the neurons left out as undefined, and the reason code (0: defined) of the summary. */
struct nsid_eval_undef {
    int64_t n_out[NSID_EM_COUNT];
    int why[NSID_EM_COUNT];
    /* per tier (0 validation, 1 test): neurons with a non-finite response, a constant response,
       a constant or non-finite prediction (the first that applies) */
    int64_t nonfinite[2], const_resp[2], const_pred[2];
};

/* The split and name of measure m as recorded (e.g. "test", "oracle"). */
const char *nsid_eval_measure_split(int m);
const char *nsid_eval_measure_name(int m);
/* The text of reason code why (NSID_UNDEF_REASONS), "" for 0 or an unknown code. */
const char *nsid_eval_undef_reason(int why);

/* Buffers for evaluating the scans of one network. */
struct nsid_evaluator {
    int n_scans;
    const struct nsid_view *views;  /* (n_scans), views[s] feeds readout s; not owned */
    int batch;                      /* prediction batch size */
    int64_t **test_group;           /* (n_scans) (T_test) repeat-group id per test trial, file order */
    int64_t **test_first;           /* (n_scans) (T_test) the first test trial (position) showing the
                                       same image: same group and the same pixels; itself if none */
    int64_t **test_unique;          /* (n_scans) scan trial indices of the trials that are their own
                                       first, file order; test_n_unique[s] of them */
    int64_t **test_upos;            /* (n_scans) their positions in the test tier */
    int64_t *test_n_unique;
    int64_t *test_n_groups;         /* (n_scans) distinct images (repeat groups) of the test tier */
    bool every_trial;               /* predict every test trial even where its image was shown before
                                       (default false; models with a shifter or modulator always do) */
    float *pred;                    /* (max T x N) predictions of one tier */
    float *target;                  /* (max T x N) normalised responses of one tier */
    float *img;                     /* (batch, C, H, W) gather buffer */
    float *resp;                    /* (batch, N_max) gather buffer */
    float *beh, *pupil;             /* (batch, 3), (batch, 2) gather buffers (shifter, modulator) */
    double *corr;                   /* (N_max) per-neuron scratch */
};

/* Per-neuron results of one scan (arrays of n_neurons; NULL where not computed). */
struct nsid_eval_scan {
    char key[NSID_KEY_MAX];         /* data key */
    int64_t n_neurons, n_val, n_test, n_images; /* sizes (n_images: distinct test images) */
    int64_t *unit_id;               /* unit ids of the neurons used, NULL if the file has none */
    double *val_corr, *test_corr, *test_corr_avg, *oracle, *fev, *feve;
    double *gt_corr;                /* correlation with the true rates (ground truth only) */
    double *true_xy, *rf_xy, *rf_dist; /* (N,2), (N,2), (N): true centre, mapped position, distance */
    struct nsid_rf_fit rf;          /* the affine fit (has_rf) */
    double rf_px_corr[2], rf_px_dist; /* no fit: positions on the image in px vs truth (has_rf_px) */
    double rf_ceil_corr[2];         /* the truth's affine fit from cortical x, y: the most any
                                       position predicted from cortex can reach (has_rf_ceil) */
    bool has_gt, has_rf, has_rf_px, has_rf_ceil;
    float *test_pred;               /* (n_test, N) test-tier predictions, file order */
    float *test_resp;               /* (n_test, N) the normalised responses the model was scored on */
    int64_t *test_trials;           /* (n_test) their trial indices */
    struct nsid_eval_undef undef;   /* what is undefined, and why */
    /* summaries */
    double mean_val, mean_test, mean_test_avg, mean_oracle, fraction_oracle, mean_feve, mean_fev, mean_gt;
};

struct nsid_eval_result {
    int n_scans;
    struct nsid_eval_scan *scan;    /* (n_scans) */
    /* pooled over the neurons of all scans */
    int64_t n_neurons;
    double mean_val, mean_test, mean_test_avg, mean_oracle, fraction_oracle, mean_fev, mean_feve, mean_gt;
    double rf_dist;                 /* mean distance over the neurons of scans with positions, NaN if none */
    bool has_gt;                    /* some scan has ground truth */
    struct nsid_eval_undef undef;   /* pooled: the sums of the scans' counts */
};

/* Size the buffers for views (n_scans) and prediction batch size; on error ev is zeroed. */
int nsid_evaluator_init(struct nsid_evaluator *ev, const struct nsid_view *views, int n_scans, int batch,
                        struct nsid_err *err);
void nsid_evaluator_free(struct nsid_evaluator *ev);

/*
 * Predict every trial of tier of scan s in file order into ev->pred (T, N) and the
 * normalised responses into ev->target; returns T. A model whose output depends on the
 * image alone (no shifter, no modulator) predicts each distinct test image once and copies
 * the prediction to its repeats (the paper's test sets show every image 10 times).
 */
int64_t nsid_eval_predict_tier(struct nsid_evaluator *ev, struct nsid_model *net, int s, int tier);

/*
 * The early-stopping score: the mean single-trial validation correlation over the neurons
 * of all scans, pooled (§6.2). per_scan (n_scans, NULL ok) receives each scan's mean.
 */
double nsid_eval_val_score(struct nsid_evaluator *ev, struct nsid_model *net, double *per_scan);

/* Everything of §6 for every scan (see the top); res is allocated (nsid_eval_result_free). */
int nsid_eval_full(struct nsid_evaluator *ev, struct nsid_model *net, struct nsid_eval_result *res,
                   struct nsid_err *err);
void nsid_eval_result_free(struct nsid_eval_result *res);

/*
 * Write the results into the run's store (one transaction is the caller's: wrap in
 * nsid_store_begin / commit): metrics per scan and pooled ("all"), neuron_metrics per
 * scan, and the model sizes (split "model").
 */
int nsid_eval_record(struct nsid_store *st, const char *run_id, struct nsid_model *net,
                     const struct nsid_eval_result *res, struct nsid_err *err);

/*
 * Write the test-tier predictions and per-neuron metrics to an HDF5 file, atomically:
 * per scan a group /<data_key> with predictions (T_test, N) float32, trials (T_test) int64
 * (trial indices in the file), responses (T_test, N) (normalised, as the model saw them),
 * unit_ids, and one (N) float64 dataset per measure (val_corr, test_corr, ...).
 */
int nsid_eval_write_predictions(struct nsid_evaluator *ev, const struct nsid_eval_result *res, const char *path,
                                struct nsid_err *err);

/* Print a short per-scan and pooled summary ("undefined" for an undefined measure). */
void nsid_eval_print(const struct nsid_eval_result *res, FILE *f);

/*
 * One line per undefined summary measure ("nsid-eval: undefined: SCAN SPLIT NAME: reason") and
 * one per measure that left neurons out ("nsid-eval: excluded: SCAN SPLIT NAME: k of N neurons
 * undefined (...), not averaged"); nothing when every measure is defined. Returns the lines.
 */
int nsid_eval_print_undefined(const struct nsid_eval_result *res, FILE *f);

/* ---- nsid-eval: a checkpoint on its scans, into the run's store ---------------------- */

struct nsid_eval_opts {
    const char *checkpoint;           /* an nsid-train checkpoint.h5 */
    const char *const *data;          /* (n_data) the scans of its readouts, any order */
    int n_data;
    const char *db;                   /* the run's store (run.db) */
    const char *predictions;          /* NULL, or an HDF5 file for the test predictions */
    const char *config;               /* NULL: the configuration stored in the checkpoint */
    const char *run_id;               /* NULL: the only run of db, else the configuration's id */
    FILE *summary;                    /* NULL, or where the summary is printed */
    int threads;                      /* the model's compute threads; 0: the CPUs (results do not depend on it) */
    const char *isa;                  /* kernel set of the model (kern.h), NULL or "": auto; the main
                                         passes env NSID_ISA */
};

struct nsid_eval_outcome {
    char run_id[65];
    bool recorded;                    /* the results went into db and the run is 'done' */
    bool already_done;                /* db said the run was done: nothing recorded */
    double val_corr, test_corr, fraction_oracle; /* pooled summaries */
};

/*
 * What nsid-eval does: rebuild the network of the checkpoint's configuration on the scans
 * (reordered to the checkpoint's readouts; the neuron selection is the configuration's),
 * load every tensor strictly (a checkpoint that does not fit the data is an error naming
 * the tensor and both shapes), evaluate (nsid_eval_full), write the predictions file if
 * asked, and record metrics and per-neuron rows in db, finishing the run: 'done' is written
 * in the same, final transaction. A run the db does not know yet is recorded first.
 */
int nsid_eval_checkpoint(const struct nsid_eval_opts *o, struct nsid_eval_outcome *out, struct nsid_err *err);

#endif
