/*
 * test_store.c - the SQLite results store: schema, a run's lifecycle, 'done' is final,
 * idempotent merges, status, views (best-by-validation selection, figure summaries,
 * headline ratios), query/export, bad files.
 *
 * Runs here are tiny synthetic records created through the store API to exercise the
 * store; they are not results of any model.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "check.h"
#include "exp/eval.h"
#include "exp/store.h"
#include "exp/store_plan.h"

static char tmpdir[512];

static const char *tmp_path(const char *name)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* One value of a query on a store (double), NAN if none. */
static double q1(struct nsid_store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    double v = NAN;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "q1: %s: %s\n", sql, sqlite3_errmsg(st->db));
        return NAN;
    }
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) v = sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int exec(struct nsid_store *st, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) fprintf(stderr, "exec: %s: %s\n", sql, msg ? msg : "");
    sqlite3_free(msg);
    return rc == SQLITE_OK ? 0 : -1;
}

/* A config JSON with the given seeds (the store reads train.seed and the data seeds from it). */
static void config_json(char *buf, size_t n, int seed, const char *readout)
{
    snprintf(buf, n,
             "{\"data\":{\"image_base_seed\":1,\"multi_match_base_seed\":2,\"neuron_base_seed\":3},"
             "\"model\":{\"readout\":{\"gamma\":0.5,\"share_features\":false,\"type\":\"%s\"}},"
             "\"train\":{\"seed\":%d}}",
             readout, seed);
}

