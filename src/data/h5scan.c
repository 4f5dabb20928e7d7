/* h5scan.c - HDF5 StaticImageSet reader and writer (see h5scan.h). */
#include "h5scan.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/h5util.h"
#include "data/scan_int.h"

/* ================================================================ HDF5 errors */

/* Set err with fmt, followed by HDF5's innermost reason when there is one (HDF5's own printing
 * is off while nsid works on a file: nsid_h5util_quiet_begin). */
static int h5_fail(struct nsid_err *err, int code, const char *file, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int h5_fail(struct nsid_err *err, int code, const char *file, const char *key, const char *fmt, ...)
{
    char msg[512], why[NSID_H5_REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nsid_h5util_reason(why);
    H5Eclear2(H5E_DEFAULT);
    if (why[0]) return nsid_err_set(err, code, file, 0, key, "%s (HDF5: %s)", msg, why);
    return nsid_err_set(err, code, file, 0, key, "%s", msg);
}

/* ================================================================ types */

static const char *h5_class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_TIME: return "time";
    case H5T_STRING: return "string";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_ENUM: return "enum";
    case H5T_VLEN: return "variable-length sequence";
    case H5T_ARRAY: return "array";
    default: return "unknown";
    }
}

/* h5py stores numpy bool as an int8 enum {FALSE: 0, TRUE: 1}. */
static bool h5_is_bool_enum(hid_t t)
{
    if (H5Tget_nmembers(t) != 2 || H5Tget_size(t) != 1) return false;
    for (unsigned i = 0; i < 2; i++) {
        char *name = H5Tget_member_name(t, i);
        signed char v = -1;
        H5Tget_member_value(t, i, &v);
        bool ok = name && strcmp(name, i == 0 ? "FALSE" : "TRUE") == 0 && v == (signed char)i;
        H5free_memory(name);
        if (!ok) return false;
    }
    return true;
}

struct h5_kind {
    int dtype;        /* enum nsid_dtype */
    size_t itemsize;  /* bytes per element in memory */
    bool unicode, vlen;
};

/* Map a file type onto our dtypes; 0, or <0 with why filled. */
static int h5_kind_of(hid_t t, struct h5_kind *k, char *why, size_t nwhy)
{
    memset(k, 0, sizeof *k);
    H5T_class_t c = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    if (c == H5T_INTEGER) {
        bool sgn = H5Tget_sign(t) == H5T_SGN_2;
        static const int s_dt[9] = {0, NSID_DT_I8, NSID_DT_I16, 0, NSID_DT_I32, 0, 0, 0, NSID_DT_I64};
        static const int u_dt[9] = {0, NSID_DT_U8, NSID_DT_U16, 0, NSID_DT_U32, 0, 0, 0, NSID_DT_U64};
        if (size == 1 || size == 2 || size == 4 || size == 8) {
            k->dtype = sgn ? s_dt[size] : u_dt[size];
            k->itemsize = size;
            return 0;
        }
    } else if (c == H5T_FLOAT && (size == 4 || size == 8)) {
        k->dtype = size == 4 ? NSID_DT_F32 : NSID_DT_F64;
        k->itemsize = size;
        return 0;
    } else if (c == H5T_ENUM && h5_is_bool_enum(t)) {
        k->dtype = NSID_DT_BOOL;
        k->itemsize = 1;
        return 0;
    } else if (c == H5T_STRING) {
        k->dtype = NSID_DT_STR;
        k->vlen = H5Tis_variable_str(t) > 0;
        k->unicode = H5Tget_cset(t) == H5T_CSET_UTF8;
        k->itemsize = k->vlen ? 0 : size;
        return 0;
    }
    snprintf(why, nwhy, "unsupported dtype: HDF5 %s of %zu bytes%s", h5_class_name(c), size,
             c == H5T_FLOAT ? " (only float32 and float64)" : c == H5T_ENUM ? " (only h5py's bool)" : "");
    return -1;
}

static hid_t h5_native_of(int dtype)
{
    switch (dtype) {
    case NSID_DT_F32: return H5T_NATIVE_FLOAT;
    case NSID_DT_F64: return H5T_NATIVE_DOUBLE;
    case NSID_DT_I8: return H5T_NATIVE_INT8;
    case NSID_DT_I16: return H5T_NATIVE_INT16;
    case NSID_DT_I32: return H5T_NATIVE_INT32;
    case NSID_DT_I64: return H5T_NATIVE_INT64;
    case NSID_DT_U8: return H5T_NATIVE_UINT8;
    case NSID_DT_U16: return H5T_NATIVE_UINT16;
    case NSID_DT_U32: return H5T_NATIVE_UINT32;
    case NSID_DT_U64: return H5T_NATIVE_UINT64;
    default: return H5I_INVALID_HID;
    }
}

