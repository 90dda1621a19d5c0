"""What one telemetry sample costs the kernel.

Run: .venv/bin/python benchmarks/sample_cost.py

Times ``Probe.sample()`` on the psutil path and, where NVML answers, on the
NVML path: each ~500 times, with and without re-reading the kernel's process
tree (the sampler re-reads it at most once a second, so at 10 Hz one sample
in ten pays for it), and the schema check every sample gets. From those it
prints the CPU the sampler takes per second at 1 Hz and 10 Hz. A benchmark,
not a test: it exits 0 whatever the figures.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yolo_lab import protocol  # noqa: E402
from yolo_lab.telemetry import Probe  # noqa: E402

SAMPLES = 500


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def header() -> None:
    try:
        import torch

        torch_version = torch.__version__
    except Exception as exc:  # the cost does not depend on torch; say why it is missing
        torch_version = f"not importable ({type(exc).__name__})"
    print(
        f"machine: {platform.machine()} {platform.system()}, "
        f"{os.cpu_count()} CPUs ({usable_cpus()} usable), python {platform.python_version()}, "
        f"torch {torch_version}"
    )


def timed(action: Callable[[], Any], count: int = SAMPLES) -> list[float]:
    """Seconds per call, ``count`` calls after a few warm-up ones."""
    for _ in range(5):
        action()
    times = []
    for _ in range(count):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def row(label: str, times: list[float]) -> float:
    median = statistics.median(times)
    print(f"  {label:<44} median {median * 1e3:7.3f} ms   p95 {p95(times) * 1e3:7.3f} ms")
    return median


def measure(source_label: str, nvml: Any) -> None:
    cached = Probe(nvml=nvml, tree_refresh_s=math.inf)
    cached.open()
    rereading = Probe(nvml=nvml, tree_refresh_s=0.0)
    rereading.open()
    try:
        if cached.source != source_label:
            print(f"{source_label} path: not available on this machine (source is {cached.source})")
            return
        gpus = len(cached.sample()["gpus"])
        what = f", {gpus} GPU(s) visible" if source_label == "nvml" else ""
        print(f"{source_label} path ({SAMPLES} samples each{what}):")
        cheap = row("sample, process tree cached", timed(cached.sample))
        full = row("sample, process tree re-read", timed(rereading.sample))
        sample = cached.sample()
        check = row(
            "schema check of one sample",
            timed(lambda: protocol.check_telemetry_sample(sample)),
        )
    finally:
        cached.close()
        rereading.close()
    # Per second: one tree re-read, the other samples cached, each checked.
    for rate in (1, 10):
        busy = full + (rate - 1) * cheap + rate * check
        share = f"{busy * 100:.3f}% of a core"
        print(f"  => at {rate:>2} Hz: {busy * 1e3:.2f} ms of CPU per second ({share})")


def main() -> int:
    header()
    measure("psutil", False)
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as exc:
        print(f"nvml path: not available here ({type(exc).__name__}: {exc})")
    else:
        pynvml.nvmlShutdown()
        measure("nvml", None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
