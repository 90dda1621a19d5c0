"""The end of a pytest run names the waits that used more than half of their
deadline (waiting.WaitReport), also when xdist workers ran the tests.

A real pytest in a subprocess on a small generated suite: the report is made
by pytest's own hooks, in the controller, from what the workers sent.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

CONFTEST = """
from waiting import WaitReport


def pytest_configure(config):
    config.pluginmanager.register(WaitReport(), "yolo-lab-wait-report")
"""

# The slow waits are slow by construction: one ends at 60% of its deadline
# (1 s of margin against a stalled machine), one times out; the quick one
# returns at once.
SUITE = """
import time

import pytest

from waiting import wait_until


@pytest.fixture
def server():
    with pytest.raises(AssertionError):
        wait_until(lambda: False, 1, "a server that never answers")


def test_slow():
    start = time.monotonic()
    wait_until(lambda: time.monotonic() - start > 1.5, 2.5, "the slow condition")


def test_slow_fixture(server):
    pass


def test_quick():
    wait_until(lambda: True, 60, "the quick condition")
"""


@pytest.mark.slow
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_the_summary_names_the_waits_past_half_their_deadline(
    tmp_path: Path, workers: list[str]
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_generated.py").write_text(SUITE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *workers, str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "3 passed" in out
    summary = out.split("waits that used more than 50% of their deadline", 1)[1]
    named = re.findall(r"^test_generated\.py::(\w+): (.+): [\d.]+ s of ([\d.]+) s$", summary, re.M)
    assert sorted(named) == [
        ("test_slow", "the slow condition", "2.5"),
        ("test_slow_fixture", "a server that never answers", "1"),
    ]
    assert "the quick condition" not in out
