/*
 * scan.h - one recorded (or simulated) scan in memory.
 *
 * A scan is what one file holds: trials (images shown and the responses of
 * every neuron to them), per-trial metadata (tier, frame_image_id, ...),
 * per-neuron metadata (unit_ids, cell_motor_coordinates, multi_match_id, ...)
 * and the statistics block. Both on-disk layouts of the authors' tools map
 * onto it one to one (docs/paper.md §5.3):
 *
 *     HDF5 StaticImageSet            file tree (FileTreeDataset)      here
 *     images (T,1,H,W)               data/images/<i>.npy              images
 *     responses (T,N)                data/responses/<i>.npy           responses
 *     behavior (T,3)                 data/behavior/<i>.npy            behavior (or NULL)
 *     pupil_center (T,2)             data/pupil_center/<i>.npy        pupil_center (or NULL)
 *     <other> (T,...)                data/<other>/<i>.npy             extra
 *     tiers (T,) strings             meta/trials/tiers.npy            tiers + trials["tiers"]
 *     item_info/<k>                  meta/trials/<k>.npy              trials
 *     neurons/<k>                    meta/neurons/<k>.npy             neurons
 *     statistics/<d>/<s>/<m>         meta/statistics/<d>/<s>/<m>.npy  stats ("<d>/<s>/<m>")
 *     ground_truth/<k> (simulator)   meta/ground_truth/<k>.npy        ground_truth
 *     attribute config_json          config.json                      config_json
 *
 * The metadata lists keep every field of the file as it was stored (dtype,
 * shape, strings), so converting between layouts is lossless; the typed
 * fields (tiers, frame_image_id, unit_ids, ...) are decoded copies for use.
 * One owner: nsid_scan_free releases everything.
 *
 * Reading (any layout; see h5scan.h and tree.h for the two formats):
 *
 *     struct nsid_scan s;
 *     struct nsid_scan_opts opt = {0};          // defaults: NaN/Inf is an error
 *     struct nsid_err err = {0};
 *     if (nsid_scan_load(&s, "static20457-5-9-preproc0", &opt, &err) < 0) {
 *         nsid_err_print(&err, stderr);         // s is zeroed: nothing half-loaded
 *         return 1;
 *     }
 *     ... s.images, s.responses, s.tiers ...
 *     nsid_scan_free(&s);
 *
 * Building one in memory (the simulator): nsid_scan_init, set the sizes,
 * allocate images/responses/... with NSID_ALLOC, put metadata into the lists
 * (nsid_scan_arrays_add / nsid_scan_arrays_add_i64 / ...), set the typed fields or call
 * nsid_scan_validate, which decodes them from the lists and checks shapes.
 * The writers take metadata from the lists; a typed field whose list entry is
 * missing (unit_ids set but no neurons["unit_ids"]) is written from the typed
 * field, and a typed field that disagrees with its list entry is an error.
 */
#ifndef NSID_SCAN_H
#define NSID_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define NSID_KEY_MAX 128
#define NSID_PATH_MAX 4096
#define NSID_ARRAY_MAXDIM 4

enum nsid_tier {
    NSID_TIER_TRAIN = 0,
    NSID_TIER_VALIDATION = 1,
    NSID_TIER_TEST = 2,
    NSID_TIER_COUNT = 3,
};

/* Element types a metadata array may hold (the stored type is kept). */
enum nsid_dtype {
    NSID_DT_F32, NSID_DT_F64,
    NSID_DT_I8, NSID_DT_I16, NSID_DT_I32, NSID_DT_I64,
    NSID_DT_U8, NSID_DT_U16, NSID_DT_U32, NSID_DT_U64,
    NSID_DT_BOOL,
    NSID_DT_STR,  /* fixed-width UTF-8, itemsize bytes per element, NUL-padded */
    NSID_DT_COUNT,
};

/*
 * A named n-d array in native byte order, row-major.
 *
 * Strings: each element is itemsize bytes, NUL-padded (not necessarily
 * NUL-terminated when it fills the width). A numpy '<Un' array is held as
 * UTF-8 with itemsize 4n (the most n code points can take), so writing it
 * back gives '<Un' again; '|Sn' and HDF5 fixed strings keep their byte size.
 */
struct nsid_array {
    char name[NSID_KEY_MAX];     /* field name, e.g. "unit_ids" or "responses/all/std" */
    int dtype;                   /* enum nsid_dtype */
    int ndim;                    /* 0..4 */
    int64_t shape[NSID_ARRAY_MAXDIM];
    size_t itemsize;             /* bytes per element (STR: max string bytes) */
    bool str_unicode;            /* STR came from numpy '<U' / HDF5 UTF-8 (else bytes '|S' / ASCII) */
    bool str_vlen;               /* STR came from an HDF5 variable-length string */
    void *data;                  /* owned; numel * itemsize bytes */
};

