/*
 * test_model.c - the whole model against PyTorch, finite differences,
 * checkpoints and determinism.
 *
 *  1. Fixtures (tests/gen_model_fixtures.py, neuralpredictors v0.0.3 semantics
 *     in torch, float64): for every readout configuration and the frozen core,
 *     load the initial checkpoint, run 3 accumulated Adam steps over 2 scans
 *     with the fixture's inputs and noise, and compare outputs, losses (and
 *     their parts), every gradient of the first step, BN running statistics,
 *     the parameters and Adam moments after 3 steps, and evaluation outputs,
 *     with tolerance abs 1e-5 + rel 1e-4 per element.
 *  2. A finite-difference check of every parameter of tiny models (all
 *     readouts, feature sharing, shifter, modulator, frozen core).
 *  3. Checkpoints of a model: bit-identical round trip, architecture
 *     mismatches named, a core transfer by prefix.
 *  4. Determinism: same seed, same model; k steps + save + reload + k steps
 *     equals 2k steps bit for bit.
 *  5. Bad model configurations and scans.
 *
 * For tests/test_nsid2torch.sh (the PyTorch side of the check):
 *   test_model --export DIR                 checkpoints and inputs/outputs of the C model
 *   test_model --check-load FILE CFG [PFX]  does FILE load into fixture CFG's model?
 */
#include <dirent.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/rng.h"
#include "check.h"
#include "data/scan.h"
#include "nn/model.h"

/* The SE2d core of a model (its core_ops is nsid_core_se2d_ops). */
#define SE2D(m) ((struct nsid_core *)(m)->core)

#define ABS_TOL 1e-5
#define REL_TOL 1e-4

/* ---------------------------------------------------------------- fixtures */

/* Worst deviations seen, for the report. */
struct stats {
    double max_abs;    /* max |got - want| */
    double max_rel;    /* max |got - want| / |want| over |want| >= 1e-2 */
    double max_excess; /* max |got - want| / (ABS_TOL + REL_TOL |want|) */
    const char *worst; /* tensor of max_excess */
    char worst_buf[NSID_PARAM_NAME_MAX + 32];
};

static void stats_add(struct stats *st, const float *got, const float *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]), w = fabs((double)want[i]);
        if (d > st->max_abs) st->max_abs = d;
        if (w >= 1e-2 && d / w > st->max_rel) st->max_rel = d / w;
        double ex = d / (ABS_TOL + REL_TOL * w);
        if (ex > st->max_excess || isnan(ex)) {
            st->max_excess = isnan(ex) ? (double)INFINITY : ex;
            if (snprintf(st->worst_buf, sizeof st->worst_buf, "%s[%zu]", what, i) >= (int)sizeof st->worst_buf)
                st->worst_buf[sizeof st->worst_buf - 2] = '~'; /* truncated name */
            st->worst = st->worst_buf;
        }
    }
}

/* Compare and record. */
static void compare(struct stats *st, const float *got, const float *want, size_t n, const char *what)
{
    stats_add(st, got, want, n, what);
    CHECK_ARRAYS(got, want, n, ABS_TOL, REL_TOL, what);
}

static bool h5_exists(hid_t f, const char *path)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; ; p++) {
        char c = *p;
        if (c == '/' || c == '\0') {
            *p = '\0';
            if (H5Lexists(f, buf, H5P_DEFAULT) <= 0) return false;
            *p = c;
        }
        if (c == '\0') break;
    }
    return true;
}

/* A dataset as floats (any numeric type converted), NULL if absent; *n elements. */
static float *read_f32(hid_t f, const char *path, size_t *n)
{
    *n = 0;
    if (!h5_exists(f, path)) return NULL;
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT), s = H5Dget_space(d);
    hssize_t k = H5Sget_simple_extent_npoints(s);
    float *v = malloc(((size_t)k + 1) * sizeof *v);
    H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Sclose(s), H5Dclose(d);
    *n = (size_t)k;
    return v;
}

static void *read_typed(hid_t f, const char *path, hid_t mtype, size_t size, size_t *n)
{
    *n = 0;
    if (!h5_exists(f, path)) return NULL;
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT), s = H5Dget_space(d);
    hssize_t k = H5Sget_simple_extent_npoints(s);
    void *v = malloc(((size_t)k + 1) * size);
    H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Sclose(s), H5Dclose(d);
    *n = (size_t)k;
    return v;
}

static double read_scalar(hid_t f, const char *path)
{
    size_t n;
    double *v = read_typed(f, path, H5T_NATIVE_DOUBLE, sizeof(double), &n);
    double x = v && n == 1 ? v[0] : (double)NAN;
    free(v);
    return x;
}

static long long attr_int(hid_t f, const char *obj, const char *name)
{
    long long v = 0;
    H5LTget_attribute_long_long(f, obj, name, &v);
    return v;
}

static double attr_double(hid_t f, const char *obj, const char *name)
{
    double v = NAN;
    H5LTget_attribute_double(f, obj, name, &v);
    return v;
}

