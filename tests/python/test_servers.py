"""The list of servers `yolo-lab up` recorded, as the server extension serves it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from yolo_lab.server import extension as _servers


class _Status(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        ok = self.path == "/api/status" and self.headers.get("Authorization") == "token good"
        self.send_response(200 if ok else 403)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_lists_recorded_servers_with_liveness(tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Status)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        records = {
            "alive": {
                "url": f"http://127.0.0.1:{port}/lab?token=good",
                "token": "good",
                "started": 2,
            },
            "badtoken": {"url": f"http://127.0.0.1:{port}/", "token": "bad", "started": 1},
            "gone": {"url": f"http://127.0.0.1:{_free_port()}/", "token": "x", "started": 3},
            "elsewhere": {"url": "http://192.0.2.1:8888/", "token": "x", "started": 4},
        }
        for name, record in records.items():
            (tmp_path / f"{name}.json").write_text(json.dumps({"name": name, **record}))
        (tmp_path / "broken.json").write_text("{not json")
        listed = _servers.list_servers(tmp_path)
    finally:
        server.shutdown()
    assert [(s["name"], s["alive"]) for s in listed] == [
        ("gone", False),
        ("alive", True),
        ("badtoken", False),
    ], "newest first; only loopback servers; unreadable files skipped"
    assert listed[1]["url"] == f"http://127.0.0.1:{port}/"
    assert all("token" not in s for s in listed), "the list carries no token"
    assert _servers.server_token("alive", tmp_path) == "good"
    assert _servers.server_token("elsewhere", tmp_path) is None, "loopback servers only"


def test_state_dir_follows_the_launcher_rule(tmp_path: Path) -> None:
    assert _servers.state_dir({"YOLO_LAB_STATE_DIR": str(tmp_path)}) == tmp_path
    assert _servers.state_dir({"XDG_DATA_HOME": "/x"}) == Path("/x/yolo-lab/servers")
    assert _servers.list_servers(tmp_path / "missing") == []


_DENY = """
from jupyter_server.auth.authorizer import Authorizer


class DenyYoloLab(Authorizer):
    def is_authorized(self, handler, user, action, resource):
        return resource != "yolo_lab"
"""


def _start_server(tmp_path: Path, state: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = dict(
        os.environ,
        YOLO_LAB_STATE_DIR=str(state),
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(Path(__file__).parents[2])]),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--IdentityProvider.token=lab-token",
            '--ServerApp.jpserver_extensions={"yolo_lab": True}',
            f"--ServerApp.root_dir={tmp_path}",
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _get(f"{base}/api/status", "lab-token")[0] == 200:
            return proc, base
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the Jupyter server did not start")


def _get(url: str, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"token {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


@pytest.mark.kernel
def test_the_extension_sends_no_token_in_the_list_and_checks_authorization(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "box.json").write_text(
        json.dumps({"name": "box", "url": f"http://127.0.0.1:{_free_port()}/", "token": "s3cret"})
    )
    (tmp_path / "deny_yolo_lab.py").write_text(_DENY)
    proc, base = _start_server(tmp_path, state)
    try:
        status, body = _get(f"{base}/yolo-lab/servers", "lab-token")
        assert status == 200
        listed = json.loads(body)["servers"]
        assert [s["name"] for s in listed] == ["box"]
        assert "token" not in listed[0] and "s3cret" not in body, "no token in the list"
        status, body = _get(f"{base}/yolo-lab/servers/box/token", "lab-token")
        assert status == 200 and json.loads(body)["token"] == "s3cret"
        assert _get(f"{base}/yolo-lab/servers/nobody/token", "lab-token")[0] == 404
        assert _get(f"{base}/yolo-lab/servers/box/token", None)[0] == 403, "authenticated only"
        # A class's endpoints: this server's own trainings (none), and no
        # teacher's view outside JupyterHub, with the words why.
        status, body = _get(f"{base}/yolo-lab/activity", "lab-token")
        assert status == 200 and json.loads(body)["trainings"] == []
        status, body = _get(f"{base}/yolo-lab/class", "lab-token")
        assert status == 404 and "not a JupyterHub server" in json.loads(body)["message"]
        assert _get(f"{base}/yolo-lab/activity", None)[0] == 403
    finally:
        proc.terminate()
        proc.wait(30)
    proc, base = _start_server(
        tmp_path, state, "--ServerApp.authorizer_class=deny_yolo_lab.DenyYoloLab"
    )
    try:
        assert _get(f"{base}/api/status", "lab-token")[0] == 200
        assert _get(f"{base}/yolo-lab/servers", "lab-token")[0] == 403, "authorized only"
        assert _get(f"{base}/yolo-lab/servers/box/token", "lab-token")[0] == 403
        assert _get(f"{base}/yolo-lab/activity", "lab-token")[0] == 403
        assert _get(f"{base}/yolo-lab/class", "lab-token")[0] == 403
    finally:
        proc.terminate()
        proc.wait(30)
