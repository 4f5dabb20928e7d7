#!/usr/bin/env bash
# memcheck.sh - a smoke run of the pipeline's stages under valgrind memcheck (issue 9): the
# simulator (smoke profile, the evaluation scan), training on that simulated scan and on a fixture
# scan (a small network), evaluation with predictions, the same training command again (it reads
# the saved state), a conversion to a file tree and back, a merge into a store and a bad input.
# Each must report no memcheck error and no definitely lost bytes.
#   scripts/memcheck.sh [BUILD]        BUILD: the build folder (default build)
# Environment: FIGURES (a file to append "memcheck_programs N" and "memcheck_errors N" to).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
command -v valgrind >/dev/null || { echo "memcheck.sh: valgrind is not installed (scripts/deps.sh --dev)" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_memcheck_XXXXXX")
trap 'rm -rf "$T"' EXIT
data=tests/fixtures/data/static11111-1-1-preproc0.h5
export OPENBLAS_NUM_THREADS=1
# A stage that finds OpenBLAS on its Prescott kernels executes itself again with better ones
# (pipeline/stage.c); under valgrind that exec would leave valgrind behind, so the kernels are named
# here and no stage executes itself again.
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Prescott}
small=(--set model.core.layers=2 --set model.core.hidden_channels=8 --set model.core.input_kern=5
       --set model.core.hidden_kern=3 --set train.batch_size=8 --quiet)
programs=0 errors=0 lost=0 failed=0
vg() { # vg NAME WANT_EXIT command...: run under memcheck, count its errors and definitely lost bytes
    local name=$1 want=$2
    shift 2
    local log=$T/$name.vg
    programs=$((programs + 1))
    local t0=$SECONDS rc=0
    valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
        --error-exitcode=99 --num-callers=30 --log-file="$log" "$@" >"$T/$name.out" 2>&1 || rc=$?
    local e d
    e=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -n 1)
    d=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d , | tail -n 1)
    e=${e:-0} d=${d:-0}
    errors=$((errors + e))
    lost=$((lost + d))
    printf 'memcheck: %-22s exit %d, %d errors, %d bytes definitely lost (%d s)\n' "$name" "$rc" "$e" "$d" \
        $((SECONDS - t0))
    if [ "$rc" -ne "$want" ] || [ "$e" -ne 0 ] || [ "$d" -ne 0 ]; then
        failed=$((failed + 1))
        tail -n 40 "$T/$name.out"
        grep -v '^==[0-9]*== *$' "$log" | head -n 60
    fi
}

vg simulate 0 "$build/nsid-simulate" --profile smoke --out "$T/sim" --threads 1 --set groups=evaluation
sim=$T/sim/static20457-5-9-preproc0.h5
vg train_simulated 0 "$build/nsid-train" "${small[@]}" --set train.max_epochs=2 --set data.image_n=64 --data "$sim" \
    --out "$T/simrun"
vg eval_simulated 0 "$build/nsid-eval" --checkpoint "$T/simrun/checkpoint.h5" --data "$sim" --db "$T/simrun/run.db" \
    --quiet
vg train 0 "$build/nsid-train" "${small[@]}" --set train.max_epochs=3 --data "$data" --out "$T/run"
vg eval 0 "$build/nsid-eval" --checkpoint "$T/run/checkpoint.h5" --data "$data" --db "$T/run/run.db" \
    --predictions "$T/pred.h5" --quiet
# the same command again: it reads the saved state and finds the run trained
vg train_again 0 "$build/nsid-train" "${small[@]}" --set train.max_epochs=3 --data "$data" --out "$T/run"
vg convert_to_tree 0 "$build/nsid-convert" "$data" "$T/static11111-1-1-preproc0"
vg convert_to_h5 0 "$build/nsid-convert" "$T/static11111-1-1-preproc0" "$T/back.h5"
vg merge 0 "$build/nsid-db" merge "$T/run/run.db" --into "$T/results.db"
vg bad_input 1 "$build/nsid-train" "${small[@]}" --data "$T/no_such_scan.h5" --out "$T/bad"

echo "memcheck: $programs programs, $errors errors, $lost bytes definitely lost"
if [ -n "${FIGURES:-}" ]; then
    printf 'memcheck_programs %d\nmemcheck_errors %d\nmemcheck_definitely_lost_bytes %d\n' "$programs" "$errors" \
        "$lost" >>"$FIGURES"
fi
exit $((failed > 0))
