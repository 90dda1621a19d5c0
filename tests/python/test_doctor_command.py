"""The doctor as a command: ``yolo-lab-doctor`` (the wheel's script) and
``python -m yolo_lab doctor``, run for real on this machine; ``--check`` on a
fabricated error finding."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from yolo_lab import __main__ as cli

# The module (the package exports the function ``doctor`` under its name).
doctor_module = importlib.import_module("yolo_lab.environment.report")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_the_installed_script_prints_a_report_in_the_schema(
    report_validator: jsonschema.Draft7Validator,
) -> None:
    script = Path(sys.executable).parent / "yolo-lab-doctor"
    assert script.is_file(), "the wheel installs the yolo-lab-doctor script"
    result = _run(str(script), "--json", "--workers", "2")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    report_validator.validate(report)
    # The script's interpreter is this venv's (python3 beside python).
    assert Path(report["python"]["executable"]).parent == Path(sys.executable).parent
    assert report["system"]["cpu_count"] >= 1


@pytest.mark.slow
def test_python_m_yolo_lab_doctor_prints_text_without_warnings() -> None:
    result = _run(sys.executable, "-m", "yolo_lab", "doctor")
    assert result.returncode == 0, result.stderr
    assert "GPUs" in result.stdout and "Findings" in result.stdout
    assert "Warning" not in result.stderr, result.stderr


def test_usage_and_bad_arguments_exit_2_with_what_to_type() -> None:
    result = _run(sys.executable, "-m", "yolo_lab")
    assert result.returncode == 2
    assert "python -m yolo_lab doctor" in result.stderr
    result = _run(sys.executable, "-m", "yolo_lab", "doctor", "--workers", "-1")
    assert result.returncode == 2
    assert "--workers must be 0 or more" in result.stderr


@pytest.mark.parametrize(("severity", "status"), [("error", 1), ("warning", 0)])
def test_check_exits_1_on_an_error_finding_fabricated(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fabricated_report: Any,
    severity: str,
    status: int,
) -> None:
    finding = {"id": "no_gpu", "severity": severity, "title": "t", "cause": "c", "fix": "f"}
    report = fabricated_report(findings=[finding])
    monkeypatch.setattr(doctor_module, "collect", lambda workers: report)
    assert cli.main(["doctor", "--check"]) == status
    assert cli.main(["doctor"]) == 0
    assert "no_gpu" in capsys.readouterr().out
