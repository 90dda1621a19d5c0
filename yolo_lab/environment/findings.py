"""Findings: pure rules over a doctor report.

Every rule reads only the report dict (the schema's ``report`` definition),
so tests and the frontend's tooling can feed fabricated reports. A rule
returns one finding or ``None``; ``evaluate`` runs them all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Callable, Final, Literal, TypedDict

from .._cuda_env import parse_visible_devices
from .._yolov5.compat import explain as explain_import_error

__all__ = [
    "MINOR_COMPAT_MIN_DRIVER",
    "MIN_DRIVER",
    "RULES",
    "SHM_MIN_BYTES",
    "Finding",
    "Severity",
    "compare_versions",
    "evaluate",
    "min_driver_for",
    "parse_cuda_version",
    "parse_version",
]

Severity = Literal["error", "warning", "info"]


class Finding(TypedDict):
    """One problem found, in the schema's ``finding`` shape."""

    id: str
    severity: Severity
    title: str
    cause: str
    fix: str


# Minimum Linux driver for each CUDA toolkit release (major, minor), from
# NVIDIA's CUDA Toolkit release notes ("CUDA Toolkit and Corresponding Driver
# Versions"). Below it a build still runs through minor-version
# compatibility, with limits.
MIN_DRIVER: Final[Mapping[tuple[int, int], str]] = MappingProxyType(
    {
        (11, 0): "450.36.06",
        (11, 1): "455.23",
        (11, 2): "460.27.03",
        (11, 3): "465.19.01",
        (11, 4): "470.42.01",
        (11, 5): "495.29.05",
        (11, 6): "510.39.01",
        (11, 7): "515.43.04",
        (11, 8): "520.61.05",
        (12, 0): "525.60.13",
        (12, 1): "530.30.02",
        (12, 2): "535.54.03",
        (12, 3): "545.23.06",
        (12, 4): "550.54.14",
        (12, 5): "555.42.02",
        (12, 6): "560.28.03",
        (12, 8): "570.26",
        (12, 9): "575.51.03",
        (13, 0): "580.65.06",
    }
)

# Minimum driver for minor-version compatibility within a CUDA major: any
# toolkit of that major runs on it, without PTX JIT of newer PTX.
MINOR_COMPAT_MIN_DRIVER: Final[Mapping[int, str]] = MappingProxyType(
    {11: "450.80.02", 12: "525.60.13", 13: "580.00"}
)

SHM_MIN_BYTES: Final = 1 << 30

# PyTorch wheel indexes (download.pytorch.org/whl/<tag>), newest first.
_WHEEL_TAGS: Final[tuple[tuple[tuple[int, int], str], ...]] = (
    ((13, 0), "cu130"),
    ((12, 9), "cu129"),
    ((12, 8), "cu128"),
    ((12, 6), "cu126"),
    ((12, 4), "cu124"),
    ((12, 1), "cu121"),
    ((11, 8), "cu118"),
)
# The tag suggested for a CPU-only build when nothing narrows it down: the
# widely used stable CUDA build of current PyTorch releases.
_DEFAULT_WHEEL: Final = ((12, 8), "cu128")
_TORCH_INDEX: Final = "https://download.pytorch.org/whl/"


# ---------------------------------------------------------------- versions


def parse_version(text: str | None) -> tuple[int, ...] | None:
    """``"535.54.03"`` -> ``(535, 54, 3)``; ``None`` when unreadable."""
    if not text:
        return None
    match = re.match(r"^\s*(\d+(?:\.\d+)*)", str(text))
    if not match:
        return None
    return tuple(int(part) for part in match.group(1).split("."))


def parse_cuda_version(text: str | None) -> tuple[int, int] | None:
    """``"12.8"`` -> ``(12, 8)``; a bare major means minor 0."""
    parts = parse_version(text)
    if not parts:
        return None
    return (parts[0], parts[1] if len(parts) > 1 else 0)


def compare_versions(a: Sequence[int] | str, b: Sequence[int] | str) -> int:
    """-1, 0 or 1, comparing numerically component by component.

    Missing trailing components count as zero, so ``580.00`` == ``580``.
    """
    left = parse_version(a) if isinstance(a, str) else tuple(a)
    right = parse_version(b) if isinstance(b, str) else tuple(b)
    if left is None or right is None:
        raise ValueError(f"cannot compare versions {a!r} and {b!r}")
    width = max(len(left), len(right))
    left = left + (0,) * (width - len(left))
    right = right + (0,) * (width - len(right))
    return (left > right) - (left < right)