struct nsid_arrays {
    struct nsid_array *a;        /* (n) */
    int n, cap;
};

struct nsid_scan {
    char data_key[NSID_KEY_MAX]; /* e.g. "20457-5-9-0" (docs/paper.md §5.2) */
    char path[NSID_PATH_MAX];    /* where it was read from, "" if built in memory */
    int64_t n_trials;            /* T */
    int64_t n_neurons;           /* N */
    int channels, height, width; /* image shape (1, 36, 64 in the paper) */

    float *images;               /* (T, C, H, W) as stored: 0..255 grayscale */
    float *responses;            /* (T, N) as stored (not normalised) */
    float *behavior;             /* (T, 3) or NULL */
    float *pupil_center;         /* (T, 2) or NULL */

    int8_t *tiers;               /* (T) enum nsid_tier */
    int64_t *frame_image_id;     /* (T) groups repeats of one image; NULL if absent */
    int64_t *unit_ids;           /* (N) NULL if absent */
    double *cell_motor_coordinates; /* (N, 3) µm, NULL if absent */
    int64_t *multi_match_id;     /* (N) -1 = unmatched; NULL if absent */
    int64_t *animal_ids;         /* (N) or NULL */

    struct nsid_arrays trials;       /* every per-trial field as stored (item_info) */
    struct nsid_arrays neurons;      /* every per-neuron field as stored */
    struct nsid_arrays stats;        /* "<data>/<all|stimulus_frame>/<mean|std|...>" */
    struct nsid_arrays ground_truth; /* simulator's truth, empty for recordings */
    char *config_json;               /* file tree config.json text, or NULL */

    /* Element type each data array had on disk (enum nsid_dtype; 0 = F32, the
     * default for scans built in memory). The writers store that type again,
     * so uint8 images stay uint8; the arrays above are always float32. */
    int images_dtype, responses_dtype, behavior_dtype, pupil_center_dtype;
    struct nsid_arrays extra;        /* other per-trial data arrays, (T, ...) each, as stored */
};

/* Options of loading and checking. Zero-initialise for the defaults. */
struct nsid_scan_opts {
    bool drop_nonfinite;     /* drop trials with NaN/Inf in images or responses (default: error) */
    bool allow_empty_tier;   /* accept an empty train/validation/test tier (default: error) */
    bool skip_behavior;      /* don't read behavior and pupil_center (fewer files in a tree) */
    /* The trace is a model input (a shifter reads pupil_center, a modulator behavior): NaN/Inf
     * in it is treated as in images and responses (an error, or the trial is dropped). */
    bool need_pupil_center, need_behavior;
    bool skip_extra;         /* don't read data arrays other than the four above */
    /* Warnings (dropped trials, skipped objects, constant neurons). NULL: print
     * "warning: ..." to stderr. */
    void (*warn)(void *ctx, const char *msg);
    void *warn_ctx;
};

/* Zero a scan (no allocation). */
void nsid_scan_init(struct nsid_scan *s);
/* Release everything a scan owns and zero it; safe on a zeroed scan and on NULL. */
void nsid_scan_free(struct nsid_scan *s);

/*
 * The data key from a path, the authors' rule applied to the last path
 * component: the text after the last "static", up to the first '.', with
 * "preproc" and "_nobehavior" removed: ".../static20457-5-9-preproc0.h5" and
 * ".../static20457-5-9-preproc0/" both give "20457-5-9-0". Without "static"
 * the component up to its first '.' is the key ("scan1.h5" -> "scan1").
 */
void nsid_scan_data_key(const char *path, char *key, size_t n);

/* Tier names: "train", "validation", "test"; parse returns -1 if unknown. */
const char *nsid_scan_tier_name(int tier);
int nsid_scan_tier_parse(const char *name);

/* dtype helpers: bytes per element (STR: 0, it has its own itemsize) and a
 * numpy-like name ("float32", "uint8", "str", ...). */
size_t nsid_scan_dtype_size(int dtype);
const char *nsid_scan_dtype_name(int dtype);
bool nsid_scan_dtype_is_int(int dtype);

/* Metadata lists: add a copy (data copied), find by name. */
int nsid_scan_arrays_add(struct nsid_arrays *l, const struct nsid_array *a, struct nsid_err *err);
struct nsid_array *nsid_scan_arrays_find(const struct nsid_arrays *l, const char *name);
void nsid_scan_arrays_free(struct nsid_arrays *l);
size_t nsid_scan_array_numel(const struct nsid_array *a);

/*
 * Add a taking ownership of a->data (no copy; a->data is set to NULL). On
 * error a->data is freed. A name already in the list is an error.
 */
