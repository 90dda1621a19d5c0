"""yolo_lab.monitor(), in-process with a recording stand-in for IPython's display."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fabricated_nvml import CALLS_PER_GPU_SAMPLE, FabricatedGpu, FabricatedNvml

import yolo_lab
from yolo_lab import protocol
from yolo_lab.telemetry import Sampler
from yolo_lab.telemetry.monitor import MIME_TYPE, SNAPSHOT_PERIOD_S, Monitor


class RecordingDisplay:
    """Stands in for IPython.display.display with display_id=True and its handle."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, dict[str, Any], dict[str, Any]]] = []
        self.display_id = "d-1"
        self._cond = threading.Condition()

    def _record(self, kind: str, bundle: dict[str, Any], kwargs: dict[str, Any]) -> None:
        with self._cond:
            self.calls.append((kind, time.monotonic(), bundle, kwargs))
            self._cond.notify_all()

    def __call__(self, bundle: dict[str, Any], **kwargs: Any) -> RecordingDisplay:
        self._record("display", bundle, kwargs)
        return self

    def update(self, bundle: dict[str, Any], **kwargs: Any) -> None:
        self._record("update", bundle, kwargs)

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> None:
        with self._cond:
            met = self._cond.wait_for(lambda: predicate(self), timeout)
        assert met, f"not displayed within {timeout} s: {[c[0] for c in self.calls]}"

    @property
    def updates(self) -> list[dict[str, Any]]:
        return [bundle for kind, _, bundle, _ in self.calls if kind == "update"]


FAST_SNAPSHOT_S = 0.5


@pytest.fixture
def monitors() -> Iterator[Any]:
    made: list[Monitor] = []

    def build(sampler: Sampler, **kwargs: Any) -> tuple[Monitor, RecordingDisplay]:
        display = RecordingDisplay()
        # Snapshots every half second keep these tests short; the default
        # period has its own test.
        kwargs.setdefault("snapshot_period_s", FAST_SNAPSHOT_S)
        handle = Monitor(sampler, display=display, **kwargs)
        made.append(handle)
        handle.start()
        return handle, display

    yield build
    for handle in made:
        handle.stop()


def check_bundle(bundle: dict[str, Any]) -> dict[str, Any]:
    assert set(bundle) == {MIME_TYPE, "text/plain"}
    protocol.validate_definition("telemetry_display", bundle[MIME_TYPE])
    text = bundle["text/plain"]
    assert "\n" not in text and text.startswith("yolo-lab telemetry (")
    return bundle[MIME_TYPE]


def test_monitor_displays_updates_and_stops(monitors: Any) -> None:
    sampler = Sampler(nvml=False)
    handle, display = monitors(sampler, window_s=30, interval_s=0.2)
    assert sampler.interval_s == 0.2 and handle.live
    kind, _, first, kwargs = display.calls[0]
    assert kind == "display" and kwargs == {"raw": True, "display_id": True}
    data = check_bundle(first)
    assert data["live"] is True and data["window_s"] == 30 and data["interval_s"] == 0.2
    assert data["source"] == "psutil" and data["sampler_id"] == sampler.sampler_id

    display.wait_for(lambda d: len(d.updates) >= 2 and d.updates[-1][MIME_TYPE]["samples"])
    times = [t for kind, t, _, _ in display.calls]
    assert min(b - a for a, b in zip(times, times[1:])) >= FAST_SNAPSHOT_S - 0.05
    for _, _, bundle, kwargs in display.calls[1:]:
        assert kwargs == {"raw": True}
        assert check_bundle(bundle)["live"] is True
    assert "CPU" in display.updates[-1]["text/plain"]

    handle.stop()
    assert not handle.live and not sampler.running
    final = check_bundle(display.calls[-1][2])
    assert final["live"] is False and "stopped" in display.calls[-1][2]["text/plain"]
    assert final == handle.data
    count = len(display.calls)
    handle.stop()  # idempotent, publishes nothing more
    assert len(display.calls) == count


