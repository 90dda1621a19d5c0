"""The kernel's side: ask the Jupyter server to start a prepared run."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ..errors import TrainError

__all__ = ["MAX_REQUEST", "PROTOCOL", "SOCKET_ENV", "available", "request_start"]

# Set by the server extension in the server's environment, so every kernel
# it starts inherits where to ask.
SOCKET_ENV: Final = "YOLO_LAB_RUNS_SOCKET"
PROTOCOL: Final = 1
MAX_REQUEST: Final = 1 << 20


def available(environ: Mapping[str, str] | None = None) -> str | None:
    """Why a detached run cannot start from this process, or None when it can."""
    env = os.environ if environ is None else environ
    path = env.get(SOCKET_ENV)
    if not path:
        return (
            "this kernel was not started by a Jupyter server with yolo-lab's server "
            "extension, which owns detached runs"
        )
    if not Path(path).exists():
        return f"the Jupyter server that started this kernel no longer listens at {path}"
    return None


def _detach_fix() -> str:
    return (
        "run it from a notebook in JupyterLab with yolo-lab installed in the server's "
        "environment (`jupyter server extension list` shows yolo_lab), or train with "
        "detach=False"
    )


def request_start(
    run_dir: Path,
    python: str,
    env: Mapping[str, str],
    timeout_s: float = 30.0,
) -> dict[str, Any]:
    """Ask the server to start the prepared run in ``run_dir``; its answer."""
    why = available()
    if why is not None:
        raise TrainError("detach_unavailable", why, _detach_fix())
    request = {
        "v": PROTOCOL,
        "op": "start",
        "run": str(run_dir),
        "python": python,
        "env": dict(env),
    }
    return _ask(request, timeout_s)


def _ask(request: Mapping[str, Any], timeout_s: float) -> dict[str, Any]:
    path = os.environ[SOCKET_ENV]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(path)
            sock.sendall(json.dumps(request).encode() + b"\n")
            reply = sock.makefile("rb").readline(MAX_REQUEST)
    except OSError as exc:
        raise TrainError(
            "detach_unavailable",
            f"the Jupyter server did not answer at {path}: {exc}",
            _detach_fix(),
        ) from exc
    try:
        answer = json.loads(reply)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise TrainError(
            "detach_failed", "the Jupyter server gave no answer", "see the server's log"
        )
    if not answer.get("ok"):
        raise TrainError(
            str(answer.get("code") or "detach_failed"),
            str(answer.get("message") or "the server refused"),
            str(answer.get("fix") or "see the server's log"),
        )
    return answer
