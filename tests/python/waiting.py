"""Waiting for a condition in the tests, never sleeping in its place."""

from __future__ import annotations

import time
from typing import Any, Callable


def wait_until(
    predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1
) -> Any:
    """``predicate()``'s first truthy value, polled every ``interval`` seconds;
    an AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not within {timeout} s: {what}")
