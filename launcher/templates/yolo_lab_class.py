"""The host side of a yolo-lab class: safe student folders, and the class service.

Written next to jupyterhub_config.py by `yolo-lab classroom init`, which
loads it. It needs only what the Hub needs (jupyterhub, tornado); yolo-lab
itself lives in the students' image, not on the host.

Two jobs, both done so that no student can turn the Hub's powers against
the host or against another student:

* **Folders.** The Hub runs as root. Before each start it makes the
  student's folders, under parents only root can change, never following a
  link: every step opens with ``O_NOFOLLOW`` from the folder above, checks the
  owner, and the course notebooks are copied by a child process running as
  the student (so a planted link can at worst write where the student may).
* **The class service** (``python yolo_lab_class.py service``, a JupyterHub
  service the Hub starts): each student's server *pushes* its own activity
  here with its own token; a teacher's server asks here for the whole class.
  No token that reaches another user's server is ever sent to a student's:
  the service reads the Hub's user list with its own token, which stays on
  the host, and never calls a student's server.
"""

from __future__ import annotations

import errno
import inspect
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

SERVICE_NAME = "yolo-lab-class"
"""The service's name in the Hub: its URL is /services/yolo-lab-class/."""

MARKER = ".yolo-lab-course-copied"
"""In a student's folder: the course was copied (delete it to copy missing notebooks again)."""


class FolderRefused(Exception):
    """A student's folder is not what it must be; the message says what to do."""

    @property
    def jupyterhub_message(self) -> str:
        """What the Hub shows the student (spawn page, API error) instead of a bare 500."""
        return f"Your server did not start: {self}"


# -- Folders ------------------------------------------------------------------


def _trusted_owner(uid: int) -> bool:
    return uid in (0, os.geteuid())


def trusted_parent(path: str | os.PathLike[str]) -> Path:
    """``path`` made (0755) if missing, and checked: on the way from ``/``
    every folder belongs to root (or the Hub's user) and no one else may
    rename what is in it (not writable by group or others, unless sticky as
    /tmp). A student can then never replace a folder below it.
    """
    path = Path(path)
    if not path.is_absolute():
        raise FolderRefused(f"{path}: the class's folders are absolute paths.")
    path.mkdir(mode=0o755, parents=True, exist_ok=True)
    real = Path(os.path.realpath(path))
    for part in [real, *real.parents]:
        st = os.lstat(part)
        writable_by_others = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if not _trusted_owner(st.st_uid) or (writable_by_others and not st.st_mode & stat.S_ISVTX):
            raise FolderRefused(
                f"{part} (on the way to {path}) belongs to uid {st.st_uid} or others may write"
                f" in it: a student's folder under it could be swapped. As root: chown root {part}"
                f" && chmod go-w {part}"
            )
    return real


def student_folder(parent: Path, name: str, uid: int) -> Path:
    """``parent/name``, a folder of ``uid``'s own with mode 0700, made if missing.

    Never through a link: refused (with what to do) when it is a link, not a
    folder, or belongs to someone else.
    """
    if not name or "/" in name or name in (".", ".."):
        raise FolderRefused(f"{name!r} is not a folder name.")
    pfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        try:
            os.mkdir(name, 0o700, dir_fd=pfd)
        except FileExistsError:
            pass
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=pfd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise FolderRefused(
                    f"{parent / name} is a link or a file, not a folder: nothing was changed."
                    " The teacher should look at it, move it away, and start the server again."
                ) from exc
            raise
    finally:
        os.close(pfd)
    try:
        st = os.fstat(fd)
        if st.st_uid != uid:
            if not _trusted_owner(st.st_uid):
                raise FolderRefused(
                    f"{parent / name} belongs to uid {st.st_uid}, not to this student (uid {uid}):"
                    " nothing was changed. The teacher should look at it before this server starts."
                )
            os.fchown(fd, uid, uid)  # made just now (or by the teacher): the student's from now on
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    return parent / name


