/*
 * test_bad_inputs.c - the bad-input suite of issue 9: every stage binary, given a bad
 * run configuration, experiment spec, scan, checkpoint, store or command line, must
 *   1. exit non-zero (2 for usage errors, 1 otherwise) and not crash,
 *   2. print exactly one message (one line; a "--help" hint line may follow a usage
 *      error) naming the file and the key (and the line, for configs and specs),
 *   3. leave results/results.db byte-identical (a populated store, copied per test run),
 *   4. leave no file that claims success: the only files a failed command may create or
 *      change are logs and run databases holding no 'done' run.
 * Every command runs in a workspace folder under the build dir with the store at
 * results/results.db, so a stage that falls back to its default store is caught too.
 *
 * The inputs: tests/bad/config/ (*.yaml and *.json run configs, first line "# expect: :LINE: KEY:
 * text"), tests/bad/spec/ (experiment specs, same convention, run through nsid-plan
 * when it exists), and bad scans, checkpoints and stores made here from the fixtures:
 * both scan layouts (HDF5 and file tree) with a missing key or file, a wrong shape or
 * dtype, NaN/Inf, an empty tier, truncation and inconsistent counts, each given to
 * nsid-train, nsid-eval and nsid-convert.
 *
 * Prints the number of cases (also to $NSID_BIN/figures/bad_inputs.txt for .ci/run).
 * NSID_TEST_VERBOSE=1 prints every case's message.
 *
 * ctest-labels: reliability
 */
#include <hdf5.h>
#include <hdf5_hl.h>

#include "check.h"
#include "data_testutil.h"
#include "proc_testutil.h"
#include "train_check.h"

#define TIMEOUT_MS 120000

static char ws[4096];       /* the workspace: every command runs here */
static char bin[4096];      /* the stage binaries */
static char src[4096];      /* the source tree */
static char store_hash[65]; /* sha256 of results/results.db before any case */
static int n_cases;
static bool verbose;

/* The small network every training here uses (seconds, not minutes). */
static const char *const SMALL[] = {"--set", "model.core.layers=2",      "--set", "model.core.hidden_channels=8",
                                    "--set", "model.core.input_kern=5",  "--set", "model.core.hidden_kern=3",
                                    "--set", "model.readout.gamma=0.1",  "--set", "train.batch_size=8",
                                    "--set", "train.max_epochs=2",       "--quiet"};
#define N_SMALL ((int)(sizeof SMALL / sizeof SMALL[0]))

/* ---------------------------------------------------------------- paths */

/* A path under the workspace (rotating static buffers: up to 8 alive at once). */
static const char *W(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *W(const char *fmt, ...)
{
    static char buf[8][4700];
    static int k;
    k = (k + 1) % 8;
    char rel[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(buf[k], sizeof buf[k], "%s/%s", ws, rel);
    return buf[k];
}

static const char *prog(const char *name)
{
    static char buf[8][4200];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", bin, name);
    return buf[k];
}

static bool have_prog(const char *name)
{
    return access(prog(name), X_OK) == 0;
}

/* ---------------------------------------------------------------- one case */

struct expect {
    int code;              /* expected exit status: 1 (bad input) or 2 (usage) */
    const char *want[4];   /* fragments the one message must contain (NULL-terminated) */
};

/* The files a failed command left new or changed, checked one by one. */
struct leftovers {
    const char *name;
    char bad[1024];
    int n_bad;
};

static long dt_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* A run database is acceptable after a failure if no run in it is 'done'. */
static bool db_claims_done(const char *path)
{
    char buf[64];
    if (!tc_sql(path, "SELECT count(*) FROM runs WHERE status='done'", buf, sizeof buf)) return false;
    return atoi(buf) > 0;
}

static void check_leftover(void *ctx, const char *rel)
{
    struct leftovers *l = ctx;
    const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    size_t n = strlen(base);
    bool ok = false;
    if (!strcmp(rel, "stderr.txt") || !strcmp(rel, "stdout.txt")) ok = true;
    else if (n > 4 && !strcmp(base + n - 4, ".log")) ok = true;
    else if (!strcmp(base, ".lock")) ok = true; /* a run folder's lock (src/base/path.h): a pid, no result */
    else if (n > 3 && !strcmp(base + n - 3, ".db") && strncmp(rel, "results/", 8) != 0)
        ok = !db_claims_done(W("%s", rel)); /* a run's own record, failed or running */
    else if (n > 7 && !strcmp(base + n - 7, ".db-shm"))
        ok = true; /* SQLite's shared-memory index: no content */
    else if (n > 7 && !strcmp(base + n - 7, ".db-wal"))
        ok = strncmp(rel, "results/", 8) != 0 || dt_file_size(W("%s", rel)) == 0; /* no commits pending on the store */
    if (!ok) {
        l->n_bad++;
        size_t k = strlen(l->bad);
        snprintf(l->bad + k, sizeof l->bad - k, "%s%s", k ? ", " : "", rel);
    }
}

/* Lines of s that are not a "--help" hint; *first gets the first such line. */
static int message_lines(const char *s, char *first, size_t n)
{
    int lines = 0;
    first[0] = '\0';
    while (*s) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char line[2048];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), s);
        bool hint = strstr(line, "--help") && lines > 0;
        bool blank = strspn(line, " \t\r") == strlen(line);
        if (!hint && !blank) {
            if (!lines) snprintf(first, n, "%s", line);
            lines++;
        }
        s += len + (e ? 1 : 0);
    }
    return lines;
}

/*
 * Run argv (NULL-terminated after name) in the workspace and check the four promises.
 * name labels the case in failures.
 */
static void bad_case(const char *name, const struct expect *x, const char *const *argv)
{
    n_cases++;
    unlink(W("stderr.txt"));
    unlink(W("stdout.txt"));
    struct pt_snap before, after;
    pt_snap_take(&before, ws);
    pid_t pid = pt_spawn(ws, argv, W("stdout.txt"), W("stderr.txt"));
    int code = pt_wait(pid, TIMEOUT_MS);
    char err[16384], first[2048];
    pt_slurp(W("stderr.txt"), err, sizeof err);
    int lines = message_lines(err, first, sizeof first);
    if (verbose) printf("  %-48s exit %d: %s\n", name, code, first);

    CHECK(code == x->code, "%s: exit %d, want %d%s; stderr: %s", name, code, x->code,
          code < 0 ? " (timed out)" : code > 128 ? " (killed by a signal)" : "", err);
    CHECK(lines == 1, "%s: exactly one message, got %d lines: %s", name, lines, err);
    for (int i = 0; i < 4 && x->want[i]; i++)
        CHECK(strstr(first, x->want[i]) != NULL, "%s: the message names '%s': %s", name, x->want[i], first);

    char h[65];
    CHECK(pt_sha256_file(W("results/results.db"), h) && !strcmp(h, store_hash),
          "%s: results/results.db byte-identical", name);
    pt_snap_take(&after, ws);
    struct leftovers l = {.name = name};
    pt_snap_diff(&before, &after, check_leftover, &l);
    CHECK(l.n_bad == 0, "%s: no file that claims success is left: %s", name, l.bad);
    pt_snap_free(&before);
    pt_snap_free(&after);
}

