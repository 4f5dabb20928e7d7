#!/usr/bin/env bash
# plots/spec-figures.sh - draw the figure of every spec's `plot:` declaration that has no paper
# script of its own, and write a report fragment describing them (docs/figures.md).
#
#   plots/spec-figures.sh --db STORE --nsid-db NSID_DB --out DIR [--formats "png svg pdf"]
#                         [--report-dir R] [--data DATA] [--table] [--strict]
#
#   DIR/<figure>.<fmt>    per declared figure (any name but fig3, fig3_ablation, fig4, fig5, which
#                         plots/figures.sh draws with their own scripts) and format: the figure's
#                         metric (plot.y, default fraction_oracle) against plot.x, one curve per
#                         plot.curve, the mean over the runs of a point that remain after
#                         best-by-validation selection, and its 95% interval from Student's t with
#                         n - 1 degrees of freedom (none where n = 1);
#   DIR/spec-figures.md   per figure a "### <figure>" heading, one sentence on what is drawn, the
#                         image (linked relative to R, default DIR) and a table of its points
#                         (curve, x, mean, interval, n). No figure declared: an empty file.
# The store gets the plot_* views of plots/views.sql (re-applied, as figures.sh does; an older
# store's schema is brought up to date first with `nsid-db init`). DATA (default: a temporary
# folder, removed at exit) holds the exported views. A file is written under a temporary name and
# renamed when complete: a failed gnuplot never leaves a figure or fragment behind. --table also
# writes DIR/<figure>.table (gnuplot's `set table`, for the tests); --strict fails on gnuplot
# warnings. Exit 0, or 1 with one message naming what failed.
set -euo pipefail

plots=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
db=${STORE:-}
nsid_db=${NSID_DB:-}
out=""
formats="png svg pdf"
report_dir=""
data=""
table=0; strict=0

die() { echo "spec-figures: $*" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/gp/draw.sh"
usage() { sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
need() { [ $# -ge 2 ] || { echo "spec-figures: option $1 needs a value" >&2; usage 2; }; }

while [ $# -gt 0 ]; do
    case "$1" in
        --db) need "$@"; db=$2; shift 2 ;;
        --nsid-db) need "$@"; nsid_db=$2; shift 2 ;;
        --out) need "$@"; out=$2; shift 2 ;;
        --formats) need "$@"; formats=$2; shift 2 ;;
        --report-dir) need "$@"; report_dir=$2; shift 2 ;;
        --data) need "$@"; data=$2; shift 2 ;;
        --table) table=1; shift ;;
        --strict) strict=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "spec-figures: unknown argument '$1'" >&2; usage 2 ;;
    esac
done

# ---- checks -----------------------------------------------------------------------------------------
[ -n "$db" ] || { echo "spec-figures: --db STORE is required" >&2; usage 2; }
[ -n "$nsid_db" ] || { echo "spec-figures: --nsid-db NSID_DB is required" >&2; usage 2; }
[ -n "$out" ] || { echo "spec-figures: --out DIR is required" >&2; usage 2; }
for tool in gnuplot sqlite3 awk realpath; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/deps.sh installs it)"
done
[ -x "$nsid_db" ] || die "$nsid_db: no nsid-db binary (build first)"
[ -f "$db" ] || die "$db: no results store yet (run the plan and merge first)"
[ -n "$formats" ] || die "--formats is empty (png, svg, pdf)"
for f in $formats; do
    case "$f" in png|svg|pdf) ;; *) die "unknown format '$f' (png, svg, pdf)" ;; esac
done
[ -n "$report_dir" ] || report_dir=$out
mkdir -p "$out" 2>/dev/null || die "$out: cannot create the folder"
[ -w "$out" ] || die "$out: folder not writable"
tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/nsid_spec_figures_XXXXXX")
trap 'rm -rf "$tmpdir"; rm -f "$out"/.spec-figures.md.tmp "$out"/.*.spec.tmp' EXIT
[ -n "$data" ] || data=$tmpdir/data
mkdir -p "$data" || die "$data: cannot create the folder"
draw_formats=$formats
[ "$table" = 1 ] && draw_formats="$draw_formats table"

