/* train.c - one training run as docs/paper.md §4, interruptible and resumable (see train.h). */
#include "train.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/path.h"
#include "data/scanid.h"
#include "exp/eval.h"
#include "exp/net.h"
#include "exp/identity.h"
#include "exp/rundata.h"
#include "exp/store.h"
#include "exp/train_int.h"
#include "nn/checkpoint.h"

#define DNAN ((double)NAN)

/* Everything one run holds. */
struct trainer {
    const struct nsid_config *c;
    const struct nsid_train_opts *o;
    char run_id[NSID_SHA256_HEX];
    char *canonical;                       /* canonical configuration JSON */
    char ckpt[NSID_ERR_FILE_MAX], state_path[NSID_ERR_FILE_MAX], log_path[NSID_ERR_FILE_MAX],
        db[NSID_ERR_FILE_MAX];
    struct nsid_run_data data;
    struct nsid_model model;               /* the run's model (net.h builds it from the configuration) */
    struct nsid_evaluator ev;
    struct nsid_cycler cyc;
    struct nsid__snapshot best;
    struct nsid__train_state st;
    int64_t **ints;                        /* (n_ints) the network's int64 entries */
    int n_ints;
    char (*data_sha)[NSID_SHA256_HEX];     /* (n_data) the scans' identities, NULL until computed */
    struct nsid_store store;
    bool recorded;                         /* the run row exists: failures are recorded */
    FILE *log;
    float *img, *resp;                     /* (B, C*H*W), (B, N_max) batch buffers */
    float *beh, *pupil;                    /* (B, 3), (B, 2): with a modulator / shifter, else NULL */
    struct nsid_adam_config adam;
    struct nsid_store_clock clk;
    struct timespec t_epoch;               /* start of the epoch in progress (monotonic) */
    struct timespec t_progress;            /* last progress line */
    struct timespec t_run;                 /* start of this process's training */
};

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

/* ---------------------------------------------------------------- log and progress */

static void logf_(struct trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct trainer *t, const char *fmt, ...)
{
    if (!t->log) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(t->log, fmt, ap);
    va_end(ap);
    fputc('\n', t->log);
    fflush(t->log);
}

static void hms(char *buf, size_t n, double s)
{
    if (!(s >= 0) || s > 1e8) {
        snprintf(buf, n, "--:--:--");
        return;
    }
    long x = (long)(s + 0.5);
    snprintf(buf, n, "%02ld:%02ld:%02ld", x / 3600, x / 60 % 60, x % 60);
}

/* The live line: epoch, batch, loss, validation correlation, lr, elapsed, ETA of the epoch. */
static void progress(struct trainer *t, bool force)
{
    FILE *f = t->o->progress;
    if (!f || (!force && seconds_since(&t->t_progress) < 0.25)) return;
    clock_gettime(CLOCK_MONOTONIC, &t->t_progress);
    int64_t len = nsid_batch_cycler_epoch_len(&t->cyc), done = t->st.step;
    double el = t->st.epoch_seconds + seconds_since(&t->t_epoch);
    double eta = done > 0 ? el / (double)done * (double)(len - done) : -1;
    char e1[48], e2[48];
    hms(e1, sizeof e1, seconds_since(&t->t_run));
    hms(e2, sizeof e2, eta);
    fprintf(f, "\r\033[Kepoch %lld/%lld  batch %lld/%lld  loss %.4g  val %.4f (best %.4f)  lr %.3g  elapsed %s  ETA %s",
            (long long)t->st.epoch + 1, (long long)t->c->train.max_epochs, (long long)done, (long long)len,
            t->st.loss_batches ? t->st.loss_sum / (double)t->st.loss_batches : DNAN, t->st.sched.current,
            t->st.sched.best, t->st.sched.lr, e1, e2);
    fflush(f);
}

/* ---------------------------------------------------------------- snapshots */

static int snapshot_alloc(struct trainer *t, struct nsid_err *err)
{
    struct nsid_params *ps = &t->model.ps;
    t->best.w = NSID_ALLOC((ps->n_weights ? ps->n_weights : 1) * sizeof(float), err);
    t->best.buf = NSID_ALLOC((ps->n_buffers ? ps->n_buffers : 1) * sizeof(float), err);
    t->best.ints = NSID_CALLOC((size_t)(t->n_ints ? t->n_ints : 1) * sizeof(int64_t), err);
    return t->best.w && t->best.buf && t->best.ints ? 0 : NSID_ENOMEM;
}