def min_driver_for(cuda: tuple[int, int]) -> str | None:
    """Driver needed for full support of a CUDA release.

    A release missing from the table (e.g. a newer minor) gets the nearest
    older release of the same major, the best lower bound known.
    """
    if cuda in MIN_DRIVER:
        return MIN_DRIVER[cuda]
    older = [key for key in MIN_DRIVER if key[0] == cuda[0] and key < cuda]
    return MIN_DRIVER[max(older)] if older else None


def _driver_runs(driver: tuple[int, ...], cuda: tuple[int, int], *, full: bool) -> bool:
    needed = min_driver_for(cuda) if full else MINOR_COMPAT_MIN_DRIVER.get(cuda[0])
    return needed is not None and compare_versions(driver, needed) >= 0


def _wheel_tag(
    driver: tuple[int, ...] | None,
    driver_cuda: tuple[int, int] | None,
    *,
    newest: tuple[int, int] | None = None,
) -> str | None:
    """The newest PyTorch CUDA wheel this driver runs, preferring full support."""
    candidates = [(cuda, tag) for cuda, tag in _WHEEL_TAGS if newest is None or cuda <= newest]
    if driver is not None:
        for full in (True, False):
            for cuda, tag in candidates:
                if _driver_runs(driver, cuda, full=full):
                    return tag
        return None
    if driver_cuda is not None:
        for cuda, tag in candidates:
            if cuda <= driver_cuda:
                return tag
        return None
    return None


def _pip_torch(tag: str) -> str:
    return f"pip install torch torchvision --index-url {_TORCH_INDEX}{tag}"


def _human_bytes(count: int) -> str:
    if count >= 1 << 30:
        return f"{count / (1 << 30):.1f} GiB"
    if count >= 1 << 20:
        return f"{count / (1 << 20):.0f} MiB"
    return f"{count / 1024:.0f} KiB"


