/*
 * sim_bank.c - the shared ground-truth feature bank of the simulated cortex.
 *
 * Per image: contrast c = (I - 113) / 64, an image pyramid (3 levels, [1 3 3 1]
 * binomial, factor 2), and on every level the same bank:
 *
 *   1. quadrature Gabor pairs at 8 directions (sd 1.6 px, wavelength 4 px of
 *      that level, so 4, 8, 16 image px), zero-DC, each filter unit-L2; computed
 *      as a separable complex filter (Gaussian envelope times e^{ik.u} factors
 *      per axis) plus a Gaussian-blur DC correction
 *   2. divisive normalisation: N = semi_sat + pool, where pool is the
 *      orientation-mean energy blurred by a 5-tap binomial in space
 *   3. channels: simple = [+-even]^2/N and [+-odd]^2/N (4 phases), complex =
 *      (even^2 + odd^2)/N, ON/OFF = [+-dog]^2/N with a unit-L2 centre-surround
 *   4. second stage: surround = complex / (1 + gain * blur(complex)) with a wide
 *      (sd ~2 level px) same-orientation pool; cross = sqrt(complex_o *
 *      complex_{o+90deg})
 *
 * Planes are padded with NSID_SIM_HALO zeros so convolutions need no bounds
 * checks (zero padding = a grey screen outside the image). Widths are
 * multiples of 8 on every level, so the inner loops run in blocks of 8 that
 * the compiler vectorises.
 */
#include "sim_int.h"

#include <math.h>
#include <string.h>

#include "base/alloc.h"

#define V 8                  /* inner-loop block */
#define GABOR_SIGMA 1.6      /* envelope sd, level px */
#define GABOR_LAMBDA 4.0     /* wavelength, level px */
#define CONTRAST_MEAN 113.0f /* grey level of zero contrast */
#define CONTRAST_SCALE 64.0f

struct geom {
    int h, w, stride;
};

static const float BINOM5[5] = {1.0f / 16, 4.0f / 16, 6.0f / 16, 4.0f / 16, 1.0f / 16};
static const float BINOM9[9] = {1.0f / 256, 8.0f / 256, 28.0f / 256, 56.0f / 256, 70.0f / 256,
                                56.0f / 256, 28.0f / 256, 8.0f / 256, 1.0f / 256};
static const float BOX5[5] = {0.2f, 0.2f, 0.2f, 0.2f, 0.2f};

/*
 * Measured on dead-leaves images (median of the pool and of the surround
 * blur of the normalised energy per level): normalisation sits at its
 * half-saturation for a typical patch.
 */
static const float SEMI_SAT[NSID_SIM_SCALES] = {0.30f, 0.30f, 0.22f};
static const float SURROUND_GAIN[NSID_SIM_SCALES] = {3.0f, 3.0f, 3.0f};

/* Plane geometry of level s. */
static struct geom geom_of(const struct nsid_sim_bank *b, int s)
{
    return (struct geom){b->h[s], b->w[s], b->stride[s]};
}

/* ---- convolutions on padded planes ----------------------------------------- */

/* out = in correlated with k along x (taps odd, centre taps/2), interior only. */
static void conv_h(float *restrict out, const float *restrict in, const float *k, int taps, struct geom g)
{
    int r = taps / 2;
    for (int y = 0; y < g.h; y++) {
        float *o = out + (size_t)y * (size_t)g.stride;
        const float *row = in + (size_t)y * (size_t)g.stride - r;
        memset(o, 0, sizeof(float) * (size_t)g.w);
        for (int u = 0; u < taps; u++) {
            float ku = k[u];
            const float *src = row + u;
            for (int x = 0; x < g.w; x += V)
                for (int j = 0; j < V; j++) o[x + j] += ku * src[x + j];
        }
    }
}

/* out = in correlated with k along y, interior only. */
static void conv_v(float *restrict out, const float *restrict in, const float *k, int taps, struct geom g)
{
    int r = taps / 2;
    for (int y = 0; y < g.h; y++) {
        float *o = out + (size_t)y * (size_t)g.stride;
        memset(o, 0, sizeof(float) * (size_t)g.w);
        for (int v = 0; v < taps; v++) {
            float kv = k[v];
            const float *src = in + (ptrdiff_t)(y + v - r) * g.stride;
            for (int x = 0; x < g.w; x += V)
                for (int j = 0; j < V; j++) o[x + j] += kv * src[x + j];
        }
    }
}