/* Synthetic run: begin, 3 epochs, metrics, 4 neurons, one dataset, then end with status. */
static int make_run(const char *db, const char *id, int status, double val, double fo, int seed,
                    const char *readout)
{
    struct nsid_err err = {0};
    struct nsid_store st;
    char cfg[512];
    config_json(cfg, sizeof cfg, seed, readout);
    int rc = nsid_store_open(&st, db, &err);
    struct nsid_store_run run = {.id = id, .config_json = cfg, .threads = 1, .fresh = true};
    if (rc == 0) rc = nsid_store_run_begin(&st, &run, &err);
    for (int e = 0; rc == 0 && e < 3; e++) {
        struct nsid_store_epoch ep = {.epoch = e, .round = 0, .lr = 0.005, .train_loss = 10.0 - e,
                                      .val_corr = val * (e + 1) / 3, .seconds = 0.1};
        rc = nsid_store_epoch(&st, id, &ep, &err);
    }
    struct nsid_store_dataset d = {.path = tmp_path("scan0.h5"), .data_key = "1-1-1-0", .n_neurons = 4,
                                   .n_train = 100};
    if (rc == 0) rc = nsid_store_run_dataset(&st, id, 0, &d, 80, 4, &err);
    if (rc == 0) rc = nsid_store_run_end(&st, id, &(struct nsid_store_end){.status = NSID_RUN_RUNNING, .wall_s = 1},
                                         &err);
    if (rc == 0 && status != NSID_RUN_RUNNING) {
        double corr[4] = {0.1, 0.2, 0.3, NAN}, xy[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        struct nsid_store_metric m[] = {
            {"all", "validation", "corr", val}, {"all", "test", "fraction_oracle", fo},
            {"all", "test", "corr", fo / 2},    {"all", "model", "readout_params_per_neuron",
                                                 strcmp(readout, "gaussian") == 0 ? 69 : 1165},
        };
        struct nsid_store_neurons nm = {.scan = "1-1-1-0", .n = 4, .test_corr = corr, .true_xy = xy, .rf_xy = xy};
        rc = nsid_store_begin(&st, &err);
        if (rc == 0) rc = nsid_store_metrics(&st, id, m, 4, &err);
        if (rc == 0) rc = nsid_store_neurons(&st, id, &nm, &err);
        struct nsid_store_end end = {.status = status, .exit_code = status == NSID_RUN_DONE ? 0 : 1,
                                     .error = status == NSID_RUN_FAILED ? "synthetic failure" : NULL, .wall_s = 2};
        if (rc == 0) rc = nsid_store_run_end(&st, id, &end, &err);
        if (rc == 0) rc = nsid_store_commit(&st, &err);
        else nsid_store_rollback(&st);
    }
    if (rc < 0) nsid_err_print(&err, stderr);
    nsid_store_close(&st);
    return rc;
}

static void test_schema(void)
{
    struct nsid_err err = {0};
    struct nsid_store st;
    CHECK(nsid_store_open(&st, tmp_path("schema.db"), &err) == 0, "open creates a store: %s", err.msg);
    CHECK(q1(&st, "PRAGMA user_version") == NSID_STORE_SCHEMA_VERSION, "schema version recorded");
    size_t nv = 0;
    for (const char *v; (v = nsid_store_view_name(nv)); nv++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE type = 'view' AND name = '%s'", v);
        CHECK(q1(&st, sql) == 1, "view %s exists", v);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", v);
        CHECK(q1(&st, sql) >= 0, "view %s runs on an empty store", v);
    }
    CHECK(nv >= 15, "one view per figure and more (%zu)", nv);
    CHECK(q1(&st, "SELECT count(*) FROM paper_values WHERE figure = 'fig5'") == 60, "Fig. 5 reference: 10 x 6");
    CHECK(q1(&st, "SELECT value FROM paper_headline WHERE name = 'transfer_11s_vs_direct'") == 1.12,
          "headline reference value");
    nsid_store_close(&st);
    CHECK(nsid_store_open(&st, tmp_path("schema.db"), &err) == 0, "reopen an existing store");
    nsid_store_close(&st);
    nsid_store_close(&st);
}

static void test_lifecycle(void)
{
    struct nsid_err err = {0};
    struct nsid_store st;
    const char *db = tmp_path("life.db");
    CHECK(make_run(db, "r1", NSID_RUN_DONE, 0.5, 0.7, 1, "gaussian") == 0, "a run is written");
    CHECK(nsid_store_open(&st, db, &err) == 0, "open");
    int status = -1;
    CHECK(nsid_store_run_status(&st, "r1", &status, &err) == 0 && status == NSID_RUN_DONE, "status done");
    CHECK(q1(&st, "SELECT count(*) FROM epochs WHERE run_id = 'r1'") == 3, "3 epochs");
    CHECK(q1(&st, "SELECT count(*) FROM neuron_metrics WHERE run_id = 'r1'") == 4, "4 neurons");
    CHECK(q1(&st, "SELECT count(*) FROM neuron_metrics WHERE test_corr IS NULL") == 1, "NaN stored as NULL");
    CHECK(q1(&st, "SELECT seed FROM runs") == 1 && q1(&st, "SELECT json_extract(seeds, '$.neuron') FROM runs") == 3,
          "seeds taken from the config");
    CHECK(q1(&st, "SELECT wall_s FROM runs") == 3, "wall seconds of both stages summed");
    CHECK(q1(&st, "SELECT count(*) FROM runs WHERE compiler IS NOT NULL AND blas LIKE 'OpenBLAS%'"
                  " AND host IS NOT NULL AND ended IS NOT NULL") == 1,
          "provenance recorded");
    CHECK(q1(&st, "SELECT n_train FROM run_datasets") == 80 && q1(&st, "SELECT n_train FROM datasets") == 100,
          "dataset sizes and the run's use of them");
    double score = 0;
    CHECK(nsid_store_score(&st, "r1", &score, &err) == 0 && score == 0.5, "selection score");
    char id[NSID_STORE_ID_MAX];
    CHECK(nsid_store_only_run(&st, id, &status, &err) == 0 && strcmp(id, "r1") == 0, "only run");

    /* done is final */
    struct nsid_store_epoch ep = {.epoch = 9};
    CHECK(nsid_store_epoch(&st, "r1", &ep, &err) == NSID_EINVAL && strstr(err.msg, "done"),
          "no epoch after done: %s", err.msg);
    struct nsid_store_metric m = {"all", "test", "corr", 1.0};
    CHECK(nsid_store_metrics(&st, "r1", &m, 1, &err) == NSID_EINVAL, "no metric after done");
    CHECK(q1(&st, "SELECT value FROM metrics WHERE split = 'test' AND name = 'corr'") == 0.35,
          "the refused write changed nothing");
    CHECK(nsid_store_run_end(&st, "r1", &(struct nsid_store_end){.status = NSID_RUN_DONE}, &err) == NSID_EINVAL,
          "a done run cannot end again");
    char cfg[512];
    config_json(cfg, sizeof cfg, 1, "gaussian");
    struct nsid_store_run again = {.id = "r1", .config_json = cfg};
    nsid_err_clear(&err);
    CHECK(nsid_store_run_begin(&st, &again, &err) == NSID_EINVAL, "resume of a done run refused");
    again.fresh = true;
    CHECK(nsid_store_run_begin(&st, &again, &err) == 0, "fresh rerun of a done run");
    CHECK(q1(&st, "SELECT count(*) FROM metrics") == 0 && q1(&st, "SELECT count(*) FROM epochs") == 0,
          "fresh rerun drops the old records");
    CHECK(q1(&st, "SELECT wall_s IS NULL FROM runs") == 1, "fresh rerun resets the times");
    nsid_err_clear(&err);
    CHECK(nsid_store_run_end(&st, "r1", &(struct nsid_store_end){.status = NSID_RUN_PLANNED}, &err) == NSID_EINVAL,
          "a stage cannot end as planned");

    /* bad arguments */
    nsid_err_clear(&err);
    CHECK(nsid_store_epoch(&st, "nope", &ep, &err) == NSID_ENOTFOUND, "unknown run");
    nsid_err_clear(&err);
    CHECK(nsid_store_epoch(&st, "bad id!", &ep, &err) == NSID_EINVAL, "bad run id");
    struct nsid_store_run bad = {.id = "r2", .config_json = "{not json"};
    nsid_err_clear(&err);
    CHECK(nsid_store_run_begin(&st, &bad, &err) == NSID_EINVAL && strcmp(err.key, "config_json") == 0,
          "config must be JSON: %s", err.msg);
    nsid_err_clear(&err);
    CHECK(nsid_store_artifact(&st, "r1", tmp_path("missing.h5"), "checkpoint", &err) == NSID_ENOTFOUND,
          "artifact must exist");
    FILE *f = fopen(tmp_path("ckpt.h5"), "w");
    fputs("abc", f);
    fclose(f);
    CHECK(nsid_store_artifact(&st, "r1", tmp_path("ckpt.h5"), "checkpoint", &err) == 0, "artifact");
    CHECK(q1(&st, "SELECT bytes FROM artifacts") == 3 &&
              q1(&st, "SELECT sha256 = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'"
                      " FROM artifacts") == 1,
          "artifact sha256 and size");
    /* a transaction that fails half-way leaves nothing */
    struct nsid_store_metric two[2] = {{"all", "test", "corr", 0.1}, {"all", "", "x", 0.2}};
    nsid_err_clear(&err);
    CHECK(nsid_store_metrics(&st, "r1", two, 2, &err) == NSID_EINVAL, "empty split refused");
    CHECK(q1(&st, "SELECT count(*) FROM metrics") == 0, "nothing of a refused batch is stored");
    nsid_store_close(&st);
}

static void test_bad_files(void)
{
    struct nsid_err err = {0};
    struct nsid_store st, src;
    FILE *f = fopen(tmp_path("garbage.db"), "w");
    for (int i = 0; i < 200; i++) fputs("this is not a database ", f);
    fclose(f);
    CHECK(nsid_store_open(&st, tmp_path("garbage.db"), &err) == NSID_EFORMAT, "non-SQLite file: %s", err.msg);
    CHECK(st.db == NULL, "closed after a failed open");
    nsid_err_clear(&err);
    CHECK(nsid_store_open_readonly(&st, tmp_path("absent.db"), &err) == NSID_ENOTFOUND, "missing file read-only");
    struct stat sb;
    CHECK(stat(tmp_path("absent.db"), &sb) != 0, "read-only open creates nothing");

    CHECK(nsid_store_open(&st, tmp_path("newer.db"), &err) == 0, "open");
    exec(&st, "PRAGMA user_version = 99");
    nsid_store_close(&st);
    nsid_err_clear(&err);
    CHECK(nsid_store_open(&st, tmp_path("newer.db"), &err) == NSID_EFORMAT && strstr(err.msg, "newer"),
          "a newer schema is refused: %s", err.msg);

    sqlite3 *db = NULL;
    sqlite3_open(tmp_path("foreign.db"), &db);
    sqlite3_exec(db, "CREATE TABLE runs (x); PRAGMA user_version = 1", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK(nsid_store_open(&st, tmp_path("into_bad.db"), &err) == 0, "open target");
    struct nsid_store_merge_stats ms = {0};
    nsid_err_clear(&err);
    CHECK(nsid_store_merge(&st, tmp_path("foreign.db"), &ms, &err) == NSID_EFORMAT, "foreign db: %s", err.msg);
    CHECK(strstr(err.file, "foreign.db") != NULL, "error names the run db");
    nsid_err_clear(&err);
    CHECK(nsid_store_merge(&st, tmp_path("garbage.db"), &ms, &err) < 0 && strstr(err.file, "garbage.db"),
          "garbage db: %s", err.msg);
    nsid_err_clear(&err);
    CHECK(nsid_store_merge(&st, tmp_path("nothere.db"), &ms, &err) == NSID_ENOTFOUND, "missing run db");
    CHECK(stat(tmp_path("nothere.db"), &sb) != 0, "merge creates no file for a missing run db");
    /* a run db whose run id is malformed: refused naming the run db (not the target) and the id */
    CHECK(nsid_store_open(&src, tmp_path("badid.db"), &err) == 0, "open badid.db");
    nsid_store_close(&src);
    sqlite3_open(tmp_path("badid.db"), &db);
    sqlite3_exec(db, "INSERT INTO runs (id, config, status) VALUES ('bad id; with spaces', '{}', 'done')", NULL, NULL,
                 NULL);
    sqlite3_close(db);
    nsid_err_clear(&err);
    CHECK(nsid_store_merge(&st, tmp_path("badid.db"), &ms, &err) == NSID_EFORMAT && strstr(err.file, "badid.db") &&
              strstr(err.msg, "bad id; with spaces"),
          "a malformed source run id is refused naming the source and the id: %s: %s", err.file, err.msg);
    CHECK(q1(&st, "SELECT count(*) FROM runs") == 0, "nothing merged from bad files");
    CHECK(q1(&st, "SELECT count(*) FROM pragma_database_list WHERE name = 'src'") == 0,
          "bad run dbs detached again");
    nsid_store_close(&st);

    nsid_err_clear(&err);
    CHECK(nsid_store_open(&st, tmp_path("two.db"), &err) == 0, "open");
    char cfg[512];
    config_json(cfg, sizeof cfg, 1, "gaussian");
    nsid_store_run_begin(&st, &(struct nsid_store_run){.id = "a", .config_json = cfg}, &err);
    nsid_store_run_begin(&st, &(struct nsid_store_run){.id = "b", .config_json = cfg}, &err);
    char id[NSID_STORE_ID_MAX];
    int status;
    CHECK(nsid_store_only_run(&st, id, &status, &err) == NSID_EFORMAT, "two runs are not a run db");
    nsid_store_close(&st);
}

static void test_merge(void)
{
    struct nsid_err err = {0};
    const char *into = tmp_path("merged.db");
    CHECK(make_run(tmp_path("m_done.db"), "done1", NSID_RUN_DONE, 0.4, 0.6, 1, "gaussian") == 0, "done run");
    CHECK(make_run(tmp_path("m_failed.db"), "fail1", NSID_RUN_FAILED, 0.4, 0.6, 1, "gaussian") == 0, "failed run");
    CHECK(make_run(tmp_path("m_running.db"), "run1", NSID_RUN_RUNNING, 0.4, 0.6, 1, "gaussian") == 0,
          "half-written run");
    struct nsid_store st;
    CHECK(nsid_store_open(&st, into, &err) == 0, "open results");
    exec(&st, "INSERT INTO plan_runs (experiment, id, sel_group, identity) VALUES ('exp', 'done1', 'g', '{}')");
    const char *dbs[] = {tmp_path("m_done.db"), tmp_path("m_failed.db"), tmp_path("m_running.db")};
    struct nsid_store_merge_stats ms = {0};
    for (int i = 0; i < 3; i++) CHECK(nsid_store_merge(&st, dbs[i], &ms, &err) == 0, "merge %s: %s", dbs[i], err.msg);
    CHECK(ms.merged == 1 && ms.unfinished == 2, "1 merged, 2 unfinished");
    CHECK(q1(&st, "SELECT count(*) FROM runs") == 3, "3 runs");
    CHECK(q1(&st, "SELECT count(*) FROM runs WHERE status = 'done'") == 1, "only the finished run is done");
    CHECK(q1(&st, "SELECT count(*) FROM runs WHERE status = 'failed' AND error = 'synthetic failure'") == 1,
          "failure recorded with its message");
    CHECK(q1(&st, "SELECT count(*) FROM metrics WHERE run_id <> 'done1'") == 0 &&
              q1(&st, "SELECT count(*) FROM epochs WHERE run_id <> 'done1'") == 0,
          "unfinished runs bring no results");
    CHECK(q1(&st, "SELECT experiment = 'exp' FROM runs WHERE id = 'done1'") == 1, "experiment from the plan");
    double before = q1(&st, "SELECT count(*) FROM metrics") + q1(&st, "SELECT count(*) FROM epochs") +
                    q1(&st, "SELECT count(*) FROM neuron_metrics") + q1(&st, "SELECT count(*) FROM datasets");
    struct nsid_store_merge_stats ms2 = {0};
    for (int i = 0; i < 3; i++) nsid_store_merge(&st, dbs[i], &ms2, &err);
    for (int i = 0; i < 3; i++) nsid_store_merge(&st, dbs[i], &ms2, &err);
    double after = q1(&st, "SELECT count(*) FROM metrics") + q1(&st, "SELECT count(*) FROM epochs") +
                   q1(&st, "SELECT count(*) FROM neuron_metrics") + q1(&st, "SELECT count(*) FROM datasets");
    CHECK(ms2.unchanged == 2 && ms2.merged == 0, "merging again changes nothing (%lld unchanged)",
          (long long)ms2.unchanged);
    CHECK(before == after && before == 4 + 3 + 4 + 1, "row counts equal after repeated merges (%g)", after);
    CHECK(q1(&st, "SELECT count(*) FROM runs") == 3, "each run once");

    /* a half-written rerun of a finished run never hides the finished one */
    CHECK(make_run(tmp_path("m_rerun.db"), "done1", NSID_RUN_RUNNING, 0.9, 0.9, 1, "gaussian") == 0, "rerun");
    nsid_store_merge(&st, tmp_path("m_rerun.db"), &ms2, &err);
    CHECK(q1(&st, "SELECT status = 'done' FROM runs WHERE id = 'done1'") == 1 &&
              q1(&st, "SELECT value FROM metrics WHERE run_id = 'done1' AND split = 'validation'") == 0.4,
          "a running rerun does not replace a done run");
    /* a run that finished later with other numbers is another run: refused, naming both files
     * (issue 17: it used to replace the old records silently) */
    CHECK(make_run(tmp_path("m_rerun2.db"), "done1", NSID_RUN_DONE, 0.8, 0.9, 1, "gaussian") == 0, "rerun done");
    CHECK(nsid_store_merge(&st, tmp_path("m_rerun2.db"), &ms2, &err) == NSID_EINVAL &&
              strstr(err.file, "m_rerun2.db") && strstr(err.msg, "merged.db") && strstr(err.msg, "m_done.db"),
          "a finished run with other numbers is refused naming both files and the origin: %s: %s", err.file,
          err.msg);
    CHECK(q1(&st, "SELECT value FROM metrics WHERE run_id = 'done1' AND split = 'validation'") == 0.4,
          "the store's run is kept");
    /* the same run finished again later (same numbers, other times) is unchanged */
    sleep(1); /* ended is second-resolution */
    CHECK(make_run(tmp_path("m_rerun3.db"), "done1", NSID_RUN_DONE, 0.4, 0.6, 1, "gaussian") == 0, "rerun done");
    struct nsid_store_merge_stats ms3 = {0};
    CHECK(nsid_store_merge(&st, tmp_path("m_rerun3.db"), &ms3, &err) == 0 && ms3.unchanged == 1,
          "a rerun with the same content is the same run: %s", err.msg);
    CHECK(q1(&st, "SELECT count(*) FROM metrics WHERE run_id = 'done1'") == 4, "without duplicating rows");

    /* status: live run dbs override the merged copy */
    int64_t c[NSID_RUN_N_STATUS];
    exec(&st, "INSERT INTO plan_runs (experiment, id, sel_group, identity) VALUES ('exp', 'fail1', 'g2', '{}'),"
              " ('exp', 'run1', 'g3', '{}'), ('exp', 'new1', 'g4', '{}'), ('exp2', 'done1', 'g', '{}')");
    CHECK(nsid_store_status(&st, NULL, c, &err) == 0, "status");
    CHECK(c[NSID_RUN_PLANNED] == 1 && c[NSID_RUN_RUNNING] == 1 && c[NSID_RUN_DONE] == 1 && c[NSID_RUN_FAILED] == 1,
          "counts planned/running/done/failed = %lld/%lld/%lld/%lld", (long long)c[0], (long long)c[1],
          (long long)c[2], (long long)c[3]);
    mkdir(tmp_path("runs"), 0755);
    mkdir(tmp_path("runs/new1"), 0755);
    CHECK(make_run(tmp_path("runs/new1/run.db"), "new1", NSID_RUN_RUNNING, 0, 0, 1, "gaussian") == 0, "live run");
    CHECK(nsid_store_status(&st, tmp_path("runs"), c, &err) == 0 && c[NSID_RUN_PLANNED] == 0 &&
              c[NSID_RUN_RUNNING] == 2,
          "a live run.db counts as running");
    nsid_store_close(&st);
}

/* Insert a synthetic finished run straight into a results store with its plan row. */
static void put_point(struct nsid_store *st, const char *exp, const char *id, const char *group, const char *fig,
                      const char *curve, const char *style, double x, int n_scans, double val, double fo,
                      const char *readout)
{
    char sql[2048], cfg[512];
    config_json(cfg, sizeof cfg, 1, readout);
    snprintf(sql, sizeof sql,
             "INSERT INTO runs (id, experiment, config, status) VALUES ('%s', '%s', '%s', 'done');"
             "INSERT INTO metrics VALUES ('%s', 'all', 'validation', 'corr', %.17g),"
             " ('%s', 'all', 'test', 'fraction_oracle', %.17g), ('%s', 'all', 'test', 'corr', %.17g),"
             " ('%s', 'all', 'model', 'readout_params_per_neuron', %d);"
             "INSERT INTO plan_runs (experiment, id, sel_group, figure, curve, style, x, n_scans, identity)"
             " VALUES ('%s', '%s', '%s', '%s', '%s', '%s', %.17g, %d, '{}')",
             id, exp, cfg, id, val, id, fo, id, fo / 2, id, strcmp(readout, "gaussian") == 0 ? 69 : 1165, exp, id, group, fig, curve, style, x, n_scans);
    exec(st, sql);
}

static void test_views(void)
{
    struct nsid_err err = {0};
    struct nsid_store st;
    CHECK(nsid_store_open(&st, tmp_path("views.db"), &err) == 0, "open");
    /* Fig. 3: two selection groups of two seeds each; the better validation score wins */
    put_point(&st, "fig3", "a1", "g1", "fig3", "Gaussian w/ f-s", "100", 50, 4, 0.30, 0.50, "gaussian");
    put_point(&st, "fig3", "a2", "g1", "fig3", "Gaussian w/ f-s", "100", 50, 4, 0.35, 0.40, "gaussian");
    put_point(&st, "fig3", "a3", "g2", "fig3", "Gaussian w/ f-s", "100", 50, 4, 0.20, 0.60, "gaussian");
    put_point(&st, "fig3", "a4", "g2", "fig3", "Gaussian w/ f-s", "100", 50, 4, 0.10, 0.90, "gaussian");
    put_point(&st, "fig3", "b1", "g3", "fig3", "Factorized w/o f-s", "100", 50, 4, 0.30, 0.25, "factorized");
    put_point(&st, "fig3", "s1", "g9", "fig3", "Factorized w/o f-s", "10", 50, 4, 0.30, 0.99, "factorized");
    exec(&st, "INSERT INTO runs (id, config, status) VALUES ('x9', '{}', 'running');"
              "INSERT INTO plan_runs (experiment, id, sel_group, figure, x, n_scans, identity)"
              " VALUES ('fig3', 'x9', 'g1', 'fig3', 50, 4, '{}')");
    CHECK(q1(&st, "SELECT count(*) FROM best_runs WHERE experiment = 'fig3'") == 4, "one run per selection group");
    CHECK(q1(&st, "SELECT fraction_oracle FROM best_runs WHERE sel_group = 'g1'") == 0.40,
          "best by validation, not by test score");
    CHECK(q1(&st, "SELECT sel_candidates FROM best_runs WHERE sel_group = 'g1'") == 2,
          "unfinished runs do not compete");
    CHECK(q1(&st, "SELECT x_total FROM fig3 WHERE curve = 'Gaussian w/ f-s'") == 200, "x_total = images x scans");
    CHECK(q1(&st, "SELECT n FROM fig3 WHERE curve = 'Gaussian w/ f-s'") == 2, "two neuron seeds averaged");
    CHECK_CLOSE(q1(&st, "SELECT mean FROM fig3 WHERE curve = 'Gaussian w/ f-s'"), 0.5, 1e-12, 0, "mean");
    CHECK_CLOSE(q1(&st, "SELECT sd FROM fig3 WHERE curve = 'Gaussian w/ f-s'"), sqrt(0.02), 1e-12, 0, "sd");
    CHECK_CLOSE(q1(&st, "SELECT ci_hi - ci_lo FROM fig3 WHERE curve = 'Gaussian w/ f-s'"),
                2 * 12.706205 * sqrt(0.02) / sqrt(2.0), 1e-12, 0, "95%% CI: Student's t(0.975, 1 df), not 1.96");
    CHECK_CLOSE(q1(&st, "SELECT ours FROM headline WHERE name = 'gaussian_vs_factorized'"), 0.5 / 0.25, 1e-12, 0,
                "headline: Gaussian/factorized at the most neurons (not the 10-neuron line)");
    CHECK(q1(&st, "SELECT paper FROM headline WHERE name = 'gaussian_vs_factorized'") == 1.07, "paper value");
    /* Fig. 5: direct reaches 0.6 at 1000; 11-S crosses 0.6 between 100 (0.5) and 400 (0.7): x = 250 */
    put_point(&st, "fig5", "d1", "d1", "fig5", "direct", "", 100, 1, 0.1, 0.20, "gaussian");
    put_point(&st, "fig5", "d2", "d2", "fig5", "direct", "", 400, 1, 0.1, 0.40, "gaussian");
    put_point(&st, "fig5", "d3", "d3", "fig5", "direct", "", 1000, 1, 0.1, 0.60, "gaussian");
    put_point(&st, "fig5", "t1", "t1", "fig5", "11-S", "", 100, 1, 0.1, 0.50, "gaussian");
    put_point(&st, "fig5", "t2", "t2", "fig5", "11-S", "", 400, 1, 0.1, 0.70, "gaussian");
    put_point(&st, "fig5", "t3", "t3", "fig5", "11-S", "", 1000, 1, 0.1, 0.75, "gaussian");
    put_point(&st, "fig5", "v3", "v3", "fig5", "VGG16", "", 1000, 1, 0.1, 0.50, "gaussian");
    CHECK_CLOSE(q1(&st, "SELECT ours FROM headline WHERE name = 'transfer_11s_vs_direct'"), 0.75 / 0.6, 1e-12, 0,
                "headline 11-S / direct");
    CHECK_CLOSE(q1(&st, "SELECT ours FROM headline WHERE name = 'transfer_11s_vs_vgg16'"), 1.5, 1e-12, 0,
                "headline 11-S / VGG16");
    CHECK_CLOSE(q1(&st, "SELECT ours FROM headline WHERE name = 'images_fraction_11s_reaches_direct'"), 0.25, 1e-12,
                0, "11-S reaches direct's full-data score at 250 of 1000 images");
    CHECK(isnan(q1(&st, "SELECT ours FROM headline WHERE name = 'transfer_11s_vs_random_vgg16'")),
          "a missing curve gives NULL, not an error");
    CHECK_CLOSE(q1(&st, "SELECT ours FROM headline WHERE name = 'params_per_neuron_factorized'"), 1165, 0, 0,
                "parameters per neuron from the runs' metrics");
    CHECK(q1(&st, "SELECT paper FROM fig5 WHERE curve = 'direct' AND x = 1000") == 0.48 &&
              isnan(q1(&st, "SELECT paper FROM fig5 WHERE curve = 'direct' AND x = 400")),
          "paper values join only at the paper's x");
    /* stale runs (no longer in the plan) leave the figures */
    exec(&st, "DELETE FROM plan_runs WHERE id = 't3'");
    CHECK(q1(&st, "SELECT count(*) FROM fig5_points WHERE curve = '11-S'") == 2, "figures follow the plan");
    nsid_store_close(&st);
}

static void test_query_export(void)
{
    struct nsid_err err = {0};
    struct nsid_store st;
    CHECK(nsid_store_open(&st, tmp_path("q.db"), &err) == 0, "open");
    exec(&st, "INSERT INTO runs (id, experiment, config, status, error) VALUES"
              " ('q1', 'e,1', '{}', 'failed', 'said \"no\"'), ('q2', 'plain', '{}', 'done', NULL)");
    CHECK(nsid_store_export_csv(&st, "runs", tmp_path("runs.csv"), NULL, &err) == 0, "export: %s", err.msg);
    FILE *f = fopen(tmp_path("runs.csv"), "r");
    char line[4096] = "";
    int n = 0, quoted = 0;
    while (f && fgets(line, sizeof line, f)) {
        n++;
        if (strstr(line, "\"e,1\"") && strstr(line, "\"said \"\"no\"\"\"")) quoted++;
    }
    if (f) fclose(f);
    CHECK(n == 3 && quoted == 1, "header + 2 rows, RFC 4180 quoting (%d lines)", n);
    int64_t rows = -1;
    CHECK(nsid_store_export_csv(&st, "fig5", tmp_path("fig5.csv"), &rows, &err) == 0 && rows == 0,
          "an empty view exports a header only");
    CHECK(nsid_store_export_csv(&st, "nope", tmp_path("nope.csv"), NULL, &err) == NSID_ENOTFOUND,
          "unknown view");
    struct stat sb;
    CHECK(stat(tmp_path("nope.csv"), &sb) != 0 && stat(tmp_path("nope.csv.tmp"), &sb) != 0,
          "no file left for an unknown view");
    FILE *out = fopen(tmp_path("q.txt"), "w");
    CHECK(nsid_store_query(&st, "SELECT id, status FROM runs ORDER BY id;", out, false, &rows, &err) == 0 &&
              rows == 2,
          "query");
    nsid_err_clear(&err);
    CHECK(nsid_store_query(&st, "SELECT 1; DROP TABLE runs", out, false, NULL, &err) == NSID_EINVAL,
          "one statement at a time");
    nsid_err_clear(&err);
    CHECK(nsid_store_query(&st, "SELEC 1", out, false, NULL, &err) == NSID_EIO && strstr(err.msg, "syntax"),
          "SQL errors carry SQLite's message: %s", err.msg);
    /* queries read only: every statement that writes the store, another file or the connection */
    char vac[600], att[600];
    snprintf(vac, sizeof vac, "VACUUM INTO '%s'", tmp_path("copy.db"));
    snprintf(att, sizeof att, "ATTACH DATABASE '%s' AS other", tmp_path("attached.db"));
    const char *writes[] = {vac, att, "DETACH DATABASE main", "DELETE FROM runs", "DROP VIEW fig5",
                            "INSERT INTO runs (id) VALUES ('x')", "UPDATE runs SET status = 'failed'",
                            "CREATE TABLE t (x)", "PRAGMA user_version = 7", "PRAGMA journal_mode = DELETE",
                            "BEGIN", "REINDEX", "ANALYZE", "CREATE TEMP TABLE t (x)", "SAVEPOINT a"};
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        nsid_err_clear(&err);
        CHECK(nsid_store_query(&st, writes[i], out, false, NULL, &err) == NSID_EINVAL && strstr(err.msg, "only read"),
              "a writing statement is refused: %s -> %s", writes[i], err.msg);
    }
    CHECK(stat(tmp_path("copy.db"), &sb) != 0 && stat(tmp_path("attached.db"), &sb) != 0,
          "neither VACUUM INTO nor ATTACH created a file");
    CHECK(nsid_store_query(&st, "WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM c WHERE k < 3)"
                                " SELECT count(*), json_extract('{\"a\":1}', '$.a') FROM c",
                           out, false, &rows, &err) == 0 && rows == 1,
          "reading statements still run (recursive CTE, functions): %s", err.msg);
    CHECK(nsid_store_query(&st, "PRAGMA integrity_check", out, false, &rows, &err) == 0, "a reading PRAGMA runs");
    fclose(out);
    CHECK(q1(&st, "SELECT count(*) FROM runs") == 2, "the second statement never ran");
    CHECK(q1(&st, "SELECT count(*) FROM sqlite_master WHERE name = 't'") == 0, "nothing was created");
    nsid_store_close(&st);
}

static void test_parent(void)
{
    struct nsid_err err = {0};
    mkdir(tmp_path("core"), 0755);
    CHECK(make_run(tmp_path("core/run.db"), "corerun", NSID_RUN_DONE, 0.5, 0.5, 1, "gaussian") == 0, "core run");
    char id[NSID_STORE_ID_MAX];
    CHECK(nsid_store_parent_of(tmp_path("core/checkpoint.h5"), id, &err) == 0 && strcmp(id, "corerun") == 0,
          "parent from the run.db beside the checkpoint");
    CHECK(nsid_store_parent_of(tmp_path("elsewhere/vgg16.h5"), id, &err) == 0 && id[0] == '\0',
          "no run.db: no parent");
}

/*
 * Issue 19 item 3: the store's views are src/exp/sql/views.sql's, embedded at build time. The
 * views a new store holds, and nsid_store_view_name's list, are that file's CREATE VIEWs in its
 * order; the placeholder of the undefined-metric reasons is replaced by eval.h's texts.
 */
static void test_sql_home(void)
{
    const char *src = getenv("NSID_SRC");
    char path[1024], line[4096];
    snprintf(path, sizeof path, "%s/src/exp/sql/views.sql", src ? src : ".");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "read %s", path);
    if (!f) return;
    struct nsid_err err = {0};
    struct nsid_store st;
    CHECK(nsid_store_open(&st, tmp_path("sqlhome.db"), &err) == 0, "open: %s", err.msg);
    size_t i = 0;
    bool in_order = true;
    while (fgets(line, sizeof line, f)) {
        char name[128];
        if (sscanf(line, "CREATE VIEW %127[A-Za-z0-9_]", name) != 1) continue;
        const char *v = nsid_store_view_name(i);
        if (!v || strcmp(v, name) != 0) in_order = false;
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE type = 'view' AND name = '%s'"
                                  " AND rowid = (SELECT min(rowid) FROM sqlite_master WHERE type = 'view') + %zu",
                 name, i);
        CHECK(q1(&st, sql) == 1, "views.sql's view %zu (%s) is the store's view %zu", i, name, i);
        i++;
    }
    fclose(f);
    CHECK(i >= 20 && in_order && nsid_store_view_name(i) == NULL,
          "nsid_store_view_name lists views.sql's %zu views in its order", i);
    CHECK(q1(&st, "SELECT count(*) FROM sqlite_master WHERE type = 'view'") == (double)i, "no other view");
    CHECK(q1(&st, "SELECT count(*) FROM sqlite_master WHERE sql LIKE '%@NSID%'") == 0, "no placeholder left");
    CHECK(q1(&st, "SELECT count(*) FROM sqlite_master WHERE sql LIKE '%-- %'") == 0, "no SQL comment embedded");
    for (int code = 1; nsid_eval_undef_reason(code)[0]; code++) {
        char sql[600];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE name = 'undefined_metrics'"
                                  " AND instr(sql, 'SELECT %d AS code, ''%s'' AS reason') > 0",
                 code, nsid_eval_undef_reason(code));
        CHECK(q1(&st, sql) == 1, "undefined_metrics knows reason %d: %s", code, nsid_eval_undef_reason(code));
    }
    nsid_store_close(&st);
}

