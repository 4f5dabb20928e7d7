/*
 * readout_factorized.c - FullSXF, the factorized readout of Klindt et al. 2017
 * (docs/paper.md §2.4).
 *
 *   u <- max(u, 0) in place at every forward (a projection, no gradient)
 *   m_n = u_n (or u_n / (||u_n||_2 + 1e-6) with normalize)
 *   t_{b,c,n} = sum_{hw} x_{b,c,hw} m_{n,hw}                (one sgemm)
 *   y_{b,n}   = sum_c t_{b,c,n} v_{n,c} + bias_n
 * With sharing, v_{n,c} = scales_n * _features[idx(n), c] (owner's _features).
 */
#include "readout_int.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define NORM_EPS 1e-6f

static int factorized_init(struct nsid_readout *r, struct nsid_params *ps, const char *prefix,
                          struct nsid_err *err)
{
    int N = r->N, C = r->C, rc;
    /* FullSXF registers its features first (initialize_features), then spatial and bias */
    if (r->owner == r) {
        int nf = r->shared ? r->n_ids : N;
        rc = nsid__readout_add(ps, prefix, "_features", NSID_PARAM_WEIGHT, 2, (int[]){nf, C},
                               &r->features, &r->dfeatures, err);
        if (rc < 0) return rc;
    }
    if (r->shared) {
        rc = nsid__readout_add(ps, prefix, "scales", NSID_PARAM_WEIGHT, 2, (int[]){N, 1},
                               &r->scales, &r->dscales, err);
        if (rc < 0) return rc;
    }
    rc = nsid__readout_add(ps, prefix, "spatial", NSID_PARAM_WEIGHT, 3, (int[]){N, r->H, r->W},
                           &r->spatial, &r->dspatial, err);
    if (rc < 0) return rc;
    return nsid__readout_add(ps, prefix, "bias", NSID_PARAM_WEIGHT, 1, (int[]){N}, &r->bias, &r->dbias, err);
}

static void factorized_reset(struct nsid_readout *r, struct nsid_rng *rng)
{
    double noise = r->cfg.init_noise;
    size_t nu = (size_t)r->N * r->H * r->W;
    for (size_t k = 0; k < nu; k++) r->spatial[k] = (float)(noise * nsid_rng_normal(rng));
    if (r->owner == r) {
        size_t nf = (size_t)r->C * (r->shared ? r->n_ids : r->N);
        for (size_t k = 0; k < nf; k++) r->features[k] = (float)(noise * nsid_rng_normal(rng));
    }
    if (r->shared)
        for (int n = 0; n < r->N; n++) r->scales[n] = 1.0f;
    memset(r->bias, 0, sizeof(float) * (size_t)r->N);
}

static int factorized_bind(struct nsid_readout *r, struct nsid_arena *a, int B, struct nsid_err *err)
{
    size_t N = (size_t)r->N, hw = (size_t)r->H * r->W;
    r->t = nsid_alloc_arena_floats(a, (size_t)B * r->C * N, err);
    if (!r->t) return NSID_ENOMEM;
    if (r->shared) {
        r->weff = nsid_alloc_arena_floats(a, N * r->C, err);
        r->dweff = nsid_alloc_arena_floats(a, N * r->C, err);
        if (!r->weff || !r->dweff) return NSID_ENOMEM;
    }
    if (r->cfg.normalize) {
        r->ueff = nsid_alloc_arena_floats(a, N * hw, err);
        r->dueff = nsid_alloc_arena_floats(a, N * hw, err);
        r->unorm = nsid_alloc_arena_floats(a, N, err);
        if (!r->ueff || !r->dueff || !r->unorm) return NSID_ENOMEM;
    }
    return 0;
}

/* ---------------------------------------------------------------- helpers */

/* Effective feature vectors v (N,C): own _features or scales * owner's rows. */
static const float *effective_features(struct nsid_readout *r)
{
    if (!r->shared) return r->features;
    const float *f = r->owner->features;
    int C = r->C;
    for (int n = 0; n < r->N; n++)
        for (int c = 0; c < C; c++)
            r->weff[(size_t)n * C + c] = r->scales[n] * f[(size_t)r->share_idx[n] * C + c];
    return r->weff;
}

/* v_{n,c} as effective_features computes it, without writing state. */
static float feature_at(const struct nsid_readout *r, int n, int c)
{
    if (!r->shared) return r->features[(size_t)n * r->C + c];
    return r->scales[n] * r->owner->features[(size_t)r->share_idx[n] * r->C + c];
}

