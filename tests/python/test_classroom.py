"""What a class's servers report (yolo_lab.classroom): a student's live
trainings and GPU share, and the teacher's view through the Hub's API.

The Hub itself, DockerSpawner and a real training in each student's
container are in launcher/test/classroom.test.ts; here the run folders are
written in the runner's own format by live processes started by the test,
and the Hub's answers are given by a stand-in for its REST API.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from yolo_lab import classroom
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
    classroom.HUB_URL_ENV: "http://127.0.0.1:8000",
}


def _user(name: str, ready: bool, admin: bool = False) -> dict[str, Any]:
    servers = {"": {"ready": ready, "url": f"/user/{name}/", "pending": None}} if ready else {}
    return {"name": name, "admin": admin, "servers": servers, "last_activity": None}


class Hub:
    """Stands in for the Hub's REST API and the servers behind its proxy."""

    def __init__(self, users: list[dict[str, Any]], servers: dict[str, Any], page: int = 2) -> None:
        self.users, self.servers, self.page = users, servers, page
        self.asked: list[tuple[str, str]] = []
        self.list_status = 200

    async def fetch(self, url: str, token: str) -> tuple[int, Any]:
        self.asked.append((url, token))
        if url.startswith(HUB_ENV["JUPYTERHUB_API_URL"] + "/users?"):
            if self.list_status != 200:
                return self.list_status, {"message": "Forbidden"}
            offset = int(url.split("offset=")[1].split("&")[0])
            items = self.users[offset : offset + self.page]
            more = offset + self.page < len(self.users)
            return 200, {
                "items": items,
                "_pagination": {"next": {"offset": offset + self.page} if more else None},
            }
        answer = self.servers[url]
        if isinstance(answer, Exception):
            raise answer
        if answer == "hang":
            await asyncio.sleep(60)
        return answer


def test_class_view_lists_every_user_and_what_each_running_server_trains(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(classroom, "SERVER_TIMEOUT_S", 0.5)
    base = "http://127.0.0.1:8000/user"
    run = {"name": "exp", "epoch": 0, "epochs": 3, "imgs_per_s": 9.0}
    hub = Hub(
        [
            _user("teacher", True, admin=True),
            _user("alice", True),
            _user("bob", True),
            _user("carol", False),
            _user("dan", True),
            _user("erin", True),
        ],
        {
            f"{base}/teacher/yolo-lab/activity": (200, {"gpu_share": None, "trainings": []}),
            f"{base}/alice/yolo-lab/activity": (200, {"gpu_share": 0.25, "trainings": [run]}),
            f"{base}/bob/yolo-lab/activity": (403, None),
            f"{base}/dan/yolo-lab/activity": ConnectionRefusedError(111, "Connection refused"),
            f"{base}/erin/yolo-lab/activity": "hang",
        },
    )
    view = asyncio.run(classroom.class_view(hub.fetch, HUB_ENV))
    rows = {r["name"]: r for r in view["students"]}
    assert list(rows) == ["alice", "bob", "dan", "erin", "teacher", "carol"], (
        "who trains first, then running servers, teachers after students, stopped last"
    )
    assert rows["alice"]["trainings"] == [run] and rows["alice"]["gpu_share"] == 0.25
    assert rows["teacher"]["me"] and rows["teacher"]["admin"] and not rows["alice"]["me"]
    assert rows["carol"]["server"] == "stopped" and rows["carol"]["error"] is None
    assert "restart your server" in rows["bob"]["error"]
    assert "did not answer" in rows["dan"]["error"] and "did not answer" in rows["erin"]["error"]
    # Every request carries this server's own token; stopped servers are not asked.
    assert {token for _, token in hub.asked} == {"teacher-token"}
    assert not any("/carol/" in url for url, _ in hub.asked)
    assert sum("/users?" in url for url, _ in hub.asked) == 3, "every page of users"


def test_class_view_refuses_a_student_and_a_server_outside_a_hub() -> None:
    hub = Hub([_user("bob", True)], {})
    hub.list_status = 403
    with pytest.raises(classroom.ClassError) as refused:
        asyncio.run(classroom.class_view(hub.fetch, HUB_ENV))
    assert refused.value.status == 403
    assert "teachers" in refused.value.message and "ADMINS" in refused.value.message

    with pytest.raises(classroom.ClassError) as outside:
        asyncio.run(classroom.class_view(hub.fetch, {}))
    assert outside.value.status == 404 and "not a JupyterHub server" in outside.value.message

    no_url = {k: v for k, v in HUB_ENV.items() if k != classroom.HUB_URL_ENV}
    with pytest.raises(classroom.ClassError) as unset:
        asyncio.run(classroom.class_view(hub.fetch, no_url))
    assert classroom.HUB_URL_ENV in unset.value.message


def test_the_tail_of_an_events_file_leaves_out_only_a_cut_line(tmp_path: Path) -> None:
    from yolo_lab.training.rundir import read_event_tail

    lines = [json.dumps({"kind": "batch", "batch": i}) + "\n" for i in range(3)]
    (tmp_path / EVENTS_FILE).write_text("".join(lines))
    whole = sum(len(line) for line in lines)
    # Exactly the file: nothing is cut, every event is read.
    assert [e["batch"] for e in read_event_tail(tmp_path, whole)] == [0, 1, 2]
    # Starting inside the first line: that line is left out, the rest read.
    assert [e["batch"] for e in read_event_tail(tmp_path, whole - 3)] == [1, 2]
    assert read_event_tail(tmp_path / "missing", 100) == []
