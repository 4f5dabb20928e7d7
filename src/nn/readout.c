/* readout.c - configuration, sharing, lifecycle and dispatch of the readouts (see readout.h). */
#include "readout_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kinds, by enum nsid_readout_kind. */
static const struct nsid_readout_ops *const KINDS[] = {
    [NSID_READOUT_GAUSSIAN] = &nsid_readout_gaussian_ops,
    [NSID_READOUT_FACTORIZED] = &nsid_readout_factorized_ops,
    [NSID_READOUT_POINTPOOLED] = &nsid_readout_pointpooled_ops,
};

static bool kind_valid(int kind)
{
    return kind >= 0 && kind < (int)(sizeof KINDS / sizeof KINDS[0]);
}

const char *nsid_readout_kind_name(int kind)
{
    return kind_valid(kind) ? KINDS[kind]->name : "unknown";
}

/* ------------------------------------------------------------- configuration */

void nsid_readout_config_default(struct nsid_readout_config *cfg, int kind)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    /* Gaussian: the paper's configuration (docs/paper.md §2.1-§2.2; gamma from example.ipynb) */
    cfg->init_mu_range = 0.55;
    cfg->init_sigma = 0.4;
    cfg->grid_mean_predictor = true;
    cfg->gmp_hidden_layers = 0;
    cfg->gmp_hidden_features = 0;
    cfg->gmp_final_tanh = false;
    cfg->init_transform_scale = 0.2;
    /* Point-pooled (se2d_pointpooled defaults) */
    cfg->pool_steps = 2;
    cfg->pool_kern = 3;
    cfg->init_range = 0.2;
    const struct nsid_readout_ops *k = KINDS[kind_valid(kind) ? kind : NSID_READOUT_GAUSSIAN];
    cfg->gamma_readout = k->gamma_readout;
    cfg->init_noise = k->init_noise;
}

static int validate_config(const struct nsid_readout_config *c, int C, int H, int W, int N,
                           const char *prefix, struct nsid_err *err)
{
    if (!kind_valid(c->kind))
        return nsid__readout_bad(err, "kind", "%g, expected 0 (gaussian), 1 (factorized) or 2 (pointpooled)", c->kind);
    if (C < 1 || H < 1 || W < 1 || N < 1)
        return nsid_err_set(err, NSID_ESHAPE, NULL, 0, prefix,
                            "core output (C,H,W) = (%d,%d,%d) and %d neurons, all must be >= 1", C, H, W, N);
    if (!(c->gamma_readout >= 0.0 && isfinite(c->gamma_readout)))
        return nsid__readout_bad(err, "gamma_readout", "%g, expected >= 0", c->gamma_readout);
    if (!(c->init_noise >= 0.0 && isfinite(c->init_noise)))
        return nsid__readout_bad(err, "init_noise", "%g, expected >= 0", c->init_noise);
    return KINDS[c->kind]->validate ? KINDS[c->kind]->validate(c, err) : 0;
}

/* ----------------------------------------------------------------- helpers */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/*
 * ids = sorted distinct match ids, share_idx[n] = rank of match_ids[n] among
 * them (np.unique(..., return_inverse=True)).
 */
static int build_sharing(struct nsid_readout *r, const int64_t *match_ids, const char *prefix,
                         struct nsid_err *err)
{
    int N = r->N;
    r->ids = NSID_ALLOC(sizeof(int64_t) * (size_t)N, err);
    r->share_idx = NSID_ALLOC(sizeof(int64_t) * (size_t)N, err);
    if (!r->ids || !r->share_idx) return NSID_ENOMEM;
    memcpy(r->ids, match_ids, sizeof(int64_t) * (size_t)N);
    qsort(r->ids, (size_t)N, sizeof(int64_t), cmp_i64);
    int u = 0;
    for (int n = 0; n < N; n++)
        if (n == 0 || r->ids[n] != r->ids[u - 1]) r->ids[u++] = r->ids[n];
    r->n_ids = u;
    for (int n = 0; n < N; n++) {
        const int64_t *hit = bsearch(&match_ids[n], r->ids, (size_t)u, sizeof(int64_t), cmp_i64);
        if (!hit)
            return nsid_err_set(err, NSID_EINTERNAL, NULL, 0, prefix, "match id lookup failed");
        r->share_idx[n] = hit - r->ids;
    }
    return 0;
}

