"""Training on a Slurm cluster: what to ask Slurm for, and the job as Slurm sees it.

yolo-lab schedules nothing itself: it describes a job for ``sbatch`` and
follows it with Slurm's own commands (``sbatch``, ``squeue``, ``scancel``,
``scontrol``), which every Slurm cluster has, from a login node or a
JupyterLab there (Open OnDemand, batchspawner).

- :mod:`.request`: :class:`Slurm`, the resources a run asks for
  (partition, nodes, GPUs per node, time, account, extra ``#SBATCH``
  options), checked and written as ``#SBATCH`` lines;
- :mod:`.queue`: submit a job script, read a job's state (pending with
  Slurm's reason, running on which nodes, time left, or how it ended),
  cancel or signal it.
"""

from __future__ import annotations

from .queue import ENDED_STATES, Job, cancel, job, submit
from .request import Slurm

__all__ = ["ENDED_STATES", "Job", "Slurm", "cancel", "job", "submit"]
