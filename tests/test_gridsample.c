/* test_gridsample.c - bilinear grid sampling, clamp and average pooling: gradients and PyTorch parity. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/gridsample.h"
#include "test_readout_util.h"

enum { B = 2, C = 3, H = 4, W = 5, P = 7 };

struct gs_ctx {
    float inp[B * C * H * W], grid[B * P * 2], dout[B * C * P], out[B * C * P];
};

static double gs_loss(void *vctx, uint64_t *sig)
{
    struct gs_ctx *c = vctx;
    nsid_gridsample_forward(c->out, c->inp, c->grid, B, C, H, W, P);
    double l = 0.0;
    for (int i = 0; i < B * C * P; i++) l += (double)c->dout[i] * (double)c->out[i];
    uint64_t h = 1;
    for (int k = 0; k < B * P; k++) {
        h = sig_mix(h, cell_of(c->grid[2 * k], W));
        h = sig_mix(h, cell_of(c->grid[2 * k + 1], H));
    }
    *sig = h;
    return l;
}

static void test_gridsample_fd(void)
{
    struct gs_ctx *c = calloc(1, sizeof *c);
    struct nsid_rng rng;
    nsid_rng_init(&rng, 7, 100);
    printf("gridsample finite differences: seed 7 stream 100\n");
    fill_normal(c->inp, B * C * H * W, 1.0, &rng);
    fill_uniform(c->grid, B * P * 2, -1.25, 1.25, &rng); /* some points in the zero padding */
    fill_normal(c->dout, B * C * P, 1.0, &rng);
    float dinp[B * C * H * W] = {0}, dgrid[B * P * 2] = {0};
    nsid_gridsample_forward(c->out, c->inp, c->grid, B, C, H, W, P);
    nsid_gridsample_backward(dinp, dgrid, c->dout, c->inp, c->grid, B, C, H, W, P);
    FD_CHECK(c->inp, dinp, B * C * H * W, 1e-2, 1e-4, 1e-4, gs_loss, c, "grid_sample d/d feature map");
    FD_CHECK(c->grid, dgrid, B * P * 2, 1e-3, 2e-4, 1e-3, gs_loss, c, "grid_sample d/d position");
    /* backward accumulates */
    float d2[B * P * 2];
    memcpy(d2, dgrid, sizeof d2);
    nsid_gridsample_backward(NULL, dgrid, c->dout, c->inp, c->grid, B, C, H, W, P);
    int twice = 1;
    for (int i = 0; i < B * P * 2; i++) twice &= fabsf(dgrid[i] - 2.0f * d2[i]) <= 1e-5f * (1.0f + fabsf(d2[i]));
    CHECK(twice, "grid_sample backward accumulates (+=) and accepts a NULL dinp");
    free(c);
}

static void test_bilinear_edges(void)
{
    struct nsid_bilinear b;
    float plane[H * W];
    for (int i = 0; i < H * W; i++) plane[i] = (float)i;
    nsid_gridsample_bilinear_setup(&b, -1.0f, -1.0f, H, W);
    CHECK(fabsf(nsid_gridsample_bilinear_sample(&b, plane) - 0.0f) < 1e-7f, "(-1,-1) is the top-left pixel");
    nsid_gridsample_bilinear_setup(&b, 1.0f, 1.0f, H, W);
    CHECK(fabsf(nsid_gridsample_bilinear_sample(&b, plane) - (float)(H * W - 1)) < 1e-5f, "(1,1) is the bottom-right pixel");
    nsid_gridsample_bilinear_setup(&b, 0.0f, -1.0f, H, W);
    CHECK(fabsf(nsid_gridsample_bilinear_sample(&b, plane) - 2.0f) < 1e-6f, "x indexes columns (W): (0,-1) is column 2 of row 0");
    nsid_gridsample_bilinear_setup(&b, -1.0f, 0.0f, H, W);
    CHECK(fabsf(nsid_gridsample_bilinear_sample(&b, plane) - 1.5f * W) < 1e-5f, "y indexes rows (H): (-1,0) is between rows 1 and 2");
    nsid_gridsample_bilinear_setup(&b, NAN, 0.0f, H, W);
    CHECK(nsid_gridsample_bilinear_sample(&b, plane) == 0.0f && b.idx[0] == -1, "a NaN point samples zero padding");
    nsid_gridsample_bilinear_setup(&b, 1e30f, -1e30f, H, W);
    CHECK(nsid_gridsample_bilinear_sample(&b, plane) == 0.0f, "a far-away point samples zero padding without overflow");
    nsid_gridsample_bilinear_setup(&b, 1.2f, 0.0f, H, W);
    float v = nsid_gridsample_bilinear_sample(&b, plane);
    /* ix = 4.4: 0.6 of column 4, 0.4 of the (zero) padding column 5, rows 1.5 */
    CHECK(fabsf(v - 0.6f * 0.5f * (plane[1 * W + 4] + plane[2 * W + 4])) < 1e-5f, "zeros padding outside [-1,1]");
    nsid_gridsample_bilinear_setup(&b, 0.3f, 0.1f, 1, 1);
    CHECK(fabsf(nsid_gridsample_bilinear_sample(&b, plane) - plane[0]) < 1e-7f && b.dwdx[0] == 0.0f,
          "a 1x1 map samples its pixel with zero position gradient");
}

