/*
 * modulator.h - behaviour modulator: a positive per-neuron gain from behaviour.
 *
 * neuralpredictors' MLP modulator (one per scan): layers - 1 times
 * [Linear(prev, hidden), ReLU], then Linear(prev, N), ReLU, and the gain
 *
 *     gain (B,N) = ELU(h) + 1,   h = MLP(behavior (B, input_channels)),
 *
 * which multiplies the model output (ELU(readout) + 1) elementwise; the model
 * applies it. neuralpredictors ends the network with a ReLU before the ELU+1,
 * so its gain is >= 1 (and has no gradient where h < 0); final_relu = false
 * drops that ReLU for a gain in (0, inf). Not part of the paper's models
 * (docs/paper.md §3). Tensors: "<prefix>.modulator_networks.0.<i>.weight/bias",
 * e.g. "modulator.20457-5-9-0.modulator_networks.0.0.weight" (hidden, 3).
 *
 *     nsid_modulator_init(&mod, &cfg, N, &ps, "modulator.20457-5-9-0", &err);
 *     ... alloc, nsid_modulator_reset_parameters, nsid_modulator_bind_state(&mod, &arena, B, &err);
 *     nsid_modulator_forward(&mod, behavior, B);          // mod.gain (B,N)
 *     nsid_modulator_backward(&mod, NULL, dgain, behavior, B);
 */
#ifndef NSID_MODULATOR_H
#define NSID_MODULATOR_H

#include <stdbool.h>

#include "nn/shifter.h"

struct nsid_modulator_config {
    int input_channels;  /* behaviour values per trial; 3 (pupil dilation, derivative, running speed) */
    int hidden_channels; /* width of the hidden layers; 5 (neuralpredictors default) */
    int layers;          /* Linear layers, >= 1; 2 (neuralpredictors default) */
    bool final_relu;     /* ReLU after the last Linear, as neuralpredictors; true */
};

struct nsid_modulator {
    struct nsid_modulator_config cfg;
    int N;               /* neurons */
    struct nsid_mlp net; /* "<prefix>.modulator_networks.0.*" */
    float *gain;         /* (B,N) gain of the latest forward (bound state) */
    float *dh;           /* (B,N) backward scratch */
    int max_batch;       /* B bound by nsid_modulator_bind_state */
};

/* Fill cfg with the defaults above. */
void nsid_modulator_config_default(struct nsid_modulator_config *cfg);

/*
 * Validate cfg (errors name the key: input_channels, hidden_channels, layers)
 * and N, and register the network's tensors.
 */
int nsid_modulator_init(struct nsid_modulator *m, const struct nsid_modulator_config *cfg, int N,
                        struct nsid_params *ps, const char *prefix, struct nsid_err *err);

/* PyTorch default Linear initialisation; draw order layer by layer, weight then bias. */
void nsid_modulator_reset_parameters(struct nsid_modulator *m, struct nsid_rng *rng);

int nsid_modulator_bind_state(struct nsid_modulator *m, struct nsid_arena *a, int B,
                              struct nsid_err *err);

/* m->gain (B,N) = ELU(MLP(behavior)) + 1. */
void nsid_modulator_forward(struct nsid_modulator *m, const float *behavior, int B);

/* Parameter gradients += and dbehavior (B, input_channels) += (NULL ok) from dgain (B,N). */
void nsid_modulator_backward(struct nsid_modulator *m, float *dbehavior, const float *dgain,
                             const float *behavior, int B);

/* Nothing is owned; safe on a zeroed struct. */
void nsid_modulator_free(struct nsid_modulator *m);

#endif