/* hr, hi = in correlated with kc, ks along x (two filters in one pass). */
static void conv_h2(float *restrict hr, float *restrict hi, const float *restrict in,
                    const float *kc, const float *ks, struct geom g)
{
    int r = NSID_SIM_TAPS / 2;
    for (int y = 0; y < g.h; y++) {
        float *orr = hr + (size_t)y * (size_t)g.stride, *oi = hi + (size_t)y * (size_t)g.stride;
        const float *row = in + (size_t)y * (size_t)g.stride - r;
        memset(orr, 0, sizeof(float) * (size_t)g.w);
        memset(oi, 0, sizeof(float) * (size_t)g.w);
        for (int u = 0; u < NSID_SIM_TAPS; u++) {
            float c = kc[u], s = ks[u];
            const float *src = row + u;
            for (int x = 0; x < g.w; x += V)
                for (int j = 0; j < V; j++) {
                    orr[x + j] += c * src[x + j];
                    oi[x + j] += s * src[x + j];
                }
        }
    }
}

/* (er + i ei) = (hr + i hi) correlated with (kc + i ks) along y; er, ei unpadded (h, w). */
static void conv_v_complex(float *restrict er, float *restrict ei, const float *restrict hr,
                           const float *restrict hi, const float *kc, const float *ks, struct geom g)
{
    int r = NSID_SIM_TAPS / 2;
    for (int y = 0; y < g.h; y++) {
        float *o_r = er + (size_t)y * (size_t)g.w, *o_i = ei + (size_t)y * (size_t)g.w;
        memset(o_r, 0, sizeof(float) * (size_t)g.w);
        memset(o_i, 0, sizeof(float) * (size_t)g.w);
        for (int v = 0; v < NSID_SIM_TAPS; v++) {
            float c = kc[v], s = ks[v];
            const float *a = hr + (ptrdiff_t)(y + v - r) * g.stride;
            const float *b = hi + (ptrdiff_t)(y + v - r) * g.stride;
            for (int x = 0; x < g.w; x += V)
                for (int j = 0; j < V; j++) {
                    o_r[x + j] += c * a[x + j] - s * b[x + j];
                    o_i[x + j] += s * a[x + j] + c * b[x + j];
                }
        }
    }
}

/*
 * dst (level s+1) = src (level s) blurred by [1 3 3 1]/8 and decimated by 2,
 * so that dst pixel i is centred on src position 2i + 0.5. tmp is a padded
 * plane of level s (its zero halo rows give the zero padding in y).
 */
static void pyr_down(float *dst, struct geom gd, const float *src, struct geom gs, float *tmp)
{
    static const float k4[4] = {0.125f, 0.375f, 0.375f, 0.125f};
    for (int y = 0; y < gs.h; y++) {
        const float *row = src + (size_t)y * (size_t)gs.stride;
        float *t = tmp + (size_t)y * (size_t)gs.stride;
        for (int j = 0; j < gd.w; j++) {
            const float *p = row + 2 * j - 1;
            t[j] = k4[0] * p[0] + k4[1] * p[1] + k4[2] * p[2] + k4[3] * p[3];
        }
    }
    for (int i = 0; i < gd.h; i++) {
        float *o = dst + (size_t)i * (size_t)gd.stride;
        const float *p0 = tmp + (ptrdiff_t)(2 * i - 1) * gs.stride;
        for (int j = 0; j < gd.w; j++)
            o[j] = k4[0] * p0[j] + k4[1] * p0[j + gs.stride] + k4[2] * p0[j + 2 * gs.stride] +
                   k4[3] * p0[j + 3 * gs.stride];
    }
}

/* ---- setup ------------------------------------------------------------------- */