/* argv builder: a fixed list plus a NULL; up to PT_MAXARG entries. */
struct args {
    const char *v[PT_MAXARG];
    int n;
};

static void add(struct args *a, const char *s)
{
    if (a->n < PT_MAXARG - 1) a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static void add_small(struct args *a)
{
    for (int i = 0; i < N_SMALL; i++) add(a, SMALL[i]);
}

/* A fresh output folder name for a case (never created by the test itself). */
static const char *out_dir(void)
{
    static int k;
    return W("out/%03d", ++k);
}

/* ---------------------------------------------------------------- setup: a good run and a store */

static int run_ok(const char *const *argv, const char *what)
{
    unlink(W("setup.txt"));
    int code = pt_wait(pt_spawn(ws, argv, W("setup.txt"), W("setup.txt")), TIMEOUT_MS);
    if (code != 0) {
        char buf[8192];
        fprintf(stderr, "setup failed: %s (exit %d): %s\n", what, code, pt_slurp(W("setup.txt"), buf, sizeof buf));
    }
    return code;
}

/*
 * runs/good: trained and evaluated (done) on the fixture scan; runs/trained: trained only
 * (running, waiting for nsid-eval); runs/other: trained on the second fixture scan (another
 * data key). results/results.db: the good run merged.
 */
static int setup_runs(void)
{
    const char *fix = check_fixture("data");
    char h5a[4300], h5b[4300];
    snprintf(h5a, sizeof h5a, "%s/static11111-1-1-preproc0.h5", fix);
    snprintf(h5b, sizeof h5b, "%s/static22222-2-2-preproc0.h5", fix);
    const char *runs[3][3] = {{"runs/good", h5a, "good"}, {"runs/trained", h5a, "trained"}, {"runs/other", h5b, "other"}};
    int rc = 0;
    for (int r = 0; r < 3 && !rc; r++) {
        struct args a = {0};
        add(&a, prog("nsid-train"));
        add_small(&a);
        add(&a, "--set");
        add(&a, r == 1 ? "train.seed=2" : "train.seed=1");
        add(&a, "--data");
        add(&a, runs[r][1]);
        add(&a, "--out");
        add(&a, runs[r][0]);
        rc = run_ok(a.v, runs[r][2]);
    }
    const char *ev[] = {prog("nsid-eval"), "--checkpoint", "runs/good/checkpoint.h5", "--data", h5a,
                        "--db",            "runs/good/run.db", "--quiet", NULL};
    if (!rc) rc = run_ok(ev, "eval good");
    const char *mg[] = {prog("nsid-db"), "merge", "runs/good/run.db", "--into", "results/results.db", NULL};
    if (!rc) rc = run_ok(mg, "merge good");
    char buf[64];
    CHECK(rc == 0 && tc_sql(W("results/results.db"), "SELECT count(*) FROM runs WHERE status='done'", buf, sizeof buf) &&
              atoi(buf) == 1,
          "setup: a store holding one done run");
    CHECK(pt_sha256_file(W("results/results.db"), store_hash), "setup: hash the store");
    return rc;
}

/* ---------------------------------------------------------------- command lines */

/* Every stage binary: an unknown flag, and each value option given without its value. */
static void test_command_lines(void)
{
    static const struct {
        const char *prog;
        const char *pre[3];    /* arguments before the option (a subcommand) */
        const char *opts[10];  /* options that take a value */
    } stages[] = {
        {"nsid-train", {NULL}, {"--config", "--set", "--data", "--out", "--db", "--run-id", "--experiment", "--parent",
                                "--threads", NULL}},
        {"nsid-eval", {NULL}, {"--checkpoint", "--data", "--db", "--predictions", "--config", "--run-id", NULL}},
        {"nsid-convert", {NULL}, {"--gzip", NULL}},
        {"nsid-simulate", {NULL}, {"--profile", "--out", "--seed", "--threads", "--set", NULL}},
        {"nsid-databench", {NULL}, {"--trials", "--neurons", "--repeat", "--dir", NULL}},
        {"nsid-db", {"merge", "runs/good/run.db", NULL}, {"--into", "--list", NULL}},
        {"nsid-db", {"query", "SELECT 1", NULL}, {"--db", NULL}},
        {"nsid-db", {"export", "runs", NULL}, {"--csv", "--db", NULL}},
        {"nsid-db", {"status", NULL}, {"--db", "--runs", NULL}},
        {"nsid-db", {"select", NULL}, {"--out", NULL}},
        {"nsid-plan", {NULL}, {"--profile", "--data", "--results", "--explain", NULL}},
    };
    for (size_t s = 0; s < sizeof stages / sizeof stages[0]; s++) {
        if (!have_prog(stages[s].prog)) {
            printf("command lines: %s not built yet, skipped\n", stages[s].prog);
            continue;
        }
        char name[256];
        struct args a = {0};
        add(&a, prog(stages[s].prog));
        for (int i = 0; stages[s].pre[i]; i++) add(&a, stages[s].pre[i]);
        add(&a, "--no-such-flag");
        snprintf(name, sizeof name, "%s %s --no-such-flag", stages[s].prog, stages[s].pre[0] ? stages[s].pre[0] : "");
        bad_case(name, &(struct expect){2, {"--no-such-flag"}}, a.v);
        for (int o = 0; stages[s].opts[o]; o++) {
            struct args b = {0};
            add(&b, prog(stages[s].prog));
            for (int i = 0; stages[s].pre[i]; i++) add(&b, stages[s].pre[i]);
            add(&b, stages[s].opts[o]);
            snprintf(name, sizeof name, "%s %s %s (no value)", stages[s].prog, stages[s].pre[0] ? stages[s].pre[0] : "",
                     stages[s].opts[o]);
            bad_case(name, &(struct expect){2, {stages[s].opts[o]}}, b.v);
        }
    }
    /* missing required arguments */
    const char *t1[] = {prog("nsid-train"), "--out", "out/x", NULL};
    bad_case("nsid-train without --data", &(struct expect){2, {"--data"}}, t1);
    const char *t2[] = {prog("nsid-train"), "--data", "x.h5", NULL};
    bad_case("nsid-train without --out", &(struct expect){2, {"--out"}}, t2);
    const char *t3[] = {prog("nsid-train"), "--threads", "0", "--data", "x.h5", "--out", "out/x", NULL};
    bad_case("nsid-train --threads 0", &(struct expect){2, {"--threads"}}, t3);
    const char *e1[] = {prog("nsid-eval"), "--data", "x.h5", "--db", "x.db", NULL};
    bad_case("nsid-eval without --checkpoint", &(struct expect){2, {"--checkpoint"}}, e1);
    const char *c1[] = {prog("nsid-convert"), NULL};
    bad_case("nsid-convert without arguments", &(struct expect){2, {"nsid-convert"}}, c1);
    const char *c2[] = {prog("nsid-convert"), "--gzip", "12", "a", "b.h5", NULL};
    bad_case("nsid-convert --gzip 12", &(struct expect){2, {"--gzip"}}, c2);
    const char *d1[] = {prog("nsid-db"), NULL};
    bad_case("nsid-db without a command", &(struct expect){2, {"nsid-db"}}, d1);
    const char *d2[] = {prog("nsid-db"), "frobnicate", NULL};
    bad_case("nsid-db unknown command", &(struct expect){2, {"frobnicate"}}, d2);
    const char *d3[] = {prog("nsid-db"), "merge", "--into", "results/results.db", NULL};
    bad_case("nsid-db merge without run databases", &(struct expect){2, {"merge"}}, d3);
    const char *s1[] = {prog("nsid-simulate"), "--profile", "huge", "--out", "out/sim", NULL};
    bad_case("nsid-simulate --profile huge", &(struct expect){1, {"huge"}}, s1);
}

/* ---------------------------------------------------------------- run configurations */

/* The "# expect: TEXT" of a case file's first line into out ("" if none). */
static void read_expect(const char *path, char *out, size_t n)
{
    char buf[512];
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return;
    if (fgets(buf, sizeof buf, f) && !strncmp(buf, "# expect: ", 10)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        snprintf(out, n, "%s", buf + 10);
    }
    fclose(f);
}

/* The names of the files in dir ending in one of the suffixes, sorted. */
static int list_files(const char *dir, const char *const *suffixes, char names[][256], int max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) && n < max) {
        size_t l = strlen(e->d_name);
        for (int s = 0; suffixes[s]; s++) {
            size_t k = strlen(suffixes[s]);
            if (l > k && !strcmp(e->d_name + l - k, suffixes[s])) {
                snprintf(names[n++], 256, "%s", e->d_name);
                break;
            }
        }
    }
    if (d) closedir(d);
    qsort(names, (size_t)n, 256, (int (*)(const void *, const void *))strcmp);
    return n;
}

