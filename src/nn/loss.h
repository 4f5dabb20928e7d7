/*
 * loss.h - the training objective's terms (docs/paper.md §4.2, §1.4), values in double.
 *
 *   Poisson loss   L = scale * sum_i [ rhat_i - r_i * log(rhat_i + 1e-12) ]
 *                  (neuralpredictors PoissonLoss(avg=False); the trainer passes
 *                  scale = sqrt(N_total / B) of the scan), dL/drhat = scale * (1 - r / (rhat + 1e-12)).
 *   L1 penalty     P = gamma * sum_i |w_i|, subgradient gamma * sign(w) with sign(0) = 0 (torch.abs).
 *   LaplaceL2norm  R = sum_k sum_pix (L * W_k)^2 / sum_k sum_pix W_k^2 over n_kernels kernels
 *                  W_k (KH,KW), L * = 'same' zero-padded (pad 1) cross-correlation with
 *                  L = [[0,-1,0],[-1,4,-1],[0,-1,0]] (neuralpredictors LaplaceL2norm, avg=False);
 *                  a conv weight (O,C,KH,KW) is O*C kernels. R = 0 (and no gradient) when W = 0,
 *                  where PyTorch would give NaN.
 *                  dR/dW = 2 L*(L*W) / S - 2 R W / S with S = sum W^2 (L is symmetric, so the
 *                  adjoint of the zero-padded correlation is the correlation itself).
 *
 * Backward functions ACCUMULATE (+=) `scale` times the gradient into their output.
 */
#ifndef NSID_LOSS_H
#define NSID_LOSS_H

#include <stddef.h>

#define NSID_POISSON_EPS 1e-12 /* added to rhat inside the log, as neuralpredictors */

/* scale * sum over n of rhat - r * log(rhat + 1e-12); rhat (n) > 0 predictions, r (n) targets. */
double nsid_loss_poisson_forward(const float *rhat, const float *r, size_t n, double scale);
/* drhat (n) += scale * (1 - r / (rhat + 1e-12)). */
void nsid_loss_poisson_backward(float *drhat, const float *rhat, const float *r, size_t n,
                                double scale);

/* gamma * sum |w| over w (n). */
double nsid_loss_l1_forward(const float *w, size_t n, double gamma);
/* dw (n) += gamma * sign(w), sign(0) = 0. */
void nsid_loss_l1_backward(float *dw, const float *w, size_t n, double gamma);

/* R of the n_kernels kernels (KH,KW) stored back to back in w. */
double nsid_loss_laplace_l2norm_forward(const float *w, int n_kernels, int KH, int KW);
/* Widest kernel the backward takes (the core's input_kern is at most 1024 too). */
#define NSID_LAPLACE_MAX_KW 1024
/* dw += scale * dR/dw, same layout as w; KW <= NSID_LAPLACE_MAX_KW. */
void nsid_loss_laplace_l2norm_backward(float *dw, const float *w, int n_kernels, int KH, int KW,
                                  double scale);

#endif
