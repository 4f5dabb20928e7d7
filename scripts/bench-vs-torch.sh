#!/usr/bin/env bash
# bench-vs-torch.sh - nsid-bench against a PyTorch reference of the same model
# (scripts/bench_torch.py) on this machine, alternating the two per case and
# round in one invocation, and the ratio nsid/PyTorch per figure.
#
#   scripts/bench-vs-torch.sh [--build DIR] [--threads N] [--rounds R] [--quick] [CASE...]
#
# CASE: train-1000 train-8000 transfer-1000 eval-1000 eval-8000 (default: all).
# Each run is its own process (its own peak RSS); the figure per side is the
# median over R rounds (default 3; --quick: 1 round of 2 timed steps).
# PyTorch runs with tcmalloc preloaded when libtcmalloc_minimal is installed
# (its fastest allocator). Needs /usr/bin/python3 with torch: otherwise it says
# so and exits 2.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build="$here/../build"
threads="${NSID_THREADS:-$(nproc)}"
rounds=3
steps=15
warmup=3
cases=()
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --quick) rounds=1; steps=2; warmup=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "bench-vs-torch.sh: unknown option $1" >&2; exit 2 ;;
    *) cases+=("$1"); shift ;;
    esac
done
[ ${#cases[@]} -gt 0 ] || cases=(train-1000 train-8000 transfer-1000 eval-1000 eval-8000)
bench="$build/nsid-bench"
[ -x "$bench" ] || { echo "bench-vs-torch.sh: $bench not built" >&2; exit 2; }
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "bench-vs-torch.sh: /usr/bin/python3 has no torch (apt-get install python3-torch): nothing to compare" >&2
    exit 2
fi
tcm=$(ls /usr/lib/*/libtcmalloc_minimal.so.4 2>/dev/null | head -1 || true)

# field NAME of a "bench|torch CASE k=v ..." line
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) CPUs;" \
     "load $(cut -d' ' -f1-3 /proc/loadavg); threads $threads; torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')" \
     "${tcm:+(tcmalloc preloaded)}"
printf '%-14s %12s %12s %8s %11s %11s %8s\n' case nsid_img/s torch_img/s ratio nsid_MiB torch_MiB ratio
for c in "${cases[@]}"; do
    ni=(); nm=(); ti=(); tm=()
    for r in $(seq "$rounds"); do
        line=$(NSID_THREADS="$threads" "$bench" --case "$c" --threads "$threads" --steps "$steps" --warmup "$warmup" |
               grep "^bench $c ")
        ni+=("$(echo "$line" | field images_per_s)"); nm+=("$(echo "$line" | field peak_rss_mib)")
        line=$(LD_PRELOAD="${tcm}" /usr/bin/python3 "$here/bench_torch.py" --case "$c" --threads "$threads" \
               --steps "$steps" --warmup "$warmup" | grep "^torch $c ")
        ti+=("$(echo "$line" | field images_per_s)"); tm+=("$(echo "$line" | field peak_rss_mib)")
    done
    a=$(printf '%s\n' "${ni[@]}" | median); b=$(printf '%s\n' "${ti[@]}" | median)
    m=$(printf '%s\n' "${nm[@]}" | median); n=$(printf '%s\n' "${tm[@]}" | median)
    awk -v c="$c" -v a="$a" -v b="$b" -v m="$m" -v n="$n" \
        'BEGIN {printf "%-14s %12.1f %12.1f %7.2fx %11.1f %11.1f %7.2fx\n", c, a, b, a / b, m, n, m / n}'
    echo "ratio $c images_per_s=$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.3f", a/b}') peak_rss=$(awk -v m="$m" -v n="$n" 'BEGIN{printf "%.3f", m/n}')" >&2
done
