#!/usr/bin/env bash
# test_run_identity.sh - a run's identity includes its data: the default id of a stand-alone
# nsid-train is the id nsid-plan gives the same configuration on the same scans (config +
# core + scans' identities in --data order), so the same configuration on another scan, or
# on the same scans in another order, is another run - in the default id, in the store and
# after nsid-db merge. nsid-train trains on a file-tree folder (it failed with "read failed"
# when the dataset record hashed the folder as a file) and records the tree's identity;
# rerunning the same command finds the run already trained.
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
FIX=${NSID_FIXTURES:-$SRC/tests/fixtures}/data
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_runid_XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
. "$SRC/tests/sh_check.sh"
cd "$T" || exit 1

mkdir -p scans runs
cp -r "$FIX/static11111-1-1-preproc0" scans/          # a file tree
cp "$FIX/static22222-2-2-preproc0.h5" scans/          # an HDF5 file
TREE=scans/static11111-1-1-preproc0
H5=scans/static22222-2-2-preproc0.h5
SMALL=(--set model.core.layers=2 --set model.core.hidden_channels=8 --set model.core.input_kern=5
       --set model.core.hidden_kern=3 --set train.batch_size=8 --set train.max_epochs=1 --quiet)

train() { # train OUT DATA...: prints the run id
    local out=$1
    shift
    local args=()
    for d in "$@"; do args+=(--data "$d"); done
    "$BIN/nsid-train" "${SMALL[@]}" "${args[@]}" --out "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; return 1; }
    sed -n 's/^run \([0-9a-f]\{64\}\) .*/\1/p' "$out.log" | head -n 1
}

id_h5=$(train runs/h5 "$H5")
check "nsid-train on an HDF5 file" test -n "$id_h5"
id_tree=$(train runs/tree "$TREE")
check "nsid-train on a file-tree folder (was: read failed)" test -n "$id_tree"
check "the same configuration on two scans: two ids" test -n "$id_tree" -a "$id_h5" != "$id_tree"
id_ab=$(train runs/ab "$TREE" "$H5")
id_ba=$(train runs/ba "$H5" "$TREE")
check "the same scans in another order: two ids" test -n "$id_ab" -a -n "$id_ba" -a "$id_ab" != "$id_ba"
check "two scans are not one: ids differ from the one-scan runs" \
    test "$id_ab" != "$id_h5" -a "$id_ab" != "$id_tree"
check "the store records the run under its id" \
    test -n "$id_tree" -a "$(sqlite3 runs/tree/run.db "SELECT id FROM runs")" = "$id_tree"

# the tree's dataset is recorded with its identity: the one nsid-plan computes for it
cat >spec.yaml <<EOF
experiment: same
data: {files: [$TREE]}
defaults:
  model.core: {layers: 2, hidden_channels: 8, input_kern: 5, hidden_kern: 3}
  train: {batch_size: 8, max_epochs: 1}
variants:
  - {name: tree}
  - {name: h5, data: {files: [$H5]}}
  - {name: ab, data: {files: [$TREE, $H5]}}
EOF
"$BIN/nsid-plan" --results planned spec.yaml >plan.out 2>plan.err || fail "the plan: $(cat plan.err)"
planned=$("$BIN/nsid-plan" --check --list spec.yaml 2>/dev/null)
pid() { printf '%s\n' "$planned" | awk -v v="$1" '$3 == v {print $1}'; }
check "nsid-train's default id is nsid-plan's id (tree)" test "$(pid tree)" = "$id_tree"
check "nsid-train's default id is nsid-plan's id (HDF5)" test "$(pid h5)" = "$id_h5"
check "nsid-train's default id is nsid-plan's id (two scans in order)" test "$(pid ab)" = "$id_ab"
tree_sha=$(sqlite3 planned/results.db "SELECT sha256 FROM datasets WHERE path = '$TREE'")
check "the run's dataset record holds the tree's identity (as the planner computed it)" \
    test -n "$tree_sha" -a "$(sqlite3 runs/tree/run.db "SELECT dataset FROM run_datasets")" = "$tree_sha"

# a run planned and run by id trains as the stand-alone one
"$BIN/nsid-train" --config "planned/runs/$id_tree/run.json" --data "$TREE" --out runs/fromplan --quiet \
    >fromplan.log 2>&1 || fail "nsid-train on the planned run.json: $(cat fromplan.log)"
check "run.json of the plan without --run-id: the planned id" grep -q "^run $id_tree " fromplan.log

# the same command again: already trained, the same id
"$BIN/nsid-train" "${SMALL[@]}" --data "$TREE" --out runs/tree >again.log 2>&1
check "rerunning finds the run already trained" grep -q "^run $id_tree already trained" again.log

# finished (nsid-eval marks a run done in its own store), then merged: one row per distinct run
for r in h5:$H5 tree:$TREE ab:$TREE,$H5 ba:$H5,$TREE; do
    name=${r%%:*}
    data=()
    IFS=, read -ra files <<<"${r#*:}"
    for f in "${files[@]}"; do data+=(--data "$f"); done
    "$BIN/nsid-eval" --checkpoint "runs/$name/checkpoint.h5" "${data[@]}" --db "runs/$name/run.db" \
        >"eval-$name.log" 2>&1 || fail "nsid-eval of $name: $(cat "eval-$name.log")"
done
"$BIN/nsid-db" merge runs/h5/run.db runs/tree/run.db --into merged.db >merge.log 2>&1 ||
    fail "merge: $(cat merge.log)"
check "the same configuration on two scans merges into two finished runs" \
    test "$(sqlite3 merged.db "SELECT count(*) FROM runs WHERE status = 'done'")" -eq 2
"$BIN/nsid-db" merge runs/ab/run.db runs/ba/run.db --into merged2.db >merge2.log 2>&1 ||
    fail "merge: $(cat merge2.log)"
check "the same scans in two orders merge into two finished runs" \
    test "$(sqlite3 merged2.db "SELECT count(*) FROM runs WHERE status = 'done'")" -eq 2
check "each with its scans in order" \
    test "$(sqlite3 merged2.db "SELECT group_concat(data_key, ' ') FROM (SELECT data_key FROM run_datasets WHERE run_id = '$id_ba' ORDER BY position)")" = "22222-2-2-0 11111-1-1-0"

# nsid-eval on the tree: the checkpoint's own run, and a fresh store gets the default id
"$BIN/nsid-eval" --checkpoint runs/tree/checkpoint.h5 --data "$TREE" --db eval.db >eval.log 2>&1 ||
    fail "nsid-eval on a tree: $(cat eval.log)"
check "nsid-eval on a tree into a new store records it under nsid-train's default id" \
    test "$(sqlite3 eval.db "SELECT id FROM runs")" = "$id_tree"

# a FIFO given as a scan is refused, not opened (opening it would wait for a writer forever)
mkfifo fifo.h5
timeout 120 "$BIN/nsid-train" "${SMALL[@]}" --data fifo.h5 --out runs/fifo >fifo.log 2>&1
rc=$?
check "nsid-train on a FIFO: exit 1 (not 124, a hang), one message naming it" \
    test $rc -eq 1 -a "$(grep -c . fifo.log)" -eq 1 -a "$(grep -c "fifo.h5: not a scan" fifo.log)" -eq 1

exit $((fails > 0))
