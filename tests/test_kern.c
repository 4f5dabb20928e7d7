/*
 * test_kern.c - every kernel set this machine runs (generic, generic16 with
 * AVX-512's tiles, avx2, avx512) against scalar double references on shapes
 * that exercise the edge tiles (odd heights, widths and channel counts not
 * multiples of the tile, kernels 1..13, even kernels, skipped padding rows,
 * strided im2col-style inputs, accumulation); the vectorised ELU against
 * expm1f (ulp distance over [-100, 10], NaN); BatchNorm sums; and the
 * set selection's errors. Seed printed below.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/rng.h"
#include "check.h"
#include "nn/kern.h"

#define SEED 23u

static float *fbuf(size_t n)
{
    float *p = NSID_CALLOC(n * sizeof(float) + 64, &(struct nsid_err){0});
    NSID_ASSERT(p);
    return p;
}

static void fill(float *x, size_t n, struct nsid_rng *r)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)nsid_rng_normal(r);
}

/*
 * Largest |got - want| / (1e-6 + 1e-5 mag) over n, mag = the sum of |terms| that
 * made want (float summation error scales with it, not with |want|).
 */
static double worst(const float *got, const double *want, const double *mag, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (1e-6 + 1e-5 * mag[i]);
        if (!(e <= w)) w = e;  /* NaN counts as worst */
    }
    return w;
}

/* ---------------------------------------------------------------- depthwise */

/*
 * C channels (nb blocks) of an H x W map, K x K depthwise, padding pad: the padded
 * input holds zeros outside rows/cols [pad, pad + H) x [pad, pad + W).
 */
static void check_dw(const struct nsid_kern *k, int C, int H, int W, int K, int pad, struct nsid_rng *r)
{
    int vb = k->vb, nb = (C + vb - 1) / vb;
    int OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1;
    struct nsid_kdw d = {.nb = nb, .OH = OH, .OW = OW, .K = K, .Hp = OH + K - 1, .Wp = OW + K - 1,
                         .r0 = pad, .r1 = pad + H};
    size_t nin = (size_t)nb * d.Hp * d.Wp * vb, nout = (size_t)nb * OH * OW * vb, nw = (size_t)nb * K * K * vb;
    float *in = fbuf(nin), *out = fbuf(nout), *w = fbuf(nw), *dy = fbuf(nout), *dw = fbuf(nw);
    double *ref = calloc(nout > nw ? nout : nw, sizeof(double)), *mag = calloc(nout > nw ? nout : nw, sizeof(double));
    for (size_t i = 0; i < nw; i++) dw[i] = 0.5f;
    for (int c = 0; c < C; c++) {
        size_t b = (size_t)(c / vb), l = (size_t)(c % vb);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                in[((b * d.Hp + (size_t)(y + pad)) * d.Wp + (size_t)(x + pad)) * vb + l] = (float)nsid_rng_normal(r);
        for (int t = 0; t < K * K; t++) w[(b * K * K + (size_t)t) * vb + l] = (float)nsid_rng_normal(r);
        for (int t = 0; t < OH * OW; t++) dy[(b * OH * OW + (size_t)t) * vb + l] = (float)nsid_rng_normal(r);
    }
    k->dw_forward(out, in, w, &d);
    for (size_t b = 0; b < (size_t)nb; b++)
        for (int y = 0; y < OH; y++)
            for (int x = 0; x < OW; x++)
                for (int l = 0; l < vb; l++) {
                    double s = 0, m = 0;
                    for (int ky = 0; ky < K; ky++)
                        for (int kx = 0; kx < K; kx++) {
                            double t = (double)w[(b * K * K + (size_t)(ky * K + kx)) * vb + l] *
                                       (double)in[((b * d.Hp + (size_t)(y + ky)) * d.Wp + (size_t)(x + kx)) * vb + l];
                            s += t;
                            m += fabs(t);
                        }
                    ref[((b * OH + (size_t)y) * OW + (size_t)x) * vb + l] = s;
                    mag[((b * OH + (size_t)y) * OW + (size_t)x) * vb + l] = m;
                }
    double e = worst(out, ref, mag, nout);
    CHECK(e <= 1.0, "%s dw_forward C=%d %dx%d K=%d pad=%d: worst %.3g of abs/rel 1e-5", k->name, C, H, W, K, pad, e);
    k->dw_wgrad(dw, dy, in, &d);
    for (size_t b = 0; b < (size_t)nb; b++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++)
                for (int l = 0; l < vb; l++) {
                    double s = 0.5, m = 0.5;
                    for (int y = 0; y < OH; y++)
                        for (int x = 0; x < OW; x++) {
                            double t = (double)dy[((b * OH + (size_t)y) * OW + (size_t)x) * vb + l] *
                                       (double)in[((b * d.Hp + (size_t)(y + ky)) * d.Wp + (size_t)(x + kx)) * vb + l];
                            s += t;
                            m += fabs(t);
                        }
                    ref[((b * K + (size_t)ky) * K + (size_t)kx) * vb + l] = s;
                    mag[((b * K + (size_t)ky) * K + (size_t)kx) * vb + l] = m;
                }
    e = worst(dw, ref, mag, nw);
    CHECK(e <= 1.0, "%s dw_wgrad C=%d %dx%d K=%d pad=%d (+= onto 0.5): worst %.3g", k->name, C, H, W, K, pad, e);
    int pad_zero = 1;
    for (int c = C; c < nb * vb; c++)
        for (int t = 0; t < OH * OW; t++) pad_zero &= out[((size_t)(c / vb) * OH * OW + (size_t)t) * vb + c % vb] == 0.0f;
    CHECK(pad_zero, "%s dw_forward keeps padding lanes zero", k->name);
    nsid_alloc_free(in); nsid_alloc_free(out); nsid_alloc_free(w); nsid_alloc_free(dy); nsid_alloc_free(dw);
    free(ref);
    free(mag);
}

