/*
 * test_core_ref.c - nsid's core against a PyTorch SE2d core (tests/fixtures/core_ref.h5,
 * written by tests/gen_layer_fixtures.py): every state_dict name and shape of the
 * fixture is found in nsid's table, then with the same weights: training-mode output,
 * input and parameter gradients, BN running statistics after the batch (momentum 0.9)
 * and num_batches_tracked; evaluation-mode output and gradients; the Laplace
 * regulariser and its gradient. Tolerance abs 1e-5 + rel 1e-4.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "base/alloc.h"
#include "check.h"
#include "nn/core.h"

#define ATOL 1e-5
#define RTOL 1e-4

static double worst_ratio;

/* Read dataset path into dst (n floats) after checking its element count. */
static int read_exact(hid_t f, const char *path, float *dst, size_t n)
{
    int rank = 0;
    hsize_t dims[8];
    if (H5Lexists(f, path, H5P_DEFAULT) <= 0) return -1;
    if (H5LTget_dataset_ndims(f, path, &rank) < 0 || rank > 8) return -1;
    if (H5LTget_dataset_info(f, path, dims, NULL, NULL) < 0) return -1;
    size_t cnt = 1;
    for (int i = 0; i < rank; i++) cnt *= (size_t)dims[i];
    if (cnt != n) return -1;
    return H5LTread_dataset_float(f, path, dst) < 0 ? -1 : 0;
}

/* "<group>/" + name with '.' -> '/' */
static void h5_path(char *buf, size_t n, const char *group, const char *name)
{
    snprintf(buf, n, "%s/%s", group, name);
    for (char *p = buf + strlen(group); *p; p++)
        if (*p == '.') *p = '/';
}

/* abs 1e-5 + rel 1e-4 per element; tracks the worst ratio to the tolerance. */
static void compare(const float *got, const float *want, size_t n, const char *what)
{
    CHECK_ARRAYS(got, want, n, ATOL, RTOL, what);
    for (size_t i = 0; i < n; i++) {
        double r = fabs((double)got[i] - (double)want[i]) / (ATOL + RTOL * fabs((double)want[i]));
        if (r > worst_ratio) worst_ratio = r;
    }
}

static void compare_ds(hid_t f, const char *path, const float *got, size_t n, const char *what)
{
    float *want = malloc(n * sizeof(float));
    int rc = read_exact(f, path, want, n);
    CHECK(rc == 0, "fixture %s holds %zu floats", path, n);
    if (rc == 0) compare(got, want, n, what);
    free(want);
}

/* Compare every weight gradient of the table with <mode>/grad/<name>. */
static void compare_grads(hid_t f, const struct nsid_params *ps, const char *mode)
{
    char group[64], path[512], what[256];
    snprintf(group, sizeof group, "%s/grad", mode);
    for (int i = 0; i < ps->n; i++) {
        const struct nsid_param *p = &ps->p[i];
        if (p->kind != NSID_PARAM_WEIGHT) continue;
        h5_path(path, sizeof path, group, p->name);
        snprintf(what, sizeof what, "%s gradient of %s", mode, p->name);
        compare_ds(f, path, ps->g + p->offset, p->numel, what);
    }
}

