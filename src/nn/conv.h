/*
 * conv.h - 2-D convolutions with explicit forward and backward (float32, NCHW).
 *
 * Three kinds, all stride 1, square kernels, zero padding `pad` on every side
 * (valid = 0, 'same' for odd K = (K-1)/2), cross-correlation as PyTorch's
 * Conv2d, weights in PyTorch's layout:
 *
 *   nsid_conv2d_*   general K x K conv, weight (O,C,K,K), optional bias (O):
 *                   im2col + cblas_sgemm forward, sgemm + col2im backward. The
 *                   caller passes the im2col workspace of
 *                   nsid_conv2d_workspace_floats() floats (one image's columns).
 *   nsid_conv1x1_*  pointwise conv, weight (O,C,1,1): sgemm on the image directly.
 *   nsid_dwconv2d_* depthwise K x K conv (groups = C, O = C), weight (C,1,K,K):
 *                   direct loops over contiguous output rows (vectorisable), the
 *                   same O(N*C*OH*OW*K*K) work as im2col + sgemm.
 *
 * Sizes travel in struct nsid_conv_dims; OH = H + 2*pad - K + 1 (same for W).
 * Layout: N = batch, C = input channels, H, W = input height, width,
 * O = output channels, K = kernel size.
 *
 * Conventions (docs/design.md): forward overwrites `out`; backward ACCUMULATES
 * (+=) into dinp / dweight / dbias, and any of them may be NULL (skipped, and
 * the work it needs is not done). Outputs must not alias inputs. Nothing here
 * allocates; scratch comes from the caller.
 *
 *     struct nsid_conv_dims d = {.N = 8, .C = 1, .H = 36, .W = 64, .O = 64, .K = 15, .pad = 0};
 *     float *ws = ...nsid_conv2d_workspace_floats(&d) floats...;
 *     nsid_conv2d_forward(out, ws, x, w, NULL, &d);            // out (8,64,22,50)
 *     nsid_conv2d_backward(dx, dw, NULL, ws, dout, x, w, &d);  // dx may be NULL
 */
#ifndef NSID_CONV_H
#define NSID_CONV_H

#include <stddef.h>

#include "base/err.h"

struct nsid_conv_dims {
    int N;   /* batch */
    int C;   /* input channels */
    int H;   /* input height */
    int W;   /* input width */
    int O;   /* output channels (depthwise: must equal C) */
    int K;   /* kernel size (K x K) */
    int pad; /* zero padding on each of the four sides, pixels */
};

/* Output height / width: H + 2*pad - K + 1 (may be <= 0 for bad dims). */
int nsid_conv_out_h(const struct nsid_conv_dims *d);
int nsid_conv_out_w(const struct nsid_conv_dims *d);

/*
 * Validate dims for a conv named `name` (used in the message): all sizes
 * positive, pad >= 0, output at least 1x1; depthwise (depthwise != 0) also
 * needs O == C. Returns 0 or NSID_EINVAL with err naming the bad size.
 */
int nsid_conv_dims_check(const struct nsid_conv_dims *d, int depthwise, const char *name,
                         struct nsid_err *err);

/*
 * Floats of im2col workspace nsid_conv2d_forward/backward need:
 * C*K*K*OH*OW (one image), or 0 for K == 1 and pad == 0 (no im2col).
 */
size_t nsid_conv2d_workspace_floats(const struct nsid_conv_dims *d);

/*
 * out (N,O,OH,OW) = conv(inp (N,C,H,W), weight (O,C,K,K)) + bias (O, NULL = none).
 * ws: nsid_conv2d_workspace_floats(d) floats of scratch (may be NULL when 0).
 */
void nsid_conv2d_forward(float *out, float *ws, const float *inp, const float *weight,
                         const float *bias, const struct nsid_conv_dims *d);

/*
 * Gradients of nsid_conv2d_forward given dout (N,O,OH,OW):
 * dinp (N,C,H,W) +=, dweight (O,C,K,K) +=, dbias (O) +=; each may be NULL.
 * ws as in forward (its content is clobbered).
 */
void nsid_conv2d_backward(float *dinp, float *dweight, float *dbias, float *ws,
                          const float *dout, const float *inp, const float *weight,
                          const struct nsid_conv_dims *d);

/* Pointwise: out (N,O,H,W) = weight (O,C) applied per pixel. d->K must be 1, d->pad 0. */
void nsid_conv1x1_forward(float *out, const float *inp, const float *weight,
                          const struct nsid_conv_dims *d);

/* Gradients of nsid_conv1x1_forward: dinp (N,C,H,W) +=, dweight (O,C) +=; NULL ok. */
void nsid_conv1x1_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                           const float *weight, const struct nsid_conv_dims *d);

/*
 * Depthwise: out[n,c] (OH,OW) = inp[n,c] (H,W) cross-correlated with weight[c] (K,K),
 * zero padding d->pad; d->O must equal d->C.
 */
void nsid_dwconv2d_forward(float *out, const float *inp, const float *weight,
                           const struct nsid_conv_dims *d);

/* Gradients of nsid_dwconv2d_forward: dinp (N,C,H,W) +=, dweight (C,1,K,K) +=; NULL ok. */
void nsid_dwconv2d_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                            const float *weight, const struct nsid_conv_dims *d);

#endif