/* A message names file:LINE: KEY: text when it contains "<basename><expect>". */
static void expect_from_file(const char *file, const char *expect_text, char *want, size_t n)
{
    if (expect_text[0] == ':') snprintf(want, n, "%.255s%.500s", file, expect_text);
    else snprintf(want, n, "%s", expect_text);
}

static void test_configs(void)
{
    char dir[4400], names[64][256];
    snprintf(dir, sizeof dir, "%s/tests/bad/config", src);
    int n = list_files(dir, (const char *[]){".yaml", ".json", NULL}, names, 64);
    CHECK(n >= 12, "tests/bad/config holds the config cases (%d)", n);
    for (int i = 0; i < n; i++) {
        char path[4700], expect[512], want[800], name[300];
        snprintf(path, sizeof path, "%s/%.255s", dir, names[i]);
        read_expect(path, expect, sizeof expect);
        CHECK(expect[0], "%s: has a '# expect:' line", names[i]);
        expect_from_file(names[i], expect, want, sizeof want);
        struct args a = {0};
        add(&a, prog("nsid-train"));
        add(&a, "--config");
        add(&a, path);
        add(&a, "--data");
        add(&a, check_fixture("data/static11111-1-1-preproc0.h5"));
        add(&a, "--out");
        add(&a, out_dir());
        snprintf(name, sizeof name, "config %.255s", names[i]);
        bad_case(name, &(struct expect){1, {want}}, a.v);
    }
    /* files that are not configurations at all */
    unsigned char elf[256] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
    for (int i = 8; i < 256; i++) elf[i] = (unsigned char)(i * 37);
    FILE *f = fopen(W("binary.yaml"), "wb");
    if (f) {
        fwrite(elf, 1, sizeof elf, f);
        fclose(f);
    }
    struct { const char *file, *want; } files[] = {{"binary.yaml", "binary.yaml"}, {"no_such_config.yaml", "no_such_config.yaml"}};
    for (int i = 0; i < 2; i++) {
        const char *av[] = {prog("nsid-train"), "--config", files[i].file, "--data", "x.h5", "--out", out_dir(), NULL};
        char name[300];
        snprintf(name, sizeof name, "config %s", files[i].file);
        bad_case(name, &(struct expect){1, {files[i].want}}, av);
    }
    /* --set overrides */
    static const struct { const char *set, *want[3]; } sets[] = {
        {"train.lr_x=1", {"--set", "train.lr_x", "unknown key"}},
        {"train.lr=11", {"--set", "train.lr", "11"}},
        {"train.lr=fast", {"--set", "train.lr", "fast"}},
        {"train.max_epochs=2.5", {"--set", "train.max_epochs", "2.5"}},
        {"train.batch_size=0", {"--set", "train.batch_size", "0"}},
        {"model.readout.type=gausian", {"--set", "model.readout.type", "gausian"}},
        {"train.lr", {"--set", "train.lr", NULL}},
        {"=1", {"--set", NULL}},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        const char *av[] = {prog("nsid-train"), "--set", sets[i].set, "--data", "x.h5", "--out", out_dir(), NULL};
        char name[300];
        snprintf(name, sizeof name, "--set %s", sets[i].set);
        bad_case(name, &(struct expect){1, {sets[i].want[0], sets[i].want[1], sets[i].want[2]}}, av);
    }
    /* nsid-eval --config with a bad config */
    char path[4700];
    snprintf(path, sizeof path, "%s/unknown_key.yaml", dir);
    const char *ev[] = {prog("nsid-eval"), "--checkpoint", "runs/trained/checkpoint.h5", "--data",
                        check_fixture("data/static11111-1-1-preproc0.h5"), "--db", "runs/trained/run.db", "--config",
                        path, NULL};
    dt_sh("cp -r '%s' '%s'", W("runs/trained"), W("runs/trained.bak"));
    bad_case("nsid-eval --config unknown_key.yaml", &(struct expect){1, {"unknown_key.yaml:3: model.readout.gama"}}, ev);
    dt_rmtree(W("runs/trained"));
    dt_sh("mv '%s' '%s'", W("runs/trained.bak"), W("runs/trained"));
}

