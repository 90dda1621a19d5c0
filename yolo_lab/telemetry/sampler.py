"""Live telemetry of the kernel: GPUs through NVML, CPU and RAM through psutil.

One ``Sampler`` per kernel process (``get_sampler()``) samples on a daemon
thread while anybody listens: the JupyterLab panel (through the comm, see
``_comm``) and ``yolo_lab.monitor()`` outputs. It keeps the last
``history_s`` seconds in a ring buffer, so a listener that joins late gets
them at once, and delivers samples in batches so that at most two messages a
second leave the kernel per listener whatever the sampling rate.

Every listener call happens on the sampler thread, in order: first the
listener's history batch (and the notices of the current run), then live
batches and notices. A listener must not block for long and must not mutate
the samples it gets (they are shared between listeners and the buffer, and
were validated against the schema once, when taken).

Samples follow the protocol schema's ``definitions/telemetry_sample``: plain
Python ints and floats, ``t`` in epoch seconds (``time.time()``), GPU indices
as the kernel sees them (``cuda:N`` after CUDA_VISIBLE_DEVICES).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Final, Literal, Union

from .. import protocol
from .probe import Probe, _failure

__all__ = [
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
]

INTERVAL_MIN_S: Final = 0.1
INTERVAL_MAX_S: Final = 10.0
DEFAULT_INTERVAL_S: Final = 1.0
DEFAULT_HISTORY_S: Final = 600.0
# Batches leave at most this often (or once per sample when sampling is
# slower), so 10 Hz sampling costs the frontend two messages a second.
MIN_BATCH_PERIOD_S: Final = 0.5
# The first sample after a start comes this soon (or after one interval when
# shorter): CPU percentages need some time between two readings to mean
# anything, but a 10 s interval should not leave a panel empty for 10 s.
_FIRST_SAMPLE_DELAY_S: Final = 0.5
_JOIN_TIMEOUT_S: Final = 5.0
Source = Literal["nvml", "psutil"]

_log = logging.getLogger(__name__)
# Warnings must not reach the user's cells through logging's last resort.
_log.addHandler(logging.NullHandler())


def check_interval(interval_s: Any) -> float:
    """``interval_s`` as a float, or ValueError unless it is 0.1–10 seconds."""
    if (
        isinstance(interval_s, bool)
        or not isinstance(interval_s, (int, float))
        or not math.isfinite(interval_s)
        or not INTERVAL_MIN_S <= interval_s <= INTERVAL_MAX_S
    ):
        raise ValueError(
            f"interval_s must be a number of seconds from {INTERVAL_MIN_S} to "
            f"{INTERVAL_MAX_S:g} (0.1–10 s), got {interval_s!r}"
        )
    return float(interval_s)


def _ratio_ceil(numerator: float, denominator: float) -> int:
    # Rounded first so that 600 / 0.1 = 6000.000000000001 counts as 6000.
    return max(1, math.ceil(round(numerator / denominator, 6)))


@dataclass(frozen=True)
class Batch:
    """Samples delivered together; ``history`` for the replay a listener gets first."""

    sampler_id: str
    source: Source
    interval_s: float
    samples: list[dict[str, Any]]
    history: bool


@dataclass(frozen=True)
class Notice:
    """Something the user should see, e.g. NVML lost mid-run."""

    sampler_id: str
    level: protocol.NoticeLevel
    code: protocol.NoticeCode
    message: str


# Called as listener("batch", Batch) or listener("notice", Notice).
Listener = Callable[[str, Union[Batch, Notice]], None]


# ------------------------------------------------------------------- sampler


@dataclass(eq=False)
class _Entry:
    listener: Listener
    needs_history: bool = True
    # Sequence number of the newest sample this listener has received.
    seen_seq: int = 0
    removed: bool = False


@dataclass(eq=False)
class _Run:
    """One start-to-stop of the sampler thread."""

    sampler_id: str
    source: Source | None = None
    stopping: bool = False
    thread: threading.Thread | None = None
    seq: int = 0
    pending: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    # Monotonic time the last sample was due; the next one is due one
    # interval later, read at each wait so interval changes apply at once.
    last_due: float = 0.0


class _SamplerThread(threading.Thread):
    """Marks the sampler threads, which must never wait for themselves."""


class Sampler:
    """Samples telemetry on a daemon thread while at least one listener listens.

    The thread starts with the first listener and stops (NVML shut down)
    when the last one leaves; every start gets a new ``sampler_id``, which
    tells the frontend to draw a gap. ``nvml``, ``environ`` and ``pid`` are
    passed to ``Probe``.
    """

    def __init__(
        self,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        history_s: float = DEFAULT_HISTORY_S,
        nvml: Any = None,
        environ: Mapping[str, str] | None = None,
        pid: int | None = None,
    ) -> None:
        if (
            isinstance(history_s, bool)
            or not isinstance(history_s, (int, float))
            or not math.isfinite(history_s)
            or history_s <= 0
        ):
            raise ValueError(f"history_s must be a positive number of seconds, got {history_s!r}")
        self._interval = check_interval(interval_s)
        self._history_s = float(history_s)
        self._probe_args: dict[str, Any] = {"nvml": nvml, "environ": environ, "pid": pid}
        # Guards every field below; never held while calling a listener.
        self._cond = threading.Condition()
        self._entries: list[_Entry] = []
        self._buffer: deque[dict[str, Any]] = deque(maxlen=self._maxlen(self._interval))
        self._run: _Run | None = None
        # Held by the sampler thread while it calls listeners, so that
        # remove_listener can wait until its listener is not being called.
        # Order: _deliver_lock may be taken before _cond, never after.
        self._deliver_lock = threading.Lock()

    # -- state

    @property
    def interval_s(self) -> float:
        return self._interval

    @property
    def history_s(self) -> float:
        return self._history_s

    @property
    def maxlen(self) -> int:
        """How many samples the ring buffer keeps: ceil(history_s / interval_s)."""
        with self._cond:
            return self._buffer.maxlen or 0

    @property
    def running(self) -> bool:
        with self._cond:
            return self._run is not None

    @property
    def sampler_id(self) -> str | None:
        """The current run's id, None while stopped."""
        with self._cond:
            return self._run.sampler_id if self._run is not None else None

    @property
    def source(self) -> Source | None:
        """The current source ("nvml" or "psutil"); None until the probe is open."""
        with self._cond:
            return self._run.source if self._run is not None else None

    @property
    def listener_count(self) -> int:
        with self._cond:
            return len(self._entries)

    def history(self) -> list[dict[str, Any]]:
        """The samples in the ring buffer, oldest first."""
        with self._cond:
            return list(self._buffer)

    def _maxlen(self, interval_s: float) -> int:
        return _ratio_ceil(self._history_s, interval_s)

    # -- configuration

    def set_interval(self, interval_s: float) -> None:
        """Sample every ``interval_s`` seconds (0.1–10); the last caller wins."""
        interval = check_interval(interval_s)
        with self._cond:
            self._set_interval_locked(interval)

    def _set_interval_locked(self, interval: float) -> None:
        if interval == self._interval:
            return
        self._interval = interval
        # A deque built from a longer one keeps its newest items.
        self._buffer = deque(self._buffer, maxlen=self._maxlen(interval))
        self._cond.notify_all()

    # -- listeners

    def add_listener(self, listener: Listener, interval_s: float | None = None) -> None:
        """Start delivering to ``listener``; starts the sampler if it is stopped.

        The listener first gets the ring buffer as a batch with
        ``history=True`` (maybe empty) and the notices of this run, then live
        batches and notices, all from the sampler thread. Adding a listener
        that is already registered replays its history again. A given
        ``interval_s`` is validated first (ValueError) and then applies to
        the whole sampler.
        """
        interval = None if interval_s is None else check_interval(interval_s)
        with self._cond:
            if interval is not None:
                self._set_interval_locked(interval)
            entry = self._find(listener)
            if entry is None:
                self._entries.append(_Entry(listener))
            else:
                entry.needs_history = True
            if self._run is None:
                self._start_locked()
            self._cond.notify_all()

    def remove_listener(self, listener: Listener) -> bool:
        """Stop delivering to ``listener``; False if it was not registered.

        Once this returns (called from any thread but the sampler's), the
        listener is not called again. Removing the last listener stops the
        thread and waits for it to end.
        """
        stopped: _Run | None = None
        with self._cond:
            entry = self._find(listener)
            if entry is None:
                return False
            self._entries.remove(entry)
            entry.removed = True
            if not self._entries and self._run is not None:
                stopped, self._run = self._run, None
                stopped.stopping = True
                self._cond.notify_all()
        if not isinstance(threading.current_thread(), _SamplerThread):
            # Wait out a delivery in flight, so the caller can rely on
            # silence (a monitor publishes its final state right after).
            with self._deliver_lock:
                pass
            if stopped is not None and stopped.thread is not None:
                stopped.thread.join(_JOIN_TIMEOUT_S)
        return True

    def _find(self, listener: Listener) -> _Entry | None:
        # Equality, not identity: bound methods are new objects on each access.
        for entry in self._entries:
            if entry.listener == listener:
                return entry
        return None

    # -- the thread

    def _start_locked(self) -> None:
        run = _Run(sampler_id=uuid.uuid4().hex)
        # Samples of an earlier run would carry the wrong sampler_id.
        self._buffer.clear()
        thread = _SamplerThread(
            target=self._thread_main, args=(run,), name="yolo-lab-telemetry", daemon=True
        )
        run.thread = thread
        self._run = run
        thread.start()

    def _thread_main(self, run: _Run) -> None:
        probe = Probe(**self._probe_args)
        try:
            try:
                probe.open()
            except Exception as exc:
                # Listeners get this with their history; sample() keeps
                # failing and the loop keeps the thread alive for them.
                self._notice(run, "error", "sampler_error", _failure("opening", exc), once=True)
            with self._cond:
                run.source = probe.source
                run.last_due = (
                    time.monotonic() - self._interval + min(self._interval, _FIRST_SAMPLE_DELAY_S)
                )
            while self._step(run, probe):
                pass
        except BaseException:
            # Nothing may reach the kernel from here; the loop already turns
            # its own failures into notices, so this is a last resort.
            _log.debug("the telemetry thread failed", exc_info=True)
        finally:
            probe.close()

    def _step(self, run: _Run, probe: Probe) -> bool:
        """Wait for the next thing to do and do it; False once the run stops."""
        with self._cond:
            while True:
                if run.stopping:
                    return False
                if any(e.needs_history for e in self._entries):
                    due = None
                    break
                due = run.last_due + self._interval
                delay = due - time.monotonic()
                if delay <= 0:
                    # Fallen more than an interval behind (a stalled machine):
                    # skip the missed samples rather than burst.
                    now = time.monotonic()
                    run.last_due = now if now - due > self._interval else due
                    break
                self._cond.wait(delay)
        try:
            if due is None:
                self._deliver_histories(run)
            else:
                self._sample(run, probe)
        except Exception as exc:
            self._notice(run, "error", "sampler_error", _failure("sampling", exc), once=True)
        return True

    def _sample(self, run: _Run, probe: Probe) -> None:
        sample = protocol.check_telemetry_sample(probe.sample())
        lost = probe.take_lost()
        if lost is not None:
            # The samples taken so far are NVML ones: send them under that
            # source before the notice, and the psutil ones after.
            self._flush(run)
            with self._cond:
                run.source = probe.source
            self._notice(run, "warning", "nvml_lost", lost)
        with self._cond:
            if run.stopping:
                return
            run.seq += 1
            self._buffer.append(sample)
            run.pending.append((run.seq, sample))
            full = len(run.pending) >= _ratio_ceil(MIN_BATCH_PERIOD_S, self._interval)
        if full:
            self._flush(run)

    def _flush(self, run: _Run) -> None:
        """Deliver the pending samples to the listeners that have had their history."""
        with self._cond:
            if run.stopping:
                return
            pending, run.pending = run.pending, []
            entries = [e for e in self._entries if not e.needs_history]
            source = run.source or "psutil"
            interval = self._interval
        if not pending:
            return
        newest = pending[-1][0]
        for entry in entries:
            samples = [sample for seq, sample in pending if seq > entry.seen_seq]
            entry.seen_seq = max(entry.seen_seq, newest)
            if samples:
                self._call(entry, "batch", Batch(run.sampler_id, source, interval, samples, False))

    def _deliver_histories(self, run: _Run) -> None:
        with self._cond:
            if run.stopping:
                return
            due = [e for e in self._entries if e.needs_history]
            for entry in due:
                entry.needs_history = False
                entry.seen_seq = run.seq
            history = list(self._buffer)
            notices = list(run.notices)
            source = run.source or "psutil"
            interval = self._interval
        for entry in due:
            self._call(entry, "batch", Batch(run.sampler_id, source, interval, history, True))
            for notice in notices:
                self._call(entry, "notice", notice)

    def _notice(
        self,
        run: _Run,
        level: protocol.NoticeLevel,
        code: protocol.NoticeCode,
        message: str,
        once: bool = False,
    ) -> None:
        notice = Notice(run.sampler_id, level, code, message)
        with self._cond:
            if run.stopping:
                return
            if once and any(n.code == code for n in run.notices):
                _log.debug("telemetry %s again: %s", code, message)
                return
            run.notices.append(notice)
            # Listeners still waiting for their history get it with that.
            entries = [e for e in self._entries if not e.needs_history]
        for entry in entries:
            self._call(entry, "notice", notice)

    def _call(self, entry: _Entry, kind: str, payload: Batch | Notice) -> None:
        with self._deliver_lock:
            if entry.removed:
                return
            try:
                entry.listener(kind, payload)
            except Exception:
                # One broken listener must not starve the others.
                _log.debug("a telemetry listener failed", exc_info=True)


# ----------------------------------------------------------------- singleton

# One sampler per kernel process, shared by the panel's comm and every
# monitor() output: they then show the same history, and a single thread
# polls NVML however many views are open. Module state is the natural owner
# because the kernel process is the unit being measured; a forked child
# (a DataLoader worker) starts without the parent's thread, so it forgets the
# parent's instance.
_sampler: Sampler | None = None
_sampler_lock = threading.Lock()


def get_sampler() -> Sampler:
    """The sampler of this kernel process, created on first use (stopped)."""
    global _sampler
    with _sampler_lock:
        if _sampler is None:
            _sampler = Sampler()
        return _sampler


def _forget_after_fork() -> None:
    global _sampler, _sampler_lock
    _sampler = None
    _sampler_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
