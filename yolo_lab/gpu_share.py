"""A student's share of a GPU that a class shares: ``YOLO_LAB_GPU_MEMORY_FRACTION``.

The classroom Hub (``yolo-lab classroom init --gpus shared --mem-fraction F``)
puts every student's container on the same GPU and sets this variable in
each; a training process applies it with
``torch.cuda.set_per_process_memory_fraction`` before it allocates, so one
student's run fails with CUDA out-of-memory at its share instead of taking
the memory the others need. Called by the training runner
(``yolo_lab._runner.main``); a kernel that trains without ``yolo_lab.train``
can call :func:`apply_memory_fraction` itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["ENV", "apply_memory_fraction", "memory_fraction"]

ENV: Final = "YOLO_LAB_GPU_MEMORY_FRACTION"


def memory_fraction(environ: Mapping[str, str] | None = None) -> float | None:
    """The share (0 < share <= 1) the environment sets, else None (unset or unreadable)."""
    text = (os.environ if environ is None else environ).get(ENV, "").strip()
    if not text:
        return None
    try:
        share = float(text)
    except ValueError:
        return None
    return share if 0 < share <= 1 else None


def apply_memory_fraction(
    environ: Mapping[str, str] | None = None, torch_module: Any = None
) -> float | None:
    """Cap this process's CUDA memory on every visible GPU at the configured share.

    Returns the share applied, or None when none is set or no GPU is
    visible. Never raises: a process without the cap still trains.
    ``torch_module`` replaces ``torch`` for tests.
    """
    share = memory_fraction(environ)
    if share is None:
        return None
    try:
        if torch_module is None:
            import torch as torch_module
        if not torch_module.cuda.is_available():
            return None
        for device in range(torch_module.cuda.device_count()):
            torch_module.cuda.set_per_process_memory_fraction(share, device)
    except Exception:
        return None
    return share