static void attr_string(hid_t f, const char *obj, const char *name, char *buf, size_t n)
{
    buf[0] = '\0';
    hid_t o = H5Oopen(f, obj, H5P_DEFAULT);
    hid_t a = H5Aopen(o, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    size_t sz = H5Tget_size(t);
    char *tmp = calloc(sz + 1, 1);
    H5Aread(a, t, tmp);
    snprintf(buf, n, "%s", tmp);
    free(tmp);
    H5Tclose(t), H5Aclose(a), H5Oclose(o);
}

static void name_to_path(char *path, size_t n, const char *prefix, const char *name)
{
    size_t k = (size_t)snprintf(path, n, "%s", prefix);
    for (size_t i = 0; name[i] && k + 1 < n; i++) path[k++] = name[i] == '.' ? '/' : name[i];
    path[k] = '\0';
}

/* A fixture's scans and configuration. */
struct fixture {
    char name[64];
    hid_t ref;
    int n_scans, steps;
    bool frozen;
    double lr;
    struct nsid_model_config cfg;
    char keys[2][64];
    struct nsid_model_scan sc[2];
    double *coords[2];
    int64_t *ids[2];
};

static int fixture_open(struct fixture *fx, const char *name)
{
    memset(fx, 0, sizeof *fx);
    snprintf(fx->name, sizeof fx->name, "%s", name);
    char path[4096];
    snprintf(path, sizeof path, "%s/model/%s.ref.h5", getenv("NSID_FIXTURES") ? getenv("NSID_FIXTURES") : "tests/fixtures",
             name);
    fx->ref = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fx->ref < 0) {
        CHECK(0, "open fixture %s", path);
        return -1;
    }
    hid_t f = fx->ref;
    struct nsid_model_config *c = &fx->cfg;
    char kind[32];
    nsid_model_config_default(c);
    c->core.input_channels = 1;
    c->core.layers = (int)attr_int(f, "meta", "layers");
    c->core.hidden_channels = (int)attr_int(f, "meta", "channels");
    c->core.input_kern = (int)attr_int(f, "meta", "input_kern");
    c->core.hidden_kern = (int)attr_int(f, "meta", "hidden_kern");
    c->core.pad_input = false;
    c->core.depth_separable = true;
    c->core.bn_momentum = attr_double(f, "meta", "momentum");
    c->core.bn_eps = 1e-5;
    c->core.gamma_input = attr_double(f, "meta", "gamma_input");
    attr_string(f, "meta", "readout", kind, sizeof kind);
    int k = strcmp(kind, "gaussian") == 0 ? NSID_READOUT_GAUSSIAN
          : strcmp(kind, "factorized") == 0 ? NSID_READOUT_FACTORIZED : NSID_READOUT_POINTPOOLED;
    nsid_readout_config_default(&c->readout, k);
    c->readout.gamma_readout = attr_double(f, "meta", "gamma_readout");
    c->readout.grid_mean_predictor = attr_int(f, "meta", "cortex") != 0;
    c->readout.share_features = attr_int(f, "meta", "share_features") != 0;
    c->readout.normalize = false;
    if (k == NSID_READOUT_POINTPOOLED) {
        c->readout.pool_steps = (int)attr_int(f, "meta", "pool_steps");
        c->readout.pool_kern = (int)attr_int(f, "meta", "pool_kern");
    }
    fx->frozen = attr_int(f, "meta", "frozen") != 0;
    fx->steps = (int)attr_int(f, "meta", "steps");
    fx->lr = attr_double(f, "meta", "lr");
    fx->n_scans = (int)attr_int(f, "meta", "n_scans");
    int H = (int)attr_int(f, "meta", "height"), W = (int)attr_int(f, "meta", "width");
    for (int s = 0; s < fx->n_scans; s++) {
        char g[16], p[64];
        size_t n;
        snprintf(g, sizeof g, "scan%d", s);
        attr_string(f, g, "key", fx->keys[s], sizeof fx->keys[s]);
        snprintf(p, sizeof p, "scan%d/coords", s);
        fx->coords[s] = read_typed(f, p, H5T_NATIVE_DOUBLE, sizeof(double), &n);
        snprintf(p, sizeof p, "scan%d/match_ids", s);
        fx->ids[s] = read_typed(f, p, H5T_NATIVE_INT64, sizeof(int64_t), &n);
        fx->sc[s] = (struct nsid_model_scan){.data_key = fx->keys[s], .n_neurons = (int)n,
                                             .n_trials = attr_int(f, g, "n_trials"), .channels = 1,
                                             .height = H, .width = W, .coords = fx->coords[s],
                                             .match_ids = fx->ids[s]};
    }
    return 0;
}

static void fixture_close(struct fixture *fx)
{
    for (int s = 0; s < 2; s++) free(fx->coords[s]), free(fx->ids[s]);
    if (fx->ref >= 0) H5Fclose(fx->ref);
}

static const char *fixture_path(const char *name, const char *suffix)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/model/%s.%s.h5", getenv("NSID_FIXTURES") ? getenv("NSID_FIXTURES") : "tests/fixtures",
             name, suffix);
    return buf;
}

/* Step t's batch of scan s from the fixture (arrays owned by the caller). */
struct fbatch {
    struct nsid_model_batch b;
    float *x, *y, *z;
};

static void fbatch_read(struct fbatch *fb, const struct fixture *fx, int t, int s)
{
    char p[64];
    size_t nx, ny, nz;
    snprintf(p, sizeof p, "step%d/scan%d/x", t, s);
    fb->x = read_f32(fx->ref, p, &nx);
    snprintf(p, sizeof p, "step%d/scan%d/y", t, s);
    fb->y = read_f32(fx->ref, p, &ny);
    snprintf(p, sizeof p, "step%d/scan%d/z", t, s);
    fb->z = read_f32(fx->ref, p, &nz);
    int B = (int)(ny / (size_t)fx->sc[s].n_neurons);
    fb->b = (struct nsid_model_batch){.scan = s, .B = B, .images = fb->x, .responses = fb->y, .z = fb->z};
}

static void fbatch_free(struct fbatch *fb)
{
    free(fb->x), free(fb->y), free(fb->z);
}

/* Every weight gradient against /grad (absent there: must be exactly zero, e.g. a frozen core). */
static void compare_grads(struct stats *st, const struct nsid_model *m, hid_t ref, const char *cfg)
{
    char path[512], what[256];
    int zero_ok = 1, n_cmp = 0;
    for (int i = 0; i < m->ps.n; i++) {
        const struct nsid_param *p = &m->ps.p[i];
        if (p->kind != NSID_PARAM_WEIGHT) continue;
        const float *g = m->ps.g + p->offset;
        name_to_path(path, sizeof path, "grad/", p->name);
        size_t n;
        float *want = read_f32(ref, path, &n);
        snprintf(what, sizeof what, "%s: grad %s", cfg, p->name);
        if (!want) {
            for (size_t k = 0; k < p->numel; k++) zero_ok &= g[k] == 0.0f;
            CHECK(zero_ok, "%s: no reference gradient (frozen), must be zero", what);
            continue;
        }
        CHECK(n == p->numel, "%s: %zu elements, fixture %zu", what, p->numel, n);
        if (n == p->numel) compare(st, g, want, n, what), n_cmp++;
        free(want);
    }
    CHECK(n_cmp > 0, "%s: gradients compared", cfg);
}

