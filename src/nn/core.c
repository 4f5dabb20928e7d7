/* core.c - the SE2d core: init, parameters, state, forward, backward, regulariser (see core.h). */
#include "core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    return nsid_alloc_arena_floats(a, n ? n : 1, err);
}

void nsid_core_set_pool(struct nsid_core *c, struct nsid_pool *pool)
{
    c->pool = pool;
}

int nsid_core_set_kernels(struct nsid_core *c, const char *name, struct nsid_err *err)
{
    const struct nsid_kern *k = nsid_kern_select(name, err);
    if (!k) return err->code;
    c->kern = k;
    return 0;
}

int nsid_core_set_output_layout(struct nsid_core *c, int vb, struct nsid_err *err)
{
    if (vb == 1) {
        c->out_vb = 1;
        return 0;
    }
    if (!c->kern && nsid_core_set_kernels(c, NULL, err) < 0) return err->code;
    if (vb != c->kern->vb)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "core.layout",
                            "block width %d, expected 1 or the kernel set's %d (%s)", vb, c->kern->vb,
                            c->kern->name);
    c->out_vb = vb;
    return 0;
}

size_t nsid_core_out_floats(const struct nsid_core *c)
{
    size_t P = (size_t)c->out_h * c->out_w;
    if (c->out_vb > 1) return (size_t)(c->out_c + c->out_vb - 1) / c->out_vb * c->out_vb * P;
    return (size_t)c->out_c * P;
}

/* n rounded up to a multiple of m. */
static size_t round_up(size_t n, size_t m)
{
    return (n + m - 1) / m * m;
}

/* Kernel-layout sizes of layer l for vector width vb (no memory). */
static void layer_layout(struct nsid_core *c, struct nsid_core_layer *l, int vb)
{
    int C = c->cfg.hidden_channels, K = l->conv.K, pad = l->conv.pad;
    l->nbi = (l->C_in + vb - 1) / vb;
    l->nbo = (C + vb - 1) / vb;
    size_t ci = (size_t)l->nbi * vb, co = (size_t)l->nbo * vb;
    l->in_floats = ci * l->H_in * l->W_in;
    l->out_floats = co * l->H * l->W;
    if (l->ds) {
        /* a_in (H_in x W_in) zero-bordered by pad; da_sp (H x W) by K-1-pad (see layer_backward_image) */
        l->dwf = (struct nsid_kdw){.nb = l->nbo, .OH = l->H, .OW = l->W, .K = K, .Hp = l->H + K - 1,
                                   .Wp = l->W + K - 1, .r0 = pad, .r1 = pad + l->H_in};
        int q = K - 1 - pad;
        l->dwb = (struct nsid_kdw){.nb = l->nbo, .OH = l->H_in, .OW = l->W_in, .K = K, .Hp = l->H_in + K - 1,
                                   .Wp = l->W_in + K - 1, .r0 = q, .r1 = q + l->H};
        l->kc = 0;
        l->grad_floats = ci * co + co * K * K + co * co;
    } else {
        /*
         * Each kernel row takes kw columns of the im2col matrix. kw = K rounded up to 8 when
         * the rounding to vb costs that anyway (layer0: 15 -> 16, 240 columns either way):
         * then im2col copies whole vectors, and the extra column of each row, a real pixel
         * times a zero weight, adds exact zeros in the GEMM's unchanged order of terms.
         */
        size_t exact = round_up((size_t)l->C_in * K * K, (size_t)vb);
        l->kw = (int)round_up((size_t)K, 8);
        if (round_up((size_t)l->C_in * K * (size_t)l->kw, (size_t)vb) > exact) l->kw = K;
        l->kc = (int)round_up((size_t)l->C_in * K * (size_t)l->kw, (size_t)vb);
        l->grad_floats = (size_t)l->kc * co;
    }
}

/* Sizes of every layer, the largest image / gradient and the per-thread scratch layout. */
static void core_layout(struct nsid_core *c)
{
    int vb = c->kern->vb;
    c->max_img = 0;
    c->col_floats = 0;
    c->max_grad = 0;
    for (int k = 0; k < c->cfg.layers; k++) {
        struct nsid_core_layer *l = &c->layer[k];
        layer_layout(c, l, vb);
        if (l->in_floats > c->max_img) c->max_img = l->in_floats;
        if (l->out_floats > c->max_img) c->max_img = l->out_floats;
        if (l->grad_floats > c->max_grad) c->max_grad = l->grad_floats;
        size_t col = (size_t)l->H * l->W * (size_t)l->kc;
        if (col > c->col_floats) c->col_floats = col;
    }
    /* offsets rounded to 16 floats keep every buffer 64-byte aligned */
    struct nsid_core_scratch *s = &c->so;
    size_t img = round_up(c->max_img, 16), off = 0;
    s->act = off; off += img;
    s->dpre = off; off += img;
    s->t = off; off += img;
    s->dout = off; off += img;
    s->col = off; off += round_up(c->col_floats, 16);
    for (int k = 0; k < c->cfg.layers; k++) {
        const struct nsid_core_layer *l = &c->layer[k];
        for (int i = 0; i < 2; i++) {
            s->pad[k][i] = off;
            if (l->ds) {
                const struct nsid_kdw *d = i ? &l->dwb : &l->dwf;
                off += round_up((size_t)d->nb * d->Hp * d->Wp * vb, 16);
            }
        }
    }
    s->total = off;
}

/*
 * The destination of every packed weight-gradient element of layer l (l->gmap): its
 * offset in the parameter gradient it belongs to, or -1 for padding rows and lanes.
 * A depth-separable layer's packed gradient has three segments, in_depth_conv
 * (ci, co), spatial_conv (nbo, K, K, vb) and out_depth_conv (co, co), each mapped
 * into its own tensor; a full conv has one, (kc, co) into dw.
 */
static void grad_map(const struct nsid_core *c, struct nsid_core_layer *l)
{
    int vb = c->kern->vb, C = c->cfg.hidden_channels, co = l->nbo * vb, ci = l->nbi * vb;
    int KK = l->conv.K * l->conv.K;
    int32_t *m = l->gmap;
    if (l->ds) {
        for (int i = 0; i < ci; i++)
            for (int o = 0; o < co; o++) *m++ = i < l->C_in && o < C ? o * l->C_in + i : -1;
        for (int b = 0; b < l->nbo; b++)
            for (int t = 0; t < KK; t++)
                for (int lane = 0; lane < vb; lane++) {
                    int ch = b * vb + lane;
                    *m++ = ch < C ? ch * KK + t : -1;
                }
        for (int i = 0; i < co; i++)
            for (int o = 0; o < co; o++) *m++ = i < C && o < C ? o * C + i : -1;
    } else {
        int Kc = l->C_in * KK, K = l->conv.K, rows = l->C_in * K;
        for (int j = 0; j < l->kc; j++) {
            int row = j / l->kw, kx = j % l->kw;  /* column j: kernel row (ch, ky), tap kx */
            for (int o = 0; o < co; o++) *m++ = row < rows && kx < K && o < C ? o * Kc + row * K + kx : -1;
        }
    }
    NSID_ASSERT((size_t)(m - l->gmap) == l->grad_floats);
}

