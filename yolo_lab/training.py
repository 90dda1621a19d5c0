"""YOLOv5 training runs started from the kernel.

``train(data=..., device=..., batch_size=..., amp=...)`` checks every
argument first (a wrong one raises :class:`TrainError` with what to do, and
starts nothing), creates the run folder, writes the run's spec there and
starts one subprocess (``python -m yolo_lab._runner``, or
``torch.distributed.run`` for several GPUs). It returns a :class:`Run` at
once; in a notebook the run shows itself as a live view (MIME type
``application/vnd.yolo-lab.run+json``) fed through the ``yolo_lab`` comm from
the run folder, so any chart can be rebuilt from disk after a reload.
``Run.wait()`` blocks until the run ends (an interrupt stops it cleanly) and
``Run.stop()`` ends it after the current batch with last.pt saved;
``resume(run)`` continues from last.pt.

The run folder holds, beside YOLOv5's own files (weights/, results.csv):
``yolo_lab_spec.json`` (what was asked), ``yolo_lab_run.json`` (status),
``yolo_lab_events.jsonl`` (every event) and ``yolo_lab_train.log`` (YOLOv5's
console output).
"""

from __future__ import annotations

import atexit
import csv
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from ._runner import EVENTS_FILE, LOG_FILE, SPEC_FILE, STATUS_FILE, STOP_FILE, write_status

__all__ = [
    "MAX_BATCH_SIZE",
    "RUN_MIME_TYPE",
    "Run",
    "TrainError",
    "list_runs",
    "read_events",
    "resume",
    "show_run",
    "train",
]

RUN_MIME_TYPE: Final = "application/vnd.yolo-lab.run+json"
MAX_BATCH_SIZE: Final = 1024
MAX_EPOCHS: Final = 100_000
IMAGE_SUFFIXES: Final = frozenset(
    {".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp", ".pfm"}
)
YOLOV5_INSTALL: Final = 'pip install yolov5 "numpy<2.4" "setuptools<81"'
# How many per-batch events a history holds at most (the others are thinned
# evenly; epoch and other events are always all kept).
HISTORY_MAX_BATCH_EVENTS: Final = 4000
TERMINAL: Final = frozenset({"finished", "stopped", "failed"})


class TrainError(ValueError):
    """A training that cannot start as asked: what is wrong and what to do."""

    def __init__(self, code: str, message: str, fix: str) -> None:
        super().__init__(f"{message}\nWhat to do: {fix}")
        self.code = code
        self.message = message
        self.fix = fix

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "fix": self.fix}

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback through yolo-lab's
        # checks: the cell's user needs the problem and the fix, not our stack.
        red, bold, reset = "\x1b[31m", "\x1b[1m", "\x1b[0m"
        return [
            f"{red}{bold}TrainError ({self.code}):{reset} {self.message}",
            f"{bold}What to do:{reset} {self.fix}",
        ]


# -- argument checks ---------------------------------------------------------


def gpu_count() -> int:
    """CUDA devices visible to this process (honours CUDA_VISIBLE_DEVICES)."""
    try:
        import torch
    except ImportError:
        return 0
    try:
        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except Exception:
        return 0


