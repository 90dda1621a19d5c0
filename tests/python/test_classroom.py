"""What a class's servers report (yolo_lab.server.classroom): a student's live
trainings and GPU share, and the teacher's view through the Hub's API.

The Hub itself, DockerSpawner and a real training in each student's
container are in launcher/test/classroom.test.ts; here the run folders are
written in the runner's own format by live processes started by the test,
the class service's answers are given by a stand-in, and the reports go to a
real HTTP server that records them. The class service itself and the
host's folders: tests/python/test_class_host.py.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from yolo_lab.server import classroom
from yolo_lab.training.rundir import EVENTS_FILE, write_status

GIB = 2**30


def _run(folder: Path, status: str, pid: int, created: float, events: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True)
    write_status(folder, status=status, pid=pid, created=created)
    with open(folder / EVENTS_FILE, "w") as f:
        for event in events:
            f.write(json.dumps(event) + "\n")
    return folder


def _batches(n: int, rate: float, epoch: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "kind": "batch",
            "t": 100.0 + i,
            "epoch": epoch,
            "epochs": 10,
            "batch": i,
            "batches": n,
            "imgs_per_s": rate + (50.0 if i == n - 1 else 0.0),  # one outlier at the end
            "gpu_mem_gib": None,
        }
        for i in range(n)
    ]


@pytest.fixture
def live_pid():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_live_trainings_reads_progress_speed_and_gpu_memory(tmp_path: Path, live_pid: int) -> None:
    runs = tmp_path / "runs"
    sample = {
        "kind": "telemetry",
        "sample": {
            "t": 1,
            "gpus": [
                {"index": 0, "util_pct": 70, "proc_mem_bytes": 3 * GIB},
                {"index": 1, "util_pct": 90, "proc_mem_bytes": 1 * GIB},
            ],
        },
    }
    _run(runs / "train" / "exp", "running", live_pid, 2.0, _batches(12, 20.0) + [sample])
    _run(runs / "e2e", "starting", live_pid, 3.0, [])
    _run(runs / "train" / "done", "finished", live_pid, 4.0, _batches(3, 5.0))
    # Its process is gone: the run failed, it does not count as training.
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    _run(runs / "train" / "crashed", "running", int(gone.stdout), 5.0, _batches(3, 5.0))
    # The same folder under a second root (one folder mounted twice) counts once.
    (tmp_path / "again").symlink_to(runs)

    found = classroom.live_trainings([runs, tmp_path / "again"])

    assert [t["name"] for t in found] == ["e2e", "exp"]
    e2e, exp = found
    assert e2e["status"] == "starting" and e2e["epoch"] is None and e2e["imgs_per_s"] is None
    assert exp["status"] == "running"
    assert (exp["epoch"], exp["epochs"], exp["batch"], exp["batches"]) == (1, 10, 11, 12)
    assert exp["imgs_per_s"] == 20.0, "the median of the last batches, not the last one"
    assert exp["gpu_mem_bytes"] == 4 * GIB, "what the training holds on every GPU"
    assert exp["gpu_util_pct"] == 90


def test_gpu_memory_from_torch_where_nvml_sees_no_pid_of_the_run(
    tmp_path: Path, live_pid: int
) -> None:
    """In a container NVML names host pids: the run's own memory reads 0 there."""
    batches = _batches(3, 10.0)
    batches[-1]["gpu_mem_gib"] = 2.5
    sample = {"kind": "telemetry", "sample": {"gpus": [{"util_pct": 50, "proc_mem_bytes": 0}]}}
    _run(tmp_path / "runs" / "exp", "running", live_pid, 1.0, batches + [sample])
    _run(tmp_path / "runs" / "cpu", "running", live_pid, 2.0, _batches(3, 10.0))
    found = {t["name"]: t for t in classroom.live_trainings([tmp_path / "runs"])}
    assert found["exp"]["gpu_mem_bytes"] == int(2.5 * GIB)
    assert found["cpu"]["gpu_mem_bytes"] is None and found["cpu"]["gpu_util_pct"] is None


def test_activity_says_the_gpu_share_and_reads_the_run_roots(tmp_path: Path, live_pid: int) -> None:
    _run(tmp_path / "mounted" / "a", "running", live_pid, 1.0, _batches(2, 8.0))
    _run(tmp_path / "runs" / "train" / "b", "running", live_pid, 2.0, _batches(2, 8.0))
    env = {
        "JUPYTERHUB_USER": "alice",
        "YOLO_LAB_GPU_MEMORY_FRACTION": "0.25",
        classroom.RUN_ROOTS_ENV: str(tmp_path / "mounted"),
    }
    got = classroom.activity(tmp_path, env)
    assert got["user"] == "alice" and got["gpu_share"] == 0.25
    assert [t["name"] for t in got["trainings"]] == ["a"]
    # Without the variable: <root>/runs, two levels down.
    got = classroom.activity(tmp_path, {})
    assert got["gpu_share"] is None and got["user"] is None
    assert [t["name"] for t in got["trainings"]] == ["b"]


HUB_ENV = {
    "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api",
    "JUPYTERHUB_API_TOKEN": "teacher-token",
    "JUPYTERHUB_USER": "teacher",
    classroom.CLASS_URL_ENV: "http://127.0.0.1:8000/services/yolo-lab-class",
}


