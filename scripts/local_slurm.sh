#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, to try `python train.py -m hydra/launcher=slurm ...`
# before a real cluster:
#
#   scripts/local_slurm.sh start    # installs slurm-wlm + munge first when root and missing
#   export SLURM_CONF=/tmp/socio_re_slurm/slurm.conf   # the line `start` prints
#   python train.py -m hydra/launcher=slurm hydra.launcher.gpus_per_node=0 \
#       hydra.launcher.cpus_per_task=1 hydra.launcher.mem_gb=2 debug=smoke seed=1,2
#   scripts/local_slurm.sh status   # daemons, sinfo, squeue
#   scripts/local_slurm.sh stop     # cancels the jobs, stops the daemons it started
#
# Everything lives in $SOCIO_RE_SLURM_DIR (default /tmp/socio_re_slurm): slurm.conf, its own
# munged (own key and socket, so a system munge is neither needed nor touched), the daemons'
# state, spool, pid and log files. The node is sized from `nproc` and the available memory
# (RealMemory a little under it), with GPUs as gres when nvidia-smi lists any; one partition,
# `debug` (Default=YES), so the presets' partition=null lands there. No accounting (sacct
# reports it disabled; the sweep launcher then reads job states from squeue).
# Ports: $SOCIO_RE_SLURM_PORT (slurmctld, default 6817) and the next one (slurmd).
# Idempotent: `start` on a running cluster says so and exits 0; `stop` on a stopped one too.
# Exit codes: 0 ok (status: running), 1 error, 3 status: not running.

set -euo pipefail

DIR=${SOCIO_RE_SLURM_DIR:-/tmp/socio_re_slurm}
PORT=${SOCIO_RE_SLURM_PORT:-6817}
PARTITION=debug
CONF=$DIR/slurm.conf
DAEMONS=(slurmd slurmctld munged)  # stop order
START_TIMEOUT_S=60

die() { echo "local_slurm: $*" >&2; exit 1; }
say() { echo "local_slurm: $*"; }

pid_of() {  # the live pid from the daemon's pid file, or nothing
    local file=$DIR/run/$1.pid pid
    [[ -s $file ]] || return 0
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
    return 0
}

running() { [[ -n $(pid_of "$1") ]]; }

ensure_installed() {
    local missing=()
    for cmd in munged slurmctld slurmd sbatch squeue sinfo scancel; do
        command -v "$cmd" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" \
            >/dev/null 2>&1 || missing+=("$cmd")
    done
    ((${#missing[@]} == 0)) && return 0
    if [[ $(id -u) != 0 ]]; then
        die "Slurm is not installed (missing: ${missing[*]}); as root: apt-get install -y slurm-wlm munge"
    fi
    command -v apt-get >/dev/null || die "Slurm is not installed (missing: ${missing[*]}) and there is no apt-get; install Slurm and munge"
    say "installing slurm-wlm and munge (apt-get) ..."
    local log=${TMPDIR:-/tmp}/socio_re_slurm_apt.log
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            slurm-wlm munge; } >"$log" 2>&1; then
        die "apt-get install slurm-wlm munge failed; see $log"
    fi
}

# Sizes of this machine: CPUs this process may use, memory in MB a little under what is
# available (10% and at least 512 MB left to the rest of the machine), GPUs nvidia-smi lists.
node_cpus() { nproc; }
node_mem_mb() {
    local avail
    avail=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
    [[ -n $avail ]] || avail=$(awk '/^MemFree:/ {print int($2 / 1024)}' /proc/meminfo)
    local spare=$((avail / 10 > 512 ? avail / 10 : 512))
    echo $((avail - spare > 256 ? avail - spare : 256))
}
node_gpus() {
    command -v nvidia-smi >/dev/null 2>&1 || { echo 0; return; }
    local n
    n=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
    # gres.conf names the device files; without them slurmd would refuse the node.
    [[ $n -gt 0 && -e /dev/nvidia0 ]] && echo "$n" || echo 0
}

write_conf() {
    local host user cpus mem gpus first_id gres_line=""
    host=$(hostname -s)
    user=$(id -un)
    cpus=$(node_cpus)
    mem=$(node_mem_mb)
    gpus=$(node_gpus)
    # Job ids continue across stop/start (the state is kept); a fresh directory starts from a
    # time-based id so that a sweep directory's .submitit/<job id> folders of an earlier
    # cluster (same path, ids from 1 again) are never mistaken for this one's jobs.
    [[ -s $DIR/first_job_id ]] || echo $(( $(date +%s) % 50000000 + 1000 )) >"$DIR/first_job_id"
    first_id=$(<"$DIR/first_job_id")
    if ((gpus > 0)); then
        gres_line="Gres=gpu:$gpus"
        {
            echo "AutoDetect=off"
            echo "NodeName=$host Name=gpu File=/dev/nvidia[0-$((gpus - 1))]"
        } >"$DIR/gres.conf"
    else
        rm -f "$DIR/gres.conf"
    fi
    cat >"$CONF" <<EOF
# Written by scripts/local_slurm.sh start (rewritten on every start); one node, no accounting.
ClusterName=socio_re_local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/run/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
FirstJobId=$first_id
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
# The node is what this file says (nproc may be under the hardware's CPUs in a container).
SlurmdParameters=config_overrides
SlurmdTimeout=300
InactiveLimit=0
KillWait=10
MinJobAge=300
${gres_line:+GresTypes=gpu}
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem $gres_line State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    say "node $host: $cpus CPUs, ${mem} MB, $gpus GPUs; partition $PARTITION (default)"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: until the command succeeds
    local seconds=$1 what=$2
    shift 2
    local end=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < end)) || return 1
        sleep 0.5
    done
}

