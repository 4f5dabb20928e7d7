#!/usr/bin/env bash
# scripts/nsid-report.sh - the reproduction report a person reads first: RESULTS/REPORT.md
# and RESULTS/REPORT.html (the same text, the PNG figures embedded).
#
#   scripts/nsid-report.sh --db results/results.db --figures plots [--results results]
#                          [--nsid-db build/nsid-db]
#
# Every number comes from a SQL view through `nsid-db query` (plots/views.sql must have been
# applied, as plots/figures.sh does): what was run (plot_report_info), one sentence per figure
# on what its data show (plot_report_figures) and the headline ratios next to the paper's
# (plot_report_headline over the store's `headline` view). A view named report_findings
# (columns finding, holds, detail), if a later stage defines one, is shown as a table too.
set -euo pipefail

db=${STORE:-results/results.db}
nsid_db=${NSID_DB:-build/nsid-db}
figdir=plots
results=${RESULTS:-results}
while [ $# -gt 0 ]; do
    case "$1" in
        --db) db=$2; shift 2 ;;
        --nsid-db) nsid_db=$2; shift 2 ;;
        --figures) figdir=$2; shift 2 ;;
        --results) results=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "nsid-report: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
die() { echo "nsid-report: $*" >&2; exit 1; }
[ -x "$nsid_db" ] || die "$nsid_db: no nsid-db binary"
[ -f "$db" ] || die "$db: no results store"
mkdir -p "$results"
md=$results/REPORT.md
html=$results/REPORT.html

# One query as tab-separated rows without the header line (NULL is an empty field).
query() {
    local out
    out=$("$nsid_db" query "$1" --db "$db") || die "query failed: $1"
    printf '%s\n' "$out" | tail -n +2
}

# The figures in report order: name, title, what the figure shows (the first sentence).
figures() {
    cat <<'EOF'
fig1	Fig. 1: the datasets	The scans of the simulated animals as a matrix of neuron sets (rows: the matched neurons of one animal, or one scan) by image sets (columns), coloured by the dataset groups that use them (docs/paper.md §7.1).
fig3	Fig. 3: readout comparison	Direct training on the four matched 4-S scans: fraction oracle against the number of training images (total; top axis per scan) for the Gaussian and factorized readouts with and without feature sharing, one dash pattern per number of neurons, 95% bands across neuron-subset seeds, the paper's values faint (docs/paper.md §7.3).
fig3_ablation	Fig. 3 ablation: cortex coordinates × feature sharing	The Gaussian readout with and without the cortical-coordinate predictor of its positions and with and without feature sharing, trained directly on 4-S (docs/paper.md §7.6).
fig4	Fig. 4: is it the core or the readout?	Within 4-S on held-out neurons, for the factorized (A) and Gaussian (B) readout: direct training, a core trained with few images and a readout with all (diff-core/best-readout), and the best core with a readout trained on few images (best-core/diff-readout) (docs/paper.md §7.4).
fig5	Fig. 5: transfer to a new animal	Fraction oracle on the evaluation scan against its number of training images: direct training against frozen cores trained on other data (11-S, 4-S, 1-S), VGG16 and random cores, with only the Gaussian readout trained; the paper's curves faint in the same colours (docs/paper.md §7.5).
sim_rf	Simulated data: receptive-field centres	Per neuron, the learned Gaussian readout position (mapped into the simulator's pixels by the evaluation's affine fit) against the true receptive-field centre, per coordinate and coloured by animal, for a selected run with positions learned per neuron (with the cortex predictor the affine fit would match any positions to the truth), else the one with the most animals.
sim_gt	Simulated data: model vs ground truth	Left, per neuron of the chosen run (direct training on the evaluation scan with the most images), the correlation of the prediction with the simulator's noise-free rates against its correlation with single noisy trials; right, the mean correlation with the true rates over Fig. 5's runs.
training	Training curve	Validation correlation per epoch of the chosen run and its learning rate, whose drops mark the early-stopping rounds of docs/paper.md §4.4.
EOF
}

