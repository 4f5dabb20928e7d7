/*
 * checkpoint.h - model checkpoints in HDF5, laid out like PyTorch's state_dict.
 *
 * A checkpoint holds every tensor of a model under the name neuralpredictors
 * v0.0.x's state_dict() gives it, with '.' replaced by '/', in PyTorch's shape
 * and row-major order:
 *
 *     /core/features/layer0/conv/weight           float32 (64,1,15,15)
 *     /core/features/layer0/norm/running_mean     float32 (64)
 *     /core/features/layer0/norm/num_batches_tracked   int64 scalar
 *     /readout/<data_key>/sigma                   float32 (1,N,2,2)
 *     /readout/<key2>/_features                   hard link to the owner's
 *                                                 _features (feature sharing:
 *                                                 PyTorch lists it per scan)
 *     /_optimizer/{m,v}/<same paths>              Adam moments (optional;
 *                                                 attribute "step")
 *     /_neurons/<data_key>                        int64 (N): the identity of each
 *                                                 neuron of readout <data_key>;
 *                                                 attribute "identity" = "unit_ids"
 *                                                 or "neuron_index" (a scan without
 *                                                 unit ids: indices in its file)
 *
 * Tensors PyTorch declares as int64 that the float table holds as floats
 * (feature_sharing_index) are stored as int64, so torch gets its dtype back.
 *
 * Root attributes: "magic" = "nsid-checkpoint", "format_version" (int32),
 * "architecture" (text, the model config as JSON; whatever the caller gives),
 * "n_entries" (int64: state_dict entries, a cross-check against lost or
 * foreign datasets). Float tensors are stored chunked with HDF5's Fletcher-32
 * checksum, so a flipped bit in the data is an error on load, not a silently
 * wrong weight. Everything under /_optimizer is training state, and /_neurons
 * the neurons' identity, kept apart from the state_dict (not counted in
 * n_entries): scripts/nsid2torch.py ignores both.
 *
 * Neuron identity: a readout's tensors are per neuron, so they mean something
 * only for the neurons, in the order, they were trained on. Every load of a
 * readout (its "readout.<key>." entries under the load's prefix) first
 * compares /_neurons/<key> with the model's ids; a different order, subset or
 * count is refused naming the readout, the first differing neuron index and
 * both ids. A checkpoint without /_neurons (converted from PyTorch) loads,
 * with a warning that the identity could not be checked.
 *
 * A checkpoint is described by struct nsid_checkpoint: the parameter table
 * (float weights and buffers) plus the few entries the table cannot hold
 * (int64 tensors, names that alias another tensor). The model fills it
 * (nsid_model_checkpoint); tools and tests may fill it by hand:
 *
 *     struct nsid_checkpoint ck = { .ps = &ps, .arch = "{\"layers\":3}" };
 *     if (nsid_checkpoint_save(&ck, "run/checkpoint.h5", true, &err) < 0) ...
 *     struct nsid_checkpoint_load_opts o = { .prefix = "core." };  // transfer
 *     if (nsid_checkpoint_load(&ck, "best_core.h5", &o, &err) < 0) ...
 *
 * Saving is atomic: the file is written to "<path>.tmp<pid>", flushed to disk
 * and renamed over path, so a crash never leaves a half-written checkpoint
 * under the real name. Loading is all or nothing: every name, rank, shape and
 * dtype is checked and every value read into scratch memory before anything
 * in the model changes; on error the model is untouched and err names the
 * tensor with the expected and the actual shape.
 *
 * HDF5's own error printing is switched off during these calls (and restored
 * after); its innermost message is appended to ours instead.
 */
#ifndef NSID_CHECKPOINT_H
#define NSID_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "nn/params.h"

#define NSID_CHECKPOINT_MAGIC "nsid-checkpoint"
#define NSID_CHECKPOINT_VERSION 1
#define NSID_CHECKPOINT_OPT_GROUP "_optimizer"
#define NSID_CHECKPOINT_IDS_GROUP "_neurons"

/*
 * An int64 state_dict entry (the parameter table holds floats only):
 * BatchNorm's num_batches_tracked (scalar) or a readout's
 * feature_sharing_index (N).
 */
