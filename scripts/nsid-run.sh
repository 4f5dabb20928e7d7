#!/usr/bin/env bash
# nsid-run.sh - one planned run, as make's recipe (results/plan.mk) calls it, locally or under srun:
#   scripts/nsid-run.sh ID SELECTION_FILE|- DATA...
# runs nsid-train then nsid-eval into RESULTS/runs/ID/ and, only when both succeed, touches
# RESULTS/runs/ID/done (the make target). SELECTION_FILE (written by `nsid-db select`) holds the
# checkpoint of the transferred core. Stage output goes to RESULTS/runs/ID/stages.log (its header
# line names the host and, under srun, the SLURM job); on failure
# its last lines are printed and the exit status is non-zero (run.db then says failed or running,
# never done).
# Environment: NSID_BIN (stage binaries, default build), NSID_RESULTS (default results),
#              NSID_RUN_THREADS (threads per run, default 1).
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: nsid-run.sh ID SELECTION_FILE|- DATA..." >&2
    exit 2
fi
id=$1
sel=$2
shift 2
bin=${NSID_BIN:-build}
out=${NSID_RESULTS:-results}/runs/$id
threads=${NSID_RUN_THREADS:-1}
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads

data=()
for d in "$@"; do data+=(--data "$d"); done
core=()
if [ "$sel" != - ]; then
    ckpt=$(head -n 1 "$sel")
    if [ -z "$ckpt" ] || [ ! -f "$ckpt" ]; then
        echo "nsid-run: $id: the selected core '$ckpt' (from $sel) does not exist" >&2
        exit 1
    fi
    core=(--set "model.core.checkpoint=$ckpt")
fi

mkdir -p "$out"
rm -f "$out/done"
log=$out/stages.log
{
    echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) $(hostname) nsid-run $id${SLURM_JOB_ID:+ slurm job $SLURM_JOB_ID}"
} >>"$log"

status=0
"$bin/nsid-train" --config "$out/run.json" "${core[@]}" "${data[@]}" --out "$out" --run-id "$id" \
    --threads "$threads" --quiet >>"$log" 2>&1 ||
    status=$?
if [ $status -eq 0 ]; then
    "$bin/nsid-eval" --checkpoint "$out/checkpoint.h5" "${data[@]}" --db "$out/run.db" --run-id "$id" \
        >>"$log" 2>&1 || status=$?
fi
if [ $status -ne 0 ]; then
    echo "nsid-run: run $id failed (exit $status); the last lines of $log:" >&2
    tail -n 20 "$log" >&2
    exit $status
fi
touch "$out/done"
