/*
 * readout_pointpooled.c - PointPooled2d, the spatial-transformer readout of
 * Sinz et al. 2018 (docs/paper.md §2.5).
 *
 *   grid <- clamp(grid, -1, 1) in place (no gradient: a projection)
 *   level_0 = x, level_l = AvgPool2d(K, stride K)(level_{l-1}), l = 1..pool_steps
 *   pos_{b,n} = grid_n + shift_b
 *   y_{b,n} = sum_{l,c} features[l*C + c, n] grid_sample(level_l, pos_{b,n})_c + bias_n
 */
#include "readout_int.h"

#include <string.h>

static int pointpooled_init(struct nsid_readout *r, struct nsid_params *ps, const char *prefix,
                           struct nsid_err *err)
{
    int N = r->N, C = r->C, L = r->cfg.pool_steps, K = r->cfg.pool_kern, rc;
    r->lh[0] = r->H;
    r->lw[0] = r->W;
    for (int l = 1; l <= L; l++) {
        r->lh[l] = nsid_gridsample_avgpool_outsize(r->lh[l - 1], K);
        r->lw[l] = nsid_gridsample_avgpool_outsize(r->lw[l - 1], K);
        if (r->lh[l] < 1 || r->lw[l] < 1)
            return nsid_err_set(err, NSID_EINVAL, NULL, 0, "pool_steps",
                                "%s: a %dx%d map pooled %d times with kernel %d is empty at step %d",
                                prefix, r->H, r->W, L, K, l);
    }
    rc = nsid__readout_add(ps, prefix, "grid", NSID_PARAM_WEIGHT, 4, (int[]){1, N, 1, 2},
                           &r->grid, &r->dgrid, err);
    if (rc < 0) return rc;
    rc = nsid__readout_add(ps, prefix, "features", NSID_PARAM_WEIGHT, 4, (int[]){1, C * (L + 1), 1, N},
                           &r->features, &r->dfeatures, err);
    if (rc < 0) return rc;
    return nsid__readout_add(ps, prefix, "bias", NSID_PARAM_WEIGHT, 1, (int[]){N}, &r->bias, &r->dbias, err);
}

static void pointpooled_reset(struct nsid_readout *r, struct nsid_rng *rng)
{
    double a = r->cfg.init_range;
    for (int k = 0; k < 2 * r->N; k++) r->grid[k] = (float)nsid_rng_uniform_range(rng, -a, a);
    size_t nf = (size_t)r->C * (r->cfg.pool_steps + 1) * r->N;
    for (size_t k = 0; k < nf; k++) r->features[k] = 1.0f / (float)r->C;
    memset(r->bias, 0, sizeof(float) * (size_t)r->N);
}

static int pointpooled_bind(struct nsid_readout *r, struct nsid_arena *a, int B, struct nsid_err *err)
{
    r->pos = nsid_alloc_arena_floats(a, (size_t)B * r->N * 2, err);
    r->dpos = nsid_alloc_arena_floats(a, 2 * (size_t)r->N, err);
    r->bl = nsid_alloc_arena_bytes(a, sizeof(struct nsid_bilinear) * (size_t)r->N, err);
    if (!r->pos || !r->dpos || !r->bl) return NSID_ENOMEM;
    for (int l = 1; l <= r->cfg.pool_steps; l++) {
        size_t n = (size_t)B * r->C * r->lh[l] * r->lw[l];
        r->level[l] = nsid_alloc_arena_floats(a, n, err);
        r->dlevel[l] = nsid_alloc_arena_floats(a, n, err);
        if (!r->level[l] || !r->dlevel[l]) return NSID_ENOMEM;
    }
    return 0;
}

/* The map of level l (level 0 is the input). */
static const float *level_map(const struct nsid_readout *r, const float *feat, int l)
{
    return l == 0 ? feat : r->level[l];
}