node_ready() {  # the node is up (idle, mixed or allocated) for the controller
    local state
    state=$(SLURM_CONF=$CONF sinfo -h -n "$(hostname -s)" -o %T 2>/dev/null | head -1)
    [[ $state =~ ^(idle|mixed|allocated|completing) ]]
}

last_log_lines() { [[ -f $DIR/log/$1.log ]] && tail -5 "$DIR/log/$1.log" | sed 's/^/    /' >&2; }

start_daemon() {  # start_daemon NAME COMMAND...: start unless running; fail with its log
    local name=$1
    shift
    if running "$name"; then
        return 0
    fi
    rm -f "$DIR/run/$name.pid"
    if ! "$@" >>"$DIR/log/$name.start.log" 2>&1; then
        tail -5 "$DIR/log/$name.start.log" | sed 's/^/    /' >&2
        last_log_lines "$name"
        die "$name did not start (logs: $DIR/log/$name*.log)"
    fi
    if ! wait_for 15 "$name pid" running "$name"; then
        last_log_lines "$name"
        die "$name did not start (logs: $DIR/log/$name*.log)"
    fi
}

port_free() {  # nothing but our own daemon listens on the port
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cmd_start() {
    if running munged && running slurmctld && running slurmd; then
        say "already running ($DIR)"
        echo "export SLURM_CONF=$CONF"
        return 0
    fi
    ensure_installed
    export PATH=$PATH:/usr/sbin:/sbin
    mkdir -p "$DIR"/{run,log,state,spool}
    chmod 0755 "$DIR" "$DIR/run"
    chmod 0700 "$DIR/state"
    running slurmctld || port_free "$PORT" || die "port $PORT is in use (another slurmctld?); pick another with SOCIO_RE_SLURM_PORT"
    running slurmd || port_free $((PORT + 1)) || die "port $((PORT + 1)) is in use (another slurmd?); pick another with SOCIO_RE_SLURM_PORT"
    write_conf
    export SLURM_CONF=$CONF

    if [[ ! -s $DIR/munge.key ]]; then
        (umask 077 && head -c 1024 /dev/urandom >"$DIR/munge.key")
    fi
    local force=()
    [[ $(id -u) == 0 ]] && force=(--force)  # munged refuses root without it
    start_daemon munged munged "${force[@]}" --socket="$DIR/run/munge.socket" \
        --key-file="$DIR/munge.key" --pid-file="$DIR/run/munged.pid" \
        --log-file="$DIR/log/munged.log" --seed-file="$DIR/run/munged.seed"
    start_daemon slurmctld slurmctld -f "$CONF"
    start_daemon slurmd slurmd -f "$CONF"
    if ! wait_for "$START_TIMEOUT_S" "node" node_ready; then
        last_log_lines slurmctld
        last_log_lines slurmd
        die "the node did not come up within ${START_TIMEOUT_S}s (logs: $DIR/log/); stop with: $0 stop"
    fi
    say "started ($DIR)"
    echo "export SLURM_CONF=$CONF"
}

cmd_stop() {
    local any=0 name pid
    for name in "${DAEMONS[@]}"; do running "$name" && any=1; done
    if ((any == 0)); then
        say "not running ($DIR)"
        rm -f "$DIR"/run/*.pid
        return 0
    fi
    export PATH=$PATH:/usr/sbin:/sbin SLURM_CONF=$CONF
    if running slurmctld; then  # jobs first: their slurmstepd would outlive slurmd
        local jobs
        jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ' || true)
        if [[ -n ${jobs// /} ]]; then
            say "cancelling jobs: $jobs"
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            wait_for 30 "jobs gone" bash -c '[[ -z $(squeue -h -o %A 2>/dev/null) ]]' || \
                say "jobs still listed after 30s; stopping anyway"
        fi
    fi
    for name in "${DAEMONS[@]}"; do
        pid=$(pid_of "$name")
        [[ -n $pid ]] || continue
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_for 20 "$name exit" bash -c "! kill -0 $pid" ; then
            say "$name (pid $pid) ignored SIGTERM for 20s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            wait_for 5 "$name exit" bash -c "! kill -0 $pid" || die "$name (pid $pid) is still running"
        fi
        rm -f "$DIR/run/$name.pid"
    done
    # slurmstepd of a job slurmd started (their sockets are in the spool): wait for them.
    wait_for 15 "job steps gone" bash -c "[[ -z \$(find '$DIR/spool' -type s 2>/dev/null) ]]" || \
        say "job step sockets remain under $DIR/spool"
    say "stopped ($DIR; state and logs kept, remove the directory to start afresh)"
}

cmd_status() {
    local name pid all=1
    for name in munged slurmctld slurmd; do
        pid=$(pid_of "$name")
        if [[ -n $pid ]]; then
            say "$name running (pid $pid)"
        else
            say "$name not running"
            all=0
        fi
    done
    if ((all == 0)); then
        say "not running ($DIR); start with: $0 start"
        return 3
    fi
    echo "export SLURM_CONF=$CONF"
    export PATH=$PATH:/usr/sbin:/sbin SLURM_CONF=$CONF
    sinfo
    squeue
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status   (state in \${SOCIO_RE_SLURM_DIR:-/tmp/socio_re_slurm})" >&2
       exit 1 ;;
esac
