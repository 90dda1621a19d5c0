"""The environment doctor: what the kernel process itself can use for training.

``collect`` probes Python, PyTorch, the NVIDIA driver (NVML), the GPUs, the
host/container and YOLOv5, and returns a dict in the protocol schema's
``report`` shape. It never raises: each probe is guarded and records its
error in the report. ``doctor`` wraps that dict in a ``DoctorReport`` that
renders as HTML in JupyterLab and as aligned text elsewhere; ``main`` is the
``yolo-lab-doctor`` command (``python -m yolo_lab doctor``).
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Callable

from .._cuda_env import visible_nvml_gpus
from .findings import Finding, evaluate
from .host import (
    DriverProbe,
    HostPaths,
    _cpu_count,
    _error_text,
    detect_container,
    probe_driver,
    probe_system,
)
from .packages import _empty_torch, _empty_yolov5, probe_python, probe_torch, probe_yolov5
from .render import render_html, render_text

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