/* Sum of squares of the 2-D filter env(u)env(v)(cos or sin)(kx u + ky v) - dc env env. */
static void gabor_norms(struct nsid_sim_bank *b, int o, double kx, double ky)
{
    int r = NSID_SIM_TAPS / 2;
    double se = 0, so = 0, sc = 0, sg = 0;
    for (int v = -r; v <= r; v++)
        for (int u = -r; u <= r; u++) {
            double g = (double)b->env[u + r] * (double)b->env[v + r];
            sc += g * cos(kx * u + ky * v);
            sg += g;
        }
    double dc = sc / sg; /* makes the even filter sum to exactly zero */
    for (int v = -r; v <= r; v++)
        for (int u = -r; u <= r; u++) {
            double g = (double)b->env[u + r] * (double)b->env[v + r];
            double e = g * (cos(kx * u + ky * v) - dc), d = g * sin(kx * u + ky * v);
            se += e * e;
            so += d * d;
        }
    b->dc[o] = (float)dc;
    b->norm_even[o] = (float)(1.0 / sqrt(se));
    b->norm_odd[o] = (float)(1.0 / sqrt(so));
}

/* 1 / L2 norm of the centre-surround delta - binom9 (x) binom9. */
static float dog_norm(void)
{
    double s = 0;
    for (int v = 0; v < 9; v++)
        for (int u = 0; u < 9; u++) {
            double k = (u == 4 && v == 4 ? 1.0 : 0.0) - (double)BINOM9[u] * (double)BINOM9[v];
            s += k * k;
        }
    return (float)(1.0 / sqrt(s));
}

int nsid_sim_bank_init(struct nsid_sim_bank *b, int height, int width, struct nsid_err *err)
{
    memset(b, 0, sizeof *b);
    if (height < 16 || height % 4 != 0 || width < 32 || width % 32 != 0)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "image.height",
                            "feature bank needs height %% 4 == 0 (>= 16) and width %% 32 == 0 "
                            "(>= 32), got %d x %d", height, width);
    b->height = height;
    b->width = width;
    for (int s = 0; s < NSID_SIM_SCALES; s++) {
        b->h[s] = height >> s;
        b->w[s] = width >> s;
        b->stride[s] = b->w[s] + 2 * NSID_SIM_HALO;
        b->plane_floats[s] = (size_t)(b->h[s] + 2 * NSID_SIM_HALO) * (size_t)b->stride[s];
        b->semi_sat[s] = SEMI_SAT[s];
        b->surround_gain[s] = SURROUND_GAIN[s];
        b->sigma_px[s] = (float)(GABOR_SIGMA * (1 << s));
    }
    int r = NSID_SIM_TAPS / 2;
    for (int u = -r; u <= r; u++)
        b->env[u + r] = (float)exp(-(double)(u * u) / (2.0 * GABOR_SIGMA * GABOR_SIGMA));
    double k = 2.0 * M_PI / GABOR_LAMBDA;
    for (int o = 0; o < NSID_SIM_ORIENTATIONS; o++) {
        double th = M_PI * o / NSID_SIM_ORIENTATIONS;
        double kx = k * cos(th), ky = k * sin(th);
        for (int u = -r; u <= r; u++) {
            b->gabor_c[o][0][u + r] = (float)((double)b->env[u + r] * cos(kx * u));
            b->gabor_s[o][0][u + r] = (float)((double)b->env[u + r] * sin(kx * u));
            b->gabor_c[o][1][u + r] = (float)((double)b->env[u + r] * cos(ky * u));
            b->gabor_s[o][1][u + r] = (float)((double)b->env[u + r] * sin(ky * u));
        }
        gabor_norms(b, o, kx, ky);
    }
    b->dog_norm = dog_norm();
    return 0;
}

