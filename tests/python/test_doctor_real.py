"""The doctor run for real on the machine running the tests."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import yolo_lab
from yolo_lab import protocol
from yolo_lab.environment.report import DoctorReport, collect

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_report() -> dict[str, Any]:
    return collect(workers=8)


def test_real_report_validates(
    real_report: dict[str, Any], report_validator: Any, schema_validator: Any
) -> None:
    report_validator.validate(real_report)
    schema_validator.validate(protocol.make_doctor_report("real", real_report))


def test_real_report_describes_this_process(real_report: dict[str, Any]) -> None:
    assert real_report["python"]["executable"] == sys.executable
    assert real_report["torch"]["installed"] is True
    assert real_report["torch"]["version"] == torch.__version__
    assert real_report["torch"]["cuda_build"] == torch.version.cuda
    assert real_report["workers"] == 8


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_real_no_gpu_visible(real_report: dict[str, Any]) -> None:
    assert real_report["torch"]["cuda_available"] is False
    assert real_report["torch"]["device_count"] == 0
    if not real_report["driver"]["nvml"]:
        assert real_report["gpus"] == []
    no_gpu = [f for f in real_report["findings"] if f["id"] == "no_gpu"]
    assert len(no_gpu) == 1
    assert "No GPU visible" in no_gpu[0]["title"]


def test_real_yolov5_matches_find_spec(real_report: dict[str, Any]) -> None:
    installed = importlib.util.find_spec("yolov5") is not None
    yolo = real_report["yolov5"]
    if yolo["source"] != "checkout":
        assert yolo["available"] is installed
    assert any(f["id"] == "yolov5_missing" for f in real_report["findings"]) is (
        not yolo["available"]
    )


def test_doctor_returns_a_report_object() -> None:
    result = yolo_lab.doctor(workers=0)
    assert isinstance(result, DoctorReport)
    assert result.findings is result.data["findings"]
    assert all(f["id"] != "shm_small" for f in result.findings)


def test_plain_import_outside_a_kernel_has_no_side_effects() -> None:
    code = (
        "import sys, yolo_lab, comm; "
        "assert not {'ipykernel', 'torch', 'jsonschema'} & set(sys.modules); "
        "assert 'yolo_lab' not in comm.get_comm_manager().targets; "
        "paths = yolo_lab._jupyter_labextension_paths(); "
        "assert paths == [{'src': 'labextension', 'dest': 'yolo-lab'}]; "
        "print(yolo_lab.__version__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == yolo_lab.__version__
