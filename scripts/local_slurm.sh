#!/usr/bin/env bash
# A Slurm cluster on this machine, to try `python train.py -m hydra/launcher=slurm ...` before a
# real cluster: one node (default) or N nodes, each in its own network + UTS namespace.
#
#   scripts/local_slurm.sh start    # installs slurm-wlm + munge first when root and missing
#   scripts/local_slurm.sh start --nodes 2   # two nodes, node1 and node2 (root: namespaces)
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
# Exit codes: 0 ok (status: running), 1 error, 3 status: not running, 4 start --nodes N>1 where
# network namespaces cannot be made (not root, no iproute2): one line says why.
#
# N nodes (--nodes N, or $SOCIO_RE_SLURM_NODES): a bridge in this (the "login") namespace and,
# joined to it by veth pairs, one namespace for slurmctld (host `slurmctl`) and one per node
# (`node1` .. `nodeN`), each with its own hostname and address in a /24 of 10.0.0.0/8 derived
# from the state directory (or $SOCIO_RE_SLURM_SUBNET, e.g. 10.77.3): .1 is this namespace,
# .2 the controller, .11.. the nodes. Every daemon listens inside its own namespace only (which
# holds nothing but its loopback and its address), so nothing listens on or sends to any other
# address; the cluster's hosts file ($DIR/hosts, mounted over /etc/hosts in the daemons' private
# mount namespaces, so this machine's own /etc/hosts is untouched) names every host. The CPUs and memory are split between the nodes; the files are
# shared (one machine), as on a cluster with a shared filesystem. `stop` removes the
# namespaces, links and hosts files again.
#   scripts/local_slurm.sh kill-node node2     # the node dies: its slurmd and every process in
#                                              # its namespace get SIGKILL
#   scripts/local_slurm.sh start-node node2    # it boots again (slurmd registers; back in service)

set -euo pipefail

DIR=${SOCIO_RE_SLURM_DIR:-/tmp/socio_re_slurm}
PORT=${SOCIO_RE_SLURM_PORT:-6817}
PARTITION=debug
CONF=$DIR/slurm.conf
DAEMONS=(slurmd slurmctld munged)  # stop order
START_TIMEOUT_S=60
NET_ENV=$DIR/net.env  # a multi-node cluster's names and addresses, written by start
NODES=1               # how many nodes this cluster has (start: --nodes; else from $NET_ENV)

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

conf_ports_and_auth() {  # ports, users, munge and state: the same for one node or several
    cat <<EOF
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/run/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
EOF
}

conf_common() {  # the settings every local cluster shares (one node or several)
    cat <<EOF
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
EOF
}

