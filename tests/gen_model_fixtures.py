#!/usr/bin/env python3
"""gen_model_fixtures.py - the PyTorch reference for the C model (tests/test_model.c).

Run by a developer, not by CI (needs Debian's python3-torch, numpy, h5py):

    /usr/bin/python3 tests/gen_model_fixtures.py            # writes tests/fixtures/model/

neuralpredictors is not installed here, so the v0.0.3 modules the paper used
are reimplemented below in plain torch with the same state_dict names and the
same forward semantics (SE2dCore, FullGaussian2d with the grid-mean predictor
and feature sharing, FullSXF, PointPooled2d, the Encoder's ELU+1, the trainer's
scaled Poisson objective and LongCycler's accumulated multi-scan Adam step; see
docs/paper.md sections 1-4). The modules themselves are the nsid Python
module's (python/nsid/model.py); this file builds them from its configurations.
The module is importable: tests/test_nsid2torch.sh builds the same reference
models to check checkpoints converted by scripts/nsid2torch.py.

Each configuration <cfg> gives three small files:
  <cfg>.init.h5   nsid checkpoint of the initial parameters (state_dict layout)
  <cfg>.ref.h5    scans' metadata, inputs, noise z, targets; per step and scan the
                  outputs, the loss and its parts; every parameter gradient of the
                  first accumulated step; BN running statistics after its forwards;
                  eval-mode outputs after the 3 steps
  <cfg>.step3.h5  nsid checkpoint after 3 Adam steps (with Adam's m, v and step)
The model runs in float64 (parameters and inputs are float32 values), so the
fixtures are the exact answer for the float32 inputs and the C model's
deviation is its own rounding error.

Conditioning: the C test's tolerance is abs 1e-5 + rel 1e-4 per element, which
plain float32 PyTorch itself only meets when the quantities are O(1)-O(10).
So the images are z-scored (as the paper's VGG runs fed them) rather than raw
0..255: with a pixel mean of ~113 the gradient of conv0 sums terms ~113 times
larger than itself, and float32 rounding alone breaks the tolerance. For the
same reason the scans hold few trials (N = 5, 4: loss scales sqrt(N/B) 1.12, 1.0 and 1.15 for the partial batch).
The generator prints, per configuration, how far float32 torch lands from
the float64 answer in units of the tolerance (must stay well below 1).
"""
import collections
import json
import math
import os
import sys

import h5py
import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "scripts"), os.path.join(HERE, "..", "python")]
import nsid2torch  # noqa: E402

# The v0.0.3 modules (Laplace ... Encoder) are the nsid Python module's (python/nsid/model.py),
# which load_model builds from a checkpoint's record: one implementation.
from nsid.model import (Encoder, FullGaussian2d, FullSXF, MultiReadout, PointPooled2d, SE2dCore,  # noqa: E402
                        normalise_source_grid)


def build_model(cfg, scans):
    """The reference model for a configuration (see CONFIGS) and scans' metadata."""
    core = SE2dCore(1, cfg["channels"], cfg["input_kern"], cfg["hidden_kern"], cfg["layers"],
                    cfg["gamma_input"], cfg["momentum"])
    h = cfg["height"] - cfg["input_kern"] + 1
    w = cfg["width"] - cfg["input_kern"] + 1
    in_shape = (cfg["channels"], h, w)
    ro = MultiReadout(cfg["gamma_readout"])
    owner = None
    for s in scans:
        kind, share = cfg["readout"], cfg.get("share_features", False)
        ids = s["match_ids"] if share else None
        if kind == "gaussian":
            sg = normalise_source_grid(s["coords"]) if cfg.get("cortex", True) else None
            r = FullGaussian2d(in_shape, s["n"], source_grid=sg, match_ids=ids,
                               shared_features=owner._features if (share and owner is not None) else None)
        elif kind == "factorized":
            r = FullSXF(in_shape, s["n"], match_ids=ids,
                        shared_features=owner._features if (share and owner is not None) else None)
        elif kind == "pointpooled":
            r = PointPooled2d(in_shape, s["n"], cfg["pool_steps"], cfg["pool_kern"])
        else:
            raise ValueError(kind)
        ro.add_module(s["key"], r)
        owner = owner or r
    return Encoder(core, ro)


