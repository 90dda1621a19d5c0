"""The course's speed table for this machine, in one call: ``yolo_lab.benchmark()``.

The course opens with a table: the same epoch on the CPU and on a GPU, then
on a GPU with mixed precision and a bigger batch, and how many times faster
each is. ``benchmark()`` measures that table on the machine the kernel runs
on: one real training epoch per row (the same dataset, model and image size),
images/s as the median of the batches after warm-up, and the speed-up
against the CPU row. Rows: the CPU, each visible GPU, and GPU 0 with AMP and
YOLOv5's autobatch (the batch that fits its memory). Without a GPU the table
has the CPU row and says why there is no GPU row, in the doctor's words.

The table is saved as ``bench.json`` in its own folder (``runs/bench/bench``,
``bench2``, ...), so ``show_bench(folder)`` shows it again after a reload,
and a notebook's output of it is plain HTML (a table and an SVG bar chart)
that renders without a kernel. In a notebook the table fills in as each row
finishes; ``python -m yolo_lab bench`` prints it.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from ._live import LiveDisplay
from .training import Run, TrainError, train
from .training.autotune import measure_batches
from .training.rundir import claim_run_dir

__all__ = ["Bench", "benchmark", "main", "show_bench"]

BENCH_FILE: Final = "bench.json"
# Batches whose speed includes starting the DataLoader and the first kernels.
_WARMUP: Final = 2
_GPU_REASONS: Final = ("torch_missing", "cpu_torch_build", "driver_compat", "no_gpu")


class Bench:
    """A speed table: its rows, what is missing and why, and where it is saved."""

    def __init__(self, data: Mapping[str, Any], path: Path | None = None) -> None:
        self.data = dict(data)
        self.path = path
        self._live = LiveDisplay(self._bundle)  # fills in, in a notebook

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self.data.get("rows") or [])

    @property
    def missing(self) -> list[str]:
        """Why rows the course shows are not in this table (no GPU, ...)."""
        return list(self.data.get("missing") or [])

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> Bench:
        path = Path(folder).expanduser().resolve()
        file = path / BENCH_FILE if path.is_dir() else path
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TrainError(
                "bench_missing",
                f"no speed table in {path}: {exc}",
                "give the folder yolo_lab.benchmark() printed (it holds bench.json)",
            ) from None
        return cls(data, file.parent)

    def save(self) -> None:
        if self.path is None:
            return
        tmp = self.path / f".{BENCH_FILE}.tmp"
        tmp.write_text(json.dumps(self.data, indent=1), encoding="utf-8")
        os.replace(tmp, self.path / BENCH_FILE)

    # -- showing it

    def to_text(self) -> str:
        lines = [f"{'setting':38} {'epoch s':>8} {'images/s':>9} {'vs CPU':>7}"]
        for row in self.rows:
            if row.get("error"):
                lines.append(f"{row['label']:38} failed: {row['error']}")
                continue
            lines.append(
                f"{row['label']:38} {_fmt(row.get('epoch_s'), 1):>8} "
                f"{_fmt(row.get('images_per_s'), 1):>9} {_speedup(row):>7}"
            )
        for pending in self.data.get("pending") or []:
            lines.append(f"{pending:38} (measuring...)")
        lines += [f"not measured: {m}" for m in self.missing]
        if self.path is not None:
            lines.append(f"saved in {self.path / BENCH_FILE}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.to_text())

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("setting", "epoch (s)", "images/s", "vs CPU"))
        body = []
        for row in self.rows:
            label = html.escape(row["label"])
            if row.get("error"):
                error = html.escape(str(row["error"]))
                body.append(f"<tr><td>{label}</td><td colspan='3'>failed: {error}</td></tr>")
                continue
            body.append(
                f"<tr><td>{label}</td><td>{_fmt(row.get('epoch_s'), 1)}</td>"
                f"<td>{_fmt(row.get('images_per_s'), 1)}</td><td>{_speedup(row)}</td></tr>"
            )
        for pending in self.data.get("pending") or []:
            body.append(
                f"<tr class='yl-Bench-pending'><td>{html.escape(pending)}</td>"
                "<td colspan='3'>measuring…</td></tr>"
            )
        notes = "".join(
            f"<p class='yl-Bench-missing'>Not measured: {html.escape(m)}</p>" for m in self.missing
        )
        saved = (
            f"<p class='yl-Bench-saved'>Saved in <code>{html.escape(str(self.path))}</code></p>"
            if self.path is not None
            else ""
        )
        return (
            "<div class='yl-Bench'>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"{_bars(self.rows)}{notes}{saved}</div>"
        )

    def _bundle(self) -> dict[str, Any]:
        return {"text/html": self._repr_html_(), "text/plain": self.to_text()}

    def _ipython_display_(self) -> None:
        from IPython.display import display

        # The cell that filled the table in live returns it too: one table.
        if not self._live.shown_in_this_cell():
            display(self._bundle(), raw=True)

    def _show_live(self) -> None:
        """Display the table now, to fill in row by row (in IPython only)."""
        self._live.show()


def _fmt(value: Any, digits: int) -> str:
    return "–" if not isinstance(value, (int, float)) else f"{value:.{digits}f}"


def _speedup(row: Mapping[str, Any]) -> str:
    value = row.get("speedup")
    return "–" if not isinstance(value, (int, float)) else f"{value:.1f}×"


def _bars(rows: Sequence[Mapping[str, Any]]) -> str:
    """An SVG bar chart of images/s: plain markup, so it shows without a kernel."""
    measured = [r for r in rows if isinstance(r.get("images_per_s"), (int, float))]
    if not measured:
        return ""
    top = max(r["images_per_s"] for r in measured) or 1.0
    bar_h, gap, label_w, width = 18, 6, 260, 560
    height = len(measured) * (bar_h + gap)
    parts = []
    for i, row in enumerate(measured):
        y = i * (bar_h + gap)
        w = max(1.0, (width - label_w - 70) * row["images_per_s"] / top)
        parts.append(
            f"<text x='{label_w - 6}' y='{y + 13}' text-anchor='end'>"
            f"{html.escape(row['label'])}</text>"
            f"<rect x='{label_w}' y='{y}' width='{w:.1f}' height='{bar_h}' "
            "fill='#1976d2'><title>"
            f"{row['images_per_s']:.1f} images/s</title></rect>"
            f"<text x='{label_w + w + 6:.1f}' y='{y + 13}'>{row['images_per_s']:.1f}</text>"
        )
    return (
        f"<svg class='yl-Bench-bars' role='img' aria-label='images per second' "
        f"width='{width}' height='{height}' font-size='12' "
        f"fill='#555'>{''.join(parts)}</svg>"
    )


# -- measuring


def _plan(gpus: int, batch_size: int) -> list[dict[str, Any]]:
    """The table's settings: the CPU, each GPU, then GPU 0 with AMP and autobatch."""
    plan = [{"label": f"CPU, batch {batch_size}", "device": "cpu", "batch_size": batch_size}]
    for i in range(gpus):
        plan.append(
            {
                "label": f"GPU {i} ({_gpu_name(i)}), batch {batch_size}",
                "device": f"cuda:{i}",
                "batch_size": batch_size,
                "amp": False,
            }
        )
    if gpus:
        plan.append(
            {
                "label": "GPU 0, AMP, autobatch",
                "device": "cuda:0",
                "batch_size": "auto",
                "amp": True,
            }
        )
    return plan


