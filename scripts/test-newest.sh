#!/usr/bin/env bash
# The newest-stack leg: real trainings on Python 3.12 with the newest numpy,
# Pillow and setuptools the registry serves (no pkg_resources), in the venv
# shaped like the NVIDIA test machine that `scripts/setup.sh --tests` makes
# (.venv-newest, requirements/gpu-machine.txt).
#
#   bash scripts/test-newest.sh            # after scripts/setup.sh --tests
#   bash scripts/test-newest.sh -k resume  # extra pytest arguments
#
# The venv stays as that machine is; what the tests need besides (yolov5 and
# its train path, as the GPU check carries them; a kernel; pytest-xdist) goes
# into .venv-newest-extra, put on PYTHONPATH for this leg only.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
NEWEST=${YOLO_LAB_NEWEST_VENV:-$ROOT/.venv-newest}
EXTRA=$ROOT/.venv-newest-extra
PY="$NEWEST/bin/python"
if [ ! -x "$PY" ] || ! compgen -G ".whl-rehearse/yolov5-*.whl" >/dev/null; then
  echo "No newest-stack venv or no .whl-rehearse: run bash scripts/setup.sh --tests first" >&2
  exit 1
fi
quiet() { grep -v -e 'is ignored: it is neither' -e '^$' -e 'Target directory' || true; }
# Made again each time: it must match today's wheels and today's venv.
rm -rf "$EXTRA"
"$PY" -m pip install -q --disable-pip-version-check --no-deps --target "$EXTRA" \
  .whl-rehearse/*.whl 2>&1 | quiet
"$PY" -m pip install -q --disable-pip-version-check --target "$EXTRA" \
  "ipykernel>=6.22" "jupyter_client>=8" "nbclient>=0.10" "nbformat>=5.9" \
  "pytest-xdist>=3.5" "comm>=0.1.3" 2>&1 | quiet
export PYTHONPATH="$EXTRA:$ROOT"
export YOLO_LAB_PYTHON="$PY"
"$PY" - <<'PY'
import importlib.util, sys
import numpy, PIL, setuptools, torch
print(f"newest stack: Python {sys.version.split()[0]}, numpy {numpy.__version__}, "
      f"Pillow {PIL.__version__}, setuptools {setuptools.__version__}, torch {torch.__version__}, "
      f"pkg_resources {'present' if importlib.util.find_spec('pkg_resources') else 'absent'}")
PY
# The shapes set through train() to its summary, a stop and resume, a 2-rank
# CPU DDP run, the advisor on a real run, a teaching notebook, and the shims.
# A skip here would be a leg that passes without testing: it fails the leg.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
"$PY" -m pytest -q -n 2 -p no:cacheprovider --durations=10 \
  tests/python/test_yolov5_compat.py \
  tests/python/test_training.py::test_real_cpu_training_events_match_results_csv \
  tests/python/test_training.py::test_stop_mid_epoch_then_resume \
  tests/python/test_ddp.py::test_two_rank_cpu_run_keeps_the_ranks_in_step \
  tests/python/test_advisor.py::test_large_images_with_no_workers_are_data_bound \
  "tests/python/test_notebooks.py::test_notebook_runs[02_speedups.ipynb]" \
  "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if grep -qE '^SKIPPED|[0-9]+ skipped' "$log"; then
  echo "newest stack: tests were skipped (above); every test of this leg must run" >&2
  exit 1
fi
exit "$rc"
