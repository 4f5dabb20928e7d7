/*
 * test_readout_shifter.c - the eye-position shifter and the behaviour
 * modulator: names and shapes, finite-difference gradients (alone, and the
 * shifter end to end through a Gaussian readout's positions), gain > 0, bad
 * configurations.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/modulator.h"
#include "nn/readout.h"
#include "nn/shifter.h"
#include "test_readout_util.h"

enum { B = 3, NM = 7 };

/* ------------------------------------------------------------ shifter alone */

struct sh_ctx {
    struct nsid_params ps;
    struct nsid_shifter sh;
    struct nsid_arena a;
    float pupil[B * 2], w[B * 2], dpupil[B * 2];
};

static double sh_loss(void *v, uint64_t *sig)
{
    struct sh_ctx *c = v;
    nsid_shifter_forward(&c->sh, c->pupil, B);
    double l = 0.0;
    for (int k = 0; k < B * 2; k++) l += (double)c->w[k] * (double)c->sh.out[k];
    *sig = 0;
    return l;
}

static void test_shifter(void)
{
    struct sh_ctx c;
    struct nsid_err err = {0};
    struct nsid_rng rng;
    struct nsid_shifter_config cfg;
    memset(&c, 0, sizeof c);
    nsid_params_init(&c.ps);
    nsid_shifter_config_default(&cfg);
    CHECK(nsid_shifter_init(&c.sh, &cfg, &c.ps, "shifter.s", &err) == 0, "default shifter");
    struct nsid_param *w = nsid_params_find(&c.ps, "shifter.s.mlp.0.weight");
    CHECK(w && w->shape[0] == 2 && w->shape[1] == 2 && c.ps.n == 2,
          "default shifter is Linear(2,2)+Tanh: mlp.0.weight (2,2), mlp.0.bias");
    nsid_params_free(&c.ps);
    nsid_params_init(&c.ps);
    cfg.shift_layers = 3;
    cfg.hidden_channels = 4;
    CHECK(nsid_shifter_init(&c.sh, &cfg, &c.ps, "shifter.s", &err) == 0, "3-layer shifter");
    CHECK(nsid_params_find(&c.ps, "shifter.s.mlp.2.weight") && nsid_params_find(&c.ps, "shifter.s.mlp.4.bias"),
          "Linear layers at Sequential indices 0, 2, 4 (Tanh in between)");
    nsid_params_alloc(&c.ps, &err);
    nsid_rng_init(&rng, 41, NSID_STREAM_INIT);
    nsid_shifter_reset_parameters(&c.sh, &rng);
    float lo = 1, hi = -1;
    for (int k = 0; k < 8; k++) { lo = fminf(lo, c.sh.mlp.layer[0].w[k]); hi = fmaxf(hi, c.sh.mlp.layer[0].w[k]); }
    CHECK(lo >= -1.0f / sqrtf(2.0f) && hi <= 1.0f / sqrtf(2.0f), "PyTorch default Linear init U(+-1/sqrt(in))");
    fill_normal(c.ps.w, c.ps.n_weights, 0.8, &rng);
    nsid_alloc_arena_measure(&c.a);
    nsid_shifter_bind_state(&c.sh, &c.a, B, &err);
    nsid_alloc_arena_init(&c.a, c.a.used, &err);
    nsid_shifter_bind_state(&c.sh, &c.a, B, &err);
    fill_normal(c.pupil, B * 2, 1.0, &rng);
    fill_normal(c.w, B * 2, 1.0, &rng);
    nsid_params_zero_grad(&c.ps);
    memset(c.dpupil, 0, sizeof c.dpupil);
    sh_loss(&c, &(uint64_t){0});
    int bounded = 1;
    for (int k = 0; k < B * 2; k++) bounded &= fabsf(c.sh.out[k]) < 1.0f;
    CHECK(bounded, "shift = tanh(.) in (-1, 1)");
    nsid_shifter_backward(&c.sh, c.dpupil, c.w, c.pupil, B);
    fd_check_params(&c.ps, "shifter", 1e-3, 5e-4, 1e-3, sh_loss, &c);
    FD_CHECK(c.pupil, c.dpupil, B * 2, 1e-3, 5e-4, 1e-3, sh_loss, &c, "shifter d/d pupil");
    nsid_alloc_arena_free(&c.a);
    nsid_params_free(&c.ps);

    nsid_params_init(&c.ps);
    cfg.shift_layers = 0;
    CHECK(nsid_shifter_init(&c.sh, &cfg, &c.ps, "shifter.s", &err) == NSID_EINVAL &&
          strcmp(err.key, "shift_layers") == 0, "shift_layers 0 is an error naming the key");
    nsid_params_free(&c.ps);
}