/* Gradient of v (N,C) into scales and the owner's _features. */
static void sharing_backward(struct nsid_readout *r, const float *dv)
{
    int C = r->C;
    const float *f = r->owner->features;
    float *df = r->owner->dfeatures;
    for (int n = 0; n < r->N; n++)
        for (int c = 0; c < C; c++) {
            /* forward: v[n,c] = scales[n] * f[idx[n], c] */
            size_t fi = (size_t)r->share_idx[n] * C + c;
            r->dscales[n] += dv[(size_t)n * C + c] * f[fi];
            df[fi] += dv[(size_t)n * C + c] * r->scales[n];
        }
}

/* ||u_n||_2 of the projected mask row (max(u,0)); the row is read, never written. */
static float row_norm(const float *u, size_t hw)
{
    float s = 0.0f;
    for (size_t k = 0; k < hw; k++) {
        float p = u[k] > 0.0f ? u[k] : 0.0f;
        s += p * p;
    }
    return sqrtf(s);
}

/*
 * du (hw) += gradient through m = p / (||p|| + eps) given dm (hw), p = max(u, 0)
 * (the projection passes the gradient unchanged: it is not differentiated).
 */
static void norm_backward(float *du, const float *u, const float *dm, size_t hw)
{
    float s = row_norm(u, hw), nrm = s + NORM_EPS, dot = 0.0f;
    for (size_t k = 0; k < hw; k++) dot += dm[k] * (u[k] > 0.0f ? u[k] : 0.0f);
    /* d m_i / d p_j = delta_ij / nrm - p_i p_j / (s nrm^2) */
    float coef = s > 0.0f ? dot / (s * nrm * nrm) : 0.0f;
    for (size_t k = 0; k < hw; k++)
        du[k] += dm[k] / nrm - (u[k] > 0.0f ? u[k] : 0.0f) * coef;
}

/* ---------------------------------------------------------------- forward */

/* Project u onto u >= 0 in place; return the mask m (N, hw) the forward uses. */
static const float *project_mask(struct nsid_readout *r)
{
    size_t N = (size_t)r->N, hw = (size_t)r->H * r->W;
    for (size_t k = 0; k < N * hw; k++)
        if (!(r->spatial[k] >= 0.0f)) r->spatial[k] = 0.0f;
    if (!r->cfg.normalize) return r->spatial;
    for (size_t n = 0; n < N; n++) {
        const float *u = r->spatial + n * hw;
        float nrm = row_norm(u, hw) + NORM_EPS;
        r->unorm[n] = nrm;
        for (size_t k = 0; k < hw; k++) r->ueff[n * hw + k] = u[k] / nrm;
    }
    return r->ueff;
}

static void factorized_forward(struct nsid_readout *r, const float *feat, int B, bool training, struct nsid_rng *rng,
                               const float *z, const float *shift)
{
    (void)training;
    (void)rng;
    (void)z;
    (void)shift;
    int N = r->N, C = r->C, hw = r->H * r->W;
    const float *m = project_mask(r);
    const float *v = effective_features(r);
    /* t (B*C, N) = x (B*C, hw) . m^T (hw, N) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B * C, N, hw, 1.0f, feat, hw, m, hw,
                0.0f, r->t, N);
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            float y = 0.0f;
            for (int c = 0; c < C; c++) y += r->t[((size_t)b * C + c) * N + n] * v[(size_t)n * C + c];
            r->out[(size_t)b * N + n] = y + r->bias[n];
        }
}

/* --------------------------------------------------------------- backward */

static void factorized_backward(struct nsid_readout *r, float *dfeat, float *dshift, const float *dout,
                                const float *feat, int B)
{
    (void)dshift;
    int N = r->N, C = r->C, hw = r->H * r->W;
    const float *v = r->shared ? r->weff : r->features;
    float *dv = r->shared ? r->dweff : r->dfeatures;
    const float *m = r->cfg.normalize ? r->ueff : r->spatial;
    if (r->shared) memset(r->dweff, 0, sizeof(float) * (size_t)N * C);
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            float g = dout[(size_t)b * N + n];
            r->dbias[n] += g;
            for (int c = 0; c < C; c++) {
                float *t = &r->t[((size_t)b * C + c) * N + n];
                /* forward: y = sum_c t v; t becomes d y / d t in place */
                dv[(size_t)n * C + c] += g * *t;
                *t = g * v[(size_t)n * C + c];
            }
        }
    /* forward: t = x m^T, so dm (N,hw) += dt^T x and dx (B*C,hw) += dt m */
    float *dm = r->cfg.normalize ? r->dueff : r->dspatial;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, hw, B * C, 1.0f, r->t, N, feat, hw,
                r->cfg.normalize ? 0.0f : 1.0f, dm, hw);
    if (dfeat)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B * C, hw, N, 1.0f, r->t, N, m, hw,
                    1.0f, dfeat, hw);
    if (r->cfg.normalize)
        for (int n = 0; n < N; n++)
            norm_backward(r->dspatial + (size_t)n * hw, r->spatial + (size_t)n * hw,
                          r->dueff + (size_t)n * hw, (size_t)hw);
    if (r->shared) sharing_backward(r, r->dweff);
}

