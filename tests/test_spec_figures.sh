#!/usr/bin/env bash
# test_spec_figures.sh - figures of any spec's plot: declaration (plots/spec-figures.sh, issue 16
# item 5), on stores planned by the real nsid-plan with made-up scores (TEST DATA, not results):
#   - the store's Student t quantiles (view student_t975, and the interval figure_summary
#     computes for n = 2 .. 121 runs) equal a printed reference table;
#   - a user figure (two curves x two x values, three seeds per point, one point with a single
#     finished run) is drawn in every format, with the points and intervals of its data;
#   - the report fragment names the figure, the metric, x, and every point with the mean and
#     interval computed here (awk, from the seeds' scores), "none" where n = 1;
#   - a figure without y draws fraction_oracle; a paper figure (fig5) is not drawn here;
#   - no declared figure: an empty fragment, exit 0; figures.sh draws user figures too;
#   - an unknown y metric is refused at plan time naming the spec file and line;
#   - a missing store fails with one message and writes nothing.
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
FIX=$SRC/tests/fixtures/data
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_specfig_XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$SRC/tests/sh_check.sh"
close() { awk -v a="$1" -v b="$2" -v tol="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= tol) }'; }

# ---- 1. Student's t: the view against a printed table (two-sided 95%, t(0.975, df)) ---------------------
"$BIN/nsid-db" init "$T/t.db" || fail "nsid-db init"
REF_T="12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262 2.228 2.201 2.179 2.160 2.145 2.131 2.120 2.110
       2.101 2.093 2.086 2.080 2.074 2.069 2.064 2.060 2.056 2.052 2.048 2.045 2.042"
df=0
for ref in $REF_T; do
    df=$((df + 1))
    got=$(sqlite3 "$T/t.db" "SELECT t FROM student_t975 WHERE df = $df")
    check "t(0.975, $df) = $ref (got '$got')" close "${got:-0}" "$ref" 0.0005
done
[ "$df" -eq 30 ] || fail "reference table has $df rows"
[ "$(sqlite3 "$T/t.db" "SELECT COUNT(*) FROM student_t975")" = 30 ] || fail "student_t975 has not 30 rows"

# figure_summary's interval for n runs of one point (scores 0.01 i^2, i = 1..n): the t it used is
# (ci_hi - mean) sqrt(n) / sd, which must be t(0.975, n - 1) (1.96 for every n before issue 16).
for pair in 2:12.706 3:4.303 5:2.776 10:2.262 31:2.042 32:2.040 41:2.021 61:2.000 121:1.980; do
    n=${pair%%:*}; ref=${pair#*:}
    sqlite3 "$T/t.db" "DELETE FROM plan_runs; DELETE FROM runs; DELETE FROM metrics;
        WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < $n)
        INSERT INTO plan_runs (experiment, id, sel_group, figure, curve, x, n_scans, identity)
            SELECT 'e', 'r' || k, 'g' || k, 'tfig', 'c', 1, 1, '{}' FROM i;
        WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < $n)
        INSERT INTO runs (id, experiment, status) SELECT 'r' || k, 'e', 'done' FROM i;
        WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < $n)
        INSERT INTO metrics SELECT 'r' || k, 'all', 'test', 'fraction_oracle', 0.01 * k * k FROM i;" ||
        fail "t store for n = $n"
    got=$(sqlite3 "$T/t.db" "SELECT (ci_hi - mean) * sqrt(n) / sd FROM figure_summary WHERE n = $n")
    check "figure_summary interval for n = $n uses t = $ref (got '$got')" close "${got:-0}" "$ref" 0.0005
done
sqlite3 "$T/t.db" "DELETE FROM metrics WHERE run_id <> 'r1'"
got=$(sqlite3 "$T/t.db" "SELECT n, ci_lo IS NULL AND ci_hi IS NULL FROM figure_summary")
check "n = 1: no interval (got '$got')" test "$got" = "1|1"

# ---- 2. a user's figure, planned by nsid-plan ------------------------------------------------------------
mkdir -p "$T/p"
cat >"$T/p/user.yaml" <<EOF
experiment: user_sweep
data: {files: [$FIX/static11111-1-1-preproc0.h5]}
grid:
  data.image_n: [5, 10]
  train.seed: [1, 2, 3]
variants:
  - {name: gauss, model.readout.type: gaussian, var.label: Gaussian readout}
  - {name: fact, model.readout.type: factorized, var.label: factorized readout}
