/*
 * test_layers_ref.c - the plain layers against PyTorch (tests/fixtures/layers_ref.h5,
 * written by tests/gen_layer_fixtures.py with torch 1.13): outputs and gradients of
 * conv (valid + bias, same), pointwise, depthwise (same, valid), BatchNorm2d train
 * (incl. running statistics, momentum 0.9) and eval, ELU, ELU+1, ReLU, max-pool,
 * Laplace L2-norm, Poisson loss, L1, and 3 Adam steps. Tolerance abs 1e-5 + rel 1e-4.
 */
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "check.h"
#include "nn/act.h"
#include "nn/adam.h"
#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/loss.h"

#define ATOL 1e-5
#define RTOL 1e-4

/* Read float dataset `path`; *n = its element count (0 and NULL if missing). */
static float *load(hid_t f, const char *path, size_t *n)
{
    int rank = 0;
    hsize_t dims[8];
    *n = 0;
    if (H5Lexists(f, path, H5P_DEFAULT) <= 0) return NULL;  /* also when a parent group is missing */
    if (H5LTget_dataset_ndims(f, path, &rank) < 0 || rank > 8) return NULL;
    if (H5LTget_dataset_info(f, path, dims, NULL, NULL) < 0) return NULL;
    size_t cnt = 1;
    for (int i = 0; i < rank; i++) cnt *= (size_t)dims[i];
    float *buf = malloc(cnt * sizeof(float));
    if (!buf || H5LTread_dataset_float(f, path, buf) < 0) {
        free(buf);
        return NULL;
    }
    *n = cnt;
    return buf;
}

/* Load `path` expecting `want` elements; a failed CHECK names it otherwise. */
static float *need(hid_t f, const char *path, size_t want)
{
    size_t n;
    float *p = load(f, path, &n);
    CHECK(p && n == want, "fixture %s: %zu elements, expected %zu", path, n, want);
    if (p && n == want) return p;
    free(p);
    return calloc(want ? want : 1, sizeof(float));
}

static double attr_double(hid_t f, const char *obj, const char *name)
{
    double v = 0.0;
    CHECK(H5LTget_attribute_double(f, obj, name, &v) >= 0, "fixture attribute %s/%s", obj, name);
    return v;
}

/* Worst |got - want| / (ATOL + RTOL |want|) over all comparisons, printed at the end. */
struct worst {
    double ratio;
    char what[160];
};

static void compare_w(struct worst *wst, const float *got, const float *want, size_t n, const char *what)
{
    CHECK_ARRAYS(got, want, n, ATOL, RTOL, what);
    for (size_t i = 0; i < n; i++) {
        double r = fabs((double)got[i] - (double)want[i]) / (ATOL + RTOL * fabs((double)want[i]));
        if (r > wst->ratio) {
            wst->ratio = r;
            snprintf(wst->what, sizeof wst->what, "%s", what);
        }
    }
}

static struct worst worst_all;
#define compare(got, want, n, what) compare_w(&worst_all, (got), (want), (n), (what))

/* ---------------------------------------------------------------- convs */

enum kind { FULL, PW, DW };

