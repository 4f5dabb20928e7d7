/*
 * test_layers.c - finite-difference gradient checks and hand-computed values for
 * the plain layers: conv2d (valid, same, with bias, 1x1), pointwise, depthwise,
 * BatchNorm (train and eval, running statistics), ELU, ELU+1, ReLU, max-pool,
 * Poisson loss, L1, Laplace L2-norm, Adam.
 *
 * Gradient checks: the scalar loss is sum(out * proj) with a fixed random proj
 * (so dout = proj), accumulated in double; every element of every input and
 * parameter is perturbed by +-eps (central differences) and compared with the
 * analytic gradient with abs + rel tolerance. Seed printed below.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "base/rng.h"
#include "check.h"
#include "nn/act.h"
#include "nn/adam.h"
#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/loss.h"

#define SEED 20210503u

/* ------------------------------------------------------------ helpers */

static void fill_normal(float *x, size_t n, struct nsid_rng *r, double scale, double shift)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(shift + scale * nsid_rng_normal(r));
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

typedef double (*loss_fn)(void *ctx);
/* Return true to skip element i (a kink within eps). */
typedef bool (*skip_fn)(void *ctx, size_t i, double eps);

/*
 * Central differences of f with respect to each x[i], compared with grad[i]:
 * one CHECK per tensor, reporting the worst element.
 */
static void fd_check(const char *what, loss_fn f, void *ctx, float *x, const float *grad,
                     size_t n, double eps, double atol, double rtol, skip_fn skip)
{
    size_t bad = 0, worst = 0, checked = 0;
    double worst_ex = -1.0, worst_num = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (skip && skip(ctx, i, eps)) continue;
        float x0 = x[i];
        float xp = (float)((double)x0 + eps), xm = (float)((double)x0 - eps);
        x[i] = xp;
        double fp = f(ctx);
        x[i] = xm;
        double fm = f(ctx);
        x[i] = x0;
        double num = (fp - fm) / ((double)xp - (double)xm);
        double ex = fabs(num - (double)grad[i]) - (atol + rtol * fabs(num));
        checked++;
        if (ex > 0.0 || isnan(ex)) {
            bad++;
            if (!(ex <= worst_ex)) { worst_ex = ex; worst = i; worst_num = num; }
        }
    }
    CHECK(bad == 0 && checked > 0, "%s: %zu of %zu gradient elements off; worst [%zu] analytic %.9g numeric %.9g",
          what, bad, checked, worst, bad ? (double)grad[worst] : 0.0, worst_num);
}

/* --------------------------------------------------------------- conv */

enum conv_kind { KIND_FULL, KIND_1X1, KIND_DW };

struct conv_case {
    enum conv_kind kind;
    struct nsid_conv_dims d;
    float *x, *w, *b, *proj, *out, *ws;
};

static size_t conv_out_numel(const struct nsid_conv_dims *d)
{
    return (size_t)d->N * d->O * nsid_conv_out_h(d) * nsid_conv_out_w(d);
}

static void conv_run(struct conv_case *c)
{
    if (c->kind == KIND_FULL) nsid_conv2d_forward(c->out, c->ws, c->x, c->w, c->b, &c->d);
    else if (c->kind == KIND_1X1) nsid_conv1x1_forward(c->out, c->x, c->w, &c->d);
    else nsid_dwconv2d_forward(c->out, c->x, c->w, &c->d);
}

static double conv_loss(void *ctx)
{
    struct conv_case *c = ctx;
    conv_run(c);
    return dot(c->out, c->proj, conv_out_numel(&c->d));
}

static void check_conv(const char *name, enum conv_kind kind, struct nsid_conv_dims d, bool bias,
                       struct nsid_rng *r)
{
    struct nsid_err err = {0};
    CHECK(nsid_conv_dims_check(&d, kind == KIND_DW, name, &err) == 0, "%s: dims valid: %s", name, err.msg);
    size_t nx = (size_t)d.N * d.C * d.H * d.W;
    size_t nw = kind == KIND_DW ? (size_t)d.C * d.K * d.K : (size_t)d.O * d.C * d.K * d.K;
    size_t ny = conv_out_numel(&d);
    size_t nws = kind == KIND_FULL ? nsid_conv2d_workspace_floats(&d) : 0;
    struct conv_case c = {.kind = kind, .d = d};
    c.x = calloc(nx, sizeof(float));
    c.w = calloc(nw, sizeof(float));
    c.b = bias ? calloc((size_t)d.O, sizeof(float)) : NULL;
    c.proj = calloc(ny, sizeof(float));
    c.out = calloc(ny, sizeof(float));
    c.ws = nws ? calloc(nws, sizeof(float)) : NULL;
    float *dx = calloc(nx, sizeof(float)), *dw = calloc(nw, sizeof(float));
    float *db = calloc((size_t)d.O, sizeof(float));
    fill_normal(c.x, nx, r, 1.0, 0.0);
    fill_normal(c.w, nw, r, 0.5, 0.0);
    if (c.b) fill_normal(c.b, (size_t)d.O, r, 0.5, 0.0);
    fill_normal(c.proj, ny, r, 1.0, 0.0);

