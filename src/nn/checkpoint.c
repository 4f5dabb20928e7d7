/* checkpoint.c - model checkpoints in HDF5 (see checkpoint.h). */
#include "checkpoint.h"

#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/h5util.h"
#include "base/infile.h"

#define PATH_MAX_ 512   /* HDF5 paths: "/_optimizer/m/" + a state_dict name */
#define SHAPE_STR 96

/* ---------------------------------------------------------------- helpers */

/* "a.b.c" -> "<prefix>a/b/c" (prefix "/" or "/_optimizer/m/"). */
static void name_to_path(char *path, const char *prefix, const char *name)
{
    size_t k = (size_t)snprintf(path, PATH_MAX_, "%s", prefix);
    for (size_t i = 0; name[i] && k + 1 < PATH_MAX_; i++) path[k++] = name[i] == '.' ? '/' : name[i];
    path[k] = '\0';
}

/* "a/b/c" (relative to the root) -> "a.b.c". */
static void path_to_name(char *name, size_t n, const char *path)
{
    size_t k = 0;
    for (size_t i = 0; path[i] && k + 1 < n; i++) name[k++] = path[i] == '/' ? '.' : path[i];
    name[k] = '\0';
}

static const char *fmt_shape(char *buf, int ndim, const int64_t *shape)
{
    size_t k = (size_t)snprintf(buf, SHAPE_STR, "(");
    for (int i = 0; i < ndim && k < SHAPE_STR; i++)
        k += (size_t)snprintf(buf + k, SHAPE_STR - k, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (k < SHAPE_STR) snprintf(buf + k, SHAPE_STR - k, ")");
    return buf;
}

static bool has_prefix(const char *name, const char *prefix)
{
    return !prefix || !prefix[0] || strncmp(name, prefix, strlen(prefix)) == 0;
}

/* How an entry is stored in the file and held in memory. */
enum elt {
    ELT_F32,        /* float32 in the file, float in memory */
    ELT_I64,        /* int64 in the file (any integer on load), int64 in memory */
    ELT_F32_AS_I64, /* int64 in the file, float in memory (integer-valued, exact below 2^24) */
};

/*
 * PyTorch buffers of dtype long that the float table holds as floats: their
 * state_dict leaf names (neuralpredictors v0.0.x). Stored as int64 so that
 * torch's load_state_dict gets the dtype it declared.
 */
static const char *const int64_leaves[] = {"feature_sharing_index", "grid_sharing_index", "num_batches_tracked"};

static enum elt param_elt(const char *name)
{
    const char *leaf = strrchr(name, '.');
    leaf = leaf ? leaf + 1 : name;
    for (size_t i = 0; i < sizeof int64_leaves / sizeof int64_leaves[0]; i++)
        if (strcmp(leaf, int64_leaves[i]) == 0) return ELT_F32_AS_I64;
    return ELT_F32;
}

static bool is_fixed(const struct nsid_checkpoint *ck, const char *name)
{
    for (int i = 0; i < ck->n_fixed; i++)
        if (strcmp(ck->fixed[i], name) == 0) return true;
    return false;
}

/* ------------------------------------------------------------------- save */

static int write_string_attr(hid_t loc, const char *key, const char *val)
{
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR);
    H5Tset_size(t, strlen(val) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    hid_t a = H5Acreate2(loc, key, t, s, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, t, val);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    return rc < 0 ? -1 : 0;
}

static int write_int_attr(hid_t loc, const char *key, hid_t ftype, hid_t mtype, const void *val)
{
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, key, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, mtype, val);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return rc < 0 ? -1 : 0;
}

/*
 * One dataset (groups above it made): float32 chunked with Fletcher-32 (ndim > 0), or int64;
 * a scalar (ndim 0) is contiguous (HDF5 cannot chunk it). No timestamps, so the same model
 * gives the same bytes.
 */
static int write_dataset(hid_t fid, hid_t gcpl, const char *path, enum elt elt, int ndim,
                         const int64_t *shape, const void *data)
{
    if (nsid_h5util_parents(fid, path, gcpl) < 0) return -1;
    bool is_float = elt == ELT_F32;
    hsize_t dims[NSID_PARAM_MAXDIM], chunk[NSID_PARAM_MAXDIM];
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = chunk[i] = (hsize_t)shape[i];
        numel *= (size_t)shape[i];
    }
    hid_t dcpl = nsid_h5util_plist(H5P_DATASET_CREATE);
    if (dcpl < 0) return -1;
    if (ndim && is_float) {
        /* A chunk must stay below 4 GiB: halve the leading dimension until it does. */
        while (numel / dims[0] * chunk[0] * 4 > ((size_t)1 << 30) && chunk[0] > 1) chunk[0] = (chunk[0] + 1) / 2;
        H5Pset_chunk(dcpl, ndim, chunk);
        H5Pset_fletcher32(dcpl);
    }
    hid_t ftype = is_float ? H5T_IEEE_F32LE : H5T_STD_I64LE;
    hid_t mtype = is_float ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT64;
    int64_t *conv = NULL;
    if (elt == ELT_F32_AS_I64) {
        struct nsid_err ignored = {0}; /* the caller reports the failure */
        conv = NSID_ALLOC(numel * sizeof *conv, &ignored);
        for (size_t i = 0; conv && i < numel; i++) conv[i] = (int64_t)((const float *)data)[i];
        data = conv;
    }
    int rc = data ? nsid_h5util_put(fid, path, ftype, mtype, ndim, dims, dcpl, data) : -1;
    nsid_alloc_free(conv);
    hid_t held = rc < 0 ? nsid_h5util_errors_hold() : H5I_INVALID_HID; /* the reason, past H5Pclose */
    H5Pclose(dcpl);
    nsid_h5util_errors_restore(held);
    return rc < 0 ? -1 : 0;
}