/* best <- model (weights, buffers, num_batches_tracked: PyTorch's state_dict copy). */
static void snapshot_take(struct trainer *t)
{
    struct nsid_params *ps = &t->model.ps;
    memcpy(t->best.w, ps->w, ps->n_weights * sizeof(float));
    memcpy(t->best.buf, ps->buf, ps->n_buffers * sizeof(float));
    for (int i = 0; i < t->n_ints; i++) t->best.ints[i] = *t->ints[i];
    t->best.valid = true;
}

/* model <- best; Adam moments and the schedule stay (§4.4). */
static void snapshot_restore(struct trainer *t)
{
    struct nsid_params *ps = &t->model.ps;
    NSID_ASSERT(t->best.valid);
    memcpy(ps->w, t->best.w, ps->n_weights * sizeof(float));
    memcpy(ps->buf, t->best.buf, ps->n_buffers * sizeof(float));
    for (int i = 0; i < t->n_ints; i++) *t->ints[i] = t->best.ints[i];
}

static const char *action_name(unsigned act, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s%s", act & NSID_SCHED_SNAPSHOT ? "snapshot" : "",
             (act & NSID_SCHED_SNAPSHOT) && (act & (NSID_SCHED_RESTORE | NSID_SCHED_STOP)) ? "+" : "",
             act & NSID_SCHED_RESTORE ? "restore" : "",
             (act & NSID_SCHED_STOP) ? (act & NSID_SCHED_RESTORE ? "+stop" : "stop") : "");
    if (!buf[0]) snprintf(buf, n, "-");
    return buf;
}

static void apply(struct trainer *t, unsigned act)
{
    if (act & NSID_SCHED_SNAPSHOT) snapshot_take(t);
    if (act & NSID_SCHED_RESTORE) snapshot_restore(t);
}

/* ---------------------------------------------------------------- setup */

static int paths(struct trainer *t, struct nsid_err *err)
{
    const char *d = t->o->out_dir;
    if (!d || !d[0]) return nsid_err_set(err, NSID_EINVAL, NULL, 0, "--out", "an output folder is required");
    if (strlen(d) > NSID_ERR_FILE_MAX - 64)
        return nsid_err_set(err, NSID_EINVAL, d, 0, "--out", "path longer than %d", NSID_ERR_FILE_MAX - 64);
    snprintf(t->ckpt, sizeof t->ckpt, "%.440s/%s", d, NSID_TRAIN_CHECKPOINT);
    snprintf(t->state_path, sizeof t->state_path, "%.440s/%s", d, NSID_TRAIN_STATE_FILE);
    snprintf(t->log_path, sizeof t->log_path, "%.440s/%s", d, NSID_TRAIN_LOG);
    if (t->o->db_path) snprintf(t->db, sizeof t->db, "%s", t->o->db_path);
    else snprintf(t->db, sizeof t->db, "%.440s/run.db", d);
    return nsid_path_mkdirs(d, "--out", err);
}

/*
 * Remove the temporary files "<name>.tmp<pid>" (name: the checkpoint or the state file)
 * that a process killed while writing left in the output folder; files of a live pid are
 * kept. Without this every crash during a write would leave one behind for good.
 */
static void remove_stale_temps(const struct trainer *t)
{
    const char *names[2] = {NSID_TRAIN_CHECKPOINT, NSID_TRAIN_STATE_FILE};
    DIR *d = opendir(t->o->out_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        for (int i = 0; i < 2; i++) {
            size_t n = strlen(names[i]);
            const char *p = e->d_name + n + 4;
            if (strncmp(e->d_name, names[i], n) || strncmp(e->d_name + n, ".tmp", 4) || !*p ||
                strspn(p, "0123456789") != strlen(p))
                continue;
            long pid = strtol(p, NULL, 10);
            if (pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
                char path[NSID_ERR_FILE_MAX + 300];
                snprintf(path, sizeof path, "%.440s/%.255s", t->o->out_dir, e->d_name);
                unlink(path);
            }
        }
    }
    if (d) closedir(d);
}

