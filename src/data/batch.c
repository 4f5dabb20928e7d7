/* batch.c - views, batches, repeats, multi-scan round robin (see batch.h). */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "data/scan_int.h"
#include "data/subset.h"

/* ================================================================ view */

static int view_neurons(struct nsid_view *v, const struct nsid_scan *s, const struct nsid_view_opts *o,
                        struct nsid_err *err)
{
    if (!o || !o->neurons) {
        v->n_neurons = s->n_neurons;
        return 0;
    }
    if (o->n_neurons < 1 || o->n_neurons > s->n_neurons)
        return nsid_err_set(err, NSID_EINVAL, nsid__scan_file(s), 0, "neurons", "%lld selected, expected 1..%lld",
                            (long long)o->n_neurons, (long long)s->n_neurons);
    bool *seen = NSID_CALLOC((size_t)s->n_neurons, err);
    v->neurons = NSID_ALLOC((size_t)o->n_neurons * sizeof *v->neurons, err);
    int rc = seen && v->neurons ? 0 : NSID_ENOMEM;
    for (int64_t j = 0; !rc && j < o->n_neurons; j++) {
        int64_t k = o->neurons[j];
        if (k < 0 || k >= s->n_neurons || seen[k])
            rc = nsid_err_set(err, NSID_EINVAL, nsid__scan_file(s), 0, "neurons",
                              "selection %lld: neuron %lld %s", (long long)j, (long long)k,
                              k < 0 || k >= s->n_neurons ? "out of range" : "selected twice");
        else
            seen[k] = true;
        if (!rc) v->neurons[j] = k;
    }
    nsid_alloc_free(seen);
    v->n_neurons = o->n_neurons;
    return rc;
}

static int view_tiers(struct nsid_view *v, const struct nsid_scan *s, const struct nsid_view_opts *o,
                      struct nsid_err *err)
{
    int64_t c[NSID_TIER_COUNT];
    nsid_scan_tier_counts(s, c);
    int64_t image_n = o ? o->image_n : 0;
    for (int t = 0; t < NSID_TIER_COUNT; t++) {
        int64_t n = t == NSID_TIER_TRAIN && image_n > 0 ? image_n : c[t];
        v->tier[t] = NSID_ALLOC((size_t)(n ? n : 1) * sizeof(int64_t), err);
        if (!v->tier[t]) return NSID_ENOMEM;
        v->n_tier[t] = n;
        if (t == NSID_TIER_TRAIN && image_n > 0) {
            int rc = nsid_subset_images(s, image_n, o->image_base_seed, v->tier[t], err);
            if (rc) return rc;
            continue;
        }
        int64_t k = 0;
        for (int64_t i = 0; i < s->n_trials; i++)
            if (s->tiers[i] == t) v->tier[t][k++] = i;
    }
    return 0;
}

int nsid_batch_view_init(struct nsid_view *v, const struct nsid_scan *s, const struct nsid_view_opts *o,
                   struct nsid_err *err)
{
    memset(v, 0, sizeof *v);
    if (!s->tiers || !s->images || !s->responses)
        return nsid_err_set(err, NSID_EINVAL, nsid__scan_file(s), 0, "tiers",
                            "the scan is not validated (nsid_scan_validate decodes its tiers)");
    v->scan = s;
    v->n_total = s->n_trials;
    int rc = nsid_transform_norm_init(&v->norm, s, o ? &o->norm : NULL, err);
    if (!rc) rc = view_neurons(v, s, o, err);
    if (!rc) rc = view_tiers(v, s, o, err);
    if (rc) nsid_batch_view_free(v);
    return rc;
}

void nsid_batch_view_free(struct nsid_view *v)
{
    if (!v) return;
    nsid_transform_norm_free(&v->norm);
    nsid_alloc_free(v->neurons);
    for (int t = 0; t < NSID_TIER_COUNT; t++) nsid_alloc_free(v->tier[t]);
    memset(v, 0, sizeof *v);
}

