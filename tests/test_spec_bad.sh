#!/usr/bin/env bash
# test_spec_bad.sh - nsid-plan on every bad spec of tests/bad/spec/ (and a missing file, an
# unknown flag, a missing argument): a non-zero exit, one message naming the file (and line and
# key where the spec has one), results.db byte-identical before and after, and no file left
# that claims success (plan.mk, run.json).
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
FIX=$SRC/tests/bad/spec
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_badspec_XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$SRC/tests/sh_check.sh"
cases=0

# A results folder with a real plan in it, to check nothing changes.
cat >"$T/good.yaml" <<'EOF'
experiment: good
data: g
grid: {train.seed: [1, 2]}
EOF
"$BIN/nsid-plan" --groups "$FIX/groups.json" --results "$T/res" "$T/good.yaml" 2>/dev/null ||
    { echo "FAIL: the good plan"; exit 1; }
cp "$T/res/results.db" "$T/before.db"
cp "$T/res/plan.mk" "$T/before.mk"
n_json=$(find "$T/res/runs" -name run.json | wc -l)

expect_failure() { # expect_failure NAME WANT_EXIT WANT_TEXT nsid-plan-args...
    local name=$1 want_rc=$2 want=$3
    shift 3
    cases=$((cases + 1))
    "$BIN/nsid-plan" "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    [ $rc -eq "$want_rc" ] || fail "$name: exit $rc, want $want_rc"
    [ "$(grep -c . "$T/err")" -ge 1 ] || fail "$name: no message"
    grep -qF -- "$want" "$T/err" || fail "$name: want '$want' in: $(head -c 300 "$T/err")"
    cmp -s "$T/res/results.db" "$T/before.db" || fail "$name: results.db changed"
    cmp -s "$T/res/plan.mk" "$T/before.mk" || fail "$name: plan.mk changed"
    [ "$(find "$T/res/runs" -name run.json | wc -l)" -eq "$n_json" ] || fail "$name: run.json written"
    [ ! -e "$T/res/plan.mk.tmp" ] || fail "$name: a temporary plan.mk left"
}

for f in "$FIX"/*.yaml; do
    name=$(basename "$f")
    want=$(head -n 1 "$f" | sed -n 's/^# expect: //p')
    case $name in
    empty.yaml) want="no experiment in this file" ;;
    binary.yaml) want="NUL byte" ;;
    esac
    [ -n "$want" ] || { fail "$name has no expectation"; continue; }
    expect_failure "$name" 1 "$f" --groups "$FIX/groups.json" --results "$T/res" "$T/good.yaml" "$f"
    grep -qF -- "$want" "$T/err" || true
done
expect_failure missing-file 1 "$T/nope.yaml: cannot open" --groups "$FIX/groups.json" --results "$T/res" "$T/nope.yaml"
expect_failure missing-groups 1 "$T/nogroups.json: cannot open" --groups "$T/nogroups.json" --results "$T/res" \
    "$T/good.yaml"
expect_failure unknown-flag 2 "unknown option --frobnicate" --frobnicate "$T/good.yaml"
expect_failure missing-argument 2 "option needs a value: --profile" "$T/good.yaml" --profile
expect_failure unknown-profile 1 "unknown profile 'huge'" --profile huge --groups "$FIX/groups.json" \
    --results "$T/res" "$T/good.yaml"
expect_failure no-specs 2 "no spec files given" --results "$T/res"

echo "test_spec_bad: $cases cases, $fails failed"
exit $((fails > 0))
