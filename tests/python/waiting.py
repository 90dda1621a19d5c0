"""Waiting for a condition in the tests, never sleeping in its place; and the
report, at the end of the run, of every wait that came close to its deadline.

A deadline is a budget for a loaded machine: a wait that needs more than half
of it on a test run is the next flake, so the run names it (``WaitReport``).
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any, Callable

import pytest

# The share of its deadline past which a wait is reported.
CLOSE_SHARE = 0.5
# The key of a close wait in a test's user_properties: pytest-xdist sends
# those with each report from the worker to the controller.
CLOSE_WAIT = "close_wait"

# The running test's recorder, set by WaitReport around each test. A context
# variable rather than an argument: the waits happen deep in helpers that do
# not know the test they serve.
_recorder: ContextVar[Callable[[str, float, float], None] | None] = ContextVar(
    "yolo_lab_wait_recorder", default=None
)


def note_wait(what: str, used: float, timeout: float) -> None:
    """Tell the running test that waiting for ``what`` took ``used`` of its
    ``timeout`` seconds; kept if that is more than ``CLOSE_SHARE`` of it."""
    record = _recorder.get()
    if record is not None and used > CLOSE_SHARE * timeout:
        record(what, used, timeout)


def wait_until(
    predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1
) -> Any:
    """``predicate()``'s first truthy value, polled every ``interval`` seconds;
    an AssertionError naming ``what`` after ``timeout`` seconds."""
    start = time.monotonic()
    deadline = start + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            note_wait(what, time.monotonic() - start, timeout)
            return value
        time.sleep(interval)
    note_wait(what, time.monotonic() - start, timeout)
    raise AssertionError(f"not within {timeout} s: {what}")


class WaitReport:
    """pytest plugin: the end of the run names each test with a wait that used
    more than half of its deadline (what, seconds used, deadline).

    Works under pytest-xdist: a worker records on the item's user_properties,
    the reports carry them to the controller, which prints the summary.
    """

    def __init__(self) -> None:
        self._close: list[tuple[str, dict[str, Any]]] = []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        # Setup, call and teardown: fixtures wait too (a server, a kernel).
        def record(what: str, used: float, timeout: float) -> None:
            wait = {"what": what, "used_s": round(used, 2), "timeout_s": timeout}
            item.user_properties.append((CLOSE_WAIT, wait))

        token = _recorder.set(record)
        try:
            return (yield)
        finally:
            _recorder.reset(token)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # The teardown report holds what all three phases recorded.
        if report.when == "teardown":
            self._close += [
                (report.nodeid, v) for k, v in report.user_properties if k == CLOSE_WAIT
            ]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self._close:
            return
        terminalreporter.write_sep(
            "=", f"waits that used more than {CLOSE_SHARE:.0%} of their deadline"
        )
        for nodeid, wait in self._close:
            terminalreporter.write_line(
                f"{nodeid}: {wait['what']}: {wait['used_s']:.1f} s of {wait['timeout_s']:g} s"
            )
