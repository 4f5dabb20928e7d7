#!/usr/bin/env bash
# test_python.sh - the nsid Python module (python/nsid, docs/python.md) on smoke runs (issue 18 item 5).
#
# 1. nsid-simulate --profile smoke (the matched 4-scan group and the evaluation scan), then short
#    nsid-train + nsid-eval --predictions runs of every readout and core form:
#      gauss_share   Gaussian, grid-mean predictor, feature sharing across 2 matched scans
#      gauss_eye     Gaussian with a free mean, an eye shifter and a behaviour modulator
#      factorized    factorized, normalised masks, feature sharing across 2 matched scans
#      pointpooled   point-pooled
#      se2d_random   a random SE2d core (padded first layer, plain convolutions), frozen
#      vgg16_random  the VGG16 core (random weights), frozen, z-scored images
# 2. nsid.load_model of each checkpoint predicts the test trials of pred.h5 (inputs from
#    nsid.load_inputs) and must agree with nsid-eval's predictions: relative error < 1e-5 per
#    value; its parameter names are the checkpoint's (neuralpredictors v0.0.x).
#    The same for the C model's own checkpoints (test_model --export) and, with the architecture
#    inferred from the tensors, the PyTorch fixtures' (tests/fixtures/model/*.step3.h5).
# 3. nsid.read_store on a store merged from the runs (nsid-db merge): every row and column as the
#    sqlite3 CLI shows them, numpy dtypes, lists without numpy, and importing nsid imports no
#    numpy/h5py/torch; bad input (an unknown view, a missing store) is one error, nothing created.
# 4. nsid2torch.py --from-torch of whole models with the architecture from a checkpoint and from a
#    run configuration (YAML and pretty-printed JSON): nsid-eval of the converted checkpoint gives
#    the same predictions, bit for bit, and so does load_model; a record whose scans are not the
#    tensors' readouts is refused.
# 5. docs/python.md's commands, run verbatim.
# Needs /usr/bin/python3 with torch, numpy and h5py (Debian python3-torch, python3-numpy,
# python3-h5py); otherwise it is skipped (exit 77).
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
py=/usr/bin/python3
if ! [ -x "$py" ] || ! "$py" -c "import torch, numpy, h5py" 2>/dev/null; then
    echo "skipped: no torch (needs /usr/bin/python3 with torch, numpy and h5py)"
    exit 77   # CTest: Skipped (SKIP_RETURN_CODE)
fi
for b in nsid-simulate nsid-train nsid-eval nsid-db; do
    [ -x "$BIN/$b" ] || { echo "test_python: $BIN/$b missing (build first)"; exit 1; }
