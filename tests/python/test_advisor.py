"""The speed advisor: each batch's time split, and verdicts with their fix.

The rules are checked on given figures; the data-bound and CPU-bound cases
are then planted in real YOLOv5 runs on this CPU and the run's own
``advice`` event must name them. GPU utilization is fabricated (named so):
this machine has no GPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from yolo_lab import protocol, shapes, training
from yolo_lab.training.advisor import DATA_BOUND_SHARE, Advisor

CPU_PARAMS = {"device": "cpu", "workers": 0, "cache": None, "imgsz": 64, "amp": False}


def _fed(advisor: Advisor, data_s: float, compute_s: float, n: int = 12) -> Advisor:
    for _ in range(n):
        advisor.add_batch({"data_s": data_s, "compute_s": compute_s, "sync_s": None})
    return advisor


def _codes(advisor: Advisor) -> list[str]:
    return [v["code"] for v in advisor.verdicts()]


@pytest.fixture(scope="module")
def verdict_validator() -> jsonschema.Draft7Validator:
    schema = protocol.load_schema()
    return jsonschema.Draft7Validator({**schema, "$ref": "#/definitions/run_verdict"})


def test_nothing_is_judged_before_enough_batches() -> None:
    advisor = _fed(Advisor(CPU_PARAMS, cpus=8), 0.9, 0.1, n=6)
    assert advisor.data_share is None and advisor.verdicts() == []
    advisor.add_batch({"data_s": None, "compute_s": None, "sync_s": None})
    assert advisor.verdicts() == []


def test_data_bound_fixes_in_order_workers_cache_then_size(
    verdict_validator: jsonschema.Draft7Validator,
) -> None:
    few = _fed(Advisor(CPU_PARAMS, cpus=4), 0.6, 0.4)
    [data] = [v for v in few.verdicts() if v["code"] == "data_bound"]
    verdict_validator.validate(data)
    assert "waited for data 60% of each step" in data["saw"] and "workers=0" in data["saw"]
    assert data["form"] == {"workers": "2"} and "this machine has 4 CPUs" in data["fix"]
    assert data["gain"].startswith("up to 2.5x")

    busy = _fed(Advisor({**CPU_PARAMS, "workers": 4}, cpus=4), 0.5, 0.5)
    assert busy.verdicts()[0]["form"] == {"cache": "ram"}
    cached = _fed(
        Advisor({**CPU_PARAMS, "workers": 4, "cache": "ram", "imgsz": 640}, cpus=4), 0.5, 0.5
    )
    assert cached.verdicts()[0]["form"] == {"imgsz": "320"}


def test_a_cpu_run_that_computes_is_told_to_use_a_gpu() -> None:
    advisor = _fed(Advisor(CPU_PARAMS, cpus=2), 0.05, 0.95)
    assert _codes(advisor) == ["cpu_bound"]
    [verdict] = advisor.verdicts()
    assert "95% of each step" in verdict["saw"] and "--gpus all" in verdict["fix"]
    assert verdict["form"] is None


def test_small_shared_memory_with_workers() -> None:
    advisor = _fed(Advisor({**CPU_PARAMS, "workers": 4}, shm=64 << 20, cpus=8), 0.05, 0.95)
    assert _codes(advisor) == ["shared_memory", "cpu_bound"]
    assert "64 MiB" in advisor.verdicts()[0]["saw"]
    assert "--shm-size 8g" in advisor.verdicts()[0]["fix"]
    assert "shared_memory" not in _codes(
        _fed(Advisor(CPU_PARAMS, shm=64 << 20, cpus=8), 0.05, 0.95)
    ), "no workers: nothing goes through /dev/shm"


def test_a_busy_gpu_without_amp_is_told_to_turn_it_on_fabricated_gpu() -> None:
    gpu = {**CPU_PARAMS, "device": "cuda:0", "workers": 8}
    advisor = _fed(Advisor(gpu, cpus=16), 0.02, 0.98)
    assert advisor.verdicts() == [], "no telemetry yet: the GPU's use is unknown"
    for _ in range(10):
        advisor.add_sample({"gpus": [{"util_pct": 97.0}]})
    [verdict] = advisor.verdicts()
    assert verdict["code"] == "gpu_bound" and verdict["form"] == {"amp": True}
    with_amp = _fed(Advisor({**gpu, "amp": True}, cpus=16), 0.02, 0.98)
    with_amp.add_sample({"gpus": [{"util_pct": 97.0}]})
    assert "bigger batch" in with_amp.verdicts()[0]["fix"]


# -- planted in real runs ----------------------------------------------------------

pytest.importorskip("yolov5", reason="YOLOv5 is installed by scripts/setup.sh --tests")


def _advised_run(data: Path, project: Path, name: str) -> tuple[training.Run, dict[str, Any]]:
    run = training.train(
        data,
        device="cpu",
        batch_size=8,
        epochs=2,
        imgsz=64,
        workers=0,
        project=project,
        name=name,
        wait=True,
    )
    assert run.status == "finished", run.info
    batches = run.events("batch")
    assert all(b["data_s"] >= 0 and b["compute_s"] > 0 for b in batches)
    assert all(b["sync_s"] is None for b in batches), "no DDP, no collective"
    advice = run.events("advice")
    assert advice, "the run gave no advice"
    return run, advice[-1]


def test_large_images_with_no_workers_are_data_bound(tmp_path: Path) -> None:
    # 1280-px sources trained at 64 px: decoding and mosaic dominate each step.
    data = shapes.make_shapes_dataset(tmp_path / "large", train=40, val=8, image_size=1280)
    _run, advice = _advised_run(data, tmp_path / "runs", "large")
    verdict = advice["verdicts"][0]
    assert verdict["code"] == "data_bound", advice
    assert advice["data_share"] >= DATA_BOUND_SHARE
    assert verdict["form"] and "workers" in verdict["form"]


def test_small_images_on_the_cpu_are_compute_bound(tmp_path: Path) -> None:
    data = shapes.make_shapes_dataset(tmp_path / "small", train=40, val=8, image_size=64)
    _run, advice = _advised_run(data, tmp_path / "runs", "small")
    assert [v["code"] for v in advice["verdicts"]] == ["cpu_bound"], advice
    assert advice["data_share"] < DATA_BOUND_SHARE
