/* test_data_subset.c - image_n, neuron_n/exclude and matched-neuron subsets: sizes, disjointness, determinism. */
#include "base/alloc.h"
#include "check.h"
#include "data/subset.h"
#include "data_testutil.h"

/* A scan in memory with T trials (tiers cycling train x3, validation, test) and given match ids. */
static void make_scan(struct nsid_scan *s, int64_t T, int64_t N, const int64_t *match)
{
    nsid_scan_init(s);
    s->n_trials = T;
    s->n_neurons = N;
    s->channels = s->height = s->width = 1;
    s->images = NSID_CALLOC((size_t)T * 4, &(struct nsid_err){0});
    s->responses = NSID_CALLOC((size_t)(T * N) * 4, &(struct nsid_err){0});
    s->tiers = NSID_ALLOC((size_t)T, &(struct nsid_err){0});
    for (int64_t i = 0; i < T; i++) s->tiers[i] = (int8_t)(i % 5 < 3 ? 0 : i % 5 == 3 ? 1 : 2);
    if (match) {
        s->multi_match_id = NSID_ALLOC((size_t)N * 8, &(struct nsid_err){0});
        memcpy(s->multi_match_id, match, (size_t)N * 8);
    }
}

static bool sorted_unique(const int64_t *v, int64_t n)
{
    for (int64_t i = 1; i < n; i++)
        if (v[i - 1] >= v[i]) return false;
    return true;
}

static int64_t overlap(const int64_t *a, int64_t na, const int64_t *b, int64_t nb)
{
    int64_t k = 0;
    for (int64_t i = 0; i < na; i++)
        for (int64_t j = 0; j < nb; j++) k += a[i] == b[j];
    return k;
}

static void test_images(void)
{
    struct nsid_scan s;
    struct nsid_err err = {0};
    make_scan(&s, 1000, 3, NULL); /* 600 train trials */
    int64_t a[600], b[600], c[600];
    CHECK(nsid_subset_images(&s, 50, 1, a, &err) == 0, "image_n 50");
    CHECK(sorted_unique(a, 50), "subset sorted and unique");
    int bad = 0;
    for (int i = 0; i < 50; i++) bad += s.tiers[a[i]] != NSID_TIER_TRAIN;
    CHECK(bad == 0, "only train trials");
    nsid_subset_images(&s, 50, 1, b, &err);
    CHECK(memcmp(a, b, sizeof(int64_t) * 50) == 0, "same seed, same subset");
    nsid_subset_images(&s, 50, 2, c, &err);
    CHECK(memcmp(a, c, sizeof(int64_t) * 50) != 0, "base seed 2 gives another subset");
    /* seed base*n: (base 2, n 50) is the seed of (base 1, n 100); different n draw differently */
    nsid_subset_images(&s, 100, 1, b, &err);
    CHECK(overlap(a, 50, b, 100) < 50, "subsets of different sizes are not nested (seed base * n)");
    CHECK(nsid_subset_images(&s, 600, 1, b, &err) == 0 && b[0] == 0 && b[599] == 997, "image_n = all train trials");
    CHECK(nsid_subset_images(&s, 601, 1, b, &err) == NSID_EINVAL && strstr(err.msg, "1..600"), "image_n too large: %s",
          err.msg);
    nsid_err_clear(&err);
    CHECK(nsid_subset_images(&s, 0, 1, b, &err) == NSID_EINVAL, "image_n 0 refused");
    /* every train trial equally likely: 2000 draws of 30 out of 600, expected 100 each */
    int64_t count[1000] = {0};
    for (uint64_t seed = 1; seed <= 2000; seed++) {
        nsid_subset_images(&s, 30, seed, a, &err);
        for (int i = 0; i < 30; i++) count[a[i]]++;
    }
    int64_t lo = 1 << 30, hi = 0;
    for (int i = 0; i < 1000; i++) {
        if (s.tiers[i] != NSID_TIER_TRAIN) continue;
        lo = count[i] < lo ? count[i] : lo;
        hi = count[i] > hi ? count[i] : hi;
    }
    CHECK(lo > 55 && hi < 150, "uniform over train trials: counts %lld..%lld, expected ~100 +- 10", (long long)lo,
          (long long)hi);
    nsid_scan_free(&s);
}

static void test_neurons(void)
{
    struct nsid_scan s;
    struct nsid_err err = {0};
    make_scan(&s, 5, 40, NULL);
    int64_t a[40], b[40];
    CHECK(nsid_subset_neurons(&s, 10, 0, 7, a, &err) == 0 && sorted_unique(a, 10), "neuron_n 10");
    CHECK(nsid_subset_neurons(&s, 10, 10, 7, b, &err) == 0, "neuron_n 10 excluding 10");
    CHECK(overlap(a, 10, b, 10) == 0, "exclude_neuron_n drops the first drawn: same permutation, disjoint");
    CHECK(nsid_subset_neurons(&s, 10, 31, 7, b, &err) == NSID_EINVAL && strstr(err.msg, "only 40"),
          "too many after excluding: %s", err.msg);
    CHECK(nsid_subset_neurons(&s, 40, 0, 7, b, &err) == 0 && b[0] == 0 && b[39] == 39, "all neurons");
    nsid_subset_neurons(&s, 10, 0, 7, b, &err);
    CHECK(memcmp(a, b, sizeof(int64_t) * 10) == 0, "deterministic");
    nsid_scan_free(&s);
}

