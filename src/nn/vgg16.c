/* vgg16.c - VGG16 up to conv2_2 + BN + ReLU, frozen; HDF5 weights in two layouts (see vgg16.h). */
#include "vgg16.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/h5util.h"
#include "nn/act.h"
#include "nn/batchnorm.h"
#include "base/infile.h"

/* The four convolutions: torchvision index, Keras layer name, output channels. */
static const struct {
    int index;
    const char *keras;
    int out;
} CONVS[NSID_VGG16_CONVS] = {
    {0, "block1_conv1", 64},
    {2, "block1_conv2", 64},
    {5, "block2_conv1", 128},
    {7, "block2_conv2", 128},
};

#define VGG_OUT_C 128

/* ---------------------------------------------------------------- config, init */

void nsid_vgg16_config_default(struct nsid_vgg16_config *cfg)
{
    cfg->input_channels = 1;
    cfg->bn_momentum = 0.1;
    cfg->bn_eps = 1e-5;
}

static int check_config(const struct nsid_vgg16_config *cfg, int in_h, int in_w, struct nsid_err *err)
{
    if (cfg->input_channels != 1 && cfg->input_channels != 3)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "vgg16.input_channels",
                            "%d: VGG16 takes grey (1, repeated) or RGB (3) images", cfg->input_channels);
    if (!(cfg->bn_momentum >= 0.0 && cfg->bn_momentum <= 1.0))
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "model.core.vgg_bn_momentum", "%g not in [0, 1]",
                            cfg->bn_momentum);
    if (!(cfg->bn_eps > 0.0 && cfg->bn_eps < 1.0))
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "model.core.bn_eps", "%g not in (0, 1)", cfg->bn_eps);
    if (in_h < 2 || in_w < 2 || in_h > 1 << 15 || in_w > 1 << 15)
        return nsid_err_set(err, NSID_ESHAPE, NULL, 0, "images",
                            "%dx%d: VGG16's max-pool needs images of at least 2x2", in_h, in_w);
    return 0;
}

/* Register "<prefix>.<local>". */
static int reg(struct nsid_params *ps, const char *prefix, const char *local, int kind, int ndim,
               const int *shape, float **view, struct nsid_err *err)
{
    char name[NSID_PARAM_NAME_MAX];
    int len = prefix && *prefix ? snprintf(name, sizeof name, "%s.%s", prefix, local)
                                : snprintf(name, sizeof name, "%s", local);
    if (len < 0 || (size_t)len >= sizeof name)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, local, "tensor name with prefix '%s' too long", prefix);
    return nsid_params_add(ps, name, kind, ndim, shape, view, NULL, err);
}

int nsid_vgg16_init(struct nsid_vgg16 *v, const struct nsid_vgg16_config *cfg, int in_h, int in_w,
                    struct nsid_params *ps, const char *prefix, struct nsid_err *err)
{
    memset(v, 0, sizeof *v);
    int rc = check_config(cfg, in_h, in_w, err);
    if (rc < 0) return rc;
    v->cfg = *cfg;
    v->in_h = in_h;
    v->in_w = in_w;
    int C = 3, H = in_h, W = in_w;
    for (int k = 0; k < NSID_VGG16_CONVS; k++) {
        if (k == 2) { /* max-pool before conv2_1 */
            H /= 2;
            W /= 2;
        }
        v->conv[k] = (struct nsid_conv_dims){.N = 0, .C = C, .H = H, .W = W, .O = CONVS[k].out, .K = 3, .pad = 1};
        size_t ws = nsid_conv2d_workspace_floats(&v->conv[k]);
        if (ws > v->ws_floats) v->ws_floats = ws;
        C = CONVS[k].out;
    }
    v->out_c = VGG_OUT_C;
    v->out_h = H;
    v->out_w = W;
    char local[96];
    for (int k = 0; k < NSID_VGG16_CONVS && rc == 0; k++) {
        const struct nsid_conv_dims *d = &v->conv[k];
        snprintf(local, sizeof local, "features.TransferLearning.%d.weight", CONVS[k].index);
        rc = reg(ps, prefix, local, NSID_PARAM_WEIGHT, 4, (int[]){d->O, d->C, 3, 3}, &v->w[k], err);
        snprintf(local, sizeof local, "features.TransferLearning.%d.bias", CONVS[k].index);
        if (rc == 0) rc = reg(ps, prefix, local, NSID_PARAM_WEIGHT, 1, (int[]){d->O}, &v->b[k], err);
    }
    const int c1[1] = {VGG_OUT_C};
    if (rc == 0) rc = reg(ps, prefix, "features.OutBatchNorm.weight", NSID_PARAM_WEIGHT, 1, c1, &v->bn_gamma, err);
    if (rc == 0) rc = reg(ps, prefix, "features.OutBatchNorm.bias", NSID_PARAM_WEIGHT, 1, c1, &v->bn_beta, err);
    if (rc == 0)
        rc = reg(ps, prefix, "features.OutBatchNorm.running_mean", NSID_PARAM_BUFFER, 1, c1, &v->running_mean, err);
    if (rc == 0)
        rc = reg(ps, prefix, "features.OutBatchNorm.running_var", NSID_PARAM_BUFFER, 1, c1, &v->running_var, err);
    if (rc < 0) memset(v, 0, sizeof *v);
    return rc;
}

