#!/usr/bin/env bash
# test_db_runs.sh - nsid-db runs / compare / tag / note / gc (issue 18 items 1-4) on a store made
# by the smoke pipeline (tests/runs_store.sh: 5 runs, core seeds competing, two readouts, a
# transfer). Checks, each against the store's own SQL:
#   runs     - the table fits 80 columns, ids abbreviated to a unique prefix, hidden columns said;
#              csv/json complete; the filters (--experiment, --status, KEY=VALUE with numbers
#              compared as numbers, a tag as KEY=VALUE, --tag, --where), --sort, --limit; the
#              differing-keys logic (a grid axis shown, a key equal in every row left out)
#   compare  - differing keys and data, scores side by side, the per-neuron summary equal to SQL's
#   prefixes - a unique prefix accepted, an ambiguous one refused listing its candidates
#   tags     - set, shown, filtered, removed; kept across a re-merge, carried from a run.db into the
#              store and into a fresh store; a schema-5 store gains the tables
#   gc       - dry run changes nothing; after a re-plan it removes exactly the dropped runs (rows of
#              every table, folders) and keeps the core a kept run uses (parent; core checkpoint)
#   bad input- unknown run id or key, malformed or writing --where, tag on a missing run, gc
#              without a plan: exit 1, one message, the store's sha256 unchanged
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
for tool in sqlite3 make python3; do
    command -v "$tool" >/dev/null || { echo "test_db_runs: needs $tool (scripts/deps.sh)"; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_dbruns_XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
. "$SRC/tests/sh_check.sh"
. "$SRC/tests/runs_store.sh"
not() { ! "$@"; }
if ! runs_store "$T/p"; then
    tail -n 30 "$T/p/make.log" 2>/dev/null
    echo "test_db_runs: the smoke store could not be made"; exit 1
fi
R=$T/p/results
D=$R/results.db
db() { "$BIN/nsid-db" "$@"; }
q() { sqlite3 "$D" "$1"; }
sha() { sqlite3 "$D" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null; sha256sum <"$D" | cut -c1-64; }
# bad CMD...: exit 1 and exactly one line on stderr, stdout empty, the store's bytes unchanged
bad() {
    local before after out err rc
    before=$(sha)
    out=$(db "$@" 2>"$T/err"); rc=$?
    after=$(sha)
    err=$(cat "$T/err")
    [ "$rc" -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && [ -z "$out" ] && [ "$before" = "$after" ] ||
        { echo "  exit $rc, stdout '$out', stderr '$err', sha $before -> $after"; return 1; }
    echo "  $err"
}

id_of() { q "SELECT id FROM plan_runs WHERE experiment = '$1' $2 ORDER BY id LIMIT 1"; }
gauss=$(id_of readouts "AND json_extract(identity, '$.config.model.readout.type') = 'gaussian'")
fact=$(id_of readouts "AND json_extract(identity, '$.config.model.readout.type') = 'factorized'")
transfer=$(id_of transfer "")
chosen=$(q "SELECT parent FROM runs WHERE id = '$transfer'")
other=$(q "SELECT id FROM plan_runs WHERE experiment = 'core' AND id <> '$chosen'")
check "the smoke store has 5 done runs" test "$(q "SELECT count(*) FROM runs WHERE status = 'done'")" -eq 5
check "the transfer's parent is one of the two cores" test -n "$chosen" -a -n "$other"

# ---- runs ------------------------------------------------------------------------------------------
db runs --db "$D" >table.txt
cat table.txt
check "runs: a header and 5 rows" test "$(head -n 1 table.txt | cut -c1-3)$(grep -c '^[0-9a-f]\{7\}  ' table.txt)" = "id 5"
check "runs: every line fits 80 columns" test "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' table.txt)" -le 80
check "runs: the hidden columns are named" grep -q "columns hidden to fit 80 columns:.*seed" table.txt
check "runs: ids are 7-character prefixes (unique here)" \
    test "$(sed -n '2,6p' table.txt | cut -d' ' -f1 | awk '{ print length($0) }' | sort -u)" = 7
for id in $gauss $fact $transfer $chosen $other; do
    check "runs: lists ${id:0:7}" grep -q "^${id:0:7} " table.txt
done
db runs --db "$D" --format csv >all.csv
check "csv: header + 5 rows" test "$(wc -l <all.csv)" -eq 6
check "csv: full ids" grep -q "^$transfer," all.csv
check "csv: every differing key (readout type, seed, detach_core, checkpoint)" \
    grep -q "model.core.checkpoint,.*model.readout.type,train.detach_core,train.seed" all.csv
check "csv: nothing elided" not_grep "~" all.csv
db runs --db "$D" --format json >all.json
check "json: 5 objects with the differing keys and tags" python3 -c "
import json, sys
r = json.load(open('all.json'))
assert len(r) == 5, len(r)
assert all('model.readout.type' in x['config'] and 'train.seed' in x['config'] and x['tags'] == {} for x in r)
assert {x['run_id'] for x in r} >= {'$transfer', '$gauss'}"
# differing keys: among the two readouts runs only the readout's keys differ, not the seed
db runs --db "$D" --experiment readouts --format csv >readouts.csv
head -n 1 readouts.csv
check "differing keys: the readouts differ in model.readout.type" grep -q "model.readout.type" <(head -n 1 readouts.csv)
check "differing keys: train.seed (equal) is left out" not_grep "train.seed" <(head -n 1 readouts.csv)
db runs --db "$D" --experiment core --format csv >core.csv
check "differing keys: the cores differ in train.seed only" test "$(head -n 1 core.csv | cut -d, -f10-)" = "train.seed"
check "--experiment core: 2 rows" test "$(wc -l <core.csv)" -eq 3
check "--status done: 5 rows" test "$(db runs --db "$D" --status done --format csv | wc -l)" -eq 6
check "--status planned: none" grep -q "(no runs)" <(db runs --db "$D" --status planned)
check "KEY=VALUE (text): the factorized run only" test "$(db runs --db "$D" model.readout.type=factorized --format csv | cut -d, -f1 | tail -n +2)" = "$fact"
check "KEY=VALUE (number): train.seed=2.0 is the seed-2 core" \
    test "$(db runs --db "$D" train.seed=2.0 --format csv | cut -d, -f1 | tail -n +2)" = "$(q "SELECT id FROM runs WHERE json_extract(config, '$.train.seed') = 2")"
check "KEY=VALUE (bool): train.detach_core=true is the transfer" \
    test "$(db runs --db "$D" train.detach_core=true --format csv | cut -d, -f1 | tail -n +2)" = "$transfer"
check "--where: the runs SQL selects" test "$(db runs --db "$D" --where "test_corr > 0 AND experiment <> 'core'" --format csv | tail -n +2 | cut -d, -f1 | sort)" = \
    "$(q "SELECT r.id FROM runs r JOIN metrics m ON m.run_id = r.id AND m.scan = 'all' AND m.split = 'test' AND m.name = 'corr' WHERE m.value > 0 AND r.experiment <> 'core' ORDER BY r.id")"
check "--sort -test_corr: SQL's order" test "$(db runs --db "$D" --sort -test_corr --format csv | tail -n +2 | cut -d, -f1)" = \
    "$(q "SELECT run_id FROM metrics WHERE scan = 'all' AND split = 'test' AND name = 'corr' ORDER BY value DESC")"
check "--sort by a configuration key, descending" test "$(db runs --db "$D" --experiment core --sort=-train.seed --format csv | sed -n 2p | cut -d, -f1)" = \
    "$(q "SELECT id FROM runs WHERE experiment = 'core' ORDER BY json_extract(config, '$.train.seed') DESC LIMIT 1")"
check "--limit 2: 2 rows" test "$(db runs --db "$D" --limit 2 --format csv | wc -l)" -eq 3

# ---- prefixes and compare ---------------------------------------------------------------------------
db compare --db "$D" "${gauss:0:6}" "${fact:0:6}" >cmp.txt
cat cmp.txt
check "compare: accepts prefixes and names both runs" grep -q "runs: $gauss $fact" cmp.txt
check "compare: the readout type differs" grep -q "^model.readout.type  *gaussian  *factorized" cmp.txt
check "compare: the seed does not (same in both)" not_grep "^train.seed" cmp.txt
check "compare: the same data" grep -q "the same data" cmp.txt
check "compare: scores side by side (test corr)" grep -q "^test corr  *$(printf '%.4f' "$(q "SELECT value FROM metrics WHERE run_id = '$gauss' AND scan = 'all' AND split = 'test' AND name = 'corr'")")  *$(printf '%.4f' "$(q "SELECT value FROM metrics WHERE run_id = '$fact' AND scan = 'all' AND split = 'test' AND name = 'corr'")")" cmp.txt
pn=$(q "SELECT count(*) || ' neurons: mean ' || printf('%+.4f', avg(b.test_corr - a.test_corr)) FROM neuron_metrics a JOIN neuron_metrics b ON b.scan = a.scan AND b.unit_id = a.unit_id WHERE a.run_id = '$gauss' AND b.run_id = '$fact'")
up=$(q "SELECT 'improved ' || sum(b.test_corr > a.test_corr) || ', worse ' || sum(b.test_corr < a.test_corr) FROM neuron_metrics a JOIN neuron_metrics b ON b.scan = a.scan AND b.unit_id = a.unit_id WHERE a.run_id = '$gauss' AND b.run_id = '$fact'")
check "compare: per-neuron mean difference as SQL computes it ($pn)" grep -q "$pn" cmp.txt
check "compare: improved/worse counts as SQL counts them ($up)" grep -q "$up" cmp.txt
db compare --db "$D" "${chosen:0:8}" "${transfer:0:8}" >cmp2.txt
check "compare: a core and a transfer differ in data" grep -q "^scan 0 " cmp2.txt
check "compare: and in detach_core" grep -q "^train.detach_core  *false  *true" cmp2.txt
# an ambiguous prefix: a second run whose id shares the transfer's first 6 characters (a copy of the
# store with one extra runs row: real ids rarely collide in 5 runs)
cp "$D" amb.db
amb=${transfer:0:6}zzzz
sqlite3 amb.db "INSERT INTO runs (id, experiment, status) VALUES ('$amb', 'other', 'failed')"
D0=$D; D=$T/amb.db
check "compare: an ambiguous prefix is refused" bad compare --db "$D" "${transfer:0:6}" "${gauss:0:6}"
check "  listing both candidates" grep -q "$amb, $transfer\|$transfer, $amb" "$T/err"
check "  and a longer prefix resolves" db compare --db "$D" "${transfer:0:7}" "${gauss:0:6}" >/dev/null
check "runs: the id column widens to stay unique (7 characters)" grep -q "^${transfer:0:7} " <(db runs --db "$D")
D=$D0

# ---- tags and notes ---------------------------------------------------------------------------------
check "tag: set two tags by prefix" db tag --db "$D" "${gauss:0:8}" reviewed=yes purpose=baseline
check "tag: stored" test "$(q "SELECT group_concat(key || '=' || value, ' ') FROM (SELECT * FROM run_tags WHERE run_id = '$gauss' ORDER BY key)")" = "purpose=baseline reviewed=yes"
check "note: added" db note --db "$D" "${gauss:0:8}" "the baseline"
check "runs --tag reviewed: that run only" test "$(db runs --db "$D" --tag reviewed --format csv | tail -n +2 | cut -d, -f1)" = "$gauss"
check "runs purpose=baseline (a tag as KEY=VALUE)" test "$(db runs --db "$D" purpose=baseline --format csv | tail -n +2 | cut -d, -f1)" = "$gauss"
check "runs --tag reviewed=no: none" grep -q "(no runs)" <(db runs --db "$D" --tag reviewed=no)
check "runs shows the tags" grep -q "purpose=" <(db runs --db "$D" --experiment readouts)
check "compare shows tags and notes" bash -c "'$BIN/nsid-db' compare --db '$D' ${gauss:0:8} ${fact:0:8} | grep -q '^reviewed  *yes' &&
    '$BIN/nsid-db' compare --db '$D' ${gauss:0:8} ${fact:0:8} | grep -q 'the baseline'"
check "tag --rm: removed" db tag --db "$D" "${gauss:0:8}" --rm purpose
check "  purpose gone, reviewed kept" test "$(q "SELECT group_concat(key) FROM run_tags WHERE run_id = '$gauss'")" = reviewed
# merges: the store's tags survive a re-merge; a tag in a run.db is carried into the store
rundb=$R/runs/$fact/run.db
check "tag a run in its own run.db" db tag --db "$rundb" "$fact" origin=rundb
check "re-merge succeeds" db merge --into "$D" --runs "$R/runs"
check "  the store's tags survive it" test "$(q "SELECT value FROM run_tags WHERE run_id = '$gauss' AND key = 'reviewed'")" = yes
check "  the note survives it" test "$(q "SELECT count(*) FROM run_notes WHERE run_id = '$gauss'")" -eq 1
check "  the run.db's tag is carried over" test "$(q "SELECT value FROM run_tags WHERE run_id = '$fact' AND key = 'origin'")" = rundb
check "merge into a fresh store carries the tag too" db merge --into fresh.db "$rundb"
check "  (there)" test "$(sqlite3 fresh.db "SELECT value FROM run_tags WHERE run_id = '$fact' AND key = 'origin'")" = rundb
# a schema-5 store (no tag tables): read as it is, gains them when written
cp "$D" v5.db
sqlite3 v5.db "DROP TABLE run_tags; DROP TABLE run_notes; PRAGMA user_version = 5"
check "schema 5: runs reads it (no tags)" test "$(db runs --db v5.db --format csv | wc -l)" -eq 6
check "  still schema 5 after reading" test "$(sqlite3 v5.db 'PRAGMA user_version')" -eq 5
check "  tag migrates it to schema 6" db tag --db v5.db "${gauss:0:8}" migrated=yes
check "  (version 6, the tag there, the runs intact)" test "$(sqlite3 v5.db "SELECT (SELECT user_version FROM pragma_user_version) || '/' || (SELECT value FROM run_tags WHERE key = 'migrated') || '/' || (SELECT count(*) FROM runs)")" = "6/yes/5"

# the selection rule: a copy whose plan lost the cores but keeps their selection (the transfer's):
# the chosen core (results/select/*.ckpt) and the other candidate stay
cp "$D" sel.db
sqlite3 sel.db "DELETE FROM plan_runs WHERE experiment = 'core'"
db gc --db sel.db --runs "$R/runs" >gcsel.txt
cat gcsel.txt
check "gc: keeps the core a current selection chose" grep -q "keep    $chosen  the core selection .* chose (results/select)" gcsel.txt
check "gc: keeps the selection's other candidate" grep -q "keep    $other  a candidate of core selection" gcsel.txt
check "gc: nothing else to remove" grep -q "removes the 0 runs" gcsel.txt

# ---- bad input: one message, the store unchanged -------------------------------------------------------
check "unknown run id (compare)" bad compare --db "$D" zzzz "${gauss:0:6}"
check "unknown run id (tag on a missing run)" bad tag --db "$D" ffffffffff x=1
check "unknown run id (note)" bad note --db "$D" ffffffffff "text"
check "tag: a malformed KEY=VALUE among good ones changes nothing" bad tag --db "$D" "${gauss:0:8}" good=1 bad
check "tag --rm of a tag the run lacks" bad tag --db "$D" "${gauss:0:8}" --rm nothere
check "unknown key (KEY=VALUE)" bad runs --db "$D" model.nothere=1
check "unknown --tag key" bad runs --db "$D" --tag nothere
check "unknown --sort key" bad runs --db "$D" --sort nothere
check "unknown --status" bad runs --db "$D" --status finished
check "malformed --where" bad runs --db "$D" --where "val_corr >"
check "  names --where" grep -q -- "--where" "$T/err"
check "--where with a statement after it" bad runs --db "$D" --where "1; DELETE FROM runs"
check "--where with a comment hiding the rest" bad runs --db "$D" --where "1 --"
check "--where reading a PRAGMA" bad runs --db "$D" --where "(SELECT count(*) FROM pragma_table_info('runs')) > 0"
check "--where writing through a function is not reachable (no such function)" bad runs --db "$D" --where "load_extension('x') IS NULL"

# ---- gc ----------------------------------------------------------------------------------------------------
check "gc without a plan is refused" bad gc --db fresh.db --runs "$R/runs"
ls "$R/runs" >folders.before
before=$(sha)
db gc --db "$D" >gc0.txt
check "gc: the whole plan kept, nothing to remove" grep -q "gc: 0 runs outside the current plan" gc0.txt
check "gc: a dry run changes nothing" test "$(sha)" = "$before"
# a new plan: the readouts without the factorized run, and the chosen core frozen under a new experiment
ckpt=$R/runs/$chosen/checkpoint.h5
cat >"$T/p/experiments/study.yaml" <<YAML
experiment: readouts
data: new
grid: {model.readout.type: [gaussian]}
---
experiment: frozen
data: new
defaults: {train.detach_core: true, model.core.checkpoint: $ckpt}
---
profiles:
  smoke:
    defaults:
      data: {image_n: 40}
      train: {max_epochs: 2, patience: 1, lr_decay_steps: 1}
      model.core: {hidden_channels: 8, hidden_kern: 7}
YAML
check "re-plan" "$BIN/nsid-plan" --profile smoke --manifest "$T/p/data.yaml" --results "$R" "$T/p/experiments/study.yaml"
mkdir -p "$R/runs/mine" && echo keep >"$R/runs/mine/notes.txt"   # a folder that is no run's
before=$(sha)
db gc --db "$D" >gc1.txt
cat gc1.txt
check "gc dry run: changes nothing" test "$(sha)" = "$before"
check "gc dry run: every folder still there" test -z "$(ls "$R/runs" | comm -13 - folders.before)"
for id in $fact $transfer $other; do
    check "gc dry run: lists ${id:0:8} for removal" grep -q "remove  $id" gc1.txt
done
check "gc dry run: keeps the core the new plan's run uses" grep -q "keep    $chosen  the core checkpoint of kept run" gc1.txt
check "gc dry run: says nothing was removed" grep -q "dry run, nothing removed.*removes the 3 runs" gc1.txt
check "gc --yes" db gc --db "$D" --yes >gc2.txt
cat gc2.txt
check "gc --yes: says what it removed" grep -q "removed 3 runs from .* and 3 folders from" gc2.txt
for t in runs epochs metrics neuron_metrics artifacts run_datasets run_sources run_tags run_notes; do
    col=run_id; [ "$t" = runs ] && col=id
    check "gc --yes: no $t rows of the removed runs" test "$(q "SELECT count(*) FROM $t WHERE $col IN ('$fact', '$transfer', '$other')")" -eq 0
done
check "gc --yes: their folders removed" test ! -e "$R/runs/$fact" -a ! -e "$R/runs/$transfer" -a ! -e "$R/runs/$other"
check "gc --yes: a folder holding no run.json or run.db is left alone" test -s "$R/runs/mine/notes.txt"
check "gc --yes: the kept core's rows and folder stay" test "$(q "SELECT count(*) FROM runs WHERE id = '$chosen'")" -eq 1 -a -s "$ckpt"
check "gc --yes: the planned run and its tags stay" test "$(q "SELECT count(*) FROM run_tags WHERE run_id = '$gauss'")" -eq 1
check "gc --yes: the store is sound" grep -q "^ok" <(db check "$D")
# the parent rule: a plan that holds the transfer but not its core (a copy with the cores' plan rows
# and the selection dropped: the transfer's core is kept because it is the transfer's parent)
cp "$R/../results/results.db" par.db 2>/dev/null
D=$T/par.db
sqlite3 "$D" "INSERT INTO runs (id, experiment, status, parent) VALUES ('kept0', 'x', 'done', '$chosen');
              INSERT INTO plan_runs (experiment, id, sel_group, identity) VALUES ('x', 'kept0', 'g', '{}');
              DELETE FROM plan_runs WHERE id = '$gauss' OR experiment = 'frozen'"
db gc --db "$D" --runs "$T/none" >gc3.txt
cat gc3.txt
check "gc: keeps a kept run's parent" grep -q "keep    $chosen  the transferred core (parent) of kept run kept0" gc3.txt
check "gc: and removes the run the plan dropped" grep -q "remove  $gauss" gc3.txt

if [ "$fails" -ne 0 ]; then
    echo "test_db_runs: $fails check(s) failed"
    exit 1
fi
echo "test_db_runs: all checks passed"
