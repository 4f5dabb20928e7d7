/*
 * test_readout_gaussian.c - the Gaussian readout (FullGaussian2d): gradients by
 * finite differences (free mu, grid-mean predictor affine and with hidden
 * layers, feature sharing, evaluation mode), sampling and evaluation
 * semantics, initialisation, parameter counts, regulariser, bad input.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/readout.h"
#include "test_readout_util.h"

/* Random cortical coordinates (N,3) in µm. */
static double *random_coords(int N, uint64_t seed)
{
    struct nsid_rng rng;
    nsid_rng_init(&rng, seed, 300);
    double *c = malloc(sizeof(double) * 3 * (size_t)N);
    for (int i = 0; i < 3 * N; i++) c[i] = nsid_rng_uniform_range(&rng, -400.0, 400.0);
    return c;
}

/* One Gaussian readout in c (B=2, C=3, H=5, W=6, N=4). */
static int one_readout(struct ro_ctx *c, const struct nsid_readout_config *cfg, uint64_t seed)
{
    struct nsid_err err = {0};
    memset(c, 0, sizeof *c);
    nsid_params_init(&c->ps);
    c->nr = 1; c->B = 2; c->C = 3; c->H = 5; c->W = 6;
    c->training = true;
    c->use_shift = true;
    double *coords = random_coords(4, seed);
    int rc = nsid_readout_init(&c->r[0], cfg, c->C, c->H, c->W, 4, coords, NULL, NULL, &c->ps, "readout.s0", &err);
    free(coords);
    CHECK(rc == 0, "init: %s", err.msg);
    if (rc == 0) rc = ro_setup(c, seed);
    if (rc == 0) ro_randomize(c, seed);
    return rc;
}

static void test_fd_free(void)
{
    struct ro_ctx c;
    struct nsid_readout_config cfg;
    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    cfg.grid_mean_predictor = false;
    cfg.gamma_readout = 0.3;
    if (one_readout(&c, &cfg, 11) == 0) ro_fd_all(&c, 3e-3, 1e-3, 1e-3, "gaussian, free mu, training");
    /* evaluation: position = clamp(mu), gradients to mu only through the clamp */
    c.training = false;
    if (c.nr) ro_fd_all(&c, 3e-3, 1e-3, 1e-3, "gaussian, free mu, evaluation");
    ro_free(&c);
}

static void test_fd_cortex(void)
{
    struct ro_ctx c;
    struct nsid_readout_config cfg;
    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    cfg.gamma_readout = 0.3;
    if (one_readout(&c, &cfg, 12) == 0) ro_fd_all(&c, 1e-3, 1e-3, 1e-3, "gaussian, affine grid-mean predictor");
    ro_free(&c);
    cfg.gmp_hidden_layers = 2;
    cfg.gmp_hidden_features = 5;
    cfg.gmp_final_tanh = true;
    if (one_readout(&c, &cfg, 13) == 0) ro_fd_all(&c, 1e-3, 1e-3, 1e-3, "gaussian, predictor with ELU hidden layers and tanh");
    ro_free(&c);
}

/* Owner a (predictor, 6 neurons) and non-owner b (free mu, 5 neurons) sharing features. */
static int shared_pair(struct ro_ctx *c, uint64_t seed, struct nsid_err *err)
{
    static const int64_t ids_a[6] = {40, 7, -1, 7, 12, 3}, ids_b[5] = {12, 3, -1, 40, 7};
    struct nsid_readout_config a, b;
    nsid_readout_config_default(&a, NSID_READOUT_GAUSSIAN);
    nsid_readout_config_default(&b, NSID_READOUT_GAUSSIAN);
    a.share_features = b.share_features = true;
    a.gamma_readout = b.gamma_readout = 0.3;
    b.grid_mean_predictor = false;
    memset(c, 0, sizeof *c);
    nsid_params_init(&c->ps);
    c->nr = 2; c->B = 2; c->C = 3; c->H = 5; c->W = 6;
    c->training = true;
    c->use_shift = true;
    double *coords = random_coords(6, seed);
    int rc = nsid_readout_init(&c->r[0], &a, c->C, c->H, c->W, 6, coords, ids_a, NULL, &c->ps, "readout.a", err);
    if (rc == 0)
        rc = nsid_readout_init(&c->r[1], &b, c->C, c->H, c->W, 5, NULL, ids_b, &c->r[0], &c->ps, "readout.b", err);
    free(coords);
    if (rc == 0) rc = ro_setup(c, seed);
    if (rc == 0) ro_randomize(c, seed);
    return rc;
}

