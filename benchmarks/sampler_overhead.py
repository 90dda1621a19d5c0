"""How much the telemetry sampler slows a training loop down.

Run: .venv/bin/python benchmarks/sampler_overhead.py [--threads N | --all-cpus] [--reps 7]
     [--device cuda:0]

A CPU-bound PyTorch training loop (an MLP on random data, fixed seed) is
timed in short rounds of a fixed number of steps, with the sampler off, at
1 Hz and at 10 Hz, interleaved (off, 1 Hz, 10 Hz, off, ...) so that drift in
the machine's load hits every mode alike. While on, the sampler has one
listener that does what the panel's comm does with each batch: build the
protocol message and serialise it.

By default the whole process is pinned to one CPU and torch uses one thread:
training normally keeps every core it has busy, so the sampler thread must
take its time from the training, which is the case that matters, and one
pinned core is far less disturbed by other load on a shared machine than
torch's multi-threaded barriers are. ``--all-cpus`` keeps every CPU and
torch's default threads (or ``--threads N``) instead.

``--device cuda:0`` trains the same loop on that GPU (each round ends with
a synchronize): there the pinned core is the one launching the kernels, so
the slowdown is the sampler's cost to a GPU training loop.

Prints the median round time per mode and the median paired slowdown
against "off" with the goals (< 1 % at 1 Hz, < 2 % at 10 Hz) as PASS/MISS.
A benchmark, not a test: it exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from yolo_lab import protocol  # noqa: E402
from yolo_lab.telemetry import Batch, Notice, Sampler  # noqa: E402

SEED = 0
GOALS_PCT = {1.0: 1.0, 10.0: 2.0}  # sampling rate (Hz) -> largest acceptable slowdown


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class Trainer:
    """An MLP classifier trained with SGD on one fixed random batch."""

    def __init__(self, device: str = "cpu") -> None:
        torch.manual_seed(SEED)
        self.device = torch.device(device)
        self.model = nn.Sequential(
            nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)
        ).to(self.device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.inputs = torch.randn(128, 512).to(self.device)
        self.targets = torch.randint(0, 10, (128,)).to(self.device)
        self.loss_fn = nn.CrossEntropyLoss()

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def steps(self, count: int) -> tuple[float, float]:
        """Wall seconds taken by ``count`` training steps, and the CPU seconds
        the process's other threads used meanwhile (with one torch thread,
        that is the sampler's thread: its cost measured directly)."""
        start = time.perf_counter()
        process_start, thread_start = time.process_time(), time.thread_time()
        for _ in range(count):
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.model(self.inputs), self.targets)
            loss.backward()
            self.optimizer.step()
        self.sync()
        wall = time.perf_counter() - start
        others = (time.process_time() - process_start) - (time.thread_time() - thread_start)
        return wall, max(0.0, others)


class CommLikeListener:
    """Does per batch what the comm session does: build the message and serialise it."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.bytes_sent = 0

    def __call__(self, kind: str, payload: Batch | Notice) -> None:
        if isinstance(payload, Batch):
            message = protocol.make_telemetry_batch(
                payload.sampler_id,
                payload.source,
                payload.interval_s,
                payload.samples,
                payload.history,
                samples_checked=True,
            )
            self.bytes_sent += len(json.dumps(message))
            if payload.history:
                self.ready.set()


def with_sampler(
    interval_s: float | None, action: Callable[[], tuple[float, float]]
) -> tuple[float, float]:
    if interval_s is None:
        return action()
    sampler = Sampler(interval_s=interval_s)
    listener = CommLikeListener()
    sampler.add_listener(listener)
    try:
        # The probe is open (NVML initialised) once the history arrives;
        # only the steady state is timed.
        if not listener.ready.wait(30):
            raise RuntimeError("the sampler did not start")
        return action()
    finally:
        sampler.remove_listener(listener)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all-cpus", action="store_true", help="do not pin to one CPU")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--round-s", type=float, default=1.5)
    parser.add_argument("--device", default="cpu", help='"cpu" or a GPU such as "cuda:0"')
    args = parser.parse_args()
    cpus = usable_cpus()
    pinned = None
    if not args.all_cpus and hasattr(os, "sched_setaffinity"):
        pinned = max(os.sched_getaffinity(0))
        # Before torch starts its thread pools, so they inherit it.
        os.sched_setaffinity(0, {pinned})
    threads = args.threads if args.threads is not None else (1 if pinned is not None else None)
    if threads is not None:
        torch.set_num_threads(threads)

    trainer = Trainer(args.device)
    trainer.steps(5)  # warm-up: allocations, kernels chosen
    per_step = trainer.steps(20)[0] / 20
    steps = max(10, round(args.round_s / per_step))

    probe_sampler = Sampler()
    warm = CommLikeListener()
    probe_sampler.add_listener(warm)  # imports jsonschema, opens NVML once, before timing
    warm.ready.wait(30)
    source = probe_sampler.source
    probe_sampler.remove_listener(warm)

    print(
        f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} CPUs "
        f"({cpus} usable), python {platform.python_version()}, torch {torch.__version__}"
    )
    if pinned is not None:
        placement = f"process pinned to CPU {pinned} (sampler shares the training's core)"
    else:
        placement = "all CPUs (sampler may run on a core the training leaves idle)"
    print(
        f"workload: MLP 512-1024-1024-10, batch 128, SGD, seed {SEED}, {args.device}, "
        f"{torch.get_num_threads()} torch thread(s); {placement}"
    )
    print(f"rounds: {steps} steps (~{steps * per_step:.2f} s) x 3 modes x {args.reps} reps")
    print(f"sampler source: {source}; listener builds and serialises each batch like the comm")

    modes: list[tuple[str, float | None]] = [("off", None), ("1 Hz", 1.0), ("10 Hz", 0.1)]
    rounds: dict[str, list[float]] = {name: [] for name, _ in modes}
    # CPU share of one core used by threads other than the training's.
    others: dict[str, list[float]] = {name: [] for name, _ in modes}
    for _ in range(args.reps):
        for name, interval in modes:
            wall, other_cpu = with_sampler(interval, lambda: trainer.steps(steps))
            rounds[name].append(wall)
            others[name].append(other_cpu / wall * 100)

    print()
    # The last column is meaningful with one torch thread: then the sampler
    # is the only other thread that works.
    print(f"{'mode':<7} {'median round':>13} {'min':>9} {'max':>9}   sampler thread CPU")
    for name, _ in modes:
        times = rounds[name]
        print(
            f"{name:<7} {statistics.median(times):>11.4f} s "
            f"{min(times):>7.4f} s {max(times):>7.4f} s   "
            f"{statistics.median(others[name]):.3f} % of a core"
        )
    print()
    for name, interval in modes[1:]:
        assert interval is not None
        # Paired: each round against the "off" round of the same repetition.
        slowdowns = [(on / off - 1) * 100 for on, off in zip(rounds[name], rounds["off"])]
        median = statistics.median(slowdowns)
        goal = GOALS_PCT[round(1 / interval, 6)]
        verdict = "PASS" if median < goal else "MISS"
        spread = ", ".join(f"{s:+.1f}" for s in slowdowns)
        print(f"{name:<6} slowdown vs off: median {median:+.2f} % (goal < {goal:g} %) {verdict}")
        print(f"       per rep: {spread}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
