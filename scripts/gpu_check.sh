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
CPU=0
for arg in "$@"; do [[ "$arg" == "--cpu" ]] && CPU=1; done
if compgen -G "$WHEELS/*.whl" >/dev/null; then
  started=$SECONDS
  rm -rf "$SITE"
  # Fail fast: on a one-shot machine a half-installed site costs the call.
  if ! out=$("$PYTHON" -m pip install -q --no-index --no-deps --disable-pip-version-check \
      --target "$SITE" "$WHEELS"/*.whl 2>&1); then
    printf '%s\n' "$out" | grep -v -e "is ignored: it is neither" >&2
    echo "gpu_check: the wheels in $WHEELS did not install into $SITE (above)." \
      "Gather them again here with: bash scripts/gpu_wheels.sh" >&2
    exit 3
  fi
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  echo "gpu_check: $(ls "$WHEELS"/*.whl | wc -l) wheels from $WHEELS installed in $SITE ($((SECONDS - started)) s)"
elif [ $CPU = 0 ]; then
  echo "gpu_check: no wheels in $WHEELS. The NVIDIA machine has no yolov5 and no jsonschema:" \
    "run 'bash scripts/gpu_wheels.sh' here, then the device run with carry: [\".whl\"]." >&2
  exit 3
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# Preflight: what every section needs imports, as the runner imports it (with
# yolo_lab._yolov5.compat's shims), before any section spends the machine's time.
if ! "$PYTHON" - <<'PY'
import sys
from yolo_lab._yolov5.compat import apply, blockers
for what, fix in blockers():
    sys.exit(f"gpu_check: {what}. Fix: {fix}")
shims = apply()
import jsonschema  # noqa: F401  (yolo_lab.protocol's checks)
import yolov5.train  # noqa: F401
import numpy, PIL, torch
print(f"gpu_check: preflight ok: python {sys.version.split()[0]}, torch {torch.__version__}, "
      f"numpy {numpy.__version__}, Pillow {PIL.__version__}; shims: {', '.join(shims) or 'none'}")
PY
then
  echo "gpu_check: preflight failed (above): yolov5.train or jsonschema does not import." \
    "On the NVIDIA machine: carry .whl (bash scripts/gpu_wheels.sh here first)." >&2
  exit 3
fi
# A hard stop a little past the check's own budget: what it measured so far
# is already written (the JSON is rewritten after every section).
# Counted from this script's start, installing included: under 8 minutes in all.
HARD_S=${GPU_CHECK_HARD_S:-465}
[ $CPU = 1 ] && HARD_S=${GPU_CHECK_HARD_S:-360}
exec timeout -k 10 "$((HARD_S - SECONDS))" "$PYTHON" -u benchmarks/gpu_check.py "$@"
