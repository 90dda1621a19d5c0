"""The comm handler, driven in-process through a recording Comm double."""

from __future__ import annotations

import threading
from typing import Any, Callable

import comm.base_comm
import pytest

from yolo_lab import __version__, protocol
from yolo_lab._comm import (
    TARGET_NAME,
    CommSession,
    handle_comm_open,
    register_comm_target,
    running_in_kernel,
)
from yolo_lab.environment.report import collect
from yolo_lab.telemetry import Sampler

FRONTEND_HELLO = {"v": 1, "type": "hello", "side": "frontend", "version": "0.1.0"}


class RecordingComm:
    """Stands in for the frontend's end of the comm: records what the kernel sends.

    It implements only what the handler uses (``send``, ``on_msg``,
    ``on_close``); ``deliver`` plays a comm_msg arriving from the frontend and
    ``close`` a comm_close. The telemetry sends from the sampler's thread;
    ``wait_for`` waits for what it sends.
    """

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self._callback: Callable[[dict[str, Any]], None] | None = None
        self._close_callback: Callable[[dict[str, Any]], None] | None = None
        self._cond = threading.Condition()

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        with self._cond:
            self.sent.append(data)
            self._cond.notify_all()

    def on_msg(self, callback: Callable[[dict[str, Any]], None] | None) -> None:
        self._callback = callback

    def on_close(self, callback: Callable[[dict[str, Any]], None] | None) -> None:
        self._close_callback = callback

    def close(self) -> None:
        assert self._close_callback is not None, "the handler did not watch for close"
        self._close_callback({"content": {"comm_id": "c1", "data": {}}})

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = 15.0) -> None:
        with self._cond:
            met = self._cond.wait_for(lambda: predicate(list(self.sent)), timeout)
        assert met, f"not sent within {timeout} s: {[m.get('type') for m in self.sent]}"

    def deliver(self, data: Any) -> list[Any]:
        """Deliver one message; returns what the kernel sent in reply."""
        assert self._callback is not None, "the handler did not subscribe to messages"
        before = len(self.sent)
        self._callback({"content": {"comm_id": "c1", "data": data}})
        return self.sent[before:]


def open_comm(
    data: Any = FRONTEND_HELLO, collect_report: Callable[[int], dict[str, Any]] | None = None
) -> RecordingComm:
    double = RecordingComm()
    if collect_report is None:
        handle_comm_open(
            double, {"content": {"comm_id": "c1", "target_name": TARGET_NAME, "data": data}}
        )
    else:
        CommSession(double, collect_report).open({"content": {"data": data}})
    return double


@pytest.fixture
def validate_all(schema_validator: Any) -> Callable[[list[Any]], None]:
    def check(messages: list[Any]) -> None:
        for message in messages:
            schema_validator.validate(message)

    return check


def test_open_sends_kernel_hello(validate_all: Callable[[list[Any]], None]) -> None:
    double = open_comm()
    assert double.sent == [{"v": 1, "type": "hello", "side": "kernel", "version": __version__}]
    validate_all(double.sent)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({**FRONTEND_HELLO, "v": 2}, "unsupported_version"),
        (None, "bad_message"),
        ({**FRONTEND_HELLO, "side": "kernel"}, "bad_message"),
        ({"v": 1, "type": "doctor_request", "id": "x"}, "bad_message"),
    ],
)
def test_open_with_a_bad_hello_answers_hello_then_error(
    data: Any, code: str, validate_all: Callable[[list[Any]], None]
) -> None:
    double = open_comm(data)
    validate_all(double.sent)
    assert [m["type"] for m in double.sent] == ["hello", "error"]
    assert double.sent[1]["code"] == code


def test_doctor_request_gets_a_real_report(validate_all: Callable[[list[Any]], None]) -> None:
    double = open_comm()
    replies = double.deliver({"v": 1, "type": "doctor_request", "id": "req-1", "workers": 0})
    validate_all(replies)
    assert len(replies) == 1
    assert replies[0]["type"] == "doctor_report"
    assert replies[0]["id"] == "req-1"
    assert replies[0]["report"]["workers"] == 0