/* The one write helper: an error names the database, the table and the statement; nothing is half-written. */
static void test_write_errors(void)
{
    const char *db = tmp_path("werr.db");
    struct nsid_err err = {0};
    struct nsid_store st;
    char cfg[512];
    config_json(cfg, sizeof cfg, 1, "gaussian");
    CHECK(nsid_store_open(&st, db, &err) == 0, "open: %s", err.msg);
    struct nsid_store_run run = {.id = "w1", .config_json = cfg, .fresh = true};
    CHECK(nsid_store_run_begin(&st, &run, &err) == 0, "begin: %s", err.msg);
    CHECK(exec(&st, "DROP TABLE epochs") == 0, "drop epochs");
    struct nsid_store_epoch ep = {.epoch = 1, .lr = 0.005, .train_loss = 1, .val_corr = 0.2, .seconds = 1};
    int rc = nsid_store_epoch(&st, "w1", &ep, &err);
    CHECK(rc == NSID_EIO && strcmp(err.file, db) == 0 && strcmp(err.key, "epochs") == 0 &&
              strstr(err.msg, "no such table: epochs") && strstr(err.msg, "(in: INSERT OR REPLACE INTO epochs"),
          "a failed write names file, table and statement (rc %d): %s: %s: %s", rc, err.file, err.key, err.msg);
    struct nsid_store_metric m[2] = {{"all", "validation", "corr", 0.5}, {"all", "test", "corr", 0.4}};
    CHECK(exec(&st, "CREATE TRIGGER no_test BEFORE INSERT ON metrics WHEN new.split = 'test'"
                    " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END") == 0,
          "a trigger refuses the second metric");
    err = (struct nsid_err){0};
    rc = nsid_store_metrics(&st, "w1", m, 2, &err);
    CHECK(rc < 0 && strcmp(err.key, "metrics") == 0 && strstr(err.msg, "refused by the test") &&
              q1(&st, "SELECT count(*) FROM metrics WHERE run_id = 'w1'") == 0,
          "a failed row rolls back the rows before it (%s: %s)", err.key, err.msg);
    nsid_store_close(&st);
}