def check_devices(device: Any, count: int | None = None) -> list[int]:
    """The CUDA indices asked for; ``[]`` means the CPU.

    Accepts ``"cpu"``, ``"cuda"``/``"cuda:N"``, ``N``, ``"0,1"`` and lists of
    those (several GPUs = DDP).
    """
    count = gpu_count() if count is None else count
    items: list[Any]
    if isinstance(device, (list, tuple)):
        items = list(device)
    elif isinstance(device, str) and "," in device:
        items = [part.strip() for part in device.split(",") if part.strip()]
    else:
        items = [device]
    if not items:
        raise TrainError("bad_device", "device is an empty list", 'pick "cpu" or "cuda:0"')
    indices: list[int] = []
    for item in items:
        if isinstance(item, bool):
            item = str(item)
        if isinstance(item, int):
            index = item
        elif isinstance(item, str):
            text = item.strip().lower()
            if text == "cpu":
                if len(items) > 1:
                    raise TrainError(
                        "bad_device",
                        f"device {device!r} mixes the CPU with GPUs",
                        'train on "cpu" alone or on GPUs alone, e.g. ["cuda:0", "cuda:1"]',
                    )
                return []
            match = re.fullmatch(r"(?:cuda:?)?(\d+)|cuda", text)
            if not match:
                raise TrainError(
                    "bad_device",
                    f"device {item!r} is not a device name",
                    'use "cpu", "cuda:0" (or 0), or a list such as ["cuda:0", "cuda:1"] for DDP',
                )
            index = int(match.group(1)) if match.group(1) is not None else 0
        else:
            raise TrainError(
                "bad_device",
                f"device {item!r} is not a device name",
                'use "cpu", "cuda:0" (or 0), or a list such as ["cuda:0", "cuda:1"] for DDP',
            )
        if index < 0 or index >= count:
            visible = ", ".join(f"cuda:{i}" for i in range(count)) or "none"
            fix = (
                f"pick one of: cpu, {visible}"
                if count
                else 'use device="cpu", or start the kernel where a GPU is visible '
                "(a container started with GPUs: yolo-lab up --gpus all)"
            )
            raise TrainError(
                "device_missing",
                f"cuda:{index} is not there: this kernel sees {count} CUDA device(s) "
                f"(visible: {visible})",
                fix,
            )
        if index in indices:
            raise TrainError("bad_device", f"cuda:{index} is listed twice", "list each GPU once")
        indices.append(index)
    return indices


def check_batch_size(batch_size: Any, devices: Sequence[int]) -> int:
    """A batch size for YOLOv5: a positive count, or -1 for autobatch."""
    if isinstance(batch_size, str):
        text = batch_size.strip().lower()
        if text in ("auto", "-1"):
            batch_size = -1
        elif re.fullmatch(r"\d+", text):
            batch_size = int(text)
        else:
            raise TrainError(
                "bad_batch_size",
                f"batch_size {batch_size!r} is not a number",
                'give a whole number of images per step such as 16, or "auto" on one GPU',
            )
    if isinstance(batch_size, float) and batch_size.is_integer():
        batch_size = int(batch_size)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise TrainError(
            "bad_batch_size",
            f"batch_size {batch_size!r} is not a whole number",
            'give a whole number of images per step such as 16, or "auto" on one GPU',
        )
    if batch_size == -1:
        if len(devices) != 1:
            where = "the CPU" if not devices else f"{len(devices)} GPUs (DDP)"
            raise TrainError(
                "bad_batch_size",
                f'batch_size="auto" (YOLOv5 autobatch) works on one GPU only, not on {where}',
                "give a number such as 16"
                + (f" (divisible by {len(devices)})" if len(devices) > 1 else ""),
            )
        return -1
    if batch_size <= 0:
        raise TrainError(
            "bad_batch_size",
            f"batch_size={batch_size} must be at least 1",
            'give a whole number of images per step such as 16, or "auto" on one GPU',
        )
    if batch_size > MAX_BATCH_SIZE:
        raise TrainError(
            "bad_batch_size",
            f"batch_size={batch_size} is more than {MAX_BATCH_SIZE} images per step",
            'YOLOv5\'s nominal batch is 64; try 16 to 256, or "auto" to let YOLOv5 measure the GPU',
        )
    if len(devices) > 1 and batch_size % len(devices):
        lower = batch_size - batch_size % len(devices)
        raise TrainError(
            "bad_batch_size",
            f"batch_size={batch_size} does not divide by the {len(devices)} GPUs of the DDP run",
            f"use a multiple of {len(devices)}, e.g. {max(lower, len(devices))} or "
            f"{lower + len(devices)}",
        )
    return batch_size


