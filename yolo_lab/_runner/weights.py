"""Loading a user's weights without running the code a .pt file may carry.

A ``.pt`` file is a pickle: ``torch.load(..., weights_only=False)`` runs
whatever it names, so a downloaded checkpoint is a program. YOLOv5 calls
``torch.load`` on ``weights=`` with no ``weights_only`` argument. In the
runner, :func:`guard_loads` wraps ``torch.load`` so that:

* a file of this run's own folder (``last.pt`` when resuming, ``best.pt`` for
  the final validation) loads as it always did: the user's own run wrote it;
* any other file loads with ``weights_only=True`` and an allow-list of the
  classes a YOLOv5 checkpoint holds (its model's modules, torch's layers,
  numpy's dtypes and scalars, a path): a YOLOv5 checkpoint loads, a pickle
  that calls anything else is refused before it runs;
* with ``trust_weights=True`` (the user said the file is theirs to trust)
  every file loads fully, as plain YOLOv5 would.
"""

from __future__ import annotations

import inspect
import os
import pickle
import sys
from pathlib import Path
from typing import Any

__all__ = ["UntrustedWeights", "guard_loads", "yolov5_safe_globals"]


class UntrustedWeights(Exception):
    """A .pt file asks to run code the allow-list does not hold."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(
            f"{path} was not loaded: it asks to run code a YOLOv5 checkpoint does not need ({why})"
        )
        self.path = path
        self.why = why


def _classes(module: Any, base: type) -> list[type]:
    return [
        value
        for value in vars(module).values()
        if inspect.isclass(value) and issubclass(value, base)
    ]


def yolov5_safe_globals() -> list[Any]:
    """What a YOLOv5 checkpoint may name: its modules (under the PyPI
    package's and a checkout's module names, and under every name its module
    gives them, such as ``models.yolo.Model``), torch's layers, numpy's
    arrays, dtypes and scalars, and a path."""
    import pathlib

    import numpy
    import torch

    out: list[Any] = []
    for layout in ("yolov5.models", "models"):
        for part in ("common", "yolo", "experimental"):
            module = sys.modules.get(f"{layout}.{part}")
            if module is None:
                continue
            for attr, cls in vars(module).items():
                if not (inspect.isclass(cls) and issubclass(cls, torch.nn.Module)):
                    continue
                out.append(cls)
                # A checkpoint saved by a checkout names models.yolo.X; by the
                # package, yolov5.models.yolo.X; an old one, an alias (Model).
                for prefix in ("", "yolov5."):
                    alias = f"{prefix}models.{part}.{attr}"
                    if alias != f"{cls.__module__}.{cls.__qualname__}":
                        out.append((cls, alias))
    out += _classes(torch.nn.modules, torch.nn.Module)
    for sub in ("activation", "batchnorm", "container", "conv", "linear", "pooling", "upsampling"):
        out += _classes(getattr(torch.nn.modules, sub), torch.nn.Module)
    out += [numpy.ndarray, numpy.dtype, pathlib.PosixPath, pathlib.WindowsPath]
    dtypes = getattr(numpy, "dtypes", None)
    if dtypes is not None:
        out += [c for c in vars(dtypes).values() if inspect.isclass(c)]
    core = getattr(numpy, "_core", None) or numpy.core
    out += [core.multiarray.scalar, core.multiarray._reconstruct]
    # A checkpoint saved under numpy 1 (ultralytics' released ones) names numpy.core.
    out += [(core.multiarray.scalar, "numpy.core.multiarray.scalar"),
            (core.multiarray._reconstruct, "numpy.core.multiarray._reconstruct")]  # fmt: skip
    return out


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def guard_loads(run_dir: str | os.PathLike[str], trust: bool) -> None:
    """Wrap ``torch.load`` in this process as the module's docstring says."""
    import torch

    if getattr(torch.load, "__yolo_lab_guard__", False):
        return
    real = torch.load
    own = Path(run_dir).resolve()

    def load(f: Any, *args: Any, **kwargs: Any) -> Any:
        path = Path(f).resolve() if isinstance(f, (str, os.PathLike)) else None
        if trust or (path is not None and _inside(path, own)):
            kwargs.setdefault("weights_only", False)
            return real(f, *args, **kwargs)
        if kwargs.get("weights_only") is False or "weights_only" not in kwargs:
            kwargs["weights_only"] = True
        try:
            with torch.serialization.safe_globals(yolov5_safe_globals()):
                return real(f, *args, **kwargs)
        except pickle.UnpicklingError as exc:
            why = str(exc).split("\n")[0] if str(exc) else type(exc).__name__
            unsafe = _unsafe_names(f)
            raise UntrustedWeights(str(f), unsafe or why) from exc

    load.__yolo_lab_guard__ = True  # type: ignore[attr-defined]
    torch.load = load


def _unsafe_names(f: Any) -> str:
    """The globals a checkpoint names that the allow-list lacks, for the message."""
    try:
        import torch

        names = torch.serialization.get_unsafe_globals_in_checkpoint(f)
    except Exception:
        return ""
    allowed = {
        (g[1] if isinstance(g, tuple) else f"{g.__module__}.{g.__qualname__}")
        for g in yolov5_safe_globals()
    }
    missing = [n for n in names if n not in allowed]
    return ", ".join(missing[:5])
