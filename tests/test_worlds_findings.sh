#!/usr/bin/env bash
# test_worlds_findings.sh - the paper's findings in every simulated world (issue 20 item 3):
#   - `make worlds SIM_SEEDS="1 2"` runs both worlds and collects them with scripts/nsid-worlds.sh
#     into results-worlds/worlds.db and results-worlds/WORLDS.md;
#   - each world's rows are its own store's findings: the Fig. 5 margin "11-S beats direct" is
#     recomputed here from the runs' metrics of each world, without plots/findings.sql;
#   - findings_by_world counts the worlds a finding holds in, and its margins' spread;
#   - the worlds command of docs/experiments.md and docs/reproduction.md runs verbatim;
#   - bad input, as one class per mechanism: SIM_SEEDS (empty, not a seed, a world twice) and
#     worlds with a variable that fixes one world's folders; nsid-worlds.sh given a folder without a
#     store or a world, one world twice, another profile or plan, no folder: one message naming
#     it, exit non-zero, and nothing written (results-worlds/ keeps its bytes).
# The stages are tests/fake_stages.sh's stand-ins (their scores are made from the run ids, so the
# worlds differ): this tests the collection; the science is docs/reproduction.md's.
set -euo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
command -v sqlite3 >/dev/null || { echo "test_worlds_findings: needs the sqlite3 shell (scripts/deps.sh)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_worlds_findings_XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
. "$SRC/tests/sh_check.sh"

. "$SRC/tests/fake_stages.sh"
make_fake_stages fakebin "$BIN"
export FAKE_LOG=$T/train.log
: >"$FAKE_LOG"

mkdir -p specs
cat >specs/fig5.yaml <<'EOF'
experiment: direct
data: evaluation
grid: {data.image_n: [10, 20, 30]}
plot: {figure: fig5, curve: direct, x: $data.image_n}
---
experiment: transfer
data: evaluation
grid: {data.image_n: [10, 20, 30]}
defaults: {model.readout.gamma: 2}
plot: {figure: fig5, curve: 11-S, x: $data.image_n}
EOF
M=(make -s -f "$SRC/Makefile.experiments" PROFILE=smoke BUILD=fakebin SPECS=specs/fig5.yaml PLOTS="$T/noplots")
W=results-worlds

check "make worlds SIM_SEEDS=\"1 2\"" logged worlds.log "${M[@]}" worlds SIM_SEEDS="1 2"
check "  ran world 1 into results/ and world 2 into results-seed2/" \
    test "$(ls results/runs/*/done results-seed2/runs/*/done | wc -l)" -eq 12
check "  each world's make shares the jobs of make worlds (no jobserver reset)" not_grep 'resetting jobserver' worlds.log
check "  wrote $W/WORLDS.md and $W/worlds.db" test -s $W/WORLDS.md -a -s $W/worlds.db
wq() { sqlite3 -separator ' ' $W/worlds.db "$@"; }
check "  two worlds, seeds 1 and 2, with their folders" test "$(wq "SELECT sim_seed, results FROM world ORDER BY 1" | tr '\n' ' ')" = "1 results 2 results-seed2 "
check "  each world has every finding of report_findings (9)" \
    test "$(wq "SELECT COUNT(*) FROM world_finding GROUP BY sim_seed" | tr '\n' ' ')" = "9 9 "
check "  each world's runs: 6 of 6 done" test "$(wq "SELECT DISTINCT runs_done || '/' || runs_planned FROM world")" = "6/6"

# The margin of "11-S beats direct" per world, from the metrics alone: the smallest difference of
# test fraction oracle (11-S minus direct) over the image sizes.
finding="Fig. 5: 11-S core beats direct training at every size <= 1,000 images"
for s in 1 2; do
    r=results; [ $s = 1 ] || r=results-seed$s
    want=$(sqlite3 "$r/results.db" "
        WITH v AS (SELECT p.experiment, json_extract(r.config, '\$.data.image_n') AS x, m.value
                   FROM plan_runs p JOIN runs r ON r.id = p.id
                   JOIN metrics m ON m.run_id = r.id AND m.scan = 'all' AND m.split = 'test' AND m.name = 'fraction_oracle')
        SELECT printf('%.9f', MIN(t.value - d.value)) FROM v t JOIN v d ON d.x = t.x
        WHERE t.experiment = 'transfer' AND d.experiment = 'direct'")
    got=$(wq "SELECT printf('%.9f', margin) FROM world_finding WHERE sim_seed = $s AND finding = '$finding'")
    check "world $s: the 11-S margin is its metrics' ($got = $want)" test -n "$want" -a "$got" = "$want"
    holds=$(wq "SELECT holds FROM world_finding WHERE sim_seed = $s AND finding = '$finding'")
    check "world $s: holds = (margin > 0) ($holds)" test "$holds" = "$(awk -v m="$want" 'BEGIN { print (m > 0) ? 1 : 0 }')"
done
m1=$(wq "SELECT margin FROM world_finding WHERE sim_seed = 1 AND finding = '$finding'")
m2=$(wq "SELECT margin FROM world_finding WHERE sim_seed = 2 AND finding = '$finding'")
check "the worlds differ (world 1 $m1, world 2 $m2)" test "$m1" != "$m2"
row=$(wq "SELECT worlds, checked, holding, printf('%.9f %.9f', min_margin, max_margin) FROM findings_by_world WHERE finding = '$finding'")
lo=$(awk -v a="$m1" -v b="$m2" 'BEGIN { printf "%.9f %.9f", (a < b ? a : b), (a < b ? b : a) }')
nh=$(wq "SELECT SUM(holds) FROM world_finding WHERE finding = '$finding'")
check "findings_by_world: 2 worlds, 2 checked, $nh holding, spread $lo ($row)" test "$row" = "2 2 $nh $lo"
check "a finding without its runs is 'no data' in every world (Fig. 3)" \
    test "$(wq "SELECT checked || ' ' || holding FROM findings_by_world WHERE finding LIKE 'Fig. 3: Gaussian readout >=%'")" = "0 0"
check "$W/WORLDS.md: a column per world" grep -q '^| finding | holds in | world 1 | world 2 | spread | margin of |$' $W/WORLDS.md
check "$W/WORLDS.md: the 11-S row with both margins" \
    grep -qF "| $finding | $nh of 2 | $(printf '%+.3f' "$m1")$(awk -v m="$m1" 'BEGIN { if (m <= 0) printf " NO" }') | $(printf '%+.3f' "$m2")" $W/WORLDS.md
check "$W/WORLDS.md: both worlds' runs" test "$(grep -cE '^\| [12] \| results(-seed2)? \| 6 of 6 \|' $W/WORLDS.md)" -eq 2
check "WORLDS_OUT with shell text is a folder's name, not a command" \
    logged out.log "${M[@]}" worlds SIM_SEEDS="1 2" 'WORLDS_OUT=w o;touch PWNED'
check "  (its report written there, nothing run)" test -s 'w o;touch PWNED/WORLDS.md' -a ! -e PWNED
check "make worlds again: nothing rerun" logged again.log "${M[@]}" worlds SIM_SEEDS="1 2"
check "  (no run trained twice)" test "$(wc -l <"$FAKE_LOG")" -eq 12

# ---- the docs' command, verbatim (tests/doc_block.sh), with this test's stand-in stages ---------------
. "$SRC/tests/doc_block.sh"
mkdir -p docrun
for doc in "docs/experiments.md|## Reproducing the paper|3" "docs/reproduction.md|### The paper's model in three simulated worlds (issue 20)|1"; do
    IFS='|' read -r file heading nth <<<"$doc"
    if doc_block "$SRC/$file" "$heading" "$nth" >docrun/block.sh && grep -q ' worlds ' docrun/block.sh; then
        # `make -f Makefile.experiments ...` as the docs write it, run from the source's folder: here
        # the makefile is named by its path and the stages are the stand-ins
        check "$file: its worlds command runs ($(tr -s ' ' <docrun/block.sh | head -n 1))" logged docrun/log env NSID_SRC="$SRC" T="$T" bash -c '
            make() { local a=() x; for x in "$@"; do a+=("${x/#Makefile.experiments/$NSID_SRC/Makefile.experiments}"); done
                     command make -s "${a[@]}" PROFILE=smoke BUILD=$T/fakebin SPECS=$T/specs/fig5.yaml PLOTS=$T/noplots; }
            cd "$T/docrun" && . ./block.sh' _
        seeds=$(sed -n 's/.*SIM_SEEDS="\([^"]*\)".*/\1/p' docrun/block.sh)
        check "  the worlds it names collected ($seeds)" test -n "$seeds" -a \
            "$(sqlite3 docrun/results-worlds/worlds.db "SELECT GROUP_CONCAT(sim_seed, ' ') FROM (SELECT sim_seed FROM world ORDER BY 1)")" = "$seeds"
    else
        fail "$file has the worlds command under '$heading'"
    fi
done

# ---- refused: one message naming the variable or the folder; nothing written ----------------------
state() { # every path and every file's bytes (but the stand-ins and the last error text)
    { find . \( -path ./fakebin -o -path ./err.txt \) -prune -o -print | sort
      find . \( -path ./fakebin -o -path ./err.txt \) -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum; } | sha256sum
}
refused() { # refused WHAT PATTERN command...: non-zero exit, one line matching PATTERN, no file changed
    local what=$1 pat=$2; shift 2
    local before rc=0
    before=$(state)
    "$@" >err.txt 2>&1 || rc=$?
    check "$what: refused" test "$rc" -ne 0
    check "$what: one message naming it" test "$(grep -c -- "$pat" err.txt)" -eq 1 -a "$(wc -l <err.txt)" -le 2
    check "$what: nothing written" test "$before" = "$(state)"
}
refused "SIM_SEEDS empty" "SIM_SEEDS is empty" "${M[@]}" worlds SIM_SEEDS=
for bad in "1 x" "1 -2" "1 02" "1 2.5" "1 '3'" "1 12345678901234567890"; do
    refused "SIM_SEEDS='$bad'" "SIM_SEEDS=" "${M[@]}" worlds SIM_SEEDS="$bad"
done
refused "SIM_SEEDS with a world twice" "listed twice" "${M[@]}" worlds SIM_SEEDS="2 1 2"
for v in SIM_SEED=2 RESULTS=mine DATA=mine SIMULATE=no; do
    refused "worlds with $v" "${v%%=*}=.* with worlds" "${M[@]}" worlds SIM_SEEDS="1 2" "$v"
done
refused "worlds with another goal" "give it alone" "${M[@]}" worlds status
mkdir -p proj/experiments && cp specs/fig5.yaml proj/experiments/
refused "worlds with PROJECT" "worlds with PROJECT" "${M[@]}" PROJECT=proj worlds

NW=("$SRC/scripts/nsid-worlds.sh" --out $W)
mkdir -p empty nostore noworld badworld
cp -r results/. noworld/ && rm noworld/.nsid-world
cp -r results/. badworld/ && echo "seed=1" > badworld/.nsid-world
cp -r results/. otherprofile/ 2>/dev/null || { mkdir otherprofile && cp -r results/. otherprofile/; }
echo sim_seed=5 > otherprofile/.nsid-world
sqlite3 otherprofile/results.db "UPDATE plan_info SET value = 'quick' WHERE key = 'profile'"
mkdir otherplan && cp -r results/. otherplan/ && echo sim_seed=6 > otherplan/.nsid-world
sqlite3 otherplan/results.db "DELETE FROM plan_runs WHERE experiment = 'transfer' AND id = (SELECT MIN(id) FROM plan_runs WHERE experiment = 'transfer')"
touch nostore/.nsid-world
refused "nsid-worlds: no folder given" "no results folders" "${NW[@]}"
refused "nsid-worlds: no --out" "--out DIR is required" "$SRC/scripts/nsid-worlds.sh" results
refused "nsid-worlds: a folder that does not exist" "nothere: not a folder" "${NW[@]}" results nothere
refused "nsid-worlds: a folder without a store" "nostore: no results.db" "${NW[@]}" results nostore
refused "nsid-worlds: a folder without a world" "noworld/.nsid-world: missing" "${NW[@]}" results noworld
refused "nsid-worlds: a malformed world file" "badworld/.nsid-world: line 1" "${NW[@]}" results badworld
refused "nsid-worlds: one world twice" "the world SIM_SEED=1 again" "${NW[@]}" results results-seed2 results
refused "nsid-worlds: another profile" "otherprofile: another plan" "${NW[@]}" results otherprofile
refused "nsid-worlds: another plan" "otherplan: another plan" "${NW[@]}" results otherplan
printf 'not a database\n' > nostore/results.db
echo sim_seed=7 > nostore/.nsid-world
refused "nsid-worlds: a store that is not one" "nostore/results.db" "${NW[@]}" results nostore
# runs of an earlier plan stay in a store; the times are the planned runs' only
mkdir stale && cp -r results-seed2/. stale/
sqlite3 stale/results.db "INSERT INTO runs (id, config, status, started, ended, cpu_s)
    VALUES ('0000000000000000000000000000000000000000000000000000000000000000', '{}', 'done',
            '2000-01-01T00:00:00Z', '2000-01-01T05:00:00Z', 99999)"
check "nsid-worlds: a run of an earlier plan" logged stale.log "$SRC/scripts/nsid-worlds.sh" --out stale-out stale
check "  counts in no world's time" test "$(sqlite3 stale-out/worlds.db "SELECT printf('%.6f %.6f', wall_min, cpu_min) FROM world")" = \
    "$(wq "SELECT printf('%.6f %.6f', wall_min, cpu_min) FROM world WHERE sim_seed = 2")"
check "  (without the plan's filter it would count: $(sqlite3 stale/results.db "SELECT printf('%.0f', SUM(cpu_s)) FROM runs WHERE status = 'done'") CPU s)" \
    test "$(sqlite3 stale/results.db "SELECT SUM(cpu_s) >= 99999 FROM runs WHERE status = 'done'")" = 1
check "nsid-worlds of one world alone" logged one.log "$SRC/scripts/nsid-worlds.sh" --out one results-seed2
check "  says 1 simulated world" grep -q '^# nsid: the paper.s findings in 1 simulated world$' one/WORLDS.md

echo "test_worlds_findings: $fails failed"
exit $((fails > 0))
