#!/usr/bin/python3
"""Reference values for tests/test_metrics.c (writes tests/fixtures/metrics_ref.txt).

The measures are recomputed here the way neuralpredictors v0.0.x (measures.corr) and
lurz2020 (utility/measures.py: get_correlations, get_avg_correlations, compute_oracle_corr,
get_fraction_oracles, compute_FEV) compute them, in float64 from the float32 inputs; the RF
fit uses np.linalg.lstsq on [x, y, 1]. Independent of the C code: it never sorts trials by
id the way the C code does, it builds per-image lists like the repeat data loader.

Run with Debian's interpreter:  /usr/bin/python3 tests/gen_metric_fixtures.py
Format: one array per line, "<name> <count> <values...>", values printed with repr()
(float32 inputs print exactly; NaN prints as nan).
"""
import os

import numpy as np


def corr(y1, y2, axis=0, eps=1e-8):
    """neuralpredictors.measures.corr: z-score with ddof-0 std + eps, mean of products."""
    y1 = (y1 - y1.mean(axis=axis, keepdims=True)) / (y1.std(axis=axis, keepdims=True, ddof=0) + eps)
    y2 = (y2 - y2.mean(axis=axis, keepdims=True)) / (y2.std(axis=axis, keepdims=True, ddof=0) + eps)
    return (y1 * y2).mean(axis=axis)


def nan_to_zero(c):
    c = c.copy()
    c[np.isnan(c)] = 0
    return c


def per_image(target, pred, group):
    """What the repeat loader yields: per image (in order of first appearance) its trials."""
    ids = list(dict.fromkeys(group.tolist()))
    t = [target[group == i] for i in ids]
    p = [pred[group == i] for i in ids] if pred is not None else None
    return t, p


def test_corr(target, pred):
    return nan_to_zero(corr(target, pred, axis=0))  # get_correlations: per neuron, NaN -> 0


def avg_corr(target, pred, group):
    t, p = per_image(target, pred, group)
    target_mean = np.array([x.mean(axis=0) for x in t])
    output = np.array([x[0] for x in p])  # model_predictions_repeats forwards each image once
    return nan_to_zero(corr(target_mean, output, axis=0))


def oracle_corr(target, group):
    t, _ = per_image(target, None, group)
    reps = [x for x in t if x.shape[0] >= 2]  # get_repeats(min_repeats=2)
    oracles = []
    for outputs in reps:
        r = outputs.shape[0]
        mu = outputs.mean(axis=0, keepdims=True)
        oracles.append((mu - outputs / r) * r / (r - 1))
    return nan_to_zero(corr(np.vstack(reps), np.vstack(oracles), axis=0))


def fev_feve(target, pred, group):
    t, p = per_image(target, pred, group)
    keep = [k for k in range(len(t)) if t[k].shape[0] >= 2]
    targets, outputs = [t[k] for k in keep], [p[k] for k in keep]
    img_var = np.vstack([np.var(x, axis=0, ddof=1) for x in targets])
    pred_var = np.vstack([(x - y) ** 2 for x, y in zip(targets, outputs)])
    with np.errstate(divide="ignore", invalid="ignore"):
        total = np.var(np.vstack(targets), axis=0, ddof=1)
        noise = np.mean(img_var, axis=0)
        fev = (total - noise) / total
        feve = 1 - (np.mean(pred_var, axis=0) - noise) / (total - noise)
    # nsid's convention for the undefined cases (a zero denominator; numpy gives nan or -inf): NaN.
    fev[total == 0] = np.nan
    feve[(total - noise) == 0] = np.nan
    return fev, feve


def make_scan(rng, name, n_neurons, repeats, ids):
    """A tier of repeated images: Poisson-ish responses around per-image rates, shuffled trials."""
    n_img = len(repeats)
    rates = rng.gamma(2.0, 1.0, size=(n_img, n_neurons)) * rng.uniform(0.2, 3.0, size=n_neurons)
    group = np.repeat(np.array(ids, dtype=np.int64), repeats)
    img = np.repeat(np.arange(n_img), repeats)
    target = rng.poisson(rates[img]).astype(np.float32) + rng.normal(0, 0.3, size=(len(img), n_neurons)).astype(np.float32)
    pred_img = (0.6 * rates + 0.4 * rates.mean(axis=0) + rng.normal(0, 0.5, size=rates.shape)).astype(np.float32)
    pred = pred_img[img]
    # Special neurons: constant response (corr 0, FEV undefined); prediction constant.
    target[:, 0] = np.float32(0.5)
    pred[:, 1] = np.float32(1.25)
    perm = rng.permutation(len(img))
    return name, target[perm], pred[perm], group[perm]


def fmt(x):
    x = float(x)
    return "nan" if np.isnan(x) else repr(x)


def line(name, values):
    values = np.asarray(values).ravel()
    return "%s %d %s\n" % (name, values.size, " ".join(fmt(v) for v in values))


def main():
    rng = np.random.default_rng(1017)
    out = []
    scans = [
        make_scan(rng, "a", 7, [10, 10, 9, 10, 8, 1, 1, 3, 2, 10, 10, 5], [5, 17, 3, 900, 42, 7, 8, -4, 11, 12, 13, 99]),
        make_scan(rng, "b", 5, [2, 2, 2, 3, 1, 4, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7]),
    ]
    all_oracle, all_corr = [], []
    for name, target32, pred32, group in scans:
        target, pred = target32.astype(np.float64), pred32.astype(np.float64)  # the reference in float64
        c = test_corr(target, pred)
        o = oracle_corr(target, group)
        fev, feve = fev_feve(target, pred, group)
        out += [line(name + ".target", target32), line(name + ".pred", pred32), line(name + ".group", group),
                line(name + ".shape", [target.shape[0], target.shape[1]]),
                line(name + ".corr", c), line(name + ".corr_avg", avg_corr(target, pred, group)),
                line(name + ".oracle", o), line(name + ".fev", fev), line(name + ".feve", feve)]
        all_oracle.append(o)
        all_corr.append(c)
    slope, _, _, _ = np.linalg.lstsq(np.hstack(all_oracle)[:, np.newaxis], np.hstack(all_corr), rcond=None)
    out.append(line("fraction_oracle", slope))

    # Receptive-field recovery: true centres = an affine map of the learned positions plus noise.
    n = 40
    learned = rng.uniform(-1, 1, size=(n, 2))
    A = np.array([[14.0, -3.0], [2.5, 9.0]])
    b = np.array([32.0, 18.0])
    truth = learned @ A.T + b + rng.normal(0, 0.8, size=(n, 2))
    X = np.hstack([learned, np.ones((n, 1))])
    coef, _, _, _ = np.linalg.lstsq(X, truth, rcond=None)  # (3, 2): truth ~ X coef
    mapped = X @ coef
    dist = np.sqrt(((mapped - truth) ** 2).sum(axis=1))
    out += [line("rf.learned", learned), line("rf.truth", truth), line("rf.A", coef[:2].T), line("rf.b", coef[2]),
            line("rf.corr", [corr(mapped[:, 0], truth[:, 0]), corr(mapped[:, 1], truth[:, 1])]),
            line("rf.dist", dist), line("rf.mean_dist", [dist.mean()])]

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "metrics_ref.txt")
    with open(path, "w") as f:
        f.write("# generated by tests/gen_metric_fixtures.py (numpy %s)\n" % np.__version__)
        f.writelines(out)
    print("wrote", path)


if __name__ == "__main__":
    main()