def check_amp(amp: Any, devices: Sequence[int]) -> bool | None:
    """True/False as asked, None = automatic (YOLOv5's check on GPUs, off on CPU)."""
    if amp is None or (isinstance(amp, str) and amp.lower() == "auto"):
        return None
    if not isinstance(amp, bool):
        raise TrainError(
            "bad_amp", f"amp={amp!r} must be True, False or None", "use amp=True or amp=False"
        )
    if amp and not devices:
        raise TrainError(
            "amp_on_cpu",
            "AMP (mixed precision) needs a CUDA device; YOLOv5 trains in float32 on the CPU",
            'set amp=False for device="cpu", or train on a GPU such as device="cuda:0"',
        )
    return amp


def _check_int(name: str, value: Any, low: int, high: int, example: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TrainError(
            f"bad_{name}",
            f"{name}={value!r} must be a whole number from {low} to {high}",
            f"for example {name}={example}",
        )
    return value


def _resolve_split(root: Path, entry: Any) -> list[Path]:
    entries = entry if isinstance(entry, list) else [entry]
    out = []
    for item in entries:
        path = Path(str(item)).expanduser()
        out.append(path if path.is_absolute() else root / path)
    return out


def _count_images(path: Path, limit: int = 1) -> int:
    if path.is_file() and path.suffix == ".txt":
        n = 0
        base = path.parent
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.strip()
            if not line:
                continue
            image = Path(line) if Path(line).is_absolute() else base / line
            if image.is_file():
                n += 1
                if n >= limit:
                    break
        return n
    if path.is_dir():
        n = 0
        for _dirpath, _dirs, files in os.walk(path):
            for name in files:
                if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                    n += 1
                    if n >= limit:
                        return n
        return n
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        return 1
    return 0


def check_data(data: Any) -> Path:
    """The dataset yaml, checked for what YOLOv5 would otherwise download or miss."""
    if not isinstance(data, (str, os.PathLike)) or not str(data).strip():
        raise TrainError(
            "data_missing",
            "data must name a dataset yaml file",
            "make one with: python -m yolo_lab.shapes datasets/shapes "
            '(then data="datasets/shapes/data.yaml")',
        )
    path = Path(data).expanduser().resolve()
    if not path.is_file():
        raise TrainError(
            "data_missing",
            f"the dataset yaml {path} does not exist",
            "check the path (it is relative to the notebook's folder), or make a small dataset "
            f"with: python -m yolo_lab.shapes {path.parent}",
        )
    import yaml

    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception as exc:
        raise TrainError(
            "data_invalid", f"{path} is not valid YAML: {exc}", "fix the file"
        ) from exc
    if not isinstance(spec, dict):
        raise TrainError(
            "data_invalid", f"{path} is not a YAML mapping", "see YOLOv5's data/coco128.yaml"
        )
    missing_keys = [k for k in ("train", "val") if not spec.get(k)]
    if missing_keys or not (spec.get("names") or spec.get("nc")):
        raise TrainError(
            "data_invalid",
            f"{path} lacks {', '.join(missing_keys + ([] if spec.get('names') else ['names']))}",
            "a YOLOv5 dataset yaml needs path, train, val and names "
            "(see YOLOv5's data/coco128.yaml)",
        )
    base = spec.get("path")
    if base is not None and not Path(str(base)).expanduser().is_absolute():
        raise TrainError(
            "data_relative_path",
            f"{path} has a relative path: {base!r}, which YOLOv5 resolves against its own folder, "
            "not the yaml's",
            f"write the absolute folder, e.g. path: {(path.parent / str(base)).resolve()}",
        )
    root = Path(str(base)).expanduser() if base is not None else path.parent
    for split in ("train", "val"):
        for where in _resolve_split(root, spec[split]):
            if not where.exists():
                extra = (
                    " (YOLOv5 would try to download it; runs never download)"
                    if spec.get("download")
                    else ""
                )
                raise TrainError(
                    "data_images_missing",
                    f"the {split} images of {path} are missing: {where} does not exist{extra}",
                    "put the images there, fix the yaml's path/train/val, or make a test set with: "
                    f"python -m yolo_lab.shapes {path.parent}",
                )
            if not _count_images(where):
                raise TrainError(
                    "data_images_missing",
                    f"the {split} entry of {path} ({where}) holds no images",
                    "put .jpg/.png images there with YOLO .txt labels in the matching "
                    "labels/ folder",
                )
    return path


def find_yolov5(yolov5_dir: Any) -> str | None:
    """The checkout to use (None = the PyPI package), checked to be importable."""
    if yolov5_dir:
        root = Path(str(yolov5_dir)).expanduser().resolve()
        if not (root / "train.py").is_file() or not (root / "models").is_dir():
            raise TrainError(
                "yolov5_missing",
                f"{root} is not a checkout of ultralytics/yolov5 (no train.py and models/ there)",
                'name the folder that holds train.py, e.g. yolov5_dir="/workspace/yolov5"',
            )
        return str(root)
    if importlib.util.find_spec("yolov5") is None:
        raise TrainError(
            "yolov5_missing",
            f"YOLOv5 is not installed in this kernel's Python ({sys.executable})",
            f"{YOLOV5_INSTALL} (e.g. %pip install ... in a cell), or pass yolov5_dir= a checkout "
            "of ultralytics/yolov5",
        )
    return None


def check_model(model: Any, weights: Any, yolov5_dir: str | None) -> tuple[str, str]:
    model = "" if model is None else str(model)
    weights = "" if weights is None else str(weights)
    if not model and not weights:
        raise TrainError(
            "model_missing",
            "neither a model cfg nor weights were given",
            'use model="yolov5n.yaml" to train from scratch, or weights="path/to/best.pt"',
        )
    if weights:
        wpath = Path(weights).expanduser()
        if not wpath.is_file():
            raise TrainError(
                "weights_missing",
                f"the weights {weights} are not on disk, and runs never download",
                "download them yourself (https://github.com/ultralytics/yolov5/releases) and "
                'give the path, or train from scratch with weights="" and '
                f'model="{wpath.stem or "yolov5n"}.yaml"',
            )
        weights = str(wpath.resolve())
    if model:
        mpath = Path(model).expanduser()
        if mpath.is_file():
            model = str(mpath.resolve())
        elif "/" in model or os.sep in model:
            raise TrainError(
                "model_missing", f"the model cfg {model} does not exist", "check the path"
            )
        elif not model.endswith((".yaml", ".yml")):
            raise TrainError(
                "model_missing",
                f"model={model!r} is not a model cfg",
                'use a YOLOv5 cfg such as "yolov5n.yaml", "yolov5s.yaml" or a path to your own',
            )
    return model, weights


CACHE_CHOICES: Final = (None, "ram", "disk")


def check_cache(cache: Any) -> str | None:
    if cache in (False, "", "none", "None"):
        return None
    if cache is True:
        return "ram"
    if cache not in CACHE_CHOICES:
        raise TrainError(
            "bad_cache", f"cache={cache!r} is not a choice", 'use None, "ram" or "disk"'
        )
    return cache


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        raise TrainError(
            "bad_name",
            f"name={name!r} is not a usable run folder name",
            "use letters, digits, '.', '_' or '-', e.g. name=\"exp\"",
        )
    return name


def next_run_dir(project: Path, name: str) -> Path:
    """``project/name``, or name2, name3... when taken (as YOLOv5 numbers runs)."""
    path = project / name
    if not path.exists():
        return path
    n = 2
    while (project / f"{name}{n}").exists():
        n += 1
    return project / f"{name}{n}"


# -- offline environment for the subprocess ---------------------------------


def _config_dir_with_font() -> str | None:
    """A YOLOv5 config folder holding Arial.ttf, so plots never download it."""
    for candidate in (
        os.environ.get("YOLOV5_CONFIG_DIR"),
        str(Path.home() / ".config/Ultralytics"),
    ):
        if candidate and (Path(candidate) / "Arial.ttf").is_file():
            return candidate
    target = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "yolo-lab"
        / "yolov5-config"
    )
    try:
        import matplotlib

        ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    except Exception:
        ttf = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not ttf.is_file():
        return None
    target.mkdir(parents=True, exist_ok=True)
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        if not (target / name).is_file():
            shutil.copyfile(ttf, target / name)
    return str(target)


