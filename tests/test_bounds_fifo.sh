#!/usr/bin/env bash
# test_bounds_fifo.sh - no input blocks (issue 17, class 4): every option that names an input
# file is given a FIFO without a writer (and a folder, and a character device) and must be
# refused at once with one message naming the path, never block. Each command runs under
# `timeout`, so a stage that would wait forever on the FIFO fails the case as "hung" instead
# of hanging the suite. All input files go through src/base/infile.c.
set -uo pipefail
# ctest-labels: reliability
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_fifo_XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$SRC/tests/sh_check.sh"
SCAN=$SRC/tests/fixtures/data/static11111-1-1-preproc0.h5
TREE=$SRC/tests/fixtures/data/static11111-1-1-preproc0
SMALL=(--set model.core.layers=2 --set model.core.hidden_channels=8 --set model.core.input_kern=5
       --set model.core.hidden_kern=3 --set train.max_epochs=1 --quiet --threads 1)
cases=0 hung=0 wrong=0

# a good checkpoint and run.db, for the cases where only one of the inputs is hostile
"$BIN/nsid-train" "${SMALL[@]}" --data "$SCAN" --out "$T/good" >/dev/null 2>"$T/err" ||
    fail "training the good run: $(cat "$T/err")"
printf 'experiment: e\ndata: {files: ["%s"]}\ngrid: {train.seed: [1]}\n' "$SCAN" >"$T/ok.yaml"

# refuse NAME WANT COMMAND...: exit 1 within 20 s, one line naming WANT (the hostile path).
refuse() {
    local name=$1 want=$2
    shift 2
    cases=$((cases + 1))
    (cd "$T" && timeout -k 2 20 "$@") </dev/null >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        hung=$((hung + 1))
        fail "$name: hung on its input (killed by timeout)"
    elif [ $rc -ne 1 ] || [ "$(grep -c . "$T/err")" -ne 1 ] || ! grep -qF -- "$want" "$T/err"; then
        wrong=$((wrong + 1))
        fail "$name: exit $rc, want 1 and one message naming $want: $(head -c 400 "$T/err")"
    else
        echo "ok: $name: $(cat "$T/err")"
    fi
}

# every hostile kind of path: a FIFO without a writer, a folder, a character device
mkfifo "$T/fifo"
mkdir "$T/folder"
for kind in fifo folder dev; do
    case $kind in
        fifo) H=$T/fifo; what="FIFO" ;;
        folder) H=$T/folder; what="folder" ;;
        dev) H=/dev/zero; what="device" ;;
    esac
    refuse "$kind: nsid-plan SPEC" "$what" "$BIN/nsid-plan" --check "$H"
    refuse "$kind: nsid-plan --manifest" "$what" "$BIN/nsid-plan" --check --manifest "$H" "$T/ok.yaml"
    refuse "$kind: nsid-train --config" "$what" "$BIN/nsid-train" --config "$H" --data "$SCAN" --out "$T/o1"
    refuse "$kind: nsid-eval --config" "$what" "$BIN/nsid-eval" --config "$H" --checkpoint "$T/good/checkpoint.h5" \
        --data "$SCAN" --db "$T/good/run.db"
    refuse "$kind: nsid-train --data" "$H" "$BIN/nsid-train" "${SMALL[@]}" --data "$H" --out "$T/o2"
    refuse "$kind: model.core.checkpoint (transfer)" "$what" "$BIN/nsid-train" "${SMALL[@]}" --data "$SCAN" \
        --out "$T/o3" --set "model.core.checkpoint=$H" --set train.detach_core=true
    refuse "$kind: model.core.checkpoint (VGG16 weights)" "$what" "$BIN/nsid-train" "${SMALL[@]}" --data "$SCAN" \
        --out "$T/o4" --set model.core.type=vgg16 --set "model.core.checkpoint=$H" --set train.detach_core=true
    refuse "$kind: nsid-eval --checkpoint" "$what" "$BIN/nsid-eval" --checkpoint "$H" --data "$SCAN" \
        --db "$T/good/run.db"
    refuse "$kind: nsid-eval --db" "$what" "$BIN/nsid-eval" --checkpoint "$T/good/checkpoint.h5" --data "$SCAN" \
        --db "$H"
    refuse "$kind: nsid-db merge RUN_DB" "$what" "$BIN/nsid-db" merge "$H" --into "$T/merged.db"
    refuse "$kind: nsid-db merge --list" "$what" "$BIN/nsid-db" merge --list "$H" --into "$T/merged.db"
    refuse "$kind: nsid-db select RUN_DB" "$what" "$BIN/nsid-db" select --out "$T/sel" "$H"
    refuse "$kind: nsid-db query --db" "$what" "$BIN/nsid-db" query "SELECT 1" --db "$H"
    # an .npy file of a file tree
    rm -rf "$T/tree"
    cp -r "$TREE" "$T/tree"
    rm "$T/tree/data/responses/0.npy"
    case $kind in
        fifo) mkfifo "$T/tree/data/responses/0.npy" ;;
        folder) mkdir "$T/tree/data/responses/0.npy" ;;
        dev) ln -s /dev/zero "$T/tree/data/responses/0.npy" ;;
    esac
    refuse "$kind: an .npy file of a tree (nsid-train --data)" "0.npy" "$BIN/nsid-train" "${SMALL[@]}" \
        --data "$T/tree" --out "$T/o5"
done

echo "non-regular inputs: $cases cases, $hung hung, $wrong not refused as wanted"
mkdir -p "$BIN/figures"
printf 'cases %d\nhung %d\nwrong %d\n' "$cases" "$hung" "$wrong" >"$BIN/figures/bounds_fifo.txt"
exit $((fails > 0))
