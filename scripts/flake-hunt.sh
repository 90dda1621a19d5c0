#!/usr/bin/env bash
# Hunt flakes on purpose: run the slow real-process tests (kernels, trainings,
# torchrun, Jupyter servers) many times on two pytest workers, as
# scripts/test.sh runs them, optionally with a CPU hog on every core beside
# them. Ends with each test's passes and failures and the waits that used more
# than half of their deadline (tests/python/waiting.py).
#
#   bash scripts/flake-hunt.sh [--count N] [--load] [pytest node ids...]
#
#   --count N  runs of each test (pytest-repeat; default 20)
#   --load     one busy process per core for the whole hunt
#   node ids   the tests to repeat (default: the slow real-process tests below)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${YOLO_LAB_VENV:-$ROOT/.venv}
PY=$VENV/bin/python
export PATH="$VENV/bin:$PATH"
export YOLO_LAB_PYTHON="$PY"

# Each spawns real processes and has failed once on a loaded machine, or waits
# on one that does: today's interrupt, the hang report, a stop, a kill -9, a
# kernel's death, a server restart, live telemetry.
DEFAULT_TESTS=(
  tests/python/test_training.py::test_real_kernel_interrupt_during_wait_stops_the_run
  tests/python/test_training.py::test_real_kernel_restart_leaves_no_training_behind
  tests/python/test_training.py::test_stop_mid_epoch_then_resume
  tests/python/test_training.py::test_kernel_death_stops_the_run_and_keeps_last_pt
  tests/python/test_ddp.py::test_stop_mid_epoch_ends_every_rank_then_resume
  tests/python/test_ddp.py::test_kill_9_of_the_kernel_leaves_no_process
  tests/python/test_ddp.py::test_planted_hang_is_reported_with_stacks_and_a_stop_ends_it_fabricated
  tests/python/test_detached.py::test_a_detached_run_outlives_its_kernel_and_stops_from_another
  tests/python/test_detached.py::test_a_server_restart_re_adopts_live_runs_and_marks_killed_ones_lost
  tests/python/test_kernel_e2e.py::test_real_kernel_telemetry_subscription
)

usage() { sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

count=20
load=0
tests=()
while [ $# -gt 0 ]; do
  case $1 in
    --count) count=${2:?--count needs a number}; shift 2 ;;
    --count=*) count=${1#--count=}; shift ;;
    --load) load=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    *) tests+=("$1"); shift ;;
  esac
done
case $count in '' | *[!0-9]* | 0) echo "--count wants a positive number, not '$count'" >&2; exit 2 ;; esac
[ ${#tests[@]} -gt 0 ] || tests=("${DEFAULT_TESTS[@]}")

if ! "$PY" -c 'import pytest_repeat' 2>/dev/null; then
  echo "pytest-repeat is missing from $VENV: $PY -m pip install pytest-repeat" >&2
  exit 1
fi

hogs=()
results=$(mktemp -t flake-hunt.XXXXXX.xml)
cleanup() {
  # Only the hogs this script started, by their PIDs.
  if [ ${#hogs[@]} -gt 0 ]; then kill "${hogs[@]}" 2>/dev/null; fi
  rm -f "$results"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$load" = 1 ]; then
  for _ in $(seq "$(nproc)"); do
    "$PY" -c 'while True: pass' &
    hogs+=($!)
  done
  echo "load: ${#hogs[@]} busy processes (PIDs ${hogs[*]})"
fi

cd "$ROOT"
started=$(date +%s)
"$PY" -m pytest -q -n 2 --count "$count" --durations=15 \
  --junitxml "$results" -o junit_family=xunit1 "${tests[@]}"
status=$?

echo
echo "flake hunt: $count runs of each test, load: $([ "$load" = 1 ] && echo "$(nproc) busy cores" || echo none), $(($(date +%s) - started)) s"
# One line per test from pytest's own junit report: the repeats (pytest-repeat
# appends [i-N] to the id) counted together.
"$PY" - "$results" <<'EOF'
import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict

runs = defaultdict(lambda: {"passed": 0, "failed": 0, "skipped": 0, "close": 0, "max_s": 0.0})
for case in ET.parse(sys.argv[1]).iter("testcase"):
    # xunit1 names the file: the node id again, with a class if there is one.
    path = case.get("file", "")
    klass = case.get("classname", "")[len(path.removesuffix(".py").replace("/", ".")) + 1 :]
    name = re.sub(r"-?\d+-\d+\]$", "]", case.get("name", "")).replace("[]", "")
    test = runs["::".join(filter(None, [path, klass, name]))]
    if case.find("failure") is not None or case.find("error") is not None:
        test["failed"] += 1
    elif case.find("skipped") is not None:
        test["skipped"] += 1
    else:
        test["passed"] += 1
    test["close"] += sum(1 for p in case.iter("property") if p.get("name") == "close_wait")
    test["max_s"] = max(test["max_s"], float(case.get("time", 0)))
for name, test in sorted(runs.items()):
    verdict = "FLAKY" if test["failed"] and test["passed"] else "FAIL" if test["failed"] else "ok"
    print(
        f"{verdict:5} {name}: {test['passed']} passed, {test['failed']} failed"
        + (f", {test['skipped']} skipped" if test["skipped"] else "")
        + f", slowest {test['max_s']:.0f} s, {test['close']} wait(s) over half the deadline"
    )
EOF
exit $status
