"""``autotune()``: the fastest batch size, workers, cache (and AMP on a GPU)
for this machine, this dataset and this model, found by measuring.

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

Why searched and not gridded: a probe costs seconds to start (Python,
torch, YOLOv5, the dataset) whatever it measures, so a grid of 4 batch sizes
x 3 worker counts x 2 caches x 2 AMPs is 48 probes, far past a 2-minute
budget. The knobs mostly act apart (the batch feeds the GPU, the workers
and the cache feed the batch), so a coordinate descent finds the same best
in a handful: start from the defaults, vary one knob at a time, keep a
change that is faster by more than the noise (``min_gain``). The batch is
climbed coarse to fine: four times larger while that is faster (a doubling
on a plateau gains less than a probe's noise, two of them add up to more),
up to the batch that runs out of memory, then the doublings beside the best
(_Search.climb says more). Two rules save
more probes: an out-of-memory batch is remembered and that batch and larger
are never tried again (with AMP off, too: it needs more memory); and the
loader's knobs (more workers, a RAM cache) are tried only while the probes'
own time split (``data_s`` against ``compute_s``) leaves them something to
win: a step that waits for data 2% of its time gains at most 2% from a
faster loader. On the CPU the cache is tried whatever the split: decoding
runs on the cores the step computes on, so a cache frees them (measured
here: +43 % at batch 32 with 2 workers, the data wait already small).

The search ends when no knob helps, or when the next probe would not end
within the budget. Every probe is a row of the result, saved with the
winner as ``autotune.json`` in ``project/autotune-N/`` (the probes' run
folders beside it), so the table survives a reload.
"""

from __future__ import annotations

import html
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .._live import LiveDisplay
from ..protocol import AUTOTUNE_MIME_TYPE
from .api import Run
from .checks import (
    MAX_BATCH_SIZE,
    TrainError,
    check_amp,
    check_batch_size,
    check_cache,
    check_data,
    check_devices,
    check_int,
    check_model,
    check_trust_weights,
    check_yolov5_options,
    find_yolov5,
)
from .launch import _start, run_status
from .rundir import (
    SPEC_VERSION,
    claim_run_dir,
    device_param,
    read_events,
    write_json,
)

__all__ = [
    "AUTOTUNE_FILE",
    "KNOBS",
    "Autotune",
    "ProbeSetup",
    "autotune",
    "measure_batches",
    "run_probe",
]

AUTOTUNE_FILE: Final = "autotune.json"
# The knobs searched, as train()'s keyword arguments.
KNOBS: Final = ("batch_size", "workers", "cache", "amp")
# The order the CPU search moves them in (autotune() says why).
CPU_ORDER: Final = ("cache", "batch_size", "workers", "amp")
DEFAULT_BUDGET_S: Final = 120.0
PROBE_BATCHES: Final = 20
WARMUP_BATCHES: Final = 3
# A change must be this much faster to be kept: below it is measurement noise.
MIN_GAIN: Final = 0.03
# Passes over the knobs, at most: a pass after the first re-checks the batch
# for the loader or AMP the one before chose.
MAX_PASSES: Final = 3
# Steps up a climb of one rung at a time looks past that were not faster
# (the workers; the batch's first climb takes two rungs a step instead).
CLIMB_PATIENCE: Final = 1
# A probe also ends once the batches it measured took this long, and at
# least MIN_MEASURED_BATCHES of them (0: only probe_batches ends it).
PROBE_SECONDS: Final = 5.0
MIN_MEASURED_BATCHES: Final = 3
# A running probe is stopped this long after the budget's end (its start
# alone can take that: Python, torch and YOLOv5 import in each probe).
PROBE_GRACE_S: Final = 30.0
# What a probe does not need: plots, the anchor check, weights (only the
# final epoch would save, and a probe never reaches it).
_PROBE_OPTIONS: Final = {"nosave": True, "noplots": True, "noautoanchor": True}
_OOM_WORDS: Final = "out of memory"

Settings = dict[str, Any]
Row = dict[str, Any]
ProbeFunction = Callable[["ProbeSetup", Settings, str, float], Row]


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
        "device": setup.device,
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


# -- the result ----------------------------------------------------------------------


def _ok(row: Mapping[str, Any] | None) -> bool:
    return row is not None and _positive(row.get("imgs_per_s")) and not row.get("error")


