/*
 * test_readout_torch.c - the readouts, shifter and modulator against PyTorch
 * reference tensors (tests/gen_readout_fixtures.py -> tests/fixtures/readout_ref.h5):
 * outputs, regularisers, parameters after the forward's in-place projections,
 * every parameter gradient and the input gradients, abs 1e-5 + rel 1e-4.
 * Parameters are loaded by state_dict name with a shape check, so this also
 * checks that nsid registers PyTorch's names and shapes.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/modulator.h"
#include "nn/readout.h"
#include "nn/shifter.h"
#include "test_readout_util.h"

#define MAXR 2

/* One readout of a case: its label in the file ("" or "a"/"b") and its inputs. */
struct side {
    const char *label;
    struct nsid_readout r;
    char prefix[64];
    int B, N;
    float *feat, *z, *shift, *dout, *dfeat, *dshift;
};

static float *fx_alloc_read(hid_t f, const char *path, size_t n)
{
    float *x = calloc(n, sizeof(float));
    if (x && fx_read(f, path, x, n) < 0) { free(x); return NULL; }
    return x;
}

static void path_of(char *buf, size_t n, const char *cs, const char *label, const char *what)
{
    if (label[0]) snprintf(buf, n, "%s/%s/%s", cs, label, what);
    else snprintf(buf, n, "%s/%s", cs, what);
}

static void group_of(char *buf, size_t n, const char *cs, const char *grp, const char *label)
{
    if (label[0]) snprintf(buf, n, "%s/%s/%s", cs, grp, label);
    else snprintf(buf, n, "%s/%s", cs, grp);
}

/* Inputs of one side; z/shift only where the case has them. */
static void read_inputs(hid_t f, const char *cs, struct side *s, int C, int H, int W)
{
    char p[256];
    size_t nf = (size_t)s->B * C * H * W;
    path_of(p, sizeof p, cs, s->label, "feat");
    s->feat = fx_alloc_read(f, p, nf);
    path_of(p, sizeof p, cs, s->label, "dout");
    s->dout = fx_alloc_read(f, p, (size_t)s->B * s->N);
    path_of(p, sizeof p, cs, s->label, "z");
    s->z = fx_has(f, p) ? fx_alloc_read(f, p, (size_t)s->B * s->N * 2) : NULL;
    path_of(p, sizeof p, cs, s->label, "shift");
    s->shift = fx_has(f, p) ? fx_alloc_read(f, p, (size_t)s->B * 2) : NULL;
    s->dfeat = calloc(nf, sizeof(float));
    s->dshift = calloc((size_t)s->B * 2, sizeof(float));
}

static void free_side(struct side *s)
{
    nsid_readout_free(&s->r);
    free(s->feat); free(s->z); free(s->shift); free(s->dout); free(s->dfeat); free(s->dshift);
}

/*
 * Run a case whose readouts are initialised: load parameters, compare buffers,
 * forward, compare outputs and in-place projections, backward + regulariser
 * backward, compare gradients.
 */
static void run_case(hid_t f, const char *cs, struct side *sides, int ns, struct nsid_params *ps,
                     int C, int H, int W, bool training)
{
    char p[256];
    struct nsid_err err = {0};
    struct nsid_arena arena;
    for (int i = 0; i < ns; i++) {
        group_of(p, sizeof p, cs, "param", sides[i].label);
        fx_params(f, p, ps, sides[i].prefix, NULL);
        nsid_readout_fill_buffers(&sides[i].r);
        group_of(p, sizeof p, cs, "buffer", sides[i].label);
        fx_params(f, p, ps, sides[i].prefix, "buffer");
        read_inputs(f, cs, &sides[i], C, H, W);
    }
    nsid_alloc_arena_measure(&arena);
    for (int i = 0; i < ns; i++) nsid_readout_bind_state(&sides[i].r, &arena, sides[i].B, &err);
    size_t need = arena.used;
    CHECK(nsid_alloc_arena_init(&arena, need, &err) == 0, "%s: arena of %zu bytes", cs, need);
    for (int i = 0; i < ns; i++)
        CHECK(nsid_readout_bind_state(&sides[i].r, &arena, sides[i].B, &err) == 0, "%s: bind state", cs);
    nsid_params_zero_grad(ps);
    for (int i = 0; i < ns; i++) {
        struct side *s = &sides[i];
        nsid_readout_forward(&s->r, s->feat, s->B, training, NULL, s->z, s->shift);
        path_of(p, sizeof p, cs, s->label, "out");
        fx_compare(f, p, s->r.out, (size_t)s->B * s->N);
        path_of(p, sizeof p, cs, s->label, "reg");
        CHECK_CLOSE(nsid_readout_regularizer(&s->r), fx_scalar(f, p), FX_ATOL, FX_RTOL, "%s", p);
        group_of(p, sizeof p, cs, "after", s->label);
        fx_params(f, p, ps, s->prefix, "after");
    }
    for (int i = 0; i < ns; i++) {
        struct side *s = &sides[i];
        nsid_readout_backward(&s->r, s->dfeat, s->shift ? s->dshift : NULL, s->dout, s->feat, s->B);
        nsid_readout_regularizer_backward(&s->r, 1.0);
    }
    for (int i = 0; i < ns; i++) {
        struct side *s = &sides[i];
        group_of(p, sizeof p, cs, "grad", s->label);
        fx_params(f, p, ps, s->prefix, "grad");
        path_of(p, sizeof p, cs, s->label, "dfeat");
        fx_compare(f, p, s->dfeat, (size_t)s->B * C * H * W);
        if (s->shift) {
            path_of(p, sizeof p, cs, s->label, "dshift");
            fx_compare(f, p, s->dshift, (size_t)s->B * 2);
        }
    }
    nsid_alloc_arena_free(&arena);
}

