/*
 * test_train_cli.c - the nsid-train and nsid-eval programs as make runs them:
 *   SIGTERM / SIGINT save a resumable state and exit 128+signal, the same command resumes and
 *   ends bit-identical to an uninterrupted run; after SIGKILL the rerun restarts from the last
 *   epoch's state and ends bit-identical too; nsid-eval finishes the run ('done') and writes
 *   predictions; bad input (unknown key, out-of-range value, missing data, missing weights,
 *   a checkpoint that does not fit the data, a damaged state) exits non-zero with one message
 *   naming the key or file, and no run.db is ever marked done by a failed command.
 */
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "data_testutil.h"
#include "train_check.h"
#include "train_testutil.h"

static char tmp[4096], bin[4096];
static char scan_a[4400], scan_b[4400], scan_a20[4400], scan_beh[4400], scan_nan[4400];

#define MAXARG 40

/* argv of an nsid-train run of the small network into dir, with extra --set values. */
static int train_argv(const char **av, char *prog, size_t pn, const char *dir, const char *data,
                      const char *const *sets, int n_sets)
{
    snprintf(prog, pn, "%s/nsid-train", bin);
    static const char *const small[] = {"model.core.layers=2", "model.core.hidden_channels=8",
                                        "model.core.input_kern=5", "model.core.hidden_kern=3",
                                        "model.readout.gamma=0.1", "train.batch_size=8", "train.max_epochs=8"};
    int n = 0;
    av[n++] = prog;
    for (int i = 0; i < 7; i++) {
        av[n++] = "--set";
        av[n++] = small[i];
    }
    for (int i = 0; i < n_sets; i++) {
        av[n++] = "--set";
        av[n++] = sets[i];
    }
    av[n++] = "--data";
    av[n++] = data;
    av[n++] = "--out";
    av[n++] = dir;
    av[n++] = "--quiet";
    av[n] = NULL;
    return n;
}

/* Start argv with stdout/stderr to files under tmp; returns the pid. */
static pid_t spawn(const char *const *av, const char *err_file)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(err_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int out = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        dup2(out, 1);
        char *args[MAXARG];
        int n = 0;
        while (av[n] && n < MAXARG - 1) n++;
        memcpy(args, av, sizeof(char *) * (size_t)n);
        args[n] = NULL;
        execv(args[0], args);
        _exit(127);
    }
    return pid;
}