    /* analytic: accumulate twice onto a preset value to test "+=" */
    for (size_t i = 0; i < nx; i++) dx[i] = 0.25f;
    for (size_t i = 0; i < nw; i++) dw[i] = -0.5f;
    for (int o = 0; o < d.O; o++) db[o] = 1.0f;
    conv_run(&c);
    for (int rep = 0; rep < 2; rep++) {
        if (kind == KIND_FULL) nsid_conv2d_backward(dx, dw, c.b ? db : NULL, c.ws, c.proj, c.x, c.w, &d);
        else if (kind == KIND_1X1) nsid_conv1x1_backward(dx, dw, c.proj, c.x, c.w, &d);
        else nsid_dwconv2d_backward(dx, dw, c.proj, c.x, c.w, &d);
    }
    for (size_t i = 0; i < nx; i++) dx[i] = (dx[i] - 0.25f) * 0.5f;
    for (size_t i = 0; i < nw; i++) dw[i] = (dw[i] + 0.5f) * 0.5f;
    for (int o = 0; o < d.O; o++) db[o] = (db[o] - 1.0f) * 0.5f;

    char what[128];
    snprintf(what, sizeof what, "%s dinp", name);
    fd_check(what, conv_loss, &c, c.x, dx, nx, 1e-2, 2e-4, 2e-4, NULL);
    snprintf(what, sizeof what, "%s dweight", name);
    fd_check(what, conv_loss, &c, c.w, dw, nw, 1e-2, 2e-4, 2e-4, NULL);
    if (c.b) {
        snprintf(what, sizeof what, "%s dbias", name);
        fd_check(what, conv_loss, &c, c.b, db, (size_t)d.O, 1e-2, 2e-4, 2e-4, NULL);
    }

    /* NULL gradient pointers are skipped (and leave the others unchanged) */
    float *dw2 = calloc(nw, sizeof(float));
    if (kind == KIND_FULL) nsid_conv2d_backward(NULL, dw2, NULL, c.ws, c.proj, c.x, c.w, &d);
    else if (kind == KIND_1X1) nsid_conv1x1_backward(NULL, dw2, c.proj, c.x, c.w, &d);
    else nsid_dwconv2d_backward(NULL, dw2, c.proj, c.x, c.w, &d);
    CHECK_ARRAYS(dw2, dw, nw, 1e-5, 1e-5, "dweight alone equals dweight with dinp");
    free(dw2);
    free(c.x); free(c.w); free(c.b); free(c.proj); free(c.out); free(c.ws);
    free(dx); free(dw); free(db);
}

/* A direct (naive) convolution to compare the fast paths with. */
static void conv_naive(float *out, const float *x, const float *w, const struct nsid_conv_dims *d, bool dw)
{
    int OH = nsid_conv_out_h(d), OW = nsid_conv_out_w(d), K = d->K;
    for (int n = 0; n < d->N; n++)
        for (int o = 0; o < d->O; o++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double s = 0.0;
                    for (int c = 0; c < d->C; c++) {
                        if (dw && c != o) continue;
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++) {
                                int iy = oy + ky - d->pad, ix = ox + kx - d->pad;
                                if (iy < 0 || iy >= d->H || ix < 0 || ix >= d->W) continue;
                                float wv = dw ? w[(o * K + ky) * K + kx] : w[((o * d->C + c) * K + ky) * K + kx];
                                s += (double)wv * (double)x[((n * d->C + c) * d->H + iy) * d->W + ix];
                            }
                    }
                    out[((n * d->O + o) * OH + oy) * OW + ox] = (float)s;
                }
}

