/* subset.c - image and neuron subsets (see subset.h). */
#include "subset.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/rng.h"
#include "data/scan_int.h"

#define STREAM_IMAGES ((uint64_t)NSID_STREAM_SUBSET)
#define STREAM_NEURONS ((uint64_t)NSID_STREAM_SUBSET + (1ULL << 32))
#define STREAM_MATCH ((uint64_t)NSID_STREAM_SUBSET + (2ULL << 32))
#define STREAM_HELDOUT ((uint64_t)NSID_STREAM_SUBSET + (3ULL << 32))

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The first k of a seeded shuffle of pool[0..n) into out, sorted. pool is reordered. */
static void draw(int64_t *pool, int64_t n, int64_t skip, int64_t k, uint64_t seed, uint64_t stream, int64_t *out)
{
    struct nsid_rng r;
    nsid_rng_init(&r, seed, stream);
    nsid_rng_shuffle(&r, pool, (size_t)n);
    memcpy(out, pool + skip, (size_t)k * sizeof *out);
    qsort(out, (size_t)k, sizeof *out, cmp_i64);
}

int nsid_subset_images(const struct nsid_scan *s, int64_t image_n, uint64_t base_seed, int64_t *out,
                       struct nsid_err *err)
{
    int64_t n_train = 0;
    for (int64_t i = 0; i < s->n_trials; i++) n_train += s->tiers[i] == NSID_TIER_TRAIN;
    if (image_n < 1 || image_n > n_train)
        return nsid_err_set(err, NSID_EINVAL, nsid__scan_file(s), 0, "image_n",
                            "%lld, expected 1..%lld (the trials in the train tier)", (long long)image_n,
                            (long long)n_train);
    int64_t *pool = NSID_ALLOC((size_t)n_train * sizeof *pool, err);
    if (!pool) return NSID_ENOMEM;
    int64_t k = 0;
    for (int64_t i = 0; i < s->n_trials; i++)
        if (s->tiers[i] == NSID_TIER_TRAIN) pool[k++] = i;
    draw(pool, n_train, 0, image_n, base_seed * (uint64_t)image_n, STREAM_IMAGES, out);
    nsid_alloc_free(pool);
    return 0;
}

int nsid_subset_neurons(const struct nsid_scan *s, int64_t neuron_n, int64_t exclude_n, uint64_t base_seed,
                        int64_t *out, struct nsid_err *err)
{
    int64_t N = s->n_neurons;
    if (neuron_n < 1 || exclude_n < 0 || exclude_n + neuron_n > N)
        return nsid_err_set(err, NSID_EINVAL, nsid__scan_file(s), 0, "neuron_n",
                            "%lld after excluding %lld: there are only %lld neurons", (long long)neuron_n,
                            (long long)exclude_n, (long long)N);
    int64_t *pool = NSID_ALLOC((size_t)N * sizeof *pool, err);
    if (!pool) return NSID_ENOMEM;
    for (int64_t i = 0; i < N; i++) pool[i] = i;
    draw(pool, N, exclude_n, neuron_n, base_seed * (uint64_t)neuron_n, STREAM_NEURONS, out);
    nsid_alloc_free(pool);
    return 0;
}

static bool in_sorted(const int64_t *v, int64_t n, int64_t x)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && v[lo] == x;
}

int nsid_subset_match_ids(const struct nsid_scan *const *scans, int n_scans, int64_t **ids, int64_t *n,
                   struct nsid_err *err)
{
    *ids = NULL;
    *n = 0;
    if (n_scans < 1) return nsid_err_set(err, NSID_EINVAL, NULL, 0, "multi_match_id", "no scans given");
    for (int k = 0; k < n_scans; k++)
        if (!scans[k]->multi_match_id)
            return nsid_err_set(err, NSID_ENOTFOUND, nsid__scan_file(scans[k]), 0, "neurons/multi_match_id",
                                "missing: matched-neuron subsets need multi_match_id in every scan");
    /* Sorted unique ids of scan 0, then keep those every other scan has. */
    int64_t N0 = scans[0]->n_neurons, m = 0;
    int64_t *v = NSID_ALLOC((size_t)(N0 ? N0 : 1) * sizeof *v, err);
    if (!v) return NSID_ENOMEM;
    for (int64_t i = 0; i < N0; i++)
        if (scans[0]->multi_match_id[i] != -1) v[m++] = scans[0]->multi_match_id[i];
    qsort(v, (size_t)m, sizeof *v, cmp_i64);
    int64_t u = 0;
    for (int64_t i = 0; i < m; i++)
        if (u == 0 || v[u - 1] != v[i]) v[u++] = v[i];
    for (int k = 1; k < n_scans; k++) {
        int64_t Nk = scans[k]->n_neurons, keep = 0;
        int64_t *w = NSID_ALLOC((size_t)(Nk ? Nk : 1) * sizeof *w, err);
        if (!w) {
            nsid_alloc_free(v);
            return NSID_ENOMEM;
        }
        memcpy(w, scans[k]->multi_match_id, (size_t)Nk * sizeof *w);
        qsort(w, (size_t)Nk, sizeof *w, cmp_i64);
        for (int64_t i = 0; i < u; i++)
            if (in_sorted(w, Nk, v[i])) v[keep++] = v[i];
        nsid_alloc_free(w);
        u = keep;
    }
    *ids = v;
    *n = u;
    return 0;
}

