/*
 * test_figures_db.c - a small, clearly synthetic results store for the figures (issue 7),
 * and checks of the figure views (plots/views.sql) on it.
 *
 *     test_figures_db                 CTest: build the store in a temporary folder, apply
 *                                     plots/views.sql, check what the views return against
 *                                     values computed here from the generating formulas
 *     test_figures_db --write DB      write the store to DB (tests/test_figures.sh draws it)
 *
 * TEST DATA, NOT RESULTS: every run below is written through the store API with made-up
 * scores from closed-form curves (fraction oracle = A (1 - exp(-images / S)) per curve),
 * plus the plan rows nsid-plan would write, so the figure views see the same shape of data
 * as after a real smoke run: Fig. 3 (3 readouts x 2 neuron counts x 3 image counts x 3
 * neuron seeds x 2 model seeds), the ablation (one seed: no error band), Fig. 4 (two
 * panels), Fig. 5 (9 curves; the optional ImageNet VGG16 is missing, as without its weights
 * file), an 11-S core with learned receptive fields of 5 animals, per-neuron ground-truth
 * correlations and a training curve. Model seed 2 always has the better validation score
 * and the worse fraction oracle, so a wrong best-by-validation selection shows.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/rng.h"
#include "base/sha256.h"
#include "check.h"
#include "exp/store.h"

/* ---- the synthetic datasets: the smoke profile's groups (nsid-simulate --profile smoke) ------ */

struct fake_scan {
    const char *key;          /* data key */
    const char *animal;       /* animal id */
    const char *image_set;    /* image set id */
    int neurons;              /* neurons in the file */
};

static const struct fake_scan SCANS[] = {
    {"22564-2-12-0", "22564", "0", 40},  {"22564-2-13-0", "22564", "1", 40},  {"22564-3-8-0", "22564", "2", 40},
    {"22564-3-12-0", "22564", "3", 40},  {"22846-2-19-0", "22846", "4", 30},  {"22846-2-21-0", "22846", "5", 30},
    {"22846-10-16-0", "22846", "6", 30}, {"23343-5-17-0", "23343", "7", 30},  {"23555-4-20-0", "23555", "8", 30},
    {"23555-5-12-0", "23555", "9", 30},  {"23656-14-22-0", "23656", "10", 30}, {"20505-6-1-0", "20505", "11", 30},
    {"20457-5-9-0", "20457", "12", 40},
};
#define N_SCANS 13
#define TRAIN_PER_SCAN 160
#define SCAN_EVAL 12

