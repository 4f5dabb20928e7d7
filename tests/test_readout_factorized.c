/*
 * test_readout_factorized.c - the factorized readout (FullSXF): gradients by
 * finite differences (plain, normalised, shared features), the positivity
 * projection, the regulariser exactly as FullSXF.l1 computes it, the sgemm
 * layout against a direct sum at the paper's sizes, initialisation, counts.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/readout.h"
#include "test_readout_util.h"

/* Projection kinks: which mask entries are positive. */
static uint64_t mask_sig(const struct ro_ctx *c, uint64_t h)
{
    for (int i = 0; i < c->nr; i++) {
        const struct nsid_readout *r = &c->r[i];
        for (int k = 0; k < r->N * r->H * r->W; k++) h = sig_mix(h, r->spatial[k] > 0.0f);
    }
    return h;
}

static int setup(struct ro_ctx *c, bool normalize, bool shared, uint64_t seed)
{
    static const int64_t ids_a[5] = {4, 9, 4, 2, -1}, ids_b[4] = {9, 2, -1, 4};
    struct nsid_err err = {0};
    struct nsid_readout_config cfg;
    nsid_readout_config_default(&cfg, NSID_READOUT_FACTORIZED);
    cfg.normalize = normalize;
    cfg.share_features = shared;
    cfg.gamma_readout = 0.02;
    memset(c, 0, sizeof *c);
    nsid_params_init(&c->ps);
    c->nr = shared ? 2 : 1; c->B = 2; c->C = 3; c->H = 4; c->W = 5;
    c->training = true;
    c->extra_sig = mask_sig;
    int rc = nsid_readout_init(&c->r[0], &cfg, c->C, c->H, c->W, 5, NULL, shared ? ids_a : NULL, NULL, &c->ps,
                               "readout.a", &err);
    if (rc == 0 && shared)
        rc = nsid_readout_init(&c->r[1], &cfg, c->C, c->H, c->W, 4, NULL, ids_b, &c->r[0], &c->ps, "readout.b", &err);
    CHECK(rc == 0, "factorized init: %s", err.msg);
    if (rc == 0) rc = ro_setup(c, seed);
    if (rc == 0) ro_randomize(c, seed);
    /* one mask entry in 7 negative (projected away: a kink the check skips), the rest positive */
    for (int i = 0; rc == 0 && i < c->nr; i++)
        for (int k = 0; k < c->r[i].N * c->H * c->W; k++)
            c->r[i].spatial[k] = k % 7 == 3 ? -fabsf(c->r[i].spatial[k]) : fabsf(c->r[i].spatial[k]);
    return rc;
}

static void test_fd(void)
{
    struct ro_ctx c;
    if (setup(&c, false, false, 21) == 0) ro_fd_all(&c, 1e-2, 1e-3, 1e-3, "factorized");
    ro_free(&c);
    if (setup(&c, true, false, 22) == 0) ro_fd_all(&c, 1e-3, 1e-3, 1e-3, "factorized, normalize");
    ro_free(&c);
    if (setup(&c, false, true, 23) == 0) {
        CHECK(!nsid_params_find(&c.ps, "readout.b._features"), "a non-owner registers no _features");
        struct nsid_param *f = nsid_params_find(&c.ps, "readout.a._features");
        struct nsid_param *s = nsid_params_find(&c.ps, "readout.b.scales");
        CHECK(f && f->ndim == 2 && f->shape[0] == 4 && f->shape[1] == 3, "shared _features (n_ids, C)");
        CHECK(s && s->ndim == 2 && s->shape[0] == 4 && s->shape[1] == 1, "scales (N, 1)");
        ro_fd_all(&c, 1e-2, 1e-3, 1e-3, "factorized, shared features");
    }
    ro_free(&c);
}

/* The regulariser as FullSXF.l1(average=False) computes it. */
static void test_regularizer(void)
{
    struct ro_ctx c;
    if (setup(&c, false, true, 24) != 0) { ro_free(&c); return; }
    ro_loss(&c, &(uint64_t){0});
    const struct nsid_readout *a = &c.r[0], *b = &c.r[1];
    int hw = a->H * a->W;
    double su = 0.0, sv = 0.0, per_neuron = 0.0;
    for (int n = 0; n < a->N; n++) {
        double un = 0.0, vn = 0.0;
        for (int k = 0; k < hw; k++) un += fabs((double)a->spatial[n * hw + k]);
        for (int ch = 0; ch < a->C; ch++)
            vn += fabs((double)a->scales[n] * (double)a->features[a->share_idx[n] * a->C + ch]);
        su += un; sv += vn; per_neuron += un * vn;
    }
    CHECK_CLOSE(nsid_readout_regularizer(a), 0.02 * su * sv, 1e-9, 1e-5,
                "owner: gamma * (sum |u|) * (sum |scales * _features[idx]|), a product of global norms");
    CHECK(fabs(nsid_readout_regularizer(a) - 0.02 * per_neuron) > 1e-3 * 0.02 * per_neuron,
          "and not the per-neuron form sum_n |u_n| |v_n|");
    double sub = 0.0;
    for (int k = 0; k < b->N * hw; k++) sub += fabs((double)b->spatial[k]);
    CHECK_CLOSE(nsid_readout_regularizer(b), 0.02 * sub, 1e-9, 1e-5, "non-owner: gamma * sum |u| only");
    ro_free(&c);
}

