/*
 * test_store_hostile.c - issue 17 classes 2 and 5, the store: hostile run databases merged into
 * a store, one family per mechanism.
 *
 *   content: a source run id already in the store, finished with other content (configuration,
 *            data hashes, parent, seeds, metrics, per-neuron values, training curve) is refused
 *            naming both files and where the store's copy came from; the store is unchanged.
 *            The same run (equal identity and results; other times, hosts or extra rows of a
 *            later evaluation) is accepted without replacing anything.
 *   types:   a source of schema 4 (not STRICT) with a value of the wrong type in any column is
 *            refused naming the source, table.column; nothing of it is merged. A schema-4 store
 *            is migrated to STRICT tables when opened, or refused naming table.column.
 *   source:  every check of a source fails against the source file, never the store.
 *
 * Counts go to $NSID_BIN/figures/store_hostile.txt. Runs here are tiny synthetic records made
 * through the store API; they are not results of any model.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "exp/store.h"
#include "exp/store_int.h"

static char tmpdir[512];
static int cases, refused, accepted, wrong;

static const char *tmp_path(const char *name)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* One value of a query (double), NAN if none. */
static double q1(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    double v = NAN;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) return NAN;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) v = sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* Run SQL on a file with a plain connection (check constraints off: a hostile writer). */
static int edit(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "PRAGMA ignore_check_constraints = ON", NULL, NULL, &msg);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) fprintf(stderr, "edit %s: %s: %s\n", path, sql, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t n;
    int rc = a && b ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, a)) > 0)
        if (fwrite(buf, 1, n, b) != n) rc = -1;
    if (a) fclose(a);
    if (b && fclose(b) != 0) rc = -1;
    return rc;
}

/* A finished synthetic run with 3 epochs, 3 metrics, 3 neurons and one scan. */
static int make_run(const char *db, const char *id, double val)
{
    struct nsid_err err = {0};
    struct nsid_store st;
    const char *cfg = "{\"data\":{\"image_base_seed\":1},\"model\":{\"readout\":{\"type\":\"gaussian\"}},"
                      "\"train\":{\"seed\":1}}";
    int rc = nsid_store_open(&st, db, &err);
    struct nsid_store_run run = {.id = id, .config_json = cfg, .threads = 1, .fresh = true};
    if (rc == 0) rc = nsid_store_run_begin(&st, &run, &err);
    for (int e = 0; rc == 0 && e < 3; e++) {
        struct nsid_store_epoch ep = {.epoch = e, .lr = 0.005, .train_loss = 10.0 - e, .val_corr = val, .seconds = 0.1};
        rc = nsid_store_epoch(&st, id, &ep, &err);
    }
    struct nsid_store_dataset d = {.path = "scan0.h5", .sha256 = "aaaa", .data_key = "1-1-1-0", .n_neurons = 3};
    if (rc == 0) rc = nsid_store_run_dataset(&st, id, 0, &d, 80, 3, &err);
    double corr[3] = {0.1, 0.2, 0.3};
    int64_t units[3] = {7, 8, 9};
    struct nsid_store_metric m[] = {{"all", "validation", "corr", val},
                                    {"all", "test", "corr", val / 2},
                                    {"all", "test", "fraction_oracle", 0.6}};
    struct nsid_store_neurons nm = {.scan = "1-1-1-0", .n = 3, .unit_id = units, .test_corr = corr};
    if (rc == 0) rc = nsid_store_metrics(&st, id, m, 3, &err);
    if (rc == 0) rc = nsid_store_neurons(&st, id, &nm, &err);
    if (rc == 0) rc = nsid_store_run_end(&st, id, &(struct nsid_store_end){.status = NSID_RUN_DONE, .wall_s = 1}, &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    nsid_store_close(&st);
    return rc;
}

/* A fingerprint of everything a store holds for its runs (to see that a refusal changed nothing). */
static double fingerprint(const char *db_path)
{
    sqlite3 *db = NULL;
    sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL);
    double f = q1(db, "SELECT (SELECT count(*) FROM runs) + (SELECT total(length(config)) FROM runs)"
                      " + (SELECT total(value) FROM metrics) + (SELECT count(*) FROM metrics)"
                      " + (SELECT total(test_corr) FROM neuron_metrics) + (SELECT total(train_loss) FROM epochs)"
                      " + (SELECT total(n_train) + count(*) FROM run_datasets)");
    sqlite3_close(db);
    return f;
}

