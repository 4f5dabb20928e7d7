/* core.c - the SE2d core: init, parameters, state, forward, backward, regulariser (see core.h). */
#include "core.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/act.h"
#include "nn/loss.h"

/* ------------------------------------------------------------ config */

void nsid_core_config_default(struct nsid_core_config *cfg)
{
    cfg->input_channels = 1;
    cfg->layers = 4;
    cfg->hidden_channels = 64;
    cfg->input_kern = 15;
    cfg->hidden_kern = 13;
    cfg->pad_input = false;
    cfg->depth_separable = true;
    cfg->bn_momentum = 0.9;
    cfg->bn_eps = 1e-5;
    cfg->gamma_input = 1.0;
}

static int check_int(int v, int lo, int hi, const char *key, struct nsid_err *err)
{
    if (v < lo || v > hi)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, key, "%d not in [%d, %d]", v, lo, hi);
    return 0;
}

static int check_config(const struct nsid_core_config *cfg, int in_h, int in_w, struct nsid_err *err)
{
    int rc;
    if ((rc = check_int(cfg->input_channels, 1, 1 << 16, "core.input_channels", err)) < 0) return rc;
    if ((rc = check_int(cfg->layers, 1, NSID_CORE_MAX_LAYERS, "core.layers", err)) < 0) return rc;
    if ((rc = check_int(cfg->hidden_channels, 1, 1 << 16, "core.hidden_channels", err)) < 0) return rc;
    if ((rc = check_int(cfg->input_kern, 1, 1024, "core.input_kern", err)) < 0) return rc;
    if ((rc = check_int(cfg->hidden_kern, 1, 1024, "core.hidden_kern", err)) < 0) return rc;
    if ((rc = check_int(in_h, 1, 1 << 16, "core.input_height", err)) < 0) return rc;
    if ((rc = check_int(in_w, 1, 1 << 16, "core.input_width", err)) < 0) return rc;
    if (!(cfg->bn_momentum >= 0.0 && cfg->bn_momentum <= 1.0))
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "core.bn_momentum", "%g not in [0, 1]", cfg->bn_momentum);
    if (!(cfg->bn_eps > 0.0 && cfg->bn_eps < 1.0))
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "core.bn_eps", "%g not in (0, 1)", cfg->bn_eps);
    if (!(cfg->gamma_input >= 0.0 && isfinite(cfg->gamma_input)))
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "core.gamma_input", "%g must be finite and >= 0",
                            cfg->gamma_input);
    return 0;
}

/* ------------------------------------------------------------- init */

/* "<prefix>.<suffix>" (or just suffix for an empty prefix) into buf. */
static int tensor_name(char *buf, size_t n, const char *prefix, const char *suffix, struct nsid_err *err)
{
    int len = prefix && *prefix ? snprintf(buf, n, "%s.%s", prefix, suffix) : snprintf(buf, n, "%s", suffix);
    if (len < 0 || (size_t)len >= n)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, suffix, "tensor name with prefix '%s' longer than %zu",
                            prefix, n - 1);
    return 0;
}

/* Register "<prefix>.<local>" (local formatted with layer index k). */
static int reg(struct nsid_params *ps, const char *prefix, const char *local_fmt, int k, int kind,
               int ndim, const int *shape, float **view, float **gview, struct nsid_err *err)
{
    char local[NSID_PARAM_NAME_MAX], name[NSID_PARAM_NAME_MAX];
    snprintf(local, sizeof local, local_fmt, k);
    int rc = tensor_name(name, sizeof name, prefix, local, err);
    if (rc < 0) return rc;
    return nsid_params_add(ps, name, kind, ndim, shape, view, gview, err);
}