/* ---------------------------------------------------------------- experiment specs (nsid-plan) */

static void test_specs(void)
{
    if (!have_prog("nsid-plan")) {
        printf("specs: nsid-plan not built yet, skipped\n");
        return;
    }
    char dir[4400], names[128][256];
    snprintf(dir, sizeof dir, "%s/tests/bad/spec", src);
    int n = list_files(dir, (const char *[]){".yaml", NULL}, names, 128);
    CHECK(n >= 7, "tests/bad/spec holds the spec cases (%d)", n);
    char groups[4400];
    snprintf(groups, sizeof groups, "%s", dir); /* the spec cases' data folder: groups.json + scans */
    for (int i = 0; i < n; i++) {
        char path[4700], expect[512], want[800], name[300];
        snprintf(path, sizeof path, "%s/%.255s", dir, names[i]);
        read_expect(path, expect, sizeof expect);
        expect_from_file(names[i], expect, want, sizeof want);
        if (!expect[0]) snprintf(want, sizeof want, "%.255s", names[i]); /* binary.yaml, empty.yaml: name the file */
        const char *av[] = {prog("nsid-plan"), "--profile", "smoke", "--data", groups, "--results", "results", path, NULL};
        snprintf(name, sizeof name, "spec %.255s", names[i]);
        bad_case(name, &(struct expect){1, {want}}, av);
    }
    /* empty, binary and missing spec files made here */
    dt_write_text(W("empty_spec.yaml"), "");
    FILE *f = fopen(W("binary_spec.yaml"), "wb");
    if (f) {
        for (int i = 0; i < 512; i++) fputc((i * 151 + 7) & 0xff, f);
        fclose(f);
    }
    const char *files[] = {"empty_spec.yaml", "binary_spec.yaml", "no_such_spec.yaml"};
    for (int i = 0; i < 3; i++) {
        const char *av[] = {prog("nsid-plan"), "--profile", "smoke", "--data", groups, "--results", "results",
                            files[i], NULL};
        char name[300];
        snprintf(name, sizeof name, "nsid-plan %s", files[i]);
        bad_case(name, &(struct expect){1, {files[i]}}, av);
    }
}

/* ---------------------------------------------------------------- bad scans */

#define SCAN "static11111-1-1-preproc0"

/* A folder data/<variant>/ holding a fresh copy of the fixture scan (HDF5 or tree). */
static const char *copy_scan(const char *variant, bool tree)
{
    static char path[4700];
    dt_sh("mkdir -p '%s'", W("data/%s", variant));
    snprintf(path, sizeof path, "%s", W("data/%s/" SCAN "%s", variant, tree ? "" : ".h5"));
    dt_sh("rm -rf '%s' && cp -r '%s' '%s'", path, check_fixture(tree ? "data/" SCAN : "data/" SCAN ".h5"), path);
    return path;
}

static hid_t h5_rw(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    return f;
}