/* Little-endian file types, as numpy/h5py write them on x86. */
static hid_t h5_file_type_of(int dtype)
{
    switch (dtype) {
    case NSID_DT_F32: return H5T_IEEE_F32LE;
    case NSID_DT_F64: return H5T_IEEE_F64LE;
    case NSID_DT_I8: return H5T_STD_I8LE;
    case NSID_DT_I16: return H5T_STD_I16LE;
    case NSID_DT_I32: return H5T_STD_I32LE;
    case NSID_DT_I64: return H5T_STD_I64LE;
    case NSID_DT_U8: return H5T_STD_U8LE;
    case NSID_DT_U16: return H5T_STD_U16LE;
    case NSID_DT_U32: return H5T_STD_U32LE;
    case NSID_DT_U64: return H5T_STD_U64LE;
    default: return H5I_INVALID_HID;
    }
}

/* h5py's bool: enum over int8 {FALSE: 0, TRUE: 1}. Caller closes. */
static hid_t h5_bool_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    signed char v0 = 0, v1 = 1;
    H5Tenum_insert(t, "FALSE", &v0);
    H5Tenum_insert(t, "TRUE", &v1);
    return t;
}

/* ================================================================ reading */

struct h5_reader {
    const char *path;                 /* for messages */
    hid_t file;
    const struct nsid_scan_opts *opt;
    struct nsid_err *err;
};

/* Rank and dims of a dataset; rank > NSID_ARRAY_MAXDIM is an error. */
static int h5_shape(const struct h5_reader *r, hid_t d, const char *key, int *ndim, int64_t *shape)
{
    hid_t sp = H5Dget_space(d);
    if (sp < 0) return h5_fail(r->err, NSID_EFORMAT, r->path, key, "cannot read the dataspace");
    int nd = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[32];
    if (nd < 0 || nd > 32 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
        H5Sclose(sp);
        return h5_fail(r->err, NSID_EFORMAT, r->path, key, "cannot read the dataspace");
    }
    H5Sclose(sp);
    if (nd > NSID_ARRAY_MAXDIM)
        return nsid_err_set(r->err, NSID_EFORMAT, r->path, 0, key, "rank %d, at most %d supported", nd,
                            NSID_ARRAY_MAXDIM);
    /* the element count, at up to 16 bytes each in memory, must be addressable (a damaged or
     * hostile dataspace can claim any dims; the data is read into one buffer) */
    size_t n = 1;
    bool empty = false;
    for (int i = 0; i < nd; i++) empty |= dims[i] == 0;
    for (int i = 0; i < nd && !empty; i++) {
        if (dims[i] > (hsize_t)(SIZE_MAX / 16 / n) || dims[i] > (hsize_t)INT64_MAX)
            return nsid_err_set(r->err, NSID_EFORMAT, r->path, 0, key,
                                "dimension %d (%llu) makes the dataset larger than memory can address", i,
                                (unsigned long long)dims[i]);
        n *= (size_t)dims[i];
    }
    *ndim = nd;
    for (int i = 0; i < nd; i++) shape[i] = (int64_t)dims[i];
    return 0;
}

/* Read a variable-length string dataset into a fixed-width array. */
static int h5_read_vlen(const struct h5_reader *r, hid_t d, hid_t ft, const char *key, struct nsid_array *a)
{
    size_t n = nsid_scan_array_numel(a);
    char **ptrs = NSID_CALLOC(sizeof *ptrs * (n ? n : 1), r->err);
    if (!ptrs) return NSID_ENOMEM;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(ft));
    int rc = 0;
    if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs) < 0) {
        rc = h5_fail(r->err, NSID_EFORMAT, r->path, key, "cannot read the strings");
    } else {
        size_t w = 1;
        for (size_t i = 0; i < n; i++)
            if (ptrs[i] && strlen(ptrs[i]) > w) w = strlen(ptrs[i]);
        a->itemsize = w;
        a->data = NSID_CALLOC(w * (n ? n : 1), r->err);
        if (!a->data) rc = NSID_ENOMEM;
        for (size_t i = 0; !rc && i < n; i++)
            if (ptrs[i]) memcpy((char *)a->data + i * w, ptrs[i], strlen(ptrs[i]));
        hid_t sp = H5Dget_space(d);
        H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, ptrs);
        H5Sclose(sp);
    }
    H5Tclose(mt);
    nsid_alloc_free(ptrs);
    return rc;
}

