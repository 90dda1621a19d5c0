"""The live hub: run folders tailed for the comm sessions that listen.

A listener (the ``yolo_lab`` comm of a browser tab) subscribes to a run
folder; one watcher thread per folder reads the events file as it grows and
hands each listener first the history from disk, then every new event with
the run's status. A watcher ends when its last listener leaves.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from .checks import TrainError
from .launch import run_status
from .rundir import EVENTS_FILE, read_events

__all__ = ["RunHub", "RunListener", "get_hub"]

RunListener = Callable[[dict[str, Any]], None]


class _Watcher(threading.Thread):
    """Tails one run's events file for its listeners."""

    POLL_S: Final = 0.25

    def __init__(self, hub: RunHub, run_dir: Path) -> None:
        super().__init__(name=f"yolo-lab-run-{run_dir.name}", daemon=True)
        self.hub = hub
        self.run_dir = run_dir
        self.offset = 0
        self.partial = b""
        self.listeners: list[RunListener] = []
        self.pending: list[RunListener] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    def add(self, listener: RunListener) -> None:
        # A listener that subscribes again (a second view of the run in the
        # same browser) gets the history once more, but one live feed.
        with self.lock:
            self.listeners = [x for x in self.listeners if x != listener]
            if listener not in self.pending:
                self.pending.append(listener)

    def remove(self, listener: RunListener) -> bool:
        with self.lock:
            before = len(self.listeners) + len(self.pending)
            self.listeners = [x for x in self.listeners if x != listener]
            self.pending = [x for x in self.pending if x != listener]
            return len(self.listeners) + len(self.pending) != before

    def idle(self) -> bool:
        with self.lock:
            return not self.listeners and not self.pending

    def _read_new(self) -> list[dict[str, Any]]:
        path = self.run_dir / EVENTS_FILE
        try:
            with open(path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except OSError:
            return []
        if not chunk:
            return []
        data = self.partial + chunk
        lines = data.split(b"\n")
        self.partial = lines.pop()
        self.offset += len(chunk)
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and isinstance(event.get("kind"), str):
                events.append(event)
        return events

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self._tick()
            except Exception:
                pass
            if self.idle():
                self.hub._forget(self)
                return
            self.stopped.wait(self.POLL_S)

    def _tick(self) -> None:
        new = self._read_new()
        status = run_status(self.run_dir)
        with self.lock:
            pending, self.pending = self.pending, []
            listeners = list(self.listeners)
            self.listeners.extend(pending)
        if pending:
            history = read_events(self.run_dir, upto=self.offset - len(self.partial))
            for listener in pending:
                listener(
                    {"run": str(self.run_dir), "history": True, "status": status, "events": history}
                )
        if new or (listeners and status.get("status") != getattr(self, "_last_status", None)):
            for listener in listeners:
                listener(
                    {"run": str(self.run_dir), "history": False, "status": status, "events": new}
                )
        self._last_status = status.get("status")


class RunHub:
    """Every run watched by this kernel, for the comm sessions that listen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watchers: dict[str, _Watcher] = {}

    def subscribe(self, run_dir: str | os.PathLike[str], listener: RunListener) -> None:
        path = Path(run_dir).expanduser().resolve()
        if not path.is_dir():
            raise TrainError(
                "run_missing", f"{path} is not a run folder", "the run may have been deleted"
            )
        key = str(path)
        with self._lock:
            watcher = self._watchers.get(key)
            if watcher is None or not watcher.is_alive():
                watcher = _Watcher(self, path)
                self._watchers[key] = watcher
                watcher.add(listener)
                watcher.start()
            else:
                watcher.add(listener)

    def unsubscribe(self, run_dir: str | os.PathLike[str] | None, listener: RunListener) -> None:
        with self._lock:
            watchers = list(self._watchers.values())
        for watcher in watchers:
            if run_dir is None or str(watcher.run_dir) == str(Path(run_dir).expanduser().resolve()):
                watcher.remove(listener)

    def _forget(self, watcher: _Watcher) -> None:
        with self._lock:
            if self._watchers.get(str(watcher.run_dir)) is watcher and watcher.idle():
                del self._watchers[str(watcher.run_dir)]


_hub: RunHub | None = None


def get_hub() -> RunHub:
    """This kernel's hub, made on first use."""
    global _hub
    if _hub is None:
        _hub = RunHub()
    return _hub
