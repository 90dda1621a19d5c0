#!/usr/bin/env bash
# Build the yolo-lab image with the launcher (`yolo-lab build`) on this
# machine: the base image from scripts/docker-base.sh instead of
# pytorch/pytorch (no image registry here), the local package indexes in
# /opt (pip.conf's file:// indexes) served on 127.0.0.1 for the build only
# (build steps reach them through --network host), and the CA bundle pip
# uses here. Unchanged layers come from the engine's cache.
#   usage: scripts/docker-build.sh [IMAGE] [BASE_IMAGE]
#   YOLO_LAB_INDEX_PORT  port of the throwaway index server (default 38761)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=${1:-yolo-lab:latest}
BASE=${2:-yolo-lab-base:bookworm}
CLI="$ROOT/launcher/lib/src/cli.js"
[ -f "$CLI" ] || { echo "build the launcher first: (cd launcher && npm ci && npm run build)" >&2; exit 1; }

args=(build --tag "$IMAGE" --base-image "$BASE" --network host)
server_pid=
cleanup() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

if [ -d /opt/pypi/simple ] || [ -d /opt/pypi-more/simple ] || [ -d /opt/wheels ]; then
  # A fixed port: the index URLs are build args, and a changed build arg
  # would make the engine rebuild every layer after it (torch included).
  port=${YOLO_LAB_INDEX_PORT:-38761}
  if python3 -c "import socket, sys; s = socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)) != 0)"; then
    echo "port $port on 127.0.0.1 is in use: set YOLO_LAB_INDEX_PORT to a free port for the local index server" >&2
    exit 1
  fi
  python3 -m http.server --bind 127.0.0.1 --directory /opt "$port" >/dev/null 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/', timeout=1)" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { echo "the local index server did not start" >&2; exit 1; }
    sleep 0.1
  done
  indexes=()
  for d in pypi pypi-more; do [ -d "/opt/$d/simple" ] && indexes+=("http://127.0.0.1:$port/$d/simple"); done
  [ ${#indexes[@]} -gt 0 ] && args+=(--build-arg "PIP_EXTRA_INDEX_URL=${indexes[*]}")
  [ -d /opt/wheels ] && args+=(--build-arg "PIP_FIND_LINKS=http://127.0.0.1:$port/wheels/")
fi
cert=${PIP_CERT:-$(pip config get global.cert 2>/dev/null || true)}
[ -n "$cert" ] && [ -f "$cert" ] && args+=(--ca-cert "$cert")

node "$CLI" "${args[@]}"
# The image this replaced (same label, now untagged) goes, with its own layers.
docker image prune -f --filter dangling=true --filter label=org.opencontainers.image.title=yolo-lab >/dev/null