/* Read one metadata dataset as stored into a (name set by the caller). */
static int h5_read_array(const struct h5_reader *r, hid_t d, const char *key, struct nsid_array *a)
{
    int rc = h5_shape(r, d, key, &a->ndim, a->shape);
    if (rc) return rc;
    hid_t ft = H5Dget_type(d);
    if (ft < 0) return h5_fail(r->err, NSID_EFORMAT, r->path, key, "cannot read the type");
    struct h5_kind k;
    char why[160];
    if (h5_kind_of(ft, &k, why, sizeof why) < 0) {
        H5Tclose(ft);
        return nsid_err_set(r->err, NSID_EFORMAT, r->path, 0, key, "%s", why);
    }
    a->dtype = k.dtype;
    a->itemsize = k.itemsize;
    a->str_unicode = k.unicode;
    a->str_vlen = k.vlen;
    if (k.vlen) {
        rc = h5_read_vlen(r, d, ft, key, a);
        H5Tclose(ft);
        return rc;
    }
    size_t n = nsid_scan_array_numel(a);
    hid_t mt;
    if (k.dtype == NSID_DT_STR) {
        mt = H5Tcopy(ft);
        H5Tset_strpad(mt, H5T_STR_NULLPAD);
    } else if (k.dtype == NSID_DT_BOOL) {
        mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
    } else {
        mt = H5Tcopy(h5_native_of(k.dtype));
    }
    H5Tclose(ft);
    if (a->itemsize == 0) a->itemsize = 1; /* zero-size strings: keep one NUL byte */
    size_t bytes = nsid_alloc_mul_size(n, a->itemsize, r->err); /* 0 on overflow, with err set */
    a->data = n && !bytes ? NULL : NSID_CALLOC(bytes + 1, r->err);
    if (!a->data) rc = NSID_ENOMEM;
    else if (n && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->data) < 0)
        rc = h5_fail(r->err, NSID_EFORMAT, r->path, key, "cannot read %zu values (truncated or corrupt file?)", n);
    H5Tclose(mt);
    return rc;
}

/* Read a required/optional numeric data array into float32. */
struct h5_data_spec {
    const char *name;
    int min_rank, max_rank;   /* allowed ranks */
    int64_t cols;             /* required size of dim 1 (0 = any) */
};

static int h5_read_f32(const struct h5_reader *r, const struct h5_data_spec *sp, int *ndim,
                       int64_t *shape, int *dtype, float **out)
{
    hid_t d = H5Dopen2(r->file, sp->name, H5P_DEFAULT);
    if (d < 0) return h5_fail(r->err, NSID_EFORMAT, r->path, sp->name, "cannot open the dataset");
    int rc = h5_shape(r, d, sp->name, ndim, shape);
    if (!rc && (*ndim < sp->min_rank || *ndim > sp->max_rank || (sp->cols && shape[1] != sp->cols))) {
        char want[64];
        if (sp->cols) snprintf(want, sizeof want, "(trials, %lld)", (long long)sp->cols);
        else if (sp->min_rank == sp->max_rank) snprintf(want, sizeof want, "rank %d", sp->min_rank);
        else snprintf(want, sizeof want, "rank %d..%d", sp->min_rank, sp->max_rank);
        rc = nsid_err_set(r->err, NSID_ESHAPE, r->path, 0, sp->name, "rank %d (dims %lld x %lld ...), expected %s",
                          *ndim, *ndim ? (long long)shape[0] : 0LL, *ndim > 1 ? (long long)shape[1] : 0LL, want);
    }
    hid_t ft = rc ? H5I_INVALID_HID : H5Dget_type(d);
    if (!rc) {
        struct h5_kind k;
        char why[160];
        if (h5_kind_of(ft, &k, why, sizeof why) < 0 || k.dtype == NSID_DT_STR || k.dtype == NSID_DT_BOOL)
            rc = nsid_err_set(r->err, NSID_EFORMAT, r->path, 0, sp->name,
                              "dtype HDF5 %s of %zu bytes, expected integers or float32/float64",
                              h5_class_name(H5Tget_class(ft)), H5Tget_size(ft));
        else
            *dtype = k.dtype;
    }
    if (ft >= 0) H5Tclose(ft);
    size_t n = 1;
    for (int i = 0; !rc && i < *ndim; i++) n *= (size_t)shape[i];
    if (!rc) {
        *out = NSID_ALLOC(nsid_alloc_mul_size(n ? n : 1, sizeof(float), r->err), r->err);
        if (!*out) {
            char what[64];
            snprintf(what, sizeof what, "%zu values as float32", n);
            rc = nsid_alloc_oom(r->err, r->path, sp->name, what);
        }
        else if (n && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
            rc = h5_fail(r->err, NSID_EFORMAT, r->path, sp->name,
                         "cannot read %zu values (truncated or corrupt file?)", n);
    }
    H5Dclose(d);
    return rc;
}

static bool h5_has(hid_t loc, const char *name)
{
    return H5Lexists(loc, name, H5P_DEFAULT) > 0;
}

static int read_main_arrays(struct h5_reader *r, struct nsid_scan *s)
{
    static const struct h5_data_spec resp = {"responses", 2, 2, 0}, img = {"images", 3, 4, 0},
                                     beh = {"behavior", 2, 2, 3}, pup = {"pupil_center", 2, 2, 2};
    int nd;
    int64_t sh[NSID_ARRAY_MAXDIM];
    for (int i = 0; i < 2; i++) {
        const char *name = i ? "images" : "responses";
        if (!h5_has(r->file, name))
            return nsid_err_set(r->err, NSID_ENOTFOUND, r->path, 0, name,
                                "dataset missing (a StaticImageSet file has images, responses, tiers)");
    }
    int rc = h5_read_f32(r, &resp, &nd, sh, &s->responses_dtype, &s->responses);
    if (rc) return rc;
    s->n_trials = sh[0];
    s->n_neurons = sh[1];
    rc = h5_read_f32(r, &img, &nd, sh, &s->images_dtype, &s->images);
    if (rc) return rc;
    if (sh[0] != s->n_trials)
        return nsid_err_set(r->err, NSID_ESHAPE, r->path, 0, "images", "%lld trials, but responses has %lld",
                            (long long)sh[0], (long long)s->n_trials);
    s->channels = nd == 4 ? (int)sh[1] : 1;
    s->height = (int)sh[nd - 2];
    s->width = (int)sh[nd - 1];
    if (r->opt && r->opt->skip_behavior) return 0;
    const struct h5_data_spec *opt_specs[2] = {&beh, &pup};
    float **dst[2] = {&s->behavior, &s->pupil_center};
    int *dts[2] = {&s->behavior_dtype, &s->pupil_center_dtype};
    for (int i = 0; i < 2; i++) {
        if (!h5_has(r->file, opt_specs[i]->name)) continue;
        rc = h5_read_f32(r, opt_specs[i], &nd, sh, dts[i], dst[i]);
        if (rc) return rc;
        if (sh[0] != s->n_trials)
            return nsid_err_set(r->err, NSID_ESHAPE, r->path, 0, opt_specs[i]->name,
                                "%lld trials, but responses has %lld", (long long)sh[0], (long long)s->n_trials);
    }
    return 0;
}

/* Read dataset `name` of loc as a metadata array called key_name into l. */
static int read_meta_dataset(struct h5_reader *r, hid_t loc, const char *name, const char *h5key,
                             const char *key_name, struct nsid_arrays *l)
{
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return h5_fail(r->err, NSID_EFORMAT, r->path, h5key, "cannot open the dataset");
    struct nsid_array a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "%s", key_name);
    int rc = h5_read_array(r, d, h5key, &a);
    H5Dclose(d);
    if (rc) {
        nsid_scan_array_free(&a);
        return rc;
    }
    return nsid_scan_arrays_take(l, &a, r->err);
}