# ---- 1. the views -----------------------------------------------------------------------------------------
if ! err=$("$nsid_db" init "$db" 2>&1); then die "$db: $err"; fi
if ! err=$(sqlite3 -bail -cmd '.timeout 30000' "$db" < "$plots/views.sql" 2>&1); then
    die "$plots/views.sql on $db: $err"
fi

# One query: rows without a header, fields separated by US (0x1f, not whitespace, so that empty
# fields survive `read`), NULL an empty field. Call as var=$(query ...): a failure ends the script.
US=$'\x1f'
sq() { printf '%s' "${1//\'/\'\'}"; }   # a string inside SQL quotes
query() {
    local res
    res=$(sqlite3 -batch -noheader -bail -separator "$US" -cmd '.timeout 30000' "$db" "$1" 2>&1) ||
        die "query on $db failed: $res"
    printf '%s' "$res"
}

frag=$out/spec-figures.md
frag_tmp=$out/.spec-figures.md.tmp
fig_list=$(query "SELECT figure FROM plot_spec_figures ORDER BY figure")
figures=()
[ -z "$fig_list" ] || mapfile -t figures <<< "$fig_list"
if [ "${#figures[@]}" -eq 0 ]; then
    : > "$frag_tmp" && mv "$frag_tmp" "$frag"
    echo "spec-figures: no figure declared besides the paper's: empty $frag" >&2
    exit 0
fi

# ---- 2. export and convert -------------------------------------------------------------------------------
for v in plot_spec_points plot_spec_series plot_spec_info; do
    if ! err=$("$nsid_db" export "$v" --csv "$data/$v.csv" --db "$db" 2>&1); then
        die "export $v from $db: $err"
    fi
    awk -f "$plots/gp/csv2dat.awk" "$data/$v.csv" > "$data/$v.dat.tmp" && mv "$data/$v.dat.tmp" "$data/$v.dat" ||
        die "$data/$v.csv: cannot convert"
done

# Why figure $1 has no point ('' if it has points): no finished run, no x, or no value of its metric.
empty_reason() {
    local r
    r=$(query "SELECT CASE WHEN n_points > 0 THEN ''
                           WHEN n_runs = 0 THEN 'no run of this figure has finished yet'
                           WHEN n_runs_x = 0 THEN printf('its finished runs (%d) have no x (plot.x)', n_runs)
                           ELSE printf('its finished runs (%d) have no %s score (choose another plot.y)', n_runs, metric)
                      END FROM plot_spec_info WHERE figure = '$(sq "$1")'")
    printf '%s' "$r"
}

# ---- 3. draw --------------------------------------------------------------------------------------------
for fig in "${figures[@]}"; do
    case "$fig" in *[!A-Za-z0-9_.-]*|'') die "figure name '$fig' is not [A-Za-z0-9_.-]+" ;; esac
    panels=$(query "SELECT MAX(1, COUNT(DISTINCT panel)) FROM plot_spec_points WHERE figure = '$fig'")
    [ -n "$panels" ] || die "$fig: no panel count"
    why=$(empty_reason "$fig")
    for fmt in $draw_formats; do
        gp_draw spec-figures "$fig ($fmt)" "$out/$fig.$fmt" "$out/.$fig.$fmt.spec.tmp" "$plots/gp/spec.gp" \
            "gpdir='$plots/gp'; data='$data'; fmt='$fmt'; figure='$fig'; panels=$panels; why='$why'"
    done
done

# ---- 4. the report fragment ---------------------------------------------------------------------------
img_fmt=""
for f in png svg pdf; do
    if [[ " $formats " == *" $f "* ]]; then img_fmt=$f; break; fi