static void test_matched(void)
{
    /* three scans; ids 0..99 matched in all, plus some only in one, plus -1 */
    int64_t m0[130], m1[120], m2[110];
    for (int i = 0; i < 130; i++) m0[i] = i < 100 ? 99 - i : (i < 120 ? 1000 + i : -1);
    for (int i = 0; i < 120; i++) m1[i] = i < 100 ? i : (i < 110 ? 2000 + i : -1);
    for (int i = 0; i < 110; i++) m2[i] = i < 100 ? (i * 37) % 100 : -1;
    struct nsid_scan s[3];
    make_scan(&s[0], 5, 130, m0);
    make_scan(&s[1], 5, 120, m1);
    make_scan(&s[2], 5, 110, m2);
    const struct nsid_scan *sp[3] = {&s[0], &s[1], &s[2]};
    struct nsid_err err = {0};
    int64_t *ids, n;
    CHECK(nsid_subset_match_ids(sp, 3, &ids, &n, &err) == 0 && n == 100 && ids[0] == 0 && ids[99] == 99,
          "intersection of match ids, -1 removed: %lld ids", (long long)n);
    int64_t core[100], held[100], core2[100];
    struct nsid_match_opts o = {.n = 30, .heldout_n = 0, .base_seed = 3};
    CHECK(nsid_subset_match_select(ids, n, &o, core, &err) == 0 && sorted_unique(core, 30), "30 matched ids");
    nsid_subset_match_select(ids, n, &o, core2, &err);
    CHECK(memcmp(core, core2, 30 * 8) == 0, "deterministic");
    /* held out: 20 ids, disjoint from every core subset size */
    o.heldout_n = 20;
    o.heldout = true;
    o.n = 20;
    CHECK(nsid_subset_match_select(ids, n, &o, held, &err) == 0 && sorted_unique(held, 20), "20 held-out ids");
    int64_t worst = 0;
    for (int64_t k = 1; k <= 80; k++) {
        struct nsid_match_opts oc = {.n = k, .heldout_n = 20, .base_seed = 3};
        nsid_subset_match_select(ids, n, &oc, core, &err);
        int64_t ov = overlap(core, k, held, 20);
        worst = ov > worst ? ov : worst;
    }
    CHECK(worst == 0, "core subsets of every size 1..80 avoid the held-out ids (max overlap %lld)", (long long)worst);
    struct nsid_match_opts oh = {.n = 5, .heldout_n = 20, .base_seed = 3, .heldout = true};
    nsid_subset_match_select(ids, n, &oh, core2, &err);
    CHECK(overlap(core2, 5, held, 20) == 5, "a smaller held-out subset comes from the same held-out ids");
    struct nsid_match_opts o4 = {.n = 20, .heldout_n = 20, .base_seed = 4, .heldout = true};
    nsid_subset_match_select(ids, n, &o4, core2, &err);
    CHECK(memcmp(core2, held, 20 * 8) != 0, "another base seed holds out other ids");
    struct nsid_match_opts big = {.n = 81, .heldout_n = 20, .base_seed = 3};
    CHECK(nsid_subset_match_select(ids, n, &big, core, &err) == NSID_EINVAL, "core larger than the pool refused: %s", err.msg);
    /* neurons of each scan, file order */
    int64_t idx[130], k;
    o.heldout = false;
    o.n = 30;
    o.heldout_n = 0;
    nsid_subset_match_select(ids, n, &o, core, &err);
    for (int sc = 0; sc < 3; sc++) {
        CHECK(nsid_subset_match_neurons(&s[sc], core, 30, idx, &k, &err) == 0 && k == 30 && sorted_unique(idx, k),
              "scan %d keeps the 30 matched neurons in file order", sc);
        int bad = 0;
        for (int64_t i = 0; i < k; i++) bad += overlap(&s[sc].multi_match_id[idx[i]], 1, core, 30) != 1;
        CHECK(bad == 0, "scan %d: selected neurons carry selected ids", sc);
    }
    int64_t missing[1] = {1005};
    nsid_err_clear(&err);
    CHECK(nsid_subset_match_neurons(&s[1], missing, 1, idx, &k, &err) == NSID_ENOTFOUND && strstr(err.msg, "1005"),
          "an id the scan lacks: %s", err.msg);
    nsid_alloc_free(ids);
    nsid_scan_free(&s[2]);
    make_scan(&s[2], 5, 110, NULL);
    nsid_err_clear(&err);
    CHECK(nsid_subset_match_ids(sp, 3, &ids, &n, &err) == NSID_ENOTFOUND && strstr(err.key, "multi_match_id"),
          "a scan without multi_match_id: %s", err.msg);
    for (int i = 0; i < 3; i++) nsid_scan_free(&s[i]);
}

int main(void)
{
    test_images();
    test_neurons();
    test_matched();
    return check_summary("data_subset");
}
