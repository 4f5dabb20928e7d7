/*
 * readout_gaussian.c - FullGaussian2d (docs/paper.md §2.1-§2.3).
 *
 * Per neuron n: features w (C), S (2x2), mu (2, free or predicted), bias.
 *   pre_{b,n} = S_n z_{b,n} + mu_n            z ~ N(0,I) in training, 0 in evaluation
 *   pos_{b,n} = clamp(pre_{b,n}, -1, 1) + shift_b
 *   y_{b,n}   = sum_c w_{c,n} grid_sample(x_b, pos_{b,n})_c + bias_n
 * With sharing, w_{c,n} = scales_n * _features[c, idx(n)] (owner's _features).
 */
#include "readout_int.h"

#include <math.h>
#include <stdlib.h>
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
    return nsid_shifter_mlp_init(&r->gmp, L, widths, acts, ps, name, err);
}

static int gaussian_init(struct nsid_readout *r, struct nsid_params *ps, const char *prefix,
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

static void gaussian_reset(struct nsid_readout *r, struct nsid_rng *rng)
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

static int gaussian_bind(struct nsid_readout *r, struct nsid_arena *a, int B, struct nsid_err *err)
{
    size_t bn2 = (size_t)B * r->N * 2;
    r->z = nsid_alloc_arena_floats(a, bn2, err);
    r->pre = nsid_alloc_arena_floats(a, bn2, err);
    r->pos = nsid_alloc_arena_floats(a, bn2, err);
    r->mu_cur = nsid_alloc_arena_floats(a, 2 * (size_t)r->N, err);
    r->dmu_cur = nsid_alloc_arena_floats(a, 2 * (size_t)r->N, err);
    r->gdpos = nsid_alloc_arena_floats(a, 2 * (size_t)r->N, err);
    r->bl = nsid_alloc_arena_bytes(a, sizeof(struct nsid_bilinear) * (size_t)r->N, err);
    if (!r->z || !r->pre || !r->pos || !r->mu_cur || !r->dmu_cur || !r->gdpos || !r->bl) return NSID_ENOMEM;
    if (r->shared) {
        r->weff = nsid_alloc_arena_floats(a, (size_t)r->C * r->N, err);
        r->dweff = nsid_alloc_arena_floats(a, (size_t)r->C * r->N, err);
        if (!r->weff || !r->dweff) return NSID_ENOMEM;
    }
    if (!r->kern && nsid_readout_set_kernels(r, NULL, err) < 0) return err->code;
    r->nt = nsid_pool_threads(r->pool);
    r->cp = (r->C + r->kern->vb - 1) / r->kern->vb * r->kern->vb;
    size_t ncp = (size_t)r->N * r->cp, map = (size_t)r->H * r->W * r->cp;
    r->wT = nsid_alloc_arena_floats(a, ncp, err);
    r->dwT = nsid_alloc_arena_floats(a, ncp, err);
    r->gdpos = nsid_alloc_arena_floats(a, bn2, err);
    r->scratch = nsid_alloc_arena_floats(a, (size_t)r->nt * 2 * map, err);
    r->blrow = nsid_alloc_arena_bytes(a, sizeof(struct nsid_bilinear) * (size_t)r->nt * r->N, err);
    if (!r->wT || !r->dwT || !r->gdpos || !r->scratch || !r->blrow) return NSID_ENOMEM;
    if (a->base) {  /* padding lanes (channels C..cp-1) stay zero: only channels < C are ever written */
        memset(r->wT, 0, sizeof(float) * ncp);
        memset(r->scratch, 0, sizeof(float) * (size_t)r->nt * 2 * map);
    }
    if (r->cfg.grid_mean_predictor) return nsid_shifter_mlp_bind_state(&r->gmp, a, r->N, err);
    return 0;
}

/* ---------------------------------------------------------------- forward */

/* mu_cur (N,2): the free _mu (clamped in place first, as PyTorch) or the predictor's output. */
static void compute_mu(struct nsid_readout *r)
{
    size_t n2 = 2 * (size_t)r->N;
    if (r->mu) {
        nsid_gridsample_clamp_forward(r->mu, r->mu, n2, -1.0f, 1.0f);
        memcpy(r->mu_cur, r->mu, sizeof(float) * n2);
    } else {
        nsid_shifter_mlp_forward(&r->gmp, r->source_grid, r->N);
        memcpy(r->mu_cur, nsid_shifter_mlp_output(&r->gmp), sizeof(float) * n2);
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

/* Two standard normals from one Box-Muller pair of uniforms (readout.h). */
static void normal_pair(struct nsid_rng *rng, float *z)
{
    double u1 = 1.0 - nsid_rng_uniform(rng), u2 = nsid_rng_uniform(rng);  /* u1 in (0, 1]: finite log */
    double rad = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
    z[0] = (float)(rad * cos(th));
    z[1] = (float)(rad * sin(th));
}

/* dst (H*W, cp) = the channels-last copy of src (C, H*W) (padding lanes untouched: zero). */
static void to_channels_last(float *dst, const float *src, int C, int HW, int cp)
{
    enum { T = 8 };  /* 8 x 8 tiles: both sides stay in cache lines */
    for (int c0 = 0; c0 < C; c0 += T)
        for (int p0 = 0; p0 < HW; p0 += T) {
            int c1 = c0 + T < C ? c0 + T : C, p1 = p0 + T < HW ? p0 + T : HW;
            for (int c = c0; c < c1; c++)
                for (int p = p0; p < p1; p++) dst[(size_t)p * cp + c] = src[(size_t)c * HW + p];
        }
}

/* dst (C, H*W) += the channels-first copy of src (H*W, cp). */
static void add_channels_first(float *dst, const float *src, int C, int HW, int cp)
{
    enum { T = 8 };
    for (int c0 = 0; c0 < C; c0 += T)
        for (int p0 = 0; p0 < HW; p0 += T) {
            int c1 = c0 + T < C ? c0 + T : C, p1 = p0 + T < HW ? p0 + T : HW;
            for (int c = c0; c < c1; c++)
                for (int p = p0; p < p1; p++) dst[(size_t)c * HW + p] += src[(size_t)p * cp + c];
        }
}

/* Thread tid's channels-last map (which = 0) or map gradient (which = 1). */
static float *gs_scratch(const struct nsid_readout *r, int tid, int which)
{
    size_t map = (size_t)r->H * r->W * r->cp;
    return r->scratch + ((size_t)tid * 2 + (size_t)which) * map;
}

/* How the kernels address one image's map: base, pixel stride, block stride (kern.h). */
struct gs_map {
    const float *f;
    size_t ps, bs;
};

/*
 * Image b of feat as the kernels read it: in place when feat is channel-blocked,
 * else its channels-last copy in thread tid's scratch.
 */
static struct gs_map image_map(const struct nsid_readout *r, const float *feat, int b, int tid)
{
    size_t HW = (size_t)r->H * r->W;
    if (r->in_vb > 1)
        return (struct gs_map){feat + (size_t)b * r->cp * HW, (size_t)r->in_vb, HW * (size_t)r->in_vb};
    float *ft = gs_scratch(r, tid, 0);
    to_channels_last(ft, feat + (size_t)b * r->C * HW, r->C, (int)HW, r->cp);
    return (struct gs_map){ft, (size_t)r->cp, (size_t)r->kern->vb};
}

/* One forward or backward call, as pool tasks see it. */
struct gs_call {
    struct nsid_readout *r;
    const float *feat;           /* (B, C, H, W) */
    int B;
    bool training;
    const float *z;              /* given noise or NULL */
    bool draw;                   /* draw z from per-image streams seeded by `base` */
    uint64_t base;
    const float *shift;          /* (B, 2) or NULL */
    float *dfeat;                /* backward: (B, C, H, W) += or NULL */
    float *dshift;               /* backward: (B, 2) += or NULL */
    const float *dout;           /* backward: (B, N) */
    const float *w;              /* forward: the effective features (C, N) */
};

/* Forward of images [lo, hi) on thread tid: noise, positions, y = w . F(pos) + bias. */
static void gs_forward_task(void *arg, int tid, int nt)
{
    const struct gs_call *k = arg;
    struct nsid_readout *r = k->r;
    int N = r->N, nb = r->cp / r->kern->vb, lo, hi;
    nsid_pool_range(k->B, tid, nt, &lo, &hi);
    /* the effective features (C, N) -> channels-last (N, cp), split by neurons */
    int n0, n1;
    nsid_pool_range(N, tid, nt, &n0, &n1);
    for (int n = n0; n < n1; n++)
        for (int c = 0; c < r->C; c++) r->wT[(size_t)n * r->cp + c] = k->w[(size_t)c * N + n];
    nsid_pool_barrier(r->pool);
    struct nsid_bilinear *bl = r->blrow + (size_t)tid * N;
    for (int b = lo; b < hi; b++) {
        struct gs_map m = image_map(r, k->feat, b, tid);
        struct nsid_rng rb;
        if (k->draw) nsid_rng_init(&rb, k->base, (uint64_t)b);
        for (int n = 0; n < N; n++) {
            size_t bn = (size_t)b * N + n;
            float *zz = r->z + bn * 2;
            if (!k->training) { zz[0] = 0.0f; zz[1] = 0.0f; }
            else if (k->z) { zz[0] = k->z[bn * 2]; zz[1] = k->z[bn * 2 + 1]; }
            else normal_pair(&rb, zz);
            place(r->sigma + (size_t)n * 4, r->mu_cur + (size_t)n * 2, zz, k->shift ? k->shift + b * 2 : NULL,
                  r->pre + bn * 2, r->pos + bn * 2);
        }
        r->kern->gs_setup(bl, r->pos + (size_t)b * N * 2, N, r->H, r->W);
        for (int n = 0; n < N; n++)
            r->out[(size_t)b * N + n] =
                r->kern->gs_dot4(m.f, r->wT + (size_t)n * r->cp, &bl[n], nb, m.ps, m.bs) + r->bias[n];
    }
}

static void gaussian_forward(struct nsid_readout *r, const float *feat, int B, bool training,
                            struct nsid_rng *rng, const float *z, const float *shift)
{
    NSID_ASSERT(!training || z || rng);
    NSID_ASSERT(nsid_pool_threads(r->pool) <= r->nt);
    compute_mu(r);
    struct gs_call k = {.r = r, .feat = feat, .B = B, .training = training, .z = z, .shift = shift,
                        .draw = training && !z, .w = effective_features(r)};
    if (k.draw) k.base = nsid_rng_u64(rng);
    nsid_pool_run(r->pool, gs_forward_task, &k);
}

/* --------------------------------------------------------------- backward */

/*
 * Pass 1's work for neuron n of image b (map m, bilinear point bl): the position
 * gradient dpos = g * sum_k dw_k/dpos <F[idx_k], w_n> (stored for pass 2), dshift
 * and, unless dft is NULL, the feature-map gradient.
 */
static void bwd_position(const struct gs_call *k, int b, int n, const struct nsid_bilinear *bl, struct gs_map m,
                         float *dft)
{
    struct nsid_readout *r = k->r;
    int N = r->N, cp = r->cp, nb = cp / r->kern->vb;
    size_t bn = (size_t)b * N + n;
    float g = k->dout[bn], D[4];
    /* forward: y = sum_k w_k <F[idx_k], w_n>, w_k bilinear in pos */
    r->kern->gs_backward(dft, D, m.f, r->wT + (size_t)n * cp, bl, g, nb, m.ps, m.bs);
    float gx = 0.0f, gy = 0.0f;
    for (int t = 0; t < 4; t++) {
        gx += bl->dwdx[t] * D[t];
        gy += bl->dwdy[t] * D[t];
    }
    r->gdpos[bn * 2] = g * gx;
    r->gdpos[bn * 2 + 1] = g * gy;
    if (k->dshift) { k->dshift[b * 2] += g * gx; k->dshift[b * 2 + 1] += g * gy; }
}

/* Pass 2's work for neuron n of image b: feature vector, bias, S and mu gradients += (b in order). */
static void bwd_neuron(const struct gs_call *k, int b, int n, const struct nsid_bilinear *bl, struct gs_map m)
{
    struct nsid_readout *r = k->r;
    int N = r->N, cp = r->cp, nb = cp / r->kern->vb;
    size_t bn = (size_t)b * N + n;
    float g = k->dout[bn];
    r->dbias[n] += g;
    r->kern->gs_wgrad(r->dwT + (size_t)n * cp, m.f, bl, g, nb, m.ps, m.bs);  /* forward: y += w_n . F(pos) */
    const float *zz = r->z + bn * 2, *pre = r->pre + bn * 2, *dpos = r->gdpos + bn * 2;
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

/* Image b's feature-map gradient buffer: dfeat itself when blocked, else a zeroed channels-last scratch. */
static float *image_dfeat(const struct gs_call *k, int b, int tid)
{
    const struct nsid_readout *r = k->r;
    size_t HW = (size_t)r->H * r->W;
    if (!k->dfeat) return NULL;
    if (r->in_vb > 1) return k->dfeat + (size_t)b * r->cp * HW;
    float *dft = gs_scratch(r, tid, 1);
    memset(dft, 0, sizeof(float) * HW * r->cp);
    return dft;
}

/* The channels-last scratch of image b added into an NCHW dfeat (nothing when dfeat is blocked or NULL). */
static void image_dfeat_done(const struct gs_call *k, int b, const float *dft)
{
    const struct nsid_readout *r = k->r;
    int HW = r->H * r->W;
    if (dft && r->in_vb == 1) add_channels_first(k->dfeat + (size_t)b * r->C * HW, dft, r->C, HW, r->cp);
}

/* The per-neuron feature-vector sums (channels-last) of neurons [lo, hi) into the features' gradient. */
static void neurons_done(struct nsid_readout *r, int lo, int hi)
{
    float *dw = r->shared ? r->dweff : r->dfeatures;
    for (int n = lo; n < hi; n++)
        for (int c = 0; c < r->C; c++) dw[(size_t)c * r->N + n] += r->dwT[(size_t)n * r->cp + c];
}

/* Pass 1, images [lo, hi) on thread tid (bwd_position for every neuron). */
static void gs_backward_images(const struct gs_call *k, int tid, int nt)
{
    struct nsid_readout *r = k->r;
    int N = r->N, lo, hi;
    nsid_pool_range(k->B, tid, nt, &lo, &hi);
    struct nsid_bilinear *bl = r->blrow + (size_t)tid * N;
    for (int b = lo; b < hi; b++) {
        struct gs_map m = image_map(r, k->feat, b, tid);
        float *dft = image_dfeat(k, b, tid);
        r->kern->gs_setup(bl, r->pos + (size_t)b * N * 2, N, r->H, r->W);
        for (int n = 0; n < N; n++) bwd_position(k, b, n, &bl[n], m, dft);
        image_dfeat_done(k, b, dft);
    }
}

/*
 * Pass 2, neurons [lo, hi) on thread tid, images in order (bwd_neuron): each
 * neuron's sums run over b = 0..B-1, so the result does not depend on the
 * thread count.
 */
static void gs_backward_neurons(const struct gs_call *k, int tid, int nt)
{
    struct nsid_readout *r = k->r;
    int N = r->N, lo, hi;
    nsid_pool_range(N, tid, nt, &lo, &hi);
    if (lo == hi) return;
    memset(r->dwT + (size_t)lo * r->cp, 0, sizeof(float) * (size_t)(hi - lo) * r->cp);
    struct nsid_bilinear *bl = r->blrow + (size_t)tid * N;
    for (int b = 0; b < k->B; b++) {
        struct gs_map m = image_map(r, k->feat, b, tid);
        r->kern->gs_setup(bl + lo, r->pos + ((size_t)b * N + lo) * 2, hi - lo, r->H, r->W);
        for (int n = lo; n < hi; n++) bwd_neuron(k, b, n, &bl[n], m);
    }
    neurons_done(r, lo, hi);
}

/*
 * Both passes in one, on a single thread: per image, one setup and one map serve
 * both, and each neuron's corners are gathered by pass 2's kernel while pass 1's
 * left them in L1. Every sum sees its terms in the order of the two passes (images
 * outer, neurons inner), so the results are the same bit for bit.
 */
static void gs_backward_fused(const struct gs_call *k)
{
    struct nsid_readout *r = k->r;
    int N = r->N;
    memset(r->dwT, 0, sizeof(float) * (size_t)N * r->cp);
    struct nsid_bilinear *bl = r->blrow;
    for (int b = 0; b < k->B; b++) {
        struct gs_map m = image_map(r, k->feat, b, 0);
        float *dft = image_dfeat(k, b, 0);
        r->kern->gs_setup(bl, r->pos + (size_t)b * N * 2, N, r->H, r->W);
        for (int n = 0; n < N; n++) {
            bwd_position(k, b, n, &bl[n], m, dft);
            bwd_neuron(k, b, n, &bl[n], m);
        }
        image_dfeat_done(k, b, dft);
    }
    neurons_done(r, 0, N);
}

/* Both backward passes on thread tid, the barrier between them (pass 2 reads every image's dpos). */
static void gs_backward_task(void *arg, int tid, int nt)
{
    const struct gs_call *k = arg;
    if (nt == 1) {
        gs_backward_fused(k);
        return;
    }
    gs_backward_images(k, tid, nt);
    nsid_pool_barrier(k->r->pool);
    gs_backward_neurons(k, tid, nt);
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

static void gaussian_backward(struct nsid_readout *r, float *dfeat, float *dshift, const float *dout,
                             const float *feat, int B)
{
    int N = r->N;
    NSID_ASSERT(nsid_pool_threads(r->pool) <= r->nt);
    if (r->shared) memset(r->dweff, 0, sizeof(float) * (size_t)r->C * N);
    memset(r->dmu_cur, 0, sizeof(float) * 2 * (size_t)N);
    struct gs_call k = {.r = r, .feat = feat, .B = B, .dfeat = dfeat, .dshift = dshift, .dout = dout};
    nsid_pool_run(r->pool, gs_backward_task, &k);
    if (r->mu) {
        for (int i = 0; i < 2 * N; i++) r->dmu[i] += r->dmu_cur[i];
    } else {
        nsid_shifter_mlp_backward(&r->gmp, NULL, r->dmu_cur, r->source_grid, N);
    }
    if (r->shared) sharing_backward(r);
}

/* ------------------------------------------------------------ regulariser */

static double gaussian_reg(const struct nsid_readout *r)
{
    if (r->owner != r) return 0.0; /* only the owner's _features are penalised */
    size_t nf = (size_t)r->C * (r->shared ? r->n_ids : r->N);
    double s = 0.0;
    for (size_t k = 0; k < nf; k++) s += fabs((double)r->features[k]);
    return r->cfg.gamma_readout * s;
}

static void gaussian_reg_backward(struct nsid_readout *r, double scale)
{
    if (r->owner != r) return;
    size_t nf = (size_t)r->C * (r->shared ? r->n_ids : r->N);
    float k = (float)(scale * r->cfg.gamma_readout);
    for (size_t i = 0; i < nf; i++) r->dfeatures[i] += k * nsid__signf(r->features[i]);
}

/* -------------------------------------------------------------- positions */

static int gaussian_positions(const struct nsid_readout *r, float *pos, struct nsid_err *err)
{
    size_t n2 = 2 * (size_t)r->N;
    if (r->mu) {
        nsid_gridsample_clamp_forward(pos, r->mu, n2, -1.0f, 1.0f);
        return 0;
    }
    float *work = NSID_ALLOC(sizeof(float) * 2 * (size_t)r->gmp.max_width, err);
    if (!work) return NSID_ENOMEM;
    for (int n = 0; n < r->N; n++)
        nsid_shifter_mlp_forward_row(&r->gmp, r->source_grid + (size_t)n * 2, pos + (size_t)n * 2, work);
    nsid_alloc_free(work);
    nsid_gridsample_clamp_forward(pos, pos, n2, -1.0f, 1.0f);
    return 0;
}

#define GMP_MAX_WIDTH 1024

static int gaussian_validate(const struct nsid_readout_config *c, struct nsid_err *err)
{
    if (!(c->init_mu_range > 0.0 && c->init_mu_range <= 1.0))
        return nsid__readout_bad(err, "init_mu_range", "%g, expected in (0, 1]", c->init_mu_range);
    if (!(c->init_sigma > 0.0 && isfinite(c->init_sigma)))
        return nsid__readout_bad(err, "init_sigma", "%g, expected > 0", c->init_sigma);
    if (!c->grid_mean_predictor) return 0;
    if (c->gmp_hidden_layers < 0 || c->gmp_hidden_layers > NSID_MLP_MAX_LAYERS - 1)
        return nsid__readout_bad(err, "gmp_hidden_layers", "%g, expected 0..7", c->gmp_hidden_layers);
    if (c->gmp_hidden_layers > 0 && (c->gmp_hidden_features < 1 || c->gmp_hidden_features > GMP_MAX_WIDTH))
        return nsid__readout_bad(err, "gmp_hidden_features", "%g, expected 1..1024 with hidden layers",
                                 c->gmp_hidden_features);
    if (!isfinite(c->init_transform_scale))
        return nsid__readout_bad(err, "init_transform_scale", "%g, expected a finite number", c->init_transform_scale);
    return 0;
}

const struct nsid_readout_ops nsid_readout_gaussian_ops = {
    .name = "gaussian",
    .gamma_readout = 2.439,
    .init_noise = 1e-3,
    .grid_mean_predictor = true,
    .blocked_input = true,
    .validate = gaussian_validate,
    .init = gaussian_init,
    .reset = gaussian_reset,
    .bind = gaussian_bind,
    .forward = gaussian_forward,
    .backward = gaussian_backward,
    .reg = gaussian_reg,
    .reg_backward = gaussian_reg_backward,
    .positions = gaussian_positions,
};