done
md_cell() { local s=${1//|/\\|}; printf '%s' "$s"; }

write_fragment() {
    local fig metric_label metric_what x_label experiments spec n_points n_curves n_panels n_styles n_min n_max
    local n_int curves has_panel has_style rel first=1 info points
    for fig in "${figures[@]}"; do
        info=$(query "SELECT i.metric_label, i.metric_what, i.x_label,
                i.experiments, i.spec, i.n_points, i.n_curves, i.n_panels, i.n_styles, COALESCE(i.n_min, 0),
                COALESCE(i.n_max, 0), COALESCE(i.n_intervals, 0), COALESCE(i.curves, ''),
                COALESCE((SELECT MAX(panel <> '') FROM plot_spec_points p WHERE p.figure = i.figure), 0),
                COALESCE((SELECT MAX(style <> '') FROM plot_spec_points p WHERE p.figure = i.figure), 0)
                FROM plot_spec_info i WHERE i.figure = '$(sq "$fig")'")
        IFS=$US read -r metric_label metric_what x_label experiments spec n_points n_curves n_panels n_styles \
            n_min n_max n_int curves has_panel has_style <<< "$info"
        rel=$(realpath -m --relative-to="$report_dir" "$out/$fig.$img_fmt")
        [ "$first" = 1 ] || echo
        first=0
        echo "### $fig"
        echo
        if [ "$n_points" -eq 0 ]; then
            why=$(empty_reason "$fig")
            echo "The ${metric_label} against \`${x_label}\` (declared by ${experiments} at \`${spec}\`): nothing to draw, ${why}."
        else
            local runs parts=""
            if [ "$n_min" = "$n_max" ]; then runs="n = $n_min run$([ "$n_min" = 1 ] || echo s)"
            else runs="n = $n_min to $n_max runs"; fi
            [ "$has_panel" = 1 ] && parts=", one panel per panel label ($n_panels)"
            [ "$has_style" = 1 ] && parts="$parts, one dash pattern per style ($n_styles)"
            local interval
            if [ "$n_int" -eq 0 ]; then
                interval="no point has more than one run, so no interval is drawn"
            elif [ "$n_min" -le 1 ]; then
                interval="the bars are the 95% interval of the mean, mean ± t(0.975, n−1)·sd/√n with Student's t for n−1 degrees of freedom; points with one run have none"
            else
                interval="the bars are the 95% interval of the mean, mean ± t(0.975, n−1)·sd/√n with Student's t for n−1 degrees of freedom"
            fi
            echo "The ${metric_label} (${metric_what}) against \`${x_label}\`, one curve per curve label ($n_curves: $(md_cell "$curves"))${parts}; each point is the mean over the runs (seeds) that remain after best-by-validation selection, $runs per point; ${interval} (declared by ${experiments} at \`${spec}\`)."
        fi
        echo
        if [ "$img_fmt" = pdf ]; then echo "[$fig.pdf]($rel)"; else echo "![$fig]($rel)"; fi
        [ "$n_points" -eq 0 ] && continue
        echo
        local head="" rule=""
        [ "$has_panel" = 1 ] && { head="$head panel |"; rule="$rule---|"; }
        head="$head curve |"; rule="$rule---|"
        [ "$has_style" = 1 ] && { head="$head style |"; rule="$rule---|"; }
        echo "|$head x | mean | 95% interval | n |"
        echo "|$rule---:|---:|---|---:|"
        local panel curve style x mean lo hi n row
        points=$(query "SELECT panel, curve, style, printf('%g', x), printf('%.4f', mean),
                        CASE WHEN ci_lo IS NOT NULL THEN printf('%.4f', ci_lo) END,
                        CASE WHEN ci_hi IS NOT NULL THEN printf('%.4f', ci_hi) END, n
                        FROM plot_spec_points WHERE figure = '$(sq "$fig")' ORDER BY series, x")
        while IFS=$US read -r panel curve style x mean lo hi n; do
            row=""
            [ "$has_panel" = 1 ] && row="$row $(md_cell "$panel") |"
            row="$row $(md_cell "$curve") |"
            [ "$has_style" = 1 ] && row="$row $(md_cell "$style") |"
            if [ -n "$lo" ]; then
                echo "|$row $x | $mean | [$lo, $hi] | $n |"
            else
                echo "|$row $x | $mean | none (n = $n) | $n |"
            fi
        done <<< "$points"
    done
}
write_fragment > "$frag_tmp"   # (not in an || list: set -e must end the script on a failed query)
mv "$frag_tmp" "$frag"
echo "spec-figures: ${#figures[@]} figure(s) ($formats) and $frag" >&2
