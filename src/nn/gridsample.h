/*
 * gridsample.h - bilinear grid sampling, clamp and k x k average pooling,
 * each with its backward, as PyTorch defines them.
 *
 * Grid sampling is torch.nn.functional.grid_sample(inp, grid, mode="bilinear",
 * padding_mode="zeros", align_corners=True) for a grid of shape (B, P, 1, 2),
 * i.e. P points per image:
 *
 *     grid[b, p, 0] = x in [-1, 1] indexes the columns (W),
 *     grid[b, p, 1] = y in [-1, 1] indexes the rows (H),
 *     ix = (x + 1) / 2 * (W - 1),  iy = (y + 1) / 2 * (H - 1)   (pixel units)
 *     out[b, c, p] = sum over the 4 neighbours of bilinear weight * inp[b, c, row, col],
 *
 * where a neighbour outside the map contributes zero ("zeros" padding), so a
 * point may lie outside [-1, 1]. The gradient with respect to the position is
 * that of the bilinear formula with the four neighbours held fixed (PyTorch's
 * rule; it is one-sided on cell edges, where the function has a kink).
 *
 *     float out[B * C * P];
 *     nsid_gridsample_forward(out, inp, grid, B, C, H, W, P);
 *     nsid_gridsample_backward(dinp, dgrid, dout, inp, grid, B, C, H, W, P);  // +=
 *
 * Readouts that fuse sampling with their own reductions use struct
 * nsid_bilinear directly: the four neighbour offsets, weights and weight
 * derivatives of one point.
 *
 * Dimension letters: B batch, C channels, H x W map, P points per image.
 * Backward functions ACCUMULATE (+=) and accept NULL for gradients not needed.
 */
#ifndef NSID_GRIDSAMPLE_H
#define NSID_GRIDSAMPLE_H

#include <stddef.h>

/* One bilinear sampling point in an H x W map. */
struct nsid_bilinear {
    int idx[4];    /* offsets row*W+col of the nw, ne, sw, se neighbours; -1 if outside */
    float w[4];    /* bilinear weights (0 for neighbours outside) */
    float dwdx[4]; /* d w / d x, x the normalised column coordinate */
    float dwdy[4]; /* d w / d y, y the normalised row coordinate */
};

/*
 * Fill b for the normalised point (x, y) in an H x W map (align_corners=True).
 * A non-finite or far-away point gets all four neighbours outside (output 0,
 * gradient 0), never an integer overflow.
 */
void nsid_bilinear_setup(struct nsid_bilinear *b, float x, float y, int H, int W);

/* Sample one H x W plane at b: sum_k w_k plane[idx_k]. */
float nsid_bilinear_sample(const struct nsid_bilinear *b, const float *plane);

/*
 * out (B,C,P) = grid_sample(inp (B,C,H,W), grid (B,P,2)). out must not alias inp.
 */
void nsid_gridsample_forward(float *out, const float *inp, const float *grid,
                             int B, int C, int H, int W, int P);

/*
 * Backward of nsid_gridsample_forward: dinp (B,C,H,W) += and dgrid (B,P,2) +=
 * (either may be NULL) from dout (B,C,P).
 */
void nsid_gridsample_backward(float *dinp, float *dgrid, const float *dout, const float *inp,
                              const float *grid, int B, int C, int H, int W, int P);

/* out[i] = min(max(inp[i], lo), hi) for n values (out may equal inp). */
void nsid_clamp_forward(float *out, const float *inp, size_t n, float lo, float hi);

/*
 * torch.clamp's gradient: dinp[i] += dout[i] where lo <= inp[i] <= hi (bounds
 * included), nothing outside. inp is the forward's input.
 */
void nsid_clamp_backward(float *dinp, const float *dout, const float *inp, size_t n,
                         float lo, float hi);

/*
 * Output size of a K x K average pool with stride K and no padding (PyTorch
 * AvgPool2d(K, stride=K), floor mode): (n - K) / K + 1, or 0 when n < K.
 */
int nsid_avgpool_outsize(int n, int K);

/*
 * out (N,C,Ho,Wo) = AvgPool2d(K, stride=K, padding=0)(inp (N,C,H,W)), with
 * Ho, Wo from nsid_avgpool_outsize (count_include_pad is irrelevant without
 * padding: every window holds K*K inputs). Requires H, W >= K.
 */
void nsid_avgpool_forward(float *out, const float *inp, int N, int C, int H, int W, int K);

/* dinp (N,C,H,W) += backward of nsid_avgpool_forward given dout (N,C,Ho,Wo). */
void nsid_avgpool_backward(float *dinp, const float *dout, int N, int C, int H, int W, int K);

#endif
