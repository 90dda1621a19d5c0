"""``python -m yolo_lab._runner RUN_DIR``: one process of a run, start to end."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from .._yolov5.compat import explain as explain_import_error
from .._yolov5.options import import_yolov5, yolov5_opt
from ..gpu_share import apply_memory_fraction
from ..training.rundir import (
    DETACHED_ENV,
    LOG_FILE,
    SPEC_FILE,
    disk_free_if_full,
    disk_full_words,
    normalize_spec,
    shown_params,
    spec_batch_size,
    spec_devices,
    write_rank,
    write_status,
)
from .callbacks import Runner, StopRequested
from .ddp import distributed, join_cpu_group, leave_group
from .process import (
    IS_MAIN,
    RANK,
    WORLD,
    dump_stack_on_sigusr1,
    node_name,
    set_pdeathsig,
    stop_on_signals,
    watch_parent,
)
from .weights import UntrustedWeights, guard_loads

__all__ = ["main", "oom_fix", "torch_oom_types"]


def _telemetry_loop(runner: Runner, interval_s: float, done: threading.Event) -> None:
    try:
        from ..telemetry.probe import Probe

        # Under torchrun, rank 0's parent is torchrun: its process tree holds
        # every rank, and the DataLoader workers are one level further down.
        under_torchrun = RANK == 0
        probe = Probe(
            pid=os.getppid() if under_torchrun else os.getpid(),
            worker_depth=2 if under_torchrun else 1,
        )
        probe.open()
    except Exception as exc:
        runner.events.emit("notice", message=f"no telemetry: {exc}")
        return
    runner.events.emit("telemetry_source", source=probe.source)
    while not done.wait(interval_s):
        try:
            sample = probe.sample()
            runner.events.emit("telemetry", sample=sample)
            runner.advisor.add_sample(sample)
        except Exception:
            pass  # one missed sample; the next may work
    probe.close()


def oom_fix(spec: dict[str, Any]) -> str:
    batch = spec_batch_size(spec)
    if isinstance(batch, int) and batch > 1:
        smaller = max(1, batch // 2)
        world = len(spec_devices(spec)) or 1
        if world > 1:
            smaller = max(world, smaller - smaller % world)
        return (
            f"try batch_size={smaller} (half of {batch}), a smaller imgsz, or amp=True on a GPU; "
            "the weights saved so far are kept"
        )
    return "try a smaller imgsz or model; the weights saved so far are kept"


def torch_oom_types() -> tuple[type[BaseException], ...]:
    try:
        import torch

        return (torch.cuda.OutOfMemoryError,)
    except Exception:  # pragma: no cover - torch is a dependency of YOLOv5
        return ()


def _train_cpu_ddp(t: Any, opt: Any, callbacks: Any) -> None:
    """YOLOv5's main() prepares the options; yolo-lab's group runs train().

    main() refuses DDP without CUDA devices, so it runs here as for one
    process (``LOCAL_RANK`` -1) with train() replaced by a catch of its
    arguments; then this rank joins the gloo group and trains.
    """
    caught: dict[str, Any] = {}
    real_train, local_rank = t.train, t.LOCAL_RANK

    def catch(hyp: Any, opt: Any, device: Any, callbacks: Any) -> None:
        caught.update(hyp=hyp, opt=opt, device=device)

    t.train, t.LOCAL_RANK = catch, -1
    try:
        t.main(opt, callbacks)
    finally:
        t.train, t.LOCAL_RANK = real_train, local_rank
    join_cpu_group()
    real_train(caught["hyp"], caught["opt"], caught["device"], callbacks)


def _run(
    runner: Runner, run_dir: Path, spec: dict[str, Any], done: threading.Event
) -> dict[str, Any]:
    """Train; the outcome as status, message, code, fix (and the traceback)."""
    end: dict[str, Any] = {"status": "failed"}
    try:
        try:
            t, source, version = import_yolov5(runner.params.get("yolov5_dir"))
        except Exception as exc:
            known = explain_import_error(traceback.format_exc())
            end.update(
                code="yolov5_missing",
                message=f"YOLOv5 cannot be imported: {exc}" + (f" ({known[0]})" if known else ""),
                fix=known[1]
                if known
                else "pip install yolov5 in the kernel's environment, or pass yolov5_dir= "
                "a checkout of ultralytics/yolov5",
            )
            raise
        runner.train_module = t
        # A user's weights file loads without running code unless trusted (weights.py).
        guard_loads(run_dir, bool(spec.get("trust_weights")))
        runner.patch(t)
        callbacks = t.Callbacks()
        runner.register(callbacks)
        opt = t.parse_opt(True)
        if spec.get("resume"):
            opt.resume = spec["resume"]
        else:
            for key, value in yolov5_opt(spec, run_dir).items():
                setattr(opt, key, value)
        runner.opt = opt
        import torch

        runner.events.emit(
            "start",
            pid=os.getpid(),
            yolov5=source,
            yolov5_version=version,
            torch=torch.__version__,
            world_size=WORLD,
            ddp=("cpu-gloo" if runner.cpu_ddp else "cuda") if distributed() else None,
            resume=spec.get("resume"),
            params=shown_params(spec),
        )
        if not distributed():
            write_status(run_dir, status="starting", pid=os.getpid())
        if IS_MAIN and spec.get("telemetry_interval_s"):
            threading.Thread(
                target=_telemetry_loop,
                args=(runner, float(spec["telemetry_interval_s"]), done),
                daemon=True,
            ).start()
        if runner.cpu_ddp:
            _train_cpu_ddp(t, opt, callbacks)
        else:
            t.main(opt, callbacks)
        end["status"] = "stopped" if runner.stop_reason else "finished"
    except StopRequested:
        end["status"] = "stopped"
    except UntrustedWeights as exc:
        end.update(
            code="untrusted_weights",
            message=str(exc),
            fix="Only if you trust this file (you made it, or know where it comes from):"
            ' pass trust_weights=True (the form\'s "Trust this weights file"), which runs'
            ' the code it carries, as you. Else train from a model cfg (weights="").',
        )
    except torch_oom_types() as exc:  # type: ignore[misc]
        end.update(
            code="cuda_oom",
            message=f"CUDA ran out of memory: {str(exc).splitlines()[0]}",
            fix=oom_fix(spec),
            traceback=traceback.format_exc(),
        )
        traceback.print_exc()
    except BaseException as exc:
        free = disk_free_if_full(run_dir)
        if free is not None:
            # An OSError, or torch.save's RuntimeError: either way, no room.
            message, fix = disk_full_words(run_dir, free)
            end.update(code="disk_full", message=message, fix=fix)
        elif "code" not in end:
            end.update(
                code="training_failed",
                message=f"{type(exc).__name__}: {exc}".strip()[:2000],
                fix=f"see the log {run_dir / LOG_FILE}",
            )
        end["traceback"] = traceback.format_exc()
        traceback.print_exc()
    finally:
        done.set()
    if end["status"] == "stopped":
        end["message"] = runner.stop_reason or "stop requested"
    return end


def _finish(runner: Runner, run_dir: Path, end: dict[str, Any]) -> None:
    """The end event and status of a run of one process.

    On a full disk the events may not be written; the status (small) is
    tried on its own, and the kernel side reads a dead run on a full disk
    as such when even that fails.
    """
    try:
        _write_end(runner, run_dir, end)
    except OSError as exc:
        print(f"yolo-lab: could not write the run's end: {exc}", file=sys.stderr)
        try:
            write_status(
                run_dir,
                status=end["status"],
                ended=time.time(),
                **{k: end.get(k) for k in ("message", "code", "fix")},
            )
        except OSError:
            pass  # nothing can be written; run_status will say why


def _write_end(runner: Runner, run_dir: Path, end: dict[str, Any]) -> None:
    last = run_dir / "weights" / "last.pt"
    best = run_dir / "weights" / "best.pt"
    status = end["status"]
    if end.get("code") and status != "stopped":
        runner.events.emit(
            "error",
            code=end["code"],
            message=end["message"],
            fix=end.get("fix", ""),
            traceback=end.get("traceback"),
        )
    runner.events.emit(
        "end",
        status=status,
        last=str(last) if last.exists() else None,
        best=str(best) if best.exists() else None,
        message=end.get("message"),
    )
    write_status(
        run_dir,
        status=status,
        ended=time.time(),
        message=end.get("message"),
        code=end.get("code"),
        fix=end.get("fix"),
        last=str(last) if last.exists() else None,
        best=str(best) if best.exists() else None,
    )


def _weights_sum(runner: Runner) -> float | None:
    """The sum of the model's parameters: equal on every rank when DDP keeps them in step."""
    try:
        return float(sum(float(p.detach().double().sum()) for p in runner.model.parameters()))
    except Exception:
        return None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m yolo_lab._runner RUN_DIR", file=sys.stderr)
        return 2
    detached = os.environ.get(DETACHED_ENV) == "1"
    if not detached:
        set_pdeathsig()
    run_dir = Path(argv[1]).resolve()
    apply_memory_fraction()  # a classroom's share of a shared GPU, before any allocation
    spec = normalize_spec(json.loads((run_dir / SPEC_FILE).read_text(encoding="utf-8")))
    runner = Runner(run_dir, spec)
    stop_on_signals(runner.request_stop)
    if distributed():
        # The supervisor (torchrun's parent) ends the run; this rank reports to it.
        write_rank(
            run_dir,
            RANK,
            "state",
            {"pid": os.getpid(), "node": node_name(), "started": time.time()},
        )
        dump_stack_on_sigusr1(run_dir)
        watch_parent(runner.request_stop, "torchrun, the parent of the ranks, went away")
    elif not detached:
        # A detached run belongs to the Jupyter server and outlives it when
        # asked to (yolo_lab.training.detached); an attached one ends with
        # its kernel.
        watch_parent(runner.request_stop, "the kernel that started the run went away")

    end = _run(runner, run_dir, spec, threading.Event())
    if distributed():
        write_rank(
            run_dir,
            RANK,
            "state",
            {
                "pid": os.getpid(),
                "node": node_name(),
                "ended": time.time(),
                "weights_sum": _weights_sum(runner),
                **end,
            },
        )
        leave_group()
    else:
        _finish(runner, run_dir, end)
    runner.events.close()
    sys.stdout.flush()
    return 0 if end["status"] in ("finished", "stopped") else 1