def _form(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as the training form holds them (what its "apply" takes)."""
    return {
        "batch_size": str(settings["batch_size"]),
        "workers": str(settings["workers"]),
        "cache": settings["cache"] or "none",
        "amp": bool(settings["amp"]),
    }


@dataclass
class Autotune:
    """The probes of one autotune, as a table, and the fastest settings.

    ``winner``: the fastest row's settings as ``train()`` arguments
    (``yolo_lab.train(data, device=..., **result.winner)``); ``form``: the
    same as the training form's values; ``speedup``: its images/s over the
    defaults'. In a notebook it shows as a table.
    """

    dir: Path
    data: str
    device: str
    imgsz: int
    budget_s: float
    defaults: Settings
    space: dict[str, list[Any]]
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    ended: str = "running"
    started: float = field(default_factory=time.time)
    #: The settings of the probe running now (shown as a pending row).
    probing: Settings | None = None
    _live: LiveDisplay = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._live = LiveDisplay(self._repr_mimebundle_)

    # -- the figures

    @property
    def winner_row(self) -> Row | None:
        measured = [r for r in self.rows if _ok(r)]
        return max(measured, key=lambda r: r["imgs_per_s"]) if measured else None

    @property
    def winner(self) -> Settings | None:
        row = self.winner_row
        return dict(row["settings"]) if row else None

    @property
    def form(self) -> dict[str, Any] | None:
        winner = self.winner
        return _form(winner) if winner else None

    @property
    def imgs_per_s(self) -> float | None:
        row = self.winner_row
        return float(row["imgs_per_s"]) if row else None

    @property
    def defaults_row(self) -> Row | None:
        return next((r for r in self.rows if r["settings"] == self.defaults), None)

    @property
    def defaults_imgs_per_s(self) -> float | None:
        row = self.defaults_row
        return float(row["imgs_per_s"]) if _ok(row) else None  # type: ignore[index]

    @property
    def speedup(self) -> float | None:
        """The winner's images/s over the defaults' (None when the defaults failed)."""
        best, base = self.imgs_per_s, self.defaults_imgs_per_s
        return best / base if best and base else None

    # -- saved and read back

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": 1,
            "kind": "autotune",
            "dir": str(self.dir),
            "data": self.data,
            "device": self.device,
            "imgsz": self.imgsz,
            "budget_s": self.budget_s,
            "defaults": self.defaults,
            "space": self.space,
            "rows": [dict(row) for row in self.rows],
            "probing": self.probing,
            "seconds": self.seconds,
            "ended": self.ended,
            "started": self.started,
            "winner": self.winner,
            "form": self.form,
            "imgs_per_s": self.imgs_per_s,
            "defaults_imgs_per_s": self.defaults_imgs_per_s,
            "speedup": self.speedup,
        }

    def save(self) -> Path:
        path = self.dir / AUTOTUNE_FILE
        write_json(path, self.to_dict())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Autotune:
        """An autotune read back from its folder (or its autotune.json)."""
        import json

        file = Path(path).expanduser()
        file = file / AUTOTUNE_FILE if file.is_dir() else file
        raw = json.loads(file.read_text(encoding="utf-8"))
        names = "data device imgsz budget_s defaults space rows seconds ended started".split()
        return cls(dir=file.parent.resolve(), **{k: raw[k] for k in names if k in raw})

    # -- shown

    def _columns(self) -> list[str]:
        amp = len(self.space.get("amp", [])) > 1 or self.device != "cpu"
        shown = ["#", "batch", "workers", "cache"] + (["amp"] if amp else [])
        return [*shown, "images/s", "vs defaults", "seconds", ""]

    def _cells(self, row: Row) -> list[str]:
        s = row["settings"]
        base = self.defaults_imgs_per_s
        ips = row.get("imgs_per_s") if _ok(row) else None
        marks = []
        if row is self.defaults_row:
            marks.append("defaults")
        if row is self.winner_row:
            marks.append("fastest")
        cells = [str(row["probe"]), str(s["batch_size"]), str(s["workers"]), s["cache"] or "none"]
        if "amp" in self._columns():
            cells.append("on" if s["amp"] else "off")
        return [
            *cells,
            f"{ips:.1f}" if ips else str(row.get("error") or "-"),
            f"{ips / base:.2f}x" if ips and base else "",
            f"{row.get('seconds', 0.0):.0f}",
            ", ".join(marks),
        ]

    def headline(self) -> str:
        """One line: the winner and its speed-up, or why there is none."""
        winner, speedup = self.winner, self.speedup
        if winner is None:
            return "no probe was measured: see the rows' errors"
        settings = ", ".join(f"{k}={winner[k]!r}" for k in KNOBS)
        tail = f", {speedup:.2f}x the defaults" if speedup else ""
        return f"fastest: {settings}: {self.imgs_per_s:.1f} images/s{tail}"

    def _title(self) -> str:
        return (
            f"autotune on {self.device} at imgsz {self.imgsz}: {len(self.rows)} probes in "
            f"{self.seconds:.0f} s (budget {self.budget_s:.0f} s), {self.ended}"
        )

    def __str__(self) -> str:
        table = [self._columns()] + [self._cells(r) for r in self.rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(line, widths)).rstrip() for line in table]
        return "\n".join([self._title(), *lines, self.headline(), f"saved in {self.dir}"])

    def __repr__(self) -> str:
        return f"<yolo_lab.Autotune {self.dir} {self.headline()}>"

    def _pending_cells(self, settings: Settings) -> list[str]:
        cells = [
            str(len(self.rows) + 1),
            str(settings["batch_size"]),
            str(settings["workers"]),
            settings["cache"] or "none",
        ]
        if "amp" in self._columns():
            cells.append("on" if settings["amp"] else "off")
        return [*cells, "probing...", "", "", ""]

    def _repr_html_(self) -> str:
        def row_html(cells: list[str], tag: str = "td", cls: str = "") -> str:
            attr = f" class='{cls}'" if cls else ""
            inner = "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells)
            return f"<tr{attr}>{inner}</tr>"

        head = row_html(self._columns(), "th")
        body = "".join(row_html(self._cells(r)) for r in self.rows)
        if self.probing is not None:
            body += row_html(self._pending_cells(self.probing), cls="yl-Autotune-pending")
        return (
            f"<div class='yl-Autotune'><p>{html.escape(self._title())}</p>"
            f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"
            f"<p><b>{html.escape(self.headline())}</b></p></div>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        # yolo-lab's JupyterLab renders the JSON (a table with "Apply to the
        # form"); anywhere else the HTML table shows.
        return {
            AUTOTUNE_MIME_TYPE: self.to_dict(),
            "text/html": self._repr_html_(),
            "text/plain": str(self),
        }

    def _ipython_display_(self) -> None:
        from IPython.display import display

        # The cell that filled the table in live returns it too: one table.
        if self._live.shown_in_this_cell():
            self._live.show()
            return
        display(self._repr_mimebundle_(), raw=True)

    def show_live(self) -> None:
        """Display the table now, or update it (in IPython only): it fills in probe by probe."""
        self._live.show()


# -- the search ----------------------------------------------------------------------


class _BudgetSpent(Exception):
    """Unwinds the search: the next probe would not end within the budget."""


def _key(settings: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(settings[k] for k in KNOBS)


class _Search:
    """Coordinate descent over the knobs, each point probed once at most."""

    def __init__(
        self,
        result: Autotune,
        setup: ProbeSetup,
        probe: ProbeFunction,
        on_row: Callable[[Row], None] | None,
        min_gain: float,
    ) -> None:
        self.result = result
        self.setup = setup
        self.probe = probe
        self.on_row = on_row
        self.min_gain = min_gain
        self.tried: dict[tuple[Any, ...], Row] = {}
        self.t0 = time.monotonic()

    # -- probing, within the budget and below known out-of-memory batches

    def known_oom(self, settings: Mapping[str, Any]) -> bool:
        """Whether a batch this size (or smaller) ran out of memory with this AMP or with it on."""
        for row in self.tried.values():
            s = row["settings"]
            if _too_big(row) and settings["batch_size"] >= s["batch_size"]:
                if s["amp"] == settings["amp"] or (s["amp"] and not settings["amp"]):
                    return True
        return False

    def _check_budget(self) -> None:
        if not self.tried:
            return  # the defaults are always measured
        elapsed = time.monotonic() - self.t0
        typical = statistics.median(r["seconds"] for r in self.tried.values())
        if elapsed + typical > self.result.budget_s:
            raise _BudgetSpent

    def measure(self, settings: Settings) -> Row | None:
        """The row of ``settings``, probed now or before; None: known to run out of memory."""
        key = _key(settings)
        if key in self.tried:
            return self.tried[key]
        if self.known_oom(settings):
            return None
        self._check_budget()
        number = len(self.tried) + 1
        started = time.monotonic()
        deadline = self.t0 + self.result.budget_s + PROBE_GRACE_S
        self.result.probing = dict(settings)
        self.result.show_live()
        try:
            found = self.probe(self.setup, dict(settings), f"probe-{number}", deadline)
        finally:
            self.result.probing = None
        row = {
            "probe": number,
            "settings": dict(settings),
            "imgs_per_s": None,
            "error": None,
            **found,
            "started_s": round(started - self.t0, 2),
            "seconds": round(time.monotonic() - started, 2),
        }
        self.tried[key] = row
        self.result.rows.append(row)
        self.result.seconds = round(time.monotonic() - self.t0, 2)
        self.result.save()
        self.result.show_live()
        if self.on_row is not None:
            self.on_row(dict(row))
        return row

    def better(self, row: Row | None, than: Row | None) -> bool:
        if not _ok(row):
            return False
        if not _ok(than):
            return True
        return row["imgs_per_s"] > than["imgs_per_s"] * (1 + self.min_gain)  # type: ignore[index]

    # -- the loader's knobs are worth probing only while the loader holds steps up

    def loader_may_gain(self, row: Row | None) -> bool:
        share = (row or {}).get("data_share")
        if not _ok(row) or share is None:
            return True  # unknown: try
        return 1 / max(1 - share, 1e-6) > 1 + self.min_gain

    # -- moves

    def climb(
        self, current: Settings, knob: str, ladder: Sequence[Any], stride: int = 1
    ) -> Settings:
        """Up the ladder while faster (the batch: until out of memory), else down.

        ``stride`` rungs a step. The batch's first climb takes two (four times
        the batch) and then probes the rungs beside the best it reached: on a
        plateau a doubling gains less than a probe's noise, and a climb of
        doublings stopped at the first flat one (measured on this project's
        2-core CPU: batch 128 read 2.6 % faster than 64, under ``min_gain``,
        and ended the climb, while 512 was 13 % faster than 128 side by
        side); four times the batch gains twice as much, and reaches the top
        of a ladder of 1 to 1024 from 16 in three probes, not six. A later
        pass, which only asks whether the other knobs moved the best by a
        rung, climbs one rung a step.

        One rung at a time, one step up that is not faster is looked past
        (``CLIMB_PATIENCE``), for the same reason. Downwards a step that is
        not faster ends it: the way down is only taken when the way up found
        nothing.
        """
        best = self.measure(current)
        # More workers only help a loader that holds the steps up; fewer may
        # still help, leaving the CPUs to the step.
        up = knob != "workers" or self.loader_may_gain(best)
        patience = CLIMB_PATIENCE if stride == 1 else 0
        point = current
        for direction in (1, -1) if up else (-1,):
            misses = 0
            for value in _steps(ladder, current[knob], direction, stride):
                candidate = {**current, knob: value}
                row = self.measure(candidate)
                if row is None or _too_big(row):
                    if direction > 0:
                        break  # larger batches run out of memory too
                    continue  # a smaller one may fit
                if not self.better(row, best):
                    misses += 1
                    if direction < 0 or misses > patience:
                        break
                    continue
                point, best, misses = candidate, row, 0
                if _batch_capped(row, knob):
                    break  # the whole training set is one batch already
            if point is not current:
                break
        if stride > 1:
            # The rungs the strides stepped over, beside the best.
            for value in _beside(ladder, point[knob]):
                if value > point[knob] and best is not None and _batch_capped(best, knob):
                    continue  # a larger batch trains the same whole set a step
                candidate = {**point, knob: value}
                row = self.measure(candidate)
                if row is not None and self.better(row, best):
                    point, best = candidate, row
        return point

    def choose(self, current: Settings, knob: str, values: Sequence[Any]) -> Settings:
        """The fastest of a knob's values (cache, AMP), each probed once."""
        best_point, best = current, self.measure(current)
        for value in values:
            if value == current[knob]:
                continue
            if knob == "cache" and current["cache"] and not value:
                # A cache that fit costs memory, never speed: once chosen it
                # stays, and a later pass does not probe without it.
                continue
            if knob == "cache" and value and self.setup.devices and not self.loader_may_gain(best):
                # The loader keeps up with a GPU: a cache cannot speed its step.
                # On the CPU it is always tried: decoding takes the cores the
                # step computes on, so a cache can speed a step the loader
                # keeps up with (measured: +43 % at batch 32, 2 workers).
                continue
            candidate = {**current, knob: value}
            row = self.measure(candidate)
            if self.better(row, best):
                best_point, best = candidate, row
        return best_point

    def run(self, start: Settings, order: Sequence[str]) -> None:
        space = self.result.space
        current = dict(start)
        try:
            first = self.measure(current)
            if first is not None and first.get("error") and not _too_big(first):
                # Not a question of size: every other probe would fail alike.
                self.result.ended = "the defaults failed; see the row's error"
                return
            for pass_number in range(MAX_PASSES):
                before = _key(current)
                for knob in order:
                    if not set(space[knob]) - {current[knob]}:
                        continue  # nothing else to try
                    if knob in ("batch_size", "workers"):
                        coarse = knob == "batch_size" and pass_number == 0
                        current = self.climb(current, knob, space[knob], 2 if coarse else 1)
                    else:
                        current = self.choose(current, knob, space[knob])
                if _key(current) == before:
                    break
            self.result.ended = "converged"
        except _BudgetSpent:
            self.result.ended = "budget spent"


