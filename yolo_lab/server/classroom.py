"""A class on one GPU server, seen from the Jupyter server side.

Each student's server knows its own activity (``GET /yolo-lab/activity``):
the trainings running in it now, read from their run folders (the status
file and the last events the training runner already writes: epoch,
images/s, the GPU memory its processes hold), and the share of the GPU the
class's Hub gives it (``YOLO_LAB_GPU_MEMORY_FRACTION``,
:mod:`yolo_lab.gpu_share`). A :class:`Reporter` sends it every 10 s to the
class service (``yolo_lab_class.py`` beside the Hub's config) with the
server's own token.

A teacher's server answers ``GET /yolo-lab/class`` by asking that service,
which shows the class to the Hub's admins only. No server's token opens
another user's server (``jupyterhub_config.py``'s ``server_token_scopes``),
and nothing asks a student's server anything: a token sent to a student's
process would be the student's.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from ..gpu_share import memory_fraction
from ..training.events import read_event_tail
from ..training.launch import run_status
from ..training.rundir import STATUS_FILE, TERMINAL

__all__ = [
    "RUN_ROOTS_ENV",
    "CLASS_URL_ENV",
    "ClassError",
    "Reporter",
    "activity",
    "class_view",
    "live_trainings",
    "run_roots",
]

RUN_ROOTS_ENV: Final = "YOLO_LAB_RUN_ROOTS"
"""Folders (``os.pathsep``-separated) whose runs a server reports; default ``<root>/runs``."""

CLASS_URL_ENV: Final = "YOLO_LAB_CLASS_URL"
"""The class service (behind the Hub's proxy) that servers report to and teachers ask."""

#: Seconds between two reports of a server (the service counts 35 s as stale).
REPORT_EVERY_S: Final = 10.0

#: How far below a root run folders are looked for (``runs/train/exp`` is 2).
_DEPTH: Final = 2
#: The end of an events file read for the latest figures.
_TAIL_BYTES: Final = 256 * 1024
#: Batches whose images/s make the median shown (one batch's rate is noisy).
_RATE_BATCHES: Final = 10
#: Seconds the class service gets to take one report.
REPORT_TIMEOUT_S: Final = 5.0


def run_roots(
    root_dir: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> list[Path]:
    """The folders whose runs this server reports."""
    env = os.environ if environ is None else environ
    listed = [p for p in env.get(RUN_ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    return [Path(p).expanduser() for p in listed] or [Path(root_dir).expanduser() / "runs"]


def _run_dirs(root: Path, depth: int) -> Iterator[Path]:
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return
    for child in children:
        if (child / STATUS_FILE).is_file():
            yield child
        elif depth > 1:
            yield from _run_dirs(child, depth - 1)


def _figures(run_dir: Path) -> dict[str, Any]:
    """Progress, images/s and GPU memory from the run's latest events."""
    events = read_event_tail(run_dir, _TAIL_BYTES)
    batches = [e for e in events if e.get("kind") == "batch"]
    samples = [e.get("sample") for e in events if e.get("kind") == "telemetry"]
    out: dict[str, Any] = {
        "epoch": None,
        "epochs": None,
        "batch": None,
        "batches": None,
        "imgs_per_s": None,
        "gpu_mem_bytes": None,
        "gpu_util_pct": None,
        "updated": None,
    }
    if batches:
        last = batches[-1]
        for key in ("epoch", "epochs", "batch", "batches"):
            out[key] = last.get(key)
        out["updated"] = last.get("t")
        rates = [
            float(r)
            for r in (b.get("imgs_per_s") for b in batches[-_RATE_BATCHES:])
            if isinstance(r, (int, float))
        ]
        if rates:
            out["imgs_per_s"] = statistics.median(rates)
    sample = next((s for s in reversed(samples) if isinstance(s, dict)), None)
    gpus = [g for g in (sample or {}).get("gpus") or [] if isinstance(g, dict)]
    # Two readings of the GPU memory the run holds: NVML's, summed over the
    # run's processes on every GPU (0 in a container with its own pid
    # namespace: NVML names host pids), and torch's reserved memory on rank
    # 0's GPU, which the runner puts in each batch event. The larger one.
    held = [g["proc_mem_bytes"] for g in gpus if isinstance(g.get("proc_mem_bytes"), (int, float))]
    reserved = batches[-1].get("gpu_mem_gib") if batches else None
    readings = [sum(held)] if held else []
    if isinstance(reserved, (int, float)):
        readings.append(int(reserved * 2**30))
    out["gpu_mem_bytes"] = max(readings) if readings else None
    utils = [g["util_pct"] for g in gpus if isinstance(g.get("util_pct"), (int, float))]
    out["gpu_util_pct"] = max(utils) if utils else None
    return out


def live_trainings(roots: list[Path], depth: int = _DEPTH) -> list[dict[str, Any]]:
    """The trainings running now in the run folders under ``roots``, newest first.

    A run counts while its status is not an end and its process is alive
    (:func:`yolo_lab.training.launch.run_status` checks); a run folder seen
    under two roots (one folder mounted twice) counts once.
    """
    seen: set[tuple[int, int]] = set()
    out = []
    for root in roots:
        for run_dir in _run_dirs(root, depth):
            try:
                stat = run_dir.stat()
            except OSError:
                continue
            if (stat.st_dev, stat.st_ino) in seen:
                continue
            seen.add((stat.st_dev, stat.st_ino))
            status = run_status(run_dir)
            state = status.get("status")
            if not state or state in TERMINAL:
                continue
            out.append(
                {
                    "name": run_dir.name,
                    "run": str(run_dir),
                    "status": state,
                    "started": status.get("created"),
                    "detached": bool(status.get("detached")),
                    **_figures(run_dir),
                }
            )
    out.sort(key=lambda r: r.get("started") or 0, reverse=True)
    return out


def activity(
    root_dir: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What this server reports to its class: its trainings and GPU share."""
    env = os.environ if environ is None else environ
    return {
        "user": env.get("JUPYTERHUB_USER"),
        "gpu_share": memory_fraction(env),
        "trainings": live_trainings(run_roots(root_dir, env)),
        "time": time.time(),
    }


class ClassError(Exception):
    """The class could not be read; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


#: ``fetch(url, token) -> (HTTP status, JSON body or None)``; raises OSError when nothing answers.
Fetch = Callable[[str, str], Awaitable[tuple[int, Any]]]


def _class_settings(environ: Mapping[str, str]) -> tuple[str, str]:
    """The class service's URL and this server's own Hub token."""
    token = environ.get("JUPYTERHUB_API_TOKEN", "")
    if not environ.get("JUPYTERHUB_API_URL") or not token:
        raise ClassError(
            404,
            "This JupyterLab is not a JupyterHub server: the class view needs the class's Hub "
            "(yolo-lab classroom init).",
        )
    url = environ.get(CLASS_URL_ENV, "").rstrip("/")
    if not url:
        raise ClassError(
            500,
            f"{CLASS_URL_ENV} is not set in this server: the class's jupyterhub_config.py "
            "(yolo-lab classroom init) sets it in c.Spawner.environment, the class service's "
            "address as the servers reach it. A config from an older yolo-lab: write it again.",
        )
    return url, token


async def class_view(fetch: Fetch, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every user of the Hub, their server, and what each running server trains.

    Asked of the class's service (yolo_lab_class.py beside the Hub's config),
    with this server's own token: the service answers a teacher only, from
    what each server reported itself. Raises :class:`ClassError` when this
    is no class server, or the service refuses (a student, not a teacher).
    """
    env = os.environ if environ is None else environ
    url, token = _class_settings(env)
    try:
        status, body = await fetch(f"{url}/class", token)
    except OSError as exc:
        raise ClassError(502, f"The class service at {url} did not answer ({exc}).") from exc
    message = body.get("message") if isinstance(body, dict) else None
    if status in (401, 403):
        raise ClassError(
            403,
            message
            or "Only the class's teachers see every student: a teacher is an admin user "
            "(ADMINS in jupyterhub_config.py).",
        )
    if status != 200 or not isinstance(body, dict):
        raise ClassError(
            502,
            f"The class service at {url} answered HTTP {status}"
            + (f": {message}" if message else "."),
        )
    return {"students": body.get("students") or [], "hub": url, "time": body.get("time")}


class Reporter:
    """Reports this server's activity to the class service every ``every`` seconds.

    What a teacher sees of a student comes only from here: the student's
    server sends its own trainings with its own token; nothing asks it.
    A thread of its own: reading run folders and one small POST.
    """

    def __init__(
        self,
        root_dir: str | os.PathLike[str],
        environ: Mapping[str, str] | None = None,
        every: float = REPORT_EVERY_S,
        log: Callable[[str], None] | None = None,
    ) -> None:
        env = dict(os.environ if environ is None else environ)
        self.url, self.token = _class_settings(env)
        self.root_dir = root_dir
        self.environ = env
        self.every = every
        self.log = log
        self.sent = 0
        self.failed: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="yolo-lab-class-report", daemon=True
        )

    def start(self) -> Reporter:
        self._thread.start()
        return self

    def stop(self, wait_s: float = REPORT_TIMEOUT_S + 1.0) -> None:
        """No more reports; a report on its way is waited for (at most ``wait_s``),
        so ``sent`` and ``failed`` then say how it went."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(wait_s)

    def report(self) -> None:
        """One report now; a failure is kept in ``failed`` (and logged once per cause)."""
        body = activity(self.root_dir, self.environ)
        request = urllib.request.Request(
            f"{self.url}/activity",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=REPORT_TIMEOUT_S):
                pass
        except (OSError, ValueError) as exc:
            cause = f"the class service at {self.url} took no report ({exc})"
            if cause != self.failed and self.log is not None:
                self.log(cause)
            self.failed = cause
            return
        self.failed = None
        self.sent += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.report()
            self._stop.wait(self.every)
