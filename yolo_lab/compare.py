"""Runs side by side, from their folders: the figures the course compares.

Every figure here is computed from a run folder's ``yolo_lab_events.jsonl``
(a :class:`~yolo_lab.Run`, or the folder's path), so it can be redrawn from
disk at any time, for a run of this kernel or of another one:

- ``summarize(run)``: one run's speed and accuracy in a dict: the median
  images/s of its batches after the warm-up, the median time split of a
  batch (``data_s`` waiting for data, ``compute_s`` forward, backward and
  optimizer, ``sync_s`` the DDP collective), the best mAP, the largest GPU
  memory, and the settings it ran with;
- ``table(rows)``: several summaries as a plain-text table;
- ``plot_runs(runs)``: losses, mAP@0.5 and images/s of several runs on one
  matplotlib figure, one colour per run;
- ``plot_time_split(runs)``: where a batch's time went, one bar per run;
- ``check_amp(model)``: the offline mixed-precision check a run makes before
  it trains with AMP (fp32 vs autocast outputs of the model), for a model in
  hand.

The plots need matplotlib (YOLOv5 installs it); nothing else does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from statistics import median
from typing import Any, Final, Union

from ._runner.amp import BOX_LIMIT, SCORE_LIMIT, AmpVerdict
from ._runner.amp import check_amp_offline as check_amp
from .training import Run
from .training.rundir import device_text, read_spec

__all__ = [
    "BOX_LIMIT",
    "COLUMNS",
    "SCORE_LIMIT",
    "WARMUP",
    "AmpVerdict",
    "check_amp",
    "plot_runs",
    "plot_time_split",
    "summarize",
    "table",
]

# Batches left out of the medians: they include starting the DataLoader's
# workers and the first (slow) kernels.
WARMUP: Final = 2

# The parts of a batch's time, in the order the run view stacks them.
SPLIT: Final = (
    ("data_s", "waiting for data"),
    ("compute_s", "computing"),
    ("sync_s", "DDP sync"),
)

# table()'s default columns: (key of summarize(), heading, format).
COLUMNS: Final = (
    ("name", "run", "{}"),
    ("device", "device", "{}"),
    ("nproc", "procs", "{}"),
    ("batch_size", "batch", "{}"),
    ("workers", "workers", "{}"),
    ("cache", "cache", "{}"),
    ("amp", "AMP", "{}"),
    ("imgs_per_s", "images/s", "{:.1f}"),
    ("data_ms", "data ms", "{:.1f}"),
    ("compute_ms", "compute ms", "{:.1f}"),
    ("sync_ms", "sync ms", "{:.2f}"),
    ("gpu_mem_gib", "GPU GiB", "{:.2f}"),
    ("map50", "mAP@0.5", "{:.3f}"),
)

# A run, or its folder. (Union: this alias is evaluated, and Python 3.9 has no "|" here.)
RunLike = Union[Run, str, "os.PathLike[str]"]


def _run(run: RunLike) -> Run:
    return run if isinstance(run, Run) else Run(run)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _median(values: Iterable[Any]) -> float | None:
    numbers = [v for v in map(_number, values) if v is not None]
    return float(median(numbers)) if numbers else None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def _measured(batches: Sequence[Mapping[str, Any]], warmup: int) -> list[Mapping[str, Any]]:
    """The batches after the warm-up; all of them when the run has no more."""
    if warmup < 0:
        raise ValueError(f"warmup must be 0 or more batches, got {warmup}")
    return list(batches[warmup:]) if len(batches) > warmup else list(batches)


def _share(batch: Mapping[str, Any]) -> float | None:
    data, compute = _number(batch.get("data_s")), _number(batch.get("compute_s"))
    if data is None or compute is None:
        return None
    total = data + compute + (_number(batch.get("sync_s")) or 0.0)
    return data / total if total > 0 else None


def summarize(run: RunLike, warmup: int = WARMUP) -> dict[str, Any]:
    """One run's figures, from its folder.

    ``warmup``: the first batches, left out of the medians (all batches
    count when the run has no more than that). Times are in seconds
    (``*_s``) and milliseconds (``*_ms``); a figure the run did not measure
    is None (``sync_s`` outside DDP, ``gpu_mem_gib`` on the CPU).
    """
    run = _run(run)
    events = run.events()
    params = dict(read_spec(run.dir).get("params") or {})
    if not params:
        starts = [e for e in events if e["kind"] == "start"]
        params = dict(starts[-1].get("params") or {}) if starts else {}
    batches = [e for e in events if e["kind"] == "batch"]
    epochs = [e for e in events if e["kind"] == "epoch"]
    amp = [e for e in events if e["kind"] == "amp"]
    measured = _measured(batches, warmup)
    split = {key: _median(b.get(key) for b in measured) for key, _ in SPLIT}
    memory = [m for m in (_number(b.get("gpu_mem_gib")) for b in batches) if m is not None]
    map50 = [m for m in (_number(e.get("map50")) for e in epochs) if m is not None]
    map_ = [m for m in (_number(e.get("map")) for e in epochs) if m is not None]
    return {
        "name": run.name,
        "run": str(run.dir),
        "status": run.status,
        "device": device_text(params.get("device")),
        "nproc": params.get("nproc") or 1,
        "batch_size": params.get("batch_size"),
        "workers": params.get("workers"),
        "cache": (params.get("cache") or "off") if params else None,
        "imgsz": params.get("imgsz"),
        "amp": ("on" if amp[-1].get("enabled") else "off") if amp else None,
        "amp_reason": amp[-1].get("reason") if amp else None,
        "batches": len(batches),
        "measured_batches": len(measured),
        "imgs_per_s": _median(b.get("imgs_per_s") for b in measured),
        **split,
        **{key.replace("_s", "_ms"): _ms(value) for key, value in split.items()},
        "data_share": _median(_share(b) for b in measured),
        "gpu_mem_gib": max(memory) if memory else None,
        "epochs": len(epochs),
        "map50": max(map50) if map50 else None,
        "map": max(map_) if map_ else None,
    }


def table(
    rows: Iterable[Mapping[str, Any] | RunLike],
    columns: Sequence[tuple[str, str, str]] = COLUMNS,
    warmup: int = WARMUP,
) -> str:
    """Summaries (or runs, summarized with ``warmup``) as a plain-text table.

    ``columns``: (key, heading, format) triples; a column no row has a
    value for is left out, and a missing value shows as a dash.
    """
    summaries = [r if isinstance(r, Mapping) else summarize(r, warmup) for r in rows]
    shown = [c for c in columns if any(s.get(c[0]) is not None for s in summaries)]

    def cell(summary: Mapping[str, Any], key: str, fmt: str) -> str:
        value = summary.get(key)
        return "-" if value is None else fmt.format(value)

    grid = [[heading for _, heading, _ in shown]]
    grid += [[cell(s, key, fmt) for key, _, fmt in shown] for s in summaries]
    widths = [max(len(line[i]) for line in grid) for i in range(len(shown))]
    lines = []
    for n, line in enumerate(grid):
        # The first column (the run's name) reads left-aligned, figures right-aligned.
        parts = [
            text.ljust(width) if i == 0 else text.rjust(width)
            for i, (text, width) in enumerate(zip(line, widths))
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - YOLOv5 brings matplotlib
        raise ImportError(
            "yolo_lab.compare's plots need matplotlib: pip install matplotlib"
        ) from exc
    return plt


def _labels(runs: Sequence[Run], labels: Sequence[str] | None) -> list[str]:
    if labels is None:
        return [run.name for run in runs]
    if len(labels) != len(runs):
        raise ValueError(f"{len(labels)} labels for {len(runs)} runs; give one label per run")
    return [str(label) for label in labels]


def _x(event: Mapping[str, Any], axis: str, t0: float) -> float | None:
    """Where an event sits on the shared x axis: epochs done, or seconds."""
    if axis == "time":
        t = _number(event.get("t"))
        return None if t is None else t - t0
    if event["kind"] == "epoch":
        return float(event.get("epoch", 0)) + 1.0
    batches = _number(event.get("batches"))
    ni = _number(event.get("ni"))
    if not batches or ni is None:
        return None
    return (ni + 1.0) / batches


def plot_runs(
    runs: Sequence[RunLike],
    labels: Sequence[str] | None = None,
    x: str = "epoch",
    warmup: int = WARMUP,
) -> Any:
    """Losses, mAP@0.5 and images/s of ``runs`` on one figure (returned).

    Three panels share the x axis, ``x="epoch"`` (epochs done, so runs with
    other batch sizes line up) or ``x="time"`` (seconds since each run's
    start, to see which reaches an mAP first). The loss is YOLOv5's
    box + objectness + class loss of each batch; mAP is each epoch's
    validation; images/s leaves out the first ``warmup`` batches. In a
    notebook the figure shows once the cell ends (where YOLOv5 was imported
    into the kernel, run ``%matplotlib inline`` first: YOLOv5 switches
    matplotlib to a backend that only writes files).
    """
    if x not in ("epoch", "time"):
        raise ValueError(f'x must be "epoch" or "time", got {x!r}')
    runs = [_run(r) for r in runs]
    names = _labels(runs, labels)
    plt = _pyplot()
    fig, (loss_ax, map_ax, speed_ax) = plt.subplots(
        3, 1, sharex=True, figsize=(8, 7.5), constrained_layout=True
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color") or ["C0"]
    for i, (run, name) in enumerate(zip(runs, names)):
        color = colors[i % len(colors)]
        events = run.events()
        starts = [e["t"] for e in events if e["kind"] == "start"]
        t0 = starts[0] if starts else (events[0]["t"] if events else 0.0)
        batches = [e for e in events if e["kind"] == "batch"]
        epochs = [e for e in events if e["kind"] == "epoch"]
        loss = [
            (_x(b, x, t0), sum(_number(b.get(k)) or 0.0 for k in ("box", "obj", "cls")))
            for b in batches
        ]
        loss_ax.plot(*_xy(loss), color=color, label=name, linewidth=1.2)
        maps = [(_x(e, x, t0), _number(e.get("map50"))) for e in epochs]
        map_ax.plot(*_xy(maps), color=color, marker="o", label=name)
        speed = [(_x(b, x, t0), _number(b.get("imgs_per_s"))) for b in _measured(batches, warmup)]
        speed_ax.plot(*_xy(speed), color=color, marker=".", label=name, linewidth=1)
    loss_ax.set_ylabel("train loss\n(box + obj + cls)")
    map_ax.set_ylabel("mAP@0.5")
    speed_ax.set_ylabel("images/s")
    speed_ax.set_xlabel("epochs" if x == "epoch" else "seconds since the run started")
    speed_ax.set_ylim(bottom=0)
    loss_ax.legend(loc="upper right")
    for ax in (loss_ax, map_ax, speed_ax):
        ax.grid(alpha=0.3)
    loss_ax.set_title("Runs side by side")
    return fig


def _xy(points: Iterable[tuple[float | None, float | None]]) -> tuple[list[float], list[float]]:
    kept = [(px, py) for px, py in points if px is not None and py is not None]
    return [p[0] for p in kept], [p[1] for p in kept]


def plot_time_split(
    runs: Sequence[RunLike], labels: Sequence[str] | None = None, warmup: int = WARMUP
) -> Any:
    """Where a batch's time went, one horizontal bar per run (the figure).

    Each bar stacks the median milliseconds of waiting for data, computing
    and the DDP sync over the batches after ``warmup``; the text after it is
    the run's median images/s and the median share of a step spent waiting
    for data.
    """
    runs = [_run(r) for r in runs]
    names = _labels(runs, labels)
    summaries = [summarize(r, warmup) for r in runs]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.7 * len(runs) + 1.6), constrained_layout=True)
    rows = list(range(len(runs)))[::-1]  # the first run on top
    left = [0.0] * len(runs)
    for (key, label), color in zip(SPLIT, ("#d62728", "#1f77b4", "#9467bd")):
        widths = [_ms(s.get(key)) or 0.0 for s in summaries]
        if not any(widths):
            continue
        ax.barh(rows, widths, left=left, color=color, label=label, height=0.6)
        left = [a + b for a, b in zip(left, widths)]
    for row, s, end in zip(rows, summaries, left):
        speed, share = s.get("imgs_per_s"), s.get("data_share")
        text = " no batches" if speed is None else f" {speed:.1f} images/s"
        if share is not None:
            text += f", {100 * share:.0f}% waiting"
        ax.text(end, row, text, va="center", ha="left", fontsize=9)
    ax.set_yticks(rows)
    ax.set_yticklabels(names)
    ax.set_xlabel(f"median milliseconds per batch (after {warmup} warm-up batches)")
    ax.set_xlim(0, max(left + [1.0]) * 1.45)
    # Above the bars, right of the title: no bar or label can hide it there.
    ax.legend(
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncol=3,
        fontsize=9,
        frameon=False,
        borderaxespad=0.1,
    )
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Where a batch's time goes", loc="left")
    return fig
