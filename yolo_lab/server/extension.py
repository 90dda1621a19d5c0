"""The Jupyter server side of yolo-lab: detached runs, and the servers ``yolo-lab up`` started.

Detached runs (``train(..., detach=True)``) are owned by this server through
:class:`yolo_lab.training.detached.DetachedRuns`: kernels ask over a Unix
socket whose path the server puts in its environment (so every kernel it
starts inherits it); ``GET /yolo-lab/runs`` lists the live ones and
``POST /yolo-lab/runs/stop`` (``{"run": PATH}``) stops one.
``c.YoloLab.detached_runs_on_exit`` ("keep", the default, or "stop") says
what happens to them when the server stops.


The launcher writes one JSON file per container it started (URL, token)
under ``$YOLO_LAB_STATE_DIR`` or ``$XDG_DATA_HOME/yolo-lab/servers``; this
extension lists them at ``GET /yolo-lab/servers`` for the panel, each marked
alive when its ``/api/status`` answers, so a user picks a container instead
of copying its token. Only the user the server runs as can read the files.

The list carries no token: the browser asks for one server's token
(``GET /yolo-lab/servers/NAME/token``) when the user connects to it. Both
need an authenticated request that the server's authorizer allows (resource
``yolo_lab``, action ``read``).
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["list_servers", "server_token", "state_dir"]


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the launcher records the servers it started (as launcher/src/registry.ts)."""
    env = os.environ if environ is None else environ
    if env.get("YOLO_LAB_STATE_DIR"):
        return Path(env["YOLO_LAB_STATE_DIR"])
    data = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "yolo-lab" / "servers"


