"""End to end with a real IPython kernel: the comm as JupyterLab would use it.

The test plays the frontend over the real Jupyter wire protocol: it sends
``comm_open`` and ``comm_msg`` on the shell channel and reads the kernel's
``comm_msg`` replies from IOPub, correlating each by its parent header.
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
from typing import Any

import pytest
from jupyter_client import BlockingKernelClient, KernelManager
from jupyter_client.kernelspec import KernelSpecManager

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
    """A minimal frontend over a real kernel client."""

    def __init__(self, client: BlockingKernelClient) -> None:
        self.client = client

    def _send_shell(self, msg_type: str, content: dict[str, Any], timeout: float) -> Reply:
        msg = self.client.session.msg(msg_type, content)
        self.client.shell_channel.send(msg)
        parent_id = msg["header"]["msg_id"]
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no idle status for {msg_type} within {timeout} s; got {messages}")
            try:
                incoming = self.client.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            if incoming["parent_header"].get("msg_id") != parent_id:
                continue
            messages.append(incoming)
            if (
                incoming["msg_type"] == "status"
                and incoming["content"]["execution_state"] == "idle"
            ):
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
    manager = KernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(root / "kernels")]),
        connection_file=str(root / "connection.json"),
    )
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