static void test_sharing(void)
{
    struct ro_ctx c;
    struct nsid_err err = {0};
    int rc = shared_pair(&c, 14, &err);
    CHECK(rc == 0, "two readouts sharing features: %s", err.msg);
    if (rc) { ro_free(&c); return; }
    struct nsid_readout *a = &c.r[0], *b = &c.r[1];
    CHECK(a->n_ids == 5 && b->n_ids == 5, "5 distinct match ids (-1 counts as one)");
    CHECK(a->share_idx[0] == 4 && a->share_idx[1] == 2 && a->share_idx[2] == 0 && a->share_idx[5] == 1,
          "feature_sharing_index is the rank among the sorted ids");
    struct nsid_param *fa = nsid_params_find(&c.ps, "readout.a._features");
    CHECK(fa && fa->shape[3] == 5 && fa->shape[1] == 3, "the owner holds _features (1,C,1,n_ids)");
    CHECK(!nsid_params_find(&c.ps, "readout.b._features"), "a non-owner registers no _features");
    CHECK(nsid_params_find(&c.ps, "readout.b.scales") && nsid_params_find(&c.ps, "readout.a.scales"),
          "every scan has its own scales");
    /* effective feature: neuron 0 of b (id 12) = scales_b[0] * _features[:, rank(12) = 3] */
    ro_analytic(&c);
    float want = b->scales[0] * a->features[1 * 5 + 3];
    CHECK(b->weff[1 * 5 + 0] == want, "non-owner reads scales * owner's _features[:, idx]");
    double reg_a = 0.0;
    for (int k = 0; k < 3 * 5; k++) reg_a += fabs((double)a->features[k]);
    CHECK_CLOSE(nsid_readout_regularizer(a), 0.3 * reg_a, 1e-9, 1e-9, "owner's regulariser = gamma * sum|_features|");
    CHECK(nsid_readout_regularizer(b) == 0.0, "a non-owner's regulariser is 0 (scales are free)");
    ro_fd_all(&c, 1e-3, 1e-3, 1e-3, "gaussian, shared features (owner with predictor, non-owner free)");
    ro_free(&c);
}

