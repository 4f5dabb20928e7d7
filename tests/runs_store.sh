# runs_store.sh - a results store made by the smoke pipeline for the tests of nsid-db runs,
# compare, tag, note and gc and for docs/results.md (sourced, not a test):
#
#   runs_store DIR     builds a project in DIR (two simulated smoke scans, HDF5) and runs
#                      `make -f Makefile.experiments PROJECT=DIR PROFILE=smoke` with this build:
#                      experiment core (2 seeds competing for the best validation score), readouts
#                      (Gaussian and factorized readouts trained directly) and transfer (the best
#                      core, frozen, with a Gaussian readout): 5 runs, about a minute on 2 cores.
#                      DIR/results/results.db is the store, DIR/results/runs/<id>/ the runs.
# Needs SRC (the source) and BIN (this build). Exit status non-zero if any step failed; the log
# is DIR/make.log.
runs_store() {
    local P=$1
    mkdir -p "$P/experiments" || return 1
    "$BIN/nsid-simulate" --profile smoke --out "$P/recordings" --set groups=evaluation,1s >"$P/sim.log" 2>&1 || return 1
    rm -f "$P/recordings/groups.json"
    cat >"$P/data.yaml" <<'YAML'
groups:
  core:
    label: animal 20505
    files: [recordings/static20505-6-1-preproc0.h5]
  new:
    label: animal 20457
    files: [recordings/static20457-5-9-preproc0.h5]
YAML
    cat >"$P/experiments/study.yaml" <<'YAML'
experiment: core
description: A core trained on animal 20505, two seeds competing
data: core
grid: {train.seed: [1, 2]}
select: [train.seed]
---
experiment: readouts
description: Gaussian and factorized readouts trained directly on animal 20457
data: new
grid: {model.readout.type: [gaussian, factorized]}
---
experiment: transfer
description: The best core of animal 20505, frozen, with a Gaussian readout on animal 20457
data: new
defaults: {train.detach_core: true}
core: {experiment: core}
---
profiles:
  smoke:
    defaults:
      data: {image_n: 40}
      train: {max_epochs: 2, patience: 1, lr_decay_steps: 1}
      model.core: {hidden_channels: 8, hidden_kern: 7}
YAML
    touch "$P/built.stamp"
    make -f "$SRC/Makefile.experiments" PROJECT="$P" PROFILE=smoke BUILD="$BIN" BUILD_STAMP="$P/built.stamp" \
        -j2 >"$P/make.log" 2>&1
}
