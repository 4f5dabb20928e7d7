/*
 * readout_gaussian.c - FullGaussian2d (PAPER.md §2.1-§2.3).
 *
 * Per neuron n: features w (C), S (2x2), mu (2, free or predicted), bias.
 *   pre_{b,n} = S_n z_{b,n} + mu_n            z ~ N(0,I) in training, 0 in evaluation
 *   pos_{b,n} = clamp(pre_{b,n}, -1, 1) + shift_b
 *   y_{b,n}   = sum_c w_{c,n} grid_sample(x_b, pos_{b,n})_c + bias_n
 * With sharing, w_{c,n} = scales_n * _features[c, idx(n)] (owner's _features).
 */
#include "readout_int.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------- init */

static int init_predictor(struct nsid_readout *r, struct nsid_params *ps, const char *prefix,
                          struct nsid_err *err)
{
    const struct nsid_readout_config *c = &r->cfg;
    int L = c->gmp_hidden_layers + 1;
    int widths[NSID_MLP_MAX_LAYERS + 1], acts[NSID_MLP_MAX_LAYERS];
    widths[0] = 2;
    for (int i = 0; i < L; i++) {
        bool last = i == L - 1;
        widths[i + 1] = last ? 2 : c->gmp_hidden_features;
        /* Sequential: Linear, then ELU before every further Linear, Tanh at the end if asked */
        acts[i] = !last ? NSID_MLP_ACT_ELU : (c->gmp_final_tanh ? NSID_MLP_ACT_TANH : NSID_MLP_ACT_NONE);
    }
    char name[NSID_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s.mu_transform", prefix);
    return nsid_mlp_init(&r->gmp, L, widths, acts, ps, name, err);
}

int nsid__gaussian_init(struct nsid_readout *r, struct nsid_params *ps, const char *prefix,
                        struct nsid_err *err)
{
    int N = r->N, C = r->C, rc;
    bool gmp = r->cfg.grid_mean_predictor;
    /* registration order = torch's state_dict order: own parameters, buffers, then mu_transform */
    if (!gmp) {
        rc = nsid__readout_add(ps, prefix, "_mu", NSID_PARAM_WEIGHT, 4, (int[]){1, N, 1, 2},
                               &r->mu, &r->dmu, err);
        if (rc < 0) return rc;
    }
    rc = nsid__readout_add(ps, prefix, "sigma", NSID_PARAM_WEIGHT, 4, (int[]){1, N, 2, 2},
                           &r->sigma, &r->dsigma, err);
    if (rc < 0) return rc;
    if (r->owner == r) {
        int nf = r->shared ? r->n_ids : N;
        rc = nsid__readout_add(ps, prefix, "_features", NSID_PARAM_WEIGHT, 4, (int[]){1, C, 1, nf},
                               &r->features, &r->dfeatures, err);
        if (rc < 0) return rc;
    }
    if (r->shared) {
        rc = nsid__readout_add(ps, prefix, "scales", NSID_PARAM_WEIGHT, 4, (int[]){1, 1, 1, N},
                               &r->scales, &r->dscales, err);
        if (rc < 0) return rc;
    }
    rc = nsid__readout_add(ps, prefix, "bias", NSID_PARAM_WEIGHT, 1, (int[]){N}, &r->bias, &r->dbias, err);
    if (rc < 0) return rc;
    if (gmp) {
        rc = nsid__readout_add(ps, prefix, "source_grid", NSID_PARAM_BUFFER, 2, (int[]){N, 2},
                               &r->source_grid, NULL, err);
        if (rc < 0) return rc;
    }
    return gmp ? init_predictor(r, ps, prefix, err) : 0;
}

/* W = scale * Q, Q the orthogonal factor (positive R diagonal) of a Gaussian 2x2 matrix. */
static void ortho2(float *w, double scale, struct nsid_rng *rng)
{
    double z[4];
    for (int k = 0; k < 4; k++) z[k] = nsid_rng_normal(rng);
    double a1[2] = {z[0], z[2]}, a2[2] = {z[1], z[3]};       /* columns */
    double n1 = hypot(a1[0], a1[1]);
    double q1[2] = {a1[0] / n1, a1[1] / n1};
    double r12 = q1[0] * a2[0] + q1[1] * a2[1];
    double v[2] = {a2[0] - r12 * q1[0], a2[1] - r12 * q1[1]};
    double n2 = hypot(v[0], v[1]);
    double q2[2] = {v[0] / n2, v[1] / n2};
    w[0] = (float)(scale * q1[0]); w[1] = (float)(scale * q2[0]);
    w[2] = (float)(scale * q1[1]); w[3] = (float)(scale * q2[1]);
}

static void reset_predictor(struct nsid_readout *r, struct nsid_rng *rng)
{
    struct nsid_mlp *m = &r->gmp;
    double noise = r->cfg.init_noise;
    /* FullGaussian2d.initialize: biases N(0, noise); a lone Linear gets scale * orthogonal */
    bool lone = m->n_layers == 1 && m->layer[0].act == NSID_MLP_ACT_NONE;
    for (int i = 0; i < m->n_layers; i++) {
        struct nsid_mlp_layer *l = &m->layer[i];
        if (lone) {
            ortho2(l->w, r->cfg.init_transform_scale, rng);
        } else {
            double bound = 1.0 / sqrt((double)l->in);
            for (int k = 0; k < l->out * l->in; k++)
                l->w[k] = (float)nsid_rng_uniform_range(rng, -bound, bound);
        }
        for (int k = 0; k < l->out; k++) l->b[k] = (float)(noise * nsid_rng_normal(rng));
    }
}

void nsid__gaussian_reset(struct nsid_readout *r, struct nsid_rng *rng)
{
    int N = r->N, C = r->C;
    const struct nsid_readout_config *c = &r->cfg;
    if (r->mu)
        for (int k = 0; k < 2 * N; k++)
            r->mu[k] = (float)nsid_rng_uniform_range(rng, -c->init_mu_range, c->init_mu_range);
    for (int k = 0; k < 4 * N; k++)
        r->sigma[k] = (float)nsid_rng_uniform_range(rng, -c->init_sigma, c->init_sigma);
    if (r->owner == r) {
        size_t nf = (size_t)C * (r->shared ? r->n_ids : N);
        for (size_t k = 0; k < nf; k++) r->features[k] = (float)(c->init_noise * nsid_rng_normal(rng));
    }
    if (c->grid_mean_predictor) reset_predictor(r, rng);
    if (r->shared)
        for (int n = 0; n < N; n++) r->scales[n] = (float)(1.0 + c->init_noise * nsid_rng_normal(rng));
    for (int n = 0; n < N; n++) r->bias[n] = (float)(c->init_noise * nsid_rng_normal(rng));
}

int nsid__gaussian_bind(struct nsid_readout *r, struct nsid_arena *a, int B, struct nsid_err *err)
{
    size_t bn2 = (size_t)B * r->N * 2;
    r->z = nsid_arena_floats(a, bn2, err);
    r->pre = nsid_arena_floats(a, bn2, err);
    r->pos = nsid_arena_floats(a, bn2, err);
    r->mu_cur = nsid_arena_floats(a, 2 * (size_t)r->N, err);
    r->dmu_cur = nsid_arena_floats(a, 2 * (size_t)r->N, err);
    r->dpos = nsid_arena_floats(a, 2 * (size_t)r->N, err);
    r->bl = nsid_arena_bytes(a, sizeof(struct nsid_bilinear) * (size_t)r->N, err);
    if (!r->z || !r->pre || !r->pos || !r->mu_cur || !r->dmu_cur || !r->dpos || !r->bl) return NSID_ENOMEM;
    if (r->shared) {
        r->weff = nsid_arena_floats(a, (size_t)r->C * r->N, err);
        r->dweff = nsid_arena_floats(a, (size_t)r->C * r->N, err);
        if (!r->weff || !r->dweff) return NSID_ENOMEM;
    }
    if (r->cfg.grid_mean_predictor) return nsid_mlp_bind_state(&r->gmp, a, r->N, err);
    return 0;
}

/* ---------------------------------------------------------------- forward */

/* mu_cur (N,2): the free _mu (clamped in place first, as PyTorch) or the predictor's output. */
static void compute_mu(struct nsid_readout *r)
{
    size_t n2 = 2 * (size_t)r->N;
    if (r->mu) {
        nsid_clamp_forward(r->mu, r->mu, n2, -1.0f, 1.0f);
        memcpy(r->mu_cur, r->mu, sizeof(float) * n2);
    } else {
        nsid_mlp_forward(&r->gmp, r->source_grid, r->N);
        memcpy(r->mu_cur, nsid_mlp_output(&r->gmp), sizeof(float) * n2);
    }
}

/* The (C,N) feature weights in use: own _features, or scales * owner's _features[:, idx]. */
static const float *effective_features(struct nsid_readout *r)
{
    if (!r->shared) return r->features;
    const float *f = r->owner->features;
    int N = r->N, C = r->C, nid = r->n_ids;
    for (int c = 0; c < C; c++)
        for (int n = 0; n < N; n++)
            r->weff[(size_t)c * N + n] = r->scales[n] * f[(size_t)c * nid + r->share_idx[n]];
    return r->weff;
}

/* pre = S z + mu, pos = clamp(pre) + shift for one (b, n); z, pre, pos point at 2 floats. */
static void place(const float *S, const float *mu, const float *z, const float *shift,
                  float *pre, float *pos)
{
    for (int c = 0; c < 2; c++) {
        pre[c] = (S[c * 2 + 0] * z[0] + S[c * 2 + 1] * z[1]) + mu[c];
        float p = pre[c] < -1.0f ? -1.0f : (pre[c] > 1.0f ? 1.0f : pre[c]);
        pos[c] = shift ? p + shift[c] : p;
    }
}

/* Bilinear set-up of every neuron of image b at its stored position. */
static void setup_image(struct nsid_readout *r, int b)
{
    const float *pos = r->pos + (size_t)b * r->N * 2;
    for (int n = 0; n < r->N; n++)
        nsid_bilinear_setup(&r->bl[n], pos[2 * n], pos[2 * n + 1], r->H, r->W);
}

void nsid__gaussian_forward(struct nsid_readout *r, const float *feat, int B, bool training,
                            struct nsid_rng *rng, const float *z, const float *shift)
{
    int N = r->N, C = r->C;
    size_t hw = (size_t)r->H * r->W;
    NSID_ASSERT(!training || z || rng);
    compute_mu(r);
    const float *w = effective_features(r);
    for (int b = 0; b < B; b++) {
        for (int n = 0; n < N; n++) {
            size_t bn = (size_t)b * N + n;
            float *zz = r->z + bn * 2;
            if (!training) { zz[0] = 0.0f; zz[1] = 0.0f; }
            else if (z) { zz[0] = z[bn * 2]; zz[1] = z[bn * 2 + 1]; }
            else { zz[0] = (float)nsid_rng_normal(rng); zz[1] = (float)nsid_rng_normal(rng); }
            place(r->sigma + (size_t)n * 4, r->mu_cur + (size_t)n * 2, zz, shift ? shift + b * 2 : NULL,
                  r->pre + bn * 2, r->pos + bn * 2);
        }
        /* channel planes outer, neurons inner: one plane and one row of w stay in cache */
        setup_image(r, b);
        float *y = r->out + (size_t)b * N;
        memset(y, 0, sizeof(float) * (size_t)N);
        for (int c = 0; c < C; c++) {
            const float *plane = feat + ((size_t)b * C + c) * hw, *wc = w + (size_t)c * N;
            for (int n = 0; n < N; n++) y[n] += nsid_bilinear_sample(&r->bl[n], plane) * wc[n];
        }
        for (int n = 0; n < N; n++) y[n] += r->bias[n];
    }
}

/* --------------------------------------------------------------- backward */

/*
 * Image b: gradients of y = sum_c w_c F_c(pos) + bias into dw, dfeat and the
 * positions (r->dpos (N,2), overwritten).
 */
static void image_backward(struct nsid_readout *r, int b, const float *g, const float *w, float *dw,
                           float *dfeat, const float *feat)
{
    int N = r->N, C = r->C;
    size_t hw = (size_t)r->H * r->W;
    memset(r->dpos, 0, sizeof(float) * 2 * (size_t)N);
    for (int c = 0; c < C; c++) {
        const float *plane = feat + ((size_t)b * C + c) * hw, *wc = w + (size_t)c * N;
        float *dplane = dfeat ? dfeat + ((size_t)b * C + c) * hw : NULL, *dwc = dw + (size_t)c * N;
        for (int n = 0; n < N; n++) {
            const struct nsid_bilinear *bl = &r->bl[n];
            float gw = g[n] * wc[n], v = 0.0f, gx = 0.0f, gy = 0.0f;
            for (int k = 0; k < 4; k++) {
                if (bl->idx[k] < 0) continue;
                float x = plane[bl->idx[k]];
                v += bl->w[k] * x;                 /* forward: F_c = sum_k w_k x_k */
                gx += bl->dwdx[k] * x;
                gy += bl->dwdy[k] * x;
                if (dplane) dplane[bl->idx[k]] += bl->w[k] * gw;
            }
            dwc[n] += g[n] * v;                     /* forward: y += w_c F_c */
            r->dpos[2 * n] += gx * gw;
            r->dpos[2 * n + 1] += gy * gw;
        }
    }
}

/* Scatter the effective-feature gradient to scales and the owner's _features. */
static void sharing_backward(struct nsid_readout *r)
{
    int N = r->N, C = r->C, nid = r->n_ids;
    const float *f = r->owner->features;
    float *df = r->owner->dfeatures;
    for (int c = 0; c < C; c++)
        for (int n = 0; n < N; n++) {
            /* forward: weff[c,n] = scales[n] * f[c, idx[n]] */
            float g = r->dweff[(size_t)c * N + n];
            size_t fi = (size_t)c * nid + r->share_idx[n];
            r->dscales[n] += g * f[fi];
            df[fi] += g * r->scales[n];
        }
}

/* Image b: position gradients into dshift, S and the mean (through the clamp). */
static void position_backward(struct nsid_readout *r, int b, float *dshift)
{
    int N = r->N;
    for (int n = 0; n < N; n++) {
        size_t bn = (size_t)b * N + n;
        const float *dpos = r->dpos + 2 * n, *zz = r->z + bn * 2, *pre = r->pre + bn * 2;
        if (dshift) { dshift[b * 2] += dpos[0]; dshift[b * 2 + 1] += dpos[1]; }
        float *dS = r->dsigma + (size_t)n * 4;
        for (int c = 0; c < 2; c++) {
            /* forward: p = clamp(pre, -1, 1), torch's rule: gradient where -1 <= pre <= 1 */
            if (!(pre[c] >= -1.0f && pre[c] <= 1.0f)) continue;
            /* forward: pre_c = S[c,0] z_0 + S[c,1] z_1 + mu_c */
            dS[c * 2 + 0] += dpos[c] * zz[0];
            dS[c * 2 + 1] += dpos[c] * zz[1];
            r->dmu_cur[n * 2 + c] += dpos[c];
        }
    }
}

void nsid__gaussian_backward(struct nsid_readout *r, float *dfeat, float *dshift, const float *dout,
                             const float *feat, int B)
{
    int N = r->N;
    const float *w = r->shared ? r->weff : r->features;
    float *dw = r->shared ? r->dweff : r->dfeatures;
    if (r->shared) memset(r->dweff, 0, sizeof(float) * (size_t)r->C * N);
    memset(r->dmu_cur, 0, sizeof(float) * 2 * (size_t)N);
    for (int b = 0; b < B; b++) {
        const float *g = dout + (size_t)b * N;
        for (int n = 0; n < N; n++) r->dbias[n] += g[n];
        setup_image(r, b);
        image_backward(r, b, g, w, dw, dfeat, feat);
        position_backward(r, b, dshift);
    }
    if (r->mu) {
        for (int k = 0; k < 2 * N; k++) r->dmu[k] += r->dmu_cur[k];
    } else {
        nsid_mlp_backward(&r->gmp, NULL, r->dmu_cur, r->source_grid, N);
    }
    if (r->shared) sharing_backward(r);
}

/* ------------------------------------------------------------ regulariser */

double nsid__gaussian_reg(const struct nsid_readout *r)
{
    if (r->owner != r) return 0.0; /* only the owner's _features are penalised */
    size_t nf = (size_t)r->C * (r->shared ? r->n_ids : r->N);
    double s = 0.0;
    for (size_t k = 0; k < nf; k++) s += fabs((double)r->features[k]);
    return r->cfg.gamma_readout * s;
}

void nsid__gaussian_reg_backward(struct nsid_readout *r, double scale)
{
    if (r->owner != r) return;
    size_t nf = (size_t)r->C * (r->shared ? r->n_ids : r->N);
    float k = (float)(scale * r->cfg.gamma_readout);
    for (size_t i = 0; i < nf; i++) r->dfeatures[i] += k * nsid__signf(r->features[i]);
}

/* -------------------------------------------------------------- positions */

int nsid__gaussian_positions(const struct nsid_readout *r, float *pos, struct nsid_err *err)
{
    size_t n2 = 2 * (size_t)r->N;
    if (r->mu) {
        nsid_clamp_forward(pos, r->mu, n2, -1.0f, 1.0f);
        return 0;
    }
    float *work = NSID_ALLOC(sizeof(float) * 2 * (size_t)r->gmp.max_width, err);
    if (!work) return NSID_ENOMEM;
    for (int n = 0; n < r->N; n++)
        nsid_mlp_forward_row(&r->gmp, r->source_grid + (size_t)n * 2, pos + (size_t)n * 2, work);
    nsid_free(work);
    nsid_clamp_forward(pos, pos, n2, -1.0f, 1.0f);
    return 0;
}