# ---- gather ---------------------------------------------------------------------------------------------
info=$(query "SELECT key, value FROM plot_report_info ORDER BY ord")
sentences=$(query "SELECT figure, sentence FROM plot_report_figures")
headline=$(query "SELECT name, description, ours_text, paper_text FROM plot_report_headline")
findings=""
if [ -n "$(query "SELECT name FROM sqlite_master WHERE type = 'view' AND name = 'report_findings'")" ]; then
    findings=$(query "SELECT finding, CASE WHEN holds THEN 'yes' WHEN holds IS NULL THEN 'no data' ELSE 'NO' END,
                             COALESCE(detail, '') FROM report_findings")
fi
# The checks are issue 10's, on simulated animals; where one says NO, the measured cause (simulator,
# spec or model size) is in docs/reproduction.md, kept with the profile that produced it.
findings_note="The checks of the paper's findings (plots/findings.sql). A NO is a finding these runs do not show; docs/reproduction.md gives its cause as measured on the quick profile: what the simulator, the spec or the model size does to it."

fig_rel=$(realpath -m --relative-to="$results" "$figdir")

# ---- markdown -------------------------------------------------------------------------------------------
write_md() {
    echo "# nsid: reproduction report"
    echo
    echo "Lurz et al., ICLR 2021, \"Generalization in data-driven models of primary visual cortex\", reproduced"
    echo "on simulated animals. Every number below comes from a SQL view of \`$(basename "$db")\`"
    echo "(\`plots/views.sql\`, \`src/exp/store_sql.c\`); regenerate with \`make -f Makefile.experiments figures\`."
    echo
    echo "## What was run"
    echo
    printf '%s\n' "$info" | awk -F'\t' 'NF { printf "- **%s**: %s\n", $1, ($2 == "" ? "-" : $2) }'
    echo
    echo "## Headline ratios"
    echo
    echo "| ratio | ours | paper | what |"
    echo "|---|---|---|---|"
    printf '%s\n' "$headline" | awk -F'\t' 'NF { printf "| %s | %s | %s | %s |\n", $1, $3, $4, $2 }'
    echo
    echo "The paper's values are those of its abstract and digitised figures (docs/paper.md §0); ours use this run's"
    echo "largest data sizes, which are smaller than the paper's in the smoke and quick profiles."
    if [ -n "$findings" ]; then
        echo
        echo "## Findings"
        echo
        echo "| finding | holds | detail |"
        echo "|---|---|---|"
        printf '%s\n' "$findings" | awk -F'\t' 'NF { printf "| %s | %s | %s |\n", $1, $2, $3 }'
        echo
        echo "$findings_note"
    fi
    echo
    echo "## Figures"
    while IFS=$'\t' read -r name title what; do
        local said
        said=$(printf '%s\n' "$sentences" | awk -F'\t' -v n="$name" '$1 == n { print $2 }')
        echo
        echo "### $title"
        echo
        echo "$what ${said:-No run of this figure has finished yet, so it shows a \"no data\" note.}"
        echo
        if [ -f "$figdir/$name.png" ]; then
            echo "![$title]($fig_rel/$name.png)"
            echo
            echo "Also as [SVG]($fig_rel/$name.svg) and [PDF]($fig_rel/$name.pdf)."
        else
            echo "(not drawn: $figdir/$name.png is missing)"
        fi
    done < <(figures)
}

# ---- html (the same content; PNGs embedded as data URIs) ---------------------------------------------------
esc() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'; }
write_html() {
    cat <<'EOF'
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>nsid: reproduction report</title>
<style>
body { font-family: "DejaVu Sans", sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1em 0; } th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } img { max-width: 100%; border: 1px solid #eee; }
code { background: #f4f4f4; padding: 0 .2em; }
</style></head><body>
<h1>nsid: reproduction report</h1>
<p>Lurz et al., ICLR 2021, "Generalization in data-driven models of primary visual cortex", reproduced on
simulated animals. Every number below comes from a SQL view of the results store
(<code>plots/views.sql</code>, <code>src/exp/store_sql.c</code>).</p>
<h2>What was run</h2>
<ul>
EOF
    printf '%s\n' "$info" | esc | awk -F'\t' 'NF { printf "<li><b>%s</b>: %s</li>\n", $1, ($2 == "" ? "-" : $2) }'
    echo "</ul>"
    echo "<h2>Headline ratios</h2>"
    echo "<table><tr><th>ratio</th><th>ours</th><th>paper</th><th>what</th></tr>"
    printf '%s\n' "$headline" | esc | awk -F'\t' 'NF { printf "<tr><td>%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td>%s</td></tr>\n", $1, $3, $4, $2 }'
    echo "</table>"
    echo "<p>The paper's values are those of its abstract and digitised figures (docs/paper.md §0); ours use this run's"
    echo "largest data sizes, which are smaller than the paper's in the smoke and quick profiles.</p>"
    if [ -n "$findings" ]; then
        echo "<h2>Findings</h2><table><tr><th>finding</th><th>holds</th><th>detail</th></tr>"
        printf '%s\n' "$findings" | esc | awk -F'\t' 'NF { printf "<tr><td>%s</td><td>%s</td><td>%s</td></tr>\n", $1, $2, $3 }'
        echo "</table>"
        echo "<p>$findings_note</p>"
    fi
    echo "<h2>Figures</h2>"
    while IFS=$'\t' read -r name title what; do
        local said
        said=$(printf '%s\n' "$sentences" | awk -F'\t' -v n="$name" '$1 == n { print $2 }')
        printf '<h3>%s</h3>\n<p>%s %s</p>\n' "$(printf '%s' "$title" | esc)" "$(printf '%s' "$what" | esc)" \
               "$(printf '%s' "${said:-No run of this figure has finished yet, so it shows a \"no data\" note.}" | esc)"
        if [ -f "$figdir/$name.png" ]; then
            printf '<p><img alt="%s" src="data:image/png;base64,' "$(printf '%s' "$title" | esc)"
            base64 -w 0 "$figdir/$name.png"
            printf '"></p>\n'
        else
            echo "<p>(not drawn: $figdir/$name.png is missing)</p>"
        fi
    done < <(figures)
    echo "</body></html>"
}

write_md > "$md.tmp" && mv "$md.tmp" "$md"
write_html > "$html.tmp" && mv "$html.tmp" "$html"
echo "nsid-report: wrote $md and $html" >&2
