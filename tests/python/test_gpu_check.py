"""The prepared GPU check keeps working: its --cpu mode, run for real.

``bash scripts/gpu_check.sh --cpu`` is the same script the NVIDIA machine
runs, with tiny sizes: every GPU row must say it is absent, every CPU part
must really run. The stop/resume section runs on the CPU in this mode (a
real stop mid-epoch, then a resume to the end), since it is the same code
path a GPU run takes. About 2.5 minutes on 2 cores.

It runs where the NVIDIA machine's first contact is rehearsed (.venv-newest,
below), not in .venv: the machine's stack is the one that must pass, and one
run of the check is CI's time well spent. .venv's stack trains in the rest
of the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The check's rehearsals run a venv shaped like the NVIDIA machine.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ABSENT = "absent (no GPU)"
SECTIONS = {
    "environment",
    "dataset",
    "doctor",
    "telemetry",
    "sample_cost",
    "seed_comparison",
    "stop_resume",
    "oom",
    "sampler_overhead",
    "train_speed",
}


# The rehearsal of the NVIDIA machine: Python 3.12 with the newest releases of
# what that machine has (requirements/gpu-machine.txt: numpy >= 2.4, setuptools
# without pkg_resources, no yolov5, no jsonschema), and the cp312 wheels the
# check carries there, installed as there (scripts/setup.sh --tests makes both).
NEWEST = Path(os.environ.get("YOLO_LAB_NEWEST_VENV") or REPO / ".venv-newest")
REHEARSAL_WHEELS = REPO / ".whl-rehearse"
MADE_BY = "bash scripts/setup.sh --tests makes it"


def _gpu_check(
    tmp_path: Path, python: str, wheels: Path, *args: str, timeout: float = 420, **env: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / "out"
    environ = dict(os.environ, PYTHON=python, GPU_CHECK_WHEELS=str(wheels), **env)
    environ["GPU_CHECK_SITE"] = str(tmp_path / "site")
    environ.pop("OUT", None)
    done = subprocess.run(
        ["bash", "scripts/gpu_check.sh", *args, "--out", str(out)],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done, out


def test_gpu_check_rehearsal_shaped_like_the_nvidia_machine(tmp_path: Path) -> None:
    python = NEWEST / "bin" / "python"
    assert python.is_file(), f"no newest-stack venv at {NEWEST}: {MADE_BY}"
    assert list(REHEARSAL_WHEELS.glob("yolov5-*.whl")), (
        f"no wheels in {REHEARSAL_WHEELS}: {MADE_BY}"
    )
    shape = subprocess.run(
        [str(python), "-c", SHAPE],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    )
    version, numpy, has_pkg_resources, has_yolov5 = shape.stdout.split()
    assert version.startswith("3.12"), version
    assert tuple(int(x) for x in numpy.split(".")[:2]) >= (2, 4), numpy
    assert has_pkg_resources == "False" and has_yolov5 == "False"

    done, out = _gpu_check(
        tmp_path, str(python), REHEARSAL_WHEELS, "--cpu", PYTHONPATH="", PYTHONNOUSERSITE="1"
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "preflight ok: python 3.12" in done.stdout
    # What YOLOv5 7.0 needs and this stack removed was put back, by name.
    assert "numpy.trapz" in done.stdout and "pkg_resources" in done.stdout
    _assert_cpu_report(done, out)


SHAPE = """
import importlib.util, sys, numpy
print(sys.version.split()[0], numpy.__version__,
      importlib.util.find_spec("pkg_resources") is not None,
      importlib.util.find_spec("yolov5") is not None)
