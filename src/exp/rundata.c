/* rundata.c - the scans of a run, selected and transformed as its configuration says (see rundata.h). */
#include "rundata.h"

#include "data/plausible.h"

#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "data/subset.h"

/* Neurons of every scan by data.neuron_n (per scan) or data.multi_match_n (common ids). */
static int select_neurons(struct nsid_run_data *d, const struct nsid_config *c, struct nsid_err *err)
{
    const struct nsid_cfg_data *x = &c->data;
    if (x->exclude_neuron_n > 0 && x->neuron_n == 0)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "data.exclude_neuron_n", "%lld needs data.neuron_n > 0",
                            (long long)x->exclude_neuron_n);
    if (x->neuron_n > 0) {
        for (int s = 0; s < d->n_scans; s++) {
            const struct nsid_scan *sc = &d->scans[s];
            if (x->neuron_n + x->exclude_neuron_n > sc->n_neurons)
                return nsid_err_set(err, NSID_EINVAL, sc->path, 0, "data.neuron_n",
                                    "%lld (+ %lld excluded) neurons asked for, the scan has %lld",
                                    (long long)x->neuron_n, (long long)x->exclude_neuron_n, (long long)sc->n_neurons);
            if (!(d->neurons[s] = NSID_ALLOC((size_t)x->neuron_n * sizeof(int64_t), err))) return NSID_ENOMEM;
            int rc = nsid_subset_neurons(sc, x->neuron_n, x->exclude_neuron_n, (uint64_t)x->neuron_base_seed,
                                         d->neurons[s], err);
            if (rc < 0) return rc;
            d->n_sel[s] = x->neuron_n;
        }
        return 0;
    }
    if (x->multi_match_n == 0) {
        for (int s = 0; s < d->n_scans; s++) d->n_sel[s] = d->scans[s].n_neurons;
        return 0;
    }
    const struct nsid_scan **sp = NSID_ALLOC((size_t)d->n_scans * sizeof *sp, err);
    if (!sp) return NSID_ENOMEM;
    for (int s = 0; s < d->n_scans; s++) sp[s] = &d->scans[s];
    int64_t *ids = NULL, n_ids = 0, *pick = NULL;
    int rc = nsid_subset_match_ids(sp, d->n_scans, &ids, &n_ids, err);
    if (rc == 0 && x->multi_match_n > n_ids)
        rc = nsid_err_set(err, NSID_EINVAL, NULL, 0, "data.multi_match_n",
                          "%lld matched ids asked for, the scans share %lld", (long long)x->multi_match_n,
                          (long long)n_ids);
    if (rc == 0 && !(pick = NSID_ALLOC((size_t)x->multi_match_n * sizeof *pick, err))) rc = NSID_ENOMEM;
    struct nsid_match_opts mo = {.n = x->multi_match_n, .heldout_n = x->multi_match_heldout_n,
                                 .base_seed = (uint64_t)x->multi_match_base_seed, .heldout = x->multi_match_heldout};
    if (rc == 0) rc = nsid_subset_match_select(ids, n_ids, &mo, pick, err);
    for (int s = 0; rc == 0 && s < d->n_scans; s++) {
        if (!(d->neurons[s] = NSID_ALLOC((size_t)d->scans[s].n_neurons * sizeof(int64_t), err))) rc = NSID_ENOMEM;
        else rc = nsid_subset_match_neurons(&d->scans[s], pick, x->multi_match_n, d->neurons[s], &d->n_sel[s], err);
    }
    nsid_alloc_free(ids);
    nsid_alloc_free(pick);
    nsid_alloc_free(sp);
    return rc;
}

