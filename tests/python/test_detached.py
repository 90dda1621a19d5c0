"""Detached runs: owned by the Jupyter server, they outlive their kernel.

Real parts throughout: a real ``jupyter server`` with yolo-lab's extension
starting real kernels (REST API, then the kernel's own connection file),
real YOLOv5 runs on a tiny dataset, ``kill -9`` for real. The server restart
is played by a second :class:`DetachedRuns` on the same registry, the class
the extension uses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from waiting import wait_until

from yolo_lab import shapes, training
from yolo_lab.training import TrainError
from yolo_lab.training.detached import SOCKET_ENV, DetachedRuns, request_start, same_process
from yolo_lab.training.rundir import pid_alive, write_status

pytestmark = pytest.mark.kernel  # a real Jupyter server owns the runs

pytest.importorskip("yolov5", reason="YOLOv5 is installed by scripts/setup.sh --tests")

IMGSZ = 64
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shapes")
    return shapes.make_shapes_dataset(out / "shapes", train=16, val=8, image_size=IMGSZ, seed=1)


def _train_code(data: Path, project: Path, name: str) -> str:
    return (
        "import yolo_lab\n"
        f"run = yolo_lab.train({str(data)!r}, device='cpu', batch_size=8, epochs=500, "
        f"imgsz={IMGSZ}, workers=0, project={str(project)!r}, name={name!r}, detach=True)\n"
        "print(run.dir)"
    )


def _batches(run: training.Run) -> int:
    return len(run.events("batch"))


def _keeps_training(run: training.Run, what: str) -> None:
    """The run writes new batch events from now on."""
    seen = _batches(run)
    wait_until(lambda: _batches(run) > seen + 1, 300, what)


def _ended(run: training.Run) -> None:
    pid = run.info["pid"]
    wait_until(lambda: not pid_alive(pid), 180, f"{run.name}'s process to exit")


# -- through a real Jupyter server -----------------------------------------------


class Server:
    """A real Jupyter server with yolo-lab's extension, and its kernels."""

    def __init__(self, root: Path, registry: Path, *extra: str) -> None:
        from test_servers import _start_server

        self.root = root
        self.runtime = root / "runtime"
        os.environ["YOLO_LAB_DETACHED_DIR"] = str(registry)
        try:
            self.proc, self.base = _start_server(root, root / "state", *extra)
        finally:
            del os.environ["YOLO_LAB_DETACHED_DIR"]

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": "token lab-token", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            text = response.read().decode()
        return json.loads(text) if text else None

    def kernel(self) -> tuple[str, Any]:
        from jupyter_client import BlockingKernelClient

        kernel_id = self.request("POST", "/api/kernels", {"name": "python3"})["id"]
        client = BlockingKernelClient(
            connection_file=str(self.runtime / f"kernel-{kernel_id}.json")
        )
        wait_until(lambda: Path(client.connection_file).is_file(), 60, "the connection file")
        client.load_connection_file()
        client.start_channels()
        client.wait_for_ready(timeout=300)
        return kernel_id, client

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _run(client: Any, code: str) -> str:
    out: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    reply = client.execute_interactive(code, output_hook=hook, timeout=300)
    text = "".join(out)
    assert reply["content"]["status"] == "ok", text
    return text.strip()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = Server(tmp_path, tmp_path / "registry")
    yield started
    started.close()


def test_a_detached_run_outlives_its_kernel_and_stops_from_another(
    server: Server, data_yaml: Path, tmp_path: Path
) -> None:
    project = tmp_path / "runs"
    first_id, first = server.kernel()
    run = training.Run(_run(first, _train_code(data_yaml, project, "shutdown")))
    wait_until(lambda: run.events("batch"), 300, "the first batch")
    info = run.info
    assert info["detached"] is True and info["owner"]["kind"] == "jupyter-server"
    assert info["owner"]["server_pid"] == server.proc.pid
    assert same_process(info["pid"], info["process"])

    # Its kernel shut down: the run keeps training.
    first.stop_channels()
    server.request("DELETE", f"/api/kernels/{first_id}")
    _keeps_training(run, "batches after the kernel shut down")

    # A second run, whose kernel is killed with SIGKILL: it keeps training too.
    _second_id, second = server.kernel()
    other = training.Run(_run(second, _train_code(data_yaml, project, "killed")))
    kernel_pid = int(_run(second, "import os; print(os.getpid())"))
    wait_until(lambda: other.events("batch"), 300, "the second run's first batch")
    os.kill(kernel_pid, signal.SIGKILL)
    second.stop_channels()
    _keeps_training(other, "batches after the kernel was killed")

    listed = server.request("GET", "/yolo-lab/runs")
    assert {r["name"] for r in listed["runs"]} == {"shutdown", "killed"}
    assert listed["on_exit"] == "keep"
    assert all(r["status"] == "running" and r["pid"] for r in listed["runs"])

    # The browser's route stops the second; a third kernel (started beside one
    # training, not two, on this machine's two cores) shows the first and stops it.
    server.request("POST", "/yolo-lab/runs/stop", {"run": str(other.dir)})
    _ended(other)
    _third_id, third = server.kernel()
    _run(third, f"import yolo_lab; r = yolo_lab.show_run({str(run.dir)!r}); r.stop(wait=True)")
    for stopped in (run, other):
        _ended(stopped)
        assert stopped.status == "stopped"
        assert stopped.last is not None
    third.stop_channels()
    # The server reaps its children (the last thread of one may still be
    # exiting when its main thread is already a zombie).
    wait_until(lambda: server.request("GET", "/yolo-lab/runs")["runs"] == [], 60, "an empty list")


