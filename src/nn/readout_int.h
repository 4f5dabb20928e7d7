/*
 * readout_int.h - what readout.c and the per-kind files readout_gaussian.c,
 * readout_factorized.c, readout_pointpooled.c share: the per-kind operations table
 * (in the spirit of sqlite3_io_methods) each kind file defines and exports, and two
 * helpers. readout.c calls a readout's kind only through r->ops; the kind files need
 * nothing from readout.c. Not for other modules: use readout.h.
 */
#ifndef NSID_READOUT_INT_H
#define NSID_READOUT_INT_H

#include <stdio.h>

#include "nn/gridsample.h"
#include "nn/params.h"
#include "nn/readout.h"

/* One readout kind. init registers tensors only; every function gets the readout itself. */
struct nsid_readout_ops {
    const char *name;            /* "gaussian", "factorized", "pointpooled" (the architecture JSON's) */
    double gamma_readout;        /* the kind's default regulariser weight (nsid_readout_config_default) */
    double init_noise;           /* and initialisation noise */
    bool grid_mean_predictor;    /* cfg.grid_mean_predictor applies (it needs the coordinates) */
    bool blocked_input;          /* can read the core's channel-blocked layout */
    /* The kind's own configuration checks (after the common ones); NULL: none. */
    int (*validate)(const struct nsid_readout_config *c, struct nsid_err *err);
    int (*init)(struct nsid_readout *r, struct nsid_params *ps, const char *prefix, struct nsid_err *err);
    void (*reset)(struct nsid_readout *r, struct nsid_rng *rng);
    int (*bind)(struct nsid_readout *r, struct nsid_arena *a, int B, struct nsid_err *err);
    void (*forward)(struct nsid_readout *r, const float *feat, int B, bool training, struct nsid_rng *rng,
                    const float *z, const float *shift);
    void (*backward)(struct nsid_readout *r, float *dfeat, float *dshift, const float *dout, const float *feat,
                     int B);
    double (*reg)(const struct nsid_readout *r);
    void (*reg_backward)(struct nsid_readout *r, double scale);
    int (*positions)(const struct nsid_readout *r, float *pos, struct nsid_err *err); /* NULL: none */
};

extern const struct nsid_readout_ops nsid_readout_gaussian_ops;
extern const struct nsid_readout_ops nsid_readout_factorized_ops;
extern const struct nsid_readout_ops nsid_readout_pointpooled_ops;

/* Register "<prefix>.<local>" with the given shape; view/gview as nsid_params_add. */
static inline int nsid__readout_add(struct nsid_params *ps, const char *prefix, const char *local, int kind,
                                    int ndim, const int *shape, float **view, float **gview, struct nsid_err *err)
{
    char name[NSID_PARAM_NAME_MAX];
    int n = snprintf(name, sizeof name, "%s.%s", prefix, local);
    if (n < 0 || (size_t)n >= sizeof name)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, prefix, "tensor name '%s.%s' longer than %d",
                            prefix, local, NSID_PARAM_NAME_MAX - 1);
    return nsid_params_add(ps, name, kind, ndim, shape, view, gview, err);
}

/* A configuration error naming key, with the value formatted by fmt (one %g). */
static inline int nsid__readout_bad(struct nsid_err *err, const char *key, const char *fmt, double v)
{
    char msg[128];
    snprintf(msg, sizeof msg, fmt, v);
    return nsid_err_set(err, NSID_EINVAL, NULL, 0, key, "%s", msg);
}

/* sign with sign(0) = 0, as the gradient of torch's abs */
static inline float nsid__signf(float v)
{
    return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f);
}

#endif