void nsid_batch_view_gather(const struct nsid_view *v, const int64_t *trials, int64_t n, struct nsid_batch *b)
{
    const struct nsid_scan *s = v->scan;
    int64_t P = (int64_t)s->channels * s->height * s->width, N = s->n_neurons, M = v->n_neurons;
    b->n = n;
    b->trials = trials;
    for (int64_t i = 0; i < n; i++) {
        int64_t t = trials[i];
        if (b->images) nsid_transform_norm_image(&v->norm, s->images + t * P, P, b->images + i * P);
        if (b->responses) nsid_transform_norm_responses(&v->norm, s->responses + t * N, v->neurons, M, b->responses + i * M);
        if (b->behavior && s->behavior) nsid_transform_norm_behavior(&v->norm, s->behavior + t * 3, b->behavior + i * 3);
        if (b->pupil_center && s->pupil_center)
            nsid_transform_norm_pupil(&v->norm, s->pupil_center + t * 2, b->pupil_center + i * 2);
    }
}

int64_t nsid_batch_views_max_batch(const struct nsid_view *views, int n_views, int64_t batch_size)
{
    int64_t most = 1;
    for (int s = 0; s < n_views; s++)
        for (int t = 0; t < NSID_TIER_COUNT; t++)
            if (views[s].n_tier[t] > most) most = views[s].n_tier[t];
    return batch_size < most ? batch_size : most;
}

int64_t nsid_batch_view_batches(const struct nsid_view *v, int tier, int64_t batch_size)
{
    if (tier < 0 || tier >= NSID_TIER_COUNT || batch_size < 1) return 0;
    return (v->n_tier[tier] + batch_size - 1) / batch_size;
}

int64_t nsid_batch_view_one(const struct nsid_view *v, int tier, int64_t b, int64_t batch_size, const int64_t **trials)
{
    if (b < 0 || b >= nsid_batch_view_batches(v, tier, batch_size)) return 0;
    int64_t start = b * batch_size, n = v->n_tier[tier] - start;
    *trials = v->tier[tier] + start;
    return n < batch_size ? n : batch_size;
}

/* ================================================================ training order */

int nsid_batch_train_iter_init(struct nsid_train_iter *it, const struct nsid_view *v, int64_t batch_size, uint64_t seed,
                         uint64_t stream, struct nsid_err *err)
{
    memset(it, 0, sizeof *it);
    int64_t n = v->n_tier[NSID_TIER_TRAIN];
    if (batch_size < 1 || n < 1)
        return nsid_err_set(err, NSID_EINVAL, nsid__scan_file(v->scan), 0, n < 1 ? "tiers" : "batch_size",
                            n < 1 ? "no training trials to iterate over" : "batch size %lld, expected >= 1",
                            (long long)batch_size);
    it->perm = NSID_ALLOC((size_t)n * sizeof *it->perm, err);
    if (!it->perm) return NSID_ENOMEM;
    /* defined before the first draw: a training state saved now holds no uninitialised bytes */
    memcpy(it->perm, v->tier[NSID_TIER_TRAIN], (size_t)n * sizeof *it->perm);
    it->v = v;
    it->batch_size = batch_size;
    nsid_rng_init(&it->rng, seed, stream);
    it->pos = n; /* the first call draws a permutation */
    return 0;
}

void nsid_batch_train_iter_free(struct nsid_train_iter *it)
{
    if (!it) return;
    nsid_alloc_free(it->perm);
    memset(it, 0, sizeof *it);
}

void nsid_batch_train_iter_restart(struct nsid_train_iter *it)
{
    int64_t n = it->v->n_tier[NSID_TIER_TRAIN];
    memcpy(it->perm, it->v->tier[NSID_TIER_TRAIN], (size_t)n * sizeof *it->perm);
    nsid_rng_shuffle(&it->rng, it->perm, (size_t)n);
    it->pos = 0;
    it->passes++;
}

int64_t nsid_batch_train_iter_batches(const struct nsid_train_iter *it)
{
    return (it->v->n_tier[NSID_TIER_TRAIN] + it->batch_size - 1) / it->batch_size;
}

int64_t nsid_batch_train_iter_next(struct nsid_train_iter *it, const int64_t **trials)
{
    int64_t n = it->v->n_tier[NSID_TIER_TRAIN];
    if (it->pos >= n) nsid_batch_train_iter_restart(it);
    int64_t b = n - it->pos < it->batch_size ? n - it->pos : it->batch_size;
    *trials = it->perm + it->pos;
    it->pos += b;
    return b;
}

/* ================================================================ repeats */

/* Sort helpers: trials ordered by (key, index). */
struct keyed {
    int64_t key, trial;
};