static const int G_4S[] = {0, 1, 2, 3};
static const int G_11S[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
static const int G_4S_DIFF[] = {0, 4, 7, 10};
static const int G_1S[] = {11};
static const int G_EVAL[] = {12};

struct fake_group {
    const char *name, *label; /* group name and legend label */
    const int *scans;         /* indices into SCANS */
    int n;
};

static const struct fake_group GROUPS[] = {
    {"4s_matched", "4-S: matched", G_4S, 4}, {"11s", "11-S", G_11S, 11}, {"4s_diff_animals", "4-S: diff animals", G_4S_DIFF, 4},
    {"1s", "1-S", G_1S, 1},                  {"evaluation", "Evaluation", G_EVAL, 1},
};
#define N_GROUPS 5

/* ---- the synthetic curves ------------------------------------------------------------------ */

/* A saturating learning curve: a (1 - exp(-images / s)). */
static double curve(double a, double s, double images)
{
    return a * (1.0 - exp(-images / s));
}

/* Fig. 3 readouts: curve, readout type, feature sharing, asymptote, scale, params per neuron. */
struct fake_readout {
    const char *curve, *variant, *type;
    bool share;
    double a, s, params;
};

static const struct fake_readout FIG3[] = {
    {"Gaussian w/ f-s", "gaussian_fs", "gaussian", true, 0.85, 800.0, 6.0},
    {"Gaussian w/o f-s", "gaussian", "gaussian", false, 0.80, 1200.0, 21.0},
    {"Factorized w/o f-s", "factorized", "factorized", false, 0.78, 2500.0, 1017.0},
};
#define N_FIG3 3
static const int FIG3_NEURONS[] = {30, 10};
static const double FIG3_IMAGES[] = {40, 160, 640};   /* per scan (4 scans) */
#define N_NSEEDS 3

/* The Fig. 3 score of neuron seed ns (model seed 1; seed 2 is 0.02 lower, see the top). */
static double fig3_fo(int c, int neurons, double x_total, int ns)
{
    return curve(FIG3[c].a, FIG3[c].s, x_total) * (neurons == 30 ? 1.0 : 0.9) + 0.01 * (ns - 2);
}

/* Fig. 5 curves on the evaluation scan. */
struct fake_transfer {
    const char *curve, *variant;
    double a, s;
};

static const struct fake_transfer FIG5[] = {
    {"direct", "direct", 0.75, 600.0},          {"11-S", "11s", 0.84, 150.0},
    {"11-S: no cortex", "11s_no_cortex", 0.82, 300.0}, {"4-S: matched", "4s_matched", 0.82, 170.0},
    {"4-S: diff animals", "4s_diff_animals", 0.81, 170.0}, {"1-S", "1s", 0.70, 150.0},
    {"random VGG16", "random_vgg16", 0.58, 250.0}, {"random core 128", "random_core_128", 0.44, 300.0},
    {"random core 64", "random_core_64", 0.38, 300.0},
};
#define N_FIG5 9
static const double FIG5_IMAGES[] = {50, 200, 500, 1000};
#define N_FIG5_X 4

/* Fig. 5 score; direct training has two model seeds, each its own point (docs/paper.md §6.5). */
static double fig5_fo(int c, double x, int seed)
{
    return curve(FIG5[c].a, FIG5[c].s, x) + (c == 0 ? 0.01 * (seed == 1 ? 1 : -1) : 0.0);
}

static const char *const FIG4_CURVES[] = {"direct", "diff-core/best-readout", "best-core/diff-readout"};
static const char *const ABLATION[] = {"cortex + f-s", "no-cortex + f-s", "cortex, no f-s", "neither"};

/* ---- writing runs --------------------------------------------------------------------------- */

/* One run and its plan row. */
struct fake_run {
    const char *id;           /* run id */
    const char *experiment, *variant, *sel_group, *data_group;
    const char *figure;       /* NULL: in no figure */
    const char *panel, *curve, *style;
    double x;                 /* plot x: images per scan */
    const int *scans;         /* indices into SCANS */
    int n_scans;
    const char *readout;      /* "gaussian" | "factorized" */
    bool share;               /* feature sharing */
    int seed;                 /* model seed */
    double fo, val;           /* fraction oracle (test), validation correlation */
    double gt;                /* mean correlation with the true rates, NAN: none */
    double params;            /* readout parameters per neuron */
    int epochs;               /* epochs recorded */
    bool neurons;             /* per-neuron metrics with RF centres */
    const char *status;       /* "done" (default), "failed", "planned" */
    bool free_pos;            /* Gaussian readout positions learned per neuron (no cortex predictor) */
};

/* What the builder holds while writing. */
struct fake {
    struct nsid_store st;     /* the store being written */
    struct nsid_rng rng;      /* per-neuron noise */
    struct nsid_err err;      /* last error */
    int n_runs;               /* runs written */
};

static int exec(struct fake *f, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(f->st.db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        nsid_err_set(&f->err, NSID_EIO, f->st.path, 0, "sql", "%s: %.200s", msg ? msg : "?", sql);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* The plan row nsid-plan would write for r (plan_runs), and the 'planned' runs row. */
static int plan_row(struct fake *f, const struct fake_run *r)
{
    char x[32] = "NULL";
    if (!isnan(r->x)) snprintf(x, sizeof x, "%.17g", r->x);
    char *sql = sqlite3_mprintf(
        "INSERT INTO plan_runs (experiment, id, variant, sel_group, data_group, n_scans, figure, panel, curve,"
        " style, x, identity) VALUES (%Q, %Q, %Q, %Q, %Q, %d, %Q, %Q, %Q, %Q, %s, %Q);"
        "INSERT OR IGNORE INTO runs (id, experiment, config, status) VALUES (%Q, %Q, '{}', 'planned');",
        r->experiment, r->id, r->variant, r->sel_group, r->data_group, r->n_scans, r->figure, r->panel ? r->panel : "",
        r->curve ? r->curve : "", r->style ? r->style : "", x, "{\"test\":1}", r->id, r->experiment);
    int rc = sql ? exec(f, sql) : -1;
    sqlite3_free(sql);
    return rc;
}

static int run_datasets(struct fake *f, const struct fake_run *r)
{
    for (int i = 0; i < r->n_scans; i++) {
        const struct fake_scan *s = &SCANS[r->scans[i]];
        char sha[NSID_SHA256_HEX];
        nsid_sha256_hex(sha, s->key, strlen(s->key));
        struct nsid_store_dataset d = {.path = s->key, .sha256 = sha, .data_key = s->key, .animal = s->animal,
                                       .image_set = s->image_set, .n_neurons = s->neurons};
        int64_t used = isnan(r->x) ? TRAIN_PER_SCAN : (int64_t)r->x;
        if (nsid_store_run_dataset(&f->st, r->id, i, &d, used, s->neurons, &f->err) < 0) return -1;
    }
    return 0;
}

static int run_epochs(struct fake *f, const struct fake_run *r)
{
    for (int e = 0; e <= r->epochs; e++) {
        int round = e > r->epochs / 2 ? 1 : 0;
        struct nsid_store_epoch ep = {.epoch = e, .round = round, .lr = round ? 1.5e-3 : 5e-3,
                                      .train_loss = 1.0 / (1.0 + e), .val_corr = r->val * (1.0 - exp(-0.5 * e)),
                                      .seconds = 1.5};
        if (nsid_store_epoch(&f->st, r->id, &ep, &f->err) < 0) return -1;
    }
    return 0;
}

/* Per-neuron rows of every scan: true RF centres, learned = true + noise, correlations. */
static int run_neurons(struct fake *f, const struct fake_run *r)
{
    for (int i = 0; i < r->n_scans; i++) {
        const struct fake_scan *s = &SCANS[r->scans[i]];
        int n = s->neurons;
        double txy[80], lxy[80], dist[40], gt[40], tc[40], orc[40];
        for (int j = 0; j < n; j++) {
            txy[2 * j] = nsid_rng_uniform_range(&f->rng, -28.0, 28.0);
            txy[2 * j + 1] = nsid_rng_uniform_range(&f->rng, -14.0, 14.0);
            lxy[2 * j] = txy[2 * j] + 1.5 * nsid_rng_normal(&f->rng);
            lxy[2 * j + 1] = txy[2 * j + 1] + 1.5 * nsid_rng_normal(&f->rng);
            dist[j] = hypot(lxy[2 * j] - txy[2 * j], lxy[2 * j + 1] - txy[2 * j + 1]);
            orc[j] = nsid_rng_uniform_range(&f->rng, 0.2, 0.7);
            tc[j] = r->fo * orc[j];
            gt[j] = fmin(0.99, (isnan(r->gt) ? 0.8 : r->gt) + 0.05 * nsid_rng_normal(&f->rng));
        }
        struct nsid_store_neurons nm = {.scan = s->key, .n = n, .test_corr = tc, .oracle = orc, .gt_corr = gt,
                                        .true_xy = r->neurons ? txy : NULL, .rf_xy = r->neurons ? lxy : NULL,
                                        .rf_dist = r->neurons ? dist : NULL};
        if (nsid_store_neurons(&f->st, r->id, &nm, &f->err) < 0) return -1;
    }
    return 0;
}

static int run_metrics(struct fake *f, const struct fake_run *r)
{
    struct nsid_store_metric m[] = {
        {NSID_STORE_ALL, "validation", "corr", r->val},
        {NSID_STORE_ALL, "test", "fraction_oracle", r->fo},
        {NSID_STORE_ALL, "test", "corr", 0.45 * r->fo},
        {NSID_STORE_ALL, "test", "oracle", 0.45},
        {NSID_STORE_ALL, "model", "readout_params_per_neuron", r->params},
        {NSID_STORE_ALL, "test", "gt_corr", r->gt},
    };
    size_t n = sizeof m / sizeof m[0] - (isnan(r->gt) ? 1 : 0);
    return nsid_store_metrics(&f->st, r->id, m, n, &f->err);
}

/* Write one run: plan row, then (unless planned) begin, data, curve, metrics, end. */
static int add_run(struct fake *f, const struct fake_run *r)
{
    if (plan_row(f, r) < 0) return -1;
    f->n_runs++;
    if (r->status && strcmp(r->status, "planned") == 0) return 0;
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"model\":{\"readout\":{\"gamma\":1.5,\"grid_mean_predictor\":\"%s\",\"share_features\":%s,"
             "\"type\":\"%s\"}},\"train\":{\"seed\":%d}}",
             r->free_pos ? "none" : "cortex", r->share ? "true" : "false", r->readout ? r->readout : "gaussian", r->seed);
    struct nsid_store_run run = {.id = r->id, .experiment = r->experiment, .config_json = cfg, .threads = 1,
                                 .fresh = true};
    if (nsid_store_run_begin(&f->st, &run, &f->err) < 0) return -1;
    bool failed = r->status && strcmp(r->status, "failed") == 0;
    if (!failed && (run_datasets(f, r) < 0 || run_epochs(f, r) < 0 || run_metrics(f, r) < 0)) return -1;
    if (!failed && (r->neurons || !isnan(r->gt)) && run_neurons(f, r) < 0) return -1;
    struct nsid_store_end end = {.status = failed ? NSID_RUN_FAILED : NSID_RUN_DONE, .exit_code = failed,
                                 .error = failed ? "test: a failed run" : NULL, .wall_s = 90.0, .cpu_s = 170.0};
    return nsid_store_run_end(&f->st, r->id, &end, &f->err);
}

/* ---- the experiments -------------------------------------------------------------------------- */

static int add_fig3(struct fake *f)
{
    char id[64], grp[64], style[16];
    for (int c = 0; c < N_FIG3; c++)
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < 3; i++)
                for (int ns = 1; ns <= N_NSEEDS; ns++)
                    for (int seed = 1; seed <= 2; seed++) {
                        double x = FIG3_IMAGES[i], fo = fig3_fo(c, FIG3_NEURONS[k], 4 * x, ns);
                        snprintf(id, sizeof id, "fig3.%s.n%d.x%g.ns%d.s%d", FIG3[c].variant, FIG3_NEURONS[k], x, ns,
                                 seed);
                        snprintf(grp, sizeof grp, "%s.n%d.x%g.ns%d", FIG3[c].variant, FIG3_NEURONS[k], x, ns);
                        snprintf(style, sizeof style, "%d", FIG3_NEURONS[k]);
                        struct fake_run r = {id, "fig3", FIG3[c].variant, grp, "4s_matched", "fig3", "",
                                             FIG3[c].curve, style, x, G_4S, 4, FIG3[c].type, FIG3[c].share, seed,
                                             seed == 2 ? fo - 0.02 : fo, fo * 0.5 + (seed == 2 ? 0.05 : 0.0),
                                             NAN, FIG3[c].params, 0, false, NULL, false};
                        if (add_run(f, &r) < 0) return -1;
                    }
    return 0;
}

static int add_ablation(struct fake *f)
{
    char id[64];
    for (int c = 0; c < 4; c++)
        for (int i = 0; i < 2; i++) {
            double x = FIG3_IMAGES[i], fo = curve(0.85 - 0.03 * c, 600.0 * (1 + c), 4 * x);
            snprintf(id, sizeof id, "ablation.c%d.x%g", c, x);
            bool free_pos = c == 1 || c == 3;   /* "no-cortex + f-s", "neither" */
            struct fake_run r = {id, "fig3_ablation", "v", id, "4s_matched", "fig3_ablation", "", ABLATION[c], "30",
                                 x, G_4S, 4, "gaussian", c % 2 == 0, 1, fo, fo * 0.5, NAN, 21.0, 0,
                                 free_pos && i == 1, NULL, free_pos};
            if (add_run(f, &r) < 0) return -1;
        }
    return 0;
}

static int add_fig4(struct fake *f)
{
    static const char *const panels[] = {"factorized", "gaussian"};
    char id[64];
    for (int p = 0; p < 2; p++)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 3; i++) {
                double x = FIG3_IMAGES[i];
                double fo = curve(0.72 + 0.1 * p + 0.04 * c, c ? 300.0 * c : 900.0, 4 * x);
                snprintf(id, sizeof id, "fig4.%s.c%d.x%g", panels[p], c, x);
                struct fake_run r = {id, c == 0 ? "fig4_direct" : c == 1 ? "fig4_diff_core" : "fig4_best_core",
                                     panels[p], id, "4s_matched", "fig4", panels[p], FIG4_CURVES[c], "", x, G_4S, 4,
                                     panels[p], false, 1, fo, fo * 0.5, NAN, p ? 21.0 : 1017.0, 0, false, NULL, false};
                if (add_run(f, &r) < 0) return -1;
            }
    return 0;
}

