/* schedule.c - early stopping + ReduceLROnPlateau state machine (see schedule.h). */
#include "schedule.h"

#include <math.h>
#include <string.h>

#define SCHED_MAGIC "NSIDSCHD"
#define SCHED_VERSION 1u

void nsid_schedule_opts_default(struct nsid_schedule_opts *o)
{
    o->lr = 0.005;
    o->max_epochs = 200;
    o->patience = 5;
    o->tolerance = 1e-6;
    o->lr_decay_steps = 3;
    o->factor = 0.3;
    o->min_lr = 1e-4;
    o->cooldown = 0;
    o->eps = 1e-8;
    o->restore_best = true;
}

static int bad_opt(struct nsid_err *err, const char *key, const char *fmt, double v)
{
    return nsid_err_set(err, NSID_EINVAL, NULL, 0, key, fmt, v);
}

/* Validate the options; each message names the option and the allowed range. */
static int check_opts(const struct nsid_schedule_opts *o, struct nsid_err *err)
{
    if (!(isfinite(o->lr) && o->lr > 0))
        return bad_opt(err, "lr", "%g: must be a finite number > 0", o->lr);
    if (o->max_epochs < 0)
        return bad_opt(err, "max_epochs", "%g: must be >= 0", (double)o->max_epochs);
    if (o->patience < 1)
        return bad_opt(err, "patience", "%g: must be >= 1", (double)o->patience);
    if (!(isfinite(o->tolerance) && o->tolerance >= 0))
        return bad_opt(err, "tolerance", "%g: must be a finite number >= 0", o->tolerance);
    if (o->lr_decay_steps < 1)
        return bad_opt(err, "lr_decay_steps", "%g: must be >= 1", (double)o->lr_decay_steps);
    if (!(o->factor > 0 && o->factor < 1))
        return bad_opt(err, "lr_decay_factor", "%g: must be in (0, 1)", o->factor);
    if (!(isfinite(o->min_lr) && o->min_lr >= 0))
        return bad_opt(err, "min_lr", "%g: must be a finite number >= 0", o->min_lr);
    if (o->cooldown < 0)
        return bad_opt(err, "lr_cooldown", "%g: must be >= 0", (double)o->cooldown);
    if (!(isfinite(o->eps) && o->eps >= 0))
        return bad_opt(err, "lr_eps", "%g: must be a finite number >= 0", o->eps);
    return 0;
}

int nsid_schedule_init(struct nsid_schedule *s, const struct nsid_schedule_opts *o,
                       struct nsid_err *err)
{
    if (check_opts(o, err) < 0) return NSID_EINVAL;
    memset(s, 0, sizeof *s);
    s->o = *o;
    s->phase = NSID_SCHED_NEW;
    s->lr = o->lr;
    s->best = s->current = 0.0;
    s->plateau_best = -INFINITY;
    return 0;
}

/* torch ReduceLROnPlateau.step(x) with mode 'max', threshold_mode 'abs'. */
static void plateau_step(struct nsid_schedule *s, double x)
{
    if (x > s->plateau_best + s->o.tolerance) {
        s->plateau_best = x;
        s->plateau_bad = 0;
    } else {
        s->plateau_bad++;
    }
    if (s->cooldown_left > 0) {
        s->cooldown_left--;
        s->plateau_bad = 0;
    }
    if (s->plateau_bad > s->o.patience) {
        /* Python's max(a, b) keeps a unless b > a. */
        double reduced = s->lr * s->o.factor;
        double new_lr = s->o.min_lr > reduced ? s->o.min_lr : reduced;
        if (s->lr - new_lr > s->o.eps) {
            s->lr = new_lr;
            s->n_decays++;
        }
        s->cooldown_left = s->o.cooldown;
        s->plateau_bad = 0;
    }
}

/*
 * Run the loop from "after this score's bookkeeping" to the next point where the
 * reference trains an epoch (return act) or finishes (act | STOP).
 */
