"""yolo-lab: train YOLOv5 on GPUs from JupyterLab.

Importing this package inside a running IPython kernel registers the
``yolo_lab`` comm target the JupyterLab extension talks to, so ``import
yolo_lab`` and ``%load_ext yolo_lab`` both enable the extension's kernel side.
Outside a kernel the import has no side effects.
"""

from __future__ import annotations

from typing import Any

from . import _comm
from ._pkgversion import __version__
from .doctor import DoctorReport, doctor

__all__ = ["DoctorReport", "__version__", "doctor", "load_ipython_extension"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt frontend extension."""
    return [{"src": "labextension", "dest": "yolo-lab"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext yolo_lab``: register the comm target in this kernel."""
    _comm.register_if_in_kernel()


_comm.register_if_in_kernel()
