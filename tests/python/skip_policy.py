"""A skipped test is a test that did not run: the run names each skip that
tests/allowed-skips.txt does not allow, and with ``YOLO_LAB_STRICT_SKIPS=1``
(scripts/test.sh sets it) such a skip fails the run.

tests/allowed-skips.txt: one node-id pattern a line (fnmatch: ``*`` and
``[...]`` for parameters), then ``# why`` saying what the test needs that a
test machine may lack; a line without its why is refused.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

import pytest

ALLOWED_FILE = Path(__file__).resolve().parents[1] / "allowed-skips.txt"
STRICT_ENV = "YOLO_LAB_STRICT_SKIPS"
# Another list than tests/allowed-skips.txt (the policy's own test uses it).
ALLOWED_ENV = "YOLO_LAB_ALLOWED_SKIPS"


def read_allowed(path: Path) -> list[tuple[str, str]]:
    """(pattern, why) for each entry; a ValueError for an entry without its why."""
    entries: list[tuple[str, str]] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, _, why = line.partition("#")
        if not why.strip():
            raise ValueError(
                f"{path}:{number}: {pattern.strip()} has no '# why' (what the test needs "
                "that a test machine may lack)"
            )
        entries.append((pattern.strip(), why.strip()))
    return entries


def unexpected_skips(skipped: list[str], allowed: list[tuple[str, str]]) -> list[str]:
    """The node ids in ``skipped`` that no allowed pattern matches."""
    return [
        node
        for node in skipped
        if not any(fnmatch.fnmatchcase(node, pattern) for pattern, _ in allowed)
    ]


class SkipPolicy:
    """pytest plugin: the skips that are not allowed, named at the end of the
    run, and failing it when strict. In the controller under pytest-xdist
    (the workers' reports reach it); workers do nothing."""

    def __init__(self, allowed: list[tuple[str, str]], strict: bool) -> None:
        self.allowed = allowed
        self.strict = strict
        self.skipped: dict[str, str] = {}

    def _note(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
        self.skipped[report.nodeid] = reason.removeprefix("Skipped: ")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            self._note(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        # A module skipped as a whole (a module-level importorskip).
        if report.skipped:
            self._note(report)

    def unexpected(self) -> list[str]:
        return unexpected_skips(sorted(self.skipped), self.allowed)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        bad = self.unexpected()
        if not bad:
            return
        terminalreporter.section(
            "skips not in the allowed list (tests/allowed-skips.txt)", sep="=", red=True
        )
        for node in bad:
            terminalreporter.line(f"{node}: {self.skipped[node]}")
        terminalreporter.line(
            "Each is a test that did not run. Install what it needs (scripts/setup.sh --tests), "
            "or, if a test machine cannot have it, add the test to tests/allowed-skips.txt "
            "with a '# why'." + ("" if self.strict else f" ({STRICT_ENV}=1 fails the run.)")
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.strict and self.unexpected() and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def register(config: pytest.Config) -> None:
    """Register the policy in the controller (not in xdist workers)."""
    if hasattr(config, "workerinput"):
        return
    allowed = read_allowed(Path(os.environ.get(ALLOWED_ENV) or ALLOWED_FILE))
    strict = os.environ.get(STRICT_ENV) == "1"
    config.pluginmanager.register(SkipPolicy(allowed, strict), "yolo-lab-skip-policy")


def pytest_configure(config: pytest.Config) -> None:
    # Loaded as a plugin of its own (``-p skip_policy``): the policy's test runs it so.
    register(config)
