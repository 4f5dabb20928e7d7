/*
 * readout_int.h - internals shared by readout.c and the per-kind files
 * readout_gaussian.c, readout_factorized.c, readout_pointpooled.c.
 * Not for other modules: use readout.h.
 */
#ifndef NSID_READOUT_INT_H
#define NSID_READOUT_INT_H

#include "nn/gridsample.h"
#include "nn/readout.h"

/* Register "<prefix>.<local>" with the given shape; view/gview as nsid_params_add. */
int nsid__readout_add(struct nsid_params *ps, const char *prefix, const char *local, int kind,
                      int ndim, const int *shape, float **view, float **gview, struct nsid_err *err);

/* sign with sign(0) = 0, as the gradient of torch's abs */
static inline float nsid__signf(float v)
{
    return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f);
}

/* Per-kind pieces, dispatched from readout.c. init registers tensors only. */
int nsid__gaussian_init(struct nsid_readout *r, struct nsid_params *ps, const char *prefix,
                        struct nsid_err *err);
void nsid__gaussian_reset(struct nsid_readout *r, struct nsid_rng *rng);
int nsid__gaussian_bind(struct nsid_readout *r, struct nsid_arena *a, int B, struct nsid_err *err);
void nsid__gaussian_forward(struct nsid_readout *r, const float *feat, int B, bool training,
                            struct nsid_rng *rng, const float *z, const float *shift);
void nsid__gaussian_backward(struct nsid_readout *r, float *dfeat, float *dshift, const float *dout,
                             const float *feat, int B);
double nsid__gaussian_reg(const struct nsid_readout *r);
void nsid__gaussian_reg_backward(struct nsid_readout *r, double scale);
int nsid__gaussian_positions(const struct nsid_readout *r, float *pos, struct nsid_err *err);

int nsid__factorized_init(struct nsid_readout *r, struct nsid_params *ps, const char *prefix,
                          struct nsid_err *err);
void nsid__factorized_reset(struct nsid_readout *r, struct nsid_rng *rng);
int nsid__factorized_bind(struct nsid_readout *r, struct nsid_arena *a, int B, struct nsid_err *err);
void nsid__factorized_forward(struct nsid_readout *r, const float *feat, int B);
void nsid__factorized_backward(struct nsid_readout *r, float *dfeat, const float *dout,
                               const float *feat, int B);
double nsid__factorized_reg(const struct nsid_readout *r);
void nsid__factorized_reg_backward(struct nsid_readout *r, double scale);

int nsid__pointpooled_init(struct nsid_readout *r, struct nsid_params *ps, const char *prefix,
                           struct nsid_err *err);
void nsid__pointpooled_reset(struct nsid_readout *r, struct nsid_rng *rng);
int nsid__pointpooled_bind(struct nsid_readout *r, struct nsid_arena *a, int B, struct nsid_err *err);
void nsid__pointpooled_forward(struct nsid_readout *r, const float *feat, int B, const float *shift);
void nsid__pointpooled_backward(struct nsid_readout *r, float *dfeat, float *dshift,
                                const float *dout, const float *feat, int B);
double nsid__pointpooled_reg(const struct nsid_readout *r);
void nsid__pointpooled_reg_backward(struct nsid_readout *r, double scale);

#endif
