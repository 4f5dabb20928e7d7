/*
 * sim_stimulus.c - dead-leaves images with natural-image statistics.
 *
 * Occluding shapes (ellipses and rectangles) are painted front to back at 2x
 * resolution until every pixel is covered, then box-averaged to the output
 * size (anti-aliased edges) and lightly blurred. Radii follow r^-exponent;
 * with exponent 3 the model is scale invariant and its power spectrum falls
 * as ~1/f^2 (Lee, Mumford & Huang 2001). Each leaf has a grey level, a linear
 * shading gradient and sometimes a grating texture; each image its own mean
 * luminance and contrast, so the set spans dim/bright and flat/busy scenes.
 */
#include "data/simulate.h"

#include <math.h>

#define SS 2             /* supersampling factor */
#define MAX_LEAVES 40000 /* safety cap; the rest is filled with the mean */

size_t nsid_sim_image_scratch(int height, int width)
{
    /* values (h x w) and the "next free" rows (h x (w + 1)), at SS x resolution */
    return (size_t)(SS * height) * (size_t)(SS * width) * 2 + (size_t)(SS * height);
}

/* Per-image appearance. */
struct scene {
    double mean, sd;     /* grey-level distribution of the leaves */
    double rmin, rmax;   /* leaf radius range, supersampled px */
    double exponent;     /* radius density r^-exponent */
    int h, w;            /* supersampled size */
};

/* One leaf: shape, pose and paint. */
struct leaf {
    double cx, cy, r;    /* centre and bounding radius, supersampled px */
    double cosp, sinp;   /* orientation */
    double aspect;       /* minor / major axis */
    int rect;            /* rectangle instead of ellipse */
    double level;        /* grey level at the centre */
    double grad;         /* shading across the major axis, grey levels per radius */
    double tex_amp, tex_kx, tex_ky, tex_phase; /* grating texture (amp 0 = none) */
};

/*
 * Radius law of the leaves that touch the image. A leaf of radius r touches
 * it when its centre lies in the image dilated by r, so among touching leaves
 * the radius density is r^-e (w + 2r)(h + 2r) (large leaves are not rarer
 * than in the stationary process): a mixture of three power laws r^(i-e),
 * i = 0, 1, 2, each sampled exactly by inverting its CDF.
 */
struct radius_law {
    double p[3];        /* exponents -e, 1-e, 2-e */
    double cum[3];      /* cumulative mixture weights (cum[2] = total) */
    double lo[3], hi[3];/* r^(p+1) at rmin, rmax (or log(rmin), log(rmax) when p = -1) */
};

/* The mixture weights and CDF endpoints of the radius law of scene s. */
static void radius_law_init(struct radius_law *law, const struct scene *s)
{
    double c[3] = {(double)s->w * s->h, 2.0 * (s->w + s->h), 4.0}, total = 0;
    for (int i = 0; i < 3; i++) {
        double p = -s->exponent + i, mass;
        law->p[i] = p;
        if (fabs(p + 1.0) < 1e-9) {
            law->lo[i] = log(s->rmin);
            law->hi[i] = log(s->rmax);
            mass = law->hi[i] - law->lo[i];
        } else {
            law->lo[i] = pow(s->rmin, p + 1.0);
            law->hi[i] = pow(s->rmax, p + 1.0);
            mass = (law->hi[i] - law->lo[i]) / (p + 1.0);
        }
        total += c[i] * mass;
        law->cum[i] = total;
    }
}

/* Radius and centre of the next leaf that touches the image (centre uniform in the dilated image). */
static void draw_placement(struct leaf *lf, const struct scene *s, const struct radius_law *law,
                           struct nsid_rng *r)
{
    double u = nsid_rng_uniform(r) * law->cum[2];
    int i = u < law->cum[0] ? 0 : u < law->cum[1] ? 1 : 2;
    double v = nsid_rng_uniform(r), p = law->p[i];
    double x = law->lo[i] + v * (law->hi[i] - law->lo[i]);
    double rad = fabs(p + 1.0) < 1e-9 ? exp(x) : pow(x, 1.0 / (p + 1.0));
    lf->r = rad;
    lf->cx = nsid_rng_uniform_range(r, -rad, s->w + rad);
    lf->cy = nsid_rng_uniform_range(r, -rad, s->h + rad);
}

