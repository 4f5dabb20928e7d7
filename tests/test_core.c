/*
 * test_core.c - the SE2d core: the paper's configuration (71,936 parameters,
 * (N,64,22,50) from 36x64, state_dict names and shapes, Xavier std), deterministic
 * initialisation, BN running statistics and num_batches_tracked, configuration
 * errors, arena measuring, and finite-difference gradient checks of the whole core
 * (inputs and every parameter, train and eval BN, depth-separable and full convs)
 * and of its Laplace regulariser. Seed printed below.
 */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/pool.h"
#include "base/rng.h"
#include "check.h"
#include "nn/core.h"
#include "nn/params.h"

#define SEED 7u

/* A core with its own table and arena. */
struct fixture {
    struct nsid_params ps;
    struct nsid_core core;
    struct nsid_arena arena;
};

static int setup(struct fixture *f, const struct nsid_core_config *cfg, int H, int W, int B, uint64_t seed,
                 uint64_t stream, struct nsid_err *err)
{
    memset(f, 0, sizeof *f);
    nsid_params_init(&f->ps);
    int rc = nsid_core_init(&f->core, cfg, H, W, &f->ps, "core", err);
    if (rc < 0) return rc;
    if ((rc = nsid_params_alloc(&f->ps, err)) < 0) return rc;
    struct nsid_rng r;
    nsid_rng_init(&r, seed, stream);
    nsid_core_reset_parameters(&f->core, &r);
    nsid_alloc_arena_measure(&f->arena);
    if ((rc = nsid_core_bind_state(&f->core, &f->arena, B, err)) < 0) return rc;
    size_t need = f->arena.used;
    if ((rc = nsid_alloc_arena_init(&f->arena, need, err)) < 0) return rc;
    if ((rc = nsid_core_bind_state(&f->core, &f->arena, B, err)) < 0) return rc;
    CHECK(f->arena.used == need, "measured arena size (%zu) is what binding takes (%zu)", need, f->arena.used);
    return 0;
}

static void teardown(struct fixture *f)
{
    nsid_core_free(&f->core);
    nsid_params_free(&f->ps);
    nsid_alloc_arena_free(&f->arena);
}

static void fill(float *x, size_t n, struct nsid_rng *r, double scale, double shift)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(shift + scale * nsid_rng_normal(r));
}

static double sample_std(const float *w, size_t n)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        s += (double)w[i];
        s2 += (double)w[i] * (double)w[i];
    }
    return sqrt(s2 / (double)n - (s / (double)n) * (s / (double)n));
}

/* -------------------------------------------------- paper configuration */

static void check_entry(const struct nsid_params *ps, const char *name, int kind, int d0, int d1, int d2, int d3)
{
    const struct nsid_param *p = nsid_params_find(ps, name);
    int want[4] = {d0, d1, d2, d3}, nd = d1 < 0 ? 1 : 4;
    int ok = p && p->kind == kind && p->ndim == nd;
    for (int i = 0; ok && i < nd; i++) ok = p->shape[i] == want[i];
    CHECK(ok, "state_dict entry %s registered with shape (%d,%d,%d,%d)", name, d0, d1, d2, d3);
}

