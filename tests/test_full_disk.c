/*
 * test_full_disk.c - the stages on a full disk (issue 9, item 2). A small tmpfs is mounted
 * here (root only; otherwise the test says why it skipped and exits 77, CTest's Skipped) and filled so that
 * only F bytes stay free, for several F from 0 up to enough for a whole run. At each level:
 *   nsid-train --out on the disk, nsid-eval into a run.db on it with predictions on it,
 *   nsid-convert to an HDF5 file and to a file tree on it, nsid-db merge into a store on
 *   it that already holds a run.
 * Each command either succeeds with complete, valid files, or fails with exit 1 and one
 * message that says the disk is full ("No space left", "disk is full", ...), leaving no
 * corrupt file: no checkpoint, scan or store that does not read back whole, no temporary
 * files, no run marked done, the existing store intact. After the space is freed the same
 * training command finishes with the reference checkpoint.
 *
 * ctest-labels: reliability
 */
#include <sys/mount.h>
#include <sys/statvfs.h>

#include "check.h"
#include "data/scan.h"
#include "data_testutil.h"
#include "proc_testutil.h"
#include "train_check.h"

#define TIMEOUT_MS 300000
#define DISK_KB 1024

static char tmp[4096], bin[4096], mnt[4200], data[4400];
static char ref_hash[65];
static int n_full_errors, n_ok, n_commands;

static const char *const SMALL[] = {"--set", "model.core.layers=2", "--set", "model.core.hidden_channels=8", "--set",
                                    "model.core.input_kern=5", "--set", "model.core.hidden_kern=3", "--set",
                                    "train.batch_size=8", "--set", "train.max_epochs=3", "--quiet"};

/* The train command into out. */
static void train_argv(const char **av, char *prog, size_t pn, const char *out)
{
    snprintf(prog, pn, "%s/nsid-train", bin);
    int n = 0;
    av[n++] = prog;
    for (size_t i = 0; i < sizeof SMALL / sizeof SMALL[0]; i++) av[n++] = SMALL[i];
    av[n++] = "--data";
    av[n++] = data;
    av[n++] = "--out";
    av[n++] = out;
    av[n] = NULL;
}

/* Run av (cwd tmp); stderr into *err. */
static int run(const char *const *av, char *err, size_t n)
{
    char ef[4400];
    snprintf(ef, sizeof ef, "%s/stderr.txt", tmp);
    unlink(ef);
    int code = pt_wait(pt_spawn(tmp, av, NULL, ef), TIMEOUT_MS);
    pt_slurp(ef, err, n);
    return code;
}

static bool says_full(const char *msg)
{
    static const char *const words[] = {"No space left", "disk is full", "disk full", "database or disk is full",
                                        "ENOSPC", "no space"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(msg, words[i])) return true;
    return false;
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* A failed command: exit 1, one line, saying the disk is full. */
static void check_failure(const char *what, int code, const char *err)
{
    n_full_errors++;
    CHECK(code == 1 && lines(err) == 1 && says_full(err), "%s: a clear disk-full error (exit %d): %s", what, code,
          err);
}

/* Files under dir whose name holds ".tmp" (a writer's leftovers). */
static int temps_under(const char *dir, char *names, size_t n)
{
    struct pt_snap s;
    pt_snap_take(&s, dir);
    int k = 0;
    names[0] = '\0';
    for (int i = 0; i < s.n; i++) {
        const char *base = strrchr(s.e[i].path, '/') ? strrchr(s.e[i].path, '/') + 1 : s.e[i].path;
        if (strstr(base, ".tmp")) {
            size_t l = strlen(names);
            snprintf(names + l, n - l, "%s%s", k++ ? ", " : "", s.e[i].path);
        }
    }
    pt_snap_free(&s);
    return k;
}

static bool integrity_ok(const char *db)
{
    char buf[256];
    return tc_sql(db, "PRAGMA integrity_check", buf, sizeof buf) && !strcmp(buf, "ok");
}

static bool scan_reads(const char *path)
{
    struct nsid_scan s;
    struct nsid_err err = {0};
    struct nsid_scan_opts o = {0};
    bool ok = nsid_scan_load(&s, path, &o, &err) == 0 && s.n_trials == 24 && s.n_neurons == 7;
    if (ok) nsid_scan_free(&s);
    return ok;
}

/* ---------------------------------------------------------------- the disk */

static bool mount_disk(void)
{
    if (geteuid() != 0) {
        printf("full_disk: skipped: mounting a tmpfs needs root (this test runs as uid %d)\n", (int)geteuid());
        return false;
    }
    snprintf(mnt, sizeof mnt, "%s/disk", tmp);
    mkdir(mnt, 0755);
    char opts[64];
    snprintf(opts, sizeof opts, "size=%dk,mode=0755", DISK_KB);
    if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) {
        printf("full_disk: skipped: cannot mount a tmpfs at %s: %s\n", mnt, strerror(errno));
        return false;
    }
    return true;
}

