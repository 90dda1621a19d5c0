"""Training speed of YOLOv5 through yolo-lab's runner: models x batch sizes x AMP.

Each combination is a short real run (one epoch of a generated shapes set,
``--steps`` batches at most: the run is stopped once it has trained that
many, and shows as "stopped") on one device, side by side in one call, and
the table shows what the run itself reported: images per second (median of
the batches after the first, which pays for warm-up), peak GPU memory and
the effective AMP state.

    python benchmarks/train_speed.py --device cuda:0 --models yolov5n,yolov5s \
        --batches 16,64 --amp on,off --steps 50
    python benchmarks/train_speed.py --device cpu --batches 8,16 --amp off --steps 10
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from yolo_lab import shapes, training


def wait_steps(run: training.Run, steps: int, timeout_s: float) -> str:
    """Wait for the run; with ``steps``, stop it once it has trained that many batches.

    The stop lands after the batch under way, so one more may be recorded.
    """
    deadline = time.monotonic() + timeout_s
    while steps and run.running and time.monotonic() < deadline:
        if len(run.events("batch")) >= steps:
            run.stop()
            break
        time.sleep(0.2)
    return run.wait(timeout=max(1.0, deadline - time.monotonic()))


def run_one(
    data: Path, project: Path, model: str, batch: int, amp: bool, args: argparse.Namespace
) -> dict:
    run = training.train(
        data,
        model=f"{model}.yaml",
        device=args.device,
        batch_size=batch,
        amp=amp if args.device != "cpu" else False,
        epochs=1,
        imgsz=args.imgsz,
        workers=args.workers,
        project=project,
        name=f"{model}-b{batch}-amp{int(amp)}",
        noval=True,
        noplots=True,
    )
    status = wait_steps(run, args.steps, args.timeout_s)
    batches = run.events("batch")[: args.steps or None]
    rates = [b["imgs_per_s"] for b in batches[1:] if b["imgs_per_s"]]
    mem = [b["gpu_mem_gib"] for b in batches if b["gpu_mem_gib"] is not None]
    amp_events = run.events("amp")
    error = run.events("error")
    return {
        "model": model,
        "batch": batch,
        "amp asked": "on" if amp else "off",
        "amp effective": (("on" if amp_events[-1]["enabled"] else "off") if amp_events else "?"),
        "img/s": statistics.median(rates) if rates else None,
        "GPU GiB": max(mem) if mem else None,
        "status": status if not error else f"{status}: {error[-1]['code']}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--models", default="yolov5n,yolov5s")
    parser.add_argument("--batches", default="16,64")
    parser.add_argument("--amp", default="on,off")
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--steps", type=int, default=0, help="batches per run at most (0: the whole epoch)"
    )
    parser.add_argument("--timeout-s", type=float, default=300)
    args = parser.parse_args()
    amps = [a.strip() == "on" for a in args.amp.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        data = shapes.make_shapes_dataset(
            Path(tmp) / "shapes", train=args.images, val=16, image_size=args.imgsz
        )
        rows = [
            run_one(data, Path(tmp) / "runs", model.strip(), int(batch), amp, args)
            for model in args.models.split(",")
            for batch in args.batches.split(",")
            for amp in amps
        ]
    keys = list(rows[0])
    limit = f", {args.steps} batches at most" if args.steps else ""
    print(f"device {args.device}, {args.images} images at {args.imgsz} px, one epoch each{limit}")
    print(" | ".join(f"{k:>13}" for k in keys))
    for row in rows:
        cells = []
        for k in keys:
            v = row[k]
            cells.append(f"{v:>13.1f}" if isinstance(v, float) else f"{str(v):>13}")
        print(" | ".join(cells))


if __name__ == "__main__":
    main()