static void check_conv_values(struct nsid_rng *r)
{
    /* 19 columns: both the vector blocks of 8 and the scalar tail are used */
    struct nsid_conv_dims d = {.N = 2, .C = 3, .H = 9, .W = 19, .O = 3, .K = 5, .pad = 2};
    size_t nx = 2 * 3 * 9 * 19, ny = conv_out_numel(&d);
    float *x = malloc(nx * sizeof(float)), *w = malloc(75 * 3 * sizeof(float));
    float *y = malloc(ny * sizeof(float)), *ref = malloc(ny * sizeof(float));
    float *ws = malloc(nsid_conv2d_workspace_floats(&d) * sizeof(float));
    fill_normal(x, nx, r, 1.0, 0.0);
    fill_normal(w, 75 * 3, r, 1.0, 0.0);
    nsid_conv2d_forward(y, ws, x, w, NULL, &d);
    conv_naive(ref, x, w, &d, false);
    CHECK_ARRAYS(y, ref, ny, 1e-5, 1e-5, "conv2d 5x5 same equals the direct sum");
    nsid_dwconv2d_forward(y, x, w, &d);
    conv_naive(ref, x, w, &d, true);
    CHECK_ARRAYS(y, ref, ny, 1e-5, 1e-5, "depthwise 5x5 same equals the direct sum");
    struct nsid_conv_dims e = d;
    e.K = 3; e.pad = 4;  /* padding wider than the kernel: whole rows of zeros */
    size_t ne = conv_out_numel(&e);
    float *y2 = malloc(ne * sizeof(float)), *ref2 = malloc(ne * sizeof(float));
    nsid_dwconv2d_forward(y2, x, w, &e);
    conv_naive(ref2, x, w, &e, true);
    CHECK_ARRAYS(y2, ref2, ne, 1e-5, 1e-5, "depthwise 3x3 pad 4 equals the direct sum");
    CHECK(nsid_conv_out_h(&e) == 15 && nsid_conv_out_w(&e) == 25, "output size H + 2p - K + 1");
    free(x); free(w); free(y); free(ref); free(ws); free(y2); free(ref2);

    struct nsid_err err = {0};
    struct nsid_conv_dims bad = {.N = 1, .C = 1, .H = 4, .W = 4, .O = 2, .K = 7, .pad = 1};
    CHECK(nsid_conv_dims_check(&bad, 0, "layer0.conv", &err) == NSID_EINVAL && strstr(err.msg, "does not fit")
          && strcmp(err.key, "layer0.conv") == 0, "a kernel larger than the input is an error naming the conv: %s", err.msg);
    bad.K = 3;
    nsid_err_clear(&err);
    CHECK(nsid_conv_dims_check(&bad, 1, "spatial_conv", &err) == NSID_EINVAL && strstr(err.msg, "O=2, C=1"),
          "depthwise with O != C is an error: %s", err.msg);
}

static void test_conv(struct nsid_rng *r)
{
    check_conv("conv2d 3x3 valid +bias", KIND_FULL,
               (struct nsid_conv_dims){.N = 2, .C = 3, .H = 6, .W = 7, .O = 4, .K = 3, .pad = 0}, true, r);
    check_conv("conv2d 3x3 same", KIND_FULL,
               (struct nsid_conv_dims){.N = 2, .C = 2, .H = 5, .W = 6, .O = 3, .K = 3, .pad = 1}, false, r);
    check_conv("conv2d 5x5 same +bias", KIND_FULL,
               (struct nsid_conv_dims){.N = 1, .C = 2, .H = 6, .W = 5, .O = 2, .K = 5, .pad = 2}, true, r);
    check_conv("conv2d 4x4 pad 2 (even)", KIND_FULL,
               (struct nsid_conv_dims){.N = 2, .C = 1, .H = 5, .W = 5, .O = 2, .K = 4, .pad = 2}, false, r);
    check_conv("conv2d 1x1 (no im2col)", KIND_FULL,
               (struct nsid_conv_dims){.N = 2, .C = 3, .H = 3, .W = 4, .O = 2, .K = 1, .pad = 0}, true, r);
    check_conv("conv2d 1x1 pad 1", KIND_FULL,
               (struct nsid_conv_dims){.N = 1, .C = 2, .H = 3, .W = 3, .O = 2, .K = 1, .pad = 1}, false, r);
    check_conv("pointwise", KIND_1X1,
               (struct nsid_conv_dims){.N = 2, .C = 3, .H = 4, .W = 5, .O = 4, .K = 1, .pad = 0}, false, r);
    check_conv("depthwise 3x3 same", KIND_DW,
               (struct nsid_conv_dims){.N = 2, .C = 3, .H = 5, .W = 11, .O = 3, .K = 3, .pad = 1}, false, r);
    check_conv("depthwise 5x5 valid", KIND_DW,
               (struct nsid_conv_dims){.N = 1, .C = 2, .H = 7, .W = 9, .O = 2, .K = 5, .pad = 0}, false, r);
    check_conv("depthwise 3x3 pad 3", KIND_DW,
               (struct nsid_conv_dims){.N = 1, .C = 2, .H = 4, .W = 10, .O = 2, .K = 3, .pad = 3}, false, r);
    check_conv_values(r);
}

/* ---------------------------------------------------------- batchnorm */

struct bn_case {
    struct nsid_bn_dims d;
    bool training;
    float *x, *gamma, *beta, *rm, *rv, *proj, *out, *mean, *rstd;
};