static void unmount_disk(void)
{
    if (umount2(mnt, MNT_DETACH) != 0) fprintf(stderr, "full_disk: umount %s: %s\n", mnt, strerror(errno));
}

/* Empty the disk. */
static void wipe(void)
{
    dt_sh("rm -rf '%s'/* '%s'/.[!.]* 2>/dev/null", mnt, mnt);
}

/* Fill the disk so that about free_kb stay free. */
static void fill(long free_kb)
{
    struct statvfs v;
    statvfs(mnt, &v);
    long avail = (long)(v.f_bavail * v.f_frsize / 1024);
    long fill_kb = avail - free_kb;
    char path[4400];
    snprintf(path, sizeof path, "%s/filler", mnt);
    FILE *f = fopen(path, "wb");
    static char zero[1024];
    for (long i = 0; f && i < fill_kb; i++)
        if (fwrite(zero, 1, sizeof zero, f) != sizeof zero) break;
    if (f) fclose(f);
}

/* Remove the filler: the files the command left are checked with room to open them. */
static void unfill(void)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/filler", mnt);
    unlink(path);
}

/* The pre-existing run ('other', seed 2) of a store: status and its row counts. */
static bool signature(const char *db, char *out, size_t n)
{
    return tc_sql(db,
                  "SELECT r.status || ' ' || (SELECT count(*) FROM epochs e WHERE e.run_id = r.id) || ' ' ||"
                  " (SELECT count(*) FROM metrics m WHERE m.run_id = r.id) || ' ' ||"
                  " (SELECT count(*) FROM neuron_metrics x WHERE x.run_id = r.id) FROM runs r"
                  " WHERE r.seed = 2",
                  out, n);
}

/* ---------------------------------------------------------------- the commands */

static void level_train(long free_kb)
{
    const char *av[40];
    char prog[4300], out[4400], err[8192], what[128], ck[4500], db[4500], temps[1024], status[64];
    snprintf(out, sizeof out, "%s/run", mnt);
    train_argv(av, prog, sizeof prog, out);
    snprintf(what, sizeof what, "%ld KB free: nsid-train", free_kb);
    fill(free_kb);
    int code = run(av, err, sizeof err);
    n_commands++;
    unfill();
    snprintf(ck, sizeof ck, "%s/checkpoint.h5", out);
    snprintf(db, sizeof db, "%s/run.db", out);
    char hash[65];
    if (code == 0) n_ok++;
    else check_failure(what, code, err);
    CHECK(!dt_exists(ck) || (pt_sha256_file(ck, hash) && !strcmp(hash, ref_hash)),
          "%s: a checkpoint left is the complete one", what);
    CHECK(!dt_exists(db) || integrity_ok(db), "%s: run.db passes integrity_check", what);
    CHECK(!dt_exists(db) || !tc_sql(db, "SELECT group_concat(status) FROM runs", status, sizeof status) ||
              strcmp(status, "done") != 0,
          "%s: no run marked done", what);
    CHECK(temps_under(mnt, temps, sizeof temps) == 0, "%s: no temporary files left: %s", what, temps);
    if (code != 0) { /* with the space freed the same command finishes, with the reference checkpoint */
        int again = run(av, err, sizeof err);
        CHECK(again == 0 && pt_sha256_file(ck, hash) && !strcmp(hash, ref_hash),
              "%s: after freeing space the same command finishes with the reference checkpoint (exit %d): %s", what,
              again, err);
    }
}