/* ---------------------------------------------------------------- pointwise */

/*
 * P pixels, Ci input channels, O outputs; blocked input (im2col = 0) or a
 * row-major (P, ci) matrix (im2col = 1); accumulate onto 0.25 or overwrite.
 */
static void check_pw(const struct nsid_kern *k, int P, int Ci, int O, int im2col, int acc, struct nsid_rng *r)
{
    int vb = k->vb, ci = (Ci + vb - 1) / vb * vb, nbo = (O + vb - 1) / vb;
    struct nsid_kpw d = {.P = P, .ci = ci, .nbo = nbo, .ldw = nbo * vb, .out_bs = (size_t)P * vb,
                         .out_ps = (size_t)vb, .accumulate = acc};
    d.in_bs = im2col ? (size_t)vb : (size_t)P * vb;
    d.in_ps = im2col ? (size_t)ci : (size_t)vb;
    size_t nin = (size_t)P * ci, nout = (size_t)P * nbo * vb, nw = (size_t)ci * nbo * vb;
    float *in = fbuf(nin), *out = fbuf(nout), *w = fbuf(nw), *dw = fbuf(nw);
    double *ref = calloc(nout > nw ? nout : nw, sizeof(double)), *mag = calloc(nout > nw ? nout : nw, sizeof(double));
    for (int p = 0; p < P; p++)
        for (int c = 0; c < Ci; c++) in[(size_t)(c / vb) * d.in_bs + (size_t)p * d.in_ps + c % vb] = (float)nsid_rng_normal(r);
    for (int c = 0; c < Ci; c++)
        for (int o = 0; o < O; o++) w[(size_t)c * d.ldw + o] = (float)nsid_rng_normal(r);
    for (size_t i = 0; i < nout; i++) out[i] = acc ? 0.25f : 99.0f;
    for (size_t i = 0; i < nw; i++) dw[i] = 0.5f;
    k->pw_forward(out, in, w, &d);
    for (int p = 0; p < P; p++)
        for (int o = 0; o < nbo * vb; o++) {
            double s = acc ? 0.25 : 0.0, m = s;
            for (int c = 0; c < ci; c++) {
                double t = (double)in[(size_t)(c / vb) * d.in_bs + (size_t)p * d.in_ps + c % vb] *
                           (double)w[(size_t)c * d.ldw + o];
                s += t;
                m += fabs(t);
            }
            ref[(size_t)(o / vb) * d.out_bs + (size_t)p * vb + o % vb] = s;
            mag[(size_t)(o / vb) * d.out_bs + (size_t)p * vb + o % vb] = m;
        }
    double e = worst(out, ref, mag, nout);
    CHECK(e <= 1.0, "%s pw_forward P=%d Ci=%d O=%d %s%s: worst %.3g", k->name, P, Ci, O,
          im2col ? "im2col input" : "blocked input", acc ? ", accumulating" : "", e);
    /* the output as the gradient: dw += in^T @ dy */
    k->pw_wgrad(dw, in, out, &d);
    for (int c = 0; c < ci; c++)
        for (int o = 0; o < nbo * vb; o++) {
            double s = 0.5, m = 0.5;
            for (int p = 0; p < P; p++) {
                double t = (double)in[(size_t)(c / vb) * d.in_bs + (size_t)p * d.in_ps + c % vb] *
                           (double)out[(size_t)(o / vb) * d.out_bs + (size_t)p * vb + o % vb];
                s += t;
                m += fabs(t);
            }
            ref[(size_t)c * d.ldw + o] = s;
            mag[(size_t)c * d.ldw + o] = m;
        }
    e = worst(dw, ref, mag, nw);
    CHECK(e <= 1.0, "%s pw_wgrad P=%d Ci=%d O=%d %s: worst %.3g", k->name, P, Ci, O,
          im2col ? "im2col input" : "blocked input", e);
    nsid_alloc_free(in); nsid_alloc_free(out); nsid_alloc_free(w); nsid_alloc_free(dw);
    free(ref);
    free(mag);
}