/* A non-owner must match its owner: kind, channels, and the same set of match ids. */
static int check_owner(const struct nsid_readout *r, const struct nsid_readout *o, const char *prefix,
                       struct nsid_err *err)
{
    if (!o->shared || o->owner != o)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, prefix,
                            "share_owner is not a feature-sharing owner readout (the first scan's)");
    if (o->kind != r->kind || o->C != r->C)
        return nsid_err_set(err, NSID_ESHAPE, NULL, 0, prefix,
                            "share_owner has kind %d with %d channels, this readout kind %d with %d",
                            o->kind, o->C, r->kind, r->C);
    if (o->n_ids != r->n_ids || memcmp(o->ids, r->ids, sizeof(int64_t) * (size_t)r->n_ids) != 0)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "multi_match_id",
                            "%s has %d distinct match ids, the owner %d or a different set: every scan "
                            "must contain the same ids", prefix, r->n_ids, o->n_ids);
    return 0;
}

/* src_grid (N,2) = x, y centred per column and divided by the largest |value|. */
static int normalise_coords(struct nsid_readout *r, const double *coords, const char *prefix,
                            struct nsid_err *err)
{
    int N = r->N;
    double mean[2] = {0.0, 0.0}, amax = 0.0;
    for (int n = 0; n < N; n++) {
        for (int j = 0; j < 2; j++) {
            double v = coords[(size_t)n * 3 + j];
            if (!isfinite(v))
                return nsid_err_set(err, NSID_EINVAL, NULL, 0, "cell_motor_coordinates",
                                    "%s: neuron %d coordinate %d is %g, expected finite", prefix, n, j, v);
            mean[j] += v;
        }
    }
    mean[0] /= N;
    mean[1] /= N;
    for (int n = 0; n < N; n++)
        for (int j = 0; j < 2; j++) {
            double a = fabs(coords[(size_t)n * 3 + j] - mean[j]);
            if (a > amax) amax = a;
        }
    if (!(amax > 0.0))
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "cell_motor_coordinates",
                            "%s: all %d neurons have the same (x, y); cannot normalise", prefix, N);
    r->src_grid = NSID_ALLOC(sizeof(float) * 2 * (size_t)N, err);
    if (!r->src_grid) return NSID_ENOMEM;
    for (int n = 0; n < N; n++)
        for (int j = 0; j < 2; j++)
            r->src_grid[n * 2 + j] = (float)((coords[(size_t)n * 3 + j] - mean[j]) / amax);
    return 0;
}

/* ------------------------------------------------------------------ lifecycle */

static int init_metadata(struct nsid_readout *r, const double *coords, const int64_t *match_ids,
                         struct nsid_readout *share_owner, const char *prefix, struct nsid_err *err)
{
    const struct nsid_readout_config *c = &r->cfg;
    if (share_owner && !c->share_features)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "share_features",
                            "%s: a share_owner was given but share_features is off", prefix);
    if (c->share_features) {
        if (!match_ids)
            return nsid_err_set(err, NSID_EINVAL, NULL, 0, "multi_match_id",
                                "%s: share_features needs the neurons' match ids", prefix);
        r->shared = true;
        int rc = build_sharing(r, match_ids, prefix, err);
        if (rc < 0) return rc;
        if (share_owner) {
            rc = check_owner(r, share_owner, prefix, err);
            if (rc < 0) return rc;
            r->owner = share_owner;
        }
    }
    if (r->ops->grid_mean_predictor && c->grid_mean_predictor) {
        if (!coords)
            return nsid_err_set(err, NSID_EINVAL, NULL, 0, "cell_motor_coordinates",
                                "%s: the grid-mean predictor needs the neurons' coordinates", prefix);
        return normalise_coords(r, coords, prefix, err);
    }
    return 0;
}

