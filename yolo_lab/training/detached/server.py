"""Detached runs: training owned by the Jupyter server, not by a kernel.

``train(..., detach=True)`` prepares the run folder in the kernel as usual
and then asks yolo-lab's Jupyter server extension to start the run's
process, over a Unix socket only the server's user can reach (the peer's uid
is checked too). The process is then the server's child, in its own session:
a kernel interrupt, restart, shutdown or ``kill -9`` does not reach it, and
no parent-death signal ties it to the kernel.

Nothing is orphaned all the same:
- each detached run records its process id, the process's start time
  (so a recycled pid is never taken for it), its owner and the server in its
  status file, and the server keeps one registry file per run under
  ``$XDG_DATA_HOME/yolo-lab/detached`` until the run has ended;
- the server watches its runs; a run whose process is gone without writing
  its end (machine restart, out-of-memory killer, ``kill -9``) becomes
  ``lost``, never stays ``running``;
- a server that starts again re-adopts the runs still alive and marks the
  others lost;
- when the server stops, ``c.YoloLab.detached_runs_on_exit`` decides:
  ``"keep"`` (the default: the runs go on and the next server re-adopts
  them) or ``"stop"`` (each saves last.pt after its batch and ends);
- ``yolo-lab down`` stops every live run in the container first, detached
  ones included (``python -m yolo_lab stop-runs``).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import socketserver
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from .errors import TrainError
from .rundir import (
    DETACHED_ENV,
    LOG_FILE,
    SPEC_FILE,
    STATUS_FILE,
    STOP_FILE,
    TERMINAL,
    pid_alive,
    read_spec,
    read_status,
    spec_world,
    summarize,
    write_json,
    write_status,
)

__all__ = [
    "DETACHED_ENV",
    "ON_EXIT_CHOICES",
    "SOCKET_ENV",
    "DetachedRuns",
    "available",
    "lost_words",
    "process_started",
    "registry_dir",
    "request_start",
    "same_process",
]

# Set by the server extension in the server's environment, so every kernel
# it starts inherits where to ask.
SOCKET_ENV: Final = "YOLO_LAB_RUNS_SOCKET"
ON_EXIT_CHOICES: Final = ("keep", "stop")
_PROTOCOL: Final = 1
_MAX_REQUEST: Final = 1 << 20
_RUNNER_MODULES: Final = ("yolo_lab._runner", "yolo_lab._runner.supervisor")


def registry_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the server records the detached runs it owns."""
    env = os.environ if environ is None else environ
    if env.get("YOLO_LAB_DETACHED_DIR"):
        return Path(env["YOLO_LAB_DETACHED_DIR"])
    data = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "yolo-lab" / "detached"


