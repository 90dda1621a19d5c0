"""The registry: one record per detached run, in a folder only its user can write.

Whatever a record says is taken as a claim, not a fact: its file must be a
regular file of this user (not a link) in a folder of this user's (not a
link, not writable by others), and a record that fails any check costs that
record only, never the rest of the registry.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..rundir import write_json

__all__ = [
    "FOREIGN",
    "MISSING",
    "OWN",
    "Record",
    "choose_registry",
    "folder_state",
    "read_records",
    "registry_dir",
    "write_record",
]

OWN: Final = "own"
MISSING: Final = "missing"
FOREIGN: Final = "foreign"
_MAX_RECORD: Final = 64 * 1024


def registry_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the server records the detached runs it owns, by default."""
    env = os.environ if environ is None else environ
    if env.get("YOLO_LAB_DETACHED_DIR"):
        return Path(env["YOLO_LAB_DETACHED_DIR"])
    data = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "yolo-lab" / "detached"


def _private(path: Path) -> str | None:
    """None when ``path`` is a folder of this user that no one else may write
    into (tightened to 0700 then); else why not."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        return "is a link" if path.is_symlink() else f"cannot be opened ({exc.strerror})"
    try:
        st = os.fstat(fd)
        if st.st_uid != os.getuid():
            return f"belongs to uid {st.st_uid}"
        if st.st_mode & 0o022:
            # Someone else may have put records in it already.
            return f"is writable by others (mode {stat.S_IMODE(st.st_mode):o})"
        if stat.S_IMODE(st.st_mode) != 0o700:
            os.fchmod(fd, 0o700)
        if not os.access(path, os.W_OK):
            return "is not writable"
        return None
    finally:
        os.close(fd)


def choose_registry(preferred: Path | None = None) -> tuple[Path, str | None]:
    """The registry folder, and what to tell the log when it is not the usual one.

    ``preferred`` (default :func:`registry_dir`) when it is private; else
    ``$TMPDIR/yolo-lab-detached-UID`` (a container run with an arbitrary
    ``--user`` may have no writable home) when that is; else a fresh private
    folder, whose runs the next server will not find.
    """
    first = registry_dir() if preferred is None else Path(preferred)
    try:
        first.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        pass
    why = _private(first)
    if why is None:
        return first, None
    fallback = Path(tempfile.gettempdir()) / f"yolo-lab-detached-{os.getuid()}"
    try:
        fallback.mkdir(mode=0o700)
    except OSError:
        pass  # there already, or made by someone else: judged next
    why_not = _private(fallback)
    if why_not is None:
        return fallback, f"the detached-run registry {first} {why}; using {fallback}"
    fresh = Path(tempfile.mkdtemp(prefix=f"yolo-lab-detached-{os.getuid()}-"))
    return fresh, (
        f"the detached-run registry {first} {why} and {fallback} {why_not}: not used; "
        f"using the fresh folder {fresh} (a server started later will not re-adopt the "
        f"runs started now)"
    )


def folder_state(path: Path) -> str:
    """OWN: a run folder of this user named without links; MISSING: nothing
    there; FOREIGN: anything else (never written into, its process never signalled)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return MISSING
    except OSError:
        return FOREIGN
    if not path.is_absolute() or os.path.realpath(path) != str(path):
        return FOREIGN  # a link on the way
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return FOREIGN
    return OWN


@dataclass(frozen=True)
class Record:
    """One registry record: the run, its process and who started it."""

    file: str
    run: Path
    pid: int
    process: Mapping[str, Any]
    owner: Mapping[str, Any] = field(default_factory=dict)


def record_name(run_dir: Path) -> str:
    return hashlib.sha256(str(run_dir).encode()).hexdigest()[:20] + ".json"


def write_record(registry: Path, run_dir: Path, value: Mapping[str, Any]) -> None:
    write_json(registry / record_name(run_dir), dict(value))


def _read_record(registry: Path, name: str) -> Record:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(registry / name, flags)
    except OSError as exc:
        is_link = (registry / name).is_symlink()
        raise ValueError("a link" if is_link else f"unreadable ({exc.strerror})") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a file")
        if st.st_uid != os.getuid():
            raise ValueError(f"written by uid {st.st_uid}")
        if st.st_size > _MAX_RECORD:
            raise ValueError(f"{st.st_size} bytes long")
        text = os.read(fd, _MAX_RECORD)
    except OSError as exc:
        raise ValueError(f"unreadable ({exc.strerror})") from exc
    finally:
        os.close(fd)
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError("not JSON") from exc
    if not isinstance(value, dict):
        raise ValueError("not a record")
    run, pid, process = value.get("run"), value.get("pid"), value.get("process")
    if not isinstance(run, str) or not os.path.isabs(run):
        raise ValueError("no run folder")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        raise ValueError("no process id")
    if not isinstance(process, dict) or not isinstance(process.get("host"), str):
        raise ValueError("no process identity")
    owner = value.get("owner")
    return Record(name, Path(run), pid, process, owner if isinstance(owner, dict) else {})


def read_records(registry: Path, report: Callable[[str, str], None]) -> list[Record]:
    """The registry's records; ``report(name, why)`` for each one skipped."""
    try:
        names = sorted(e.name for e in os.scandir(registry))
    except OSError as exc:
        report(str(registry), f"cannot be listed ({exc.strerror})")
        return []
    out = []
    for name in names:
        if name.startswith(".") or not name.endswith(".json"):
            continue  # a record being written
        try:
            out.append(_read_record(registry, name))
        except ValueError as exc:
            report(name, str(exc))
    return out
