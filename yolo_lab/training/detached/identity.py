"""Which process a record names, told by the kernel's own counters.

A process is named by its pid, the clock tick it started at since boot
(``/proc/PID/stat``, field 22), the boot it belongs to
(``/proc/sys/kernel/random/boot_id``) and the host. None of these moves
when the wall clock is stepped, and a pid reused after the process ended
starts at another tick, so a record never names a newcomer. A record of
another host (a home shared over NFS) names nothing here: no server judges
or signals a process it cannot see.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Mapping
from typing import Any, Final

from ..rundir import pid_alive

__all__ = ["ALIVE", "ELSEWHERE", "GONE", "identify", "own_process", "signal_process", "whereabouts"]

ALIVE: Final = "alive"
GONE: Final = "gone"
ELSEWHERE: Final = "elsewhere"


def boot_id() -> str | None:
    """This boot's id (a new one at each machine start), None without /proc."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip() or None
    except OSError:
        return None


def _stat(pid: int) -> tuple[str, int] | None:
    """The process's state letter and start tick, None when there is none."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    # The name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = text.rsplit(") ", 1)[-1].split()
    try:
        return fields[0], int(fields[19])  # field 3: state; field 22: start time in ticks
    except (IndexError, ValueError):
        return None


def _uids(pid: int) -> tuple[int, int] | None:
    """The process's real and effective uid."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Uid:"):
                    real, effective = line.split()[1:3]
                    return int(real), int(effective)
    except (OSError, ValueError):
        return None
    return None


def identify(pid: int) -> dict[str, Any]:
    """What names process ``pid`` from now on (``ticks`` is None without /proc)."""
    stat = _stat(pid)
    return {
        "host": socket.gethostname(),
        "boot_id": boot_id(),
        "ticks": None if stat is None else stat[1],
        "uid": os.getuid(),
    }


def _valid_pid(pid: Any) -> bool:
    return isinstance(pid, int) and not isinstance(pid, bool) and pid > 0


def whereabouts(pid: Any, ident: Any) -> str:
    """ALIVE: the process ``ident`` names still runs; GONE: it ended (or the
    machine restarted); ELSEWHERE: it ran on another host, so this one cannot tell."""
    if not _valid_pid(pid) or not isinstance(ident, Mapping):
        return GONE
    if ident.get("host") != socket.gethostname():
        return ELSEWHERE
    ticks = ident.get("ticks")
    if ticks is None:
        # Recorded where there is no /proc: the pid is all there is to go by
        # (own_process() never lets such a record be signalled).
        return ALIVE if pid_alive(pid) else GONE
    if ident.get("boot_id") != boot_id():
        return GONE
    stat = _stat(pid)
    if stat is None or stat[0] in ("Z", "X") or stat[1] != ticks:
        return GONE
    return ALIVE


def own_process(pid: Any, ident: Any) -> bool:
    """Whether ``ident`` names a live process of this user, told by its start tick."""
    if whereabouts(pid, ident) != ALIVE or ident.get("ticks") is None:
        return False
    return _uids(int(pid)) == (os.getuid(), os.getuid())


def signal_process(pid: Any, ident: Any, signum: int = signal.SIGTERM) -> bool:
    """Send ``signum`` to the process ``ident`` names if it is this user's; False if not sent.

    Through a pidfd where the kernel has them: the check and the signal then
    reach the same process even if it ends and its pid is reused in between.
    """
    if not _valid_pid(pid):
        return False
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    except (AttributeError, OSError):
        fd = None  # no pidfds (an old kernel, not Linux)
    try:
        if not own_process(pid, ident):
            return False
        if fd is None:
            os.kill(pid, signum)
        else:
            signal.pidfd_send_signal(fd, signum)
        return True
    except (ProcessLookupError, PermissionError):
        return False
    finally:
        if fd is not None:
            os.close(fd)
