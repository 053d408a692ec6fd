#!/usr/bin/env bash
# Start a single-node SLURM cluster on this machine, for tests/test_slurm.py.
#
#   tests/slurm/start_cluster.sh [STATE_DIR]     (default STATE_DIR: /tmp/pstm-slurm)
#
# Installs Debian's slurm-wlm and munge with apt-get when they are missing (needs root),
# starts munged, slurmctld and slurmd on localhost with a minimal slurm.conf, and waits until
# the node is idle.  The slurm.conf goes to SLURM's default place, /etc/slurm/slurm.conf
# (srun inside a job, started by snakemake-executor-plugin-slurm-jobstep, runs with the
# SLURM_* variables cleared and so finds only that one); a slurm.conf already there that this
# script did not write is never overwritten.  Spool, state and logs go to STATE_DIR.
# Accounting is off (no slurmdbd), so clients must query job states with squeue:
# snakemake --slurm-status-command squeue (set in workflow/profiles/slurm/config.yaml).
#
# On success the last line of stdout is   SLURM_CONF=/etc/slurm/slurm.conf
# Exit status 0: cluster up; 2: it cannot be installed or started here (the reason is on
# stderr; tests/test_slurm.py then skips, printing that reason).
# Running it again while the cluster is up just prints SLURM_CONF again.
# Stop it with: tests/slurm/stop_cluster.sh [STATE_DIR]
set -u

STATE_DIR=${1:-/tmp/pstm-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# Single-node test cluster written by tests/slurm/start_cluster.sh"
NODE=$(hostname -s)
unset SLURM_CONF

fail() { echo "start_cluster.sh: $*" >&2; exit 2; }

mkdir -p "$STATE_DIR" || fail "cannot create $STATE_DIR"
if [ -f "$CONF" ] && timeout 10 sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
    echo "SLURM_CONF=$CONF"   # a cluster is up already (ours from an earlier run, or this machine's own)
    exit 0
fi
if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    fail "$CONF exists, was not written by this script and its cluster is not answering; not touching it"
fi

# --- install -----------------------------------------------------------------------------------
missing=""
for cmd in slurmctld slurmd sbatch squeue sinfo scontrol munged; do
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing="$missing $cmd"
done
if [ -n "$missing" ]; then
    [ "$(id -u)" = 0 ] || fail "missing$missing and not root, so apt-get cannot install slurm-wlm and munge"
    command -v apt-get >/dev/null 2>&1 || fail "missing$missing and no apt-get to install slurm-wlm and munge"
    echo "installing slurm-wlm and munge with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -q && apt-get install -y -q slurm-wlm munge; } >"$STATE_DIR.apt.log" 2>&1 \
        || fail "apt-get install slurm-wlm munge failed (log: $STATE_DIR.apt.log): $(tail -3 "$STATE_DIR.apt.log")"
fi
export PATH="$PATH:/usr/sbin"
[ "$(id -u)" = 0 ] || fail "starting slurmd needs root (it launches jobs as their users); run the tests as root"

# --- munge ---------------------------------------------------------------------------------------
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null 2>&1; then mungekey --create --keyfile=/etc/munge/munge.key
    else dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; fi
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- munged 2>"$STATE_DIR.munged.err" || munged --force 2>>"$STATE_DIR.munged.err" \
        || fail "munged did not start: $(cat "$STATE_DIR.munged.err")"
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n | unmunge >/dev/null 2>&1 || fail "munge does not work: $(cat "$STATE_DIR.munged.err")"
fi

# --- slurm.conf ----------------------------------------------------------------------------------
mkdir -p "$STATE_DIR/spool/ctld" "$STATE_DIR/spool/d" "$STATE_DIR/log" "$(dirname "$CONF")"
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
cat >"$CONF" <<EOF
$MARK
ClusterName=pstm-test
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
# Accounting off: no slurmdbd, so job states come from squeue; keep finished jobs visible to it.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
SlurmctldPort=6817
SlurmdPort=6818
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
StateSaveLocation=$STATE_DIR/spool/ctld
SlurmdSpoolDir=$STATE_DIR/spool/d
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF

# --- daemons ---------------------------------------------------------------------------------------
if ! scontrol ping 2>/dev/null | grep -q UP; then
    slurmctld -c -f "$CONF" 2>"$STATE_DIR/slurmctld.err" \
        || fail "slurmctld did not start: $(tail -5 "$STATE_DIR/slurmctld.err" "$STATE_DIR/log/slurmctld.log" 2>/dev/null)"
fi
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
scontrol ping 2>/dev/null | grep -q UP || fail "slurmctld is not answering: $(tail -5 "$STATE_DIR/log/slurmctld.log" 2>/dev/null)"
if [ ! -f "$STATE_DIR/slurmd.pid" ] || ! kill -0 "$(cat "$STATE_DIR/slurmd.pid")" 2>/dev/null; then
    slurmd -f "$CONF" 2>"$STATE_DIR/slurmd.err" \
        || fail "slurmd did not start: $(tail -5 "$STATE_DIR/slurmd.err" "$STATE_DIR/log/slurmd.log" 2>/dev/null)"
fi
state=""
for _ in $(seq 150); do
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null | head -1)
    case "$state" in
        idle|mixed|allocated) break ;;
        drain*|down*) scontrol update nodename="$NODE" state=resume 2>/dev/null ;;
    esac
    sleep 0.2
done
case "$state" in
    idle|mixed|allocated) ;;
    *) fail "node $NODE is '$state', not idle: $(tail -5 "$STATE_DIR/log/slurmd.log" 2>/dev/null)" ;;
esac
echo "SLURM_CONF=$CONF"