static void conv_case(hid_t f, const char *g, enum kind kind, struct nsid_conv_dims d, bool bias)
{
    char p[128], what[160];
    size_t nx = (size_t)d.N * d.C * d.H * d.W;
    size_t nw = kind == DW ? (size_t)d.C * d.K * d.K : (size_t)d.O * d.C * d.K * d.K;
    size_t ny = (size_t)d.N * d.O * nsid_conv_out_h(&d) * nsid_conv_out_w(&d);
#define LOAD(var, name, cnt) snprintf(p, sizeof p, "/%s/%s", g, name); float *var = need(f, p, cnt)
    LOAD(x, "x", nx);
    LOAD(w, "w", nw);
    LOAD(gy, "gy", ny);
    LOAD(y_ref, "y", ny);
    LOAD(gx_ref, "gx", nx);
    LOAD(gw_ref, "gw", nw);
    float *b = NULL, *gb_ref = NULL;
    if (bias) {
        LOAD(bb, "b", (size_t)d.O);
        LOAD(gbb, "gb", (size_t)d.O);
        b = bb;
        gb_ref = gbb;
    }
#undef LOAD
    float *y = calloc(ny, sizeof(float)), *gx = calloc(nx, sizeof(float)), *gw = calloc(nw, sizeof(float));
    float *gb = calloc((size_t)d.O, sizeof(float));
    size_t nws = nsid_conv2d_workspace_floats(&d);
    float *ws = calloc(nws ? nws : 1, sizeof(float));
    if (kind == FULL) {
        nsid_conv2d_forward(y, ws, x, w, b, &d);
        nsid_conv2d_backward(gx, gw, b ? gb : NULL, ws, gy, x, w, &d);
    } else if (kind == PW) {
        nsid_conv1x1_forward(y, x, w, &d);
        nsid_conv1x1_backward(gx, gw, gy, x, w, &d);
    } else {
        nsid_dwconv2d_forward(y, x, w, &d);
        nsid_dwconv2d_backward(gx, gw, gy, x, w, &d);
    }
    snprintf(what, sizeof what, "%s output", g);
    compare(y, y_ref, ny, what);
    snprintf(what, sizeof what, "%s dinp", g);
    compare(gx, gx_ref, nx, what);
    snprintf(what, sizeof what, "%s dweight", g);
    compare(gw, gw_ref, nw, what);
    if (bias) {
        snprintf(what, sizeof what, "%s dbias", g);
        compare(gb, gb_ref, (size_t)d.O, what);
    }
    free(x); free(w); free(gy); free(y_ref); free(gx_ref); free(gw_ref); free(b); free(gb_ref);
    free(y); free(gx); free(gw); free(gb); free(ws);
}

/* ------------------------------------------------------------ batchnorm */

static void bn_case(hid_t f)
{
    struct nsid_bn_dims d = {.N = 3, .C = 4, .HW = 30};
    d.momentum = attr_double(f, "/bn", "momentum");
    d.eps = attr_double(f, "/bn", "eps");
    CHECK(d.momentum == 0.9, "fixture BN momentum is the paper's 0.9");
    size_t n = 3 * 4 * 30;
    float *x = need(f, "/bn/x", n), *gy = need(f, "/bn/gy", n);
    float *gamma = need(f, "/bn/gamma", 4), *beta = need(f, "/bn/beta", 4);
    float *rm = need(f, "/bn/running_mean0", 4), *rv = need(f, "/bn/running_var0", 4);
    float *y_ref = need(f, "/bn/y", n), *gx_ref = need(f, "/bn/gx", n);
    float *gg_ref = need(f, "/bn/ggamma", 4), *gb_ref = need(f, "/bn/gbeta", 4);
    float *rm1 = need(f, "/bn/running_mean1", 4), *rv1 = need(f, "/bn/running_var1", 4);
    float *ye_ref = need(f, "/bn/y_eval", n), *gxe_ref = need(f, "/bn/gx_eval", n);
    float *gge_ref = need(f, "/bn/ggamma_eval", 4), *gbe_ref = need(f, "/bn/gbeta_eval", 4);
    float *y = calloc(n, sizeof(float)), *gx = calloc(n, sizeof(float)), mean[4], rstd[4];
    float gg[4] = {0}, gb[4] = {0};

    nsid_batchnorm_forward(y, mean, rstd, rm, rv, x, gamma, beta, &d, true);
    nsid_batchnorm_backward(gx, gg, gb, gy, x, mean, rstd, gamma, &d, true);
    compare(y, y_ref, n, "bn train output");
    compare(gx, gx_ref, n, "bn train dinp");
    compare(gg, gg_ref, 4, "bn train dgamma");
    compare(gb, gb_ref, 4, "bn train dbeta");
    compare(rm, rm1, 4, "bn running_mean after one training batch");
    compare(rv, rv1, 4, "bn running_var after one training batch (unbiased)");

    memset(gx, 0, n * sizeof(float));
    memset(gg, 0, sizeof gg);
    memset(gb, 0, sizeof gb);
    nsid_batchnorm_forward(y, mean, rstd, rm, rv, x, gamma, beta, &d, false);
    nsid_batchnorm_backward(gx, gg, gb, gy, x, mean, rstd, gamma, &d, false);
    compare(y, ye_ref, n, "bn eval output");
    compare(gx, gxe_ref, n, "bn eval dinp");
    compare(gg, gge_ref, 4, "bn eval dgamma");
    compare(gb, gbe_ref, 4, "bn eval dbeta");
    free(x); free(gy); free(gamma); free(beta); free(rm); free(rv); free(y_ref); free(gx_ref);
    free(gg_ref); free(gb_ref); free(rm1); free(rv1); free(ye_ref); free(gxe_ref); free(gge_ref);
    free(gbe_ref); free(y); free(gx);
}

