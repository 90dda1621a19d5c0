"""YOLOv5 as the training subprocess uses it: where from, and with what options.

YOLOv5 is the PyPI package ``yolov5`` or a checkout of ultralytics/yolov5;
its train options (``opt``) are derived from the run's spec, whose format
:mod:`yolo_lab.training.rundir` owns.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..training.rundir import spec_batch_size, spec_devices
from . import compat as _yolov5_compat

__all__ = ["import_yolov5", "yolov5_opt"]


def import_yolov5(yolov5_dir: str | None) -> tuple[Any, str, str]:
    """The YOLOv5 train module, where it came from and its version.

    ``yolov5_dir`` names a checkout of ultralytics/yolov5 (``train.py`` with
    ``models/`` and ``utils/`` beside it); without it the PyPI package
    ``yolov5`` is used. What YOLOv5 7.0 needs of older numpy, Pillow and
    setuptools is put back first (:mod:`yolo_lab._yolov5.compat`).
    """
    _yolov5_compat.apply()
    if yolov5_dir:
        root = Path(yolov5_dir).resolve()
        if not (root / "train.py").is_file():
            raise ImportError(f"{root} has no train.py: not a checkout of ultralytics/yolov5")
        sys.path.insert(0, str(root))
        import train as train_module  # type: ignore[import-not-found]

        version = "checkout"
        try:
            import subprocess

            version = (
                subprocess.run(
                    ["git", "-C", str(root), "describe", "--always", "--tags"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                ).stdout.strip()
                or "checkout"
            )
        except Exception:
            pass
        return train_module, str(root), version
    import yolov5  # type: ignore[import-not-found]
    from yolov5 import train as train_module  # type: ignore[import-not-found]

    return train_module, str(Path(yolov5.__file__).parent), str(getattr(yolov5, "__version__", "?"))


def yolov5_opt(spec: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """YOLOv5's train options for a new run, derived from the spec.

    The params are what train() checked and normalized; YOLOv5 wants the
    devices as "0,1" or "cpu", "auto" as batch size -1, the model as cfg, and
    the run folder as project and name (exist_ok: yolo-lab made the folder).
    The pass-through options come last, as the user gave them.
    """
    params = spec.get("params") or {}
    devices = spec_devices(spec)
    opt = {
        "data": params.get("data"),
        "cfg": params.get("model") or "",
        "weights": params.get("weights") or "",
        "epochs": params.get("epochs"),
        "batch_size": spec_batch_size(spec),
        "imgsz": params.get("imgsz"),
        "device": ",".join(str(i) for i in devices) if devices else "cpu",
        "workers": params.get("workers"),
        "cache": params.get("cache"),
        "project": str(run_dir.parent),
        "name": run_dir.name,
        "exist_ok": True,
        "seed": spec.get("seed", 0),
    }
    opt.update(spec.get("yolov5_options") or {})
    return opt
