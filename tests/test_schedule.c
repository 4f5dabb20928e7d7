/*
 * test_schedule.c - the early-stopping / LR state machine against traces of the reference
 * loop driven by torch's ReduceLROnPlateau (tests/gen_schedule_fixtures.py), step by step:
 * the LR of every epoch (bit-equal), the actions after every score, the number of epochs,
 * the state the model holds at the end and the number of LR decays. Every trace is also
 * replayed with a pack/unpack "interrupt" before every epoch, which must change nothing.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "exp/schedule.h"

#define MAX_SCORES 256
#define MAX_EPOCHS 256

struct trace {
    char name[64];
    struct nsid_schedule_opts o;
    int n_scores;
    double scores[MAX_SCORES];
    char start[8];                /* actions after the epoch-0 score */
    int n_epochs;                 /* epoch lines */
    double lr[MAX_EPOCHS + 1];    /* lr[e]: LR used for epoch e */
    char acts[MAX_EPOCHS + 1][8]; /* acts[e]: actions after epoch e's score */
    int end_epochs, end_state, end_decays;
};

static unsigned parse_acts(const char *s)
{
    unsigned a = 0;
    for (; *s; s++) {
        if (*s == 'S') a |= NSID_SCHED_SNAPSHOT;
        if (*s == 'R') a |= NSID_SCHED_RESTORE;
        if (*s == 'T') a |= NSID_SCHED_STOP;
    }
    return a;
}

static void acts_str(unsigned a, char *buf)
{
    char *p = buf;
    if (a & NSID_SCHED_SNAPSHOT) *p++ = 'S';
    if (a & NSID_SCHED_RESTORE) *p++ = 'R';
    if (a & NSID_SCHED_STOP) *p++ = 'T';
    if (p == buf) *p++ = '-';
    *p = '\0';
}

/* Read the next trace block; returns 1 on success, 0 at end of file, -1 on a format error. */
static int read_trace(FILE *f, struct trace *t)
{
    char word[64];
    memset(t, 0, sizeof *t);
    if (fscanf(f, " %63s", word) != 1) return 0;
    while (word[0] == '#') {
        int c;
        while ((c = fgetc(f)) != '\n' && c != EOF) {}
        if (fscanf(f, " %63s", word) != 1) return 0;
    }
    if (strcmp(word, "trace") != 0 || fscanf(f, " %63s", t->name) != 1) return -1;
    long long me, pat, steps, cool;
    int rb;
    struct nsid_schedule_opts *o = &t->o;
    if (fscanf(f, " opts %lf %lld %lld %lf %lld %lf %lf %lld %lf %d", &o->lr, &me, &pat, &o->tolerance,
               &steps, &o->factor, &o->min_lr, &cool, &o->eps, &rb) != 10) return -1;
    o->max_epochs = me; o->patience = pat; o->lr_decay_steps = steps; o->cooldown = cool;
    o->restore_best = rb != 0;
    if (fscanf(f, " scores %d", &t->n_scores) != 1 || t->n_scores > MAX_SCORES) return -1;
    for (int i = 0; i < t->n_scores; i++) {
        char tok[64];
        if (fscanf(f, " %63s", tok) != 1) return -1;
        t->scores[i] = strtod(tok, NULL); /* strtod reads nan and inf too */
    }
    if (fscanf(f, " start %7s", t->start) != 1) return -1;
    for (;;) {
        if (fscanf(f, " %63s", word) != 1) return -1;
        if (strcmp(word, "end") == 0) break;
        int e;
        double lr;
        char a[8];
        if (strcmp(word, "epoch") != 0 || fscanf(f, " %d %lf %7s", &e, &lr, a) != 3) return -1;
        if (e != t->n_epochs + 1 || e > MAX_EPOCHS) return -1;
        t->n_epochs = e;
        t->lr[e] = lr;
        strcpy(t->acts[e], a);
    }
    if (fscanf(f, " %d %d %d", &t->end_epochs, &t->end_state, &t->end_decays) != 3) return -1;
    return 1;
}

/*
 * Drive the machine over the trace. With `resume`, the state is packed and unpacked into a
 * fresh struct before every epoch. Returns 1 if every step matched (one CHECK per trace).
 */
