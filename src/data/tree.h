/*
 * tree.h - the FileTreeDataset layout of the authors' tools (docs/paper.md §5.3).
 *
 *     <root>/config.json                       {"links": {...}} (optional)
 *     <root>/data/<kind>/<i>.npy               one file per trial, i = 0..T-1:
 *         images (C, H, W) or (H, W); responses (N,); behavior (3,);
 *         pupil_center (2,); any other kind -> scan.extra (T, ...)
 *     <root>/meta/trials/<key>.npy             per-trial arrays (tiers.npy: strings)
 *     <root>/meta/neurons/<key>.npy            per-neuron arrays
 *     <root>/meta/statistics/<d>/<s>/<m>.npy   statistics ("<d>/<s>/<m>")
 *     <root>/meta/ground_truth/<key>.npy       simulator's truth (nsid only)
 *
 * This is the layout of the publicly released evaluation scan
 * (static20457-5-9-preproc0): unzip it and pass the folder. config.json
 * "links" redirect a data kind to another folder, as FileTreeDataset does
 * (for example {"links": {"responses": "targets"}} reads data/targets/).
 * Every data folder must hold exactly 0.npy .. (T-1).npy with T equal across
 * folders; every file of a kind must have the same shape. Files that are not
 * "<i>.npy" in data folders, and unknown folders in meta/, are skipped with a
 * warning.
 *
 * Writing goes to a temporary folder beside the target, renamed into place
 * when complete (atomic: a failed write leaves nothing that claims to be a
 * scan). Files are written as numpy.save would; byte strings become numpy str
 * ('<U') like the authors' convert_static_h5_dataset_to_folder, unless
 * keep_bytes is set; statistics names are lower-cased with '.' -> '_' as that
 * converter does.
 */
#ifndef NSID_TREE_H
#define NSID_TREE_H

#include <stdbool.h>

#include "data/scan.h"

/*
 * Read a file-tree scan from folder dir. s is overwritten (not freed first).
 * On error s is zeroed and err names the file or folder.
 */
int nsid_tree_load(struct nsid_scan *s, const char *dir, const struct nsid_scan_opts *opt,
                        struct nsid_err *err);

struct nsid_tree_save_opts {
    bool keep_bytes;   /* write byte strings as '|S' (default: as numpy str '<U', like the authors) */
    bool overwrite;    /* replace an existing folder (default: refuse) */
};

/* Write s as a file tree at dir (see above). opt may be NULL. */
int nsid_tree_save(const struct nsid_scan *s, const char *dir, const struct nsid_tree_save_opts *opt,
                        struct nsid_err *err);

/* True if dir looks like a file-tree scan (a folder with data/ and meta/). */
bool nsid_tree_detect(const char *dir);

#endif