/* ------------------------------------------------------------ regulariser */

/* sum |m| over all neurons, m the projected (and normalised) mask. */
static double mask_l1(const struct nsid_readout *r)
{
    size_t N = (size_t)r->N, hw = (size_t)r->H * r->W;
    double s = 0.0;
    for (size_t n = 0; n < N; n++) {
        const float *u = r->spatial + n * hw;
        float nrm = r->cfg.normalize ? row_norm(u, hw) + NORM_EPS : 1.0f;
        for (size_t k = 0; k < hw; k++)
            if (u[k] > 0.0f) s += (double)(u[k] / nrm);
    }
    return s;
}

static double feature_l1(const struct nsid_readout *r)
{
    double s = 0.0;
    for (int n = 0; n < r->N; n++)
        for (int c = 0; c < r->C; c++) s += fabs((double)feature_at(r, n, c));
    return s;
}

static double factorized_reg(const struct nsid_readout *r)
{
    /* FullSXF.l1: (N,1) * (N,) broadcasts to N x N, so the sum is a product of global norms */
    double su = mask_l1(r);
    if (r->owner != r) return r->cfg.gamma_readout * su;
    return r->cfg.gamma_readout * su * feature_l1(r);
}

/* du += k * d(sum |m|)/du. */
static void mask_l1_backward(struct nsid_readout *r, float k)
{
    size_t N = (size_t)r->N, hw = (size_t)r->H * r->W;
    for (size_t n = 0; n < N; n++) {
        const float *u = r->spatial + n * hw;
        float *du = r->dspatial + n * hw;
        if (!r->cfg.normalize) {
            for (size_t j = 0; j < hw; j++) du[j] += u[j] > 0.0f ? k : 0.0f;
            continue;
        }
        /* through m = p / (||p|| + eps): d/dp_j sum_i k sign(m_i), sign(m_i) = [p_i > 0] */
        float s = row_norm(u, hw), nrm = s + NORM_EPS, dot = 0.0f;
        for (size_t j = 0; j < hw; j++) dot += u[j] > 0.0f ? k * u[j] : 0.0f;
        float coef = s > 0.0f ? dot / (s * nrm * nrm) : 0.0f;
        for (size_t j = 0; j < hw; j++)
            du[j] += (u[j] > 0.0f ? k / nrm : 0.0f) - (u[j] > 0.0f ? u[j] : 0.0f) * coef;
    }
}

static void factorized_reg_backward(struct nsid_readout *r, double scale)
{
    double gamma = scale * r->cfg.gamma_readout;
    if (r->owner != r) {
        mask_l1_backward(r, (float)gamma);
        return;
    }
    double su = mask_l1(r), sv = feature_l1(r);
    mask_l1_backward(r, (float)(gamma * sv));
    float kv = (float)(gamma * su);
    int C = r->C;
    for (int n = 0; n < r->N; n++)
        for (int c = 0; c < C; c++) {
            float g = kv * nsid__signf(feature_at(r, n, c));
            if (!r->shared) {
                r->dfeatures[(size_t)n * C + c] += g;
                continue;
            }
            /* forward: v[n,c] = scales[n] * f[idx[n], c] */
            size_t fi = (size_t)r->share_idx[n] * C + c;
            r->dscales[n] += g * r->features[fi];
            r->dfeatures[fi] += g * r->scales[n];
        }
}

const struct nsid_readout_ops nsid_readout_factorized_ops = {
    .name = "factorized",
    .gamma_readout = 0.0076, /* se2d_fullSXF default; the paper searched [1e-4, 0.5] */
    .init_noise = 4.1232e-05,
    .grid_mean_predictor = false,
    .blocked_input = false,
    .validate = NULL,
    .init = factorized_init,
    .reset = factorized_reset,
    .bind = factorized_bind,
    .forward = factorized_forward,
    .backward = factorized_backward,
    .reg = factorized_reg,
    .reg_backward = factorized_reg_backward,
    .positions = NULL,
};
