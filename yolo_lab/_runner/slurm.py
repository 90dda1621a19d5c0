"""A run's Slurm job, on the cluster's nodes.

``python -m yolo_lab._runner.slurm head RUN_DIR`` is what the job script
runs on the first node of the allocation (``sbatch`` runs the script there).
It is the run's supervisor, as ``yolo_lab._runner.supervisor`` is on one
machine, with Slurm as the way to the other nodes:

- it starts the ranks with ``srun``: one task per node, each
  ``python -m yolo_lab._runner.slurm node ...``, which becomes torchrun with
  ``--node-rank`` from Slurm (``SLURM_NODEID``) and the rendezvous on the
  first node; a run of one process is one ``srun`` of the runner;
- Slurm's signals become the run's stop, with words that say which:
  ``USR1`` (asked for with ``--signal=B:USR1@N``) before the time limit,
  ``TERM`` for ``scancel``, a preemption or a requeue; every rank stops at
  the same batch, rank 0 saves ``last.pt``, the run ends as stopped;
- after a requeue (``SLURM_RESTART_COUNT``) it resumes from ``last.pt`` by
  itself;
- a node whose rank fails ends the run with that rank's error and the node's
  name (srun's own report says which node failed first).

The run folder must be on a filesystem every node shares; the kernel that
submitted the job follows the run from there (and from ``squeue``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..training.rundir import (
    EVENTS_FILE,
    LOG_FILE,
    RANKS_DIR,
    SPEC_FILE,
    STOP_FILE,
    TERMINAL,
    ask_to_stop,
    normalize_spec,
    read_status,
    spec_nodes,
    spec_per_node,
    spec_world,
    write_spec,
    write_status,
)
from .events import Events
from .process import node_name
from .supervisor import Supervisor, _free_port

TIME_LIMIT_WORDS = "Slurm's time limit is near: saved last.pt and stopped"
SIGNALLED_WORDS = "Slurm ended the job (scancel, a preemption or a requeue)"
# srun's report of a task that failed: "srun: error: node2: task 1: Killed".
_SRUN_ERROR = re.compile(r"^srun: error: (\S+): tasks? [\d\-,]+: (.+)$", re.MULTILINE)


def _scontrol(*args: str) -> str:
    done = subprocess.run(
        ["scontrol", *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def hostnames(nodelist: str) -> list[str]:
    """Slurm's node list (``node[1-2]``) as names."""
    return _scontrol("show", "hostnames", nodelist).split()


def node_addr(node: str) -> str:
    """The address other nodes reach ``node`` at: Slurm's ``NodeAddr`` (a
    name that resolves, or an address), else the node's name."""
    match = re.search(r"\bNodeAddr=(\S+)", _scontrol("show", "node", node))
    return match.group(1) if match else node