/* ---- content: the same run or another ---------------------------------------------------------- */

/* Merge base.db then a copy edited by sql into a new store; expect a refusal (or not). */
static void content_case(const char *name, const char *sql, bool expect_refused, const char *expect_key)
{
    char into[64], src[64];
    snprintf(into, sizeof into, "into_%s.db", name);
    snprintf(src, sizeof src, "src_%s.db", name);
    struct nsid_err err = {0};
    struct nsid_store st;
    struct nsid_store_merge_stats ms = {0};
    copy_file(tmp_path("base.db"), tmp_path(src));
    if (sql && edit(tmp_path(src), sql) < 0) {
        CHECK(0, "%s: edit", name);
        return;
    }
    CHECK(nsid_store_open(&st, tmp_path(into), &err) == 0, "%s: open", name);
    CHECK(nsid_store_merge(&st, tmp_path("base.db"), &ms, &err) == 0, "%s: merge base: %s", name, err.msg);
    double before = fingerprint(tmp_path(into));
    int rc = nsid_store_merge(&st, tmp_path(src), &ms, &err);
    double after = fingerprint(tmp_path(into));
    nsid_store_close(&st);
    cases++;
    bool ok;
    if (expect_refused) {
        ok = rc == NSID_EINVAL && strstr(err.file, src) && strstr(err.msg, into) && strstr(err.msg, "base.db") &&
             strcmp(err.key, "r1") == 0 && (!expect_key || strstr(err.msg, expect_key)) && before == after;
        refused += rc < 0;
        CHECK(ok, "%s: refused naming the source, the store, the origin and '%s' (rc %d): %s: %s: %s", name,
              expect_key ? expect_key : "", rc, err.file, err.key, err.msg);
    } else {
        ok = rc == 0;
        accepted += ok;
        CHECK(ok, "%s: the same run is accepted: %s", name, err.msg);
    }
    wrong += !ok;
}

