/*
 * test_undefined_metrics.c - issue 17 class 1: never "done" with numbers that are not numbers.
 * A family of scans on which a metric is undefined, each taken end to end through the programs
 * (nsid-train, nsid-eval, nsid-db, scripts/nsid-report.sh --project): the undefined summary metric
 * is one "nsid-eval: undefined: ..." line with its reason, NULL in run.db (never 0) with its
 * reason code row, and in the report with its reason; a per-neuron correlation that is undefined
 * is NULL and left out of the mean, with the count said. Selection (nsid-db select, best_runs)
 * ignores runs whose validation score is undefined, and a group with none fails naming the runs.
 * Plausibility warnings (negative responses, extreme outliers) are one line each, and a clean
 * scan has none. Figures: $NSID_BIN/figures/undefined_metrics.txt (cases, wrong).
 *
 * Members: no repeated test images; one validation trial; one test trial; a neuron constant in
 * the evaluated tiers; constant predictions (identical validation images); a NaN in the ground
 * truth; every neuron constant in validation; an all-undefined selection group; a mixed group;
 * negative responses; an extreme outlier; a clean scan (no warning, nothing undefined).
 */
#include <math.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "data_testutil.h"
#include "proc_testutil.h"
#include "train_testutil.h"

static char tmp[4096], bin[4096], srcdir[4096];
static int n_cases, n_wrong;
static bool case_bad;

#define TCHECK(cond, ...) do { bool ok_ = (cond); CHECK(ok_, __VA_ARGS__); if (!ok_) case_bad = true; } while (0)

static void case_begin(void) { case_bad = false; }
static void case_end(void)
{
    n_cases++;
    n_wrong += case_bad;
}

/* The text of a file (static buffer per call site: copy before the next call). */
static char *slurp(const char *path)
{
    static char buf[4][1 << 16];
    static int k;
    char *b = buf[k++ & 3];
    pt_slurp(path, b, sizeof buf[0]);
    return b;
}

static int count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* First column of the first row of sql on db: 1 and *v (NaN for NULL) if a row, 0 if none, -1 on error. */
static int q1(const char *db, const char *sql, double *v)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    int rc = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK) {
        int st = sqlite3_step(s);
        if (st == SQLITE_ROW) {
            *v = sqlite3_column_type(s, 0) == SQLITE_NULL ? (double)NAN : sqlite3_column_double(s, 0);
            rc = 1;
        } else if (st == SQLITE_DONE) rc = 0;
    }
    if (rc < 0) fprintf(stderr, "query failed on %s: %s: %s\n", db, sql, h ? sqlite3_errmsg(h) : "");
    sqlite3_finalize(s);
    sqlite3_close(h);
    return rc;
}

/* The metric (scan, split, name) of the only run of db: 1 with *v (NaN for NULL), 0 if no row. */
static int metric(const char *db, const char *scan, const char *split, const char *name, double *v)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT value FROM metrics WHERE scan = '%s' AND split = '%s' AND name = '%s'", scan,
             split, name);
    return q1(db, sql, v);
}

/* ---- the scans' pathologies (tt_scan.mutate) ------------------------------------------------ */

enum { PATH_NONE, PATH_CONST_NEURON, PATH_SAME_VAL_IMAGES, PATH_NAN_TRUTH, PATH_ALL_CONST_VAL, PATH_NEGATIVE,
       PATH_OUTLIER };

static void mutate(struct nsid_scan *s, float *rates, void *ctx)
{
    int what = *(const int *)ctx;
    const int64_t T = s->n_trials, N = s->n_neurons, P = s->channels * s->height * s->width;
    int64_t first_val = -1, first_test = -1;
    for (int64_t t = 0; t < T; t++) {
        if (s->tiers[t] == NSID_TIER_VALIDATION && first_val < 0) first_val = t;
        if (s->tiers[t] == NSID_TIER_TEST && first_test < 0) first_test = t;
    }
    for (int64_t t = 0; t < T; t++) {
        bool val = s->tiers[t] == NSID_TIER_VALIDATION, test = s->tiers[t] == NSID_TIER_TEST;
        if (what == PATH_CONST_NEURON && (val || test)) s->responses[t * N + 3] = 0; /* silent when evaluated */
        if (what == PATH_ALL_CONST_VAL && val)
            for (int64_t n = 0; n < N; n++) s->responses[t * N + n] = 1;
        if (what == PATH_SAME_VAL_IMAGES && val && t != first_val)
            memcpy(s->images + t * P, s->images + first_val * P, (size_t)P * sizeof(float));
    }
    if (what == PATH_NAN_TRUTH) rates[first_test * N + 2] = NAN;
    if (what == PATH_NEGATIVE)
        for (int k = 0; k < 7; k++) s->responses[(5 + k) * N + 1] = -2.5f;
    if (what == PATH_OUTLIER) s->responses[7 * N + 2] = 4.0e7f;
}

