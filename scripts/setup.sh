#!/usr/bin/env bash
# Set up everything yolo-lab needs on a Debian machine, from nothing:
# a Python venv with torch and JupyterLab, the npm packages, the built
# extension and the yolo-lab wheel installed into the venv.
# Idempotent: a second run only redoes what changed.
#   scripts/setup.sh            for JupyterLab
#   scripts/setup.sh --tests    also Debian chromium and the UI-test packages
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV=${YOLO_LAB_VENV:-$ROOT/.venv}
TESTS=0
[ "${1:-}" = "--tests" ] && TESTS=1

step() { printf '\n==> %s\n' "$*"; }
# pip warns about every find-links folder this machine's pip.conf names but
# lacks; keep the log readable and the exit status intact.
pipq() {
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  printf '%s\n' "$out" | grep -v -e '^WARNING: Location .* is ignored' -e '^$' || true
  return $rc
}

need_apt=()
command -v node >/dev/null || need_apt+=(nodejs npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ $TESTS = 1 ] && [ ! -x /usr/bin/chromium ]; then need_apt+=(chromium); fi
if [ ${#need_apt[@]} -gt 0 ]; then
  step "Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "Run as root or install these first: apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  step "Python venv at $VENV"
  python3 -m venv "$VENV"
  pipq "$VENV/bin/pip" install -q --upgrade pip
fi
export PATH="$VENV/bin:$PATH"

step "Python packages (torch, YOLOv5, JupyterLab, test tools)"
# What is needed: requirements/dev.txt; at which versions: requirements/tested.txt
# (the stack the tests run on, one place). No upper pins for YOLOv5's age: the
# runner puts back what YOLOv5 7.0 calls and newer numpy, Pillow and setuptools
# removed (yolo_lab/_yolov5/compat.py).
pipq pip install -q --disable-pip-version-check \
  -r requirements/dev.txt -c requirements/tested.txt

step "npm packages and the extension build"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build:prod

step "yolo-lab wheel, installed as a user would (no Node needed at run time)"
rm -rf dist
pipq pip wheel -q --no-deps --no-build-isolation -w dist .
pipq pip install -q --force-reinstall --no-deps dist/yolo_lab-*.whl
pipq pip install -q dist/yolo_lab-*.whl

if [ $TESTS = 1 ]; then
  # A second, real Python kernel without yolo-lab: the panel must say how to
  # install it there.
  PLAIN=${YOLO_LAB_PLAIN_VENV:-$ROOT/.venv-plain}
  if [ ! -x "$PLAIN/bin/python" ]; then
    step "kernel without yolo-lab at $PLAIN"
    python3 -m venv "$PLAIN"
    pipq "$PLAIN/bin/pip" install -q --disable-pip-version-check ipykernel
  fi
  "$PLAIN/bin/python" -m ipykernel install --prefix "$VENV" \
    --name python-without-yolo-lab --display-name "Python (without yolo-lab)" >/dev/null

  # The newest stack, shaped like the NVIDIA test machine: Python 3.12 and the
  # newest numpy, Pillow and setuptools the registry serves today (no
  # pkg_resources), no yolov5 (the GPU check's wheels bring it). About 100 s
  # and 6.5 GB the first time (torch for 3.12 comes from PyPI, not this disk).
  NEWEST=${YOLO_LAB_NEWEST_VENV:-$ROOT/.venv-newest}
  # pyenv's shim answers for python3.12 only where 3.12 is pyenv's choice:
  # look for the interpreter itself.
  PY312=${YOLO_LAB_PY312:-}
  if [ -z "$PY312" ] && command -v pyenv >/dev/null; then
    PY312=$(ls -d "$(pyenv root)"/versions/3.12*/bin/python3.12 2>/dev/null | sort -V | tail -1 || true)
  fi
  if [ -z "$PY312" ] && [ -x /usr/bin/python3.12 ]; then PY312=/usr/bin/python3.12; fi
  if [ -z "$PY312" ]; then
    echo "No Python 3.12 for the newest-stack leg: pyenv install 3.12, or set" \
      "YOLO_LAB_PY312 to a python3.12" >&2
    exit 1
  fi
  if [ ! -x "$NEWEST/bin/python" ]; then
    step "newest-stack venv at $NEWEST ($("$PY312" --version))"
    "$PY312" -m venv "$NEWEST"
  fi
  step "newest releases of the NVIDIA machine's packages in $NEWEST"
  pipq "$NEWEST/bin/pip" install -q --disable-pip-version-check --upgrade \
    -r requirements/gpu-machine.txt
  # What the GPU check carries to that machine, for this Python (3.12: the same).
  PYTHON="$NEWEST/bin/python" bash scripts/gpu_wheels.sh --rehearse >/dev/null

  step "UI-test packages (Galata)"
  if [ ! -d ui-tests/node_modules ] || [ ui-tests/package-lock.json -nt ui-tests/node_modules/.package-lock.json ]; then
    (cd ui-tests && npm ci --no-audit --no-fund --loglevel=error)
  fi

  # A real Slurm for tests/python/test_slurm.py: slurmctld and two compute
  # nodes on 127.0.0.1 (Debian's packages, about 15 s the first time).
  step "Slurm cluster (slurmctld, node1, node2 on 127.0.0.1)"
  bash "$ROOT/scripts/slurm-cluster.sh" up
fi
step "set up"
