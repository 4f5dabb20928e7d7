#!/usr/bin/env bash
# slurm-local.sh - a single-node SLURM on localhost, for LAUNCH=slurm tests (docs/experiments.md).
#
#   scripts/slurm-local.sh start [DIR]   install (if root and missing) and start munged, slurmctld, slurmd
#   scripts/slurm-local.sh stop  [DIR]   cancel jobs, wait for their steps, stop the daemons by PID
#   scripts/slurm-local.sh env   [DIR]   print `export SLURM_CONF=...` for clients (srun, sinfo)
#   scripts/slurm-local.sh status [DIR]  sinfo of the node
#
# DIR (default $NSID_SLURM_DIR or /tmp/nsid-slurm) holds the configuration, state, logs, the munge
# key and socket and the daemons' PIDs. No systemd, no cgroups: proctrack/linuxproc, task/none,
# select/cons_tres with CR_CPU, batch_sched_delay=0. Ports: NSID_SLURM_CTLD_PORT (default 6817) and
# NSID_SLURM_D_PORT (6818), so two instances can coexist. CPUs and memory come from `slurmd -C`
# (NSID_SLURM_CPUS overrides the CPU count, which must not exceed what slurmd -C reports).
set -euo pipefail

cmd=${1:-}
dir=${2:-${NSID_SLURM_DIR:-/tmp/nsid-slurm}}
ctld_port=${NSID_SLURM_CTLD_PORT:-6817}
d_port=${NSID_SLURM_D_PORT:-6818}
conf=$dir/slurm.conf

die() { echo "slurm-local: $*" >&2; exit 1; }

install_packages() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null &&
        command -v srun >/dev/null && return 0
    [ "$(id -u)" -eq 0 ] || die "slurmctld, slurmd, srun and munged are missing; install slurmctld slurmd slurm-client munge"
    echo "slurm-local: installing slurmctld slurmd slurm-client munge" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge \
        >/dev/null
}

# The user the daemons run as: munge/root when root, else the caller.
setup_users() {
    if [ "$(id -u)" -eq 0 ] && id munge >/dev/null 2>&1; then
        munge_user=munge
        slurm_user=root
    else
        munge_user=$(id -un)
        slurm_user=$(id -un)
    fi
}

write_conf() {
    local node cpus mem
    node=$(hostname -s)
    read -r cpus mem < <(slurmd -C | sed -n 's/.*CPUs=\([0-9]*\).*RealMemory=\([0-9]*\).*/\1 \2/p')
    [ -n "$cpus" ] || die "slurmd -C printed no CPUs"
    if [ -n "${NSID_SLURM_CPUS:-}" ]; then
        [ "$NSID_SLURM_CPUS" -le "$cpus" ] || die "NSID_SLURM_CPUS=$NSID_SLURM_CPUS exceeds the $cpus CPUs slurmd sees"
        cpus=$NSID_SLURM_CPUS
    fi
    cat >"$conf" <<EOF
# written by scripts/slurm-local.sh
ClusterName=nsidlocal
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge-run/munge.socket.2
SlurmUser=$slurm_user
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pidfile
SlurmdPidFile=$dir/slurmd.pidfile
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=batch_sched_delay=0
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=nsid Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

alive() { [ -f "$dir/$1.pid" ] && kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null; }

start_munge() {
    mkdir -p "$dir/munge-key" "$dir/munge-run" "$dir/log"
    chmod 0755 "$dir"
    if [ "$munge_user" != "$(id -un)" ] &&
        ! setpriv --reuid="$munge_user" --regid="$munge_user" --init-groups test -x "$dir/munge-run"; then
        die "user $munge_user cannot enter $dir: every folder above it must be searchable (chmod o+x)"
    fi
    if [ ! -s "$dir/munge-key/munge.key" ]; then
        head -c 1024 /dev/urandom >"$dir/munge-key/munge.key"
    fi
    chmod 0700 "$dir/munge-key"
    chmod 0400 "$dir/munge-key/munge.key"
    chmod 0755 "$dir/munge-run"
    chown -R "$munge_user" "$dir/munge-key" "$dir/munge-run" 2>/dev/null || true
    touch "$dir/log/munged.log" && chown "$munge_user" "$dir/log/munged.log" 2>/dev/null || true
    # The PID recorded must be munged's own: setpriv execs, so $! of this background job is munged.
    if [ "$munge_user" != "$(id -un)" ]; then
        setsid setpriv --reuid="$munge_user" --regid="$munge_user" --init-groups \
            munged --foreground --force --key-file="$dir/munge-key/munge.key" \
            --socket="$dir/munge-run/munge.socket.2" --pid-file="$dir/munge-run/munged.pid" \
            --log-file="$dir/log/munged.log" --seed-file="$dir/munge-run/munge.seed" \
            >>"$dir/log/munged.out" 2>&1 &
    else
        setsid munged --foreground --force --key-file="$dir/munge-key/munge.key" \
            --socket="$dir/munge-run/munge.socket.2" --pid-file="$dir/munge-run/munged.pid" \
            --log-file="$dir/log/munged.log" --seed-file="$dir/munge-run/munge.seed" \
            >>"$dir/log/munged.out" 2>&1 &
    fi
    echo $! >"$dir/munged.pid"
    for _ in $(seq 50); do [ -S "$dir/munge-run/munge.socket.2" ] && return 0; sleep 0.1; done
    die "munged did not start (see $dir/log/munged.log)"
}

start() {
    install_packages
    setup_users
    if alive slurmctld || alive slurmd || alive munged; then die "already running in $dir (stop it first)"; fi
    mkdir -p "$dir/state" "$dir/spool" "$dir/log"
    write_conf
    start_munge
    export SLURM_CONF=$conf
    setsid slurmctld -D -i -f "$conf" >>"$dir/log/slurmctld.out" 2>&1 &
    echo $! >"$dir/slurmctld.pid"
    setsid slurmd -D -f "$conf" -N "$(hostname -s)" >>"$dir/log/slurmd.out" 2>&1 &
    echo $! >"$dir/slurmd.pid"
    for _ in $(seq 150); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            echo "slurm-local: up in $dir (ports $ctld_port/$d_port); export SLURM_CONF=$conf"
            return 0
        fi
        alive slurmctld || die "slurmctld exited (see $dir/log/slurmctld.log)"
        alive slurmd || die "slurmd exited (see $dir/log/slurmd.log)"
        sleep 0.2
    done
    die "the node did not become idle within 30 s: $(sinfo -h 2>&1 | head -1) (see $dir/log)"
}

stop_pid() { # stop_pid NAME: TERM, wait up to 10 s, then KILL
    local name=$1 pid
    [ -f "$dir/$name.pid" ] || return 0
    pid=$(cat "$dir/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/$name.pid"
}

stop() {
    [ -f "$conf" ] || die "no SLURM in $dir"
    export SLURM_CONF=$conf
    if alive slurmctld; then
        scancel --user="$(id -un)" 2>/dev/null || true
        # steps outlive slurmd: wait until no job is left before stopping the daemons
        for _ in $(seq 100); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.1; done
    fi
    stop_pid slurmd
    stop_pid slurmctld
    stop_pid munged
    echo "slurm-local: stopped ($dir)"
}

case $cmd in
start) start ;;
stop) stop ;;
env) echo "export SLURM_CONF=$conf" ;;
status) SLURM_CONF=$conf sinfo ;;
*) echo "usage: slurm-local.sh start|stop|env|status [DIR]" >&2; exit 2 ;;
esac