/*
 * The zero-bordered forms the core uses: pw_forward placing an H x W image inside a
 * (Hp, Wp) one (row_w, out_rs) and dw_wgrad reading dy from inside one (gbs, grs) must
 * give bit for bit the dense results, and pw_forward must leave the border alone.
 */
static void check_bordered(const struct nsid_kern *k, int H, int W, int Ci, int O, int top, int left, int Hp, int Wp,
                           struct nsid_rng *r)
{
    int vb = k->vb, ci = (Ci + vb - 1) / vb * vb, nbo = (O + vb - 1) / vb, P = H * W;
    struct nsid_kpw d = {.P = P, .ci = ci, .nbo = nbo, .ldw = nbo * vb, .in_bs = (size_t)P * vb,
                         .in_ps = (size_t)vb, .out_bs = (size_t)P * vb, .out_ps = (size_t)vb};
    struct nsid_kpw db = d;
    db.out_bs = (size_t)Hp * Wp * vb;
    db.row_w = W;
    db.out_rs = (size_t)Wp * vb;
    size_t nin = (size_t)P * ci, nout = (size_t)P * nbo * vb, nbig = (size_t)nbo * Hp * Wp * vb, nw = (size_t)ci * nbo * vb;
    float *in = fbuf(nin), *out = fbuf(nout), *big = fbuf(nbig), *w = fbuf(nw);
    fill(in, nin, r);
    fill(w, nw, r);
    for (size_t i = 0; i < nbig; i++) big[i] = 7.0f;
    k->pw_forward(out, in, w, &d);
    k->pw_forward(big + ((size_t)top * Wp + (size_t)left) * vb, in, w, &db);
    size_t diff = 0, border = 0;
    for (int b = 0; b < nbo; b++)
        for (int y = 0; y < Hp; y++)
            for (int x = 0; x < Wp; x++)
                for (int l = 0; l < vb; l++) {
                    float g = big[(((size_t)b * Hp + (size_t)y) * Wp + (size_t)x) * vb + (size_t)l];
                    if (y >= top && y < top + H && x >= left && x < left + W)
                        diff += memcmp(&g, &out[(((size_t)b * H + (size_t)(y - top)) * W + (size_t)(x - left)) * vb + (size_t)l],
                                       sizeof g) != 0;
                    else
                        border += g != 7.0f;
                }
    CHECK(diff == 0 && border == 0, "%s pw_forward %dx%d into a %dx%d border at (%d, %d): %zu interior elements differ "
          "from the dense product, %zu border elements written", k->name, H, W, Hp, Wp, top, left, diff, border);
    /* dw_wgrad: the dense output as dy, once dense and once inside the bordered buffer */
    int K = 3, nb = nbo;
    struct nsid_kdw dk = {.nb = nb, .OH = H, .OW = W, .K = K, .Hp = H + K - 1, .Wp = W + K - 1, .r0 = 1, .r1 = 1 + H};
    size_t nx = (size_t)nb * dk.Hp * dk.Wp * vb, nk = (size_t)nb * K * K * vb;
    float *x = fbuf(nx), *g1 = fbuf(nk), *g2 = fbuf(nk);
    fill(x, nx, r);
    for (size_t i = 0; i < nk; i++) g1[i] = g2[i] = 0.5f;
    k->dw_wgrad(g1, out, x, &dk);
    struct nsid_kdw ds = dk;
    ds.gbs = (size_t)Hp * Wp * vb;
    ds.grs = (size_t)Wp * vb;
    k->dw_wgrad(g2, big + ((size_t)top * Wp + (size_t)left) * vb, x, &ds);
    CHECK(memcmp(g1, g2, nk * sizeof(float)) == 0, "%s dw_wgrad with dy inside a %dx%d border equals the dense dy's",
          k->name, Hp, Wp);
    nsid_alloc_free(in); nsid_alloc_free(out); nsid_alloc_free(big); nsid_alloc_free(w);
    nsid_alloc_free(x); nsid_alloc_free(g1); nsid_alloc_free(g2);
}

