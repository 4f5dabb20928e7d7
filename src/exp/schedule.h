/*
 * schedule.h - early stopping with LR decay (docs/paper.md §4.4) as a pure state machine.
 *
 * It reproduces, step for step, neuralpredictors' early_stopping() loop (v0.0.x) driven
 * with torch 1.13's ReduceLROnPlateau(mode='max', threshold_mode='abs', threshold =
 * tolerance, patience, factor, min_lr, cooldown, eps), as lurz2020's standard_trainer sets
 * them up. The machine never touches a model: after every validation score it returns
 * what the trainer must do, as a bit mask executed in this order:
 *
 *     NSID_SCHED_SNAPSHOT  copy the model (weights and buffers) into the best state
 *     NSID_SCHED_RESTORE   load the best state into the model (Adam moments untouched)
 *     NSID_SCHED_STOP      training is over; the model now holds the final state
 * and, when STOP is absent, the next epoch (s->epoch + 1) is trained with LR s->lr.
 *
 *     struct nsid_schedule s;
 *     struct nsid_schedule_opts o;
 *     nsid_schedule_opts_default(&o);              // the paper's numbers
 *     if (nsid_schedule_init(&s, &o, err) < 0) return -1;
 *     unsigned act = nsid_schedule_start(&s, validate(model));   // epoch-0 score
 *     for (;;) {
 *         if (act & NSID_SCHED_SNAPSHOT) copy(best, model);
 *         if (act & NSID_SCHED_RESTORE) copy(model, best);
 *         if (act & NSID_SCHED_STOP) break;
 *         adam.lr = s.lr;
 *         train_one_epoch(model);                   // epoch s.epoch + 1
 *         act = nsid_schedule_step(&s, validate(model));
 *     }
 *
 * The loop it reproduces (tolerance tol, patience P, at most E epochs, R rounds):
 *
 *     best = current = score0; snapshot
 *     for round in 0..R-1:
 *         bad = 0
 *         while bad < P and epoch < E:
 *             if current is not finite: restore (if restore_best); stop
 *             epoch += 1; train
 *             current = score; plateau.step(current)        (may change lr)
 *             if current > best + tol: best = current; snapshot; bad = 0
 *             else: bad += 1
 *         if epoch < E and R > 1 and restore_best: restore
 *     restore (if restore_best); stop
 *
 * plateau.step(x) (torch's ReduceLROnPlateau, mode max, abs threshold): x > pbest + tol
 * sets pbest = x and nbad = 0, otherwise nbad += 1; during cooldown nbad is forced to 0;
 * when nbad > P the lr becomes max(lr * factor, min_lr), but only if that lowers it by
 * more than eps, then cooldown starts and nbad = 0. pbest starts at -inf, so the
 * scheduler's best and early stopping's best (which starts at the epoch-0 score) differ
 * until the first epoch that beats both. Restoring weights resets neither the scheduler
 * nor Adam. A NaN or infinite score ends training as the reference does (the check
 * happens before the next epoch, after that step's bookkeeping).
 *
 * The state is a plain struct of integers and doubles (copy it, or pack it into
 * NSID_SCHEDULE_PACKED_BYTES bytes for a checkpoint): restoring it resumes bit-identically.
 */
#ifndef NSID_SCHEDULE_H
#define NSID_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Actions returned by nsid_schedule_start/step (a bit mask, executed in this order). */
enum nsid_sched_action {
    NSID_SCHED_SNAPSHOT = 1, /* copy model -> best state */
    NSID_SCHED_RESTORE = 2,  /* copy best state -> model */
    NSID_SCHED_STOP = 4,     /* done: do not train further */
};

/* Phases of the machine. */
enum nsid_sched_phase {
    NSID_SCHED_NEW = 0,     /* initialised, waiting for the epoch-0 score */
    NSID_SCHED_RUNNING = 1, /* waiting for the score of epoch `epoch + 1` */
    NSID_SCHED_DONE = 2,    /* STOP was returned */
};