/* Shapes of layer k, whose input is (C_in, H_in, W_in) (sizes only; registration is separate). */
static int layer_shapes(struct nsid_core *c, struct nsid_core_layer *l, int k, int C_in, int H_in, int W_in,
                        struct nsid_err *err)
{
    const struct nsid_core_config *cfg = &c->cfg;
    l->C_in = C_in;
    l->H_in = H_in;
    l->W_in = W_in;
    l->ds = k > 0 && cfg->depth_separable;
    int K = k ? cfg->hidden_kern : cfg->input_kern;
    /* neuralpredictors: input padding input_kern // 2; hidden ((K-1)*dilation+1) // 2 = K // 2 */
    int pad = k ? K / 2 : (cfg->pad_input ? K / 2 : 0);
    l->conv = (struct nsid_conv_dims){.N = 1, .C = l->ds ? cfg->hidden_channels : l->C_in,
                                      .H = l->H_in, .W = l->W_in, .O = cfg->hidden_channels,
                                      .K = K, .pad = pad};
    char key[64];
    snprintf(key, sizeof key, "core.features.layer%d", k);
    int rc = nsid_conv_dims_check(&l->conv, l->ds, key, err);
    if (rc < 0) return rc;
    l->conv.N = 0;
    l->H = nsid_conv_out_h(&l->conv);
    l->W = nsid_conv_out_w(&l->conv);
    return 0;
}

static int register_layer(struct nsid_core *c, int k, struct nsid_params *ps, const char *prefix,
                          struct nsid_err *err)
{
    struct nsid_core_layer *l = &c->layer[k];
    int C = c->cfg.hidden_channels, K = l->conv.K, rc;
    if (l->ds) {
        if ((rc = reg(ps, prefix, "features.layer%d.ds_conv.in_depth_conv.weight", k, NSID_PARAM_WEIGHT,
                      4, (int[]){C, l->C_in, 1, 1}, &l->w_in, &l->dw_in, err)) < 0) return rc;
        if ((rc = reg(ps, prefix, "features.layer%d.ds_conv.spatial_conv.weight", k, NSID_PARAM_WEIGHT,
                      4, (int[]){C, 1, K, K}, &l->w_sp, &l->dw_sp, err)) < 0) return rc;
        if ((rc = reg(ps, prefix, "features.layer%d.ds_conv.out_depth_conv.weight", k, NSID_PARAM_WEIGHT,
                      4, (int[]){C, C, 1, 1}, &l->w_out, &l->dw_out, err)) < 0) return rc;
    } else {
        if ((rc = reg(ps, prefix, "features.layer%d.conv.weight", k, NSID_PARAM_WEIGHT,
                      4, (int[]){C, l->C_in, K, K}, &l->w, &l->dw, err)) < 0) return rc;
    }
    if ((rc = reg(ps, prefix, "features.layer%d.norm.weight", k, NSID_PARAM_WEIGHT, 1, &C,
                  &l->gamma, &l->dgamma, err)) < 0) return rc;
    if ((rc = reg(ps, prefix, "features.layer%d.norm.bias", k, NSID_PARAM_WEIGHT, 1, &C,
                  &l->beta, &l->dbeta, err)) < 0) return rc;
    if ((rc = reg(ps, prefix, "features.layer%d.norm.running_mean", k, NSID_PARAM_BUFFER, 1, &C,
                  &l->running_mean, NULL, err)) < 0) return rc;
    return reg(ps, prefix, "features.layer%d.norm.running_var", k, NSID_PARAM_BUFFER, 1, &C,
               &l->running_var, NULL, err);
}