static double bn_loss(void *ctx)
{
    struct bn_case *c = ctx;
    float rm[8], rv[8];  /* running stats must not drift during the check */
    memcpy(rm, c->rm, sizeof(float) * (size_t)c->d.C);
    memcpy(rv, c->rv, sizeof(float) * (size_t)c->d.C);
    nsid_batchnorm_forward(c->out, c->mean, c->rstd, rm, rv, c->x, c->gamma, c->beta, &c->d, c->training);
    return dot(c->out, c->proj, (size_t)c->d.N * c->d.C * c->d.HW);
}

static void check_bn_grad(bool training, struct nsid_rng *r)
{
    struct bn_case c = {.d = {.N = 3, .C = 2, .HW = 5, .eps = 1e-5, .momentum = 0.9}, .training = training};
    size_t n = 3 * 2 * 5;
    float x[30], proj[30], out[30], gamma[2], beta[2], rm[2] = {0.3f, -0.2f}, rv[2] = {1.5f, 0.7f};
    float mean[2], rstd[2], dx[30] = {0}, dg[2] = {0}, db[2] = {0};
    fill_normal(x, n, r, 2.0, 0.5);
    fill_normal(proj, n, r, 1.0, 0.0);
    fill_normal(gamma, 2, r, 0.5, 1.0);
    fill_normal(beta, 2, r, 0.5, 0.0);
    c.x = x; c.proj = proj; c.out = out; c.gamma = gamma; c.beta = beta; c.rm = rm; c.rv = rv;
    c.mean = mean; c.rstd = rstd;
    bn_loss(&c);
    nsid_batchnorm_backward(dx, dg, db, proj, x, mean, rstd, gamma, &c.d, training);
    const char *m = training ? "train" : "eval";
    char what[64];
    snprintf(what, sizeof what, "batchnorm %s dinp", m);
    fd_check(what, bn_loss, &c, x, dx, n, 1e-3, 1e-3, 1e-3, NULL);
    snprintf(what, sizeof what, "batchnorm %s dgamma", m);
    fd_check(what, bn_loss, &c, gamma, dg, 2, 1e-3, 1e-3, 1e-3, NULL);
    snprintf(what, sizeof what, "batchnorm %s dbeta", m);
    fd_check(what, bn_loss, &c, beta, db, 2, 1e-3, 1e-3, 1e-3, NULL);
    float dx2[30] = {0};
    nsid_batchnorm_backward(dx2, NULL, NULL, proj, x, mean, rstd, gamma, &c.d, training);
    snprintf(what, sizeof what, "batchnorm %s: NULL dgamma/dbeta skipped", m);
    CHECK_ARRAYS(dx2, dx, n, 0, 0, what);
}