/* Replace (or create) dataset name with type/dims/data. */
static void h5_put(const char *path, const char *name, hid_t type, int ndim, const hsize_t *dims, const void *data)
{
    hid_t f = h5_rw(path);
    if (H5Lexists(f, name, H5P_DEFAULT) > 0) H5Ldelete(f, name, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(ndim, dims, NULL);
    hid_t d = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (data) H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
}

static void h5_del(const char *path, const char *name)
{
    hid_t f = h5_rw(path);
    H5Ldelete(f, name, H5P_DEFAULT);
    H5Fclose(f);
}

/* Overwrite one float of a dataset: row i, column j of a 2-d one, (i,0,j,0) of images. */
static void h5_poke(const char *path, const char *name, hsize_t i, hsize_t j, float v)
{
    hid_t f = h5_rw(path);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t one = 1, c2[2] = {i, j}, c4[4] = {i, 0, j, 0};
    H5Sselect_elements(sp, H5S_SELECT_SET, 1, H5Sget_simple_extent_ndims(sp) == 2 ? c2 : c4);
    hid_t ms = H5Screate_simple(1, &one, NULL);
    H5Dwrite(d, H5T_NATIVE_FLOAT, ms, sp, H5P_DEFAULT, &v);
    H5Sclose(ms);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
}

/* tiers as fixed 10-byte strings: "train" everywhere except the test trials (as stored). */
static void h5_tiers_without(const char *path, const char *drop)
{
    hid_t f = h5_rw(path);
    hid_t d = H5Dopen2(f, "tiers", H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    char v[24][11];
    memset(v, 0, sizeof v);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, 11);
    H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    for (int i = 0; i < 24; i++)
        if (!strcmp(v[i], drop)) snprintf(v[i], sizeof v[i], "train");
    H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Tclose(mt);
    H5Tclose(t);
    H5Dclose(d);
    H5Fclose(f);
}

/* Write a raw .npy file: header dict with descr and shape text, then nbytes of data. */
static void npy_raw(const char *path, const char *descr, const char *shape, const void *data, size_t nbytes)
{
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    int total = 10 + len + 1;
    int pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    unsigned short hl = (unsigned short)(len + pad + 1);
    unsigned char hb[2] = {(unsigned char)(hl & 0xff), (unsigned char)(hl >> 8)};
    fwrite(hb, 1, 2, f);
    fwrite(dict, 1, (size_t)len, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    if (nbytes) fwrite(data, 1, nbytes, f);
    fclose(f);
}

/* Exit 1 and the fragments of a NULL-terminated list (at most 3). */
static struct expect expect_of(const char *const *want)
{
    struct expect x = {1, {NULL}};
    for (int i = 0; i < 3 && want[i]; i++) x.want[i] = want[i];
    return x;
}

/* The three bad-scan stages: train on it, evaluate a checkpoint of its data key on it, convert it. */
static void scan_cases_opt(const char *variant, const char *path_in, const char *const *want, bool info)
{
    char name[400], path[4700];
    snprintf(path, sizeof path, "%s", path_in); /* W() buffers rotate */
    const char *rel = path + strlen(ws) + 1;    /* the commands see the workspace-relative path */
    struct expect x = expect_of(want);

    struct args a = {0};
    add(&a, prog("nsid-train"));
    add_small(&a);
    add(&a, "--data");
    add(&a, rel);
    add(&a, "--out");
    add(&a, out_dir());
    snprintf(name, sizeof name, "data %s: nsid-train", variant);
    bad_case(name, &x, a.v);

    /* nsid-eval on a trained (not yet evaluated) run: a copy, so a failure may record itself */
    const char *o = out_dir();
    dt_sh("mkdir -p '%s' && cp '%s' '%s/run.db'", W("%s", o + strlen(ws) + 1), W("runs/trained/run.db"),
          W("%s", o + strlen(ws) + 1));
    char db[4700];
    snprintf(db, sizeof db, "%s/run.db", o);
    const char *ev[] = {prog("nsid-eval"), "--checkpoint", "runs/trained/checkpoint.h5", "--data", rel, "--db", db,
                        "--quiet", NULL};
    snprintf(name, sizeof name, "data %s: nsid-eval", variant);
    bad_case(name, &x, ev);

    /* --info summarises a scan with an empty tier on purpose (it reports the counts) */
    const char *inf[] = {prog("nsid-convert"), "--info", rel, NULL};
    snprintf(name, sizeof name, "data %s: nsid-convert --info", variant);
    if (info) bad_case(name, &x, inf);

    char dst[4700];
    bool is_tree = !strstr(rel, ".h5");
    snprintf(dst, sizeof dst, "%s%s", out_dir(), is_tree ? ".h5" : "_tree");
    const char *cv[] = {prog("nsid-convert"), rel, dst, NULL};
    snprintf(name, sizeof name, "data %s: nsid-convert", variant);
    bad_case(name, &x, cv);
}

static void scan_cases(const char *variant, const char *path, const char *const *want)
{
    scan_cases_opt(variant, path, want, true);
}

#define WANT(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_h5_scans(void)
{
    const char *p;
    float nan = NAN, inf = INFINITY;

    p = copy_scan("h5_missing_responses", false);
    h5_del(p, "responses");
    scan_cases("h5 missing /responses", p, WANT(SCAN ".h5", "responses"));

    p = copy_scan("h5_missing_images", false);
    h5_del(p, "images");
    scan_cases("h5 missing /images", p, WANT(SCAN ".h5", "images"));

    p = copy_scan("h5_missing_tiers", false);
    h5_del(p, "tiers");
    scan_cases("h5 missing /tiers", p, WANT(SCAN ".h5", "tiers"));

    p = copy_scan("h5_responses_rank3", false);
    h5_put(p, "responses", H5T_NATIVE_FLOAT, 3, (hsize_t[]){24, 7, 1}, NULL);
    scan_cases("h5 responses (24,7,1)", p, WANT(SCAN ".h5", "responses"));

    p = copy_scan("h5_images_rank2", false);
    h5_put(p, "images", H5T_NATIVE_FLOAT, 2, (hsize_t[]){24, 48}, NULL);
    scan_cases("h5 images (24,48)", p, WANT(SCAN ".h5", "images"));

    p = copy_scan("h5_responses_strings", false);
    {
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, 4);
        char v[24 * 7][4];
        memset(v, 'a', sizeof v);
        h5_put(p, "responses", st, 2, (hsize_t[]){24, 7}, v);
        H5Tclose(st);
    }
    scan_cases("h5 responses as strings", p, WANT(SCAN ".h5", "responses"));

    p = copy_scan("h5_images_compound", false);
    {
        hid_t ct = H5Tcreate(H5T_COMPOUND, 8);
        H5Tinsert(ct, "re", 0, H5T_NATIVE_FLOAT);
        H5Tinsert(ct, "im", 4, H5T_NATIVE_FLOAT);
        h5_put(p, "images", ct, 4, (hsize_t[]){24, 1, 6, 8}, NULL);
        H5Tclose(ct);
    }
    scan_cases("h5 images compound", p, WANT(SCAN ".h5", "images"));

    p = copy_scan("h5_responses_nan", false);
    h5_poke(p, "responses", 3, 2, nan);
    scan_cases("h5 NaN in responses", p, WANT(SCAN ".h5", "responses"));

    p = copy_scan("h5_images_inf", false);
    h5_poke(p, "images", 5, 1, inf);
    scan_cases("h5 Inf in images", p, WANT(SCAN ".h5", "images"));

    p = copy_scan("h5_no_validation", false);
    h5_tiers_without(p, "validation");
    scan_cases_opt("h5 empty validation tier", p, WANT(SCAN ".h5", "validation"), false);

    p = copy_scan("h5_no_test", false);
    h5_tiers_without(p, "test");
    scan_cases_opt("h5 empty test tier", p, WANT(SCAN ".h5", "test"), false);

    p = copy_scan("h5_responses_rows", false);
    h5_put(p, "responses", H5T_NATIVE_FLOAT, 2, (hsize_t[]){23, 7}, NULL);
    scan_cases("h5 responses 23 rows for 24 trials", p, WANT(SCAN ".h5", "responses"));

    p = copy_scan("h5_unit_ids_count", false);
    h5_put(p, "neurons/unit_ids", H5T_NATIVE_INT64, 1, (hsize_t[]){8}, (int64_t[8]){1, 2, 3, 4, 5, 6, 7, 8});
    scan_cases("h5 8 unit_ids for 7 neurons", p, WANT(SCAN ".h5", "unit_ids"));

    p = copy_scan("h5_tiers_count", false);
    {
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, 10);
        char v[25][10];
        memset(v, 0, sizeof v);
        for (int i = 0; i < 25; i++) {
            const char *t = i < 14 ? "train" : i < 18 ? "validation" : "test";
            memcpy(v[i], t, strlen(t));
        }
        h5_put(p, "tiers", st, 1, (hsize_t[]){25}, v);
        H5Tclose(st);
    }
    scan_cases("h5 25 tiers for 24 trials", p, WANT(SCAN ".h5", "tiers"));

    p = copy_scan("h5_truncated", false);
    dt_truncate(p, 21000);
    scan_cases("h5 truncated to half", p, WANT(SCAN ".h5", "truncated"));

    p = copy_scan("h5_truncated_superblock", false);
    dt_truncate(p, 100);
    scan_cases("h5 truncated to 100 bytes", p, WANT(SCAN ".h5"));

    p = copy_scan("h5_empty_file", false);
    dt_truncate(p, 0);
    scan_cases("h5 empty file", p, WANT(SCAN ".h5"));

    p = copy_scan("h5_text", false);
    dt_write_text(p, "this is not an HDF5 file\n");
    scan_cases("h5 text file", p, WANT(SCAN ".h5"));

    dt_sh("mkdir -p '%s'", W("data/missing"));
    scan_cases("missing scan file", W("data/missing/" SCAN ".h5"), WANT(SCAN ".h5"));
}

