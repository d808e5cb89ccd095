#!/usr/bin/env bash
# A real one-node SLURM cluster on 127.0.0.1 for the tests (Debian 12: Slurm 22.05, MUNGE,
# slurmdbd + MariaDB so that `sacct` works as on a production cluster).
#
#   tests/slurm/cluster.sh start    install (apt-get, root), configure, start, wait until idle
#   tests/slurm/cluster.sh stop     cancel our jobs, stop exactly the daemons `start` started,
#                                   remove the configuration files it wrote to /etc/slurm
#   tests/slurm/cluster.sh status   0 if every daemon of this cluster runs, 1 otherwise
#   tests/slurm/cluster.sh purge    stop, then delete the state folder (logs, database)
#
# State, logs, pid files and a private MariaDB data folder and socket live under
# $SLURM_TEST_DIR (default /tmp/local-slurm). The configuration must sit where every Slurm
# command finds it without SLURM_CONF (the plugin's job steps drop SLURM_* variables), so it is
# copied to /etc/slurm/{slurm,gres,slurmdbd}.conf with a marker line naming $SLURM_TEST_DIR; a
# configuration there without that marker (a real Slurm installation, or a cluster of another
# state folder) makes `start` refuse, and `stop` removes only files with that marker. munged
# serves its default socket (/run/munge), as Slurm 22.05 requires; one that already runs there
# (the system's own) is used as it is and left running.
# Partitions: `cpu` (default) and `gpu`, both on this node; the node declares $SLURM_TEST_GPUS
# (default 1, at most 5) fake GPUs, each a distinct character device, so `--gpus=1` and
# `--gres=gpu:1` jobs schedule (there is no CUDA behind them).
# Daemons are stopped by the PIDs they recorded, after checking /proc/PID/comm, never by name.
# Both commands are idempotent: `start` on a running cluster only checks it.
set -euo pipefail

DIR=${SLURM_TEST_DIR:-/tmp/local-slurm}
GPUS=${SLURM_TEST_GPUS:-1}
# Marks the configuration files this script wrote, for this state folder only.
MARKER="# written by omicsflow tests/slurm/cluster.sh; state in $DIR"
ETC=/etc/slurm
CONF_FILES=(slurm.conf gres.conf slurmdbd.conf)
PORTS=(6817 6818 6819)
PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)
GPU_DEVICES=(/dev/null /dev/zero /dev/full /dev/random /dev/urandom)
# Daemons in start order; each name is also the daemon's /proc/PID/comm.
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)

log() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

pidfile() {
    case $1 in
    munged) echo "$DIR/munge/munged.pid" ;;
    mariadbd) echo "$DIR/mysql-run/mariadbd.pid" ;;
    *) echo "$DIR/run/$1.pid" ;;
    esac
}

# PID of a daemon of this cluster if it runs (its pid file names a live process whose
# /proc/PID/comm is the daemon's name), else nothing.
running_pid() {
    local file pid
    file=$(pidfile "$1")
    [[ -s $file ]] || return 0
    pid=$(tr -dc '0-9' 2>/dev/null <"$file") || return 0
    [[ -n $pid && -r /proc/$pid/comm ]] || return 0
    [[ $(</proc/"$pid"/comm) == "$1" ]] || return 0
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 0
    echo "$pid"
}

require_root() {
    [[ $(id -u) == 0 ]] || die "must run as root (it installs packages and starts daemons)"
}