def runner_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "YOLOv5_AUTOINSTALL": "false",
            "YOLO_OFFLINE": "true",
            "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1",
            "WANDB_MODE": "disabled",
            "COMET_MODE": "disabled",
            "PYTHONUNBUFFERED": "1",
        }
    )
    config = _config_dir_with_font()
    if config:
        env["YOLOV5_CONFIG_DIR"] = config
    # The runner imports yolo_lab from wherever this kernel found it.
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def runner_command(run_dir: Path, devices: Sequence[int]) -> list[str]:
    if len(devices) > 1:
        return [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            str(len(devices)),
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(_free_port()),
            "-m",
            "yolo_lab._runner",
            str(run_dir),
        ]
    return [sys.executable, "-m", "yolo_lab._runner", str(run_dir)]


# -- runs ----------------------------------------------------------------------

_active: dict[str, subprocess.Popen[bytes]] = {}
_active_lock = threading.Lock()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # A zombie child of ours counts as gone.
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def run_status(run_dir: Path) -> dict[str, Any]:
    """The run's status file, corrected when its process died unannounced."""
    status = _read_json(run_dir / STATUS_FILE)
    if not status:
        if (run_dir / "results.csv").is_file() or (run_dir / "weights").is_dir():
            # A run YOLOv5 made without yolo-lab.
            status = {
                "status": "finished" if (run_dir / "weights/best.pt").is_file() else "unknown"
            }
        else:
            return {}
    status.setdefault("run", str(run_dir))
    status.setdefault("name", run_dir.name)
    key = str(run_dir)
    with _active_lock:
        proc = _active.get(key)
    alive = proc.poll() is None if proc is not None else _pid_alive(status.get("pid"))
    if status.get("status") not in TERMINAL and status.get("status") is not None and not alive:
        status["status"] = "failed"
        status.setdefault("message", "the training process ended without saying why; see the log")
        status["fix"] = f"see {run_dir / LOG_FILE}"
    return status


