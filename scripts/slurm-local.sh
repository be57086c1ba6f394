#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, from Debian packages (munge, slurmctld,
# slurmd, slurm-client), to test cube's sweeps on a scheduler. Root only; no systemd needed: the
# daemons are started directly. The cluster "cube-local" has one node (this host: all its CPUs,
# its memory less 1 GiB) in one partition, "debug", with no accounting database.
# Usage: bash scripts/slurm-local.sh up|down|status
#   up      installs what is missing, writes /etc/slurm/slurm.conf (only where none exists or
#           the existing one is ours), starts munged, slurmctld and slurmd, waits for the node
#   down    cancels every job, stops the daemons, removes our configuration and state
#   status  sinfo and squeue
set -euo pipefail
mode="${1:-}"
case "$mode" in up|down|status) ;; *) echo "usage: $0 up|down|status" >&2; exit 2 ;; esac
conf=/etc/slurm/slurm.conf
marker="# written by cube scripts/slurm-local.sh"
node="$(hostname -s)"

need_root() {
  if [ "$(id -u)" -ne 0 ]; then echo "$0: must run as root" >&2; exit 1; fi
}

install_missing() {
  local missing=()
  for p in munge slurmctld slurmd slurm-client; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
}

write_conf() {
  if [ -f "$conf" ] && ! grep -qF "$marker" "$conf"; then
    echo "$0: $conf exists and is not ours; leaving it (and this cluster) alone" >&2
    exit 1
  fi
  local memory_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
  cat > "$conf" <<EOF
$marker
ClusterName=cube-local
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
NodeName=$node CPUs=$(nproc) RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
}

wait_for_node() {
  for _ in $(seq 60); do
    local state
    state="$(sinfo -h -n "$node" -o %T 2>/dev/null || true)"
    case "$state" in
      idle*|mixed*|allocated*) echo "slurm-local: node $node is $state" >&2; return 0 ;;
      down*|drain*) scontrol update nodename="$node" state=resume 2>/dev/null || true ;;
    esac
    sleep 1
  done
  echo "$0: node $node did not come up; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
  exit 1
}

case "$mode" in
  up)
    need_root
    install_missing
    write_conf
    start_munge
    pgrep -x slurmctld >/dev/null || slurmctld
    pgrep -x slurmd >/dev/null || slurmd
    wait_for_node
    ;;
  down)
    need_root
    scancel --quiet --user root 2>/dev/null || true
    for daemon in slurmd slurmctld munged; do pkill -x "$daemon" 2>/dev/null || true; done
    # slurmctld saves its state while it shuts down: wait for the daemons to be gone before
    # removing their folders.
    for daemon in slurmd slurmctld munged; do
      for _ in $(seq 100); do pgrep -x "$daemon" >/dev/null || break; sleep 0.1; done
    done
    if [ -f "$conf" ] && grep -qF "$marker" "$conf"; then
      rm -f "$conf"
      rm -rf /var/lib/slurm/slurmctld /var/lib/slurm/slurmd
    fi
    echo "slurm-local: down" >&2
    ;;
  status)
    sinfo
    squeue
    ;;
esac