/*
 * Floats of one image's stored a_in: zero-bordered as the depthwise forward reads it
 * (nbo, dwf.Hp, dwf.Wp, vb). The in_depth_conv writes only the interior, so the
 * borders stay zero from bind on, and the depthwise forward and weight gradient
 * read the stored image itself, no padded copy.
 */
static size_t ain_floats(const struct nsid_core_layer *l, size_t vb)
{
    return (size_t)l->nbo * vb * (size_t)l->dwf.Hp * (size_t)l->dwf.Wp;
}

/* Per-layer arena buffers (weights packing, BN, activations) for batches up to B. */
static int bind_layer(struct nsid_core *c, struct nsid_core_layer *l, struct nsid_arena *a, int B,
                      struct nsid_err *err)
{
    size_t C = (size_t)c->cfg.hidden_channels, vb = (size_t)c->kern->vb;
    size_t ci = (size_t)l->nbi * vb, co = (size_t)l->nbo * vb, KK = (size_t)l->conv.K * l->conv.K;
    if (l->ds) {
        if (!(l->a_in = take(a, (size_t)B * ain_floats(l, vb), err)) ||
            !(l->a_sp = take(a, (size_t)B * l->out_floats, err)) ||
            !(l->pk_in = take(a, ci * co, err)) || !(l->pk_in_t = take(a, ci * co, err)) ||
            !(l->pk_sp = take(a, co * KK, err)) || !(l->pk_sp_flip = take(a, co * KK, err)) ||
            !(l->pk_out = take(a, co * co, err)) || !(l->pk_out_t = take(a, co * co, err)))
            return NSID_ENOMEM;
    } else {
        if (!(l->pk_w = take(a, (size_t)l->kc * co, err)) || !(l->pk_w_t = take(a, (size_t)l->kc * co, err)))
            return NSID_ENOMEM;
    }
    bool last = l == &c->layer[c->cfg.layers - 1];
    if (!last && !(l->act = take(a, (size_t)B * l->out_floats, err))) return NSID_ENOMEM;
    if (!(l->pre = take(a, (size_t)B * l->out_floats, err)) ||
        !(l->bn_mean = take(a, C, err)) || !(l->bn_rstd = take(a, C, err)) ||
        !(l->mean_v = take(a, co, err)) || !(l->rstd_v = take(a, co, err)) ||
        !(l->scale = take(a, co, err)) || !(l->shift = take(a, co, err)) ||
        !(l->gr = take(a, co, err)) || !(l->ga = take(a, co, err)) || !(l->gb = take(a, co, err)))
        return NSID_ENOMEM;
    l->st0 = (double *)nsid_alloc_arena_bytes(a, sizeof(double) * (size_t)B * co, err);
    l->st1 = (double *)nsid_alloc_arena_bytes(a, sizeof(double) * (size_t)B * co, err);
    l->gmap = (int32_t *)nsid_alloc_arena_bytes(a, sizeof(int32_t) * l->grad_floats, err);
    if (!l->st0 || !l->st1 || !l->gmap) return NSID_ENOMEM;
    if (a->base) {
        grad_map(c, l);
        /* padding rows/lanes of the packed weights and BN vectors must be zero */
        memset(l->mean_v, 0, co * sizeof(float));
        memset(l->rstd_v, 0, co * sizeof(float));
        memset(l->scale, 0, co * sizeof(float));
        memset(l->shift, 0, co * sizeof(float));
        memset(l->gr, 0, co * sizeof(float));
        memset(l->ga, 0, co * sizeof(float));
        memset(l->gb, 0, co * sizeof(float));
        if (l->ds) {
            memset(l->a_in, 0, (size_t)B * ain_floats(l, vb) * sizeof(float));  /* zero borders (see ain_floats) */
            memset(l->pk_in, 0, ci * co * sizeof(float));
            memset(l->pk_in_t, 0, ci * co * sizeof(float));
            memset(l->pk_sp, 0, co * KK * sizeof(float));
            memset(l->pk_sp_flip, 0, co * KK * sizeof(float));
            memset(l->pk_out, 0, co * co * sizeof(float));
            memset(l->pk_out_t, 0, co * co * sizeof(float));
        } else {
            memset(l->pk_w, 0, (size_t)l->kc * co * sizeof(float));
            memset(l->pk_w_t, 0, (size_t)l->kc * co * sizeof(float));
        }
    }
    return 0;
}

int nsid_core_bind_state(struct nsid_core *c, struct nsid_arena *a, int B, struct nsid_err *err)
{
    if (B < 1)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "batch_size", "%d must be positive", B);
    if (!c->kern && nsid_core_set_kernels(c, NULL, err) < 0) return err->code;
    if (c->out_vb > 1 && c->out_vb != c->kern->vb)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "core.layout", "output block width %d but kernel set %s has %d",
                            c->out_vb, c->kern->name, c->kern->vb);
    core_layout(c);
    c->nt = nsid_pool_threads(c->pool);
    int rc;
    for (int k = 0; k < c->cfg.layers; k++)
        if ((rc = bind_layer(c, &c->layer[k], a, B, err)) < 0) return rc;
    int nch = (B + NSID_CORE_CHUNK - 1) / NSID_CORE_CHUNK;
    if (!(c->x = take(a, (size_t)B * c->in_c * c->in_h * c->in_w, err)) ||
        !(c->g = take(a, (size_t)B * c->max_img, err)) ||
        !(c->part = take(a, (size_t)nch * c->max_grad, err)) ||
        !(c->scratch = take(a, (size_t)c->nt * c->so.total, err)) ||
        !(c->out = take(a, (size_t)B * nsid_core_out_floats(c), err)))
        return NSID_ENOMEM;
    if (a->base)  /* zero the padded buffers' borders once: kernels only ever write their interiors */
        memset(c->scratch, 0, sizeof(float) * (size_t)c->nt * c->so.total);
    c->B = B;
    return 0;
}

/* ------------------------------------------------------ layout helpers */

/* Thread tid's scratch buffer at offset off. */
static float *scr(const struct nsid_core *c, int tid, size_t off)
{
    return c->scratch + (size_t)tid * c->so.total + off;
}