struct group_walk {
    struct h5_reader *r;
    struct nsid_arrays *l;
    char prefix[NSID_KEY_MAX * 2 + 2]; /* name prefix inside the group ("" or "a/b/") */
    char h5path[NSID_KEY_MAX * 2]; /* HDF5 path of the group, for messages */
    int rc;
};

static herr_t group_walk_cb(hid_t g, const char *name, const H5L_info_t *info, void *ctx);

/* Read every dataset below group path into l, names relative to the group. */
static int read_group(struct h5_reader *r, hid_t loc, const char *path, const char *prefix,
                      struct nsid_arrays *l)
{
    hid_t g = H5Gopen2(loc, path, H5P_DEFAULT);
    if (g < 0) return h5_fail(r->err, NSID_EFORMAT, r->path, path, "cannot open the group");
    struct group_walk w;
    memset(&w, 0, sizeof w);
    w.r = r;
    w.l = l;
    snprintf(w.prefix, sizeof w.prefix, "%s", prefix);
    snprintf(w.h5path, sizeof w.h5path, "%s", path);
    hsize_t idx = 0;
    herr_t e = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, group_walk_cb, &w);
    H5Gclose(g);
    if (w.rc) return w.rc;
    if (e < 0) return h5_fail(r->err, NSID_EFORMAT, r->path, path, "cannot list the group");
    return 0;
}

static herr_t group_walk_cb(hid_t g, const char *name, const H5L_info_t *info, void *ctx)
{
    struct group_walk *w = ctx;
    (void)info;
    char key[NSID_KEY_MAX * 3], sub[NSID_KEY_MAX * 2];
    snprintf(key, sizeof key, "%s/%s", w->h5path, name);
    int k = snprintf(sub, sizeof sub, "%s%s", w->prefix, name);
    if (k >= NSID_KEY_MAX) {
        w->rc = nsid_err_set(w->r->err, NSID_EFORMAT, w->r->path, 0, key, "name longer than %d bytes",
                             NSID_KEY_MAX - 1);
        return -1;
    }
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) {
        w->rc = h5_fail(w->r->err, NSID_EFORMAT, w->r->path, key, "cannot open the object");
        return -1;
    }
    H5I_type_t t = H5Iget_type(o);
    H5Oclose(o);
    if (t == H5I_GROUP) {
        char pre[NSID_KEY_MAX * 2 + 2];
        snprintf(pre, sizeof pre, "%s/", sub);
        w->rc = read_group(w->r, g, name, pre, w->l);
    } else if (t == H5I_DATASET) {
        w->rc = read_meta_dataset(w->r, g, name, key, sub, w->l);
    } else {
        nsid_scan_warn(w->r->opt, "%s: %s: skipped (a named datatype, not a dataset)", w->r->path, key);
    }
    return w->rc ? -1 : 0;
}