/* Wait for pid: its exit status, or 128+signal when killed. */
static int wait_exit(pid_t pid)
{
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run(const char *const *av, const char *err_file)
{
    return wait_exit(spawn(av, err_file));
}

/* True once the file contains needle (polling every 2 ms, at most 60 s). */
static bool wait_for(const char *file, const char *needle, pid_t pid)
{
    struct timespec ms2 = {0, 2000000};
    for (int i = 0; i < 30000; i++) {
        FILE *f = fopen(file, "r");
        char line[1024];
        bool found = false;
        while (f && !found && fgets(line, sizeof line, f)) found = strstr(line, needle) != NULL;
        if (f) fclose(f);
        if (found) return true;
        if (waitpid(pid, NULL, WNOHANG) == pid) return false;
        nanosleep(&ms2, NULL);
    }
    return false;
}

/* The text of a small file (static buffer). */
static const char *slurp(const char *file)
{
    static char buf[8192];
    buf[0] = '\0';
    FILE *f = fopen(file, "r");
    if (!f) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* No run in <dir>/run.db is 'done' (or there is no run.db). */
static bool none_done(const char *dir)
{
    char db[4300], buf[64];
    snprintf(db, sizeof db, "%s/run.db", dir);
    if (access(db, F_OK) != 0) return true;
    return tc_sql(db, "SELECT count(*) FROM runs WHERE status='done'", buf, sizeof buf) && atoi(buf) == 0;
}

/* The epoch curve of a run.db as text: "epoch:val_corr,..." in round-trip precision. */
static void curve(const char *dir, char *out, size_t n)
{
    char db[4300];
    snprintf(db, sizeof db, "%s/run.db", dir);
    tc_sql(db, "SELECT group_concat(epoch || ':' || printf('%.17g', val_corr) || ':' || printf('%.17g', lr), ',') "
               "FROM (SELECT * FROM epochs ORDER BY epoch)",
           out, n);
}

static void test_interrupts(void)
{
    const char *av[MAXARG];
    char prog[4300], ref[4200], err[4300], ck_ref[4400];
    snprintf(ref, sizeof ref, "%s/uninterrupted", tmp);
    snprintf(err, sizeof err, "%s/stderr.txt", tmp);
    train_argv(av, prog, sizeof prog, ref, scan_a, NULL, 0);
    CHECK(run(av, err) == 0, "uninterrupted run: %s", slurp(err));
    snprintf(ck_ref, sizeof ck_ref, "%s/checkpoint.h5", ref);
    char curve_ref[8192];
    curve(ref, curve_ref, sizeof curve_ref);

    static const struct { int sig, code; const char *name; } cases[] = {
        {SIGTERM, 128 + SIGTERM, "sigterm"}, {SIGINT, 128 + SIGINT, "sigint"}, {SIGKILL, 128 + SIGKILL, "sigkill"}};
    for (int k = 0; k < 3; k++) {
        char dir[4200], log[4300], ck[4400], why[512], db[4300], buf[256];
        snprintf(dir, sizeof dir, "%s/%s", tmp, cases[k].name);
        snprintf(log, sizeof log, "%s/train.log", dir);
        snprintf(db, sizeof db, "%s/run.db", dir);
        train_argv(av, prog, sizeof prog, dir, scan_a, NULL, 0);
        pid_t pid = spawn(av, err);
        bool seen = wait_for(log, "epoch=2 ", pid);
        struct timespec into_epoch = {0, 8000000 * k}; /* 0, 8, 16 ms into epoch 3: boundary or mid-epoch */
        nanosleep(&into_epoch, NULL);
        kill(pid, cases[k].sig);
        int code = wait_exit(pid);
        CHECK(seen && code == cases[k].code, "%s during epoch 3: exit %d (want %d)", cases[k].name, code,
              cases[k].code);
        if (cases[k].sig != SIGKILL) {
            const char *e = slurp(err);
            CHECK(strstr(e, "interrupted") && strstr(e, "resume") && lines(e) == 1,
                  "%s: one message saying how to resume: %s", cases[k].name, e);
            CHECK(tc_sql(db, "SELECT status FROM runs", buf, sizeof buf) && strcmp(buf, "failed") == 0,
                  "%s: the interrupted run is recorded as failed, not done: %s", cases[k].name, buf);
            const char *l = slurp(log);
            const char *at = strstr(l, "interrupted by signal");
            printf("%s: %.*s\n", cases[k].name, at ? (int)strcspn(at, ":") : 0, at ? at : "");
        }
        CHECK(none_done(dir), "%s: no run marked done", cases[k].name);
        CHECK(run(av, err) == 0, "%s: the same command resumes: %s", cases[k].name, slurp(err));
        CHECK(strstr(slurp(log), "resume from epoch") != NULL, "%s: the log says it resumed", cases[k].name);
        snprintf(ck, sizeof ck, "%s/checkpoint.h5", dir);
        CHECK(tc_h5_same(ck, ck_ref, why, sizeof why), "%s: resumed run ends bit-identical to the uninterrupted one (%s)",
              cases[k].name, why);
        char cv[8192];
        curve(dir, cv, sizeof cv);
        CHECK(strcmp(cv, curve_ref) == 0 && cv[0], "%s: identical epoch curve in run.db", cases[k].name);
    }

    /* a damaged state is refused with a message naming it */
    char dir[4200], state[4300];
    snprintf(dir, sizeof dir, "%s/damaged", tmp);
    snprintf(state, sizeof state, "%s/train_state.bin", dir);
    train_argv(av, prog, sizeof prog, dir, scan_a, (const char *[]){"train.max_epochs=2"}, 1);
    CHECK(run(av, err) == 0, "short run");
    int fd = open(state, O_RDWR);
    char byte;
    if (fd >= 0 && pread(fd, &byte, 1, 200) == 1) {
        byte ^= 0x10;
        CHECK(pwrite(fd, &byte, 1, 200) == 1, "flip a byte");
    }
    if (fd >= 0) close(fd);
    CHECK(run(av, err) == 1 && strstr(slurp(err), "train_state.bin") && strstr(slurp(err), "checksum"),
          "a damaged state: exit 1 naming the file: %s", slurp(err));
}

static bool same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static void test_eval(void)
{
    char prog[4300], err[4300], ref[4200], ck[4400], db[4400], pred[4400], buf[256];
    snprintf(err, sizeof err, "%s/stderr.txt", tmp);
    snprintf(ref, sizeof ref, "%s/uninterrupted", tmp);
    snprintf(ck, sizeof ck, "%s/checkpoint.h5", ref);
    snprintf(db, sizeof db, "%s/run.db", ref);
    snprintf(pred, sizeof pred, "%s/pred.h5", ref);
    snprintf(prog, sizeof prog, "%s/nsid-eval", bin);

    /* a checkpoint that does not fit the data: same data key, 20 neurons instead of 24 */
    const char *bad[] = {prog, "--checkpoint", ck, "--data", scan_a20, "--db", db, NULL};
    CHECK(run(bad, err) == 1 && strstr(slurp(err), "readout") && strstr(slurp(err), "24") &&
              strstr(slurp(err), "20") && lines(slurp(err)) == 1,
          "eval on data the checkpoint does not fit: one message naming the tensor and shapes: %s", slurp(err));
    const char *other[] = {prog, "--checkpoint", ck, "--data", scan_b, "--db", db, NULL};
    CHECK(run(other, err) == 1 && strstr(slurp(err), "10001-1-1-0") && lines(slurp(err)) == 1,
          "eval on another scan: names the readout's data key: %s", slurp(err));
    CHECK(none_done(ref), "failed evaluations mark nothing done");

    const char *good[] = {prog, "--checkpoint", ck, "--data", scan_a, "--db", db, "--predictions", pred, NULL};
    CHECK(run(good, err) == 0, "nsid-eval: %s", slurp(err));
    CHECK(tc_sql(db, "SELECT status FROM runs", buf, sizeof buf) && strcmp(buf, "done") == 0, "the run is done: %s",
          buf);
    CHECK(tc_sql(db, "SELECT count(*) FROM neuron_metrics WHERE oracle IS NOT NULL AND gt_corr IS NOT NULL "
                     "AND rf_dist IS NOT NULL",
                 buf, sizeof buf) && atoi(buf) == 24,
          "24 neurons with oracle, true-rate correlation and RF distance: %s", buf);
    CHECK(tc_sql(db, "SELECT value FROM metrics WHERE scan='all' AND split='test' AND name='fraction_oracle'", buf,
                 sizeof buf) && atof(buf) > 0.2,
          "fraction oracle recorded: %s", buf);
    size_t n = 0;
    float *p = tc_h5_floats(pred, "10001-1-1-0/predictions", &n);
    CHECK(p && n == 40 * 24, "predictions (40 test trials x 24 neurons): %zu", n);
    free(p);
    CHECK(run(good, err) == 0, "a second nsid-eval on a done run exits 0 and changes nothing");

    /* The predictions file carries no HDF5 timestamps: the same evaluation a second later writes
     * the same bytes. */
    char pred2[4400];
    snprintf(pred2, sizeof pred2, "%s/pred2.h5", ref);
    const char *again[] = {prog, "--checkpoint", ck, "--data", scan_a, "--db", db, "--predictions", pred2, NULL};
    struct timespec second = {1, 100000000};
    nanosleep(&second, NULL);
    CHECK(run(again, err) == 0, "nsid-eval --predictions again: %s", slurp(err));
    CHECK(same_file(pred, pred2), "the same evaluation 1.1 s later writes a byte-identical predictions file");
}

static void test_bad_input(void)
{
    const char *av[MAXARG];
    char prog[4300], err[4300], dir[4200], set[4400], buf[512];
    snprintf(err, sizeof err, "%s/stderr.txt", tmp);
    snprintf(dir, sizeof dir, "%s/bad", tmp);
    struct {
        const char *set, *want;
    } cases[] = {
        {"train.lr_x=1", "train.lr_x"},
        {"train.lr=11", "train.lr"},
        {"model.core.type=vgg16", "model.core.type"}, /* not frozen: the config check names it */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        train_argv(av, prog, sizeof prog, dir, scan_a, &cases[k].set, 1);
        int code = run(av, err);
        const char *e = slurp(err);
        CHECK(code == 1 && strstr(e, cases[k].want) && lines(e) == 1, "--set %s: exit 1, one line naming %s: %s",
              cases[k].set, cases[k].want, e);
    }
    /* a training whose loss stops being a number: responses of 3e38 (finite floats, stored after
     * the statistics, so they are scaled by an ordinary std) overflow the Poisson loss; the run
     * stops in epoch 1, exit 1, recorded as failed with the epoch */
    char huge[4400];
    snprintf(huge, sizeof huge, "%s/static10005-1-1-preproc0.h5", tmp);
    struct tt_scan ho;
    tt_default(&ho);
    ho.seed = 5;
    CHECK(tt_make_scan(huge, &ho) == 0, "the scan with extreme responses is written");
    hid_t hf = H5Fopen(huge, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t hd = H5Dopen2(hf, "responses", H5P_DEFAULT);
    hid_t hs = H5Dget_space(hd);
    hssize_t hn = H5Sget_simple_extent_npoints(hs);
    float *px = malloc((size_t)hn * sizeof *px);
    H5Dread(hd, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, px);
    for (hssize_t i = 0; i < hn; i += 5) px[i] = 3e38f;
    H5Dwrite(hd, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, px);
    free(px);
    H5Sclose(hs), H5Dclose(hd), H5Fclose(hf);
    snprintf(dir, sizeof dir, "%s/diverged", tmp);
    train_argv(av, prog, sizeof prog, dir, huge, NULL, 0);
    int dcode = run(av, err);
    const char *de = slurp(err);
    /* one error line; the 3e38 responses also deserve their plausibility warning (docs/reliability.md) */
    CHECK(dcode == 1 && strstr(de, "epoch 1: the training loss became") &&
              lines(de) - (strstr(de, "warning: ") && strstr(de, "extreme outliers") ? 1 : 0) == 1,
          "a diverged training: exit 1, one line naming the epoch (besides the outlier warning): %s", de);
    char ddb[4400];
    snprintf(ddb, sizeof ddb, "%s/run.db", dir);
    CHECK(tc_sql(ddb, "SELECT status || ' ' || error FROM runs", buf, sizeof buf) && strstr(buf, "failed") == buf &&
              strstr(buf, "epoch 1"),
          "the diverged run is recorded as failed with the epoch: %s", buf);
    CHECK(none_done(dir), "the diverged run is not done");
    /* missing data path */
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/no_such_scan.h5", tmp);
    train_argv(av, prog, sizeof prog, dir, missing, NULL, 0);
    CHECK(run(av, err) == 1 && strstr(slurp(err), "no_such_scan.h5") && lines(slurp(err)) == 1,
          "missing data: one line naming it: %s", slurp(err));
    /* missing VGG16 weights */
    snprintf(set, sizeof set, "model.core.checkpoint=%s/no_vgg.h5", tmp);
    const char *vgg[] = {"model.core.type=vgg16", "train.detach_core=true", set};
    train_argv(av, prog, sizeof prog, dir, scan_a, vgg, 3);
    CHECK(run(av, err) == 1 && strstr(slurp(err), "no_vgg.h5") && lines(slurp(err)) == 1,
          "missing weights file: one line naming it: %s", slurp(err));
    /* a core that does not fit: 8 channels into a 16-channel network */
    snprintf(set, sizeof set, "model.core.checkpoint=%s/uninterrupted/checkpoint.h5", tmp);
    const char *tr[] = {"train.detach_core=true", "model.core.hidden_channels=16", set};
    train_argv(av, prog, sizeof prog, dir, scan_b, tr, 3);
    CHECK(run(av, err) == 1 && strstr(slurp(err), "core.features") && strstr(slurp(err), "16") &&
              lines(slurp(err)) == 1,
          "a core checkpoint that does not fit: one line naming the tensor: %s", slurp(err));
    /* usage errors */
    const char *none[] = {prog, "--out", dir, NULL};
    CHECK(run(none, err) == 2 && strstr(slurp(err), "--data"), "no --data: usage error 2");
    CHECK(none_done(dir), "no failed command marked a run done");
}

/* Eye-position shifter and behaviour modulator: the batches carry pupil and behaviour to the
 * model in training and evaluation (nsid-train aborted on an assertion before they did), and a
 * scan without those traces is refused with one line naming the key. */
static void test_shifter_modulator(void)
{
    const char *av[MAXARG];
    char prog[4300], err[4300], dir[4200], ck[4300], db[4300], buf[256];
    snprintf(err, sizeof err, "%s/stderr.txt", tmp);
    snprintf(dir, sizeof dir, "%s/shifter", tmp);
    const char *both[] = {"model.shifter.enabled=true", "model.modulator.enabled=true", "train.max_epochs=3"};
    train_argv(av, prog, sizeof prog, dir, scan_beh, both, 3);
    CHECK(run(av, err) == 0, "nsid-train with a shifter and a modulator: %s", slurp(err));
    snprintf(ck, sizeof ck, "%s/checkpoint.h5", dir);
    snprintf(db, sizeof db, "%s/run.db", dir);
    size_t n = 0;
    float *w = tc_h5_floats(ck, "shifter/10003-1-1-0/mlp/0/weight", &n);
    CHECK(w && n > 0, "the checkpoint holds the shifter's weights (%zu)", n);
    free(w);
    w = tc_h5_floats(ck, "modulator/10003-1-1-0/modulator_networks/0/0/weight", &n);
    CHECK(w && n > 0, "the checkpoint holds the modulator's weights (%zu)", n);
    free(w);
    snprintf(prog, sizeof prog, "%s/nsid-eval", bin);
    const char *ev[] = {prog, "--checkpoint", ck, "--data", scan_beh, "--db", db, NULL};
    CHECK(run(ev, err) == 0, "nsid-eval of the shifter and modulator run: %s", slurp(err));
    CHECK(tc_sql(db, "SELECT value FROM metrics WHERE scan='all' AND split='test' AND name='fraction_oracle'", buf,
                 sizeof buf) && isfinite(atof(buf)),
          "its fraction oracle is recorded: %s", buf);
    const struct {
        const char *set, *key;
    } need[] = {{"model.shifter.enabled=true", "model.shifter.enabled"},
                {"model.modulator.enabled=true", "model.modulator.enabled"}};
    for (int k = 0; k < 2; k++) {
        snprintf(dir, sizeof dir, "%s/shifter_bad%d", tmp, k);
        train_argv(av, prog, sizeof prog, dir, scan_a, &need[k].set, 1);
        int code = run(av, err);
        const char *e = slurp(err);
        CHECK(code == 1 && strstr(e, need[k].key) && strstr(e, "static10001-1-1") && lines(e) == 1,
              "%s on a scan without those traces: exit 1, one line naming the key and the file: %s", need[k].key, e);
        CHECK(none_done(dir), "the refused run is not done");
    }
    /* NaN in the trace a model reads is bad data, like NaN in an image: refused, or dropped */
    const struct {
        const char *set, *key;
    } nan[] = {{"model.shifter.enabled=true", "pupil_center"}, {"model.modulator.enabled=true", "behavior"}};
    for (int k = 0; k < 2; k++) {
        snprintf(dir, sizeof dir, "%s/trace_nan%d", tmp, k);
        train_argv(av, prog, sizeof prog, dir, scan_nan, &nan[k].set, 1);
        int code = run(av, err);
        const char *e = slurp(err);
        CHECK(code == 1 && strstr(e, nan[k].key) && strstr(e, "trial 3") && strstr(e, "static10004-1-1") &&
                  lines(e) == 1,
              "%s on a scan with NaN in %s: exit 1, one line naming the file, the trace and the trial: %s",
              nan[k].set, nan[k].key, e);
        CHECK(none_done(dir), "the refused run is not done");
        const char *drop[] = {nan[k].set, "data.drop_nan_trials=true", "train.max_epochs=1"};
        snprintf(dir, sizeof dir, "%s/trace_drop%d", tmp, k);
        train_argv(av, prog, sizeof prog, dir, scan_nan, drop, 3);
        code = run(av, err);
        e = slurp(err);
        CHECK(code == 0 && strstr(e, "dropped 1 of"), "with data.drop_nan_trials the trial is dropped and %s trains: %s",
              nan[k].set, e);
    }
    /* a model that reads neither trace does not load them */
    const char *plain[] = {"train.max_epochs=1"};
    snprintf(dir, sizeof dir, "%s/trace_unused", tmp);
    train_argv(av, prog, sizeof prog, dir, scan_nan, plain, 1);
    CHECK(run(av, err) == 0, "a model without shifter or modulator trains on that scan: %s", slurp(err));
}

int main(void)
{
    const char *b = getenv("NSID_BIN");
    snprintf(bin, sizeof bin, "%s", b ? b : ".");
    dt_tmpdir(tmp, sizeof tmp, "train_cli");
    struct tt_scan o;
    tt_default(&o);
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/other", tmp);
    mkdir(sub, 0755);
    snprintf(scan_a, sizeof scan_a, "%s/static10001-1-1-preproc0.h5", tmp);
    snprintf(scan_b, sizeof scan_b, "%s/static10002-1-1-preproc0.h5", tmp);
    snprintf(scan_a20, sizeof scan_a20, "%.4000s/static10001-1-1-preproc0.h5", sub);
    int rc = tt_make_scan(scan_a, &o);
    o.N = 20;
    rc |= tt_make_scan(scan_a20, &o);
    o.N = 24;
    o.seed = 2;
    o.animal_seed = 12;
    rc |= tt_make_scan(scan_b, &o);
    snprintf(scan_beh, sizeof scan_beh, "%s/static10003-1-1-preproc0.h5", tmp);
    o.seed = 3;
    o.behavior = true;
    rc |= tt_make_scan(scan_beh, &o);
    snprintf(scan_nan, sizeof scan_nan, "%s/static10004-1-1-preproc0.h5", tmp);
    o.nan_trace_trial = 4;
    rc |= tt_make_scan(scan_nan, &o);
    CHECK(rc == 0, "synthetic scans written");
    test_interrupts();
    test_eval();
    test_bad_input();
    test_shifter_modulator();
    int status = check_summary("train_cli");
    if (status == 0) dt_rmtree(tmp);
    return status;
}
