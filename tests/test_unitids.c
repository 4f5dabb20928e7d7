/*
 * test_unitids.c - every readout is keyed by the identity of its neurons (issue 17, class 2).
 *
 * A checkpoint records, per readout, the unit ids of its neurons (/_neurons/<key>), and every
 * load of a readout compares them with the scan's before any tensor. For each readout type
 * (Gaussian with the cortex grid predictor, free Gaussian, factorized, point-pooled), a
 * checkpoint of a model of two scans ("uid-a": 12 neurons with unit ids 101..112 and
 * coordinates that belong to the unit; "uid-b": 4 neurons) is loaded into models built for
 * variants of scan uid-a:
 *
 *   the same neurons                       loads, every tensor bit for bit
 *   reversed order, two neurons swapped    refused: first differing neuron, both unit ids
 *   another subset of the same size        refused (at the end, at the front)
 *   one more, one fewer neuron             refused ("absent" on the short side)
 *   a scan without unit ids                refused (identity by index vs by unit id)
 *   prefix "core." (transfer), reversed    loads: no readout is taken
 *   prefix "readout.", reversed            refused
 *   the checkpoint without /_neurons       loads with a warning naming both readouts
 *                                          (what nsid2torch.py --from-torch writes)
 *
 * and, for scans without unit ids, the identity is the neuron's index in the file: the same
 * indices load, another subset of indices is refused. Before this check, the factorized and
 * point-pooled readouts loaded every variant of the same size silently; the Gaussian one
 * refused through its source_grid with no word of which neuron.
 *
 * Writes "$NSID_BIN/figures/unitids.txt": cases, refused, loaded, warned, wrong (must be 0).
 */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "check.h"
#include "nn/model.h"

#define NMAX 16

static char dir[256];
static int n_cases, n_refused, n_loaded, n_warned, n_wrong;

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Scan uid-a's neurons as a variant presents them. */
struct variant {
    const char *what;
    int n;
    int64_t ids[NMAX];   /* unit ids (or neuron indices with by_index) */
    bool by_index;       /* the scan has no unit ids: ids are indices in its file */
};

struct warned {
    int n;
    char msg[1024];
};

static void on_warn(void *ctx, const char *msg)
{
    struct warned *w = ctx;
    w->n++;
    snprintf(w->msg, sizeof w->msg, "%s", msg);
}

/* The coordinates of a unit: a function of its id, so a reordered scan reorders them too. */
static void unit_coords(int64_t id, double *xyz)
{
    xyz[0] = (double)((id * 37) % 400) - 200.0;
    xyz[1] = (double)((id * 53) % 400) - 200.0;
    xyz[2] = (double)((id * 11) % 300);
}

struct built {
    struct nsid_model m;
    double coords[2][NMAX * 3];
    int64_t ids_b[4];
};

static int build(struct built *b, int kind, bool cortex, const struct variant *v, uint64_t seed)
{
    struct nsid_err err = {0};
    memset(b, 0, sizeof *b);
    for (int j = 0; j < v->n; j++) unit_coords(v->ids[j], b->coords[0] + 3 * j);
    for (int j = 0; j < 4; j++) {
        b->ids_b[j] = 1 + j;
        unit_coords(1000 + j, b->coords[1] + 3 * j);
    }
    struct nsid_model_scan sc[2] = {
        {.data_key = "uid-a", .n_neurons = v->n, .n_trials = 10, .channels = 1, .height = 9, .width = 11,
         .coords = b->coords[0], .unit_ids = v->by_index ? NULL : v->ids, .neuron_index = v->by_index ? v->ids : NULL},
        {.data_key = "uid-b", .n_neurons = 4, .n_trials = 10, .channels = 1, .height = 9, .width = 11,
         .coords = b->coords[1], .unit_ids = b->ids_b}};
    struct nsid_model_config cfg;
    nsid_model_config_default(&cfg);
    cfg.core.layers = 2;
    cfg.core.hidden_channels = 3;
    cfg.core.input_kern = 3;
    cfg.core.hidden_kern = 3;
    cfg.threads = 1;
    nsid_readout_config_default(&cfg.readout, kind);
    if (kind == NSID_READOUT_GAUSSIAN) cfg.readout.grid_mean_predictor = cortex;
    if (kind == NSID_READOUT_POINTPOOLED) cfg.readout.pool_steps = 1, cfg.readout.pool_kern = 2;
    cfg.seed = seed;
    if (nsid_model_init(&b->m, &cfg, sc, 2, &err) < 0) {
        CHECK(0, "build %s: %s: %s", v->what, err.key, err.msg);
        return -1;
    }
    return 0;
}

