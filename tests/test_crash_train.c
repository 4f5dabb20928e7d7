/*
 * test_crash_train.c - crash safety of nsid-train (issue 9, item 2): SIGKILL it at seeded
 * random moments (startup, loading, mid-epoch, while it writes its state, checkpoint,
 * log or run.db, at the very end) at least 20 times, rerun the same command, and require
 *   - every rerun finishes (exit 0),
 *   - its checkpoint.h5 is byte-identical to the uninterrupted run's, and so is the
 *     epoch curve in run.db,
 *   - the run is recorded as trained ('running', waiting for nsid-eval), never 'done',
 *     and no temporary file is left in the output folder.
 * Some trials kill the rerun again (up to three kills before the run may finish), so a
 * state resumed from a resumed state is covered too.
 *
 * The kill moment is uniform over 1.1 x the uninterrupted run's wall time (measured
 * here, so it adapts to sanitizer builds; the fastest whole run seen is used). Seed: NSID_CRASH_SEED or 9; printed.
 *
 * ctest-labels: reliability
 */
#include "base/rng.h"
#include "check.h"
#include "data_testutil.h"
#include "proc_testutil.h"
#include "train_check.h"
#include "train_testutil.h"

#define MIN_KILLS 20
#define MAX_TRIALS 80
#define TIMEOUT_MS 300000

static char tmp[4096], bin[4096], scan[4400];

/* argv of the one command every trial runs, into out. */
static void train_argv(const char **av, char *prog, size_t pn, const char *out)
{
    snprintf(prog, pn, "%s/nsid-train", bin);
    static const char *const fixed[] = {
        "--set", "model.core.layers=2",     "--set", "model.core.hidden_channels=8", "--set", "model.core.input_kern=5",
        "--set", "model.core.hidden_kern=3", "--set", "model.readout.gamma=0.1",      "--set", "train.batch_size=8",
        "--set", "train.max_epochs=8",       "--quiet"};
    int n = 0;
    av[n++] = prog;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) av[n++] = fixed[i];
    av[n++] = "--data";
    av[n++] = scan;
    av[n++] = "--out";
    av[n++] = out;
    av[n] = NULL;
}

/* The epoch curve of a run.db in round-trip precision ("" if none). */
static void curve(const char *dir, char *out, size_t n)
{
    char db[4400];
    snprintf(db, sizeof db, "%s/run.db", dir);
    tc_sql(db,
           "SELECT group_concat(epoch || ':' || printf('%.17g', val_corr) || ':' || printf('%.17g', lr), ',') "
           "FROM (SELECT * FROM epochs ORDER BY epoch)",
           out, n);
}

/* Names of temporary files left in dir (".tmp" anywhere in the name), comma-separated. */
static int temp_files(const char *dir, char *names, size_t n)
{
    names[0] = '\0';
    int k = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strstr(e->d_name, ".tmp")) continue;
        size_t l = strlen(names);
        snprintf(names + l, n - l, "%s%s", k++ ? ", " : "", e->d_name);
    }
    if (d) closedir(d);
    return k;
}

/*
 * What a process killed while writing leaves: "<name>.tmp<pid>" of a dead pid, for the
 * checkpoint and the state. The rerun must remove them (the first trial plants them).
 */
static void plant_stale_temps(const char *out)
{
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0);
    mkdir(out, 0755);
    char p[4400];
    snprintf(p, sizeof p, "%s/checkpoint.h5.tmp%ld", out, (long)dead);
    dt_write_text(p, "half a checkpoint");
    snprintf(p, sizeof p, "%s/train_state.bin.tmp%ld", out, (long)dead);
    dt_write_text(p, "half a state");
}

struct ref {
    char ckpt_hash[65];
    char curve[8192];
    double seconds; /* wall time of an uninterrupted run (the faster of two) */
};

/* Two uninterrupted runs: the reference checkpoint and curve (the same from both), and the time. */
static bool reference(struct ref *r)
{
    bool ok = true;
    r->seconds = 1e9;
    for (int i = 0; i < 2; i++) {
        const char *av[48];
        char prog[4300], out[4200], ck[4300], hash[65], cv[8192];
        snprintf(out, sizeof out, "%s/reference%d", tmp, i);
        train_argv(av, prog, sizeof prog, out);
        double t0 = pt_now();
        int code = pt_wait(pt_spawn(NULL, av, NULL, NULL), TIMEOUT_MS);
        if (pt_now() - t0 < r->seconds) r->seconds = pt_now() - t0;
        snprintf(ck, sizeof ck, "%s/checkpoint.h5", out);
        curve(out, cv, sizeof cv);
        bool run_ok = code == 0 && pt_sha256_file(ck, hash) && cv[0];
        CHECK(run_ok, "uninterrupted run %d (exit %d)", i, code);
        if (i == 0) {
            snprintf(r->ckpt_hash, sizeof r->ckpt_hash, "%s", hash);
            snprintf(r->curve, sizeof r->curve, "%s", cv);
        } else {
            CHECK(!strcmp(hash, r->ckpt_hash) && !strcmp(cv, r->curve), "two uninterrupted runs are byte-identical");
        }
        ok = ok && run_ok;
    }
    return ok;
}

