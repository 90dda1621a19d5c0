"""The list of servers `yolo-lab up` recorded, as the server extension serves it."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from yolo_lab import _servers


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


def test_state_dir_follows_the_launcher_rule(tmp_path: Path) -> None:
    assert _servers.state_dir({"YOLO_LAB_STATE_DIR": str(tmp_path)}) == tmp_path
    assert _servers.state_dir({"XDG_DATA_HOME": "/x"}) == Path("/x/yolo-lab/servers")
    assert _servers.list_servers(tmp_path / "missing") == []
