"""Detached runs: training owned by the Jupyter server, not by a kernel.

``train(..., detach=True)`` prepares the run folder in the kernel as usual
and then asks yolo-lab's Jupyter server extension to start the run's
process, over a Unix socket only the server's user can reach (the peer's uid
is checked too; see ``listener``). The process is then the server's child,
in its own session: a kernel interrupt, restart, shutdown or ``kill -9`` does
not reach it, and no parent-death signal ties it to the kernel.

Nothing is orphaned all the same:
- each detached run records its process id and what names that process
  (its start tick since boot, the boot's id and the host: ``identity``), so
  a recycled pid or a stepped clock is never taken for it, in its status
  file; the server keeps one record per run in a private registry folder
  (``registry``) until the run has ended;
- the server watches its runs; a run whose process is gone without writing
  its end (machine restart, out-of-memory killer, ``kill -9``) becomes
  ``lost``, never stays ``running``; runs of other hosts sharing the
  registry (a home on NFS) are theirs to judge;
- a server that starts again re-adopts the runs still alive and marks the
  others lost;
- a run's process holds a lock on its folder, so two starts of one folder
  never both train;
- when the server stops, ``c.YoloLab.detached_runs_on_exit`` decides:
  ``"keep"`` (the default: the runs go on and the next server re-adopts
  them) or ``"stop"`` (each saves last.pt after its batch and ends);
- ``yolo-lab down`` stops every live run in the container first, detached
  ones included (``python -m yolo_lab stop-runs``).
"""

from __future__ import annotations

from ..rundir import DETACHED_ENV
from .client import SOCKET_ENV, available, request_start
from .identity import ALIVE, ELSEWHERE, GONE, identify, whereabouts
from .registry import registry_dir
from .server import ON_EXIT_CHOICES, DetachedRuns, lost_words

__all__ = [
    "ALIVE",
    "DETACHED_ENV",
    "ELSEWHERE",
    "GONE",
    "ON_EXIT_CHOICES",
    "SOCKET_ENV",
    "DetachedRuns",
    "available",
    "identify",
    "lost_words",
    "registry_dir",
    "request_start",
    "same_process",
    "whereabouts",
]


def same_process(pid: object, ident: object) -> bool:
    """Whether ``ident`` (a status file's ``process``) names a process that still runs here."""
    return whereabouts(pid, ident) == ALIVE
