/*
 * rundata.h - the scans of a run as its configuration selects them: loaded files, neuron
 * and image subsets (docs/paper.md §5.5), transforms (§5.4), and the metadata the network is
 * built from. nsid-train and nsid-eval build it the same way, so a checkpoint always meets
 * the neurons it was trained on.
 *
 *     struct nsid_run_data d;
 *     if (nsid_rundata_load(&d, &config, paths, n_paths, &err) < 0) ...   // err names the file
 *     nsid_net_init(&model, &config, d.mscans, d.n_scans, isa, &err);
 *     ... d.views[s] feeds readout s ...
 *     nsid_rundata_free(&d);
 *
 * Subsets (data.*): neuron_n neurons per scan (seed neuron_base_seed * neuron_n, the first
 * exclude_neuron_n drawn are dropped); or multi_match_n matched ids common to every scan
 * (seed multi_match_base_seed * multi_match_n; with multi_match_heldout_n a clean split into
 * held-out and core ids first, multi_match_heldout picks from the held-out ones), each scan
 * keeping its neurons with those ids in file order; image_n training images per scan (seed
 * image_base_seed * image_n). Validation and test tiers are always complete. Responses are
 * divided by their per-neuron std (floored); images are raw unless data.normalize_images.
 */
#ifndef NSID_RUNDATA_H
#define NSID_RUNDATA_H

#include <stdint.h>

#include "base/err.h"
#include "data/batch.h"
#include "data/scan.h"
#include "exp/config.h"
#include "nn/model.h"

struct nsid_run_data {
    int n_scans;
    struct nsid_scan *scans;         /* (n_scans) loaded files, in --data order */
    struct nsid_view *views;         /* (n_scans) what the model sees of each */
    struct nsid_model_scan *mscans;  /* (n_scans) network metadata (pointers into the arrays below) */
    int64_t **neurons;               /* (n_scans) selected neuron indices (NULL: all) */
    double **coords;                 /* (n_scans) (N_sel, 3) cell_motor_coordinates of the selection, or NULL */
    int64_t **match;                 /* (n_scans) (N_sel) multi_match_id of the selection, or NULL */
    int64_t **units;                 /* (n_scans) (N_sel) unit_ids of the selection, or NULL (the scan has
                                        none: the identity is the neuron index, d->neurons) */
    int64_t *n_sel;                  /* (n_scans) neurons selected */
};

/*
 * Load the scans at paths (HDF5 files or file-tree folders; a missing path is
 * NSID_ENOTFOUND naming it) and apply the selection of c. On error d is zeroed.
 */
int nsid_rundata_load(struct nsid_run_data *d, const struct nsid_config *c, const char *const *paths, int n,
                       struct nsid_err *err);

/*
 * Reorder the scans so that scan s has data key keys[s] (the order of a checkpoint's
 * readouts). Fails naming the first key no scan has, or a scan no key names.
 */
int nsid_rundata_order(struct nsid_run_data *d, const char *const *keys, int n, struct nsid_err *err);

void nsid_rundata_free(struct nsid_run_data *d);

#endif