static int add_fig5(struct fake *f)
{
    char id[64], grp[64];
    for (int c = 0; c < N_FIG5; c++)
        for (int i = 0; i < N_FIG5_X; i++)
            for (int seed = 1; seed <= (c == 0 ? 2 : 1); seed++) {
                double x = FIG5_IMAGES[i], fo = fig5_fo(c, x, seed);
                bool top = c == 0 && i == N_FIG5_X - 1;
                snprintf(id, sizeof id, "fig5.%s.x%g.s%d", FIG5[c].variant, x, seed);
                snprintf(grp, sizeof grp, "%s.x%g.s%d", FIG5[c].variant, x, seed);
                struct fake_run r = {id, "fig5", FIG5[c].variant, grp, "evaluation", "fig5", "", FIG5[c].curve, "",
                                     x, G_EVAL, 1, "gaussian", false, seed, fo, fo * 0.5 + 0.02 * seed,
                                     0.5 + 0.4 * fo, 21.0, top ? 12 : 3, top, NULL, false};
                if (add_run(f, &r) < 0) return -1;
            }
    return 0;
}

/* The 11-S cores (two seeds; seed 2 selected) with learned RF centres of 5 animals, and two
   runs that did not finish. */
static int add_cores(struct fake *f)
{
    for (int seed = 1; seed <= 2; seed++) {
        char id[32];
        snprintf(id, sizeof id, "cores.11s.s%d", seed);
        struct fake_run r = {id, "cores", "11s", "11s", "11s", NULL, "", "", "", NAN, G_11S, 11, "gaussian", false,
                             seed, 0.7, 0.4 + 0.01 * seed, 0.85, 21.0, 6, true, NULL, false};
        if (add_run(f, &r) < 0) return -1;
    }
    struct fake_run failed = {"cores.1s.s1", "cores", "1s", "1s", "1s", NULL, "", "", "", NAN, G_1S, 1, "gaussian",
                              false, 1, 0, 0, NAN, 21.0, 0, false, "failed", false};
    struct fake_run planned = {"cores.1s.s2", "cores", "1s", "1s", "1s", NULL, "", "", "", NAN, G_1S, 1, "gaussian",
                               false, 2, 0, 0, NAN, 21.0, 0, false, "planned", false};
    return add_run(f, &failed) < 0 ? -1 : add_run(f, &planned);
}