/* One member: its scan (options, pathology), trained briefly and evaluated into DIR/run. */
struct member {
    const char *name;
    char dir[4200], scan[4400], db[4400], out[4400], err[4400];
    int eval_status;
};

static int run_member(struct member *m, const char *name, int id, void (*opts)(struct tt_scan *), int what)
{
    memset(m, 0, sizeof *m);
    m->name = name;
    snprintf(m->dir, sizeof m->dir, "%s/%s", tmp, name);
    snprintf(m->scan, sizeof m->scan, "%s/static%d-1-1-preproc0.h5", m->dir, 10100 + id);
    snprintf(m->db, sizeof m->db, "%s/run/run.db", m->dir);
    snprintf(m->out, sizeof m->out, "%s/eval.out", m->dir);
    snprintf(m->err, sizeof m->err, "%s/eval.err", m->dir);
    dt_sh("mkdir -p '%s'", m->dir);
    struct tt_scan o;
    tt_default(&o);
    o.seed = 40 + (uint64_t)id;
    if (opts) opts(&o);
    int w = what;
    o.mutate = mutate;
    o.mutate_ctx = &w;
    if (tt_make_scan(m->scan, &o) != 0) return -1;
    int rc = dt_sh("'%s/nsid-train' --data '%s' --out '%s/run' --set model.core.layers=2 "
                   "--set model.core.hidden_channels=8 --set model.core.input_kern=5 --set model.core.hidden_kern=3 "
                   "--set train.batch_size=64 --set train.max_epochs=1 --set train.seed=%d > '%s/train.out' 2>&1",
                   bin, m->scan, m->dir, id, m->dir);
    if (rc != 0) {
        fprintf(stderr, "%s: nsid-train failed (%d):\n", name, rc);
        dt_sh("cat '%s/train.out' >&2", m->dir);
        return -1;
    }
    m->eval_status = dt_sh("'%s/nsid-eval' --checkpoint '%s/run/checkpoint.h5' --data '%s' --db '%s' > '%s' 2> '%s'",
                           bin, m->dir, m->scan, m->db, m->out, m->err);
    return 0;
}

/* The project report of db (scripts/nsid-report.sh --project) into DIR/report; its REPORT.md text. */
static char *report(const char *dir, const char *db)
{
    char res[4400];
    snprintf(res, sizeof res, "%s/report", dir);
    int rc = dt_sh("bash '%s/scripts/nsid-report.sh' --project '%s' --specs '' --db '%s' --figures '%s/report' "
                   "--results '%s' --nsid-db '%s/nsid-db' > '%s/report.log' 2>&1",
                   srcdir, dir, db, dir, res, bin, dir);
    if (rc != 0) {
        dt_sh("cat '%s/report.log' >&2", dir);
        return NULL;
    }
    char md[4500];
    snprintf(md, sizeof md, "%s/REPORT.md", res);
    return slurp(md);
}

/* A summary metric undefined end to end: one line with the reason, NULL + reason code in run.db, the report. */
static void expect_undefined(const struct member *m, const char *split, const char *name, int code,
                             const char *reason_part)
{
    const char *out = slurp(m->err);
    char line[256];
    snprintf(line, sizeof line, "%s %s: ", split, name);
    char *p = out ? strstr(out, "nsid-eval: undefined: ") : NULL;
    bool found = false;
    for (; p; p = strstr(p + 1, "nsid-eval: undefined: ")) {
        const char *eol = strchr(p, '\n');
        char l[1024];
        snprintf(l, sizeof l, "%.*s", (int)(eol ? eol - p : (long)strlen(p)), p);
        if (strstr(l, line) && strstr(l, reason_part)) found = true;
    }
    TCHECK(found, "%s: nsid-eval says '%s%s...' (stderr: %s)", m->name, line, reason_part, out ? out : "(none)");
    double v = 0;
    TCHECK(metric(m->db, "all", split, name, &v) == 1 && isnan(v), "%s: %s %s is NULL in run.db (got %g)", m->name,
           split, name, v);
    char uname[128];
    snprintf(uname, sizeof uname, "%s_undefined", name);
    TCHECK(metric(m->db, "all", split, uname, &v) == 1 && v == code, "%s: %s %s has reason code %d (got %g)", m->name,
           split, uname, code, v);
    char *md = report(m->dir, m->db);
    char cell[256];
    snprintf(cell, sizeof cell, "| %s %s | ", split, name);
    TCHECK(md && strstr(md, cell) && strstr(md, reason_part), "%s: the report lists %s %s with '%s'", m->name, split,
           name, reason_part);
}

