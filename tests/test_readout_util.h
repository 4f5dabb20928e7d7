/*
 * test_readout_util.h - helpers shared by the readout tests: finite-difference
 * gradient checks, a kink signature of a readout's sampling state, and reading
 * PyTorch reference tensors from tests/fixtures/readout_ref.h5
 * (written by tests/gen_readout_fixtures.py).
 */
#ifndef NSID_TEST_READOUT_UTIL_H
#define NSID_TEST_READOUT_UTIL_H

#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "check.h"
#include "nn/params.h"
#include "nn/readout.h"

/* ----------------------------------------------------------- random fill */

static inline void fill_normal(float *x, size_t n, double scale, struct nsid_rng *rng)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * nsid_rng_normal(rng));
}

static inline void fill_uniform(float *x, size_t n, double lo, double hi, struct nsid_rng *rng)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)nsid_rng_uniform_range(rng, lo, hi);
}

/* --------------------------------------------------- finite differences */

/*
 * A loss evaluated in double from the float forward, plus a signature of the
 * discrete state (bilinear cells, clamp regions, projections): a perturbation
 * that changes the signature crosses a kink and is skipped.
 */
typedef double (*fd_loss_fn)(void *ctx, uint64_t *sig);

struct fd_stats {
    int checked, skipped, failed;
};

static inline uint64_t sig_mix(uint64_t h, int64_t v)
{
    h ^= (uint64_t)v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

static inline int cell_of(float p, int n)
{
    float i = ((p + 1.0f) / 2.0f) * (float)(n - 1);
    return (int)floorf(i);
}

/*
 * Signature of a readout's latest forward: cells on every level, clamp
 * regions, and the signs of the L1-penalised values (|.| has a kink at 0).
 */
static inline uint64_t readout_signature(const struct nsid_readout *r, uint64_t h)
{
    int B = r->last_B, N = r->N;
    if (r->owner == r) {
        size_t nf = (size_t)r->C * (r->shared ? r->n_ids : N) *
                    (r->kind == NSID_READOUT_POINTPOOLED ? r->cfg.pool_steps + 1 : 1);
        for (size_t k = 0; k < nf; k++) h = sig_mix(h, r->features[k] > 0.0f);
    }
    if (r->shared)
        for (int n = 0; n < N; n++) h = sig_mix(h, r->scales[n] > 0.0f);
    for (int k = 0; k < B * N; k++) {
        for (int d = 0; d < 2; d++) {
            if (r->kind == NSID_READOUT_GAUSSIAN) {
                float p = r->pre[2 * k + d];
                h = sig_mix(h, p < -1.0f ? 0 : (p > 1.0f ? 2 : 1));
            }
            if (r->kind == NSID_READOUT_FACTORIZED) continue;
            int levels = r->kind == NSID_READOUT_POINTPOOLED ? r->cfg.pool_steps + 1 : 1;
            for (int l = 0; l < levels; l++) {
                int size = d == 0 ? (l ? r->lw[l] : r->W) : (l ? r->lh[l] : r->H);
                h = sig_mix(h, cell_of(r->pos[2 * k + d], size));
            }
        }
    }
    return h;
}

/*
 * Central differences of loss over x[0..n) against analytic[0..n):
 * |fd - an| <= atol + rtol * max(|fd|, |an|). The perturbation actually
 * applied (after float rounding) is used as the step.
 */
static inline struct fd_stats fd_check(float *x, const float *analytic, size_t n, double eps,
                                       double atol, double rtol, fd_loss_fn loss, void *ctx,
                                       const char *what)
{
    struct fd_stats st = {0, 0, 0};
    uint64_t sig0, sp, sm;
    loss(ctx, &sig0);
    for (size_t i = 0; i < n; i++) {
        float orig = x[i];
        float hi = (float)((double)orig + eps), lo = (float)((double)orig - eps);
        x[i] = hi;
        double lp = loss(ctx, &sp);
        x[i] = lo;
        double lm = loss(ctx, &sm);
        x[i] = orig;
        if (sp != sig0 || sm != sig0) { st.skipped++; continue; }
        double fd = (lp - lm) / ((double)hi - (double)lo), an = analytic[i];
        double tol = atol + rtol * fmax(fabs(fd), fabs(an));
        st.checked++;
        if (!(fabs(fd - an) <= tol)) {
            if (st.failed < 5)
                fprintf(stderr, "  %s[%zu]: finite difference %.8g, analytic %.8g\n", what, i, fd, an);
            st.failed++;
        }
    }
    loss(ctx, &sp); /* leave the forward state as it was */
    return st;
}

/* fd_check with a CHECK that nothing failed and most entries were checked. */
#define FD_CHECK(x, an, n, eps, atol, rtol, loss, ctx, what) do {                          \
    struct fd_stats st_ = fd_check((x), (an), (n), (eps), (atol), (rtol), (loss), (ctx), (what)); \
    if (getenv("NSID_VERBOSE"))                                                              \
        printf("  %-60s %4d checked %3d skipped\n", (what), st_.checked, st_.skipped);        \
    CHECK(st_.failed == 0 && st_.checked >= 1 && st_.skipped * 4 <= (int)(n),               \
          "gradient of %s: %d checked, %d skipped at kinks, %d wrong", (what), st_.checked, \
          st_.skipped, st_.failed);                                                          \
} while (0)