/* Datasets, groups and plan_info as nsid-plan records them. */
static int add_plan_data(struct fake *f)
{
    char sha[N_SCANS][NSID_SHA256_HEX];
    for (int i = 0; i < N_SCANS; i++) {
        char path[96];
        snprintf(path, sizeof path, "data/test/static%s.h5", SCANS[i].key);
        nsid_sha256_hex(sha[i], SCANS[i].key, strlen(SCANS[i].key));
        struct nsid_store_dataset d = {.path = path, .sha256 = sha[i], .data_key = SCANS[i].key,
                                       .animal = SCANS[i].animal, .image_set = SCANS[i].image_set,
                                       .n_neurons = SCANS[i].neurons, .n_train = TRAIN_PER_SCAN};
        char out[NSID_SHA256_HEX];
        if (nsid_store_dataset(&f->st, &d, out, &f->err) < 0) return -1;
    }
    for (int g = 0; g < N_GROUPS; g++)
        for (int i = 0; i < GROUPS[g].n; i++) {
            char *sql = sqlite3_mprintf("INSERT INTO dataset_groups (grp, label, position, dataset, path)"
                                        " VALUES (%Q, %Q, %d, %Q, %Q)",
                                        GROUPS[g].name, GROUPS[g].label, i, sha[GROUPS[g].scans[i]],
                                        SCANS[GROUPS[g].scans[i]].key);
            int rc = sql ? exec(f, sql) : -1;
            sqlite3_free(sql);
            if (rc < 0) return -1;
        }
    return exec(f, "INSERT INTO plan_info (key, value) VALUES ('profile', 'test (synthetic data of"
                   " tests/test_figures_db.c)'), ('planned_at', '2024-01-01T00:00:00Z'),"
                   " ('groups', 'data/test/groups.json')");
}

