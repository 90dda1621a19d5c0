"""The server's side: start, watch, list and stop the detached runs it owns."""

from __future__ import annotations

import fcntl
import logging
import os
import pwd
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ..rundir import (
    DETACHED_ENV,
    LOG_FILE,
    SPEC_FILE,
    STATUS_FILE,
    STOP_FILE,
    TERMINAL,
    read_spec,
    read_status,
    spec_world,
    summarize,
    write_status,
)
from .client import PROTOCOL
from .identity import ALIVE, ELSEWHERE, identify, own_process, signal_process, whereabouts
from .listener import Listener, refusal
from .registry import (
    FOREIGN,
    OWN,
    Record,
    choose_registry,
    folder_state,
    read_records,
    write_record,
)

__all__ = ["ON_EXIT_CHOICES", "DetachedRuns", "lost_words"]

ON_EXIT_CHOICES: Final = ("keep", "stop")
_RUNNER_MODULES: Final = ("yolo_lab._runner", "yolo_lab._runner.supervisor")
# Held by a run's process for its whole life (the server hands it the open
# file): a second start of the same folder finds it taken.
_LOCK_FILE: Final = ".yolo_lab_detached.lock"


def lost_words(run_dir: Path) -> tuple[str, str]:
    """The message and fix of a lost run."""
    message = (
        "the training process is gone without saying why: the machine restarted, "
        "the out-of-memory killer or a kill -9 ended it"
    )
    if (run_dir / "weights" / "last.pt").is_file():
        fix = f"continue it from its last.pt: yolo_lab.resume({str(run_dir)!r}, detach=True)"
    else:
        fix = "it saved no weights yet: start it again with yolo_lab.train(...)"
    return message, fix


def mark_lost(run_dir: Path) -> None:
    message, fix = lost_words(run_dir)
    write_status(run_dir, status="lost", ended=time.time(), code="lost", message=message, fix=fix)


class _Refused(Exception):
    def __init__(self, code: str, message: str, fix: str) -> None:
        super().__init__(message)
        self.code, self.message, self.fix = code, message, fix