/* NCHW (C, P) -> blocked (ceil(C/vb), P, vb), padding lanes zero. */
static void to_blocked(float *dst, const float *src, int C, int P, int vb)
{
    int nb = (C + vb - 1) / vb;
    for (int b = 0; b < nb; b++)
        for (int l = 0; l < vb; l++) {
            int ch = b * vb + l;
            float *d = dst + (size_t)b * P * vb + l;
            if (ch >= C) {
                for (int p = 0; p < P; p++) d[(size_t)p * vb] = 0.0f;
                continue;
            }
            const float *s = src + (size_t)ch * P;
            for (int p = 0; p < P; p++) d[(size_t)p * vb] = s[p];
        }
}

/* blocked (ceil(C/vb), P, vb) -> NCHW (C, P). */
static void from_blocked(float *dst, const float *src, int C, int P, int vb)
{
    for (int ch = 0; ch < C; ch++) {
        const float *s = src + (size_t)(ch / vb) * P * vb + ch % vb;
        float *d = dst + (size_t)ch * P;
        for (int p = 0; p < P; p++) d[p] = s[(size_t)p * vb];
    }
}

/*
 * d[0..n) = s[0..n) for the short runs of im2col (one kernel row, K floats): fixed-size
 * moves the compiler inlines, where a memcpy call per run cost more than the copy.
 */
static inline void copy_run(float *d, const float *s, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) memcpy(d + i, s + i, 8 * sizeof(float));
    if (i + 4 <= n) {
        memcpy(d + i, s + i, 4 * sizeof(float));
        i += 4;
    }
    if (i < n) d[i] = s[i], i++;  /* at most 3 left: written out, as a loop becomes a memcpy call */
    if (i < n) d[i] = s[i], i++;
    if (i < n) d[i] = s[i];
}

/* d[0..n) = 0, as copy_run. */
static inline void zero_run(float *d, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) memset(d + i, 0, 8 * sizeof(float));
    if (i + 4 <= n) {
        memset(d + i, 0, 4 * sizeof(float));
        i += 4;
    }
    if (i < n) d[i++] = 0.0f;  /* at most 3 left: written out, as a loop becomes a memset call */
    if (i < n) d[i++] = 0.0f;
    if (i < n) d[i] = 0.0f;
}

/*
 * col (OH*OW, kc) row p = the K x K patch of every input channel at output pixel p,
 * kernel row (ch, ky) at columns (ch*K + ky)*kw + [0, K) (the weight's (C,K,K) order with
 * a row pitch kw >= K), zero outside the image and in columns >= C*K*kw. Columns
 * [K, kw) of a kernel row hold zeros or, where the row's run of kw pixels lies inside
 * the image row, those pixels (one whole-vector copy; the packed weights are zero
 * there). Input element (ch, y, x) at in[((ch/vbi)*H*W + y*W + x)*vbi + ch%vbi]
 * (vbi = 1: NCHW).
 */
static void im2col(float *col, const float *in, int vbi, int C, int H, int W, int K, int kw, int pad, int OH,
                   int OW, int kc)
{
    for (int oy = 0; oy < OH; oy++)
        for (int ox = 0; ox < OW; ox++) {
            float *row = col + ((size_t)oy * OW + (size_t)ox) * (size_t)kc;
            int kx0 = pad - ox > 0 ? pad - ox : 0, kx1 = W + pad - ox < K ? W + pad - ox : K;
            if (kx1 < kx0) kx1 = kx0;
            bool whole = vbi == 1 && kw % 8 == 0 && kx0 == 0 && ox - pad + kw <= W;
            for (int ch = 0; ch < C; ch++) {
                const float *plane = in + (size_t)(ch / vbi) * H * W * vbi + ch % vbi;
                for (int ky = 0; ky < K; ky++) {
                    float *r = row + ((size_t)ch * K + (size_t)ky) * (size_t)kw;
                    int iy = oy + ky - pad;
                    if (iy < 0 || iy >= H) {
                        zero_run(r, kw);
                        continue;
                    }
                    const float *src = plane + ((size_t)iy * W + (size_t)(ox - pad)) * vbi;
                    if (whole) {
                        copy_run(r, src, kw);
                        continue;
                    }
                    zero_run(r, kx0);
                    if (vbi == 1)
                        copy_run(r + kx0, src + kx0, kx1 - kx0);
                    else
                        for (int kx = kx0; kx < kx1; kx++) r[kx] = src[(size_t)kx * vbi];
                    zero_run(r + kx1, kw - kx1);
                }
            }
            zero_run(row + C * K * kw, kc - C * K * kw);
        }
}

/* The adjoint of im2col: in[(ch, oy+ky-pad, ox+kx-pad)] += col[p][(ch*K+ky)*kw+kx], kx < K (same layouts). */
static void col2im_add(float *in, const float *col, int vbi, int C, int H, int W, int K, int kw, int pad, int OH,
                       int OW, int kc)
{
    for (int oy = 0; oy < OH; oy++)
        for (int ox = 0; ox < OW; ox++) {
            const float *row = col + ((size_t)oy * OW + (size_t)ox) * (size_t)kc;
            for (int ch = 0; ch < C; ch++) {
                float *plane = in + (size_t)(ch / vbi) * H * W * vbi + ch % vbi;
                for (int ky = 0; ky < K; ky++) {
                    int iy = oy + ky - pad;
                    if (iy < 0 || iy >= H) continue;
                    const float *r = row + ((size_t)ch * K + (size_t)ky) * (size_t)kw;
                    for (int kx = 0; kx < K; kx++) {
                        int ix = ox + kx - pad;
                        if (ix >= 0 && ix < W) plane[((size_t)iy * W + (size_t)ix) * vbi] += r[kx];
                    }
                }
            }
        }
}

/* Pointwise product over a blocked image of P pixels: ci input channels, nbo output blocks. */
static struct nsid_kpw kpw_blocked(int P, int ci, int nbo, int vb, int accumulate)
{
    return (struct nsid_kpw){.P = P, .ci = ci, .nbo = nbo, .ldw = nbo * vb, .in_bs = (size_t)P * vb,
                             .in_ps = (size_t)vb, .out_bs = (size_t)P * vb, .out_ps = (size_t)vb,
                             .accumulate = accumulate};
}

/*
 * A blocked H x W image (ci channels) into the interior of a zero-bordered (Hp, Wp)
 * one (nbo blocks): pass the interior's first pixel as out.
 */
