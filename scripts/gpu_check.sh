#!/usr/bin/env bash
# The one prepared GPU check (issue 11): run it on the NVIDIA test machine in
# one call, after `bash scripts/gpu_wheels.sh` here has gathered into .whl/
# what that machine lacks (yolov5 and its train path's imports, jsonschema).
# .whl/ is git-ignored: the device tool's run needs carry: [".whl"] to bring it.
#
#   bash scripts/gpu_check.sh                # on the NVIDIA machine (< 8 minutes)
#   bash scripts/gpu_check.sh --cpu          # here and in CI: tiny sizes, GPU rows absent
#   bash scripts/gpu_check.sh --out DIR      # where gpu_check.json and gpu_check.md go
#                                            # (default: $OUT if set, else ./gpu-check-out)
#
# The wheels go into /tmp/yolo-lab-site with --no-index --no-deps (the machine
# reaches no network), put on PYTHONPATH with the repository. The check itself
# is benchmarks/gpu_check.py; PYTHON=... chooses the interpreter,
# GPU_CHECK_WHEELS=DIR another wheel folder (the rehearsal's .whl-rehearse).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
WHEELS=${GPU_CHECK_WHEELS:-.whl}
SITE=${GPU_CHECK_SITE:-/tmp/yolo-lab-site}
if compgen -G "$WHEELS/*.whl" >/dev/null; then
  started=$SECONDS
  rm -rf "$SITE"
  # setuptools only where pkg_resources (imported by yolov5) is missing.
  mapfile -t wheels < <(ls "$WHEELS"/*.whl | grep -v '/setuptools-')
  if ! "$PYTHON" -W ignore -c 'import pkg_resources' 2>/dev/null; then
    mapfile -t -O "${#wheels[@]}" wheels < <(ls "$WHEELS"/setuptools-*.whl 2>/dev/null)
  fi
  "$PYTHON" -m pip install -q --no-index --no-deps --disable-pip-version-check \
    --target "$SITE" "${wheels[@]}" 2>&1 | grep -v -e "is ignored: it is neither" \
    -e "Target directory .* already exists" || true
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  echo "gpu_check: ${#wheels[@]} wheels from $WHEELS installed in $SITE ($((SECONDS - started)) s)"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# A hard stop a little past the check's own budget: what it measured so far
# is already written (the JSON is rewritten after every section).
# Counted from this script's start, installing included: under 8 minutes in all.
HARD_S=${GPU_CHECK_HARD_S:-465}
for arg in "$@"; do [[ "$arg" == "--cpu" ]] && HARD_S=${GPU_CHECK_HARD_S:-360}; done
exec timeout -k 10 "$((HARD_S - SECONDS))" "$PYTHON" -u benchmarks/gpu_check.py "$@"