static void test_paper_config(struct nsid_rng *r)
{
    struct nsid_err err = {0};
    struct nsid_core_config cfg;
    nsid_core_config_default(&cfg);
    CHECK(cfg.layers == 4 && cfg.hidden_channels == 64 && cfg.input_kern == 15 && cfg.hidden_kern == 13 &&
          !cfg.pad_input && cfg.depth_separable && cfg.bn_momentum == 0.9 && cfg.gamma_input == 1.0,
          "default config is the paper's");
    struct fixture f;
    int rc = setup(&f, &cfg, 36, 64, 2, SEED, NSID_STREAM_INIT, &err);
    CHECK(rc == 0, "paper core builds: %s", err.msg);
    if (rc < 0) return;
    struct nsid_core *c = &f.core;
    CHECK(c->out_c == 64 && c->out_h == 22 && c->out_w == 50, "36x64 input gives (N,64,22,50), got (%d,%d,%d)",
          c->out_c, c->out_h, c->out_w);
    size_t nw = 0;
    for (int i = 0; i < f.ps.n; i++)
        if (f.ps.p[i].kind == NSID_PARAM_WEIGHT) nw += f.ps.p[i].numel;
    CHECK(nw == 71936, "paper core has 71,936 trainable parameters, table has %zu", nw);
    CHECK(nsid_core_num_weights(c) == 71936, "nsid_core_num_weights = %zu", nsid_core_num_weights(c));
    check_entry(&f.ps, "core.features.layer0.conv.weight", NSID_PARAM_WEIGHT, 64, 1, 15, 15);
    check_entry(&f.ps, "core.features.layer0.norm.weight", NSID_PARAM_WEIGHT, 64, -1, 0, 0);
    check_entry(&f.ps, "core.features.layer3.norm.bias", NSID_PARAM_WEIGHT, 64, -1, 0, 0);
    check_entry(&f.ps, "core.features.layer2.norm.running_mean", NSID_PARAM_BUFFER, 64, -1, 0, 0);
    check_entry(&f.ps, "core.features.layer1.norm.running_var", NSID_PARAM_BUFFER, 64, -1, 0, 0);
    check_entry(&f.ps, "core.features.layer1.ds_conv.in_depth_conv.weight", NSID_PARAM_WEIGHT, 64, 64, 1, 1);
    check_entry(&f.ps, "core.features.layer2.ds_conv.spatial_conv.weight", NSID_PARAM_WEIGHT, 64, 1, 13, 13);
    check_entry(&f.ps, "core.features.layer3.ds_conv.out_depth_conv.weight", NSID_PARAM_WEIGHT, 64, 64, 1, 1);
    check_entry(&f.ps, "core._input_weights_regularizer.laplace.filter", NSID_PARAM_BUFFER, 1, 1, 3, 3);
    CHECK(nsid_params_find(&f.ps, "core.features.layer1.conv.weight") == NULL, "no full conv in ds layers");
    CHECK(f.ps.p[0].offset == 0 && strcmp(f.ps.p[1].name, "core.features.layer0.conv.weight") == 0,
          "registration follows the state_dict order");
    /* Xavier-normal std with PyTorch's fans */
    CHECK_CLOSE(sample_std(c->layer[0].w, 14400), sqrt(2.0 / (225 + 64 * 225)), 0, 0.03, "conv0 std 0.01169");
    CHECK_CLOSE(sample_std(c->layer[1].w_in, 4096), sqrt(2.0 / 128), 0, 0.05, "1x1 std 0.125");
    CHECK_CLOSE(sample_std(c->layer[3].w_sp, 10816), sqrt(2.0 / (169 + 64 * 169)), 0, 0.04, "depthwise std");
    CHECK(c->layer[2].gamma[5] == 1.0f && c->layer[2].beta[5] == 0.0f && c->layer[0].running_var[63] == 1.0f &&
          c->layer[0].running_mean[0] == 0.0f && c->laplace_filter[4] == 4.0f && c->laplace_filter[1] == -1.0f,
          "BN defaults and the Laplace filter buffer");

    /* forward on two 0..255 images: finite, ELU range, BN running stats */
    float *x = malloc(sizeof(float) * 2 * 36 * 64);
    for (int i = 0; i < 2 * 36 * 64; i++) x[i] = (float)(255.0 * nsid_rng_uniform(r));
    nsid_core_forward(c, x, 2, true);
    size_t no = (size_t)2 * 64 * 22 * 50;
    int finite = 1;
    for (size_t i = 0; i < no; i++) finite &= isfinite(c->out[i]) && c->out[i] > -1.0f;
    CHECK(finite, "paper core output finite and > -1 (ELU)");
    double m0 = 0;
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < 22 * 50; i++)  /* channel 0 of the channel-blocked layout */
            m0 += (double)c->layer[0].pre[(size_t)n * c->layer[0].out_floats + (size_t)i * c->kern->vb];
    m0 /= 2 * 1100;
    CHECK_CLOSE(c->layer[0].running_mean[0], 0.9 * m0, 1e-5, 1e-4, "layer0 running_mean = 0.9 * batch mean");
    CHECK(c->layer[0].num_batches_tracked == 1 && c->layer[3].num_batches_tracked == 1,
          "a training forward counts one batch per BN layer");
    nsid_core_forward(c, x, 2, false);
    CHECK(c->layer[0].num_batches_tracked == 1, "an eval forward does not count");
    double reg = nsid_core_regularizer(c);
    CHECK(reg > 0 && isfinite(reg), "Laplace penalty of a fresh core is positive (%g)", reg);
    printf("paper core: LaplaceL2norm of a fresh Xavier conv0 = %.4f; arena %zu bytes for B=2\n", reg, f.arena.used);
    free(x);
    teardown(&f);
}