def _last_line(text: Any) -> str:
    # The last line of a traceback or stderr tail is the exception itself.
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _section(report: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = report.get(key)
    return value if isinstance(value, Mapping) else {}


def _finding(id: str, severity: Severity, title: str, cause: str, fix: str) -> Finding:
    return Finding(id=id, severity=severity, title=title, cause=cause, fix=fix)


# ------------------------------------------------------------------- rules


def torch_missing(report: Mapping[str, Any]) -> Finding | None:
    """PyTorch does not import in the kernel."""
    torch = _section(report, "torch")
    if torch.get("installed", False):
        return None
    error = _last_line(torch.get("error") or "")
    broken = bool(error) and "No module named 'torch'" not in error
    return _finding(
        "torch_missing",
        "error",
        f"PyTorch {'does not import' if broken else 'is not installed'} in this kernel",
        f"import torch failed: {error}" if error else "import torch failed",
        "pip install torch torchvision",
    )


def cpu_torch_build(report: Mapping[str, Any]) -> Finding | None:
    """A CPU-only PyTorch on a machine that has an NVIDIA GPU."""
    torch = _section(report, "torch")
    driver = _section(report, "driver")
    if not torch.get("installed") or torch.get("cuda_build") is not None:
        return None
    if not driver.get("nvidia_device_present"):
        return None
    return _finding(
        "cpu_torch_build",
        "error",
        "PyTorch is a CPU-only build, but this machine has an NVIDIA GPU",
        f"torch {torch.get('version')} has no CUDA support; install the CUDA build that matches "
        "the CUDA version nvidia-smi shows for your driver",
        _pip_torch(_cpu_build_wheel(driver)),
    )


def _cpu_build_wheel(driver: Mapping[str, Any]) -> str:
    tag = _wheel_tag(
        parse_version(driver.get("version")),
        parse_cuda_version(driver.get("cuda_driver_version")),
        newest=_DEFAULT_WHEEL[0],
    )
    return tag or _DEFAULT_WHEEL[1]


def _driver_verdict(report: Mapping[str, Any]) -> tuple[Literal["too_old", "limited"], str] | None:
    """Whether the driver is too old for torch's CUDA runtime, with a reason."""
    torch = _section(report, "torch")
    driver = _section(report, "driver")
    runtime = parse_cuda_version(torch.get("cuda_build")) if torch.get("installed") else None
    if runtime is None:
        return None
    cuda_text = f"{runtime[0]}.{runtime[1]}"
    version_text = driver.get("version")
    version = parse_version(version_text)
    driver_cuda = parse_cuda_version(driver.get("cuda_driver_version"))
    major_min = MINOR_COMPAT_MIN_DRIVER.get(runtime[0])
    full_min = min_driver_for(runtime)

    if version is not None and major_min is not None and compare_versions(version, major_min) < 0:
        return "too_old", (
            f"PyTorch's CUDA {cuda_text} needs driver >= {major_min}; this driver is {version_text}"
        )
    if driver_cuda is not None and driver_cuda[0] < runtime[0]:
        return "too_old", (
            f"PyTorch's CUDA {cuda_text} needs a CUDA {runtime[0]} driver; this driver supports "
            f"CUDA {driver_cuda[0]}.{driver_cuda[1]} at most"
        )
    if version is not None and full_min is not None and compare_versions(version, full_min) < 0:
        return "limited", (
            f"driver {version_text} is below {full_min}, the driver of CUDA {cuda_text}; it runs "
            "through minor-version compatibility, without PTX JIT of newer PTX"
        )
    if version is None and driver_cuda is not None and driver_cuda < runtime:
        return "limited", (
            f"the driver supports CUDA {driver_cuda[0]}.{driver_cuda[1]}, older than PyTorch's "
            f"CUDA {cuda_text}; it runs through minor-version compatibility, "
            "without PTX JIT of newer PTX"
        )
    return None


def driver_compat(report: Mapping[str, Any]) -> Finding | None:
    """The NVIDIA driver against the CUDA runtime PyTorch was built with."""
    verdict = _driver_verdict(report)
    if verdict is None:
        return None
    kind, cause = verdict
    torch = _section(report, "torch")
    driver = _section(report, "driver")
    runtime = parse_cuda_version(torch.get("cuda_build"))
    assert runtime is not None  # _driver_verdict returns None otherwise
    needed = min_driver_for(runtime) or MINOR_COMPAT_MIN_DRIVER.get(runtime[0]) or "a newer release"
    version = driver.get("version") or "unknown"
    if kind == "too_old":
        tag = _wheel_tag(
            parse_version(driver.get("version")),
            parse_cuda_version(driver.get("cuda_driver_version")),
            newest=runtime,
        )
        fix = f"upgrade the NVIDIA driver to >= {needed}"
        if tag is not None:
            fix += f", or use a PyTorch built for an older CUDA: {_pip_torch(tag)}"
        else:
            fix += ", or use a PyTorch/image built for an older CUDA"
        return _finding(
            "driver_too_old",
            "error",
            f"NVIDIA driver {version} is too old for PyTorch's CUDA {runtime[0]}.{runtime[1]}",
            cause,
            fix,
        )
    return _finding(
        "driver_limited",
        "warning",
        f"NVIDIA driver {version} supports PyTorch's CUDA {runtime[0]}.{runtime[1]} "
        "only with limits",
        cause,
        f"upgrade the NVIDIA driver to >= {needed}",
    )


def _hidden_by_cuda_visible_devices(report: Mapping[str, Any]) -> bool:
    value = report.get("cuda_visible_devices")
    if value is None:
        return False
    if parse_visible_devices(str(value)) == []:
        return True
    driver = _section(report, "driver")
    # NVML saw the devices, yet none passed the filter.
    nvml_saw_devices = driver.get("nvml") and driver.get("nvidia_device_present")
    return bool(nvml_saw_devices and not report.get("gpus"))


def _container_gpu_fix(kind: Any) -> str:
    if kind == "podman":
        return "podman run --device nvidia.com/gpu=all ...  (or: yolo-lab up --gpus all)"
    if kind == "kubernetes":
        return "request a GPU in the pod spec: resources.limits: nvidia.com/gpu: 1"
    return "docker run --gpus all ...  (or: yolo-lab up --gpus all)"


def no_gpu(report: Mapping[str, Any]) -> Finding | None:
    """PyTorch is installed but sees no GPU; the cause depends on the setup."""
    torch = _section(report, "torch")
    driver = _section(report, "driver")
    system = _section(report, "system")
    if not torch.get("installed") or torch.get("cuda_available"):
        return None
    title = "No GPU visible to PyTorch in this kernel"
    device_present = bool(driver.get("nvidia_device_present"))

    if _hidden_by_cuda_visible_devices(report):
        cause = (
            f"CUDA_VISIBLE_DEVICES={report.get('cuda_visible_devices')!r} hides every GPU from "
            "this kernel (restart the kernel after changing it)"
        )
        fix = "unset CUDA_VISIBLE_DEVICES"
    elif torch.get("cuda_build") is None and device_present:
        cause = f"torch {torch.get('version')} is a CPU-only build and cannot use the NVIDIA GPU"
        fix = _pip_torch(_cpu_build_wheel(driver))
    elif not device_present and system.get("in_container"):
        cause = "the container was started without GPU access (no NVIDIA device inside it)"
        fix = _container_gpu_fix(system.get("container_kind"))
    elif device_present:
        verdict = _driver_verdict(report)
        if verdict is not None and verdict[0] == "too_old":
            cause = f"the NVIDIA driver is too old: {verdict[1]}"
            fix = "upgrade the NVIDIA driver (see driver_too_old)"
        elif not driver.get("nvml"):
            detail = driver.get("error") or "NVML did not answer"
            cause = (
                f"an NVIDIA device exists but its driver is not usable from this process ({detail})"
            )
            fix = (
                _container_gpu_fix(system.get("container_kind"))
                if system.get("in_container")
                else "install the NVIDIA driver, check that nvidia-smi works, "
                "then restart the kernel"
            )
        else:
            detail = _last_line(torch.get("error") or "") or "no error was reported"
            cause = (
                f"driver {driver.get('version')} is loaded but PyTorch "
                f"(CUDA {torch.get('cuda_build')}) cannot initialise CUDA: {detail}"
            )
            fix = (
                "check nvidia-smi; reinstall or upgrade the NVIDIA driver "
                "(reboot after a driver update)"
            )
    else:
        cause = "this machine has no NVIDIA GPU, so training runs on the CPU, slowly"
        fix = "use a machine with an NVIDIA GPU"
    return _finding("no_gpu", "warning", title, cause, fix)


def shm_small(report: Mapping[str, Any]) -> Finding | None:
    """Too little /dev/shm for DataLoader worker processes."""
    shm = _section(report, "system").get("shm_total_bytes")
    workers = report.get("workers", 0)
    if shm is None or not isinstance(workers, int) or workers <= 0 or shm >= SHM_MIN_BYTES:
        return None
    return _finding(
        "shm_small",
        "warning",
        f"/dev/shm is only {_human_bytes(shm)}",
        f"{workers} DataLoader workers pass batches through /dev/shm and die with a bus error "
        "when it fills",
        "docker run --shm-size=8g ...  (or --ipc=host), or train with workers=0",
    )


def yolov5_missing(report: Mapping[str, Any]) -> Finding | None:
    """Neither the yolov5 package nor a YOLOv5 checkout is usable."""
    yolo = _section(report, "yolov5")
    if yolo.get("available"):
        return None
    fix = (
        "pip install yolov5  (or mount a checkout: yolo-lab up --code PATH, "
        "or set YOLO_LAB_YOLOV5_DIR to one)"
    )
    if yolo.get("source") == "package":
        error = yolo.get("error") or ""
        # A combination that yolo-lab's shims cannot mend, named with its fix.
        known = explain_import_error(error)
        return _finding(
            "yolov5_missing",
            "warning",
            "YOLOv5 is installed but does not import",
            (f"{known[0]}: " if known else "") + (_last_line(error) or "import yolov5 failed"),
            known[1]
            if known
            else "pip install -U yolov5  (or mount a checkout: yolo-lab up --code PATH, "
            "or set YOLO_LAB_YOLOV5_DIR to one)",
        )
    return _finding(
        "yolov5_missing",
        "warning",
        "YOLOv5 not found",
        "neither the yolov5 package nor a YOLOv5 checkout is available to this kernel",
        fix,
    )


RULES: Final[tuple[Callable[[Mapping[str, Any]], Finding | None], ...]] = (
    torch_missing,
    cpu_torch_build,
    driver_compat,
    no_gpu,
    shm_small,
    yolov5_missing,
)

_SEVERITY_ORDER: Final = {"error": 0, "warning": 1, "info": 2}


def evaluate(report: Mapping[str, Any]) -> list[Finding]:
    """All findings for ``report``, errors first, then in rule order."""
    found = [finding for rule in RULES if (finding := rule(report)) is not None]
    return sorted(found, key=lambda finding: _SEVERITY_ORDER[finding["severity"]])