static struct nsid_kpw kpw_into_padded(int H, int W, int ci, int nbo, int vb, int Hp, int Wp)
{
    struct nsid_kpw d = kpw_blocked(H * W, ci, nbo, vb, 0);
    d.out_bs = (size_t)Hp * Wp * vb;
    d.row_w = W;
    d.out_rs = (size_t)Wp * vb;
    return d;
}

/* The interior's first pixel of a zero-bordered (nb, Hp, Wp, vb) image bordered by top, left. */
static float *interior(float *padded, int top, int left, int Wp, int vb)
{
    return padded + ((size_t)top * Wp + (size_t)left) * vb;
}

/* Product of an im2col matrix (P, kc) with a (kc, nbo*vb) weight into a blocked image. */
static struct nsid_kpw kpw_col(int P, int kc, int nbo, int vb)
{
    return (struct nsid_kpw){.P = P, .ci = kc, .nbo = nbo, .ldw = nbo * vb, .in_bs = (size_t)vb,
                             .in_ps = (size_t)kc, .out_bs = (size_t)P * vb, .out_ps = (size_t)vb};
}

/* ------------------------------------------------------ weight packing */

/* The forward's packed weights of layer l (padding rows and lanes stay zero). */
static void pack_forward(const struct nsid_core *c, struct nsid_core_layer *l)
{
    int vb = c->kern->vb, C = c->cfg.hidden_channels, co = l->nbo * vb;
    if (l->ds) {
        int K = l->conv.K, KK = K * K;
        for (int o = 0; o < C; o++)
            for (int i = 0; i < l->C_in; i++) l->pk_in[(size_t)i * co + o] = l->w_in[(size_t)o * l->C_in + i];
        for (int ch = 0; ch < C; ch++)
            for (int t = 0; t < KK; t++) {
                size_t dst = ((size_t)(ch / vb) * KK + (size_t)t) * vb + ch % vb;
                l->pk_sp[dst] = l->w_sp[(size_t)ch * KK + t];
                /* rotated by 180 degrees: tap (ky, kx) -> (K-1-ky, K-1-kx) */
                l->pk_sp_flip[((size_t)(ch / vb) * KK + (size_t)(KK - 1 - t)) * vb + ch % vb] =
                    l->w_sp[(size_t)ch * KK + t];
            }
        for (int o = 0; o < C; o++)
            for (int i = 0; i < C; i++) l->pk_out[(size_t)i * co + o] = l->w_out[(size_t)o * C + i];
    } else {
        int K = l->conv.K, rows = l->C_in * K, Kc = rows * K;
        for (int o = 0; o < C; o++)
            for (int r = 0; r < rows; r++)
                for (int kx = 0; kx < K; kx++)
                    l->pk_w[((size_t)r * l->kw + kx) * co + o] = l->w[(size_t)o * Kc + (size_t)r * K + kx];
    }
}

/* The backward's transposed packs (input gradients: dinp = dout @ W). */
static void pack_backward(const struct nsid_core *c, struct nsid_core_layer *l)
{
    int vb = c->kern->vb, C = c->cfg.hidden_channels;
    if (l->ds) {
        int ci = l->nbi * vb, co = l->nbo * vb;
        for (int o = 0; o < C; o++)
            for (int i = 0; i < l->C_in; i++) l->pk_in_t[(size_t)o * ci + i] = l->w_in[(size_t)o * l->C_in + i];
        for (int o = 0; o < C; o++)
            for (int i = 0; i < C; i++) l->pk_out_t[(size_t)o * co + i] = l->w_out[(size_t)o * C + i];
    } else {
        int K = l->conv.K, rows = l->C_in * K, Kc = rows * K;
        for (int o = 0; o < C; o++)
            for (int r = 0; r < rows; r++)
                for (int kx = 0; kx < K; kx++)
                    l->pk_w_t[(size_t)o * l->kc + (size_t)r * l->kw + kx] = l->w[(size_t)o * Kc + (size_t)r * K + kx];
    }
}

/* ---------------------------------------------------------- forward */

/* What a pool task needs: the call's arguments. */
struct core_call {
    struct nsid_core *c;
    int N;                       /* images */
    bool training;
    bool keep;                   /* forward: keep what the backward needs */
    const float *dout;           /* backward: (N, out_c, out_h, out_w) */
    float *dx;                   /* backward: (N, in_c, in_h, in_w) += or NULL */
};

/* Images [*lo, *hi) of thread tid: whole chunks, split statically. */
static void my_chunks(int N, int tid, int nt, int *clo, int *chi)
{
    int nch = (N + NSID_CORE_CHUNK - 1) / NSID_CORE_CHUNK;
    nsid_pool_range(nch, tid, nt, clo, chi);
}

/* One past the last image of chunk ch of an N-image batch. */
static int chunk_end(int ch, int N)
{
    int e = (ch + 1) * NSID_CORE_CHUNK;
    return e < N ? e : N;
}

/* Layer k's input for image n as the forward that kept state left it (see layer_input). */
static const float *kept_input(const struct nsid_core *c, int k, int n, int *vbi)
{
    if (k == 0) {
        *vbi = 1;
        return c->x + (size_t)n * c->in_c * c->in_h * c->in_w;
    }
    const struct nsid_core_layer *p = &c->layer[k - 1];
    *vbi = c->kern->vb;
    return p->act + (size_t)n * p->out_floats;
}

/*
 * Layer k's input for image n (the input copy itself for layer 0): the previous
 * layer's ELU(BN(pre)), blocked, computed into its stored act when the forward keeps
 * state for a backward (keep), else into thread scratch. *vbi: its block width (1 for
 * the NCHW input).
 */
static const float *layer_input(const struct nsid_core *c, int k, int n, int tid, bool keep, int *vbi)
{
    if (k == 0) return kept_input(c, 0, n, vbi);
    const struct nsid_core_layer *p = &c->layer[k - 1];
    float *act = keep ? p->act + (size_t)n * p->out_floats : scr(c, tid, c->so.act);
    c->kern->bn_elu(act, p->pre + (size_t)n * p->out_floats, p->scale, p->shift, p->nbo, p->H * p->W);
    *vbi = c->kern->vb;
    return act;
}

/*
 * The convolutions of layer k on one image: in (block width vbi: 1 = NCHW) ->
 * pre; a depth-separable block leaves its intermediates in a_in (zero-bordered,
 * ain_floats) and a_sp.
 */
