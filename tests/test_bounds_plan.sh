#!/usr/bin/env bash
# test_bounds_plan.sh - the planner's time and memory are bounded on any spec (issue 17, class 4).
# A grid whose product exceeds the run limit (nsid-plan --max-runs, default 100000) is refused
# before anything is expanded, naming the spec line and the product; a plan just under the limit
# passes; nsid-plan's memory grows linearly with the number of experiments in a file (the spec
# reader grew its experiment array by one, copying it each time into a pool that never frees).
# Every command runs under `timeout` and `ulimit -v`, so the old behaviour fails the case
# instead of exhausting the machine.
set -uo pipefail
# ctest-labels: reliability
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_bplan_XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$SRC/tests/sh_check.sh"
SCAN=$SRC/tests/fixtures/data/static11111-1-1-preproc0.h5
cases=0 wrong=0

# Under AddressSanitizer an address-space limit cannot be used (its shadow memory needs terabytes):
# ASan's limit on one allocation stands in for it.
asan=0
grep -q __asan_init "$BIN/nsid-plan" 2>/dev/null && asan=1
bounded() { # bounded KB SECONDS COMMAND...
    local kb=$1 secs=$2
    shift 2
    if [ $asan = 1 ]; then
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1:max_allocation_size_mb=$((kb / 1024))" \
            timeout -k 2 "$secs" "$@"
    else
        (ulimit -v "$kb"; timeout -k 2 "$secs" "$@")
    fi
}

# plan NAME WANT_RC WANT_TEXT SPEC [OPTIONS]: nsid-plan --check within 60 s and 2 GB of address space
plan() {
    local name=$1 want=$2 text=$3 spec=$4
    shift 4
    cases=$((cases + 1))
    bounded 2000000 60 "$BIN/nsid-plan" --check --profile smoke "$@" "$spec" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -ne "$want" ] || ! grep -qF -- "$text" "$T/err" || { [ "$want" -ne 0 ] && [ "$(grep -c . "$T/err")" -ne 1 ]; }; then
        wrong=$((wrong + 1))
        fail "$name: exit $rc (want $want) and a message with '$text': $(head -c 400 "$T/err")"
    else
        echo "ok: $name: $(tail -n 1 "$T/err")"
    fi
}
vals() { seq -s, "$1" "$2"; }

# 10^10 runs: five axes of 100 values
{
    printf 'experiment: huge\ndata: {files: ["%s"]}\ngrid:\n' "$SCAN"
    printf '  train.seed: [%s]\n' "$(vals 1 100)"
    printf '  train.max_epochs: [%s]\n' "$(vals 1 100)"
    printf '  train.patience: [%s]\n' "$(vals 1 100)"
    printf '  data.image_n: [%s]\n' "$(vals 1 100)"
    printf '  model.readout.gamma: [%s]\n' "$(vals 1 100)"
} >"$T/huge.yaml"
plan "a grid of 10^10 runs" 1 "huge.yaml:4: grid: experiment huge: 10000000000 runs" "$T/huge.yaml"
# 10^6 runs in two axes
{
    printf 'experiment: wide\ndata: {files: ["%s"]}\ngrid:\n' "$SCAN"
    printf '  train.seed: [%s]\n  train.max_epochs: [%s]\n' "$(vals 1 1000)" "$(vals 1 1000)"
} >"$T/wide.yaml"
plan "a grid of 10^6 runs" 1 "1000000 runs (train.seed: 1000 x train.max_epochs: 1000)" "$T/wide.yaml"
# variants whose sum is over the limit (each alone is under it)
{
    printf 'experiment: many\ndata: {files: ["%s"]}\ngrid: {train.seed: [%s]}\nvariants:\n' "$SCAN" "$(vals 1 60)"
    printf '  - {name: a, train.max_epochs: 1}\n  - {name: b, train.max_epochs: 2}\n'
} >"$T/many.yaml"
plan "variants over the limit together" 1 "after the plan's other runs, more than the limit of 100 runs" \
    "$T/many.yaml" --max-runs 100
plan "variants under the limit" 0 "120 runs" "$T/many.yaml" --max-runs 120
plan "one over --max-runs" 1 "more than the limit of 119 runs" "$T/many.yaml" --max-runs 119
# several experiments in files, counted together
printf 'experiment: other\ndata: {files: ["%s"]}\ngrid: {train.seed: [%s], train.max_epochs: [3]}\n' \
    "$SCAN" "$(vals 1 50)" >"$T/other.yaml"
