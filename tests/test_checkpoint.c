/*
 * test_checkpoint.c - HDF5 checkpoints: bit-identical round trip (tensors,
 * int64 entries, shared-tensor links, Adam state), partial load by prefix,
 * and every bad checkpoint: missing / extra tensor, wrong shape, rank, dtype,
 * magic, format version, entry count, truncated and bit-flipped files, no file,
 * a file that is not HDF5. Every failed load must leave the model untouched.
 */
#include <dirent.h>
#include <hdf5.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/rng.h"
#include "check.h"
#include "nn/checkpoint.h"
#include "proc_testutil.h"

/* A toy model: a few tensors under state_dict names, like the real one registers them. */
struct toy_spec {
    const char *name;
    int kind, ndim, shape[4];
};

static const struct toy_spec toy_specs[] = {
    {"core.features.layer0.conv.weight", NSID_PARAM_WEIGHT, 4, {4, 1, 3, 3}},
    {"core.features.layer0.norm.weight", NSID_PARAM_WEIGHT, 1, {4}},
    {"core.features.layer0.norm.bias", NSID_PARAM_WEIGHT, 1, {4}},
    {"core.features.layer0.norm.running_mean", NSID_PARAM_BUFFER, 1, {4}},
    {"core.features.layer0.norm.running_var", NSID_PARAM_BUFFER, 1, {4}},
    {"readout.scan-a._features", NSID_PARAM_WEIGHT, 4, {1, 4, 1, 5}},
    {"readout.scan-a.sigma", NSID_PARAM_WEIGHT, 4, {1, 5, 2, 2}},
    {"readout.scan-a.temperature", NSID_PARAM_WEIGHT, 0, {0}},
    {"readout.scan-b.scales", NSID_PARAM_WEIGHT, 4, {1, 1, 1, 3}},
    {"readout.scan-b.source_grid", NSID_PARAM_BUFFER, 2, {3, 2}},
    {"readout.scan-b.feature_sharing_index", NSID_PARAM_BUFFER, 1, {3}},
};
/* Derived from metadata: a load must find the same values. */
static const char *const toy_fixed[] = {"readout.scan-b.source_grid", "readout.scan-b.feature_sharing_index"};
#define TOY_N ((int)(sizeof toy_specs / sizeof toy_specs[0]))

struct toy {
    struct nsid_params ps;
    float *view[TOY_N + 2], *grad[TOY_N + 2];
    int64_t nbt;                      /* core.features.layer0.norm.num_batches_tracked */
    int64_t share_idx[3];             /* readout.scan-b.grid_sharing_index */
    struct nsid_checkpoint_i64 ints[2];
    struct nsid_checkpoint_alias alias;
    struct nsid_checkpoint ck;
};

/*
 * Register the toy's tensors; skip (if not NULL) leaves one out, extra (if
 * not NULL) adds one more, and reshape (if not NULL) registers that name with
 * shape (1,6,2,2) instead. Values are drawn from seed.
 */
