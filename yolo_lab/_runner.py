"""The training subprocess: one YOLOv5 run, reported as JSON lines.

``python -m yolo_lab._runner RUN_DIR`` reads ``RUN_DIR/yolo_lab_spec.json``
(written by :mod:`yolo_lab.training`; the run folder's format is
:mod:`yolo_lab.training.rundir`), imports YOLOv5 (the PyPI package
``yolov5`` or a checkout of ultralytics/yolov5 named in the spec), registers
callbacks on a fresh ``Callbacks`` and calls YOLOv5's own ``main(opt,
callbacks)``, with ``opt`` derived from the spec's params by
:func:`yolo_lab._yolov5.yolov5_opt`. Events go to ``RUN_DIR/yolo_lab_events.jsonl``, one JSON object
a line, flushed as written; YOLOv5's own console output goes to the log file
the parent opened as stdout.

Under ``torch.distributed.run`` every rank runs this module; only rank 0
(where YOLOv5 runs its callbacks) writes events.

Stopping: the file ``RUN_DIR/yolo_lab_stop``, SIGTERM or SIGINT set a flag
that is read at the end of each batch. The runner then saves ``last.pt``
itself (YOLOv5's own ``stop_training`` saves nothing), with the epoch counter
set so that a resume redoes the interrupted epoch from the weights trained so
far, and ends the run as "stopped". A parent that dies (kernel killed) sends
SIGTERM through PR_SET_PDEATHSIG, and a watchdog thread notices a changed
parent id as a second line of defence, so no training is left orphaned.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from copy import deepcopy
from datetime import datetime
from pathlib import Path
from typing import Any

from ._yolov5 import import_yolov5, yolov5_opt
from .training.rundir import (
    EVENTS_FILE,
    LOG_FILE,
    SPEC_FILE,
    STOP_FILE,
    normalize_spec,
    plain,
    shown_params,
    spec_batch_size,
    spec_devices,
    write_status,
)

RANK = int(os.environ.get("RANK", "-1"))
IS_MAIN = RANK in (-1, 0)

_GIB = 2**30


class StopRequested(Exception):
    """Raised from a callback to leave YOLOv5's loop after a save."""


class Events:
    """Appends events to the run's JSON-lines file (rank 0 only)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8") if IS_MAIN else None

    def emit(self, kind: str, **fields: Any) -> None:
        if self._file is None:
            return
        event = {"t": time.time(), "kind": kind, **fields}
        line = json.dumps(plain(event), allow_nan=False, separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            with self._lock:
                self._file.close()
                self._file = None


def _set_pdeathsig() -> None:
    """Ask Linux to SIGTERM this process when its parent dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except Exception:
        pass


