"""Real protocol messages for the TypeScript tests: ``python -m yolo_lab._examples``.

The messages come out of the kernel side's own comm session, run on this
machine's real environment, so the browser's parser is tested against what
the kernel really sends rather than against hand-written copies.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ._comm import CommSession


class _RecordingComm:
    """Stands where the frontend's end of the comm would be: keeps what is sent."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        self.sent.append(data)

    def on_msg(self, callback: Any) -> None:
        self.callback = callback


def _as_comm_msg(data: Any) -> dict[str, Any]:
    return {"content": {"data": data}}


def examples() -> list[Any]:
    """What the kernel answers to a hello, a doctor request and malformed input."""
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
    ):
        session.on_msg(_as_comm_msg(data))
    return comm.sent


if __name__ == "__main__":
    json.dump(examples(), sys.stdout)
    sys.stdout.write("\n")
