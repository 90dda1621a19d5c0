"""Live telemetry of the kernel: GPUs through NVML, CPU and RAM through psutil.

The modules, one job each:

- :mod:`.probe`: one reading of the machine, the kernel's process tree and
  its GPUs (also what a training run reads for its own GPU figures);
- :mod:`.sampler`: the sampler thread behind the panel and the chart, its
  batches and notices;
- :mod:`.monitor`: ``yolo_lab.monitor()``, a live chart in a notebook output.

The names load when first used, so a training process that reads the probe
does not import the sampler or the comm protocol.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .monitor import Monitor, monitor
    from .sampler import (
        DEFAULT_HISTORY_S,
        DEFAULT_INTERVAL_S,
        INTERVAL_MAX_S,
        INTERVAL_MIN_S,
        MIN_BATCH_PERIOD_S,
        Batch,
        Listener,
        Notice,
        Probe,
        Sampler,
        check_interval,
        get_sampler,
    )

_LAZY: dict[str, str] = {
    **dict.fromkeys(
        [
            "DEFAULT_HISTORY_S",
            "DEFAULT_INTERVAL_S",
            "INTERVAL_MAX_S",
            "INTERVAL_MIN_S",
            "MIN_BATCH_PERIOD_S",
            "Batch",
            "Listener",
            "Notice",
            "Probe",
            "Sampler",
            "check_interval",
            "get_sampler",
        ],
        ".sampler",
    ),
    "Monitor": ".monitor",
    "monitor": ".monitor",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DEFAULT_HISTORY_S",
    "DEFAULT_INTERVAL_S",
    "INTERVAL_MAX_S",
    "INTERVAL_MIN_S",
    "MIN_BATCH_PERIOD_S",
    "Batch",
    "Listener",
    "Monitor",
    "Notice",
    "Probe",
    "Sampler",
    "check_interval",
    "get_sampler",
    "monitor",
]
