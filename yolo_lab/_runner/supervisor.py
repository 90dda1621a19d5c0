"""``python -m yolo_lab._runner.supervisor RUN_DIR``: the parent of a DDP run.

The kernel starts this process; it starts ``torch.distributed.run`` with one
rank per GPU (or ``nproc`` on the CPU), and is the one that ends the run:

- **No orphans.** It asks Linux for SIGTERM when the kernel dies, and gives
  torchrun the same tie to itself; a SIGTERM (the kernel's exit, its death,
  a stop) asks every rank to stop after its batch, and ranks that have not
  ended after a grace period are killed, torchrun's whole group with them.
- **A crashed rank ends the run with its error.** It watches the ranks'
  processes; the first to end without finishing is the cause, and its error
  and traceback (which each rank records in ``yolo_lab_ranks/``) are the
  run's error, not the "connection closed" of the ranks that lost it.
- **A hung run is reported.** When no rank has started a batch for
  ``hang_timeout_s`` (600 s by default, ``YOLO_LAB_HANG_TIMEOUT_S``), it asks
  every rank for its Python stack (SIGUSR1, faulthandler) and reports the run
  as hung with the stacks; a stop then ends it within seconds.
- **One writer of the end.** The ranks record their outcome; this process
  writes the run's last events and status once they have all ended.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from ..training.rundir import (
    DETACHED_ENV,
    EVENTS_FILE,
    LOG_FILE,
    SPEC_FILE,
    STOP_FILE,
    ask_to_stop,
    disk_free_if_full,
    disk_full_words,
    normalize_spec,
    pid_alive,
    read_ranks,
    spec_world,
    stop_reason,
    write_status,
)
from .events import Events
from .process import node_name, set_pdeathsig, stack_path

POLL_S = 0.25
DEFAULT_HANG_TIMEOUT_S = 600.0
DEFAULT_STOP_GRACE_S = 30.0
HUNG_STOP_GRACE_S = 3.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun_command(run_dir: Path, world: int) -> list[str]:
    """torchrun with ``world`` ranks of ``python -m yolo_lab._runner RUN_DIR``."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(world),
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        "--max_restarts",
        "0",
        "-m",
        "yolo_lab._runner",
        str(run_dir),
    ]


def _kill(pid: Any, signum: int) -> None:
    if isinstance(pid, int) and pid > 0:
        try:
            os.kill(pid, signum)
        except OSError:
            pass  # already gone


class _StackFiles:
    """The stacks the ranks write on SIGUSR1, each read once it is whole.

    faulthandler appends to a file the rank keeps open, from its signal handler,
    so a read can catch it half-way: a stack counts once it has grown past what
    was there before the signal and then stopped growing for a moment.
    """

    SETTLE_S = 0.3

    def __init__(self, run_dir: Path, ranks: list[int]) -> None:
        self.paths = {rank: stack_path(run_dir, rank) for rank in ranks}
        self.start = {rank: self._size(rank) for rank in ranks}
        self.seen: dict[int, tuple[int, float]] = {}

    def _size(self, rank: int) -> int:
        try:
            return self.paths[rank].stat().st_size
        except OSError:
            return 0

    def complete(self) -> bool:
        now = time.monotonic()
        settled = 0
        for rank in self.paths:
            size = self._size(rank)
            if size <= self.start[rank]:
                continue
            previous = self.seen.get(rank)
            if previous is None or previous[0] != size:
                self.seen[rank] = (size, now)
            elif now - previous[1] >= self.SETTLE_S:
                settled += 1
        return settled == len(self.paths)

    def text(self, rank: int) -> str:
        try:
            with open(self.paths[rank], "rb") as f:
                f.seek(self.start.get(rank, 0))
                return f.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""