static void test_sampling_and_eval(void)
{
    struct ro_ctx c;
    struct nsid_readout_config cfg;
    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    if (one_readout(&c, &cfg, 15) != 0) { ro_free(&c); return; }
    struct nsid_readout *r = &c.r[0];
    int B = c.B, N = r->N;
    size_t bn = (size_t)B * N;
    float *o1 = malloc(sizeof(float) * bn), *o2 = malloc(sizeof(float) * bn), *zero = calloc(bn * 2, sizeof(float));
    struct nsid_rng s1, s2, s3;
    nsid_rng_init(&s1, 99, NSID_STREAM_SAMPLE);
    s2 = s1;
    nsid_readout_forward(r, c.feat[0], B, false, &s1, NULL, NULL);
    memcpy(o1, r->out, sizeof(float) * bn);
    nsid_readout_forward(r, c.feat[0], B, false, &s1, NULL, NULL);
    CHECK(memcmp(o1, r->out, sizeof(float) * bn) == 0 && memcmp(&s1, &s2, sizeof s1) == 0,
          "evaluation is deterministic and draws no noise");
    nsid_readout_forward(r, c.feat[0], B, true, NULL, zero, NULL);
    CHECK(memcmp(o1, r->out, sizeof(float) * bn) == 0, "evaluation equals training with z = 0 (position = mu)");
    float pos[8];
    struct nsid_err err = {0};
    CHECK(nsid_readout_positions(r, pos, &err) == 0, "positions");
    int same = 1;
    for (int n = 0; n < N; n++) same &= pos[2 * n] == r->pos[2 * n] && pos[2 * n + 1] == r->pos[2 * n + 1];
    CHECK(same, "nsid_readout_positions gives the evaluation positions clamp(mu)");

    nsid_readout_forward(r, c.feat[0], B, true, &s1, NULL, NULL);
    memcpy(o1, r->out, sizeof(float) * bn);
    nsid_rng_init(&s3, 99, NSID_STREAM_SAMPLE);
    uint64_t base = nsid_rng_u64(&s3);  /* readout.h: one draw seeds a stream per image */
    int drawn = 1;
    for (int b = 0; b < B; b++) {
        struct nsid_rng sb;
        nsid_rng_init(&sb, base, (uint64_t)b);
        for (int n = 0; n < N; n++) {
            double u1 = 1.0 - nsid_rng_uniform(&sb), u2 = nsid_rng_uniform(&sb);
            double rad = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
            const float *zz = r->z + ((size_t)b * N + n) * 2;
            drawn &= zz[0] == (float)(rad * cos(th)) && zz[1] == (float)(rad * sin(th));
        }
    }
    CHECK(drawn, "training draws z per image b from stream (u64 of the sample stream, b) as Box-Muller pairs");
    CHECK(memcmp(&s1, &s3, sizeof s1) == 0, "a training forward takes one u64 from the sample stream");
    nsid_readout_forward(r, c.feat[0], B, true, &s2, NULL, NULL);
    CHECK(memcmp(o1, r->out, sizeof(float) * bn) == 0, "the same sample stream gives the same outputs");
    nsid_readout_forward(r, c.feat[0], B, true, &s2, NULL, NULL);
    memcpy(o2, r->out, sizeof(float) * bn);
    CHECK(memcmp(o1, o2, sizeof(float) * bn) != 0, "a new draw moves the positions");
    /* pos = clamp(S z + mu) */
    int ok = 1;
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            const float *S = r->sigma + 4 * n, *z = r->z + ((size_t)b * N + n) * 2;
            for (int d = 0; d < 2; d++) {
                float p = S[2 * d] * z[0] + S[2 * d + 1] * z[1] + r->mu_cur[2 * n + d];
                p = p < -1.0f ? -1.0f : (p > 1.0f ? 1.0f : p);
                ok &= fabsf(p - r->pos[((size_t)b * N + n) * 2 + d]) < 1e-6f;
            }
        }
    CHECK(ok, "training position = clamp(S z + mu, -1, 1), x = row 0 of S");
    free(o1); free(o2); free(zero);
    ro_free(&c);
}

static void test_free_mu_clamped_in_place(void)
{
    struct ro_ctx c;
    struct nsid_readout_config cfg;
    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    cfg.grid_mean_predictor = false;
    if (one_readout(&c, &cfg, 16) != 0) { ro_free(&c); return; }
    c.r[0].mu[0] = 1.7f;
    c.r[0].mu[3] = -2.0f;
    nsid_readout_forward(&c.r[0], c.feat[0], c.B, false, NULL, NULL, NULL);
    CHECK(c.r[0].mu[0] == 1.0f && c.r[0].mu[3] == -1.0f, "a free _mu is clamped to [-1,1] in place at forward");
    ro_free(&c);
}

