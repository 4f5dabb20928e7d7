/*
 * subset.h - image and neuron subsets (docs/paper.md §5.5), deterministic from the
 * seeds given, drawn with nsid's own RNG (base/rng.h).
 *
 * The seed rules are the authors': a subset of size n drawn with base seed b
 * uses the seed b * n, so subsets of different sizes are not nested. The
 * random streams are ours (xoshiro256**), not numpy's Mersenne Twister: the
 * same seeds pick a different (equally random) subset than the Python code
 * did. Every subset is returned in ascending (file) order.
 *
 *   image_n          nsid_subset_images: image_n trials of the train tier.
 *   neuron_n         nsid_subset_neurons: draw exclude_n + neuron_n neurons,
 *                    drop the first exclude_n drawn (the authors' exclude_neuron_n).
 *   multi_match_n    matched ids across scans: nsid_subset_match_ids (the sorted
 *                    intersection of multi_match_id, -1 removed), then
 *                    nsid_subset_match_select, then nsid_subset_match_neurons per scan.
 *
 * Held-out matched neurons (Fig. 4), unlike the original code (docs/paper.md
 * §5.5 caveat): with heldout_n > 0 the matched ids are first split, by a
 * permutation seeded with base_seed * heldout_n, into heldout_n held-out ids
 * and the core pool (the rest). A core subset (heldout false) is drawn from
 * the pool only, with seed base_seed * n; a held-out subset (heldout true)
 * takes the first n ids of the held-out split. The two can never overlap,
 * whatever n. With heldout_n = 0 the core subset is drawn from all matched ids
 * (Fig. 3).
 *
 * Streams (nsid_rng_init(seed, stream)): images NSID_STREAM_SUBSET, neurons
 * NSID_STREAM_SUBSET + 2^32, matched NSID_STREAM_SUBSET + 2 * 2^32, held-out
 * split NSID_STREAM_SUBSET + 3 * 2^32, so equal seeds for different purposes
 * do not draw the same permutation.
 */
#ifndef NSID_SUBSET_H
#define NSID_SUBSET_H

#include <stdbool.h>
#include <stdint.h>

#include "data/scan.h"

/*
 * image_n trial indices of the train tier into out (image_n), seed
 * base_seed * image_n. image_n must be 1..(trials in the train tier).
 */
int nsid_subset_images(const struct nsid_scan *s, int64_t image_n, uint64_t base_seed, int64_t *out,
                       struct nsid_err *err);

/*
 * neuron_n neuron indices into out (neuron_n): a permutation of all neurons
 * seeded with base_seed * neuron_n, positions exclude_n .. exclude_n+neuron_n-1.
 */
int nsid_subset_neurons(const struct nsid_scan *s, int64_t neuron_n, int64_t exclude_n, uint64_t base_seed,
                        int64_t *out, struct nsid_err *err);

/*
 * The matched ids every scan has: sorted intersection of multi_match_id, -1
 * removed. *ids is allocated (nsid_alloc_free it); *n may be 0.
 */
int nsid_subset_match_ids(const struct nsid_scan *const *scans, int n_scans, int64_t **ids, int64_t *n,
                   struct nsid_err *err);

struct nsid_match_opts {
    int64_t n;            /* matched ids to select (multi_match_n) */
    int64_t heldout_n;    /* ids reserved as held out (0: none) */
    uint64_t base_seed;   /* multi_match_base_seed */
    bool heldout;         /* select from the held-out ids instead of the core pool */
};

/* Select o->n ids from ids (sorted, n_ids) into out (o->n), ascending. */
int nsid_subset_match_select(const int64_t *ids, int64_t n_ids, const struct nsid_match_opts *o, int64_t *out,
                      struct nsid_err *err);

/*
 * Neurons of s whose multi_match_id is in ids (sorted, n_ids), in file order,
 * into idx (room for s->n_neurons); *n_idx receives the count. Every id must
 * be present in s.
 */
int nsid_subset_match_neurons(const struct nsid_scan *s, const int64_t *ids, int64_t n_ids, int64_t *idx, int64_t *n_idx,
                       struct nsid_err *err);

#endif