static const char *kind_name(int kind, bool cortex)
{
    return kind == NSID_READOUT_FACTORIZED    ? "factorized"
           : kind == NSID_READOUT_POINTPOOLED ? "pointpooled"
           : cortex                           ? "gaussian-cortex"
                                              : "gaussian";
}

/*
 * Load ckpt into a model built for variant v (prefix: NULL or one). want: NULL, it must
 * load (and, same_as non-NULL, every tensor equal same_as's); else it must be refused with
 * key want_key and a message containing want. want_warn: the warning must contain it.
 */
static void try_load(int kind, bool cortex, const char *ckpt, const struct variant *v, const char *prefix,
                     const char *want_key, const char *want, const char *want_warn, struct nsid_model *same_as)
{
    struct built b;
    n_cases++;
    if (build(&b, kind, cortex, v, 99) < 0) {
        n_wrong++;
        return;
    }
    struct warned w = {0};
    struct nsid_checkpoint_load_opts o = {.prefix = prefix, .warn = on_warn, .warn_ctx = &w};
    struct nsid_err err = {0};
    int rc = nsid_model_load(&b.m, ckpt, &o, &err);
    const char *kn = kind_name(kind, cortex);
    bool ok;
    if (!want) {
        ok = rc == 0;
        CHECK(rc == 0, "%s, %s: loads, got: %s: %s", kn, v->what, err.key, err.msg);
        if (rc == 0) n_loaded++;
        if (rc == 0 && same_as) {
            bool same = memcmp(b.m.ps.w, same_as->ps.w, b.m.ps.n_weights * sizeof(float)) == 0 &&
                        memcmp(b.m.ps.buf, same_as->ps.buf, b.m.ps.n_buffers * sizeof(float)) == 0;
            CHECK(same, "%s, %s: the loaded tensors are the saved ones", kn, v->what);
            ok = ok && same;
        }
    } else {
        bool named = rc != 0 && strcmp(err.key, want_key) == 0 && strstr(err.msg, want) &&
                     strcmp(err.file, ckpt) == 0;
        CHECK(named, "%s, %s: refused with %s '%s', got rc %d: %s: %s: %s", kn, v->what, want_key, want, rc, err.file,
              err.key, err.msg);
        ok = named;
        if (rc != 0) n_refused++;
    }
    if (want_warn) {
        bool warned = w.n == 1 && strstr(w.msg, want_warn) && strstr(w.msg, ckpt);
        CHECK(warned, "%s, %s: one warning with '%s', got %d: %s", kn, v->what, want_warn, w.n, w.msg);
        ok = ok && warned;
        if (w.n) n_warned++;
    } else {
        CHECK(w.n == 0, "%s, %s: no warning, got: %s", kn, v->what, w.msg);
        ok = ok && w.n == 0;
    }
    if (!ok) n_wrong++;
    nsid_model_free(&b.m);
}

static struct variant seq(const char *what, int first, int n)
{
    struct variant v = {.what = what, .n = n};
    for (int j = 0; j < n; j++) v.ids[j] = first + j;
    return v;
}

/* The checkpoint without /_neurons (as nsid2torch.py --from-torch writes it). */
static int strip_ids(const char *src, const char *dst)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, dst);
    if (system(cmd) != 0) return -1;
    hid_t f = H5Fopen(dst, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return -1;
    herr_t rc = H5Ldelete(f, "/_neurons", H5P_DEFAULT);
    H5Fclose(f);
    return rc < 0 ? -1 : 0;
}

