#!/usr/bin/env bash
# test_slurm.sh - LAUNCH=slurm: every run goes through srun on a single-node SLURM on localhost
# (scripts/slurm-local.sh, on ports 26817/26818 so a developer's instance is left alone) while
# make keeps the DAG; the merged results equal those of the same plan run locally.
#
# By default the stages are the stand-ins of tests/fake_stages.sh (seconds), and each run's
# SLURM job id is checked. With NSID_SLURM_REAL=1 (tests/test_slurm_smoke.sh, run by CI) the
# real stages of this build run the smoke profile of experiments/ twice, locally and through
# srun (about two minutes on 2 cores): every run's stages.log must name its SLURM job, and the
# merged metrics must be identical to the local run's. Skipped (exit 77), with a message, when SLURM is
# not installed (scripts/deps.sh and scripts/slurm-local.sh start install it as root).
# ctest-labels: slurm
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
if ! command -v slurmctld >/dev/null || ! command -v srun >/dev/null || ! command -v munged >/dev/null; then
    echo "test_slurm: skipped: SLURM is not installed (run scripts/slurm-local.sh start as root to install it)"
    exit 77   # CTest: Skipped (SKIP_RETURN_CODE)
fi
command -v sqlite3 >/dev/null || { echo "test_slurm: needs the sqlite3 shell"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_slurm_XXXXXX")
chmod 0755 "$T"      # munged runs as user munge and must reach its socket folder
export NSID_SLURM_CTLD_PORT=${NSID_SLURM_CTLD_PORT:-26817} NSID_SLURM_D_PORT=${NSID_SLURM_D_PORT:-26818}
cleanup() {
    "$SRC/scripts/slurm-local.sh" stop "$T/slurm" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
cd "$T"
. "$SRC/tests/sh_check.sh"

if ! "$SRC/scripts/slurm-local.sh" start "$T/slurm" >slurm-start.log 2>&1; then
    cat slurm-start.log
    tail -n 20 "$T"/slurm/log/* 2>/dev/null
    echo "FAIL: the local SLURM did not start"
    exit 1
fi
export SLURM_CONF=$T/slurm/slurm.conf

stamp=()
if [ "${NSID_SLURM_REAL:-0}" = 1 ]; then
    for b in nsid-simulate nsid-plan nsid-train nsid-eval nsid-db; do
        [ -x "$BIN/$b" ] || { echo "test_slurm: $BIN/$b missing (build first)"; exit 1; }
    done
    build=$BIN
    # this build's binaries as they are: a stamp newer than every source stands in for
    # Makefile.experiments' build step (which would reconfigure the build directory)
    touch "$T/built.stamp"
    stamp=(BUILD_STAMP="$T/built.stamp")
    specs=$(ls "$SRC"/experiments/*.yaml | tr '\n' ' ')
    profile=smoke
else
    . "$SRC/tests/fake_stages.sh"
    make_fake_stages fakebin "$BIN"
    build=fakebin
    mkdir -p specs
    printf 'experiment: cores\ndata: two\ngrid: {train.seed: [1, 2, 3]}\nselect: [train.seed]\n' >specs/cores.yaml
    printf 'experiment: xfer\ndata: evaluation\ndefaults: {train.detach_core: true}\ngrid: {data.image_n: [10, 20]}\n'\
'core: {experiment: cores}\nplot: {figure: fig5, curve: "11-S", x: $data.image_n}\n' >specs/xfer.yaml
    specs="specs/cores.yaml specs/xfer.yaml"
    profile=smoke
fi
export FAKE_LOG=$T/train.log
: >"$FAKE_LOG"

run() { # run LAUNCH RESULTS
    make -s -f "$SRC/Makefile.experiments" PROFILE=$profile BUILD=$build "${stamp[@]}" DATA=data SIMULATE=yes RESULTS=$2 SPECS="$specs" \
        PLOTS="$T/plots-$1" LAUNCH=$1 SLURM_TIME=30 -j4 merge >"make-$1.log" 2>&1 || { tail -n 30 "make-$1.log"; return 1; }
}
check "the plan runs locally" run local res-local
local_jobs=$(awk 'NF == 1' "$FAKE_LOG" | wc -l)
check "the same plan runs through srun" run slurm res-slurm
if [ "${NSID_SLURM_REAL:-0}" != 1 ]; then
    check "local runs had no SLURM job" test "$local_jobs" -eq 5
    check "every slurm run had a SLURM job id" test "$(awk 'NF == 2' "$FAKE_LOG" | wc -l)" -eq 5
else
    nruns=$(find res-local/runs -name done | wc -l)
    jobs_local=$(cat res-local/runs/*/stages.log | grep -c ' slurm job [0-9]')
    jobs_slurm=$(cat res-slurm/runs/*/stages.log | grep ' slurm job [0-9]' | awk '{print $NF}' | sort -u | wc -l)
    echo "real smoke profile: $nruns runs; $jobs_slurm distinct SLURM jobs under LAUNCH=slurm"
    check "the smoke profile ran (runs: $nruns)" test "$nruns" -ge 40
    check "no local run had a SLURM job ($jobs_local)" test "$jobs_local" -eq 0
    check "every slurm run had its own SLURM job ($jobs_slurm of $nruns)" test "$jobs_slurm" -eq "$nruns"
fi
q() { sqlite3 "$1/results.db" "SELECT r.id, r.status, m.scan, m.split, m.name, m.value FROM runs r
      JOIN metrics m ON m.run_id = r.id ORDER BY 1, 3, 4, 5"; }
q res-local >local.txt
q res-slurm >slurm.txt
check "results were merged" test -s local.txt
check "the merged results of the slurm run equal the local run's" cmp -s local.txt slurm.txt
check "all runs done under slurm" test "$(sqlite3 res-slurm/results.db \
    "SELECT count(*) FROM runs WHERE status <> 'done'")" -eq 0
check "make -q after the slurm run" make -s -q -f "$SRC/Makefile.experiments" PROFILE=$profile BUILD=$build "${stamp[@]}" DATA=data SIMULATE=yes \
    RESULTS=res-slurm SPECS="$specs" PLOTS="$T/plots-slurm" LAUNCH=slurm merge
echo "test_slurm: $fails failed"
exit $((fails > 0))