static void test_clamp(void)
{
    float x[7] = {-2.0f, -1.0f, -0.5f, 0.0f, 0.7f, 1.0f, 1.5f}, y[7], dx[7] = {0}, g[7];
    for (int i = 0; i < 7; i++) g[i] = (float)(i + 1);
    nsid_gridsample_clamp_forward(y, x, 7, -1.0f, 1.0f);
    CHECK(y[0] == -1.0f && y[2] == -0.5f && y[6] == 1.0f, "clamp forward");
    nsid_gridsample_clamp_backward(dx, g, x, 7, -1.0f, 1.0f);
    CHECK(dx[0] == 0.0f && dx[6] == 0.0f, "clamp passes no gradient outside [lo, hi]");
    CHECK(dx[1] == 2.0f && dx[5] == 6.0f, "clamp passes the gradient on the bounds (torch.clamp's rule)");
    CHECK(dx[2] == 3.0f && dx[3] == 4.0f && dx[4] == 5.0f, "clamp passes the gradient inside");
    nsid_gridsample_clamp_backward(dx, g, x, 7, -1.0f, 1.0f);
    CHECK(dx[3] == 8.0f, "clamp backward accumulates");
}

struct pool_ctx {
    float inp[2 * 2 * 10 * 11], out[2 * 2 * 3 * 3], dout[2 * 2 * 3 * 3];
};

static double pool_loss(void *vctx, uint64_t *sig)
{
    struct pool_ctx *c = vctx;
    nsid_gridsample_avgpool_forward(c->out, c->inp, 2, 2, 10, 11, 3);
    double l = 0.0;
    for (int i = 0; i < 2 * 2 * 9; i++) l += (double)c->dout[i] * (double)c->out[i];
    *sig = 0;
    return l;
}

static void test_avgpool(void)
{
    CHECK(nsid_gridsample_avgpool_outsize(22, 3) == 7 && nsid_gridsample_avgpool_outsize(50, 3) == 16 &&
          nsid_gridsample_avgpool_outsize(7, 3) == 2 && nsid_gridsample_avgpool_outsize(2, 3) == 0,
          "avgpool output sizes: floor((n - K) / K) + 1, 0 below K");
    struct pool_ctx *c = calloc(1, sizeof *c);
    struct nsid_rng rng;
    nsid_rng_init(&rng, 8, 100);
    fill_normal(c->inp, sizeof c->inp / sizeof(float), 1.0, &rng);
    fill_normal(c->dout, sizeof c->dout / sizeof(float), 1.0, &rng);
    float *dinp = calloc(sizeof c->inp / sizeof(float), sizeof(float));
    nsid_gridsample_avgpool_forward(c->out, c->inp, 2, 2, 10, 11, 3);
    nsid_gridsample_avgpool_backward(dinp, c->dout, 2, 2, 10, 11, 3);
    FD_CHECK(c->inp, dinp, sizeof c->inp / sizeof(float), 1e-2, 1e-5, 1e-4, pool_loss, c, "avgpool d/d input");
    CHECK(dinp[9] == 0.0f && dinp[10] == 0.0f, "columns beyond the last window get no gradient");
    free(dinp);
    free(c);
}

static void test_torch_reference(void)
{
    hid_t f = fx_open();
    if (f < 0) return;
    enum { FB = 2, FC = 3, FH = 4, FW = 5, FP = 9 };
    float inp[FB * FC * FH * FW], grid[FB * FP * 2], dout[FB * FC * FP], out[FB * FC * FP];
    float dinp[FB * FC * FH * FW] = {0}, dgrid[FB * FP * 2] = {0};
    fx_read(f, "gridsample/inp", inp, FB * FC * FH * FW);
    fx_read(f, "gridsample/grid", grid, FB * FP * 2);
    fx_read(f, "gridsample/dout", dout, FB * FC * FP);
    nsid_gridsample_forward(out, inp, grid, FB, FC, FH, FW, FP);
    nsid_gridsample_backward(dinp, dgrid, dout, inp, grid, FB, FC, FH, FW, FP);
    fx_compare(f, "gridsample/out", out, FB * FC * FP);
    fx_compare(f, "gridsample/dinp", dinp, FB * FC * FH * FW);
    fx_compare(f, "gridsample/dgrid", dgrid, FB * FP * 2);

    float pin[2 * 2 * 10 * 11], pout[2 * 2 * 3 * 3], pdout[2 * 2 * 3 * 3], pdin[2 * 2 * 10 * 11] = {0};
    fx_read(f, "avgpool/inp", pin, sizeof pin / sizeof(float));
    fx_read(f, "avgpool/dout", pdout, sizeof pdout / sizeof(float));
    nsid_gridsample_avgpool_forward(pout, pin, 2, 2, 10, 11, 3);
    nsid_gridsample_avgpool_backward(pdin, pdout, 2, 2, 10, 11, 3);
    fx_compare(f, "avgpool/out", pout, sizeof pout / sizeof(float));
    fx_compare(f, "avgpool/dinp", pdin, sizeof pdin / sizeof(float));
    H5Fclose(f);
}

int main(void)
{
    test_bilinear_edges();
    test_gridsample_fd();
    test_clamp();
    test_avgpool();
    test_torch_reference();
    return check_summary("gridsample");
}