/* Coordinates and match ids of the selected neurons, and the network metadata of scan s. */
static int scan_meta(struct nsid_run_data *d, int s, struct nsid_err *err)
{
    const struct nsid_scan *sc = &d->scans[s];
    int64_t n = d->n_sel[s];
    const int64_t *sel = d->neurons[s];
    if (sc->cell_motor_coordinates) {
        if (!(d->coords[s] = NSID_ALLOC((size_t)n * 3 * sizeof(double), err))) return NSID_ENOMEM;
        for (int64_t j = 0; j < n; j++)
            memcpy(d->coords[s] + j * 3, sc->cell_motor_coordinates + (sel ? sel[j] : j) * 3, 3 * sizeof(double));
    }
    if (sc->multi_match_id) {
        if (!(d->match[s] = NSID_ALLOC((size_t)n * sizeof(int64_t), err))) return NSID_ENOMEM;
        for (int64_t j = 0; j < n; j++) d->match[s][j] = sc->multi_match_id[sel ? sel[j] : j];
    }
    if (sc->unit_ids) {
        if (!(d->units[s] = NSID_ALLOC((size_t)n * sizeof(int64_t), err))) return NSID_ENOMEM;
        for (int64_t j = 0; j < n; j++) d->units[s][j] = sc->unit_ids[sel ? sel[j] : j];
    }
    struct nsid_model_scan *m = &d->mscans[s];
    memset(m, 0, sizeof *m);
    m->data_key = sc->data_key;
    m->n_neurons = (int)n;
    m->n_trials = sc->n_trials;
    m->channels = sc->channels;
    m->height = sc->height;
    m->width = sc->width;
    m->coords = d->coords[s];
    m->match_ids = d->match[s];
    m->unit_ids = d->units[s];
    m->neuron_index = sel;
    return 0;
}

static int alloc_arrays(struct nsid_run_data *d, int n, struct nsid_err *err)
{
    size_t k = (size_t)n;
    d->scans = NSID_CALLOC(k * sizeof *d->scans, err);
    d->views = NSID_CALLOC(k * sizeof *d->views, err);
    d->mscans = NSID_CALLOC(k * sizeof *d->mscans, err);
    d->neurons = NSID_CALLOC(k * sizeof *d->neurons, err);
    d->coords = NSID_CALLOC(k * sizeof *d->coords, err);
    d->match = NSID_CALLOC(k * sizeof *d->match, err);
    d->units = NSID_CALLOC(k * sizeof *d->units, err);
    d->n_sel = NSID_CALLOC(k * sizeof *d->n_sel, err);
    return d->scans && d->views && d->mscans && d->neurons && d->coords && d->match && d->units && d->n_sel ? 0 : NSID_ENOMEM;
}

int nsid_rundata_load(struct nsid_run_data *d, const struct nsid_config *c, const char *const *paths, int n,
                       struct nsid_err *err)
{
    memset(d, 0, sizeof *d);
    if (n < 1) return nsid_err_set(err, NSID_EINVAL, NULL, 0, "--data", "no scan given (--data PATH, repeatable)");
    for (int s = 0; s < n; s++) {
        struct stat st;
        if (stat(paths[s], &st) != 0)
            return nsid_err_set(err, NSID_ENOTFOUND, paths[s], 0, "--data", "no such file or folder");
    }
    int rc = alloc_arrays(d, n, err);
    if (rc < 0) goto fail;
    struct nsid_scan_opts so = {.drop_nonfinite = c->data.drop_nan_trials,
                                .skip_behavior = !c->model.shifter && !c->model.modulator,
                                .need_pupil_center = c->model.shifter,
                                .need_behavior = c->model.modulator,
                                .skip_extra = true};
    for (int s = 0; s < n; s++) {
        if ((rc = nsid_scan_load(&d->scans[s], paths[s], &so, err)) < 0) goto fail;
        d->n_scans = s + 1;
        nsid_plausible_scan(&d->scans[s], &so); /* warnings only: negative responses, extreme outliers */
        /* a shifter reads the pupil centre of every trial, a modulator the behaviour */
        if (c->model.shifter && !d->scans[s].pupil_center) {
            rc = nsid_err_set(err, NSID_EINVAL, paths[s], 0, "model.shifter.enabled",
                              "the shifter needs the pupil centre of every trial, and this scan has none");
            goto fail;
        }
        if (c->model.modulator && !d->scans[s].behavior) {
            rc = nsid_err_set(err, NSID_EINVAL, paths[s], 0, "model.modulator.enabled",
                              "the modulator needs the behaviour of every trial, and this scan has none");
            goto fail;
        }
    }
    if ((rc = select_neurons(d, c, err)) < 0) goto fail;
    for (int s = 0; s < n; s++) {
        struct nsid_view_opts vo = {.image_n = c->data.image_n,
                                    .image_base_seed = (uint64_t)c->data.image_base_seed,
                                    .neurons = d->neurons[s],
                                    .n_neurons = d->neurons[s] ? d->n_sel[s] : 0,
                                    .norm = {.zscore_images = c->data.normalize_images,
                                             .recompute_nonfinite = c->data.drop_nan_trials}};
        if ((rc = nsid_batch_view_init(&d->views[s], &d->scans[s], &vo, err)) < 0) goto fail;
        if ((rc = scan_meta(d, s, err)) < 0) goto fail;
    }
    return 0;
fail:
    if (d->n_scans == 0) d->n_scans = n;
    nsid_rundata_free(d);
    return rc;
}