static void test_bn_values(void)
{
    /* N=2, C=2, HW=3. Channel 0 holds 1..6, channel 1 holds 10,10,10,10,10,16. */
    const float x[12] = {1, 2, 3, 10, 10, 10, 4, 5, 6, 10, 10, 16};
    const float gamma[2] = {2.0f, 0.5f}, beta[2] = {1.0f, -1.0f};
    float rm[2] = {0.0f, 1.0f}, rv[2] = {1.0f, 2.0f}, mean[2], rstd[2], y[12];
    struct nsid_bn_dims d = {.N = 2, .C = 2, .HW = 3, .eps = 1e-5, .momentum = 0.9};
    nsid_batchnorm_forward(y, mean, rstd, rm, rv, x, gamma, beta, &d, true);
    /* ch0: mean 3.5, biased var 17.5/6, unbiased 3.5; ch1: mean 11, biased var 5, unbiased 6 */
    CHECK_CLOSE(mean[0], 3.5, 1e-6, 0, "bn batch mean ch0");
    CHECK_CLOSE(mean[1], 11.0, 1e-6, 0, "bn batch mean ch1");
    CHECK_CLOSE(rstd[0], 1.0 / sqrt(17.5 / 6 + 1e-5), 1e-7, 1e-6, "bn rstd uses the biased variance");
    CHECK_CLOSE(rm[0], 0.9 * 3.5, 1e-6, 1e-6, "running_mean = 0.1*0 + 0.9*3.5");
    CHECK_CLOSE(rm[1], 0.1 * 1.0 + 0.9 * 11.0, 1e-6, 1e-6, "running_mean = 0.1*1 + 0.9*11");
    CHECK_CLOSE(rv[0], 0.1 * 1.0 + 0.9 * 3.5, 1e-6, 1e-6, "running_var uses the unbiased variance (3.5)");
    CHECK_CLOSE(rv[1], 0.1 * 2.0 + 0.9 * 6.0, 1e-6, 1e-6, "running_var = 0.1*2 + 0.9*6");
    CHECK_CLOSE(y[0], (1 - 3.5) / sqrt(17.5 / 6 + 1e-5) * 2 + 1, 1e-5, 1e-5, "bn train output [0]");
    CHECK_CLOSE(y[11], (16 - 11) / sqrt(5 + 1e-5) * 0.5 - 1, 1e-5, 1e-5, "bn train output [11]");
    /* a second training batch moves the running stats again */
    nsid_batchnorm_forward(y, mean, rstd, rm, rv, x, gamma, beta, &d, true);
    CHECK_CLOSE(rm[0], 0.1 * 3.15 + 0.9 * 3.5, 1e-6, 1e-6, "second update of running_mean");
    CHECK_CLOSE(rv[0], 0.1 * 3.25 + 0.9 * 3.5, 1e-6, 1e-6, "second update of running_var");
    /* evaluation: running statistics, unchanged afterwards */
    float rm0 = rm[0], rv1 = rv[1];
    nsid_batchnorm_forward(y, mean, rstd, rm, rv, x, gamma, beta, &d, false);
    CHECK(rm[0] == rm0 && rv[1] == rv1, "eval leaves the running statistics alone");
    CHECK_CLOSE(y[1], (2 - 3.465) / sqrt(3.475 + 1e-5) * 2 + 1, 1e-5, 1e-5, "bn eval output uses running stats");
    CHECK_CLOSE(y[3], (10 - (0.1 * 10.0 + 0.9 * 11)) / sqrt(0.1 * 5.6 + 0.9 * 6 + 1e-5) * 0.5 - 1, 1e-5, 1e-5,
                "bn eval output ch1");
    /* eval-mode gradient is gamma * rstd(running) */
    float dy[12], dx[12] = {0};
    for (int i = 0; i < 12; i++) dy[i] = 1.0f;
    nsid_batchnorm_backward(dx, NULL, NULL, dy, x, mean, rstd, gamma, &d, false);
    CHECK_CLOSE(dx[0], 2.0 / sqrt(3.475 + 1e-5), 1e-6, 1e-5, "bn eval dx = gamma/sqrt(running_var+eps)");
    /* training-mode gradient of a constant dout vanishes (mean subtraction) */
    float dxt[12] = {0};
    nsid_batchnorm_forward(y, mean, rstd, rm, rv, x, gamma, beta, &d, true);
    nsid_batchnorm_backward(dxt, NULL, NULL, dy, x, mean, rstd, gamma, &d, true);
    double mx = 0;
    for (int i = 0; i < 12; i++) mx = fmax(mx, fabs((double)dxt[i]));
    CHECK(mx < 1e-5, "bn train dx of a constant dout is 0 (max %g)", mx);
}

/* ------------------------------------------------------- activations */

struct act_case {
    int kind; /* 0 ELU, 1 ELU+1, 2 ReLU, 3 maxpool */
    int N, C, H, W;
    float *x, *proj, *out;
};

static size_t act_out_numel(const struct act_case *c)
{
    return c->kind == 3 ? (size_t)c->N * c->C * (c->H / 2) * (c->W / 2) : (size_t)c->N * c->C * c->H * c->W;
}

static double act_loss(void *ctx)
{
    struct act_case *c = ctx;
    size_t n = (size_t)c->N * c->C * c->H * c->W;
    switch (c->kind) {
    case 0: nsid_act_elu_forward(c->out, c->x, n); break;
    case 1: nsid_act_elu1_forward(c->out, c->x, n); break;
    case 2: nsid_act_relu_forward(c->out, c->x, n); break;
    default: nsid_act_maxpool2_forward(c->out, c->x, c->N, c->C, c->H, c->W);
    }
    return dot(c->out, c->proj, act_out_numel(c));
}

static bool relu_kink(void *ctx, size_t i, double eps)
{
    const struct act_case *c = ctx;
    return fabs((double)c->x[i]) < 2 * eps;
}

/* Skip inputs whose window's top two values are within 2 eps (argmax could switch). */
static bool pool_tie(void *ctx, size_t i, double eps)
{
    const struct act_case *c = ctx;
    int W = c->W, plane = c->H * W, p = (int)(i / (size_t)plane), rem = (int)(i % (size_t)plane);
    int y = rem / W, x = rem % W;
    if (y >= c->H / 2 * 2 || x >= c->W / 2 * 2) return false;
    const float *b = c->x + (size_t)p * plane + (y & ~1) * W + (x & ~1);
    float v[4] = {b[0], b[1], b[W], b[W + 1]};
    for (int a = 0; a < 4; a++)
        for (int k = a + 1; k < 4; k++)
            if (fabs((double)v[a] - (double)v[k]) < 2 * eps) return true;
    return false;
}

