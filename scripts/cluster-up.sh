#!/usr/bin/env bash
# Starts a one-node SLURM cluster on loopback and an sshd on 127.0.0.1:2222 for autolab's
# cluster-runner tests. All state lives in one directory ($1, default /tmp/autolab-cluster).
# As root it installs what is missing (slurm-wlm munge openssh-server openssh-client).
# Prints `export …` lines to eval:  eval "$(scripts/cluster-up.sh /tmp/autolab-cluster)"
# Stop everything with scripts/cluster-down.sh DIR.
set -euo pipefail
D=${1:-/tmp/autolab-cluster}
mkdir -p "$D"
D=$(cd "$D" && pwd)

need=()
command -v slurmctld >/dev/null || need+=(slurm-wlm)
command -v munged >/dev/null || need+=(munge)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  else
    echo "missing: ${need[*]} (run this script as root, or install them)" >&2
    exit 1
  fi
fi

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# munge
mkdir -p "$D/munge" "$D/state" "$D/spool" "$D/ssh"
chmod 711 "$D/munge"
if [ ! -f "$D/munge/munge.key" ]; then
  if [ -f /etc/munge/munge.key ]; then
    cp /etc/munge/munge.key "$D/munge/munge.key"
  else
    dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 2>/dev/null
  fi
  chmod 400 "$D/munge/munge.key"
fi
if ! alive "$D/munge/munged.pid"; then
  munged --socket="$D/munge/munge.socket" --key-file="$D/munge/munge.key" \
    --log-file="$D/munge/munged.log" --pid-file="$D/munge/munged.pid" \
    --seed-file="$D/munge/munged.seed" --force
fi

# slurm.conf: the node line from `slurmd -C`, without UpTime.
node=$(slurmd -C | head -n1 | sed -e 's/ UpTime=.*//')
nodename=$(sed -e 's/^NodeName=\([^ ]*\).*/\1/' <<<"$node")
cat >"$D/slurm.conf" <<CONF
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/jobcomp.txt
MpiDefault=none
ReturnToService=2
MinJobAge=300
KillWait=5
$node NodeAddr=127.0.0.1
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$D/slurm.conf
alive "$D/slurmctld.pid" || slurmctld -i
alive "$D/slurmd.pid" || slurmd

state=""
for _ in $(seq 1 60); do
  state=$(sinfo -h -n "$nodename" -o '%t' 2>/dev/null | head -n1 || true)
  case "$state" in idle*|mix*|alloc*) break ;; esac
  sleep 0.5
done
case "$state" in
  idle*|mix*|alloc*) ;;
  *) echo "slurm node $nodename not idle after 30 s (state: '${state:-none}'); see $D/slurmctld.log $D/slurmd.log" >&2; exit 1 ;;
esac

# sshd on 127.0.0.1:2222, root may log in with the generated client key.
S=$D/ssh
[ -f "$S/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$S/host_key"
[ -f "$S/client_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$S/client_key"
cp "$S/client_key.pub" "$S/authorized_keys"
cat >"$S/sshd_config" <<CONF
Port 2222
ListenAddress 127.0.0.1
HostKey $S/host_key
PidFile $S/sshd.pid
AuthorizedKeysFile $S/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
SetEnv SLURM_CONF=$D/slurm.conf
PermitUserEnvironment no
CONF
mkdir -p /run/sshd
alive "$S/sshd.pid" || /usr/sbin/sshd -f "$S/sshd_config" -E "$S/sshd.log"
for _ in $(seq 1 20); do alive "$S/sshd.pid" && break; sleep 0.2; done
alive "$S/sshd.pid" || { echo "sshd did not start; see $S/sshd.log" >&2; exit 1; }

echo "export SLURM_CONF=$D/slurm.conf"
echo "export AUTOLAB_SSH_KEY=$S/client_key"
echo "# ssh: ssh -p 2222 -i $S/client_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1"