/* Parameters per neuron, docs/paper.md §2.6 (C=64, H x W = 22 x 50). */
static void test_param_counts(void)
{
    enum { C = 64, H = 22, W = 50, N = 10 };
    struct nsid_err err = {0};
    struct nsid_readout_config cfg;
    struct nsid_params ps;
    struct nsid_readout r, r2;
    double *coords = random_coords(N, 17);
    int64_t ids[N];
    for (int n = 0; n < N; n++) ids[n] = n / 2;

    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    nsid_params_init(&ps);
    nsid_readout_init(&r, &cfg, C, H, W, N, coords, NULL, NULL, &ps, "readout.x", &err);
    CHECK(count_weights(&ps, "readout.x.") == 69 * N + 6, "Gaussian with cortex predictor: 69 per neuron + 6 per scan");
    struct nsid_param *w = nsid_params_find(&ps, "readout.x.mu_transform.0.weight");
    struct nsid_param *sg = nsid_params_find(&ps, "readout.x.source_grid");
    CHECK(w && w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 2, "mu_transform.0.weight (2,2)");
    CHECK(sg && sg->kind == NSID_PARAM_BUFFER && sg->shape[0] == N && sg->shape[1] == 2, "source_grid is a (N,2) buffer");
    nsid_readout_free(&r);
    nsid_params_free(&ps);

    cfg.grid_mean_predictor = false;
    nsid_params_init(&ps);
    nsid_readout_init(&r, &cfg, C, H, W, N, NULL, NULL, NULL, &ps, "readout.x", &err);
    CHECK(count_weights(&ps, "readout.x.") == 71 * N, "Gaussian with free mu: 71 per neuron");
    struct nsid_param *mu = nsid_params_find(&ps, "readout.x._mu"), *s = nsid_params_find(&ps, "readout.x.sigma");
    struct nsid_param *f = nsid_params_find(&ps, "readout.x._features"), *b = nsid_params_find(&ps, "readout.x.bias");
    CHECK(mu && mu->ndim == 4 && mu->shape[1] == N && mu->shape[3] == 2, "_mu (1,N,1,2)");
    CHECK(s && s->ndim == 4 && s->shape[1] == N && s->shape[2] == 2 && s->shape[3] == 2, "sigma (1,N,2,2)");
    CHECK(f && f->ndim == 4 && f->shape[1] == C && f->shape[3] == N, "_features (1,C,1,N)");
    CHECK(b && b->ndim == 1 && b->shape[0] == N, "bias (N)");
    nsid_readout_free(&r);
    nsid_params_free(&ps);

    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    cfg.share_features = true;
    nsid_params_init(&ps);
    nsid_readout_init(&r, &cfg, C, H, W, N, coords, ids, NULL, &ps, "readout.a", &err);
    int rc = nsid_readout_init(&r2, &cfg, C, H, W, N, coords, ids, &r, &ps, "readout.b", &err);
    CHECK(rc == 0, "second scan shares the first's features (%s)", err.msg);
    CHECK(count_weights(&ps, "readout.b.") == 6 * N + 6, "shared features: 6 non-shared per neuron + 6 per scan");
    CHECK(count_weights(&ps, "readout.a.") == 6 * N + 6 + 64 * 5, "the owner adds 64 per matched unit");
    nsid_readout_free(&r2);
    nsid_readout_free(&r);
    nsid_params_free(&ps);
    free(coords);
}

static double stddev(const float *x, size_t n, double *mean)
{
    double s = 0.0, s2 = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++) s2 += ((double)x[i] - *mean) * ((double)x[i] - *mean);
    return sqrt(s2 / (double)n);
}

