/* rng.c - deterministic random streams (see rng.h). */
#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void nsid_rng_init(struct nsid_rng *r, uint64_t seed, uint64_t stream)
{
    /* Mix seed and stream through splitmix64 separately so that (seed, stream)
     * pairs that sum alike still give unrelated states. */
    uint64_t x = seed;
    uint64_t a = splitmix64(&x);
    uint64_t y = stream ^ 0x5851f42d4c957f2dULL;
    uint64_t b = splitmix64(&y);
    uint64_t z = a ^ rotl(b, 17);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&z);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

uint64_t nsid_rng_u64(struct nsid_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double nsid_rng_uniform(struct nsid_rng *r)
{
    return (double)(nsid_rng_u64(r) >> 11) * 0x1.0p-53;
}

double nsid_rng_uniform_range(struct nsid_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * nsid_rng_uniform(r);
}

double nsid_rng_normal(struct nsid_rng *r)
{
    double u1 = 1.0 - nsid_rng_uniform(r); /* (0, 1]: log is finite */
    double u2 = nsid_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t nsid_rng_below(struct nsid_rng *r, uint64_t n)
{
    /* Rejection on the top of the range: no modulo bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = nsid_rng_u64(r); while (x >= limit);
    return x % n;
}

double nsid_rng_gamma(struct nsid_rng *r, double k)
{
    if (k < 1.0) {
        /* Boost: Gamma(k) = Gamma(k+1) * U^(1/k). */
        double u = nsid_rng_uniform(r);
        return nsid_rng_gamma(r, k + 1.0) * pow(1.0 - u, 1.0 / k);
    }
    double d = k - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = nsid_rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = nsid_rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

uint64_t nsid_rng_poisson(struct nsid_rng *r, double lambda)
{
    if (lambda <= 0.0) return 0;
    if (lambda < 30.0) {
        /* Knuth: multiply uniforms until below exp(-lambda). */
        double L = exp(-lambda), p = 1.0;
        uint64_t k = 0;
        do {
            k++;
            p *= nsid_rng_uniform(r);
        } while (p > L);
        return k - 1;
    }
    /* Large lambda: PTRS (Hormann 1993), exact. */
    double slam = sqrt(lambda), loglam = log(lambda);
    double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
        double u = nsid_rng_uniform(r) - 0.5, v = nsid_rng_uniform(r);
        double us = 0.5 - fabs(u);
        double k = floor((2 * a / us + b) * u + lambda + 0.43);
        if (us >= 0.07 && v <= vr) return (uint64_t)k;
        if (k < 0 || (us < 0.013 && v > us)) continue;
        if (log(v) + log(invalpha) - log(a / (us * us) + b) <= -lambda + k * loglam - lgamma(k + 1))
            return (uint64_t)k;
    }
}

void nsid_rng_shuffle(struct nsid_rng *r, int64_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)nsid_rng_below(r, i);
        int64_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

void nsid_rng_permutation(struct nsid_rng *r, int64_t *idx, size_t n)
{
    for (size_t i = 0; i < n; i++) idx[i] = (int64_t)i;
    nsid_rng_shuffle(r, idx, n);
}