static void test_determinism(void)
{
    struct nsid_err err = {0};
    struct nsid_core_config cfg;
    nsid_core_config_default(&cfg);
    struct fixture a, b, d;
    int ok = setup(&a, &cfg, 36, 64, 1, 11, NSID_STREAM_INIT, &err) == 0 &&
             setup(&b, &cfg, 36, 64, 1, 11, NSID_STREAM_INIT, &err) == 0 &&
             setup(&d, &cfg, 36, 64, 1, 11, NSID_STREAM_SHUFFLE, &err) == 0;
    CHECK(ok, "three cores build: %s", err.msg);
    if (ok) {
        size_t n = a.ps.n_weights;
        CHECK(memcmp(a.ps.w, b.ps.w, n * sizeof(float)) == 0, "same seed and stream: identical weights");
        CHECK(memcmp(a.ps.buf, b.ps.buf, a.ps.n_buffers * sizeof(float)) == 0, "identical buffers");
        size_t same = 0;
        for (size_t i = 0; i < 14400; i++) same += a.core.layer[0].w[i] == d.core.layer[0].w[i];
        CHECK(same < 10, "another stream gives other weights (%zu of 14400 equal)", same);
    }
    teardown(&a);
    teardown(&b);
    teardown(&d);
}

static void test_config_errors(void)
{
    struct nsid_err err = {0};
    struct nsid_core_config cfg;
    struct nsid_params ps;
    struct nsid_core c;
    nsid_params_init(&ps);
    nsid_core_config_default(&cfg);
    cfg.layers = 0;
    CHECK(nsid_core_init(&c, &cfg, 36, 64, &ps, "core", &err) == NSID_EINVAL && strcmp(err.key, "core.layers") == 0
          && strstr(err.msg, "0 not in"), "layers = 0 is an error naming the key: %s: %s", err.key, err.msg);
    nsid_core_config_default(&cfg);
    cfg.bn_momentum = 1.5;
    nsid_err_clear(&err);
    CHECK(nsid_core_init(&c, &cfg, 36, 64, &ps, "core", &err) == NSID_EINVAL && strcmp(err.key, "core.bn_momentum") == 0,
          "momentum 1.5 rejected: %s", err.msg);
    nsid_core_config_default(&cfg);
    nsid_err_clear(&err);
    CHECK(nsid_core_init(&c, &cfg, 12, 64, &ps, "core", &err) == NSID_EINVAL &&
          strstr(err.key, "layer0") && strstr(err.msg, "12x64"), "a 15x15 kernel on a 12-row image: %s: %s", err.key, err.msg);
    CHECK(ps.n == 0, "a config error registers nothing");
    nsid_core_config_default(&cfg);
    CHECK(nsid_core_init(&c, &cfg, 36, 64, &ps, "core", &err) == 0, "valid config after errors");
    struct nsid_core c2;
    nsid_err_clear(&err);
    CHECK(nsid_core_init(&c2, &cfg, 36, 64, &ps, "core", &err) == NSID_EINVAL && strstr(err.msg, "twice"),
          "registering the same prefix twice fails: %s", err.msg);
    nsid_core_free(&c2);
    nsid_core_free(&c);
    nsid_params_free(&ps);
    struct nsid_core z = {0};
    nsid_core_free(&z);
    nsid_core_free(NULL);
}

