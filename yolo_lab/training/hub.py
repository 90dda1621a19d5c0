"""The live hub: run folders tailed for the comm sessions that listen.

A listener (the ``yolo_lab`` comm of a browser tab) subscribes to a run
folder; a watcher per folder reads the events file as it grows and hands
each listener first the history from disk, then every new event with the
run's status. One thread ticks every watcher (not one thread per folder),
and at most ``MAX_WATCHED`` folders are watched at once; a watcher ends when
its last listener leaves, the thread when the last watcher does.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from .checks import TrainError
from .events import parse_events, read_events
from .launch import run_status
from .rundir import EVENTS_FILE

__all__ = ["RunHub", "RunListener", "get_hub"]

RunListener = Callable[[dict[str, Any]], None]


POLL_S: Final = 0.25
MAX_WATCHED: Final = 64


class _Watcher:
    """Tails one run's events file for its listeners."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.offset = 0
        self.partial = b""
        self.listeners: list[RunListener] = []
        self.pending: list[RunListener] = []
        self.lock = threading.Lock()

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
        return parse_events(lines)

    def tick(self) -> None:
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
        said = _said(status)
        if new or (listeners and said != getattr(self, "_last_status", None)):
            for listener in listeners:
                listener(
                    {"run": str(self.run_dir), "history": False, "status": status, "events": new}
                )
        self._last_status = said


def _said(status: dict[str, Any]) -> tuple[Any, ...]:
    """What of a status a view shows without an event: the status and its
    words, and a Slurm job's state, reason and nodes (a pending job has no
    events to carry them)."""
    slurm = status.get("slurm") or {}
    return (
        status.get("status"),
        status.get("message"),
        slurm.get("state"),
        slurm.get("reason"),
        tuple(slurm.get("nodes") or ()),
    )


class RunHub:
    """Every run watched by this kernel, for the comm sessions that listen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watchers: dict[str, _Watcher] = {}
        self._thread: threading.Thread | None = None

    def subscribe(self, run_dir: str | os.PathLike[str], listener: RunListener) -> None:
        path = Path(run_dir).expanduser().resolve()
        if not path.is_dir():
            raise TrainError(
                "run_missing", f"{path} is not a run folder", "the run may have been deleted"
            )
        key = str(path)
        with self._lock:
            watcher = self._watchers.get(key)
            if watcher is None:
                if len(self._watchers) >= MAX_WATCHED:
                    raise TrainError(
                        "too_many_runs",
                        f"this kernel already shows {MAX_WATCHED} runs live",
                        "close some run views (or restart the kernel) and open this one again",
                    )
                watcher = self._watchers[key] = _Watcher(path)
            watcher.add(listener)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name=f"yolo-lab-run-hub-{id(self):x}", daemon=True
                )
                self._thread.start()

    @property
    def watched(self) -> int:
        """How many run folders are watched now."""
        with self._lock:
            return len(self._watchers)

    def _loop(self) -> None:
        while True:
            with self._lock:
                for key in [k for k, w in self._watchers.items() if w.idle()]:
                    del self._watchers[key]
                watchers = list(self._watchers.values())
                if not watchers:
                    self._thread = None
                    return
            for watcher in watchers:
                try:
                    watcher.tick()
                except Exception:
                    pass  # one unreadable folder must not stop the others
            time.sleep(POLL_S)

    def unsubscribe(self, run_dir: str | os.PathLike[str] | None, listener: RunListener) -> None:
        with self._lock:
            watchers = list(self._watchers.values())
        for watcher in watchers:
            if run_dir is None or str(watcher.run_dir) == str(Path(run_dir).expanduser().resolve()):
                watcher.remove(listener)


_hub: RunHub | None = None


def get_hub() -> RunHub:
    """This kernel's hub, made on first use."""
    global _hub
    if _hub is None:
        _hub = RunHub()
    return _hub
