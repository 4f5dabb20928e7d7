#!/usr/bin/env bash
# scripts/nsid-worlds.sh - the paper's findings in every simulated world (issue 20): collects
# the findings of several worlds' results folders into OUT/worlds.db (plots/worlds.sql) and
# writes OUT/WORLDS.md, a table of each finding per world with its margin and in how many worlds
# it holds, and each world's runs and times.
#
#   scripts/nsid-worlds.sh --out DIR RESULTS...
#
# `make -f Makefile.experiments worlds SIM_SEEDS="1 2 3"` runs the worlds and then this. Each
# RESULTS is a folder of `make -f Makefile.experiments SIM_SEED=N`: its results.db and its
# .nsid-world (which names the seed). The findings are plots/findings.sql's report_findings,
# applied to a copy of each store (the stores are only read). The worlds must be distinct and
# share one profile and one plan (the same experiments with the same runs per experiment):
# otherwise their findings would not be comparable, and nothing is written.
# A bad input (a folder without a store or a world, one world twice, two profiles or plans)
# exits 1 with one message naming the folder; OUT is replaced only when everything was read.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
plots=$here/../plots
out=""
folders=()
while [ $# -gt 0 ]; do
    case "$1" in
        --out) [ $# -ge 2 ] || { echo "nsid-worlds: --out needs a folder (see --help)" >&2; exit 2; }
               out=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --) shift; folders+=("$@"); break ;;
        -*) echo "nsid-worlds: unknown option '$1' (see --help)" >&2; exit 2 ;;
        *) folders+=("$1"); shift ;;
    esac
