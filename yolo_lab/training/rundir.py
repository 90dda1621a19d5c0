"""The run folder: its file names, and how they are written and read.

A run folder holds, beside YOLOv5's own files (weights/, results.csv):
``yolo_lab_spec.json`` (what was asked), ``yolo_lab_run.json`` (status),
``yolo_lab_events.jsonl`` (every event, one JSON object a line),
``yolo_lab_train.log`` (YOLOv5's console output), while a stop is asked
for, ``yolo_lab_stop`` and, for a DDP run, ``yolo_lab_ranks/`` (each rank's
process id, outcome, heartbeat and, when asked, Python stack).

This module is the one owner of that format: the kernel side
(:mod:`yolo_lab.training`) and the training subprocess
(:mod:`yolo_lab._runner`) both import it. It is imported first thing in
every training subprocess, so it imports only the standard library.
Reading the events file back (a history, its tail) is
:mod:`yolo_lab.training.events`'s job.
"""

from __future__ import annotations

import csv
import fcntl
import json
import math
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

__all__ = [
    "EVENTS_FILE",
    "LOG_FILE",
    "RANKS_DIR",
    "SPEC_FILE",
    "STATUS_FILE",
    "STOP_FILE",
    "DETACHED_ENV",
    "TERMINAL",
    "SPEC_VERSION",
    "ask_to_stop",
    "claim_run_dir",
    "device_text",
    "disk_free_if_full",
    "disk_full_words",
    "find_runs",
    "next_run_dir",
    "pid_alive",
    "normalize_spec",
    "plain",
    "read_ranks",
    "read_results",
    "read_spec",
    "read_status",
    "shown_params",
    "spec_batch_size",
    "spec_devices",
    "spec_nodes",
    "spec_per_node",
    "spec_world",
    "stop_reason",
    "summarize",
    "write_json",
    "write_rank",
    "write_spec",
    "write_status",
]

SPEC_FILE: Final = "yolo_lab_spec.json"
EVENTS_FILE: Final = "yolo_lab_events.jsonl"
STATUS_FILE: Final = "yolo_lab_run.json"
STOP_FILE: Final = "yolo_lab_stop"
LOG_FILE: Final = "yolo_lab_train.log"
RANKS_DIR: Final = "yolo_lab_ranks"

# In a detached run's environment (set by the Jupyter server that starts
# it): no parent-death signal, no watch on the parent.
DETACHED_ENV: Final = "YOLO_LAB_DETACHED"
# "lost": a detached run whose process vanished without writing its end.
TERMINAL: Final = frozenset({"finished", "stopped", "failed", "lost"})


def plain(value: Any) -> Any:
    """Tensors, numpy scalars and non-finite floats made plain JSON."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        value = item()  # a tensor or numpy scalar
    if isinstance(value, int):  # bool included
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


# -- status --------------------------------------------------------------------


# Below this much free space, a write that failed is put down to a full disk.
DISK_FULL_BYTES: Final = 4 * 2**20


def disk_free_if_full(path: Path) -> int | None:
    """The free bytes of ``path``'s file system when it is (nearly) full, else None."""
    import shutil

    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return None
    return free if free < DISK_FULL_BYTES else None


def disk_full_words(path: Path, free: int) -> tuple[str, str]:
    """What to say about a run stopped by a full disk, and what to do."""
    return (
        f"the disk holding {path} is full ({free // 1024} KiB free): the run could not write "
        "its weights and events",
        f"free space there (or move the runs folder), then yolo_lab.resume({str(path)!r}); "
        "what was saved before is kept",
    )