/* BN running statistics and num_batches_tracked against /bn. */
static void compare_bn(struct stats *st, const struct nsid_model *m, hid_t ref, const char *cfg)
{
    char path[512], what[256];
    for (int i = 0; i < m->ps.n; i++) {
        const struct nsid_param *p = &m->ps.p[i];
        if (!strstr(p->name, ".running_")) continue;
        name_to_path(path, sizeof path, "bn/", p->name);
        size_t n;
        float *want = read_f32(ref, path, &n);
        snprintf(what, sizeof what, "%s: %s", cfg, p->name);
        CHECK(want && n == p->numel, "%s in fixture", what);
        if (want && n == p->numel) compare(st, nsid_params_data(&m->ps, p), want, n, what);
        free(want);
    }
    for (int k = 0; k < m->cfg.core.layers; k++) {
        snprintf(path, sizeof path, "bn/core/features/layer%d/norm/num_batches_tracked", k);
        size_t n;
        int64_t *v = read_typed(ref, path, H5T_NATIVE_INT64, sizeof(int64_t), &n);
        CHECK(v && v[0] == SE2D(m)->layer[k].num_batches_tracked, "%s: layer%d num_batches_tracked %lld", cfg, k,
              (long long)SE2D(m)->layer[k].num_batches_tracked);
        free(v);
    }
}

/* Parameters, buffers, Adam moments and counters of m against the model loaded from step3. */
static void compare_models(struct stats *st, const struct nsid_model *m, const struct nsid_model *ref,
                           const char *cfg)
{
    char what[256];
    for (int i = 0; i < m->ps.n; i++) {
        const struct nsid_param *p = &m->ps.p[i], *q = &ref->ps.p[i];
        snprintf(what, sizeof what, "%s: after 3 steps %s", cfg, p->name);
        compare(st, nsid_params_data(&m->ps, p), nsid_params_data(&ref->ps, q), p->numel, what);
        if (p->kind != NSID_PARAM_WEIGHT) continue;
        snprintf(what, sizeof what, "%s: Adam m %s", cfg, p->name);
        compare(st, m->ps.m + p->offset, ref->ps.m + q->offset, p->numel, what);
        snprintf(what, sizeof what, "%s: Adam v %s", cfg, p->name);
        compare(st, m->ps.v + p->offset, ref->ps.v + q->offset, p->numel, what);
    }
    CHECK(m->ps.adam_t == ref->ps.adam_t, "%s: Adam step %lld vs %lld", cfg, (long long)m->ps.adam_t,
          (long long)ref->ps.adam_t);
    for (int k = 0; k < m->cfg.core.layers; k++)
        CHECK(SE2D(m)->layer[k].num_batches_tracked == SE2D(ref)->layer[k].num_batches_tracked,
              "%s: num_batches_tracked layer %d", cfg, k);
}

static void test_fixture(const char *name, struct stats *all)
{
    struct fixture fx;
    struct stats st = {0};
    struct nsid_err err = {0};
    if (fixture_open(&fx, name) < 0) return;
    struct nsid_model m, ref;
    int rc = nsid_model_init(&m, &fx.cfg, fx.sc, fx.n_scans, &err);
    CHECK(rc == 0, "%s: model init: %s %s", name, err.key, err.msg);
    if (rc < 0) goto out_fx;
    rc = nsid_model_load(&m, fixture_path(name, "init"), NULL, &err);
    CHECK(rc == 0, "%s: load the PyTorch initial state_dict: %s: %s", name, err.key, err.msg);
    rc = rc ? rc : nsid_model_alloc_state(&m, 4, &err);
    if (rc < 0) goto out_m;
    nsid_model_set_frozen_core(&m, fx.frozen);
    struct nsid_adam_config adam;
    nsid_adam_config_default(&adam);
    adam.lr = fx.lr;
    char what[256], p[64];
    for (int t = 0; t < fx.steps; t++) {
        nsid_model_zero_grad(&m);
        for (int s = 0; s < fx.n_scans; s++) {
            struct fbatch fb;
            fbatch_read(&fb, &fx, t, s);
            double loss = nsid_model_train_batch(&m, &fb.b, NULL);
            size_t n;
            snprintf(p, sizeof p, "step%d/scan%d/out", t, s);
            float *want = read_f32(fx.ref, p, &n);
            snprintf(what, sizeof what, "%s: step %d scan %d output", name, t, s);
            compare(&st, m.out, want, n, what);
            free(want);
            static const char *const part[] = {"loss", "poisson", "core_reg", "readout_reg"};
            double got[4] = {loss, m.loss.poisson, m.loss.core_reg, m.loss.readout_reg};
            for (int k = 0; k < 4; k++) {
                snprintf(p, sizeof p, "step%d/scan%d/%s", t, s, part[k]);
                double w = read_scalar(fx.ref, p);
                float gf = (float)got[k], wf = (float)w;
                snprintf(what, sizeof what, "%s: step %d scan %d %s", name, t, s, part[k]);
                compare(&st, &gf, &wf, 1, what);
            }
            fbatch_free(&fb);
        }
        if (t == 0) {
            compare_grads(&st, &m, fx.ref, name);
            compare_bn(&st, &m, fx.ref, name);
        }
        nsid_model_adam_step(&m, &adam);
    }
    /* Evaluation mode (running statistics, mean positions) after the steps. */
    for (int s = 0; s < fx.n_scans; s++) {
        struct fbatch fb;
        fbatch_read(&fb, &fx, 0, s);
        nsid_model_predict(&m, &fb.b);
        size_t n;
        snprintf(p, sizeof p, "eval/scan%d/out", s);
        float *want = read_f32(fx.ref, p, &n);
        snprintf(what, sizeof what, "%s: eval scan %d output", name, s);
        compare(&st, m.out, want, n, what);
        free(want);
        fbatch_free(&fb);
    }
    rc = nsid_model_init(&ref, &fx.cfg, fx.sc, fx.n_scans, &err);
    struct nsid_checkpoint_load_opts o = {.optimizer = true};
    if (rc == 0) rc = nsid_model_load(&ref, fixture_path(name, "step3"), &o, &err);
    CHECK(rc == 0, "%s: load the reference after 3 steps: %s: %s", name, err.key, err.msg);
    if (rc == 0) compare_models(&st, &m, &ref, name);
    nsid_model_free(&ref);
    printf("  %-13s max abs %.3g  max rel %.3g  worst (abs+rel tol units) %.3f at %s\n", name, st.max_abs,
           st.max_rel, st.max_excess, st.worst ? st.worst : "-");
    if (st.max_abs > all->max_abs) all->max_abs = st.max_abs;
    if (st.max_rel > all->max_rel) all->max_rel = st.max_rel;
    if (st.max_excess > all->max_excess) {
        all->max_excess = st.max_excess;
        snprintf(all->worst_buf, sizeof all->worst_buf, "%s", st.worst ? st.worst : "-");
        all->worst = all->worst_buf;
    }
out_m:
    nsid_model_free(&m);
out_fx:
    fixture_close(&fx);
}