int nsid_sim_bank_work_init(struct nsid_sim_bank_work *w, const struct nsid_sim_bank *b,
                            struct nsid_err *err)
{
    memset(w, 0, sizeof *w);
    size_t total = 0;
    for (int s = 0; s < NSID_SIM_SCALES; s++)
        total += b->plane_floats[s] * NSID_SIM_PL_COUNT +
                 (size_t)b->h[s] * (size_t)b->w[s] * NSID_SIM_CH_PER_SCALE;
    size_t resp = (size_t)NSID_SIM_ORIENTATIONS * (size_t)b->h[0] * (size_t)b->w[0];
    total += 2 * resp;
    /* Zeroed once: plane halos are never written, so they stay zero. */
    w->block = NSID_CALLOC(total * sizeof(float), err);
    if (!w->block) return err->code;
    float *p = w->block;
    for (int s = 0; s < NSID_SIM_SCALES; s++) {
        for (int k = 0; k < NSID_SIM_PL_COUNT; k++) {
            w->plane[s][k] = p + (size_t)NSID_SIM_HALO * (size_t)b->stride[s] + NSID_SIM_HALO;
            p += b->plane_floats[s];
        }
        w->maps[s] = p;
        p += (size_t)b->h[s] * (size_t)b->w[s] * NSID_SIM_CH_PER_SCALE;
    }
    w->er = p;
    w->ei = p + resp;
    return 0;
}

void nsid_sim_bank_work_free(struct nsid_sim_bank_work *w)
{
    if (!w) return;
    nsid_alloc_free(w->block);
    memset(w, 0, sizeof *w);
}

/* ---- forward ----------------------------------------------------------------- */

/* Quadrature responses of every orientation into w->er/ei; their energy sum into PL_B. */
static void gabor_level(struct nsid_sim_bank_work *w, const struct nsid_sim_bank *b, int s)
{
    struct geom g = geom_of(b, s);
    float **pl = w->plane[s];
    size_t n = (size_t)g.h * (size_t)g.w;
    conv_h(pl[NSID_SIM_PL_A], pl[NSID_SIM_PL_PYR], b->env, NSID_SIM_TAPS, g);
    conv_v(pl[NSID_SIM_PL_ENV], pl[NSID_SIM_PL_A], b->env, NSID_SIM_TAPS, g);
    float *esum = pl[NSID_SIM_PL_B];
    for (int y = 0; y < g.h; y++) memset(esum + (size_t)y * (size_t)g.stride, 0, sizeof(float) * (size_t)g.w);
    for (int o = 0; o < NSID_SIM_ORIENTATIONS; o++) {
        float *er = w->er + (size_t)o * n, *ei = w->ei + (size_t)o * n;
        conv_h2(pl[NSID_SIM_PL_HR], pl[NSID_SIM_PL_HI], pl[NSID_SIM_PL_PYR], b->gabor_c[o][0],
                b->gabor_s[o][0], g);
        conv_v_complex(er, ei, pl[NSID_SIM_PL_HR], pl[NSID_SIM_PL_HI], b->gabor_c[o][1],
                       b->gabor_s[o][1], g);
        float dc = b->dc[o], ne = b->norm_even[o], no = b->norm_odd[o];
        for (int y = 0; y < g.h; y++) {
            const float *env = pl[NSID_SIM_PL_ENV] + (size_t)y * (size_t)g.stride;
            float *es = esum + (size_t)y * (size_t)g.stride;
            float *rr = er + (size_t)y * (size_t)g.w, *ri = ei + (size_t)y * (size_t)g.w;
            for (int x = 0; x < g.w; x += V)
                for (int j = 0; j < V; j++) {
                    float e = (rr[x + j] - dc * env[x + j]) * ne, d = ri[x + j] * no;
                    rr[x + j] = e;
                    ri[x + j] = d;
                    es[x + j] += e * e + d * d;
                }
        }
    }
}

/* PL_POOL = binomial blur of the orientation-mean energy (PL_B); PL_C = unit-L2 centre-surround. */
static void pool_and_dog(struct nsid_sim_bank_work *w, const struct nsid_sim_bank *b, int s)
{
    struct geom g = geom_of(b, s);
    float **pl = w->plane[s];
    float inv = 1.0f / NSID_SIM_ORIENTATIONS;
    conv_h(pl[NSID_SIM_PL_A], pl[NSID_SIM_PL_B], BINOM5, 5, g);
    conv_v(pl[NSID_SIM_PL_POOL], pl[NSID_SIM_PL_A], BINOM5, 5, g);
    conv_h(pl[NSID_SIM_PL_A], pl[NSID_SIM_PL_PYR], BINOM9, 9, g);
    conv_v(pl[NSID_SIM_PL_C], pl[NSID_SIM_PL_A], BINOM9, 9, g);
    for (int y = 0; y < g.h; y++) {
        float *pool = pl[NSID_SIM_PL_POOL] + (size_t)y * (size_t)g.stride;
        float *dog = pl[NSID_SIM_PL_C] + (size_t)y * (size_t)g.stride;
        const float *c = pl[NSID_SIM_PL_PYR] + (size_t)y * (size_t)g.stride;
        for (int x = 0; x < g.w; x++) {
            pool[x] = b->semi_sat[s] + inv * pool[x];
            dog[x] = (c[x] - dog[x]) * b->dog_norm;
        }
    }
}