write_conf_one_node() {
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
$(conf_ports_and_auth)
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$(conf_common)
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


# --- several nodes: namespaces ---------------------------------------------------------------

# Names of a multi-node cluster, from the state directory (two clusters in two directories get
# different namespaces, links and subnets): sets TAG, NET (the /24's first three octets), BR.
net_names() {
    TAG=$(printf '%s' "$DIR" | sha1sum | cut -c1-6)
    if [[ -n ${SOCIO_RE_SLURM_SUBNET:-} ]]; then
        NET=$SOCIO_RE_SLURM_SUBNET
        [[ $NET =~ ^10\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || \
            die "SOCIO_RE_SLURM_SUBNET=$NET is not the first three octets of a /24 in 10.0.0.0/8 (e.g. 10.77.3)"
    else
        NET="10.$((16#${TAG:0:2} % 100 + 100)).$((16#${TAG:2:2}))"
    fi
    BR=srb$TAG
}
ns_ctl() { echo "sr${TAG}c"; }
ns_node() { echo "sr${TAG}n$1"; }        # node i (1-based)
veth_ctl() { echo "sr${TAG}vc"; }
veth_node() { echo "sr${TAG}v$1"; }
addr_ctl() { echo "$NET.2"; }
addr_node() { echo "$NET.$((10 + $1))"; }
node_name() { echo "node$1"; }
node_index() {  # node_index NAME: i of node<i>, or fail
    [[ $1 =~ ^node([0-9]+)$ ]] && ((BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= NODES)) || \
        die "no node $1 in this cluster (node1..node$NODES)"
    echo "${BASH_REMATCH[1]}"
}
node_list() { ((NODES == 1)) && echo "node1" || echo "node[1-$NODES]"; }

load_net_env() {  # NODES and the names of the cluster started in $DIR, if it has several
    [[ -s $NET_ENV ]] || return 0
    # shellcheck disable=SC1090
    source "$NET_ENV"
    net_names
}

can_make_namespaces() {  # prints why not, returns 1, when this machine cannot
    if [[ $(id -u) != 0 ]]; then echo "network namespaces need root"; return 1; fi
    command -v ip >/dev/null || { echo "ip (iproute2) is not installed: apt-get install iproute2"; return 1; }
    command -v unshare >/dev/null || { echo "unshare (util-linux) is not installed"; return 1; }
    local probe=sr${TAG}probe
    if ! ip netns add "$probe" 2>/dev/null; then
        echo "ip netns add fails here (no network namespaces in this container)"; return 1
    fi
    ip netns del "$probe" 2>/dev/null || true
    if ! ip link add "${BR}p" type bridge 2>/dev/null; then
        echo "ip link add type bridge fails here (no bridges in this container)"; return 1
    fi
    ip link del "${BR}p" 2>/dev/null || true
}

write_hosts() {  # the hosts file every namespace of the cluster sees as /etc/hosts
    local i
    {
        echo "127.0.0.1 localhost"
        echo "$NET.1 slurmlogin"
        echo "$(addr_ctl) slurmctl"
        for ((i = 1; i <= NODES; i++)); do echo "$(addr_node "$i") $(node_name "$i")"; done
    } >"$DIR/hosts"
}

add_namespace() {  # add_namespace NS VETH ADDRESS: a namespace joined to the bridge
    local ns=$1 veth=$2 address=$3
    ip netns list | grep -qw "^$ns" || ip netns add "$ns"
    ip link show "$veth" >/dev/null 2>&1 || ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$BR" up
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip addr replace "$address/24" dev eth0
    ip netns exec "$ns" ip link set eth0 up
}

net_up() {
    if ip -4 -o addr show | grep -v " $BR " | grep -q " inet $NET\."; then
        die "the subnet $NET.0/24 is in use on this machine; pick another with SOCIO_RE_SLURM_SUBNET (e.g. 10.77.3)"
    fi
    write_hosts
    ip link show "$BR" >/dev/null 2>&1 || ip link add "$BR" type bridge
    ip addr replace "$NET.1/24" dev "$BR"
    ip link set "$BR" up
    add_namespace "$(ns_ctl)" "$(veth_ctl)" "$(addr_ctl)"
    local i
    for ((i = 1; i <= NODES; i++)); do
        add_namespace "$(ns_node "$i")" "$(veth_node "$i")" "$(addr_node "$i")"
    done
    say "network: bridge $BR $NET.1/24 (this machine: slurmlogin), slurmctl $(addr_ctl), $(node_list) $(addr_node 1)..$(addr_node "$NODES")"
}

net_down() {  # everything net_up made; safe to run twice
    local i ns
    for ns in "$(ns_ctl)" $(for ((i = 1; i <= NODES; i++)); do ns_node "$i"; done); do
        if ip netns list | grep -qw "^$ns"; then
            local pids
            pids=$(ip netns pids "$ns" 2>/dev/null || true)
            # shellcheck disable=SC2086
            [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
            ip netns del "$ns" 2>/dev/null || true
        fi
    done
    ip link del "$(veth_ctl)" 2>/dev/null || true
    for ((i = 1; i <= NODES; i++)); do ip link del "$(veth_node "$i")" 2>/dev/null || true; done
    ip link del "$BR" 2>/dev/null || true
}

in_ns() {  # in_ns NS HOST COMMAND...: run the command in namespace NS with hostname HOST
    # nsenter, not `ip netns exec`: that remounts /sys, and slurmd wants its cgroup mounts. A
    # private mount namespace puts the cluster's hosts file over /etc/hosts for this command and
    # whatever it starts (the jobs too), and nothing else.
    local ns=$1 host=$2
    shift 2
    nsenter --net="/run/netns/$ns" unshare --mount --uts --propagation private /bin/sh -c \
        'mount --bind "$0" /etc/hosts && hostname "$1" && shift && exec "$@"' \
        "$DIR/hosts" "$host" "$@"
}

write_conf_nodes() {
    local user cpus mem first_id
    user=$(id -un)
    cpus=$(( $(node_cpus) / NODES ))
    ((cpus >= 1)) || cpus=1
    mem=$(( $(node_mem_mb) / NODES ))
    [[ -s $DIR/first_job_id ]] || echo $(( $(date +%s) % 50000000 + 1000 )) >"$DIR/first_job_id"
    first_id=$(<"$DIR/first_job_id")
    rm -f "$DIR/gres.conf"
    cat >"$CONF" <<EOF2
# Written by scripts/local_slurm.sh start --nodes $NODES (rewritten on every start): slurmctld and
# each node in its own network namespace on bridge $BR ($NET.0/24); no accounting.
ClusterName=socio_re_local
SlurmctldHost=slurmctl($(addr_ctl))
$(conf_ports_and_auth)
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
$(conf_common)
# A node whose slurmd comes back registers and is in service again (a rebooted node).
ReturnToService=2
SlurmdParameters=config_overrides
# A node that stops answering is DOWN after a minute (its jobs are requeued), not after 5.
SlurmdTimeout=60
InactiveLimit=0
KillWait=10
MinJobAge=300
NodeName=DEFAULT CPUs=$cpus RealMemory=$mem State=UNKNOWN
EOF2
    local i
    for ((i = 1; i <= NODES; i++)); do
        echo "NodeName=$(node_name "$i") NodeAddr=$(addr_node "$i")" >>"$CONF"
    done
    echo "PartitionName=$PARTITION Nodes=$(node_list) Default=YES MaxTime=INFINITE State=UP" >>"$CONF"
    say "nodes $(node_list): $cpus CPUs and ${mem} MB each; partition $PARTITION (default)"
}

write_conf() { if ((NODES > 1)); then write_conf_nodes; else write_conf_one_node; fi; }

start_node() {  # start_node i: slurmd of node i in its namespace
    local i=$1 name
    name=$(node_name "$i")
    start_daemon "slurmd-$name" in_ns "$(ns_node "$i")" "$name" slurmd -f "$CONF" -N "$name"
}

kill_node() {  # kill_node NAME: the node dies (SIGKILL to everything in its namespace)
    local i name=$1 pids
    i=$(node_index "$name")
    pids=$(ip netns pids "$(ns_node "$i")" 2>/dev/null | tr '\n' ' ' || true)
    if [[ -z ${pids// /} ]]; then
        say "$name: nothing runs there"
        return 0
    fi
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    rm -f "$DIR/run/slurmd-$name.pid"
    say "$name killed: its slurmd and every process in its namespace (pids $pids)"
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

node_ready() {  # node_ready [NAME]: the node is up (idle, mixed or allocated) for the controller
    local state
    state=$(SLURM_CONF=$CONF sinfo -h -n "${1:-$(hostname -s)}" -o %T 2>/dev/null | head -1)
    [[ $state =~ ^(idle|mixed|allocated|completing) ]]
}

nodes_ready() {  # every node of a multi-node cluster is up
    local i
    for ((i = 1; i <= NODES; i++)); do node_ready "$(node_name "$i")" || return 1; done
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
    local wanted=${SOCIO_RE_SLURM_NODES:-1}
    while (($# > 0)); do
        case $1 in
            --nodes) wanted=${2:-}; shift 2 || die "--nodes needs a number" ;;
            --nodes=*) wanted=${1#--nodes=}; shift ;;
            *) die "start: unknown option $1 (usage: $0 start [--nodes N])" ;;
        esac
    done
    [[ $wanted =~ ^[1-9][0-9]*$ ]] || die "--nodes $wanted: give a whole number of nodes, 1 or more"
    load_net_env
    if [[ -s $NET_ENV || -s $CONF ]] && ((wanted != NODES)) && any_running; then
        die "a $NODES-node cluster runs in $DIR; stop it first ($0 stop) to start one of $wanted nodes"
    fi
    NODES=$wanted
    if ((NODES > 1)); then
        net_names
        local why
        if ! why=$(can_make_namespaces); then
            echo "local_slurm: cannot start $NODES nodes here: $why" >&2
            exit 4
        fi
    fi
    if all_running; then
        say "already running ($DIR)"
        echo "export SLURM_CONF=$CONF"
        return 0
    fi
    ensure_installed
    export PATH=$PATH:/usr/sbin:/sbin
    mkdir -p "$DIR"/{run,log,state,spool}
    chmod 0755 "$DIR" "$DIR/run"
    chmod 0700 "$DIR/state"
    if ((NODES == 1)); then
        rm -f "$NET_ENV"
        # One node listens on this machine's addresses: the ports must be free here.
        running slurmctld || port_free "$PORT" || die "port $PORT is in use (another slurmctld?); pick another with SOCIO_RE_SLURM_PORT"
        running slurmd || port_free $((PORT + 1)) || die "port $((PORT + 1)) is in use (another slurmd?); pick another with SOCIO_RE_SLURM_PORT"
    else
        printf 'NODES=%s\n' "$NODES" >"$NET_ENV"
        net_up
    fi
    write_conf
    export SLURM_CONF=$CONF

    if [[ ! -s $DIR/munge.key ]]; then
        (umask 077 && head -c 1024 /dev/urandom >"$DIR/munge.key")
    fi
    local force=()
    [[ $(id -u) == 0 ]] && force=(--force)  # munged refuses root without it
    # munge's socket is a file: the daemons in every namespace reach this one munged.
    start_daemon munged munged "${force[@]}" --socket="$DIR/run/munge.socket" \
        --key-file="$DIR/munge.key" --pid-file="$DIR/run/munged.pid" \
        --log-file="$DIR/log/munged.log" --seed-file="$DIR/run/munged.seed"
    if ((NODES == 1)); then
        start_daemon slurmctld slurmctld -f "$CONF"
        start_daemon slurmd slurmd -f "$CONF"
        if ! wait_for "$START_TIMEOUT_S" "node" node_ready; then
            last_log_lines slurmctld
            last_log_lines slurmd
            die "the node did not come up within ${START_TIMEOUT_S}s (logs: $DIR/log/); stop with: $0 stop"
        fi
    else
        start_daemon slurmctld in_ns "$(ns_ctl)" slurmctl slurmctld -f "$CONF"
        local i
        for ((i = 1; i <= NODES; i++)); do start_node "$i"; done
        if ! wait_for "$START_TIMEOUT_S" "nodes" nodes_ready; then
            last_log_lines slurmctld
            for ((i = 1; i <= NODES; i++)); do last_log_lines "slurmd-$(node_name "$i")"; done
            die "the nodes did not come up within ${START_TIMEOUT_S}s (logs: $DIR/log/); stop with: $0 stop"
        fi
    fi
    say "started ($DIR)"
    echo "export SLURM_CONF=$CONF"
}

daemons() {  # this cluster's daemons, in stop order
    if ((NODES == 1)); then
        echo slurmd slurmctld munged
    else
        local i
        for ((i = 1; i <= NODES; i++)); do echo "slurmd-$(node_name "$i")"; done
        echo slurmctld munged
    fi
}

all_running() {
    local name
    for name in $(daemons); do running "$name" || return 1; done
}

any_running() {
    local name
    for name in $(daemons); do running "$name" && return 0; done
    return 1
}

stop_daemon() {  # stop_daemon NAME: SIGTERM, then SIGKILL after 20 s
    local name=$1 pid
    pid=$(pid_of "$name")
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_for 20 "$name exit" bash -c "! kill -0 $pid" ; then
        say "$name (pid $pid) ignored SIGTERM for 20s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        wait_for 5 "$name exit" bash -c "! kill -0 $pid" || die "$name (pid $pid) is still running"
    fi
    rm -f "$DIR/run/$name.pid"
}

cmd_stop() {
    load_net_env
    local name
    if ! any_running; then
        ((NODES > 1)) && net_down
        rm -f "$DIR"/run/*.pid "$NET_ENV"
        say "not running ($DIR)"
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
    for name in $(daemons); do stop_daemon "$name"; done
    # slurmstepd of a job slurmd started (their sockets are in the spool): wait for them.
    wait_for 15 "job steps gone" bash -c "[[ -z \$(find '$DIR/spool' -type s 2>/dev/null) ]]" || \
        say "job step sockets remain under $DIR/spool"
    if ((NODES > 1)); then
        net_down  # also ends whatever still ran in a node's namespace
        rm -f "$NET_ENV"
        say "network removed (bridge $BR, $((NODES + 1)) namespaces)"
    fi
    say "stopped ($DIR; state and logs kept, remove the directory to start afresh)"
}

cmd_status() {
    load_net_env
    local name pid all=1
    for name in munged slurmctld $(daemons | grep '^slurmd'); do
        pid=$(pid_of "$name")
        if [[ -n $pid ]]; then
            say "$name running (pid $pid)"
        else
            say "$name not running"
            all=0
        fi
    done
    if ((all == 0)) && ! running slurmctld; then
        say "not running ($DIR); start with: $0 start"
        return 3
    fi
    echo "export SLURM_CONF=$CONF"
    export PATH=$PATH:/usr/sbin:/sbin SLURM_CONF=$CONF
    sinfo
    squeue
    ((all == 1)) || return 3
}

cmd_node() {  # cmd_node kill-node|start-node NAME
    load_net_env
    ((NODES > 1)) || die "$1 needs a cluster of several nodes (start --nodes N)"
    [[ -n ${2:-} ]] || die "usage: $0 $1 NODE (node1..node$NODES)"
    local i
    i=$(node_index "$2")
    export PATH=$PATH:/usr/sbin:/sbin SLURM_CONF=$CONF
    if [[ $1 == kill-node ]]; then
        kill_node "$2"
    else
        start_node "$i"
        wait_for "$START_TIMEOUT_S" "$2" node_ready "$2" || \
            die "$2 did not come back within ${START_TIMEOUT_S}s (scontrol show node $2)"
        say "$2 is back"
    fi
}

case ${1:-} in
    start) shift; cmd_start "$@" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    kill-node|start-node) cmd_node "$@" ;;
    *) echo "usage: $0 start [--nodes N]|stop|status|kill-node NODE|start-node NODE   (state in \${SOCIO_RE_SLURM_DIR:-/tmp/socio_re_slurm})" >&2
       exit 1 ;;
esac
