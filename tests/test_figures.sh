#!/usr/bin/env bash
# test_figures.sh - the figures and the report (issue 7) on a small synthetic results store
# (TEST DATA written by tests/test_figures_db.c through the store API, not model results):
#   - every figure in every format exists, is non-empty and of its format;
#   - every series a view returns is drawn with the number of points the view says (counted in
#     gnuplot's `set table` output), and with the numbers the synthetic data were built with;
#   - the report's headline ratios equal what the headline view returns; the HTML embeds the PNGs;
#   - the paper's values in plots/paper_*.csv equal the store's paper_values table;
#   - an empty store gives "no data" figures and report, not errors;
#   - a gnuplot error, a missing store and a malformed CSV fail with a message and leave no file;
#   - plots/figures.mk redraws only when the merged results change.
set -euo pipefail

src=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${NSID_BIN:-$src/build}
nsid_db=$bin/nsid-db
tmp=$(mktemp -d /tmp/nsid_figures_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0; passes=0
check() {   # check "what" command...
    local what=$1; shift
    if "$@"; then passes=$((passes + 1)); else fails=$((fails + 1)); echo "FAIL: $what" >&2; fi
}
q() { "$nsid_db" query "$1" --db "$2" | tail -n +2; }

# ---- a store with synthetic runs, drawn in every format --------------------------------------------------
"$bin/test_figures_db" --write "$tmp/results.db" >/dev/null
bash "$src/plots/figures.sh" --db "$tmp/results.db" --nsid-db "$nsid_db" --out "$tmp/fig" --data "$tmp/data" \
    --results "$tmp/results" --table --strict 2> "$tmp/log" || { cat "$tmp/log" >&2; exit 1; }

names="fig1 fig3 fig3_ablation fig4 fig5 sim_rf sim_gt training"
for n in $names; do
    for f in png svg pdf table; do check "$n.$f exists and is not empty" test -s "$tmp/fig/$n.$f"; done
    check "$n.png is a PNG" bash -c "head -c 8 '$tmp/fig/$n.png' | od -An -tx1 | grep -q '89 50 4e 47'"
    check "$n.pdf is a PDF" bash -c "head -c 5 '$tmp/fig/$n.pdf' | grep -q '%PDF-'"
    check "$n.svg is an SVG" grep -q '<svg' "$tmp/fig/$n.svg"
    check "$n has data" bash -c "! grep -q '# no data' '$tmp/fig/$n.table'"
done
check "no temporary files left" bash -c "[ -z \"\$(ls -A '$tmp/fig' | grep tmp)\" ]"

# Points per curve title in a table file: "title<TAB>points" (only points inside the ranges).
points() {
    awk '/^# Curve title: /{ t = substr($0, 16); gsub(/"/, "", t); n[t] += 0; next }
         /^#/ || NF == 0 { next }
         $NF == "i" || $NF == "o" { n[t]++ }
         END { for (k in n) printf "%s\t%d\n", k, n[k] }' "$1" | sort
}
got() { points "$tmp/fig/$1.table" | awk -F'\t' -v t="$2" '$1 == t { print $2; f = 1 } END { if (!f) print "none" }'; }
expect() {   # expect FIGURE TITLE N
    local g; g=$(got "$1" "$2")
    check "$1: '$2' has $3 points (got $g)" test "$g" = "$3"
}

# Every series of the curve figures: as many points as the series view says, bands likewise.
for fig in fig3 fig3_ablation fig4 fig5; do
    while IFS=$'\t' read -r series n_points n_band; do
        expect "$fig" "series $series" "$n_points"
        [ "$n_band" -gt 0 ] && expect "$fig" "band $series" "$n_band"
    done < <(q "SELECT series, n_points, n_band FROM plot_${fig}_series" "$tmp/results.db")
    n_series=$(q "SELECT COUNT(*) FROM plot_${fig}_series" "$tmp/results.db")
    drawn=$(points "$tmp/fig/$fig.table" | grep -c '^series ' || true)
    check "$fig: $n_series series drawn (got $drawn)" test "$drawn" = "$n_series"
done
# ... and the shapes the synthetic store was built with (tests/test_figures_db.c).
check "fig3: 6 series" test "$(points "$tmp/fig/fig3.table" | grep -c '^series ')" = 6
for s in 1 2 3 4 5 6; do expect fig3 "series $s" 3; expect fig3 "band $s" 3; done
expect fig3 "paper 1" 6          # Gaussian w/ f-s, 3,597 neurons: 6 digitised points
expect fig3 "paper 5" 6          # Factorized w/o f-s
expect fig3 "paper 3" none       # Gaussian w/o f-s: not digitised
for s in 1 2 3 4; do expect fig3_ablation "series $s" 2; expect fig3_ablation "band $s" none; done
for s in 1 2 3 4 5 6; do expect fig4 "series $s" 3; done
expect fig4 "paper 1" 6; expect fig4 "paper 4" 6
expect fig5 "series 1" 4; expect fig5 "band 1" 4
for s in 2 3 4 5 6 7 8 9; do expect fig5 "series $s" 4; expect fig5 "paper $s" 6; done
check "fig5: 9 paper curves (no VGG16 run, so no VGG16 reference)" \
    test "$(points "$tmp/fig/fig5.table" | grep -c '^paper ')" = 9
expect fig1 cells "$(q "SELECT COUNT(*) FROM plot_fig1_cells" "$tmp/results.db")"
expect fig1 cells 21
expect training "validation correlation" 13
expect training "learning rate (right)" 13
expect sim_gt neurons 40
for s in 1 2 3 4 5 6 7 8 9; do expect sim_gt "series $s" 4; done
while IFS=$'\t' read -r a n; do expect sim_rf "animal $a" $((2 * n)); done \
    < <(q "SELECT animal_index, n FROM plot_rf_animals" "$tmp/results.db")   # two panels (x, y)

# ---- the report --------------------------------------------------------------------------------------------
md=$tmp/results/REPORT.md; html=$tmp/results/REPORT.html
check "REPORT.md written" test -s "$md"
check "REPORT.html written" test -s "$html"
row_starts() { [[ "$1" == "$2"* ]]; }
while IFS=$'\t' read -r name ours paper; do
    want=$(awk -v v="$ours" -v n="$name" 'BEGIN { if (v == "null") print "no data";
           else if (n ~ /^params/) print (v == int(v) ? sprintf("%d", v) : sprintf("%.1f", v));
           else printf "%.3f\n", v }')
    wantp=$(awk -v v="$paper" -v n="$name" 'BEGIN { if (n ~ /^params/) printf "%d\n", v; else printf "%.3f\n", v }')
    row=$(grep "^| $name |" "$md" || true)
    check "report: $name = $want, paper $wantp (row: $row)" row_starts "$row" "| $name | $want | $wantp |"
    check "report.html: $name" grep -q "<td>$name</td><td class=\"num\">$want</td><td class=\"num\">$wantp</td>" "$html"
done < <(q "SELECT name, COALESCE(ours, 'null'), paper FROM headline" "$tmp/results.db")
check "report: 8 headline rows" test "$(grep -c '^| [a-z0-9_]* | [0-9n]' "$md")" = 8
check "report: the missing VGG16 run says no data" grep -q '^| transfer_11s_vs_vgg16 | no data | 1.330 |' "$md"
check "report: runs counted" grep -q '178 planned: 176 done, 1 failed, 0 running, 1 not started' "$md"
check "report: code version" grep -q '\*\*code version\*\*: 0123456789ab' "$md"
check "report: profile" grep -q '\*\*profile\*\*: test' "$md"
check "report: 8 figures linked" test "$(grep -c '^!\[.*\](../fig/[a-z0-9_]*\.png)$' "$md")" = 8
check "report.html: 8 PNGs embedded" test "$(grep -o 'src="data:image/png;base64,iVBORw0KGgo' "$html" | wc -l)" = 8
check "report: a data sentence for Fig. 5" grep -q 'at 1000 images: direct 0.608, 11-S 0.839' "$md"

# ---- the committed paper values equal the store's --------------------------------------------------------
for f in fig3 fig3_ablation fig4 fig5; do
    a=$(sqlite3 :memory: -cmd ".import --csv $src/plots/paper_$f.csv t" \
            "SELECT figure || '|' || panel || '|' || curve || '|' || style || '|' || x || '|' || value FROM t" | sort)
    b=$(q "SELECT figure || '|' || panel || '|' || curve || '|' || style || '|' || CAST(x AS INTEGER) || '|' || value
           FROM paper_values WHERE figure = '$f'" "$tmp/results.db" | sort)
    check "plots/paper_$f.csv equals the store's paper_values" test "$a" = "$b"
    check "plots/paper_$f.csv is not empty" test "$(printf '%s\n' "$a" | wc -l)" -ge 16
done

# ---- an empty store: "no data" figures and report ---------------------------------------------------------
"$nsid_db" init "$tmp/empty.db"
bash "$src/plots/figures.sh" --db "$tmp/empty.db" --nsid-db "$nsid_db" --out "$tmp/efig" --data "$tmp/edata" \
    --results "$tmp/eresults" --formats png --table --strict 2> "$tmp/elog" || { cat "$tmp/elog" >&2; exit 1; }
for n in $names; do
    check "empty: $n.png drawn" test -s "$tmp/efig/$n.png"
    check "empty: $n.table says no data" grep -q '^# no data for' "$tmp/efig/$n.table"
done
check "empty: a message per figure" test "$(grep -c 'no data (view plot_' "$tmp/elog")" = 8
check "empty: report says so for every figure" \
    test "$(grep -c 'No run of this figure has finished yet' "$tmp/eresults/REPORT.md")" = 8
check "empty: no ratio" test "$(grep -c '^| [a-z0-9_]* | no data |' "$tmp/eresults/REPORT.md")" = 8
check "empty: no finding, and no detail made of empty numbers" \
    test "$(grep -c '^| [A-Z].* | no data |  |  |$' "$tmp/eresults/REPORT.md")" = 9

# ---- one panel without data: the other is drawn, the empty one says so ------------------------------------
cp "$tmp/results.db" "$tmp/partial.db"
sqlite3 "$tmp/partial.db" "DELETE FROM plan_runs WHERE figure = 'fig4' AND panel = 'gaussian'"
bash "$src/plots/figures.sh" --db "$tmp/partial.db" --nsid-db "$nsid_db" --out "$tmp/pfig" --data "$tmp/pdata" \
    --formats png --table --strict --only fig4 --no-report 2> "$tmp/plog" || { cat "$tmp/plog" >&2; exit 1; }
check "partial: fig4.png drawn" test -s "$tmp/pfig/fig4.png"
for s in 1 2 3; do
    check "partial: panel A series $s has 3 points" test "$(points "$tmp/pfig/fig4.table" | awk -F'\t' -v t="series $s" '$1 == t { print $2 }')" = 3
done
check "partial: panel B says no data" grep -q '^# no data for B: Gaussian readout' "$tmp/pfig/fig4.table"

# ---- failures are failures ------------------------------------------------------------------------------------
mkdir -p "$tmp/bad/plots/gp" "$tmp/bad/scripts"
cp "$src"/plots/*.sh "$src"/plots/*.sql "$src"/plots/*.csv "$tmp/bad/plots/"
cp "$src"/plots/gp/* "$tmp/bad/plots/gp/"
cp "$src/scripts/nsid-report.sh" "$tmp/bad/scripts/"
echo "set no_such_option" >> "$tmp/bad/plots/gp/fig3.gp"
if bash "$tmp/bad/plots/figures.sh" --db "$tmp/results.db" --nsid-db "$nsid_db" --out "$tmp/bfig" \
        --data "$tmp/bdata" --results "$tmp/bresults" --formats png --only fig3 2> "$tmp/blog"; then
    check "a gnuplot error fails the figures" false
else
    check "a gnuplot error names the figure" grep -q 'fig3 (png): gnuplot failed' "$tmp/blog"
    check "a failed figure leaves no file" bash -c "[ -z \"\$(ls -A '$tmp/bfig')\" ]"
fi
if bash "$src/plots/figures.sh" --db "$tmp/missing.db" --nsid-db "$nsid_db" --out "$tmp/mfig" 2> "$tmp/mlog"; then
    check "a missing store fails" false
else
    check "a missing store is named" grep -q 'missing.db: no results store yet' "$tmp/mlog"
fi
printf 'a,b\n1,"open\n' > "$tmp/bad.csv"
check "an unclosed quote fails csv2dat" bash -c "! awk -f '$src/plots/gp/csv2dat.awk' '$tmp/bad.csv' >/dev/null 2>&1"
printf 'a,b\n1,2,3\n' > "$tmp/bad2.csv"
check "a ragged row fails csv2dat" bash -c "! awk -f '$src/plots/gp/csv2dat.awk' '$tmp/bad2.csv' >/dev/null 2>&1"
printf 'a,b,c\n1,"x, ""y""",\n' > "$tmp/ok.csv"
check "csv2dat keeps a quoted comma and marks NULL" \
    test "$(awk -f "$src/plots/gp/csv2dat.awk" "$tmp/ok.csv" | tail -1)" = "1 \"x, 'y'\" ?"

# ---- make: redraw only when the merged results change ---------------------------------------------------------
mk() { make -s -f "$src/plots/figures.mk" STORE="$tmp/results.db" NSID_DB="$nsid_db" RESULTS="$tmp/mres" \
            MERGED="$tmp/merged.stamp" FIG_OUT="$tmp/mfig" FIG_DATA="$tmp/mdata" FIG_FORMATS=png "$@"; }
touch -d '-1 hour' "$tmp/merged.stamp"
mk 2> /dev/null
check "make draws" test -s "$tmp/mfig/fig5.png" -a -s "$tmp/mres/REPORT.md"
check "make -q after success: nothing to do" mk -q
touch "$tmp/merged.stamp"
check "make -q after a merge: figures out of date" bash -c "! make -s -q -f '$src/plots/figures.mk' STORE='$tmp/results.db' \
    NSID_DB='$nsid_db' RESULTS='$tmp/mres' MERGED='$tmp/merged.stamp' FIG_OUT='$tmp/mfig' FIG_DATA='$tmp/mdata' FIG_FORMATS=png"

echo "figures: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
