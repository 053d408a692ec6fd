#!/usr/bin/env bash
# Stop the test cluster of tests/slurm/start_cluster.sh (slurmd and slurmctld; munged is left running).
#   tests/slurm/stop_cluster.sh [STATE_DIR]     (default STATE_DIR: /tmp/pstm-slurm)
set -u
STATE_DIR=${1:-/tmp/pstm-slurm}
for daemon in slurmd slurmctld; do
    pidfile="$STATE_DIR/$daemon.pid"
    if [ -f "$pidfile" ]; then
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null && for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$pidfile"
    fi
done
