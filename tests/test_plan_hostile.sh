#!/usr/bin/env bash
# test_plan_hostile.sh - nothing from a spec is executed (issue 17, class 3). Every kind of spec
# value that reaches results/plan.mk (a label var.*, a grid label, a plot field, a variant name,
# an experiment description, a data path, the spec file's own name, the results folder) is tried
# with make and shell syntax: newlines, $(...), $$(...), backquotes, ; # % : = | ~ * blanks and
# backslashes. For each, nsid-plan either refuses it with one message naming where it came from,
# or writes a plan.mk that make parses (make -n over every run target) without running anything:
# a canary file that every payload tries to create must never appear.
set -uo pipefail
# ctest-labels: reliability
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_hostile_XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$SRC/tests/sh_check.sh"
SCAN=$SRC/tests/fixtures/data/static11111-1-1-preproc0.h5
CANARY=$T/CANARY
cases=0 refused=0 planned=0

# Payloads as the inside of a YAML double-quoted string (\n, \t and \\ are YAML escapes; the raw
# value is what printf %b makes of it). Each one, if it ever reached a shell or make unquoted,
# creates $CANARY.
payloads=(
    'a$(shell touch CANARY)b'
    'a`touch CANARY`b'
    'a$$(touch CANARY)b'
    'a;touch CANARY'
    'a\ntouch CANARY'
    'a\n\ttouch CANARY'
    'x\n$(shell touch CANARY)'
    'x\nall:;touch CANARY'
    'a#b $(shell touch CANARY)'
    'a%b'
    'a:b'
    'a=b'
    'a|touch CANARY'
    'a&&touch CANARY'
    '~root'
    'a*b?[c]'
    'a b'
    'trailing\\'
    'x\\\n$(shell touch CANARY)'
    "it's \$(shell touch CANARY)"
    'a\r$(shell touch CANARY)'
)

# Run nsid-plan on spec $1 (with results folder $2); then, if it succeeded, make -n every run.
try_plan() { # try_plan NAME SPEC RESULTS WANT_ON_REFUSAL
    local name=$1 spec=$2 res=$3 want=$4
    cases=$((cases + 1))
    rm -f "$CANARY"
    (cd "$T" && "$BIN/nsid-plan" --profile smoke --results "$res" "$spec") >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -ne 0 ]; then
        refused=$((refused + 1))
        [ $rc -eq 1 ] || fail "$name: exit $rc, want 0 or 1: $(head -c 300 "$T/err")"
        [ "$(grep -c . "$T/err")" -eq 1 ] || fail "$name: not one message: $(head -c 500 "$T/err")"
        grep -qF -- "$want" "$T/err" || fail "$name: the message does not name '$want': $(head -c 300 "$T/err")"
        [ ! -e "$res/plan.mk" ] || fail "$name: refused, but plan.mk was written"
    else
        planned=$((planned + 1))
        printf 'nsid-check: $(NSID_PLAN_STAMPS) ; @:\n' >"$T/check.mk"
        (cd "$T" && make -n -f "$res/plan.mk" -f "$T/check.mk" nsid-check NSID_RUN=: NSID_DB=: NSID_RUN_DEPS=) \
            >"$T/make.out" 2>"$T/make.err" || fail "$name: make cannot parse plan.mk: $(head -c 300 "$T/make.err")"
        grep -q "touch CANARY" "$T/make.out" && fail "$name: a payload reached a recipe: $(grep -m1 CANARY "$T/make.out")"
        # every comment stays one line: no line of plan.mk starts with a payload's text
        grep -nE '^(touch|all:|\$\(shell)' "$res/plan.mk" && fail "$name: a payload starts a plan.mk line"
    fi
    [ ! -e "$CANARY" ] || fail "$name: the canary was created: a spec value was executed"
    rm -rf "$res"
}

spec_with() { # spec_with FILE LABEL VARIANT_NAME DESCRIPTION PLOT_CURVE DATA_PATH
    cat >"$1" <<EOF
experiment: hostile
description: "$4"
data: {files: ["$6"]}
defaults: {train.max_epochs: 1}
grid: {train.seed: [1], var.tag: ["$2"]}
variants:
  - name: "$3"
    var.label: "$2"
plot: {figure: hostile, curve: "$5", x: \$train.seed}
EOF
}

for i in "${!payloads[@]}"; do
    y=${payloads[$i]}
    raw=$(printf '%b' "$y")
    # labels, descriptions and plot curves are free text: planned safely (or refused, naming the spec)
    spec_with "$T/label.yaml" "$y" "v" "d" "c" "$SCAN"
    try_plan "label[$i]" "$T/label.yaml" "$T/res" "label.yaml"
    spec_with "$T/desc.yaml" "ok" "v" "$y" "c" "$SCAN"
    try_plan "description[$i]" "$T/desc.yaml" "$T/res" "desc.yaml"
    spec_with "$T/curve.yaml" "ok" "v" "d" "$y" "$SCAN"
    try_plan "plot.curve[$i]" "$T/curve.yaml" "$T/res" "curve.yaml"
    # a variant name: a restricted name, refused with the spec's file and line
    spec_with "$T/variant.yaml" "ok" "$y" "d" "c" "$SCAN"
    try_plan "variant[$i]" "$T/variant.yaml" "$T/res" "variant.yaml:"
    # a data path holding the payload (a real scan under that name, where the file system allows it)
    case $raw in */*) ;; *)
        mkdir -p "$T/data"
        if cp "$SCAN" "$T/data/$raw" 2>/dev/null; then
            spec_with "$T/data.yaml" "ok" "v" "d" "c" "$T/data/$y"
            try_plan "data[$i]" "$T/data.yaml" "$T/res" "data.yaml:3"
            rm -f "$T/data/$raw"
        fi
        # the spec file's own name and the results folder
        spec_with "$T/$raw.yaml" "ok" "v" "d" "c" "$SCAN" 2>/dev/null &&
            try_plan "spec-name[$i]" "$T/$raw.yaml" "$T/res" "$raw.yaml"
        rm -f "$T/$raw.yaml"
        spec_with "$T/ok.yaml" "ok" "v" "d" "c" "$SCAN"
        try_plan "results[$i]" "$T/ok.yaml" "$T/res-$raw" "--results"
        ;;
    esac
done

echo "hostile spec values: $cases cases, $planned planned safely, $refused refused, 0 executed"
[ "$planned" -gt 0 ] && [ "$refused" -gt 0 ] || fail "the family must both plan and refuse some cases"
mkdir -p "$BIN/figures"
printf 'cases %d\nplanned %d\nrefused %d\nexecuted 0\n' "$cases" "$planned" "$refused" >"$BIN/figures/plan_hostile.txt"
exit $((fails > 0))
