"""DDP for real: two rank processes under torch.distributed.run on the CPU (gloo).

Each test starts a real run with ``train(device="cpu", nproc=2)``: the
supervisor, torchrun and two ranks training YOLOv5 on a generated shapes
set. The GPU path differs in the backend (NCCL) and in YOLOv5 wrapping the
model in DistributedDataParallel itself; the stop, the supervisor, the
crash and hang handling are the same code.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import jsonschema
import psutil
import pytest
from waiting import wait_until

from yolo_lab import protocol, shapes, training
from yolo_lab._runner.supervisor import DEFAULT_STOP_GRACE_S, HUNG_STOP_GRACE_S
from yolo_lab.training.rundir import EVENTS_FILE, STATUS_FILE, read_ranks, write_status

IMGSZ = 64
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shapes")
    return shapes.make_shapes_dataset(out / "shapes", train=32, val=8, image_size=IMGSZ, seed=2)


def ddp(data: Path, project: Path, **kw: Any) -> training.Run:
    options: dict[str, Any] = dict(
        device="cpu", nproc=2, batch_size=8, epochs=2, imgsz=IMGSZ, workers=0, project=project
    )
    options.update(kw)
    return training.train(data, **options)


#: Every process of a stopped run ends by the supervisor's own deadline: the
#: ranks stop at a batch boundary and rank 0 saves last.pt within its stop
#: grace, or it ends them; plus 10 s to see the exits on a loaded machine (the
#: flake hunt, both cores busy: a graceful stop took 10.1 s, over the earlier
#: flat 10 s deadline, in 1 of 20 runs).
ENDED_S = DEFAULT_STOP_GRACE_S + 10
#: A hung run's ranks are ended after the shorter grace of a hang.
HUNG_ENDED_S = HUNG_STOP_GRACE_S + 10


def run_pids(run: training.Run) -> dict[str, int]:
    """The supervisor, torchrun and each rank, by name."""
    supervisor = int(run.info["pid"])
    pids = {"supervisor": supervisor}
    for child in psutil.Process(supervisor).children():
        pids["torchrun"] = child.pid
    for rank, state in read_ranks(run.dir, "state").items():
        pids[f"rank{rank}"] = int(state["pid"])
    return pids


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def started_training(run: training.Run, batches: int = 1) -> Callable[[], bool]:
    def check() -> bool:
        ranks = read_ranks(run.dir, "state")
        return len(run.events("batch")) >= batches and len(ranks) == 2

    return check


@pytest.mark.yolov5
def test_two_rank_cpu_run_keeps_the_ranks_in_step(data_yaml: Path, tmp_path: Path) -> None:
    run = ddp(data_yaml, tmp_path / "runs", name="two")
    assert run.wait(timeout=600) == "finished", run.info
    schema = protocol.load_schema()
    validator = jsonschema.Draft7Validator({**schema, "$ref": "#/definitions/run_event"})
    events = run.events()
    for event in events:
        validator.validate(event)
    # Rank 0 alone writes the events: one start, one summary, one end.
    kinds = [e["kind"] for e in events]
    assert kinds.count("start") == 1 and kinds.count("end") == 1 and kinds.count("summary") == 1
    start = run.events("start")[0]
    assert start["world_size"] == 2 and start["ddp"] == "cpu-gloo"
    # 32 images, 8 per step: 4 steps an epoch, each rank training 4 images a step.
    batches = run.events("batch")
    assert [b["batches"] for b in batches] == [4] * 8
    assert all(b["images"] == 8 and b["ranks"] == 2 for b in batches)
    assert len(run.events("epoch")) == 2
    # Both ranks finished with the same weights: the gradients were averaged
    # (each rank saw different images, so without it they would differ).
    states = read_ranks(run.dir, "state")
    assert sorted(states) == [0, 1]
    assert all(s["status"] == "finished" for s in states.values())
    sums = [states[r]["weights_sum"] for r in (0, 1)]
    assert sums[0] == pytest.approx(sums[1], rel=1e-9, abs=1e-9)
    assert run.info["status"] == "finished" and run.best is not None


@pytest.mark.yolov5
def test_stop_mid_epoch_ends_every_rank_then_resume(data_yaml: Path, tmp_path: Path) -> None:
    run = ddp(data_yaml, tmp_path / "runs", epochs=30, name="stop")
    wait_until(started_training(run, 2), 300, "two batches of both ranks")
    pids = run_pids(run)
    assert set(pids) == {"supervisor", "torchrun", "rank0", "rank1"}
    asked = time.monotonic()
    run.stop()
    wait_until(lambda: not any(alive(p) for p in pids.values()), ENDED_S, "every process to end")
    took = time.monotonic() - asked
    assert run.status == "stopped", run.info
    assert run.events("end")[-1]["status"] == "stopped"
    saved = [e for e in run.events("saved") if e.get("stopped")]
    assert len(saved) == 1, "last.pt is written once, by rank 0"
    assert run.last is not None
    print(f"stop to every process ended: {took:.1f} s")

    ni = max(b["ni"] for b in run.events("batch"))
    resumed = training.resume(run)
    wait_until(lambda: max(b["ni"] for b in resumed.events("batch")) > ni, 300, "a new batch")
    assert len(resumed.events("start")) == 2
    resumed.stop()
    assert resumed.wait(timeout=30) == "stopped"


@pytest.mark.kernel
def test_kill_9_of_the_kernel_leaves_no_process(data_yaml: Path, tmp_path: Path) -> None:
    # A real parent (standing in for the kernel) starts the run and is killed.
    script = (
        "import sys, time; from yolo_lab import training\n"
        f"run = training.train({str(data_yaml)!r}, device='cpu', nproc=2, batch_size=8, "
        f"epochs=30, imgsz={IMGSZ}, workers=0, project={str(tmp_path / 'runs')!r})\n"
        "print(run.dir, flush=True)\n"
        "time.sleep(600)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert parent.stdout is not None
        run = training.Run(parent.stdout.readline().strip())
        wait_until(started_training(run), 300, "the first batch")
        pids = run_pids(run)
        assert len(pids) == 4
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        wait_until(lambda: not any(alive(p) for p in pids.values()), ENDED_S, "no process left")
    finally:
        if parent.poll() is None:
            parent.kill()
    assert run.status == "stopped"
    assert run.last is not None


@pytest.mark.yolov5
def test_a_rank_killed_mid_run_ends_the_run_with_its_error(data_yaml: Path, tmp_path: Path) -> None:
    run = ddp(data_yaml, tmp_path / "runs", epochs=30, name="crash")
    wait_until(started_training(run), 300, "the first batch")
    pids = run_pids(run)
    os.kill(pids["rank1"], signal.SIGKILL)
    assert run.wait(timeout=60) == "failed"
    wait_until(lambda: not any(alive(p) for p in pids.values()), 30, "no process left")
    error = run.events("error")[-1]
    assert error["rank"] == 1 and error["code"] == "rank_lost"
    assert f"pid {pids['rank1']}" in error["message"]
    assert run.info["code"] == "rank_lost" and "rank 1" in run.info["message"]


@pytest.mark.yolov5
def test_a_rank_that_raises_ends_the_run_with_its_traceback_fabricated(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YOLO_LAB_FABRICATED_CRASH", "1:2")
    run = ddp(data_yaml, tmp_path / "runs", epochs=30, name="raise")
    assert run.wait(timeout=300) == "failed"
    error = run.events("error")[-1]
    assert error["rank"] == 1 and error["code"] == "training_failed"
    assert error["message"].startswith("rank 1: RuntimeError: fabricated crash of rank 1")
    assert "Traceback (most recent call last)" in error["traceback"]
    assert "_before_batch" in error["traceback"]
    # Rank 0 lost its peer; its own error is not the run's.
    assert "rank 1" in run.info["message"]


@pytest.mark.yolov5
def test_planted_hang_is_reported_with_stacks_and_a_stop_ends_it_fabricated(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fabricated: rank 1 sleeps before its third batch; rank 0 trains it and
    # then waits for rank 1 in the all-reduce of the gradients, a real collective.
    monkeypatch.setenv("YOLO_LAB_FABRICATED_HANG", "1:3")
    monkeypatch.setenv("YOLO_LAB_HANG_TIMEOUT_S", "5")
    run = ddp(data_yaml, tmp_path / "runs", epochs=30, name="hang")
    hung = wait_until(lambda: run.events("hung"), 300, "the hang to be reported")[-1]
    assert "hung" in hung["message"] and hung["seconds"] >= 5
    stacks = {r["rank"]: r["stack"] for r in hung["ranks"]}
    assert "_before_batch" in stacks[1], stacks[1]
    assert "in all_reduce" in stacks[0], stacks[0]  # waiting for rank 1 in a collective
    assert json.loads((run.dir / STATUS_FILE).read_text())["hung"]["seconds"] >= 5
    pids = run_pids(run)
    asked = time.monotonic()
    run.stop()
    wait_until(
        lambda: not any(alive(p) for p in pids.values()), HUNG_ENDED_S, "every process to end"
    )
    print(f"stop of a hung run to every process ended: {time.monotonic() - asked:.1f} s")
    assert run.status == "stopped"
    assert "did not stop" in (run.info["message"] or "")


def _write_many(run_dir: str, writer: int, errors: Any) -> None:
    try:
        for i in range(200):
            write_status(Path(run_dir), **{f"w{writer}": i})
    except Exception as exc:  # reported to the test, which fails on any
        errors.put(repr(exc))


def test_many_concurrent_status_writers_never_fail_nor_lose_fields(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    writers = [ctx.Process(target=_write_many, args=(str(tmp_path), w, errors)) for w in range(8)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(120)
    assert all(w.exitcode == 0 for w in writers)
    assert errors.empty(), errors.get()
    status = json.loads((tmp_path / STATUS_FILE).read_text())
    assert {f"w{w}": 199 for w in range(8)}.items() <= status.items()
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_a_fault_in_the_supervisor_ends_the_ranks_and_the_run_fabricated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fabricated: the supervisor's watch loop raises. torchrun is stood in for
    # by a real process that would run for minutes; it must be ended, and the
    # run must end failed with the traceback rather than stay "running".
    from yolo_lab._runner import supervisor as sv

    stand_in = [sys.executable, "-c", "import time; time.sleep(600)"]
    monkeypatch.setattr(sv, "torchrun_command", lambda run_dir, world: stand_in)

    def broken(self: sv.Supervisor) -> None:
        raise RuntimeError("planted fault")

    monkeypatch.setattr(sv.Supervisor, "_watch", broken)
    write_status(tmp_path, status="running")
    supervisor = sv.Supervisor(tmp_path, {"params": {"nproc": 2}})
    assert supervisor.run() == 1
    assert supervisor.torchrun is not None and supervisor.torchrun.poll() is not None
    status = json.loads((tmp_path / STATUS_FILE).read_text())
    assert status["status"] == "failed" and status["code"] == "supervisor_failed"
    assert "planted fault" in status["message"]
    errors = [json.loads(line) for line in (tmp_path / EVENTS_FILE).open()]
    assert any("planted fault" in (e.get("traceback") or "") for e in errors)
