#!/usr/bin/env bash
# test_readme_recordings.sh - README.md's "Using nsid on your own recordings" block, verbatim
# (extracted from README.md by tests/doc_block.sh, so the README cannot drift from what works),
# run twice from a folder with `build` pointing at this build:
#   a. SCAN = a file tree written the way numpy writes one (tests/numpy_tree.sh: Fortran-order
#      arrays, numpy unicode tier strings, no frame_image_class, no ground truth), made from a
#      smoke-profile simulated evaluation scan;
#   b. SCAN = its HDF5 twin (nsid-convert of that tree);
# NEW = a simulated scan of another animal (the 1-S scan) for the transfer, EPOCHS=3.
# Checks that both runs succeed, print the metrics, that the two direct runs' metrics (every
# scan, split and metric, to 17 digits) and their training curves are identical while their run
# ids differ (their data differ in layout, so in identity), and that the transfers trained on the
# two cores are identical too.
# ctest-labels: project
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
for tool in sqlite3 perl; do
    command -v "$tool" >/dev/null || { echo "test_readme_recordings: needs $tool (scripts/deps.sh)"; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_readme_XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
. "$SRC/tests/sh_check.sh"
. "$SRC/tests/doc_block.sh"
. "$SRC/tests/numpy_tree.sh"

heading="## Using nsid on your own recordings"
check "README.md has the block under '$heading'" doc_block "$SRC/README.md" "$heading" >/dev/null
doc_block "$SRC/README.md" "$heading" >block.sh
check "the block trains, evaluates and transfers" \
    bash -c 'grep -q "nsid-train --data \"\$SCAN\"" block.sh && grep -q nsid-eval block.sh && grep -q "\$NEW" block.sh'

# ---- the scans ----------------------------------------------------------------------------------------
"$BIN/nsid-simulate" --profile smoke --out sim --set groups=evaluation,1s >sim.log 2>&1 ||
    { cat sim.log; echo "test_readme_recordings: nsid-simulate failed"; exit 1; }
scan=static20457-5-9-preproc0
mkdir -p c-order a b
"$BIN/nsid-convert" "sim/$scan.h5" "c-order/$scan" >convert.log 2>&1 || { cat convert.log; exit 1; }

nf=$(numpy_tree "c-order/$scan" "a/$scan")
check "the numpy tree has Fortran-order arrays ($nf)" test "${nf:-0}" -gt 0
check "its images are Fortran-order" grep -q "'fortran_order': True" "a/$scan/data/images/0.npy"
check "its tiers are numpy unicode" grep -q "'descr': '<U" "a/$scan/meta/trials/tiers.npy"
check "it has no frame_image_class" test ! -e "a/$scan/meta/trials/frame_image_class.npy"
"$BIN/nsid-convert" "a/$scan" "b/$scan.h5" >>convert.log 2>&1
check "nsid-convert writes the tree's HDF5 twin" test -s "b/$scan.h5"
new=$T/sim/static20505-6-1-preproc0.h5

# ---- the README's block on each ---------------------------------------------------------------------
run_block() { # run_block DIR SCAN
    (cd "$1" && ln -sfn "$BIN" build && SCAN=$2 NEW=$new EPOCHS=3 bash -eo pipefail "$T/block.sh") >"$1.log" 2>&1
}
check "the README block runs on the numpy tree" run_block a "$scan/"
check "the README block runs on the HDF5 file" run_block b "$scan.h5"
for d in a b; do
    check "$d: the block printed the metrics" grep -q "test|corr|" "$d.log"
    check "$d: the transfer trained" test -s "$d/runs/transfer/checkpoint.h5"
done
metrics() { sqlite3 "$1" "SELECT scan, split, name, printf('%.17g', value) FROM metrics ORDER BY 1, 2, 3"; }
curve() { sqlite3 "$1" "SELECT epoch, round, printf('%.17g', lr), printf('%.17g', train_loss),
                         printf('%.17g', val_corr) FROM epochs ORDER BY epoch"; }
metrics a/runs/direct/run.db >a.metrics
metrics b/runs/direct/run.db >b.metrics
check "direct runs: metrics recorded ($(wc -l <a.metrics) rows)" test "$(wc -l <a.metrics)" -ge 5
check "direct runs: tree and HDF5 give identical metrics" cmp -s a.metrics b.metrics
check "direct runs: identical training curves" cmp -s <(curve a/runs/direct/run.db) <(curve b/runs/direct/run.db)
check "transfers: identical training curves" cmp -s <(curve a/runs/transfer/run.db) <(curve b/runs/transfer/run.db)
ida=$(sqlite3 a/runs/direct/run.db "SELECT id FROM runs")
idb=$(sqlite3 b/runs/direct/run.db "SELECT id FROM runs")
check "the two direct runs have distinct ids (their data differ)" test -n "$ida" -a -n "$idb" -a "$ida" != "$idb"
if [ "$fails" -ne 0 ]; then
    for d in a b; do echo "== the block's output on $d:"; tail -n 15 "$d.log"; done
    diff a.metrics b.metrics | head
fi
echo "test_readme_recordings: $fails failed"
exit $((fails > 0))