/* Write the whole synthetic store to path (replacing it). */
static int write_store(const char *path)
{
    struct fake f = {0};
    remove(path);
    nsid_rng_init(&f.rng, 7, 0);
    if (nsid_store_open(&f.st, path, &f.err) < 0) goto out_err;
    if (nsid_store_begin(&f.st, &f.err) < 0) goto out_err;
    if (add_plan_data(&f) < 0 || add_fig3(&f) < 0 || add_ablation(&f) < 0 || add_fig4(&f) < 0 || add_fig5(&f) < 0 ||
        add_cores(&f) < 0 ||
        /* a fixed code version (the store records the build's commit) for the report's check */
        exec(&f, "UPDATE runs SET git_commit = '0123456789abcdef0123456789abcdef01234567', git_dirty = 0") < 0) {
        nsid_store_rollback(&f.st);
        goto out_err;
    }
    if (nsid_store_commit(&f.st, &f.err) < 0) goto out_err;
    nsid_store_close(&f.st);
    return f.n_runs;
out_err:
    fprintf(stderr, "test_figures_db: ");
    nsid_err_print(&f.err, stderr);
    nsid_store_close(&f.st);
    return -1;
}

/* ---- checks --------------------------------------------------------------------------------- */

/* One value of a query (double), NAN if no row or NULL. */
static double q1(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    double v = NAN;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "query failed: %s: %s\n", sql, sqlite3_errmsg(db));
        return NAN;
    }
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) v = sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* One text value of a query into out ("" if none). */
static void q1s(sqlite3 *db, const char *sql, char *out, size_t n)
{
    sqlite3_stmt *s = NULL;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "query failed: %s: %s\n", sql, sqlite3_errmsg(db));
        return;
    }
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
}

/* Read a whole text file; NULL on failure. */
static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *buf = NULL;
    if (fseek(fp, 0, SEEK_END) == 0) {
        long n = ftell(fp);
        rewind(fp);
        buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
        if (buf && fread(buf, 1, (size_t)n, fp) == (size_t)n) buf[n] = '\0';
        else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(fp);
    return buf;
}