static unsigned advance(struct nsid_schedule *s, unsigned act)
{
    const struct nsid_schedule_opts *o = &s->o;
    while (s->round < o->lr_decay_steps) {
        if (s->bad < o->patience && s->epoch < o->max_epochs) {
            if (isfinite(s->current)) return act;
            break; /* "objective is not finite": finalize */
        }
        /* The round is over: restore the best weights unless the epoch budget ran out. */
        if (s->epoch < o->max_epochs && o->lr_decay_steps > 1 && o->restore_best)
            act |= NSID_SCHED_RESTORE;
        s->round++;
        s->bad = 0;
    }
    if (o->restore_best) act |= NSID_SCHED_RESTORE;
    s->phase = NSID_SCHED_DONE;
    return act | NSID_SCHED_STOP;
}

unsigned nsid_schedule_start(struct nsid_schedule *s, double score0)
{
    NSID_ASSERT(s->phase == NSID_SCHED_NEW);
    s->best = s->current = score0;
    s->best_epoch = 0;
    s->round = 0;
    s->bad = 0;
    s->phase = NSID_SCHED_RUNNING;
    return advance(s, NSID_SCHED_SNAPSHOT);
}

unsigned nsid_schedule_step(struct nsid_schedule *s, double score)
{
    NSID_ASSERT(s->phase == NSID_SCHED_RUNNING);
    unsigned act = 0;
    s->epoch++;
    s->current = score;
    plateau_step(s, score);
    /* neuralpredictors writes -current < -best - tol; negation is exact, so this is the same test. */
    if (score > s->best + s->o.tolerance) {
        s->best = score;
        s->best_epoch = s->epoch;
        s->bad = 0;
        act |= NSID_SCHED_SNAPSHOT;
    } else {
        s->bad++;
    }
    return advance(s, act);
}

bool nsid_schedule_done(const struct nsid_schedule *s)
{
    return s->phase == NSID_SCHED_DONE;
}

/* ---- serialisation ------------------------------------------------------------------ */

