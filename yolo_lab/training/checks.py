"""The checks of :func:`yolo_lab.train`'s arguments, before anything starts.

Each check returns the argument normalized (device names as CUDA indices,
paths resolved) or raises :class:`TrainError`
with what is wrong and what to do. Nothing here starts a process or writes a
file; the dataset check reads the dataset yaml (PyYAML is imported then).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from . import params
from .errors import TrainError

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
    "check_nproc",
    "check_run_settings",
    "check_yolov5_options",
    "check_int",
    "check_model",
    "check_name",
    "check_trust_weights",
    "find_yolov5",
    "gpu_count",
]

# From the definition, for the callers that name them.
MAX_BATCH_SIZE: Final[int] = params.spec()["properties"]["batch_size"]["maximum"]
MAX_EPOCHS: Final[int] = params.spec()["properties"]["epochs"]["maximum"]
IMAGE_SUFFIXES: Final = frozenset(
    {".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp", ".pfm"}
)
YOLOV5_INSTALL: Final = "pip install yolov5"
CACHE_CHOICES: Final = tuple(params.spec()["properties"]["cache"]["enum"])


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
    those (several GPUs = DDP), against the ``count`` GPUs the kernel sees.
    Which choices are refused, and in which words, is the definition's
    (``protocol/train_params.schema.json``).
    """
    count = gpu_count() if count is None else count
    given = {"device": device}
    params.refuse(given, "device", visible=range(count))
    return params.gpus_of(params.read("device", device))


def _device_of(devices: Sequence[int]) -> list[Any]:
    """Indices from :func:`check_devices` as the definition reads a device."""
    return list(devices) or ["cpu"]


def check_nproc(nproc: Any, devices: Sequence[int]) -> int:
    """The processes of a DDP run on the CPU (1: a plain run)."""
    value = int(params.read("nproc", nproc))
    params.refuse({"nproc": value, "device": _device_of(devices)}, "nproc")
    return value


def check_batch_size(batch_size: Any, devices: Sequence[int], nproc: int = 1) -> int | str:
    """A batch size: a positive count, or "auto" (YOLOv5 autobatch, one GPU)."""
    value = params.read("batch_size", batch_size)
    params.refuse(
        {"batch_size": value, "nproc": nproc, "device": _device_of(devices)}, "batch_size"
    )
    return value


def check_amp(amp: Any, devices: Sequence[int]) -> bool | None:
    """True/False as asked, None = automatic (YOLOv5's check on GPUs, off on CPU)."""
    value = params.read("amp", amp)
    params.refuse({"amp": value, "device": _device_of(devices)}, "amp")
    return value


def check_int(name: str, value: Any) -> int:
    """A whole-number parameter (epochs, imgsz, workers) within its limits."""
    return int(params.read(name, value))


def _resolve_split(root: Path, entry: Any) -> list[Path]:
    """Where YOLOv5 looks for a train/val entry (its check_dataset's rules)."""
    entries = entry if isinstance(entry, list) else [entry]
    out = []
    for item in entries:
        text = str(item)
        path = Path(text).expanduser()
        where = path if path.is_absolute() else (root / path).resolve()
        # YOLOv5 retries a missing "../x" single-entry as "x" under the root.
        if not isinstance(entry, list) and not where.exists() and text.startswith("../"):
            where = (root / text[3:]).resolve()
        out.append(where)
    return out