int nsid_core_init(struct nsid_core *c, const struct nsid_core_config *cfg, int in_h, int in_w,
                   struct nsid_params *ps, const char *prefix, struct nsid_err *err)
{
    memset(c, 0, sizeof *c);
    int rc = check_config(cfg, in_h, in_w, err);
    if (rc < 0) return rc;
    c->cfg = *cfg;
    c->in_c = cfg->input_channels;
    c->in_h = in_h;
    c->in_w = in_w;
    int C_in = cfg->input_channels, H_in = in_h, W_in = in_w;
    for (int k = 0; k < cfg->layers; k++) {
        struct nsid_core_layer *l = &c->layer[k];
        if ((rc = layer_shapes(c, l, k, C_in, H_in, W_in, err)) < 0) goto fail;
        if (!l->ds) {
            size_t ws = nsid_conv2d_workspace_floats(&l->conv);
            if (ws > c->ws_floats) c->ws_floats = ws;
        }
        C_in = cfg->hidden_channels;
        H_in = l->H;
        W_in = l->W;
    }
    const struct nsid_core_layer *last = &c->layer[cfg->layers - 1];
    c->out_c = cfg->hidden_channels;
    c->out_h = last->H;
    c->out_w = last->W;
    /* SE2dCore's state_dict lists the regulariser's filter first (a buffer) */
    char name[NSID_PARAM_NAME_MAX];
    if ((rc = tensor_name(name, sizeof name, prefix, "_input_weights_regularizer.laplace.filter", err)) < 0 ||
        (rc = nsid_params_add(ps, name, NSID_PARAM_BUFFER, 4, (int[]){1, 1, 3, 3}, &c->laplace_filter,
                              NULL, err)) < 0) goto fail;
    for (int k = 0; k < cfg->layers; k++)
        if ((rc = register_layer(c, k, ps, prefix, err)) < 0) goto fail;
    return 0;
fail:
    memset(c, 0, sizeof *c);
    return rc;
}

/* ------------------------------------------------------- parameters */

/* Xavier-normal (gain 1) for a conv weight (O, I, K, K), PyTorch's fan rules. */
static void xavier_normal(float *w, int O, int I, int K, struct nsid_rng *rng)
{
    double rf = (double)K * K, fan_in = I * rf, fan_out = O * rf;
    double std = sqrt(2.0 / (fan_in + fan_out));
    size_t n = (size_t)O * I * K * K;
    for (size_t i = 0; i < n; i++) w[i] = (float)(std * nsid_rng_normal(rng));
}

void nsid_core_reset_parameters(struct nsid_core *c, struct nsid_rng *rng)
{
    static const float laplace[9] = {0, -1, 0, -1, 4, -1, 0, -1, 0};
    int C = c->cfg.hidden_channels;
    memcpy(c->laplace_filter, laplace, sizeof laplace);
    for (int k = 0; k < c->cfg.layers; k++) {
        struct nsid_core_layer *l = &c->layer[k];
        if (l->ds) {
            xavier_normal(l->w_in, C, l->C_in, 1, rng);
            xavier_normal(l->w_sp, C, 1, l->conv.K, rng);
            xavier_normal(l->w_out, C, C, 1, rng);
        } else {
            xavier_normal(l->w, C, l->C_in, l->conv.K, rng);
        }
        for (int i = 0; i < C; i++) {
            l->gamma[i] = 1.0f;
            l->beta[i] = 0.0f;
            l->running_mean[i] = 0.0f;
            l->running_var[i] = 1.0f;
        }
        l->num_batches_tracked = 0;
    }
}

size_t nsid_core_num_weights(const struct nsid_core *c)
{
    size_t n = 0, C = (size_t)c->cfg.hidden_channels;
    for (int k = 0; k < c->cfg.layers; k++) {
        const struct nsid_core_layer *l = &c->layer[k];
        size_t KK = (size_t)l->conv.K * l->conv.K;
        n += l->ds ? C * l->C_in + C * KK + C * C : C * l->C_in * KK;
        n += 2 * C;
    }
    return n;
}

/* ------------------------------------------------------------ state */

static float *take(struct nsid_arena *a, size_t n, struct nsid_err *err)
{
    return nsid_arena_floats(a, n ? n : 1, err);
}

