/*
 * test_vgg16.c - the task-driven VGG16 core (src/nn/vgg16.h): weights from both HDF5 layouts,
 * the forward against PyTorch (tests/fixtures/vgg16_ref.h5, tests/gen_vgg_fixtures.py),
 * torchvision's random initialisation, and bad weight files.
 */
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "nn/params.h"
#include "nn/vgg16.h"

#define IH 10
#define IW 12
#define NB 2

struct fixture {
    struct nsid_params ps;
    struct nsid_vgg16 v;
    struct nsid_arena arena;
};

static int setup(struct fixture *f, int h, int w, int B)
{
    struct nsid_err err = {0};
    struct nsid_vgg16_config cfg;
    nsid_vgg16_config_default(&cfg);
    nsid_params_init(&f->ps);
    if (nsid_vgg16_init(&f->v, &cfg, h, w, &f->ps, "core", &err) < 0 || nsid_params_alloc(&f->ps, &err) < 0) {
        nsid_err_print(&err, stderr);
        return -1;
    }
    struct nsid_rng rng;
    nsid_rng_init(&rng, 1, NSID_STREAM_INIT);
    nsid_vgg16_reset_parameters(&f->v, &rng);
    nsid_alloc_arena_measure(&f->arena);
    if (nsid_vgg16_bind_state(&f->v, &f->arena, B, &err) < 0) return -1;
    if (nsid_alloc_arena_init(&f->arena, f->arena.used, &err) < 0) return -1;
    if (nsid_vgg16_bind_state(&f->v, &f->arena, B, &err) < 0) return -1;
    return 0;
}

static void teardown(struct fixture *f)
{
    nsid_vgg16_free(&f->v);
    nsid_params_free(&f->ps);
    nsid_alloc_arena_free(&f->arena);
}

