#!/usr/bin/env bash
# test_doc_results.sh - docs/results.md's commands, verbatim (tests/doc_block.sh), in the order the
# page gives them, in one shell, from a project folder whose store the smoke pipeline made
# (tests/runs_store.sh) and whose build/ is this build. Checks that every block succeeds and prints
# what the page says: the views and a query of best_runs, a table of every run and complete CSV,
# the filters, compare of the two readouts by id prefix (their differing key), tags set, shown and
# removed, a note, gc's dry run and --yes on a store whose plan holds every run (nothing removed),
# and the runs' JSON read by Python.
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
for tool in sqlite3 make python3; do
    command -v "$tool" >/dev/null || { echo "test_doc_results: needs $tool (scripts/deps.sh)"; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_docresults_XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
. "$SRC/tests/sh_check.sh"
. "$SRC/tests/doc_block.sh"
. "$SRC/tests/runs_store.sh"
doc=$SRC/docs/results.md
if ! runs_store "$T/p"; then
    tail -n 30 "$T/p/make.log" 2>/dev/null
    echo "test_doc_results: the smoke store could not be made"; exit 1
fi
ln -s "$BIN" "$T/p/build"
D=$T/p/results/results.db
q() { sqlite3 "$D" "$1"; }

# ---- the page's blocks, in order, in one shell; each block's output between markers ---------------
headings=("## The views" "## Runs at a glance" "## Runs at a glance" "## Comparing runs" "## Tags and notes"
          "## Removing runs the plan no longer holds" "## From Python")
nths=(1 1 2 1 1 1 1)
: >all.sh
for i in "${!headings[@]}"; do
    doc_block "$doc" "${headings[$i]}" "${nths[$i]}" >"block$i.sh" ||
        { fail "docs/results.md has block ${nths[$i]} under '${headings[$i]}'"; continue; }
    printf 'echo "=== block %d"\n' "$i" >>all.sh
    cat "block$i.sh" >>all.sh
done
(cd "$T/p" && bash -eo pipefail "$T/all.sh") >out.log 2>err.log
rc=$?
check "every block runs (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || { tail -n 20 out.log; cat err.log; }
out() { awk -v b="=== block $1" '$0 == b { on = 1; next } /^=== block / { on = 0 } on' out.log; }

check "views: run_scores and best_runs listed" bash -c "grep -qx run_scores <<<'$(out 0)' && grep -qx best_runs <<<'$(out 0)'"
check "views: the query prints best_runs' rows" \
    test "$(out 0 | grep -c "^core	\|^readouts	\|^transfer	")" -eq "$(q "SELECT count(*) FROM best_runs")"
check "views: run_scores.csv exported" test "$(wc -l <"$T/p/run_scores.csv")" -eq $(( $(q "SELECT count(*) FROM run_scores") + 1 ))
check "runs: a table of the 5 runs" test "$(out 1 | grep -c '^[0-9a-f]\{7\}  ')" -eq $((5 + 3))
check "runs: the readouts' CSV has both runs and their differing key" \
    bash -c "out=\$(cat); grep -q '^run_id,.*model.readout.type' <<<\"\$out\" && test \$(grep -c ',readouts,' <<<\"\$out\") -eq 2" < <(out 1)
check "runs --limit 3: 3 rows" test "$(out 1 | awk '/^id /{n++} n==2' | grep -c '^[0-9a-f]\{7\}  ')" -eq 3
check "filters: the factorized run" grep -q "$(q "SELECT substr(id, 1, 7) FROM runs WHERE json_extract(config, '$.model.readout.type') = 'factorized'")  readouts" <(out 2)
A=$(q "SELECT id FROM runs WHERE experiment = 'readouts' AND json_extract(config, '$.model.readout.type') = 'gaussian'")
B=$(q "SELECT id FROM runs WHERE experiment = 'readouts' AND json_extract(config, '$.model.readout.type') = 'factorized'")
check "compare: the two readouts, from their prefixes" grep -q "^runs: $A $B" <(out 3)
check "compare: their readout type differs" grep -q "^model.readout.type  *gaussian  *factorized" <(out 3)
check "compare: the per-neuron summary" grep -q "neurons: mean" <(out 3)
check "tags: reviewed=yes on the Gaussian run" test "$(q "SELECT value FROM run_tags WHERE run_id = '$A' AND key = 'reviewed'")" = yes
check "tags: purpose removed again" test "$(q "SELECT count(*) FROM run_tags WHERE key = 'purpose'")" -eq 0
check "notes: the note" test "$(q "SELECT text FROM run_notes WHERE run_id = '$A'")" = "the Gaussian readout, to beat"
check "tags: runs --tag reviewed shows that run" grep -q "^${A:0:7}  readouts" <(out 4)
check "gc: the plan holds every run: nothing to remove" test "$(out 5 | grep -c "gc: 0 runs outside the current plan")" -eq 2
check "gc --yes: says it removed nothing" grep -q "removed 0 runs" <(out 5)
check "gc: every run still there" test "$(q "SELECT count(*) FROM runs")" -eq 5
check "python: the JSON holds the 5 runs" grep -qx "5 runs" <(out 6)

if [ "$fails" -ne 0 ]; then
    echo "test_doc_results: $fails check(s) failed"
    exit 1
fi
echo "test_doc_results: all checks passed"