int nsid_core_bind_state(struct nsid_core *c, struct nsid_arena *a, int B, struct nsid_err *err)
{
    if (B < 1)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "batch_size", "%d must be positive", B);
    size_t C = (size_t)c->cfg.hidden_channels, maxg = 0;
    c->x = take(a, (size_t)B * c->in_c * c->in_h * c->in_w, err);
    if (!c->x) return NSID_ENOMEM;
    for (int k = 0; k < c->cfg.layers; k++) {
        struct nsid_core_layer *l = &c->layer[k];
        size_t in_sz = C * l->H_in * l->W_in, out_sz = C * l->H * l->W;
        if (l->ds) {
            if (!(l->a_in = take(a, (size_t)B * in_sz, err))) return NSID_ENOMEM;
            if (!(l->a_sp = take(a, (size_t)B * out_sz, err))) return NSID_ENOMEM;
            if (in_sz > maxg) maxg = in_sz;
        }
        if (!(l->pre = take(a, (size_t)B * out_sz, err))) return NSID_ENOMEM;
        if (!(l->act = take(a, (size_t)B * out_sz, err))) return NSID_ENOMEM;
        if (!(l->bn_mean = take(a, C, err)) || !(l->bn_rstd = take(a, C, err))) return NSID_ENOMEM;
        if (out_sz > maxg) maxg = out_sz;
    }
    for (int i = 0; i < 3; i++)
        if (!(c->g[i] = take(a, (size_t)B * maxg, err))) return NSID_ENOMEM;
    c->ws = NULL;
    if (c->ws_floats && !(c->ws = take(a, c->ws_floats, err))) return NSID_ENOMEM;
    c->out = c->layer[c->cfg.layers - 1].act;
    c->B = B;
    return 0;
}

/* ---------------------------------------------------------- forward */

static struct nsid_bn_dims bn_dims(const struct nsid_core *c, const struct nsid_core_layer *l, int N)
{
    return (struct nsid_bn_dims){.N = N, .C = c->cfg.hidden_channels, .HW = l->H * l->W,
                                 .eps = c->cfg.bn_eps, .momentum = c->cfg.bn_momentum};
}

/* The 1x1 convs of a depth-separable block at H x W. */
static struct nsid_conv_dims pw_dims(int N, int C_in, int C, int H, int W)
{
    return (struct nsid_conv_dims){.N = N, .C = C_in, .H = H, .W = W, .O = C, .K = 1, .pad = 0};
}

static void layer_forward(struct nsid_core *c, struct nsid_core_layer *l, const float *inp, int N,
                          bool training)
{
    int C = c->cfg.hidden_channels;
    struct nsid_conv_dims d = l->conv;
    d.N = N;
    if (l->ds) {
        struct nsid_conv_dims d_in = pw_dims(N, l->C_in, C, l->H_in, l->W_in);
        struct nsid_conv_dims d_out = pw_dims(N, C, C, l->H, l->W);
        nsid_conv1x1_forward(l->a_in, inp, l->w_in, &d_in);
        nsid_dwconv2d_forward(l->a_sp, l->a_in, l->w_sp, &d);
        nsid_conv1x1_forward(l->pre, l->a_sp, l->w_out, &d_out);
    } else {
        nsid_conv2d_forward(l->pre, c->ws, inp, l->w, NULL, &d);
    }
    struct nsid_bn_dims bd = bn_dims(c, l, N);
    nsid_batchnorm_forward(l->act, l->bn_mean, l->bn_rstd, l->running_mean, l->running_var, l->pre,
                           l->gamma, l->beta, &bd, training);
    if (training) l->num_batches_tracked++;
    nsid_elu_forward(l->act, l->act, (size_t)N * C * l->H * l->W);
}

void nsid_core_forward(struct nsid_core *c, const float *x, int N, bool training)
{
    NSID_ASSERT(c->B > 0 && N >= 1 && N <= c->B);
    memcpy(c->x, x, sizeof(float) * (size_t)N * c->in_c * c->in_h * c->in_w);
    const float *inp = c->x;
    for (int k = 0; k < c->cfg.layers; k++) {
        layer_forward(c, &c->layer[k], inp, N, training);
        inp = c->layer[k].act;
    }
    c->last_training = training;
}

/* --------------------------------------------------------- backward */