static int check_names(const struct nsid_checkpoint *ck, const char *path, struct nsid_err *err)
{
    for (int i = 0; i < ck->ps->n; i++)
        if (strchr(ck->ps->p[i].name, '/'))
            return nsid_err_set(err, NSID_EINVAL, path, 0, ck->ps->p[i].name, "a tensor name may not contain '/'");
    for (int i = 0; i < ck->n_ints; i++)
        if (strchr(ck->ints[i].name, '/') || ck->ints[i].ndim < 0 || ck->ints[i].ndim > 1 || ck->ints[i].len < 1 ||
            (ck->ints[i].ndim == 0 && ck->ints[i].len != 1))
            return nsid_err_set(err, NSID_EINVAL, path, 0, ck->ints[i].name,
                                "bad int64 entry (ndim %d, len %lld)", ck->ints[i].ndim, (long long)ck->ints[i].len);
    for (int i = 0; i < ck->n_aliases; i++)
        if (!nsid_params_find(ck->ps, ck->aliases[i].target) || strchr(ck->aliases[i].name, '/'))
            return nsid_err_set(err, NSID_EINVAL, path, 0, ck->aliases[i].name,
                                "alias of '%s', which is not a tensor of the model", ck->aliases[i].target);
    for (int i = 0; i < ck->n_ids; i++)
        if (!ck->ids[i].key[0] || strpbrk(ck->ids[i].key, "./") || ck->ids[i].n < 1 || !ck->ids[i].ids)
            return nsid_err_set(err, NSID_EINVAL, path, 0, ck->ids[i].key,
                                "bad neuron identity entry (%lld ids; a data key without '.' or '/')",
                                (long long)ck->ids[i].n);
    return 0;
}

#define IDS_ATTR "identity"
#define IDS_UNITS "unit_ids"
#define IDS_INDEX "neuron_index"

/* /_neurons/<key>: the neurons' ids, int64 (N), with the kind of identity as an attribute. */
static int write_ids(hid_t fid, hid_t gcpl, const struct nsid_checkpoint_ids *e)
{
    char path[PATH_MAX_];
    snprintf(path, sizeof path, "/" NSID_CHECKPOINT_IDS_GROUP "/%s", e->key);
    if (write_dataset(fid, gcpl, path, ELT_I64, 1, &e->n, e->ids) < 0) return -1;
    hid_t d = H5Dopen2(fid, path, H5P_DEFAULT);
    if (d < 0) return -1;
    int rc = write_string_attr(d, IDS_ATTR, e->by_index ? IDS_INDEX : IDS_UNITS);
    H5Dclose(d);
    return rc;
}

/* Everything of ck into an open, empty file. Returns the failing entry's name via *what. */
static int write_all(const struct nsid_checkpoint *ck, hid_t fid, bool with_opt, const char **what)
{
    const struct nsid_params *ps = ck->ps;
    char path[PATH_MAX_], tpath[PATH_MAX_];
    int32_t version = NSID_CHECKPOINT_VERSION;
    int64_t n_entries = ps->n + ck->n_ints + ck->n_aliases;
    *what = "root attributes";
    if (write_string_attr(fid, "magic", NSID_CHECKPOINT_MAGIC) < 0 ||
        write_int_attr(fid, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT32, &version) < 0 ||
        write_string_attr(fid, "architecture", ck->arch ? ck->arch : "{}") < 0 ||
        write_int_attr(fid, "n_entries", H5T_STD_I64LE, H5T_NATIVE_INT64, &n_entries) < 0)
        return -1;
    hid_t gcpl = nsid_h5util_plist(H5P_GROUP_CREATE);
    if (gcpl < 0) return -1;
    int rc = 0;
    for (int i = 0; i < ps->n && !rc; i++) {
        const struct nsid_param *p = &ps->p[i];
        *what = p->name;
        name_to_path(path, "/", p->name);
        rc = write_dataset(fid, gcpl, path, param_elt(p->name), p->ndim, p->shape, nsid_params_data(ps, p));
    }
    for (int i = 0; i < ck->n_ints && !rc; i++) {
        const struct nsid_checkpoint_i64 *e = &ck->ints[i];
        *what = e->name;
        name_to_path(path, "/", e->name);
        rc = write_dataset(fid, gcpl, path, ELT_I64, e->ndim, &e->len, e->data);
    }
    for (int i = 0; i < ck->n_aliases && !rc; i++) {
        *what = ck->aliases[i].name;
        name_to_path(path, "/", ck->aliases[i].name);
        name_to_path(tpath, "/", ck->aliases[i].target);
        rc = nsid_h5util_parents(fid, path, gcpl);
        if (!rc) rc = H5Lcreate_hard(fid, tpath, fid, path, H5P_DEFAULT, H5P_DEFAULT) < 0 ? -1 : 0;
    }
    for (int i = 0; i < ck->n_ids && !rc; i++) {
        *what = ck->ids[i].key;
        rc = write_ids(fid, gcpl, &ck->ids[i]);
    }
    if (with_opt && !rc) {
        *what = NSID_CHECKPOINT_OPT_GROUP;
        hid_t g = H5Gcreate2(fid, "/" NSID_CHECKPOINT_OPT_GROUP, H5P_DEFAULT, gcpl, H5P_DEFAULT);
        rc = g < 0 ? -1 : 0;
        if (!rc) rc = write_int_attr(g, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &ps->adam_t);
        if (!rc) rc = write_string_attr(g, "kind", "adam");
        if (g >= 0) H5Gclose(g);
        for (int i = 0; i < ps->n && !rc; i++) {
            const struct nsid_param *p = &ps->p[i];
            if (p->kind != NSID_PARAM_WEIGHT) continue;
            *what = p->name;
            name_to_path(path, "/" NSID_CHECKPOINT_OPT_GROUP "/m/", p->name);
            rc = write_dataset(fid, gcpl, path, ELT_F32, p->ndim, p->shape, ps->m + p->offset);
            name_to_path(path, "/" NSID_CHECKPOINT_OPT_GROUP "/v/", p->name);
            if (!rc) rc = write_dataset(fid, gcpl, path, ELT_F32, p->ndim, p->shape, ps->v + p->offset);
        }
    }
    hid_t held = rc ? nsid_h5util_errors_hold() : H5I_INVALID_HID;
    H5Pclose(gcpl);
    nsid_h5util_errors_restore(held);
    return rc;
}

