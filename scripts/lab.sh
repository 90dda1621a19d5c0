#!/usr/bin/env bash
# Set everything up, then start JupyterLab with yolo-lab on the teaching
# notebook. Listens on 127.0.0.1 with a token; works on the CPU when there is
# no GPU and no Docker.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
VENV=${YOLO_LAB_VENV:-$ROOT/.venv}
cd "$ROOT"
args=(--ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$ROOT")
[ "$(id -u)" = 0 ] && args+=(--allow-root)
exec "$VENV/bin/jupyter" lab "${args[@]}" "$@" notebooks/01_check_environment.ipynb
