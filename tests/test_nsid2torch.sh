#!/usr/bin/env bash
# test_nsid2torch.sh - nsid checkpoints through scripts/nsid2torch.py into PyTorch and back.
#
# 1. test_model --export writes checkpoints of C models (trained 2 steps from the
#    fixtures' initial state: Gaussian with feature sharing, free-mean Gaussian,
#    factorized, point-pooled) and the C model's outputs on fixed inputs/noise.
# 2. nsid2torch.py --to-torch turns each into a .pt state_dict; the PyTorch
#    reference model (tests/gen_model_fixtures.py, neuralpredictors v0.0.3
#    names) loads it with strict=True and must give the same outputs in
#    evaluation mode and in training mode (BN batch statistics, fixed noise).
# 3. Back: the torch state_dict --from-torch must load into the C model
#    (test_model --check-load), and so must a bare core state_dict (keys
#    "features....", like the authors' released lurz_model_core) converted with
#    --add-prefix core., loaded by prefix "core." (transfer).
# Needs /usr/bin/python3 with torch, numpy and h5py; otherwise it is skipped (exit 77).
set -euo pipefail
src=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
export NSID_BIN=${NSID_BIN:-$src/build}
bin=$NSID_BIN
export NSID_FIXTURES=${NSID_FIXTURES:-$src/tests/fixtures}
py=/usr/bin/python3
if ! [ -x "$py" ] || ! "$py" -c "import torch, numpy, h5py" 2>/dev/null; then
    echo "skipped: no torch (needs /usr/bin/python3 with torch, numpy and h5py)"
    exit 77   # CTest: Skipped (SKIP_RETURN_CODE)
fi
tmp=$(mktemp -d /tmp/nsid2torch.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$bin/test_model" --export "$tmp" >/dev/null

OMP_NUM_THREADS=1 "$py" - "$src" "$tmp" <<'EOF'
import os, subprocess, sys
import h5py, numpy as np, torch

src, tmp = sys.argv[1], sys.argv[2]
sys.path[:0] = [os.path.join(src, "tests"), os.path.join(src, "scripts")]
import gen_model_fixtures as ref
import nsid2torch

torch.set_num_threads(1)
fixtures = os.environ["NSID_FIXTURES"]
tool = os.path.join(src, "scripts", "nsid2torch.py")
failed = 0


def check(ok, what):
    global failed
    print(("ok   " if ok else "FAIL ") + what)
    failed += not ok


def scans_of(name):
    """Configuration and scans' metadata of a fixture (as the generator made them)."""
    with h5py.File(os.path.join(fixtures, "model", f"{name}.ref.h5"), "r") as f:
        cfg = dict(ref.BASE, **ref.CONFIGS[name])
        scans = []
        for i in range(int(f["meta"].attrs["n_scans"])):
            g = f[f"scan{i}"]
            scans.append(dict(key=g.attrs["key"].decode(), n=g["coords"].shape[0], coords=g["coords"][()],
                              match_ids=g["match_ids"][()], n_trials=int(g.attrs["n_trials"])))
    return cfg, scans


for name in ("gauss_share", "gauss_free", "factorized", "pointpooled"):
    ckpt, pt = os.path.join(tmp, f"{name}.h5"), os.path.join(tmp, f"{name}.pt")
    check(nsid2torch.main(["--to-torch", ckpt, pt]) == 0, f"{name}: nsid2torch --to-torch")
    cfg, scans = scans_of(name)
    model = ref.build_model(cfg, scans)
    sd = torch.load(pt)
    res = model.load_state_dict(sd, strict=True)
    check(not res.missing_keys and not res.unexpected_keys, f"{name}: nsid checkpoint loads into torch (strict)")
    if cfg.get("share_features"):
        k0, k1 = scans[0]["key"], scans[1]["key"]
        check(sd[f"readout.{k1}._features"].data_ptr() == sd[f"readout.{k0}._features"].data_ptr(),
              f"{name}: shared _features is one tensor in the state_dict")
        check(sd[f"readout.{k1}.feature_sharing_index"].dtype == torch.int64,
              f"{name}: feature_sharing_index is int64")
    nbt = [sd[f"core.features.layer{k}.norm.num_batches_tracked"] for k in range(cfg["layers"])]
    check(all(t.dtype == torch.int64 and t.shape == () and t.item() == 4 for t in nbt),
          f"{name}: num_batches_tracked int64 scalars = 4 (2 steps x 2 scans)")
    check(all(sd[k].shape == v.shape and sd[k].dtype == v.dtype for k, v in model.state_dict().items()),
          f"{name}: every tensor has the torch model's own shape and dtype")
    model = model.double()
    worst = 0.0
    with h5py.File(os.path.join(tmp, f"{name}.io.h5"), "r") as io, torch.no_grad():
        for mode in ("eval", "train"):
            model.train(mode == "train")
            for i, s in enumerate(scans):
                x = torch.from_numpy(io[f"scan{i}_x"][()]).double()
                z = torch.from_numpy(io[f"scan{i}_z"][()]).double() if mode == "train" else None
                got = model(x, s["key"], z=z).numpy()
                want = io[f"scan{i}_{mode}"][()].astype(np.float64)
                excess = np.max(np.abs(got - want) / (1e-5 + 1e-4 * np.abs(want)))
                worst = max(worst, excess)
                check(excess <= 1.0, f"{name}: {mode} outputs of {s['key']} agree (worst {excess:.3f} of abs 1e-5 + rel 1e-4)")

    # Back to nsid: the state_dict of a torch model holding the checkpoint, and a bare core
    # as the authors released theirs.
    model = ref.build_model(cfg, scans)
    model.load_state_dict(sd, strict=True)
    back = os.path.join(tmp, f"{name}.back.h5")
    torch.save(model.state_dict(), pt)
    check(nsid2torch.main(["--from-torch", pt, back]) == 0, f"{name}: nsid2torch --from-torch")
    a, _, al_a, _ = nsid2torch.read_checkpoint(ckpt)
    b, _, al_b, _ = nsid2torch.read_checkpoint(back)
    same = a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)
    check(same and al_a == al_b, f"{name}: nsid -> torch -> nsid keeps every tensor, dtype and shared link")
    r = subprocess.run([os.path.join(os.environ["NSID_BIN"], "test_model"), "--check-load", back, name],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"{name}: a torch state_dict converted --from-torch loads into the C model {r.stderr.strip()}")
    core_pt, core_h5 = os.path.join(tmp, "core.pt"), os.path.join(tmp, "core.h5")
    torch.save(model.core.state_dict(), core_pt)
    check(nsid2torch.main(["--from-torch", core_pt, core_h5, "--add-prefix", "core."]) == 0,
          f"{name}: nsid2torch --from-torch --add-prefix core.")
    r = subprocess.run([os.path.join(os.environ["NSID_BIN"], "test_model"), "--check-load", core_h5, name, "core."],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"{name}: a bare core state_dict (+ prefix core.) transfers into the C model {r.stderr.strip()}")

# A wrong checkpoint: the converter refuses a file that is not an nsid checkpoint.
bad = os.path.join(tmp, "bad.h5")
with h5py.File(bad, "w") as f:
    f["x"] = np.zeros(3, np.float32)
r = subprocess.run([sys.executable, tool, "--to-torch", bad, os.path.join(tmp, "bad.pt")], capture_output=True,
                   text=True)
check(r.returncode != 0 and "not an nsid checkpoint" in r.stderr, "a non-checkpoint is refused with a message")
sys.exit(1 if failed else 0)
EOF
echo "nsid2torch: all checks passed"