def test_the_server_setting_decides_what_happens_at_exit(tmp_path: Path, data_yaml: Path) -> None:
    server = Server(tmp_path, tmp_path / "registry", "--YoloLab.detached_runs_on_exit=stop")
    try:
        assert server.request("GET", "/yolo-lab/runs") == {"runs": [], "on_exit": "stop"}
        _kernel_id, client = server.kernel()
        run = training.Run(_run(client, _train_code(data_yaml, tmp_path / "runs", "ends")))
        wait_until(lambda: run.events("batch"), 300, "the first batch")
        client.stop_channels()
    finally:
        server.close()
    # The server stopped its detached run on the way out: last.pt saved.
    assert run.status == "stopped" and run.last is not None


# -- the server's side, restarted ---------------------------------------------------


def _start_detached(data: Path, project: Path, name: str) -> training.Run:
    """A detached run asked for by a plain Python process (a kernel's stand-in)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        [sys.executable, "-c", _train_code(data, project, name)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    run = training.Run(out.strip())
    wait_until(lambda: run.events("batch"), 300, f"{name}'s first batch")
    return run


def test_a_server_restart_re_adopts_live_runs_and_marks_killed_ones_lost(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = tmp_path / "registry"
    first = DetachedRuns(registry)
    monkeypatch.setenv(SOCKET_ENV, first.serve())
    alive = _start_detached(data_yaml, tmp_path / "runs", "alive")
    doomed = _start_detached(data_yaml, tmp_path / "runs", "doomed")
    wait_until(lambda: doomed.last is not None, 300, "doomed's first last.pt")
    # The server stops (runs are kept by default) ...
    assert first.close() == []
    _keeps_training(alive, "batches after the server stopped")
    # ... and, while none runs, one training process is killed.
    os.kill(doomed.info["pid"], signal.SIGKILL)
    wait_until(lambda: not pid_alive(doomed.info["pid"]), 60, "the kill")
    assert doomed.status == "lost", "a reader that sees the process gone says lost"
    assert "kill -9" in doomed.info["message"]

    second = DetachedRuns(registry)
    found = second.adopt()
    assert found == {"adopted": [str(alive.dir)], "ended": [str(doomed.dir)], "elsewhere": []}
    # The status file itself now says lost, with the way back.
    written = json.loads((doomed.dir / "yolo_lab_run.json").read_text())
    assert written["status"] == "lost" and "resume" in written["fix"]
    assert [r["name"] for r in second.runs()] == ["alive"]

    # A lost run resumes (detached again, as it was started).
    monkeypatch.setenv(SOCKET_ENV, second.serve())
    resumed = training.resume(doomed)
    assert resumed.info["detached"] is True
    wait_until(lambda: resumed.status == "running", 300, "the resumed run")
    # A second kernel resuming it at the same moment (its status reset to
    # "starting", as resume() writes) is refused: the run's process holds
    # the folder's lock, so one folder never has two trainers.
    held = resumed.info
    write_status(resumed.dir, status="starting", pid=None, process=None)
    with pytest.raises(TrainError) as refused:
        request_start(resumed.dir, sys.executable, dict(os.environ))
    write_status(resumed.dir, status="running", pid=held["pid"], process=held["process"])
    assert refused.value.code == "run_active" and "lock" in refused.value.message
    assert same_process(held["pid"], held["process"])
    assert second.stop(str(alive.dir))
    _ended(alive)
    assert alive.status == "stopped" and alive.last is not None
    second.on_exit = "stop"
    stopped = second.close()
    assert stopped == [str(doomed.dir)]
    _ended(resumed)
    assert resumed.status == "stopped"
    assert second.runs() == []
    # A record goes once its process is gone (reaped by the next poll).
    wait_until(lambda: second.poll() or not list(registry.glob("*.json")), 60, "an empty registry")


def test_detach_without_a_server_is_refused_before_anything_is_made(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SOCKET_ENV, raising=False)
    with pytest.raises(TrainError) as err:
        training.train(data_yaml, project=tmp_path / "runs", detach=True)
    assert err.value.code == "detach_unavailable"
    assert "JupyterLab" in err.value.fix and "detach=False" in err.value.fix
    assert not (tmp_path / "runs").exists()
    with pytest.raises(TrainError):
        training.train(data_yaml, project=tmp_path / "runs", detach="yes")  # type: ignore[arg-type]


def test_the_socket_refuses_what_is_not_a_prepared_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket as sockets

    runs = DetachedRuns(tmp_path / "registry")
    path = runs.serve()
    try:

        def ask(raw: bytes) -> dict[str, Any]:
            with sockets.socket(sockets.AF_UNIX) as sock:
                sock.connect(path)
                sock.sendall(raw)
                return dict(json.loads(sock.makefile("rb").readline()))

        assert ask(b"not json\n")["code"] == "bad_request"
        assert ask(b'{"v": 99, "op": "start"}\n')["code"] == "bad_request"
        refused = ask(
            json.dumps(
                {"v": 1, "op": "start", "run": str(tmp_path), "python": sys.executable, "env": {}}
            ).encode()
            + b"\n"
        )
        assert refused["ok"] is False and refused["code"] == "not_a_run"
        assert "train()" in refused["fix"]
        assert oct(Path(path).parent.stat().st_mode & 0o777) == "0o700"
    finally:
        runs.close()
    assert not Path(path).exists()
    with pytest.raises(ValueError, match="keep, stop"):
        DetachedRuns(tmp_path, on_exit="later")