static void test_init(void)
{
    enum { C = 16, H = 8, W = 9, N = 500 };
    struct nsid_err err = {0};
    struct nsid_readout_config cfg;
    struct nsid_params ps, ps2;
    struct nsid_readout r, r2;
    struct nsid_rng rng;
    double *coords = random_coords(N, 18), mean, sd;
    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    nsid_params_init(&ps);
    nsid_readout_init(&r, &cfg, C, H, W, N, coords, NULL, NULL, &ps, "readout.x", &err);
    nsid_params_alloc(&ps, &err);
    nsid_rng_init(&rng, 5, NSID_STREAM_INIT);
    printf("gaussian init: seed 5\n");
    nsid_readout_reset_parameters(&r, &rng);
    sd = stddev(r.features, (size_t)C * N, &mean);
    CHECK(fabs(sd - 1e-3) < 1e-4 && fabs(mean) < 1e-4, "features ~ N(0, 1e-3^2): std %g", sd);
    float lo = 1, hi = -1;
    for (int k = 0; k < 4 * N; k++) { lo = fminf(lo, r.sigma[k]); hi = fmaxf(hi, r.sigma[k]); }
    sd = stddev(r.sigma, 4 * N, &mean);
    CHECK(lo >= -0.4f && hi <= 0.4f && fabs(sd - 0.4 / sqrt(3.0)) < 0.02, "sigma ~ U(-0.4, 0.4): std %g", sd);
    const float *A = r.gmp.layer[0].w;
    double ata[4] = {A[0] * A[0] + A[2] * A[2], A[0] * A[1] + A[2] * A[3], 0, A[1] * A[1] + A[3] * A[3]};
    CHECK(fabs(ata[0] - 0.04) < 1e-6 && fabs(ata[1]) < 1e-6 && fabs(ata[3] - 0.04) < 1e-6,
          "mu_transform weight = 0.2 * orthogonal (A^T A = 0.04 I)");
    CHECK(fabsf(r.gmp.layer[0].b[0]) < 5e-3f && fabsf(r.gmp.layer[0].b[1]) < 5e-3f, "mu_transform bias ~ N(0, 1e-3^2)");
    sd = stddev(r.bias, N, &mean);
    CHECK(fabs(sd - 1e-3) < 2e-4, "bias ~ N(0, 1e-3^2) before set_bias: std %g", sd);
    double mx = 0.0, my = 0.0, amax = 0.0;
    for (int n = 0; n < N; n++) {
        mx += (double)r.source_grid[2 * n]; my += (double)r.source_grid[2 * n + 1];
        amax = fmax(amax, fmax(fabs(r.source_grid[2 * n]), fabs(r.source_grid[2 * n + 1])));
    }
    CHECK(fabs(mx / N) < 1e-6 && fabs(my / N) < 1e-6 && fabs(amax - 1.0) < 1e-6,
          "source_grid: centred columns, largest |value| over both columns is 1");
    float mean_resp[N];
    for (int n = 0; n < N; n++) mean_resp[n] = (float)n * 0.01f;
    nsid_readout_set_bias(&r, mean_resp);
    CHECK(r.bias[7] == mean_resp[7], "set_bias writes the mean response");

    /* same seed, same parameters */
    nsid_params_init(&ps2);
    nsid_readout_init(&r2, &cfg, C, H, W, N, coords, NULL, NULL, &ps2, "readout.x", &err);
    nsid_params_alloc(&ps2, &err);
    nsid_rng_init(&rng, 5, NSID_STREAM_INIT);
    nsid_readout_reset_parameters(&r2, &rng);
    nsid_readout_set_bias(&r2, mean_resp);
    CHECK(memcmp(ps.w, ps2.w, sizeof(float) * ps.n_weights) == 0, "initialisation is deterministic per seed");
    nsid_readout_free(&r2);
    nsid_params_free(&ps2);
    nsid_readout_free(&r);
    nsid_params_free(&ps);

    cfg.grid_mean_predictor = false;
    nsid_params_init(&ps);
    nsid_readout_init(&r, &cfg, C, H, W, N, NULL, NULL, NULL, &ps, "readout.x", &err);
    nsid_params_alloc(&ps, &err);
    nsid_readout_reset_parameters(&r, &rng);
    lo = 1; hi = -1;
    for (int k = 0; k < 2 * N; k++) { lo = fminf(lo, r.mu[k]); hi = fmaxf(hi, r.mu[k]); }
    CHECK(lo >= -0.55f && hi <= 0.55f && lo < -0.5f && hi > 0.5f, "free mu ~ U(-0.55, 0.55)");
    nsid_readout_free(&r);
    nsid_params_free(&ps);
    free(coords);
}

static void expect_error(const struct nsid_readout_config *cfg, int N, const double *coords, const int64_t *ids,
                         struct nsid_readout *owner, const char *key, const char *what)
{
    struct nsid_err err = {0};
    struct nsid_params ps;
    struct nsid_readout r;
    nsid_params_init(&ps);
    int rc = nsid_readout_init(&r, cfg, 3, 5, 6, N, coords, ids, owner, &ps, "readout.bad", &err);
    CHECK(rc < 0 && strstr(err.key, key) != NULL, "%s is an error naming '%s' (got %d, key '%s': %s)", what, key,
          rc, err.key, err.msg);
    nsid_readout_free(&r);
    nsid_params_free(&ps);
}