/* Half-wave rectified square. */
static float pos2(float v)
{
    return v > 0.0f ? v * v : 0.0f;
}

/* First-stage channels (simple, complex, ON/OFF) of level s into its map. */
static void first_stage(struct nsid_sim_bank_work *w, const struct nsid_sim_bank *b, int s)
{
    struct geom g = geom_of(b, s);
    size_t n = (size_t)g.h * (size_t)g.w;
    for (int y = 0; y < g.h; y++) {
        const float *norm = w->plane[s][NSID_SIM_PL_POOL] + (size_t)y * (size_t)g.stride;
        const float *dog = w->plane[s][NSID_SIM_PL_C] + (size_t)y * (size_t)g.stride;
        for (int x = 0; x < g.w; x++) {
            size_t i = (size_t)y * (size_t)g.w + (size_t)x;
            float *m = w->maps[s] + i * NSID_SIM_CH_PER_SCALE;
            float inv = 1.0f / norm[x];
            for (int o = 0; o < NSID_SIM_ORIENTATIONS; o++) {
                float e = w->er[(size_t)o * n + i], d = w->ei[(size_t)o * n + i];
                m[NSID_SIM_CH_SIMPLE(o, 0)] = pos2(e) * inv;
                m[NSID_SIM_CH_SIMPLE(o, 1)] = pos2(d) * inv;
                m[NSID_SIM_CH_SIMPLE(o, 2)] = pos2(-e) * inv;
                m[NSID_SIM_CH_SIMPLE(o, 3)] = pos2(-d) * inv;
                m[NSID_SIM_CH_COMPLEX(o)] = (e * e + d * d) * inv;
            }
            m[NSID_SIM_CH_ON] = pos2(dog[x]) * inv;
            m[NSID_SIM_CH_OFF] = pos2(-dog[x]) * inv;
        }
    }
}

/* Second stage: surround-suppressed and cross-orientation channels of level s. */
static void second_stage(struct nsid_sim_bank_work *w, const struct nsid_sim_bank *b, int s)
{
    struct geom g = geom_of(b, s);
    float **pl = w->plane[s];
    float gain = b->surround_gain[s];
    for (int o = 0; o < NSID_SIM_ORIENTATIONS; o++) {
        for (int y = 0; y < g.h; y++) {
            float *a = pl[NSID_SIM_PL_A] + (size_t)y * (size_t)g.stride;
            const float *m = w->maps[s] + (size_t)y * (size_t)g.w * NSID_SIM_CH_PER_SCALE;
            for (int x = 0; x < g.w; x++) a[x] = m[(size_t)x * NSID_SIM_CH_PER_SCALE + NSID_SIM_CH_COMPLEX(o)];
        }
        /* Two box passes per axis: a wide (sd ~2 level px) iso-orientation pool. */
        conv_h(pl[NSID_SIM_PL_B], pl[NSID_SIM_PL_A], BOX5, 5, g);
        conv_v(pl[NSID_SIM_PL_HR], pl[NSID_SIM_PL_B], BOX5, 5, g);
        conv_h(pl[NSID_SIM_PL_B], pl[NSID_SIM_PL_HR], BOX5, 5, g);
        conv_v(pl[NSID_SIM_PL_HR], pl[NSID_SIM_PL_B], BOX5, 5, g);
        for (int y = 0; y < g.h; y++) {
            const float *sur = pl[NSID_SIM_PL_HR] + (size_t)y * (size_t)g.stride;
            float *m = w->maps[s] + (size_t)y * (size_t)g.w * NSID_SIM_CH_PER_SCALE;
            for (int x = 0; x < g.w; x++) {
                float *mx = m + (size_t)x * NSID_SIM_CH_PER_SCALE;
                mx[NSID_SIM_CH_SURROUND(o)] = mx[NSID_SIM_CH_COMPLEX(o)] / (1.0f + gain * sur[x]);
            }
        }
    }
    size_t n = (size_t)g.h * (size_t)g.w;
    for (size_t i = 0; i < n; i++) {
        float *m = w->maps[s] + i * NSID_SIM_CH_PER_SCALE;
        for (int o = 0; o < NSID_SIM_ORIENTATIONS / 2; o++)
            m[NSID_SIM_CH_CROSS(o)] = sqrtf(m[NSID_SIM_CH_COMPLEX(o)] *
                                            m[NSID_SIM_CH_COMPLEX(o + NSID_SIM_ORIENTATIONS / 2)]);
    }
}

