"""The kernel end of the ``yolo_lab`` comm.

The frontend opens the comm with its hello as the open data; the kernel
answers with its own hello, then serves requests. Whatever arrives, the
kernel answers with a schema-valid message and no exception reaches the
kernel: a broken extension must not break the user's notebook. Nothing is
printed either, since output from a comm handler lands in the user's cells.

A ``telemetry_subscribe`` makes the session a listener of the kernel's
telemetry sampler until ``telemetry_unsubscribe`` or the comm closes. The
sampler calls it on its own thread, which then sends on the comm: ipykernel
comms may be sent on from any thread.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Final, Protocol

from . import protocol
from .environment import collect
from .protocol import ProtocolError

if TYPE_CHECKING:
    from .telemetry import Batch, Notice, Sampler

__all__ = [
    "TARGET_NAME",
    "CommSession",
    "handle_comm_open",
    "register_comm_target",
    "register_if_in_kernel",
    "running_in_kernel",
]

TARGET_NAME: Final = protocol.COMM_TARGET
DEFAULT_WORKERS: Final = 8

_log = logging.getLogger(__name__)
# Without a handler, warnings would go through logging's last-resort handler
# to sys.stderr, which ipykernel forwards into the user's cell output.
_log.addHandler(logging.NullHandler())


class CommLike(Protocol):
    """The part of ``comm.base_comm.BaseComm`` this module uses."""

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None: ...

    def on_msg(self, callback: Callable[[dict[str, Any]], None] | None) -> None: ...

    def on_close(self, callback: Callable[[dict[str, Any]], None] | None) -> None: ...


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _content_data(msg: Any) -> Any:
    content = msg.get("content") if isinstance(msg, Mapping) else None
    return content.get("data") if isinstance(content, Mapping) else None


class CommSession:
    """One open comm: its handshake, its requests and its telemetry subscription.

    ``collect_report`` is the doctor's collector and ``sampler`` the
    telemetry sampler (default: the kernel's, ``telemetry.get_sampler()``);
    tests may substitute fabricated ones.
    """

    def __init__(
        self,
        comm: CommLike,
        collect_report: Callable[[int], dict[str, Any]] = collect,
        sampler: Sampler | None = None,
    ) -> None:
        self._comm = comm
        self._collect_report = collect_report
        self._sampler = sampler

    def open(self, open_msg: Mapping[str, Any]) -> None:
        """Greet the frontend, then check the hello it opened the comm with."""
        self._comm.on_msg(self.on_msg)
        self._comm.on_close(self.on_close)
        self._send(protocol.make_hello)
        self._guarded(lambda: self._check_frontend_hello(_content_data(open_msg)))

    def on_msg(self, msg: dict[str, Any]) -> None:
        """Handle one ``comm_msg`` from the frontend."""
        self._guarded(lambda: self._dispatch(_content_data(msg)))

    def on_close(self, msg: Any = None) -> None:
        """The comm closed: stop listening to the telemetry and the runs."""
        try:
            self._unsubscribe()
        except Exception:
            _log.debug("leaving the telemetry sampler failed", exc_info=True)
        if self._hub is not None:
            self._hub.unsubscribe(None, self.on_run_events)

    # -- training runs

    _hub: Any = None

    def _runs(self) -> Any:
        if self._hub is None:
            from .training.hub import get_hub

            self._hub = get_hub()
        return self._hub

    def _run_subscribe(self, msg: Mapping[str, Any]) -> None:
        from .training import TrainError

        try:
            self._runs().subscribe(msg["run"], self.on_run_events)
        except TrainError as exc:
            raise ProtocolError("bad_message", f"{exc.message}; {exc.fix}", msg["id"]) from exc

    def on_run_events(self, payload: dict[str, Any]) -> None:
        """Run hub listener: forward a run's events to the frontend."""
        self._send(
            lambda: protocol.make_run_events(
                payload["run"], payload["history"], payload["status"], payload["events"]
            )
        )

    def _run_stop(self, msg: Mapping[str, Any]) -> None:
        from .training.launch import run_status, stop_run

        stopping = stop_run(msg["run"])
        status = run_status(Path(msg["run"]).expanduser().resolve()).get("status", "unknown")
        text = (
            "stopping after the current batch; last.pt will be saved"
            if stopping
            else f"the run is not running (status: {status})"
        )
        self._send(lambda: protocol.make_run_stop_result(msg["id"], msg["run"], stopping, text))

    def _runs_request(self, msg: Mapping[str, Any]) -> None:
        from .training import list_runs

        project = str(Path(msg.get("project") or "runs/train").expanduser().resolve())
        runs = list_runs(project)
        self._send(lambda: protocol.make_runs_list(msg["id"], project, runs), msg["id"])

    def _check_frontend_hello(self, data: Any) -> None:
        hello = protocol.parse_incoming(data)
        if hello["type"] != "hello" or hello["side"] != "frontend":
            raise ProtocolError(
                "bad_message",
                "the comm must be opened with the frontend's hello "
                f"(type 'hello', side 'frontend'), got type {hello['type']!r}",
            )

    def _dispatch(self, data: Any) -> None:
        msg = protocol.parse_incoming(data)
        kind = msg["type"]
        if kind == "doctor_request":
            request_id = msg["id"]
            try:
                report = self._collect_report(msg.get("workers", DEFAULT_WORKERS))
            except (Exception, KeyboardInterrupt) as exc:
                self._send_error("internal", _describe(exc), request_id)
                return
            self._send(lambda: protocol.make_doctor_report(request_id, report), request_id)
        elif kind == "telemetry_subscribe":
            self._subscribe(msg)
        elif kind == "telemetry_unsubscribe":
            self._unsubscribe()
        elif kind == "run_subscribe":
            self._run_subscribe(msg)
        elif kind == "run_unsubscribe":
            self._runs().unsubscribe(msg.get("run"), self.on_run_events)
        elif kind == "run_stop":
            self._run_stop(msg)
        elif kind == "runs_request":
            self._runs_request(msg)
        elif kind == "hello":
            # A frontend that reconnects greets again; greeting back is enough.
            self._check_frontend_hello(msg)
            self._send(protocol.make_hello)
        elif kind == "error":
            # The frontend could not understand something we sent; answering
            # with another error could loop, so it is only logged.
            _log.debug("frontend reported %s: %s", msg["code"], msg["message"])
        else:
            raise ProtocolError(
                "bad_message",
                f"{kind} is sent by the kernel, not to it",
                msg.get("id") if isinstance(msg.get("id"), str) else None,
            )

    def _telemetry(self) -> Sampler:
        if self._sampler is None:
            # Imported here: the sampler is only needed once subscribed.
            from .telemetry import get_sampler

            self._sampler = get_sampler()
        return self._sampler

    def _subscribe(self, msg: Mapping[str, Any]) -> None:
        try:
            # The sampler answers on its thread: the history batch first,
            # then live batches and notices (see on_telemetry).
            self._telemetry().add_listener(self.on_telemetry, msg.get("interval_s"))
        except ValueError as exc:
            # The schema bounds interval_s already; this keeps the two honest.
            raise ProtocolError("bad_message", str(exc), msg["id"]) from exc

    def _unsubscribe(self) -> None:
        if self._sampler is not None:
            self._sampler.remove_listener(self.on_telemetry)

    def on_telemetry(self, kind: str, payload: Batch | Notice) -> None:
        """Sampler listener: forward a batch or a notice to the frontend."""
        from .telemetry import Batch

        if isinstance(payload, Batch):
            batch = payload
            self._send(
                lambda: protocol.make_telemetry_batch(
                    batch.sampler_id,
                    batch.source,
                    batch.interval_s,
                    batch.samples,
                    batch.history,
                    # The sampler validated each sample when it took it.
                    samples_checked=True,
                )
            )
        else:
            notice = payload
            self._send(
                lambda: protocol.make_telemetry_notice(
                    notice.sampler_id, notice.level, notice.code, notice.message
                )
            )

    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
        except ProtocolError as exc:
            self._send_error(exc.code, exc.message, exc.id)
        except (Exception, KeyboardInterrupt) as exc:
            # KeyboardInterrupt included: interrupting the kernel during a
            # long doctor run should end the request, not crash the handler.
            self._send_error("internal", _describe(exc))

    def _send_error(
        self, code: protocol.ErrorCode, message: str, request_id: str | None = None
    ) -> None:
        self._send(lambda: protocol.make_error(code, message, request_id), request_id)

    def _send(self, build: Callable[[], dict[str, Any]], request_id: str | None = None) -> None:
        try:
            try:
                message = build()
            except Exception as exc:
                # The message we built broke the schema: a bug here, reported
                # rather than sent.
                message = protocol.make_error("internal", _describe(exc), request_id)
            self._comm.send(data=message)
        except Exception:
            # Nothing valid can be sent (closed comm, unreadable schema);
            # the kernel must carry on regardless.
            _log.debug("could not send on the yolo_lab comm", exc_info=True)


def handle_comm_open(comm: CommLike, open_msg: Mapping[str, Any]) -> None:
    """Comm target callback for ``yolo_lab``."""
    try:
        CommSession(comm).open(open_msg)
    except Exception:
        # An exception here makes the comm manager close the comm and log a
        # traceback; keep the comm and stay quiet instead.
        _log.debug("opening the yolo_lab comm failed", exc_info=True)


def running_in_kernel() -> bool:
    """Whether this process is a running ipykernel."""
    # Checked through sys.modules so that plain Python never imports ipykernel.
    if "ipykernel" not in sys.modules:
        return False
    try:
        from ipykernel.kernelbase import Kernel
    except ImportError:
        return False
    return bool(Kernel.initialized())


def register_comm_target(manager: Any = None) -> bool:
    """Register the ``yolo_lab`` comm target; True if it was not registered yet.

    Safe to call any number of times.
    """
    if manager is None:
        import comm

        manager = comm.get_comm_manager()
    if manager.targets.get(TARGET_NAME) is handle_comm_open:
        return False
    manager.register_target(TARGET_NAME, handle_comm_open)
    return True


def register_if_in_kernel() -> bool:
    """Register the comm target when running inside a kernel; never raises."""
    try:
        return running_in_kernel() and register_comm_target()
    except Exception:
        _log.debug("registering the yolo_lab comm target failed", exc_info=True)
        return False
