#!/usr/bin/env bash
# test_simulate_cli.sh - the nsid-simulate stage: usage, configuration errors
# naming the key (exit 1), bad usage (exit 2), and a smoke run writing the
# evaluation scan plus groups.json, byte for byte the same when run again.
set -u
bin="${NSID_BIN:?NSID_BIN not set}/nsid-simulate"
tmp=$(mktemp -d "${NSID_BIN}/tmp-simulate-sh-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check NAME EXPECTED_STATUS EXPECTED_TEXT CMD...
    local name=$1 want=$2 text=$3; shift 3
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" != "$want" ] || ! grep -qF -- "$text" <<<"$out"; then
        echo "FAIL $name: status $rc (want $want), output:"; echo "$out" | head -5; fail=1
    else
        echo "ok   $name"
    fi
}
check "help"              0 "usage: nsid-simulate" "$bin" --help
check "keys listing"      0 "eval.train_images"    "$bin" --keys --profile paper
check "paper sizes"       0 "5335"                 "$bin" --keys --profile paper
check "missing --out"     2 "--out DIR is required" "$bin" --profile smoke
check "unknown argument"  2 "unknown argument"     "$bin" --frobnicate
check "unknown profile"   1 "profile: unknown profile 'huge'" "$bin" --profile huge --out "$tmp/x"
check "negative size"     1 "4s.neurons: -5 not in" "$bin" --profile smoke --out "$tmp/x" --set 4s.neurons=-5
check "matched > neurons" 1 "4s.matched: 50 matched neurons but only 40" "$bin" --profile smoke --out "$tmp/x" --set 4s.matched=50
check "unknown group"     1 "groups: unknown group '12s'" "$bin" --profile smoke --out "$tmp/x" --set groups=12s
check "unknown key"       1 "colour: unknown key"  "$bin" --profile smoke --out "$tmp/x" --set colour=red
check "bad seed"          1 "seed: 'x' is not"      "$bin" --profile smoke --out "$tmp/x" --seed x
[ ! -e "$tmp/x" ] || { echo "FAIL a failed configuration created the output folder"; fail=1; }
check "smoke run"         0 "wrote $tmp/out/groups.json" "$bin" --profile smoke --out "$tmp/out" --seed 3 --threads 2 --set groups=evaluation
[ -s "$tmp/out/static20457-5-9-preproc0.h5" ] || { echo "FAIL no evaluation scan written"; fail=1; }
grep -q '"seed": 3,' "$tmp/out/groups.json" || { echo "FAIL groups.json lacks the seed"; fail=1; }
grep -q '"evaluation": {' "$tmp/out/groups.json" || { echo "FAIL groups.json lacks the evaluation group"; fail=1; }
[ "$(ls "$tmp/out" | wc -l)" = 2 ] || { echo "FAIL expected exactly 2 files"; ls "$tmp/out"; fail=1; }
# The same configuration and seed a second later (HDF5 stamps objects with their creation
# second unless told not to) and with another thread count: the same bytes, so the run ids
# that hash data files by content stay the same.
sleep 1.1
check "smoke run again"   0 "wrote $tmp/again/groups.json" "$bin" --profile smoke --out "$tmp/again" --seed 3 --threads 1 --set groups=evaluation
cmp -s "$tmp/out/static20457-5-9-preproc0.h5" "$tmp/again/static20457-5-9-preproc0.h5" ||
    { echo "FAIL the scan file differs between two runs of the same simulation"; fail=1; }
# groups.json records every key, the thread count too: the rest is the same
cmp -s <(grep -v '"threads":' "$tmp/out/groups.json") <(grep -v '"threads":' "$tmp/again/groups.json") ||
    { echo "FAIL groups.json differs beyond the thread count"; fail=1; }
exit $fail
