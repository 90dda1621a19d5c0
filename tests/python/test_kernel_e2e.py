"""End to end with a real IPython kernel: the comm as JupyterLab would use it.

The test plays the frontend over the real Jupyter wire protocol: it sends
``comm_open`` and ``comm_msg`` on the shell channel and reads the kernel's
``comm_msg`` replies from IOPub, correlating each by its parent header.
Telemetry is sent from the kernel's sampler thread, whenever it is due, so
those tests read every IOPub message (``Frontend.seen``) and wait for
conditions on them.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from jupyter_client import BlockingKernelClient, KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from waiting import note_wait

pytestmark = pytest.mark.kernel

REPO = Path(__file__).resolve().parents[2]
KERNEL_NAME = "yolo-lab-test"
FRONTEND_HELLO = {"v": 1, "type": "hello", "side": "frontend", "version": "0.1.0"}
STARTUP_TIMEOUT_S = 60
REQUEST_TIMEOUT_S = 180  # the doctor imports torch and may run `import yolov5`


@dataclass
class Reply:
    """What the kernel published on IOPub while handling one shell message."""

    messages: list[dict[str, Any]]

    def comm_data(self, comm_id: str) -> list[Any]:
        return [
            m["content"]["data"]
            for m in self.messages
            if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
        ]

    def streams(self) -> list[str]:
        return [m["content"]["text"] for m in self.messages if m["msg_type"] == "stream"]


class Frontend:
    """A minimal frontend over a real kernel client.

    Every IOPub message read is also kept in ``seen``, in arrival order.
    """

    def __init__(self, client: BlockingKernelClient) -> None:
        self.client = client
        self.seen: list[dict[str, Any]] = []

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float, what: str
    ) -> None:
        """Read IOPub until ``predicate(self.seen)`` holds."""
        start = time.monotonic()
        deadline = start + timeout
        while not predicate(self.seen):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                note_wait(what, time.monotonic() - start, timeout)
                types = [m["msg_type"] for m in self.seen[-30:]]
                pytest.fail(f"not within {timeout} s: {what}; last messages: {types}")
            try:
                self.seen.append(self.client.get_iopub_msg(timeout=min(remaining, 0.5)))
            except queue.Empty:
                continue
        note_wait(what, time.monotonic() - start, timeout)

    def _send_shell(self, msg_type: str, content: dict[str, Any], timeout: float) -> Reply:
        msg = self.client.session.msg(msg_type, content)
        self.client.shell_channel.send(msg)
        parent_id = msg["header"]["msg_id"]
        messages: list[dict[str, Any]] = []
        what = f"the idle status after {msg_type}"
        start = time.monotonic()
        deadline = start + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                note_wait(what, time.monotonic() - start, timeout)
                pytest.fail(f"no idle status for {msg_type} within {timeout} s; got {messages}")
            try:
                incoming = self.client.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(incoming)
            if incoming["parent_header"].get("msg_id") != parent_id:
                continue
            messages.append(incoming)
            if (
                incoming["msg_type"] == "status"
                and incoming["content"]["execution_state"] == "idle"
            ):
                note_wait(what, time.monotonic() - start, timeout)
                return Reply(messages)

    def execute(self, code: str) -> Reply:
        reply = self._send_shell(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": False,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            STARTUP_TIMEOUT_S,
        )
        errors = [m["content"] for m in reply.messages if m["msg_type"] == "error"]
        assert not errors, errors
        return reply

    def open_comm(self, data: Any) -> tuple[str, Reply]:
        comm_id = uuid.uuid4().hex
        reply = self._send_shell(
            "comm_open",
            {"comm_id": comm_id, "target_name": "yolo_lab", "data": data},
            STARTUP_TIMEOUT_S,
        )
        return comm_id, reply

    def comm_msg(self, comm_id: str, data: Any) -> list[Any]:
        reply = self._send_shell("comm_msg", {"comm_id": comm_id, "data": data}, REQUEST_TIMEOUT_S)
        assert reply.streams() == [], "the comm handler printed into the notebook"
        return reply.comm_data(comm_id)


def _start_kernel(root: Path) -> tuple[KernelManager, BlockingKernelClient]:
    spec_dir = root / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "yolo-lab test kernel",
                "language": "python",
                "env": {"PYTHONPATH": python_path, "IPYTHONDIR": str(root / "ipython")},
            }
        )
    )
    # Named as a Jupyter server names it (kernel-<id>.json): the kernel
    # reads its own id from that name.
    kernel_id = str(uuid.uuid4())
    manager = KernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(root / "kernels")]),
        connection_file=str(root / f"kernel-{kernel_id}.json"),
    )
    manager.kernel_id = kernel_id
    # Outside the repo, so only PYTHONPATH can make yolo_lab importable.
    manager.start_kernel(cwd=str(root))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=STARTUP_TIMEOUT_S)
    except RuntimeError:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
        raise
    return manager, client


@pytest.fixture(scope="module")
def frontend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Frontend]:
    manager, client = _start_kernel(tmp_path_factory.mktemp("kernel"))
    try:
        yield Frontend(client)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_real_kernel_comm_end_to_end(frontend: Frontend, schema_validator: Any) -> None:
    frontend.execute("import yolo_lab")
    comm_id, opened = frontend.open_comm(FRONTEND_HELLO)
    greeting = opened.comm_data(comm_id)
    assert opened.streams() == []
    assert [m["type"] for m in greeting] == ["hello"]
    assert greeting[0]["side"] == "kernel"
    sent: list[Any] = list(greeting)

    replies = frontend.comm_msg(
        comm_id, {"v": 1, "type": "doctor_request", "id": "e2e-1", "workers": 2}
    )
    sent += replies
    assert [(m["type"], m["id"]) for m in replies] == [("doctor_report", "e2e-1")]
    report = replies[0]["report"]
    assert report["workers"] == 2
    assert report["python"]["executable"] == sys.executable

    malformed = [
        ("not an object", "bad_message", None),
        ({"v": 1, "id": "e2e-2"}, "bad_message", "e2e-2"),
        ({"v": 2, "type": "doctor_request", "id": "e2e-3"}, "unsupported_version", "e2e-3"),
        ({"v": 1, "type": "launch_rocket", "id": "e2e-4"}, "unknown_type", "e2e-4"),
        ({"v": 1, "type": "doctor_request", "id": "e2e-5", "extra": True}, "bad_message", "e2e-5"),
    ]
    for data, code, request_id in malformed:
        replies = frontend.comm_msg(comm_id, data)
        sent += replies
        assert len(replies) == 1, (data, replies)
        assert replies[0]["type"] == "error" and replies[0]["code"] == code, (data, replies)
        assert replies[0].get("id") == request_id

    for message in sent:
        schema_validator.validate(message)

    # Still alive and serving cells.
    result = frontend.execute("1+1")
    results = [
        m["content"]["data"]["text/plain"]
        for m in result.messages
        if m["msg_type"] == "execute_result"
    ]
    assert results == ["2"]


def test_real_kernel_rejects_a_newer_frontend(frontend: Frontend, schema_validator: Any) -> None:
    frontend.execute("import yolo_lab")
    comm_id, opened = frontend.open_comm({**FRONTEND_HELLO, "v": 2})
    messages = opened.comm_data(comm_id)
    for message in messages:
        schema_validator.validate(message)
    assert [m["type"] for m in messages] == ["hello", "error"]
    assert messages[1]["code"] == "unsupported_version"
    assert "Upgrade yolo-lab" in messages[1]["message"]


def test_real_kernel_load_ext(tmp_path: Path) -> None:
    """``%load_ext yolo_lab`` in a fresh kernel registers the comm target."""
    manager, client = _start_kernel(tmp_path)
    try:
        frontend = Frontend(client)
        frontend.execute("%load_ext yolo_lab")
        frontend.execute("%load_ext yolo_lab")  # loading twice is harmless
        comm_id, opened = frontend.open_comm(FRONTEND_HELLO)
        assert [m["type"] for m in opened.comm_data(comm_id)] == ["hello"]
        check = frontend.execute(
            "import comm; print([t for t in comm.get_comm_manager().targets if t == 'yolo_lab'])"
        )
        assert check.streams() == ["['yolo_lab']\n"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


# ---------------------------------------------------------------- telemetry

TELEMETRY_TIMEOUT_S = 30


def comm_data_after(seen: list[dict[str, Any]], start: int, comm_id: str) -> list[Any]:
    return [
        m["content"]["data"]
        for m in seen[start:]
        if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
    ]


def sampler_state(frontend: Frontend) -> str:
    reply = frontend.execute(
        "from yolo_lab.telemetry import get_sampler as _gs; "
        "print(_gs().running, _gs().listener_count)"
    )
    return "".join(reply.streams()).strip()


def test_real_kernel_telemetry_subscription(frontend: Frontend, schema_validator: Any) -> None:
    frontend.execute("import yolo_lab")
    comm_id, _opened = frontend.open_comm(FRONTEND_HELLO)
    start = len(frontend.seen)
    replies = frontend.comm_msg(
        comm_id, {"v": 1, "type": "telemetry_subscribe", "id": "tel-1", "interval_s": 0.2}
    )
    assert [m for m in replies if m["type"] == "error"] == []

    def live_batches(seen: list[dict[str, Any]]) -> list[Any]:
        return [
            m
            for m in comm_data_after(seen, start, comm_id)
            if m["type"] == "telemetry_batch" and not m["history"]
        ]

    frontend.wait_for(
        lambda seen: len(live_batches(seen)) >= 2, TELEMETRY_TIMEOUT_S, "two live batches"
    )
    received = comm_data_after(frontend.seen, start, comm_id)
    for message in received:
        schema_validator.validate(message)
    assert received[0]["type"] == "telemetry_batch" and received[0]["history"] is True
    assert all(m["type"] == "telemetry_batch" for m in received)
    assert {m["sampler_id"] for m in received} == {received[0]["sampler_id"]}
    assert {m["interval_s"] for m in received} == {0.2}
    # 0.2 s sampling leaves in batches of 3 samples (0.6 s).
    assert all(len(m["samples"]) == 3 for m in received[1:])
    assert all(s["proc_rss_bytes"] > 0 for m in received for s in m["samples"])
    assert sampler_state(frontend) == "True 1"

    replies = frontend.comm_msg(comm_id, {"v": 1, "type": "telemetry_unsubscribe", "id": "tel-1"})
    assert all(m["type"] == "telemetry_batch" for m in replies), replies
    # The listener left before the kernel went idle, and IOPub keeps order:
    # nothing may follow the idle of the unsubscribe.
    drained = len(frontend.seen)
    assert sampler_state(frontend) == "False 0"
    deadline = time.monotonic() + 1.5  # more than two batch periods
    frontend.wait_for(
        lambda seen: time.monotonic() > deadline, TELEMETRY_TIMEOUT_S, "two batch periods"
    )
    assert comm_data_after(frontend.seen, drained, comm_id) == []

    # An interval the schema forbids is refused, and starts nothing.
    replies = frontend.comm_msg(
        comm_id, {"v": 1, "type": "telemetry_subscribe", "id": "tel-2", "interval_s": 50}
    )
    assert [(m["type"], m["code"], m["id"]) for m in replies] == [("error", "bad_message", "tel-2")]
    schema_validator.validate(replies[0])
    assert sampler_state(frontend) == "False 0"


def test_real_kernel_telemetry_ends_with_the_comm(frontend: Frontend) -> None:
    frontend.execute("import yolo_lab")
    comm_id, _opened = frontend.open_comm(FRONTEND_HELLO)
    start = len(frontend.seen)
    frontend.comm_msg(comm_id, {"v": 1, "type": "telemetry_subscribe", "id": "tel-3"})
    frontend.wait_for(
        lambda seen: comm_data_after(seen, start, comm_id), TELEMETRY_TIMEOUT_S, "the first batch"
    )
    assert sampler_state(frontend) == "True 1"
    frontend._send_shell("comm_close", {"comm_id": comm_id, "data": {}}, STARTUP_TIMEOUT_S)
    assert sampler_state(frontend) == "False 0"


MIME = "application/vnd.yolo-lab.telemetry+json"


def test_real_kernel_monitor(frontend: Frontend, schema_validator: Any) -> None:
    display_validator = type(schema_validator)(
        {
            "$schema": schema_validator.schema["$schema"],
            "definitions": schema_validator.schema["definitions"],
            "$ref": "#/definitions/telemetry_display",
        }
    )
    start = len(frontend.seen)
    reply = frontend.execute("import yolo_lab; m = yolo_lab.monitor(window_s=30, interval_s=0.2)")
    assert reply.streams() == [], "monitor() printed into the cell"
    shown = [m for m in reply.messages if m["msg_type"] == "display_data"]
    assert len(shown) == 1
    display_id = shown[0]["content"]["transient"]["display_id"]
    assert display_id
    first = shown[0]["content"]["data"]
    assert set(first) == {MIME, "text/plain"}
    display_validator.validate(first[MIME])
    assert first[MIME]["live"] is True and first[MIME]["window_s"] == 30

    def updates(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            m["content"]
            for m in seen[start:]
            if m["msg_type"] == "update_display_data"
            and m["content"]["transient"]["display_id"] == display_id
        ]

    # JupyterLab's renderer takes the live points from the comm stream, as the
    # panel does; subscribing without an interval keeps the monitor's. While
    # that stream delivers, the output is not rewritten (the next snapshot
    # is SNAPSHOT_PERIOD_S away).
    comm_id, _opened = frontend.open_comm(FRONTEND_HELLO)
    frontend.comm_msg(comm_id, {"v": 1, "type": "telemetry_subscribe", "id": "tel-monitor"})

    def live_batches(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            data
            for data in comm_data_after(seen, start, comm_id)
            if data.get("type") == "telemetry_batch" and not data["history"]
        ]

    frontend.wait_for(
        lambda seen: len(live_batches(seen)) >= 10, TELEMETRY_TIMEOUT_S, "ten live batches"
    )
    batches = live_batches(frontend.seen)
    assert {b["sampler_id"] for b in batches} == {first[MIME]["sampler_id"]}
    assert {b["interval_s"] for b in batches} == {0.2}
    assert updates(frontend.seen) == [], "the output was rewritten between snapshots"

    # The handle as a cell's value shows nothing more.
    shown_again = frontend.execute("m")
    assert [
        m for m in shown_again.messages if m["msg_type"] in ("execute_result", "display_data")
    ] == []

    frontend.execute("m.stop()")
    frontend.wait_for(
        lambda seen: updates(seen) and updates(seen)[-1]["data"][MIME]["live"] is False,
        TELEMETRY_TIMEOUT_S,
        "the stopped monitor's last output",
    )
    final = updates(frontend.seen)[-1]["data"]
    display_validator.validate(final[MIME])
    assert len(updates(frontend.seen)) == 1
    assert final[MIME]["samples"] and "stopped" in final["text/plain"]
    # The saved output holds the window the stream showed.
    assert final[MIME]["samples"][-1]["t"] >= batches[-1]["samples"][-1]["t"]
    assert sampler_state(frontend) == "True 1", "the panel's subscription keeps sampling"
    frontend._send_shell("comm_close", {"comm_id": comm_id, "data": {}}, STARTUP_TIMEOUT_S)
    assert sampler_state(frontend) == "False 0"