def objective(model, key, x, r, z, n_total, detach_core):
    """docs/paper.md §4.2: sqrt(N/B) * sum Poisson + [not detach] core reg + readout reg, and its parts."""
    out = model(x, key, detach_core=detach_core, z=z)
    scale = math.sqrt(n_total / x.shape[0])
    pois = (out - r * torch.log(out + 1e-12)).sum()
    core_reg = int(not detach_core) * model.core.regularizer()
    ro_reg = model.readout.regularizer(key)
    loss = scale * pois + core_reg + ro_reg
    return loss, out, {"poisson": pois, "core_reg": core_reg, "readout_reg": ro_reg}


# ------------------------------------------------------------ configurations

BASE = dict(channels=8, layers=3, input_kern=5, hidden_kern=3, height=16, width=20, momentum=0.9,
            gamma_input=1.0, lr=5e-3, steps=3, batch=4, frozen=False)
CONFIGS = {
    "gauss_cortex": dict(readout="gaussian", cortex=True, gamma_readout=0.3, neurons=(20, 17)),
    "gauss_share": dict(readout="gaussian", cortex=True, share_features=True, gamma_readout=0.3, neurons=(20, 23)),
    "gauss_free": dict(readout="gaussian", cortex=False, gamma_readout=0.3, neurons=(20, 17)),
    "factorized": dict(readout="factorized", gamma_readout=0.002, neurons=(20, 17)),
    "pointpooled": dict(readout="pointpooled", pool_steps=2, pool_kern=3, gamma_readout=0.05, neurons=(20, 17)),
    "frozen": dict(readout="gaussian", cortex=True, gamma_readout=0.3, neurons=(20, 17), frozen=True),
}
KEYS = ("22564-2-12-0", "22564-3-8-0")
N_TRIALS = (5, 4)


def make_scans(cfg, rng):
    scans = []
    n_ids = 12
    id_pool = rng.permutation(np.arange(1000, 1000 + 3 * n_ids, 3))  # unsorted, not 0..n-1
    for i, (key, n) in enumerate(zip(KEYS, cfg["neurons"])):
        coords = np.stack([rng.uniform(-300, 300, n) + 1200.0 * (i + 1), rng.uniform(-250, 250, n) - 400.0,
                           rng.uniform(100, 300, n)], axis=1)
        # every scan holds the same set of ids (docs/paper.md §2.3); extra neurons repeat some
        ids = np.concatenate([id_pool, rng.choice(id_pool, n - n_ids)]) if n >= n_ids else id_pool[:n]
        ids = rng.permutation(ids).astype(np.int64)
        scans.append(dict(key=key, n=n, coords=coords, match_ids=ids, n_trials=N_TRIALS[i]))
    return scans


def make_batches(cfg, scans, rng):
    """batches[t][s] = (x, r, z); the second scan's last batch is partial (B = 3)."""
    out = []
    for t in range(cfg["steps"]):
        row = []
        for s_i, s in enumerate(scans):
            b = 3 if (t == cfg["steps"] - 1 and s_i == 1) else cfg["batch"]
            # z-scored pixels: see the note on conditioning in the module docstring
            x = ((rng.uniform(0, 255, (b, 1, cfg["height"], cfg["width"])) - 127.5) / 73.6).astype(np.float32)
            r = rng.gamma(2.0, 0.5, (b, s["n"])).astype(np.float32)
            z = rng.standard_normal((b, s["n"], 2)).astype(np.float32)
            row.append((x, r, z))
        out.append(row)
    return out


def init_params(model, cfg, scans, batches, rng):
    """Initial values that exercise every path (larger than the paper's tiny readout inits)."""
    with torch.no_grad():
        for m in model.core.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.from_numpy(1 + 0.1 * rng.standard_normal(m.weight.shape)))
                m.bias.copy_(torch.from_numpy(0.1 * rng.standard_normal(m.bias.shape)))
        for s_i, s in enumerate(scans):
            r = model.readout[s["key"]]
            mean_r = torch.from_numpy(batches[0][s_i][1].mean(0))
            if isinstance(r, FullGaussian2d):
                r.sigma.copy_(torch.from_numpy(rng.uniform(-0.4, 0.4, r.sigma.shape)))
                if r._original_features:
                    r._features.copy_(torch.from_numpy(0.3 * rng.standard_normal(r._features.shape)))
                if r._shared_features:
                    r.scales.copy_(torch.from_numpy(1 + 0.1 * rng.standard_normal(r.scales.shape)))
                if r._predicted_grid:
                    q, _ = np.linalg.qr(rng.standard_normal((2, 2)))
                    r.mu_transform[0].weight.copy_(torch.from_numpy(0.8 * q))
                    r.mu_transform[0].bias.copy_(torch.from_numpy(0.05 * rng.standard_normal(2)))
                else:
                    r._mu.copy_(torch.from_numpy(rng.uniform(-0.55, 0.55, r._mu.shape)))
            elif isinstance(r, FullSXF):
                r.spatial.copy_(torch.from_numpy(0.1 * rng.standard_normal(r.spatial.shape)))
                if r._original_features:
                    r._features.copy_(torch.from_numpy(0.3 * rng.standard_normal(r._features.shape)))
                if r._shared_features:
                    r.scales.copy_(torch.from_numpy(1 + 0.1 * rng.standard_normal(r.scales.shape)))
            elif isinstance(r, PointPooled2d):
                # some positions outside [-1, 1]: the in-place clamp at forward is part of the semantics
                r.grid.copy_(torch.from_numpy(rng.uniform(-1.15, 1.15, r.grid.shape)))
                c = cfg["channels"]
                r.features.copy_(torch.from_numpy(1.0 / c + 0.1 * rng.standard_normal(r.features.shape)))
            r.bias.copy_(mean_r)