int nsid_readout_init(struct nsid_readout *r, const struct nsid_readout_config *cfg,
                      int C, int H, int W, int N, const double *coords, const int64_t *match_ids,
                      struct nsid_readout *share_owner, struct nsid_params *ps, const char *prefix,
                      struct nsid_err *err)
{
    memset(r, 0, sizeof *r);
    int rc = validate_config(cfg, C, H, W, N, prefix, err);
    if (rc < 0) return rc;
    r->cfg = *cfg;
    r->kind = cfg->kind;
    r->ops = KINDS[cfg->kind];
    r->C = C; r->H = H; r->W = W; r->N = N;
    r->owner = r;
    r->in_vb = 1;  /* (B,C,H,W) until nsid_readout_set_input_layout says otherwise */
    snprintf(r->prefix, sizeof r->prefix, "%s", prefix);
    rc = init_metadata(r, coords, match_ids, share_owner, prefix, err);
    if (rc == 0) rc = r->ops->init(r, ps, prefix, err);
    if (rc < 0) nsid_readout_free(r);
    return rc;
}

void nsid_readout_fill_buffers(struct nsid_readout *r)
{
    if (r->source_grid && r->src_grid)
        memcpy(r->source_grid, r->src_grid, sizeof(float) * 2 * (size_t)r->N);
}

void nsid_readout_reset_parameters(struct nsid_readout *r, struct nsid_rng *rng)
{
    nsid_readout_fill_buffers(r);
    r->ops->reset(r, rng);
}

void nsid_readout_set_bias(struct nsid_readout *r, const float *mean)
{
    memcpy(r->bias, mean, sizeof(float) * (size_t)r->N);
}

void nsid_readout_set_pool(struct nsid_readout *r, struct nsid_pool *pool)
{
    r->pool = pool;
}

int nsid_readout_set_kernels(struct nsid_readout *r, const char *name, struct nsid_err *err)
{
    const struct nsid_kern *k = nsid_kern_select(name, err);
    if (!k) return err->code;
    r->kern = k;
    return 0;
}

int nsid_readout_set_input_layout(struct nsid_readout *r, int vb, struct nsid_err *err)
{
    if (vb == 1) {
        r->in_vb = 1;
        return 0;
    }
    if (!r->ops->blocked_input)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "readout.layout",
                            "a channel-blocked input (vb %d) needs the Gaussian readout", vb);
    if (!r->kern && nsid_readout_set_kernels(r, NULL, err) < 0) return err->code;
    if (vb != r->kern->vb)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "readout.layout",
                            "block width %d, expected 1 or the kernel set's %d (%s)", vb, r->kern->vb,
                            r->kern->name);
    r->in_vb = vb;
    return 0;
}

int nsid_readout_bind_state(struct nsid_readout *r, struct nsid_arena *a, int B, struct nsid_err *err)
{
    if (B < 1)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "batch_size", "%d, expected >= 1", B);
    r->out = nsid_alloc_arena_floats(a, (size_t)B * r->N, err);
    if (!r->out) return NSID_ENOMEM;
    r->max_batch = B;
    return r->ops->bind(r, a, B, err);
}

void nsid_readout_forward(struct nsid_readout *r, const float *feat, int B, bool training,
                          struct nsid_rng *sample_rng, const float *z, const float *shift)
{
    NSID_ASSERT(B >= 1 && B <= r->max_batch);
    r->last_B = B;
    r->last_training = training;
    r->ops->forward(r, feat, B, training, sample_rng, z, shift);
}

void nsid_readout_backward(struct nsid_readout *r, float *dfeat, float *dshift, const float *dout,
                           const float *feat, int B)
{
    NSID_ASSERT(B == r->last_B);
    r->ops->backward(r, dfeat, dshift, dout, feat, B);
}

double nsid_readout_regularizer(const struct nsid_readout *r)
{
    return r->ops->reg(r);
}

void nsid_readout_regularizer_backward(struct nsid_readout *r, double scale)
{
    r->ops->reg_backward(r, scale);
}

int nsid_readout_positions(const struct nsid_readout *r, float *pos, struct nsid_err *err)
{
    if (!r->ops->positions)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "kind", "the %s readout has no sampling positions",
                            r->ops->name);
    return r->ops->positions(r, pos, err);
}

void nsid_readout_free(struct nsid_readout *r)
{
    if (!r) return;
    nsid_alloc_free(r->ids);
    nsid_alloc_free(r->share_idx);
    nsid_alloc_free(r->src_grid);
    memset(r, 0, sizeof *r);
}