static void test_projection(void)
{
    struct ro_ctx c;
    if (setup(&c, false, false, 25) != 0) { ro_free(&c); return; }
    struct nsid_readout *r = &c.r[0];
    size_t nu = (size_t)r->N * r->H * r->W;
    float *before = malloc(sizeof(float) * nu);
    memcpy(before, r->spatial, sizeof(float) * nu);
    int neg = 0;
    for (size_t k = 0; k < nu; k++) neg += before[k] < 0.0f;
    nsid_readout_forward(r, c.feat[0], c.B, true, NULL, NULL, NULL);
    int ok = 1;
    for (size_t k = 0; k < nu; k++) ok &= r->spatial[k] == (before[k] > 0.0f ? before[k] : 0.0f);
    CHECK(neg > 0 && ok, "forward projects the mask onto u >= 0 in place (%d negatives zeroed, positives kept)", neg);
    free(before);
    ro_free(&c);
}

/* The sgemm path against a direct triple sum at the paper's sizes. */
static void test_paper_sizes(void)
{
    enum { B = 2, C = 64, H = 22, W = 50, N = 10 };
    struct nsid_err err = {0};
    struct nsid_readout_config cfg;
    struct nsid_params ps;
    struct nsid_readout r;
    struct nsid_arena a;
    struct nsid_rng rng;
    nsid_readout_config_default(&cfg, NSID_READOUT_FACTORIZED);
    nsid_params_init(&ps);
    nsid_readout_init(&r, &cfg, C, H, W, N, NULL, NULL, NULL, &ps, "readout.x", &err);
    CHECK(count_weights(&ps, "readout.x.") == 1165 * N, "factorized: 1,165 parameters per neuron (22x50 + 64 + 1)");
    struct nsid_param *sp = nsid_params_find(&ps, "readout.x.spatial"), *f = nsid_params_find(&ps, "readout.x._features");
    CHECK(sp && sp->ndim == 3 && sp->shape[0] == N && sp->shape[1] == H && sp->shape[2] == W, "spatial (N,H,W)");
    CHECK(f && f->ndim == 2 && f->shape[0] == N && f->shape[1] == C, "_features (N,C)");
    nsid_params_alloc(&ps, &err);
    nsid_rng_init(&rng, 6, NSID_STREAM_INIT);
    nsid_readout_reset_parameters(&r, &rng);
    double mean = 0.0, var = 0.0;
    size_t nu = (size_t)N * H * W;
    for (size_t k = 0; k < nu; k++) mean += (double)r.spatial[k];
    mean /= (double)nu;
    for (size_t k = 0; k < nu; k++) var += ((double)r.spatial[k] - mean) * ((double)r.spatial[k] - mean);
    double sd = sqrt(var / (double)nu);
    CHECK(fabs(sd - 4.1232e-05) < 2e-6, "spatial ~ N(0, 4.1232e-05^2): std %g", sd);
    int zero_bias = 1;
    for (int n = 0; n < N; n++) zero_bias &= r.bias[n] == 0.0f;
    CHECK(zero_bias, "bias initialised to 0");
    for (size_t k = 0; k < nu; k++) r.spatial[k] *= 1e4f;
    for (int k = 0; k < N * C; k++) r.features[k] *= 1e4f;
    nsid_alloc_arena_measure(&a);
    nsid_readout_bind_state(&r, &a, B, &err);
    nsid_alloc_arena_init(&a, a.used, &err);
    nsid_readout_bind_state(&r, &a, B, &err);
    float *x = malloc(sizeof(float) * B * C * H * W);
    fill_normal(x, (size_t)B * C * H * W, 1.0, &rng);
    nsid_readout_forward(&r, x, B, true, NULL, NULL, NULL);
    int ok = 1;
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            double y = r.bias[n];
            for (int ch = 0; ch < C; ch++)
                for (int k = 0; k < H * W; k++)
                    y += (double)x[((size_t)b * C + ch) * H * W + k] * (double)r.spatial[(size_t)n * H * W + k] *
                         (double)r.features[n * C + ch];
            ok &= fabs(y - (double)r.out[b * N + n]) <= 1e-4 + 1e-4 * fabs(y);
        }
    CHECK(ok, "y = sum_{c,h,w} x u v + b at C=64, 22x50 (sgemm layout)");
    free(x);
    nsid_alloc_arena_free(&a);
    nsid_readout_free(&r);
    nsid_params_free(&ps);
}

int main(void)
{
    test_fd();
    test_regularizer();
    test_projection();
    test_paper_sizes();
    return check_summary("readout_factorized");
}
