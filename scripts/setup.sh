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
# torch 2.14.1 + torchvision 0.29.1 are the pair served from this machine's
# disk; a torch without its matching torchvision breaks YOLOv5 at import.
# YOLOv5 7.0 needs numpy < 2.4 (np.trapz), setuptools < 81 (pkg_resources) and
# Pillow < 10 (FreeTypeFont.getsize labels its plots).
# jupyterhub and dockerspawner: the class Hub's test (launcher/test/classroom.test.ts);
# jupyterhub's major.minor matches docker/Dockerfile's JUPYTERHUB_SPEC.
pipq pip install -q --disable-pip-version-check \
  "torch==2.14.1" "torchvision==0.29.1" \
  "jupyterlab>=4.6,<5" "hatchling>=1.5" "hatch-jupyter-builder>=0.9" \
  "hatch-nodejs-version>=0.3.2" \
  "pytest>=8" "pytest-xdist>=3.5" "jupyter_client>=8" "nbclient>=0.10" "nbformat>=5.9" \
  "nvidia-ml-py>=12" "psutil>=5.9" "jsonschema>=4" "ruff>=0.6" \
  "yolov5>=7.0,<8" "numpy<2.4" "setuptools<81" "pillow<10" \
  "jupyterhub>=6.1,<6.2" "dockerspawner>=14,<15"

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

  step "UI-test packages (Galata)"
  if [ ! -d ui-tests/node_modules ] || [ ui-tests/package-lock.json -nt ui-tests/node_modules/.package-lock.json ]; then
    (cd ui-tests && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
step "set up"
