"""``autotune()``: its argument checks, the probes' shared setup and the search run."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from ..checks import (
    MAX_BATCH_SIZE,
    TrainError,
    check_amp,
    check_batch_size,
    check_cache,
    check_data,
    check_devices,
    check_int,
    check_model,
    check_trust_weights,
    check_yolov5_options,
    find_yolov5,
)
from ..params import DEFAULTS
from ..rundir import device_text
from . import probe
from .probe import (
    KNOBS,
    PROBE_BATCHES,
    PROBE_SECONDS,
    WARMUP_BATCHES,
    ProbeSetup,
    Row,
)
from .result import Autotune
from .search import _Search

__all__ = ["autotune", "default_space"]

# The order the CPU search moves them in (autotune() says why).
CPU_ORDER: Final = ("cache", "batch_size", "workers", "amp")
DEFAULT_BUDGET_S: Final = 120.0
# A change must be this much faster to be kept: below it is measurement noise.
MIN_GAIN: Final = 0.03


# -- the checks -------------------------------------------------------------------------


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _powers_of_two(low: int, high: int) -> list[int]:
    out, n = [], 1
    while n <= high:
        if n >= low:
            out.append(n)
        n *= 2
    return out


def default_space(gpu: bool, cpus: int | None = None) -> dict[str, list[Any]]:
    """What is searched unless told: powers of two for the batch and the
    workers (up to the CPUs; YOLOv5 uses no more), no cache or RAM, and AMP
    on a GPU (on the CPU YOLOv5 trains in float32: nothing to choose)."""
    cpus = _cpus() if cpus is None else cpus
    return {
        "batch_size": _powers_of_two(1, MAX_BATCH_SIZE),
        "workers": [0, *_powers_of_two(1, max(1, min(cpus, 64)))],
        "cache": [None, "ram"],
        "amp": [True, False] if gpu else [False],
    }


def _seconds(value: Any) -> float | None:
    """``value`` as seconds, or None when it is not a finite number (a bool is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _check_budget(budget_s: Any) -> float:
    seconds = _seconds(budget_s)
    if seconds is None or seconds <= 0:
        raise TrainError(
            "bad_budget",
            f"budget_s={budget_s!r}: the search's time budget is a number of seconds above 0",
            "e.g. budget_s=120 (two minutes; each probe takes about 10 to 30 s)",
            field="budget_s",
        )
    return seconds


def _check_min_gain(min_gain: Any) -> float:
    if (
        isinstance(min_gain, bool)
        or not isinstance(min_gain, (int, float))
        or not 0 <= min_gain < 1
    ):
        raise TrainError(
            "bad_min_gain",
            f"min_gain={min_gain!r}: the share faster a change must be to be kept, from 0 to 1",
            f"e.g. min_gain={MIN_GAIN} (a change 3% faster is kept)",
            field="min_gain",
        )
    return float(min_gain)


def _check_probe_batches(probe_batches: Any, warmup_batches: Any) -> tuple[int, int]:
    ok = (
        all(isinstance(v, int) and not isinstance(v, bool) for v in (probe_batches, warmup_batches))
        and warmup_batches >= 0
        and probe_batches > warmup_batches
    )
    if not ok:
        raise TrainError(
            "bad_probe_batches",
            f"probe_batches={probe_batches!r} with warmup_batches={warmup_batches!r}: a probe "
            "needs more batches than it leaves out as warm-up",
            f"e.g. probe_batches={PROBE_BATCHES}, warmup_batches={WARMUP_BATCHES}",
            field="probe_batches",
        )
    return probe_batches, warmup_batches


def _check_probe_s(probe_s: Any) -> float:
    seconds = _seconds(probe_s)
    if seconds is None or seconds < 0:
        raise TrainError(
            "bad_probe_s",
            f"probe_s={probe_s!r}: the seconds of measured batches that end a probe early, "
            "0 or more",
            f"e.g. probe_s={PROBE_SECONDS} (0: every probe runs all its probe_batches)",
            field="probe_s",
        )
    return seconds


def _check_device(device: Any) -> tuple[str, list[int]]:
    """The one device searched: its name for people and its CUDA index ([] = CPU)."""
    devices = check_devices(device)
    if len(devices) > 1:
        raise TrainError(
            "autotune_one_device",
            f"autotune measures one device; {device!r} names {len(devices)} GPUs",
            "autotune on one of them, e.g. device='cuda:0' (the batch it finds is per GPU: "
            f"for DDP on {len(devices)} GPUs, train with {len(devices)} times it)",
            field="device",
        )
    return str(device_text(devices or ["cpu"])), devices


def _check_space(
    space: Mapping[str, Sequence[Any]] | None, gpu: bool, devices: list[int]
) -> dict[str, list[Any]]:
    """The values to search, each checked as train() would check it."""
    full = default_space(gpu)
    for knob, values in (space or {}).items():
        if knob not in KNOBS:
            raise TrainError(
                "bad_space",
                f"space names {knob!r}, which autotune does not search",
                f"name only {', '.join(KNOBS)}; set the other train() arguments directly",
                field="space",
            )
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise TrainError(
                "bad_space",
                f"space[{knob!r}] is {values!r}, not a list of values",
                f'e.g. space={{"{knob}": {full[knob][:3]!r}}}',
                field="space",
            )
        full[knob] = list(values)
    return {
        "batch_size": sorted({_check_one_batch(v, devices) for v in full["batch_size"]}),
        "workers": sorted({check_int("workers", v) for v in full["workers"]}),
        "cache": list(dict.fromkeys(check_cache(v) for v in full["cache"])),
        "amp": list(dict.fromkeys(_check_one_amp(v, devices) for v in full["amp"])),
    }


def _check_one_batch(value: Any, devices: list[int]) -> int:
    batch = check_batch_size(value, devices)
    if not isinstance(batch, int):
        raise TrainError(
            "bad_space",
            'batch_size "auto" is YOLOv5\'s own guess; autotune measures sizes instead',
            "give whole numbers, e.g. [8, 16, 32, 64]",
            field="batch_size",
        )
    return batch


def _check_one_amp(value: Any, devices: list[int]) -> bool:
    amp = check_amp(value, devices)
    # None (automatic) is on for a GPU, off on the CPU: as the run decides.
    return bool(devices) if amp is None else bool(amp)


def _autotune_folder(project: Path) -> Path:
    """``project/autotune-N``, N the first number free (made atomically)."""
    project.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        path = project / f"autotune-{n}"
        try:
            path.mkdir()
        except FileExistsError:
            n += 1
            continue
        return path


# -- the function ------------------------------------------------------------------------


def autotune(
    data: str | os.PathLike[str],
    *,
    device: Any = DEFAULTS["device"],
    budget_s: float = DEFAULT_BUDGET_S,
    # As train()'s: the definition's (protocol/train_params.schema.json).
    model: str | None = DEFAULTS["model"],
    weights: str | None = DEFAULTS["weights"],
    imgsz: int = DEFAULTS["imgsz"],
    batch_size: int = DEFAULTS["batch_size"],
    workers: int = DEFAULTS["workers"],
    cache: str | None = DEFAULTS["cache"],
    amp: bool | None = DEFAULTS["amp"],
    space: Mapping[str, Sequence[Any]] | None = None,
    probe_batches: int = PROBE_BATCHES,
    warmup_batches: int = WARMUP_BATCHES,
    probe_s: float = PROBE_SECONDS,
    min_gain: float = MIN_GAIN,
    project: str | os.PathLike[str] = DEFAULTS["project"],
    yolov5_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    on_row: Callable[[Row], None] | None = None,
    trust_weights: bool = False,
    **yolov5_options: Any,
) -> Autotune:
    """Find this machine's fastest batch size, workers, cache (and AMP on a GPU) by probing.

    Each probe is a real YOLOv5 run of ``probe_batches`` batches through the
    runner (no validation, no weights), or fewer once the batches after
    ``warmup_batches`` took ``probe_s`` seconds (at least 3 of them; 0: no
    such end); its speed is their median images/s. The search starts at
    ``batch_size``, ``workers``, ``cache`` and ``amp`` (train()'s defaults),
    varies one knob at a time, keeps what is faster by more than
    ``min_gain``, takes the batch four times larger until out of memory or
    no faster and then a doubling either side, and ends when nothing helps or
    within ``budget_s`` seconds (a probe is started only if it should end in
    time). ``space`` narrows or widens the values tried, e.g.
    ``{"batch_size": [8, 16, 32], "cache": [None]}``. ``on_row(row)`` is
    called after each probe (a UI fills its table so). ``model``,
    ``weights`` (and ``trust_weights``), ``imgsz`` and other YOLOv5 options
    are as for train() and fixed during the search.

    Returns an :class:`Autotune`; its table is saved in
    ``project/autotune-N/autotune.json``. Train with the winner:
    ``yolo_lab.train(data, device=device, **result.winner)``.
    """
    budget = _check_budget(budget_s)
    min_gain = _check_min_gain(min_gain)
    probe_batches, warmup_batches = _check_probe_batches(probe_batches, warmup_batches)
    probe_s = _check_probe_s(probe_s)
    device_name, devices = _check_device(device)
    gpu = bool(devices)
    imgsz = check_int("imgsz", imgsz)
    checkout = find_yolov5(yolov5_dir)
    data_path = check_data(data)
    cfg, weights_path = check_model(model, weights)
    trust_weights = check_trust_weights(trust_weights)
    options = check_yolov5_options(yolov5_options, checkout)
    searched = _check_space(space, gpu, devices)
    start = {
        "batch_size": _check_one_batch(batch_size, devices),
        "workers": check_int("workers", workers),
        "cache": check_cache(cache),
        "amp": _check_one_amp(amp, devices),
    }
    folder = _autotune_folder(Path(project).expanduser().resolve())
    setup = ProbeSetup(
        data=str(data_path),
        device=device_name,
        devices=tuple(devices),
        model=cfg,
        weights=weights_path,
        imgsz=imgsz,
        folder=folder,
        yolov5_dir=checkout,
        seed=seed,
        options=options,
        probe_batches=probe_batches,
        warmup_batches=warmup_batches,
        probe_s=probe_s,
        trust_weights=trust_weights,
    )
    result = Autotune(
        dir=folder,
        data=str(data_path),
        device=device_name,
        imgsz=imgsz,
        budget_s=budget,
        defaults=start,
        space=searched,
    )
    result.save()
    # On a GPU, AMP first: it changes how large a batch fits. On the CPU,
    # the cache first: decoding takes the cores the step computes on, so it
    # moves every other knob's best value (measured: +43 % at batch 32, 2
    # workers), and the batch and workers are then climbed once with it.
    order = ("amp", "batch_size", "workers", "cache") if gpu else CPU_ORDER
    # Looked up now, in its module: a test replaces probe.run_probe.
    search = _Search(result, setup, probe.run_probe, on_row, min_gain)
    try:
        search.run(start, order)
    except BaseException:
        result.ended = "interrupted"
        raise
    finally:
        result.seconds = round(time.monotonic() - search.t0, 2)
        result.save()
        result.show_live()
    return result