void nsid_vgg16_reset_parameters(struct nsid_vgg16 *v, struct nsid_rng *rng)
{
    for (int k = 0; k < NSID_VGG16_CONVS; k++) {
        const struct nsid_conv_dims *d = &v->conv[k];
        size_t n = (size_t)d->O * (size_t)d->C * 9;
        double std = sqrt(2.0 / ((double)d->O * 9.0));
        for (size_t i = 0; i < n; i++) v->w[k][i] = (float)(std * nsid_rng_normal(rng));
        memset(v->b[k], 0, sizeof(float) * (size_t)d->O);
    }
    for (int c = 0; c < VGG_OUT_C; c++) {
        v->bn_gamma[c] = 1.0f;
        v->bn_beta[c] = 0.0f;
        v->running_mean[c] = 0.0f;
        v->running_var[c] = 1.0f;
    }
    v->num_batches_tracked = 0;
}

size_t nsid_vgg16_out_floats(const struct nsid_vgg16 *v)
{
    return (size_t)v->out_c * (size_t)v->out_h * (size_t)v->out_w;
}

/* ---------------------------------------------------------------- HDF5 weights */

/* True if every component of the relative path exists (H5Lexists fails on a missing parent). */
static bool h5_exists(hid_t loc, const char *path)
{
    char part[512];
    size_t n = strlen(path);
    if (n >= sizeof part) return false;
    for (size_t i = 0; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        memcpy(part, path, i);
        part[i] = '\0';
        if (i == 0) continue;
        if (H5Lexists(loc, part, H5P_DEFAULT) <= 0) return false;
    }
    return true;
}

/*
 * Read the float dataset loc/path into out after checking its shape against want
 * (ndim entries). Any float or integer type is converted by HDF5.
 */
