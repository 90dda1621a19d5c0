"""Why a run is slow, from where its batches' time goes: verdicts with a fix.

Pure rules, as ``findings.py`` is for the doctor: the runner feeds each
batch's time split (waiting for data, compute, the DDP stop collective) and
its telemetry samples, and asks at each epoch's end for the verdicts, which
it writes as an ``advice`` event. Each verdict says what it saw (measured),
the fix, the gain to expect, and the form values that apply the fix (for
the panel's one click), or None when the fix is not a form value.

The time split judges the loading and the computing; the telemetry judges
the run's GPUs themselves: clocks held down by heat or power
(``throttled``), and other processes computing on them (``shared_gpu``).
"""

from __future__ import annotations

import math
import os
import shutil
import threading
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from statistics import median
from typing import Any, Final

from .rundir import spec_devices

__all__ = ["DATA_BOUND_SHARE", "SLOWING_REASONS", "Advisor", "shm_bytes"]

# A step that waits for data this share of its time is data-bound.
DATA_BOUND_SHARE: Final = 0.25
# Below this, a GPU run is not held up by its data.
GPU_BOUND_DATA_SHARE: Final = 0.1
GPU_BUSY_PCT: Final = 85.0
SMALL_SHM_BYTES: Final = 1 << 30
_WINDOW: Final = 50
_MIN_BATCHES: Final = 5
# The first batches include starting the DataLoader's workers.
_SKIP_FIRST: Final = 2
_MAX_WORKERS: Final = 8
# A GPU computing at least this share of the time has its clocks matter; an
# idle one's slowdown costs the run nothing.
THROTTLE_BUSY_PCT: Final = 50.0
# Clocks event reasons (the telemetry's throttle_reasons) that mean heat or
# power holds the GPU back, the most telling first; the others (sync boost,
# display clock) are settings, not a fault to fix.
SLOWING_REASONS: Final = (
    "hw_thermal",
    "sw_thermal",
    "hw_power_brake",
    "hw_slowdown",
    "sw_power_cap",
)
_THERMAL: Final = ("hw_thermal", "sw_thermal")
# A reason with the clock this close to its maximum costs too little to report.
_FULL_CLOCK: Final = 0.95
# Telemetry samples judged per GPU (about 20 s at the default 1 s interval).
_SAMPLE_WINDOW: Final = 20
_MIN_SAMPLES: Final = 3
# The GPU fields kept from each telemetry sample.
_GPU_FIELDS: Final = (
    "util_pct",
    "temp_c",
    "sm_clock_mhz",
    "sm_clock_max_mhz",
    "throttle_reasons",
    "other_procs",
    "other_procs_mem_bytes",
)