/* -------------------------------------------------------- finite differences */

/* A tiny model and its fixed data (2 scans). */
struct tiny {
    struct nsid_model m;
    struct nsid_model_scan sc[2];
    double coords[2][7 * 3];
    int64_t ids[2][7];
    float x[2][3 * 1 * 9 * 11], y[2][3 * 7], z[2][3 * 7 * 2], pupil[2][3 * 2], beh[2][3 * 3];
    struct nsid_model_batch b[2];
};

static int tiny_init(struct tiny *t, int kind, bool share, bool cortex, bool extras, uint64_t seed)
{
    static const char *const keys[2] = {"tiny-a", "tiny-b"};
    static const int neurons[2] = {5, 7}, batch[2] = {3, 2};
    struct nsid_rng r;
    struct nsid_err err = {0};
    nsid_rng_init(&r, 7, 77); /* the data: the same for every model seed */
    memset(t, 0, sizeof *t);
    for (int s = 0; s < 2; s++) {
        int N = neurons[s];
        for (int i = 0; i < N * 3; i++) t->coords[s][i] = nsid_rng_uniform_range(&r, -200, 200);
        /* both scans hold match ids {10, 20, 30, 40, 50}; scan b repeats two */
        for (int i = 0; i < N; i++) t->ids[s][i] = 10 * (1 + (i * 3 + s) % 5);
        for (size_t i = 0; i < sizeof t->x[s] / sizeof(float); i++) t->x[s][i] = (float)nsid_rng_normal(&r);
        for (int i = 0; i < 3 * 7; i++) t->y[s][i] = (float)nsid_rng_gamma(&r, 2.0) * 0.5f;
        for (int i = 0; i < 3 * 7 * 2; i++) t->z[s][i] = (float)nsid_rng_normal(&r);
        for (int i = 0; i < 6; i++) t->pupil[s][i] = (float)nsid_rng_normal(&r) * 0.5f;
        for (int i = 0; i < 9; i++) t->beh[s][i] = (float)nsid_rng_normal(&r);
        t->sc[s] = (struct nsid_model_scan){.data_key = keys[s], .n_neurons = N, .n_trials = 4 + s, .channels = 1,
                                            .height = 9, .width = 11, .coords = t->coords[s], .match_ids = t->ids[s]};
        t->b[s] = (struct nsid_model_batch){.scan = s, .B = batch[s], .images = t->x[s], .responses = t->y[s],
                                            .z = t->z[s], .pupil = t->pupil[s], .behavior = t->beh[s]};
    }
    struct nsid_model_config cfg;
    nsid_model_config_default(&cfg);
    cfg.core.layers = 2;
    cfg.core.hidden_channels = 3;
    cfg.core.input_kern = 3;
    cfg.core.hidden_kern = 3;
    nsid_readout_config_default(&cfg.readout, kind);
    cfg.readout.share_features = share;
    cfg.readout.grid_mean_predictor = cortex;
    cfg.readout.gamma_readout = 0.05;
    if (kind == NSID_READOUT_POINTPOOLED) cfg.readout.pool_steps = 1, cfg.readout.pool_kern = 2;
    cfg.shifter = extras;
    cfg.modulator = extras;
    if (extras) cfg.modulator_cfg.final_relu = false; /* a ReLU kink would make FD meaningless */
    cfg.seed = seed;
    if (nsid_model_init(&t->m, &cfg, t->sc, 2, &err) < 0 || nsid_model_alloc_state(&t->m, 3, &err) < 0) {
        CHECK(0, "tiny model: %s: %s", err.key, err.msg);
        return -1;
    }
    /* Readout values away from kinks and large enough to matter (the paper's inits are ~1e-3). */
    struct nsid_params *ps = &t->m.ps;
    nsid_rng_init(&r, seed, 78);
    for (int i = 0; i < ps->n; i++) {
        struct nsid_param *p = &ps->p[i];
        if (p->kind != NSID_PARAM_WEIGHT || strncmp(p->name, "readout.", 8) != 0) continue;
        float *w = nsid_params_data(ps, p);
        const char *leaf = strrchr(p->name, '.') + 1;
        for (size_t k = 0; k < p->numel; k++) {
            double u = nsid_rng_uniform_range(&r, 0.2, 0.6) * (nsid_rng_uniform(&r) < 0.5 ? -1 : 1);
            if (strcmp(leaf, "spatial") == 0) u = fabs(u);               /* no positivity projection */
            if (strcmp(leaf, "grid") == 0 || strcmp(leaf, "_mu") == 0) u *= 1.2; /* inside [-1, 1] */
            if (strcmp(leaf, "scales") == 0) u = 1.0 + 0.3 * u;
            if (strcmp(leaf, "bias") == 0) u = 0.3 * u;
            w[k] = (float)u;
        }
    }
    return 0;
}

/* The accumulated objective over both scans, in double. */
static double tiny_loss(struct tiny *t)
{
    double L = 0;
    for (int s = 0; s < 2; s++) {
        nsid_model_forward(&t->m, &t->b[s], true, NULL);
        L += nsid_model_loss(&t->m, &t->b[s]);
    }
    return L;
}

/*
 * Central differences for every weight, at two step sizes; where they
 * disagree the step crossed a kink (bilinear interpolation is piecewise
 * linear in the position, clamp) and the element is skipped.
 */