static void family(int kind, bool cortex)
{
    const struct variant same = seq("the same neurons", 101, 12);
    struct built a;
    if (build(&a, kind, cortex, &same, 7) < 0) return;
    char name[64];
    snprintf(name, sizeof name, "%s.h5", kind_name(kind, cortex));
    const char *ck = tpath(name);
    struct nsid_err err = {0};
    CHECK(nsid_model_save(&a.m, ck, false, &err) == 0, "save: %s", err.msg);

    try_load(kind, cortex, ck, &same, NULL, NULL, NULL, NULL, &a.m);

    struct variant rev = {.what = "reversed order", .n = 12};
    for (int j = 0; j < 12; j++) rev.ids[j] = 112 - j;
    try_load(kind, cortex, ck, &rev, NULL, "readout.uid-a",
             "neuron 0 is unit id 101 in the checkpoint, unit id 112 in the scan", NULL, NULL);

    struct variant swap = seq("two neurons swapped", 101, 12);
    swap.ids[5] = 107, swap.ids[6] = 106;
    try_load(kind, cortex, ck, &swap, NULL, "readout.uid-a",
             "neuron 5 is unit id 106 in the checkpoint, unit id 107 in the scan", NULL, NULL);

    struct variant sub = seq("another subset of the same size (last)", 101, 12);
    sub.ids[11] = 150;
    try_load(kind, cortex, ck, &sub, NULL, "readout.uid-a",
             "neuron 11 is unit id 112 in the checkpoint, unit id 150 in the scan", NULL, NULL);

    struct variant sub0 = seq("another subset of the same size (shifted)", 102, 12);
    try_load(kind, cortex, ck, &sub0, NULL, "readout.uid-a",
             "neuron 0 is unit id 101 in the checkpoint, unit id 102 in the scan", NULL, NULL);

    struct variant more = seq("one more neuron", 101, 13);
    try_load(kind, cortex, ck, &more, NULL, "readout.uid-a",
             "neuron 12 is absent in the checkpoint, unit id 113 in the scan (12 neurons in the checkpoint, 13",
             NULL, NULL);

    struct variant fewer = seq("one fewer neuron", 101, 11);
    try_load(kind, cortex, ck, &fewer, NULL, "readout.uid-a",
             "neuron 11 is unit id 112 in the checkpoint, absent in the scan (12 neurons in the checkpoint, 11",
             NULL, NULL);

    struct variant noids = seq("a scan without unit ids", 0, 12);
    noids.by_index = true;
    try_load(kind, cortex, ck, &noids, NULL, "readout.uid-a", "by unit id, the scan has no unit ids", NULL, NULL);

    rev.what = "reversed order, core only (transfer)";
    try_load(kind, cortex, ck, &rev, "core.", NULL, NULL, NULL, NULL);
    rev.what = "reversed order, prefix readout.";
    try_load(kind, cortex, ck, &rev, "readout.", "readout.uid-a", "neuron 0 is unit id 101 in the checkpoint", NULL,
             NULL);

    snprintf(name, sizeof name, "%s-noids.h5", kind_name(kind, cortex));
    const char *stripped = tpath(name);
    CHECK(strip_ids(ck, stripped) == 0, "strip /_neurons from %s", ck);
    struct variant same2 = same;
    same2.what = "the same neurons, checkpoint without /_neurons";
    try_load(kind, cortex, stripped, &same2, NULL, NULL, NULL,
             "the neurons of readout 'uid-a', 'uid-b' could not be checked", &a.m);
    nsid_model_free(&a.m);

    /* Scans without unit ids: the identity is the index in the file. */
    struct variant idx = seq("indices 0..11 (no unit ids)", 0, 12);
    idx.by_index = true;
    if (build(&a, kind, cortex, &idx, 7) < 0) return;
    snprintf(name, sizeof name, "%s-index.h5", kind_name(kind, cortex));
    const char *cki = tpath(name);
    CHECK(nsid_model_save(&a.m, cki, false, &err) == 0, "save: %s", err.msg);
    try_load(kind, cortex, cki, &idx, NULL, NULL, NULL, NULL, &a.m);
    struct variant idx2 = idx;
    idx2.what = "another subset of indices (no unit ids)";
    idx2.ids[4] = 20;
    try_load(kind, cortex, cki, &idx2, NULL, "readout.uid-a",
             "neuron 4 is neuron index 4 in the checkpoint, neuron index 20 in the scan", NULL, NULL);
    struct variant withids = seq("a scan with unit ids, checkpoint by index", 0, 12);
    try_load(kind, cortex, cki, &withids, NULL, "readout.uid-a", "the scan has unit ids", NULL, NULL);
    nsid_model_free(&a.m);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/nsid_test_unitids_%ld", (long)getpid());
    mkdir(dir, 0700);
    family(NSID_READOUT_GAUSSIAN, true);
    family(NSID_READOUT_GAUSSIAN, false);
    family(NSID_READOUT_FACTORIZED, false);
    family(NSID_READOUT_POINTPOOLED, false);
    printf("neuron identity: %d cases, %d refused, %d loaded, %d warned, %d wrong\n", n_cases, n_refused, n_loaded,
           n_warned, n_wrong);
    const char *bin = getenv("NSID_BIN");
    if (bin) {
        char p[1024];
        snprintf(p, sizeof p, "%s/figures", bin);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/figures/unitids.txt", bin);
        FILE *f = fopen(p, "w");
        CHECK(f != NULL, "write %s", p);
        if (f) {
            fprintf(f, "cases %d\nrefused %d\nloaded %d\nwarned %d\nwrong %d\n", n_cases, n_refused, n_loaded,
                    n_warned, n_wrong);
            fclose(f);
        }
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("unitids");
}
