"""Why a run is slow, from where its batches' time goes: verdicts with a fix.

Pure rules, as ``findings.py`` is for the doctor: the runner feeds each
batch's time split (waiting for data, compute, the DDP stop collective) and
its telemetry samples, and asks at each epoch's end for the verdicts, which
it writes as an ``advice`` event. Each verdict says what it saw (measured),
the fix, the gain to expect, and the form values that apply the fix (for
the panel's one click), or None when the fix is not a form value.
"""

from __future__ import annotations

import math
import os
import shutil
import threading
from collections import deque
from collections.abc import Mapping
from statistics import median
from typing import Any, Final

__all__ = ["DATA_BOUND_SHARE", "Advisor", "shm_bytes"]

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
    imgsz, amp); ``shm`` the size of /dev/shm in bytes (None: unknown);
    ``cpus`` the CPUs this process may use.
    """

    def __init__(
        self, params: Mapping[str, Any], shm: int | None = None, cpus: int | None = None
    ) -> None:
        self.params = dict(params)
        self.shm = shm
        self.cpus = cpus if cpus is not None else _cpus()
        self._seen = 0
        self._shares: deque[float] = deque(maxlen=_WINDOW)
        self._gpu_util: deque[float] = deque(maxlen=_WINDOW)
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
        """A telemetry sample: the mean utilization of its GPUs, when it has some."""
        utils = [g.get("util_pct") for g in sample.get("gpus") or []]
        utils = [u for u in utils if isinstance(u, (int, float))]
        if utils:
            with self._lock:
                self._gpu_util.append(sum(utils) / len(utils))

    @property
    def data_share(self) -> float | None:
        """The median share of a step spent waiting for data, once enough batches ran."""
        with self._lock:
            shares = list(self._shares)
        return float(median(shares)) if len(shares) >= _MIN_BATCHES else None

    def verdicts(self) -> list[dict[str, Any]]:
        """What holds this run back, most important first; empty until measured."""
        share = self.data_share
        if share is None:
            return []
        out: list[dict[str, Any]] = []
        workers = int(self.params.get("workers") or 0)
        device = self.params.get("device") or "cpu"
        on_cpu = device == "cpu"
        with self._lock:
            n = len(self._shares)
            gpu_util = list(self._gpu_util)
        if share >= DATA_BOUND_SHARE:
            out.append(self._data_bound(share, n, workers))
        if workers > 0 and self.shm is not None and self.shm < SMALL_SHM_BYTES:
            out.append(
                _verdict(
                    "shared_memory",
                    f"/dev/shm holds {self.shm / 2**20:.0f} MiB; the {workers} DataLoader "
                    "workers pass every batch through it",
                    "give the container more shared memory: yolo-lab up --shm-size 8g (its "
                    "default) or docker run --shm-size 8g; or train with workers=0",
                    "workers that do not stall or die with a bus error",
                )
            )
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
                {"workers": str(more)},
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
            {"imgsz": str(smaller)},
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