/* ------------------------------------------- kernel sets and thread counts */

/* Everything one forward + backward (train, then eval) of a core produces. */
struct run_result {
    float *out_train, *dx_train, *out_eval, *dx_eval, *grad, *buf;
    size_t n_out, n_x, n_w, n_buf;
    bool nograd_same;  /* nsid_core_forward_nograd gave the same outputs (train and eval) */
};

static void run_result_free(struct run_result *r)
{
    free(r->out_train); free(r->dx_train); free(r->out_eval); free(r->dx_eval); free(r->grad); free(r->buf);
}

/* A fresh core (seed 9) with kernel set `set` on a pool of nt threads: train then eval pass on x, proj. */
static int run_core(struct run_result *res, const char *set, int nt, const struct nsid_core_config *cfg, int H,
                    int W, int N, int B, const float *x, const float *proj)
{
    struct nsid_err err = {0};
    struct nsid_params ps;
    struct nsid_core c;
    struct nsid_arena a = {0};
    struct nsid_pool pool;
    memset(res, 0, sizeof *res);
    nsid_params_init(&ps);
    if (nsid_core_init(&c, cfg, H, W, &ps, "core", &err) < 0 || nsid_params_alloc(&ps, &err) < 0) return -1;
    struct nsid_rng r;
    nsid_rng_init(&r, 9, NSID_STREAM_INIT);
    nsid_core_reset_parameters(&c, &r);
    for (int k = 0; k < cfg->layers; k++)  /* non-trivial BN parameters */
        for (int i = 0; i < cfg->hidden_channels; i++) {
            c.layer[k].gamma[i] = (float)(1.0 + 0.3 * nsid_rng_normal(&r));
            c.layer[k].beta[i] = (float)(0.3 * nsid_rng_normal(&r));
        }
    int rc = nsid_pool_init(&pool, nt, &err);
    if (rc == 0) rc = nsid_core_set_kernels(&c, set, &err);
    nsid_core_set_pool(&c, &pool);
    nsid_alloc_arena_measure(&a);
    if (rc == 0) rc = nsid_core_bind_state(&c, &a, B, &err);
    if (rc == 0) rc = nsid_alloc_arena_init(&a, a.used, &err);
    if (rc == 0) rc = nsid_core_bind_state(&c, &a, B, &err);
    if (rc == 0) {
        res->n_out = (size_t)N * c.out_c * c.out_h * c.out_w;
        res->n_x = (size_t)N * c.in_c * H * W;
        res->n_w = ps.n_weights;
        res->n_buf = ps.n_buffers;
        res->out_train = malloc(res->n_out * sizeof(float));
        res->out_eval = malloc(res->n_out * sizeof(float));
        res->dx_train = calloc(res->n_x, sizeof(float));
        res->dx_eval = calloc(res->n_x, sizeof(float));
        res->grad = malloc(res->n_w * sizeof(float));
        res->buf = malloc(res->n_buf * sizeof(float));
        nsid_params_zero_grad(&ps);
        nsid_core_forward(&c, x, N, true);
        memcpy(res->out_train, c.out, res->n_out * sizeof(float));
        nsid_core_backward(&c, res->dx_train, proj, N);
        nsid_core_forward(&c, x, N, false);
        memcpy(res->out_eval, c.out, res->n_out * sizeof(float));
        nsid_core_backward(&c, res->dx_eval, proj, N);
        memcpy(res->grad, ps.g, res->n_w * sizeof(float));
        memcpy(res->buf, ps.buf, res->n_buf * sizeof(float));
        /* the no-backward forwards: eval runs each image through all layers at once */
        nsid_core_forward_nograd(&c, x, N, false);
        res->nograd_same = !memcmp(c.out, res->out_eval, res->n_out * sizeof(float));
        memcpy(ps.buf, res->buf, res->n_buf * sizeof(float));
        nsid_core_forward(&c, x, N, true);
        float *o = malloc(res->n_out * sizeof(float));
        memcpy(o, c.out, res->n_out * sizeof(float));
        nsid_core_forward_nograd(&c, x, N, true);
        res->nograd_same = res->nograd_same && !memcmp(c.out, o, res->n_out * sizeof(float));
        free(o);
    }
    if (rc < 0) printf("run_core %s/%d: %s\n", set, nt, err.msg);
    nsid_core_free(&c);
    nsid_pool_free(&pool);
    nsid_alloc_arena_free(&a);
    nsid_params_free(&ps);
    return rc;
}