/* Apply plots/views.sql to the store at path; 0 on success. */
static int apply_views(const char *path, const char *src)
{
    char sqlpath[1024];
    snprintf(sqlpath, sizeof sqlpath, "%s/plots/views.sql", src);
    char *sql = slurp(sqlpath);
    if (!sql) {
        fprintf(stderr, "cannot read %s\n", sqlpath);
        return -1;
    }
    struct nsid_store st;
    struct nsid_err err = {0};
    int rc = nsid_store_open(&st, path, &err);
    char *msg = NULL;
    if (rc == 0 && sqlite3_exec(st.db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sqlpath, msg ? msg : "?");
        rc = -1;
    }
    sqlite3_free(msg);
    nsid_store_close(&st);
    free(sql);
    return rc;
}

/* The expected Fig. 3 mean at the most data and neurons: model seed 1 is never selected. */
static double fig3_top(int c)
{
    double s = 0;
    for (int ns = 1; ns <= N_NSEEDS; ns++) s += fig3_fo(c, 30, 4 * FIG3_IMAGES[2], ns) - 0.02;
    return s / N_NSEEDS;
}

/* Where the 11-S curve first reaches direct training's full-data mean (linear interpolation). */
static double reach_fraction(void)
{
    double target = 0.5 * (fig5_fo(0, 1000, 1) + fig5_fo(0, 1000, 2));
    for (int i = 0; i < N_FIG5_X; i++) {
        double m = fig5_fo(1, FIG5_IMAGES[i], 1);
        if (m < target) continue;
        if (i == 0) return FIG5_IMAGES[0] / 1000.0;
        double pm = fig5_fo(1, FIG5_IMAGES[i - 1], 1), px = FIG5_IMAGES[i - 1];
        return (px + (FIG5_IMAGES[i] - px) * (target - pm) / (m - pm)) / 1000.0;
    }
    return NAN;
}

static void check_series(sqlite3 *db)
{
    CHECK(q1(db, "SELECT COUNT(*) FROM plot_fig3_series") == 6, "Fig. 3: 3 readouts x 2 neuron counts");
    CHECK(q1(db, "SELECT MIN(n_points) = 3 AND MAX(n_points) = 3 FROM plot_fig3_series") == 1, "Fig. 3: 3 points each");
    CHECK(q1(db, "SELECT MIN(n_band) FROM plot_fig3_series") == 3, "Fig. 3: bands over 3 neuron seeds");
    CHECK(q1(db, "SELECT COUNT(*) FROM plot_fig3") == 18, "Fig. 3: 18 points");
    CHECK(q1(db, "SELECT style_index FROM plot_fig3_series WHERE style = '30' LIMIT 1") == 1,
          "Fig. 3: the most neurons get style 1 (solid)");
    CHECK(q1(db, "SELECT curve_index FROM plot_fig3_series WHERE curve = 'Factorized w/o f-s' LIMIT 1") == 3,
          "Fig. 3: the paper's legend order");
    CHECK(q1(db, "SELECT SUM(first_of_curve) FROM plot_fig3_series") == 3 &&
              q1(db, "SELECT SUM(first_of_style) FROM plot_fig3_series") == 2,
          "Fig. 3: one legend entry per readout and per neuron count");
    CHECK_CLOSE(q1(db, "SELECT mean FROM plot_fig3 p JOIN plot_fig3_series s USING (series)"
                       " WHERE s.curve = 'Gaussian w/ f-s' AND s.style = '30' AND p.x = 640"),
                fig3_top(0), 1e-12, 0, "Fig. 3: mean of the best-by-validation runs");
    CHECK(q1(db, "SELECT COUNT(*) FROM plot_fig3_ablation_series") == 4 &&
              q1(db, "SELECT SUM(n_band) FROM plot_fig3_ablation_series") == 0,
          "ablation: 4 series, one seed: no bands");
    CHECK(q1(db, "SELECT COUNT(*) FROM plot_fig4_series") == 6 &&
              q1(db, "SELECT COUNT(DISTINCT panel_index) FROM plot_fig4") == 2,
          "Fig. 4: 3 conditions in 2 panels");
    CHECK(q1(db, "SELECT panel_index FROM plot_fig4_series WHERE panel = 'gaussian' LIMIT 1") == 2,
          "Fig. 4: panel B is the Gaussian readout");
    CHECK(q1(db, "SELECT COUNT(*) FROM plot_fig5_series") == N_FIG5, "Fig. 5: 9 curves (no VGG16)");
    CHECK(q1(db, "SELECT n_points FROM plot_fig5_series WHERE curve = 'direct'") == N_FIG5_X &&
              q1(db, "SELECT n_band FROM plot_fig5_series WHERE curve = 'direct'") == N_FIG5_X,
          "Fig. 5: direct has a band over its two model seeds");
}