static int toy_init(struct toy *t, uint64_t seed, const char *skip, const char *extra, const char *reshape)
{
    struct nsid_err err = {0};
    memset(t, 0, sizeof *t);
    nsid_params_init(&t->ps);
    int k = 0;
    for (int i = 0; i < TOY_N; i++) {
        const struct toy_spec *s = &toy_specs[i];
        if (skip && strcmp(skip, s->name) == 0) continue;
        int alt[4] = {1, 6, 2, 2};
        const int *shape = reshape && strcmp(reshape, s->name) == 0 ? alt : s->shape;
        if (nsid_params_add(&t->ps, s->name, s->kind, s->ndim, shape, &t->view[k], &t->grad[k], &err) < 0) return -1;
        k++;
    }
    if (extra && nsid_params_add(&t->ps, extra, NSID_PARAM_WEIGHT, 1, (int[]){7}, &t->view[k], &t->grad[k], &err) < 0)
        return -1;
    if (nsid_params_alloc(&t->ps, &err) < 0) return -1;
    struct nsid_rng r;
    nsid_rng_init(&r, seed, NSID_STREAM_INIT);
    for (size_t i = 0; i < t->ps.n_weights; i++) {
        t->ps.w[i] = (float)nsid_rng_normal(&r);
        t->ps.m[i] = (float)nsid_rng_normal(&r);
        t->ps.v[i] = (float)nsid_rng_uniform(&r);
    }
    for (size_t i = 0; i < t->ps.n_buffers; i++) t->ps.buf[i] = (float)nsid_rng_uniform(&r);
    /* The metadata-derived buffers are the same for every seed. */
    struct nsid_param *sg = nsid_params_find(&t->ps, "readout.scan-b.source_grid");
    struct nsid_param *fi = nsid_params_find(&t->ps, "readout.scan-b.feature_sharing_index");
    for (int i = 0; sg && i < 6; i++) nsid_params_data(&t->ps, sg)[i] = -0.5f + 0.2f * (float)i;
    for (int i = 0; fi && i < 3; i++) nsid_params_data(&t->ps, fi)[i] = (float)((i + 2) % 3);
    t->ps.adam_t = (int64_t)seed;
    t->nbt = 1000 + (int64_t)seed;
    t->share_idx[0] = 2, t->share_idx[1] = 0, t->share_idx[2] = 1;
    t->ints[0] = (struct nsid_checkpoint_i64){.ndim = 0, .len = 1, .data = &t->nbt};
    snprintf(t->ints[0].name, sizeof t->ints[0].name, "core.features.layer0.norm.num_batches_tracked");
    t->ints[1] = (struct nsid_checkpoint_i64){.ndim = 1, .len = 3, .data = t->share_idx, .fixed = true};
    snprintf(t->ints[1].name, sizeof t->ints[1].name, "readout.scan-b.grid_sharing_index");
    snprintf(t->alias.name, sizeof t->alias.name, "readout.scan-b._features");
    snprintf(t->alias.target, sizeof t->alias.target, "readout.scan-a._features");
    t->ck = (struct nsid_checkpoint){.ps = &t->ps, .ints = t->ints, .n_ints = 2, .aliases = &t->alias,
                                     .n_aliases = 1, .fixed = toy_fixed, .n_fixed = 2, .arch = "{\"toy\":true}"};
    return 0;
}

static void toy_free(struct toy *t)
{
    nsid_params_free(&t->ps);
}

/* Bitwise equality of everything a checkpoint holds (opt: also m, v, step). */
static bool toy_same(const struct toy *a, const struct toy *b, bool opt)
{
    const struct nsid_params *p = &a->ps, *q = &b->ps;
    if (p->n != q->n || a->nbt != b->nbt) return false;
    for (int i = 0; i < p->n; i++) {
        const struct nsid_param *x = &p->p[i], *y = &q->p[i];
        size_t n = x->numel * sizeof(float);
        if (strcmp(x->name, y->name) != 0 || x->numel != y->numel) return false;
        if (memcmp(nsid_params_data(p, x), nsid_params_data(q, y), n) != 0) return false;
        if (opt && x->kind == NSID_PARAM_WEIGHT &&
            (memcmp(p->m + x->offset, q->m + y->offset, n) != 0 || memcmp(p->v + x->offset, q->v + y->offset, n) != 0))
            return false;
    }
    return !opt || p->adam_t == q->adam_t;
}

static char tmpdir[256];

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* Load must fail with code and a message containing all of want[] (NULL-terminated); model unchanged. */
static void expect_fail(const char *what, const char *path, const struct nsid_checkpoint_load_opts *o, int code,
                        const char *key, const char *const *want, struct toy *t)
{
    /* A snapshot of t's values, for the "untouched" check. */
    size_t nw = t->ps.n_weights, nb = t->ps.n_buffers;
    float *w = malloc(nw * 4), *buf = malloc(nb * 4);
    memcpy(w, t->ps.w, nw * 4);
    memcpy(buf, t->ps.buf, nb * 4);
    int64_t nbt = t->nbt;
    struct nsid_err err = {0};
    int rc = nsid_checkpoint_load(&t->ck, path, o, &err);
    char msg[2048];
    nsid_err_str(&err, msg, sizeof msg);
    CHECK(rc == code, "%s: load returns %d (got %d: %s)", what, code, rc, msg);
    if (key) CHECK(strcmp(err.key, key) == 0, "%s: error names '%s' (got '%s')", what, key, err.key);
    for (int i = 0; want && want[i]; i++)
        CHECK(strstr(msg, want[i]) != NULL, "%s: message mentions '%s': %s", what, want[i], msg);
    CHECK(memcmp(w, t->ps.w, nw * 4) == 0 && memcmp(buf, t->ps.buf, nb * 4) == 0 && nbt == t->nbt,
          "%s: a failed load leaves the model untouched", what);
    printf("  %-28s -> %s\n", what, msg);
    free(w);
    free(buf);
}

