"""The course's speed table: real one-epoch runs on this machine's CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from yolo_lab import bench, shapes
from yolo_lab.training import TrainError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.yolov5
def test_the_table_on_a_cpu_machine_has_the_cpu_row_and_says_why_no_gpu(tmp_path: Path) -> None:
    data = shapes.make_shapes_dataset(tmp_path / "shapes", train=16, val=4, image_size=64, seed=3)
    seen: list[str] = []
    table = bench.benchmark(
        data,
        batch_size=8,
        imgsz=64,
        workers=0,
        project=tmp_path / "bench",
        on_row=lambda row: seen.append(row["label"]),
    )
    assert seen == ["CPU, batch 8"]
    [cpu] = table.rows
    assert "error" not in cpu, cpu
    assert cpu["device"] == "cpu" and cpu["batches"] == 2 and cpu["images"] == 16
    assert cpu["epoch_s"] > 0 and cpu["images_per_s"] > 0
    assert cpu["speedup"] == pytest.approx(1.0)
    # No GPU here: the table says so, in the doctor's words, with a fix.
    assert table.missing and all(m.startswith("GPU rows: ") for m in table.missing)
    assert "Fix:" in table.missing[0]
    # Saved next to its runs: shown again after a reload, the same table.
    assert table.path is not None and (table.path / "bench.json").is_file()
    again = bench.show_bench(table.path)
    assert again.rows == table.rows and again.data["pending"] == []
    page = again._repr_html_()
    assert "<table>" in page and "<svg" in page and "CPU, batch 8" in page
    assert "Not measured: GPU rows" in page
    assert "CPU, batch 8" in again.to_text()


def test_with_gpus_the_plan_adds_each_gpu_and_amp_with_autobatch_fabricated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Fabricated: two GPUs' names (this machine has none to ask).
    monkeypatch.setattr(bench, "_gpu_name", lambda i: f"GPU-{i}")
    plan = bench._plan(2, 32)
    assert [(p["device"], p["batch_size"], p.get("amp")) for p in plan] == [
        ("cpu", 32, None),
        ("cuda:0", 32, False),
        ("cuda:1", 32, False),
        ("cuda:0", "auto", True),
    ]


def test_speedups_are_against_the_cpu_row() -> None:
    table = bench.Bench({"rows": []})
    bench._add_row(table, {"label": "CPU", "device": "cpu", "epoch_s": 40.0})
    bench._add_row(table, {"label": "GPU", "device": "cuda:0", "epoch_s": 2.5})
    bench._add_row(table, {"label": "broken", "device": "cuda:0", "error": "out of memory"})
    assert [r.get("speedup") for r in table.rows] == [1.0, 16.0, None]
    assert "failed: out of memory" in table.to_text()


def test_bad_input_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="batch_size"):
        bench.benchmark(batch_size=0, project=tmp_path)
    with pytest.raises(TrainError, match="no speed table"):
        bench.show_bench(tmp_path / "nowhere")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        [sys.executable, "-m", "yolo_lab", "bench", "--batch-size", "0", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "batch_size must be" in out.stderr
    assert out.stdout == ""
    assert not (tmp_path / "runs").exists()