static void layer_conv_image(const struct nsid_core *c, int k, const float *in, int vbi, float *pre, float *a_in,
                             float *a_sp, int tid)
{
    const struct nsid_kern *kn = c->kern;
    const struct nsid_core_layer *l = &c->layer[k];
    int vb = kn->vb, P = l->H * l->W;
    if (l->ds) {
        int pad = l->conv.pad;
        struct nsid_kpw d_in = kpw_into_padded(l->H_in, l->W_in, l->nbi * vb, l->nbo, vb, l->dwf.Hp, l->dwf.Wp);
        struct nsid_kpw d_out = kpw_blocked(P, l->nbo * vb, l->nbo, vb, 0);
        kn->pw_forward(interior(a_in, pad, pad, l->dwf.Wp, vb), in, l->pk_in, &d_in);  /* in_depth_conv */
        kn->dw_forward(a_sp, a_in, l->pk_sp, &l->dwf);         /* spatial_conv */
        kn->pw_forward(pre, a_sp, l->pk_out, &d_out);          /* out_depth_conv */
    } else {
        float *col = scr(c, tid, c->so.col);
        im2col(col, in, vbi, l->C_in, l->H_in, l->W_in, l->conv.K, l->kw, l->conv.pad, l->H, l->W, l->kc);
        struct nsid_kpw d = kpw_col(P, l->kc, l->nbo, vb);
        kn->pw_forward(pre, col, l->pk_w, &d);                 /* conv */
    }
}

/*
 * Layer k, image n of a batch forward: pre (stored), a_in and a_sp (stored when
 * a backward may follow, else scratch) and, when training, the image's BN sums.
 */
static void layer_forward_image(const struct nsid_core *c, int k, int n, int tid, bool training, bool keep)
{
    const struct nsid_core_layer *l = &c->layer[k];
    int vb = c->kern->vb, vbi;
    const float *in = layer_input(c, k, n, tid, keep, &vbi);
    float *pre = l->pre + (size_t)n * l->out_floats, *a_in = scr(c, tid, c->so.pad[k][0]), *a_sp = scr(c, tid, c->so.t);
    if (keep && l->ds) {
        a_in = l->a_in + (size_t)n * ain_floats(l, (size_t)vb);
        a_sp = l->a_sp + (size_t)n * l->out_floats;
    }
    layer_conv_image(c, k, in, vbi, pre, a_in, a_sp, tid);
    if (training) {
        size_t co = (size_t)l->nbo * vb;
        c->kern->bn_stats(l->st0 + (size_t)n * co, l->st1 + (size_t)n * co, pre, l->nbo, l->H * l->W);
    }
}

/*
 * BN statistics of layer k after all images: batch mean/variance (combining the
 * per-image means and squared deviations, Chan et al.'s parallel form, in double)
 * and the running-statistics update (training), or the running statistics
 * (evaluation); then the affine map pre * scale + shift that BN applies.
 */
static void layer_bn_finish(struct nsid_core *c, struct nsid_core_layer *l, int N, bool training)
{
    int C = c->cfg.hidden_channels, P = l->H * l->W, co = l->nbo * c->kern->vb;
    size_t M = (size_t)N * P;
    double mom = c->cfg.bn_momentum;
    for (int ch = 0; ch < C; ch++) {
        double m, v;
        if (training) {
            double s = 0.0, q = 0.0;
            for (int n = 0; n < N; n++) s += l->st0[(size_t)n * co + ch];
            m = s / (double)N;
            for (int n = 0; n < N; n++) {
                double dm = l->st0[(size_t)n * co + ch] - m;
                q += l->st1[(size_t)n * co + ch] + (double)P * dm * dm;
            }
            v = q / (double)M;
            double unbiased = M > 1 ? v * (double)M / (double)(M - 1) : v;
            l->running_mean[ch] = (float)((1.0 - mom) * (double)l->running_mean[ch] + mom * m);
            l->running_var[ch] = (float)((1.0 - mom) * (double)l->running_var[ch] + mom * unbiased);
        } else {
            m = (double)l->running_mean[ch];
            v = (double)l->running_var[ch];
        }
        double r = 1.0 / sqrt(v + c->cfg.bn_eps);
        l->bn_mean[ch] = l->mean_v[ch] = (float)m;
        l->bn_rstd[ch] = l->rstd_v[ch] = (float)r;
        double g = (double)l->gamma[ch], b = (double)l->beta[ch];
        l->scale[ch] = (float)(g * r);
        l->shift[ch] = (float)(b - m * g * r);
    }
    if (training) l->num_batches_tracked++;
}

/* The core output for image n: ELU(BN(pre)) of the last layer, NCHW or blocked (out_vb). */
static void output_image(const struct nsid_core *c, int n, int tid)
{
    const struct nsid_core_layer *l = &c->layer[c->cfg.layers - 1];
    int P = l->H * l->W;
    const float *pre = l->pre + (size_t)n * l->out_floats;
    if (c->out_vb > 1) {
        c->kern->bn_elu(c->out + (size_t)n * l->out_floats, pre, l->scale, l->shift, l->nbo, P);
        return;
    }
    float *act = scr(c, tid, c->so.act);
    c->kern->bn_elu(act, pre, l->scale, l->shift, l->nbo, P);
    from_blocked(c->out + (size_t)n * c->out_c * P, act, c->out_c, P, c->kern->vb);
}

/* The whole forward on thread tid; barriers separate the layers (BN needs the whole batch). */
static void forward_task(void *arg, int tid, int nt)
{
    struct core_call *call = arg;
    struct nsid_core *c = call->c;
    int clo, chi;
    my_chunks(call->N, tid, nt, &clo, &chi);
    if (tid == 0)
        for (int k = 0; k < c->cfg.layers; k++) pack_forward(c, &c->layer[k]);
    nsid_pool_barrier(c->pool);
    int n0 = clo * NSID_CORE_CHUNK, n1 = chi > clo ? chunk_end(chi - 1, call->N) : n0;
    for (int k = 0; k < c->cfg.layers; k++) {
        for (int n = n0; n < n1; n++) layer_forward_image(c, k, n, tid, call->training, call->keep);
        nsid_pool_barrier(c->pool);
        if (tid == 0) layer_bn_finish(c, &c->layer[k], call->N, call->training);
        nsid_pool_barrier(c->pool);
    }
    for (int n = n0; n < n1; n++) output_image(c, n, tid);
}

/*
 * Evaluation without backward, image n: every layer in thread scratch, BN with
 * the running statistics (their scale/shift set before), straight to the output.
 */