def arch_json(cfg, scans):
    d = {k: v for k, v in cfg.items() if k not in ("neurons",)}
    d["scans"] = [dict(key=s["key"], neurons=s["n"], n_trials=s["n_trials"]) for s in scans]
    return json.dumps(d, sort_keys=True)


def state_f32(model):
    """state_dict with float tensors cast to float32, sharing kept (one tensor per storage)."""
    sd = model.state_dict(keep_vars=False)
    out, cast = collections.OrderedDict(), {}
    for k, v in sd.items():
        if v.is_floating_point():
            key = (v.data_ptr(), tuple(v.shape))
            if key not in cast:
                cast[key] = v.detach().to(torch.float32).clone()
            out[k] = cast[key]
        else:
            out[k] = v.detach().clone()
    return out


def adam_state(model, opt):
    """Adam m, v per named parameter (zeros where the optimizer never stepped: frozen core)."""
    m, v = collections.OrderedDict(), collections.OrderedDict()
    for name, p in model.named_parameters():  # shared parameters appear once
        st = opt.state.get(p, {})
        m[name] = st.get("exp_avg", torch.zeros_like(p)).to(torch.float32)
        v[name] = st.get("exp_avg_sq", torch.zeros_like(p)).to(torch.float32)
    return m, v


def run(cfg, scans, batches, model, dtype):
    """3 accumulated Adam steps; returns everything the fixture records."""
    model = model.to(dtype)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    rec = {"steps": [], "grad": None, "bn": None}
    for t, row in enumerate(batches):
        opt.zero_grad()
        step = []
        for s, (x, r, z) in zip(scans, row):
            x_, r_, z_ = (torch.from_numpy(a).to(dtype) for a in (x, r, z))
            loss, out, parts = objective(model, s["key"], x_, r_, z_, s["n_trials"], cfg["frozen"])
            loss.backward()
            step.append(dict(out=out.detach().numpy().copy(), loss=float(loss),
                             **{k: float(v) for k, v in parts.items()}))
        rec["steps"].append(step)
        if t == 0:
            rec["grad"] = collections.OrderedDict(
                (n, p.grad.detach().numpy().astype(np.float32).copy())
                for n, p in model.named_parameters() if p.grad is not None)
            rec["bn"] = collections.OrderedDict(
                (n, b.detach().numpy().copy()) for n, b in model.named_buffers()
                if "running" in n or "num_batches" in n)
        opt.step()
    model.eval()
    with torch.no_grad():
        rec["eval"] = [model(torch.from_numpy(batches[0][i][0]).to(dtype), s["key"]).numpy().copy()
                       for i, s in enumerate(scans)]
    rec["final"] = state_f32(model)
    rec["adam"] = adam_state(model, opt)
    return rec


def _put(g, name, a):
    nsid2torch.h5_put(g, name, a)  # no timestamps: reruns give the same bytes


