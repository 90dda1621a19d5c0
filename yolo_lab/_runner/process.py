"""The training process itself: who it is in a DDP run, its parent, its signals.

Each process of a run knows its rank from torchrun's environment (``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE``; -1, -1 and 1 for a plain run). Each asks
Linux for SIGTERM when its parent dies, watches its parent id as a second
line of defence, turns SIGTERM and SIGINT into a stop request, and dumps
its Python stack into the run folder on SIGUSR1 (the supervisor asks for
that when the run makes no progress).
"""

from __future__ import annotations

import faulthandler
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable

from ..training.rundir import RANKS_DIR

RANK = int(os.environ.get("RANK", "-1"))
LOCAL_RANK = int(os.environ.get("LOCAL_RANK", "-1"))
WORLD = max(1, int(os.environ.get("WORLD_SIZE", "1")))
IS_MAIN = RANK in (-1, 0)

_stack_file: IO[str] | None = None


def node_name() -> str:
    """The machine this process runs on, as the run's records name it: the
    Slurm node name in a Slurm job (two nodes of one test machine differ
    there), else the host name."""
    return os.environ.get("SLURMD_NODENAME") or socket.gethostname()


def set_pdeathsig(signum: int = signal.SIGTERM) -> None:
    """Ask Linux to send ``signum`` to this process when its parent dies.

    Linux sends it when the *thread* that started this process ends; the
    kernel side starts runs from its main thread.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signum))
    except Exception:
        pass  # not Linux after all: the parent watch below still works


def stop_on_signals(request_stop: Callable[[str], None]) -> None:
    """SIGTERM and SIGINT ask the run to stop after the current batch.

    In this process only: a child forked from it (a multiprocessing pool or
    DataLoader worker) inherits the handlers, and ends on the signal as it
    would without them. Pool.terminate() SIGTERMs its workers and joins
    them; a worker that only noted the signal was joined forever (a run hung
    in YOLOv5's label caching when the pool's worker lost the race for the
    task queue's lock).
    """
    runner_pid = os.getpid()

    def on_signal(signum: int, frame: Any) -> None:
        if os.getpid() != runner_pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        request_stop(f"signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def watch_parent(request_stop: Callable[[str], None], reason: str) -> None:
    """A daemon thread: stop when the parent process is gone (its id changes)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                request_stop(reason)
                return

    threading.Thread(target=watch, name="yolo-lab-parent-watch", daemon=True).start()


def stack_path(run_dir: Path, rank: int) -> Path:
    """Where a rank's Python stack goes when the supervisor asks for it."""
    return run_dir / RANKS_DIR / f"rank{max(rank, 0)}.stack.txt"


def dump_stack_on_sigusr1(run_dir: Path) -> None:
    """On SIGUSR1, write every thread's Python stack to this rank's stack file.

    faulthandler writes from the signal handler itself, so the stack comes
    even while the main thread waits inside a collective (C code, where a
    Python signal handler would never run).
    """
    global _stack_file
    path = stack_path(run_dir, RANK)
    path.parent.mkdir(exist_ok=True)
    _stack_file = open(path, "w", encoding="utf-8")  # kept open for the handler
    faulthandler.register(signal.SIGUSR1, file=_stack_file, all_threads=True, chain=False)