static uint64_t dbits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static double bitsd(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The 22 words, in file order. */
static void to_words(const struct nsid_schedule *s, uint64_t w[22])
{
    const struct nsid_schedule_opts *o = &s->o;
    uint64_t v[22] = {
        dbits(o->lr), (uint64_t)o->max_epochs, (uint64_t)o->patience, dbits(o->tolerance),
        (uint64_t)o->lr_decay_steps, dbits(o->factor), dbits(o->min_lr), (uint64_t)o->cooldown,
        dbits(o->eps), (uint64_t)o->restore_best,
        (uint64_t)s->phase, (uint64_t)s->epoch, (uint64_t)s->round, (uint64_t)s->bad,
        dbits(s->best), (uint64_t)s->best_epoch, dbits(s->current), dbits(s->lr),
        dbits(s->plateau_best), (uint64_t)s->plateau_bad, (uint64_t)s->cooldown_left,
        (uint64_t)s->n_decays,
    };
    memcpy(w, v, sizeof v);
}

static void from_words(struct nsid_schedule *s, const uint64_t w[22])
{
    struct nsid_schedule_opts *o = &s->o;
    o->lr = bitsd(w[0]);
    o->max_epochs = (int64_t)w[1];
    o->patience = (int64_t)w[2];
    o->tolerance = bitsd(w[3]);
    o->lr_decay_steps = (int64_t)w[4];
    o->factor = bitsd(w[5]);
    o->min_lr = bitsd(w[6]);
    o->cooldown = (int64_t)w[7];
    o->eps = bitsd(w[8]);
    o->restore_best = w[9] != 0;
    s->phase = (int)w[10];
    s->epoch = (int64_t)w[11];
    s->round = (int64_t)w[12];
    s->bad = (int64_t)w[13];
    s->best = bitsd(w[14]);
    s->best_epoch = (int64_t)w[15];
    s->current = bitsd(w[16]);
    s->lr = bitsd(w[17]);
    s->plateau_best = bitsd(w[18]);
    s->plateau_bad = (int64_t)w[19];
    s->cooldown_left = (int64_t)w[20];
    s->n_decays = (int64_t)w[21];
}

void nsid_schedule_pack(const struct nsid_schedule *s, unsigned char *buf)
{
    uint64_t w[22];
    memcpy(buf, SCHED_MAGIC, 8);
    put64(buf + 8, SCHED_VERSION);
    to_words(s, w);
    for (int i = 0; i < 22; i++) put64(buf + 16 + 8 * i, w[i]);
}

/* Invariants every reachable state satisfies; returns the name of the first violated one. */
static const char *broken_invariant(const struct nsid_schedule *s)
{
    const struct nsid_schedule_opts *o = &s->o;
    if (s->phase < NSID_SCHED_NEW || s->phase > NSID_SCHED_DONE) return "phase";
    if (s->epoch < 0 || s->epoch > o->max_epochs) return "epoch";
    if (s->round < 0 || s->round > o->lr_decay_steps) return "round";
    if (s->bad < 0 || s->bad > o->patience) return "bad";
    if (s->best_epoch < 0 || s->best_epoch > s->epoch) return "best_epoch";
    if (!(isfinite(s->lr) && s->lr > 0)) return "lr";
    if (s->plateau_bad < 0 || s->plateau_bad > o->patience) return "plateau_bad";
    if (s->cooldown_left < 0 || s->cooldown_left > o->cooldown) return "cooldown_left";
    if (s->n_decays < 0) return "n_decays";
    return NULL;
}

int nsid_schedule_unpack(struct nsid_schedule *s, const unsigned char *buf, size_t n,
                         struct nsid_err *err)
{
    if (n != NSID_SCHEDULE_PACKED_BYTES)
        return nsid_err_set(err, NSID_EFORMAT, NULL, 0, "schedule",
                            "packed state has %zu bytes, expected %d", n, NSID_SCHEDULE_PACKED_BYTES);
    if (memcmp(buf, SCHED_MAGIC, 8) != 0)
        return nsid_err_set(err, NSID_EFORMAT, NULL, 0, "schedule",
                            "not a packed schedule state (bad magic)");
    uint64_t version = get64(buf + 8);
    if (version != SCHED_VERSION)
        return nsid_err_set(err, NSID_EFORMAT, NULL, 0, "schedule",
                            "packed state has format version %llu, this build reads %u "
                            "(resume with the build that wrote it)",
                            (unsigned long long)version, SCHED_VERSION);
    uint64_t w[22];
    for (int i = 0; i < 22; i++) w[i] = get64(buf + 16 + 8 * i);
    struct nsid_schedule t;
    memset(&t, 0, sizeof t);
    from_words(&t, w);
    if (w[9] > 1)
        return nsid_err_set(err, NSID_EFORMAT, NULL, 0, "schedule", "restore_best word is %llu, not 0/1",
                            (unsigned long long)w[9]);
    struct nsid_err oerr = {0};
    if (check_opts(&t.o, &oerr) < 0)
        return nsid_err_set(err, NSID_EFORMAT, NULL, 0, "schedule", "packed option %s: %s",
                            oerr.key, oerr.msg);
    const char *bad = broken_invariant(&t);
    if (bad)
        return nsid_err_set(err, NSID_EFORMAT, NULL, 0, "schedule",
                            "packed state field '%s' is out of range (corrupt state)", bad);
    *s = t;
    return 0;
}

int nsid_schedule_check_opts(const struct nsid_schedule *s, const struct nsid_schedule_opts *o,
                             struct nsid_err *err)
{
    const struct nsid_schedule_opts *a = &s->o;
    struct { const char *name; double have, want; } d[] = {
        {"lr", a->lr, o->lr},
        {"max_epochs", (double)a->max_epochs, (double)o->max_epochs},
        {"patience", (double)a->patience, (double)o->patience},
        {"tolerance", a->tolerance, o->tolerance},
        {"lr_decay_steps", (double)a->lr_decay_steps, (double)o->lr_decay_steps},
        {"lr_decay_factor", a->factor, o->factor},
        {"min_lr", a->min_lr, o->min_lr},
        {"lr_cooldown", (double)a->cooldown, (double)o->cooldown},
        {"lr_eps", a->eps, o->eps},
        {"restore_best", a->restore_best, o->restore_best},
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        if (dbits(d[i].have) != dbits(d[i].want))
            return nsid_err_set(err, NSID_EINVAL, NULL, 0, d[i].name,
                                "the saved schedule state used %.17g, the configuration says %.17g",
                                d[i].have, d[i].want);
    }
    return 0;
}
