"""Autotune against the full grid it searches: as fast a winner, in a fraction of the time?

Run: .venv/bin/python benchmarks/autotune_vs_grid.py [--batches 4 8 16 32] [--workers 0 1 2]

On a generated shapes set (``--train`` images of ``--source`` px, trained
at ``--imgsz``) on the CPU, the grid probes every combination of
``--batches`` x ``--workers`` x cache (none, ram); then ``yolo_lab.autotune``
searches the same space from train()'s defaults (batch 16, workers 2, no
cache) with a budget large enough to end by itself. Unless narrowed, the
space is the one autotune searches when told nothing on this machine
(``autotune.api.default_space``: batch 1 to 1024, workers 0 to the CPUs, cache none
or RAM), so "the full grid" is the grid a user would otherwise run; the
training set holds the largest batch times ``--probe-batches`` images, so
no probe reaches an epoch's end. Every probe of both is the same real
YOLOv5 run through the runner (``probe_batches`` batches, or fewer once
those after the warm-up took ``--probe-s`` seconds, as autotune's own; the
median images/s after the warm-up).

The two searches run one after the other, so a change in the machine's load
between them shows in their figures: when their winners differ, both are
measured again side by side (ABBA, ``--repeats`` each) and that ratio is
printed too.

Prints the grid's best and autotune's winner (images/s and settings),
winner / grid best (goal >= 0.95), autotune time / grid time (goal < 0.2),
the probes' ratio (which no load changes), the same two ratios free of the
drift between the searches (autotune's probes priced at the grid's time for
the same settings, its winner at the grid's figure) and the load average
before and after: on a machine shared with other work, a probe's figure can change
tenfold with it. A benchmark, not a test: it exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yolo_lab import shapes  # noqa: E402
from yolo_lab.training.autotune import Autotune, ProbeSetup, autotune, run_probe  # noqa: E402
from yolo_lab.training.autotune.api import _cpus, default_space  # noqa: E402
from yolo_lab.training.autotune.probe import PROBE_SECONDS  # noqa: E402
from yolo_lab.training.checks import find_yolov5  # noqa: E402

FAR: float = float("inf")


def _setup(args: argparse.Namespace, data: Path, folder: Path) -> ProbeSetup:
    """The probes' shared settings, as autotune() would make them for the CPU."""
    folder.mkdir(parents=True, exist_ok=True)
    return ProbeSetup(
        data=str(data),
        device="cpu",
        devices=(),
        model="yolov5n.yaml",
        weights="",
        imgsz=args.imgsz,
        folder=folder,
        yolov5_dir=find_yolov5(None),
        seed=0,
        options={},
        probe_batches=args.probe_batches,
        warmup_batches=args.warmup,
        probe_s=args.probe_s,
    )


def _space(args: argparse.Namespace) -> dict[str, list[Any]]:
    return {
        "batch_size": args.batches,
        "workers": args.workers,
        "cache": [None, "ram"],
        "amp": [False],
    }


