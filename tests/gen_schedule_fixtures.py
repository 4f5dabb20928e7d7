#!/usr/bin/python3
"""Reference traces for tests/test_schedule.c (writes tests/fixtures/schedule_traces.txt).

The loop below re-implements neuralpredictors v0.0.x `early_stopping` (training.py) as
lurz2020's `standard_trainer` drives it (interval 1, maximize, restore_best, lr_decay_steps),
and steps torch's own `ReduceLROnPlateau` (mode 'max', threshold_mode 'abs') with the same
scores. The "model" is a fake whose state is the number of the epoch that produced its
weights; the objective of a state is the scripted score of that epoch, so re-evaluations
inside the reference (before/after a restore) read the score of the state actually loaded.

Run with Debian's interpreter (it has torch):  /usr/bin/python3 tests/gen_schedule_fixtures.py
Output format, one trace per block:
    trace <name>
    opts <lr> <max_epochs> <patience> <tolerance> <lr_decay_steps> <factor> <min_lr> <cooldown> <eps> <restore_best>
    scores <n> <s0> <s1> ... <s_{n-1}>        s0 = untrained model, s_e = after epoch e
    start <actions>                          actions after the epoch-0 score
    epoch <e> <lr used for epoch e> <actions after epoch e's score>
    end <epochs trained> <state held by the model at the end> <number of LR decays>
Actions: letters S (snapshot), R (restore), T (stop), '-' for none. Numbers use repr()
(shortest round trip), so the C side reads bit-identical doubles.
"""
import math
import os
import random

import torch


class FakeModel:
    """Stands in for the network: its whole state is the epoch that made its weights."""

    def __init__(self, log):
        self.state = 0
        self.training = True
        self.log = log

    def state_dict(self):
        self.log.append("S")
        return {"state": self.state}

    def load_state_dict(self, d):
        self.log.append("R")
        self.state = d["state"]

    def train(self, mode=True):
        self.training = mode

    def eval(self):
        self.training = False


def early_stopping(model, objective, patience, max_iter, tolerance, restore_best, scheduler, lr_decay_steps):
    """The reference loop (interval 1, start 0, maximize), with copy_state -> state_dict."""
    training_status = model.training

    def _objective():
        model.eval()
        ret = objective(model)
        model.train(training_status)
        return ret

    def decay_lr(best_state_dict):
        _objective()
        if restore_best:
            model.load_state_dict(best_state_dict)
            _objective()

    def finalize(best_state_dict):
        _objective()
        if restore_best:
            model.load_state_dict(best_state_dict)
        _objective()

    epoch = 0
    sign = -1  # maximize
    best_objective = current_objective = _objective()
    best_state_dict = model.state_dict()
    for repeat in range(lr_decay_steps):
        patience_counter = 0
        while patience_counter < patience and epoch < max_iter:
            epoch += 1
            if not math.isfinite(current_objective):
                finalize(best_state_dict)
                return
            yield epoch, current_objective
            current_objective = _objective()
            scheduler.step(current_objective)
            if current_objective * sign < best_objective * sign - tolerance:
                best_state_dict = model.state_dict()
                best_objective = current_objective
                patience_counter = 0
            else:
                patience_counter += 1
        if (epoch < max_iter) & (lr_decay_steps > 1) & (repeat < lr_decay_steps):
            decay_lr(best_state_dict)
    finalize(best_state_dict)


def run(name, scores, lr=0.005, max_epochs=200, patience=5, tolerance=1e-6, steps=3, factor=0.3,
        min_lr=1e-4, cooldown=0, eps=1e-8, restore_best=True):
    assert len(scores) >= max_epochs + 1
    scores = scores[:max_epochs + 1]
    log = []
    model = FakeModel(log)
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="max", factor=factor, patience=patience, threshold=tolerance, threshold_mode="abs",
        cooldown=cooldown, min_lr=min_lr, eps=eps)
    decays = 0
    last_lr = lr

    def objective(m):
        return scores[m.state]

    out = ["trace " + name,
           "opts %r %d %d %r %d %r %r %d %r %d" % (lr, max_epochs, patience, tolerance, steps, factor, min_lr,
                                                 cooldown, eps, int(restore_best)),
           "scores %d %s" % (len(scores), " ".join(repr(float(s)) for s in scores))]

    def flush(prefix, stop=False):
        acts = "".join(a for a in "SR" if a in log) + ("T" if stop else "")
        log.clear()
        out.append(prefix + " " + (acts or "-"))

    last = None
    for epoch, _ in early_stopping(model, objective, patience, max_epochs, tolerance, restore_best, sched, steps):
        flush("start" if last is None else "epoch %d %r" % (last[0], last[1]))
        cur_lr = opt.param_groups[0]["lr"]
        if cur_lr != last_lr:
            decays += 1
            last_lr = cur_lr
        model.state = epoch  # "train one epoch": the weights are now those of this epoch
        last = (epoch, cur_lr)
    flush("start" if last is None else "epoch %d %r" % (last[0], last[1]), stop=True)
    final_lr = opt.param_groups[0]["lr"]
    if final_lr != last_lr:
        decays += 1
    out.append("end %d %d %d" % (last[0] if last else 0, model.state, decays))
    return "\n".join(out) + "\n"