static bool same_bytes(const char *p, const char *q)
{
    FILE *a = fopen(p, "rb"), *b = fopen(q, "rb");
    bool same = a && b;
    for (int x, y; same;) {
        x = fgetc(a), y = fgetc(b);
        same = x == y;
        if (x == EOF) break;
    }
    if (a) fclose(a);
    if (b) fclose(b);
    return same;
}

static void test_round_trip(void)
{
    struct toy a, b;
    struct nsid_err err = {0};
    toy_init(&a, 1, NULL, NULL, NULL);
    toy_init(&b, 2, NULL, NULL, NULL);
    CHECK(!toy_same(&a, &b, false), "two seeds differ");
    CHECK(nsid_checkpoint_save(&a.ck, tpath("a.h5"), true, &err) == 0, "save with optimizer: %s", err.msg);
    CHECK(nsid_checkpoint_load(&b.ck, tpath("a.h5"), NULL, &err) == 0, "load: %s", err.msg);
    CHECK(toy_same(&a, &b, false), "reload is bit-identical (weights, buffers, num_batches_tracked)");
    CHECK(!toy_same(&a, &b, true), "a plain load leaves Adam state alone");
    struct nsid_checkpoint_load_opts o = {.optimizer = true};
    CHECK(nsid_checkpoint_load(&b.ck, tpath("a.h5"), &o, &err) == 0, "load with optimizer: %s", err.msg);
    CHECK(toy_same(&a, &b, true), "reload with optimizer is bit-identical (m, v, step)");

    /* Save again over the same path: replaced atomically, no temporary file left. */
    a.ps.w[0] += 1.0f;
    CHECK(nsid_checkpoint_save(&a.ck, tpath("a.h5"), false, &err) == 0, "save over an existing checkpoint");
    CHECK(nsid_checkpoint_load(&b.ck, tpath("a.h5"), NULL, &err) == 0 && b.ps.w[0] == a.ps.w[0],
          "the new checkpoint replaced the old");
    o.optimizer = true;
    expect_fail("optimizer absent", tpath("a.h5"), &o, NSID_ENOTFOUND, "_optimizer", (const char *[]){"no optimizer", NULL},
                &b);
    int tmps = 0;
    DIR *d = opendir(tmpdir);
    for (struct dirent *e; d && (e = readdir(d));) tmps += strstr(e->d_name, ".tmp") != NULL;
    if (d) closedir(d);
    CHECK(tmps == 0, "no temporary file left behind (%d)", tmps);

    /* The same content gives the same bytes (no object timestamps), even a second later. */
    CHECK(nsid_checkpoint_save(&a.ck, tpath("same1.h5"), true, &err) == 0, "save again");
    sleep(1);
    CHECK(nsid_checkpoint_save(&a.ck, tpath("same2.h5"), true, &err) == 0, "and again a second later");
    CHECK(same_bytes(tpath("same1.h5"), tpath("same2.h5")), "identical checkpoints are byte-identical files");

    char *arch = NULL;
    CHECK(nsid_checkpoint_read_arch(tpath("a.h5"), &arch, &err) == 0 && arch && strcmp(arch, "{\"toy\":true}") == 0,
          "architecture attribute reads back");
    nsid_alloc_free(arch);

    /* The alias is a hard link: h5 sees the same data under both names. */
    hid_t f = H5Fopen(tpath("a.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    float x[20], y[20];
    hid_t d1 = H5Dopen2(f, "/readout/scan-a/_features", H5P_DEFAULT), d2 = H5Dopen2(f, "/readout/scan-b/_features", H5P_DEFAULT);
    H5Dread(d1, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    H5Dread(d2, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, y);
    CHECK(memcmp(x, y, sizeof x) == 0, "shared _features readable under the second scan's name");
    hid_t d3 = H5Dopen2(f, "/core/features/layer0/norm/num_batches_tracked", H5P_DEFAULT);
    hid_t t3 = H5Dget_type(d3), s3 = H5Dget_space(d3);
    CHECK(H5Tget_class(t3) == H5T_INTEGER && H5Tget_size(t3) == 8 && H5Sget_simple_extent_ndims(s3) == 0,
          "num_batches_tracked is an int64 scalar");
    H5Tclose(t3), H5Sclose(s3);
    hid_t d4 = H5Dopen2(f, "/readout/scan-b/feature_sharing_index", H5P_DEFAULT);
    hid_t t4 = H5Dget_type(d4);
    int64_t idx[3] = {0};
    H5Dread(d4, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, idx);
    CHECK(H5Tget_class(t4) == H5T_INTEGER && H5Tget_size(t4) == 8 && idx[0] == 2 && idx[1] == 0 && idx[2] == 1,
          "a float-held feature_sharing_index is stored as int64, as PyTorch declares it");
    H5Tclose(t4);
    H5Dclose(d1), H5Dclose(d2), H5Dclose(d3), H5Dclose(d4), H5Fclose(f);

    /* A metadata-derived buffer within 1e-6: the model keeps its own value. */
    struct nsid_param *sg = nsid_params_find(&b.ps, "readout.scan-b.source_grid");
    nsid_params_data(&b.ps, sg)[1] += 1e-8f;
    float own = nsid_params_data(&b.ps, sg)[1];
    CHECK(nsid_checkpoint_load(&b.ck, tpath("a.h5"), NULL, &err) == 0 && nsid_params_data(&b.ps, sg)[1] == own,
          "fixed buffer: the model keeps its own value");
    toy_free(&a);
    toy_free(&b);
}

static void test_save_errors(void)
{
    struct toy a;
    struct nsid_err err = {0};
    toy_init(&a, 1, NULL, NULL, NULL);
    int rc = nsid_checkpoint_save(&a.ck, "/nonexistent-dir/x/ckpt.h5", false, &err);
    CHECK(rc == NSID_EIO && strstr(err.file, "/nonexistent-dir/x/ckpt.h5"), "unwritable path fails naming it");
    CHECK(access("/nonexistent-dir/x/ckpt.h5", F_OK) != 0, "nothing written");
    struct nsid_checkpoint_alias bad = {.name = "readout.x._features", .target = "readout.nope._features"};
    struct nsid_checkpoint ck = a.ck;
    nsid_err_clear(&err);
    ck.aliases = &bad;
    rc = nsid_checkpoint_save(&ck, tpath("bad.h5"), false, &err);
    CHECK(rc == NSID_EINVAL && strcmp(err.key, "readout.x._features") == 0, "alias of an unknown tensor refused");
    CHECK(access(tpath("bad.h5"), F_OK) != 0, "refused save writes nothing");
    toy_free(&a);
}

/* Byte offset of the first occurrence of needle in the file, or -1. */
static long find_bytes(const char *path, const void *needle, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)size);
    long at = -1;
    if (fread(b, 1, (size_t)size, f) == (size_t)size)
        for (long i = 0; i + (long)n <= size && at < 0; i++)
            if (memcmp(b + i, needle, n) == 0) at = i;
    free(b);
    fclose(f);
    return at;
}

static void copy_file(const char *from, const char *to, long truncate_to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[4096];
    long left = truncate_to < 0 ? (1L << 40) : truncate_to;
    size_t n;
    while (left > 0 && (n = fread(buf, 1, sizeof buf < (size_t)left ? sizeof buf : (size_t)left, a)) > 0) {
        fwrite(buf, 1, n, b);
        left -= (long)n;
    }
    fclose(a);
    fclose(b);
}

/* Edit a saved file with HDF5 directly: the cases a real damaged or foreign file presents. */
static void edit_attr_int(const char *path, const char *key, int64_t v)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, key, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    H5Fclose(f);
}