/* ------------------------------------------ shifter through a readout */

struct chain {
    struct ro_ctx ro;
    struct nsid_shifter sh;
    float pupil[B * 2], dpupil[B * 2];
};

static double chain_loss(void *v, uint64_t *sig)
{
    struct chain *c = v;
    nsid_shifter_forward(&c->sh, c->pupil, B);
    memcpy(c->ro.shift[0], c->sh.out, sizeof(float) * B * 2);
    return ro_loss(&c->ro, sig);
}

static void test_shifter_through_readout(void)
{
    struct chain c;
    struct nsid_err err = {0};
    struct nsid_rng rng;
    struct nsid_readout_config rc;
    struct nsid_shifter_config sc;
    memset(&c, 0, sizeof c);
    nsid_params_init(&c.ro.ps);
    nsid_shifter_config_default(&sc);
    nsid_readout_config_default(&rc, NSID_READOUT_GAUSSIAN);
    rc.grid_mean_predictor = false;
    c.ro.nr = 1; c.ro.B = B; c.ro.C = 2; c.ro.H = 5; c.ro.W = 6;
    c.ro.training = true;
    c.ro.use_shift = true;
    int ok = nsid_shifter_init(&c.sh, &sc, &c.ro.ps, "shifter.s", &err) == 0 &&
             nsid_readout_init(&c.ro.r[0], &rc, 2, 5, 6, 4, NULL, NULL, NULL, &c.ro.ps, "readout.s", &err) == 0;
    CHECK(ok, "shifter + readout: %s", err.msg);
    if (!ok || ro_setup(&c.ro, 42) != 0) { ro_free(&c.ro); return; }
    ro_randomize(&c.ro, 42);
    nsid_rng_init(&rng, 42, 400);
    nsid_shifter_reset_parameters(&c.sh, &rng);
    for (int k = 0; k < 4; k++) c.sh.mlp.layer[0].w[k] *= 0.3f;
    struct nsid_arena a;
    nsid_alloc_arena_measure(&a);
    nsid_shifter_bind_state(&c.sh, &a, B, &err);
    nsid_alloc_arena_init(&a, a.used, &err);
    nsid_shifter_bind_state(&c.sh, &a, B, &err);
    fill_normal(c.pupil, B * 2, 1.0, &rng);
    /* analytic: readout backward gives dshift, the shifter takes it */
    chain_loss(&c, &(uint64_t){0});
    nsid_params_zero_grad(&c.ro.ps);
    memset(c.ro.dshift[0], 0, sizeof(float) * B * 2);
    memset(c.ro.dfeat[0], 0, sizeof(float) * (size_t)B * 2 * 30);
    memset(c.dpupil, 0, sizeof c.dpupil);
    nsid_readout_backward(&c.ro.r[0], c.ro.dfeat[0], c.ro.dshift[0], c.ro.dout[0], c.ro.feat[0], B);
    nsid_readout_regularizer_backward(&c.ro.r[0], 1.0);
    nsid_shifter_backward(&c.sh, c.dpupil, c.ro.dshift[0], c.pupil, B);
    printf("shifter -> Gaussian readout: finite differences\n");
    fd_check_params(&c.ro.ps, "shifter", 1e-3, 1e-3, 1e-3, chain_loss, &c);
    fd_check_params(&c.ro.ps, "readout", 1e-3, 1e-3, 1e-3, chain_loss, &c);
    FD_CHECK(c.pupil, c.dpupil, B * 2, 1e-3, 1e-3, 1e-3, chain_loss, &c, "pupil through shifter and readout");
    nsid_alloc_arena_free(&a);
    ro_free(&c.ro);
}