static int replay(const struct trace *t, int resume)
{
    struct nsid_err err = {0};
    struct nsid_schedule s;
    char got[8], why[1200] = "";
    if (nsid_schedule_init(&s, &t->o, &err) < 0) {
        CHECK(0, "%s: init: %s", t->name, err.msg);
        return 0;
    }
    int model = 0, best = -1; /* the model's state = the epoch that made its weights */
    unsigned act = nsid_schedule_start(&s, t->scores[0]);
    acts_str(act, got);
    if (act != parse_acts(t->start)) snprintf(why, sizeof why, "start: got %s want %s", got, t->start);
    int e = 0;
    while (!why[0]) {
        if (act & NSID_SCHED_SNAPSHOT) best = model;
        if (act & NSID_SCHED_RESTORE) model = best;
        if (act & NSID_SCHED_STOP) break;
        if (resume) {
            unsigned char buf[NSID_SCHEDULE_PACKED_BYTES];
            nsid_schedule_pack(&s, buf);
            struct nsid_schedule r;
            memset(&r, 0xA5, sizeof r);
            if (nsid_schedule_unpack(&r, buf, sizeof buf, &err) < 0) {
                snprintf(why, sizeof why, "unpack before epoch %d: %s", e + 1, err.msg);
                break;
            }
            s = r;
        }
        e++;
        if (e > t->n_epochs) { snprintf(why, sizeof why, "trains epoch %d, reference stopped", e); break; }
        if (s.epoch + 1 != e) { snprintf(why, sizeof why, "epoch counter %lld", (long long)s.epoch); break; }
        if (memcmp(&s.lr, &t->lr[e], sizeof(double)) != 0) {
            snprintf(why, sizeof why, "epoch %d: lr %.17g want %.17g", e, s.lr, t->lr[e]);
            break;
        }
        model = e;
        act = nsid_schedule_step(&s, t->scores[e]);
        acts_str(act, got);
        if (act != parse_acts(t->acts[e]))
            snprintf(why, sizeof why, "after epoch %d: actions %s want %s", e, got, t->acts[e]);
    }
    if (!why[0] && e != t->end_epochs)
        snprintf(why, sizeof why, "trained %d epochs, reference %d", e, t->end_epochs);
    if (!why[0] && model != t->end_state)
        snprintf(why, sizeof why, "final model state %d, reference %d", model, t->end_state);
    if (!why[0] && s.n_decays != t->end_decays)
        snprintf(why, sizeof why, "%lld LR decays, reference %d", (long long)s.n_decays, t->end_decays);
    if (!why[0] && !nsid_schedule_done(&s)) snprintf(why, sizeof why, "not done at the end");
    CHECK(!why[0], "trace %s%s: %s", t->name, resume ? " (resumed every epoch)" : "", why);
    return !why[0];
}

static void test_traces(void)
{
    FILE *f = fopen(check_fixture("schedule_traces.txt"), "r");
    CHECK(f != NULL, "open fixture %s", check_fixture("schedule_traces.txt"));
    if (!f) return;
    static struct trace t;
    int n = 0, rc, lr_floor_seen = 0, max_seen = 0, nan_seen = 0;
    while ((rc = read_trace(f, &t)) == 1) {
        n++;
        replay(&t, 0);
        replay(&t, 1);
        for (int e = 1; e <= t.n_epochs; e++) lr_floor_seen |= t.lr[e] == 1e-4;
        max_seen |= t.end_epochs == 200;
        nan_seen |= strncmp(t.name, "nan", 3) == 0;
    }
    fclose(f);
    CHECK(rc == 0, "fixture parses to the end (stopped at trace %d)", n);
    CHECK(n >= 40, "fixture has the scripted and random traces (%d)", n);
    CHECK(lr_floor_seen && max_seen && nan_seen, "traces cover the LR floor, the epoch budget and NaN");
}

/* The paper's run, by hand: the LR sequence of §4.4 on a flat validation curve. */
static void test_paper_sequence(void)
{
    struct nsid_schedule_opts o;
    struct nsid_schedule s;
    struct nsid_err err = {0};
    nsid_schedule_opts_default(&o);
    o.lr_decay_steps = 100;
    CHECK(nsid_schedule_init(&s, &o, &err) == 0, "init with defaults");
    unsigned act = nsid_schedule_start(&s, 0.3);
    CHECK(act == NSID_SCHED_SNAPSHOT, "epoch 0 snapshots the untrained model");
    double seen[8];
    int n = 0;
    double last = s.lr;
    while (!(act & NSID_SCHED_STOP) && n < 8) {
        act = nsid_schedule_step(&s, 0.3);
        if (s.lr != last) seen[n++] = last = s.lr;
    }
    CHECK(n == 4 && seen[0] == 0.005 * 0.3 && seen[1] == 0.005 * 0.3 * 0.3 &&
          seen[2] == 0.005 * 0.3 * 0.3 * 0.3 && seen[3] == 1e-4,
          "LR 0.005 -> 0.0015 -> 0.00045 -> 0.000135 -> 1e-4 floor (%d decays)", n);
    CHECK(s.epoch == 200 && (act & NSID_SCHED_STOP), "100 rounds of a flat curve end at the 200-epoch budget (%lld)",
          (long long)s.epoch);
}

