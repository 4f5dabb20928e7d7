#!/usr/bin/env bash
# test_slurm_smoke.sh - issue 6 item 7 with the real stages: the smoke profile of experiments/
# through srun on a single-node SLURM on localhost, against the same profile run locally; the
# merged metrics must be identical and every run must have had its own SLURM job. Its own
# ports, so ctest -j can run it beside test_slurm.sh. The checks are test_slurm.sh's.
# ctest-labels: slurm repro
export NSID_SLURM_REAL=1
export NSID_SLURM_CTLD_PORT=${NSID_SLURM_SMOKE_CTLD_PORT:-26827} NSID_SLURM_D_PORT=${NSID_SLURM_SMOKE_D_PORT:-26828}
exec bash "$(dirname "$0")/test_slurm.sh"