static void test_bad_input(void)
{
    struct nsid_readout_config cfg;
    double *coords = random_coords(4, 19), same[12];
    int64_t ids[4] = {1, 2, 3, 4}, other[4] = {1, 2, 3, 5};
    for (int i = 0; i < 12; i++) same[i] = 5.0;
    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    cfg.init_sigma = 0.0;
    expect_error(&cfg, 4, coords, NULL, NULL, "init_sigma", "init_sigma 0");
    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    cfg.init_mu_range = 1.5;
    expect_error(&cfg, 4, coords, NULL, NULL, "init_mu_range", "init_mu_range 1.5");
    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    cfg.gamma_readout = -1.0;
    expect_error(&cfg, 4, coords, NULL, NULL, "gamma_readout", "a negative gamma_readout");
    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    cfg.gmp_hidden_layers = 1;
    cfg.gmp_hidden_features = 0;
    expect_error(&cfg, 4, coords, NULL, NULL, "gmp_hidden_features", "hidden layers of width 0");
    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    cfg.kind = 7;
    expect_error(&cfg, 4, coords, NULL, NULL, "kind", "an unknown kind");
    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    expect_error(&cfg, 4, NULL, NULL, NULL, "cell_motor_coordinates", "the predictor without coordinates");
    expect_error(&cfg, 4, same, NULL, NULL, "cell_motor_coordinates", "identical coordinates");
    expect_error(&cfg, 0, coords, NULL, NULL, "readout.bad", "zero neurons");
    cfg.share_features = true;
    expect_error(&cfg, 4, coords, NULL, NULL, "multi_match_id", "sharing without match ids");

    struct nsid_err err = {0};
    struct nsid_params ps;
    struct nsid_readout owner;
    nsid_params_init(&ps);
    CHECK(nsid_readout_init(&owner, &cfg, 3, 5, 6, 4, coords, ids, NULL, &ps, "readout.o", &err) == 0, "owner");
    expect_error(&cfg, 4, coords, other, &owner, "multi_match_id", "a scan with another set of match ids");
    struct nsid_readout_config noshare = cfg;
    noshare.share_features = false;
    expect_error(&noshare, 4, coords, ids, &owner, "share_features", "a share_owner with share_features off");
    nsid_readout_free(&owner);
    nsid_params_free(&ps);

    /* an arena that is too small fails cleanly */
    struct nsid_readout r;
    struct nsid_arena a;
    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    nsid_params_init(&ps);
    nsid_readout_init(&r, &cfg, 3, 5, 6, 4, coords, NULL, NULL, &ps, "readout.x", &err);
    nsid_params_alloc(&ps, &err);
    nsid_alloc_arena_init(&a, 256, &err);
    CHECK(nsid_readout_bind_state(&r, &a, 64, &err) == NSID_ENOMEM, "a full arena is NSID_ENOMEM");
    nsid_alloc_arena_free(&a);
    nsid_readout_free(&r);
    nsid_params_free(&ps);
    free(coords);
}

/* ------------------------------------------- threads, kernel sets, layouts */

/* One readout run: outputs of a training and an evaluation forward, every gradient, dfeat and dshift. */
struct gs_run {
    float *out, *out_eval, *grad, *dfeat, *dshift, *z;
    size_t n_out, n_w, n_feat;
};

static void gs_run_free(struct gs_run *g)
{
    free(g->out); free(g->out_eval); free(g->grad); free(g->dfeat); free(g->dshift); free(g->z);
}

/* blocked copy (ceil(C/vb), P, vb) of an NCHW image batch and back */
static void nchw_to_blocked(float *dst, const float *src, int B, int C, int P, int vb)
{
    int cp = (C + vb - 1) / vb * vb;
    memset(dst, 0, sizeof(float) * (size_t)B * cp * P);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < P; p++)
                dst[(size_t)b * cp * P + ((size_t)(c / vb) * P + p) * vb + c % vb] = src[((size_t)b * C + c) * P + p];
}

/*
 * A grid-mean-predictor readout of 37 neurons on a 19-channel 7x9 map (B = 5),
 * kernel set `set`, nt threads, NCHW (vb = 1) or blocked input, with a shift:
 * training forward (drawn z) + backward, then an evaluation forward.
 */