/* Batch buffers, evaluator, cycler, snapshot, the state's views of the live objects. */
static int buffers(struct trainer *t, struct nsid_err *err)
{
    size_t B = (size_t)nsid_batch_views_max_batch(t->data.views, t->data.n_scans, t->c->train.batch_size), pix = 1, nmax = 1;
    for (int s = 0; s < t->data.n_scans; s++) {
        const struct nsid_scan *sc = &t->data.scans[s];
        size_t p = (size_t)sc->channels * (size_t)sc->height * (size_t)sc->width;
        if (p > pix) pix = p;
        if ((size_t)t->data.views[s].n_neurons > nmax) nmax = (size_t)t->data.views[s].n_neurons;
    }
    t->img = NSID_ALLOC(B * pix * sizeof(float), err);
    t->resp = NSID_ALLOC(B * nmax * sizeof(float), err);
    if (!t->img || !t->resp) return NSID_ENOMEM;
    if (t->c->model.modulator && !(t->beh = NSID_ALLOC(B * 3 * sizeof(float), err))) return NSID_ENOMEM;
    if (t->c->model.shifter && !(t->pupil = NSID_ALLOC(B * 2 * sizeof(float), err))) return NSID_ENOMEM;
    int rc = nsid_evaluator_init(&t->ev, t->data.views, t->data.n_scans, (int)B, err);
    if (rc == 0)
        rc = nsid_batch_cycler_init(&t->cyc, t->data.views, t->data.n_scans, (int64_t)B, (uint64_t)t->c->train.seed, err);
    if (rc < 0) return rc;
    struct nsid_checkpoint_i64 *e = t->model.ck_ints;
    t->n_ints = t->model.n_ck_ints;
    t->ints = NSID_CALLOC((size_t)(t->n_ints ? t->n_ints : 1) * sizeof *t->ints, err);
    if (!t->ints) return NSID_ENOMEM;
    for (int i = 0; i < t->n_ints; i++) t->ints[i] = e[i].data;
    if ((rc = snapshot_alloc(t, err)) < 0) return rc;
    struct nsid__train_state *st = &t->st;
    snprintf(st->run_id, sizeof st->run_id, "%s", t->run_id);
    st->ps = &t->model.ps;
    st->ints = t->ints;
    st->n_ints = t->n_ints;
    st->best = &t->best;
    st->cycler = &t->cyc;
    nsid_rng_init(&st->sample, (uint64_t)t->c->train.seed, NSID_STREAM_SAMPLE);
    t->adam.beta1 = t->c->train.adam_beta1;
    t->adam.beta2 = t->c->train.adam_beta2;
    t->adam.eps = t->c->train.adam_eps;
    t->adam.lr = t->c->train.lr;
    size_t cached = 0;
    int64_t mb = t->o->cache_mb ? t->o->cache_mb : NSID_TRAIN_CACHE_MB;
    if (mb > 0 && (rc = nsid_model_set_cache(&t->model, (size_t)mb << 20, &cached, err)) < 0) return rc;
    return nsid_model_alloc_state(&t->model, (int)B, err);
}

/* Gather trials of scan s into the batch buffers as a model batch. */
static struct nsid_model_batch gather(struct trainer *t, int s, const int64_t *trials, int64_t n)
{
    struct nsid_batch bt = {.scan = s, .images = t->img, .responses = t->resp, .behavior = t->beh,
                            .pupil_center = t->pupil};
    nsid_batch_view_gather(&t->data.views[s], trials, n, &bt);
    nsid_model_set_trials(&t->model, trials);
    return (struct nsid_model_batch){.scan = s, .B = (int)n, .images = t->img, .responses = t->resp,
                                     .pupil = t->pupil, .behavior = t->beh};
}