plan "two files over the limit" 1 "more than the limit of 150 runs" "$T/many.yaml" "$T/other.yaml" --max-runs 150

# nesting and aliases are bounded while parsing, before a tree is built (200,000 levels took minutes)
deep() { # deep FILE PREFIX OPEN CLOSE N
    { printf '%s' "$2"; for _ in $(seq 1 "$5"); do printf '%s' "$3"; done; printf 1
      for _ in $(seq 1 "$5"); do printf '%s' "$4"; done; printf '\n'; } >"$1"
}
deep "$T/deep_map.yaml" "experiment: d\ndefaults: " "{a: " "}" 200000
sed -i 's/\\n/\n/' "$T/deep_map.yaml"
plan "a flow mapping 200,000 deep" 1 "deep_map.yaml:2: nested deeper than 64 levels" "$T/deep_map.yaml"
deep "$T/deep_list.yaml" "x: " "[" "]" 200000
plan "a flow list 200,000 deep" 1 "deep_list.yaml:1: nested deeper than 64 levels" "$T/deep_list.yaml"
{ printf 'experiment: b\n'; for i in $(seq 0 70); do printf '%*sk%d:\n' $((i * 2)) '' "$i"; done
  printf '%*sv: 1\n' 142 ''; } >"$T/deep_block.yaml"
plan "block mappings 72 deep" 1 "nested deeper than 64 levels" "$T/deep_block.yaml"
printf 'experiment: m\ndata: {group: g}\ngrid: {train.seed: [1]}\n' >"$T/m.yaml"
deep "$T/deep_manifest.yaml" "groups: " "{a: " "}" 200000
plan "a data manifest 200,000 deep" 1 "deep_manifest.yaml:1: nested deeper than 64 levels" "$T/m.yaml" \
    --manifest "$T/deep_manifest.yaml"
{   printf 'experiment: laughs\ndata: {files: ["%s"]}\n' "$SCAN"
    printf 'a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n'
    for i in $(seq 1 9); do printf 'a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n' \
        "$i" "$i" $((i - 1)) $((i - 1)) $((i - 1)) $((i - 1)) $((i - 1)) $((i - 1)) $((i - 1)) $((i - 1)) $((i - 1)) $((i - 1)); done
    printf 'grid: {train.seed: *a9}\n'; } >"$T/laughs.yaml"
plan "nested aliases of lists (10^10 values)" 1 "laughs.yaml:4: *a0: an alias of a mapping or list" "$T/laughs.yaml"
printf 'experiment: s\ndata: {files: ["%s"]}\ngrid: {train.seed: [&one 1, *one]}\n' "$SCAN" >"$T/scalar_alias.yaml"
plan "an alias of a scalar still reads" 1 "value '1' appears twice" "$T/scalar_alias.yaml"

# memory linear in the number of experiments of one file
peak() { # peak N: the peak resident KB of nsid-plan --check over N experiments
    : >"$T/m$1.yaml"
    for i in $(seq 1 "$1"); do
        printf -- '---\nexperiment: e%d\ndescription: "%0300d"\ndata: {files: ["%s"]}\ngrid: {train.seed: [1]}\n' \
            "$i" 0 "$SCAN" >>"$T/m$1.yaml"
    done
    bounded 4000000 120 /usr/bin/time -f 'peak %M' "$BIN/nsid-plan" --check --profile smoke "$T/m$1.yaml" 2>&1 |
        awk '/^peak/ {print $2}'
}
if [ -x /usr/bin/time ]; then
    cases=$((cases + 1))
    small=$(peak 400)
    big=$(peak 1600)
    echo "peak memory: 400 experiments ${small:-?} KB, 1600 experiments ${big:-?} KB"
    # linear: about 4x (less, with the fixed part); quadratic: about 16x
    if [ -z "$small" ] || [ -z "$big" ] || [ "$big" -gt $((small * 6)) ]; then
        wrong=$((wrong + 1))
        fail "nsid-plan's memory is not linear in the experiments: ${small:-?} KB -> ${big:-?} KB for 4x as many"
    fi
    printf 'peak_kb_400 %s\npeak_kb_1600 %s\n' "${small:-0}" "${big:-0}" >"$T/peaks"
fi

echo "planner bounds: $cases cases, $wrong wrong"
mkdir -p "$BIN/figures"
{ printf 'cases %d\nwrong %d\n' "$cases" "$wrong"; cat "$T/peaks" 2>/dev/null; } >"$BIN/figures/bounds_plan.txt"
exit $((fails > 0))
