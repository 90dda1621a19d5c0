"""The only ways in and out of a student's container: three relays per student.

Written next to jupyterhub_config.py by `yolo-lab classroom init`. The class's
containers have no network (Docker's ``none``: a loopback of their own), so
a student's code reaches nothing on the host's loopback (the Hub's other
ports, other students' servers, a database someone runs there) and nobody
reaches a port the student opens. Three paths cross, each a Unix socket in a
folder mounted into that student's container only:

* **to the server** (the Hub's checks, the proxy's requests): the Hub listens
  on the host's ``127.0.0.1:PORT`` and connects to ``server.sock``, which the
  relay inside the container serves from its own ``127.0.0.1:PORT``, where
  the student's Jupyter listens. The Hub runs as root, and ``server.sock`` is
  in a folder the student owns: the Hub passes bytes on only to a socket
  whose listening process runs as that student's uid (``SO_PEERCRED``), so a
  link planted in its place reaches nothing of the host's;
* **to the Hub's API and the class service** (token checks, activity, the
  teacher's view): the relay inside listens on the container's
  ``127.0.0.1:HUB_PORT`` and ``127.0.0.1:SERVICE_PORT`` (the addresses the
  server is given) and connects to ``hub.sock`` and ``service.sock``, which
  the Hub serves from a folder only root may change, mounted read-only.

Inside the container this file is the server's command prefix::

    python yolo_lab_relay.py --serve SOCK=127.0.0.1:PORT \\
        --forward 127.0.0.1:HUB_PORT=SOCK ... -- jupyterhub-singleuser

It starts the relays, then the command, passes it SIGTERM and SIGINT, and
exits with its status. Standard library only: it runs in the Hub's Python
and in the image's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import struct
import sys
from collections.abc import Awaitable, Callable
from functools import partial

__all__ = ["HostRelays", "peer_uid", "relay_to", "splice"]

log = logging.getLogger("yolo-lab-relay")

CHUNK = 1 << 16
SUN_PATH_MAX = 107
"""The longest path a Unix socket may have on Linux (sun_path, 108 bytes with its NUL)."""

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Serve = tuple[str, tuple[str, int]]  # a socket to listen on, the address it leads to
Forward = tuple[tuple[str, int], str]  # an address to listen on, the socket it leads to


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Copy until the end; True when the reader ended cleanly (then the
    writer is half-closed), False when either side failed."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        return True
    except (ConnectionError, OSError):
        return False


async def splice(a: Stream, b: Stream) -> None:
    """Pass bytes both ways until both ends are done (or one fails), then close both."""
    pumps = {
        asyncio.ensure_future(_pump(a[0], b[1])),
        asyncio.ensure_future(_pump(b[0], a[1])),
    }
    try:
        while pumps:
            done, pumps = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            if not all(task.result() for task in done):
                break
    finally:
        for task in pumps:
            task.cancel()
        for _, writer in (a, b):
            writer.close()


def relay_to(connect: Callable[[], Awaitable[Stream]]) -> Handler:
    """A connection handler that opens the other end with ``connect`` and
    splices the two; when that end cannot be opened, the connection is closed."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            other = await connect()
        except OSError:
            writer.close()
            return
        await splice((reader, writer), other)

    return handle


def peer_uid(writer: asyncio.StreamWriter) -> int:
    """The uid of the process at the other end of a Unix socket (the one that listens)."""
    sock = writer.get_extra_info("socket")
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _unix_path(path: str) -> str:
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        raise OSError(
            f"{path} is longer than a Unix socket's path may be ({SUN_PATH_MAX} bytes):"
            " keep the class's folder (where jupyterhub_config.py is) on a shorter path."
        )
    return path


async def _serve_unix(path: str, handle: Handler) -> asyncio.AbstractServer:
    """Listen on ``path``; a socket left by an earlier start is replaced."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_unix_path(path))
    return await asyncio.start_unix_server(handle, path)


class HostRelays:
    """The Hub's side of one student's container (see the module's docstring).

    ``port``: the host's 127.0.0.1 port the Hub and its proxy use for this
    server; ``server_sock``: the socket the container serves; ``uid``: the
    student's, the only owner ``server_sock``'s listener may have;
    ``forwards``: (socket to serve, host port on 127.0.0.1 it leads to).
    """

    def __init__(
        self, port: int, server_sock: str, uid: int, forwards: list[tuple[str, int]]
    ) -> None:
        self.port = port
        self.server_sock = server_sock
        self.uid = uid
        self.forwards = forwards
        self._servers: list[asyncio.AbstractServer] = []

    async def start(self) -> None:
        try:
            self._servers.append(
                await asyncio.start_server(self._to_server, "127.0.0.1", self.port)
            )
            for path, port in self.forwards:
                self._servers.append(await _serve_unix(path, self._to_host(port)))
                # Its folder is root's, mounted read-only in one container: the
                # student's uid may connect, nobody may replace it.
                os.chmod(path, 0o666)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for server in self._servers:
            server.close()
        self._servers.clear()

    @property
    def running(self) -> bool:
        return bool(self._servers)

    async def _to_server(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            inner = await asyncio.open_unix_connection(_unix_path(self.server_sock))
        except OSError:
            writer.close()  # the server is not up (yet): the Hub retries
            return
        owner = peer_uid(inner[1])
        if owner != self.uid:
            # A link in place of the socket: its listener is not the student.
            log.warning(
                "%s is served by uid %s, not the student's %s: connection refused",
                self.server_sock,
                owner,
                self.uid,
            )
            inner[1].close()
            writer.close()
            return
        await splice((reader, writer), inner)

    @staticmethod
    def _to_host(port: int) -> Handler:
        return relay_to(partial(asyncio.open_connection, "127.0.0.1", port))


# -- Inside the container ------------------------------------------------------


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"yolo_lab_relay: {text!r} is not HOST:PORT")
    return host, int(port)


def _parse(argv: list[str]) -> tuple[list[Serve], list[Forward], list[str]]:
    serves: list[Serve] = []
    forwards: list[Forward] = []
    args = list(argv)
    while args and args[0] != "--":
        flag = args.pop(0)
        if flag not in ("--serve", "--forward") or not args or "=" not in args[0]:
            raise SystemExit(
                "usage: yolo_lab_relay.py [--serve SOCK=HOST:PORT] [--forward HOST:PORT=SOCK]"
                " ... -- COMMAND"
            )
        left, right = args.pop(0).split("=", 1)
        if flag == "--serve":
            serves.append((left, _address(right)))
        else:
            forwards.append((_address(left), right))
    command = args[1:]
    if not command:
        raise SystemExit("yolo_lab_relay: no command after --")
    return serves, forwards, command


async def _inside(serves: list[Serve], forwards: list[Forward], command: list[str]) -> int:
    servers = []
    for path, address in serves:
        servers.append(
            await _serve_unix(path, relay_to(partial(asyncio.open_connection, *address)))
        )
        os.chmod(path, 0o600)  # the student's uid (and the host's root) only
    for address, path in forwards:
        servers.append(
            await asyncio.start_server(
                relay_to(partial(asyncio.open_unix_connection, path)), *address
            )
        )
    # The relays listen before the server starts: it asks the Hub at once.
    child = await asyncio.create_subprocess_exec(*command)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, child.send_signal, sig)
    code = await child.wait()
    for server in servers:
        server.close()
    return code if code >= 0 else 128 - code


def main(argv: list[str]) -> int:
    serves, forwards, command = _parse(argv)
    return asyncio.run(_inside(serves, forwards, command))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