/* Check every trainable tensor of ps whose name starts with prefix. */
static inline void fd_check_params(struct nsid_params *ps, const char *prefix, double eps, double atol,
                                   double rtol, fd_loss_fn loss, void *ctx)
{
    size_t lp = strlen(prefix);
    for (int i = 0; i < ps->n; i++) {
        struct nsid_param *p = &ps->p[i];
        if (p->kind != NSID_PARAM_WEIGHT || strncmp(p->name, prefix, lp) != 0) continue;
        FD_CHECK(nsid_params_data(ps, p), ps->g + p->offset, p->numel, eps, atol, rtol, loss, ctx, p->name);
    }
}

/* Sum of numel over the trainable tensors under prefix. */
static inline size_t count_weights(const struct nsid_params *ps, const char *prefix)
{
    size_t n = 0, lp = strlen(prefix);
    for (int i = 0; i < ps->n; i++)
        if (ps->p[i].kind == NSID_PARAM_WEIGHT && strncmp(ps->p[i].name, prefix, lp) == 0)
            n += ps->p[i].numel;
    return n;
}

/* ------------------------------------------------ readout test context */

/*
 * Up to two readouts (the second may share the first's features) in one
 * parameter table, with fixed random inputs; the loss is
 * sum_r sum(dout_r * out_r) + regularisers, in double.
 */
struct ro_ctx {
    struct nsid_params ps;
    struct nsid_readout r[2];
    int nr, B, C, H, W;
    bool training, use_shift;
    float *feat[2], *z[2], *shift[2], *dout[2], *dfeat[2], *dshift[2];
    struct nsid_arena arena;
    uint64_t (*extra_sig)(const struct ro_ctx *c, uint64_t h); /* kinks beyond cells/clamps */
};

static inline double ro_loss(void *vctx, uint64_t *sig)
{
    struct ro_ctx *c = vctx;
    double l = 0.0;
    uint64_t h = 1;
    for (int i = 0; i < c->nr; i++) {
        struct nsid_readout *r = &c->r[i];
        nsid_readout_forward(r, c->feat[i], c->B, c->training, NULL, c->z[i], c->use_shift ? c->shift[i] : NULL);
        for (int k = 0; k < c->B * r->N; k++) l += (double)c->dout[i][k] * (double)r->out[k];
        l += nsid_readout_regularizer(r);
        h = readout_signature(r, h);
    }
    if (c->extra_sig) h = c->extra_sig(c, h);
    *sig = h;
    return l;
}

/* Analytic gradients of ro_loss into the table's gradients, dfeat and dshift. */
static inline void ro_analytic(struct ro_ctx *c)
{
    nsid_params_zero_grad(&c->ps);
    for (int i = 0; i < c->nr; i++) {
        struct nsid_readout *r = &c->r[i];
        memset(c->dfeat[i], 0, sizeof(float) * (size_t)c->B * c->C * c->H * c->W);
        memset(c->dshift[i], 0, sizeof(float) * (size_t)c->B * 2);
        nsid_readout_forward(r, c->feat[i], c->B, c->training, NULL, c->z[i], c->use_shift ? c->shift[i] : NULL);
    }
    for (int i = 0; i < c->nr; i++) {
        nsid_readout_backward(&c->r[i], c->dfeat[i], c->use_shift ? c->dshift[i] : NULL, c->dout[i],
                              c->feat[i], c->B);
        nsid_readout_regularizer_backward(&c->r[i], 1.0);
    }
}

/*
 * After the readouts are initialised in c->ps: allocate the table, reset the
 * parameters (seeded), bind an arena and draw inputs. Returns 0 on success.
 */