"""


def test_gpu_check_without_its_wheels_stops_at_once_with_what_to_do(tmp_path: Path) -> None:
    python = NEWEST / "bin" / "python"
    assert python.is_file(), f"no newest-stack venv at {NEWEST}: {MADE_BY}"
    # GPU mode, no .whl carried: nothing runs.
    done, out = _gpu_check(tmp_path, str(python), tmp_path / "none", timeout=60)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "bash scripts/gpu_wheels.sh" in done.stderr and 'carry: [".whl"]' in done.stderr
    assert not (out / "gpu_check.json").exists()
    # --cpu, in an environment without yolov5: the preflight says so before any section.
    done, out = _gpu_check(tmp_path, str(python), tmp_path / "none", "--cpu", timeout=60)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "preflight failed" in done.stderr and "No module named" in done.stderr
    assert not (out / "gpu_check.json").exists()
    # Wheels that do not install (a broken file): stop, and say how to gather them again.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "yolov5-7.0.14-py37.py38.py39.py310-none-any.whl").write_bytes(b"not a zip")
    done, out = _gpu_check(tmp_path, str(python), broken, timeout=60)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "did not install" in done.stderr and not (out / "gpu_check.json").exists()


def test_the_out_of_memory_case_asks_past_an_h200_without_dev_shm() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    assert gpu_check.oom_asked_gib() > 139  # an H200's memory, GiB
    assert gpu_check.OOM["workers"] == 0  # no batches through /dev/shm
    batches = gpu_check.GPU_SIZES["images"] // gpu_check.GPU_SIZES["resume_batch"]
    assert batches >= 4 * gpu_check.GPU_SIZES["stop_after"]  # the stop lands mid-epoch


def test_failed_runs_keep_their_logs(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    from yolo_lab.training.rundir import LOG_FILE, write_status

    for name, status in (("ok", "finished"), ("bad", "failed"), ("halted", "stopped")):
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / LOG_FILE).write_text(f"log of {name}\n")
        write_status(tmp_path / "runs" / name, status=status)
    kept = gpu_check.keep_failed_logs(tmp_path / "runs", tmp_path / "out" / "logs")
    assert kept == [str(tmp_path / "out" / "logs" / "bad.log")]
    assert (tmp_path / "out" / "logs" / "bad.log").read_text() == "log of bad\n"


def _assert_cpu_report(done: subprocess.CompletedProcess[str], out: Path) -> None:
    report = json.loads((out / "gpu_check.json").read_text(encoding="utf-8"))
    table = (out / "gpu_check.md").read_text(encoding="utf-8")
    assert "## Training speed" in table and "## The seed's comparison" in table
    assert ABSENT in table and ABSENT in done.stdout

    assert report["mode"] == "cpu"
    sections = report["sections"]
    assert set(sections) == SECTIONS
    for name, section in sections.items():
        assert section["status"] == "ok", (name, section)

    assert sections["environment"]["gpu_rows"] == ABSENT
    assert sections["doctor"]["report"]["findings"] is not None
    assert sections["telemetry"]["samples"] >= 1
    assert "psutil" in sections["sample_cost"]["paths"]
    assert "slowdown_pct_1hz" in sections["sampler_overhead"]

    speed = sections["train_speed"]["rows"]
    gpu_rows = [row for row in speed if row["device"] == "cuda:0"]
    assert len(gpu_rows) == 12  # yolov5n/s x batch 16/64/auto x AMP on/off
    assert all(row["status"] == ABSENT for row in gpu_rows)
    (cpu_row,) = [row for row in speed if row["device"] == "cpu"]
    assert cpu_row["imgs_per_s"] > 0, cpu_row
    assert cpu_row["amp"] == "off"

    seed = sections["seed_comparison"]["rows"]
    assert [row["status"] for row in seed[1:]] == [ABSENT, ABSENT]
    assert seed[0]["status"] == "finished", seed[0]
    assert seed[0]["epoch_s"] > 0 and seed[0]["imgs_per_s"] > 0
    assert seed[0]["speedup"] == 1

    stop = sections["stop_resume"]
    assert stop["device"] == "cpu"
    assert stop["stopped_status"] == "stopped" and stop["last_after_stop"]
    assert stop["resumed_status"] == "finished" and stop["last_after_resume"]

    oom = sections["oom"]
    assert oom["run"] == ABSENT
    assert oom["refused"]["code"] == "bad_batch_size"