def copy_course(source: str, target: str) -> int:
    """Copy the files under ``source`` that ``target`` lacks; returns how many.

    Runs as the student (see :func:`copy_course_as`). Nothing is ever
    overwritten, and nothing is written through a link: each file is created
    with ``O_EXCL | O_NOFOLLOW`` (an existing name, dangling link included, is
    left alone), each folder is entered with ``O_NOFOLLOW``.
    """
    copied = 0
    flags_dir = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW

    def walk(src: Path, dst_fd: int) -> None:
        nonlocal copied
        for entry in sorted(os.scandir(src), key=lambda e: e.name):
            if entry.is_symlink():
                continue  # the course's own links are not followed either
            if entry.is_dir():
                try:
                    os.mkdir(entry.name, 0o700, dir_fd=dst_fd)
                except FileExistsError:
                    pass
                try:
                    sub = os.open(entry.name, flags_dir, dir_fd=dst_fd)
                except OSError:
                    continue  # a link or a file where the course has a folder: left alone
                try:
                    walk(Path(entry.path), sub)
                finally:
                    os.close(sub)
            elif entry.is_file():
                try:
                    out = os.open(
                        entry.name,
                        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                        0o600,
                        dir_fd=dst_fd,
                    )
                except FileExistsError:
                    continue
                with open(entry.path, "rb") as f_in, os.fdopen(out, "wb") as f_out:
                    while chunk := f_in.read(1 << 20):
                        f_out.write(chunk)
                copied += 1

    top = os.open(target, flags_dir)
    try:
        walk(Path(source), top)
        try:
            marker = os.open(
                MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=top
            )
        except FileExistsError:
            pass
        else:
            with os.fdopen(marker, "w") as f:
                f.write("Course notebooks copied; delete this file to copy missing ones again.\n")
    finally:
        os.close(top)
    return copied


def _python_for_anyone() -> str:
    """This Python if every user may run it, else the system's python3."""
    for candidate in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        real = Path(os.path.realpath(candidate))
        try:
            ok = os.stat(real).st_mode & stat.S_IXOTH and all(
                os.stat(p).st_mode & stat.S_IXOTH for p in real.parents
            )
        except OSError:
            continue
        if ok:
            return str(real)
    raise FolderRefused(
        f"No Python every user may run ({sys.executable} is in a folder others cannot enter):"
        " install python3 (apt install python3) to copy the course notebooks as each student."
    )


def copy_course_as(uid: int, source: str | os.PathLike[str], target: Path) -> None:
    """Copy the course into ``target`` once, in a child process running as ``uid``."""
    marker = target / MARKER
    try:
        os.lstat(marker)
        return  # copied before (a student who deletes the marker gets the missing ones again)
    except FileNotFoundError:
        pass
    as_student = (
        {"user": uid, "group": uid, "extra_groups": [], "umask": 0o077} if os.geteuid() == 0 else {}
    )
    # The function's own source, run by a Python every user may run (the
    # Hub's may sit in a folder only root can enter).
    program = "\n".join(
        [
            "import os, sys",
            "from pathlib import Path",
            f"MARKER = {MARKER!r}",
            inspect.getsource(copy_course),
            "print(copy_course(sys.argv[1], sys.argv[2]))",
        ]
    )
    done = subprocess.run(
        [_python_for_anyone(), "-c", program, str(source), str(target)],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        **as_student,
    )
    if done.returncode != 0:
        raise FolderRefused(
            f"The course notebooks in {source} could not be copied into {target} as uid {uid}:"
            f" {done.stderr.strip()[-500:]} (they must be readable by every student: chmod -R a+rX)"
        )


# -- The class service ----------------------------------------------------------

#: Seconds after which a server's last report no longer counts (servers push every 10 s).
STALE_S = 35.0
#: The most a report may hold, and the figures kept of each training.
MAX_BODY = 256 * 1024
MAX_TRAININGS = 20
_TRAINING_KEYS = {
    "name": str,
    "run": str,
    "status": str,
    "started": (int, float),
    "detached": bool,
    "epoch": int,
    "epochs": int,
    "batch": int,
    "batches": int,
    "imgs_per_s": (int, float),
    "gpu_mem_bytes": (int, float),
    "gpu_util_pct": (int, float),
    "updated": (int, float),
}


def clean_report(body: object) -> dict:
    """A server's report with only the known fields of the right types (the rest dropped)."""
    if not isinstance(body, dict):
        raise ValueError('send {"gpu_share": F or null, "trainings": [...]}')
    share = body.get("gpu_share")
    trainings = []
    for item in body.get("trainings") or []:
        if not isinstance(item, dict):
            continue
        row = {}
        for key, kind in _TRAINING_KEYS.items():
            value = item.get(key)
            ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
            row[key] = (value[:200] if isinstance(value, str) else value) if ok else None
        trainings.append(row)
        if len(trainings) == MAX_TRAININGS:
            break
    return {
        "gpu_share": share
        if isinstance(share, (int, float)) and not isinstance(share, bool)
        else None,
        "trainings": trainings,
    }