/* --------------------------------------------------------------- modulator */

struct mod_ctx {
    struct nsid_params ps;
    struct nsid_modulator m;
    struct nsid_arena a;
    float beh[B * 3], w[B * NM], dbeh[B * 3];
};

static double mod_loss(void *v, uint64_t *sig)
{
    struct mod_ctx *c = v;
    nsid_modulator_forward(&c->m, c->beh, B);
    double l = 0.0;
    for (int k = 0; k < B * NM; k++) l += (double)c->w[k] * (double)c->m.gain[k];
    uint64_t h = 1; /* ReLU kinks: which units are active */
    for (int i = 0; i < c->m.net.n_layers; i++)
        for (int k = 0; k < B * c->m.net.layer[i].out; k++) h = sig_mix(h, c->m.net.layer[i].y[k] > 0.0f);
    *sig = h;
    return l;
}

static void test_modulator(bool final_relu)
{
    struct mod_ctx c;
    struct nsid_err err = {0};
    struct nsid_rng rng;
    struct nsid_modulator_config cfg;
    memset(&c, 0, sizeof c);
    nsid_params_init(&c.ps);
    nsid_modulator_config_default(&cfg);
    cfg.final_relu = final_relu;
    CHECK(nsid_modulator_init(&c.m, &cfg, NM, &c.ps, "modulator.s", &err) == 0, "modulator init");
    struct nsid_param *w0 = nsid_params_find(&c.ps, "modulator.s.modulator_networks.0.0.weight");
    struct nsid_param *w2 = nsid_params_find(&c.ps, "modulator.s.modulator_networks.0.2.weight");
    CHECK(w0 && w2 && w0->shape[0] == 5 && w0->shape[1] == 3 && w2->shape[0] == NM && w2->shape[1] == 5,
          "modulator_networks.0.{0,2}.weight (5,3), (N,5)");
    nsid_params_alloc(&c.ps, &err);
    nsid_rng_init(&rng, 43, NSID_STREAM_INIT);
    nsid_modulator_reset_parameters(&c.m, &rng);
    fill_normal(c.ps.w, c.ps.n_weights, 0.7, &rng);
    nsid_alloc_arena_measure(&c.a);
    nsid_modulator_bind_state(&c.m, &c.a, B, &err);
    nsid_alloc_arena_init(&c.a, c.a.used, &err);
    nsid_modulator_bind_state(&c.m, &c.a, B, &err);
    fill_normal(c.beh, B * 3, 1.0, &rng);
    fill_normal(c.w, B * NM, 1.0, &rng);
    mod_loss(&c, &(uint64_t){0});
    float gmin = 1e9f;
    for (int k = 0; k < B * NM; k++) gmin = fminf(gmin, c.m.gain[k]);
    if (final_relu) CHECK(gmin >= 1.0f, "with the final ReLU (neuralpredictors) the gain is >= 1");
    else CHECK(gmin > 0.0f && gmin < 1.0f, "without it the gain is in (0, inf): min %g", (double)gmin);
    nsid_params_zero_grad(&c.ps);
    memset(c.dbeh, 0, sizeof c.dbeh);
    nsid_modulator_backward(&c.m, c.dbeh, c.w, c.beh, B);
    printf("modulator (final_relu %d): finite differences\n", final_relu);
    fd_check_params(&c.ps, "modulator", 1e-3, 1e-4, 1e-3, mod_loss, &c);
    FD_CHECK(c.beh, c.dbeh, B * 3, 1e-3, 1e-4, 1e-3, mod_loss, &c, "modulator d/d behaviour");
    nsid_alloc_arena_free(&c.a);
    nsid_params_free(&c.ps);
    nsid_params_init(&c.ps);
    cfg.input_channels = 0;
    CHECK(nsid_modulator_init(&c.m, &cfg, NM, &c.ps, "modulator.s", &err) == NSID_EINVAL &&
          strcmp(err.key, "input_channels") == 0, "input_channels 0 is an error naming the key");
    nsid_params_free(&c.ps);
}

int main(void)
{
    test_shifter();
    test_shifter_through_readout();
    test_modulator(false);
    test_modulator(true);
    return check_summary("readout_shifter");
}
