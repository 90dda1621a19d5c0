"""YOLOv5 7.0 on today's numpy, Pillow and setuptools.

YOLOv5 7.0 (the PyPI package ``yolov5`` 7.0.x and the ``v7.0`` tag of
ultralytics/yolov5) calls three things that newer releases of its
dependencies removed. Each :class:`Shim` below names the YOLOv5 call it
serves and the release that removed what it calls; :func:`apply` puts back
only what is missing, in the process about to import YOLOv5 (the training
subprocess, the autotune probe, the doctor's import check), never in the
user's kernel. Where a dependency still has the original, nothing is
touched.

What no shim can mend (a module built for numpy 1 on numpy 2, torch beside
a torchvision of another release, no ``packaging`` to stand in for
``pkg_resources``) is named by :func:`blockers` and :func:`explain` with the
command that fixes it, for the doctor and the run's error, instead of a
traceback in the middle of a run.

``python -m yolo_lab._yolov5.compat MODULE ARGS...`` runs a module (e.g.
``yolov5.train``) with the shims applied and offline as the runner is (the
font from a local file, no pip auto-install): plain YOLOv5 as a user would
run it, for comparisons.
"""

from __future__ import annotations

import importlib.util
import runpy
import sys
from dataclasses import dataclass
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from typing import Callable, Final

__all__ = ["SHIMS", "Shim", "apply", "apply_on_import", "blockers", "explain", "needed"]


@dataclass(frozen=True)
class Shim:
    """One thing YOLOv5 7.0 calls that a newer dependency removed."""

    name: str
    serves: str  # the YOLOv5 call it keeps working
    removed_in: str  # the release that removed what that call uses
    missing: Callable[[], bool]
    put_back: Callable[[], None]


# ----------------------------------------------------------------- numpy


def _numpy_lacks_trapz() -> bool:
    import numpy as np

    return not hasattr(np, "trapz") and hasattr(np, "trapezoid")


def _numpy_trapz() -> None:
    import numpy as np

    # The same integral under its new name (numpy 2.0 added it).
    np.trapz = np.trapezoid  # type: ignore[attr-defined]


# ------------------------------------------------------------ setuptools


def _no_pkg_resources() -> bool:
    return "pkg_resources" not in sys.modules and importlib.util.find_spec("pkg_resources") is None


def _pkg_resources() -> None:
    from packaging.version import parse

    # YOLOv5 7.0 uses pkg_resources only for parse_version (check_version,
    # the loggers' wandb version check): packaging's parse is what it was.
    module = importlib.util.module_from_spec(ModuleSpec("pkg_resources", None))
    module.__doc__ = "yolo-lab's stand-in: parse_version from packaging, for YOLOv5 7.0."
    module.parse_version = parse  # type: ignore[attr-defined]
    # Code that finds a module named pkg_resources loaded calls this for each
    # folder it adds to sys.path (pytest's monkeypatch.syspath_prepend does);
    # with no pkg_resources, no namespace package of its kind needs fixing.
    module.fixup_namespace_packages = lambda path_item, parent=None: None  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = module


# ----------------------------------------------------------------- Pillow


def _pillow_lacks_getsize() -> bool:
    from PIL import ImageFont

    return not hasattr(ImageFont.FreeTypeFont, "getsize")


def _pillow_getsize() -> None:
    from PIL import ImageFont

    def getsize(self: ImageFont.FreeTypeFont, text: str, *args: object) -> tuple[int, int]:
        # Pillow 9's getsize was the bounding box's right and bottom edges
        # (its offset included): where YOLOv5 places the label's box.
        _left, _top, right, bottom = self.getbbox(text, *args)  # type: ignore[arg-type]
        return int(right), int(bottom)

    ImageFont.FreeTypeFont.getsize = getsize  # type: ignore[attr-defined]


