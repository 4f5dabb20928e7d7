/*
 * test_crash_merge.c - crash safety of the nsid-db merge program (issue 9, item 2), on run
 * databases of real nsid-train/nsid-eval runs (the store's own test kills the library's
 * merge on synthetic records; this one kills the binary make runs):
 *   - SIGKILL `nsid-db merge` at seeded random moments, into a fresh store and into one
 *     that already holds some of the runs: PRAGMA integrity_check is ok after every kill,
 *     and every run is either fully merged (the same rows in every table as an
 *     uninterrupted merge gives it) or absent;
 *   - the same merge command run again completes, and the store then equals the
 *     uninterrupted merge's, run for run and row for row.
 * Seed: NSID_CRASH_SEED or 9; printed.
 *
 * ctest-labels: reliability
 */
#include <sqlite3.h>

#include "base/rng.h"
#include "check.h"
#include "data_testutil.h"
#include "proc_testutil.h"
#include "train_check.h"

#define N_DONE 6      /* trained and evaluated runs */
#define N_RUNS (N_DONE + 1) /* + one trained, not evaluated ('running') */
#define KILLS 16
#define TIMEOUT_MS 300000

static char tmp[4096], bin[4096];

static int run_cmd(const char *const *av)
{
    return pt_wait(pt_spawn(tmp, av, NULL, NULL), TIMEOUT_MS);
}

/* runs/r<i>: seed i+1, evaluated for i < N_DONE. */
static bool make_runs(void)
{
    char prog[4300], eval[4300], data[4400];
    snprintf(prog, sizeof prog, "%s/nsid-train", bin);
    snprintf(eval, sizeof eval, "%s/nsid-eval", bin);
    snprintf(data, sizeof data, "%s", check_fixture("data/static11111-1-1-preproc0.h5"));
    bool ok = true;
    for (int i = 0; i < N_RUNS && ok; i++) {
        char out[64], seed[64], ck[96], db[96];
        snprintf(out, sizeof out, "runs/r%d", i);
        snprintf(seed, sizeof seed, "train.seed=%d", i + 1);
        snprintf(ck, sizeof ck, "%s/checkpoint.h5", out);
        snprintf(db, sizeof db, "%s/run.db", out);
        const char *av[] = {prog, "--set", "model.core.layers=2", "--set", "model.core.hidden_channels=8", "--set",
                            "model.core.input_kern=5", "--set", "model.core.hidden_kern=3", "--set",
                            "train.batch_size=8", "--set", "train.max_epochs=2", "--set", seed, "--data", data,
                            "--out", out, "--quiet", NULL};
        ok = run_cmd(av) == 0;
        const char *ev[] = {eval, "--checkpoint", ck, "--data", data, "--db", db, "--quiet", NULL};
        if (ok && i < N_DONE) ok = run_cmd(ev) == 0;
    }
    CHECK(ok, "%d runs trained (%d evaluated)", N_RUNS, N_DONE);
    return ok;
}

/*
 * Per run of a store: "id status epochs metrics neurons datasets artifacts" lines, sorted
 * (the row counts of every table that holds a run's records). Returns false if the store
 * cannot be read.
 */
static bool signature(const char *db, char *out, size_t n)
{
    return tc_sql(db,
                  "SELECT group_concat(line, char(10)) FROM (SELECT r.id || ' ' || r.status"
                  " || ' ' || (SELECT count(*) FROM epochs e WHERE e.run_id = r.id)"
                  " || ' ' || (SELECT count(*) FROM metrics m WHERE m.run_id = r.id)"
                  " || ' ' || (SELECT count(*) FROM neuron_metrics x WHERE x.run_id = r.id)"
                  " || ' ' || (SELECT count(*) FROM run_datasets d WHERE d.run_id = r.id)"
                  " || ' ' || (SELECT count(*) FROM artifacts a WHERE a.run_id = r.id) AS line"
                  " FROM runs r ORDER BY r.id)",
                  out, n);
}

static bool integrity_ok(const char *db, char *why, size_t n)
{
    sqlite3 *h = NULL;
    snprintf(why, n, "cannot open");
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return false;
    }
    sqlite3_stmt *st = NULL;
    bool ok = false;
    if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(why, n, "%s", (const char *)sqlite3_column_text(st, 0));
        ok = !strcmp(why, "ok");
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return ok;
}

/* Every line of got (one per run) is a line of want: runs present are complete. */
static bool runs_complete_or_absent(const char *got, const char *want, int *present)
{
    *present = 0;
    const char *p = got;
    while (*p) {
        size_t len = strcspn(p, "\n");
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(len < 511 ? len : 511), p);
        const char *hit = strstr(want, line);
        if (!hit || (hit != want && hit[-1] != '\n') || (hit[len] != '\n' && hit[len] != '\0')) return false;
        (*present)++;
        p += len + (p[len] == '\n');
    }
    return true;
}

/* argv of the merge of every run database into store. */
static void merge_argv(const char **av, char *prog, size_t pn, const char *store)
{
    static char dbs[N_RUNS][64];
    snprintf(prog, pn, "%s/nsid-db", bin);
    int n = 0;
    av[n++] = prog;
    av[n++] = "merge";
    for (int i = 0; i < N_RUNS; i++) {
        snprintf(dbs[i], sizeof dbs[i], "runs/r%d/run.db", i);
        av[n++] = dbs[i];
    }
    av[n++] = "--into";
    av[n++] = store;
    av[n] = NULL;
}

