"""The protocol module: schema loading, incoming classification, outgoing checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomllib

from yolo_lab import __version__, protocol
from yolo_lab.protocol import OutgoingMessageError, ProtocolError

REPO = Path(__file__).resolve().parents[2]


def test_schema_is_found() -> None:
    path = protocol.schema_path()
    assert path.is_file()
    if Path(protocol.__file__).resolve().is_relative_to(REPO):
        # A source checkout reads the repository's single copy.
        assert path == REPO / "protocol" / "yolo_lab.schema.json"
    else:
        assert path.parts[-3:] == ("yolo_lab", "_schema", "yolo_lab.schema.json")
    schema = protocol.load_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert protocol.PROTOCOL_VERSION == schema["properties"]["v"]["const"] == 1


def test_message_types_and_error_codes_come_from_the_schema() -> None:
    assert set(protocol.message_types()) == {
        "hello",
        "doctor_request",
        "doctor_report",
        "error",
        "telemetry_subscribe",
        "telemetry_unsubscribe",
        "telemetry_batch",
        "telemetry_notice",
        "run_subscribe",
        "run_unsubscribe",
        "run_stop",
        "run_stop_result",
        "runs_request",
        "runs_list",
        "run_events",
    }
    codes = {"bad_message", "unsupported_version", "unknown_type", "internal"}
    assert set(protocol.error_codes()) == codes


def test_valid_request_parses() -> None:
    msg = {"v": 1, "type": "doctor_request", "id": "r1", "workers": 4}
    assert protocol.parse_incoming(msg) == msg


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("hello", "bad_message"),
        ([1, 2], "bad_message"),
        (None, "bad_message"),
        ({"type": "doctor_request", "id": "a"}, "bad_message"),
        ({"v": 1, "id": "a"}, "bad_message"),
        ({"v": "1", "type": "doctor_request", "id": "a"}, "bad_message"),
        ({"v": True, "type": "doctor_request", "id": "a"}, "bad_message"),
        ({"v": 1, "type": 7, "id": "a"}, "bad_message"),
        ({"v": 1, "type": "doctor_request", "id": "a", "extra": 1}, "bad_message"),
        ({"v": 1, "type": "doctor_request", "id": ""}, "bad_message"),
        ({"v": 1, "type": "doctor_request", "id": "a", "workers": -1}, "bad_message"),
        ({"v": 2, "type": "doctor_request", "id": "a"}, "unsupported_version"),
        ({"v": 0, "type": "hello"}, "unsupported_version"),
        ({"v": 2.0, "type": "hello"}, "unsupported_version"),
        ({"v": 1, "type": "train_request", "id": "a"}, "unknown_type"),
    ],
)
def test_incoming_errors_are_classified(data: Any, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_incoming(data)
    assert caught.value.code == code
    assert caught.value.message


def test_unsupported_version_says_what_is_supported_and_to_upgrade() -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_incoming({"v": 2, "type": "doctor_request", "id": "req-9"})
    assert "version 1" in caught.value.message
    assert "Upgrade yolo-lab on the older side" in caught.value.message
    assert caught.value.id == "req-9"


def test_builders_produce_schema_valid_messages(schema_validator: Any) -> None:
    hello = protocol.make_hello()
    assert hello == {"v": 1, "type": "hello", "side": "kernel", "version": __version__}
    error = protocol.make_error("bad_message", "nope")
    assert "id" not in error
    for msg in (hello, error, protocol.make_error("internal", "x", "id-1")):
        schema_validator.validate(msg)


CPU_SAMPLE: dict[str, Any] = {
    "t": 1_700_000_000.5,
    "cpu_pct": 12.5,
    "ram_used_bytes": 3 << 30,
    "ram_total_bytes": 16 << 30,
    "proc_cpu_pct": 101.0,
    "proc_rss_bytes": 900 << 20,
    "gpus": [],
}
GPU_SAMPLE: dict[str, Any] = {
    **CPU_SAMPLE,
    "gpus": [
        {
            "index": 0,
            "util_pct": 97.0,
            "mem_used_bytes": 30 << 30,
            "mem_total_bytes": 80 << 30,
            "temp_c": 70.0,
            "power_w": 410.25,
            "proc_mem_bytes": None,
        }
    ],
}


def test_telemetry_builders_produce_schema_valid_messages(schema_validator: Any) -> None:
    batch = protocol.make_telemetry_batch("abc", "nvml", 0.5, [CPU_SAMPLE, GPU_SAMPLE], True)
    assert batch["type"] == "telemetry_batch" and batch["history"] is True
    notice = protocol.make_telemetry_notice("abc", "warning", "nvml_lost", "gone")
    for msg in (batch, notice, protocol.make_telemetry_batch("abc", "psutil", 10, [])):
        schema_validator.validate(msg)
    display = protocol.make_telemetry_display("abc", "psutil", 1.0, 300, [CPU_SAMPLE], live=True)
    assert display["notice"] is None and display["live"] is True
    protocol.validate_definition("telemetry_display", display)
    assert protocol.check_telemetry_sample(GPU_SAMPLE) == GPU_SAMPLE


@pytest.mark.parametrize(
    "sample",
    [
        {**CPU_SAMPLE, "cpu_pct": -1.0},
        {**CPU_SAMPLE, "t": "now"},
        {**CPU_SAMPLE, "cpu_pct": float("nan")},
        {**CPU_SAMPLE, "extra": 1},
        {**GPU_SAMPLE, "gpus": [{**GPU_SAMPLE["gpus"][0], "index": -1}]},
        {k: v for k, v in CPU_SAMPLE.items() if k != "gpus"},
    ],
)
def test_bad_telemetry_samples_are_not_sent(sample: dict[str, Any]) -> None:
    with pytest.raises(OutgoingMessageError):
        protocol.check_telemetry_sample(sample)
    with pytest.raises(OutgoingMessageError):
        protocol.make_telemetry_batch("abc", "psutil", 1.0, [sample])
    with pytest.raises(OutgoingMessageError, match="samples/0"):
        protocol.make_telemetry_display("abc", "psutil", 1.0, 60, [sample], live=False)


def test_checked_samples_skip_only_the_samples() -> None:
    # Samples vouched for are not validated again, the envelope still is.
    odd = {"anything": "goes"}
    batch = protocol.make_telemetry_batch("a", "psutil", 1.0, [odd], samples_checked=True)
    assert batch["samples"] == [odd]
    with pytest.raises(OutgoingMessageError, match="interval_s"):
        protocol.make_telemetry_batch("a", "psutil", 0.01, [odd], samples_checked=True)
    with pytest.raises(OutgoingMessageError, match="window_s"):
        protocol.make_telemetry_display("a", "psutil", 1.0, 0.5, [odd], True, samples_checked=True)


def test_validate_definition() -> None:
    import jsonschema

    protocol.validate_definition("telemetry_sample", CPU_SAMPLE)
    with pytest.raises(jsonschema.ValidationError):
        protocol.validate_definition("telemetry_display", {"v": 1})
    with pytest.raises(KeyError, match="no_such_thing"):
        protocol.validate_definition("no_such_thing", {})


class _Float(float):
    """Stands in for numpy.float64, a float subclass the schema alone accepts."""


@pytest.mark.parametrize("bad", [_Float(1.0), float("nan"), float("inf"), (1, 2), {1: "a"}])
def test_outgoing_numbers_must_be_plain_json(fabricated_report: Any, bad: Any) -> None:
    report = fabricated_report(generated_at=bad)
    with pytest.raises(OutgoingMessageError):
        protocol.make_doctor_report("r", report)


def test_outgoing_messages_are_validated(fabricated_report: Any) -> None:
    report = fabricated_report()
    del report["findings"]
    with pytest.raises(OutgoingMessageError, match="findings"):
        protocol.make_doctor_report("r", report)
    with pytest.raises(OutgoingMessageError):
        protocol.make_error("teapot", "x")  # type: ignore[arg-type]


@pytest.mark.slow
def test_wheel_layout_reads_the_packaged_schema(tmp_path: Path) -> None:
    """In the wheel the schemas sit in yolo_lab/_schema/, beside the package."""
    site = tmp_path / "site"
    skip = shutil.ignore_patterns("labextension", "__pycache__")
    shutil.copytree(REPO / "yolo_lab", site / "yolo_lab", ignore=skip)
    # What the wheel carries beside the package (pyproject's force-include).
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    for source, target in wheel["force-include"].items():
        (site / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / source, site / target)
    code = (
        "from yolo_lab import protocol; "
        "print(protocol.schema_path()); "
        "protocol.validate(protocol.make_hello())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    expected = site / "yolo_lab" / "_schema" / "yolo_lab.schema.json"
    assert Path(result.stdout.strip()) == expected