static int read_tensor(hid_t loc, const char *path, const char *file, int ndim, const hsize_t *want, float *out,
                       struct nsid_err *err)
{
    hid_t d = H5Dopen2(loc, path, H5P_DEFAULT);
    if (d < 0) return nsid_err_set(err, NSID_ENOTFOUND, file, 0, path, "cannot open the dataset");
    int rc = 0;
    hid_t sp = H5Dget_space(d), ty = H5Dget_type(d);
    hsize_t dims[8] = {0};
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (nd >= 0 && nd <= 8) H5Sget_simple_extent_dims(sp, dims, NULL);
    char got[128] = "(", wanted[128] = "(";
    for (int i = 0; i < nd && i < 8; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", i ? "," : "", (unsigned long long)dims[i]);
    for (int i = 0; i < ndim; i++)
        snprintf(wanted + strlen(wanted), sizeof wanted - strlen(wanted), "%s%llu", i ? "," : "",
                 (unsigned long long)want[i]);
    strncat(got, ")", sizeof got - strlen(got) - 1);
    strncat(wanted, ")", sizeof wanted - strlen(wanted) - 1);
    H5T_class_t cls = ty >= 0 ? H5Tget_class(ty) : H5T_NO_CLASS;
    bool same = nd == ndim;
    for (int i = 0; same && i < ndim; i++) same = dims[i] == want[i];
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
        rc = nsid_err_set(err, NSID_EFORMAT, file, 0, path, "not a numeric dataset");
    else if (!same)
        rc = nsid_err_set(err, NSID_ESHAPE, file, 0, path, "shape %s, expected %s", got, wanted);
    else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        rc = nsid_err_set(err, NSID_EIO, file, 0, path, "read failed (damaged or truncated file?)");
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

/* Element i of a string attribute (fixed or variable length) into buf. */
static int attr_string(hid_t loc, const char *attr, int i, char *buf, size_t n)
{
    buf[0] = '\0';
    hid_t a = H5Aopen(loc, attr, H5P_DEFAULT);
    if (a < 0) return -1;
    int rc = -1;
    hid_t ty = H5Aget_type(a), sp = H5Aget_space(a);
    hssize_t count = H5Sget_simple_extent_npoints(sp);
    if (H5Tget_class(ty) == H5T_STRING && i < count) {
        if (H5Tis_variable_str(ty) > 0) {
            struct nsid_err ignored = {0}; /* the caller reports the failure */
            char **v = NSID_CALLOC((size_t)count * sizeof *v, &ignored);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            if (v && H5Aread(a, mt, v) >= 0) {
                snprintf(buf, n, "%s", v[i] ? v[i] : "");
                rc = 0;
                H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
            }
            H5Tclose(mt);
            nsid_alloc_free(v);
        } else {
            size_t w = H5Tget_size(ty);
            struct nsid_err ignored = {0}; /* the caller reports the failure */
            char *all = NSID_CALLOC((size_t)count * (w + 1), &ignored);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, w);
            H5Tset_strpad(mt, H5T_STR_NULLPAD);
            if (all && H5Aread(a, mt, all) >= 0) {
                size_t len = strnlen(all + (size_t)i * w, w);
                if (len >= n) len = n - 1;
                memcpy(buf, all + (size_t)i * w, len);
                buf[len] = '\0';
                rc = 0;
            }
            H5Tclose(mt);
            nsid_alloc_free(all);
        }
    }
    H5Sclose(sp);
    H5Tclose(ty);
    H5Aclose(a);
    return rc;
}

/* torchvision layout: features.<i>.weight (O,C,3,3) / .bias (O), flat or nested names. */
static int load_torchvision(hid_t f, const struct nsid_vgg16 *v, const char *file, float **w, float **b,
                            struct nsid_err *err)
{
    for (int k = 0; k < NSID_VGG16_CONVS; k++) {
        const struct nsid_conv_dims *d = &v->conv[k];
        char pw[64], pb[64];
        snprintf(pw, sizeof pw, "features.%d.weight", CONVS[k].index);
        snprintf(pb, sizeof pb, "features.%d.bias", CONVS[k].index);
        if (!h5_exists(f, pw)) {
            snprintf(pw, sizeof pw, "features/%d/weight", CONVS[k].index);
            snprintf(pb, sizeof pb, "features/%d/bias", CONVS[k].index);
        }
        if (!h5_exists(f, pw))
            return nsid_err_set(err, NSID_ENOTFOUND, file, 0, pw, "missing (torchvision layout: features.%d.weight)",
                                CONVS[k].index);
        if (!h5_exists(f, pb))
            return nsid_err_set(err, NSID_ENOTFOUND, file, 0, pb, "missing (torchvision layout)");
        hsize_t ws[4] = {(hsize_t)d->O, (hsize_t)d->C, 3, 3}, bs[1] = {(hsize_t)d->O};
        int rc = read_tensor(f, pw, file, 4, ws, w[k], err);
        if (rc == 0) rc = read_tensor(f, pb, file, 1, bs, b[k], err);
        if (rc < 0) return rc;
    }
    return 0;
}

/* The kernel and bias dataset paths of a Keras layer group (weight_names, else known names). */
static int keras_names(hid_t g, const char *layer, char *kw, char *kb, size_t n)
{
    if (attr_string(g, "weight_names", 0, kw, n) == 0 && attr_string(g, "weight_names", 1, kb, n) == 0 &&
        h5_exists(g, kw) && h5_exists(g, kb))
        return 0;
    static const char *const pats[][2] = {{"%s_W_1:0", "%s_b_1:0"}, {"%s/kernel:0", "%s/bias:0"},
                                          {"%s_W:0", "%s_b:0"}};
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        snprintf(kw, n, pats[i][0], layer);
        snprintf(kb, n, pats[i][1], layer);
        if (h5_exists(g, kw) && h5_exists(g, kb)) return 0;
    }
    return -1;
}