/* ---------------------------------------------------------- activations */

static void act_case(hid_t f, const char *g, int kind)
{
    char p[128], what[128];
    int N = 2, C = kind == 3 ? 2 : 3, H = 5, W = 7;
    size_t n = (size_t)N * C * H * W, ny = kind == 3 ? (size_t)N * C * (H / 2) * (W / 2) : n;
    snprintf(p, sizeof p, "/%s/x", g);
    float *x = need(f, p, n);
    snprintf(p, sizeof p, "/%s/gy", g);
    float *gy = need(f, p, ny);
    snprintf(p, sizeof p, "/%s/y", g);
    float *y_ref = need(f, p, ny);
    snprintf(p, sizeof p, "/%s/gx", g);
    float *gx_ref = need(f, p, n);
    float *y = calloc(n, sizeof(float)), *gx = calloc(n, sizeof(float));
    switch (kind) {
    case 0: nsid_act_elu_forward(y, x, n); nsid_act_elu_backward(gx, gy, y, n); break;
    case 1: nsid_act_elu1_forward(y, x, n); nsid_act_elu1_backward(gx, gy, y, n); break;
    case 2: nsid_act_relu_forward(y, x, n); nsid_act_relu_backward(gx, gy, y, n); break;
    default:
        nsid_act_maxpool2_forward(y, x, N, C, H, W);
        nsid_act_maxpool2_backward(gx, gy, x, N, C, H, W);
    }
    snprintf(what, sizeof what, "%s output", g);
    compare(y, y_ref, ny, what);
    snprintf(what, sizeof what, "%s dinp", g);
    compare(gx, gx_ref, n, what);
    free(x); free(gy); free(y_ref); free(gx_ref); free(y); free(gx);
}

/* --------------------------------------------------------------- losses */

static void loss_cases(hid_t f)
{
    float *w = need(f, "/laplace/w", 200), *gref = need(f, "/laplace/grad", 200);
    float *val = need(f, "/laplace/value", 1), g[200] = {0};
    CHECK_CLOSE(nsid_loss_laplace_l2norm_forward(w, 8, 5, 5), val[0], ATOL, RTOL, "Laplace L2norm value");
    nsid_loss_laplace_l2norm_backward(g, w, 8, 5, 5, 1.0);
    compare(g, gref, 200, "Laplace L2norm gradient");
    free(w); free(gref); free(val);

    float *rhat = need(f, "/poisson/rhat", 24), *r = need(f, "/poisson/r", 24);
    float *pv = need(f, "/poisson/value", 1), *pg = need(f, "/poisson/grad", 24), dr[24] = {0};
    double scale = attr_double(f, "/poisson", "scale");
    CHECK_CLOSE(nsid_loss_poisson_forward(rhat, r, 24, scale), pv[0], ATOL, RTOL, "Poisson loss value");
    nsid_loss_poisson_backward(dr, rhat, r, 24, scale);
    compare(dr, pg, 24, "Poisson loss gradient");
    free(rhat); free(r); free(pv); free(pg);

    float *l1w = need(f, "/l1/w", 21), *l1v = need(f, "/l1/value", 1), *l1g = need(f, "/l1/grad", 21);
    float dl[21] = {0};
    double gamma = attr_double(f, "/l1", "gamma");
    CHECK_CLOSE(nsid_loss_l1_forward(l1w, 21, gamma), l1v[0], ATOL, RTOL, "L1 value");
    nsid_loss_l1_backward(dl, l1w, 21, gamma);
    compare(dl, l1g, 21, "L1 subgradient (0 at 0)");
    free(l1w); free(l1v); free(l1g);
}