static void eval_image(const struct nsid_core *c, int n, int tid)
{
    const struct nsid_kern *kn = c->kern;
    const float *in = c->x + (size_t)n * c->in_c * c->in_h * c->in_w;
    float *act = scr(c, tid, c->so.act), *pre = scr(c, tid, c->so.dpre);
    int vbi = 1, L = c->cfg.layers;
    for (int k = 0; k < L; k++) {
        const struct nsid_core_layer *l = &c->layer[k];
        int P = l->H * l->W;
        layer_conv_image(c, k, in, vbi, pre, scr(c, tid, c->so.pad[k][0]), scr(c, tid, c->so.t), tid);
        if (k == L - 1 && c->out_vb > 1) {
            kn->bn_elu(c->out + (size_t)n * l->out_floats, pre, l->scale, l->shift, l->nbo, P);
        } else {
            kn->bn_elu(act, pre, l->scale, l->shift, l->nbo, P);
            if (k == L - 1) from_blocked(c->out + (size_t)n * c->out_c * P, act, c->out_c, P, kn->vb);
        }
        in = act;
        vbi = kn->vb;
    }
}

/* Evaluation without backward on thread tid: running-statistics BN, then its share of the images. */
static void eval_task(void *arg, int tid, int nt)
{
    struct core_call *call = arg;
    struct nsid_core *c = call->c;
    int lo, hi;
    if (tid == 0)
        for (int k = 0; k < c->cfg.layers; k++) {
            pack_forward(c, &c->layer[k]);
            layer_bn_finish(c, &c->layer[k], call->N, false);
        }
    nsid_pool_barrier(c->pool);
    nsid_pool_range(call->N, tid, nt, &lo, &hi);
    for (int n = lo; n < hi; n++) eval_image(c, n, tid);
}

void nsid_core_forward(struct nsid_core *c, const float *x, int N, bool training)
{
    NSID_ASSERT(c->B > 0 && N >= 1 && N <= c->B && nsid_pool_threads(c->pool) <= c->nt);
    memcpy(c->x, x, sizeof(float) * (size_t)N * c->in_c * c->in_h * c->in_w);
    struct core_call call = {.c = c, .N = N, .training = training, .keep = true};
    nsid_pool_run(c->pool, forward_task, &call);
    c->last_training = training;
    c->grad_ready = true;
}

void nsid_core_forward_nograd(struct nsid_core *c, const float *x, int N, bool training)
{
    NSID_ASSERT(c->B > 0 && N >= 1 && N <= c->B && nsid_pool_threads(c->pool) <= c->nt);
    memcpy(c->x, x, sizeof(float) * (size_t)N * c->in_c * c->in_h * c->in_w);
    struct core_call call = {.c = c, .N = N, .training = training, .keep = false};
    nsid_pool_run(c->pool, training ? forward_task : eval_task, &call);
    c->last_training = training;
    c->grad_ready = false;
}

/* --------------------------------------------------------- backward */

/* The gradient flowing into layer k's output for image n, blocked (slot n of c->g, or dout). */
static float *grad_slot(const struct nsid_core *c, int n)
{
    return c->g + (size_t)n * c->max_img;
}

/*
 * Backward, first half, layer k, image n: dbn = dact * ELU'(act) into grad slot n
 * (dact is slot n itself, or the caller's dout for the last layer) and the image's
 * BN sums.
 */
static void layer_bwd_sums_image(const struct nsid_core *c, int k, int n, int tid, const float *dout)
{
    const struct nsid_kern *kn = c->kern;
    const struct nsid_core_layer *l = &c->layer[k];
    int P = l->H * l->W;
    size_t co = (size_t)l->nbo * kn->vb;
    float *slot = grad_slot(c, n), *act = scr(c, tid, c->so.act);
    const float *pre = l->pre + (size_t)n * l->out_floats;
    const float *dact = slot;
    if (k == c->cfg.layers - 1 && c->out_vb > 1) {
        dact = dout + (size_t)n * l->out_floats;
    } else if (k == c->cfg.layers - 1) {
        float *d = scr(c, tid, c->so.dout);
        to_blocked(d, dout + (size_t)n * c->out_c * P, c->out_c, P, kn->vb);
        dact = d;
    }
    if (c->out_vb > 1)  /* the forward's output is the layer's ELU(BN(pre)), blocked */
        act = c->out + (size_t)n * l->out_floats;
    else
        kn->bn_elu(act, pre, l->scale, l->shift, l->nbo, P);
    kn->bn_bwd_sums(l->st0 + (size_t)n * co, l->st1 + (size_t)n * co, slot, dact, act, pre, l->mean_v, l->rstd_v,
                    l->nbo, P);
}

/* BN backward coefficients of layer k from the per-image sums; dgamma, dbeta +=. */
static void layer_bwd_finish(struct nsid_core *c, struct nsid_core_layer *l, int N, bool training)
{
    int C = c->cfg.hidden_channels, co = l->nbo * c->kern->vb;
    double M = (double)N * l->H * l->W;
    for (int ch = 0; ch < C; ch++) {
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < N; n++) {
            sdy += l->st0[(size_t)n * co + ch];
            sdyx += l->st1[(size_t)n * co + ch];
        }
        l->dgamma[ch] += (float)sdyx;  /* forward: y = xhat * gamma + beta */
        l->dbeta[ch] += (float)sdy;
        l->gr[ch] = (float)((double)l->gamma[ch] * (double)l->rstd_v[ch]);
        l->ga[ch] = training ? (float)(sdy / M) : 0.0f;
        l->gb[ch] = training ? (float)(sdyx / M) : 0.0f;
    }
}

/*
 * The first half of layer k-1's backward for image n, fused into the end of layer
 * k's (the input activation act = layer k-1's output is still in scratch): grad
 * slot n holds dact of layer k-1; turn it into dbn and take the image's BN sums.
 */
static void prev_bwd_sums(const struct nsid_core *c, int k, int n, const float *act)
{
    const struct nsid_core_layer *p = &c->layer[k - 1];
    size_t co = (size_t)p->nbo * c->kern->vb;
    float *slot = grad_slot(c, n);
    c->kern->bn_bwd_sums(p->st0 + (size_t)n * co, p->st1 + (size_t)n * co, slot, slot, act,
                         p->pre + (size_t)n * p->out_floats, p->mean_v, p->rstd_v, p->nbo, p->H * p->W);
}

/*
 * Backward, second half, layer k, image n, chunk partial `part`: dpre from the BN
 * coefficients, then the convs in reverse, weight gradients += into part (packed
 * layout), the input gradient into grad slot n (layer k >= 1, followed by layer
 * k-1's BN sums) or dx (layer 0).
 */