static inline int ro_setup(struct ro_ctx *c, uint64_t seed)
{
    struct nsid_err err = {0};
    struct nsid_rng rng;
    nsid_rng_init(&rng, seed, 200);
    if (nsid_params_alloc(&c->ps, &err) < 0) { CHECK(0, "params alloc: %s", err.msg); return -1; }
    for (int i = 0; i < c->nr; i++) nsid_readout_reset_parameters(&c->r[i], &rng);
    nsid_alloc_arena_measure(&c->arena);
    for (int i = 0; i < c->nr; i++) nsid_readout_bind_state(&c->r[i], &c->arena, c->B, &err);
    size_t need = c->arena.used;
    if (nsid_alloc_arena_init(&c->arena, need, &err) < 0) { CHECK(0, "arena: %s", err.msg); return -1; }
    for (int i = 0; i < c->nr; i++)
        if (nsid_readout_bind_state(&c->r[i], &c->arena, c->B, &err) < 0) {
            CHECK(0, "bind: %s", err.msg);
            return -1;
        }
    CHECK(c->arena.used == need, "bind_state takes what the measuring pass counted (%zu bytes)", need);
    for (int i = 0; i < c->nr; i++) {
        int N = c->r[i].N;
        size_t nf = (size_t)c->B * c->C * c->H * c->W;
        c->feat[i] = malloc(sizeof(float) * nf);
        c->dfeat[i] = malloc(sizeof(float) * nf);
        c->z[i] = malloc(sizeof(float) * (size_t)c->B * N * 2);
        c->shift[i] = malloc(sizeof(float) * (size_t)c->B * 2);
        c->dshift[i] = malloc(sizeof(float) * (size_t)c->B * 2);
        c->dout[i] = malloc(sizeof(float) * (size_t)c->B * N);
        fill_normal(c->feat[i], nf, 1.0, &rng);
        fill_normal(c->z[i], (size_t)c->B * N * 2, 1.0, &rng);
        fill_uniform(c->shift[i], (size_t)c->B * 2, -0.15, 0.15, &rng);
        fill_normal(c->dout[i], (size_t)c->B * N, 1.0, &rng);
    }
    return 0;
}

/*
 * Replace the (tiny) initial values with ones of order one so that every
 * gradient matters: features N(0,1), S U(-0.4,0.4), free mu U(-0.8,0.8),
 * scales 1 + N(0,0.3^2), bias N(0,0.1^2), predictor weights N(0,0.5^2),
 * point-pooled grid U(-0.8,0.8), factorized mask N(0,1) (half projected away).
 */
static inline void ro_randomize(struct ro_ctx *c, uint64_t seed)
{
    struct nsid_rng rng;
    nsid_rng_init(&rng, seed, 201);
    for (int i = 0; i < c->ps.n; i++) {
        struct nsid_param *p = &c->ps.p[i];
        if (p->kind != NSID_PARAM_WEIGHT) continue;
        float *x = nsid_params_data(&c->ps, p);
        const char *dot = strrchr(p->name, '.');
        const char *leaf = dot ? dot + 1 : p->name;
        bool in_mlp = strstr(p->name, ".mu_transform.") != NULL;
        if (in_mlp) fill_normal(x, p->numel, strcmp(leaf, "weight") == 0 ? 0.5 : 0.05, &rng);
        else if (strcmp(leaf, "sigma") == 0) fill_uniform(x, p->numel, -0.4, 0.4, &rng);
        else if (strcmp(leaf, "_mu") == 0 || strcmp(leaf, "grid") == 0) fill_uniform(x, p->numel, -0.8, 0.8, &rng);
        else if (strcmp(leaf, "bias") == 0) fill_normal(x, p->numel, 0.1, &rng);
        else if (strcmp(leaf, "scales") == 0) {
            fill_normal(x, p->numel, 0.3, &rng);
            for (size_t k = 0; k < p->numel; k++) x[k] += 1.0f;
        } else fill_normal(x, p->numel, 1.0, &rng);
    }
}

static inline void ro_free(struct ro_ctx *c)
{
    for (int i = 0; i < c->nr; i++) {
        nsid_readout_free(&c->r[i]);
        free(c->feat[i]); free(c->dfeat[i]); free(c->z[i]); free(c->shift[i]); free(c->dshift[i]);
        free(c->dout[i]);
    }
    nsid_alloc_arena_free(&c->arena);
    nsid_params_free(&c->ps);
}

/* Finite-difference check of every parameter and of every readout's feat and shift input. */
static inline void ro_fd_all(struct ro_ctx *c, double eps, double atol, double rtol, const char *what)
{
    ro_analytic(c);
    printf("%s: finite differences over every parameter and input\n", what);
    fd_check_params(&c->ps, "", eps, atol, rtol, ro_loss, c);
    for (int i = 0; i < c->nr; i++) {
        char name[2 * NSID_PARAM_NAME_MAX + 64];
        snprintf(name, sizeof name, "%s: %s feature map", what, c->r[i].prefix);
        FD_CHECK(c->feat[i], c->dfeat[i], (size_t)c->B * c->C * c->H * c->W, 1e-1, atol, rtol, ro_loss, c, name);
        if (c->use_shift) {
            snprintf(name, sizeof name, "%s: %s shift", what, c->r[i].prefix);
            FD_CHECK(c->shift[i], c->dshift[i], (size_t)c->B * 2, eps, atol, rtol, ro_loss, c, name);
        }
    }
}