def class_rows(
    users: list[dict], reports: dict[str, tuple[float, dict]], me: str, now: float
) -> list[dict]:
    """The teacher's table: every Hub user, their server, and what it last reported."""
    rows = []
    for user in users:
        server = (user.get("servers") or {}).get("") or {}
        ready = bool(server.get("ready"))
        row = {
            "name": user.get("name"),
            "admin": bool(user.get("admin")),
            "me": user.get("name") == me,
            "server": "ready" if ready else (server.get("pending") or "stopped"),
            "last_activity": server.get("last_activity") or user.get("last_activity"),
            "started": server.get("started"),
            "gpu_share": None,
            "trainings": [],
            "error": None,
        }
        if ready:
            at, report = reports.get(row["name"], (None, None))
            if report is None or at is None:
                row["error"] = "its server has not reported yet (an image without yolo-lab?)"
            elif now - at > STALE_S:
                row["error"] = f"no report from its server for {now - at:.0f} s"
            else:
                row["gpu_share"] = report["gpu_share"]
                row["trainings"] = report["trainings"]
        rows.append(row)
    rows.sort(
        key=lambda r: (not r["trainings"], r["server"] != "ready", r["admin"], str(r["name"]))
    )
    return rows


def service_main() -> None:  # pragma: no cover - run by the Hub (launcher/test/classroom.test.ts)
    """The class service, as the Hub starts it (``c.JupyterHub.services``)."""
    from urllib.parse import urlparse

    from jupyterhub.services.auth import HubAuthenticated
    from tornado import ioloop, web
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError

    api = os.environ["JUPYTERHUB_API_URL"].rstrip("/")
    token = os.environ["JUPYTERHUB_API_TOKEN"]
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")
    reports: dict[str, tuple[float, dict]] = {}
    client = AsyncHTTPClient()

    async def hub(path: str) -> object:
        response = await client.fetch(
            f"{api}{path}",
            headers={
                "Authorization": f"token {token}",
                "Accept": "application/jupyterhub-pagination+json",
            },
            request_timeout=10,
        )
        return json.loads(response.body)

    async def users() -> list[dict]:
        out: list[dict] = []
        offset = 0
        while True:
            page = await hub(f"/users?offset={offset}&limit=200")
            items = page.get("items", []) if isinstance(page, dict) else page
            out.extend(u for u in items or [] if isinstance(u, dict))
            more = page.get("_pagination", {}).get("next") if isinstance(page, dict) else None
            if not more or not items:
                return out
            offset = int(more.get("offset", offset + len(items)))

    class Base(HubAuthenticated, web.RequestHandler):
        def check_xsrf_cookie(self) -> None:
            pass  # token-authenticated API calls only; no cookies are accepted (below)

        def get_current_user(self):  # type: ignore[no-untyped-def]
            # Only an Authorization header: a browser's cookie never makes a request here.
            if not self.request.headers.get("Authorization"):
                return None
            return super().get_current_user()

        def write_error(self, status_code: int, **kwargs: object) -> None:
            self.set_header("Content-Type", "application/json")
            reason = kwargs.get("exc_info")
            message = getattr(reason[1], "log_message", None) if reason else None  # type: ignore[index]
            self.finish(json.dumps({"message": message or self._reason}))

    class Activity(Base):
        @web.authenticated
        def post(self) -> None:
            name = self.current_user["name"]
            try:
                report = clean_report(json.loads(self.request.body or b"null"))
            except ValueError as exc:
                raise web.HTTPError(400, str(exc)) from exc
            reports[name] = (time.time(), report)
            self.set_status(204)

    class Class(Base):
        @web.authenticated
        async def get(self) -> None:
            name = self.current_user["name"]
            try:
                me = await hub(f"/users/{name}")
            except HTTPClientError as exc:
                raise web.HTTPError(502, f"the Hub's API answered {exc.code}") from exc
            if not (isinstance(me, dict) and me.get("admin")):
                raise web.HTTPError(
                    403,
                    "Only the class's teachers see every student: a teacher is an admin user"
                    " (ADMINS in jupyterhub_config.py).",
                )
            rows = class_rows(await users(), reports, name, time.time())
            self.set_header("Cache-Control", "no-store")
            self.finish(json.dumps({"students": rows, "time": time.time()}))

    app = web.Application(
        [(f"{prefix}activity", Activity), (f"{prefix}class", Class)],
        cookie_secret=os.urandom(32),
    )
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    app.listen(url.port or 80, url.hostname or "127.0.0.1", max_body_size=MAX_BODY)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    if sys.argv[1:] != ["service"]:
        sys.exit(
            "usage: python yolo_lab_class.py service (the Hub starts it: jupyterhub_config.py)"
        )
    service_main()