def test_doctor_request_default_workers(validate_all: Callable[[list[Any]], None]) -> None:
    seen: list[int] = []

    def fake_collect(workers: int) -> dict[str, Any]:
        seen.append(workers)
        return collect(workers)

    double = open_comm(collect_report=fake_collect)
    validate_all(double.deliver({"v": 1, "type": "doctor_request", "id": "r"}))
    assert seen == [8]


@pytest.mark.parametrize(
    ("data", "code", "request_id"),
    [
        ("not an object", "bad_message", None),
        ([], "bad_message", None),
        ({"v": 1, "id": "r2"}, "bad_message", "r2"),
        ({"v": 2, "type": "doctor_request", "id": "r3"}, "unsupported_version", "r3"),
        ({"v": 1, "type": "make_coffee", "id": "r4"}, "unknown_type", "r4"),
        ({"v": 1, "type": "doctor_request", "id": "r5", "gpu": 0}, "bad_message", "r5"),
        ({"v": 1, "type": "doctor_request", "id": "r6", "workers": 4096}, "bad_message", "r6"),
        ({"v": 1, "type": "doctor_report", "id": "r7", "report": {}}, "bad_message", "r7"),
    ],
)
def test_malformed_messages_get_errors(
    data: Any, code: str, request_id: str | None, validate_all: Callable[[list[Any]], None]
) -> None:
    double = open_comm(collect_report=lambda _workers: pytest.fail("no report for a bad request"))
    replies = double.deliver(data)
    validate_all(replies)
    assert len(replies) == 1
    assert replies[0]["type"] == "error"
    assert replies[0]["code"] == code
    assert replies[0].get("id") == request_id


def test_failing_collector_gives_internal_error_with_id(
    validate_all: Callable[[list[Any]], None],
) -> None:
    def broken(_workers: int) -> dict[str, Any]:
        raise RuntimeError("probe exploded")

    double = open_comm(collect_report=broken)
    replies = double.deliver({"v": 1, "type": "doctor_request", "id": "r8"})
    validate_all(replies)
    assert replies == [
        {
            "v": 1,
            "type": "error",
            "id": "r8",
            "code": "internal",
            "message": "RuntimeError: probe exploded",
        }
    ]


def test_schema_breaking_report_is_not_sent(validate_all: Callable[[list[Any]], None]) -> None:
    double = open_comm(collect_report=lambda _workers: {"not": "a report"})
    replies = double.deliver({"v": 1, "type": "doctor_request", "id": "r9"})
    validate_all(replies)
    assert replies[0]["code"] == "internal" and replies[0]["id"] == "r9"


def test_frontend_error_and_repeated_hello(validate_all: Callable[[list[Any]], None]) -> None:
    double = open_comm()
    assert double.deliver({"v": 1, "type": "error", "code": "bad_message", "message": "huh"}) == []
    again = double.deliver(FRONTEND_HELLO)
    validate_all(again)
    assert [m["type"] for m in again] == ["hello"]


def test_send_failure_does_not_escape() -> None:
    class BrokenComm(RecordingComm):
        def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
            raise OSError("socket closed")

    double = BrokenComm()
    handle_comm_open(double, {"content": {"data": FRONTEND_HELLO}})
    double.deliver({"v": 1, "type": "doctor_request", "id": "r"})  # must not raise


def test_register_comm_target_is_idempotent() -> None:
    manager = comm.base_comm.CommManager()
    assert register_comm_target(manager) is True
    assert register_comm_target(manager) is False
    assert manager.targets[TARGET_NAME] is handle_comm_open


def test_not_running_in_a_kernel_under_pytest() -> None:
    assert running_in_kernel() is False