/* ---- the members --------------------------------------------------------------------------- */

static void o_no_repeats(struct tt_scan *o) { o->repeats = 1; }
static void o_one_val(struct tt_scan *o) { o->n_val = 1; }
static void o_one_test(struct tt_scan *o) { o->n_test_images = 1; o->repeats = 1; }

static void test_no_repeats(void)
{
    struct member m;
    case_begin();
    TCHECK(run_member(&m, "no_repeats", 1, o_no_repeats, PATH_NONE) == 0 && m.eval_status == 0,
           "no_repeats: trained and evaluated");
    const char *why = "no repeated test images";
    expect_undefined(&m, "test", "oracle", 1, why);
    expect_undefined(&m, "test", "fraction_oracle", 1, why);
    expect_undefined(&m, "test", "feve", 1, why);
    expect_undefined(&m, "test", "fev", 1, why);
    double v;
    TCHECK(metric(m.db, "all", "test", "corr", &v) == 1 && isfinite(v), "no_repeats: the test correlation is defined");
    const char *out = slurp(m.out);
    TCHECK(out && strstr(out, "oracle undefined") && strstr(out, "fraction oracle undefined"),
           "no_repeats: the summary prints 'undefined', not nan or 0: %s", out ? out : "");
    case_end();
}

static void test_one_trial(void)
{
    struct member m;
    case_begin();
    TCHECK(run_member(&m, "one_val", 2, o_one_val, PATH_NONE) == 0 && m.eval_status == 0, "one_val: evaluated");
    expect_undefined(&m, "validation", "corr", 2, "fewer than 2 trials");
    case_end();

    case_begin();
    TCHECK(run_member(&m, "one_test", 3, o_one_test, PATH_NONE) == 0 && m.eval_status == 0, "one_test: evaluated");
    expect_undefined(&m, "test", "corr", 2, "fewer than 2 trials");
    expect_undefined(&m, "test", "oracle", 1, "no repeated test images");
    case_end();
}

/* The recorded mean equals the mean of the defined per-neuron values, and the neuron is NULL. */
static void expect_excluded(const struct member *m, const char *split, const char *name, const char *column,
                            int neuron, int n_out)
{
    char sql[512], want[256];
    double v = 0, avg = 0, cnt = 0;
    snprintf(sql, sizeof sql, "SELECT %s FROM neuron_metrics WHERE neuron = %d", column, neuron);
    TCHECK(q1(m->db, sql, &v) == 1 && isnan(v), "%s: neuron %d's %s is NULL (got %g)", m->name, neuron, column, v);
    snprintf(sql, sizeof sql, "SELECT AVG(%s) FROM neuron_metrics", column);
    double mean = 0;
    TCHECK(q1(m->db, sql, &avg) == 1 && metric(m->db, "all", split, name, &mean) == 1 &&
               fabs(mean - avg) <= 1e-12 * (1 + fabs(avg)),
           "%s: %s %s (%.17g) is the mean of the defined neurons (%.17g), the undefined one left out", m->name, split,
           name, mean, avg);
    char nname[128];
    snprintf(nname, sizeof nname, "%s_n_undefined", name);
    TCHECK(metric(m->db, "all", split, nname, &cnt) == 1 && cnt == n_out, "%s: %s %s records %d left out (got %g)",
           m->name, split, nname, n_out, cnt);
    snprintf(want, sizeof want, "%s %s: %d of ", split, name, n_out);
    const char *err = slurp(m->err);
    TCHECK(err && count_lines_with(err, want) == 1 && strstr(err, "nsid-eval: excluded: "),
           "%s: one 'excluded' line says '%s... neurons undefined' (%s)", m->name, want, err ? err : "");
}

