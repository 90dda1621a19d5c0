"""How fast yolov5n learns the synthetic shapes on this machine's CPU.

Trains yolov5n from scratch on a generated shapes set through
``yolo_lab.train`` (the same subprocess runner the notebook uses) for a
wall-clock budget, then prints each epoch's elapsed time, train loss and
mAP, and the first-versus-best comparison.

    python benchmarks/shapes_learning.py [--budget-s 180] [--imgsz 128]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from yolo_lab import shapes, training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget-s", type=float, default=180.0)
    parser.add_argument("--imgsz", type=int, default=128)
    parser.add_argument("--train", type=int, default=128)
    parser.add_argument("--val", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = shapes.make_shapes_dataset(
            Path(tmp) / "shapes", train=args.train, val=args.val, image_size=args.imgsz
        )
        t0 = time.time()
        run = training.train(
            data,
            device=args.device,
            batch_size=args.batch_size,
            epochs=300,
            imgsz=args.imgsz,
            workers=2,
            project=Path(tmp) / "runs",
            name="bench",
        )
        try:
            run.wait(timeout=args.budget_s)
        except TimeoutError:
            run.stop(wait=True)
        epochs = run.events("epoch")
        print(
            f"yolov5n, {args.train} train / {args.val} val images at {args.imgsz} px, "
            f"batch {args.batch_size}, {args.device}, budget {args.budget_s:.0f} s"
        )
        print(
            f"{'epoch':>5} {'elapsed s':>9} {'box+obj+cls':>11} {'mAP@0.5':>8} {'mAP@.5:.95':>10}"
        )
        for e in epochs:
            loss = e["box"] + e["obj"] + e["cls"]
            print(
                f"{e['epoch']:>5} {e['t'] - t0:>9.1f} {loss:>11.4f} "
                f"{e['map50']:>8.3f} {e['map']:>10.3f}"
            )
        if len(epochs) >= 2:
            first, last = epochs[0], epochs[-1]
            best = max(e["map50"] for e in epochs)
            print(
                f"loss {first['box'] + first['obj'] + first['cls']:.4f} -> "
                f"{last['box'] + last['obj'] + last['cls']:.4f}; mAP@0.5 {first['map50']:.3f} -> "
                f"best {best:.3f} within {last['t'] - t0:.0f} s ({run.status})"
            )


if __name__ == "__main__":
    main()
