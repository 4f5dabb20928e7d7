/*
 * h5scan.h - the HDF5 StaticImageSet layout of the authors' tools (docs/paper.md §5.3).
 *
 *     /images        (T, C, H, W) or (T, H, W)   float or integer   required
 *     /responses     (T, N)                      float or integer   required
 *     /behavior      (T, 3)                      float              optional
 *     /pupil_center  (T, 2)                      float              optional
 *     /tiers         (T,) strings                fixed or variable length, ASCII or UTF-8
 *     /item_info/<k>     per-trial arrays  -> scan.trials  (nested groups give "a/b" names)
 *     /neurons/<k>       per-neuron arrays -> scan.neurons
 *     /statistics/<d>/<all|stimulus_frame>/<mean|std|min|max|median> -> scan.stats "<d>/<s>/<m>"
 *     /ground_truth/<k>  simulator's truth -> scan.ground_truth
 *     other top-level datasets with T rows -> scan.extra
 *     root attribute "config_json" (written by nsid from a file tree's config.json)
 *
 * Every dataset's rank, shape and type class are checked when it is opened;
 * the errors name the file and dataset and say what was expected versus found
 * (a truncated or corrupt file gives HDF5's own reason). Types: integers of
 * 1-8 bytes, float32/64, h5py's bool enum, strings. Anything else (compound,
 * float16, references, ...) is refused.
 *
 * Writing is atomic: the file is written as ".<name>.tmp.XXXXXX" in the target
 * folder, flushed, and renamed over path only when complete, so a failed or
 * interrupted write never leaves a file that claims to be a scan. Strings are
 * written as stored (bytes as ASCII, unicode as UTF-8, variable-length where
 * they were), bools as h5py's enum, so h5py reads back the numpy dtypes.
 */
#ifndef NSID_H5SCAN_H
#define NSID_H5SCAN_H

#include <stdbool.h>

#include "data/scan.h"

/*
 * Read an HDF5 scan. s is overwritten (not freed first). On error s is zeroed
 * and err is set; nothing is half-loaded. opt may be NULL (defaults).
 */
int nsid_h5scan_load(struct nsid_scan *s, const char *path, const struct nsid_scan_opts *opt,
                      struct nsid_err *err);

struct nsid_h5_save_opts {
    int gzip;            /* 0 = contiguous, uncompressed (default); 1..9 = chunked + deflate */
};

/*
 * Write s to path atomically (see above). opt may be NULL. s is not changed.
 * Errors: unwritable folder, a typed field disagreeing with its list entry,
 * data that cannot be stored exactly in its recorded dtype (e.g. images
 * holding 0.5 with images_dtype uint8).
 */
int nsid_h5scan_save(const struct nsid_scan *s, const char *path, const struct nsid_h5_save_opts *opt,
                      struct nsid_err *err);

/* True if path starts with the HDF5 signature (at offset 0). */
bool nsid_h5scan_is_h5(const char *path);

#endif