static int same_bits(const struct run_result *a, const struct run_result *b)
{
    return !memcmp(a->out_train, b->out_train, a->n_out * sizeof(float)) &&
           !memcmp(a->out_eval, b->out_eval, a->n_out * sizeof(float)) &&
           !memcmp(a->dx_train, b->dx_train, a->n_x * sizeof(float)) &&
           !memcmp(a->dx_eval, b->dx_eval, a->n_x * sizeof(float)) &&
           !memcmp(a->grad, b->grad, a->n_w * sizeof(float)) && !memcmp(a->buf, b->buf, a->n_buf * sizeof(float));
}

/* Largest |a - b| / (1e-4 * (1 + max |b|)) over one array: relative to the array's scale. */
static double scaled_diff(const float *a, const float *b, size_t n)
{
    double mx = 0, d = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs((double)b[i]));
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d / (1e-4 * (1.0 + mx));
}

static double result_diff(const struct run_result *a, const struct run_result *b)
{
    double d = scaled_diff(a->out_train, b->out_train, a->n_out);
    d = fmax(d, scaled_diff(a->out_eval, b->out_eval, a->n_out));
    d = fmax(d, scaled_diff(a->dx_train, b->dx_train, a->n_x));
    d = fmax(d, scaled_diff(a->dx_eval, b->dx_eval, a->n_x));
    d = fmax(d, scaled_diff(a->grad, b->grad, a->n_w));
    return fmax(d, scaled_diff(a->buf, b->buf, a->n_buf));
}

/*
 * The same core on every kernel set this machine runs, with 1, 2 and 3 threads:
 * bit-identical results for any thread count within one set (per-image and
 * per-chunk partials reduced in a fixed order), and within float rounding across
 * sets. Odd sizes: 20 channels (not a multiple of 8 or 16), 7 of 8 images (a
 * partial chunk), 13x17 input.
 */
static void test_sets_and_threads(struct nsid_rng *r, const struct nsid_core_config *cfg, const char *what)
{
    int H = 13, W = 17, N = 7, B = 8;
    static const char *sets[] = {"generic", "generic16", "avx2", "avx512"};
    struct nsid_err err = {0};
    struct nsid_params ps;
    struct nsid_core probe;
    nsid_params_init(&ps);
    if (nsid_core_init(&probe, cfg, H, W, &ps, "core", &err) < 0) {
        CHECK(0, "%s: core builds: %s", what, err.msg);
        return;
    }
    size_t nx = (size_t)N * probe.in_c * H * W, ny = (size_t)N * probe.out_c * probe.out_h * probe.out_w;
    nsid_core_free(&probe);
    nsid_params_free(&ps);
    float *x = malloc(nx * sizeof(float)), *proj = malloc(ny * sizeof(float));
    fill(x, nx, r, 1.0, 0.5);
    fill(proj, ny, r, 1.0, 0.0);
    struct run_result ref;
    int rc = run_core(&ref, "generic", 1, cfg, H, W, N, B, x, proj);
    CHECK(rc == 0, "%s: generic, 1 thread runs", what);
    double worst = 0;
    for (size_t s = 0; rc == 0 && s < sizeof sets / sizeof sets[0]; s++) {
        if (!nsid_kern_available(sets[s])) continue;
        struct run_result one;
        if (run_core(&one, sets[s], 1, cfg, H, W, N, B, x, proj) < 0) {
            CHECK(0, "%s: %s runs", what, sets[s]);
            continue;
        }
        CHECK(one.nograd_same, "%s: %s: nsid_core_forward_nograd gives forward's outputs (train, eval)", what,
              sets[s]);
        double d = result_diff(&one, &ref);
        worst = fmax(worst, d);
        CHECK(d <= 1.0, "%s: %s agrees with generic within 1e-4 of each tensor's scale (%.3g)", what, sets[s], d);
        for (int nt = 2; nt <= 3; nt++) {
            struct run_result more;
            if (run_core(&more, sets[s], nt, cfg, H, W, N, B, x, proj) < 0) {
                CHECK(0, "%s: %s on %d threads runs", what, sets[s], nt);
                continue;
            }
            CHECK(same_bits(&more, &one) && more.nograd_same, "%s: %s on %d threads is bit-identical to 1 thread",
                  what, sets[s], nt);
            run_result_free(&more);
        }
        run_result_free(&one);
    }
    printf("%s: kernel sets agree within %.3g of 1e-4 x tensor scale\n", what, worst);
    run_result_free(&ref);
    free(x);
    free(proj);
}

