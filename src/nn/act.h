/*
 * act.h - elementwise nonlinearities and 2x2 max-pooling (float32).
 *
 *   ELU (alpha 1):     y = x > 0 ? x : expm1(x)        dy/dx = x > 0 ? 1 : y + 1
 *   ELU + 1 (output):  y = ELU(x) + 1                    dy/dx = x > 0 ? 1 : y
 *   ReLU:              y = max(x, 0)                      dy/dx = x > 0 ? 1 : 0
 *   max-pool 2x2, stride 2, floor mode (PyTorch's MaxPool2d(2)): the gradient goes
 *   to the first maximum of each window in row-major order (PyTorch's tie rule).
 *
 * The ELU backwards take the forward OUTPUT (y), as PyTorch's in-place ELU does, so
 * the forward may run in place (out == inp) and still be differentiated; the
 * derivative at x = 0 is 1 for ELU/ELU+1 (PyTorch's) and 0 for ReLU (PyTorch's).
 * Backward ACCUMULATES (+=) into dinp; dinp must not alias dout.
 */
#ifndef NSID_ACT_H
#define NSID_ACT_H

#include <stddef.h>

/* out (n) = ELU(inp (n)); out may equal inp. */
void nsid_act_elu_forward(float *out, const float *inp, size_t n);
/* dinp (n) += dout * ELU'(x), from the forward's output out (n). */
void nsid_act_elu_backward(float *dinp, const float *dout, const float *out, size_t n);

/* out (n) = ELU(inp) + 1 > 0: the model's output nonlinearity; out may equal inp. */
void nsid_act_elu1_forward(float *out, const float *inp, size_t n);
/* dinp (n) += dout * d(ELU+1)/dx, from the forward's output out (n). */
void nsid_act_elu1_backward(float *dinp, const float *dout, const float *out, size_t n);

/* out (n) = max(inp, 0); out may equal inp. */
void nsid_act_relu_forward(float *out, const float *inp, size_t n);
/* dinp (n) += dout where the forward's output out (n) > 0. */
void nsid_act_relu_backward(float *dinp, const float *dout, const float *out, size_t n);

/* out (N,C,H/2,W/2) = max over 2x2 windows of inp (N,C,H,W); odd last row/column dropped. */
void nsid_act_maxpool2_forward(float *out, const float *inp, int N, int C, int H, int W);
/* dinp (N,C,H,W) += dout (N,C,H/2,W/2) routed to each window's first maximum of inp. */
void nsid_act_maxpool2_backward(float *dinp, const float *dout, const float *inp, int N, int C,
                            int H, int W);

#endif