/* Keras layout: groups block<b>_conv<c>, kernels (3,3,Cin,Cout) transposed to (Cout,Cin,3,3). */
static int load_keras(hid_t f, const struct nsid_vgg16 *v, const char *file, float **w, float **b,
                      struct nsid_err *err)
{
    for (int k = 0; k < NSID_VGG16_CONVS; k++) {
        const struct nsid_conv_dims *d = &v->conv[k];
        const char *layer = CONVS[k].keras;
        if (!h5_exists(f, layer))
            return nsid_err_set(err, NSID_ENOTFOUND, file, 0, layer, "missing layer group (Keras layout)");
        hid_t g = H5Gopen2(f, layer, H5P_DEFAULT);
        if (g < 0) return nsid_err_set(err, NSID_EFORMAT, file, 0, layer, "not a group");
        char kw[256], kb[256], path[300];
        int rc = 0;
        if (keras_names(g, layer, kw, kb, sizeof kw) < 0)
            rc = nsid_err_set(err, NSID_ENOTFOUND, file, 0, layer,
                              "no kernel and bias (weight_names, %s_W_1:0 or %s/kernel:0)", layer, layer);
        float *tf = NULL;
        size_t n = (size_t)d->O * (size_t)d->C * 9;
        if (rc == 0 && !(tf = NSID_ALLOC(n * sizeof *tf, err))) rc = NSID_ENOMEM;
        hsize_t ks[4] = {3, 3, (hsize_t)d->C, (hsize_t)d->O}, bs[1] = {(hsize_t)d->O};
        snprintf(path, sizeof path, "%s/%s", layer, kw);
        if (rc == 0) rc = read_tensor(g, kw, file, 4, ks, tf, err);
        if (rc < 0 && strcmp(err->key, kw) == 0) snprintf(err->key, sizeof err->key, "%.250s", path);
        snprintf(path, sizeof path, "%s/%s", layer, kb);
        if (rc == 0) rc = read_tensor(g, kb, file, 1, bs, b[k], err);
        if (rc < 0 && strcmp(err->key, kb) == 0) snprintf(err->key, sizeof err->key, "%.250s", path);
        for (size_t i = 0; rc == 0 && i < n; i++) { /* tf[y][x][c][o] -> w[o][c][y][x] */
            size_t o = i % (size_t)d->O, c = (i / (size_t)d->O) % (size_t)d->C, yx = i / ((size_t)d->O * (size_t)d->C);
            w[k][(o * (size_t)d->C + c) * 9 + yx] = tf[i];
        }
        nsid_alloc_free(tf);
        H5Gclose(g);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Which layout a file holds: 0 torchvision, 1 Keras, -1 neither. */
static int detect_layout(hid_t f)
{
    if (h5_exists(f, "features.0.weight") || h5_exists(f, "features/0/weight")) return NSID_VGG16_LAYOUT_TORCHVISION;
    if (h5_exists(f, "block1_conv1")) return NSID_VGG16_LAYOUT_KERAS;
    return -1;
}

int nsid_vgg16_load(struct nsid_vgg16 *v, const char *path, int *layout, struct nsid_err *err)
{
    if (nsid_infile_check(path, "model.core.checkpoint", err) < 0)
        return err->code == NSID_ENOTFOUND
                   ? (nsid_err_clear(err), nsid_err_set(err, NSID_ENOTFOUND, path, 0, "model.core.checkpoint", "VGG16 weights file not found"))
                   : err->code;
    struct nsid_h5_quiet q; /* we report through nsid_err, not HDF5's printed stack */
    int rc = 0;
    float *w[NSID_VGG16_CONVS] = {0}, *b[NSID_VGG16_CONVS] = {0};
    hid_t f = nsid_h5util_open_quiet(path, &q, "model.core.checkpoint", "not an HDF5 file", false, err);
    if (f < 0) {
        rc = err->code;
        goto out;
    }
    for (int k = 0; k < NSID_VGG16_CONVS; k++) {
        size_t nw = (size_t)v->conv[k].O * (size_t)v->conv[k].C * 9;
        w[k] = NSID_ALLOC(nw * sizeof(float), err);
        b[k] = NSID_ALLOC((size_t)v->conv[k].O * sizeof(float), err);
        if (!w[k] || !b[k]) {
            rc = NSID_ENOMEM;
            goto out_close;
        }
    }
    int lay = detect_layout(f);
    if (lay == NSID_VGG16_LAYOUT_TORCHVISION) rc = load_torchvision(f, v, path, w, b, err);
    else if (lay == NSID_VGG16_LAYOUT_KERAS) rc = load_keras(f, v, path, w, b, err);
    else
        rc = nsid_err_set(err, NSID_EFORMAT, path, 0, "model.core.checkpoint",
                          "neither VGG16 layout: no features.0.weight (torchvision) and no block1_conv1 (Keras)");
    for (int k = 0; rc == 0 && k < NSID_VGG16_CONVS; k++) {
        size_t nw = (size_t)v->conv[k].O * (size_t)v->conv[k].C * 9;
        for (size_t i = 0; i < nw && rc == 0; i++)
            if (!isfinite(w[k][i]))
                rc = nsid_err_set(err, NSID_EFORMAT, path, 0, CONVS[k].keras, "weight %zu is not finite", i);
        for (int i = 0; i < v->conv[k].O && rc == 0; i++)
            if (!isfinite(b[k][i]))
                rc = nsid_err_set(err, NSID_EFORMAT, path, 0, CONVS[k].keras, "bias %d is not finite", i);
    }
    if (rc == 0) {
        for (int k = 0; k < NSID_VGG16_CONVS; k++) {
            memcpy(v->w[k], w[k], (size_t)v->conv[k].O * (size_t)v->conv[k].C * 9 * sizeof(float));
            memcpy(v->b[k], b[k], (size_t)v->conv[k].O * sizeof(float));
        }
        if (layout) *layout = lay;
    }
out_close:
    H5Fclose(f);
out:
    for (int k = 0; k < NSID_VGG16_CONVS; k++) {
        nsid_alloc_free(w[k]);
        nsid_alloc_free(b[k]);
    }
    nsid_h5util_quiet_end(&q);
    return rc;
}

/* ---------------------------------------------------------------- state, forward */

int nsid_vgg16_bind_state(struct nsid_vgg16 *v, struct nsid_arena *a, int B, struct nsid_err *err)
{
    if (B < 1) return nsid_err_set(err, NSID_EINVAL, NULL, 0, "batch_size", "%d must be positive", B);
    size_t plane = (size_t)v->in_h * (size_t)v->in_w;
    size_t big = (size_t)B * 64 * plane;   /* conv1 outputs: the largest activation */
    size_t out = (size_t)B * nsid_vgg16_out_floats(v);
    if (out > big) big = out;
    if (!(v->x3 = nsid_alloc_arena_floats(a, (size_t)B * 3 * plane, err))) return NSID_ENOMEM;
    for (int i = 0; i < 2; i++)
        if (!(v->buf[i] = nsid_alloc_arena_floats(a, big, err))) return NSID_ENOMEM;
    if (!(v->ws = nsid_alloc_arena_floats(a, v->ws_floats, err))) return NSID_ENOMEM;
    if (!(v->bn_mean = nsid_alloc_arena_floats(a, VGG_OUT_C, err))) return NSID_ENOMEM;
    if (!(v->bn_rstd = nsid_alloc_arena_floats(a, VGG_OUT_C, err))) return NSID_ENOMEM;
    if (!(v->out = nsid_alloc_arena_floats(a, out, err))) return NSID_ENOMEM;
    v->B = B;
    return 0;
}

/* conv k of a batch of N: out = conv(inp) + bias. */
static void conv(struct nsid_vgg16 *v, int k, float *out, const float *inp, int N)
{
    struct nsid_conv_dims d = v->conv[k];
    d.N = N;
    nsid_conv2d_forward(out, v->ws, inp, v->w[k], v->b[k], &d);
}

void nsid_vgg16_forward_convs(struct nsid_vgg16 *v, float *out, const float *x, int N)
{
    NSID_ASSERT(N >= 1 && N <= v->B);
    size_t plane = (size_t)v->in_h * (size_t)v->in_w;
    const float *in = x;
    if (v->cfg.input_channels == 1) { /* input_.repeat(1, 3, 1, 1) */
        for (int n = 0; n < N; n++)
            for (int c = 0; c < 3; c++) memcpy(v->x3 + ((size_t)n * 3 + (size_t)c) * plane, x + (size_t)n * plane,
                                               plane * sizeof(float));
        in = v->x3;
    }
    float *a = v->buf[0], *b = v->buf[1];
    size_t n1 = (size_t)N * 64 * plane, n2 = (size_t)N * VGG_OUT_C * (size_t)v->conv[2].H * (size_t)v->conv[2].W;
    conv(v, 0, a, in, N);
    nsid_act_relu_forward(a, a, n1);
    conv(v, 1, b, a, N);
    nsid_act_relu_forward(b, b, n1);
    nsid_act_maxpool2_forward(a, b, N, 64, v->in_h, v->in_w);
    conv(v, 2, b, a, N);
    nsid_act_relu_forward(b, b, n2);
    conv(v, 3, out, b, N);
}

void nsid_vgg16_forward_bn(struct nsid_vgg16 *v, const float *conv_out, int N, bool training)
{
    struct nsid_bn_dims d = {.N = N, .C = VGG_OUT_C, .HW = v->out_h * v->out_w, .eps = v->cfg.bn_eps,
                             .momentum = v->cfg.bn_momentum};
    nsid_batchnorm_forward(v->out, v->bn_mean, v->bn_rstd, v->running_mean, v->running_var, conv_out, v->bn_gamma,
                           v->bn_beta, &d, training);
    if (training) v->num_batches_tracked++;
    nsid_act_relu_forward(v->out, v->out, (size_t)N * nsid_vgg16_out_floats(v));
}

void nsid_vgg16_forward(struct nsid_vgg16 *v, const float *x, int N, bool training)
{
    /* conv2_2's output goes to buf[0] (free after conv2_1), then BN writes v->out */
    nsid_vgg16_forward_convs(v, v->buf[0], x, N);
    nsid_vgg16_forward_bn(v, v->buf[0], N, training);
}

void nsid_vgg16_free(struct nsid_vgg16 *v)
{
    if (!v) return;
    for (int s = 0; s < v->n_cache; s++) {
        if (v->cache) nsid_alloc_free(v->cache[s]);
        if (v->cached) nsid_alloc_free(v->cached[s]);
    }
    nsid_alloc_free(v->cache);
    nsid_alloc_free(v->cached);
    memset(v, 0, sizeof *v);
}

/* ------------------------------------------------------- the core as a model's part */

static int core_init(void *core, const struct nsid_core_config *cfg, int in_h, int in_w, struct nsid_params *ps,
                     const char *prefix, int out[3], struct nsid_err *err)
{
    struct nsid_vgg16 *v = core;
    struct nsid_vgg16_config vc;
    nsid_vgg16_config_default(&vc);
    vc.input_channels = cfg->input_channels;
    vc.bn_momentum = cfg->bn_momentum;
    vc.bn_eps = cfg->bn_eps;
    int rc = nsid_vgg16_init(v, &vc, in_h, in_w, ps, prefix, err);
    out[0] = v->out_c;
    out[1] = v->out_h;
    out[2] = v->out_w;
    return rc;
}

static void core_reset(void *core, struct nsid_rng *rng)
{
    nsid_vgg16_reset_parameters(core, rng);
}

/* The convolutions run on conv.c's BLAS path: neither kernel set nor pool is used. */
static int core_set_compute(void *core, const struct nsid_kern *kern, struct nsid_pool *pool, int vb,
                            struct nsid_err *err)
{
    (void)core;
    (void)kern;
    (void)pool;
    if (vb > 1) return nsid_err_set(err, NSID_EINVAL, NULL, 0, "core.layout", "the vgg16 core gives NCHW only");
    return 0;
}

static size_t core_out_floats(const void *core)
{
    return nsid_vgg16_out_floats(core);
}

static int core_bind_state(void *core, struct nsid_arena *a, int B, struct nsid_err *err)
{
    return nsid_vgg16_bind_state(core, a, B, err);
}

/* The output of batch x, the convolutions from the cache where possible. */
static const float *core_forward(void *core, const float *x, int B, bool training, bool keep_grad, int s,
                                 const int64_t *tr)
{
    struct nsid_vgg16 *v = core;
    (void)keep_grad;
    if (!v->cache || s >= v->n_cache || !v->cache[s] || !tr) {
        nsid_vgg16_forward(v, x, B, training);
        return v->out;
    }
    size_t F = nsid_vgg16_out_floats(v), P = (size_t)v->cfg.input_channels * (size_t)v->in_h * (size_t)v->in_w;
    for (int i = 0; i < B; i++) /* per image: conv2d runs image by image, so this is bit-identical */
        if (!v->cached[s][tr[i]]) {
            nsid_vgg16_forward_convs(v, v->cache[s] + (size_t)tr[i] * F, x + (size_t)i * P, 1);
            v->cached[s][tr[i]] = 1;
        }
    float *conv = v->buf[0];
    for (int i = 0; i < B; i++) memcpy(conv + (size_t)i * F, v->cache[s] + (size_t)tr[i] * F, F * sizeof(float));
    nsid_vgg16_forward_bn(v, conv, B, training);
    return v->out;
}

static int core_ints(void *core, const char *prefix, struct nsid_checkpoint_i64 *e)
{
    struct nsid_vgg16 *v = core;
    if (e) {
        snprintf(e->name, sizeof e->name, "%s.features.OutBatchNorm.num_batches_tracked", prefix);
        e->ndim = 0;
        e->len = 1;
        e->data = &v->num_batches_tracked;
    }
    return 1;
}

static int core_arch_json(const void *core, char *buf, size_t n)
{
    const struct nsid_vgg16 *v = core;
    return snprintf(buf, n, "{\"type\":\"vgg16\",\"layers\":8,\"bn_momentum\":%.17g,\"bn_eps\":%.17g,\"image\":[%d,%d,%d]}",
                    v->cfg.bn_momentum, v->cfg.bn_eps, v->cfg.input_channels, v->in_h, v->in_w);
}

static int core_load(void *core, const char *path, char *what, size_t n, struct nsid_err *err)
{
    int layout = -1;
    int rc = nsid_vgg16_load(core, path, &layout, err);
    if (rc == 0) snprintf(what, n, "%s layout", layout == NSID_VGG16_LAYOUT_KERAS ? "keras" : "torchvision");
    return rc;
}

static int core_set_cache(void *core, int n_scans, const int64_t *n_trials, size_t max_bytes, size_t *bytes,
                          struct nsid_err *err)
{
    struct nsid_vgg16 *v = core;
    *bytes = 0;
    if (v->cache) return 0;
    size_t F = nsid_vgg16_out_floats(v) * sizeof(float), need = 0;
    for (int s = 0; s < n_scans; s++) need += (size_t)n_trials[s] * (F + 1);
    if (need > max_bytes) return 0;
    v->cache = NSID_CALLOC((size_t)n_scans * sizeof *v->cache, err);
    v->cached = NSID_CALLOC((size_t)n_scans * sizeof *v->cached, err);
    if (!v->cache || !v->cached) return NSID_ENOMEM;
    v->n_cache = n_scans;
    for (int s = 0; s < n_scans; s++) {
        v->cache[s] = NSID_ALLOC((size_t)n_trials[s] * F, err);
        v->cached[s] = NSID_CALLOC((size_t)n_trials[s], err);
        if (!v->cache[s] || !v->cached[s]) return NSID_ENOMEM;
    }
    *bytes = need;
    return 0;
}

static void core_free(void *core)
{
    nsid_vgg16_free(core);
}

const struct nsid_core_ops nsid_vgg16_core_ops = {
    .name = "vgg16",
    .size = sizeof(struct nsid_vgg16),
    .trainable = false,
    .serial_loss = true,
    .arch_format = "nsid-taskdriven",
    .arch_model_parts = false,
    .init = core_init,
    .reset = core_reset,
    .set_compute = core_set_compute,
    .blocked_output = false,
    .out_floats = core_out_floats,
    .bind_state = core_bind_state,
    .forward = core_forward,
    .backward = NULL,
    .regularizer = NULL,
    .regularizer_backward = NULL,
    .ints = core_ints,
    .arch_json = core_arch_json,
    .load = core_load,
    .set_cache = core_set_cache,
    .free = core_free,
};