/* Bilinear set-up of every neuron of image b on level l. */
static void setup_level(struct nsid_readout *r, int b, int l)
{
    const float *pos = r->pos + (size_t)b * r->N * 2;
    for (int n = 0; n < r->N; n++)
        nsid_gridsample_bilinear_setup(&r->bl[n], pos[2 * n], pos[2 * n + 1], r->lh[l], r->lw[l]);
}

static void pointpooled_forward(struct nsid_readout *r, const float *feat, int B, bool training,
                                struct nsid_rng *rng, const float *z, const float *shift)
{
    (void)training;
    (void)rng;
    (void)z;
    int N = r->N, C = r->C, L = r->cfg.pool_steps, K = r->cfg.pool_kern;
    nsid_gridsample_clamp_forward(r->grid, r->grid, 2 * (size_t)N, -1.0f, 1.0f);
    for (int l = 1; l <= L; l++)
        nsid_gridsample_avgpool_forward(r->level[l], level_map(r, feat, l - 1), B, C, r->lh[l - 1], r->lw[l - 1], K);
    for (int b = 0; b < B; b++) {
        float *p = r->pos + (size_t)b * N * 2, *y = r->out + (size_t)b * N;
        for (int n = 0; n < N; n++) {
            p[2 * n] = r->grid[n * 2] + (shift ? shift[b * 2] : 0.0f);
            p[2 * n + 1] = r->grid[n * 2 + 1] + (shift ? shift[b * 2 + 1] : 0.0f);
        }
        memset(y, 0, sizeof(float) * (size_t)N);
        /* levels and channel planes outer, neurons inner (cache-friendly) */
        for (int l = 0; l <= L; l++) {
            size_t hw = (size_t)r->lh[l] * r->lw[l];
            const float *map = level_map(r, feat, l);
            setup_level(r, b, l);
            for (int c = 0; c < C; c++) {
                const float *plane = map + ((size_t)b * C + c) * hw;
                const float *fc = r->features + ((size_t)l * C + c) * N;
                for (int n = 0; n < N; n++) y[n] += fc[n] * nsid_gridsample_bilinear_sample(&r->bl[n], plane);
            }
        }
        for (int n = 0; n < N; n++) y[n] += r->bias[n];
    }
}

/* Image b on level l: gradients into features, the level's map and r->dpos (N,2) (+=). */
static void level_backward(struct nsid_readout *r, const float *map, float *dmap, int l, int b,
                           const float *g)
{
    int N = r->N, C = r->C;
    size_t hw = (size_t)r->lh[l] * r->lw[l];
    setup_level(r, b, l);
    for (int c = 0; c < C; c++) {
        const float *plane = map + ((size_t)b * C + c) * hw;
        float *dplane = dmap ? dmap + ((size_t)b * C + c) * hw : NULL;
        const float *fc = r->features + ((size_t)l * C + c) * N;
        float *dfc = r->dfeatures + ((size_t)l * C + c) * N;
        for (int n = 0; n < N; n++) {
            const struct nsid_bilinear *bl = &r->bl[n];
            float gw = g[n] * fc[n], v = 0.0f, gx = 0.0f, gy = 0.0f;
            for (int k = 0; k < 4; k++) {
                if (bl->idx[k] < 0) continue;
                float x = plane[bl->idx[k]];
                v += bl->w[k] * x;
                gx += bl->dwdx[k] * x;
                gy += bl->dwdy[k] * x;
                if (dplane) dplane[bl->idx[k]] += bl->w[k] * gw;
            }
            dfc[n] += g[n] * v;  /* forward: y += features[l*C+c, n] * F_{l,c} */
            r->dpos[2 * n] += gx * gw;
            r->dpos[2 * n + 1] += gy * gw;
        }
    }
}