/* ------------------------------------------------------------ BN and ELU */

/* ulp distance of two finite floats of the same sign region */
static double ulps(float a, float b)
{
    if (a == b) return 0;
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    if (ia < 0) ia = INT32_MIN - ia;
    if (ib < 0) ib = INT32_MIN - ib;
    return fabs((double)ia - (double)ib);
}

static void check_elu(const struct nsid_kern *k)
{
    int vb = k->vb, n = 200000;
    int P = n / vb;
    float *x = fbuf((size_t)P * vb), *y = fbuf((size_t)P * vb), *one = fbuf((size_t)vb), *zero = fbuf((size_t)vb);
    for (int l = 0; l < vb; l++) one[l] = 1.0f;
    for (int i = 0; i < P * vb; i++) x[i] = -100.0f + 110.0f * (float)i / (float)(P * vb);
    x[7] = -0.0f;
    x[8] = 1e-30f;
    x[9] = -1e-30f;
    x[10] = -1e-7f;
    k->bn_elu(y, x, one, zero, 1, P);
    double wu = 0;
    float wx = 0;
    int pos_exact = 1;
    for (int i = 0; i < P * vb; i++) {
        float want = x[i] > 0 ? x[i] : expm1f(x[i]);
        double u = ulps(y[i], want);
        if (u > wu) { wu = u; wx = x[i]; }
        if (x[i] > 0) pos_exact &= y[i] == x[i];
    }
    CHECK(wu <= 2, "%s ELU within 2 ulp of expm1f on [-100, 10]: worst %.0f ulp at %g", k->name, wu, (double)wx);
    CHECK(pos_exact, "%s ELU is the identity for x > 0", k->name);
    for (int l = 0; l < vb; l++) x[l] = l % 2 ? NAN : -3.0f;
    k->bn_elu(y, x, one, zero, 1, 1);
    CHECK(isnan(y[1]) && !isnan(y[0]), "%s ELU propagates NaN", k->name);
    nsid_alloc_free(x); nsid_alloc_free(y); nsid_alloc_free(one); nsid_alloc_free(zero);
}