static void test_bad_options(void)
{
    static const char *keys[] = {"lr", "max_epochs", "patience", "tolerance", "lr_decay_steps",
                                 "lr_decay_factor", "min_lr", "lr_cooldown", "lr_eps"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        struct nsid_schedule_opts o;
        nsid_schedule_opts_default(&o);
        switch (i) {
        case 0: o.lr = 0; break;
        case 1: o.max_epochs = -1; break;
        case 2: o.patience = 0; break;
        case 3: o.tolerance = NAN; break;
        case 4: o.lr_decay_steps = 0; break;
        case 5: o.factor = 1.0; break;
        case 6: o.min_lr = -1e-4; break;
        case 7: o.cooldown = -2; break;
        case 8: o.eps = INFINITY; break;
        }
        struct nsid_schedule s;
        struct nsid_err err = {0};
        memset(&s, 0x3C, sizeof s);
        int rc = nsid_schedule_init(&s, &o, &err);
        CHECK(rc == NSID_EINVAL && strcmp(err.key, keys[i]) == 0 && ((unsigned char *)&s)[0] == 0x3C,
              "bad option %s is rejected by name and leaves the state alone (key '%s': %s)", keys[i],
              err.key, err.msg);
    }
}

static void test_pack_errors(void)
{
    struct nsid_schedule_opts o;
    struct nsid_schedule s, r;
    struct nsid_err err = {0};
    unsigned char buf[NSID_SCHEDULE_PACKED_BYTES], bad[NSID_SCHEDULE_PACKED_BYTES];
    nsid_schedule_opts_default(&o);
    nsid_schedule_init(&s, &o, &err);
    nsid_schedule_start(&s, 0.1);
    nsid_schedule_step(&s, 0.2);
    nsid_schedule_step(&s, 0.2);
    nsid_schedule_pack(&s, buf);
    CHECK(nsid_schedule_unpack(&r, buf, sizeof buf, &err) == 0 && memcmp(&r.best, &s.best, sizeof(double)) == 0 &&
          r.epoch == 2 && r.bad == 1 && r.best_epoch == 1 && r.plateau_best == 0.2,
          "pack/unpack round trip keeps every field");
    CHECK(nsid_schedule_unpack(&r, buf, sizeof buf - 1, &err) == NSID_EFORMAT && strstr(err.msg, "bytes"),
          "a truncated state is rejected: %s", err.msg);
    memcpy(bad, buf, sizeof bad);
    bad[0] = 'X';
    nsid_err_clear(&err);
    CHECK(nsid_schedule_unpack(&r, bad, sizeof bad, &err) == NSID_EFORMAT && strstr(err.msg, "magic"),
          "a foreign blob is rejected: %s", err.msg);
    memcpy(bad, buf, sizeof bad);
    bad[8] = 9;
    nsid_err_clear(&err);
    CHECK(nsid_schedule_unpack(&r, bad, sizeof bad, &err) == NSID_EFORMAT && strstr(err.msg, "version"),
          "another format version is rejected: %s", err.msg);
    memcpy(bad, buf, sizeof bad);
    bad[16 + 8 * 13] = 77; /* bad = 77 > patience */
    nsid_err_clear(&err);
    CHECK(nsid_schedule_unpack(&r, bad, sizeof bad, &err) == NSID_EFORMAT && strstr(err.msg, "'bad'"),
          "an impossible counter is rejected: %s", err.msg);
    memcpy(bad, buf, sizeof bad);
    bad[16 + 8 * 2] = 0; /* patience = 0 */
    nsid_err_clear(&err);
    CHECK(nsid_schedule_unpack(&r, bad, sizeof bad, &err) == NSID_EFORMAT && strstr(err.msg, "patience"),
          "an invalid packed option is rejected: %s", err.msg);
    memcpy(bad, buf, sizeof bad);
    memset(bad + 16 + 8 * 17, 0, 8); /* lr = 0 */
    nsid_err_clear(&err);
    CHECK(nsid_schedule_unpack(&r, bad, sizeof bad, &err) == NSID_EFORMAT && strstr(err.msg, "'lr'"),
          "a zero learning rate is rejected: %s", err.msg);

    nsid_err_clear(&err);
    CHECK(nsid_schedule_check_opts(&s, &o, &err) == 0, "same options pass the resume check");
    struct nsid_schedule_opts o2 = o;
    o2.min_lr = 2e-4;
    CHECK(nsid_schedule_check_opts(&s, &o2, &err) == NSID_EINVAL && strcmp(err.key, "min_lr") == 0,
          "changed options fail the resume check by name: %s: %s", err.key, err.msg);
}

int main(void)
{
    test_traces();
    test_paper_sequence();
    test_bad_options();
    test_pack_errors();
    return check_summary("schedule");
}
