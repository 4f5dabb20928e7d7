#!/usr/bin/env bash
# The README's test command: install packages, configure, build and run every CTest.
#   scripts/test.sh                 release build with -Werror, then ctest
#   NSID_SANITIZE=1 scripts/test.sh the same under -fsanitize=address,undefined (build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
build=build
flags=(-DNSID_WERROR=ON)
if [ "${NSID_SANITIZE:-0}" = 1 ]; then
    build=build-asan
    flags+=(-DNSID_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
fi
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
cd "$build"
ctest --output-on-failure -j "$(nproc)" ${CTEST_ARGS:-}
