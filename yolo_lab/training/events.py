"""A run's events read back: the events file, or YOLOv5's results.csv.

The runner appends every event to ``yolo_lab_events.jsonl``
(:data:`~yolo_lab.training.rundir.EVENTS_FILE`), one JSON object a line;
this module reads them: all of them as a history (per-batch and telemetry
events thinned), the tail of the file, or the lines a reader tailing the
file got. A run YOLOv5 trained without yolo-lab has no events file: its
epochs are read from results.csv. It imports nothing but the standard
library and :mod:`.rundir`, which owns the file's name and format.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from .rundir import EVENTS_FILE, read_results

__all__ = [
    "HISTORY_MAX_BATCH_EVENTS",
    "HISTORY_MAX_TELEMETRY_EVENTS",
    "parse_events",
    "read_event_tail",
    "read_events",
]

# How many per-batch events a history holds at most (the others are thinned
# evenly; epoch and other events are always all kept).
HISTORY_MAX_BATCH_EVENTS: Final = 4000
# The same for telemetry samples (one a second: a day-long run has 86,400).
HISTORY_MAX_TELEMETRY_EVENTS: Final = 2000


def _thin(batches: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    if len(batches) <= limit:
        return batches
    step = len(batches) / limit
    kept = [batches[int(i * step)] for i in range(limit)]
    if kept[-1] is not batches[-1]:
        kept[-1] = batches[-1]
    return kept


def parse_events(lines: Iterable[bytes]) -> list[dict[str, Any]]:
    """The events in lines of an events file; a line cut short (by a crash,
    or a read that began or ended inside it) is left out."""
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("kind"), str):
            events.append(event)
    return events


def read_event_tail(run_dir: str | os.PathLike[str], max_bytes: int) -> list[dict[str, Any]]:
    """The events in the last ``max_bytes`` of the run's events file, oldest first."""
    try:
        with open(Path(run_dir) / EVENTS_FILE, "rb") as f:
            start = max(0, f.seek(0, os.SEEK_END) - max_bytes)
            f.seek(start)
            lines = f.read().splitlines()
    except OSError:
        return []
    # A read that began inside a line: that line is cut.
    return parse_events(lines[1:] if start > 0 else lines)


def read_events(
    run_dir: str | os.PathLike[str],
    max_batch_events: int = HISTORY_MAX_BATCH_EVENTS,
    upto: int | None = None,
) -> list[dict[str, Any]]:
    """The run's events from disk, per-batch ones thinned to ``max_batch_events``.

    A run trained by YOLOv5 without yolo-lab has no events file: its epochs
    are read from results.csv instead.
    """
    run_dir = Path(run_dir)
    path = run_dir / EVENTS_FILE
    events: list[dict[str, Any]] = []
    if path.is_file():
        with open(path, "rb") as f:
            data = f.read() if upto is None else f.read(upto)
        events = parse_events(data.splitlines())
    elif (run_dir / "results.csv").is_file():
        events = _events_from_results(run_dir / "results.csv")
    for kind, most in (("batch", max_batch_events), ("telemetry", HISTORY_MAX_TELEMETRY_EVENTS)):
        of_kind = [e for e in events if e["kind"] == kind]
        if len(of_kind) > most:
            keep = {id(e) for e in _thin(of_kind, most)}
            events = [e for e in events if e["kind"] != kind or id(e) in keep]
    return events


def _events_from_results(path: Path) -> list[dict[str, Any]]:
    mtime = path.stat().st_mtime
    rows = read_results(path.parent)
    events = []
    for i, row in enumerate(rows):
        events.append(
            {
                # No times in results.csv: epochs one second apart, ending at the file's time.
                "t": mtime - (len(rows) - 1 - i),
                "kind": "epoch",
                "epoch": int(row.get("epoch", i)),
                "epochs": len(rows),
                "box": row.get("train/box_loss"),
                "obj": row.get("train/obj_loss"),
                "cls": row.get("train/cls_loss"),
                "precision": row.get("metrics/precision"),
                "recall": row.get("metrics/recall"),
                "map50": row.get("metrics/mAP_0.5"),
                "map": row.get("metrics/mAP_0.5:0.95"),
                "val_box": row.get("val/box_loss"),
                "val_obj": row.get("val/obj_loss"),
                "val_cls": row.get("val/cls_loss"),
                "lr": [row.get("x/lr0"), row.get("x/lr1"), row.get("x/lr2")],
                "epoch_time_s": None,
                "from_results_csv": True,
            }
        )
    return events
