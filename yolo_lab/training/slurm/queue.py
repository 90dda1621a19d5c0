"""A job as Slurm sees it, through Slurm's own commands.

``sbatch`` submits, ``squeue`` says where a job is (pending and why,
running where, for how long still, or how it ended while Slurm remembers
it: ``MinJobAge``), ``scontrol show hostnames`` expands a node list and
``scancel`` cancels or signals. Nothing here needs ``sacct`` (clusters
without slurmdbd have none): a job Slurm no longer lists is reported as
gone, and the run folder says how it ended.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..errors import TrainError

__all__ = ["ENDED_STATES", "Job", "cancel", "job", "submit"]

# Slurm's job states after which the job holds no node.
ENDED_STATES: Final = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "REVOKED",
        "TIMEOUT",
    }
)
_PENDING: Final = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"})
# One squeue line: id, state, reason, node list, time left, time used, nodes.
_FORMAT: Final = "%i|%T|%r|%N|%L|%M|%D"
# A Slurm command answers in well under a second on a healthy controller;
# 30 s is a busy cluster's controller, not a hung one.
_TIMEOUT_S: Final = 30.0


@dataclass(frozen=True)
class Job:
    """One job, as ``squeue`` lists it."""

    id: str
    #: Slurm's state, e.g. ``PENDING``, ``RUNNING``, ``TIMEOUT``.
    state: str
    #: Why a pending job waits (``Priority``, ``Resources``, ...); None when
    #: Slurm gives none.
    reason: str | None
    #: The nodes it holds (or held), expanded: ``["node1", "node2"]``.
    nodes: tuple[str, ...]
    #: Seconds until its time limit; None without a limit or not running.
    time_left_s: int | None
    #: Seconds it has run.
    elapsed_s: int | None

    @property
    def phase(self) -> str:
        """``pending``, ``running`` or ``ended``."""
        if self.state in ENDED_STATES:
            return "ended"
        return "pending" if self.state in _PENDING else "running"


def _command(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise TrainError(
            "slurm_missing",
            f"Slurm's {name} is not on this machine's PATH.",
            "Train on Slurm from a login node of the cluster (or a JupyterLab started there), "
            "after `module load slurm` if your cluster needs it.",
            field="cluster",
        )
    return path


def _run(args: list[str], env: Mapping[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            [_command(args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            env=None if env is None else {**os.environ, **env},
        )
    except subprocess.TimeoutExpired:
        raise TrainError(
            "slurm_unresponsive",
            f"{args[0]} did not answer in {_TIMEOUT_S:.0f} s.",
            "The Slurm controller may be busy or down: try again, or ask the cluster's admins.",
            field="cluster",
        ) from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise TrainError(
            "slurm_refused",
            f"{args[0]} refused: {said[-1] if said else f'exit status {done.returncode}'}",
            "Check the partition, account, time limit and GPUs against `sinfo` and your "
            "cluster's documentation.",
            field="cluster",
        )
    return done.stdout


def submit(script: Path, *, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    """Submit a job script with ``sbatch``; the job id."""
    out = _run(["sbatch", "--parsable", f"--chdir={cwd}", str(script)], env)
    # --parsable: "id" or "id;cluster".
    job_id = out.strip().split(";")[0]
    if not job_id.isdigit():
        raise TrainError(
            "slurm_refused",
            f"sbatch answered {out.strip()!r}, not a job id.",
            "Run the same sbatch by hand to see what the cluster says.",
            field="cluster",
        )
    return job_id


def _seconds(text: str) -> int | None:
    """Slurm's durations (``[D-]HH:MM:SS``, ``MM:SS``) in seconds."""
    match = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)", text.strip())
    if not match:
        return None  # UNLIMITED, NOT_SET, INVALID
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _nodes(nodelist: str) -> tuple[str, ...]:
    if not nodelist or nodelist in ("(null)", "None assigned"):
        return ()
    return tuple(_run(["scontrol", "show", "hostnames", nodelist]).split())


def job(job_id: str) -> Job | None:
    """The job as Slurm lists it now; None once Slurm no longer knows it."""
    try:
        out = _run(
            ["squeue", "--noheader", "--states=all", f"--jobs={job_id}", f"--format={_FORMAT}"]
        )
    except TrainError as exc:
        # squeue refuses an id it has forgotten ("Invalid job id specified").
        if "Invalid job id" in exc.message:
            return None
        raise
    for line in out.splitlines():
        fields = line.split("|")
        if len(fields) != 7 or fields[0] != str(job_id):
            continue
        ident, state, reason, nodelist, left, used, _count = fields
        return Job(
            id=ident,
            state=state.split()[0],
            reason=None if reason in ("None", "(null)", "") else reason,
            nodes=_nodes(nodelist),
            time_left_s=_seconds(left) if state == "RUNNING" else None,
            elapsed_s=_seconds(used),
        )
    return None


def cancel(job_id: str, *, signal: str | None = None, batch_only: bool = False) -> None:
    """``scancel``: end the job, or with ``signal`` only signal it (the batch
    shell alone with ``batch_only``)."""
    args = ["scancel"]
    if signal:
        args.append(f"--signal={signal}")
    if batch_only:
        args.append("--batch")
    _run([*args, str(job_id)])
