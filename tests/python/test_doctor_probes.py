"""Probes of the doctor against fabricated hosts: files, NVML and packages."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from yolo_lab._cuda_env import NvmlDevice, parse_visible_devices, visible_nvml_gpus
from yolo_lab.environment import packages as _packages
from yolo_lab.environment import report as doctor_module
from yolo_lab.environment.report import HostPaths, collect, detect_container, probe_yolov5

GIB = 1 << 30

DEVICES = [
    NvmlDevice(
        0, "NVIDIA A100-SXM4-40GB", 40 * GIB, "8.0", "GPU-aaaa1111-0000-0000-0000-000000000000"
    ),
    NvmlDevice(
        1, "NVIDIA A100-SXM4-40GB", 40 * GIB, "8.0", "GPU-bbbb2222-0000-0000-0000-000000000000"
    ),
    NvmlDevice(2, "NVIDIA L4", 24 * GIB, "8.9", "GPU-cccc3333-0000-0000-0000-000000000000"),
]


def empty_host(root: Path) -> HostPaths:
    """Paths under ``root`` that do not exist: a host with nothing special."""
    return HostPaths(
        nvidia_device_node=root / "dev" / "nvidia0",
        nvidia_proc_gpus=root / "proc" / "driver" / "nvidia" / "gpus",
        shm=root / "dev" / "shm",
        dockerenv=root / ".dockerenv",
        containerenv=root / "run" / ".containerenv",
        init_cgroup=root / "proc" / "1" / "cgroup",
        mountinfo=root / "proc" / "self" / "mountinfo",
        yolov5_checkout=root / "workspace" / "yolov5",
    )


def visible(value: str | None) -> list[tuple[int, str | None]]:
    return [(gpu["index"], gpu["uuid"]) for gpu in visible_nvml_gpus(DEVICES, value)]


def test_fabricated_cuda_visible_devices_filter() -> None:
    uuids = [d.uuid for d in DEVICES]
    assert visible(None) == [(0, uuids[0]), (1, uuids[1]), (2, uuids[2])]
    # Renumbered in the listed order, as the kernel's cuda:N.
    assert visible("2,0") == [(0, uuids[2]), (1, uuids[0])]
    assert visible(" 1 ") == [(0, uuids[1])]
    assert visible("1gpu2,0") == [(0, uuids[1]), (1, uuids[0])]  # read like strtoul
    assert visible("GPU-cccc") == [(0, uuids[2])]
    assert visible("GPU-bbbb2222,GPU-aaaa") == [(0, uuids[1]), (1, uuids[0])]
    assert visible("GPU-bbbb2222,0") == [(0, uuids[1])]  # a list is all UUIDs or all indices
    # Reading stops at the first entry past the devices or negative.
    assert visible("0,7,1") == [(0, uuids[0])]
    assert visible("1,-1,2") == [(0, uuids[1])]
    assert visible("GPU-cccc,GPU-ffff,GPU-aaaa") == [(0, uuids[2])]
    for hidden in ("", "-1", "NoDevFiles", "none", "GPU-", "1,1", "GPU-aaaa,GPU-aaaa", "MIG-0000"):
        assert visible(hidden) == [], hidden


VISIBLE_SAMPLES = [
    "",
    "-1",
    "NoDevFiles",
    "0",
    "1,0",
    " 2 ,1",
    "1gpu2,3",
    "0,-1,2",
    "1,1",
    "+1",
    "GPU-ab,GPU-cd",
    "GPU-ab,1",
    "MIG-x",
]


@pytest.mark.parametrize("value", VISIBLE_SAMPLES)
def test_visible_devices_parser_agrees_with_torch(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    torch_cuda = pytest.importorskip("torch.cuda")
    parse = getattr(torch_cuda, "_parse_visible_devices", None)
    if parse is None:
        pytest.skip("this torch has no _parse_visible_devices")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", value)
    assert parse_visible_devices(value) == parse()


def _fake_pynvml(
    driver: str, cuda: int, devices: list[NvmlDevice], calls: list[str]
) -> types.ModuleType:
    module = types.ModuleType("pynvml")

    def record(name: str, result: Any = None) -> Any:
        def call(*_args: Any) -> Any:
            calls.append(name)
            return result(*_args) if callable(result) else result

        return call

    module.nvmlInit = record("init")  # type: ignore[attr-defined]
    module.nvmlShutdown = record("shutdown")  # type: ignore[attr-defined]
    module.nvmlSystemGetDriverVersion = record("driver", driver)  # type: ignore[attr-defined]
    module.nvmlSystemGetCudaDriverVersion = record("cuda", cuda)  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = record("count", len(devices))  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = lambda i: devices[i]  # type: ignore[attr-defined]
    module.nvmlDeviceGetName = lambda d: d.name.encode()  # bytes, as older releases  # type: ignore[attr-defined]
    module.nvmlDeviceGetMemoryInfo = lambda d: types.SimpleNamespace(total=d.memory_total_bytes)  # type: ignore[attr-defined]
    module.nvmlDeviceGetCudaComputeCapability = lambda d: tuple(
        int(x) for x in d.compute_capability.split(".")
    )  # type: ignore[attr-defined]
    module.nvmlDeviceGetUUID = lambda d: d.uuid  # type: ignore[attr-defined]
    return module


def test_fabricated_nvml_driver_and_hidden_gpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, report_validator: Any
) -> None:
    """torch cannot use the GPUs; NVML lists them, filtered as the kernel sees them."""
    calls: list[str] = []
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml("575.51.03", 12090, DEVICES, calls))
    monkeypatch.setattr(
        doctor_module,
        "probe_torch",
        lambda: (
            {
                **_packages._empty_torch(),
                "installed": True,
                "version": "2.9.0+cu130",
                "cuda_build": "13.0",
            },
            [],
        ),
    )
    monkeypatch.setattr(doctor_module, "probe_yolov5", lambda *_: _packages._empty_yolov5())
    report = collect(workers=2, paths=empty_host(tmp_path), environ={"CUDA_VISIBLE_DEVICES": "2,1"})
    report_validator.validate(report)
    assert report["driver"] == {
        "nvml": True,
        "version": "575.51.03",
        "cuda_driver_version": "12.9",
        "nvidia_device_present": True,
        "error": None,
    }
    assert calls[0] == "init" and calls[-1] == "shutdown"
    assert [(g["index"], g["name"]) for g in report["gpus"]] == [
        (0, "NVIDIA L4"),
        (1, "NVIDIA A100-SXM4-40GB"),
    ]
    assert report["cuda_visible_devices"] == "2,1"
    found = {f["id"] for f in report["findings"]}
    assert {"driver_too_old", "no_gpu"} <= found


def test_fabricated_nvml_failure_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = types.ModuleType("pynvml")

    def fail() -> None:
        raise RuntimeError("NVML Shared Library Not Found")

    module.nvmlInit = fail  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", module)
    host = empty_host(tmp_path)
    probe = doctor_module.probe_driver(host)
    assert probe.info["nvml"] is False
    assert probe.info["error"] == "NVML Shared Library Not Found"
    assert probe.info["nvidia_device_present"] is False
    # A device node or a /proc entry is enough to know a GPU is there.
    (tmp_path / "proc" / "driver" / "nvidia" / "gpus" / "0000:01:00.0").mkdir(parents=True)
    assert doctor_module.probe_driver(host).info["nvidia_device_present"] is True


def test_fabricated_container_detection(tmp_path: Path) -> None:
    host = empty_host(tmp_path)
    assert detect_container(host, environ={}) is None
    assert detect_container(host, environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1"}) == "kubernetes"

    (tmp_path / "proc" / "self").mkdir(parents=True)
    # A Docker *host* lists its containers' overlays; that is not being in one.
    host_line = (
        "101 29 0:50 / /var/lib/docker/overlay2/abc/merged rw - overlay overlay "
        "rw,lowerdir=/var/lib/docker/x"
    )
    host.mountinfo.write_text(f"22 1 8:1 / / rw - ext4 /dev/sda1 rw\n{host_line}\n")
    assert detect_container(host, environ={}) is None
    host.mountinfo.write_text(
        "600 500 0:40 / / rw - overlay overlay "
        "rw,lowerdir=/var/lib/containerd/io.containerd.snapshotter\n"
    )
    assert detect_container(host, environ={}) == "container"
    host.mountinfo.write_text(
        "612 600 8:1 /var/lib/docker/containers/abc/hostname /etc/hostname rw - ext4 /dev/sda1 rw\n"
    )
    assert detect_container(host, environ={}) == "docker"

    (tmp_path / "run").mkdir()
    host.containerenv.write_text("engine=podman\n")
    assert detect_container(host, environ={}) == "podman"


def test_fabricated_system_probe(tmp_path: Path) -> None:
    system = doctor_module.probe_system(empty_host(tmp_path), environ={})
    assert system["shm_total_bytes"] is None  # no /dev/shm in the fabricated host
    assert system["in_container"] is False and system["container_kind"] is None
    assert system["cpu_count"] >= 1
    assert system["cpu_count"] <= (os.cpu_count() or 1)


def test_fabricated_yolov5_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_packages, "_package_location", lambda: None)
    host = empty_host(tmp_path)
    checkout = tmp_path / "src" / "yolov5"
    (checkout / "models").mkdir(parents=True)
    (checkout / "train.py").write_text("")
    (checkout / "models" / "yolo.py").write_text("")

    found = probe_yolov5(host, environ={"YOLO_LAB_YOLOV5_DIR": str(checkout)})
    assert found == {
        "available": True,
        "version": None,
        "location": str(checkout),
        "source": "checkout",
        "error": None,
    }

    missing = probe_yolov5(host, environ={"YOLO_LAB_YOLOV5_DIR": str(tmp_path / "nope")})
    assert missing["available"] is False and missing["source"] is None
    assert "YOLO_LAB_YOLOV5_DIR" in missing["error"]

    default = HostPaths(yolov5_checkout=checkout)
    assert probe_yolov5(default, environ={})["location"] == str(checkout)


def _fake_package(root: Path, body: str) -> Path:
    package = root / "yolov5"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(body)
    dist = root / "yolov5-7.0.13.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: yolov5\nVersion: 7.0.13\n")
    return package


@pytest.mark.parametrize("works", [True, False])
def test_fabricated_yolov5_package_import_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, works: bool
) -> None:
    """The import runs in a subprocess, offline and without auto-install."""
    body = (
        "import os\n"
        "assert os.environ['YOLOv5_AUTOINSTALL'] == 'false'\n"
        "assert os.environ['YOLO_OFFLINE'] == 'true'\n"
    )
    if not works:
        body += "raise ImportError('libGL.so.1: cannot open shared object file')\n"
    package = _fake_package(tmp_path / "site", body)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join(filter(None, [str(tmp_path / "site"), os.environ.get("PYTHONPATH")])),
    )
    monkeypatch.delitem(sys.modules, "yolov5", raising=False)
    _packages._import_check.cache_clear()
    try:
        found = probe_yolov5(empty_host(tmp_path), environ={})
    finally:
        _packages._import_check.cache_clear()
    assert found["source"] == "package"
    assert found["location"] == str(package.resolve())
    assert found["version"] == "7.0.13"
    assert found["available"] is works
    if works:
        assert found["error"] is None
    else:
        assert "libGL.so.1" in found["error"]


def test_collect_survives_a_failing_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, report_validator: Any
) -> None:
    def explode(*_args: Any) -> Any:
        raise RuntimeError("boom")

    for name in ("probe_torch", "probe_driver", "probe_system", "probe_yolov5"):
        monkeypatch.setattr(doctor_module, name, explode)
    report = collect(workers=0, paths=empty_host(tmp_path), environ={})
    report_validator.validate(report)
    assert "boom" in report["torch"]["error"]
    assert "boom" in report["driver"]["error"]
    assert "boom" in report["yolov5"]["error"]
    assert {f["id"] for f in report["findings"]} >= {"torch_missing", "yolov5_missing"}


def test_collect_rejects_bad_workers() -> None:
    for bad in (-1, 1.5, True, "8"):
        with pytest.raises(ValueError):
            collect(bad)  # type: ignore[arg-type]