static void check_act(int kind, const char *name, struct nsid_rng *r)
{
    struct act_case c = {.kind = kind, .N = 2, .C = 2, .H = 5, .W = 7};
    size_t n = 2 * 2 * 5 * 7, ny = act_out_numel(&c);
    float x[140], proj[140], out[140], dx[140];
    c.x = x; c.proj = proj; c.out = out;
    fill_normal(x, n, r, 1.5, 0.0);
    fill_normal(proj, ny, r, 1.0, 0.0);
    for (size_t i = 0; i < n; i++) dx[i] = 0.5f;
    act_loss(&c);
    switch (kind) {
    case 0: nsid_act_elu_backward(dx, proj, out, n); break;
    case 1: nsid_act_elu1_backward(dx, proj, out, n); break;
    case 2: nsid_act_relu_backward(dx, proj, out, n); break;
    default: nsid_act_maxpool2_backward(dx, proj, x, c.N, c.C, c.H, c.W);
    }
    for (size_t i = 0; i < n; i++) dx[i] -= 0.5f;
    fd_check(name, act_loss, &c, x, dx, n, 1e-3, 1e-3, 1e-3, kind == 2 ? relu_kink : kind == 3 ? pool_tie : NULL);
}

static void test_act_values(void)
{
    const float x[5] = {-2.0f, -0.5f, 0.0f, 0.5f, 3.0f};
    float y[5], z[5], dz[5] = {0}, one[5] = {1, 1, 1, 1, 1};
    nsid_act_elu_forward(y, x, 5);
    nsid_act_elu1_forward(z, x, 5);
    CHECK_CLOSE(y[0], exp(-2.0) - 1, 1e-7, 1e-6, "ELU(-2) = e^-2 - 1");
    CHECK(y[2] == 0.0f && y[4] == 3.0f, "ELU(0) = 0, ELU(3) = 3");
    CHECK_CLOSE(z[1], exp(-0.5), 1e-7, 1e-6, "ELU(-0.5)+1 = e^-0.5");
    CHECK(z[3] == 1.5f, "ELU(0.5)+1 = 1.5");
    nsid_act_elu1_backward(dz, one, z, 5);
    CHECK(dz[2] == 1.0f, "d(ELU+1)/dx at 0 is 1 (PyTorch's)");
    /* in place: forward overwrites its input and backward needs only the output */
    float w[5];
    memcpy(w, x, sizeof w);
    nsid_act_elu_forward(w, w, 5);
    CHECK_ARRAYS(w, y, 5, 0, 0, "ELU in place");
    float p[8] = {1, 5, 2, 2, 3, 3, 0, -1}, q[2], dp[8] = {0}, g[2] = {1, 10};
    /* one 2x4 plane -> 1x2: windows {1,5,3,3} and {2,2,0,-1} (a tie: first wins) */
    nsid_act_maxpool2_forward(q, p, 1, 1, 2, 4);
    CHECK(q[0] == 5 && q[1] == 2, "maxpool values");
    nsid_act_maxpool2_backward(dp, g, p, 1, 1, 2, 4);
    CHECK(dp[1] == 1 && dp[2] == 10 && dp[3] == 0, "maxpool gradient goes to the first maximum");
}

/* -------------------------------------------------------------- losses */

struct loss_case {
    float *rhat, *r, *w;
    size_t n;
    int nk, K;
    double scale;
    int kind; /* 0 Poisson, 1 Laplace */
};

static double loss_value(void *ctx)
{
    struct loss_case *c = ctx;
    return c->kind == 0 ? nsid_loss_poisson_forward(c->rhat, c->r, c->n, c->scale)
                        : c->scale * nsid_loss_laplace_l2norm_forward(c->w, c->nk, c->K, c->K);
}

/* Laplace L2-norm through an explicitly zero-padded copy (independent of loss.c). */
static double laplace_direct(const float *w, int nk, int K)
{
    static const double L[3][3] = {{0, -1, 0}, {-1, 4, -1}, {0, -1, 0}};
    double num = 0, den = 0, pad[9][9];
    for (int k = 0; k < nk; k++) {
        memset(pad, 0, sizeof pad);
        for (int y = 0; y < K; y++)
            for (int x = 0; x < K; x++) pad[y + 1][x + 1] = w[(k * K + y) * K + x];
        for (int y = 0; y < K; y++)
            for (int x = 0; x < K; x++) {
                double s = 0;
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++) s += L[a][b] * pad[y + a][x + b];
                num += s * s;
                den += pad[y + 1][x + 1] * pad[y + 1][x + 1];
            }
    }
    return num / den;
}