def _gpu_name(index: int) -> str:
    import torch

    return str(torch.cuda.get_device_name(index))


def _visible_gpus() -> tuple[int, list[str]]:
    """The GPUs torch sees here, and if none, why (the doctor's findings)."""
    try:
        import torch

        count = int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except Exception:
        count = 0
    if count:
        return count, []
    why: list[str] = []
    try:
        from .environment import doctor

        for finding in doctor(workers=0).findings:
            if finding["id"] in _GPU_REASONS:
                why.append(f"GPU rows: {finding['title']}. Fix: {finding['fix']}")
    except Exception as exc:  # the table still has its CPU row
        why.append(f"GPU rows: no GPU visible to PyTorch (the doctor failed: {exc})")
    return 0, why or ["GPU rows: no GPU visible to PyTorch in this kernel"]


def _measure(run: Run) -> dict[str, Any]:
    """Epoch time and images/s of a finished one-epoch run, from its events."""
    batches = run.events("batch")
    speed = measure_batches(batches, _WARMUP)["imgs_per_s"]
    if speed is None:  # a tiny epoch: every batch it has
        speed = measure_batches(batches, 0)["imgs_per_s"]
    epochs = run.events("epoch")
    epoch_s = epochs[-1].get("epoch_time_s") if epochs else None
    if epoch_s is None and len(batches) > 1:
        epoch_s = batches[-1]["t"] - batches[0]["t"]
    images = sum(int(b.get("images") or 0) for b in batches) or None
    autobatch = run.events("autobatch")
    return {
        "epoch_s": epoch_s,
        "images_per_s": speed,
        "batches": len(batches),
        "images": images,
        "batch_size": autobatch[-1].get("batch_size") if autobatch else None,
        "run": str(run.dir),
    }