static double gamma_of(hid_t f)
{
    double g = 0.0;
    H5LTget_attribute_double(f, "/", "gamma_readout", &g);
    return g;
}

/* Single-readout case: dims attr (B,C,H,W,N,...). */
static void single_case(hid_t f, const char *cs, struct nsid_readout_config *cfg, bool training)
{
    int dims[7] = {0};
    struct nsid_err err = {0};
    fx_attr_ints(f, cs, "dims", dims);
    int B = dims[0], C = dims[1], H = dims[2], W = dims[3], N = dims[4];
    struct nsid_params ps;
    nsid_params_init(&ps);
    struct side s = {.label = "", .B = B, .N = N};
    snprintf(s.prefix, sizeof s.prefix, "readout.%s", cs);
    double *coords = NULL;
    char p[256];
    snprintf(p, sizeof p, "%s/coords", cs);
    if (fx_has(f, p)) {
        coords = malloc(sizeof(double) * 3 * (size_t)N);
        fx_read_double(f, p, coords);
    }
    cfg->gamma_readout = gamma_of(f);
    int rc = nsid_readout_init(&s.r, cfg, C, H, W, N, coords, NULL, NULL, &ps, s.prefix, &err);
    CHECK(rc == 0, "%s: init (%s)", cs, err.msg);
    if (rc == 0 && nsid_params_alloc(&ps, &err) == 0) run_case(f, cs, &s, 1, &ps, C, H, W, training);
    free_side(&s);
    nsid_params_free(&ps);
    free(coords);
}

/* Two readouts sharing features: a owns, b refers to a. dims (B,C,H,W,Na,Nb). */
static void shared_case(hid_t f, const char *cs, struct nsid_readout_config *cfg_a,
                        struct nsid_readout_config *cfg_b)
{
    int dims[6] = {0};
    struct nsid_err err = {0};
    fx_attr_ints(f, cs, "dims", dims);
    int B = dims[0], C = dims[1], H = dims[2], W = dims[3];
    struct nsid_params ps;
    nsid_params_init(&ps);
    struct side sides[2] = {{.label = "a", .B = B, .N = dims[4]}, {.label = "b", .B = B, .N = dims[5]}};
    int64_t ids[2][16];
    double coords[16 * 3];
    char p[256];
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        struct side *s = &sides[i];
        struct nsid_readout_config *cfg = i == 0 ? cfg_a : cfg_b;
        snprintf(s->prefix, sizeof s->prefix, "readout.%s", s->label);
        snprintf(p, sizeof p, "%s/%s/match_ids", cs, s->label);
        fx_read_i64(f, p, ids[i]);
        snprintf(p, sizeof p, "%s/%s/coords", cs, s->label);
        bool has_coords = fx_has(f, p);
        if (has_coords) fx_read_double(f, p, coords);
        cfg->gamma_readout = gamma_of(f);
        cfg->share_features = true;
        rc = nsid_readout_init(&s->r, cfg, C, H, W, s->N, has_coords ? coords : NULL, ids[i],
                               i ? &sides[0].r : NULL, &ps, s->prefix, &err);
        CHECK(rc == 0, "%s/%s: init (%s)", cs, s->label, err.msg);
        if (rc) break;
        int64_t want[16];
        snprintf(p, sizeof p, "%s/buffer/%s/feature_sharing_index", cs, s->label);
        fx_read_i64(f, p, want);
        CHECK(memcmp(want, s->r.share_idx, sizeof(int64_t) * (size_t)s->N) == 0,
              "%s: feature_sharing_index is np.unique's inverse", p);
    }
    if (rc == 0 && nsid_params_alloc(&ps, &err) == 0) run_case(f, cs, sides, 2, &ps, C, H, W, true);
    free_side(&sides[1]);
    free_side(&sides[0]);
    nsid_params_free(&ps);
}