/* Push the file's bytes to disk before the rename makes it visible. */
static int sync_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int nsid_checkpoint_save(const struct nsid_checkpoint *ck, const char *path, bool with_optimizer,
                         struct nsid_err *err)
{
    if (!ck || !ck->ps || !ck->ps->w)
        return nsid_err_set(err, NSID_EINVAL, path, 0, NULL, "checkpoint of an unallocated parameter table");
    if (check_names(ck, path, err) < 0) return err->code;
    char tmp[4096], h5[NSID_H5_REASON_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= sizeof tmp)
        return nsid_err_set(err, NSID_EINVAL, path, 0, NULL, "path too long");
    struct nsid_h5_quiet q;
    nsid_h5util_quiet_begin(&q);
    int rc = 0;
    /* The HDF5 1.10 format: a one-chunk dataset needs no B-tree (files ~4x smaller). */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_LATEST);
    hid_t fid = nsid_h5util_create(tmp, fapl);
    hid_t held = fid < 0 ? nsid_h5util_errors_hold() : H5I_INVALID_HID;
    H5Pclose(fapl);
    nsid_h5util_errors_restore(held);
    if (fid < 0) {
        rc = nsid_err_set(err, NSID_EIO, tmp, 0, NULL, "cannot create checkpoint file: %s", nsid_h5util_reason(h5));
        goto out_remove; /* H5Fcreate may fail after creating it (a full disk) */
    }
    const char *what = "";
    if (write_all(ck, fid, with_optimizer, &what) < 0) {
        rc = nsid_err_set(err, NSID_EIO, tmp, 0, what, "cannot write: %s", nsid_h5util_reason(h5));
        H5Fclose(fid);
        goto out_remove;
    }
    if (H5Fclose(fid) < 0) {
        rc = nsid_err_set(err, NSID_EIO, tmp, 0, NULL, "cannot close (disk full?): %s", nsid_h5util_reason(h5));
        goto out_remove;
    }
    if (sync_file(tmp) < 0 || rename(tmp, path) < 0) {
        rc = nsid_err_set(err, NSID_EIO, path, 0, NULL, "cannot move %s into place", tmp);
        goto out_remove;
    }
    goto out;
out_remove:
    remove(tmp);
out:
    nsid_h5util_quiet_end(&q);
    return rc;
}

/* ------------------------------------------------------------------- load */

/* Every dataset link of the file outside /_optimizer and /_neurons, as a state_dict name. */
struct walk {
    char (*names)[PATH_MAX_];
    int n, cap;
    int bad;          /* a non-dataset object or a soft/external link where a tensor may be */
    char bad_name[PATH_MAX_];
};

/* Is name the root group g or inside it? */
static bool under_group(const char *name, const char *g)
{
    size_t n = strlen(g);
    return strncmp(name, g, n) == 0 && (name[n] == '\0' || name[n] == '/');
}

static herr_t walk_cb(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    struct walk *w = data;
    if (under_group(name, NSID_CHECKPOINT_OPT_GROUP) || under_group(name, NSID_CHECKPOINT_IDS_GROUP)) return 0;
    if (info->type != H5L_TYPE_HARD) {
        w->bad = 1;
        snprintf(w->bad_name, PATH_MAX_, "%s", name);
        return 0;
    }
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) return -1;
    H5I_type_t t = H5Iget_type(o);
    H5Oclose(o);
    if (t != H5I_DATASET) return 0;
    struct nsid_err ignored = {0}; /* the caller reports the failure */
    if (NSID_GROW(w->names, w->n, w->cap, 64, &ignored) < 0) return -1;
    path_to_name(w->names[w->n++], PATH_MAX_, name);
    return 0;
}

static int read_string_attr(hid_t loc, const char *key, char **out)
{
    *out = NULL;
    if (H5Aexists(loc, key) <= 0) return -1;
    hid_t a = H5Aopen(loc, key, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a);
    int rc = -1;
    if (H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            char *v = NULL;
            if (H5Aread(a, mt, &v) >= 0 && v) {
                size_t n = strlen(v);
                struct nsid_err ignored = {0}; /* the caller reports the failure */
                *out = NSID_ALLOC(n + 1, &ignored);
                if (*out) memcpy(*out, v, n + 1), rc = 0;
                H5free_memory(v);
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(t);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, n + 1);
            H5Tset_strpad(mt, H5T_STR_NULLTERM);
            struct nsid_err ignored = {0}; /* the caller reports the failure */
            *out = NSID_CALLOC(n + 1, &ignored);
            if (*out && H5Aread(a, mt, *out) >= 0) rc = 0;
            H5Tclose(mt);
        }
    }
    if (rc < 0) nsid_alloc_free(*out), *out = NULL;
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