class Supervisor:
    def __init__(self, run_dir: Path, spec: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.world = spec_world(spec)
        self.events = Events(run_dir / EVENTS_FILE)
        self.hang_timeout_s = float(
            os.environ.get("YOLO_LAB_HANG_TIMEOUT_S")
            or spec.get("hang_timeout_s")
            or DEFAULT_HANG_TIMEOUT_S
        )
        self.stop_grace_s = float(os.environ.get("YOLO_LAB_STOP_GRACE_S") or DEFAULT_STOP_GRACE_S)
        self.stop_since: float | None = None
        self.stop_reason: str | None = None
        self.forced: str | None = None
        self.fault: str | None = None  # the supervisor's own traceback, if it failed
        self.first_dead: tuple[int, float] | None = None
        self.hung_since: float | None = None
        self.torchrun: subprocess.Popen[bytes] | None = None
        self.node = node_name()

    def command(self) -> list[str]:
        """What starts the ranks: torchrun here (a Slurm job: one per node)."""
        return torchrun_command(self.run_dir, self.world)

    def where(self, state: dict[str, Any]) -> str:
        """Where a rank ran, for the words of an error: "" on one machine."""
        return ""

    def start_failure(self, returncode: int) -> str:
        """The words of a run whose ranks never started."""
        return f"torchrun ended with status {returncode} before the ranks started"

    def _local(self, state: dict[str, Any]) -> bool:
        """Whether a rank runs on this machine, where its pid means something."""
        return state.get("node") in (None, self.node)

    # -- signals

    def on_signal(self, signum: int, frame: Any) -> None:
        self.request_stop(f"signal {signal.Signals(signum).name}")

    def request_stop(self, reason: str, words: str = "") -> None:
        """Ask every rank to stop after its batch; ``words``: why, for the run's end."""
        if self.stop_reason is None:
            self.stop_reason = reason
        try:
            if words:
                ask_to_stop(self.run_dir, words)
            else:
                (self.run_dir / STOP_FILE).touch()
        except OSError:
            pass  # the folder is gone; the grace period still ends the ranks

    # -- the ranks

    def states(self) -> dict[int, dict[str, Any]]:
        return read_ranks(self.run_dir, "state")

    def _rank_pids(self) -> dict[int, int]:
        return {
            r: s["pid"]
            for r, s in self.states().items()
            if isinstance(s.get("pid"), int) and self._local(s)
        }

    def kill_all(self, why: str) -> None:
        self.forced = self.forced or why
        for pid in self._rank_pids().values():
            _kill(pid, signal.SIGKILL)
        if self.torchrun is not None and self.torchrun.poll() is None:
            try:
                os.killpg(self.torchrun.pid, signal.SIGKILL)
            except OSError:
                _kill(self.torchrun.pid, signal.SIGKILL)

    def _watch_deaths(self, now: float) -> None:
        """Latch the rank whose end ends the run, once one has ended badly.

        A rank that died without a record (killed, out of memory) comes
        first: the ranks that lose a peer record a failure of their own,
        later. Among recorded failures, the earliest.
        """
        if self.first_dead is not None or self.forced:
            return  # the first is known, or the ranks die because they were ended
        silent: list[int] = []
        failed: list[tuple[float, int]] = []
        for rank, state in self.states().items():
            if "ended" in state:
                if state.get("status") == "failed":
                    failed.append((float(state["ended"]), rank))
            elif self._local(state) and not pid_alive(state.get("pid")):
                silent.append(rank)
        if silent:
            self.first_dead = (min(silent), now)
        elif failed:
            self.first_dead = (min(failed)[1], now)

    def _watch_hang(self, now: float) -> None:
        beats = read_ranks(self.run_dir, "beat")
        if not beats:
            return  # not training yet: loading data, building the model
        latest = max(float(b.get("t") or 0) for b in beats.values())
        quiet = now - latest
        if self.hung_since is None and quiet > self.hang_timeout_s:
            self.hung_since = now
            self._report_hang(quiet, beats)
        elif self.hung_since is not None and latest > self.hung_since:
            self.hung_since = None
            write_status(self.run_dir, hung=None)
            self.events.emit("notice", message="The run makes progress again.")

    def _report_hang(self, quiet: float, beats: dict[int, dict[str, Any]]) -> None:
        states = self.states()
        pids = self._rank_pids()
        stacks = _StackFiles(self.run_dir, list(pids))
        for pid in pids.values():
            _kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and not stacks.complete():
            time.sleep(0.1)
        ranks = [
            {
                "rank": rank,
                "pid": pids.get(rank),
                "batches": (beats.get(rank) or {}).get("batches"),
                "stack": self._stack_words(rank, pids, stacks, states),
            }
            for rank in range(self.world)
        ]
        message = (
            f"No rank has started a batch for {quiet:.0f} s: the run looks hung "
            "(a rank waits in a collective for another). Stop it to end every rank."
        )
        self.events.emit("hung", seconds=quiet, message=message, ranks=ranks)
        write_status(self.run_dir, hung={"since": time.time(), "seconds": quiet})

    @staticmethod
    def _stack_words(
        rank: int, pids: dict[int, int], stacks: _StackFiles, states: dict[int, dict[str, Any]]
    ) -> str:
        if rank not in pids and rank in states:
            # SIGUSR1 reaches processes of this machine only.
            return f"(no stack: rank {rank} runs on {states[rank].get('node')}, another machine)"
        text = stacks.text(rank) if rank in pids else ""
        return text or "(no stack: the process did not answer)"

    # -- the run

    def run(self) -> int:
        command = self.command()
        log = open(self.run_dir / LOG_FILE, "ab")
        try:
            self.torchrun = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(self.run_dir),
                start_new_session=True,
                preexec_fn=set_pdeathsig,
            )
        finally:
            log.close()
        try:
            self._watch()
        except Exception:  # a fault of its own: end the ranks, say so, keep what was saved
            self.fault = traceback.format_exc()
            print(self.fault, file=sys.stderr)
            self.kill_all("the run's supervisor failed")
            self.torchrun.wait()
        # Ranks torchrun left behind (they are in sessions of their own).
        for pid in self._rank_pids().values():
            if pid_alive(pid):
                _kill(pid, signal.SIGKILL)
        self._watch_deaths(time.time())
        return self.finish(self.torchrun.returncode)

    def _watch(self) -> None:
        """Until torchrun ends: stops, deaths and hangs, each in its time."""
        assert self.torchrun is not None
        while self.torchrun.poll() is None:
            now = time.time()
            if self.stop_since is None and (
                self.stop_reason is not None or (self.run_dir / STOP_FILE).exists()
            ):
                self.stop_since = now
            self._watch_deaths(now)
            self._watch_hang(now)
            if self.stop_since is not None:
                grace = HUNG_STOP_GRACE_S if self.hung_since is not None else self.stop_grace_s
                if now - self.stop_since > grace:
                    self.kill_all(
                        f"the ranks did not stop within {grace:.0f} s of the stop and were ended"
                    )
            if self.first_dead is not None and now - self.first_dead[1] > self.stop_grace_s:
                self.kill_all("a rank ended and the others did not follow")
            time.sleep(POLL_S)

    def finish(self, returncode: int) -> int:
        states = self.states()
        outcomes = [states.get(rank, {}) for rank in range(self.world)]
        end: dict[str, Any]
        culprit = self._culprit(states)
        free = disk_free_if_full(self.run_dir)
        if self.fault is not None:
            last_line = self.fault.strip().splitlines()[-1]
            end = {
                "status": "failed",
                "code": "supervisor_failed",
                "message": f"the run's supervisor failed ({last_line}); every rank was ended",
                "fix": f"resume the run (from its last.pt); the traceback is in {LOG_FILE}",
            }
            self.events.emit(
                "error",
                code=end["code"],
                message=end["message"],
                fix=end["fix"],
                traceback=self.fault,
            )
        elif culprit is not None and free is not None:
            # The ranks could not write (events, weights, their own records).
            message, fix = disk_full_words(self.run_dir, free)
            end = {"status": "failed", "message": message, "code": "disk_full", "fix": fix}
        elif culprit is not None:
            rank, state = culprit
            where = self.where(state)
            if "ended" in state:
                message = f"rank {rank}{where}: {state.get('message') or 'failed'}"
                code = state.get("code") or "training_failed"
                fix = state.get("fix") or f"see the log {self.run_dir / LOG_FILE}"
            else:
                message = (
                    f"rank {rank}{where} (pid {state.get('pid')}) ended without a word: killed "
                    "by a signal or the out-of-memory killer"
                )
                code = "rank_lost"
                fix = f"see the log {self.run_dir / LOG_FILE} and the system log (dmesg)"
            end = {"status": "failed", "message": message, "code": code, "fix": fix}
            self.events.emit(
                "error",
                code=code,
                message=message,
                fix=fix,
                rank=rank,
                traceback=state.get("traceback"),
            )
        elif self.stop_reason or any(o.get("status") == "stopped" for o in outcomes) or self.forced:
            asked = stop_reason(self.run_dir)
            end = {"status": "stopped", "message": self.forced or asked or "stop requested"}
            if self.forced:
                self.events.emit("notice", message=f"Stopped by force: {self.forced}.")
        elif outcomes and all(o.get("status") == "finished" for o in outcomes):
            end = {"status": "finished"}
        else:
            end = {
                "status": "failed",
                "code": "training_failed",
                "message": self.start_failure(returncode),
                "fix": f"see the log {self.run_dir / LOG_FILE}",
            }
            self.events.emit("error", code=end["code"], message=end["message"], fix=end["fix"])
        last = self.run_dir / "weights" / "last.pt"
        best = self.run_dir / "weights" / "best.pt"
        files = {
            "last": str(last) if last.exists() else None,
            "best": str(best) if best.exists() else None,
        }
        try:
            self.events.emit("end", status=end["status"], message=end.get("message"), **files)
            write_status(
                self.run_dir,
                status=end["status"],
                ended=time.time(),
                message=end.get("message"),
                code=end.get("code"),
                fix=end.get("fix"),
                hung=None,
                **files,
            )
        except OSError as exc:  # a full disk: the kernel side reads it from the disk
            print(f"yolo-lab: could not write the run's end: {exc}", file=sys.stderr)
        self.events.close()
        return 0 if end["status"] in ("finished", "stopped") else 1

    def _culprit(self, states: dict[int, dict[str, Any]]) -> tuple[int, dict[str, Any]] | None:
        """The rank whose end ended the run: the first seen dead unfinished."""
        if self.forced and self.first_dead is None:
            return None  # ended by the stop's grace period, not by a crash
        if self.first_dead is not None:
            rank = self.first_dead[0]
            state = states.get(rank, {})
            if state.get("status") in ("stopped", "finished"):
                return None
            return rank, state
        failed = [
            (s.get("ended", 0), r, s) for r, s in states.items() if s.get("status") == "failed"
        ]
        if failed:
            _, rank, state = min(failed)
            return rank, state
        return None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m yolo_lab._runner.supervisor RUN_DIR", file=sys.stderr)
        return 2
    detached = os.environ.get(DETACHED_ENV) == "1"
    if not detached:
        set_pdeathsig()
    run_dir = Path(argv[1]).resolve()
    spec = normalize_spec(json.loads((run_dir / SPEC_FILE).read_text(encoding="utf-8")))
    supervisor = Supervisor(run_dir, spec)
    signal.signal(signal.SIGTERM, supervisor.on_signal)
    signal.signal(signal.SIGINT, supervisor.on_signal)
    if not detached and os.getppid() == 1:
        supervisor.request_stop("the kernel that started the run went away")
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
