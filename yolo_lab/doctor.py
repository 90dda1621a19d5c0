"""The environment doctor: what the kernel process itself can use for training.

``collect`` probes Python, PyTorch, the NVIDIA driver (NVML), the GPUs, the
host/container and YOLOv5, and returns a dict in the protocol schema's
``report`` shape. It never raises: each probe is guarded and records its
error in the report. ``doctor`` wraps that dict in a ``DoctorReport`` that
renders as HTML in JupyterLab and as aligned text elsewhere; ``main`` is the
``yolo-lab-doctor`` command (``python -m yolo_lab doctor``).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Final

from ._cuda_env import NvmlDevice, visible_nvml_gpus
from ._render import render_html, render_text
from .findings import Finding, evaluate

__all__ = [
    "DoctorReport",
    "DriverProbe",
    "HostPaths",
    "collect",
    "detect_container",
    "doctor",
    "probe_driver",
    "probe_system",
    "probe_torch",
    "probe_yolov5",
]

YOLOV5_IMPORT_TIMEOUT_S: Final = 120
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


# ------------------------------------------------------------------ python


def probe_python() -> dict[str, Any]:
    """Interpreter version and path: the one running this kernel."""
    return {"version": platform.python_version(), "executable": sys.executable or ""}


# ------------------------------------------------------------------- torch


def _empty_torch() -> dict[str, Any]:
    return {
        "installed": False,
        "version": None,
        "cuda_build": None,
        "cudnn": None,
        "cuda_available": False,
        "device_count": 0,
        "error": None,
    }


def _torch_uuid(props: Any) -> str | None:
    raw = getattr(props, "uuid", None)
    if raw is None:
        return None
    text = str(raw)
    # torch prints the bare UUID; NVML and CUDA_VISIBLE_DEVICES use "GPU-…".
    return text if text.upper().startswith(("GPU-", "MIG-")) else f"GPU-{text}"


def probe_torch() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """PyTorch as imported in this process, and the GPUs it can use."""
    info = _empty_torch()
    gpus: list[dict[str, Any]] = []
    try:
        import torch
    except Exception as exc:  # ImportError, or OSError for a missing CUDA library
        info["error"] = _error_text(exc)
        return info, gpus

    info["installed"] = True
    errors: list[str] = []
    try:
        info["version"] = str(torch.__version__)
        cuda_build = getattr(torch.version, "cuda", None)
        info["cuda_build"] = str(cuda_build) if cuda_build else None
    except Exception as exc:
        errors.append(_error_text(exc))
    try:
        cudnn = torch.backends.cudnn.version()
        info["cudnn"] = int(cudnn) if cudnn is not None else None
    except Exception:
        # A CPU-only build or a missing libcudnn; "no cuDNN" is the answer.
        info["cudnn"] = None

    # torch reports driver trouble ("driver too old", "no driver") as a
    # warning from is_available(); keep it for the report rather than letting
    # it reach the user's cell.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            available = bool(torch.cuda.is_available())
            info["cuda_available"] = available
            if available:
                info["device_count"] = int(torch.cuda.device_count())
        except Exception as exc:
            errors.append(_error_text(exc))
    errors.extend(str(w.message).strip() for w in caught if "CUDA" in str(w.message))

    for index in range(info["device_count"]):
        try:
            props = torch.cuda.get_device_properties(index)
            gpus.append(
                {
                    "index": index,
                    "name": str(props.name),
                    "memory_total_bytes": int(props.total_memory),
                    "compute_capability": f"{int(props.major)}.{int(props.minor)}",
                    "uuid": _torch_uuid(props),
                }
            )
        except Exception as exc:
            errors.append(f"cuda:{index}: {_error_text(exc)}")
            gpus.append(
                {
                    "index": index,
                    "name": "unknown",
                    "memory_total_bytes": None,
                    "compute_capability": None,
                    "uuid": None,
                }
            )
    info["error"] = _join_errors(errors)
    return info, gpus


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


# ------------------------------------------------------------------ yolov5


def _empty_yolov5() -> dict[str, Any]:
    return {"available": False, "version": None, "location": None, "source": None, "error": None}


def _package_location() -> str | None:
    try:
        spec = importlib.util.find_spec("yolov5")
    except (ImportError, ValueError):
        return None
    # A directory named yolov5 without __init__.py (say, a checkout in the
    # kernel's working directory) is a namespace package, not the PyPI one.
    if spec is None or not spec.has_location or spec.origin is None:
        return None
    return str(Path(spec.origin).resolve().parent)


def _tail(text: str, lines: int = 5) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    joined = "\n".join(kept)
    return joined if len(joined) <= _MAX_ERROR_TEXT else "…" + joined[-(_MAX_ERROR_TEXT - 1) :]


@lru_cache(maxsize=8)
def _import_check(executable: str, location: str) -> str | None:
    """Error text if ``import yolov5`` fails in a fresh interpreter, else None.

    A subprocess, because importing yolov5 here would run its side effects
    (auto-installing requirements, downloads) inside the user's kernel. The
    location is part of the cache key so a different installation is
    checked again.
    """
    env = dict(os.environ)
    env.update({"YOLOv5_AUTOINSTALL": "false", "YOLO_OFFLINE": "true"})
    try:
        proc = subprocess.run(
            [executable, "-c", "import yolov5"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=YOLOV5_IMPORT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"import yolov5 did not finish within {YOLOV5_IMPORT_TIMEOUT_S} s"
    except OSError as exc:
        return f"could not run {executable}: {_error_text(exc)}"
    if proc.returncode == 0:
        return None
    return _tail(proc.stderr) or f"import yolov5 exited with status {proc.returncode}"


def _already_imported(location: str) -> bool:
    module = sys.modules.get("yolov5")
    origin = getattr(module, "__file__", None)
    return bool(origin) and str(Path(origin).resolve().parent) == location


def _is_checkout(path: Path) -> bool:
    try:
        return (path / "train.py").is_file() and (path / "models" / "yolo.py").is_file()
    except OSError:
        return False


def probe_yolov5(
    paths: HostPaths | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The yolov5 PyPI package if it imports, else an ultralytics/yolov5 checkout."""
    paths = paths or HostPaths()
    environ = os.environ if environ is None else environ
    info = _empty_yolov5()
    errors: list[str] = []

    location = _package_location()
    if location is not None:
        try:
            version: str | None = metadata.version("yolov5")
        except Exception:
            version = None
        error = None if _already_imported(location) else _import_check(sys.executable, location)
        if error is None:
            return {
                "available": True,
                "version": version,
                "location": location,
                "source": "package",
                "error": None,
            }
        info.update(version=version, location=location, source="package")
        errors.append(f"the yolov5 package does not import: {error}")

    configured = environ.get("YOLO_LAB_YOLOV5_DIR")
    candidates: list[tuple[Path, str | None]] = []
    if configured:
        candidates.append((Path(configured).expanduser(), configured))
    candidates.append((paths.yolov5_checkout, None))
    for path, setting in candidates:
        if _is_checkout(path):
            return {
                "available": True,
                "version": None,
                "location": str(path.resolve()),
                "source": "checkout",
                "error": None,
            }
        if setting is not None:
            errors.append(
                f"YOLO_LAB_YOLOV5_DIR={setting} is not a YOLOv5 checkout "
                "(needs train.py and models/yolo.py)"
            )
    if location is None:
        errors.append(
            f"no yolov5 package is installed and no checkout was found at {paths.yolov5_checkout}"
        )
    info["error"] = _join_errors(errors)
    return info


