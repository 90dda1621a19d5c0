"""``yolo_lab.monitor()``: a live telemetry chart in a notebook output.

The output's data is ``application/vnd.yolo-lab.telemetry+json`` (the
schema's ``definitions/telemetry_display``), which the JupyterLab extension
renders as a chart; a one-line ``text/plain`` fallback shows the latest
values elsewhere.

Live points do not travel in the output: the extension's renderer takes them
from the kernel's telemetry stream (the comm the panel uses, which sends only
new samples), matched by the sampler id. The output itself is rewritten in
place (``update_display``) only every ``SNAPSHOT_PERIOD_S``, on a notice and
on ``stop()``, holding the last ``window_s`` seconds, so the saved notebook
shows a recent window without a kernel and a one-second sampler no longer
re-sends the whole window every second.

It lives in the telemetry package (``yolo_lab.telemetry.monitor``), so
``yolo_lab.monitor`` names the function only, not also a submodule.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any, Callable, Final

from .. import protocol
from .sampler import INTERVAL_MIN_S, Batch, Notice, Sampler, check_interval, get_sampler

__all__ = ["MIME_TYPE", "SNAPSHOT_PERIOD_S", "Monitor", "monitor"]

MIME_TYPE: Final = protocol.TELEMETRY_MIME_TYPE
# How often the output's data (the whole window) is rewritten while live.
SNAPSHOT_PERIOD_S: Final = 30.0
DEFAULT_WINDOW_S: Final = 300.0
# Starting the sampler may mean initialising NVML, which takes seconds on
# some machines (GPUs without persistence mode).
_START_TIMEOUT_S: Final = 15.0
_SHORT_NOTICES: Final = {
    "nvml_lost": "NVML lost: GPU view gone, CPU view shown",
    "sampler_error": "sampling failed, see the chart",
}
_GIB: Final = float(1 << 30)
_MIB: Final = float(1 << 20)


def _check_window(window_s: Any) -> float:
    if (
        isinstance(window_s, bool)
        or not isinstance(window_s, (int, float))
        or not math.isfinite(window_s)
        or window_s < 1
    ):
        raise ValueError(f"window_s must be a number of seconds, at least 1, got {window_s!r}")
    return float(window_s)


def _bytes(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value / _GIB:.1f} GiB" if value >= _GIB else f"{value / _MIB:.0f} MiB"


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}%"


def _used_of(used: float | None, total: float | None) -> str:
    if used is None or total is None:
        return "?"
    return f"{used / _GIB:.1f}/{total / _GIB:.1f} GiB"


def _summary(sample: dict[str, Any]) -> str:
    """The latest values on one line, for text/plain."""
    parts = []
    for gpu in sample["gpus"]:
        memory = _used_of(gpu["mem_used_bytes"], gpu["mem_total_bytes"])
        text = f"GPU{gpu['index']} {_pct(gpu['util_pct'])} {memory}"
        if gpu["temp_c"] is not None:
            text += f" {gpu['temp_c']:.0f}°C"
        if gpu["power_w"] is not None:
            text += f" {gpu['power_w']:.0f} W"
        if gpu["proc_mem_bytes"] is not None:
            text += f" (kernel {_bytes(gpu['proc_mem_bytes'])})"
        parts.append(text)
    parts.append(f"CPU {_pct(sample['cpu_pct'])}")
    parts.append(f"RAM {_used_of(sample['ram_used_bytes'], sample['ram_total_bytes'])}")
    parts.append(
        f"kernel CPU {_pct(sample['proc_cpu_pct'])} RSS {_bytes(sample['proc_rss_bytes'])}"
    )
    return " · ".join(parts)


class Monitor:
    """A live telemetry output; ``stop()`` freezes it.

    Made by ``yolo_lab.monitor()``. ``display`` is IPython's ``display``
    (or a stand-in with its signature for tests): it is called once with
    ``raw=True, display_id=True`` and must return a handle with
    ``update(obj, raw=True)``.
    """

    def __init__(
        self,
        sampler: Sampler,
        window_s: float = DEFAULT_WINDOW_S,
        interval_s: float | None = None,
        *,
        display: Callable[..., Any],
        snapshot_period_s: float = SNAPSHOT_PERIOD_S,
    ) -> None:
        self._snapshot_period_s = snapshot_period_s
        self._window_s = _check_window(window_s)
        self._interval_arg = None if interval_s is None else check_interval(interval_s)
        self._sampler = sampler
        self._display = display
        # Guards the fields below; the sampler thread and the user's thread
        # (stop) both publish.
        self._lock = threading.Lock()
        # The window bounds the data by time; the length bounds memory even
        # if the interval shrinks.
        self._samples: deque[dict[str, Any]] = deque(
            maxlen=math.ceil(self._window_s / INTERVAL_MIN_S) + 1
        )
        self._sampler_id: str | None = None
        self._source: protocol.TelemetrySource = "psutil"
        self._interval = sampler.interval_s
        self._notice: str | None = None
        self._notice_code: str | None = None
        self._handle: Any = None
        self._last_publish = -math.inf
        self._dirty = False
        self._stopping = False
        self._live = False
        self._history_seen = threading.Event()
        self._data: dict[str, Any] | None = None

    # -- public

    @property
    def live(self) -> bool:
        """Whether the output is still being updated."""
        return self._live

    @property
    def window_s(self) -> float:
        return self._window_s

    @property
    def display_id(self) -> str | None:
        return getattr(self._handle, "display_id", None)

    @property
    def data(self) -> dict[str, Any] | None:
        """The telemetry_display data last published."""
        with self._lock:
            return self._data

    def start(self) -> None:
        """Listen to the sampler and display the first state (the window of its history)."""
        self._sampler.add_listener(self._on_event, self._interval_arg)
        if not self._history_seen.wait(_START_TIMEOUT_S):
            self._sampler.remove_listener(self._on_event)
            raise RuntimeError(
                f"the telemetry sampler did not answer within {_START_TIMEOUT_S:g} s"
            )
        with self._lock:
            self._live = True
            # Under the lock: no update may be published before the display.
            bundle = self._bundle()
            self._handle = self._display(bundle, raw=True, display_id=True)
            self._last_publish = time.monotonic()

    def stop(self) -> None:
        """Stop updating; the output keeps its last window with ``live`` false."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        # Outside the lock: this waits for a delivery in flight, which may
        # itself be waiting for the lock.
        self._sampler.remove_listener(self._on_event)
        with self._lock:
            self._live = False
            if self._handle is not None:
                self._handle.update(self._bundle(), raw=True)

    def __repr__(self) -> str:
        state = "live" if self._live else "stopped"
        return (
            f"<yolo_lab.Monitor {state}: last {self._window_s:g} s every "
            f"{self._interval:g} s, display_id {self.display_id}>"
        )

    def _ipython_display_(self) -> None:
        # The chart is already on screen: `yolo_lab.monitor()` as a cell's
        # last expression must not show it (or a repr) a second time.
        return None

    # -- the sampler's side

    def _on_event(self, kind: str, payload: Batch | Notice) -> None:
        with self._lock:
            if self._stopping:
                return
            if isinstance(payload, Batch):
                if payload.sampler_id != self._sampler_id:
                    self._sampler_id = payload.sampler_id
                    self._samples.clear()
                self._source = payload.source
                self._interval = payload.interval_s
                self._samples.extend(payload.samples)
                self._trim()
                self._dirty = True
                if payload.history:
                    self._history_seen.set()
                force = False
            else:
                self._notice = payload.message
                self._notice_code = payload.code
                if payload.code == "nvml_lost":
                    # What follows is the CPU view; say so with the notice
                    # rather than with the next batch.
                    self._source = "psutil"
                self._dirty = True
                force = True
            self._maybe_publish(force)

    def _maybe_publish(self, force: bool) -> None:
        if self._handle is None or not self._dirty:
            return
        now = time.monotonic()
        if not force and now - self._last_publish < self._snapshot_period_s:
            return
        self._handle.update(self._bundle(), raw=True)
        self._last_publish = now

    def _trim(self) -> None:
        if not self._samples:
            return
        oldest = self._samples[-1]["t"] - self._window_s
        while self._samples and self._samples[0]["t"] < oldest:
            self._samples.popleft()

    def _bundle(self) -> dict[str, Any]:
        data = protocol.make_telemetry_display(
            self._sampler_id or "",
            self._source,
            self._interval,
            self._window_s,
            list(self._samples),
            self._live,
            self._notice,
            # Each sample was validated by the sampler when it was taken.
            samples_checked=True,
        )
        self._data = data
        self._dirty = False
        state = "live" if self._live else "stopped"
        head = f"yolo-lab telemetry ({self._source}, {state})"
        line = (
            f"{head}: {_summary(self._samples[-1])}" if self._samples else f"{head}: no samples yet"
        )
        if self._notice_code is not None:
            line += f" [{_SHORT_NOTICES.get(self._notice_code, self._notice_code)}]"
        return {MIME_TYPE: data, "text/plain": line}


def monitor(window_s: float = DEFAULT_WINDOW_S, interval_s: float | None = None) -> Monitor:
    """Show the kernel's GPU/CPU telemetry as a live chart in this cell's output.

    ``window_s`` is how many seconds of history the chart holds (at least
    1); ``interval_s`` (0.1–10 s) sets the sampling interval of the kernel's
    shared sampler, which the panel uses too (the last setting wins). In
    JupyterLab with yolo-lab the chart follows every sample live until
    ``.stop()`` on the returned handle; the output's own data (what a saved
    notebook or another frontend shows) is refreshed every
    ``SNAPSHOT_PERIOD_S`` seconds and once more on ``stop()``.
    """
    from .._comm import running_in_kernel

    handle = Monitor(get_sampler(), window_s, interval_s, display=_ipython_display)
    if not running_in_kernel():
        raise RuntimeError(
            "yolo_lab.monitor() needs a notebook kernel: call it in a Jupyter notebook "
            "cell. In a plain Python process, listen to the sampler instead: "
            "yolo_lab.telemetry.get_sampler().add_listener(callback)."
        )
    handle.start()
    return handle


def _ipython_display(*objs: Any, **kwargs: Any) -> Any:
    from IPython.display import display

    return display(*objs, **kwargs)