static void test_constant_neuron(void)
{
    struct member m;
    case_begin();
    TCHECK(run_member(&m, "const_neuron", 4, NULL, PATH_CONST_NEURON) == 0 && m.eval_status == 0,
           "const_neuron: evaluated");
    expect_excluded(&m, "validation", "corr", "val_corr", 3, 1);
    expect_excluded(&m, "test", "corr", "test_corr", 3, 1);
    const char *err = slurp(m.err);
    TCHECK(err && strstr(err, "1 constant response"), "const_neuron: the reason is a constant response (%s)", err ? err : "");
    TCHECK(err && !strstr(err, "nsid-eval: undefined:"), "const_neuron: no summary is undefined");
    char *md = report(m.dir, m.db);
    TCHECK(md && strstr(md, "1 finished run(s) left neurons") && strstr(md, "up to 1 neurons in a run") &&
               strstr(md, "No summary metric of the finished runs is undefined"),
           "const_neuron: the report says the run left a neuron out");
    case_end();
}

static void test_constant_predictions(void)
{
    struct member m;
    case_begin();
    TCHECK(run_member(&m, "const_pred", 5, NULL, PATH_SAME_VAL_IMAGES) == 0 && m.eval_status == 0,
           "const_pred: evaluated");
    expect_undefined(&m, "validation", "corr", 3, "constant or not finite");
    const char *err = slurp(m.err);
    TCHECK(err && strstr(err, "0 constant response, 24 constant or non-finite prediction"),
           "const_pred: all 24 neurons undefined by their predictions (%s)", err ? err : "");
    case_end();
}

static void test_nan_truth(void)
{
    struct member m;
    case_begin();
    TCHECK(run_member(&m, "nan_truth", 6, NULL, PATH_NAN_TRUTH) == 0 && m.eval_status == 0, "nan_truth: evaluated");
    expect_excluded(&m, "test", "gt_corr", "gt_corr", 2, 1);
    case_end();
}

/* Selection: runs whose validation score is undefined never win, and a group of only such runs fails. */
static void test_selection(void)
{
    struct member a, b, good;
    case_begin();
    TCHECK(run_member(&a, "all_const_a", 7, NULL, PATH_ALL_CONST_VAL) == 0 && a.eval_status == 0, "all_const_a");
    TCHECK(run_member(&b, "all_const_b", 8, NULL, PATH_ALL_CONST_VAL) == 0 && b.eval_status == 0, "all_const_b");
    expect_undefined(&a, "validation", "corr", 3, "constant or not finite");
    char sel[4400], err[4400];
    snprintf(sel, sizeof sel, "%s/select.ckpt", tmp);
    snprintf(err, sizeof err, "%s/select.err", tmp);
    int rc = dt_sh("'%s/nsid-db' select --out '%s' '%s' '%s' 2> '%s'", bin, sel, a.db, b.db, err);
    const char *e = slurp(err);
    TCHECK(rc != 0 && !dt_exists(sel), "select over two undefined scores fails and writes nothing (exit %d)", rc);
    TCHECK(e && strstr(e, "no") && strstr(e, "defined validation score") && strstr(e, a.db) && strstr(e, b.db),
           "the message names both runs' files: %s", e ? e : "");
    case_end();

    /* the store's best_runs on a merged store: the group {a, b} has no best run, named by undefined_selections */
    case_begin();
    TCHECK(run_member(&good, "defined", 9, NULL, PATH_NONE) == 0 && good.eval_status == 0, "defined");
    rc = dt_sh("'%s/nsid-db' select --out '%s' '%s' '%s' 2> '%s'", bin, sel, a.db, good.db, err);
    e = slurp(err);
    char want[4500];
    snprintf(want, sizeof want, "%s/run/checkpoint.h5", good.dir);
    const char *picked = slurp(sel);
    TCHECK(rc == 0 && picked && strstr(picked, want) && e && strstr(e, "ignored") && strstr(e, a.db),
           "a mixed group selects the defined run and says which was ignored (%s; %s)", picked ? picked : "", e);
    char store[4400];
    snprintf(store, sizeof store, "%s/merged/results.db", tmp);
    rc = dt_sh("mkdir -p '%s/merged' && '%s/nsid-db' merge --into '%s' '%s' '%s' '%s' > /dev/null 2>&1", tmp, bin,
               store, a.db, b.db, good.db);
    TCHECK(rc == 0, "merge the three runs");
    sqlite3 *h = NULL;
    char *sqlerr = NULL;
    rc = sqlite3_open(store, &h) == SQLITE_OK
             ? sqlite3_exec(h,
                            "INSERT INTO plan_runs (experiment, id, sel_group, identity) SELECT 'exp', run_id,"
                            " 'g_undefined', '{}' FROM metrics WHERE name = 'corr_undefined' AND split = 'validation'"
                            " AND scan = 'all'; INSERT INTO plan_runs (experiment, id, sel_group, identity)"
                            " SELECT 'exp2', id, 'g_mixed', '{}' FROM runs",
                            NULL, NULL, &sqlerr)
             : -1;
    TCHECK(rc == SQLITE_OK, "plan rows for the two groups (%s)", sqlerr ? sqlerr : "");
    sqlite3_free(sqlerr);
    sqlite3_close(h);
    double v = -1;
    TCHECK(q1(store, "SELECT COUNT(*) FROM best_runs WHERE sel_group = 'g_undefined'", &v) == 1 && v == 0,
           "best_runs has no run for a group with no defined score (got %g)", v);
    TCHECK(q1(store, "SELECT val_corr FROM best_runs WHERE sel_group = 'g_mixed'", &v) == 1 && isfinite(v),
           "best_runs picks the defined run of the mixed group (%g)", v);
    TCHECK(q1(store, "SELECT n_runs FROM undefined_selections WHERE sel_group = 'g_undefined'", &v) == 1 && v >= 1,
           "undefined_selections names the group (%g runs)", v);
    char *md = report(tmp, store);
    TCHECK(md && strstr(md, "**no best run**") && strstr(md, "g_undefined"), "the report says the group has no best run");
    case_end();
}