static void level_eval(long free_kb)
{
    char prog[4300], err[8192], what[128], db[4400], pred[4400], temps[1024], status[64];
    snprintf(prog, sizeof prog, "%s/nsid-eval", bin);
    snprintf(db, sizeof db, "%s/run.db", mnt);
    snprintf(pred, sizeof pred, "%s/pred.h5", mnt);
    dt_sh("cp '%s/trained/run.db' '%s'", tmp, db);
    fill(free_kb);
    const char *av[] = {prog, "--checkpoint", "trained/checkpoint.h5", "--data", data, "--db", db,
                        "--predictions", pred, "--quiet", NULL};
    snprintf(what, sizeof what, "%ld KB free: nsid-eval", free_kb);
    int code = run(av, err, sizeof err);
    n_commands++;
    unfill();
    tc_sql(db, "SELECT group_concat(status) FROM runs", status, sizeof status);
    if (code == 0) {
        n_ok++;
        size_t n = 0;
        float *p = tc_h5_floats(pred, "11111-1-1-0/predictions", &n);
        CHECK(p && n == 6 * 7 && !strcmp(status, "done"), "%s: success: predictions whole, run done", what);
        free(p);
    } else {
        check_failure(what, code, err);
        CHECK(strcmp(status, "done") != 0, "%s: the run is not marked done", what);
        size_t n = 0;
        float *p = dt_exists(pred) ? tc_h5_floats(pred, "11111-1-1-0/predictions", &n) : NULL;
        CHECK(!dt_exists(pred) || (p && n == 6 * 7), "%s: predictions absent or whole", what);
        free(p);
    }
    CHECK(integrity_ok(db), "%s: run.db passes integrity_check", what);
    CHECK(temps_under(mnt, temps, sizeof temps) == 0, "%s: no temporary files left: %s", what, temps);
}

static void level_convert(long free_kb, bool tree)
{
    char prog[4300], err[8192], what[128], dst[4400], temps[1024];
    snprintf(prog, sizeof prog, "%s/nsid-convert", bin);
    snprintf(dst, sizeof dst, "%s/static11111-1-1-preproc0%s", mnt, tree ? "" : ".h5");
    const char *av[] = {prog, data, dst, NULL};
    snprintf(what, sizeof what, "%ld KB free: nsid-convert to %s", free_kb, tree ? "a tree" : "HDF5");
    fill(free_kb);
    int code = run(av, err, sizeof err);
    n_commands++;
    unfill();
    if (code == 0) {
        n_ok++;
        CHECK(scan_reads(dst), "%s: success: the scan reads back whole", what);
    } else {
        check_failure(what, code, err);
        CHECK(!dt_exists(dst), "%s: no scan left under the real name", what);
    }
    CHECK(temps_under(mnt, temps, sizeof temps) == 0, "%s: no temporary files left: %s", what, temps);
    dt_sh("rm -rf '%s'", dst);
}

static void level_merge(long free_kb)
{
    char prog[4300], err[8192], what[128], store[4400], before[4096], after[4096];
    snprintf(prog, sizeof prog, "%s/nsid-db", bin);
    snprintf(store, sizeof store, "%s/results.db", mnt);
    dt_sh("cp '%s/store.db' '%s'", tmp, store);
    signature(store, before, sizeof before);
    fill(free_kb);
    const char *av[] = {prog, "merge", "done/run.db", "--into", store, NULL};
    snprintf(what, sizeof what, "%ld KB free: nsid-db merge", free_kb);
    int code = run(av, err, sizeof err);
    n_commands++;
    unfill();
    char rows[64];
    CHECK(integrity_ok(store), "%s: the store passes integrity_check", what);
    CHECK(signature(store, after, sizeof after) && before[0] && !strcmp(after, before),
          "%s: the run already in the store is intact: %s / %s", what, before, after);
    if (code == 0) {
        n_ok++;
        CHECK(tc_sql(store, "SELECT count(*) FROM runs WHERE status='done'", rows, sizeof rows) && atoi(rows) == 2,
              "%s: success: both runs in the store", what);
    } else {
        check_failure(what, code, err);
        CHECK(tc_sql(store, "SELECT count(*) FROM runs", rows, sizeof rows) && atoi(rows) == 1,
              "%s: the new run is absent", what);
    }
}