SHIMS: Final[tuple[Shim, ...]] = (
    Shim(
        "numpy.trapz",
        "utils/metrics.py compute_ap: np.trapz, the area under each class's "
        "precision-recall curve (every validation)",
        "numpy 2.4",
        _numpy_lacks_trapz,
        _numpy_trapz,
    ),
    Shim(
        "pkg_resources",
        "utils/general.py and utils/loggers/__init__.py: import pkg_resources; "
        "pkg.parse_version (at import)",
        "setuptools 81",
        _no_pkg_resources,
        _pkg_resources,
    ),
    Shim(
        "PIL.ImageFont.FreeTypeFont.getsize",
        "utils/plots.py Annotator.box_label and text: font.getsize, the labels "
        "of train_batch*.jpg and val_batch*_pred.jpg",
        "Pillow 10",
        _pillow_lacks_getsize,
        _pillow_getsize,
    ),
)


def needed() -> list[Shim]:
    """The shims this environment needs (a dependency that is not importable
    needs none: the import error says so on its own)."""
    wanted = []
    for shim in SHIMS:
        try:
            if shim.missing():
                wanted.append(shim)
        except ImportError:
            continue
    return wanted


def apply() -> list[str]:
    """Put back what YOLOv5 7.0 needs and this environment lacks; the names
    applied. Safe to call again: a shim once applied is no longer missing."""
    applied = []
    for shim in needed():
        try:
            shim.put_back()
        except ImportError:
            continue  # blockers() names what is missing
        applied.append(shim.name)
    return applied


class _BeforeYOLOv5(MetaPathFinder):
    """Applies the shims when the ``yolov5`` package is first imported, then
    steps aside: every import goes on as it would have."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "yolov5":
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            apply()
        return None


def apply_on_import() -> None:
    """Apply the shims once ``yolov5`` is imported, by whatever imports it
    (YOLOv5's own ``yolov5`` command, ``torch.load`` of a checkpoint): the
    image's start-up file calls this, so nothing is applied in a process that
    never imports YOLOv5."""
    if not any(isinstance(finder, _BeforeYOLOv5) for finder in sys.meta_path):
        sys.meta_path.insert(0, _BeforeYOLOv5())


def blockers() -> list[tuple[str, str]]:
    """Combinations no shim can mend, found without importing YOLOv5, each
    with the command that fixes it."""
    found = []
    if _no_pkg_resources() and importlib.util.find_spec("packaging") is None:
        found.append(
            (
                "YOLOv5 7.0 imports pkg_resources, which setuptools 81 and newer no longer "
                "have, and the packaging module that stands in for it is missing",
                "pip install packaging",
            )
        )
    return found


# What an import error of YOLOv5 means when no shim can help, by the words
# that say it: (words, what is wrong, the command that fixes it).
_KNOWN_ERRORS: Final = (
    (
        ("compiled using NumPy 1.x", "_ARRAY_API not found", "numpy.core.multiarray failed"),
        "a module built for numpy 1 (often opencv-python or matplotlib) beside numpy 2",
        "pip install -U opencv-python-headless matplotlib  (modules built for numpy 2)",
    ),
    (
        ("torchvision::nms does not exist",),
        "torchvision was built for another torch release",
        "pip install the torchvision of your torch (torch 2.14 goes with torchvision 0.29)",
    ),
    (
        ("No module named 'pkg_resources'",),
        "pkg_resources is missing and could not be stood in for",
        "pip install packaging",
    ),
)


def explain(error_text: str) -> tuple[str, str] | None:
    """What a failed import of YOLOv5 means and its fix, when it is a known
    combination that cannot work; None otherwise."""
    for words, what, fix in _KNOWN_ERRORS:
        if any(w in error_text for w in words):
            return what, fix
    return None


def _main(argv: list[str]) -> None:
    if not argv:
        print("usage: python -m yolo_lab._yolov5.compat MODULE [ARGS...]", file=sys.stderr)
        raise SystemExit(2)
    import os

    from ..training.launch import runner_env

    # Offline as yolo-lab's runner is: no font download, no pip auto-install.
    os.environ.update(runner_env())
    # Plain YOLOv5 7.0 loads every .pt in full (its own checkpoints hold its
    # classes), which torch >= 2.6 refuses by default: as YOLOv5 itself, this
    # command runs the code a --weights file carries, so give it only files
    # you trust. train() loads them safely (yolo_lab/_runner/weights.py).
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    apply()
    sys.argv = argv
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _main(sys.argv[1:])