plot: {figure: my-sweep.v1, curve: \$var.label, x: \$data.image_n, y: test_corr}
---
experiment: user_default
data: {files: [$FIX/static11111-1-1-preproc0.h5]}
grid: {train.seed: [1]}
plot: {figure: default_metric, curve: only, x: 7}
---
experiment: user_no_oracle
data: {files: [$FIX/static11111-1-1-preproc0.h5]}
grid: {train.seed: [4]}
plot: {figure: no_oracle, curve: only, x: 3, y: oracle}
---
experiment: user_paper
data: {files: [$FIX/static11111-1-1-preproc0.h5]}
defaults: {train.seed: 9}
plot: {figure: fig5, curve: direct, x: 10}
EOF
(cd "$T/p" && "$BIN/nsid-plan" --results res user.yaml 2>"$T/plan.err") || fail "plan: $(cat "$T/plan.err")"
db=$T/p/res/results.db
# The scores: test correlation per (curve, x, seed); the factorized readout at 10 images has one
# finished run (seeds 2 and 3 stay planned). Fraction oracle = 1.5 x that.
declare -A SCORE=(["Gaussian readout,5,1"]=0.50 ["Gaussian readout,5,2"]=0.56 ["Gaussian readout,5,3"]=0.47
                  ["Gaussian readout,10,1"]=0.61 ["Gaussian readout,10,2"]=0.66 ["Gaussian readout,10,3"]=0.58
                  ["factorized readout,5,1"]=0.31 ["factorized readout,5,2"]=0.35 ["factorized readout,5,3"]=0.30
                  ["factorized readout,10,1"]=0.42 ["only,7,1"]=0.2 ["only,3,4"]=0.1)
sql=""
while IFS='|' read -r id curve x seed; do
    v=${SCORE["$curve,$x,$seed"]:-}
    [ -n "$v" ] || continue
    sql="$sql UPDATE runs SET status = 'done' WHERE id = '$id';
        INSERT INTO metrics VALUES ('$id', 'all', 'test', 'corr', $v), ('$id', 'all', 'validation', 'corr', 0.1),
                                   ('$id', 'all', 'test', 'fraction_oracle', 1.5 * $v);"
