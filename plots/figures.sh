#!/usr/bin/env bash
# plots/figures.sh - draw the paper's figures and write the report from the results store.
#
#   plots/figures.sh [--db results/results.db] [--nsid-db build/nsid-db] [--out plots]
#                    [--data plots/data] [--results results] [--formats "png svg pdf"]
#                    [--table] [--strict] [--no-report] [--only "fig3 fig5"]
#
#   1. applies plots/views.sql (the plot_* views) and plots/findings.sql (the paper's findings,
#      report_findings) to the store (sqlite3, dropped and recreated);
#   2. exports every view a figure reads with `nsid-db export VIEW --csv DATA/VIEW.csv` and
#      converts it (and the paper's digitised values, plots/paper_*.csv) with gp/csv2dat.awk;
#   3. runs plots/gp/NAME.gp once per figure and format into OUT/NAME.FORMAT (written to a
#      temporary name first: a failed gnuplot never leaves a file behind);
#   4. draws the figure of every other `plot:` declaration of the plan's specs into OUT and
#      writes OUT/spec-figures.md (plots/spec-figures.sh; skipped with --only);
#   5. writes RESULTS/REPORT.md and RESULTS/REPORT.html (scripts/nsid-report.sh).
# A view without rows gives a figure that says "no data for ..." (and a message here), never
# a gnuplot error. Any gnuplot error, an empty or missing output file, a failed export is a
# failure: the message names the figure, format and file, and the exit status is 1.
# --table also writes OUT/NAME.table (gnuplot's `set table` of every plotted point; the tests
# count points per series), --strict fails on gnuplot warnings too.
# Defaults come from the environment Makefile.experiments exports: NSID_DB (the nsid-db
# binary), STORE (the database), RESULTS.
set -euo pipefail

plots=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$plots")
db=${STORE:-results/results.db}
nsid_db=${NSID_DB:-build/nsid-db}
out=$plots
data=$plots/data
results=${RESULTS:-results}
formats="png svg pdf"
table=0; strict=0; report=1; only=""

die() { echo "figures: $*" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/gp/draw.sh"
usage() { sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --db) db=$2; shift 2 ;;
        --nsid-db) nsid_db=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --data) data=$2; shift 2 ;;
        --results) results=$2; shift 2 ;;
        --formats) formats=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --table) table=1; shift ;;
        --strict) strict=1; shift ;;
        --no-report) report=0; shift ;;
        -h|--help) usage 0 ;;
        *) echo "figures: unknown argument '$1'" >&2; usage 2 ;;
    esac
done

# The figures: name, the view whose rows it needs (for the "no data" message), what it needs.
figures=(
    "fig1 plot_fig1_cells"
    "fig3 plot_fig3"
    "fig3_ablation plot_fig3_ablation"
    "fig4 plot_fig4"
    "fig5 plot_fig5"
    "sim_rf plot_rf_centres"
    "sim_gt plot_gt_neurons"
    "training plot_training_curve"
)
# Every view the figure scripts read.
views=(plot_fig1_cells plot_fig1_rows plot_fig1_cols plot_fig1_groups
       plot_fig3 plot_fig3_series plot_fig3_ablation plot_fig3_ablation_series
       plot_fig4 plot_fig4_series plot_fig5 plot_fig5_series
       plot_rf_run plot_rf_centres plot_rf_animals
       plot_chosen_run plot_training_curve plot_gt_neurons plot_gt_curves plot_gt_series)

# ---- checks -----------------------------------------------------------------------------------------
for tool in gnuplot sqlite3 awk; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/deps.sh installs it)"
done
[ -x "$nsid_db" ] || die "$nsid_db: no nsid-db binary (build first, or give --nsid-db / NSID_DB)"
[ -f "$db" ] || die "$db: no results store yet (run the plan and merge first)"
for f in $formats; do
    case "$f" in png|svg|pdf) ;; *) die "unknown format '$f' (png, svg, pdf)" ;; esac
done
[ "$table" = 1 ] && formats="$formats table"
mkdir -p "$out" "$data"

# ---- 1. the plot_* views ---------------------------------------------------------------------------------
# A store of an older nsid gets this one's schema and views first (nsid-db init upgrades in place).
if ! err=$("$nsid_db" init "$db" 2>&1); then die "$db: $err"; fi
for sql in "$plots/views.sql" "$plots/findings.sql"; do   # findings.sql: issue 10's checks (report_findings)
    [ -f "$sql" ] || continue
    if ! err=$(sqlite3 -bail -cmd '.timeout 30000' "$db" < "$sql" 2>&1); then
        die "$sql on $db: $err"
    fi
done

# ---- 2. export and convert ------------------------------------------------------------------------------
to_dat() {   # CSV -> gnuplot table; fails on malformed CSV
    awk -f "$plots/gp/csv2dat.awk" "$1" > "$2.tmp" && mv "$2.tmp" "$2" || { rm -f "$2.tmp"; die "$1: cannot convert"; }
}
for v in "${views[@]}"; do
    if ! err=$("$nsid_db" export "$v" --csv "$data/$v.csv" --db "$db" 2>&1); then
        die "export $v from $db: $err"
    fi
    to_dat "$data/$v.csv" "$data/$v.dat"
done
for f in "$plots"/paper_*.csv; do
    to_dat "$f" "$data/$(basename "$f" .csv).dat"
done
rows() { echo $(( $(wc -l < "$data/$1.dat") - 1 )); }

# ---- 3. draw --------------------------------------------------------------------------------------------
n_drawn=0; n_empty=0
for entry in "${figures[@]}"; do
    read -r name view <<< "$entry"
    if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then continue; fi
    if [ "$(rows "$view")" -le 0 ]; then
        echo "figures: $name: no data (view $view has no rows): drawing a 'no data' figure" >&2
        n_empty=$((n_empty + 1))
    fi
    for fmt in $formats; do
        gp_draw figures "$name ($fmt)" "$out/$name.$fmt" "$out/.$name.$fmt.tmp" "$plots/gp/$name.gp" \
            "gpdir='$plots/gp'; data='$data'; fmt='$fmt'"
    done
    n_drawn=$((n_drawn + 1))
done
echo "figures: $n_drawn figures ($formats) in $out, $n_empty without data" >&2

# ---- 4. the figures of every other plot: declaration (user specs) -----------------------------------------
if [ -z "$only" ]; then
    spec_args=(--db "$db" --nsid-db "$nsid_db" --out "$out" --formats "${formats% table}" --report-dir "$results"
               --data "$data")
    [ "$table" = 1 ] && spec_args+=(--table)
    [ "$strict" = 1 ] && spec_args+=(--strict)
    bash "$plots/spec-figures.sh" "${spec_args[@]}"
fi

# ---- 5. the report ---------------------------------------------------------------------------------------
if [ "$report" = 1 ]; then
    bash "$root/scripts/nsid-report.sh" --db "$db" --nsid-db "$nsid_db" --figures "$out" --results "$results"
fi