static int read_i64_attr(hid_t loc, const char *key, int64_t *val)
{
    if (H5Aexists(loc, key) <= 0) return -1;
    hid_t a = H5Aopen(loc, key, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    int rc = -1;
    if (H5Tget_class(t) == H5T_INTEGER && H5Sget_simple_extent_npoints(s) == 1)
        rc = H5Aread(a, H5T_NATIVE_INT64, val) < 0 ? -1 : 0;
    H5Sclose(s);
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* Magic, version: the file is an nsid checkpoint this build can read. */
static int check_header(hid_t fid, const char *path, struct nsid_err *err)
{
    char *magic = NULL;
    int64_t version = 0;
    if (read_string_attr(fid, "magic", &magic) < 0)
        return nsid_err_set(err, NSID_EFORMAT, path, 0, "magic",
                            "not an nsid checkpoint (no string attribute 'magic'; a PyTorch .pt file? "
                            "convert it with scripts/nsid2torch.py --from-torch)");
    int bad = strcmp(magic, NSID_CHECKPOINT_MAGIC) != 0;
    if (bad) nsid_err_set(err, NSID_EFORMAT, path, 0, "magic", "'%.100s', expected '%s'", magic, NSID_CHECKPOINT_MAGIC);
    nsid_alloc_free(magic);
    if (bad) return NSID_EFORMAT;
    if (read_i64_attr(fid, "format_version", &version) < 0)
        return nsid_err_set(err, NSID_EFORMAT, path, 0, "format_version", "missing integer attribute");
    if (version != NSID_CHECKPOINT_VERSION)
        return nsid_err_set(err, NSID_EFORMAT, path, 0, "format_version",
                            "%lld, this build reads version %d (%s)", (long long)version, NSID_CHECKPOINT_VERSION,
                            version > NSID_CHECKPOINT_VERSION ? "written by a newer nsid" : "an older format");
    return 0;
}

/*
 * Open dataset path, check it holds a float32 (ELT_F32) or integer tensor of
 * the expected shape. name is the state_dict name for messages.
 */
static hid_t open_checked(hid_t fid, const char *dpath, const char *name, enum elt elt, int ndim,
                          const int64_t *shape, const char *file, struct nsid_err *err)
{
    bool is_float = elt == ELT_F32;
    char s1[SHAPE_STR], s2[SHAPE_STR];
    if (H5Lexists(fid, dpath, H5P_DEFAULT) <= 0) {
        nsid_err_set(err, NSID_ENOTFOUND, file, 0, name, "missing in the checkpoint (model expects shape %s)",
                     fmt_shape(s1, ndim, shape));
        return -1;
    }
    hid_t d = H5Dopen2(fid, dpath, H5P_DEFAULT);
    if (d < 0) {
        nsid_err_set(err, NSID_EFORMAT, file, 0, name, "not a dataset");
        return -1;
    }
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    H5T_class_t cls = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    int fnd = H5Sget_simple_extent_ndims(s);
    hsize_t dims[8] = {0};
    int64_t fshape[8] = {0};
    if (fnd >= 0 && fnd <= 8) H5Sget_simple_extent_dims(s, dims, NULL);
    for (int i = 0; i < fnd && i < 8; i++) fshape[i] = (int64_t)dims[i];
    H5Sclose(s);
    H5Tclose(t);
    int rc = 0;
    if (is_float && !(cls == H5T_FLOAT && size == 4))
        rc = nsid_err_set(err, NSID_EFORMAT, file, 0, name, "dtype is %s of %zu bytes, expected float32",
                          cls == H5T_FLOAT ? "float" : cls == H5T_INTEGER ? "integer" : "non-numeric", size);
    else if (!is_float && cls != H5T_INTEGER)
        rc = nsid_err_set(err, NSID_EFORMAT, file, 0, name, "dtype is not an integer, expected int64");
    else if (fnd < 0 || fnd > 8)
        rc = nsid_err_set(err, NSID_EFORMAT, file, 0, name, "unreadable dataspace");
    else {
        int same = fnd == ndim;
        for (int i = 0; same && i < ndim; i++) same = fshape[i] == shape[i];
        if (!same)
            rc = nsid_err_set(err, NSID_ESHAPE, file, 0, name, "shape %s in the checkpoint, model expects %s",
                              fmt_shape(s1, fnd, fshape), fmt_shape(s2, ndim, shape));
    }
    if (rc < 0) {
        H5Dclose(d);
        return -1;
    }
    return d;
}

/* Is the tensor called name a variance (a BatchNorm running_var, Adam's second moment)? */
static bool is_variance(const char *name)
{
    size_t n = strlen(name);
    return (n >= 11 && strcmp(name + n - 11, "running_var") == 0) ||
           strncmp(name, NSID_CHECKPOINT_OPT_GROUP "/v/", sizeof NSID_CHECKPOINT_OPT_GROUP + 2) == 0;
}

/*
 * A checkpoint holds finite numbers only, and variances that are not negative: one NaN weight
 * made every prediction NaN (recorded as a correlation of 0), a negative running variance a NaN
 * after the BatchNorm. The first bad element is named with the tensor and the file.
 */
static int check_values(const float *x, int ndim, const int64_t *shape, const char *name, const char *file,
                        struct nsid_err *err)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    bool var = is_variance(name);
    for (size_t k = 0; k < n; k++) {
        if (!isfinite(x[k]))
            return nsid_err_set(err, NSID_EFORMAT, file, 0, name,
                                "element %zu is %g: a checkpoint holds finite numbers only (a diverged or "
                                "damaged model)", k, (double)x[k]);
        if (var && x[k] < 0.0f)
            return nsid_err_set(err, NSID_EFORMAT, file, 0, name,
                                "element %zu is %g: a variance cannot be negative", k, (double)x[k]);
    }
    return 0;
}

static int read_tensor(hid_t fid, const char *dpath, const char *name, enum elt elt, int ndim,
                       const int64_t *shape, void *dst, const char *file, struct nsid_err *err)
{
    char h5[NSID_H5_REASON_MAX];
    hid_t d = open_checked(fid, dpath, name, elt, ndim, shape, file, err);
    if (d < 0) return err->code;
    /* HDF5 converts an integer dataset to float for ELT_F32_AS_I64. */
    herr_t rc = H5Dread(d, elt == ELT_I64 ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
    if (rc < 0) nsid_h5util_reason(h5); /* before H5Dclose clears HDF5's error stack */
    H5Dclose(d);
    if (rc < 0)
        return nsid_err_set(err, NSID_EFORMAT, file, 0, name,
                            "cannot read the data (checksum mismatch or truncated file): %s", h5);
    return elt == ELT_I64 ? 0 : check_values(dst, ndim, shape, name, file, err);
}

/* Scratch copies that a load fills before anything in the model changes. */
struct scratch {
    float *w, *buf, *m, *v;
    int64_t *ints;  /* all int64 entries back to back */
};

static void scratch_free(struct scratch *s)
{
    nsid_alloc_free(s->w);
    nsid_alloc_free(s->buf);
    nsid_alloc_free(s->m);
    nsid_alloc_free(s->v);
    nsid_alloc_free(s->ints);
    memset(s, 0, sizeof *s);
}

static int scratch_init(struct scratch *s, const struct nsid_checkpoint *ck, bool opt, struct nsid_err *err)
{
    const struct nsid_params *ps = ck->ps;
    size_t nw = (ps->n_weights ? ps->n_weights : 1) * sizeof(float);
    size_t nb = (ps->n_buffers ? ps->n_buffers : 1) * sizeof(float);
    size_t ni = 1;
    for (int i = 0; i < ck->n_ints; i++) ni += (size_t)ck->ints[i].len;
    memset(s, 0, sizeof *s);
    s->w = NSID_ALLOC(nw, err);
    s->buf = NSID_ALLOC(nb, err);
    s->ints = NSID_CALLOC(ni * sizeof(int64_t), err);
    if (opt) {
        s->m = NSID_ALLOC(nw, err);
        s->v = NSID_ALLOC(nw, err);
    }
    if (!s->w || !s->buf || !s->ints || (opt && (!s->m || !s->v))) {
        scratch_free(s);
        return NSID_ENOMEM;
    }
    memcpy(s->w, ps->w, ps->n_weights * sizeof(float));
    memcpy(s->buf, ps->buf, ps->n_buffers * sizeof(float));
    if (opt) {
        memcpy(s->m, ps->m, ps->n_weights * sizeof(float));
        memcpy(s->v, ps->v, ps->n_weights * sizeof(float));
    }
    return 0;
}

/* Is name one of the entries the load expects (under the prefix)? */
static bool is_expected(const struct nsid_checkpoint *ck, const char *name, const char *prefix)
{
    if (!has_prefix(name, prefix)) return false;
    if (nsid_params_find(ck->ps, name)) return true;
    for (int i = 0; i < ck->n_ints; i++)
        if (strcmp(ck->ints[i].name, name) == 0) return true;
    for (int i = 0; i < ck->n_aliases; i++)
        if (strcmp(ck->aliases[i].name, name) == 0) return true;
    return false;
}

/* Float tensors of the table under the prefix into scratch. */
static int load_tensors(const struct nsid_checkpoint *ck, hid_t fid, const char *prefix, struct scratch *s,
                        int *n_loaded, const char *file, struct nsid_err *err)
{
    const struct nsid_params *ps = ck->ps;
    char path[PATH_MAX_];
    for (int i = 0; i < ps->n; i++) {
        const struct nsid_param *p = &ps->p[i];
        if (!has_prefix(p->name, prefix)) continue;
        float *dst = (p->kind == NSID_PARAM_WEIGHT ? s->w : s->buf) + p->offset;
        name_to_path(path, "/", p->name);
        int rc = read_tensor(fid, path, p->name, param_elt(p->name), p->ndim, p->shape, dst, file, err);
        if (rc < 0) return rc;
        if (is_fixed(ck, p->name)) {
            /* Derived from the scan's metadata: must agree; the model keeps its own values. */
            const float *own = nsid_params_data(ps, p);
            for (size_t k = 0; k < p->numel; k++)
                if (!(fabsf(dst[k] - own[k]) <= 1e-6f + 1e-6f * fabsf(own[k])))
                    return nsid_err_set(err, NSID_EINVAL, file, 0, p->name,
                                        "element %zu is %g in the checkpoint, %g from this scan's metadata "
                                        "(a checkpoint of other data?)", k, (double)dst[k], (double)own[k]);
            memcpy(dst, own, p->numel * sizeof *dst);
        }
        (*n_loaded)++;
    }
    return 0;
}

static int load_ints(const struct nsid_checkpoint *ck, hid_t fid, const char *prefix, struct scratch *s,
                     const char *file, struct nsid_err *err)
{
    char path[PATH_MAX_];
    int64_t *dst = s->ints;
    for (int i = 0; i < ck->n_ints; i++) {
        const struct nsid_checkpoint_i64 *e = &ck->ints[i];
        if (has_prefix(e->name, prefix)) {
            name_to_path(path, "/", e->name);
            int rc = read_tensor(fid, path, e->name, ELT_I64, e->ndim, &e->len, dst, file, err);
            if (rc < 0) return rc;
            if (e->fixed && memcmp(dst, e->data, (size_t)e->len * sizeof *dst) != 0)
                return nsid_err_set(err, NSID_EINVAL, file, 0, e->name,
                                    "differs from the model's (derived from the scan's metadata: "
                                    "a checkpoint of other data?)");
        }
        dst += e->len;
    }
    return 0;
}

/* Each alias under the prefix must be there with its target's shape and values. */
static int check_aliases(const struct nsid_checkpoint *ck, hid_t fid, const char *prefix, const struct scratch *s,
                         const char *file, struct nsid_err *err)
{
    char path[PATH_MAX_];
    for (int i = 0; i < ck->n_aliases; i++) {
        const struct nsid_checkpoint_alias *a = &ck->aliases[i];
        const struct nsid_param *t = nsid_params_find(ck->ps, a->target);
        if (!has_prefix(a->name, prefix) || !has_prefix(a->target, prefix)) continue;
        float *tmp = NSID_ALLOC(t->numel * sizeof(float), err);
        if (!tmp) return NSID_ENOMEM;
        name_to_path(path, "/", a->name);
        int rc = read_tensor(fid, path, a->name, param_elt(t->name), t->ndim, t->shape, tmp, file, err);
        const float *want = (t->kind == NSID_PARAM_WEIGHT ? s->w : s->buf) + t->offset;
        if (rc == 0 && memcmp(tmp, want, t->numel * sizeof(float)) != 0)
            rc = nsid_err_set(err, NSID_EFORMAT, file, 0, a->name,
                              "differs from '%s', the tensor it shares (feature sharing)", a->target);
        nsid_alloc_free(tmp);
        if (rc < 0) return rc;
    }
    return 0;
}

static int load_optimizer(const struct nsid_checkpoint *ck, hid_t fid, struct scratch *s, int64_t *step,
                          const char *file, struct nsid_err *err)
{
    const struct nsid_params *ps = ck->ps;
    char path[PATH_MAX_];
    if (H5Lexists(fid, "/" NSID_CHECKPOINT_OPT_GROUP, H5P_DEFAULT) <= 0)
        return nsid_err_set(err, NSID_ENOTFOUND, file, 0, NSID_CHECKPOINT_OPT_GROUP,
                            "no optimizer state in the checkpoint (saved without it)");
    hid_t g = H5Gopen2(fid, "/" NSID_CHECKPOINT_OPT_GROUP, H5P_DEFAULT);
    int rc = g < 0 || read_i64_attr(g, "step", step) < 0 || *step < 0 ? -1 : 0;
    if (g >= 0) H5Gclose(g);
    if (rc < 0) return nsid_err_set(err, NSID_EFORMAT, file, 0, NSID_CHECKPOINT_OPT_GROUP, "bad attribute 'step'");
    for (int i = 0; i < ps->n; i++) {
        const struct nsid_param *p = &ps->p[i];
        if (p->kind != NSID_PARAM_WEIGHT) continue;
        name_to_path(path, "/" NSID_CHECKPOINT_OPT_GROUP "/m/", p->name);
        rc = read_tensor(fid, path, path + 1, ELT_F32, p->ndim, p->shape, s->m + p->offset, file, err);
        if (rc < 0) return rc;
        name_to_path(path, "/" NSID_CHECKPOINT_OPT_GROUP "/v/", p->name);
        rc = read_tensor(fid, path, path + 1, ELT_F32, p->ndim, p->shape, s->v + p->offset, file, err);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Every entry of the file under the prefix must be one the model expects; the count must match. */
static int check_file_entries(const struct nsid_checkpoint *ck, hid_t fid, const char *prefix, const char *file,
                              struct nsid_err *err)
{
    char h5[NSID_H5_REASON_MAX];
    struct walk w = {0};
    int rc = 0;
    if (H5Lvisit(fid, H5_INDEX_NAME, H5_ITER_INC, walk_cb, &w) < 0) {
        rc = nsid_err_set(err, NSID_EFORMAT, file, 0, NULL, "cannot list the checkpoint's datasets: %s",
                          nsid_h5util_reason(h5));
        goto out;
    }
    if (w.bad) {
        rc = nsid_err_set(err, NSID_EFORMAT, file, 0, w.bad_name, "soft or external link; a checkpoint holds datasets");
        goto out;
    }
    for (int i = 0; i < w.n; i++) {
        if (has_prefix(w.names[i], prefix) && !is_expected(ck, w.names[i], prefix)) {
            rc = nsid_err_set(err, NSID_ESHAPE, file, 0, w.names[i],
                              "in the checkpoint but not in this model (a different architecture or scan?)");
            goto out;
        }
    }
    int64_t n_entries = -1;
    if (read_i64_attr(fid, "n_entries", &n_entries) < 0 || n_entries != w.n)
        rc = nsid_err_set(err, NSID_EFORMAT, file, 0, "n_entries",
                          "attribute says %lld entries, the file holds %d (damaged or edited checkpoint)",
                          (long long)n_entries, w.n);
out:
    nsid_alloc_free(w.names);
    return rc;
}

/* Does a load under prefix take readout <key>'s entries ("readout.<key>.*")? */
static bool readout_loaded(const char *key, const char *prefix)
{
    char name[NSID_PARAM_NAME_MAX + 16];
    int n = snprintf(name, sizeof name, "readout.%s.", key);
    if (!prefix) return true;
    size_t k = strlen(prefix) < (size_t)n ? strlen(prefix) : (size_t)n;
    return strncmp(name, prefix, k) == 0;
}

/* The ids of /_neurons/<key> into a new array (*ids, *n) and their kind; 0, or an error naming it. */
static int read_ids(hid_t fid, const struct nsid_checkpoint_ids *e, int64_t **ids, int64_t *n, bool *by_index,
                    const char *file, struct nsid_err *err)
{
    char path[PATH_MAX_], name[PATH_MAX_], h5[NSID_H5_REASON_MAX];
    snprintf(path, sizeof path, "/" NSID_CHECKPOINT_IDS_GROUP "/%s", e->key);
    snprintf(name, sizeof name, NSID_CHECKPOINT_IDS_GROUP ".%s", e->key);
    *ids = NULL;
    if (H5Lexists(fid, path, H5P_DEFAULT) <= 0)
        return nsid_err_set(err, NSID_ENOTFOUND, file, 0, name,
                            "no neuron identity for readout '%s' (the checkpoint records other readouts')", e->key);
    hid_t d = H5Dopen2(fid, path, H5P_DEFAULT);
    if (d < 0) return nsid_err_set(err, NSID_EFORMAT, file, 0, name, "not a dataset");
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    hsize_t dim = 0;
    int ok = H5Tget_class(t) == H5T_INTEGER && H5Sget_simple_extent_ndims(sp) == 1 &&
             H5Sget_simple_extent_dims(sp, &dim, NULL) == 1 && dim >= 1;
    H5Sclose(sp);
    H5Tclose(t);
    char *kind = NULL;
    int rc = 0;
    if (!ok)
        rc = nsid_err_set(err, NSID_EFORMAT, file, 0, name, "expected a 1-d integer dataset of neuron ids");
    else if (read_string_attr(d, IDS_ATTR, &kind) < 0 || (strcmp(kind, IDS_UNITS) && strcmp(kind, IDS_INDEX)))
        rc = nsid_err_set(err, NSID_EFORMAT, file, 0, name, "attribute '" IDS_ATTR "' must be '" IDS_UNITS
                          "' or '" IDS_INDEX "'");
    else if (!(*ids = NSID_ALLOC((size_t)dim * sizeof **ids, err)))
        rc = NSID_ENOMEM;
    else if (H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, *ids) < 0)
        rc = nsid_err_set(err, NSID_EFORMAT, file, 0, name, "cannot read the data: %s", nsid_h5util_reason(h5));
    if (rc == 0) {
        *n = (int64_t)dim;
        *by_index = strcmp(kind, IDS_INDEX) == 0;
    } else {
        nsid_alloc_free(*ids);
        *ids = NULL;
    }
    nsid_alloc_free(kind);
    H5Dclose(d);
    return rc;
}

/*
 * The neurons of every readout the load takes must be the checkpoint's, in its order: the
 * same kind of identity, the same ids, as many. *unchecked: the file has no /_neurons at all
 * (converted from PyTorch), and some readout is loaded.
 */
static int check_ids(const struct nsid_checkpoint *ck, hid_t fid, const char *prefix, bool *unchecked,
                     const char *file, struct nsid_err *err)
{
    *unchecked = false;
    bool any = false;
    for (int i = 0; i < ck->n_ids && !any; i++) any = readout_loaded(ck->ids[i].key, prefix);
    if (!any) return 0;
    if (H5Lexists(fid, "/" NSID_CHECKPOINT_IDS_GROUP, H5P_DEFAULT) <= 0) {
        *unchecked = true;
        return 0;
    }
    for (int i = 0; i < ck->n_ids; i++) {
        const struct nsid_checkpoint_ids *e = &ck->ids[i];
        if (!readout_loaded(e->key, prefix)) continue;
        int64_t *ids = NULL, n = 0;
        bool by_index = false;
        int rc = read_ids(fid, e, &ids, &n, &by_index, file, err);
        if (rc < 0) return rc;
        char key[NSID_PARAM_NAME_MAX + 16];
        snprintf(key, sizeof key, "readout.%s", e->key);
        const char *what_ck = by_index ? "neuron index" : "unit id", *what_sc = e->by_index ? "neuron index" : "unit id";
        if (by_index != e->by_index) {
            rc = nsid_err_set(err, NSID_ESHAPE, file, 0, key,
                              "the checkpoint identifies the readout's neurons by %s, the scan %s: not the "
                              "scan the readout was trained on", by_index ? "their index in the scan (it had no unit "
                              "ids)" : "unit id", e->by_index ? "has no unit ids" : "has unit ids");
        } else {
            int64_t k = 0, m = n < e->n ? n : e->n;
            while (k < m && ids[k] == e->ids[k]) k++;
            if (k < m || n != e->n) {
                char a[40], b[40];
                if (k < n) snprintf(a, sizeof a, "%s %lld", what_ck, (long long)ids[k]);
                else snprintf(a, sizeof a, "absent");
                if (k < e->n) snprintf(b, sizeof b, "%s %lld", what_sc, (long long)e->ids[k]);
                else snprintf(b, sizeof b, "absent");
                rc = nsid_err_set(err, NSID_ESHAPE, file, 0, key,
                                  "neuron %lld is %s in the checkpoint, %s in the scan (%lld neurons in the "
                                  "checkpoint, %lld in the scan): the scan's neurons are in another order or "
                                  "another selection (data.neuron_n, data.multi_match_*) than the readout was "
                                  "trained on", (long long)k, a, b, (long long)n, (long long)e->n);
            }
        }
        nsid_alloc_free(ids);
        if (rc < 0) return rc;
    }
    return 0;
}

/* The warning for a load whose neurons could not be identified. */
static void warn_unchecked(const struct nsid_checkpoint *ck, const struct nsid_checkpoint_load_opts *o,
                           const char *prefix, const char *file)
{
    char msg[1024];
    size_t k = (size_t)snprintf(msg, sizeof msg, "%s: no neuron identity (/" NSID_CHECKPOINT_IDS_GROUP
                                "; converted from PyTorch?): the neurons of readout", file);
    int shown = 0;
    for (int i = 0; i < ck->n_ids && k < sizeof msg; i++)
        if (readout_loaded(ck->ids[i].key, prefix))
            k += (size_t)snprintf(msg + k, sizeof msg - k, "%s '%s'", shown++ ? "," : "", ck->ids[i].key);
    if (k < sizeof msg)
        snprintf(msg + k, sizeof msg - k, " could not be checked against the scan's unit ids");
    if (o->warn) o->warn(o->warn_ctx, msg);
    else fprintf(stderr, "warning: %s\n", msg);
}

/* Scratch into the model: the only step of a load that changes anything. */
static void commit(struct nsid_checkpoint *ck, const struct scratch *s, const char *prefix, bool opt, int64_t step)
{
    struct nsid_params *ps = ck->ps;
    memcpy(ps->w, s->w, ps->n_weights * sizeof(float));
    memcpy(ps->buf, s->buf, ps->n_buffers * sizeof(float));
    if (opt) {
        memcpy(ps->m, s->m, ps->n_weights * sizeof(float));
        memcpy(ps->v, s->v, ps->n_weights * sizeof(float));
        ps->adam_t = step;
    }
    const int64_t *src = s->ints;
    for (int i = 0; i < ck->n_ints; i++) {
        struct nsid_checkpoint_i64 *e = &ck->ints[i];
        if (has_prefix(e->name, prefix)) memcpy(e->data, src, (size_t)e->len * sizeof *src);
        src += e->len;
    }
}

static int load_open(struct nsid_checkpoint *ck, hid_t fid, const struct nsid_checkpoint_load_opts *o,
                     const char *file, struct nsid_err *err)
{
    const char *prefix = o->prefix && o->prefix[0] ? o->prefix : NULL;
    struct scratch s;
    int64_t step = 0;
    bool unchecked = false;
    int n_loaded = 0, rc = check_header(fid, file, err);
    if (rc < 0) return rc;
    /* Whose neurons first: a reordered scan is named as such, not as a shape or grid mismatch. */
    rc = check_ids(ck, fid, prefix, &unchecked, file, err);
    if (rc < 0) return rc;
    rc = scratch_init(&s, ck, o->optimizer, err);
    if (rc < 0) return rc;
    /* The model's entries first (a missing one is the clearest message), then the file's extras. */
    rc = load_tensors(ck, fid, prefix, &s, &n_loaded, file, err);
    if (!rc) rc = load_ints(ck, fid, prefix, &s, file, err);
    if (!rc) rc = check_aliases(ck, fid, prefix, &s, file, err);
    if (!rc) rc = check_file_entries(ck, fid, prefix, file, err);
    if (!rc && o->optimizer) rc = load_optimizer(ck, fid, &s, &step, file, err);
    if (!rc && n_loaded == 0)
        rc = nsid_err_set(err, NSID_EINVAL, file, 0, prefix, "the model has no tensor under this prefix");
    if (!rc) commit(ck, &s, prefix, o->optimizer, step);
    if (!rc && unchecked) warn_unchecked(ck, o, prefix, file);
    scratch_free(&s);
    return rc;
}

int nsid_checkpoint_load(struct nsid_checkpoint *ck, const char *path,
                         const struct nsid_checkpoint_load_opts *opts, struct nsid_err *err)
{
    struct nsid_checkpoint_load_opts o = {0};
    if (opts) o = *opts;
    if (!ck || !ck->ps || !ck->ps->w)
        return nsid_err_set(err, NSID_EINVAL, path, 0, NULL, "load into an unallocated parameter table");
    if (o.optimizer && o.prefix && o.prefix[0])
        return nsid_err_set(err, NSID_EINVAL, path, 0, o.prefix, "optimizer state loads with the whole model only");
    if (check_names(ck, path, err) < 0) return err->code;
    if (nsid_infile_check(path, "checkpoint", err) < 0)
        return err->code == NSID_ENOTFOUND
                   ? (nsid_err_clear(err), nsid_err_set(err, NSID_ENOTFOUND, path, 0, NULL, "no such checkpoint file"))
                   : err->code;
    struct nsid_h5_quiet q;
    int rc;
    hid_t fid = nsid_h5util_open_quiet(path, &q, NULL, "cannot open as HDF5 (not HDF5, truncated or damaged)", true, err);
    if (fid < 0) {
        rc = err->code;
    } else {
        rc = load_open(ck, fid, &o, path, err);
        H5Fclose(fid);
    }
    nsid_h5util_quiet_end(&q);
    return rc;
}

int nsid_checkpoint_read_arch(const char *path, char **arch, struct nsid_err *err)
{
    *arch = NULL;
    if (nsid_infile_check(path, "checkpoint", err) < 0)
        return err->code == NSID_ENOTFOUND
                   ? (nsid_err_clear(err), nsid_err_set(err, NSID_ENOTFOUND, path, 0, NULL, "no such checkpoint file"))
                   : err->code;
    struct nsid_h5_quiet q;
    int rc;
    hid_t fid = nsid_h5util_open_quiet(path, &q, NULL, "cannot open as HDF5 (not HDF5, truncated or damaged)", true, err);
    if (fid < 0) {
        rc = err->code;
    } else {
        rc = check_header(fid, path, err);
        if (!rc && read_string_attr(fid, "architecture", arch) < 0)
            rc = nsid_err_set(err, NSID_EFORMAT, path, 0, "architecture", "missing string attribute");
        H5Fclose(fid);
    }
    nsid_h5util_quiet_end(&q);
    return rc;
}