static void check_fig1(sqlite3 *db)
{
    CHECK(q1(db, "SELECT COUNT(*) FROM plot_fig1_cells") == 4 + 11 + 4 + 1 + 1, "Fig. 1: one cell stripe per scan and group");
    CHECK(q1(db, "SELECT COUNT(*) FROM plot_fig1_rows") == 10, "Fig. 1: 10 neuron sets (4-S matched is one)");
    CHECK(q1(db, "SELECT COUNT(*) FROM plot_fig1_cols") == N_SCANS, "Fig. 1: 13 image sets");
    CHECK(q1(db, "SELECT stripes FROM plot_fig1_cells WHERE data_key = '22564-2-12-0' LIMIT 1") == 3,
          "Fig. 1: a scan of 4-S matched, 11-S and 4-S diff animals has 3 stripes");
    CHECK(q1(db, "SELECT row_index FROM plot_fig1_cells WHERE data_key = '22564-3-12-0' LIMIT 1") == 1,
          "Fig. 1: the matched animal is the first row");
    CHECK(q1(db, "SELECT COUNT(*) FROM plot_fig1_groups") == N_GROUPS, "Fig. 1: five groups");
}

static void check_sim(sqlite3 *db)
{
    char s[256];
    q1s(db, "SELECT run_id FROM plot_chosen_run", s, sizeof s);
    CHECK(strcmp(s, "fig5.direct.x1000.s2") == 0, "chosen run: direct at the most images, best validation (got %s)", s);
    CHECK(q1(db, "SELECT COUNT(*) FROM plot_training_curve") == 13, "training curve: epochs 0..12");
    CHECK(q1(db, "SELECT COUNT(*) FROM plot_gt_neurons") == 40, "ground truth: 40 neurons of the chosen run");
    q1s(db, "SELECT run_id FROM plot_rf_run", s, sizeof s);
    CHECK(strcmp(s, "ablation.c1.x160") == 0, "RF run: free positions preferred, best validation (got %s)", s);
    CHECK(q1(db, "SELECT COUNT(*) FROM plot_rf_animals") == 1, "RF: the 4-S animal");
    CHECK(q1(db, "SELECT COUNT(*) FROM plot_rf_centres") == 4 * 40, "RF: every neuron of its 4 scans");
    CHECK(q1(db, "SELECT MIN(r_x) > 0.97 AND MIN(r_y) > 0.9 FROM plot_rf_animals") == 1,
          "RF: learned = true + 1.5 px noise correlates");
    CHECK(q1(db, "SELECT COUNT(*) FROM plot_gt_series") == N_FIG5 &&
              q1(db, "SELECT COUNT(*) FROM plot_gt_curves") == N_FIG5 * N_FIG5_X,
          "ground truth over Fig. 5: every curve and image count");
}

static void check_report(sqlite3 *db)
{
    CHECK_CLOSE(q1(db, "SELECT ours FROM headline WHERE name = 'gaussian_vs_factorized'"), fig3_top(0) / fig3_top(2),
                1e-12, 0, "headline: Gaussian w/ f-s over factorized w/o f-s");
    double direct = 0.5 * (fig5_fo(0, 1000, 1) + fig5_fo(0, 1000, 2));
    CHECK_CLOSE(q1(db, "SELECT ours FROM headline WHERE name = 'transfer_11s_vs_direct'"), fig5_fo(1, 1000, 1) / direct,
                1e-12, 0, "headline: 11-S over direct");
    CHECK(isnan(q1(db, "SELECT ours FROM headline WHERE name = 'transfer_11s_vs_vgg16'")),
          "headline: no VGG16 run, no ratio");
    CHECK_CLOSE(q1(db, "SELECT ours FROM headline WHERE name = 'images_fraction_11s_reaches_direct'"),
                reach_fraction(), 1e-12, 0, "headline: fraction of images where 11-S reaches direct");
    CHECK(q1(db, "SELECT ours FROM headline WHERE name = 'params_per_neuron_factorized'") == 1017.0,
          "headline: factorized parameters per neuron");
    char s[256];
    q1s(db, "SELECT ours_text FROM plot_report_headline WHERE name = 'transfer_11s_vs_vgg16'", s, sizeof s);
    CHECK(strcmp(s, "no data") == 0, "report: a missing ratio says so (got '%s')", s);
    q1s(db, "SELECT value FROM plot_report_info WHERE key = 'runs'", s, sizeof s);
    CHECK(strstr(s, "1 failed") && strstr(s, "1 not started"), "report: run counts (got '%s')", s);
    q1s(db, "SELECT value FROM plot_report_info WHERE key = 'code version'", s, sizeof s);
    CHECK(strcmp(s, "0123456789ab") == 0, "report: code version (got '%s')", s);
    CHECK(q1(db, "SELECT COUNT(*) FROM plot_report_figures WHERE sentence IS NOT NULL") == 8,
          "report: a data sentence for every figure");
}

/*
 * A run two experiments plan counts in both experiments' timing rows and says so
 * (shared_runs), and once in the plan's totals.
 */
