"""The prepared GPU check keeps working: its --cpu mode, run for real.

``bash scripts/gpu_check.sh --cpu`` is the same script the NVIDIA machine
runs, with tiny sizes: every GPU row must say it is absent, every CPU part
must really run. The stop/resume section runs on the CPU in this mode (a
real stop mid-epoch, then a resume to the end), since it is the same code
path a GPU run takes. About 2.5 minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


def test_gpu_check_cpu_mode(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = dict(os.environ, PYTHON=sys.executable)
    # This environment already has what the wheels bring; a .whl/ folder in
    # the checkout holds cp312 wheels for the NVIDIA machine, not for this Python.
    env["GPU_CHECK_WHEELS"] = str(tmp_path / "no-wheels")
    env.pop("OUT", None)
    done = subprocess.run(
        ["bash", "scripts/gpu_check.sh", "--cpu", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
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