int main(void)
{
    const char *b = getenv("NSID_BIN"), *s = getenv("NSID_CRASH_SEED");
    snprintf(bin, sizeof bin, "%s", b ? b : ".");
    uint64_t seed = s ? strtoull(s, NULL, 10) : 9;
    printf("crash_merge: seed %llu (NSID_CRASH_SEED)\n", (unsigned long long)seed);
    pt_figures_reset("crash_merge");
    dt_tmpdir(tmp, sizeof tmp, "crash_merge");
    dt_sh("mkdir -p '%s/runs' '%s/stores'", tmp, tmp);
    if (!make_runs()) return check_summary("crash_merge");

    /* the uninterrupted merge, timed */
    const char *av[N_RUNS + 8];
    char prog[4300], ref[16384], why[256];
    merge_argv(av, prog, sizeof prog, "stores/reference.db");
    double t0 = pt_now();
    CHECK(run_cmd(av) == 0, "uninterrupted merge");
    double merge_s = pt_now() - t0;
    char refdb[4400];
    snprintf(refdb, sizeof refdb, "%s/stores/reference.db", tmp);
    CHECK(signature(refdb, ref, sizeof ref), "reference signature");
    int ref_runs = 0;
    for (const char *p = ref; *p; p++) ref_runs += *p == '\n';
    ref_runs += ref[0] != '\0';
    CHECK(ref_runs == N_RUNS && strstr(ref, " running ") && strstr(ref, " done "),
          "the reference store holds %d runs (%d done, 1 running): %s", N_RUNS, N_DONE, ref);
    /* the kill times are drawn against the fastest of three merges: on a loaded machine one slow
     * reference merge would put most kills after the merges finished */
    for (int i = 0; i < 2; i++) {
        char scratch[64];
        snprintf(scratch, sizeof scratch, "stores/timing%d.db", i);
        merge_argv(av, prog, sizeof prog, scratch);
        t0 = pt_now();
        CHECK(run_cmd(av) == 0, "uninterrupted merge %d", i + 2);
        double t = pt_now() - t0;
        if (t < merge_s) merge_s = t;
    }
    printf("crash_merge: an uninterrupted merge of %d run databases takes %.0f ms (fastest of 3)\n", N_RUNS,
           merge_s * 1e3);

    struct nsid_rng rng;
    nsid_rng_init(&rng, seed, 1);
    int kills = 0, bad_integrity = 0, partial = 0, rerun_bad = 0, min_present = N_RUNS, max_present = 0;
    for (int k = 0; k < KILLS; k++) {
        /* even k: a fresh store; odd k: the store of the previous trial, still partly merged */
        char store[64], path[4400], got[16384];
        snprintf(store, sizeof store, "stores/s%d.db", k - (k % 2));
        snprintf(path, sizeof path, "%s/%s", tmp, store);
        merge_argv(av, prog, sizeof prog, store);
        double at = nsid_rng_uniform(&rng) * 1.2 * merge_s;
        pid_t pid = pt_spawn(tmp, av, NULL, NULL);
        struct timespec d = {(time_t)at, (long)((at - (double)(time_t)at) * 1e9)};
        nanosleep(&d, NULL);
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) != pid) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            if (WIFSIGNALED(st)) kills++;
        }
        if (!dt_exists(path)) { /* killed before it created the store: nothing to check */
            min_present = 0;
        } else {
            if (!integrity_ok(path, why, sizeof why)) {
                bad_integrity++;
                fprintf(stderr, "kill %d at %.1f ms: integrity_check: %s\n", k, at * 1e3, why);
            }
            int present = 0;
            if (!signature(path, got, sizeof got)) got[0] = '\0';
            if (!runs_complete_or_absent(got, ref, &present)) {
                partial++;
                fprintf(stderr, "kill %d at %.1f ms: a partial run:\n%s\n", k, at * 1e3, got);
            }
            if (present < min_present) min_present = present;
            if (present > max_present) max_present = present;
        }
        /* the same command again completes the store */
        int code = run_cmd(av);
        if (code != 0 || !signature(path, got, sizeof got) || strcmp(got, ref) != 0) {
            rerun_bad++;
            fprintf(stderr, "kill %d: rerun exit %d, store:\n%s\n", k, code, got);
        }
    }
    printf("crash_merge: %d kills; after a kill %d..%d of %d runs were merged, none partial\n", kills, min_present,
           max_present, N_RUNS);
    CHECK(kills >= KILLS / 2, "merges were killed mid-way (%d of %d)", kills, KILLS);
    CHECK(bad_integrity == 0, "PRAGMA integrity_check ok after every kill (%d bad)", bad_integrity);
    CHECK(partial == 0, "every run fully merged or absent after every kill (%d partial)", partial);
    CHECK(rerun_bad == 0, "the rerun merge completes the store exactly (%d differ)", rerun_bad);
    pt_figure("crash_merge", "kills", "%d", kills);
    int status = check_summary("crash_merge");
    if (status == 0) dt_rmtree(tmp);
    return status;
}
