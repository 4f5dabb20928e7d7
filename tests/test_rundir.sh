#!/usr/bin/env bash
# test_rundir.sh - issue 17 class 2, "nothing lost or overwritten", with the real stages. Four
# families, each case checking the exit code, the ONE message (naming the option or folder and
# both paths / values) and that every file (inputs, the run folder) is byte-identical afterwards:
#   io     an output is, lies inside or holds an input of the same command (same path, another
#          spelling, a symbolic link, a hard link, inside, containing), for nsid-eval, nsid-convert,
#          nsid-train and nsid-db (src/base/path.h: nsid_path_check_io);
#   lock   a second nsid-train / nsid-eval / nsid-simulate on a run folder in use stops at once,
#          naming the folder and the holder's pid; the kernel drops the lock on kill -9;
#   eval   nsid-eval --checkpoint A --db B where B holds another run (other seed, architecture,
#          scans, scan order) is refused instead of recording A's metrics as B's run;
#   resume a rerun after a kill with the same --run-id but another configuration, an edited
#          scan, --data in another order, fewer or more scans is refused with saved and current
#          named; the same command still resumes.
# Counts go to $NSID_BIN/figures/rundir.txt ("cases", "refused", "lost" = cases that wrote
# or changed anything, must be 0). Before issue 17 every case here exited 0 or overwrote.
# ctest-labels: reliability
set -u
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
FX=${NSID_FIXTURES:-$SRC/tests/fixtures}/data
. "$SRC/tests/sh_check.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_rundir_XXXXXX")
holders=()
cleanup() { for p in "${holders[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
cd "$T" || exit 1
small=(--set model.core.layers=2 --set model.core.hidden_channels=4 --set model.core.input_kern=5
       --set model.core.hidden_kern=3 --set train.batch_size=8 --set train.max_epochs=1 --quiet)
# trains until killed (for the lock and resume families)
forever=(--set model.core.layers=2 --set model.core.hidden_channels=4 --set model.core.input_kern=5
         --set model.core.hidden_kern=3 --set train.batch_size=8 --set train.max_epochs=1000000
         --set train.patience=1000000 --quiet)
cases=0 refused_n=0 lost=0

# Every file under $T and its sha256, but: the .lock files, SQLite's shared-memory index and an
# empty write-ahead log (a reading open leaves them behind, a writing one removes them), and the
# folder $SKIP (a holder's, which it changes itself).
SKIP=none
snapshot() {
    find . -path ./out.txt -prune -o -path ./err.txt -prune -o -name .lock -prune -o -path "./$SKIP" -prune \
        -o -name '*-shm' -prune -o -name '*-wal' -empty -prune -o -print0 | sort -z |
        xargs -0 -I{} sh -c 'if [ -f "{}" ]; then sha256sum "{}"; else echo "dir {}"; fi'
}

# refused FAMILY WHAT "WORDS|..." COMMAND...: exit 1, one line on stderr holding every '|'-separated
# word, and nothing under $T written or changed.
refused() {
    local fam=$1 what=$2 words=$3; shift 3
    local before; before=$(snapshot)
    # a CPU-time bound (not a clock): a refusal takes a second; a stage that does not refuse (the
    # old code resumed or trained on) is stopped instead of hanging the suite
    (ulimit -t 30; exec "$@") >out.txt 2>err.txt; local rc=$?
    cases=$((cases + 1))
    local ok=1
    check "$fam $what: exit 1 (got $rc)" test "$rc" = 1 || ok=0
    check "$fam $what: one message ($(wc -l <err.txt) lines: $(head -c 400 err.txt))" test "$(wc -l <err.txt)" = 1 || ok=0
    local IFS='|' w
    for w in $words; do check "$fam $what: names '$w'" grep -qF -- "$w" err.txt || ok=0; done
    if [ "$before" = "$(snapshot)" ]; then echo "ok: $fam $what: nothing written or changed"
    else fail "$fam $what: files written or changed"; lost=$((lost + 1)); ok=0; fi
    [ $ok = 1 ] && refused_n=$((refused_n + 1))
    rm -f out.txt err.txt
}

# wait_lock DIR PID: until the holder PID trains (DIR/train.log exists: nsid-train takes the lock
# before it opens the log) or PID is gone
wait_lock() {
    while kill -0 "$2" 2>/dev/null && [ ! -s "$1/train.log" ]; do sleep 0.05; done
    kill -0 "$2" 2>/dev/null
}

cp "$FX/static11111-1-1-preproc0.h5" a.h5
cp "$FX/static22222-2-2-preproc0.h5" b.h5
"$BIN/nsid-convert" a.h5 tree >/dev/null 2>&1
"$BIN/nsid-train" --data a.h5 --out ra "${small[@]}" >/dev/null 2>&1 &&
    "$BIN/nsid-train" --data a.h5 --out rseed "${small[@]}" --set train.seed=5 >/dev/null 2>&1 &&
    "$BIN/nsid-train" --data a.h5 --out rarch "${small[@]}" --set model.core.hidden_channels=6 >/dev/null 2>&1 &&
    "$BIN/nsid-train" --data b.h5 --out rdata "${small[@]}" >/dev/null 2>&1 &&
    "$BIN/nsid-train" --data a.h5 --data b.h5 --out rab "${small[@]}" >/dev/null 2>&1 &&
    "$BIN/nsid-train" --data b.h5 --data a.h5 --out rba "${small[@]}" >/dev/null 2>&1
check "setup: six trained runs" test -f rba/checkpoint.h5 -a -f ra/checkpoint.h5
ln -s ra/checkpoint.h5 ck-link.h5
ln ra/checkpoint.h5 ck-hard.h5
ln -s ra ra-link
ln -s a.h5 a-link.h5
ln a.h5 a-hard.h5
ev=("$BIN/nsid-eval" --checkpoint ra/checkpoint.h5 --data a.h5 --quiet)

# ---- io: outputs are never inputs
refused io "eval --predictions = --checkpoint" "--predictions|--checkpoint|ra/checkpoint.h5" \
    "${ev[@]}" --db ra/run.db --predictions ra/checkpoint.h5
refused io "eval --predictions = --checkpoint, other spelling" "--predictions|./ra//checkpoint.h5|ra/checkpoint.h5" \
    "${ev[@]}" --db ra/run.db --predictions ./ra//checkpoint.h5
refused io "eval --predictions = --checkpoint through ../" "--predictions|--checkpoint" \
    "${ev[@]}" --db ra/run.db --predictions "../$(basename "$T")/ra/checkpoint.h5"
refused io "eval --predictions = a symlink to --checkpoint" "--predictions|ck-link.h5|ra/checkpoint.h5" \
    "${ev[@]}" --db ra/run.db --predictions ck-link.h5
refused io "eval --predictions = a hard link to --checkpoint" "--predictions|ck-hard.h5|ra/checkpoint.h5" \
    "${ev[@]}" --db ra/run.db --predictions ck-hard.h5
refused io "eval --predictions = --db" "--predictions|--db|ra/run.db" \
    "${ev[@]}" --db ra/run.db --predictions ra-link/run.db
refused io "eval --predictions = --data" "--predictions|--data|a.h5" \
    "${ev[@]}" --db ra/run.db --predictions a-hard.h5
refused io "eval --db = --checkpoint" "--db|--checkpoint" "${ev[@]}" --db ck-link.h5
refused io "eval --db = --data" "--db|--data|a.h5" "${ev[@]}" --db a-link.h5
refused io "convert A A" "DST|SRC|a.h5" "$BIN/nsid-convert" a.h5 a.h5
refused io "convert A ./A --force" "DST|SRC" "$BIN/nsid-convert" --force a.h5 ./a.h5
refused io "convert A link-to-A --force" "DST|a-link.h5|a.h5" "$BIN/nsid-convert" --force a.h5 a-link.h5
refused io "convert A hard-link-of-A --force" "DST|a-hard.h5|a.h5" "$BIN/nsid-convert" --force a.h5 a-hard.h5
refused io "convert TREE TREE/inside.h5" "DST|lies inside|tree" "$BIN/nsid-convert" tree tree/inside.h5
refused io "convert TREE TREE/data/sub" "DST|lies inside|tree" "$BIN/nsid-convert" tree tree/data/sub
refused io "convert TREE TREE --force" "DST|SRC|tree" "$BIN/nsid-convert" --force tree ./tree/
refused io "convert TREE/.. holding SRC --force" "DST|holds|tree" "$BIN/nsid-convert" --force tree/ tree/..
refused io "train --out = a --data tree" "--out|--data|tree" "$BIN/nsid-train" --data tree --out tree "${small[@]}"
refused io "train --out inside a --data tree" "--out|lies inside|tree" \
    "$BIN/nsid-train" --data tree --out tree/run "${small[@]}"
refused io "train --out holding --data" "--out|holds|a.h5" "$BIN/nsid-train" --data a.h5 --out . "${small[@]}"
refused io "train --out holding the core checkpoint" "--out|model.core.checkpoint|ra/checkpoint.h5" \
    "$BIN/nsid-train" --data a.h5 --out ra-link "${small[@]}" --set model.core.checkpoint=ra/checkpoint.h5
refused io "train --db = --data" "--db|--data|a.h5" "$BIN/nsid-train" --data a.h5 --out rnew --db a-hard.h5 "${small[@]}"
printf 'train: {seed: 3}\n' >cfg.yaml
refused io "train --db = --config" "--db|--config|cfg.yaml" \
    "$BIN/nsid-train" --config cfg.yaml --data a.h5 --out rnew --db ./cfg.yaml "${small[@]}"
refused io "db export --csv = --db" "--csv|--db|ra/run.db" "$BIN/nsid-db" export runs --csv ra-link/run.db --db ra/run.db
mkdir -p ex && cp ra/run.db ex/run_scores.csv
refused io "db export --all --dir over --db" "--dir|--db|ex/run_scores.csv" \
    "$BIN/nsid-db" export --all --dir ex --db ex/run_scores.csv
refused io "db merge --into = a source" "--into|RUN_DB|ra/run.db" "$BIN/nsid-db" merge ra/run.db rseed/run.db --into ./ra/run.db
echo ra/run.db >list.txt
refused io "db merge --into = --list" "--into|--list|list.txt" "$BIN/nsid-db" merge --list list.txt --into list.txt
refused io "db merge --into inside --runs" "--into|lies inside|ra" "$BIN/nsid-db" merge --runs ra --into ra/x.db
refused io "db select --out = a run db" "--out|RUN_DB|ra/run.db" "$BIN/nsid-db" select --out ra-link/run.db ra/run.db

# ---- eval: the run of --db must be the checkpoint's
for other in rseed rarch rdata; do
    refused eval "checkpoint ra, --db $other/run.db" "--db|$other/run.db|ra/checkpoint.h5" \
        "${ev[@]}" --db "$other/run.db"
done
refused eval "checkpoint rab (scans a,b), --db rba (b,a)" "--db|rba/run.db|rab/checkpoint.h5" \
    "$BIN/nsid-eval" --checkpoint rab/checkpoint.h5 --data a.h5 --data b.h5 --db rba/run.db --quiet
refused eval "checkpoint ra, --db rseed through a symlink, --run-id of rseed" "--db|rseed" \
    "${ev[@]}" --db ra-link/../rseed/run.db --run-id "$("$BIN/nsid-db" query 'select id from runs' --db rseed/run.db | tail -n 1)"
"${ev[@]}" --db ra/run.db >/dev/null 2>err.txt
check "eval: its own run database is accepted ($(head -c 200 err.txt))" test $? = 0
"$BIN/nsid-eval" --checkpoint rab/checkpoint.h5 --data b.h5 --data a.h5 --db rab/run.db --quiet 2>err.txt
check "eval: its own run database, --data in any order, is accepted ($(head -c 200 err.txt))" test $? = 0

# ---- lock: one process per run folder
"$BIN/nsid-train" --data a.h5 --out hold "${forever[@]}" >/dev/null 2>&1 &
hp=$!; holders+=("$hp")
SKIP=hold
if wait_lock hold "$hp"; then
    refused lock "second nsid-train, same --out" "--out|hold|$hp" "$BIN/nsid-train" --data a.h5 --out hold "${small[@]}"
    refused lock "second nsid-train, --out spelled ./hold/" "hold|$hp" "$BIN/nsid-train" --data a.h5 --out ./hold/ "${small[@]}"
    ln -s hold hold-link
    refused lock "second nsid-train, --out a symlink" "hold-link|$hp" "$BIN/nsid-train" --data a.h5 --out hold-link "${small[@]}"
    refused lock "nsid-train, other --out, --db in the held folder" "--db|hold|$hp" \
        "$BIN/nsid-train" --data a.h5 --out rother --db hold/run.db "${small[@]}"
    refused lock "nsid-eval --db in the held folder" "--db|hold|$hp" \
        "$BIN/nsid-eval" --checkpoint ra/checkpoint.h5 --data a.h5 --db hold/run.db --quiet
    refused lock "nsid-simulate --out the held folder" "--out|hold|$hp" \
        "$BIN/nsid-simulate" --profile smoke --set groups=evaluation --out hold
    rm -rf rother hold-link
else
    fail "lock: the holder did not start"
fi
kill -9 "$hp"; wait "$hp" 2>/dev/null
SKIP=none
held=$(ls hold | grep -v -e '-shm$' -e '-wal$' -e '\.tmp[0-9]*$') # SQLite's and the killed holder's
check "lock: the refused commands wrote nothing into the held folder ($(echo $held))" \
    test "$held" = "$(printf 'checkpoint.h5\nrun.db\ntrain.log\ntrain_state.bin')" -o \
         "$held" = "$(printf 'run.db\ntrain.log\ntrain_state.bin')"
check "lock: the held run.db has the holder's run only" \
    test "$("$BIN/nsid-db" query 'select count(*) from runs' --db hold/run.db | tail -n 1)" = 1
"$BIN/nsid-eval" --checkpoint ra/checkpoint.h5 --data a.h5 --db hold/run.db --quiet 2>err.txt
check "lock: released by the kernel after kill -9 (no 'in use': $(head -c 200 err.txt))" not_grep -q "in use" err.txt

# ---- resume: the state records configuration, core and data
cp a.h5 r1.h5 && cp b.h5 r2.h5
"$BIN/nsid-train" --data r1.h5 --data r2.h5 --out rs --run-id X "${forever[@]}" >/dev/null 2>&1 &
hp=$!; holders+=("$hp")
while kill -0 "$hp" 2>/dev/null && [ ! -f rs/train_state.bin ]; do sleep 0.05; done
kill -TERM "$hp"; wait "$hp"; rc=$?
check "resume: the first run was interrupted with its state saved (exit $rc)" test "$rc" = 143 -a -f rs/train_state.bin
rs=("$BIN/nsid-train" --out rs --run-id X)
refused resume "another seed" "train_state.bin|run X|configuration" \
    "${rs[@]}" --data r1.h5 --data r2.h5 "${forever[@]}" --set train.seed=9
refused resume "another learning rate" "train_state.bin|configuration" \
    "${rs[@]}" --data r1.h5 --data r2.h5 "${forever[@]}" --set train.lr=0.002
refused resume "another architecture" "train_state.bin|configuration" \
    "${rs[@]}" --data r1.h5 --data r2.h5 "${forever[@]}" --set model.core.hidden_channels=6
refused resume "--data in another order" "another order|r1.h5|r2.h5" "${rs[@]}" --data r2.h5 --data r1.h5 "${forever[@]}"
refused resume "one scan fewer" "2 --data scan(s), now 1" "${rs[@]}" --data r1.h5 "${forever[@]}"
refused resume "one scan more" "2 --data scan(s), now 3" "${rs[@]}" --data r1.h5 --data r2.h5 --data a.h5 "${forever[@]}"
refused resume "a scan replaced by another" "scan 2|r2.h5" "${rs[@]}" --data r1.h5 --data a.h5 "${forever[@]}"
"$BIN/nsid-convert" --gzip 1 b.h5 r2-edited.h5 >/dev/null 2>&1 && cp r2-edited.h5 r2.h5 && rm r2-edited.h5
refused resume "a scan edited in place" "scan 2 r2.h5|changed" "${rs[@]}" --data r1.h5 --data r2.h5 "${forever[@]}"
cp b.h5 r2.h5
"${rs[@]}" --data r1.h5 --data r2.h5 "${forever[@]}" >/dev/null 2>err.txt &
hp=$!; holders+=("$hp")
while kill -0 "$hp" 2>/dev/null && ! grep -q "^resume run X" rs/train.log; do sleep 0.05; done
kill -TERM "$hp"; wait "$hp"; rc=$?
check "resume: the same command with the scan restored resumes (exit $rc: $(head -c 200 err.txt))" test "$rc" = 143

mkdir -p "$BIN/figures"
printf 'cases %d\nrefused %d\nlost %d\n' "$cases" "$refused_n" "$lost" >"$BIN/figures/rundir.txt"
echo "rundir: $cases cases, $refused_n refused as they should, $lost wrote or changed something"
exit $((fails > 0))