/* Placement, shape, grey level, shading and texture of the next leaf. */
static void draw_leaf(struct leaf *lf, const struct scene *s, const struct radius_law *law,
                      struct nsid_rng *r)
{
    draw_placement(lf, s, law, r);
    double phi = nsid_rng_uniform_range(r, 0.0, M_PI);
    lf->cosp = cos(phi);
    lf->sinp = sin(phi);
    lf->aspect = nsid_rng_uniform_range(r, 0.3, 1.0);
    lf->rect = nsid_rng_uniform(r) < 0.4;
    lf->level = s->mean + s->sd * nsid_rng_normal(r);
    lf->grad = 0.25 * s->sd * nsid_rng_normal(r);
    lf->tex_amp = 0.0;
    if (nsid_rng_uniform(r) < 0.25) {
        double lambda = nsid_rng_uniform_range(r, 3.0, 14.0) * SS / 2.0;
        double psi = nsid_rng_uniform_range(r, 0.0, M_PI);
        lf->tex_amp = nsid_rng_uniform_range(r, 0.05, 0.3) * s->sd;
        lf->tex_kx = 2.0 * M_PI * cos(psi) / lambda;
        lf->tex_ky = 2.0 * M_PI * sin(psi) / lambda;
        lf->tex_phase = nsid_rng_uniform_range(r, 0.0, 2.0 * M_PI);
    }
}

/* The next uncovered pixel at or after x in a row (union-find "next free", path halving). */
static int next_free(int *nx, int x)
{
    while (nx[x] != x) {
        nx[x] = nx[nx[x]];
        x = nx[x];
    }
    return x;
}

/* Intersect [*lo, *hi] with {dx : -r <= p dx + q <= r}. */
static void clip_slab(double *lo, double *hi, double p, double q, double r)
{
    if (fabs(p) < 1e-12) {
        if (fabs(q) > r) *hi = *lo - 1.0;
        return;
    }
    double a = (-r - q) / p, b = (r - q) / p;
    if (a > b) {
        double t = a;
        a = b;
        b = t;
    }
    if (a > *lo) *lo = a;
    if (b < *hi) *hi = b;
}

/* The dx range (from the leaf centre) the leaf covers on the row at dy; empty if lo > hi. */
static void leaf_span(const struct leaf *lf, double dy, double *lo, double *hi)
{
    double c = lf->cosp, sn = lf->sinp;
    double ra = lf->r, rb = lf->r * lf->aspect;
    if (lf->rect) {
        /* |dx c + dy s| <= ra and |-dx s + dy c| <= rb, half sides r / sqrt 2 (inside radius r). */
        *lo = -lf->r;
        *hi = lf->r;
        clip_slab(lo, hi, c, dy * sn, ra * M_SQRT1_2);
        clip_slab(lo, hi, -sn, dy * c, rb * M_SQRT1_2);
        return;
    }
    /* (dx c + dy s)^2 / ra^2 + (-dx s + dy c)^2 / rb^2 <= 1: a quadratic in dx. */
    double ia = 1.0 / (ra * ra), ib = 1.0 / (rb * rb);
    double A = c * c * ia + sn * sn * ib, B = 2.0 * dy * c * sn * (ia - ib);
    double C = dy * dy * (sn * sn * ia + c * c * ib) - 1.0;
    double D = B * B - 4.0 * A * C;
    if (D < 0) {
        *lo = 1.0;
        *hi = 0.0;
        return;
    }
    double sq = sqrt(D);
    *lo = (-B - sq) / (2.0 * A);
    *hi = (-B + sq) / (2.0 * A);
}

/*
 * Paint the still uncovered pixels whose centres lie inside the leaf; returns
 * how many. nx holds one "next free" row of w + 1 entries per row.
 */
static long paint_leaf(float *val, int *nx, const struct scene *s, const struct leaf *lf)
{
    int y0 = (int)ceil(lf->cy - lf->r - 0.5), y1 = (int)floor(lf->cy + lf->r - 0.5);
    if (y0 < 0) y0 = 0;
    if (y1 > s->h - 1) y1 = s->h - 1;
    long painted = 0;
    for (int y = y0; y <= y1; y++) {
        int *row = nx + (size_t)y * (size_t)(s->w + 1);
        if (row[0] != 0 && next_free(row, 0) == s->w) continue;
        double dy = y + 0.5 - lf->cy, lo, hi;
        leaf_span(lf, dy, &lo, &hi);
        if (lo > hi) continue;
        int xa = (int)ceil(lf->cx + lo - 0.5), xb = (int)floor(lf->cx + hi - 0.5);
        if (xa < 0) xa = 0;
        if (xb > s->w - 1) xb = s->w - 1;
        if (xa > xb) continue;
        for (int x = next_free(row, xa); x <= xb; x = next_free(row, x + 1)) {
            double dx = x + 0.5 - lf->cx;
            double v = lf->level + lf->grad * (dx * lf->cosp + dy * lf->sinp) / lf->r;
            if (lf->tex_amp > 0.0)
                v += lf->tex_amp * sin(lf->tex_kx * dx + lf->tex_ky * dy + lf->tex_phase);
            val[(size_t)y * (size_t)s->w + (size_t)x] = (float)v;
            row[x] = x + 1;
            painted++;
        }
    }
    return painted;
}