def _check_names(path: Path, spec: dict[str, Any]) -> None:
    """names: as YOLOv5 needs it (it derives nc from it and ignores nc:)."""
    names = spec.get("names")
    nc = spec.get("nc")
    if not names:
        if isinstance(nc, int) and not isinstance(nc, bool) and nc > 0:
            example = ", ".join(f"class{i}" for i in range(min(nc, 3))) + (
                ", ..." if nc > 3 else ""
            )
            fix = f"add names: with {nc} class names in label order, e.g. names: [{example}]"
        else:
            fix = "add names: with the class names in label order, e.g. names: [cat, dog]"
        raise TrainError(
            "data_invalid",
            f"{path} has no names: (YOLOv5 needs the class names; nc: alone is not enough)",
            fix,
        )
    if isinstance(names, dict):
        if not all(isinstance(k, int) and not isinstance(k, bool) for k in names):
            raise TrainError(
                "data_invalid",
                f"{path} names: has keys that are not whole numbers",
                "write names: as a list, or with the class index as each key, e.g. 0: cat",
            )
        count = len(names)
    elif isinstance(names, (list, tuple)):
        count = len(names)
    else:
        raise TrainError(
            "data_invalid",
            f"{path} names: is neither a list nor a mapping",
            "write names: as a list in label order, e.g. names: [cat, dog]",
        )
    if nc is not None and nc != count:
        raise TrainError(
            "data_invalid",
            f"{path} says nc: {nc} but lists {count} names; YOLOv5 would train {count} classes",
            f"make them agree: nc: {count}, or list {nc} names",
        )


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
    if not isinstance(data, (str, os.PathLike)):
        data = None  # refused as missing, in the definition's words
    params.read("data", None if data is None else str(data).strip())
    path = Path(data).expanduser().resolve()
    if not path.is_file():
        raise TrainError(
            "data_missing",
            f"the dataset yaml {path} does not exist",
            "check the path (it is relative to the notebook's folder), or make a small dataset "
            f"with: python -m yolo_lab.shapes {path.parent}",
        )
    try:
        import yaml
    except ImportError as exc:  # a dependency of yolo-lab (and of YOLOv5)
        raise TrainError(
            "data_invalid",
            "PyYAML, which reads dataset yamls, is not installed in this kernel",
            "pip install pyyaml (or reinstall yolo-lab, which depends on it)",
        ) from exc

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
    _check_names(path, spec)
    missing_keys = [k for k in ("train", "val") if not spec.get(k)]
    if missing_keys:
        raise TrainError(
            "data_invalid",
            f"{path} lacks {' and '.join(missing_keys)}",
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
    if base is None:
        # YOLOv5 (check_dataset) joins relative train/val to its install
        # folder when path: is missing, whatever folder the yaml is in.
        relative = [
            str(item)
            for split in ("train", "val")
            for item in (spec[split] if isinstance(spec[split], list) else [spec[split]])
            if not Path(str(item)).expanduser().is_absolute()
        ]
        if relative:
            raise TrainError(
                "data_relative_path",
                f"{path} has no path: and a relative {relative[0]!r}, which YOLOv5 resolves "
                "against its own install folder, not the yaml's",
                f"add the dataset's absolute folder as its first line, e.g. path: {path.parent}",
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
    """The checkout to use (None = the PyPI package), checked to be importable.

    Without ``yolov5_dir``, the checkout ``YOLO_LAB_YOLOV5_DIR`` names (set
    by ``yolo-lab up --code``) is used, as the doctor reports it.
    """
    yolov5_dir = yolov5_dir or os.environ.get("YOLO_LAB_YOLOV5_DIR") or None
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


# Options yolo-lab sets itself from train()'s checked arguments, and where
# each belongs instead.
_OWN_OPTIONS: Final = {
    "data": "data=",
    "cfg": "model=",
    "weights": "weights=",
    "epochs": "epochs=",
    "batch_size": "batch_size=",
    "imgsz": "imgsz=",
    "img": "imgsz=",
    "img_size": "imgsz=",
    "device": "device=",
    "workers": "workers=",
    "cache": "cache=",
    "project": "project=",
    "name": "name=",
    "exist_ok": "nothing: yolo-lab gives every run its own folder",
    "seed": "seed=",
    "resume": "yolo_lab.resume(run)",
    "evolve": "YOLOv5's train.py --evolve in a terminal: yolo-lab runs one training at a time",
    "local_rank": "device= (a list of GPUs) or nproc=: yolo-lab starts the ranks",
}


def _yolov5_option_names(checkout: str | None) -> frozenset[str] | None:
    """The options YOLOv5's train.py declares, read from its source (not imported:
    importing it runs YOLOv5's side effects in the kernel). None when unknown."""
    import ast

    if checkout:
        source = Path(checkout) / "train.py"
    else:
        spec = importlib.util.find_spec("yolov5")
        if spec is None or spec.origin is None:
            return None
        source = Path(spec.origin).parent / "train.py"
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", None) == "add_argument"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.startswith("--")
        ):
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names.add(arg.value.lstrip("-").replace("-", "_"))
    return frozenset(names) or None


def check_yolov5_options(options: dict[str, Any], checkout: str | None) -> dict[str, Any]:
    """YOLOv5 train options passed through: none that yolo-lab sets, none unknown."""
    known = _yolov5_option_names(checkout)
    for key in options:
        if key in _OWN_OPTIONS:
            raise TrainError(
                "bad_option",
                f"{key}= would override what yolo-lab checked and set for this run",
                f"use {_OWN_OPTIONS[key]} instead",
                field=key,
            )
        if known is not None and key not in known:
            import difflib

            close = difflib.get_close_matches(key, sorted(known), n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise TrainError(
                "bad_option",
                f"{key}= is neither a train() argument nor an option of YOLOv5's train.py",
                f"{hint}train()'s arguments: help(yolo_lab.train); YOLOv5's options: "
                "python -m yolov5.train --help",
                field=key,
            )
    return dict(options)


def check_run_settings(seed: Any, telemetry_interval_s: Any) -> tuple[int, float]:
    """The run's seed (a whole number from 0) and telemetry period (0 = off, else 0.1 s to 1 h)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise TrainError(
            "bad_seed", f"seed={seed!r} is not a whole number from 0", "e.g. seed=0", field="seed"
        )
    interval = telemetry_interval_s
    if (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not (interval == 0 or 0.1 <= interval <= 3600)
    ):
        raise TrainError(
            "bad_telemetry_interval",
            f"telemetry_interval_s={interval!r}: 0 (off) or from 0.1 to 3600 seconds",
            "e.g. telemetry_interval_s=1.0",
            field="telemetry_interval_s",
        )
    return seed, float(interval)


def check_trust_weights(trust: Any) -> bool:
    """``trust_weights``: only a real True lets a weights file run code (a
    .pt file is a pickle; see yolo_lab/_runner/weights.py)."""
    if not isinstance(trust, bool):
        raise TrainError(
            "bad_trust_weights",
            f"trust_weights must be True or False, got {trust!r}",
            "pass trust_weights=True only for a weights file you trust: it runs code as you",
        )
    return trust


def check_model(model: Any, weights: Any) -> tuple[str, str]:
    """The model cfg (a path or a YOLOv5 cfg name) and the weights file, resolved."""
    model = "" if model is None else str(model)
    weights = params.read("weights", "" if weights is None else str(weights))
    params.refuse({"model": model, "weights": weights}, "model")
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
    if cache is True or cache is False:
        return "ram" if cache else None
    return params.read("cache", cache)


def check_name(name: Any) -> str:
    """A run name usable as a folder name."""
    return params.read("name", name)