static int gs_run(struct gs_run *g, const char *set, int nt, bool blocked, const float *feat_nchw,
                  const float *dout, const float *shift)
{
    enum { C = 19, H = 7, W = 9, N = 37, B = 5 };
    struct nsid_err err = {0};
    struct nsid_readout_config cfg;
    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    struct nsid_params ps;
    struct nsid_readout r;
    struct nsid_arena a = {0};
    struct nsid_pool pool;
    double *coords = random_coords(N, 77);
    memset(g, 0, sizeof *g);
    nsid_params_init(&ps);
    int rc = nsid_readout_init(&r, &cfg, C, H, W, N, coords, NULL, NULL, &ps, "readout.s", &err);
    if (rc == 0) rc = nsid_params_alloc(&ps, &err);
    struct nsid_rng rng;
    nsid_rng_init(&rng, 31, NSID_STREAM_INIT);
    if (rc == 0) {
        nsid_readout_reset_parameters(&r, &rng);
        fill_normal(r.features, (size_t)C * N, 1.0, &rng);
        fill_uniform(r.sigma, (size_t)4 * N, -0.3, 0.3, &rng);
    }
    int pool_ok = nsid_pool_init(&pool, nt, &err) == 0;
    if (rc == 0 && !pool_ok) rc = -1;
    if (rc == 0) rc = nsid_readout_set_kernels(&r, set, &err);
    nsid_readout_set_pool(&r, pool_ok ? &pool : NULL);
    int vb = rc == 0 ? r.kern->vb : 1, cp = (C + vb - 1) / vb * vb;
    if (rc == 0 && blocked) rc = nsid_readout_set_input_layout(&r, vb, &err);
    nsid_alloc_arena_measure(&a);
    if (rc == 0) rc = nsid_readout_bind_state(&r, &a, B, &err);
    if (rc == 0) rc = nsid_alloc_arena_init(&a, a.used, &err);
    if (rc == 0) rc = nsid_readout_bind_state(&r, &a, B, &err);
    if (rc == 0) {
        size_t nf = (size_t)B * C * H * W, nfb = (size_t)B * cp * H * W;
        float *feat = malloc(sizeof(float) * nfb), *dfeat = calloc(nfb, sizeof(float));
        if (blocked) nchw_to_blocked(feat, feat_nchw, B, C, H * W, vb);
        else memcpy(feat, feat_nchw, sizeof(float) * nf);
        g->n_out = (size_t)B * N;
        g->n_w = ps.n_weights;
        g->n_feat = nf;
        g->out = malloc(sizeof(float) * g->n_out);
        g->out_eval = malloc(sizeof(float) * g->n_out);
        g->z = malloc(sizeof(float) * g->n_out * 2);
        g->grad = malloc(sizeof(float) * g->n_w);
        g->dfeat = calloc(nf, sizeof(float));
        g->dshift = calloc((size_t)B * 2, sizeof(float));
        struct nsid_rng sample;
        nsid_rng_init(&sample, 5, NSID_STREAM_SAMPLE);
        nsid_params_zero_grad(&ps);
        nsid_readout_forward(&r, feat, B, true, &sample, NULL, shift);
        memcpy(g->out, r.out, sizeof(float) * g->n_out);
        memcpy(g->z, r.z, sizeof(float) * g->n_out * 2);
        nsid_readout_backward(&r, dfeat, g->dshift, dout, feat, B);
        memcpy(g->grad, ps.g, sizeof(float) * g->n_w);
        if (blocked) {  /* back to NCHW; padding lanes of the gradient must stay zero */
            for (int b = 0; b < B; b++)
                for (int c = 0; c < cp; c++)
                    for (int p = 0; p < H * W; p++) {
                        float v = dfeat[(size_t)b * cp * H * W + ((size_t)(c / vb) * H * W + p) * vb + c % vb];
                        if (c < C) g->dfeat[((size_t)b * C + c) * H * W + p] = v;
                        else if (v != 0.0f) rc = -2;
                    }
        } else {
            memcpy(g->dfeat, dfeat, sizeof(float) * nf);
        }
        nsid_readout_forward(&r, feat, B, false, NULL, NULL, shift);
        memcpy(g->out_eval, r.out, sizeof(float) * g->n_out);
        free(feat);
        free(dfeat);
    }
    if (rc == -1 || (rc < 0 && rc != -2)) printf("gs_run %s/%d: %s\n", set, nt, err.msg);
    nsid_readout_free(&r);
    if (pool_ok) nsid_pool_free(&pool);
    nsid_alloc_arena_free(&a);
    nsid_params_free(&ps);
    free(coords);
    return rc;
}

