/*
 * params.h - the parameter table: every tensor of a model in one block.
 *
 * Modules (core layers, readouts, shifter, modulator) register their tensors
 * at construction under the name PyTorch's state_dict() gives them
 * (neuralpredictors v0.0.x), e.g. "core.features.layer0.conv.weight" or
 * "readout.20457-5-9-0.sigma". Once all are registered, nsid_params_alloc
 * makes one block each for weights, gradients and Adam's m and v (the same
 * layout, so zero_grad and the Adam step are flat loops) plus one block for
 * buffers (BN running statistics: saved, never trained), and writes the views
 * into the pointers the modules handed over:
 *
 *     struct nsid_params ps; nsid_params_init(&ps);
 *     nsid_params_add(&ps, "core.features.layer0.conv.weight", NSID_PARAM_WEIGHT,
 *                     4, (int[]){64, 1, 15, 15}, &l->weight, &l->dweight, err);
 *     ...
 *     nsid_params_alloc(&ps, err);     // l->weight, l->dweight now point into the blocks
 *     ...
 *     nsid_params_free(&ps);
 *
 * Registration order is block order: a model registers its core first, so the
 * core is the range [0, core_end) and freezing it means skipping that range.
 * Tensors are views; only the table owns memory. Row-major, PyTorch's shapes.
 */
#ifndef NSID_PARAMS_H
#define NSID_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define NSID_PARAM_NAME_MAX 160
#define NSID_PARAM_MAXDIM 4

enum nsid_param_kind {
    NSID_PARAM_WEIGHT = 0, /* trainable: has a gradient and Adam state */
    NSID_PARAM_BUFFER = 1, /* saved with the model, not trained (BN running stats) */
};

struct nsid_param {
    char name[NSID_PARAM_NAME_MAX]; /* state_dict name, '.'-separated */
    int kind;                       /* enum nsid_param_kind */
    int ndim;                       /* 0..4 (0 = scalar) */
    int64_t shape[NSID_PARAM_MAXDIM];
    size_t numel;                   /* product of shape */
    size_t offset;                  /* floats into w/g/m/v (weights) or buf (buffers) */
    float **view;                   /* where the weight/buffer view is written */
    float **gview;                  /* where the gradient view is written, may be NULL */
};

struct nsid_params {
    struct nsid_param *p; /* (n) table in registration order */
    int n, cap;
    size_t n_weights;     /* floats in w, g, m, v */
    size_t n_buffers;     /* floats in buf */
    float *w, *g;         /* (n_weights) weights and their gradients */
    float *m, *v;         /* (n_weights) Adam first and second moments */
    float *buf;           /* (n_buffers) buffers */
    int64_t adam_t;       /* Adam steps taken (bias correction) */
};

void nsid_params_init(struct nsid_params *ps);
/*
 * Register a tensor; view/gview receive pointers at alloc time (gview may be
 * NULL, and is ignored for buffers). Fails on a duplicate name, a bad shape or
 * a call after alloc.
 */
int nsid_params_add(struct nsid_params *ps, const char *name, int kind, int ndim,
                    const int *shape, float **view, float **gview, struct nsid_err *err);
/* Allocate the zeroed blocks and write every view. */
int nsid_params_alloc(struct nsid_params *ps, struct nsid_err *err);
/* The entry of that name, or NULL. */
struct nsid_param *nsid_params_find(const struct nsid_params *ps, const char *name);
/* Data of an entry (weights or buffer block). */
float *nsid_params_data(const struct nsid_params *ps, const struct nsid_param *p);
/* Zero every gradient. */
void nsid_params_zero_grad(struct nsid_params *ps);
/* Release everything; free of a zeroed/NULL table is a no-op. */
void nsid_params_free(struct nsid_params *ps);

#endif