def _too_big(row: Row) -> bool:
    """Out of memory, or a batch size the checks refuse: larger ones are no better."""
    return bool(row.get("oom") or row.get("refused"))


def _batch_capped(row: Row, knob: str) -> bool:
    """A batch larger than the training set: YOLOv5 trains the whole set a step,
    so a larger one changes nothing."""
    images = row.get("images")
    return knob == "batch_size" and bool(images) and images < row["settings"]["batch_size"]


def _rungs(ladder: Sequence[Any], value: Any) -> tuple[list[Any], int]:
    """The ladder's values in order, ``value`` among them, and its index."""
    ordered = sorted(set(ladder) | {value})
    return ordered, ordered.index(value)


def _steps(ladder: Sequence[Any], value: Any, direction: int, stride: int = 1) -> Iterator[Any]:
    """The ladder's values past ``value`` in ``direction``, nearest first,
    ``stride`` rungs apart; the ladder's end too, when the last stride
    stepped over it (a coarse climb still reaches the largest batch)."""
    ordered, index = _rungs(ladder, value)
    end = len(ordered) - 1 if direction > 0 else 0
    while (end - index) * direction > 0:
        index = index + stride * direction
        if (index - end) * direction > 0:
            index = end
        yield ordered[index]


def _beside(ladder: Sequence[Any], value: Any) -> list[Any]:
    """The ladder's rungs next to ``value``: the one above first."""
    ordered, index = _rungs(ladder, value)
    return [ordered[i] for i in (index + 1, index - 1) if 0 <= i < len(ordered)]