static void test_losses(struct nsid_rng *r)
{
    /* Poisson: value by hand and gradient by finite differences */
    float rhat[12], resp[12], drhat[12] = {0};
    for (int i = 0; i < 12; i++) {
        rhat[i] = (float)(0.2 + 2.0 * nsid_rng_uniform(r));
        resp[i] = (float)(i % 3 == 0 ? 0.0 : 3.0 * nsid_rng_uniform(r));
    }
    double scale = sqrt(5993.0 / 4.0);
    double want = 0;
    for (int i = 0; i < 12; i++) want += (double)rhat[i] - (double)resp[i] * log((double)rhat[i] + 1e-12);
    struct loss_case pc = {.rhat = rhat, .r = resp, .n = 12, .scale = scale, .kind = 0};
    CHECK_CLOSE(loss_value(&pc), scale * want, 1e-9, 1e-12, "Poisson loss value");
    const float one = 1.0f, zero = 0.0f;
    CHECK_CLOSE(nsid_loss_poisson_forward(&zero, &one, 1, 1.0), -log(1e-12), 1e-9, 1e-12,
                "Poisson loss at rhat = 0 is -r log(1e-12)");
    nsid_loss_poisson_backward(drhat, rhat, resp, 12, scale);
    fd_check("Poisson loss drhat", loss_value, &pc, rhat, drhat, 12, 1e-4, 1e-3, 1e-4, NULL);

    /* L1 */
    const float w1[5] = {-2.0f, 0.0f, 0.5f, -0.25f, 3.0f};
    float dw1[5] = {1, 1, 1, 1, 1};
    CHECK_CLOSE(nsid_loss_l1_forward(w1, 5, 0.1), 0.1 * 5.75, 1e-12, 1e-12, "L1 value");
    nsid_loss_l1_backward(dw1, w1, 5, 0.1);
    const float want1[5] = {0.9f, 1.0f, 1.1f, 0.9f, 1.1f};
    CHECK_ARRAYS(dw1, want1, 5, 1e-7, 0, "L1 subgradient, 0 at 0");

    /* Laplace: against a direct computation, a constant kernel, and finite differences */
    float w[3 * 25], dw[3 * 25] = {0};
    fill_normal(w, 75, r, 1.0, 0.0);
    CHECK_CLOSE(nsid_loss_laplace_l2norm_forward(w, 3, 5, 5), laplace_direct(w, 3, 5), 1e-12, 1e-12,
                "Laplace L2norm equals the padded direct computation");
    float ones[9];
    for (int i = 0; i < 9; i++) ones[i] = 2.0f;
    /* 3x3 of 2s: L*W is 4 at the corners (8-2-2), 2 on the edges (8-2-2-2), 0 in the centre */
    double num = 4 * 16.0 + 4 * 4.0, den = 9 * 4.0;
    CHECK_CLOSE(nsid_loss_laplace_l2norm_forward(ones, 1, 3, 3), num / den, 1e-12, 1e-12,
                "Laplace of a constant 3x3 kernel is its zero-padding border");
    float zeros[9] = {0}, dz[9] = {0};
    CHECK(nsid_loss_laplace_l2norm_forward(zeros, 1, 3, 3) == 0.0, "Laplace of zero weights is 0");
    nsid_loss_laplace_l2norm_backward(dz, zeros, 1, 3, 3, 1.0);
    CHECK(dz[4] == 0.0f, "no gradient at zero weights");
    struct loss_case lc = {.w = w, .nk = 3, .K = 5, .scale = 2.5, .kind = 1};
    nsid_loss_laplace_l2norm_backward(dw, w, 3, 5, 5, 2.5);
    fd_check("Laplace L2norm dW", loss_value, &lc, w, dw, 75, 1e-3, 1e-4, 1e-3, NULL);
}

/* ---------------------------------------------------------------- Adam */