static void test_content(void)
{
    CHECK(make_run(tmp_path("base.db"), "r1", 0.4) == 0, "base run");
    /* another run under the same id: refused */
    content_case("config", "UPDATE runs SET config = json_set(config, '$.train.lr', 0.1)", true, "configuration");
    content_case("parent", "UPDATE runs SET parent = 'p0'", true, "parent");
    content_case("seed", "UPDATE runs SET seed = 2, seeds = json_set(seeds, '$.train', 2)", true, "seeds");
    content_case("data_hash",
                 "INSERT INTO datasets (sha256, path) VALUES ('bbbb', 'scan1.h5');"
                 " UPDATE run_datasets SET dataset = 'bbbb'",
                 true, "bbbb");
    content_case("data_subset", "UPDATE run_datasets SET n_train = 40", true, "scan position 0");
    content_case("data_extra", "INSERT INTO run_datasets (run_id, position, dataset) VALUES ('r1', 1, 'aaaa')", true,
                 "scan position 1");
    content_case("data_none", "DELETE FROM run_datasets", true, "scan position 0");
    content_case("metric", "UPDATE metrics SET value = 0.41 WHERE split = 'validation'", true, "validation");
    content_case("metric_ulp", "UPDATE metrics SET value = value + 1e-15 WHERE split = 'test' AND name = 'corr'", true,
                 "metrics all/test/corr");
    content_case("metric_null", "UPDATE metrics SET value = NULL WHERE name = 'fraction_oracle'", true,
                 "fraction_oracle");
    content_case("neuron", "UPDATE neuron_metrics SET test_corr = 0.25 WHERE neuron = 1", true, "test_corr");
    content_case("unit", "UPDATE neuron_metrics SET unit_id = 70 WHERE neuron = 0", true, "unit_id");
    content_case("epoch", "UPDATE epochs SET train_loss = 1 WHERE epoch = 2", true, "train_loss");
    content_case("epoch_lr", "UPDATE epochs SET lr = 0.001", true, "lr");
    /* the same run: accepted, nothing replaced */
    content_case("identical", NULL, false, NULL);
    content_case("provenance",
                 "UPDATE runs SET ended = '2031-01-01T00:00:00Z', started = '2031-01-01T00:00:00Z', wall_s = 9,"
                 " cpu_s = 9, host = 'elsewhere', git_commit = 'abc', threads = 4; UPDATE epochs SET seconds = 5",
                 false, NULL);
    content_case("subset", "DELETE FROM metrics WHERE name = 'fraction_oracle'", false, NULL);
    content_case("more_rows",
                 "INSERT INTO metrics (run_id, scan, split, name, value) VALUES ('r1', 'all', 'test', 'oracle', 0.7)",
                 false, NULL);

    /* the extension keeps the store's rows and adds the new one */
    struct nsid_err err = {0};
    struct nsid_store st;
    struct nsid_store_merge_stats ms = {0};
    nsid_store_open(&st, tmp_path("into_more_rows.db"), &err);
    CHECK(q1(st.db, "SELECT count(*) FROM metrics") == 4 && q1(st.db, "SELECT value FROM metrics WHERE name = 'oracle'") == 0.7,
          "a later evaluation's rows are added");
    CHECK(nsid_store_merge(&st, tmp_path("src_more_rows.db"), &ms, &err) == 0 && ms.unchanged == 1,
          "and merging it again changes nothing");
    nsid_store_close(&st);
    nsid_store_open(&st, tmp_path("into_subset.db"), &err);
    CHECK(q1(st.db, "SELECT count(*) FROM metrics") == 3, "a source with fewer rows removes none");
    nsid_store_close(&st);

    /* issue 17's case: runs of one configuration on different data share an id; merging every run
     * database either merges a run or refuses it, so merged + refused = databases and none is lost */
    nsid_store_open(&st, tmp_path("many.db"), &err);
    struct nsid_store_merge_stats mm = {0};
    int n_db = 12, n_refused = 0;
    for (int i = 0; i < n_db; i++) {
        char name[64], id[16], sql[160];
        snprintf(name, sizeof name, "many%d.db", i);
        snprintf(id, sizeof id, "m%d", i % 4);
        make_run(tmp_path(name), id, 0.4);
        snprintf(sql, sizeof sql,
                 "INSERT INTO datasets (sha256, path) VALUES ('d%d', 'scan%d.h5');"
                 " UPDATE run_datasets SET dataset = 'd%d'",
                 i, i, i);
        edit(tmp_path(name), sql);
        nsid_err_clear(&err);
        int rc = nsid_store_merge(&st, tmp_path(name), &mm, &err);
        n_refused += rc == NSID_EINVAL && strstr(err.file, name) != NULL;
    }
    double runs = q1(st.db, "SELECT count(*) FROM runs WHERE status = 'done'");
    nsid_store_close(&st);
    cases++;
    bool ok = mm.merged == 4 && n_refused == n_db - 4 && runs == (double)mm.merged;
    wrong += !ok;
    CHECK(ok, "%d run dbs sharing 4 ids on different data: %lld merged, %d refused, %g runs in the store", n_db,
          (long long)mm.merged, n_refused, runs);
}

/* ---- types: schema-4 sources and stores ---------------------------------------------------------- */

/* A copy of good as a schema-4 database: the same tables without STRICT, user_version 4. */
static int make_legacy(const char *good, const char *path)
{
    remove(path);
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db) == SQLITE_OK ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < nsid__store_n_tables(); i++) {
        char sql[4096];
        snprintf(sql, sizeof sql, "%s", nsid__store_table(i)->sql);
        char *strict = strstr(sql, ") STRICT");
        if (strict) strcpy(strict, ")");
        if (strcmp(nsid__store_table(i)->name, "run_sources") != 0)
            rc = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
    }
    char *sql = sqlite3_mprintf("ATTACH %Q AS g; INSERT INTO runs SELECT * FROM g.runs;"
                                " INSERT INTO epochs SELECT * FROM g.epochs; INSERT INTO metrics SELECT * FROM g.metrics;"
                                " INSERT INTO neuron_metrics SELECT * FROM g.neuron_metrics;"
                                " INSERT INTO artifacts SELECT * FROM g.artifacts;"
                                " INSERT INTO run_datasets SELECT * FROM g.run_datasets;"
                                " INSERT INTO datasets SELECT * FROM g.datasets; DETACH g; PRAGMA user_version = 4",
                                good);
    if (rc == 0 && sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "make_legacy: %s\n", sqlite3_errmsg(db));
        rc = -1;
    }
    sqlite3_free(sql);
    sqlite3_close(db);
    return rc;
}