/* Top-level objects beyond the main arrays: groups and extra datasets. */
struct top_walk {
    struct h5_reader *r;
    struct nsid_scan *s;
    int rc;
};

static bool is_main_name(const char *name)
{
    static const char *const names[] = {"images", "responses", "behavior", "pupil_center", "tiers"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(name, names[i]) == 0) return true;
    return false;
}

static int read_top_dataset(struct top_walk *w, hid_t g, const char *name)
{
    struct nsid_scan *s = w->s;
    if (w->r->opt && w->r->opt->skip_extra) return 0;
    int rc = read_meta_dataset(w->r, g, name, name, name, &s->extra);
    if (rc) return rc;
    struct nsid_array *a = nsid_scan_arrays_find(&s->extra, name);
    if (a->ndim >= 1 && a->shape[0] == s->n_trials && a->dtype != NSID_DT_STR) return 0;
    nsid_scan_warn(w->r->opt, "%s: /%s: skipped (not a numeric per-trial array with %lld rows)", w->r->path,
                   name, (long long)s->n_trials);
    nsid_scan_arrays_remove(&s->extra, name);
    return 0;
}

static herr_t top_walk_cb(hid_t g, const char *name, const H5L_info_t *info, void *ctx)
{
    struct top_walk *w = ctx;
    (void)info;
    if (is_main_name(name)) return 0;
    static const char *const groups[] = {"item_info", "neurons", "statistics", "ground_truth"};
    struct nsid_arrays *lists[] = {&w->s->trials, &w->s->neurons, &w->s->stats, &w->s->ground_truth};
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) {
        w->rc = h5_fail(w->r->err, NSID_EFORMAT, w->r->path, name, "cannot open the object");
        return -1;
    }
    H5I_type_t t = H5Iget_type(o);
    H5Oclose(o);
    if (t == H5I_DATASET) {
        w->rc = read_top_dataset(w, g, name);
        return w->rc ? -1 : 0;
    }
    for (int i = 0; t == H5I_GROUP && i < 4; i++) {
        if (strcmp(name, groups[i]) != 0) continue;
        w->rc = read_group(w->r, g, name, "", lists[i]);
        return w->rc ? -1 : 0;
    }
    nsid_scan_warn(w->r->opt, "%s: /%s: skipped (not part of the StaticImageSet layout)", w->r->path, name);
    return 0;
}

static int read_tiers(struct h5_reader *r, struct nsid_scan *s)
{
    if (!h5_has(r->file, "tiers"))
        return nsid_err_set(r->err, NSID_ENOTFOUND, r->path, 0, "tiers",
                            "dataset missing: every trial needs a tier (train, validation or test)");
    int rc = read_meta_dataset(r, r->file, "tiers", "tiers", "tiers", &s->trials);
    if (rc) return rc;
    const struct nsid_array *a = nsid_scan_arrays_find(&s->trials, "tiers");
    if (a->dtype != NSID_DT_STR || a->ndim != 1 || a->shape[0] != s->n_trials)
        return nsid_err_set(r->err, a->dtype != NSID_DT_STR ? NSID_EFORMAT : NSID_ESHAPE, r->path, 0, "tiers",
                            "dtype %s rank %d with %lld rows, expected 1-d strings with %lld rows (one per trial)",
                            nsid_scan_dtype_name(a->dtype), a->ndim, a->ndim ? (long long)a->shape[0] : 0LL,
                            (long long)s->n_trials);
    return 0;
}

static int read_config_attr(struct h5_reader *r, struct nsid_scan *s)
{
    if (H5Aexists(r->file, "config_json") <= 0) return 0;
    hid_t at = H5Aopen(r->file, "config_json", H5P_DEFAULT);
    if (at < 0) return h5_fail(r->err, NSID_EFORMAT, r->path, "config_json", "cannot open the attribute");
    hid_t ft = H5Aget_type(at);
    int rc = 0;
    if (H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) <= 0) {
        rc = nsid_err_set(r->err, NSID_EFORMAT, r->path, 0, "config_json",
                          "attribute type %s, expected a variable-length string", h5_class_name(H5Tget_class(ft)));
    } else {
        char *txt = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ft));
        if (H5Aread(at, mt, &txt) < 0 || !txt) {
            rc = h5_fail(r->err, NSID_EFORMAT, r->path, "config_json", "cannot read the attribute");
        } else {
            size_t n = strlen(txt);
            s->config_json = NSID_ALLOC(n + 1, r->err);
            if (!s->config_json) rc = NSID_ENOMEM;
            else memcpy(s->config_json, txt, n + 1);
            H5free_memory(txt);
        }
        H5Tclose(mt);
    }
    H5Tclose(ft);
    H5Aclose(at);
    return rc;
}

