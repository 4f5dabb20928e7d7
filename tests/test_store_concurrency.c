/*
 * test_store_concurrency.c - the store under concurrency and kills (docs/reliability.md):
 *   - 8 processes writing runs into one database at once lose no row;
 *   - 8 merges of the same 32 run databases into one results.db at once: every run
 *     exactly once, with all its records, no "database is locked";
 *   - merges SIGKILLed at seeded random points leave PRAGMA integrity_check "ok" and
 *     every run either fully merged or absent.
 * The runs are synthetic records written through the store API.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/rng.h"
#include "check.h"
#include "exp/store.h"

#define WRITERS 8
#define ROWS_PER_WRITER 500
#define RUN_DBS 32
#define NEURONS 200

static char tmpdir[512];

static const char *tmp_path(const char *fmt, int i)
{
    static char buf[8][1024];
    static int k;
    char name[256];
    k = (k + 1) % 8;
    snprintf(name, sizeof name, fmt, i);
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static double q1(struct nsid_store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    double v = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    return v;
}

static const char CFG[] = "{\"train\":{\"seed\":1},\"data\":{}}";

/* Child: one run with ROWS_PER_WRITER metrics, each in its own transaction. */
static int writer(const char *db, int w)
{
    struct nsid_err err = {0};
    struct nsid_store st;
    char id[32];
    snprintf(id, sizeof id, "writer%d", w);
    int rc = nsid_store_open(&st, db, &err);
    if (rc == 0) rc = nsid_store_run_begin(&st, &(struct nsid_store_run){.id = id, .config_json = CFG}, &err);
    for (int i = 0; rc == 0 && i < ROWS_PER_WRITER; i++) {
        char name[32];
        snprintf(name, sizeof name, "m%d", i);
        struct nsid_store_metric m = {"all", "test", name, i};
        rc = nsid_store_metrics(&st, id, &m, 1, &err);
    }
    if (rc == 0) rc = nsid_store_run_end(&st, id, &(struct nsid_store_end){.status = NSID_RUN_DONE}, &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    nsid_store_close(&st);
    return rc < 0;
}

/* Wait for n children; returns how many failed. */
static int wait_all(int n)
{
    int failed = 0;
    for (int i = 0; i < n; i++) {
        int status = 0;
        if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
    }
    return failed;
}

static void test_writers(void)
{
    const char *db = tmp_path("shared.db", 0);
    for (int w = 0; w < WRITERS; w++) {
        pid_t p = fork();
        if (p == 0) _exit(writer(db, w));
    }
    int failed = wait_all(WRITERS);
    CHECK(failed == 0, "%d of %d writers failed", failed, WRITERS);
    struct nsid_err err = {0};
    struct nsid_store st;
    CHECK(nsid_store_open(&st, db, &err) == 0, "open shared");
    CHECK(q1(&st, "SELECT count(*) FROM metrics") == WRITERS * ROWS_PER_WRITER, "%d parallel writers lose no row",
          WRITERS);
    CHECK(q1(&st, "SELECT count(*) FROM runs WHERE status = 'done'") == WRITERS, "every writer's run done");
    nsid_store_close(&st);
}

/* A run database with one finished run of NEURONS neurons. */
static int make_run_db(int i)
{
    struct nsid_err err = {0};
    struct nsid_store st;
    char id[32];
    snprintf(id, sizeof id, "run%02d", i);
    int rc = nsid_store_open(&st, tmp_path("run%02d.db", i), &err);
    if (rc == 0) rc = nsid_store_run_begin(&st, &(struct nsid_store_run){.id = id, .config_json = CFG}, &err);
    double v[NEURONS];
    for (int n = 0; n < NEURONS; n++) v[n] = 0.001 * n + i;
    struct nsid_store_neurons nm = {.scan = "s", .n = NEURONS, .test_corr = v, .oracle = v};
    struct nsid_store_metric m = {"all", "validation", "corr", i};
    if (rc == 0) rc = nsid_store_begin(&st, &err);
    if (rc == 0) rc = nsid_store_neurons(&st, id, &nm, &err);
    if (rc == 0) rc = nsid_store_metrics(&st, id, &m, 1, &err);
    if (rc == 0) rc = nsid_store_run_end(&st, id, &(struct nsid_store_end){.status = NSID_RUN_DONE}, &err);
    if (rc == 0) rc = nsid_store_commit(&st, &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    nsid_store_close(&st);
    return rc;
}

/* Child: merge every run db into results, starting at run `first`. */
static int merger(const char *results, int first)
{
    struct nsid_err err = {0};
    struct nsid_store st;
    int rc = nsid_store_open(&st, results, &err);
    struct nsid_store_merge_stats ms = {0};
    for (int k = 0; rc == 0 && k < RUN_DBS; k++) rc = nsid_store_merge(&st, tmp_path("run%02d.db", (first + k) % RUN_DBS), &ms, &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    nsid_store_close(&st);
    return rc < 0;
}

/* Every run in results is complete, or absent; returns the number complete, -1 if any is partial. */
static int complete_runs(struct nsid_store *st)
{
    int complete = 0;
    for (int i = 0; i < RUN_DBS; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT (SELECT count(*) FROM runs WHERE id = 'run%02d' AND status = 'done'),"
                 " (SELECT count(*) FROM neuron_metrics WHERE run_id = 'run%02d')"
                 " + (SELECT count(*) FROM metrics WHERE run_id = 'run%02d')", i, i, i);
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
            sqlite3_finalize(s);
            return -1;
        }
        int done = sqlite3_column_int(s, 0), rows = sqlite3_column_int(s, 1);
        sqlite3_finalize(s);
        if (done == 1 && rows == NEURONS + 1) complete++;
        else if (!(done == 0 && rows == 0)) return -1;
    }
    return complete;
}

static void test_parallel_merges(void)
{
    int bad = 0;
    for (int i = 0; i < RUN_DBS; i++) bad += make_run_db(i) < 0;
    CHECK(bad == 0, "%d run databases written", RUN_DBS);
    const char *results = tmp_path("results.db", 0);
    for (int w = 0; w < WRITERS; w++) {
        pid_t p = fork();
        if (p == 0) _exit(merger(results, w * 4));
    }
    int failed = wait_all(WRITERS);
    CHECK(failed == 0, "%d of %d concurrent merges failed", failed, WRITERS);
    struct nsid_err err = {0};
    struct nsid_store st;
    CHECK(nsid_store_open(&st, results, &err) == 0, "open results");
    CHECK(q1(&st, "SELECT count(*) FROM runs") == RUN_DBS, "every run exactly once after %d concurrent merges",
          WRITERS);
    CHECK(complete_runs(&st) == RUN_DBS, "every run complete");
    CHECK(q1(&st, "SELECT count(*) FROM neuron_metrics") == RUN_DBS * NEURONS, "no duplicated rows");
    nsid_store_close(&st);
}

/* Microseconds one whole merge takes (to aim the kills inside it). */
static double time_merge(const char *results)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t p = fork();
    if (p == 0) _exit(merger(results, 0));
    wait_all(1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return 1e6 * (double)(b.tv_sec - a.tv_sec) + 1e-3 * (double)(b.tv_nsec - a.tv_nsec);
}

static void test_killed_merges(void)
{
    const uint64_t seed = 20210104;
    printf("killed merges: seed %llu\n", (unsigned long long)seed);
    struct nsid_rng rng;
    nsid_rng_init(&rng, seed, 0);
    double us = time_merge(tmp_path("timing.db", 0));
    int kills = 0, partial = 0, integrity = 0, fresh_complete_min = RUN_DBS, fresh_complete_max = 0;
    for (int k = 0; k < 12; k++) {
        const char *results = tmp_path("killed%d.db", k % 3); /* reused: later kills hit replacing merges */
        pid_t p = fork();
        if (p == 0) _exit(merger(results, (k * 5) % RUN_DBS));
        useconds_t delay = (useconds_t)(nsid_rng_uniform(&rng) * us);
        usleep(delay);
        if (kill(p, SIGKILL) == 0) kills++;
        int status;
        waitpid(p, &status, 0);
        struct nsid_err err = {0};
        struct nsid_store st;
        if (nsid_store_open(&st, results, &err) < 0) {
            nsid_err_print(&err, stderr);
            integrity++;
            continue;
        }
        sqlite3_stmt *s = NULL;
        sqlite3_prepare_v2(st.db, "PRAGMA integrity_check", -1, &s, NULL);
        if (!(sqlite3_step(s) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0))
            integrity++;
        sqlite3_finalize(s);
        int c = complete_runs(&st);
        if (c < 0) partial++;
        if (k < 3 && c >= 0) {
            if (c < fresh_complete_min) fresh_complete_min = c;
            if (c > fresh_complete_max) fresh_complete_max = c;
        }
        nsid_store_close(&st);
    }
    printf("killed merges: %d kills within %.0f us, first-merge kills left %d..%d of %d runs merged\n", kills, us,
           fresh_complete_min, fresh_complete_max, RUN_DBS);
    CHECK(kills >= 6, "merges were killed (%d)", kills);
    CHECK(integrity == 0, "integrity_check ok after every kill (%d bad)", integrity);
    CHECK(partial == 0, "every run fully merged or absent after every kill (%d partial)", partial);
}

static double secs(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + 1e-9 * (double)(b->tv_nsec - a->tv_nsec);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/nsid_storec_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) return 1;
    struct timespec t0, t1, t2, t3;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    test_writers();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    test_parallel_merges();
    clock_gettime(CLOCK_MONOTONIC, &t2);
    test_killed_merges();
    clock_gettime(CLOCK_MONOTONIC, &t3);
    printf("seconds: writers %.2f, parallel merges %.2f, killed merges %.2f\n", secs(&t0, &t1), secs(&t1, &t2),
           secs(&t2, &t3));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (check_failed_ == 0 && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary("store_concurrency");
}
