/* gridsample.c - bilinear grid sampling, clamp, average pooling (see gridsample.h). */
#include "gridsample.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- bilinear */

void nsid_gridsample_bilinear_setup(struct nsid_bilinear *b, float x, float y, int H, int W)
{
    nsid__bilinear_setup_inline(b, x, y, H, W);
}

float nsid_gridsample_bilinear_sample(const struct nsid_bilinear *b, const float *plane)
{
    float v = 0.0f;
    for (int k = 0; k < 4; k++)
        if (b->idx[k] >= 0) v += b->w[k] * plane[b->idx[k]];
    return v;
}

/* ------------------------------------------------------------- grid sample */

void nsid_gridsample_forward(float *out, const float *inp, const float *grid,
                             int B, int C, int H, int W, int P)
{
    size_t hw = (size_t)H * W;
    for (int b = 0; b < B; b++) {
        for (int p = 0; p < P; p++) {
            struct nsid_bilinear bl;
            const float *g = grid + ((size_t)b * P + p) * 2;
            nsid_gridsample_bilinear_setup(&bl, g[0], g[1], H, W);
            for (int c = 0; c < C; c++)
                out[((size_t)b * C + c) * P + p] =
                    nsid_gridsample_bilinear_sample(&bl, inp + ((size_t)b * C + c) * hw);
        }
    }
}

void nsid_gridsample_backward(float *dinp, float *dgrid, const float *dout, const float *inp,
                              const float *grid, int B, int C, int H, int W, int P)
{
    size_t hw = (size_t)H * W;
    for (int b = 0; b < B; b++) {
        for (int p = 0; p < P; p++) {
            struct nsid_bilinear bl;
            const float *g = grid + ((size_t)b * P + p) * 2;
            nsid_gridsample_bilinear_setup(&bl, g[0], g[1], H, W);
            float gx = 0.0f, gy = 0.0f;
            for (int c = 0; c < C; c++) {
                float go = dout[((size_t)b * C + c) * P + p];
                const float *plane = inp + ((size_t)b * C + c) * hw;
                float *dplane = dinp ? dinp + ((size_t)b * C + c) * hw : NULL;
                for (int k = 0; k < 4; k++) {
                    if (bl.idx[k] < 0) continue;
                    /* forward: out += w_k * plane[idx_k] */
                    if (dplane) dplane[bl.idx[k]] += bl.w[k] * go;
                    gx += bl.dwdx[k] * plane[bl.idx[k]] * go;
                    gy += bl.dwdy[k] * plane[bl.idx[k]] * go;
                }
            }
            if (dgrid) {
                dgrid[((size_t)b * P + p) * 2 + 0] += gx;
                dgrid[((size_t)b * P + p) * 2 + 1] += gy;
            }
        }
    }
}

/* ------------------------------------------------------------------- clamp */

void nsid_gridsample_clamp_forward(float *out, const float *inp, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        float v = inp[i];
        out[i] = v < lo ? lo : (v > hi ? hi : v);
    }
}

void nsid_gridsample_clamp_backward(float *dinp, const float *dout, const float *inp, size_t n,
                         float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        if (inp[i] >= lo && inp[i] <= hi) dinp[i] += dout[i];
}

/* ---------------------------------------------------------------- avg pool */

int nsid_gridsample_avgpool_outsize(int n, int K)
{
    return n < K ? 0 : (n - K) / K + 1;
}

void nsid_gridsample_avgpool_forward(float *out, const float *inp, int N, int C, int H, int W, int K)
{
    int Ho = nsid_gridsample_avgpool_outsize(H, K), Wo = nsid_gridsample_avgpool_outsize(W, K);
    float area = (float)(K * K);
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        const float *src = inp + nc * H * W;
        float *dst = out + nc * Ho * Wo;
        for (int i = 0; i < Ho; i++) {
            for (int j = 0; j < Wo; j++) {
                float s = 0.0f;
                for (int u = 0; u < K; u++)
                    for (int v = 0; v < K; v++)
                        s += src[(size_t)(i * K + u) * W + (j * K + v)];
                dst[i * Wo + j] = s / area;
            }
        }
    }
}

void nsid_gridsample_avgpool_backward(float *dinp, const float *dout, int N, int C, int H, int W, int K)
{
    int Ho = nsid_gridsample_avgpool_outsize(H, K), Wo = nsid_gridsample_avgpool_outsize(W, K);
    float area = (float)(K * K);
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        float *dst = dinp + nc * H * W;
        const float *src = dout + nc * Ho * Wo;
        for (int i = 0; i < Ho; i++) {
            for (int j = 0; j < Wo; j++) {
                /* forward: out[i,j] = (sum of the K x K window) / K^2 */
                float g = src[i * Wo + j] / area;
                for (int u = 0; u < K; u++)
                    for (int v = 0; v < K; v++)
                        dst[(size_t)(i * K + u) * W + (j * K + v)] += g;
            }
        }
    }
}