static void layer_bwd_image(const struct nsid_core *c, int k, int n, int tid, float *part, float *dx)
{
    const struct nsid_kern *kn = c->kern;
    const struct nsid_core_layer *l = &c->layer[k];
    int vb = kn->vb, P = l->H * l->W, Pin = l->H_in * l->W_in, ci = l->nbi * vb, co = l->nbo * vb;
    float *slot = grad_slot(c, n), *dpre = scr(c, tid, c->so.dpre);
    const float *pre = l->pre + (size_t)n * l->out_floats;
    /* pre -> BN -> ELU: dpre = gr * (dbn - mean(dbn) - xhat * mean(dbn * xhat)) */
    kn->bn_bwd_apply(dpre, slot, pre, l->mean_v, l->rstd_v, l->gr, l->ga, l->gb, l->nbo, P);
    int vbi;
    if (l->ds) {
        const float *a_in = l->a_in + (size_t)n * ain_floats(l, (size_t)vb);  /* zero-bordered */
        const float *a_sp = l->a_sp + (size_t)n * l->out_floats;
        float *da_in = scr(c, tid, c->so.t), *pad_g = scr(c, tid, c->so.pad[k][1]);
        float *g_in = part, *g_sp = part + (size_t)ci * co, *g_out = g_sp + (size_t)co * l->conv.K * l->conv.K;
        int q = l->conv.K - 1 - l->conv.pad;
        float *da_sp = interior(pad_g, q, q, l->dwb.Wp, vb);             /* inside its zero border */
        struct nsid_kpw d_out = kpw_blocked(P, co, l->nbo, vb, 0);       /* a_sp -> pre */
        struct nsid_kpw d_out_t = kpw_into_padded(l->H, l->W, co, l->nbo, vb, l->dwb.Hp, l->dwb.Wp); /* dpre -> da_sp */
        struct nsid_kpw d_in = kpw_blocked(Pin, ci, l->nbo, vb, 0);      /* act -> a_in */
        struct nsid_kpw d_in_t = kpw_blocked(Pin, co, l->nbi, vb, 0);    /* da_in -> dact */
        struct nsid_kdw dwg = l->dwf;                                    /* dy = da_sp where it lies */
        dwg.gbs = (size_t)l->dwb.Hp * l->dwb.Wp * vb;
        dwg.grs = (size_t)l->dwb.Wp * vb;
        /* pre = out_depth_conv(a_sp): dW_out^T += a_sp^T dpre, da_sp = dpre W_out */
        kn->pw_wgrad(g_out, a_sp, dpre, &d_out);
        kn->pw_forward(da_sp, dpre, l->pk_out_t, &d_out_t);
        /* a_sp = spatial_conv(a_in): dW_sp += corr(da_sp, a_in), da_in = corr(da_sp, rot180 W_sp) */
        kn->dw_wgrad(g_sp, da_sp, a_in, &dwg);
        kn->dw_forward(da_in, pad_g, l->pk_sp_flip, &l->dwb);
        /* a_in = in_depth_conv(act): dW_in^T += act^T da_in, dact = da_in W_in (k >= 1 always) */
        const float *act = kept_input(c, k, n, &vbi);
        kn->pw_wgrad(g_in, act, da_in, &d_in);
        kn->pw_forward(slot, da_in, l->pk_in_t, &d_in_t);
        prev_bwd_sums(c, k, n, act);
        return;
    }
    /* pre = conv(in): dW^T += col^T dpre, dcol = dpre W, dinp = col2im(dcol) */
    float *col = scr(c, tid, c->so.col);
    const float *in = kept_input(c, k, n, &vbi);
    im2col(col, in, vbi, l->C_in, l->H_in, l->W_in, l->conv.K, l->kw, l->conv.pad, l->H, l->W, l->kc);
    struct nsid_kpw d = kpw_col(P, l->kc, l->nbo, vb);
    kn->pw_wgrad(part, col, dpre, &d);
    float *dinp = k ? slot : (dx ? dx + (size_t)n * c->in_c * c->in_h * c->in_w : NULL);
    if (!dinp) return;
    struct nsid_kpw dt = {.P = P, .ci = co, .nbo = l->kc / vb, .ldw = l->kc, .in_bs = (size_t)P * vb,
                          .in_ps = (size_t)vb, .out_bs = (size_t)vb, .out_ps = (size_t)l->kc};
    kn->pw_forward(col, dpre, l->pk_w_t, &dt);  /* col now holds dcol (P, kc) */
    if (k) memset(dinp, 0, sizeof(float) * l->in_floats);
    col2im_add(dinp, col, k ? vb : 1, l->C_in, l->H_in, l->W_in, l->conv.K, l->kw, l->conv.pad, l->H, l->W, l->kc);
    if (k) prev_bwd_sums(c, k, n, in);
}

/*
 * Packed elements [lo, hi) of one gradient segment starting at packed element seg:
 * dst[gmap[e]] += the sum over the nch chunk partials (double, chunk order).
 */
static void reduce_segment(const struct nsid_core *c, const struct nsid_core_layer *l, float *dst, size_t seg,
                           size_t lo, size_t hi, int nch)
{
    for (size_t e = lo; e < hi; e++) {
        int32_t to = l->gmap[seg + e];
        if (to < 0) continue;
        double s = 0.0;
        for (int ch = 0; ch < nch; ch++) s += (double)c->part[(size_t)ch * c->max_grad + seg + e];
        dst[to] += (float)s;
    }
}

/* Packed weight-gradient elements [lo, hi) of layer l += the sum over chunks (see grad_map). */
static void reduce_grads(const struct nsid_core *c, struct nsid_core_layer *l, int nch, size_t lo, size_t hi)
{
    if (!l->ds) {
        reduce_segment(c, l, l->dw, 0, lo, hi, nch);
        return;
    }
    size_t co = (size_t)l->nbo * c->kern->vb;
    size_t seg[4] = {0, (size_t)l->nbi * c->kern->vb * co, 0, l->grad_floats};
    seg[2] = seg[1] + co * (size_t)l->conv.K * (size_t)l->conv.K;
    float *dst[3] = {l->dw_in, l->dw_sp, l->dw_out};
    for (int s = 0; s < 3; s++) {
        size_t a = lo > seg[s] ? lo : seg[s], b = hi < seg[s + 1] ? hi : seg[s + 1];
        if (a < b) reduce_segment(c, l, dst[s], seg[s], a - seg[s], b - seg[s], nch);
    }
}

