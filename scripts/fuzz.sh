#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang and run each for a
# set time, with seed corpora from the test fixtures (issue 9).
#
#   scripts/fuzz.sh [SECONDS] [HARNESS...]     default 60 s each, every harness
#
# Environment: FUZZ_BUILD (default build-fuzz), FUZZ_JOBS (parallel fuzzing jobs per harness,
# default 1), FIGURES (a file to append "fuzz_<name>_execs N" lines to; .ci/run prints them).
# The corpus each run grows is kept in $FUZZ_BUILD/corpus/<name> and reused. A crash or a
# failed property stops with exit 1 and leaves the input in $FUZZ_BUILD/crashes/: copy it to
# tests/fuzz/regress/<name>/ so tests/test_fuzz_regress.c replays it in every build.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
build=${FUZZ_BUILD:-build-fuzz}
jobs=${FUZZ_JOBS:-1}

command -v clang >/dev/null || { echo "fuzz.sh: clang is not installed (scripts/deps.sh --dev)" >&2; exit 1; }
CC=clang cmake -S . -B "$build" -DNSID_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target nsid_fuzzers >/dev/null

# Seeds: every fixture or test input of the harness's kind (copied afresh each run).
seed() { # seed NAME FILES...
    local dir=$build/seeds/$1
    shift
    rm -rf "$dir"
    mkdir -p "$dir"
    local i=0
    for f in "$@"; do
        [ -f "$f" ] || continue
        cp "$f" "$dir/$(printf '%04d' $i)-$(basename "$f")"
        i=$((i + 1))
    done
}
seed spec tests/bad/spec/*.yaml experiments/*.yaml
seed config tests/bad/config/* tests/fuzz/seeds/config/*
seed npy tests/fixtures/data/npy/*.npy $(find tests/fixtures/data/static11111-1-1-preproc0 -name '*.npy' | sort | head -40)
seed h5scan tests/fixtures/data/*.h5 tests/bad/spec/*.h5
seed h5struct tests/bad/config/* tests/bad/spec/*.yaml # any bytes are a recipe
seed planmk tests/fuzz/seeds/planmk/*.yaml tests/bad/spec/*.yaml # specs beside a scan.h5 (issue 17)

harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
    for h in tests/fuzz/fuzz_*.c; do harnesses+=("$(basename "$h" .c | sed 's/^fuzz_//')"); done
fi
status=0
mkdir -p "$build/crashes"
# leaks inside libhdf5 on damaged files are not ours (tests/fuzz/lsan.supp names each)
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
for name in "${harnesses[@]}"; do
    exe=$build/tests/fuzz/fuzz_$name
    [ -x "$exe" ] || { echo "fuzz.sh: no harness fuzz_$name" >&2; status=1; continue; }
    corpus=$build/corpus/$name
    mkdir -p "$corpus"
    log=$build/fuzz_$name.log
    echo "fuzz: $name for $secs s (corpus $corpus, log $log)"
    rc=0
    par=()
    [ "$jobs" -gt 1 ] && par=(-jobs="$jobs" -workers="$jobs")
    "$exe" -max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 "${par[@]}" \
        -artifact_prefix="$build/crashes/$name-" "$corpus" "$build/seeds/$name" >"$log" 2>&1 || rc=$?
    logs=("$log")
    [ "$jobs" -gt 1 ] && logs+=(fuzz-*.log)
    execs=$(cat "${logs[@]}" 2>/dev/null | awk '/stat::number_of_executed_units/ {s += $2} END {print s + 0}')
    rm -f fuzz-*.log
    echo "fuzz: $name: $execs executions, corpus $(find "$corpus" -type f | wc -l) inputs, exit $rc"
    [ -n "${FIGURES:-}" ] && echo "fuzz_${name}_execs $execs" >>"$FIGURES"
    if [ $rc -ne 0 ]; then
        status=1
        echo "fuzz: $name FOUND A PROBLEM; the input:" >&2
        ls -1 "$build/crashes/$name-"* >&2 2>/dev/null || true
        grep -m 5 -E 'ERROR|fuzz property failed|runtime error|SUMMARY' "$log" >&2 || true
    fi
done
exit $status