static void test_tree_scans(void)
{
    const char *p;
    float resp[8] = {1, 2, 3, 4, 5, 6, 7, 8};

    p = copy_scan("tree_missing_response_file", true);
    unlink(W("data/tree_missing_response_file/" SCAN "/data/responses/5.npy"));
    scan_cases("tree missing data/responses/5.npy", p, WANT(SCAN, "responses", "5.npy"));

    p = copy_scan("tree_missing_tiers", true);
    unlink(W("data/tree_missing_tiers/" SCAN "/meta/trials/tiers.npy"));
    scan_cases("tree missing meta/trials/tiers.npy", p, WANT(SCAN, "tiers"));

    p = copy_scan("tree_missing_images_dir", true);
    dt_rmtree(W("data/tree_missing_images_dir/" SCAN "/data/images"));
    scan_cases("tree missing data/images/", p, WANT(SCAN, "images"));

    p = copy_scan("tree_wrong_shape", true);
    npy_raw(W("data/tree_wrong_shape/" SCAN "/data/responses/5.npy"), "<f4", "(8,)", resp, sizeof resp);
    scan_cases("tree responses/5.npy with 8 for 7 neurons", p, WANT(SCAN, "responses/5.npy"));

    p = copy_scan("tree_wrong_dtype", true);
    dt_sh("cp '%s' '%s'", check_fixture("data/npy/bad_c8.npy"), W("data/tree_wrong_dtype/" SCAN "/data/responses/5.npy"));
    scan_cases("tree responses/5.npy complex", p, WANT(SCAN, "responses/5.npy"));

    p = copy_scan("tree_object_dtype", true);
    dt_sh("cp '%s' '%s'", check_fixture("data/npy/bad_object.npy"),
          W("data/tree_object_dtype/" SCAN "/meta/neurons/unit_ids.npy"));
    scan_cases("tree unit_ids.npy pickled objects", p, WANT(SCAN, "unit_ids"));

    p = copy_scan("tree_nan", true);
    {
        float v[7] = {1, 2, NAN, 4, 5, 6, 7};
        npy_raw(W("data/tree_nan/" SCAN "/data/responses/5.npy"), "<f4", "(7,)", v, sizeof v);
    }
    scan_cases("tree NaN in responses/5.npy", p, WANT(SCAN, "responses"));

    p = copy_scan("tree_inf", true);
    {
        float v[48];
        for (int i = 0; i < 48; i++) v[i] = 100.0f;
        v[17] = -INFINITY;
        npy_raw(W("data/tree_inf/" SCAN "/data/images/3.npy"), "<f4", "(1, 6, 8)", v, sizeof v);
    }
    scan_cases("tree -Inf in images/3.npy", p, WANT(SCAN, "images"));

    p = copy_scan("tree_no_test", true);
    {
        char v[24][10];
        memset(v, 0, sizeof v);
        for (int i = 0; i < 24; i++) memcpy(v[i], i < 18 ? "train" : "validation", i < 18 ? 5 : 10);
        npy_raw(W("data/tree_no_test/" SCAN "/meta/trials/tiers.npy"), "|S10", "(24,)", v, sizeof v);
    }
    scan_cases_opt("tree empty test tier", p, WANT(SCAN, "test"), false);

    p = copy_scan("tree_truncated_npy", true);
    dt_truncate(W("data/tree_truncated_npy/" SCAN "/data/images/0.npy"), 100);
    scan_cases("tree truncated images/0.npy", p, WANT(SCAN, "images/0.npy", "truncated"));

    p = copy_scan("tree_truncated_header", true);
    dt_truncate(W("data/tree_truncated_header/" SCAN "/meta/neurons/unit_ids.npy"), 20);
    scan_cases("tree truncated unit_ids.npy header", p, WANT(SCAN, "unit_ids.npy"));

    p = copy_scan("tree_extra_trial", true);
    dt_sh("cp '%s' '%s'", W("data/tree_extra_trial/" SCAN "/data/responses/0.npy"),
          W("data/tree_extra_trial/" SCAN "/data/responses/24.npy"));
    scan_cases("tree responses/24.npy for 24 trials", p, WANT(SCAN, "responses"));

    p = copy_scan("tree_unit_ids_count", true);
    npy_raw(W("data/tree_unit_ids_count/" SCAN "/meta/neurons/unit_ids.npy"), "<i8", "(8,)",
            (int64_t[8]){1, 2, 3, 4, 5, 6, 7, 8}, 64);
    scan_cases("tree 8 unit_ids for 7 neurons", p, WANT(SCAN, "unit_ids"));

    p = copy_scan("tree_tiers_count", true);
    {
        char v[23][10];
        memset(v, 0, sizeof v);
        for (int i = 0; i < 23; i++) memcpy(v[i], "train", 5);
        npy_raw(W("data/tree_tiers_count/" SCAN "/meta/trials/tiers.npy"), "|S10", "(23,)", v, sizeof v);
    }
    scan_cases("tree 23 tiers for 24 trials", p, WANT(SCAN, "tiers"));

    dt_sh("mkdir -p '%s'", W("data/tree_empty/" SCAN));
    scan_cases("tree empty folder", W("data/tree_empty/" SCAN), WANT(SCAN));
}

/* ---------------------------------------------------------------- bad checkpoints */

/* Set an integer attribute of the root group. */
static void h5_set_int_attr(const char *path, const char *name, int v)
{
    hid_t f = h5_rw(path);
    if (H5Aexists(f, name) > 0) H5Adelete(f, name);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
    H5Sclose(sp);
    H5Fclose(f);
}