def benchmark(
    data: str | os.PathLike[str] | None = None,
    *,
    batch_size: int = 16,
    imgsz: int = 128,
    workers: int = 2,
    project: str | os.PathLike[str] = "runs/bench",
    gpus: int | None = None,
    timeout_s: float = 1800.0,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> Bench:
    """Measure the course's speed table on this machine; return it (and show it fill in).

    ``data``: a dataset yaml; None generates the course's shapes set in
    ``project``. Each row trains one epoch of it (no validation) with
    ``batch_size``, ``imgsz`` and ``workers``; ``gpus`` limits the GPU rows
    (None: every visible GPU). ``on_row`` is called with each row as it
    finishes. A row that fails is kept with its error; the others still run.
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise TrainError(
            "bad_batch_size",
            f"batch_size must be a whole number of images, at least 1, not {batch_size!r}",
            "e.g. benchmark(batch_size=16)",
        )
    if timeout_s <= 0:
        raise TrainError(
            "bad_timeout", f"timeout_s must be positive, not {timeout_s!r}", "e.g. timeout_s=1800"
        )
    project_dir = Path(project).expanduser().resolve()
    project_dir.mkdir(parents=True, exist_ok=True)
    if data is None:
        from .shapes import make_shapes_dataset

        data = make_shapes_dataset(project_dir / "shapes", train=64, val=8, image_size=imgsz)
    visible, missing = _visible_gpus()
    count = visible if gpus is None else max(0, min(int(gpus), visible))
    plan = _plan(count, batch_size)
    folder = claim_run_dir(project_dir, "bench")
    bench = Bench(
        {
            "v": 1,
            "started": time.time(),
            "data": str(data),
            "imgsz": imgsz,
            "workers": workers,
            "rows": [],
            "pending": [p["label"] for p in plan],
            "missing": missing,
        },
        folder,
    )
    bench.save()
    bench._show_live()
    for setting in plan:
        row = dict(setting)
        try:
            run = train(
                data,
                device=setting["device"],
                batch_size=setting["batch_size"],
                amp=setting.get("amp"),
                epochs=1,
                imgsz=imgsz,
                workers=workers,
                project=folder,
                name=setting["device"].replace(":", ""),
                noval=True,
                noplots=True,
            )
            status = run.wait(timeout=timeout_s)
            if status != "finished":
                run.stop(wait=True, timeout=60)
                row["error"] = run.info.get("message") or f"the run ended {status}"
            else:
                row.update(_measure(run))
        except TrainError as exc:
            row["error"] = f"{exc.message} ({exc.fix})"
        _add_row(bench, row)
        if on_row is not None:
            on_row(row)
    bench.data["pending"] = []
    bench.data["ended"] = time.time()
    bench.save()
    bench._show_live()
    return bench


def _add_row(bench: Bench, row: dict[str, Any]) -> None:
    rows = bench.rows
    cpu = next((r for r in rows if r["device"] == "cpu" and r.get("epoch_s")), None)
    if row["device"] == "cpu" and row.get("epoch_s"):
        cpu = row
    if cpu is not None and row.get("epoch_s"):
        row["speedup"] = cpu["epoch_s"] / row["epoch_s"]
    bench.data["rows"] = [*rows, row]
    bench.data["pending"] = [p for p in bench.data.get("pending") or [] if p != row["label"]]
    bench.save()
    bench._show_live()


def show_bench(folder: str | os.PathLike[str]) -> Bench:
    """A saved speed table (the folder ``benchmark()`` printed), shown again."""
    return Bench.load(folder)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m yolo_lab bench",
        description="Train one epoch on the CPU and on each GPU here; print the speed table.",
    )
    parser.add_argument("--data", help="a dataset yaml (default: the course's shapes set)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--imgsz", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--project", default="runs/bench")
    parser.add_argument("--gpus", type=int, default=None, help="at most this many GPU rows")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args(argv)

    def progress(row: Mapping[str, Any]) -> None:
        if not args.json:
            print(f"  measured: {row['label']}", file=sys.stderr, flush=True)

    try:
        bench = benchmark(
            args.data,
            batch_size=args.batch_size,
            imgsz=args.imgsz,
            workers=args.workers,
            project=args.project,
            gpus=args.gpus,
            on_row=progress,
        )
    except TrainError as exc:
        print(f"yolo-lab bench: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(bench.data, indent=1) if args.json else bench.to_text())
    return 0 if all(not r.get("error") for r in bench.rows) else 1