static void fd_check(const char *what, int kind, bool share, bool cortex, bool extras, bool frozen)
{
    struct tiny t;
    if (tiny_init(&t, kind, share, cortex, extras, 5) < 0) return;
    struct nsid_params *ps = &t.m.ps;
    nsid_model_set_frozen_core(&t.m, frozen);
    nsid_model_zero_grad(&t.m);
    for (int s = 0; s < 2; s++) nsid_model_train_batch(&t.m, &t.b[s], NULL);
    float *g = malloc(ps->n_weights * sizeof *g);
    memcpy(g, ps->g, ps->n_weights * sizeof *g);
    int checked = 0, skipped = 0, bad = 0;
    double worst = 0;
    char worst_name[NSID_PARAM_NAME_MAX + 32] = "";
    for (int i = 0; i < ps->n; i++) {
        const struct nsid_param *p = &ps->p[i];
        if (p->kind != NSID_PARAM_WEIGHT) continue;
        bool in_core = p->offset < t.m.core_end;
        for (size_t k = 0; k < p->numel; k++) {
            float *w = ps->w + p->offset + k, w0 = *w;
            double fd[2];
            for (int h = 0; h < 2; h++) {
                float step = (h ? 1e-2f : 5e-3f) * fmaxf(1.0f, fabsf(w0)), wp = w0 + step, wm = w0 - step;
                *w = wp;
                double lp = tiny_loss(&t);
                *w = wm;
                double lm = tiny_loss(&t);
                *w = w0;
                fd[h] = (lp - lm) / ((double)wp - (double)wm);
            }
            double an = g[p->offset + k];
            if (frozen && in_core) {
                bad += an != 0.0;
                continue;
            }
            double scale = fmax(1.0, fmax(fabs(fd[0]), fabs(an)));
            if (fabs(fd[0] - fd[1]) > 2e-3 * scale) {
                skipped++;
                continue;
            }
            double e = fabs(fd[0] - an) / scale;
            if (e > worst) worst = e, snprintf(worst_name, sizeof worst_name, "%s[%zu]", p->name, k);
            bad += e > 5e-3;
            checked++;
        }
    }
    printf("  fd %-30s %d checked, %d skipped at kinks, worst rel %.2g at %s\n", what, checked, skipped, worst,
           worst_name);
    CHECK(bad == 0, "fd %s: %d gradients disagree with central differences (worst %.3g at %s)", what, bad, worst,
          worst_name);
    CHECK(checked > 50 && skipped * 4 < checked, "fd %s: enough elements checked (%d, %d skipped)", what, checked,
          skipped);
    free(g);
    nsid_model_free(&t.m);
}

/* ----------------------------------------------------- checkpoints, determinism */

static char tmpdir[256];

