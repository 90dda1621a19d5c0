"""Shared fixtures: the protocol schema validator and fabricated reports; the
report of waits close to their deadline (waiting.py); the Slurm cluster."""

from __future__ import annotations

import copy
import fcntl
import importlib.util
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any, Callable

import jsonschema
import pytest
import skip_policy
from slurm_cluster import SLURM_START_S
from waiting import WaitReport, wait_until

from yolo_lab import protocol
from yolo_lab._yolov5.compat import apply as apply_yolov5_shims

# Tests import YOLOv5 in this process too (models built, importorskip): with
# the shims the runner applies, before any test module imports it, so that a
# test module's skip cannot depend on which module an xdist worker ran first.
apply_yolov5_shims()

GIB = 1 << 30


def pytest_configure(config: pytest.Config) -> None:
    # In the controller and in each xdist worker: workers record, the
    # controller prints.
    config.pluginmanager.register(WaitReport(), "yolo-lab-wait-report")
    skip_policy.register(config)
    for name, words in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {words}")


# What a test needs, so a contributor can run a part: `pytest -m "not slow"`
# is the fast part (README, Tests). slow is added to every yolov5, kernel and slurm
# test; gpu_fabricated to every test whose name says it is fabricated.
MARKERS = {
    "yolov5": "needs the yolov5 package (scripts/setup.sh --tests installs it); trains for real",
    "kernel": "starts a real Jupyter kernel or server",
    "slow": "seconds to minutes: a real training, kernel, server or subprocess",
    "root": "needs root: plays the Hub or another local user with real uids",
    "gpu_fabricated": "reads GPU figures fabricated for this GPU-less machine",
    "slurm": "submits jobs to the real Slurm cluster of scripts/slurm-cluster.sh",
}


def _mark_by_need(item: pytest.Item) -> None:
    if any(item.get_closest_marker(name) for name in ("yolov5", "kernel", "slurm")):
        item.add_marker(pytest.mark.slow)
    if "fabricated" in item.name:
        item.add_marker(pytest.mark.gpu_fabricated)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        _mark_by_need(item)
    # Only the tests that need YOLOv5 skip without it, not their module's pure
    # checks. find_spec, not an import: an installed YOLOv5 that fails to
    # import fails its tests rather than skipping them.
    if importlib.util.find_spec("yolov5") is not None:
        return
    skip = pytest.mark.skip(reason="YOLOv5 is installed by scripts/setup.sh --tests")
    for item in items:
        if item.get_closest_marker("yolov5") is not None:
            item.add_marker(skip)


# A healthy GPU workstation: every rule stays quiet on it, so a test changes
# only the fields its rule reads.
HEALTHY_REPORT: dict[str, Any] = {
    "generated_at": 1_700_000_000.0,
    "workers": 8,
    "python": {"version": "3.11.7", "executable": "/opt/venv/bin/python"},
    "torch": {
        "installed": True,
        "version": "2.8.0+cu128",
        "cuda_build": "12.8",
        "cudnn": 91002,
        "cuda_available": True,
        "device_count": 1,
        "error": None,
    },
    "driver": {
        "nvml": True,
        "version": "570.26",
        "cuda_driver_version": "12.8",
        "nvidia_device_present": True,
        "error": None,
    },
    "gpus": [
        {
            "index": 0,
            "name": "NVIDIA H100 80GB HBM3",
            "memory_total_bytes": 80 * GIB,
            "compute_capability": "9.0",
            "uuid": "GPU-11111111-2222-3333-4444-555555555555",
        }
    ],
    "cuda_visible_devices": None,
    "system": {
        "cpu_count": 16,
        "ram_total_bytes": 128 * GIB,
        "shm_total_bytes": 8 * GIB,
        "in_container": False,
        "container_kind": None,
        "platform": "Linux-6.8.0-x86_64-with-glibc2.39",
    },
    "yolov5": {
        "available": True,
        "version": "7.0.13",
        "location": "/opt/venv/lib/python3.11/site-packages/yolov5",
        "source": "package",
        "error": None,
    },
    "findings": [],
}


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


@pytest.fixture
def fabricated_report() -> Callable[..., dict[str, Any]]:
    """Build a report from the healthy one; nested dicts are merged."""

    def build(**changes: Any) -> dict[str, Any]:
        report = copy.deepcopy(HEALTHY_REPORT)
        _merge(report, changes)
        return report

    return build


@pytest.fixture(scope="session")
def schema_validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(protocol.load_schema())


@pytest.fixture(scope="session")
def report_validator() -> jsonschema.Draft7Validator:
    """Validates a bare report against the schema's ``report`` definition."""
    schema = protocol.load_schema()
    return jsonschema.Draft7Validator(
        {
            "$schema": schema["$schema"],
            "definitions": schema["definitions"],
            "$ref": "#/definitions/report",
        }
    )


# -- the Slurm cluster (scripts/slurm-cluster.sh) --------------------------------


@pytest.fixture(scope="session")
def _slurm_up() -> None:
    up = "bash scripts/slurm-cluster.sh up (setup.sh --tests runs it)"
    assert shutil.which("sbatch"), f"no Slurm here: {up}"
    out = subprocess.run(
        ["sinfo", "--noheader", "--Node", "--format=%N %t"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0 and len(out.stdout.split("\n")) >= 2, (
        f"the Slurm cluster is not up ({out.stderr.strip()}): {up}"
    )


@pytest.fixture
def slurm_jobs(_slurm_up: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The cluster to this test alone (a test of the other pytest worker
    waits), and a list for the ids of the jobs it submits: cancelled at the
    end, so a failed test leaves no job holding the nodes."""
    from yolo_lab.training.slurm import cancel, job

    lock = tmp_path_factory.getbasetemp().parent / "yolo-lab-slurm.lock"
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        jobs: list[str] = []
        try:
            yield jobs
        finally:
            for job_id in jobs:
                if (now := job(job_id)) is not None and now.phase != "ended":
                    cancel(job_id)
            for job_id in jobs:
                wait_until(
                    lambda job_id=job_id: (now := job(job_id)) is None or now.phase == "ended",
                    SLURM_START_S,
                    f"job {job_id} ends",
                    interval=0.2,
                )
