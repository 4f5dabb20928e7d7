#!/usr/bin/env bash
# The README's test command: install packages, configure, build and run every CTest.
#   scripts/test.sh                 release build with -Werror, then ctest
#   NSID_SANITIZE=1 scripts/test.sh the same under -fsanitize=address,undefined (build-asan/)
#                                   (NSID_SANITIZE_BUILD_TYPE, default Debug; CI uses RelWithDebInfo:
#                                   the shipped -O2 code instrumented, about 3x faster than -O0)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
build=build
flags=(-DNSID_WERROR=ON)
if [ "${NSID_SANITIZE:-0}" = 1 ]; then
    build=build-asan
    flags+=(-DNSID_SANITIZE=ON -DCMAKE_BUILD_TYPE="${NSID_SANITIZE_BUILD_TYPE:-Debug}")
    # The library reports failed allocations as errors; let ASan return NULL so tests can see it.
    export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
fi
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
cd "$build"
ctest --output-on-failure -j "$(nproc)" ${CTEST_ARGS:-}
