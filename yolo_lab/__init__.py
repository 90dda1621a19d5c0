"""yolo-lab: train YOLOv5 on GPUs from JupyterLab.

Importing this package inside a running IPython kernel registers the
``yolo_lab`` comm target the JupyterLab extension talks to, so ``import
yolo_lab`` and ``%load_ext yolo_lab`` both enable the extension's kernel side.
Outside a kernel the import has no side effects.

``yolo_lab.doctor()`` checks the kernel's training environment and
``yolo_lab.monitor()`` shows its GPU/CPU telemetry as a live chart
(``yolo_lab.telemetry`` holds the sampler behind both the chart and the
JupyterLab panel). ``yolo_lab.train(data=..., device=..., batch_size=...,
amp=...)`` starts a YOLOv5 training run in a subprocess and shows it live;
``resume``, ``show_run`` and ``list_runs`` work on the runs/ folder;
``train(..., cluster=yolo_lab.Slurm(nodes=2, gpus_per_node=4, ...))`` runs
it as a Slurm job on a cluster's nodes.
``yolo_lab.autotune(data=..., device=...)`` probes batch size, workers, cache
(and AMP on a GPU) in short real runs and returns the fastest settings.
``yolo_lab.benchmark()`` measures the course's speed table on this machine.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._pkgversion import __version__
    from .bench import Bench, benchmark, show_bench
    from .environment import DoctorReport, doctor
    from .telemetry.monitor import Monitor, monitor
    from .training import Run, TrainError, list_runs, resume, show_run, train
    from .training.autotune import Autotune, autotune
    from .training.slurm import Slurm

# The public names, imported when first used: a process that imports one
# module of the package (a training runner, each autotune probe, each DDP
# rank) does not import the rest (README, Layout: the import time).
_LAZY: dict[str, str] = {
    "__version__": "._pkgversion",
    "DoctorReport": ".environment",
    "doctor": ".environment",
    "Monitor": ".telemetry.monitor",
    "monitor": ".telemetry.monitor",
    "Bench": ".bench",
    "benchmark": ".bench",
    "show_bench": ".bench",
    "Run": ".training",
    "Slurm": ".training.slurm",
    "TrainError": ".training",
    "list_runs": ".training",
    "resume": ".training",
    "show_run": ".training",
    "train": ".training",
    "Autotune": ".training.autotune",
    "autotune": ".training.autotune",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "Autotune",
    "Bench",
    "DoctorReport",
    "Monitor",
    "Run",
    "Slurm",
    "TrainError",
    "__version__",
    "autotune",
    "benchmark",
    "doctor",
    "list_runs",
    "load_ipython_extension",
    "monitor",
    "resume",
    "show_bench",
    "show_run",
    "train",
]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt frontend extension."""
    return [{"src": "labextension", "dest": "yolo-lab"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The server extension: lists the servers ``yolo-lab up`` started."""
    return [{"module": "yolo_lab.server.extension"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext yolo_lab``: register the comm target in this kernel."""
    from . import _comm

    _comm.register_if_in_kernel()


# In a kernel, importing the package registers the comm target; a process
# without ipykernel (a runner, a script) has no kernel to register with.
if "ipykernel" in sys.modules:
    load_ipython_extension(None)
