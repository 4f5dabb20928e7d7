/*
 * fuzz_h5struct.c - structure-aware libFuzzer harness of the HDF5 scan loader: the input
 * bytes are a recipe for a well-formed HDF5 file (written with the HDF5 API), so the fuzzer
 * explores what nsid's loader must check - which datasets exist, their rank, shape, element
 * type (integers, floats, fixed and variable-length strings, h5py's bool enum, compounds),
 * values (NaN, Inf, huge, negative), tier names, per-trial and per-neuron metadata, nested
 * groups, statistics, extra arrays, the config_json attribute - without stopping at the
 * bugs of libhdf5's own parser, which the raw-byte harness (fuzz_h5scan.c) runs into.
 *
 * Properties: a failure has a code and a one-line message and leaves the scan zeroed; a
 * success has consistent sizes (T trials, N neurons, every tier non-empty unless allowed,
 * finite images and responses, tiers in range).
 */
#include <hdf5.h>
#include <math.h>

#include "data/scan.h"
#include "fuzz_common.h"

/*
 * The recipe: structure decisions take bytes from the front (255 once exhausted: every
 * field present and right); values take bytes from the back, cycling over the whole input,
 * so a long dataset does not eat the structure.
 */
struct recipe {
    const uint8_t *p;
    size_t n;     /* structure bytes left at p */
    const uint8_t *all;
    size_t size;  /* the whole input, for values */
    size_t vpos;  /* next value byte, counted from the end */
};

static unsigned take(struct recipe *r)
{
    if (!r->n) return 255;
    r->n--;
    return *r->p++;
}

static unsigned take_below(struct recipe *r, unsigned k)
{
    return k ? take(r) % k : 0;
}

static unsigned value_byte(struct recipe *r)
{
    if (!r->size) return 7;
    unsigned b = r->all[r->size - 1 - r->vpos % r->size];
    r->vpos++;
    return b;
}

/* A value from the recipe: mostly ordinary, sometimes special. */
static double take_value(struct recipe *r)
{
    unsigned k = value_byte(r);
    switch (k % 32) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return -1.0 * value_byte(r);
    case 4: return 1e30;
    case 5: return 0.0;
    default: return (double)value_byte(r) + (double)value_byte(r) / 256.0;
    }
}

/* Element types a dataset may get. */
enum kind { K_F32, K_F64, K_I8, K_U8, K_I16, K_U16, K_I32, K_I64, K_U64, K_STR, K_VSTR, K_BOOL, K_COMPOUND, K_N };

static hid_t make_type(enum kind k)
{
    hid_t t;
    switch (k) {
    case K_F32: return H5Tcopy(H5T_IEEE_F32LE);
    case K_F64: return H5Tcopy(H5T_IEEE_F64BE);
    case K_I8: return H5Tcopy(H5T_STD_I8LE);
    case K_U8: return H5Tcopy(H5T_STD_U8LE);
    case K_I16: return H5Tcopy(H5T_STD_I16BE);
    case K_U16: return H5Tcopy(H5T_STD_U16LE);
    case K_I32: return H5Tcopy(H5T_STD_I32LE);
    case K_I64: return H5Tcopy(H5T_STD_I64LE);
    case K_U64: return H5Tcopy(H5T_STD_U64LE);
    case K_STR:
        t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, 10);
        return t;
    case K_VSTR:
        t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
        return t;
    case K_BOOL: { /* h5py's bool: an int8 enum FALSE=0, TRUE=1 */
        t = H5Tenum_create(H5T_NATIVE_INT8);
        int8_t f = 0, tr = 1;
        H5Tenum_insert(t, "FALSE", &f);
        H5Tenum_insert(t, "TRUE", &tr);
        return t;
    }
    default:
        t = H5Tcreate(H5T_COMPOUND, 8);
        H5Tinsert(t, "a", 0, H5T_NATIVE_FLOAT);
        H5Tinsert(t, "b", 4, H5T_NATIVE_FLOAT);
        return t;
    }
}

static const char *const TIER_WORDS[] = {"train", "validation", "test", "", "Train", "tes", "validationX", "\xff\xfe"};