/* Counters over all trials. */
struct tally {
    int kills;          /* processes actually killed */
    int finished_first; /* the kill came after the process had exited */
    int reruns;         /* reruns to completion */
    int resumed;        /* reruns whose log says they resumed */
};

/*
 * One trial: up to `chain` kills of the same command at random moments, then a rerun to
 * the end, checked against the reference.
 */
static void trial(int k, int chain, struct nsid_rng *rng, const struct ref *ref, struct tally *t)
{
    const char *av[48];
    char prog[4300], out[4200], err_file[4300], buf[8192];
    snprintf(out, sizeof out, "%s/trial%02d", tmp, k);
    snprintf(err_file, sizeof err_file, "%s/trial%02d.stderr", tmp, k);
    train_argv(av, prog, sizeof prog, out);
    char moments[256] = "";
    for (int c = 0; c < chain; c++) {
        double at = nsid_rng_uniform(rng) * 1.1 * ref->seconds;
        pid_t pid = pt_spawn(NULL, av, NULL, err_file);
        struct timespec d = {(time_t)at, (long)((at - (double)(time_t)at) * 1e9)};
        nanosleep(&d, NULL);
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid) { /* it finished before the kill */
            t->finished_first++;
            continue;
        }
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) t->kills++;
        else t->finished_first++;
        size_t l = strlen(moments);
        snprintf(moments + l, sizeof moments - l, "%s%.0f ms", c ? ", " : "", at * 1e3);
    }
    if (k == 0) plant_stale_temps(out);
    int code = pt_wait(pt_spawn(NULL, av, NULL, err_file), TIMEOUT_MS);
    t->reruns++;
    char ck[4400], hash[65], cv[8192], log[4400], db[4400], status[64], temps[1024];
    snprintf(ck, sizeof ck, "%s/checkpoint.h5", out);
    snprintf(log, sizeof log, "%s/train.log", out);
    snprintf(db, sizeof db, "%s/run.db", out);
    CHECK(code == 0, "trial %d (killed at %s): the rerun finishes, exit %d: %s", k, moments, code,
          pt_slurp(err_file, buf, sizeof buf));
    CHECK(pt_sha256_file(ck, hash) && !strcmp(hash, ref->ckpt_hash),
          "trial %d (killed at %s): checkpoint byte-identical to the uninterrupted run's", k, moments);
    curve(out, cv, sizeof cv);
    CHECK(!strcmp(cv, ref->curve), "trial %d (killed at %s): identical epoch curve in run.db", k, moments);
    CHECK(tc_sql(db, "SELECT group_concat(status) FROM runs", status, sizeof status) && !strcmp(status, "running"),
          "trial %d: one run, trained and waiting for nsid-eval ('running'), got '%s'", k, status);
    CHECK(temp_files(out, temps, sizeof temps) == 0, "trial %d: no temporary file left: %s", k, temps);
    if (strstr(pt_slurp(log, buf, sizeof buf), "resume from epoch")) t->resumed++;
    if (code == 0 && check_failed_ == 0) dt_rmtree(out);
}

int main(void)
{
    const char *b = getenv("NSID_BIN"), *s = getenv("NSID_CRASH_SEED");
    snprintf(bin, sizeof bin, "%s", b ? b : ".");
    uint64_t seed = s ? strtoull(s, NULL, 10) : 9;
    printf("crash_train: seed %llu (NSID_CRASH_SEED)\n", (unsigned long long)seed);
    pt_figures_reset("crash_train");
    dt_tmpdir(tmp, sizeof tmp, "crash_train");
    snprintf(scan, sizeof scan, "%s/static10001-1-1-preproc0.h5", tmp);
    struct tt_scan o;
    tt_default(&o);
    o.n_train = 96; /* 12 batches of 8 per epoch */
    o.n_val = 24;
    o.n_test_images = 4;
    o.repeats = 3;
    o.N = 16;
    CHECK(tt_make_scan(scan, &o) == 0, "synthetic scan written");
    struct ref ref;
    double t0 = pt_now();
    if (check_failed_ == 0 && reference(&ref)) {
        printf("crash_train: uninterrupted run %.2f s\n", ref.seconds);
        struct nsid_rng rng;
        nsid_rng_init(&rng, seed, 0);
        struct tally t = {0};
        int k = 0;
        while (t.kills < MIN_KILLS && k < MAX_TRIALS) {
            int chain = k % 4 == 3 ? 3 : 1; /* every fourth trial kills the reruns too */
            trial(k++, chain, &rng, &ref, &t);
        }
        printf("crash_train: %d kills survived in %d trials (%d kills came after the end), %d reruns resumed a "
               "saved state, %.1f s\n",
               t.kills, k, t.finished_first, t.resumed, pt_now() - t0);
        CHECK(t.kills >= MIN_KILLS, "at least %d kills (%d)", MIN_KILLS, t.kills);
        CHECK(t.resumed > 0, "some reruns resumed a saved state (%d)", t.resumed);
        pt_figure("crash_train", "kills", "%d", t.kills);
        pt_figure("crash_train", "reruns", "%d", t.reruns);
    }
    int status = check_summary("crash_train");
    if (status == 0) dt_rmtree(tmp);
    return status;
}
