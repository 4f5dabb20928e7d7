#!/usr/bin/env bash
# test_convert.sh - nsid-convert end to end: tree <-> HDF5 byte for byte, --info, exit codes.
set -u
BIN=${NSID_BIN:?NSID_BIN not set}
FX=${NSID_FIXTURES:?NSID_FIXTURES not set}/data
CONVERT="$BIN/nsid-convert"
T=$(mktemp -d "$BIN/tmp-convert-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() { # check NAME COMMAND...
    local name=$1; shift
    if "$@" >"$T/cout" 2>"$T/cerr"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; cat "$T/cerr"; fi
}
status() { # status WANT COMMAND...: exit status equals WANT
    local want=$1; shift
    "$@" >"$T/out" 2>"$T/err"; local got=$?
    [ "$got" = "$want" ] || { echo "exit $got, expected $want: $*"; cat "$T/err"; return 1; }
}

# tree -> HDF5 -> tree gives back the authors' tree byte for byte
check "tree -> h5" "$CONVERT" "$FX/static11111-1-1-preproc0" "$T/scan.h5"
check "h5 -> tree" "$CONVERT" "$T/scan.h5" "$T/static11111-1-1-preproc0"
check "round trip byte-identical" diff -r "$FX/static11111-1-1-preproc0" "$T/static11111-1-1-preproc0"
# the h5py file -> tree equals what neuralpredictors' converter wrote
check "h5py file -> tree" "$CONVERT" "$FX/static11111-1-1-preproc0.h5" "$T/from_h5"
check "same as the authors' converter" diff -r "$FX/static11111-1-1-preproc0" "$T/from_h5"
check "vlen UTF-8 file -> tree -> h5" bash -c "'$CONVERT' '$FX/static22222-2-2-preproc0.h5' '$T/v' && '$CONVERT' --gzip 6 '$T/v' '$T/v.h5'"

# --info
check "--info" status 0 "$CONVERT" --info "$FX/static11111-1-1-preproc0"
check "--info: tiers" grep -q "trials        24: train 14, validation 4, test 6" "$T/out"
"$CONVERT" --info "$T/v.h5" >"$T/info" 2>&1
check "--info: repeats" grep -q "test repeats  3 images, 2.00 repeats per image (min 2, max 2)" "$T/info"
check "--info: neurons" grep -q "^neurons       7" "$T/info"
check "--info: image shape" grep -q "images        1 x 6 x 8, stored float32" "$T/info"
check "--info: optional fields" grep -q "multi_match_id yes (5 matched)" "$T/info"

# errors: one message naming the path, non-zero exit
check "missing source: exit 1" status 1 "$CONVERT" "$T/nothing" "$T/x.h5"
check "missing source: message names it" grep -q "$T/nothing" "$T/err"
check "existing destination refused" status 1 "$CONVERT" "$T/scan.h5" "$T/from_h5"
check "refusal says why" grep -q "refusing to overwrite" "$T/err"
check "--force replaces it" "$CONVERT" --force "$T/scan.h5" "$T/from_h5"
check "replaced tree still identical" diff -r "$FX/static11111-1-1-preproc0" "$T/from_h5"
check "no temporary left" bash -c "! ls -a '$T' | grep -q '\.tmp\.'"
check "no arguments: exit 2" status 2 "$CONVERT"
check "unknown option: exit 2" status 2 "$CONVERT" --frobnicate a b
check "bad --gzip: exit 2" status 2 "$CONVERT" --gzip 11 a b
check "--help: exit 0" status 0 "$CONVERT" --help
check "--help text" grep -q "usage: nsid-convert" "$T/out"

echo "convert: $pass passed, $fail failed"
[ "$fail" = 0 ]