/* A schema-4 source with one bad value: refused naming the source and table.column; nothing merged. */
static void type_case(const char *name, const char *sql, const char *key)
{
    char src[64], into[64];
    snprintf(src, sizeof src, "legacy_%s.db", name);
    snprintf(into, sizeof into, "tinto_%s.db", name);
    make_legacy(tmp_path("base.db"), tmp_path(src));
    if (edit(tmp_path(src), sql) < 0) {
        CHECK(0, "%s: edit", name);
        return;
    }
    struct nsid_err err = {0};
    struct nsid_store st;
    struct nsid_store_merge_stats ms = {0};
    nsid_store_open(&st, tmp_path(into), &err);
    int rc = nsid_store_merge(&st, tmp_path(src), &ms, &err);
    double runs = q1(st.db, "SELECT count(*) FROM runs");
    nsid_store_close(&st);
    cases++;
    bool ok = rc == NSID_EFORMAT && strstr(err.file, src) && !strstr(err.file, into) && strcmp(err.key, key) == 0 &&
              runs == 0;
    refused += rc < 0;
    wrong += !ok;
    CHECK(ok, "%s: refused naming the source and %s, nothing merged (rc %d, %g runs): %s: %s: %s", name, key, rc, runs,
          err.file, err.key, err.msg);
}