class _Stops:
    """Slurm's signals to the job, as stops of the run with their words."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.time_limit = False
        self.signalled = False

    def on_signal(self, signum: int, frame: Any) -> None:
        if signum == signal.SIGUSR1:
            self.time_limit = True
            self.request("Slurm's time limit", TIME_LIMIT_WORDS)
        else:
            self.signalled = True
            self.request(f"signal {signal.Signals(signum).name}", SIGNALLED_WORDS)

    def install(self) -> None:
        for signum in (signal.SIGUSR1, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.on_signal)


class SlurmSupervisor(Supervisor):
    """The supervisor of a run whose ranks are on several nodes (srun)."""

    def __init__(self, run_dir: Path, spec: dict[str, Any], job_id: str, nodes: list[str]):
        super().__init__(run_dir, spec)
        self.job_id = job_id
        self.nodes = nodes
        self.per_node = spec_per_node(spec)
        self.log_start = _size(run_dir / LOG_FILE)
        # The records of an earlier start (a resume, a requeue) are not this one's.
        for old in (run_dir / RANKS_DIR).glob("rank*.*.json"):
            old.unlink(missing_ok=True)

    def command(self) -> list[str]:
        # The rendezvous: node rank 0 (the first node, where this process
        # runs) holds torchrun's store on a port free here.
        endpoint = f"{node_addr(self.nodes[0])}:{_free_port()}"
        return [
            "srun",
            "--kill-on-bad-exit=1",
            f"--nodes={len(self.nodes)}",
            f"--ntasks={len(self.nodes)}",
            "--ntasks-per-node=1",
            sys.executable,
            "-m",
            "yolo_lab._runner.slurm",
            "node",
            str(self.run_dir),
            endpoint,
            str(len(self.nodes)),
            str(self.per_node),
        ]

    def where(self, state: dict[str, Any]) -> str:
        node = state.get("node")
        return f" on {node}" if node else ""

    def kill_all(self, why: str) -> None:
        # The ranks of other nodes are Slurm's to end: the step, with SIGKILL.
        try:
            subprocess.run(
                ["scancel", "--signal=KILL", f"{self.job_id}.{self._step()}"],
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError):
            pass  # srun's end below ends the step too
        super().kill_all(why)

    def _step(self) -> str:
        out = subprocess.run(
            ["squeue", "--steps", "--noheader", f"--jobs={self.job_id}", "--format=%i"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.split()
        steps = [s.split(".", 1)[1] for s in out if re.fullmatch(rf"{self.job_id}\.\d+", s)]
        return steps[-1] if steps else "0"

    def srun_errors(self) -> list[tuple[str, str]]:
        """srun's reports of failed tasks since this start: (node, what), first first."""
        try:
            with open(self.run_dir / LOG_FILE, "rb") as log:
                log.seek(self.log_start)
                text = log.read().decode("utf-8", "replace")
        except OSError:
            return []
        return [(m.group(1), m.group(2).strip()) for m in _SRUN_ERROR.finditer(text)]

    def _culprit(self, states: dict[int, dict[str, Any]]) -> tuple[int, dict[str, Any]] | None:
        """The rank whose end ended the run: one that died without a word
        (a rank that loses a peer records its own failure), on the node srun
        names first when several did (srun ends the others' tasks after)."""
        silent = sorted(r for r, s in states.items() if "ended" not in s)
        if self.forced or not silent:
            return super()._culprit(states)
        errors = self.srun_errors()
        first = errors[0][0] if errors else None
        rank = next((r for r in silent if states[r].get("node") == first), silent[0])
        return rank, states[rank]

    def start_failure(self, returncode: int) -> str:
        errors = self.srun_errors()
        said = f" ({errors[0][0]}: {errors[0][1]})" if errors else ""
        return f"srun ended with status {returncode} before the ranks started{said}"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _one_process(run_dir: Path) -> int:
    """A run of one process: one srun of the runner, which writes its own end."""
    log = open(run_dir / LOG_FILE, "ab")
    try:
        step = subprocess.Popen(
            [
                "srun",
                "--nodes=1",
                "--ntasks=1",
                sys.executable,
                "-m",
                "yolo_lab._runner",
                str(run_dir),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(run_dir),
        )
    finally:
        log.close()
    return step.wait()


def _ask_to_stop(run_dir: Path) -> Any:
    """The stop of a run of one process: the stop file, with Slurm's words."""

    def request(reason: str, words: str) -> None:
        try:
            ask_to_stop(run_dir, words)
        except OSError:
            pass  # the runner gets the same signal from Slurm, or ends with the job

    return request


def _resume_after_requeue(run_dir: Path, spec: dict[str, Any], events: Events) -> bool:
    """A requeued job's second start continues from last.pt, by itself."""
    last = run_dir / "weights" / "last.pt"
    if read_status(run_dir).get("status") == "finished" or not last.is_file():
        return False
    spec["resume"] = str(last)
    write_spec(run_dir, spec)
    # The stop of the previous start (Slurm's TERM) is not this start's.
    (run_dir / STOP_FILE).unlink(missing_ok=True)
    events.emit("notice", message="Slurm requeued the job: the run resumes from last.pt.")
    return True


def head(run_dir: Path) -> int:
    job_id = os.environ.get("SLURM_JOB_ID")
    if not job_id:
        print("yolo-lab: the head of a Slurm run runs inside a Slurm job", file=sys.stderr)
        return 2
    spec = normalize_spec(json.loads((run_dir / SPEC_FILE).read_text(encoding="utf-8")))
    restarts = int(os.environ.get("SLURM_RESTART_COUNT") or 0)
    nodes = hostnames(os.environ.get("SLURM_JOB_NODELIST") or node_name())
    events = Events(run_dir / EVENTS_FILE)
    if restarts:
        _resume_after_requeue(run_dir, spec, events)
    where = {"job": job_id, "nodes": nodes, "node": node_name(), "restarts": restarts}
    write_status(
        run_dir,
        status="starting",
        pid=os.getpid(),
        ended=None,
        message=None,
        code=None,
        fix=None,
        hung=None,
        slurm={**where, "signalled": False},
    )
    events.emit(
        "notice",
        message=f"Slurm job {job_id} runs on {', '.join(nodes)}"
        + (f" (restart {restarts})" if restarts else "")
        + ".",
    )
    if spec_world(spec) > 1:
        if spec_nodes(spec) != len(nodes):
            print(
                f"yolo-lab: the job has {len(nodes)} nodes, the run asks for {spec_nodes(spec)}",
                file=sys.stderr,
            )
        supervisor = SlurmSupervisor(run_dir, spec, job_id, nodes)
        stops = _Stops(supervisor.request_stop)
        stops.install()
        returncode = supervisor.run()
    else:
        stops = _Stops(_ask_to_stop(run_dir))
        stops.install()
        returncode = _one_process(run_dir)
    _after(run_dir, where, stops, returncode)
    events.close()
    return returncode


def _after(run_dir: Path, where: dict[str, Any], stops: _Stops, returncode: int) -> None:
    """What only the job knows about the run's end: Slurm's signals, a step
    that ended without a word."""
    status = read_status(run_dir)
    if status.get("status") not in TERMINAL:
        # The runner could not write its end: its step was killed.
        events = Events(run_dir / EVENTS_FILE)
        message = f"the training step ended without a word (srun status {returncode})"
        fix = f"see the log {run_dir / LOG_FILE}; resume the run from its last.pt"
        events.emit("error", code="step_lost", message=message, fix=fix)
        events.emit("end", status="failed", message=message)
        events.close()
        write_status(
            run_dir, status="failed", ended=time.time(), code="step_lost", message=message, fix=fix
        )
        return
    if status.get("status") != "stopped":
        return
    if stops.time_limit:
        write_status(
            run_dir,
            code="time_limit",
            message=TIME_LIMIT_WORDS,
            fix=f"yolo_lab.resume({str(run_dir)!r}) continues from last.pt; ask Slurm for more "
            'time next: Slurm(time="...")',
        )
    elif stops.signalled:
        # Requeued, or cancelled: the kernel tells which from squeue.
        write_status(run_dir, code="slurm_signalled", slurm={**where, "signalled": True})


def node(run_dir: str, endpoint: str, nnodes: str, per_node: str) -> int:
    """One node's torchrun: node rank from Slurm, rendezvous on the first node."""
    addr, port = endpoint.rsplit(":", 1)
    argv = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        nnodes,
        "--nproc-per-node",
        per_node,
        "--node-rank",
        os.environ.get("SLURM_NODEID", "0"),
        "--master-addr",
        addr,
        "--master-port",
        port,
        "--max-restarts",
        "0",
        "-m",
        "yolo_lab._runner",
        run_dir,
    ]
    os.execv(sys.executable, argv)
    return 1  # pragma: no cover - execv does not return


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "head":
        return head(Path(argv[2]).resolve())
    if len(argv) == 6 and argv[1] == "node":
        return node(*argv[2:])
    print(
        "usage: python -m yolo_lab._runner.slurm head RUN_DIR\n"
        "       python -m yolo_lab._runner.slurm node RUN_DIR ADDR:PORT NNODES NPROC",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