/* Plausibility warnings: one line each, on stderr, the run still evaluated; none on a clean scan. */
static void test_warnings(void)
{
    struct member m;
    case_begin();
    TCHECK(run_member(&m, "negative", 10, NULL, PATH_NEGATIVE) == 0 && m.eval_status == 0, "negative: evaluated");
    const char *e = slurp(m.err);
    TCHECK(e && count_lines_with(e, "responses: 7 negative values") == 1 && strstr(e, "first at trial 5, neuron 1"),
           "negative: one warning with the count and the first trial/neuron (%s)", e ? e : "");
    TCHECK(e && count_lines_with(e, "extreme outliers") == 0, "negative: no outlier warning");
    case_end();

    case_begin();
    TCHECK(run_member(&m, "outlier", 11, NULL, PATH_OUTLIER) == 0 && m.eval_status == 0, "outlier: evaluated");
    e = slurp(m.err);
    TCHECK(e && count_lines_with(e, "responses: 1 extreme outliers in 1 neurons") == 1 &&
               strstr(e, "largest at trial 7, neuron 2"),
           "outlier: one warning naming trial and neuron (%s)", e ? e : "");
    TCHECK(e && count_lines_with(e, "negative values") == 0, "outlier: no negative warning");
    case_end();

    case_begin();
    TCHECK(run_member(&m, "clean", 12, NULL, PATH_NONE) == 0 && m.eval_status == 0, "clean: evaluated");
    e = slurp(m.err);
    TCHECK(e && e[0] == 0, "clean: nsid-eval's stderr is empty: no warning, nothing undefined (%s)", e ? e : "");
    char *md = report(m.dir, m.db);
    TCHECK(md && strstr(md, "Every metric of the finished runs is defined"), "clean: the report says so");
    case_end();
}

int main(void)
{
    const char *b = getenv("NSID_BIN"), *s = getenv("NSID_SRC");
    if (!b || !s) {
        fprintf(stderr, "NSID_BIN and NSID_SRC must be set (ctest sets them)\n");
        return 1;
    }
    snprintf(bin, sizeof bin, "%s", b);
    snprintf(srcdir, sizeof srcdir, "%s", s);
    dt_tmpdir(tmp, sizeof tmp, "undefined_metrics");
    pt_figures_reset("undefined_metrics");
    test_no_repeats();
    test_one_trial();
    test_constant_neuron();
    test_constant_predictions();
    test_nan_truth();
    test_selection();
    test_warnings();
    pt_figure("undefined_metrics", "cases", "%d", n_cases);
    pt_figure("undefined_metrics", "wrong", "%d", n_wrong);
    int status = check_summary("undefined_metrics");
    if (status == 0) dt_rmtree(tmp);
    return status;
}