/* Readout bias = mean response of a first training batch of each scan (§2.1). */
static int init_bias(struct trainer *t, struct nsid_err *err)
{
    for (int s = 0; s < t->data.n_scans; s++) {
        struct nsid_train_iter it;
        int rc = nsid_batch_train_iter_init(&it, &t->data.views[s], t->c->train.batch_size, (uint64_t)t->c->train.seed,
                                      (uint64_t)NSID_TRAIN_STREAM_BIAS + ((uint64_t)s << 32), err);
        if (rc < 0) return rc;
        const int64_t *trials;
        int64_t n = nsid_batch_train_iter_next(&it, &trials);
        gather(t, s, trials, n);
        int64_t N = t->data.views[s].n_neurons;
        double *acc = NSID_CALLOC((size_t)N * sizeof *acc, err);
        float *mean = NSID_ALLOC((size_t)N * sizeof *mean, err);
        if (!acc || !mean) rc = NSID_ENOMEM;
        for (int64_t b = 0; rc == 0 && b < n; b++)
            for (int64_t j = 0; j < N; j++) acc[j] += (double)t->resp[b * N + j];
        for (int64_t j = 0; rc == 0 && j < N; j++) mean[j] = (float)(acc[j] / (double)n);
        if (rc == 0) nsid_model_set_bias(&t->model, s, mean);
        nsid_model_set_trials(&t->model, NULL); /* no forward of this batch */
        nsid_alloc_free(acc);
        nsid_alloc_free(mean);
        nsid_batch_train_iter_free(&it);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- records */

static int record_epoch(struct trainer *t, int64_t epoch, int64_t round, double lr, double loss, double val,
                        double secs, struct nsid_err *err)
{
    struct nsid_store_epoch e = {.epoch = epoch, .round = round, .lr = lr, .train_loss = loss, .val_corr = val,
                                 .seconds = secs};
    return nsid_store_epoch(&t->store, t->run_id, &e, err);
}

int nsid_train_default_id(const struct nsid_config *c, const char *const *data, int n_data,
                          char id[NSID_SHA256_HEX], char (*data_sha)[NSID_SHA256_HEX], struct nsid_err *err)
{
    char (*sha)[NSID_SHA256_HEX] = data_sha;
    if (!sha && !(sha = NSID_ALLOC((size_t)(n_data ? n_data : 1) * sizeof *sha, err))) return NSID_ENOMEM;
    const char **ptr = NSID_ALLOC((size_t)(n_data ? n_data : 1) * sizeof *ptr, err);
    int rc = ptr ? 0 : NSID_ENOMEM;
    for (int i = 0; rc == 0 && i < n_data; i++) {
        rc = nsid_scanid_id(data[i], NULL, sha[i], NULL, err);
        ptr[i] = sha[i];
    }
    char core[NSID_SHA256_HEX + 8] = "";
    if (rc == 0 && c->model.core.checkpoint[0]) {
        char hex[NSID_SHA256_HEX];
        rc = nsid_scanid_file_sha256(c->model.core.checkpoint, hex, NULL, err);
        if (rc < 0) nsid_err_context(err, NULL, 0, "model.core.checkpoint", NULL);
        snprintf(core, sizeof core, "sha256:%s", hex);
    }
    if (rc == 0) {
        size_t len = nsid_identity_plan(c, core, ptr, n_data, NULL, 0, NULL);
        char *buf = len ? NSID_ALLOC(len + 1, err) : NULL;
        if (!buf) rc = NSID_ENOMEM;
        else nsid_identity_plan(c, core, ptr, n_data, buf, len + 1, id);
        nsid_alloc_free(buf);
    }
    nsid_alloc_free(ptr);
    if (sha != data_sha) nsid_alloc_free(sha);
    return rc;
}

/* The scans' identities (for the store's datasets), computed once. */
static int data_hashes(struct trainer *t, struct nsid_err *err)
{
    if (t->data_sha) return 0;
    int n = t->o->n_data;
    if (!(t->data_sha = NSID_ALLOC((size_t)(n ? n : 1) * sizeof *t->data_sha, err))) return NSID_ENOMEM;
    for (int i = 0; i < n; i++) {
        int rc = nsid_scanid_id(t->o->data[i], NULL, t->data_sha[i], NULL, err);
        if (rc < 0) return rc;
    }
    return 0;
}

static int record_begin(struct trainer *t, bool fresh, struct nsid_err *err)
{
    char parent[NSID_STORE_ID_MAX] = "";
    if (t->o->parent) snprintf(parent, sizeof parent, "%s", t->o->parent);
    else if (t->c->model.core.checkpoint[0] && t->c->model.core.type == NSID_CFG_CORE_SE2D) {
        struct nsid_err e2 = {0};
        if (nsid_store_parent_of(t->c->model.core.checkpoint, parent, &e2) < 0) parent[0] = '\0';
    }
    struct nsid_store_run run = {.id = t->run_id, .experiment = t->o->experiment, .config_json = t->canonical,
                                 .parent = parent, .threads = nsid_pool_threads(&t->model.pool),
                                 .fresh = fresh};
    int rc = data_hashes(t, err); /* before the run row: a scan that cannot be read fails the command, not the run */
    if (rc == 0) rc = nsid_store_run_begin(&t->store, &run, err);
    if (rc < 0) return rc;
    t->recorded = true;
    for (int s = 0; rc == 0 && s < t->data.n_scans; s++) {
        const struct nsid_scan *sc = &t->data.scans[s];
        int64_t n[NSID_TIER_COUNT];
        nsid_scan_tier_counts(sc, n);
        char animal[32] = "";
        if (sc->animal_ids) snprintf(animal, sizeof animal, "%lld", (long long)sc->animal_ids[0]);
        struct nsid_store_dataset d = {.path = t->o->data[s], .sha256 = t->data_sha[s], .data_key = sc->data_key,
                                       .animal = animal[0] ? animal : NULL, .n_neurons = sc->n_neurons,
                                       .n_trials = sc->n_trials, .n_train = n[NSID_TIER_TRAIN],
                                       .n_validation = n[NSID_TIER_VALIDATION], .n_test = n[NSID_TIER_TEST]};
        rc = nsid_store_run_dataset(&t->store, t->run_id, s, &d, t->data.views[s].n_tier[NSID_TIER_TRAIN],
                                    t->data.views[s].n_neurons, err);
    }
    if (rc == 0 && t->c->model.core.checkpoint[0]) {
        struct nsid_err e2 = {0};
        nsid_store_artifact(&t->store, t->run_id, t->c->model.core.checkpoint, "core", &e2);
    }
    return rc;
}

/* ---------------------------------------------------------------- training */

/* Write the state (atomically); the log notes failures but they stop the run. */
static int save_state(struct trainer *t, struct nsid_err *err)
{
    return nsid__train_state_save(&t->st, t->state_path, err);
}

/* One line of the log and one epoch row for the score just fed to the schedule. */
static int epoch_done(struct trainer *t, int64_t epoch, double lr_used, unsigned act, double secs,
                      struct nsid_err *err)
{
    const struct nsid_schedule *s = &t->st.sched;
    double loss = t->st.loss_batches ? t->st.loss_sum / (double)t->st.loss_batches : DNAN;
    char an[48];
    logf_(t,
          "epoch=%lld round=%lld lr=%.17g next_lr=%.17g loss=%.17g val_corr=%.17g best=%.17g best_epoch=%lld "
          "bad=%lld plateau_bad=%lld decays=%lld action=%s seconds=%.3f",
          (long long)epoch, (long long)s->round, lr_used, s->lr, loss, s->current, s->best, (long long)s->best_epoch,
          (long long)s->bad, (long long)s->plateau_bad, (long long)s->n_decays, action_name(act, an, sizeof an), secs);
    return record_epoch(t, epoch, s->round, lr_used, loss, s->current, secs, err);
}

/* Rounds of the epoch in progress until it ends (0) or *stop asks to stop (1). */
static int train_rounds(struct trainer *t)
{
    int s;
    const int64_t *trials;
    int64_t n;
    bool round_done;
    t->adam.lr = t->st.sched.lr;
    nsid_model_zero_grad(&t->model);
    while (nsid_batch_cycler_next(&t->cyc, &s, &trials, &n, &round_done)) {
        struct nsid_model_batch b = gather(t, s, trials, n);
        t->st.loss_sum += nsid_model_train_batch(&t->model, &b, &t->st.sample);
        t->st.loss_batches++;
        if (!round_done) continue;
        nsid_model_adam_step(&t->model, &t->adam); /* one step per round of n_scans batches (§4.3) */
        nsid_model_zero_grad(&t->model);
        t->st.step = t->cyc.step;
        progress(t, false);
        if (t->o->stop && *t->o->stop && t->st.step < nsid_batch_cycler_epoch_len(&t->cyc)) return 1;
    }
    return 0;
}

/* Epoch 0: the untrained model's score starts the schedule. */
static int start(struct trainer *t, struct nsid_err *err)
{
    struct nsid_schedule_opts so;
    nsid_config_schedule_opts(t->c, &so);
    int rc = nsid_schedule_init(&t->st.sched, &so, err);
    if (rc == 0) rc = init_bias(t, err);
    if (rc < 0) return rc;
    clock_gettime(CLOCK_MONOTONIC, &t->t_epoch);
    double score = nsid_eval_val_score(&t->ev, &t->model, NULL);
    unsigned act = nsid_schedule_start(&t->st.sched, score);
    apply(t, act);
    t->st.epoch = 0;
    t->st.step = 0;
    t->st.finished = false;
    rc = epoch_done(t, 0, t->st.sched.lr, act, seconds_since(&t->t_epoch), err);
    if (rc == 0) rc = save_state(t, err);
    return rc;
}

/* Train until the schedule stops (0) or an interrupt (1). */
static int loop(struct trainer *t, struct nsid_err *err)
{
    while (!nsid_schedule_done(&t->st.sched)) {
        clock_gettime(CLOCK_MONOTONIC, &t->t_epoch);
        if (t->st.step == 0) {
            nsid_batch_cycler_start_epoch(&t->cyc);
            t->st.loss_sum = 0.0;
            t->st.loss_batches = 0;
            t->st.epoch_seconds = 0.0;
        }
        double lr = t->st.sched.lr;
        if (train_rounds(t)) {
            t->st.epoch_seconds += seconds_since(&t->t_epoch);
            int rc = save_state(t, err);
            return rc < 0 ? rc : 1;
        }
        /* A loss that is no longer a number poisons every parameter through the next step: the
         * run fails here, naming the epoch (its state is not saved over the last good one). */
        if (!isfinite(t->st.loss_sum))
            return nsid_err_set(err, NSID_EINVAL, t->o->out_dir, 0, "train",
                                "epoch %lld: the training loss became %g (diverged: lower train.lr, or check the "
                                "scan's responses and statistics); the run is failed",
                                (long long)t->st.epoch + 1, t->st.loss_sum);
        double score = nsid_eval_val_score(&t->ev, &t->model, NULL);
        unsigned act = nsid_schedule_step(&t->st.sched, score);
        apply(t, act);
        double secs = t->st.epoch_seconds + seconds_since(&t->t_epoch);
        t->st.epoch++;
        int rc = epoch_done(t, t->st.epoch, lr, act, secs, err);
        progress(t, true);
        t->st.step = 0;
        t->st.epoch_seconds = 0.0;
        if (rc == 0) rc = save_state(t, err);
        if (rc < 0) return rc;
        if (t->o->stop && *t->o->stop && !nsid_schedule_done(&t->st.sched)) return 1;
    }
    return 0;
}

size_t nsid_train_arch(const char *canonical_config, const char *model_json, char *buf, size_t n)
{
    int k = snprintf(buf, n, "{\"format\":\"nsid-run\",\"config\":%s,\"model\":%s}", canonical_config, model_json);
    return k < 0 ? 0 : (size_t)k;
}

/* Save the final (restored best) model to <out>/checkpoint.h5. */
static int save_checkpoint(struct trainer *t, struct nsid_err *err)
{
    size_t nm = (size_t)nsid_model_arch_json(&t->model, NULL, 0) + 1;
    char *model = NSID_ALLOC(nm, err);
    if (!model) return NSID_ENOMEM;
    nsid_model_arch_json(&t->model, model, nm);
    size_t na = nsid_train_arch(t->canonical, model, NULL, 0) + 1;
    char *arch = NSID_ALLOC(na, err);
    int rc = arch ? 0 : NSID_ENOMEM;
    if (rc == 0) {
        nsid_train_arch(t->canonical, model, arch, na);
        struct nsid_checkpoint ck;
        nsid_model_checkpoint(&t->model, &ck, arch);
        rc = nsid_checkpoint_save(&ck, t->ckpt, false, err);
    }
    nsid_alloc_free(model);
    nsid_alloc_free(arch);
    return rc;
}

/* Checkpoint, records and the finished state. */
static int finish(struct trainer *t, struct nsid_train_result *res, struct nsid_err *err)
{
    int rc = save_checkpoint(t, err);
    const struct nsid_schedule *s = &t->st.sched;
    res->epochs = s->epoch;
    res->adam_steps = t->model.ps.adam_t;
    res->best_epoch = s->best_epoch;
    res->best_score = s->best;
    logf_(t, "finished: %lld epochs, best epoch %lld, validation correlation %.17g; %s", (long long)s->epoch,
          (long long)s->best_epoch, s->best, t->ckpt);
    if (rc == 0) rc = nsid_store_begin(&t->store, err);
    if (rc < 0) return rc;
    struct nsid_store_metric m[] = {
        {NSID_STORE_ALL, "validation", "corr", s->best},
        {NSID_STORE_ALL, "train", "epochs", (double)s->epoch},
        {NSID_STORE_ALL, "train", "best_epoch", (double)s->best_epoch},
        {NSID_STORE_ALL, "train", "lr_decays", (double)s->n_decays},
        {NSID_STORE_ALL, "model", "core_params", (double)t->model.core_end},
        {NSID_STORE_ALL, "model", "readout_params_per_neuron", nsid_model_readout_params_per_neuron(&t->model)},
        {NSID_STORE_ALL, "model", "core_random", t->c->model.core.random ? 1.0 : 0.0},
        {NSID_STORE_ALL, "model", "core_frozen", t->model.frozen_core ? 1.0 : 0.0},
    };
    rc = nsid_store_metrics(&t->store, t->run_id, m, sizeof m / sizeof m[0], err);
    if (rc == 0) rc = nsid_store_artifact(&t->store, t->run_id, t->ckpt, "checkpoint", err);
    if (rc == 0) rc = nsid_store_artifact(&t->store, t->run_id, t->log_path, "log", err);
    struct nsid_store_end end = {.status = NSID_RUN_RUNNING, .exit_code = 0};
    nsid_store_clock_read(&t->clk, &end.wall_s, &end.cpu_s);
    if (rc == 0) rc = nsid_store_run_end(&t->store, t->run_id, &end, err);
    if (rc == 0) rc = nsid_store_commit(&t->store, err);
    else nsid_store_rollback(&t->store);
    if (rc == 0) {
        t->st.finished = true;
        rc = save_state(t, err);
    }
    return rc;
}

/* ---------------------------------------------------------------- the run */

/* Open the log and the store; refuse a folder that holds another run. */
static int open_records(struct trainer *t, struct nsid_err *err)
{
    t->log = fopen(t->log_path, "a");
    if (!t->log) return nsid_err_set(err, NSID_EIO, t->log_path, 0, "--out", "cannot write the log: %s", strerror(errno));
    int rc = nsid_store_open(&t->store, t->db, err);
    if (rc < 0) return rc;
    char other[NSID_STORE_ID_MAX];
    int status;
    struct nsid_err e2 = {0};
    if (nsid_store_run_status(&t->store, t->run_id, &status, &e2) == NSID_ENOTFOUND &&
        (nsid_err_clear(&e2), nsid_store_only_run(&t->store, other, &status, &e2)) == 0)
        return nsid_err_set(err, NSID_EINVAL, t->db, 0, "--out",
                            "holds run %s, this configuration is run %s: use another --out (or --db)", other, t->run_id);
    return 0;
}

/* Resume from <out>/train_state.bin if it is there: 1 resumed, 0 fresh. */
static int try_resume(struct trainer *t, struct nsid_err *err)
{
    if (access(t->state_path, F_OK) != 0) return 0;
    struct nsid_schedule_opts so;
    nsid_config_schedule_opts(t->c, &so);
    int rc = nsid__train_state_load(&t->st, t->state_path, err);
    if (rc == 0) rc = nsid_schedule_check_opts(&t->st.sched, &so, err);
    return rc < 0 ? rc : 1;
}

static void run_failed(struct trainer *t, int exit_code, const char *msg)
{
    if (!t->recorded) return;
    struct nsid_store_end end = {.status = NSID_RUN_FAILED, .exit_code = exit_code, .error = msg};
    nsid_store_clock_read(&t->clk, &end.wall_s, &end.cpu_s);
    struct nsid_err e2 = {0};
    nsid_store_run_end(&t->store, t->run_id, &end, &e2);
}

static void trainer_free(struct trainer *t)
{
    nsid_alloc_free(t->canonical);
    nsid_alloc_free(t->data_sha);
    nsid_alloc_free(t->img);
    nsid_alloc_free(t->resp);
    nsid_alloc_free(t->beh);
    nsid_alloc_free(t->pupil);
    nsid_alloc_free(t->ints);
    nsid_alloc_free(t->best.w);
    nsid_alloc_free(t->best.buf);
    nsid_alloc_free(t->best.ints);
    nsid_batch_cycler_free(&t->cyc);
    nsid_evaluator_free(&t->ev);
    nsid_model_free(&t->model);
    nsid_rundata_free(&t->data);
    nsid_store_close(&t->store);
    if (t->log) fclose(t->log);
}

/*
 * What the resume state records beyond the run id (train_int.h): the configuration's hash,
 * the core checkpoint's and each --data scan's content hash, so that a rerun with the same
 * --run-id on another configuration or other data is refused instead of resumed.
 */
static int state_identity(struct trainer *t, struct nsid_err *err)
{
    int rc = data_hashes(t, err);
    if (rc < 0) return rc;
    struct nsid__train_identity *id = &t->st.id;
    nsid_sha256_hex(id->config_sha, t->canonical, strlen(t->canonical));
    id->core_sha[0] = '\0';
    if (t->c->model.core.checkpoint[0] &&
        (rc = nsid_scanid_file_sha256(t->c->model.core.checkpoint, id->core_sha, NULL, err)) < 0) {
        nsid_err_context(err, NULL, 0, "model.core.checkpoint", NULL);
        return rc;
    }
    id->n_data = t->o->n_data;
    id->data_sha = (const char (*)[65])t->data_sha;
    id->data_path = t->o->data;
    return 0;
}

/* Everything before training: paths, id, data, network, buffers, records, state. */
static int setup(struct trainer *t, struct nsid_train_result *res, struct nsid_err *err)
{
    int rc = paths(t, err);
    if (rc < 0) return rc;
    remove_stale_temps(t);
    if (t->o->run_id && !nsid_store_valid_id(t->o->run_id))
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "--run-id", "'%s': 1..64 characters of [0-9A-Za-z_.-]",
                            t->o->run_id);
    size_t n = nsid_config_canonical(t->c, NULL, 0) + 1;
    if (!(t->canonical = NSID_ALLOC(n, err))) return NSID_ENOMEM;
    nsid_config_canonical(t->c, t->canonical, n);
    if ((rc = nsid_rundata_load(&t->data, t->c, t->o->data, t->o->n_data, err)) < 0) return rc;
    if (t->o->run_id) {
        snprintf(t->run_id, sizeof t->run_id, "%s", t->o->run_id);
    } else {
        /* the id nsid-plan gives this configuration on these scans (in this order); after the
           load, so a bad scan gets the loader's message */
        int nd = t->o->n_data;
        if (!(t->data_sha = NSID_ALLOC((size_t)(nd ? nd : 1) * sizeof *t->data_sha, err))) return NSID_ENOMEM;
        if ((rc = nsid_train_default_id(t->c, t->o->data, nd, t->run_id, t->data_sha, err)) < 0) return rc;
    }
    snprintf(res->run_id, sizeof res->run_id, "%s", t->run_id);
    if ((rc = nsid_net_init(&t->model, t->c, t->data.mscans, t->data.n_scans, t->o->isa, err)) < 0) return rc;
    /* --threads: the model's compute threads (default NSID_THREADS or the CPUs); results do not depend on it */
    if (t->o->threads && (rc = nsid_model_set_threads(&t->model, t->o->threads, err)) < 0) return rc;
    if ((rc = nsid_net_prepare_core(&t->model, t->c, res->core, sizeof res->core, err)) < 0) return rc;
    if ((rc = buffers(t, err)) < 0) return nsid_alloc_oom(err, NULL, "train.batch_size", "the batch buffers and model state");
    if ((rc = state_identity(t, err)) < 0) return rc;
    return open_records(t, err);
}

int nsid_train_run(const struct nsid_config *c, const struct nsid_train_opts *o, struct nsid_train_result *res,
                   struct nsid_err *err)
{
    struct trainer t;
    memset(&t, 0, sizeof t);
    memset(res, 0, sizeof *res);
    t.c = c;
    t.o = o;
    nsid_store_clock_start(&t.clk);
    clock_gettime(CLOCK_MONOTONIC, &t.t_run);
    int rc = setup(&t, res, err);
    int resumed = rc == 0 ? try_resume(&t, err) : 0;
    if (resumed < 0) rc = resumed;
    if (rc == 0 && resumed && t.st.finished) {
        if (access(t.ckpt, F_OK) != 0) rc = save_checkpoint(&t, err); /* deleted since: the state has it */
        res->already_done = true;
        res->resumed = true;
        res->epochs = t.st.sched.epoch;
        res->best_epoch = t.st.sched.best_epoch;
        res->best_score = t.st.sched.best;
        trainer_free(&t);
        return rc;
    }
    if (rc == 0) rc = record_begin(&t, !resumed, err);
    if (rc == 0) {
        res->resumed = resumed;
        logf_(&t, "%s run %s: %d scan(s), core: %s", resumed ? "resume" : "start", t.run_id, t.data.n_scans,
              res->core);
        if (resumed)
            logf_(&t, "resume from epoch %lld, batch %lld of %lld", (long long)t.st.epoch, (long long)t.st.step,
                  (long long)nsid_batch_cycler_epoch_len(&t.cyc));
        else rc = start(&t, err);
    }
    int stopped = rc == 0 ? loop(&t, err) : 0;
    if (stopped < 0) rc = stopped;
    if (o->progress && rc == 0) fputc('\n', o->progress);
    if (rc == 0 && stopped) {
        res->interrupted = true;
        res->signal = o->stop ? (int)*o->stop : 0;
        res->epochs = t.st.sched.epoch;
        char msg[160];
        snprintf(msg, sizeof msg, "interrupted by signal %d at epoch %lld, batch %lld: rerun the same command to resume",
                 res->signal, (long long)t.st.epoch + (t.st.step > 0), (long long)t.st.step);
        logf_(&t, "%s", msg);
        run_failed(&t, 128 + res->signal, msg);
    } else if (rc == 0) {
        rc = finish(&t, res, err);
    }
    if (rc < 0 && t.recorded) { /* a refusal before the run began leaves the folder as it was */
        char msg[NSID_ERR_MSG_MAX + 600];
        nsid_err_str(err, msg, sizeof msg);
        logf_(&t, "error: %s", msg);
        run_failed(&t, 1, msg);
    }
    trainer_free(&t);
    return rc;
}

/* ---------------------------------------------------------------- reading a checkpoint's config */

int nsid_train_read_config(const char *checkpoint, struct nsid_config *c, struct nsid_err *err)
{
    char *arch = NULL;
    int rc = nsid_checkpoint_read_arch(checkpoint, &arch, err);
    if (rc < 0) return rc;
    json_t *root = NULL;
    rc = nsid_json_parse(arch, strlen(arch), checkpoint, &root, err);
    nsid_alloc_free(arch);
    if (rc < 0) return nsid_err_context(err, NULL, 0, "architecture", NULL);
    const char *format = json_string_value(json_object_get(root, "format"));
    json_t *config = json_object_get(root, "config");
    char *text = format && strcmp(format, "nsid-run") == 0 && json_is_object(config)
                     ? json_dumps(config, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17))
                     : NULL;
    json_decref(root);
    if (!text)
        return nsid_err_set(err, NSID_EFORMAT, checkpoint, 0, "architecture",
                            "not written by nsid-train (no run configuration): pass --config RUN.json");
    nsid_config_init(c);
    rc = nsid_config_parse_string(c, text, strlen(text), checkpoint, err);
    if (rc == 0) rc = nsid_config_validate(c, err);
    free(text); /* jansson's allocation */
    return rc;
}
