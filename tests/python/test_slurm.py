"""Jobs on a real Slurm cluster, as yolo-lab describes and follows them.

The cluster is the one ``scripts/slurm-cluster.sh up`` starts (``setup.sh
--tests`` does): slurmctld and two compute nodes, node1 and node2, on this
machine's 127.0.0.1, a CPU partition ``debug``. Each test has the cluster to
itself (the ``slurm_jobs`` fixture, conftest.py), so that the two pytest
workers never share the two nodes in ways that would change what Slurm says.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, TypeVar

import pytest
from slurm_cluster import SLURM_START_S, in_phase

from yolo_lab.training import TrainError
from yolo_lab.training.slurm import Slurm, cancel, job, submit

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def _until(what: str, check: Callable[[], T | None], budget_s: float) -> T:
    """Wait for ``check`` to give a value; Slurm's scheduler runs on events
    and a timer, so each wait has its own budget, said at the call."""
    deadline = time.monotonic() + budget_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {budget_s:.0f} s: {what}"
        time.sleep(0.2)


def _script(tmp_path: Path, name: str, body: list[str], slurm: Slurm) -> Path:
    path = tmp_path / f"{name}.sh"
    lines = ["#!/bin/bash", *slurm.directives(name, str(tmp_path / f"{name}-%j.out")), *body]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _submit(jobs: list[str], tmp_path: Path, name: str, body: list[str], slurm: Slurm) -> str:
    job_id = submit(_script(tmp_path, name, body, slurm), cwd=tmp_path)
    jobs.append(job_id)
    return job_id


START_S = SLURM_START_S


@pytest.mark.slurm
def test_a_queued_job_says_why_it_waits_then_where_it_runs(
    slurm_jobs: list[str], tmp_path: Path
) -> None:
    release = tmp_path / "release"
    hold = Slurm(partition="debug", nodes=2, time="5:00", signal_s=0)
    wait = [f"while [ ! -e {release} ]; do sleep 0.2; done"]
    blocker = _submit(slurm_jobs, tmp_path, "blocker", wait, hold)
    running = _until("the blocker runs on both nodes", in_phase("running", blocker), START_S)
    assert running.nodes == ("node1", "node2")
    assert running.time_left_s is not None and 0 < running.time_left_s <= 300

    one = Slurm(nodes=1, time="1:00", signal_s=0)
    waiting = _submit(slurm_jobs, tmp_path, "waiting", ["hostname"], one)
    # Slurm gives the reason at its next scheduling pass ("None" before it).
    pending = _until(
        "the second job waits, with Slurm's reason",
        lambda: (now := in_phase("pending", waiting)()) and now.reason and now,
        START_S,
    )
    # What the panel will show: pending, and Slurm's own reason.
    assert pending.state == "PENDING" and pending.reason == "Resources"
    assert pending.nodes == () and pending.time_left_s is None

    release.touch()
    done = _until("the second job ends", in_phase("ended", waiting), START_S)
    assert done.state == "COMPLETED" and len(done.nodes) == 1
    assert _until("the blocker ends", in_phase("ended", blocker), START_S).state == "COMPLETED"


@pytest.mark.slurm
def test_a_two_node_job_from_the_request_runs_on_both_nodes(
    slurm_jobs: list[str], tmp_path: Path
) -> None:
    request = Slurm(partition="debug", nodes=2, time="0:05:00")
    job_id = _submit(slurm_jobs, tmp_path, "two", ["srun hostname"], request)
    done = _until("the two-node job ends", in_phase("ended", job_id), START_S)
    assert done.state == "COMPLETED" and done.nodes == ("node1", "node2")
    log = (tmp_path / f"two-{job_id}.out").read_text(encoding="utf-8")
    assert len(log.split()) == 2, log  # one line per node


@pytest.mark.slurm
def test_cancelled_and_timed_out_jobs_show_how_they_ended(
    slurm_jobs: list[str], tmp_path: Path
) -> None:
    forever = ["while true; do sleep 1 & wait $!; done"]
    # The time-out runs its clock while the cancel is tried beside it. Slurm
    # keeps limits in whole minutes, so "0:05" is one minute.
    timed = _submit(slurm_jobs, tmp_path, "timed", forever, Slurm(time="0:05", signal_s=0))
    running = _until("the limited job runs", in_phase("running", timed), START_S)
    assert running.time_left_s is not None and 0 < running.time_left_s <= 60

    cancelled = _submit(slurm_jobs, tmp_path, "cancelled", forever, Slurm(time="5:00", signal_s=0))
    _until("the job runs", in_phase("running", cancelled), START_S)
    cancel(cancelled)
    assert _until("the job ends", in_phase("ended", cancelled), START_S).state == "CANCELLED"

    # The limit (60 s), then slurmctld's limit check (a 30 s timer, not
    # configurable), then KillWait (5 s): up to 95 s after the job started,
    # plus the START_S margin for a loaded machine.
    budget_s = 60 + 30 + 5 + START_S
    assert _until("the job times out", in_phase("ended", timed), budget_s).state == "TIMEOUT"


@pytest.mark.slurm
def test_a_job_slurm_refuses_says_what_slurm_said(slurm_jobs: list[str], tmp_path: Path) -> None:
    script = _script(tmp_path, "nowhere", ["hostname"], Slurm(partition="nowhere"))
    with pytest.raises(TrainError) as err:
        submit(script, cwd=tmp_path)
    assert err.value.code == "slurm_refused" and "partition" in err.value.message.lower()
    assert job("999999") is None  # a job Slurm never had


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"partition": "debug; rm -rf ~"}, "bad_slurm_partition"),
        ({"nodes": 0}, "bad_slurm_nodes"),
        ({"gpus_per_node": -1}, "bad_slurm_gpus_per_node"),
        ({"time": "four hours"}, "bad_slurm_time"),
        ({"sbatch": "--exclusive"}, "bad_slurm_sbatch"),
        ({"sbatch": ["--exclusive\nrm -rf ~"]}, "bad_slurm_sbatch"),
    ],
)
def test_a_request_slurm_cannot_read_is_refused_before_it_is_written(
    kwargs: dict[str, object], code: str
) -> None:
    with pytest.raises(TrainError) as err:
        Slurm(**kwargs)  # type: ignore[arg-type]
    assert err.value.code == code and err.value.fix
