"""The search of an autotune: coordinate descent over the knobs, within a budget.

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
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

from .probe import KNOBS, ProbeSetup, Row, Settings
from .result import Autotune, _ok

# Passes over the knobs, at most: a pass after the first re-checks the batch
# for the loader or AMP the one before chose.
MAX_PASSES: Final = 3
# Steps up a climb of one rung at a time looks past that were not faster
# (the workers; the batch's first climb takes two rungs a step instead).
CLIMB_PATIENCE: Final = 1
# A running probe is stopped this long after the budget's end (its start
# alone can take that: Python, torch and YOLOv5 import in each probe).
PROBE_GRACE_S: Final = 30.0

ProbeFunction = Callable[[ProbeSetup, Settings, str, float], Row]


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
