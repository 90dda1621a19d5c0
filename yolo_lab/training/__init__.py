"""YOLOv5 training runs started from the kernel.

One module per job:

- :mod:`.checks`: the argument checks of ``train()`` and :class:`TrainError`;
- :mod:`.rundir`: the run folder's files, written and read (the training
  subprocess, :mod:`yolo_lab._runner`, uses it too);
- :mod:`.events`: a run's events read back (a history, a tail);
- :mod:`.launch`: starting, watching and stopping the training subprocess;
- :mod:`.hub`: the live hub that tails run folders for the comm;
- :mod:`.api`: ``train``, ``resume``, ``show_run``, ``list_runs`` and :class:`Run`.

The names below are importable from ``yolo_lab.training`` as before the split.
"""

from __future__ import annotations

# Beside __all__, every name that was importable from yolo_lab.training before
# it became a package still is (hence the noqa: re-exported, not used here).
from .api import (  # noqa: F401
    RUN_MIME_TYPE,
    Run,
    list_runs,
    resume,
    show_run,
    train,
)
from .checks import (  # noqa: F401
    CACHE_CHOICES,
    IMAGE_SUFFIXES,
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    YOLOV5_INSTALL,
    TrainError,
    check_amp,
    check_batch_size,
    check_cache,
    check_data,
    check_devices,
    check_model,
    check_name,
    check_nproc,
    find_yolov5,
    gpu_count,
)
from .events import (  # noqa: F401
    HISTORY_MAX_BATCH_EVENTS,
    read_events,
)
from .hub import (  # noqa: F401
    RunHub,
    RunListener,
    get_hub,
)
from .launch import (  # noqa: F401
    run_status,
    runner_command,
    runner_env,
    stop_run,
)
from .rundir import (  # noqa: F401
    EVENTS_FILE,
    LOG_FILE,
    SPEC_FILE,
    STATUS_FILE,
    STOP_FILE,
    TERMINAL,
    next_run_dir,
    read_results,
    write_status,
)

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