static int cmp_keyed(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    if (x->key != y->key) return (x->key > y->key) - (x->key < y->key);
    return (x->trial > y->trial) - (x->trial < y->trial);
}

struct str_trial {
    const char *str;
    int64_t trial;
};

static int cmp_str_trial(const void *a, const void *b)
{
    const struct str_trial *x = a, *y = b;
    int c = strcmp(x->str, y->str);
    return c ? c : (x->trial > y->trial) - (x->trial < y->trial);
}

/* Class index of every trial: rank of its class among the sorted distinct classes. */
static int class_index(const struct nsid_scan *s, const struct nsid_array *cls, int64_t *out, struct nsid_err *err)
{
    int64_t T = s->n_trials;
    if (!cls) {
        memset(out, 0, (size_t)T * sizeof *out);
        return 0;
    }
    if (cls->dtype != NSID_DT_STR) {
        struct keyed *k = NSID_ALLOC((size_t)T * sizeof *k, err);
        if (!k) return NSID_ENOMEM;
        for (int64_t i = 0; i < T; i++) {
            k[i].key = nsid_scan_array_get_i64(cls, (size_t)i);
            k[i].trial = i;
        }
        qsort(k, (size_t)T, sizeof *k, cmp_keyed);
        int64_t rank = -1;
        for (int64_t i = 0; i < T; i++) {
            if (i == 0 || k[i].key != k[i - 1].key) rank++;
            out[k[i].trial] = rank;
        }
        nsid_alloc_free(k);
        return 0;
    }
    /* strings: NUL-terminated copies sorted with strcmp (UTF-8 byte order = code point order, as numpy) */
    size_t w = cls->itemsize + 1;
    char *txt = NSID_ALLOC((size_t)T * w, err);
    struct str_trial *v = NSID_ALLOC((size_t)T * sizeof *v, err);
    int rc = txt && v ? 0 : NSID_ENOMEM;
    for (int64_t i = 0; !rc && i < T; i++) {
        nsid_scan_array_get_str(cls, (size_t)i, txt + (size_t)i * w, w);
        v[i].str = txt + (size_t)i * w;
        v[i].trial = i;
    }
    if (!rc) {
        qsort(v, (size_t)T, sizeof *v, cmp_str_trial);
        int64_t rank = -1;
        for (int64_t i = 0; i < T; i++) {
            if (i == 0 || strcmp(v[i].str, v[i - 1].str) != 0) rank++;
            out[v[i].trial] = rank;
        }
    }
    nsid_alloc_free(txt);
    nsid_alloc_free(v);
    return rc;
}

int nsid_batch_repeats_init(struct nsid_repeats *r, const struct nsid_scan *s, int tier, struct nsid_err *err)
{
    memset(r, 0, sizeof *r);
    static const char *const ids[3][2] = {{"image_id", "image_class"},
                                          {"colorframeprojector_image_id", "colorframeprojector_image_class"},
                                          {"frame_image_id", "frame_image_class"}};
    const struct nsid_array *id = NULL, *cls = NULL;
    for (int i = 0; i < 3 && !id; i++) {
        id = nsid_scan_arrays_find(&s->trials, ids[i][0]);
        if (id) cls = nsid_scan_arrays_find(&s->trials, ids[i][1]);
    }
    if (tier < 0 || tier >= NSID_TIER_COUNT || !s->tiers)
        return nsid_err_set(err, NSID_EINVAL, nsid__scan_file(s), 0, "tiers", "unknown tier %d", tier);
    if ((!id && !s->frame_image_id) || (id && (id->dtype == NSID_DT_STR || id->ndim != 1)))
        return nsid_err_set(err, NSID_ENOTFOUND, nsid__scan_file(s), 0, "trials/frame_image_id",
                            "%s: grouping repeats needs a numeric image id per trial (image_id or frame_image_id)",
                            id ? "not a 1-d numeric array" : "missing");
    int64_t T = s->n_trials, max_id = 0;
    int64_t *key = NSID_ALLOC((size_t)T * sizeof *key, err);
    int64_t *cidx = NSID_ALLOC((size_t)T * sizeof *cidx, err);
    struct keyed *k = NSID_ALLOC((size_t)T * sizeof *k, err);
    int rc = key && cidx && k ? 0 : NSID_ENOMEM;
    if (!rc && cls && (cls->ndim != 1 || cls->shape[0] != T)) cls = NULL;
    if (!rc) rc = class_index(s, cls, cidx, err);
    for (int64_t i = 0; !rc && i < T; i++) {
        key[i] = id ? nsid_scan_array_get_i64(id, (size_t)i) : s->frame_image_id[i];
        if (i == 0 || key[i] > max_id) max_id = key[i];
    }
    int64_t n = 0;
    for (int64_t i = 0; !rc && i < T; i++) {
        if (s->tiers[i] != tier) continue;
        k[n].key = key[i] + cidx[i] * (max_id + 1);
        k[n++].trial = i;
    }
    if (!rc) {
        qsort(k, (size_t)n, sizeof *k, cmp_keyed);
        r->trials = NSID_ALLOC((size_t)(n ? n : 1) * sizeof *r->trials, err);
        r->start = NSID_ALLOC((size_t)(n + 1) * sizeof *r->start, err);
        r->key = NSID_ALLOC((size_t)(n ? n : 1) * sizeof *r->key, err);
        if (!r->trials || !r->start || !r->key) rc = NSID_ENOMEM;
    }
    for (int64_t i = 0; !rc && i < n; i++) {
        r->trials[i] = k[i].trial;
        if (i == 0 || k[i].key != k[i - 1].key) {
            r->key[r->n_groups] = k[i].key;
            r->start[r->n_groups++] = i;
        }
    }
    if (!rc) {
        r->start[r->n_groups] = n;
        r->n_trials = n;
    }
    nsid_alloc_free(key);
    nsid_alloc_free(cidx);
    nsid_alloc_free(k);
    if (rc) nsid_batch_repeats_free(r);
    return rc;
}