static void h5_del_attr(const char *path, const char *name)
{
    hid_t f = h5_rw(path);
    H5Adelete(f, name);
    H5Fclose(f);
}

/* A copy of runs/trained/checkpoint.h5 as ckpt/<name>.h5 (workspace-relative path returned). */
static const char *copy_ckpt(const char *name)
{
    static char rel[8][300];
    static int k;
    k = (k + 1) % 8;
    snprintf(rel[k], sizeof rel[k], "ckpt/%s.h5", name);
    dt_sh("mkdir -p '%s' && cp '%s' '%s'", W("ckpt"), W("runs/trained/checkpoint.h5"), W("%s", rel[k]));
    return rel[k];
}

/* nsid-eval with checkpoint ck on the fixture scan (into a copy of the trained run's db). */
static void eval_ckpt_case(const char *name, const char *ck, const char *data, const char *const *want)
{
    const char *o = out_dir();
    dt_sh("mkdir -p '%s' && cp '%s' '%s/run.db'", o, W("runs/trained/run.db"), o);
    char db[4700];
    snprintf(db, sizeof db, "%s/run.db", o);
    const char *av[] = {prog("nsid-eval"), "--checkpoint", ck, "--data", data, "--db", db, "--quiet", NULL};
    char label[300];
    snprintf(label, sizeof label, "checkpoint %s: nsid-eval", name);
    struct expect x = expect_of(want);
    bad_case(label, &x, av);
}

/* nsid-train transferring the core of checkpoint ck (frozen). */
static void transfer_ckpt_case(const char *name, const char *ck, const char *const *extra, const char *const *want)
{
    struct args a = {0};
    char set[600];
    snprintf(set, sizeof set, "model.core.checkpoint=%s", ck);
    add(&a, prog("nsid-train"));
    add_small(&a);
    add(&a, "--set");
    add(&a, "train.detach_core=true");
    add(&a, "--set");
    add(&a, set);
    for (int i = 0; extra && extra[i]; i++) {
        add(&a, "--set");
        add(&a, extra[i]);
    }
    add(&a, "--data");
    add(&a, check_fixture("data/static22222-2-2-preproc0.h5"));
    add(&a, "--out");
    add(&a, out_dir());
    char label[300];
    snprintf(label, sizeof label, "checkpoint %s: nsid-train transfer", name);
    struct expect x = expect_of(want);
    bad_case(label, &x, a.v);
}

static void test_checkpoints(void)
{
    const char *fix = check_fixture("data/" SCAN ".h5");
    char data[4400];
    snprintf(data, sizeof data, "%s", fix);
    const char *ck;

    eval_ckpt_case("missing", "ckpt/no_such_checkpoint.h5", data, WANT("no_such_checkpoint.h5"));
    transfer_ckpt_case("missing", "ckpt/no_such_checkpoint.h5", NULL, WANT("no_such_checkpoint.h5"));

    ck = copy_ckpt("truncated");
    struct stat st;
    stat(W("%s", ck), &st);
    dt_truncate(W("%s", ck), (long)st.st_size / 2);
    eval_ckpt_case("truncated", ck, data, WANT("truncated.h5"));
    transfer_ckpt_case("truncated", ck, NULL, WANT("truncated.h5"));

    ck = copy_ckpt("text");
    dt_write_text(W("%s", ck), "{\"not\": \"a checkpoint\"}\n");
    eval_ckpt_case("text file", ck, data, WANT("text.h5"));
    transfer_ckpt_case("text file", ck, NULL, WANT("text.h5"));

    ck = copy_ckpt("version99");
    h5_set_int_attr(W("%s", ck), "format_version", 99);
    eval_ckpt_case("format_version 99", ck, data, WANT("version99.h5", "format_version", "99"));
    transfer_ckpt_case("format_version 99", ck, NULL, WANT("version99.h5", "format_version", "99"));

    ck = copy_ckpt("version0");
    h5_set_int_attr(W("%s", ck), "format_version", 0);
    eval_ckpt_case("format_version 0", ck, data, WANT("version0.h5", "format_version"));

    ck = copy_ckpt("no_magic");
    h5_del_attr(W("%s", ck), "magic");
    eval_ckpt_case("no magic", ck, data, WANT("no_magic.h5", "magic"));
    transfer_ckpt_case("no magic", ck, NULL, WANT("no_magic.h5", "magic"));

    ck = copy_ckpt("no_conv_weight");
    h5_del(W("%s", ck), "core/features/layer0/conv/weight");
    eval_ckpt_case("tensor removed", ck, data, WANT("no_conv_weight.h5", "layer0"));
    transfer_ckpt_case("tensor removed", ck, NULL, WANT("no_conv_weight.h5", "layer0"));

    /* wrong architecture: a core of 8 channels into a 16-channel network */
    transfer_ckpt_case("8 channels into 16", "runs/trained/checkpoint.h5",
                       (const char *const[]){"model.core.hidden_channels=16", NULL}, WANT("checkpoint.h5", "core"));
    /* wrong architecture: a 2-layer core into a 3-layer network */
    transfer_ckpt_case("2 layers into 3", "runs/trained/checkpoint.h5",
                       (const char *const[]){"model.core.layers=3", NULL}, WANT("checkpoint.h5", "core"));
    /* a model of another scan (data key 22222-2-2-0) evaluated on 11111-1-1-0 */
    eval_ckpt_case("other scan's readout", "runs/other/checkpoint.h5", data, WANT("22222-2-2-0"));
    /* not an nsid-train checkpoint at all: a model fixture without a run configuration */
    eval_ckpt_case("foreign HDF5", check_fixture("model/gauss_free.ref.h5"), data, WANT("gauss_free.ref.h5"));
    /* a scan file given as checkpoint */
    eval_ckpt_case("a scan as checkpoint", data, data, WANT(SCAN ".h5"));
    /* a VGG16 weights file that does not exist */
    transfer_ckpt_case("missing VGG16 weights", "ckpt/no_vgg16.h5",
                       (const char *const[]){"model.core.type=vgg16", NULL}, WANT("no_vgg16.h5"));
}

/* ---------------------------------------------------------------- bad stores (nsid-db) */