done < <(sqlite3 "$db" "SELECT p.id, p.curve, CAST(p.x AS INTEGER), json_extract(r.config, '\$.train.seed')
                        FROM plan_runs p JOIN runs r ON r.id = p.id WHERE p.experiment LIKE 'user_%'")
sqlite3 "$db" "$sql" || fail "filling the store"
[ "$(sqlite3 "$db" "SELECT COUNT(*) FROM runs WHERE status = 'done'")" = 12 ] || fail "12 finished runs expected"

out=$T/figs
bash "$SRC/plots/spec-figures.sh" --db "$db" --nsid-db "$BIN/nsid-db" --out "$out" --formats "png svg pdf" \
    --report-dir "$T/report" --table --strict 2>"$T/sf.err" || fail "spec-figures: $(cat "$T/sf.err")"
for f in my-sweep.v1 default_metric no_oracle; do
    for fmt in png svg pdf table; do check "$f.$fmt exists and is not empty" test -s "$out/$f.$fmt"; done
    check "$f.png is a PNG" bash -c "head -c 8 '$out/$f.png' | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'"
    check "$f.pdf is a PDF" bash -c "head -c 5 '$out/$f.pdf' | grep -q '%PDF-'"
    check "$f.svg is an SVG" grep -q '<svg' "$out/$f.svg"
done
check "the paper's fig5 is left to figures.sh" test ! -e "$out/fig5.png"
check "no temporary file left" bash -c "! ls -A '$out' | grep -q tmp"

# Points per element of the table output ("series I", "interval I").
points() {
    awk -v t="$2" '/^# Curve title: /{ c = substr($0, 16); gsub(/"/, "", c); next }
                   /^#/ || NF == 0 { next } c == t && ($NF == "i" || $NF == "o") { n++ }
                   END { print n + 0 }' "$out/$1.table"
}
series_of() { sqlite3 "$db" "SELECT series FROM plot_spec_series WHERE figure = 'my-sweep.v1' AND curve = '$1'"; }
sg=$(series_of "Gaussian readout"); sf=$(series_of "factorized readout")
check "two series" test -n "$sg" -a -n "$sf"
check "Gaussian: 2 points" test "$(points my-sweep.v1 "series $sg")" = 2
check "Gaussian: 2 intervals" test "$(points my-sweep.v1 "interval $sg")" = 2
check "factorized: 2 points" test "$(points my-sweep.v1 "series $sf")" = 2
check "factorized: 1 interval (n = 1 at 10 images has none)" test "$(points my-sweep.v1 "interval $sf")" = 1

# The fragment: heading, sentence, image link relative to the report folder, and the points.
frag=$out/spec-figures.md
check "fragment: heading" grep -qx '### my-sweep.v1' "$frag"
check "fragment: metric and x" grep -q 'test correlation.*against `data.image_n`' "$frag"
check "fragment: n and Student's t" grep -q "n = 1 to 3 runs per point.*Student's t.*one run have none" "$frag"
check "fragment: image relative to the report" grep -qx '!\[my-sweep.v1\](../figs/my-sweep.v1.png)' "$frag"
check "fragment: default metric" grep -q 'The fraction oracle (.*) against `x`' "$frag"
check "fragment: no fig5" bash -c "! grep -q 'fig5' '$frag'"
check "fragment: a figure whose metric is missing says so" \
    grep -q 'nothing to draw, its finished runs (1) have no oracle score (choose another plot.y)' "$frag"
check "table: the figure without data says so" grep -q '# no data for no_oracle' "$out/no_oracle.table"
# mean and interval per point, computed here from the scores above (t(0.975, 2) = 4.302653)
expect_row() {   # expect_row CURVE X "v1 v2 ..."
    local want
    want=$(echo "$3" | awk -v c="$1" -v x="$2" '{ n = NF; for (i = 1; i <= n; i++) s += $i; m = s / n
        if (n == 1) { printf "| %s | %s | %.4f | none (n = 1) | 1 |\n", c, x, m; exit }
        for (i = 1; i <= n; i++) q += ($i - m) ^ 2; sd = sqrt(q / (n - 1)); h = 4.302653 * sd / sqrt(n)
        printf "| %s | %s | %.4f | [%.4f, %.4f] | %d |\n", c, x, m, m - h, m + h, n }')
    check "fragment row: $want" grep -qxF "$want" "$frag"
}
expect_row "Gaussian readout" 5 "0.50 0.56 0.47"
expect_row "Gaussian readout" 10 "0.61 0.66 0.58"
expect_row "factorized readout" 5 "0.31 0.35 0.30"
expect_row "factorized readout" 10 "0.42"
expect_row "only" 7 "0.3"
check "fragment: 5 point rows" test "$(grep -c '^| [Gfo]' "$frag")" = 5
# the same store drawn again gives the same fragment
cp "$frag" "$T/frag1"
bash "$SRC/plots/spec-figures.sh" --db "$db" --nsid-db "$BIN/nsid-db" --out "$out" --formats png \
    --report-dir "$T/report" 2>/dev/null || fail "second run"
check "fragment is deterministic" cmp -s "$frag" "$T/frag1"

# figures.sh (the reproduction's figure step) draws the user's figure too, and its fragment.
bash "$SRC/plots/figures.sh" --db "$db" --nsid-db "$BIN/nsid-db" --out "$T/plots" --data "$T/plots/data" \
    --results "$T/results" --formats png --no-report 2>"$T/fig.err" || fail "figures.sh: $(tail -3 "$T/fig.err")"
check "figures.sh: user figure" test -s "$T/plots/my-sweep.v1.png"
check "figures.sh: fragment linked from results" grep -qx '!\[my-sweep.v1\](../plots/my-sweep.v1.png)' \
    "$T/plots/spec-figures.md"

# ---- 3. no figure declared: an empty fragment ------------------------------------------------------------
mkdir -p "$T/e"
printf 'experiment: plain\ndata: {files: [%s]}\n' "$FIX/static11111-1-1-preproc0.h5" >"$T/e/plain.yaml"
(cd "$T/e" && "$BIN/nsid-plan" --results res plain.yaml 2>/dev/null) || fail "plain plan"
bash "$SRC/plots/spec-figures.sh" --db "$T/e/res/results.db" --nsid-db "$BIN/nsid-db" --out "$T/e/figs" \
    --formats png 2>/dev/null
check "no figure: exit 0" test $? -eq 0
check "no figure: empty fragment" bash -c "[ -f '$T/e/figs/spec-figures.md' ] && [ ! -s '$T/e/figs/spec-figures.md' ]"
check "no figure: no image" bash -c "! ls '$T/e/figs' | grep -q png"

# ---- 4. bad input ----------------------------------------------------------------------------------------
cat >"$T/e/bad.yaml" <<EOF
experiment: bad_y
data: {files: [$FIX/static11111-1-1-preproc0.h5]}
grid: {train.seed: [1, 2]}
plot:
  figure: mine
  x: \$train.seed
  y: corr
EOF
cp "$T/e/res/results.db" "$T/e/before.db"
(cd "$T/e" && "$BIN/nsid-plan" --results res bad.yaml >/dev/null 2>"$T/bad.err")
check "unknown y: exit 1" test $? -eq 1
check "unknown y: one message with file and line ($(cat "$T/bad.err"))" \
    bash -c "[ \$(wc -l < '$T/bad.err') -eq 1 ] && grep -q 'bad.yaml:7: plot.y: unknown metric .corr.' '$T/bad.err'"
check "unknown y: store unchanged" cmp -s "$T/e/res/results.db" "$T/e/before.db"
bash "$SRC/plots/spec-figures.sh" --db "$T/nope.db" --nsid-db "$BIN/nsid-db" --out "$T/nope" 2>"$T/nope.err"
check "missing store: exit 1" test $? -eq 1
check "missing store: one message naming it" bash -c "[ \$(wc -l < '$T/nope.err') -eq 1 ] && grep -q 'nope.db' '$T/nope.err'"
check "missing store: nothing written" test ! -e "$T/nope/spec-figures.md"

echo "test_spec_figures: $fails failed"
exit $((fails > 0))