def write_json(path: Path, value: Any) -> None:
    """Replace ``path`` with ``value`` as JSON, atomically.

    The temporary file is named for this process and thread, so writers in
    several processes (the ranks of a DDP run, its supervisor, the kernel)
    never share one.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(json.dumps(plain(value), indent=1), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_status(run_dir: Path, **fields: Any) -> None:
    """Merge fields into the run's status file, atomically.

    Read, merge and replace happen under a lock on the folder's lock file, so
    two writers (a rank and the supervisor, the kernel and the runner) never
    lose each other's fields.
    """
    path = run_dir / STATUS_FILE
    with open(run_dir / f".{STATUS_FILE}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current = _read_json(path)
            current.update(plain(fields))
            write_json(path, current)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_rank(run_dir: Path, rank: int, kind: str, value: Mapping[str, Any]) -> None:
    """One rank's record of ``kind`` ("state", "beat"), in ``yolo_lab_ranks/``."""
    folder = run_dir / RANKS_DIR
    folder.mkdir(exist_ok=True)
    write_json(folder / f"rank{rank}.{kind}.json", dict(value))


def read_ranks(run_dir: Path, kind: str) -> dict[int, dict[str, Any]]:
    """Every rank's record of ``kind``, by rank."""
    out: dict[int, dict[str, Any]] = {}
    folder = run_dir / RANKS_DIR
    for path in sorted(folder.glob(f"rank*.{kind}.json")) if folder.is_dir() else []:
        number = path.name[4:].split(".", 1)[0]
        if number.isdigit():
            out[int(number)] = _read_json(path)
    return out


def read_status(run_dir: Path) -> dict[str, Any]:
    """The run's status file as written, ``{}`` for a folder that is no run.

    A run YOLOv5 made without yolo-lab has no status file: it reads as
    finished when it has best.pt. Whether the process of a run that claims
    to be running is still there is for the caller to check
    (:func:`yolo_lab.training.launch.run_status`).
    """
    status = _read_json(run_dir / STATUS_FILE)
    if not status:
        if (run_dir / "results.csv").is_file() or (run_dir / "weights").is_dir():
            status = {
                "status": "finished" if (run_dir / "weights/best.pt").is_file() else "unknown"
            }
        else:
            return {}
    status.setdefault("run", str(run_dir))
    status.setdefault("name", run_dir.name)
    return status


# -- spec ----------------------------------------------------------------------

# The spec holds what the user asked once: ``params`` (train()'s arguments,
# checked and normalized), ``yolov5_options`` (other YOLOv5 train options,
# passed through), and the run-level ``seed``, ``telemetry_interval_s`` and,
# for a resumed run, ``resume`` (the last.pt to continue from). The runner
# derives YOLOv5's own options from it (yolo_lab._yolov5.options.yolov5_opt).
# Format 3: ``params.device`` is the device as train() read it, ``["cpu"]`` or
# the GPUs' CUDA indices (format 2 held names: "cpu", "cuda:N" or a list).
SPEC_VERSION: Final = 3
# The keys of format 1's "opt" that were derived from params
# (anything else in it was a pass-through YOLOv5 option).
_OPT_FROM_PARAMS: Final = frozenset(
    {
        "data",
        "cfg",
        "weights",
        "epochs",
        "batch_size",
        "imgsz",
        "device",
        "workers",
        "cache",
        "project",
        "name",
        "exist_ok",
        "seed",
    }
)


def _device_from_names(device: Any) -> list[Any]:
    """A format-2 ``device`` ("cpu", "cuda:N", a list of those) as format 3's."""
    indices = [
        int(item[5:])
        for item in (device if isinstance(device, list) else [device])
        if isinstance(item, str) and item.startswith("cuda:") and item[5:].isdigit()
    ]
    return indices or ["cpu"]


def spec_devices(spec: Mapping[str, Any]) -> list[int]:
    """The CUDA indices of the spec's ``device``; ``[]`` is the CPU."""
    device = (spec.get("params") or {}).get("device")
    return [i for i in device or [] if isinstance(i, int) and not isinstance(i, bool)]