class Runner:
    """One run: the callbacks, the stop flag and the save-on-stop."""

    def __init__(self, run_dir: Path, spec: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.spec = spec
        self.events = Events(run_dir / EVENTS_FILE)
        self.stop_reason: str | None = None
        self.optimizer: Any = None
        self.ema: Any = None
        self.opt: Any = None
        self.best_fitness = 0.0
        self.epoch = 0
        self.params = spec.get("params") or {}
        self.epochs = int(self.params.get("epochs") or 0)
        self.batches = 0
        self.batch_in_epoch = -1
        self.epoch_t0 = time.time()
        self.last_batch_t: float | None = None
        self.saved_last: str | None = None
        self.device_type = "cpu"
        self.fake_oom_at = int(os.environ.get("YOLO_LAB_FABRICATED_OOM_AT_BATCH", "-1"))

    # -- stop

    def request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason

    def _stop_file_present(self) -> bool:
        return (self.run_dir / STOP_FILE).exists()

    def should_stop(self) -> bool:
        if self.stop_reason is None and self._stop_file_present():
            self.request_stop("stop requested")
        return self.stop_reason is not None

    # -- patches of the train module

    def patch(self, t: Any) -> None:
        runner = self
        amp_request = self.params.get("amp")
        original_check_amp = t.check_amp

        def check_amp(model: Any) -> bool:
            device = next(model.parameters()).device
            runner.device_type = device.type
            if amp_request is False:
                runner.events.emit(
                    "amp",
                    enabled=False,
                    requested=False,
                    reason="turned off by the run's amp=False",
                )
                return False
            enabled = bool(original_check_amp(model))
            if device.type == "cpu":
                reason = "YOLOv5 uses AMP on CUDA devices only"
            elif enabled:
                reason = "YOLOv5's AMP check passed"
            else:
                reason = "YOLOv5's AMP check failed (see the log)"
            runner.events.emit("amp", enabled=enabled, requested=amp_request, reason=reason)
            return enabled

        t.check_amp = check_amp

        original_optimizer = t.smart_optimizer

        def smart_optimizer(*args: Any, **kwargs: Any) -> Any:
            runner.optimizer = original_optimizer(*args, **kwargs)
            return runner.optimizer

        t.smart_optimizer = smart_optimizer

        class CapturingEMA(t.ModelEMA):  # type: ignore[misc, name-defined]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                runner.ema = self

        t.ModelEMA = CapturingEMA

        if hasattr(t, "smart_resume"):
            original_resume = t.smart_resume

            def smart_resume(ckpt: Any, *args: Any, **kwargs: Any) -> Any:
                # A stop in the first epoch saves epoch -1 ("redo epoch 0"),
                # which YOLOv5's own check refuses; resume it at epoch 0.
                if ckpt.get("epoch") == -1:
                    fixed = dict(ckpt, epoch=0)
                    best, _, epochs = original_resume(fixed, *args, **kwargs)
                    return best, 0, epochs
                return original_resume(ckpt, *args, **kwargs)

            t.smart_resume = smart_resume

        if hasattr(t, "create_dataloader"):
            original_create = t.create_dataloader

            def create_dataloader(*args: Any, **kwargs: Any) -> Any:
                # The training loader (the augmented one) fixes the batches per epoch.
                loader, dataset = original_create(*args, **kwargs)
                if kwargs.get("augment") and not runner.batches:
                    runner.batches = len(loader)
                return loader, dataset

            t.create_dataloader = create_dataloader

        if hasattr(t, "check_train_batch_size"):
            original_autobatch = t.check_train_batch_size

            def check_train_batch_size(*args: Any, **kwargs: Any) -> int:
                size = int(original_autobatch(*args, **kwargs))
                runner.events.emit("autobatch", batch_size=size)
                return size

            t.check_train_batch_size = check_train_batch_size

    # -- callbacks

    def register(self, callbacks: Any) -> None:
        callbacks.register_action("on_train_start", "yolo_lab", self.on_train_start)
        callbacks.register_action("on_train_epoch_start", "yolo_lab", self.on_train_epoch_start)
        callbacks.register_action("on_train_batch_end", "yolo_lab", self.on_train_batch_end)
        callbacks.register_action("on_fit_epoch_end", "yolo_lab", self.on_fit_epoch_end)
        callbacks.register_action("on_model_save", "yolo_lab", self.on_model_save)
        callbacks.register_action("on_train_end", "yolo_lab", self.on_train_end)
        self.callbacks = callbacks

    def on_train_start(self, *args: Any) -> None:
        write_status(self.run_dir, status="running")
        self.events.emit("status", status="running")

    def on_train_epoch_start(self, *args: Any) -> None:
        self.epoch_t0 = time.time()
        self.last_batch_t = self.epoch_t0
        self.batch_in_epoch = -1

    def on_train_batch_end(
        self, model: Any, ni: int, imgs: Any, targets: Any, paths: Any, mloss: Any
    ) -> None:
        now = time.time()
        self.batch_in_epoch += 1
        n = int(imgs.shape[0])
        dt = now - (self.last_batch_t or now)
        self.last_batch_t = now
        epoch = self._epoch_of(ni)
        self.epoch = epoch
        gpu_mem = None
        if self.device_type == "cuda":
            import torch

            gpu_mem = torch.cuda.memory_reserved() / _GIB
        box, obj, cls = (float(x) for x in mloss)
        self.events.emit(
            "batch",
            epoch=epoch,
            epochs=self.epochs,
            batch=self.batch_in_epoch,
            batches=self.batches,
            ni=int(ni),
            box=box,
            obj=obj,
            cls=cls,
            images=n,
            imgs_per_s=(n / dt) if dt > 0 else None,
            gpu_mem_gib=gpu_mem,
            imgsz=int(imgs.shape[-1]),
        )
        if self.fake_oom_at >= 0 and int(ni) >= self.fake_oom_at:
            import torch

            raise torch.cuda.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 20.00 MiB (fabricated by "
                "YOLO_LAB_FABRICATED_OOM_AT_BATCH for a test)"
            )
        if self.should_stop():
            self.save_on_stop(model, epoch)
            self.callbacks.stop_training = True

    def _epoch_of(self, ni: int) -> int:
        # ni counts batches from the first epoch (resumed runs included).
        return int(ni) // self.batches if self.batches else self.epoch

    def on_fit_epoch_end(self, vals: Any, epoch: int, best_fitness: Any, fi: Any) -> None:
        vals = [float(v) for v in vals]
        self.best_fitness = float(best_fitness)
        box, obj, cls, p, r, map50, map_, vbox, vobj, vcls = vals[:10]
        lrs = vals[10:13]
        self.events.emit(
            "epoch",
            epoch=int(epoch),
            epochs=self.epochs,
            box=box,
            obj=obj,
            cls=cls,
            precision=p,
            recall=r,
            map50=map50,
            map=map_,
            val_box=vbox,
            val_obj=vobj,
            val_cls=vcls,
            lr=lrs,
            epoch_time_s=time.time() - self.epoch_t0,
            fitness=float(fi),
            best_fitness=self.best_fitness,
        )

    def on_model_save(
        self, last: Any, epoch: int, final_epoch: bool, best_fitness: Any, fi: Any
    ) -> None:
        self.saved_last = str(last)
        self.events.emit("saved", epoch=int(epoch), last=str(last), final=bool(final_epoch))
        if self.should_stop() and not final_epoch:
            raise StopRequested

    def on_train_end(self, last: Any, best: Any, epoch: int, results: Any) -> None:
        self.events.emit(
            "summary",
            epoch=int(epoch),
            last=str(last) if Path(last).exists() else None,
            best=str(best) if Path(best).exists() else None,
            precision=float(results[0]),
            recall=float(results[1]),
            map50=float(results[2]),
            map=float(results[3]),
        )

    def save_on_stop(self, model: Any, epoch: int) -> None:
        """Save last.pt as YOLOv5 would at an epoch end, mid-epoch."""
        import torch

        t = self.train_module
        weights = self.run_dir / "weights"
        weights.mkdir(parents=True, exist_ok=True)
        last = weights / "last.pt"
        de_parallel = t.de_parallel
        ckpt = {
            # Resume starts at epoch + 1: redo the interrupted epoch.
            "epoch": epoch - 1,
            "best_fitness": self.best_fitness,
            "model": deepcopy(de_parallel(model)).half(),
            "ema": deepcopy(self.ema.ema).half() if self.ema is not None else None,
            "updates": self.ema.updates if self.ema is not None else 0,
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "opt": vars(self.opt) if self.opt is not None else {},
            "date": datetime.now().isoformat(),
            "yolo_lab_stopped_in_epoch": epoch,
        }
        tmp = last.with_suffix(".pt.tmp")
        torch.save(ckpt, tmp)
        os.replace(tmp, last)
        self.saved_last = str(last)
        self.events.emit("saved", epoch=epoch, last=str(last), final=False, stopped=True)


def stop_on_signals(runner: Runner) -> None:
    """SIGTERM and SIGINT ask the run to stop after the current batch.

    In this process only: a child forked from it (a multiprocessing pool or
    DataLoader worker) inherits the handlers, and ends on the signal as it
    would without them. Pool.terminate() SIGTERMs its workers and joins
    them; a worker that only noted the signal was joined forever (a run hung
    in YOLOv5's label caching when the pool's worker lost the race for the
    task queue's lock).
    """
    runner_pid = os.getpid()

    def on_signal(signum: int, frame: Any) -> None:
        if os.getpid() != runner_pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        runner.request_stop(f"signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def _watch_parent(runner: Runner, parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            runner.request_stop("the kernel that started the run went away")
            return


def _telemetry_loop(runner: Runner, interval_s: float, done: threading.Event) -> None:
    try:
        from ._probe import Probe

        probe = Probe(pid=os.getppid() if RANK == 0 else os.getpid())
        probe.open()
    except Exception as exc:
        runner.events.emit("notice", message=f"no telemetry: {exc}")
        return
    runner.events.emit("telemetry_source", source=probe.source)
    while not done.wait(interval_s):
        try:
            runner.events.emit("telemetry", sample=probe.sample())
        except Exception:
            pass
    probe.close()


def _oom_fix(spec: dict[str, Any]) -> str:
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


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m yolo_lab._runner RUN_DIR", file=sys.stderr)
        return 2
    _set_pdeathsig()
    run_dir = Path(argv[1]).resolve()
    spec = normalize_spec(json.loads((run_dir / SPEC_FILE).read_text(encoding="utf-8")))
    runner = Runner(run_dir, spec)
    parent = os.getppid()

    stop_on_signals(runner)
    if IS_MAIN:
        threading.Thread(target=_watch_parent, args=(runner, parent), daemon=True).start()

    status = "failed"
    end: dict[str, Any] = {}
    done = threading.Event()
    try:
        try:
            t, source, version = import_yolov5(runner.params.get("yolov5_dir"))
        except Exception as exc:
            end = {
                "code": "yolov5_missing",
                "message": f"YOLOv5 cannot be imported: {exc}",
                "fix": 'pip install yolov5 "numpy<2.4" "setuptools<81" in the kernel\'s '
                "environment, or pass yolov5_dir= a checkout of ultralytics/yolov5",
            }
            raise
        runner.train_module = t
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

        world = int(os.environ.get("WORLD_SIZE", "1"))
        runner.events.emit(
            "start",
            pid=os.getpid(),
            yolov5=source,
            yolov5_version=version,
            torch=torch.__version__,
            world_size=world,
            resume=spec.get("resume"),
            params=shown_params(spec),
        )
        write_status(run_dir, status="starting", pid=os.getpid())
        if IS_MAIN and spec.get("telemetry_interval_s"):
            threading.Thread(
                target=_telemetry_loop,
                args=(runner, float(spec["telemetry_interval_s"]), done),
                daemon=True,
            ).start()

        t.main(opt, callbacks)
        status = "stopped" if runner.stop_reason else "finished"
    except StopRequested:
        status = "stopped"
    except torch_oom_types() as exc:  # type: ignore[misc]
        end = {
            "code": "cuda_oom",
            "message": f"CUDA ran out of memory: {str(exc).splitlines()[0]}",
            "fix": _oom_fix(spec),
        }
        traceback.print_exc()
    except BaseException as exc:
        if not end:
            end = {
                "code": "training_failed",
                "message": f"{type(exc).__name__}: {exc}".strip()[:2000],
                "fix": f"see the log {run_dir / LOG_FILE}",
            }
        traceback.print_exc()
    finally:
        done.set()
    weights = run_dir / "weights"
    last = weights / "last.pt"
    best = weights / "best.pt"
    if status == "stopped":
        end.setdefault("message", runner.stop_reason or "stop requested")
    if end.get("code") and status != "stopped":
        runner.events.emit(
            "error", code=end["code"], message=end["message"], fix=end.get("fix", "")
        )
    runner.events.emit(
        "end",
        status=status,
        last=str(last) if last.exists() else None,
        best=str(best) if best.exists() else None,
        message=end.get("message"),
    )
    if IS_MAIN:
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
    runner.events.close()
    sys.stdout.flush()
    return 0 if status in ("finished", "stopped") else 1


def torch_oom_types() -> tuple[type[BaseException], ...]:
    try:
        import torch

        return (torch.cuda.OutOfMemoryError,)
    except Exception:  # pragma: no cover - torch is a dependency of YOLOv5
        return ()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