static const char *tpath(const char *name)
{
    static char buf[2][512];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static bool same_model(const struct nsid_model *a, const struct nsid_model *b, bool opt)
{
    if (a->ps.n != b->ps.n) return false;
    for (int i = 0; i < a->ps.n; i++) {
        const struct nsid_param *p = &a->ps.p[i], *q = &b->ps.p[i];
        size_t n = p->numel * sizeof(float);
        if (memcmp(nsid_params_data(&a->ps, p), nsid_params_data(&b->ps, q), n) != 0) return false;
        if (opt && p->kind == NSID_PARAM_WEIGHT &&
            (memcmp(a->ps.m + p->offset, b->ps.m + q->offset, n) || memcmp(a->ps.v + p->offset, b->ps.v + q->offset, n)))
            return false;
    }
    for (int k = 0; k < a->cfg.core.layers; k++)
        if (SE2D(a)->layer[k].num_batches_tracked != SE2D(b)->layer[k].num_batches_tracked) return false;
    return !opt || a->ps.adam_t == b->ps.adam_t;
}

/* k accumulated steps over both scans; losses appended to *L. */
static void train_steps(struct tiny *t, int k, struct nsid_rng *rng, double *L)
{
    struct nsid_adam_config c;
    nsid_adam_config_default(&c);
    for (int i = 0; i < k; i++) {
        nsid_model_zero_grad(&t->m);
        double l = 0;
        for (int s = 0; s < 2; s++) {
            struct nsid_model_batch b = t->b[s];
            b.z = NULL; /* draw the noise: the sampling stream is part of the state */
            l += nsid_model_train_batch(&t->m, &b, rng);
        }
        nsid_model_adam_step(&t->m, &c);
        L[i] = l;
    }
}

static void test_checkpoint_and_determinism(void)
{
    struct tiny a, b, c;
    struct nsid_err err = {0};
    if (tiny_init(&a, NSID_READOUT_GAUSSIAN, true, true, false, 11) < 0) return;
    tiny_init(&b, NSID_READOUT_GAUSSIAN, true, true, false, 11);
    CHECK(same_model(&a.m, &b.m, true), "same seed, bit-identical initial model");
    nsid_model_free(&b.m);
    struct nsid_model_config cfg = a.m.cfg;
    struct nsid_model fresh;
    nsid_model_init(&fresh, &cfg, a.sc, 2, &err);
    nsid_model_reset_parameters(&fresh, 12);
    CHECK(!same_model(&a.m, &fresh, false), "another seed, another model");

    /* Round trip with Adam state after some training. */
    struct nsid_rng rng, rng_k;
    nsid_rng_init(&rng, 3, NSID_STREAM_SAMPLE);
    double L[8], L2[8];
    train_steps(&a, 4, &rng, L);
    rng_k = rng;
    CHECK(nsid_model_save(&a.m, tpath("k.h5"), true, &err) == 0, "save after 4 steps: %s", err.msg);
    CHECK(nsid_model_load(&fresh, tpath("k.h5"), &(struct nsid_checkpoint_load_opts){.optimizer = true}, &err) == 0,
          "reload: %s: %s", err.key, err.msg);
    CHECK(same_model(&a.m, &fresh, true), "checkpoint round trip is bit-identical (weights, buffers, BN counters, Adam)");
    char *arch = NULL;
    CHECK(nsid_checkpoint_read_arch(tpath("k.h5"), &arch, &err) == 0 && arch && strstr(arch, "\"tiny-b\"") &&
              strstr(arch, "\"share_features\":true"),
          "architecture attribute describes the model: %s", arch ? arch : "");
    nsid_alloc_free(arch);
    nsid_model_free(&fresh);

    /* Determinism: 4 more steps continuing vs. from the reloaded checkpoint. */
    train_steps(&a, 4, &rng, L + 4);
    tiny_init(&c, NSID_READOUT_GAUSSIAN, true, true, false, 99);
    CHECK(nsid_model_load(&c.m, tpath("k.h5"), &(struct nsid_checkpoint_load_opts){.optimizer = true}, &err) == 0,
          "reload into a model of another seed");
    train_steps(&c, 4, &rng_k, L2 + 4);
    CHECK(memcmp(L + 4, L2 + 4, 4 * sizeof(double)) == 0, "4 steps + save + reload + 4 steps = 8 steps: losses bit-identical");
    CHECK(same_model(&a.m, &c.m, true), "... and parameters, buffers, Adam state bit-identical");
    CHECK(L[7] < L[0], "training lowers the loss (%g -> %g)", L[0], L[7]);

    /* Another scan's metadata under the same names: refused, naming what differs. */
    struct tiny e;
    tiny_init(&e, NSID_READOUT_GAUSSIAN, true, true, false, 11);
    nsid_model_free(&e.m);
    int64_t id0 = e.ids[1][0], id1 = e.ids[1][1];
    e.ids[1][0] = id1, e.ids[1][1] = id0; /* two neurons swap their matched units */
    nsid_model_init(&e.m, &cfg, e.sc, 2, &err);
    int rc = nsid_model_load(&e.m, tpath("k.h5"), NULL, &err);
    CHECK(rc == NSID_EINVAL && strcmp(err.key, "readout.tiny-b.feature_sharing_index") == 0,
          "other match ids: %s: %s", err.key, err.msg);
    nsid_model_free(&e.m);
    e.ids[1][0] = id0, e.ids[1][1] = id1;
    e.coords[1][3] += 50.0; /* a neuron elsewhere on cortex */
    nsid_err_clear(&err);
    nsid_model_init(&e.m, &cfg, e.sc, 2, &err);
    rc = nsid_model_load(&e.m, tpath("k.h5"), NULL, &err);
    CHECK(rc == NSID_EINVAL && strcmp(err.key, "readout.tiny-b.source_grid") == 0, "other coordinates: %s: %s",
          err.key, err.msg);
    nsid_model_free(&e.m);

    /* An architecture mismatch is an error naming the tensor and both shapes. */
    struct nsid_model other;
    cfg.core.hidden_channels = 4;
    nsid_err_clear(&err);
    nsid_model_init(&other, &cfg, a.sc, 2, &err);
    rc = nsid_model_load(&other, tpath("k.h5"), NULL, &err);
    CHECK(rc == NSID_ESHAPE && strcmp(err.key, "core.features.layer0.conv.weight") == 0 &&
              strstr(err.msg, "(3,1,3,3)") && strstr(err.msg, "(4,1,3,3)"),
          "4 channels vs 3: error names the tensor and shapes: %s: %s", err.key, err.msg);
    nsid_model_free(&other);

    /* Transfer: the core of a into a model of other scans; frozen training keeps it, re-estimates BN. */
    struct tiny d;
    tiny_init(&d, NSID_READOUT_FACTORIZED, false, false, false, 21);
    nsid_err_clear(&err);
    CHECK(nsid_model_load(&d.m, tpath("k.h5"), NULL, &err) < 0, "a strict load across readouts fails");
    struct nsid_checkpoint_load_opts core_only = {.prefix = "core."};
    CHECK(nsid_model_load(&d.m, tpath("k.h5"), &core_only, &err) == 0, "core transfer by prefix: %s", err.msg);
    size_t nc = d.m.core_end;
    CHECK(nc == c.m.core_end, "core sizes agree");
    struct nsid_model src;
    nsid_model_init(&src, &c.m.cfg, c.sc, 2, &err);
    nsid_model_load(&src, tpath("k.h5"), NULL, &err);
    CHECK(memcmp(d.m.ps.w, src.ps.w, nc * sizeof(float)) == 0, "core weights transferred");
    nsid_model_set_frozen_core(&d.m, true);
    float *rm = SE2D(&d.m)->layer[0].running_mean, rm0 = rm[0];
    nsid_rng_init(&rng, 4, NSID_STREAM_SAMPLE);
    train_steps(&d, 3, &rng, L);
    CHECK(memcmp(d.m.ps.w, src.ps.w, nc * sizeof(float)) == 0, "frozen core: weights unchanged by training");
    CHECK(rm[0] != rm0, "frozen core: BN running statistics re-estimated");
    double core_g = 0;
    for (size_t i = 0; i < nc; i++) core_g += fabs(d.m.ps.g[i]);
    CHECK(core_g == 0, "frozen core: no core gradient");
    CHECK(d.m.loss.core_reg == 0, "frozen core: no core regulariser");
    nsid_model_free(&src);
    nsid_model_free(&d.m);
    nsid_model_free(&a.m);
    nsid_model_free(&c.m);
}

/* --------------------------------------------------------- bad configurations */

static void test_bad_config(void)
{
    struct tiny t;
    struct nsid_err err = {0};
    struct nsid_model m;
    if (tiny_init(&t, NSID_READOUT_GAUSSIAN, false, true, false, 1) < 0) return;
    struct nsid_model_config cfg = t.m.cfg;
    nsid_model_free(&t.m);
    struct nsid_model_scan sc[2] = {t.sc[0], t.sc[1]};
    sc[1].height = 10;
    CHECK(nsid_model_init(&m, &cfg, sc, 2, &err) == NSID_ESHAPE && strstr(err.msg, "9x11"),
          "scans of different image sizes refused: %s", err.msg);
    sc[1] = t.sc[1];
    sc[1].data_key = "tiny-a";
    nsid_err_clear(&err);
    CHECK(nsid_model_init(&m, &cfg, sc, 2, &err) == NSID_EINVAL && strcmp(err.key, "data_key") == 0,
          "duplicate data keys refused: %s", err.msg);
    sc[1].data_key = "a.b";
    nsid_err_clear(&err);
    CHECK(nsid_model_init(&m, &cfg, sc, 2, &err) == NSID_EINVAL, "a data key with '.' refused: %s", err.msg);
    sc[1] = t.sc[1];
    sc[1].coords = NULL;
    nsid_err_clear(&err);
    CHECK(nsid_model_init(&m, &cfg, sc, 2, &err) < 0, "cortex predictor without coordinates refused: %s: %s", err.key,
          err.msg);
    sc[1] = t.sc[1];
    sc[1].channels = 3;
    nsid_err_clear(&err);
    CHECK(nsid_model_init(&m, &cfg, sc, 2, &err) == NSID_ESHAPE, "3-channel images for a 1-channel core refused");
    sc[1] = t.sc[1];
    cfg.core.input_kern = 12;
    nsid_err_clear(&err);
    CHECK(nsid_model_init(&m, &cfg, sc, 2, &err) < 0, "a kernel larger than the image refused: %s: %s", err.key,
          err.msg);
    CHECK(m.ps.n == 0 && m.ro == NULL, "a failed init leaves a zeroed model");
    nsid_model_free(&m);
}

/*
 * The kernel set is part of the model's configuration (cfg.isa; the stage programs pass env
 * NSID_ISA): each set this CPU has is the one core and readouts then use, and predicts what the
 * automatic choice predicts (to the sets' rounding); an unknown set is refused naming NSID_ISA.
 */
static void test_kernel_sets(void)
{
    struct tiny t;
    if (tiny_init(&t, NSID_READOUT_GAUSSIAN, false, true, false, 1) < 0) return;
    struct nsid_model_config cfg = t.m.cfg;
    CHECK(cfg.isa[0] == '\0' && t.m.kern == nsid_kern_select(NULL, &(struct nsid_err){0}),
          "no set configured: the model picks the best the CPU has (%s)", t.m.kern->name);
    nsid_model_predict(&t.m, &t.b[0]);
    size_t n = (size_t)t.b[0].B * (size_t)t.sc[0].n_neurons;
    static const char *const sets[] = {"generic", "generic16", "avx2", "avx512"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        if (!nsid_kern_available(sets[i])) {
            printf("  kernel set %s: not on this CPU, skipped\n", sets[i]);
            continue;
        }
        struct nsid_err err = {0};
        struct nsid_model m;
        snprintf(cfg.isa, sizeof cfg.isa, "%s", sets[i]);
        int rc = nsid_model_init(&m, &cfg, t.sc, 2, &err);
        if (rc == 0) rc = nsid_model_alloc_state(&m, 3, &err);
        CHECK(rc == 0, "a model with kernel set %s: %s", sets[i], err.msg);
        if (rc < 0) continue;
        memcpy(m.ps.w, t.m.ps.w, m.ps.n_weights * sizeof(float)); /* tiny_init's readout values */
        memcpy(m.ps.buf, t.m.ps.buf, m.ps.n_buffers * sizeof(float));
        CHECK(strcmp(m.kern->name, sets[i]) == 0 && SE2D(&m)->kern == m.kern && m.ro[0].kern == m.kern &&
                  m.ro[1].kern == m.kern,
              "cfg.isa %s: the model, its core and its readouts use %s", sets[i], m.kern->name);
        nsid_model_predict(&m, &t.b[0]);
        double worst = 0.0;
        for (size_t j = 0; j < n; j++) {
            double d = fabs((double)m.out[j] - (double)t.m.out[j]) / (fabs((double)t.m.out[j]) + 1e-6);
            if (d > worst) worst = d;
        }
        CHECK(worst < 1e-4, "kernel set %s predicts as the automatic choice (worst relative difference %.3g)",
              sets[i], worst);
        nsid_model_free(&m);
    }
    struct nsid_err err = {0};
    struct nsid_model m;
    snprintf(cfg.isa, sizeof cfg.isa, "sse9");
    CHECK(nsid_model_init(&m, &cfg, t.sc, 2, &err) == NSID_EINVAL && strcmp(err.key, "NSID_ISA") == 0 &&
              strstr(err.msg, "sse9") && m.ps.n == 0,
          "an unknown kernel set is refused naming NSID_ISA and leaves a zeroed model: %s: %s", err.key, err.msg);
    nsid_model_free(&m);
    nsid_model_free(&t.m);
}

/* The paper's model (docs/paper.md §1.2, §2.6), built from scans as the data module loads them. */
static void test_paper_config(void)
{
    struct nsid_err err = {0};
    struct nsid_scan scan[2];
    struct nsid_model_scan sc[2];
    static const int N[2] = {50, 30};
    double *xyz[2];
    struct nsid_rng r;
    nsid_rng_init(&r, 1, 9);
    for (int s = 0; s < 2; s++) {
        nsid_scan_init(&scan[s]);
        snprintf(scan[s].data_key, sizeof scan[s].data_key, "2256%d-2-12-0", s);
        scan[s].n_trials = 5993;
        scan[s].n_neurons = N[s];
        scan[s].channels = 1, scan[s].height = 36, scan[s].width = 64;
        xyz[s] = malloc(sizeof(double) * 3 * (size_t)N[s]);
        for (int i = 0; i < 3 * N[s]; i++) xyz[s][i] = nsid_rng_uniform_range(&r, -500, 500);
        scan[s].cell_motor_coordinates = xyz[s];
        nsid_model_scan_from(&sc[s], &scan[s]);
    }
    struct nsid_model_config cfg;
    nsid_model_config_default(&cfg);
    struct nsid_model m;
    int rc = nsid_model_init(&m, &cfg, sc, 2, &err);
    CHECK(rc == 0, "the paper's model: %s: %s", err.key, err.msg);
    if (rc < 0) goto out;
    size_t core = 0, ro = 0;
    for (int i = 0; i < m.ps.n; i++) {
        const struct nsid_param *p = &m.ps.p[i];
        if (p->kind != NSID_PARAM_WEIGHT) continue;
        if (strncmp(p->name, "core.", 5) == 0) core += p->numel;
        else ro += p->numel;
    }
    CHECK(core == 71936, "core: 71,936 trainable parameters (docs/paper.md §1.2), got %zu", core);
    CHECK(ro == 69 * 80 + 6 * 2, "Gaussian readouts: 69 per neuron + 6 per scan (docs/paper.md §2.6), got %zu", ro);
    const struct nsid_param *sp = nsid_params_find(&m.ps, "core.features.layer1.ds_conv.spatial_conv.weight");
    CHECK(sp && sp->ndim == 4 && sp->shape[0] == 64 && sp->shape[1] == 1 && sp->shape[2] == 13,
          "state_dict name and shape of the depthwise conv");
    CHECK(SE2D(&m)->out_h == 22 && SE2D(&m)->out_w == 50 && SE2D(&m)->out_c == 64, "core output 64 x 22 x 50");
    rc = nsid_model_alloc_state(&m, 2, &err);
    CHECK(rc == 0, "arena for B = 2: %s", err.msg);
    if (rc == 0) {
        float *x = malloc(sizeof(float) * 2 * 36 * 64), y[2 * 50];
        for (int i = 0; i < 2 * 36 * 64; i++) x[i] = (float)(255.0 * nsid_rng_uniform(&r));
        for (int i = 0; i < 100; i++) y[i] = (float)nsid_rng_uniform(&r);
        struct nsid_model_batch b = {.scan = 0, .B = 2, .images = x, .responses = y};
        struct nsid_rng sample;
        nsid_rng_init(&sample, 1, NSID_STREAM_SAMPLE);
        nsid_model_zero_grad(&m);
        double L = nsid_model_train_batch(&m, &b, &sample);
        CHECK(isfinite(L) && L > 0, "a training step of the paper's model gives a finite loss (%g)", L);
        CHECK(m.loss.scale == sqrt(5993.0 / 2.0), "loss scale sqrt(N_total / B)");
        nsid_model_predict(&m, &b);
        bool pos = true;
        for (int i = 0; i < 100; i++) pos &= m.out[i] > 0 && isfinite(m.out[i]);
        CHECK(pos, "predictions ELU + 1 are positive");
        printf("paper model: arena %zu bytes for B = 2, %zu weights\n", m.arena.cap, m.ps.n_weights);
        free(x);
    }
    nsid_model_free(&m);
out:
    for (int s = 0; s < 2; s++) {
        scan[s].cell_motor_coordinates = NULL;
        nsid_scan_free(&scan[s]);
        free(xyz[s]);
    }
}

/* ------------------------------------------------------------------- export */

/* Checkpoints and inputs/outputs of the C model for tests/test_nsid2torch.sh. */
static int export_for_torch(const char *dir)
{
    static const char *const names[] = {"gauss_share", "factorized", "pointpooled", "gauss_free"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct fixture fx;
        struct nsid_err err = {0};
        struct nsid_model m;
        char path[4096];
        if (fixture_open(&fx, names[i]) < 0) return 1;
        if (nsid_model_init(&m, &fx.cfg, fx.sc, fx.n_scans, &err) < 0 ||
            nsid_model_load(&m, fixture_path(names[i], "init"), NULL, &err) < 0 ||
            nsid_model_alloc_state(&m, 4, &err) < 0) {
            nsid_err_print(&err, stderr);
            return 1;
        }
        /* Two steps so that weights and BN statistics are nsid's own. */
        struct nsid_adam_config adam;
        nsid_adam_config_default(&adam);
        for (int t = 0; t < 2; t++) {
            nsid_model_zero_grad(&m);
            for (int s = 0; s < fx.n_scans; s++) {
                struct fbatch fb;
                fbatch_read(&fb, &fx, t, s);
                nsid_model_train_batch(&m, &fb.b, NULL);
                fbatch_free(&fb);
            }
            nsid_model_adam_step(&m, &adam);
        }
        snprintf(path, sizeof path, "%s/%s.h5", dir, names[i]);
        if (nsid_model_save(&m, path, false, &err) < 0) {
            nsid_err_print(&err, stderr);
            return 1;
        }
        snprintf(path, sizeof path, "%s/%s.io.h5", dir, names[i]);
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        /* evaluation outputs of every scan first, then training-mode outputs (BN batch statistics) */
        for (int pass = 0; pass < 2; pass++)
            for (int s = 0; s < fx.n_scans; s++) {
                struct fbatch fb;
                fbatch_read(&fb, &fx, 2, s);
                char p[64];
                hsize_t dx[4] = {(hsize_t)fb.b.B, 1, (hsize_t)fx.sc[s].height, (hsize_t)fx.sc[s].width};
                hsize_t dz[3] = {(hsize_t)fb.b.B, (hsize_t)fx.sc[s].n_neurons, 2};
                hsize_t dy[2] = {(hsize_t)fb.b.B, (hsize_t)fx.sc[s].n_neurons};
                if (pass == 0) {
                    snprintf(p, sizeof p, "/scan%d_x", s);
                    H5LTmake_dataset_float(f, p, 4, dx, fb.x);
                    snprintf(p, sizeof p, "/scan%d_z", s);
                    H5LTmake_dataset_float(f, p, 3, dz, fb.z);
                    nsid_model_predict(&m, &fb.b);
                    snprintf(p, sizeof p, "/scan%d_eval", s);
                } else {
                    nsid_model_forward(&m, &fb.b, true, NULL);
                    snprintf(p, sizeof p, "/scan%d_train", s);
                }
                H5LTmake_dataset_float(f, p, 2, dy, m.out);
                H5LTset_attribute_string(f, "/", p + 1, fx.sc[s].data_key);
                fbatch_free(&fb);
            }
        H5Fclose(f);
        printf("%s/%s.h5\n", dir, names[i]);
        nsid_model_free(&m);
        fixture_close(&fx);
    }
    return 0;
}

/* Load file (optionally only names with prefix) into the model of fixture name: exit status 0 if it loads. */
static int check_load(const char *file, const char *name, const char *prefix)
{
    struct fixture fx;
    struct nsid_err err = {0};
    struct nsid_model m;
    if (fixture_open(&fx, name) < 0) return 1;
    int rc = nsid_model_init(&m, &fx.cfg, fx.sc, fx.n_scans, &err);
    struct nsid_checkpoint_load_opts o = {.prefix = prefix};
    if (rc == 0) rc = nsid_model_load(&m, file, &o, &err);
    if (rc < 0)
        nsid_err_print(&err, stderr);
    else
        printf("%s loads into the %s model%s%s\n", file, name, prefix ? " with prefix " : "", prefix ? prefix : "");
    nsid_model_free(&m);
    fixture_close(&fx);
    return rc < 0;
}

static void cleanup(void)
{
    DIR *d = opendir(tmpdir);
    char p[1024];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        remove(p);
    }
    if (d) closedir(d);
    rmdir(tmpdir);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--export") == 0) return export_for_torch(argv[2]);
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "--check-load") == 0)
        return check_load(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nsid_model_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    struct stats all = {0};
    static const char *const configs[] = {"gauss_cortex", "gauss_share", "gauss_free", "factorized", "pointpooled",
                                          "frozen"};
    printf("PyTorch fixtures (tolerance abs %g + rel %g):\n", ABS_TOL, REL_TOL);
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) test_fixture(configs[i], &all);
    printf("  all fixtures: max abs %.3g, max rel %.3g, worst %.3f of the tolerance at %s\n", all.max_abs,
           all.max_rel, all.max_excess, all.worst ? all.worst : "-");
    printf("finite differences (float32 model, double loss):\n");
    fd_check("gaussian cortex + sharing", NSID_READOUT_GAUSSIAN, true, true, false, false);
    fd_check("gaussian free + shifter/modulator", NSID_READOUT_GAUSSIAN, false, false, true, false);
    fd_check("factorized + sharing", NSID_READOUT_FACTORIZED, true, false, false, false);
    fd_check("point-pooled", NSID_READOUT_POINTPOOLED, false, false, false, false);
    fd_check("gaussian cortex, frozen core", NSID_READOUT_GAUSSIAN, false, true, false, true);
    test_checkpoint_and_determinism();
    test_bad_config();
    test_kernel_sets();
    test_paper_config();
    cleanup();
    return check_summary("model");
}
