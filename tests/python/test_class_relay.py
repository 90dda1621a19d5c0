"""The relays in and out of a student's container (launcher/templates/yolo_lab_relay.py), attacked.

The container's side runs as a real student uid (the tests run as root, as
the Hub does), the Hub's side in this process, as root. Without Docker both
sides share this machine's loopback, so the server's port inside and the
Hub's port outside are two ports here; the real class (Docker's ``none``
network, the Hub, the proxy) is launcher/test/classroom.test.ts.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest
from launcher_templates import load_template
from waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
STUDENT = 20_741  # a uid no account on this machine has
SYSTEM_PYTHON = "/usr/bin/python3"  # the student's uid may run it; the relay needs only the stdlib

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="plays the Hub, which runs as root"),
    pytest.mark.skipif(not os.path.exists(SYSTEM_PYTHON), reason="needs the system python3"),
]

# The student's "server": says who runs it, and asks the Hub through the relay.
SERVER = """
import json, os, sys, urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
port, hub = int(sys.argv[1]), sys.argv[2]
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/hub":
            body = urllib.request.urlopen(hub, timeout=10).read()
        else:
            body = json.dumps({"uid": os.getuid()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def relay() -> ModuleType:
    return load_template("yolo_lab_relay")


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The Hub's event loop, in a thread of its own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture
def hub_api() -> Iterator[int]:
    """Stands for the Hub's API on the host's loopback."""

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"hub": True, "path": self.path}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def tree() -> Iterator[Path]:
    top = Path(tempfile.mkdtemp(prefix="yolo-lab-relay-"))
    top.chmod(0o755)
    (top / "hub").mkdir(mode=0o755)
    (top / "server").mkdir(mode=0o700)
    os.chown(top / "server", STUDENT, STUDENT)
    yield top
    shutil.rmtree(top)


def _get(port: int, path: str = "/") -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
        return answer.read()


def test_the_relays_carry_the_hub_to_the_server_and_the_server_to_the_hub_and_nothing_else(
    relay: ModuleType, loop: asyncio.AbstractEventLoop, hub_api: int, tree: Path
) -> None:
    outside, inside, hub_inside = _free_port(), _free_port(), _free_port()
    server_sock = str(tree / "server" / "server.sock")
    hub_sock = str(tree / "hub" / "hub.sock")
    host = relay.HostRelays(outside, server_sock, STUDENT, [(hub_sock, hub_api)])
    asyncio.run_coroutine_threadsafe(host.start(), loop).result(10)
    assert os.stat(hub_sock).st_mode & 0o777 == 0o666, "the student's uid may connect"
    container = subprocess.Popen(
        [SYSTEM_PYTHON, str(ROOT / "launcher" / "templates" / "yolo_lab_relay.py"),
         "--serve", f"{server_sock}=127.0.0.1:{inside}",
         "--forward", f"127.0.0.1:{hub_inside}={hub_sock}",
         "--", SYSTEM_PYTHON, "-c", SERVER, str(inside), f"http://127.0.0.1:{hub_inside}/hub/api"],
        user=STUDENT, group=STUDENT, cwd="/",
    )  # fmt: skip
    try:
        # The Hub reaches the student's server, which runs as the student...
        got = wait_until(lambda: _try_get(outside), 30, "the server through the relays")
        assert json.loads(got) == {"uid": STUDENT}
        sock = os.lstat(server_sock)
        assert sock.st_uid == STUDENT and sock.st_mode & 0o777 == 0o600
        # ...and the server reaches the Hub's API through its own relay.
        assert json.loads(_get(outside, "/hub")) == {"hub": True, "path": "/hub/api"}

        # The student puts a link to a socket of root's in place of hers: the
        # Hub (root) connects through it, sees a listener that is not the
        # student, and passes nothing on.
        planted = tree / "root.sock"
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(planted))
        planted.chmod(0o666)
        listener.listen()
        listener.settimeout(10)
        swap = "import os, sys; os.unlink(sys.argv[1]); os.symlink(sys.argv[2], sys.argv[1])"
        subprocess.run(
            [SYSTEM_PYTHON, "-c", swap, server_sock, str(planted)],
            user=STUDENT, group=STUDENT, check=True,
        )  # fmt: skip
        with pytest.raises(OSError):  # closed without an answer
            _get(outside, "/?secret=mine")
        conn, _ = listener.accept()
        conn.settimeout(10)
        assert conn.recv(1024) == b"", "root's socket received nothing"
        conn.close()
        listener.close()
    finally:
        container.send_signal(signal.SIGTERM)
        code = container.wait(30)
        asyncio.run_coroutine_threadsafe(_close(host), loop).result(10)
    # SIGTERM went on to the server, and the relay ended with its status.
    assert code == 128 + signal.SIGTERM
    with pytest.raises(OSError):
        _get(outside)


async def _close(host: object) -> None:
    host.close()  # type: ignore[attr-defined]


def _try_get(port: int) -> bytes | None:
    try:
        return _get(port)
    except OSError:
        return None


def test_the_relay_inside_refuses_a_command_line_it_does_not_understand(relay: ModuleType) -> None:
    with pytest.raises(SystemExit) as exc:
        relay.main(["--serve", "no-equals-sign", "--", "true"])
    assert "usage" in str(exc.value)
    with pytest.raises(SystemExit) as exc:
        relay.main(["--forward", "127.0.0.1:80=/x.sock"])
    assert "no command" in str(exc.value)


def test_a_socket_path_too_long_for_linux_is_named_with_the_fix(relay: ModuleType) -> None:
    with pytest.raises(OSError) as exc:
        relay._unix_path("/srv/" + "c" * 120 + "/hub.sock")
    assert "shorter path" in str(exc.value)