static void check_bn(const struct nsid_kern *k, int C, int P, struct nsid_rng *r)
{
    int vb = k->vb, nb = (C + vb - 1) / vb, nc = nb * vb;
    size_t n = (size_t)nb * P * vb;
    float *pre = fbuf(n), *act = fbuf(n), *dact = fbuf(n), *dpre = fbuf(n), *dbn = fbuf(n);
    float *sc = fbuf((size_t)nc), *sh = fbuf((size_t)nc), *m = fbuf((size_t)nc), *rs = fbuf((size_t)nc);
    float *gr = fbuf((size_t)nc), *a = fbuf((size_t)nc), *b = fbuf((size_t)nc);
    double *mean = calloc((size_t)nc, sizeof(double)), *m2 = calloc((size_t)nc, sizeof(double));
    double *sdy = calloc((size_t)nc, sizeof(double)), *sdyx = calloc((size_t)nc, sizeof(double));
    fill(pre, n, r);
    fill(dact, n, r);
    for (int c = 0; c < C; c++) {
        sc[c] = 1.5f; sh[c] = 0.2f; m[c] = 0.1f; rs[c] = 0.9f; gr[c] = 1.3f; a[c] = 0.05f; b[c] = -0.2f;
    }
    k->bn_stats(mean, m2, pre, nb, P);
    k->bn_elu(act, pre, sc, sh, nb, P);
    k->bn_bwd_sums(sdy, sdyx, dbn, dact, act, pre, m, rs, nb, P);
    k->bn_bwd_apply(dpre, dbn, pre, m, rs, gr, a, b, nb, P);
    int ok = 1;
    size_t bad = 0;
    for (int c = 0; c < nc; c++) {
        size_t cb = (size_t)(c / vb), l = (size_t)(c % vb);
        double s = 0, q = 0, s1 = 0, s2 = 0;
        for (int p = 0; p < P; p++) s += (double)pre[(cb * P + (size_t)p) * vb + l];
        double mu = s / P;
        for (int p = 0; p < P; p++) {
            size_t i = (cb * P + (size_t)p) * vb + l;
            double t = (double)pre[i] - mu;
            q += t * t;
            float z = pre[i] * sc[c] + sh[c];
            float y = z > 0 ? z : expm1f(z);
            float g = y > 0 ? dact[i] : dact[i] * (y + 1.0f);
            float xh = (pre[i] - m[c]) * rs[c];
            s1 += (double)g;
            s2 += (double)g * (double)xh;
            double want = (double)gr[c] * ((double)g - (double)a[c] - (double)xh * (double)b[c]);
            bad += !(fabs((double)dpre[i] - want) <= 1e-5 + 1e-5 * fabs(want));
            bad += !(fabs((double)dbn[i] - (double)g) <= 1e-6 + 1e-6 * fabs((double)g));
        }
        ok &= fabs(mean[c] - mu) <= 1e-12 + 1e-12 * fabs(mu) && fabs(m2[c] - q) <= 1e-9 * (1 + q);
        ok &= fabs(sdy[c] - s1) <= 1e-5 * (1 + fabs(s1)) && fabs(sdyx[c] - s2) <= 1e-5 * (1 + fabs(s2));
    }
    CHECK(ok, "%s bn_stats / bn_bwd_sums C=%d P=%d match double references", k->name, C, P);
    CHECK(bad == 0, "%s bn_bwd_sums dbn / bn_bwd_apply C=%d P=%d: %zu elements off", k->name, C, P, bad);
    nsid_alloc_free(pre); nsid_alloc_free(act); nsid_alloc_free(dact); nsid_alloc_free(dpre); nsid_alloc_free(dbn); nsid_alloc_free(sc); nsid_alloc_free(sh);
    nsid_alloc_free(m); nsid_alloc_free(rs); nsid_alloc_free(gr); nsid_alloc_free(a); nsid_alloc_free(b);
    free(mean); free(m2); free(sdy); free(sdyx);
}

