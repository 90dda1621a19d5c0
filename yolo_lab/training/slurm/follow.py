"""A run on Slurm, from the kernel: its job script, its submission, and its
status as the run folder and Slurm say it together.

The job (``yolo_lab._runner.slurm``) writes the run's events and status in
the run folder, on a filesystem the nodes share, exactly as a run on this
machine does; what only Slurm knows is added here from ``squeue``:

- **pending**, with Slurm's reason (``Priority``, ``Resources``, ...), before
  the job starts, and again after a requeue until it starts again;
- where it runs (the nodes) and the time left before its limit;
- how a job ended that could not write its end: killed at its time limit,
  a node that failed, out of memory, cancelled before it started, or a job
  Slurm no longer lists. Such an end is written into the run folder, so it
  stays after Slurm forgets the job.
"""

from __future__ import annotations

import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Final

from ..rundir import LOG_FILE, TERMINAL, read_status, write_status
from .queue import Job, cancel, job, submit
from .request import Slurm

__all__ = ["JOB_SCRIPT", "job_id_of", "job_script", "slurm_status", "start_job", "stop_job"]

JOB_SCRIPT: Final = "slurm-job.sh"
# squeue is asked at most this often per job (a view and Run.wait() ask
# several times a second).
_ASK_EVERY_S: Final = 1.0
_asked: dict[str, tuple[float, Job | None]] = {}

# How Slurm ended a job whose run could not write its end: status, words, fix.
_ENDS: Final = {
    "TIMEOUT": (
        "failed",
        "Slurm ended the job at its time limit before the run could save",
        "resume the run (from the last epoch's last.pt); ask for more time "
        '(Slurm(time="...")) or an earlier warning (Slurm(signal_s=...))',
    ),
    "CANCELLED": (
        "stopped",
        "the job was cancelled in Slurm (scancel) before the run could save",
        "resume the run from its last.pt",
    ),
    "NODE_FAIL": (
        "failed",
        "a node of the job failed (Slurm: NODE_FAIL)",
        "resume the run from its last.pt; Slurm names the node in `scontrol show job`",
    ),
    "OUT_OF_MEMORY": (
        "failed",
        "Slurm ended the job: out of memory",
        'ask for more memory (Slurm(sbatch=["--mem=64G"])), or use a smaller batch or imgsz',
    ),
    "BOOT_FAIL": ("failed", "a node of the job did not boot (Slurm: BOOT_FAIL)", "submit again"),
    "DEADLINE": ("failed", "the job missed its deadline (Slurm: DEADLINE)", "submit again"),
    "PREEMPTED": (
        "stopped",
        "the job was preempted and not requeued",
        "resume the run from its last.pt",
    ),
}


# A run that saved and stopped on Slurm's TERM, by how the job then ended.
_SIGNALLED_ENDS: Final = {
    "TIMEOUT": ("time_limit", "Slurm's time limit: saved last.pt and stopped"),
    "CANCELLED": ("slurm_cancelled", "cancelled in Slurm (scancel): saved last.pt and stopped"),
    "PREEMPTED": ("slurm_preempted", "preempted in Slurm: saved last.pt and stopped"),
}


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64] or "run"


def job_script(run_dir: Path, slurm: Slurm) -> str:
    """The job script of a run: its ``#SBATCH`` lines, the set-up lines, then
    the run's head on the first node."""
    python = slurm.python or sys.executable
    return "\n".join(
        [
            "#!/bin/bash",
            "# The Slurm job of the yolo-lab run in this folder, written by",
            "# train(..., cluster=Slurm(...)). yolo_lab.resume() submits it again.",
            *slurm.directives(f"yolo-lab-{_safe_name(run_dir.name)}", "slurm-%j.out"),
            *slurm.setup,
            f"exec {shlex.quote(python)} -m yolo_lab._runner.slurm head "
            f"{shlex.quote(str(run_dir))}",
            "",
        ]
    )


def start_job(run_dir: Path, slurm: Slurm, env: dict[str, str]) -> str:
    """Write the job script into the run folder and submit it; the job id."""
    script = run_dir / JOB_SCRIPT
    script.write_text(job_script(run_dir, slurm), encoding="utf-8")
    job_id = submit(script, cwd=run_dir, env=env)
    write_status(run_dir, slurm={"job": job_id, "restarts": 0, "signalled": False})
    return job_id


def job_id_of(status: dict[str, Any]) -> str | None:
    value = (status.get("slurm") or {}).get("job")
    return str(value) if value else None


