"""YOLOv5 training runs started from the kernel.

One module per job:

- :mod:`.checks`: the argument checks of ``train()`` and :class:`TrainError`;
- :mod:`.params`: the definition of a run's parameters, read;
- :mod:`.rundir`: the run folder's files, written and read (the training
  subprocess, :mod:`yolo_lab._runner`, uses it too);
- :mod:`.events`: a run's events read back (a history, a tail);
- :mod:`.launch`: starting, watching and stopping the training subprocess;
- :mod:`.hub`: the live hub that tails run folders for the comm;
- :mod:`.advisor`: why a run is slow, and the fix;
- :mod:`.detached`: runs the Jupyter server owns;
- :mod:`.autotune`: the fastest settings, probed;
- :mod:`.api`: ``train``, ``resume``, ``show_run``, ``list_runs`` and :class:`Run`.

Only the public API is here, imported when first used (and each module by
its name, ``yolo_lab.training.rundir``): the training subprocess imports
``rundir`` and ``advisor`` without the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import RUN_MIME_TYPE, Run, list_runs, resume, show_run, train
    from .checks import MAX_BATCH_SIZE, TrainError
    from .events import read_events

_PUBLIC: dict[str, str] = {
    "MAX_BATCH_SIZE": ".checks",
    "RUN_MIME_TYPE": ".api",
    "Run": ".api",
    "TrainError": ".checks",
    "list_runs": ".api",
    "read_events": ".events",
    "resume": ".api",
    "show_run": ".api",
    "train": ".api",
}

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


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name], __name__), name)
    else:
        try:  # a module of the package, by its name
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value