struct nsid_checkpoint_i64 {
    char name[NSID_PARAM_NAME_MAX]; /* state_dict name, '.'-separated */
    int ndim;                       /* 0 (scalar) or 1 */
    int64_t len;                    /* elements: 1 for a scalar */
    int64_t *data;                  /* (len) save reads it; load writes it (or checks it, see fixed) */
    bool fixed;                     /* load: derived from metadata, the file must hold the same values */
};

/*
 * A state_dict name that PyTorch lists for a tensor owned under another name
 * (a non-owner readout's _features when features are shared). Saved as an
 * HDF5 hard link; on load the name must exist with the target's shape and
 * values.
 */
struct nsid_checkpoint_alias {
    char name[NSID_PARAM_NAME_MAX];   /* e.g. "readout.scan2._features" */
    char target[NSID_PARAM_NAME_MAX]; /* a tensor of the table, e.g. "readout.scan1._features" */
};

/*
 * The identity of the neurons of one readout: the unit ids of the neurons (in
 * readout order, after the run's neuron selection), or, for a scan without
 * unit ids, their indices in the scan file (by_index).
 */
struct nsid_checkpoint_ids {
    char key[NSID_PARAM_NAME_MAX];  /* the readout's data key; its tensors are "readout.<key>.*" */
    const int64_t *ids;             /* (n) */
    int64_t n;
    bool by_index;                  /* ids are neuron indices (the scan has no unit ids) */
};

/* What a checkpoint holds. Nothing here is owned by the struct. */
struct nsid_checkpoint {
    struct nsid_params *ps;                     /* float tensors (weights and buffers), Adam state */
    struct nsid_checkpoint_i64 *ints;           /* (n_ints) int64 entries */
    int n_ints;
    const struct nsid_checkpoint_alias *aliases; /* (n_aliases) */
    int n_aliases;
    const char *const *fixed;                   /* (n_fixed) names of table tensors derived from
                                                   metadata (a readout's source_grid): a load checks
                                                   the file agrees (1e-6) and keeps the model's values */
    int n_fixed;
    const struct nsid_checkpoint_ids *ids;      /* (n_ids) neuron identity per readout (may be 0) */
    int n_ids;
    const char *arch;                           /* architecture text for save; NULL saves "{}" */
};

struct nsid_checkpoint_load_opts {
    const char *prefix; /* NULL or "": the whole state_dict, strictly (no missing, no extra entry).
                           "core.": only entries whose name starts with it, strictly within it;
                           everything else in the file and in the model is left alone (transfer) */
    bool optimizer;     /* also restore Adam m, v and step (whole model only; the file must have them) */
    /* Warnings (a checkpoint without neuron identity). NULL: "warning: ..." to stderr. */
    void (*warn)(void *ctx, const char *msg);
    void *warn_ctx;
};

/*
 * Write ck to path atomically (temporary file + rename). with_optimizer also
 * writes Adam's m, v and step count under /_optimizer. Names must not contain
 * '/' (PyTorch module names cannot). On failure nothing exists at path that
 * was not there before, and err names the path and the tensor.
 */
int nsid_checkpoint_save(const struct nsid_checkpoint *ck, const char *path, bool with_optimizer,
                         struct nsid_err *err);

/*
 * Load path into ck (opts may be NULL: whole state_dict, no optimizer). Checks
 * magic, format version, the entry count, and every name, dtype, rank and
 * shape; a missing entry, an entry the model does not have, a shape mismatch,
 * a checksum failure or a truncated file is an error naming the tensor and
 * the expected and actual shapes. Before any tensor, the neuron identity of
 * every readout loaded (ck->ids whose "readout.<key>." lies under the prefix)
 * is compared with /_neurons/<key>: NSID_ESHAPE naming the readout, the first
 * differing neuron and both ids. On error nothing in ck is modified.
 */
int nsid_checkpoint_load(struct nsid_checkpoint *ck, const char *path,
                         const struct nsid_checkpoint_load_opts *opts, struct nsid_err *err);

/*
 * Read the "architecture" attribute of path into a new NUL-terminated string
 * (*arch, release with nsid_alloc_free), after checking magic and version. Used to
 * rebuild the model before loading its tensors.
 */
int nsid_checkpoint_read_arch(const char *path, char **arch, struct nsid_err *err);

#endif