def _job(job_id: str) -> Job | None:
    now = time.monotonic()
    cached = _asked.get(job_id)
    if cached is not None and now - cached[0] < _ASK_EVERY_S:
        return cached[1]
    found = job(job_id)
    _asked[job_id] = (now, found)
    return found


def slurm_status(run_dir: Path, status: dict[str, Any]) -> dict[str, Any]:
    """The run's status with what Slurm says of its job (see the module).

    Until the job has ended, its run is not over, whatever the run folder
    says: a run that wrote its end while Slurm requeues the job goes on
    (pending, then starting again). Once Slurm says the job ended, or no
    longer lists it, the status is settled and Slurm is not asked again.
    """
    job_id = job_id_of(status)
    slurm = dict(status.get("slurm") or {})
    if job_id is None or slurm.get("settled"):
        return status
    status = {**status, "slurm": slurm}
    ended = status.get("status") in TERMINAL
    try:
        now = _job(job_id)
    except Exception as exc:  # Slurm's commands missing or not answering
        slurm["error"] = getattr(exc, "message", str(exc))
        return status
    if now is not None:
        slurm.update(
            state=now.state, reason=now.reason, nodes=list(now.nodes), time_left_s=now.time_left_s
        )
        if now.phase == "pending":
            status["status"] = "pending"  # also after a requeue, until it starts again
            status["message"] = f"waiting in Slurm's queue ({now.reason})" if now.reason else None
            return status
        if now.phase == "running":
            if ended:
                status["status"] = "running"  # its end is written; the job ends or is requeued
            return status
    # The job has ended (or Slurm forgot it): the run folder's word now is its last.
    fresh = read_status(run_dir)
    status = {**fresh, "slurm": {**slurm, **(fresh.get("slurm") or {})}}
    if fresh.get("status") in TERMINAL:
        return _settle(run_dir, status, now.state if now is not None else None)
    if now is None:
        return _write_end(
            run_dir,
            status,
            "lost",
            f"Slurm no longer lists job {job_id}, and the run did not record its end",
            f"see {run_dir / f'slurm-{job_id}.out'} and {run_dir / LOG_FILE}; "
            "resume the run from its last.pt",
            "slurm_gone",
        )
    kind, words, fix = _ENDS.get(
        now.state, ("failed", f"the job ended ({now.state}) before the run recorded its end", "")
    )
    return _write_end(
        run_dir,
        status,
        kind,
        f"{words} (job {job_id}, {now.state})",
        fix or f"see {run_dir / f'slurm-{job_id}.out'} and {run_dir / LOG_FILE}",
        f"slurm_{now.state.lower()}",
    )


def _settle(run_dir: Path, status: dict[str, Any], state: str | None) -> dict[str, Any]:
    """The job has ended and the run wrote its end: said once, in the folder.

    A run that stopped on Slurm's TERM says which end it was (the time
    limit, a cancel, a preemption), which only the job's state tells.
    """
    slurm = {**(status.get("slurm") or {}), "settled": True}
    said = _SIGNALLED_ENDS.get(state or "") if slurm.get("signalled") else None
    fields: dict[str, Any] = {"slurm": slurm}
    if said is not None and status.get("status") == "stopped":
        fields.update(code=said[0], message=said[1])
    write_status(run_dir, **fields)
    return {**status, **fields}


def _write_end(
    run_dir: Path, status: dict[str, Any], kind: str, message: str, fix: str, code: str
) -> dict[str, Any]:
    """Record an end only Slurm knew, once, in the run folder."""
    slurm = {**(status.get("slurm") or {}), "settled": True}
    end = {"status": kind, "message": message, "fix": fix, "code": code, "ended": time.time()}
    write_status(run_dir, **end, slurm=slurm)
    return {**status, **end, "slurm": slurm}


def stop_job(run_dir: Path, status: dict[str, Any]) -> bool:
    """Stop a run on Slurm: a pending job leaves the queue; a running one
    stops after its batch (the stop file, on the shared filesystem)."""
    job_id = job_id_of(status)
    if job_id is None:
        return False
    if status.get("status") == "pending":
        cancel(job_id)
        _asked.pop(job_id, None)
        end = {
            "status": "stopped",
            "message": f"cancelled while waiting in Slurm's queue (job {job_id})",
            "code": "slurm_cancelled",
            "ended": time.time(),
        }
        write_status(run_dir, **end, slurm={**(status.get("slurm") or {}), "settled": True})
        return True
    return False