static void check_timing_shared(const char *path)
{
    struct nsid_store st;
    struct nsid_err err = {0};
    CHECK(nsid_store_open(&st, path, &err) == 0, "reopen for writing: %s", err.msg);
    if (!st.db) return;
    sqlite3 *db = st.db;
    double cpu_min = q1(db, "SELECT cpu_min FROM plot_run_totals");
    double ab_runs = q1(db, "SELECT runs FROM timing_experiments WHERE experiment = 'fig3_ablation'");
    CHECK(q1(db, "SELECT SUM(shared_runs) FROM timing_experiments") == 0, "timing: no shared runs to begin with");
    CHECK(sqlite3_exec(db,
                       "INSERT INTO plan_runs (experiment, id, sel_group, identity) SELECT 'fig3_ablation', p.id, "
                       "p.sel_group, p.identity FROM plan_runs p JOIN runs r ON r.id = p.id AND r.status = 'done' "
                       "WHERE p.experiment = 'fig3' ORDER BY p.id LIMIT 1",
                       NULL, NULL, NULL) == SQLITE_OK,
          "plan one Fig. 3 run in the ablation too: %s", sqlite3_errmsg(db));
    CHECK(q1(db, "SELECT shared_runs FROM timing_experiments WHERE experiment = 'fig3'") == 1 &&
              q1(db, "SELECT shared_runs FROM timing_experiments WHERE experiment = 'fig3_ablation'") == 1,
          "timing: the shared run is marked in both experiments");
    CHECK(q1(db, "SELECT runs FROM timing_experiments WHERE experiment = 'fig3_ablation'") == ab_runs + 1,
          "timing: and counted in both");
    CHECK_CLOSE(q1(db, "SELECT cpu_min FROM plot_run_totals"), cpu_min, 0, 0, "the plan's totals count it once");
    CHECK(sqlite3_exec(db, "DELETE FROM plan_runs WHERE experiment = 'fig3_ablation' AND id IN "
                           "(SELECT id FROM plan_runs WHERE experiment = 'fig3')", NULL, NULL, NULL) == SQLITE_OK,
          "unplan it again");
    nsid_store_close(&st);
}

/* Without a run with free positions, the selected run with the most animals. */
static void check_rf_fallback(const char *path)
{
    struct nsid_store st;
    struct nsid_err err = {0};
    CHECK(nsid_store_open(&st, path, &err) == 0, "reopen for writing: %s", err.msg);
    if (!st.db) return;
    CHECK(sqlite3_exec(st.db, "DELETE FROM plan_runs WHERE experiment = 'fig3_ablation'", NULL, NULL, NULL) == SQLITE_OK,
          "drop the ablation from the plan");
    char s[256];
    q1s(st.db, "SELECT run_id || ' ' || predictor FROM plot_rf_run", s, sizeof s);
    CHECK(strcmp(s, "cores.11s.s2 cortex") == 0, "RF run: else the selected 11-S core (got %s)", s);
    CHECK(q1(st.db, "SELECT COUNT(*) FROM plot_rf_animals") == 5, "RF: 5 animals");
    CHECK(q1(st.db, "SELECT COUNT(*) FROM plot_rf_centres") == 4 * 40 + 7 * 30, "RF: every neuron of 11 scans");
    q1s(st.db, "SELECT sentence FROM plot_report_figures WHERE figure = 'sim_rf'", s, sizeof s);
    CHECK(strstr(s, "whatever was learned") != NULL, "report: the cortex predictor's caveat (got %s)", s);
    nsid_store_close(&st);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write") == 0) {
        int n = write_store(argv[2]);
        if (n < 0) return 1;
        printf("test_figures_db: %s: %d synthetic runs (test data)\n", argv[2], n);
        return 0;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: test_figures_db [--write DB]\n");
        return 2;
    }
    const char *src = getenv("NSID_SRC") ? getenv("NSID_SRC") : ".";
    char dir[] = "/tmp/nsid_figures_db_XXXXXX", path[256];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/results.db", dir);
    int n = write_store(path);
    CHECK(n == 2 * 3 * 3 * 3 * 2 + 8 + 18 + 40 + 4, "synthetic store written (%d runs)", n);
    CHECK(apply_views(path, src) == 0, "plots/views.sql applies");
    CHECK(apply_views(path, src) == 0, "plots/views.sql applies twice (drop and recreate)");
    struct nsid_store st;
    struct nsid_err err = {0};
    CHECK(nsid_store_open_readonly(&st, path, &err) == 0, "reopen: %s", err.msg);
    if (st.db) {   /* the store's connection: its views use the sqrt() it registers */
        check_series(st.db);
        check_fig1(st.db);
        check_sim(st.db);
        check_report(st.db);
    }
    nsid_store_close(&st);
    check_timing_shared(path);
    check_rf_fallback(path);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("figures_db");
}