void nsid_sim_bank_forward(struct nsid_sim_bank_work *w, const struct nsid_sim_bank *b,
                           const float *image)
{
    struct geom g0 = geom_of(b, 0);
    float *pyr0 = w->plane[0][NSID_SIM_PL_PYR];
    for (int y = 0; y < g0.h; y++)
        for (int x = 0; x < g0.w; x++)
            pyr0[(size_t)y * (size_t)g0.stride + (size_t)x] =
                (image[(size_t)y * (size_t)g0.w + (size_t)x] - CONTRAST_MEAN) / CONTRAST_SCALE;
    for (int s = 0; s + 1 < NSID_SIM_SCALES; s++)
        pyr_down(w->plane[s + 1][NSID_SIM_PL_PYR], geom_of(b, s + 1), w->plane[s][NSID_SIM_PL_PYR],
                 geom_of(b, s), w->plane[s][NSID_SIM_PL_A]);
    for (int s = 0; s < NSID_SIM_SCALES; s++) {
        gabor_level(w, b, s);
        pool_and_dog(w, b, s);
        first_stage(w, b, s);
        second_stage(w, b, s);
    }
}

/* ---- reading ------------------------------------------------------------------ */

double nsid_sim_bank_read(const struct nsid_sim_bank *b, const struct nsid_sim_bank_work *w,
                          int ch, double x, double y)
{
    int s = ch / NSID_SIM_CH_PER_SCALE, c = ch % NSID_SIM_CH_PER_SCALE;
    double f = (double)(1 << s);
    double fx = (x + 0.5) / f - 0.5, fy = (y + 0.5) / f - 0.5;
    int x0 = (int)floor(fx), y0 = (int)floor(fy);
    double ax = fx - x0, ay = fy - y0;
    double v = 0;
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 2; i++) {
            int xx = x0 + i, yy = y0 + j;
            if (xx < 0 || yy < 0 || xx >= b->w[s] || yy >= b->h[s]) continue;
            double wt = (i ? ax : 1 - ax) * (j ? ay : 1 - ay);
            v += wt * (double)w->maps[s][((size_t)yy * (size_t)b->w[s] + (size_t)xx) * NSID_SIM_CH_PER_SCALE + (size_t)c];
        }
    return v;
}

void nsid_sim_bank_channel_name(int ch, char *buf, size_t n)
{
    static const char *phase[4] = {"even+", "odd+", "even-", "odd-"};
    int s = ch / NSID_SIM_CH_PER_SCALE, c = ch % NSID_SIM_CH_PER_SCALE;
    double deg = 180.0 / NSID_SIM_ORIENTATIONS;
    if (ch < 0 || ch >= NSID_SIM_CHANNELS)
        snprintf(buf, n, "invalid");
    else if (c < 32)
        snprintf(buf, n, "s%d_simple_o%g_%s", s, (c / 4) * deg, phase[c % 4]);
    else if (c < 40)
        snprintf(buf, n, "s%d_complex_o%g", s, (c - 32) * deg);
    else if (c < 48)
        snprintf(buf, n, "s%d_surround_o%g", s, (c - 40) * deg);
    else if (c < 52)
        snprintf(buf, n, "s%d_cross_o%g", s, (c - 48) * deg);
    else
        snprintf(buf, n, "s%d_%s", s, c == NSID_SIM_CH_ON ? "on" : "off");
}