class Service:
    """Stands in for the class service (launcher/templates/yolo_lab_class.py; the real one
    runs under a real Hub in launcher/test/classroom.test.ts)."""

    def __init__(self, answer: tuple[int, Any] | Exception) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str]] = []

    async def fetch(self, url: str, token: str) -> tuple[int, Any]:
        self.asked.append((url, token))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_class_view_asks_the_class_service_with_this_servers_own_token() -> None:
    rows = [{"name": "alice", "trainings": [{"name": "exp"}]}, {"name": "teacher", "trainings": []}]
    service = Service((200, {"students": rows, "time": 5.0}))
    view = asyncio.run(classroom.class_view(service.fetch, HUB_ENV))
    assert view["students"] == rows and view["time"] == 5.0
    assert service.asked == [(HUB_ENV[classroom.CLASS_URL_ENV] + "/class", "teacher-token")], (
        "one request, to the service only: no student's server is asked anything"
    )


def test_class_view_refuses_a_student_and_a_server_outside_a_hub() -> None:
    said = "Only the class's teachers see every student: a teacher is an admin user (ADMINS ...)"
    with pytest.raises(classroom.ClassError) as refused:
        asyncio.run(classroom.class_view(Service((403, {"message": said})).fetch, HUB_ENV))
    assert refused.value.status == 403 and refused.value.message == said

    with pytest.raises(classroom.ClassError) as outside:
        asyncio.run(classroom.class_view(Service((200, {})).fetch, {}))
    assert outside.value.status == 404 and "not a JupyterHub server" in outside.value.message

    no_url = {k: v for k, v in HUB_ENV.items() if k != classroom.CLASS_URL_ENV}
    with pytest.raises(classroom.ClassError) as unset:
        asyncio.run(classroom.class_view(Service((200, {})).fetch, no_url))
    assert (
        classroom.CLASS_URL_ENV in unset.value.message and "write it again" in unset.value.message
    )

    down = Service(ConnectionRefusedError(111, "Connection refused"))
    with pytest.raises(classroom.ClassError) as gone:
        asyncio.run(classroom.class_view(down.fetch, HUB_ENV))
    assert gone.value.status == 502 and "did not answer" in gone.value.message


class _Recorder:
    """A real HTTP server on 127.0.0.1 that keeps what it is sent."""

    def __init__(self, status: int = 204) -> None:
        import http.server
        import threading

        self.requests: list[dict[str, Any]] = []
        self.arrived = threading.Event()
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
                )
                self.send_response(status)
                self.end_headers()
                recorder.arrived.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/yolo-lab-class"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_reporter_sends_this_servers_trainings_with_its_own_token(
    tmp_path: Path, live_pid: int
) -> None:
    _run(tmp_path / "runs" / "exp", "running", live_pid, 1.0, _batches(3, 12.0))
    service = _Recorder()
    env = {**HUB_ENV, "JUPYTERHUB_USER": "alice", "JUPYTERHUB_API_TOKEN": "alice-token"}
    env[classroom.CLASS_URL_ENV] = service.url
    try:
        reporter = classroom.Reporter(tmp_path, env, every=3600).start()
        assert service.arrived.wait(30), "the first report goes at once"
        # The service has the request; the reporter counts it once the answer
        # is read: stop() waits for that report to end.
        reporter.stop()
    finally:
        service.close()
    (sent,) = service.requests
    assert sent["path"] == "/services/yolo-lab-class/activity"
    assert sent["headers"]["Authorization"] == "token alice-token"
    assert [t["name"] for t in sent["body"]["trainings"]] == ["exp"]
    assert reporter.sent == 1 and reporter.failed is None


def test_the_reporter_says_once_why_the_service_took_no_report(tmp_path: Path) -> None:
    refusing = _Recorder(status=403)
    said: list[str] = []
    env = {**HUB_ENV, classroom.CLASS_URL_ENV: refusing.url}
    try:
        reporter = classroom.Reporter(tmp_path, env, log=said.append)
        reporter.report()
        reporter.report()
    finally:
        refusing.close()
    assert reporter.sent == 0 and reporter.failed and "403" in reporter.failed
    assert said == [reporter.failed], "one warning per cause, not one per report"
    with pytest.raises(classroom.ClassError):
        classroom.Reporter(tmp_path, {})  # no Hub, no reporter


def test_the_tail_of_an_events_file_leaves_out_only_a_cut_line(tmp_path: Path) -> None:
    from yolo_lab.training.events import read_event_tail

    lines = [json.dumps({"kind": "batch", "batch": i}) + "\n" for i in range(3)]
    (tmp_path / EVENTS_FILE).write_text("".join(lines))
    whole = sum(len(line) for line in lines)
    # Exactly the file: nothing is cut, every event is read.
    assert [e["batch"] for e in read_event_tail(tmp_path, whole)] == [0, 1, 2]
    # Starting inside the first line: that line is left out, the rest read.
    assert [e["batch"] for e in read_event_tail(tmp_path, whole - 3)] == [1, 2]
    assert read_event_tail(tmp_path / "missing", 100) == []
