#!/usr/bin/env bash
# test_bounds_sizes.sh - sizes that come from input cost what the data implies, and running out
# of memory names the input that asked for it (issue 17, class 4).
#   - train.batch_size beyond the data (the training set + 1, 100000, the maximum 1048576):
#     buffers and model state are sized by the largest tier (nsid_batch_views_max_batch), so the run
#     finishes in a small address space with the same result as a batch of the whole tier (the
#     old code sized them by batch_size: 43 GB for the maximum, growing until the machine ran out);
#   - the same for nsid-eval;
#   - a scan array too large for memory (an .npy of a file tree, an HDF5 scan under a small
#     address space) and a batch too large for memory: one message naming the file and dataset
#     or the key, and the size, never a C source line.
# Each command runs under `timeout` and `ulimit -v`, so the old behaviour fails the case.
set -uo pipefail
# ctest-labels: reliability
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_bsize_XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$SRC/tests/sh_check.sh"
SCAN=$SRC/tests/fixtures/data/static11111-1-1-preproc0.h5
TREE=$SRC/tests/fixtures/data/static11111-1-1-preproc0
SMALL=(--set model.core.layers=2 --set model.core.hidden_channels=8 --set model.core.input_kern=5
       --set model.core.hidden_kern=3 --set train.max_epochs=2 --quiet --threads 1)
cases=0 wrong=0
LIMIT=1500000 # KB of address space for every command

# Under AddressSanitizer (CI's sanitizer pass) an address-space limit cannot be used (the shadow
# memory needs terabytes): there, ASan's own limit on one allocation stands in for it.
asan=0
grep -q __asan_init "$BIN/nsid-train" 2>/dev/null && asan=1
bounded() {
    if [ $asan = 1 ]; then
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1:max_allocation_size_mb=$((LIMIT / 1024))" \
            timeout -k 2 120 "$@"
    else
        (ulimit -v $LIMIT; timeout -k 2 120 "$@")
    fi
}
corr() { grep -o 'validation correlation [0-9.-]*' "$1" | awk '{print $3}'; }

# the reference: a batch of the whole training tier (the fixture has fewer than 64 trials)
bounded "$BIN/nsid-train" "${SMALL[@]}" --set train.batch_size=64 --data "$SCAN" --out "$T/ref" >"$T/ref.out" 2>&1 ||
    fail "the reference run: $(head -c 300 "$T/ref.out")"
want=$(corr "$T/ref.out")
for b in 65 100000 1048576; do
    cases=$((cases + 1))
    bounded "$BIN/nsid-train" "${SMALL[@]}" --set train.batch_size=$b --data "$SCAN" --out "$T/b$b" >"$T/out" 2>&1
    rc=$?
    got=$(corr "$T/out")
    if [ $rc -ne 0 ] || [ -z "$want" ] || [ "$got" != "$want" ]; then
        wrong=$((wrong + 1))
        fail "train.batch_size=$b: exit $rc, validation correlation '$got' (want '$want'): $(head -c 300 "$T/out")"
    else
        echo "ok: train.batch_size=$b trains in ${LIMIT} KB: correlation $got"
    fi
    cases=$((cases + 1))
    bounded "$BIN/nsid-eval" --checkpoint "$T/b$b/checkpoint.h5" --data "$SCAN" --db "$T/b$b/run.db" >"$T/out" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
        wrong=$((wrong + 1))
        fail "nsid-eval of train.batch_size=$b: exit $rc: $(head -c 300 "$T/out")"
    else
        echo "ok: nsid-eval of train.batch_size=$b in ${LIMIT} KB"
    fi
done

# oom NAME WANT1 WANT2 COMMAND...: exit 1, one line naming WANT1 and WANT2 and no C source
oom() {
    local name=$1 w1=$2 w2=$3
    shift 3
    cases=$((cases + 1))
    bounded "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    # under ASan its allocator says so itself, one warning line of its own per refused allocation
    [ $asan = 1 ] && sed -i -E '/^==[0-9]+==WARNING: AddressSanitizer failed to allocate/d' "$T/err"
    if [ $rc -ne 1 ] || [ "$(grep -c . "$T/err")" -ne 1 ] || ! grep -qF -- "$w1" "$T/err" ||
        ! grep -qF -- "$w2" "$T/err" || grep -qE '\.c:[0-9]+' "$T/err"; then
        wrong=$((wrong + 1))
        fail "$name: exit $rc, want 1 and one message naming '$w1' and '$w2' (no C source line): $(head -c 400 "$T/err")"
    else
        echo "ok: $name: $(cat "$T/err")"
    fi
}
# an image array of 24 trials x 16e6 values (1.5 GB) in a file tree
mkimages() { # mkimages DIR ROWS COLS: data/images/0.npy becomes (1, ROWS, COLS) float32 zeros
    rm -rf "$1"
    cp -r "$TREE" "$1"
    local d="{'descr': '<f4', 'fortran_order': False, 'shape': (1, $2, $3), }"
    { printf '\x93NUMPY\x01\x00\x76\x00'; printf '%-117s\n' "$d"; head -c $(($2 * $3 * 4)) /dev/zero; } \
        >"$1/data/images/0.npy"
}
mkimages "$T/tree_big" 4000 4000
oom "a tree's images beyond memory" "tree_big/data/images/0.npy: images:" "bytes" \
    "$BIN/nsid-train" "${SMALL[@]}" --data "$T/tree_big" --out "$T/o1"
oom "nsid-convert of that tree" "tree_big/data/images/0.npy: images:" "bytes" \
    "$BIN/nsid-convert" "$T/tree_big" "$T/big.h5"
# a batch beyond memory: the default core on 200 x 200 images (1.8 GB of state), in 600 MB
rm -rf "$T/tree_wide"
cp -r "$TREE" "$T/tree_wide"
d="{'descr': '<f4', 'fortran_order': False, 'shape': (1, 200, 200), }"
for f in "$T"/tree_wide/data/images/*.npy; do
    { printf '\x93NUMPY\x01\x00\x76\x00'; printf '%-117s\n' "$d"; head -c 160000 /dev/zero; } >"$f"
done
LIMIT=600000
oom "a batch beyond memory" "train.batch_size:" "bytes" \
    "$BIN/nsid-train" --set model.core.input_kern=5 --set model.core.hidden_kern=3 --set train.max_epochs=1 \
    --quiet --threads 1 --data "$T/tree_wide" --out "$T/o2"

echo "input sizes: $cases cases, $wrong wrong"
mkdir -p "$BIN/figures"
printf 'cases %d\nwrong %d\n' "$cases" "$wrong" >"$BIN/figures/bounds_sizes.txt"
exit $((fails > 0))