static void test_gaussian(hid_t f)
{
    struct nsid_readout_config cfg;
    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    cfg.grid_mean_predictor = false;
    single_case(f, "gauss_free", &cfg, true);
    single_case(f, "gauss_free_eval", &cfg, false);
    nsid_readout_config_default(&cfg, NSID_READOUT_GAUSSIAN);
    single_case(f, "gauss_cortex", &cfg, true);
    cfg.gmp_hidden_layers = 2;
    cfg.gmp_hidden_features = 4;
    cfg.gmp_final_tanh = true;
    single_case(f, "gauss_mlp", &cfg, true);

    struct nsid_readout_config a, b;
    nsid_readout_config_default(&a, NSID_READOUT_GAUSSIAN);
    nsid_readout_config_default(&b, NSID_READOUT_GAUSSIAN);
    b.grid_mean_predictor = false;
    shared_case(f, "gauss_shared", &a, &b);
}

static void test_factorized(hid_t f)
{
    struct nsid_readout_config cfg, b;
    nsid_readout_config_default(&cfg, NSID_READOUT_FACTORIZED);
    single_case(f, "fact", &cfg, true);
    cfg.normalize = true;
    single_case(f, "fact_norm", &cfg, true);
    nsid_readout_config_default(&cfg, NSID_READOUT_FACTORIZED);
    nsid_readout_config_default(&b, NSID_READOUT_FACTORIZED);
    shared_case(f, "fact_shared", &cfg, &b);
}

static void test_pointpooled(hid_t f)
{
    int dims[7] = {0};
    fx_attr_ints(f, "pointpooled", "dims", dims);
    struct nsid_readout_config cfg;
    nsid_readout_config_default(&cfg, NSID_READOUT_POINTPOOLED);
    cfg.pool_steps = dims[5];
    cfg.pool_kern = dims[6];
    single_case(f, "pointpooled", &cfg, true);
}

static void test_shifter(hid_t f)
{
    enum { B = 5, NM = 6 };
    struct nsid_err err = {0};
    struct nsid_params ps;
    struct nsid_arena a;
    nsid_params_init(&ps);
    struct nsid_shifter sh;
    struct nsid_shifter_config sc;
    nsid_shifter_config_default(&sc);
    sc.shift_layers = 2;
    sc.hidden_channels = 3;
    struct nsid_modulator mod;
    struct nsid_modulator_config mc;
    nsid_modulator_config_default(&mc);
    int rc = nsid_shifter_init(&sh, &sc, &ps, "shifter", &err);
    rc = rc ? rc : nsid_modulator_init(&mod, &mc, NM, &ps, "modulator", &err);
    rc = rc ? rc : nsid_params_alloc(&ps, &err);
    CHECK(rc == 0, "shifter/modulator init (%s)", err.msg);
    if (rc) return;
    fx_params(f, "shifter/param", &ps, "shifter", NULL);
    fx_params(f, "modulator/param", &ps, "modulator", NULL);
    nsid_alloc_arena_measure(&a);
    nsid_shifter_bind_state(&sh, &a, B, &err);
    nsid_modulator_bind_state(&mod, &a, B, &err);
    nsid_alloc_arena_init(&a, a.used, &err);
    nsid_shifter_bind_state(&sh, &a, B, &err);
    nsid_modulator_bind_state(&mod, &a, B, &err);
    float pupil[B * 2], dshift[B * 2], dpupil[B * 2] = {0}, beh[B * 3], dgain[B * NM], dbeh[B * 3] = {0};
    fx_read(f, "shifter/pupil", pupil, B * 2);
    fx_read(f, "shifter/dout", dshift, B * 2);
    fx_read(f, "modulator/behavior", beh, B * 3);
    fx_read(f, "modulator/dout", dgain, B * NM);
    nsid_params_zero_grad(&ps);
    nsid_shifter_forward(&sh, pupil, B);
    fx_compare(f, "shifter/out", sh.out, B * 2);
    nsid_shifter_backward(&sh, dpupil, dshift, pupil, B);
    fx_compare(f, "shifter/dpupil", dpupil, B * 2);
    fx_params(f, "shifter/grad", &ps, "shifter", "grad");
    nsid_modulator_forward(&mod, beh, B);
    fx_compare(f, "modulator/out", mod.gain, B * NM);
    nsid_modulator_backward(&mod, dbeh, dgain, beh, B);
    fx_compare(f, "modulator/dbehavior", dbeh, B * 3);
    fx_params(f, "modulator/grad", &ps, "modulator", "grad");
    nsid_alloc_arena_free(&a);
    nsid_params_free(&ps);
}

int main(void)
{
    hid_t f = fx_open();
    if (f >= 0) {
        test_gaussian(f);
        test_factorized(f);
        test_pointpooled(f);
        test_shifter(f);
        H5Fclose(f);
    }
    return check_summary("readout_torch");
}