static void check_set(const struct nsid_kern *k, struct nsid_rng *r)
{
    printf("kernel set %s (vb %d)\n", k->name, k->vb);
    static const int dw_cases[][5] = {
        /* C, H, W, K, pad */
        {64, 22, 50, 13, 6}, {3, 7, 8, 3, 1}, {20, 9, 11, 5, 2}, {5, 6, 7, 4, 2}, {17, 5, 23, 1, 0},
        {8, 13, 3, 13, 6}, {9, 30, 17, 7, 0}, {4, 1, 1, 3, 1},
    };
    for (size_t i = 0; i < sizeof dw_cases / sizeof dw_cases[0]; i++) {
        const int *c = dw_cases[i];
        check_dw(k, c[0], c[1], c[2], c[3], c[4], r);
    }
    static const int pw_cases[][5] = {
        /* P, Ci, O, im2col, accumulate */
        {1100, 64, 64, 0, 0}, {37, 3, 5, 0, 1}, {23, 17, 40, 0, 0}, {100, 225, 64, 1, 0}, {13, 9, 3, 1, 1},
        {1, 1, 1, 0, 0}, {70, 64, 100, 0, 1},
    };
    for (size_t i = 0; i < sizeof pw_cases / sizeof pw_cases[0]; i++) {
        const int *c = pw_cases[i];
        check_pw(k, c[0], c[1], c[2], c[3], c[4], r);
    }
    static const int bordered_cases[][8] = {
        /* H, W, Ci, O, top, left, Hp, Wp: the core's 13x13 "same" border; rows not a multiple of the
           tile's pixels; a one-pixel image; an off-centre border */
        {22, 50, 64, 64, 6, 6, 34, 62}, {5, 7, 20, 17, 2, 3, 9, 12}, {1, 1, 3, 5, 1, 1, 3, 3}, {4, 13, 16, 16, 0, 2, 6, 16},
    };
    for (size_t i = 0; i < sizeof bordered_cases / sizeof bordered_cases[0]; i++) {
        const int *c = bordered_cases[i];
        check_bordered(k, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], r);
    }
    check_elu(k);
    check_bn(k, 64, 1100, r);
    check_bn(k, 5, 13, r);
}

int main(void)
{
    printf("test_kern: seed %u\n", SEED);
    struct nsid_rng r;
    nsid_rng_init(&r, SEED, 0);
    static const char *names[] = {"generic", "generic16", "avx2", "avx512"};
    int ran = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!nsid_kern_available(names[i])) {
            printf("kernel set %s: not supported here, skipped\n", names[i]);
            continue;
        }
        struct nsid_err err = {0};
        const struct nsid_kern *k = nsid_kern_select(names[i], &err);
        CHECK(k && strcmp(k->name, names[i]) == 0, "select %s: %s", names[i], err.msg);
        if (k) check_set(k, &r);
        ran++;
    }
    CHECK(ran >= 2, "at least the two portable sets ran (%d sets)", ran);
    struct nsid_err err = {0};
    const struct nsid_kern *best = nsid_kern_select("auto", &err);
    CHECK(best != NULL, "auto selects a set (%s)", best ? best->name : "none");
    CHECK(nsid_kern_select("sse9", &err) == NULL && err.code == NSID_EINVAL && strcmp(err.key, "NSID_ISA") == 0 &&
          strstr(err.msg, "sse9"), "an unknown set is an error naming NSID_ISA: %s", err.msg);
    if (!nsid_kern_available("avx512")) {
        CHECK(nsid_kern_select("avx512", &err) == NULL && strstr(err.msg, "not supported"),
              "asking for an unsupported set fails: %s", err.msg);
    }
    return check_summary("kern");
}
