#!/usr/bin/env bash
# test_repro_quick.sh - the paper's findings on the quick profile's results (issue 10 items 1-4),
# per simulated world (issue 20). The quick reproduction takes about 30 minutes per world, so this
# test does not run it: it checks finished ones. Skipped (exit 77, with a message) unless
# NSID_QUICK_RESULTS names one or more results folders of `make -f Makefile.experiments`
# (PROFILE=quick; world N is SIM_SEED=N's results-seedN), e.g.
#     NSID_QUICK_RESULTS="$PWD/results $PWD/results-seed2 $PWD/results-seed3" ctest -L quick --output-on-failure
# Checks, per folder, on a copy of RESULTS/results.db with plots/findings.sql applied:
#   - the plan is the quick profile's and every planned run is done (none failed);
#   - Fig. 3, 4 and 5 and their experiments all have points;
#   - every row of report_findings holds (Fig. 3 readouts and parameters; Fig. 5 transfer vs
#     direct, 11-S vs 1-S, data-driven vs random cores, 60% of the images; ground truth), each
#     printed with its margin, except the two that quick's sizing keeps from holding
#     (known_not_holding below, with why): one of them must fail, the other is reported only;
#   - the runs' period (first start to last end) is at most NSID_QUICK_MAX_MINUTES (default 30;
#     0 skips it: the machine's load decides the wall time, the runs' CPU time is printed too);
#   - every figure and the report exist (when RESULTS/REPORT.md is there: figures drawn; world 1's
#     in plots/ or NSID_QUICK_PLOTS, another world's in RESULTS/figures).
# With several folders it also prints the findings per world (scripts/nsid-worlds.sh), which
# refuses folders of one world twice or of different plans.
# ctest-labels: quick repro
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
FOLDERS=${NSID_QUICK_RESULTS:-}
if [ -z "$FOLDERS" ]; then
    echo "test_repro_quick: skipped: set NSID_QUICK_RESULTS to a finished quick results folder"
    exit 77   # CTest: Skipped (SKIP_RETURN_CODE)
fi
command -v sqlite3 >/dev/null || { echo "test_repro_quick: needs the sqlite3 shell"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_quick_XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$SRC/tests/sh_check.sh"

# The findings quick's sizing keeps from holding (docs/reproduction.md, "Two findings fail in every
# world"), by the start of their report_findings text:
#   fails    the parameter count: quick's 36x32 images give the factorized readout 396 spatial
#            weights per neuron instead of the paper's 1,100, 6.7x the Gaussian readout's, in every
#            world (it counts parameters, not learning). It must fail: if it holds, the profile or
#            the readouts changed, and this list and the docs must say so.
#   reported Gaussian >= factorized: failed in all three worlds run, by 0.037-0.076, at points of
#            <= 200 images per scan where one model seed and one L1 strength decide the order
#            (the paper's remedy does not fit quick's 30 minutes). Printed, not asserted.
known_not_holding() {
    case "$1" in
        "Fig. 3: the Gaussian readout has far fewer parameters per neuron"*) echo fails ;;
        "Fig. 3: Gaussian readout >= factorized"*) echo reported ;;
    esac
}
# The checks of one results folder R; n numbers its copy of the store.
check_world() {
    local R=$1 n=$2 world db sql
    world=$(cat "$R/.nsid-world" 2>/dev/null)
    echo "== $R (${world:-no .nsid-world})"
    if [ ! -f "$R/results.db" ]; then
        fail "$R/results.db: no merged results store"
        return
    fi
    db=$T/results$n.db
    sqlite3 "$R/results.db" ".backup '$db'" || { fail "cannot copy $R/results.db"; return; }
    for sql in "$SRC/plots/views.sql" "$SRC/plots/findings.sql"; do
        sqlite3 -bail "$db" <"$sql" || fail "$sql failed on $R/results.db"
    done
    q() { sqlite3 -separator ' | ' "$db" "$@"; }

    local profile planned done_n failed fig nf row period cpu max plots
    profile=$(q "SELECT value FROM plan_info WHERE key = 'profile'")
    check "the plan is the quick profile's (is '$profile')" test "$profile" = quick
    IFS='|' read -r planned done_n failed period cpu < <(sqlite3 -separator '|' "$db" \
        "SELECT runs_planned, runs_done, runs_not_done, ROUND(wall_min, 1), ROUND(cpu_min, 1) FROM plot_run_totals")
    check "every planned run is done ($done_n of $planned, $failed not done)" test "$planned" -gt 0 -a "$done_n" = "$planned"
    for fig in fig3 fig3_ablation fig4 fig5; do
        n=$(q "SELECT COUNT(*) FROM figure_summary WHERE figure = '$fig'")
        check "$fig has points ($n)" test "$n" -gt 0
    done

    echo "findings (report_findings):"
    q "SELECT CASE WHEN holds THEN 'holds' WHEN holds IS NULL THEN 'NO DATA' ELSE 'DOES NOT HOLD' END,
              CASE WHEN margin IS NULL THEN '' ELSE printf('margin %+.3f', margin) END, finding, detail
       FROM report_findings" | sed 's/^/  /'
    nf=$(q "SELECT COUNT(*) FROM report_findings")
    check "report_findings has the 9 checks of issue 10 ($nf)" test "$nf" -eq 9
    local finding holds kind
    while IFS='|' read -r holds finding; do
        kind=$(known_not_holding "$finding")
        if [ "$holds" = 1 ]; then
            [ "$kind" != fails ] || check "$R: '$finding' fails by construction of quick's images, yet holds: update known_not_holding and docs/reproduction.md" false
        elif [ -n "$holds" ] && [ -n "$kind" ]; then
            echo "  known not to hold in quick ($kind): $finding"
        else
            check "$R: finding: $finding" false
        fi
    done < <(sqlite3 -separator '|' "$db" "SELECT COALESCE(holds, ''), finding FROM report_findings")

    # the planned runs only (plot_run_totals): a store keeps the runs of earlier plans too
    echo "runs: $period min from the first start to the last end, $cpu min CPU in total"
    max=${NSID_QUICK_MAX_MINUTES:-30}
    if [ "$max" != 0 ]; then
        check "the runs took at most $max minutes ($period)" awk -v p="$period" -v m="$max" 'BEGIN { exit !(p <= m) }'
    fi
    if [ -f "$R/REPORT.md" ]; then
        plots=${NSID_QUICK_PLOTS:-$SRC/plots}
        [ -z "$world" ] || [ "$world" = sim_seed=1 ] || plots=$R/figures
        for fig in fig1 fig3 fig3_ablation fig4 fig5 sim_rf sim_gt training; do
            check "figure $fig.png drawn ($plots)" test -s "$plots/$fig.png"
        done
        check "the report shows the findings" grep -q 'Fig. 5: 11-S core beats direct' "$R/REPORT.md"
    fi
}

read -r -a folders <<<"$FOLDERS"
for i in "${!folders[@]}"; do
    check_world "${folders[$i]}" "$i"
done

if [ ${#folders[@]} -gt 1 ]; then
    if "$SRC/scripts/nsid-worlds.sh" --out "$T/worlds" "${folders[@]}"; then
        echo "ok: the findings per world (scripts/nsid-worlds.sh)"
        sed -n '/^| finding/,/^$/p' "$T/worlds/WORLDS.md"
    else
        fail "the findings per world (scripts/nsid-worlds.sh)"
    fi
fi

if [ "$fails" -ne 0 ]; then
    echo "test_repro_quick: $fails check(s) failed"
    exit 1
fi
echo "test_repro_quick: all checks passed"
