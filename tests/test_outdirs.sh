#!/usr/bin/env bash
# test_outdirs.sh - issue 16 item 7: every output of every stage whose folder does not exist is
# either created (a folder the stage owns: nsid-train --out, nsid-simulate --out, nsid-plan
# --results, nsid-db export --dir, nsid-databench --dir) or refused with exit 1 and ONE message
# "folder F does not exist" naming the option, before anything is written (src/base/path.h).
# Before, nsid-convert said "cannot create a temporary file", nsid-eval and nsid-db "unable to
# open database file", and nsid-plan had written run.json files and results.db before it failed
# on --out.
set -u
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
FX=${NSID_FIXTURES:-$SRC/tests/fixtures}/data
. "$SRC/tests/sh_check.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_outdirs_XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
scan="$FX/static11111-1-1-preproc0.h5"
small=(--set model.core.layers=2 --set model.core.hidden_channels=4 --set model.core.input_kern=5
       --set model.core.hidden_kern=3 --set train.batch_size=8 --set train.max_epochs=1 --quiet)

# refused WHAT OPTION MISSING_FOLDER COMMAND...: exit 1, one line on stderr naming the option and
# "folder MISSING_FOLDER does not exist", and MISSING_FOLDER (and anything else new) not created.
refused() {
    local what=$1 option=$2 missing=$3; shift 3
    local before after
    before=$(find . | sort)
    "$@" >out.txt 2>err.txt; local rc=$?
    after=$(find . -path ./out.txt -prune -o -path ./err.txt -prune -o -print | sort)
    check "$what: exit 1 (got $rc)" test "$rc" = 1
    check "$what: one message ($(wc -l <err.txt) lines: $(head -c 300 err.txt))" test "$(wc -l <err.txt)" = 1
    check "$what: 'folder $missing does not exist'" grep -qF "folder $missing does not exist" err.txt
    check "$what: names $option" grep -qF -- "$option" err.txt
    check "$what: no temporary-file message" not_grep -q "temporary" err.txt
    check "$what: nothing written" test "$before" = "$(grep -v '^\./\(out\|err\)\.txt$' <<<"$after")"
    rm -f out.txt err.txt
}

# A finished run to evaluate, select and merge (made outside the checks).
"$BIN/nsid-train" --data "$scan" --out run "${small[@]}" >/dev/null 2>&1 &&
    "$BIN/nsid-eval" --checkpoint run/checkpoint.h5 --data "$scan" --db run/run.db --quiet >/dev/null 2>&1
check "setup: a trained and evaluated run" test -f run/checkpoint.h5
mkdir -p data && cp "$scan" data/ && echo '{"groups": {"a": ["static11111-1-1-preproc0.h5"]}}' >data/groups.json
printf 'experiment: e\ndata: a\ndefaults:\n  train: {max_epochs: 2}\n' >spec.yaml

# --- refused: files whose folder is missing
refused "nsid-train --db" --db no/such "$BIN/nsid-train" --data "$scan" --out new-run --db no/such/run.db "${small[@]}"
refused "nsid-eval --db" --db no "$BIN/nsid-eval" --checkpoint run/checkpoint.h5 --data "$scan" --db no/run.db --quiet
refused "nsid-eval --predictions" --predictions no/x "$BIN/nsid-eval" --checkpoint run/checkpoint.h5 --data "$scan" \
    --db run/run.db --predictions no/x/pred.h5 --quiet
refused "nsid-convert to HDF5" DST no "$BIN/nsid-convert" "$scan" no/scan.h5
refused "nsid-convert to a tree" DST no/a "$BIN/nsid-convert" "$scan" no/a/static11111-1-1-preproc0
refused "nsid-db merge --into" --into no "$BIN/nsid-db" merge run/run.db --into no/results.db
refused "nsid-db export --csv" --csv no "$BIN/nsid-db" export runs --csv no/runs.csv --db run/run.db
refused "nsid-db select --out" --out no "$BIN/nsid-db" select --out no/core.txt run/run.db
refused "nsid-db init" DB no "$BIN/nsid-db" init no/results.db
refused "nsid-plan --out" --out no "$BIN/nsid-plan" --data data --results res --out no/plan.mk spec.yaml
refused "nsid-plan --db" --db no "$BIN/nsid-plan" --data data --results res --db no/results.db spec.yaml
# a file where the folder should be
touch afile
"$BIN/nsid-db" init afile/results.db 2>err.txt
check "nsid-db init under a file: 'afile is not a folder'" grep -q "afile is not a folder" err.txt
"$BIN/nsid-train" --data "$scan" --out afile/run "${small[@]}" 2>err.txt
check "nsid-train --out under a file: '--out' and 'afile is not a folder'" \
    bash -c "grep -q -- '--out' err.txt && grep -q 'afile is not a folder' err.txt"

# --- created: folders the stage owns, with their parents
"$BIN/nsid-train" --data "$scan" --out a/b/run "${small[@]}" >/dev/null 2>err.txt
check "nsid-train --out a/b/run: created ($(head -c 200 err.txt))" test -f a/b/run/checkpoint.h5 -a -f a/b/run/run.db
"$BIN/nsid-train" --data "$scan" --out c/d/run --db c/d/run/other.db "${small[@]}" >/dev/null 2>err.txt
check "nsid-train --db inside the --out it creates" test -f c/d/run/other.db
"$BIN/nsid-simulate" --profile smoke --set groups=evaluation --out sim/x/y 2>err.txt
check "nsid-simulate --out sim/x/y: created" test -f sim/x/y/groups.json
"$BIN/nsid-plan" --data data --results p/q/res spec.yaml 2>err.txt
check "nsid-plan --results p/q/res: created" test -f p/q/res/plan.mk -a -f p/q/res/results.db
"$BIN/nsid-plan" --data data --results p2/res --out p2/res/my.mk spec.yaml 2>err.txt
check "nsid-plan --out inside the --results it creates" test -f p2/res/my.mk
"$BIN/nsid-db" export --all --dir e/f/csv --db run/run.db 2>err.txt
check "nsid-db export --all --dir e/f/csv: created" test -f e/f/csv/run_scores.csv
"$BIN/nsid-databench" --trials 10 --neurons 2 --repeat 1 --dir g/h --keep >/dev/null 2>err.txt
check "nsid-databench --dir g/h: created" test -f g/h/static00000-0-0-preproc0.h5
exit $((fails > 0))
