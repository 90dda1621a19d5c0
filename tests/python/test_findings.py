"""Each finding rule on fabricated reports (no real hardware involved)."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from yolo_lab.environment.findings import compare_versions, evaluate, min_driver_for

Build = Callable[..., dict[str, Any]]

NO_TORCH_GPU = {"cuda_available": False, "device_count": 0}


def ids(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {finding["id"]: dict(finding) for finding in evaluate(report)}


def test_fabricated_healthy_report_has_no_findings(
    fabricated_report: Build, report_validator: Any
) -> None:
    report = fabricated_report()
    report_validator.validate(report)
    assert evaluate(report) == []


def test_fabricated_findings_validate(fabricated_report: Build, report_validator: Any) -> None:
    report = fabricated_report(
        torch={"version": "2.3.0+cpu", "cuda_build": None, **NO_TORCH_GPU},
        system={"shm_total_bytes": 64 << 20},
        yolov5={"available": False, "source": None, "location": None, "version": None},
    )
    report["findings"] = [dict(f) for f in evaluate(report)]
    assert report["findings"]
    report_validator.validate(report)


def test_version_comparison_is_numeric() -> None:
    assert compare_versions("470.82.01", "525.60.13") < 0
    assert compare_versions("580.00", "580") == 0
    assert compare_versions("535.104.05", "535.54.03") > 0
    assert min_driver_for((12, 7)) == "560.28.03"  # not a release: nearest older one
    assert min_driver_for((13, 1)) == "580.65.06"


def test_fabricated_driver_too_old_for_cuda_12_8(fabricated_report: Build) -> None:
    found = ids(fabricated_report(driver={"version": "470.82.01", "cuda_driver_version": "11.4"}))
    assert found["driver_too_old"]["severity"] == "error"
    assert "525.60.13" in found["driver_too_old"]["cause"]
    assert "570.26" in found["driver_too_old"]["fix"]
    assert "cu118" in found["driver_too_old"]["fix"]
    assert "driver_limited" not in found


def test_fabricated_driver_limited_cuda_12_8_on_535(fabricated_report: Build) -> None:
    found = ids(fabricated_report(driver={"version": "535.104.05", "cuda_driver_version": "12.2"}))
    assert found["driver_limited"]["severity"] == "warning"
    assert "minor-version compatibility" in found["driver_limited"]["cause"]
    assert "570.26" in found["driver_limited"]["fix"]
    assert "driver_too_old" not in found


def test_fabricated_driver_new_enough(fabricated_report: Build) -> None:
    for version in ("570.26", "570.124.06", "580.65.06"):
        found = ids(fabricated_report(driver={"version": version, "cuda_driver_version": "12.8"}))
        assert "driver_too_old" not in found and "driver_limited" not in found, version


def test_fabricated_cuda_13_on_575_driver_is_too_old(fabricated_report: Build) -> None:
    report = fabricated_report(
        torch={"version": "2.9.0+cu130", "cuda_build": "13.0"},
        driver={"version": "575.51.03", "cuda_driver_version": "12.9"},
    )
    finding = ids(report)["driver_too_old"]
    assert finding["severity"] == "error"
    assert "580" in finding["fix"]


def test_fabricated_driver_cuda_major_below_runtime_is_too_old(fabricated_report: Build) -> None:
    # Without a driver version, the driver's own CUDA version decides.
    report = fabricated_report(
        torch={"cuda_build": "13.0"}, driver={"version": None, "cuda_driver_version": "12.9"}
    )
    assert ids(report)["driver_too_old"]["severity"] == "error"


def test_fabricated_shm_small_with_workers(fabricated_report: Build) -> None:
    report = fabricated_report(
        system={"shm_total_bytes": 64 << 20, "in_container": True, "container_kind": "docker"}
    )
    finding = ids(report)["shm_small"]
    assert finding["severity"] == "warning"
    assert (
        "--shm-size" in finding["fix"]
        and "--ipc=host" in finding["fix"]
        and "workers=0" in finding["fix"]
    )
    report["workers"] = 0
    assert "shm_small" not in ids(report)


def test_fabricated_shm_large_or_missing_is_fine(fabricated_report: Build) -> None:
    assert "shm_small" not in ids(fabricated_report(system={"shm_total_bytes": 2 << 30}))
    assert "shm_small" not in ids(fabricated_report(system={"shm_total_bytes": None}))


def test_fabricated_cpu_only_build_with_device_present(fabricated_report: Build) -> None:
    report = fabricated_report(
        torch={"version": "2.8.0+cpu", "cuda_build": None, "cudnn": None, **NO_TORCH_GPU}
    )
    found = ids(report)
    assert found["cpu_torch_build"]["severity"] == "error"
    assert found["cpu_torch_build"]["fix"] == (
        "pip install torch torchvision --index-url https://download.pytorch.org/whl/cu128"
    )
    assert "nvidia-smi" in found["cpu_torch_build"]["cause"]
    assert "CPU-only" in found["no_gpu"]["cause"]


def test_fabricated_cpu_only_build_matches_an_older_driver(fabricated_report: Build) -> None:
    report = fabricated_report(
        torch={"cuda_build": None, **NO_TORCH_GPU},
        driver={"version": "550.54.14", "cuda_driver_version": "12.4"},
    )
    assert ids(report)["cpu_torch_build"]["fix"].endswith("/whl/cu124")


def test_fabricated_cpu_only_build_without_gpu_is_not_an_error(fabricated_report: Build) -> None:
    report = fabricated_report(
        torch={"cuda_build": None, **NO_TORCH_GPU},
        driver={
            "nvml": False,
            "version": None,
            "cuda_driver_version": None,
            "nvidia_device_present": False,
        },
        gpus=[],
    )
    assert "cpu_torch_build" not in ids(report)


def test_fabricated_torch_missing(fabricated_report: Build) -> None:
    report = fabricated_report(
        torch={
            "installed": False,
            "version": None,
            "cuda_build": None,
            "cudnn": None,
            "error": "ModuleNotFoundError: No module named 'torch'",
            **NO_TORCH_GPU,
        }
    )
    found = ids(report)
    assert found["torch_missing"]["severity"] == "error"
    assert found["torch_missing"]["fix"] == "pip install torch torchvision"
    assert "no_gpu" not in found and "driver_too_old" not in found


def _no_gpu(report: dict[str, Any]) -> dict[str, Any]:
    finding = ids(report)["no_gpu"]
    assert finding["severity"] == "warning"
    assert "No GPU visible" in finding["title"]
    return finding


def test_fabricated_no_gpu_container_hint(fabricated_report: Build) -> None:
    report = fabricated_report(
        torch=NO_TORCH_GPU,
        driver={
            "nvml": False,
            "version": None,
            "cuda_driver_version": None,
            "nvidia_device_present": False,
            "error": "NVML Shared Library Not Found",
        },
        gpus=[],
        system={"in_container": True, "container_kind": "docker"},
    )
    finding = _no_gpu(report)
    assert "container was started without GPU access" in finding["cause"]
    assert "docker run --gpus all" in finding["fix"]
    assert "yolo-lab up --gpus all" in finding["fix"]


def test_fabricated_no_gpu_kubernetes_hint(fabricated_report: Build) -> None:
    report = fabricated_report(
        torch=NO_TORCH_GPU,
        driver={"nvml": False, "version": None, "nvidia_device_present": False},
        gpus=[],
        system={"in_container": True, "container_kind": "kubernetes"},
    )
    assert "nvidia.com/gpu" in _no_gpu(report)["fix"]


@pytest.mark.parametrize("value", ["", "-1", "NoDevFiles", "none"])
def test_fabricated_no_gpu_hidden_by_cuda_visible_devices(
    fabricated_report: Build, value: str
) -> None:
    report = fabricated_report(torch=NO_TORCH_GPU, gpus=[], cuda_visible_devices=value)
    finding = _no_gpu(report)
    assert finding["fix"] == "unset CUDA_VISIBLE_DEVICES"
    assert "CUDA_VISIBLE_DEVICES" in finding["cause"]


def test_fabricated_no_gpu_device_present_points_at_driver(fabricated_report: Build) -> None:
    report = fabricated_report(
        torch=NO_TORCH_GPU,
        driver={
            "nvml": False,
            "version": None,
            "cuda_driver_version": None,
            "nvidia_device_present": True,
            "error": "Driver Not Loaded",
        },
        gpus=[],
    )
    finding = _no_gpu(report)
    assert "Driver Not Loaded" in finding["cause"]
    assert "nvidia-smi" in finding["fix"]


def test_fabricated_no_gpu_with_too_old_driver(fabricated_report: Build) -> None:
    report = fabricated_report(
        torch=NO_TORCH_GPU, driver={"version": "470.82.01", "cuda_driver_version": "11.4"}
    )
    found = ids(report)
    assert "too old" in found["no_gpu"]["cause"]
    assert "driver_too_old" in found
    assert list(found)[0] == "driver_too_old"  # errors sort first


def test_fabricated_no_gpu_bare_machine(fabricated_report: Build) -> None:
    report = fabricated_report(
        torch=NO_TORCH_GPU,
        driver={
            "nvml": False,
            "version": None,
            "cuda_driver_version": None,
            "nvidia_device_present": False,
        },
        gpus=[],
    )
    finding = _no_gpu(report)
    assert "CPU, slowly" in finding["cause"]
    assert "NVIDIA GPU" in finding["fix"]


def test_fabricated_yolov5_missing(fabricated_report: Build) -> None:
    report = fabricated_report(
        yolov5={"available": False, "version": None, "location": None, "source": None}
    )
    finding = ids(report)["yolov5_missing"]
    assert finding["severity"] == "warning"
    assert "pip install yolov5" in finding["fix"] and "YOLO_LAB_YOLOV5_DIR" in finding["fix"]


def test_fabricated_yolov5_broken_package(fabricated_report: Build) -> None:
    report = fabricated_report(
        yolov5={
            "available": False,
            "error": "the yolov5 package does not import: "
            "ModuleNotFoundError: No module named 'cv2'",
        }
    )
    finding = ids(report)["yolov5_missing"]
    assert "does not import" in finding["title"]
    assert "cv2" in finding["cause"]