def _describe(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={settings[k]!r}" for k in ("batch_size", "workers", "cache"))


def _probe(setup: ProbeSetup, settings: dict[str, Any], name: str) -> dict[str, Any]:
    t0 = time.monotonic()
    row = run_probe(setup, dict(settings), name, time.monotonic() + 3600)
    return {**row, "settings": dict(settings), "seconds": time.monotonic() - t0}


def run_grid(args: argparse.Namespace, data: Path, root: Path) -> tuple[list[dict], float]:
    """Every combination once, in a fixed order; the rows and the wall time."""
    setup = _setup(args, data, root / "grid")
    space = _space(args)
    rows = []
    t0 = time.monotonic()
    combos = list(itertools.product(space["batch_size"], space["workers"], space["cache"]))
    for i, (batch, workers, cache) in enumerate(combos, 1):
        settings = {"batch_size": batch, "workers": workers, "cache": cache, "amp": False}
        row = _probe(setup, settings, f"grid-{i}")
        rows.append(row)
        figure = f"{row['imgs_per_s']:.1f}" if row.get("imgs_per_s") else row.get("error")
        print(
            f"  grid {i:2d}/{len(combos)}  {_describe(settings):45s} {figure} images/s"
            f"  ({row['seconds']:.0f} s)",
            flush=True,
        )
    return rows, time.monotonic() - t0


def run_autotune(args: argparse.Namespace, data: Path, root: Path) -> Autotune:
    def shown(row: dict[str, Any]) -> None:
        figure = f"{row['imgs_per_s']:.1f}" if row.get("imgs_per_s") else row.get("error")
        print(
            f"  autotune {row['probe']:2d}  {_describe(row['settings']):45s} {figure} images/s"
            f"  ({row['seconds']:.0f} s)",
            flush=True,
        )

    return autotune(
        data,
        device="cpu",
        budget_s=args.budget,
        imgsz=args.imgsz,
        space=_space(args),
        probe_batches=args.probe_batches,
        warmup_batches=args.warmup,
        probe_s=args.probe_s,
        project=root / "autotune",
        on_row=shown,
    )


def side_by_side(
    args: argparse.Namespace, data: Path, root: Path, a: dict[str, Any], b: dict[str, Any]
) -> tuple[float, float]:
    """Both settings measured again, interleaved (ABBA...), so load drift hits both."""
    setup = _setup(args, data, root / "again")
    speeds: dict[str, list[float]] = {"a": [], "b": []}
    for rep in range(args.repeats):
        order = ("a", "b") if rep % 2 == 0 else ("b", "a")
        for which in order:
            settings = a if which == "a" else b
            row = _probe(setup, settings, f"{which}-{rep}")
            if row.get("imgs_per_s"):
                speeds[which].append(row["imgs_per_s"])
    median_a = statistics.median(speeds["a"]) if speeds["a"] else 0.0
    median_b = statistics.median(speeds["b"]) if speeds["b"] else 0.0
    return median_a, median_b


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Small images, so 2 CPUs can probe the whole space (a probe there takes
    # 10 to 20 s, most of it Python, torch and YOLOv5 starting, and more at
    # the largest batches; a minute when other work shares the cores).
    full = default_space(gpu=False)
    parser.add_argument(
        "--train",
        type=int,
        default=None,
        help="training images (default: enough that no "
        "probe reaches an epoch's end and its validation)",
    )
    parser.add_argument("--source", type=int, default=128, help="their size in px")
    parser.add_argument("--imgsz", type=int, default=64)
    parser.add_argument("--batches", type=int, nargs="+", default=full["batch_size"])
    parser.add_argument("--workers", type=int, nargs="+", default=full["workers"])
    parser.add_argument("--probe-batches", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--probe-s",
        type=float,
        default=PROBE_SECONDS,
        help="a probe also ends once its measured batches took this long (0: never)",
    )
    parser.add_argument("--budget", type=float, default=900.0, help="autotune's, in s")
    parser.add_argument("--repeats", type=int, default=2, help="side-by-side measurements")
    parser.add_argument("--out", type=Path, default=None, help="folder (default: a temp one)")
    args = parser.parse_args()
    if args.train is None:
        args.train = max(args.batches) * args.probe_batches
    root = args.out or Path(tempfile.mkdtemp(prefix="autotune-vs-grid-"))
    data = shapes.make_shapes_dataset(
        root / "shapes", train=args.train, val=4, image_size=args.source, seed=0
    )
    grid_size = len(args.batches) * len(args.workers) * 2
    load_before = os.getloadavg()
    print(
        f"autotune vs grid on the CPU ({_cpus()} CPUs): {args.train} shapes images of "
        f"{args.source} px at imgsz {args.imgsz}; probes of {args.probe_batches} batches "
        f"({args.warmup} warm-up, or fewer after {args.probe_s:g} s measured); "
        f"grid {len(args.batches)} batch sizes x "
        f"{len(args.workers)} workers x 2 caches = {grid_size} probes; folder {root}",
        flush=True,
    )
    grid_rows, grid_s = run_grid(args, data, root)
    result = run_autotune(args, data, root)

    measured = [r for r in grid_rows if r.get("imgs_per_s")]
    best = max(measured, key=lambda r: r["imgs_per_s"])
    winner = result.winner_row
    print(
        f"grid: {len(grid_rows)} probes in {grid_s:.0f} s; best {best['imgs_per_s']:.1f} "
        f"images/s at {_describe(best['settings'])}"
    )
    if winner is None:
        print(f"autotune: no probe measured ({result.ended})")
        return 0
    print(
        f"autotune: {len(result.rows)} probes in {result.seconds:.0f} s ({result.ended}); "
        f"winner {winner['imgs_per_s']:.1f} images/s at {_describe(winner['settings'])}; "
        f"{result.speedup:.2f}x its defaults"
    )
    ratio = winner["imgs_per_s"] / best["imgs_per_s"]
    print(
        f"winner / grid best (each search's own figure): {ratio:.3f}  goal >= 0.95: "
        f"{_verdict(ratio >= 0.95)}"
    )
    if winner["settings"] != best["settings"]:
        a, b = side_by_side(args, data, root, winner["settings"], best["settings"])
        again = a / b if b else 0.0
        print(
            f"measured again side by side ({args.repeats} each, interleaved): winner {a:.1f}, "
            f"grid best {b:.1f} images/s: ratio {again:.3f}  goal >= 0.95: "
            f"{_verdict(again >= 0.95)}"
        )
    else:
        print("autotune's winner is the grid's best: the same settings")
    time_ratio = result.seconds / grid_s
    print(
        f"autotune time / grid time: {result.seconds:.0f} s / {grid_s:.0f} s = {time_ratio:.3f}"
        f"  goal < 0.2: {_verdict(time_ratio < 0.2)}"
    )
    print(
        f"autotune probes / grid probes: {len(result.rows)} / {len(grid_rows)} = "
        f"{len(result.rows) / len(grid_rows):.3f} (the same, whatever the load)"
    )
    # Free of the machine's drift between the two searches: autotune's
    # probes priced at the grid's own time for the same settings, and its
    # winner at the grid's own figure (every point of it was measured there).
    by_settings = {_describe(r["settings"]): r for r in grid_rows}
    priced = sum(by_settings[_describe(r["settings"])]["seconds"] for r in result.rows)
    print(
        f"autotune's probes at the grid's times: {priced:.0f} s / {grid_s:.0f} s = "
        f"{priced / grid_s:.3f}  goal < 0.2: {_verdict(priced / grid_s < 0.2)}"
    )
    at_grid = by_settings[_describe(winner["settings"])].get("imgs_per_s") or 0.0
    print(
        f"autotune's winner at the grid's figure: {at_grid:.1f} / {best['imgs_per_s']:.1f} = "
        f"{at_grid / best['imgs_per_s']:.3f}  goal >= 0.95: "
        f"{_verdict(at_grid / best['imgs_per_s'] >= 0.95)}"
    )
    print(
        "load average (1, 5, 15 min) before: "
        + ", ".join(f"{x:.1f}" for x in load_before)
        + "; after: "
        + ", ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