static void test_adam(void)
{
    struct nsid_adam_config cfg;
    nsid_adam_config_default(&cfg);
    CHECK(cfg.lr == 0.005 && cfg.beta1 == 0.9 && cfg.beta2 == 0.999 && cfg.eps == 1e-8, "paper's Adam defaults");
    float w[4] = {1.0f, -2.0f, 0.5f, 0.0f}, m[4] = {0}, v[4] = {0};
    const float g[3][4] = {{0.5f, -1.0f, 2e-3f, 0.0f}, {0.25f, 1.0f, -1e-3f, 1.0f}, {-0.5f, 0.5f, 4e-3f, 0.0f}};
    double W[4] = {1.0, -2.0, 0.5, 0.0}, M[4] = {0}, V[4] = {0};
    /* step 1: mhat/sqrt(vhat) = g/|g|, so w moves by lr*sign(g) (the eps is negligible) */
    nsid_adam_step(w, m, v, g[0], 4, 1, &cfg);
    CHECK_CLOSE(w[0], 1.0 - 0.005, 1e-7, 0, "Adam step 1 moves by lr against the gradient");
    CHECK_CLOSE(w[1], -2.0 + 0.005, 1e-7, 0, "Adam step 1, negative gradient");
    CHECK(w[3] == 0.0f, "zero gradient, zero moments: no move");
    CHECK_CLOSE(m[0], 0.05, 1e-9, 1e-6, "m = 0.1 g");
    CHECK_CLOSE(v[1], 0.001, 1e-10, 1e-6, "v = 0.001 g^2");
    for (int i = 0; i < 4; i++) {  /* textbook Adam in double for the first step */
        M[i] = 0.1 * (double)g[0][i];
        V[i] = 0.001 * (double)g[0][i] * (double)g[0][i];
        W[i] -= 0.005 / 0.1 * M[i] / (sqrt(V[i]) / sqrt(0.001) + 1e-8);
    }
    for (int t = 2; t <= 3; t++) {
        nsid_adam_step(w, m, v, g[t - 1], 4, t, &cfg);
        double bc1 = 1 - pow(0.9, t), bc2 = 1 - pow(0.999, t);
        for (int i = 0; i < 4; i++) {
            double gi = g[t - 1][i];
            M[i] = 0.9 * M[i] + 0.1 * gi;
            V[i] = 0.999 * V[i] + 0.001 * gi * gi;
            W[i] -= 0.005 / bc1 * M[i] / (sqrt(V[i]) / sqrt(bc2) + 1e-8);
        }
    }
    for (int i = 0; i < 4; i++) {
        CHECK_CLOSE(w[i], W[i], 1e-6, 1e-6, "Adam after 3 steps, param %d", i);
        CHECK_CLOSE(m[i], M[i], 1e-8, 1e-5, "Adam m after 3 steps, param %d", i);
        CHECK_CLOSE(v[i], V[i], 1e-12, 1e-5, "Adam v after 3 steps, param %d", i);
    }
    /* an empty range is a no-op; a range is independent of what lies outside */
    float w2[4] = {1, 2, 3, 4}, m2[4] = {0}, v2[4] = {0};
    nsid_adam_step(w2 + 2, m2 + 2, v2 + 2, g[0] + 2, 2, 1, &cfg);
    CHECK(w2[0] == 1 && w2[1] == 2 && m2[1] == 0, "Adam touches only its range");
}

/*
 * The vector paths (AVX-512, AVX2, where the CPU has them) against the scalar loop, bit
 * for bit: 5 steps over lengths with every tail (n mod 16), magnitudes 1e-30..1e3 (tiny
 * values exercise subnormal moments), zeros and unaligned starts.
 */
static void test_adam_paths(struct nsid_rng *r)
{
    struct nsid_adam_config cfg;
    nsid_adam_config_default(&cfg);
    enum { NMAX = 101 };
    for (int allow = 1; allow <= 2; allow++)
        for (int n = 0; n <= NMAX - 1; n += 1 + n / 8) {
            float w[2][NMAX + 1], m[2][NMAX + 1] = {{0}}, v[2][NMAX + 1] = {{0}}, g[5][NMAX + 1];
            for (int i = 0; i <= NMAX; i++) {
                w[0][i] = w[1][i] = (float)nsid_rng_normal(r);
                for (int t = 0; t < 5; t++) {
                    double mag = pow(10.0, -30.0 + 33.0 * nsid_rng_uniform(r));
                    g[t][i] = i % 7 == 3 ? 0.0f : (float)(mag * nsid_rng_normal(r));
                }
            }
            for (int t = 0; t < 5; t++) {
                nsid__adam_step_path(w[0] + 1, m[0] + 1, v[0] + 1, g[t] + 1, (size_t)n, t + 1, &cfg, 0);
                nsid__adam_step_path(w[1] + 1, m[1] + 1, v[1] + 1, g[t] + 1, (size_t)n, t + 1, &cfg, allow);
            }
            int bad = memcmp(w[0], w[1], sizeof w[0]) || memcmp(m[0], m[1], sizeof m[0]) ||
                  memcmp(v[0], v[1], sizeof v[0]);
            CHECK(!bad, "Adam vector path (allow %d) equals the scalar loop bit for bit, n %d", allow, n);
        }
}

int main(void)
{
    printf("test_layers: seed %u\n", SEED);
    struct nsid_rng r;
    nsid_rng_init(&r, SEED, 0);
    test_conv(&r);
    test_adam_paths(&r);
    check_bn_grad(true, &r);
    check_bn_grad(false, &r);
    test_bn_values();
    check_act(0, "ELU dinp", &r);
    check_act(1, "ELU+1 dinp", &r);
    check_act(2, "ReLU dinp", &r);
    check_act(3, "maxpool 2x2 dinp (odd sizes)", &r);
    test_act_values();
    test_losses(&r);
    test_adam();
    return check_summary("layers");
}
