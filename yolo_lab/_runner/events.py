"""The run's event stream: one JSON object a line, appended by one process.

Rank 0 (or the only process) writes a DDP run's events; the supervisor adds
the few it alone knows (a hung run, a rank's crash, the end). Each event is
one ``write`` on a file opened for appending, so lines from the two never
interleave.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from ..training.rundir import plain


class Events:
    """Appends events to the run's JSON-lines file; silent when not ``enabled``."""

    def __init__(self, path: Path, enabled: bool = True) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = (
            os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if enabled else None
        )

    def emit(self, kind: str, **fields: Any) -> None:
        if self._fd is None:
            return
        event = {"t": time.time(), "kind": kind, **fields}
        line = json.dumps(plain(event), allow_nan=False, separators=(",", ":")) + "\n"
        with self._lock:
            if self._fd is not None:
                os.write(self._fd, line.encode("utf-8"))

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
