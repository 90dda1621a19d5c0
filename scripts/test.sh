#!/usr/bin/env bash
# Set everything up from nothing, then run every test: lint, jest, pytest,
# Galata in Debian Chromium. Exits non-zero if any suite fails.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh" --tests || exit 1
VENV=${YOLO_LAB_VENV:-$ROOT/.venv}
export PATH="$VENV/bin:$PATH"
export YOLO_LAB_PYTHON="$VENV/bin/python"
cd "$ROOT"

failed=()
run() {
  local name=$1
  shift
  printf '\n==> %s\n' "$name"
  if ! "$@"; then failed+=("$name"); fi
}

run "lint (eslint, prettier, ruff)" bash -c 'npm run --silent lint && ruff check yolo_lab tests'
run "jest" npx jest --ci
# Two pytest workers: most of the suite waits on kernels, servers and training
# subprocesses, so two workers finish it in about half the time on two cores
# (README, Tests). Each test has its own tmp_path, ports and registry.
# A skip is a test that did not run: one not in tests/allowed-skips.txt
# fails the suite (tests/python/skip_policy.py).
run "pytest" env YOLO_LAB_STRICT_SKIPS=1 python -m pytest -q -n 2 --durations=15
# Python 3.12 with the newest numpy, Pillow and setuptools the registry serves:
# real trainings, a stop and resume, CPU DDP, the advisor and a notebook.
run "newest stack (Python 3.12)" bash scripts/test-newest.sh
run "launcher (real Docker)" bash scripts/test-launcher.sh
run "galata" bash -c 'cd ui-tests && CI=1 npx playwright test'

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all test suites passed"