def main():
    E = 200
    rng = random.Random(20210503)
    traces = []

    # Improves every epoch until the 200-epoch budget runs out.
    traces.append(run("improve_to_max", [0.01 + 0.001 * e for e in range(E + 1)]))
    # Improves, plateaus past the patience, improves again, then flattens for good.
    s = [0.05]
    for e in range(1, E + 1):
        if e <= 10:
            s.append(0.05 + 0.02 * e)
        elif e <= 18:
            s.append(0.25 - 0.001 * (e % 3))
        elif e <= 30:
            s.append(0.25 + 0.005 * (e - 18))
        else:
            s.append(0.30 - 0.0001 * (e % 5))
    traces.append(run("improve_plateau_improve", s))
    # Never better than the untrained model: three rounds of pure patience.
    traces.append(run("flat", [0.2] * (E + 1)))
    # Worse than epoch 0 but rising: the scheduler sees improvements, early stopping does not.
    traces.append(run("below_start", [0.5] + [0.1 + 0.01 * e for e in range(E)]))
    # Improvements smaller than the tolerance do not count; exactly tolerance-sized steps neither.
    traces.append(run("sub_tolerance", [0.3 + 5e-7 * e for e in range(E + 1)]))
    traces.append(run("at_tolerance", [0.25 + 1e-6 * e for e in range(E + 1)]))
    # Each score is exactly (in floating point) the previous plus the tolerance: not an improvement.
    s = [0.25]
    for e in range(E):
        s.append(s[-1] + 1e-6)
    traces.append(run("exact_tolerance", s))
    # Zero tolerance: equal scores are not improvements, any rise is.
    traces.append(run("flat_tol0", [0.2] * 3 + [0.2 + 1e-12] + [0.2 + 1e-12] * (E - 3), tolerance=0.0))
    # LR floor at min_lr (0.005 -> 0.0015 -> 0.001 and stays).
    traces.append(run("floor_min_lr", [0.2] * (E + 1), min_lr=1e-3, steps=10))
    # Many decays: 0.005 -> ... -> 1e-4 floor with the paper's min_lr.
    traces.append(run("floor_paper", [0.2] * (E + 1), steps=12))
    # torch's eps: a decay smaller than 1e-8 is skipped.
    traces.append(run("eps_skip", [0.2] * (E + 1), lr=5e-8, min_lr=0.0, steps=8))
    # Cooldown after each decay.
    traces.append(run("cooldown", [0.2] * (E + 1), cooldown=2, steps=6))
    # Non-finite scores stop training (mid-run, initial, +inf, after a round's restore).
    s = [0.1 + 0.01 * e for e in range(E + 1)]
    s[7] = float("nan")
    traces.append(run("nan_mid", s))
    traces.append(run("nan_initial", [float("nan")] + [0.3] * E))
    s = [0.1 + 0.01 * e for e in range(E + 1)]
    s[4] = float("inf")
    traces.append(run("inf_mid", s))
    s = [0.1, 0.2, 0.3] + [0.25] * 5 + [float("nan")] * (E - 7)
    traces.append(run("nan_after_round", s))
    # Short budgets: the budget ends a round; single round; no restoring.
    s = [0.1 + 0.01 * min(e, 3) for e in range(E + 1)]
    traces.append(run("budget_7", s, max_epochs=7))
    traces.append(run("budget_1", [0.1, 0.2] + [0.0] * (E - 1), max_epochs=1))
    traces.append(run("one_round", s, steps=1))
    traces.append(run("no_restore", s, restore_best=False))
    traces.append(run("patience_1", s, patience=1))
    # Random walks with random options.
    for k in range(24):
        max_e = rng.choice([10, 25, 60, 200])
        walk, x, trend = [], rng.uniform(-0.1, 0.3), 0.01
        for e in range(max_e + 1):
            walk.append(x)
            if rng.random() < 0.1:
                trend = rng.choice([0.0, 0.002, 0.01, -0.005])  # regime change: plateau, rise, fall
            x += trend * rng.uniform(0.0, 2.0) + rng.choice([0.0, 0.0, 1e-6, 5e-7, rng.uniform(-0.004, 0.004)])
        if k % 6 == 5:
            walk[rng.randrange(1, max_e + 1)] = float("nan")
        traces.append(run("random_%02d" % k, walk, max_epochs=max_e, patience=rng.choice([1, 2, 3, 5]),
                          tolerance=rng.choice([0.0, 1e-6, 1e-3]), steps=rng.choice([1, 2, 3, 5]),
                          factor=rng.choice([0.3, 0.5, 0.1]), min_lr=rng.choice([1e-4, 1e-3, 0.0]),
                          cooldown=rng.choice([0, 0, 1, 3]), restore_best=rng.random() < 0.8))

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "schedule_traces.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("# generated by tests/gen_schedule_fixtures.py (torch %s ReduceLROnPlateau)\n" % torch.__version__)
        f.writelines(traces)
    print("wrote", path, len(traces), "traces")


if __name__ == "__main__":
    main()
