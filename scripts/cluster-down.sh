#!/usr/bin/env bash
# Stops what scripts/cluster-up.sh DIR started: slurmctld/slurmd (scontrol shutdown), munged, sshd.
set -uo pipefail
D=${1:-/tmp/autolab-cluster}
[ -d "$D" ] || exit 0
D=$(cd "$D" && pwd)
stop() { # pid file
  [ -f "$1" ] || return 0
  local pid; pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}
if [ -f "$D/slurm.conf" ] && command -v scontrol >/dev/null; then
  SLURM_CONF=$D/slurm.conf scontrol shutdown >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do
    { [ -f "$D/slurmctld.pid" ] && kill -0 "$(cat "$D/slurmctld.pid")" 2>/dev/null; } ||
      { [ -f "$D/slurmd.pid" ] && kill -0 "$(cat "$D/slurmd.pid")" 2>/dev/null; } || break
    sleep 0.1
  done
fi
stop "$D/slurmd.pid"
stop "$D/slurmctld.pid"
stop "$D/ssh/sshd.pid"
stop "$D/munge/munged.pid"
echo "stopped cluster in $D" >&2
