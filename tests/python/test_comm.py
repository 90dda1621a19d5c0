"""The comm handler, driven in-process through a recording Comm double."""

from __future__ import annotations

from typing import Any, Callable

import comm.base_comm
import pytest

from yolo_lab import __version__
from yolo_lab._comm import (
    TARGET_NAME,
    CommSession,
    handle_comm_open,
    register_comm_target,
    running_in_kernel,
)
from yolo_lab.doctor import collect

FRONTEND_HELLO = {"v": 1, "type": "hello", "side": "frontend", "version": "0.1.0"}


class RecordingComm:
    """Stands in for the frontend's end of the comm: records what the kernel sends.

    It implements only what the handler uses (``send``, ``on_msg``); ``deliver``
    plays a comm_msg arriving from the frontend.
    """

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self._callback: Callable[[dict[str, Any]], None] | None = None

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        self.sent.append(data)

    def on_msg(self, callback: Callable[[dict[str, Any]], None] | None) -> None:
        self._callback = callback

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
    from yolo_lab import protocol

    def missing() -> dict[str, Any]:
        raise FileNotFoundError("schema gone")

    monkeypatch.setattr(protocol, "_first_error", lambda _msg: missing())
    double = open_comm()
    double.deliver({"v": 1, "type": "doctor_request", "id": "r"})
    assert double.sent == []
