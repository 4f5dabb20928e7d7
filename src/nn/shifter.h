/*
 * shifter.h - the eye-position shifter, and the small MLP it is made of.
 *
 * A shifter maps a scan's pupil centre (B,2) to a shift (B,2) that the readout
 * adds to every sampling position of that scan (neuralpredictors MLPShifter,
 * one MLP per scan): shift_layers - 1 times [Linear(prev, hidden), Tanh], then
 * Linear(prev, 2), Tanh. The default (one layer) is Linear(2,2) + Tanh. Not
 * part of the paper's models (docs/paper.md §3); for users whose data has eye
 * tracking.
 *
 *     struct nsid_shifter sh;
 *     struct nsid_shifter_config cfg; nsid_shifter_config_default(&cfg);
 *     nsid_shifter_init(&sh, &cfg, &ps, "shifter.20457-5-9-0", &err);
 *         // registers shifter.20457-5-9-0.mlp.0.weight (2,2), .mlp.0.bias (2)
 *     ... nsid_params_alloc(&ps, &err); nsid_shifter_reset_parameters(&sh, &init_rng);
 *     nsid_shifter_bind_state(&sh, &arena, B, &err);
 *     nsid_shifter_forward(&sh, pupil, B);              // sh.out (B,2)
 *     nsid_readout_forward(&ro, feat, B, true, &rng, NULL, sh.out);
 *     nsid_readout_backward(&ro, dfeat, dshift, dout, feat, B);   // dshift (B,2) zeroed first
 *     nsid_shifter_backward(&sh, NULL, dshift, pupil, B);
 *
 * struct nsid_mlp is the fully connected network shared by the shifter, the
 * behaviour modulator (modulator.h) and the Gaussian readout's grid-mean
 * predictor: Linear layers (PyTorch layout, weight (out,in)), each followed by
 * an optional activation. Its tensors are named like a torch nn.Sequential:
 * every Linear and every activation takes one index, so (Linear, Tanh, Linear,
 * Tanh) registers "<prefix>.0.weight", "<prefix>.0.bias", "<prefix>.2.weight",
 * "<prefix>.2.bias".
 *
 * R = rows (batch for the shifter and modulator, neurons for the predictor).
 */
#ifndef NSID_SHIFTER_H
#define NSID_SHIFTER_H

#include "base/alloc.h"
#include "base/err.h"
#include "base/rng.h"
#include "nn/params.h"

#define NSID_MLP_MAX_LAYERS 8

enum nsid_mlp_act {
    NSID_MLP_ACT_NONE = 0, /* no activation module (no Sequential index) */
    NSID_MLP_ACT_ELU = 1,  /* ELU(alpha=1) */
    NSID_MLP_ACT_TANH = 2,
    NSID_MLP_ACT_RELU = 3,
};

struct nsid_mlp_layer {
    int in, out;   /* Linear(in -> out) */
    int act;       /* enum nsid_mlp_act applied after the Linear */
    float *w, *dw; /* (out, in) weight and its gradient */
    float *b, *db; /* (out) bias and its gradient */
    float *y;      /* (R, out) output after the activation (bound state) */
};

struct nsid_mlp {
    int n_layers;                                   /* Linear layers, 1..NSID_MLP_MAX_LAYERS */
    int in, out, max_width;                         /* input/output width, widest layer */
    int max_rows;                                   /* R bound by nsid_shifter_mlp_bind_state */
    struct nsid_mlp_layer layer[NSID_MLP_MAX_LAYERS];
    float *dcur, *dnext;                            /* (R, max_width) backward scratch */
};

/*
 * Register n_layers Linear layers, widths[i] -> widths[i+1] (widths has
 * n_layers+1 entries), layer i followed by acts[i], under prefix as a torch
 * Sequential (see above). Fails with NSID_EINVAL naming prefix on a bad width
 * or layer count, or with the parameter table's error.
 */
int nsid_shifter_mlp_init(struct nsid_mlp *m, int n_layers, const int *widths, const int *acts,
                  struct nsid_params *ps, const char *prefix, struct nsid_err *err);

/*
 * PyTorch's default nn.Linear initialisation, layer by layer: weight (row-major)
 * then bias, both ~ U(-1/sqrt(in), 1/sqrt(in)).
 */
void nsid_shifter_mlp_reset_default(struct nsid_mlp *m, struct nsid_rng *rng);

/* Take the activations and backward scratch for up to R rows from the arena. */
int nsid_shifter_mlp_bind_state(struct nsid_mlp *m, struct nsid_arena *a, int R, struct nsid_err *err);

/* Forward R rows of x (R, in); the result is nsid_shifter_mlp_output(m) (R, out). */
void nsid_shifter_mlp_forward(struct nsid_mlp *m, const float *x, int R);

/*
 * Forward one row x (in) into y (out) without the bound state; work holds
 * 2 * max_width floats. For occasional use (e.g. reading off positions).
 */
void nsid_shifter_mlp_forward_row(const struct nsid_mlp *m, const float *x, float *y, float *work);

/* The last layer's output (R, out) of the latest forward. */
const float *nsid_shifter_mlp_output(const struct nsid_mlp *m);

/*
 * Backward of the latest forward: parameter gradients +=, dx (R, in) += unless
 * NULL, from dy (R, out). x is the forward's input.
 */
void nsid_shifter_mlp_backward(struct nsid_mlp *m, float *dx, const float *dy, const float *x, int R);

/* ------------------------------------------------------------------ shifter */

struct nsid_shifter_config {
    int input_channels;  /* pupil centre values per trial; 2 */
    int hidden_channels; /* width of the hidden layers; 2 (neuralpredictors default) */
    int shift_layers;    /* Linear layers, >= 1; 1 (neuralpredictors default) */
};

struct nsid_shifter {
    struct nsid_shifter_config cfg;
    struct nsid_mlp mlp; /* "<prefix>.mlp.*" */
    const float *out;    /* (B,2) shift of the latest forward, in normalised grid units */
};

/* Fill cfg with the neuralpredictors defaults above. */
void nsid_shifter_config_default(struct nsid_shifter_config *cfg);

/*
 * Validate cfg (errors name the key: input_channels, hidden_channels,
 * shift_layers) and register the MLP under "<prefix>.mlp.<i>.weight/bias".
 */
int nsid_shifter_init(struct nsid_shifter *s, const struct nsid_shifter_config *cfg,
                      struct nsid_params *ps, const char *prefix, struct nsid_err *err);

/*
 * PyTorch default Linear initialisation (neuralpredictors' initialize() does not
 * reach the Linear layers, so the defaults are what the shifter starts from).
 * Draw order: layer by layer, weight then bias.
 */
void nsid_shifter_reset_parameters(struct nsid_shifter *s, struct nsid_rng *rng);

int nsid_shifter_bind_state(struct nsid_shifter *s, struct nsid_arena *a, int B, struct nsid_err *err);

/* s->out (B,2) = MLP(pupil (B, input_channels)). */
void nsid_shifter_forward(struct nsid_shifter *s, const float *pupil, int B);

/* Parameter gradients += and dpupil (B, input_channels) += (NULL ok) from dshift (B,2). */
void nsid_shifter_backward(struct nsid_shifter *s, float *dpupil, const float *dshift,
                           const float *pupil, int B);

/* Nothing is owned (parameters live in the table, state in the arena); safe on a zeroed struct. */
void nsid_shifter_free(struct nsid_shifter *s);

#endif