def process_started(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), None if it is gone."""
    try:
        import psutil

        return float(psutil.Process(pid).create_time())
    except Exception:
        return None


def same_process(pid: Any, started: Any) -> bool:
    """Whether ``pid`` still runs and is the process that started at ``started``."""
    if not pid_alive(pid) or not isinstance(started, (int, float)):
        return False
    now = process_started(int(pid))
    return now is not None and abs(now - float(started)) < 1.0


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


# -- the kernel's side ----------------------------------------------------------


def available(environ: Mapping[str, str] | None = None) -> str | None:
    """Why a detached run cannot start from this process, or None when it can."""
    env = os.environ if environ is None else environ
    path = env.get(SOCKET_ENV)
    if not path:
        return (
            "this kernel was not started by a Jupyter server with yolo-lab's server "
            "extension, which owns detached runs"
        )
    if not Path(path).exists():
        return f"the Jupyter server that started this kernel no longer listens at {path}"
    return None


def _detach_fix() -> str:
    return (
        "run it from a notebook in JupyterLab with yolo-lab installed in the server's "
        "environment (`jupyter server extension list` shows yolo_lab), or train with "
        "detach=False"
    )


def request_start(
    run_dir: Path,
    python: str,
    env: Mapping[str, str],
    timeout_s: float = 30.0,
) -> dict[str, Any]:
    """Ask the server to start the prepared run in ``run_dir``; its answer."""
    why = available()
    if why is not None:
        raise TrainError("detach_unavailable", why, _detach_fix())
    request = {
        "v": _PROTOCOL,
        "op": "start",
        "run": str(run_dir),
        "python": python,
        "env": dict(env),
    }
    return _ask(request, timeout_s)


def _ask(request: Mapping[str, Any], timeout_s: float) -> dict[str, Any]:
    path = os.environ[SOCKET_ENV]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(path)
            sock.sendall(json.dumps(request).encode() + b"\n")
            reply = sock.makefile("rb").readline(_MAX_REQUEST)
    except OSError as exc:
        raise TrainError(
            "detach_unavailable",
            f"the Jupyter server did not answer at {path}: {exc}",
            _detach_fix(),
        ) from exc
    try:
        answer = json.loads(reply)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise TrainError(
            "detach_failed", "the Jupyter server gave no answer", "see the server's log"
        )
    if not answer.get("ok"):
        raise TrainError(
            str(answer.get("code") or "detach_failed"),
            str(answer.get("message") or "the server refused"),
            str(answer.get("fix") or "see the server's log"),
        )
    return answer


# -- the server's side ---------------------------------------------------------


class _Refused(Exception):
    def __init__(self, code: str, message: str, fix: str) -> None:
        super().__init__(message)
        self.code, self.message, self.fix = code, message, fix


class DetachedRuns:
    """The detached runs one Jupyter server owns: start, watch, list, stop.

    ``registry`` is the folder of per-run records; ``on_exit`` ("keep" or
    "stop") is what ``close()`` does with runs still going.
    """

    def __init__(self, registry: Path | None = None, on_exit: str = "keep") -> None:
        if on_exit not in ON_EXIT_CHOICES:
            raise ValueError(
                f"detached_runs_on_exit must be one of {', '.join(ON_EXIT_CHOICES)}, "
                f"got {on_exit!r}"
            )
        self.registry = _writable_registry() if registry is None else Path(registry)
        self.on_exit = on_exit
        self._lock = threading.Lock()
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._closed = threading.Event()
        self._server: socketserver.ThreadingUnixStreamServer | None = None
        self._socket_dir: str | None = None
        self._watcher: threading.Thread | None = None

    # -- records

    def _record_path(self, run_dir: Path) -> Path:
        digest = hashlib.sha256(str(run_dir).encode()).hexdigest()[:20]
        return self.registry / f"{digest}.json"

    def records(self) -> list[dict[str, Any]]:
        """The registry's records (runs this server or an earlier one owns)."""
        out = []
        try:
            paths = sorted(self.registry.glob("*.json"))
        except OSError:
            return []
        for path in paths:
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and isinstance(record.get("run"), str):
                out.append(record)
        return out

    def _forget(self, run_dir: Path) -> None:
        self._record_path(run_dir).unlink(missing_ok=True)
        with self._lock:
            self._children.pop(str(run_dir), None)

    # -- start

    def start(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Start the run a kernel prepared; raises _Refused with what to do."""
        run_dir = Path(str(request.get("run", ""))).resolve()
        if not (run_dir / SPEC_FILE).is_file() or not (run_dir / STATUS_FILE).is_file():
            raise _Refused(
                "not_a_run", f"{run_dir} holds no prepared run", "start it with yolo_lab.train()"
            )
        status = read_status(run_dir)
        if status.get("status") != "starting":
            raise _Refused(
                "run_active",
                f"{run_dir.name} is {status.get('status')}, not waiting to start",
                "stop it first, or wait for it",
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
        module = _RUNNER_MODULES[1] if spec_world(read_spec(run_dir)) > 1 else _RUNNER_MODULES[0]
        env = {**env, DETACHED_ENV: "1"}
        with open(run_dir / LOG_FILE, "ab") as log:
            proc = subprocess.Popen(
                [python, "-m", module, str(run_dir)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(run_dir),
                start_new_session=True,
            )
        started = process_started(proc.pid) or time.time()
        owner = {
            "kind": "jupyter-server",
            "server_pid": os.getpid(),
            "user": _user(),
            "host": socket.gethostname(),
        }
        record = {"run": str(run_dir), "pid": proc.pid, "pid_started": started, "owner": owner}
        self.registry.mkdir(parents=True, exist_ok=True)
        write_json(self._record_path(run_dir), record)
        write_status(run_dir, pid=proc.pid, pid_started=started, detached=True, owner=owner)
        with self._lock:
            self._children[str(run_dir)] = proc
        return {"ok": True, "pid": proc.pid, "pid_started": started}

    # -- watch

    def adopt(self) -> dict[str, list[str]]:
        """On server start: take over the live runs of the registry, mark the rest lost."""
        adopted, lost = [], []
        for record in self.records():
            run_dir = Path(record["run"])
            if self._check(run_dir, record):
                adopted.append(str(run_dir))
            else:
                lost.append(str(run_dir))
        return {"adopted": adopted, "ended": lost}

    def _check(self, run_dir: Path, record: Mapping[str, Any]) -> bool:
        """True while the run goes on; else settle its status and forget it."""
        with self._lock:
            proc = self._children.get(str(run_dir))
            # Under the lock: Popen.poll() answers None while another thread
            # polls the same child (the watcher and a request, say).
            going = proc.poll() is None if proc is not None else False
        if proc is None:
            going = same_process(record.get("pid"), record.get("pid_started"))
        if going:
            return True
        if run_dir.is_dir():
            status = read_status(run_dir)
            if status.get("status") not in TERMINAL:
                mark_lost(run_dir)
        self._forget(run_dir)
        return False

    def poll(self) -> None:
        """Settle every run whose process has ended."""
        for record in self.records():
            self._check(Path(record["run"]), record)

    def _watch(self, interval_s: float) -> None:
        while not self._closed.wait(interval_s):
            try:
                self.poll()
            except Exception:
                pass  # the next round tries again

    # -- list and stop

    def runs(self) -> list[dict[str, Any]]:
        """The live detached runs as the runs list shows runs (progress, best mAP), newest first."""
        out = []
        for record in self.records():
            run_dir = Path(record["run"])
            if not self._check(run_dir, record):
                continue
            status = read_status(run_dir)
            if status.get("status") in TERMINAL:
                continue  # ended; its process is only exiting
            out.append(
                {
                    **summarize(run_dir, status),
                    "pid": record.get("pid"),
                    "owner": record.get("owner"),
                    "detached": True,
                }
            )
        out.sort(key=lambda r: r.get("created") or 0, reverse=True)
        return out

    def stop(self, run: str) -> bool:
        """Ask a live detached run to stop after its batch; False if none such."""
        run_dir = Path(run).resolve()
        for record in self.records():
            if record["run"] == str(run_dir) and self._check(run_dir, record):
                try:
                    (run_dir / STOP_FILE).touch()
                except OSError:
                    os.kill(int(record["pid"]), 15)
                return True
        return False

    # -- the socket

    def serve(self, watch_interval_s: float = 2.0) -> str:
        """Listen for kernels' requests; returns the socket's path."""
        self._socket_dir = tempfile.mkdtemp(prefix="yolo-lab-runs-")  # mode 0700
        path = os.path.join(self._socket_dir, "runs.sock")
        manager = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(json.dumps(manager._answer(self.request, self.rfile)).encode())
                self.wfile.write(b"\n")

        self._server = socketserver.ThreadingUnixStreamServer(path, Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, name="yolo-lab-detached", daemon=True
        ).start()
        self._watcher = threading.Thread(
            target=self._watch,
            args=(watch_interval_s,),
            name="yolo-lab-detached-watch",
            daemon=True,
        )
        self._watcher.start()
        return path

    def _answer(self, conn: socket.socket, rfile: Any) -> dict[str, Any]:
        try:
            uid = _peer_uid(conn)
            if uid is not None and uid != os.getuid():
                raise _Refused("forbidden", "only the server's own user may start runs", "")
            line = rfile.readline(_MAX_REQUEST)
            try:
                request = json.loads(line)
            except ValueError:
                request = None
            if not isinstance(request, dict) or request.get("v") != _PROTOCOL:
                raise _Refused(
                    "bad_request",
                    "not a yolo-lab request of this version",
                    "use the same yolo-lab in the kernel and the server",
                )
            if request.get("op") != "start":
                raise _Refused("bad_request", f"unknown op {request.get('op')!r}", "")
            return self.start(request)
        except _Refused as refused:
            return {
                "ok": False,
                "code": refused.code,
                "message": refused.message,
                "fix": refused.fix,
            }
        except Exception as exc:
            return {
                "ok": False,
                "code": "detach_failed",
                "message": f"{type(exc).__name__}: {exc}",
                "fix": "see the Jupyter server's log",
            }

    def close(self, grace_s: float = 60.0) -> list[str]:
        """Stop listening; with on_exit "stop", stop live runs and wait up to ``grace_s``."""
        self._closed.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._socket_dir is not None:
            for name in os.listdir(self._socket_dir):
                os.unlink(os.path.join(self._socket_dir, name))
            os.rmdir(self._socket_dir)
            self._socket_dir = None
        if self.on_exit != "stop":
            return []
        live = [r["run"] for r in self.runs()]
        for run in live:
            self.stop(run)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and self.runs():
            time.sleep(0.2)
        return live


def _writable_registry() -> Path:
    """The registry folder, or one in the temporary folder when home is not writable.

    (A container run with an arbitrary ``--user`` may have no writable home;
    runs there still start, and re-adoption works while /tmp lasts.)
    """
    preferred = registry_dir()
    try:
        preferred.mkdir(parents=True, exist_ok=True)
        if os.access(preferred, os.W_OK):
            return preferred
    except OSError:
        pass
    fallback = Path(tempfile.gettempdir()) / f"yolo-lab-detached-{os.getuid()}"
    fallback.mkdir(mode=0o700, exist_ok=True)
    return fallback


def _peer_uid(conn: socket.socket) -> int | None:
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):
        return None
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:
        return str(os.getuid())