def _thin(batches: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    if len(batches) <= limit:
        return batches
    step = len(batches) / limit
    kept = [batches[int(i * step)] for i in range(limit)]
    if kept[-1] is not batches[-1]:
        kept[-1] = batches[-1]
    return kept


def read_events(
    run_dir: str | os.PathLike[str],
    max_batch_events: int = HISTORY_MAX_BATCH_EVENTS,
    upto: int | None = None,
) -> list[dict[str, Any]]:
    """The run's events from disk, per-batch ones thinned to ``max_batch_events``.

    A run trained by YOLOv5 without yolo-lab has no events file: its epochs
    are read from results.csv instead.
    """
    run_dir = Path(run_dir)
    path = run_dir / EVENTS_FILE
    events: list[dict[str, Any]] = []
    if path.is_file():
        with open(path, "rb") as f:
            data = f.read() if upto is None else f.read(upto)
        for line in data.decode("utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if isinstance(event, dict) and isinstance(event.get("kind"), str):
                events.append(event)
    elif (run_dir / "results.csv").is_file():
        events = _events_from_results(run_dir / "results.csv")
    batches = [e for e in events if e["kind"] == "batch"]
    if len(batches) > max_batch_events:
        keep = {id(e) for e in _thin(batches, max_batch_events)}
        events = [e for e in events if e["kind"] != "batch" or id(e) in keep]
    return events


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


def _events_from_results(path: Path) -> list[dict[str, Any]]:
    mtime = path.stat().st_mtime
    rows = read_results(path.parent)
    events = []
    for i, row in enumerate(rows):
        events.append(
            {
                # No times in results.csv: epochs one second apart, ending at the file's time.
                "t": mtime - (len(rows) - 1 - i),
                "kind": "epoch",
                "epoch": int(row.get("epoch", i)),
                "epochs": len(rows),
                "box": row.get("train/box_loss"),
                "obj": row.get("train/obj_loss"),
                "cls": row.get("train/cls_loss"),
                "precision": row.get("metrics/precision"),
                "recall": row.get("metrics/recall"),
                "map50": row.get("metrics/mAP_0.5"),
                "map": row.get("metrics/mAP_0.5:0.95"),
                "val_box": row.get("val/box_loss"),
                "val_obj": row.get("val/obj_loss"),
                "val_cls": row.get("val/cls_loss"),
                "lr": [row.get("x/lr0"), row.get("x/lr1"), row.get("x/lr2")],
                "epoch_time_s": None,
                "from_results_csv": True,
            }
        )
    return events


def summarize(run_dir: Path) -> dict[str, Any]:
    """One line of the runs list: status, progress and the best metrics."""
    status = run_status(run_dir)
    rows = read_results(run_dir)
    spec = _read_json(run_dir / SPEC_FILE)
    params = spec.get("params") or {}
    last = run_dir / "weights" / "last.pt"
    best = run_dir / "weights" / "best.pt"
    info: dict[str, Any] = {
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
        "device": params.get("device"),
        "message": status.get("message"),
    }
    return info


def list_runs(project: str | os.PathLike[str] = "runs/train") -> list[dict[str, Any]]:
    """The runs in ``project`` (yolo-lab's and YOLOv5's own), newest first."""
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
            runs.append(summarize(child))
    runs.sort(key=lambda r: r["created"] or 0, reverse=True)
    return runs


class Run:
    """A training run and its folder; returned by :func:`train` and :func:`resume`."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(run_dir).resolve()

    def __repr__(self) -> str:
        return f"<yolo_lab.Run {self.dir} {self.status}>"

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def status(self) -> str:
        return str(run_status(self.dir).get("status", "unknown"))

    @property
    def info(self) -> dict[str, Any]:
        return run_status(self.dir)

    @property
    def last(self) -> Path | None:
        path = self.dir / "weights" / "last.pt"
        return path if path.is_file() else None

    @property
    def best(self) -> Path | None:
        path = self.dir / "weights" / "best.pt"
        return path if path.is_file() else None

    @property
    def log(self) -> Path:
        return self.dir / LOG_FILE

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        events = read_events(self.dir, max_batch_events=sys.maxsize)
        return [e for e in events if kind is None or e["kind"] == kind]

    def results(self) -> list[dict[str, float]]:
        return read_results(self.dir)

    @property
    def running(self) -> bool:
        return self.status not in TERMINAL

    def stop(self, wait: bool = False, timeout: float | None = None) -> None:
        """Stop after the current batch; last.pt and results so far are kept."""
        stop_run(self.dir)
        if wait:
            self.wait(timeout)

    def wait(self, timeout: float | None = None) -> str:
        """Block until the run ends; an interrupt (Ctrl-C, ■) stops it cleanly."""
        deadline = None if timeout is None else time.monotonic() + timeout
        key = str(self.dir)
        try:
            while True:
                with _active_lock:
                    proc = _active.get(key)
                if proc is not None:
                    try:
                        proc.wait(timeout=0.2)
                    except subprocess.TimeoutExpired:
                        pass
                    else:
                        _reap(key)
                        return self.status
                elif not self.running:
                    return self.status
                else:
                    time.sleep(0.2)
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"{self.dir.name} still {self.status} after {timeout} s")
        except KeyboardInterrupt:
            self.stop()
            while True:
                with _active_lock:
                    proc = _active.get(key)
                if proc is None:
                    break
                try:
                    proc.wait(timeout=60)
                    break
                except subprocess.TimeoutExpired:
                    continue
            _reap(key)
            raise

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return _display_bundle(self.dir)


def _display_bundle(run_dir: Path) -> dict[str, Any]:
    status = run_status(run_dir)
    spec = _read_json(run_dir / SPEC_FILE)
    data = {
        "v": 1,
        "run": str(run_dir),
        "name": run_dir.name,
        "status": status.get("status", "unknown"),
        "params": spec.get("params") or {},
    }
    text = f"yolo-lab run {run_dir.name}: {data['status']} ({run_dir})"
    return {RUN_MIME_TYPE: data, "text/plain": text}


def show_run(run: str | os.PathLike[str] | Run) -> Run:
    """Show a run (running or past, yolo-lab's or YOLOv5's own) as the live view."""
    run_dir = run.dir if isinstance(run, Run) else Path(run).expanduser().resolve()
    if not run_dir.is_dir():
        raise TrainError(
            "run_missing", f"{run_dir} is not a run folder", "see yolo_lab.list_runs()"
        )
    return Run(run_dir)


def _reap(key: str) -> None:
    with _active_lock:
        proc = _active.get(key)
        if proc is not None and proc.poll() is not None:
            del _active[key]


def stop_run(run_dir: str | os.PathLike[str]) -> bool:
    """Ask a run to stop after its current batch; False if it is not running."""
    run_dir = Path(run_dir).resolve()
    status = run_status(run_dir)
    if status.get("status") in TERMINAL or not status:
        return False
    (run_dir / STOP_FILE).touch()
    return True


def _start(run_dir: Path, spec: dict[str, Any], devices: Sequence[int]) -> Run:
    (run_dir / SPEC_FILE).write_text(json.dumps(spec, indent=1), encoding="utf-8")
    (run_dir / STOP_FILE).unlink(missing_ok=True)
    write_status(
        run_dir,
        run=str(run_dir),
        name=run_dir.name,
        status="starting",
        created=time.time(),
        ended=None,
        message=None,
        code=None,
        fix=None,
    )
    log = open(run_dir / LOG_FILE, "ab")
    try:
        proc = subprocess.Popen(
            runner_command(run_dir, devices),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=runner_env(),
            cwd=str(run_dir),
            # Its own session: an interrupt of the kernel does not reach it;
            # Run.wait() turns the interrupt into a clean stop instead.
            start_new_session=True,
        )
    finally:
        log.close()
    write_status(run_dir, pid=proc.pid)
    with _active_lock:
        _active[str(run_dir)] = proc
    return Run(run_dir)


def train(
    data: str | os.PathLike[str],
    *,
    model: str | None = "yolov5n.yaml",
    weights: str | None = "",
    device: Any = "cpu",
    batch_size: int | str = 16,
    amp: bool | None = None,
    epochs: int = 3,
    imgsz: int = 640,
    workers: int = 2,
    cache: str | None = None,
    name: str = "exp",
    project: str | os.PathLike[str] = "runs/train",
    yolov5_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    wait: bool = False,
    telemetry_interval_s: float = 1.0,
    **yolov5_options: Any,
) -> Run:
    """Start a YOLOv5 training run in a subprocess and return it.

    ``device``: "cpu", "cuda:N" or a list of GPUs (DDP). ``batch_size``: images
    per step, or "auto" (YOLOv5 autobatch, one GPU). ``amp``: None = YOLOv5's
    own check on GPUs (off on the CPU), False = off, True = on (GPUs only).
    ``model`` is a cfg to train from scratch, ``weights`` a local .pt.
    Other YOLOv5 train options (``optimizer="AdamW"``, ``patience=...``) pass
    through. Nothing is downloaded during a run.
    """
    devices = check_devices(device)
    batch = check_batch_size(batch_size, devices)
    amp_request = check_amp(amp, devices)
    epochs = _check_int("epochs", epochs, 1, MAX_EPOCHS, 30)
    imgsz = _check_int("imgsz", imgsz, 32, 8192, 640)
    workers = _check_int("workers", workers, 0, 64, 2)
    data_path = check_data(data)
    checkout = find_yolov5(yolov5_dir)
    cfg, weights_path = check_model(model, weights, checkout)
    cache_mode = check_cache(cache)
    name = check_name(name)
    project_dir = Path(project).expanduser().resolve()
    project_dir.mkdir(parents=True, exist_ok=True)
    run_dir = next_run_dir(project_dir, name)
    run_dir.mkdir(parents=True)

    yolo_device = ",".join(str(i) for i in devices) if devices else "cpu"
    params = {
        "data": str(data_path),
        "model": cfg,
        "weights": weights_path,
        "device": [f"cuda:{i}" for i in devices]
        if len(devices) > 1
        else (f"cuda:{devices[0]}" if devices else "cpu"),
        "batch_size": "auto" if batch == -1 else batch,
        "amp": amp_request,
        "epochs": epochs,
        "imgsz": imgsz,
        "workers": workers,
        "cache": cache_mode,
        "name": name,
        "project": str(project_dir),
        "yolov5_dir": checkout,
    }
    opt = {
        "data": str(data_path),
        "cfg": cfg,
        "weights": weights_path,
        "epochs": epochs,
        "batch_size": batch,
        "imgsz": imgsz,
        "device": yolo_device,
        "workers": workers,
        "cache": cache_mode,
        "project": str(project_dir),
        "name": run_dir.name,
        "exist_ok": True,
        "seed": seed,
    }
    for key, value in yolov5_options.items():
        opt[key] = value
        params[key] = value
    spec = {
        "params": params,
        "opt": opt,
        "amp": amp_request,
        "devices": devices,
        "batch_size": batch,
        "epochs": epochs,
        "yolov5_dir": checkout,
        "telemetry_interval_s": telemetry_interval_s,
    }
    run = _start(run_dir, spec, devices)
    if wait:
        run.wait()
    return run


def resume(run: str | os.PathLike[str] | Run, *, wait: bool = False) -> Run:
    """Continue a stopped (or crashed) run from its weights/last.pt, in the same folder."""
    run_dir = run.dir if isinstance(run, Run) else Path(run).expanduser().resolve()
    if run_dir.name == "last.pt":
        run_dir = run_dir.parent.parent
    last = run_dir / "weights" / "last.pt"
    status = run_status(run_dir)
    if status.get("status") not in TERMINAL and status:
        raise TrainError(
            "run_active",
            f"{run_dir.name} is still {status.get('status')}",
            "stop it first, or wait for it",
        )
    if not last.is_file():
        raise TrainError(
            "nothing_to_resume",
            f"{run_dir} has no weights/last.pt to resume from",
            "start a new training with train(...)",
        )
    spec = _read_json(run_dir / SPEC_FILE)
    if not spec:
        spec = {"params": {}, "opt": {}, "devices": [], "epochs": None}
    devices = list(spec.get("devices") or [])
    if devices:
        check_devices(devices)
    find_yolov5(spec.get("yolov5_dir"))
    spec["resume"] = str(last)
    resumed = int(status.get("resumed", 0)) + 1
    started = _start(run_dir, spec, devices)
    write_status(run_dir, resumed=resumed)
    if wait:
        started.wait()
    return started


def _stop_all_at_exit() -> None:
    # The kernel is going away (shutdown or restart): every run it started
    # saves last.pt after its current batch and ends; none is left behind.
    with _active_lock:
        items = list(_active.items())
    for key, proc in items:
        if proc.poll() is None:
            try:
                (Path(key) / STOP_FILE).touch()
                proc.send_signal(signal.SIGTERM)
            except OSError:
                pass


atexit.register(_stop_all_at_exit)


# -- live forwarding to the frontend -----------------------------------------

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
    global _hub
    if _hub is None:
        _hub = RunHub()
    return _hub
