#!/usr/bin/env bash
# test_repro_smoke.sh - the reproduction end to end at the smoke profile (issue 10 item 5):
# `make -f Makefile.experiments PROFILE=smoke -j2` with the real stage binaries of this build,
# into a temporary folder: simulate -> plan -> every run (train + eval) -> merge -> figures and
# report. Checks that make succeeds, that `make status` counts every planned run as done and
# none failed, that every figure exists in every format and is not empty, that REPORT.md and
# REPORT.html exist and name the profile, the simulated world and the run count, that the headline view has rows,
# and that a second `make -q` finds nothing to do. Prints the wall time of the reproduction
# (the smoke profile must stay under 5 minutes on 2 cores).
# NSID_SMOKE_JOBS sets make's -j (default 2); NSID_SMOKE_KEEP=1 keeps the folder.
# ctest-labels: smoke repro
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
jobs=${NSID_SMOKE_JOBS:-2}
for tool in gnuplot sqlite3 make; do
    command -v "$tool" >/dev/null || { echo "test_repro_smoke: needs $tool (scripts/deps.sh installs it)"; exit 1; }
done
for b in nsid-simulate nsid-plan nsid-train nsid-eval nsid-db; do
    [ -x "$BIN/$b" ] || { echo "test_repro_smoke: $BIN/$b missing (build first)"; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_smoke_XXXXXX")
cleanup() { if [ "${NSID_SMOKE_KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi; }
trap cleanup EXIT
cd "$T"
. "$SRC/tests/sh_check.sh"

# The binaries of this build are used as they are: a stamp newer than every source stands in
# for Makefile.experiments' build step (which would reconfigure this build directory).
touch "$T/built.stamp"
M=(make -f "$SRC/Makefile.experiments" PROFILE=smoke BUILD="$BIN" BUILD_STAMP="$T/built.stamp"
   DATA="$T/data" SIMULATE=yes RESULTS="$T/results" FIG_OUT="$T/plots" FIG_DATA="$T/plots/data")

start=$(date +%s.%N)
"${M[@]}" -j"$jobs" >make.log 2>&1
rc=$?
wall=$(echo "$(date +%s.%N) - $start" | bc)
printf 'smoke reproduction: %.1f s wall with -j%s (make exit %d)\n' "$wall" "$jobs" "$rc"
check "make -f Makefile.experiments PROFILE=smoke succeeds" test "$rc" -eq 0
if [ "$rc" -ne 0 ]; then
    tail -n 40 make.log
fi

status=$("${M[@]}" -s status 2>&1)
echo "status: $status"
planned=$(sed -n 's/.*(of \([0-9]*\) runs).*/\1/p' <<<"$status")
done_n=$(sed -n 's/.*done \([0-9]*\) .*/\1/p' <<<"$status")
check "status names the planned runs" test -n "$planned"
check "at least 40 runs planned (every experiment of Fig. 3, 4 and 5)" test "${planned:-0}" -ge 40
check "every planned run is done" test "${done_n:-x}" = "${planned:-y}"
check "no run failed or is still running" grep -q 'planned 0  running 0 .* failed 0' <<<"$status"

for exp in cores fig3 fig3_ablation fig4_cores fig4_direct fig4_diff_core fig4_best_core fig5; do
    n=$(sqlite3 "$T/results/results.db" "SELECT COUNT(*) FROM runs WHERE experiment = '$exp' AND status = 'done'" 2>/dev/null)
    check "experiment $exp has done runs ($n)" test "${n:-0}" -gt 0
done

for fig in fig1 fig3 fig3_ablation fig4 fig5 sim_rf sim_gt training; do
    for fmt in png svg pdf; do
        check "figure $fig.$fmt drawn" test -s "$T/plots/$fig.$fmt"
    done
done
if [ -s "$T/plots/fig5.png" ]; then
    check "fig5.png is a PNG" bash -c "head -c 8 '$T/plots/fig5.png' | od -An -tx1 | grep -q '89 50 4e 47'"
fi
check "REPORT.md written" test -s "$T/results/REPORT.md"
check "REPORT.html written" test -s "$T/results/REPORT.html"
check "the report names the smoke profile" grep -q 'profile\*\*: smoke' "$T/results/REPORT.md"
check "the report names the simulated world" grep -q 'simulated world\*\*: SIM_SEED=1 ' "$T/results/REPORT.md"
check "the report counts every run as done" grep -q "${planned:-x} planned: ${planned:-y} done, 0 failed" "$T/results/REPORT.md"
check "the report has no figure without data" not_grep "no data for" "$T/results/REPORT.md"
h=$(sqlite3 "$T/results/results.db" "SELECT COUNT(*) FROM headline WHERE ours IS NOT NULL" 2>/dev/null)
check "the headline view has values ($h)" test "${h:-0}" -ge 5
check "a second make has nothing to do (make -q)" "${M[@]}" -q

if [ "$fails" -ne 0 ]; then
    echo "test_repro_smoke: $fails check(s) failed; the make log ends:"
    tail -n 20 make.log
    exit 1
fi
echo "test_repro_smoke: all checks passed"
