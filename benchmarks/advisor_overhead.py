"""What the speed advisor's per-batch timing costs a training step.

Run: .venv/bin/python benchmarks/advisor_overhead.py [--reps 7] [--steps 200]

A small PyTorch training loop (a conv net on 8 random 64-px images a step,
one thread, fixed seed) runs in rounds of ``--steps`` steps over a
DataLoader of prepared batches, once through the plain loader and once
through the runner's StoppingLoader with the advisor fed at each step as the
batch-end callback does (the time split, the Advisor's window), interleaved
(plain, timed, plain, ...) so drift hits both alike.

Prints the median round time of each and the median paired slowdown with
the goal (< 1 %). A benchmark, not a test: it exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from yolo_lab._runner.ddp import StopAgreement, StoppingLoader  # noqa: E402
from yolo_lab.training.advisor import Advisor  # noqa: E402


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(16, 3),
    )


def _round(
    loader: object, model: torch.nn.Module, opt: torch.optim.Optimizer, timed: bool
) -> float:
    advisor = Advisor({"device": "cpu", "workers": 0}, cpus=1)
    loss_fn = torch.nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    for images, labels in loader:  # type: ignore[attr-defined]
        opt.zero_grad()
        loss_fn(model(images), labels).backward()
        opt.step()
        if timed:
            timing = loader.timing  # type: ignore[attr-defined]
            split = {
                "data_s": timing.data_s,
                "compute_s": time.perf_counter() - timing.started,
                "sync_s": timing.sync_s,
            }
            advisor.add_batch(split)
    if timed:
        advisor.verdicts()
    return time.perf_counter() - t0


def _per_batch_cost(n: int = 200_000) -> float:
    """Seconds the wrapper, the split and the advisor add to one batch."""
    items = list(range(n))
    t0 = time.perf_counter()
    for _ in items:
        pass
    bare = time.perf_counter() - t0
    wrapped = StoppingLoader(items, StopAgreement(lambda: False), lambda: None)
    advisor = Advisor({"device": "cpu", "workers": 0}, cpus=1)
    t0 = time.perf_counter()
    for _ in wrapped:
        timing = wrapped.timing
        assert timing is not None
        advisor.add_batch(
            {
                "data_s": timing.data_s,
                "compute_s": time.perf_counter() - timing.started,
                "sync_s": timing.sync_s,
            }
        )
    return (time.perf_counter() - t0 - bare) / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    batches = [
        (
            torch.rand(8, 3, 64, 64, generator=generator),
            torch.randint(0, 3, (8,), generator=generator),
        )
        for _ in range(args.steps)
    ]
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    _round(batches, model, opt, False)  # warm-up
    plain: list[float] = []
    timed: list[float] = []
    for rep in range(args.reps):
        # ABBA: the order alternates, so a drift in load favours neither.
        for kind in ("plain", "timed") if rep % 2 == 0 else ("timed", "plain"):
            if kind == "plain":
                plain.append(_round(batches, model, opt, False))
            else:
                wrapped = StoppingLoader(batches, StopAgreement(lambda: False), lambda: None)
                timed.append(_round(wrapped, model, opt, True))
    slowdowns = [t / p - 1 for p, t in zip(plain, timed)]
    per_batch = _per_batch_cost()
    median = statistics.median(slowdowns)
    step_ms = statistics.median(plain) / args.steps * 1000
    print(f"torch {torch.__version__}, {args.steps} steps a round, {args.reps} rounds each (ABBA)")
    print(
        f"plain loader:    median round {statistics.median(plain):.3f} s ({step_ms:.2f} ms a step)"
    )
    print(f"timed + advisor: median round {statistics.median(timed):.3f} s")
    print(
        f"slowdown (paired median): {100 * median:+.2f} %  goal < 1 %: "
        f"{'PASS' if median < 0.01 else 'MISS'}"
    )
    print(
        f"the timing alone, without a model: {per_batch * 1e6:.1f} us a batch "
        f"= {100 * per_batch / (step_ms / 1000):.3f} % of this step"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