bool nsid_h5scan_is_h5(const char *path)
{
    struct nsid_h5_quiet q;
    nsid_h5util_quiet_begin(&q);
    htri_t t = H5Fis_hdf5(path);
    nsid_h5util_quiet_end(&q);
    return t > 0;
}

static int open_h5(const char *path, hid_t *file, struct nsid_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return nsid_err_set(err, NSID_ENOTFOUND, path, 0, NULL, "cannot open: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL, "not a regular file (an HDF5 scan is one file)");
    if (H5Fis_hdf5(path) <= 0)
        return h5_fail(err, NSID_EFORMAT, path, NULL,
                       "not an HDF5 file (no HDF5 signature in %lld bytes: empty, truncated or another format)",
                       (long long)st.st_size);
    *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file < 0) return h5_fail(err, NSID_EFORMAT, path, NULL, "cannot open as HDF5 (truncated or corrupt?)");
    return 0;
}

int nsid_h5scan_load(struct nsid_scan *s, const char *path, const struct nsid_scan_opts *opt,
                      struct nsid_err *err)
{
    struct nsid_h5_quiet q;
    nsid_scan_init(s);
    nsid_h5util_quiet_begin(&q);
    struct h5_reader r = {path, H5I_INVALID_HID, opt, err};
    int rc = open_h5(path, &r.file, err);
    if (!rc) {
        snprintf(s->path, sizeof s->path, "%s", path);
        nsid_scan_data_key(path, s->data_key, sizeof s->data_key);
        rc = read_main_arrays(&r, s);
    }
    if (!rc) rc = read_tiers(&r, s);
    if (!rc) {
        struct top_walk w = {&r, s, 0};
        hsize_t idx = 0;
        herr_t e = H5Literate(r.file, H5_INDEX_NAME, H5_ITER_INC, &idx, top_walk_cb, &w);
        rc = w.rc;
        if (!rc && e < 0) rc = h5_fail(err, NSID_EFORMAT, path, "/", "cannot list the file's root group");
    }
    if (!rc) rc = read_config_attr(&r, s);
    if (r.file >= 0 && H5Fclose(r.file) < 0) rc = h5_fail(err, NSID_EIO, path, NULL, "cannot close");
    if (!rc) rc = nsid_scan_validate(s, opt, err);
    if (rc) nsid_scan_free(s);
    nsid_h5util_quiet_end(&q);
    return rc;
}

/* ================================================================ writing */

struct h5_writer {
    const char *path;        /* final path, for messages */
    hid_t file;
    hid_t gcpl;              /* groups: no object times */
    const struct nsid_h5_save_opts *opt;
    struct nsid_err *err;
};

/*
 * Dataset creation properties: chunked + deflate for big arrays if asked. No object times
 * (nor on groups and the root group): HDF5 would stamp each object with its creation second,
 * and run ids hash data files by content, so the same scan written twice must be the same bytes.
 */
static hid_t h5_dcpl(const struct h5_writer *w, int ndim, const hsize_t *dims, size_t itemsize)
{
    hid_t p = nsid_h5util_plist(H5P_DATASET_CREATE);
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) numel *= (size_t)dims[i];
    if (p < 0 || !w->opt || w->opt->gzip <= 0 || ndim == 0 || numel == 0 || numel * itemsize < 65536) return p;
    hsize_t chunk[NSID_ARRAY_MAXDIM];
    size_t row = numel / (size_t)dims[0] * itemsize;
    hsize_t rows = (hsize_t)(1048576 / (row ? row : 1));
    if (rows < 1) rows = 1;
    chunk[0] = rows < dims[0] ? rows : dims[0];
    for (int i = 1; i < ndim; i++) chunk[i] = dims[i];
    H5Pset_chunk(p, ndim, chunk);
    H5Pset_shuffle(p);
    H5Pset_deflate(p, (unsigned)(w->opt->gzip > 9 ? 9 : w->opt->gzip));
    return p;
}

