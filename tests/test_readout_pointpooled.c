/*
 * test_readout_pointpooled.c - the point-pooled readout (PointPooled2d):
 * gradients by finite differences through the pooled levels, the in-place
 * grid clamp, level sizes, initialisation, counts, regulariser, bad input.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/readout.h"
#include "test_readout_util.h"

static int setup(struct ro_ctx *c, int H, int W, uint64_t seed)
{
    struct nsid_err err = {0};
    struct nsid_readout_config cfg;
    nsid_readout_config_default(&cfg, NSID_READOUT_POINTPOOLED);
    cfg.gamma_readout = 0.05;
    memset(c, 0, sizeof *c);
    nsid_params_init(&c->ps);
    c->nr = 1; c->B = 2; c->C = 3; c->H = H; c->W = W;
    c->training = true;
    c->use_shift = true;
    int rc = nsid_readout_init(&c->r[0], &cfg, c->C, H, W, 4, NULL, NULL, NULL, &c->ps, "readout.p", &err);
    CHECK(rc == 0, "point-pooled init: %s", err.msg);
    if (rc == 0) rc = ro_setup(c, seed);
    if (rc == 0) ro_randomize(c, seed);
    return rc;
}

static void test_fd(void)
{
    struct ro_ctx c;
    if (setup(&c, 10, 11, 31) == 0) {
        struct nsid_readout *r = &c.r[0];
        CHECK(r->lh[1] == 3 && r->lw[1] == 3 && r->lh[2] == 1 && r->lw[2] == 1,
              "levels 10x11 -> 3x3 -> 1x1 (AvgPool2d(3, stride 3), floor)");
        ro_fd_all(&c, 2e-3, 1e-3, 1e-3, "point-pooled, 2 pooling steps");
    }
    ro_free(&c);
}

static void test_semantics(void)
{
    struct ro_ctx c;
    if (setup(&c, 10, 11, 32) != 0) { ro_free(&c); return; }
    struct nsid_readout *r = &c.r[0];
    r->grid[0] = 1.5f;
    r->grid[3] = -3.0f;
    nsid_readout_forward(r, c.feat[0], c.B, true, NULL, NULL, c.shift[0]);
    CHECK(r->grid[0] == 1.0f && r->grid[3] == -1.0f, "the grid is clamped to [-1,1] in place at forward");
    CHECK(r->pos[0] == 1.0f + c.shift[0][0], "the shift is added after the clamp (position may leave [-1,1])");
    /* y = sum over levels of features . sample + bias, level 2 is the 1x1 mean of the 3x3 level */
    memset(r->features, 0, sizeof(float) * (size_t)3 * 3 * 4);
    for (int ch = 0; ch < 3; ch++) r->features[(2 * 3 + ch) * 4 + 1] = 1.0f; /* neuron 1, level 2 */
    r->grid[2] = 0.3f; r->grid[3] = -0.2f;
    nsid_readout_forward(r, c.feat[0], c.B, true, NULL, NULL, NULL);
    double want = r->bias[1];
    for (int ch = 0; ch < 3; ch++) {
        double s = 0.0;
        for (int i = 0; i < 9; i++)
            for (int j = 0; j < 9; j++) s += (double)c.feat[0][(size_t)ch * 110 + i * 11 + j];
        want += s / 81.0;
    }
    CHECK_CLOSE(r->out[1], want, 1e-5, 1e-5, "the coarsest level averages the 9x9 window the two pools cover");
    ro_free(&c);
}

static void test_init_counts(void)
{
    enum { C = 64, H = 22, W = 50, N = 10 };
    struct nsid_err err = {0};
    struct nsid_readout_config cfg;
    struct nsid_params ps;
    struct nsid_readout r;
    struct nsid_rng rng;
    nsid_readout_config_default(&cfg, NSID_READOUT_POINTPOOLED);
    nsid_params_init(&ps);
    nsid_readout_init(&r, &cfg, C, H, W, N, NULL, NULL, NULL, &ps, "readout.x", &err);
    CHECK(count_weights(&ps, "readout.x.") == 195 * N, "point-pooled: 195 parameters per neuron (2 + 192 + 1)");
    struct nsid_param *g = nsid_params_find(&ps, "readout.x.grid"), *f = nsid_params_find(&ps, "readout.x.features");
    CHECK(g && g->ndim == 4 && g->shape[1] == N && g->shape[3] == 2, "grid (1,N,1,2)");
    CHECK(f && f->ndim == 4 && f->shape[1] == 3 * C && f->shape[3] == N, "features (1,C*(pool_steps+1),1,N)");
    CHECK(r.lh[1] == 7 && r.lw[1] == 16 && r.lh[2] == 2 && r.lw[2] == 5, "levels 22x50 -> 7x16 -> 2x5");
    nsid_params_alloc(&ps, &err);
    nsid_rng_init(&rng, 7, NSID_STREAM_INIT);
    nsid_readout_reset_parameters(&r, &rng);
    int ok = 1;
    for (int k = 0; k < 3 * C * N; k++) ok &= r.features[k] == 1.0f / 64.0f;
    float lo = 1, hi = -1;
    for (int k = 0; k < 2 * N; k++) { lo = fminf(lo, r.grid[k]); hi = fmaxf(hi, r.grid[k]); }
    CHECK(ok && lo >= -0.2f && hi <= 0.2f && r.bias[0] == 0.0f, "features 1/C, grid ~ U(-0.2, 0.2), bias 0");
    CHECK_CLOSE(nsid_readout_regularizer(&r), 0.0207 * 3 * C * N / 64.0, 1e-9, 1e-6,
                "regulariser = gamma * sum |features| (default gamma 0.0207)");
    float pos[2 * N];
    CHECK(nsid_readout_positions(&r, pos, &err) == 0 && pos[3] == r.grid[3], "positions = clamp(grid)");
    nsid_readout_free(&r);
    nsid_params_free(&ps);

    cfg.pool_steps = 2;
    nsid_params_init(&ps);
    int rc = nsid_readout_init(&r, &cfg, C, 4, 4, N, NULL, NULL, NULL, &ps, "readout.y", &err);
    CHECK(rc == NSID_EINVAL && strcmp(err.key, "pool_steps") == 0,
          "pooling a 4x4 map twice with kernel 3 is an error naming pool_steps (%s)", err.msg);
    cfg.share_features = true;
    nsid_err_clear(&err);
    rc = nsid_readout_init(&r, &cfg, C, H, W, N, NULL, NULL, NULL, &ps, "readout.y", &err);
    CHECK(rc == NSID_EINVAL && strcmp(err.key, "share_features") == 0, "no feature sharing for point-pooled");
    cfg.share_features = false;
    cfg.init_range = 0.0;
    nsid_err_clear(&err);
    rc = nsid_readout_init(&r, &cfg, C, H, W, N, NULL, NULL, NULL, &ps, "readout.y", &err);
    CHECK(rc == NSID_EINVAL && strcmp(err.key, "init_range") == 0, "init_range 0 is an error");
    nsid_readout_free(&r);
    nsid_params_free(&ps);
}

int main(void)
{
    test_fd();
    test_semantics();
    test_init_counts();
    return check_summary("readout_pointpooled");
}
