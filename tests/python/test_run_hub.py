"""The live hub that tails run folders, and the history it sends.

Real folders and files, the hub's real thread; the events are written here
as the runner writes them (the training tests run the runner itself).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Callable

import pytest
from waiting import wait_until

from yolo_lab import protocol, training
from yolo_lab.training import hub as hub_module
from yolo_lab.training.events import HISTORY_MAX_TELEMETRY_EVENTS, read_events
from yolo_lab.training.rundir import EVENTS_FILE


def _run_dir(root: Path, name: str, lines: list[Any]) -> Path:
    run_dir = root / name
    run_dir.mkdir(parents=True)
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    (run_dir / EVENTS_FILE).write_text(text)
    return run_dir


def _hub_threads(hub: training.hub.RunHub) -> list[threading.Thread]:
    """The threads of ``hub`` (other tests' hubs may still be ending)."""
    return [t for t in threading.enumerate() if t.name == f"yolo-lab-run-hub-{id(hub):x}"]


def test_a_second_subscribe_gets_the_history_again_but_one_live_feed(tmp_path: Path) -> None:
    # Two views of one run in a browser share one comm: each subscribe is
    # answered with the history, and every new event still arrives once.
    run_dir = tmp_path / "exp"
    run_dir.mkdir()
    events = run_dir / EVENTS_FILE
    events.write_text(json.dumps({"t": 1.0, "kind": "status", "status": "running"}) + "\n")
    received: list[dict[str, Any]] = []
    hub = training.hub.RunHub()
    hub.subscribe(run_dir, received.append)
    wait_until(
        lambda: [m for m in received if m["history"]], 10, "the first history", interval=0.05
    )
    hub.subscribe(run_dir, received.append)
    wait_until(
        lambda: len([m for m in received if m["history"]]) == 2,
        10,
        "a second history",
        interval=0.05,
    )
    with open(events, "a") as f:
        f.write(json.dumps({"t": 2.0, "kind": "status", "status": "running", "n": 1}) + "\n")

    def live() -> list[dict[str, Any]]:
        return [e for m in received if not m["history"] for e in m["events"] if e.get("n") == 1]

    wait_until(live, 10, "the new event", interval=0.05)
    # A later event has arrived: any duplicate of the first would be here too.
    with open(events, "a") as f:
        f.write(json.dumps({"t": 3.0, "kind": "status", "status": "running", "n": 2}) + "\n")
    wait_until(
        lambda: [e for m in received for e in m["events"] if e.get("n") == 2],
        10,
        "a later event",
        interval=0.05,
    )
    assert len(live()) == 1
    hub.unsubscribe(run_dir, received.append)


def test_one_thread_ticks_every_watched_run_and_ends_with_the_last(tmp_path: Path) -> None:
    hub = training.hub.RunHub()
    received: list[dict[str, Any]] = []
    folders = [
        _run_dir(tmp_path, f"exp{i}", [{"t": 1.0, "kind": "status", "status": "running"}])
        for i in range(6)
    ]
    for folder in folders:
        hub.subscribe(folder, received.append)
    wait_until(
        lambda: len([m for m in received if m["history"]]) == 6, 10, "six histories", interval=0.05
    )
    assert hub.watched == 6
    assert len(_hub_threads(hub)) == 1, "one thread for all the folders"
    for folder in folders:
        hub.unsubscribe(folder, received.append)
    wait_until(lambda: not _hub_threads(hub), 10, "the hub's thread to end", interval=0.05)
    assert hub.watched == 0


def test_the_hub_watches_a_bounded_number_of_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "MAX_WATCHED", 2)
    hub = training.hub.RunHub()
    listener: Callable[[dict[str, Any]], None] = lambda message: None  # noqa: E731
    a, b, c = (_run_dir(tmp_path, n, []) for n in "abc")
    hub.subscribe(a, listener)
    hub.subscribe(b, listener)
    with pytest.raises(training.TrainError) as err:
        hub.subscribe(c, listener)
    assert err.value.code == "too_many_runs" and "close some run views" in err.value.fix
    hub.subscribe(a, listener)  # one already watched is no new folder
    hub.unsubscribe(None, listener)


def test_one_bad_line_costs_one_event_not_the_history(tmp_path: Path) -> None:
    run_dir = _run_dir(
        tmp_path,
        "exp",
        [
            {"t": 1.0, "kind": "status", "status": "running"},
            {"t": 2.0, "kind": "batch", "epoch": "zero"},  # valid JSON, not the protocol
            "{not json at all",
            {"t": 3.0, "kind": "telemetry_source", "source": "psutil"},
        ],
    )
    events = read_events(run_dir)
    message = protocol.make_run_events(str(run_dir), True, {"status": "running"}, events)
    kinds = [e["kind"] for e in message["events"]]
    assert kinds == ["status", "telemetry_source", "notice"]
    assert "1 event(s)" in message["events"][-1]["message"]
    protocol.validate(message)


def test_a_day_of_telemetry_is_thinned_in_the_history(tmp_path: Path) -> None:
    sample = {"t": 0.0, "cpu_percent": 50.0}
    lines = [
        {"t": float(i), "kind": "telemetry", "sample": {**sample, "t": float(i)}}
        for i in range(9000)
    ]
    run_dir = _run_dir(tmp_path, "long", lines)
    events = read_events(run_dir)
    assert len(events) == HISTORY_MAX_TELEMETRY_EVENTS
    assert events[0]["t"] == 0.0 and events[-1]["t"] == 8999.0  # the first and the latest kept
