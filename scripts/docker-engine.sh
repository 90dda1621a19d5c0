#!/usr/bin/env bash
# Make a local Docker engine answer, from nothing, on a Debian machine
# without systemd: install docker.io (and debootstrap for the test base
# image), write a daemon.json without a bridge network (containers use host
# networking and talk on 127.0.0.1 only), start dockerd in the background and
# wait until `docker info` answers. Idempotent: an engine that already
# answers is reused as it is.
#   YOLO_LAB_DOCKERD_LOG  where dockerd writes its log (default /var/log/yolo-lab-dockerd.log)
set -euo pipefail

if docker info >/dev/null 2>&1; then
  echo "Docker engine already running: $(docker info --format '{{.ServerVersion}}')"
  exit 0
fi

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "Install these first (as root): apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "==> Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ "$(id -u)" != 0 ]; then
  echo "The Docker engine is not running and only root can start it here:" >&2
  echo "  sudo bash $0" >&2
  exit 1
fi

if [ ! -f /etc/docker/daemon.json ]; then
  mkdir -p /etc/docker
  echo '{"bridge":"none","iptables":false,"ip-forward":false,"ip-masq":false}' >/etc/docker/daemon.json
fi

LOG=${YOLO_LAB_DOCKERD_LOG:-/var/log/yolo-lab-dockerd.log}
echo "==> starting dockerd (log: $LOG)"
# setsid: the engine outlives this script and the shell that ran it.
setsid dockerd >"$LOG" 2>&1 </dev/null &
pid=$!
for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then
    echo "Docker engine running (dockerd pid $pid): $(docker info --format '{{.ServerVersion}}')"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "dockerd exited; the end of its log ($LOG):" >&2
    tail -n 20 "$LOG" >&2
    exit 1
  fi
  sleep 0.5
done
echo "dockerd did not answer within 60 s; the end of its log ($LOG):" >&2
tail -n 20 "$LOG" >&2
exit 1