static int gs_same(const struct gs_run *a, const struct gs_run *b)
{
    return !memcmp(a->out, b->out, a->n_out * sizeof(float)) && !memcmp(a->out_eval, b->out_eval, a->n_out * sizeof(float)) &&
           !memcmp(a->grad, b->grad, a->n_w * sizeof(float)) && !memcmp(a->dfeat, b->dfeat, a->n_feat * sizeof(float)) &&
           !memcmp(a->dshift, b->dshift, 10 * sizeof(float)) && !memcmp(a->z, b->z, a->n_out * 2 * sizeof(float));
}

/* Largest |a - b| over max(1, max |b|) across every array: 1e-5 means float rounding. */
static double gs_diff(const struct gs_run *a, const struct gs_run *b)
{
    const float *x[6] = {a->out, a->out_eval, a->grad, a->dfeat, a->dshift, a->z};
    const float *y[6] = {b->out, b->out_eval, b->grad, b->dfeat, b->dshift, b->z};
    size_t n[6] = {a->n_out, a->n_out, a->n_w, a->n_feat, 10, a->n_out * 2};
    double worst = 0;
    for (int i = 0; i < 6; i++) {
        double mx = 1.0, d = 0.0;
        for (size_t k = 0; k < n[i]; k++) mx = fmax(mx, fabs((double)y[i][k]));
        for (size_t k = 0; k < n[i]; k++) d = fmax(d, fabs((double)x[i][k] - (double)y[i][k]));
        worst = fmax(worst, d / mx);
    }
    return worst;
}

/*
 * The readout on every kernel set with 1, 2 and 3 threads and both input
 * layouts: bit-identical across threads and layouts within a set, float
 * rounding across sets.
 */
static void test_threads_sets_layouts(void)
{
    enum { C = 19, H = 7, W = 9, N = 37, B = 5 };
    static const char *sets[] = {"generic", "generic16", "avx2", "avx512"};
    struct nsid_rng rng;
    nsid_rng_init(&rng, 8, 0);
    float *feat = malloc(sizeof(float) * B * C * H * W), *dout = malloc(sizeof(float) * B * N), shift[2 * B];
    fill_normal(feat, (size_t)B * C * H * W, 1.0, &rng);
    fill_normal(dout, (size_t)B * N, 1.0, &rng);
    fill_uniform(shift, 2 * B, -0.2, 0.2, &rng);
    struct gs_run ref;
    int rc = gs_run(&ref, "generic", 1, false, feat, dout, shift);
    CHECK(rc == 0, "generic, 1 thread, NCHW runs");
    double worst = 0;
    for (size_t s = 0; rc == 0 && s < sizeof sets / sizeof sets[0]; s++) {
        if (!nsid_kern_available(sets[s])) continue;
        struct gs_run one;
        if (gs_run(&one, sets[s], 1, false, feat, dout, shift) != 0) {
            CHECK(0, "%s runs", sets[s]);
            continue;
        }
        double d = gs_diff(&one, &ref);
        worst = fmax(worst, d);
        CHECK(d < 2e-5, "%s agrees with generic to float rounding (%.2g)", sets[s], d);
        for (int nt = 1; nt <= 3; nt++)
            for (int blocked = 0; blocked <= 1; blocked++) {
                if (nt == 1 && !blocked) continue;
                struct gs_run other;
                int orc = gs_run(&other, sets[s], nt, blocked, feat, dout, shift);
                CHECK(orc == 0, "%s, %d threads, %s input runs (padding lanes of dfeat stay zero)", sets[s], nt,
                      blocked ? "blocked" : "NCHW");
                if (orc == 0)
                    CHECK(gs_same(&other, &one), "%s: %d threads, %s input bit-identical to 1 thread NCHW", sets[s],
                          nt, blocked ? "blocked" : "NCHW");
                gs_run_free(&other);
            }
        gs_run_free(&one);
    }
    printf("gaussian readout: kernel sets agree within %.2g (relative to each array's scale)\n", worst);
    gs_run_free(&ref);
    free(feat);
    free(dout);
}

int main(void)
{
    test_threads_sets_layouts();
    test_fd_free();
    test_fd_cortex();
    test_sharing();
    test_sampling_and_eval();
    test_free_mu_clamped_in_place();
    test_param_counts();
    test_init();
    test_bad_input();
    return check_summary("readout_gaussian");
}