def _take_run_lock(run_dir: Path, wait_s: float = 10.0) -> int:
    """The run's lock, held (its file descriptor); _Refused when a process
    still holds it after ``wait_s``.

    The wait is for a process on its way out: a killed trainer's main thread
    is a zombie (so the run reads as lost) while its other threads still
    close its files, the lock among them.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(run_dir / _LOCK_FILE, flags, 0o600)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _Refused(
                        "run_active",
                        f"a process of {run_dir.name} is still training (it holds the run's lock)",
                        "stop it first, or wait for it",
                    ) from None
                time.sleep(0.1)
    except BaseException:
        os.close(fd)
        raise


class DetachedRuns:
    """The detached runs one Jupyter server owns: start, watch, list, stop.

    ``registry`` is the folder of per-run records (a private folder is
    chosen instead when it is not one, see ``choose_registry``); ``on_exit``
    ("keep" or "stop") is what ``close()`` does with runs still going.
    Records of other hosts, and records naming a folder or a process not
    this user's, are left alone: never marked lost, written or signalled.
    """

    def __init__(
        self,
        registry: Path | None = None,
        on_exit: str = "keep",
        log: logging.Logger | None = None,
    ) -> None:
        if on_exit not in ON_EXIT_CHOICES:
            raise ValueError(
                f"detached_runs_on_exit must be one of {', '.join(ON_EXIT_CHOICES)}, "
                f"got {on_exit!r}"
            )
        self.log = log or logging.getLogger("yolo_lab.detached")
        self.registry, self.registry_note = choose_registry(registry)
        if self.registry_note:
            self.log.warning("yolo-lab: %s", self.registry_note)
        self.on_exit = on_exit
        self._lock = threading.Lock()
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._reported: set[tuple[str, str]] = set()
        self._closed = threading.Event()
        self._listener: Listener | None = None
        self._watcher: threading.Thread | None = None

    # -- records

    def _report(self, name: str, why: str) -> None:
        """Log a record left alone, once."""
        with self._lock:
            if (name, why) in self._reported:
                return
            self._reported.add((name, why))
        self.log.warning("yolo-lab: detached-run record %s left alone: %s", name, why)

    def records(self) -> list[Record]:
        """The registry's usable records (runs this server or an earlier one owns)."""
        return read_records(self.registry, self._report)

    def _forget(self, record: Record) -> None:
        (self.registry / record.file).unlink(missing_ok=True)
        with self._lock:
            self._children.pop(str(record.run), None)

    def _check(self, record: Record) -> bool | None:
        """True while the run goes on; False once it has ended (its status then
        settled, its record forgotten); None for a record left alone."""
        folder = folder_state(record.run)
        if folder == FOREIGN:
            self._report(record.file, f"{record.run} is not a run folder of this user")
            return None
        with self._lock:
            proc = self._children.get(str(record.run))
            # Under the lock: Popen.poll() answers None while another thread
            # polls the same child (the watcher and a request, say).
            going = proc.poll() is None if proc is not None else None
        if going is None:
            where = whereabouts(record.pid, record.process)
            if where == ELSEWHERE:
                return None  # that host's server judges it
            if where == ALIVE and not own_process(record.pid, record.process):
                self._report(record.file, f"process {record.pid} is not this user's")
                return None
            going = where == ALIVE
        if going:
            return True
        if folder == OWN and read_status(record.run).get("status") not in TERMINAL:
            mark_lost(record.run)
        self._forget(record)
        return False

    def _each(self, what: str) -> list[tuple[Record, bool | None]]:
        """Every record with its check; a record that fails costs itself only."""
        out = []
        for record in self.records():
            try:
                out.append((record, self._check(record)))
            except Exception as exc:
                self._report(record.file, f"{what}: {type(exc).__name__}: {exc}")
        return out

    # -- start

    def start(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Start the run a kernel prepared; raises _Refused with what to do."""
        run_dir = Path(str(request.get("run", ""))).resolve()
        if folder_state(run_dir) != OWN or not (
            (run_dir / SPEC_FILE).is_file() and (run_dir / STATUS_FILE).is_file()
        ):
            raise _Refused(
                "not_a_run",
                f"{run_dir} holds no prepared run of this user",
                "start it with yolo_lab.train()",
            )
        python = str(request.get("python", ""))
        if not os.path.isabs(python) or not os.access(python, os.X_OK):
            raise _Refused(
                "bad_python", f"{python!r} is not an executable", "ask from a Python kernel"
            )
        env = request.get("env")
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise _Refused("bad_request", "env must map names to strings", "use yolo_lab.train()")
        lock = _take_run_lock(run_dir)
        try:
            status = read_status(run_dir)
            if status.get("status") != "starting":
                raise _Refused(
                    "run_active",
                    f"{run_dir.name} is {status.get('status')}, not waiting to start",
                    "stop it first, or wait for it",
                )
            world = spec_world(read_spec(run_dir))
            module = _RUNNER_MODULES[1] if world > 1 else _RUNNER_MODULES[0]
            with open(run_dir / LOG_FILE, "ab") as log:
                proc = subprocess.Popen(
                    [python, "-m", module, str(run_dir)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**env, DETACHED_ENV: "1"},
                    cwd=str(run_dir),
                    start_new_session=True,
                    pass_fds=(lock,),  # the run's process holds the lock from now on
                )
        finally:
            os.close(lock)
        process = identify(proc.pid)
        owner = {
            "kind": "jupyter-server",
            "server_pid": os.getpid(),
            "user": _user(),
            "host": socket.gethostname(),
        }
        # "started" (the wall clock) is for people; the process is named by `process`.
        record = {
            "run": str(run_dir),
            "pid": proc.pid,
            "process": process,
            "owner": owner,
            "started": time.time(),
        }
        write_record(self.registry, run_dir, record)
        write_status(run_dir, pid=proc.pid, process=process, detached=True, owner=owner)
        with self._lock:
            self._children[str(run_dir)] = proc
        return {"ok": True, "pid": proc.pid, "process": process}

    # -- watch

    def adopt(self) -> dict[str, list[str]]:
        """On server start: take over the live runs of the registry, mark the
        ended ones lost; ``elsewhere``: runs of other hosts, left to them."""
        found: dict[str, list[str]] = {"adopted": [], "ended": [], "elsewhere": []}
        for record, going in self._each("adopt"):
            if going is None:
                if whereabouts(record.pid, record.process) == ELSEWHERE:
                    found["elsewhere"].append(str(record.run))
                continue
            found["adopted" if going else "ended"].append(str(record.run))
        return found

    def poll(self) -> None:
        """Settle every run whose process has ended."""
        self._each("poll")

    def _watch(self, interval_s: float) -> None:
        while not self._closed.wait(interval_s):
            try:
                self.poll()
            except Exception:
                self.log.exception("yolo-lab: watching the detached runs")

    # -- list and stop

    def runs(self) -> list[dict[str, Any]]:
        """The live detached runs as the runs list shows runs (progress, best mAP), newest first."""
        out = []
        for record, going in self._each("list"):
            if not going:
                continue
            try:
                status = read_status(record.run)
                if status.get("status") in TERMINAL:
                    continue  # ended; its process is only exiting
                summary = summarize(record.run, status)
            except Exception as exc:
                self._report(record.file, f"list: {type(exc).__name__}: {exc}")
                continue
            out.append({**summary, "pid": record.pid, "owner": record.owner, "detached": True})
        out.sort(key=lambda r: r.get("created") or 0, reverse=True)
        return out

    def stop(self, run: str) -> bool:
        """Ask a live detached run to stop after its batch; False if none such."""
        run_dir = Path(run).resolve()
        for record, going in self._each("stop"):
            if record.run != run_dir or not going:
                continue
            try:
                (run_dir / STOP_FILE).touch()
            except OSError:
                # A full disk or a read-only folder: the runner takes SIGTERM as
                # the same stop, sent only to the very process the record names.
                return signal_process(record.pid, record.process)
            return True
        return False

    # -- the socket

    def serve(
        self,
        watch_interval_s: float = 2.0,
        read_timeout_s: float = 10.0,
        max_connections: int = 8,
    ) -> str:
        """Listen for kernels' requests; returns the socket's path."""
        self._listener = Listener(self._answer, read_timeout_s, max_connections)
        self._watcher = threading.Thread(
            target=self._watch,
            args=(watch_interval_s,),
            name="yolo-lab-detached-watch",
            daemon=True,
        )
        self._watcher.start()
        return self._listener.path

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            if request.get("v") != PROTOCOL:
                raise _Refused(
                    "bad_request",
                    "not a yolo-lab request of this version",
                    "use the same yolo-lab in the kernel and the server",
                )
            if request.get("op") != "start":
                raise _Refused("bad_request", f"unknown op {request.get('op')!r}", "")
            return self.start(request)
        except _Refused as refused:
            return refusal(refused.code, refused.message, refused.fix)
        except Exception as exc:
            return refusal(
                "detach_failed", f"{type(exc).__name__}: {exc}", "see the Jupyter server's log"
            )

    def close(self, grace_s: float = 60.0) -> list[str]:
        """Stop listening; with on_exit "stop", stop live runs and wait up to ``grace_s``."""
        self._closed.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self.on_exit != "stop":
            return []
        live = [r["run"] for r in self.runs()]
        for run in live:
            try:
                self.stop(run)
            except Exception:
                self.log.exception("yolo-lab: stopping the detached run %s", run)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and self.runs():
            time.sleep(0.2)
        return live


def _user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())