/* Write dataset name of kind k and shape dims (rank nd) under loc, values from the recipe. */
static void put_dataset(hid_t loc, const char *name, enum kind k, int nd, const hsize_t *dims, struct recipe *r,
                        bool tier_words)
{
    hsize_t n = 1;
    for (int i = 0; i < nd; i++) n *= dims[i];
    if (n > 4096) return;
    hid_t sp = nd ? H5Screate_simple(nd, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t t = make_type(k);
    hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0 && n) {
        if (k == K_STR || k == K_VSTR) {
            const char **v = calloc(n, sizeof *v);
            char *fixed = calloc(n, 10);
            for (hsize_t i = 0; v && fixed && i < n; i++) {
                unsigned w = value_byte(r);
                v[i] = tier_words ? TIER_WORDS[w < 240 ? w % 3 : w % 8] : "x";
                memcpy(fixed + i * 10, v[i], strlen(v[i]) < 10 ? strlen(v[i]) : 10);
            }
            if (v && fixed) {
                hid_t mt = make_type(k);
                H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, k == K_VSTR ? (const void *)v : (const void *)fixed);
                H5Tclose(mt);
            }
            free(v);
            free(fixed);
        } else if (k == K_COMPOUND || k == K_BOOL) {
            uint8_t *b = calloc(n, 8);
            for (hsize_t i = 0; b && i < n * (k == K_BOOL ? 1 : 8); i++)
                b[i] = (uint8_t)(k == K_BOOL ? value_byte(r) & 1 : value_byte(r));
            if (b) H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, b);
            free(b);
        } else {
            double *v = malloc(n * sizeof *v);
            for (hsize_t i = 0; v && i < n; i++) v[i] = take_value(r);
            if (v) H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v); /* converted, clipped */
            free(v);
        }
    }
    if (d >= 0) H5Dclose(d);
    H5Tclose(t);
    H5Sclose(sp);
}

/*
 * One standard dataset: usually right (rank and rows as the layout wants), sometimes absent,
 * of another rank, another row count or another type.
 */
static void put_field(hid_t loc, const char *name, enum kind good, int nd, const hsize_t *dims, struct recipe *r,
                      bool tier_words)
{
    unsigned how = take(r);
    hsize_t d[4];
    memcpy(d, dims, sizeof(hsize_t) * (size_t)nd);
    int rank = nd;
    enum kind k = good;
    if (how < 12) return;                                 /* absent */
    if (how >= 12 && how < 24) d[0] = take_below(r, 6);   /* another row count, maybe 0 */
    if (how >= 24 && how < 32) rank = take_below(r, 5);   /* another rank */
    if (how >= 32 && how < 48) k = (enum kind)take_below(r, K_N); /* another type */
    for (int i = nd; i < rank; i++) d[i] = 1 + take_below(r, 3);
    put_dataset(loc, name, k, rank, d, r, tier_words);
}