int nsid_scan_arrays_take(struct nsid_arrays *l, struct nsid_array *a, struct nsid_err *err);
/* Remove and free the entry called name; returns false if there was none. */
bool nsid_scan_arrays_remove(struct nsid_arrays *l, const char *name);
/* Deep copy src into dst (dst is overwritten, not freed). */
int nsid_scan_arrays_copy(struct nsid_arrays *dst, const struct nsid_arrays *src, struct nsid_err *err);
/* Convenience: add a 1-d or 2-d int64 / float64 array (copied). cols = 0 for 1-d. */
int nsid_scan_arrays_add_i64(struct nsid_arrays *l, const char *name, const int64_t *v, int64_t rows,
                        int64_t cols, struct nsid_err *err);
int nsid_scan_arrays_add_f64(struct nsid_arrays *l, const char *name, const double *v, int64_t rows,
                        int64_t cols, struct nsid_err *err);
int nsid_scan_arrays_add_f32(struct nsid_arrays *l, const char *name, const float *v, int64_t rows,
                        int64_t cols, struct nsid_err *err);
/* Add n strings as a fixed-width string array (width = longest, UTF-8 if unicode). */
int nsid_scan_arrays_add_str(struct nsid_arrays *l, const char *name, const char *const *v, int64_t n,
                        bool unicode, struct nsid_err *err);

/* Free the data of one array and zero it. */
void nsid_scan_array_free(struct nsid_array *a);
/* Element i of a numeric array as double / int64 (BOOL gives 0 or 1). */
double nsid_scan_array_get_f64(const struct nsid_array *a, size_t i);
int64_t nsid_scan_array_get_i64(const struct nsid_array *a, size_t i);
/* Copy string element i of a STR array into buf as a NUL-terminated string. */
void nsid_scan_array_get_str(const struct nsid_array *a, size_t i, char *buf, size_t n);

/*
 * Check a scan and decode its typed fields; the loaders call it last, the
 * simulator may call it after building a scan.
 *   - sizes: T, N, C, H, W > 0; images and responses present;
 *   - every per-trial list array has T rows, every per-neuron one N rows,
 *     cell_motor_coordinates is (N, 3);
 *   - tiers from trials["tiers"] (or the typed field): unknown names are an error;
 *   - decodes frame_image_id, unit_ids, cell_motor_coordinates, multi_match_id,
 *     animal_ids from the lists where present (numeric dtypes only);
 *   - NaN/Inf in images or responses: an error, or with opt->drop_nonfinite
 *     those trials are removed from every per-trial array (a warning says how
 *     many); the same for behavior and pupil_center when opt->need_behavior /
 *     opt->need_pupil_center say a model reads them, otherwise NaN/Inf there is a
 *     warning; NaN/Inf in cell_motor_coordinates: always an error;
 *   - an empty train, validation or test tier: an error unless allowed.
 * On error the scan is left as it was (the caller frees it).
 */
int nsid_scan_validate(struct nsid_scan *s, const struct nsid_scan_opts *opt, struct nsid_err *err);

/* Trials of each tier: counts[NSID_TIER_COUNT]. */
void nsid_scan_tier_counts(const struct nsid_scan *s, int64_t counts[NSID_TIER_COUNT]);

/* Issue a warning through opt (or stderr). */
void nsid_scan_warn(const struct nsid_scan_opts *opt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Load a scan from path, whichever layout it has: an HDF5 file (detected by
 * its signature, not its name) or a file-tree folder (tree.h). A ".zip" is
 * not read: if the folder it unzips to exists beside it, that folder is read
 * (as the authors' loader does), otherwise the error says to unzip it.
 * On error s is zeroed and err names the file, the key and what was expected
 * versus found.
 */
int nsid_scan_load(struct nsid_scan *s, const char *path, const struct nsid_scan_opts *opt,
                   struct nsid_err *err);

struct nsid_save_opts {
    int gzip;            /* HDF5: deflate level 1..9, 0 = none */
    bool keep_bytes;     /* tree: byte strings stay '|S' (default '<U', as the authors' converter) */
    bool overwrite;      /* replace an existing file or folder (default: refuse) */
};

/*
 * Save s to path: HDF5 if the name ends in .h5, .hdf5 or .hdf, otherwise a
 * file tree. Atomic either way (see h5scan.h, tree.h). opt may be NULL.
 */
int nsid_scan_save(const struct nsid_scan *s, const char *path, const struct nsid_save_opts *opt,
                   struct nsid_err *err);

/* True if path names an HDF5 file by its extension (.h5, .hdf5, .hdf). */
bool nsid_scan_path_is_h5_name(const char *path);

#endif