# ------------------------------------------------------------------------------- install
install_packages() {
    local missing=() pkg
    for pkg in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$pkg")
    done
    [[ ${#missing[@]} == 0 ]] && return 0
    command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} by hand"
    log "installing ${missing[*]} (apt-get)"
    # Keep the packages' init scripts from starting services (there may be no init system).
    local made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    local rc=0
    {
        apt-get update -qq -o DPkg::Lock::Timeout=300 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                -o DPkg::Lock::Timeout=300 "${missing[@]}"
    } >"$DIR/log/apt.log" 2>&1 || rc=$?
    [[ $made_policy == 1 ]] && rm -f /usr/sbin/policy-rc.d
    [[ $rc == 0 ]] || die "apt-get failed (rc $rc); see $DIR/log/apt.log: $(tail -3 "$DIR/log/apt.log")"
}

# ------------------------------------------------------------------------------- configure
write_config() {
    local host node cpus memory gres_lines="" i
    host=$(hostname -s)
    [[ $GPUS =~ ^[1-5]$ ]] || die "SLURM_TEST_GPUS=$GPUS: expected 1..5 (one character device each)"
    # slurmd -C describes this machine; keep its topology, give Slurm 95 % of the memory.
    node=$(slurmd -C | head -1)
    memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
    cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
    [[ -n $memory && -n $cpus ]] || die "could not read CPUs/RealMemory from 'slurmd -C': $node"
    node=$(sed "s/RealMemory=[0-9]*/RealMemory=$((memory * 95 / 100))/" <<<"$node")
    for ((i = 0; i < GPUS; i++)); do
        gres_lines+="Name=gpu File=${GPU_DEVICES[$i]}"$'\n'
    done
    mkdir -p "$DIR/etc.new"
    cat >"$DIR/etc.new/slurm.conf" <<EOF
$MARKER
ClusterName=omicsflow
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$(pidfile slurmctld)
SlurmdPidFile=$(pidfile slurmd)
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# No cgroups: processes are tracked through /proc; memory is enforced by polling RSS.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
MinJobAge=300
ReturnToService=2
EnforcePartLimits=ALL
MpiDefault=none
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
$node Gres=gpu:$GPUS NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$host MaxTime=INFINITE State=UP
EOF
    printf '%s\n%s' "$MARKER" "$gres_lines" >"$DIR/etc.new/gres.conf"
    cat >"$DIR/etc.new/slurmdbd.conf" <<EOF
$MARKER
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
LogFile=$DIR/log/slurmdbd.log
PidFile=$(pidfile slurmdbd)
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$DIR/etc.new/slurmdbd.conf"
    check_etc_is_ours
    local file same=1 daemon
    for file in "${CONF_FILES[@]}"; do
        cmp -s "$DIR/etc.new/$file" "$ETC/$file" || same=0
    done
    if [[ $same == 1 ]]; then
        rm -rf "$DIR/etc.new"
        return 0
    fi
    # A changed configuration (another host name, GPU count) restarts the Slurm daemons.
    for daemon in slurmd slurmctld slurmdbd; do
        stop_daemon "$daemon"
    done
    mkdir -p "$ETC"
    for file in "${CONF_FILES[@]}"; do
        cp -p "$DIR/etc.new/$file" "$ETC/$file"
    done
    rm -rf "$DIR/etc.new"
    log "wrote $ETC/{slurm,gres,slurmdbd}.conf (node: $node)"
}

# A Slurm configuration in /etc/slurm that this script did not write belongs to a real
# installation: never overwrite or remove it.
check_etc_is_ours() {
    local file
    for file in "${CONF_FILES[@]}"; do
        if [[ -e $ETC/$file ]] && ! grep -qxF "$MARKER" "$ETC/$file"; then
            die "$ETC/$file exists and was not written by this script (a real Slurm" \
                "installation?); refusing to touch it. Run the SLURM tests on a CI machine."
        fi
    done
}

remove_config() {
    local file
    for file in "${CONF_FILES[@]}"; do
        [[ -e $ETC/$file ]] && grep -qxF "$MARKER" "$ETC/$file" && rm -f "$ETC/$file"
    done
    return 0
}

# ------------------------------------------------------------------------------- daemons
wait_for() { # seconds description command...
    local seconds=$1 what=$2 i
    shift 2
    for ((i = 0; i < seconds * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$what did not come up within $seconds s"
}

check_ports_free() {
    local port pids
    for port in "${PORTS[@]}"; do
        if ss -Hltn "sport = :$port" | grep -q .; then
            pids=$(ss -Hltnp "sport = :$port" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | tr '\n' ' ')
            die "port $port is already in use (PIDs: ${pids:-unknown}) by a process this script" \
                "did not start (leftover daemons whose pid files were deleted?). Stop those" \
                "PIDs by hand (kill PID), never by name."
        fi
    done
}

start_munged() {
    [[ -n $(running_pid munged) ]] && return 0
    # Slurm 22.05 reaches munged through its default socket only. A munged that already
    # serves it (the system's own) is used as it is, and left running by `stop`.
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        log "using the munged already running on /run/munge/munge.socket.2"
        return 0
    fi
    [[ -s /etc/munge/munge.key ]] || {
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    }
    install -d -o munge -g munge -m 0755 "$DIR/munge" /run/munge
    runuser -u munge -- /usr/sbin/munged --pid-file="$(pidfile munged)" \
        --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed" ||
        die "munged did not start; see $DIR/munge/munged.log"
    wait_for 10 munged munge -n
}

start_mariadbd() {
    [[ -n $(running_pid mariadbd) ]] && return 0
    install -d -o mysql -g mysql -m 0755 "$DIR/mysql-run"
    if [[ ! -d $DIR/mysql/mysql ]]; then
        install -d -o mysql -g mysql -m 0750 "$DIR/mysql"
        mariadb-install-db --user=mysql --datadir="$DIR/mysql" --skip-test-db \
            >"$DIR/log/mariadb-install-db.log" 2>&1 ||
            die "mariadb-install-db failed; see $DIR/log/mariadb-install-db.log"
    fi
    # mariadbd does not daemonize: detach it with setsid; it writes its own pid file.
    setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$DIR/mysql" \
        --socket="$DIR/mysql-run/mysqld.sock" --pid-file="$(pidfile mariadbd)" \
        --log-error="$DIR/mysql-run/error.log" --skip-networking --innodb-buffer-pool-size=64M \
        </dev/null >/dev/null 2>&1 &
    wait_for 60 mariadbd mariadb --socket="$DIR/mysql-run/mysqld.sock" -e "select 1"
    wait_for 10 "mariadbd pid file" test -s "$(pidfile mariadbd)"
}

start_slurmdbd() {
    [[ -n $(running_pid slurmdbd) ]] && return 0
    # slurmdbd reaches MariaDB as root through the private socket (no password, no network).
    MYSQL_UNIX_PORT=$DIR/mysql-run/mysqld.sock /usr/sbin/slurmdbd ||
        die "slurmdbd did not start; see $DIR/log/slurmdbd.log"
    wait_for 30 slurmdbd bash -c "ss -Hltn 'sport = :6819' | grep -q ."
}

start_slurmctld() {
    [[ -n $(running_pid slurmctld) ]] && return 0
    /usr/sbin/slurmctld || die "slurmctld did not start; see $DIR/log/slurmctld.log"
    wait_for 30 slurmctld scontrol ping
}

start_slurmd() {
    [[ -n $(running_pid slurmd) ]] && return 0
    /usr/sbin/slurmd || die "slurmd did not start; see $DIR/log/slurmd.log"
}

wait_until_idle() {
    local host state i resumed=0
    host=$(hostname -s)
    for ((i = 0; i < 300; i++)); do
        state=$(sinfo -h -n "$host" -o %T 2>/dev/null | head -1)
        case $state in
        idle | mixed | allocated) return 0 ;;
        drain* | down* | inval*)
            if [[ $resumed == 0 ]]; then
                log "node $host is $state; resuming it once"
                scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
                resumed=1
            fi
            ;;
        esac
        sleep 0.2
    done
    die "node $host is not idle after 60 s (state '${state:-none}'); see $DIR/log/slurmd.log" \
        "and $DIR/log/slurmctld.log: $(sinfo -h -R 2>/dev/null)"
}

stop_daemon() {
    local name=$1 pid i
    pid=$(running_pid "$name")
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        [[ -z $(running_pid "$name") ]] && {
            rm -f "$(pidfile "$name")"
            return 0
        }
        sleep 0.1
    done
    log "$name (PID $pid) ignored SIGTERM for 15 s; sending SIGKILL"
    [[ -n $(running_pid "$name") ]] && kill -KILL "$pid" 2>/dev/null || true
    rm -f "$(pidfile "$name")"
}

cancel_jobs() {
    [[ -n $(running_pid slurmctld) ]] || return 0
    local jobs i
    jobs=$(squeue -h -o %A 2>/dev/null | tr '\n' ' ') || true
    [[ -n ${jobs// /} ]] || return 0
    log "cancelling jobs $jobs"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        [[ -z $(squeue -h -t running,completing -o %A 2>/dev/null) ]] && return 0
        sleep 0.1
    done
}

# ------------------------------------------------------------------------------- commands
cmd_start() {
    require_root
    mkdir -p "$DIR"/{run,log,state,spool}
    chmod 755 "$DIR"
    touch "$DIR/.omicsflow-test-cluster" # lets `purge` delete this folder, and only this one
    if cmd_status >/dev/null 2>&1; then
        wait_until_idle
        log "already running"
        return 0
    fi
    install_packages
    local ours=0 daemon
    for daemon in "${DAEMONS[@]}"; do
        [[ -n $(running_pid "$daemon") ]] && ours=1
    done
    # With none of ours running, a listener on a Slurm port belongs to someone else.
    [[ $ours == 1 ]] || check_ports_free
    write_config
    start_munged
    start_mariadbd
    start_slurmdbd
    start_slurmctld
    start_slurmd
    wait_until_idle
    log "up: $(sinfo -h -o '%P %T %G' | tr '\n' ';')"
}

cmd_stop() {
    local i
    cancel_jobs
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
        stop_daemon "${DAEMONS[$i]}"
    done
    remove_config
    log "stopped"
}

cmd_status() {
    local daemon rc=0 pid
    for daemon in "${DAEMONS[@]}"; do
        pid=$(running_pid "$daemon")
        if [[ -n $pid ]]; then
            echo "$daemon running (PID $pid)"
        elif [[ $daemon == munged ]] && munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
            echo "munged running (not started by this script)"
        else
            echo "$daemon not running"
            rc=1
        fi
    done
    return $rc
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
purge)
    cmd_stop
    if [[ -f $DIR/.omicsflow-test-cluster ]]; then
        rm -rf "$DIR"
    fi
    ;;
*)
    echo "usage: $0 start|stop|status|purge" >&2
    exit 2
    ;;
esac
