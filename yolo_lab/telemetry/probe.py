"""One reading of the machine, the kernel's process tree and its GPUs.

:class:`Probe` takes the samples the telemetry sampler (``telemetry.py``)
and the training runner stream: NVML through nvidia-ml-py for every GPU
visible to the process, psutil for CPU and RAM. Samples follow the protocol
schema's ``definitions/telemetry_sample``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping
from typing import Any, Callable, Final, Literal

import psutil

from .._cuda_env import NvmlDevice, visible_nvml_ordinals

__all__ = ["Probe"]

Source = Literal["nvml", "psutil"]

_log = logging.getLogger("yolo_lab.telemetry")
_log.addHandler(logging.NullHandler())

# How often the kernel's process tree is re-read (see _ProcessTree).
_TREE_REFRESH_S: Final = 1.0

# NVML error values (nvml.h) that mean "this GPU cannot report this field",
# not "NVML is gone": such a field reads as null. FUNCTION_NOT_FOUND is what
# nvidia-ml-py raises when the driver predates a call's versioned symbol
# (e.g. nvmlDeviceGetComputeRunningProcesses_v3 on an older driver).
_NVML_ERROR_NOT_SUPPORTED: Final = 3
_NVML_ERROR_NO_PERMISSION: Final = 4
_NVML_ERROR_FUNCTION_NOT_FOUND: Final = 13
_NVML_TEMPERATURE_GPU: Final = 0
_NVML_CLOCK_SM: Final = 1
# The bits of NVML's clocks event (formerly "throttle") reasons (nvml.h's
# nvmlClocksEventReason*) under the names a sample carries. GPU idle and the
# applications-clocks setting are left out: neither slows a GPU that computes.
_CLOCK_REASONS: Final = (
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal"),
    (0x40, "hw_thermal"),
    (0x80, "hw_power_brake"),
    (0x100, "display_clock_setting"),
)
# The newer name first; drivers before 535 only have the older one.
_CLOCK_REASON_GETTERS: Final = (
    "nvmlDeviceGetCurrentClocksEventReasons",
    "nvmlDeviceGetCurrentClocksThrottleReasons",
)


class _ProcessTree:
    """CPU and RSS of a process and all its descendants.

    The ``psutil.Process`` objects are kept between samples because
    ``cpu_percent(None)`` measures since the previous call on the same
    object. Finding the descendants means reading every process's
    ``/proc/<pid>/stat`` (about 1 ms for 100 processes, most of a sample's
    cost), so the membership is refreshed at most every ``refresh_s``
    seconds: a new DataLoader worker or DDP rank is counted within that
    time. Processes that vanish in between are tolerated and dropped.
    """

    def __init__(
        self, pid: int, refresh_s: float = _TREE_REFRESH_S, worker_depth: int | None = None
    ) -> None:
        self._root = psutil.Process(pid)
        self._refresh_s = refresh_s
        self._refreshed_at = -math.inf
        self._procs: dict[int, psutil.Process] = {pid: self._root}
        self.pids: frozenset[int] = frozenset({pid})
        # Processes this deep below the root are DataLoader workers (1 under
        # a training process, 2 under torchrun); None: not counted apart.
        self._worker_depth = worker_depth
        self._workers: frozenset[int] = frozenset()
        self.workers_cpu: float | None = None

    def _members(self) -> list[psutil.Process]:
        now = time.monotonic()
        if now - self._refreshed_at < self._refresh_s:
            return list(self._procs.values())
        self._refreshed_at = now
        try:
            members = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return list(self._procs.values())
        if self._worker_depth is not None:
            self._workers = self._deep(members, self._worker_depth)
        return members

    def _deep(self, members: list[psutil.Process], depth: int) -> frozenset[int]:
        """The members at least ``depth`` levels below the root."""
        parent: dict[int, int] = {}
        for proc in members[1:]:
            try:
                parent[proc.pid] = proc.ppid()
            except psutil.Error:
                continue
        deep = set()
        for pid in parent:
            level, up = 0, pid
            while up in parent and level <= depth:
                level, up = level + 1, parent[up]
            if up == self._root.pid and level >= depth:
                deep.add(pid)
        return frozenset(deep)

    def sample(self) -> tuple[float | None, int | None]:
        """(CPU % with 100 = one core, RSS bytes) summed over the tree."""
        cpu = 0.0
        rss = 0
        workers = 0.0
        kept: dict[int, psutil.Process] = {}
        for found in self._members():
            proc = self._procs.get(found.pid)
            # Process equality includes the creation time: a reused pid is
            # a new process and starts a new CPU measurement.
            if proc is None or proc != found:
                proc = found
            try:
                with proc.oneshot():
                    proc_cpu = proc.cpu_percent(None)
                    proc_rss = proc.memory_info().rss
            except psutil.Error:  # NoSuchProcess, ZombieProcess, AccessDenied
                continue
            kept[proc.pid] = proc
            cpu += float(proc_cpu)
            rss += int(proc_rss)
            if proc.pid in self._workers:
                workers += float(proc_cpu)
        self._procs = kept
        self.pids = frozenset(kept)
        if self._worker_depth is not None:
            self.workers_cpu = workers
        if not kept:
            return None, None
        return cpu, rss


class _NvmlLost(Exception):
    """NVML failed in a way that is not one field being unsupported."""


class Probe:
    """Takes one telemetry sample; the ``Sampler`` drives one on its thread.

    ``nvml`` is the NVML binding: ``None`` imports ``pynvml``
    (nvidia-ml-py), ``False`` disables NVML, anything else is used as the
    module (tests pass a fabricated one). ``environ`` supplies
    CUDA_VISIBLE_DEVICES (default ``os.environ``) and ``pid`` the root of the
    process tree (default this process); ``tree_refresh_s`` is how often the
    tree's membership is re-read (see ``_ProcessTree``). ``worker_depth``
    (a training run's probe) counts the processes that deep below the root
    apart, as the DataLoader workers: the sample gains ``workers_cpu_pct``.

    ``open()`` picks the source: "nvml" when NVML initialises and at least
    one GPU is visible to the process, else "psutil". When NVML fails during
    ``sample()``, the probe drops to "psutil" for good and ``take_lost()``
    returns why, once.
    """

    def __init__(
        self,
        nvml: Any = None,
        *,
        environ: Mapping[str, str] | None = None,
        pid: int | None = None,
        tree_refresh_s: float = _TREE_REFRESH_S,
        worker_depth: int | None = None,
    ) -> None:
        self._nvml_arg = nvml
        self._worker_depth = worker_depth
        self._tree_refresh_s = tree_refresh_s
        self._environ = environ
        self._pid = os.getpid() if pid is None else pid
        self._nvml: Any = None
        self._handles: list[Any] = []
        self._lost: str | None = None
        self._tree: _ProcessTree | None = None
        self.source: Source = "psutil"

    # -- lifecycle

    def open(self) -> None:
        """Initialise NVML if possible and prime the CPU counters; never raises."""
        self._tree = _ProcessTree(self._pid, self._tree_refresh_s, self._worker_depth)
        # First readings only set the baselines for cpu_percent(None).
        psutil.cpu_percent(None)
        self._tree.sample()
        self._open_nvml()

    def _open_nvml(self) -> None:
        nvml = self._nvml_arg
        if nvml is False:
            return
        if nvml is None:
            try:
                import pynvml as nvml
            except Exception:  # not installed, or a broken installation
                return
        try:
            nvml.nvmlInit()
        except Exception:
            # No driver, no GPU: the normal case on a CPU machine, shown by
            # the source being "psutil" rather than by a notice.
            return
        try:
            count = int(nvml.nvmlDeviceGetCount())
            devices = [NvmlDevice(i, "", uuid=_nvml_uuid(nvml, i)) for i in range(count)]
            environ = os.environ if self._environ is None else self._environ
            ordinals = visible_nvml_ordinals(devices, environ.get("CUDA_VISIBLE_DEVICES"))
            handles = [nvml.nvmlDeviceGetHandleByIndex(o) for o in ordinals]
        except Exception:
            _log.debug("listing NVML devices failed", exc_info=True)
            handles = []
        if not handles:
            _nvml_shutdown(nvml)
            return
        self._nvml = nvml
        self._handles = handles
        self.source = "nvml"

    def close(self) -> None:
        """Release NVML; the probe can be opened again."""
        if self._nvml is not None:
            _nvml_shutdown(self._nvml)
        self._nvml = None
        self._handles = []
        self.source = "psutil"

    def take_lost(self) -> str | None:
        """Why NVML was lost since the last call, or None."""
        lost, self._lost = self._lost, None
        return lost

    # -- sampling

    def sample(self) -> dict[str, Any]:
        """One sample in the schema's ``telemetry_sample`` shape."""
        if self._tree is None:
            raise RuntimeError("Probe.sample() before Probe.open()")
        t = time.time()
        try:
            cpu_pct: float | None = float(psutil.cpu_percent(None))
        except Exception:
            cpu_pct = None
        try:
            memory = psutil.virtual_memory()
            ram_used: int | None = int(memory.total - memory.available)
            ram_total: int | None = int(memory.total)
        except Exception:
            ram_used = ram_total = None
        proc_cpu, proc_rss = self._tree.sample()
        gpus: list[dict[str, Any]] = []
        if self._nvml is not None:
            try:
                gpus = self._gpus(self._tree.pids)
            except Exception as exc:
                self._lose(exc)
                gpus = []
        sample: dict[str, Any] = {
            "t": t,
            "cpu_pct": cpu_pct,
            "ram_used_bytes": ram_used,
            "ram_total_bytes": ram_total,
            "proc_cpu_pct": proc_cpu,
            "proc_rss_bytes": proc_rss,
            "gpus": gpus,
        }
        if self._tree.workers_cpu is not None:
            sample["workers_cpu_pct"] = self._tree.workers_cpu
        return sample

    @property
    def tree_pids(self) -> frozenset[int]:
        """The pids counted in the last sample's process-tree fields."""
        return self._tree.pids if self._tree is not None else frozenset()

    def _lose(self, exc: BaseException) -> None:
        cause = exc.__cause__ if isinstance(exc, _NvmlLost) and exc.__cause__ else exc
        text = str(cause).strip()
        reason = f"{type(cause).__name__}: {text}" if text else type(cause).__name__
        self._lost = (
            f"NVML stopped answering ({reason}), so the GPU view is gone and the CPU "
            "view is shown instead. The GPU may have fallen off the bus or the driver "
            "been reset or upgraded; check `nvidia-smi` on the machine and restart the "
            "kernel once it lists the GPUs again."
        )
        self.close()

    def _field(self, read: Callable[[], Any]) -> Any:
        """``read()``, or None when the GPU cannot report this field."""
        nvml = self._nvml
        try:
            return read()
        except nvml.NVMLError as exc:
            if getattr(exc, "value", None) in (
                getattr(nvml, "NVML_ERROR_NOT_SUPPORTED", _NVML_ERROR_NOT_SUPPORTED),
                getattr(nvml, "NVML_ERROR_NO_PERMISSION", _NVML_ERROR_NO_PERMISSION),
                getattr(nvml, "NVML_ERROR_FUNCTION_NOT_FOUND", _NVML_ERROR_FUNCTION_NOT_FOUND),
            ):
                return None
            raise _NvmlLost() from exc

    def _optional(self, name: str, *args: Any) -> Any:
        """NVML's ``name(*args)``, or None when the binding lacks it or it fails.

        For the fields a sample may lack: whatever NVML says about them, the
        GPU view must not be lost over them (an old driver, a vGPU, a GPU
        that keeps clocks to itself).
        """
        nvml = self._nvml
        getter = getattr(nvml, name, None)
        if getter is None:
            return None
        try:
            return getter(*args)
        except nvml.NVMLError:
            return None

    def _gpus(self, tree_pids: frozenset[int]) -> list[dict[str, Any]]:
        nvml = self._nvml
        temperature_sensor = getattr(nvml, "NVML_TEMPERATURE_GPU", _NVML_TEMPERATURE_GPU)
        gpus = []
        for position, handle in enumerate(self._handles):
            utilization = self._field(lambda h=handle: nvml.nvmlDeviceGetUtilizationRates(h))
            memory = self._field(lambda h=handle: nvml.nvmlDeviceGetMemoryInfo(h))
            temperature = self._field(
                lambda h=handle: nvml.nvmlDeviceGetTemperature(h, temperature_sensor)
            )
            power_mw = self._field(lambda h=handle: nvml.nvmlDeviceGetPowerUsage(h))
            compute, graphics = self._processes(handle)
            gpu: dict[str, Any] = {
                "index": position,
                "util_pct": None if utilization is None else float(utilization.gpu),
                "mem_used_bytes": None if memory is None else int(memory.used),
                "mem_total_bytes": None if memory is None else int(memory.total),
                "temp_c": None if temperature is None else float(temperature),
                "power_w": None if power_mw is None else float(power_mw) / 1000.0,
                "proc_mem_bytes": _tree_gpu_memory(compute, graphics, tree_pids),
            }
            gpu.update(self._clocks(handle))
            gpu.update(_other_processes(compute, tree_pids))
            gpus.append(gpu)
        return gpus

    def _processes(self, handle: Any) -> tuple[list[Any] | None, list[Any] | None]:
        """The GPU's compute and graphics processes; None where NVML cannot list them."""
        nvml = self._nvml
        listed: list[list[Any] | None] = []
        for name in (
            "nvmlDeviceGetComputeRunningProcesses",
            "nvmlDeviceGetGraphicsRunningProcesses",
        ):
            getter = getattr(nvml, name, None)
            listed.append(None if getter is None else self._field(lambda g=getter: g(handle)))
        return listed[0], listed[1]

    def _clocks(self, handle: Any) -> dict[str, Any]:
        """The SM clock, its maximum and why it is held down, where NVML tells.

        The advisor's ``throttled`` verdict reads them: a GPU slowed by heat
        or its power limit computes at a fraction of its clock.
        """
        sm = getattr(self._nvml, "NVML_CLOCK_SM", _NVML_CLOCK_SM)
        out: dict[str, Any] = {}
        clock = self._optional("nvmlDeviceGetClockInfo", handle, sm)
        if clock is not None:
            out["sm_clock_mhz"] = int(clock)
        top = self._optional("nvmlDeviceGetMaxClockInfo", handle, sm)
        if top:
            out["sm_clock_max_mhz"] = int(top)
        for name in _CLOCK_REASON_GETTERS:
            mask = self._optional(name, handle)
            if mask is not None:
                out["throttle_reasons"] = [n for bit, n in _CLOCK_REASONS if int(mask) & bit]
                break
        return out


def _tree_gpu_memory(
    compute: list[Any] | None, graphics: list[Any] | None, tree_pids: frozenset[int]
) -> int | None:
    """GPU memory held by the process tree, or None if NVML cannot list processes."""
    if compute is None and graphics is None:
        return None
    used: dict[int, int] = {}
    for process in [*(compute or []), *(graphics or [])]:
        memory = getattr(process, "usedGpuMemory", None)
        if process.pid in tree_pids and memory is not None:
            # A process with both a compute and a graphics context is
            # listed twice with the same memory: count it once.
            used[process.pid] = max(used.get(process.pid, 0), int(memory))
    return sum(used.values())


def _other_processes(compute: list[Any] | None, tree_pids: frozenset[int]) -> dict[str, Any]:
    """The compute processes on the GPU outside the process tree, and their memory.

    They share the GPU's time and memory with the run (the advisor's
    ``shared_gpu`` verdict). Graphics-only processes (a desktop) are left
    out: they hardly compute. Only pids this process can see count: NVML
    gives every process its host pid, so in a container with its own pid
    namespace the run's own processes would otherwise count as others;
    another container's processes are then not seen either.
    """
    if compute is None:
        return {}
    others: dict[int, int] = {}
    for process in compute:
        pid = int(process.pid)
        if pid <= 0 or pid in tree_pids or pid in others or not psutil.pid_exists(pid):
            continue
        memory = getattr(process, "usedGpuMemory", None)
        others[pid] = 0 if memory is None else int(memory)
    return {"other_procs": len(others), "other_procs_mem_bytes": sum(others.values())}


def _failure(action: str, exc: BaseException) -> str:
    text = str(exc).strip()
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return f"telemetry {action} failed ({reason}); the sampler keeps trying"


def _nvml_uuid(nvml: Any, index: int) -> str | None:
    try:
        raw = nvml.nvmlDeviceGetUUID(nvml.nvmlDeviceGetHandleByIndex(index))
    except Exception:
        return None
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _nvml_shutdown(nvml: Any) -> None:
    try:
        nvml.nvmlShutdown()
    except Exception:
        pass  # a lost GPU may refuse even this; nothing is left to release