/* Create dataset `name` (groups on its path made) and write buf. */
static int h5_write(const struct h5_writer *w, const char *name, hid_t ftype, hid_t mtype, int ndim,
                    const int64_t *shape, const void *buf)
{
    if (nsid_h5util_parents(w->file, name, w->gcpl) < 0)
        return h5_fail(w->err, NSID_EIO, w->path, name, "cannot create the groups on its path");
    hsize_t dims[NSID_ARRAY_MAXDIM] = {0};
    for (int i = 0; i < ndim; i++) dims[i] = (hsize_t)shape[i];
    hid_t dcpl = h5_dcpl(w, ndim, dims, H5Tget_size(ftype));
    if (dcpl < 0) return h5_fail(w->err, NSID_EIO, w->path, name, "cannot make the dataset's properties");
    int put = nsid_h5util_put(w->file, name, ftype, mtype, ndim, dims, dcpl, buf), rc = 0;
    if (put == -1) rc = h5_fail(w->err, NSID_EIO, w->path, name, "cannot create the dataset");
    else if (put < 0) rc = h5_fail(w->err, NSID_EIO, w->path, name, "cannot write the dataset (disk full?)");
    H5Pclose(dcpl); /* after h5_fail: an HDF5 call clears the error stack it reads */
    return rc;
}

static int h5_write_strings(const struct h5_writer *w, const char *name, const struct nsid_array *a)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_cset(t, a->str_unicode ? H5T_CSET_UTF8 : H5T_CSET_ASCII);
    size_t n = nsid_scan_array_numel(a);
    int rc;
    if (!a->str_vlen) {
        H5Tset_size(t, a->itemsize ? a->itemsize : 1);
        H5Tset_strpad(t, H5T_STR_NULLPAD);
        rc = h5_write(w, name, t, t, a->ndim, a->shape, a->data);
    } else {
        /* Variable length: NUL-terminated copies (elements may fill the width). */
        char *txt = NSID_CALLOC((a->itemsize + 1) * (n ? n : 1), w->err);
        char **ptrs = NSID_ALLOC(sizeof *ptrs * (n ? n : 1), w->err);
        rc = txt && ptrs ? 0 : NSID_ENOMEM;
        for (size_t i = 0; !rc && i < n; i++) {
            ptrs[i] = txt + i * (a->itemsize + 1);
            memcpy(ptrs[i], (const char *)a->data + i * a->itemsize, a->itemsize);
        }
        H5Tset_size(t, H5T_VARIABLE);
        if (!rc) rc = h5_write(w, name, t, t, a->ndim, a->shape, ptrs);
        nsid_alloc_free(ptrs);
        nsid_alloc_free(txt);
    }
    H5Tclose(t);
    return rc;
}

static int h5_write_array(const struct h5_writer *w, const char *name, const struct nsid_array *a)
{
    if (a->dtype == NSID_DT_STR) return h5_write_strings(w, name, a);
    if (a->dtype == NSID_DT_BOOL) {
        hid_t t = h5_bool_type();
        int rc = h5_write(w, name, t, t, a->ndim, a->shape, a->data);
        H5Tclose(t);
        return rc;
    }
    hid_t ft = h5_file_type_of(a->dtype);
    if (ft < 0) return nsid_err_set(w->err, NSID_EINVAL, w->path, 0, name, "unknown dtype %d", a->dtype);
    return h5_write(w, name, ft, h5_native_of(a->dtype), a->ndim, a->shape, a->data);
}

/* Write every array of l (plus synthesised ones) under group/. */
static int h5_write_list(const struct h5_writer *w, const char *group, const struct nsid_arrays *l,
                         const struct nsid_arrays *more, const char *skip)
{
    const struct nsid_arrays *ls[2] = {l, more};
    for (int j = 0; j < 2; j++) {
        for (int i = 0; ls[j] && i < ls[j]->n; i++) {
            const struct nsid_array *a = &ls[j]->a[i];
            if (skip && strcmp(a->name, skip) == 0) continue;
            char name[NSID_KEY_MAX * 2 + 8];
            snprintf(name, sizeof name, "%s%s%s", group, group[0] ? "/" : "", a->name);
            int rc = h5_write_array(w, name, a);
            if (rc) return rc;
        }
    }
    return 0;
}

static int h5_write_f32(const struct h5_writer *w, const char *name, const float *v, int dtype, int ndim,
                        const int64_t *shape)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    int rc = nsid__scan_check_storable(v, n, dtype, w->path, name, w->err);
    if (rc) return rc;
    if (dtype == NSID_DT_BOOL || dtype == NSID_DT_STR) dtype = NSID_DT_F32;
    return h5_write(w, name, h5_file_type_of(dtype), H5T_NATIVE_FLOAT, ndim, shape, v);
}