/* Swap scans i and j with everything that belongs to them. */
static void swap_scans(struct nsid_run_data *d, int i, int j)
{
#define SWAP(a)                       \
    do {                              \
        __typeof__(d->a[0]) t_ = d->a[i]; \
        d->a[i] = d->a[j];            \
        d->a[j] = t_;                 \
    } while (0)
    SWAP(scans);
    SWAP(views);
    SWAP(mscans);
    SWAP(neurons);
    SWAP(coords);
    SWAP(match);
    SWAP(units);
    SWAP(n_sel);
#undef SWAP
    for (int k = 0; k < 2; k++) { /* the views and metadata point at their scan */
        int s = k ? j : i;
        d->views[s].scan = &d->scans[s];
        d->mscans[s].data_key = d->scans[s].data_key;
    }
}

int nsid_rundata_order(struct nsid_run_data *d, const char *const *keys, int n, struct nsid_err *err)
{
    if (n != d->n_scans)
        return nsid_err_set(err, NSID_ESHAPE, NULL, 0, "--data", "%d scans given, the checkpoint has readouts for %d",
                            d->n_scans, n);
    for (int s = 0; s < n; s++) {
        int found = -1;
        for (int j = s; j < n && found < 0; j++)
            if (strcmp(d->scans[j].data_key, keys[s]) == 0) found = j;
        if (found < 0)
            return nsid_err_set(err, NSID_ENOTFOUND, NULL, 0, "--data",
                                "no scan has data key '%s', which the checkpoint has a readout for", keys[s]);
        if (found != s) swap_scans(d, s, found);
    }
    return 0;
}

void nsid_rundata_free(struct nsid_run_data *d)
{
    if (!d) return;
    for (int s = 0; s < d->n_scans; s++) {
        if (d->views) nsid_batch_view_free(&d->views[s]);
        if (d->scans) nsid_scan_free(&d->scans[s]);
        if (d->neurons) nsid_alloc_free(d->neurons[s]);
        if (d->coords) nsid_alloc_free(d->coords[s]);
        if (d->match) nsid_alloc_free(d->match[s]);
        if (d->units) nsid_alloc_free(d->units[s]);
    }
    nsid_alloc_free(d->scans);
    nsid_alloc_free(d->views);
    nsid_alloc_free(d->mscans);
    nsid_alloc_free(d->neurons);
    nsid_alloc_free(d->coords);
    nsid_alloc_free(d->match);
    nsid_alloc_free(d->units);
    nsid_alloc_free(d->n_sel);
    memset(d, 0, sizeof *d);
}
