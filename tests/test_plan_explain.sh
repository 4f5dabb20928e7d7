#!/usr/bin/env bash
# test_plan_explain.sh - nsid-plan --explain marks a key '*' when it differs from the default of
# the run's readout type (model.core.gamma_input and model.readout.gamma take their defaults from
# model.readout.type): a factorized run with the factorized defaults shows them unmarked, and a
# value given in the spec is marked.
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_explain_XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$SRC/tests/sh_check.sh"
cp "$SRC/tests/fixtures/data/static11111-1-1-preproc0.h5" "$T/"
cat >"$T/x.yaml" <<'YAML'
experiment: x
data: {files: [static11111-1-1-preproc0.h5]}
variants:
  - name: fz
    model.readout.type: factorized
  - name: fz_gamma
    model.readout.type: factorized
    model.readout.gamma: 0.5
YAML
check "the plan" "$BIN/nsid-plan" --results "$T/res" "$T/x.yaml"
ids=$("$BIN/nsid-plan" --list --results "$T/res" "$T/x.yaml" 2>&1 | awk 'length($1) == 64 && $1 ~ /^[0-9a-f]+$/ {print $1, $3}')
fz=$(awk '$2 == "fz" {print $1}' <<<"$ids")
fg=$(awk '$2 == "fz_gamma" {print $1}' <<<"$ids")
check "two runs listed" test -n "$fz" -a -n "$fg"
"$BIN/nsid-plan" --explain "$fz" --db "$T/res/results.db" >"$T/fz.txt" 2>&1
"$BIN/nsid-plan" --explain "$fg" --db "$T/res/results.db" >"$T/fg.txt" 2>&1
check "the type itself is marked" grep -qE '^  \* model.readout.type: "factorized"$' "$T/fz.txt"
check "factorized gamma_input default unmarked" grep -qE '^    model.core.gamma_input: 6.3831$' "$T/fz.txt"
check "factorized gamma default unmarked" grep -qE '^    model.readout.gamma: 0.0076$' "$T/fz.txt"
check "a gamma given in the spec is marked" grep -qE '^  \* model.readout.gamma: 0.5$' "$T/fg.txt"
exit $((fails > 0))