# ----------------------------------------------------------------- collect


def _guarded(probe: Callable[..., Any], fallback: Callable[[str], Any], *args: Any) -> Any:
    """``probe(*args)``, or ``fallback(error text)`` if it raised after all."""
    try:
        return probe(*args)
    except Exception as exc:
        return fallback(f"{getattr(probe, '__name__', 'probe')} failed: {_error_text(exc)}")


def collect(
    workers: int = 8,
    *,
    paths: HostPaths | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The doctor report for this process, in the schema's ``report`` shape.

    ``workers`` is the number of DataLoader workers planned (it decides the
    /dev/shm rule). ``paths`` and ``environ`` replace the host files and
    environment read, for tests. Never raises on a failed probe.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers must be a non-negative integer, got {workers!r}")
    # Probes import torch and pynvml, which may warn; from a comm handler a
    # warning would print into whichever cell the user ran last.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _collect(workers, paths or HostPaths(), os.environ if environ is None else environ)


def _collect(workers: int, paths: HostPaths, environ: Mapping[str, str]) -> dict[str, Any]:
    torch_info, torch_gpus = _guarded(
        probe_torch, lambda error: ({**_empty_torch(), "error": error}, [])
    )
    driver = _guarded(
        probe_driver,
        lambda error: DriverProbe(
            {
                "nvml": False,
                "version": None,
                "cuda_driver_version": None,
                "nvidia_device_present": False,
                "error": error,
            }
        ),
        paths,
    )
    cuda_visible_devices = environ.get("CUDA_VISIBLE_DEVICES")
    if torch_info["cuda_available"]:
        gpus = torch_gpus
    else:
        # torch cannot use them, but listing what NVML sees tells the user
        # which GPUs the kernel would get once the cause is fixed.
        gpus = _guarded(visible_nvml_gpus, lambda _error: [], driver.devices, cuda_visible_devices)
    system = _guarded(
        probe_system,
        lambda _error: {
            "cpu_count": _cpu_count(),
            "ram_total_bytes": None,
            "shm_total_bytes": None,
            "in_container": False,
            "container_kind": None,
            "platform": sys.platform,
        },
        paths,
        environ,
    )
    yolov5 = _guarded(
        probe_yolov5, lambda error: {**_empty_yolov5(), "error": error}, paths, environ
    )
    report: dict[str, Any] = {
        "generated_at": time.time(),
        "workers": workers,
        "python": probe_python(),
        "torch": torch_info,
        "driver": driver.info,
        "gpus": gpus,
        "cuda_visible_devices": cuda_visible_devices,
        "system": system,
        "yolov5": yolov5,
        "findings": [],
    }
    try:
        report["findings"] = [dict(finding) for finding in evaluate(report)]
    except Exception as exc:
        report["findings"] = [
            {
                "id": "doctor_failed",
                "severity": "info",
                "title": "A doctor rule failed; the findings are incomplete",
                "cause": _error_text(exc),
                "fix": "report this to the yolo-lab maintainers with the text above",
            }
        ]
    return report


class DoctorReport:
    """A doctor report: ``.data`` is the schema dict, ``.findings`` its findings.

    Displays as an HTML report in JupyterLab and as aligned text elsewhere.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def findings(self) -> list[Finding]:
        return self.data["findings"]

    @property
    def ok(self) -> bool:
        """No finding of severity error."""
        return not any(f["severity"] == "error" for f in self.findings)

    def to_text(self) -> str:
        """The report as aligned plain text."""
        return render_text(self.data)

    def __repr__(self) -> str:
        return render_text(self.data)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("DoctorReport(...)" if cycle else render_text(self.data))

    def _repr_html_(self) -> str:
        return render_html(self.data)


def doctor(workers: int = 8) -> DoctorReport:
    """Check this kernel's training environment; displays as a report."""
    return DoctorReport(collect(workers))


def main(argv: Sequence[str] | None = None, prog: str = "yolo-lab-doctor") -> int:
    """``yolo-lab-doctor`` (or ``python -m yolo_lab doctor``): the report on stdout.

    The launcher runs it with ``docker exec``, so it sees a container exactly
    as a kernel started there would. The exit status is 0 whatever the
    findings, unless ``--check`` is given: then 1 when one is an error, for
    scripts that must stop on a broken environment.
    """
    import argparse
    import json

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Check this Python environment for YOLOv5 training on GPUs.",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON (the protocol schema's report)",
    )
    parser.add_argument(
        "--workers", type=int, default=8, help="DataLoader workers planned (default 8)"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when a finding is an error"
    )
    args = parser.parse_args(argv)
    if args.workers < 0:
        parser.error(f"--workers must be 0 or more, not {args.workers}")
    report = doctor(args.workers)
    if args.json:
        json.dump(report.data, sys.stdout)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(report.to_text() + "\n")
    return 1 if args.check and not report.ok else 0
