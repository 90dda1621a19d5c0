"""YOLOv5 training runs started from the kernel: the public API.

``train(data=..., device=..., batch_size=..., amp=...)`` checks every
argument first (a wrong one raises :class:`TrainError` with what to do, and
starts nothing), creates the run folder, writes the run's spec there and
starts one subprocess (``python -m yolo_lab._runner``, or
``torch.distributed.run`` for several GPUs). It returns a :class:`Run` at
once; in a notebook the run shows itself as a live view (MIME type
``application/vnd.yolo-lab.run+json``) fed through the ``yolo_lab`` comm from
the run folder, so any chart can be rebuilt from disk after a reload.
``Run.wait()`` blocks until the run ends (an interrupt stops it cleanly) and
``Run.stop()`` ends it after the current batch with last.pt saved;
``resume(run)`` continues from last.pt.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..protocol import RUN_MIME_TYPE
from .checks import (
    TrainError,
    check_amp,
    check_batch_size,
    check_cache,
    check_data,
    check_devices,
    check_int,
    check_model,
    check_name,
    check_nproc,
    check_run_settings,
    check_trust_weights,
    check_yolov5_options,
    find_yolov5,
)
from .detached import available as detach_unavailable
from .events import read_events
from .launch import _process, _reap, _start, run_status, stop_run
from .params import DEFAULTS
from .rundir import (
    LOG_FILE,
    SPEC_VERSION,
    TERMINAL,
    claim_run_dir,
    find_runs,
    read_results,
    read_spec,
    shown_params,
    spec_devices,
    write_status,
)

__all__ = ["RUN_MIME_TYPE", "Run", "list_runs", "resume", "show_run", "train"]


class Run:
    """A training run and its folder; returned by :func:`train` and :func:`resume`."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(run_dir).resolve()

    def __repr__(self) -> str:
        return f"<yolo_lab.Run {self.dir} {self.status}>"

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def status(self) -> str:
        return str(run_status(self.dir).get("status", "unknown"))

    @property
    def info(self) -> dict[str, Any]:
        return run_status(self.dir)

    @property
    def last(self) -> Path | None:
        path = self.dir / "weights" / "last.pt"
        return path if path.is_file() else None

    @property
    def best(self) -> Path | None:
        path = self.dir / "weights" / "best.pt"
        return path if path.is_file() else None

    @property
    def log(self) -> Path:
        return self.dir / LOG_FILE

    def model(self, weights: str = "best", device: str = "cpu") -> Any:
        """The trained model from ``best.pt`` (or ``weights="last"``), in
        float32 and eval mode on ``device``: for inference or checks in this
        kernel.

        A checkpoint is a pickle of YOLOv5's own classes: this imports YOLOv5
        here, as the runner does (the run's checkout, and
        :mod:`yolo_lab._yolov5.compat`'s shims for today's numpy, Pillow and
        setuptools). The file is this run's own, so it is unpickled in full.
        """
        import warnings

        import torch

        from .._yolov5.options import import_yolov5

        path = {"best": self.best, "last": self.last}.get(weights, False)
        if path is False:
            raise TrainError(
                "bad_weights",
                f'weights must be "best" or "last", not {weights!r}',
                'weights="best" or weights="last"',
            )
        if path is None:
            raise TrainError(
                "weights_missing",
                f"{self.dir.name} has no {weights}.pt yet",
                "wait for an epoch to end (run.wait()), or train longer",
            )
        import_yolov5(read_spec(self.dir).get("params", {}).get("yolov5_dir"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # YOLOv5's modules warn about deprecated APIs
            checkpoint = torch.load(path, map_location=device, weights_only=False)
        # As YOLOv5's attempt_load: the averaged weights when it kept them.
        return (checkpoint.get("ema") or checkpoint["model"]).float().eval()

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        events = read_events(self.dir, max_batch_events=sys.maxsize)
        return [e for e in events if kind is None or e["kind"] == kind]

    def results(self) -> list[dict[str, float]]:
        return read_results(self.dir)

    @property
    def running(self) -> bool:
        return self.status not in TERMINAL

    def stop(self, wait: bool = False, timeout: float | None = None) -> None:
        """Stop after the current batch; last.pt and results so far are kept."""
        stop_run(self.dir)
        if wait:
            self.wait(timeout)

    def wait(self, timeout: float | None = None) -> str:
        """Block until the run ends; an interrupt (Ctrl-C, ■) stops it cleanly.

        For a detached run, or one on Slurm, the interrupt only ends the wait:
        it keeps training (``run.stop()`` stops it).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        key = str(self.dir)
        try:
            while True:
                proc = _process(key)
                if proc is not None:
                    try:
                        proc.wait(timeout=0.2)
                    except subprocess.TimeoutExpired:
                        pass
                    else:
                        _reap(key)
                        return self.status
                elif not self.running:
                    return self.status
                else:
                    time.sleep(0.2)
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"{self.dir.name} still {self.status} after {timeout} s")
        except KeyboardInterrupt:
            if self.info.get("detached") or self.info.get("slurm"):
                raise  # the interrupt ends the wait; the run goes on
            self.stop()
            while True:
                proc = _process(key)
                if proc is None:
                    break
                try:
                    proc.wait(timeout=60)
                    break
                except subprocess.TimeoutExpired:
                    continue
            _reap(key)
            raise

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return _display_bundle(self.dir)


def _display_bundle(run_dir: Path) -> dict[str, Any]:
    status = run_status(run_dir)
    spec = read_spec(run_dir)
    data = {
        "v": 1,
        "run": str(run_dir),
        "name": run_dir.name,
        "status": status.get("status", "unknown"),
        "params": shown_params(spec),
    }
    text = f"yolo-lab run {run_dir.name}: {data['status']} ({run_dir})"
    return {RUN_MIME_TYPE: data, "text/plain": text}


def show_run(run: str | os.PathLike[str] | Run) -> Run:
    """Show a run (running or past, yolo-lab's or YOLOv5's own) as the live view."""
    run_dir = run.dir if isinstance(run, Run) else Path(run).expanduser().resolve()
    if not run_dir.is_dir():
        raise TrainError(
            "run_missing", f"{run_dir} is not a run folder", "see yolo_lab.list_runs()"
        )
    return Run(run_dir)


def train(
    data: str | os.PathLike[str],
    *,
    # The defaults are the definition's (protocol/train_params.schema.json).
    model: str | None = DEFAULTS["model"],
    weights: str | None = DEFAULTS["weights"],
    device: Any = DEFAULTS["device"],
    nproc: int = DEFAULTS["nproc"],
    batch_size: int | str = DEFAULTS["batch_size"],
    amp: bool | None = DEFAULTS["amp"],
    epochs: int = DEFAULTS["epochs"],
    imgsz: int = DEFAULTS["imgsz"],
    workers: int = DEFAULTS["workers"],
    cache: str | None = DEFAULTS["cache"],
    name: str = DEFAULTS["name"],
    project: str | os.PathLike[str] = DEFAULTS["project"],
    yolov5_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    wait: bool = False,
    detach: bool = False,
    telemetry_interval_s: float = 1.0,
    trust_weights: bool = False,
    cluster: Any = None,
    **yolov5_options: Any,
) -> Run:
    """Start a YOLOv5 training run in a subprocess and return it.

    ``device``: "cpu", "cuda:N" or a list of GPUs (DDP). ``nproc``: on the
    CPU, the processes of a DDP run (gloo; to show DDP without GPUs).
    ``batch_size``: images per step (across all processes), or "auto"
    (YOLOv5 autobatch, one GPU). ``amp``: on GPUs, True and None both mean
    on unless an offline fp16 check shows it breaks this model; False = off;
    the CPU trains in float32.
    ``model`` is a cfg to train from scratch, ``weights`` a local .pt, loaded
    without running code it may carry (a YOLOv5 checkpoint needs none);
    ``trust_weights=True`` loads it fully, as YOLOv5 alone would: only for
    a file you trust, since a .pt file can run code as you.
    Other YOLOv5 train options (``optimizer="AdamW"``, ``patience=...``) pass
    through. Nothing is downloaded during a run.
    ``detach=True``: the Jupyter server owns the run, so it keeps training
    through a kernel restart or shutdown and after every browser tab is
    closed; ``show_run(path)`` from any kernel shows it and ``.stop()`` ends
    it. An attached run (the default) ends with its kernel.
    ``cluster=yolo_lab.Slurm(...)``: a Slurm job on the cluster's nodes (from
    a login node, the run folder on a filesystem they share), with torchrun on
    every node; ``device`` and ``nproc`` are each node's (the GPUs are
    ``Slurm(gpus_per_node=...)``). The job outlives the kernel; any kernel
    follows it with ``show_run``.
    """
    if cluster is None:
        devices = check_devices(device)
        nproc = check_nproc(nproc, devices)
        batch = check_batch_size(batch_size, devices, nproc)
    else:
        devices, nproc, batch = _check_cluster(cluster, device, nproc, batch_size, detach)
    amp_request = check_amp(amp, devices)
    epochs = check_int("epochs", epochs)
    imgsz = check_int("imgsz", imgsz)
    workers = check_int("workers", workers)
    # YOLOv5 first: without it nothing else matters (and the dataset check
    # needs PyYAML, which comes with it).
    checkout = find_yolov5(yolov5_dir)
    data_path = check_data(data)
    cfg, weights_path = check_model(model, weights)
    cache_mode = check_cache(cache)
    name = check_name(name)
    seed, telemetry_interval_s = check_run_settings(seed, telemetry_interval_s)
    options = check_yolov5_options(yolov5_options, checkout)
    _check_detach(detach)
    trust_weights = check_trust_weights(trust_weights)
    project_dir = Path(project).expanduser().resolve()
    run_dir = claim_run_dir(project_dir, name)

    params = {
        "data": str(data_path),
        "model": cfg,
        "weights": weights_path,
        "device": devices or ["cpu"],
        "nproc": nproc,
        "batch_size": batch,
        "amp": amp_request,
        "epochs": epochs,
        "imgsz": imgsz,
        "workers": workers,
        "cache": cache_mode,
        "name": name,
        "project": str(project_dir),
        "yolov5_dir": checkout,
    }
    # What was asked, once; the runner derives YOLOv5's options from it.
    spec = {
        "v": SPEC_VERSION,
        "params": params,
        "yolov5_options": options,
        "seed": seed,
        "telemetry_interval_s": telemetry_interval_s,
        "trust_weights": trust_weights,
    }
    if cluster is not None:
        spec["slurm"] = cluster.as_spec()
    _start(run_dir, spec, detach=detach)
    run = Run(run_dir)
    if wait:
        run.wait()
    return run


def _check_cluster(
    cluster: Any, device: Any, nproc: Any, batch_size: Any, detach: Any
) -> tuple[list[int], int, int | str]:
    """A run on Slurm: each node's devices and processes, and the batch size
    checked against the processes of all nodes."""
    from .slurm import Slurm

    if not isinstance(cluster, Slurm):
        raise TrainError(
            "bad_cluster",
            f"cluster must be yolo_lab.Slurm(...) or None, not {cluster!r}",
            'cluster=yolo_lab.Slurm(partition="gpu", nodes=2, gpus_per_node=4, time="4:00:00")',
            field="cluster",
        )
    if detach is True:
        raise TrainError(
            "bad_detach",
            "a run on Slurm always outlives its kernel: detach=True adds nothing",
            "leave detach out",
            field="detach",
        )
    if device not in (DEFAULTS["device"], None):
        raise TrainError(
            "bad_device",
            f"on Slurm, each node's GPUs come from the request, not device={device!r}",
            f"leave device out and ask Slurm(gpus_per_node=N) (now {cluster.gpus_per_node})",
            field="device",
        )
    devices = list(range(cluster.gpus_per_node))
    nproc = check_nproc(nproc, devices)
    batch = check_batch_size(batch_size, devices, nproc)
    world = (len(devices) or nproc) * cluster.nodes
    if batch == "auto" and world > 1:
        raise TrainError(
            "bad_batch_size",
            f'batch_size="auto" sizes one GPU; this run has {world} processes',
            f"give a batch size that the processes share, e.g. batch_size={16 * world}",
            field="batch_size",
        )
    if isinstance(batch, int) and batch % world:
        lower = max(world, batch - batch % world)
        raise TrainError(
            "bad_batch_size",
            f"batch_size={batch} does not split evenly over the run's {world} processes "
            f"({cluster.nodes} nodes × {world // cluster.nodes})",
            f"batch_size={lower} or batch_size={lower + world}",
            field="batch_size",
        )
    return devices, nproc, batch


def _check_detach(detach: Any) -> None:
    if not isinstance(detach, bool):
        raise TrainError(
            "bad_detach", f"detach must be True or False, got {detach!r}", "pass detach=True"
        )
    why = detach_unavailable() if detach else None
    if why is not None:
        raise TrainError(
            "detach_unavailable",
            f"a detached run cannot start here: {why}",
            "run it from a notebook in JupyterLab with yolo-lab installed in the server's "
            "environment, or train with detach=False",
            field="detach",
        )


def resume(
    run: str | os.PathLike[str] | Run, *, wait: bool = False, detach: bool | None = None
) -> Run:
    """Continue a stopped (or crashed, or lost) run from its weights/last.pt, in the same folder.

    ``detach``: None keeps how the run was started; True or False chooses.
    """
    run_dir = run.dir if isinstance(run, Run) else Path(run).expanduser().resolve()
    if run_dir.name == "last.pt":
        run_dir = run_dir.parent.parent
    last = run_dir / "weights" / "last.pt"
    status = run_status(run_dir)
    if status.get("status") not in TERMINAL and status:
        raise TrainError(
            "run_active",
            f"{run_dir.name} is still {status.get('status')}",
            "stop it first, or wait for it",
        )
    if status.get("status") == "finished" or _saved_final_epoch(run_dir):
        # YOLOv5 writes epoch -1 into a finished last.pt (strip_optimizer),
        # which a resume read as "stopped in the first epoch": from scratch.
        best = run_dir / "weights" / "best.pt"
        weights = best if best.is_file() else last
        raise TrainError(
            "run_finished",
            f"{run_dir.name} trained all its epochs: its weights are final and there is "
            "nothing to resume",
            "to train more, fine-tune from them in a new run: "
            f"train(data, weights={str(weights)!r}, epochs=...)",
        )
    if not last.is_file():
        raise TrainError(
            "nothing_to_resume",
            f"{run_dir} has no weights/last.pt to resume from",
            "start a new training with train(...)",
        )
    # A spec of any earlier format reads as the current one (written back so).
    spec = read_spec(run_dir)
    devices = spec_devices(spec)
    if devices and not spec.get("slurm"):  # a Slurm run's GPUs are on its nodes
        check_devices(devices)
    find_yolov5(spec["params"].get("yolov5_dir"))
    if detach is None:
        detach = bool(spec.get("detached", False))
    if spec.get("slurm") and detach:
        detach = False  # a Slurm run outlives its kernel anyway
    _check_detach(detach)
    spec["resume"] = str(last)
    resumed = int(status.get("resumed", 0)) + 1
    _start(run_dir, spec, detach=detach)
    write_status(run_dir, resumed=resumed)
    started = Run(run_dir)
    if wait:
        started.wait()
    return started


def _saved_final_epoch(run_dir: Path) -> bool:
    """Whether the run saved its final epoch (after its last start)."""
    final = False
    for event in read_events(run_dir):
        if event.get("kind") == "start":
            final = False
        elif event.get("kind") == "saved" and event.get("final"):
            final = True
    return final


def list_runs(project: str | os.PathLike[str] = "runs/train") -> list[dict[str, Any]]:
    """The runs in ``project`` (yolo-lab's and YOLOv5's own), newest first."""
    return find_runs(project, run_status)