void nsid_batch_repeats_free(struct nsid_repeats *r)
{
    if (!r) return;
    nsid_alloc_free(r->start);
    nsid_alloc_free(r->trials);
    nsid_alloc_free(r->key);
    memset(r, 0, sizeof *r);
}

/* ================================================================ cycler */

int nsid_batch_cycler_init(struct nsid_cycler *c, const struct nsid_view *views, int n_scans, int64_t batch_size,
                     uint64_t seed, struct nsid_err *err)
{
    memset(c, 0, sizeof *c);
    if (n_scans < 1) return nsid_err_set(err, NSID_EINVAL, NULL, 0, "scans", "no scans to cycle over");
    c->it = NSID_CALLOC(sizeof *c->it * (size_t)n_scans, err);
    if (!c->it) return NSID_ENOMEM;
    c->n_scans = n_scans;
    for (int k = 0; k < n_scans; k++) {
        int rc = nsid_batch_train_iter_init(&c->it[k], &views[k], batch_size, seed,
                                      (uint64_t)NSID_STREAM_SHUFFLE + ((uint64_t)k << 32), err);
        if (rc) {
            nsid_batch_cycler_free(c);
            return rc;
        }
        int64_t nb = nsid_batch_train_iter_batches(&c->it[k]);
        if (nb > c->max_batches) c->max_batches = nb;
    }
    c->step = nsid_batch_cycler_epoch_len(c); /* nothing handed out before the first epoch starts */
    return 0;
}

void nsid_batch_cycler_free(struct nsid_cycler *c)
{
    if (!c) return;
    for (int k = 0; c->it && k < c->n_scans; k++) nsid_batch_train_iter_free(&c->it[k]);
    nsid_alloc_free(c->it);
    memset(c, 0, sizeof *c);
}

int64_t nsid_batch_cycler_epoch_len(const struct nsid_cycler *c)
{
    return (int64_t)c->n_scans * c->max_batches;
}

void nsid_batch_cycler_start_epoch(struct nsid_cycler *c)
{
    for (int k = 0; k < c->n_scans; k++) nsid_batch_train_iter_restart(&c->it[k]);
    c->step = 0;
}

bool nsid_batch_cycler_next(struct nsid_cycler *c, int *scan, const int64_t **trials, int64_t *n, bool *round_done)
{
    if (c->step >= nsid_batch_cycler_epoch_len(c)) return false;
    int k = (int)(c->step % c->n_scans);
    *scan = k;
    *n = nsid_batch_train_iter_next(&c->it[k], trials);
    c->step++;
    if (round_done) *round_done = c->step % c->n_scans == 0;
    return true;
}