/* The plan's tables through store_plan.h: recorded in one transaction, ids found by prefix. */
static void test_plan_tables(void)
{
    const char *db = tmp_path("plan.db");
    struct nsid_err err = {0};
    struct nsid_store st;
    CHECK(nsid_store_open(&st, db, &err) == 0, "open: %s", err.msg);
    int rc = nsid_store_plan_begin(&st, &err);
    struct nsid_store_plan_run r = {.experiment = "e", .id = "abc1", .variant = "", .sel_group = "g",
                                    .data_group = "files", .n_scans = 1, .panel = "", .curve = "", .style = "", .x = NAN, .vars_json = "{}",
                                    .identity = "{\"config\":{\"train\":{\"seed\":1}},\"data\":[\"aa\"]}",
                                    .data_paths_json = "[\"d.h5\"]", .spec = "s.yaml:1", .config_json = "{}"};
    if (rc == 0) rc = nsid_store_plan_run(&st, &r, &err);
    r.id = "abc2";
    if (rc == 0) rc = nsid_store_plan_run(&st, &r, &err);
    if (rc == 0) rc = nsid_store_plan_info(&st, "profile", "smoke", &err);
    if (rc == 0) rc = nsid_store_plan_commit(&st, &err);
    CHECK(rc == 0, "record a plan: %s", err.msg);
    CHECK(q1(&st, "SELECT count(*) FROM runs WHERE status = 'planned'") == 2, "two planned runs");
    char id[NSID_STORE_ID_MAX] = "";
    CHECK(nsid_store_plan_find(&st, "abc2", id, &err) == 0 && strcmp(id, "abc2") == 0, "find a full id");
    err = (struct nsid_err){0};
    CHECK(nsid_store_plan_find(&st, "abc", id, &err) == NSID_EINVAL && strstr(err.msg, "ambiguous"),
          "an ambiguous prefix is refused: %s", err.msg);
    err = (struct nsid_err){0};
    CHECK(nsid_store_plan_find(&st, "zz", id, &err) == NSID_ENOTFOUND, "an unknown id: %s", err.msg);
    char *json = NULL;
    CHECK(nsid_store_plan_config(&st, "abc1", &json, &err) == 0 && json && strstr(json, "\"seed\":1"),
          "the identity's configuration: %s", json ? json : err.msg);
    nsid_alloc_free(json);
    /* a failing plan leaves the store's plan as it was */
    rc = nsid_store_plan_begin(&st, &err);
    r.id = "abc3";
    if (rc == 0) rc = nsid_store_plan_run(&st, &r, &err);
    err = (struct nsid_err){0};
    if (rc == 0) rc = nsid_store_plan_run(&st, &r, &err); /* the same (experiment, id) twice */
    CHECK(rc == NSID_EIO && strcmp(err.key, "plan_runs") == 0 && strstr(err.msg, "UNIQUE"),
          "a duplicate plan row names plan_runs: %s: %s", err.key, err.msg);
    nsid_store_rollback(&st);
    CHECK(q1(&st, "SELECT count(*) FROM plan_runs") == 2 && q1(&st, "SELECT count(*) FROM runs") == 2,
          "the failed plan changed nothing");
    nsid_store_close(&st);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/nsid_store_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) return 1;
    FILE *f = fopen(tmp_path("scan0.h5"), "w");
    fputs("synthetic scan bytes", f);
    fclose(f);
    test_schema();
    test_lifecycle();
    test_bad_files();
    test_merge();
    test_views();
    test_query_export();
    test_parent();
    test_sql_home();
    test_write_errors();
    test_plan_tables();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (check_failed_ == 0 && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary("store");
}
