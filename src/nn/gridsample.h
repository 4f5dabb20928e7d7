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
void nsid_gridsample_bilinear_setup(struct nsid_bilinear *b, float x, float y, int H, int W);

/*
 * The body of nsid_gridsample_bilinear_setup, inline so that SIMD kernel files compile it
 * for their target (floorf becomes one instruction) with identical results.
 */
static inline void nsid__bilinear_setup_inline(struct nsid_bilinear *b, float x, float y, int H, int W)
{
    /* Unnormalise exactly as PyTorch (align_corners=True), in float. */
    float sx = (float)(W - 1) / 2.0f, sy = (float)(H - 1) / 2.0f;
    float ix = ((x + 1.0f) / 2.0f) * (float)(W - 1);
    float iy = ((y + 1.0f) / 2.0f) * (float)(H - 1);
    for (int k = 0; k < 4; k++) {
        b->idx[k] = -1;
        b->w[k] = b->dwdx[k] = b->dwdy[k] = 0.0f;
    }
    /* Far outside (or NaN): every neighbour is padding; avoids int overflow. */
    if (!(ix > -2.0f && ix < (float)W + 1.0f && iy > -2.0f && iy < (float)H + 1.0f))
        return;
    float fx = __builtin_floorf(ix), fy = __builtin_floorf(iy);
    int x0 = (int)fx, y0 = (int)fy;
    float ex = ix - fx, ey = iy - fy;         /* distance to the nw corner */
    float gx = 1.0f - ex, gy = 1.0f - ey;     /* (ix_se - ix), (iy_se - iy) */
    const int cx[4] = {x0, x0 + 1, x0, x0 + 1}, cy[4] = {y0, y0, y0 + 1, y0 + 1};
    const float w[4] = {gx * gy, ex * gy, gx * ey, ex * ey};
    /* d w / d ix and d w / d iy of nw, ne, sw, se */
    const float wx[4] = {-gy, gy, -ey, ey}, wy[4] = {-gx, -ex, gx, ex};
    for (int k = 0; k < 4; k++) {
        if (cx[k] < 0 || cx[k] >= W || cy[k] < 0 || cy[k] >= H) continue;
        b->idx[k] = cy[k] * W + cx[k];
        b->w[k] = w[k];
        b->dwdx[k] = wx[k] * sx;
        b->dwdy[k] = wy[k] * sy;
    }
}

/* Sample one H x W plane at b: sum_k w_k plane[idx_k]. */
float nsid_gridsample_bilinear_sample(const struct nsid_bilinear *b, const float *plane);

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
void nsid_gridsample_clamp_forward(float *out, const float *inp, size_t n, float lo, float hi);

/*
 * torch.clamp's gradient: dinp[i] += dout[i] where lo <= inp[i] <= hi (bounds
 * included), nothing outside. inp is the forward's input.
 */
void nsid_gridsample_clamp_backward(float *dinp, const float *dout, const float *inp, size_t n,
                         float lo, float hi);

/*
 * Output size of a K x K average pool with stride K and no padding (PyTorch
 * AvgPool2d(K, stride=K), floor mode): (n - K) / K + 1, or 0 when n < K.
 */
int nsid_gridsample_avgpool_outsize(int n, int K);

/*
 * out (N,C,Ho,Wo) = AvgPool2d(K, stride=K, padding=0)(inp (N,C,H,W)), with
 * Ho, Wo from nsid_gridsample_avgpool_outsize (count_include_pad is irrelevant without
 * padding: every window holds K*K inputs). Requires H, W >= K.
 */
void nsid_gridsample_avgpool_forward(float *out, const float *inp, int N, int C, int H, int W, int K);

/* dinp (N,C,H,W) += backward of nsid_gridsample_avgpool_forward given dout (N,C,Ho,Wo). */
void nsid_gridsample_avgpool_backward(float *dinp, const float *dout, int N, int C, int H, int W, int K);

#endif
