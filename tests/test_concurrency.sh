#!/usr/bin/env bash
# test_concurrency.sh - issue 9, item 3, with the real stages: `make -j8` over 32 smoke-sized
# runs of a real plan (nsid-plan, nsid-train, nsid-eval on a fixture scan) while pairs of
# `nsid-db merge` are started at once into the same results.db, again and again, and two final
# merges at once after make is done. Every merge and every run must succeed, no process may
# report "database is locked" (or busy), and the store must end with every run exactly once,
# done, with all its records (the same number of epochs, metrics and neuron rows as any other).
# (test_store_concurrency.c covers the store library with synthetic runs; test_makefile.sh the
# make DAG with stand-in stages.)
# ctest-labels: reliability
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
FIX=${NSID_FIXTURES:-$SRC/tests/fixtures}
RUNS=32
JOBS=8
T=$(mktemp -d "${NSID_BIN:-/tmp}/tmp-concurrency-XXXXXX")
cd "$T" || exit 1
. "$SRC/tests/sh_check.sh"

# The stage binaries behind a build stamp newer than every source (make builds nothing).
mkdir -p bin data logs
for s in nsid-plan nsid-db nsid-train nsid-eval nsid-simulate; do ln -s "$BIN/$s" "bin/$s"; done
touch bin/.nsid-built
cp "$FIX/data/static11111-1-1-preproc0.h5" "$FIX/data/static22222-2-2-preproc0.h5" data/
echo '{"groups": {"a": ["static11111-1-1-preproc0.h5"], "b": ["static22222-2-2-preproc0.h5"]}}' >data/groups.json
seeds=$(seq -s, 1 $((RUNS / 4)))
cat >spec.yaml <<EOF
experiment: concurrency
data: a
defaults:
  model.core: {layers: 2, hidden_channels: 8, input_kern: 5, hidden_kern: 3}
  train: {batch_size: 8, max_epochs: 2}
grid:
  train.seed: [$seeds]
  model.readout.gamma: [0.1, 0.2]
variants:
  - {name: a}
  - {name: b, data: b}
EOF

M=(make -s -f "$SRC/Makefile.experiments" PROFILE=smoke BUILD=bin DATA=data RESULTS=res SIMULATE=yes SPECS=spec.yaml
   PLOTS="$T/noplots" RUN_THREADS=1)
start=$(date +%s%N)
"${M[@]}" plan >logs/plan.log 2>&1 || fail "the plan: $(tail -n 5 logs/plan.log)"
planned=$(find res/runs -name run.json | wc -l)
[ "$planned" -eq "$RUNS" ] || fail "$RUNS runs planned, got $planned"

"${M[@]}" -j"$JOBS" runs >logs/make.log 2>&1 &
make_pid=$!
merge_pair() { # two merges started at once, waited for; exit codes into logs/merge-N-{1,2}.rc
    local n=$1 pids=()
    for k in 1 2; do
        (bin/nsid-db merge --into res/results.db --runs res/runs >"logs/merge-$n-$k.log" 2>&1
         echo $? >"logs/merge-$n-$k.rc") &
        pids+=($!)
    done
    wait "${pids[@]}"
}
n=0
while kill -0 "$make_pid" 2>/dev/null; do # pairs back to back while the runs go on
    n=$((n + 1))
    merge_pair "$n"
    sleep 0.2
done
wait "$make_pid"
make_rc=$?
n=$((n + 1))
merge_pair "$n" # the final pair, both after make
elapsed=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}')

[ "$make_rc" -eq 0 ] || fail "make -j$JOBS runs: exit $make_rc: $(tail -n 20 logs/make.log)"
bad_rc=0 merges=0
for f in logs/merge-*.rc; do
    merges=$((merges + 1))
    [ "$(cat "$f")" = 0 ] || { bad_rc=$((bad_rc + 1)); echo "merge ${f%.rc}: $(cat "${f%.rc}.log")"; }
done
[ "$bad_rc" -eq 0 ] || fail "$bad_rc of $merges concurrent merges failed"
if grep -il "locked\|busy" logs/*.log res/runs/*/stages.log 2>/dev/null; then
    fail "a process reported a locked or busy database"
fi
q() { sqlite3 res/results.db "$1"; }
[ "$(q "SELECT count(*) FROM runs")" -eq "$RUNS" ] || fail "runs in the store: $(q "SELECT count(*) FROM runs"), want $RUNS"
[ "$(q "SELECT count(DISTINCT id) FROM runs")" -eq "$RUNS" ] || fail "a run appears twice"
[ "$(q "SELECT count(*) FROM runs WHERE status='done'")" -eq "$RUNS" ] ||
    fail "done runs: $(q "SELECT count(*) FROM runs WHERE status='done'"), want $RUNS"
[ "$(q "SELECT count(*) FROM runs r JOIN plan_runs p ON p.id = r.id")" -eq "$RUNS" ] ||
    fail "every merged run is a planned run"
# every run has as many records as any other: the same epochs, metrics, neuron rows, datasets
shapes=$(q "SELECT count(DISTINCT shape) FROM (SELECT (SELECT count(*) FROM epochs e WHERE e.run_id = r.id) || '/' ||
             (SELECT count(*) FROM metrics m WHERE m.run_id = r.id) || '/' ||
             (SELECT count(*) FROM neuron_metrics x WHERE x.run_id = r.id) || '/' ||
             (SELECT count(*) FROM run_datasets d WHERE d.run_id = r.id) AS shape FROM runs r)")
[ "$shapes" -eq 1 ] || fail "runs differ in their record counts ($shapes shapes): a partial merge"
[ "$(q "SELECT count(*) FROM epochs")" -eq $((RUNS * 3)) ] || fail "epochs: $(q "SELECT count(*) FROM epochs"), want $((RUNS * 3)) (0, 1, 2)"
[ "$(q "PRAGMA integrity_check")" = ok ] || fail "integrity_check"

printf 'concurrency: %d runs by make -j%d with %d merges (in pairs, started at once) in %s s\n' \
    "$RUNS" "$JOBS" "$merges" "$elapsed"
if [ -n "${NSID_BIN:-}" ]; then
    mkdir -p "$NSID_BIN/figures"
    printf 'runs %d\nmerges %d\n' "$RUNS" "$merges" >"$NSID_BIN/figures/concurrency.txt"
fi
if [ "$fails" -eq 0 ]; then
    cd / && rm -rf "$T"
    echo "concurrency: ok"
else
    echo "concurrency: $fails failed (kept $T)"
fi
exit $((fails > 0))
