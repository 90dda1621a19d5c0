"""yolo_lab.compare: runs side by side, from run folders written here.

The folders are written by the test (a spec, a status and an events file
in the runner's format), so the figures are known: each test checks
summarize()'s medians, the table and the plots against them. The AMP check
is the runner's own function, run here on a small convolutional model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from yolo_lab import compare, training
from yolo_lab.training.rundir import EVENTS_FILE, SPEC_FILE, STATUS_FILE


def _batch(
    ni: int,
    batches: int,
    imgs_per_s: float,
    data_s: float,
    compute_s: float,
    sync_s: float | None = None,
    gpu_mem: float | None = None,
) -> dict[str, Any]:
    return {
        "t": 1000.0 + ni,
        "kind": "batch",
        "epoch": ni // batches,
        "batch": ni % batches,
        "batches": batches,
        "ni": ni,
        "box": 0.1,
        "obj": 0.02,
        "cls": 0.03,
        "images": 8,
        "ranks": 1,
        "imgs_per_s": imgs_per_s,
        "gpu_mem_gib": gpu_mem,
        "data_s": data_s,
        "compute_s": compute_s,
        "sync_s": sync_s,
    }


def _write_run(
    folder: Path,
    batches: list[dict[str, Any]],
    epochs: Sequence[dict[str, Any]] = (),
    params: dict[str, Any] | None = None,
    amp: dict[str, Any] | None = None,
) -> Path:
    folder.mkdir(parents=True)
    params = {
        "device": "cpu",
        "nproc": 1,
        "batch_size": 8,
        "workers": 0,
        "cache": None,
        "imgsz": 64,
        **(params or {}),
    }
    (folder / SPEC_FILE).write_text(json.dumps({"v": 2, "params": params}), encoding="utf-8")
    (folder / STATUS_FILE).write_text(json.dumps({"status": "finished"}), encoding="utf-8")
    events = [{"t": 999.0, "kind": "start", "params": params}]
    if amp is not None:
        events.append({"t": 999.5, "kind": "amp", **amp})
    events += batches + list(epochs)
    lines = "".join(json.dumps(e) + "\n" for e in events)
    (folder / EVENTS_FILE).write_text(lines, encoding="utf-8")
    return folder


def _epoch(epoch: int, map50: float) -> dict[str, Any]:
    return {"t": 2000.0 + epoch, "kind": "epoch", "epoch": epoch, "map50": map50, "map": map50 / 2}


@pytest.fixture
def cpu_run(tmp_path: Path) -> Path:
    # Two slow warm-up batches, then 10, 20, 30 images/s; data 0.1 s of each 0.4 s step.
    batches = [_batch(0, 5, 1.0, 2.0, 3.0), _batch(1, 5, 2.0, 1.0, 1.0)]
    batches += [_batch(2 + i, 5, v, 0.1, 0.3) for i, v in enumerate((10.0, 20.0, 30.0))]
    return _write_run(
        tmp_path / "cpu",
        batches,
        [_epoch(0, 0.2), _epoch(1, 0.5)],
        amp={"enabled": False, "requested": None, "reason": "YOLOv5 uses AMP on CUDA devices only"},
    )


@pytest.fixture
def ddp_run(tmp_path: Path) -> Path:
    batches = [
        _batch(i, 4, 40.0 + i, 0.01, 0.2, sync_s=0.002 * (i + 1), gpu_mem=1.0 + i) for i in range(6)
    ]
    params = {"device": ["cuda:0", "cuda:1"], "batch_size": 64, "cache": "ram"}
    amp = {"enabled": True, "requested": None, "reason": "offline check passed"}
    return _write_run(tmp_path / "ddp", batches, [_epoch(0, 0.7)], params, amp)


def test_summarize_leaves_the_warm_up_out_of_the_medians(cpu_run: Path) -> None:
    s = compare.summarize(cpu_run)
    assert s["name"] == "cpu" and s["status"] == "finished"
    assert s["batches"] == 5 and s["measured_batches"] == 3
    assert s["imgs_per_s"] == 20.0
    assert s["data_s"] == pytest.approx(0.1) and s["compute_s"] == pytest.approx(0.3)
    assert s["data_ms"] == pytest.approx(100.0) and s["compute_ms"] == pytest.approx(300.0)
    assert s["data_share"] == pytest.approx(0.25)
    assert s["sync_s"] is None and s["sync_ms"] is None and s["gpu_mem_gib"] is None
    assert s["map50"] == 0.5 and s["map"] == 0.25 and s["epochs"] == 2
    assert (s["device"], s["nproc"], s["batch_size"], s["workers"], s["cache"]) == (
        "cpu",
        1,
        8,
        0,
        "off",
    )
    assert s["amp"] == "off" and "CUDA" in s["amp_reason"]
    # A Run and its folder's path read the same.
    assert compare.summarize(training.Run(cpu_run)) == s


def test_summarize_warmup_counts_every_batch_of_a_short_run(cpu_run: Path) -> None:
    assert compare.summarize(cpu_run, warmup=0)["imgs_per_s"] == 10.0
    assert compare.summarize(cpu_run, warmup=9)["measured_batches"] == 5
    with pytest.raises(ValueError, match="warmup"):
        compare.summarize(cpu_run, warmup=-1)


def test_summarize_reads_a_ddp_run_on_gpus(ddp_run: Path) -> None:
    s = compare.summarize(ddp_run)
    assert s["device"] == "cuda:0,cuda:1" and s["cache"] == "ram" and s["amp"] == "on"
    assert s["sync_ms"] == pytest.approx(2.0 * 4.5)  # median of 6, 8, 10, 12 ms
    assert s["gpu_mem_gib"] == 6.0  # the largest, warm-up batches included
    assert s["data_share"] == pytest.approx(0.01 / (0.21 + 0.009), rel=0.05)


def test_summarize_of_a_run_without_events(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    s = compare.summarize(folder)
    assert s["batches"] == 0 and s["imgs_per_s"] is None and s["map50"] is None
    assert s["amp"] is None and s["data_share"] is None


def test_table_aligns_and_drops_empty_columns(cpu_run: Path, ddp_run: Path) -> None:
    text = compare.table([cpu_run, compare.summarize(ddp_run)])
    lines = text.splitlines()
    assert lines[0].split() == [
        "run",
        "device",
        "procs",
        "batch",
        "workers",
        "cache",
        "AMP",
        "images/s",
        "data",
        "ms",
        "compute",
        "ms",
        "sync",
        "ms",
        "GPU",
        "GiB",
        "mAP@0.5",
    ]
    assert set(lines[1]) <= {"-", " "}
    cpu, ddp = lines[2].split(), lines[3].split()
    assert cpu[:2] == ["cpu", "cpu"] and cpu[7:] == ["20.0", "100.0", "300.0", "-", "-", "0.500"]
    assert ddp[0] == "ddp" and ddp[1] == "cuda:0,cuda:1" and ddp[-1] == "0.700"
    assert len({len(line) for line in lines[:2]}) == 1
    # Without DDP or GPU runs, their columns are left out; a missing value is a dash.
    only_cpu = compare.table([cpu_run])
    assert "sync ms" not in only_cpu and "GPU GiB" not in only_cpu
    custom = compare.table(
        [cpu_run], columns=[("name", "run", "{}"), ("map", "mAP", "{:.2f}"), ("nothing", "x", "{}")]
    )
    assert custom.splitlines()[2].split() == ["cpu", "0.25"]


def _lines(ax: Any) -> list[tuple[list[float], list[float]]]:
    return [(list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()]


def test_plot_runs_draws_losses_map_and_speed_per_run(cpu_run: Path, ddp_run: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = compare.plot_runs([cpu_run, ddp_run], labels=["A", "B"])
    try:
        loss_ax, map_ax, speed_ax = fig.axes
        assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ["A", "B"]
        (loss_x, loss_y), _ = _lines(loss_ax)
        assert loss_x == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])  # epochs done
        assert loss_y == pytest.approx([0.15] * 5)  # box + obj + cls
        (map_x, map_y), (ddp_map_x, _) = _lines(map_ax)
        assert map_x == [1.0, 2.0] and map_y == [0.2, 0.5] and ddp_map_x == [1.0]
        (speed_x, speed_y), (_, ddp_speed) = _lines(speed_ax)
        assert speed_y == [10.0, 20.0, 30.0] and speed_x == pytest.approx([0.6, 0.8, 1.0])
        assert ddp_speed == [42.0, 43.0, 44.0, 45.0]
    finally:
        plt.close(fig)

    fig = compare.plot_runs([cpu_run], x="time", warmup=0)
    try:
        ((loss_x, _),) = _lines(fig.axes[0])
        assert loss_x == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0])  # seconds since the start
        assert fig.axes[2].get_xlabel().startswith("seconds")
    finally:
        plt.close(fig)

    with pytest.raises(ValueError, match="x must be"):
        compare.plot_runs([cpu_run], x="batches")
    with pytest.raises(ValueError, match="one label per run"):
        compare.plot_runs([cpu_run, ddp_run], labels=["only one"])


def test_plot_time_split_stacks_the_medians(cpu_run: Path, ddp_run: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = compare.plot_time_split([cpu_run, ddp_run])
    try:
        (ax,) = fig.axes
        # data, compute and sync of both runs; the CPU run's sync is an empty bar.
        widths = sorted(round(p.get_width(), 3) for p in ax.patches)
        assert widths == [0.0, 9.0, 10.0, 100.0, 200.0, 300.0]
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend == ["waiting for data", "computing", "DDP sync"]
        texts = [t.get_text() for t in ax.texts]
        assert texts[0].strip() == "20.0 images/s, 25% waiting"
        rows = dict(zip((t.get_text() for t in ax.get_yticklabels()), ax.get_yticks()))
        assert rows["cpu"] > rows["ddp"]  # the first run on top
    finally:
        plt.close(fig)
    fig = compare.plot_time_split([cpu_run])
    try:
        legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert legend == ["waiting for data", "computing"]  # no DDP: no sync layer
    finally:
        plt.close(fig)


def test_check_amp_is_the_runners_offline_check() -> None:
    torch = pytest.importorskip("torch")
    from yolo_lab._runner.amp import check_amp_offline

    assert compare.check_amp is check_amp_offline
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 3))
    verdict = compare.check_amp(model, dtype=torch.bfloat16, size=32, device="cpu")
    assert verdict.ok, verdict.reason
    assert verdict.box_diff is None and 0 <= verdict.score_diff <= compare.SCORE_LIMIT
    with torch.no_grad():
        model[0].weight.mul_(1e6)  # beyond float16's 65504
    verdict = compare.check_amp(model, dtype=torch.float16, size=32, device="cpu")
    assert not verdict.ok and "non-finite" in verdict.reason