/* The whole backward on thread tid: per layer, sums | coefficients | dpre and convs | reduction. */
static void backward_task(void *arg, int tid, int nt)
{
    struct core_call *call = arg;
    struct nsid_core *c = call->c;
    int N = call->N, clo, chi, nch = (N + NSID_CORE_CHUNK - 1) / NSID_CORE_CHUNK;
    my_chunks(N, tid, nt, &clo, &chi);
    int n0 = clo * NSID_CORE_CHUNK, n1 = chi > clo ? chunk_end(chi - 1, N) : n0;
    if (tid == 0)
        for (int k = 0; k < c->cfg.layers; k++) pack_backward(c, &c->layer[k]);
    /* the last layer's BN sums come from dout; each layer's image backward ends with the sums of the one below */
    for (int n = n0; n < n1; n++) layer_bwd_sums_image(c, c->cfg.layers - 1, n, tid, call->dout);
    nsid_pool_barrier(c->pool);
    for (int k = c->cfg.layers - 1; k >= 0; k--) {
        struct nsid_core_layer *l = &c->layer[k];
        if (tid == 0) layer_bwd_finish(c, l, N, c->last_training);
        nsid_pool_barrier(c->pool);
        for (int ch = clo; ch < chi; ch++) {
            float *part = c->part + (size_t)ch * c->max_grad;
            memset(part, 0, sizeof(float) * l->grad_floats);
            for (int n = ch * NSID_CORE_CHUNK; n < chunk_end(ch, N); n++) layer_bwd_image(c, k, n, tid, part, call->dx);
        }
        nsid_pool_barrier(c->pool);
        int lo, hi;
        nsid_pool_range((int)l->grad_floats, tid, nt, &lo, &hi);
        reduce_grads(c, l, nch, (size_t)lo, (size_t)hi);
    }
}

void nsid_core_backward(struct nsid_core *c, float *dx, const float *dout, int N)
{
    NSID_ASSERT(c->B > 0 && N >= 1 && N <= c->B && nsid_pool_threads(c->pool) <= c->nt && c->grad_ready);
    struct core_call call = {.c = c, .N = N, .training = c->last_training, .dout = dout, .dx = dx};
    nsid_pool_run(c->pool, backward_task, &call);
}

/* ------------------------------------------------------ regulariser */

double nsid_core_regularizer(const struct nsid_core *c)
{
    const struct nsid_core_layer *l = &c->layer[0];
    int K = l->conv.K;
    return c->cfg.gamma_input * nsid_loss_laplace_l2norm_forward(l->w, c->cfg.hidden_channels * l->C_in, K, K);
}

void nsid_core_regularizer_backward(struct nsid_core *c, double scale)
{
    struct nsid_core_layer *l = &c->layer[0];
    int K = l->conv.K;
    nsid_loss_laplace_l2norm_backward(l->dw, l->w, c->cfg.hidden_channels * l->C_in, K, K,
                                 scale * c->cfg.gamma_input);
}

void nsid_core_free(struct nsid_core *c)
{
    if (!c) return;
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------- the core as a model's part */

static int se2d_init(void *core, const struct nsid_core_config *cfg, int in_h, int in_w, struct nsid_params *ps,
                     const char *prefix, int out[3], struct nsid_err *err)
{
    struct nsid_core *c = core;
    int rc = nsid_core_init(c, cfg, in_h, in_w, ps, prefix, err);
    out[0] = c->out_c;
    out[1] = c->out_h;
    out[2] = c->out_w;
    return rc;
}

static void se2d_reset(void *core, struct nsid_rng *rng)
{
    struct nsid_core *c = core;
    nsid_core_reset_parameters(c, rng);
    for (int k = 0; k < c->cfg.layers; k++) c->layer[k].num_batches_tracked = 0;
}

static int se2d_set_compute(void *core, const struct nsid_kern *kern, struct nsid_pool *pool, int vb,
                            struct nsid_err *err)
{
    struct nsid_core *c = core;
    c->kern = kern;
    nsid_core_set_pool(c, pool);
    return nsid_core_set_output_layout(c, vb, err);
}

static size_t se2d_out_floats(const void *core)
{
    return nsid_core_out_floats(core);
}

static int se2d_bind_state(void *core, struct nsid_arena *a, int B, struct nsid_err *err)
{
    return nsid_core_bind_state(core, a, B, err);
}

/* A frozen core or evaluation keeps no state for a backward (nsid_core_forward_nograd). */
static const float *se2d_forward(void *core, const float *x, int B, bool training, bool keep_grad, int scan,
                                 const int64_t *trials)
{
    struct nsid_core *c = core;
    (void)scan;
    (void)trials;
    if (keep_grad)
        nsid_core_forward(c, x, B, true);
    else
        nsid_core_forward_nograd(c, x, B, training);
    return c->out;
}

static void se2d_backward(void *core, const float *dout, int B)
{
    nsid_core_backward(core, NULL, dout, B);
}

static double se2d_regularizer(const void *core)
{
    return nsid_core_regularizer(core);
}

static void se2d_regularizer_backward(void *core, double scale)
{
    nsid_core_regularizer_backward(core, scale);
}

static int se2d_ints(void *core, const char *prefix, struct nsid_checkpoint_i64 *e)
{
    struct nsid_core *c = core;
    for (int k = 0; e && k < c->cfg.layers; k++) {
        snprintf(e[k].name, sizeof e[k].name, "%s.features.layer%d.norm.num_batches_tracked", prefix, k);
        e[k].ndim = 0;
        e[k].len = 1;
        e[k].data = &c->layer[k].num_batches_tracked;
    }
    return c->cfg.layers;
}

static int se2d_arch_json(const void *core, char *buf, size_t n)
{
    const struct nsid_core_config *c = &((const struct nsid_core *)core)->cfg;
    return snprintf(buf, n,
                    "{\"input_channels\":%d,\"layers\":%d,\"hidden_channels\":%d,\"input_kern\":%d,"
                    "\"hidden_kern\":%d,\"pad_input\":%s,\"depth_separable\":%s,\"bn_momentum\":%.17g,"
                    "\"bn_eps\":%.17g,\"gamma_input\":%.17g}",
                    c->input_channels, c->layers, c->hidden_channels, c->input_kern, c->hidden_kern,
                    c->pad_input ? "true" : "false", c->depth_separable ? "true" : "false", c->bn_momentum,
                    c->bn_eps, c->gamma_input);
}

static void se2d_free(void *core)
{
    nsid_core_free(core);
}

const struct nsid_core_ops nsid_core_se2d_ops = {
    .name = "se2d",
    .size = sizeof(struct nsid_core),
    .trainable = true,
    .serial_loss = false,
    .arch_format = "nsid-model",
    .arch_model_parts = true,
    .init = se2d_init,
    .reset = se2d_reset,
    .set_compute = se2d_set_compute,
    .blocked_output = true,
    .out_floats = se2d_out_floats,
    .bind_state = se2d_bind_state,
    .forward = se2d_forward,
    .backward = se2d_backward,
    .regularizer = se2d_regularizer,
    .regularizer_backward = se2d_regularizer_backward,
    .ints = se2d_ints,
    .arch_json = se2d_arch_json,
    .load = NULL,
    .set_cache = NULL,
    .free = se2d_free,
};
