"""Real protocol messages for the TypeScript tests: ``python -m yolo_lab._examples``.

The messages come out of the kernel side's own comm session and telemetry
sampler, run on this machine's real environment, so the browser's parser is
tested against what the kernel really sends rather than hand-written copies.
Prints ``{"messages": [...], "display": {...}}``: the comm messages, and the
data of a monitor output.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from . import protocol
from ._comm import CommSession
from .telemetry import get_sampler


class _RecordingComm:
    """Stands where the frontend's end of the comm would be: keeps what is sent."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.changed = threading.Condition()
        self._on_close: Any = None

    def send(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        with self.changed:
            self.sent.append(data)
            self.changed.notify_all()

    def on_msg(self, callback: Any) -> None:
        self.callback = callback

    def on_close(self, callback: Any) -> None:
        self._on_close = callback

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close({"content": {"data": {}}})

    def wait_for(self, predicate: Any, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.sent), timeout)


def _as_comm_msg(data: Any) -> dict[str, Any]:
    return {"content": {"data": data}}


def _live_batch(sent: list[Any]) -> bool:
    return any(
        m.get("type") == "telemetry_batch" and not m["history"] and m["samples"]
        for m in sent
        if isinstance(m, dict)
    )


def examples() -> dict[str, Any]:
    """Answers to a hello, a doctor request, telemetry and malformed input."""
    comm = _RecordingComm()
    session = CommSession(comm)
    session.open(_as_comm_msg({"v": 1, "type": "hello", "side": "frontend", "version": "0"}))
    for data in (
        {"v": 1, "type": "doctor_request", "id": "example", "workers": 8},
        "not an object",
        {"v": 1},
        {"v": 2, "type": "doctor_request", "id": "newer"},
        {"v": 1, "type": "launch", "id": "unknown"},
        {"v": 1, "type": "doctor_request", "id": "extra", "extra": True},
        {"v": 1, "type": "telemetry_subscribe", "id": "too-fast", "interval_s": 0.01},
        {"v": 1, "type": "telemetry_subscribe", "id": "sub", "interval_s": 0.1},
    ):
        session.on_msg(_as_comm_msg(data))
    if not comm.wait_for(_live_batch, timeout=30):
        raise RuntimeError("no live telemetry batch within 30 s")
    sampler = get_sampler()
    display = protocol.make_telemetry_display(
        sampler.sampler_id or "",
        sampler.source or "psutil",
        sampler.interval_s,
        60.0,
        sampler.history(),
        live=False,
    )
    session.on_msg(_as_comm_msg({"v": 1, "type": "telemetry_unsubscribe", "id": None}))
    comm.close()
    return {"messages": list(comm.sent), "display": display}


if __name__ == "__main__":
    json.dump(examples(), sys.stdout)
    sys.stdout.write("\n")
