"""What the Slurm tests share: the budget of a job's start, the jobs' states.

The cluster is the one ``scripts/slurm-cluster.sh up`` starts; the
``slurm_jobs`` fixture (conftest.py) gives it to one test at a time.
"""

from __future__ import annotations

from collections.abc import Callable

from yolo_lab.training.slurm import Job, job

#: A job starts within one scheduler pass once nodes are free (a second or
#: two here), and ends within KillWait (5 s) of a cancel; 60 s covers a
#: loaded CI machine.
SLURM_START_S = 60.0


def in_phase(phase: str, job_id: str) -> Callable[[], Job | None]:
    """A check for ``wait_until``: the job, once Slurm lists it in ``phase``."""

    def check() -> Job | None:
        now = job(job_id)
        return now if now is not None and now.phase == phase else None

    return check