def _base_url(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path
    for suffix in ("/lab", "/tree"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/") + "/", "", ""))


def _alive(url: str, token: str, timeout: float = 1.0) -> bool:
    request = urllib.request.Request(
        _base_url(url) + "api/status", headers={"Authorization": f"token {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - local
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _records(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    """The recorded loopback servers, by name, as the launcher wrote them."""
    out = []
    try:
        files = sorted(directory.glob("*.json"))
    except OSError:
        return []
    for path in files:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or not isinstance(record.get("url"), str):
            continue
        # Only loopback servers: the panel's browser talks to them directly.
        host = urlsplit(record["url"]).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            continue
        out.append((str(record.get("name", path.stem)), record))
    return out


def list_servers(directory: Path | None = None, check: bool = True) -> list[dict[str, Any]]:
    """The recorded servers, newest first, without their tokens; ``alive``
    says whether each answers now (asked with its token, here)."""
    directory = state_dir() if directory is None else directory
    servers = []
    for name, record in _records(directory):
        url = record["url"]
        token = str(record.get("token", ""))
        servers.append(
            {
                "name": name,
                "url": _base_url(url),
                "server_only": bool(record.get("serverOnly", False)),
                "image": record.get("image"),
                "started": record.get("started"),
                "alive": _alive(url, token) if check else None,
            }
        )
    servers.sort(key=lambda s: s.get("started") or 0, reverse=True)
    return servers


def server_token(name: str, directory: Path | None = None) -> str | None:
    """The token of the recorded server ``name``, or None when there is none."""
    directory = state_dir() if directory is None else directory
    for recorded, record in _records(directory):
        if recorded == name:
            return str(record.get("token", ""))
    return None


AUTH_RESOURCE = "yolo_lab"


async def _hub_fetch(url: str, token: str) -> tuple[int, Any]:
    """GET JSON with this server's Hub token (the class service's view of the class)."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError

    client = AsyncHTTPClient()
    try:
        response = await client.fetch(
            url,
            headers={
                "Authorization": f"token {token}",
                "Accept": "application/jupyterhub-pagination+json",
            },
            request_timeout=10,
            follow_redirects=False,
        )
    except HTTPClientError as exc:
        # A refusal's own message ({"message": ...}) is kept for the user.
        body = exc.response.body if exc.response is not None else b""
        try:
            return exc.code, json.loads(body or b"null")
        except ValueError:
            return exc.code, None
    try:
        return response.code, json.loads(response.body or b"null")
    except ValueError:
        return response.code, None


def _detached_runs(serverapp: Any) -> Any:
    """Start owning detached runs: re-adopt the live ones, listen for kernels."""
    import atexit

    from ..training.detached import ON_EXIT_CHOICES, SOCKET_ENV, DetachedRuns

    section = serverapp.config.get("YoloLab") or {}
    on_exit = section.get("detached_runs_on_exit", "keep")
    if on_exit not in ON_EXIT_CHOICES:
        serverapp.log.error(
            "yolo-lab: c.YoloLab.detached_runs_on_exit must be one of %s, not %r; "
            "detached runs are kept when the server stops",
            ", ".join(repr(c) for c in ON_EXIT_CHOICES),
            on_exit,
        )
        on_exit = "keep"
    runs = DetachedRuns(on_exit=on_exit, log=serverapp.log)
    found = runs.adopt()
    for run in found["adopted"]:
        serverapp.log.info("yolo-lab: re-adopted the detached run %s", run)
    for run in found["ended"]:
        serverapp.log.warning("yolo-lab: the detached run %s is no longer running", run)
    for run in found["elsewhere"]:
        serverapp.log.info("yolo-lab: the detached run %s belongs to another host", run)
    path = runs.serve()
    # Kernels started from now on inherit where to ask.
    os.environ[SOCKET_ENV] = path
    atexit.register(runs.close)
    return runs


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.auth.decorator import authorized
    from jupyter_server.base.handlers import APIHandler
    from jupyter_server.utils import url_path_join
    from tornado import web

    class ServersHandler(APIHandler):  # type: ignore[misc]
        auth_resource = AUTH_RESOURCE

        @web.authenticated
        @authorized
        async def get(self) -> None:
            loop = asyncio.get_running_loop()
            servers = await loop.run_in_executor(None, list_servers)
            self.finish(json.dumps({"servers": servers, "state_dir": str(state_dir())}))

    class TokenHandler(APIHandler):  # type: ignore[misc]
        auth_resource = AUTH_RESOURCE

        @web.authenticated
        @authorized
        async def get(self, name: str) -> None:
            token = server_token(name)
            if token is None:
                raise web.HTTPError(404, f"no server named {name!r} was recorded")
            self.set_header("Cache-Control", "no-store")
            self.finish(json.dumps({"name": name, "token": token}))

    detached = _detached_runs(serverapp)

    class RunsHandler(APIHandler):  # type: ignore[misc]
        auth_resource = AUTH_RESOURCE

        @web.authenticated
        @authorized
        async def get(self) -> None:
            loop = asyncio.get_running_loop()
            runs = await loop.run_in_executor(None, detached.runs)
            self.finish(json.dumps({"runs": runs, "on_exit": detached.on_exit}))

    class StopHandler(APIHandler):  # type: ignore[misc]
        auth_resource = AUTH_RESOURCE

        @web.authenticated
        @authorized
        async def post(self) -> None:
            body = self.get_json_body() or {}
            run = body.get("run") if isinstance(body, dict) else None
            if not isinstance(run, str) or not run:
                raise web.HTTPError(400, 'send {"run": "<run folder>"}')
            if not detached.stop(run):
                raise web.HTTPError(404, f"no live detached run at {run}")
            self.finish(json.dumps({"run": run, "stopping": True}))

    from . import classroom

    root_dir = getattr(serverapp, "root_dir", None) or os.getcwd()
    if os.environ.get(classroom.CLASS_URL_ENV) and os.environ.get("JUPYTERHUB_API_TOKEN"):
        # A class's server: report this server's trainings to the class service.
        import atexit

        log = serverapp.log
        reporter = classroom.Reporter(root_dir, log=lambda m: log.warning("yolo-lab: %s", m))
        atexit.register(reporter.stop)
        reporter.start()

    class ActivityHandler(APIHandler):  # type: ignore[misc]
        """This server's trainings now and its GPU share (for the student and the teacher)."""

        auth_resource = AUTH_RESOURCE

        @web.authenticated
        @authorized
        async def get(self) -> None:
            loop = asyncio.get_running_loop()
            body = await loop.run_in_executor(None, classroom.activity, root_dir)
            self.finish(json.dumps(body))

    class ClassHandler(APIHandler):  # type: ignore[misc]
        """The teacher's view: every user's server and trainings, from the class service."""

        auth_resource = AUTH_RESOURCE

        @web.authenticated
        @authorized
        async def get(self) -> None:
            try:
                body = await classroom.class_view(_hub_fetch)
            except classroom.ClassError as exc:
                self.set_status(exc.status)
                self.finish(json.dumps({"message": exc.message}))
                return
            self.set_header("Cache-Control", "no-store")
            self.finish(json.dumps(body))

    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "yolo-lab", "runs"), RunsHandler),
            (url_path_join(base, "yolo-lab", "runs", "stop"), StopHandler),
            (url_path_join(base, "yolo-lab", "activity"), ActivityHandler),
            (url_path_join(base, "yolo-lab", "class"), ClassHandler),
            (url_path_join(base, "yolo-lab", "servers"), ServersHandler),
            (url_path_join(base, "yolo-lab", "servers", "([^/]+)", "token"), TokenHandler),
        ],
    )
