"""Starting and stopping the training subprocess of a run.

One run is one subprocess: ``python -m yolo_lab._runner RUN_DIR``, or for
DDP (several GPUs, or ``nproc`` processes on the CPU) the supervisor
``python -m yolo_lab._runner.supervisor RUN_DIR``, which starts
``torch.distributed.run`` and ends the run; either starts in its own session with
an environment that keeps YOLOv5 offline. The processes this kernel started
are kept in a table, so their status is known without guessing from pids,
and at exit (kernel shutdown or restart) each is asked to stop.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .detached import GONE, lost_words, request_start, whereabouts
from .rundir import (
    LOG_FILE,
    STOP_FILE,
    TERMINAL,
    disk_free_if_full,
    disk_full_words,
    pid_alive,
    read_status,
    spec_world,
    write_spec,
    write_status,
)

__all__ = ["run_status", "runner_command", "runner_env", "stop_run"]

# -- offline environment for the subprocess ---------------------------------


def _config_dir_with_font() -> str | None:
    """A YOLOv5 config folder holding Arial.ttf, so plots never download it."""
    for candidate in (
        os.environ.get("YOLOV5_CONFIG_DIR"),
        str(Path.home() / ".config/Ultralytics"),
    ):
        if candidate and (Path(candidate) / "Arial.ttf").is_file():
            return candidate
    target = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "yolo-lab"
        / "yolov5-config"
    )
    try:
        import matplotlib

        ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    except Exception:
        ttf = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not ttf.is_file():
        return None
    target.mkdir(parents=True, exist_ok=True)
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        if not (target / name).is_file():
            shutil.copyfile(ttf, target / name)
    return str(target)


def runner_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The runner's environment: ``base`` (this process's) made offline."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "YOLOv5_AUTOINSTALL": "false",
            "YOLO_OFFLINE": "true",
            "WANDB_MODE": "disabled",
            "COMET_MODE": "disabled",
            "PYTHONUNBUFFERED": "1",
        }
    )
    config = _config_dir_with_font()
    if config:
        env["YOLOV5_CONFIG_DIR"] = config
    # The runner imports yolo_lab from wherever this kernel found it: the
    # folder above the package (this file is yolo_lab/training/launch.py).
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def runner_command(run_dir: Path, world: int) -> list[str]:
    """The command line of a run's subprocess: the DDP supervisor for several processes."""
    if world > 1:
        return [sys.executable, "-m", "yolo_lab._runner.supervisor", str(run_dir)]
    return [sys.executable, "-m", "yolo_lab._runner", str(run_dir)]


# -- the processes this kernel started ------------------------------------------

_active: dict[str, subprocess.Popen[bytes]] = {}
_active_lock = threading.Lock()


def _process(key: str) -> subprocess.Popen[bytes] | None:
    """The subprocess this kernel started for the run folder ``key``, if any."""
    with _active_lock:
        return _active.get(key)


def _reap(key: str) -> None:
    with _active_lock:
        proc = _active.get(key)
        if proc is not None and proc.poll() is not None:
            del _active[key]


# The run's process: alive, and not a zombie child of ours.
_pid_alive = pid_alive


def run_status(run_dir: Path) -> dict[str, Any]:
    """The run's status file, corrected when its process died unannounced.

    A detached run whose process vanished is "lost" (the Jupyter server that
    owns it records the same when it notices); an attached one "failed".
    """
    status = read_status(run_dir)
    if not status:
        return {}
    if status.get("slurm"):
        # Its processes are on the cluster's nodes: Slurm says where the job is.
        from .slurm.follow import slurm_status

        return slurm_status(run_dir, status)
    proc = _process(str(run_dir))
    if proc is not None:
        alive = proc.poll() is None
    elif status.get("detached") and status.get("process") is not None:
        # A run of another host (a shared home) is that host's to judge.
        alive = whereabouts(status.get("pid"), status.get("process")) != GONE
    elif status.get("detached") and status.get("status") == "starting":
        alive = True  # the server is starting it
    else:
        alive = _pid_alive(status.get("pid"))
    if status.get("status") not in TERMINAL and status.get("status") is not None and not alive:
        if status.get("detached"):
            status["status"] = "lost"
            status["message"], status["fix"] = lost_words(run_dir)
            status["code"] = "lost"
            return status
        status["status"] = "failed"
        free = disk_free_if_full(run_dir)
        if free is not None:
            # The runner could not even write its end: the disk is full.
            status["message"], status["fix"] = disk_full_words(run_dir, free)
            status["code"] = "disk_full"
        else:
            if not status.get("message"):
                status["message"] = "the training process ended without saying why; see the log"
            status["fix"] = f"see {run_dir / LOG_FILE}"
    return status