def write_ref(path, cfg, scans, batches, rec):
    with nsid2torch.h5_create(path) as f:
        f.attrs["config"] = np.bytes_(arch_json(cfg, scans))
        meta = nsid2torch.h5_group(f, "meta")
        for k in ("channels", "layers", "input_kern", "hidden_kern", "height", "width", "steps"):
            meta.attrs[k] = np.int64(cfg[k])
        for k in ("momentum", "gamma_input", "gamma_readout", "lr"):
            meta.attrs[k] = np.float64(cfg[k])
        meta.attrs["readout"] = np.bytes_(cfg["readout"])
        meta.attrs["frozen"] = np.int64(cfg["frozen"])
        meta.attrs["cortex"] = np.int64(cfg.get("cortex", False))
        meta.attrs["share_features"] = np.int64(cfg.get("share_features", False))
        meta.attrs["pool_steps"] = np.int64(cfg.get("pool_steps", 0))
        meta.attrs["pool_kern"] = np.int64(cfg.get("pool_kern", 0))
        meta.attrs["n_scans"] = np.int64(len(scans))
        for i, s in enumerate(scans):
            g = nsid2torch.h5_group(f, f"scan{i}")
            g.attrs["key"] = np.bytes_(s["key"])
            g.attrs["n_trials"] = np.int64(s["n_trials"])
            _put(g, "coords", s["coords"])
            _put(g, "match_ids", s["match_ids"])
        for t, row in enumerate(batches):
            for i, (x, r, z) in enumerate(row):
                g = nsid2torch.h5_group(f, f"step{t}/scan{i}")
                _put(g, "x", x), _put(g, "y", r), _put(g, "z", z)
                st = rec["steps"][t][i]
                _put(g, "out", st["out"].astype(np.float32))
                for k in ("loss", "poisson", "core_reg", "readout_reg"):
                    _put(g, k, np.float64(st[k]))
        for n, a in rec["grad"].items():
            _put(f, "grad/" + n.replace(".", "/"), a.astype(np.float32))
        for n, a in rec["bn"].items():
            _put(f, "bn/" + n.replace(".", "/"), a.astype(np.int64 if "num_batches" in n else np.float32))
        for i, e in enumerate(rec["eval"]):
            _put(f, f"eval/scan{i}/out", e.astype(np.float32))


def generate(name, outdir):
    cfg = dict(BASE, **CONFIGS[name])
    seed = 1000 + sorted(CONFIGS).index(name)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    scans = make_scans(cfg, rng)
    batches = make_batches(cfg, scans, rng)
    model = build_model(cfg, scans)
    init_params(model, cfg, scans, batches, rng)
    init = state_f32(model)
    arch = arch_json(cfg, scans)
    nsid2torch.write_checkpoint(os.path.join(outdir, f"{name}.init.h5"), init, arch=arch)

    # The reference: float64 from the float32 initial values.
    m64 = build_model(cfg, scans)
    m64.load_state_dict(init)
    rec = run(cfg, scans, batches, m64, torch.float64)
    write_ref(os.path.join(outdir, f"{name}.ref.h5"), cfg, scans, batches, rec)
    m, v = rec["adam"]
    nsid2torch.write_checkpoint(os.path.join(outdir, f"{name}.step3.h5"), rec["final"], arch=arch,
                                optimizer={"step": cfg["steps"], "m": m, "v": v})

    # How far plain float32 torch lands from the float64 answer: the scale of error to expect from C.
    m32 = build_model(cfg, scans)
    m32.load_state_dict(init)
    r32 = run(cfg, scans, batches, m32, torch.float32)
    worst = {}

    def excess(a, b):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return float(np.max(np.abs(a - b) / (1e-5 + 1e-4 * np.abs(b)))) if a.size else 0.0

    worst["out"] = max(excess(r32["steps"][t][i]["out"], rec["steps"][t][i]["out"])
                       for t in range(cfg["steps"]) for i in range(len(scans)))
    worst["grad"] = max(excess(r32["grad"][n], rec["grad"][n]) for n in rec["grad"])
    worst["final"] = max(excess(r32["final"][n].numpy(), rec["final"][n].numpy()) for n in rec["final"]
                         if rec["final"][n].is_floating_point())
    sizes = {sfx: os.path.getsize(os.path.join(outdir, f"{name}.{sfx}.h5")) for sfx in ("init", "ref", "step3")}
    print(f"{name:12s} losses step0 {[round(s['loss'], 4) for s in rec['steps'][0]]} "
          f"float32-torch/(abs1e-5+rel1e-4) worst: " + ", ".join(f"{k} {v:.3f}" for k, v in worst.items())
          + f"  sizes {sizes}")


def main():
    outdir = os.path.join(HERE, "fixtures", "model")
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    names = sys.argv[1:] or sorted(CONFIGS)
    for name in names:
        generate(name, outdir)


if __name__ == "__main__":
    main()
