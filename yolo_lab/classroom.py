"""A class on one GPU server, seen from the Jupyter server side.

Each student's server answers ``GET /yolo-lab/activity``: the trainings
running in it now, read from their run folders (the status file and the
last events the training runner already writes: epoch, images/s, the GPU
memory its processes hold), and the share of the GPU the class's Hub gives
it (``YOLO_LAB_GPU_MEMORY_FRACTION``, :mod:`yolo_lab.gpu_share`).

A teacher's server answers ``GET /yolo-lab/class``: the Hub's users and
their servers from the Hub's REST API, and each running server's activity,
asked through the Hub's proxy. Both requests carry the teacher's server's
own API token (``JUPYTERHUB_API_TOKEN``); the class's ``jupyterhub_config.py``
(``yolo-lab classroom init``) gives an admin's server token the scopes to
list users and reach their servers, and a student's token only its own. The
Hub checks every request: nothing here collects or stores anything.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from .gpu_share import memory_fraction
from .training.launch import run_status
from .training.rundir import STATUS_FILE, TERMINAL, read_event_tail

__all__ = [
    "RUN_ROOTS_ENV",
    "HUB_URL_ENV",
    "ClassError",
    "activity",
    "class_view",
    "live_trainings",
    "run_roots",
]

RUN_ROOTS_ENV: Final = "YOLO_LAB_RUN_ROOTS"
"""Folders (``os.pathsep``-separated) whose runs a server reports; default ``<root>/runs``."""

HUB_URL_ENV: Final = "YOLO_LAB_HUB_URL"
"""The Hub's proxy as a server reaches it (the class's config sets it)."""

#: How far below a root run folders are looked for (``runs/train/exp`` is 2).
_DEPTH: Final = 2
#: The end of an events file read for the latest figures.
_TAIL_BYTES: Final = 256 * 1024
#: Batches whose images/s make the median shown (one batch's rate is noisy).
_RATE_BATCHES: Final = 10
#: Seconds a student's server gets to answer the teacher's.
SERVER_TIMEOUT_S: Final = 5.0


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


def _hub_settings(environ: Mapping[str, str]) -> tuple[str, str, str]:
    api = environ.get("JUPYTERHUB_API_URL", "").rstrip("/")
    token = environ.get("JUPYTERHUB_API_TOKEN", "")
    if not api or not token:
        raise ClassError(
            404,
            "This JupyterLab is not a JupyterHub server: the class view needs the class's Hub "
            "(yolo-lab classroom init).",
        )
    hub = (environ.get(HUB_URL_ENV) or environ.get("JUPYTERHUB_PUBLIC_URL") or "").rstrip("/")
    if not hub:
        raise ClassError(
            500,
            f"{HUB_URL_ENV} is not set in this server: add it to c.Spawner.environment in "
            "jupyterhub_config.py (yolo-lab classroom init writes it), the Hub's address as "
            "the servers reach it.",
        )
    return api, token, hub


async def class_view(fetch: Fetch, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every user of the Hub, their server, and what each running server trains.

    Raises :class:`ClassError` when this is no Hub server, or the Hub says
    this server's token may not list users (a student, not a teacher).
    """
    env = os.environ if environ is None else environ
    api, token, hub = _hub_settings(env)
    me = env.get("JUPYTERHUB_USER")
    users: list[dict[str, Any]] = []
    offset = 0
    while True:
        try:
            status, body = await fetch(f"{api}/users?offset={offset}&limit=200", token)
        except OSError as exc:
            raise ClassError(502, f"The Hub's API at {api} did not answer ({exc}).") from exc
        if status == 403:
            raise ClassError(
                403,
                "Only the class's teachers see every student: the Hub gives this server's token "
                "no right to list users. A teacher is an admin user (ADMINS in "
                "jupyterhub_config.py); restart your server after being made one.",
            )
        if status != 200:
            raise ClassError(502, f"The Hub's API answered HTTP {status} for the list of users.")
        page = body.get("items", []) if isinstance(body, dict) else body
        users.extend(u for u in page or [] if isinstance(u, dict))
        more = body.get("_pagination", {}).get("next") if isinstance(body, dict) else None
        if not more or not page:
            break
        offset = int(more.get("offset", offset + len(page)))

    async def one(user: dict[str, Any]) -> dict[str, Any]:
        server = (user.get("servers") or {}).get("") or {}
        row: dict[str, Any] = {
            "name": user.get("name"),
            "admin": bool(user.get("admin")),
            "me": user.get("name") == me,
            "server": "ready" if server.get("ready") else (server.get("pending") or "stopped"),
            "last_activity": server.get("last_activity") or user.get("last_activity"),
            "started": server.get("started"),
            "gpu_share": None,
            "trainings": [],
            "error": None,
        }
        if not server.get("ready") or not server.get("url"):
            return row
        url = f"{hub}{server['url'].rstrip('/')}/yolo-lab/activity"
        try:
            status, body = await asyncio.wait_for(fetch(url, token), SERVER_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError) as exc:
            row["error"] = f"the server did not answer ({exc or 'timed out'})"
            return row
        if status != 200 or not isinstance(body, dict):
            row["error"] = (
                "the Hub does not let this server reach it: restart your server "
                "so it gets a teacher's token"
                if status in (401, 403)
                else f"its yolo-lab answered HTTP {status} (an image without yolo-lab?)"
            )
            return row
        row["gpu_share"] = body.get("gpu_share")
        row["trainings"] = body.get("trainings") or []
        return row

    rows = await asyncio.gather(*(one(u) for u in users))
    rows.sort(
        key=lambda r: (not r["trainings"], r["server"] != "ready", r["admin"], str(r["name"]))
    )
    return {"students": rows, "hub": hub, "time": time.time()}