static void pointpooled_backward(struct nsid_readout *r, float *dfeat, float *dshift,
                                const float *dout, const float *feat, int B)
{
    int N = r->N, C = r->C, L = r->cfg.pool_steps, K = r->cfg.pool_kern;
    if (dfeat)
        for (int l = 1; l <= L; l++)
            memset(r->dlevel[l], 0, sizeof(float) * (size_t)B * C * r->lh[l] * r->lw[l]);
    for (int b = 0; b < B; b++) {
        const float *g = dout + (size_t)b * N;
        memset(r->dpos, 0, sizeof(float) * 2 * (size_t)N);
        for (int n = 0; n < N; n++) r->dbias[n] += g[n];
        for (int l = 0; l <= L; l++) {
            float *dmap = dfeat ? (l == 0 ? dfeat : r->dlevel[l]) : NULL;
            level_backward(r, level_map(r, feat, l), dmap, l, b, g);
        }
        /* forward: pos = grid + shift (the in-place clamp of grid is not differentiated) */
        for (int n = 0; n < N; n++) {
            r->dgrid[n * 2] += r->dpos[2 * n];
            r->dgrid[n * 2 + 1] += r->dpos[2 * n + 1];
            if (dshift) { dshift[b * 2] += r->dpos[2 * n]; dshift[b * 2 + 1] += r->dpos[2 * n + 1]; }
        }
    }
    if (!dfeat) return;
    /* forward: level_l = avgpool(level_{l-1}); walk back from the coarsest level */
    for (int l = L; l >= 1; l--)
        nsid_gridsample_avgpool_backward(l == 1 ? dfeat : r->dlevel[l - 1], r->dlevel[l], B, C,
                              r->lh[l - 1], r->lw[l - 1], K);
}

static double pointpooled_reg(const struct nsid_readout *r)
{
    size_t nf = (size_t)r->C * (r->cfg.pool_steps + 1) * r->N;
    double s = 0.0;
    for (size_t k = 0; k < nf; k++) s += r->features[k] < 0.0f ? -(double)r->features[k] : (double)r->features[k];
    return r->cfg.gamma_readout * s;
}

static void pointpooled_reg_backward(struct nsid_readout *r, double scale)
{
    size_t nf = (size_t)r->C * (r->cfg.pool_steps + 1) * r->N;
    float k = (float)(scale * r->cfg.gamma_readout);
    for (size_t i = 0; i < nf; i++) r->dfeatures[i] += k * nsid__signf(r->features[i]);
}

static int pointpooled_validate(const struct nsid_readout_config *c, struct nsid_err *err)
{
    if (c->share_features)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "share_features",
                            "feature sharing is not available for the point-pooled readout");
    if (!(c->init_range > 0.0 && c->init_range <= 1.0))
        return nsid__readout_bad(err, "init_range", "%g, expected in (0, 1]", c->init_range);
    if (c->pool_steps < 0 || c->pool_steps > NSID_READOUT_MAX_POOL_STEPS)
        return nsid__readout_bad(err, "pool_steps", "%g, expected 0..8", c->pool_steps);
    if (c->pool_kern < 1)
        return nsid__readout_bad(err, "pool_kern", "%g, expected >= 1", c->pool_kern);
    return 0;
}

/* The positions are the clamped grid. */
static int pointpooled_positions(const struct nsid_readout *r, float *pos, struct nsid_err *err)
{
    (void)err;
    nsid_gridsample_clamp_forward(pos, r->grid, 2 * (size_t)r->N, -1.0f, 1.0f);
    return 0;
}

const struct nsid_readout_ops nsid_readout_pointpooled_ops = {
    .name = "pointpooled",
    .gamma_readout = 0.0207,
    .init_noise = 1e-3,
    .grid_mean_predictor = false,
    .blocked_input = false,
    .validate = pointpooled_validate,
    .init = pointpooled_init,
    .reset = pointpooled_reset,
    .bind = pointpooled_bind,
    .forward = pointpooled_forward,
    .backward = pointpooled_backward,
    .reg = pointpooled_reg,
    .reg_backward = pointpooled_reg_backward,
    .positions = pointpooled_positions,
};