/* Read a float dataset of n elements from the reference file. */
static float *ref(hid_t fid, const char *name, size_t n)
{
    float *p = calloc(n, sizeof *p);
    if (p && H5LTread_dataset_float(fid, name, p) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

static void test_shapes_and_names(void)
{
    struct fixture f;
    CHECK(setup(&f, 36, 64, 1) == 0, "VGG16 core builds for 36x64");
    CHECK(f.v.out_c == 128 && f.v.out_h == 18 && f.v.out_w == 32, "36x64 -> 128x18x32 (docs/paper.md §7.5), got %dx%dx%d",
          f.v.out_c, f.v.out_h, f.v.out_w);
    CHECK(nsid_params_find(&f.ps, "core.features.TransferLearning.7.weight") != NULL, "conv2_2 is features.7");
    CHECK(nsid_params_find(&f.ps, "core.features.OutBatchNorm.running_var") != NULL, "OutBatchNorm buffers");
    CHECK(f.ps.n_weights == 1728 + 64 + 36864 + 64 + 73728 + 128 + 147456 + 128 + 256,
          "VGG16 conv1_1..conv2_2 + BN affine = 260,416 floats, got %zu", f.ps.n_weights);
    teardown(&f);
}

/* torchvision's kaiming_normal_(fan_out, relu): std sqrt(2/(O*9)), biases 0, BN identity. */
static void test_random_init(void)
{
    struct fixture f, g;
    CHECK(setup(&f, IH, IW, 1) == 0 && setup(&g, IH, IW, 1) == 0, "two random cores");
    for (int k = 0; k < NSID_VGG16_CONVS; k++) {
        size_t n = (size_t)f.v.conv[k].O * (size_t)f.v.conv[k].C * 9;
        double s2 = 0, m = 0;
        for (size_t i = 0; i < n; i++) {
            m += (double)f.v.w[k][i];
            s2 += (double)f.v.w[k][i] * (double)f.v.w[k][i];
        }
        double want = sqrt(2.0 / (f.v.conv[k].O * 9.0)), got = sqrt(s2 / (double)n);
        CHECK_CLOSE(got, want, 0, 0.05, "conv %d std (kaiming fan_out)", k);
        CHECK(fabs(m / (double)n) < 4 * want / sqrt((double)n), "conv %d mean ~ 0", k);
        int zero = 1;
        for (int o = 0; o < f.v.conv[k].O; o++) zero &= f.v.b[k][o] == 0.0f;
        CHECK(zero, "conv %d bias 0", k);
        CHECK(memcmp(f.v.w[k], g.v.w[k], n * sizeof(float)) == 0, "same seed, same weights (conv %d)", k);
    }
    CHECK(f.v.bn_gamma[5] == 1.0f && f.v.bn_beta[5] == 0.0f && f.v.running_var[5] == 1.0f, "BN at identity");
    teardown(&f);
    teardown(&g);
}

/* Forward of the loaded core against the PyTorch reference. */
static void check_forward(struct fixture *f, const char *what)
{
    hid_t fid = H5Fopen(check_fixture("vgg16_ref.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0, "open vgg16_ref.h5");
    if (fid < 0) return;
    size_t n_out = (size_t)NB * 128 * 5 * 6;
    float *x = ref(fid, "x", NB * IH * IW), *conv_out = ref(fid, "conv_out", n_out);
    float *out_train = ref(fid, "out_train", n_out), *out_eval = ref(fid, "out_eval", n_out);
    float *rm = ref(fid, "running_mean", 128), *rv = ref(fid, "running_var", 128);
    H5Fclose(fid);
    CHECK(x && conv_out && out_train && out_eval && rm && rv, "reference datasets read");
    if (x && conv_out && out_train && out_eval && rm && rv) {
        char name[128];
        float *co = calloc(n_out, sizeof *co);
        nsid_vgg16_forward_convs(&f->v, co, x, NB);
        snprintf(name, sizeof name, "%s: conv2_2 output", what);
        CHECK_ARRAYS(co, conv_out, n_out, 1e-5, 1e-4, name);
        nsid_vgg16_forward(&f->v, x, NB, true);
        snprintf(name, sizeof name, "%s: output in training mode", what);
        CHECK_ARRAYS(f->v.out, out_train, n_out, 1e-5, 1e-4, name);
        snprintf(name, sizeof name, "%s: running_mean after one training forward", what);
        CHECK_ARRAYS(f->v.running_mean, rm, 128, 1e-5, 1e-4, name);
        snprintf(name, sizeof name, "%s: running_var (unbiased, momentum 0.1)", what);
        CHECK_ARRAYS(f->v.running_var, rv, 128, 1e-5, 1e-4, name);
        CHECK(f->v.num_batches_tracked == 1, "%s: num_batches_tracked counts the training forward", what);
        nsid_vgg16_forward(&f->v, x, NB, false);
        snprintf(name, sizeof name, "%s: output in evaluation mode", what);
        CHECK_ARRAYS(f->v.out, out_eval, n_out, 1e-5, 1e-4, name);
        CHECK(f->v.num_batches_tracked == 1, "%s: evaluation leaves the running statistics", what);
        free(co);
    }
    free(x);
    free(conv_out);
    free(out_train);
    free(out_eval);
    free(rm);
    free(rv);
}

static void test_layouts(void)
{
    struct fixture a, b;
    struct nsid_err err = {0};
    int lay = -1;
    CHECK(setup(&a, IH, IW, NB) == 0 && setup(&b, IH, IW, NB) == 0, "two cores");
    int rc = nsid_vgg16_load(&a.v, check_fixture("vgg16_torchvision.h5"), &lay, &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    CHECK(rc == 0 && lay == NSID_VGG16_LAYOUT_TORCHVISION, "torchvision layout loads and is detected");
    rc = nsid_vgg16_load(&b.v, check_fixture("vgg16_keras_notop.h5"), &lay, &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    CHECK(rc == 0 && lay == NSID_VGG16_LAYOUT_KERAS, "Keras notop layout loads and is detected");
    CHECK(memcmp(a.ps.w, b.ps.w, a.ps.n_weights * sizeof(float)) == 0,
          "both layouts give bit-identical weights (Keras kernels transposed to (O,C,3,3))");
    check_forward(&a, "torchvision");
    check_forward(&b, "keras");
    teardown(&a);
    teardown(&b);
}

/* Newer Keras files: <layer>/<layer>/kernel:0 with weight_names "<layer>/kernel:0". */
static void test_keras_new_names(const char *dir)
{
    struct fixture a, b;
    struct nsid_err err = {0};
    CHECK(setup(&a, IH, IW, NB) == 0 && setup(&b, IH, IW, NB) == 0, "two cores");
    CHECK(nsid_vgg16_load(&a.v, check_fixture("vgg16_torchvision.h5"), NULL, &err) == 0, "reference weights");
    char path[512];
    snprintf(path, sizeof path, "%s/keras2.h5", dir);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    static const char *names[4] = {"block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2"};
    for (int k = 0; k < 4; k++) {
        const struct nsid_conv_dims *d = &a.v.conv[k];
        hid_t g = H5Gcreate2(f, names[k], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hid_t g2 = H5Gcreate2(g, names[k], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        size_t n = (size_t)d->O * (size_t)d->C * 9;
        float *t = malloc(n * sizeof *t);
        for (int o = 0; o < d->O; o++)
            for (int c = 0; c < d->C; c++)
                for (int yx = 0; yx < 9; yx++) t[((size_t)yx * d->C + c) * d->O + o] = a.v.w[k][((size_t)o * d->C + c) * 9 + yx];
        hsize_t kd[4] = {3, 3, (hsize_t)d->C, (hsize_t)d->O}, bd[1] = {(hsize_t)d->O};
        H5LTmake_dataset_float(g2, "kernel:0", 4, kd, t);
        H5LTmake_dataset_float(g2, "bias:0", 1, bd, a.v.b[k]);
        char wn[2][64];
        snprintf(wn[0], 64, "%s/kernel:0", names[k]);
        snprintf(wn[1], 64, "%s/bias:0", names[k]);
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, 64);
        hsize_t two = 2;
        hid_t sp = H5Screate_simple(1, &two, NULL);
        hid_t at = H5Acreate2(g, "weight_names", st, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(at, st, wn);
        H5Aclose(at);
        H5Sclose(sp);
        H5Tclose(st);
        free(t);
        H5Gclose(g2);
        H5Gclose(g);
    }
    H5Fclose(f);
    int lay = -1;
    int rc = nsid_vgg16_load(&b.v, path, &lay, &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    CHECK(rc == 0 && lay == NSID_VGG16_LAYOUT_KERAS, "Keras 2 naming (<layer>/kernel:0) loads");
    CHECK(memcmp(a.ps.w, b.ps.w, a.ps.n_weights * sizeof(float)) == 0, "Keras 2 naming: same weights");
    unlink(path);
    teardown(&a);
    teardown(&b);
}

static void test_bad_files(const char *dir)
{
    struct fixture f;
    struct nsid_err err = {0};
    CHECK(setup(&f, IH, IW, 1) == 0, "core");
    float *before = malloc(f.ps.n_weights * sizeof *before);
    memcpy(before, f.ps.w, f.ps.n_weights * sizeof *before);

    int rc = nsid_vgg16_load(&f.v, "/nonexistent/vgg.h5", NULL, &err);
    CHECK(rc == NSID_ENOTFOUND && strstr(err.file, "/nonexistent/vgg.h5"), "missing file: ENOTFOUND naming it (%s)",
          err.file);

    char path[512];
    snprintf(path, sizeof path, "%s/bad_shape.h5", dir);
    hid_t h = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    static float zeros[128 * 64 * 25];
    hsize_t d0[4] = {64, 3, 3, 3}, b0[1] = {64}, d2[4] = {64, 64, 3, 3}, d5[4] = {128, 64, 5, 5}, b5[1] = {128};
    H5LTmake_dataset_float(h, "features.0.weight", 4, d0, zeros);
    H5LTmake_dataset_float(h, "features.0.bias", 1, b0, zeros);
    H5LTmake_dataset_float(h, "features.2.weight", 4, d2, zeros);
    H5LTmake_dataset_float(h, "features.2.bias", 1, b0, zeros);
    H5LTmake_dataset_float(h, "features.5.weight", 4, d5, zeros);
    H5LTmake_dataset_float(h, "features.5.bias", 1, b5, zeros);
    H5Fclose(h);
    nsid_err_clear(&err);
    rc = nsid_vgg16_load(&f.v, path, NULL, &err);
    CHECK(rc == NSID_ESHAPE && strcmp(err.key, "features.5.weight") == 0 && strstr(err.msg, "(128,64,5,5)") &&
              strstr(err.msg, "(128,64,3,3)"),
          "wrong shape: ESHAPE naming the dataset with both shapes (%s: %s)", err.key, err.msg);
    CHECK(memcmp(before, f.ps.w, f.ps.n_weights * sizeof *before) == 0, "a failed load changes nothing");

    h = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5LTmake_dataset_float(h, "weights", 1, b0, zeros);
    H5Fclose(h);
    nsid_err_clear(&err);
    rc = nsid_vgg16_load(&f.v, path, NULL, &err);
    CHECK(rc == NSID_EFORMAT && strstr(err.msg, "neither"), "neither layout: EFORMAT (%s)", err.msg);

    FILE *t = fopen(path, "w");
    fputs("not hdf5\n", t);
    fclose(t);
    nsid_err_clear(&err);
    rc = nsid_vgg16_load(&f.v, path, NULL, &err);
    CHECK(rc == NSID_EFORMAT && strstr(err.msg, "HDF5"), "not HDF5: EFORMAT (%s)", err.msg);
    unlink(path);
    free(before);
    teardown(&f);
}

int main(void)
{
    char dir[] = "/tmp/nsid_vgg16_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    test_shapes_and_names();
    test_random_init();
    test_layouts();
    test_keras_new_names(dir);
    test_bad_files(dir);
    rmdir(dir);
    return check_summary("vgg16");
}