static void test_stores(void)
{
    dt_sh("mkdir -p '%s'", W("dbs"));
    dt_write_text(W("dbs/text.db"), "not a database\n");
    dt_sh("head -c 3000 '%s' > '%s'", W("runs/trained/run.db"), W("dbs/truncated.db"));
    dt_sh("head -c 100 '%s' > '%s' && head -c 5000 /dev/urandom | tr -d '\\000' >> '%s'", W("runs/trained/run.db"),
          W("dbs/garbage.db"), W("dbs/garbage.db"));
    dt_write_text(W("dbs/list.txt"), "dbs/no_such_run.db\n");
    dt_write_text(W("dbs/empty.db"), "");
    /* a run database of a newer schema (a newer nsid wrote it) */
    dt_sh("cp '%s' '%s'", W("runs/trained/run.db"), W("dbs/newer.db"));
    sqlite3 *h = NULL;
    if (sqlite3_open(W("dbs/newer.db"), &h) == SQLITE_OK) sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(h);

    static const struct { const char *name, *argv[8], *want[3]; } cases[] = {
        {"merge a text file", {"merge", "dbs/text.db", "--into", "results/results.db"}, {"text.db"}},
        {"merge a truncated run.db", {"merge", "dbs/truncated.db", "--into", "results/results.db"}, {"truncated.db"}},
        {"merge a damaged run.db", {"merge", "dbs/garbage.db", "--into", "results/results.db"}, {"garbage.db"}},
        {"merge a missing run.db", {"merge", "dbs/no_such.db", "--into", "results/results.db"}, {"no_such.db"}},
        {"merge an empty file", {"merge", "dbs/empty.db", "--into", "results/results.db"}, {"empty.db", "empty"}},
        {"merge a run.db of a newer schema", {"merge", "dbs/newer.db", "--into", "results/results.db"},
         {"newer.db", "99"}},
        {"merge --list naming a missing run.db", {"merge", "--list", "dbs/list.txt", "--into", "results/results.db"},
         {"no_such_run.db"}},
        {"merge --list missing", {"merge", "--list", "dbs/no_list.txt", "--into", "results/results.db"},
         {"no_list.txt"}},
        {"merge into a text file", {"merge", "runs/trained/run.db", "--into", "dbs/text.db"}, {"text.db"}},
        {"query bad SQL", {"query", "SELEC * FROM runs", "--db", "results/results.db"}, {"SELEC"}},
        {"query writing", {"query", "DELETE FROM runs", "--db", "results/results.db"}, {"results.db"}},
        {"query a missing store", {"query", "SELECT 1", "--db", "dbs/none.db"}, {"none.db"}},
        {"export an unknown view", {"export", "no_such_view", "--csv", "out/x.csv", "--db", "results/results.db"},
         {"no_such_view"}},
        {"export into a missing folder", {"export", "runs", "--csv", "no/such/dir/x.csv", "--db", "results/results.db"},
         {"no/such/dir/x.csv"}},
        {"status of a text file", {"status", "--db", "dbs/text.db"}, {"text.db"}},
        {"select a run that is not done", {"select", "--out", "out/sel.txt", "runs/trained/run.db"}, {"run.db"}},
        {"check a damaged store", {"check", "dbs/garbage.db"}, {"garbage.db"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct args a = {0};
        add(&a, prog("nsid-db"));
        for (int k = 0; cases[i].argv[k]; k++) add(&a, cases[i].argv[k]);
        char name[300];
        snprintf(name, sizeof name, "nsid-db %s", cases[i].name);
        bad_case(name, &(struct expect){1, {cases[i].want[0], cases[i].want[1], cases[i].want[2]}}, a.v);
    }
}

/* ---------------------------------------------------------------- simulator configuration */

static void test_simulate(void)
{
    static const struct { const char *name, *argv[8], *want[3]; } cases[] = {
        {"unknown key", {"--profile", "smoke", "--out", "out/sim1", "--set", "no_such_key=1"}, {"no_such_key"}},
        {"bad value", {"--profile", "smoke", "--out", "out/sim2", "--set", "seed=abc"}, {"seed"}},
        {"--out under a file", {"--profile", "smoke", "--out", "dbs/text.db/sim"}, {"text.db"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct args a = {0};
        add(&a, prog("nsid-simulate"));
        for (int k = 0; cases[i].argv[k]; k++) add(&a, cases[i].argv[k]);
        char name[300];
        snprintf(name, sizeof name, "nsid-simulate %s", cases[i].name);
        bad_case(name, &(struct expect){1, {cases[i].want[0], cases[i].want[1], cases[i].want[2]}}, a.v);
    }
}

/*
 * The checks can fail: a good conversion run through the same leftover check is caught
 * (it leaves a converted scan), and a store changed behind the suite's back is noticed.
 */
static void test_self_check(void)
{
    struct pt_snap before, after;
    pt_snap_take(&before, ws);
    const char *av[] = {prog("nsid-convert"), check_fixture("data/" SCAN ".h5"), "out/selfcheck_tree", NULL};
    int code = pt_wait(pt_spawn(ws, av, NULL, NULL), TIMEOUT_MS);
    pt_snap_take(&after, ws);
    struct leftovers l = {.name = "self-check"};
    pt_snap_diff(&before, &after, check_leftover, &l);
    CHECK(code == 0 && l.n_bad > 0, "self-check: a successful conversion is seen as a success claim (%d files)",
          l.n_bad);
    pt_snap_free(&before);
    pt_snap_free(&after);
    dt_rmtree(W("out/selfcheck_tree"));
}

int main(void)
{
    const char *b = getenv("NSID_BIN"), *s = getenv("NSID_SRC");
    snprintf(bin, sizeof bin, "%s", b ? b : ".");
    snprintf(src, sizeof src, "%s", s ? s : "..");
    verbose = getenv("NSID_TEST_VERBOSE") != NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    pt_figures_reset("bad_inputs");
    dt_tmpdir(ws, sizeof ws, "bad_inputs");
    dt_sh("mkdir -p '%s' '%s' '%s'", W("results"), W("out"), W("runs"));
    double t0 = pt_now();
    if (setup_runs() == 0) {
        test_self_check();
        test_command_lines();
        test_configs();
        test_specs();
        test_h5_scans();
        test_tree_scans();
        test_checkpoints();
        test_stores();
        test_simulate();
    }
    printf("bad inputs: %d cases in %.1f s\n", n_cases, pt_now() - t0);
    pt_figure("bad_inputs", "cases", "%d", n_cases);
    int status = check_summary("bad_inputs");
    if (status == 0) dt_rmtree(ws);
    return status;
}
