"""The host as the doctor sees it: the NVIDIA driver through NVML, the
device nodes, the CPUs, memory, ``/dev/shm`` and whether this is a container.

Each probe reads the files named in ``HostPaths`` (tests point them at
fabricated trees) and records failures in its result instead of raising.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .._cuda_env import NvmlDevice

__all__ = ["DriverProbe", "HostPaths", "detect_container", "probe_driver", "probe_system"]

_MAX_ERROR_TEXT: Final = 1000
# In a container these are bind mounts or the overlay root whose source path
# names the runtime; other lines of a *host's* mountinfo can mention docker
# too (the overlays of the containers it runs), so only these are read.
_CONTAINER_MOUNT_POINTS: Final = frozenset({"/", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"})


@dataclass(frozen=True)
class HostPaths:
    """Host files the probes read; tests point them at fabricated trees."""

    nvidia_device_node: Path = Path("/dev/nvidia0")
    nvidia_proc_gpus: Path = Path("/proc/driver/nvidia/gpus")
    shm: Path = Path("/dev/shm")
    dockerenv: Path = Path("/.dockerenv")
    containerenv: Path = Path("/run/.containerenv")
    init_cgroup: Path = Path("/proc/1/cgroup")
    mountinfo: Path = Path("/proc/self/mountinfo")
    yolov5_checkout: Path = Path("/workspace/yolov5")


@dataclass
class DriverProbe:
    """The report's ``driver`` section, and the devices NVML listed."""

    info: dict[str, Any]
    devices: list[NvmlDevice] = field(default_factory=list)


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= _MAX_ERROR_TEXT else text[: _MAX_ERROR_TEXT - 1] + "…"


def _join_errors(errors: Sequence[str]) -> str | None:
    return "; ".join(errors) if errors else None


# ------------------------------------------------------------------ driver


def _text(value: Any) -> str:
    # Older pynvml releases return bytes.
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _cuda_version_text(value: int) -> str:
    # NVML encodes CUDA 12.4 as 12040.
    return f"{value // 1000}.{(value % 1000) // 10}"


def _has_entries(path: Path) -> bool:
    try:
        return any(path.iterdir())
    except OSError:
        return False


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def _nvml_device(pynvml: Any, index: int) -> NvmlDevice:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    name = _text(pynvml.nvmlDeviceGetName(handle))
    memory: int | None
    capability: str | None
    uuid: str | None
    try:
        memory = int(pynvml.nvmlDeviceGetMemoryInfo(handle).total)
    except Exception:
        memory = None
    try:
        major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
        capability = f"{int(major)}.{int(minor)}"
    except Exception:
        capability = None
    try:
        uuid = _text(pynvml.nvmlDeviceGetUUID(handle))
    except Exception:
        uuid = None
    return NvmlDevice(index, name, memory, capability, uuid)


def probe_driver(paths: HostPaths | None = None) -> DriverProbe:
    """The NVIDIA driver through NVML, plus device nodes as a fallback sign."""
    paths = paths or HostPaths()
    info: dict[str, Any] = {
        "nvml": False,
        "version": None,
        "cuda_driver_version": None,
        "nvidia_device_present": False,
        "error": None,
    }
    probe = DriverProbe(info)
    errors: list[str] = []
    device_count = 0
    try:
        import pynvml
    except Exception as exc:
        errors.append(f"nvidia-ml-py not importable: {_error_text(exc)}")
        pynvml = None

    if pynvml is not None:
        try:
            pynvml.nvmlInit()
        except Exception as exc:
            # str(NVMLError) is NVML's own message, e.g. "NVML Shared Library Not Found".
            errors.append(str(exc) or type(exc).__name__)
        else:
            try:
                info["nvml"] = True
                try:
                    info["version"] = _text(pynvml.nvmlSystemGetDriverVersion())
                except Exception as exc:
                    errors.append(f"driver version: {exc}")
                try:
                    info["cuda_driver_version"] = _cuda_version_text(
                        int(pynvml.nvmlSystemGetCudaDriverVersion())
                    )
                except Exception as exc:
                    errors.append(f"CUDA driver version: {exc}")
                try:
                    device_count = int(pynvml.nvmlDeviceGetCount())
                except Exception as exc:
                    errors.append(f"device count: {exc}")
                for index in range(device_count):
                    try:
                        probe.devices.append(_nvml_device(pynvml, index))
                    except Exception as exc:
                        errors.append(f"device {index}: {exc}")
            finally:
                try:
                    pynvml.nvmlShutdown()
                except Exception:
                    pass  # nothing left to release

    info["nvidia_device_present"] = (
        device_count > 0
        or _exists(paths.nvidia_device_node)
        or _has_entries(paths.nvidia_proc_gpus)
    )
    info["error"] = _join_errors(errors)
    return probe


# ------------------------------------------------------------------ system


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _container_mount_sources(mountinfo: str) -> str:
    relevant = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4] in _CONTAINER_MOUNT_POINTS:
            relevant.append(line)
    return "\n".join(relevant)


def detect_container(
    paths: HostPaths | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """ "kubernetes", "podman", "docker", "container" or None (not in one)."""
    paths = paths or HostPaths()
    environ = os.environ if environ is None else environ
    mounts = _container_mount_sources(_read_text(paths.mountinfo))
    evidence = f"{_read_text(paths.init_cgroup)}\n{mounts}".lower()
    # Kubernetes first: its pods run on docker or containerd underneath.
    if "KUBERNETES_SERVICE_HOST" in environ or "kubepods" in evidence:
        return "kubernetes"
    if _exists(paths.containerenv) or "libpod" in evidence:
        return "podman"
    if _exists(paths.dockerenv) or "docker" in evidence:
        return "docker"
    if "containerd" in evidence:
        return "container"
    return None


def _cpu_count() -> int:
    count = os.cpu_count() or 1
    try:
        # A container or taskset may pin the kernel to fewer CPUs.
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = 0
    if 0 < usable < count:
        count = usable
    return max(1, count)


def _ram_total() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:
        return None


def _fs_total(path: Path) -> int | None:
    try:
        stats = os.statvfs(path)
    except (OSError, AttributeError):
        return None
    return int(stats.f_frsize * stats.f_blocks)


def probe_system(
    paths: HostPaths | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """CPUs, memory, /dev/shm and whether this runs in a container."""
    paths = paths or HostPaths()
    try:
        kind = detect_container(paths, environ)
    except Exception:
        kind = None
    try:
        platform_text = platform.platform()
    except Exception:
        platform_text = sys.platform
    return {
        "cpu_count": _cpu_count(),
        "ram_total_bytes": _ram_total(),
        "shm_total_bytes": _fs_total(paths.shm),
        "in_container": kind is not None,
        "container_kind": kind,
        "platform": platform_text,
    }
