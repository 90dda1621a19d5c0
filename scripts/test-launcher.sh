#!/usr/bin/env bash
# The launcher's tests against a real Docker engine, from nothing: install and
# start the engine (reused when it already answers), build the local base
# image (skipped when present) and the yolo-lab image on it (cached layers
# reused), build and type-check the launcher, then run its test suite:
# `yolo-lab up` -> the URL with and without the token -> a kernel inside runs
# the doctor -> `yolo-lab down` -> the runs folder on the host, and every
# start error for real; then the same through a real sshd on 127.0.0.1
# (`up --host ssh://...`: the tunnel, connect, down, the SSH errors).
# Then a class's JupyterHub (`yolo-lab classroom init`): the real Hub, proxy and
# DockerSpawner, two students each training in a container of their own.
#   YOLO_LAB_IMAGE       image under test (default yolo-lab:latest)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export YOLO_LAB_IMAGE=${YOLO_LAB_IMAGE:-yolo-lab:latest}
export YOLO_LAB_BASE_IMAGE=${YOLO_LAB_BASE_IMAGE:-yolo-lab-base:bookworm}
t0=$SECONDS
lap() { printf '    (%s: %d s)\n' "$1" $((SECONDS - $2)); }

printf '\n==> Docker engine\n'
t=$SECONDS; bash scripts/docker-engine.sh; lap engine $t

# The remote-host tests start Debian's sshd in front of the local engine.
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null; then
  printf '\n==> openssh-server (the remote-host tests run a real sshd)\n'
  t=$SECONDS
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null
  lap openssh-server $t
fi

printf '\n==> base image %s\n' "$YOLO_LAB_BASE_IMAGE"
t=$SECONDS; bash scripts/docker-base.sh "$YOLO_LAB_BASE_IMAGE"; lap "base image" $t

printf '\n==> launcher (npm packages, tsc strict)\n'
t=$SECONDS
if [ ! -d launcher/node_modules ] || [ launcher/package-lock.json -nt launcher/node_modules/.package-lock.json ]; then
  (cd launcher && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd launcher && npm run --silent lint && npm run --silent build)
lap launcher $t

if ! ls dist/yolo_lab-*.whl >/dev/null 2>&1; then
  printf '\n==> yolo-lab wheel (scripts/setup.sh)\n'
  bash scripts/setup.sh
fi

# The class Hub's test (launcher/test/classroom.test.ts) runs the real
# JupyterHub and DockerSpawner from the venv (scripts/setup.sh installs them).
VENV=${YOLO_LAB_VENV:-$ROOT/.venv}
if ! "$VENV/bin/python" -c 'import jupyterhub, dockerspawner' 2>/dev/null; then
  printf '\n==> jupyterhub, dockerspawner (the class Hub test)\n'
  "$VENV/bin/pip" install -q --disable-pip-version-check "jupyterhub>=6.1,<6.2" "dockerspawner>=14,<15"
fi

printf '\n==> image %s\n' "$YOLO_LAB_IMAGE"
t=$SECONDS; bash scripts/docker-build.sh "$YOLO_LAB_IMAGE" "$YOLO_LAB_BASE_IMAGE" 2>&1 | grep -E '^(==>|Step |yolo-lab:|ERROR|The command)' ; lap image $t
docker image inspect "$YOLO_LAB_IMAGE" >/dev/null

printf '\n==> launcher tests (real engine)\n'
t=$SECONDS
(cd launcher && node --test --test-concurrency=1 --test-reporter=spec lib/test/*.test.js)
lap tests $t
printf '\nlauncher suite passed in %d s\n' $((SECONDS - t0))