def stop_run(run_dir: str | os.PathLike[str]) -> bool:
    """Ask a run to stop after its current batch; False if it is not running.

    A run whose folder was deleted under it cannot read a stop file: the
    process this kernel started is sent SIGTERM instead, which the runner
    (or the DDP supervisor) takes as the same stop.
    """
    run_dir = Path(run_dir).resolve()
    proc = _process(str(run_dir))
    if not run_dir.is_dir():
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            return True
        return False
    status = run_status(run_dir)
    if status.get("status") in TERMINAL or not status:
        return False
    if status.get("status") == "pending":
        from .slurm.follow import stop_job

        return stop_job(run_dir, status)
    try:
        (run_dir / STOP_FILE).touch()
    except OSError:
        if proc is None or proc.poll() is not None:
            raise
        proc.send_signal(signal.SIGTERM)  # a full disk or a read-only folder
    return True


def kernel_id() -> str | None:
    """The id of the Jupyter kernel this process is, or None outside one.

    Recorded in each run's status, so a view can tell the runs its own
    kernel started from run folders a notebook merely names.
    """
    if "ipykernel" not in sys.modules:
        return None
    try:
        from ipykernel.connect import get_connection_file

        stem = Path(get_connection_file()).stem
    except Exception:
        return None
    return stem[len("kernel-") :] if stem.startswith("kernel-") else stem


def _start(run_dir: Path, spec: Mapping[str, Any], detach: bool = False) -> None:
    """Write the spec and a fresh status, then start the run's subprocess.

    A detached run's process is started by the Jupyter server (see
    ``detached``), so it outlives this kernel; an attached one is this
    kernel's child and ends with it.
    """
    write_spec(run_dir, {**spec, "detached": detach})
    (run_dir / STOP_FILE).unlink(missing_ok=True)
    write_status(
        run_dir,
        run=str(run_dir),
        name=run_dir.name,
        status="starting",
        kernel=kernel_id(),
        created=time.time(),
        ended=None,
        message=None,
        code=None,
        fix=None,
        detached=detach,
        pid=None,
        process=None,
    )
    if spec.get("slurm"):
        _submit(run_dir, spec)
        return
    if detach:
        try:
            request_start(run_dir, sys.executable, runner_env())
        except Exception as exc:
            _write_start_failure(run_dir, exc, "detach_failed")
            raise
        return
    log = open(run_dir / LOG_FILE, "ab")
    try:
        proc = subprocess.Popen(
            runner_command(run_dir, spec_world(spec)),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=runner_env(),
            cwd=str(run_dir),
            # Its own session: an interrupt of the kernel does not reach it;
            # Run.wait() turns the interrupt into a clean stop instead.
            start_new_session=True,
        )
    finally:
        log.close()
    write_status(run_dir, pid=proc.pid)
    with _active_lock:
        _active[str(run_dir)] = proc


def _submit(run_dir: Path, spec: Mapping[str, Any]) -> None:
    """A run on Slurm: its job submitted; the job starts the run on the nodes."""
    from .slurm.follow import start_job
    from .slurm.request import Slurm

    # A Slurm run from the start (the job id comes with the submission).
    write_status(run_dir, slurm={"job": None, "restarts": 0, "signalled": False})
    try:
        start_job(run_dir, Slurm.from_spec(spec["slurm"]), runner_env())
    except Exception as exc:
        _write_start_failure(run_dir, exc, "slurm_refused")
        raise


def _write_start_failure(run_dir: Path, exc: Exception, code: str) -> None:
    """A run that could not start: failed, with the error's words."""
    write_status(
        run_dir,
        status="failed",
        ended=time.time(),
        code=getattr(exc, "code", code),
        message=getattr(exc, "message", str(exc)),
        fix=getattr(exc, "fix", None),
    )


def _stop_all_at_exit() -> None:
    # The kernel is going away (shutdown or restart): every run it started
    # saves last.pt after its current batch and ends; none is left behind.
    with _active_lock:
        items = list(_active.items())
    for key, proc in items:
        if proc.poll() is None:
            try:
                (Path(key) / STOP_FILE).touch()
                proc.send_signal(signal.SIGTERM)
            except OSError:
                pass


atexit.register(_stop_all_at_exit)