done
command -v sqlite3 >/dev/null || { echo "test_python: needs sqlite3 (scripts/deps.sh installs it)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_python_XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
. "$SRC/tests/sh_check.sh"
. "$SRC/tests/doc_block.sh"
export OMP_NUM_THREADS=1

# ---- 1. smoke scans and runs ---------------------------------------------------------------------
"$BIN/nsid-simulate" --profile smoke --out data --set groups=4s_matched,evaluation >sim.log 2>&1
check "nsid-simulate --profile smoke" test -f data/static20457-5-9-preproc0.h5
ev=data/static20457-5-9-preproc0.h5
m1=data/static22564-2-12-preproc0.h5
m2=data/static22564-3-8-preproc0.h5
# Readout weights far from their tiny initial values (Gaussian 1e-3, factorized 4e-5), so that
# every output depends on the core at float32 resolution: a wrong core or readout shows.
short=(--set train.max_epochs=3 --set model.core.hidden_channels=16 --set model.readout.init_noise=0.1
       --set model.readout.factorized_init_noise=0.1)
run() { # name, then nsid-train's --set/--data arguments
    local name=$1
    shift
    local data=()
    for a in "$@"; do case $a in data/*) data+=(--data "$a") ;; esac; done
    local sets=()
    for a in "$@"; do case $a in data/*) ;; *) sets+=("$a") ;; esac; done
    "$BIN/nsid-train" "${data[@]}" "${sets[@]}" --out "runs/$name" --quiet >"$name.train.log" 2>&1 &&
        "$BIN/nsid-eval" --checkpoint "runs/$name/checkpoint.h5" "${data[@]}" --db "runs/$name/run.db" \
            --predictions "runs/$name/pred.h5" --quiet >"$name.eval.log" 2>&1
}
check "run gauss_share" run gauss_share "${short[@]}" --set model.readout.share_features=true $m1 $m2
check "run gauss_eye" run gauss_eye "${short[@]}" --set model.readout.grid_mean_predictor=none \
    --set model.shifter.enabled=true --set model.modulator.enabled=true $ev
check "run factorized" run factorized "${short[@]}" --set model.readout.type=factorized \
    --set model.readout.normalize=true --set model.readout.share_features=true $m1 $m2
check "run pointpooled" run pointpooled "${short[@]}" --set model.readout.type=pointpooled $ev
check "run se2d_random" run se2d_random "${short[@]}" --set model.core.random=true --set train.detach_core=true \
    --set model.core.pad_input=true --set model.core.depth_separable=false --set model.core.layers=3 \
    --set model.core.hidden_kern=5 $ev
check "run vgg16_random" run vgg16_random --set train.max_epochs=2 --set model.readout.init_noise=0.1 --set model.core.type=vgg16 \
    --set model.core.random=true --set train.detach_core=true --set data.normalize_images=true $ev
runs=(gauss_share gauss_eye factorized pointpooled se2d_random vgg16_random)
"$BIN/nsid-db" merge runs/*/run.db --into results.db >merge.log 2>&1
check "nsid-db merge of the runs" test -s results.db

# ---- 2.-4. the module ----------------------------------------------------------------------------
NSID_BIN_DIR=$BIN NSID_FIXTURES=${NSID_FIXTURES:-$SRC/tests/fixtures} "$py" - "$SRC" "$T" "${runs[@]}" <<'EOF'
import json, os, sqlite3, subprocess, sys
src, tmp, runs = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path.insert(0, os.path.join(src, "python"))
import nsid
heavy = sorted(m for m in ("numpy", "h5py", "torch") if m in sys.modules)
failed = 0


def check(ok, what):
    global failed
    print(("ok   " if ok else "FAIL ") + what)
    failed += not ok


check(not heavy, f"import nsid imports no numpy, h5py or torch ({heavy})")
import h5py, numpy as np, torch

torch.set_num_threads(1)
tool = [sys.executable, os.path.join(src, "scripts", "nsid2torch.py")]
data = {k: os.path.join(tmp, "data", f) for k, f in (("20457-5-9-0", "static20457-5-9-preproc0.h5"),
                                                        ("22564-2-12-0", "static22564-2-12-preproc0.h5"),
                                                        ("22564-3-8-0", "static22564-3-8-preproc0.h5"))}


def predict(model, pred, name):
    """model's outputs on the test trials of pred (nsid-eval's), and the worst relative error."""
    worst, n = 0.0, 0
    for key in model.data_keys:
        p = pred[key]
        x = nsid.load_inputs(data[key], p["trials"], normalize_images=model.config.get("data", {}).get("normalize_images", False))
        kw = {}
        if model.shifter is not None:
            kw["pupil_center"] = torch.from_numpy(x["pupil_center"])
        if model.modulator is not None:
            kw["behavior"] = torch.from_numpy(x["behavior"])
        with torch.no_grad():
            out = model(torch.from_numpy(x["images"]), key, **kw).numpy()
        want = p["predictions"]
        if out.shape != want.shape:
            return float("inf"), 0
        worst = max(worst, float(np.max(np.abs(out.astype(np.float64) - want) / np.abs(want))))
        n += out.size
    return worst, n


kinds = {"gauss_share": ("nsid-model", "gaussian"), "gauss_eye": ("nsid-model", "gaussian"),
         "factorized": ("nsid-model", "factorized"), "pointpooled": ("nsid-model", "pointpooled"),
         "se2d_random": ("nsid-model", "gaussian"), "vgg16_random": ("nsid-taskdriven", "gaussian")}
for name in runs:
    ckpt = os.path.join(tmp, "runs", name, "checkpoint.h5")
    pred = nsid.load_predictions(os.path.join(tmp, "runs", name, "pred.h5"))
    model = nsid.load_model(ckpt)
    fmt, kind = kinds[name]
    check(isinstance(model, torch.nn.Module) and not model.training, f"{name}: load_model gives a module in eval mode")
    check(model.arch["format"] == fmt and model.arch.get("readout", {}).get("kind", kind) == kind,
          f"{name}: built from the recorded architecture ({model.arch['format']}, {kind})")
    state, _, _, _ = nsid.read_checkpoint(ckpt)
    sd = model.state_dict()
    check(sorted(sd) == sorted(state) and all(tuple(sd[k].shape) == state[k].shape for k in state),
          f"{name}: its state_dict has the checkpoint's names (neuralpredictors v0.0.x) and shapes")
    check(sorted(pred) == sorted(model.data_keys), f"{name}: pred.h5 holds the model's scans {model.data_keys}")
    worst, n = predict(model, pred, name)
    check(n > 0 and worst < 1e-5, f"{name}: eval() outputs = nsid-eval's predictions ({n} values, worst relative error {worst:.2e})")
    # The comparison sees the core: 1% more on its first convolution's weights is far outside the tolerance.
    first = [p for n, p in model.named_parameters() if n.startswith("core.") and n.endswith(".weight")][0]
    with torch.no_grad():
        first.mul_(1.01)
    bad, _ = predict(model, pred, name)
    check(bad > 1e-4, f"{name}: a 1% change of the core's first weights is seen (relative error {bad:.1e})")
    ids = model.neuron_ids
    check(all(np.array_equal(ids[k], pred[k]["unit_ids"]) for k in model.data_keys),
          f"{name}: neuron_ids are pred.h5's unit_ids")

m = nsid.load_model(os.path.join(tmp, "runs", "gauss_share", "checkpoint.h5"))
k0, k1 = m.data_keys
check(m.readout[k0]._features is m.readout[k1]._features, "gauss_share: the shared _features is one parameter")
try:
    m(torch.zeros(1, 1, 36, 64), "no-such-scan")
    check(False, "an unknown data key is refused")
except KeyError:
    check(True, "an unknown data key is refused")
m = nsid.load_model(os.path.join(tmp, "runs", "gauss_eye", "checkpoint.h5"))
try:
    m(torch.zeros(1, 1, 36, 64), m.data_keys[0])
    check(False, "a model with a shifter refuses a call without pupil_center")
except ValueError as e:
    check("pupil_center" in str(e), "a model with a shifter refuses a call without pupil_center")
try:
    nsid.load_model(os.path.join(tmp, "runs", "pointpooled", "pred.h5"))
    check(False, "load_model refuses a file that is not a checkpoint")
except ValueError as e:
    check("not an nsid checkpoint" in str(e) and "pred.h5" in str(e), f"load_model refuses a file that is not a checkpoint ({e})")
st, _, al, _ = nsid.read_checkpoint(os.path.join(tmp, "runs", "pointpooled", "checkpoint.h5"))
with h5py.File(os.path.join(tmp, "runs", "se2d_random", "checkpoint.h5"), "r") as f:
    other = f.attrs["architecture"].decode()
mixed = os.path.join(tmp, "mixed.h5")
nsid.write_checkpoint(mixed, st, arch=other, aliases=al)
try:
    nsid.load_model(mixed)
    check(False, "load_model refuses tensors that do not fit the recorded architecture")
except ValueError as e:
    check("does not fit" in str(e) and "mixed.h5" in str(e), f"load_model refuses tensors that do not fit the recorded architecture ({str(e)[:120]})")
p = nsid.load_predictions(os.path.join(tmp, "runs", "pointpooled", "pred.h5"))["20457-5-9-0"]
check(all(k in p for k in ("predictions", "responses", "trials", "unit_ids", "test_corr", "oracle", "feve"))
      and p["predictions"].dtype == np.float32 and p["trials"].dtype == np.int64,
      "load_predictions: predictions, responses, trials, unit_ids and the measures, as numpy arrays")

# Checkpoints other than nsid-train's: the C model's own (nsid_model_save: an nsid-model record, by
# test_model --export with its evaluation outputs) and the PyTorch fixtures' (no nsid record: the
# architecture is inferred from the tensors), against their reference outputs.
exp = os.path.join(tmp, "export")
os.makedirs(exp)
subprocess.run([os.path.join(os.environ["NSID_BIN_DIR"], "test_model"), "--export", exp], capture_output=True, check=True)
for name in ("gauss_share", "gauss_free", "factorized", "pointpooled"):
    m = nsid.load_model(os.path.join(exp, f"{name}.h5"))
    worst = 0.0
    with h5py.File(os.path.join(exp, f"{name}.io.h5"), "r") as io, torch.no_grad():
        for i, key in enumerate(m.data_keys):
            out = m(torch.from_numpy(io[f"scan{i}_x"][()]), key).numpy().astype(np.float64)
            want = io[f"scan{i}_eval"][()].astype(np.float64)
            worst = max(worst, float(np.max(np.abs(out - want) / np.abs(want))))
    check(m.arch["format"] == "nsid-model" and worst < 1e-5,
          f"C model checkpoint {name} (nsid-model record): eval outputs agree (worst relative error {worst:.1e})")
fixtures = os.environ["NSID_FIXTURES"]
for name in ("gauss_cortex", "gauss_share", "gauss_free", "factorized", "pointpooled", "frozen"):
    m = nsid.load_model(os.path.join(fixtures, "model", f"{name}.step3.h5"), dtype=torch.float64)
    worst = 0.0
    with h5py.File(os.path.join(fixtures, "model", f"{name}.ref.h5"), "r") as ref, torch.no_grad():
        for i, key in enumerate(m.data_keys):
            out = m(torch.from_numpy(ref[f"step0/scan{i}/x"][()]).double(), key).numpy()
            want = ref[f"eval/scan{i}/out"][()].astype(np.float64)
            worst = max(worst, float(np.max(np.abs(out - want) / (1e-5 + 1e-4 * np.abs(want)))))
    check(worst <= 1.0, f"PyTorch fixture {name} (architecture inferred from the tensors): eval outputs agree "
          f"(worst {worst:.3f} of abs 1e-5 + rel 1e-4)")

# ---- 3. read_store ----
db = os.path.join(tmp, "results.db")


def cli(sql):
    return subprocess.run(["sqlite3", "-json", db, sql], capture_output=True, text=True, check=True).stdout


for view in ("runs", "metrics", "neuron_metrics", "run_scores"):
    t = nsid.read_store(db, view)
    rows = json.loads(cli(f"SELECT * FROM {view}") or "[]")
    names = [r[0] for r in sqlite3.connect(db).execute(f"SELECT * FROM {view}").description]
    same = list(t) == names and all(len(v) == len(rows) for v in t.values())
    for i, r in enumerate(rows):
        for c, v in r.items():
            a = t[c][i]
            same &= (a is None or (isinstance(a, float) and np.isnan(a))) if v is None else \
                (a == v if not isinstance(v, float) else abs(a - v) <= 1e-12 * max(1.0, abs(v)))
    check(same, f"read_store {view}: {len(rows)} rows x {len(names)} columns as the sqlite3 CLI shows them")
t = nsid.read_store(db, "runs")
check(len(t["id"]) == len(runs) and all(s == "done" for s in t["status"]), f"read_store runs: the {len(runs)} merged runs, done")
t = nsid.read_store(db, "neuron_metrics")
check(t["test_corr"].dtype == np.float64 and t["neuron"].dtype == np.int64 and t["scan"].dtype == object,
      "read_store: numbers as float64/int64 arrays, text as object arrays")
t = nsid.read_store(db, "metrics", "scan = 'all' AND split = ? AND name = 'corr'", ("test",))
check(len(t["value"]) == len(runs), "read_store with a where condition and a bound parameter")
try:
    nsid.read_store(db, "no_such_view")
    check(False, "read_store refuses an unknown view")
except ValueError as e:
    check("no_such_view" in str(e) and db in str(e), f"read_store refuses an unknown view naming it ({e})"[:150])
missing = os.path.join(tmp, "missing.db")
try:
    nsid.read_store(missing, "runs")
    check(False, "read_store refuses a missing store")
except FileNotFoundError:
    check(not os.path.exists(missing), "read_store refuses a missing store and creates nothing")
r = subprocess.run([sys.executable, "-c", "import sys; sys.modules['numpy'] = None; "
                    f"sys.path.insert(0, {os.path.join(src, 'python')!r}); import nsid; "
                    f"t = nsid.read_store({db!r}, 'runs'); print(type(t['id']).__name__, len(t['id']))"],
                   capture_output=True, text=True)
check(r.returncode == 0 and r.stdout.split() == ["list", str(len(runs))], f"read_store without numpy gives lists ({r.stdout.strip()} {r.stderr.strip()[-200:]})")

# ---- 4. nsid2torch.py --from-torch of whole models ----
def h5_same(a, b, key):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        return np.array_equal(fa[key]["predictions"][()], fb[key]["predictions"][()])


def back(name, arch_args, tag, scans):
    """--to-torch, --from-torch with arch_args, then nsid-eval of the result: same predictions?"""
    d = os.path.join(tmp, "back", f"{name}.{tag}")
    os.makedirs(d, exist_ok=True)
    ckpt = os.path.join(tmp, "runs", name, "checkpoint.h5")
    pt, out = os.path.join(d, "model.pt"), os.path.join(d, "checkpoint.h5")
    ok = subprocess.run(tool + ["--to-torch", ckpt, pt], capture_output=True).returncode == 0
    r = subprocess.run(tool + ["--from-torch", pt, out] + arch_args, capture_output=True, text=True)
    if not ok or r.returncode != 0:
        return False, r.stderr.strip()
    args = [os.path.join(os.environ["NSID_BIN_DIR"], "nsid-eval"), "--checkpoint", out, "--db", os.path.join(d, "run.db"),
            "--predictions", os.path.join(d, "pred.h5"), "--quiet"]
    for k in scans:
        args += ["--data", data[k]]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        return False, r.stderr.strip()
    same = all(h5_same(os.path.join(tmp, "runs", name, "pred.h5"), os.path.join(d, "pred.h5"), k) for k in scans)
    m = nsid.load_model(out)
    worst, n = predict(m, nsid.load_predictions(os.path.join(tmp, "runs", name, "pred.h5")), name)
    return same and n > 0 and worst < 1e-5, f"load_model worst {worst:.1e}"


ok, why = back("gauss_share", ["--arch-from", os.path.join(tmp, "runs", "gauss_share", "checkpoint.h5")], "ckpt",
               ["22564-2-12-0", "22564-3-8-0"])
check(ok, f"--from-torch --arch-from CHECKPOINT: nsid-eval and load_model of the result predict the same ({why})")
yaml_cfg = os.path.join(tmp, "factorized.yaml")
with open(yaml_cfg, "w") as fh:
    fh.write("train:\n  max_epochs: 3\nmodel:\n  core.hidden_channels: 16\n  readout:\n    type: factorized\n"
             "    normalize: true\n    share_features: true\n")
ok, why = back("factorized", ["--arch-from", yaml_cfg], "yaml", ["22564-2-12-0", "22564-3-8-0"])
check(ok, f"--from-torch --arch-from RUN.yaml: nsid-eval and load_model of the result predict the same ({why})")
json_cfg = os.path.join(tmp, "pointpooled.json")
with open(json_cfg, "w") as fh:
    json.dump({"train": {"max_epochs": 3}, "model.core": {"hidden_channels": 16},
               "model": {"readout": {"type": "pointpooled"}}}, fh, indent=4)
ok, why = back("pointpooled", ["--arch-from", json_cfg], "json", ["20457-5-9-0"])
check(ok, f"--from-torch --arch-from RUN.json (pretty-printed): the same predictions ({why})")
with h5py.File(os.path.join(tmp, "runs", "gauss_eye", "checkpoint.h5"), "r") as f:
    arch = json.loads(f.attrs["architecture"])
pretty = json.dumps(arch, indent=2)
ok, why = back("gauss_eye", ["--arch", pretty], "text", ["20457-5-9-0"])
check(ok, f"--from-torch --arch with pretty-printed JSON text (parsed, not searched): the same predictions ({why})")
arch["model"]["scans"][0]["data_key"] = "1-2-3-0"
r = subprocess.run(tool + ["--from-torch", os.path.join(tmp, "back", "gauss_eye.text", "model.pt"),
                           os.path.join(tmp, "wrong.h5"), "--arch", json.dumps(arch)], capture_output=True, text=True)
check(r.returncode != 0 and "1-2-3-0" in r.stderr and len(r.stderr.strip().splitlines()) == 1
      and not os.path.exists(os.path.join(tmp, "wrong.h5")),
      f"a record whose scans are not the readouts is refused, one message, nothing written ({r.stderr.strip()})")
r = subprocess.run(tool + ["--from-torch", os.path.join(tmp, "back", "gauss_eye.text", "model.pt"),
                           os.path.join(tmp, "wrong.h5"), "--arch", "{\"format\": "], capture_output=True, text=True)
check(r.returncode != 0 and "--arch" in r.stderr and not os.path.exists(os.path.join(tmp, "wrong.h5")),
      f"invalid JSON is refused naming --arch ({r.stderr.strip()})")
sys.exit(1 if failed else 0)
EOF
check "the module's checks (above)" test $? -eq 0

# ---- 5. docs/python.md, verbatim -----------------------------------------------------------------
mkdir doc && cd doc || exit 1
export NSID=$SRC PATH="$BIN:$PATH"
doc_run() { # name, heading, block number
    doc_block "$SRC/docs/python.md" "$2" "$3" >"$1.sh" || { fail "docs/python.md has block $3 under '$2'"; return; }
    check "docs/python.md: $2, block $3 runs" bash -eo pipefail "$1.sh"
}
doc_run example1 "## Example" 1
doc_run example2 "## Example" 2
printf 'train:\n  max_epochs: 3\n' >run.yaml   # the configuration the conversion block names
doc_run convert "## PyTorch state_dicts (\`scripts/nsid2torch.py\`)" 1
check "docs/python.md: the converted checkpoint records the run configuration" \
    grep -q '"max_epochs":3' <(h5dump -a architecture back.h5 2>/dev/null || "$py" -c "import h5py; print(h5py.File('back.h5')['/'].attrs['architecture'].decode())")
[ "$fails" -eq 0 ] || { echo "test_python: $fails check(s) failed"; exit 1; }
echo "test_python: all checks passed"