/* ---------------------------------------------------------------- setup */

/* Outside the disk: the reference run, a trained run, a done run, a store holding a third. */
static bool setup(void)
{
    const char *av[40];
    char prog[4300], err[8192], out[4400];
    snprintf(out, sizeof out, "%s/reference", tmp);
    train_argv(av, prog, sizeof prog, out);
    bool ok = run(av, err, sizeof err) == 0;
    char ck[4500];
    snprintf(ck, sizeof ck, "%s/checkpoint.h5", out);
    ok = ok && pt_sha256_file(ck, ref_hash);
    dt_sh("cp -r '%s/reference' '%s/trained' && cp -r '%s/reference' '%s/done'", tmp, tmp, tmp, tmp);
    char ev[4300];
    snprintf(ev, sizeof ev, "%s/nsid-eval", bin);
    const char *e1[] = {ev, "--checkpoint", "done/checkpoint.h5", "--data", data, "--db", "done/run.db", "--quiet", NULL};
    ok = ok && run(e1, err, sizeof err) == 0;
    /* 'other': another seed, so the store holds a different run */
    const char *t2[48];
    int n = 0;
    train_argv(t2, prog, sizeof prog, "other");
    while (t2[n]) n++;
    t2[n++] = "--set";
    t2[n++] = "train.seed=2";
    t2[n] = NULL;
    ok = ok && run(t2, err, sizeof err) == 0;
    const char *e2[] = {ev, "--checkpoint", "other/checkpoint.h5", "--data", data, "--db", "other/run.db", "--quiet", NULL};
    ok = ok && run(e2, err, sizeof err) == 0;
    char dbp[4300];
    snprintf(dbp, sizeof dbp, "%s/nsid-db", bin);
    const char *m[] = {dbp, "merge", "other/run.db", "--into", "store.db", NULL};
    ok = ok && run(m, err, sizeof err) == 0;
    CHECK(ok, "setup outside the disk: %s", err);
    return ok;
}

int main(void)
{
    const char *b = getenv("NSID_BIN");
    snprintf(bin, sizeof bin, "%s", b ? b : ".");
    snprintf(data, sizeof data, "%s", check_fixture("data/static11111-1-1-preproc0.h5"));
    pt_figures_reset("full_disk");
    dt_tmpdir(tmp, sizeof tmp, "full_disk");
    if (!setup() || !mount_disk()) {
        int status = check_summary("full_disk");
        if (status == 0) dt_rmtree(tmp);
        return status == 0 ? 77 : status; /* no tmpfs (not root, or no mount rights): skipped */
    }
    static const long free_kb[] = {0, 4, 12, 24, 48, 96, 160, 240, 400};
    for (size_t i = 0; i < sizeof free_kb / sizeof free_kb[0]; i++) {
        wipe();
        level_train(free_kb[i]);
        wipe();
        level_eval(free_kb[i]);
        wipe();
        level_convert(free_kb[i], false);
        wipe();
        level_convert(free_kb[i], true);
        wipe();
        level_merge(free_kb[i]);
    }
    unmount_disk();
    printf("full_disk: %d commands on a %d KB tmpfs with 0..400 KB free: %d failed with a disk-full error, %d "
           "succeeded\n",
           n_commands, DISK_KB, n_full_errors, n_ok);
    CHECK(n_full_errors > 0 && n_ok > 0, "some commands hit the full disk, some had room");
    pt_figure("full_disk", "commands", "%d", n_commands);
    int status = check_summary("full_disk");
    if (status == 0) dt_rmtree(tmp);
    return status;
}