static void test_types(void)
{
    type_case("metric_text", "UPDATE metrics SET value = 'abc' WHERE split = 'validation'", "metrics.value");
    type_case("metric_blob", "UPDATE metrics SET value = x'01020304' WHERE split = 'test'", "metrics.value");
    type_case("epoch_loss", "UPDATE epochs SET train_loss = 'x' WHERE epoch = 1", "epochs.train_loss");
    type_case("epoch_real_key", "UPDATE epochs SET epoch = 2.5 WHERE epoch = 2", "epochs.epoch");
    type_case("neuron_corr", "UPDATE neuron_metrics SET test_corr = 'high' WHERE neuron = 0",
              "neuron_metrics.test_corr");
    type_case("unit_real", "UPDATE neuron_metrics SET unit_id = 3.5 WHERE neuron = 0", "neuron_metrics.unit_id");
    type_case("run_seed", "UPDATE runs SET seed = 'one'", "runs.seed");
    type_case("run_wall", "UPDATE runs SET wall_s = 'fast'", "runs.wall_s");
    type_case("run_config_blob", "UPDATE runs SET config = x'00ff'", "runs.config");
    type_case("run_status", "UPDATE runs SET status = 'finished'", "runs.status");
    type_case("run_datasets_n", "UPDATE run_datasets SET n_train = 'many'", "run_datasets.n_train");
    type_case("artifact_bytes",
              "INSERT INTO artifacts (run_id, path, role, sha256, bytes) VALUES ('r1', 'c.h5', 'checkpoint', 'ff', 'big')",
              "artifacts.bytes");
    type_case("dataset_n", "UPDATE datasets SET n_neurons = 'lots'", "datasets.n_neurons");

    /* a clean schema-4 source still merges */
    struct nsid_err err = {0};
    struct nsid_store st;
    struct nsid_store_merge_stats ms = {0};
    make_legacy(tmp_path("base.db"), tmp_path("legacy_ok.db"));
    nsid_store_open(&st, tmp_path("tinto_ok.db"), &err);
    CHECK(nsid_store_merge(&st, tmp_path("legacy_ok.db"), &ms, &err) == 0 && ms.merged == 1,
          "a schema-4 source with good values merges: %s", err.msg);
    CHECK(q1(st.db, "SELECT value FROM metrics WHERE split = 'validation'") == 0.4, "its values arrive");
    /* the store's own tables are STRICT: a wrong type cannot be written at all */
    CHECK(sqlite3_exec(st.db, "INSERT INTO metrics VALUES ('r1', 'x', 'test', 'corr', 'abc')", NULL, NULL, NULL) !=
              SQLITE_OK,
          "a STRICT table refuses TEXT in metrics.value");
    CHECK(q1(st.db, "SELECT count(*) FROM pragma_table_list WHERE schema = 'main' AND type = 'table'"
                    " AND name NOT LIKE 'sqlite_%' AND NOT strict") == 0,
          "every table of the store is STRICT");
    nsid_store_close(&st);

    /* migration: a schema-4 store becomes STRICT when opened, keeping its rows */
    make_legacy(tmp_path("base.db"), tmp_path("old_store.db"));
    edit(tmp_path("old_store.db"), "INSERT INTO plan_runs (experiment, id, sel_group, identity) VALUES"
                                   " ('e', 'r1', 'g', '{}')");
    cases++;
    int rc = nsid_store_open(&st, tmp_path("old_store.db"), &err);
    bool ok = rc == 0 && q1(st.db, "PRAGMA user_version") == NSID_STORE_SCHEMA_VERSION &&
              q1(st.db, "SELECT count(*) FROM pragma_table_list WHERE schema = 'main' AND type = 'table'"
                        " AND name NOT LIKE 'sqlite_%' AND NOT strict") == 0 &&
              q1(st.db, "SELECT value FROM metrics WHERE split = 'validation'") == 0.4 &&
              q1(st.db, "SELECT count(*) FROM run_scores") == 1 &&
              q1(st.db, "SELECT count(*) FROM sqlite_master WHERE name = 'plan_runs_id'") == 1 &&
              q1(st.db, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%__old'") == 0;
    accepted += ok;
    wrong += !ok;
    CHECK(ok, "a schema-4 store is migrated to STRICT tables with its rows, views and index: %s", err.msg);
    nsid_store_close(&st);
    /* ... or refused naming table.column when a value has the wrong type, and left as it was */
    make_legacy(tmp_path("base.db"), tmp_path("old_bad.db"));
    edit(tmp_path("old_bad.db"), "UPDATE metrics SET value = 'abc' WHERE split = 'validation'");
    cases++;
    rc = nsid_store_open(&st, tmp_path("old_bad.db"), &err);
    sqlite3 *db = NULL;
    sqlite3_open(tmp_path("old_bad.db"), &db);
    ok = rc < 0 && strstr(err.file, "old_bad.db") && strstr(err.msg, "metrics.value") &&
         q1(db, "PRAGMA user_version") == 4 && q1(db, "SELECT count(*) FROM metrics") == 3;
    sqlite3_close(db);
    refused += rc < 0;
    wrong += !ok;
    CHECK(ok, "a schema-4 store with TEXT in metrics.value is refused naming it and left unchanged: %s: %s", err.file,
          err.msg);
}

/* ---- source errors are the source's ---------------------------------------------------------------- */

/* Merge path into a fresh store: expect failure naming the source, not the store; store unchanged. */
static void source_case(const char *name, const char *src, int expect_rc)
{
    char into[64];
    snprintf(into, sizeof into, "sinto_%s.db", name);
    struct nsid_err err = {0};
    struct nsid_store st;
    struct nsid_store_merge_stats ms = {0};
    nsid_store_open(&st, tmp_path(into), &err);
    int rc = nsid_store_merge(&st, src, &ms, &err);
    double runs = q1(st.db, "SELECT count(*) FROM runs");
    double attached = q1(st.db, "SELECT count(*) FROM pragma_database_list WHERE name = 'src'");
    nsid_store_close(&st);
    cases++;
    bool ok = rc < 0 && (expect_rc == 0 || rc == expect_rc) && strcmp(err.file, src) == 0 && !strstr(err.msg, into) &&
              runs == 0 && attached == 0;
    refused += rc < 0;
    wrong += !ok;
    CHECK(ok, "%s: reported against the source (rc %d, %g runs): %s: %s: %s", name, rc, runs, err.file, err.key,
          err.msg);
}

/* A schema-4 copy of base.db edited by sql (NULL: none). */
static const char *legacy_with(const char *name, const char *sql)
{
    const char *p = tmp_path(name);
    make_legacy(tmp_path("base.db"), p);
    if (sql) edit(p, sql);
    return p;
}

static void test_sources(void)
{
    FILE *f = fopen(tmp_path("garbage.db"), "w");
    for (int i = 0; i < 300; i++) fputs("this is not a database ", f);
    fclose(f);
    source_case("garbage", tmp_path("garbage.db"), NSID_EFORMAT);
    fclose(fopen(tmp_path("empty.db"), "w"));
    source_case("empty", tmp_path("empty.db"), NSID_ENOTFOUND);
    /* a valid database cut in half */
    struct stat sb;
    stat(tmp_path("base.db"), &sb);
    copy_file(tmp_path("base.db"), tmp_path("cut.db"));
    CHECK(truncate(tmp_path("cut.db"), sb.st_size / 2) == 0, "truncate");
    source_case("truncated", tmp_path("cut.db"), 0);
    const char *p = tmp_path("foreign.db");
    edit(p, "CREATE TABLE runs (x); PRAGMA user_version = 1");
    source_case("foreign", p, NSID_EFORMAT);
    source_case("no_table", legacy_with("s_notable.db", "DROP TABLE neuron_metrics"), NSID_EFORMAT);
    source_case("view_not_table",
                legacy_with("s_view.db", "DROP TABLE artifacts; CREATE VIEW artifacts AS SELECT * FROM metrics"),
                NSID_EFORMAT);
    source_case("no_column",
                legacy_with("s_nocol.db", "CREATE TABLE m2 (run_id, scan, split, name); DROP TABLE metrics;"
                                          " ALTER TABLE m2 RENAME TO metrics"),
                NSID_EFORMAT);
    source_case("newer", legacy_with("s_newer.db", "PRAGMA user_version = 99"), NSID_EFORMAT);
    source_case("bad_id", legacy_with("s_badid.db", "UPDATE runs SET id = 'bad id; rm -rf'"), NSID_EFORMAT);
    source_case("bad_status", legacy_with("s_status.db", "UPDATE runs SET status = 'finished'"), NSID_EFORMAT);
    source_case("null_key",
                legacy_with("s_null.db", "CREATE TABLE m2 (run_id, scan, split, name, value); INSERT INTO m2"
                                         " SELECT * FROM metrics; UPDATE m2 SET name = NULL WHERE split = 'validation';"
                                         " DROP TABLE metrics; ALTER TABLE m2 RENAME TO metrics"),
                NSID_EFORMAT);
    source_case("duplicate_key",
                legacy_with("s_dup.db", "CREATE TABLE m2 (run_id TEXT, scan TEXT, split TEXT, name TEXT, value REAL);"
                                        " INSERT INTO m2 SELECT * FROM metrics; INSERT INTO m2 SELECT * FROM metrics;"
                                        " DROP TABLE metrics; ALTER TABLE m2 RENAME TO metrics"),
                NSID_EFORMAT);
    source_case("type", legacy_with("s_type.db", "UPDATE metrics SET value = 'abc'"), NSID_EFORMAT);
    source_case("directory", tmpdir, NSID_EFORMAT);

    /* a source whose columns are in another order merges by name, not by position */
    const char *re = legacy_with("s_reorder.db", "CREATE TABLE m2 (value REAL, name TEXT, split TEXT, scan TEXT,"
                                                 " run_id TEXT); INSERT INTO m2 SELECT value, name, split, scan, run_id"
                                                 " FROM metrics; DROP TABLE metrics; ALTER TABLE m2 RENAME TO metrics");
    struct nsid_err err = {0};
    struct nsid_store st;
    struct nsid_store_merge_stats ms = {0};
    nsid_store_open(&st, tmp_path("sinto_reorder.db"), &err);
    cases++;
    bool ok = nsid_store_merge(&st, re, &ms, &err) == 0 &&
              q1(st.db, "SELECT value FROM metrics WHERE split = 'validation' AND name = 'corr' AND scan = 'all'") == 0.4;
    nsid_store_close(&st);
    accepted += ok;
    wrong += !ok;
    CHECK(ok, "columns in another order are merged by name: %s", err.msg);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nsid_store_hostile_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_content();
    test_types();
    test_sources();
    printf("store hostile: %d cases, %d refused, %d accepted, %d wrong\n", cases, refused, accepted, wrong);
    const char *bin = getenv("NSID_BIN");
    if (bin) {
        char path[1024];
        snprintf(path, sizeof path, "%s/figures", bin);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/figures/store_hostile.txt", bin);
        FILE *out = fopen(path, "w");
        if (out) {
            fprintf(out, "cases %d\nrefused %d\naccepted %d\nwrong %d\nlost %d\n", cases, refused, accepted, wrong,
                    wrong);
            fclose(out);
        }
    }
    if (check_failed_ == 0) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    return check_summary("store_hostile");
}