def test_unreadable_schema_does_not_escape(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even with no valid message to send, the handler stays quiet."""

    def missing() -> dict[str, Any]:
        raise FileNotFoundError("schema gone")

    monkeypatch.setattr(protocol, "_first_error", lambda *_args: missing())
    double = open_comm()
    double.deliver({"v": 1, "type": "doctor_request", "id": "r"})
    assert double.sent == []


# ---------------------------------------------------------------- telemetry


def telemetry_batches(sent: list[Any], history: bool | None = None) -> list[Any]:
    return [
        m
        for m in sent
        if m.get("type") == "telemetry_batch" and (history is None or m["history"] is history)
    ]


def open_telemetry_comm() -> tuple[RecordingComm, Sampler]:
    sampler = Sampler(nvml=False)
    double = RecordingComm()
    CommSession(double, collect, sampler).open({"content": {"data": FRONTEND_HELLO}})
    return double, sampler


def test_telemetry_subscribe_sends_history_then_live_batches(
    validate_all: Callable[[list[Any]], None],
) -> None:
    double, sampler = open_telemetry_comm()
    replies = double.deliver({"v": 1, "type": "telemetry_subscribe", "id": "s1", "interval_s": 0.1})
    assert [m for m in replies if m["type"] == "error"] == []
    assert sampler.running and sampler.interval_s == 0.1
    double.wait_for(lambda sent: len(telemetry_batches(sent, history=False)) >= 2)
    double.deliver({"v": 1, "type": "telemetry_unsubscribe", "id": "s1"})
    assert not sampler.running

    sent = list(double.sent)
    validate_all(sent)
    batches = telemetry_batches(sent)
    assert sent[0]["type"] == "hello"
    assert batches[0] == sent[1] and batches[0]["history"] is True
    assert all(not b["history"] for b in batches[1:])
    assert {b["sampler_id"] for b in batches} == {batches[0]["sampler_id"]}
    assert all(b["source"] == "psutil" and b["interval_s"] == 0.1 for b in batches)
    # Unsubscribed: the listener is gone, so nothing more can be sent.
    assert sampler.listener_count == 0


def test_telemetry_stops_when_the_comm_closes() -> None:
    double, sampler = open_telemetry_comm()
    double.deliver({"v": 1, "type": "telemetry_subscribe", "id": "s2"})
    double.wait_for(lambda sent: len(telemetry_batches(sent, history=True)) == 1)
    double.close()
    assert not sampler.running and sampler.listener_count == 0
    double.close()  # a second close is harmless


@pytest.mark.parametrize("interval", [50, 0.05, "1", None])
def test_malformed_subscribe_is_refused(
    interval: Any, validate_all: Callable[[list[Any]], None]
) -> None:
    double, sampler = open_telemetry_comm()
    replies = double.deliver(
        {"v": 1, "type": "telemetry_subscribe", "id": "s3", "interval_s": interval}
    )
    validate_all(replies)
    assert [(m["type"], m["code"], m["id"]) for m in replies] == [("error", "bad_message", "s3")]
    assert "interval_s" in replies[0]["message"]
    assert not sampler.running


@pytest.mark.parametrize("kind", ["telemetry_batch", "telemetry_notice"])
def test_kernel_only_telemetry_messages_are_refused(
    kind: str, validate_all: Callable[[list[Any]], None]
) -> None:
    double, _sampler = open_telemetry_comm()
    message = (
        protocol.make_telemetry_batch("x", "psutil", 1.0, [])
        if kind == "telemetry_batch"
        else protocol.make_telemetry_notice("x", "info", "sampler_error", "m")
    )
    replies = double.deliver(message)
    validate_all(replies)
    assert [(m["type"], m["code"]) for m in replies] == [("error", "bad_message")]
    assert "sent by the kernel" in replies[0]["message"]


def test_unsubscribe_without_subscription_is_quiet() -> None:
    double, sampler = open_telemetry_comm()
    assert double.deliver({"v": 1, "type": "telemetry_unsubscribe"}) == []
    assert not sampler.running