/*
 * Layer backward, the steps of layer_forward in reverse. dout: gradient of the
 * layer output, read only by the first (ELU) step, so dinp may be the same buffer
 * when zero_dinp is set: it is cleared right after that step, then accumulated.
 * dinp NULL: input gradient not needed. t0, t1: scratch of the largest layer size.
 */
static void layer_backward(struct nsid_core *c, struct nsid_core_layer *l, float *dinp, bool zero_dinp,
                           const float *dout, const float *inp, int N, float *t0, float *t1)
{
    int C = c->cfg.hidden_channels;
    size_t out_n = (size_t)N * C * l->H * l->W, in_n = (size_t)N * l->C_in * l->H_in * l->W_in;
    /* act = ELU(bn_out), computed in place: the derivative comes from act */
    memset(t0, 0, sizeof(float) * out_n);
    nsid_elu_backward(t0, dout, l->act, out_n);
    if (dinp && zero_dinp) memset(dinp, 0, sizeof(float) * in_n);
    /* bn_out = BN(pre), in the mode of the forward */
    struct nsid_bn_dims bd = bn_dims(c, l, N);
    memset(t1, 0, sizeof(float) * out_n);
    nsid_batchnorm_backward(t1, l->dgamma, l->dbeta, t0, l->pre, l->bn_mean, l->bn_rstd, l->gamma, &bd,
                            c->last_training);
    struct nsid_conv_dims d = l->conv;
    d.N = N;
    if (!l->ds) {  /* pre = conv(inp) */
        nsid_conv2d_backward(dinp, l->dw, NULL, c->ws, t1, inp, l->w, &d);
        return;
    }
    struct nsid_conv_dims d_in = pw_dims(N, l->C_in, C, l->H_in, l->W_in);
    struct nsid_conv_dims d_out = pw_dims(N, C, C, l->H, l->W);
    /* pre = out_depth_conv(a_sp) */
    memset(t0, 0, sizeof(float) * out_n);
    nsid_conv1x1_backward(t0, l->dw_out, t1, l->a_sp, l->w_out, &d_out);
    /* a_sp = spatial_conv(a_in) */
    memset(t1, 0, sizeof(float) * (size_t)N * C * l->H_in * l->W_in);
    nsid_dwconv2d_backward(t1, l->dw_sp, t0, l->a_in, l->w_sp, &d);
    /* a_in = in_depth_conv(inp) */
    nsid_conv1x1_backward(dinp, l->dw_in, t1, inp, l->w_in, &d_in);
}

void nsid_core_backward(struct nsid_core *c, float *dx, const float *dout, int N)
{
    NSID_ASSERT(c->B > 0 && N >= 1 && N <= c->B);
    /* g[2] carries the gradient from layer to layer; g[0], g[1] are scratch within a layer */
    const float *g_out = dout;
    for (int k = c->cfg.layers - 1; k >= 0; k--) {
        struct nsid_core_layer *l = &c->layer[k];
        const float *inp = k ? c->layer[k - 1].act : c->x;
        float *g_in = k ? c->g[2] : dx;
        layer_backward(c, l, g_in, k > 0, g_out, inp, N, c->g[0], c->g[1]);
        g_out = g_in;
    }
}

/* ------------------------------------------------------ regulariser */

double nsid_core_regularizer(const struct nsid_core *c)
{
    const struct nsid_core_layer *l = &c->layer[0];
    int K = l->conv.K;
    return c->cfg.gamma_input * nsid_laplace_l2norm_forward(l->w, c->cfg.hidden_channels * l->C_in, K, K);
}

void nsid_core_regularizer_backward(struct nsid_core *c, double scale)
{
    struct nsid_core_layer *l = &c->layer[0];
    int K = l->conv.K;
    nsid_laplace_l2norm_backward(l->dw, l->w, c->cfg.hidden_channels * l->C_in, K, K,
                                 scale * c->cfg.gamma_input);
}

void nsid_core_free(struct nsid_core *c)
{
    if (!c) return;
    memset(c, 0, sizeof *c);
}