static int h5_write_data(const struct h5_writer *w, const struct nsid_scan *s)
{
    int64_t T = s->n_trials;
    int64_t ish[4] = {T, s->channels, s->height, s->width}, rsh[2] = {T, s->n_neurons};
    int64_t bsh[2] = {T, 3}, psh[2] = {T, 2};
    int rc = h5_write_f32(w, "images", s->images, s->images_dtype, 4, ish);
    if (!rc) rc = h5_write_f32(w, "responses", s->responses, s->responses_dtype, 2, rsh);
    if (!rc && s->behavior) rc = h5_write_f32(w, "behavior", s->behavior, s->behavior_dtype, 2, bsh);
    if (!rc && s->pupil_center)
        rc = h5_write_f32(w, "pupil_center", s->pupil_center, s->pupil_center_dtype, 2, psh);
    for (int i = 0; !rc && i < s->extra.n; i++) {
        if (is_main_name(s->extra.a[i].name) || nsid_scan_arrays_find(&s->extra, s->extra.a[i].name) != &s->extra.a[i])
            return nsid_err_set(w->err, NSID_EINVAL, w->path, 0, s->extra.a[i].name,
                                "extra data array clashes with a StaticImageSet name");
        rc = h5_write_array(w, s->extra.a[i].name, &s->extra.a[i]);
    }
    return rc;
}

static int h5_write_config(const struct h5_writer *w, const char *txt)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(w->file, "config_json", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (at < 0 || H5Awrite(at, t, &txt) < 0)
        rc = h5_fail(w->err, NSID_EIO, w->path, "config_json", "cannot write the attribute");
    if (at >= 0) H5Aclose(at);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

static int h5_write_meta(const struct h5_writer *w, const struct nsid_scan *s)
{
    struct nsid_arrays xt, xn;
    int rc = nsid__scan_meta_extra(s, &xt, &xn, w->err);
    if (rc) return rc;
    const struct nsid_array *tiers = nsid_scan_arrays_find(&s->trials, "tiers");
    if (!tiers) tiers = nsid_scan_arrays_find(&xt, "tiers");
    rc = h5_write_array(w, "tiers", tiers);
    if (!rc) rc = h5_write_list(w, "item_info", &s->trials, &xt, "tiers");
    if (!rc) rc = h5_write_list(w, "neurons", &s->neurons, &xn, NULL);
    if (!rc) rc = h5_write_list(w, "statistics", &s->stats, NULL, NULL);
    if (!rc) rc = h5_write_list(w, "ground_truth", &s->ground_truth, NULL, NULL);
    if (!rc && s->config_json) rc = h5_write_config(w, s->config_json);
    nsid_scan_arrays_free(&xt);
    nsid_scan_arrays_free(&xn);
    return rc;
}

/* Make the temp file durable before it replaces path. */
static int fsync_path(const char *p, struct nsid_err *err)
{
    int fd = open(p, O_RDONLY);
    if (fd < 0) return nsid_err_set(err, NSID_EIO, p, 0, NULL, "cannot reopen to sync: %s", strerror(errno));
    int rc = fsync(fd) == 0 ? 0 : nsid_err_set(err, NSID_EIO, p, 0, NULL, "fsync failed: %s", strerror(errno));
    close(fd);
    return rc;
}

int nsid_h5scan_save(const struct nsid_scan *s, const char *path, const struct nsid_h5_save_opts *opt,
                      struct nsid_err *err)
{
    if (!s->images || !s->responses || s->n_trials <= 0 || s->n_neurons <= 0)
        return nsid_err_set(err, NSID_EINVAL, path, 0, NULL, "refusing to write a scan without trials");
    char tmp[NSID_PATH_MAX];
    int rc = nsid__scan_tmp_path(path, tmp, sizeof tmp, false, err);
    if (rc) return rc;
    struct nsid_h5_quiet q;
    nsid_h5util_quiet_begin(&q);
    struct h5_writer w = {path, H5I_INVALID_HID, nsid_h5util_plist(H5P_GROUP_CREATE), opt, err};
    errno = 0;
    w.file = w.gcpl < 0 ? H5I_INVALID_HID : nsid_h5util_create(tmp, H5P_DEFAULT);
    /* A file that has its superblock written at creation fails here on a full disk */
    if (w.file < 0)
        rc = h5_fail(err, NSID_EIO, tmp, NULL, "cannot create the HDF5 file%s%s", errno ? ": " : "",
                     errno ? strerror(errno) : "");
    if (!rc) rc = h5_write_data(&w, s);
    if (!rc) rc = h5_write_meta(&w, s);
    if (w.file >= 0 && H5Fclose(w.file) < 0) rc = h5_fail(err, NSID_EIO, tmp, NULL, "cannot close (disk full?)");
    if (w.gcpl >= 0) H5Pclose(w.gcpl);
    nsid_h5util_quiet_end(&q);
    if (!rc) rc = fsync_path(tmp, err);
    if (!rc && rename(tmp, path) != 0)
        rc = nsid_err_set(err, NSID_EIO, path, 0, NULL, "cannot rename %s into place: %s", tmp, strerror(errno));
    if (rc) unlink(tmp);
    return rc;
}