/* ---------------------------------------------- finite-difference checks */

struct fd_ctx {
    struct fixture *f;
    const float *x;
    float *xpert;   /* (N, in) the input being perturbed */
    const float *proj;
    int N;
    bool training;
};

static double core_loss(struct fd_ctx *t)
{
    struct nsid_core *c = &t->f->core;
    /* save and restore running stats: the check must not move them */
    size_t nb = t->f->ps.n_buffers;
    float *save = malloc(nb * sizeof(float));
    memcpy(save, t->f->ps.buf, nb * sizeof(float));
    nsid_core_forward(c, t->xpert, t->N, t->training);
    memcpy(t->f->ps.buf, save, nb * sizeof(float));
    free(save);
    size_t n = (size_t)t->N * c->out_c * c->out_h * c->out_w;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)c->out[i] * (double)t->proj[i];
    return s;
}

/* Central differences on every element of x (n) against grad (n); one CHECK. */
static void fd_tensor(struct fd_ctx *t, const char *what, float *x, const float *grad, size_t n, double eps,
                      double atol, double rtol, double *worst_rel)
{
    size_t bad = 0, wi = 0;
    double wnum = 0;
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i], xp = (float)((double)x0 + eps), xm = (float)((double)x0 - eps);
        x[i] = xp;
        double fp = core_loss(t);
        x[i] = xm;
        double fm = core_loss(t);
        x[i] = x0;
        double num = (fp - fm) / ((double)xp - (double)xm), an = (double)grad[i];
        double rel = fabs(num - an) / (atol + rtol * fabs(num));
        if (rel > *worst_rel) *worst_rel = rel;
        if (!(rel <= 1.0)) {
            if (!bad) { wi = i; wnum = num; }
            bad++;
        }
    }
    CHECK(bad == 0, "%s: %zu of %zu elements off; first [%zu] analytic %.9g numeric %.9g", what, bad, n, wi,
          bad ? (double)grad[wi] : 0.0, wnum);
}

