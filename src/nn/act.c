/* act.c - ELU, ELU+1, ReLU, 2x2 max-pool (see act.h). */
#include "act.h"

#include <math.h>

void nsid_act_elu_forward(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = x > 0.0f ? x : expm1f(x);
    }
}

void nsid_act_elu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
    /* forward: y = x > 0 ? x : exp(x) - 1, and y > 0 exactly when x > 0 */
    for (size_t i = 0; i < n; i++) {
        float y = out[i];
        dinp[i] += y > 0.0f ? dout[i] : dout[i] * (y + 1.0f);
    }
}

void nsid_act_elu1_forward(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = x > 0.0f ? x + 1.0f : expm1f(x) + 1.0f;
    }
}

void nsid_act_elu1_backward(float *dinp, const float *dout, const float *out, size_t n)
{
    /* forward: y = x > 0 ? x + 1 : exp(x), so y > 1 exactly when x > 0 */
    for (size_t i = 0; i < n; i++) {
        float y = out[i];
        dinp[i] += y > 1.0f ? dout[i] : dout[i] * y;
    }
}

void nsid_act_relu_forward(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void nsid_act_relu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (out[i] > 0.0f) dinp[i] += dout[i];
}

/* Offset (0..3 -> (0,0),(0,1),(1,0),(1,1)) of the first maximum of the window at x. */
static int window_argmax(const float *x, int W)
{
    float v[4] = {x[0], x[1], x[W], x[W + 1]};
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (v[k] > v[best] || isnan(v[k])) {  /* NaN propagates, as in PyTorch */
            best = k;
            if (isnan(v[k])) break;
        }
    return best;
}

void nsid_act_maxpool2_forward(float *out, const float *inp, int N, int C, int H, int W)
{
    int OH = H / 2, OW = W / 2;
    for (size_t p = 0; p < (size_t)N * C; p++) {
        const float *x = inp + p * H * W;
        float *y = out + p * OH * OW;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                const float *w = x + (size_t)2 * oy * W + 2 * ox;
                int k = window_argmax(w, W);
                y[oy * OW + ox] = w[(k >> 1) * W + (k & 1)];
            }
    }
}

void nsid_act_maxpool2_backward(float *dinp, const float *dout, const float *inp, int N, int C,
                            int H, int W)
{
    int OH = H / 2, OW = W / 2;
    for (size_t p = 0; p < (size_t)N * C; p++) {
        const float *x = inp + p * H * W;
        float *dx = dinp + p * H * W;
        const float *dy = dout + p * OH * OW;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                size_t o = (size_t)2 * oy * W + 2 * ox;
                int k = window_argmax(x + o, W);
                dx[o + (size_t)(k >> 1) * W + (k & 1)] += dy[oy * OW + ox];
            }
    }
}