/* Give every uncovered pixel the value of the nearest covered one in its row (or the mean). */
static void fill_holes(float *val, int *nx, const struct scene *s)
{
    for (int y = 0; y < s->h; y++) {
        int *row = nx + (size_t)y * (size_t)(s->w + 1);
        float *v = val + (size_t)y * (size_t)s->w;
        for (int x = next_free(row, 0); x < s->w; x = next_free(row, x + 1)) {
            int l = x - 1, rr = x + 1;
            while (l >= 0 && row[l] == l) l--;
            while (rr < s->w && row[rr] == rr) rr++;
            if (l >= 0 && (rr >= s->w || x - l <= rr - x)) v[x] = v[l];
            else if (rr < s->w) v[x] = v[rr];
        }
    }
}

/* Box-average SS x SS blocks, then a 3-tap blur with replicated edges. */
static void downsample_blur(float *img, int height, int width, const float *val, float *tmp,
                            double blur_a)
{
    int w2 = width * SS;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            double s = 0;
            for (int j = 0; j < SS; j++)
                for (int i = 0; i < SS; i++) s += (double)val[(size_t)(y * SS + j) * (size_t)w2 + (size_t)(x * SS + i)];
            tmp[(size_t)y * (size_t)width + (size_t)x] = (float)(s / (SS * SS));
        }
    double c = 1.0 - 2.0 * blur_a;
    for (int y = 0; y < height; y++) {   /* horizontal: tmp -> img */
        const float *t = tmp + (size_t)y * (size_t)width;
        for (int x = 0; x < width; x++) {
            double l = (double)t[x > 0 ? x - 1 : 0], r = (double)t[x < width - 1 ? x + 1 : width - 1];
            img[(size_t)y * (size_t)width + (size_t)x] = (float)(blur_a * (l + r) + c * (double)t[x]);
        }
    }
    for (int x = 0; x < width; x++) {    /* vertical: img -> tmp -> img */
        for (int y = 0; y < height; y++) {
            double u = (double)img[(size_t)(y > 0 ? y - 1 : 0) * (size_t)width + (size_t)x];
            double d = (double)img[(size_t)(y < height - 1 ? y + 1 : height - 1) * (size_t)width + (size_t)x];
            tmp[(size_t)y * (size_t)width + (size_t)x] =
                (float)(blur_a * (u + d) + c * (double)img[(size_t)y * (size_t)width + (size_t)x]);
        }
    }
    for (size_t i = 0; i < (size_t)height * (size_t)width; i++) {
        double v = nearbyint((double)tmp[i]);
        img[i] = (float)(v > 0 ? (v < 255 ? v : 255) : 0); /* also turns -0 into +0 */
    }
}

void nsid_sim_image(float *img, int height, int width, double leaf_exponent,
                    struct nsid_rng *r, float *scratch)
{
    struct scene s = {
        .mean = nsid_rng_uniform_range(r, 75.0, 150.0),
        .sd = nsid_rng_uniform_range(r, 25.0, 65.0),
        .h = height * SS,
        .w = width * SS,
        .rmin = 2.0,
        .exponent = leaf_exponent,
    };
    s.rmax = 0.75 * (s.w > s.h ? s.w : s.h);
    double blur_a = nsid_rng_uniform_range(r, 0.0, 0.2);
    size_t npx = (size_t)s.h * (size_t)s.w;
    float *val = scratch;
    int *nx = (int *)(void *)(scratch + npx);
    for (size_t i = 0; i < npx; i++) val[i] = (float)s.mean;
    for (int y = 0; y < s.h; y++)
        for (int x = 0; x <= s.w; x++) nx[(size_t)y * (size_t)(s.w + 1) + (size_t)x] = x;
    struct radius_law law;
    radius_law_init(&law, &s);
    /* The last 0.2 % of pixels would take a third of the leaves: they take a neighbour's value. */
    long uncovered = (long)npx, enough = (long)npx / 500;
    for (int k = 0; k < MAX_LEAVES && uncovered > enough; k++) {
        struct leaf lf = {0};
        draw_leaf(&lf, &s, &law, r);
        uncovered -= paint_leaf(val, nx, &s, &lf);
    }
    fill_holes(val, nx, &s);
    /* The "next free" rows are done with: reuse them as the temporary plane. */
    downsample_blur(img, height, width, val, scratch + npx, blur_a);
}