int main(void)
{
    const char *path = check_fixture("core_ref.h5");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0, "open fixture %s", path);
    if (f < 0) return check_summary("core_ref");

    struct nsid_err err = {0};
    struct nsid_core_config cfg;
    nsid_core_config_default(&cfg);
    long long v;
    H5LTget_attribute_long_long(f, "/", "layers", &v); cfg.layers = (int)v;
    H5LTget_attribute_long_long(f, "/", "ch", &v); cfg.hidden_channels = (int)v;
    H5LTget_attribute_long_long(f, "/", "k0", &v); cfg.input_kern = (int)v;
    H5LTget_attribute_long_long(f, "/", "kh", &v); cfg.hidden_kern = (int)v;
    H5LTget_attribute_double(f, "/", "momentum", &cfg.bn_momentum);
    CHECK(cfg.layers == 3 && cfg.hidden_channels == 4 && cfg.bn_momentum == 0.9, "fixture config read");
    int N = 3, H = 12, W = 14;

    struct nsid_params ps;
    struct nsid_core core;
    struct nsid_arena a;
    nsid_params_init(&ps);
    CHECK(nsid_core_init(&core, &cfg, H, W, &ps, "core", &err) == 0, "core init: %s", err.msg);
    CHECK(nsid_params_alloc(&ps, &err) == 0, "alloc");
    nsid_alloc_arena_measure(&a);
    nsid_core_bind_state(&core, &a, N, &err);
    CHECK(nsid_alloc_arena_init(&a, a.used, &err) == 0 && nsid_core_bind_state(&core, &a, N, &err) == 0, "bind");

    /* every tensor of the table is in the fixture under its state_dict name, with its size */
    int loaded = 0;
    for (int i = 0; i < ps.n; i++) {
        char p[512];
        h5_path(p, sizeof p, "params", ps.p[i].name);
        int rc = read_exact(f, p, nsid_params_data(&ps, &ps.p[i]), ps.p[i].numel);
        CHECK(rc == 0, "state_dict entry %s found in the PyTorch core with %zu elements", ps.p[i].name,
              ps.p[i].numel);
        loaded += rc == 0;
    }
    hsize_t nobj = 0;
    hid_t g = H5Gopen2(f, "/params/core/features/layer0/norm", H5P_DEFAULT);
    H5Gget_num_objs(g, &nobj);
    H5Gclose(g);
    CHECK(nobj == 4, "PyTorch's layer0.norm holds the 4 float tensors nsid registers (num_batches_tracked apart)");
    printf("loaded %d PyTorch tensors by name\n", loaded);

    size_t nx = (size_t)N * H * W, ny = (size_t)N * core.out_c * core.out_h * core.out_w;
    CHECK(core.out_h == 8 && core.out_w == 10, "output 8x10");
    float *x = malloc(nx * sizeof(float)), *gy = malloc(ny * sizeof(float)), *dx = calloc(nx, sizeof(float));
    CHECK(read_exact(f, "/x", x, nx) == 0 && read_exact(f, "/gy", gy, ny) == 0, "fixture input and dout");

    /* training mode */
    nsid_core_forward(&core, x, N, true);
    compare_ds(f, "/train/y", core.out, ny, "train output");
    nsid_params_zero_grad(&ps);
    nsid_core_backward(&core, dx, gy, N);
    compare_ds(f, "/train/gx", dx, nx, "train input gradient");
    compare_grads(f, &ps, "train");
    for (int i = 0; i < ps.n; i++) {
        const struct nsid_param *p = &ps.p[i];
        if (!strstr(p->name, "running")) continue;
        char q[512], what[256];
        h5_path(q, sizeof q, "train/buffers", p->name);
        snprintf(what, sizeof what, "%s after one training batch", p->name);
        compare_ds(f, q, nsid_params_data(&ps, p), p->numel, what);
    }
    long long nbt = -1;
    H5LTget_attribute_long_long(f, "/", "num_batches_tracked", &nbt);
    CHECK(core.layer[2].num_batches_tracked == nbt, "num_batches_tracked %lld", (long long)core.layer[2].num_batches_tracked);

    /* evaluation mode (running statistics as updated above) */
    memset(dx, 0, nx * sizeof(float));
    nsid_core_forward(&core, x, N, false);
    compare_ds(f, "/eval/y", core.out, ny, "eval output");
    nsid_params_zero_grad(&ps);
    nsid_core_backward(&core, dx, gy, N);
    compare_ds(f, "/eval/gx", dx, nx, "eval input gradient");
    compare_grads(f, &ps, "eval");

    /* regulariser (gamma_input 1) */
    float rv;
    CHECK(read_exact(f, "/reg/value", &rv, 1) == 0, "fixture regulariser value");
    CHECK_CLOSE(nsid_core_regularizer(&core), rv, ATOL, RTOL, "LaplaceL2norm of layer0");
    nsid_params_zero_grad(&ps);
    nsid_core_regularizer_backward(&core, 1.0);
    compare_ds(f, "/reg/grad", core.layer[0].dw, 100, "LaplaceL2norm gradient");

    printf("largest deviation from PyTorch: %.3g of the tolerance\n", worst_ratio);
    free(x); free(gy); free(dx);
    nsid_core_free(&core);
    nsid_params_free(&ps);
    nsid_alloc_arena_free(&a);
    H5Fclose(f);
    return check_summary("core_ref");
}
