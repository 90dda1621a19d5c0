"""A recording telemetry listener shared by the telemetry and monitor tests."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from yolo_lab.telemetry import Batch, Notice


class Recorder:
    """A sampler listener that records every call, with its monotonic time.

    ``wait_for`` blocks until a condition on the recording holds (woken by
    each call), so tests wait for events rather than for time.
    """

    def __init__(self) -> None:
        self.events: list[tuple[float, str, Batch | Notice]] = []
        self._cond = threading.Condition()

    def __call__(self, kind: str, payload: Batch | Notice) -> None:
        with self._cond:
            self.events.append((time.monotonic(), kind, payload))
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[Recorder], bool], timeout: float = 15.0) -> None:
        with self._cond:
            met = self._cond.wait_for(lambda: predicate(self), timeout)
        assert met, f"condition not met within {timeout} s; got {self.summary()}"

    def summary(self) -> list[Any]:
        return [
            (kind, payload.history, len(payload.samples))
            if isinstance(payload, Batch)
            else (kind, payload.code)
            for _, kind, payload in list(self.events)
        ]

    @property
    def batches(self) -> list[Batch]:
        return [p for _, _, p in list(self.events) if isinstance(p, Batch)]

    @property
    def live_batches(self) -> list[Batch]:
        return [b for b in self.batches if not b.history]

    @property
    def live_samples(self) -> list[dict[str, Any]]:
        return [s for b in self.live_batches for s in b.samples]

    @property
    def notices(self) -> list[Notice]:
        return [p for _, _, p in list(self.events) if isinstance(p, Notice)]
