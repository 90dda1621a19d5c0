"""The Unix socket kernels ask on: one user, bounded, never left hanging.

Only the server's own user gets an answer (the peer's uid, from
SO_PEERCRED, is checked before a thread is spent on it); at most
``max_connections`` requests are served at once, the others are told the
server is busy; a request must arrive whole within ``read_timeout_s``.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from .client import MAX_REQUEST

__all__ = ["Listener", "refusal"]


def refusal(code: str, message: str, fix: str = "") -> dict[str, Any]:
    return {"ok": False, "code": code, "message": message, "fix": fix}


def peer_uid(conn: socket.socket) -> int | None:
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):
        return None
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def _reply(conn: socket.socket, answer: dict[str, Any], timeout_s: float) -> None:
    try:
        conn.settimeout(timeout_s)
        conn.sendall(json.dumps(answer).encode() + b"\n")
    except OSError:
        pass  # the asker left


def read_line(conn: socket.socket, limit: int, within_s: float) -> bytes:
    """One line from ``conn``, all of it within ``within_s`` (TimeoutError if not)."""
    deadline = time.monotonic() + within_s
    data = bytearray()
    while b"\n" not in data and len(data) <= limit:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        conn.settimeout(left)
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return bytes(data.split(b"\n", 1)[0][:limit])


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        path: str,
        answer: Callable[[dict[str, Any]], dict[str, Any]],
        read_timeout_s: float,
        max_connections: int,
    ) -> None:
        self.answer = answer
        self.read_timeout_s = read_timeout_s
        self.slots = threading.BoundedSemaphore(max_connections)
        super().__init__(path, socketserver.BaseRequestHandler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if peer_uid(request) == os.getuid():
            return True
        _reply(request, refusal("forbidden", "only the server's own user may start runs"), 1.0)
        return False

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            busy = refusal("busy", "the server is answering other requests", "try again")
            _reply(request, busy, 1.0)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            self._serve_one(request)
        finally:
            self.shutdown_request(request)
            self.slots.release()

    def _serve_one(self, conn: socket.socket) -> None:
        try:
            line = read_line(conn, MAX_REQUEST, self.read_timeout_s)
        except TimeoutError:
            why = f"no whole request within {self.read_timeout_s:g} s"
            _reply(conn, refusal("bad_request", why), 1.0)
            return
        except OSError:
            return
        try:
            request = json.loads(line)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            request = {}
        _reply(conn, self.answer(request), self.read_timeout_s)


class Listener:
    """The socket in a private folder, served on a thread of its own."""

    def __init__(
        self,
        answer: Callable[[dict[str, Any]], dict[str, Any]],
        read_timeout_s: float = 10.0,
        max_connections: int = 8,
    ) -> None:
        self.folder = tempfile.mkdtemp(prefix="yolo-lab-runs-")  # mode 0700
        self.path = os.path.join(self.folder, "runs.sock")
        self._server = _Server(self.path, answer, read_timeout_s, max_connections)
        threading.Thread(
            target=self._server.serve_forever, name="yolo-lab-detached", daemon=True
        ).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        for name in os.listdir(self.folder):
            os.unlink(os.path.join(self.folder, name))
        os.rmdir(self.folder)