# -- the checks -------------------------------------------------------------------------


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _powers_of_two(low: int, high: int) -> list[int]:
    out, n = [], 1
    while n <= high:
        if n >= low:
            out.append(n)
        n *= 2
    return out


def default_space(gpu: bool, cpus: int | None = None) -> dict[str, list[Any]]:
    """What is searched unless told: powers of two for the batch and the
    workers (up to the CPUs; YOLOv5 uses no more), no cache or RAM, and AMP
    on a GPU (on the CPU YOLOv5 trains in float32: nothing to choose)."""
    cpus = _cpus() if cpus is None else cpus
    return {
        "batch_size": _powers_of_two(1, MAX_BATCH_SIZE),
        "workers": [0, *_powers_of_two(1, max(1, min(cpus, 64)))],
        "cache": [None, "ram"],
        "amp": [True, False] if gpu else [False],
    }


def _seconds(value: Any) -> float | None:
    """``value`` as seconds, or None when it is not a finite number (a bool is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _check_budget(budget_s: Any) -> float:
    seconds = _seconds(budget_s)
    if seconds is None or seconds <= 0:
        raise TrainError(
            "bad_budget",
            f"budget_s={budget_s!r}: the search's time budget is a number of seconds above 0",
            "e.g. budget_s=120 (two minutes; each probe takes about 10 to 30 s)",
            field="budget_s",
        )
    return seconds


def _check_min_gain(min_gain: Any) -> float:
    if (
        isinstance(min_gain, bool)
        or not isinstance(min_gain, (int, float))
        or not 0 <= min_gain < 1
    ):
        raise TrainError(
            "bad_min_gain",
            f"min_gain={min_gain!r}: the share faster a change must be to be kept, from 0 to 1",
            f"e.g. min_gain={MIN_GAIN} (a change 3% faster is kept)",
            field="min_gain",
        )
    return float(min_gain)


def _check_probe_batches(probe_batches: Any, warmup_batches: Any) -> tuple[int, int]:
    ok = (
        all(isinstance(v, int) and not isinstance(v, bool) for v in (probe_batches, warmup_batches))
        and warmup_batches >= 0
        and probe_batches > warmup_batches
    )
    if not ok:
        raise TrainError(
            "bad_probe_batches",
            f"probe_batches={probe_batches!r} with warmup_batches={warmup_batches!r}: a probe "
            "needs more batches than it leaves out as warm-up",
            f"e.g. probe_batches={PROBE_BATCHES}, warmup_batches={WARMUP_BATCHES}",
            field="probe_batches",
        )
    return probe_batches, warmup_batches


def _check_probe_s(probe_s: Any) -> float:
    seconds = _seconds(probe_s)
    if seconds is None or seconds < 0:
        raise TrainError(
            "bad_probe_s",
            f"probe_s={probe_s!r}: the seconds of measured batches that end a probe early, "
            "0 or more",
            f"e.g. probe_s={PROBE_SECONDS} (0: every probe runs all its probe_batches)",
            field="probe_s",
        )
    return seconds


def _check_device(device: Any) -> tuple[str, list[int]]:
    """The one device searched: its name for the spec and its CUDA index ([] = CPU)."""
    devices = check_devices(device)
    if len(devices) > 1:
        raise TrainError(
            "autotune_one_device",
            f"autotune measures one device; {device!r} names {len(devices)} GPUs",
            "autotune on one of them, e.g. device='cuda:0' (the batch it finds is per GPU: "
            f"for DDP on {len(devices)} GPUs, train with {len(devices)} times it)",
            field="device",
        )
    return str(device_param(devices)), devices


def _check_space(
    space: Mapping[str, Sequence[Any]] | None, gpu: bool, devices: list[int]
) -> dict[str, list[Any]]:
    """The values to search, each checked as train() would check it."""
    full = default_space(gpu)
    for knob, values in (space or {}).items():
        if knob not in KNOBS:
            raise TrainError(
                "bad_space",
                f"space names {knob!r}, which autotune does not search",
                f"name only {', '.join(KNOBS)}; set the other train() arguments directly",
                field="space",
            )
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise TrainError(
                "bad_space",
                f"space[{knob!r}] is {values!r}, not a list of values",
                f'e.g. space={{"{knob}": {full[knob][:3]!r}}}',
                field="space",
            )
        full[knob] = list(values)
    return {
        "batch_size": sorted({_check_one_batch(v, devices) for v in full["batch_size"]}),
        "workers": sorted({check_int("workers", v) for v in full["workers"]}),
        "cache": list(dict.fromkeys(check_cache(v) for v in full["cache"])),
        "amp": list(dict.fromkeys(_check_one_amp(v, devices) for v in full["amp"])),
    }


def _check_one_batch(value: Any, devices: list[int]) -> int:
    batch = check_batch_size(value, devices)
    if batch < 1:
        raise TrainError(
            "bad_space",
            'batch_size "auto" is YOLOv5\'s own guess; autotune measures sizes instead',
            "give whole numbers, e.g. [8, 16, 32, 64]",
            field="batch_size",
        )
    return batch


def _check_one_amp(value: Any, devices: list[int]) -> bool:
    amp = check_amp(value, devices)
    # None (automatic) is on for a GPU, off on the CPU: as the run decides.
    return bool(devices) if amp is None else bool(amp)


def _autotune_folder(project: Path) -> Path:
    """``project/autotune-N``, N the first number free (made atomically)."""
    project.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        path = project / f"autotune-{n}"
        try:
            path.mkdir()
        except FileExistsError:
            n += 1
            continue
        return path


# -- the function ------------------------------------------------------------------------


def autotune(
    data: str | os.PathLike[str],
    *,
    device: Any = "cpu",
    budget_s: float = DEFAULT_BUDGET_S,
    model: str | None = "yolov5n.yaml",
    weights: str | None = "",
    imgsz: int = 640,
    batch_size: int = 16,
    workers: int = 2,
    cache: str | None = None,
    amp: bool | None = None,
    space: Mapping[str, Sequence[Any]] | None = None,
    probe_batches: int = PROBE_BATCHES,
    warmup_batches: int = WARMUP_BATCHES,
    probe_s: float = PROBE_SECONDS,
    min_gain: float = MIN_GAIN,
    project: str | os.PathLike[str] = "runs/train",
    yolov5_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    on_row: Callable[[Row], None] | None = None,
    trust_weights: bool = False,
    **yolov5_options: Any,
) -> Autotune:
    """Find this machine's fastest batch size, workers, cache (and AMP on a GPU) by probing.

    Each probe is a real YOLOv5 run of ``probe_batches`` batches through the
    runner (no validation, no weights), or fewer once the batches after
    ``warmup_batches`` took ``probe_s`` seconds (at least 3 of them; 0: no
    such end); its speed is their median images/s. The search starts at
    ``batch_size``, ``workers``, ``cache`` and ``amp`` (train()'s defaults),
    varies one knob at a time, keeps what is faster by more than
    ``min_gain``, takes the batch four times larger until out of memory or
    no faster and then a doubling either side, and ends when nothing helps or
    within ``budget_s`` seconds (a probe is started only if it should end in
    time). ``space`` narrows or widens the values tried, e.g.
    ``{"batch_size": [8, 16, 32], "cache": [None]}``. ``on_row(row)`` is
    called after each probe (a UI fills its table so). ``model``,
    ``weights`` (and ``trust_weights``), ``imgsz`` and other YOLOv5 options
    are as for train() and fixed during the search.

    Returns an :class:`Autotune`; its table is saved in
    ``project/autotune-N/autotune.json``. Train with the winner:
    ``yolo_lab.train(data, device=device, **result.winner)``.
    """
    budget = _check_budget(budget_s)
    min_gain = _check_min_gain(min_gain)
    probe_batches, warmup_batches = _check_probe_batches(probe_batches, warmup_batches)
    probe_s = _check_probe_s(probe_s)
    device_name, devices = _check_device(device)
    gpu = bool(devices)
    imgsz = check_int("imgsz", imgsz)
    checkout = find_yolov5(yolov5_dir)
    data_path = check_data(data)
    cfg, weights_path = check_model(model, weights)
    trust_weights = check_trust_weights(trust_weights)
    options = check_yolov5_options(yolov5_options, checkout)
    searched = _check_space(space, gpu, devices)
    start = {
        "batch_size": _check_one_batch(batch_size, devices),
        "workers": check_int("workers", workers),
        "cache": check_cache(cache),
        "amp": _check_one_amp(amp, devices),
    }
    folder = _autotune_folder(Path(project).expanduser().resolve())
    setup = ProbeSetup(
        data=str(data_path),
        device=device_name,
        devices=tuple(devices),
        model=cfg,
        weights=weights_path,
        imgsz=imgsz,
        folder=folder,
        yolov5_dir=checkout,
        seed=seed,
        options=options,
        probe_batches=probe_batches,
        warmup_batches=warmup_batches,
        probe_s=probe_s,
        trust_weights=trust_weights,
    )
    result = Autotune(
        dir=folder,
        data=str(data_path),
        device=device_name,
        imgsz=imgsz,
        budget_s=budget,
        defaults=start,
        space=searched,
    )
    result.save()
    # On a GPU, AMP first: it changes how large a batch fits. On the CPU,
    # the cache first: decoding takes the cores the step computes on, so it
    # moves every other knob's best value (measured: +43 % at batch 32, 2
    # workers), and the batch and workers are then climbed once with it.
    order = ("amp", "batch_size", "workers", "cache") if gpu else CPU_ORDER
    search = _Search(result, setup, run_probe, on_row, min_gain)
    try:
        search.run(start, order)
    except BaseException:
        result.ended = "interrupted"
        raise
    finally:
        result.seconds = round(time.monotonic() - search.t0, 2)
        result.save()
        result.show_live()
    return result
