#!/usr/bin/env bash
# test_quick_model.sh - the default reproduction trains the paper's model (issue 20 item 1):
#   - every run the quick profile plans from experiments/*.yaml with an SE2d core has the paper
#     profile's core for the same experiment and variant (64 channels, 15x15 input and 13x13
#     hidden kernels, 4 layers, depth-separable, the same regularisers), apart from the random
#     cores of Fig. 5, whose width is their variant's;
#   - every readout setting of a quick run is the paper profile's for the same experiment and
#     variant, except the L1 strength (model.readout.gamma: the paper searches 4 values, quick
#     runs one) and what the run transfers (model.core.checkpoint);
#   - what quick changes is data and schedule only: its simulated images are 36 x 32
#     (nsid-simulate --profile quick; the paper's 36 x 64), as docs/reproduction.md says.
# The plan is made over a manifest of placeholder scans (nsid-plan reads only their names).
set -euo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
command -v sqlite3 >/dev/null || { echo "test_quick_model: needs the sqlite3 shell (scripts/deps.sh)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_quick_model_XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
. "$SRC/tests/sh_check.sh"

# A manifest with the reproduction's five groups over 13 placeholder scans.
mkdir data
files=()
for i in $(seq 1 13); do
    printf '\211HDF\r\n\032\nplaceholder scan %s\n' "$i" >"data/s$i.h5"
    files+=("\"s$i.h5\"")
done
list() { local IFS=,; echo "$*"; }
cat >data/groups.json <<EOF
{"groups": {"4s_matched": [$(list "${files[@]:0:4}")],
            "11s": [$(list "${files[@]:0:11}")],
            "4s_diff_animals": [$(list "${files[0]}" "${files[4]}" "${files[7]}" "${files[10]}")],
            "1s": [${files[11]}],
            "evaluation": [${files[12]}]}}
EOF
# One row per planned run: experiment, variant and its resolved configuration (the run.json the
# plan writes; --list prints each run's id, experiment and variant as it plans).
sqlite3 runs.db "CREATE TABLE r (profile TEXT, experiment TEXT, variant TEXT, config TEXT)"
for p in quick paper; do
    check "nsid-plan --profile $p over experiments/*.yaml" logged plan-$p.log \
        "$BIN/nsid-plan" --list --profile $p --data data --results res-$p "$SRC"/experiments/*.yaml
    awk -v p=$p 'NF >= 3 && length($1) == 64 { print p "|" $1 "|" $2 "|" $3 }' plan-$p.log >list-$p.txt
    awk -F'|' '{ printf "INSERT INTO r VALUES (\x27%s\x27, \x27%s\x27, \x27%s\x27, CAST(readfile(\x27res-%s/runs/%s/run.json\x27) AS TEXT));\n", $1, $3, $4, $1, $2 }' \
        list-$p.txt >insert-$p.sql
    sqlite3 runs.db "BEGIN" ".read insert-$p.sql" "COMMIT"
done
q() { sqlite3 -separator ' ' runs.db "$@"; }
check "the quick plan has runs, each with its configuration" \
    test "$(q "SELECT COUNT(*) FROM r WHERE profile = 'quick' AND json_valid(config)")" -gt 40 \
         -a "$(q "SELECT COUNT(*) FROM r WHERE profile = 'quick' AND NOT json_valid(config)")" -eq 0

# The core of every SE2d run, without what a run transfers or whether it is random.
core="json_remove(json_extract(config, '\$.model.core'), '\$.checkpoint', '\$.random')"
se2d="json_extract(config, '\$.model.core.type') = 'se2d'"
own="NOT (json_extract(config, '\$.model.core.random') AND variant IN ('random_core_64', 'random_core_128'))"
check "every quick SE2d core: 64 channels, 15x15 input, 13x13 hidden kernels, 4 layers, depth-separable" \
    test "$(q "SELECT COUNT(*) FROM r WHERE profile = 'quick' AND $se2d AND $own AND NOT (
                 json_extract(config, '\$.model.core.hidden_channels') = 64 AND json_extract(config, '\$.model.core.input_kern') = 15
                 AND json_extract(config, '\$.model.core.hidden_kern') = 13 AND json_extract(config, '\$.model.core.layers') = 4
                 AND json_extract(config, '\$.model.core.depth_separable'))")" -eq 0
bad=$(q "SELECT DISTINCT experiment || '/' || variant FROM r k WHERE profile = 'quick' AND $se2d AND NOT EXISTS (
           SELECT 1 FROM r p WHERE p.profile = 'paper' AND p.experiment = k.experiment AND p.variant = k.variant
           AND json_remove(json_extract(p.config, '\$.model.core'), '\$.checkpoint', '\$.random') = $core)")
check "  and each is the paper profile's core for its experiment and variant${bad:+ (not: $bad)}" test -z "$bad"
check "  (the quick plan has such runs: $(q "SELECT COUNT(*) FROM r WHERE profile = 'quick' AND $se2d AND $own"))" \
    test "$(q "SELECT COUNT(*) FROM r WHERE profile = 'quick' AND $se2d AND $own")" -gt 30

# The readout of each (experiment, variant): quick's settings are among the paper's.
ro="json_remove(json_extract(config, '\$.model.readout'), '\$.gamma')"
bad=$(q "SELECT DISTINCT experiment || '/' || variant FROM r k WHERE profile = 'quick' AND NOT EXISTS (
           SELECT 1 FROM r p WHERE p.profile = 'paper' AND p.experiment = k.experiment AND p.variant = k.variant
           AND json_remove(json_extract(p.config, '\$.model.readout'), '\$.gamma') = $ro)")
check "every quick readout is the paper profile's for its experiment and variant, L1 strength aside${bad:+ (not: $bad)}" \
    test -z "$bad"
check "  the same for the shifter and modulator" \
    test "$(q "SELECT COUNT(*) FROM r k WHERE profile = 'quick' AND NOT EXISTS (SELECT 1 FROM r p WHERE p.profile = 'paper'
             AND p.experiment = k.experiment AND p.variant = k.variant
             AND json_extract(p.config, '\$.model.shifter') = json_extract(k.config, '\$.model.shifter')
             AND json_extract(p.config, '\$.model.modulator') = json_extract(k.config, '\$.model.modulator'))")" -eq 0

# The images: 36 x 32 in quick, the paper's 36 x 64 in the paper profile.
size() { "$BIN/nsid-simulate" --keys --profile "$1" | awk '$1 == "image.height" { h = $5 } $1 == "image.width" { w = $5 } END { print h "x" w }'; }
check "nsid-simulate --profile quick: 36x32 images ($(size quick))" test "$(size quick)" = 36x32
check "nsid-simulate --profile paper: 36x64 images ($(size paper))" test "$(size paper)" = 36x64
check "docs/reproduction.md says quick's images are 36×32" grep -q '36×32' "$SRC/docs/reproduction.md"

echo "test_quick_model: $fails failed"
exit $((fails > 0))