/* Options; docs/paper.md §4.1 values from nsid_schedule_opts_default. */
struct nsid_schedule_opts {
    double lr;              /* initial learning rate (0.005) */
    int64_t max_epochs;     /* at most this many training epochs (200), >= 0 */
    int64_t patience;       /* epochs without improvement before a round ends / LR decays (5), >= 1 */
    double tolerance;       /* absolute improvement threshold, both for stopping and the LR plateau (1e-6) */
    int64_t lr_decay_steps; /* rounds of early stopping (3), >= 1 */
    double factor;          /* LR decay factor (0.3), in (0, 1) */
    double min_lr;          /* LR floor (1e-4), >= 0 */
    int64_t cooldown;       /* epochs after a decay in which bad epochs are ignored (0) */
    double eps;             /* LR changes smaller than this are skipped (torch's 1e-8) */
    bool restore_best;      /* restore the best state at the end of each round and at the end (true) */
};

struct nsid_schedule {
    struct nsid_schedule_opts o; /* options, copied at init */
    int phase;                   /* enum nsid_sched_phase */
    /* early stopping */
    int64_t epoch;               /* epochs trained so far */
    int64_t round;               /* current round, 0 .. o.lr_decay_steps (== at the end) */
    int64_t bad;                 /* epochs without improvement in this round */
    double best;                 /* best validation score so far (epoch-0 score at first) */
    int64_t best_epoch;          /* epoch whose state is the best state (0 = initial model) */
    double current;              /* last validation score */
    /* ReduceLROnPlateau */
    double lr;                   /* learning rate for the next epoch */
    double plateau_best;         /* scheduler's own best, -inf at first */
    int64_t plateau_bad;         /* scheduler's bad-epoch count */
    int64_t cooldown_left;       /* scheduler's cooldown counter */
    int64_t n_decays;            /* times the LR was lowered */
};

/* Bytes of nsid_schedule_pack's output. */
#define NSID_SCHEDULE_PACKED_BYTES (16 + 8 * 22)

/* The paper's options (docs/paper.md §4.1 / §4.4). */
void nsid_schedule_opts_default(struct nsid_schedule_opts *o);

/*
 * Validate o and reset s to phase NEW. Errors (NSID_EINVAL) name the option and its
 * bounds; s is untouched on error.
 */
int nsid_schedule_init(struct nsid_schedule *s, const struct nsid_schedule_opts *o,
                       struct nsid_err *err);

/*
 * Feed the validation score of the untrained model (epoch 0). Returns SNAPSHOT, plus
 * RESTORE|STOP when the score is not finite or max_epochs is 0. Must be called once,
 * in phase NEW (NSID_ASSERT otherwise: a programming error).
 */
unsigned nsid_schedule_start(struct nsid_schedule *s, double score0);

/*
 * Feed the validation score after training epoch s->epoch + 1 (with s->lr). Updates the
 * LR and counters and returns the actions (see the top of this file). Phase RUNNING only.
 */
unsigned nsid_schedule_step(struct nsid_schedule *s, double score);

/* True once STOP has been returned. */
bool nsid_schedule_done(const struct nsid_schedule *s);

/*
 * Serialise s into exactly NSID_SCHEDULE_PACKED_BYTES bytes: magic "NSIDSCHD", format
 * version, then every field as a little-endian 64-bit word (doubles as their IEEE bits),
 * so that unpacking gives back a bit-identical state on any platform.
 */
void nsid_schedule_pack(const struct nsid_schedule *s, unsigned char *buf);

/*
 * Inverse of nsid_schedule_pack. Fails with NSID_EFORMAT (message says what) on a wrong
 * size, magic or version, or on a state that violates the machine's invariants; s is
 * untouched on error.
 */
int nsid_schedule_unpack(struct nsid_schedule *s, const unsigned char *buf, size_t n,
                         struct nsid_err *err);

/*
 * Check that a resumed state was made with the options o (bit-equal numbers); on a
 * mismatch NSID_EINVAL names the first differing option with both values.
 */
int nsid_schedule_check_opts(const struct nsid_schedule *s, const struct nsid_schedule_opts *o,
                             struct nsid_err *err);

#endif