def device_text(device: Any) -> str | None:
    """A run's device for people: "cpu", "cuda:0", or a DDP run's "cuda:0,cuda:1"."""
    if device is None:
        return None
    if not isinstance(device, list):
        return str(device)  # a run YOLOv5 made alone, or a format-2 name
    return ",".join(f"cuda:{i}" if isinstance(i, int) else str(i) for i in device)


def spec_per_node(spec: Mapping[str, Any]) -> int:
    """The processes on each machine: one per GPU, ``nproc`` on the CPU, else 1."""
    devices = spec_devices(spec)
    if devices:
        return len(devices)
    nproc = (spec.get("params") or {}).get("nproc")
    return nproc if isinstance(nproc, int) and not isinstance(nproc, bool) and nproc > 1 else 1


def spec_nodes(spec: Mapping[str, Any]) -> int:
    """The machines of the run: a Slurm run's nodes, else 1."""
    nodes = (spec.get("slurm") or {}).get("nodes")
    return nodes if isinstance(nodes, int) and not isinstance(nodes, bool) and nodes > 1 else 1


def spec_world(spec: Mapping[str, Any]) -> int:
    """The processes of the run, on all its machines."""
    return spec_per_node(spec) * spec_nodes(spec)


def stop_reason(run_dir: Path) -> str | None:
    """Why the run was asked to stop (the stop file's words), None if it was not."""
    try:
        text = (run_dir / STOP_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError:
        return "stop requested"
    return text or "stop requested"


def ask_to_stop(run_dir: Path, reason: str = "") -> None:
    """Ask the run to stop after its current batch, saying why (the stop file)."""
    (run_dir / STOP_FILE).write_text(reason, encoding="utf-8")


def spec_batch_size(spec: Mapping[str, Any]) -> int | None:
    """The spec's batch size as YOLOv5 takes it: images per step, -1 for "auto"."""
    batch = (spec.get("params") or {}).get("batch_size")
    if batch == "auto":
        return -1
    return batch if isinstance(batch, int) and not isinstance(batch, bool) else None


def shown_params(spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the run was asked, as its views show it: params and YOLOv5 options."""
    return {**(spec.get("params") or {}), **(spec.get("yolov5_options") or {})}


def normalize_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A spec in the current format, from any format yolo-lab ever wrote.

    Before format 2 a spec had no "v" and held YOLOv5's options ("opt")
    beside the params (which then also held the pass-through options), with
    amp, devices, batch_size, epochs and yolov5_dir repeated at the top;
    format 2 held the device as names. A run folder from then still resumes
    and lists: its spec reads as the current format.
    """
    if "v" in spec:
        out = dict(spec)
        out["params"] = dict(spec.get("params") or {})
        out["yolov5_options"] = dict(spec.get("yolov5_options") or {})
        out.setdefault("seed", 0)
        if out["v"] < 3 and "device" in out["params"]:
            out["params"]["device"] = _device_from_names(out["params"]["device"])
        out["v"] = SPEC_VERSION
        return out
    opt = dict(spec.get("opt") or {})
    extras = {k: v for k, v in opt.items() if k not in _OPT_FROM_PARAMS}
    params = {k: v for k, v in (spec.get("params") or {}).items() if k not in extras}
    for key in ("amp", "epochs", "yolov5_dir"):
        if key not in params and key in spec:
            params[key] = spec[key]
    batch = spec.get("batch_size")
    if "batch_size" not in params and isinstance(batch, int):
        params["batch_size"] = "auto" if batch == -1 else batch
    devices = spec.get("devices")
    if "device" in params:
        params["device"] = _device_from_names(params["device"])
    elif isinstance(devices, list):
        params["device"] = [i for i in devices if isinstance(i, int)] or ["cpu"]
    out = {
        "v": SPEC_VERSION,
        "params": params,
        "yolov5_options": extras,
        "seed": opt.get("seed", 0),
    }
    for key in ("telemetry_interval_s", "resume"):
        if key in spec:
            out[key] = spec[key]
    return out


def write_spec(run_dir: Path, spec: Mapping[str, Any]) -> None:
    """Write what the run is asked to do, for the runner (and a later resume)."""
    (run_dir / SPEC_FILE).write_text(json.dumps(spec, indent=1), encoding="utf-8")


def read_spec(run_dir: Path) -> dict[str, Any]:
    """The run's spec in the current format (empty params for a run YOLOv5 made alone)."""
    return normalize_spec(_read_json(run_dir / SPEC_FILE))


# -- results -------------------------------------------------------------------


def read_results(run_dir: str | os.PathLike[str]) -> list[dict[str, float]]:
    """YOLOv5's results.csv as a list of rows (names and values stripped)."""
    path = Path(run_dir) / "results.csv"
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    out = []
    for row in rows[1:]:
        if len(row) != len(header):
            continue
        try:
            out.append({h: float(v.strip()) for h, v in zip(header, row)})
        except ValueError:
            continue
    return out


# -- the runs of a project -------------------------------------------------------


def pid_alive(pid: Any) -> bool:
    """Whether process ``pid`` runs: it exists and is not a zombie (or dead)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, running
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(") ", 1)[-1][:1] not in ("Z", "X")
    except OSError:
        return True  # no /proc to ask: kill() found it


def claim_run_dir(project: Path, name: str) -> Path:
    """Make and return ``project/name`` (or name2, name3...), atomically.

    Two kernels starting runs of one name at once each get their own
    folder: ``mkdir`` either makes a folder or fails, so the loser takes
    the next number instead of raising ``FileExistsError``.
    """
    project.mkdir(parents=True, exist_ok=True)
    for _ in range(10_000):
        path = next_run_dir(project, name)
        try:
            path.mkdir()
        except FileExistsError:
            continue  # another process took it between the look and the make
        return path
    raise RuntimeError(f"no free run folder for {name!r} in {project}")


def next_run_dir(project: Path, name: str) -> Path:
    """``project/name``, or name2, name3... when taken (as YOLOv5 numbers runs)."""
    path = project / name
    if not path.exists():
        return path
    n = 2
    while (project / f"{name}{n}").exists():
        n += 1
    return project / f"{name}{n}"


def summarize(run_dir: Path, status: Mapping[str, Any]) -> dict[str, Any]:
    """One line of the runs list: ``status``, progress and the best metrics."""
    rows = read_results(run_dir)
    params = read_spec(run_dir).get("params") or {}
    last = run_dir / "weights" / "last.pt"
    best = run_dir / "weights" / "best.pt"
    return {
        "run": str(run_dir),
        "name": run_dir.name,
        "status": status.get("status", "unknown"),
        "created": status.get("created") or run_dir.stat().st_mtime,
        "epochs_done": len(rows),
        "epochs": params.get("epochs") or (len(rows) or None),
        "map50": max((r.get("metrics/mAP_0.5", 0.0) for r in rows), default=None),
        "map": max((r.get("metrics/mAP_0.5:0.95", 0.0) for r in rows), default=None),
        "last": str(last) if last.is_file() else None,
        "best": str(best) if best.is_file() else None,
        "device": device_text(params.get("device")),
        "message": status.get("message"),
    }


def find_runs(
    project: str | os.PathLike[str], run_status: Callable[[Path], Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The runs in ``project`` (yolo-lab's and YOLOv5's own), newest first.

    ``run_status`` gives each run's status (the kernel's checks whether its
    process is still there).
    """
    root = Path(project).expanduser().resolve()
    if not root.is_dir():
        return []
    runs = []
    for child in root.iterdir():
        if child.is_dir() and (
            (child / STATUS_FILE).is_file()
            or (child / "results.csv").is_file()
            or (child / "weights").is_dir()
        ):
            runs.append(summarize(child, run_status(child)))
    runs.sort(key=lambda r: r["created"] or 0, reverse=True)
    return runs