/* ----------------------------------------------------------------- Adam */

static void adam_case(hid_t f)
{
    enum { N = 37, T = 3 };
    float *p = need(f, "/adam/p0", N), *g = need(f, "/adam/g", T * N), *pref = need(f, "/adam/p", T * N);
    float *mref = need(f, "/adam/m", T * N), *vref = need(f, "/adam/v", T * N);
    float m[N] = {0}, v[N] = {0};
    struct nsid_adam_config cfg;
    nsid_adam_config_default(&cfg);
    cfg.lr = attr_double(f, "/adam", "lr");
    for (int t = 0; t < T; t++) {
        nsid_adam_step(p, m, v, g + t * N, N, t + 1, &cfg);
        char what[64];
        snprintf(what, sizeof what, "Adam params after step %d", t + 1);
        compare(p, pref + t * N, N, what);
        snprintf(what, sizeof what, "Adam exp_avg after step %d", t + 1);
        compare(m, mref + t * N, N, what);
        snprintf(what, sizeof what, "Adam exp_avg_sq after step %d", t + 1);
        compare(v, vref + t * N, N, what);
        int same = 0;
        for (int i = 0; i < N; i++) same += p[i] == pref[t * N + i] && m[i] == mref[t * N + i] && v[i] == vref[t * N + i];
        printf("Adam step %d: %d of %d parameters bit-identical to torch (p, m and v)\n", t + 1, same, N);
    }
    free(p); free(g); free(pref); free(mref); free(vref);
}

int main(void)
{
    const char *path = check_fixture("layers_ref.h5");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0, "open fixture %s", path);
    if (f < 0) return check_summary("layers_ref");
    conv_case(f, "conv_valid", FULL, (struct nsid_conv_dims){.N = 2, .C = 3, .H = 7, .W = 8, .O = 4, .K = 3, .pad = 0}, true);
    conv_case(f, "conv_same", FULL, (struct nsid_conv_dims){.N = 2, .C = 2, .H = 6, .W = 9, .O = 3, .K = 5, .pad = 2}, false);
    conv_case(f, "pointwise", PW, (struct nsid_conv_dims){.N = 2, .C = 3, .H = 4, .W = 5, .O = 4, .K = 1, .pad = 0}, false);
    conv_case(f, "depthwise_same", DW, (struct nsid_conv_dims){.N = 2, .C = 3, .H = 6, .W = 11, .O = 3, .K = 3, .pad = 1}, false);
    conv_case(f, "depthwise_valid", DW, (struct nsid_conv_dims){.N = 2, .C = 2, .H = 7, .W = 9, .O = 2, .K = 5, .pad = 0}, false);
    bn_case(f);
    act_case(f, "elu", 0);
    act_case(f, "elu1", 1);
    act_case(f, "relu", 2);
    act_case(f, "maxpool", 3);
    loss_cases(f);
    adam_case(f);
    H5Fclose(f);
    printf("largest deviation from PyTorch: %.3g of the tolerance (%s)\n", worst_all.ratio, worst_all.what);
    return check_summary("layers_ref");
}