def shm_bytes(path: str = "/dev/shm") -> int | None:
    """The size of the shared memory DataLoader workers pass batches through."""
    try:
        return int(shutil.disk_usage(path).total)
    except OSError:
        return None


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _verdict(
    code: str, saw: str, fix: str, gain: str, form: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {"code": code, "saw": saw, "fix": fix, "gain": gain, "form": dict(form or {}) or None}


class Advisor:
    """Collects a run's time split and telemetry; ``verdicts()`` judges them.

    ``params`` are the run's checked parameters (device, workers, cache,
    imgsz, amp); ``shm`` the size in bytes of the shared memory at
    ``shm_path`` (None: unknown); ``cpus`` the CPUs this process may use.
    """

    def __init__(
        self,
        params: Mapping[str, Any],
        shm: int | None = None,
        cpus: int | None = None,
        shm_path: str = "/dev/shm",
    ) -> None:
        self.params = dict(params)
        self.shm = shm
        self.shm_path = shm_path
        self.cpus = cpus if cpus is not None else _cpus()
        self._seen = 0
        self._shares: deque[float] = deque(maxlen=_WINDOW)
        self._gpu_util: deque[float] = deque(maxlen=_WINDOW)
        # Each GPU's recent readings by its index (cuda:N as the run sees it).
        self._gpus: dict[int, deque[dict[str, Any]]] = {}
        # Batches come from the training loop, samples from the telemetry thread.
        self._lock = threading.Lock()

    def add_batch(self, split: Mapping[str, Any]) -> None:
        """One batch's ``data_s``, ``compute_s`` and ``sync_s`` (None where unmeasured)."""
        self._seen += 1
        data, compute = split.get("data_s"), split.get("compute_s")
        if self._seen <= _SKIP_FIRST or data is None or compute is None:
            return
        total = data + compute + (split.get("sync_s") or 0.0)
        if total > 0 and math.isfinite(total):
            with self._lock:
                self._shares.append(data / total)

    def add_sample(self, sample: Mapping[str, Any]) -> None:
        """A telemetry sample: the mean utilization of its GPUs, when it has
        some, and each GPU's clocks, throttle reasons and other processes."""
        gpus = [g for g in sample.get("gpus") or [] if isinstance(g, Mapping)]
        utils = [g.get("util_pct") for g in gpus]
        utils = [u for u in utils if isinstance(u, (int, float))]
        with self._lock:
            if utils:
                self._gpu_util.append(sum(utils) / len(utils))
            for gpu in gpus:
                index = gpu.get("index")
                if isinstance(index, int):
                    readings = self._gpus.setdefault(index, deque(maxlen=_SAMPLE_WINDOW))
                    readings.append({key: gpu.get(key) for key in _GPU_FIELDS})

    @property
    def data_share(self) -> float | None:
        """The median share of a step spent waiting for data, once enough batches ran."""
        with self._lock:
            shares = list(self._shares)
        return float(median(shares)) if len(shares) >= _MIN_BATCHES else None

    def verdicts(self) -> list[dict[str, Any]]:
        """What holds this run back, most important first; empty until measured.

        The time split's verdicts wait for enough batches, the GPUs' ones
        for enough telemetry samples.
        """
        share = self.data_share
        out: list[dict[str, Any]] = []
        workers = int(self.params.get("workers") or 0)
        on_cpu = not spec_devices({"params": self.params})
        with self._lock:
            n = len(self._shares)
            gpu_util = list(self._gpu_util)
            gpus = {index: list(readings) for index, readings in self._gpus.items()}
        if share is not None and share >= DATA_BOUND_SHARE:
            out.append(self._data_bound(share, n, workers))
        if (
            share is not None
            and workers > 0
            and self.shm is not None
            and self.shm < SMALL_SHM_BYTES
        ):
            out.append(
                _verdict(
                    "shared_memory",
                    f"{self.shm_path} holds {self.shm / 2**20:.0f} MiB; the {workers} "
                    f"DataLoader worker{'s pass' if workers > 1 else ' passes'} every batch "
                    "through it",
                    "give the container more shared memory: yolo-lab up --shm-size 8g (its "
                    "default) or docker run --shm-size 8g; or train with workers=0",
                    "workers that do not stall or die with a bus error",
                )
            )
        run_gpus = [i for i in spec_devices({"params": self.params}) if i in gpus]
        for judge in (self._shared_gpu, self._throttled):
            verdict = judge(run_gpus, gpus)
            if verdict is not None:
                out.append(verdict)
        if share is None:
            return out
        if on_cpu and share < DATA_BOUND_SHARE:
            out.append(
                _verdict(
                    "cpu_bound",
                    f"computing takes {100 * (1 - share):.0f}% of each step, on the CPU "
                    f"(median of {n} batches)",
                    "train on a GPU: yolo-lab up --gpus all, then device='cuda:0'",
                    "an epoch 8 to 23 times faster (the course's measurements)",
                )
            )
        if not on_cpu and share < GPU_BOUND_DATA_SHARE and gpu_util:
            util = float(median(gpu_util))
            if util >= GPU_BUSY_PCT:
                out.append(self._gpu_bound(util, share))
        return out

    def _data_bound(self, share: float, n: int, workers: int) -> dict[str, Any]:
        saw = (
            f"the training loop waited for data {100 * share:.0f}% of each step "
            f"(median of {n} batches) with workers={workers}"
        )
        gain = f"up to {1 / max(1 - share, 0.05):.1f}x the images/s, if loading keeps up"
        if workers < min(self.cpus, _MAX_WORKERS):
            more = min(self.cpus, _MAX_WORKERS, max(2, 2 * workers))
            return _verdict(
                "data_bound",
                saw,
                f"more DataLoader workers: workers={more} (this machine has {self.cpus} CPUs)",
                gain,
                {"workers": more},
            )
        if self.params.get("cache") in (None, "none"):
            return _verdict(
                "data_bound",
                saw,
                'cache the decoded images in memory: cache="ram" (or "disk")',
                gain,
                {"cache": "ram"},
            )
        imgsz = int(self.params.get("imgsz") or 640)
        smaller = max(32, (imgsz // 2) // 32 * 32)
        return _verdict(
            "data_bound",
            saw,
            f"smaller images to decode and augment: imgsz={smaller}",
            gain,
            {"imgsz": smaller},
        )

    def _gpu_bound(self, util: float, share: float) -> dict[str, Any]:
        saw = f"the GPU is {util:.0f}% busy and waits for data {100 * share:.0f}% of each step"
        if self.params.get("amp") is False:
            return _verdict(
                "gpu_bound",
                saw,
                "mixed precision: amp=True",
                "about 1.5 to 2x on GPUs with tensor cores, and less memory",
                {"amp": True},
            )
        return _verdict(
            "gpu_bound",
            saw,
            "a bigger batch, if memory allows (batch_size='auto' measures it)",
            "some; the GPU is already busy",
        )

    def _shared_gpu(
        self, run_gpus: Sequence[int], gpus: Mapping[int, list[dict[str, Any]]]
    ) -> dict[str, Any] | None:
        """Other processes compute on a GPU of the run in most recent samples.

        They take turns with the run on the GPU and hold its memory; how
        much they compute is not measured (NVML's per-process utilization is
        not sampled), hence the gain's "up to".
        """
        shared: list[tuple[int, dict[str, Any], int, int]] = []
        for index in run_gpus:
            seen = [r for r in gpus[index] if isinstance(r.get("other_procs"), int)]
            busy = [r for r in seen if r["other_procs"] > 0]
            if len(seen) >= _MIN_SAMPLES and 2 * len(busy) > len(seen):
                shared.append((index, busy[-1], len(busy), len(seen)))
        if not shared:
            return None
        index, latest, busy_n, seen_n = shared[0]
        count = int(latest["other_procs"])
        memory = float(latest.get("other_procs_mem_bytes") or 0)
        saw = (
            f"{count} other process{'es' if count > 1 else ''} "
            f"use{'s' if count == 1 else ''} {memory / 2**30:.1f} GiB on GPU {index} "
            f"(cuda:{index}), in {busy_n} of {seen_n} recent samples"
        )
        if len(shared) > 1:
            saw += "; also on GPU " + ", ".join(str(s[0]) for s in shared[1:])
        them, their = ("it", "its") if count == 1 else ("them", "their")
        they = "it computes" if count == 1 else "they compute"
        idle = _idle_gpu(gpus, run_gpus)
        if idle is None:
            elsewhere = 'train on a GPU nothing else uses: device="cuda:N"'
        elif len(run_gpus) > 1:
            elsewhere = f"put GPU {idle}, which nothing else uses, in device instead of GPU {index}"
        else:
            elsewhere = f'train on GPU {idle}, which nothing else uses: device="cuda:{idle}"'
        return _verdict(
            "shared_gpu",
            saw,
            f"stop {them} (`nvidia-smi` lists {them} with {their} pids; a notebook kernel "
            f"that holds a model on the GPU counts too), or {elsewhere}",
            f"the GPU to itself: up to {count + 1}x, if {they} as much as this run, "
            f"and {their} memory back",
        )

    def _throttled(
        self, run_gpus: Sequence[int], gpus: Mapping[int, list[dict[str, Any]]]
    ) -> dict[str, Any] | None:
        """Heat or power holds down the clock of a busy GPU of the run.

        Judged on the samples where the GPU computes at least
        ``THROTTLE_BUSY_PCT``: a majority of them must name a slowing reason
        with the SM clock below ``_FULL_CLOCK`` of its maximum (where known).
        """
        for index in run_gpus:
            busy = [
                r
                for r in gpus[index]
                if isinstance(r.get("util_pct"), (int, float))
                and r["util_pct"] >= THROTTLE_BUSY_PCT
                and isinstance(r.get("throttle_reasons"), list)
            ]
            slowed = [r for r in busy if _slowed(r)]
            if len(busy) >= _MIN_SAMPLES and 2 * len(slowed) > len(busy):
                return _throttle_verdict(index, slowed, len(busy), self.params)
        return None


def _slowed(reading: Mapping[str, Any]) -> bool:
    """The reading names a slowing reason, and the clock is below its maximum."""
    if not set(reading["throttle_reasons"]) & set(SLOWING_REASONS):
        return False
    ratio = _clock_ratio(reading)
    return ratio is None or ratio < _FULL_CLOCK


def _clock_ratio(reading: Mapping[str, Any]) -> float | None:
    clock, top = reading.get("sm_clock_mhz"), reading.get("sm_clock_max_mhz")
    if isinstance(clock, (int, float)) and isinstance(top, (int, float)) and top > 0:
        return float(clock) / float(top)
    return None


def _throttle_verdict(
    index: int, slowed: list[dict[str, Any]], busy: int, params: Mapping[str, Any]
) -> dict[str, Any]:
    counts = Counter(
        r for reading in slowed for r in reading["throttle_reasons"] if r in SLOWING_REASONS
    )
    # The most frequent; on a tie, the most telling (SLOWING_REASONS' order).
    reason = min(counts, key=lambda r: (-counts[r], SLOWING_REASONS.index(r)))
    saw = (
        f"GPU {index} (cuda:{index}) was slowed by {reason} in {len(slowed)} of {busy} busy samples"
    )
    ratios = [x for x in map(_clock_ratio, slowed) if x is not None]
    clocks = [float(r["sm_clock_mhz"]) for r in slowed if _clock_ratio(r) is not None]
    tops = [float(r["sm_clock_max_mhz"]) for r in slowed if _clock_ratio(r) is not None]
    if ratios:
        saw += (
            f", its SM clock at {median(clocks):.0f} of {median(tops):.0f} MHz "
            f"({100 * median(ratios):.0f}%)"
        )
    temps = [r["temp_c"] for r in slowed if isinstance(r.get("temp_c"), (int, float))]
    if temps:
        saw += f" at {median(temps):.0f} °C"
    gain = (
        f"up to {1 / median(ratios):.1f}x the GPU's compute, at its full clock"
        if ratios
        else "the GPU's full clock back: its compute scales with it"
    )
    return _verdict("throttled", saw, _throttle_fix(reason, params), gain)


def _throttle_fix(reason: str, params: Mapping[str, Any]) -> str:
    """Heat wants cooling, a power cap a higher limit or less power per image."""
    lighter = (
        "amp=True (less power per image), or a smaller imgsz"
        if params.get("amp") is False
        else "a smaller imgsz or batch_size"
    )
    if reason in _THERMAL:
        return (
            "cool the GPU: fans that spin, free airflow around it (case fans, dust "
            "filters, space between cards), a cooler room; `nvidia-smi -q -d "
            "PERFORMANCE,TEMPERATURE` shows the slowdown temperatures; meanwhile a lighter "
            f"setting heats it less: {lighter}"
        )
    if reason == "sw_power_cap":
        return (
            "`nvidia-smi -q -d PERFORMANCE,POWER` shows the power limit against its default "
            "and maximum: if it was lowered, raise it (sudo nvidia-smi -pl WATTS); otherwise "
            f"a less power-hungry setting does more per watt: {lighter}"
        )
    return (
        "the hardware slows the GPU (heat, or the power supply pulling the brake): check its "
        "cooling and airflow, its power cables and that the supply is big enough; "
        "`nvidia-smi -q -d PERFORMANCE,POWER` shows which"
    )


def _idle_gpu(gpus: Mapping[int, list[dict[str, Any]]], run_gpus: Sequence[int]) -> int | None:
    """A GPU outside the run that nothing computes on, recently: the one to move to."""
    for index in sorted(gpus):
        readings = gpus[index]
        if index in run_gpus or len(readings) < _MIN_SAMPLES:
            continue
        utils = [r["util_pct"] for r in readings if isinstance(r.get("util_pct"), (int, float))]
        if all(r.get("other_procs") == 0 for r in readings) and utils and median(utils) < 10.0:
            return index
    return None
