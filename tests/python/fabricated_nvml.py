"""A fabricated NVML binding (the part of pynvml the telemetry uses).

Tests inject it as ``Probe(nvml=...)`` / ``Sampler(nvml=...)``: it lists
made-up GPUs with made-up processes, clocks and clocks event (throttle)
reasons, and can start failing after a number of sampling calls, as NVML
does when a GPU falls off the bus.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

MIB = 1 << 20
GIB = 1 << 30


class FabricatedNVMLError(Exception):
    """Like pynvml.NVMLError: ``value`` is the nvml.h error code."""

    _TEXT = {3: "Not Supported", 4: "Insufficient Permissions", 15: "GPU is lost"}

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return self._TEXT.get(self.value, "Unknown Error")


@dataclass
class FabricatedGpu:
    uuid: str
    util: int = 50
    mem_used: int = 10 * GIB
    mem_total: int = 80 * GIB
    temp: int = 60
    power_mw: int | None = 250_000  # None: the GPU does not report power
    compute: list[tuple[int, int | None]] = field(default_factory=list)  # (pid, bytes)
    graphics: list[tuple[int, int | None]] = field(default_factory=list)
    # None: the GPU does not report them (NVML_ERROR_NOT_SUPPORTED).
    sm_clock_mhz: int | None = None
    sm_clock_max_mhz: int | None = None
    reasons: int | None = None  # nvmlClocksEventReason* bits


# nvml.h's clocks event reasons, as pynvml names them.
REASON_GPU_IDLE = 0x1
REASON_APPLICATIONS_CLOCKS = 0x2
REASON_SW_POWER_CAP = 0x4
REASON_HW_SLOWDOWN = 0x8
REASON_SW_THERMAL = 0x20
REASON_HW_THERMAL = 0x40
REASON_HW_POWER_BRAKE = 0x80


class FabricatedNvml:
    """Module-like: the attributes are the pynvml functions and constants."""

    NVMLError = FabricatedNVMLError
    NVML_ERROR_NOT_SUPPORTED = 3
    NVML_ERROR_NO_PERMISSION = 4
    NVML_ERROR_GPU_IS_LOST = 15
    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1

    def __init__(self, gpus: list[FabricatedGpu], fail_after: int | None = None) -> None:
        self.gpus = gpus
        self.fail_after = fail_after
        self.sampling_calls = 0
        self.inits = 0
        self.shutdowns = 0
        self._lock = threading.Lock()

    def _sampling_call(self) -> None:
        with self._lock:
            self.sampling_calls += 1
            if self.fail_after is not None and self.sampling_calls > self.fail_after:
                raise FabricatedNVMLError(self.NVML_ERROR_GPU_IS_LOST)

    def nvmlInit(self) -> None:
        self.inits += 1

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FabricatedGpu:
        return self.gpus[index]

    def nvmlDeviceGetUUID(self, handle: FabricatedGpu) -> str:
        return handle.uuid

    def nvmlDeviceGetUtilizationRates(self, handle: FabricatedGpu) -> Any:
        self._sampling_call()
        return SimpleNamespace(gpu=handle.util, memory=10)

    def nvmlDeviceGetMemoryInfo(self, handle: FabricatedGpu) -> Any:
        self._sampling_call()
        return SimpleNamespace(
            used=handle.mem_used, total=handle.mem_total, free=handle.mem_total - handle.mem_used
        )

    def nvmlDeviceGetTemperature(self, handle: FabricatedGpu, sensor: int) -> int:
        self._sampling_call()
        assert sensor == self.NVML_TEMPERATURE_GPU
        return handle.temp

    def nvmlDeviceGetPowerUsage(self, handle: FabricatedGpu) -> int:
        self._sampling_call()
        if handle.power_mw is None:
            raise FabricatedNVMLError(self.NVML_ERROR_NOT_SUPPORTED)
        return handle.power_mw

    def _reported(self, value: int | None) -> int:
        if value is None:
            raise FabricatedNVMLError(self.NVML_ERROR_NOT_SUPPORTED)
        return value

    def nvmlDeviceGetClockInfo(self, handle: FabricatedGpu, clock: int) -> int:
        self._sampling_call()
        assert clock == self.NVML_CLOCK_SM
        return self._reported(handle.sm_clock_mhz)

    def nvmlDeviceGetMaxClockInfo(self, handle: FabricatedGpu, clock: int) -> int:
        self._sampling_call()
        assert clock == self.NVML_CLOCK_SM
        return self._reported(handle.sm_clock_max_mhz)

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: FabricatedGpu) -> int:
        # Drivers before 535 lack it: tests then move it to the older name,
        # nvmlDeviceGetCurrentClocksThrottleReasons.
        self._sampling_call()
        return self._reported(handle.reasons)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: FabricatedGpu) -> list[Any]:
        self._sampling_call()
        return [SimpleNamespace(pid=p, usedGpuMemory=m) for p, m in handle.compute]

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: FabricatedGpu) -> list[Any]:
        self._sampling_call()
        return [SimpleNamespace(pid=p, usedGpuMemory=m) for p, m in handle.graphics]


# Sampling calls per GPU per sample: utilization, memory, temperature,
# power, compute processes, graphics processes, SM clock, its maximum,
# clocks event reasons.
CALLS_PER_GPU_SAMPLE = 9