static void edit_magic(const char *path, const char *magic)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete(f, "magic");
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR);
    H5Tset_size(t, strlen(magic) + 1);
    hid_t a = H5Acreate2(f, "magic", t, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, magic);
    H5Aclose(a), H5Sclose(s), H5Tclose(t), H5Fclose(f);
}

/* Replace a dataset by a 1-D one of n elements of type t (float64 or float32). */
static void edit_dataset(const char *path, const char *dpath, hsize_t n, hid_t t)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, dpath, H5P_DEFAULT);
    hid_t s = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, dpath, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    double z[64] = {0};
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, z);
    H5Dclose(d), H5Sclose(s), H5Fclose(f);
}

static void test_bad_files(void)
{
    struct toy a, b;
    struct nsid_err err = {0};
    toy_init(&a, 1, NULL, NULL, NULL);
    toy_init(&b, 2, NULL, NULL, NULL);
    /* A distinctive pattern in one tensor so the bit-flip case can find its bytes. */
    for (int i = 0; i < 20; i++) a.view[6][i] = 1234.5f + (float)i;
    char good[512];
    snprintf(good, sizeof good, "%s", tpath("good.h5"));
    nsid_checkpoint_save(&a.ck, good, false, &err);

    printf("bad checkpoints (each must fail cleanly):\n");
    expect_fail("no file", tpath("none.h5"), NULL, NSID_ENOTFOUND, NULL, (const char *[]){"none.h5", NULL}, &b);

    FILE *f = fopen(tpath("text.h5"), "w");
    fputs("this is not hdf5\n", f);
    fclose(f);
    expect_fail("not HDF5", tpath("text.h5"), NULL, NSID_EFORMAT, NULL, (const char *[]){"cannot open", NULL}, &b);

    struct stat st;
    stat(good, &st);
    copy_file(good, tpath("trunc.h5"), st.st_size / 2);
    expect_fail("truncated", tpath("trunc.h5"), NULL, NSID_EFORMAT, NULL, (const char *[]){"trunc.h5", NULL}, &b);

    float pat[2] = {1234.5f, 1235.5f};
    long at = find_bytes(good, pat, sizeof pat);
    CHECK(at > 0, "found the sigma bytes in the file");
    copy_file(good, tpath("flip.h5"), -1);
    f = fopen(tpath("flip.h5"), "r+b");
    fseek(f, at + 2, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at + 2, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
    expect_fail("bit flip in data", tpath("flip.h5"), NULL, NSID_EFORMAT, "readout.scan-a.sigma",
                (const char *[]){"checksum", NULL}, &b);

    copy_file(good, tpath("ver.h5"), -1);
    edit_attr_int(tpath("ver.h5"), "format_version", 99);
    expect_fail("format version", tpath("ver.h5"), NULL, NSID_EFORMAT, "format_version",
                (const char *[]){"99", "newer", NULL}, &b);

    copy_file(good, tpath("magic.h5"), -1);
    edit_magic(tpath("magic.h5"), "pytorch");
    expect_fail("magic", tpath("magic.h5"), NULL, NSID_EFORMAT, "magic", (const char *[]){"pytorch", NULL}, &b);

    copy_file(good, tpath("count.h5"), -1);
    edit_attr_int(tpath("count.h5"), "n_entries", 3);
    expect_fail("entry count", tpath("count.h5"), NULL, NSID_EFORMAT, "n_entries", (const char *[]){"3", NULL}, &b);

    copy_file(good, tpath("dtype.h5"), -1);
    edit_dataset(tpath("dtype.h5"), "/core/features/layer0/norm/bias", 4, H5T_IEEE_F64LE);
    expect_fail("float64 tensor", tpath("dtype.h5"), NULL, NSID_EFORMAT, "core.features.layer0.norm.bias",
                (const char *[]){"float32", NULL}, &b);

    copy_file(good, tpath("rank.h5"), -1);
    edit_dataset(tpath("rank.h5"), "/readout/scan-a/sigma", 20, H5T_IEEE_F32LE);
    expect_fail("wrong rank", tpath("rank.h5"), NULL, NSID_ESHAPE, "readout.scan-a.sigma",
                (const char *[]){"(20)", "(1,5,2,2)", NULL}, &b);

    /* Model and file disagree on names and shapes. */
    struct toy m1, m2, m3, m4;
    toy_init(&m1, 3, NULL, "readout.scan-a.extra", NULL);
    expect_fail("missing tensor", good, NULL, NSID_ENOTFOUND, "readout.scan-a.extra",
                (const char *[]){"missing", "(7)", NULL}, &m1);
    toy_init(&m2, 3, "readout.scan-a.sigma", NULL, NULL);
    expect_fail("extra tensor", good, NULL, NSID_ESHAPE, "readout.scan-a.sigma",
                (const char *[]){"not in this model", NULL}, &m2);
    toy_init(&m3, 3, NULL, NULL, "readout.scan-a.sigma");
    expect_fail("wrong shape", good, NULL, NSID_ESHAPE, "readout.scan-a.sigma",
                (const char *[]){"(1,5,2,2)", "(1,6,2,2)", NULL}, &m3);
    toy_init(&m4, 3, NULL, NULL, NULL);
    m4.share_idx[0] = 0;
    expect_fail("fixed int64 differs", good, NULL, NSID_EINVAL, "readout.scan-b.grid_sharing_index",
                (const char *[]){"differs", NULL}, &m4);
    m4.share_idx[0] = 2;
    nsid_params_data(&m4.ps, nsid_params_find(&m4.ps, "readout.scan-b.feature_sharing_index"))[2] = 0.0f;
    expect_fail("other match ids", good, NULL, NSID_EINVAL, "readout.scan-b.feature_sharing_index",
                (const char *[]){"element 2", NULL}, &m4);
    nsid_params_data(&m4.ps, nsid_params_find(&m4.ps, "readout.scan-b.feature_sharing_index"))[2] = 1.0f;
    nsid_params_data(&m4.ps, nsid_params_find(&m4.ps, "readout.scan-b.source_grid"))[0] = 0.25f;
    expect_fail("other coordinates", good, NULL, NSID_EINVAL, "readout.scan-b.source_grid",
                (const char *[]){"element 0", "0.25", NULL}, &m4);

    /* A second scan's shared _features that differ from the owner's (hand-edited file). */
    copy_file(good, tpath("alias.h5"), -1);
    hid_t h = H5Fopen(tpath("alias.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(h, "/readout/scan-b/_features", H5P_DEFAULT);
    hsize_t dims[4] = {1, 4, 1, 5};
    hid_t s = H5Screate_simple(4, dims, NULL);
    hid_t d = H5Dcreate2(h, "/readout/scan-b/_features", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    float z[20] = {0};
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, z);
    H5Dclose(d), H5Sclose(s), H5Fclose(h);
    expect_fail("shared copy differs", tpath("alias.h5"), NULL, NSID_EFORMAT, "readout.scan-b._features",
                (const char *[]){"readout.scan-a._features", NULL}, &b);

    /* Numbers that are not numbers: one element of a weight, a bias-like vector or a running
     * statistic set to NaN, +-Inf, or a negative running variance: refused naming the tensor. */
    static const struct {
        const char *what, *dset, *tensor;
        int64_t elt;
        float value;
    } nonfinite[] = {
        {"NaN conv weight", "/core/features/layer0/conv/weight", "core.features.layer0.conv.weight", 5, NAN},
        {"+Inf BN weight", "/core/features/layer0/norm/weight", "core.features.layer0.norm.weight", 0, INFINITY},
        {"-Inf BN bias", "/core/features/layer0/norm/bias", "core.features.layer0.norm.bias", 3, -INFINITY},
        {"NaN running mean", "/core/features/layer0/norm/running_mean", "core.features.layer0.norm.running_mean", 1,
         NAN},
        {"negative running var", "/core/features/layer0/norm/running_var", "core.features.layer0.norm.running_var",
         2, -0.5f},
        {"Inf running var", "/core/features/layer0/norm/running_var", "core.features.layer0.norm.running_var", 0,
         INFINITY},
    };
    int nonfinite_wrong = 0;
    for (size_t i = 0; i < sizeof nonfinite / sizeof nonfinite[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "nonfinite%zu.h5", i);
        copy_file(good, tpath(name), -1);
        hid_t hf = H5Fopen(tpath(name), H5F_ACC_RDWR, H5P_DEFAULT);
        hid_t ds = H5Dopen2(hf, nonfinite[i].dset, H5P_DEFAULT);
        hid_t fs = H5Dget_space(ds);
        hsize_t n = (hsize_t)H5Sget_simple_extent_npoints(fs);
        float *x = malloc(n * sizeof *x);
        H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
        x[nonfinite[i].elt] = nonfinite[i].value;
        H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
        free(x);
        H5Sclose(fs), H5Dclose(ds), H5Fclose(hf);
        char elt[32];
        snprintf(elt, sizeof elt, "element %lld ", (long long)nonfinite[i].elt);
        int failed = check_failed_;
        expect_fail(nonfinite[i].what, tpath(name), NULL, NSID_EFORMAT, nonfinite[i].tensor,
                    (const char *[]){name, elt, NULL}, &b);
        nonfinite_wrong += check_failed_ != failed;
    }
    pt_figures_reset("nonfinite_checkpoint");
    pt_figure("nonfinite_checkpoint", "cases", "%zu", sizeof nonfinite / sizeof nonfinite[0]);
    pt_figure("nonfinite_checkpoint", "wrong", "%d", nonfinite_wrong);

    struct nsid_checkpoint_load_opts o = {.prefix = "core.", .optimizer = true};
    expect_fail("prefix with optimizer", good, &o, NSID_EINVAL, NULL, NULL, &b);
    o = (struct nsid_checkpoint_load_opts){.prefix = "shifter."};
    expect_fail("empty prefix match", good, &o, NSID_EINVAL, NULL, (const char *[]){"no tensor", NULL}, &b);
    toy_free(&m1), toy_free(&m2), toy_free(&m3), toy_free(&m4);
    toy_free(&a);
    toy_free(&b);
}

/* Transfer: only "core." from a checkpoint of a model whose readouts differ. */
static void test_prefix(void)
{
    struct toy src, dst, bad;
    struct nsid_err err = {0};
    toy_init(&src, 5, NULL, NULL, NULL);
    toy_init(&dst, 6, "readout.scan-a.sigma", "readout.scan-c.bias", NULL);
    nsid_checkpoint_save(&src.ck, tpath("src.h5"), false, &err);
    struct nsid_checkpoint_load_opts o = {.prefix = "core."};
    size_t n_core = 0;
    const struct nsid_param *pr = nsid_params_find(&dst.ps, "readout.scan-c.bias");
    float rbefore = nsid_params_data(&dst.ps, pr)[0];
    CHECK(nsid_checkpoint_load(&dst.ck, tpath("src.h5"), NULL, &err) < 0, "a strict load of other readouts fails");
    CHECK(nsid_checkpoint_load(&dst.ck, tpath("src.h5"), &o, &err) == 0, "prefix load of core.: %s", err.msg);
    for (int i = 0; i < dst.ps.n; i++) {
        const struct nsid_param *p = &dst.ps.p[i];
        if (strncmp(p->name, "core.", 5) != 0) continue;
        const struct nsid_param *q = nsid_params_find(&src.ps, p->name);
        CHECK(memcmp(nsid_params_data(&dst.ps, p), nsid_params_data(&src.ps, q), p->numel * 4) == 0,
              "%s transferred", p->name);
        n_core++;
    }
    CHECK(n_core == 5, "five core tensors");
    CHECK(dst.nbt == src.nbt, "core num_batches_tracked transferred");
    CHECK(nsid_params_data(&dst.ps, pr)[0] == rbefore, "readouts untouched by a core transfer");
    toy_init(&bad, 7, "core.features.layer0.norm.bias", NULL, NULL);
    expect_fail("prefix: extra in file", tpath("src.h5"), &o, NSID_ESHAPE, "core.features.layer0.norm.bias", NULL,
                &bad);
    toy_free(&bad);
    toy_free(&src);
    toy_free(&dst);
}

static void cleanup(void)
{
    DIR *d = opendir(tmpdir);
    char p[1024];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        remove(p);
    }
    if (d) closedir(d);
    rmdir(tmpdir);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nsid_ckpt_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_save_errors();
    test_bad_files();
    test_prefix();
    cleanup();
    return check_summary("checkpoint");
}
