#!/usr/bin/env bash
# test_bench.sh - nsid-bench --quick runs and prints its nine machine-readable
# lines (issue 8; the -b8 cases at the reproduction's batch and the kernels alone, issue 20).
# A benchmark is not a timed test: no figure is asserted, only that every case ran and
# reported positive, finite numbers.
# ctest-labels: bench
set -euo pipefail
bin="${NSID_BIN:?NSID_BIN is the build directory}"
# the shortest run (one step per case): sanitizer builds run this too
out=$(NSID_THREADS=2 "$bin/nsid-bench" --quick --warmup 0 --steps 1)
echo "$out"
cases="train-1000 train-8000 transfer-1000 eval-1000 eval-8000 train-1000-b8 train-8000-b8 transfer-1000-b8"
for c in $cases; do
    line=$(echo "$out" | grep -E "^bench $c images_per_s=[0-9.]+ gflops=[0-9.]+ peak_rss_mib=[0-9.]+ threads=[0-9]+$") || {
        echo "FAIL: no well-formed 'bench $c ...' line" >&2
        exit 1
    }
    echo "$line" | awk -v c="$c" '{ for (i = 3; i <= NF; i++) { split($i, kv, "="); if (!(kv[2] + 0 > 0)) { print "FAIL: " c ": " $i " is not positive" > "/dev/stderr"; exit 1 } } }'
done
# the kernels alone: each convolution kernel's GFLOP/s, the BatchNorm passes' microseconds, and
# a training image made of nothing but these calls (its time and fraction of the ceiling)
keys="pw_gflops pwg_gflops dw_gflops dwg_gflops l0_gflops l0g_gflops tile_gflops bn_us image_ms fraction"
pat="^bench kernels"
for k in $keys; do pat="$pat $k=[0-9.]+"; done
line=$(echo "$out" | grep -E "$pat\$") || { echo "FAIL: no well-formed 'bench kernels ...' line" >&2; exit 1; }
echo "$line" | awk '{ for (i = 3; i <= NF; i++) { split($i, kv, "="); if (!(kv[2] + 0 > 0)) { print "FAIL: kernels: " $i " is not positive" > "/dev/stderr"; exit 1 } } }'
# and the section a reader reads
echo "$out" | grep -q "^kernels alone (" || { echo "FAIL: no 'kernels alone' section" >&2; exit 1; }
# every kernel set this machine runs times its kernels (and its tile step) alone
for set in generic generic16 avx2 avx512; do
    kl=$("$bin/nsid-bench" --quick --warmup 0 --steps 1 --case kernels --isa "$set" 2>&1) || {
        if echo "$kl" | grep -q "kernel set '$set' is not supported by this CPU"; then
            echo "skip: --isa $set: not on this CPU"; continue
        fi
        echo "FAIL: --case kernels --isa $set: $kl" >&2; exit 1; }
    echo "$kl" | grep -qE "^kernels alone \($set, " || { echo "FAIL: --isa $set: the kernels ran on another set" >&2; exit 1; }
    echo "$kl" | grep -qE "$pat\$" || { echo "FAIL: --isa $set: no 'bench kernels' line" >&2; exit 1; }
    echo "$kl" | grep -E "$pat\$" | awk -v s="$set" '{ for (i = 3; i <= NF; i++) { split($i, kv, "="); if (!(kv[2] + 0 > 0)) { print "FAIL: kernels " s ": " $i " is not positive" > "/dev/stderr"; exit 1 } } }' || exit 1
    echo "ok: the kernels alone on the $set set"
done
# a bad option is an error, not a silent default
if "$bin/nsid-bench" --case no-such-case >/dev/null 2>&1; then
    echo "FAIL: an unknown case was accepted" >&2
    exit 1
fi
# one case alone runs only that case
one=$(NSID_THREADS=1 "$bin/nsid-bench" --quick --warmup 0 --steps 1 --case train-1000-b8 | grep -c '^bench ')
[ "$one" = 1 ] || { echo "FAIL: --case train-1000-b8 printed $one bench lines" >&2; exit 1; }
echo "ok nsid-bench --quick printed its $(( $(echo $cases | wc -w) + 1 )) bench lines"