/* -------------------------------------------------------------- fixtures */

#define FX_ATOL 1e-5
#define FX_RTOL 1e-4

static inline hid_t fx_open(void)
{
    const char *path = check_fixture("readout_ref.h5");
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0, "open fixture %s", path);
    return f;
}

static inline bool fx_has(hid_t f, const char *path)
{
    return H5LTpath_valid(f, path, 1) > 0;
}

/* Read a dataset of exactly n elements (any numeric type) as float; 0 ok. */
static inline int fx_read(hid_t f, const char *path, float *dst, size_t n)
{
    int rank;
    hsize_t dims[8];
    if (!fx_has(f, path) || H5LTget_dataset_ndims(f, path, &rank) < 0 || rank > 8 ||
        H5LTget_dataset_info(f, path, dims, NULL, NULL) < 0) {
        CHECK(0, "fixture dataset %s missing", path);
        return -1;
    }
    size_t numel = 1;
    for (int i = 0; i < rank; i++) numel *= dims[i];
    if (numel != n) {
        CHECK(0, "fixture dataset %s has %zu elements, expected %zu", path, numel, n);
        return -1;
    }
    return H5LTread_dataset(f, path, H5T_NATIVE_FLOAT, dst) < 0 ? -1 : 0;
}

static inline double fx_scalar(hid_t f, const char *path)
{
    double v = NAN;
    if (H5LTread_dataset(f, path, H5T_NATIVE_DOUBLE, &v) < 0) CHECK(0, "fixture scalar %s", path);
    return v;
}

static inline int fx_read_double(hid_t f, const char *path, double *dst)
{
    return H5LTread_dataset(f, path, H5T_NATIVE_DOUBLE, dst);
}

static inline int fx_read_i64(hid_t f, const char *path, int64_t *dst)
{
    return H5LTread_dataset(f, path, H5T_NATIVE_INT64, dst);
}

/* Integer attribute array of an object (e.g. "dims"). */
static inline int fx_attr_ints(hid_t f, const char *obj, const char *name, int *dst)
{
    return H5LTget_attribute_int(f, obj, name, dst);
}

/* Compare n floats with a fixture dataset (abs 1e-5 + rel 1e-4). */
static inline void fx_compare(hid_t f, const char *path, const float *got, size_t n)
{
    float *want = malloc(sizeof(float) * n);
    if (want && fx_read(f, path, want, n) == 0) CHECK_ARRAYS(got, want, n, FX_ATOL, FX_RTOL, path);
    free(want);
}

/*
 * For every tensor of ps under c_prefix ("readout.a"): copy the fixture's
 * "<group>/<local name>" into it (what = NULL) after checking rank and shape
 * match PyTorch's, or compare it (what = "grad": the gradient, "after": the
 * data, "buffer": a buffer's data).
 */
static inline void fx_params(hid_t f, const char *group, struct nsid_params *ps, const char *c_prefix,
                             const char *what)
{
    size_t lp = strlen(c_prefix);
    for (int i = 0; i < ps->n; i++) {
        struct nsid_param *p = &ps->p[i];
        if (strncmp(p->name, c_prefix, lp) != 0 || p->name[lp] != '.') continue;
        bool buffer = p->kind == NSID_PARAM_BUFFER;
        if (what && strcmp(what, "buffer") == 0 ? !buffer : buffer) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", group, p->name + lp + 1);
        int rank = -1;
        hsize_t dims[8];
        if (!fx_has(f, path) || H5LTget_dataset_ndims(f, path, &rank) < 0 ||
            H5LTget_dataset_info(f, path, dims, NULL, NULL) < 0) {
            CHECK(0, "%s: no fixture tensor %s", p->name, path);
            continue;
        }
        bool same = rank == p->ndim;
        for (int d = 0; same && d < rank; d++) same = (int64_t)dims[d] == p->shape[d];
        CHECK(same, "%s has PyTorch's shape (%s)", p->name, path);
        if (!same) continue;
        float *data = nsid_params_data(ps, p);
        if (!what) fx_read(f, path, data, p->numel);
        else if (strcmp(what, "grad") == 0) fx_compare(f, path, ps->g + p->offset, p->numel);
        else fx_compare(f, path, data, p->numel);
    }
}

#endif