@pytest.mark.slow
def test_live_samples_do_not_rewrite_the_output_between_snapshots(monitors: Any) -> None:
    """Live points reach JupyterLab through the comm stream, not the output.

    With the default period, a sampler at 10 Hz delivers many batches while
    the output is written once (the display); stop() writes the final window.
    """
    sampler = Sampler(nvml=False, interval_s=0.1)
    seen = threading.Semaphore(0)

    def count(kind: str, payload: Any) -> None:
        if kind == "batch" and not payload.history:
            seen.release()

    sampler.add_listener(count)
    try:
        handle, display = monitors(sampler, window_s=60, snapshot_period_s=SNAPSHOT_PERIOD_S)
        for _ in range(15):
            assert seen.acquire(timeout=15), "the sampler stopped delivering"
        assert [kind for kind, *_ in display.calls] == ["display"]
        handle.stop()
    finally:
        sampler.remove_listener(count)
    assert [kind for kind, *_ in display.calls] == ["display", "update"]
    final = check_bundle(display.calls[-1][2])
    assert final["live"] is False and len(final["samples"]) >= 15


def test_monitor_keeps_only_the_window(monitors: Any) -> None:
    sampler = Sampler(nvml=False, interval_s=0.1)
    handle, display = monitors(sampler, window_s=1, snapshot_period_s=1.0)
    display.wait_for(lambda d: len(d.updates) >= 2)
    handle.stop()
    first_seen = min(s["t"] for u in display.updates for s in u[MIME_TYPE]["samples"])
    samples = display.calls[-1][2][MIME_TYPE]["samples"]
    # About 2 s were sampled; the final state holds the last second only.
    assert samples[0]["t"] > first_seen
    assert 5 <= len(samples) <= 11
    assert samples[-1]["t"] - samples[0]["t"] <= 1.0


def test_two_monitors_are_independent(monitors: Any) -> None:
    sampler = Sampler(nvml=False, interval_s=0.1)
    first, first_display = monitors(sampler, window_s=10)
    second, second_display = monitors(sampler, window_s=10)
    assert sampler.listener_count == 2
    first.stop()
    assert sampler.running
    count = len(first_display.calls)
    second_display.wait_for(lambda d: len(d.updates) >= 2)
    assert len(first_display.calls) == count
    second.stop()
    assert not sampler.running


def test_monitor_carries_the_nvml_lost_notice_fabricated(monitors: Any) -> None:
    nvml = FabricatedNvml([FabricatedGpu("GPU-aa")], fail_after=2 * CALLS_PER_GPU_SAMPLE)
    sampler = Sampler(nvml=nvml, environ={}, interval_s=0.1)
    handle, display = monitors(sampler, window_s=10)
    assert check_bundle(display.calls[0][2])["source"] == "nvml"
    display.wait_for(lambda d: "GPU0" in d.calls[-1][2]["text/plain"])
    assert "GPU0 50% 10.0/80.0 GiB 60°C 250 W" in display.calls[-1][2]["text/plain"]
    display.wait_for(lambda d: bool(d.updates) and d.updates[-1][MIME_TYPE]["notice"])
    data = check_bundle(display.updates[-1])
    assert data["source"] == "psutil"
    assert "GPU view is gone" in data["notice"]
    assert "NVML lost" in display.updates[-1]["text/plain"]
    handle.stop()
    final = check_bundle(display.calls[-1][2])
    assert final["notice"] == data["notice"] and final["live"] is False


def test_monitor_does_not_display_itself_again() -> None:
    handle = Monitor(Sampler(nvml=False), display=RecordingDisplay())
    assert handle._ipython_display_() is None
    assert not hasattr(handle, "_repr_mimebundle_") and not hasattr(handle, "_repr_html_")
    assert repr(handle).startswith("<yolo_lab.Monitor stopped")


def test_monitor_arguments_are_checked() -> None:
    sampler = Sampler(nvml=False)
    with pytest.raises(ValueError, match="window_s"):
        Monitor(sampler, window_s=0.5, display=RecordingDisplay())
    with pytest.raises(ValueError, match=r"0\.1 to 10"):
        Monitor(sampler, interval_s=11, display=RecordingDisplay())
    assert not sampler.running


def test_monitor_outside_a_kernel_says_so() -> None:
    with pytest.raises(RuntimeError, match="needs a notebook kernel"):
        yolo_lab.monitor()
    with pytest.raises(ValueError, match="window_s"):
        yolo_lab.monitor(window_s=0)
