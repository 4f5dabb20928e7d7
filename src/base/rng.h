/*
 * rng.h - deterministic random streams (xoshiro256**, seeded by splitmix64).
 *
 * One master seed per run; every use draws from its own stream so that, for
 * example, changing the batch order never changes the initial weights:
 *
 *     struct nsid_rng init, shuffle;
 *     nsid_rng_init(&init, seed, NSID_STREAM_INIT);
 *     nsid_rng_init(&shuffle, seed, NSID_STREAM_SHUFFLE);
 *
 * The state is a plain struct: copy it to checkpoint a stream. No global state,
 * never rand(). Results are identical on every platform (integer arithmetic,
 * IEEE double for the transforms).
 */
#ifndef NSID_RNG_H
#define NSID_RNG_H

#include <stddef.h>
#include <stdint.h>

struct nsid_rng {
    uint64_t s[4]; /* xoshiro256** state, never all zero */
};

/* Well-known stream ids; any other uint64 is fine too. */
enum nsid_stream {
    NSID_STREAM_INIT = 1,     /* parameter initialisation */
    NSID_STREAM_SHUFFLE = 2,  /* training batch order */
    NSID_STREAM_SAMPLE = 3,   /* Gaussian readout position noise */
    NSID_STREAM_SUBSET = 4,   /* image / neuron subsets */
    NSID_STREAM_SIMULATE = 5, /* simulator */
    NSID_STREAM_SEARCH = 6,   /* hyper-parameter search */
};

void nsid_rng_init(struct nsid_rng *r, uint64_t seed, uint64_t stream);
uint64_t nsid_rng_u64(struct nsid_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double nsid_rng_uniform(struct nsid_rng *r);
/* Uniform in [lo, hi). */
double nsid_rng_uniform_range(struct nsid_rng *r, double lo, double hi);
/* Standard normal (Box-Muller, one value per call, two uniforms consumed). */
double nsid_rng_normal(struct nsid_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t nsid_rng_below(struct nsid_rng *r, uint64_t n);
/* Gamma(shape k > 0, scale 1) (Marsaglia-Tsang). */
double nsid_rng_gamma(struct nsid_rng *r, double k);
/* Poisson(lambda >= 0). */
uint64_t nsid_rng_poisson(struct nsid_rng *r, double lambda);
/* Fisher-Yates shuffle of n indices in place. */
void nsid_rng_shuffle(struct nsid_rng *r, int64_t *idx, size_t n);
/* idx = a uniformly random permutation of 0..n-1. */
void nsid_rng_permutation(struct nsid_rng *r, int64_t *idx, size_t n);

#endif
