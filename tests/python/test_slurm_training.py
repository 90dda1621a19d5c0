"""Training on the real two-node Slurm cluster: ``train(..., cluster=Slurm(...))``.

Each test trains YOLOv5 for real on the shapes set, as a Slurm job of the
cluster ``scripts/slurm-cluster.sh`` starts (two nodes, node1 and node2, one
CPU each): torchrun on each node under srun, gloo between them, the run
folder on this machine's filesystem, which both nodes share. The kernel
side (this process) follows the run as a notebook does: ``run.status``,
``run.info``, ``run.events()``, ``run.wait()``.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil
import pytest
from slurm_cluster import SLURM_START_S, in_phase
from waiting import wait_until

from yolo_lab import shapes, training
from yolo_lab._runner.supervisor import DEFAULT_STOP_GRACE_S
from yolo_lab.training import TrainError
from yolo_lab.training.rundir import STATUS_FILE, read_ranks, write_status
from yolo_lab.training.slurm import Slurm, job, submit

IMGSZ = 64
#: A two-epoch run of the shapes set on two one-CPU nodes: about 30 s quiet;
#: the budget is for a loaded machine with the other pytest worker training.
TRAIN_S = 300.0
ENDED_S = DEFAULT_STOP_GRACE_S + 10


@pytest.fixture(scope="module")
def data_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shapes")
    return shapes.make_shapes_dataset(out / "shapes", train=32, val=8, image_size=IMGSZ, seed=2)


def on_slurm(data: Path, project: Path, jobs: list[str], slurm: Slurm, **kw: Any) -> training.Run:
    options: dict[str, Any] = dict(batch_size=8, epochs=2, imgsz=IMGSZ, workers=0, project=project)
    options.update(kw)
    run = training.train(data, cluster=slurm, **options)
    jobs.append(str(run.info["slurm"]["job"]))
    return run


def hold_nodes(tmp_path: Path, jobs: list[str]) -> tuple[str, Path]:
    """A job that holds both nodes until its release file appears."""
    release = tmp_path / "release"
    script = tmp_path / "hold.sh"
    lines = [
        "#!/bin/bash",
        *Slurm(nodes=2, time="10:00", signal_s=0).directives("hold", "hold-%j.out"),
        f"while [ ! -e {release} ]; do sleep 0.2; done",
    ]
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    job_id = submit(script, cwd=tmp_path)
    jobs.append(job_id)
    wait_until(in_phase("running", job_id), SLURM_START_S, "the holding job runs")
    return job_id, release


def training_on_both_nodes(run: training.Run) -> dict[int, dict[str, Any]] | None:
    states = read_ranks(run.dir, "state")
    nodes = sorted(s.get("node") for s in states.values())
    return states if nodes == ["node1", "node2"] and run.events("batch") else None


@pytest.mark.slurm
@pytest.mark.yolov5
def test_a_two_node_run_waits_in_the_queue_then_trains_on_both_nodes(
    slurm_jobs: list[str], data_yaml: Path, tmp_path: Path
) -> None:
    _, release = hold_nodes(tmp_path, slurm_jobs)
    run = on_slurm(data_yaml, tmp_path / "runs", slurm_jobs, Slurm(nodes=2, time="10:00"))
    # Pending, with Slurm's reason, before anything runs.
    pending = wait_until(
        lambda: run.info if run.info["slurm"].get("reason") else None,
        SLURM_START_S,
        "the run waits, with Slurm's reason",
    )
    assert pending["status"] == "pending" and run.running
    assert pending["slurm"]["reason"] == "Resources" and pending["slurm"]["nodes"] == []
    assert "Resources" in pending["message"]

    release.touch()
    assert run.wait(timeout=TRAIN_S) == "finished", run.log.read_text()[-3000:]
    start = run.events("start")[0]
    assert start["world_size"] == 2 and start["ddp"] == "cpu-gloo"
    notices = [e["message"] for e in run.events("notice")]
    assert any("runs on node1, node2" in m for m in notices), notices
    # One rank on each node, both finished with the same weights.
    states = read_ranks(run.dir, "state")
    assert {s["node"] for s in states.values()} == {"node1", "node2"}
    assert all(s["status"] == "finished" for s in states.values())
    assert states[0]["weights_sum"] == pytest.approx(states[1]["weights_sum"], rel=1e-9)
    assert [int(r["epoch"]) for r in run.results()] == [0, 1] and run.best is not None
    assert (run.dir / "slurm-job.sh").read_text().count("#SBATCH --nodes=2") == 1
    assert wait_until(in_phase("ended", run.info["slurm"]["job"]), SLURM_START_S, "the job ends")


@pytest.mark.slurm
@pytest.mark.yolov5
def test_a_stop_reaches_every_rank_on_both_nodes_then_resume_continues(
    slurm_jobs: list[str], data_yaml: Path, tmp_path: Path
) -> None:
    run = on_slurm(
        data_yaml, tmp_path / "runs", slurm_jobs, Slurm(nodes=2, time="10:00"), epochs=30
    )
    started = wait_until(
        lambda: training_on_both_nodes(run), TRAIN_S, "a batch, a rank on each node"
    )
    pids = [int(s["pid"]) for s in started.values()]
    run.stop()
    # Both nodes' ranks stop at the same batch (the supervisor's grace, then
    # 10 s to see the exits on a loaded machine, as test_ddp's ENDED_S).
    wait_until(lambda: not any(psutil.pid_exists(p) for p in pids), ENDED_S, "every rank ends")
    assert run.wait(timeout=TRAIN_S) == "stopped", run.info
    states = read_ranks(run.dir, "state")
    assert all(s["status"] == "stopped" for s in states.values()), states
    saved = [e for e in run.events("saved") if e.get("stopped")]
    assert len(saved) == 1 and run.last is not None, "last.pt is saved once, by rank 0"
    ended = wait_until(in_phase("ended", run.info["slurm"]["job"]), SLURM_START_S, "job ends")
    assert ended.state == "COMPLETED"

    ni = max(b["ni"] for b in run.events("batch"))
    first_job = run.info["slurm"]["job"]
    resumed = training.resume(run)
    slurm_jobs.append(str(resumed.info["slurm"]["job"]))
    assert resumed.info["slurm"]["job"] != first_job, "a resume is a new job"
    wait_until(
        lambda: max(b["ni"] for b in resumed.events("batch")) > ni, TRAIN_S, "a batch after ni"
    )
    assert run.events("start")[-1]["resume"] == str(run.dir / "weights" / "last.pt")
    resumed.stop()
    assert resumed.wait(timeout=TRAIN_S) == "stopped"


@pytest.mark.slurm
@pytest.mark.yolov5
def test_the_time_limit_signal_saves_and_says_how_to_resume(
    slurm_jobs: list[str], data_yaml: Path, tmp_path: Path
) -> None:
    # One minute, the warning 50 s before it. Slurm sends it on its own
    # timer, up to 60 s early: here often before the first batch, which the
    # stop then comes before (last.pt is saved all the same).
    slurm = Slurm(nodes=1, time="1:00", signal_s=50)
    run = on_slurm(data_yaml, tmp_path / "runs", slurm_jobs, slurm, epochs=100)
    assert run.wait(timeout=60 + 30 + TRAIN_S) == "stopped", run.info
    info = run.info
    assert info["code"] == "time_limit" and "time limit" in info["message"]
    assert f"yolo_lab.resume({str(run.dir)!r})" in info["fix"]
    assert run.last is not None and run.events("end")[-1]["last"] == str(run.last)
    assert run.events("end")[-1]["message"] == info["message"]


@pytest.mark.slurm
@pytest.mark.yolov5
def test_a_requeued_job_resumes_from_last_pt_by_itself(
    slurm_jobs: list[str], data_yaml: Path, tmp_path: Path
) -> None:
    run = on_slurm(data_yaml, tmp_path / "runs", slurm_jobs, Slurm(nodes=1, time="10:00"), epochs=4)
    job_id = run.info["slurm"]["job"]
    wait_until(lambda: run.last, TRAIN_S, "last.pt of the first epoch")
    # What a preemption with requeue does: Slurm ends the job, queues it again.
    subprocess.run(["scontrol", "requeue", job_id], check=True, timeout=60)
    # The run follows the job through it: never ended in between.
    assert run.wait(timeout=TRAIN_S * 2) == "finished", run.log.read_text()[-3000:]
    notices = [e["message"] for e in run.events("notice")]
    assert any("requeued" in m for m in notices), notices
    starts = run.events("start")
    assert len(starts) == 2 and starts[1]["resume"] == str(run.dir / "weights" / "last.pt")
    assert [int(r["epoch"]) for r in run.results()][-1] == 3
    assert run.info["slurm"]["restarts"] == 1


@pytest.mark.slurm
@pytest.mark.yolov5
def test_a_rank_killed_on_node2_ends_the_run_with_that_nodes_error(
    slurm_jobs: list[str], data_yaml: Path, tmp_path: Path
) -> None:
    run = on_slurm(
        data_yaml, tmp_path / "runs", slurm_jobs, Slurm(nodes=2, time="10:00"), epochs=30
    )
    states = wait_until(lambda: training_on_both_nodes(run), TRAIN_S, "a rank on each node")
    rank, state = next((r, s) for r, s in states.items() if s["node"] == "node2")
    os.kill(state["pid"], signal.SIGKILL)  # node2's rank dies without a word
    assert run.wait(timeout=TRAIN_S) == "failed"
    info = run.info
    assert info["code"] == "rank_lost", info
    assert f"rank {rank} on node2 (pid {state['pid']})" in info["message"]
    assert run.events("error")[-1]["rank"] == rank
    wait_until(in_phase("ended", info["slurm"]["job"]), SLURM_START_S, "the job ends")


@pytest.mark.slurm
@pytest.mark.yolov5
def test_a_pending_run_stops_by_leaving_the_queue_and_a_cancelled_one_says_so(
    slurm_jobs: list[str], data_yaml: Path, tmp_path: Path
) -> None:
    _, release = hold_nodes(tmp_path, slurm_jobs)
    first = on_slurm(data_yaml, tmp_path / "runs", slurm_jobs, Slurm(nodes=1), name="first")
    second = on_slurm(data_yaml, tmp_path / "runs", slurm_jobs, Slurm(nodes=1), name="second")
    wait_until(lambda: first.status == "pending", SLURM_START_S, "the first run waits")
    first.stop()  # from the kernel: the job leaves the queue
    assert first.status == "stopped" and first.info["code"] == "slurm_cancelled"
    assert "waiting in Slurm's queue" in first.info["message"]
    assert (
        wait_until(
            in_phase("ended", first.info["slurm"]["job"]), SLURM_START_S, "its job ends"
        ).state
        == "CANCELLED"
    )

    # Cancelled in Slurm itself (scancel, an admin): the run says so, and
    # writes it in its folder, since Slurm forgets jobs.
    subprocess.run(["scancel", second.info["slurm"]["job"]], check=True, timeout=60)
    wait_until(lambda: second.status == "stopped", SLURM_START_S, "the run sees the cancel")
    written = training.Run(second.dir).info
    assert written["code"] == "slurm_cancelled" and "cancelled in Slurm" in written["message"]
    assert not first.last and not second.last  # neither started
    release.touch()


@pytest.mark.slurm
def test_a_job_slurm_no_longer_lists_is_lost_never_running(tmp_path: Path, _slurm_up: None) -> None:
    # A run whose job Slurm has forgotten (MinJobAge passed, the controller's
    # state lost) and that never wrote its end: the real squeue answers.
    run_dir = tmp_path / "runs" / "gone"
    run_dir.mkdir(parents=True)
    write_status(run_dir, status="running", slurm={"job": "999999", "restarts": 0})
    assert job("999999") is None
    info = training.Run(run_dir).info
    assert info["status"] == "lost" and info["code"] == "slurm_gone"
    assert "no longer lists job 999999" in info["message"]
    assert '"lost"' in (run_dir / STATUS_FILE).read_text(), "written, so it stays after Slurm"


@pytest.mark.parametrize(
    ("kwargs", "code", "field"),
    [
        ({"cluster": "slurm"}, "bad_cluster", "cluster"),
        ({"cluster": Slurm(), "detach": True}, "bad_detach", "detach"),
        ({"cluster": Slurm(gpus_per_node=2), "device": [0, 1]}, "bad_device", "device"),
        ({"cluster": Slurm(nodes=2), "nproc": 2, "batch_size": 6}, "bad_batch_size", "batch_size"),
        (
            {"cluster": Slurm(nodes=2, gpus_per_node=1), "batch_size": "auto"},
            "bad_batch_size",
            "batch_size",
        ),
    ],
)
def test_a_slurm_run_slurm_cannot_take_is_refused_before_anything_starts(
    tmp_path: Path, kwargs: dict[str, Any], code: str, field: str
) -> None:
    with pytest.raises(TrainError) as err:
        training.train(tmp_path / "data.yaml", project=tmp_path / "runs", **kwargs)
    assert (err.value.code, err.value.field) == (code, field) and err.value.fix
    assert not (tmp_path / "runs").exists()


@pytest.mark.yolov5
def test_without_slurm_commands_a_slurm_run_says_where_to_train(
    data_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(TrainError) as err:
        training.train(data_yaml, cluster=Slurm(), epochs=1, imgsz=IMGSZ, project=tmp_path / "runs")
    assert err.value.code == "slurm_missing" and "login node" in err.value.fix
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert training.Run(run_dir).info["code"] == "slurm_missing"  # the folder says why
