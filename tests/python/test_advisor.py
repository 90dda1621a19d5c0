"""The speed advisor: each batch's time split, and verdicts with their fix.

The rules are checked on given figures; the data-bound, CPU-bound and
small shared memory cases are then planted in real YOLOv5 runs on this CPU
and the run's own ``advice`` event must name them. GPU utilization, clocks,
throttle reasons and other processes are fabricated (named so): this
machine has no GPU. The throttled and shared-GPU rules read samples that a
real ``Probe`` took through the fabricated NVML.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fabricated_nvml import (
    GIB,
    REASON_GPU_IDLE,
    REASON_HW_THERMAL,
    REASON_SW_POWER_CAP,
    FabricatedGpu,
    FabricatedNvml,
)

from yolo_lab import protocol, shapes, training
from yolo_lab.telemetry import Probe
from yolo_lab.training.advisor import DATA_BOUND_SHARE, Advisor

CPU_PARAMS = {"device": ["cpu"], "workers": 0, "cache": None, "imgsz": 64, "amp": False}


def _fed(advisor: Advisor, data_s: float, compute_s: float, n: int = 12) -> Advisor:
    for _ in range(n):
        advisor.add_batch({"data_s": data_s, "compute_s": compute_s, "sync_s": None})
    return advisor


def _codes(advisor: Advisor) -> list[str]:
    return [v["code"] for v in advisor.verdicts()]


def _fix(advisor: Advisor) -> str:
    [verdict] = advisor.verdicts()
    return str(verdict["fix"])


@pytest.fixture(scope="module")
def verdict_validator() -> jsonschema.Draft7Validator:
    schema = protocol.load_schema()
    return jsonschema.Draft7Validator({**schema, "$ref": "#/definitions/run_verdict"})


def test_a_fix_of_the_wrong_type_or_name_is_not_a_verdict(
    verdict_validator: jsonschema.Draft7Validator,
) -> None:
    # The protocol types a fix (form_fix): train()'s names, train()'s types.
    good = {"code": "data_bound", "saw": "s", "fix": "f", "gain": "g", "form": {"workers": 4}}
    verdict_validator.validate(good)
    for form in ({"workers": "4"}, {"workers": -1}, {"cache": "none"}, {"nope": 1}, {}):
        assert not verdict_validator.is_valid({**good, "form": form}), form


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
    assert data["form"] == {"workers": 2} and "this machine has 4 CPUs" in data["fix"]
    assert data["gain"].startswith("up to 2.5x")

    busy = _fed(Advisor({**CPU_PARAMS, "workers": 4}, cpus=4), 0.5, 0.5)
    assert busy.verdicts()[0]["form"] == {"cache": "ram"}
    cached = _fed(
        Advisor({**CPU_PARAMS, "workers": 4, "cache": "ram", "imgsz": 640}, cpus=4), 0.5, 0.5
    )
    assert cached.verdicts()[0]["form"] == {"imgsz": 320}


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
    gpu = {**CPU_PARAMS, "device": [0], "workers": 8}
    advisor = _fed(Advisor(gpu, cpus=16), 0.02, 0.98)
    assert advisor.verdicts() == [], "no telemetry yet: the GPU's use is unknown"
    for _ in range(10):
        advisor.add_sample({"gpus": [{"util_pct": 97.0}]})
    [verdict] = advisor.verdicts()
    assert verdict["code"] == "gpu_bound" and verdict["form"] == {"amp": True}
    with_amp = _fed(Advisor({**gpu, "amp": True}, cpus=16), 0.02, 0.98)
    with_amp.add_sample({"gpus": [{"util_pct": 97.0}]})
    assert "bigger batch" in with_amp.verdicts()[0]["fix"]


def _probed(advisor: Advisor, nvml: FabricatedNvml, states: list[dict[str, Any]]) -> Advisor:
    """One real Probe sample through the fabricated NVML per state of its first GPU."""
    probe = Probe(nvml=nvml, environ={})
    probe.open()
    try:
        for state in states:
            for key, value in state.items():
                setattr(nvml.gpus[0], key, value)
            advisor.add_sample(probe.sample())
    finally:
        probe.close()
    return advisor


def _hot_gpu() -> FabricatedGpu:
    return FabricatedGpu("GPU-aa", util=98, temp=88, sm_clock_mhz=1980, sm_clock_max_mhz=1980)


GPU_PARAMS = {**CPU_PARAMS, "device": [0], "workers": 8}
THERMAL = {"reasons": REASON_HW_THERMAL, "sm_clock_mhz": 1410}
COOL = {"reasons": 0, "sm_clock_mhz": 1980}


def test_a_hot_busy_gpu_is_throttled_fabricated(
    verdict_validator: jsonschema.Draft7Validator,
) -> None:
    nvml = FabricatedNvml([_hot_gpu()])
    advisor = _probed(Advisor(GPU_PARAMS, cpus=16), nvml, [COOL] * 4 + [THERMAL] * 6)
    [verdict] = advisor.verdicts()
    verdict_validator.validate(verdict)
    assert verdict["code"] == "throttled" and verdict["form"] is None
    assert "slowed by hw_thermal in 6 of 10 busy samples" in verdict["saw"]
    assert "1410 of 1980 MHz (71%)" in verdict["saw"] and "88 °C" in verdict["saw"]
    assert "cool the GPU" in verdict["fix"] and "airflow" in verdict["fix"]
    assert "nvidia-smi -q -d PERFORMANCE" in verdict["fix"]
    assert verdict["gain"].startswith("up to 1.4x")


def test_a_power_capped_gpu_is_told_its_limit_fabricated() -> None:
    capped = {"reasons": REASON_SW_POWER_CAP | REASON_GPU_IDLE, "sm_clock_mhz": 1500}
    advisor = _probed(Advisor(GPU_PARAMS, cpus=16), FabricatedNvml([_hot_gpu()]), [capped] * 5)
    [verdict] = advisor.verdicts()
    assert "slowed by sw_power_cap" in verdict["saw"] and "(76%)" in verdict["saw"]
    assert "nvidia-smi -q -d PERFORMANCE,POWER" in verdict["fix"]
    assert "power limit" in verdict["fix"] and "amp=True" in verdict["fix"]


@pytest.mark.parametrize(
    ("params", "states", "why"),
    [
        (GPU_PARAMS, [THERMAL] * 4 + [COOL] * 6, "a minority of the samples"),
        (GPU_PARAMS, [{**THERMAL, "util": 5}] * 10, "an idle GPU's clocks cost nothing"),
        (GPU_PARAMS, [{**THERMAL, "sm_clock_mhz": 1960}] * 10, "the clock is at its maximum"),
        (GPU_PARAMS, [{"reasons": REASON_GPU_IDLE, "sm_clock_mhz": 300}] * 10, "idle, no fault"),
        (GPU_PARAMS, [THERMAL] * 2, "too few samples"),
        ({**GPU_PARAMS, "device": [1]}, [THERMAL] * 10, "not the run's GPU"),
        (CPU_PARAMS, [THERMAL] * 10, "a CPU run"),
    ],
)
def test_no_throttled_verdict_fabricated(
    params: dict[str, Any], states: list[dict[str, Any]], why: str
) -> None:
    nvml = FabricatedNvml([_hot_gpu(), FabricatedGpu("GPU-bb", util=0)])
    advisor = _probed(Advisor(params, cpus=16), nvml, states)
    assert "throttled" not in _codes(advisor), why


def test_another_process_on_the_gpu_shares_it_fabricated(
    verdict_validator: jsonschema.Draft7Validator,
) -> None:
    # pid 1 exists in every pid namespace and is never in this test's tree.
    busy = FabricatedGpu("GPU-aa", util=95, compute=[(os.getpid(), 2 * GIB), (1, 3 * GIB)])
    idle = FabricatedGpu("GPU-bb", util=0)
    alone = {"compute": [(os.getpid(), 2 * GIB)]}
    shared = {"compute": [(os.getpid(), 2 * GIB), (1, 3 * GIB)]}
    nvml = FabricatedNvml([busy, idle])
    advisor = _probed(Advisor(GPU_PARAMS, cpus=16), nvml, [alone] * 3 + [shared] * 4)
    [verdict] = advisor.verdicts()
    verdict_validator.validate(verdict)
    assert verdict["code"] == "shared_gpu" and verdict["form"] is None
    assert "1 other process uses 3.0 GiB on GPU 0 (cuda:0), in 4 of 7" in verdict["saw"]
    assert "nvidia-smi" in verdict["fix"] and 'device="cuda:1"' in verdict["fix"]
    assert verdict["gain"].startswith("the GPU to itself: up to 2x")

    other_run = _probed(Advisor({**GPU_PARAMS, "device": [1]}, cpus=16), nvml, [shared] * 5)
    assert other_run.verdicts() == [], "the other process is on a GPU this run does not use"
    passing = _probed(Advisor(GPU_PARAMS, cpus=16), nvml, [alone] * 4 + [shared] * 3)
    assert passing.verdicts() == [], "a minority of the samples"

    three = FabricatedNvml([busy, idle, FabricatedGpu("GPU-cc", util=0)])
    ddp = _probed(Advisor({**GPU_PARAMS, "device": [0, 1]}, cpus=16), three, [shared] * 3)
    assert "put GPU 2, which nothing else uses, in device instead of GPU 0" in _fix(ddp)


# -- planted in real runs ----------------------------------------------------------


def _advised_run(
    data: Path, project: Path, name: str, workers: int = 0
) -> tuple[training.Run, dict[str, Any]]:
    run = training.train(
        data,
        device="cpu",
        batch_size=8,
        epochs=2,
        imgsz=64,
        workers=workers,
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


@pytest.mark.yolov5
def test_large_images_with_no_workers_are_data_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1280-px sources trained at 64 px: decoding and mosaic dominate each step.
    # One compute thread in the run (it inherits this environment): on a
    # loaded machine torch's threads made computing 89% of each step (a
    # loaded fresh-clone run, 2026-12-07) while decoding, single-threaded,
    # only slowed with the load; with one thread both slow alike.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    data = shapes.make_shapes_dataset(tmp_path / "large", train=40, val=8, image_size=1280)
    _run, advice = _advised_run(data, tmp_path / "runs", "large")
    verdict = advice["verdicts"][0]
    assert verdict["code"] == "data_bound", advice
    assert advice["data_share"] >= DATA_BOUND_SHARE
    assert verdict["form"] and "workers" in verdict["form"]


@pytest.mark.yolov5
def test_small_images_on_the_cpu_are_compute_bound(tmp_path: Path) -> None:
    data = shapes.make_shapes_dataset(tmp_path / "small", train=40, val=8, image_size=64)
    _run, advice = _advised_run(data, tmp_path / "runs", "small")
    assert [v["code"] for v in advice["verdicts"]] == ["cpu_bound"], advice
    assert advice["data_share"] < DATA_BOUND_SHARE


@pytest.fixture
def small_shm(tmp_path: Path) -> Any:
    """A 64 MiB tmpfs, as docker's default /dev/shm; unmounted afterwards."""
    where = tmp_path / "shm"
    where.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(where)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except FileNotFoundError:
        pytest.skip("no mount command to plant a small shared memory")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (root needed): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.mark.yolov5
def test_a_small_shared_memory_with_workers_is_told(
    tmp_path: Path, small_shm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The runner measures the planted tmpfs instead of this machine's /dev/shm.
    monkeypatch.setenv("YOLO_LAB_SHM_PATH", str(small_shm))
    data = shapes.make_shapes_dataset(tmp_path / "small", train=40, val=8, image_size=64)
    _run, advice = _advised_run(data, tmp_path / "runs", "shm", workers=1)
    [verdict] = [v for v in advice["verdicts"] if v["code"] == "shared_memory"]
    assert f"{small_shm} holds 64 MiB; the 1 DataLoader worker passes" in verdict["saw"]
    assert "--shm-size 8g" in verdict["fix"] and verdict["form"] is None
