#!/usr/bin/env bash
# Install the Debian packages nsid needs (idempotent; quiet when all are present).
#   scripts/deps.sh            build, test and reproduction packages
#   scripts/deps.sh --dev      also the optional developer tools (PyTorch fixtures, clang, valgrind)
set -euo pipefail

# slurmctld/slurmd/slurm-client/munge: the single-node SLURM that tests/test_slurm.sh starts
# (scripts/slurm-local.sh) to check LAUNCH=slurm; apt starts no daemons without systemd.
pkgs=(build-essential cmake pkg-config libhdf5-dev hdf5-tools libopenblas-dev libcsv-dev
      libyaml-dev libjansson-dev libsqlite3-dev sqlite3 gnuplot-nox slurmctld slurmd slurm-client munge)
if [ "${1:-}" = "--dev" ]; then
    pkgs+=(python3-torch python3-numpy python3-h5py clang libclang-rt-14-dev valgrind)
fi

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
