/*
 * test_train.c - nsid_train_run on tiny synthetic scans (tests/train_testutil.h):
 *   training lowers the loss and raises the validation correlation; early stopping and the
 *   LR schedule follow docs/paper.md §4.4 step by step (replayed from the log by an independent
 *   implementation of the algorithm); the same config and seed give bit-identical
 *   checkpoints; transfer leaves the core weights bit-identical and re-estimates the BN
 *   running statistics; random cores stay at their initialisation; the round robin takes one
 *   Adam step per round; the VGG16 core trains readouts only; a finished run is not redone.
 */
#define _GNU_SOURCE /* fopencookie */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "data_testutil.h"
#include "exp/config.h"
#include "exp/net.h"
#include "exp/train.h"
#include "train_check.h"
#include "train_testutil.h"

static char tmp[4096];
static char scan_a[4200], scan_b[4200], scan_c[4200];

/* The small network every test trains (a 2-layer, 8-channel SE2d core on 20x28 images). */
static const char *const SMALL[] = {
    "model.core.layers=2", "model.core.hidden_channels=8", "model.core.input_kern=5", "model.core.hidden_kern=3",
    "model.readout.gamma=0.1", "train.batch_size=16",
};
#define N_SMALL 6

/* Config = SMALL + extra sets. */
static int config(struct nsid_config *c, const char *const *extra, int n_extra)
{
    const char *sets[32];
    int n = 0;
    for (int i = 0; i < N_SMALL; i++) sets[n++] = SMALL[i];
    for (int i = 0; i < n_extra; i++) sets[n++] = extra[i];
    struct nsid_err err = {0};
    int rc = nsid_config_load(c, NULL, sets, n, &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    return rc;
}

/* Train config c on the given scans into tmp/<name>. */
static int train(const char *name, const struct nsid_config *c, const char *const *data, int n_data,
                 struct nsid_train_result *r, char *dir, size_t dn)
{
    snprintf(dir, dn, "%s/%s", tmp, name);
    struct nsid_train_opts o = {.data = data, .n_data = n_data, .out_dir = dir};
    struct nsid_err err = {0};
    int rc = nsid_train_run(c, &o, r, &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    return rc;
}

static void path(char *buf, size_t n, const char *dir, const char *file)
{
    snprintf(buf, n, "%s/%s", dir, file);
}

/* ------------------------------------------------------------------ direct training */

static void test_direct(void)
{
    struct nsid_config c;
    const char *extra[] = {"train.max_epochs=12"};
    CHECK(config(&c, extra, 1) == 0, "config");
    const char *data[] = {scan_a};
    struct nsid_train_result r;
    char dir[4200], log[4300], db[4300], ck[4300], buf[256];
    CHECK(train("direct", &c, data, 1, &r, dir, sizeof dir) == 0, "direct training runs");
    path(log, sizeof log, dir, "train.log");
    path(db, sizeof db, dir, "run.db");
    path(ck, sizeof ck, dir, "checkpoint.h5");
    struct tc_epoch e[TC_MAX_EPOCHS];
    int n = tc_read_log(log, e, TC_MAX_EPOCHS);
    CHECK(n == 13 && r.epochs == 12, "one log line per epoch plus epoch 0: %d lines, %lld epochs", n, (long long)r.epochs);
    if (n == 13) {
        CHECK(e[12].loss < 0.8 * e[1].loss, "training lowers the loss: epoch 1 %.1f -> epoch 12 %.1f", e[1].loss,
              e[12].loss);
        CHECK(r.best_score > e[0].val + 0.25 && r.best_score > 0.3,
              "training raises the validation correlation: %.3f before, %.3f best", e[0].val, r.best_score);
        printf("direct: loss %.1f -> %.1f, validation correlation %.3f -> %.3f\n", e[1].loss, e[12].loss, e[0].val,
               r.best_score);
    }
    CHECK(access(ck, F_OK) == 0, "checkpoint.h5 written");
    CHECK(tc_sql(db, "SELECT status FROM runs", buf, sizeof buf) && strcmp(buf, "running") == 0,
          "after training the run is 'running' (nsid-eval finishes it): %s", buf);
    CHECK(tc_sql(db, "SELECT count(*) FROM epochs", buf, sizeof buf) && atoi(buf) == 13, "13 epoch rows: %s", buf);
    CHECK(tc_sql(db, "SELECT value FROM metrics WHERE scan='all' AND split='validation' AND name='corr'", buf,
                 sizeof buf) && fabs(atof(buf) - r.best_score) < 1e-12,
          "the selection score is recorded: %s", buf);
    CHECK(tc_sql(db, "SELECT count(*) FROM artifacts WHERE role='checkpoint'", buf, sizeof buf) && atoi(buf) == 1,
          "the checkpoint is an artifact");
    /* a rerun of a finished run does nothing */
    struct nsid_train_result r2;
    CHECK(train("direct", &c, data, 1, &r2, dir, sizeof dir) == 0 && r2.already_done && r2.epochs == 12,
          "a finished run is not trained again");
}

/* ------------------------------------------------------------------ §4.4 replay */

/* The algorithm of docs/paper.md §4.4 (torch ReduceLROnPlateau, mode max, abs threshold), from the scores. */
struct replay {
    double lr[TC_MAX_EPOCHS];
    char action[TC_MAX_EPOCHS][48];
    int last;              /* the epoch that stopped */
    double best;
};

static void act_str(char *s, bool snap, bool restore, bool stop)
{
    snprintf(s, 48, "%s%s%s%s", snap ? "snapshot" : "", snap && (restore || stop) ? "+" : "",
             restore ? "restore" : "", stop ? (restore ? "+stop" : "stop") : "");
    if (!s[0]) snprintf(s, 48, "-");
}

static void replay(const struct tc_epoch *e, int n, double lr0, int P, int R, int E, double tol, double factor,
                   double min_lr, struct replay *out)
{
    double best = e[0].val, lr = lr0, pbest = -INFINITY;
    int pbad = 0, epoch = 0;
    bool snap[TC_MAX_EPOCHS] = {0}, rest[TC_MAX_EPOCHS] = {0};
    snap[0] = true;
    for (int round = 0; round < R; round++) {
        int bad = 0;
        while (bad < P && epoch < E && epoch + 1 < n) {
            epoch++;
            out->lr[epoch] = lr;
            double cur = e[epoch].val;
            if (cur > pbest + tol) {
                pbest = cur;
                pbad = 0;
            } else {
                pbad++;
            }
            if (pbad > P) {
                double nl = fmax(lr * factor, min_lr);
                if (lr - nl > 1e-8) lr = nl;
                pbad = 0;
            }
            if (cur > best + tol) {
                best = cur;
                snap[epoch] = true;
                bad = 0;
            } else {
                bad++;
            }
        }
        if (epoch < E && R > 1) rest[epoch] = true;
    }
    rest[epoch] = true;
    out->last = epoch;
    out->best = best;
    for (int k = 0; k <= epoch; k++) act_str(out->action[k], snap[k], rest[k], k == epoch);
}

static void test_schedule(void)
{
    struct nsid_config c;
    /* short patience and a high LR: plateaus, decays and restores within few epochs */
    const char *extra[] = {"train.max_epochs=60", "train.patience=2", "train.lr=0.03", "train.min_lr=0.0005"};
    CHECK(config(&c, extra, 4) == 0, "config");
    const char *data[] = {scan_a};
    struct nsid_train_result r;
    char dir[4200], log[4300];
    CHECK(train("schedule", &c, data, 1, &r, dir, sizeof dir) == 0, "schedule run");
    path(log, sizeof log, dir, "train.log");
    static struct tc_epoch e[TC_MAX_EPOCHS];
    int n = tc_read_log(log, e, TC_MAX_EPOCHS);
    static struct replay p;
    replay(e, n, 0.03, 2, 3, 60, 1e-6, 0.3, 0.0005, &p);
    CHECK(n >= 2 && p.last == n - 1 && r.epochs == n - 1,
          "training stops where §4.4 stops: log %d epochs, replay stops at %d", n - 1, p.last);
    int lr_bad = 0, act_bad = 0, decays = 0, restores = 0;
    for (int k = 1; k < n && k <= p.last; k++) {
        if (e[k].lr != p.lr[k]) {
            if (!lr_bad) fprintf(stderr, "epoch %d: lr %.17g, replay %.17g\n", k, e[k].lr, p.lr[k]);
            lr_bad++;
        }
        decays += k > 1 && e[k].lr < e[k - 1].lr;
        restores += strstr(e[k].action, "restore") != NULL;
    }
    for (int k = 0; k < n && k <= p.last; k++)
        if (strcmp(e[k].action, p.action[k]) != 0) {
            if (!act_bad) fprintf(stderr, "epoch %d: action %s, replay %s\n", k, e[k].action, p.action[k]);
            act_bad++;
        }
    CHECK(lr_bad == 0, "the LR of every epoch follows ReduceLROnPlateau (x0.3 after patience, floor): %d differ",
          lr_bad);
    CHECK(act_bad == 0, "snapshots, restores and the stop happen at the epochs of §4.4: %d differ", act_bad);
    CHECK(decays >= 1 && restores >= 2, "the run exercised LR decays (%d) and restore-best rounds (%d)", decays,
          restores);
    CHECK(r.best_score == p.best, "the final model is the best state: %.17g vs %.17g", r.best_score, p.best);
    printf("schedule: %d epochs, %d LR decays, %d restores, best %.4f\n", n - 1, decays, restores, r.best_score);
}

/* ------------------------------------------------------------------ determinism */

static void test_determinism(void)
{
    struct nsid_config c;
    const char *extra[] = {"train.max_epochs=4", "train.seed=7"};
    CHECK(config(&c, extra, 2) == 0, "config");
    const char *data[] = {scan_a};
    struct nsid_train_result r1, r2;
    char d1[4200], d2[4200], c1[4300], c2[4300], why[512];
    CHECK(train("det1", &c, data, 1, &r1, d1, sizeof d1) == 0 && train("det2", &c, data, 1, &r2, d2, sizeof d2) == 0,
          "two runs");
    path(c1, sizeof c1, d1, "checkpoint.h5");
    path(c2, sizeof c2, d2, "checkpoint.h5");
    CHECK(tc_h5_same(c1, c2, why, sizeof why), "same config and seed: bit-identical checkpoints (%s)", why);
    CHECK(r1.best_score == r2.best_score, "and identical scores");
    const char *extra3[] = {"train.max_epochs=4", "train.seed=8"};
    struct nsid_train_result r3;
    char d3[4200], c3[4300];
    CHECK(config(&c, extra3, 2) == 0 && train("det3", &c, data, 1, &r3, d3, sizeof d3) == 0, "another seed");
    path(c3, sizeof c3, d3, "checkpoint.h5");
    CHECK(!tc_h5_same(c1, c3, why, sizeof why), "another seed gives another model");
}

/* ------------------------------------------------------------------ transfer */

static void test_transfer(void)
{
    struct nsid_config c;
    const char *extra[] = {"train.max_epochs=3"};
    CHECK(config(&c, extra, 1) == 0, "config");
    const char *da[] = {scan_a}, *db[] = {scan_b};
    struct nsid_train_result ra, rb;
    char dir_a[4200], dir_b[4200], ca[4300], cb[4300], set[4400];
    CHECK(train("core", &c, da, 1, &ra, dir_a, sizeof dir_a) == 0, "core run");
    path(ca, sizeof ca, dir_a, "checkpoint.h5");
    snprintf(set, sizeof set, "model.core.checkpoint=%s", ca);
    const char *extra_b[] = {"train.max_epochs=3", "train.detach_core=true", set};
    CHECK(config(&c, extra_b, 3) == 0, "transfer config");
    CHECK(train("transfer", &c, db, 1, &rb, dir_b, sizeof dir_b) == 0, "transfer run on another animal");
    path(cb, sizeof cb, dir_b, "checkpoint.h5");
    static const char *const frozen[] = {"core/features/layer0/conv/weight", "core/features/layer1/ds_conv/spatial_conv/weight",
                                         "core/features/layer0/norm/weight", "core/features/layer1/norm/bias"};
    for (int i = 0; i < 4; i++) {
        size_t n1 = 0, n2 = 0;
        float *x = tc_h5_floats(ca, frozen[i], &n1), *y = tc_h5_floats(cb, frozen[i], &n2);
        CHECK(x && y && n1 == n2 && memcmp(x, y, n1 * sizeof *x) == 0, "transfer leaves %s bit-identical", frozen[i]);
        free(x);
        free(y);
    }
    size_t n1 = 0, n2 = 0;
    float *m1 = tc_h5_floats(ca, "core/features/layer1/norm/running_mean", &n1);
    float *m2 = tc_h5_floats(cb, "core/features/layer1/norm/running_mean", &n2);
    int changed = 0;
    for (size_t i = 0; m1 && m2 && i < n1 && n1 == n2; i++) changed += m1[i] != m2[i];
    CHECK(changed == (int)n1 && n1 > 0, "BN running statistics are re-estimated on the new data (%d of %zu changed)",
          changed, n1);
    free(m1);
    free(m2);
    char log[4300];
    path(log, sizeof log, dir_b, "train.log");
    FILE *f = fopen(log, "r");
    char line[1024];
    bool named = false;
    while (f && fgets(line, sizeof line, f)) named |= strstr(line, "core: se2d from") && strstr(line, "frozen");
    if (f) fclose(f);
    CHECK(named, "the log names the transferred, frozen core");
}

/* ------------------------------------------------------------------ random cores, round robin */

static void test_random_core(void)
{
    struct nsid_config c;
    const char *extra[] = {"train.max_epochs=2", "model.core.random=true", "train.detach_core=true",
                           "model.core.hidden_channels=16"};
    CHECK(config(&c, extra, 4) == 0, "random core config");
    const char *data[] = {scan_a};
    struct nsid_train_result r;
    char dir[4200], ck[4300];
    CHECK(train("random", &c, data, 1, &r, dir, sizeof dir) == 0, "random frozen core run");
    path(ck, sizeof ck, dir, "checkpoint.h5");
    /* the same network freshly initialised from the seed */
    struct nsid_err err = {0};
    struct nsid_scan s;
    struct nsid_scan_opts so = {.skip_extra = true};
    CHECK(nsid_scan_load(&s, scan_a, &so, &err) == 0, "load scan");
    struct nsid_model_scan ms;
    nsid_model_scan_from(&ms, &s);
    struct nsid_model net;
    CHECK(nsid_net_init(&net, &c, &ms, 1, NULL, &err) == 0, "net");
    struct nsid_params *ps = &net.ps;
    int same = 0, total = 0;
    for (int i = 0; i < ps->n; i++) {
        const struct nsid_param *p = &ps->p[i];
        if (p->kind != NSID_PARAM_WEIGHT || strncmp(p->name, "core.", 5) != 0) continue;
        char h5[256];
        snprintf(h5, sizeof h5, "%s", p->name);
        for (char *q = h5; *q; q++) *q = *q == '.' ? '/' : *q;
        size_t n = 0;
        float *x = tc_h5_floats(ck, h5, &n);
        total++;
        same += x && n == p->numel && memcmp(x, nsid_params_data(ps, p), n * sizeof *x) == 0;
        free(x);
    }
    CHECK(total > 0 && same == total, "a random core keeps its initialisation: %d of %d tensors", same, total);
    nsid_model_free(&net);
    nsid_scan_free(&s);
}

static void test_round_robin(void)
{
    struct nsid_config c;
    const char *extra[] = {"train.max_epochs=3"};
    CHECK(config(&c, extra, 1) == 0, "config");
    const char *data[] = {scan_a, scan_c};
    struct nsid_train_result r;
    char dir[4200];
    CHECK(train("two_scans", &c, data, 2, &r, dir, sizeof dir) == 0, "two scans");
    /* 192 and 96 training trials, batch 16: 12 and 6 batches; one epoch = 2 x 12 batches, 12 rounds */
    CHECK(r.adam_steps == r.epochs * 12, "one Adam step per round of one batch from each scan: %lld steps, %lld epochs",
          (long long)r.adam_steps, (long long)r.epochs);
}

/* ------------------------------------------------------------------ interrupt mid-epoch */

/* A progress stream that raises the stop flag on its first line (epoch 1, after round 1). */
static volatile sig_atomic_t g_stop;
static ssize_t stop_on_write(void *cookie, const char *buf, size_t n)
{
    (void)cookie;
    if (memmem(buf, n, "batch ", 6)) g_stop = SIGTERM;
    return (ssize_t)n;
}

static void test_interrupt_mid_epoch(void)
{
    struct nsid_config c;
    const char *extra[] = {"train.max_epochs=3"};
    CHECK(config(&c, extra, 1) == 0, "config");
    const char *data[] = {scan_a, scan_c};
    char ref[4200], dir[4200], c1[4300], c2[4300], why[512];
    struct nsid_train_result r;
    CHECK(train("mid_ref", &c, data, 2, &r, ref, sizeof ref) == 0, "uninterrupted two-scan run");
    snprintf(dir, sizeof dir, "%s/mid", tmp);
    cookie_io_functions_t io = {.write = stop_on_write};
    FILE *prog = fopencookie(NULL, "w", io);
    setvbuf(prog, NULL, _IONBF, 0);
    g_stop = 0;
    struct nsid_train_opts o = {.data = data, .n_data = 2, .out_dir = dir, .stop = &g_stop, .progress = prog};
    struct nsid_err err = {0};
    int rc = nsid_train_run(&c, &o, &r, &err);
    fclose(prog);
    CHECK(rc == 0 && r.interrupted && r.signal == SIGTERM && r.epochs == 0,
          "the stop flag interrupts epoch 1 after its first round");
    char log[4300];
    path(log, sizeof log, dir, "train.log");
    struct tc_epoch e[8];
    CHECK(tc_read_log(log, e, 8) == 1, "only epoch 0 was logged before the interrupt");
    o.stop = NULL;
    o.progress = NULL;
    rc = nsid_train_run(&c, &o, &r, &err);
    CHECK(rc == 0 && r.resumed && !r.interrupted && r.epochs == 3 && r.adam_steps == 36,
          "the rerun resumes mid-epoch and finishes (%lld Adam steps)", (long long)r.adam_steps);
    path(c1, sizeof c1, ref, "checkpoint.h5");
    path(c2, sizeof c2, dir, "checkpoint.h5");
    CHECK(tc_h5_same(c1, c2, why, sizeof why), "resumed mid-epoch: bit-identical to the uninterrupted run (%s)", why);
}

/* ------------------------------------------------------------------ VGG16 */

static void test_vgg(void)
{
    struct nsid_config c;
    char set[4400];
    snprintf(set, sizeof set, "model.core.checkpoint=%s", check_fixture("vgg16_torchvision.h5"));
    const char *extra[] = {"train.max_epochs=2", "model.core.type=vgg16", "train.detach_core=true",
                           "data.normalize_images=true", set};
    CHECK(config(&c, extra, 5) == 0, "vgg16 config");
    const char *data[] = {scan_a};
    struct nsid_train_result r;
    char dir[4200], ck[4300];
    CHECK(train("vgg", &c, data, 1, &r, dir, sizeof dir) == 0, "VGG16 core run");
    path(ck, sizeof ck, dir, "checkpoint.h5");
    size_t n1 = 0, n2 = 0;
    float *x = tc_h5_floats(ck, "core/features/TransferLearning/7/weight", &n1);
    float *y = tc_h5_floats(check_fixture("vgg16_torchvision.h5"), "features.7.weight", &n2);
    CHECK(x && y && n1 == n2 && n1 == 128 * 128 * 9 && memcmp(x, y, n1 * sizeof *x) == 0,
          "VGG16 conv2_2 stays the file's weights");
    free(x);
    free(y);
    x = tc_h5_floats(ck, "core/features/OutBatchNorm/running_mean", &n1);
    int nz = 0;
    for (size_t i = 0; x && i < n1; i++) nz += x[i] != 0.0f;
    CHECK(x && n1 == 128 && nz > 64, "the BN after conv2_2 re-estimates its running mean (%d of 128 non-zero)", nz);
    free(x);
    CHECK(r.best_score > 0.05, "readouts on VGG16 features learn something: %.3f", r.best_score);
    /* without the feature cache: the same model, bit for bit */
    char dir2[4200], ck2[4300], why[512];
    snprintf(dir2, sizeof dir2, "%s/vgg_nocache", tmp);
    struct nsid_train_opts o = {.data = data, .n_data = 1, .out_dir = dir2, .cache_mb = -1};
    struct nsid_err err = {0};
    struct nsid_train_result r2;
    CHECK(nsid_train_run(&c, &o, &r2, &err) == 0, "VGG16 run without the feature cache");
    path(ck2, sizeof ck2, dir2, "checkpoint.h5");
    CHECK(tc_h5_same(ck, ck2, why, sizeof why), "the VGG16 feature cache changes nothing (%s)", why);
    /* the random VGG16 is labelled random */
    const char *extra2[] = {"train.max_epochs=1", "model.core.type=vgg16", "train.detach_core=true",
                            "data.normalize_images=true", "model.core.random=true"};
    CHECK(config(&c, extra2, 5) == 0, "random vgg16 config");
    CHECK(train("vgg_random", &c, data, 1, &r, dir, sizeof dir) == 0, "random VGG16 run");
    char log[4300], line[1024];
    path(log, sizeof log, dir, "train.log");
    FILE *f = fopen(log, "r");
    bool labelled = false;
    while (f && fgets(line, sizeof line, f)) labelled |= strstr(line, "vgg16 RANDOM") != NULL;
    if (f) fclose(f);
    CHECK(labelled, "the random VGG16 is labelled RANDOM in the log");
    char db[4300], buf[4096];
    path(db, sizeof db, dir, "run.db");
    CHECK(tc_sql(db, "SELECT config FROM runs", buf, sizeof buf) && strstr(buf, "\"random\":true") &&
              strstr(buf, "\"type\":\"vgg16\""),
          "the run record says random vgg16");
    CHECK(tc_sql(db, "SELECT value FROM metrics WHERE split='model' AND name='core_random'", buf, sizeof buf) &&
              atof(buf) == 1.0,
          "and its metrics carry core_random = 1: %s", buf);
}

int main(void)
{
    dt_tmpdir(tmp, sizeof tmp, "train");
    struct tt_scan o;
    tt_default(&o);
    snprintf(scan_a, sizeof scan_a, "%s/static10001-1-1-preproc0.h5", tmp);
    snprintf(scan_b, sizeof scan_b, "%s/static10002-1-1-preproc0.h5", tmp);
    snprintf(scan_c, sizeof scan_c, "%s/static10001-1-2-preproc0.h5", tmp);
    int rc = tt_make_scan(scan_a, &o);
    o.seed = 2;
    o.animal_seed = 12;
    rc |= tt_make_scan(scan_b, &o);
    o.seed = 3;
    o.animal_seed = 11;
    o.n_train = 96;
    o.N = 20;
    rc |= tt_make_scan(scan_c, &o);
    CHECK(rc == 0, "synthetic scans written");
    test_direct();
    test_schedule();
    test_determinism();
    test_transfer();
    test_random_core();
    test_round_robin();
    test_interrupt_mid_epoch();
    test_vgg();
    int status = check_summary("train");
    if (status == 0) dt_rmtree(tmp);
    return status;
}
