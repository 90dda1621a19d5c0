#!/usr/bin/env bash
# A real Slurm cluster on this one machine, for the tests: slurmctld and two
# compute nodes (two slurmd, node1 and node2) on 127.0.0.1, munge, a CPU
# partition "debug". Installs Debian's slurm packages when they are missing.
# The recipe and its measurements: docs/dev/slurm-on-one-machine.md.
#
#   bash scripts/slurm-cluster.sh up     install if needed, start, wait for idle nodes
#   bash scripts/slurm-cluster.sh down   stop the daemons this script started
#   bash scripts/slurm-cluster.sh status
#
# Needs root (daemons, /etc/slurm). Listens on 127.0.0.1 only: slurmctld 6817,
# slurmd 6818 and 6819. Idempotent: "up" on a running cluster only waits.
set -euo pipefail
CONF=/etc/slurm/slurm.conf
MARK="# written by yolo-lab scripts/slurm-cluster.sh"
PIDS=(/run/slurm/slurmd-node1.pid /run/slurm/slurmd-node2.pid /run/slurm/slurmctld.pid)

say() { printf '==> %s\n' "$*"; }

install_packages() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
    command -v sbatch >/dev/null && command -v munged >/dev/null && return
  say "Debian packages: slurmctld slurmd slurm-client munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
}

write_conf() {
  if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    echo "error: $CONF exists and was not written by yolo-lab; not touching it." >&2
    echo "Run the tests on a machine without a Slurm of its own." >&2
    exit 1
  fi
  install -d /etc/slurm
  cat >"$CONF" <<EOF
$MARK
# One machine, two slurmd "nodes" on 127.0.0.1 (different ports).
ClusterName=yololab
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=6817
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
# A requeued job waits cred_expire+1 s before it may start again (default 120).
AuthInfo=cred_expire=10
# No cgroups: works in containers and without systemd.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd/%n
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd-%n.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd-%n.log
# No slurmdbd: no sacct; a job's state stays in scontrol for MinJobAge.
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
InactiveLimit=0
KillWait=5
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
Waittime=0
NodeName=node1 NodeHostname=localhost NodeAddr=127.0.0.1 Port=6818 CPUs=1 RealMemory=1000 State=UNKNOWN
NodeName=node2 NodeHostname=localhost NodeAddr=127.0.0.1 Port=6819 CPUs=1 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=node[1-2] Default=YES MaxTime=00:30:00 DefaultTime=00:10:00 State=UP
EOF
}

idle_nodes() { sinfo -h -N -t idle,mixed,allocated -o %N 2>/dev/null | sort -u | wc -l || echo 0; }

up() {
  install_packages
  write_conf
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o slurm -g slurm -m 0755 /run/slurm /var/log/slurm /var/lib/slurm/slurmctld
  install -d -m 0755 /var/lib/slurm/slurmd/node1 /var/lib/slurm/slurmd/node2
  [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged --num-threads=2
  fi
  running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
  running /run/slurm/slurmctld.pid || /usr/sbin/slurmctld
  for node in node1 node2; do
    running "/run/slurm/slurmd-$node.pid" || /usr/sbin/slurmd -N "$node"
  done
  # Nodes come up within a second here; 60 s covers a loaded CI machine.
  local deadline=$((SECONDS + 60))
  until [ "$(idle_nodes)" = 2 ]; do
    if [ $SECONDS -ge $deadline ]; then
      echo "error: the Slurm nodes did not come up in 60 s; see /var/log/slurm/" >&2
      sinfo -N -l >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  say "Slurm: $(sinfo -h -o '%P %D nodes %t' | head -1) (slurmctld 127.0.0.1:6817)"
}

down() {
  local f pid
  for f in "${PIDS[@]}"; do
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    rm -f "$f"
  done
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  status) sinfo -N -l ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
