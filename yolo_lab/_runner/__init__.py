"""The training subprocess: one YOLOv5 run, reported as JSON lines.

``python -m yolo_lab._runner RUN_DIR`` reads ``RUN_DIR/yolo_lab_spec.json``
(written by :mod:`yolo_lab.training`; the run folder's format is
:mod:`yolo_lab.training.rundir`), imports YOLOv5 (the PyPI package
``yolov5`` or a checkout of ultralytics/yolov5 named in the spec), registers
callbacks on a fresh ``Callbacks`` and calls YOLOv5's own ``main(opt,
callbacks)``, with ``opt`` derived from the spec's params by
:func:`yolo_lab._yolov5.options.yolov5_opt`. Events go to
``RUN_DIR/yolo_lab_events.jsonl``, one JSON object a line; YOLOv5's own
console output goes to the log file the parent opened as stdout.

The modules, one job each:

- :mod:`.main`: one process of a run, start to end;
- :mod:`.callbacks`: the patches of YOLOv5's train module and its callbacks;
- :mod:`.amp`: whether AMP is safe for the model, offline;
- :mod:`.ddp`: the stop every rank agrees on, the heartbeat, DDP on the CPU;
- :mod:`.process`: rank, parent-death signal, signals, stack dumps;
- :mod:`.events`: the event stream;
- :mod:`.supervisor`: the parent of a DDP run (torchrun's parent), which
  ends it: no orphans, a crashed rank's error, a hung run's stacks.

Stopping: the file ``RUN_DIR/yolo_lab_stop``, SIGTERM or SIGINT set a flag
that every rank reads before each training batch (agreeing on it with one
all-reduce under DDP). Rank 0 then saves ``last.pt`` itself (YOLOv5's own
``stop_training`` saves nothing), with the epoch counter set so that a
resume redoes the interrupted epoch from the weights trained so far, and
the run ends as "stopped". A parent that dies (kernel killed) sends SIGTERM
through PR_SET_PDEATHSIG, and a watchdog thread notices a changed parent id
as a second line of defence, so no training is left orphaned.
"""

from .callbacks import Runner, StopRequested
from .main import main, oom_fix
from .process import stop_on_signals

__all__ = ["Runner", "StopRequested", "main", "oom_fix", "stop_on_signals"]
