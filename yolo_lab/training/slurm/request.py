"""What a run asks Slurm for, as ``#SBATCH`` lines."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Final

from ..errors import TrainError

__all__ = ["Slurm"]

# Slurm's time formats: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
_TIME: Final = re.compile(r"\d+(:\d{1,2}){0,2}|\d+-\d+(:\d{1,2}){0,2}")
# A partition, account or QOS name; nothing a shell or sbatch would read twice.
_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Seconds before the time limit at which Slurm signals the batch shell, so
# the run saves last.pt and ends as stopped (time limit) with its resume.
DEFAULT_SIGNAL_S: Final = 120


@dataclass(frozen=True)
class Slurm:
    """The Slurm resources of a run.

    ``partition``, ``account``, ``qos``: as the cluster names them (None:
    the cluster's default). ``nodes``: machines; one torchrun per node.
    ``gpus_per_node``: GPUs on each (0: a CPU run, DDP over gloo).
    ``cpus_per_node``: CPUs on each (None: Slurm's default).
    ``time``: the time limit in Slurm's format ("4:00:00", "1-00:00:00").
    ``sbatch``: further options, one per item, e.g. ``["--constraint=a100"]``.
    ``signal_s``: seconds before the time limit at which the run is told to
    save and stop.
    ``setup``: shell lines the job runs first on the first node, e.g.
    ``["module load cuda/12.4", "source ~/venvs/yolo/bin/activate"]``; every
    node inherits the environment they make.
    ``python``: the Python on the nodes that has yolo-lab, torch and YOLOv5
    (None: this kernel's, which must then be on a filesystem the nodes share).
    """

    partition: str | None = None
    nodes: int = 1
    gpus_per_node: int = 0
    cpus_per_node: int | None = None
    time: str | None = None
    account: str | None = None
    qos: str | None = None
    sbatch: Sequence[str] = field(default_factory=tuple)
    signal_s: int = DEFAULT_SIGNAL_S
    setup: Sequence[str] = field(default_factory=tuple)
    python: str | None = None

    def __post_init__(self) -> None:
        for name in ("partition", "account", "qos"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, str) and _NAME.fullmatch(value)):
                raise TrainError(
                    f"bad_slurm_{name}",
                    f"Slurm {name} {value!r} is not a name Slurm uses.",
                    f"Give the {name} as `sinfo` or `sacctmgr show assoc` lists it, "
                    f"or leave it out for the cluster's default.",
                    field=name,
                )
        for name, low in (("nodes", 1), ("gpus_per_node", 0), ("signal_s", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise TrainError(
                    f"bad_slurm_{name}",
                    f"Slurm {name} {value!r}: a whole number from {low}.",
                    f"For example {name}={max(low, 1)}.",
                    field=name,
                )
        if self.cpus_per_node is not None and (
            isinstance(self.cpus_per_node, bool)
            or not isinstance(self.cpus_per_node, int)
            or self.cpus_per_node < 1
        ):
            raise TrainError(
                "bad_slurm_cpus_per_node",
                f"Slurm cpus_per_node {self.cpus_per_node!r}: a whole number from 1.",
                "For example cpus_per_node=8, or leave it out.",
                field="cpus_per_node",
            )
        if self.time is not None and not (
            isinstance(self.time, str) and _TIME.fullmatch(self.time.strip())
        ):
            raise TrainError(
                "bad_slurm_time",
                f"Slurm time {self.time!r} is not a time Slurm reads.",
                'Use Slurm\'s format, e.g. time="4:00:00" or time="1-00:00:00".',
                field="time",
            )
        if isinstance(self.sbatch, str) or not all(
            isinstance(option, str) and option.startswith("-") and "\n" not in option
            for option in self.sbatch
        ):
            raise TrainError(
                "bad_slurm_sbatch",
                f"sbatch options {self.sbatch!r}: a list of options, one per item.",
                'For example sbatch=["--constraint=a100", "--exclusive"].',
                field="sbatch",
            )
        if isinstance(self.setup, str) or not all(
            isinstance(line, str) and "\n" not in line and "\r" not in line for line in self.setup
        ):
            raise TrainError(
                "bad_slurm_setup",
                f"setup {self.setup!r}: a list of shell lines, one per item.",
                'For example setup=["module load cuda/12.4", "source ~/venv/bin/activate"].',
                field="setup",
            )
        if self.python is not None and not (
            isinstance(self.python, str) and self.python.startswith("/") and "\n" not in self.python
        ):
            raise TrainError(
                "bad_slurm_python",
                f"python {self.python!r}: the absolute path of a Python on the nodes.",
                'For example python="/shared/venvs/yolo/bin/python", or leave it out for '
                "this kernel's.",
                field="python",
            )
        # Kept as tuples: a request read back from a run's spec equals the one given.
        object.__setattr__(self, "sbatch", tuple(self.sbatch))
        object.__setattr__(self, "setup", tuple(self.setup))

    def as_spec(self) -> dict[str, Any]:
        """The request as the run's spec keeps it (JSON)."""
        out = asdict(self)
        out["sbatch"], out["setup"] = list(self.sbatch), list(self.setup)
        return out

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Slurm:
        """The request a run's spec kept; keys of a later version are left out."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in spec.items() if k in known})

    def directives(self, job_name: str, output: str) -> list[str]:
        """The job script's ``#SBATCH`` lines; ``output``: the log's path
        (``%j`` is the job id)."""
        lines = [
            f"--job-name={job_name}",
            f"--output={output}",
            "--open-mode=append",
            f"--nodes={self.nodes}",
            "--ntasks-per-node=1",
            # Requeue on preemption or node failure: the run resumes from
            # last.pt (SLURM_RESTART_COUNT says it is a restart).
            "--requeue",
        ]
        if self.signal_s:
            # B: the batch shell gets it (not the steps: a plain USR1 would
            # end torchrun's agents before the ranks could save).
            lines.append(f"--signal=B:USR1@{self.signal_s}")
        if self.partition:
            lines.append(f"--partition={self.partition}")
        if self.account:
            lines.append(f"--account={self.account}")
        if self.qos:
            lines.append(f"--qos={self.qos}")
        if self.time:
            lines.append(f"--time={self.time.strip()}")
        if self.gpus_per_node:
            lines.append(f"--gpus-per-node={self.gpus_per_node}")
        if self.cpus_per_node:
            lines.append(f"--cpus-per-task={self.cpus_per_node}")
        lines.extend(self.sbatch)
        return [f"#SBATCH {line}" for line in lines]
