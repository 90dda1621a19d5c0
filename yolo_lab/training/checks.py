"""The checks of :func:`yolo_lab.train`'s arguments, before anything starts.

Each check returns the argument normalized (device names as CUDA indices,
``"auto"`` as YOLOv5's -1, paths resolved) or raises :class:`TrainError`
with what is wrong and what to do. Nothing here starts a process or writes a
file; the dataset check reads the dataset yaml (PyYAML is imported then).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

__all__ = [
    "CACHE_CHOICES",
    "MAX_BATCH_SIZE",
    "MAX_EPOCHS",
    "TrainError",
    "check_amp",
    "check_batch_size",
    "check_cache",
    "check_data",
    "check_devices",
    "check_model",
    "check_name",
    "find_yolov5",
    "gpu_count",
]

MAX_BATCH_SIZE: Final = 1024
MAX_EPOCHS: Final = 100_000
IMAGE_SUFFIXES: Final = frozenset(
    {".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp", ".pfm"}
)
YOLOV5_INSTALL: Final = 'pip install yolov5 "numpy<2.4" "setuptools<81"'
CACHE_CHOICES: Final = (None, "ram", "disk")


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


def check_model(model: Any, weights: Any) -> tuple[str, str]:
    """The model cfg (a path or a YOLOv5 cfg name) and the weights file, resolved."""
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


def check_cache(cache: Any) -> str | None:
    """YOLOv5's --cache: None, "ram" or "disk" (True means "ram")."""
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
    """A run name usable as a folder name."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        raise TrainError(
            "bad_name",
            f"name={name!r} is not a usable run folder name",
            "use letters, digits, '.', '_' or '-', e.g. name=\"exp\"",
        )
    return name
