#!/usr/bin/env bash
# test_store_readonly.sh - issue 17 class 5: a store on a read-only mount can be read. Every
# nsid-db command that only reads (query, export, export --all, views, status, select, check,
# and merge reading its sources) is run on a results store and run databases (WAL mode) under a
# read-only bind mount, and must print what it prints on a writable copy: once as a stage leaves
# them (no -shm or -wal: SQLite cannot create the -shm there), once as reading them on the
# writable copy left them (an empty -wal and a -shm); a store whose -wal still holds committed
# rows must show them (not the stale file).
# As root, chmod does not stop writes, so the folder is bind-mounted read-only in a private
# mount namespace (unshare -m; unshare -rm when not root); where neither works the test skips.
# Counts go to $NSID_BIN/figures/store_readonly.txt.
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
T=$(mktemp -d "${NSID_BIN:-/tmp}/tmp-store-readonly-XXXXXX")
cd "$T" || exit 1
. "$SRC/tests/sh_check.sh"
command -v sqlite3 >/dev/null || { echo "skip: no sqlite3 shell"; exit 77; }
DB=$BIN/nsid-db

# A store with two finished runs (one in the plan) and their run databases, written as a stage does.
mkdir -p ro/runs/r1 ro/runs/r2 ro/pending pending mnt w
$DB init ro/results.db || exit 1
for id in r1 r2; do
    $DB init ro/runs/$id/run.db || exit 1
    v=$([ $id = r1 ] && echo 0.5 || echo 0.25)
    sqlite3 ro/runs/$id/run.db "INSERT INTO runs (id, config, status) VALUES ('$id', '{}', 'done');
      INSERT INTO metrics VALUES ('$id', 'all', 'validation', 'corr', $v)" || exit 1
    echo "checkpoint $id" >ro/runs/$id/checkpoint.h5
done
sqlite3 ro/results.db "INSERT INTO plan_runs (experiment, id, sel_group, identity) VALUES ('e', 'r1', 'g', '{}'),
  ('e', 'r2', 'g', '{}'), ('e', 'r3', 'g', '{}')" || exit 1
$DB merge ro/runs/r1/run.db ro/runs/r2/run.db --into ro/results.db 2>/dev/null || exit 1
# A WAL store whose last commit is still in its -wal: copied (db, -wal, -shm) while a connection is open.
$DB init pending/results.db || exit 1
sqlite3 pending/results.db <<'SQL' || exit 1
.output /dev/null
PRAGMA wal_autocheckpoint = 0;
.output stdout
INSERT INTO runs (id, config, status) VALUES ('p1', '{}', 'done');
.shell cp pending/results.db pending/results.db-wal pending/results.db-shm ro/pending/
SQL
[ -s ro/pending/results.db-wal ] || { echo "setup: no pending -wal"; exit 1; }
[ ! -e ro/results.db-shm ] && [ ! -e ro/results.db-wal ] || { echo "setup: -shm/-wal left"; exit 1; }

# The commands, run on the folder given as $1; each writes its output to $2/<n>.out.
run_all() {
    local d=$1 out=$2 n=0
    mkdir -p "$out"
    one() { n=$((n + 1)); "$@" >"$out/$n.out" 2>"$out/$n.err"; echo "rc $?" >>"$out/$n.out"; }
    one $DB query "SELECT id, status FROM runs ORDER BY id" --db $d/results.db
    one $DB query "SELECT * FROM metrics ORDER BY run_id" --db $d/results.db --csv
    one $DB export metrics --csv $out/metrics.csv --db $d/results.db
    one cat $out/metrics.csv
    one $DB export --all --dir $out/views --db $d/results.db
    one $DB views --db $d/results.db
    one $DB status --db $d/results.db --runs $d/runs
    one $DB select --out $out/best.txt $d/runs/r1/run.db $d/runs/r2/run.db
    one sed "s|^$d/||" $out/best.txt
    one $DB check $d/results.db
    rm -f $out/merged.db
    one $DB merge $d/runs/r1/run.db $d/runs/r2/run.db --into $out/merged.db
    one $DB query "SELECT id, status FROM runs ORDER BY id" --db $out/merged.db
    one $DB query "SELECT id FROM runs" --db $d/pending/results.db
}

cp -a "$T/ro" "$T/wr"
run_all "$T/wr" "$T/w/writable"
# then the copy gets the -wal and -shm files an open connection has (as a killed reader leaves them)
for db in results.db runs/r1/run.db runs/r2/run.db; do
    mkdir -p "$T/keep/$db"
    sqlite3 "$T/wr/$db" >/dev/null <<SQL || exit 1
SELECT count(*) FROM runs;
.shell cp "$T/wr/$db-wal" "$T/wr/$db-shm" "$T/keep/$db/"
SQL
    cp "$T/keep/$db/"* "$(dirname "$T/wr/$db")/" || exit 1
done
check "the second mount has -shm files" test -e "$T/wr/runs/r1/run.db-shm" -a -e "$T/wr/results.db-shm"
ls -R "$T/ro" >"$T/before.ls"
mkdir -p "$T/mnt2"
# the same commands under a read-only bind mount in a private mount namespace
export -f run_all
export DB T
inner='mount --bind -o ro "$T/ro" "$T/mnt" || exit 77
       touch "$T/mnt/probe" 2>/dev/null && { rm -f "$T/mnt/probe"; exit 77; }
       run_all "$T/mnt" "$T/w/readonly"
       mount --bind -o ro "$T/wr" "$T/mnt2" || exit 1
       run_all "$T/mnt2" "$T/w/leftover"'
if [ "$(id -u)" = 0 ]; then unshare -m bash -c "$inner"; else unshare -rm bash -c "$inner"; fi
rc=$?
if [ $rc = 77 ]; then echo "skip: cannot bind-mount a folder read-only here (unshare -m / -rm)"; exit 77; fi
check "the namespace ran" test $rc = 0

cases=0 same=0
for f in "$T"/w/writable/*.out; do
    b=$(basename "$f")
    for kind in readonly leftover; do
        cases=$((cases + 1))
        if cmp -s "$f" "$T/w/$kind/$b" && grep -q '^rc 0$' "$f"; then same=$((same + 1)); else
            fail "command $b differs on the read-only mount ($kind): $(head -c 300 "$T/w/$kind/${b%.out}.err")"
            diff "$f" "$T/w/$kind/$b" | head -5
        fi
    done
done
check "the store had no -shm or -wal" test ! -e "$T/ro/results.db-shm"
check "the pending -wal row is read, not the stale file" grep -qx p1 "$T/w/readonly/13.out"
check "status counts the plan" grep -q "done 2" "$T/w/readonly/7.out"
check "the read-only run left no file behind" sh -c "ls -R '$T/ro' | cmp -s - '$T/before.ls'"
check "every command printed the same on the read-only mount ($same of $cases)" test $same = $cases

echo "read-only store: $cases commands ($((cases / 2)) on two mounts), $same the same as on a writable folder"
mkdir -p "$BIN/figures"
printf 'cases %d\nsame %d\nwrong %d\n' "$cases" "$((same))" "$((cases - same))" >"$BIN/figures/store_readonly.txt"
[ $fails = 0 ] && rm -rf "$T"
exit $((fails > 0))