static void fd_core(const char *name, const struct nsid_core_config *cfg, int H, int W, int N, bool training,
                    struct nsid_rng *r)
{
    struct nsid_err err = {0};
    struct fixture f;
    int rc = setup(&f, cfg, H, W, N + 1, 3, NSID_STREAM_INIT, &err);  /* bound for N+1: N < B works */
    CHECK(rc == 0, "%s: core builds: %s", name, err.msg);
    if (rc < 0) { teardown(&f); return; }
    struct nsid_core *c = &f.core;
    /* non-trivial BN parameters and running statistics */
    for (int k = 0; k < cfg->layers; k++)
        for (int i = 0; i < cfg->hidden_channels; i++) {
            c->layer[k].gamma[i] = (float)(1.0 + 0.3 * nsid_rng_normal(r));
            c->layer[k].beta[i] = (float)(0.3 * nsid_rng_normal(r));
            c->layer[k].running_mean[i] = (float)(0.2 * nsid_rng_normal(r));
            c->layer[k].running_var[i] = (float)(0.5 + nsid_rng_uniform(r));
        }
    size_t nx = (size_t)N * c->in_c * H * W, ny = (size_t)N * c->out_c * c->out_h * c->out_w;
    float *x = malloc(nx * sizeof(float)), *dx = calloc(nx, sizeof(float)), *proj = malloc(ny * sizeof(float));
    fill(x, nx, r, 1.0, 0.5);
    fill(proj, ny, r, 1.0, 0.0);
    struct fd_ctx t = {.f = &f, .x = x, .xpert = x, .proj = proj, .N = N, .training = training};
    core_loss(&t);
    nsid_params_zero_grad(&f.ps);
    nsid_core_backward(c, dx, proj, N);
    /* the analytic gradients, copied before the checks run more forwards */
    float *g = malloc(f.ps.n_weights * sizeof(float));
    memcpy(g, f.ps.g, f.ps.n_weights * sizeof(float));
    double worst = 0;
    char what[200];
    snprintf(what, sizeof what, "%s: dx", name);
    fd_tensor(&t, what, x, dx, nx, 1e-2, 1e-3, 1e-2, &worst);
    for (int i = 0; i < f.ps.n; i++) {
        struct nsid_param *p = &f.ps.p[i];
        if (p->kind != NSID_PARAM_WEIGHT) continue;
        snprintf(what, sizeof what, "%s: d %s", name, p->name);
        fd_tensor(&t, what, nsid_params_data(&f.ps, p), g + p->offset, p->numel, 2e-3, 1e-3, 1e-2, &worst);
    }
    printf("%s: worst gradient deviation %.3f of the tolerance (abs 1e-3 + rel 1e-2)\n", name, worst);

    /* backward accumulates; dx = NULL leaves the weight gradients the same */
    nsid_core_forward(c, x, N, training);
    nsid_core_backward(c, NULL, proj, N);
    int twice = 1;
    for (size_t i = 0; i < f.ps.n_weights; i++)
        twice &= fabsf(f.ps.g[i] - 2.0f * g[i]) <= 1e-5f + 1e-4f * fabsf(2.0f * g[i]);
    CHECK(twice, "%s: a second backward (dx NULL) doubles every gradient", name);
    free(x); free(dx); free(proj); free(g);
    teardown(&f);
}

static void fd_regularizer(struct nsid_rng *r)
{
    struct nsid_err err = {0};
    struct nsid_core_config cfg;
    nsid_core_config_default(&cfg);
    cfg.input_channels = 2; cfg.layers = 2; cfg.hidden_channels = 3; cfg.input_kern = 5; cfg.hidden_kern = 3;
    cfg.gamma_input = 0.7;
    struct fixture f;
    if (setup(&f, &cfg, 9, 9, 1, 5, NSID_STREAM_INIT, &err) < 0) { CHECK(0, "%s", err.msg); return; }
    struct nsid_core *c = &f.core;
    fill(c->layer[0].w, 150, r, 1.0, 0.0);
    nsid_params_zero_grad(&f.ps);
    nsid_core_regularizer_backward(c, 2.0);
    size_t bad = 0;
    for (size_t i = 0; i < 150; i++) {
        float w0 = c->layer[0].w[i];
        c->layer[0].w[i] = w0 + 1e-3f;
        double fp = 2.0 * nsid_core_regularizer(c);
        c->layer[0].w[i] = w0 - 1e-3f;
        double fm = 2.0 * nsid_core_regularizer(c);
        c->layer[0].w[i] = w0;
        double num = (fp - fm) / ((double)(w0 + 1e-3f) - (double)(w0 - 1e-3f));
        bad += fabs(num - (double)c->layer[0].dw[i]) > 1e-4 + 1e-3 * fabs(num);
    }
    CHECK(bad == 0, "core regulariser gradient (gamma_input 0.7, scale 2): %zu of 150 off", bad);
    CHECK(c->layer[1].dw_sp[0] == 0.0f, "the regulariser touches layer0 only");
    teardown(&f);
}

