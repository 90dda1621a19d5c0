"""The yolo-lab comm protocol, as seen from the kernel.

The only definition of the protocol is ``yolo_lab.schema.json`` (JSON Schema
draft-07), shared with the TypeScript extension. This module loads it,
validates messages against it, classifies bad incoming messages into the
schema's error codes and builds outgoing messages that are checked before
they leave the kernel.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from ._pkgversion import __version__

if TYPE_CHECKING:
    from jsonschema import Draft7Validator, ValidationError

__all__ = [
    "COMM_TARGET",
    "PROTOCOL_VERSION",
    "AUTOTUNE_MIME_TYPE",
    "RUN_MIME_TYPE",
    "TELEMETRY_MIME_TYPE",
    "SCHEMA_FILENAME",
    "SUPPORTED_VERSIONS",
    "ErrorCode",
    "NoticeCode",
    "NoticeLevel",
    "OutgoingMessageError",
    "ProtocolError",
    "TelemetrySource",
    "check_telemetry_sample",
    "error_codes",
    "load_schema",
    "make_doctor_report",
    "make_error",
    "make_hello",
    "make_run_events",
    "make_run_stop_result",
    "make_runs_list",
    "make_telemetry_batch",
    "make_telemetry_display",
    "make_telemetry_notice",
    "message_types",
    "parse_incoming",
    "schema_path",
    "validate",
    "validate_definition",
]

PROTOCOL_VERSION: Final = 1
SUPPORTED_VERSIONS: Final = (PROTOCOL_VERSION,)
SCHEMA_FILENAME: Final = "yolo_lab.schema.json"

ErrorCode = Literal["bad_message", "unsupported_version", "unknown_type", "internal"]
TelemetrySource = Literal["nvml", "psutil"]
NoticeLevel = Literal["info", "warning", "error"]
NoticeCode = Literal["nvml_lost", "nvml_unavailable", "sampler_error"]

# Longest error text sent back; a failed validation of a whole report would
# otherwise echo the entire report into the frontend.
_MAX_ERROR_TEXT: Final = 500


class ProtocolError(Exception):
    """An incoming message that cannot be served.

    ``code`` is one of the schema's error codes, ``message`` is meant for a
    human, and ``id`` is the request id when it could be read from the message.
    """

    def __init__(self, code: ErrorCode, message: str, id: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ErrorCode = code
        self.message = message
        self.id = id


class OutgoingMessageError(ValueError):
    """The kernel was about to send a message that breaks the protocol."""


def schema_path(filename: str = SCHEMA_FILENAME) -> Path:
    """Where the schema (or another file of ``protocol/``) is read from.

    An installed wheel carries it as package data in ``yolo_lab/_schema/``
    (not ``protocol/``, which would shadow this module's name); a source
    checkout keeps the single copy at ``<repo>/protocol/``.
    """
    try:
        packaged = resources.files("yolo_lab") / "_schema" / filename
        if packaged.is_file():
            # Wheels are installed unzipped, so the traversable is a real path.
            return Path(str(packaged))
    except (ModuleNotFoundError, OSError):
        pass
    return Path(__file__).resolve().parent.parent / "protocol" / filename


@lru_cache(maxsize=1)
def _schema_text() -> str:
    path = schema_path()
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(
            f"yolo-lab protocol schema not found at {path}; the installation is incomplete"
        ) from exc


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    # Shared by this module only, which never mutates it.
    return json.loads(_schema_text())


def load_schema() -> dict[str, Any]:
    """The protocol schema as a fresh dict (callers may mutate it)."""
    return json.loads(_schema_text())


# The constants both languages read from the schema's x-yolo-lab block.
COMM_TARGET: Final[str] = _schema()["x-yolo-lab"]["comm_target"]
RUN_MIME_TYPE: Final[str] = _schema()["x-yolo-lab"]["mime_types"]["run"]
AUTOTUNE_MIME_TYPE: Final[str] = _schema()["x-yolo-lab"]["mime_types"]["autotune"]
TELEMETRY_MIME_TYPE: Final[str] = _schema()["x-yolo-lab"]["mime_types"]["telemetry"]


@lru_cache(maxsize=1)
def _validator() -> Draft7Validator:
    # Imported on first use: importing jsonschema costs most of a second
    # (its format checkers), which `import yolo_lab` in a cell should not pay.
    from jsonschema import Draft7Validator

    schema = _schema()
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


@lru_cache(maxsize=16)
def _definition_validator(name: str) -> Draft7Validator:
    from jsonschema import Draft7Validator

    schema = _schema()
    if name not in schema["definitions"]:
        raise KeyError(f"the protocol schema has no definition {name!r}")
    # A schema of its own that refers into the shared definitions, so that
    # $refs inside the definition resolve as they do in the full schema.
    return Draft7Validator(
        {
            "$schema": schema["$schema"],
            "definitions": schema["definitions"],
            "$ref": f"#/definitions/{name}",
        }
    )


def _first_error(msg: Any, definition: str | None = None) -> ValidationError | None:
    from jsonschema.exceptions import best_match

    validator = _validator() if definition is None else _definition_validator(definition)
    return best_match(validator.iter_errors(msg))


# Read from the schema so that it stays the only place where message types
# and error codes are listed.


def message_types() -> tuple[str, ...]:
    """Every message type of the protocol."""
    return tuple(_schema()["properties"]["type"]["enum"])


def error_codes() -> tuple[str, ...]:
    """Every error code of the protocol."""
    return tuple(_schema()["definitions"]["error"]["properties"]["code"]["enum"])


def _describe(error: ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    text = f"{error.message} (at /{where})" if where else error.message
    if len(text) > _MAX_ERROR_TEXT:
        text = text[: _MAX_ERROR_TEXT - 1] + "…"
    return text


def validate(msg: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``msg`` obeys the schema."""
    error = _first_error(msg)
    if error is not None:
        raise error


def validate_definition(name: str, value: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``value`` obeys ``definitions/<name>``.

    For data that is not a comm message but is defined by the schema, such as
    ``telemetry_display`` (what ``yolo_lab.monitor()`` displays) or a single
    ``telemetry_sample``. Raises ``KeyError`` for a name the schema lacks.
    """
    error = _first_error(value, name)
    if error is not None:
        raise error


def _readable_id(data: Any) -> str | None:
    if isinstance(data, dict):
        value = data.get("id")
        if isinstance(value, str):
            return value
    return None


def _is_integral_number(value: Any) -> bool:
    # bool is an int subclass, but ``true`` is not a version number.
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def parse_incoming(data: Any) -> dict[str, Any]:
    """Check a message received from the frontend and return it.

    Raises ``ProtocolError`` with ``unsupported_version`` for another protocol
    major version, ``unknown_type`` for a message type this kernel does not
    know and ``bad_message`` for anything else that breaks the schema. The
    version is checked before the schema so that a newer frontend gets told
    to upgrade rather than that its message is malformed.
    """
    if not isinstance(data, dict):
        raise ProtocolError(
            "bad_message", f"a message must be a JSON object, got {type(data).__name__}"
        )
    msg_id = _readable_id(data)
    missing = [key for key in ("v", "type") if key not in data]
    if missing:
        raise ProtocolError(
            "bad_message", f"message lacks required field(s): {', '.join(missing)}", msg_id
        )
    version = data["v"]
    if _is_integral_number(version) and version != PROTOCOL_VERSION:
        supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
        raise ProtocolError(
            "unsupported_version",
            f"protocol version {int(version)} is not supported; this kernel's yolo-lab "
            f"{__version__} speaks version {supported}. Upgrade yolo-lab on the older side "
            "(the JupyterLab extension or the kernel's Python package) so both match.",
            msg_id,
        )
    msg_type = data["type"]
    if not isinstance(msg_type, str):
        raise ProtocolError("bad_message", "field 'type' must be a string", msg_id)
    if msg_type not in message_types():
        raise ProtocolError("unknown_type", f"unknown message type {msg_type!r}", msg_id)
    error = _first_error(data)
    if error is not None:
        raise ProtocolError(
            "bad_message", f"invalid {msg_type} message: {_describe(error)}", msg_id
        )
    return data


_PLAIN_SCALARS: Final = (str, int, float, bool, type(None))


def _check_plain_json(value: Any, where: str = "") -> None:
    # Exact type checks on purpose: numpy.float64 subclasses float and would
    # pass the schema, but the message must be plain JSON whatever serialiser
    # ends up sending it.
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise OutgoingMessageError(f"non-string key {key!r} at /{where}")
            _check_plain_json(item, f"{where}/{key}" if where else key)
    elif kind is list:
        for index, item in enumerate(value):
            _check_plain_json(item, f"{where}/{index}" if where else str(index))
    elif kind in _PLAIN_SCALARS:
        if kind is float and not math.isfinite(value):
            raise OutgoingMessageError(f"non-finite number {value!r} at /{where}")
    else:
        raise OutgoingMessageError(
            f"{kind.__module__}.{kind.__qualname__} is not plain JSON at /{where}"
        )


def _checked(msg: dict[str, Any], definition: str | None = None) -> dict[str, Any]:
    _check_plain_json(msg)
    error = _first_error(msg, definition)
    if error is not None:
        what = f"{msg.get('type')} message" if definition is None else definition
        raise OutgoingMessageError(f"outgoing {what}: {_describe(error)}")
    return msg


def make_hello(side: Literal["kernel", "frontend"] = "kernel") -> dict[str, Any]:
    """The handshake message, announcing this package's version."""
    return _checked({"v": PROTOCOL_VERSION, "type": "hello", "side": side, "version": __version__})


def make_doctor_report(request_id: str | None, report: Mapping[str, Any]) -> dict[str, Any]:
    """A doctor report answering ``request_id`` (``None`` when pushed unasked)."""
    return _checked(
        {"v": PROTOCOL_VERSION, "type": "doctor_report", "id": request_id, "report": dict(report)}
    )


def make_error(code: ErrorCode, message: str, request_id: str | None = None) -> dict[str, Any]:
    """An error message; ``request_id`` is left out when unknown."""
    msg: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": "error", "code": code, "message": message}
    if request_id is not None:
        msg["id"] = request_id
    return _checked(msg)


def make_telemetry_batch(
    sampler_id: str,
    source: TelemetrySource,
    interval_s: float,
    samples: Sequence[Mapping[str, Any]],
    history: bool = False,
    *,
    samples_checked: bool = False,
) -> dict[str, Any]:
    """Samples from the kernel's sampler; ``history`` marks the replay sent on subscribe.

    ``samples_checked=True`` says every sample already passed
    ``check_telemetry_sample`` (the sampler checks each one as it is taken),
    so only the envelope is validated here: a history of thousands of
    samples would otherwise be validated again on every send.
    """
    message = {
        "v": PROTOCOL_VERSION,
        "type": "telemetry_batch",
        "sampler_id": sampler_id,
        "source": source,
        "interval_s": interval_s,
        "history": history,
        "samples": [dict(sample) for sample in samples],
    }
    return _checked_with_samples(message, None, samples_checked)


def make_telemetry_notice(
    sampler_id: str, level: NoticeLevel, code: NoticeCode, message: str
) -> dict[str, Any]:
    """Something the user should see about the telemetry, e.g. NVML lost."""
    return _checked(
        {
            "v": PROTOCOL_VERSION,
            "type": "telemetry_notice",
            "sampler_id": sampler_id,
            "level": level,
            "code": code,
            "message": message,
        }
    )


def make_telemetry_display(
    sampler_id: str,
    source: TelemetrySource,
    interval_s: float,
    window_s: float,
    samples: Sequence[Mapping[str, Any]],
    live: bool,
    notice: str | None = None,
    *,
    samples_checked: bool = False,
) -> dict[str, Any]:
    """The data of the ``application/vnd.yolo-lab.telemetry+json`` output.

    Not a comm message: checked against ``definitions/telemetry_display``.
    ``samples_checked`` as for ``make_telemetry_batch``.
    """
    data = {
        "v": PROTOCOL_VERSION,
        "sampler_id": sampler_id,
        "source": source,
        "interval_s": interval_s,
        "window_s": window_s,
        "live": live,
        "notice": notice,
        "samples": [dict(sample) for sample in samples],
    }
    return _checked_with_samples(data, "telemetry_display", samples_checked)


def check_telemetry_sample(sample: Mapping[str, Any]) -> dict[str, Any]:
    """One sample as a plain dict, checked against ``definitions/telemetry_sample``.

    Raises ``OutgoingMessageError``. Samples must not be mutated once
    checked: builders given ``samples_checked=True`` rely on it.
    """
    return _checked(dict(sample), "telemetry_sample")


def _checked_with_samples(
    message: dict[str, Any], definition: str | None, samples_checked: bool
) -> dict[str, Any]:
    if not samples_checked:
        return _checked(message, definition)
    samples = message["samples"]
    # The envelope is validated with no samples, then they are put back.
    message["samples"] = []
    _checked(message, definition)
    message["samples"] = samples
    return message


def make_run_events(
    run: str, history: bool, status: Mapping[str, Any], events: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A run's events (history from disk, or what is new), checked.

    An event the schema refuses (a line written by another yolo-lab
    version, or damaged on disk) is left out, with a notice that says how
    many and why, so one bad line never costs the whole history.
    """
    validator = _definition_validator("run_event")
    kept: list[dict[str, Any]] = []
    skipped: list[str] = []
    for event in events:
        error = best_match_error(validator, event)
        if error is None:
            kept.append(dict(event))
        else:
            skipped.append(_describe(error))
    if skipped:
        kept.append(
            {
                "t": kept[-1]["t"] if kept else 0.0,
                "kind": "notice",
                "message": f"{len(skipped)} event(s) of the run's file were skipped: they do "
                f"not follow the protocol (first: {skipped[0]})",
            }
        )
    return _checked(
        {
            "v": PROTOCOL_VERSION,
            "type": "run_events",
            "run": run,
            "history": history,
            "status": dict(status),
            "events": kept,
        }
    )


def best_match_error(validator: Draft7Validator, value: Any) -> ValidationError | None:
    """The most relevant error of ``value`` against ``validator``, or None."""
    from jsonschema.exceptions import best_match

    return best_match(validator.iter_errors(value))


def make_runs_list(
    request_id: str, project: str, runs: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The runs of a project folder, checked."""
    return _checked(
        {
            "v": PROTOCOL_VERSION,
            "type": "runs_list",
            "id": request_id,
            "project": project,
            "runs": [dict(r) for r in runs],
        }
    )


def make_run_stop_result(request_id: str, run: str, stopping: bool, message: str) -> dict[str, Any]:
    """The answer to run_stop, checked."""
    return _checked(
        {
            "v": PROTOCOL_VERSION,
            "type": "run_stop_result",
            "id": request_id,
            "run": run,
            "stopping": stopping,
            "message": message,
        }
    )
