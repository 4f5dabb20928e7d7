/*
 * batchnorm.h - BatchNorm2d with PyTorch's semantics (float32, NCHW).
 *
 * Training (training = true):
 *     mean_c = mean of x over N*H*W,  var_c = biased variance (divide by M = N*H*W)
 *     y = (x - mean_c) / sqrt(var_c + eps) * gamma_c + beta_c
 *     running_mean = (1 - momentum) * running_mean + momentum * mean_c
 *     running_var  = (1 - momentum) * running_var  + momentum * var_c * M/(M-1)   (unbiased)
 * Evaluation (training = false): the same affine map with running_mean / running_var,
 * which are left unchanged. Statistics are accumulated in double (as PyTorch's CPU
 * kernel does). PyTorch refuses M == 1 in training; here the running variance then
 * takes the biased value (0). num_batches_tracked is the caller's counter (it only
 * counts training forwards when momentum is given, as here).
 *
 * The forward saves the mean and 1/sqrt(var + eps) it normalised with (batch or
 * running) in `mean` / `rstd` (C floats each) for the backward. Backward in training
 * mode is the full batch-statistics gradient; in evaluation mode the affine map's.
 * It ACCUMULATES into dinp / dgamma / dbeta, each may be NULL.
 *
 *     struct nsid_bn_dims d = {.N = 8, .C = 64, .HW = 22 * 50, .eps = 1e-5, .momentum = 0.9};
 *     nsid_batchnorm_forward(y, mean, rstd, rmean, rvar, x, gamma, beta, &d, true);
 *     nsid_batchnorm_backward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, &d, true);
 */
#ifndef NSID_BATCHNORM_H
#define NSID_BATCHNORM_H

#include <stdbool.h>

struct nsid_bn_dims {
    int N;           /* batch */
    int C;           /* channels */
    int HW;          /* pixels per channel plane (H*W) */
    double eps;      /* added to the variance, PyTorch default 1e-5 */
    double momentum; /* running-stat update weight of the batch statistic (paper 0.9) */
};

/*
 * out (N,C,HW) = normalise(inp (N,C,HW)) * gamma (C) + beta (C); gamma/beta NULL
 * mean 1/0 (affine=False). Saves mean (C), rstd (C). Training updates running_mean
 * and running_var (C) in place; evaluation reads them. out may alias inp.
 */
void nsid_batchnorm_forward(float *out, float *mean, float *rstd, float *running_mean,
                            float *running_var, const float *inp, const float *gamma,
                            const float *beta, const struct nsid_bn_dims *d, bool training);

/*
 * Gradients given dout (N,C,HW), the forward's input inp and its saved mean/rstd,
 * and the same `training` flag as that forward:
 * dinp (N,C,HW) +=, dgamma (C) +=, dbeta (C) +=; each may be NULL. gamma NULL = 1.
 */
void nsid_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                             const float *inp, const float *mean, const float *rstd,
                             const float *gamma, const struct nsid_bn_dims *d, bool training);

#endif
