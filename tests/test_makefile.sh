#!/usr/bin/env bash
# test_makefile.sh - Makefile.experiments drives the DAG: data -> plan -> runs (with a core
# selected at make time) -> merge -> figures; `make -q` after success exits 0; a second make
# runs nothing; changing one spec value reruns exactly the runs whose id changed and the runs
# that depend on them; a failing run is never 'done'; `status` counts from SQL.
#
# nsid-plan and nsid-db are the real binaries. nsid-simulate, nsid-train and nsid-eval are
# stand-ins written below (they record synthetic numbers through the sqlite3 shell): this
# tests the make machinery, not the science.
set -euo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
command -v sqlite3 >/dev/null || { echo "test_makefile: needs the sqlite3 shell (scripts/deps.sh)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_make_XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
. "$SRC/tests/sh_check.sh"

# ---- stand-in stages (tests/fake_stages.sh) ------------------------------------------------------
. "$SRC/tests/fake_stages.sh"
make_fake_stages fakebin "$BIN"
export FAKE_LOG=$T/train.log
: >"$FAKE_LOG"

mkdir -p specs
cat >specs/cores.yaml <<'EOF'
experiment: cores
data: two
defaults: {train.max_epochs: 5}
grid:
  train.seed: [1, 2]
select: [train.seed]
EOF
cat >specs/fig5.yaml <<'EOF'
experiment: xfer
data: evaluation
defaults: {train.detach_core: true}
grid: {data.image_n: [10, 20]}
core: {experiment: cores}
plot: {figure: fig5, curve: "11-S", x: $data.image_n}
---
experiment: direct
data: evaluation
grid: {data.image_n: [10, 20]}
plot: {figure: fig5, curve: direct, x: $data.image_n}
EOF

M=(make -s -f "$SRC/Makefile.experiments" PROFILE=smoke BUILD=fakebin DATA=data RESULTS=res SIMULATE=yes
   SPECS="specs/cores.yaml specs/fig5.yaml" PLOTS="$T/noplots")
trained() { wc -l <"$FAKE_LOG"; }

# ---- a full run --------------------------------------------------------------------------------
check "first make succeeds" logged make1.log "${M[@]}" -j4
check "6 runs trained" test "$(trained)" -eq 6
check "every run has its done stamp" test "$(ls res/runs/*/done | wc -l)" -eq 6
sel=$(ls res/select/*.ckpt)
best=$(sqlite3 res/results.db "SELECT candidate FROM plan_selections s JOIN metrics m ON m.run_id = s.candidate
  AND m.split = 'validation' ORDER BY m.value DESC LIMIT 1")
check "the selection names the best core by validation" grep -q "runs/$best/checkpoint.h5" "$sel"
check "transfer runs were trained with that core" \
    test "$(grep -l "with core res/runs/$best/checkpoint.h5" res/runs/*/checkpoint.h5 | wc -l)" -eq 2
check "merged: 6 done runs" test "$(sqlite3 res/results.db "SELECT count(*) FROM runs WHERE status='done'")" -eq 6
check "fig5 view has both curves at both sizes" \
    test "$(sqlite3 res/results.db "SELECT count(*) FROM fig5")" -eq 4
check "best-by-validation: one cores run selected" \
    test "$(sqlite3 res/results.db "SELECT count(*) FROM best_runs WHERE experiment='cores'")" -eq 1
check "make -q exits 0 after success" "${M[@]}" -q
"${M[@]}" >make2.log 2>&1
check "a second make trains nothing" test "$(trained)" -eq 6
check "status counts from SQL" grep -q "done 6" <("${M[@]}" status)

# ---- change one value: only what depends on it reruns ------------------------------------------
sed -i 's/max_epochs: 5/max_epochs: 6/' specs/cores.yaml
check "make after changing the cores' spec" logged make3.log "${M[@]}" -j4
check "2 cores + 2 transfer runs reran, direct runs did not" test "$(trained)" -eq 10
check "make -q exits 0 again" "${M[@]}" -q
check "the figure keeps 4 points (stale runs leave the views)" \
    test "$(sqlite3 res/results.db "SELECT count(*) FROM fig5_points")" -eq 4
cat >>specs/fig5.yaml <<'EOF'
---
experiment: direct2
data: evaluation
grid: {data.image_n: [30]}
EOF
check "make after adding an experiment" logged make4.log "${M[@]}"
check "exactly one new run" test "$(trained)" -eq 11
sed -i 's/grid: {data.image_n: \[30\]}/grid:\n  data.image_n:\n    - 30\ndefaults:\n  train: {max_epochs: 200}/' specs/fig5.yaml
check "the spec was reformatted" grep -q -- "- 30" specs/fig5.yaml
check "make after reformatting it and spelling out a default" logged make5.log "${M[@]}"
check "reformatting a spec changes no id" test "$(trained)" -eq 11

# ---- a failing run is never done ---------------------------------------------------------------
cat >>specs/fig5.yaml <<'EOF'
---
experiment: broken
data: evaluation
grid: {data.image_n: [40]}
EOF
"${M[@]}" plan >/dev/null 2>&1
bad=$("$BIN/nsid-plan" --explain "$(sqlite3 res/results.db "SELECT id FROM plan_runs WHERE experiment='broken'")" \
      --db res/results.db | head -1 | cut -d' ' -f2)
set +e
FAKE_TRAIN_FAIL=$bad "${M[@]}" >make6.log 2>&1
rc=$?
set -e
check "make fails when a run fails" test $rc -ne 0
check "the failure shows the stage's log" grep -q "synthetic failure" make6.log
check "no done stamp for the failed run" test ! -e "res/runs/$bad/done"
check "the merged store never marks it done" \
    test "$(sqlite3 res/results.db "SELECT count(*) FROM runs WHERE id='$bad' AND status='done'")" -eq 0
not() { ! "$@"; }
check "make -q says there is work left" not "${M[@]}" -q
check "rerun after the fix completes" logged make7.log "${M[@]}"
check "now done" test "$(sqlite3 res/results.db "SELECT status FROM runs WHERE id='$bad'")" = done

echo "test_makefile: $fails failed"
exit $((fails > 0))