static void write_file(const char *path, struct recipe *r)
{
    hsize_t T = 1 + take_below(r, 24), N = 1 + take_below(r, 6), C = 1 + (take(r) > 240), H = 1 + take_below(r, 6),
            W = 1 + take_below(r, 6);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return;
    hsize_t img[4] = {T, C, H, W}, resp[2] = {T, N}, t1[1] = {T}, n1[1] = {N}, n3[2] = {N, 3}, beh[2] = {T, 3},
            pup[2] = {T, 2};
    put_field(f, "images", take(r) < 128 ? K_U8 : K_F32, take(r) < 200 ? 4 : 3, img, r, false);
    put_field(f, "responses", K_F32, 2, resp, r, false);
    put_field(f, "tiers", take(r) < 128 ? K_STR : K_VSTR, 1, t1, r, true);
    if (take(r) < 128) put_field(f, "behavior", K_F32, 2, beh, r, false);
    if (take(r) < 128) put_field(f, "pupil_center", K_F32, 2, pup, r, false);
    hid_t g = H5Gcreate2(f, "item_info", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    put_field(g, "frame_image_id", K_I64, 1, t1, r, false);
    if (take(r) < 64) put_field(g, "condition_hash", K_VSTR, 1, t1, r, false);
    if (take(r) < 32) { /* a nested group */
        hid_t sub = H5Gcreate2(g, "nested", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        put_field(sub, "x", K_F64, 1, t1, r, false);
        H5Gclose(sub);
    }
    H5Gclose(g);
    g = H5Gcreate2(f, "neurons", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    put_field(g, "unit_ids", K_I64, 1, n1, r, false);
    put_field(g, "cell_motor_coordinates", K_F64, 2, n3, r, false);
    if (take(r) < 128) put_field(g, "multi_match_id", K_I64, 1, n1, r, false);
    if (take(r) < 64) put_field(g, "animal_ids", K_U16, 1, n1, r, false);
    H5Gclose(g);
    if (take(r) < 128) { /* statistics/responses/all/std */
        hid_t s1 = H5Gcreate2(f, "statistics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hid_t s2 = H5Gcreate2(s1, "responses", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hid_t s3 = H5Gcreate2(s2, "all", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        put_field(s3, "std", K_F32, 1, n1, r, false);
        put_field(s3, "mean", K_F32, 1, n1, r, false);
        H5Gclose(s3);
        H5Gclose(s2);
        H5Gclose(s1);
    }
    if (take(r) < 48) { /* an extra per-trial array */
        hsize_t ex[2] = {T, 1 + take_below(r, 3)};
        put_field(f, "eye_position", K_F32, 2, ex, r, false);
    }
    if (take(r) < 48) { /* a config_json attribute: arbitrary text */
        char text[64];
        size_t k = take_below(r, sizeof text);
        for (size_t i = 0; i < k; i++) text[i] = (char)(value_byte(r) | 1);
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, k + 1);
        text[k] = '\0';
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "config_json", st, sp, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0) {
            H5Awrite(a, st, text);
            H5Aclose(a);
        }
        H5Sclose(sp);
        H5Tclose(st);
    }
    H5Fclose(f);
}

static void h5struct_warn(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
}

/* A loaded scan is consistent: sizes, tiers, finite data. */
static void check_scan(const struct nsid_scan *s, const struct nsid_scan_opts *o)
{
    fuzz_require(s->n_trials > 0 && s->n_neurons > 0 && s->images && s->responses && s->tiers, "empty scan loaded");
    int64_t count[NSID_TIER_COUNT] = {0};
    for (int64_t t = 0; t < s->n_trials; t++) {
        fuzz_require(s->tiers[t] >= 0 && s->tiers[t] < NSID_TIER_COUNT, "tier %d of trial %lld", s->tiers[t],
                     (long long)t);
        count[s->tiers[t]]++;
    }
    for (int k = 0; k < NSID_TIER_COUNT && !o->allow_empty_tier; k++)
        fuzz_require(count[k] > 0, "tier %d empty but loaded", k);
    size_t P = (size_t)s->channels * (size_t)s->height * (size_t)s->width;
    for (size_t i = 0; i < (size_t)s->n_trials * P; i++) fuzz_require(isfinite(s->images[i]), "image value %zu", i);
    for (size_t i = 0; i < (size_t)(s->n_trials * s->n_neurons); i++)
        fuzz_require(isfinite(s->responses[i]), "response value %zu", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        quiet = 1;
    }
    struct recipe r = {data, size, data, size, 0};
    unsigned opts = take(&r);
    const char *path = fuzz_scratch_file(NULL, 0, ".struct.h5");
    if (!path) return 0;
    char file[256];
    snprintf(file, sizeof file, "%s", path);
    write_file(file, &r);
    struct nsid_scan s;
    struct nsid_err err = {0};
    struct nsid_scan_opts o = {0};
    o.warn = h5struct_warn;
    o.allow_empty_tier = opts & 1;
    o.drop_nonfinite = (opts >> 1) & 1;
    o.skip_behavior = (opts >> 2) & 1;
    o.skip_extra = (opts >> 3) & 1;
    memset(&s, 0xAB, sizeof s);
    int rc = nsid_scan_load(&s, file, &o, &err);
    fuzz_check_failure(rc, &err);
    if (getenv("NSID_FUZZ_VERBOSE")) {
        char line[2048];
        fprintf(stderr, "h5struct: %s\n", rc == 0 ? "loaded" : nsid_err_str(&err, line, sizeof line));
    }
    if (rc < 0) {
        fuzz_require(s.images == NULL && s.responses == NULL && s.n_trials == 0, "a failed load left data behind");
    } else {
        check_scan(&s, &o);
        nsid_scan_free(&s);
    }
    if (!getenv("NSID_FUZZ_KEEP")) unlink(file);
    return 0;
}