/* The im2col row pitch of layer0 for cfg: the test below must exercise the one it expects. */
static void check_row_pitch(const struct nsid_core_config *cfg, int H, int W, int want)
{
    struct nsid_err err = {0};
    struct fixture f;
    int rc = setup(&f, cfg, H, W, 2, 1, NSID_STREAM_INIT, &err);
    CHECK(rc == 0, "row pitch: core builds: %s", err.msg);
    if (rc == 0)
        CHECK(f.core.layer[0].kw == want && f.core.layer[0].kc % f.core.kern->vb == 0,
              "%dx%d input kernel on %d channel(s): im2col row pitch %d (want %d), %d columns",
              cfg->input_kern, cfg->input_kern, cfg->input_channels, f.core.layer[0].kw, want, f.core.layer[0].kc);
    teardown(&f);
}

int main(void)
{
    printf("test_core: seed %u\n", SEED);
    struct nsid_rng r;
    nsid_rng_init(&r, SEED, 0);
    test_paper_config(&r);
    test_determinism();
    test_config_errors();

    struct nsid_core_config cfg;
    nsid_core_config_default(&cfg);
    cfg.input_channels = 2; cfg.layers = 3; cfg.hidden_channels = 3; cfg.input_kern = 3; cfg.hidden_kern = 3;
    fd_core("ds core, train BN", &cfg, 7, 8, 2, true, &r);
    fd_core("ds core, eval BN", &cfg, 7, 8, 2, false, &r);
    cfg.depth_separable = false;
    cfg.pad_input = true;
    cfg.hidden_kern = 4;  /* even kernel: padding 2, each hidden layer grows the map by 1 */
    fd_core("full-conv core, padded input, even hidden kernel", &cfg, 6, 7, 2, true, &r);
    nsid_core_config_default(&cfg);
    cfg.layers = 2; cfg.hidden_channels = 4; cfg.input_kern = 5; cfg.hidden_kern = 5; cfg.bn_momentum = 0.1;
    fd_core("ds core, 1 channel, 5x5 kernels", &cfg, 9, 10, 3, true, &r);
    fd_regularizer(&r);
    /* layer0 7x7 on one channel: kernel rows of 8 im2col columns, copied as whole vectors where
     * the run lies inside the image row, exactly (zeros beyond K) at the right edge and in padding */
    nsid_core_config_default(&cfg);
    cfg.layers = 2; cfg.hidden_channels = 4; cfg.input_kern = 7; cfg.hidden_kern = 3;
    check_row_pitch(&cfg, 10, 13, 8);
    fd_core("ds core, 7x7 input kernel (row pitch 8)", &cfg, 11, 14, 3, true, &r);
    cfg.pad_input = true;
    fd_core("ds core, padded 7x7 input kernel (row pitch 8)", &cfg, 9, 11, 2, true, &r);
    cfg.input_kern = 5;
    check_row_pitch(&cfg, 9, 11, 5);  /* 8 columns per row would cost 48 instead of 32: pitch 5 */

    nsid_core_config_default(&cfg);
    cfg.layers = 3; cfg.hidden_channels = 20; cfg.input_kern = 5; cfg.hidden_kern = 5;
    test_sets_and_threads(&r, &cfg, "ds core, 20 channels");
    cfg.depth_separable = false; cfg.pad_input = true; cfg.input_channels = 3; cfg.hidden_kern = 4;
    test_sets_and_threads(&r, &cfg, "full-conv core, 3 input channels, even kernel");
    nsid_core_config_default(&cfg);
    cfg.layers = 2; cfg.hidden_channels = 20; cfg.input_kern = 7; cfg.hidden_kern = 5; cfg.pad_input = true;
    test_sets_and_threads(&r, &cfg, "ds core, padded 7x7 input kernel (row pitch 8)");
    return check_summary("core");
}
