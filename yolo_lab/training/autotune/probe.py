"""One probe of an autotune: a short real YOLOv5 run and its figures.

Each point tried is a *probe*: a real YOLOv5 run through the runner, like
``train()``'s, that ends itself after a few dozen batches: the spec's
``probe`` (its batches, counted by the runner's batch-end callback, which
ends the run there as "stopped" without saving weights; a probe does not
reach an epoch's end and its validation either, unless the training set is
smaller than its batches). A probe whose batches are slow ends sooner: once
the batches it measures (after the warm-up) took ``probe_s`` seconds, and
at least ``MIN_MEASURED_BATCHES`` of them, it knows its speed as well as
the machine's noise lets it (on a CPU at 640 px a batch takes seconds: 17
of them would make each probe minutes long, a budget of two minutes one
probe). Ending it from the kernel with ``Run.stop()``
once enough batch events arrived would overshoot by the events' delay and
save last.pt on the way out. Its speed is the median images/s of its batch
events after the first warm-up batches: the median, because one batch held
up by the rest of the machine must not decide.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..api import Run
from ..checks import TrainError, check_batch_size
from ..events import read_events
from ..launch import _start, run_status
from ..rundir import SPEC_VERSION, claim_run_dir

__all__ = [
    "KNOBS",
    "MIN_MEASURED_BATCHES",
    "PROBE_BATCHES",
    "PROBE_SECONDS",
    "WARMUP_BATCHES",
    "ProbeSetup",
    "Row",
    "Settings",
    "measure_batches",
    "run_probe",
]

# The knobs searched, as train()'s keyword arguments.
KNOBS: Final = ("batch_size", "workers", "cache", "amp")
PROBE_BATCHES: Final = 20
WARMUP_BATCHES: Final = 3
# A probe also ends once the batches it measured took this long, and at
# least MIN_MEASURED_BATCHES of them (0: only probe_batches ends it).
PROBE_SECONDS: Final = 5.0
MIN_MEASURED_BATCHES: Final = 3
# What a probe does not need: plots, the anchor check, weights (only the
# final epoch would save, and a probe never reaches it).
_PROBE_OPTIONS: Final = {"nosave": True, "noplots": True, "noautoanchor": True}
_OOM_WORDS: Final = "out of memory"

Settings = dict[str, Any]
Row = dict[str, Any]


@dataclass(frozen=True)
class ProbeSetup:
    """What every probe of one autotune shares: all but the knobs."""

    data: str
    device: str
    devices: tuple[int, ...]
    model: str
    weights: str
    imgsz: int
    folder: Path
    yolov5_dir: str | None
    seed: int
    options: dict[str, Any]
    probe_batches: int
    warmup_batches: int
    probe_s: float = PROBE_SECONDS
    trust_weights: bool = False


# -- one probe ---------------------------------------------------------------------


def _probe_spec(setup: ProbeSetup, settings: Mapping[str, Any], run_dir: Path) -> dict[str, Any]:
    """The run spec of a probe: train()'s, plus when to end (``probe``): after
    ``batches``, or once the batches after the first ``warmup`` took
    ``seconds`` and were at least ``min_measured``."""
    # A probe never reaches its final epoch (each epoch is at least one batch).
    epochs = setup.probe_batches + 1
    params = {
        "data": setup.data,
        "model": setup.model,
        "weights": setup.weights,
        "device": list(setup.devices) or ["cpu"],
        "nproc": 1,
        "batch_size": settings["batch_size"],
        "amp": settings["amp"],
        "epochs": epochs,
        "imgsz": setup.imgsz,
        "workers": settings["workers"],
        "cache": settings["cache"],
        "name": run_dir.name,
        "project": str(run_dir.parent),
        "yolov5_dir": setup.yolov5_dir,
    }
    return {
        "v": SPEC_VERSION,
        "params": params,
        "yolov5_options": {**_PROBE_OPTIONS, **setup.options},
        "seed": setup.seed,
        "trust_weights": setup.trust_weights,
        # No telemetry thread: it would take CPU from what is measured.
        "telemetry_interval_s": 0.0,
        "probe": {
            "batches": setup.probe_batches,
            "warmup": setup.warmup_batches,
            "seconds": setup.probe_s,
            "min_measured": MIN_MEASURED_BATCHES,
        },
    }


def measure_batches(batches: Sequence[Mapping[str, Any]], warmup: int) -> dict[str, Any]:
    """A probe's figures from its batch events, the first ``warmup`` left out.

    ``imgs_per_s``: the median of the batches' images/s (None: none measured);
    ``data_share``: the median share of a step spent waiting for data;
    ``images``: the most images a batch held (fewer than the batch size asked
    when the training set is smaller).
    """
    kept = list(batches[warmup:])
    speeds = [b["imgs_per_s"] for b in kept if _positive(b.get("imgs_per_s"))]
    shares = []
    for b in kept:
        data, compute = b.get("data_s"), b.get("compute_s")
        if _positive(compute) and isinstance(data, (int, float)) and data >= 0:
            shares.append(data / (data + compute))
    return {
        "imgs_per_s": float(statistics.median(speeds)) if speeds else None,
        "data_share": float(statistics.median(shares)) if shares else None,
        "batches": len(speeds),
        "images": max((int(b.get("images") or 0) for b in batches), default=0) or None,
    }


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def _wait(run_dir: Path, deadline: float) -> str:
    """Wait for the probe to end; stopped (after its current batch) at the deadline."""
    run = Run(run_dir)
    try:
        return run.wait(timeout=max(1.0, deadline - time.monotonic()))
    except TimeoutError:
        run.stop()
        try:
            return run.wait(timeout=120)
        except TimeoutError:
            return run.status


def run_probe(setup: ProbeSetup, settings: Settings, name: str, deadline: float) -> Row:
    """Run one probe to its end and read its figures (tests replace this function).

    A batch size the checks refuse comes back as a row with ``refused``; an
    out-of-memory end with ``oom``; any other failure with its message and
    the log to read.
    """
    try:
        check_batch_size(settings["batch_size"], list(setup.devices))
    except TrainError as exc:
        return {"error": f"refused: {exc.message}", "code": exc.code, "refused": True}
    run_dir = claim_run_dir(setup.folder, name)
    _start(run_dir, _probe_spec(setup, settings, run_dir))
    _wait(run_dir, deadline)
    status = run_status(run_dir)
    batches = [e for e in read_events(run_dir, max_batch_events=1 << 30) if e["kind"] == "batch"]
    row: Row = {"run": str(run_dir), **measure_batches(batches, setup.warmup_batches)}
    message = str(status.get("message") or "")
    if status.get("code") == "untrusted_weights":
        # Every probe would load the same file: say it once, now.
        raise TrainError("untrusted_weights", message, str(status.get("fix") or ""))
    if status.get("code") == "cuda_oom" or _OOM_WORDS in message.lower():
        return {**row, "imgs_per_s": None, "error": _OOM_WORDS, "code": "cuda_oom", "oom": True}
    if status.get("status") not in ("stopped", "finished"):
        words = message or "the probe ended without saying why"
        return {**row, "imgs_per_s": None, "error": f"{words} (see {status.get('fix') or name})"}
    if row["imgs_per_s"] is None:
        return {**row, "error": "stopped before a batch was measured (the budget was spent)"}
    return row