int nsid_subset_match_select(const int64_t *ids, int64_t n_ids, const struct nsid_match_opts *o, int64_t *out,
                      struct nsid_err *err)
{
    int64_t H = o->heldout_n;
    if (H < 0 || H > n_ids || o->n < 1 || (o->heldout ? o->n > H : o->n > n_ids - H))
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "multi_match_n",
                            "%lld %s ids requested; %lld matched ids, %lld held out", (long long)o->n,
                            o->heldout ? "held-out" : "core", (long long)n_ids, (long long)H);
    int64_t *pool = NSID_ALLOC((size_t)(n_ids ? n_ids : 1) * sizeof *pool, err);
    if (!pool) return NSID_ENOMEM;
    memcpy(pool, ids, (size_t)n_ids * sizeof *pool);
    int64_t start = 0, len = n_ids;
    if (H > 0) {
        /* pool[0..H) = held out, pool[H..n) = core pool; both kept sorted. */
        struct nsid_rng r;
        nsid_rng_init(&r, o->base_seed * (uint64_t)H, STREAM_HELDOUT);
        nsid_rng_shuffle(&r, pool, (size_t)n_ids);
        if (o->heldout) {
            memcpy(out, pool, (size_t)o->n * sizeof *out);
            qsort(out, (size_t)o->n, sizeof *out, cmp_i64);
            nsid_alloc_free(pool);
            return 0;
        }
        qsort(pool + H, (size_t)(n_ids - H), sizeof *pool, cmp_i64);
        start = H;
        len = n_ids - H;
    }
    draw(pool + start, len, 0, o->n, o->base_seed * (uint64_t)o->n, STREAM_MATCH, out);
    nsid_alloc_free(pool);
    return 0;
}

int nsid_subset_match_neurons(const struct nsid_scan *s, const int64_t *ids, int64_t n_ids, int64_t *idx, int64_t *n_idx,
                       struct nsid_err *err)
{
    *n_idx = 0;
    if (!s->multi_match_id)
        return nsid_err_set(err, NSID_ENOTFOUND, nsid__scan_file(s), 0, "neurons/multi_match_id", "missing");
    for (int64_t i = 1; i < n_ids; i++)
        if (ids[i - 1] >= ids[i])
            return nsid_err_set(err, NSID_EINVAL, NULL, 0, "multi_match_id", "ids must be sorted and unique");
    int64_t k = 0;
    for (int64_t i = 0; i < s->n_neurons; i++)
        if (in_sorted(ids, n_ids, s->multi_match_id[i])) idx[k++] = i;
    /* every id must occur (the intersection guarantees it) */
    int64_t *have = NSID_ALLOC((size_t)(k ? k : 1) * sizeof *have, err);
    if (!have) return NSID_ENOMEM;
    for (int64_t i = 0; i < k; i++) have[i] = s->multi_match_id[idx[i]];
    qsort(have, (size_t)k, sizeof *have, cmp_i64);
    int rc = 0;
    for (int64_t j = 0; j < n_ids && !rc; j++)
        if (!in_sorted(have, k, ids[j]))
            rc = nsid_err_set(err, NSID_ENOTFOUND, nsid__scan_file(s), 0, "neurons/multi_match_id",
                              "matched id %lld is not in this scan", (long long)ids[j]);
    nsid_alloc_free(have);
    if (!rc) *n_idx = k;
    return rc;
}
