"""train()'s checks of what it passes on, and runs that lose their folder.

The run-level settings (seed, telemetry period) and YOLOv5's pass-through
options are checked like the other arguments; two kernels naming runs alike
each get a folder; a run whose folder is deleted under it can still be
stopped (a real run).
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from yolo_lab import shapes, training
from yolo_lab.training import TrainError
from yolo_lab.training.rundir import claim_run_dir

IMGSZ = 64


@pytest.mark.parametrize(
    ("kwargs", "code", "says"),
    [
        ({"seed": -1}, "bad_seed", "from 0"),
        ({"seed": "1"}, "bad_seed", "seed=0"),
        ({"telemetry_interval_s": -1}, "bad_telemetry_interval", "0 (off)"),
        ({"telemetry_interval_s": 0.01}, "bad_telemetry_interval", "0.1 to 3600"),
        ({"resume": True}, "bad_option", "yolo_lab.resume(run)"),
        ({"cfg": "yolov5s.yaml"}, "bad_option", "model="),
        ({"exist_ok": True}, "bad_option", "its own folder"),
        ({"patiense": 5}, "bad_option", "did you mean patience"),
    ],
)
def test_run_settings_and_pass_through_options_are_checked(
    tmp_path: Path, kwargs: dict[str, Any], code: str, says: str
) -> None:
    pytest.importorskip("yolov5", reason="YOLOv5 is installed by scripts/setup.sh --tests")
    data = shapes.make_shapes_dataset(tmp_path / "shapes", train=2, val=1, image_size=IMGSZ)
    project = tmp_path / "runs"
    with pytest.raises(TrainError) as err:
        training.train(data, project=project, **kwargs)
    assert err.value.code == code
    assert says in f"{err.value.message} {err.value.fix}"
    assert not project.exists() or not any(project.iterdir()), "nothing was started"


def test_runs_named_alike_at_once_each_get_a_folder(tmp_path: Path) -> None:
    claimed: list[Path] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def claim() -> None:
        try:
            start.wait()
            for _ in range(10):
                claimed.append(claim_run_dir(tmp_path, "exp"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(claimed) == 80 and len(set(claimed)) == 80
    assert {p.name for p in claimed} == {"exp"} | {f"exp{i}" for i in range(2, 81)}


@pytest.mark.slow
def test_a_run_whose_folder_was_deleted_can_still_be_stopped(tmp_path: Path) -> None:
    pytest.importorskip("yolov5", reason="YOLOv5 is installed by scripts/setup.sh --tests")
    data = shapes.make_shapes_dataset(tmp_path / "shapes", train=16, val=8, image_size=IMGSZ)
    run = training.train(
        data,
        device="cpu",
        batch_size=8,
        epochs=50,
        imgsz=IMGSZ,
        workers=0,
        project=tmp_path / "runs",
        name="gone",
    )
    deadline = time.monotonic() + 300
    while not run.events("batch") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.events("batch"), "the run started training"
    pid = run.info["pid"]
    shutil.rmtree(run.dir)
    run.stop()
    deadline = time.monotonic() + 60
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the runner did not end after Stop"
        time.sleep(0.2)


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A 120 MiB tmpfs made by the test (root only), unmounted after it."""
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=120m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.fail(f"the test needs root to mount a small tmpfs: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> None:
    with open(folder / "filler", "wb") as f:
        block = b"\0" * 2**20
        try:
            while True:
                f.write(block)
                f.flush()
        except OSError:
            pass


@pytest.mark.slow
def test_a_full_disk_fails_the_run_with_disk_full_and_keeps_last_pt(
    tmp_path: Path, small_disk: Path
) -> None:
    pytest.importorskip("yolov5", reason="YOLOv5 is installed by scripts/setup.sh --tests")
    import torch

    data = shapes.make_shapes_dataset(tmp_path / "shapes", train=16, val=8, image_size=IMGSZ)
    run = training.train(
        data,
        device="cpu",
        batch_size=8,
        epochs=50,
        imgsz=IMGSZ,
        workers=0,
        project=small_disk / "runs",
        name="full",
    )
    deadline = time.monotonic() + 300
    while not [e for e in run.events("saved") if e["epoch"] >= 1] and time.monotonic() < deadline:
        assert run.running, run.info
        time.sleep(0.2)
    _fill(small_disk)
    assert run.wait(timeout=300) == "failed"
    info = run.info
    assert info["code"] == "disk_full", info
    assert "full" in info["message"] and "resume" in info["fix"]
    # What was saved is kept: last.pt loads, from an epoch that finished.
    ckpt = torch.load(run.dir / "weights" / "last.pt", map_location="cpu", weights_only=False)
    assert ckpt["epoch"] >= 1


@pytest.mark.slow
def test_stop_runs_stops_every_live_run_under_a_folder_and_waits(tmp_path: Path) -> None:
    """What `yolo-lab down` runs in the container before removing it."""
    pytest.importorskip("yolov5", reason="YOLOv5 is installed by scripts/setup.sh --tests")
    import json
    import subprocess
    import sys

    data = shapes.make_shapes_dataset(tmp_path / "shapes", train=16, val=8, image_size=IMGSZ)
    project = tmp_path / "work" / "runs" / "train"
    run = training.train(
        data,
        device="cpu",
        batch_size=8,
        epochs=50,
        imgsz=IMGSZ,
        workers=0,
        project=project,
        name="long",
    )
    deadline = time.monotonic() + 300
    while not run.events("batch") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.running
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "yolo_lab",
            "stop-runs",
            str(tmp_path / "work"),
            "--wait",
            "120",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)
    assert result["run"] == str(run.dir) and result["ended"] and result["status"] == "stopped"
    assert run.status == "stopped" and run.last is not None


def test_the_checkout_up_mounts_is_what_train_and_the_doctor_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`yolo-lab up --code` sets YOLO_LAB_YOLOV5_DIR; both sides follow it."""
    from yolo_lab.environment.report import HostPaths, probe_yolov5
    from yolo_lab.training.checks import find_yolov5

    checkout = tmp_path / "yolov5"
    (checkout / "models").mkdir(parents=True)
    (checkout / "train.py").write_text("")
    (checkout / "models" / "yolo.py").write_text("")
    monkeypatch.setenv("YOLO_LAB_YOLOV5_DIR", str(checkout))
    assert find_yolov5(None) == str(checkout)
    found = probe_yolov5(HostPaths(yolov5_checkout=tmp_path / "none"))
    assert (found["source"], found["location"]) == ("checkout", str(checkout))
    monkeypatch.setenv("YOLO_LAB_YOLOV5_DIR", str(tmp_path / "missing"))
    with pytest.raises(TrainError) as err:
        find_yolov5(None)
    assert err.value.code == "yolov5_missing"