done
die() { echo "nsid-worlds: $*" >&2; exit 1; }
[ -n "$out" ] || { echo "nsid-worlds: --out DIR is required (see --help)" >&2; exit 2; }
[ ${#folders[@]} -gt 0 ] || { echo "nsid-worlds: no results folders given (see --help)" >&2; exit 2; }
command -v sqlite3 >/dev/null || die "needs the sqlite3 shell (scripts/deps.sh)"
for f in "$plots/views.sql" "$plots/findings.sql" "$plots/worlds.sql"; do
    [ -f "$f" ] || die "$f: missing"
done

T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_worlds_XXXXXX")
trap 'rm -rf "$T"' EXIT
# A path as an SQL string literal.
sql_str() { printf "'%s'" "${1//\'/\'\'}"; }

wdb=$T/worlds.db
sqlite3 -bail "$wdb" <"$plots/worlds.sql" >/dev/null || die "$plots/worlds.sql: cannot create the worlds store"
plan0="" folder0=""
i=0
for r in "${folders[@]}"; do
    i=$((i + 1))
    [ -d "$r" ] || die "$r: not a folder"
    [ -f "$r/results.db" ] || die "$r: no results.db (run make -f Makefile.experiments SIM_SEED=N first)"
    [ -f "$r/.nsid-world" ] || die "$r/.nsid-world: missing: not the results folder of a simulated world"
    world=$(cat "$r/.nsid-world")
    seed=${world#sim_seed=}
    [[ "$world" == sim_seed=* && "$seed" =~ ^(0|[1-9][0-9]{0,18})$ ]] \
        || die "$r/.nsid-world: line 1: expected sim_seed=N, not '$world'"
    db=$T/world$i.db
    sqlite3 "$r/results.db" ".backup $(sql_str "$db")" 2>"$T/err" || die "$r/results.db: cannot be read: $(head -n 1 "$T/err")"
    for sql in "$plots/views.sql" "$plots/findings.sql"; do
        sqlite3 -bail "$db" <"$sql" >/dev/null 2>"$T/err" || die "$r/results.db: $sql failed: $(head -n 1 "$T/err")"
    done
    # The plan's shape: the profile and the runs per experiment (ids differ between worlds: the data do).
    plan=$(sqlite3 "$db" "SELECT COALESCE((SELECT value FROM plan_info WHERE key = 'profile'), '?') || ': ' ||
                          COALESCE((SELECT GROUP_CONCAT(experiment || ' ' || n, ', ') FROM
                                   (SELECT experiment, COUNT(DISTINCT id) AS n FROM plan_runs GROUP BY experiment
                                    ORDER BY experiment)), 'no plan')")
    if [ -z "$plan0" ]; then
        plan0=$plan folder0=$r
    elif [ "$plan" != "$plan0" ]; then
        die "$r: another plan than $folder0's ($plan; $plan0): worlds are compared on one profile and one plan"
    fi
    have=$(sqlite3 "$wdb" "SELECT results FROM world WHERE sim_seed = $seed")
    [ -z "$have" ] || die "$r: the world SIM_SEED=$seed again (also $have)"
    sqlite3 -bail "$wdb" >/dev/null 2>"$T/err" <<EOF || die "$r: cannot collect its findings: $(head -n 1 "$T/err")"
ATTACH $(sql_str "$db") AS w;
INSERT INTO world
SELECT $seed, $(sql_str "$r"), COALESCE((SELECT value FROM w.plan_info WHERE key = 'profile'), ''),
       t.runs_planned, t.runs_done, t.wall_min, t.cpu_min,
       (SELECT value FROM w.plot_report_info WHERE key = 'code version')
FROM w.plot_run_totals t;
INSERT INTO world_finding SELECT $seed, ROW_NUMBER() OVER (), finding, holds, margin, margin_of, detail
FROM w.report_findings;
EOF
done

# ---- the report ---------------------------------------------------------------------------------------
q() { sqlite3 -separator $'\t' "$wdb" "$1"; }
seeds=$(q "SELECT sim_seed FROM world ORDER BY sim_seed")
nw=$(q "SELECT COUNT(*) FROM world")
worlds="$nw simulated worlds"
[ "$nw" != 1 ] || worlds="1 simulated world"
{
    echo "# nsid: the paper's findings in $worlds"
    echo
    echo "One profile ($(q "SELECT profile FROM world LIMIT 1")) and one plan in $worlds, simulator seed"
    echo "$(echo $seeds | sed 's/ /, /g'). Each number is the finding's margin in that world, the measured"
    echo "quantity minus the finding's threshold (plots/findings.sql): a finding holds where its margin is"
    echo "not negative (positive where it asks for strictly better); NO marks a world where it fails."
    echo "Written by scripts/nsid-worlds.sh from each world's results.db; the rows are in worlds.db"
    echo "(views findings_by_world and report_worlds)."
    echo
    printf '| finding | holds in |'
    for s in $seeds; do printf ' world %s |' "$s"; done
    printf ' spread | margin of |\n|---|---|'
    for s in $seeds; do printf -- '---|'; done
    printf -- '---|---|\n'
    q "SELECT finding, holds_in, margins, spread, margin_of FROM report_worlds" |
        awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }'
    echo
    echo "## The worlds"
    echo
    echo "| world | results | runs done | wall time of the runs | CPU time | code version |"
    echo "|---|---|---|---|---|---|"
    q "SELECT sim_seed, results, runs_done || ' of ' || runs_planned,
              CASE WHEN wall_min IS NULL THEN '-' ELSE printf('%.1f min', wall_min) END,
              CASE WHEN cpu_min IS NULL THEN '-' ELSE printf('%.1f min', cpu_min) END, COALESCE(code_version, '-')
       FROM world ORDER BY sim_seed" |
        awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }'
    failing=$(q "SELECT 'world ' || sim_seed || ': ' || finding || ': ' || COALESCE(detail, '')
                 FROM world_finding WHERE holds = 0 ORDER BY ord, sim_seed")
    echo
    echo "## Where a finding fails"
    echo
    if [ -z "$failing" ]; then
        echo "Every finding holds in every world."
    else
        echo "What was measured in each world where a finding does not hold (the finding's own detail):"
        echo
        printf '%s\n' "$failing" | sed 's/^/- /'
    fi
} >"$T/WORLDS.md"

mkdir -p "$out" || die "$out: cannot create the folder"
cp "$wdb" "$out/.worlds.db.tmp" && mv "$out/.worlds.db.tmp" "$out/worlds.db" || die "$out/worlds.db: cannot be written"
cp "$T/WORLDS.md" "$out/.WORLDS.md.tmp" && mv "$out/.WORLDS.md.tmp" "$out/WORLDS.md" || die "$out/WORLDS.md: cannot be written"
echo "nsid-worlds: $worlds: $out/WORLDS.md, $out/worlds.db"
